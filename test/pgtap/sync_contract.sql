-- Contract test: the connector syncs against Prism serving Maxio's published OpenAPI spec. Prism
-- validates every request (paths, query parameters, Basic auth: 401 without it, 422 for a request
-- the spec does not allow) and answers with the spec's own examples, which the decoder must accept.
-- If npm could not install Prism, this test fails: it never passes silently.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(13);

SELECT isnt(current_setting('pgb_test.prism_url'), 'unavailable',
            'Prism is installed (make deps: npm ci in tools/npm)');

-- Prism takes a few seconds to load the spec: wait for it (at most 60 s).
DO $$
BEGIN
    FOR i IN 1..120 LOOP
        EXIT WHEN current_setting('pgb_test.prism_url') = 'unavailable'
              OR pg_read_file(current_setting('pgb_test.fake_dir') || '/prism.log.txt') LIKE '%Prism is listening%';
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
SELECT ok(pg_read_file(current_setting('pgb_test.fake_dir') || '/prism.log.txt') LIKE '%Prism is listening%', 'Prism is listening');

-- Customers, invoices (with every embedded list) and credit notes: Prism answers with the spec's
-- examples, and the whole sync succeeds.
SELECT billing.add_source('prism', 'advanced_billing', current_setting('pgb_test.prism_url'),
    jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"per_page": 200, "max_requests_per_second": 50, "entities": ["customers", "invoices", "credit_notes"]}');
SELECT billing._start_run(billing._source_id('prism'), 'manual') AS r \gset
CALL billing._sync_run(:r);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r,
                  $$VALUES ('succeeded', NULL::text)$$, 'customers, invoices and credit notes sync against the spec''s mock');
SELECT cmp_ok((SELECT records_inserted FROM billing.sync_runs WHERE id = :r), '>=', 5::bigint, 'the spec''s examples were decoded and stored');
SELECT results_eq($$SELECT number, status, total, currency FROM billing.invoices WHERE external_id = 'inv_8htcd29wcq3q6'$$,
                  $$VALUES ('125', 'paid', 100.0, 'USD')$$, 'the spec''s invoice example, exactly');
-- A second run is incremental: its start_datetime is also a valid request.
CALL billing.sync('prism');
SELECT is((SELECT status FROM billing.sync_runs WHERE source_id = billing._source_id('prism') ORDER BY id DESC LIMIT 1), 'succeeded',
          'an incremental run (date_field, start_datetime) is valid too');

-- Subscriptions and their components: for these lists Prism has no example and makes placeholders
-- from the schema ("currency": "string"); the requests pass validation, and the decoder rightly
-- rejects the placeholder currency (never a silent coercion).
UPDATE billing.sources SET options = options || '{"entities": ["subscriptions"]}' WHERE name = 'prism';
SELECT billing._start_run(billing._source_id('prism'), 'manual') AS r \gset
CALL billing._sync_run(:r);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r,
                  $$VALUES ('failed', 'subscriptions page 1, record 0: field "currency" is not an ISO 4217 currency code, page rejected')$$,
                  'subscriptions: the requests (list and components) were answered, the placeholder currency is refused');
SELECT cmp_ok((SELECT count(*)::int FROM regexp_matches(pg_read_file(current_setting('pgb_test.fake_dir') || '/prism.log.txt'),
                                                        'get /subscriptions/0/components\.json', 'g')), '>=', 1,
              'the components of the subscription were requested');

-- Prism's validator accepted every request: paths, query parameters and Basic auth.
SELECT is((SELECT count(*)::int FROM regexp_matches(pg_read_file(current_setting('pgb_test.fake_dir') || '/prism.log.txt'),
                                                    'Request did not pass the validation rules', 'g')), 0,
          'Prism reported no request that breaks the spec (a request without Basic auth would be a 401 here)');
SELECT cmp_ok((SELECT count(*)::int FROM regexp_matches(pg_read_file(current_setting('pgb_test.fake_dir') || '/prism.log.txt'),
                                                        'The request passed the validation rules', 'g')), '=', 8,
              'Prism validated all 8 requests of the three runs (3 + 3 + subscriptions and one components list)');

-- Statements are only in the legacy spec: Prism answers 404, and the run says so.
UPDATE billing.sources SET options = options || '{"entities": ["statements"]}' WHERE name = 'prism';
SELECT billing._start_run(billing._source_id('prism'), 'manual') AS r \gset
CALL billing._sync_run(:r);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r,
                  $$VALUES ('failed', 'statements page 1: request failed: HTTP status 404')$$,
                  'statements (legacy API) are not in the portal spec: 404, reported');
UPDATE billing.sources SET options = options || '{"entities": ["customers", "bogus"]}' WHERE name = 'prism';
SELECT billing._start_run(billing._source_id('prism'), 'manual') AS r \gset
CALL billing._sync_run(:r);
SELECT results_eq($$SELECT status, error, requests FROM billing.sync_runs WHERE id = $$ || :r,
                  $$VALUES ('failed', 'source "prism": option entities names an unknown entity "bogus"', 0::bigint)$$,
                  'an unknown entity in the options fails the run before any request');
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE status = 'running'), 0, 'no run is left running');
SELECT * FROM finish();
