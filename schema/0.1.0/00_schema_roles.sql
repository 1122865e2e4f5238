-- pg_billing 0.1.0: roles and the schema's ground rules.
-- The extension's schema (billing) is created by CREATE EXTENSION from the control file.

\echo Use "CREATE EXTENSION pg_billing" to load this file. \quit

-- Roles are cluster-wide, so a second database that installs pg_billing finds them already there.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'billing_reader') THEN
        CREATE ROLE billing_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'billing_admin') THEN
        CREATE ROLE billing_admin NOLOGIN;
    END IF;
END
$roles$;

REVOKE ALL ON SCHEMA billing FROM PUBLIC;
GRANT USAGE ON SCHEMA billing TO billing_reader, billing_admin;

COMMENT ON SCHEMA billing IS 'pg_billing: billing data pulled from vendors, revenue, MRR/ARR, reconciliation and the push to accounting.';
