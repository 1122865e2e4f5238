-- Monthly aggregates kept current by the commit-time refresh (issue 13, item 1). billing.mrr_summary
-- and billing.journal_entries used to aggregate every customer's months on each read (1-3.5 s a month
-- at 100k customers). The refresh now keeps sums per (month, currency) and per (month, source,
-- currency, account) in two tables: before it drops the stored rows of the customers it recomputes
-- it subtracts their sums, after writing the new rows it adds theirs. Both steps are upserts of
-- deltas (INSERT ... ON CONFLICT DO UPDATE SET x = x + delta), in key order, so two refreshes
-- committing changes to the same month serialise on the summary row and neither update is lost.
-- The public views keep their names and columns and read the small tables instead.
\echo Use "ALTER EXTENSION pg_billing UPDATE TO '0.3.0'" to load this file. \quit

-- One row per month and currency of the MRR bridge. Native rows (reporting false) hold the
-- customers' own currencies; one reporting row per month (currency '') holds the figures converted
-- to the reporting currency, which the view shows under the setting's name. Every setting change
-- re-queues every customer, so the reporting row always matches the setting of the refresh.
CREATE TABLE billing._mrr_summary (
    month         date NOT NULL,
    currency      text NOT NULL,
    reporting     boolean NOT NULL,
    customer_rows bigint NOT NULL,           -- stored customer months behind the row; 0: no row
    mrr_start     numeric NOT NULL,
    mrr_start_n   bigint NOT NULL,           -- how many mrr_start values were not null (sum() of none is null)
    mrr_end       numeric NOT NULL,
    mrr_end_n     bigint NOT NULL,
    customers     bigint NOT NULL,           -- customers with MRR above zero at month end
    new           numeric NOT NULL,
    expansion     numeric NOT NULL,
    contraction   numeric NOT NULL,
    churn         numeric NOT NULL,
    reactivation  numeric NOT NULL,
    fx            numeric NOT NULL,
    -- how many movement rows each sum has: none shows 0 as the view always did, not 0.00 left by a delta
    new_n bigint NOT NULL, expansion_n bigint NOT NULL, contraction_n bigint NOT NULL,
    churn_n bigint NOT NULL, reactivation_n bigint NOT NULL, fx_n bigint NOT NULL,
    PRIMARY KEY (month, currency, reporting)
);
COMMENT ON TABLE billing._mrr_summary IS 'Maintained sums behind billing.mrr_summary per month and currency (reporting: the reporting-currency row of the month), updated with deltas by billing.refresh_revenue().';

-- The journal's revenue part per month, source, currency and account: part 1 from the stored
-- customer months, part 2 from the rule C2a refund effects. Payments and cash refunds are read
-- from their tables at read time (indexed by month below), as before.
CREATE TABLE billing._journal_summary (
    month     date NOT NULL,
    source_id bigint NOT NULL,
    currency  text NOT NULL,
    part      smallint NOT NULL,
    account   text NOT NULL,
    n         bigint NOT NULL,               -- stored rows behind the sums; 0: the view shows nothing
    debit     numeric NOT NULL,
    credit    numeric NOT NULL,
    PRIMARY KEY (month, source_id, currency, part, account)
);
COMMENT ON TABLE billing._journal_summary IS 'Maintained journal sums behind billing.journal_entries from the stored customer months (part 1) and refund effects (part 2), updated with deltas by billing.refresh_revenue().';

-- The source of each customer with stored results: a refresh subtracts the sums of a customer whose
-- row is already gone (a source deleted with its customers) under the source it was added with.
CREATE TABLE billing._revenue_customer_source (
    customer_id bigint PRIMARY KEY,
    source_id   bigint NOT NULL
);
COMMENT ON TABLE billing._revenue_customer_source IS 'Source of each customer whose sums are in billing._journal_summary.';

-- Each customer's payments (part 3) and cash refunds (part 4) per month as last added to the journal
-- sums: the capture triggers queue the customer of a changed payment or refund, and by the time the
-- refresh runs the old rows are gone, so what it subtracts is kept here. One row per customer, its
-- months as parallel arrays: a full recomputation writes as many rows as customers, not one per
-- customer and month (inserting ~83,000 indexed rows at 10k customers took ~1.5 s of a 4 s refresh).
CREATE TABLE billing._revenue_cash (
    customer_id bigint PRIMARY KEY,
    source_id   bigint NOT NULL,
    month       date[] NOT NULL,
    currency    text[] NOT NULL,
    part        smallint[] NOT NULL,
    n           bigint[] NOT NULL,
    amount      numeric[] NOT NULL
);
COMMENT ON TABLE billing._revenue_cash IS 'Payments (part 3) and cash refunds (part 4) per customer (one row) and month (parallel arrays) as included in billing._journal_summary.';

-- Adds (p_sign 1) or subtracts (p_sign -1) the stored results of the customers in the refresh
-- p_txid's work set to the summaries. Rows are written in key order so that concurrent refreshes
-- lock shared summary rows in the same order (no deadlock).
CREATE FUNCTION billing._revenue_summarise(p_txid bigint, p_sign integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    IF p_sign OPERATOR(pg_catalog.=) 1 THEN
        INSERT INTO billing._revenue_customer_source (customer_id, source_id)
        SELECT c.id, c.source_id
          FROM billing._revenue_work w JOIN billing.customers c ON c.id OPERATOR(pg_catalog.=) w.customer_id
         WHERE w.txid OPERATOR(pg_catalog.=) p_txid
           AND (EXISTS (SELECT FROM billing._revenue_monthly r WHERE r.customer_id OPERATOR(pg_catalog.=) c.id)
                OR EXISTS (SELECT FROM billing._refund_effects e WHERE e.customer_id OPERATOR(pg_catalog.=) c.id))
         ORDER BY c.id
        ON CONFLICT (customer_id) DO UPDATE SET source_id = excluded.source_id;
    END IF;

    INSERT INTO billing._mrr_summary AS s (month, currency, reporting, customer_rows, mrr_start, mrr_start_n,
                mrr_end, mrr_end_n, customers, new, expansion, contraction, churn, reactivation, fx,
                new_n, expansion_n, contraction_n, churn_n, reactivation_n, fx_n)
    WITH cm AS (
        -- only the columns summed: the CTE is materialised (read twice), so narrow rows copy less
        SELECT r.customer_id, r.month, r.currency, r.mrr_prev, r.mrr, r.mrr_reporting_prev, r.mrr_reporting,
               r.reporting_currency
          FROM billing._revenue_work w JOIN billing._revenue_monthly r
            ON r.customer_id OPERATOR(pg_catalog.=) w.customer_id
         WHERE w.txid OPERATOR(pg_catalog.=) p_txid),
    mv AS (
        SELECT m.month, m.currency, m.movement, m.amount, m.reporting_amount
          FROM billing._revenue_work w JOIN billing._mrr_movements m
            ON m.customer_id OPERATOR(pg_catalog.=) w.customer_id
         WHERE w.txid OPERATOR(pg_catalog.=) p_txid),
    base AS (
        SELECT cm.month, cm.currency, false AS reporting, pg_catalog.count(*) AS customer_rows,
               pg_catalog.sum(cm.mrr_prev) AS mrr_start, pg_catalog.count(*) AS mrr_start_n,
               pg_catalog.sum(cm.mrr) AS mrr_end, pg_catalog.count(*) AS mrr_end_n,
               pg_catalog.count(*) FILTER (WHERE cm.mrr OPERATOR(pg_catalog.>) 0) AS customers
          FROM cm GROUP BY cm.month, cm.currency
        UNION ALL
        SELECT cm.month, '', true, pg_catalog.count(*),
               pg_catalog.sum(cm.mrr_reporting_prev), pg_catalog.count(cm.mrr_reporting_prev),
               pg_catalog.sum(cm.mrr_reporting), pg_catalog.count(cm.mrr_reporting),
               pg_catalog.count(DISTINCT cm.customer_id) FILTER (WHERE cm.mrr_reporting OPERATOR(pg_catalog.>) 0)
          -- rows computed without a reporting currency add no reporting row (the view shows none
          -- then); a change of the setting re-queues every customer, so adding and subtracting agree
          FROM cm WHERE cm.reporting_currency IS NOT NULL GROUP BY cm.month),
    moves AS (
        SELECT mv.month, mv.currency, false AS reporting,
               pg_catalog.sum(mv.amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'new') AS new,
               pg_catalog.sum(mv.amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'expansion') AS expansion,
               pg_catalog.sum(mv.amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'contraction') AS contraction,
               pg_catalog.sum(mv.amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'churn') AS churn,
               pg_catalog.sum(mv.amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'reactivation') AS reactivation,
               pg_catalog.sum(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'fx') AS fx,
               pg_catalog.count(*) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'new') AS new_n,
               pg_catalog.count(mv.amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'expansion') AS expansion_n,
               pg_catalog.count(mv.amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'contraction') AS contraction_n,
               pg_catalog.count(mv.amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'churn') AS churn_n,
               pg_catalog.count(mv.amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'reactivation') AS reactivation_n,
               pg_catalog.count(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'fx') AS fx_n
          FROM mv GROUP BY mv.month, mv.currency
        UNION ALL
        SELECT mv.month, '', true,
               pg_catalog.sum(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'new'),
               pg_catalog.sum(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'expansion'),
               pg_catalog.sum(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'contraction'),
               pg_catalog.sum(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'churn'),
               pg_catalog.sum(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'reactivation'),
               pg_catalog.sum(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'fx'),
               pg_catalog.count(*) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'new'),
               pg_catalog.count(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'expansion'),
               pg_catalog.count(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'contraction'),
               pg_catalog.count(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'churn'),
               pg_catalog.count(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'reactivation'),
               pg_catalog.count(mv.reporting_amount) FILTER (WHERE mv.movement OPERATOR(pg_catalog.=) 'fx')
          FROM mv GROUP BY mv.month)
    SELECT k.month, k.currency, k.reporting,
           p_sign OPERATOR(pg_catalog.*) coalesce(b.customer_rows, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(b.mrr_start, 0), p_sign OPERATOR(pg_catalog.*) coalesce(b.mrr_start_n, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(b.mrr_end, 0), p_sign OPERATOR(pg_catalog.*) coalesce(b.mrr_end_n, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(b.customers, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(m.new, 0), p_sign OPERATOR(pg_catalog.*) coalesce(m.expansion, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(m.contraction, 0), p_sign OPERATOR(pg_catalog.*) coalesce(m.churn, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(m.reactivation, 0), p_sign OPERATOR(pg_catalog.*) coalesce(m.fx, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(m.new_n, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(m.expansion_n, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(m.contraction_n, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(m.churn_n, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(m.reactivation_n, 0),
           p_sign OPERATOR(pg_catalog.*) coalesce(m.fx_n, 0)
      FROM (SELECT b.month, b.currency, b.reporting FROM base b
            UNION SELECT m.month, m.currency, m.reporting FROM moves m) k
      LEFT JOIN base b ON b.month OPERATOR(pg_catalog.=) k.month AND b.currency OPERATOR(pg_catalog.=) k.currency
                      AND b.reporting OPERATOR(pg_catalog.=) k.reporting
      LEFT JOIN moves m ON m.month OPERATOR(pg_catalog.=) k.month AND m.currency OPERATOR(pg_catalog.=) k.currency
                       AND m.reporting OPERATOR(pg_catalog.=) k.reporting
     ORDER BY k.month, k.currency, k.reporting
    ON CONFLICT (month, currency, reporting) DO UPDATE SET
        customer_rows = s.customer_rows OPERATOR(pg_catalog.+) excluded.customer_rows,
        mrr_start = s.mrr_start OPERATOR(pg_catalog.+) excluded.mrr_start,
        mrr_start_n = s.mrr_start_n OPERATOR(pg_catalog.+) excluded.mrr_start_n,
        mrr_end = s.mrr_end OPERATOR(pg_catalog.+) excluded.mrr_end,
        mrr_end_n = s.mrr_end_n OPERATOR(pg_catalog.+) excluded.mrr_end_n,
        customers = s.customers OPERATOR(pg_catalog.+) excluded.customers,
        new = s.new OPERATOR(pg_catalog.+) excluded.new,
        expansion = s.expansion OPERATOR(pg_catalog.+) excluded.expansion,
        contraction = s.contraction OPERATOR(pg_catalog.+) excluded.contraction,
        churn = s.churn OPERATOR(pg_catalog.+) excluded.churn,
        reactivation = s.reactivation OPERATOR(pg_catalog.+) excluded.reactivation,
        fx = s.fx OPERATOR(pg_catalog.+) excluded.fx,
        new_n = s.new_n OPERATOR(pg_catalog.+) excluded.new_n,
        expansion_n = s.expansion_n OPERATOR(pg_catalog.+) excluded.expansion_n,
        contraction_n = s.contraction_n OPERATOR(pg_catalog.+) excluded.contraction_n,
        churn_n = s.churn_n OPERATOR(pg_catalog.+) excluded.churn_n,
        reactivation_n = s.reactivation_n OPERATOR(pg_catalog.+) excluded.reactivation_n,
        fx_n = s.fx_n OPERATOR(pg_catalog.+) excluded.fx_n;

    INSERT INTO billing._journal_summary AS s (month, source_id, currency, part, account, n, debit, credit)
    WITH rm AS (
        SELECT r.month, cs.source_id, r.currency, pg_catalog.count(*) AS n,
               pg_catalog.sum(r.ar_debit) AS ar_debit, pg_catalog.sum(r.ar_credit) AS ar_credit,
               pg_catalog.sum(r.tax_debit) AS tax_debit, pg_catalog.sum(r.tax_credit) AS tax_credit,
               pg_catalog.sum(r.deferred_debit) AS def_debit, pg_catalog.sum(r.deferred_credit) AS def_credit,
               pg_catalog.sum(GREATEST(r.recognized OPERATOR(pg_catalog.+) r.contra, 0)) AS rec_pos,
               pg_catalog.sum(GREATEST(OPERATOR(pg_catalog.-)(r.recognized OPERATOR(pg_catalog.+) r.contra), 0)) AS rec_neg,
               pg_catalog.sum(GREATEST(r.unbilled_change, 0)) AS unb_up,
               pg_catalog.sum(GREATEST(OPERATOR(pg_catalog.-) r.unbilled_change, 0)) AS unb_down
          FROM billing._revenue_work w
          JOIN billing._revenue_monthly r ON r.customer_id OPERATOR(pg_catalog.=) w.customer_id
          JOIN billing._revenue_customer_source cs ON cs.customer_id OPERATOR(pg_catalog.=) w.customer_id
         WHERE w.txid OPERATOR(pg_catalog.=) p_txid
         GROUP BY 1, 2, 3),
    ef AS (
        SELECT e.month, cs.source_id, e.currency, pg_catalog.count(*) AS n,
               pg_catalog.sum(e.contra) AS contra, pg_catalog.sum(e.excess) AS excess, pg_catalog.sum(e.tax) AS tax,
               pg_catalog.sum(e.contra OPERATOR(pg_catalog.+) e.excess OPERATOR(pg_catalog.+) e.tax) AS ar
          FROM billing._revenue_work w
          JOIN billing._refund_effects e ON e.customer_id OPERATOR(pg_catalog.=) w.customer_id
          JOIN billing._revenue_customer_source cs ON cs.customer_id OPERATOR(pg_catalog.=) w.customer_id
         WHERE w.txid OPERATOR(pg_catalog.=) p_txid
         GROUP BY 1, 2, 3),
    ev AS (
        SELECT rm.month, rm.source_id, rm.currency, 1::smallint AS part, a.account, rm.n, a.debit, a.credit
          FROM rm CROSS JOIN LATERAL (VALUES
              ('accounts_receivable', rm.ar_debit, rm.ar_credit),
              ('sales_tax_payable', rm.tax_debit, rm.tax_credit),
              ('deferred_revenue', rm.def_debit OPERATOR(pg_catalog.+) rm.rec_pos OPERATOR(pg_catalog.+) rm.unb_down,
                                   rm.def_credit OPERATOR(pg_catalog.+) rm.rec_neg OPERATOR(pg_catalog.+) rm.unb_up),
              ('revenue', rm.rec_neg, rm.rec_pos),
              ('unbilled_receivables', rm.unb_up, rm.unb_down)) a(account, debit, credit)
        UNION ALL
        SELECT ef.month, ef.source_id, ef.currency, 2::smallint, a.account, ef.n, a.debit, a.credit
          FROM ef CROSS JOIN LATERAL (VALUES
              ('refunds', ef.contra, 0::numeric), ('deferred_revenue', ef.excess, 0::numeric),
              ('sales_tax_payable', ef.tax, 0::numeric), ('accounts_receivable', 0::numeric, ef.ar)) a(account, debit, credit))
    SELECT ev.month, ev.source_id, ev.currency, ev.part, ev.account, p_sign OPERATOR(pg_catalog.*) ev.n,
           p_sign OPERATOR(pg_catalog.*) ev.debit, p_sign OPERATOR(pg_catalog.*) ev.credit
      FROM ev
     ORDER BY ev.month, ev.source_id, ev.currency, ev.part, ev.account
    ON CONFLICT (month, source_id, currency, part, account) DO UPDATE SET
        n = s.n OPERATOR(pg_catalog.+) excluded.n,
        debit = s.debit OPERATOR(pg_catalog.+) excluded.debit,
        credit = s.credit OPERATOR(pg_catalog.+) excluded.credit;

    IF p_sign OPERATOR(pg_catalog.=) 1 THEN
        INSERT INTO billing._revenue_cash (customer_id, source_id, month, currency, part, n, amount)
        SELECT g.customer_id, g.source_id, pg_catalog.array_agg(g.month), pg_catalog.array_agg(g.currency),
               pg_catalog.array_agg(g.part), pg_catalog.array_agg(g.n), pg_catalog.array_agg(g.amount)
          FROM (SELECT x.customer_id, x.month, x.currency, x.part, c.source_id, pg_catalog.count(*) AS n,
                       pg_catalog.sum(x.amount) AS amount
                  FROM (SELECT p.customer_id, pg_catalog.date_trunc('month', p.payment_date::timestamp)::date AS month,
                               p.currency, 3::smallint AS part, p.amount
                          FROM billing._revenue_work w JOIN billing.payments p ON p.customer_id OPERATOR(pg_catalog.=) w.customer_id
                         WHERE w.txid OPERATOR(pg_catalog.=) p_txid AND p.deleted_at IS NULL
                        UNION ALL
                        SELECT f.customer_id, pg_catalog.date_trunc('month', f.refund_date::timestamp)::date, f.currency, 4::smallint, f.amount
                          FROM billing._revenue_work w JOIN billing.refunds f ON f.customer_id OPERATOR(pg_catalog.=) w.customer_id
                         WHERE w.txid OPERATOR(pg_catalog.=) p_txid AND f.deleted_at IS NULL) x
                  JOIN billing.customers c ON c.id OPERATOR(pg_catalog.=) x.customer_id
                 GROUP BY x.customer_id, x.month, x.currency, x.part, c.source_id) g
         GROUP BY g.customer_id, g.source_id;
    END IF;

    -- payments: Dr cash, Cr accounts receivable; cash refunds: Dr accounts receivable, Cr cash
    INSERT INTO billing._journal_summary AS s (month, source_id, currency, part, account, n, debit, credit)
    SELECT k.month, k.source_id, k.currency, k.part, a.account, p_sign OPERATOR(pg_catalog.*) pg_catalog.sum(k.n),
           p_sign OPERATOR(pg_catalog.*) pg_catalog.sum(a.debit), p_sign OPERATOR(pg_catalog.*) pg_catalog.sum(a.credit)
      FROM billing._revenue_work w
      JOIN billing._revenue_cash c ON c.customer_id OPERATOR(pg_catalog.=) w.customer_id
     CROSS JOIN LATERAL (SELECT u.month, c.source_id, u.currency, u.part, u.n, u.amount
                           FROM ROWS FROM (pg_catalog.unnest(c.month), pg_catalog.unnest(c.currency), pg_catalog.unnest(c.part),
                                          pg_catalog.unnest(c.n), pg_catalog.unnest(c.amount)) u(month, currency, part, n, amount)) k
     CROSS JOIN LATERAL (VALUES
           ('cash', CASE WHEN k.part OPERATOR(pg_catalog.=) 3 THEN k.amount ELSE 0::numeric END,
                    CASE WHEN k.part OPERATOR(pg_catalog.=) 4 THEN k.amount ELSE 0::numeric END),
           ('accounts_receivable', CASE WHEN k.part OPERATOR(pg_catalog.=) 4 THEN k.amount ELSE 0::numeric END,
                                   CASE WHEN k.part OPERATOR(pg_catalog.=) 3 THEN k.amount ELSE 0::numeric END)) a(account, debit, credit)
     WHERE w.txid OPERATOR(pg_catalog.=) p_txid
     GROUP BY k.month, k.source_id, k.currency, k.part, a.account
     ORDER BY k.month, k.source_id, k.currency, k.part, a.account
    ON CONFLICT (month, source_id, currency, part, account) DO UPDATE SET
        n = s.n OPERATOR(pg_catalog.+) excluded.n,
        debit = s.debit OPERATOR(pg_catalog.+) excluded.debit,
        credit = s.credit OPERATOR(pg_catalog.+) excluded.credit;

    IF p_sign OPERATOR(pg_catalog.=) -1 THEN
        DELETE FROM billing._revenue_customer_source cs USING billing._revenue_work w
         WHERE w.txid OPERATOR(pg_catalog.=) p_txid AND cs.customer_id OPERATOR(pg_catalog.=) w.customer_id;
        DELETE FROM billing._revenue_cash k USING billing._revenue_work w
         WHERE w.txid OPERATOR(pg_catalog.=) p_txid AND k.customer_id OPERATOR(pg_catalog.=) w.customer_id;
    END IF;
END
$fn$;
COMMENT ON FUNCTION billing._revenue_summarise(bigint, integer) IS 'Adds (1) or subtracts (-1) the stored results of the customers a refresh recomputes to billing._mrr_summary and billing._journal_summary.';

-- As in 30_revenue_engine.sql, with the summaries kept: the old results' sums leave before the rows
-- are deleted, the new results' sums arrive after they are written.
CREATE OR REPLACE FUNCTION billing.refresh_revenue(full_recompute boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, billing, pg_temp SET jit = off SET work_mem = '128MB' AS $fn$
DECLARE
    v_txid bigint := pg_catalog.txid_current();
    v_count bigint;
BEGIN
    DELETE FROM billing._revenue_pending p WHERE p.txid OPERATOR(pg_catalog.=) v_txid;
    IF full_recompute THEN
        DELETE FROM billing._revenue_dirty;
        INSERT INTO billing._revenue_work (txid, customer_id) SELECT v_txid, c.id FROM billing.customers c;
        TRUNCATE billing._revenue_monthly, billing._refund_effects, billing._mrr_movements,
                 billing._mrr_summary, billing._journal_summary, billing._revenue_customer_source,
                 billing._revenue_cash;
    ELSE
        WITH d AS (DELETE FROM billing._revenue_dirty RETURNING customer_id)
        INSERT INTO billing._revenue_work (txid, customer_id) SELECT v_txid, d.customer_id FROM d;
        PERFORM billing._revenue_summarise(v_txid, -1);
        DELETE FROM billing._revenue_monthly t USING billing._revenue_work w
         WHERE w.txid OPERATOR(pg_catalog.=) v_txid AND t.customer_id OPERATOR(pg_catalog.=) w.customer_id;
        DELETE FROM billing._refund_effects t USING billing._revenue_work w
         WHERE w.txid OPERATOR(pg_catalog.=) v_txid AND t.customer_id OPERATOR(pg_catalog.=) w.customer_id;
        DELETE FROM billing._mrr_movements t USING billing._revenue_work w
         WHERE w.txid OPERATOR(pg_catalog.=) v_txid AND t.customer_id OPERATOR(pg_catalog.=) w.customer_id;
    END IF;
    SELECT pg_catalog.count(*) INTO v_count FROM billing._revenue_work w WHERE w.txid OPERATOR(pg_catalog.=) v_txid;
    IF v_count OPERATOR(pg_catalog.>) 0 THEN
        -- ANALYZE locks the table until commit, which would serialise every writer's commit-time
        -- refresh; only a full recomputation (which truncates the results anyway) pays for it
        IF full_recompute THEN
            ANALYZE billing._revenue_work;
        END IF;
        PERFORM billing._revenue_compute_refunds(v_txid);
        PERFORM billing._revenue_compute_fast(v_txid);
        PERFORM billing._revenue_summarise(v_txid, 1);
    END IF;
    DELETE FROM billing._revenue_work w WHERE w.txid OPERATOR(pg_catalog.=) v_txid;
    IF full_recompute THEN
        -- leave statistics of an empty queue: incremental refreshes then plan index lookups
        ANALYZE billing._revenue_work;
    END IF;
    RETURN v_count;
END
$fn$;

CREATE OR REPLACE VIEW billing.mrr_summary AS
WITH rep AS MATERIALIZED (SELECT NULLIF(billing._setting('reporting_currency'), '') AS currency,
                                 billing._mrr_through() AS through)
SELECT s.month, coalesce(rep.currency, s.currency) AS currency,
       CASE WHEN s.mrr_start_n OPERATOR(pg_catalog.>) 0 THEN s.mrr_start END AS mrr_start,
       CASE WHEN s.new_n OPERATOR(pg_catalog.>) 0 THEN s.new ELSE 0 END AS new, CASE WHEN s.expansion_n OPERATOR(pg_catalog.>) 0 THEN s.expansion ELSE 0 END AS expansion, CASE WHEN s.contraction_n OPERATOR(pg_catalog.>) 0 THEN s.contraction ELSE 0 END AS contraction, CASE WHEN s.churn_n OPERATOR(pg_catalog.>) 0 THEN s.churn ELSE 0 END AS churn, CASE WHEN s.reactivation_n OPERATOR(pg_catalog.>) 0 THEN s.reactivation ELSE 0 END AS reactivation, CASE WHEN s.fx_n OPERATOR(pg_catalog.>) 0 THEN s.fx ELSE 0 END AS fx,
       CASE WHEN s.mrr_end_n OPERATOR(pg_catalog.>) 0 THEN s.mrr_end END AS mrr_end,
       s.customers
FROM billing._mrr_summary s, rep
WHERE s.reporting OPERATOR(pg_catalog.=) (rep.currency IS NOT NULL) AND s.month OPERATOR(pg_catalog.<=) rep.through
  AND s.customer_rows OPERATOR(pg_catalog.>) 0 AND billing._revenue_current();

CREATE OR REPLACE VIEW billing.journal_entries AS
WITH ev AS (
    SELECT s.month, s.source_id, s.currency, s.account, s.debit, s.credit
      FROM billing._journal_summary s WHERE s.n OPERATOR(pg_catalog.>) 0)
SELECT ev.month, coalesce(ms.remote_code, mg.remote_code, ev.account) AS account, ev.currency,
       pg_catalog.sum(ev.debit) AS debit, pg_catalog.sum(ev.credit) AS credit,
       pg_catalog.string_agg(DISTINCT ev.account, ',') AS account_role
FROM ev
LEFT JOIN billing.accounting_maps ms ON ms.map_kind OPERATOR(pg_catalog.=) 'account'
      AND ms.source_id OPERATOR(pg_catalog.=) ev.source_id AND ms.local_key OPERATOR(pg_catalog.=) ev.account
LEFT JOIN billing.accounting_maps mg ON mg.map_kind OPERATOR(pg_catalog.=) 'account' AND mg.source_id IS NULL
      AND mg.local_key OPERATOR(pg_catalog.=) ev.account
WHERE billing._revenue_current()
GROUP BY ev.month, coalesce(ms.remote_code, mg.remote_code, ev.account), ev.currency
HAVING pg_catalog.sum(ev.debit) OPERATOR(pg_catalog.<>) 0 OR pg_catalog.sum(ev.credit) OPERATOR(pg_catalog.<>) 0;

-- An upgraded database fills the summaries from the results it already has (a fresh one has none).
DO $fill$
DECLARE
    v_txid bigint := pg_catalog.txid_current();
BEGIN
    INSERT INTO billing._revenue_work (txid, customer_id)
    SELECT DISTINCT v_txid, r.customer_id FROM billing._revenue_monthly r
    UNION SELECT v_txid, e.customer_id FROM billing._refund_effects e
    UNION SELECT v_txid, p.customer_id FROM billing.payments p
    UNION SELECT v_txid, f.customer_id FROM billing.refunds f;
    PERFORM billing._revenue_summarise(v_txid, 1);
    DELETE FROM billing._revenue_work w WHERE w.txid OPERATOR(pg_catalog.=) v_txid;
END
$fill$;

REVOKE ALL ON billing._mrr_summary, billing._journal_summary, billing._revenue_customer_source, billing._revenue_cash FROM PUBLIC;
REVOKE ALL ON FUNCTION billing._revenue_summarise(bigint, integer) FROM PUBLIC;
GRANT SELECT ON billing._mrr_summary, billing._journal_summary TO billing_admin;
