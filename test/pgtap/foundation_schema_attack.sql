-- Attacks through the billing schema and the search_path (issue 9 items 1 and 3), performed against
-- this cluster. The attacker, pgb_mallory, owns the database (and may create schemas in it, as every
-- database owner may). Its trojans count every call on a sequence (which no rollback undoes, so a
-- call inside a statement that then fails still counts), so an assertion of zero calls means that
-- nothing of pg_billing ever ran them.
SET client_min_messages = warning;
SELECT plan(26);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgb_mallory') THEN
        CREATE ROLE pgb_mallory NOLOGIN;
    END IF;
    EXECUTE format('ALTER DATABASE %I OWNER TO pgb_mallory', current_database());
END
$$;

SET ROLE pgb_mallory;
CREATE SCHEMA mallory;
CREATE SEQUENCE mallory.calls;
GRANT USAGE ON SCHEMA mallory TO PUBLIC;
GRANT USAGE, SELECT, UPDATE ON mallory.calls TO PUBLIC;
-- a trojan's work, then the real thing (named in full, so that a trojan never calls itself)
CREATE FUNCTION mallory.record(what text) RETURNS void LANGUAGE sql AS
    $$ SELECT pg_catalog.nextval('mallory.calls'::pg_catalog.regclass) $$;
RESET ROLE;

-- The trojans, created by whoever can create in the schema given.
CREATE FUNCTION pg_temp.plant_trojans(p_schema text) RETURNS void LANGUAGE plpgsql AS $plant$
BEGIN
    EXECUTE format($t$
        CREATE FUNCTION %1$I.format(text, text, text) RETURNS text LANGUAGE plpgsql AS
            $f$ BEGIN PERFORM mallory.record('format(text, text, text)'); RETURN pg_catalog.format($1, $2, $3); END $f$;
        CREATE FUNCTION %1$I.format(text, text) RETURNS text LANGUAGE plpgsql AS
            $f$ BEGIN PERFORM mallory.record('format(text, text)'); RETURN pg_catalog.format($1, $2); END $f$;
        CREATE FUNCTION %1$I.trojan_ge(numeric, integer) RETURNS boolean LANGUAGE plpgsql AS
            $f$ BEGIN PERFORM mallory.record('>=(numeric, integer)'); RETURN $1 OPERATOR(pg_catalog.>=) $2::pg_catalog.numeric; END $f$;
        CREATE OPERATOR %1$I.>= (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = %1$I.trojan_ge);
        CREATE FUNCTION %1$I.trojan_gt(numeric, integer) RETURNS boolean LANGUAGE plpgsql AS
            $f$ BEGIN PERFORM mallory.record('>(numeric, integer)'); RETURN $1 OPERATOR(pg_catalog.>) $2::pg_catalog.numeric; END $f$;
        CREATE OPERATOR %1$I.> (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = %1$I.trojan_gt);
    $t$, p_schema);
END
$plant$;

CREATE FUNCTION pg_temp.trojan_calls() RETURNS bigint LANGUAGE sql AS
    $$ SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM mallory.calls $$;

-- ---- 1. A billing schema prepared before CREATE EXTENSION -----------------------------------------
DROP EXTENSION pg_billing CASCADE;
DROP SCHEMA billing;  -- DROP EXTENSION leaves the schema: it is not a member
SET ROLE pgb_mallory;
CREATE SCHEMA billing;
SELECT pg_temp.plant_trojans('billing');
RESET ROLE;

SELECT throws_ok('CREATE EXTENSION pg_billing', '42P06', 'schema "billing" already exists and belongs to role "pgb_mallory"',
                 'CREATE EXTENSION refuses a billing schema that another role owns');
ALTER SCHEMA billing OWNER TO CURRENT_USER;
SELECT throws_like('CREATE EXTENSION pg_billing', '%schema "billing" already exists and is not empty%',
                   'and a billing schema the installer owns but that holds objects');
SELECT is(pg_temp.trojan_calls(), 0::bigint, 'the superuser running CREATE EXTENSION ran none of the schema''s functions');
SELECT is((SELECT count(*) FROM pg_extension WHERE extname = 'pg_billing'), 0::bigint, 'and no extension was created');

DROP SCHEMA billing CASCADE;
CREATE SCHEMA billing;
GRANT CREATE ON SCHEMA billing TO pgb_mallory;
SELECT throws_ok('CREATE EXTENSION pg_billing', '42P06',
                 'schema "billing" already exists and other roles may create objects in it',
                 'an empty billing schema is refused when another role may create in it');
REVOKE CREATE ON SCHEMA billing FROM pgb_mallory;
SELECT lives_ok('CREATE EXTENSION pg_billing', 'an empty billing schema of the installer''s, with no one else creating, is used');
SELECT is((SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_billing'),
          'billing', 'and the extension lives in it');

-- after the install, the database owner cannot put anything into the schema
SET ROLE pgb_mallory;
SELECT throws_ok($$CREATE FUNCTION billing.format(text, text, text) RETURNS text LANGUAGE sql AS 'SELECT $1'$$, '42501', NULL,
                 'the database owner cannot create functions in the extension''s schema');
RESET ROLE;

-- ---- 2. 0.2.0 with trojans in its schema: the attack works there ----------------------------------
DROP EXTENSION pg_billing CASCADE;
CREATE EXTENSION pg_billing VERSION '0.2.0';
SELECT pg_temp.plant_trojans('billing');
SELECT throws_ok($$SELECT billing.add_source('vendor', 'advanced_billing', 'https://x.example', '{}')$$, '22023', NULL,
                 '0.2.0: a source without its credentials is refused');
SELECT cmp_ok(pg_temp.trojan_calls(), '>', 0::bigint,
              '0.2.0 ran the trojan format(text, text, text) while building the hint (the attack is real)');
SELECT throws_ok('ALTER EXTENSION pg_billing UPDATE', '55000', 'schema "billing" holds functions or operators that are not pg_billing''s',
                 'the upgrade to 0.3.0 stops while the schema holds foreign functions and operators');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'pg_billing'), '0.2.0', 'and leaves 0.2.0 as it was');

-- ---- 3. 0.3.0, the same trojans planted after the install: never called ---------------------------
DROP EXTENSION pg_billing CASCADE;
DROP FUNCTION billing.format(text, text, text), billing.format(text, text), billing.trojan_ge(numeric, integer),
              billing.trojan_gt(numeric, integer) CASCADE;
DROP SCHEMA billing;
SELECT setval('mallory.calls', 1, false);
CREATE EXTENSION pg_billing VERSION '0.2.0';
ALTER EXTENSION pg_billing UPDATE;
SELECT pg_temp.plant_trojans('billing');

SELECT throws_ok($$SELECT billing.add_source('vendor', 'advanced_billing', 'https://x.example', '{}')$$, '22023', NULL,
                 'a source without its credentials is refused');
SELECT lives_ok($$SELECT billing.add_source('book', 'manual')$$, 'a manual source is added');
SELECT lives_ok($$
    INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('book', 'c1', 'Acme', 'USD');
    INSERT INTO billing.manual_subscriptions (source, external_id, customer, product, quantity, unit_price, currency, interval_months)
    VALUES ('book', 's1', 'c1', 'Seat', 5, 10, 'USD', 1);
    INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, currency, subtotal, total)
    VALUES ('book', 'i1', 'c1', 'open', '2026-01-01', '2026-01-15', 'USD', 120, 120);
    INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, quantity, unit_price, period_start, period_end,
                                              recurring, interval_months)
    VALUES ('book', 'i1', 'l1', 'plan', 12, 10, '2026-01-01', '2027-01-01', true, 12);
    INSERT INTO billing.manual_payments (source, external_id, customer, invoice, amount, currency, payment_date)
    VALUES ('book', 'p1', 'c1', 'i1', 120, 'USD', '2026-01-10');
    INSERT INTO billing.manual_refunds (source, external_id, customer, invoice, amount, currency, refund_date)
    VALUES ('book', 'r1', 'c1', 'i1', 30, 'USD', '2026-04-10');
    INSERT INTO billing.fx_rates (from_currency, to_currency, rate_date, rate) VALUES ('USD', 'EUR', '2025-12-01', 0.9);
$$, 'manual loads of every kind write through the triggers and CHECK constraints');
SELECT throws_like($$INSERT INTO billing.manual_refunds (source, external_id, customer, amount, currency, refund_date)
                     VALUES ('book', 'r2', 'c1', -1, 'USD', '2026-04-11')$$,
                   'refund "r2": new row for relation "refunds" violates check constraint "refunds_amount_positive"',
                   'a refused row is named (the trigger''s own checks run)');
SELECT lives_ok($$SELECT billing.set_setting('recognition', 'monthly_even'), billing.set_setting('mrr_through', 'all')$$,
                'settings are validated and changed');
SELECT lives_ok($$SELECT billing.refresh_revenue(true)$$, 'the revenue refresh runs (C engine)');
SELECT is((SELECT sum(recognized) FROM billing.monthly_revenue), 90.00::numeric,
          'and finds the year''s 120 less the 30 refunded');
SELECT lives_ok($$SELECT billing.set_setting('reporting_currency', 'EUR'); SELECT billing.refresh_revenue(true)$$,
                'the SQL formulation runs with a reporting currency');
SELECT lives_ok($$SELECT count(*) FROM billing.customer_mrr; SELECT count(*) FROM billing.mrr_summary;
                  SELECT count(*) FROM billing.mrr_movements; SELECT count(*) FROM billing.journal_entries$$,
                'every report reads');
SELECT lives_ok($$SELECT billing.request_sync('book'); SELECT billing._worker_tick('{}', now()); SELECT * FROM billing.sync_schedule$$,
                'the worker''s functions run');
CALL billing.sync('book');
SELECT is(pg_temp.trojan_calls(), 0::bigint,
          'through all of it, no trojan function or operator in the billing schema ran');

-- ---- 4. A caller's search_path before pg_catalog (the procedures cannot pin theirs) ----------------
SET ROLE pgb_mallory;
CREATE FUNCTION mallory.trojan_cat(text, bigint) RETURNS text LANGUAGE plpgsql AS
    $f$ BEGIN PERFORM mallory.record('||(text, bigint)'); RETURN pg_catalog.textcat($1, $2::pg_catalog.text); END $f$;
CREATE OPERATOR mallory.|| (LEFTARG = text, RIGHTARG = bigint, FUNCTION = mallory.trojan_cat);
CREATE FUNCTION mallory.trojan_texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $f$ BEGIN PERFORM mallory.record('=(text, text)'); RETURN pg_catalog.texteq($1, $2); END $f$;
CREATE OPERATOR mallory.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mallory.trojan_texteq);
CREATE FUNCTION mallory.trojan_int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
    $f$ BEGIN PERFORM mallory.record('=(bigint, bigint)'); RETURN pg_catalog.int8eq($1, $2); END $f$;
CREATE OPERATOR mallory.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = mallory.trojan_int8eq);
RESET ROLE;
SELECT billing.add_source('broken', 'pax8', 'https://127.0.0.1:9', '{"client_id": "a", "client_secret": "b"}');
SET search_path = mallory, pg_catalog, public;
CALL billing.sync('book');
-- fails (no connector for the kind, or nothing listening): the error is built from the run id
\set ON_ERROR_STOP 0
CALL billing.sync('broken');
\set ON_ERROR_STOP 1
RESET search_path;
SELECT is((SELECT string_agg(r.status, ',' ORDER BY r.id) FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
            WHERE s.name IN ('book', 'broken') AND r.trigger = 'manual'), 'succeeded,succeeded,failed',
          'with a hostile search_path, CALL billing.sync still syncs and fails as it should');
SELECT is(pg_temp.trojan_calls(), 0::bigint, 'and calls none of the operators on the caller''s path');
SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
            JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_billing'
           WHERE p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
             AND p.prokind <> 'p'
             AND (p.proconfig IS NULL OR NOT 'search_path=pg_catalog, pg_temp' = ANY (p.proconfig))), 0::bigint,
          'every SQL and PL/pgSQL function of the extension runs with search_path = pg_catalog, pg_temp (procedures COMMIT, so they carry no SET clause and name everything)');

SELECT * FROM finish();
