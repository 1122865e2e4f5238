-- End to end: the fake Pax8 synced (companies, subscriptions, a March 2024 invoice whose items bill
-- two client companies) against a PSA loaded by hand into a manual source (recon_role psa:
-- companies, agreements, agreement additions as subscriptions, catalog items with billing_cycle),
-- then billing.billing_comparison and billing.license_variance asserted row by row.
--
--   Pax8 (fake)                                   PSA (by hand)
--   c1 Acme Pty      -> P-ACME  "ACME"            (normalised name: "acme pty" less suffix "pty")
--   c2 Beta LLC      -> P-BETA  "Beta LLC"        (exact name)
--   c3 Gamma Inc     -> P-GAMMA "Gamma Holdings"  (P-GAMMA stores c3's id in vendor_ref)
--   partner:Northwind MSP (the invoices' customer) -> none, and needs none
--   SKU MST-365-BB -> PSA catalog item M365-BB (Monthly); ACR-BKP -> BACKUP (Monthly)
--
-- Pax8 subscriptions: s1 c1 MST-365-BB 10 Active; s2 c1 ACR-BKP 3 Active (Annual);
--   s3 c2 MST-365-BB 25 Cancelled (holds none); s4 c3 ACR-BKP 1 PendingManual (holds none).
-- Pax8 invoice of 2024-03-01 (items): c1 MST-365-BB 10 cost 51 price 60 Monthly;
--   c1 ACR-BKP 3 cost 29.97 price 37.5 Annual; c2 MST-365-BB 25 cost 127.5 price 150 Monthly.
--   (invoice of 2024-02-01: c1 MST-365-BB 8 cost 40.8 price 48; another month)
-- PSA additions: A1 (ACME) ad1 M365-BB 12 less 2 included at 8.00 (cost 6.50) from 2024-01-01;
--   ad2 BACKUP 2 at 15 (cost 10); ad5 M365-BB 4 cancelled 2024-03-15;
--   A2 (Beta) ad3 M365-BB 20 at 7.50 (cost 6) from 2024-01-01; ad4 M365-BB 5 from 2024-04-01;
--   A3 (Gamma) ad6 BACKUP 1 at 15 (cost 10).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET timezone = 'UTC';
SELECT plan(8);

SELECT billing.add_source('cwr', 'manual', options => '{"recon_role": "psa"}') AS psa \gset
INSERT INTO billing.customers (source_id, external_id, name, vendor_ref) VALUES
    (:psa, 'P-ACME', 'ACME', NULL), (:psa, 'P-BETA', 'Beta LLC', NULL),
    (:psa, 'P-GAMMA', 'Gamma Holdings', '11111111-0000-4000-8000-000000000003');
INSERT INTO billing.products (source_id, external_id, sku, name, billing_cycle) VALUES
    (:psa, '201', 'M365-BB', 'Microsoft 365 Business Basic', 'Monthly'),
    (:psa, '202', 'BACKUP', 'Cloud backup', 'Monthly');
INSERT INTO billing.contracts (source_id, external_id, customer_id, name, start_date, billing_cycle)
SELECT :psa, x.ext, c.id, x.name, '2024-01-01', 'Monthly'
  FROM (VALUES ('A1', 'P-ACME', 'ACME MSA'), ('A2', 'P-BETA', 'Beta MSA'), ('A3', 'P-GAMMA', 'Gamma MSA')) x (ext, cust, name)
  JOIN billing.customers c ON c.source_id = :psa AND c.external_id = x.cust;
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, contract_id, sku, state, quantity, included_quantity,
                                   unit_price, unit_cost, billable, started_at, canceled_at)
SELECT :psa, x.ext, k.customer_id, k.id, x.sku, 'active', x.qty, x.incl, x.price, x.cost, true, x.eff::timestamptz, x.cancel::timestamptz
  FROM (VALUES ('ad1', 'A1', 'M365-BB', 12, 2, 8.00, 6.50, '2024-01-01', NULL),
               ('ad2', 'A1', 'BACKUP', 2, 0, 15, 10, '2024-01-01', NULL),
               ('ad5', 'A1', 'M365-BB', 4, 0, 8.00, 6.50, '2024-01-01', '2024-03-15'),   -- cancelled
               ('ad3', 'A2', 'M365-BB', 20, 0, 7.50, 6, '2024-01-01', NULL),
               ('ad4', 'A2', 'M365-BB', 5, 0, 7.50, 6, '2024-04-01', NULL),              -- from April
               ('ad6', 'A3', 'BACKUP', 1, 0, 15, 10, '2024-01-01', NULL))
       x (ext, agr, sku, qty, incl, price, cost, eff, cancel)
  JOIN billing.contracts k ON k.source_id = :psa AND k.external_id = x.agr;

SELECT billing.add_source('p8r', 'pax8', current_setting('pgb_test.pax8_url') || '/s/ok-r1/v1',
    '{"client_id": "pax8-client", "client_secret": "pax8-secret"}',
    jsonb_build_object('per_page', 200, 'max_requests_per_second', 200,
                       'token_url', current_setting('pgb_test.pax8_url') || '/s/ok-r1/oauth/token')) AS vendor \gset
INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product) VALUES
    (:vendor, 'MST-365-BB', :psa, 'M365-BB'), (:vendor, 'ACR-BKP', :psa, 'BACKUP');
CALL billing.sync('p8r');
SELECT is((SELECT status FROM billing.sync_runs WHERE source_id = :vendor), 'succeeded', 'the fake Pax8 synced');

-- The end of the sync refreshed the company map.
SELECT results_eq($$SELECT v.external_id, p.external_id, m.method FROM billing.company_map m
                    JOIN billing.customers v ON v.id = m.vendor_company_id JOIN billing.customers p ON p.id = m.psa_company_id
                    ORDER BY 1$$,
                  $$VALUES ('11111111-0000-4000-8000-000000000001', 'P-ACME', 'normalized'),
                           ('11111111-0000-4000-8000-000000000002', 'P-BETA', 'exact'),
                           ('11111111-0000-4000-8000-000000000003', 'P-GAMMA', 'vendor_id')$$,
                  'companies mapped at the end of the sync: normalised name, exact name, vendor id');
SELECT is((SELECT count(*) FROM billing.unmapped_companies) + (SELECT count(*) FROM billing.unmapped_products), 0::bigint,
          'nothing left to map: the partner row needs no mapping, both SKUs are mapped');

-- Billing comparison for March 2024 (vendor: the March invoice's items; PSA: additions in force on
-- 2024-03-31: ad5 cancelled on the 15th and ad4 effective from April do not count).
--   ACME / MST-365-BB: vendor 10, cost 51, price 60, Monthly; PSA ad1 12 - 2 = 10 at 8 = 80, cost 6.5 x 10 = 65, Monthly
--     price_difference 60 - 80 = -20; margin 80 - 51 = 29; margin_pct 29 / 80 = 0.3625; cost - PSA price 51 - 80 = -29; matched
--   ACME / ACR-BKP: vendor 3, cost 29.97, price 37.5, Annual; PSA ad2 2 at 15 = 30, cost 20, Monthly
--     price_difference 37.5 - 30 = 7.5; margin 30 - 29.97 = 0.03; pct 0.03 / 30 = 0.0010; -0.03; term_mismatch (annual vs monthly)
--   Beta LLC / MST-365-BB: vendor 25, cost 127.5, price 150; PSA ad3 20 at 7.5 = 150, cost 120
--     price_difference 0; margin 150 - 127.5 = 22.5; pct 22.5 / 150 = 0.15; -22.5; matched
--   Gamma Holdings / ACR-BKP: nothing on the March bill; PSA ad6 1 at 15, cost 10
--     price_difference -15; margin 15; pct 1; -15; psa_only
SELECT results_eq($$SELECT company, sku, product, vendor_quantity, psa_quantity, vendor_cost, vendor_price, psa_price, psa_cost,
                           price_difference, margin, margin_pct, vendor_cost_minus_psa_price, vendor_term, psa_term, status, note
                    FROM billing.billing_comparison('2024-03-10') ORDER BY company, sku$$,
                  $$VALUES ('ACME', 'ACR-BKP', 'Acronis Backup', 3::numeric, 2::numeric, 29.97::numeric, 37.5::numeric, 30::numeric, 20::numeric,
                            7.5::numeric, 0.03::numeric, 0.0010::numeric, -0.03::numeric, 'annual', 'monthly', 'term_mismatch', NULL::text),
                           ('ACME', 'MST-365-BB', 'Microsoft 365 Business Basic', 10, 10, 51, 60, 80, 65, -20, 29, 0.3625, -29, 'monthly', 'monthly', 'matched', NULL),
                           ('Beta LLC', 'MST-365-BB', 'Microsoft 365 Business Basic', 25, 20, 127.5, 150, 150, 120, 0, 22.5, 0.15, -22.5, 'monthly', 'monthly', 'matched', NULL),
                           ('Gamma Holdings', 'ACR-BKP', NULL, 0, 1, 0, 0, 15, 10, -15, 15, 1, -15, NULL, 'monthly', 'psa_only',
                            'nothing on the vendor''s bills of the month')$$,
                  'billing comparison, March 2024: every figure as worked above');
SELECT is((SELECT array_agg(v.external_id ORDER BY v.external_id) FROM billing.billing_comparison('2024-03-01') bc, unnest(bc.vendor_company_ids) x(id)
           JOIN billing.customers v ON v.id = x.id WHERE bc.company = 'Beta LLC'),
          ARRAY['11111111-0000-4000-8000-000000000002'], 'the Beta row counts the item whose companyId is Beta (not the invoice''s partner)');

-- February 2024: only the February invoice (Acme, 8 licences, cost 40.8, price 48) against the PSA
-- on 2024-02-29 (ad1 10 at 8 = 80, ad5 4 at 8 = 32 still in force: 14 licences, 112, cost 91;
-- ad2 for BACKUP; ad3 for Beta; ad6 for Gamma).
--   ACME / MST-365-BB: price_difference 48 - 112 = -64; margin 112 - 40.8 = 71.2; pct 71.2 / 112 = 0.6357 (0.63571...)
SELECT results_eq($$SELECT company, sku, vendor_quantity, psa_quantity, vendor_cost, psa_price, psa_cost, margin, margin_pct, status
                    FROM billing.billing_comparison('2024-02-01') ORDER BY company, sku$$,
                  $$VALUES ('ACME', 'ACR-BKP', 0::numeric, 2::numeric, 0::numeric, 30::numeric, 20::numeric, 30::numeric, 1.0000::numeric, 'psa_only'),
                           ('ACME', 'MST-365-BB', 8, 14, 40.8, 112, 91, 71.2, 0.6357, 'matched'),
                           ('Beta LLC', 'MST-365-BB', 0, 20, 0, 150, 120, 150, 1, 'psa_only'),
                           ('Gamma Holdings', 'ACR-BKP', 0, 1, 0, 15, 10, 15, 1, 'psa_only')$$,
                  'billing comparison, February 2024: the February bill only, the cancelled addition still in force');

-- Licence variance on 2024-03-31: vendor licences are the active subscriptions (s1 10, s2 3; s3
-- Cancelled and s4 PendingManual hold none); PSA as in the March comparison.
--   ACME MST-365-BB 10 - 10 = 0 matched; ACME ACR-BKP 3 - 2 = 1 under_billed;
--   Beta LLC MST-365-BB 0 - 20 = -20 over_billed; Gamma Holdings ACR-BKP 0 - 1 = -1 over_billed
SELECT results_eq($$SELECT company, sku, product, vendor_quantity, psa_quantity, difference, status
                    FROM billing.license_variance('2024-03-31') ORDER BY company, sku$$,
                  $$VALUES ('ACME', 'ACR-BKP', 'Acronis Backup', 3::numeric, 2::numeric, 1::numeric, 'under_billed'),
                           ('ACME', 'MST-365-BB', 'Microsoft 365 Business Basic', 10, 10, 0, 'matched'),
                           ('Beta LLC', 'MST-365-BB', NULL, 0, 20, -20, 'over_billed'),
                           ('Gamma Holdings', 'ACR-BKP', NULL, 0, 1, -1, 'over_billed')$$,
                  'licence variance on 2024-03-31');
-- Today (the view): ad4 is now in force too, so Beta's PSA quantity is 20 + 5 = 25: 0 - 25 = -25.
SELECT results_eq($$SELECT company, sku, vendor_quantity, psa_quantity, difference, status FROM billing.license_variance ORDER BY company, sku$$,
                  $$VALUES ('ACME', 'ACR-BKP', 3::numeric, 2::numeric, 1::numeric, 'under_billed'),
                           ('ACME', 'MST-365-BB', 10, 10, 0, 'matched'),
                           ('Beta LLC', 'MST-365-BB', 0, 25, -25, 'over_billed'),
                           ('Gamma Holdings', 'ACR-BKP', 0, 1, -1, 'over_billed')$$,
                  'licence variance today (the view): the April addition counts now');
SELECT * FROM finish();
