-- One revenue engine (issue 8, item 5). 0.2.0 computed revenue twice: a C engine (src/engines/)
-- used when no reporting currency was set, and a set-based SQL formulation used for a reporting
-- currency (rule C8), for the rule C2a refund effects always, and on demand through the setting
-- pg_billing.revenue_engine = sql. The C engine now computes all of it, so every refresh runs the C
-- engine; the SQL formulation leaves the extension and lives on in test/oracle/revenue_oracle.sql as
-- the oracle the tests compare the engine with. The setting pg_billing.revenue_engine is gone.
\echo Use "ALTER EXTENSION pg_billing UPDATE TO '0.3.0'" to load this file. \quit

-- The SQL formulation: its views and functions (kept, in the same words, by the test oracle).
DROP FUNCTION billing._revenue_compute_monthly(bigint);
DROP FUNCTION billing._revenue_compute_movements(bigint);
DROP FUNCTION billing._invoice_refund_effects(bigint);
DROP FUNCTION billing._refund_has_period_lines(bigint);
DROP FUNCTION billing._fx_rate(text, text, date);
DROP VIEW billing._mrr_lines;
DROP VIEW billing._revenue_schedule;
DROP VIEW billing._revenue_lines;

-- Rule C2a in C: the effects of the cash refunds of the queued customers, as rows of _refund_effects.
CREATE FUNCTION billing._revenue_refund_effects(txid bigint, monthly_even boolean)
RETURNS SETOF billing._refund_effects
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgb_revenue_refund_effects';
COMMENT ON FUNCTION billing._revenue_refund_effects(bigint, boolean) IS 'Rule C2a for the customers queued under txid: contra revenue, excess taken off deferred revenue, tax share, and the rescaled later recognition of each refunded invoice.';

-- The engine learns the reporting currency (rule C8): a fourth argument, and the converted columns.
DROP FUNCTION billing._revenue_engine(bigint, boolean, integer);
CREATE FUNCTION billing._revenue_engine(txid bigint, monthly_even boolean, past_due_days integer,
                                        reporting_currency text)
RETURNS TABLE (customer_id bigint, currency text, month date, recognized numeric, contra numeric, billed numeric,
               deferred_end numeric, unbilled_end numeric, mrr numeric, mrr_prev numeric, movement text,
               movement_amount numeric, ar_debit numeric, ar_credit numeric, deferred_debit numeric,
               deferred_credit numeric, tax_debit numeric, tax_credit numeric, unbilled_change numeric,
               recognized_reporting numeric, mrr_reporting numeric, mrr_reporting_prev numeric,
               movement_reporting numeric, fx numeric)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgb_revenue_engine';
COMMENT ON FUNCTION billing._revenue_engine(bigint, boolean, integer, text) IS 'One ordered pass over the queued customers'' lines: monthly revenue, reported MRR and movements per customer and currency, converted into the reporting currency when one is given (null or empty: none).';

CREATE OR REPLACE FUNCTION billing._revenue_compute_refunds(p_txid bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    INSERT INTO billing._refund_effects (customer_id, currency, invoice_id, refund_id, month, contra, excess, tax, adjust)
    SELECT e.customer_id, e.currency, e.invoice_id, e.refund_id, e.month, e.contra, e.excess, e.tax, e.adjust
      FROM billing._revenue_refund_effects(p_txid, billing._setting('recognition') OPERATOR(pg_catalog.=) 'monthly_even') e
$fn$;

CREATE OR REPLACE FUNCTION billing._revenue_compute_fast(p_txid bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH settings AS MATERIALIZED (
        SELECT billing._setting('recognition') OPERATOR(pg_catalog.=) 'monthly_even' AS monthly_even,
               billing._setting('past_due_days')::integer AS past_due_days,
               NULLIF(billing._setting('reporting_currency'), '') AS reporting_currency),
    r AS MATERIALIZED (
        SELECT e.*, s.reporting_currency AS rcur
          FROM settings s,
               billing._revenue_engine(p_txid, s.monthly_even, s.past_due_days, s.reporting_currency) e),
    rev AS (INSERT INTO billing._revenue_monthly (customer_id, currency, month, recognized, contra, billed,
                deferred_end, unbilled_end, reporting_currency, recognized_reporting, ar_debit, ar_credit,
                deferred_debit, deferred_credit, tax_debit, tax_credit, unbilled_change, mrr, mrr_prev,
                mrr_reporting, mrr_reporting_prev)
            SELECT r.customer_id, r.currency, r.month, r.recognized, r.contra, r.billed, r.deferred_end,
                   r.unbilled_end, r.rcur, r.recognized_reporting, r.ar_debit, r.ar_credit, r.deferred_debit,
                   r.deferred_credit, r.tax_debit, r.tax_credit, r.unbilled_change, r.mrr, r.mrr_prev,
                   r.mrr_reporting, r.mrr_reporting_prev
              FROM r)
    INSERT INTO billing._mrr_movements (customer_id, currency, month, movement, amount, reporting_amount)
    SELECT r.customer_id, r.currency, r.month, r.movement, r.movement_amount, r.movement_reporting
      FROM r WHERE r.movement IS NOT NULL
    UNION ALL
    -- the conversion effect of the month, in the reporting currency (never expansion or contraction)
    SELECT r.customer_id, r.currency, r.month, 'fx', NULL, r.fx
      FROM r WHERE r.fx IS NOT NULL
$fn$;
COMMENT ON FUNCTION billing._revenue_compute_fast(bigint) IS 'Writes monthly revenue, MRR, movements and, with a reporting currency, their converted figures and fx effects of the customers being refreshed, with the C engine.';

-- The refresh no longer chooses an implementation: rule C2a effects first (the engine reads them),
-- then everything else in one pass. Otherwise as in 0.2.0.
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
        TRUNCATE billing._revenue_monthly, billing._refund_effects, billing._mrr_movements;
    ELSE
        WITH d AS (DELETE FROM billing._revenue_dirty RETURNING customer_id)
        INSERT INTO billing._revenue_work (txid, customer_id) SELECT v_txid, d.customer_id FROM d;
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
    END IF;
    DELETE FROM billing._revenue_work w WHERE w.txid OPERATOR(pg_catalog.=) v_txid;
    IF full_recompute THEN
        -- leave statistics of an empty queue: incremental refreshes then plan index lookups
        ANALYZE billing._revenue_work;
    END IF;
    RETURN v_count;
END
$fn$;

REVOKE ALL ON FUNCTION billing._revenue_refund_effects(bigint, boolean),
                       billing._revenue_engine(bigint, boolean, integer, text) FROM PUBLIC;
