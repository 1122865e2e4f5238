-- pg_cancel_backend from another session interrupts a sync that waits on a hung server within
-- about a second, and the run is recorded as failed with the cancel; a rerun against a healthy
-- server completes. (statement_timeout is tested in sync_http_faults.sql.)
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(15);

SELECT billing.add_source('hung', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/hang-k1',
    jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"per_page": 2, "max_requests_per_second": 200}');

-- Another session cancels this one in a second: psql started in the background by the server
-- (the psql beside the running postgres binary, over the cluster's socket).
SELECT split_part(encode(pg_read_binary_file('/proc/' || split_part(pg_read_file('postmaster.pid'), E'\n', 1) || '/cmdline'), 'escape'),
                  '\000', 1) AS postgres_bin \gset
-- CALL billing.sync(source) in another session, started by the server in the background; returns
-- once that sync has started reading customers (it then waits on the hung fake). COPY writes no row
-- to the shell, which exits at once: a row could meet a closed pipe (EPIPE) on a loaded machine.
CREATE FUNCTION pg_temp.sync_elsewhere(source text, postgres_bin text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE format('COPY (SELECT 1 WHERE false) TO PROGRAM %L',
        format('%s/psql -X -h %s -p %s -U postgres -d %s -c "CALL billing.sync(''%s'')" </dev/null >/dev/null 2>&1 &',
               regexp_replace(postgres_bin, '/postgres$', ''), split_part(current_setting('unix_socket_directories'), ',', 1),
               current_setting('port'), current_database(), source));
    FOR i IN 1..100 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
                          WHERE s.name = source AND r.status = 'running' AND r.current_entity = 'customers');
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$f$;
-- Waits (up to 10 s) until no run is running.
CREATE FUNCTION pg_temp.wait_no_running() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    FOR i IN 1..100 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM billing.sync_runs WHERE status = 'running');
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$f$;
SELECT format('sh -c %L',
              format('(sleep 1; %s/psql -X -h %s -p %s -U postgres -d postgres -c "SELECT pg_cancel_backend(%s)") </dev/null >/dev/null 2>&1 &',
                     regexp_replace(:'postgres_bin', '/postgres$', ''), split_part(current_setting('unix_socket_directories'), ',', 1),
                     current_setting('port'), pg_backend_pid())) AS canceller \gset
COPY (SELECT 1 WHERE false) TO PROGRAM :'canceller';
SELECT clock_timestamp() AS t0 \gset
\set ON_ERROR_STOP 0
CALL billing.sync('hung');
\set ON_ERROR_STOP 1
SELECT cmp_ok(clock_timestamp() - :'t0'::timestamptz, '<', interval '3.5 s',
              'pg_cancel_backend interrupts a sync stuck on a hung server within about a second');
SELECT results_eq($$SELECT status, error, requests FROM billing.sync_runs ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('failed', 'canceling statement due to user request', 1::bigint)$$,
                  'the cancelled run is recorded as failed, with the cancel');
UPDATE billing.sources SET base_url = replace(base_url, '/s/hang-k1', '/s/ok-k1') WHERE name = 'hung';
CALL billing.sync('hung');
SELECT results_eq($$SELECT status, records_inserted FROM billing.sync_runs ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 18::bigint)$$, 'a rerun completes');

-- One sync per source at a time: while another session's sync of a source waits on a hung server,
-- a second sync of that source fails at once; cancelling the first frees the source.
SELECT billing.add_source('busy', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/hang-k2',
    jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"per_page": 2, "max_requests_per_second": 200}');
SELECT pg_temp.sync_elsewhere('busy', :'postgres_bin');
SELECT billing._start_run(billing._source_id('busy'), 'manual') AS second \gset
CALL billing._sync_run(:second);
SELECT results_eq($$SELECT status, error, requests FROM billing.sync_runs WHERE id = $$ || :second,
                  $$VALUES ('failed', 'source "busy" is being synced by another session', 0::bigint)$$,
                  'a second sync of a source that is being synced fails at once, before any request');
SELECT throws_ok($$CALL billing.sync('busy')$$, '55P03', 'source "busy" is being synced by another session',
                 'CALL billing.sync of a source that is being synced is refused at once');
SELECT is((SELECT count(*)::int FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'busy'),
          2, 'the refused CALL recorded no run (it is not the source failing)');
SELECT pid AS other_pid FROM pg_stat_activity WHERE query = 'CALL billing.sync(''busy'')' AND pid <> pg_backend_pid() \gset
SELECT results_eq($$SELECT backend_xid IS NULL, backend_xmin IS NULL, wait_event_type, wait_event
                      FROM pg_stat_activity WHERE pid = $$ || :other_pid,
                  $$VALUES (true, true, 'Extension', 'Extension')$$,
                  'waiting on the network, the sync holds no transaction id and no snapshot');
SELECT is((SELECT count(*)::int FROM pg_locks WHERE pid = :other_pid AND locktype NOT IN ('virtualxid', 'advisory')),
          0, 'and no lock but its own virtual transaction and the source''s sync lock');
SELECT ok(pg_cancel_backend(:other_pid), 'the other session is cancelled');
SELECT pg_temp.wait_no_running();
SELECT results_eq($$SELECT r.status, r.error FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
                    WHERE s.name = 'busy' ORDER BY r.id$$,
                  $$VALUES ('failed', 'canceling statement due to user request'),
                           ('failed', 'source "busy" is being synced by another session')$$,
                  'both runs are recorded: the cancelled one and the refused one');
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE status = 'running'), 0, 'no run is left running');
-- While a sync runs in another session (waiting on a hung server), pg_stat_activity shows that
-- session and its statement, but nowhere the API key.
SELECT billing.add_source('watched', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/hang-k3',
    jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"per_page": 2, "max_requests_per_second": 200}');
SELECT pg_temp.sync_elsewhere('watched', :'postgres_bin');
SELECT results_eq($$SELECT state, query FROM pg_stat_activity WHERE query LIKE 'CALL billing.sync(''watched'')%' AND pid <> pg_backend_pid()$$,
                  $$VALUES ('active', 'CALL billing.sync(''watched'')')$$, 'during the sync, pg_stat_activity shows the syncing session');
SELECT is((SELECT count(*)::int FROM pg_stat_activity a
           WHERE strpos(row_to_json(a)::text, pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')) > 0),
          0, 'during the sync, no column of pg_stat_activity holds the API key');
SELECT pid AS watched_pid FROM pg_stat_activity WHERE query = 'CALL billing.sync(''watched'')' AND pid <> pg_backend_pid() \gset
SELECT ok(pg_cancel_backend(:watched_pid), 'the watched sync is cancelled');
SELECT pg_temp.wait_no_running();
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE status = 'running'), 0, 'no run is left running');
SELECT * FROM finish();
