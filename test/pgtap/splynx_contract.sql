-- Contract test: the Splynx connector against Prism serving Splynx's own API Blueprint
-- (shared/specs/splynx/api-description-document), converted to OpenAPI 3 at test time by the pinned
-- apib2swagger (tools/splynx_openapi.sh, started by test/fake/start.sh). Prism validates every request
-- (paths, methods, the token request's JSON body) and answers with the blueprint's own examples, which
-- the decoder must accept, or refuse by name where they are not usable data (a payment without an
-- amount, a token that expired in 2018). Each entity is run on its own, then the incremental filters
-- (date_updated, id cursor). If npm could not install Prism or apib2swagger, this test fails: it never
-- passes silently.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql
SELECT plan(13);

SELECT isnt(current_setting('pgb_test.prism_splynx_url'), 'unavailable', 'Prism and apib2swagger are installed (make deps: npm ci in tools/npm)');
CREATE FUNCTION pg_temp.prism_log() RETURNS text LANGUAGE sql AS $$
    SELECT pg_read_file(current_setting('pgb_test.fake_dir') || '/prism_splynx.log.txt')
$$;
-- The conversion (10,219 lines of blueprint) and Prism's start take a minute or two on a busy machine: at most 10.
DO $$
BEGIN
    FOR i IN 1..1200 LOOP
        EXIT WHEN current_setting('pgb_test.prism_splynx_url') = 'unavailable' OR pg_temp.prism_log() LIKE '%Prism is listening%';
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
SELECT ok(pg_temp.prism_log() LIKE '%Prism is listening%', 'the blueprint converted and Prism is listening');

SELECT billing.add_source('sxprism', 'splynx', current_setting('pgb_test.prism_splynx_url'),
    '{"api_key": "contract-key", "api_secret": "contract-secret"}',
    '{"per_page": 1000, "max_requests_per_second": 50, "currency": "EUR", "auth": "basic"}') AS src \gset
CREATE FUNCTION pg_temp.run_only(entity text) RETURNS void LANGUAGE sql AS $$
    UPDATE billing.sources SET options = options || jsonb_build_object('entities', jsonb_build_array(entity)) WHERE name = 'sxprism'
$$;

SELECT pg_temp.run_only('customers');
CALL pg_temp.run('sxprism');
SELECT results_eq($$SELECT c.external_id, c.reference, c.name, c.email, c.parent_id, c.remote_created_at, (SELECT status FROM pg_temp.last('sxprism'))
                    FROM billing.customers c WHERE c.source_id = billing._source_id('sxprism')$$,
                  $$VALUES ('1', 'john_doe', 'John Doe', 'john.doe@domain.com', NULL::bigint, NULL::timestamptz, 'succeeded')$$,
                  'customers: the blueprint''s example, its empty date_add as none');

SELECT pg_temp.run_only('invoices');
CALL pg_temp.run('sxprism');
-- the example's one item: 1 x 123, tax 0 -> 123.00; its period 2016-01-01..2016-01-02 is 2 days: a proration of 1 month
SELECT results_eq($$SELECT i.external_id, i.number, i.status, i.issue_date, i.due_date, i.total, i.due, i.remote_updated_at,
                           l.kind, l.period_start, l.period_end, l.interval_months, (SELECT status FROM pg_temp.last('sxprism'))
                    FROM billing.invoices i JOIN billing.invoice_lines l ON l.invoice_id = i.id WHERE i.source_id = billing._source_id('sxprism')$$,
                  $$VALUES ('1', '201601010003', 'open', '2016-01-01'::date, NULL::date, 123.00::numeric, 123.00::numeric, NULL::timestamptz,
                            'plan', '2016-01-01'::date, '2016-01-03'::date, 1, 'succeeded')$$,
                  'invoices: the example decodes (not_paid is open; empty date_till and date_updated are none; the total from the items)');

SELECT pg_temp.run_only('credit_notes');
CALL pg_temp.run('sxprism');
SELECT results_eq($$SELECT n.external_id, n.status, n.total, (SELECT status FROM pg_temp.last('sxprism'))
                    FROM billing.credit_notes n WHERE n.source_id = billing._source_id('sxprism')$$,
                  $$VALUES ('1', 'open', 123.00::numeric, 'succeeded')$$,
                  'credit notes: the blueprint''s status not_refunded is open');

SELECT pg_temp.run_only('payments');
CALL pg_temp.run('sxprism');
SELECT is((SELECT error || ' | ' || split_part(error_context, ', page', 1) FROM pg_temp.last('sxprism')),
          'payments page 1, record 1: field "amount" is not a decimal number, page rejected | source "sxprism", entity payments',
          'payments: the example''s empty amount is refused by name, never read as 0');

SELECT pg_temp.run_only('transactions');
CALL pg_temp.run('sxprism');
SELECT results_eq($$SELECT t.external_id, t.entry_type, t.category, t.quantity, t.unit_price, t.tax_percent, t.total, t.entry_date,
                           t.period_start, t.invoice_id, t.payment_id, t.credit_note_id, (SELECT status FROM pg_temp.last('sxprism'))
                    FROM billing.source_transactions t WHERE t.source_id = billing._source_id('sxprism')$$,
                  $$VALUES ('1', 'debit', '1', 1::numeric, 158.25::numeric, 19::numeric, 10::numeric, '2016-01-01'::date,
                            NULL::date, NULL::bigint, NULL::bigint, NULL::bigint, 'succeeded')$$,
                  'transactions: the example decodes (empty period, null and 0 links are none)');

-- the incremental filters are valid requests too
INSERT INTO billing._sync_state (source_id, entity, cursor) VALUES (:src, 'invoices', '{"since": "2024-01-01T00:00:00Z"}')
    ON CONFLICT (source_id, entity) DO UPDATE SET cursor = excluded.cursor;
SELECT pg_temp.run_only('invoices');
CALL pg_temp.run('sxprism');
SELECT is((SELECT status FROM pg_temp.last('sxprism')), 'succeeded', 'invoices by date_updated: answered');
INSERT INTO billing._sync_state (source_id, entity, cursor) VALUES (:src, 'transactions', '{"since": null, "after_id": "1"}')
    ON CONFLICT (source_id, entity) DO UPDATE SET cursor = excluded.cursor;
SELECT pg_temp.run_only('transactions');
CALL pg_temp.run('sxprism');
SELECT is((SELECT status FROM pg_temp.last('sxprism')), 'succeeded', 'transactions by id cursor: answered');

-- The token request: its JSON body is valid for the spec; the example's token expired in 2018 and is refused.
SELECT billing.add_source('sxprismtok', 'splynx', current_setting('pgb_test.prism_splynx_url'),
    '{"api_key": "contract-key", "api_secret": "contract-secret"}',
    '{"max_requests_per_second": 50, "currency": "EUR", "entities": ["customers"]}') AS tok \gset
CALL pg_temp.run('sxprismtok');
SELECT is((SELECT error FROM pg_temp.last('sxprismtok')),
          'source "sxprismtok": token request failed: the answer has no usable access_token and future access_token_expiration',
          'token: the request is answered; a token that expired in 2018 is not used');

SELECT results_eq($$SELECT m[1], m[2] FROM regexp_matches(pg_temp.prism_log(), '\[HTTP SERVER\] (get|post) (\S+)', 'g') m$$,
                  $$VALUES ('get', '/admin/customers/customer'), ('get', '/admin/finance/invoices'), ('get', '/admin/finance/credit-notes'),
                           ('get', '/admin/finance/payments'), ('get', '/admin/finance/transactions'), ('get', '/admin/finance/invoices'),
                           ('get', '/admin/finance/transactions'), ('post', '/admin/auth/tokens')$$,
                  'Prism received the eight requests');
SELECT is((SELECT count(*)::int FROM regexp_matches(pg_temp.prism_log(), 'Request did not pass the validation rules', 'g')), 0,
          'Prism reported no request that breaks the blueprint');
SELECT is((SELECT count(*)::int FROM regexp_matches(pg_temp.prism_log(), 'The request passed the validation rules', 'g')), 8,
          'Prism validated all 8 requests');
SELECT * FROM finish();
