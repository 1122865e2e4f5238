-- Loading a manual source: views that take the user's own ids (INSERT or COPY), resolve them,
-- and stop the whole statement at the first bad row with a message that names the row and the rule.
-- Loading the same export again updates rows in place.

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

-- Customers ------------------------------------------------------------------------------------
CREATE VIEW billing.manual_customers AS
SELECT s.name AS source, c.external_id, c.reference, c.name, c.organization, c.email, c.currency
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

CREATE FUNCTION billing._manual_customers_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_row text := format('customer "%s"', NEW.external_id);
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'customer row');
    INSERT INTO billing.customers AS t (source_id, external_id, reference, name, organization, email, currency)
    VALUES (billing._manual_source_id(NEW.source), NEW.external_id, NEW.reference, NEW.name,
            NEW.organization, NEW.email, NEW.currency)
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET reference = EXCLUDED.reference, name = EXCLUDED.name, organization = EXCLUDED.organization,
            email = EXCLUDED.email, currency = EXCLUDED.currency, synced_at = pg_catalog.now();
    RETURN NEW;
EXCEPTION WHEN check_violation THEN
    -- a table constraint's message does not say which row; ours already do
    IF pg_catalog.strpos(SQLERRM, v_row) = 1 THEN
        RAISE;
    END IF;
    RAISE EXCEPTION '%: %', v_row, SQLERRM USING ERRCODE = 'check_violation';
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
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'subscription row');
    PERFORM billing._manual_require(NEW.customer, 'customer', v_row);
    IF NEW.current_period_end < NEW.current_period_start THEN
        RAISE EXCEPTION '%: period ends (%) before it starts (%)', v_row, NEW.current_period_end, NEW.current_period_start
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO billing.subscriptions AS t (source_id, external_id, customer_id, product, sku, state, quantity,
        unit_price, currency, interval_months, billing_term, current_period_start, current_period_end,
        started_at, canceled_at, ends_at)
    VALUES (v_source, NEW.external_id, billing._manual_ref('customers', v_source, NEW.customer, 'customer', v_row),
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
EXCEPTION WHEN check_violation THEN
    -- a table constraint's message does not say which row; ours already do
    IF pg_catalog.strpos(SQLERRM, v_row) = 1 THEN
        RAISE;
    END IF;
    RAISE EXCEPTION '%: %', v_row, SQLERRM USING ERRCODE = 'check_violation';
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
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'invoice row');
    PERFORM billing._manual_require(NEW.customer, 'customer', v_row);
    PERFORM billing._manual_require(NEW.issue_date, 'issue_date', v_row);
    PERFORM billing._manual_require(NEW.currency, 'currency', v_row);
    INSERT INTO billing.invoices AS t (source_id, external_id, number, customer_id, subscription_id, status,
        issue_date, due_date, paid_date, currency, subtotal, discount, tax, total, paid, due)
    VALUES (v_source, NEW.external_id, NEW.number,
        billing._manual_ref('customers', v_source, NEW.customer, 'customer', v_row),
        billing._manual_ref('subscriptions', v_source, NEW.subscription, 'subscription', v_row),
        v_status, NEW.issue_date, NEW.due_date, NEW.paid_date, NEW.currency, coalesce(NEW.subtotal, 0),
        coalesce(NEW.discount, 0), coalesce(NEW.tax, 0), v_total, v_paid, coalesce(NEW.due, v_total - v_paid))
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET number = EXCLUDED.number, customer_id = EXCLUDED.customer_id, subscription_id = EXCLUDED.subscription_id,
            status = EXCLUDED.status, issue_date = EXCLUDED.issue_date, due_date = EXCLUDED.due_date,
            paid_date = EXCLUDED.paid_date, currency = EXCLUDED.currency, subtotal = EXCLUDED.subtotal,
            discount = EXCLUDED.discount, tax = EXCLUDED.tax, total = EXCLUDED.total, paid = EXCLUDED.paid,
            due = EXCLUDED.due, synced_at = pg_catalog.now();
    RETURN NEW;
EXCEPTION WHEN check_violation THEN
    -- a table constraint's message does not say which row; ours already do
    IF pg_catalog.strpos(SQLERRM, v_row) = 1 THEN
        RAISE;
    END IF;
    RAISE EXCEPTION '%: %', v_row, SQLERRM USING ERRCODE = 'check_violation';
END
$fn$;
COMMENT ON FUNCTION billing._manual_invoices_insert() IS 'Trigger: stores a row loaded into billing.manual_invoices.';
CREATE TRIGGER manual_invoices_insert INSTEAD OF INSERT ON billing.manual_invoices
    FOR EACH ROW EXECUTE FUNCTION billing._manual_invoices_insert();

-- Invoice lines --------------------------------------------------------------------------------
CREATE VIEW billing.manual_invoice_lines AS
SELECT s.name AS source, i.external_id AS invoice, l.external_id, l.kind, l.product, l.sku, l.description,
       l.quantity, l.unit_price, l.subtotal, l.discount, l.tax, l.total, l.currency, l.period_start, l.period_end,
       l.recurring, l.interval_months, l.full_period_amount
FROM billing.invoice_lines l
JOIN billing.invoices i ON i.id = l.invoice_id
JOIN billing.sources s ON s.id = i.source_id
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

CREATE FUNCTION billing._manual_invoice_lines_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_source bigint := billing._manual_source_id(NEW.source);
    v_row text := format('line "%s" of invoice "%s"', NEW.external_id, NEW.invoice);
    v_invoice billing.invoices;
    v_subtotal numeric := coalesce(NEW.subtotal, coalesce(NEW.quantity, 1) * NEW.unit_price);
BEGIN
    PERFORM billing._manual_require(NEW.invoice, 'invoice', 'invoice line row');
    PERFORM billing._manual_require(NEW.external_id, 'external_id', v_row);
    PERFORM billing._manual_require(NEW.kind, 'kind', v_row);
    PERFORM billing._manual_require(v_subtotal, 'subtotal (or unit_price)', v_row);
    PERFORM billing._manual_require(NEW.period_start, 'period_start', v_row);
    PERFORM billing._manual_require(NEW.period_end, 'period_end', v_row);
    SELECT * INTO v_invoice FROM billing.invoices i
    WHERE i.id = billing._manual_ref('invoices', v_source, NEW.invoice, 'invoice', v_row);
    IF NEW.period_end < NEW.period_start THEN
        RAISE EXCEPTION '%: period ends (%) before it starts (%)', v_row, NEW.period_end, NEW.period_start
            USING ERRCODE = 'check_violation', HINT = 'period_end is exclusive; a one-time line has period_end = period_start.';
    END IF;
    IF NEW.currency IS NOT NULL AND NEW.currency <> v_invoice.currency THEN
        RAISE EXCEPTION '%: currency % does not match the invoice''s currency %', v_row, NEW.currency, v_invoice.currency
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    INSERT INTO billing.invoice_lines AS t (invoice_id, external_id, kind, product, sku, description, quantity,
        unit_price, subtotal, discount, tax, total, currency, period_start, period_end, recurring, interval_months,
        full_period_amount)
    VALUES (v_invoice.id, NEW.external_id, NEW.kind, NEW.product, NEW.sku, NEW.description, coalesce(NEW.quantity, 1),
        NEW.unit_price, v_subtotal, coalesce(NEW.discount, 0), coalesce(NEW.tax, 0),
        coalesce(NEW.total, v_subtotal - coalesce(NEW.discount, 0) + coalesce(NEW.tax, 0)), v_invoice.currency,
        NEW.period_start, NEW.period_end, coalesce(NEW.recurring, false), NEW.interval_months, NEW.full_period_amount)
    ON CONFLICT (invoice_id, external_id) DO UPDATE
        SET kind = EXCLUDED.kind, product = EXCLUDED.product, sku = EXCLUDED.sku, description = EXCLUDED.description,
            quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price, subtotal = EXCLUDED.subtotal,
            discount = EXCLUDED.discount, tax = EXCLUDED.tax, total = EXCLUDED.total,
            period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end, recurring = EXCLUDED.recurring,
            interval_months = EXCLUDED.interval_months, full_period_amount = EXCLUDED.full_period_amount;
    RETURN NEW;
EXCEPTION WHEN check_violation THEN
    -- a table constraint's message does not say which row; ours already do
    IF pg_catalog.strpos(SQLERRM, v_row) = 1 THEN
        RAISE;
    END IF;
    RAISE EXCEPTION '%: %', v_row, SQLERRM USING ERRCODE = 'check_violation';
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
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'payment row');
    PERFORM billing._manual_require(NEW.customer, 'customer', v_row);
    PERFORM billing._manual_require(NEW.amount, 'amount', v_row);
    PERFORM billing._manual_require(NEW.currency, 'currency', v_row);
    PERFORM billing._manual_require(NEW.payment_date, 'payment_date', v_row);
    INSERT INTO billing.payments AS t (source_id, external_id, customer_id, invoice_id, amount, currency,
        payment_date, method, reference)
    VALUES (v_source, NEW.external_id, billing._manual_ref('customers', v_source, NEW.customer, 'customer', v_row),
        billing._manual_ref('invoices', v_source, NEW.invoice, 'invoice', v_row), NEW.amount, NEW.currency,
        NEW.payment_date, NEW.method, NEW.reference)
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET customer_id = EXCLUDED.customer_id, invoice_id = EXCLUDED.invoice_id, amount = EXCLUDED.amount,
            currency = EXCLUDED.currency, payment_date = EXCLUDED.payment_date, method = EXCLUDED.method,
            reference = EXCLUDED.reference, synced_at = pg_catalog.now();
    RETURN NEW;
EXCEPTION WHEN check_violation THEN
    -- a table constraint's message does not say which row; ours already do
    IF pg_catalog.strpos(SQLERRM, v_row) = 1 THEN
        RAISE;
    END IF;
    RAISE EXCEPTION '%: %', v_row, SQLERRM USING ERRCODE = 'check_violation';
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
BEGIN
    PERFORM billing._manual_require(NEW.external_id, 'external_id', 'refund row');
    PERFORM billing._manual_require(NEW.customer, 'customer', v_row);
    PERFORM billing._manual_require(NEW.amount, 'amount', v_row);
    PERFORM billing._manual_require(NEW.currency, 'currency', v_row);
    PERFORM billing._manual_require(NEW.refund_date, 'refund_date', v_row);
    INSERT INTO billing.refunds AS t (source_id, external_id, customer_id, invoice_id, amount, currency, refund_date, memo)
    VALUES (v_source, NEW.external_id, billing._manual_ref('customers', v_source, NEW.customer, 'customer', v_row),
        billing._manual_ref('invoices', v_source, NEW.invoice, 'invoice', v_row), NEW.amount, NEW.currency,
        NEW.refund_date, NEW.memo)
    ON CONFLICT (source_id, external_id) DO UPDATE
        SET customer_id = EXCLUDED.customer_id, invoice_id = EXCLUDED.invoice_id, amount = EXCLUDED.amount,
            currency = EXCLUDED.currency, refund_date = EXCLUDED.refund_date, memo = EXCLUDED.memo,
            synced_at = pg_catalog.now();
    RETURN NEW;
EXCEPTION WHEN check_violation THEN
    -- a table constraint's message does not say which row; ours already do
    IF pg_catalog.strpos(SQLERRM, v_row) = 1 THEN
        RAISE;
    END IF;
    RAISE EXCEPTION '%: %', v_row, SQLERRM USING ERRCODE = 'check_violation';
END
$fn$;
COMMENT ON FUNCTION billing._manual_refunds_insert() IS 'Trigger: stores a row loaded into billing.manual_refunds.';
CREATE TRIGGER manual_refunds_insert INSTEAD OF INSERT ON billing.manual_refunds
    FOR EACH ROW EXECUTE FUNCTION billing._manual_refunds_insert();
