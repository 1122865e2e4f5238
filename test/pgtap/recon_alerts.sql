-- Reconciliation alerts: raised while their cause holds, updated in place, resolved when it goes;
-- thresholds from billing.settings; refreshed at the end of a vendor or PSA sync.
SET client_min_messages = warning;
SET timezone = 'UTC';
SELECT plan(27);

-- settings are validated like the others
SELECT throws_ok($$SELECT billing.set_setting('recon_license_alert_min', '0')$$, '22023', NULL, 'recon_license_alert_min is at least 1');
SELECT throws_ok($$SELECT billing.set_setting('recon_license_alert_min', 'two')$$, '22023', NULL, 'recon_license_alert_min is a whole number');
SELECT throws_ok($$SELECT billing.set_setting('recon_margin_alert_min', '-5')$$, '22023', NULL, 'recon_margin_alert_min is not negative');
SELECT throws_ok($$SELECT billing.set_setting('recon_expiry_alert_days', '400')$$, '22023', NULL, 'recon_expiry_alert_days is at most 365');
SELECT is(billing.set_setting('recon_margin_alert_min', '12.5'), '0', 'a decimal margin threshold is taken; the default was 0');
SELECT is(billing.set_setting('recon_margin_alert_min', '0'), '12.5', 'and set back');

SELECT billing.add_source('pax8m', 'manual', options => '{"recon_role": "vendor"}') AS vendor \gset
SELECT billing.add_source('cwm', 'manual', options => '{"recon_role": "psa"}') AS psa \gset
INSERT INTO billing.customers (source_id, external_id, name) VALUES
    (:vendor, 'v1', 'Acme Inc.'), (:vendor, 'v2', 'Nobody'), (:vendor, 'partner', 'Our MSP'), (:psa, 'p1', 'ACME');
SELECT id AS v1 FROM billing.customers WHERE external_id = 'v1' \gset
SELECT id AS v2 FROM billing.customers WHERE external_id = 'v2' \gset
SELECT id AS p1 FROM billing.customers WHERE external_id = 'p1' \gset
INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product) VALUES (:vendor, 'M365BP', :psa, 'M365BP');
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, sku, state, quantity, billing_term, ends_at) VALUES
    (:vendor, 'vs1', :v1, 'M365BP', 'Active', 10, 'Annual', '2026-03-10 12:00+00'),   -- ends in 9 days
    (:vendor, 'vs2', :v1, 'TEAMS', 'Active', 1, 'Monthly', NULL),                    -- SKU unmapped
    (:vendor, 'vs3', :v2, 'M365BP', 'Active', 1, 'Monthly', NULL);                   -- company unmapped
SELECT id AS vs1 FROM billing.subscriptions WHERE external_id = 'vs1' \gset
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, sku, state, quantity, unit_price, unit_cost, started_at)
VALUES (:psa, 'ad1', :p1, 'M365BP', 'active', 8, 22, 20, '2025-01-01');
INSERT INTO billing.invoices (source_id, external_id, customer_id, issue_date, currency, direction)
SELECT :vendor, 'inv-mar', id, '2026-03-01', 'USD', 'payable' FROM billing.customers WHERE external_id = 'partner';
INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, customer_id, sku, quantity, subtotal, total, cost, currency, period_start, period_end)
SELECT i.id, x.ext, 'plan', x.cust, 'M365BP', x.qty, x.price, x.price, x.cost, 'USD', '2026-03-01', '2026-04-01'
  FROM billing.invoices i, (VALUES ('l1', :v1, 10, 220, 200), ('l2', :v2, 1, 22, 20)) x (ext, cust, qty, price, cost);
SELECT billing.refresh_company_map() AS mapped \gset

-- As of 2026-03-01:
--   unmapped_company v2; unmapped_product TEAMS;
--   license_difference ACME M365BP: 10 bought - 8 billed = 2 >= 1;
--   negative_margin ACME M365BP: 8 x 22 = 176 - 200 = -24 < 0; and Nobody's vendor-only row: 0 - 20 = -20 < 0;
--   subscription_expiring vs1: 2026-03-10 - 2026-03-01 = 9 <= 15.
SELECT is(billing.refresh_reconciliation_alerts('2026-03-01'), 6, 'six alerts are open');
CREATE TEMP VIEW open_alerts AS
SELECT kind, subject, message FROM billing.alerts WHERE resolved_at IS NULL ORDER BY kind, subject;
SELECT results_eq($$SELECT kind, subject, message FROM open_alerts$$,
    format($$VALUES ('license_difference', '%1$s/M365BP', 'ACME, M365BP: 10 licences bought, 8 billed (difference 2)'),
                    ('negative_margin', '%1$s/M365BP', 'ACME, M365BP: margin -24 in 2026-03 (PSA price 176, vendor cost 200)'),
                    ('negative_margin', 'vendor %2$s/M365BP', 'Nobody, M365BP: margin -20 in 2026-03 (PSA price 0, vendor cost 20)'),
                    ('subscription_expiring', '%3$s', 'ACME, M365BP (10 licences, Annual): ends on 2026-03-10, in 9 days'),
                    ('unmapped_company', 'v2', 'vendor company "Nobody" (v2) is not mapped to a PSA company'),
                    ('unmapped_product', 'TEAMS', 'vendor SKU "TEAMS" (no name) is not mapped to a PSA product')$$, :p1, :v2, :vs1),
    'each alert names its subject and its figures');
SELECT is((SELECT count(DISTINCT source_id) FROM billing.alerts WHERE source_id = :vendor), 1::bigint, 'the alerts belong to the vendor source');
CREATE TEMP TABLE first_ids AS SELECT id FROM billing.alerts;
SELECT is(billing.refresh_reconciliation_alerts('2026-03-01'), 6, 'a second refresh: still six');
SELECT set_eq($$SELECT id FROM billing.alerts$$, $$SELECT id FROM first_ids$$, 'and the same six rows, none added');

-- a changed figure updates the open alert in place: 10 - 6 = 4
UPDATE billing.subscriptions SET quantity = 6 WHERE external_id = 'ad1';
SELECT billing.refresh_reconciliation_alerts('2026-03-01') AS n \gset
SELECT results_eq($$SELECT message, id IN (SELECT id FROM first_ids) FROM billing.alerts WHERE kind = 'license_difference' AND resolved_at IS NULL$$,
    $$VALUES ('ACME, M365BP: 10 licences bought, 6 billed (difference 4)', true)$$, 'a new difference rewrites the same alert');

-- thresholds: a difference of 4 is under 5; margins: 6 x 22 = 132 - 200 = -68 stays under -50, -20 does not
SELECT billing.set_setting('recon_license_alert_min', '5') AS old \gset
SELECT billing.set_setting('recon_margin_alert_min', '50') AS old \gset
SELECT billing.set_setting('recon_expiry_alert_days', '8') AS old \gset
SELECT is(billing.refresh_reconciliation_alerts('2026-03-01'), 3, 'with higher thresholds three stay open');
SELECT results_eq($$SELECT kind, subject FROM open_alerts$$,
    format($$VALUES ('negative_margin', '%s/M365BP'), ('unmapped_company', 'v2'), ('unmapped_product', 'TEAMS')$$, :p1),
    'the licence difference (4 < 5), the margin of -20 (not below -50) and the expiry (9 days > 8) are resolved');
SELECT is((SELECT count(*) FROM billing.alerts WHERE resolved_at IS NOT NULL), 3::bigint, 'resolved alerts stay, with their resolution time');
SELECT billing.set_setting('recon_license_alert_min', '1') AS old \gset
SELECT billing.set_setting('recon_margin_alert_min', '0') AS old \gset
SELECT billing.set_setting('recon_expiry_alert_days', '15') AS old \gset
SELECT is(billing.refresh_reconciliation_alerts('2026-03-01'), 6, 'back to the defaults: six open, three of them raised again');

-- the causes go, one by one
INSERT INTO billing.exclusions (source_id, kind, key) VALUES (:vendor, 'company', 'v2');
SELECT is(billing.refresh_reconciliation_alerts('2026-03-01'), 4, 'excluding Nobody resolves its unmapped and margin alerts');
INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product) VALUES (:vendor, 'TEAMS', :psa, 'TEAMS');
SELECT is(billing.refresh_reconciliation_alerts('2026-03-01'), 4, 'mapping TEAMS resolves unmapped_product ...');
SELECT results_eq($$SELECT message FROM billing.alerts WHERE kind = 'license_difference' AND subject = format('%s/TEAMS', $$ || :p1 || $$) AND resolved_at IS NULL$$,
    $$VALUES ('ACME, TEAMS: 1 licences bought, 0 billed (difference 1)')$$, '... and now shows that ACME''s TEAMS licence is not billed');
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, sku, state, quantity, unit_price, unit_cost, started_at)
VALUES (:psa, 'ad2', :p1, 'TEAMS', 'active', 1, 4, 3, '2026-01-01');
-- ACME M365BP: 10 licences billed at 22 = 220, margin 220 - 200 = 20
UPDATE billing.subscriptions SET quantity = 10 WHERE external_id = 'ad1';
SELECT is(billing.refresh_reconciliation_alerts('2026-03-01'), 1, 'billing every licence at a margin leaves the expiry alert only');
UPDATE billing.subscriptions SET ends_at = '2027-03-10 12:00+00' WHERE external_id = 'vs1';
SELECT is(billing.refresh_reconciliation_alerts('2026-03-01'), 0, 'a renewed subscription resolves the last one');
SELECT is((SELECT count(*) FROM billing.alerts WHERE resolved_at IS NULL), 0::bigint, 'no alert is open');
SELECT is((SELECT count(*) FROM billing.alerts), 10::bigint, 'ten alerts were raised in all: six, three again, one for TEAMS');

-- a successful sync of a vendor or PSA source refreshes the map and the alerts
INSERT INTO billing.customers (source_id, external_id, name) VALUES (:vendor, 'v3', 'Globex'), (:vendor, 'v4', 'Zed'), (:psa, 'p3', 'GLOBEX LTD');
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, sku, state, quantity)
SELECT :vendor, 'vs4', id, 'M365BP', 'Active', 1 FROM billing.customers WHERE external_id = 'v4';
INSERT INTO billing.sync_runs (source_id, status, started_at) VALUES (:vendor, 'running', now());
SELECT is((SELECT count(*) FROM billing.company_map m JOIN billing.customers v ON v.id = m.vendor_company_id WHERE v.external_id = 'v3'),
    0::bigint, 'during the sync nothing is remapped');
UPDATE billing.sync_runs SET status = 'succeeded', finished_at = now() WHERE source_id = :vendor;
SELECT results_eq($$SELECT p.external_id, m.method FROM billing.company_map m JOIN billing.customers v ON v.id = m.vendor_company_id
                     JOIN billing.customers p ON p.id = m.psa_company_id WHERE v.external_id = 'v3'$$,
    $$VALUES ('p3', 'normalized')$$, 'when it succeeds, the new company is mapped');
SELECT results_eq($$SELECT kind, subject FROM billing.alerts WHERE resolved_at IS NULL AND kind = 'unmapped_company'$$,
    $$VALUES ('unmapped_company', 'v4')$$, 'and the new unmapped company is alerted');
SET ROLE billing_reader;
SELECT throws_ok($$SELECT billing.refresh_reconciliation_alerts()$$, '42501', NULL, 'billing_reader cannot refresh the alerts');
RESET ROLE;

SELECT * FROM finish();
