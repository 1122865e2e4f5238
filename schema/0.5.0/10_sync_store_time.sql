-- How much of a run went into storing pages (the database's share), as against waiting for and
-- decoding the vendor's answers: NULL for runs made before 0.5.0, which did not measure it.
ALTER TABLE billing.sync_runs ADD COLUMN store_time interval;
COMMENT ON COLUMN billing.sync_runs.store_time IS
    'Wall-clock time the run spent storing the pages it received (the upserts, their triggers and checks), without the time spent reading answers meanwhile; NULL for runs made before 0.5.0.';

-- The refresh of the results the stored pages changed is part of storing them (a COPY into the same
-- tables does it at its commit too): its time is added to the run's store_time.
CREATE OR REPLACE PROCEDURE billing._sync_run(run_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_kind pg_catalog.text;
    v_refresh_start pg_catalog.timestamptz;
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
    v_refresh_start := pg_catalog.clock_timestamp();
    PERFORM billing.refresh_revenue();
    UPDATE billing.sync_runs r
       SET store_time = coalesce(r.store_time, interval '0')
                        OPERATOR(pg_catalog.+) (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) v_refresh_start)
     WHERE r.id OPERATOR(pg_catalog.=) run_id;
    COMMIT;
END
$fn$;
