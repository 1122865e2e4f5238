-- Contract test: the ConnectWise connector against Prism serving the ConnectWise Manage subset spec
-- (shared/specs/connectwise/connectwise-manage-subset.yaml). Prism validates every request (paths,
-- query parameters, Basic auth: 401 without it, the required clientId header: 422 without it) and
-- answers with placeholders built from the schemas: every id is -2147483648 and every number
-- -1.8e308, which the decoder must refuse by name (never coerce). So each list is requested once,
-- the incremental filter too, and each run fails on the first placeholder with a message naming
-- the field. If npm could not install Prism, this test fails: it never passes silently.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql
SELECT plan(10);

SELECT isnt(current_setting('pgb_test.prism_cw_url'), 'unavailable',
            'Prism is installed (npm install @stoplight/prism-cli@5.14 in test/fake/start.sh)');
-- Prism takes a few seconds to load the spec: wait for it (at most 60 s).
DO $$
BEGIN
    FOR i IN 1..120 LOOP
        EXIT WHEN current_setting('pgb_test.prism_cw_url') = 'unavailable'
              OR pg_read_file(current_setting('pgb_test.fake_dir') || '/prism_cw.log.txt') LIKE '%Prism is listening%';
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
SELECT ok(pg_read_file(current_setting('pgb_test.fake_dir') || '/prism_cw.log.txt') LIKE '%Prism is listening%', 'Prism is listening');

SELECT billing.add_source('prism', 'connectwise', current_setting('pgb_test.prism_cw_url'),
    jsonb_build_object('company_id', 'acme', 'public_key', 'pub', 'client_id', 'f0e1d2c3-0000-4000-8000-000000000001',
                       'private_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"per_page": 1000, "max_requests_per_second": 50, "vendor_ref_field": "accountNumber"}') AS src \gset
CREATE FUNCTION pg_temp.run_only(entity text) RETURNS void LANGUAGE sql AS $$
    UPDATE billing.sources SET options = options || jsonb_build_object('entities', jsonb_build_array(entity)) WHERE name = 'prism'
$$;

SELECT pg_temp.run_only('companies');
CALL pg_temp.run('prism');
SELECT is((SELECT error FROM pg_temp.last('prism')),
          'companies page 1: field "id" is not an id (an integer from 0 to 2147483647), page rejected',
          'companies: the request is valid; the placeholder id is refused by name');
SELECT pg_temp.run_only('catalog');
CALL pg_temp.run('prism');
SELECT is((SELECT error FROM pg_temp.last('prism')),
          'catalog page 1: field "id" is not an id (an integer from 0 to 2147483647), page rejected',
          'catalog: the same');
SELECT pg_temp.run_only('agreements');
CALL pg_temp.run('prism');
SELECT is((SELECT error FROM pg_temp.last('prism')),
          'agreements page 1: field "id" is not an id (an integer from 0 to 2147483647), page rejected',
          'agreements: the same');
-- additions are listed per stored agreement: one stored by hand
INSERT INTO billing.customers (source_id, external_id, name) VALUES (:src, '7', 'Placeholder');
INSERT INTO billing.contracts (source_id, external_id, customer_id)
SELECT :src, '250', id FROM billing.customers WHERE source_id = :src AND external_id = '7';
SELECT pg_temp.run_only('additions');
CALL pg_temp.run('prism');
SELECT is((SELECT error FROM pg_temp.last('prism')),
          'additions page 1: field "id" is not an id (an integer from 0 to 2147483647), page rejected',
          'additions of agreement 250: the same');
-- an incremental run: its conditions=lastUpdated>[...] is a valid request too
INSERT INTO billing._sync_state (source_id, entity, cursor) VALUES (:src, 'companies', '{"since": "2024-01-01T00:00:00Z"}');
SELECT pg_temp.run_only('companies');
CALL pg_temp.run('prism');
SELECT is((SELECT requests FROM pg_temp.last('prism')), 1::bigint, 'the incremental companies request was answered');

SELECT results_eq($$SELECT m[1] FROM regexp_matches(pg_read_file(current_setting('pgb_test.fake_dir') || '/prism_cw.log.txt'),
                                                    '\[HTTP SERVER\] get (\S+)', 'g') m$$,
                  $$VALUES ('/company/companies'), ('/procurement/catalog'), ('/finance/agreements'), ('/finance/agreements/250/additions'),
                           ('/company/companies')$$,
                  'Prism received the five list requests');
SELECT is((SELECT count(*)::int FROM regexp_matches(pg_read_file(current_setting('pgb_test.fake_dir') || '/prism_cw.log.txt'),
                                                    'Request did not pass the validation rules', 'g')), 0,
          'Prism reported no request that breaks the spec (without Basic auth it would be a 401, without clientId a 422)');
SELECT is((SELECT count(*)::int FROM regexp_matches(pg_read_file(current_setting('pgb_test.fake_dir') || '/prism_cw.log.txt'),
                                                    'The request passed the validation rules', 'g')), 5,
          'Prism validated all 5 requests: paths, page, pageSize, orderBy, conditions, Basic auth and the clientId header');
SELECT * FROM finish();
