-- Revenue, 4 of 7: cash refunds (rule C2a).

-- Refunds (rule C2a) -----------------------------------------------------------------------------

-- Cash refunds of one invoice, applied in date order against its recognition schedule; each refund
-- sees the schedule as the earlier ones left it.
CREATE FUNCTION billing._invoice_refund_effects(p_invoice_id bigint) RETURNS SETOF billing._refund_effects
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_months date[];
    v_amounts numeric[];
    v_net numeric;
    v_gross numeric;
    v_contra_sum numeric := 0;
    r record;
    v_row billing._refund_effects;
    v_month date;
    v_cum numeric;
    v_cum_old numeric;
    v_cum_new numeric;
    v_prev_new numeric;
    v_total numeric;
    v_remaining numeric;
    v_net_part numeric;
    v_cap numeric;
    v_excess numeric;
    v_applied numeric;
    i integer;
BEGIN
    SELECT array_agg(s.month ORDER BY s.month), array_agg(s.amount ORDER BY s.month)
      INTO v_months, v_amounts
      FROM (SELECT sc.month, sum(sc.amount) AS amount FROM billing._revenue_schedule sc
             WHERE sc.doc_kind = 'invoice' AND sc.doc_id = p_invoice_id GROUP BY sc.month) s;
    SELECT coalesce(sum(l.amount), 0), coalesce(sum(l.amount + l.tax), 0) INTO v_net, v_gross
      FROM billing._revenue_lines l WHERE l.doc_kind = 'invoice' AND l.doc_id = p_invoice_id;
    v_months := coalesce(v_months, '{}');
    v_amounts := coalesce(v_amounts, '{}');
    FOR r IN
        SELECT f.id, f.customer_id, f.currency, f.amount, f.refund_date
          FROM billing.refunds f
         WHERE f.invoice_id = p_invoice_id AND f.deleted_at IS NULL AND NOT billing._refund_has_period_lines(f.credit_note_id)
         ORDER BY f.refund_date, f.id
    LOOP
        v_month := date_trunc('month', r.refund_date::timestamp)::date;
        v_row := ROW(r.customer_id, r.currency, p_invoice_id, r.id, v_month, 0, 0, 0, 0);
        -- the refund's tax share goes back to tax payable, in the invoice's own proportion
        v_net_part := CASE WHEN v_gross <> 0 AND v_gross <> v_net THEN round(r.amount * v_net / v_gross, 2) ELSE r.amount END;
        v_row.tax := r.amount - v_net_part;
        v_cum := 0;
        v_total := 0;
        FOR i IN 1 .. coalesce(array_length(v_months, 1), 0) LOOP
            IF v_months[i] <= v_month THEN v_cum := v_cum + v_amounts[i]; END IF;
            v_total := v_total + v_amounts[i];
        END LOOP;
        v_cap := GREATEST(v_cum - v_contra_sum, 0);
        v_row.contra := LEAST(v_net_part, v_cap);
        v_excess := v_net_part - v_row.contra;
        v_remaining := v_total - v_cum;
        v_applied := LEAST(v_excess, GREATEST(v_remaining, 0));
        -- what neither recognised revenue nor the deferred balance can absorb is an over-refund: contra
        v_row.contra := v_row.contra + (v_excess - v_applied);
        v_row.excess := v_applied;
        v_contra_sum := v_contra_sum + v_row.contra;
        RETURN NEXT v_row;
        IF v_applied > 0 THEN
            -- later months shrink by one factor, rounded cumulatively on the invoice's total
            v_cum_old := v_cum;
            v_prev_new := v_cum;
            FOR i IN 1 .. array_length(v_months, 1) LOOP
                CONTINUE WHEN v_months[i] <= v_month;
                v_cum_old := v_cum_old + v_amounts[i];
                v_cum_new := v_cum + round((v_cum_old - v_cum) * (v_remaining - v_applied) / v_remaining, 2);
                v_row := ROW(r.customer_id, r.currency, p_invoice_id, r.id, v_months[i], 0, 0, 0,
                             (v_cum_new - v_prev_new) - v_amounts[i]);
                v_amounts[i] := v_cum_new - v_prev_new;
                v_prev_new := v_cum_new;
                IF v_row.adjust <> 0 THEN
                    RETURN NEXT v_row;
                END IF;
            END LOOP;
        END IF;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION billing._invoice_refund_effects(bigint) IS 'Rule C2a for one invoice: contra revenue, excess and the scaled later recognition of each of its cash refunds.';

CREATE FUNCTION billing._refund_has_period_lines(p_credit_note_id bigint) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT p_credit_note_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM billing.credit_note_lines l JOIN billing.credit_notes c ON c.id = l.credit_note_id
         WHERE l.credit_note_id = p_credit_note_id AND l.period_start IS NOT NULL
           AND c.status NOT IN ('draft', 'voided') AND c.deleted_at IS NULL)
$fn$;
COMMENT ON FUNCTION billing._refund_has_period_lines(bigint) IS 'True when a refund''s credit note has lines with service periods, which then carry the revenue (rule C2a).';

CREATE FUNCTION billing._revenue_compute_refunds(p_txid bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    INSERT INTO billing._refund_effects
    SELECT e.*
      FROM (SELECT DISTINCT f.invoice_id FROM billing.refunds f
              JOIN billing._revenue_work w ON w.txid = p_txid AND w.customer_id = f.customer_id
              JOIN billing.invoices i ON i.id = f.invoice_id
             WHERE f.deleted_at IS NULL AND i.status NOT IN ('draft', 'voided', 'canceled') AND i.deleted_at IS NULL) inv
     CROSS JOIN LATERAL billing._invoice_refund_effects(inv.invoice_id) e;
    -- a refund tied to no invoice has no schedule to cap it: all of it is contra revenue in its month
    INSERT INTO billing._refund_effects (customer_id, currency, invoice_id, refund_id, month, contra)
    SELECT f.customer_id, f.currency, NULL, f.id, date_trunc('month', f.refund_date::timestamp)::date, f.amount
      FROM billing.refunds f
      JOIN billing._revenue_work w ON w.txid = p_txid AND w.customer_id = f.customer_id
     WHERE f.invoice_id IS NULL AND f.deleted_at IS NULL AND NOT billing._refund_has_period_lines(f.credit_note_id);
END
$fn$;
COMMENT ON FUNCTION billing._revenue_compute_refunds(bigint) IS 'Writes the rule C2a effects of the cash refunds of the customers being refreshed.';
