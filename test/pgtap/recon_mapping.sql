-- Company and product mapping (domain.md 4, "Mapping first"), on two manual sources loaded by hand:
-- one on the vendor side, one on the PSA side (option recon_role).
SET client_min_messages = warning;
SET timezone = 'UTC';
SELECT plan(35);

-- normalisation: case, punctuation and legal suffixes do not count
SELECT is(billing._company_name_key('Acme, Inc.'), 'acme', 'Inc. and the comma go');
SELECT is(billing._company_name_key('Pied Piper Pty. Ltd.'), 'pied piper', 'Pty Ltd goes, both words');
SELECT is(billing._company_name_key('A.B.C. GmbH'), 'abc', 'dots join the letters, GmbH goes');
SELECT is(billing._company_name_key('Smith & Sons Co.'), 'smith and sons', '& reads as and, Co. goes');
SELECT is(billing._company_name_key('  HOOLI   LLC '), 'hooli', 'case and spaces do not count');
SELECT is(billing._company_name_key('Globex Corp. PLC'), 'globex', 'suffixes go one after the other');
SELECT is(billing._company_name_key('Limited'), 'limited', 'a name that is only a suffix stays');
SELECT is(billing._company_name_key('Costco'), 'costco', 'a suffix inside a word stays');

SELECT billing.add_source('pax8m', 'manual', options => '{"recon_role": "vendor"}') AS vendor \gset
SELECT billing.add_source('cwm', 'manual', options => '{"recon_role": "psa"}') AS psa \gset
SELECT billing.add_source('book', 'manual') AS book \gset
SELECT throws_ok($$SELECT billing.add_source('bad', 'manual', options => '{"recon_role": "both"}')$$,
    '23514', NULL, 'a recon_role other than vendor or psa is refused');

INSERT INTO billing.customers (source_id, external_id, name, vendor_ref) VALUES
    (:psa, 'p1', 'ACME', NULL),
    (:psa, 'p2', 'Globex Corporation', NULL),
    (:psa, 'p2b', 'Globex Corp', NULL),
    (:psa, 'p3', 'Initech Holdings', 'v3'),
    (:psa, 'p5a', 'Stark Ltd', NULL),
    (:psa, 'p5b', 'STARK, LLC', NULL),
    (:psa, 'p7', 'Hooli GmbH', NULL),
    (:psa, 'p8', 'Pied Piper Pty Ltd', NULL),
    (:psa, 'p10', 'Excluded Co', NULL);
INSERT INTO billing.customers (source_id, external_id, name) VALUES
    (:vendor, 'v1', 'Acme Inc.'),           -- only its normalised name matches ACME
    (:vendor, 'v2', 'Globex Corporation'),  -- exact name: p2 (p2b matches only when normalised)
    (:vendor, 'v3', 'Initech'),             -- p3 stores v3 as the vendor's id
    (:vendor, 'v5', 'Stark'),               -- normalised, matches two PSA companies: none
    (:vendor, 'v7', 'hooli'),
    (:vendor, 'v8', 'Pied Piper'),
    (:vendor, 'v9', 'Nobody'),
    (:vendor, 'v10', 'Excluded Co'),
    (:vendor, 'partner', 'Our MSP'),        -- the partner: no subscription, needs no mapping
    (:book, 'b1', 'ACME');                  -- outside reconciliation
INSERT INTO billing.exclusions (source_id, kind, key, reason) VALUES (:vendor, 'company', 'v10', 'internal');
INSERT INTO billing.exclusions (source_id, kind, key) VALUES (:vendor, 'product', 'AZ');

CREATE TEMP VIEW c AS SELECT id, source_id, external_id FROM billing.customers;
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, sku, product, state, quantity, billing_term)
SELECT :vendor, 's-' || x.ext || '-' || x.sku, c.id, x.sku, x.sku || ' product', 'Active', 1, 'Monthly'
  FROM (VALUES ('v1', 'M365BP'), ('v1', 'TEAMS'), ('v2', 'M365BP'), ('v3', 'M365BP'), ('v5', 'M365BP'),
               ('v7', 'M365BP'), ('v8', 'M365BP'), ('v9', 'M365BP'), ('v9', 'AZ'), ('v10', 'EXCONLY')) x (ext, sku)
  JOIN c ON c.source_id = :vendor AND c.external_id = x.ext;
-- a SKU seen only on the vendor's bill, on a line naming the company
INSERT INTO billing.invoices (source_id, external_id, customer_id, issue_date, currency, direction)
SELECT :vendor, 'inv1', id, '2026-03-01', 'USD', 'payable' FROM c WHERE source_id = :vendor AND external_id = 'partner';
INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, sku, product, subtotal, total, currency, period_start, period_end, customer_id)
SELECT i.id, 'l1', 'plan', 'SVC', 'Service fee', 5, 5, 'USD', '2026-03-01', '2026-04-01',
       (SELECT id FROM c WHERE source_id = :vendor AND external_id = 'v2')
  FROM billing.invoices i WHERE i.external_id = 'inv1';
INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product)
VALUES (:vendor, 'M365BP', :psa, 'M365BP'), (:vendor, 'M365BP', :psa, 'M365BP-ADD');

-- the automatic mapping
SELECT is(billing.refresh_company_map(), 6, 'the first refresh makes six mappings (v1, v2, v3, v7, v8, v10)');
CREATE TEMP VIEW mapped AS
SELECT v.external_id AS vendor, p.external_id AS psa, m.method
  FROM billing.company_map m JOIN billing.customers v ON v.id = m.vendor_company_id
  JOIN billing.customers p ON p.id = m.psa_company_id;
SELECT results_eq($$SELECT vendor, psa, method FROM mapped ORDER BY vendor$$,
    $$VALUES ('v1', 'p1', 'normalized'), ('v10', 'p10', 'exact'), ('v2', 'p2', 'exact'), ('v3', 'p3', 'vendor_id'),
             ('v7', 'p7', 'normalized'), ('v8', 'p8', 'normalized')$$,
    'vendor id first, then exact name, then normalised name; Stark (two PSA matches) and Nobody map to none');
SELECT is(billing.refresh_company_map(), 0, 'a second refresh changes nothing');
SELECT results_eq($$SELECT external_id, candidates, reason FROM billing.unmapped_companies ORDER BY external_id$$,
    $$VALUES ('v5', 2::bigint, '2 PSA companies match by normalized'), ('v9', 0::bigint, 'no PSA company matches')$$,
    'unmapped: the ambiguous and the unmatched; not the excluded company nor the partner without subscriptions');

-- a manual row wins and survives refreshes and re-syncs
INSERT INTO billing.company_map (vendor_company_id, psa_company_id)
SELECT (SELECT id FROM c WHERE source_id = :vendor AND external_id = 'v7'), (SELECT id FROM c WHERE source_id = :psa AND external_id = 'p8');
INSERT INTO billing.company_map (vendor_company_id, psa_company_id)
SELECT (SELECT id FROM c WHERE source_id = :vendor AND external_id = 'v5'), (SELECT id FROM c WHERE source_id = :psa AND external_id = 'p5b');
SELECT results_eq($$SELECT psa, method FROM mapped WHERE vendor IN ('v5', 'v7') ORDER BY vendor$$,
    $$VALUES ('p5b', 'manual'), ('p8', 'manual')$$, 'a manual row replaces the automatic one of its vendor company');
SELECT is(billing.refresh_company_map(), 0, 'a refresh keeps the manual rows');
UPDATE billing.customers SET name = 'Hooli', synced_at = now() WHERE source_id = :vendor AND external_id = 'v7';  -- a re-sync
UPDATE billing.customers SET name = 'Stark Ltd' WHERE source_id = :vendor AND external_id = 'v5';                -- now an exact match
SELECT is(billing.refresh_company_map(), 0, 'after a re-sync the refresh still leaves the manual rows');
SELECT results_eq($$SELECT psa, method FROM mapped WHERE vendor IN ('v5', 'v7') ORDER BY vendor$$,
    $$VALUES ('p5b', 'manual'), ('p8', 'manual')$$, 'both manual mappings are as the person made them');
SELECT is((SELECT count(*) FROM billing.unmapped_companies WHERE external_id = 'v5'), 0::bigint, 'a manually mapped company is not unmapped');

-- an automatic mapping follows the data: it goes when its match goes, and comes back
UPDATE billing.customers SET name = 'Acme Holdings' WHERE source_id = :psa AND external_id = 'p1';
SELECT is(billing.refresh_company_map(), 1, 'the PSA company renamed: one automatic mapping removed');
SELECT is((SELECT count(*) FROM mapped WHERE vendor = 'v1'), 0::bigint, 'Acme Inc. is no longer mapped');
SELECT ok(EXISTS (SELECT 1 FROM billing.unmapped_companies WHERE external_id = 'v1'), 'and is listed as unmapped');
UPDATE billing.customers SET name = 'ACME INC' WHERE source_id = :psa AND external_id = 'p1';
SELECT is(billing.refresh_company_map(), 1, 'renamed back: mapped again');
SELECT results_eq($$SELECT psa, method FROM mapped WHERE vendor = 'v1'$$, $$VALUES ('p1', 'normalized')$$,
    'Acme Inc. and ACME INC match after normalisation');
UPDATE billing.customers SET deleted_at = now() WHERE source_id = :psa AND external_id = 'p3';
SELECT is(billing.refresh_company_map(), 1, 'a PSA company deleted upstream loses its automatic mapping');
UPDATE billing.customers SET deleted_at = NULL WHERE source_id = :psa AND external_id = 'p3';
SELECT is(billing.refresh_company_map(), 1, 'and gets it back when it reappears');
-- an excluded PSA company is never a candidate
INSERT INTO billing.exclusions (source_id, kind, key) VALUES (:psa, 'company', 'p10');
SELECT is(billing.refresh_company_map(), 1, 'excluding a PSA company removes the mapping to it');

-- the two sides are checked
SELECT throws_ok($$INSERT INTO billing.company_map (vendor_company_id, psa_company_id)
                   SELECT (SELECT id FROM c WHERE external_id = 'p2'), (SELECT id FROM c WHERE external_id = 'v9')$$,
    '23514', NULL, 'a mapping from a PSA company to a vendor company is refused');
SELECT throws_ok($$INSERT INTO billing.company_map (vendor_company_id, psa_company_id)
                   SELECT (SELECT id FROM c WHERE external_id = 'v9'), (SELECT id FROM c WHERE external_id = 'v8')$$,
    '23514', 'company mapping ' || (SELECT id FROM c WHERE external_id = 'v9') || ' -> ' || (SELECT id FROM c WHERE external_id = 'v8')
             || ': the first company must belong to a vendor source and the second to a PSA source',
    'a mapping from a vendor company to a vendor company is refused, naming both');
SELECT is((SELECT count(*) FROM mapped WHERE vendor = 'v9'), 0::bigint, 'nothing of the refused rows stays');

-- products: what must still be mapped
SELECT results_eq($$SELECT sku, product, companies FROM billing.unmapped_products ORDER BY sku$$,
    $$VALUES ('SVC', 'Service fee', 1::bigint), ('TEAMS', 'TEAMS product', 1::bigint)$$,
    'unmapped SKUs from subscriptions and vendor bills; not the excluded SKU AZ, nor EXCONLY used only by an excluded company');
INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product) VALUES (:vendor, 'TEAMS', :psa, 'TEAMS');
SELECT results_eq($$SELECT sku FROM billing.unmapped_products$$, $$VALUES ('SVC')$$, 'a mapped SKU leaves the list');
UPDATE billing.subscriptions SET state = 'Cancelled' WHERE sku = 'M365BP';
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, sku, state, quantity)
SELECT :vendor, 's-old', id, 'OLDSKU', 'Cancelled', 1 FROM c WHERE external_id = 'v1';
SELECT results_eq($$SELECT sku FROM billing.unmapped_products$$, $$VALUES ('SVC')$$, 'a SKU of cancelled subscriptions only needs no mapping');

-- the reader role sees the lists, the admin role maps
SET ROLE billing_reader;
SELECT lives_ok($$SELECT * FROM billing.unmapped_companies, billing.unmapped_products$$, 'billing_reader reads the unmapped lists');
SELECT throws_ok($$SELECT billing.refresh_company_map()$$, '42501', NULL, 'billing_reader cannot refresh the map');
RESET ROLE;
SET ROLE billing_admin;
SELECT lives_ok($$SELECT billing.refresh_company_map()$$, 'billing_admin refreshes the map');
RESET ROLE;

SELECT * FROM finish();
