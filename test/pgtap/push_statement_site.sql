-- A legacy statement site end to end: the Advanced Billing connector fills invoice_lines.tax_code
-- from each invoice's "taxes" (line_item_breakouts) and the sync links invoices.statement_id from the
-- statements' transactions; each closed statement is then pushed as an invoice with the right
-- TaxType (not held for "no lines"). Fake Advanced Billing scenario stmtsite (test/fake/maxio_fake.py),
-- fake Xero (test/fake/xero_fake.py). Amounts worked out by hand in maxio_fake.taxed_invoice:
--   79001 = inv_000001: 49.00 + 9.80 VAT 20%, 3 x 5.00 - 1.50 + 2.70 VAT 20%              = 75.00
--   79002 = inv_000002: 1200.00 + 240.00 VAT 20%, 13.50 + 2.70 VAT 20%                     = 1456.20
--   79003 = inv_000003: 58.80 + 16.20 (VAT 20%), setup fee 25.00 + 1.25 VAT 5%            = 101.25
-- each paid in full by card.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(14);

\ir lib/xero_state.sql

SELECT md5(random()::text) AS nonce \gset
SELECT billing.add_source('books', 'xero', current_setting('pgb_test.xero_url') || '/s/ok-' || :'nonce' || '/api.xro/2.0',
                          '{"client_id": "c", "client_secret": "s"}');
UPDATE billing.sources SET options = jsonb_build_object(
    'token_url', current_setting('pgb_test.xero_url') || '/s/ok-' || :'nonce' || '/connect/token',
    'tenant_id', pg_temp.xero_state('ok-' || :'nonce') ->> 'tenant_id') WHERE name = 'books';
SELECT billing.add_source('legacy', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/stmtsite-' || :'nonce',
    jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"max_requests_per_second": 200, "components": false, "statements": true, "push_to": "books"}');
-- VAT 20% is mapped; VAT 5% is not: its tax rate is created in Xero first
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code)
VALUES (NULL, 'account', 'sales', '200'), (NULL, 'account', 'rounding', '860'), (NULL, 'bank_account', '*', '090'),
       (NULL, 'tax_rate', 'VAT 20%', 'OUTPUT2');

CALL billing.sync('legacy');
SELECT is((SELECT status FROM billing.sync_runs ORDER BY id DESC LIMIT 1), 'succeeded', 'the statement site syncs');

SELECT results_eq($$SELECT l.external_id, l.tax, l.tax_code FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
                     WHERE i.external_id IN ('inv_000001', 'inv_000003') ORDER BY 1$$,
    $$VALUES ('li_000001_1', 9.80, 'VAT 20%'), ('li_000001_2', 2.70, 'VAT 20%'),
             ('li_000003_1', 9.80, 'VAT 20%'), ('li_000003_2', 2.70, 'VAT 20%'), ('li_000003_3', 1.25, 'VAT 5%')$$,
    'tax_code is "<title> <percentage>%" of the taxes whose line_item_breakouts name the line ("20.0" -> 20)');
SELECT results_eq($$SELECT i.external_id, s.external_id FROM billing.invoices i LEFT JOIN billing.statements s ON s.id = i.statement_id
                     WHERE i.source_id = billing._source_id('legacy') ORDER BY 1$$,
    $$VALUES ('inv_000001', '79001'), ('inv_000002', '79002'), ('inv_000003', '79003')$$,
    'each invoice is linked to the statement whose transactions list its lines'' transaction ids');
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE state = 'held'), 0, 'nothing is held (no "no lines for", no missing tax code)');
SELECT results_eq($$SELECT doc_kind, natural_key, state FROM billing.outbox ORDER BY 1, 2$$,
    $$VALUES ('contact', 'chargify_1001', 'pending'), ('contact', 'chargify_1002', 'pending'), ('contact', 'chargify_1003', 'pending'),
             ('invoice', '79001', 'pending'), ('invoice', '79002', 'pending'), ('invoice', '79003', 'pending'),
             ('payment', '90001', 'pending'), ('payment', '90002', 'pending'), ('payment', '90003', 'pending'),
             ('tax_rate', 'VAT 5%', 'pending')$$,
    'the sync wrote the documents: 3 contacts, 3 invoices, 3 payments and the VAT 5% tax rate to create');

CALL billing.push('books');
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE state = 'confirmed'), 10, 'every document is confirmed');
SELECT pg_temp.xero_state('ok-' || :'nonce') AS st \gset
SELECT is((SELECT jsonb_agg(jsonb_build_array(i ->> 'Reference', (i ->> 'Total')::numeric, (i ->> 'TotalTax')::numeric,
                                              (i ->> 'AmountDue')::numeric, i ->> 'Status') ORDER BY i ->> 'Reference')
             FROM jsonb_array_elements(:'st'::jsonb -> 'invoices') i),
          '[["79001", 75.00, 12.50, 0, "PAID"], ["79002", 1456.20, 242.70, 0, "PAID"], ["79003", 101.25, 13.75, 0, "PAID"]]'::jsonb,
          'Xero''s invoices: the statements'' totals and VAT, each paid in full');
SELECT is((SELECT t ->> 'TaxType' FROM jsonb_array_elements(:'st'::jsonb -> 'tax_rates') t WHERE t ->> 'Name' = 'VAT 5%'),
          (SELECT remote_code FROM billing.accounting_maps WHERE map_kind = 'tax_rate' AND local_key = 'VAT 5%'),
          'the VAT 5% rate created in Xero is remembered as the tax_rate map of "VAT 5%"');
SELECT is((SELECT (t -> 'TaxComponents' -> 0 ->> 'Rate')::numeric FROM jsonb_array_elements(:'st'::jsonb -> 'tax_rates') t WHERE t ->> 'Name' = 'VAT 5%'),
          5::numeric, 'its rate is the percentage in the code (5)');
SELECT is((SELECT jsonb_agg(jsonb_build_array(l ->> 'Description', (l ->> 'LineAmount')::numeric, (l ->> 'TaxAmount')::numeric, l ->> 'TaxType'))
             FROM jsonb_array_elements(:'st'::jsonb -> 'invoices') i, jsonb_array_elements(i -> 'LineItems') l
            WHERE i ->> 'Reference' = '79003'),
          jsonb_build_array(jsonb_build_array('Plan charge', 49.00, 9.80, 'OUTPUT2'), jsonb_build_array('3 seats', 13.50, 2.70, 'OUTPUT2'),
                            jsonb_build_array('One-time setup', 25.00, 1.25,
                                              (SELECT remote_code FROM billing.accounting_maps WHERE local_key = 'VAT 5%'))),
          '79003''s lines: TaxType OUTPUT2 from the map, the setup fee the created VAT 5% rate');
SELECT is((SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'payments')), 3, 'three payments');
SELECT is((SELECT sum((i ->> 'Total')::numeric) FROM jsonb_array_elements(:'st'::jsonb -> 'invoices') i),
          (SELECT sum(total) FROM billing.statements WHERE source_id = billing._source_id('legacy')),
          'Xero totals = source statement totals (75.00 + 1456.20 + 101.25 = 1632.45)');

-- a second sync changes nothing and sends nothing
CALL billing.sync('legacy');
CALL billing.push('books');
SELECT is((SELECT requests FROM billing.push_runs ORDER BY id DESC LIMIT 1), 0, 'a second sync and push send nothing');
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE state <> 'confirmed'), 0, 'and leave every document confirmed');

SELECT * FROM finish();
