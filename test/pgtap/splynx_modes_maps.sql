-- Splynx payment modes: option checks, mode splynx (the default), and the maps a Splynx source needs
-- before its first push (docs/splynx-payment-modes.md): tax rates (never created in Xero for Splynx),
-- transaction categories, payment methods into bank accounts, and Xero bank accounts to Splynx
-- payment methods. Something unmapped holds the document or post with an alert naming it. The book
-- is the fake Splynx's "modes" (INV-101 36.00 paid by payment 1 of method 2, INV-102 42.00 with a
-- category-2 line, CN-101 6.00; every line taxed 20%).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/splynx_modes.sql

SELECT plan(20);

-- Option payment_mode ------------------------------------------------------------------------------
SELECT pg_temp.books('books_s', 'ok-sxs1') IS NOT NULL AS books \gset
SELECT pg_temp.isp('isp_s', 'modes-sxs1', 'books_s', NULL) IS NOT NULL AS isp \gset
SELECT throws_ok($$UPDATE billing.sources SET options = options || '{"payment_mode": "paypal"}' WHERE name = 'isp_s'$$,
                 '22023', 'source "isp_s": option payment_mode must be "splynx", "xero" or "mixed"', 'an unknown mode is refused');
SELECT throws_ok($$UPDATE billing.sources SET options = options || '{"payment_mode": "mixed"}' WHERE name = 'books_s'$$,
                 '22023', 'source "books_s": option payment_mode is for splynx sources', 'only a splynx source has a payment mode');
SELECT throws_ok($$UPDATE billing.sources SET options = (options - 'push_to') || '{"payment_mode": "xero"}' WHERE name = 'isp_s'$$,
                 '22023', 'source "isp_s": option payment_mode xero needs option push_to', 'mode xero needs push_to');
SELECT is(billing._splynx_payment_mode(billing._source_id('isp_s')), 'splynx', 'the default mode is splynx');

-- Mode splynx: everything goes to Xero, nothing comes back to Splynx --------------------------------
SELECT pg_temp.maps('isp_s');
CALL billing.sync('isp_s');
SELECT results_eq($$SELECT DISTINCT tax_code FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
                     WHERE i.source_id = billing._source_id('isp_s')$$,
                  $$VALUES ('20%')$$, 'a Splynx line''s tax code is its tax percent: 20%');
CALL billing.push('books_s');
SELECT pg_temp.xero_pay('ok-sxs1', 'INV-102', 42.00, '2024-03-20') IS NOT NULL AS paid \gset
CALL billing.sync('books_s');
CALL billing.splynx_post('isp_s');
SELECT results_eq($$SELECT status, enqueued, posted FROM billing.splynx_post_runs$$, $$VALUES ('succeeded', 0, 0)$$,
                  'mode splynx: a payment taken in Xero is not posted to Splynx');
SELECT is((SELECT count(*) FROM pg_temp.sx_log('modes-sxs1') WHERE method = 'POST' AND path LIKE 'admin/finance/payments%'),
          0::bigint, 'Splynx received no payment post');
SELECT results_eq($$SELECT payment_mode, splynx_payments, pushed_to_xero, posted_to_splynx FROM billing.splynx_payment_flows$$,
                  $$VALUES ('splynx', 1::bigint, 1::bigint, 0::bigint)$$, 'the flows: 1 Splynx payment pushed to Xero, none posted');

-- Nothing mapped but the sales account and the contact prefix: held, with alerts naming each map -------
SELECT pg_temp.books('books_u', 'ok-sxu1') IS NOT NULL AS books \gset
SELECT pg_temp.isp('isp_u', 'modes-sxu1', 'books_u', 'mixed') IS NOT NULL AS isp \gset
SELECT pg_temp.maps('isp_u', ARRAY['tax_rate 20%', 'category_account 2', 'bank_account 2', 'splynx_payment_type 090']);
CALL billing.sync('isp_u');
SELECT results_eq($$SELECT doc_kind, natural_key, state, held_for FROM billing.outbox
                     WHERE origin_source_id = billing._source_id('isp_u') ORDER BY doc_kind, natural_key$$,
                  $$VALUES ('contact', 'sx-1', 'pending', '{}'::text[]), ('contact', 'sx-2', 'pending', '{}'),
                           ('credit_note', 'CN-101', 'held', '{"tax_rate 20%"}'),
                           ('invoice', 'INV-101', 'held', '{"tax_rate 20%"}'),
                           ('invoice', 'INV-102', 'held', '{"category_account 2","tax_rate 20%"}'),
                           ('payment', '1', 'held', '{"bank_account 2"}')$$,
                  'unmapped tax 20%, category 2 and method 2 hold the documents that need them; no tax rate is created in Xero');
SELECT results_eq($$SELECT subject, message FROM billing.alerts
                     WHERE kind = 'push_held' AND source_id = billing._source_id('isp_u') AND resolved_at IS NULL ORDER BY subject$$,
                  $$VALUES ('bank_account 2', 'push to Xero held: bank_account 2 (1 document, e.g. payment 1)'),
                           ('category_account 2', 'push to Xero held: category_account 2 (1 document, e.g. invoice INV-102)'),
                           ('tax_rate 20%', 'push to Xero held: tax_rate 20% (3 documents, e.g. credit_note CN-101)')$$,
                  'one alert per missing map, naming it');
SELECT is((SELECT detail FROM billing.alerts WHERE kind = 'push_held' AND subject = 'tax_rate 20%' AND resolved_at IS NULL),
          format('Map it: INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES (%s, ''tax_rate'', ''20%%'', ''<Xero TaxType>''); a Splynx tax rate is never created in Xero.',
                 billing._source_id('isp_u')),
          'the alert''s detail is the SQL that maps it');
CALL billing.push('books_u');
SELECT results_eq($$SELECT (SELECT count(*) FROM pg_temp.xero_docs('ok-sxu1', 'contacts')),
                           (SELECT count(*) FROM pg_temp.xero_docs('ok-sxu1', 'invoices')),
                           (SELECT count(*) FROM pg_temp.xero_docs('ok-sxu1', 'tax_rates'))$$,
                  $$VALUES (2::bigint, 0::bigint, 4::bigint)$$, 'only the contacts went to Xero; no tax rate was created (Xero''s own 4 remain)');

INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code)
SELECT billing._source_id('isp_u'), k, l, c
  FROM (VALUES ('tax_rate', '20%', 'OUTPUT2'), ('category_account', '2', '260'), ('bank_account', '2', '090')) m(k, l, c);
SELECT results_eq($$SELECT count(*) FILTER (WHERE state = 'held'), count(*) FILTER (WHERE state = 'pending')
                      FROM billing.outbox WHERE origin_source_id = billing._source_id('isp_u')$$,
                  $$VALUES (0::bigint, 4::bigint)$$, 'once mapped, the 4 held documents are pending');
SELECT is((SELECT count(*) FROM billing.alerts WHERE kind = 'push_held' AND source_id = billing._source_id('isp_u')
                                                AND resolved_at IS NULL), 0::bigint, 'and their alerts are resolved');
CALL billing.push('books_u');
SELECT results_eq($$SELECT i ->> 'Reference', (i ->> 'AmountDue')::numeric FROM pg_temp.xero_docs('ok-sxu1', 'invoices') i ORDER BY 1$$,
                  $$VALUES ('INV-101', 0.00), ('INV-102', 42.00)$$, 'Xero: both invoices, INV-101 paid by the Splynx payment');

-- A Xero payment into bank account 090 without a Splynx payment method: the post is held ---------------
SELECT pg_temp.xero_pay('ok-sxu1', 'INV-102', 42.00, '2024-03-20') AS xpay \gset
CALL billing.sync('books_u');
CALL billing.splynx_post('isp_u');
SELECT results_eq($$SELECT state, held_for, payment_type FROM billing.splynx_posts WHERE source_id = billing._source_id('isp_u')$$,
                  $$VALUES ('held', '{"splynx_payment_type 090"}'::text[], NULL::text)$$,
                  'the post waits for a splynx_payment_type map of bank account 090');
SELECT results_eq($$SELECT subject, message FROM billing.alerts WHERE kind = 'splynx_post_held' AND resolved_at IS NULL$$,
                  format($$VALUES ('splynx_payment_type 090', %L)$$,
                         'post to Splynx held: splynx_payment_type 090 (1 payment, e.g. xero:' || :'xpay' || ')'),
                  'an alert names the missing map');
-- mapped (any bank account), but for a customer Splynx does not know: Splynx refuses it
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES (billing._source_id('isp_u'), 'splynx_payment_type', '*', '3');
UPDATE billing.splynx_posts SET customer_id = '99';
CALL billing.splynx_post('isp_u');
SELECT results_eq($$SELECT state, last_error FROM billing.splynx_posts$$, $$VALUES ('failed', 'invalid_input_data')$$,
                  'Splynx refuses the post (400): failed with its message');
SELECT results_eq($$SELECT kind, subject FROM billing.alerts WHERE kind LIKE 'splynx_post%' AND resolved_at IS NULL$$,
                  format($$VALUES ('splynx_post_rejected', %L)$$, 'payment xero:' || :'xpay'),
                  'with an alert naming the payment; the held alert is resolved');
UPDATE billing.splynx_posts SET customer_id = '2', state = 'pending';
CALL billing.splynx_post('isp_u');
SELECT results_eq($$SELECT state, payment_type, remote_id FROM billing.splynx_posts$$, $$VALUES ('posted', '3', '1001')$$,
                  'fixed and sent again: posted once with payment method 3');

SELECT * FROM finish();
