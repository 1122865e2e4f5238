-- Revenue, 6 of 7: keeping the results current. Statement triggers queue the customers a statement
-- touched, and a deferred trigger recomputes exactly those customers before the transaction commits.

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
-- Install-script code: every function and operator is pg_catalog's, named as such.
DO $triggers$
DECLARE
    t pg_catalog.text;
BEGIN
    FOREACH t IN ARRAY ARRAY['invoices', 'invoice_lines', 'credit_notes', 'credit_note_lines', 'payments', 'refunds'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER INSERT ON billing.%I REFERENCING NEW TABLE AS new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture()', pg_catalog.concat(t, '_revenue_ins'), t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER UPDATE ON billing.%I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture()', pg_catalog.concat(t, '_revenue_upd'), t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER DELETE ON billing.%I REFERENCING OLD TABLE AS old_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture()', pg_catalog.concat(t, '_revenue_del'), t);
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER TRUNCATE ON billing.%I
                        FOR EACH STATEMENT EXECUTE FUNCTION billing._revenue_capture_all()', pg_catalog.concat(t, '_revenue_trunc'), t);
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
