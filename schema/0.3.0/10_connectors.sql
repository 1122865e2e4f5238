-- The connector interface: every kind but manual goes to the C driver, which picks the connector
-- registered for the kind (src/connectors/registry.c) or fails the run naming the kind. Adding a
-- vendor no longer changes this dispatch.

-- The C entry point is named as the procedure is (pgb_sync_connector <-> _sync_connector).
CREATE OR REPLACE PROCEDURE billing._sync_connector(run_id bigint)
LANGUAGE c AS 'MODULE_PATHNAME', 'pgb_sync_connector';

CREATE OR REPLACE PROCEDURE billing._sync_run(run_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_kind text;
BEGIN
    SELECT s.kind INTO v_kind
      FROM billing.sync_runs r JOIN billing.sources s ON s.id OPERATOR(pg_catalog.=) r.source_id
     WHERE r.id OPERATOR(pg_catalog.=) run_id;
    UPDATE billing.sync_runs r SET status = 'running', started_at = coalesce(r.started_at, pg_catalog.clock_timestamp())
     WHERE r.id OPERATOR(pg_catalog.=) run_id;
    COMMIT;
    IF v_kind OPERATOR(pg_catalog.=) 'manual' THEN
        -- users load manual sources themselves: there is nothing to fetch
        PERFORM billing._finish_run(run_id);
    ELSE
        -- the driver finds the kind's connector, or records that this version has none
        CALL billing._sync_connector(run_id);
    END IF;
    COMMIT;
    -- the pages deferred the revenue refresh of the customers they touched: one refresh for them all
    PERFORM billing.refresh_revenue();
    COMMIT;
END
$fn$;

-- Where a failed run stopped (source, entity, page, record), kept apart from its short message.
ALTER TABLE billing.sync_runs ADD COLUMN error_context text;
COMMENT ON COLUMN billing.sync_runs.error_context IS 'Where the failure happened: source, entity, page and record, as the error''s context. Never holds a secret or a response body.';
