-- Splynx payment mode "mixed" end to end (docs/splynx-payment-modes.md) against the fake Splynx
-- (scenario "modes", test/fake/splynx_fake.py) and the fake Xero: Splynx's gateway payment goes to
-- Xero, a payment taken in Xero is posted to Splynx once, and neither comes back as an echo.
-- The book, worked out by hand: INV-101 (Ann) 30.00 + 20% = 36.00, paid in Splynx by payment 1
-- (R-101, method 2); INV-102 (Bob) Internet 20.00 + 4.00 = 24.00 (category 1) and Router 15.00 +
-- 3.00 = 18.00 (category 2): 42.00, open; CN-101 (Ann) 5.00 + 1.00 = 6.00.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/splynx_modes.sql

SELECT plan(21);

SELECT pg_temp.books('books_m', 'ok-sxm1') IS NOT NULL AS books \gset
SELECT pg_temp.isp('isp_m', 'modes-sxm1', 'books_m', 'mixed') IS NOT NULL AS isp \gset
SELECT pg_temp.maps('isp_m');

-- Splynx -> outbox: contacts, invoices, the credit note and the gateway payment -------------------
CALL billing.sync('isp_m');
SELECT results_eq($$SELECT doc_kind, natural_key, state, amount FROM billing.outbox
                    WHERE origin_source_id = billing._source_id('isp_m') ORDER BY doc_kind, natural_key$$,
                  $$VALUES ('contact', 'sx-1', 'pending', NULL::numeric), ('contact', 'sx-2', 'pending', NULL),
                           ('credit_note', 'CN-101', 'pending', 6.00), ('invoice', 'INV-101', 'pending', 36.00),
                           ('invoice', 'INV-102', 'pending', 42.00), ('payment', '1', 'pending', 36.00)$$,
                  'a Splynx sync builds 2 contacts, 2 invoices (36.00, 42.00), CN-101 (6.00) and the gateway payment (36.00); no tax rate to create');
SELECT results_eq($$SELECT i ->> 'AccountCode', i ->> 'TaxType', (i ->> 'UnitAmount')::numeric, (i ->> 'TaxAmount')::numeric
                      FROM billing.outbox o, jsonb_array_elements(o.payload -> 'LineItems') WITH ORDINALITY x(i, k)
                     WHERE o.doc_kind = 'invoice' AND o.natural_key = 'INV-102' ORDER BY k$$,
                  $$VALUES ('200', 'OUTPUT2', 20.00, 4.00), ('260', 'OUTPUT2', 15.00, 3.00)$$,
                  'INV-102: each line takes its Splynx category''s account (1 -> 200, 2 -> 260) and tax 20% maps to OUTPUT2');
SELECT is((SELECT payload -> 'Account' ->> 'Code' FROM billing.outbox WHERE doc_kind = 'payment'), '090',
          'the gateway payment (method 2) goes into bank account 090');

CALL billing.push('books_m');
SELECT results_eq($$SELECT i ->> 'Reference', i ->> 'Status', (i ->> 'Total')::numeric, (i ->> 'AmountDue')::numeric
                      FROM pg_temp.xero_docs('ok-sxm1', 'invoices') i ORDER BY 1$$,
                  $$VALUES ('INV-101', 'PAID', 36.00, 0.00), ('INV-102', 'AUTHORISED', 42.00, 42.00)$$,
                  'Xero: INV-101 paid by the pushed Splynx payment, INV-102 open for 42.00');

-- Bob pays INV-102 in Xero; the Xero pull brings both Xero payments --------------------------------
SELECT pg_temp.xero_pay('ok-sxm1', 'INV-102', 42.00, '2024-03-20') AS xpay \gset
CALL billing.sync('books_m');
SELECT is((SELECT count(*) FROM billing.payments WHERE source_id = billing._source_id('books_m')), 2::bigint,
          'the Xero pull stores 2 payments: the one pushed from Splynx and the one taken in Xero');

CALL billing.splynx_post('isp_m');
SELECT results_eq($$SELECT status, enqueued, posted, found, failed, lookups, error FROM billing.splynx_post_runs
                     WHERE source_id = billing._source_id('isp_m') ORDER BY id$$,
                  $$VALUES ('succeeded', 1, 1, 0, 0, 0, NULL::text)$$,
                  'the post run queues 1 payment (the pushed one is recognised as its own echo) and posts it');
SELECT results_eq($$SELECT xero_payment_id, receipt_number, customer_id, invoice_id, amount, payment_date, payment_type,
                           state, remote_id, attempts FROM billing.splynx_posts$$,
                  format($$VALUES (%L, %L, '2', '102', 42.00::numeric, '2024-03-20'::date, '1', 'posted', '1001', 1)$$,
                         :'xpay', 'xero:' || :'xpay'),
                  'the Xero payment is posted for Bob''s INV-102 with receipt_number xero:<PaymentID> and method 1; Splynx gave it id 1001');
SELECT results_eq($$SELECT * FROM pg_temp.sx_posts('modes-sxm1')$$,
                  $$VALUES (201, 'POST', 'admin/finance/payments')$$,
                  'Splynx received exactly one payment post');

-- The posted payment comes back in the Splynx pull and is never pushed to Xero ----------------------
CALL billing.sync('isp_m');
SELECT results_eq($$SELECT p.external_id, p.amount, p.reference, i.external_id, i.status
                      FROM billing.payments p JOIN billing.invoices i ON i.id = p.invoice_id
                     WHERE p.source_id = billing._source_id('isp_m') ORDER BY p.external_id$$,
                  format($$VALUES ('1', 36.00::numeric, 'R-101', '101', 'paid'), ('1001', 42.00, %L, '102', 'paid')$$, 'xero:' || :'xpay'),
                  'the next Splynx pull has the posted payment (and INV-102 paid)');
CALL billing.push('books_m');
SELECT results_eq($$SELECT doc_kind, natural_key, state FROM billing.outbox WHERE doc_kind = 'payment'$$,
                  $$VALUES ('payment', '1', 'confirmed')$$,
                  'the payment from Xero is not pushed back: the outbox still has the gateway payment only');
SELECT is((SELECT count(*) FROM pg_temp.xero_docs('ok-sxm1', 'payments')), 2::bigint,
          'Xero still has 2 payments');
SELECT is((SELECT sum((p ->> 'Amount')::numeric) FROM pg_temp.xero_docs('ok-sxm1', 'payments') p), 78.00,
          'Xero''s payments total 36.00 + 42.00 = 78.00');

-- Again, in every order: nothing moves twice ------------------------------------------------------
CALL billing.sync('books_m');
CALL billing.splynx_post('isp_m');
CALL billing.sync('isp_m');
CALL billing.push('books_m');
SELECT results_eq($$SELECT status, enqueued, posted FROM billing.splynx_post_runs
                     WHERE source_id = billing._source_id('isp_m') ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 0, 0)$$, 'a second post run finds nothing new to post');
SELECT is((SELECT count(*) FROM pg_temp.sx_posts('modes-sxm1')), 1::bigint, 'Splynx still received one post');
SELECT is((SELECT count(*) FROM billing.payments WHERE source_id = billing._source_id('isp_m')), 2::bigint,
          'Splynx has 2 payments: R-101 and the one from Xero');
SELECT is((SELECT count(*) FROM pg_temp.xero_docs('ok-sxm1', 'payments')), 2::bigint, 'Xero has 2 payments');
SELECT is((SELECT count(*) FROM billing.outbox WHERE doc_kind = 'payment'), 1::bigint, 'the outbox has 1 payment');

SELECT results_eq($$SELECT payment_mode, xero_source, splynx_payments, splynx_payments_from_xero, pushed_to_xero,
                           waiting_for_xero, posted_to_splynx, waiting_for_splynx, posted_amount
                      FROM billing.splynx_payment_flows WHERE source = 'isp_m'$$,
                  $$VALUES ('mixed', 'books_m', 2::bigint, 1::bigint, 1::bigint, 0::bigint, 1::bigint, 0::bigint, 42.00::numeric)$$,
                  'the flows: 2 Splynx payments (1 from Xero), 1 pushed to Xero, 1 posted to Splynx for 42.00, nothing waiting');

-- A kill: a run that died before its post was sent, and one that died after ----------------------
-- (what a killed run leaves: its run row "running" and the post "sending")
-- as if the run that posted 1001 had been killed after sending, before recording the answer
UPDATE billing.splynx_posts SET state = 'sending', remote_id = NULL;
INSERT INTO billing.splynx_post_runs (source_id, status) VALUES (billing._source_id('isp_m'), 'running');
CALL billing.splynx_post('isp_m');
SELECT results_eq($$SELECT status, posted, found, lookups FROM billing.splynx_post_runs
                     WHERE source_id = billing._source_id('isp_m') ORDER BY id DESC LIMIT 2$$,
                  $$VALUES ('succeeded', 0, 1, 1), ('interrupted', 0, 0, 0)$$,
                  'after a kill after sending: the dead run is interrupted, the post is looked up by receipt_number and found');
SELECT results_eq($$SELECT state, remote_id FROM billing.splynx_posts$$, $$VALUES ('posted', '1001')$$,
                  'the post is posted with Splynx''s id 1001, not sent again');
SELECT is((SELECT count(*) FROM pg_temp.sx_posts('modes-sxm1') WHERE method = 'POST'), 1::bigint,
          'Splynx still received one POST (and one look-up)');

SELECT * FROM finish();
