-- A licence vendor and a PSA loaded by hand through the manual_* load views only (45_manual_recon.sql):
-- the reconciliation columns (vendor_ref, a product's billing cycle, contracts, an addition's cost,
-- lessIncluded and bill-customer flag, a payable vendor bill whose lines name their client, cost and
-- term) reach the tables, and the pair shows up in billing.license_variance and
-- billing.billing_comparison with figures worked out by hand.
--
--   vendor "vend"                      PSA "psa"
--   v1 Acme Inc.            ->         p1 ACME            (normalised name)
--   v2 Totally Other Name   ->         p2 Globex          (p2 stores the vendor id v2: vendor_ref)
--   SKU M365 -> PSA product M365 (billing cycle Monthly)
--   vs1 v1 M365 10 Active              ad1 p1 agreement a1: 12, 2 included -> 10, 22.00 each, cost 20.00
--   vs2 v2 M365  5 Active              ad2 p1 agreement a1old (cancelled 2026-02-01): 50, never counted
--                                      ad3 p2 no agreement: 3, not billed to the customer (counts)
--   vendor bill vi1 (payable, 2026-03-05): line l1 for v1, M365 x 10, 60.00, cost 51.00, term Annual
SET client_min_messages = warning;
SET timezone = 'UTC';
SELECT plan(9);

SELECT billing.add_source('vend', 'manual', options => '{"recon_role": "vendor"}') AS vendor \gset
SELECT billing.add_source('psa', 'manual', options => '{"recon_role": "psa"}') AS psa \gset

INSERT INTO billing.manual_customers (source, external_id, name, vendor_ref) VALUES
    ('vend', 'v1', 'Acme Inc.', NULL), ('vend', 'v2', 'Totally Other Name', NULL), ('vend', 'partner', 'Our MSP', NULL),
    ('psa', 'p1', 'ACME', NULL), ('psa', 'p2', 'Globex', 'v2');
INSERT INTO billing.manual_products (source, external_id, sku, name, currency, billing_cycle) VALUES
    ('psa', '101', 'M365', 'Microsoft 365', 'USD', 'Monthly');
INSERT INTO billing.manual_contracts (source, external_id, customer, name, start_date, canceled_on, billing_cycle) VALUES
    ('psa', 'a1', 'p1', 'ACME MSA', '2025-01-01', NULL, 'Monthly'),
    ('psa', 'a1old', 'p1', 'ACME old', '2025-01-01', '2026-02-01', 'Monthly');
INSERT INTO billing.manual_subscriptions (source, external_id, customer, sku, product, state, quantity, unit_price, unit_cost,
                                          currency, billing_term, started_at, contract, included_quantity, billable) VALUES
    ('vend', 'vs1', 'v1', 'M365', 'Microsoft 365', 'Active', 10, 6.00, 5.10, 'USD', 'Monthly', '2025-01-01', NULL, NULL, NULL),
    ('vend', 'vs2', 'v2', 'M365', 'Microsoft 365', 'Active', 5, 6.00, 5.10, 'USD', 'Monthly', '2025-01-01', NULL, NULL, NULL),
    ('psa', 'ad1', 'p1', 'M365', NULL, 'active', 12, 22.00, 20.00, 'USD', NULL, '2025-06-01', 'a1', 2, true),
    ('psa', 'ad2', 'p1', 'M365', NULL, 'active', 50, 22.00, 20.00, 'USD', NULL, '2025-06-01', 'a1old', 0, true),
    ('psa', 'ad3', 'p2', 'M365', NULL, 'active', 3, 22.00, 20.00, 'USD', NULL, '2025-01-01', NULL, NULL, false);
INSERT INTO billing.manual_invoices (source, external_id, number, customer, issue_date, currency, subtotal, total, direction) VALUES
    ('vend', 'vi1', 'P-1', 'partner', '2026-03-05', 'USD', 60.00, 60.00, 'payable');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, sku, product, quantity, unit_price,
                                          period_start, period_end, customer, cost, billing_term) VALUES
    ('vend', 'vi1', 'l1', 'plan', 'M365', 'Microsoft 365', 10, 6.00, '2026-03-01', '2026-04-01', 'v1', 51.00, 'Annual');
INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product) VALUES (:vendor, 'M365', :psa, 'M365');

SELECT results_eq($$SELECT external_id, contract, quantity, included_quantity, billable, unit_cost
                    FROM billing.manual_subscriptions WHERE source = 'psa' ORDER BY external_id$$,
                  $$VALUES ('ad1', 'a1', 12::numeric, 2::numeric, true, 20.00::numeric),
                           ('ad2', 'a1old', 50, 0, true, 20.00),
                           ('ad3', NULL, 3, 0, false, 20.00)$$,
                  'manual_subscriptions takes and shows contract, lessIncluded (default 0), bill-customer flag (default true) and cost');
SELECT results_eq($$SELECT i.direction, l.sku, c.external_id, l.cost, l.billing_term
                    FROM billing.invoices i JOIN billing.invoice_lines l ON l.invoice_id = i.id
                    JOIN billing.customers c ON c.id = l.customer_id WHERE i.source_id = $$ || :vendor,
                  $$VALUES ('payable', 'M365', 'v1', 51.00::numeric, 'Annual')$$,
                  'a payable vendor bill whose line names its client, cost and term');
SELECT is((SELECT billing_cycle FROM billing.manual_products WHERE external_id = '101'), 'Monthly', 'manual_products keeps the billing cycle');
SELECT is((SELECT vendor_ref FROM billing.manual_customers WHERE external_id = 'p2'), 'v2', 'manual_customers keeps vendor_ref');
SELECT throws_ok($$INSERT INTO billing.manual_invoices (source, external_id, customer, issue_date, currency, direction)
                   VALUES ('vend', 'bad', 'partner', '2026-03-01', 'USD', 'sideways')$$,
                 '23514', 'invoice "bad": new row for relation "invoices" violates check constraint "invoices_direction_known"',
                 'an unknown direction is refused naming the row');

SELECT is(billing.refresh_company_map(), 2, 'v1 maps by normalised name, v2 by the vendor id p2 stores');

-- On 2026-03-15: ACME: vendor 10, PSA 12 - 2 included = 10 (ad2's agreement is cancelled) -> 0;
-- Globex: vendor 5, PSA 3 (not billed, still counted) -> under-billed by 2.
SELECT results_eq($$SELECT company, sku, vendor_quantity, psa_quantity, difference, status
                    FROM billing.license_variance('2026-03-15') ORDER BY company$$,
                  $$VALUES ('ACME', 'M365', 10::numeric, 10::numeric, 0::numeric, 'matched'),
                           ('Globex', 'M365', 5, 3, 2, 'under_billed')$$,
                  'the manually loaded pair shows in license_variance after lessIncluded and agreements');
SELECT results_eq($$SELECT company, vendor_quantity, psa_quantity FROM billing.license_variance ORDER BY company$$,
                  $$SELECT company, vendor_quantity, psa_quantity FROM billing.license_variance(billing._recon_today()) ORDER BY company$$,
                  'and in the view billing.license_variance (today)');
-- March 2026, ACME M365: vendor cost 51.00, vendor price 60.00; PSA 10 x 22.00 = 220.00, cost 10 x 20.00 = 200.00;
-- price difference 60 - 220 = -160; margin 220 - 51 = 169, 169 / 220 = 0.76818 -> 0.7682;
-- the vendor's term is annual, the PSA product's cycle monthly: term_mismatch.
-- Globex M365: nothing on the vendor's bill; PSA 3 not billed: price 0, cost 60.00 -> psa_only.
SELECT results_eq($$SELECT company, vendor_quantity, psa_quantity, vendor_cost, vendor_price, psa_price, psa_cost,
                           price_difference, margin, margin_pct, vendor_term, psa_term, status
                    FROM billing.billing_comparison('2026-03-01') ORDER BY company$$,
                  $$VALUES ('ACME', 10::numeric, 10::numeric, 51.00::numeric, 60.00::numeric, 220.00::numeric, 200.00::numeric,
                            -160.00::numeric, 169.00::numeric, 0.7682::numeric, 'annual', 'monthly', 'term_mismatch'),
                           ('Globex', 0, 3, 0, 0, 0, 60.00, 0, 0, NULL, NULL, 'monthly', 'psa_only')$$,
                  'the billing comparison of March 2026 reads the manual vendor bill and the PSA additions');

SELECT * FROM finish();
