-- Syncing a source on demand. Connectors register in billing._sync_run's dispatch as they land.

-- The C sync driver: fetches page by page and commits each page with its checkpoint; records the
-- run's outcome itself; raises only for a cancel or shutdown (after recording it).
CREATE PROCEDURE billing._sync_connector(run_id bigint)
LANGUAGE c AS 'MODULE_PATHNAME', 'pgb_sync_run';
COMMENT ON PROCEDURE billing._sync_connector(bigint) IS 'Runs a sync run with the source''s connector (C), committing page by page; records counts, progress and the error of a failed run.';

CREATE FUNCTION billing._start_run(source_id bigint, trigger text) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    INSERT INTO billing.sync_runs (source_id, status, trigger, started_at)
    VALUES ($1, 'running', $2, pg_catalog.clock_timestamp())
    RETURNING id
$fn$;
COMMENT ON FUNCTION billing._start_run(bigint, text) IS 'Creates a running sync run.';

CREATE FUNCTION billing._finish_run(run_id bigint, error text DEFAULT NULL, error_detail text DEFAULT NULL) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    UPDATE billing.sync_runs r
       SET status = CASE WHEN $2 IS NULL THEN 'succeeded' ELSE 'failed' END,
           finished_at = pg_catalog.clock_timestamp(), error = $2, error_detail = $3,
           current_entity = NULL, current_page = NULL
     WHERE r.id = $1;
    UPDATE billing.sources s SET last_success_at = pg_catalog.clock_timestamp()
      FROM billing.sync_runs r WHERE r.id = $1 AND s.id = r.source_id AND $2 IS NULL;
$fn$;
COMMENT ON FUNCTION billing._finish_run(bigint, text, text) IS 'Ends a run as succeeded, or failed with its error.';

-- The connector holds an advisory lock for the whole run (src/sync/sync.c lock_tag): key
-- (source id high 32 bits, low 32 bits, 0x5042).
CREATE FUNCTION billing._sync_in_progress(source_id bigint) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                    WHERE l.locktype = 'advisory' AND l.granted
                      AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                                         WHERE d.datname = pg_catalog.current_database())
                      AND l.classid = ($1 >> 32)::oid AND l.objid = ($1 & 4294967295)::oid
                      AND l.objsubid = 20546)
$fn$;
COMMENT ON FUNCTION billing._sync_in_progress(bigint) IS 'Whether a session is syncing the source now (holds its sync lock).';

-- Runs one sync run to its end and records how it ended; never raises for a failed sync,
-- so a background worker can call it for any source.
-- Procedures that COMMIT cannot carry SET search_path: every name inside is schema-qualified.
CREATE PROCEDURE billing._sync_run(run_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_kind text;
    v_name text;
BEGIN
    SELECT s.kind, s.name INTO v_kind, v_name
      FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE r.id = run_id;
    UPDATE billing.sync_runs r SET status = 'running', started_at = coalesce(r.started_at, pg_catalog.clock_timestamp())
     WHERE r.id = run_id;
    COMMIT;
    IF v_kind = 'manual' THEN
        -- users load manual sources themselves: there is nothing to fetch
        PERFORM billing._finish_run(run_id);
    ELSIF v_kind = 'advanced_billing' THEN
        CALL billing._sync_connector(run_id);
    ELSE
        PERFORM billing._finish_run(run_id, pg_catalog.format('source "%s": no connector for kind %s in this version', v_name, v_kind));
    END IF;
    COMMIT;
    -- the pages deferred the revenue refresh of the customers they touched: one refresh for them all
    PERFORM billing.refresh_revenue();
    COMMIT;
END
$fn$;
COMMENT ON PROCEDURE billing._sync_run(bigint) IS 'Runs a queued or running sync run to its end, committing page by page, and records its outcome.';

CREATE PROCEDURE billing.sync(source text)
LANGUAGE plpgsql AS $fn$
BEGIN
    CALL billing.sync(source, false);
END
$fn$;
COMMENT ON PROCEDURE billing.sync(text) IS 'Syncs a source now, in this session; commits page by page so progress survives an interruption; records a run in billing.sync_runs.';

-- The same, with a full reconcile on demand (re-read everything, tombstone what is gone upstream).
CREATE PROCEDURE billing.sync(source text, full_reconcile boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_source bigint := billing._source_id(source);
    v_run bigint;
    v_error text;
    v_detail text;
BEGIN
    -- refused before a run exists: a sync already under way is not this source failing
    IF billing._sync_in_progress(v_source) THEN
        RAISE EXCEPTION 'source "%" is being synced by another session', source
            USING ERRCODE = 'lock_not_available',
                  HINT = 'Wait for that sync to end; billing.sync_progress shows it.';
    END IF;
    v_run := billing._start_run(v_source, 'manual');
    UPDATE billing.sync_runs r SET full_reconcile = coalesce(sync.full_reconcile, false) WHERE r.id = v_run;
    COMMIT;
    CALL billing._sync_run(v_run);
    SELECT r.error, r.error_detail INTO v_error, v_detail FROM billing.sync_runs r WHERE r.id = v_run;
    IF v_error IS NOT NULL THEN
        RAISE EXCEPTION 'sync of source "%" failed (run %)', source, v_run
            USING ERRCODE = 'external_routine_exception', DETAIL = v_error || coalesce(E'\n' || v_detail, ''),
                  HINT = 'SELECT * FROM billing.sync_runs WHERE id = ' || v_run || ' shows the run.';
    END IF;
END
$fn$;
COMMENT ON PROCEDURE billing.sync(text, boolean) IS 'Syncs a source now; with full_reconcile it re-reads everything and marks records deleted upstream (deleted_at).';

REVOKE ALL ON FUNCTION billing._start_run(bigint, text), billing._finish_run(bigint, text, text),
    billing._sync_in_progress(bigint) FROM PUBLIC;
REVOKE ALL ON PROCEDURE billing._sync_run(bigint), billing.sync(text), billing.sync(text, boolean),
    billing._sync_connector(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billing._start_run(bigint, text), billing._finish_run(bigint, text, text),
    billing._sync_in_progress(bigint) TO billing_admin;
GRANT EXECUTE ON PROCEDURE billing._sync_run(bigint), billing.sync(text), billing.sync(text, boolean),
    billing._sync_connector(bigint) TO billing_admin;
GRANT UPDATE ON billing.sync_runs TO billing_admin;
GRANT INSERT ON billing.sync_runs TO billing_admin;
