-- A full recomputation no longer queues every customer in billing._revenue_work (an insert, an
-- ANALYZE and a delete of one row per customer, and a join to the queue in each of the refresh's
-- reads): billing._revenue_refresh reads every customer's documents when full_recompute is true.
-- Its count is the number of customers, as before. As in 30_revenue_fast.sql of 0.4.0 otherwise.
CREATE OR REPLACE FUNCTION billing.refresh_revenue(full_recompute boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off SET work_mem = '128MB' AS $fn$
DECLARE
    v_txid bigint := pg_catalog.txid_current();
    v_count bigint;
BEGIN
    DELETE FROM billing._revenue_pending p WHERE p.txid OPERATOR(pg_catalog.=) v_txid;
    IF full_recompute THEN
        DELETE FROM billing._revenue_dirty;
        TRUNCATE billing._revenue_monthly, billing._refund_effects, billing._mrr_movements,
                 billing._mrr_summary, billing._journal_summary, billing._revenue_customer_source,
                 billing._revenue_cash;
        SELECT pg_catalog.count(*) INTO v_count FROM billing.customers;
    ELSE
        WITH d AS (DELETE FROM billing._revenue_dirty RETURNING customer_id)
        INSERT INTO billing._revenue_work (txid, customer_id) SELECT v_txid, d.customer_id FROM d;
        SELECT pg_catalog.count(*) INTO v_count FROM billing._revenue_work w WHERE w.txid OPERATOR(pg_catalog.=) v_txid;
    END IF;
    IF v_count OPERATOR(pg_catalog.>) 0 THEN
        PERFORM billing._revenue_refresh(v_txid,
                    billing._setting('recognition') OPERATOR(pg_catalog.=) 'monthly_even',
                    billing._setting('past_due_days')::integer,
                    NULLIF(billing._setting('reporting_currency'), ''),
                    full_recompute);
    END IF;
    DELETE FROM billing._revenue_work w WHERE w.txid OPERATOR(pg_catalog.=) v_txid;
    IF full_recompute THEN
        -- statistics of an empty queue, whatever a large refresh left: incremental refreshes then
        -- plan index lookups (the TRUNCATE above holds its locks until commit anyway)
        ANALYZE billing._revenue_work;
    END IF;
    RETURN v_count;
END
$fn$;

COMMENT ON FUNCTION billing._revenue_refresh(bigint, boolean, integer, text, boolean) IS 'Recomputes the customers queued under txid in billing._revenue_work, replacing their stored results, or with full_recompute every customer (the caller has emptied the tables), and applies the change to the maintained summaries.';
