-- Last of 0.4.0: every SQL and PL/pgSQL routine of the extension runs with search_path = pg_catalog,
-- pg_temp, as 05_qualified.sql made it for 0.2.0's. This pins the ones the later topics of this
-- release created or replaced (CREATE OR REPLACE without a SET clause drops the setting), so no
-- topic file can leave one resolving names through billing or a caller's path. Their bodies name
-- every object with its schema.

DO $pin$
DECLARE
    v_routine pg_catalog.record;
BEGIN
    FOR v_routine IN
        SELECT p.oid::pg_catalog.regprocedure AS signature
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang
          JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                     AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
          JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
                                        AND e.extname OPERATOR(pg_catalog.=) 'pg_billing'
         WHERE l.lanname OPERATOR(pg_catalog.=) ANY (ARRAY['sql', 'plpgsql'])
           AND NOT coalesce(p.proconfig OPERATOR(pg_catalog.@>) ARRAY['search_path=pg_catalog, pg_temp'], false)
           -- procedures COMMIT, which a SET clause forbids: they name every object with its schema
           AND p.prokind OPERATOR(pg_catalog.<>) 'p'
         ORDER BY p.oid::pg_catalog.regprocedure::pg_catalog.text
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', v_routine.signature);
    END LOOP;
END
$pin$;
