-- The upgrade chain: installing the first release (0.2.0), the second (0.3.0) or the third (0.4.0), and walking
-- ALTER EXTENSION ... UPDATE to the newest gives exactly the objects, definitions, comments and
-- privileges of a fresh install (compared with the same description of the catalog as the 0.2.0
-- fixture test).
SET client_min_messages = warning;
SELECT plan(10);

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

-- the second release, installed as it was released, then updated
DROP EXTENSION pg_billing CASCADE;
CREATE EXTENSION pg_billing VERSION '0.3.0';
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'pg_billing'), '0.3.0', 'the second release installs');
ALTER EXTENSION pg_billing UPDATE;
INSERT INTO signature SELECT 'from 0.3.0', s FROM pg_temp.pgb_catalog() s;
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'pg_billing'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'pg_billing'),
          'ALTER EXTENSION UPDATE walks from 0.3.0 to the default version');
SELECT set_eq($$SELECT item FROM signature WHERE install = 'from 0.3.0'$$,
              $$SELECT item FROM signature WHERE install = 'fresh'$$,
              'an install updated from 0.3.0 equals a fresh one');

-- the third release, installed as it was released, then updated
DROP EXTENSION pg_billing CASCADE;
CREATE EXTENSION pg_billing VERSION '0.4.0';
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'pg_billing'), '0.4.0', 'the third release installs');
ALTER EXTENSION pg_billing UPDATE;
INSERT INTO signature SELECT 'from 0.4.0', s FROM pg_temp.pgb_catalog() s;
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'pg_billing'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'pg_billing'),
          'ALTER EXTENSION UPDATE walks from 0.4.0 to the default version');
SELECT set_eq($$SELECT item FROM signature WHERE install = 'from 0.4.0'$$,
              $$SELECT item FROM signature WHERE install = 'fresh'$$,
              'an install updated from 0.4.0 equals a fresh one');
DROP EXTENSION pg_billing CASCADE;
CREATE EXTENSION pg_billing;

SELECT * FROM finish();
