-- The Pax8 sync under the faults the Advanced Billing sync survives (sync_http_faults.sql,
-- sync_data_faults.sql): 429 with and without Retry-After, 5xx, a slow server, a truncated body,
-- a body that is not JSON, wrong types, tokens expiring mid-sync. Every fault hits the child
-- requests of the invoices page (the items of its second invoice, items page 2): a retried fault
-- lets the run complete; any other fails the run with a clear error, stores nothing of that
-- invoices page (no invoice, no line, not even the partner row it names), and a rerun completes.
-- The client secret is the suite's canary: it must appear in no error and no server log.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql

CREATE FUNCTION pg_temp.src(name text, scenario text) RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'pax8', current_setting('pgb_test.pax8_url') || '/s/' || scenario || '/v1',
        jsonb_build_object('client_id', 'pax8-client',
                           'client_secret', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
        jsonb_build_object('per_page', 2, 'max_requests_per_second', 200,
                           'token_url', current_setting('pgb_test.pax8_url') || '/s/' || scenario || '/oauth/token'))
$$;
-- Points a source at another scenario (a healthy server for the rerun).
CREATE FUNCTION pg_temp.heal(name text, scenario text) RETURNS void LANGUAGE sql AS $$
    UPDATE billing.sources SET base_url = current_setting('pgb_test.pax8_url') || '/s/' || scenario || '/v1',
           options = options || jsonb_build_object('token_url', current_setting('pgb_test.pax8_url') || '/s/' || scenario || '/oauth/token')
     WHERE sources.name = heal.name
$$;
-- The fake's log of a scenario: status, path, time.
CREATE FUNCTION pg_temp.reqs(scenario text) RETURNS TABLE (n bigint, status int, path text, t numeric) LANGUAGE sql AS $$
    SELECT l.n, split_part(l.x, ' ', 1)::int, split_part(l.x, ' ', 3), split_part(l.x, ' ', 5)::numeric
    FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/logs/' || scenario || '.log'), E'\n')
         WITH ORDINALITY AS l(x, n)
    WHERE l.x <> ''
$$;
-- The statuses of the faulty request (the March invoice's items, page=1), in order.
CREATE FUNCTION pg_temp.hits(scenario text) RETURNS int[] LANGUAGE sql AS $$
    SELECT array_agg(status ORDER BY n) FROM pg_temp.reqs(scenario)
     WHERE path = 'v1/invoices/44444444-0000-4000-8000-000000000001/items?page=1&size=2'
$$;
-- What a source holds: (customers, subscriptions, invoices, lines).
CREATE FUNCTION pg_temp.held(src text) RETURNS TABLE (customers bigint, subscriptions bigint, invoices bigint, lines bigint) LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM billing.customers WHERE source_id = billing._source_id(src)),
           (SELECT count(*) FROM billing.subscriptions WHERE source_id = billing._source_id(src)),
           (SELECT count(*) FROM billing.invoices WHERE source_id = billing._source_id(src)),
           (SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
             WHERE i.source_id = billing._source_id(src))
$$;

SELECT plan(36);

-- 429 with Retry-After: 1: the client waits at least that long, and the run completes.
SELECT pg_temp.src('f429a', 'r429a-f1');
CALL billing.sync('f429a');
SELECT results_eq($$SELECT status, records_inserted, requests FROM pg_temp.last('f429a')$$,
                  $$VALUES ('succeeded', 11::bigint, 14::bigint)$$, '429 with Retry-After: the run completes with one request more');
SELECT is(pg_temp.hits('r429a-f1'), ARRAY[429, 200], '429 with Retry-After: one refusal, then the page');
SELECT cmp_ok((SELECT max(t) - min(t) FROM pg_temp.reqs('r429a-f1') WHERE path LIKE 'v1/invoices/%0001/items?page=1&%'), '>=', 1.0,
              '429 with Retry-After: the retry comes at least 1 s later');

-- 429 without Retry-After: backoff (pg_billing.http_retry_base), the run completes.
SELECT pg_temp.src('f429n', 'r429n-f1');
CALL billing.sync('f429n');
SELECT results_eq($$SELECT status, records_inserted, requests FROM pg_temp.last('f429n')$$,
                  $$VALUES ('succeeded', 11::bigint, 15::bigint)$$, '429 without Retry-After: retried with backoff, the run completes');
SELECT is(pg_temp.hits('r429n-f1'), ARRAY[429, 429, 200], '429 without Retry-After: two refusals, then the page');

-- 503 twice: retried, the run completes; the invoices and their lines are all there.
SELECT pg_temp.src('f503', 'e503-f1');
CALL billing.sync('f503');
SELECT results_eq($$SELECT status, records_inserted, requests FROM pg_temp.last('f503')$$,
                  $$VALUES ('succeeded', 11::bigint, 15::bigint)$$, '503 twice: retried, the run completes');
SELECT is(pg_temp.hits('e503-f1'), ARRAY[503, 503, 200], '503: two failures, then the page');
SELECT results_eq($$SELECT * FROM pg_temp.held('f503')$$, $$VALUES (4::bigint, 4::bigint, 2::bigint, 4::bigint)$$,
                  '503: everything stored (3 companies and the partner, 4 subscriptions, 2 invoices, 4 lines)');

-- 500 every time: the run fails after the retries; the invoices page is not stored at all, what
-- came before it is; a rerun against a healthy server completes.
SELECT pg_temp.src('f500', 'e500-f1');
CALL pg_temp.run('f500');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('f500')$$,
                  $$VALUES ('failed', 'items of invoice 44444444-0000-4000-8000-000000000001 page 2: request failed: HTTP status 500')$$,
                  '500 every time: the run fails naming the invoice and its items page');
SELECT is(pg_temp.hits('e500-f1'), ARRAY[500, 500, 500, 500], '500: tried 4 times (pg_billing.http_max_retries 3)');
SELECT results_eq($$SELECT * FROM pg_temp.held('f500')$$, $$VALUES (3::bigint, 4::bigint, 0::bigint, 0::bigint)$$,
                  '500: nothing of the invoices page (neither invoice, no line, not the partner row); the companies and subscriptions stay');
SELECT pg_temp.heal('f500', 'ok-f2');
CALL billing.sync('f500');
SELECT results_eq($$SELECT pl.status, pl.records_inserted, h.invoices, h.lines FROM pg_temp.last('f500') pl, pg_temp.held('f500') h$$,
                  $$VALUES ('succeeded', 2::bigint, 2::bigint, 4::bigint)$$, '500: the rerun completes (2 invoices, 4 lines)');

-- A slow server and a 1 s timeout: the run fails with the timeout after the retries.
SET pg_billing.http_timeout = 1000;
SET pg_billing.http_max_retries = 1;
SELECT pg_temp.src('fslow', 'slow-f1');
CALL pg_temp.run('fslow');
RESET pg_billing.http_timeout;
RESET pg_billing.http_max_retries;
SELECT matches((pg_temp.last('fslow')).error, '^items of invoice 44444444-0000-4000-8000-000000000001 page 2: request failed: Timeout was reached',
               'slow: the run fails with the timeout, naming the request');
SELECT results_eq($$SELECT * FROM pg_temp.held('fslow')$$, $$VALUES (3::bigint, 4::bigint, 0::bigint, 0::bigint)$$,
                  'slow: nothing of the invoices page is stored');
SELECT pg_temp.heal('fslow', 'ok-f3');
CALL billing.sync('fslow');
SELECT results_eq($$SELECT pl.status, h.invoices, h.lines FROM pg_temp.last('fslow') pl, pg_temp.held('fslow') h$$,
                  $$VALUES ('succeeded', 2::bigint, 4::bigint)$$, 'slow: the rerun completes');

-- A truncated body (half the JSON), a body that is not JSON: rejected, never retried, nothing stored.
SELECT pg_temp.src('ftrunc', 'trunc-f1');
CALL pg_temp.run('ftrunc');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('ftrunc')$$,
                  $$VALUES ('failed', 'invoice items page 2, record 44444444-0000-4000-8000-000000000001: invalid JSON, page rejected')$$,
                  'truncated body: rejected, the invoice''s items page named');
SELECT is(pg_temp.hits('trunc-f1'), ARRAY[200], 'truncated body: not retried (the answer was complete HTTP)');
SELECT results_eq($$SELECT * FROM pg_temp.held('ftrunc')$$, $$VALUES (3::bigint, 4::bigint, 0::bigint, 0::bigint)$$,
                  'truncated body: nothing of the invoices page is stored');
SELECT pg_temp.heal('ftrunc', 'ok-f4');
CALL billing.sync('ftrunc');
SELECT results_eq($$SELECT pl.status, h.invoices, h.lines FROM pg_temp.last('ftrunc') pl, pg_temp.held('ftrunc') h$$,
                  $$VALUES ('succeeded', 2::bigint, 4::bigint)$$, 'truncated body: the rerun completes');

SELECT pg_temp.src('fbad', 'badjson-f1');
CALL pg_temp.run('fbad');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('fbad')$$,
                  $$VALUES ('failed', 'invoice items page 2, record 44444444-0000-4000-8000-000000000001: invalid JSON, page rejected')$$,
                  'not JSON: rejected');
SELECT results_eq($$SELECT * FROM pg_temp.held('fbad')$$, $$VALUES (3::bigint, 4::bigint, 0::bigint, 0::bigint)$$,
                  'not JSON: nothing of the invoices page is stored');

-- Wrong types: an item's costTotal a boolean; an invoice's total not a decimal. The error names
-- the page, the record (the invoice, and the item) and the field; the whole page is rejected.
SELECT pg_temp.src('fwt', 'wrongtype-f1');
CALL pg_temp.run('fwt');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('fwt')$$,
                  $$VALUES ('failed', 'invoices page 1, record 44444444-0000-4000-8000-000000000001 item 3: field "costTotal" is a boolean, expected a decimal amount, page rejected')$$,
                  'an item''s wrong type: the error names the invoice, the item and the field');
SELECT results_eq($$SELECT * FROM pg_temp.held('fwt')$$, $$VALUES (3::bigint, 4::bigint, 0::bigint, 0::bigint)$$,
                  'an item''s wrong type: neither invoice of the page is stored (the other one was fine)');
SELECT pg_temp.heal('fwt', 'ok-f5');
CALL billing.sync('fwt');
SELECT results_eq($$SELECT pl.status, h.invoices, h.lines FROM pg_temp.last('fwt') pl, pg_temp.held('fwt') h$$,
                  $$VALUES ('succeeded', 2::bigint, 4::bigint)$$, 'wrong type: the rerun completes');

SELECT pg_temp.src('fwi', 'wronginv-f1');
CALL pg_temp.run('fwi');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('fwi')$$,
                  $$VALUES ('failed', 'invoices page 1, record 44444444-0000-4000-8000-000000000001: field "total" is not a decimal number, page rejected')$$,
                  'an invoice''s total "12,50": rejected, record and field named');
SELECT results_eq($$SELECT * FROM pg_temp.held('fwi')$$, $$VALUES (3::bigint, 4::bigint, 0::bigint, 0::bigint)$$,
                  'an invoice''s wrong value: nothing of its page is stored');

-- Tokens that expire every 2 s while invoices and their items are read (0.6 s each): renewed
-- before expiry, never a request with an expired token, everything stored.
SELECT pg_temp.src('fexp', 'expiring-f1');
CALL billing.sync('fexp');
SELECT results_eq($$SELECT pl.status, pl.records_inserted, h.invoices, h.lines FROM pg_temp.last('fexp') pl, pg_temp.held('fexp') h$$,
                  $$VALUES ('succeeded', 11::bigint, 2::bigint, 4::bigint)$$, 'tokens expiring mid-sync: the run completes');
SELECT is((SELECT count(*) FROM pg_temp.reqs('expiring-f1') WHERE status = 401), 0::bigint, 'no request went out with an expired token');
SELECT cmp_ok((SELECT count(*) FROM pg_temp.reqs('expiring-f1') WHERE path = 'oauth/token'), '>=', 4::bigint,
              'the token was renewed during the run (at least 4 tokens over about 7 s)');

-- A rerun after a fault changes nothing that was right: the healed sources hold exactly what a
-- clean sync holds, and a second clean run finds all 11 records unchanged.
SELECT results_eq($$SELECT s.name, h.* FROM billing.sources s, pg_temp.held(s.name) h
                    WHERE s.name IN ('f500', 'fslow', 'ftrunc', 'fwt', 'f503') ORDER BY 1$$,
                  $$VALUES ('f500', 4::bigint, 4::bigint, 2::bigint, 4::bigint), ('f503', 4, 4, 2, 4), ('fslow', 4, 4, 2, 4),
                           ('ftrunc', 4, 4, 2, 4), ('fwt', 4, 4, 2, 4)$$,
                  'every healed source holds what a clean sync holds');
CALL billing.sync('f500');
SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged FROM pg_temp.last('f500')$$,
                  $$VALUES ('succeeded', 0::bigint, 0::bigint, 11::bigint)$$, 'another run changes nothing');
SELECT pg_temp.heal('fbad', 'ok-f6');
CALL billing.sync('fbad');
SELECT results_eq($$SELECT pl.status, h.invoices, h.lines FROM pg_temp.last('fbad') pl, pg_temp.held('fbad') h$$,
                  $$VALUES ('succeeded', 2::bigint, 4::bigint)$$, 'not JSON: the rerun completes');

-- The secret (the canary) is in no error, detail or context, and no statement shows it.
SELECT is((SELECT count(*)::int FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
           WHERE s.kind = 'pax8' AND strpos(concat(r.error, r.error_detail, r.error_context),
                                            pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')) > 0), 0,
          'the client secret is in no run''s error, detail or context');
SELECT is((SELECT count(*)::int FROM pg_stat_activity
           WHERE strpos(coalesce(query, ''), pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')) > 0), 0,
          'no statement shows the client secret');
SELECT is((SELECT count(*)::int FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
           WHERE s.kind = 'pax8' AND r.status = 'running'), 0, 'no run is left running');
SELECT is((SELECT count(*)::int FROM billing.invoices i JOIN billing.sources s ON s.id = i.source_id
           WHERE s.kind = 'pax8' AND i.direction <> 'payable'), 0, 'every Pax8 invoice stored is payable');

SELECT * FROM finish();
