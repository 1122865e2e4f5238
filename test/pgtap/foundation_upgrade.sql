-- The upgrade chain: installing the first release (0.2.0) or any later one (0.3.0 to 0.6.0), and walking
-- ALTER EXTENSION ... UPDATE to the newest gives exactly the objects, definitions, comments and
-- privileges of a fresh install (compared with the same description of the catalog as the 0.2.0
-- fixture test).
SET client_min_messages = warning;
SELECT plan(12);

\ir ../fixtures/describe_catalog.sql
CREATE TEMP TABLE signature (install text, item text);

DROP EXTENSION pg_billing CASCADE;
CREATE EXTENSION pg_billing VERSION '0.2.0';
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'pg_billing'), '0.2.0', 'the first release installs');
ALTER EXTENSION pg_billing UPDATE;
INSERT INTO signature SELECT 'upgraded', s FROM pg_temp.pgb_catalog() s;
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'pg_billing'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'pg_billing'),
          'ALTER EXTENSION UPDATE walks to the default version');

DROP EXTENSION pg_billing CASCADE;
CREATE EXTENSION pg_billing;
INSERT INTO signature SELECT 'fresh', s FROM pg_temp.pgb_catalog() s;

SELECT set_eq($$SELECT item FROM signature WHERE install = 'upgraded'$$,
              $$SELECT item FROM signature WHERE install = 'fresh'$$,
              'an upgraded install has exactly the objects, definitions, comments and privileges of a fresh one');
SELECT cmp_ok((SELECT count(*) FROM signature WHERE install = 'fresh'), '>', 1000::bigint,
              'the comparison covers the whole extension');

-- each later release, installed as it was released, then updated: "<installed> -> <updated>", its
-- catalog recorded as install 'from <version>'
CREATE FUNCTION pg_temp.walk_from(release text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_installed text;
BEGIN
    DROP EXTENSION pg_billing CASCADE;
    EXECUTE format('CREATE EXTENSION pg_billing VERSION %L', release);
    v_installed := (SELECT extversion FROM pg_extension WHERE extname = 'pg_billing');
    ALTER EXTENSION pg_billing UPDATE;
    INSERT INTO signature SELECT 'from ' || release, s FROM pg_temp.pgb_catalog() s;
    RETURN v_installed || ' -> ' || (SELECT extversion FROM pg_extension WHERE extname = 'pg_billing');
END $$;
SELECT is(pg_temp.walk_from(r), r || ' -> ' || (SELECT default_version FROM pg_available_extensions WHERE name = 'pg_billing'),
          'release ' || r || ' installs and ALTER EXTENSION UPDATE walks it to the default version')
  FROM unnest(ARRAY['0.3.0', '0.4.0', '0.5.0', '0.6.0']) r;
SELECT set_eq(format('SELECT item FROM signature WHERE install = %L', 'from ' || r),
              $$SELECT item FROM signature WHERE install = 'fresh'$$,
              'an install updated from ' || r || ' equals a fresh one')
  FROM unnest(ARRAY['0.3.0', '0.4.0', '0.5.0', '0.6.0']) r;
DROP EXTENSION pg_billing CASCADE;
CREATE EXTENSION pg_billing;

SELECT * FROM finish();
