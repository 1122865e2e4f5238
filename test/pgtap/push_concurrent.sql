-- A worker's push that meets a push already running for its target skips quietly: its run ends at
-- once as 'skipped' (no request, no error, a LOG line in the server log), while the running push
-- carries on and confirms everything once. A manual CALL billing.push still says the target is busy.
-- The running push is another session's (psql started in the background by the server), against a
-- fake Xero organisation that answers every call after 1.5 s.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(7);

\ir lib/xero_state.sql

SELECT 'ok-' || md5(random()::text) || '_d1500' AS org \gset
SELECT billing.add_source('books', 'xero', current_setting('pgb_test.xero_url') || '/s/' || :'org' || '/api.xro/2.0',
                          '{"client_id": "c", "client_secret": "s"}');
UPDATE billing.sources SET options = jsonb_build_object(
    'token_url', current_setting('pgb_test.xero_url') || '/s/' || :'org' || '/connect/token',
    'tenant_id', pg_temp.xero_state(:'org') ->> 'tenant_id') WHERE name = 'books';
SELECT billing.add_source('site', 'advanced_billing', 'https://site.chargify.com', '{"api_key": "k"}',
                          '{"statements": true, "push_to": "books"}');
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code)
VALUES (NULL, 'account', 'sales', '200'), (NULL, 'account', 'rounding', '860');
-- three customers: three contacts to push (one request of 1.5 s at least, plus the token)
INSERT INTO billing.customers (source_id, external_id, name)
SELECT billing._source_id('site'), g::text, 'Customer ' || g FROM generate_series(1, 3) g;
-- and a closed statement each, of one untaxed line of 10.00
WITH st AS (
    INSERT INTO billing.statements (source_id, external_id, customer_id, opened_at, closed_at, starting_balance, total, currency)
    SELECT c.source_id, '7900' || c.external_id, c.id, '2024-01-01', '2024-02-01', 0, 10, 'GBP' FROM billing.customers c
    RETURNING id, source_id, external_id, customer_id),
inv AS (
    INSERT INTO billing.invoices (source_id, external_id, customer_id, statement_id, issue_date, currency, total)
    SELECT st.source_id, 'inv_' || st.external_id, st.customer_id, st.id, '2024-02-01', 'GBP', 10 FROM st
    RETURNING id)
INSERT INTO billing.invoice_lines (invoice_id, external_id, line_no, kind, description, quantity, unit_price, subtotal, discount, tax, total,
                                   period_start, period_end)
SELECT inv.id, 'li_' || inv.id, 1, 'plan', 'Plan', 1, 10, 10, 0, 0, 10, '2024-01-01', '2024-02-01' FROM inv;
SELECT results_eq($$SELECT doc_kind, count(*)::int FROM billing.outbox WHERE state = 'pending' GROUP BY 1 ORDER BY 1$$,
                  $$VALUES ('contact', 3), ('invoice', 3)$$, 'three contacts and three invoices to push');

SELECT set_config('pgb.postgres_bin', split_part(encode(pg_read_binary_file('/proc/' || split_part(pg_read_file('postmaster.pid'), E'\n', 1)
                                                                         || '/cmdline'), 'escape'), '\000', 1), false) IS NOT NULL AS bin_known \gset
-- CALL billing.push('books') in another session; returns once its documents are in flight (the
-- push lock is held from before the claim until the end of that run).
DO $$
BEGIN
    EXECUTE format('COPY (SELECT 1 WHERE false) TO PROGRAM %L',
        format('%s/psql -X -h %s -p %s -U postgres -d %s -c "CALL billing.push(''books'')" </dev/null >/dev/null 2>&1 &',
               regexp_replace(current_setting('pgb.postgres_bin'), '/postgres$', ''), split_part(current_setting('unix_socket_directories'), ',', 1),
               current_setting('port'), current_database()));
    FOR i IN 1..200 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM billing.outbox WHERE state = 'in_flight');
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE state = 'in_flight'), 3, 'the other session''s push has the contacts in flight');

-- what the worker does on the target's schedule: a push run of trigger 'schedule'
SELECT billing._push_start(billing._source_id('books'), 'schedule') AS worker_run \gset
SELECT clock_timestamp() AS t0 \gset
CALL billing._push_connector(:worker_run);
SELECT cmp_ok(clock_timestamp() - :'t0'::timestamptz, '<', interval '1 s', 'the worker''s push returns at once, without waiting for the other');
SELECT results_eq($$SELECT status, error, requests, documents, finished_at IS NOT NULL FROM billing.push_runs WHERE id = $$ || :worker_run,
                  $$VALUES ('skipped', NULL::text, 0, 0, true)$$,
                  'its run is recorded as skipped: no error, no request, no document');

-- a manual push still says the target is busy
\set ON_ERROR_STOP 0
CALL billing.push('books');
\set ON_ERROR_STOP 1
SELECT is((SELECT status || ': ' || error FROM billing.push_runs WHERE trigger = 'manual' ORDER BY id DESC LIMIT 1),
          'failed: target "books" is being pushed by another session', 'a manual push fails with "being pushed by another session"');

-- the other session's push carries on to the end
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM billing.push_runs WHERE status = 'running');
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT results_eq($$SELECT trigger, status FROM billing.push_runs ORDER BY id$$,
                  $$VALUES ('manual', 'succeeded'), ('schedule', 'skipped'), ('manual', 'failed')$$,
                  'the running push succeeded; the worker''s was skipped, the manual one refused');
SELECT is(ARRAY[(SELECT count(*)::int FROM billing.outbox WHERE state = 'confirmed'),
                (SELECT count(*)::int FROM jsonb_array_elements(pg_temp.xero_state(:'org') -> 'contacts')),
                (SELECT count(*)::int FROM jsonb_array_elements(pg_temp.xero_state(:'org') -> 'invoices'))],
          ARRAY[6, 3, 3], 'every document confirmed (3 contacts, 3 invoices), each once in Xero');

SELECT * FROM finish();
