-- Hardening (issue 9): schedules that cannot stop the scheduler, and credentials that need never
-- be part of a statement's text. docs/security.md explains each attack and its defence.

-- ---------------------------------------------------------------------------------------------
-- Schedules. A schedule must move forward from every instant: '1 month -29 days' goes backwards
-- from 31 January (28 February minus 29 days is 30 January), so "the next slot after t" never
-- exists, and an infinite anchor has no slots at all. Both used to fail or loop in every tick.

-- The shortest time a schedule can advance: months count as 28 days (31 when negative), days as
-- 24 hours, and two hours are allowed for the daylight-saving shifts a calendar step may cross.
CREATE FUNCTION billing._schedule_min_seconds(every interval) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $fn$
    -- OPERATOR() syntax gives every operator the same precedence: the parentheses are the arithmetic
    SELECT ((v.months OPERATOR(pg_catalog.*) (CASE WHEN v.months OPERATOR(pg_catalog.>) 0 THEN 28 ELSE 31 END))
             OPERATOR(pg_catalog.*) 86400)
           OPERATOR(pg_catalog.+) (v.days OPERATOR(pg_catalog.*) 86400)
           OPERATOR(pg_catalog.+) v.secs
           OPERATOR(pg_catalog.-) (CASE WHEN v.months OPERATOR(pg_catalog.<>) 0 OR v.days OPERATOR(pg_catalog.<>) 0 THEN 7200 ELSE 0 END)
      FROM (SELECT (pg_catalog.extract('year', $1) OPERATOR(pg_catalog.*) 12) OPERATOR(pg_catalog.+) pg_catalog.extract('month', $1) AS months,
                   pg_catalog.extract('day', $1) AS days,
                   (pg_catalog.extract('hour', $1) OPERATOR(pg_catalog.*) 3600)
                   OPERATOR(pg_catalog.+) (pg_catalog.extract('minute', $1) OPERATOR(pg_catalog.*) 60)
                   OPERATOR(pg_catalog.+) pg_catalog.extract('second', $1) AS secs) v
$fn$;
COMMENT ON FUNCTION billing._schedule_min_seconds(interval) IS 'The shortest time, in seconds, that adding the interval can move a timestamp forward (months as 28 days, 31 when negative; two hours off for daylight-saving shifts); a schedule needs at least 60.';

-- An upgraded database may hold rows the new checks refuse: name them rather than fail obscurely.
DO $do$
DECLARE
    v_bad text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s (schedule %s, anchor %s)', s.name, s.schedule,
                                                   coalesce(s.schedule_anchor::text, 'none')), ', ' ORDER BY s.name)
      INTO v_bad
      FROM billing.sources s
     WHERE (s.schedule IS NOT NULL
            AND (billing._schedule_min_seconds(s.schedule) OPERATOR(pg_catalog.<) 60
                 OR s.schedule OPERATOR(pg_catalog.>) interval '100 years'))
        OR (s.schedule_anchor IS NOT NULL AND NOT pg_catalog.isfinite(s.schedule_anchor));
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'sources with a schedule that cannot advance: %', v_bad
            USING ERRCODE = 'check_violation',
                  HINT = 'Give each a schedule that moves forward from every date (e.g. ''1 month'' or ''30 days'') and a finite schedule_anchor, then update the extension again.';
    END IF;
END
$do$;

ALTER TABLE billing.sources
    ADD CONSTRAINT sources_schedule_steps_forward
        CHECK (schedule IS NULL OR (billing._schedule_min_seconds(schedule) OPERATOR(pg_catalog.>=) 60
                                    AND schedule OPERATOR(pg_catalog.<=) interval '100 years')),
    ADD CONSTRAINT sources_schedule_anchor_finite
        CHECK (schedule_anchor IS NULL OR pg_catalog.isfinite(schedule_anchor));
COMMENT ON CONSTRAINT sources_schedule_steps_forward ON billing.sources IS 'A schedule moves forward by at least a minute from every date (no ''1 month -29 days'') and is at most 100 years.';
COMMENT ON CONSTRAINT sources_schedule_anchor_finite ON billing.sources IS 'An infinite schedule anchor has no slots.';

-- The scheduler evaluates every source's next slot in one tick: a row that got past the checks
-- (they were dropped, or disabled by a superuser) yields no slot instead of failing or looping
-- in that tick, so it cannot stop the other sources' runs.
CREATE OR REPLACE FUNCTION billing._next_slot(anchor timestamptz, every interval, t timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_n bigint;
    v_slot timestamptz;
    v_steps integer := 0;
BEGIN
    IF anchor IS NULL OR every IS NULL OR t IS NULL
       OR NOT pg_catalog.isfinite(anchor) OR NOT pg_catalog.isfinite(t)
       OR billing._schedule_min_seconds(every) OPERATOR(pg_catalog.<) 60 THEN
        RETURN NULL;
    END IF;
    v_n := pg_catalog.floor(pg_catalog.extract('epoch', t OPERATOR(pg_catalog.-) anchor)
                            OPERATOR(pg_catalog./) pg_catalog.extract('epoch', every))::bigint;
    v_slot := anchor OPERATOR(pg_catalog.+) (every OPERATOR(pg_catalog.*) v_n::double precision);
    -- calendar intervals (days across a DST change, months) are not fixed lengths: step to the
    -- first slot after t; a few steps suffice, so many mean the schedule is not what it seems
    WHILE v_slot OPERATOR(pg_catalog.>) t LOOP
        v_slot := v_slot OPERATOR(pg_catalog.-) every;
        v_steps := v_steps OPERATOR(pg_catalog.+) 1;
        IF v_steps OPERATOR(pg_catalog.>) 1000 THEN
            RETURN NULL;
        END IF;
    END LOOP;
    WHILE v_slot OPERATOR(pg_catalog.<=) t LOOP
        v_slot := v_slot OPERATOR(pg_catalog.+) every;
        v_steps := v_steps OPERATOR(pg_catalog.+) 1;
        IF v_steps OPERATOR(pg_catalog.>) 1000 THEN
            RETURN NULL;
        END IF;
    END LOOP;
    RETURN v_slot;
EXCEPTION WHEN datetime_field_overflow OR interval_field_overflow OR numeric_value_out_of_range
               OR invalid_parameter_value OR division_by_zero THEN
    RETURN NULL;	-- out of the timestamp range: there is no next slot
END
$fn$;
COMMENT ON FUNCTION billing._next_slot(timestamptz, interval, timestamptz) IS 'The first instant anchor + n * every after t; null when there is none (infinite anchor, a schedule that cannot advance, out of range).';

-- ---------------------------------------------------------------------------------------------
-- Credentials. A statement's text is logged whole when it fails (log_min_error_statement), shown
-- in pg_stat_activity and, with log_statement, logged always; and jsonb's input function quotes
-- malformed JSON in its error. So:
--   * set_credentials(source, text) parses the JSON itself and never quotes it;
--   * set_credentials_from_file(source, path) reads the key from a server file, so the key is in
--     no statement at all (the path is);
--   * a driver's bound parameter (extended protocol) keeps the key out of the statement text too
--     (docs/security.md).

CREATE FUNCTION billing._credentials_json(credentials text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    -- the cast's own error quotes the input (DETAIL and CONTEXT "JSON data, line 1: ..."); caught
    -- here, it is never reported, and a message that shows nothing of the input replaces it
    RETURN credentials::jsonb;
EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'credentials are not valid JSON'
        USING ERRCODE = 'invalid_text_representation',
              DETAIL = 'The input is not shown because it holds a secret.',
              HINT = 'Credentials are a JSON object such as {"api_key": "..."}; check the quotes and braces.';
END
$fn$;
COMMENT ON FUNCTION billing._credentials_json(text) IS 'Parses credentials text as jsonb; a malformed input raises an error that shows none of it.';

CREATE FUNCTION billing.set_credentials(source text, credentials text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    PERFORM billing.set_credentials(set_credentials.source, billing._credentials_json(set_credentials.credentials));
END
$fn$;
COMMENT ON FUNCTION billing.set_credentials(text, text) IS 'Replaces (rotates) the credentials of a source, given as JSON text; malformed JSON is refused without being quoted. A literal or an untyped bound parameter picks this form.';

CREATE FUNCTION billing.set_credentials_from_file(source text, path text) RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'pgb_set_credentials_from_file';
COMMENT ON FUNCTION billing.set_credentials_from_file(text, text) IS 'Replaces the credentials of a source with the JSON object in a file on the database server (at most 64 kB), so the key is never in a statement''s text; needs superuser or pg_read_server_files, and billing_admin.';

REVOKE ALL ON FUNCTION billing._schedule_min_seconds(interval), billing._credentials_json(text),
                       billing.set_credentials(text, text), billing.set_credentials_from_file(text, text) FROM PUBLIC;
-- the check constraint calls _schedule_min_seconds for whoever writes billing.sources
GRANT EXECUTE ON FUNCTION billing._schedule_min_seconds(interval) TO billing_reader, billing_admin;
GRANT EXECUTE ON FUNCTION billing._credentials_json(text), billing.set_credentials(text, text),
                          billing.set_credentials_from_file(text, text) TO billing_admin;

-- ---------------------------------------------------------------------------------------------
-- Log injection. The C code's messages are escaped as they are raised (src/pg_billing.c), but a
-- run's error is caught and stored first, then raised again by CALL billing.sync or logged by the
-- worker: it is stored escaped, so a vendor's newline never starts a line of its own anywhere.
-- Source names are quoted in almost every message, also by PL/pgSQL: none holds a control character.
DO $do$
DECLARE
    v_bad text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.quote_literal(s.name), ', ' ORDER BY s.id) INTO v_bad
      FROM billing.sources s WHERE s.name OPERATOR(pg_catalog.~) '[[:cntrl:]]';
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'source names with control characters: %', v_bad
            USING ERRCODE = 'check_violation',
                  HINT = 'Rename them (UPDATE billing.sources SET name = ...), then update the extension again.';
    END IF;
END
$do$;
ALTER TABLE billing.sources
    ADD CONSTRAINT sources_name_printable CHECK (name OPERATOR(pg_catalog.!~) '[[:cntrl:]]');
COMMENT ON CONSTRAINT sources_name_printable ON billing.sources IS 'Source names hold no control character (newline, escape...): they are quoted in log and error messages.';

CREATE FUNCTION billing._escape_control(s text) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgb_escape_control';
COMMENT ON FUNCTION billing._escape_control(text) IS 'The text with every control character escaped (\n, \r, \t, else \xHH), as pg_billing escapes vendor text in its log and error messages.';

CREATE OR REPLACE FUNCTION billing._finish_run(run_id bigint, error text DEFAULT NULL, error_detail text DEFAULT NULL) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    UPDATE billing.sync_runs r
       SET status = CASE WHEN $2 IS NULL THEN 'succeeded' ELSE 'failed' END,
           finished_at = pg_catalog.clock_timestamp(), error = billing._escape_control($2),
           -- the detail's lines (detail, "Hint: ...", "SQLSTATE ...") stay lines; all else is escaped
           error_detail = CASE WHEN $3 IS NOT NULL THEN pg_catalog.array_to_string(ARRAY(
               SELECT billing._escape_control(t.line)
                 FROM pg_catalog.regexp_split_to_table($3, E'\n') WITH ORDINALITY AS t(line, n) ORDER BY t.n), E'\n') END,
           current_entity = NULL, current_page = NULL
     WHERE r.id OPERATOR(pg_catalog.=) $1;
    UPDATE billing.sources s SET last_success_at = pg_catalog.clock_timestamp()
      FROM billing.sync_runs r WHERE r.id OPERATOR(pg_catalog.=) $1 AND s.id OPERATOR(pg_catalog.=) r.source_id AND $2 IS NULL;
$fn$;
COMMENT ON FUNCTION billing._finish_run(bigint, text, text) IS 'Ends a run as succeeded, or failed with its error (control characters escaped, but the line breaks between the detail''s parts: the error may quote a vendor).';

REVOKE ALL ON FUNCTION billing._escape_control(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billing._escape_control(text) TO billing_reader, billing_admin;
