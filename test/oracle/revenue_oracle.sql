-- The revenue oracle: domain.md rules C2-C8 as set-based SQL, the formulation pg_billing 0.2.0
-- shipped beside its C engine. The extension computes revenue with the C engine only
-- (src/engines/); tests load this file into the schema revenue_oracle and compare the engine's
-- stored results with what revenue_oracle.refresh_revenue() writes into the same tables.
--
-- Load with \ir (psql); it replaces an earlier copy. It reads the extension's tables and its two
-- line views (billing._revenue_invoice_lines, billing._revenue_credit_lines), and writes
-- billing._revenue_monthly, billing._refund_effects and billing._mrr_movements, so the public
-- relations then show the oracle's figures until the next refresh by the engine.
--
-- Two changes from 0.2.0, where the formulation was wrong: a refund applies rule C2a against its
-- invoice only when the invoice is the same customer's; a refund naming another customer's invoice
-- is contra revenue in its month, like a refund without an invoice (0.2.0 also wrote effects for
-- customers that were not being refreshed). And a period across year 1 has the months it touches
-- (0.2.0 counted months with date_part('year'), which has no year 0). See docs/revenue-engine.md.
DROP SCHEMA IF EXISTS revenue_oracle CASCADE;
CREATE SCHEMA revenue_oracle;

CREATE VIEW revenue_oracle.lines AS
SELECT * FROM billing._revenue_invoice_lines
UNION ALL
SELECT * FROM billing._revenue_credit_lines;

-- One row per line and calendar month touched, with that month's recognised amount (rule C2).
-- Each month is the difference of two cumulative roundings, so a line sums exactly to its amount.
CREATE VIEW revenue_oracle.schedule AS
SELECT l.customer_id, l.doc_kind, l.doc_id, l.line_id, l.currency, l.amount AS line_amount, m.month,
       CASE
         WHEN b.days = 0 THEN l.amount
         -- the last month's cumulative is the amount itself, so sub-cent amounts also sum exactly
         WHEN m.k = b.months THEN
              l.amount - CASE WHEN (SELECT billing._setting('recognition')) = 'monthly_even'
                              THEN round(l.amount * (m.k - 1) / b.months, 2)
                              ELSE round(l.amount * GREATEST(m.month - l.period_start, 0) / b.days, 2) END
         WHEN (SELECT billing._setting('recognition')) = 'monthly_even' THEN
              round(l.amount * m.k / b.months, 2) - round(l.amount * (m.k - 1) / b.months, 2)
         ELSE round(l.amount * (LEAST(l.period_end, m.next_month) - l.period_start) / b.days, 2)
            - round(l.amount * GREATEST(m.month - l.period_start, 0) / b.days, 2)
       END AS amount
FROM revenue_oracle.lines l
CROSS JOIN LATERAL (
    SELECT date_trunc('month', l.period_start::timestamp)::date AS first_month,
           l.period_end - l.period_start AS days,
           -- months from the first to the last month touched: age() of two month starts is whole
           -- years and months (date_part('year') skips year 0, which 0.2.0 stumbled on)
           (SELECT (date_part('year', a) * 12 + date_part('month', a))::integer + 1
              FROM age(date_trunc('month', GREATEST(l.period_end - 1, l.period_start)::timestamp),
                       date_trunc('month', l.period_start::timestamp)) a) AS months
) b
CROSS JOIN LATERAL (
    SELECT g.k, (b.first_month + make_interval(months => g.k - 1))::date AS month,
           (b.first_month + make_interval(months => g.k))::date AS next_month
    FROM generate_series(1, b.months) g(k)
) m;

-- MRR of a line at a month-end snapshot (rules C4, C5, C7): one row per line and snapshot it counts in.
CREATE VIEW revenue_oracle.mrr_lines AS
SELECT l.customer_id, l.doc_kind, l.doc_id, l.line_id, l.currency, l.period_start, s.month, s.snapshot,
       CASE
         WHEN l.full_period_amount IS NOT NULL THEN l.full_period_amount / l.interval_months
         WHEN (l.period_start + make_interval(months => l.interval_months))::date = l.period_end
           OR (l.period_end - make_interval(months => l.interval_months))::date = l.period_start
           THEN l.amount / l.interval_months
         ELSE l.amount * (l.period_end - (l.period_end - make_interval(months => l.interval_months))::date)
              / (l.period_end - l.period_start) / l.interval_months
       END AS mrr
FROM revenue_oracle.lines l
CROSS JOIN LATERAL (
    SELECT g.m::date AS month, (g.m + interval '1 month' - interval '1 day')::date AS snapshot
    FROM generate_series(date_trunc('month', l.period_start::timestamp),
                         date_trunc('month', (l.period_end - 1)::timestamp), interval '1 month') g(m)
) s
WHERE l.recurring AND l.kind NOT IN ('usage', 'one_time') AND l.amount <> 0
  AND l.period_end > l.period_start AND s.snapshot < l.period_end
  AND NOT (l.due_date IS NOT NULL AND s.snapshot - l.due_date > (SELECT billing._setting('past_due_days')::integer)
           AND (l.paid_on IS NULL OR l.paid_on > s.snapshot));

-- Rule C8: the latest rate on or before a date (direct, else inverse); raises when there is none.
CREATE FUNCTION revenue_oracle.fx_rate(from_currency text, to_currency text, on_date date) RETURNS numeric
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    v_rate numeric;
BEGIN
    IF from_currency = to_currency THEN
        RETURN 1;
    END IF;
    SELECT f.rate INTO v_rate FROM billing.fx_rates f
     WHERE f.from_currency = fx_rate.from_currency AND f.to_currency = fx_rate.to_currency
       AND f.rate_date <= on_date
     ORDER BY f.rate_date DESC LIMIT 1;
    IF v_rate IS NULL THEN
        SELECT 1 / f.rate INTO v_rate FROM billing.fx_rates f
         WHERE f.from_currency = fx_rate.to_currency AND f.to_currency = fx_rate.from_currency
           AND f.rate_date <= on_date
         ORDER BY f.rate_date DESC LIMIT 1;
    END IF;
    IF v_rate IS NULL THEN
        RAISE EXCEPTION 'no exchange rate from % to % on or before %', from_currency, to_currency, on_date
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_rate;
END
$fn$;

CREATE FUNCTION revenue_oracle.refund_has_period_lines(p_credit_note_id bigint) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT p_credit_note_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM billing.credit_note_lines l JOIN billing.credit_notes c ON c.id = l.credit_note_id
         WHERE l.credit_note_id = p_credit_note_id AND l.period_start IS NOT NULL
           AND c.status NOT IN ('draft', 'voided') AND c.deleted_at IS NULL)
$fn$;

-- Rule C2a: the cash refunds of one invoice by its own customer, applied in date order against its
-- recognition schedule; each refund sees the schedule as the earlier ones left it.
CREATE FUNCTION revenue_oracle.invoice_refund_effects(p_invoice_id bigint) RETURNS SETOF billing._refund_effects
LANGUAGE plpgsql STABLE AS $fn$
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
      FROM (SELECT sc.month, sum(sc.amount) AS amount FROM revenue_oracle.schedule sc
             WHERE sc.doc_kind = 'invoice' AND sc.doc_id = p_invoice_id GROUP BY sc.month) s;
    SELECT coalesce(sum(l.amount), 0), coalesce(sum(l.amount + l.tax), 0) INTO v_net, v_gross
      FROM revenue_oracle.lines l WHERE l.doc_kind = 'invoice' AND l.doc_id = p_invoice_id;
    v_months := coalesce(v_months, '{}');
    v_amounts := coalesce(v_amounts, '{}');
    FOR r IN
        SELECT f.id, f.customer_id, f.currency, f.amount, f.refund_date
          FROM billing.refunds f JOIN billing.invoices i ON i.id = f.invoice_id AND i.customer_id = f.customer_id
         WHERE f.invoice_id = p_invoice_id AND f.deleted_at IS NULL
           AND NOT revenue_oracle.refund_has_period_lines(f.credit_note_id)
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

CREATE FUNCTION revenue_oracle.compute_refunds(p_txid bigint) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO billing._refund_effects
    SELECT e.*
      FROM (SELECT DISTINCT f.invoice_id FROM billing.refunds f
              JOIN billing._revenue_work w ON w.txid = p_txid AND w.customer_id = f.customer_id
              JOIN billing.invoices i ON i.id = f.invoice_id AND i.customer_id = f.customer_id
             WHERE f.deleted_at IS NULL AND i.status NOT IN ('draft', 'voided', 'canceled') AND i.deleted_at IS NULL) inv
     CROSS JOIN LATERAL revenue_oracle.invoice_refund_effects(inv.invoice_id) e;
    -- a refund tied to no invoice (or to another customer's) has no schedule to cap it: all of it is
    -- contra revenue in its month
    INSERT INTO billing._refund_effects (customer_id, currency, invoice_id, refund_id, month, contra)
    SELECT f.customer_id, f.currency, f.invoice_id, f.id, date_trunc('month', f.refund_date::timestamp)::date, f.amount
      FROM billing.refunds f
      JOIN billing._revenue_work w ON w.txid = p_txid AND w.customer_id = f.customer_id
     WHERE f.deleted_at IS NULL AND NOT revenue_oracle.refund_has_period_lines(f.credit_note_id)
       AND (f.invoice_id IS NULL
            OR EXISTS (SELECT 1 FROM billing.invoices i
                        WHERE i.id = f.invoice_id AND i.customer_id <> f.customer_id
                          AND i.status NOT IN ('draft', 'voided', 'canceled') AND i.deleted_at IS NULL));
END
$fn$;

-- Monthly revenue over each customer and currency's month range: from its first line, invoice or
-- refund to the month holding its last period end (or later document), every month in between.
CREATE FUNCTION revenue_oracle.compute_monthly(p_txid bigint) RETURNS void LANGUAGE sql AS $fn$
    WITH w AS (SELECT customer_id FROM billing._revenue_work WHERE txid = p_txid),
    lines AS (SELECT l.* FROM revenue_oracle.lines l JOIN w USING (customer_id)),
    sched AS (SELECT s.customer_id, s.currency, s.month, sum(s.amount) AS rec
                FROM revenue_oracle.schedule s JOIN w USING (customer_id) GROUP BY 1, 2, 3),
    billed AS (SELECT customer_id, currency, date_trunc('month', issue_date::timestamp)::date AS month, sum(amount) AS billed,
                      sum(GREATEST(amount + tax, 0)) AS ar_debit, sum(GREATEST(-(amount + tax), 0)) AS ar_credit,
                      sum(GREATEST(-amount, 0)) AS deferred_debit, sum(GREATEST(amount, 0)) AS deferred_credit,
                      sum(GREATEST(-tax, 0)) AS tax_debit, sum(GREATEST(tax, 0)) AS tax_credit
                 FROM lines GROUP BY 1, 2, 3),
    eff AS (SELECT e.customer_id, e.currency, e.month, sum(e.contra) AS contra, sum(e.excess) AS excess,
                   sum(e.adjust) AS adjust
              FROM billing._refund_effects e JOIN w USING (customer_id) GROUP BY 1, 2, 3),
    month_range AS (SELECT customer_id, currency, min(month) AS first_month, max(month) AS last_month
              FROM (SELECT customer_id, currency, month FROM sched
                    UNION ALL SELECT customer_id, currency, month FROM billed
                    UNION ALL SELECT customer_id, currency, month FROM eff
                    UNION ALL SELECT customer_id, currency, date_trunc('month', period_end::timestamp)::date FROM lines) x
             GROUP BY 1, 2),
    spine AS (SELECT r.customer_id, r.currency, g.m::date AS month
                FROM month_range r CROSS JOIN LATERAL generate_series(r.first_month::timestamp, r.last_month::timestamp, interval '1 month') g(m)),
    facts AS (SELECT sp.customer_id, sp.currency, sp.month,
                     coalesce(s.rec, 0) + coalesce(e.adjust, 0) AS line_rec, coalesce(e.contra, 0) AS contra,
                     coalesce(e.excess, 0) AS excess, coalesce(b.billed, 0) AS billed,
                     coalesce(b.ar_debit, 0) AS ar_debit, coalesce(b.ar_credit, 0) AS ar_credit,
                     coalesce(b.deferred_debit, 0) AS deferred_debit, coalesce(b.deferred_credit, 0) AS deferred_credit,
                     coalesce(b.tax_debit, 0) AS tax_debit, coalesce(b.tax_credit, 0) AS tax_credit
                FROM spine sp
                LEFT JOIN sched s USING (customer_id, currency, month)
                LEFT JOIN billed b USING (customer_id, currency, month)
                LEFT JOIN eff e USING (customer_id, currency, month)),
    balances AS (SELECT f.*, sum(f.billed - f.line_rec - f.excess)
                          OVER (PARTITION BY f.customer_id, f.currency ORDER BY f.month) AS balance
              FROM facts f),
    with_unbilled AS (SELECT b.*, GREATEST(-b.balance, 0)
                         - coalesce(lag(GREATEST(-b.balance, 0)) OVER (PARTITION BY b.customer_id, b.currency ORDER BY b.month), 0)
                         AS unbilled_change
               FROM balances b),
    rep AS MATERIALIZED (SELECT NULLIF(billing._setting('reporting_currency'), '') AS rcur),
    -- MRR (rules C3-C5, C7): exact sums per snapshot, rounded once, negative shown as 0
    line_mrr AS (SELECT m.customer_id, m.currency, m.month, sum(m.mrr) AS mrr,
                  sum(m.mrr * CASE WHEN rep.rcur IS NOT NULL
                                   THEN revenue_oracle.fx_rate(m.currency, rep.rcur, m.period_start) END) AS mrr_rep
             FROM revenue_oracle.mrr_lines m JOIN w USING (customer_id) CROSS JOIN rep
            GROUP BY 1, 2, 3),
    reported AS (SELECT b.*, GREATEST(round(coalesce(lm.mrr, 0), 2), 0) AS mrr,
                   CASE WHEN rep.rcur IS NOT NULL THEN GREATEST(round(coalesce(lm.mrr_rep, 0), 2), 0) END AS mrr_rep
              FROM with_unbilled b CROSS JOIN rep LEFT JOIN line_mrr lm USING (customer_id, currency, month))
    INSERT INTO billing._revenue_monthly (customer_id, currency, month, recognized, contra, billed, deferred_end,
        unbilled_end, reporting_currency, recognized_reporting, ar_debit, ar_credit, deferred_debit, deferred_credit,
        tax_debit, tax_credit, unbilled_change, mrr, mrr_prev, mrr_reporting, mrr_reporting_prev)
    SELECT c.customer_id, c.currency, c.month, c.line_rec - c.contra, c.contra, c.billed,
           GREATEST(c.balance, 0.00), GREATEST(-c.balance, 0.00), rep.rcur,
           CASE WHEN rep.rcur IS NOT NULL THEN
                round((c.line_rec - c.contra)
                      * revenue_oracle.fx_rate(c.currency, rep.rcur, (c.month + interval '1 month' - interval '1 day')::date), 2)
           END,
           c.ar_debit, c.ar_credit, c.deferred_debit, c.deferred_credit, c.tax_debit, c.tax_credit, c.unbilled_change,
           c.mrr, coalesce(lag(c.mrr) OVER win, 0), c.mrr_rep,
           CASE WHEN rep.rcur IS NOT NULL THEN coalesce(lag(c.mrr_rep) OVER win, 0) END
      FROM reported c CROSS JOIN rep
    WINDOW win AS (PARTITION BY c.customer_id, c.currency ORDER BY c.month)
$fn$;

-- Movements use the reported values (rule C6); with a reporting currency each movement is converted
-- at the month's own effective rate and what remains of the converted change is the fx row.
CREATE FUNCTION revenue_oracle.compute_movements(p_txid bigint) RETURNS void LANGUAGE sql AS $fn$
    WITH w AS (SELECT customer_id FROM billing._revenue_work WHERE txid = p_txid),
    history AS (SELECT m.*, coalesce(bool_or(m.mrr > 0) OVER (PARTITION BY m.customer_id, m.currency ORDER BY m.month
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 2 PRECEDING), false) AS had_before
            FROM billing._revenue_monthly m JOIN w USING (customer_id)),
    classified AS (SELECT x.*,
                 CASE WHEN x.mrr_prev = 0 AND x.mrr > 0 THEN CASE WHEN x.had_before THEN 'reactivation' ELSE 'new' END
                      WHEN x.mrr_prev > 0 AND x.mrr = 0 THEN 'churn'
                      WHEN x.mrr > x.mrr_prev THEN 'expansion'
                      WHEN x.mrr < x.mrr_prev THEN 'contraction' END AS movement,
                 abs(x.mrr - x.mrr_prev) AS amount,
                 CASE WHEN x.reporting_currency IS NOT NULL THEN
                      round(abs(x.mrr - x.mrr_prev) * CASE WHEN x.mrr > 0 THEN x.mrr_reporting / x.mrr
                                                           WHEN x.mrr_prev > 0 THEN x.mrr_reporting_prev / x.mrr_prev
                                                           ELSE 0 END, 2) END AS rep_amount
            FROM history x),
    movement_rows AS (SELECT customer_id, currency, month, movement, amount, rep_amount
               FROM classified WHERE movement IS NOT NULL
             UNION ALL
             SELECT customer_id, currency, month, 'fx', NULL,
                    (mrr_reporting - mrr_reporting_prev)
                    - coalesce(CASE WHEN movement IN ('contraction', 'churn') THEN -rep_amount ELSE rep_amount END, 0)
               FROM classified
              WHERE reporting_currency IS NOT NULL
                AND (mrr_reporting - mrr_reporting_prev)
                    - coalesce(CASE WHEN movement IN ('contraction', 'churn') THEN -rep_amount ELSE rep_amount END, 0) <> 0)
    INSERT INTO billing._mrr_movements SELECT * FROM movement_rows
$fn$;

-- billing.refresh_revenue with the oracle's computation: the same queue, the same stored tables.
CREATE FUNCTION revenue_oracle.refresh_revenue(full_recompute boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SET jit = off SET work_mem = '128MB' AS $fn$
DECLARE
    v_txid bigint := txid_current();
    v_count bigint;
BEGIN
    DELETE FROM billing._revenue_pending p WHERE p.txid = v_txid;
    IF full_recompute THEN
        DELETE FROM billing._revenue_dirty;
        INSERT INTO billing._revenue_work (txid, customer_id) SELECT v_txid, c.id FROM billing.customers c;
        TRUNCATE billing._revenue_monthly, billing._refund_effects, billing._mrr_movements;
    ELSE
        WITH d AS (DELETE FROM billing._revenue_dirty RETURNING customer_id)
        INSERT INTO billing._revenue_work (txid, customer_id) SELECT v_txid, d.customer_id FROM d;
        DELETE FROM billing._revenue_monthly t USING billing._revenue_work w WHERE w.txid = v_txid AND t.customer_id = w.customer_id;
        DELETE FROM billing._refund_effects t USING billing._revenue_work w WHERE w.txid = v_txid AND t.customer_id = w.customer_id;
        DELETE FROM billing._mrr_movements t USING billing._revenue_work w WHERE w.txid = v_txid AND t.customer_id = w.customer_id;
    END IF;
    SELECT count(*) INTO v_count FROM billing._revenue_work w WHERE w.txid = v_txid;
    IF v_count > 0 THEN
        IF full_recompute THEN
            ANALYZE billing._revenue_work;
        END IF;
        PERFORM revenue_oracle.compute_refunds(v_txid);
        PERFORM revenue_oracle.compute_monthly(v_txid);
        PERFORM revenue_oracle.compute_movements(v_txid);
    END IF;
    DELETE FROM billing._revenue_work w WHERE w.txid = v_txid;
    RETURN v_count;
END
$fn$;
