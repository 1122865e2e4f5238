-- Requests in flight (docs/sync-concurrency.md): a sync with several requests at once stores exactly
-- the rows of a sync with one at a time, never has more in flight than max_concurrent_requests nor
-- starts more than max_requests_per_second, and a failing request in flight (retried, or failing
-- for good) leaves whole pages only; a rerun completes. The fake (test/fake/maxio_fake.py) answers
-- every request 50 ms late and counts what it saw (GET .../_stats, read with COPY FROM PROGRAM).
-- Book "bench100": 5 customers, 10 subscriptions (each with one component), 2 products, 100
-- invoices with 233 lines and 79 payments; per_page 10, so the components of a whole subscriptions
-- page are fetched per page, and the invoices take 10 full pages and an empty 11th.
-- Reading a list ahead: after full page n of a top-level list, pages up to n + max(1, min(n - 2, 4))
-- are asked for at 4 in flight (the next page after pages 1-3, pages 5-6 after page 4, 7-8 after
-- page 5, ... up to 4 ahead); after the full page 10 that is page 14, so pages 12, 13 and 14 are
-- asked for past the list's end (the empty page 11 ends it): 3 requests more than one at a time,
-- and nothing of them is stored.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql
SELECT plan(45);

-- retries come quickly here (the rules are the same, only the waits shorter)
SET pg_billing.http_retry_base = 10;
SET pg_billing.http_retry_max = 50;

-- What the fake saw for one key: requests, the most in flight at once, the most in any one second.
CREATE FUNCTION pg_temp.stats(key text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE v text;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS fake_raw (line text);
    TRUNCATE fake_raw;
    EXECUTE format('COPY fake_raw FROM PROGRAM %L WITH (FORMAT csv, QUOTE e''\x01'', DELIMITER e''\x02'')',
                   format('curl -s --cacert %s/certs/ca.pem %s/s/%s/_stats', current_setting('pgb_test.fake_dir'),
                          current_setting('pgb_test.maxio_url'), key));
    SELECT string_agg(line, '') INTO v FROM fake_raw;
    RETURN v::jsonb;
END $$;

-- A source on key with the given options (per_page 10 and the canary key always).
CREATE FUNCTION pg_temp.src(name text, key text, opts jsonb) RETURNS void LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/' || key,
        jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
        '{"per_page": 10}'::jsonb || opts);
$$;

-- Every row a source synced, without surrogate ids (references by external id), as one hash.
CREATE FUNCTION pg_temp.book(src text) RETURNS text LANGUAGE sql AS $$
    SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
        SELECT 'cus' || row(external_id, reference, name, organization, email, currency, remote_updated_at, deleted_at, raw)::text
          FROM billing.customers WHERE source_id = billing._source_id(src)
        UNION ALL SELECT 'prd' || row(external_id, sku, name, family, price, interval_months, raw)::text
          FROM billing.products WHERE source_id = billing._source_id(src)
        UNION ALL SELECT 'sub' || row(s.external_id, c.external_id, p.external_id, s.state, s.quantity, s.unit_price, s.interval_months,
                                      s.current_period_start, s.current_period_end, s.remote_updated_at, s.deleted_at, s.raw)::text
          FROM billing.subscriptions s JOIN billing.customers c ON c.id = s.customer_id
          LEFT JOIN billing.products p ON p.id = s.product_id WHERE s.source_id = billing._source_id(src)
        UNION ALL SELECT 'inv' || row(i.external_id, c.external_id, s.external_id, i.number, i.status, i.issue_date, i.subtotal, i.total,
                                      i.paid, i.due, i.refunded, i.remote_updated_at, i.deleted_at, i.raw)::text
          FROM billing.invoices i JOIN billing.customers c ON c.id = i.customer_id
          LEFT JOIN billing.subscriptions s ON s.id = i.subscription_id WHERE i.source_id = billing._source_id(src)
        UNION ALL SELECT 'lin' || row(i.external_id, l.external_id, l.line_no, l.kind, l.quantity, l.unit_price, l.subtotal, l.discount,
                                      l.total, l.period_start, l.period_end, l.recurring, l.interval_months, l.full_period_amount, l.raw)::text
          FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id WHERE i.source_id = billing._source_id(src)
        UNION ALL SELECT 'pay' || row(p.external_id, i.external_id, p.amount, p.payment_date, p.raw)::text
          FROM billing.payments p LEFT JOIN billing.invoices i ON i.id = p.invoice_id WHERE p.source_id = billing._source_id(src)
    ) t(x)
$$;

-- The list pages the fake was asked for under key, in the order they arrived ("invoices 12"), from
-- its request log (one line per request: time, status, path?query, client port).
CREATE FUNCTION pg_temp.asked(key text) RETURNS text[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg(m[1] || ' ' || m[2] ORDER BY n), '{}')
      FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/logs/' || key || '.log'), E'\n')
           WITH ORDINALITY AS l(x, n),
           regexp_match(x, '/([a-z_]+)\.json\?page=(\d+)&') AS m
     WHERE m IS NOT NULL
$$;

-- Row counts of a source: customers, subscriptions, products, invoices, lines, payments.
CREATE FUNCTION pg_temp.counts(src text) RETURNS bigint[] LANGUAGE sql AS $$
    SELECT ARRAY[(SELECT count(*) FROM billing.customers WHERE source_id = billing._source_id(src)),
                 (SELECT count(*) FROM billing.subscriptions WHERE source_id = billing._source_id(src)),
                 (SELECT count(*) FROM billing.products WHERE source_id = billing._source_id(src)),
                 (SELECT count(*) FROM billing.invoices WHERE source_id = billing._source_id(src)),
                 (SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
                   WHERE i.source_id = billing._source_id(src)),
                 (SELECT count(*) FROM billing.payments WHERE source_id = billing._source_id(src))]
$$;

SELECT md5(random()::text) AS nonce \gset

-- 1. One request at a time: the baseline.
SELECT pg_temp.src('seq', 'bench100-seq' || substr(:'nonce', 1, 8) || '_d50', '{"max_concurrent_requests": 1, "max_requests_per_second": 0}');
CALL billing.sync('seq');
SELECT results_eq($$SELECT status, pages, error FROM pg_temp.last('seq')$$,
                  $$VALUES ('succeeded', 15::bigint, NULL::text)$$, 'one at a time: the sync succeeds (15 pages)');
SELECT is(pg_temp.counts('seq'), ARRAY[5, 10, 2, 100, 233, 79]::bigint[],
          'one at a time: 5 customers, 10 subscriptions, 2 products, 100 invoices, 233 lines, 79 payments');
SELECT is((SELECT count(*) FROM billing.subscriptions WHERE source_id = billing._source_id('seq')
           AND raw #>> '{components,0,component_handle}' = 'seats'), 10::bigint,
          'one at a time: every subscription has its component in its raw');
SELECT pg_temp.stats('bench100-seq' || substr(:'nonce', 1, 8) || '_d50') AS st \gset
SELECT is((:'st'::jsonb ->> 'max_in_flight')::int, 1, 'one at a time: the fake never saw two requests at once');
SELECT is((:'st'::jsonb ->> 'requests')::bigint, (SELECT requests FROM pg_temp.last('seq')),
          'one at a time: the fake answered as many requests as the run counts');

-- 2. Four at a time: the same rows, the same requests, never more than four in flight.
SELECT pg_temp.src('conc', 'bench100-conc' || substr(:'nonce', 1, 8) || '_d50', '{"max_concurrent_requests": 4, "max_requests_per_second": 0}');
CALL billing.sync('conc');
SELECT results_eq($$SELECT status, pages, error FROM pg_temp.last('conc')$$,
                  $$VALUES ('succeeded', 15::bigint, NULL::text)$$, 'four at a time: the sync succeeds (15 pages)');
SELECT is(pg_temp.counts('conc'), ARRAY[5, 10, 2, 100, 233, 79]::bigint[], 'four at a time: the same row counts');
SELECT is(pg_temp.book('conc'), pg_temp.book('seq'), 'four at a time: exactly the rows of the run with one at a time');
SELECT is((SELECT requests FROM pg_temp.last('conc')), (SELECT requests FROM pg_temp.last('seq')) + 3,
          'four at a time: 3 requests more than one at a time (the invoices read ahead past the end)');
SELECT is((SELECT array_agg(x ORDER BY x) FROM (SELECT unnest(pg_temp.asked('bench100-conc' || substr(:'nonce', 1, 8) || '_d50'))
                                                EXCEPT ALL
                                                SELECT unnest(pg_temp.asked('bench100-seq' || substr(:'nonce', 1, 8) || '_d50'))) t(x)),
          ARRAY['invoices 12', 'invoices 13', 'invoices 14'],
          'four at a time: the requests more are invoices pages 12-14, past the empty page 11 (and nothing of them is stored)');
SELECT is((SELECT array_agg(x ORDER BY x) FROM (SELECT unnest(pg_temp.asked('bench100-seq' || substr(:'nonce', 1, 8) || '_d50'))
                                                EXCEPT ALL
                                                SELECT unnest(pg_temp.asked('bench100-conc' || substr(:'nonce', 1, 8) || '_d50'))) t(x)),
          NULL::text[], 'four at a time: every list page of one at a time was asked for, once');
SELECT pg_temp.stats('bench100-conc' || substr(:'nonce', 1, 8) || '_d50') AS st \gset
SELECT cmp_ok((:'st'::jsonb ->> 'max_in_flight')::int, '<=', 4, 'four at a time: never more than 4 requests in flight');
SELECT cmp_ok((:'st'::jsonb ->> 'max_in_flight')::int, '>=', 3, 'four at a time: requests did overlap (3 or 4 at once)');
SELECT is((:'st'::jsonb ->> 'requests')::bigint, (SELECT requests FROM pg_temp.last('conc')),
          'four at a time: the fake answered as many requests as the run counts');
SELECT is((SELECT cursor->>'since' FROM billing._sync_state WHERE source_id = billing._source_id('conc') AND entity = 'invoices'),
          (SELECT cursor->>'since' FROM billing._sync_state WHERE source_id = billing._source_id('seq') AND entity = 'invoices'),
          'four at a time: the same invoices checkpoint');

-- 3. Four at a time within 10 requests a second: the rate holds (one more in a second for the
-- scheduling jitter of a loaded machine, as in sync_http_faults), and the run takes its time.
SELECT pg_temp.src('rate', 'bench100-rate' || substr(:'nonce', 1, 8) || '_d50', '{"max_concurrent_requests": 4, "max_requests_per_second": 10}');
CALL billing.sync('rate');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('rate')$$, $$VALUES ('succeeded', NULL::text)$$,
                  'rate limited: the sync succeeds');
SELECT is(pg_temp.book('rate'), pg_temp.book('seq'), 'rate limited: the same rows');
SELECT pg_temp.stats('bench100-rate' || substr(:'nonce', 1, 8) || '_d50') AS st \gset
SELECT cmp_ok((:'st'::jsonb ->> 'max_per_second')::int, '<=', 11, 'rate limited: no second holds more than 10 (+1) requests');
SELECT cmp_ok((:'st'::jsonb ->> 'max_in_flight')::int, '<=', 4, 'rate limited: never more than 4 in flight');
SELECT cmp_ok((SELECT extract(epoch FROM finished_at - started_at) FROM pg_temp.last('rate'))::numeric, '>=',
              ((SELECT requests FROM pg_temp.last('rate')) - 1) / 10.0 - 0.05,
              'rate limited: N requests take at least (N - 1) / 10 s');

-- 4. The components request of subscription 2003 answers 500 once, while others are in flight:
-- retried, the run completes with the same rows and one request more.
SELECT pg_temp.src('retry', 'bench100-retry' || substr(:'nonce', 1, 8) || '_cf1_d50', '{"max_concurrent_requests": 4, "max_requests_per_second": 0}');
CALL billing.sync('retry');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('retry')$$, $$VALUES ('succeeded', NULL::text)$$,
                  'a 500 in flight: retried, the sync succeeds');
SELECT is(pg_temp.book('retry'), pg_temp.book('seq'), 'a 500 in flight: the same rows');
SELECT is((SELECT requests FROM pg_temp.last('retry')), (SELECT requests FROM pg_temp.last('conc')) + 1,
          'a 500 in flight: one request more than four at a time without it (the retry)');

-- 5. It answers 500 every time: the run fails on the subscriptions page; that page (with the
-- other subscriptions' components, already fetched) is not stored at all; customers stay.
SELECT pg_temp.src('dead', 'bench100-dead' || substr(:'nonce', 1, 8) || '_cf99_d50', '{"max_concurrent_requests": 4, "max_requests_per_second": 0}');
SELECT billing._start_run(billing._source_id('dead'), 'manual') AS run \gset
CALL billing._sync_run(:run);
SELECT results_eq($$SELECT status, error, split_part(error_context, ', page', 1) FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', 'components of subscription 2003: request failed: HTTP status 500',
                            'source "dead", entity subscriptions')$$,
                  'a 500 for good in flight: the run fails, naming the request (the source in the context)');
SELECT is(pg_temp.counts('dead'), ARRAY[5, 0, 0, 0, 0, 0]::bigint[],
          'a 500 for good: the customers page stays, nothing of the subscriptions page is written');
SELECT is((SELECT cursor->>'page' FROM billing._sync_state WHERE source_id = billing._source_id('dead') AND entity = 'subscriptions'),
          NULL::text, 'a 500 for good: no subscriptions page is checkpointed');
SELECT pg_temp.stats('bench100-dead' || substr(:'nonce', 1, 8) || '_cf99_d50') AS st \gset
SELECT cmp_ok((:'st'::jsonb ->> 'max_in_flight')::int, '<=', 4, 'a 500 for good: never more than 4 in flight');
-- the server heals (same book, a new state): the rerun completes with exactly the baseline's rows
UPDATE billing.sources SET base_url = replace(base_url, '_cf99_d50', '_d50') WHERE name = 'dead';
CALL billing.sync('dead');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('dead')$$, $$VALUES ('succeeded', NULL::text)$$,
                  'after the failure: the rerun succeeds');
SELECT is(pg_temp.book('dead'), pg_temp.book('seq'), 'after the failure: exactly the rows of the run with one at a time');

-- 6. Lists alone (components off): one at a time, list pages never overlap (the next page goes
-- out while the current one is stored, after its answer); four at a time, several pages of a list
-- are in flight at once (read ahead), never more than four, and the rows are the same.
SELECT pg_temp.src('lseq', 'bench100-lseq' || substr(:'nonce', 1, 8) || '_d50',
                   '{"max_concurrent_requests": 1, "max_requests_per_second": 0, "components": false}');
CALL billing.sync('lseq');
SELECT pg_temp.src('lconc', 'bench100-lconc' || substr(:'nonce', 1, 8) || '_d50',
                   '{"max_concurrent_requests": 4, "max_requests_per_second": 0, "components": false}');
CALL billing.sync('lconc');
SELECT results_eq($$SELECT l.status, l.pages, l.requests, c.status, c.pages, c.requests FROM pg_temp.last('lseq') l, pg_temp.last('lconc') c$$,
                  $$VALUES ('succeeded', 15::bigint, 15::bigint, 'succeeded', 15::bigint, 18::bigint)$$,
                  'lists alone: both succeed with 15 pages; 15 requests one at a time, 18 four at a time (3 past the end)');
SELECT is(pg_temp.book('lconc'), pg_temp.book('lseq'), 'lists alone: four at a time stores exactly the rows of one at a time');
SELECT pg_temp.stats('bench100-lseq' || substr(:'nonce', 1, 8) || '_d50') AS st \gset
SELECT is((:'st'::jsonb ->> 'max_in_flight')::int, 1, 'lists alone, one at a time: never two pages in flight');
SELECT pg_temp.stats('bench100-lconc' || substr(:'nonce', 1, 8) || '_d50') AS st \gset
SELECT cmp_ok((:'st'::jsonb ->> 'max_in_flight')::int, '>=', 2, 'lists alone, four at a time: pages read ahead overlap (2 or more at once)');
SELECT cmp_ok((:'st'::jsonb ->> 'max_in_flight')::int, '<=', 4, 'lists alone, four at a time: never more than 4 in flight');
SELECT is((SELECT array_agg(x ORDER BY x) FROM unnest(pg_temp.asked('bench100-lconc' || substr(:'nonce', 1, 8) || '_d50')) x),
          (SELECT array_agg(x ORDER BY x) FROM unnest(ARRAY['customers 1', 'subscriptions 1', 'subscriptions 2', 'credit_notes 1']
                                                      || (SELECT array_agg('invoices ' || k) FROM generate_series(1, 14) k)) x),
          'lists alone, four at a time: each page asked for once (invoices 1-14: 12-14 past the end)');

-- 7. A page read ahead fails for good (invoices page 6 answers 500 every time; pages 7-8 were
-- asked for with it, after page 5, before it was claimed): pages 1-5 stay stored and checkpointed, nothing of page 6 or
-- of the pages read ahead after it; the error names page 6; the rerun resumes there.
SELECT pg_temp.src('pf', 'bench100-pf' || substr(:'nonce', 1, 8) || '_pf6_d50', '{"max_concurrent_requests": 4, "max_requests_per_second": 0}');
SELECT billing._start_run(billing._source_id('pf'), 'manual') AS run \gset
CALL billing._sync_run(:run);
SELECT results_eq($$SELECT status, error, error_context FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', 'invoices page 6: request failed: HTTP status 500', 'source "pf", entity invoices, page 6')$$,
                  'a page read ahead answers 500 for good: the run fails naming it (invoices page 6)');
SELECT ok(pg_temp.asked('bench100-pf' || substr(:'nonce', 1, 8) || '_pf6_d50') @> ARRAY['invoices 7', 'invoices 8'],
          'a page read ahead answers 500 for good: pages 7-8 had been asked for (read ahead)');
SELECT results_eq($$SELECT count(*), min(external_id), max(external_id) FROM billing.invoices WHERE source_id = billing._source_id('pf')$$,
                  $$VALUES (50::bigint, 'inv_000001'::text, 'inv_000050'::text)$$,
                  'a page read ahead answers 500 for good: invoices 1-50 (pages 1-5) are stored, none of pages 6-8');
SELECT is((SELECT cursor->>'page' FROM billing._sync_state WHERE source_id = billing._source_id('pf') AND entity = 'invoices'),
          '5', 'a page read ahead answers 500 for good: the checkpoint is page 5');
SELECT pg_temp.stats('bench100-pf' || substr(:'nonce', 1, 8) || '_pf6_d50') AS st \gset
SELECT cmp_ok((:'st'::jsonb ->> 'max_in_flight')::int, '<=', 4, 'a page read ahead answers 500 for good: never more than 4 in flight');
UPDATE billing.sources SET base_url = replace(base_url, '_pf6_d50', '_d50') WHERE name = 'pf';
CALL billing.sync('pf');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('pf')$$, $$VALUES ('succeeded', NULL::text)$$,
                  'after the failed page read ahead: the rerun succeeds');
SELECT is(pg_temp.book('pf'), pg_temp.book('seq'), 'after the failed page read ahead: exactly the rows of the run with one at a time');

-- 8. A page read ahead is not JSON (invoices page 6, cut short): the same, the error names it.
SELECT pg_temp.src('pj', 'bench100-pj' || substr(:'nonce', 1, 8) || '_pj6_d50', '{"max_concurrent_requests": 4, "max_requests_per_second": 0}');
SELECT billing._start_run(billing._source_id('pj'), 'manual') AS run \gset
CALL billing._sync_run(:run);
SELECT results_eq($$SELECT status, error ~ 'invalid JSON', error_context FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', true, 'source "pj", entity invoices, page 6')$$,
                  'a page read ahead is not JSON: the run fails on invoices page 6');
SELECT results_eq($$SELECT count(*), max(external_id), (SELECT cursor->>'page' FROM billing._sync_state
                                                         WHERE source_id = billing._source_id('pj') AND entity = 'invoices')
                      FROM billing.invoices WHERE source_id = billing._source_id('pj')$$,
                  $$VALUES (50::bigint, 'inv_000050'::text, '5'::text)$$,
                  'a page read ahead is not JSON: pages 1-5 stored and checkpointed, nothing after');

-- 9. The option is checked.
UPDATE billing.sources SET options = options || '{"max_concurrent_requests": 0}' WHERE name = 'conc';
SELECT billing._start_run(billing._source_id('conc'), 'manual') AS run \gset
CALL billing._sync_run(:run);
SELECT is((SELECT error FROM billing.sync_runs WHERE id = :run),
          'source "conc": option max_concurrent_requests must be from 1 to 16',
          'max_concurrent_requests 0 is refused, naming the range');

SELECT * FROM finish();
