-- HTTP faults: 429 (Retry-After seconds and HTTP date), 5xx, a page that keeps failing (earlier
-- pages stay, the rerun resumes), timeouts, a hung server (statement_timeout), a huge body, a
-- redirect, a 401. Each test has its own source, scenario and state in the fake.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql

CREATE FUNCTION pg_temp.src(name text, scenario text, options jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/' || scenario,
        jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
        '{"per_page": 2, "max_requests_per_second": 200}'::jsonb || options)
$$;
-- The fake's request log of one scenario: time, status, path.
CREATE FUNCTION pg_temp.reqs(scenario text) RETURNS TABLE (t numeric, status int, path text) LANGUAGE sql AS $$
    SELECT split_part(x, ' ', 1)::numeric, split_part(x, ' ', 2)::int, split_part(x, ' ', 3)
    FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/logs/' || scenario || '.log'), E'\n') x
    WHERE x <> ''
$$;

SELECT plan(47);

-- 429 with Retry-After in seconds: the client waits, sends nothing meanwhile, and the run completes.
SELECT pg_temp.src('r429s', 'r429s-h1');
CALL billing.sync('r429s');
SELECT results_eq($$SELECT status, records_inserted, requests FROM pg_temp.last('r429s')$$,
                  $$VALUES ('succeeded', 18::bigint, 17::bigint)$$, '429 (Retry-After: 1): the run completes with one extra request');
SELECT ok((SELECT min(t) FILTER (WHERE status = 200) - min(t) FILTER (WHERE status = 429)
           FROM pg_temp.reqs('r429s-h1') WHERE path LIKE '%/invoices.json?page=1&%') >= 1.0,
          '429: the retry comes at least Retry-After (1 s) later');
SELECT is((SELECT count(*)::int FROM pg_temp.reqs('r429s-h1') r,
                  (SELECT t AS t429 FROM pg_temp.reqs('r429s-h1') WHERE status = 429) x
           WHERE r.t > x.t429 AND r.t < x.t429 + 1.0), 0, '429: 0 requests before Retry-After');

-- 429 with Retry-After as an HTTP date 2 s ahead.
SELECT pg_temp.src('r429d', 'r429d-h1');
CALL billing.sync('r429d');
SELECT results_eq($$SELECT status, records_inserted, requests FROM pg_temp.last('r429d')$$,
                  $$VALUES ('succeeded', 18::bigint, 17::bigint)$$, '429 (Retry-After: HTTP date): the run completes');
SELECT ok((SELECT min(t) FILTER (WHERE status = 200) - min(t) FILTER (WHERE status = 429)
           FROM pg_temp.reqs('r429d-h1') WHERE path LIKE '%/invoices.json?page=1&%') >= 1.0,
          '429 with a date: the retry waits until that date (second resolution)');

-- A Retry-After longer than pg_billing.http_max_retry_after fails the run instead of waiting.
SET pg_billing.http_max_retry_after = 0;
SELECT pg_temp.src('r429cap', 'r429s-h2');
SELECT billing._start_run(billing._source_id('r429cap'), 'manual') AS run \gset
CALL billing._sync_run(:run);
RESET pg_billing.http_max_retry_after;
SELECT results_eq($$SELECT status, error, records_inserted FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', 'invoices page 1: request failed: HTTP status 429', 9::bigint)$$,
                  'a Retry-After beyond the setting fails the run at once; customers and subscriptions stay');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :run),
               'The server asked to wait 1 s, more than pg_billing.http_max_retry_after \(0 s\)', 'the hint says how long it asked');

-- 503 twice, then fine: retried with backoff.
SELECT pg_temp.src('e503', 'e503-h1');
CALL billing.sync('e503');
SELECT results_eq($$SELECT status, records_inserted, requests FROM pg_temp.last('e503')$$,
                  $$VALUES ('succeeded', 18::bigint, 18::bigint)$$, '503 twice: retried, the run completes');
SELECT is((SELECT array_agg(status ORDER BY t) FROM pg_temp.reqs('e503-h1') WHERE path LIKE '%/invoices.json?page=2&%'),
          ARRAY[503, 503, 200], '503: two failures, then the page');

-- The connection closed twice without an answer, then fine: retried like a 5xx, the run completes.
-- libcurl itself resends once when a reused connection dies before answering (the first drop hits
-- the kept-alive connection), so the server sees one request more than the run counts.
-- (one request at a time: with several connections in the pool, curl's own resend may land on
-- another kept-alive connection and absorb both drops, and the counts below would differ)
SELECT pg_temp.src('drop', 'drop-h1', '{"max_concurrent_requests": 1}');
CALL billing.sync('drop');
SELECT results_eq($$SELECT status, records_inserted, records_updated, requests FROM pg_temp.last('drop')$$,
                  $$VALUES ('succeeded', 18::bigint, 0::bigint, 17::bigint)$$, 'two dropped connections: retried, the run completes');
SELECT is((SELECT array_agg(status ORDER BY t) FROM pg_temp.reqs('drop-h1') WHERE path LIKE '%/invoices.json?page=2&%'),
          ARRAY[0, 0, 200], 'dropped twice (no answer), then the page');

-- The per-source request rate: at 10 requests per second, 16 requests span at least 1.5 s, and no
-- second holds more than 11 of them (10, plus one for the scheduling jitter of a loaded machine:
-- the limiter spaces the starts of requests, the fake logs their arrival after connecting, so two
-- arrivals can be closer than 0.1 s while the rate holds). Without the limit all 16 come within
-- a fraction of a second.
SELECT pg_temp.src('rate', 'ok-h2', '{"max_requests_per_second": 10}');
CALL billing.sync('rate');
SELECT results_eq($$SELECT status, records_inserted, requests FROM pg_temp.last('rate')$$,
                  $$VALUES ('succeeded', 18::bigint, 16::bigint)$$, 'the rate-limited sync completes');
SELECT cmp_ok((SELECT max(t) - min(t) FROM pg_temp.reqs('ok-h2')), '>=', 1.5 - 0.02,
              'max_requests_per_second 10: 16 requests take at least 1.5 s');
SELECT cmp_ok((SELECT max(n) FROM (SELECT count(*) OVER (ORDER BY t RANGE BETWEEN CURRENT ROW AND 0.999 FOLLOWING) AS n
                                     FROM pg_temp.reqs('ok-h2')) w), '<=', 11::bigint,
              'max_requests_per_second 10: no second holds more than 11 requests');
SELECT cmp_ok((SELECT max(t) - min(t) FROM pg_temp.reqs('ok-h2')), '>=', 1.45,
              'max_requests_per_second 10: 16 requests take at least 1.5 s');

-- 500 on invoices page 2 every time: the run fails after max retries, page 1 and before stay.
SELECT pg_temp.src('e500', 'e500-h1');
SELECT billing._start_run(billing._source_id('e500'), 'manual') AS run \gset
CALL billing._sync_run(:run);
SELECT results_eq($$SELECT status, error, records_inserted, pages, requests FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', 'invoices page 2: request failed: HTTP status 500', 11::bigint, 7::bigint, 15::bigint)$$,
                  '500 always: the run is failed, naming the source, entity, page and status');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :run),
               '^4 attempt\(s\); HTTP status 500; response of 19 bytes, hash [0-9a-f]{16}\.',
               'the detail gives attempts, status and a body hash (never the body)');
SELECT results_eq($$SELECT (SELECT count(*) FROM billing.invoices i WHERE i.source_id = billing._source_id('e500')),
                           (SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id WHERE i.source_id = billing._source_id('e500')),
                           (SELECT count(*) FROM billing.customers c WHERE c.source_id = billing._source_id('e500')),
                           (SELECT count(*) FROM billing.subscriptions s WHERE s.source_id = billing._source_id('e500'))$$,
                  $$VALUES (2::bigint, 4::bigint, 5::bigint, 4::bigint)$$, 'the pages committed before the failure stay, whole');
SELECT is((SELECT cursor->>'page' FROM billing._sync_state WHERE source_id = billing._source_id('e500') AND entity = 'invoices'),
          '1', 'the checkpoint says invoices page 1 is done');
-- the server heals (same book, new state): the rerun resumes at page 2 and completes
UPDATE billing.sources SET base_url = replace(base_url, '/s/e500-h1', '/s/ok-h1') WHERE name = 'e500';
CALL billing.sync('e500');
SELECT results_eq($$SELECT status, records_inserted, records_unchanged FROM pg_temp.last('e500')$$,
                  $$VALUES ('succeeded', 7::bigint, 2::bigint)$$, 'the rerun completes: 5 invoices and 2 credit notes new');
SELECT is((SELECT path FROM pg_temp.reqs('ok-h1') WHERE path LIKE '%/invoices.json%' ORDER BY t LIMIT 1),
          '/s/ok-h1/invoices.json?page=2&per_page=2&sort=created_at&direction=asc&line_items=true&discounts=true&taxes=true&credits=true&payments=true&refunds=true',
          'the rerun resumes at invoices page 2, not page 1');
SELECT results_eq($$SELECT (SELECT count(*) FROM billing.invoices i WHERE i.source_id = billing._source_id('e500')),
                           (SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id WHERE i.source_id = billing._source_id('e500')),
                           (SELECT count(*) FROM billing.payments p WHERE p.source_id = billing._source_id('e500'))$$,
                  $$VALUES (7::bigint, 16::bigint, 5::bigint)$$, 'after the rerun every invoice is there once');

-- A slow server and a short timeout: the run fails with the timeout, after the retries.
SET pg_billing.http_timeout = 1000;
SET pg_billing.http_max_retries = 1;
SELECT pg_temp.src('slow', 'slow-h1');
SELECT billing._start_run(billing._source_id('slow'), 'manual') AS run \gset
CALL billing._sync_run(:run);
RESET pg_billing.http_timeout;
RESET pg_billing.http_max_retries;
SELECT results_eq($$SELECT status, requests, records_inserted FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', 2::bigint, 0::bigint)$$, 'timeout: failed after 2 attempts, nothing stored');
SELECT matches((SELECT error FROM billing.sync_runs WHERE id = :run),
               '^customers page 1: request failed: Timeout was reached', 'timeout: the error says so');
UPDATE billing.sources SET base_url = replace(base_url, '/s/slow-h1', '/s/ok-h3') WHERE name = 'slow';
CALL billing.sync('slow');
SELECT results_eq($$SELECT status, records_inserted FROM pg_temp.last('slow')$$,
                  $$VALUES ('succeeded', 18::bigint)$$, 'after a timeout, a rerun against a healthy server completes');

-- A hung server: statement_timeout interrupts the request promptly; the run is recorded as failed.
SELECT pg_temp.src('hang', 'hang-h1');
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = '1s';
\set ON_ERROR_STOP 0
CALL billing.sync('hang');
\set ON_ERROR_STOP 1
RESET statement_timeout;
SELECT cmp_ok(clock_timestamp() - :'t0'::timestamptz, '<', interval '3.5 s', 'statement_timeout (1 s) interrupts a hung request promptly (well under 2.5 s more)');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('hang')$$,
                  $$VALUES ('failed', 'canceling statement due to statement timeout')$$, 'the interrupted run is recorded as failed');

-- A body larger than the cap: aborted in the write callback.
SET pg_billing.http_max_body = '1MB';
SELECT pg_temp.src('big', 'big-h1');
SELECT billing._start_run(billing._source_id('big'), 'manual') AS run \gset
CALL billing._sync_run(:run);
RESET pg_billing.http_max_body;
SELECT results_eq($$SELECT status, error, requests FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', 'invoices page 2: request failed: the response is larger than pg_billing.http_max_body (1024 kB)', 12::bigint)$$,
                  'a huge body is cut off at the cap, not retried');
SELECT is((SELECT count(*)::int FROM billing.invoices WHERE source_id = billing._source_id('big')), 2, 'the big page stored nothing');
UPDATE billing.sources SET base_url = replace(base_url, '/s/big-h1', '/s/ok-h4') WHERE name = 'big';
CALL billing.sync('big');
SELECT results_eq($$SELECT status, records_inserted, (SELECT count(*) FROM billing.invoices WHERE source_id = billing._source_id('big'))
                    FROM pg_temp.last('big')$$,
                  $$VALUES ('succeeded', 7::bigint, 7::bigint)$$, 'after a huge body, the rerun resumes at invoices page 2 and completes');

-- A redirect (to the cloud metadata address) is never followed.
SELECT pg_temp.src('redirect', 'redirect-h1');
SELECT billing._start_run(billing._source_id('redirect'), 'manual') AS run \gset
CALL billing._sync_run(:run);
SELECT results_eq($$SELECT status, error, requests FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', 'customers page 1: request failed: HTTP status 302', 1::bigint)$$,
                  'a redirect is refused at once');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :run), 'Redirects are not followed', 'the hint says why');
UPDATE billing.sources SET base_url = replace(base_url, '/s/redirect-h1', '/s/ok-h5') WHERE name = 'redirect';
CALL billing.sync('redirect');
SELECT results_eq($$SELECT status, records_inserted FROM pg_temp.last('redirect')$$,
                  $$VALUES ('succeeded', 18::bigint)$$, 'after a redirect, a rerun against the right server completes');

-- 401: the key is wrong; no retry; the hint says what to do (and never shows the key).
SELECT pg_temp.src('unauth', 'unauth-h1');
SELECT billing._start_run(billing._source_id('unauth'), 'manual') AS run \gset
CALL billing._sync_run(:run);
SELECT results_eq($$SELECT status, error, requests FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', 'customers page 1: request failed: HTTP status 401', 1::bigint)$$,
                  '401: failed at once');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :run), 'billing.set_credentials', '401: the hint names set_credentials');

-- Basic auth carries the API key as the user (and "x" as the password): the fake's "authkey"
-- scenario accepts only the key it expects.
SELECT billing.add_source('authkey', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/authkey-h1',
                          '{"api_key": "key-authkey-h1"}', '{"per_page": 2, "max_requests_per_second": 200}');
SELECT billing.add_source('authother', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/authkey-h2',
                          '{"api_key": "key-authkey-h1"}', '{"per_page": 2, "max_requests_per_second": 200}');
SELECT billing._start_run(billing._source_id('authkey'), 'manual') AS ka \gset
CALL billing._sync_run(:ka);
SELECT billing._start_run(billing._source_id('authother'), 'manual') AS kb \gset
CALL billing._sync_run(:kb);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id IN ($$ || :ka || ', ' || :kb || ') ORDER BY id',
                  $$VALUES ('succeeded', NULL), ('failed', 'customers page 1: request failed: HTTP status 401')$$,
                  'the API key is sent as the Basic-auth user: the right key is let in, another site''s key is not');

-- A server that ignores the page number sends the same full page for ever: the run stops at the
-- first repeat instead of paging without end.
SELECT pg_temp.src('samepage', 'samepage-h1');
SELECT billing._start_run(billing._source_id('samepage'), 'manual') AS run \gset
CALL billing._sync_run(:run);
SELECT results_eq($$SELECT status, error, requests, pages FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', 'page 2 repeats page 1, run stopped', 2::bigint, 1::bigint)$$,
                  'the same full page twice: the run stops at once, without asking for page 3');
SELECT is((SELECT error_context FROM billing.sync_runs WHERE id = :run), 'source "samepage", entity customers, page 2',
          'the context names source, entity and page');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :run),
               '^Both pages are full and run from record 1001 to record 1002; the server seems to ignore the page number\.\nHint: ',
               'the detail names the repeated records');
SELECT is((SELECT count(*)::int FROM billing.customers WHERE source_id = billing._source_id('samepage')), 2,
          'page 1 was stored once');

-- billing.sync raises after a failed run, with the run's error.
SELECT throws_ok($$SELECT 1/0$$, '22012', NULL, 'sanity: throws_ok works');
\set ON_ERROR_STOP 0
CALL billing.sync('unauth');
\set ON_ERROR_STOP 1
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE source_id = billing._source_id('unauth') AND status = 'failed'), 2,
          'CALL billing.sync raised and recorded the failed run');
UPDATE billing.sources SET base_url = replace(base_url, '/s/unauth-h1', '/s/ok-h6') WHERE name = 'unauth';
CALL billing.sync('unauth');
SELECT results_eq($$SELECT status, records_inserted FROM pg_temp.last('unauth')$$,
                  $$VALUES ('succeeded', 18::bigint)$$, 'after a 401, a rerun with a server that accepts the key completes');

-- The key is in no error, detail or activity row.
SELECT is((SELECT count(*)::int FROM billing.sync_runs
           WHERE strpos(coalesce(error, '') || coalesce(error_detail, ''), pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')) > 0),
          0, 'no run error or detail holds the API key');
SELECT is((SELECT count(*)::int FROM pg_stat_activity
           WHERE strpos(coalesce(query, ''), pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')) > 0),
          0, 'pg_stat_activity does not show the API key');
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE status = 'running'), 0, 'no run is left running');
SELECT is((SELECT count(*)::int FROM billing.sources s WHERE s.options::text LIKE '%canary%' OR s.base_url LIKE '%canary%'), 0,
          'the key is not in sources');

SELECT * FROM finish();
