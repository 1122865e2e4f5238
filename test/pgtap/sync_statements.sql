-- Legacy sites: with option statements, GET /statements.json fills billing.statements (customer and
-- currency from the statement's subscription, balances from cents). Embedded invoice lists that
-- have no table of their own (discounts, taxes, credits) are kept in the invoice's raw.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(10);

SELECT billing.add_source('legacy', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/ok-st1',
    jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"per_page": 2, "max_requests_per_second": 200, "components": false, "statements": true}');
CALL billing.sync('legacy');

SELECT results_eq($$SELECT status, records_inserted FROM billing.sync_runs ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 22::bigint)$$, '18 records and 4 statements');
SELECT results_eq($$SELECT st.external_id, s.external_id, c.external_id, st.opened_at, st.closed_at, st.settled_at,
                           st.starting_balance, st.ending_balance, st.total, st.currency
                    FROM billing.statements st JOIN billing.subscriptions s ON s.id = st.subscription_id
                    JOIN billing.customers c ON c.id = st.customer_id ORDER BY 1$$,
                  $$VALUES ('79001', '2001', '1001', '2024-01-02 00:00+00'::timestamptz, '2024-02-01 00:00+00'::timestamptz, '2024-02-02 00:00+00'::timestamptz, 0.00, 0.00, 49.00, 'USD'),
                           ('79002', '2002', '1002', '2024-01-03 00:00+00', '2024-02-02 00:00+00', '2024-02-03 00:00+00', 0.00, 0.00, 49.00, 'USD'),
                           ('79003', '2003', '1003', '2024-01-04 00:00+00', '2024-02-03 00:00+00', '2024-02-04 00:00+00', 0.00, 0.00, 49.00, 'USD'),
                           ('79004', '2004', '1004', '2024-01-05 00:00+00', '2024-02-04 00:00+00', '2024-02-05 00:00+00', 0.00, 0.00, 49.00, 'USD')$$,
                  'statements: subscription, customer, dates, balances from cents, currency');
SELECT is((SELECT cursor FROM billing._sync_state WHERE entity = 'statements'), '{"since": null}'::jsonb,
          'statements are read whole every run');
CALL billing.sync('legacy');
SELECT results_eq($$SELECT status, records_inserted, records_updated FROM billing.sync_runs ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 0::bigint, 0::bigint)$$, 'a second sync changes no statement');
SELECT results_eq($$SELECT raw #>> '{discounts,0,code}', raw #>> '{discounts,0,discount_amount}', jsonb_typeof(raw -> 'taxes'), jsonb_typeof(raw -> 'credits')
                    FROM billing.invoices WHERE external_id = 'inv_000001'$$,
                  $$VALUES ('SEATS10', '1.5', 'array', 'array')$$, 'discounts, taxes and credits are kept in the invoice''s raw');
SELECT is((SELECT raw ->> 'uid' FROM billing.invoice_lines WHERE external_id = 'li_000001_2'), 'li_000001_2', 'each line keeps its own raw');
-- A statement of a subscription that is not synced cannot be stored (no customer, no currency): it
-- is counted as skipped, not as unchanged, and the run names it; it is read again next run.
SELECT billing.add_source('orphan', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/orphan-st1',
    jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"per_page": 2, "max_requests_per_second": 200, "components": false, "statements": true}');
CALL billing.sync('orphan');
SELECT results_eq($$SELECT status, records_inserted, records_unchanged, records_skipped, warnings FROM billing.sync_runs ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 22::bigint, 0::bigint, 1::bigint,
                            'statements: statement 79099 of subscription 2099 was not stored: the subscription is not synced or has no currency; it is read again next run')$$,
                  'the orphan statement is skipped, counted apart and named in the run');
SELECT is((SELECT count(*)::int FROM billing.statements WHERE source_id = billing._source_id('orphan')), 4, 'the 4 other statements are stored');
CALL billing.sync('orphan');
SELECT results_eq($$SELECT status, records_inserted, records_skipped, warnings IS NOT NULL FROM billing.sync_runs ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 0::bigint, 1::bigint, true)$$, 'the next run reads it again and says so again');
SELECT is((SELECT records_skipped FROM billing.sync_runs WHERE source_id = billing._source_id('legacy') ORDER BY id DESC LIMIT 1), 0::bigint,
          'a source without orphans skips nothing');
SELECT * FROM finish();
