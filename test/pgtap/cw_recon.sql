-- End to end: the fake ConnectWise synced (company vendor ids from the custom field "Pax8 ID") and a
-- vendor loaded by hand into a manual source (recon_role vendor); licence variance and the billing
-- comparison worked out by hand from the fake's book (see cw_sync.sql for it).
--
--   vendor company            PSA company (ConnectWise)
--   p8-contoso Contoso Holdings  -> 11 Contoso Ltd     (its Pax8 ID custom field is p8-contoso)
--   p8-fab     Fabrikam Inc      -> 12 Fabrikam, Inc.  (normalised name)
--   p8-nw      Northwind GmbH    -> 13 Northwind GmbH  (exact name)
--   vendor SKU MST-365BP -> catalog item M365-BP; MST-E3 -> M365-E3-ANNUAL
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET timezone = 'UTC';
\ir lib/helpers.sql
\ir lib/cw.sql
SELECT plan(9);

SELECT pg_temp.cw('cw', 'ok-r1', '{"vendor_ref_field": "Pax8 ID"}') AS psa \gset
CALL pg_temp.run('cw');
SELECT is((SELECT status FROM pg_temp.last('cw')), 'succeeded', 'the PSA is synced');
SELECT billing.add_source('pax8m', 'manual', options => '{"recon_role": "vendor"}') AS vendor \gset

INSERT INTO billing.customers (source_id, external_id, name) VALUES
    (:vendor, 'p8-contoso', 'Contoso Holdings'), (:vendor, 'p8-fab', 'Fabrikam Inc'), (:vendor, 'p8-nw', 'Northwind GmbH'),
    (:vendor, 'partner', 'Our MSP');
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, sku, product, state, quantity, billing_term)
SELECT :vendor, x.ext, c.id, x.sku, x.sku, 'Active', x.qty, x.term
  FROM (VALUES ('vs1', 'p8-contoso', 'MST-365BP', 12, 'Monthly'), ('vs2', 'p8-fab', 'MST-E3', 5, 'Annual'),
               ('vs3', 'p8-nw', 'MST-365BP', 4, 'Monthly')) x (ext, cust, sku, qty, term)
  JOIN billing.customers c ON c.source_id = :vendor AND c.external_id = x.cust;
INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product) VALUES
    (:vendor, 'MST-365BP', :psa, 'M365-BP'), (:vendor, 'MST-E3', :psa, 'M365-E3-ANNUAL');
SELECT is(billing.refresh_company_map(), 3, 'the three vendor companies are mapped');
SELECT results_eq($$SELECT v.external_id, p.external_id, m.method FROM billing.company_map m
                    JOIN billing.customers v ON v.id = m.vendor_company_id JOIN billing.customers p ON p.id = m.psa_company_id ORDER BY 1$$,
                  $$VALUES ('p8-contoso', '11', 'vendor_id'), ('p8-fab', '12', 'normalized'), ('p8-nw', '13', 'exact')$$,
                  'Contoso by the vendor id its ConnectWise company stores, Fabrikam by normalised name, Northwind by exact name');

-- 2024-07-15. PSA licences (quantity less lessIncluded, additions effective and not cancelled, in an
-- agreement in force):
--   Contoso M365-BP: 301 12 - 2 = 10, plus 303 3 (effective 2024-06-01, cancelled 2024-09-30) = 13;
--     vendor 12 -> -1, over-billed. 302 (SETUP) maps from no vendor SKU.
--   Fabrikam M365-E3-ANNUAL: 304 5 (DoNotBill: its licences still count) = 5; vendor 5 -> 0.
--   Northwind: agreement 203 has no additions: PSA 0; vendor 4 -> 4, under-billed.
SELECT results_eq($$SELECT company, sku, vendor_quantity, psa_quantity, difference, status
                    FROM billing.license_variance('2024-07-15') ORDER BY company$$,
                  $$VALUES ('Contoso Ltd', 'MST-365BP', 12::numeric, 13::numeric, -1::numeric, 'over_billed'),
                           ('Fabrikam, Inc.', 'MST-E3', 5, 5, 0, 'matched'),
                           ('Northwind GmbH', 'MST-365BP', 4, 0, 4, 'under_billed')$$,
                  'licence variance on 2024-07-15, figures by hand');
-- 2024-10-15: 303 was cancelled on 2024-09-30: Contoso PSA 10 -> +2.
SELECT results_eq($$SELECT company, psa_quantity, difference, status FROM billing.license_variance('2024-10-15') WHERE sku = 'MST-365BP' ORDER BY company$$,
                  $$VALUES ('Contoso Ltd', 10::numeric, 2::numeric, 'under_billed'), ('Northwind GmbH', 0, 4, 'under_billed')$$,
                  'after the cancelled date the addition no longer counts');
-- 2025-03-01: agreement 202 ended on 2025-01-31: Fabrikam PSA 0 -> +5.
SELECT results_eq($$SELECT psa_quantity, difference FROM billing.license_variance('2025-03-01') WHERE company = 'Fabrikam, Inc.'$$,
                  $$VALUES (0::numeric, 5::numeric)$$, 'after its agreement''s end date an addition no longer counts');

-- Billing comparison, July 2024: the vendor's bill of 2024-07-01 names each client on its lines.
INSERT INTO billing.invoices (source_id, external_id, customer_id, issue_date, currency, direction, status)
SELECT :vendor, 'inv-jul', c.id, '2024-07-01', 'USD', 'payable', 'open'
  FROM billing.customers c WHERE c.source_id = :vendor AND c.external_id = 'partner';
INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, customer_id, sku, product, quantity, subtotal, total, cost,
                                   billing_term, currency, period_start, period_end)
SELECT i.id, x.ext, 'plan', c.id, x.sku, x.sku, x.qty, x.price, x.price, x.cost, x.term, 'USD', '2024-07-01', '2024-08-01'
  FROM (VALUES ('l1', 'p8-contoso', 'MST-365BP', 12, 240, 216, 'Monthly'), ('l2', 'p8-fab', 'MST-E3', 5, 175, 160, 'Annual'))
       x (ext, cust, sku, qty, price, cost, term)
  JOIN billing.invoices i ON i.external_id = 'inv-jul'
  JOIN billing.customers c ON c.source_id = :vendor AND c.external_id = x.cust;
-- PSA at 2024-07-31, extended by quantity less included:
--   Contoso: 301 10 x 22.00 = 220.00, 303 3 x 22.00 = 66.00 -> price 286.00; cost 10 x 18.70 + 3 x 18.70 = 243.10.
--     price_difference 240 - 286 = -46; margin 286 - 216 = 70; margin_pct 70 / 286 = 0.24476 -> 0.2448;
--     vendor cost - PSA price 216 - 286 = -70; Monthly against the catalog item's Monthly cycle: matched.
--   Fabrikam: 304 is DoNotBill -> price 0; cost 5 x 32.40 = 162.00. price_difference 175; margin 0 - 160 = -160;
--     no margin_pct (no PSA price); compat 160; Annual against Annual: matched.
SELECT results_eq($$SELECT company, sku, vendor_quantity, psa_quantity, vendor_cost, vendor_price, psa_price, psa_cost,
                           price_difference, margin, margin_pct, vendor_cost_minus_psa_price, vendor_term, psa_term, status
                      FROM billing.billing_comparison('2024-07-10') ORDER BY company$$,
                  $$VALUES ('Contoso Ltd', 'MST-365BP', 12::numeric, 13::numeric, 216::numeric, 240::numeric, 286.00::numeric, 243.10::numeric,
                            -46::numeric, 70::numeric, 0.2448::numeric, -70::numeric, 'monthly', 'monthly', 'matched'),
                           ('Fabrikam, Inc.', 'MST-E3', 5, 5, 160, 175, 0, 162.00, 175, -160, NULL, 160, 'annual', 'annual', 'matched')$$,
                  'billing comparison for July 2024 from the synced agreements, figures by hand');

-- The PSA changes upstream (scenario changed: addition 301 goes to 15 seats); an incremental sync
-- moves the variance: Contoso 15 - 2 + 3 = 16 against 12 -> -4.
SELECT pg_temp.cw('cw2', 'changed-r2', '{"vendor_ref_field": "Pax8 ID"}') AS psa2 \gset
UPDATE billing.product_map SET psa_source_id = :psa2;
DELETE FROM billing.subscriptions WHERE source_id = :psa;
DELETE FROM billing.contracts WHERE source_id = :psa;
DELETE FROM billing.products WHERE source_id = :psa;
DELETE FROM billing.company_map;
DELETE FROM billing.sources WHERE id = :psa;
CALL pg_temp.run('cw2');
CALL pg_temp.run('cw2');
SELECT is((SELECT records_updated FROM pg_temp.last('cw2')), 2::bigint, 'the incremental run updated the changed addition and catalog item');
SELECT results_eq($$SELECT company, psa_quantity, difference, status FROM billing.license_variance('2024-07-15') WHERE sku = 'MST-365BP' ORDER BY company$$,
                  $$VALUES ('Contoso Ltd', 16::numeric, -4::numeric, 'over_billed'), ('Northwind GmbH', 0, 4, 'under_billed')$$,
                  'the variance follows the synced change (the company map was rebuilt by the sync)');
SELECT * FROM finish();
