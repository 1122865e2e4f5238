-- Reconciliation benchmark data (test/bench_recon.sh): :companies companies on each side, 20 vendor
-- subscriptions and 20 PSA agreement additions each, 100 SKUs (every tenth mapped to two PSA products),
-- and one vendor bill for March 2026 with a line per vendor subscription.
SELECT billing.add_source('pax8_bench', 'manual', options => '{"recon_role": "vendor"}') AS vendor \gset
SELECT billing.add_source('cw_bench', 'manual', options => '{"recon_role": "psa"}') AS psa \gset

-- names: most match after normalisation, one in ten only by the vendor id the PSA stores, one in fifty not at all
INSERT INTO billing.customers (source_id, external_id, name)
SELECT :vendor, 'v' || g, 'Company ' || g || ', Inc.' FROM generate_series(1, :companies) g;
INSERT INTO billing.customers (source_id, external_id, name, vendor_ref)
SELECT :psa, 'p' || g,
       CASE WHEN g % 50 = 0 THEN 'Other ' || g WHEN g % 10 = 0 THEN 'Renamed ' || g ELSE 'COMPANY ' || g || ' LLC' END,
       CASE WHEN g % 10 = 0 AND g % 50 <> 0 THEN 'v' || g END
  FROM generate_series(1, :companies) g;
INSERT INTO billing.customers (source_id, external_id, name) VALUES (:vendor, 'partner', 'The MSP');

INSERT INTO billing.products (source_id, external_id, sku, name, billing_cycle)
SELECT :psa, 'cw' || k || x, 'CW' || k || x, 'Catalog item ' || k || x, CASE WHEN k % 3 = 0 THEN 'Annual' ELSE 'Monthly' END
  FROM generate_series(0, 99) k, (VALUES (''), ('-ADD')) v (x)
 WHERE x = '' OR k % 10 = 0;
INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product)
SELECT :vendor, 'SKU' || k, :psa, 'CW' || k || x
  FROM generate_series(0, 98) k, (VALUES (''), ('-ADD')) v (x)    -- SKU99 stays unmapped
 WHERE x = '' OR k % 10 = 0;
INSERT INTO billing.exclusions (source_id, kind, key) VALUES (:vendor, 'product', 'SKU98'), (:vendor, 'company', 'v7');

CREATE TEMP TABLE ids AS
SELECT g, (SELECT id FROM billing.customers WHERE source_id = :vendor AND external_id = 'v' || g) AS vid,
          (SELECT id FROM billing.customers WHERE source_id = :psa AND external_id = 'p' || g) AS pid
  FROM generate_series(1, :companies) g;

INSERT INTO billing.subscriptions (source_id, external_id, customer_id, sku, product, state, quantity, unit_price, unit_cost,
                                   billing_term, ends_at)
SELECT :vendor, 'vs' || g || '-' || j, vid, 'SKU' || ((g * 7 + j) % 100), 'Product ' || ((g * 7 + j) % 100),
       CASE WHEN j = 20 THEN 'Cancelled' ELSE 'Active' END, (g + j) % 50 + 1, 20, 18,
       CASE WHEN j % 3 = 0 THEN 'Annual' WHEN j % 7 = 0 THEN 'Trial' ELSE 'Monthly' END,
       timestamptz '2026-01-01' + ((g * 13 + j * 17) % 400) * interval '1 day'
  FROM ids, generate_series(1, 20) j;

INSERT INTO billing.contracts (source_id, external_id, customer_id, name, start_date, billing_cycle)
SELECT :psa, 'a' || g, pid, 'MSA ' || g, '2025-01-01', 'Monthly' FROM ids;
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, contract_id, sku, state, quantity, included_quantity,
                                   unit_price, unit_cost, billable, started_at, canceled_at)
SELECT :psa, 'ad' || g || '-' || j, ids.pid, k.id, 'CW' || ((g * 7 + j) % 100), 'active', (g + j) % 50 + 1 + (g % 3) - 1,
       CASE WHEN j = 1 THEN 1 ELSE 0 END, 22, 18, j <> 2,
       CASE WHEN j = 3 THEN timestamptz '2026-06-01' ELSE timestamptz '2025-01-01' END,
       CASE WHEN j = 4 THEN timestamptz '2026-02-01' END
  FROM ids JOIN billing.contracts k ON k.external_id = 'a' || ids.g, generate_series(1, 20) j;

INSERT INTO billing.invoices (source_id, external_id, customer_id, issue_date, currency, direction)
SELECT :vendor, 'bill-2026-03', id, '2026-03-01', 'USD', 'payable' FROM billing.customers WHERE source_id = :vendor AND external_id = 'partner';
INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, customer_id, subscription_id, sku, product, quantity,
                                   subtotal, total, cost, currency, period_start, period_end)
SELECT i.id, s.external_id, 'plan', s.customer_id, s.id, s.sku, s.product, s.quantity, s.quantity * 20, s.quantity * 20,
       s.quantity * 18 + CASE WHEN s.id % 17 = 0 THEN 100 ELSE 0 END, 'USD', '2026-03-01', '2026-04-01'
  FROM billing.subscriptions s, billing.invoices i
 WHERE s.source_id = :vendor AND i.external_id = 'bill-2026-03';
