-- Keys out of every log (issue 9 item 6). The canary key of the suite is put into credentials
-- only from files: billing.set_credentials_from_file reads it on the server, so no statement's
-- text holds it; malformed JSON is refused without quoting it (not in the message, detail or
-- context); failing calls run at top level, so log_min_error_statement logs them, and
-- test/run.sh then finds the canary in no server log. Reading a server file needs superuser or
-- pg_read_server_files.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.canary() RETURNS text LANGUAGE sql AS $$
    SELECT pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')
$$;
CREATE FUNCTION pg_temp.path(name text) RETURNS text LANGUAGE sql AS $$
    SELECT current_setting('data_directory') || '/pgb_security_' || name
$$;
-- everything an error shows a client or the log, in one text; arg is bound as $1 (not in the text)
CREATE FUNCTION pg_temp.error_of(sql text, arg text DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text; v_msg text; v_detail text; v_hint text; v_context text;
BEGIN
    EXECUTE sql USING arg;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                            v_hint = PG_EXCEPTION_HINT, v_context = PG_EXCEPTION_CONTEXT;
    RETURN concat_ws(' | ', v_state, v_msg, v_detail, v_hint, v_context);
END
$$;

-- the files, written by the server (no key in any statement: COPY reads it from canary.key)
DO $$
BEGIN
    EXECUTE format('COPY (SELECT jsonb_build_object(%L, pg_temp.canary())::text) TO %L', 'api_key', pg_temp.path('good.json'));
    EXECUTE format('COPY (SELECT %L || pg_temp.canary()) TO %L', '{"api_key": "', pg_temp.path('broken.json'));
    EXECUTE format('COPY (SELECT %L || pg_temp.canary() || %L) TO %L', '{"api_key": ', '}', pg_temp.path('bare.json'));
END
$$;

SELECT plan(16);

SELECT billing.add_source('filed', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/ok-cred1',
                          '{"api_key": "placeholder"}', '{"per_page": 2, "max_requests_per_second": 0, "components": false}');
SELECT lives_ok(format($$SELECT billing.set_credentials_from_file('filed', %L)$$, pg_temp.path('good.json')),
                'set_credentials_from_file reads the key from a server file');
SELECT ok((SELECT secret ->> 'api_key' = pg_temp.canary() FROM billing._credentials
            WHERE source_id = billing._source_id('filed')), 'the stored key is the file''s');
CALL billing.sync('filed');
SELECT is((SELECT status FROM billing.sync_runs WHERE source_id = billing._source_id('filed') ORDER BY id DESC LIMIT 1),
          'succeeded', 'and a sync with it succeeds');

-- malformed JSON holding the key: refused, and nothing of it is shown
SELECT is(split_part(pg_temp.error_of(format($$SELECT billing.set_credentials_from_file('filed', %L)$$, pg_temp.path('broken.json'))),
                     ' | PL/pgSQL', 1),
          '22P02 | credentials are not valid JSON | The input is not shown because it holds a secret. | Credentials are a JSON object such as {"api_key": "..."}; check the quotes and braces.',
          'a malformed file is refused with a message that quotes none of it');
SELECT is(strpos(pg_temp.error_of(format($$SELECT billing.set_credentials_from_file('filed', %L)$$, pg_temp.path('broken.json'))),
                 pg_temp.canary()), 0, 'nor does its context');
SELECT is(strpos(pg_temp.error_of(format($$SELECT billing.set_credentials_from_file('filed', %L)$$, pg_temp.path('bare.json'))),
                 pg_temp.canary()), 0, 'an unquoted key in the file is not echoed either');
SELECT is(strpos(pg_temp.error_of($$SELECT billing.set_credentials('filed', $1)$$, '{"api_key": "' || pg_temp.canary()),
                 pg_temp.canary()), 0, 'set_credentials with malformed JSON text does not echo it');
SELECT matches(pg_temp.error_of($$SELECT billing.set_credentials('filed', $1)$$, '{"api_key": "' || pg_temp.canary()),
               '^22P02 \| credentials are not valid JSON \|', '(a text argument picks the overload that validates quietly)');
SELECT ok(strpos(pg_temp.error_of($$SELECT billing.set_credentials('filed', $1::jsonb)$$, '{"api_key": "' || pg_temp.canary()),
                 pg_temp.canary()) > 0, 'whereas jsonb''s own input error does quote it (why the text form exists)');
SELECT ok((SELECT secret ->> 'api_key' = pg_temp.canary() FROM billing._credentials
            WHERE source_id = billing._source_id('filed')), 'failed calls left the stored key as it was');

-- the same failures at top level: logged with their statement (log_min_error_statement), which
-- holds only the path; test/run.sh greps every server log for the canary
\set ON_ERROR_STOP 0
SELECT billing.set_credentials_from_file('filed', pg_temp.path('broken.json'));
SELECT billing.set_credentials_from_file('filed', pg_temp.path('bare.json'));
SELECT billing.set_credentials_from_file('filed', pg_temp.path('missing.json'));
\set ON_ERROR_STOP 1

SELECT is(split_part(pg_temp.error_of(format($$SELECT billing.set_credentials_from_file('filed', %L)$$, pg_temp.path('missing.json'))),
                     ' | ', 2),
          format('could not open credentials file "%s": No such file or directory', pg_temp.path('missing.json')),
          'a missing file is named');
SELECT throws_ok($$SELECT billing.set_credentials_from_file('filed', 'relative.json')$$, '22023',
                 'credentials file path "relative.json" is not absolute', 'a relative path is refused');

-- who may read server files
SELECT pg_temp.path('good.json') AS good \gset
CREATE ROLE sec_admin_only;
GRANT billing_admin TO sec_admin_only;
CREATE ROLE sec_admin_files;
GRANT billing_admin, pg_read_server_files TO sec_admin_files;
SET ROLE sec_admin_only;
SELECT throws_ok(format($$SELECT billing.set_credentials_from_file('filed', %L)$$, :'good'), '42501',
                 'permission denied to read credentials from a server file', 'billing_admin alone may not read server files');
RESET ROLE;
SET ROLE sec_admin_files;
SELECT lives_ok(format($$SELECT billing.set_credentials_from_file('filed', %L)$$, :'good'),
                'billing_admin with pg_read_server_files may');
RESET ROLE;
SELECT ok(NOT has_function_privilege('billing_reader', 'billing.set_credentials_from_file(text, text)', 'EXECUTE')
          AND NOT has_function_privilege('billing_reader', 'billing.set_credentials(text, text)', 'EXECUTE'),
          'readers cannot set credentials in either new way');
SELECT ok(NOT has_function_privilege('public', 'billing.set_credentials_from_file(text, text)', 'EXECUTE'),
          'nor can PUBLIC');

DROP OWNED BY sec_admin_only, sec_admin_files;
DROP ROLE sec_admin_only;
DROP ROLE sec_admin_files;
-- the files hold the canary: remove them
SELECT format('COPY (SELECT 1) TO PROGRAM %L', format('rm -f %s %s %s', pg_temp.path('good.json'), pg_temp.path('broken.json'),
              pg_temp.path('bare.json'))) AS rm \gset
:rm;
SELECT * FROM finish();
