-- Reconciliation of a licence vendor (Pax8) with a PSA (ConnectWise Manage), domain.md section 4:
-- company and product mapping, licence variance, the monthly billing comparison, expiring
-- subscriptions, and the alerts that say what needs a person. Everything here reads the billing
-- tables only, so a source loaded by hand works exactly as a synced one.

\echo Use "CREATE EXTENSION pg_billing" to load this file. \quit

-- Which side of the reconciliation a source is on -----------------------------------------------
-- pax8 sources are the vendor and connectwise sources the PSA; any other source (a manual one loaded
-- from exports) takes a side with the option recon_role.
ALTER TABLE billing.sources ADD CONSTRAINT sources_recon_role_known
    CHECK (options->>'recon_role' IS NULL OR options->>'recon_role' IN ('vendor', 'psa'));

-- The small helpers below are SQL expressions without SET clauses so that the planner inlines them
-- (a SET clause makes every call a function call with a configuration change); hence every function
-- and operator in them is schema-qualified.
CREATE FUNCTION billing._recon_role(kind text, options jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT COALESCE($2 OPERATOR(pg_catalog.->>) 'recon_role',
                    CASE WHEN $1 OPERATOR(pg_catalog.=) 'pax8' THEN 'vendor'
                         WHEN $1 OPERATOR(pg_catalog.=) 'connectwise' THEN 'psa' END)
$fn$;
COMMENT ON FUNCTION billing._recon_role(text, jsonb) IS 'The reconciliation side of a source: the option recon_role (vendor or psa) when set, else vendor for pax8 and psa for connectwise; null for sources outside reconciliation.';

CREATE VIEW billing._recon_sources AS
SELECT s.id AS source_id, billing._recon_role(s.kind, s.options) AS role
FROM billing.sources s
WHERE billing._recon_role(s.kind, s.options) IS NOT NULL;
COMMENT ON VIEW billing._recon_sources IS 'Sources taking part in reconciliation, with their side (vendor or psa).';

-- Columns the connectors fill (and a manual load may) --------------------------------------------
-- Company names compare after normalisation: case, punctuation and legal suffixes do not count.
CREATE FUNCTION billing._company_name_key(name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v text;
    v_stripped text;
BEGIN
    IF name IS NULL THEN
        RETURN NULL;
    END IF;
    v := lower(name);
    v := replace(v, '&', ' and ');
    -- dots and apostrophes join (L.L.C. is llc, O'Brien is obrien); other punctuation separates words
    v := regexp_replace(v, '[.''`’]', '', 'g');
    v := regexp_replace(v, '[^[:alnum:]]+', ' ', 'g');
    v := btrim(v);
    -- legal suffixes at the end, repeatedly (Pty Ltd, Co Inc); a name that is only a suffix stays
    v_stripped := regexp_replace(v,
        '(\s+(inc|incorporated|llc|llp|lp|ltd|limited|gmbh|ag|co|corp|corporation|company|plc|pty|sa|sas|sarl|bv|nv|srl|spa|oy|ab|as|aps|kg|pte|pvt))+$',
        '');
    IF v_stripped <> '' THEN
        v := v_stripped;
    END IF;
    RETURN NULLIF(v, '');
END
$fn$;
COMMENT ON FUNCTION billing._company_name_key(text) IS 'A company name normalised for matching: lower case, & as and, dots and apostrophes removed, other punctuation as spaces, legal suffixes (Inc, LLC, Ltd, GmbH, Co, Corp, PLC, Pty Ltd, ...) dropped from the end.';

ALTER TABLE billing.customers ADD COLUMN vendor_ref text;
COMMENT ON COLUMN billing.customers.vendor_ref IS 'On a PSA company: the licence vendor''s id for the same company (the Pax8 company id) where the PSA stores it (a ConnectWise custom field or account number); company mapping tries it before names.';
ALTER TABLE billing.customers ADD COLUMN name_key text GENERATED ALWAYS AS (billing._company_name_key(name)) STORED;
COMMENT ON COLUMN billing.customers.name_key IS 'The name normalised for company mapping (billing._company_name_key); computed, never written.';
CREATE INDEX customers_vendor_ref ON billing.customers (vendor_ref) WHERE vendor_ref IS NOT NULL;
CREATE INDEX customers_name_key ON billing.customers (name_key) WHERE name_key IS NOT NULL;
COMMENT ON INDEX billing.customers_vendor_ref IS 'Company mapping by the vendor id a PSA company stores.';
COMMENT ON INDEX billing.customers_name_key IS 'Company mapping by normalised name.';

ALTER TABLE billing.products ADD COLUMN billing_cycle text;
ALTER TABLE billing.products ADD CONSTRAINT products_billing_cycle_not_blank CHECK (pg_catalog.btrim(billing_cycle) <> '');
COMMENT ON COLUMN billing.products.billing_cycle IS 'How often the product is billed, as the provider names it (ConnectWise catalog recurringBillCycle name: Monthly, Annual, ...); the billing comparison checks it against the vendor''s term.';

ALTER TABLE billing.invoice_lines ADD COLUMN customer_id bigint REFERENCES billing.customers (id) ON DELETE SET NULL;
ALTER TABLE billing.invoice_lines ADD COLUMN billing_term text;
CREATE INDEX invoice_lines_customer ON billing.invoice_lines (customer_id) WHERE customer_id IS NOT NULL;
COMMENT ON COLUMN billing.invoice_lines.customer_id IS 'The company this line bills when it is not the invoice''s customer: a Pax8 invoice is the partner''s and each item names the client (companyId). Null means the invoice''s customer.';
COMMENT ON COLUMN billing.invoice_lines.billing_term IS 'Billing term of the line as the provider names it (Pax8 item term: Monthly, Annual, 2 Year, ...).';
COMMENT ON INDEX billing.invoice_lines_customer IS 'Foreign key index: invoice lines billing a company other than the invoice''s customer.';

-- the reports read vendor invoices by month and PSA additions by catalog item
CREATE INDEX invoices_payable_issue ON billing.invoices (source_id, issue_date) WHERE direction = 'payable';
CREATE INDEX subscriptions_source_sku ON billing.subscriptions (source_id, sku) WHERE deleted_at IS NULL;
COMMENT ON INDEX billing.invoices_payable_issue IS 'Vendor bills of a source by issue date (the billing comparison''s month).';
COMMENT ON INDEX billing.subscriptions_source_sku IS 'Subscriptions of a source by SKU (vendor SKUs, PSA catalog items).';

-- How the reports read the shared columns, for the connector authors:
COMMENT ON COLUMN billing.subscriptions.started_at IS 'When the subscription became active; for a ConnectWise agreement addition its effectiveDate (reconciliation counts an addition from that day).';
COMMENT ON COLUMN billing.subscriptions.canceled_at IS 'When it was cancelled, if it was; for a ConnectWise agreement addition its cancelledDate (reconciliation stops counting it that day).';
COMMENT ON COLUMN billing.subscriptions.billable IS 'False when the PSA does not bill the item to the customer (ConnectWise billCustomer DoNotBill or NoCharge): its licences count, its price does not.';

-- Settings ---------------------------------------------------------------------------------------
INSERT INTO billing._setting_defaults (key, value, description) VALUES
    ('recon_license_alert_min', '1', 'A license_difference alert is raised for a company and SKU whose licence difference (vendor - PSA), in absolute value, is at least this (whole number from 1 to 1000000).'),
    ('recon_margin_alert_min', '0', 'A negative_margin alert is raised for a company and SKU whose margin in the current month''s billing comparison is below minus this amount (a number, 0 or more; 0 means any negative margin).'),
    ('recon_expiry_alert_days', '15', 'A subscription_expiring alert is raised for a vendor subscription (not Monthly or Trial) ending within this many days (whole number from 0 to 365).');

CREATE FUNCTION billing._check_recon_setting(key text, value text) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT CASE $1
        WHEN 'recon_license_alert_min' THEN $2 !~ '^[0-9]{1,7}$' OR $2::integer NOT BETWEEN 1 AND 1000000
        WHEN 'recon_margin_alert_min' THEN $2 !~ '^[0-9]{1,12}(\.[0-9]{1,4})?$'
        WHEN 'recon_expiry_alert_days' THEN $2 !~ '^[0-9]{1,3}$' OR $2::integer > 365
        ELSE false
    END
$fn$;
COMMENT ON FUNCTION billing._check_recon_setting(text, text) IS 'Validation of the reconciliation settings: true means the value is invalid; false for other settings.';

-- 0.2.0's hook for later settings, with the reconciliation's settings added.
CREATE OR REPLACE FUNCTION billing._check_extra_setting(key text, value text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT CASE
        WHEN $1 IN ('sync_run_retention', 'sync_retry_base', 'sync_retry_max', 'alert_failed_runs')
            THEN billing._check_worker_setting($1, $2)
        WHEN $1 = 'mrr_through' THEN $2 !~ '^(last_complete_month|all|[0-9]{4}-(0[1-9]|1[0-2]))$'
        WHEN $1 LIKE 'recon\_%' THEN billing._check_recon_setting($1, $2)
        ELSE false
    END
$fn$;

-- Small rules shared by the reports -------------------------------------------------------------
CREATE FUNCTION billing._recon_today() RETURNS date
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT (now() AT TIME ZONE billing._setting('reporting_timezone'))::date
$fn$;
COMMENT ON FUNCTION billing._recon_today() IS 'Today in the reporting time zone: the as-of date of the reconciliation views.';

-- A vendor subscription holds licences while it is active (Pax8 Active, or PendingCancel until it ends).
CREATE FUNCTION billing._recon_vendor_active(state text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT pg_catalog.lower(pg_catalog.regexp_replace(COALESCE($1, ''), '[^[:alpha:]]', '', 'g'))
           OPERATOR(pg_catalog.=) ANY (ARRAY['active', 'activated', 'pendingcancel'])
$fn$;
COMMENT ON FUNCTION billing._recon_vendor_active(text) IS 'True for the vendor subscription states that hold licences: Active, Activated, PendingCancel (any case, punctuation ignored).';

-- Terms and billing cycles compare as monthly or annual; multi-year terms count as annual.
CREATE FUNCTION billing._recon_term_class(term text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT CASE
        WHEN pg_catalog.lower(pg_catalog.regexp_replace($1, '[^[:alnum:]]', '', 'g'))
             OPERATOR(pg_catalog.=) ANY (ARRAY['monthly', 'month', '1month', 'monthtomonth']) THEN 'monthly'
        WHEN pg_catalog.lower(pg_catalog.regexp_replace($1, '[^[:alnum:]]', '', 'g'))
             OPERATOR(pg_catalog.~) '^(annual|annually|yearly|year|1year|12months?|[2-9](year|years|yr)|biennial|triennial)$' THEN 'annual'
    END
$fn$;
COMMENT ON FUNCTION billing._recon_term_class(text) IS 'monthly or annual for a billing term or cycle (Monthly; Annual, Yearly, 2-Year, 3 Year count as annual); null for the others (Trial, One-Time, Quarterly, unknown), which never make a term mismatch.';

-- Company mapping --------------------------------------------------------------------------------
ALTER TABLE billing.company_map DROP CONSTRAINT company_map_method_known;
ALTER TABLE billing.company_map ADD CONSTRAINT company_map_method_known
    CHECK (method IN ('vendor_id', 'exact', 'normalized', 'manual'));
COMMENT ON TABLE billing.company_map IS 'Which PSA company each vendor company is: automatic (by the vendor id the PSA company stores, then exact name, then normalised name; kept by billing.refresh_company_map) or set by hand (method manual, which always wins and no refresh touches).';
COMMENT ON COLUMN billing.company_map.method IS 'vendor_id, exact or normalized (found by billing.refresh_company_map), or manual (inserted by a person; the default).';

-- A manual row replaces the automatic one of its vendor company; both sides must be on the right side.
CREATE FUNCTION billing._company_map_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_vendor_role text;
    v_psa_role text;
BEGIN
    SELECT r.role INTO v_vendor_role FROM billing.customers c JOIN billing._recon_sources r ON r.source_id = c.source_id
     WHERE c.id = NEW.vendor_company_id;
    SELECT r.role INTO v_psa_role FROM billing.customers c JOIN billing._recon_sources r ON r.source_id = c.source_id
     WHERE c.id = NEW.psa_company_id;
    -- reversed sides are refused; a company outside reconciliation is left to the table's own rules
    IF v_vendor_role = 'psa' OR v_psa_role = 'vendor' THEN
        RAISE EXCEPTION 'company mapping % -> %: the first company must belong to a vendor source and the second to a PSA source',
                        NEW.vendor_company_id, NEW.psa_company_id
            USING ERRCODE = 'check_violation',
                  DETAIL = pg_catalog.format('Company %s is on side %s, company %s on side %s.', NEW.vendor_company_id,
                                             coalesce(v_vendor_role, 'none'), NEW.psa_company_id, coalesce(v_psa_role, 'none')),
                  HINT = 'pax8 sources are vendors and connectwise sources PSAs; a manual source takes a side with the option recon_role.';
    END IF;
    IF TG_OP = 'INSERT' AND NEW.method = 'manual' THEN
        DELETE FROM billing.company_map m
         WHERE m.vendor_company_id = NEW.vendor_company_id AND m.method <> 'manual';
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION billing._company_map_check() IS 'Trigger: a mapping may not go from a PSA company or to a vendor company; a manual row inserted replaces the automatic mapping of its vendor company.';
CREATE TRIGGER company_map_check BEFORE INSERT OR UPDATE ON billing.company_map
    FOR EACH ROW EXECUTE FUNCTION billing._company_map_check();

-- The automatic mappings, recomputed: for each vendor company without a manual row, the first rule
-- that finds any PSA company decides; exactly one candidate maps, two or more map to none.
CREATE FUNCTION billing._company_candidates()
RETURNS TABLE (vendor_company_id bigint, psa_company_id bigint, method text, candidates bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH vendor AS (
        SELECT c.id, c.source_id, c.external_id, c.name, c.name_key
          FROM billing.customers c JOIN billing._recon_sources r ON r.source_id = c.source_id AND r.role = 'vendor'
         WHERE c.deleted_at IS NULL
    ), psa AS (
        SELECT c.id, c.vendor_ref, c.name, c.name_key
          FROM billing.customers c JOIN billing._recon_sources r ON r.source_id = c.source_id AND r.role = 'psa'
         WHERE c.deleted_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM billing.exclusions e
                            WHERE e.source_id = c.source_id AND e.kind = 'company' AND e.key = c.external_id)
    ), cand AS (
        SELECT v.id AS vendor_id, p.id AS psa_id, 1 AS tier FROM vendor v JOIN psa p ON p.vendor_ref = v.external_id
        UNION
        SELECT v.id, p.id, 2 FROM vendor v JOIN psa p ON p.name = v.name
        UNION
        SELECT v.id, p.id, 3 FROM vendor v JOIN psa p ON p.name_key = v.name_key
    ), best AS (
        SELECT c.vendor_id, min(c.tier) AS tier FROM cand c GROUP BY c.vendor_id
    )
    SELECT c.vendor_id, CASE WHEN count(*) = 1 THEN min(c.psa_id) END,
           (ARRAY['vendor_id', 'exact', 'normalized'])[b.tier], count(*)
      FROM cand c JOIN best b ON b.vendor_id = c.vendor_id AND b.tier = c.tier
     GROUP BY c.vendor_id, b.tier
$fn$;
COMMENT ON FUNCTION billing._company_candidates() IS 'For each vendor company with a PSA match: the rule that found it (vendor_id, exact, normalized: the first that finds any), how many PSA companies it found, and the one it maps to when there is exactly one.';

CREATE FUNCTION billing.refresh_company_map() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_changed integer := 0;
    v_n integer;
BEGIN
    -- one refresh at a time: a vendor sync and a PSA sync may both end at once
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('pg_billing.refresh_company_map'));
    CREATE TEMP TABLE IF NOT EXISTS pg_temp._company_map_wanted (vendor_company_id bigint, psa_company_id bigint, method text)
        ON COMMIT DROP;
    TRUNCATE pg_temp._company_map_wanted;
    INSERT INTO pg_temp._company_map_wanted
    SELECT c.vendor_company_id, c.psa_company_id, c.method FROM billing._company_candidates() c
     WHERE c.psa_company_id IS NOT NULL;

    DELETE FROM billing.company_map m
     WHERE m.method <> 'manual'
       AND NOT EXISTS (SELECT 1 FROM pg_temp._company_map_wanted w
                        WHERE w.vendor_company_id = m.vendor_company_id AND w.psa_company_id = m.psa_company_id
                          AND w.method = m.method);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_changed := v_changed + v_n;

    INSERT INTO billing.company_map AS m (vendor_company_id, psa_company_id, method)
    SELECT w.vendor_company_id, w.psa_company_id, w.method FROM pg_temp._company_map_wanted w
     WHERE NOT EXISTS (SELECT 1 FROM billing.company_map x WHERE x.vendor_company_id = w.vendor_company_id)
    ON CONFLICT ON CONSTRAINT company_map_one_per_vendor_company DO NOTHING;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_changed := v_changed + v_n;
    RETURN v_changed;
END
$fn$;
COMMENT ON FUNCTION billing.refresh_company_map() IS 'Recomputes the automatic company mappings (vendor id, then exact name, then normalised name; ambiguous matches map to none) and leaves manual rows alone; returns how many mappings it added or removed (0 when nothing changed). Runs at the end of every successful sync of a vendor or PSA source (billing.refresh_reconciliation); call it after loading companies by hand.';

CREATE VIEW billing.unmapped_companies AS
SELECT c.id AS vendor_company_id, c.source_id, s.name AS source, c.external_id, c.name,
       coalesce(k.candidates, 0) AS candidates,
       CASE WHEN k.candidates > 1
            THEN pg_catalog.format('%s PSA companies match by %s', k.candidates, replace(k.method, '_', ' '))
            ELSE 'no PSA company matches' END AS reason
FROM billing.customers c
JOIN billing._recon_sources r ON r.source_id = c.source_id AND r.role = 'vendor'
JOIN billing.sources s ON s.id = c.source_id
LEFT JOIN billing._company_candidates() k ON k.vendor_company_id = c.id
WHERE c.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM billing.company_map m WHERE m.vendor_company_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = c.source_id AND e.kind = 'company' AND e.key = c.external_id)
  -- only companies the reports would show: with a subscription, or billed on a vendor bill's line
  AND (EXISTS (SELECT 1 FROM billing.subscriptions sub WHERE sub.customer_id = c.id AND sub.deleted_at IS NULL)
       OR EXISTS (SELECT 1 FROM billing.invoice_lines l WHERE l.customer_id = c.id)
       OR EXISTS (SELECT 1 FROM billing.invoices i JOIN billing.invoice_lines l ON l.invoice_id = i.id
                   WHERE i.customer_id = c.id AND l.customer_id IS NULL AND i.direction = 'payable'));
COMMENT ON VIEW billing.unmapped_companies IS 'Vendor companies with subscriptions or billed lines that have no PSA company (and are not excluded): map each by inserting a manual row into billing.company_map, or exclude it. A company with neither (a prospect, the partner itself) needs no mapping.';
COMMENT ON COLUMN billing.unmapped_companies.vendor_company_id IS 'The vendor company (billing.customers id): company_map.vendor_company_id.';
COMMENT ON COLUMN billing.unmapped_companies.source_id IS 'The vendor source.';
COMMENT ON COLUMN billing.unmapped_companies.source IS 'The vendor source''s name.';
COMMENT ON COLUMN billing.unmapped_companies.external_id IS 'The vendor''s company id (the key of a company exclusion).';
COMMENT ON COLUMN billing.unmapped_companies.name IS 'The vendor''s company name.';
COMMENT ON COLUMN billing.unmapped_companies.candidates IS 'PSA companies the first matching rule found: 0, or 2 or more (ambiguous, so none is chosen).';
COMMENT ON COLUMN billing.unmapped_companies.reason IS 'Why no mapping was made.';

-- Products ---------------------------------------------------------------------------------------
CREATE VIEW billing.unmapped_products AS
WITH used AS (
    SELECT s.source_id, s.sku, s.product, s.customer_id
      FROM billing.subscriptions s JOIN billing._recon_sources r ON r.source_id = s.source_id AND r.role = 'vendor'
     WHERE s.deleted_at IS NULL AND s.sku IS NOT NULL AND billing._recon_vendor_active(s.state)
    UNION ALL
    SELECT i.source_id, l.sku, l.product, coalesce(l.customer_id, i.customer_id)
      FROM billing.invoices i JOIN billing._recon_sources r ON r.source_id = i.source_id AND r.role = 'vendor'
      JOIN billing.invoice_lines l ON l.invoice_id = i.id
     WHERE i.direction = 'payable' AND i.deleted_at IS NULL AND i.status <> 'voided' AND l.sku IS NOT NULL
)
SELECT u.source_id, src.name AS source, u.sku, min(u.product) AS product,
       count(DISTINCT u.customer_id) AS companies
FROM used u
JOIN billing.sources src ON src.id = u.source_id
JOIN billing.customers c ON c.id = u.customer_id
WHERE NOT EXISTS (SELECT 1 FROM billing.product_map pm WHERE pm.vendor_source_id = u.source_id AND pm.vendor_sku = u.sku)
  AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = u.source_id AND e.kind = 'product' AND e.key = u.sku)
  AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = c.source_id AND e.kind = 'company' AND e.key = c.external_id)
GROUP BY u.source_id, src.name, u.sku;
COMMENT ON VIEW billing.unmapped_products IS 'Vendor SKUs in active subscriptions or on vendor bills that no billing.product_map row maps to a PSA product (and not excluded).';
COMMENT ON COLUMN billing.unmapped_products.source_id IS 'The vendor source: product_map.vendor_source_id.';
COMMENT ON COLUMN billing.unmapped_products.source IS 'The vendor source''s name.';
COMMENT ON COLUMN billing.unmapped_products.sku IS 'The vendor SKU: product_map.vendor_sku, or the key of a product exclusion.';
COMMENT ON COLUMN billing.unmapped_products.product IS 'The vendor''s product name.';
COMMENT ON COLUMN billing.unmapped_products.companies IS 'How many (not excluded) companies use it.';

-- The two sides of the reports -------------------------------------------------------------------
-- Vendor subscriptions holding licences, each with the PSA company it reports under (null when its
-- company is unmapped); excluded companies and SKUs, on either side, are gone.
CREATE VIEW billing._recon_vendor_subscriptions AS
SELECT s.id AS subscription_id, s.source_id AS vendor_source_id, s.customer_id AS vendor_company_id, m.psa_company_id,
       s.sku, s.product, s.quantity, s.billing_term, s.ends_at
  FROM billing.subscriptions s
  JOIN billing._recon_sources r ON r.source_id = s.source_id AND r.role = 'vendor'
  JOIN billing.customers vc ON vc.id = s.customer_id
  LEFT JOIN billing.company_map m ON m.vendor_company_id = s.customer_id
  LEFT JOIN billing.customers pc ON pc.id = m.psa_company_id
 WHERE s.deleted_at IS NULL AND s.sku IS NOT NULL AND billing._recon_vendor_active(s.state)
   AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = s.source_id AND e.kind = 'product' AND e.key = s.sku)
   AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = vc.source_id AND e.kind = 'company' AND e.key = vc.external_id)
   AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = pc.source_id AND e.kind = 'company' AND e.key = pc.external_id);
COMMENT ON VIEW billing._recon_vendor_subscriptions IS 'Active vendor subscriptions with a SKU, not excluded, with the PSA company their company maps to (null when unmapped).';

-- PSA additions in force on as_of (effective on or before it, not cancelled on or before it, in an
-- agreement that is not over), of catalog items some vendor SKU maps to, once per mapped SKU.
CREATE FUNCTION billing._recon_psa_additions(as_of date)
RETURNS TABLE (vendor_source_id bigint, sku text, psa_company_id bigint, psa_product text, billed_quantity numeric,
               price numeric, cost numeric, term_class text)
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH tz AS MATERIALIZED (SELECT billing._setting('reporting_timezone') AS zone),
    cycle AS (
        SELECT DISTINCT ON (p.source_id, p.sku) p.source_id, p.sku, p.billing_cycle
          FROM billing.products p JOIN billing._recon_sources r ON r.source_id = p.source_id AND r.role = 'psa'
         WHERE p.deleted_at IS NULL AND p.sku IS NOT NULL
         ORDER BY p.source_id, p.sku, p.id
    )
    SELECT pm.vendor_source_id, pm.vendor_sku, a.customer_id, a.sku,
           greatest(coalesce(a.quantity, 0) - a.included_quantity, 0),
           CASE WHEN a.billable THEN coalesce(a.unit_price, 0) * greatest(coalesce(a.quantity, 0) - a.included_quantity, 0) ELSE 0 END,
           coalesce(a.unit_cost, 0) * greatest(coalesce(a.quantity, 0) - a.included_quantity, 0),
           billing._recon_term_class(coalesce(cy.billing_cycle, k.billing_cycle))
      FROM billing.product_map pm
      JOIN billing.subscriptions a ON a.source_id = pm.psa_source_id AND a.sku = pm.psa_product AND a.deleted_at IS NULL
      JOIN billing.customers pc ON pc.id = a.customer_id
      CROSS JOIN tz
      LEFT JOIN billing.contracts k ON k.id = a.contract_id
      LEFT JOIN cycle cy ON cy.source_id = a.source_id AND cy.sku = a.sku
     WHERE (a.started_at IS NULL OR (a.started_at AT TIME ZONE tz.zone)::date <= as_of)
       AND (a.canceled_at IS NULL OR (a.canceled_at AT TIME ZONE tz.zone)::date > as_of)
       AND (k.id IS NULL OR ((k.start_date IS NULL OR k.start_date <= as_of)
                             AND (k.end_date IS NULL OR k.end_date >= as_of)
                             AND (k.canceled_on IS NULL OR k.canceled_on > as_of)
                             AND k.deleted_at IS NULL))
       AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = pm.psa_source_id AND e.kind = 'product' AND e.key = pm.psa_product)
       AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = pm.vendor_source_id AND e.kind = 'product' AND e.key = pm.vendor_sku)
       AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = pc.source_id AND e.kind = 'company' AND e.key = pc.external_id)
       -- a PSA company some excluded vendor company maps to is excluded with it
       AND NOT EXISTS (SELECT 1 FROM billing.company_map m JOIN billing.customers vc ON vc.id = m.vendor_company_id
                         JOIN billing.exclusions e ON e.source_id = vc.source_id AND e.kind = 'company' AND e.key = vc.external_id
                        WHERE m.psa_company_id = a.customer_id)
$fn$;
COMMENT ON FUNCTION billing._recon_psa_additions(date) IS 'PSA agreement additions in force on as_of of catalog items mapped from a vendor SKU (once per mapped SKU), not excluded: quantity after lessIncluded, extended price (0 when not billed to the customer) and cost, and the monthly/annual class of the product''s billing cycle.';

-- Licence variance -------------------------------------------------------------------------------
CREATE FUNCTION billing.license_variance(as_of date)
RETURNS TABLE (company_id bigint, company text, vendor_company_ids bigint[], vendor_source_id bigint, sku text,
               product text, vendor_quantity numeric, psa_quantity numeric, difference numeric, status text)
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH v AS (
        SELECT vs.psa_company_id, CASE WHEN vs.psa_company_id IS NULL THEN vs.vendor_company_id END AS lone_vendor,
               vs.vendor_source_id, vs.sku, min(vs.product) AS product,
               array_agg(DISTINCT vs.vendor_company_id ORDER BY vs.vendor_company_id) AS vendor_ids,
               sum(coalesce(vs.quantity, 0)) AS quantity
          FROM billing._recon_vendor_subscriptions vs
         GROUP BY 1, 2, 3, 4
    ), p AS (
        SELECT a.psa_company_id, a.vendor_source_id, a.sku, sum(a.billed_quantity) AS quantity
          FROM billing._recon_psa_additions(as_of) a
         GROUP BY 1, 2, 3
    ), j AS (
        SELECT coalesce(v.psa_company_id, p.psa_company_id) AS psa_company_id, v.lone_vendor,
               coalesce(v.vendor_source_id, p.vendor_source_id) AS vendor_source_id, coalesce(v.sku, p.sku) AS sku,
               v.product, v.vendor_ids, coalesce(v.quantity, 0) AS vq, coalesce(p.quantity, 0) AS pq,
               EXISTS (SELECT 1 FROM billing.product_map pm
                        WHERE pm.vendor_source_id = coalesce(v.vendor_source_id, p.vendor_source_id)
                          AND pm.vendor_sku = coalesce(v.sku, p.sku)) AS product_mapped
          FROM v FULL JOIN p ON p.psa_company_id = v.psa_company_id AND p.vendor_source_id = v.vendor_source_id AND p.sku = v.sku
    )
    SELECT j.psa_company_id, coalesce(pc.name, vc.name), coalesce(j.vendor_ids, '{}'), j.vendor_source_id, j.sku,
           j.product, j.vq,
           CASE WHEN j.psa_company_id IS NOT NULL AND j.product_mapped THEN j.pq END,
           CASE WHEN j.psa_company_id IS NOT NULL AND j.product_mapped THEN j.vq - j.pq END,
           CASE WHEN j.psa_company_id IS NULL THEN 'unmapped_company'
                WHEN NOT j.product_mapped THEN 'unmapped_product'
                WHEN j.vq > j.pq THEN 'under_billed'
                WHEN j.vq < j.pq THEN 'over_billed'
                ELSE 'matched' END
      FROM j
      LEFT JOIN billing.customers pc ON pc.id = j.psa_company_id
      LEFT JOIN billing.customers vc ON vc.id = j.lone_vendor
$fn$;
COMMENT ON FUNCTION billing.license_variance(date) IS 'Licences per company and vendor SKU on as_of: active vendor subscriptions against the PSA additions in force of the mapped catalog items (quantity after lessIncluded), difference = vendor - PSA (positive: the MSP under-bills).';

CREATE VIEW billing.license_variance AS
SELECT lv.* FROM billing.license_variance(billing._recon_today()) lv;
COMMENT ON VIEW billing.license_variance IS 'Licences per company and vendor SKU today (reporting time zone); billing.license_variance(date) gives any other day. difference = vendor_quantity - psa_quantity.';
COMMENT ON COLUMN billing.license_variance.company_id IS 'The PSA company (billing.customers id); null when the vendor company is not mapped.';
COMMENT ON COLUMN billing.license_variance.company IS 'The PSA company''s name, or the vendor company''s when unmapped.';
COMMENT ON COLUMN billing.license_variance.vendor_company_ids IS 'The vendor companies counted in the row (several when several map to one PSA company; empty for a PSA-only row).';
COMMENT ON COLUMN billing.license_variance.vendor_source_id IS 'The vendor source.';
COMMENT ON COLUMN billing.license_variance.sku IS 'The vendor SKU.';
COMMENT ON COLUMN billing.license_variance.product IS 'The vendor''s product name.';
COMMENT ON COLUMN billing.license_variance.vendor_quantity IS 'Licences in the active vendor subscriptions.';
COMMENT ON COLUMN billing.license_variance.psa_quantity IS 'Quantity less included of the PSA additions in force of every catalog item the SKU maps to; null when the company or SKU is unmapped.';
COMMENT ON COLUMN billing.license_variance.difference IS 'vendor_quantity - psa_quantity; positive when the MSP bills fewer licences than it buys.';
COMMENT ON COLUMN billing.license_variance.status IS 'matched, under_billed (difference > 0), over_billed (< 0), unmapped_company or unmapped_product.';

-- Billing comparison -----------------------------------------------------------------------------
CREATE FUNCTION billing.billing_comparison(month date)
RETURNS TABLE (company_id bigint, company text, vendor_company_ids bigint[], vendor_source_id bigint, sku text,
               product text, vendor_quantity numeric, psa_quantity numeric, vendor_cost numeric, vendor_price numeric,
               psa_price numeric, psa_cost numeric, price_difference numeric, margin numeric, margin_pct numeric,
               vendor_cost_minus_psa_price numeric, vendor_term text, psa_term text, status text, note text)
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH bounds AS (
        SELECT date_trunc('month', month)::date AS first_day,
               (date_trunc('month', month) + interval '1 month')::date AS next_first
    ), vl AS (
        SELECT i.source_id AS vendor_source_id, l.sku, l.product, coalesce(l.customer_id, i.customer_id) AS vendor_company_id,
               m.psa_company_id, l.quantity, l.amount, coalesce(l.cost, 0) AS cost,
               billing._recon_term_class(coalesce(l.billing_term, vs.billing_term)) AS term_class
          FROM bounds b
          JOIN billing.invoices i ON i.issue_date >= b.first_day AND i.issue_date < b.next_first
          JOIN billing._recon_sources r ON r.source_id = i.source_id AND r.role = 'vendor'
          JOIN billing.invoice_lines l ON l.invoice_id = i.id
          JOIN billing.customers vc ON vc.id = coalesce(l.customer_id, i.customer_id)
          LEFT JOIN billing.subscriptions vs ON vs.id = l.subscription_id
          LEFT JOIN billing.company_map m ON m.vendor_company_id = vc.id
          LEFT JOIN billing.customers pc ON pc.id = m.psa_company_id
         WHERE i.direction = 'payable' AND i.status <> 'voided' AND i.deleted_at IS NULL AND l.sku IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = i.source_id AND e.kind = 'product' AND e.key = l.sku)
           AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = vc.source_id AND e.kind = 'company' AND e.key = vc.external_id)
           AND NOT EXISTS (SELECT 1 FROM billing.exclusions e WHERE e.source_id = pc.source_id AND e.kind = 'company' AND e.key = pc.external_id)
    ), v AS (
        SELECT vl.psa_company_id, CASE WHEN vl.psa_company_id IS NULL THEN vl.vendor_company_id END AS lone_vendor,
               vl.vendor_source_id, vl.sku, min(vl.product) AS product,
               array_agg(DISTINCT vl.vendor_company_id ORDER BY vl.vendor_company_id) AS vendor_ids,
               sum(vl.quantity) AS quantity, sum(vl.cost) AS cost, sum(vl.amount) AS price,
               min(vl.term_class) AS term_lo, max(vl.term_class) AS term_hi
          FROM vl GROUP BY 1, 2, 3, 4
    ), p AS (
        SELECT a.psa_company_id, a.vendor_source_id, a.sku, sum(a.billed_quantity) AS quantity,
               sum(a.price) AS price, sum(a.cost) AS cost, min(a.term_class) AS term_lo, max(a.term_class) AS term_hi
          FROM bounds b CROSS JOIN LATERAL billing._recon_psa_additions(b.next_first - 1) a
         GROUP BY 1, 2, 3
    ), j AS (
        SELECT coalesce(v.psa_company_id, p.psa_company_id) AS psa_company_id, v.lone_vendor,
               coalesce(v.vendor_source_id, p.vendor_source_id) AS vendor_source_id, coalesce(v.sku, p.sku) AS sku,
               v.product, v.vendor_ids, v.quantity AS vq, p.quantity AS pq,
               coalesce(v.cost, 0) AS vcost, coalesce(v.price, 0) AS vprice,
               coalesce(p.price, 0) AS pprice, coalesce(p.cost, 0) AS pcost,
               v.term_lo AS vlo, v.term_hi AS vhi, p.term_lo AS plo, p.term_hi AS phi,
               v.sku IS NOT NULL AS on_vendor, p.sku IS NOT NULL AS on_psa,
               EXISTS (SELECT 1 FROM billing.product_map pm
                        WHERE pm.vendor_source_id = coalesce(v.vendor_source_id, p.vendor_source_id)
                          AND pm.vendor_sku = coalesce(v.sku, p.sku)) AS product_mapped
          FROM v FULL JOIN p ON p.psa_company_id = v.psa_company_id AND p.vendor_source_id = v.vendor_source_id AND p.sku = v.sku
    )
    SELECT j.psa_company_id, coalesce(pc.name, vc.name), coalesce(j.vendor_ids, '{}'), j.vendor_source_id, j.sku, j.product,
           coalesce(j.vq, 0), coalesce(j.pq, 0), j.vcost, j.vprice, j.pprice, j.pcost,
           j.vprice - j.pprice,
           j.pprice - j.vcost,
           CASE WHEN j.pprice <> 0 THEN round((j.pprice - j.vcost) / j.pprice, 4) END,
           j.vcost - j.pprice,
           CASE WHEN j.vlo = j.vhi THEN j.vlo WHEN j.vlo IS NOT NULL THEN 'mixed' END,
           CASE WHEN j.plo = j.phi THEN j.plo WHEN j.plo IS NOT NULL THEN 'mixed' END,
           CASE WHEN NOT j.on_psa THEN 'vendor_only'
                WHEN NOT j.on_vendor THEN 'psa_only'
                WHEN j.vlo IS NOT NULL AND j.plo IS NOT NULL AND NOT (j.vlo = j.vhi AND j.plo = j.phi AND j.vlo = j.plo)
                    THEN 'term_mismatch'
                ELSE 'matched' END,
           CASE WHEN j.on_psa AND j.on_vendor THEN NULL
                WHEN j.psa_company_id IS NULL THEN 'vendor company not mapped to a PSA company'
                WHEN NOT j.product_mapped THEN 'vendor SKU not mapped to a PSA product'
                WHEN NOT j.on_psa THEN 'no PSA addition of the mapped products in force at month end'
                ELSE 'nothing on the vendor''s bills of the month' END
      FROM j
      LEFT JOIN billing.customers pc ON pc.id = j.psa_company_id
      LEFT JOIN billing.customers vc ON vc.id = j.lone_vendor
$fn$;
COMMENT ON FUNCTION billing.billing_comparison(date) IS 'For the month holding the date: per company and vendor SKU, cost and price on the vendor''s bills issued that month against the extended price and cost of the mapped PSA additions in force at month end; price_difference = vendor price - PSA price, margin = PSA price - vendor cost, margin_pct = margin / PSA price; status matched, vendor_only, psa_only or term_mismatch.';

-- Expiring subscriptions -------------------------------------------------------------------------
CREATE FUNCTION billing.expiring_subscriptions(as_of date)
RETURNS TABLE (subscription_id bigint, company_id bigint, company text, vendor_company_id bigint, vendor_source_id bigint,
               sku text, product text, billing_term text, quantity numeric, end_date date, days_left integer,
               within_15 boolean, within_30 boolean, within_90 boolean, bucket text)
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH tz AS MATERIALIZED (SELECT billing._setting('reporting_timezone') AS zone),
    s AS (
        SELECT vs.*, (vs.ends_at AT TIME ZONE tz.zone)::date AS end_date,
               (vs.ends_at AT TIME ZONE tz.zone)::date - as_of AS days
          FROM tz JOIN billing._recon_vendor_subscriptions vs
            ON vs.ends_at >= (as_of::timestamp AT TIME ZONE tz.zone)
           AND vs.ends_at < ((as_of + 91)::timestamp AT TIME ZONE tz.zone)
    )
    SELECT s.subscription_id, s.psa_company_id, coalesce(pc.name, vc.name), s.vendor_company_id, s.vendor_source_id,
           s.sku, s.product, s.billing_term, s.quantity, s.end_date, s.days,
           s.days <= 15, s.days <= 30, s.days <= 90,
           CASE WHEN s.days <= 15 THEN '0-15' WHEN s.days <= 30 THEN '16-30' ELSE '31-90' END
      FROM s
      LEFT JOIN billing.customers pc ON pc.id = s.psa_company_id
      JOIN billing.customers vc ON vc.id = s.vendor_company_id
     WHERE s.days BETWEEN 0 AND 90
       AND lower(btrim(coalesce(s.billing_term, ''))) NOT IN ('monthly', 'trial')
$fn$;
COMMENT ON FUNCTION billing.expiring_subscriptions(date) IS 'Active vendor subscriptions ending 0 to 90 days after as_of (days_left = end date in the reporting time zone - as_of), Monthly and Trial terms excluded: cumulative windows within_15/30/90 and exclusive buckets 0-15, 16-30, 31-90.';

CREATE VIEW billing.expiring_subscriptions AS
SELECT es.* FROM billing.expiring_subscriptions(billing._recon_today()) es;
COMMENT ON VIEW billing.expiring_subscriptions IS 'Vendor subscriptions (not Monthly or Trial) ending in the next 90 days, as of today in the reporting time zone; billing.expiring_subscriptions(date) gives any other day.';
COMMENT ON COLUMN billing.expiring_subscriptions.subscription_id IS 'The vendor subscription.';
COMMENT ON COLUMN billing.expiring_subscriptions.company_id IS 'The PSA company its company maps to; null when unmapped.';
COMMENT ON COLUMN billing.expiring_subscriptions.company IS 'The PSA company''s name, or the vendor company''s when unmapped.';
COMMENT ON COLUMN billing.expiring_subscriptions.vendor_company_id IS 'The vendor company.';
COMMENT ON COLUMN billing.expiring_subscriptions.vendor_source_id IS 'The vendor source.';
COMMENT ON COLUMN billing.expiring_subscriptions.sku IS 'The vendor SKU.';
COMMENT ON COLUMN billing.expiring_subscriptions.product IS 'The vendor''s product name.';
COMMENT ON COLUMN billing.expiring_subscriptions.billing_term IS 'The vendor''s billing term (Annual, 2-Year, ...).';
COMMENT ON COLUMN billing.expiring_subscriptions.quantity IS 'Licences.';
COMMENT ON COLUMN billing.expiring_subscriptions.end_date IS 'The day it ends (commitment end), in the reporting time zone.';
COMMENT ON COLUMN billing.expiring_subscriptions.days_left IS 'end_date - as-of date, from 0 to 90.';
COMMENT ON COLUMN billing.expiring_subscriptions.within_15 IS 'days_left <= 15 (cumulative window).';
COMMENT ON COLUMN billing.expiring_subscriptions.within_30 IS 'days_left <= 30 (cumulative window).';
COMMENT ON COLUMN billing.expiring_subscriptions.within_90 IS 'days_left <= 90 (cumulative window; always true here).';
COMMENT ON COLUMN billing.expiring_subscriptions.bucket IS 'Exclusive bucket: 0-15, 16-30 or 31-90.';

-- Alerts -----------------------------------------------------------------------------------------
-- unmapped_company, unmapped_product, license_difference, negative_margin, subscription_expiring:
-- raised while their cause holds, updated when it changes, resolved when it goes.
CREATE FUNCTION billing.refresh_reconciliation_alerts(as_of date DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_day date := coalesce(as_of, billing._recon_today());
    v_at timestamptz := now();
    v_license numeric := billing._setting('recon_license_alert_min')::numeric;
    v_margin numeric := billing._setting('recon_margin_alert_min')::numeric;
    v_days integer := billing._setting('recon_expiry_alert_days')::integer;
    v_kinds text[] := ARRAY['unmapped_company', 'unmapped_product', 'license_difference', 'negative_margin', 'subscription_expiring'];
    v_open integer;
BEGIN
    PERFORM pg_advisory_xact_lock(pg_catalog.hashtext('pg_billing.refresh_reconciliation_alerts'));
    CREATE TEMP TABLE IF NOT EXISTS pg_temp._recon_due
        (kind text, source_id bigint, subject text, severity text, message text, detail text) ON COMMIT DROP;
    TRUNCATE pg_temp._recon_due;

    INSERT INTO pg_temp._recon_due
    SELECT 'unmapped_company', u.source_id, u.external_id, 'warning',
           format('vendor company "%s" (%s) is not mapped to a PSA company', u.name, u.external_id),
           format('%s. Insert a manual row into billing.company_map (vendor_company_id %s), or exclude the company in billing.exclusions.',
                  u.reason, u.vendor_company_id)
      FROM billing.unmapped_companies u;

    INSERT INTO pg_temp._recon_due
    SELECT 'unmapped_product', u.source_id, u.sku, 'warning',
           format('vendor SKU "%s" (%s) is not mapped to a PSA product', u.sku, coalesce(u.product, 'no name')),
           format('Used by %s companies. Insert rows into billing.product_map (vendor_source_id %s, vendor_sku %L), or exclude the SKU.',
                  u.companies, u.source_id, u.sku)
      FROM billing.unmapped_products u;

    INSERT INTO pg_temp._recon_due
    SELECT 'license_difference', lv.vendor_source_id, format('%s/%s', lv.company_id, lv.sku), 'warning',
           format('%s, %s: %s licences bought, %s billed (difference %s)', lv.company, lv.sku,
                  lv.vendor_quantity, lv.psa_quantity, lv.difference),
           format('As of %s. A positive difference is licences the PSA does not bill; see billing.license_variance.', v_day)
      FROM billing.license_variance(v_day) lv
     WHERE abs(lv.difference) >= v_license;

    INSERT INTO pg_temp._recon_due
    SELECT 'negative_margin', bc.vendor_source_id,
           format('%s/%s', coalesce(bc.company_id::text, 'vendor ' || array_to_string(bc.vendor_company_ids, ',')), bc.sku), 'warning',
           format('%s, %s: margin %s in %s (PSA price %s, vendor cost %s)', bc.company, bc.sku, bc.margin,
                  to_char(v_day, 'YYYY-MM'), bc.psa_price, bc.vendor_cost),
           format('Status %s%s. See billing.billing_comparison(%L).', bc.status,
                  coalesce(': ' || bc.note, ''), date_trunc('month', v_day)::date)
      FROM billing.billing_comparison(v_day) bc
     WHERE bc.margin < -v_margin;

    INSERT INTO pg_temp._recon_due
    SELECT 'subscription_expiring', es.vendor_source_id, es.subscription_id::text, 'info',
           format('%s, %s (%s licences, %s): ends on %s, in %s days', es.company, es.sku, es.quantity,
                  es.billing_term, es.end_date, es.days_left),
           'Renew it or let it end: see billing.expiring_subscriptions.'
      FROM billing.expiring_subscriptions(v_day) es
     WHERE es.days_left <= v_days;

    UPDATE billing.alerts a SET resolved_at = greatest(v_at, a.raised_at)
     WHERE a.resolved_at IS NULL AND a.kind = ANY (v_kinds)
       AND NOT EXISTS (SELECT 1 FROM pg_temp._recon_due d
                        WHERE d.kind = a.kind AND d.source_id IS NOT DISTINCT FROM a.source_id AND d.subject = a.subject);

    INSERT INTO billing.alerts AS a (raised_at, severity, kind, source_id, subject, message, detail)
    SELECT v_at, d.severity, d.kind, d.source_id, d.subject, d.message, d.detail FROM pg_temp._recon_due d
    ON CONFLICT (kind, coalesce(source_id, 0), coalesce(subject, '')) WHERE resolved_at IS NULL
    DO UPDATE SET message = EXCLUDED.message, detail = EXCLUDED.detail, severity = EXCLUDED.severity
     WHERE (a.message, a.detail, a.severity) IS DISTINCT FROM (EXCLUDED.message, EXCLUDED.detail, EXCLUDED.severity);

    SELECT count(*) INTO v_open FROM billing.alerts a WHERE a.resolved_at IS NULL AND a.kind = ANY (v_kinds);
    RETURN v_open;
END
$fn$;
COMMENT ON FUNCTION billing.refresh_reconciliation_alerts(date) IS 'Raises, updates and resolves the reconciliation alerts as of a day (default today): unmapped_company, unmapped_product, license_difference (recon_license_alert_min), negative_margin in that day''s month (recon_margin_alert_min), subscription_expiring (recon_expiry_alert_days); returns how many are open. Idempotent.';

CREATE FUNCTION billing.refresh_reconciliation(as_of date DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    PERFORM billing.refresh_company_map();
    RETURN billing.refresh_reconciliation_alerts(as_of);
END
$fn$;
COMMENT ON FUNCTION billing.refresh_reconciliation(date) IS 'billing.refresh_company_map() then billing.refresh_reconciliation_alerts(as_of); returns the open reconciliation alerts. Runs at the end of every successful vendor or PSA sync; call it after loading a manual source or changing mappings, and daily for the expiry alerts.';

-- At the end of a successful sync of a vendor or PSA source, whichever connector ran it.
CREATE FUNCTION billing._sync_run_reconcile() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM billing._recon_sources r WHERE r.source_id = NEW.source_id) THEN
        PERFORM billing.refresh_reconciliation();
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION billing._sync_run_reconcile() IS 'Trigger: refreshes the company map and the reconciliation alerts when a sync of a vendor or PSA source succeeds.';
CREATE TRIGGER sync_runs_reconcile AFTER UPDATE OF status ON billing.sync_runs
    FOR EACH ROW WHEN (NEW.status = 'succeeded' AND OLD.status IS DISTINCT FROM 'succeeded')
    EXECUTE FUNCTION billing._sync_run_reconcile();

-- Privileges --------------------------------------------------------------------------------------
REVOKE ALL ON billing._recon_sources, billing._recon_vendor_subscriptions, billing.unmapped_companies,
              billing.unmapped_products, billing.license_variance, billing.expiring_subscriptions FROM PUBLIC;
REVOKE ALL ON FUNCTION billing._recon_role(text, jsonb), billing._company_name_key(text),
                       billing._check_recon_setting(text, text), billing._check_extra_setting(text, text),
                       billing._recon_today(), billing._recon_vendor_active(text), billing._recon_term_class(text),
                       billing._company_map_check(),
                       billing._company_candidates(), billing.refresh_company_map(),
                       billing._recon_psa_additions(date), billing.license_variance(date),
                       billing.billing_comparison(date), billing.expiring_subscriptions(date),
                       billing.refresh_reconciliation_alerts(date), billing.refresh_reconciliation(date),
                       billing._sync_run_reconcile() FROM PUBLIC;
GRANT SELECT ON billing._recon_sources, billing._recon_vendor_subscriptions, billing.unmapped_companies,
                billing.unmapped_products, billing.license_variance, billing.expiring_subscriptions
      TO billing_reader, billing_admin;
GRANT EXECUTE ON FUNCTION billing._recon_role(text, jsonb), billing._company_name_key(text),
                          billing._recon_today(), billing._recon_vendor_active(text), billing._recon_term_class(text),
                          billing._company_candidates(),
                          billing._recon_psa_additions(date), billing.license_variance(date),
                          billing.billing_comparison(date), billing.expiring_subscriptions(date)
      TO billing_reader, billing_admin;
GRANT EXECUTE ON FUNCTION billing._check_recon_setting(text, text), billing._check_extra_setting(text, text),
                          billing._company_map_check(), billing.refresh_company_map(),
                          billing.refresh_reconciliation_alerts(date), billing.refresh_reconciliation(date),
                          billing._sync_run_reconcile()
      TO billing_admin;
