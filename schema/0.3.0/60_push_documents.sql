-- pg_billing 0.3.0: the document rules of the push to Xero (domain.md section 5), in SQL. A billing
-- source whose option push_to names a xero source has its statements (or invoices), payments, refunds,
-- credit notes and customers turned into Xero documents in billing.outbox, in the same transaction as
-- the change that makes them pushable. The C push driver sends them; docs/push-xero.md explains both.

\echo Use "ALTER EXTENSION pg_billing UPDATE TO '0.3.0'" to load this file. \quit

-- The outbox learns two document kinds' needs: a tax rate to create before the documents that use it,
-- and documents held until a person maps something. depends_on lists the rows to confirm first.
ALTER TABLE billing.outbox DROP CONSTRAINT outbox_doc_kind_known;
ALTER TABLE billing.outbox ADD CONSTRAINT outbox_doc_kind_known
    CHECK (doc_kind IN ('contact', 'tax_rate', 'invoice', 'credit_note', 'allocation', 'payment', 'refund'));
ALTER TABLE billing.outbox DROP CONSTRAINT outbox_state_known;
ALTER TABLE billing.outbox ADD CONSTRAINT outbox_state_known
    CHECK (state IN ('pending', 'held', 'in_flight', 'confirmed', 'failed', 'unknown'));
ALTER TABLE billing.outbox ADD COLUMN depends_on bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE billing.outbox ADD COLUMN amount numeric;
ALTER TABLE billing.outbox ADD COLUMN held_for text[] NOT NULL DEFAULT '{}';
ALTER TABLE billing.outbox ADD COLUMN rebuild boolean NOT NULL DEFAULT false;
ALTER TABLE billing.outbox ADD COLUMN revision integer NOT NULL DEFAULT 0;
ALTER TABLE billing.outbox ADD CONSTRAINT outbox_held_says_why CHECK (state <> 'held' OR cardinality(held_for) > 0);
ALTER TABLE billing.outbox ADD CONSTRAINT outbox_revision_non_negative CHECK (revision >= 0);
COMMENT ON COLUMN billing.outbox.doc_kind IS 'contact, tax_rate (an unmapped tax rate to create in Xero first), invoice, credit_note, allocation, payment or refund (the cash refund of a credit note).';
COMMENT ON COLUMN billing.outbox.state IS 'pending, held (waits for a mapping or a fix named in held_for; never sent), in_flight, confirmed (remote_id known), failed (rejected, needs a person), or unknown (sent, outcome not known).';
COMMENT ON COLUMN billing.outbox.payload IS 'The document as Xero JSON. A value {"pgb_ref": "<doc_kind>:<natural_key>"} stands for the remote id of that outbox document of the same target (a TaxType for a tax_rate), which the driver substitutes once it is confirmed.';
COMMENT ON COLUMN billing.outbox.depends_on IS 'Outbox rows to confirm before this one is sent: its contact, a tax rate to create, the invoice or credit note it pays or allocates.';
COMMENT ON COLUMN billing.outbox.amount IS 'The document''s total as Xero will compute it (invoice, credit note), or the amount paid, refunded or allocated; null for contacts and tax rates.';
COMMENT ON COLUMN billing.outbox.held_for IS 'Why a held document waits: one alert subject per missing thing (e.g. "account sales", "bank_account card"); empty otherwise.';
COMMENT ON COLUMN billing.outbox.rebuild IS 'The source document changed while this one was in flight or unknown: the driver calls billing._push_requeue(id) once the outcome is known.';
COMMENT ON COLUMN billing.outbox.revision IS 'Incremented at every change of the payload; part of idempotency_key, so an update is never answered with the replay of an earlier request.';
CREATE INDEX outbox_held ON billing.outbox (origin_source_id) WHERE state = 'held';
COMMENT ON INDEX billing.outbox_held IS 'Held documents per billing source, for the alerts and the rebuild after a mapping changes.';

-- Options of a billing source, checked when written (the C sync checks only the options it reads).
CREATE FUNCTION billing._push_check_options() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_o jsonb := NEW.options;
BEGIN
    IF v_o ? 'push_to' THEN
        IF NEW.kind = 'xero' THEN
            RAISE EXCEPTION 'source "%": option push_to is for billing sources, not for a xero source', NEW.name
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF pg_catalog.jsonb_typeof(v_o -> 'push_to') IS DISTINCT FROM 'string'
           OR NOT EXISTS (SELECT 1 FROM billing.sources t WHERE t.name = v_o ->> 'push_to' AND t.kind = 'xero') THEN
            RAISE EXCEPTION 'source "%": option push_to must name a xero source', NEW.name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Add the Xero source first with billing.add_source(name, ''xero'', ...), then set push_to to its name.';
        END IF;
    END IF;
    IF v_o ? 'push_unit' AND (v_o -> 'push_unit') NOT IN ('"statements"'::jsonb, '"invoices"'::jsonb) THEN
        RAISE EXCEPTION 'source "%": option push_unit must be "statements" or "invoices"', NEW.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_o ? 'push_carried_credit' AND (v_o -> 'push_carried_credit') NOT IN ('"allocate"'::jsonb, '"offset"'::jsonb) THEN
        RAISE EXCEPTION 'source "%": option push_carried_credit must be "allocate" or "offset"', NEW.name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION billing._push_check_options() IS 'Trigger: options push_to (names a xero source), push_unit and push_carried_credit of a source are checked when written.';
CREATE TRIGGER sources_push_options BEFORE INSERT OR UPDATE OF options, kind ON billing.sources
    FOR EACH ROW EXECUTE FUNCTION billing._push_check_options();

-- Configuration of a pushing source ----------------------------------------------------------------

CREATE FUNCTION billing._push_target(origin bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT t.id FROM billing.sources o JOIN billing.sources t ON t.name = o.options ->> 'push_to' AND t.kind = 'xero'
     WHERE o.id = $1
$fn$;
COMMENT ON FUNCTION billing._push_target(bigint) IS 'The xero source a billing source pushes to (option push_to), or null.';

CREATE FUNCTION billing._push_mode(origin bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT coalesce(o.options ->> 'push_unit',
                    CASE WHEN o.options -> 'statements' = 'true'::jsonb THEN 'statements' ELSE 'invoices' END)
      FROM billing.sources o WHERE o.id = $1
$fn$;
COMMENT ON FUNCTION billing._push_mode(bigint) IS 'What a source pushes as Xero invoices: statements (legacy sites; the default when option statements is true) or invoices.';

CREATE FUNCTION billing._push_map(origin bigint, kind text, key text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT m.remote_code FROM billing.accounting_maps m
     WHERE m.map_kind = $2 AND m.local_key = $3 AND (m.source_id = $1 OR m.source_id IS NULL)
     ORDER BY m.source_id NULLS LAST LIMIT 1
$fn$;
COMMENT ON FUNCTION billing._push_map(bigint, text, text) IS 'The remote code mapped for a key: the source''s own mapping, else the global one (source_id null), else null.';

CREATE FUNCTION billing._push_contact_number(customer_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT coalesce(billing._push_map(c.source_id, 'contact_prefix', 'prefix'), 'chargify_') || c.external_id
      FROM billing.customers c WHERE c.id = $1
$fn$;
COMMENT ON FUNCTION billing._push_contact_number(bigint) IS 'The Xero ContactNumber of a customer: the contact_prefix mapping (default chargify_) followed by its external id.';

CREATE FUNCTION billing._push_display_name(organization text, name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT coalesce(nullif(btrim($1), ''), nullif(btrim($2), ''))
$fn$;
COMMENT ON FUNCTION billing._push_display_name(text, text) IS 'The name a customer gets in Xero: its organisation, else its name.';

-- What a builder returns: one document, its dependencies by reference, and why it is held.
CREATE TYPE billing._push_doc AS (
    doc_kind    text,
    local_table text,
    local_id    bigint,
    natural_key text,
    payload     jsonb,
    amount      numeric,
    refs        text[],
    held_for    text[]
);
COMMENT ON TYPE billing._push_doc IS 'A document a push builder made: outbox fields, references ("kind:natural_key") it depends on, and the mappings it waits for.';

CREATE TYPE billing._push_line AS (
    line_id     bigint,
    description text,
    quantity    numeric,
    unit_price  numeric,
    subtotal    numeric,
    discount    numeric,
    tax         numeric,
    tax_code    text,
    product_key text[]
);
COMMENT ON TYPE billing._push_line IS 'A source line as the push builders read it (invoice or credit note line); product_key lists the product external id and SKUs a product_account mapping may name.';

CREATE FUNCTION billing._push_ref(kind text, natural_key text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT pg_catalog.jsonb_build_object('pgb_ref', $1 || ':' || $2)
$fn$;
COMMENT ON FUNCTION billing._push_ref(text, text) IS 'Placeholder for the remote id of another outbox document of the same target.';

CREATE FUNCTION billing._push_contact(customer_id bigint) RETURNS billing._push_doc
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT ROW('contact', 'customers', c.id, n.num,
               pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                   'ContactNumber', n.num,
                   'Name', CASE WHEN n.nm IS NULL THEN n.num
                                WHEN EXISTS (SELECT 1 FROM billing.customers o
                                              WHERE o.source_id = c.source_id AND o.id <> c.id AND o.deleted_at IS NULL
                                                AND lower(billing._push_display_name(o.organization, o.name)) = lower(n.nm))
                                THEN n.nm || ' (' || n.num || ')'
                                ELSE n.nm END,
                   'EmailAddress', nullif(btrim(c.email), ''))),
               NULL::numeric, '{}'::text[],
               CASE WHEN length(n.num) > 50 THEN ARRAY['contact number ' || n.num] ELSE '{}'::text[] END)::billing._push_doc
      FROM billing.customers c,
           LATERAL (SELECT billing._push_contact_number(c.id) AS num,
                           billing._push_display_name(c.organization, c.name) AS nm) n
     WHERE c.id = $1
$fn$;
COMMENT ON FUNCTION billing._push_contact(bigint) IS 'The contact document of a customer: ContactNumber, Name (made unique with the number when another customer of the source has the same name) and EmailAddress.';

-- Line items as Xero computes them. Invoices keep quantity, unit price and coupon (DiscountAmount);
-- credit notes take net amounts (Xero takes no discounts there) with the sign given. Tax is sent as
-- the source's line tax in cents, so Xero's total is sum(round(qty x unit, 2) - discount + tax).
CREATE FUNCTION billing._push_items(origin bigint, lines billing._push_line[], sign integer, discounts boolean,
                                    OUT items jsonb, OUT total numeric, OUT held_for text[], OUT tax_codes text[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_sales text := billing._push_map(origin, 'account', 'sales');
BEGIN
    WITH l AS (
        SELECT x.*,
               CASE WHEN discounts AND x.unit_price IS NOT NULL AND x.quantity <> 0 THEN x.quantity ELSE 1 END AS q,
               CASE WHEN discounts AND x.unit_price IS NOT NULL AND x.quantity <> 0 THEN sign * x.unit_price
                    WHEN discounts THEN round(sign * x.subtotal, 2)
                    ELSE round(sign * (x.subtotal - x.discount), 2) END AS u,
               CASE WHEN discounts THEN round(x.discount, 2) ELSE 0 END AS d,
               round(sign * x.tax, 2) AS t,
               (SELECT m.remote_code FROM unnest(x.product_key) WITH ORDINALITY k(key, o)
                  JOIN billing.accounting_maps m ON m.map_kind = 'product_account' AND m.local_key = k.key
                                                AND (m.source_id = origin OR m.source_id IS NULL)
                 ORDER BY k.o, m.source_id NULLS LAST LIMIT 1) AS product_account,
               billing._push_map(origin, 'tax_rate', x.tax_code) AS tax_type
          FROM unnest(lines) WITH ORDINALITY x(line_id, description, quantity, unit_price, subtotal, discount, tax, tax_code, product_key, ord)
    ), i AS (
        SELECT l.*, round(l.q * l.u, 2) - l.d + l.t AS xero_total,
               coalesce(l.product_account, v_sales) AS account,
               CASE WHEN l.tax_code IS NULL AND l.t = 0 THEN to_jsonb('NONE'::text)
                    WHEN l.tax_code IS NULL THEN NULL
                    WHEN l.tax_type IS NOT NULL THEN to_jsonb(l.tax_type)
                    ELSE billing._push_ref('tax_rate', l.tax_code) END AS tax_json
          FROM l
    )
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'Description', coalesce(nullif(btrim(i.description), ''), 'Line ' || i.line_id),
               'Quantity', i.q, 'UnitAmount', i.u,
               'DiscountAmount', nullif(i.d, 0),
               'AccountCode', i.account, 'TaxType', i.tax_json, 'TaxAmount', i.t)) ORDER BY i.ord), '[]'::jsonb),
           coalesce(sum(i.xero_total), 0),
           array_remove(ARRAY[CASE WHEN bool_or(i.account IS NULL) THEN 'account sales' END], NULL)
           || coalesce(array_agg('tax code of line ' || i.line_id ORDER BY i.ord) FILTER (WHERE i.tax_json IS NULL), '{}'),
           coalesce(array_agg(DISTINCT i.tax_code) FILTER (WHERE i.tax_code IS NOT NULL AND i.tax_type IS NULL), '{}')
      INTO items, total, held_for, tax_codes
      FROM i;
END
$fn$;
COMMENT ON FUNCTION billing._push_items(bigint, billing._push_line[], integer, boolean) IS 'Xero LineItems of source lines (signed, with or without coupons as DiscountAmount), the total Xero will compute for them, what is unmapped, and the unmapped tax codes to create.';

-- A tax code without a tax_rate mapping becomes a TaxRate to create in Xero. Its rate is the
-- percentage the code names ("VAT 20%"), else the one its lines carry (tax / net, 4 decimals).
CREATE FUNCTION billing._push_tax_rate(origin bigint, code text, lines billing._push_line[]) RETURNS billing._push_doc
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT ROW('tax_rate', 'invoice_lines', (SELECT min(x.line_id) FROM unnest($3) x WHERE x.tax_code = $2), $2,
               jsonb_build_object('Name', $2, 'ReportTaxType', 'OUTPUT',
                   'TaxComponents', jsonb_build_array(jsonb_build_object('Name', $2, 'Rate', r.rate, 'IsCompound', false))),
               NULL::numeric, '{}'::text[], '{}'::text[])::billing._push_doc
      FROM (SELECT coalesce(substring($2 FROM '([0-9]+(?:\.[0-9]+)?) *%')::numeric,
                            (SELECT round(100 * sum(abs(x.tax)) / nullif(sum(abs(x.subtotal - x.discount)), 0), 4)
                               FROM unnest($3) x WHERE x.tax_code = $2), 0) AS rate) r
$fn$;
COMMENT ON FUNCTION billing._push_tax_rate(bigint, text, billing._push_line[]) IS 'The TaxRate document that creates an unmapped source tax code in Xero (rate from the code''s name, else from its lines).';

CREATE FUNCTION billing._push_tolerance(n integer) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT GREATEST(0.01 * $1, 0.01)
$fn$;
COMMENT ON FUNCTION billing._push_tolerance(integer) IS 'Largest rounding difference a rounding line may absorb for a document of n lines (a cent per line); a larger difference holds the document.';

-- Lines of a statement (the lines of its live invoices) or of an invoice.
CREATE FUNCTION billing._push_invoice_lines(unit_table text, unit_id bigint) RETURNS billing._push_line[]
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT coalesce(array_agg(ROW(l.id, coalesce(l.description, l.product), l.quantity, l.unit_price, l.subtotal, l.discount,
                                  l.tax, l.tax_code,
                                  array_remove(ARRAY[p.external_id, p.sku, l.sku], NULL))::billing._push_line
                              ORDER BY i.issue_date, i.id, l.line_no NULLS LAST, l.id), '{}')
      FROM billing.invoices i JOIN billing.invoice_lines l ON l.invoice_id = i.id
      LEFT JOIN billing.products p ON p.id = l.product_id
     WHERE CASE WHEN $1 = 'statements' THEN i.statement_id = $2 AND i.status NOT IN ('voided', 'canceled') AND i.deleted_at IS NULL
                ELSE i.id = $2 END
$fn$;
COMMENT ON FUNCTION billing._push_invoice_lines(text, bigint) IS 'The lines a statement (its invoices that are not voided) or an invoice pushes, in document order.';

-- The documents of a statement or an invoice: its contact; an invoice (positive) with a credit note
-- for its negative lines allocated to it, or a credit note (negative total); the carried credit;
-- a rounding line; and its payments.
CREATE FUNCTION billing._push_build_document(unit_table text, unit_id bigint) RETURNS SETOF billing._push_doc
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_origin bigint; v_customer bigint; v_currency text; v_ref text; v_date date; v_due date; v_total numeric;
    v_carried numeric := 0; v_live boolean; v_draft boolean := false;
    v_target bigint;
    v_lines billing._push_line[]; v_pos billing._push_line[]; v_neg billing._push_line[];
    v_inv record; v_cn record;
    v_held text[] := '{}';
    v_contact billing._push_doc;
    v_round numeric; v_items jsonb; v_xero_total numeric; v_cn_total numeric := 0;
    v_carry_mode text;
    v_n integer;
    v_need numeric; v_take numeric; v_c record;
    v_base jsonb;
    v_codes text[] := '{}';
    v_rounding text;
BEGIN
    IF unit_table = 'statements' THEN
        SELECT s.source_id, s.customer_id, s.currency, s.external_id, (s.closed_at AT TIME ZONE 'UTC')::date, s.total,
               CASE WHEN coalesce(s.starting_balance, 0) < 0 THEN -s.starting_balance ELSE 0 END,
               s.closed_at IS NOT NULL AND s.deleted_at IS NULL AND s.total IS NOT NULL
          INTO v_origin, v_customer, v_currency, v_ref, v_date, v_total, v_carried, v_live
          FROM billing.statements s WHERE s.id = unit_id;
        v_due := v_date;
    ELSE
        SELECT i.source_id, i.customer_id, i.currency, coalesce(i.number, i.external_id), i.issue_date,
               coalesce(i.due_date, i.issue_date), i.total, 0,
               i.status IN ('draft', 'open', 'pending', 'paid') AND i.deleted_at IS NULL AND i.direction = 'receivable',
               i.status = 'draft'
          INTO v_origin, v_customer, v_currency, v_ref, v_date, v_due, v_total, v_carried, v_live, v_draft
          FROM billing.invoices i WHERE i.id = unit_id;
    END IF;
    v_target := billing._push_target(v_origin);
    IF v_live IS NOT TRUE OR v_target IS NULL THEN
        RETURN;
    END IF;
    v_lines := billing._push_invoice_lines(unit_table, unit_id);
    IF cardinality(v_lines) = 0 THEN
        IF v_total <> 0 THEN
            RETURN QUERY SELECT 'invoice', unit_table, unit_id, v_ref, '{}'::jsonb, v_total, '{}'::text[],
                                ARRAY['no lines for ' || v_ref];
        END IF;
        RETURN;
    END IF;
    v_contact := billing._push_contact(v_customer);
    RETURN NEXT v_contact;
    v_rounding := billing._push_map(v_origin, 'account', 'rounding');
    v_n := cardinality(v_lines);
    v_base := jsonb_build_object('Contact', jsonb_build_object('ContactNumber', v_contact.natural_key),
                                 'Date', v_date, 'Reference', v_ref, 'CurrencyCode', v_currency,
                                 'LineAmountTypes', 'Exclusive');

    IF v_total < 0 THEN
        -- a negative total is a credit note of net amounts, nothing allocated (credit carried forward)
        SELECT * INTO v_cn FROM billing._push_items(v_origin, v_lines, -1, false);
        v_round := -v_total - v_cn.total;
        v_items := v_cn.items;
        v_held := v_cn.held_for;
        v_codes := v_cn.tax_codes;
        IF abs(v_round) > billing._push_tolerance(v_n) THEN
            v_held := v_held || ('total of ' || v_ref);
        ELSIF v_round <> 0 THEN
            v_items := v_items || jsonb_build_object('Description', 'Rounding', 'Quantity', 1, 'UnitAmount', v_round,
                                                     'AccountCode', v_rounding, 'TaxType', 'NONE', 'TaxAmount', 0);
            IF v_rounding IS NULL THEN v_held := v_held || 'account rounding'::text; END IF;
        END IF;
        RETURN QUERY SELECT 'credit_note', unit_table, unit_id, v_ref,
            v_base || jsonb_build_object('Type', 'ACCRECCREDIT', 'Status', 'AUTHORISED', 'LineItems', v_items),
            v_cn.total + v_round, ARRAY['contact:' || v_contact.natural_key], v_held;
    ELSE
        SELECT array_agg(v_lines[k] ORDER BY k) FILTER (WHERE (v_lines[k]).subtotal - (v_lines[k]).discount >= 0),
               array_agg(v_lines[k] ORDER BY k) FILTER (WHERE (v_lines[k]).subtotal - (v_lines[k]).discount < 0)
          INTO v_pos, v_neg FROM generate_subscripts(v_lines, 1) k;
        SELECT * INTO v_inv FROM billing._push_items(v_origin, coalesce(v_pos, '{}'), 1, true);
        v_items := v_inv.items;
        v_held := v_inv.held_for;
        v_codes := v_inv.tax_codes;
        IF v_neg IS NOT NULL THEN
            SELECT * INTO v_cn FROM billing._push_items(v_origin, v_neg, -1, false);
            v_cn_total := v_cn.total;
            v_held := v_held || v_cn.held_for;
            v_codes := v_codes || v_cn.tax_codes;
        END IF;
        -- what Xero will owe after the credit note is allocated must be the source's total
        v_round := v_total - (v_inv.total - v_cn_total);
        v_xero_total := v_inv.total;
        IF abs(v_round) > billing._push_tolerance(v_n) THEN
            v_held := v_held || ('total of ' || v_ref);
        ELSIF v_round <> 0 THEN
            v_items := v_items || jsonb_build_object('Description', 'Rounding', 'Quantity', 1, 'UnitAmount', v_round,
                                                     'AccountCode', v_rounding, 'TaxType', 'NONE', 'TaxAmount', 0);
            v_xero_total := v_xero_total + v_round;
            IF v_rounding IS NULL THEN v_held := v_held || 'account rounding'::text; END IF;
        END IF;
        v_carry_mode := (SELECT coalesce(o.options ->> 'push_carried_credit', 'allocate') FROM billing.sources o WHERE o.id = v_origin);
        v_carried := LEAST(v_carried, v_total);
        IF v_carried > 0 AND v_carry_mode = 'offset' THEN
            -- compatibility: an offset line to the clearing account; the old credit note stays unallocated
            v_items := v_items || jsonb_build_object('Description', 'Credit carried forward', 'Quantity', 1,
                                                     'UnitAmount', -v_carried, 'AccountCode', billing._push_map(v_origin, 'account', 'clearing'),
                                                     'TaxType', 'NONE', 'TaxAmount', 0);
            v_xero_total := v_xero_total - v_carried;
            IF billing._push_map(v_origin, 'account', 'clearing') IS NULL THEN v_held := v_held || 'account clearing'::text; END IF;
        END IF;
        RETURN QUERY SELECT 'invoice', unit_table, unit_id, v_ref,
            v_base || jsonb_build_object('Type', 'ACCREC', 'DueDate', v_due, 'Status', CASE WHEN v_draft THEN 'DRAFT' ELSE 'AUTHORISED' END,
                                         'LineItems', v_items),
            v_xero_total, ARRAY['contact:' || v_contact.natural_key], v_held;
        IF v_neg IS NOT NULL THEN
            RETURN QUERY SELECT 'credit_note', unit_table, unit_id, v_ref || '-CR',
                v_base || jsonb_build_object('Type', 'ACCRECCREDIT', 'Status', 'AUTHORISED', 'Reference', v_ref || '-CR',
                                             'LineItems', v_cn.items),
                v_cn_total, ARRAY['contact:' || v_contact.natural_key], v_held;
            RETURN QUERY SELECT 'allocation', unit_table, unit_id, v_ref || '-CR>' || v_ref,
                jsonb_build_object('CreditNote', jsonb_build_object('CreditNoteID', billing._push_ref('credit_note', v_ref || '-CR')),
                                   'Invoice', jsonb_build_object('InvoiceID', billing._push_ref('invoice', v_ref)),
                                   'Amount', v_cn_total, 'Date', v_date),
                v_cn_total, ARRAY['credit_note:' || v_ref || '-CR', 'invoice:' || v_ref], v_held;
        END IF;
        IF v_carried > 0 AND v_carry_mode = 'allocate' THEN
            -- allocate the credit notes of earlier negative statements, oldest first, by what they have left
            v_need := v_carried;
            FOR v_c IN
                SELECT c.natural_key, c.amount - coalesce((
                           SELECT sum(a.amount) FROM billing.outbox a
                            WHERE a.target_source_id = v_target AND a.doc_kind = 'allocation'
                              AND a.payload -> 'CreditNote' -> 'CreditNoteID' ->> 'pgb_ref' = 'credit_note:' || c.natural_key
                              AND NOT (a.local_table = unit_table AND a.local_id = unit_id)), 0) AS left_over
                  FROM billing.outbox c JOIN billing.statements s ON c.local_table = 'statements' AND s.id = c.local_id
                 WHERE c.target_source_id = v_target AND c.doc_kind = 'credit_note' AND c.natural_key = s.external_id
                   AND s.customer_id = v_customer AND s.currency = v_currency AND s.id <> unit_id
                   AND s.closed_at <= (SELECT u.closed_at FROM billing.statements u WHERE u.id = unit_id)
                 ORDER BY s.closed_at, s.id
            LOOP
                EXIT WHEN v_need <= 0;
                CONTINUE WHEN v_c.left_over <= 0;
                v_take := LEAST(v_need, v_c.left_over);
                v_need := v_need - v_take;
                RETURN QUERY SELECT 'allocation', unit_table, unit_id, v_c.natural_key || '>' || v_ref,
                    jsonb_build_object('CreditNote', jsonb_build_object('CreditNoteID', billing._push_ref('credit_note', v_c.natural_key)),
                                       'Invoice', jsonb_build_object('InvoiceID', billing._push_ref('invoice', v_ref)),
                                       'Amount', v_take, 'Date', v_date),
                    v_take, ARRAY['credit_note:' || v_c.natural_key, 'invoice:' || v_ref], v_held;
            END LOOP;
            IF v_need > 0 THEN
                -- no guess: the carried credit must come from a credit note Xero has
                RETURN QUERY SELECT 'allocation', unit_table, unit_id, 'carried>' || v_ref,
                    jsonb_build_object('Amount', v_need, 'Date', v_date), v_need, '{}'::text[],
                    ARRAY['carried credit of ' || v_ref];
            END IF;
        END IF;
        -- payments of the statement's or invoice's invoices, into the bank account mapped for their method
        RETURN QUERY
            SELECT 'payment', 'payments', p.id, p.external_id,
                   jsonb_build_object('Invoice', jsonb_build_object('InvoiceID', billing._push_ref('invoice', v_ref)),
                                      'Account', jsonb_build_object('Code', b.code), 'Date', p.payment_date,
                                      'Amount', round(p.amount, 2), 'Reference', p.external_id),
                   round(p.amount, 2), ARRAY['invoice:' || v_ref],
                   v_held || CASE WHEN b.code IS NULL THEN ARRAY['bank_account ' || coalesce(p.method, '*')] ELSE '{}'::text[] END
              FROM billing.payments p JOIN billing.invoices i ON i.id = p.invoice_id
              LEFT JOIN LATERAL (SELECT coalesce(billing._push_map(v_origin, 'bank_account', p.method),
                                                 billing._push_map(v_origin, 'bank_account', '*')) AS code) b ON true
             WHERE p.deleted_at IS NULL AND p.amount > 0 AND p.credit_note_id IS NULL
               AND CASE WHEN unit_table = 'statements' THEN i.statement_id = unit_id ELSE i.id = unit_id END;
    END IF;
    RETURN QUERY SELECT (billing._push_tax_rate(v_origin, c.code, v_lines)).*
                   FROM (SELECT DISTINCT unnest(v_codes) AS code) c;
END
$fn$;
COMMENT ON FUNCTION billing._push_build_document(text, bigint) IS 'The Xero documents of a closed statement or a live invoice (domain.md section 5): contact, invoice or credit note, credit note of negative lines and its allocation, carried credit, rounding line, payments, tax rates to create.';

-- A refund: a credit note paid out at once (Xero cash refund). On invoice sites a refund paid out of
-- a source credit note refunds that credit note instead of making one.
CREATE FUNCTION billing._push_build_refund(refund_id bigint) RETURNS SETOF billing._push_doc
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    r record;
    v_contact billing._push_doc;
    v_ref text;
    v_cn_ref text;
    v_bank text;
    v_sales text;
    v_held text[] := '{}';
BEGIN
    SELECT f.*, pm.method INTO r FROM billing.refunds f LEFT JOIN billing.payments pm ON pm.id = f.payment_id
     WHERE f.id = refund_id AND f.deleted_at IS NULL;
    IF NOT FOUND OR billing._push_target(r.source_id) IS NULL THEN
        RETURN;
    END IF;
    v_contact := billing._push_contact(r.customer_id);
    RETURN NEXT v_contact;
    v_ref := 'Refund ' || r.external_id;
    v_bank := coalesce(billing._push_map(r.source_id, 'bank_account', r.method), billing._push_map(r.source_id, 'bank_account', '*'));
    IF v_bank IS NULL THEN v_held := ARRAY['bank_account ' || coalesce(r.method, '*')]; END IF;
    IF r.credit_note_id IS NOT NULL AND billing._push_mode(r.source_id) = 'invoices' THEN
        SELECT coalesce(c.number, c.external_id) INTO v_cn_ref FROM billing.credit_notes c WHERE c.id = r.credit_note_id;
    ELSE
        v_cn_ref := v_ref;
        v_sales := billing._push_map(r.source_id, 'account', 'sales');
        RETURN QUERY SELECT 'credit_note', 'refunds', r.id, v_ref,
            jsonb_build_object('Type', 'ACCRECCREDIT', 'Contact', jsonb_build_object('ContactNumber', v_contact.natural_key),
                               'Date', r.refund_date, 'Reference', v_ref, 'CurrencyCode', r.currency,
                               'Status', 'AUTHORISED', 'LineAmountTypes', 'NoTax',
                               'LineItems', jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                                   'Description', coalesce(nullif(btrim(r.memo), ''), v_ref), 'Quantity', 1,
                                   'UnitAmount', round(r.amount, 2), 'AccountCode', v_sales)))),
            round(r.amount, 2), ARRAY['contact:' || v_contact.natural_key],
            v_held || CASE WHEN v_sales IS NULL THEN ARRAY['account sales'] ELSE '{}'::text[] END;
    END IF;
    RETURN QUERY SELECT 'refund', 'refunds', r.id, v_ref,
        jsonb_build_object('CreditNote', jsonb_build_object('CreditNoteID', billing._push_ref('credit_note', v_cn_ref)),
                           'Account', jsonb_build_object('Code', v_bank), 'Date', r.refund_date,
                           'Amount', round(r.amount, 2), 'Reference', v_ref),
        round(r.amount, 2), ARRAY['credit_note:' || v_cn_ref],
        v_held || CASE WHEN v_sales IS NULL AND v_cn_ref = v_ref THEN ARRAY['account sales'] ELSE '{}'::text[] END;
END
$fn$;
COMMENT ON FUNCTION billing._push_build_refund(bigint) IS 'The Xero documents of a refund: a credit note (one line, no tax, to the sales account) and its cash refund into the mapped bank account.';

-- A source credit note (invoice sites): an ACCRECCREDIT of its net lines, and its allocations to
-- invoices that are pushed.
CREATE FUNCTION billing._push_build_credit_note(credit_note_id bigint) RETURNS SETOF billing._push_doc
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    c record;
    v_contact billing._push_doc;
    v_ref text;
    v_lines billing._push_line[];
    v_cn record;
    v_round numeric;
    v_items jsonb;
    v_held text[];
    v_rounding text;
BEGIN
    SELECT * INTO c FROM billing.credit_notes n
     WHERE n.id = credit_note_id AND n.deleted_at IS NULL AND n.status IN ('open', 'applied') AND n.direction = 'receivable';
    IF NOT FOUND OR billing._push_target(c.source_id) IS NULL OR billing._push_mode(c.source_id) <> 'invoices' THEN
        RETURN;
    END IF;
    SELECT coalesce(array_agg(ROW(l.id, coalesce(l.description, l.product), l.quantity, l.unit_price, l.subtotal, l.discount,
                                  l.tax, l.tax_code, array_remove(ARRAY[l.product], NULL))::billing._push_line
                              ORDER BY l.line_no NULLS LAST, l.id), '{}')
      INTO v_lines FROM billing.credit_note_lines l WHERE l.credit_note_id = c.id;
    IF cardinality(v_lines) = 0 THEN
        RETURN;
    END IF;
    v_contact := billing._push_contact(c.customer_id);
    RETURN NEXT v_contact;
    v_ref := coalesce(c.number, c.external_id);
    SELECT * INTO v_cn FROM billing._push_items(c.source_id, v_lines, 1, false);
    v_items := v_cn.items;
    v_held := v_cn.held_for;
    v_round := c.total - v_cn.total;
    v_rounding := billing._push_map(c.source_id, 'account', 'rounding');
    IF abs(v_round) > billing._push_tolerance(cardinality(v_lines)) THEN
        v_held := v_held || ('total of ' || v_ref);
    ELSIF v_round <> 0 THEN
        v_items := v_items || jsonb_build_object('Description', 'Rounding', 'Quantity', 1, 'UnitAmount', v_round,
                                                 'AccountCode', v_rounding, 'TaxType', 'NONE', 'TaxAmount', 0);
        IF v_rounding IS NULL THEN v_held := v_held || 'account rounding'::text; END IF;
    END IF;
    RETURN QUERY SELECT 'credit_note', 'credit_notes', c.id, v_ref,
        jsonb_build_object('Type', 'ACCRECCREDIT', 'Contact', jsonb_build_object('ContactNumber', v_contact.natural_key),
                           'Date', c.issue_date, 'Reference', v_ref, 'CurrencyCode', c.currency, 'Status', 'AUTHORISED',
                           'LineAmountTypes', 'Exclusive', 'LineItems', v_items),
        v_cn.total + v_round, ARRAY['contact:' || v_contact.natural_key], v_held;
    RETURN QUERY SELECT (billing._push_tax_rate(c.source_id, t.code, v_lines)).*
                   FROM (SELECT DISTINCT unnest(v_cn.tax_codes) AS code) t;
    RETURN QUERY
        SELECT 'allocation', 'credit_note_allocations', a.id, v_ref || '>' || coalesce(i.number, i.external_id),
               jsonb_build_object('CreditNote', jsonb_build_object('CreditNoteID', billing._push_ref('credit_note', v_ref)),
                                  'Invoice', jsonb_build_object('InvoiceID', billing._push_ref('invoice', coalesce(i.number, i.external_id))),
                                  'Amount', round(a.amount, 2), 'Date', a.allocated_on),
               round(a.amount, 2), ARRAY['credit_note:' || v_ref, 'invoice:' || coalesce(i.number, i.external_id)], v_held
          FROM billing.credit_note_allocations a JOIN billing.invoices i ON i.id = a.invoice_id
         WHERE a.credit_note_id = c.id AND i.deleted_at IS NULL AND i.status IN ('open', 'pending', 'paid')
           AND i.total > 0;
END
$fn$;
COMMENT ON FUNCTION billing._push_build_credit_note(bigint) IS 'The Xero documents of a source credit note on an invoice site: the credit note (net lines, rounding) and its allocations to pushed invoices.';

CREATE FUNCTION billing._push_build(unit_table text, unit_id bigint) RETURNS SETOF billing._push_doc
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    CASE unit_table
        WHEN 'statements', 'invoices' THEN RETURN QUERY SELECT * FROM billing._push_build_document(unit_table, unit_id);
        WHEN 'refunds' THEN RETURN QUERY SELECT * FROM billing._push_build_refund(unit_id);
        WHEN 'credit_notes' THEN RETURN QUERY SELECT * FROM billing._push_build_credit_note(unit_id);
        WHEN 'customers' THEN
            -- a customer alone pushes nothing; once its contact is in the outbox, name and e-mail follow
            IF EXISTS (SELECT 1 FROM billing.outbox o WHERE o.doc_kind = 'contact' AND o.local_table = 'customers'
                                                       AND o.local_id = unit_id) THEN
                RETURN NEXT billing._push_contact(unit_id);
            END IF;
    END CASE;
END
$fn$;
COMMENT ON FUNCTION billing._push_build(text, bigint) IS 'Every document one unit (a statement, invoice, refund, credit note or customer) makes.';

-- Writing the outbox ------------------------------------------------------------------------------

CREATE FUNCTION billing._push_raise(origin bigint, kind text, severity text, subject text, message text, detail text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    INSERT INTO billing.alerts AS a (severity, kind, source_id, subject, message, detail)
    VALUES ($3, $2, $1, $4, $5, $6)
    ON CONFLICT (kind, coalesce(source_id, 0), coalesce(subject, '')) WHERE resolved_at IS NULL
    DO UPDATE SET message = EXCLUDED.message, detail = EXCLUDED.detail
     WHERE (a.message, a.detail) IS DISTINCT FROM (EXCLUDED.message, EXCLUDED.detail)
$fn$;
COMMENT ON FUNCTION billing._push_raise(bigint, text, text, text, text, text) IS 'Raises (or refreshes) one push alert per kind, source and subject.';

-- What to do about a hold subject, for the alert: the SQL that makes the mapping.
CREATE FUNCTION billing._push_hold_advice(origin bigint, subject text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT CASE
        WHEN $2 LIKE 'account %' THEN pg_catalog.format(
            'Map it: INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES (%s, ''account'', %L, ''<Xero account code>'');',
            $1, substr($2, 9))
        WHEN $2 LIKE 'bank_account %' THEN pg_catalog.format(
            'Map it: INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES (%s, ''bank_account'', %L, ''<Xero bank account code>''); local_key ''*'' maps every payment method.',
            $1, substr($2, 14))
        WHEN $2 LIKE 'tax code of line %' THEN 'The line carries tax but no tax code: the source must name its tax (invoice_lines.tax_code).'
        WHEN $2 LIKE 'total of %' THEN 'The lines do not add up to the document''s total within a cent per line: check the source document; a rounding line never hides a larger difference.'
        WHEN $2 LIKE 'carried credit of %' THEN 'The statement carries a credit that no credit note pushed from an earlier statement covers: enqueue the earlier statements first (billing.push_enqueue), or set option push_carried_credit to offset (with an account clearing mapping).'
        WHEN $2 LIKE 'no lines for %' THEN 'The statement has a total but no invoice lines are linked to it (invoices.statement_id).'
        WHEN $2 LIKE 'contact number %' THEN 'Xero contact numbers have at most 50 characters: choose a shorter contact_prefix.'
        ELSE 'See docs/push-xero.md.'
    END
$fn$;
COMMENT ON FUNCTION billing._push_hold_advice(bigint, text) IS 'The alert detail for a held document: what to map or fix, with the SQL where there is one.';

CREATE FUNCTION billing._push_origin(unit_table text, unit_id bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT CASE $1
        WHEN 'statements' THEN (SELECT x.source_id FROM billing.statements x WHERE x.id = $2)
        WHEN 'invoices' THEN (SELECT x.source_id FROM billing.invoices x WHERE x.id = $2)
        WHEN 'refunds' THEN (SELECT x.source_id FROM billing.refunds x WHERE x.id = $2)
        WHEN 'credit_notes' THEN (SELECT x.source_id FROM billing.credit_notes x WHERE x.id = $2)
        WHEN 'customers' THEN (SELECT x.source_id FROM billing.customers x WHERE x.id = $2)
    END
$fn$;
COMMENT ON FUNCTION billing._push_origin(text, bigint) IS 'The billing source a unit belongs to.';

CREATE FUNCTION billing._push_key(target bigint, doc_kind text, natural_key text, revision integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT 'pgb-' || $1 || '-' || $2 || '-' || md5($3) || '-r' || $4
$fn$;
COMMENT ON FUNCTION billing._push_key(bigint, text, text, integer) IS 'The Idempotency-Key of a document: target, kind, a hash of the natural key and the payload revision (under 128 characters; the same for the same document until its payload changes).';

-- Merges the documents of one unit into the outbox; returns the rows it wrote. Never sent (pending,
-- held, failed): replaced. Sent and confirmed: a contact and a draft invoice are updated (pending
-- again, next revision); anything else stays as Xero has it and an alert says the source changed.
-- In flight or unknown: marked for a rebuild once the outcome is known.
CREATE FUNCTION billing._push_apply(unit_table text, unit_id bigint) RETURNS bigint[]
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    d record;
    e billing.outbox;
    v_origin bigint := billing._push_origin(unit_table, unit_id);
    v_target bigint := billing._push_target(v_origin);
    v_state text;
    v_keep text[] := '{}';
    v_ids bigint[] := '{}';
    v_id bigint;
BEGIN
    FOR d IN SELECT b.*, CASE b.doc_kind WHEN 'contact' THEN 0 WHEN 'tax_rate' THEN 1 WHEN 'invoice' THEN 2
                                         WHEN 'credit_note' THEN 3 ELSE 4 END AS ord
               FROM billing._push_build(unit_table, unit_id) b ORDER BY ord
    LOOP
        v_keep := v_keep || (d.doc_kind || ':' || d.natural_key);
        v_state := CASE WHEN cardinality(d.held_for) > 0 THEN 'held' ELSE 'pending' END;
        v_id := NULL;
        SELECT * INTO e FROM billing.outbox o
         WHERE o.target_source_id = v_target AND o.doc_kind = d.doc_kind AND o.natural_key = d.natural_key FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO billing.outbox (target_source_id, origin_source_id, doc_kind, local_table, local_id, natural_key,
                                        idempotency_key, payload, state, amount, held_for)
            VALUES (v_target, v_origin, d.doc_kind, d.local_table, d.local_id, d.natural_key,
                    billing._push_key(v_target, d.doc_kind, d.natural_key, 0), d.payload, v_state, d.amount, d.held_for)
            -- a concurrent transaction that built the same document first keeps it (this one must not fail)
            ON CONFLICT DO NOTHING
            RETURNING id INTO v_id;
        ELSIF (e.local_table, e.local_id) IS DISTINCT FROM (d.local_table, d.local_id)
              AND d.doc_kind NOT IN ('contact', 'tax_rate') THEN
            PERFORM billing._push_raise(v_origin, 'push_conflict', 'error', d.doc_kind || ' ' || d.natural_key,
                pg_catalog.format('push to Xero: %s %s of %s %s has the same reference as %s %s', d.doc_kind, d.natural_key,
                                  d.local_table, d.local_id, e.local_table, e.local_id),
                'Two source documents would be one Xero document; only the first is pushed.');
        ELSIF e.state IN ('pending', 'held', 'failed') THEN
            IF e.payload IS DISTINCT FROM d.payload OR (e.state <> 'failed' AND e.state <> v_state)
               OR e.held_for IS DISTINCT FROM d.held_for THEN
                UPDATE billing.outbox o
                   SET payload = d.payload, amount = d.amount, held_for = d.held_for,
                       state = CASE WHEN o.state = 'failed' AND o.payload = d.payload THEN 'failed' ELSE v_state END,
                       revision = o.revision + (o.payload IS DISTINCT FROM d.payload)::integer,
                       idempotency_key = billing._push_key(v_target, d.doc_kind, d.natural_key,
                                                           o.revision + (o.payload IS DISTINCT FROM d.payload)::integer),
                       updated_at = pg_catalog.now()
                 WHERE o.id = e.id RETURNING id INTO v_id;
            END IF;
        ELSIF e.payload IS DISTINCT FROM d.payload AND e.state IN ('in_flight', 'unknown') THEN
            UPDATE billing.outbox o SET rebuild = true WHERE o.id = e.id AND NOT o.rebuild;
        ELSIF e.payload IS DISTINCT FROM d.payload AND e.state = 'confirmed' THEN
            IF cardinality(d.held_for) = 0
               AND (d.doc_kind = 'contact' OR (d.doc_kind = 'invoice' AND e.payload ->> 'Status' = 'DRAFT')) THEN
                -- Xero takes these changes: the driver updates the document it already has (remote_id)
                UPDATE billing.outbox o
                   SET payload = d.payload, amount = d.amount, state = 'pending', revision = o.revision + 1,
                       idempotency_key = billing._push_key(v_target, d.doc_kind, d.natural_key, o.revision + 1),
                       attempts = 0, next_attempt_at = pg_catalog.now(), last_error = NULL, updated_at = pg_catalog.now()
                 WHERE o.id = e.id RETURNING id INTO v_id;
            ELSIF d.doc_kind <> 'tax_rate' THEN
                PERFORM billing._push_raise(v_origin, 'push_changed', 'warning', d.doc_kind || ' ' || d.natural_key,
                    pg_catalog.format('push to Xero: %s %s changed after it was pushed', d.doc_kind, d.natural_key),
                    'Xero keeps the document as it was pushed: a sent document is never re-created, and only contacts and drafts are updated. Correct it in Xero by hand if needed.');
            END IF;
        END IF;
        IF v_id IS NOT NULL THEN
            v_ids := v_ids || v_id;
        END IF;
    END LOOP;
    -- documents of this unit that it no longer makes: dropped while never sent, else an alert
    FOR e IN
        SELECT o.* FROM billing.outbox o
         WHERE ((o.local_table = unit_table AND o.local_id = unit_id AND o.doc_kind NOT IN ('contact', 'tax_rate'))
                OR (o.local_table = 'payments' AND unit_table IN ('statements', 'invoices')
                    AND o.local_id IN (SELECT p.id FROM billing.payments p JOIN billing.invoices i ON i.id = p.invoice_id
                                        WHERE CASE WHEN unit_table = 'statements' THEN i.statement_id = unit_id ELSE i.id = unit_id END))
                OR (o.local_table = 'credit_note_allocations' AND unit_table = 'credit_notes'
                    AND o.local_id IN (SELECT a.id FROM billing.credit_note_allocations a WHERE a.credit_note_id = unit_id)))
           AND NOT (o.doc_kind || ':' || o.natural_key) = ANY (v_keep)
           FOR UPDATE
    LOOP
        IF e.state IN ('pending', 'held') AND e.attempts = 0 AND e.remote_id IS NULL THEN
            DELETE FROM billing.outbox o WHERE o.id = e.id;
        ELSIF e.state <> 'failed' THEN
            PERFORM billing._push_raise(e.origin_source_id, 'push_changed', 'warning', e.doc_kind || ' ' || e.natural_key,
                pg_catalog.format('push to Xero: %s %s was sent but its source no longer makes it', e.doc_kind, e.natural_key),
                'The source document was voided, deleted or changed its sign after it was sent; Xero keeps what it has. Void or credit it in Xero by hand if needed.');
        END IF;
    END LOOP;
    RETURN v_ids;
END
$fn$;
COMMENT ON FUNCTION billing._push_apply(text, bigint) IS 'Builds one unit''s documents and merges them into the outbox under the rules of what Xero still allows to change; returns the outbox rows written.';

-- Sets depends_on from the references in the payloads and the contact they name.
CREATE FUNCTION billing._push_link(ids bigint[]) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    UPDATE billing.outbox o SET depends_on = d.deps
      FROM (SELECT o2.id, coalesce(array_agg(DISTINCT t.id ORDER BY t.id) FILTER (WHERE t.id IS NOT NULL), '{}') AS deps
              FROM billing.outbox o2
              LEFT JOIN LATERAL (
                  SELECT r.ref #>> '{}' AS ref FROM jsonb_path_query(o2.payload, 'lax $.**.pgb_ref') AS r(ref)
                  UNION SELECT 'contact:' || (o2.payload -> 'Contact' ->> 'ContactNumber')
                   WHERE o2.payload -> 'Contact' ? 'ContactNumber') r ON true
              LEFT JOIN billing.outbox t ON t.target_source_id = o2.target_source_id
                                        AND t.doc_kind = split_part(r.ref, ':', 1)
                                        AND t.natural_key = substr(r.ref, strpos(r.ref, ':') + 1)
             WHERE o2.id = ANY ($1)
             GROUP BY o2.id) d
     WHERE o.id = d.id AND o.depends_on IS DISTINCT FROM d.deps
$fn$;
COMMENT ON FUNCTION billing._push_link(bigint[]) IS 'Sets depends_on of outbox rows from the pgb_ref placeholders and the contact their payloads name.';

-- Raises an alert per missing mapping and resolves those no held document waits for any more.
CREATE FUNCTION billing._push_alerts(origins bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    h record;
BEGIN
    FOR h IN SELECT o.origin_source_id AS origin, s.subject, count(*) AS docs, min(o.doc_kind || ' ' || o.natural_key) AS example
               FROM billing.outbox o, unnest(o.held_for) s(subject)
              WHERE o.state = 'held' AND o.origin_source_id = ANY (origins)
              GROUP BY 1, 2
    LOOP
        PERFORM billing._push_raise(h.origin, 'push_held', 'error', h.subject,
            pg_catalog.format('push to Xero held: %s (%s document%s, e.g. %s)', h.subject, h.docs,
                              CASE WHEN h.docs = 1 THEN '' ELSE 's' END, h.example),
            billing._push_hold_advice(h.origin, h.subject));
    END LOOP;
    UPDATE billing.alerts a SET resolved_at = GREATEST(pg_catalog.now(), a.raised_at)
     WHERE a.resolved_at IS NULL AND a.kind = 'push_held' AND a.source_id = ANY (origins)
       AND NOT EXISTS (SELECT 1 FROM billing.outbox o
                        WHERE o.state = 'held' AND o.origin_source_id = a.source_id AND a.subject = ANY (o.held_for));
END
$fn$;
COMMENT ON FUNCTION billing._push_alerts(bigint[]) IS 'One push_held alert per billing source and missing thing, naming how many documents wait and what to map; resolved when none waits.';

-- Capture and commit-time build -----------------------------------------------------------------

CREATE TABLE billing._push_dirty (
    unit_table text NOT NULL,
    unit_id    bigint NOT NULL,
    PRIMARY KEY (unit_table, unit_id)
);
COMMENT ON TABLE billing._push_dirty IS 'Units (statements, invoices, refunds, credit notes, customers) whose Xero documents are rebuilt when the transaction that queued them commits.';

CREATE TABLE billing._push_pending (
    txid bigint PRIMARY KEY
);
COMMENT ON TABLE billing._push_pending IS 'One row per transaction that queued push units: its insert arms the commit-time build.';

CREATE FUNCTION billing._push_queue(units text[], ids bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    INSERT INTO billing._push_dirty (unit_table, unit_id)
    SELECT DISTINCT u.t, u.i FROM unnest(units, ids) u(t, i) WHERE u.i IS NOT NULL ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        INSERT INTO billing._push_pending (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
END
$fn$;
COMMENT ON FUNCTION billing._push_queue(text[], bigint[]) IS 'Queues units for the commit-time build of their documents.';

-- The keys of changed rows, per table: source, own id, invoice, statement, credit note, customer.
CREATE FUNCTION billing._push_rows_of(tbl text, rows_json jsonb)
RETURNS TABLE (src bigint, id bigint, inv bigint, st bigint, cn bigint, cust bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH r AS (SELECT x, CASE WHEN $1 = 'invoices' THEN (x ->> 'id')::bigint ELSE (x ->> 'invoice_id')::bigint END AS inv
                 FROM jsonb_array_elements($2) x)
    SELECT coalesce((r.x ->> 'source_id')::bigint, i.source_id, c.source_id),
           (r.x ->> 'id')::bigint,
           r.inv,
           CASE $1 WHEN 'statements' THEN (r.x ->> 'id')::bigint WHEN 'invoices' THEN (r.x ->> 'statement_id')::bigint
                   ELSE i.statement_id END,
           CASE $1 WHEN 'credit_notes' THEN (r.x ->> 'id')::bigint ELSE (r.x ->> 'credit_note_id')::bigint END,
           CASE $1 WHEN 'customers' THEN (r.x ->> 'id')::bigint END
      FROM r
      LEFT JOIN billing.invoices i ON i.id = r.inv
      LEFT JOIN billing.credit_notes c ON $1 = 'credit_note_lines' AND c.id = (r.x ->> 'credit_note_id')::bigint
$fn$;
COMMENT ON FUNCTION billing._push_rows_of(text, jsonb) IS 'The source, invoice, statement, credit note and customer that changed rows of one table belong to.';

-- Which units a statement's changed rows touch, for sources that push: one query per statement over
-- the transition tables (old and new rows), so a sync page of 200 rows costs one call, not 200.
CREATE FUNCTION billing._push_capture() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_rows jsonb := '[]';
    v_units text[];
    v_ids bigint[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM billing.sources s WHERE s.options ? 'push_to') THEN
        RETURN NULL;
    END IF;
    -- raw can be large and is never needed here
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        v_rows := v_rows || coalesce((SELECT jsonb_agg(to_jsonb(n) - 'raw') FROM new_rows n), '[]');
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        v_rows := v_rows || coalesce((SELECT jsonb_agg(to_jsonb(o) - 'raw') FROM old_rows o), '[]');
    END IF;
    WITH r AS (
        SELECT r.*, billing._push_mode(r.src) AS mode
          FROM billing._push_rows_of(TG_TABLE_NAME, v_rows) r JOIN billing.sources s ON s.id = r.src AND s.options ? 'push_to'
    ), u AS (
        SELECT 'statements' AS t, r.st AS i FROM r WHERE r.mode = 'statements' AND TG_TABLE_NAME <> 'refunds'
        UNION SELECT 'invoices', r.inv FROM r WHERE r.mode = 'invoices' AND TG_TABLE_NAME <> 'refunds'
        UNION SELECT 'credit_notes', r.cn FROM r WHERE r.mode = 'invoices' AND TG_TABLE_NAME <> 'refunds'
        UNION SELECT 'refunds', r.id FROM r WHERE TG_TABLE_NAME = 'refunds'
        UNION SELECT 'customers', r.cust FROM r
    )
    SELECT array_agg(u.t), array_agg(u.i) INTO v_units, v_ids FROM u WHERE u.i IS NOT NULL;
    IF TG_TABLE_NAME = 'customers' THEN
        -- a name now shared, or no longer shared, changes the namesakes' contacts too
        SELECT coalesce(v_units, '{}') || array_agg('customers'::text), coalesce(v_ids, '{}') || array_agg(c.id)
          INTO v_units, v_ids
          FROM (SELECT DISTINCT (x ->> 'source_id')::bigint AS src,
                       lower(billing._push_display_name(x ->> 'organization', x ->> 'name')) AS nm
                  FROM jsonb_array_elements(v_rows) x) n
          JOIN billing.sources s ON s.id = n.src AND s.options ? 'push_to'
          JOIN billing.customers c ON c.source_id = n.src
           AND lower(billing._push_display_name(c.organization, c.name)) = n.nm;
    END IF;
    IF v_units IS NOT NULL THEN
        PERFORM billing._push_queue(v_units, v_ids);
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION billing._push_capture() IS 'Statement trigger: queues the push units (statement, invoice, credit note, refund, customer and its namesakes) a statement touched, for sources with option push_to.';

-- Finding namesakes must not read every customer of a source.
CREATE INDEX customers_push_name ON billing.customers (source_id, lower(billing._push_display_name(organization, name)));
COMMENT ON INDEX billing.customers_push_name IS 'Customers of a source by the name they get in Xero (namesakes get unique contact names).';

CREATE FUNCTION billing._push_unit_of(local_table text, local_id bigint) RETURNS TABLE (unit_table text, unit_id bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT $1, $2 WHERE $1 IN ('statements', 'invoices', 'refunds', 'credit_notes', 'customers')
    UNION ALL
    SELECT CASE billing._push_mode(p.source_id) WHEN 'statements' THEN 'statements' ELSE 'invoices' END,
           CASE billing._push_mode(p.source_id) WHEN 'statements' THEN i.statement_id ELSE i.id END
      FROM billing.payments p JOIN billing.invoices i ON i.id = p.invoice_id WHERE $1 = 'payments' AND p.id = $2
    UNION ALL
    SELECT 'credit_notes', a.credit_note_id FROM billing.credit_note_allocations a WHERE $1 = 'credit_note_allocations' AND a.id = $2
$fn$;
COMMENT ON FUNCTION billing._push_unit_of(text, bigint) IS 'The unit whose build makes an outbox document, from the document''s local record.';

-- A mapping changed: every document not sent yet is rebuilt (held ones may go, pending ones change).
CREATE FUNCTION billing._push_capture_maps() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    PERFORM billing._push_queue(array_agg(u.unit_table), array_agg(u.unit_id))
       FROM (SELECT DISTINCT u.unit_table, u.unit_id
               FROM billing.outbox o, LATERAL billing._push_unit_of(o.local_table, o.local_id) u
              WHERE o.state IN ('pending', 'held', 'failed')) u;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION billing._push_capture_maps() IS 'Statement trigger: a change of billing.accounting_maps queues every unit with a document not sent yet.';

-- At commit: every queued unit is built and merged (statements and invoices before the credit notes
-- and refunds that may refer to them), then dependencies are linked and alerts raised.
CREATE FUNCTION billing._push_flush() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_t text[];
    v_i bigint[];
    v_origins bigint[] := '{}';
    v_ids bigint[] := '{}';
BEGIN
    WITH gone AS (DELETE FROM billing._push_dirty RETURNING *)
    SELECT array_agg(g.unit_table ORDER BY k.o, g.unit_id), array_agg(g.unit_id ORDER BY k.o, g.unit_id)
      INTO v_t, v_i
      FROM gone g, LATERAL (SELECT CASE g.unit_table WHEN 'customers' THEN 0 WHEN 'statements' THEN 1 WHEN 'invoices' THEN 1
                                                      WHEN 'credit_notes' THEN 2 ELSE 3 END AS o) k;
    DELETE FROM billing._push_pending;
    FOR k IN 1 .. coalesce(cardinality(v_t), 0) LOOP
        v_ids := v_ids || billing._push_apply(v_t[k], v_i[k]);
        v_origins := v_origins || billing._push_origin(v_t[k], v_i[k]);
    END LOOP;
    v_origins := ARRAY(SELECT DISTINCT x FROM unnest(v_origins) x WHERE x IS NOT NULL);
    -- a tax rate mapped meanwhile is not created any more
    DELETE FROM billing.outbox o
     WHERE o.doc_kind = 'tax_rate' AND o.state IN ('pending', 'held') AND o.attempts = 0
       AND o.origin_source_id = ANY (v_origins)
       AND billing._push_map(o.origin_source_id, 'tax_rate', o.natural_key) IS NOT NULL;
    PERFORM billing._push_link(v_ids);
    PERFORM billing._push_alerts(v_origins);
    RETURN coalesce(cardinality(v_t), 0);
END
$fn$;
COMMENT ON FUNCTION billing._push_flush() IS 'Builds the documents of every queued unit into the outbox, links their dependencies and raises or resolves push alerts; returns how many units it built. Commits call it.';

CREATE FUNCTION billing._push_at_commit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    PERFORM billing._push_flush();
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION billing._push_at_commit() IS 'Deferred trigger: builds the push documents this transaction queued, just before it commits (so they commit with the change, or not at all).';
CREATE CONSTRAINT TRIGGER push_pending_build AFTER INSERT ON billing._push_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing._push_at_commit();

DO $triggers$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['statements', 'invoices', 'invoice_lines', 'payments', 'refunds', 'credit_notes',
                             'credit_note_lines', 'credit_note_allocations', 'customers'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER INSERT ON billing.%I REFERENCING NEW TABLE AS new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION billing._push_capture()', t || '_push_ins', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER UPDATE ON billing.%I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION billing._push_capture()', t || '_push_upd', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER DELETE ON billing.%I REFERENCING OLD TABLE AS old_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION billing._push_capture()', t || '_push_del', t);
    END LOOP;
END
$triggers$;
CREATE TRIGGER accounting_maps_push AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billing.accounting_maps
    FOR EACH STATEMENT EXECUTE FUNCTION billing._push_capture_maps();

-- Statement links (legacy Advanced Billing sites) ------------------------------------------------
-- A legacy statement lists its transactions (raw -> 'transactions'[].id); an invoice line names the
-- charge it bills (raw -> 'transaction_id'). An invoice belongs to the statement that lists one of
-- its lines' transactions: invoices.statement_id is derived here from what the sync stored, in
-- whichever order statements and invoices arrive, so the connector and the store stay as they are.
CREATE INDEX statements_transactions ON billing.statements
    USING gin ((raw OPERATOR(pg_catalog.->) 'transactions') pg_catalog.jsonb_path_ops) WHERE raw OPERATOR(pg_catalog.?) 'transactions';
COMMENT ON INDEX billing.statements_transactions IS 'Legacy statements by the ids of their transactions (the invoice lines they bill).';
CREATE INDEX invoice_lines_transaction ON billing.invoice_lines ((raw OPERATOR(pg_catalog.->>) 'transaction_id'))
    WHERE raw OPERATOR(pg_catalog.?) 'transaction_id';
COMMENT ON INDEX billing.invoice_lines_transaction IS 'Advanced Billing invoice lines by the transaction they bill (their statement''s link).';

-- Links the invoices of the given lines (lines) or statements (statements) of Advanced Billing
-- sources. An invoice keeps its first link, unless a statement with a lower id lists it too (the
-- earliest statement that bills it).
CREATE FUNCTION billing._ab_link_statements(by_table text, ids bigint[]) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    n integer;
BEGIN
    WITH pairs AS (
        SELECT i.id AS inv, s.id AS st
          FROM billing.invoice_lines l
          JOIN billing.invoices i ON i.id = l.invoice_id
          JOIN billing.sources src ON src.id = i.source_id AND src.kind = 'advanced_billing'
          JOIN billing.statements s ON s.source_id = i.source_id AND s.raw ? 'transactions'
           AND (s.raw -> 'transactions') @> jsonb_build_array(jsonb_build_object('id', l.raw -> 'transaction_id'))
         WHERE by_table = 'invoice_lines' AND l.id = ANY (ids) AND l.raw ? 'transaction_id'
        UNION ALL
        SELECT i.id, s.id
          FROM billing.statements s
          JOIN billing.sources src ON src.id = s.source_id AND src.kind = 'advanced_billing'
          CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(s.raw -> 'transactions') = 'array'
                                                       THEN s.raw -> 'transactions' ELSE '[]' END) t
          JOIN billing.invoice_lines l ON (l.raw ->> 'transaction_id') = (t ->> 'id') AND l.raw ? 'transaction_id'
          JOIN billing.invoices i ON i.id = l.invoice_id AND i.source_id = s.source_id
         WHERE by_table = 'statements' AND s.id = ANY (ids) AND jsonb_typeof(t -> 'id') IN ('number', 'string')
    ), best AS (
        SELECT p.inv, min(p.st) AS st FROM pairs p GROUP BY p.inv
    ), linked AS (
        UPDATE billing.invoices i SET statement_id = b.st FROM best b
         WHERE i.id = b.inv AND (i.statement_id IS NULL OR b.st < i.statement_id)
        RETURNING 1)
    SELECT count(*) INTO n FROM linked;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION billing._ab_link_statements(text, bigint[]) IS 'Sets invoices.statement_id of Advanced Billing invoices from the legacy statement that lists one of their lines'' transactions.';

CREATE FUNCTION billing._ab_link_capture() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    -- cheap for every other source: only rows that carry a link are looked at
    IF TG_TABLE_NAME = 'statements' THEN
        PERFORM billing._ab_link_statements('statements', (SELECT array_agg(n.id) FROM new_rows n WHERE n.raw ? 'transactions'))
          WHERE EXISTS (SELECT 1 FROM new_rows n WHERE n.raw ? 'transactions');
    ELSE
        PERFORM billing._ab_link_statements('invoice_lines', (SELECT array_agg(n.id) FROM new_rows n WHERE n.raw ? 'transaction_id'))
          WHERE EXISTS (SELECT 1 FROM new_rows n WHERE n.raw ? 'transaction_id');
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION billing._ab_link_capture() IS 'Statement trigger: links the invoices of new or changed legacy statements, or of new invoice lines, to their statement.';
CREATE TRIGGER statements_ab_link_ins AFTER INSERT ON billing.statements REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION billing._ab_link_capture();
CREATE TRIGGER statements_ab_link_upd AFTER UPDATE ON billing.statements REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION billing._ab_link_capture();
CREATE TRIGGER invoice_lines_ab_link AFTER INSERT ON billing.invoice_lines REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION billing._ab_link_capture();
REVOKE ALL ON FUNCTION billing._ab_link_statements(text, bigint[]), billing._ab_link_capture() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billing._ab_link_statements(text, bigint[]), billing._ab_link_capture() TO billing_admin;

-- Public entry points -----------------------------------------------------------------------------

CREATE FUNCTION billing.push_enqueue(source text, since date DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_id bigint := billing._source_id(source);
    v_mode text := billing._push_mode(v_id);
BEGIN
    IF billing._push_target(v_id) IS NULL THEN
        RAISE EXCEPTION 'source "%" has no option push_to naming a xero source', source
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'UPDATE billing.sources SET options = options || ''{"push_to": "<xero source>"}'' WHERE name = ...';
    END IF;
    PERFORM billing._push_queue(array_agg(u.t), array_agg(u.i)) FROM (
        SELECT 'statements' AS t, s.id AS i FROM billing.statements s
         WHERE v_mode = 'statements' AND s.source_id = v_id AND (since IS NULL OR s.closed_at >= since)
        UNION ALL SELECT 'invoices', i.id FROM billing.invoices i
         WHERE v_mode = 'invoices' AND i.source_id = v_id AND (since IS NULL OR i.issue_date >= since)
        UNION ALL SELECT 'credit_notes', c.id FROM billing.credit_notes c
         WHERE v_mode = 'invoices' AND c.source_id = v_id AND (since IS NULL OR c.issue_date >= since)
        UNION ALL SELECT 'refunds', r.id FROM billing.refunds r
         WHERE r.source_id = v_id AND (since IS NULL OR r.refund_date >= since)) u;
    RETURN billing._push_flush();
END
$fn$;
COMMENT ON FUNCTION billing.push_enqueue(text, date) IS 'Builds the Xero documents of a source''s existing statements or invoices, credit notes and refunds (since a date, or all) into the outbox now; returns how many units it built. Changes are enqueued automatically; this is for history and after a fix.';

CREATE FUNCTION billing._push_requeue(outbox_id bigint) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    UPDATE billing.outbox o SET rebuild = false WHERE o.id = outbox_id;
    PERFORM billing._push_queue(array_agg(u.unit_table), array_agg(u.unit_id))
       FROM billing.outbox o, LATERAL billing._push_unit_of(o.local_table, o.local_id) u WHERE o.id = outbox_id;
    RETURN billing._push_flush();
END
$fn$;
COMMENT ON FUNCTION billing._push_requeue(bigint) IS 'Rebuilds the unit of one outbox document now; the driver calls it for a document marked rebuild once its outcome is known.';

REVOKE ALL ON billing._push_dirty, billing._push_pending FROM PUBLIC;
REVOKE ALL ON FUNCTION billing._push_check_options(), billing._push_target(bigint), billing._push_mode(bigint),
    billing._push_map(bigint, text, text), billing._push_contact_number(bigint), billing._push_display_name(text, text),
    billing._push_ref(text, text), billing._push_contact(bigint),
    billing._push_items(bigint, billing._push_line[], integer, boolean), billing._push_tax_rate(bigint, text, billing._push_line[]),
    billing._push_tolerance(integer), billing._push_invoice_lines(text, bigint), billing._push_build_document(text, bigint),
    billing._push_build_refund(bigint), billing._push_build_credit_note(bigint), billing._push_build(text, bigint),
    billing._push_raise(bigint, text, text, text, text, text), billing._push_hold_advice(bigint, text),
    billing._push_apply(text, bigint), billing._push_origin(text, bigint), billing._push_key(bigint, text, text, integer),
    billing._push_link(bigint[]), billing._push_alerts(bigint[]), billing._push_queue(text[], bigint[]),
    billing._push_capture(), billing._push_rows_of(text, jsonb), billing._push_capture_maps(),
    billing._push_unit_of(text, bigint), billing._push_flush(), billing._push_at_commit(),
    billing.push_enqueue(text, date), billing._push_requeue(bigint) FROM PUBLIC;
-- Whoever changes billing data (an admin, a sync, a manual load) builds its documents in the same
-- transaction, so admins write the outbox and run the builders; the push driver updates the states.
GRANT SELECT, INSERT, UPDATE, DELETE ON billing.outbox, billing._push_dirty, billing._push_pending TO billing_admin;
GRANT EXECUTE ON FUNCTION billing._push_check_options(), billing._push_target(bigint), billing._push_mode(bigint),
    billing._push_map(bigint, text, text), billing._push_contact_number(bigint), billing._push_display_name(text, text),
    billing._push_ref(text, text), billing._push_contact(bigint),
    billing._push_items(bigint, billing._push_line[], integer, boolean), billing._push_tax_rate(bigint, text, billing._push_line[]),
    billing._push_tolerance(integer), billing._push_invoice_lines(text, bigint), billing._push_build_document(text, bigint),
    billing._push_build_refund(bigint), billing._push_build_credit_note(bigint), billing._push_build(text, bigint),
    billing._push_raise(bigint, text, text, text, text, text), billing._push_hold_advice(bigint, text),
    billing._push_apply(text, bigint), billing._push_origin(text, bigint), billing._push_key(bigint, text, text, integer),
    billing._push_link(bigint[]), billing._push_alerts(bigint[]), billing._push_queue(text[], bigint[]),
    billing._push_capture(), billing._push_rows_of(text, jsonb), billing._push_capture_maps(),
    billing._push_unit_of(text, bigint), billing._push_flush(), billing._push_at_commit(),
    billing.push_enqueue(text, date), billing._push_requeue(bigint) TO billing_admin;
