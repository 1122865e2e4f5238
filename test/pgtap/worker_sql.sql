-- The SQL side of the background workers, without the workers (this database is not the one
-- pg_billing.database names): request_sync, sync_progress, the schedule and its backoff, the
-- marking of interrupted runs, retention, alerts, settings and privileges.
BEGIN;
SET client_min_messages = warning;
SELECT * FROM no_plan();

SELECT billing.add_source('acme', 'manual') AS acme \gset
SELECT billing.add_source('hourly', 'manual', schedule => '1 hour') AS hourly \gset
SELECT billing.add_source('off', 'manual') AS off \gset
UPDATE billing.sources SET enabled = false WHERE id = :off;

-- ---- request_sync
SELECT billing.request_sync('acme') AS run1 \gset
SELECT results_eq(format('SELECT status, trigger, started_at IS NULL FROM billing.sync_runs WHERE id = %s', :run1),
    $$VALUES ('queued'::text, 'request'::text, true)$$, 'request_sync queues a run with trigger request');
SELECT is(billing.request_sync('acme'), :run1::bigint, 'a second request joins the queued run');
SELECT is((SELECT count(*) FROM billing.sync_runs WHERE source_id = :acme), 1::bigint, 'one run queued, not two');
SELECT throws_ok($$SELECT billing.request_sync('nope')$$, '42704', 'source "nope" does not exist', 'unknown source');
SELECT throws_ok($$SELECT billing.request_sync('off')$$, '55000', 'source "off" is disabled', 'disabled source');
SELECT is((SELECT serves_this_database FROM billing.worker_status()), false, 'no worker serves this database');
SELECT is(billing._worker_wake(), false, '_worker_wake says no worker will wake');

-- ---- _worker_runnable: one queued run per enabled source without a running one
INSERT INTO billing.sync_runs (source_id, status, trigger) VALUES (:acme, 'queued', 'request');
INSERT INTO billing.sync_runs (source_id, status, trigger) VALUES (:off, 'queued', 'request');
SELECT results_eq('SELECT run_id FROM billing._worker_runnable(''{}'', 10)', format('VALUES (%s::bigint)', :run1),
    'the oldest queued run of each enabled source');
SELECT is_empty(format('SELECT * FROM billing._worker_runnable(''{%s}'', 10)', :acme), 'not when the source has a worker');
SELECT is_empty('SELECT * FROM billing._worker_runnable(''{}'', 0)', 'not beyond the free slots');
INSERT INTO billing.sync_runs (source_id, status, trigger, started_at) VALUES (:acme, 'running', 'manual', now()) RETURNING id AS manual_run \gset
SELECT is_empty('SELECT * FROM billing._worker_runnable(''{}'', 10)', 'not while a sync of the source is running');

-- ---- sync_progress: live runs only, with the sync's per-page counters
UPDATE billing.sync_runs SET current_entity = 'invoices', current_page = 7, pages = 12,
       records_inserted = 500, records_updated = 80, records_unchanged = 20, requests = 13
 WHERE id = :manual_run;
SELECT results_eq('SELECT run_id, source, trigger, entity, page, pages, records, records_inserted, records_updated, requests FROM billing.sync_progress',
    format($$VALUES (%s::bigint, 'acme'::text, 'manual'::text, 'invoices'::text, 7::bigint, 12::bigint, 600::bigint, 500::bigint, 80::bigint, 13::bigint)$$, :manual_run),
    'sync_progress shows the running sync, its entity, page and records so far');

-- ---- _mark_interrupted
SELECT is(billing._mark_interrupted(ARRAY[]::bigint[], now() - interval '1 minute'), 1, 'a manual run whose session is gone is interrupted');
SELECT results_eq(format('SELECT status, error, current_page IS NULL FROM billing.sync_runs WHERE id = %s', :manual_run),
    $$VALUES ('interrupted'::text, 'interrupted: the session running it ended'::text, true)$$, 'and says so');
-- a session has been running its statement since before this run started: it may be the one running it
INSERT INTO billing.sync_runs (source_id, status, trigger, started_at) VALUES (:acme, 'running', 'manual', clock_timestamp() + interval '1 hour') RETURNING id AS manual_live \gset
SELECT is(billing._mark_interrupted(ARRAY[]::bigint[], now() - interval '1 minute'), 0, 'a manual run a live session may be running is left alone');
INSERT INTO billing.sync_runs (source_id, status, trigger, started_at) VALUES (:hourly, 'running', 'request', now() - interval '10 minutes') RETURNING id AS orphan \gset
INSERT INTO billing.sync_runs (source_id, status, trigger, started_at) VALUES (:hourly, 'running', 'schedule', now()) RETURNING id AS live \gset
SELECT is(billing._mark_interrupted(ARRAY[:live]::bigint[], now() - interval '1 minute'), 1, 'a request run without a worker is interrupted');
SELECT results_eq(format('SELECT status, error FROM billing.sync_runs WHERE id = %s', :orphan),
    $$VALUES ('interrupted'::text, 'interrupted: the server stopped during the run'::text)$$, 'started before boot: the server stopped');
SELECT is((SELECT status FROM billing.sync_runs WHERE id = :live), 'running', 'a run with a live worker is left alone');
SELECT is(billing._mark_interrupted(ARRAY[]::bigint[], now() - interval '1 minute'), 1, 'once its worker is gone, it is interrupted too');
SELECT is((SELECT error FROM billing.sync_runs WHERE id = :live), 'interrupted: the worker running it stopped', 'and says so');
UPDATE billing.sync_runs SET started_at = now() - interval '1 minute' WHERE id = :manual_live;
SELECT is(billing._mark_interrupted(ARRAY[]::bigint[], now()), 1, 'every run left from before boot is interrupted, manual ones too');
SELECT is((SELECT error FROM billing.sync_runs WHERE id = :manual_live), 'interrupted: the server stopped during the run', 'with the server''s reason');
SELECT is_empty('SELECT * FROM billing.sync_progress', 'nothing in sync_progress any more');

-- ---- backoff: base * 2^(n-1), capped by sync_retry_max and by the schedule
SELECT results_eq($$SELECT billing._retry_delay(n, NULL) FROM generate_series(1, 9) n$$,
    $$VALUES ('30 seconds'::interval), ('1 minute'), ('2 minutes'), ('4 minutes'), ('8 minutes'), ('16 minutes'), ('32 minutes'), ('1 hour'), ('1 hour')$$,
    'defaults: 30 s doubling up to 1 hour');
SELECT is(billing._retry_delay(5, '5 minutes'), '5 minutes'::interval, 'never longer than the schedule');
SELECT is(billing._retry_delay(100, NULL), '1 hour'::interval, 'no overflow after many failures');

-- ---- sync_schedule and _worker_tick for a scheduled source
DELETE FROM billing.sync_runs;
SELECT results_eq(format('SELECT state, next_run_at <= now() FROM billing.sync_schedule WHERE source_id = %s', :hourly),
    $$VALUES ('scheduled'::text, true)$$, 'a scheduled source that never ran is due now');
-- the tick queues hourly's run, after which nothing is due at all: it comes back after the longest wait, 60 s
SELECT is(billing._worker_tick('{}', now() - interval '1 hour'), 60::double precision, 'a tick with nothing left due comes back in 60 s');
SELECT results_eq(format('SELECT status, trigger FROM billing.sync_runs WHERE source_id = %s', :hourly),
    $$VALUES ('queued'::text, 'schedule'::text)$$, 'the tick queued its scheduled run');
SELECT lives_ok($$SELECT billing._worker_tick('{}', now() - interval '1 hour')$$, 'a second tick');
SELECT is((SELECT count(*) FROM billing.sync_runs WHERE source_id = :hourly), 1::bigint, 'queues nothing more while one is queued');
SELECT is((SELECT count(*) FROM billing.sync_runs WHERE source_id <> :hourly), 0::bigint, 'and nothing for sources without schedule');
-- three failures in a row: retry after 30 s * 2^2, capped by the schedule
UPDATE billing.sync_runs SET status = 'failed', started_at = now() - interval '3 minutes', finished_at = now() - interval '3 minutes',
       error = 'boom' WHERE source_id = :hourly;
INSERT INTO billing.sync_runs (source_id, status, trigger, started_at, finished_at, error)
SELECT :hourly, 'failed', 'schedule', now() - interval '1 minute' * g, now() - interval '1 minute' * g, 'boom' FROM generate_series(1, 2) g;
SELECT results_eq(format('SELECT state, consecutive_failures, retry_delay, next_run_at - last_finished_at FROM billing.sync_schedule WHERE source_id = %s', :hourly),
    $$VALUES ('retrying'::text, 3::bigint, '2 minutes'::interval, '2 minutes'::interval)$$, 'after three failures: retrying with a 2-minute backoff');

-- ---- alerts: raised at alert_failed_runs consecutive failures, kept single, resolved by a success
SELECT is(billing._evaluate_alerts(), 1, 'one open alert');
SELECT results_eq('SELECT kind, severity, source_id, message FROM billing.alerts WHERE resolved_at IS NULL',
    format($$VALUES ('source_failing'::text, 'error'::text, %s::bigint, 'source "hourly": the last 3 syncs failed'::text)$$, :hourly),
    'source_failing names the source and the count');
SELECT matches((SELECT detail FROM billing.alerts WHERE kind = 'source_failing'), '^Last error: boom\. Next attempt at .* \(backoff 00:02:00\)\.$',
    'the detail gives the last error and the next attempt');
INSERT INTO billing.sync_runs (source_id, status, trigger, started_at, finished_at, error) VALUES (:hourly, 'failed', 'schedule', now(), now(), 'boom');
SELECT is(billing._evaluate_alerts(), 1, 'a fourth failure keeps one alert');
SELECT is((SELECT message FROM billing.alerts WHERE kind = 'source_failing'), 'source "hourly": the last 4 syncs failed', 'with its message updated');
INSERT INTO billing.sync_runs (source_id, status, trigger, started_at, finished_at) VALUES (:hourly, 'succeeded', 'schedule', now(), now() + interval '1 second');
SELECT is(billing._evaluate_alerts(now() + interval '2 seconds'), 0, 'a success resolves it');
SELECT is((SELECT resolved_at FROM billing.alerts WHERE kind = 'source_failing'), now() + interval '2 seconds', 'resolved_at is the evaluation time');
-- stale: no success for more than twice the schedule
UPDATE billing.sources SET created_at = now() - interval '3 hours', last_success_at = now() - interval '150 minutes' WHERE id = :hourly;
SELECT is(billing._evaluate_alerts(), 1, 'a source without success for 2.5 schedules is stale');
SELECT results_eq('SELECT kind, severity, message FROM billing.alerts WHERE resolved_at IS NULL',
    $$VALUES ('source_stale'::text, 'warning'::text, 'source "hourly" has not synced successfully for more than 02:00:00'::text)$$, 'source_stale alert');
UPDATE billing.sources SET last_success_at = now() WHERE id = :hourly;
SELECT is(billing._evaluate_alerts(), 0, 'a fresh success resolves it');
SELECT is((SELECT count(*) FROM billing.alerts), 2::bigint, 'two alerts in the history, both resolved');
UPDATE billing.sources SET last_success_at = NULL, created_at = now() - interval '3 hours', enabled = false WHERE id = :hourly;
SELECT is(billing._evaluate_alerts(), 0, 'a disabled source raises nothing');

-- ---- retention: batched deletes of finished runs older than sync_run_retention
DELETE FROM billing.sync_runs;
INSERT INTO billing.sync_runs (source_id, status, trigger, requested_at, started_at, finished_at)
SELECT :acme, 'succeeded', 'schedule', now() - interval '1 day' * d, now() - interval '1 day' * d, now() - interval '1 day' * d
  FROM unnest(ARRAY[1, 29, 31, 60, 89, 91, 120]) d;
INSERT INTO billing.sync_runs (source_id, status, trigger, requested_at) VALUES (:acme, 'queued', 'request', now() - interval '200 days');
SELECT is(billing._purge_sync_runs(), 2::bigint, 'the default keeps 90 days');
SELECT is(billing.set_setting('sync_run_retention', '30 days'), '90 days', 'retention can be shortened');
SELECT is(billing._purge_sync_runs(2), 2::bigint, 'deletes in batches');
SELECT is(billing._purge_sync_runs(2), 1::bigint, 'until nothing older is left');
SELECT results_eq($$SELECT extract(day FROM now() - requested_at)::int FROM billing.sync_runs ORDER BY requested_at DESC$$,
    $$VALUES (1), (29), (200)$$, 'newer runs and open runs are kept');
INSERT INTO billing.sync_runs (source_id, status, trigger, requested_at, started_at, finished_at)
SELECT :hourly, 'succeeded', 'schedule', now() - interval '1 day' * d, now() - interval '1 day' * d, now() - interval '1 day' * d
  FROM unnest(ARRAY[200, 100]) d;
SELECT is(billing._purge_sync_runs(), 1::bigint, 'a source''s newest run is kept, however old');
SELECT results_eq($$SELECT extract(day FROM now() - requested_at)::int FROM billing.sync_runs WHERE source_id = $$ || :hourly,
    $$VALUES (100)$$, 'so its schedule and backoff still count from it');

-- ---- schedule anchors: "nightly" at a time of day, not 24 hours after whatever ran last
SELECT is(billing._next_slot('2026-01-01 02:00+00', '1 day', '2026-11-30 15:00+00'), '2026-12-01 02:00+00'::timestamptz,
          'the next 02:00 after an afternoon run');
SELECT is(billing._next_slot('2026-01-01 02:00+00', '1 day', '2026-12-01 02:00+00'), '2026-12-02 02:00+00'::timestamptz,
          'a run exactly at a slot waits for the next one');
SELECT is(billing._next_slot('2026-01-01 02:00+00', '1 day', '2025-12-30 10:00+00'), '2025-12-31 02:00+00'::timestamptz,
          'slots run before the anchor too');
SELECT is(billing._next_slot('2026-01-01 00:30+00', '4 hours', '2026-11-30 09:00+00'), '2026-11-30 12:30+00'::timestamptz,
          'every 4 hours from 00:30');
SET timezone = 'Europe/London';
SELECT is(billing._next_slot('2026-01-01 02:00', '1 day', '2026-04-01 12:00')::text, '2026-04-02 02:00:00+01',
          'a daily slot keeps its local time across the change to summer time');
RESET timezone;
SELECT billing.add_source('nightly', 'manual', schedule => '1 day') AS nightly \gset
UPDATE billing.sources SET schedule_anchor = '2026-01-01 02:00+00' WHERE id = :nightly;
INSERT INTO billing.sync_runs (source_id, status, trigger, requested_at, started_at, finished_at)
VALUES (:nightly, 'succeeded', 'manual', '2026-11-30 15:00+00', '2026-11-30 15:00+00', '2026-11-30 15:01+00');
SELECT results_eq(format('SELECT state, next_run_at FROM billing.sync_schedule WHERE source_id = %s', :nightly),
    $$VALUES ('scheduled'::text, '2026-12-01 02:00+00'::timestamptz)$$,
    'an anchored source: a manual sync in the afternoon leaves the next run at 02:00');
UPDATE billing.sources SET schedule_anchor = NULL WHERE id = :nightly;
SELECT results_eq(format('SELECT next_run_at FROM billing.sync_schedule WHERE source_id = %s', :nightly),
    $$VALUES ('2026-12-01 15:00+00'::timestamptz)$$, 'without an anchor: one schedule after the last run started');

-- ---- a source without schedule: a failed request is retried by the worker, a failed CALL is not
SELECT billing.add_source('ondemand', 'manual') AS ondemand \gset
INSERT INTO billing.sync_runs (source_id, status, trigger, requested_at, started_at, finished_at, error)
VALUES (:ondemand, 'failed', 'manual', now(), now(), now(), 'boom');
SELECT results_eq(format('SELECT state, next_run_at FROM billing.sync_schedule WHERE source_id = %s', :ondemand),
    $$VALUES ('on_request'::text, NULL::timestamptz)$$, 'a failed CALL billing.sync is not retried behind the caller''s back');
INSERT INTO billing.sync_runs (source_id, status, trigger, requested_at, started_at, finished_at, error)
VALUES (:ondemand, 'failed', 'request', now(), now(), now() + interval '1 second', 'boom');
SELECT results_eq(format('SELECT state, retry_delay, next_run_at - last_finished_at FROM billing.sync_schedule WHERE source_id = %s', :ondemand),
    $$VALUES ('retrying'::text, '00:01:00'::interval, '00:01:00'::interval)$$,
    'a failed request_sync is retried with backoff (the second failure in a row: base * 2)');
INSERT INTO billing.sync_runs (source_id, status, trigger, requested_at, started_at, finished_at)
VALUES (:ondemand, 'succeeded', 'schedule', now(), now(), now() + interval '2 seconds');
SELECT results_eq(format('SELECT state, next_run_at FROM billing.sync_schedule WHERE source_id = %s', :ondemand),
    $$VALUES ('on_request'::text, NULL::timestamptz)$$, 'until a run succeeds');

-- ---- settings
SELECT throws_ok($$SELECT billing.set_setting('sync_run_retention', 'banana')$$, '22023', NULL, 'retention must be an interval');
SELECT throws_ok($$SELECT billing.set_setting('sync_run_retention', '30 minutes')$$, '22023', NULL, 'of at least an hour');
SELECT throws_ok($$SELECT billing.set_setting('sync_retry_base', '0 seconds')$$, '22023', NULL, 'retry base of at least a second');
SELECT throws_ok($$SELECT billing.set_setting('alert_failed_runs', '0')$$, '22023', NULL, 'alert threshold at least 1');
SELECT lives_ok($$SELECT billing.set_setting('alert_failed_runs', '5'), billing.set_setting('sync_retry_max', '10 minutes')$$, 'valid values are taken');
SELECT is(billing._check_worker_setting('recognition', 'banana'), false, 'other settings are not the worker''s to judge');

-- ---- privileges
SELECT ok(has_table_privilege('billing_reader', 'billing.sync_progress', 'SELECT') AND has_table_privilege('billing_reader', 'billing.sync_schedule', 'SELECT')
          AND has_table_privilege('billing_reader', 'billing.alerts', 'SELECT'), 'readers see progress, schedule and alerts');
SELECT ok(NOT has_function_privilege('billing_reader', 'billing.request_sync(text)', 'EXECUTE'), 'readers cannot request syncs');
SELECT ok(has_function_privilege('billing_admin', 'billing.request_sync(text)', 'EXECUTE'), 'admins can');
SELECT ok(NOT has_function_privilege('billing_reader', 'billing._worker_tick(bigint[], timestamptz)', 'EXECUTE')
          AND has_function_privilege('billing_admin', 'billing._worker_tick(bigint[], timestamptz)', 'EXECUTE'),
          'the scheduler''s work needs billing_admin, so pg_billing.worker_role can be a non-superuser admin');

SELECT * FROM finish();
ROLLBACK;
