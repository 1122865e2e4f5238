-- Licence variance and billing comparison (domain.md 4) with figures worked out by hand, on a vendor
-- and a PSA loaded by hand into two manual sources. The book, as of 2026-03-15 (month: March 2026):
--
--   vendor (Pax8-like)          PSA (ConnectWise-like)
--   v1 Acme Inc.        ->      p1 ACME                (normalised name)
--   v2 Globex Corporation ->    p2 Globex Corporation  (exact name)
--   v3 Initech          ->      p3 Initech Holdings    (p3 stores the vendor id v3)
--   v4 Umbrella (excluded) ->   p4 Umbrella
--   v5 Stark            ->      none: p5a Stark Ltd and p5b STARK, LLC both match
--                               p6 Wayne               (no vendor company)
--   SKU M365BP -> PSA products M365BP and M365BP-ADD (one SKU, two PSA products); EXO1 -> EXO1;
--   DEF -> DEF; TEAMS unmapped; AZ excluded.
SET client_min_messages = warning;
SET timezone = 'UTC';
SELECT plan(22);

SELECT billing.add_source('pax8m', 'manual', options => '{"recon_role": "vendor"}') AS vendor \gset
SELECT billing.add_source('cwm', 'manual', options => '{"recon_role": "psa"}') AS psa \gset

INSERT INTO billing.customers (source_id, external_id, name, vendor_ref) VALUES
    (:psa, 'p1', 'ACME', NULL), (:psa, 'p2', 'Globex Corporation', NULL), (:psa, 'p3', 'Initech Holdings', 'v3'),
    (:psa, 'p4', 'Umbrella', NULL), (:psa, 'p5a', 'Stark Ltd', NULL), (:psa, 'p5b', 'STARK, LLC', NULL),
    (:psa, 'p6', 'Wayne', NULL),
    (:vendor, 'v1', 'Acme Inc.', NULL), (:vendor, 'v2', 'Globex Corporation', NULL), (:vendor, 'v3', 'Initech', NULL),
    (:vendor, 'v4', 'Umbrella', NULL), (:vendor, 'v5', 'Stark', NULL), (:vendor, 'partner', 'Our MSP', NULL);
CREATE TEMP TABLE c AS SELECT id, external_id FROM billing.customers;
INSERT INTO billing.exclusions (source_id, kind, key) VALUES (:vendor, 'company', 'v4'), (:vendor, 'product', 'AZ');

INSERT INTO billing.products (source_id, external_id, sku, name, billing_cycle) VALUES
    (:psa, '101', 'M365BP', 'Microsoft 365 Business Premium', 'Monthly'),
    (:psa, '102', 'M365BP-ADD', 'Microsoft 365 Business Premium (extra seats)', 'Monthly'),
    (:psa, '103', 'EXO1', 'Exchange Online Plan 1', 'Annual'),
    (:psa, '104', 'DEF', 'Defender for Business', 'Annual');
INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product) VALUES
    (:vendor, 'M365BP', :psa, 'M365BP'), (:vendor, 'M365BP', :psa, 'M365BP-ADD'),
    (:vendor, 'EXO1', :psa, 'EXO1'), (:vendor, 'DEF', :psa, 'DEF');

-- vendor subscriptions
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, sku, product, state, quantity, billing_term)
SELECT :vendor, x.ext, c.id, x.sku, x.sku, x.state, x.qty, x.term
  FROM (VALUES ('vs1', 'v1', 'M365BP', 'Active', 10, 'Monthly'),
               ('vs2', 'v1', 'EXO1', 'Active', 3, 'Monthly'),
               ('vs3', 'v1', 'AZ', 'Active', 9, 'Annual'),          -- excluded SKU
               ('vs4', 'v2', 'DEF', 'PendingCancel', 5, 'Annual'),  -- still holds its licences
               ('vs5', 'v2', 'M365BP', 'Cancelled', 2, 'Monthly'),  -- holds none
               ('vs6', 'v3', 'M365BP', 'Active', 4, 'Monthly'),
               ('vs7', 'v3', 'TEAMS', 'Active', 1, 'Monthly'),
               ('vs8', 'v4', 'M365BP', 'Active', 7, 'Monthly'),     -- excluded company
               ('vs9', 'v5', 'M365BP', 'Active', 1, 'Monthly')) x (ext, cust, sku, state, qty, term)
  JOIN c ON c.external_id = x.cust;

-- PSA agreements and their additions (effective and cancelled dates, lessIncluded, bill-customer)
INSERT INTO billing.contracts (source_id, external_id, customer_id, name, start_date, canceled_on, billing_cycle)
SELECT :psa, x.ext, c.id, x.name, '2025-01-01', x.canceled::date, 'Monthly'
  FROM (VALUES ('a1', 'p1', 'ACME MSA', NULL), ('a2', 'p2', 'Globex MSA', NULL), ('a2old', 'p2', 'Globex old', '2026-02-01'),
               ('a3', 'p3', 'Initech MSA', NULL), ('a4', 'p4', 'Umbrella MSA', NULL), ('a6', 'p6', 'Wayne MSA', NULL)) x (ext, cust, name, canceled)
  JOIN c ON c.external_id = x.cust;
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, contract_id, sku, state, quantity, included_quantity,
                                   unit_price, unit_cost, billable, started_at, canceled_at)
SELECT :psa, x.ext, c.id, k.id, x.sku, 'active', x.qty, x.incl, x.price, x.cost, x.billable, x.eff::timestamptz, x.cancel::timestamptz
  FROM (VALUES ('ad1', 'a1', 'M365BP', 6, 0, 22, 20, true, '2025-06-01', NULL),
               ('ad2', 'a1', 'M365BP-ADD', 5, 1, 25, 20, true, '2025-06-01', NULL),   -- 5 less 1 included = 4
               ('ad3', 'a1', 'EXO1', 3, 0, 5, 3, true, '2026-01-01', NULL),
               ('ad4', 'a1', 'EXO1', 2, 0, 5, 3, true, '2026-04-01', NULL),           -- not yet effective
               ('ad5', 'a1', 'EXO1', 4, 0, 5, 3, true, '2025-01-01', '2026-03-01'),   -- cancelled
               ('ad6', 'a1', 'LABOUR', 10, 0, 100, 50, true, '2025-01-01', NULL),     -- no SKU maps to it
               ('ad7', 'a2', 'DEF', 3, 0, 10, 8, true, '2025-01-01', NULL),
               ('ad8', 'a2', 'DEF', 1, 0, 10, 8, false, '2025-01-01', NULL),          -- NoCharge: counts, not billed
               ('ad9', 'a2old', 'DEF', 50, 0, 10, 8, true, '2025-01-01', NULL),       -- its agreement is cancelled
               ('ad10', 'a3', 'M365BP', 6, 0, 22, 20, true, '2025-01-01', NULL),
               ('ad11', 'a4', 'M365BP', 7, 0, 22, 20, true, '2025-01-01', NULL),      -- Umbrella: excluded with v4
               ('ad12', 'a6', 'DEF', 2, 0, 10, 8, true, '2025-01-01', NULL))
       x (ext, agr, sku, qty, incl, price, cost, billable, eff, cancel)
  JOIN billing.contracts k ON k.external_id = x.agr JOIN c ON c.id = k.customer_id;

SELECT is(billing.refresh_company_map(), 4, 'v1, v2, v3 and v4 are mapped automatically; v5 matches two PSA companies');

-- Licence variance on 2026-03-15. PSA quantities:
--   ACME M365BP   6 (M365BP) + (5 - 1) (M365BP-ADD, lessIncluded 1) = 10; vendor 10 -> 0
--   ACME EXO1     3 (ad3); ad4 is effective only from 2026-04-01, ad5 cancelled on 2026-03-01 -> 3; vendor 3 -> 0
--   Globex DEF    3 + 1 (the NoCharge addition still holds licences) = 4; ad9's agreement ended -> 4; vendor 5 -> 1
--   Initech M365BP 6; vendor 4 -> -2.   Initech TEAMS: no product mapping.   Stark: no company mapping.
--   Wayne DEF     2; no vendor company -> 0 - 2 = -2.   Umbrella and AZ: excluded.   Globex M365BP: cancelled.
SELECT results_eq(
    $$SELECT company, sku, vendor_quantity, psa_quantity, difference, status
        FROM billing.license_variance('2026-03-15') ORDER BY company, sku$$,
    $$VALUES ('ACME', 'EXO1', 3::numeric, 3::numeric, 0::numeric, 'matched'),
             ('ACME', 'M365BP', 10, 10, 0, 'matched'),
             ('Globex Corporation', 'DEF', 5, 4, 1, 'under_billed'),
             ('Initech Holdings', 'M365BP', 4, 6, -2, 'over_billed'),
             ('Initech Holdings', 'TEAMS', 1, NULL, NULL, 'unmapped_product'),
             ('Stark', 'M365BP', 1, NULL, NULL, 'unmapped_company'),
             ('Wayne', 'DEF', 0, 2, -2, 'over_billed')$$,
    'licence variance as of 2026-03-15');
SELECT results_eq(
    $$SELECT vendor_company_ids = ARRAY[(SELECT id FROM c WHERE external_id = 'v1')], company_id = (SELECT id FROM c WHERE external_id = 'p1')
        FROM billing.license_variance('2026-03-15') WHERE company = 'ACME' AND sku = 'M365BP'$$,
    $$VALUES (true, true)$$, 'a row names the PSA company and the vendor companies counted in it');
-- ad4 effective from 2026-04-01: 3 + 2 = 5 against 3 -> -2
SELECT results_eq($$SELECT psa_quantity, difference FROM billing.license_variance('2026-04-01') WHERE company = 'ACME' AND sku = 'EXO1'$$,
    $$VALUES (5::numeric, -2::numeric)$$, 'an addition counts from its effective date');
-- ad5 cancelled on 2026-03-01 still counted the day before: 3 + 4 = 7 against 3 -> -4
SELECT results_eq($$SELECT psa_quantity, difference FROM billing.license_variance('2026-02-28') WHERE company = 'ACME' AND sku = 'EXO1'$$,
    $$VALUES (7::numeric, -4::numeric)$$, 'an addition counts until its cancelled date');
SELECT set_eq($$SELECT * FROM billing.license_variance$$, $$SELECT * FROM billing.license_variance(billing._recon_today())$$,
    'the view is the function as of today');

-- Billing comparison, March 2026. The vendor's March bill (issued 2026-03-01) names each client on its lines.
INSERT INTO billing.invoices (source_id, external_id, customer_id, issue_date, currency, direction, status)
SELECT :vendor, x.ext, c.id, x.issued::date, 'USD', 'payable', x.status
  FROM (VALUES ('inv-mar', '2026-03-01', 'open'), ('inv-void', '2026-03-05', 'voided'), ('inv-feb', '2026-02-01', 'paid')) x (ext, issued, status)
  JOIN c ON c.external_id = 'partner';
INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, customer_id, subscription_id, sku, product, quantity,
                                   subtotal, total, cost, billing_term, currency, period_start, period_end)
SELECT i.id, x.ext, 'plan', c.id, (SELECT s.id FROM billing.subscriptions s WHERE s.external_id = x.sub), x.sku, x.sku, x.qty,
       x.price, x.price, x.cost, x.term, 'USD', '2026-03-01', '2026-04-01'
  FROM (VALUES ('inv-mar', 'l1', 'v1', 'vs1', 'M365BP', 10, 220, 200, NULL),     -- term from its subscription: Monthly
               ('inv-mar', 'l2', 'v1', NULL, 'EXO1', 3, 12, 9, 'Monthly'),
               ('inv-mar', 'l3', 'v1', NULL, 'AZ', 9, 90, 80, 'Annual'),         -- excluded SKU
               ('inv-mar', 'l4', 'v2', NULL, 'DEF', 5, 50, 40, '1 Year'),
               ('inv-mar', 'l5', 'v3', NULL, 'TEAMS', 1, 4, 3, 'Monthly'),
               ('inv-mar', 'l6', 'v5', NULL, 'M365BP', 1, 22, 20, 'Monthly'),
               ('inv-mar', 'l7', 'v4', NULL, 'M365BP', 7, 154, 140, 'Monthly'),  -- excluded company
               ('inv-void', 'l1', 'v2', NULL, 'DEF', 10, 100, 90, 'Annual'),     -- voided bill
               ('inv-feb', 'l1', 'v1', NULL, 'M365BP', 10, 220, 200, 'Monthly')) x (inv, ext, cust, sub, sku, qty, price, cost, term)
  JOIN billing.invoices i ON i.external_id = x.inv JOIN c ON c.external_id = x.cust;

-- PSA price and cost: the additions in force on 2026-03-31, extended by quantity less included.
--   ACME M365BP: price 6 x 22 + 4 x 25 = 132 + 100 = 232; cost 6 x 20 + 4 x 20 = 200.
--     price_difference 220 - 232 = -12; margin 232 - 200 = 32; margin_pct 32 / 232 = 0.13793 -> 0.1379;
--     vendor cost - PSA price 200 - 232 = -32. Terms monthly / monthly: matched.
--   ACME EXO1: 3 x 5 = 15, 3 x 3 = 9; vendor 12, 9. price_difference -3, margin 6, 6 / 15 = 0.4, compat -6;
--     the vendor's term is Monthly, the PSA product is billed Annual: term_mismatch.
--   Globex DEF: price 3 x 10 + 0 (NoCharge) = 30; cost 3 x 8 + 1 x 8 = 32; vendor 50, 40.
--     price_difference 20, margin 30 - 40 = -10, -10 / 30 = -0.3333, compat 10; 1 Year vs Annual: matched.
--   Initech M365BP: PSA 6 x 22 = 132, cost 120; nothing on the vendor's bill: psa_only, margin 132, 1.0000.
--   Initech TEAMS: vendor 4, 3; SKU unmapped: vendor_only, margin 0 - 3 = -3, no margin_pct.
--   Stark M365BP: vendor 22, 20; company unmapped: vendor_only, margin -20.
--   Wayne DEF: PSA 2 x 10 = 20, 2 x 8 = 16: psa_only, margin 20, 1.0000.
SELECT results_eq(
    $$SELECT company, sku, vendor_quantity, psa_quantity, vendor_cost, vendor_price, psa_price, psa_cost,
             price_difference, margin, margin_pct, vendor_cost_minus_psa_price, vendor_term, psa_term, status
        FROM billing.billing_comparison('2026-03-15') ORDER BY company, sku$$,
    $$VALUES ('ACME', 'EXO1', 3::numeric, 3::numeric, 9::numeric, 12::numeric, 15::numeric, 9::numeric, -3::numeric, 6::numeric, 0.4000::numeric, -6::numeric, 'monthly', 'annual', 'term_mismatch'),
             ('ACME', 'M365BP', 10, 10, 200, 220, 232, 200, -12, 32, 0.1379, -32, 'monthly', 'monthly', 'matched'),
             ('Globex Corporation', 'DEF', 5, 4, 40, 50, 30, 32, 20, -10, -0.3333, 10, 'annual', 'annual', 'matched'),
             ('Initech Holdings', 'M365BP', 0, 6, 0, 0, 132, 120, -132, 132, 1.0000, -132, NULL, 'monthly', 'psa_only'),
             ('Initech Holdings', 'TEAMS', 1, 0, 3, 4, 0, 0, 4, -3, NULL, 3, 'monthly', NULL, 'vendor_only'),
             ('Stark', 'M365BP', 1, 0, 20, 22, 0, 0, 22, -20, NULL, 20, 'monthly', NULL, 'vendor_only'),
             ('Wayne', 'DEF', 0, 2, 0, 0, 20, 16, -20, 20, 1.0000, -20, NULL, 'annual', 'psa_only')$$,
    'billing comparison for March 2026: every status, figures by hand');
SELECT results_eq(
    $$SELECT company, sku, note FROM billing.billing_comparison('2026-03-01') WHERE note IS NOT NULL ORDER BY company, sku$$,
    $$VALUES ('Initech Holdings', 'M365BP', 'nothing on the vendor''s bills of the month'),
             ('Initech Holdings', 'TEAMS', 'vendor SKU not mapped to a PSA product'),
             ('Stark', 'M365BP', 'vendor company not mapped to a PSA company'),
             ('Wayne', 'DEF', 'nothing on the vendor''s bills of the month')$$,
    'a one-sided row says why; any day of the month gives the month');
-- February: the vendor billed ACME M365BP 220 / 200; on 2026-02-28 ad5 was not yet cancelled:
-- EXO1 PSA 3 + 4 = 7 licences, 7 x 5 = 35, nothing from the vendor that month.
SELECT results_eq(
    $$SELECT sku, vendor_price, psa_quantity, psa_price, status FROM billing.billing_comparison('2026-02-01')
       WHERE company = 'ACME' ORDER BY sku$$,
    $$VALUES ('EXO1', 0::numeric, 7::numeric, 35::numeric, 'psa_only'), ('M365BP', 220, 10, 232, 'matched')$$,
    'February reads February''s bill and the additions in force on 2026-02-28');

-- the terms compare as monthly or annual
SELECT is(billing._recon_term_class('2-Year'), 'annual', '2-Year counts as annual');
SELECT is(billing._recon_term_class('3 Year'), 'annual', '3 Year counts as annual');
SELECT is(billing._recon_term_class('Trial'), NULL, 'Trial has no class and never mismatches');
-- a three-year vendor term against a yearly PSA cycle is no mismatch
UPDATE billing.invoice_lines SET billing_term = '3-Year' WHERE sku = 'DEF';
SELECT is((SELECT status FROM billing.billing_comparison('2026-03-01') WHERE sku = 'DEF' AND company LIKE 'Globex%'), 'matched',
    'a 3-Year vendor term matches an Annual PSA product');
-- a PSA product with no cycle of its own takes its agreement's (Monthly here)
UPDATE billing.products SET billing_cycle = NULL WHERE sku = 'EXO1';
SELECT results_eq($$SELECT psa_term, status FROM billing.billing_comparison('2026-03-01') WHERE company = 'ACME' AND sku = 'EXO1'$$,
    $$VALUES ('monthly', 'matched')$$, 'without a product cycle the agreement''s billing cycle decides');

-- exclusions remove rows from every report
INSERT INTO billing.exclusions (source_id, kind, key) VALUES (:psa, 'product', 'M365BP-ADD');
-- ACME M365BP now counts ad1 only: 6 licences, 132 of price; 10 - 6 = 4 under-billed
SELECT results_eq($$SELECT psa_quantity, difference FROM billing.license_variance('2026-03-15') WHERE company = 'ACME' AND sku = 'M365BP'$$,
    $$VALUES (6::numeric, 4::numeric)$$, 'an excluded PSA product no longer counts in the licences');
SELECT results_eq($$SELECT psa_price, psa_cost FROM billing.billing_comparison('2026-03-01') WHERE company = 'ACME' AND sku = 'M365BP'$$,
    $$VALUES (132::numeric, 120::numeric)$$, 'nor in the billing comparison');
INSERT INTO billing.exclusions (source_id, kind, key) VALUES (:psa, 'company', 'p6');
SELECT is((SELECT count(*) FROM billing.license_variance('2026-03-15') WHERE company = 'Wayne'), 0::bigint, 'an excluded PSA company leaves the licences');
SELECT is((SELECT count(*) FROM billing.billing_comparison('2026-03-01') WHERE company = 'Wayne'), 0::bigint, 'and the billing comparison');
SELECT is((SELECT count(*) FROM billing.billing_comparison('2026-03-01') WHERE company = 'Umbrella' OR sku = 'AZ'), 0::bigint,
    'the excluded vendor company and SKU are in no row');
INSERT INTO billing.exclusions (source_id, kind, key) VALUES (:vendor, 'company', 'v5');
SELECT is((SELECT count(*) FROM billing.license_variance('2026-03-15') WHERE company = 'Stark'), 0::bigint,
    'excluding an unmapped vendor company removes it too');

-- left: ACME EXO1, ACME M365BP, Globex DEF, Initech M365BP, Initech TEAMS
SELECT is((SELECT count(*) FROM billing.license_variance('2026-03-15')), 5::bigint, 'five licence rows remain');
SET ROLE billing_reader;
SELECT lives_ok($$SELECT * FROM billing.license_variance, billing.billing_comparison('2026-03-01')$$,
    'billing_reader reads the reports');
RESET ROLE;

SELECT * FROM finish();
