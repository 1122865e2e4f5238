-- The upgrade chain: installing the oldest version and walking ALTER EXTENSION ... UPDATE to the
-- newest gives exactly the objects, definitions, comments and privileges of a fresh install.
SET client_min_messages = warning;
SELECT plan(4);

CREATE TEMP TABLE signature (install text, item text);

CREATE FUNCTION pg_temp.extension_signature() RETURNS SETOF text LANGUAGE sql AS $$
    WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'pg_billing'),
    members AS (
        SELECT d.classid, d.objid FROM pg_depend d, ext WHERE d.refobjid = ext.oid AND d.deptype = 'e'
    )
    SELECT 'member ' || pg_describe_object(classid, objid, 0) FROM members
    UNION ALL
    SELECT format('column %s.%s %s notnull=%s default=%s generated=%s comment=%s', c.relname, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
                  a.attgenerated, col_description(c.oid, a.attnum))
    FROM members m JOIN pg_class c ON c.oid = m.objid AND m.classid = 'pg_class'::regclass
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT format('relation %s kind=%s acl=%s comment=%s view=%s', c.relname, c.relkind, c.relacl,
                  obj_description(c.oid, 'pg_class'), pg_get_viewdef(c.oid))
    FROM members m JOIN pg_class c ON c.oid = m.objid AND m.classid = 'pg_class'::regclass
    UNION ALL
    SELECT format('constraint %s on %s: %s', co.conname, co.conrelid::regclass, pg_get_constraintdef(co.oid))
    FROM pg_constraint co JOIN members m ON m.objid = co.conrelid AND m.classid = 'pg_class'::regclass
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN members m ON m.objid = i.indrelid AND m.classid = 'pg_class'::regclass
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN members m ON m.objid = t.tgrelid AND m.classid = 'pg_class'::regclass WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('function %s acl=%s comment=%s body=%s', p.oid::regprocedure, p.proacl,
                  obj_description(p.oid, 'pg_proc'), md5(pg_get_functiondef(p.oid)))
    FROM members m JOIN pg_proc p ON p.oid = m.objid AND m.classid = 'pg_proc'::regclass
    UNION ALL
    SELECT format('config dump %s where %s', cfg.tbl::regclass, cfg.cond)
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS cfg(tbl, cond) WHERE e.extname = 'pg_billing'
$$;

SELECT is((SELECT min(version) FROM pg_available_extension_versions WHERE name = 'pg_billing'), '0.1.0',
          'the oldest release is 0.1.0');

DROP EXTENSION pg_billing CASCADE;
CREATE EXTENSION pg_billing VERSION '0.1.0';
ALTER EXTENSION pg_billing UPDATE;
INSERT INTO signature SELECT 'upgraded', s FROM pg_temp.extension_signature() s;
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'pg_billing'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'pg_billing'),
          'ALTER EXTENSION UPDATE walks to the default version');

DROP EXTENSION pg_billing CASCADE;
CREATE EXTENSION pg_billing;
INSERT INTO signature SELECT 'fresh', s FROM pg_temp.extension_signature() s;

SELECT set_eq($$SELECT item FROM signature WHERE install = 'upgraded'$$,
              $$SELECT item FROM signature WHERE install = 'fresh'$$,
              'an upgraded install has exactly the objects, definitions, comments and privileges of a fresh one');
SELECT cmp_ok((SELECT count(*) FROM signature WHERE install = 'fresh'), '>', 500::bigint,
              'the comparison covers the whole extension');

SELECT * FROM finish();
