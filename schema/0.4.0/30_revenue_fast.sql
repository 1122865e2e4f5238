-- A faster full recomputation (issue 13, item 4). 0.3.0's refresh ran the C engine into a result
-- set, inserted it row by row, and then read the rows it had just written back in SQL to add them
-- to the maintained sums (billing._revenue_summarise), having read the old rows the same way before
-- deleting them: at 10k customers the summaries alone took longer than the engine. One C function
-- now does a refresh's work once the customers are queued: it deletes the old results while
-- subtracting them from the sums, computes the refund effects, runs the engine and writes its rows
-- in COPY-like batches while adding them to the sums, stores the payments and cash refunds per
-- month, and adds the sums' deltas to billing._mrr_summary and billing._journal_summary in one
-- upsert each. The figures are the same to the digit (test/pgtap/revenue_maintained.sql).
-- billing._revenue_summarise, _revenue_compute_fast and _revenue_compute_refunds stay, unused by
-- the refresh, for scripts that called them.
\echo Use "ALTER EXTENSION pg_billing UPDATE TO '0.4.0'" to load this file. \quit

CREATE FUNCTION billing._revenue_refresh(txid bigint, monthly_even boolean, past_due_days integer,
                                         reporting_currency text, full_recompute boolean)
RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'pgb_revenue_refresh';
COMMENT ON FUNCTION billing._revenue_refresh(bigint, boolean, integer, text, boolean) IS 'Recomputes the customers queued under txid in billing._revenue_work: replaces their stored results (unless full_recompute, when the caller has emptied the tables) and applies the change to the maintained summaries.';
REVOKE ALL ON FUNCTION billing._revenue_refresh(bigint, boolean, integer, text, boolean) FROM PUBLIC;

-- As in 35_revenue_maintained.sql of 0.3.0, with the work after queueing done by billing._revenue_refresh.
CREATE OR REPLACE FUNCTION billing.refresh_revenue(full_recompute boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off SET work_mem = '128MB' AS $fn$
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
    END IF;
    SELECT pg_catalog.count(*) INTO v_count FROM billing._revenue_work w WHERE w.txid OPERATOR(pg_catalog.=) v_txid;
    IF v_count OPERATOR(pg_catalog.>) 0 THEN
        -- ANALYZE locks the table until commit, which would serialise every writer's commit-time
        -- refresh; only a full recomputation (which truncates the results anyway) pays for it
        IF full_recompute THEN
            ANALYZE billing._revenue_work;
        END IF;
        PERFORM billing._revenue_refresh(v_txid,
                    billing._setting('recognition') OPERATOR(pg_catalog.=) 'monthly_even',
                    billing._setting('past_due_days')::integer,
                    NULLIF(billing._setting('reporting_currency'), ''),
                    full_recompute);
    END IF;
    DELETE FROM billing._revenue_work w WHERE w.txid OPERATOR(pg_catalog.=) v_txid;
    IF full_recompute THEN
        -- leave statistics of an empty queue: incremental refreshes then plan index lookups
        ANALYZE billing._revenue_work;
    END IF;
    RETURN v_count;
END
$fn$;
