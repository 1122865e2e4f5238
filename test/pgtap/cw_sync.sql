-- ConnectWise Manage sync against the fake (test/fake/connectwise_fake.py), pages of 2 records:
-- the whole book with exact values, the requests (paging, auth, clientId), an incremental run that
-- sends conditions=lastUpdated>[...] and picks up a changed addition and catalog item, a full
-- reconcile that finds a deleted addition, and the options.
--
-- The fake's book: companies 11 Contoso Ltd (Pax8 ID custom field p8-contoso, account ACC-11),
-- 12 Fabrikam, Inc. (blank account number), 13 Northwind GmbH (parent 11); catalog items 101
-- M365-BP (22.00 / 18.70, Monthly), 102 M365-E3-ANNUAL (36.00 / 32.40, Annual), 103 SETUP (150.00,
-- not recurring); agreements 201 Contoso (from 2024-01-01, no end, Monthly), 202 Fabrikam
-- (2024-02-01 to 2025-01-31, Annual), 203 Northwind (cancelled 2024-03-15); additions 301, 302, 303
-- of 201, 304 of 202, none of 203. lastUpdated: companies 01:00-03:00, catalog 04:00-06:00,
-- agreements 07:00-09:00, additions 10:00-13:00 on 2024-01-01.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET timezone = 'UTC';
\ir lib/helpers.sql
\ir lib/cw.sql

SELECT plan(30);

SELECT pg_temp.cw('cw', 'changed-s1', '{"vendor_ref_field": "Pax8 ID"}') AS src \gset
CALL pg_temp.run('cw');

SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, pages, requests, error FROM pg_temp.last('cw')$$,
                  $$VALUES ('succeeded', 13::bigint, 0::bigint, 0::bigint, 10::bigint, 10::bigint, NULL::text)$$,
                  'first sync: 3 companies + 3 catalog items + 3 agreements + 4 additions, 10 pages, 10 requests');
SELECT results_eq($$SELECT status, path FROM pg_temp.cw_reqs('changed-s1') ORDER BY n$$,
                  $$VALUES (200, '/company/companies?page=1&pageSize=2&orderBy=id%20asc'),
                           (200, '/company/companies?page=2&pageSize=2&orderBy=id%20asc'),
                           (200, '/procurement/catalog?page=1&pageSize=2&orderBy=id%20asc'),
                           (200, '/procurement/catalog?page=2&pageSize=2&orderBy=id%20asc'),
                           (200, '/finance/agreements?page=1&pageSize=2&orderBy=id%20asc'),
                           (200, '/finance/agreements?page=2&pageSize=2&orderBy=id%20asc'),
                           (200, '/finance/agreements/201/additions?page=1&pageSize=2&orderBy=id%20asc'),
                           (200, '/finance/agreements/201/additions?page=2&pageSize=2&orderBy=id%20asc'),
                           (200, '/finance/agreements/202/additions?page=1&pageSize=2&orderBy=id%20asc'),
                           (200, '/finance/agreements/203/additions?page=1&pageSize=2&orderBy=id%20asc')$$,
                  'the requests: each list from page 1 while pages are full, then each agreement''s additions (one empty), all answered (auth and clientId accepted)');

SELECT results_eq($$SELECT c.external_id, c.reference, c.name, c.email, p.external_id, c.vendor_ref, c.remote_created_at, c.remote_updated_at
                    FROM billing.customers c LEFT JOIN billing.customers p ON p.id = c.parent_id ORDER BY 1$$,
                  $$VALUES ('11', 'CONTOSO', 'Contoso Ltd', 'billing@contoso.example', NULL, 'p8-contoso', '2023-12-02 00:00+00'::timestamptz, '2024-01-01 01:00+00'::timestamptz),
                           ('12', 'FABRIKAM', 'Fabrikam, Inc.', 'billing@fabrikam.example', NULL, NULL, '2023-12-02 00:00+00', '2024-01-01 02:00+00'),
                           ('13', 'NORTHWIND', 'Northwind GmbH', 'billing@northwind.example', '11', NULL, '2023-12-02 00:00+00', '2024-01-01 03:00+00')$$,
                  'companies: id, identifier, name, invoice e-mail, parent company, vendor_ref from custom field "Pax8 ID" (null when unset), dates from _info');
SELECT results_eq($$SELECT external_id, sku, name, family, price, cost, currency, recurring, billing_cycle, remote_updated_at
                    FROM billing.products ORDER BY 1$$,
                  $$VALUES ('101', 'M365-BP', 'Microsoft 365 Business Premium', 'Licences', 22.00, 18.70, NULL::text, true, 'Monthly', '2024-01-01 04:00+00'::timestamptz),
                           ('102', 'M365-E3-ANNUAL', 'Microsoft 365 E3 (annual)', 'Licences', 36.00, 32.40, NULL, true, 'Annual', '2024-01-01 05:00+00'),
                           ('103', 'SETUP', 'Onboarding', 'Licences', 150.00, 0.00, NULL, false, NULL, '2024-01-01 06:00+00')$$,
                  'catalog items: identifier as SKU, description, category, exact price and cost, recurring flag, billing cycle from recurringBillCycle');
SELECT results_eq($$SELECT k.external_id, c.external_id, k.name, k.type, k.start_date, k.end_date, k.canceled_on, k.billing_cycle, k.currency, k.remote_updated_at
                    FROM billing.contracts k JOIN billing.customers c ON c.id = k.customer_id ORDER BY 1$$,
                  $$VALUES ('201', '11', 'Contoso Managed Services', 'Managed Services', '2024-01-01'::date, NULL::date, NULL::date, 'Monthly', 'USD', '2024-01-01 07:00+00'::timestamptz),
                           ('202', '12', 'Fabrikam Licences', 'Managed Services', '2024-02-01', '2025-01-31', NULL, 'Annual', 'USD', '2024-01-01 08:00+00'),
                           ('203', '13', 'Northwind (old)', 'Managed Services', '2023-01-01', NULL, '2024-03-15', 'Monthly', 'USD', '2024-01-01 09:00+00')$$,
                  'agreements -> contracts: company, name, type, start/end dates (none when noEndingDateFlag), cancelled date, billing cycle, currency');
SELECT results_eq($$SELECT s.external_id, c.external_id, k.external_id, p.external_id, s.product, s.sku, s.state, s.quantity, s.included_quantity,
                           s.unit_price, s.unit_cost, s.billable, s.started_at, s.canceled_at, s.currency, s.remote_updated_at
                    FROM billing.subscriptions s JOIN billing.customers c ON c.id = s.customer_id
                    LEFT JOIN billing.contracts k ON k.id = s.contract_id LEFT JOIN billing.products p ON p.id = s.product_id ORDER BY 1$$,
                  $$VALUES ('301', '11', '201', '101', 'Business Premium seats', 'M365-BP', 'Active', 12::numeric, 2::numeric, 22.00, 18.70, true, '2024-01-01 00:00+00'::timestamptz, NULL::timestamptz, NULL::text, '2024-01-01 10:00+00'::timestamptz),
                           ('302', '11', '201', '103', 'SETUP', 'SETUP', 'Active', 1, 0, 150.00, 0.00, false, '2024-01-01 00:00+00', NULL, NULL, '2024-01-01 11:00+00'),
                           ('303', '11', '201', '101', 'M365-BP', 'M365-BP', 'Active', 3, 0, 22.00, 18.70, true, '2024-06-01 00:00+00', '2024-09-30 00:00+00', NULL, '2024-01-01 12:00+00'),
                           ('304', '12', '202', '102', 'M365-E3-ANNUAL', 'M365-E3-ANNUAL', 'Active', 5, 0, 36.00, 32.40, false, '2024-02-01 00:00+00', NULL, NULL, '2024-01-01 13:00+00')$$,
                  'additions -> subscriptions: the agreement''s company and the agreement, catalog item, quantity, lessIncluded, exact price and cost, billCustomer (NoCharge and DoNotBill not billable), effective and cancelled dates');
SELECT results_eq($$SELECT entity, cursor FROM billing._sync_state WHERE source_id = $$ || :src || $$ ORDER BY entity$$,
                  $$VALUES ('additions', '{"since": "2024-01-01T13:00:00Z"}'::jsonb), ('agreements', '{"since": "2024-01-01T09:00:00Z"}'),
                           ('catalog', '{"since": "2024-01-01T06:00:00Z"}'), ('companies', '{"since": "2024-01-01T03:00:00Z"}')$$,
                  'each entity''s cursor settles at its newest lastUpdated');
SELECT is((SELECT raw #>> '{customFields,0,caption}' FROM billing.customers WHERE external_id = '11'), 'Pax8 ID', 'a company''s raw keeps its custom fields');

-- The second run is incremental: conditions=lastUpdated>[cursor - overlap_seconds (300)] on every
-- list. Meanwhile addition 301 went from 12 to 15 seats and catalog item 102's cost to 33.00.
CALL pg_temp.run('cw');
SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, pages, requests FROM pg_temp.last('cw')$$,
                  $$VALUES ('succeeded', 0::bigint, 2::bigint, 4::bigint, 7::bigint, 7::bigint)$$,
                  'incremental: 301 and 102 updated; 13, 103, 203 and 304 (inside the overlap) unchanged; 7 pages');
SELECT results_eq($$SELECT path FROM pg_temp.cw_reqs('changed-s1') WHERE n > 10 ORDER BY n$$,
                  $$VALUES ('/company/companies?page=1&pageSize=2&orderBy=id%20asc&conditions=lastUpdated%3E%5B2024-01-01T02%3A55%3A00Z%5D'),
                           ('/procurement/catalog?page=1&pageSize=2&orderBy=id%20asc&conditions=lastUpdated%3E%5B2024-01-01T05%3A55%3A00Z%5D'),
                           ('/procurement/catalog?page=2&pageSize=2&orderBy=id%20asc&conditions=lastUpdated%3E%5B2024-01-01T05%3A55%3A00Z%5D'),
                           ('/finance/agreements?page=1&pageSize=2&orderBy=id%20asc&conditions=lastUpdated%3E%5B2024-01-01T08%3A55%3A00Z%5D'),
                           ('/finance/agreements/201/additions?page=1&pageSize=2&orderBy=id%20asc&conditions=lastUpdated%3E%5B2024-01-01T12%3A55%3A00Z%5D'),
                           ('/finance/agreements/202/additions?page=1&pageSize=2&orderBy=id%20asc&conditions=lastUpdated%3E%5B2024-01-01T12%3A55%3A00Z%5D'),
                           ('/finance/agreements/203/additions?page=1&pageSize=2&orderBy=id%20asc&conditions=lastUpdated%3E%5B2024-01-01T12%3A55%3A00Z%5D')$$,
                  'the incremental requests carry conditions=lastUpdated>[YYYY-MM-DDTHH:MM:SSZ], URL-encoded');
SELECT results_eq($$SELECT quantity, included_quantity, remote_updated_at FROM billing.subscriptions WHERE external_id = '301'$$,
                  $$VALUES (15::numeric, 2::numeric, '2025-02-04 00:00+00'::timestamptz)$$, 'the changed addition: 15 seats, lessIncluded still 2');
SELECT is((SELECT cost FROM billing.products WHERE external_id = '102'), 33.00, 'the changed catalog item''s cost');
SELECT is((SELECT count(*)::int FROM billing.subscriptions), 4, 'no addition was stored twice');
SELECT is((SELECT cursor->>'since' FROM billing._sync_state WHERE source_id = :src AND entity = 'additions'), '2025-02-04T00:00:00Z',
          'the additions cursor moved to the changed addition''s lastUpdated');

-- A third run finds nothing new.
CALL pg_temp.run('cw');
SELECT results_eq($$SELECT status, records_inserted, records_updated FROM pg_temp.last('cw')$$,
                  $$VALUES ('succeeded', 0::bigint, 0::bigint)$$, 'a third run changes nothing');

-- vendor_ref from the account number: blank counts as none.
SELECT pg_temp.cw('cwacct', 'ok-s2', '{"vendor_ref_field": "accountNumber", "entities": ["companies"]}');
CALL pg_temp.run('cwacct');
SELECT results_eq($$SELECT c.external_id, c.vendor_ref FROM billing.customers c WHERE c.source_id = billing._source_id('cwacct') ORDER BY 1$$,
                  $$VALUES ('11', 'ACC-11'), ('12', NULL), ('13', NULL)$$,
                  'vendor_ref_field accountNumber: the account number, a blank one as none; option entities limits the run to companies');
SELECT is((SELECT count(*)::int FROM pg_temp.cw_reqs('ok-s2')), 2, 'only the companies were requested');
-- changing the option is seen at the next full read of a company, even when the company did not change
UPDATE billing.sources SET options = options || '{"vendor_ref_field": "Pax8 ID"}' WHERE name = 'cwacct';
CALL billing.sync('cwacct', true);
SELECT results_eq($$SELECT c.external_id, c.vendor_ref FROM billing.customers c WHERE c.source_id = billing._source_id('cwacct') ORDER BY 1$$,
                  $$VALUES ('11', 'p8-contoso'), ('12', NULL), ('13', NULL)$$,
                  'after the option changes, a full sync rewrites vendor_ref though the companies are unchanged');

-- A full reconcile: addition 303 is gone upstream (its GET answers 404) and is marked deleted.
SELECT pg_temp.cw('cwdel', 'deleted-s3');
CALL pg_temp.run('cwdel');
CALL billing.sync('cwdel', true);
SELECT results_eq($$SELECT status, full_reconcile, records_deleted FROM pg_temp.last('cwdel')$$,
                  $$VALUES ('succeeded', true, 1::bigint)$$, 'full reconcile: one record deleted');
SELECT results_eq($$SELECT external_id, deleted_at IS NOT NULL FROM billing.subscriptions WHERE source_id = billing._source_id('cwdel') ORDER BY 1$$,
                  $$VALUES ('301', false), ('302', false), ('303', true), ('304', false)$$, 'addition 303 has a tombstone, the others none');
SELECT results_eq($$SELECT status, path FROM pg_temp.cw_reqs('deleted-s3') WHERE path LIKE '%/additions/%' ORDER BY n$$,
                  $$VALUES (404, '/finance/agreements/201/additions/303')$$,
                  'the unlisted addition was asked for by id under its agreement before its tombstone');

-- Credentials: the fake checks them on every request; a wrong one is a 401, and nothing secret
-- reaches the run's record.
SELECT pg_temp.cw('cwauth', 'auth-s4');
CALL pg_temp.run('cwauth');
SELECT is((SELECT status FROM pg_temp.last('cwauth')), 'succeeded', 'the user is company_id+public_key and the clientId header is client_id');
SELECT billing.set_credentials('cwauth', jsonb_build_object('company_id', 'acme', 'public_key', 'wrong', 'client_id', 'client-s4',
                               'private_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')));
CALL pg_temp.run('cwauth');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('cwauth')$$,
                  $$VALUES ('failed', 'companies page 1: request failed: HTTP status 401')$$, 'a wrong public key: 401, the run fails');
SELECT billing.set_credentials('cwauth', jsonb_build_object('company_id', 'acme', 'public_key', 'pub-s4', 'client_id', 'other',
                               'private_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')));
CALL pg_temp.run('cwauth');
SELECT is((SELECT error FROM pg_temp.last('cwauth')), 'companies page 1: request failed: HTTP status 401', 'a wrong client id: 401');
SELECT throws_ok($$SELECT billing.add_source('cwbad', 'connectwise', 'https://example.com', '{"company_id": "a", "public_key": "b", "private_key": "c"}')$$,
                 '22023', NULL, 'a connectwise source needs client_id too');
SELECT is((SELECT count(*)::int FROM billing.sync_runs
           WHERE concat_ws(' ', error, error_detail, warnings) LIKE '%' || pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key') || '%'),
          0, 'the private key is in no run''s error, detail or warnings');

-- Options: per_page up to ConnectWise's 1000; unknown options refused.
SELECT pg_temp.cw('cwbig', 'ok-s5', '{"per_page": 1000}');
CALL pg_temp.run('cwbig');
SELECT results_eq($$SELECT status, pages, records_inserted FROM pg_temp.last('cwbig')$$,
                  $$VALUES ('succeeded', 6::bigint, 13::bigint)$$, 'pageSize 1000: one page per list');
UPDATE billing.sources SET options = options || '{"per_page": 1001}' WHERE name = 'cwbig';
CALL pg_temp.run('cwbig');
SELECT is((SELECT error FROM pg_temp.last('cwbig')), 'source "cwbig": option per_page must be from 1 to 1000', 'pageSize beyond 1000 is refused');
UPDATE billing.sources SET options = '{"vendor_ref_field": 7}' WHERE name = 'cwbig';
CALL pg_temp.run('cwbig');
SELECT is((SELECT error FROM pg_temp.last('cwbig')), 'source "cwbig": option vendor_ref_field must be a string', 'vendor_ref_field must be text');
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE status = 'running'), 0, 'no run is left running');
SELECT * FROM finish();
