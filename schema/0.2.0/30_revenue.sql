-- Revenue engine: recognised, deferred and unbilled revenue, MRR/ARR and movements, the consolidated
-- journal (domain.md sections 2 and 3). Results are stored per customer in internal tables and kept
-- current at commit: statement triggers queue the customers a statement touched, and a deferred
-- trigger recomputes exactly those customers before the transaction commits.

-- C3: a month-end snapshot is not knowable before the month ends. Stored results keep every month
-- (they never go stale when a month turns); the MRR relations show months through this setting.
INSERT INTO billing._setting_defaults (key, value, description) VALUES
    ('mrr_through', 'last_complete_month', 'Last month the MRR relations (customer_mrr, mrr_movements, mrr_summary) report: last_complete_month (the month before today''s in the reporting time zone), all, or a month as YYYY-MM.');

-- Rules the revenue engine relies on, checked where the data is written so that a bad row is refused
-- with its name instead of failing the commit-time refresh. A credit line without an interval got
-- MRR in one engine and none in the other; an infinite date has no month to be recognised in.
ALTER TABLE billing.credit_note_lines
    ADD CONSTRAINT credit_note_lines_recurring_has_interval CHECK (NOT recurring OR interval_months IS NOT NULL),
    ADD CONSTRAINT credit_note_lines_dates_finite CHECK (isfinite(period_start) AND isfinite(period_end));
ALTER TABLE billing.invoice_lines
    ADD CONSTRAINT invoice_lines_dates_finite CHECK (isfinite(period_start) AND isfinite(period_end));
ALTER TABLE billing.invoices
    ADD CONSTRAINT invoices_dates_finite CHECK (isfinite(issue_date) AND isfinite(due_date) AND isfinite(paid_date)
                                                AND isfinite(period_start) AND isfinite(period_end));
ALTER TABLE billing.credit_notes
    ADD CONSTRAINT credit_notes_dates_finite CHECK (isfinite(issue_date) AND isfinite(applied_date));
ALTER TABLE billing.payments
    ADD CONSTRAINT payments_dates_finite CHECK (isfinite(payment_date));
ALTER TABLE billing.refunds
    ADD CONSTRAINT refunds_dates_finite CHECK (isfinite(refund_date));
ALTER TABLE billing.fx_rates
    ADD CONSTRAINT fx_rates_dates_finite CHECK (isfinite(rate_date));

-- Documents that count: voided and canceled documents count nowhere, drafts are not issued yet.
-- Credit-note lines are negated here, so everything downstream sees one signed stream of lines.
CREATE VIEW billing._revenue_invoice_lines AS
SELECT i.customer_id, 'invoice'::text AS doc_kind, i.id AS doc_id, l.id AS line_id, l.kind, l.currency,
       l.amount, l.tax, l.period_start, l.period_end, l.recurring, l.interval_months, l.full_period_amount,
       -- C7: an invoice without a due date is due on receipt; both engines read it from here
       i.issue_date, coalesce(i.due_date, i.issue_date) AS due_date,
       -- paid_on: the day the invoice stopped being unpaid; -infinity when paid on an unknown day
       CASE WHEN i.paid_date IS NOT NULL THEN i.paid_date
            WHEN i.status = 'paid' OR i.due <= 0 THEN '-infinity'::date END AS paid_on
FROM billing.invoices i
JOIN billing.invoice_lines l ON l.invoice_id = i.id
WHERE i.status NOT IN ('draft', 'voided', 'canceled') AND i.deleted_at IS NULL
  -- a bill from a supplier is a cost, not revenue
  AND i.direction = 'receivable';
COMMENT ON VIEW billing._revenue_invoice_lines IS 'Invoice lines that count for revenue.';

CREATE VIEW billing._revenue_credit_lines AS
SELECT c.customer_id, 'credit_note'::text AS doc_kind, c.id AS doc_id, l.id AS line_id, l.kind, l.currency,
       -l.amount AS amount, -l.tax AS tax, coalesce(l.period_start, c.issue_date) AS period_start,
       coalesce(l.period_end, c.issue_date) AS period_end, l.recurring, l.interval_months,
       NULL::numeric AS full_period_amount, c.issue_date, NULL::date AS due_date, '-infinity'::date AS paid_on
FROM billing.credit_notes c
JOIN billing.credit_note_lines l ON l.credit_note_id = c.id
WHERE c.status NOT IN ('draft', 'voided') AND c.deleted_at IS NULL AND c.direction = 'receivable';
COMMENT ON VIEW billing._revenue_credit_lines IS 'Credit-note lines that count for revenue, negated.';

-- Two views and their union: a join of a few customers with one branch plans as index lookups,
-- which the planner does not do through a UNION ALL of joins.
CREATE VIEW billing._revenue_lines AS
SELECT * FROM billing._revenue_invoice_lines
UNION ALL
SELECT * FROM billing._revenue_credit_lines;
COMMENT ON VIEW billing._revenue_lines IS 'Every line that counts for revenue, invoice lines and negated credit-note lines alike.';

-- One row per line and calendar month touched, with that month's recognised amount (rule C2).
-- Each month is the difference of two cumulative roundings, so a line sums exactly to its amount.
CREATE VIEW billing._revenue_schedule AS
SELECT l.customer_id, l.doc_kind, l.doc_id, l.line_id, l.currency, l.amount AS line_amount, m.month,
       CASE
         WHEN b.days = 0 THEN l.amount
         -- a scalar subquery reads the setting once per query, not once per row
         -- the last month's cumulative is the amount itself, so sub-cent amounts also sum exactly
         WHEN m.k = b.months THEN
              l.amount - CASE WHEN (SELECT billing._setting('recognition')) = 'monthly_even'
                              THEN pg_catalog.round(l.amount * (m.k - 1) / b.months, 2)
                              ELSE pg_catalog.round(l.amount * GREATEST(m.month - l.period_start, 0) / b.days, 2) END
         WHEN (SELECT billing._setting('recognition')) = 'monthly_even' THEN
              pg_catalog.round(l.amount * m.k / b.months, 2) - pg_catalog.round(l.amount * (m.k - 1) / b.months, 2)
         ELSE pg_catalog.round(l.amount * (LEAST(l.period_end, m.next_month) - l.period_start) / b.days, 2)
            - pg_catalog.round(l.amount * GREATEST(m.month - l.period_start, 0) / b.days, 2)
       END AS amount
FROM billing._revenue_lines l
CROSS JOIN LATERAL (
    -- timestamp, not timestamptz: month arithmetic on dates must not depend on the session's time zone
    SELECT pg_catalog.date_trunc('month', l.period_start::timestamp)::date AS first_month,
           l.period_end - l.period_start AS days,
           (pg_catalog.date_part('year', GREATEST(l.period_end - 1, l.period_start))::integer * 12
            + pg_catalog.date_part('month', GREATEST(l.period_end - 1, l.period_start))::integer)
           - (pg_catalog.date_part('year', l.period_start)::integer * 12
              + pg_catalog.date_part('month', l.period_start)::integer) + 1 AS months
) b
CROSS JOIN LATERAL (
    SELECT g.k, (b.first_month + pg_catalog.make_interval(months => g.k - 1))::date AS month,
           (b.first_month + pg_catalog.make_interval(months => g.k))::date AS next_month
    FROM pg_catalog.generate_series(1, b.months) g(k)
) m;
COMMENT ON VIEW billing._revenue_schedule IS 'Recognised amount of every line in every month it touches (daily or monthly_even, cumulative rounding).';

-- MRR of a line at a month-end snapshot (rules C4, C5, C7): one row per line and snapshot it counts in.
CREATE VIEW billing._mrr_lines AS
SELECT l.customer_id, l.doc_kind, l.doc_id, l.line_id, l.currency, l.period_start, s.month, s.snapshot,
       CASE
         WHEN l.full_period_amount IS NOT NULL THEN l.full_period_amount / l.interval_months
         WHEN (l.period_start + pg_catalog.make_interval(months => l.interval_months))::date = l.period_end
           OR (l.period_end - pg_catalog.make_interval(months => l.interval_months))::date = l.period_start
           THEN l.amount / l.interval_months
         ELSE l.amount * (l.period_end - (l.period_end - pg_catalog.make_interval(months => l.interval_months))::date)
              / (l.period_end - l.period_start) / l.interval_months
       END AS mrr
FROM billing._revenue_lines l
CROSS JOIN LATERAL (
    SELECT g.m::date AS month, (g.m + interval '1 month' - interval '1 day')::date AS snapshot
    FROM pg_catalog.generate_series(pg_catalog.date_trunc('month', l.period_start::timestamp),
                                    pg_catalog.date_trunc('month', (l.period_end - 1)::timestamp), interval '1 month') g(m)
) s
WHERE l.recurring AND l.kind NOT IN ('usage', 'one_time') AND l.amount <> 0
  AND l.period_end > l.period_start AND s.snapshot < l.period_end
  -- C7: unpaid more than past_due_days after the due date, as of the snapshot day
  AND NOT (l.due_date IS NOT NULL AND s.snapshot - l.due_date > (SELECT billing._setting('past_due_days')::integer)
           AND (l.paid_on IS NULL OR l.paid_on > s.snapshot));
COMMENT ON VIEW billing._mrr_lines IS 'Monthly recurring revenue of each counting line at each month-end snapshot, exact (not rounded).';

-- Stored results ---------------------------------------------------------------------------------

CREATE TABLE billing._revenue_dirty (
    customer_id bigint PRIMARY KEY
);
COMMENT ON TABLE billing._revenue_dirty IS 'Customers whose stored revenue results are out of date; emptied by billing.refresh_revenue().';

CREATE TABLE billing._revenue_pending (
    txid bigint PRIMARY KEY
);
COMMENT ON TABLE billing._revenue_pending IS 'One row per transaction that queued customers: its insert arms the commit-time refresh.';

CREATE UNLOGGED TABLE billing._revenue_work (
    txid        bigint NOT NULL,
    customer_id bigint NOT NULL,
    PRIMARY KEY (txid, customer_id)
);
COMMENT ON TABLE billing._revenue_work IS 'Customers being recomputed by a running refresh, keyed by its transaction.';

CREATE TABLE billing._revenue_monthly (
    customer_id          bigint NOT NULL,
    currency             text NOT NULL,
    month                date NOT NULL,
    recognized           numeric NOT NULL,
    contra               numeric NOT NULL,
    billed               numeric NOT NULL,
    deferred_end         numeric NOT NULL,
    unbilled_end         numeric NOT NULL,
    reporting_currency   text,
    recognized_reporting numeric,
    -- journal amounts of the documents issued in the month, each line split by its own sign
    ar_debit             numeric NOT NULL,
    ar_credit            numeric NOT NULL,
    deferred_debit       numeric NOT NULL,
    deferred_credit      numeric NOT NULL,
    tax_debit            numeric NOT NULL,
    tax_credit           numeric NOT NULL,
    unbilled_change      numeric NOT NULL,
    -- month-end MRR as reported (rounded once, negative as 0) and the previous month's
    mrr                  numeric NOT NULL,
    mrr_prev             numeric NOT NULL,
    mrr_reporting        numeric,
    mrr_reporting_prev   numeric,
    PRIMARY KEY (customer_id, currency, month)
);
CREATE INDEX _revenue_monthly_month ON billing._revenue_monthly (month);
COMMENT ON TABLE billing._revenue_monthly IS 'Stored result behind billing.monthly_revenue and billing.customer_mrr; one row per customer, currency and month of its range.';

CREATE TABLE billing._refund_effects (
    customer_id bigint NOT NULL,
    currency    text NOT NULL,
    invoice_id  bigint,
    refund_id   bigint NOT NULL,
    month       date NOT NULL,
    contra      numeric NOT NULL DEFAULT 0,
    excess      numeric NOT NULL DEFAULT 0,
    tax         numeric NOT NULL DEFAULT 0,
    adjust      numeric NOT NULL DEFAULT 0
);
CREATE INDEX _refund_effects_customer ON billing._refund_effects (customer_id);
COMMENT ON TABLE billing._refund_effects IS 'Rule C2a per cash refund: contra revenue, excess taken off deferred revenue, tax part, and the monthly change of the refunded invoice''s later recognition.';

CREATE TABLE billing._mrr_movements (
    customer_id      bigint NOT NULL,
    currency         text NOT NULL,
    month            date NOT NULL,
    movement         text NOT NULL,
    amount           numeric,
    reporting_amount numeric,
    PRIMARY KEY (customer_id, currency, month, movement)
);
CREATE INDEX _mrr_movements_month ON billing._mrr_movements (month);
COMMENT ON TABLE billing._mrr_movements IS 'Stored result behind billing.mrr_movements; fx rows carry only a signed reporting_amount.';

-- Exchange rates (rule C8) -----------------------------------------------------------------------

CREATE FUNCTION billing._fx_rate(from_currency text, to_currency text, on_date date) RETURNS numeric
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_rate numeric;
BEGIN
    IF from_currency = to_currency THEN
        RETURN 1;
    END IF;
    SELECT f.rate INTO v_rate FROM billing.fx_rates f
     WHERE f.from_currency = _fx_rate.from_currency AND f.to_currency = _fx_rate.to_currency
       AND f.rate_date <= on_date
     ORDER BY f.rate_date DESC LIMIT 1;
    IF v_rate IS NULL THEN
        -- a rate loaded the other way round serves as well
        SELECT 1 / f.rate INTO v_rate FROM billing.fx_rates f
         WHERE f.from_currency = _fx_rate.to_currency AND f.to_currency = _fx_rate.from_currency
           AND f.rate_date <= on_date
         ORDER BY f.rate_date DESC LIMIT 1;
    END IF;
    IF v_rate IS NULL THEN
        RAISE EXCEPTION 'no exchange rate from % to % on or before %', from_currency, to_currency, on_date
            USING ERRCODE = 'no_data_found',
                  HINT = 'Load a rate into billing.fx_rates, or clear the setting with billing.set_setting(''reporting_currency'', '''').';
    END IF;
    RETURN v_rate;
END
$fn$;
COMMENT ON FUNCTION billing._fx_rate(text, text, date) IS 'The latest rate on or before a date (direct, else inverse); raises when there is none.';

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

-- Computation ------------------------------------------------------------------------------------

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

-- Monthly revenue over each customer and currency's month range: from its first line, invoice or
-- refund to the month holding its last period end (or later document), every month in between.
CREATE FUNCTION billing._revenue_compute_monthly(p_txid bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH w AS (SELECT customer_id FROM billing._revenue_work WHERE txid = p_txid),
    lines AS (SELECT l.* FROM billing._revenue_lines l JOIN w USING (customer_id)),
    sched AS (SELECT s.customer_id, s.currency, s.month, sum(s.amount) AS rec
                FROM billing._revenue_schedule s JOIN w USING (customer_id) GROUP BY 1, 2, 3),
    billed AS (SELECT customer_id, currency, date_trunc('month', issue_date::timestamp)::date AS month, sum(amount) AS billed,
                      sum(GREATEST(amount + tax, 0)) AS ar_debit, sum(GREATEST(-(amount + tax), 0)) AS ar_credit,
                      sum(GREATEST(-amount, 0)) AS deferred_debit, sum(GREATEST(amount, 0)) AS deferred_credit,
                      sum(GREATEST(-tax, 0)) AS tax_debit, sum(GREATEST(tax, 0)) AS tax_credit
                 FROM lines GROUP BY 1, 2, 3),
    eff AS (SELECT e.customer_id, e.currency, e.month, sum(e.contra) AS contra, sum(e.excess) AS excess,
                   sum(e.adjust) AS adjust
              FROM billing._refund_effects e JOIN w USING (customer_id) GROUP BY 1, 2, 3),
    rng AS (SELECT customer_id, currency, min(month) AS first_month, max(month) AS last_month
              FROM (SELECT customer_id, currency, month FROM sched
                    UNION ALL SELECT customer_id, currency, month FROM billed
                    UNION ALL SELECT customer_id, currency, month FROM eff
                    UNION ALL SELECT customer_id, currency, date_trunc('month', period_end::timestamp)::date FROM lines) x
             GROUP BY 1, 2),
    spine AS (SELECT r.customer_id, r.currency, g.m::date AS month
                FROM rng r CROSS JOIN LATERAL pg_catalog.generate_series(r.first_month::timestamp, r.last_month::timestamp, interval '1 month') g(m)),
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
    bal AS (SELECT f.*, sum(f.billed - f.line_rec - f.excess)
                          OVER (PARTITION BY f.customer_id, f.currency ORDER BY f.month) AS balance
              FROM facts f),
    bal2 AS (SELECT b.*, GREATEST(-b.balance, 0)
                         - coalesce(lag(GREATEST(-b.balance, 0)) OVER (PARTITION BY b.customer_id, b.currency ORDER BY b.month), 0)
                         AS unbilled_change
               FROM bal b),
    rep AS MATERIALIZED (SELECT NULLIF(billing._setting('reporting_currency'), '') AS rcur),
    -- MRR (rules C3-C5, C7): exact sums per snapshot, rounded once, negative shown as 0
    lm AS (SELECT m.customer_id, m.currency, m.month, sum(m.mrr) AS mrr,
                  sum(m.mrr * CASE WHEN rep.rcur IS NOT NULL
                                   THEN billing._fx_rate(m.currency, rep.rcur, m.period_start) END) AS mrr_rep
             FROM billing._mrr_lines m JOIN w USING (customer_id) CROSS JOIN rep
            GROUP BY 1, 2, 3),
    cur AS (SELECT b.*, GREATEST(round(coalesce(lm.mrr, 0), 2), 0) AS mrr,
                   CASE WHEN rep.rcur IS NOT NULL THEN GREATEST(round(coalesce(lm.mrr_rep, 0), 2), 0) END AS mrr_rep
              FROM bal2 b CROSS JOIN rep LEFT JOIN lm USING (customer_id, currency, month))
    INSERT INTO billing._revenue_monthly (customer_id, currency, month, recognized, contra, billed, deferred_end,
        unbilled_end, reporting_currency, recognized_reporting, ar_debit, ar_credit, deferred_debit, deferred_credit,
        tax_debit, tax_credit, unbilled_change, mrr, mrr_prev, mrr_reporting, mrr_reporting_prev)
    SELECT c.customer_id, c.currency, c.month, c.line_rec - c.contra, c.contra, c.billed,
           GREATEST(c.balance, 0.00), GREATEST(-c.balance, 0.00), rep.rcur,
           CASE WHEN rep.rcur IS NOT NULL THEN
                round((c.line_rec - c.contra)
                      * billing._fx_rate(c.currency, rep.rcur, (c.month + interval '1 month' - interval '1 day')::date), 2)
           END,
           c.ar_debit, c.ar_credit, c.deferred_debit, c.deferred_credit, c.tax_debit, c.tax_credit, c.unbilled_change,
           c.mrr, coalesce(lag(c.mrr) OVER win, 0), c.mrr_rep,
           CASE WHEN rep.rcur IS NOT NULL THEN coalesce(lag(c.mrr_rep) OVER win, 0) END
      FROM cur c CROSS JOIN rep
    WINDOW win AS (PARTITION BY c.customer_id, c.currency ORDER BY c.month)
$fn$;
COMMENT ON FUNCTION billing._revenue_compute_monthly(bigint) IS 'Writes recognised, billed, deferred and unbilled revenue and the reported MRR of the customers being refreshed.';

-- Movements use the reported values (rule C6); with a reporting currency each movement is converted
-- at the month's own effective rate and what remains of the converted change is the fx row.
CREATE FUNCTION billing._revenue_compute_movements(p_txid bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH w AS (SELECT customer_id FROM billing._revenue_work WHERE txid = p_txid),
    x AS (SELECT m.*, coalesce(bool_or(m.mrr > 0) OVER (PARTITION BY m.customer_id, m.currency ORDER BY m.month
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 2 PRECEDING), false) AS had_before
            FROM billing._revenue_monthly m JOIN w USING (customer_id)),
    k AS (SELECT x.*,
                 CASE WHEN x.mrr_prev = 0 AND x.mrr > 0 THEN CASE WHEN x.had_before THEN 'reactivation' ELSE 'new' END
                      WHEN x.mrr_prev > 0 AND x.mrr = 0 THEN 'churn'
                      WHEN x.mrr > x.mrr_prev THEN 'expansion'
                      WHEN x.mrr < x.mrr_prev THEN 'contraction' END AS movement,
                 abs(x.mrr - x.mrr_prev) AS amount,
                 CASE WHEN x.reporting_currency IS NOT NULL THEN
                      round(abs(x.mrr - x.mrr_prev) * CASE WHEN x.mrr > 0 THEN x.mrr_reporting / x.mrr
                                                           WHEN x.mrr_prev > 0 THEN x.mrr_reporting_prev / x.mrr_prev
                                                           ELSE 0 END, 2) END AS rep_amount
            FROM x),
    rows AS (SELECT customer_id, currency, month, movement, amount, rep_amount
               FROM k WHERE movement IS NOT NULL
             UNION ALL
             SELECT customer_id, currency, month, 'fx', NULL,
                    (mrr_reporting - mrr_reporting_prev)
                    - coalesce(CASE WHEN movement IN ('contraction', 'churn') THEN -rep_amount ELSE rep_amount END, 0)
               FROM k
              WHERE reporting_currency IS NOT NULL
                AND (mrr_reporting - mrr_reporting_prev)
                    - coalesce(CASE WHEN movement IN ('contraction', 'churn') THEN -rep_amount ELSE rep_amount END, 0) <> 0)
    INSERT INTO billing._mrr_movements SELECT * FROM rows
$fn$;
COMMENT ON FUNCTION billing._revenue_compute_movements(bigint) IS 'Writes the MRR movements (and fx effects) of the customers being refreshed.';

-- The same monthly revenue, MRR and movements from one ordered pass in C (src/engines/); used when
-- no reporting currency is set, since the C engine works in each row's own currency only.
CREATE FUNCTION billing._revenue_engine(txid bigint, monthly_even boolean, past_due_days integer)
RETURNS TABLE (customer_id bigint, currency text, month date, recognized numeric, contra numeric, billed numeric,
               deferred_end numeric, unbilled_end numeric, mrr numeric, mrr_prev numeric, movement text,
               movement_amount numeric, ar_debit numeric, ar_credit numeric, deferred_debit numeric,
               deferred_credit numeric, tax_debit numeric, tax_credit numeric, unbilled_change numeric)
LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'pgb_revenue_engine';
COMMENT ON FUNCTION billing._revenue_engine(bigint, boolean, integer) IS 'One ordered pass over the queued customers'' lines: monthly revenue, reported MRR and movements per customer and currency.';

CREATE FUNCTION billing._revenue_compute_fast(p_txid bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH r AS MATERIALIZED (
        SELECT * FROM billing._revenue_engine(p_txid, billing._setting('recognition') = 'monthly_even',
                                              billing._setting('past_due_days')::integer)),
    rev AS (INSERT INTO billing._revenue_monthly (customer_id, currency, month, recognized, contra, billed,
                deferred_end, unbilled_end, ar_debit, ar_credit, deferred_debit, deferred_credit, tax_debit, tax_credit,
                unbilled_change, mrr, mrr_prev)
            SELECT r.customer_id, r.currency, r.month, r.recognized, r.contra, r.billed, r.deferred_end,
                   r.unbilled_end, r.ar_debit, r.ar_credit, r.deferred_debit, r.deferred_credit,
                   r.tax_debit, r.tax_credit, r.unbilled_change, r.mrr, r.mrr_prev FROM r)
    INSERT INTO billing._mrr_movements
    SELECT r.customer_id, r.currency, r.month, r.movement, r.movement_amount, NULL FROM r WHERE r.movement IS NOT NULL
$fn$;
COMMENT ON FUNCTION billing._revenue_compute_fast(bigint) IS 'Writes monthly revenue, MRR and movements of the customers being refreshed with the C engine.';

-- Refresh ----------------------------------------------------------------------------------------

-- The one function that runs with its owner's rights: ANALYZE and TRUNCATE of the internal result
-- tables need ownership. It reads billing data and writes only the _revenue_* and _mrr_* tables.
-- jit is off: generate_series over service periods makes the planner expect billions of rows, and
-- compiling for that costs seconds on a refresh that takes milliseconds.
CREATE FUNCTION billing.refresh_revenue(full_recompute boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, billing, pg_temp SET jit = off SET work_mem = '128MB' AS $fn$
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
    GET DIAGNOSTICS v_count = ROW_COUNT;
    SELECT count(*) INTO v_count FROM billing._revenue_work w WHERE w.txid = v_txid;
    IF v_count > 0 THEN
        -- ANALYZE locks the table until commit, which would serialise every writer's commit-time
        -- refresh; only a full recomputation (which truncates the results anyway) pays for it
        IF full_recompute THEN
            ANALYZE billing._revenue_work;
        END IF;
        PERFORM billing._revenue_compute_refunds(v_txid);
        IF billing._setting('reporting_currency') = ''
           AND current_setting('pg_billing.revenue_engine', true) IS DISTINCT FROM 'sql' THEN
            PERFORM billing._revenue_compute_fast(v_txid);
        ELSE
            PERFORM billing._revenue_compute_monthly(v_txid);
            PERFORM billing._revenue_compute_movements(v_txid);
        END IF;
    END IF;
    DELETE FROM billing._revenue_work w WHERE w.txid = v_txid;
    IF full_recompute THEN
        -- leave statistics of an empty queue: incremental refreshes then plan index lookups
        ANALYZE billing._revenue_work;
    END IF;
    RETURN v_count;
END
$fn$;
COMMENT ON FUNCTION billing.refresh_revenue(boolean) IS 'Recomputes the stored revenue, MRR, movements and journal of every customer queued since the last refresh (or of all customers with full_recompute => true); returns how many customers it recomputed. Commits call it automatically.';

-- Statement triggers queue the touched customers; the first one in a transaction arms a deferred
-- trigger that refreshes them at commit, so readers never see results older than the data.
CREATE FUNCTION billing._revenue_arm() RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    INSERT INTO billing._revenue_pending (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING
$fn$;
COMMENT ON FUNCTION billing._revenue_arm() IS 'Arms the commit-time refresh of this transaction (once).';

CREATE FUNCTION billing._revenue_queue(p_customers bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    IF cardinality(p_customers) > 0 THEN
        INSERT INTO billing._revenue_dirty (customer_id)
        SELECT DISTINCT u.id FROM unnest(p_customers) u(id) WHERE u.id IS NOT NULL
        ORDER BY 1 ON CONFLICT DO NOTHING;
        PERFORM billing._revenue_arm();
    END IF;
END
$fn$;
COMMENT ON FUNCTION billing._revenue_queue(bigint[]) IS 'Queues customers for the next refresh and arms the commit-time refresh.';

CREATE FUNCTION billing._revenue_capture() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_ids bigint[] := '{}';
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF TG_TABLE_NAME = 'invoice_lines' THEN
            v_ids := v_ids || ARRAY(SELECT i.customer_id FROM billing.invoices i WHERE i.id IN (SELECT n.invoice_id FROM new_rows n));
        ELSIF TG_TABLE_NAME = 'credit_note_lines' THEN
            v_ids := v_ids || ARRAY(SELECT c.customer_id FROM billing.credit_notes c WHERE c.id IN (SELECT n.credit_note_id FROM new_rows n));
        ELSE
            v_ids := v_ids || ARRAY(SELECT DISTINCT n.customer_id FROM new_rows n);
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF TG_TABLE_NAME = 'invoice_lines' THEN
            v_ids := v_ids || ARRAY(SELECT i.customer_id FROM billing.invoices i WHERE i.id IN (SELECT o.invoice_id FROM old_rows o));
        ELSIF TG_TABLE_NAME = 'credit_note_lines' THEN
            v_ids := v_ids || ARRAY(SELECT c.customer_id FROM billing.credit_notes c WHERE c.id IN (SELECT o.credit_note_id FROM old_rows o));
        ELSE
            v_ids := v_ids || ARRAY(SELECT DISTINCT o.customer_id FROM old_rows o);
        END IF;
    END IF;
    PERFORM billing._revenue_queue(v_ids);
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION billing._revenue_capture() IS 'Statement trigger: queues the customers whose documents a statement changed.';

-- A TRUNCATE, a setting or an exchange rate changes the figures of unknown customers: every
-- customer is queued, and so is every customer that still has results.
CREATE FUNCTION billing._revenue_queue_all() RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT billing._revenue_queue(ARRAY(SELECT c.id FROM billing.customers c
                                        UNION SELECT r.customer_id FROM billing._revenue_monthly r))
$fn$;
COMMENT ON FUNCTION billing._revenue_queue_all() IS 'Queues every customer, and every customer with stored results, for the next refresh.';

CREATE FUNCTION billing._revenue_capture_all() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    PERFORM billing._revenue_queue_all();
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION billing._revenue_capture_all() IS 'Statement trigger: a TRUNCATE changed figures of unknown customers, so all are queued.';
DO $triggers$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['invoices', 'invoice_lines', 'credit_notes', 'credit_note_lines', 'payments', 'refunds'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON billing.%I REFERENCING NEW TABLE AS new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture()', t || '_revenue_ins', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON billing.%I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture()', t || '_revenue_upd', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON billing.%I REFERENCING OLD TABLE AS old_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture()', t || '_revenue_del', t);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON billing.%I
                        FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture_all()', t || '_revenue_trunc', t);
    END LOOP;
END
$triggers$;

-- Rates only matter with a reporting currency; setting one later is a settings change, which queues
-- every customer, so skipping here loses nothing and spares a full refresh per rate load.
CREATE FUNCTION billing._revenue_capture_fx() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    IF billing._setting('reporting_currency') <> '' THEN
        PERFORM billing._revenue_queue_all();
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION billing._revenue_capture_fx() IS 'Statement trigger: a change of billing.fx_rates queues every customer when a reporting currency is set.';

-- Only settings the stored results depend on queue everyone: mrr_through is applied when reading, and
-- the worker's settings change no figure. A setting that changes stored results must be listed here.
CREATE FUNCTION billing._revenue_capture_settings() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_keys text[] := '{}';
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        v_keys := v_keys || ARRAY(SELECT n.key FROM new_rows n);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        v_keys := v_keys || ARRAY(SELECT o.key FROM old_rows o);
    END IF;
    IF TG_OP = 'TRUNCATE'
       OR v_keys && ARRAY['recognition', 'past_due_days', 'reporting_timezone', 'reporting_currency'] THEN
        PERFORM billing._revenue_queue_all();
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION billing._revenue_capture_settings() IS 'Statement trigger: a change of a setting the stored revenue results depend on queues every customer.';

CREATE TRIGGER setting_values_revenue_ins AFTER INSERT ON billing._setting_values REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture_settings();
CREATE TRIGGER setting_values_revenue_upd AFTER UPDATE ON billing._setting_values
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture_settings();
CREATE TRIGGER setting_values_revenue_del AFTER DELETE ON billing._setting_values REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture_settings();
CREATE TRIGGER setting_values_revenue_trunc AFTER TRUNCATE ON billing._setting_values
    FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture_settings();
CREATE TRIGGER fx_rates_revenue AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billing.fx_rates
    FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture_fx();

CREATE FUNCTION billing._revenue_at_commit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    IF current_setting('pg_billing.revenue_refresh', true) = 'deferred' THEN
        -- the customers stay queued in _revenue_dirty for the next refresh
        DELETE FROM billing._revenue_pending p WHERE p.txid = NEW.txid;
        RETURN NULL;
    END IF;
    PERFORM billing.refresh_revenue();
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION billing._revenue_at_commit() IS 'Deferred trigger: refreshes the customers this transaction queued, just before it commits.';
CREATE CONSTRAINT TRIGGER revenue_pending_refresh AFTER INSERT ON billing._revenue_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing._revenue_at_commit();

-- Readers inside a transaction that changed data before its commit would see the old figures:
-- the public relations say so instead of answering.
CREATE FUNCTION billing._revenue_current() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM billing._revenue_pending p WHERE p.txid = txid_current_if_assigned()) THEN
        RAISE EXCEPTION 'revenue results are not current in this transaction'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'This transaction changed billing data; the results are refreshed when it commits.',
                  HINT = 'Call SELECT billing.refresh_revenue(); first, or read after COMMIT.';
    END IF;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION billing._revenue_current() IS 'Raises when this transaction has changes the stored results do not include yet; true otherwise.';

-- First day of the last month the MRR relations report (setting mrr_through); read with a scalar
-- subquery so that it is evaluated once per query.
CREATE FUNCTION billing._mrr_through() RETURNS date
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT CASE s.v
             WHEN 'all' THEN 'infinity'::date
             WHEN 'last_complete_month' THEN
                  (pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE billing._setting('reporting_timezone'))
                   - interval '1 month')::date
             ELSE pg_catalog.to_date(s.v, 'YYYY-MM')
           END
      FROM (SELECT billing._setting('mrr_through') AS v) s
$fn$;
COMMENT ON FUNCTION billing._mrr_through() IS 'First day of the last month billing.customer_mrr, mrr_movements and mrr_summary report (setting mrr_through).';

-- Public relations -------------------------------------------------------------------------------

CREATE VIEW billing.monthly_revenue AS
SELECT r.customer_id, r.month, r.currency, r.recognized, r.billed, r.deferred_end, r.unbilled_end,
       r.contra AS refunds, r.reporting_currency, r.recognized_reporting
FROM billing._revenue_monthly r
WHERE billing._revenue_current();
COMMENT ON VIEW billing.monthly_revenue IS 'Revenue per customer, month and currency (rules C2, C2a): recognised, billed, and the deferred and unbilled balances at month end. One row for every month from the customer''s first line, invoice or refund to the month of its last service-period end.';
COMMENT ON COLUMN billing.monthly_revenue.customer_id IS 'The customer (billing.customers.id).';
COMMENT ON COLUMN billing.monthly_revenue.month IS 'First day of the month.';
COMMENT ON COLUMN billing.monthly_revenue.currency IS 'Currency of the documents (ISO 4217).';
COMMENT ON COLUMN billing.monthly_revenue.recognized IS 'Revenue recognised in the month, net of discounts, excluding tax, after contra revenue from cash refunds.';
COMMENT ON COLUMN billing.monthly_revenue.billed IS 'Net lines (excluding tax) of invoices issued in the month, less credit notes issued in it.';
COMMENT ON COLUMN billing.monthly_revenue.deferred_end IS 'Deferred revenue at month end: billed to date less recognised to date less refund excesses, when positive.';
COMMENT ON COLUMN billing.monthly_revenue.unbilled_end IS 'Unbilled revenue at month end: recognised beyond what was billed, when positive.';
COMMENT ON COLUMN billing.monthly_revenue.refunds IS 'Contra revenue of cash refunds in the month (rule C2a), already taken off recognized.';
COMMENT ON COLUMN billing.monthly_revenue.reporting_currency IS 'The reporting_currency setting, when set.';
COMMENT ON COLUMN billing.monthly_revenue.recognized_reporting IS 'recognized converted at the rate of the month''s last day, when a reporting currency is set.';

CREATE VIEW billing.customer_mrr AS
SELECT m.customer_id, m.month, m.currency, m.mrr, m.mrr * 12 AS arr, m.reporting_currency, m.mrr_reporting,
       m.mrr_reporting * 12 AS arr_reporting
FROM billing._revenue_monthly m
WHERE m.month <= (SELECT billing._mrr_through()) AND billing._revenue_current();
COMMENT ON VIEW billing.customer_mrr IS 'MRR and ARR per customer, month and currency at the month-end snapshot (rules C3, C4, C5, C7), over the same months as billing.monthly_revenue through the setting mrr_through.';
COMMENT ON COLUMN billing.customer_mrr.customer_id IS 'The customer.';
COMMENT ON COLUMN billing.customer_mrr.month IS 'First day of the month; the snapshot is its last day.';
COMMENT ON COLUMN billing.customer_mrr.currency IS 'Currency of the lines.';
COMMENT ON COLUMN billing.customer_mrr.mrr IS 'Monthly recurring revenue: exact sum of the normalised lines, rounded once to cents; a negative sum shows 0.';
COMMENT ON COLUMN billing.customer_mrr.arr IS 'Annual recurring revenue, 12 x mrr.';
COMMENT ON COLUMN billing.customer_mrr.reporting_currency IS 'The reporting_currency setting, when set.';
COMMENT ON COLUMN billing.customer_mrr.mrr_reporting IS 'MRR in the reporting currency, each line converted at the rate of its service-period start (rule C8).';
COMMENT ON COLUMN billing.customer_mrr.arr_reporting IS '12 x mrr_reporting.';

CREATE VIEW billing.mrr_movements AS
SELECT m.customer_id, m.month, m.currency, m.movement, m.amount, m.reporting_amount
FROM billing._mrr_movements m
WHERE m.movement <> 'fx' AND m.month <= (SELECT billing._mrr_through()) AND billing._revenue_current()
UNION ALL
SELECT m.customer_id, m.month, r.value, m.movement, m.reporting_amount, m.reporting_amount
FROM billing._mrr_movements m CROSS JOIN billing.settings r
WHERE m.movement = 'fx' AND r.key = 'reporting_currency' AND m.month <= (SELECT billing._mrr_through())
  AND billing._revenue_current();
COMMENT ON VIEW billing.mrr_movements IS 'MRR movements per customer, month and currency (rule C6): new, expansion, contraction, churn, reactivation; with a reporting currency also fx, the conversion effect in that currency. Months through the setting mrr_through.';
COMMENT ON COLUMN billing.mrr_movements.customer_id IS 'The customer.';
COMMENT ON COLUMN billing.mrr_movements.month IS 'First day of the month whose end MRR is compared with the previous month end.';
COMMENT ON COLUMN billing.mrr_movements.currency IS 'Currency of the amount: the customer''s lines, or the reporting currency on fx rows.';
COMMENT ON COLUMN billing.mrr_movements.movement IS 'new, expansion, contraction, churn, reactivation or fx.';
COMMENT ON COLUMN billing.mrr_movements.amount IS 'Size of the movement, positive (the movement says the direction); on fx rows the signed conversion effect.';
COMMENT ON COLUMN billing.mrr_movements.reporting_amount IS 'The amount in the reporting currency, when one is set.';

CREATE VIEW billing.mrr_summary AS
WITH rep AS MATERIALIZED (SELECT NULLIF(billing._setting('reporting_currency'), '') AS currency,
                                 billing._mrr_through() AS through),
base AS (
    SELECT m.month, m.currency, m.mrr_prev AS mrr_start, m.mrr AS mrr_end, m.customer_id
      FROM billing._revenue_monthly m, rep WHERE rep.currency IS NULL AND m.month <= rep.through
    UNION ALL
    SELECT m.month, rep.currency, m.mrr_reporting_prev, m.mrr_reporting, m.customer_id
      FROM billing._revenue_monthly m, rep WHERE rep.currency IS NOT NULL AND m.month <= rep.through),
mv AS (
    SELECT m.month, coalesce(rep.currency, m.currency) AS currency,
           sum(coalesce(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END, 0))
               FILTER (WHERE m.movement = 'new') AS new,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'expansion') AS expansion,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'contraction') AS contraction,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'churn') AS churn,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'reactivation') AS reactivation,
           sum(m.reporting_amount) FILTER (WHERE m.movement = 'fx') AS fx
      FROM billing._mrr_movements m, rep
     WHERE m.month <= rep.through
     GROUP BY 1, 2)
SELECT b.month, b.currency, sum(b.mrr_start) AS mrr_start, coalesce(max(mv.new), 0) AS new,
       coalesce(max(mv.expansion), 0) AS expansion, coalesce(max(mv.contraction), 0) AS contraction,
       coalesce(max(mv.churn), 0) AS churn, coalesce(max(mv.reactivation), 0) AS reactivation,
       coalesce(max(mv.fx), 0) AS fx, sum(b.mrr_end) AS mrr_end, count(DISTINCT b.customer_id) FILTER (WHERE b.mrr_end > 0) AS customers
FROM base b LEFT JOIN mv USING (month, currency)
WHERE billing._revenue_current()
GROUP BY b.month, b.currency;
COMMENT ON VIEW billing.mrr_summary IS 'MRR bridge per month and currency: mrr_end = mrr_start + new + expansion + reactivation - contraction - churn + fx. With a reporting currency set, one row per month in that currency. Months through the setting mrr_through.';
COMMENT ON COLUMN billing.mrr_summary.month IS 'First day of the month.';
COMMENT ON COLUMN billing.mrr_summary.currency IS 'Currency (the reporting currency when one is set).';
COMMENT ON COLUMN billing.mrr_summary.mrr_start IS 'Total MRR at the end of the previous month.';
COMMENT ON COLUMN billing.mrr_summary.new IS 'MRR of customers with their first MRR ever.';
COMMENT ON COLUMN billing.mrr_summary.expansion IS 'Increases of customers who already had MRR.';
COMMENT ON COLUMN billing.mrr_summary.contraction IS 'Decreases of customers who keep some MRR.';
COMMENT ON COLUMN billing.mrr_summary.churn IS 'MRR of customers who went to zero.';
COMMENT ON COLUMN billing.mrr_summary.reactivation IS 'MRR of customers who come back after having had MRR before.';
COMMENT ON COLUMN billing.mrr_summary.fx IS 'Conversion effect when a reporting currency is set (signed); 0 otherwise.';
COMMENT ON COLUMN billing.mrr_summary.mrr_end IS 'Total MRR at the end of the month.';
COMMENT ON COLUMN billing.mrr_summary.customers IS 'Customers with MRR above zero at the end of the month.';

-- The consolidated journal (domain.md section 3), assembled at read time from the stored monthly
-- figures and the cash documents. Every event balances on its own:
--   document issued, line by line     Dr accounts_receivable (gross)  Cr deferred_revenue (net), sales_tax_payable (tax)
--     (a negative line posts the same entry reversed)
--   month-end recognition             Dr deferred_revenue             Cr revenue
--   earned before billed (change)     Dr unbilled_receivables         Cr deferred_revenue (reversed when billed)
--   payment                           Dr cash                         Cr accounts_receivable
--   cash refund                       Dr accounts_receivable          Cr cash
--   rule C2a effect of a cash refund  Dr refunds (contra revenue), deferred_revenue (excess), sales_tax_payable (tax share)
--                                     Cr accounts_receivable
-- Sums are taken per customer month first (recognition nets within a customer's month), then per
-- month, source, account and currency.
CREATE VIEW billing.journal_entries AS
WITH rm AS (
    SELECT r.month, c.source_id, r.currency,
           sum(r.ar_debit) AS ar_debit, sum(r.ar_credit) AS ar_credit,
           sum(r.tax_debit) AS tax_debit, sum(r.tax_credit) AS tax_credit,
           sum(r.deferred_debit) AS def_debit, sum(r.deferred_credit) AS def_credit,
           sum(GREATEST(r.recognized + r.contra, 0)) AS rec_pos, sum(GREATEST(-(r.recognized + r.contra), 0)) AS rec_neg,
           sum(GREATEST(r.unbilled_change, 0)) AS unb_up, sum(GREATEST(-r.unbilled_change, 0)) AS unb_down
      FROM billing._revenue_monthly r JOIN billing.customers c ON c.id = r.customer_id
     GROUP BY 1, 2, 3),
ev AS (
    SELECT rm.month, rm.source_id, rm.currency, a.account, a.debit, a.credit
      FROM rm CROSS JOIN LATERAL (VALUES
          ('accounts_receivable', rm.ar_debit, rm.ar_credit),
          ('sales_tax_payable', rm.tax_debit, rm.tax_credit),
          ('deferred_revenue', rm.def_debit + rm.rec_pos + rm.unb_down, rm.def_credit + rm.rec_neg + rm.unb_up),
          ('revenue', rm.rec_neg, rm.rec_pos),
          ('unbilled_receivables', rm.unb_up, rm.unb_down)) a(account, debit, credit)
    UNION ALL
    SELECT date_trunc('month', p.payment_date::timestamp)::date, c.source_id, p.currency, a.account, a.debit, a.credit
      FROM billing.payments p JOIN billing.customers c ON c.id = p.customer_id
     CROSS JOIN LATERAL (VALUES ('cash', p.amount, 0::numeric), ('accounts_receivable', 0::numeric, p.amount)) a(account, debit, credit)
     WHERE p.deleted_at IS NULL
    UNION ALL
    SELECT date_trunc('month', f.refund_date::timestamp)::date, c.source_id, f.currency, a.account, a.debit, a.credit
      FROM billing.refunds f JOIN billing.customers c ON c.id = f.customer_id
     CROSS JOIN LATERAL (VALUES ('accounts_receivable', f.amount, 0::numeric), ('cash', 0::numeric, f.amount)) a(account, debit, credit)
     WHERE f.deleted_at IS NULL
    UNION ALL
    SELECT e.month, c.source_id, e.currency, a.account, a.debit, a.credit
      FROM billing._refund_effects e JOIN billing.customers c ON c.id = e.customer_id
     CROSS JOIN LATERAL (VALUES ('refunds', e.contra, 0::numeric), ('deferred_revenue', e.excess, 0::numeric),
                                ('sales_tax_payable', e.tax, 0::numeric),
                                ('accounts_receivable', 0::numeric, e.contra + e.excess + e.tax)) a(account, debit, credit))
SELECT ev.month, coalesce(ms.remote_code, mg.remote_code, ev.account) AS account, ev.currency,
       sum(ev.debit) AS debit, sum(ev.credit) AS credit,
       pg_catalog.string_agg(DISTINCT ev.account, ',') AS account_role
FROM ev
LEFT JOIN billing.accounting_maps ms ON ms.map_kind = 'account' AND ms.source_id = ev.source_id AND ms.local_key = ev.account
LEFT JOIN billing.accounting_maps mg ON mg.map_kind = 'account' AND mg.source_id IS NULL AND mg.local_key = ev.account
WHERE billing._revenue_current()
GROUP BY ev.month, coalesce(ms.remote_code, mg.remote_code, ev.account), ev.currency
HAVING sum(ev.debit) <> 0 OR sum(ev.credit) <> 0;
COMMENT ON VIEW billing.journal_entries IS 'Consolidated GL journal per month, account and currency (domain.md section 3); debits equal credits in every month and currency.';
COMMENT ON COLUMN billing.journal_entries.month IS 'First day of the month.';
COMMENT ON COLUMN billing.journal_entries.account IS 'The user''s account code from billing.accounting_maps (map_kind account, by source then global), else pg_billing''s role name.';
COMMENT ON COLUMN billing.journal_entries.currency IS 'Currency.';
COMMENT ON COLUMN billing.journal_entries.debit IS 'Total debits.';
COMMENT ON COLUMN billing.journal_entries.credit IS 'Total credits.';
COMMENT ON COLUMN billing.journal_entries.account_role IS 'pg_billing''s account role(s) behind the account: accounts_receivable, cash, deferred_revenue, revenue, refunds, sales_tax_payable, unbilled_receivables (comma-separated when several map to one code).';

-- Privileges -------------------------------------------------------------------------------------

REVOKE ALL ON billing._revenue_invoice_lines, billing._revenue_credit_lines, billing._revenue_lines, billing._revenue_schedule, billing._mrr_lines, billing._revenue_dirty,
              billing._revenue_pending, billing._revenue_work, billing._revenue_monthly, billing._refund_effects,
              billing._mrr_movements,
              billing.monthly_revenue, billing.customer_mrr, billing.mrr_movements, billing.mrr_summary,
              billing.journal_entries FROM PUBLIC;
REVOKE ALL ON FUNCTION billing._fx_rate(text, text, date), billing._invoice_refund_effects(bigint),
              billing._refund_has_period_lines(bigint), billing._revenue_compute_refunds(bigint),
              billing._revenue_compute_monthly(bigint),
              billing._revenue_compute_movements(bigint),
              billing.refresh_revenue(boolean), billing._revenue_arm(), billing._revenue_queue(bigint[]),
              billing._revenue_capture(), billing._revenue_capture_all(), billing._revenue_capture_fx(),
              billing._revenue_capture_settings(), billing._mrr_through(),
              billing._revenue_at_commit(), billing._revenue_queue_all(),
              billing._revenue_current(), billing._revenue_engine(bigint, boolean, integer),
              billing._revenue_compute_fast(bigint) FROM PUBLIC;
GRANT SELECT ON billing.monthly_revenue, billing.customer_mrr, billing.mrr_movements, billing.mrr_summary,
                billing.journal_entries
      TO billing_reader, billing_admin;
GRANT EXECUTE ON FUNCTION billing._revenue_current(), billing._mrr_through() TO billing_reader, billing_admin;
GRANT SELECT ON billing._revenue_pending TO billing_reader;
-- loaders fire the capture triggers, which queue the customers they touched
GRANT SELECT, INSERT, DELETE ON billing._revenue_dirty, billing._revenue_pending TO billing_admin;
GRANT SELECT ON billing._revenue_monthly TO billing_admin;
GRANT EXECUTE ON FUNCTION billing.refresh_revenue(boolean), billing._revenue_capture(), billing._revenue_capture_all(),
                          billing._revenue_capture_fx(), billing._revenue_capture_settings(),
                          billing._revenue_queue(bigint[]), billing._revenue_queue_all(), billing._revenue_arm(),
                          billing._revenue_at_commit()
      TO billing_admin;
