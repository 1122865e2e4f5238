-- pg_billing 0.2.0, the first release: roles and the schema's ground rules.
-- The extension's schema (billing) is created by CREATE EXTENSION from the control file.

\echo Use "CREATE EXTENSION pg_billing" to load this file. \quit

-- CREATE EXTENSION reuses a schema named in the control file that already exists, whoever owns it
-- (the CVE-2020-14350 pattern): its owner could have put a billing.format(text, text, text) or a
-- billing.>=(numeric, integer) there, which would then run as the installing superuser, or be bound
-- into constraints and views and run on every write. So an existing billing schema is used only when
-- it is empty, belongs to the installing role and lets nobody else create in it; a schema that
-- CREATE EXTENSION has just made is all three. Checked first, before anything runs that could call
-- into the schema; every name and operator here is pg_catalog's.
DO $schema$
DECLARE
    v_schema pg_catalog.pg_namespace;
    v_objects pg_catalog.text;
    v_creators pg_catalog.text;
    v_hint pg_catalog.text := 'Drop or rename the schema "billing" (DROP SCHEMA billing CASCADE, after moving out '
                              'what you want to keep), then create the extension again: it makes the schema itself.';
BEGIN
    SELECT * INTO v_schema FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'billing';
    IF v_schema.nspowner OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles r
                                                   WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
        RAISE EXCEPTION 'schema "billing" already exists and belongs to role "%"',
                        (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) v_schema.nspowner)
            USING ERRCODE = 'duplicate_schema', HINT = v_hint,
                  DETAIL = 'Its owner could add functions and operators that pg_billing would call with the installing role''s rights.';
    END IF;
    SELECT pg_catalog.string_agg(o.what, ', ' ORDER BY o.what) INTO v_objects FROM (
        SELECT pg_catalog.format('relation %s', c.relname) AS what FROM pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('function %s', p.proname) FROM pg_catalog.pg_proc p
         WHERE p.pronamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('operator %s', o.oprname) FROM pg_catalog.pg_operator o
         WHERE o.oprnamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('type %s', t.typname) FROM pg_catalog.pg_type t
         WHERE t.typnamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('collation %s', c.collname) FROM pg_catalog.pg_collation c
         WHERE c.collnamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('conversion %s', c.conname) FROM pg_catalog.pg_conversion c
         WHERE c.connamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('operator class %s', c.opcname) FROM pg_catalog.pg_opclass c
         WHERE c.opcnamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('operator family %s', f.opfname) FROM pg_catalog.pg_opfamily f
         WHERE f.opfnamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('text search configuration %s', c.cfgname) FROM pg_catalog.pg_ts_config c
         WHERE c.cfgnamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('text search dictionary %s', d.dictname) FROM pg_catalog.pg_ts_dict d
         WHERE d.dictnamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('text search parser %s', p.prsname) FROM pg_catalog.pg_ts_parser p
         WHERE p.prsnamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('text search template %s', t.tmplname) FROM pg_catalog.pg_ts_template t
         WHERE t.tmplnamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('statistics object %s', s.stxname) FROM pg_catalog.pg_statistic_ext s
         WHERE s.stxnamespace OPERATOR(pg_catalog.=) v_schema.oid
        UNION ALL SELECT pg_catalog.format('extension %s', e.extname) FROM pg_catalog.pg_extension e
         WHERE e.extnamespace OPERATOR(pg_catalog.=) v_schema.oid AND e.extname OPERATOR(pg_catalog.<>) 'pg_billing'
        UNION ALL SELECT 'default privileges' FROM pg_catalog.pg_default_acl d
         WHERE d.defaclnamespace OPERATOR(pg_catalog.=) v_schema.oid) o;
    IF v_objects IS NOT NULL THEN
        RAISE EXCEPTION 'schema "billing" already exists and is not empty'
            USING ERRCODE = 'duplicate_schema', HINT = v_hint,
                  DETAIL = pg_catalog.format('It holds %s; pg_billing''s objects could resolve to them.', v_objects);
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(r.rolname), ', ' ORDER BY r.rolname) INTO v_creators
      FROM pg_catalog.aclexplode(v_schema.nspacl) a
      LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
     WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE' AND a.grantee OPERATOR(pg_catalog.<>) v_schema.nspowner;
    IF v_creators IS NOT NULL OR EXISTS (SELECT 1 FROM pg_catalog.aclexplode(v_schema.nspacl) a
                                          WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
                                            AND a.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid) THEN
        RAISE EXCEPTION 'schema "billing" already exists and other roles may create objects in it'
            USING ERRCODE = 'duplicate_schema', HINT = v_hint,
                  DETAIL = pg_catalog.format('CREATE on it is granted to %s.', coalesce(v_creators, 'PUBLIC'));
    END IF;
END
$schema$;

-- Roles are cluster-wide, so a second database that installs pg_billing finds them already there.
-- pg_billing marks the roles it creates with a comment starting "pg_billing: " and adopts an existing
-- role only when that is harmless: the grants that follow would otherwise hand billing data and
-- credentials to whoever can log in as the role, is a member of it, or to whatever it is a member of.
-- Members are accepted only in a role pg_billing made (another database's admins and readers).
-- Nothing is granted before this check: an error here rolls the whole CREATE EXTENSION back.
DO $roles$
DECLARE
    v_name    text;
    v_role    pg_catalog.pg_roles;
    v_ours    boolean;
    v_list    text;
    v_mark    text;
    v_hint    text := 'pg_billing adopts an existing role only when it cannot log in, has no attributes and no '
                      'memberships, and has no members unless pg_billing created it. Drop or rename the role, '
                      'or change it so, then create the extension again.';
BEGIN
    FOREACH v_name IN ARRAY ARRAY['billing_reader', 'billing_admin'] LOOP
        v_mark := CASE v_name
            WHEN 'billing_reader' THEN 'pg_billing: reads billing data, analytics and runs; never credentials.'
            ELSE 'pg_billing: manages sources, credentials, mappings, settings and syncs.' END;
        SELECT * INTO v_role FROM pg_catalog.pg_roles r WHERE r.rolname = v_name;
        IF NOT FOUND THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', v_name);
            EXECUTE pg_catalog.format('COMMENT ON ROLE %I IS %L', v_name, v_mark);
            CONTINUE;
        END IF;
        v_ours := pg_catalog.shobj_description(v_role.oid, 'pg_authid') LIKE 'pg_billing: %';
        IF v_role.rolcanlogin THEN
            RAISE EXCEPTION 'role "%" already exists and can log in', v_name
                USING ERRCODE = 'duplicate_object', HINT = v_hint,
                      DETAIL = 'pg_billing would grant it access to billing data and, for billing_admin, to credentials.';
        END IF;
        v_list := NULLIF(pg_catalog.concat_ws(', ', CASE WHEN v_role.rolsuper THEN 'SUPERUSER' END,
            CASE WHEN v_role.rolcreaterole THEN 'CREATEROLE' END, CASE WHEN v_role.rolcreatedb THEN 'CREATEDB' END,
            CASE WHEN v_role.rolreplication THEN 'REPLICATION' END, CASE WHEN v_role.rolbypassrls THEN 'BYPASSRLS' END), '');
        IF v_list IS NOT NULL THEN
            RAISE EXCEPTION 'role "%" already exists with the attributes %', v_name, v_list
                USING ERRCODE = 'duplicate_object', HINT = v_hint,
                      DETAIL = 'Whoever pg_billing''s role is granted to could use these attributes.';
        END IF;
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(g.rolname), ', ' ORDER BY g.rolname) INTO v_list
        FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
        WHERE m.member = v_role.oid;
        IF v_list IS NOT NULL THEN
            RAISE EXCEPTION 'role "%" already exists and is a member of other roles', v_name
                USING ERRCODE = 'duplicate_object', HINT = v_hint,
                      DETAIL = pg_catalog.format('It is a member of %s; whoever it is granted to would be too.', v_list);
        END IF;
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(u.rolname), ', ' ORDER BY u.rolname) INTO v_list
        FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles u ON u.oid = m.member
        WHERE m.roleid = v_role.oid;
        IF v_list IS NOT NULL AND NOT coalesce(v_ours, false) THEN
            RAISE EXCEPTION 'role "%" already exists and has members', v_name
                USING ERRCODE = 'duplicate_object', HINT = v_hint,
                      DETAIL = pg_catalog.format('Its members (%s) would get access to billing data.', v_list);
        END IF;
        -- adopted: from now on it is pg_billing's role, and other databases may share it with its members
        IF NOT coalesce(v_ours, false) THEN
            EXECUTE pg_catalog.format('COMMENT ON ROLE %I IS %L', v_name, v_mark);
        END IF;
    END LOOP;
END
$roles$;

REVOKE ALL ON SCHEMA billing FROM PUBLIC;
GRANT USAGE ON SCHEMA billing TO billing_reader, billing_admin;

COMMENT ON SCHEMA billing IS 'pg_billing: billing data pulled from vendors, revenue, MRR/ARR, reconciliation and the push to accounting.';
