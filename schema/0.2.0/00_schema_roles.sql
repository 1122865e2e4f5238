-- pg_billing 0.2.0, the first release: roles and the schema's ground rules.
-- The extension's schema (billing) is created by CREATE EXTENSION from the control file.

\echo Use "CREATE EXTENSION pg_billing" to load this file. \quit

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
