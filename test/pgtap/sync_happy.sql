-- Advanced Billing sync, happy path: the fake's whole book arrives, with exact values; a second
-- sync is incremental (overlap window) and changes nothing; a full reconcile deletes nothing.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- Every table's rows (minus synced_at), as one hash: two syncs in a row must leave the same rows.
CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
    SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
        SELECT 'cus' || row(id, external_id, reference, name, organization, email, remote_updated_at, deleted_at, raw)::text FROM billing.customers
        UNION ALL SELECT 'prd' || row(id, external_id, sku, name, family, price, interval_months, raw)::text FROM billing.products
        UNION ALL SELECT 'sub' || row(id, external_id, customer_id, product_id, state, unit_price, interval_months, current_period_start, remote_updated_at, deleted_at, raw)::text FROM billing.subscriptions
        UNION ALL SELECT 'inv' || row(id, external_id, customer_id, subscription_id, status, issue_date, total, paid, due, remote_updated_at, deleted_at, raw)::text FROM billing.invoices
        UNION ALL SELECT 'lin' || row(id, invoice_id, external_id, kind, subtotal, discount, total, period_start, period_end, recurring, interval_months, full_period_amount, raw)::text FROM billing.invoice_lines
        UNION ALL SELECT 'pay' || row(id, external_id, invoice_id, amount, payment_date, raw)::text FROM billing.payments
        UNION ALL SELECT 'ref' || row(id, external_id, invoice_id, payment_id, amount, refund_date, raw)::text FROM billing.refunds
        UNION ALL SELECT 'cn' || row(id, external_id, invoice_id, total, raw)::text FROM billing.credit_notes
        UNION ALL SELECT 'cnl' || row(id, credit_note_id, external_id, subtotal, raw)::text FROM billing.credit_note_lines
        UNION ALL SELECT 'alc' || row(id, external_id, credit_note_id, invoice_id, amount, allocated_on)::text FROM billing.credit_note_allocations
    ) t(x)
$$;

-- The canary key is read from a file inside the server: no logged statement contains it.
SELECT billing.add_source('happy', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/ok-happy',
    jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"per_page": 2, "max_requests_per_second": 200}') AS source_id \gset

SELECT plan(35);

CALL billing.sync('happy');

SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, records_deleted, pages, requests, error
                    FROM billing.sync_runs ORDER BY id$$,
                  $$VALUES ('succeeded', 18::bigint, 0::bigint, 0::bigint, 0::bigint, 12::bigint, 16::bigint, NULL::text)$$,
                  'first sync: 5 customers + 4 subscriptions + 7 invoices + 2 credit notes inserted, 12 pages, 16 requests');
SELECT results_eq($$SELECT (SELECT count(*) FROM billing.customers), (SELECT count(*) FROM billing.subscriptions),
                           (SELECT count(*) FROM billing.products), (SELECT count(*) FROM billing.invoices),
                           (SELECT count(*) FROM billing.invoice_lines), (SELECT count(*) FROM billing.payments),
                           (SELECT count(*) FROM billing.refunds), (SELECT count(*) FROM billing.credit_notes),
                           (SELECT count(*) FROM billing.credit_note_lines), (SELECT count(*) FROM billing.credit_note_allocations)$$,
                  $$VALUES (5::bigint, 4::bigint, 2::bigint, 7::bigint, 16::bigint, 5::bigint, 1::bigint, 2::bigint, 2::bigint, 2::bigint)$$,
                  'every table has the book''s rows');
SELECT results_eq($$SELECT external_id, reference, name, organization, email, remote_updated_at
                    FROM billing.customers WHERE external_id IN ('1001', '1005') ORDER BY 1$$,
                  $$VALUES ('1001', 'C-0001', 'First1 Last1', 'Org 1', 'c1@example.com', '2024-01-01 01:01:00+00'::timestamptz),
                           ('1005', 'C-0005', 'First5 Last5', 'Org 5', 'c5@example.com', '2024-01-01 05:05:00+00'::timestamptz)$$,
                  'customers: id, reference, name, organization, e-mail, updated_at');
SELECT results_eq($$SELECT s.external_id, c.external_id, s.product, s.sku, s.state, s.unit_price, s.currency, s.interval_months,
                           s.billing_term, s.current_period_start, s.current_period_end, p.external_id
                    FROM billing.subscriptions s JOIN billing.customers c ON c.id = s.customer_id
                    LEFT JOIN billing.products p ON p.id = s.product_id ORDER BY 1$$,
                  $$VALUES ('2001', '1001', 'Pro Plan', 'pro', 'active', 49.00, 'USD', 1, '1 month', '2024-01-02 00:00+00'::timestamptz, '2024-02-02 00:00+00'::timestamptz, '77'),
                           ('2002', '1002', 'Annual Plan', 'annual', 'active', 1200.00, 'USD', 12, '12 month', '2024-01-03 00:00+00', '2025-01-03 00:00+00', '78'),
                           ('2003', '1003', 'Pro Plan', 'pro', 'active', 49.00, 'USD', 1, '1 month', '2024-01-04 00:00+00', '2024-02-04 00:00+00', '77'),
                           ('2004', '1004', 'Annual Plan', 'annual', 'active', 1200.00, 'USD', 12, '12 month', '2024-01-05 00:00+00', '2025-01-05 00:00+00', '78')$$,
                  'subscriptions: customer, product, price, interval, current period');
SELECT is((SELECT raw #>> '{components,0,component_handle}' FROM billing.subscriptions WHERE external_id = '2001'), 'seats',
          'a subscription''s components are in its raw');
SELECT is((SELECT raw #>> '{coupons,0,code}' FROM billing.subscriptions WHERE external_id = '2001'), 'WELCOME',
          'a subscription''s coupons are in its raw');
SELECT results_eq($$SELECT i.external_id, i.number, c.external_id, s.external_id, i.status, i.issue_date, i.period_start, i.period_end,
                           i.subtotal, i.discount, i.total, i.paid, i.due, i.refunded
                    FROM billing.invoices i JOIN billing.customers c ON c.id = i.customer_id
                    LEFT JOIN billing.subscriptions s ON s.id = i.subscription_id ORDER BY 1$$,
                  $$VALUES ('inv_000001', '1', '1001', '2001', 'paid',   '2024-01-12'::date, '2024-01-12'::date, '2024-02-12'::date,   64.00,  1.50,   62.50,   62.50,  0.00, 0.00),
                           ('inv_000002', '2', '1002', '2002', 'paid',   '2024-01-13', '2024-01-13', '2025-01-13', 1215.00, 1.50, 1213.50, 1213.50, 0.00, 0.00),
                           ('inv_000003', '3', '1003', '2003', 'paid',   '2024-01-14', '2024-01-14', '2024-02-14',   89.00, 1.50,   87.50,   87.50, 0.00, 10.00),
                           ('inv_000004', '4', '1004', '2004', 'voided', '2024-01-15', '2024-01-15', '2025-01-15', 1215.00, 1.50, 1213.50,    0.00, 1213.50, 0.00),
                           ('inv_000005', '5', '1001', '2001', 'open',   '2024-01-16', '2024-01-16', '2024-02-16',   64.00, 1.50,   62.50,    0.00, 62.50, 0.00),
                           ('inv_000006', '6', '1002', '2002', 'paid',   '2024-01-17', '2024-01-17', '2025-01-17', 1240.00, 1.50, 1238.50, 1238.50, 0.00, 0.00),
                           ('inv_000007', '7', '1003', '2003', 'paid',   '2024-01-18', '2024-01-18', '2024-02-18',   64.00, 1.50,   62.50,   62.50, 0.00, 0.00)$$,
                  'invoices: links, status (voided kept), dates, period, exact amounts');
SELECT results_eq($$SELECT l.external_id, l.line_no, l.kind, l.product, l.quantity, l.unit_price, l.subtotal, l.discount, l.amount,
                           l.total, l.currency, l.period_start, l.period_end, l.recurring, l.interval_months, l.full_period_amount
                    FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
                    WHERE i.external_id IN ('inv_000002', 'inv_000003') ORDER BY 1$$,
                  $$VALUES ('li_000002_1', 1, 'plan', 'Annual Plan', 1.0, 1200.00, 1200.00, 0.0, 1200.00, 1200.00, 'USD', '2024-01-13'::date, '2025-01-13'::date, true, 12, 1200.00),
                           ('li_000002_2', 2, 'component', 'Seats', 3.0, 5.0, 15.0, 1.5, 13.5, 13.5, 'USD', '2024-01-13', '2025-01-13', true, 12, 13.5),
                           ('li_000003_1', 1, 'plan', 'Pro Plan', 1.0, 49.00, 49.00, 0.0, 49.00, 49.00, 'USD', '2024-01-14', '2024-02-14', true, 1, 49.00),
                           ('li_000003_2', 2, 'component', 'Seats', 3.0, 5.0, 15.0, 1.5, 13.5, 13.5, 'USD', '2024-01-14', '2024-02-14', true, 1, 13.5),
                           ('li_000003_3', 3, 'one_time', 'Setup fee', 1.0, 25.0, 25.0, 0.0, 25.0, 25.0, 'USD', '2024-01-14', '2024-01-14', false, NULL, NULL)$$,
                  'invoice lines: kind, amounts, half-open period, recurrence, interval, full_period_amount');
SELECT results_eq($$SELECT p.external_id, i.external_id, c.external_id, p.amount, p.currency, p.payment_date, p.method, p.reference, p.prepayment
                    FROM billing.payments p JOIN billing.invoices i ON i.id = p.invoice_id JOIN billing.customers c ON c.id = p.customer_id
                    WHERE p.external_id IN ('90001', '90003') ORDER BY 1$$,
                  $$VALUES ('90001', 'inv_000001', '1001', 62.50, 'USD', '2024-01-12'::date, 'credit_card', 'gw-1', false),
                           ('90003', 'inv_000003', '1003', 87.50, 'USD', '2024-01-14', 'credit_card', 'gw-3', false)$$,
                  'payments come from the invoices, with the applied amount');
SELECT results_eq($$SELECT r.external_id, i.external_id, p.external_id, r.amount, r.refund_date, r.memo
                    FROM billing.refunds r JOIN billing.invoices i ON i.id = r.invoice_id LEFT JOIN billing.payments p ON p.id = r.payment_id$$,
                  $$VALUES ('95003', 'inv_000003', '90003', 10.00, '2024-01-14'::date, 'partial refund')$$,
                  'refunds come from the invoices, linked to the payment');
SELECT results_eq($$SELECT n.external_id, n.number, n.status, n.total, n.applied, i.external_id, a.external_id, ai.external_id, a.amount, a.allocated_on,
                           l.external_id, l.subtotal, l.period_start, l.period_end
                    FROM billing.credit_notes n LEFT JOIN billing.invoices i ON i.id = n.invoice_id
                    JOIN billing.credit_note_allocations a ON a.credit_note_id = n.id LEFT JOIN billing.invoices ai ON ai.id = a.invoice_id
                    JOIN billing.credit_note_lines l ON l.credit_note_id = n.id ORDER BY 1$$,
                  $$VALUES ('cn_000001', 'CN-1', 'applied', 10.0, 10.0, 'inv_000001', 'cnapp_000001', 'inv_000001', 10.0, '2024-02-11'::date, 'cnli_000001_1', 10.0, '2024-01-12'::date, '2024-02-12'::date),
                           ('cn_000002', 'CN-2', 'applied', 10.0, 10.0, 'inv_000002', 'cnapp_000002', 'inv_000002', 10.0, '2024-02-12', 'cnli_000002_1', 10.0, '2024-01-13', '2025-01-13')$$,
                  'credit notes with their lines and applications');
SELECT results_eq($$SELECT entity, cursor FROM billing._sync_state WHERE source_id = $$ || :source_id || $$ ORDER BY 1$$,
                  $$VALUES ('credit_notes', '{"since": null}'::jsonb), ('customers', '{"since": "2024-01-01T05:05:00Z"}'),
                           ('invoices', '{"since": "2024-01-18T01:00:00Z"}'), ('subscriptions', '{"since": "2024-01-05T02:00:00Z"}')$$,
                  'the checkpoints hold the newest updated_at seen, not the local clock');
SELECT isnt((SELECT last_success_at FROM billing.sources WHERE name = 'happy'), NULL, 'the source records its last success');

-- (components are fetched up to 4 at once, the default max_concurrent_requests: one connection
-- per request in flight at most, each kept alive, instead of one per request)
SELECT cmp_ok((SELECT count(DISTINCT split_part(x, ' ', 4))::int
               FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/logs/ok-happy.log'), E'\n') x WHERE x <> ''),
              '<=', 4, 'the 16 requests of the run went over at most 4 connections (kept alive, one per request in flight)');

SELECT pg_temp.fingerprint() AS fp1 \gset
CALL billing.sync('happy');
SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, records_deleted, full_reconcile
                    FROM billing.sync_runs ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 0::bigint, 0::bigint, 5::bigint, 0::bigint, false)$$,
                  'second sync: only the overlap window (and the credit notes) read again, nothing changed');
SELECT is(pg_temp.fingerprint(), :'fp1', 'two syncs in a row leave the same rows');
SELECT ok(pg_read_file(current_setting('pgb_test.fake_dir') || '/logs/ok-happy.log')
          ~ 'invoices\.json\?page=1&per_page=2&sort=created_at&direction=asc&line_items=true&discounts=true&taxes=true&credits=true&payments=true&refunds=true&date_field=updated_at&start_datetime=2024-01-18%2000%3A55%3A00%2B00%3A00',
          'the second sync asks invoices updated since the checkpoint minus the 5-minute overlap');
SELECT ok(pg_read_file(current_setting('pgb_test.fake_dir') || '/logs/ok-happy.log')
          ~ 'customers\.json\?page=1&per_page=2&direction=asc&date_field=updated_at&start_datetime=2024-01-01%2005%3A00%3A00%2B00%3A00',
          'the second sync asks customers updated since the checkpoint minus the overlap');

CALL billing.sync('happy', full_reconcile => true);
SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, records_deleted, full_reconcile
                    FROM billing.sync_runs ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 0::bigint, 0::bigint, 18::bigint, 0::bigint, true)$$,
                  'a full reconcile re-reads everything and finds nothing deleted');
SELECT is(pg_temp.fingerprint(), :'fp1', 'a full reconcile leaves the same rows');
SELECT is((SELECT count(*) FROM billing._sync_seen), 0::bigint, 'the reconcile work table is emptied');

-- reconcile_every: the option makes every Nth run a full reconcile by itself
UPDATE billing.sources SET options = options || '{"reconcile_every": 2}' WHERE name = 'happy';
CALL billing.sync('happy');
CALL billing.sync('happy');
SELECT results_eq($$SELECT full_reconcile FROM billing.sync_runs ORDER BY id DESC LIMIT 2$$,
                  $$VALUES (true), (false)$$, 'reconcile_every = 2: the second run after a reconcile is a reconcile');
-- by default every 24th run is one: 22 more successful runs are on record, the 23rd is not, the 24th is
UPDATE billing.sources SET options = options - 'reconcile_every' WHERE name = 'happy';
INSERT INTO billing.sync_runs (source_id, status, trigger, started_at, finished_at)
SELECT billing._source_id('happy'), 'succeeded', 'manual', now(), now() FROM generate_series(1, 22);
CALL billing.sync('happy');
CALL billing.sync('happy');
SELECT results_eq($$SELECT full_reconcile FROM billing.sync_runs ORDER BY id DESC LIMIT 2$$,
                  $$VALUES (true), (false)$$, 'without the option, every 24th run is a full reconcile');

-- billing_admin (not a superuser) can run a sync with the privileges the extension grants it.
SET ROLE billing_admin;
CALL billing.sync('happy', full_reconcile => true);
RESET ROLE;
SELECT results_eq($$SELECT status, records_unchanged, records_deleted FROM billing.sync_runs ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 18::bigint, 0::bigint)$$, 'billing_admin can sync (and reconcile) a source');

-- A manual source has nothing to fetch; the contract with the worker (_sync_run never raises) holds.
SELECT billing.add_source('hand', 'manual') AS manual_id \gset
SELECT billing._start_run(:manual_id, 'request') AS manual_run \gset
CALL billing._sync_run(:manual_run);
SELECT is((SELECT status FROM billing.sync_runs WHERE id = :manual_run), 'succeeded', 'a manual source''s run succeeds');

-- Privileges: syncing causes HTTP requests: not for PUBLIC or readers.
SELECT ok(NOT has_function_privilege('billing_reader', 'billing.sync(text)', 'EXECUTE'), 'readers cannot sync');
SELECT ok(NOT has_function_privilege('billing_reader', 'billing._sync_connector(bigint)', 'EXECUTE'), 'readers cannot run the connector');
SELECT ok(NOT has_function_privilege('public', 'billing.sync(text, boolean)', 'EXECUTE'), 'PUBLIC cannot sync');
SELECT ok(has_function_privilege('billing_admin', 'billing.sync(text, boolean)', 'EXECUTE'), 'admins can sync');
SELECT ok(NOT has_table_privilege('billing_reader', 'billing._sync_state', 'SELECT'), 'readers cannot read checkpoints');
SELECT ok(NOT has_table_privilege('billing_reader', 'billing._sync_seen', 'SELECT'), 'readers cannot read the reconcile work table');

-- A sync must commit page by page: inside a transaction block it refuses.
BEGIN;
SELECT throws_ok($$CALL billing._sync_connector(1)$$, '2D000', NULL, 'the driver refuses to run inside a transaction block');
ROLLBACK;

-- Settings are registered and the security ones are superuser-only.
SELECT results_eq($$SELECT name, context FROM pg_settings WHERE name IN ('pg_billing.ca_file', 'pg_billing.allow_loopback', 'pg_billing.http_max_body') ORDER BY 1$$,
                  $$VALUES ('pg_billing.allow_loopback', 'superuser'), ('pg_billing.ca_file', 'superuser'), ('pg_billing.http_max_body', 'superuser')$$,
                  'the TLS, loopback and body-cap settings can only be changed by a superuser');
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE status <> 'succeeded'), 0, 'no run failed');
SELECT is((SELECT count(*)::int FROM billing.invoices WHERE deleted_at IS NOT NULL), 0, 'nothing was tombstoned');

SELECT * FROM finish();
