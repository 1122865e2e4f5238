-- The Splynx connector against the fake Splynx API (test/fake/splynx_fake.py): access tokens
-- signed with HMAC-SHA256 (renewed before expiry and once on a 401) and Basic auth, limit/offset
-- paging (checked against X-total-count), customers, invoices and credit notes with amounts computed
-- from their items, payments and ledger transactions; incremental runs by date_updated and, for
-- payments and transactions, by id cursor; paging edge cases; faults then a rerun; revenue and MRR
-- on Splynx data.
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

SELECT plan(47);

SELECT pg_temp.sx('sx', 'ok-sxa') AS sx \gset
CALL billing.sync('sx');

SELECT results_eq($$SELECT status, records_inserted, records_updated, pages, requests, error
                    FROM billing.sync_runs WHERE source_id = billing._source_id('sx')$$,
                  $$VALUES ('succeeded', 13::bigint, 0::bigint, 9::bigint, 10::bigint, NULL::text)$$,
                  'first sync: 3 customers + 3 invoices + 1 credit note + 3 payments + 3 transactions in 9 pages and 1 token request');
SELECT results_eq($$SELECT status, method, path, who FROM pg_temp.log('ok-sxa') ORDER BY n$$,
                  $$VALUES (201, 'POST', 'admin/auth/tokens', 't1'),
                           (200, 'GET', 'admin/customers/customer?offset=0&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/customers/customer?offset=2&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/invoices?offset=0&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/invoices?offset=2&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/credit-notes?offset=0&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/payments?offset=0&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/payments?offset=2&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/transactions?offset=0&limit=2&order%5Bid%5D=ASC', 't1'),
                           (200, 'GET', 'admin/finance/transactions?offset=2&limit=2&order%5Bid%5D=ASC', 't1')$$,
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
-- Transactions: total as sent, or (transaction 3, none sent) 2 x 12.345 = 24.69 + 10% 2.469 -> 2.47 = 27.16;
-- period_to + 1 day as the exclusive end; empty and 0000-00-00 periods and 0/null links are none.
SELECT results_eq($$SELECT t.external_id, c.external_id, t.entry_type, t.category, t.description, t.quantity, t.unit_price,
                           t.tax_percent, t.total, t.currency, t.entry_date, t.period_start, t.period_end, i.external_id, p.external_id,
                           t.credit_note_id
                    FROM billing.source_transactions t JOIN billing.customers c ON c.id = t.customer_id
                    LEFT JOIN billing.invoices i ON i.id = t.invoice_id LEFT JOIN billing.payments p ON p.id = t.payment_id
                    WHERE t.source_id = billing._source_id('sx') ORDER BY t.external_id$$,
                  $$VALUES ('1', '1', 'debit', '1', 'Internet 100 Mbit', 1::numeric, 30.00::numeric, 20::numeric, 36.0000::numeric, 'EUR',
                            '2024-01-01'::date, '2024-01-01'::date, '2024-02-01'::date, '1', NULL, NULL::bigint),
                           ('2', '1', 'credit', '3', 'Payment R-1', 1, 36, 0, 36, 'EUR', '2024-01-10', NULL, NULL, NULL, '1', NULL),
                           ('3', '2', 'debit', '2', 'Router', 2, 12.345, 10, 27.16, 'EUR', '2024-01-05', NULL, NULL, '2', NULL, NULL)$$,
                  'transactions: type, category id, exact amounts, total computed when missing, links to invoice and payment');
SELECT results_eq($$SELECT entity, cursor FROM billing._sync_state WHERE source_id = billing._source_id('sx')
                    AND entity IN ('payments', 'transactions', 'customers') ORDER BY entity$$,
                  $$VALUES ('customers', '{"since": null}'::jsonb), ('payments', '{"since": null, "after_id": "3"}'),
                           ('transactions', '{"since": null, "after_id": "3"}')$$,
                  'payments and transactions settle an id cursor (the greatest id listed); customers keep the old shape');

-- Second run: invoice 2 was paid (date_updated 2024-02-10 12:00:00), payment 4 is new. Invoices
-- and credit notes are asked for from the cursor's day (cursor - overlap, as a date).
CALL billing.sync('sx');
SELECT results_eq($$SELECT status, records_inserted, records_updated FROM billing.sync_runs
                    WHERE source_id = billing._source_id('sx') ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 2::bigint, 1::bigint)$$,
                  'second sync: payment 4 and transaction 4 inserted, invoice 2 updated');
SELECT results_eq($$SELECT path FROM pg_temp.log('ok-sxa') WHERE method = 'GET' AND path ~ '^admin/finance/(payments|transactions)' ORDER BY n OFFSET 4$$,
                  $$VALUES ('admin/finance/payments?offset=0&limit=2&order%5Bid%5D=ASC&main_attributes%5Bid%5D%5B0%5D=%3E&main_attributes%5Bid%5D%5B1%5D=3'),
                           ('admin/finance/transactions?offset=0&limit=2&order%5Bid%5D=ASC&main_attributes%5Bid%5D%5B0%5D=%3E&main_attributes%5Bid%5D%5B1%5D=3')$$,
                  'the second run asks only for ids above the cursor: one short page each');
SELECT results_eq($$SELECT t.external_id, t.entry_type, t.total, p.external_id FROM billing.source_transactions t
                    JOIN billing.payments p ON p.id = t.payment_id WHERE t.source_id = billing._source_id('sx') AND t.external_id = '4'$$,
                  $$VALUES ('4', 'credit', 27.2900::numeric, '4')$$, 'transaction 4 arrived and links payment 4');
SELECT is((SELECT string_agg(external_id, ',' ORDER BY external_id) FROM billing.payments WHERE source_id = billing._source_id('sx')),
          '1,2,3,4', 'nothing missed: payments 1 to 4');
SELECT results_eq($$SELECT entity, cursor->>'after_id' FROM billing._sync_state WHERE source_id = billing._source_id('sx')
                    AND entity IN ('payments', 'transactions') ORDER BY entity$$,
                  $$VALUES ('payments', '4'), ('transactions', '4')$$, 'the id cursors moved to 4');
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

-- A checkpoint from before the id cursor ({"since": null}) still reads: payments are listed whole
-- once and the cursor settles; a corrupt id cursor is refused by name.
UPDATE billing._sync_state SET cursor = '{"since": null}' WHERE source_id = billing._source_id('sx') AND entity = 'payments';
CALL billing.sync('sx');
SELECT results_eq($$SELECT status, records_inserted, records_updated FROM billing.sync_runs
                    WHERE source_id = billing._source_id('sx') ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 0::bigint, 0::bigint)$$, 'an old checkpoint: the run succeeds and changes nothing');
SELECT results_eq($$SELECT path FROM pg_temp.log('ok-sxa') WHERE method = 'GET' AND path ~ '^admin/finance/payments' ORDER BY n DESC LIMIT 3$$,
                  $$VALUES ('admin/finance/payments?offset=4&limit=2&order%5Bid%5D=ASC'), ('admin/finance/payments?offset=2&limit=2&order%5Bid%5D=ASC'),
                           ('admin/finance/payments?offset=0&limit=2&order%5Bid%5D=ASC')$$,
                  'an old checkpoint: payments listed whole, no id filter (4 payments: two full pages and an empty one)');
SELECT is((SELECT cursor FROM billing._sync_state WHERE source_id = billing._source_id('sx') AND entity = 'payments'),
          '{"since": null, "after_id": "4"}'::jsonb, 'and the id cursor settles at 4');
UPDATE billing._sync_state SET cursor = '{"since": null, "after_id": 4}' WHERE source_id = billing._source_id('sx') AND entity = 'payments';
SELECT billing._start_run(billing._source_id('sx'), 'manual') AS rc \gset
CALL billing._sync_run(:rc);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :rc,
                  $$VALUES ('failed', 'corrupt checkpoint')$$, 'an id cursor that is not a string of digits is a corrupt checkpoint');
DELETE FROM billing._sync_state WHERE source_id = billing._source_id('sx') AND entity = 'payments';

-- MRR on Splynx lines (docs/connector-splynx.md): an item's service period gives its interval.
-- M-11 (Ann): [Jan 1, Apr 1) is 3 months, 90.00 -> 30.00 a month; [Jan 1, Mar 1) is 2 months, 50.00 -> 25.00.
-- M-12 (Bob): [2024-01-15, 2025-01-15) is 12 months, 240.00 -> 20.00. M-13 (Carl): [Jan 17, Feb 1) is 15 days,
-- rounded to 1 month (15 x 12 / 365 = 0.49, at least 1), a proration of [Jan 1, Feb 1): 15.50 x 31 / 15 = 32.0333 -> 32.03.
-- MRR is net of tax (the 20% and 10% are not in it).
SELECT pg_temp.sx('sxm', 'mrr-sxq') AS sxm \gset
CALL billing.sync('sxm');
SELECT results_eq($$SELECT l.external_id, l.recurring, l.interval_months, l.full_period_amount, l.period_start, l.period_end
                    FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
                    WHERE i.source_id = billing._source_id('sxm') ORDER BY l.external_id$$,
                  $$VALUES ('111', true, 3, 90.00::numeric, '2024-01-01'::date, '2024-04-01'::date),
                           ('112', true, 2, 50.00, '2024-01-01', '2024-03-01'),
                           ('121', true, 12, 240.00, '2024-01-15', '2025-01-15'),
                           ('131', true, 1, NULL, '2024-01-17', '2024-02-01')$$,
                  'service lines get an interval from their period: 3, 2, 12 months; 15 days is a proration of 1');
SELECT results_eq($$SELECT c.external_id, m.month, m.mrr FROM billing.customer_mrr m JOIN billing.customers c ON c.id = m.customer_id
                    WHERE c.source_id = billing._source_id('sxm') AND m.month BETWEEN '2024-01-01' AND '2024-04-01' AND m.mrr <> 0
                    ORDER BY 1, 2$$,
                  $$VALUES ('1', '2024-01-01'::date, 55.00::numeric), ('1', '2024-02-01', 55.00), ('1', '2024-03-01', 30.00),
                           ('2', '2024-01-01', 20.00), ('2', '2024-02-01', 20.00), ('2', '2024-03-01', 20.00), ('2', '2024-04-01', 20.00),
                           ('3', '2024-01-01', 32.03)$$,
                  'MRR on Splynx data, hand-worked: 30 + 25 for Ann until February, 30 in March; 20 a month for Bob; 32.03 for Carl in January');

-- Paging edge cases: a list that is an exact multiple of the page (3 customers, limit 3) ends with an
-- empty page; an empty site lists one empty page per entity and succeeds.
SELECT pg_temp.sx('sxk', 'ok-sxk') AS sxk \gset
UPDATE billing.sources SET options = options || '{"per_page": 3, "entities": ["customers"]}' WHERE id = :sxk;
CALL billing.sync('sxk');
SELECT results_eq($$SELECT status, method, path FROM pg_temp.log('ok-sxk') ORDER BY n$$,
                  $$VALUES (201, 'POST', 'admin/auth/tokens'),
                           (200, 'GET', 'admin/customers/customer?offset=0&limit=3&order%5Bid%5D=ASC'),
                           (200, 'GET', 'admin/customers/customer?offset=3&limit=3&order%5Bid%5D=ASC')$$,
                  'an exact multiple of the page: a full page, then an empty one ends the list');
SELECT results_eq($$SELECT status, records_inserted, pages FROM billing.sync_runs WHERE source_id = billing._source_id('sxk')$$,
                  $$VALUES ('succeeded', 3::bigint, 2::bigint)$$, 'an exact multiple: 3 customers in 2 pages');
SELECT pg_temp.sx('sxl', 'empty-sxl') AS sxl \gset
CALL billing.sync('sxl');
SELECT results_eq($$SELECT status, records_inserted, pages, requests FROM billing.sync_runs WHERE source_id = billing._source_id('sxl')$$,
                  $$VALUES ('succeeded', 0::bigint, 5::bigint, 6::bigint)$$, 'an empty site: 5 empty pages (one per entity), the run succeeds');

-- X-total-count: customer 1 is deleted after the first page; the second page is empty and the total
-- fell from 3 to 2: customer 3 moved to page 1 and would be missed. The list is read again from page 1.
SELECT pg_temp.sx('sxs', 'shrink-sxs') AS sxs \gset
UPDATE billing.sources SET options = options || '{"entities": ["customers"]}' WHERE id = :sxs;
CALL billing.sync('sxs');
SELECT results_eq($$SELECT status, method, path FROM pg_temp.log('shrink-sxs') WHERE method = 'GET' ORDER BY n$$,
                  $$VALUES (200, 'GET', 'admin/customers/customer?offset=0&limit=2&order%5Bid%5D=ASC'),
                           (200, 'GET', 'admin/customers/customer?offset=2&limit=2&order%5Bid%5D=ASC'),
                           (200, 'GET', 'admin/customers/customer?offset=0&limit=2&order%5Bid%5D=ASC'),
                           (200, 'GET', 'admin/customers/customer?offset=2&limit=2&order%5Bid%5D=ASC')$$,
                  'a list that shrank under the pass is read again from page 1');
SELECT results_eq($$SELECT status, records_inserted, warnings FROM billing.sync_runs WHERE source_id = billing._source_id('sxs')$$,
                  $$VALUES ('succeeded', 3::bigint,
                            'customers: the list shrank while it was read (X-Total-Count 2 at page 2, 3 before); read again from page 1')$$,
                  'nothing missed: customers 1, 2 and 3 stored (1 stays until a reconcile confirms it gone); the run says so');
-- A list that shrinks under every pass: read 3 times, then the run fails; what was stored stays.
SELECT pg_temp.sx('sxt', 'shrinking-sxt') AS sxt \gset
UPDATE billing.sources SET options = options || '{"entities": ["customers"]}' WHERE id = :sxt;
SELECT billing._start_run(:sxt, 'manual') AS rt \gset
CALL billing._sync_run(:rt);
SELECT results_eq($$SELECT status, error, (SELECT count(*) FROM pg_temp.log('shrinking-sxt') WHERE method = 'GET')
                    FROM billing.sync_runs WHERE id = $$ || :rt,
                  $$VALUES ('failed', 'the list of customers kept shrinking while it was read, run stopped', 6::bigint)$$,
                  'a list that keeps shrinking: read 3 times (6 pages), then the run fails');

-- Basic auth: allowed for basic-key; the same data with "basic" in the log.
SELECT pg_temp.sx('sxb', 'ok-sxb', 'basic-key', 'basic-secret', 'basic') AS sxb \gset
CALL billing.sync('sxb');
SELECT results_eq($$SELECT status, records_inserted FROM billing.sync_runs WHERE source_id = billing._source_id('sxb')$$,
                  $$VALUES ('succeeded', 13::bigint)$$, 'Basic auth: the run succeeds');
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

-- A slow answer (3 s, the request timeout 1 s) is retried and the run succeeds.
SET pg_billing.http_timeout = 1000;
SELECT pg_temp.sx('sxo', 'slow-sxo') AS sxo \gset
UPDATE billing.sources SET options = options || '{"entities": ["invoices"]}' WHERE id = :sxo;
CALL billing.sync('sxo');
RESET pg_billing.http_timeout;
SELECT results_eq($$SELECT status, records_inserted, requests FROM billing.sync_runs WHERE source_id = billing._source_id('sxo')$$,
                  $$VALUES ('succeeded', 3::bigint, 4::bigint)$$, 'a timeout is retried: token, page 1 twice, page 2');
-- A body cut short of its Content-Length (the connection closed) is retried and the run succeeds.
SELECT pg_temp.sx('sxp', 'cut-sxp') AS sxp \gset
UPDATE billing.sources SET options = options || '{"entities": ["payments"]}' WHERE id = :sxp;
CALL billing.sync('sxp');
SELECT results_eq($$SELECT status, records_inserted, requests FROM billing.sync_runs WHERE source_id = billing._source_id('sxp')$$,
                  $$VALUES ('succeeded', 3::bigint, 4::bigint)$$, 'a truncated transfer is retried: token, page 1 twice, page 2');

-- Invalid JSON (a truncated body) fails the run; the rerun completes.
SELECT pg_temp.sx('sxj', 'badjson-sxh') AS sxj \gset
SELECT billing._start_run(:sxj, 'manual') AS rj \gset
CALL billing._sync_run(:rj);
CALL billing.sync('sxj');
SELECT results_eq($$SELECT status FROM billing.sync_runs WHERE source_id = billing._source_id('sxj') ORDER BY id$$,
                  $$VALUES ('failed'), ('succeeded')$$, 'a body that is not JSON fails the run; the rerun succeeds');

SELECT * FROM finish();
