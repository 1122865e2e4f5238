-- Adding sources and setting their credentials.

CREATE FUNCTION billing._required_credentials(kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT CASE $1
        WHEN 'advanced_billing' THEN ARRAY['api_key']
        WHEN 'pax8'             THEN ARRAY['client_id', 'client_secret']
        WHEN 'connectwise'      THEN ARRAY['company_id', 'public_key', 'private_key', 'client_id']
        WHEN 'splynx'           THEN ARRAY['api_key', 'api_secret']
        WHEN 'xero'             THEN ARRAY['client_id', 'client_secret']
        ELSE ARRAY[]::text[]
    END
$fn$;
COMMENT ON FUNCTION billing._required_credentials(text) IS 'The credential fields each connector needs.';

-- Names the missing fields only: a value, even a wrong one, never reaches a message.
CREATE FUNCTION billing._check_credentials(kind text, credentials jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_missing text[];
BEGIN
    IF credentials IS NULL OR jsonb_typeof(credentials) <> 'object' THEN
        RAISE EXCEPTION 'credentials must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(f ORDER BY f) INTO v_missing
    FROM unnest(billing._required_credentials(kind)) AS f
    WHERE jsonb_typeof(credentials -> f) IS DISTINCT FROM 'string' OR credentials ->> f = '';
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'credentials for a % source lack %', kind, array_to_string(v_missing, ', ')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('A %s source needs the string fields %s.', kind,
                                array_to_string(billing._required_credentials(kind), ', '));
    END IF;
END
$fn$;
COMMENT ON FUNCTION billing._check_credentials(text, jsonb) IS 'Checks that credentials carry the fields the connector needs, naming only the missing fields.';

CREATE FUNCTION billing.add_source(name text, kind text, base_url text DEFAULT NULL,
                                   credentials jsonb DEFAULT '{}'::jsonb,
                                   options jsonb DEFAULT '{}'::jsonb,
                                   schedule interval DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_id bigint;
BEGIN
    PERFORM billing._check_credentials(kind, credentials);
    INSERT INTO billing.sources (name, kind, base_url, options, schedule)
    VALUES (add_source.name, add_source.kind, pg_catalog.rtrim(add_source.base_url, '/'),
            coalesce(add_source.options, '{}'::jsonb), add_source.schedule)
    RETURNING id INTO v_id;
    INSERT INTO billing._credentials (source_id, secret) VALUES (v_id, credentials);
    RETURN v_id;
END
$fn$;
COMMENT ON FUNCTION billing.add_source(text, text, text, jsonb, jsonb, interval) IS 'Adds a source and stores its credentials apart, readable by billing_admin only; returns the source id.';

CREATE FUNCTION billing.set_credentials(source text, credentials jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_source billing.sources;
BEGIN
    SELECT * INTO v_source FROM billing.sources s WHERE s.name = set_credentials.source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source "%" does not exist', set_credentials.source USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM billing._check_credentials(v_source.kind, credentials);
    INSERT INTO billing._credentials AS c (source_id, secret) VALUES (v_source.id, credentials)
    ON CONFLICT (source_id) DO UPDATE SET secret = EXCLUDED.secret, updated_at = pg_catalog.now();
END
$fn$;
COMMENT ON FUNCTION billing.set_credentials(text, jsonb) IS 'Replaces (rotates) the credentials of a source.';

CREATE FUNCTION billing._source_id(source text, expected_kind text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_id bigint;
    v_kind text;
BEGIN
    SELECT s.id, s.kind INTO v_id, v_kind FROM billing.sources s WHERE s.name = _source_id.source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source "%" does not exist', _source_id.source
            USING ERRCODE = 'undefined_object', HINT = 'Add it with billing.add_source(name, kind, ...).';
    END IF;
    IF expected_kind IS NOT NULL AND v_kind <> expected_kind THEN
        RAISE EXCEPTION 'source "%" is a % source, not %', _source_id.source, v_kind, expected_kind
            USING ERRCODE = 'wrong_object_type';
    END IF;
    RETURN v_id;
END
$fn$;
COMMENT ON FUNCTION billing._source_id(text, text) IS 'Looks a source up by name, optionally checking its kind.';

CREATE FUNCTION billing.version() RETURNS text
LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgb_version';
COMMENT ON FUNCTION billing.version() IS 'Version of the loaded pg_billing library.';
