-- Background workers: scheduled and requested syncs, retries with backoff, progress, alerts and
-- retention. The C side (src/worker/) only decides when to call these functions; every rule about
-- what is due, what is interrupted and what needs a person lives here, where it can be tested.

-- C functions of the worker room.
CREATE FUNCTION billing._worker_wake() RETURNS boolean
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgb_worker_wake';
COMMENT ON FUNCTION billing._worker_wake() IS 'Wakes the background scheduler when the calling transaction commits; false when no worker serves this database.';

CREATE FUNCTION billing.worker_status(OUT preloaded boolean, OUT database text, OUT serves_this_database boolean,
                                      OUT launcher_pid integer, OUT scheduler_pid integer, OUT running_syncs integer)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgb_worker_status';
COMMENT ON FUNCTION billing.worker_status() IS 'Whether pg_billing''s background workers run (shared_preload_libraries), which database they serve, their process ids and how many syncs run now.';

CREATE FUNCTION billing._worker_stop() RETURNS integer
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgb_worker_stop';
COMMENT ON FUNCTION billing._worker_stop() IS 'Asks the scheduler and sync workers serving this database to leave, waits (up to 10 s) until they did, and keeps the scheduler away for 30 s unless woken; returns how many were asked.';

-- DROP EXTENSION pg_billing must never wait for (or deadlock with) a worker's transaction: the
-- workers leave before it takes its locks.
CREATE FUNCTION billing._before_drop_extension() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    IF pg_catalog.current_query() ~* 'pg_billing' THEN
        PERFORM billing._worker_stop();
    END IF;
END
$fn$;
COMMENT ON FUNCTION billing._before_drop_extension() IS 'Event trigger: before DROP EXTENSION pg_billing, the background workers of this database leave.';
CREATE EVENT TRIGGER pg_billing_before_drop ON ddl_command_start WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION billing._before_drop_extension();
COMMENT ON EVENT TRIGGER pg_billing_before_drop IS 'Stops pg_billing''s background workers before DROP EXTENSION pg_billing, so that the drop never waits for them.';

-- The first instant anchor + n * every that is after time t (n may be negative).
CREATE FUNCTION billing._next_slot(anchor timestamptz, every interval, t timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_n bigint := pg_catalog.floor(extract(epoch FROM t - anchor) / extract(epoch FROM every))::bigint;
    v_slot timestamptz := anchor + every * v_n;
BEGIN
    -- calendar intervals (days across a DST change, months) are not fixed lengths: step to the first slot after t
    WHILE v_slot > t LOOP
        v_slot := v_slot - every;
    END LOOP;
    WHILE v_slot <= t LOOP
        v_slot := v_slot + every;
    END LOOP;
    RETURN v_slot;
END
$fn$;
COMMENT ON FUNCTION billing._next_slot(timestamptz, interval, timestamptz) IS 'The first instant anchor + n * every after t.';

-- When the next sync of each source is due. A failed or interrupted run is retried after
-- sync_retry_base * 2^(failures - 1), capped by sync_retry_max and by the schedule. A source
-- without schedule is retried when the worker ran its last run (a request, or a retry); a failed
-- CALL billing.sync was seen by the person who made it, and is retried only if interrupted.
CREATE FUNCTION billing._retry_delay(failures bigint, schedule interval) RETURNS interval
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT LEAST(
        billing._setting('sync_retry_base')::interval * pg_catalog.power(2, LEAST(GREATEST($1, 1), 31) - 1),
        billing._setting('sync_retry_max')::interval,
        coalesce($2, billing._setting('sync_retry_max')::interval))
$fn$;
COMMENT ON FUNCTION billing._retry_delay(bigint, interval) IS 'Backoff before the next attempt after the given number of consecutive failures: base * 2^(n-1), capped by sync_retry_max and by the schedule.';

CREATE VIEW billing.sync_schedule AS
SELECT s.id AS source_id, s.name AS source, s.kind, s.enabled, s.schedule,
       CASE
           WHEN NOT s.enabled THEN 'disabled'
           WHEN o.status IS NOT NULL THEN o.status
           WHEN f.failures > 0 AND (s.schedule IS NOT NULL OR l.status = 'interrupted' OR l.trigger <> 'manual') THEN 'retrying'
           WHEN s.schedule IS NOT NULL THEN 'scheduled'
           ELSE 'on_request'
       END AS state,
       o.id AS open_run_id,
       lr.last_run_at, s.last_success_at, l.status AS last_status, l.finished_at AS last_finished_at, l.error AS last_error,
       f.failures AS consecutive_failures,
       CASE WHEN f.failures > 0 THEN billing._retry_delay(f.failures, s.schedule) END AS retry_delay,
       CASE
           WHEN NOT s.enabled OR o.status IS NOT NULL THEN NULL
           WHEN f.failures > 0 AND (s.schedule IS NOT NULL OR l.status = 'interrupted' OR l.trigger <> 'manual')
               THEN l.finished_at + billing._retry_delay(f.failures, s.schedule)
           WHEN s.schedule IS NOT NULL AND s.schedule_anchor IS NOT NULL
               THEN billing._next_slot(s.schedule_anchor, s.schedule, coalesce(lr.last_run_at, s.created_at - interval '1 microsecond'))
           WHEN s.schedule IS NOT NULL THEN coalesce(lr.last_run_at + s.schedule, s.created_at)
       END AS next_run_at
FROM billing.sources s
LEFT JOIN LATERAL (SELECT r.id, r.status FROM billing.sync_runs r
                    WHERE r.source_id = s.id AND r.status IN ('queued', 'running')
                    ORDER BY r.status = 'running' DESC, r.id LIMIT 1) o ON true
LEFT JOIN LATERAL (SELECT r.status, r.finished_at, r.error, r.trigger FROM billing.sync_runs r
                    WHERE r.source_id = s.id AND r.status IN ('succeeded', 'failed', 'interrupted')
                    ORDER BY r.finished_at DESC, r.id DESC LIMIT 1) l ON true
LEFT JOIN LATERAL (SELECT max(coalesce(r.started_at, r.requested_at)) AS last_run_at FROM billing.sync_runs r
                    WHERE r.source_id = s.id) lr ON true
LEFT JOIN LATERAL (SELECT count(*) AS failures FROM billing.sync_runs r
                    WHERE r.source_id = s.id AND r.status IN ('failed', 'interrupted')
                      AND r.finished_at > coalesce((SELECT max(k.finished_at) FROM billing.sync_runs k
                                                     WHERE k.source_id = s.id AND k.status = 'succeeded'),
                                                    '-infinity')) f ON true;
COMMENT ON VIEW billing.sync_schedule IS 'Per source: what the background worker will do next, and when; consecutive failures and the current backoff.';
COMMENT ON COLUMN billing.sync_schedule.source_id IS 'The source.';
COMMENT ON COLUMN billing.sync_schedule.source IS 'Source name.';
COMMENT ON COLUMN billing.sync_schedule.kind IS 'Connector kind.';
COMMENT ON COLUMN billing.sync_schedule.enabled IS 'False: the worker neither schedules nor runs syncs of this source.';
COMMENT ON COLUMN billing.sync_schedule.schedule IS 'Interval between scheduled syncs; null means on request only.';
COMMENT ON COLUMN billing.sync_schedule.state IS 'disabled, queued, running, retrying (backing off after failures), scheduled, or on_request.';
COMMENT ON COLUMN billing.sync_schedule.open_run_id IS 'The queued or running run, if any.';
COMMENT ON COLUMN billing.sync_schedule.last_run_at IS 'When the latest run started (or was queued).';
COMMENT ON COLUMN billing.sync_schedule.last_success_at IS 'When the last successful sync finished.';
COMMENT ON COLUMN billing.sync_schedule.last_status IS 'How the latest finished run ended: succeeded, failed or interrupted.';
COMMENT ON COLUMN billing.sync_schedule.last_finished_at IS 'When the latest finished run ended.';
COMMENT ON COLUMN billing.sync_schedule.last_error IS 'Error of the latest finished run, if it failed.';
COMMENT ON COLUMN billing.sync_schedule.consecutive_failures IS 'Failed or interrupted runs since the last success.';
COMMENT ON COLUMN billing.sync_schedule.retry_delay IS 'Current backoff after those failures (null when there are none).';
COMMENT ON COLUMN billing.sync_schedule.next_run_at IS 'When the worker queues the next run by itself; null when nothing is due (disabled, already queued or running, or on request only).';

-- Queues a run for the background worker and wakes it when this transaction commits.
CREATE FUNCTION billing.request_sync(source text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_source billing.sources;
    v_run bigint;
    v_status record;
BEGIN
    SELECT * INTO v_source FROM billing.sources s WHERE s.id = billing._source_id(request_sync.source);
    IF NOT v_source.enabled THEN
        RAISE EXCEPTION 'source "%" is disabled', v_source.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = pg_catalog.format('UPDATE billing.sources SET enabled = true WHERE name = %L enables it.', v_source.name);
    END IF;
    -- one queued run per source is enough: a second request joins it
    SELECT r.id INTO v_run FROM billing.sync_runs r
     WHERE r.source_id = v_source.id AND r.status = 'queued' ORDER BY r.id LIMIT 1;
    IF v_run IS NULL THEN
        INSERT INTO billing.sync_runs (source_id, status, trigger) VALUES (v_source.id, 'queued', 'request')
        RETURNING id INTO v_run;
    END IF;
    IF NOT billing._worker_wake() THEN
        v_status := billing.worker_status();
        RAISE NOTICE 'a sync of source "%" is queued, but no background worker serves this database', v_source.name
            USING HINT = CASE WHEN v_status.preloaded
                              THEN pg_catalog.format('The workers serve database "%s" (pg_billing.database). CALL billing.sync(%L) syncs now in this session.',
                                                     v_status.database, v_source.name)
                              ELSE pg_catalog.format('Add pg_billing to shared_preload_libraries, set pg_billing.database and restart PostgreSQL; CALL billing.sync(%L) syncs now in this session.',
                                                     v_source.name)
                         END;
    END IF;
    RETURN v_run;
END
$fn$;
COMMENT ON FUNCTION billing.request_sync(text) IS 'Queues a sync of the source for the background worker, which starts it as soon as this transaction commits; returns the run id (an already queued run of the source is reused).';

CREATE VIEW billing.sync_progress AS
SELECT r.id AS run_id, r.source_id, s.name AS source, r.trigger, r.current_entity AS entity, r.current_page AS page,
       r.pages, r.records_inserted + r.records_updated + r.records_unchanged + r.records_deleted AS records,
       r.records_inserted, r.records_updated, r.requests, r.started_at,
       pg_catalog.now() - r.started_at AS elapsed
FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
WHERE r.status = 'running';
COMMENT ON VIEW billing.sync_progress IS 'One row per running sync, updated by the sync after each committed page.';
COMMENT ON COLUMN billing.sync_progress.run_id IS 'The run (billing.sync_runs.id).';
COMMENT ON COLUMN billing.sync_progress.source_id IS 'The source being synced.';
COMMENT ON COLUMN billing.sync_progress.source IS 'Source name.';
COMMENT ON COLUMN billing.sync_progress.trigger IS 'manual, schedule or request.';
COMMENT ON COLUMN billing.sync_progress.entity IS 'Entity being fetched, e.g. invoices.';
COMMENT ON COLUMN billing.sync_progress.page IS 'Last page committed for that entity.';
COMMENT ON COLUMN billing.sync_progress.pages IS 'Pages committed so far, all entities.';
COMMENT ON COLUMN billing.sync_progress.records IS 'Records processed so far (inserted, updated, unchanged and deleted).';
COMMENT ON COLUMN billing.sync_progress.records_inserted IS 'Records stored for the first time so far.';
COMMENT ON COLUMN billing.sync_progress.records_updated IS 'Records replaced by a newer version so far.';
COMMENT ON COLUMN billing.sync_progress.requests IS 'HTTP requests made so far.';
COMMENT ON COLUMN billing.sync_progress.started_at IS 'When the run started.';
COMMENT ON COLUMN billing.sync_progress.elapsed IS 'How long it has been running.';

-- Runs left running by a stopped server (started before shared memory was initialised), by a
-- worker that is gone (a schedule or request run with no live worker), or by a session that is
-- gone (a manual run, when no session of this database has been running a statement since before
-- the run started) are interrupted. Sessions are judged only when they can all be seen (superuser
-- or pg_read_all_stats); otherwise manual runs wait for the next restart.
CREATE FUNCTION billing._mark_interrupted(live_runs bigint[], booted_at timestamptz) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_count integer;
    v_sees_sessions boolean := (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
                               OR pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER');
BEGIN
    UPDATE billing.sync_runs r
       SET status = 'interrupted', finished_at = pg_catalog.clock_timestamp(),
           error = CASE WHEN coalesce(r.started_at, r.requested_at) < booted_at
                             THEN 'interrupted: the server stopped during the run'
                        WHEN r.trigger = 'manual' THEN 'interrupted: the session running it ended'
                        ELSE 'interrupted: the worker running it stopped' END,
           error_detail = pg_catalog.format('Last committed page: %s of %s. The next run resumes from the last checkpoint.',
                                            coalesce(r.current_page::text, 'none'), coalesce(r.current_entity, 'no entity')),
           current_entity = NULL, current_page = NULL
     WHERE r.status = 'running'
       AND (coalesce(r.started_at, r.requested_at) < booted_at
            OR (r.trigger <> 'manual' AND r.id <> ALL (coalesce(live_runs, '{}')))
            OR (r.trigger = 'manual' AND v_sees_sessions
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                                 WHERE a.datname = pg_catalog.current_database() AND a.backend_type = 'client backend'
                                   AND a.state <> 'idle' AND a.query_start <= r.started_at)));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        RAISE LOG 'pg_billing: % sync run(s) marked interrupted', v_count;
    END IF;
    RETURN v_count;
END
$fn$;
COMMENT ON FUNCTION billing._mark_interrupted(bigint[], timestamptz) IS 'Marks as interrupted the runs left running by a stopped server (started before booted_at), by a worker that is gone (not in live_runs) or by a session that is gone; returns how many.';

CREATE FUNCTION billing._purge_sync_runs(batch integer DEFAULT 1000) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH old AS (
        SELECT r.id FROM billing.sync_runs r
         WHERE r.finished_at < pg_catalog.now() - billing._setting('sync_run_retention')::interval
           -- a source's newest run stays: its schedule and backoff count from it
           AND EXISTS (SELECT 1 FROM billing.sync_runs n WHERE n.source_id = r.source_id AND n.id > r.id)
         ORDER BY r.finished_at LIMIT $1
           FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM billing.sync_runs r USING old WHERE r.id = old.id RETURNING 1
    )
    SELECT count(*) FROM gone
$fn$;
COMMENT ON FUNCTION billing._purge_sync_runs(integer) IS 'Deletes up to batch finished runs older than the sync_run_retention setting, oldest first, keeping each source''s newest run; returns how many.';

-- source_failing: at least alert_failed_runs consecutive failures; source_stale: no success for
-- more than twice the schedule. Each is resolved as soon as its condition clears.
CREATE FUNCTION billing._evaluate_alerts(at timestamptz DEFAULT pg_catalog.now()) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_threshold integer := billing._setting('alert_failed_runs')::integer;
    v_open integer;
BEGIN
    WITH due AS (
        SELECT 'source_failing'::text AS kind, q.source_id, 'error'::text AS severity,
               pg_catalog.format('source "%s": the last %s syncs failed', q.source, q.consecutive_failures) AS message,
               pg_catalog.format('Last error: %s. %s', coalesce(q.last_error, 'none recorded'),
                                 CASE WHEN q.next_run_at IS NOT NULL
                                      THEN pg_catalog.format('Next attempt at %s (backoff %s).', q.next_run_at, q.retry_delay)
                                      ELSE 'No retry is scheduled: billing.request_sync(source) tries again.' END) AS detail
          FROM billing.sync_schedule q
         WHERE q.enabled AND q.consecutive_failures >= v_threshold
        UNION ALL
        SELECT 'source_stale', s.id, 'warning',
               pg_catalog.format('source "%s" has not synced successfully for more than %s', s.name, 2 * s.schedule),
               pg_catalog.format('Last success: %s; schedule: every %s. billing.sync_runs shows what went wrong.',
                                 coalesce(s.last_success_at::text, 'never'), s.schedule)
          FROM billing.sources s
         WHERE s.enabled AND s.schedule IS NOT NULL
           AND coalesce(s.last_success_at, s.created_at) < at - 2 * s.schedule
    ), resolved AS (
        UPDATE billing.alerts a SET resolved_at = GREATEST(at, a.raised_at)
         WHERE a.resolved_at IS NULL AND a.kind IN ('source_failing', 'source_stale')
           AND NOT EXISTS (SELECT 1 FROM due d WHERE d.kind = a.kind AND d.source_id = a.source_id)
        RETURNING a.id
    )
    INSERT INTO billing.alerts AS a (raised_at, severity, kind, source_id, subject, message, detail)
    SELECT at, d.severity, d.kind, d.source_id, NULL, d.message, d.detail FROM due d
    ON CONFLICT (kind, coalesce(source_id, 0), coalesce(subject, '')) WHERE resolved_at IS NULL
    DO UPDATE SET message = EXCLUDED.message, detail = EXCLUDED.detail
     WHERE (a.message, a.detail) IS DISTINCT FROM (EXCLUDED.message, EXCLUDED.detail);

    SELECT count(*) INTO v_open FROM billing.alerts a
     WHERE a.resolved_at IS NULL AND a.kind IN ('source_failing', 'source_stale');
    RETURN v_open;
END
$fn$;
COMMENT ON FUNCTION billing._evaluate_alerts(timestamptz) IS 'Raises, updates and resolves the source_failing and source_stale alerts as of the given time; returns how many of them are open. The background worker calls it on every tick.';

-- One tick of the scheduler, in one short transaction; returns seconds until something is due.
CREATE FUNCTION billing._worker_tick(live_runs bigint[], booted_at timestamptz) RETURNS double precision
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_next timestamptz;
    v_purged bigint;
BEGIN
    PERFORM billing._mark_interrupted(live_runs, booted_at);
    INSERT INTO billing.sync_runs (source_id, status, trigger)
    SELECT q.source_id, 'queued', 'schedule' FROM billing.sync_schedule q WHERE q.next_run_at <= pg_catalog.now();
    PERFORM billing._evaluate_alerts();
    v_purged := billing._purge_sync_runs(1000);
    IF v_purged >= 1000 THEN
        RETURN 0.1;
    END IF;
    SELECT min(q.next_run_at) INTO v_next FROM billing.sync_schedule q;
    RETURN GREATEST(0.05, LEAST(60,
           coalesce(extract(epoch FROM v_next - pg_catalog.clock_timestamp())::double precision, 60)));
END
$fn$;
COMMENT ON FUNCTION billing._worker_tick(bigint[], timestamptz) IS 'The scheduler''s periodic work: marks interrupted runs, queues due runs, evaluates alerts, purges old runs; returns seconds until the next run is due (at most 60).';

-- The queued runs the scheduler may start now: the oldest of each enabled source that has no
-- running run and no worker (busy_sources), oldest first.
CREATE FUNCTION billing._worker_runnable(busy_sources bigint[], max_runs integer)
RETURNS TABLE (run_id bigint, source_id bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT q.id, q.source_id FROM (
        SELECT DISTINCT ON (r.source_id) r.id, r.source_id, r.requested_at
          FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
         WHERE r.status = 'queued' AND s.enabled AND r.source_id <> ALL (coalesce($1, '{}'))
           AND NOT EXISTS (SELECT 1 FROM billing.sync_runs x WHERE x.source_id = r.source_id AND x.status = 'running')
         ORDER BY r.source_id, r.id) q
    ORDER BY q.requested_at, q.id
    LIMIT $2
$fn$;
COMMENT ON FUNCTION billing._worker_runnable(bigint[], integer) IS 'Queued runs the scheduler may start now: one per enabled source without a running sync, oldest first.';

-- A change of a source's schedule or enabled flag takes effect at once.
CREATE FUNCTION billing._sources_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    PERFORM billing._worker_wake();
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION billing._sources_changed() IS 'Trigger: wakes the background scheduler when sources are added or their schedule, schedule anchor or enabled flag changes.';
CREATE TRIGGER sources_wake_worker AFTER INSERT OR UPDATE OF enabled, schedule, schedule_anchor ON billing.sources
    FOR EACH STATEMENT EXECUTE FUNCTION billing._sources_changed();

REVOKE ALL ON FUNCTION billing._check_worker_setting(text, text), billing._check_extra_setting(text, text),
                       billing._worker_wake(), billing.worker_status(), billing._retry_delay(bigint, interval),
                       billing._next_slot(timestamptz, interval, timestamptz), billing.request_sync(text), billing._mark_interrupted(bigint[], timestamptz),
                       billing._purge_sync_runs(integer), billing._evaluate_alerts(timestamptz),
                       billing._worker_tick(bigint[], timestamptz), billing._worker_runnable(bigint[], integer),
                       billing._sources_changed(), billing._worker_stop(), billing._before_drop_extension() FROM PUBLIC;
REVOKE ALL ON billing.sync_schedule, billing.sync_progress FROM PUBLIC;
GRANT SELECT ON billing.sync_schedule, billing.sync_progress TO billing_reader, billing_admin;
GRANT EXECUTE ON FUNCTION billing.worker_status(), billing._retry_delay(bigint, interval),
                          billing._next_slot(timestamptz, interval, timestamptz) TO billing_reader, billing_admin;
GRANT EXECUTE ON FUNCTION billing.request_sync(text), billing._worker_wake(), billing._sources_changed(),
                          billing._check_worker_setting(text, text), billing._check_extra_setting(text, text),
                          billing._evaluate_alerts(timestamptz), billing._purge_sync_runs(integer),
                          billing._mark_interrupted(bigint[], timestamptz), billing._worker_tick(bigint[], timestamptz),
                          billing._worker_runnable(bigint[], integer)
      TO billing_admin;
-- admins (and pg_billing.worker_role, which needs only to be one) purge old runs
GRANT DELETE ON billing.sync_runs TO billing_admin;

-- Installing into the workers' database brings the scheduler up at once.
SELECT billing._worker_wake();
