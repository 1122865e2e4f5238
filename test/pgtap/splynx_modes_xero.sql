-- Splynx payment mode "xero" end to end (docs/splynx-payment-modes.md): Xero takes the payments.
-- Documents go to Xero but Splynx payments do not; payments recorded in Xero are posted to Splynx
-- once each, also when Splynx's answer is lost (scenario "lose" of test/fake/splynx_fake.py) or a
-- run is killed before or after a post. The book (test/fake/splynx_fake.py, "modes"): INV-101 (Ann)
-- 36.00, INV-102 (Bob) 42.00, CN-101 (Ann) 6.00, Splynx payment 1 of 36.00 on INV-101.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/splynx_modes.sql

SELECT plan(15);

SELECT pg_temp.books('books_x', 'ok-sxx1') IS NOT NULL AS books \gset
SELECT pg_temp.isp('isp_x', 'modes-sxx1', 'books_x', 'xero') IS NOT NULL AS isp \gset
SELECT pg_temp.maps('isp_x');

CALL billing.sync('isp_x');
SELECT results_eq($$SELECT doc_kind, count(*) FROM billing.outbox GROUP BY 1 ORDER BY 1$$,
                  $$VALUES ('contact', 2::bigint), ('credit_note', 1), ('invoice', 2)$$,
                  'mode xero: contacts, invoices and the credit note go to Xero, Splynx''s payment does not');
CALL billing.push('books_x');
SELECT results_eq($$SELECT i ->> 'Reference', i ->> 'Status', (i ->> 'AmountDue')::numeric FROM pg_temp.xero_docs('ok-sxx1', 'invoices') i ORDER BY 1$$,
                  $$VALUES ('INV-101', 'AUTHORISED', 36.00), ('INV-102', 'AUTHORISED', 42.00)$$,
                  'Xero has both invoices open');

-- Three payments taken in Xero: Ann 36.00; Bob 20.00 then 22.00 ----------------------------------
SELECT pg_temp.xero_pay('ok-sxx1', 'INV-101', 36.00, '2024-03-12') AS ann \gset
SELECT pg_temp.xero_pay('ok-sxx1', 'INV-102', 20.00, '2024-03-20') AS bob1 \gset
SELECT pg_temp.xero_pay('ok-sxx1', 'INV-102', 22.00, '2024-03-25') AS bob2 \gset
CALL billing.sync('books_x');
CALL billing.splynx_post('isp_x');
SELECT results_eq($$SELECT status, enqueued, posted, found, lookups FROM billing.splynx_post_runs ORDER BY id$$,
                  $$VALUES ('succeeded', 3, 3, 0, 0)$$, 'the post run queues and posts the 3 Xero payments');
SELECT results_eq($$SELECT xero_payment_id, customer_id, invoice_id, amount, payment_date, state, remote_id
                      FROM billing.splynx_posts ORDER BY id$$,
                  format($$VALUES (%L, '1', '101', 36.00::numeric, '2024-03-12'::date, 'posted', '1001'),
                                  (%L, '2', '102', 20.00, '2024-03-20', 'posted', '1002'),
                                  (%L, '2', '102', 22.00, '2024-03-25', 'posted', '1003')$$, :'ann', :'bob1', :'bob2'),
                  'each is posted for its Splynx customer and invoice, in date order (Splynx ids 1001-1003)');
CALL billing.sync('isp_x');
CALL billing.push('books_x');
CALL billing.splynx_post('isp_x');
SELECT results_eq($$SELECT external_id, amount, reference FROM billing.payments
                     WHERE source_id = billing._source_id('isp_x') ORDER BY external_id::int$$,
                  format($$VALUES ('1', 36.00::numeric, 'R-101'), ('1001', 36.00, %L), ('1002', 20.00, %L), ('1003', 22.00, %L)$$,
                         'xero:' || :'ann', 'xero:' || :'bob1', 'xero:' || :'bob2'),
                  'Splynx has its own payment and the 3 from Xero, once each');
SELECT is((SELECT count(*) FROM billing.outbox WHERE doc_kind = 'payment'), 0::bigint, 'no payment is pushed to Xero in mode xero');
SELECT is((SELECT count(*) FROM pg_temp.xero_docs('ok-sxx1', 'payments')), 3::bigint, 'Xero has its 3 payments, no more');
SELECT is((SELECT count(*) FROM pg_temp.sx_posts('modes-sxx1')), 3::bigint, 'Splynx received 3 posts in all');

-- A lost answer: the fake creates the first post, then closes the connection ---------------------
SELECT pg_temp.books('books_l', 'ok-sxl1') IS NOT NULL AS books \gset
SELECT pg_temp.isp('isp_l', 'lose-sxl1', 'books_l', 'xero') IS NOT NULL AS isp \gset
SELECT pg_temp.maps('isp_l');
CALL billing.sync('isp_l');
CALL billing.push('books_l');
SELECT pg_temp.xero_pay('ok-sxl1', 'INV-102', 42.00, '2024-03-20') AS lost \gset
CALL billing.sync('books_l');
CALL billing.splynx_post('isp_l');
SELECT results_eq($$SELECT status, enqueued, posted, found, lookups FROM billing.splynx_post_runs
                     WHERE source_id = billing._source_id('isp_l') ORDER BY id$$,
                  $$VALUES ('succeeded', 1, 0, 1, 1)$$,
                  'a lost answer: the post is looked up by its receipt_number in the same run and found (posted 0, found 1)');
SELECT results_eq($$SELECT status, method FROM pg_temp.sx_posts('lose-sxl1')$$,
                  $$VALUES (0, 'POST'), (200, 'GET')$$,
                  'Splynx got one POST (answer lost) and one look-up, no second POST');
SELECT results_eq($$SELECT state, remote_id, attempts FROM billing.splynx_posts WHERE source_id = billing._source_id('isp_l')$$,
                  $$VALUES ('posted', '1001', 1)$$, 'the post has Splynx''s id 1001');

-- A kill before the POST left the wire: the next run finds nothing and posts once ---------------
SELECT pg_temp.xero_pay('ok-sxl1', 'INV-101', 36.00, '2024-03-22') AS killed \gset
CALL billing.sync('books_l');
SELECT billing._splynx_post_enqueue(billing._source_id('isp_l'));
SELECT count(*) FROM billing._splynx_post_claim(billing._source_id('isp_l'), 10);
INSERT INTO billing.splynx_post_runs (source_id, status) VALUES (billing._source_id('isp_l'), 'running');
CALL billing.splynx_post('isp_l');
SELECT results_eq($$SELECT status, posted, found, lookups FROM billing.splynx_post_runs
                     WHERE source_id = billing._source_id('isp_l') ORDER BY id DESC LIMIT 2$$,
                  $$VALUES ('succeeded', 1, 0, 1), ('interrupted', 0, 0, 0)$$,
                  'the killed run is interrupted; its post (sending, never sent) is looked up, not found, and posted');
SELECT results_eq($$SELECT xero_payment_id, state, remote_id, attempts FROM billing.splynx_posts
                     WHERE source_id = billing._source_id('isp_l') ORDER BY id$$,
                  format($$VALUES (%L, 'posted', '1001', 1), (%L, 'posted', '1002', 2)$$, :'lost', :'killed'),
                  'both Xero payments are posted, each once (the killed one on its second attempt)');
SELECT results_eq($$SELECT status, method FROM pg_temp.sx_posts('lose-sxl1')$$,
                  $$VALUES (0, 'POST'), (200, 'GET'), (200, 'GET'), (201, 'POST')$$,
                  'Splynx: the lost POST and its look-up, then the look-up and the one POST of the killed payment');
CALL billing.sync('isp_l');
SELECT is((SELECT count(*) FROM billing.payments WHERE source_id = billing._source_id('isp_l') AND reference LIKE 'xero:%'),
          2::bigint, 'the Splynx pull has 2 payments from Xero: none lost, none twice');

SELECT * FROM finish();
