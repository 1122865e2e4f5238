-- Roles: PUBLIC has nothing; billing_reader reads data but never credentials; billing_admin manages.
SET client_min_messages = warning;
SELECT plan(27);

SELECT billing.add_source('vendor', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "reader-must-not-see"}');
CREATE ROLE pgb_test_reader LOGIN IN ROLE billing_reader;
CREATE ROLE pgb_test_admin LOGIN IN ROLE billing_admin;
CREATE ROLE pgb_test_nobody LOGIN;

-- PUBLIC
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                  aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
           WHERE n.nspname = 'billing' AND a.grantee = 0), 0::bigint,
          'PUBLIC holds no privilege on any table, view or sequence in billing');
SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
                  aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
           WHERE n.nspname = 'billing' AND a.grantee = 0), 0::bigint,
          'PUBLIC may execute no function or procedure in billing');
SELECT is((SELECT count(*) FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
           WHERE n.nspname = 'billing' AND a.grantee = 0), 0::bigint, 'PUBLIC has no privilege on schema billing');

SET ROLE pgb_test_nobody;
SELECT throws_ok('SELECT count(*) FROM billing.customers', '42501', NULL, 'a role outside the billing roles reads nothing');
RESET ROLE;

-- billing_reader
SET ROLE pgb_test_reader;
SELECT lives_ok('SELECT count(*) FROM billing.invoices', 'a reader reads invoices');
SELECT is((SELECT name FROM billing.sources), 'vendor', 'a reader sees sources');
SELECT throws_ok('SELECT * FROM billing._credentials', '42501', NULL, 'a reader cannot read credentials');
SELECT throws_ok($$SELECT billing.add_source('x', 'manual')$$, '42501', NULL, 'a reader cannot add sources');
SELECT throws_ok($$SELECT billing.set_setting('past_due_days', '10')$$, '42501', NULL, 'a reader cannot change settings');
SELECT throws_ok($$INSERT INTO billing.manual_customers (source, external_id) VALUES ('vendor', 'c')$$, '42501', NULL, 'a reader cannot load data');
SELECT throws_ok($$CALL billing.sync('vendor')$$, '42501', NULL, 'a reader cannot start a sync');
RESET ROLE;

-- billing_admin
SET ROLE pgb_test_admin;
SELECT is((SELECT secret ->> 'api_key' FROM billing._credentials), 'reader-must-not-see', 'an admin can read credentials');
SELECT lives_ok($$SELECT billing.add_source('book', 'manual')$$, 'an admin adds sources');
SELECT lives_ok($$SELECT billing.set_setting('past_due_days', '45')$$, 'an admin changes settings');
RESET ROLE;

-- no view or function hands credentials out
SELECT is((SELECT count(*) FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
           WHERE d.refobjid = 'billing._credentials'::regclass AND d.classid = 'pg_rewrite'::regclass), 0::bigint,
          'no view reads billing._credentials');
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'billing' AND p.prosecdef), 'billing.refresh_revenue(boolean)',
          'one function runs with its owner''s rights (SECURITY DEFINER): the revenue refresh, which must ANALYZE and TRUNCATE its own tables');
SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'billing' AND p.prosecdef
             AND NOT ('search_path=pg_catalog, pg_temp' = ANY (p.proconfig))), 0::bigint,
          'it pins its search_path');
SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'billing' AND p.prosecdef AND NOT has_function_privilege('billing_reader', p.oid, 'EXECUTE')), 1::bigint,
          'and a reader cannot call it');

-- CREATE EXTENSION adopts an existing billing_reader or billing_admin only when that hands nothing out:
-- a role someone else made that can log in, has members, attributes or memberships is refused, and
-- nothing of the extension stays. Tried in a transaction that is rolled back, on renamed roles.
BEGIN;
DROP EXTENSION pg_billing CASCADE;
ALTER ROLE billing_reader RENAME TO pgb_saved_reader;
ALTER ROLE billing_admin RENAME TO pgb_saved_admin;
CREATE ROLE billing_admin LOGIN;
SELECT throws_ok('CREATE EXTENSION pg_billing', '42710', 'role "billing_admin" already exists and can log in',
                 'an existing billing_admin that can log in is refused');
SELECT is((SELECT count(*) FROM pg_extension WHERE extname = 'pg_billing'), 0::bigint, 'and the extension is not created');
ALTER ROLE billing_admin NOLOGIN;
GRANT billing_admin TO pgb_test_nobody;
SELECT throws_ok('CREATE EXTENSION pg_billing', '42710', 'role "billing_admin" already exists and has members',
                 'an existing billing_admin with members is refused');
REVOKE billing_admin FROM pgb_test_nobody;
ALTER ROLE billing_admin CREATEDB CREATEROLE;
SELECT throws_ok('CREATE EXTENSION pg_billing', '42710', 'role "billing_admin" already exists with the attributes CREATEROLE, CREATEDB',
                 'an existing billing_admin with attributes is refused');
ALTER ROLE billing_admin NOCREATEDB NOCREATEROLE;
GRANT pg_read_server_files TO billing_admin;
SELECT throws_ok('CREATE EXTENSION pg_billing', '42710', 'role "billing_admin" already exists and is a member of other roles',
                 'an existing billing_admin that is a member of other roles is refused');
REVOKE pg_read_server_files FROM billing_admin;
SELECT lives_ok('CREATE EXTENSION pg_billing', 'an existing role that cannot log in and has no members, attributes or memberships is adopted');
SELECT is((SELECT string_agg(rolname || ': ' || shobj_description(oid, 'pg_authid'), '; ' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('billing_admin', 'billing_reader')),
          'billing_admin: pg_billing: manages sources, credentials, mappings, settings and syncs.; billing_reader: pg_billing: reads billing data, analytics and runs; never credentials.',
          'pg_billing marks the roles it creates or adopts');
GRANT billing_admin TO pgb_test_nobody;
DROP EXTENSION pg_billing CASCADE;
SELECT lives_ok('CREATE EXTENSION pg_billing', 'pg_billing''s own roles may have members: another database shares them');
ALTER ROLE billing_reader LOGIN;
DROP EXTENSION pg_billing CASCADE;
SELECT throws_ok('CREATE EXTENSION pg_billing', '42710', 'role "billing_reader" already exists and can log in',
                 'but even pg_billing''s own role is refused once it can log in');
SELECT * FROM finish();
ROLLBACK;
