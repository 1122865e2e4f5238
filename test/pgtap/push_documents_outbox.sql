-- Push to Xero: missing maps hold documents with an alert (never a guess), unmapped tax rates are
-- created first, the outbox row commits with the change or not at all, idempotency keys are stable,
-- changes after a push follow what Xero allows, namesakes get unique contact names; invoice sites.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(38);

SELECT billing.add_source('books', 'xero', 'https://api.xero.com/api.xro/2.0', '{"client_id": "c", "client_secret": "s"}');
SELECT billing.add_source('site', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "k"}',
                          '{"statements": true, "push_to": "books"}');
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES (NULL, 'tax_rate', 'VAT 20%', 'OUTPUT2');
INSERT INTO billing.customers (source_id, external_id, name, organization, email, currency)
SELECT s.id, c.ext, c.name, c.org, c.email, 'GBP' FROM billing.sources s,
       (VALUES ('1', 'Ann Lee', 'Lee Ltd', 'ann@lee.test'), ('11', 'Al', 'Acme', NULL), ('12', 'Bea', 'ACME ', NULL),
               ('13', 'Cal', 'Zeta', NULL)) c(ext, name, org, email)
 WHERE s.name = 'site';

CREATE FUNCTION pg_temp.statement(cust text, ext text, closed date, total numeric, lines jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_src bigint := billing._source_id('site');
    v_cust bigint := (SELECT id FROM billing.customers WHERE source_id = v_src AND external_id = cust);
    v_st bigint;
    v_inv bigint;
BEGIN
    INSERT INTO billing.statements (source_id, external_id, customer_id, opened_at, closed_at, total, currency)
    VALUES (v_src, ext, v_cust, closed - 30, closed, total, 'GBP') RETURNING id INTO v_st;
    INSERT INTO billing.invoices (source_id, external_id, customer_id, statement_id, issue_date, currency, total)
    VALUES (v_src, 'inv_' || ext, v_cust, v_st, closed, 'GBP', total) RETURNING id INTO v_inv;
    INSERT INTO billing.invoice_lines (invoice_id, external_id, line_no, kind, description, quantity, unit_price,
                                       subtotal, tax, total, tax_code, period_start, period_end)
    SELECT v_inv, 'li_' || ext || '_' || n, n, 'plan', l ->> 'description', 1, (l ->> 'subtotal')::numeric,
           (l ->> 'subtotal')::numeric, (l ->> 'tax')::numeric, (l ->> 'subtotal')::numeric + (l ->> 'tax')::numeric,
           l ->> 'tax_code', closed - 30, closed
      FROM jsonb_array_elements(lines) WITH ORDINALITY x(l, n);
END $$;

-- 1. No sales account, no bank account: 79001 (100.00 + 20.00 VAT) and its card payment are held.
SELECT pg_temp.statement('1', '79001', '2024-02-01', 120.00, '[{"description": "Plan", "subtotal": 100.00, "tax": 20.00, "tax_code": "VAT 20%"}]');
INSERT INTO billing.payments (source_id, external_id, customer_id, invoice_id, amount, currency, payment_date, method)
SELECT source_id, 'pay_1', customer_id, id, 120.00, 'GBP', '2024-02-01', 'credit_card' FROM billing.invoices WHERE external_id = 'inv_79001';
SELECT results_eq($$SELECT doc_kind, natural_key, state, held_for FROM billing.outbox ORDER BY id$$,
                  $$VALUES ('contact', 'chargify_1', 'pending', '{}'::text[]),
                           ('invoice', '79001', 'held', ARRAY['account sales']),
                           ('payment', 'pay_1', 'held', ARRAY['account sales', 'bank_account credit_card'])$$,
                  'unmapped: the invoice waits for account sales, the payment also for a bank account');
SELECT is((SELECT payload -> 'LineItems' -> 0 -> 'AccountCode' FROM billing.outbox WHERE natural_key = '79001'), NULL,
          'no account code is guessed');
SELECT results_eq($$SELECT kind, severity, subject, message, detail FROM billing.alerts WHERE resolved_at IS NULL ORDER BY subject$$,
                  $$VALUES ('push_held', 'error', 'account sales', 'push to Xero held: account sales (2 documents, e.g. invoice 79001)',
                            'Map it: INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES (2, ''account'', ''sales'', ''<Xero account code>'');'),
                           ('push_held', 'error', 'bank_account credit_card', 'push to Xero held: bank_account credit_card (1 document, e.g. payment pay_1)',
                            'Map it: INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES (2, ''bank_account'', ''credit_card'', ''<Xero bank account code>''); local_key ''*'' maps every payment method.')$$,
                  'one alert per missing map, naming it and the SQL that maps it');
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES (NULL, 'account', 'sales', '200');
SELECT results_eq($$SELECT natural_key, state, held_for FROM billing.outbox WHERE doc_kind <> 'contact' ORDER BY id$$,
                  $$VALUES ('79001', 'pending', '{}'::text[]), ('pay_1', 'held', ARRAY['bank_account credit_card'])$$,
                  'mapping the account releases the invoice; the payment still waits for its bank account');
SELECT results_eq($$SELECT subject, resolved_at IS NOT NULL FROM billing.alerts ORDER BY subject$$,
                  $$VALUES ('account sales', true), ('bank_account credit_card', false)$$, 'the account alert is resolved');
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code)
VALUES (billing._source_id('site'), 'bank_account', 'credit_card', '090');
SELECT results_eq($$SELECT natural_key, state, payload -> 'Account' ->> 'Code' FROM billing.outbox WHERE doc_kind = 'payment'$$,
                  $$VALUES ('pay_1', 'pending', '090')$$, 'the payment is released to bank account 090');
SELECT is((SELECT count(*)::int FROM billing.alerts WHERE resolved_at IS NULL), 0, 'no alert left open');
SELECT is((SELECT payload -> 'LineItems' -> 0 ->> 'AccountCode' FROM billing.outbox WHERE natural_key = '79001'), '200',
          'the released invoice has the mapped account');

-- 2. Unmapped tax rates are created in Xero first: "GST 15%" names its rate; "ZZ" does not, and its
-- lines give it: 1.25 tax on 10.00 = 12.5000%.
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES (NULL, 'account', 'rounding', '860');
SELECT pg_temp.statement('13', '79002', '2024-02-02', 126.25, '[{"description": "Plan", "subtotal": 100.00, "tax": 15.00, "tax_code": "GST 15%"},
                                                                {"description": "Extra", "subtotal": 10.00, "tax": 1.25, "tax_code": "ZZ"}]');
SELECT results_eq($$SELECT natural_key, state, payload FROM billing.outbox WHERE doc_kind = 'tax_rate' ORDER BY natural_key$$,
                  $$VALUES ('GST 15%', 'pending', '{"Name": "GST 15%", "ReportTaxType": "OUTPUT", "TaxComponents": [{"Name": "GST 15%", "Rate": 15, "IsCompound": false}]}'::jsonb),
                           ('ZZ', 'pending', '{"Name": "ZZ", "ReportTaxType": "OUTPUT", "TaxComponents": [{"Name": "ZZ", "Rate": 12.5000, "IsCompound": false}]}'::jsonb)$$,
                  'a TaxRate to create per unmapped code, with its rate');
SELECT is((SELECT jsonb_path_query_array(payload, '$.LineItems[*].TaxType') FROM billing.outbox WHERE natural_key = '79002'),
          '[{"pgb_ref": "tax_rate:GST 15%"}, {"pgb_ref": "tax_rate:ZZ"}]'::jsonb,
          'the lines name the tax rates to create by reference');
SELECT is((SELECT (state, depends_on) FROM billing.outbox WHERE natural_key = '79002'),
          ('pending'::text, ARRAY(SELECT id FROM billing.outbox WHERE natural_key IN ('chargify_13', 'GST 15%', 'ZZ') ORDER BY id)),
          'the invoice is not held: it depends on its contact and on both tax rates');
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES (NULL, 'tax_rate', 'GST 15%', 'OUTPUT3');
SELECT results_eq($$SELECT natural_key FROM billing.outbox WHERE doc_kind = 'tax_rate'$$, $$VALUES ('ZZ')$$,
                  'a tax rate mapped before it was sent is not created');
SELECT is((SELECT jsonb_path_query_array(payload, '$.LineItems[*].TaxType') FROM billing.outbox WHERE natural_key = '79002'),
          '["OUTPUT3", {"pgb_ref": "tax_rate:ZZ"}]'::jsonb, 'the invoice now uses the mapped TaxType');

-- 3. The outbox row is written by the transaction that makes the document pushable, at its commit.
BEGIN;
SELECT pg_temp.statement('1', '79003', '2024-02-03', 12.00, '[{"description": "Plan", "subtotal": 10.00, "tax": 2.00, "tax_code": "VAT 20%"}]');
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE natural_key = '79003'), 0, 'not before the transaction ends');
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE natural_key = '79003'), 1, 'written in the transaction, at its end');
ROLLBACK;
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE natural_key = '79003'), 0, 'a rollback leaves no outbox row');
SELECT is((SELECT count(*)::int FROM billing._push_dirty), 0, 'and nothing queued');
SELECT pg_temp.statement('1', '79003', '2024-02-03', 12.00, '[{"description": "Plan", "subtotal": 10.00, "tax": 2.00, "tax_code": "VAT 20%"}]');
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE natural_key = '79003'), 1, 'a commit keeps it');

-- 4. Idempotency keys: the same document keeps its key whatever re-enqueues it; a new payload (before
-- it is sent) gets the next revision and so a new key.
CREATE TEMP TABLE keys AS SELECT natural_key, idempotency_key, revision FROM billing.outbox;
SELECT is((SELECT idempotency_key FROM billing.outbox WHERE doc_kind = 'invoice' AND natural_key = '79003'),
          'pgb-' || billing._source_id('books') || '-invoice-' || md5('79003') || '-r0', 'key: target, kind, natural key hash, revision');
SELECT is(billing.push_enqueue('site'), 3, 'push_enqueue rebuilds the three statements');
UPDATE billing.statements SET synced_at = now();
SELECT is((SELECT count(*)::int FROM billing.outbox o JOIN keys k USING (natural_key)
            WHERE (o.idempotency_key, o.revision) = (k.idempotency_key, k.revision)),
          (SELECT count(*)::int FROM keys), 'every key is unchanged after re-enqueueing');
UPDATE billing.invoice_lines SET description = 'Plan (annual)' WHERE external_id = 'li_79003_1';
SELECT is((SELECT (revision, idempotency_key, payload -> 'LineItems' -> 0 ->> 'Description') FROM billing.outbox WHERE natural_key = '79003'),
          (1, 'pgb-' || billing._source_id('books') || '-invoice-' || md5('79003') || '-r1', 'Plan (annual)'::text),
          'a change before the push: new payload, revision 1, new key');

-- 5. After the push (the driver confirms): a contact's name and e-mail follow; a sent invoice does not.
UPDATE billing.outbox SET state = 'confirmed', remote_id = 'id-' || id WHERE natural_key IN ('chargify_1', '79003');
UPDATE billing.customers SET email = 'accounts@lee.test' WHERE external_id = '1';
SELECT is((SELECT (state, revision, payload ->> 'EmailAddress', remote_id IS NOT NULL) FROM billing.outbox WHERE natural_key = 'chargify_1'),
          ('pending'::text, 1, 'accounts@lee.test'::text, true), 'a pushed contact is updated: pending again, revision 1, remote id kept');
UPDATE billing.invoice_lines SET description = 'Plan (monthly)' WHERE external_id = 'li_79003_1';
SELECT is((SELECT (state, revision, payload -> 'LineItems' -> 0 ->> 'Description') FROM billing.outbox WHERE natural_key = '79003'),
          ('confirmed'::text, 1, 'Plan (annual)'::text), 'a pushed invoice is never edited');
SELECT results_eq($$SELECT kind, severity, message FROM billing.alerts WHERE resolved_at IS NULL$$,
                  $$VALUES ('push_changed', 'warning', 'push to Xero: invoice 79003 changed after it was pushed')$$,
                  'an alert says the source changed after the push');
UPDATE billing.outbox SET state = 'in_flight' WHERE natural_key = '79002' AND doc_kind = 'invoice';
UPDATE billing.invoice_lines SET description = 'Plan (new)' WHERE external_id = 'li_79002_1';
SELECT is((SELECT (state, rebuild, payload -> 'LineItems' -> 0 ->> 'Description') FROM billing.outbox WHERE natural_key = '79002'),
          ('in_flight'::text, true, 'Plan'::text), 'in flight: left alone, marked for a rebuild once its outcome is known');
UPDATE billing.statements SET closed_at = NULL WHERE external_id = '79001';
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE natural_key IN ('79001', 'pay_1')), 0,
          'a statement that is no longer pushable takes its unsent documents with it');

-- 6. Namesakes: Acme and "ACME " are one name to Xero, so both get their contact number added;
-- when one is renamed, the other gets its plain name back.
SELECT pg_temp.statement('11', '79011', '2024-02-11', 1.00, '[{"description": "Plan", "subtotal": 1.00, "tax": 0, "tax_code": null}]');
SELECT pg_temp.statement('12', '79012', '2024-02-12', 1.00, '[{"description": "Plan", "subtotal": 1.00, "tax": 0, "tax_code": null}]');
SELECT results_eq($$SELECT natural_key, payload ->> 'Name' FROM billing.outbox WHERE natural_key IN ('chargify_11', 'chargify_12', 'chargify_13') ORDER BY 1$$,
                  $$VALUES ('chargify_11', 'Acme (chargify_11)'), ('chargify_12', 'ACME (chargify_12)'), ('chargify_13', 'Zeta')$$,
                  'namesakes get unique names; others keep theirs');
UPDATE billing.customers SET organization = 'Acme Two' WHERE external_id = '12';
SELECT results_eq($$SELECT natural_key, payload ->> 'Name' FROM billing.outbox WHERE natural_key IN ('chargify_11', 'chargify_12') ORDER BY 1$$,
                  $$VALUES ('chargify_11', 'Acme'), ('chargify_12', 'Acme Two')$$, 'a rename frees the other''s name');

-- 7. Invoice sites: invoices, their payments, source credit notes and their allocations; a draft
-- invoice is pushed as a DRAFT and follows its source until it is approved.
SELECT billing.add_source('ri', 'advanced_billing', 'https://ri.chargify.com', '{"api_key": "k"}', '{"push_to": "books"}');
INSERT INTO billing.customers (source_id, external_id, name, currency) VALUES (billing._source_id('ri'), '5', 'Eve', 'GBP');
INSERT INTO billing.invoices (source_id, external_id, number, customer_id, status, issue_date, due_date, currency, total)
SELECT billing._source_id('ri'), 'inv_a', '1001', id, 'draft', '2024-03-01', '2024-03-31', 'GBP', 50.00 FROM billing.customers WHERE external_id = '5';
INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, description, quantity, unit_price, subtotal, tax, total, period_start, period_end)
SELECT id, 'l1', 'plan', 'Plan', 2, 25, 50.00, 0, 50.00, '2024-03-01', '2024-04-01' FROM billing.invoices WHERE external_id = 'inv_a';
SELECT is((SELECT payload - 'LineItems' FROM billing.outbox WHERE natural_key = '1001'),
          '{"Type": "ACCREC", "Contact": {"ContactNumber": "chargify_5"}, "Date": "2024-03-01", "DueDate": "2024-03-31",
            "Reference": "1001", "CurrencyCode": "GBP", "LineAmountTypes": "Exclusive", "Status": "DRAFT"}'::jsonb,
          'invoice site: Reference = invoice number; a draft is a DRAFT');
UPDATE billing.outbox SET state = 'confirmed', remote_id = 'x-1001' WHERE natural_key = '1001';
UPDATE billing.invoices SET status = 'open' WHERE external_id = 'inv_a';
SELECT is((SELECT (state, revision, payload ->> 'Status') FROM billing.outbox WHERE natural_key = '1001'),
          ('pending'::text, 2, 'AUTHORISED'::text), 'a pushed draft follows its source: approved, pending again (revision 2: the lines came after the invoice)');
INSERT INTO billing.credit_notes (source_id, external_id, number, customer_id, status, issue_date, currency, subtotal, total)
SELECT billing._source_id('ri'), 'cn_a', 'CN-7', id, 'applied', '2024-03-05', 'GBP', 10.00, 10.00 FROM billing.customers WHERE external_id = '5';
INSERT INTO billing.credit_note_lines (credit_note_id, external_id, description, subtotal, total)
SELECT id, 'cl1', 'Goodwill', 10.00, 10.00 FROM billing.credit_notes WHERE external_id = 'cn_a';
INSERT INTO billing.credit_note_allocations (source_id, external_id, credit_note_id, invoice_id, customer_id, amount, currency, allocated_on)
SELECT c.source_id, 'ap1', c.id, i.id, c.customer_id, 10.00, 'GBP', '2024-03-05'
  FROM billing.credit_notes c, billing.invoices i WHERE c.external_id = 'cn_a' AND i.external_id = 'inv_a';
SELECT results_eq($$SELECT doc_kind, natural_key, amount, payload FROM billing.outbox WHERE local_table IN ('credit_notes', 'credit_note_allocations') ORDER BY id$$,
                  $$VALUES ('credit_note', 'CN-7', 10.00,
                            '{"Type": "ACCRECCREDIT", "Contact": {"ContactNumber": "chargify_5"}, "Date": "2024-03-05", "Reference": "CN-7", "CurrencyCode": "GBP",
                              "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
                              "LineItems": [{"Description": "Goodwill", "Quantity": 1, "UnitAmount": 10.00, "AccountCode": "200", "TaxType": "NONE", "TaxAmount": 0}]}'::jsonb),
                           ('allocation', 'CN-7>1001', 10.00,
                            '{"CreditNote": {"CreditNoteID": {"pgb_ref": "credit_note:CN-7"}}, "Invoice": {"InvoiceID": {"pgb_ref": "invoice:1001"}},
                              "Amount": 10.00, "Date": "2024-03-05"}'::jsonb)$$,
                  'a source credit note and its allocation to the invoice');
INSERT INTO billing.refunds (source_id, external_id, customer_id, credit_note_id, amount, currency, refund_date)
SELECT source_id, 'rf_9', customer_id, id, 4.00, 'GBP', '2024-03-06' FROM billing.credit_notes WHERE external_id = 'cn_a';
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES (NULL, 'bank_account', '*', '091');
SELECT results_eq($$SELECT doc_kind, natural_key, state, payload -> 'CreditNote' FROM billing.outbox WHERE local_table = 'refunds'$$,
                  $$VALUES ('refund', 'Refund rf_9', 'pending', '{"CreditNoteID": {"pgb_ref": "credit_note:CN-7"}}'::jsonb)$$,
                  'a refund paid out of a source credit note refunds that credit note, once the bank account is mapped');
UPDATE billing.invoices SET status = 'voided' WHERE external_id = 'inv_a';
SELECT results_eq($$SELECT kind, message FROM billing.alerts WHERE resolved_at IS NULL AND subject = 'invoice 1001'$$,
                  $$VALUES ('push_changed', 'push to Xero: invoice 1001 was sent but its source no longer makes it')$$,
                  'voiding a sent invoice raises an alert; Xero keeps it');
SELECT is((SELECT state FROM billing.outbox WHERE natural_key = '1001'), 'pending', 'and the document is kept');

-- 8. A plain member of billing_admin (as the worker and manual loads run) builds documents too.
CREATE ROLE pgb_push_loader IN ROLE billing_admin;
SET ROLE pgb_push_loader;
SELECT pg_temp.statement('13', '79020', '2024-02-20', 12.00, '[{"description": "Plan", "subtotal": 10.00, "tax": 2.00, "tax_code": "VAT 20%"}]');
RESET ROLE;
SELECT is((SELECT (state, amount) FROM billing.outbox WHERE natural_key = '79020'), ('pending'::text, 12.00),
          'an admin member''s change writes the outbox, without SECURITY DEFINER');
DROP ROLE pgb_push_loader;

-- 9. No push_to, nothing queued, whatever changes.
SELECT billing.add_source('quiet', 'advanced_billing', 'https://q.chargify.com', '{"api_key": "k"}', '{"statements": true}');
INSERT INTO billing.customers (source_id, external_id, name, currency) VALUES (billing._source_id('quiet'), '1', 'Q', 'GBP');
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE origin_source_id = billing._source_id('quiet')), 0, 'a source without push_to pushes nothing');
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE state NOT IN ('pending', 'held', 'confirmed', 'in_flight')), 0, 'no other state used');
SELECT * FROM finish();
