-- pg_billing 0.3.0: the DROP EXTENSION event trigger no longer reads the query text (issue 9 item 7).
\echo Use "ALTER EXTENSION pg_billing UPDATE TO '0.3.0'" to load this file. \quit

-- 0.2.0 stopped the workers when the text of the client's query matched 'pg_billing'. That missed a
-- drop run from a function or built in a DO block (current_query() is the outer statement, which need
-- not name the extension), so the drop then waited for, or deadlocked with, a worker's transaction;
-- and it stopped the workers for any query that merely mentioned the name. At ddl_command_start
-- PostgreSQL says which command runs but not which extension it drops, and at sql_drop it is too late
-- (the locks are taken). So every DROP EXTENSION in the workers' database now has them leave first,
-- and when the command ends with pg_billing still installed (it dropped another extension, or none),
-- a second trigger wakes the scheduler at once instead of letting it wait out its 30-second pause.
-- A sync running at that moment ends as interrupted and is retried from its last checkpoint.
CREATE OR REPLACE FUNCTION billing._before_drop_extension() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    PERFORM billing._worker_stop();
END
$fn$;
COMMENT ON FUNCTION billing._before_drop_extension() IS 'Event trigger: before any DROP EXTENSION, the background workers of this database leave (the command might drop pg_billing).';
COMMENT ON EVENT TRIGGER pg_billing_before_drop IS 'Stops pg_billing''s background workers before any DROP EXTENSION, so that dropping pg_billing never waits for them.';

CREATE FUNCTION billing._after_drop_extension() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    -- pg_billing is still here (a drop of pg_billing drops this trigger with it): the workers come back
    PERFORM billing._worker_wake();
END
$fn$;
COMMENT ON FUNCTION billing._after_drop_extension() IS 'Event trigger: after a DROP EXTENSION that left pg_billing installed, wakes the background scheduler again.';
CREATE EVENT TRIGGER pg_billing_after_drop ON ddl_command_end WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION billing._after_drop_extension();
COMMENT ON EVENT TRIGGER pg_billing_after_drop IS 'Wakes pg_billing''s scheduler after a DROP EXTENSION that did not drop pg_billing, which pg_billing_before_drop had stopped.';
REVOKE ALL ON FUNCTION billing._after_drop_extension() FROM PUBLIC;
