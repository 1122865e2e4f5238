-- A document Xero accepts but whose id no answer carries and no look-up finds (the fake's noid
-- scenario echoes the request without ids and saves nothing, as a mock or a broken proxy would):
-- the run sends it twice, then leaves it for a later run, waiting 1 minute, then 4; a
-- push_unconfirmed alert names it, and the send that finally confirms it resolves the alert.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(8);

\ir lib/xero_state.sql

SELECT md5(random()::text) AS nonce \gset
SELECT 'noid-' || :'nonce' || '_n4' AS org \gset
SELECT billing.add_source('books', 'xero', current_setting('pgb_test.xero_url') || '/s/' || :'org' || '/api.xro/2.0',
                          '{"client_id": "c", "client_secret": "s"}') IS NOT NULL AS added \gset
UPDATE billing.sources SET options = jsonb_build_object(
    'token_url', current_setting('pgb_test.xero_url') || '/s/' || :'org' || '/connect/token',
    'tenant_id', pg_temp.xero_state(:'org') ->> 'tenant_id') WHERE name = 'books';
SELECT billing.add_source('site', 'advanced_billing', 'https://site.chargify.com', '{"api_key": "k"}',
                          '{"statements": true, "push_to": "books"}') IS NOT NULL AS added \gset
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code)
VALUES (NULL, 'account', 'sales', '200'), (NULL, 'account', 'rounding', '860');
WITH c AS (
    INSERT INTO billing.customers (source_id, external_id, name) VALUES (billing._source_id('site'), 'c1', 'Lee Ltd')
    RETURNING id, source_id),
st AS (
    INSERT INTO billing.statements (source_id, external_id, customer_id, opened_at, closed_at, starting_balance, total, currency)
    SELECT c.source_id, 'st-1', c.id, '2024-01-01', '2024-02-01', 0, 10, 'GBP' FROM c
    RETURNING id, source_id, customer_id),
inv AS (
    INSERT INTO billing.invoices (source_id, external_id, customer_id, statement_id, issue_date, currency, total)
    SELECT st.source_id, 'inv_1', st.customer_id, st.id, '2024-02-01', 'GBP', 10 FROM st
    RETURNING id)
INSERT INTO billing.invoice_lines (invoice_id, external_id, line_no, kind, description, quantity, unit_price, subtotal, discount,
                                   tax, total, period_start, period_end)
SELECT inv.id, 'li_1', 1, 'plan', 'Plan', 1, 10, 10, 0, 0, 10, '2024-01-01', '2024-02-01' FROM inv;

-- run 1: the contact is sent twice, echoed without an id both times, and not found
CALL billing.push('books');
SELECT results_eq($$SELECT o.state, o.attempts, round(extract(epoch FROM o.next_attempt_at - o.updated_at))::int
                     FROM billing.outbox o WHERE o.doc_kind = 'contact'$$,
    $$VALUES ('pending', 2, 60)$$,
    'run 1 sends the contact twice, then it waits a minute for a later run');
SELECT results_eq($$SELECT severity, subject, message FROM billing.alerts WHERE kind = 'push_unconfirmed' AND resolved_at IS NULL$$,
    $$VALUES ('warning', 'contact chargify_c1', 'contact chargify_c1 was sent to Xero 2 times, no answer carried its id and no look-up finds it')$$,
    'a push_unconfirmed alert names the contact');
SELECT is((SELECT state FROM billing.outbox WHERE doc_kind = 'invoice'), 'pending', 'its invoice waits for it');

-- run 2, a minute later: twice more, then four minutes
UPDATE billing.outbox SET next_attempt_at = now() - interval '1 second' WHERE doc_kind = 'contact';
CALL billing.push('books');
SELECT results_eq($$SELECT o.state, o.attempts, round(extract(epoch FROM o.next_attempt_at - o.updated_at))::int
                     FROM billing.outbox o WHERE o.doc_kind = 'contact'$$,
    $$VALUES ('pending', 4, 240)$$,
    'run 2 sends it twice more, then it waits four minutes');
SELECT results_eq($$SELECT count(*), min(message) FROM billing.alerts WHERE kind = 'push_unconfirmed' AND resolved_at IS NULL$$,
    $$VALUES (1::bigint, 'contact chargify_c1 was sent to Xero 4 times, no answer carried its id and no look-up finds it')$$,
    'still one open alert, with the count of sends');

-- run 3: the fake answers properly again (its noid faults are spent): confirmed, alert resolved
UPDATE billing.outbox SET next_attempt_at = now() - interval '1 second' WHERE doc_kind = 'contact';
CALL billing.push('books');
SELECT results_eq($$SELECT doc_kind, state FROM billing.outbox ORDER BY 1$$,
    $$VALUES ('contact', 'confirmed'), ('invoice', 'confirmed')$$,
    'run 3 confirms the contact, then sends its invoice');
SELECT is((SELECT count(*)::int FROM billing.alerts WHERE kind = 'push_unconfirmed' AND resolved_at IS NOT NULL), 1,
          'the confirmation resolves the alert');
SELECT pg_temp.xero_state(:'org') AS st \gset
SELECT is(ARRAY[(:'st'::jsonb -> 'counts' ->> 'noid')::int, jsonb_array_length(:'st'::jsonb -> 'contacts'),
                jsonb_array_length(:'st'::jsonb -> 'invoices')],
          ARRAY[4, 1, 1], 'Xero saw 4 unanswered sends and holds one contact and one invoice');

SELECT * FROM finish();
