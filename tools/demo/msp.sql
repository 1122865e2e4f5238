-- An MSP's month (make demo, after the book): Pax8 (what the MSP buys) and ConnectWise Manage
-- (what it bills) synced from the local fakes, mapped, and compared. psql variables: pax8_url,
-- cw_url (base URLs of the fakes), today (the demo's date), month (its first day), own_tenant.
\echo
\echo == The month of an MSP (managed service provider): Pax8 (licences bought) and ConnectWise Manage (licences billed), as of :today
SELECT billing.add_source('pax8', 'pax8', :'pax8_url' || '/v1',
       credentials => '{"client_id": "pax8-client", "client_secret": "pax8-secret"}',
       options => jsonb_build_object('token_url', :'pax8_url' || '/oauth/token', 'max_requests_per_second', 0)) AS pax8_id,
       billing.add_source('psa', 'connectwise', :'cw_url',
       credentials => '{"company_id": "skyline", "public_key": "demo-public", "private_key": "demo-private", "client_id": "demo-client"}',
       options => '{"vendor_ref_field": "Pax8 ID", "max_requests_per_second": 0}') AS psa_id \gset
CALL billing.sync('pax8');
CALL billing.sync('psa');
SELECT s.name AS source, r.status, r.records_inserted, r.pages, r.requests, r.error
  FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
 WHERE s.name IN ('pax8', 'psa') ORDER BY r.id;

\echo == What a person must map, straight after the first sync (billing.unmapped_companies, billing.unmapped_products)
SELECT name, candidates, reason FROM billing.unmapped_companies ORDER BY name;
SELECT sku, product, companies FROM billing.unmapped_products ORDER BY sku;

\echo == The maps a person adds: Pax8 SKUs to ConnectWise catalog items (one SKU to two), two companies by hand, our own tenant excluded
INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product)
SELECT billing._source_id('pax8'), m.sku, billing._source_id('psa'), m.item
  FROM (VALUES ('MST-M365-BB', 'M365-BB'), ('MST-M365-BS', 'M365-BS'),
               ('MST-M365-BP', 'M365-BP'), ('MST-M365-BP', 'M365-BP-ADDON'),
               ('MST-EXO-P1', 'EXO-P1'), ('MST-M365-E3', 'M365-E3'), ('ACR-CP-STD', 'ACRONIS-CP')) m(sku, item);
-- two names automatic matching cannot decide: one ambiguous, one different
INSERT INTO billing.company_map (vendor_company_id, psa_company_id)
SELECT v.id, p.id
  FROM (VALUES ('Stark Industries', 'Stark Industries Inc.'), ('Umbrella Corp (EU)', 'Umbrella Health')) m(vendor, psa)
  JOIN billing.customers v ON v.source_id = billing._source_id('pax8') AND v.name = m.vendor
  JOIN billing.customers p ON p.source_id = billing._source_id('psa') AND p.name = m.psa;
INSERT INTO billing.exclusions (source_id, kind, key, reason)
SELECT c.source_id, 'company', c.external_id, 'our own tenant: licences we use, not resell'
  FROM billing.customers c WHERE c.source_id = billing._source_id('pax8') AND c.name = :'own_tenant';
SELECT billing.refresh_reconciliation(:'today') AS open_reconciliation_alerts;

\echo == How the Pax8 companies are mapped (billing.company_map: by the Pax8 id ConnectWise stores, exact name, normalised name, or by hand)
SELECT m.method,
       count(*) AS companies,
       string_agg(CASE WHEN v.name <> p.name THEN v.name || ' -> ' || p.name END, '; ' ORDER BY v.name) AS where_the_names_differ
  FROM billing.company_map m
  JOIN billing.customers v ON v.id = m.vendor_company_id
  JOIN billing.customers p ON p.id = m.psa_company_id
 GROUP BY 1 ORDER BY 2 DESC;

\echo == Still unmapped (billing.unmapped_companies, billing.unmapped_products)
SELECT name, candidates, reason FROM billing.unmapped_companies ORDER BY name;
SELECT sku, product, companies FROM billing.unmapped_products ORDER BY sku;

\echo == Licence variance, every row that is not matched (billing.license_variance(:today); difference = Pax8 - PSA after lessIncluded)
SELECT company, sku, vendor_quantity, psa_quantity, difference, status
  FROM billing.license_variance(:'today') WHERE status <> 'matched' ORDER BY status, company, sku;
SELECT status, count(*) AS rows, sum(vendor_quantity) AS vendor_licences, sum(psa_quantity) AS psa_licences
  FROM billing.license_variance(:'today') GROUP BY 1 ORDER BY 1;

\echo == Billing comparison of the month: the rows that are not matched, lose money or differ from the Pax8 price (billing.billing_comparison(:month); margin = PSA price - Pax8 cost; money shown to the cent)
SELECT company, sku, vendor_cost::numeric(12,2), vendor_price::numeric(12,2), psa_price::numeric(12,2), psa_cost::numeric(12,2),
       price_difference::numeric(12,2), margin::numeric(12,2), margin_pct, vendor_term, psa_term, status
  FROM billing.billing_comparison(:'month')
 WHERE status <> 'matched' OR margin < 0 OR price_difference <> 0
 ORDER BY status, company, sku;
SELECT coalesce(status, 'all') AS status, count(*) AS rows, sum(vendor_cost)::numeric(12,2) AS vendor_cost,
       sum(psa_price)::numeric(12,2) AS psa_price, sum(margin)::numeric(12,2) AS margin,
       round(sum(margin) / nullif(sum(psa_price), 0), 4) AS margin_pct
  FROM billing.billing_comparison(:'month') GROUP BY ROLLUP (status) ORDER BY status NULLS LAST;

\echo == Annual commitments ending soon (billing.expiring_subscriptions(:today); Monthly and Trial left out)
SELECT company, product, quantity, end_date, days_left, bucket
  FROM billing.expiring_subscriptions(:'today') ORDER BY days_left;
SELECT count(*) FILTER (WHERE within_15) AS within_15_days, count(*) FILTER (WHERE within_30) AS within_30_days,
       count(*) FILTER (WHERE within_90) AS within_90_days
  FROM billing.expiring_subscriptions(:'today');

\echo == Open reconciliation alerts (billing.alerts; raised and resolved by billing.refresh_reconciliation)
SELECT kind, severity, message
  FROM billing.alerts
 WHERE resolved_at IS NULL AND kind IN ('unmapped_company', 'unmapped_product', 'license_difference', 'negative_margin', 'subscription_expiring')
 ORDER BY kind, message;
