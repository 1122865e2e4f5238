-- Revenue, 5 of 7: computing the stored results of the customers being refreshed, in SQL or with the
-- C engine (src/engines/).

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
