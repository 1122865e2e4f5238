-- Loading a manual source: views that take the user's own ids (INSERT or COPY), resolve them,
-- and stop the whole statement at the first bad row with a message that names the row and the rule.
-- Loading the same export again updates rows in place.
-- The INSTEAD OF triggers check every rule of the target table themselves and raise, naming the row,
-- before they insert. Catching the table's own check_violation in an EXCEPTION block instead would
-- start a subtransaction per row, taking a transaction id per loaded row (a million-row COPY would
-- burn a million XIDs and overflow the subtransaction cache of every snapshot taken meanwhile).

CREATE FUNCTION billing._manual_source_id(source text) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT billing._source_id($1, 'manual')
$fn$;
COMMENT ON FUNCTION billing._manual_source_id(text) IS 'The id of a manual source, or an error naming what is wrong.';

CREATE FUNCTION billing._manual_ref(p_table text, p_source_id bigint, p_external_id text,
                                    p_what text, p_row text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_id bigint;
BEGIN
    IF p_external_id IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT id FROM billing.%I WHERE source_id = $1 AND external_id = $2', p_table)
        INTO v_id USING p_source_id, p_external_id;
    IF v_id IS NULL THEN
        RAISE EXCEPTION '%: unknown % "%"', p_row, p_what, p_external_id
            USING ERRCODE = 'foreign_key_violation',
                  HINT = format('Load the %s first, in the same source.', p_what);
    END IF;
    RETURN v_id;
END
$fn$;
COMMENT ON FUNCTION billing._manual_ref(text, bigint, text, text, text) IS 'Resolves a user''s external id to a row id, or raises an error naming the row that refers to it.';

CREATE FUNCTION billing._manual_require(p_value anyelement, p_column text, p_row text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF p_value IS NULL THEN
        RAISE EXCEPTION '%: % is required', p_row, p_column USING ERRCODE = 'not_null_violation';
    END IF;
END
$fn$;
COMMENT ON FUNCTION billing._manual_require(anyelement, text, text) IS 'Raises an error naming the row when a required column is missing.';

-- The message PostgreSQL gives for a broken CHECK constraint, with the row's name in front.
CREATE FUNCTION billing._manual_refuse(p_row text, p_table text, p_constraint text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    RAISE EXCEPTION '%: new row for relation "%" violates check constraint "%"', p_row, p_table, p_constraint
        USING ERRCODE = 'check_violation', SCHEMA = 'billing', TABLE = p_table, CONSTRAINT = p_constraint;
END
$fn$;
COMMENT ON FUNCTION billing._manual_refuse(text, text, text) IS 'Raises the check_violation of a table rule that a loaded row breaks, naming the row.';
REVOKE ALL ON FUNCTION billing._manual_refuse(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billing._manual_refuse(text, text, text) TO billing_admin;

-- Customers ------------------------------------------------------------------------------------
CREATE VIEW billing.manual_customers AS
SELECT s.name AS source, c.external_id, c.reference, c.name, c.organization, c.email, c.currency, c.status
FROM billing.customers c JOIN billing.sources s ON s.id = c.source_id
WHERE s.kind = 'manual';
COMMENT ON VIEW billing.manual_customers IS 'Load customers into a manual source: INSERT or COPY rows; the same external_id again updates the customer.';
COMMENT ON COLUMN billing.manual_customers.source IS 'Name of the manual source.';
COMMENT ON COLUMN billing.manual_customers.external_id IS 'Your customer id; other loads refer to the customer by it.';
COMMENT ON COLUMN billing.manual_customers.reference IS 'Your customer reference or code.';
COMMENT ON COLUMN billing.manual_customers.name IS 'Customer name.';
COMMENT ON COLUMN billing.manual_customers.organization IS 'Organisation name.';
COMMENT ON COLUMN billing.manual_customers.email IS 'Billing e-mail.';
COMMENT ON COLUMN billing.manual_customers.currency IS 'Default currency (ISO 4217).';
COMMENT ON COLUMN billing.manual_customers.status IS 'Status, in your own words (active, archived, ...).';

CREATE FUNCTION billing._manual_customers_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_row text := format('customer "%s"', NEW.external_id);
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
    INSERT INTO billing.customers AS t (source_id, external_id, reference, name, organization, email, currency, status)
    VALUES (v_source, NEW.external_id, NEW.reference, NEW.name,
            NEW.organization, NEW.email, NEW.currency, NEW.status)
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET reference = EXCLUDED.reference, name = EXCLUDED.name, organization = EXCLUDED.organization,
            email = EXCLUDED.email, currency = EXCLUDED.currency, status = EXCLUDED.status, synced_at = pg_catalog.now();
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION billing._manual_customers_insert() IS 'Trigger: stores a row loaded into billing.manual_customers.';
CREATE TRIGGER manual_customers_insert INSTEAD OF INSERT ON billing.manual_customers
    FOR EACH ROW EXECUTE FUNCTION billing._manual_customers_insert();

-- Subscriptions --------------------------------------------------------------------------------
CREATE VIEW billing.manual_subscriptions AS
SELECT s.name AS source, sub.external_id, c.external_id AS customer, sub.product, sub.sku, sub.state,
       sub.quantity, sub.unit_price, sub.currency, sub.interval_months, sub.billing_term,
       sub.current_period_start, sub.current_period_end, sub.started_at, sub.canceled_at, sub.ends_at
FROM billing.subscriptions sub
JOIN billing.sources s ON s.id = sub.source_id
JOIN billing.customers c ON c.id = sub.customer_id
WHERE s.kind = 'manual';
COMMENT ON VIEW billing.manual_subscriptions IS 'Load subscriptions into a manual source, referring to customers by your ids.';
COMMENT ON COLUMN billing.manual_subscriptions.source IS 'Name of the manual source.';
COMMENT ON COLUMN billing.manual_subscriptions.external_id IS 'Your subscription id.';
COMMENT ON COLUMN billing.manual_subscriptions.customer IS 'Your customer id (loaded before).';
COMMENT ON COLUMN billing.manual_subscriptions.product IS 'Product name.';
COMMENT ON COLUMN billing.manual_subscriptions.sku IS 'Product SKU.';
COMMENT ON COLUMN billing.manual_subscriptions.state IS 'State (active, canceled, ...).';
COMMENT ON COLUMN billing.manual_subscriptions.quantity IS 'Units.';
COMMENT ON COLUMN billing.manual_subscriptions.unit_price IS 'Price per unit and interval.';
COMMENT ON COLUMN billing.manual_subscriptions.currency IS 'Currency.';
COMMENT ON COLUMN billing.manual_subscriptions.interval_months IS 'Billing interval in months.';
COMMENT ON COLUMN billing.manual_subscriptions.billing_term IS 'Billing term (Monthly, Annual, ...).';
COMMENT ON COLUMN billing.manual_subscriptions.current_period_start IS 'Start of the current period.';
COMMENT ON COLUMN billing.manual_subscriptions.current_period_end IS 'End of the current period.';
COMMENT ON COLUMN billing.manual_subscriptions.started_at IS 'Start.';
COMMENT ON COLUMN billing.manual_subscriptions.canceled_at IS 'Cancellation time.';
COMMENT ON COLUMN billing.manual_subscriptions.ends_at IS 'End (commitment end, expiry).';

CREATE FUNCTION billing._manual_subscriptions_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_source bigint := billing._manual_source_id(NEW.source);
    v_row text := format('subscription "%s"', NEW.external_id);
    v_customer bigint;
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'subscription row');
    PERFORM billing._manual_require(NEW.customer, 'customer', v_row);
    -- subscriptions_period_order, said in the user's words
    IF NEW.current_period_end < NEW.current_period_start THEN
        RAISE EXCEPTION '%: period ends (%) before it starts (%)', v_row, NEW.current_period_end, NEW.current_period_start
            USING ERRCODE = 'check_violation';
    END IF;
    v_customer := billing._manual_ref('customers', v_source, NEW.customer, 'customer', v_row);
    IF NOT (NEW.currency ~ '^[A-Z]{3}$') THEN
        PERFORM billing._manual_refuse(v_row, 'subscriptions', 'subscriptions_currency_iso');
    END IF;
    IF NOT (NEW.interval_months > 0) THEN
        PERFORM billing._manual_refuse(v_row, 'subscriptions', 'subscriptions_interval_positive');
    END IF;
    -- included_quantity is not loaded: it keeps its default, 0
    IF NOT (NEW.quantity >= 0) THEN
        PERFORM billing._manual_refuse(v_row, 'subscriptions', 'subscriptions_quantity_non_negative');
    END IF;
    INSERT INTO billing.subscriptions AS t (source_id, external_id, customer_id, product, sku, state, quantity,
        unit_price, currency, interval_months, billing_term, current_period_start, current_period_end,
        started_at, canceled_at, ends_at)
    VALUES (v_source, NEW.external_id, v_customer,
        NEW.product, NEW.sku, NEW.state, NEW.quantity, NEW.unit_price, NEW.currency, NEW.interval_months,
        NEW.billing_term, NEW.current_period_start, NEW.current_period_end, NEW.started_at, NEW.canceled_at, NEW.ends_at)
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET customer_id = EXCLUDED.customer_id, product = EXCLUDED.product, sku = EXCLUDED.sku, state = EXCLUDED.state,
            quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price, currency = EXCLUDED.currency,
            interval_months = EXCLUDED.interval_months, billing_term = EXCLUDED.billing_term,
            current_period_start = EXCLUDED.current_period_start, current_period_end = EXCLUDED.current_period_end,
            started_at = EXCLUDED.started_at, canceled_at = EXCLUDED.canceled_at, ends_at = EXCLUDED.ends_at,
            synced_at = pg_catalog.now();
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION billing._manual_subscriptions_insert() IS 'Trigger: stores a row loaded into billing.manual_subscriptions.';
CREATE TRIGGER manual_subscriptions_insert INSTEAD OF INSERT ON billing.manual_subscriptions
    FOR EACH ROW EXECUTE FUNCTION billing._manual_subscriptions_insert();

-- Invoices -------------------------------------------------------------------------------------
CREATE VIEW billing.manual_invoices AS
SELECT s.name AS source, i.external_id, i.number, c.external_id AS customer, sub.external_id AS subscription,
       i.status, i.issue_date, i.due_date, i.paid_date, i.currency, i.subtotal, i.discount, i.tax, i.total,
       i.paid, i.due
FROM billing.invoices i
JOIN billing.sources s ON s.id = i.source_id
JOIN billing.customers c ON c.id = i.customer_id
LEFT JOIN billing.subscriptions sub ON sub.id = i.subscription_id
WHERE s.kind = 'manual';
COMMENT ON VIEW billing.manual_invoices IS 'Load invoices into a manual source (lines go to billing.manual_invoice_lines). Leave paid and due empty to have them taken as: paid when status is paid, else due = total.';
COMMENT ON COLUMN billing.manual_invoices.source IS 'Name of the manual source.';
COMMENT ON COLUMN billing.manual_invoices.external_id IS 'Your invoice id; lines refer to the invoice by it.';
COMMENT ON COLUMN billing.manual_invoices.number IS 'Invoice number.';
COMMENT ON COLUMN billing.manual_invoices.customer IS 'Your customer id (loaded before).';
COMMENT ON COLUMN billing.manual_invoices.subscription IS 'Your subscription id, if any.';
COMMENT ON COLUMN billing.manual_invoices.status IS 'draft, open, pending, paid, voided or canceled (default open).';
COMMENT ON COLUMN billing.manual_invoices.issue_date IS 'Issue date.';
COMMENT ON COLUMN billing.manual_invoices.due_date IS 'Due date.';
COMMENT ON COLUMN billing.manual_invoices.paid_date IS 'Date paid in full.';
COMMENT ON COLUMN billing.manual_invoices.currency IS 'Currency (ISO 4217).';
COMMENT ON COLUMN billing.manual_invoices.subtotal IS 'Subtotal before discount and tax.';
COMMENT ON COLUMN billing.manual_invoices.discount IS 'Discount.';
COMMENT ON COLUMN billing.manual_invoices.tax IS 'Tax.';
COMMENT ON COLUMN billing.manual_invoices.total IS 'Total.';
COMMENT ON COLUMN billing.manual_invoices.paid IS 'Amount paid.';
COMMENT ON COLUMN billing.manual_invoices.due IS 'Amount due.';

CREATE FUNCTION billing._manual_invoices_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_source bigint := billing._manual_source_id(NEW.source);
    v_row text := format('invoice "%s"', NEW.external_id);
    v_status text := coalesce(NEW.status, 'open');
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
    -- invoices_direction_known and invoices_period_order hold: the view takes neither column
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
    INSERT INTO billing.invoices AS t (source_id, external_id, number, customer_id, subscription_id, status,
        issue_date, due_date, paid_date, currency, subtotal, discount, tax, total, paid, due)
    VALUES (v_source, NEW.external_id, NEW.number, v_customer, v_subscription,
        v_status, NEW.issue_date, NEW.due_date, NEW.paid_date, NEW.currency, coalesce(NEW.subtotal, 0),
        coalesce(NEW.discount, 0), coalesce(NEW.tax, 0), v_total, v_paid, coalesce(NEW.due, v_total - v_paid))
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET number = EXCLUDED.number, customer_id = EXCLUDED.customer_id, subscription_id = EXCLUDED.subscription_id,
            status = EXCLUDED.status, issue_date = EXCLUDED.issue_date, due_date = EXCLUDED.due_date,
            paid_date = EXCLUDED.paid_date, currency = EXCLUDED.currency, subtotal = EXCLUDED.subtotal,
            discount = EXCLUDED.discount, tax = EXCLUDED.tax, total = EXCLUDED.total, paid = EXCLUDED.paid,
            due = EXCLUDED.due, synced_at = pg_catalog.now();
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION billing._manual_invoices_insert() IS 'Trigger: stores a row loaded into billing.manual_invoices.';
CREATE TRIGGER manual_invoices_insert INSTEAD OF INSERT ON billing.manual_invoices
    FOR EACH ROW EXECUTE FUNCTION billing._manual_invoices_insert();

-- Invoice lines --------------------------------------------------------------------------------
CREATE VIEW billing.manual_invoice_lines AS
SELECT s.name AS source, i.external_id AS invoice, l.external_id, l.kind, l.product, l.sku, l.description,
       l.quantity, l.unit_price, l.subtotal, l.discount, l.tax, l.total, l.currency, l.period_start, l.period_end,
       l.recurring, l.interval_months, l.full_period_amount, sub.external_id AS subscription, l.tax_code
FROM billing.invoice_lines l
JOIN billing.invoices i ON i.id = l.invoice_id
JOIN billing.sources s ON s.id = i.source_id
LEFT JOIN billing.subscriptions sub ON sub.id = l.subscription_id
WHERE s.kind = 'manual';
COMMENT ON VIEW billing.manual_invoice_lines IS 'Load invoice lines into a manual source. A one-time line has period_start = period_end; recurring lines need interval_months, and should carry full_period_amount when prorated.';
COMMENT ON COLUMN billing.manual_invoice_lines.source IS 'Name of the manual source.';
COMMENT ON COLUMN billing.manual_invoice_lines.invoice IS 'Your invoice id (loaded before).';
COMMENT ON COLUMN billing.manual_invoice_lines.external_id IS 'Your line id, unique within the invoice.';
COMMENT ON COLUMN billing.manual_invoice_lines.kind IS 'plan, component, usage, one_time, adjustment or credit.';
COMMENT ON COLUMN billing.manual_invoice_lines.product IS 'Product.';
COMMENT ON COLUMN billing.manual_invoice_lines.sku IS 'SKU.';
COMMENT ON COLUMN billing.manual_invoice_lines.description IS 'Line text.';
COMMENT ON COLUMN billing.manual_invoice_lines.quantity IS 'Quantity (default 1).';
COMMENT ON COLUMN billing.manual_invoice_lines.unit_price IS 'Unit price.';
COMMENT ON COLUMN billing.manual_invoice_lines.subtotal IS 'Before discount and tax (default quantity x unit price).';
COMMENT ON COLUMN billing.manual_invoice_lines.discount IS 'Discount (default 0).';
COMMENT ON COLUMN billing.manual_invoice_lines.tax IS 'Tax (default 0).';
COMMENT ON COLUMN billing.manual_invoice_lines.total IS 'Total (default subtotal - discount + tax).';
COMMENT ON COLUMN billing.manual_invoice_lines.currency IS 'Currency; must be the invoice''s (default: the invoice''s).';
COMMENT ON COLUMN billing.manual_invoice_lines.period_start IS 'Service period start.';
COMMENT ON COLUMN billing.manual_invoice_lines.period_end IS 'Service period end (exclusive).';
COMMENT ON COLUMN billing.manual_invoice_lines.recurring IS 'Counts in MRR (default false).';
COMMENT ON COLUMN billing.manual_invoice_lines.interval_months IS 'Billing interval of a recurring line.';
COMMENT ON COLUMN billing.manual_invoice_lines.full_period_amount IS 'What a full interval of the line costs, net of discount (for prorated lines).';
COMMENT ON COLUMN billing.manual_invoice_lines.subscription IS 'Your subscription id, if the line bills one (loaded before).';
COMMENT ON COLUMN billing.manual_invoice_lines.tax_code IS 'Tax code, as your accounting_maps tax_rate mappings name it.';

CREATE FUNCTION billing._manual_invoice_lines_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_source bigint := billing._manual_source_id(NEW.source);
    v_row text := format('line "%s" of invoice "%s"', NEW.external_id, NEW.invoice);
    v_invoice billing.invoices;
    v_subscription bigint;
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
        full_period_amount, subscription_id, tax_code)
    VALUES (v_invoice.id, NEW.external_id, NEW.kind, NEW.product, NEW.sku, NEW.description, coalesce(NEW.quantity, 1),
        NEW.unit_price, v_subtotal, coalesce(NEW.discount, 0), coalesce(NEW.tax, 0),
        coalesce(NEW.total, v_subtotal - coalesce(NEW.discount, 0) + coalesce(NEW.tax, 0)), v_invoice.currency,
        NEW.period_start, NEW.period_end, v_recurring, NEW.interval_months, NEW.full_period_amount,
        v_subscription, NEW.tax_code)
    ON CONFLICT (invoice_id, external_id) DO UPDATE
        SET kind = EXCLUDED.kind, product = EXCLUDED.product, sku = EXCLUDED.sku, description = EXCLUDED.description,
            quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price, subtotal = EXCLUDED.subtotal,
            discount = EXCLUDED.discount, tax = EXCLUDED.tax, total = EXCLUDED.total,
            period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end, recurring = EXCLUDED.recurring,
            interval_months = EXCLUDED.interval_months, full_period_amount = EXCLUDED.full_period_amount,
            subscription_id = EXCLUDED.subscription_id, tax_code = EXCLUDED.tax_code;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION billing._manual_invoice_lines_insert() IS 'Trigger: stores a row loaded into billing.manual_invoice_lines.';
CREATE TRIGGER manual_invoice_lines_insert INSTEAD OF INSERT ON billing.manual_invoice_lines
    FOR EACH ROW EXECUTE FUNCTION billing._manual_invoice_lines_insert();

-- Payments and refunds -------------------------------------------------------------------------
CREATE VIEW billing.manual_payments AS
SELECT s.name AS source, p.external_id, c.external_id AS customer, i.external_id AS invoice, p.amount, p.currency,
       p.payment_date, p.method, p.reference
FROM billing.payments p
JOIN billing.sources s ON s.id = p.source_id
JOIN billing.customers c ON c.id = p.customer_id
LEFT JOIN billing.invoices i ON i.id = p.invoice_id
WHERE s.kind = 'manual';
COMMENT ON VIEW billing.manual_payments IS 'Load payments into a manual source.';
COMMENT ON COLUMN billing.manual_payments.source IS 'Name of the manual source.';
COMMENT ON COLUMN billing.manual_payments.external_id IS 'Your payment id.';
COMMENT ON COLUMN billing.manual_payments.customer IS 'Your customer id.';
COMMENT ON COLUMN billing.manual_payments.invoice IS 'Your invoice id, if the payment is for one invoice.';
COMMENT ON COLUMN billing.manual_payments.amount IS 'Amount.';
COMMENT ON COLUMN billing.manual_payments.currency IS 'Currency.';
COMMENT ON COLUMN billing.manual_payments.payment_date IS 'Date.';
COMMENT ON COLUMN billing.manual_payments.method IS 'Method.';
COMMENT ON COLUMN billing.manual_payments.reference IS 'Reference.';

CREATE FUNCTION billing._manual_payments_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_source bigint := billing._manual_source_id(NEW.source);
    v_row text := format('payment "%s"', NEW.external_id);
    v_customer bigint;
    v_invoice bigint;
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'payment row');
    PERFORM billing._manual_require(NEW.customer, 'customer', v_row);
    PERFORM billing._manual_require(NEW.amount, 'amount', v_row);
    PERFORM billing._manual_require(NEW.currency, 'currency', v_row);
    PERFORM billing._manual_require(NEW.payment_date, 'payment_date', v_row);
    v_customer := billing._manual_ref('customers', v_source, NEW.customer, 'customer', v_row);
    v_invoice := billing._manual_ref('invoices', v_source, NEW.invoice, 'invoice', v_row);
    IF NOT (NEW.currency ~ '^[A-Z]{3}$') THEN
        PERFORM billing._manual_refuse(v_row, 'payments', 'payments_currency_iso');
    END IF;
    IF NOT pg_catalog.isfinite(NEW.payment_date) THEN
        PERFORM billing._manual_refuse(v_row, 'payments', 'payments_dates_finite');
    END IF;
    INSERT INTO billing.payments AS t (source_id, external_id, customer_id, invoice_id, amount, currency,
        payment_date, method, reference)
    VALUES (v_source, NEW.external_id, v_customer, v_invoice, NEW.amount, NEW.currency,
        NEW.payment_date, NEW.method, NEW.reference)
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET customer_id = EXCLUDED.customer_id, invoice_id = EXCLUDED.invoice_id, amount = EXCLUDED.amount,
            currency = EXCLUDED.currency, payment_date = EXCLUDED.payment_date, method = EXCLUDED.method,
            reference = EXCLUDED.reference, synced_at = pg_catalog.now();
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION billing._manual_payments_insert() IS 'Trigger: stores a row loaded into billing.manual_payments.';
CREATE TRIGGER manual_payments_insert INSTEAD OF INSERT ON billing.manual_payments
    FOR EACH ROW EXECUTE FUNCTION billing._manual_payments_insert();

CREATE VIEW billing.manual_refunds AS
SELECT s.name AS source, r.external_id, c.external_id AS customer, i.external_id AS invoice, r.amount, r.currency,
       r.refund_date, r.memo
FROM billing.refunds r
JOIN billing.sources s ON s.id = r.source_id
JOIN billing.customers c ON c.id = r.customer_id
LEFT JOIN billing.invoices i ON i.id = r.invoice_id
WHERE s.kind = 'manual';
COMMENT ON VIEW billing.manual_refunds IS 'Load cash refunds into a manual source (contra revenue in the refund''s month, rule C2a).';
COMMENT ON COLUMN billing.manual_refunds.source IS 'Name of the manual source.';
COMMENT ON COLUMN billing.manual_refunds.external_id IS 'Your refund id.';
COMMENT ON COLUMN billing.manual_refunds.customer IS 'Your customer id.';
COMMENT ON COLUMN billing.manual_refunds.invoice IS 'Your id of the invoice refunded.';
COMMENT ON COLUMN billing.manual_refunds.amount IS 'Amount (positive).';
COMMENT ON COLUMN billing.manual_refunds.currency IS 'Currency.';
COMMENT ON COLUMN billing.manual_refunds.refund_date IS 'Date.';
COMMENT ON COLUMN billing.manual_refunds.memo IS 'Memo.';

CREATE FUNCTION billing._manual_refunds_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_source bigint := billing._manual_source_id(NEW.source);
    v_row text := format('refund "%s"', NEW.external_id);
    v_customer bigint;
    v_invoice bigint;
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'refund row');
    PERFORM billing._manual_require(NEW.customer, 'customer', v_row);
    PERFORM billing._manual_require(NEW.amount, 'amount', v_row);
    PERFORM billing._manual_require(NEW.currency, 'currency', v_row);
    PERFORM billing._manual_require(NEW.refund_date, 'refund_date', v_row);
    v_customer := billing._manual_ref('customers', v_source, NEW.customer, 'customer', v_row);
    v_invoice := billing._manual_ref('invoices', v_source, NEW.invoice, 'invoice', v_row);
    IF NOT (NEW.amount > 0) THEN
        PERFORM billing._manual_refuse(v_row, 'refunds', 'refunds_amount_positive');
    END IF;
    IF NOT (NEW.currency ~ '^[A-Z]{3}$') THEN
        PERFORM billing._manual_refuse(v_row, 'refunds', 'refunds_currency_iso');
    END IF;
    IF NOT pg_catalog.isfinite(NEW.refund_date) THEN
        PERFORM billing._manual_refuse(v_row, 'refunds', 'refunds_dates_finite');
    END IF;
    INSERT INTO billing.refunds AS t (source_id, external_id, customer_id, invoice_id, amount, currency, refund_date, memo)
    VALUES (v_source, NEW.external_id, v_customer, v_invoice, NEW.amount, NEW.currency, NEW.refund_date, NEW.memo)
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET customer_id = EXCLUDED.customer_id, invoice_id = EXCLUDED.invoice_id, amount = EXCLUDED.amount,
            currency = EXCLUDED.currency, refund_date = EXCLUDED.refund_date, memo = EXCLUDED.memo,
            synced_at = pg_catalog.now();
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION billing._manual_refunds_insert() IS 'Trigger: stores a row loaded into billing.manual_refunds.';
CREATE TRIGGER manual_refunds_insert INSTEAD OF INSERT ON billing.manual_refunds
    FOR EACH ROW EXECUTE FUNCTION billing._manual_refunds_insert();
