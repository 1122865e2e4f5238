-- request_sync in a database no background worker serves: the run is queued and the NOTICE says
-- who would pick it up (the test cluster's workers serve pg_billing.database = postgres).
SELECT billing.add_source('worker_regress', 'manual', schedule => '4 hours') > 0 AS added;
SELECT billing.request_sync('worker_regress') > 0 AS queued;
SELECT status, trigger FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
 WHERE s.name = 'worker_regress';
SELECT preloaded, database, serves_this_database, running_syncs FROM billing.worker_status();
-- what the worker would do next
SELECT source, enabled, schedule, state, consecutive_failures, retry_delay, next_run_at IS NULL AS nothing_due
  FROM billing.sync_schedule WHERE source = 'worker_regress';
SELECT count(*) AS running FROM billing.sync_progress;
-- the worker's settings, with their defaults
SELECT key, value, default_value FROM billing.settings
 WHERE key IN ('sync_run_retention', 'sync_retry_base', 'sync_retry_max', 'alert_failed_runs') ORDER BY key;
SELECT billing.set_setting('sync_retry_max', 'soon');
DELETE FROM billing.sources WHERE name = 'worker_regress';
