-- One schema base: a fresh install of 0.2.0 makes exactly what the released 0.2.0 made (the fixture
-- test/fixtures/catalog_0.2.0.sql), fact by fact: every member, column in its position, constraint,
-- index, view definition, function (body md5, volatility, security, search_path, privileges), trigger,
-- event trigger, comment, grant, dumped configuration table, sequence, the schema and the roles.
SET client_min_messages = warning;
SELECT plan(4);

\ir ../fixtures/describe_catalog.sql
CREATE TEMP TABLE catalog_fixture (item text);
\ir ../fixtures/catalog_0.2.0.sql

DROP EXTENSION pg_billing CASCADE;
CREATE EXTENSION pg_billing VERSION '0.2.0';
CREATE TEMP TABLE catalog_fresh AS SELECT item FROM pg_temp.pgb_catalog() item;

SELECT is_empty($$SELECT item FROM catalog_fixture EXCEPT ALL SELECT item FROM catalog_fresh ORDER BY 1$$,
                'a fresh install of 0.2.0 makes everything the released 0.2.0 made (rows listed are missing or differ)');
SELECT is_empty($$SELECT item FROM catalog_fresh EXCEPT ALL SELECT item FROM catalog_fixture ORDER BY 1$$,
                'and nothing else (rows listed are new or differ)');
-- the comparison covers what it claims: columns in their positions, function bodies, the event trigger
SELECT is((SELECT count(*) FROM catalog_fixture WHERE item ~ '^column customers\.status attnum=15 '), 1::bigint,
          'the fixture holds columns with their positions (customers.status is the 15th)');
SELECT is((SELECT count(*) FROM catalog_fixture WHERE item ~ '^(function|event trigger) .* body=[0-9a-f]{32}'
                                                     OR item ~ '^event trigger pg_billing_before_drop '), 63::bigint,
          'the fixture holds the 62 functions with body digests and the event trigger');

SELECT * FROM finish();
