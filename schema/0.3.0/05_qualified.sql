-- pg_billing 0.3.0: no name in pg_billing's code can resolve to an object someone else put in the
-- billing schema or on a caller's search_path (issue 9, items 1 and 3). docs/schema.md explains.
\echo Use "ALTER EXTENSION pg_billing UPDATE TO '0.3.0'" to load this file. \quit

-- A database that installed 0.2.0 into a billing schema someone else had prepared may have that
-- someone's functions and operators bound into its constraints and views, or waiting to be called.
-- Upgrading would keep them; the upgrade stops and names them instead. (A fresh install has refused
-- such a schema before this file runs, so there this finds nothing.)
DO $foreign$
DECLARE
    v_list pg_catalog.text;
BEGIN
    SELECT pg_catalog.string_agg(o.what, ', ' ORDER BY o.what) INTO v_list FROM (
        SELECT pg_catalog.format('function %s', p.oid::pg_catalog.regprocedure) AS what
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'billing'::pg_catalog.regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                            WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                              AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')
        UNION ALL
        SELECT pg_catalog.format('operator %s', o.oid::pg_catalog.regoperator)
          FROM pg_catalog.pg_operator o
         WHERE o.oprnamespace OPERATOR(pg_catalog.=) 'billing'::pg_catalog.regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                            WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_operator'::pg_catalog.regclass
                              AND d.objid OPERATOR(pg_catalog.=) o.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')) o;
    IF v_list IS NOT NULL THEN
        RAISE EXCEPTION 'schema "billing" holds functions or operators that are not pg_billing''s'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('Found: %s. pg_billing''s definitions could resolve to them.', v_list),
                  HINT = 'Find out who created them and why. Drop them (with CASCADE, which also drops what was bound to them; '
                         'reinstalling pg_billing recreates it), then update again.';
    END IF;
END
$foreign$;

-- Functions run with search_path = pg_catalog, pg_temp. With billing on the path (0.2.0 had
-- "pg_catalog, billing, pg_temp") pg_catalog came first, but a billing.format(text, text, text) or a
-- billing.>=(numeric, integer) still won over pg_catalog's format(text, VARIADIC "any") and
-- >=(numeric, numeric), being the closer match. Off the path, nothing in billing is found unless named
-- billing.x, as every pg_billing body names its own objects. This also covers what no OPERATOR()
-- spelling can: IN lists, CASE x WHEN, NULLIF, BETWEEN and IS DISTINCT FROM look = and < up by path.
DO $paths$
DECLARE
    v_routine pg_catalog.record;
BEGIN
    FOR v_routine IN
        SELECT p.oid::pg_catalog.regprocedure AS signature,
               CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END AS kind
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                     AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
          JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
                                        AND e.extname OPERATOR(pg_catalog.=) 'pg_billing'
         WHERE p.proconfig OPERATOR(pg_catalog.@>) ARRAY['search_path=pg_catalog, billing, pg_temp']
         ORDER BY p.oid::pg_catalog.regprocedure::pg_catalog.text
    LOOP
        EXECUTE pg_catalog.format('ALTER %s %s SET search_path = pg_catalog, pg_temp', v_routine.kind, v_routine.signature);
    END LOOP;
END
$paths$;

-- CHECK constraints comparing a numeric column with an integer literal were bound to whatever
-- >=(numeric, integer) the schema offered when 0.2.0 was installed. Added again with numeric
-- literals, which only pg_catalog's >=(numeric, numeric) matches exactly; same names, same meaning.
ALTER TABLE billing.subscriptions DROP CONSTRAINT subscriptions_quantity_non_negative,
    ADD CONSTRAINT subscriptions_quantity_non_negative
        CHECK (quantity OPERATOR(pg_catalog.>=) 0::pg_catalog.numeric AND included_quantity OPERATOR(pg_catalog.>=) 0::pg_catalog.numeric);
ALTER TABLE billing.credit_note_allocations DROP CONSTRAINT credit_note_allocations_amount_positive,
    ADD CONSTRAINT credit_note_allocations_amount_positive CHECK (amount OPERATOR(pg_catalog.>) 0::pg_catalog.numeric);
ALTER TABLE billing.refunds DROP CONSTRAINT refunds_amount_positive,
    ADD CONSTRAINT refunds_amount_positive CHECK (amount OPERATOR(pg_catalog.>) 0::pg_catalog.numeric);
ALTER TABLE billing.fx_rates DROP CONSTRAINT fx_rates_rate_positive,
    ADD CONSTRAINT fx_rates_rate_positive CHECK (rate OPERATOR(pg_catalog.>) 0::pg_catalog.numeric);

-- Procedures that COMMIT cannot carry SET search_path, so they run with their caller's, which a
-- database owner can set for everyone (ALTER DATABASE ... SET search_path), putting a schema of theirs
-- before pg_catalog. Here every type, function and operator is named with its schema; nothing is
-- looked up by path. (0.2.0 joined a bigint to text with a bare ||, issue 9 item 3.)
CREATE OR REPLACE PROCEDURE billing._sync_run(run_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_kind pg_catalog.text;
    v_name pg_catalog.text;
BEGIN
    SELECT s.kind, s.name INTO v_kind, v_name
      FROM billing.sync_runs r JOIN billing.sources s ON s.id OPERATOR(pg_catalog.=) r.source_id
     WHERE r.id OPERATOR(pg_catalog.=) run_id;
    UPDATE billing.sync_runs r SET status = 'running', started_at = coalesce(r.started_at, pg_catalog.clock_timestamp())
     WHERE r.id OPERATOR(pg_catalog.=) run_id;
    COMMIT;
    IF v_kind OPERATOR(pg_catalog.=) 'manual' THEN
        -- users load manual sources themselves: there is nothing to fetch
        PERFORM billing._finish_run(run_id);
    ELSIF v_kind OPERATOR(pg_catalog.=) 'advanced_billing' THEN
        CALL billing._sync_connector(run_id);
    ELSE
        PERFORM billing._finish_run(run_id, pg_catalog.format('source "%s": no connector for kind %s in this version', v_name, v_kind));
    END IF;
    COMMIT;
    -- the pages deferred the revenue refresh of the customers they touched: one refresh for them all
    PERFORM billing.refresh_revenue();
    COMMIT;
END
$fn$;

CREATE OR REPLACE PROCEDURE billing.sync(source text)
LANGUAGE plpgsql AS $fn$
BEGIN
    CALL billing.sync(source, false);
END
$fn$;

CREATE OR REPLACE PROCEDURE billing.sync(source text, full_reconcile boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_source pg_catalog.int8 := billing._source_id(source);
    v_run pg_catalog.int8;
    v_error pg_catalog.text;
    v_detail pg_catalog.text;
BEGIN
    -- refused before a run exists: a sync already under way is not this source failing
    IF billing._sync_in_progress(v_source) THEN
        RAISE EXCEPTION 'source "%" is being synced by another session', source
            USING ERRCODE = 'lock_not_available',
                  HINT = 'Wait for that sync to end; billing.sync_progress shows it.';
    END IF;
    v_run := billing._start_run(v_source, 'manual');
    UPDATE billing.sync_runs r SET full_reconcile = coalesce(sync.full_reconcile, false) WHERE r.id OPERATOR(pg_catalog.=) v_run;
    COMMIT;
    CALL billing._sync_run(v_run);
    SELECT r.error, r.error_detail INTO v_error, v_detail FROM billing.sync_runs r WHERE r.id OPERATOR(pg_catalog.=) v_run;
    IF v_error IS NOT NULL THEN
        RAISE EXCEPTION 'sync of source "%" failed (run %)', source, v_run
            USING ERRCODE = 'external_routine_exception',
                  DETAIL = pg_catalog.concat_ws(E'\n', v_error, v_detail),
                  HINT = pg_catalog.format('SELECT * FROM billing.sync_runs WHERE id = %s shows the run.', v_run);
    END IF;
END
$fn$;
