-- Pull from Xero (kind xero, src/connectors/xero_pull.c) against the fake Xero
-- (test/fake/xero_fake.py with the ledger of test/fake/xero_pull_fixture.py): OAuth2 client
-- credentials sent as HTTP Basic with a form body, xero-tenant-id on every call, MS-JSON dates,
-- pages from 1 with page/pageSize ending at pagination.pageCount, unpaged Accounts and TaxRates,
-- If-Modified-Since on the second run; exact rows of every entity, revenue/MRR/journal figures
-- worked out by hand, a malformed field that rejects its page, tokens that expire during a run.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql

CREATE FUNCTION pg_temp.xs(name text, site text, extra jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'xero', current_setting('pgb_test.xero_url') || '/s/' || site || '/api.xro/2.0',
        jsonb_build_object('client_id', 'xero-client', 'client_secret', 'xero-secret'),
        jsonb_build_object('per_page', 2, 'max_requests_per_second', 200, 'overlap_seconds', 0, 'reconcile_every', 0,
                           'token_url', current_setting('pgb_test.xero_url') || '/s/' || site || '/connect/token',
                           'tenant_id', '7e7e0000-0000-4000-8000-00000000a001') || extra)
$$;
-- The list reads of a site: (n, list request, If-Modified-Since or '-').
CREATE FUNCTION pg_temp.reads(site text) RETURNS TABLE (n bigint, request text, since text) LANGUAGE sql AS $$
    SELECT l.n, split_part(l.x, ' ', 1), split_part(l.x, ' ', 2)
    FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/xero_logs/' || site || '.reads'), E'\n')
         WITH ORDINALITY AS l(x, n)
    WHERE l.x <> ''
$$;
-- The fake's request log of a site: (n, status, method, path).
CREATE FUNCTION pg_temp.log(site text) RETURNS TABLE (n bigint, status int, method text, path text) LANGUAGE sql AS $$
    SELECT l.n, split_part(l.x, ' ', 2)::int, split_part(l.x, ' ', 3), split_part(l.x, ' ', 4)
    FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/xero_logs/' || site || '.log'), E'\n')
         WITH ORDINALITY AS l(x, n)
    WHERE l.x <> ''
$$;
CREATE FUNCTION pg_temp.lastrun(src text) RETURNS billing.sync_runs LANGUAGE sql AS $$
    SELECT r FROM billing.sync_runs r WHERE r.source_id = billing._source_id(src) ORDER BY r.id DESC LIMIT 1
$$;

SELECT plan(33);

-- First run: everything ----------------------------------------------------------------------------
SELECT pg_temp.xs('xero', 'pull-x1') AS xs \gset
CALL billing.sync('xero');

SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, records_skipped, pages, requests, error
                    FROM billing.sync_runs WHERE source_id = billing._source_id('xero')$$,
                  $$VALUES ('succeeded', 22::bigint, 0::bigint, 0::bigint, 1::bigint, 9::bigint, 10::bigint, NULL::text)$$,
                  'first sync: 7 accounts, 4 tax rates, 3 contacts, 4 invoices, 2 credit notes, 1 payment and 1 refund; the payment of a bill skipped; 9 pages, 1 token request');
SELECT results_eq($$SELECT request, since FROM pg_temp.reads('pull-x1') ORDER BY n$$,
                  $$VALUES ('Accounts?', '-'), ('TaxRates?', '-'),
                           ('Contacts?page=1&pageSize=2&includeArchived=true', '-'),
                           ('Contacts?page=2&pageSize=2&includeArchived=true', '-'),
                           ('Invoices?page=1&pageSize=2', '-'), ('Invoices?page=2&pageSize=2', '-'),
                           ('CreditNotes?page=1&pageSize=2', '-'),
                           ('Payments?page=1&pageSize=2', '-'), ('Payments?page=2&pageSize=2', '-')$$,
                  'Accounts and TaxRates unpaged; pages from 1 until a short page or pagination.pageCount (Invoices page 2 and CreditNotes page 1 are full and last); no If-Modified-Since on a first run');
SELECT results_eq($$SELECT status, method, path FROM pg_temp.log('pull-x1') WHERE n = 1$$,
                  $$VALUES (200, 'POST', '/s/pull-x1/connect/token')$$,
                  'the token request (client id and secret as HTTP Basic, form grant) is accepted by the fake');
SELECT is((SELECT count(*) FROM pg_temp.log('pull-x1') WHERE status <> 200), 0::bigint,
          'every API call carried the bearer token and xero-tenant-id (the fake answers 401/400/403 otherwise)');

SELECT results_eq($$SELECT external_id, reference, name, organization, email, status, remote_updated_at
                    FROM billing.customers WHERE source_id = billing._source_id('xero') ORDER BY external_id$$,
                  $$VALUES ('c0000000-0000-4000-8000-000000000001', 'CUST-1', 'Alpha Ltd', 'Alpha Ltd', 'ap@alpha.example', 'active', '2024-03-01 10:00:00+00'::timestamptz),
                           ('c0000000-0000-4000-8000-000000000002', NULL, 'Beta Supplies', 'Beta Supplies', NULL, 'archived', '2024-03-01 11:00:00+00'),
                           ('c0000000-0000-4000-8000-000000000003', 'CUST-3', 'Gamma GmbH', 'Gamma GmbH', 'gamma@gamma.example', 'active', '2024-03-02 09:00:00+00')$$,
                  'contacts -> customers: ContactID, ContactNumber as reference, Name, EmailAddress, ContactStatus, UpdatedDateUTC (MS-JSON)');
SELECT results_eq($$SELECT i.number, i.direction, i.status, c.name, i.issue_date, i.due_date, i.paid_date, i.currency,
                           i.subtotal, i.discount, i.tax, i.total, i.credit, i.paid, i.due, i.remote_updated_at
                    FROM billing.invoices i JOIN billing.customers c ON c.id = i.customer_id
                    WHERE i.source_id = billing._source_id('xero') ORDER BY i.external_id$$,
                  $$VALUES ('INV-0001', 'receivable', 'open', 'Alpha Ltd', '2024-01-15'::date, '2024-02-14'::date, NULL::date, 'GBP',
                            1000::numeric, 0::numeric, 191::numeric, 1191::numeric, 70::numeric, 0::numeric, 1121::numeric, '2024-03-05 10:00:00+00'::timestamptz),
                           ('INV-0002', 'receivable', 'paid', 'Gamma GmbH', '2024-02-10', '2024-02-24', '2024-02-20', 'GBP',
                            100, 0, 20, 120, 0, 120, 0, '2024-03-05 11:00:00+00'),
                           ('BILL-77', 'payable', 'open', 'Beta Supplies', '2024-01-20', '2024-02-19', NULL, 'GBP',
                            300.5, 0, 60.1, 360.6, 0, 100, 260.6, '2024-03-05 12:00:00+00'),
                           ('INV-0003', 'receivable', 'draft', 'Alpha Ltd', '2024-02-28', NULL, NULL, 'GBP',
                            500, 0, 100, 600, 0, 0, 600, '2024-03-05 13:00:00+00')$$,
                  'invoices: ACCREC receivable, ACCPAY payable; AUTHORISED open, PAID paid, DRAFT draft; MS-JSON dates; exact amounts');
SELECT results_eq($$SELECT i.number, l.line_no, l.kind, l.product, l.description, l.quantity, l.unit_price, l.subtotal,
                           l.discount, l.amount, l.tax, l.total, l.period_start, l.period_end, l.recurring, l.tax_code
                    FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
                    WHERE i.source_id = billing._source_id('xero') ORDER BY i.external_id, l.line_no$$,
                  $$VALUES ('INV-0001', 1, 'one_time', 'CONS', 'Consulting', 10::numeric, 95.5::numeric, 955::numeric, 0::numeric, 955::numeric, 191::numeric, 1146::numeric, '2024-01-15'::date, '2024-01-15'::date, false, 'OUTPUT2'),
                           ('INV-0001', 2, 'one_time', NULL, 'Setup fee', 1, 45, 45, 0, 45, 0, 45, '2024-01-15', '2024-01-15', false, 'NONE'),
                           ('INV-0002', 1, 'one_time', NULL, 'Licence', 1, 120, 100, 0, 100, 20, 120, '2024-02-10', '2024-02-10', false, 'OUTPUT2'),
                           ('BILL-77', 1, 'one_time', NULL, 'Office chairs', 2, 150.25, 300.5, 0, 300.5, 60.1, 360.6, '2024-01-20', '2024-01-20', false, 'INPUT2'),
                           ('INV-0003', 1, 'one_time', NULL, 'Draft work', 1, 500, 500, 0, 500, 100, 600, '2024-02-28', '2024-02-28', false, 'OUTPUT2')$$,
                  'lines: one-time on the invoice date, TaxType as tax_code, exclusive lines add the tax, an Inclusive line (INV-0002) holds it');
SELECT is((SELECT string_agg(l.subtotal::text || '+' || l.tax::text || '=' || l.total::text, ' ' ORDER BY l.id)
             FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
            WHERE i.source_id = billing._source_id('xero') AND i.number IN ('INV-0001', 'BILL-77')),
          '955+191=1146 45+0=45 300.5+60.1=360.6', 'amounts are exact decimals from the JSON numbers (no float residue)');
SELECT results_eq($$SELECT n.number, n.direction, n.status, c.name, n.issue_date, n.currency, n.subtotal, n.tax, n.total,
                           n.applied, n.remaining, n.memo
                    FROM billing.credit_notes n JOIN billing.customers c ON c.id = n.customer_id
                    WHERE n.source_id = billing._source_id('xero') ORDER BY n.external_id$$,
                  $$VALUES ('CN-0001', 'receivable', 'applied', 'Alpha Ltd', '2024-02-05'::date, 'GBP', 100::numeric, 20::numeric, 120::numeric, 70::numeric, 0::numeric, 'Goodwill'),
                           ('CN-B1', 'payable', 'open', 'Beta Supplies', '2024-01-25', 'GBP', 50, 0, 50, 0, 50, NULL)$$,
                  'credit notes: ACCRECCREDIT receivable, ACCPAYCREDIT payable; PAID applied, AUTHORISED open; Reference as memo');
SELECT results_eq($$SELECT n.number, l.line_no, l.kind, l.description, l.amount, l.tax, l.total, l.period_start, l.tax_code
                    FROM billing.credit_note_lines l JOIN billing.credit_notes n ON n.id = l.credit_note_id
                    WHERE n.source_id = billing._source_id('xero') ORDER BY n.external_id$$,
                  $$VALUES ('CN-0001', 1, 'one_time', 'Discount on consulting', 100::numeric, 20::numeric, 120::numeric, '2024-02-05'::date, 'OUTPUT2'),
                           ('CN-B1', 1, 'one_time', 'Returned chair', 50, 0, 50, '2024-01-25', 'NONE')$$,
                  'credit note lines with their tax codes');
SELECT results_eq($$SELECT a.external_id, n.number, i.number, c.name, a.amount, a.currency, a.allocated_on
                    FROM billing.credit_note_allocations a JOIN billing.credit_notes n ON n.id = a.credit_note_id
                    JOIN billing.invoices i ON i.id = a.invoice_id JOIN billing.customers c ON c.id = a.customer_id
                    WHERE a.source_id = billing._source_id('xero')$$,
                  $$VALUES ('e0000000-0000-4000-8000-000000000001', 'CN-0001', 'INV-0001', 'Alpha Ltd', 70::numeric, 'GBP', '2024-02-06'::date)$$,
                  'the credit note''s allocation to INV-0001 -> credit_note_allocations');
SELECT results_eq($$SELECT p.external_id, i.number, c.name, p.amount, p.currency, p.payment_date, p.method, p.reference
                    FROM billing.payments p JOIN billing.invoices i ON i.id = p.invoice_id JOIN billing.customers c ON c.id = p.customer_id
                    WHERE p.source_id = billing._source_id('xero')$$,
                  $$VALUES ('f0000000-0000-4000-8000-000000000001', 'INV-0002', 'Gamma GmbH', 120::numeric, 'GBP', '2024-02-20'::date, 'ACCRECPAYMENT', 'Card 4242')$$,
                  'a payment taken in Xero is linked to the invoice it pays (customer and currency from that invoice); the payment of the bill BILL-77 is not stored');
SELECT results_eq($$SELECT f.external_id, n.number, f.invoice_id IS NULL, c.name, f.amount, f.currency, f.refund_date, f.memo
                    FROM billing.refunds f JOIN billing.credit_notes n ON n.id = f.credit_note_id JOIN billing.customers c ON c.id = f.customer_id
                    WHERE f.source_id = billing._source_id('xero')$$,
                  $$VALUES ('f0000000-0000-4000-8000-000000000002', 'CN-0001', true, 'Alpha Ltd', 50::numeric, 'GBP', '2024-02-07'::date, 'Refund CN-0001')$$,
                  'a payment of a credit note (money paid back) -> refunds, linked to its credit note');
SELECT results_eq($$SELECT count(*), string_agg(code || ' ' || name || ' ' || account_type || ' ' || status, '; ' ORDER BY code)
                      FILTER (WHERE code IN ('090', '200')) FROM billing.source_accounts WHERE source_id = billing._source_id('xero')$$,
                  $$VALUES (7::bigint, '090 Business Bank Account BANK ACTIVE; 200 Sales REVENUE ACTIVE')$$,
                  'the chart of accounts -> source_accounts');
SELECT results_eq($$SELECT external_id, name, rate, report_type, status FROM billing.source_tax_rates WHERE source_id = billing._source_id('xero') ORDER BY external_id$$,
                  $$VALUES ('NONE', 'No VAT', 0::numeric, 'OUTPUT', 'ACTIVE'),
                           ('OUTPUT2', '20% (VAT on Income)', 20::numeric, 'OUTPUT', 'ACTIVE'),
                           ('RROUTPUT', '5% (VAT on Income)', 5::numeric, 'OUTPUT', 'ACTIVE'),
                           ('ZERORATEDOUTPUT', 'Zero Rated Income', 0::numeric, 'OUTPUT', 'ACTIVE')$$,
                  'tax rates -> source_tax_rates, keyed by TaxType (the tax_code of the lines)');
SELECT results_eq($$SELECT entity, cursor->>'since' FROM billing._sync_state WHERE source_id = billing._source_id('xero') ORDER BY entity$$,
                  $$VALUES ('accounts', NULL), ('contacts', '2024-03-02T09:00:00Z'), ('credit_notes', '2024-03-06T11:00:00Z'),
                           ('invoices', '2024-03-05T13:00:00Z'), ('payments', '2024-03-07T11:00:00Z'), ('tax_rates', NULL)$$,
                  'the cursors are the newest UpdatedDateUTC seen per entity');

-- Second run: incremental by If-Modified-Since --------------------------------------------------------
CALL billing.sync('xero');
SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, records_skipped, requests FROM pg_temp.lastrun('xero')$$,
                  $$VALUES ('succeeded', 1::bigint, 1::bigint, 11::bigint, 0::bigint, 7::bigint)$$,
                  'second sync: only INV-0001 (updated) and its new payment (inserted); accounts and tax rates read whole, unchanged');
SELECT results_eq($$SELECT request, since FROM pg_temp.reads('pull-x1') WHERE n > 9 ORDER BY n$$,
                  $$VALUES ('Accounts?', '-'), ('TaxRates?', '-'),
                           ('Contacts?page=1&pageSize=2&includeArchived=true', '2024-03-02T09:00:00'),
                           ('Invoices?page=1&pageSize=2', '2024-03-05T13:00:00'),
                           ('CreditNotes?page=1&pageSize=2', '2024-03-06T11:00:00'),
                           ('Payments?page=1&pageSize=2', '2024-03-07T11:00:00')$$,
                  'each incremental list sends If-Modified-Since with the newest UpdatedDateUTC of the last run');
SELECT results_eq($$SELECT number, status, paid_date, paid, due FROM billing.invoices WHERE source_id = billing._source_id('xero') AND number = 'INV-0001'$$,
                  $$VALUES ('INV-0001', 'paid', '2024-03-10'::date, 1121::numeric, 0::numeric)$$,
                  'the changed invoice is paid now');
SELECT results_eq($$SELECT p.external_id, i.number, p.amount, p.payment_date FROM billing.payments p JOIN billing.invoices i ON i.id = p.invoice_id
                    WHERE p.source_id = billing._source_id('xero') ORDER BY p.external_id$$,
                  $$VALUES ('f0000000-0000-4000-8000-000000000001', 'INV-0002', 120::numeric, '2024-02-20'::date),
                           ('f0000000-0000-4000-8000-000000000005', 'INV-0001', 1121::numeric, '2024-03-10'::date)$$,
                  'the new payment is linked to INV-0001');
SELECT is((SELECT cursor->>'since' FROM billing._sync_state WHERE source_id = billing._source_id('xero') AND entity = 'invoices'), '2024-04-01T09:00:00Z',
          'the invoices cursor moved to the changed invoice');

-- Revenue, MRR and the journal on Xero data ----------------------------------------------------------
-- Lines are one-time on the document date. Alpha: INV-0001 net 955 + 45 = 1000 in January;
-- CN-0001 -100 in February. Gamma: INV-0002 (tax inclusive 120 = 100 + 20) 100 in February.
-- BILL-77 and CN-B1 are payables, INV-0003 a draft: none counts. The refund of CN-0001 has no
-- invoice (it pays out the credit note, whose line already took the 100 off): no contra revenue.
SELECT results_eq($$SELECT c.name, r.month, r.currency, r.recognized, r.billed, r.refunds
                    FROM billing.monthly_revenue r JOIN billing.customers c ON c.id = r.customer_id
                    WHERE c.source_id = billing._source_id('xero') ORDER BY c.name, r.month$$,
                  $$VALUES ('Alpha Ltd', '2024-01-01'::date, 'GBP', 1000.00::numeric, 1000.00::numeric, 0::numeric),
                           ('Alpha Ltd', '2024-02-01', 'GBP', -100.00, -100.00, 0),
                           ('Gamma GmbH', '2024-02-01', 'GBP', 100.00, 100.00, 0)$$,
                  'monthly_revenue: receivable lines at their document dates; payables and drafts count nowhere');
SELECT results_eq($$SELECT count(*), sum(m.mrr) FROM billing.customer_mrr m JOIN billing.customers c ON c.id = m.customer_id WHERE c.source_id = billing._source_id('xero')$$,
                  $$VALUES (3::bigint, 0::numeric)$$,
                  'customer_mrr: Xero lines carry no service period, so they are one-time and add no MRR');
SELECT results_eq($$SELECT month, account, debit, credit FROM billing.journal_entries WHERE currency = 'GBP' AND month = '2024-03-01' ORDER BY account$$,
                  $$VALUES ('2024-03-01'::date, 'accounts_receivable', 0::numeric, 1121::numeric), ('2024-03-01', 'cash', 1121, 0)$$,
                  'journal, March: the payment of INV-0001 (cash 1121 against receivables)');
SELECT results_eq($$SELECT month, sum(debit), sum(credit) FROM billing.journal_entries WHERE currency = 'GBP' GROUP BY month ORDER BY month$$,
                  $$VALUES ('2024-01-01'::date, 2191::numeric, 2191::numeric), ('2024-02-01', 610, 610), ('2024-03-01', 1121, 1121)$$,
                  'journal: debits equal credits every month (January: receivable 1191 = deferred 1000 + tax 191, then 1000 recognised; February: INV-0002 120, CN-0001 120, recognition +100 and -100, payment 120, refund 50 = 610)');

-- A malformed field: the run fails naming entity, page, record and field; nothing of its page is stored
SELECT pg_temp.xs('xbad', 'pullbad-x2') AS xbad \gset
SELECT billing._start_run(:xbad, 'manual') AS rbad \gset
CALL billing._sync_run(:rbad);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :rbad,
                  $$VALUES ('failed', 'invoices page 1, record a0000000-0000-4000-8000-000000000002: field "Date" is not an MS-JSON date (/Date(milliseconds+HHMM)/), page rejected')$$,
                  'a date that is not MS-JSON fails the run, naming entity, page, record and field');
SELECT results_eq($$SELECT (SELECT count(*) FROM billing.customers WHERE source_id = billing._source_id('xbad')),
                           (SELECT count(*) FROM billing.invoices WHERE source_id = billing._source_id('xbad')),
                           (SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id WHERE i.source_id = billing._source_id('xbad'))$$,
                  $$VALUES (3::bigint, 0::bigint, 0::bigint)$$,
                  'the contacts before it are stored; no invoice and no line of the rejected page');
SELECT pg_temp.xs('xbadline', 'pullbadline-x3') AS xbl \gset
SELECT billing._start_run(:xbl, 'manual') AS rbl \gset
CALL billing._sync_run(:rbl);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :rbl,
                  $$VALUES ('failed', 'invoices page 1, record a0000000-0000-4000-8000-000000000001 line 2: field "LineAmount" is not a decimal number, page rejected')$$,
                  'a malformed line amount names the invoice and its line');
SELECT is((SELECT count(*) FROM billing.invoices WHERE source_id = billing._source_id('xbadline')), 0::bigint, 'nothing of that page is stored');

-- The wrong organisation: Xero answers 403 and the run fails without storing anything
SELECT pg_temp.xs('xten', 'pull-x5', '{"tenant_id": "7e7e0000-0000-4000-8000-00000000ffff"}') AS xten \gset
SELECT billing._start_run(:xten, 'manual') AS rten \gset
CALL billing._sync_run(:rten);
SELECT results_eq($$SELECT status, error ~ '403', (SELECT count(*) FROM billing.source_accounts WHERE source_id = billing._source_id('xten'))
                    FROM billing.sync_runs WHERE id = $$ || :rten,
                  $$VALUES ('failed', true, 0::bigint)$$,
                  'option tenant_id is sent as xero-tenant-id: another organisation''s id is refused (403) and the run fails');

-- Tokens that expire during the run: they live 2 s, every answer takes 0.5 s -------------------------
SELECT pg_temp.xs('xtok', 'pull-x4_tok2_d500');
CALL billing.sync('xtok');
SELECT is((pg_temp.lastrun('xtok')).status, 'succeeded', 'tokens that expire during the run: the run succeeds');
SELECT is((SELECT count(*) FROM pg_temp.log('pull-x4_tok2_d500') WHERE status = 401), 0::bigint,
          'no request went out with an expired token');
SELECT cmp_ok((SELECT count(*) FROM pg_temp.log('pull-x4_tok2_d500') WHERE method = 'POST'), '>=', 3::bigint,
              'the token was renewed before it expired (at least 3 tokens over about 4.5 s)');

SELECT * FROM finish();
