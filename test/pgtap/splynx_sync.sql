-- The Splynx connector against the fake Splynx API (test/fake/splynx_fake.py): access tokens
-- signed with HMAC-SHA256 (renewed before expiry and once on a 401) and Basic auth, limit/offset
-- paging, customers, invoices and credit notes with amounts computed from their items, payments;
-- incremental runs by date_updated; faults then a rerun; revenue on Splynx data.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql

CREATE FUNCTION pg_temp.sx(name text, scenario text, key text DEFAULT 'splynx-key', secret text DEFAULT 'splynx-secret',
                           auth text DEFAULT 'token') RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'splynx', current_setting('pgb_test.splynx_url') || '/s/' || scenario || '/api/2.0',
        jsonb_build_object('api_key', key, 'api_secret', secret),
        jsonb_build_object('per_page', 2, 'max_requests_per_second', 200, 'currency', 'EUR', 'auth', auth))
$$;
-- The fake's log of a scenario: (status, method, path, auth).
CREATE FUNCTION pg_temp.log(scenario text) RETURNS TABLE (n bigint, status int, method text, path text, who text) LANGUAGE sql AS $$
    SELECT l.n, split_part(l.x, ' ', 1)::int, split_part(l.x, ' ', 2), split_part(l.x, ' ', 3), split_part(l.x, ' ', 4)
    FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/splynx_logs/' || scenario || '.log'), E'\n')
         WITH ORDINALITY AS l(x, n)
    WHERE l.x <> ''
$$;

SELECT plan(27);

SELECT pg_temp.sx('sx', 'ok-sxa') AS sx \gset
CALL billing.sync('sx');

SELECT results_eq($$SELECT status, records_inserted, records_updated, pages, requests, error
                    FROM billing.sync_runs WHERE source_id = billing._source_id('sx')$$,
                  $$VALUES ('succeeded', 10::bigint, 0::bigint, 7::bigint, 8::bigint, NULL::text)$$,
                  'first sync: 3 customers + 3 invoices + 1 credit note + 3 payments in 7 pages and 1 token request');
SELECT results_eq($$SELECT status, method, path, who FROM pg_temp.log('ok-sxa') ORDER BY n$$,
                  $$VALUES (201, 'POST', 'admin/auth/tokens', 't1'),
                           (200, 'GET', 'admin/customers/customer?offset=0&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/customers/customer?offset=2&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/invoices?offset=0&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/invoices?offset=2&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/credit-notes?offset=0&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/payments?offset=0&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/payments?offset=2&limit=2&order%5Bid%5D=ASC', 't1')$$,
                  'one signed token, then limit/offset pages until a short page, each with the token');
SELECT results_eq($$SELECT external_id, reference, name, email, remote_created_at, raw->>'status'
                    FROM billing.customers WHERE source_id = billing._source_id('sx') ORDER BY external_id$$,
                  $$VALUES ('1', 'ann', 'Ann Smith', 'ann@example.net', '2023-12-01 00:00+00'::timestamptz, 'active'),
                           ('2', 'bob', 'Bob''s Café', NULL, '2023-12-15 00:00+00', 'active'),
                           ('3', 'carl', 'Carl Ltd', 'carl@example.net', NULL, 'blocked')$$,
                  'customers: ids as numbers or strings, login as reference, an empty email and 0000-00-00 as null');
-- Hand-worked: INV-1 30.00 + 20% = 6.00 -> 36.00; INV-2 2 x 12.345 = 24.69, 10% = 2.469 -> 2.47,
-- 24.69 + 2.47 = 27.16; 1 x 0.125 -> 0.13 (half away from zero), 0% -> 0.13; invoice 24.82 + 2.47 = 27.29;
-- INV-3 10.00 + 2.00 = 12.00, deleted -> voided.
SELECT results_eq($$SELECT i.external_id, i.number, c.external_id, i.status, i.issue_date, i.due_date, i.paid_date, i.currency,
                           i.subtotal, i.tax, i.total, i.paid, i.due, i.remote_updated_at
                    FROM billing.invoices i JOIN billing.customers c ON c.id = i.customer_id
                    WHERE i.source_id = billing._source_id('sx') ORDER BY i.external_id$$,
                  $$VALUES ('1', 'INV-1', '1', 'paid', '2024-01-01'::date, '2024-01-15'::date, '2024-01-10'::date, 'EUR',
                            30.00::numeric, 6.00::numeric, 36.00::numeric, 36.00::numeric, 0::numeric, '2024-01-10 09:00+00'::timestamptz),
                           ('2', 'INV-2', '2', 'open', '2024-01-05', '2024-01-20', NULL, 'EUR', 24.82, 2.47, 27.29, 0, 27.29, '2024-01-05 00:00+00'),
                           ('3', 'INV-3', '3', 'voided', '2024-02-01', '2024-02-15', NULL, 'EUR', 10.00, 2.00, 12.00, 0, 0, '2024-02-02 10:00+00')$$,
                  'invoices: status mapped, totals computed from the items (no invoice-level total in Splynx)');
SELECT results_eq($$SELECT i.external_id, l.external_id, l.line_no, l.kind, l.description, l.quantity, l.unit_price,
                           l.subtotal, l.tax, l.total, l.period_start, l.period_end
                    FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
                    WHERE i.source_id = billing._source_id('sx') ORDER BY i.external_id, l.line_no$$,
                  $$VALUES ('1', '11', 1, 'plan', 'Internet 100 Mbit', 1::numeric, 30.00::numeric, 30.00::numeric, 6.00::numeric, 36.00::numeric,
                            '2024-01-01'::date, '2024-02-01'::date),
                           ('2', '21', 1, 'one_time', 'Router', 2, 12.345, 24.69, 2.47, 27.16, '2024-01-05', '2024-01-05'),
                           ('2', '22', 2, 'one_time', 'Installation', 1, 0.125, 0.13, 0, 0.13, '2024-01-05', '2024-01-05'),
                           ('3', '31', 1, 'one_time', 'Static IP', 1, 10, 10.00, 2.00, 12.00, '2024-02-01', '2024-02-01')$$,
                  'invoice lines: quantity x price rounded per line, tax per line, period_to + 1 day as the exclusive end');
SELECT is((SELECT string_agg(unit_price::text || '/' || quantity::text, ' ' ORDER BY l.external_id)
             FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id WHERE i.source_id = billing._source_id('sx')),
          '30.00/1 12.345/2 0.125/1 10/1', 'numbers are exact as sent: strings and JSON numbers alike');
-- CN-1: 1 x 5.005 -> 5.01 (half away from zero); 20% of 5.01 = 1.002 -> 1.00; 6.01.
SELECT results_eq($$SELECT n.external_id, n.number, c.external_id, n.status, n.issue_date, n.subtotal, n.tax, n.total, n.memo,
                           l.kind, l.subtotal, l.tax, l.total
                    FROM billing.credit_notes n JOIN billing.customers c ON c.id = n.customer_id
                    JOIN billing.credit_note_lines l ON l.credit_note_id = n.id WHERE n.source_id = billing._source_id('sx')$$,
                  $$VALUES ('1', 'CN-1', '1', 'open', '2024-01-20'::date, 5.01::numeric, 1.00::numeric, 6.01::numeric, 'Outage 18 Jan',
                            'credit', 5.01::numeric, 1.00::numeric, 6.01::numeric)$$,
                  'credit notes with their lines, amounts from the items');
SELECT results_eq($$SELECT p.external_id, c.external_id, i.external_id, p.amount, p.currency, p.payment_date, p.method, p.reference, p.prepayment
                    FROM billing.payments p JOIN billing.customers c ON c.id = p.customer_id
                    LEFT JOIN billing.invoices i ON i.id = p.invoice_id WHERE p.source_id = billing._source_id('sx') ORDER BY p.external_id$$,
                  $$VALUES ('1', '1', '1', 36.00::numeric, 'EUR', '2024-01-10'::date, '2', 'R-1', false),
                           ('2', '2', NULL, 10::numeric, 'EUR', '2024-01-06', '1', 'R-2', true),
                           ('3', '3', NULL, 12.5::numeric, 'EUR', '2024-02-03', '1', '', true)$$,
                  'payments: invoice link (0 = none), payment_type as method, receipt_number as reference');
SELECT is((SELECT cursor->>'since' FROM billing._sync_state WHERE source_id = billing._source_id('sx') AND entity = 'invoices'),
          '2024-02-02T10:00:00Z', 'the invoices cursor is the newest date_updated seen');

-- Second run: invoice 2 was paid (date_updated 2024-02-10 12:00:00), payment 4 is new. Invoices
-- and credit notes are asked for from the cursor's day (cursor - overlap, as a date).
CALL billing.sync('sx');
SELECT results_eq($$SELECT status, records_inserted, records_updated FROM billing.sync_runs
                    WHERE source_id = billing._source_id('sx') ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 1::bigint, 1::bigint)$$,
                  'second sync: payment 4 inserted, invoice 2 updated');
SELECT results_eq($$SELECT path FROM pg_temp.log('ok-sxa') WHERE method = 'GET' AND path LIKE 'admin/finance/invoices%' ORDER BY n OFFSET 2$$,
                  $$VALUES ('admin/finance/invoices?offset=0&limit=2&order%5Bid%5D=ASC&main_attributes%5Bdate_updated%5D%5B0%5D=%3E%3D&main_attributes%5Bdate_updated%5D%5B1%5D=2024-02-02'),
                           ('admin/finance/invoices?offset=2&limit=2&order%5Bid%5D=ASC&main_attributes%5Bdate_updated%5D%5B0%5D=%3E%3D&main_attributes%5Bdate_updated%5D%5B1%5D=2024-02-02')$$,
                  'the incremental list filters on date_updated >= the cursor''s day: invoices 2 and 3, then an empty page');
SELECT results_eq($$SELECT status, paid, due, paid_date FROM billing.invoices WHERE source_id = billing._source_id('sx') AND external_id = '2'$$,
                  $$VALUES ('paid', 27.29::numeric, 0::numeric, '2024-02-10'::date)$$, 'invoice 2 is now paid');
SELECT results_eq($$SELECT i.external_id, p.amount FROM billing.payments p JOIN billing.invoices i ON i.id = p.invoice_id
                    WHERE p.source_id = billing._source_id('sx') AND p.external_id = '4'$$,
                  $$VALUES ('2', 27.29::numeric)$$, 'payment 4 links invoice 2');

-- Revenue on Splynx data (docs/revenue.md): INV-1's service line [2024-01-01, 2024-02-01) recognises
-- its net 30.00 in January; CN-1's line (no period) takes 5.01 off on its issue day: 24.99 for Ann.
-- INV-2's one-time lines (no period) count in full on the issue day: 24.82 for Bob. INV-3 is voided.
SELECT results_eq($$SELECT c.external_id, r.month, r.currency, r.recognized FROM billing.monthly_revenue r
                    JOIN billing.customers c ON c.id = r.customer_id
                    WHERE c.source_id = billing._source_id('sx') AND r.month = '2024-01-01' ORDER BY 1$$,
                  $$VALUES ('1', '2024-01-01'::date, 'EUR', 24.99::numeric), ('2', '2024-01-01', 'EUR', 24.82::numeric)$$,
                  'January revenue per customer on Splynx data: 30.00 - 5.01 and 24.82; the voided invoice counts nowhere');

-- Basic auth: allowed for basic-key; the same data with "basic" in the log.
SELECT pg_temp.sx('sxb', 'ok-sxb', 'basic-key', 'basic-secret', 'basic') AS sxb \gset
CALL billing.sync('sxb');
SELECT results_eq($$SELECT status, records_inserted FROM billing.sync_runs WHERE source_id = billing._source_id('sxb')$$,
                  $$VALUES ('succeeded', 10::bigint)$$, 'Basic auth: the run succeeds');
SELECT results_eq($$SELECT DISTINCT method, who FROM pg_temp.log('ok-sxb')$$, $$VALUES ('GET', 'basic')$$,
                  'Basic auth: no token request, every request with Basic');
-- A key without "unsecure access" is refused Basic: the run fails with 401.
SELECT pg_temp.sx('sxbr', 'ok-sxc', 'splynx-key', 'splynx-secret', 'basic') AS sxbr \gset
SELECT billing._start_run(billing._source_id('sxbr'), 'manual') AS rbr \gset
CALL billing._sync_run(:rbr);
SELECT alike((pg_temp.last('sxbr')).error, '%HTTP status 401%', 'Basic refused for this key: the run fails with the 401');

-- Wrong secret: the signature does not match, the token request fails; no secret in the error.
SELECT pg_temp.sx('sxbad', 'ok-sxd', 'splynx-key', 'wrong-secret-canary') AS sxbad \gset
SELECT billing._start_run(billing._source_id('sxbad'), 'manual') AS rbad \gset
CALL billing._sync_run(:rbad);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :rbad,
                  $$VALUES ('failed', 'source "sxbad": token request failed: HTTP status 401')$$,
                  'a wrong secret fails the run at the token request');
SELECT ok((SELECT coalesce(error_detail, '') NOT LIKE '%canary%' AND error NOT LIKE '%canary%' FROM billing.sync_runs WHERE id = :rbad),
          'the secret is in neither the error nor its detail');

-- Expiring tokens (2 s, 0.6 s a page): renewed before expiry, never sent expired.
SELECT pg_temp.sx('sxexp', 'expiring-sxe') AS sxexp \gset
CALL billing.sync('sxexp');
SELECT is((pg_temp.last('sxexp')).status, 'succeeded', 'tokens that expire during the run: the run succeeds');
SELECT is((SELECT count(*) FROM pg_temp.log('expiring-sxe') WHERE status = 401), 0::bigint, 'no request went out with an expired token');
SELECT cmp_ok((SELECT count(*) FROM pg_temp.log('expiring-sxe') WHERE method = 'POST'), '>=', 3::bigint,
              'the token was renewed (at least 3 tokens over about 4 s), each with a larger nonce');

-- Revoked: the first token is refused on its second use (EXPIRED_ACCESS_TOKEN): renewed once.
SELECT pg_temp.sx('sxrev', 'revoked-sxf') AS sxrev \gset
CALL billing.sync('sxrev');
SELECT results_eq($$SELECT status, method, who FROM pg_temp.log('revoked-sxf') WHERE n <= 5 ORDER BY n$$,
                  $$VALUES (201, 'POST', 't1'), (200, 'GET', 't1'), (401, 'GET', 't1'), (201, 'POST', 't2'), (200, 'GET', 't2')$$,
                  'a 401 renews the token once and the request is sent again');

-- Faults: a 429 is retried; invoices page 2 answers 500 until the retries are spent: the run
-- fails with the pages before it committed; the rerun resumes and completes.
SELECT pg_temp.sx('sxf', 'fault-sxg') AS sxf \gset
SELECT billing._start_run(:sxf, 'manual') AS rf \gset
CALL billing._sync_run(:rf);
SELECT results_eq($$SELECT status, records_inserted FROM billing.sync_runs WHERE source_id = billing._source_id('sxf')$$,
                  $$VALUES ('failed', 5::bigint)$$, 'the 500s fail the run after 3 customers and 2 invoices committed');
SELECT is((SELECT count(*) FROM billing.invoices WHERE source_id = billing._source_id('sxf')), 2::bigint, 'nothing half-written: the failed page stored nothing');
CALL billing.sync('sxf');
SELECT results_eq($$SELECT count(*), sum(total) FROM billing.invoices WHERE source_id = billing._source_id('sxf')$$,
                  $$VALUES (3::bigint, 75.29::numeric)$$, 'the rerun completes: 36.00 + 27.29 + 12.00');

-- Invalid JSON (a truncated body) fails the run; the rerun completes.
SELECT pg_temp.sx('sxj', 'badjson-sxh') AS sxj \gset
SELECT billing._start_run(:sxj, 'manual') AS rj \gset
CALL billing._sync_run(:rj);
CALL billing.sync('sxj');
SELECT results_eq($$SELECT status FROM billing.sync_runs WHERE source_id = billing._source_id('sxj') ORDER BY id$$,
                  $$VALUES ('failed'), ('succeeded')$$, 'a body that is not JSON fails the run; the rerun succeeds');

SELECT * FROM finish();
