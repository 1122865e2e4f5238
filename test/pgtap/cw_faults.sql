-- ConnectWise Manage sync under faults (test/fake/connectwise_fake.py scenarios): 429 with
-- Retry-After, 503, a page that keeps failing mid-sync and a truncated body (the run fails with
-- the pages before it committed; the rerun resumes at the agreement it stopped at and completes
-- with nothing half-written or stored twice), a slow server, and wrongly typed fields.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET timezone = 'UTC';
\ir lib/helpers.sql
\ir lib/cw.sql

-- Every table of one source, as one hash (minus synced_at): a rerun must end where a clean run does.
CREATE FUNCTION pg_temp.rows_of(src text) RETURNS text LANGUAGE sql AS $$
    SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
        SELECT 'cus' || row(c.external_id, c.reference, c.name, c.vendor_ref, c.remote_updated_at, c.deleted_at, c.raw)::text
          FROM billing.customers c WHERE c.source_id = billing._source_id(src)
        UNION ALL SELECT 'prd' || row(p.external_id, p.sku, p.price, p.cost, p.billing_cycle, p.raw)::text
          FROM billing.products p WHERE p.source_id = billing._source_id(src)
        UNION ALL SELECT 'con' || row(k.external_id, c.external_id, k.start_date, k.end_date, k.canceled_on, k.raw)::text
          FROM billing.contracts k JOIN billing.customers c ON c.id = k.customer_id WHERE k.source_id = billing._source_id(src)
        UNION ALL SELECT 'sub' || row(s.external_id, c.external_id, k.external_id, s.quantity, s.included_quantity, s.unit_price,
                                      s.unit_cost, s.billable, s.started_at, s.canceled_at, s.deleted_at, s.raw)::text
          FROM billing.subscriptions s JOIN billing.customers c ON c.id = s.customer_id
          LEFT JOIN billing.contracts k ON k.id = s.contract_id WHERE s.source_id = billing._source_id(src)
    ) t(x)
$$;

SELECT plan(20);

-- the reference: a clean run of the same book
SELECT pg_temp.cw('clean', 'ok-f0');
CALL pg_temp.run('clean');
SELECT is((SELECT status FROM pg_temp.last('clean')), 'succeeded', 'a clean run of the book');

-- 429 with Retry-After: 1 on agreement 202's additions: waited for, then the run completes.
SELECT pg_temp.cw('r429', 'r429-f1');
CALL pg_temp.run('r429');
SELECT results_eq($$SELECT status, records_inserted, requests FROM pg_temp.last('r429')$$,
                  $$VALUES ('succeeded', 13::bigint, 11::bigint)$$, '429: the run completes with one request more');
SELECT ok((SELECT min(t) FILTER (WHERE status = 200) - min(t) FILTER (WHERE status = 429)
           FROM pg_temp.cw_reqs('r429-f1') WHERE path LIKE '/finance/agreements/202/additions?%') >= 1.0,
          '429: the retry comes at least Retry-After (1 s) later');
SELECT is(pg_temp.rows_of('r429'), pg_temp.rows_of('clean'), '429: the same rows as a clean run');

-- 503 twice on catalog page 2, then the page.
SELECT pg_temp.cw('e503', 'e503-f2');
CALL pg_temp.run('e503');
SELECT results_eq($$SELECT status, records_inserted, requests FROM pg_temp.last('e503')$$,
                  $$VALUES ('succeeded', 13::bigint, 12::bigint)$$, '503 twice: retried, the run completes');
SELECT is((SELECT array_agg(status ORDER BY n) FROM pg_temp.cw_reqs('e503-f2') WHERE path LIKE '/procurement/catalog?page=2&%'),
          ARRAY[503, 503, 200], '503: two failures, then the page');

-- Agreement 202's additions fail 4 times (every retry): the run fails there, mid-list.
SELECT pg_temp.cw('flaky', 'flaky-f3');
CALL pg_temp.run('flaky');
SELECT results_eq($$SELECT status, error, records_inserted FROM pg_temp.last('flaky')$$,
                  $$VALUES ('failed', 'additions of 202 page 1: request failed: HTTP status 500', 12::bigint)$$,
                  'a failing agreement''s additions fail the run; what came before is stored');
SELECT results_eq($$SELECT external_id FROM billing.subscriptions WHERE source_id = billing._source_id('flaky') ORDER BY 1$$,
                  $$VALUES ('301'), ('302'), ('303')$$, 'agreement 201''s additions are stored, none of 202''s');
SELECT results_eq($$SELECT cursor->>'parent', (cursor->>'page')::int FROM billing._sync_state
                    WHERE source_id = billing._source_id('flaky') AND entity = 'additions'$$,
                  $$VALUES ('202', 0)$$, 'the checkpoint says: under agreement 202, no page committed');
CALL pg_temp.run('flaky');
SELECT results_eq($$SELECT status, records_inserted, records_updated FROM pg_temp.last('flaky')$$,
                  $$VALUES ('succeeded', 1::bigint, 0::bigint)$$, 'the rerun completes: addition 304 inserted, nothing rewritten');
-- (agreement 203's first page was read ahead in the failed run too, two requests in flight by
-- default, so it is counted only for what matters here: 201 once, 202 once it answers)
SELECT results_eq($$SELECT path, count(*) FROM pg_temp.cw_reqs('flaky-f3')
                    WHERE (path LIKE '/finance/agreements/201/additions?%' OR path LIKE '/finance/agreements/202/additions?%') AND status = 200
                    GROUP BY path ORDER BY path$$,
                  $$VALUES ('/finance/agreements/201/additions?page=1&pageSize=2&orderBy=id%20asc', 1::bigint),
                           ('/finance/agreements/201/additions?page=2&pageSize=2&orderBy=id%20asc', 1::bigint),
                           ('/finance/agreements/202/additions?page=1&pageSize=2&orderBy=id%20asc', 1::bigint)$$,
                  'the rerun resumed at agreement 202: agreement 201''s additions were not read again');
SELECT is((SELECT count(*)::int FROM pg_temp.cw_reqs('flaky-f3') WHERE status = 500), 4, 'the failing request was tried 4 times (3 retries)');
SELECT is(pg_temp.rows_of('flaky'), pg_temp.rows_of('clean'), 'after the rerun: the same rows as a clean run');
SELECT is((SELECT cursor FROM billing._sync_state WHERE source_id = billing._source_id('flaky') AND entity = 'additions'),
          '{"since": "2024-01-01T13:00:00Z"}'::jsonb, 'the additions checkpoint settled');

-- A body cut in half (valid HTTP, invalid JSON): the page is rejected, the rerun completes.
SELECT pg_temp.cw('trunc', 'trunc-f4');
CALL pg_temp.run('trunc');
SELECT results_eq($$SELECT status, error ~ '^additions page 1: invalid JSON, page rejected$', records_inserted FROM pg_temp.last('trunc')$$,
                  $$VALUES ('failed', true, 12::bigint)$$, 'a truncated page fails the run naming the entity and page');
CALL pg_temp.run('trunc');
SELECT is((SELECT status FROM pg_temp.last('trunc')), 'succeeded', 'the rerun completes');
SELECT is(pg_temp.rows_of('trunc'), pg_temp.rows_of('clean'), 'after the rerun: the same rows as a clean run');

-- A slow server (3 s per answer) against a 1 s timeout: the run fails on time, nothing stored.
SET pg_billing.http_timeout = 1000;
SELECT pg_temp.cw('slow', 'slow-f5');
CALL pg_temp.run('slow');
RESET pg_billing.http_timeout;
SELECT results_eq($$SELECT status, error ~ '^companies page 1: .*tim', records_inserted FROM pg_temp.last('slow')$$,
                  $$VALUES ('failed', true, 0::bigint)$$, 'a slow server: the request times out, the run fails');

-- Type checks name the entity, record and field.
SELECT pg_temp.cw('wt', 'wrongtype-f6');
CALL pg_temp.run('wt');
SELECT is((SELECT error FROM pg_temp.last('wt')),
          'additions page 1, record 304: field "unitPrice" is a string, expected a number, page rejected',
          'an amount as a string is refused, the record and field named');
SELECT pg_temp.cw('bb', 'badbill-f7');
CALL pg_temp.run('bb');
SELECT is((SELECT error FROM pg_temp.last('bb')),
          'additions page 1, record 304: field "billCustomer" has the unknown value "Sometimes" (Billable, DoNotBill or NoCharge), page rejected',
          'an unknown billCustomer is refused');
SELECT * FROM finish();
