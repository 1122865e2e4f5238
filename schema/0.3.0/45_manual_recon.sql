-- Loading a reconciliation by hand: the manual_* load views take the columns the reconciliation
-- reads (40_reconciliation.sql), so that a vendor and a PSA loaded from exports reconcile like
-- synced ones. New columns are appended to the 0.2.0 views (CREATE OR REPLACE VIEW keeps the
-- others); the INSTEAD OF trigger functions are replaced whole. Two new load views, products and
-- contracts, carry a PSA product's billing cycle and a PSA agreement.

\echo Use "CREATE EXTENSION pg_billing" to load this file. \quit

-- Customers: + vendor_ref ----------------------------------------------------------------------
CREATE OR REPLACE VIEW billing.manual_customers AS
SELECT s.name AS source, c.external_id, c.reference, c.name, c.organization, c.email, c.currency, c.status,
       c.vendor_ref
FROM billing.customers c JOIN billing.sources s ON s.id OPERATOR(pg_catalog.=) c.source_id
WHERE s.kind OPERATOR(pg_catalog.=) 'manual';
COMMENT ON COLUMN billing.manual_customers.vendor_ref IS 'On a PSA company: the licence vendor''s id of the same company (company mapping tries it before names).';

CREATE OR REPLACE FUNCTION billing._manual_customers_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v_row text := pg_catalog.format('customer "%s"', NEW.external_id);
    v_source bigint;
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'customer row');
    v_source := billing._manual_source_id(NEW.source);
    IF NOT (NEW.currency ~ '^[A-Z]{3}$') THEN
        PERFORM billing._manual_refuse(v_row, 'customers', 'customers_currency_iso');
    END IF;
    IF NOT (NEW.external_id <> '') THEN
        PERFORM billing._manual_refuse(v_row, 'customers', 'customers_external_id_not_blank');
    END IF;
    IF NOT (pg_catalog.btrim(NEW.status) <> '') THEN
        PERFORM billing._manual_refuse(v_row, 'customers', 'customers_status_not_blank');
    END IF;
    INSERT INTO billing.customers AS t (source_id, external_id, reference, name, organization, email, currency, status,
                                        vendor_ref)
    VALUES (v_source, NEW.external_id, NEW.reference, NEW.name, NEW.organization, NEW.email, NEW.currency, NEW.status,
            NEW.vendor_ref)
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET reference = EXCLUDED.reference, name = EXCLUDED.name, organization = EXCLUDED.organization,
            email = EXCLUDED.email, currency = EXCLUDED.currency, status = EXCLUDED.status,
            vendor_ref = EXCLUDED.vendor_ref, synced_at = pg_catalog.now();
    RETURN NEW;
END
$fn$;

-- Products (new) -------------------------------------------------------------------------------
CREATE VIEW billing.manual_products AS
SELECT s.name AS source, p.external_id, p.sku, p.name, p.vendor, p.family, p.price, p.cost, p.currency,
       p.interval_months, p.recurring, p.billing_cycle
FROM billing.products p JOIN billing.sources s ON s.id OPERATOR(pg_catalog.=) p.source_id
WHERE s.kind OPERATOR(pg_catalog.=) 'manual';
COMMENT ON VIEW billing.manual_products IS 'Load products into a manual source (a PSA catalog, for the billing cycle the billing comparison checks); the same external_id again updates the product.';
COMMENT ON COLUMN billing.manual_products.source IS 'Name of the manual source.';
COMMENT ON COLUMN billing.manual_products.external_id IS 'Your product id.';
COMMENT ON COLUMN billing.manual_products.sku IS 'SKU or catalog item id: what subscriptions and billing.product_map name.';
COMMENT ON COLUMN billing.manual_products.name IS 'Product name.';
COMMENT ON COLUMN billing.manual_products.vendor IS 'Maker or vendor of the product.';
COMMENT ON COLUMN billing.manual_products.family IS 'Product family or category.';
COMMENT ON COLUMN billing.manual_products.price IS 'List price per unit and interval.';
COMMENT ON COLUMN billing.manual_products.cost IS 'Cost per unit and interval.';
COMMENT ON COLUMN billing.manual_products.currency IS 'Currency (ISO 4217).';
COMMENT ON COLUMN billing.manual_products.interval_months IS 'Billing interval in months.';
COMMENT ON COLUMN billing.manual_products.recurring IS 'Billed every interval.';
COMMENT ON COLUMN billing.manual_products.billing_cycle IS 'Billing cycle as the PSA names it (Monthly, Annual, ...).';

CREATE FUNCTION billing._manual_products_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v_row text := pg_catalog.format('product "%s"', NEW.external_id);
    v_source bigint;
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'product row');
    v_source := billing._manual_source_id(NEW.source);
    IF NOT (NEW.currency ~ '^[A-Z]{3}$') THEN
        PERFORM billing._manual_refuse(v_row, 'products', 'products_currency_iso');
    END IF;
    IF NOT (NEW.interval_months > 0) THEN
        PERFORM billing._manual_refuse(v_row, 'products', 'products_interval_positive');
    END IF;
    IF NOT (pg_catalog.btrim(NEW.billing_cycle) <> '') THEN
        PERFORM billing._manual_refuse(v_row, 'products', 'products_billing_cycle_not_blank');
    END IF;
    INSERT INTO billing.products AS t (source_id, external_id, sku, name, vendor, family, price, cost, currency,
                                       interval_months, recurring, billing_cycle)
    VALUES (v_source, NEW.external_id, NEW.sku, NEW.name, NEW.vendor, NEW.family, NEW.price, NEW.cost, NEW.currency,
            NEW.interval_months, NEW.recurring, NEW.billing_cycle)
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET sku = EXCLUDED.sku, name = EXCLUDED.name, vendor = EXCLUDED.vendor, family = EXCLUDED.family,
            price = EXCLUDED.price, cost = EXCLUDED.cost, currency = EXCLUDED.currency,
            interval_months = EXCLUDED.interval_months, recurring = EXCLUDED.recurring,
            billing_cycle = EXCLUDED.billing_cycle, synced_at = pg_catalog.now();
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION billing._manual_products_insert() IS 'Trigger: stores a row loaded into billing.manual_products.';
CREATE TRIGGER manual_products_insert INSTEAD OF INSERT ON billing.manual_products
    FOR EACH ROW EXECUTE FUNCTION billing._manual_products_insert();

-- Contracts (new) ------------------------------------------------------------------------------
CREATE VIEW billing.manual_contracts AS
SELECT s.name AS source, k.external_id, c.external_id AS customer, k.name, k.type, k.start_date, k.end_date,
       k.canceled_on, k.billing_cycle, k.currency
FROM billing.contracts k
JOIN billing.sources s ON s.id OPERATOR(pg_catalog.=) k.source_id
JOIN billing.customers c ON c.id OPERATOR(pg_catalog.=) k.customer_id
WHERE s.kind OPERATOR(pg_catalog.=) 'manual';
COMMENT ON VIEW billing.manual_contracts IS 'Load contracts (PSA agreements) into a manual source; subscriptions name them in their contract column. An addition counts in the reconciliation only while its contract runs.';
COMMENT ON COLUMN billing.manual_contracts.source IS 'Name of the manual source.';
COMMENT ON COLUMN billing.manual_contracts.external_id IS 'Your contract id; subscriptions refer to the contract by it.';
COMMENT ON COLUMN billing.manual_contracts.customer IS 'Your customer id (loaded before).';
COMMENT ON COLUMN billing.manual_contracts.name IS 'Contract name.';
COMMENT ON COLUMN billing.manual_contracts.type IS 'Contract type, in your own words.';
COMMENT ON COLUMN billing.manual_contracts.start_date IS 'First day of the contract.';
COMMENT ON COLUMN billing.manual_contracts.end_date IS 'Last day of the contract.';
COMMENT ON COLUMN billing.manual_contracts.canceled_on IS 'Day it was cancelled (it stops counting that day).';
COMMENT ON COLUMN billing.manual_contracts.billing_cycle IS 'Billing cycle (Monthly, Annual, ...); used when the product has none.';
COMMENT ON COLUMN billing.manual_contracts.currency IS 'Currency (ISO 4217).';

CREATE FUNCTION billing._manual_contracts_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v_source bigint := billing._manual_source_id(NEW.source);
    v_row text := pg_catalog.format('contract "%s"', NEW.external_id);
    v_customer bigint;
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'contract row');
    PERFORM billing._manual_require(NEW.customer, 'customer', v_row);
    v_customer := billing._manual_ref('customers', v_source, NEW.customer, 'customer', v_row);
    IF NOT (NEW.currency ~ '^[A-Z]{3}$') THEN
        PERFORM billing._manual_refuse(v_row, 'contracts', 'contracts_currency_iso');
    END IF;
    IF NOT (NEW.end_date IS NULL OR NEW.start_date IS NULL OR NEW.end_date >= NEW.start_date) THEN
        PERFORM billing._manual_refuse(v_row, 'contracts', 'contracts_end_after_start');
    END IF;
    INSERT INTO billing.contracts AS t (source_id, external_id, customer_id, name, type, start_date, end_date,
                                        canceled_on, billing_cycle, currency)
    VALUES (v_source, NEW.external_id, v_customer, NEW.name, NEW.type, NEW.start_date, NEW.end_date,
            NEW.canceled_on, NEW.billing_cycle, NEW.currency)
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET customer_id = EXCLUDED.customer_id, name = EXCLUDED.name, type = EXCLUDED.type,
            start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, canceled_on = EXCLUDED.canceled_on,
            billing_cycle = EXCLUDED.billing_cycle, currency = EXCLUDED.currency, synced_at = pg_catalog.now();
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION billing._manual_contracts_insert() IS 'Trigger: stores a row loaded into billing.manual_contracts.';
CREATE TRIGGER manual_contracts_insert INSTEAD OF INSERT ON billing.manual_contracts
    FOR EACH ROW EXECUTE FUNCTION billing._manual_contracts_insert();

-- Subscriptions: + unit_cost, contract, included_quantity (lessIncluded), billable --------------
CREATE OR REPLACE VIEW billing.manual_subscriptions AS
SELECT s.name AS source, sub.external_id, c.external_id AS customer, sub.product, sub.sku, sub.state,
       sub.quantity, sub.unit_price, sub.currency, sub.interval_months, sub.billing_term,
       sub.current_period_start, sub.current_period_end, sub.started_at, sub.canceled_at, sub.ends_at,
       sub.unit_cost, k.external_id AS contract, sub.included_quantity, sub.billable
FROM billing.subscriptions sub
JOIN billing.sources s ON s.id OPERATOR(pg_catalog.=) sub.source_id
JOIN billing.customers c ON c.id OPERATOR(pg_catalog.=) sub.customer_id
LEFT JOIN billing.contracts k ON k.id OPERATOR(pg_catalog.=) sub.contract_id
WHERE s.kind OPERATOR(pg_catalog.=) 'manual';
COMMENT ON COLUMN billing.manual_subscriptions.unit_cost IS 'Cost per unit and interval (a vendor''s partner cost, a PSA addition''s cost).';
COMMENT ON COLUMN billing.manual_subscriptions.contract IS 'Your contract id (billing.manual_contracts, loaded before), if any.';
COMMENT ON COLUMN billing.manual_subscriptions.included_quantity IS 'Units included at no charge (ConnectWise lessIncluded): the reconciliation counts quantity minus these (default 0).';
COMMENT ON COLUMN billing.manual_subscriptions.billable IS 'False when the PSA does not bill it to the customer: its licences count, its price does not (default true).';

CREATE OR REPLACE FUNCTION billing._manual_subscriptions_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v_source bigint := billing._manual_source_id(NEW.source);
    v_row text := pg_catalog.format('subscription "%s"', NEW.external_id);
    v_customer bigint;
    v_contract bigint;
    v_included numeric := coalesce(NEW.included_quantity, 0);
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'subscription row');
    PERFORM billing._manual_require(NEW.customer, 'customer', v_row);
    -- subscriptions_period_order, said in the user's words
    IF NEW.current_period_end < NEW.current_period_start THEN
        RAISE EXCEPTION '%: period ends (%) before it starts (%)', v_row, NEW.current_period_end, NEW.current_period_start
            USING ERRCODE = 'check_violation';
    END IF;
    v_customer := billing._manual_ref('customers', v_source, NEW.customer, 'customer', v_row);
    v_contract := billing._manual_ref('contracts', v_source, NEW.contract, 'contract', v_row);
    IF NOT (NEW.currency ~ '^[A-Z]{3}$') THEN
        PERFORM billing._manual_refuse(v_row, 'subscriptions', 'subscriptions_currency_iso');
    END IF;
    IF NOT (NEW.interval_months > 0) THEN
        PERFORM billing._manual_refuse(v_row, 'subscriptions', 'subscriptions_interval_positive');
    END IF;
    IF NOT (NEW.quantity >= 0 AND v_included >= 0) THEN
        PERFORM billing._manual_refuse(v_row, 'subscriptions', 'subscriptions_quantity_non_negative');
    END IF;
    INSERT INTO billing.subscriptions AS t (source_id, external_id, customer_id, product, sku, state, quantity,
        unit_price, currency, interval_months, billing_term, current_period_start, current_period_end,
        started_at, canceled_at, ends_at, unit_cost, contract_id, included_quantity, billable)
    VALUES (v_source, NEW.external_id, v_customer,
        NEW.product, NEW.sku, NEW.state, NEW.quantity, NEW.unit_price, NEW.currency, NEW.interval_months,
        NEW.billing_term, NEW.current_period_start, NEW.current_period_end, NEW.started_at, NEW.canceled_at, NEW.ends_at,
        NEW.unit_cost, v_contract, v_included, coalesce(NEW.billable, true))
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET customer_id = EXCLUDED.customer_id, product = EXCLUDED.product, sku = EXCLUDED.sku, state = EXCLUDED.state,
            quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price, currency = EXCLUDED.currency,
            interval_months = EXCLUDED.interval_months, billing_term = EXCLUDED.billing_term,
            current_period_start = EXCLUDED.current_period_start, current_period_end = EXCLUDED.current_period_end,
            started_at = EXCLUDED.started_at, canceled_at = EXCLUDED.canceled_at, ends_at = EXCLUDED.ends_at,
            unit_cost = EXCLUDED.unit_cost, contract_id = EXCLUDED.contract_id,
            included_quantity = EXCLUDED.included_quantity, billable = EXCLUDED.billable,
            synced_at = pg_catalog.now();
    RETURN NEW;
END
$fn$;

-- Invoices: + direction (a vendor's bill is payable) ---------------------------------------------
CREATE OR REPLACE VIEW billing.manual_invoices AS
SELECT s.name AS source, i.external_id, i.number, c.external_id AS customer, sub.external_id AS subscription,
       i.status, i.issue_date, i.due_date, i.paid_date, i.currency, i.subtotal, i.discount, i.tax, i.total,
       i.paid, i.due, i.direction
FROM billing.invoices i
JOIN billing.sources s ON s.id OPERATOR(pg_catalog.=) i.source_id
JOIN billing.customers c ON c.id OPERATOR(pg_catalog.=) i.customer_id
LEFT JOIN billing.subscriptions sub ON sub.id OPERATOR(pg_catalog.=) i.subscription_id
WHERE s.kind OPERATOR(pg_catalog.=) 'manual';
COMMENT ON COLUMN billing.manual_invoices.direction IS 'receivable (default: you bill your customer) or payable (a vendor''s bill to you, e.g. a Pax8 invoice: never revenue; the billing comparison reads it).';

CREATE OR REPLACE FUNCTION billing._manual_invoices_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v_source bigint := billing._manual_source_id(NEW.source);
    v_row text := pg_catalog.format('invoice "%s"', NEW.external_id);
    v_status text := coalesce(NEW.status, 'open');
    v_direction text := coalesce(NEW.direction, 'receivable');
    v_total numeric := coalesce(NEW.total, coalesce(NEW.subtotal, 0) - coalesce(NEW.discount, 0) + coalesce(NEW.tax, 0));
    v_paid numeric := coalesce(NEW.paid, CASE WHEN coalesce(NEW.status, 'open') = 'paid' THEN v_total ELSE 0 END);
    v_customer bigint;
    v_subscription bigint;
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'invoice row');
    PERFORM billing._manual_require(NEW.customer, 'customer', v_row);
    PERFORM billing._manual_require(NEW.issue_date, 'issue_date', v_row);
    PERFORM billing._manual_require(NEW.currency, 'currency', v_row);
    v_customer := billing._manual_ref('customers', v_source, NEW.customer, 'customer', v_row);
    v_subscription := billing._manual_ref('subscriptions', v_source, NEW.subscription, 'subscription', v_row);
    -- invoices_period_order holds: the view takes no period
    IF NOT (NEW.currency ~ '^[A-Z]{3}$') THEN
        PERFORM billing._manual_refuse(v_row, 'invoices', 'invoices_currency_iso');
    END IF;
    IF NOT (pg_catalog.isfinite(NEW.issue_date) AND pg_catalog.isfinite(NEW.due_date) AND pg_catalog.isfinite(NEW.paid_date)) THEN
        PERFORM billing._manual_refuse(v_row, 'invoices', 'invoices_dates_finite');
    END IF;
    IF NOT (NEW.due_date IS NULL OR NEW.due_date >= NEW.issue_date) THEN
        PERFORM billing._manual_refuse(v_row, 'invoices', 'invoices_due_after_issue');
    END IF;
    IF NOT (v_status IN ('draft', 'open', 'pending', 'paid', 'voided', 'canceled')) THEN
        PERFORM billing._manual_refuse(v_row, 'invoices', 'invoices_status_known');
    END IF;
    IF NOT (v_direction IN ('receivable', 'payable')) THEN
        PERFORM billing._manual_refuse(v_row, 'invoices', 'invoices_direction_known');
    END IF;
    INSERT INTO billing.invoices AS t (source_id, external_id, number, customer_id, subscription_id, status,
        issue_date, due_date, paid_date, currency, subtotal, discount, tax, total, paid, due, direction)
    VALUES (v_source, NEW.external_id, NEW.number, v_customer, v_subscription,
        v_status, NEW.issue_date, NEW.due_date, NEW.paid_date, NEW.currency, coalesce(NEW.subtotal, 0),
        coalesce(NEW.discount, 0), coalesce(NEW.tax, 0), v_total, v_paid, coalesce(NEW.due, v_total - v_paid), v_direction)
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET number = EXCLUDED.number, customer_id = EXCLUDED.customer_id, subscription_id = EXCLUDED.subscription_id,
            status = EXCLUDED.status, issue_date = EXCLUDED.issue_date, due_date = EXCLUDED.due_date,
            paid_date = EXCLUDED.paid_date, currency = EXCLUDED.currency, subtotal = EXCLUDED.subtotal,
            discount = EXCLUDED.discount, tax = EXCLUDED.tax, total = EXCLUDED.total, paid = EXCLUDED.paid,
            due = EXCLUDED.due, direction = EXCLUDED.direction, synced_at = pg_catalog.now();
    RETURN NEW;
END
$fn$;

-- Invoice lines: + cost, customer (the client a vendor's bill line is for), billing_term ---------
CREATE OR REPLACE VIEW billing.manual_invoice_lines AS
SELECT s.name AS source, i.external_id AS invoice, l.external_id, l.kind, l.product, l.sku, l.description,
       l.quantity, l.unit_price, l.subtotal, l.discount, l.tax, l.total, l.currency, l.period_start, l.period_end,
       l.recurring, l.interval_months, l.full_period_amount, sub.external_id AS subscription, l.tax_code,
       l.cost, lc.external_id AS customer, l.billing_term
FROM billing.invoice_lines l
JOIN billing.invoices i ON i.id OPERATOR(pg_catalog.=) l.invoice_id
JOIN billing.sources s ON s.id OPERATOR(pg_catalog.=) i.source_id
LEFT JOIN billing.subscriptions sub ON sub.id OPERATOR(pg_catalog.=) l.subscription_id
LEFT JOIN billing.customers lc ON lc.id OPERATOR(pg_catalog.=) l.customer_id
WHERE s.kind OPERATOR(pg_catalog.=) 'manual';
COMMENT ON COLUMN billing.manual_invoice_lines.cost IS 'What the line costs you (a vendor bill line''s cost, its total when empty is not assumed).';
COMMENT ON COLUMN billing.manual_invoice_lines.customer IS 'Your customer id of the client the line is for, when it is not the invoice''s customer (each line of a vendor''s bill names a client).';
COMMENT ON COLUMN billing.manual_invoice_lines.billing_term IS 'Billing term of the line (Monthly, Annual, 2 Year, ...): the billing comparison checks it against the PSA product''s cycle.';

CREATE OR REPLACE FUNCTION billing._manual_invoice_lines_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v_source bigint := billing._manual_source_id(NEW.source);
    v_row text := pg_catalog.format('line "%s" of invoice "%s"', NEW.external_id, NEW.invoice);
    v_invoice billing.invoices;
    v_subscription bigint;
    v_customer bigint;
    v_subtotal numeric := coalesce(NEW.subtotal, coalesce(NEW.quantity, 1) * NEW.unit_price);
    v_recurring boolean := coalesce(NEW.recurring, false);
BEGIN
    PERFORM billing._manual_require(NEW.invoice, 'invoice', 'invoice line row');
    PERFORM billing._manual_require(NEW.external_id, 'external_id', v_row);
    PERFORM billing._manual_require(NEW.kind, 'kind', v_row);
    PERFORM billing._manual_require(v_subtotal, 'subtotal (or unit_price)', v_row);
    PERFORM billing._manual_require(NEW.period_start, 'period_start', v_row);
    PERFORM billing._manual_require(NEW.period_end, 'period_end', v_row);
    SELECT * INTO v_invoice FROM billing.invoices i
    WHERE i.id = billing._manual_ref('invoices', v_source, NEW.invoice, 'invoice', v_row);
    -- invoice_lines_period_order, said in the user's words
    IF NEW.period_end < NEW.period_start THEN
        RAISE EXCEPTION '%: period ends (%) before it starts (%)', v_row, NEW.period_end, NEW.period_start
            USING ERRCODE = 'check_violation', HINT = 'period_end is exclusive; a one-time line has period_end = period_start.';
    END IF;
    IF NEW.currency IS NOT NULL AND NEW.currency <> v_invoice.currency THEN
        RAISE EXCEPTION '%: currency % does not match the invoice''s currency %', v_row, NEW.currency, v_invoice.currency
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    v_subscription := billing._manual_ref('subscriptions', v_source, NEW.subscription, 'subscription', v_row);
    v_customer := billing._manual_ref('customers', v_source, NEW.customer, 'customer', v_row);
    -- invoice_lines_currency_iso holds: the line takes its invoice's currency
    IF NOT (pg_catalog.isfinite(NEW.period_start) AND pg_catalog.isfinite(NEW.period_end)) THEN
        PERFORM billing._manual_refuse(v_row, 'invoice_lines', 'invoice_lines_dates_finite');
    END IF;
    IF NOT (NEW.interval_months > 0) THEN
        PERFORM billing._manual_refuse(v_row, 'invoice_lines', 'invoice_lines_interval_positive');
    END IF;
    IF NOT (NEW.kind IN ('plan', 'component', 'usage', 'one_time', 'adjustment', 'credit')) THEN
        PERFORM billing._manual_refuse(v_row, 'invoice_lines', 'invoice_lines_kind_known');
    END IF;
    IF NOT (NOT v_recurring OR NEW.interval_months IS NOT NULL) THEN
        PERFORM billing._manual_refuse(v_row, 'invoice_lines', 'invoice_lines_recurring_has_interval');
    END IF;
    IF NOT (pg_catalog.btrim(NEW.tax_code) <> '') THEN
        PERFORM billing._manual_refuse(v_row, 'invoice_lines', 'invoice_lines_tax_code_not_blank');
    END IF;
    INSERT INTO billing.invoice_lines AS t (invoice_id, external_id, kind, product, sku, description, quantity,
        unit_price, subtotal, discount, tax, total, currency, period_start, period_end, recurring, interval_months,
        full_period_amount, subscription_id, tax_code, cost, customer_id, billing_term)
    VALUES (v_invoice.id, NEW.external_id, NEW.kind, NEW.product, NEW.sku, NEW.description, coalesce(NEW.quantity, 1),
        NEW.unit_price, v_subtotal, coalesce(NEW.discount, 0), coalesce(NEW.tax, 0),
        coalesce(NEW.total, v_subtotal - coalesce(NEW.discount, 0) + coalesce(NEW.tax, 0)), v_invoice.currency,
        NEW.period_start, NEW.period_end, v_recurring, NEW.interval_months, NEW.full_period_amount,
        v_subscription, NEW.tax_code, NEW.cost, v_customer, NEW.billing_term)
    ON CONFLICT (invoice_id, external_id) DO UPDATE
        SET kind = EXCLUDED.kind, product = EXCLUDED.product, sku = EXCLUDED.sku, description = EXCLUDED.description,
            quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price, subtotal = EXCLUDED.subtotal,
            discount = EXCLUDED.discount, tax = EXCLUDED.tax, total = EXCLUDED.total,
            period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end, recurring = EXCLUDED.recurring,
            interval_months = EXCLUDED.interval_months, full_period_amount = EXCLUDED.full_period_amount,
            subscription_id = EXCLUDED.subscription_id, tax_code = EXCLUDED.tax_code, cost = EXCLUDED.cost,
            customer_id = EXCLUDED.customer_id, billing_term = EXCLUDED.billing_term;
    RETURN NEW;
END
$fn$;

-- Privileges of the new views and functions, as 0.2.0's manual loads have them.
REVOKE ALL ON billing.manual_products, billing.manual_contracts FROM PUBLIC;
GRANT SELECT ON billing.manual_products, billing.manual_contracts TO billing_reader, billing_admin;
GRANT INSERT ON billing.manual_products, billing.manual_contracts TO billing_admin;
REVOKE ALL ON FUNCTION billing._manual_products_insert(), billing._manual_contracts_insert() FROM PUBLIC;
