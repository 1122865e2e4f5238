-- The Pax8 connector against the fake Pax8 API (test/fake/pax8_fake.py): OAuth2 client
-- credentials (bearer token cached, renewed before expiry, renewed once on a 401), lists paged
-- from 0 with page/size, companies/products/subscriptions stored with exact values, invoices and
-- their items (one paged child list per invoice) stored as payable documents of the partner with
-- lines naming the client companies, a full reconcile that tombstones a company gone upstream and
-- leaves the partner's customer row alone.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql

CREATE FUNCTION pg_temp.p8(name text, scenario text, secret text DEFAULT 'pax8-secret') RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'pax8', current_setting('pgb_test.pax8_url') || '/s/' || scenario || '/v1',
        jsonb_build_object('client_id', 'pax8-client', 'client_secret', secret),
        jsonb_build_object('per_page', 2, 'max_requests_per_second', 200,
                           'token_url', current_setting('pgb_test.pax8_url') || '/s/' || scenario || '/oauth/token',
                           -- checked by SQL (sources_recon_role_known); a sync must take it, not refuse it as unknown
                           'recon_role', 'vendor'))
$$;
-- The fake's log of a scenario: (status, method, path, token number).
CREATE FUNCTION pg_temp.log(scenario text) RETURNS TABLE (n bigint, status int, method text, path text, token text) LANGUAGE sql AS $$
    SELECT l.n, split_part(l.x, ' ', 1)::int, split_part(l.x, ' ', 2), split_part(l.x, ' ', 3), split_part(l.x, ' ', 4)
    FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/logs/' || scenario || '.log'), E'\n')
         WITH ORDINALITY AS l(x, n)
    WHERE l.x <> ''
$$;

SELECT plan(32);

SELECT pg_temp.p8('p8', 'ok-p8a') AS p8 \gset
CALL billing.sync('p8');

SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, pages, requests, error
                    FROM billing.sync_runs WHERE source_id = billing._source_id('p8')$$,
                  $$VALUES ('succeeded', 11::bigint, 0::bigint, 0::bigint, 9::bigint, 13::bigint, NULL::text)$$,
                  'first sync: 3 companies + 2 products + 4 subscriptions + 2 invoices, 9 list pages, 3 items pages and 1 token request');
-- (the invoices' items requests go out several at once, max_concurrent_requests 4 by default, so
-- they arrive in either order: the lists are checked in order, the items per invoice in page order)
SELECT results_eq($$SELECT status, method, path, token FROM pg_temp.log('ok-p8a') WHERE path NOT LIKE '%/items%' ORDER BY n$$,
                  $$VALUES (200, 'POST', 'oauth/token', 't1'),
                           (200, 'GET', 'v1/companies?page=0&size=2&sort=name', 't1'),
                           (200, 'GET', 'v1/companies?page=1&size=2&sort=name', 't1'),
                           (200, 'GET', 'v1/products?page=0&size=2&sort=name', 't1'),
                           (200, 'GET', 'v1/products?page=1&size=2&sort=name', 't1'),
                           (200, 'GET', 'v1/subscriptions?page=0&size=2&sort=createdDate,asc', 't1'),
                           (200, 'GET', 'v1/subscriptions?page=1&size=2&sort=createdDate,asc', 't1'),
                           (200, 'GET', 'v1/subscriptions?page=2&size=2&sort=createdDate,asc', 't1'),
                           (200, 'GET', 'v1/invoices?page=0&size=2&sort=invoiceDate', 't1'),
                           (200, 'GET', 'v1/invoices?page=1&size=2&sort=invoiceDate', 't1')$$,
                  'one token, then pages from 0 with page/size until a short page, every request with the token');
SELECT results_eq($$SELECT status, method, path, token FROM pg_temp.log('ok-p8a') WHERE path LIKE '%/items%' ORDER BY path, n$$,
                  $$VALUES (200, 'GET', 'v1/invoices/44444444-0000-4000-8000-000000000001/items?page=0&size=2', 't1'),
                           (200, 'GET', 'v1/invoices/44444444-0000-4000-8000-000000000001/items?page=1&size=2', 't1'),
                           (200, 'GET', 'v1/invoices/44444444-0000-4000-8000-000000000002/items?page=0&size=2', 't1')$$,
                  'each invoice''s items the same way (from page 0 until a short page), with the token');
SELECT results_eq($$SELECT external_id, reference, name, organization, email, remote_updated_at, raw->>'status'
                    FROM billing.customers WHERE source_id = billing._source_id('p8') ORDER BY name$$,
                  $$VALUES ('11111111-0000-4000-8000-000000000001', 'ACME', 'Acme Pty', 'Acme Pty', NULL::text, '2024-03-01 10:00:00+00'::timestamptz, 'Active'),
                           ('11111111-0000-4000-8000-000000000002', NULL, 'Beta LLC', 'Beta LLC', NULL, '2024-03-02 11:30:00+00', 'Active'),
                           ('11111111-0000-4000-8000-000000000003', NULL, 'Gamma Inc', 'Gamma Inc', NULL, NULL, 'Inactive'),
                           ('partner:Northwind MSP', NULL, 'Northwind MSP', 'Northwind MSP', NULL, NULL, NULL)$$,
                  'companies -> customers: id, externalId as reference, name, updatedDate; the record in raw; and the partner the invoices bill');
SELECT results_eq($$SELECT external_id, sku, name, family, price, currency FROM billing.products
                    WHERE source_id = billing._source_id('p8') ORDER BY name$$,
                  $$VALUES ('22222222-0000-4000-8000-000000000002', 'ACR-BKP', 'Acronis Backup', 'Acronis', NULL::numeric, NULL::text),
                           ('22222222-0000-4000-8000-000000000001', 'MST-365-BB', 'Microsoft 365 Business Basic', 'Microsoft', NULL, NULL)$$,
                  'products: id, sku, name, vendorName as family (prices are per company in Pax8, not on the product)');
SELECT results_eq($$SELECT right(s.external_id, 1), right(c.external_id, 1), right(p.external_id, 1), s.product, s.sku, s.state,
                           s.quantity, s.unit_price, s.unit_cost, s.currency, s.interval_months, s.billing_term,
                           s.started_at, s.canceled_at, s.ends_at, s.current_period_start
                    FROM billing.subscriptions s JOIN billing.customers c ON c.id = s.customer_id
                    LEFT JOIN billing.products p ON p.id = s.product_id
                    WHERE s.source_id = billing._source_id('p8') ORDER BY s.external_id$$,
                  $$VALUES ('1', '1', '1', 'Microsoft 365 Business Basic', 'MST-365-BB', 'Active', 10::numeric, 6::numeric, 5.1::numeric, 'USD', 1, 'Monthly',
                            '2024-01-01 00:00+00'::timestamptz, NULL::timestamptz, '2025-01-01 00:00+00'::timestamptz, NULL::timestamptz),
                           ('2', '1', '2', 'Acronis Backup', 'ACR-BKP', 'Active', 3, 12.5, 9.99, 'USD', 12, 'Annual',
                            '2024-02-01 00:00+00', NULL, '2025-02-01 00:00+00', NULL),
                           ('3', '2', '1', 'Microsoft 365 Business Basic', 'MST-365-BB', 'Cancelled', 25, 6, 5.1, 'USD', 1, 'Monthly',
                            '2024-01-15 00:00+00', '2024-06-30 00:00+00', NULL, NULL),
                           ('4', '3', '2', 'Acronis Backup', 'ACR-BKP', 'PendingManual', 1, 19.99, 15, 'AUD', 24, '2-Year',
                            NULL, NULL, NULL, NULL)$$,
                  'subscriptions: company, product (its Pax8 SKU, the one invoice items name), quantity, price, partnerCost as unit_cost, billingTerm (interval), status, dates, commitment end');
SELECT is((SELECT unit_price::text || ' ' || unit_cost::text FROM billing.subscriptions WHERE external_id LIKE '%4'), '19.99 15',
          'money is exact: a string amount and an integer amount as sent');
SELECT is((SELECT raw #>> '{commitmentTerm,term}' FROM billing.subscriptions WHERE external_id LIKE '%1'), '1-Year',
          'the subscription''s record is in raw');
SELECT is((SELECT cursor FROM billing._sync_state WHERE source_id = :p8 AND entity = 'subscriptions'), '{"since": null}'::jsonb,
          'no Pax8 list has an updated-since filter: the checkpoint holds no cursor, every run reads the lists whole');

-- Invoices: the partner's bills (payable), customer the partner row; items become lines naming the
-- client company and subscription, with Pax8's SKU, cost (costTotal), price and term.
SELECT results_eq($$SELECT right(i.external_id, 1), c.external_id, i.direction, i.status, i.issue_date, i.due_date, i.currency,
                           i.total, i.due, i.period_start, i.period_end
                    FROM billing.invoices i JOIN billing.customers c ON c.id = i.customer_id
                    WHERE i.source_id = billing._source_id('p8') ORDER BY i.issue_date$$,
                  $$VALUES ('2', 'partner:Northwind MSP', 'payable', 'paid', '2024-02-01'::date, '2024-02-15'::date, 'USD', 40.8::numeric, 0::numeric,
                            '2024-02-01'::date, '2024-03-01'::date),
                           ('1', 'partner:Northwind MSP', 'payable', 'open', '2024-03-01', '2024-03-15', 'USD', 211.47, 211.47,
                            '2024-02-01', '2025-02-01')$$,
                  'invoices: payable, billed to the partner, Paid/Unpaid, dates, total and balance exact, period spanning the items');
SELECT results_eq($$SELECT right(i.external_id, 1), l.line_no, right(l.external_id, 1), l.kind, l.sku, right(c.external_id, 1), right(s.external_id, 1),
                           l.quantity, l.unit_price, l.subtotal, l.amount, l.tax, l.total, l.cost, l.billing_term, l.period_start, l.period_end, l.product
                    FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
                    LEFT JOIN billing.customers c ON c.id = l.customer_id LEFT JOIN billing.subscriptions s ON s.id = l.subscription_id
                    WHERE i.source_id = billing._source_id('p8') ORDER BY i.issue_date, l.line_no$$,
                  $$VALUES ('2', 1, '4', 'adjustment', 'MST-365-BB', '1', '1', 8::numeric, 6::numeric, 48::numeric, 48::numeric, 0::numeric, 48::numeric, 40.8::numeric,
                            'Monthly', '2024-02-01'::date, '2024-03-01'::date, 'Microsoft 365 Business Basic'),
                           ('1', 1, '1', 'plan', 'MST-365-BB', '1', '1', 10, 6, 60, 60, 0, 60, 51, 'Monthly', '2024-03-01', '2024-04-01', 'Microsoft 365 Business Basic'),
                           ('1', 2, '2', 'plan', 'ACR-BKP', '1', '2', 3, 12.5, 37.5, 37.5, 3.0, 40.5, 29.97, 'Annual', '2024-02-01', '2025-02-01', 'Acronis Backup'),
                           ('1', 3, '3', 'plan', 'MST-365-BB', '2', '3', 25, 6, 150, 150, 0, 150, 127.5, 'Monthly', '2024-03-01', '2024-04-01', 'Microsoft 365 Business Basic')$$,
                  'items -> lines: type as kind, sku, client company and subscription by external id, quantity, price, subTotal, salesTax, total, costTotal as cost, term, period');
SELECT is((SELECT sum(l.cost)::text || ' ' || sum(l.amount)::text FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
           WHERE i.source_id = billing._source_id('p8') AND i.issue_date = '2024-03-01'),
          '208.47 247.5', 'March: cost 51 + 29.97 + 127.5 = 208.47, price 60 + 37.5 + 150 = 247.5, exact from JSON numbers');
SELECT is((SELECT round((raw #>> '{items,1,cost}')::numeric, 6) FROM billing.invoices WHERE external_id LIKE '%1' AND source_id = :p8), 9.99,
          'the unit cost stays in the invoice''s raw with its items (raw is the JSON as jansson prints it, not money)');
SELECT is((SELECT count(*) FROM billing._revenue_invoice_lines r JOIN billing.invoices i ON i.id = r.doc_id WHERE i.source_id = :p8),
          0::bigint, 'payable invoices are never revenue');
SELECT is((SELECT count(*) FROM billing.unmapped_companies WHERE source_id = :p8 AND external_id LIKE 'partner:%'), 0::bigint,
          'the partner itself needs no company mapping (its invoices'' lines all name a client)');

-- A second sync reads everything again and changes nothing (with a new token: one per run).
CALL billing.sync('p8');
SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, requests FROM billing.sync_runs
                    WHERE source_id = billing._source_id('p8') ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 0::bigint, 0::bigint, 11::bigint, 13::bigint)$$,
                  'second sync: 11 records unchanged');
SELECT is((SELECT count(*) FROM pg_temp.log('ok-p8a') WHERE method = 'POST'), 2::bigint, 'a token per run, not per request');

-- Revoked: the first token is refused from its second use on; the client renews once and goes on.
SELECT pg_temp.p8('p8rev', 'revoked-p8b');
CALL billing.sync('p8rev');
SELECT results_eq($$SELECT status, records_inserted, requests FROM billing.sync_runs WHERE source_id = billing._source_id('p8rev')$$,
                  $$VALUES ('succeeded', 11::bigint, 15::bigint)$$,
                  'a 401 renews the token once: the run succeeds (12 pages, 1 retried, 2 token requests)');
SELECT results_eq($$SELECT status, method, path, token FROM pg_temp.log('revoked-p8b') WHERE n <= 5 ORDER BY n$$,
                  $$VALUES (200, 'POST', 'oauth/token', 't1'),
                           (200, 'GET', 'v1/companies?page=0&size=2&sort=name', 't1'),
                           (401, 'GET', 'v1/companies?page=1&size=2&sort=name', 't1'),
                           (200, 'POST', 'oauth/token', 't2'),
                           (200, 'GET', 'v1/companies?page=1&size=2&sort=name', 't2')$$,
                  'the refused request is sent again with the new token');
SELECT is((SELECT count(*) FROM pg_temp.log('revoked-p8b') WHERE token = 't2' AND method = 'GET'), 11::bigint,
          'the rest of the run uses the new token');

-- Expiring: tokens live 2 s and each page takes 0.6 s; the client renews before expiry, never
-- sending an expired token (the fake answers 401 "expired" to one).
SELECT pg_temp.p8('p8exp', 'expiring-p8c');
CALL billing.sync('p8exp');
SELECT is((pg_temp.last('p8exp')).status, 'succeeded', 'tokens that expire during the run: the run succeeds');
SELECT is((SELECT count(*) FROM pg_temp.log('expiring-p8c') WHERE status = 401), 0::bigint,
          'no request went out with an expired token');
SELECT cmp_ok((SELECT count(*) FROM pg_temp.log('expiring-p8c') WHERE method = 'POST'), '>=', 3::bigint,
              'the token was renewed before it expired (at least 3 tokens over about 4 s)');

-- Wrong client secret: the token endpoint says 401; the run fails naming the token request only.
SELECT pg_temp.p8('p8bad', 'ok-p8d', 'wrong-secret-value');
SELECT billing._start_run(billing._source_id('p8bad'), 'manual') AS rbad \gset
CALL billing._sync_run(:rbad);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :rbad,
                  $$VALUES ('failed', 'source "p8bad": token request failed: HTTP status 401')$$,
                  'a refused client secret fails the run at the token request');
SELECT ok((SELECT error_detail NOT LIKE '%wrong-secret%' AND error NOT LIKE '%wrong-secret%' FROM billing.sync_runs WHERE id = :rbad),
          'the secret is in neither the error nor its detail');
SELECT is((SELECT count(*) FROM pg_temp.log('ok-p8d') WHERE method = 'GET'), 0::bigint, 'no API request is made without a token');

-- Options: token_url must be a string; per_page is bounded by Pax8's 200.
SELECT pg_temp.p8('p8opt', 'ok-p8e');
UPDATE billing.sources SET options = options || '{"token_url": 5}' WHERE name = 'p8opt';
SELECT billing._start_run(billing._source_id('p8opt'), 'manual') AS ropt \gset
CALL billing._sync_run(:ropt);
SELECT is((pg_temp.last('p8opt')).error, 'source "p8opt": option token_url must be a string', 'token_url is type-checked');
UPDATE billing.sources SET options = options || '{"token_url": "x", "per_page": 201}' WHERE name = 'p8opt';
SELECT billing._start_run(billing._source_id('p8opt'), 'manual') AS ropt \gset
CALL billing._sync_run(:ropt);
SELECT is((pg_temp.last('p8opt')).error, 'source "p8opt": option per_page must be from 1 to 200', 'per_page is bounded by the connector''s page size');
UPDATE billing.sources SET options = options || '{"per_page": 2, "entities": ["customers"]}' WHERE name = 'p8opt';
SELECT billing._start_run(billing._source_id('p8opt'), 'manual') AS ropt \gset
CALL billing._sync_run(:ropt);
SELECT is((pg_temp.last('p8opt')).error, 'source "p8opt": option entities names an unknown entity "customers"',
          'option entities takes the connector''s own entity names');

-- Gone: a full reconcile lists the companies again; company 3 is no longer listed, is asked for
-- by id (404) and gets a tombstone; the others stay.
SELECT pg_temp.p8('p8gone', 'gone-p8f');
CALL billing.sync('p8gone');
CALL billing.sync('p8gone', true);
SELECT results_eq($$SELECT status, full_reconcile, records_deleted FROM billing.sync_runs
                    WHERE source_id = billing._source_id('p8gone') ORDER BY id$$,
                  $$VALUES ('succeeded', false, 0::bigint), ('succeeded', true, 1::bigint)$$,
                  'the reconcile marks one record deleted');
SELECT results_eq($$SELECT right(external_id, 1), deleted_at IS NOT NULL FROM billing.customers
                    WHERE source_id = billing._source_id('p8gone') ORDER BY external_id$$,
                  $$VALUES ('1', false), ('2', false), ('3', true), ('P', false)$$,
                  'company 3, gone upstream, has deleted_at; the partner row (listed by no list) is left alone');
SELECT is((SELECT count(*) FROM pg_temp.log('gone-p8f') WHERE path = 'v1/companies/11111111-0000-4000-8000-000000000003' AND status = 404),
          1::bigint, 'it was asked for by id first (404)');

SELECT * FROM finish();
