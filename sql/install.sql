-- The extension installs into schema billing, with its roles, and its library matches its scripts.
CREATE EXTENSION pg_billing;
SELECT extversion = billing.version() AS library_matches_scripts FROM pg_extension WHERE extname = 'pg_billing';
SELECT nspname FROM pg_namespace n JOIN pg_extension e ON e.extnamespace = n.oid WHERE e.extname = 'pg_billing';
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ('billing_reader', 'billing_admin') ORDER BY rolname;
-- every public table, view and column carries a comment
SELECT c.relname, a.attname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'billing' AND c.relkind IN ('r', 'v') AND c.relname NOT LIKE '\_%'
  AND (obj_description(c.oid, 'pg_class') IS NULL OR (a.attname IS NOT NULL AND col_description(c.oid, a.attnum) IS NULL))
ORDER BY 1, 2;
-- every function and procedure carries a comment
SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'billing' AND obj_description(p.oid, 'pg_proc') IS NULL ORDER BY 1;
