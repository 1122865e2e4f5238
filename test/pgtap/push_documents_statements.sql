-- Push to Xero, statement sites (domain.md section 5): each closed statement's documents are built
-- into billing.outbox as Xero JSON when the change commits. Amounts are worked out by hand below.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(29);

SELECT billing.add_source('books', 'xero', 'https://api.xero.com/api.xro/2.0', '{"client_id": "c", "client_secret": "s"}');
SELECT billing.add_source('site', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "k"}',
                          '{"statements": true, "push_to": "books"}');
SELECT billing.add_source('compat', 'advanced_billing', 'https://old.chargify.com', '{"api_key": "k"}',
                          '{"statements": true, "push_to": "books", "push_carried_credit": "offset"}');
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES
    (NULL, 'account', 'sales', '200'), (NULL, 'account', 'rounding', '860'), (NULL, 'account', 'clearing', '899'),
    (NULL, 'bank_account', '*', '090'), (NULL, 'bank_account', 'ach', '091'), (NULL, 'tax_rate', 'VAT 20%', 'OUTPUT2');
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code)
SELECT id, 'contact_prefix', 'prefix', 'old_' FROM billing.sources WHERE name = 'compat';

INSERT INTO billing.customers (source_id, external_id, name, organization, email, currency)
SELECT s.id, c.ext, c.name, c.org, c.email, 'GBP' FROM billing.sources s,
       (VALUES ('1', 'Ann Lee', 'Lee Ltd', 'ann@lee.test'), ('2', 'Bo Chan', NULL, 'bo@chan.test'),
               ('3', 'Cy Dee', 'Dee plc', NULL)) c(ext, name, org, email)
 WHERE s.name = 'site';
INSERT INTO billing.customers (source_id, external_id, name, currency)
SELECT id, '9', 'Old Co', 'GBP' FROM billing.sources WHERE name = 'compat';

-- A statement, its invoice and its lines, in one transaction (as a sync page would write them).
CREATE FUNCTION pg_temp.statement(src text, cust text, ext text, closed date, total numeric, start_balance numeric,
                                  lines jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_src bigint := billing._source_id(src);
    v_cust bigint := (SELECT id FROM billing.customers WHERE source_id = v_src AND external_id = cust);
    v_st bigint;
    v_inv bigint;
BEGIN
    INSERT INTO billing.statements (source_id, external_id, customer_id, opened_at, closed_at, starting_balance, total, currency)
    VALUES (v_src, ext, v_cust, closed - 30, closed, start_balance, total, 'GBP') RETURNING id INTO v_st;
    INSERT INTO billing.invoices (source_id, external_id, customer_id, statement_id, issue_date, currency, total)
    VALUES (v_src, 'inv_' || ext, v_cust, v_st, closed, 'GBP', total) RETURNING id INTO v_inv;
    INSERT INTO billing.invoice_lines (invoice_id, external_id, line_no, kind, description, quantity, unit_price,
                                       subtotal, discount, tax, total, tax_code, period_start, period_end)
    SELECT v_inv, 'li_' || ext || '_' || n, n, l ->> 'kind', l ->> 'description', (l ->> 'qty')::numeric, (l ->> 'unit')::numeric,
           (l ->> 'subtotal')::numeric, coalesce((l ->> 'discount')::numeric, 0), (l ->> 'tax')::numeric,
           (l ->> 'subtotal')::numeric - coalesce((l ->> 'discount')::numeric, 0) + (l ->> 'tax')::numeric,
           l ->> 'tax_code', closed - 30, closed
      FROM jsonb_array_elements(lines) WITH ORDINALITY x(l, n);
END $$;

-- 79001, rounding: line 1 is 3 x 3.335 = 10.005, which the source billed as 10.00 but Xero rounds to
-- 10.01; line 2 is 5.00 less a 0.50 coupon. Tax 20%: 2.00 and 0.90. Source total 10.00 + 2.00 +
-- 4.50 + 0.90 = 17.40; Xero would compute 10.01 + 2.00 + 4.50 + 0.90 = 17.41, so a rounding line
-- of -0.01 to account 860 makes Xero's total 17.40.
SELECT pg_temp.statement('site', '1', '79001', '2024-02-01', 17.40, 0, '[
  {"kind": "plan", "description": "Pro plan", "qty": 3, "unit": 3.335, "subtotal": 10.00, "tax": 2.00, "tax_code": "VAT 20%"},
  {"kind": "component", "description": "Seats", "qty": 1, "unit": 5.00, "subtotal": 5.00, "discount": 0.50, "tax": 0.90, "tax_code": "VAT 20%"}]');

SELECT results_eq($$SELECT doc_kind, natural_key, state, amount FROM billing.outbox ORDER BY id$$,
                  $$VALUES ('contact', 'chargify_1', 'pending', NULL::numeric), ('invoice', '79001', 'pending', 17.40)$$,
                  '79001: a contact and an invoice, pending, Xero total 17.40');
SELECT is((SELECT payload FROM billing.outbox WHERE doc_kind = 'contact' AND natural_key = 'chargify_1'),
          '{"ContactNumber": "chargify_1", "Name": "Lee Ltd", "EmailAddress": "ann@lee.test"}'::jsonb,
          'contact: ContactNumber = chargify_ + customer id, the organisation as Name, the e-mail');
SELECT is((SELECT payload - 'LineItems' FROM billing.outbox WHERE natural_key = '79001'),
          '{"Type": "ACCREC", "Contact": {"ContactNumber": "chargify_1"}, "Date": "2024-02-01", "DueDate": "2024-02-01",
            "Reference": "79001", "CurrencyCode": "GBP", "LineAmountTypes": "Exclusive", "Status": "AUTHORISED"}'::jsonb,
          'invoice 79001: ACCREC, Reference = statement id, dates from closed_at');
SELECT is((SELECT payload -> 'LineItems' FROM billing.outbox WHERE natural_key = '79001'),
          '[{"Description": "Pro plan", "Quantity": 3, "UnitAmount": 3.335, "AccountCode": "200", "TaxType": "OUTPUT2", "TaxAmount": 2.00},
            {"Description": "Seats", "Quantity": 1, "UnitAmount": 5.00, "DiscountAmount": 0.50, "AccountCode": "200", "TaxType": "OUTPUT2", "TaxAmount": 0.90},
            {"Description": "Rounding", "Quantity": 1, "UnitAmount": -0.01, "AccountCode": "860", "TaxType": "NONE", "TaxAmount": 0}]'::jsonb,
          'lines: quantity and unit price, the coupon as DiscountAmount, mapped TaxType, and a -0.01 rounding line');
SELECT is((SELECT depends_on FROM billing.outbox WHERE natural_key = '79001'),
          ARRAY[(SELECT id FROM billing.outbox WHERE natural_key = 'chargify_1')], 'the invoice depends on its contact');

-- 79002, negative total (a downgrade): new plan 10.00 + 2.00 tax, credit -40.00 - 8.00 tax; total -36.00.
-- A credit note of net amounts, signs turned: -10.00 (tax -2.00) and 40.00 (tax 8.00) = 36.00.
SELECT pg_temp.statement('site', '2', '79002', '2024-02-05', -36.00, 0, '[
  {"kind": "plan", "description": "Basic plan", "qty": 1, "unit": 10, "subtotal": 10.00, "tax": 2.00, "tax_code": "VAT 20%"},
  {"kind": "credit", "description": "Pro plan unused", "qty": 1, "unit": -40, "subtotal": -40.00, "tax": -8.00, "tax_code": "VAT 20%"}]');
SELECT results_eq($$SELECT doc_kind, natural_key, amount FROM billing.outbox WHERE local_table = 'statements'
                     AND local_id = (SELECT id FROM billing.statements WHERE external_id = '79002')$$,
                  $$VALUES ('credit_note', '79002', 36.00)$$, '79002: one credit note of 36.00, no invoice');
SELECT is((SELECT payload FROM billing.outbox WHERE doc_kind = 'credit_note' AND natural_key = '79002'),
          '{"Type": "ACCRECCREDIT", "Contact": {"ContactNumber": "chargify_2"}, "Date": "2024-02-05", "Reference": "79002",
            "CurrencyCode": "GBP", "LineAmountTypes": "Exclusive", "Status": "AUTHORISED", "LineItems": [
            {"Description": "Basic plan", "Quantity": 1, "UnitAmount": -10.00, "AccountCode": "200", "TaxType": "OUTPUT2", "TaxAmount": -2.00},
            {"Description": "Pro plan unused", "Quantity": 1, "UnitAmount": 40.00, "AccountCode": "200", "TaxType": "OUTPUT2", "TaxAmount": 8.00}]}'::jsonb,
          'the credit note: ACCRECCREDIT, net amounts with the sign turned, no discounts');
SELECT is((SELECT payload ->> 'Name' FROM billing.outbox WHERE natural_key = 'chargify_2'), 'Bo Chan',
          'a customer without organisation is named by its name');

-- 79003, negative lines in a positive statement: 50.00 + 10.00 tax, and a credit of -20.00 - 4.00 tax;
-- total 36.00. Invoice 60.00 of the positive line; credit note 79003-CR of 24.00, allocated to it:
-- 60.00 - 24.00 = 36.00 owed.
SELECT pg_temp.statement('site', '3', '79003', '2024-02-10', 36.00, 0, '[
  {"kind": "plan", "description": "Team plan", "qty": 1, "unit": 50, "subtotal": 50.00, "tax": 10.00, "tax_code": "VAT 20%"},
  {"kind": "credit", "description": "Goodwill", "qty": 1, "unit": -20, "subtotal": -20.00, "tax": -4.00, "tax_code": "VAT 20%"}]');
SELECT results_eq($$SELECT doc_kind, natural_key, amount FROM billing.outbox WHERE local_table = 'statements'
                     AND local_id = (SELECT id FROM billing.statements WHERE external_id = '79003') ORDER BY id$$,
                  $$VALUES ('invoice', '79003', 60.00), ('credit_note', '79003-CR', 24.00), ('allocation', '79003-CR>79003', 24.00)$$,
                  '79003: invoice 60.00, credit note 24.00 and its allocation of 24.00');
SELECT is((SELECT payload -> 'LineItems' FROM billing.outbox WHERE natural_key = '79003-CR'),
          '[{"Description": "Goodwill", "Quantity": 1, "UnitAmount": 20.00, "AccountCode": "200", "TaxType": "OUTPUT2", "TaxAmount": 4.00}]'::jsonb,
          'the credit note holds the negative line, positive');
SELECT is((SELECT payload FROM billing.outbox WHERE natural_key = '79003-CR>79003'),
          '{"CreditNote": {"CreditNoteID": {"pgb_ref": "credit_note:79003-CR"}}, "Invoice": {"InvoiceID": {"pgb_ref": "invoice:79003"}},
            "Amount": 24.00, "Date": "2024-02-10"}'::jsonb,
          'the allocation names both documents by reference');
SELECT is((SELECT depends_on FROM billing.outbox WHERE natural_key = '79003-CR>79003'),
          ARRAY(SELECT id FROM billing.outbox WHERE natural_key IN ('79003', '79003-CR') ORDER BY id),
          'the allocation depends on the invoice and the credit note');
SELECT is((SELECT payload -> 'LineItems' -> 0 ->> 'UnitAmount' FROM billing.outbox WHERE natural_key = '79003'), '50',
          'the invoice holds only the positive line');

-- 79004, carried credit (allocate, the default): customer 2 starts with -36.00 from 79002 and is billed
-- 50.00 + 10.00 tax. Invoice 60.00; 36.00 of credit note 79002 allocated to it: 24.00 owed.
SELECT pg_temp.statement('site', '2', '79004', '2024-03-05', 60.00, -36.00, '[
  {"kind": "plan", "description": "Basic plan", "qty": 1, "unit": 50, "subtotal": 50.00, "tax": 10.00, "tax_code": "VAT 20%"}]');
SELECT results_eq($$SELECT doc_kind, natural_key, amount, payload FROM billing.outbox WHERE local_table = 'statements'
                     AND local_id = (SELECT id FROM billing.statements WHERE external_id = '79004') ORDER BY id$$,
                  $$VALUES ('invoice', '79004', 60.00, (SELECT payload FROM billing.outbox WHERE natural_key = '79004' AND doc_kind = 'invoice')),
                           ('allocation', '79002>79004', 36.00,
                            '{"CreditNote": {"CreditNoteID": {"pgb_ref": "credit_note:79002"}}, "Invoice": {"InvoiceID": {"pgb_ref": "invoice:79004"}},
                              "Amount": 36.00, "Date": "2024-03-05"}'::jsonb)$$,
                  '79004: invoice 60.00 and the earlier credit note allocated for 36.00');
-- 79005: 20.00 of new charges (no tax) against a carried credit of 36.00 of which 0.00 is left: credit
-- note 79002 is used up by 79004, so nothing covers it and the allocation is held, naming why.
SELECT pg_temp.statement('site', '2', '79005', '2024-04-05', 20.00, -36.00, '[
  {"kind": "plan", "description": "Basic plan", "qty": 1, "unit": 20, "subtotal": 20.00, "tax": 0, "tax_code": null}]');
SELECT results_eq($$SELECT doc_kind, natural_key, state, amount, held_for FROM billing.outbox WHERE local_table = 'statements'
                     AND local_id = (SELECT id FROM billing.statements WHERE external_id = '79005') ORDER BY id$$,
                  $$VALUES ('invoice', '79005', 'pending', 20.00, '{}'::text[]),
                           ('allocation', 'carried>79005', 'held', 20.00, ARRAY['carried credit of 79005'])$$,
                  '79005: the credit carried (capped at the 20.00 billed) has no credit note left: held, never guessed');
SELECT is((SELECT payload -> 'LineItems' -> 0 ->> 'TaxType' FROM billing.outbox WHERE natural_key = '79005' AND doc_kind = 'invoice'),
          'NONE', 'a line without tax code and without tax is TaxType NONE');
SELECT results_eq($$SELECT kind, severity, subject, message FROM billing.alerts WHERE resolved_at IS NULL$$,
                  $$VALUES ('push_held', 'error', 'carried credit of 79005',
                            'push to Xero held: carried credit of 79005 (1 document, e.g. allocation carried>79005)')$$,
                  'one alert names what is held and why');

-- Carried credit, compatibility mode (source compat): statement 81 is -36.00 (a credit note), statement
-- 82 carries it into 50.00 + 10.00 tax: the invoice gets an offset line of -36.00 to clearing account
-- 899, so its total is 24.00 = what is owed, and credit note 81 stays unallocated.
SELECT pg_temp.statement('compat', '9', '81', '2024-02-01', -36.00, 0, '[
  {"kind": "credit", "description": "Refund of unused", "qty": 1, "unit": -30, "subtotal": -30.00, "tax": -6.00, "tax_code": "VAT 20%"}]');
SELECT pg_temp.statement('compat', '9', '82', '2024-03-01', 60.00, -36.00, '[
  {"kind": "plan", "description": "Plan", "qty": 1, "unit": 50, "subtotal": 50.00, "tax": 10.00, "tax_code": "VAT 20%"}]');
SELECT results_eq($$SELECT doc_kind, natural_key, amount FROM billing.outbox WHERE origin_source_id = billing._source_id('compat') ORDER BY id$$,
                  $$VALUES ('contact', 'old_9', NULL::numeric), ('credit_note', '81', 36.00), ('invoice', '82', 24.00)$$,
                  'offset mode: credit note 36.00, invoice 24.00, no allocation; contact prefix old_ from the source''s map');
SELECT is((SELECT payload -> 'LineItems' -> 1 FROM billing.outbox WHERE natural_key = '82'),
          '{"Description": "Credit carried forward", "Quantity": 1, "UnitAmount": -36.00, "AccountCode": "899", "TaxType": "NONE", "TaxAmount": 0}'::jsonb,
          'the offset line goes to the clearing account');

-- Payments: 79001 paid 17.40 by card (the * bank account, 090); 79003 paid 36.00 by ACH (091).
INSERT INTO billing.payments (source_id, external_id, customer_id, invoice_id, amount, currency, payment_date, method)
SELECT i.source_id, p.ext, i.customer_id, i.id, p.amount, 'GBP', p.day::date, p.method
  FROM (VALUES ('pay_1', 'inv_79001', 17.40, '2024-02-01', 'credit_card'), ('pay_2', 'inv_79003', 36.00, '2024-02-12', 'ach')) p(ext, inv, amount, day, method)
  JOIN billing.invoices i ON i.external_id = p.inv;
SELECT results_eq($$SELECT natural_key, payload FROM billing.outbox WHERE doc_kind = 'payment' ORDER BY natural_key$$,
                  $$VALUES ('pay_1', '{"Invoice": {"InvoiceID": {"pgb_ref": "invoice:79001"}}, "Account": {"Code": "090"}, "Date": "2024-02-01", "Amount": 17.40, "Reference": "pay_1"}'::jsonb),
                           ('pay_2', '{"Invoice": {"InvoiceID": {"pgb_ref": "invoice:79003"}}, "Account": {"Code": "091"}, "Date": "2024-02-12", "Amount": 36.00, "Reference": "pay_2"}'::jsonb)$$,
                  'payments go to the bank account of their method, else to *');
SELECT is((SELECT depends_on FROM billing.outbox WHERE natural_key = 'pay_1'),
          ARRAY[(SELECT id FROM billing.outbox WHERE doc_kind = 'invoice' AND natural_key = '79001')], 'a payment depends on its invoice');

-- Refund: 12.00 of pay_1, at once: a credit note (one line, no tax, sales account) and its cash refund.
INSERT INTO billing.refunds (source_id, external_id, customer_id, invoice_id, payment_id, amount, currency, refund_date, memo)
SELECT p.source_id, 'rf_1', p.customer_id, p.invoice_id, p.id, 12.00, 'GBP', '2024-02-20', 'Seats refunded'
  FROM billing.payments p WHERE p.external_id = 'pay_1';
SELECT results_eq($$SELECT doc_kind, natural_key, amount, payload FROM billing.outbox WHERE local_table = 'refunds' ORDER BY id$$,
                  $$VALUES ('credit_note', 'Refund rf_1', 12.00,
                            '{"Type": "ACCRECCREDIT", "Contact": {"ContactNumber": "chargify_1"}, "Date": "2024-02-20", "Reference": "Refund rf_1",
                              "CurrencyCode": "GBP", "Status": "AUTHORISED", "LineAmountTypes": "NoTax",
                              "LineItems": [{"Description": "Seats refunded", "Quantity": 1, "UnitAmount": 12.00, "AccountCode": "200"}]}'::jsonb),
                           ('refund', 'Refund rf_1', 12.00,
                            '{"CreditNote": {"CreditNoteID": {"pgb_ref": "credit_note:Refund rf_1"}}, "Account": {"Code": "090"},
                              "Date": "2024-02-20", "Amount": 12.00, "Reference": "Refund rf_1"}'::jsonb)$$,
                  'refund: a credit note of 12.00 and its cash refund from the bank account of the payment''s method');
SELECT is((SELECT depends_on FROM billing.outbox WHERE doc_kind = 'refund'),
          ARRAY[(SELECT id FROM billing.outbox WHERE doc_kind = 'credit_note' AND natural_key = 'Refund rf_1')],
          'the cash refund depends on its credit note');

-- Ties out: per statement, what Xero will say is owed equals the source's amount due
-- (invoice - allocated credit notes; a credit note's total for a negative statement).
SELECT results_eq($$SELECT s.external_id, s.total + least(coalesce(s.starting_balance, 0), 0) AS source_due,
                           coalesce(sum(o.amount) FILTER (WHERE o.doc_kind = 'invoice'), 0)
                           - coalesce(sum(o.amount) FILTER (WHERE o.doc_kind = 'credit_note'), 0)
                           - coalesce(sum(o.amount) FILTER (WHERE o.doc_kind = 'allocation' AND o.natural_key NOT LIKE s.external_id || '-CR>%'
                                                            AND o.state <> 'held'), 0) AS xero_due
                      FROM billing.statements s JOIN billing.outbox o ON o.local_table = 'statements' AND o.local_id = s.id
                     WHERE s.external_id <> '79005'
                     GROUP BY s.id ORDER BY s.external_id$$,
                  $$VALUES ('79001', 17.40, 17.40), ('79002', -36.00, -36.00), ('79003', 36.00, 36.00), ('79004', 24.00, 24.00),
                           ('81', -36.00, -36.00), ('82', 24.00, 24.00)$$,
                  'every statement ties out: Xero amount due = source amount due');

-- Statements not closed push nothing; a second statement of a namesake-free customer keeps one contact.
INSERT INTO billing.statements (source_id, external_id, customer_id, opened_at, total, currency)
SELECT source_id, '79099', id, '2024-05-01', 10, 'GBP' FROM billing.customers WHERE external_id = '1' AND source_id = billing._source_id('site');
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE natural_key = '79099'), 0, 'an open statement is not pushed');
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE doc_kind = 'contact'), 4, 'one contact per customer');

-- Sources without push_to push nothing; push_to must name a xero source.
SELECT throws_ok($$SELECT billing.add_source('bad', 'advanced_billing', 'https://x.chargify.com', '{"api_key": "k"}', '{"push_to": "site"}')$$,
                 '22023', 'source "bad": option push_to must name a xero source', 'push_to naming a non-xero source is refused');
SELECT throws_ok($$UPDATE billing.sources SET options = options || '{"push_carried_credit": "ignore"}' WHERE name = 'site'$$,
                 '22023', 'source "site": option push_carried_credit must be "allocate" or "offset"', 'push_carried_credit is checked');
SELECT throws_ok($$UPDATE billing.sources SET options = '{"push_unit": 1}' WHERE name = 'site'$$,
                 '22023', 'source "site": option push_unit must be "statements" or "invoices"', 'push_unit is checked');
SELECT * FROM finish();
