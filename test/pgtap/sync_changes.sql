-- The vendor's data moves under the sync: records on two pages, records added and changed between
-- pages, an older version arriving after a newer one, an invoice voided, a customer deleted.
-- Every record is stored once, the newest version wins, and deletes become tombstones.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql

CREATE FUNCTION pg_temp.src(name text, scenario text, options jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/' || scenario,
        jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
        '{"per_page": 2, "max_requests_per_second": 200, "components": false}'::jsonb || options)
$$;
CREATE FUNCTION pg_temp.tombstones(source text) RETURNS text[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg(c.external_id ORDER BY c.external_id), '{}') FROM billing.customers c
    WHERE c.source_id = billing._source_id(source) AND c.deleted_at IS NOT NULL
$$;
-- A full reconcile run of a source that does not raise when it fails.
CREATE FUNCTION pg_temp.reconcile_run(source text) RETURNS bigint LANGUAGE sql AS $$
    SELECT billing._start_run(billing._source_id(source), 'manual');
    UPDATE billing.sync_runs SET full_reconcile = true
    WHERE id = (SELECT max(id) FROM billing.sync_runs WHERE source_id = billing._source_id(source)) RETURNING id;
$$;
CREATE FUNCTION pg_temp.inv(name text, uid text) RETURNS billing.invoices LANGUAGE sql AS $$
    SELECT * FROM billing.invoices WHERE source_id = billing._source_id(name) AND external_id = uid
$$;

SELECT plan(41);

-- A record on two pages: stored once, counted as unchanged the second time.
SELECT pg_temp.src('dup', 'dup-c1');
CALL billing.sync('dup');
SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, pages FROM pg_temp.last('dup')$$,
                  $$VALUES ('succeeded', 18::bigint, 0::bigint, 3::bigint, 13::bigint)$$,
                  'duplicates across pages: 18 records stored once, the 3 repeats unchanged');
SELECT results_eq($$SELECT count(*), count(DISTINCT external_id) FROM billing.invoices WHERE source_id = billing._source_id('dup')$$,
                  $$VALUES (7::bigint, 7::bigint)$$, 'duplicates across pages: 7 invoices, each once');

-- Added and changed between pages: the new one arrives in this run, the change in the next one.
SELECT pg_temp.src('changing', 'changing-c1');
CALL billing.sync('changing');
SELECT results_eq($$SELECT status, records_inserted FROM pg_temp.last('changing')$$,
                  $$VALUES ('succeeded', 19::bigint)$$, 'the invoice added between pages is read in the same run');
SELECT is((SELECT cursor FROM billing._sync_state WHERE source_id = billing._source_id('changing') AND entity = 'invoices'),
          '{"since": "2025-05-15T00:00:00Z"}'::jsonb, 'the invoices cursor is the newest updated_at seen');
CALL billing.sync('changing');
SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged FROM pg_temp.last('changing')$$,
                  $$VALUES ('succeeded', 0::bigint, 1::bigint, 5::bigint)$$, 'the next run picks up the change made between pages');
SELECT results_eq($$SELECT total, raw->>'memo', remote_updated_at FROM pg_temp.inv('changing', 'inv_000001')$$,
                  $$VALUES (99.99, 'changed between pages', '2025-05-15 00:00+00'::timestamptz)$$, 'the changed invoice has its new version');
SELECT is((SELECT count(*)::int FROM billing.invoices WHERE source_id = billing._source_id('changing')), 8, '8 invoices: 0 missing, 0 extra');

-- An older version after a newer one (a lagging replica): the row never moves backwards.
SELECT pg_temp.src('stale', 'stale-c1');
CALL billing.sync('stale');
CALL billing.sync('stale');
SELECT results_eq($$SELECT status, records_updated, records_unchanged FROM pg_temp.last('stale')$$,
                  $$VALUES ('succeeded', 0::bigint, 6::bigint)$$, 'an older version is counted unchanged');
SELECT results_eq($$SELECT total, remote_updated_at FROM pg_temp.inv('stale', 'inv_000001')$$,
                  $$VALUES (62.50, '2024-01-12 01:00+00'::timestamptz)$$, 'an older version never replaces a newer one');

-- A voided invoice is marked, never deleted.
SELECT pg_temp.src('voided', 'voided-c1');
CALL billing.sync('voided');
CALL billing.sync('voided');
SELECT results_eq($$SELECT status, records_updated FROM pg_temp.last('voided')$$,
                  $$VALUES ('succeeded', 1::bigint)$$, 'the voided invoice is an update');
SELECT results_eq($$SELECT status, deleted_at, total FROM pg_temp.inv('voided', 'inv_000002')$$,
                  $$VALUES ('voided', NULL::timestamptz, 1213.50)$$, 'voided invoice: status voided, not deleted, amounts kept');
SELECT is((SELECT count(*)::int FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
           WHERE i.source_id = billing._source_id('voided') AND i.external_id = 'inv_000002'), 2, 'voided invoice: its lines stay');

-- A customer deleted upstream: an incremental run cannot see it; a full reconcile tombstones it.
SELECT pg_temp.src('deleted', 'deleted-c1');
CALL billing.sync('deleted');
CALL billing.sync('deleted');
SELECT is((SELECT count(*)::int FROM billing.customers WHERE source_id = billing._source_id('deleted') AND deleted_at IS NOT NULL), 0,
          'an incremental run does not tombstone');
CALL billing.sync('deleted', true);
SELECT results_eq($$SELECT status, full_reconcile, records_deleted FROM pg_temp.last('deleted')$$,
                  $$VALUES ('succeeded', true, 1::bigint)$$, 'a full reconcile counts one deleted record');
SELECT results_eq($$SELECT external_id FROM billing.customers WHERE source_id = billing._source_id('deleted') AND deleted_at IS NOT NULL$$,
                  $$VALUES ('1005')$$, 'the customer gone upstream has a tombstone');
SELECT is((SELECT count(*)::int FROM billing.customers WHERE source_id = billing._source_id('deleted')), 5, 'the tombstoned row is kept');
CALL billing.sync('deleted', true);
SELECT results_eq($$SELECT status, records_deleted FROM pg_temp.last('deleted')$$,
                  $$VALUES ('succeeded', 0::bigint)$$, 'a second reconcile does not count it again');

-- A record deleted upstream between two page reads of a reconcile moves the next record back onto
-- a page already read: that one is not listed, yet alive. Every unlisted record is asked for by id
-- (GET /customers/{id}.json) and only a 404 gets a tombstone.
SELECT pg_temp.src('shift', 'shift-c1');
CALL billing.sync('shift');
CALL billing.sync('shift', true);
SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, records_deleted FROM pg_temp.last('shift')$$,
                  $$VALUES ('succeeded', 0::bigint, 0::bigint, 17::bigint, 1::bigint)$$,
                  'reconcile with a delete between pages: one record deleted, the rest unchanged');
SELECT is(pg_temp.tombstones('shift'), ARRAY['1005'], 'the customer gone before the pass is tombstoned');
SELECT is((SELECT deleted_at FROM billing.customers WHERE source_id = billing._source_id('shift') AND external_id = '1003'), NULL,
          'the customer that moved back onto a page already read is alive');
SELECT is((SELECT array_agg(path ORDER BY path) FROM pg_temp.paths('shift-c1') WHERE path ~ '^/s/shift-c1/[a-z_]+/[^/]+\.json$'),
          ARRAY['/s/shift-c1/customers/1003.json', '/s/shift-c1/customers/1005.json'],
          'only the two unlisted customers were asked for, one by one');
CALL billing.sync('shift', true);
SELECT is(pg_temp.tombstones('shift'), ARRAY['1002', '1005'], 'the next reconcile finds the customer deleted between pages');
SELECT is((SELECT count(*)::int FROM billing._sync_seen), 0, 'the reconcile work table is emptied');

-- Records left out of a reconcile's listing but there when asked for by id, one of each entity:
-- each read endpoint's shape goes through the usual mapping, and nothing is tombstoned.
SELECT pg_temp.src('hidden', 'hidden-c1', '{"statements": true, "components": true}');
CALL billing.sync('hidden');
CALL billing.sync('hidden', true);
SELECT results_eq($$SELECT status, records_inserted, records_updated, records_unchanged, records_deleted FROM pg_temp.last('hidden')$$,
                  $$VALUES ('succeeded', 0::bigint, 0::bigint, 22::bigint, 0::bigint)$$,
                  'unlisted but alive: 17 records listed and 5 read by id, all unchanged, none deleted');
SELECT is((SELECT array_agg(path ORDER BY path) FROM pg_temp.paths('hidden-c1') WHERE path ~ '^/s/hidden-c1/[a-z_]+/[^/]+\.json$'),
          ARRAY['/s/hidden-c1/credit_notes/cn_000001.json', '/s/hidden-c1/customers/1002.json', '/s/hidden-c1/invoices/inv_000003.json',
                '/s/hidden-c1/statements/79002.json', '/s/hidden-c1/subscriptions/2002.json'],
          'each unlisted record was asked for at its read endpoint');
SELECT is((SELECT count(*)::int FROM (SELECT deleted_at FROM billing.customers WHERE source_id = billing._source_id('hidden')
           UNION ALL SELECT deleted_at FROM billing.subscriptions WHERE source_id = billing._source_id('hidden')
           UNION ALL SELECT deleted_at FROM billing.invoices WHERE source_id = billing._source_id('hidden')
           UNION ALL SELECT deleted_at FROM billing.credit_notes WHERE source_id = billing._source_id('hidden')
           UNION ALL SELECT deleted_at FROM billing.statements WHERE source_id = billing._source_id('hidden')) x
           WHERE deleted_at IS NOT NULL), 0, 'no record of any entity was tombstoned');

-- A server that lists nothing for a populated source: nothing is tombstoned and nothing is asked
-- one by one beyond the limit (by default the larger of 100 and 10% of the live records).
SELECT pg_temp.src('emptylist', 'emptylist-c1', '{"per_page": 200}');
CALL billing.sync('emptylist');
SELECT pg_temp.reconcile_run('emptylist') AS run \gset
CALL billing._sync_run(:run);
SELECT results_eq($$SELECT status, error, records_deleted FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', 'reconcile stopped: 150 of 150 records were not listed, none was marked deleted', 0::bigint)$$,
                  'an empty listing of 150 customers: the reconcile stops and says why');
SELECT is((SELECT error_context FROM billing.sync_runs WHERE id = :run), 'source "emptylist", entity customers',
          'the run keeps where it stopped apart from the message');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :run),
               '^A reconcile confirms at most 100 unlisted records one by one \(option reconcile_max_unseen, .*\nHint: Check that the source''s base_url',
               'the detail gives the limit, the hint what to check');
SELECT is(cardinality(pg_temp.tombstones('emptylist')), 0, 'no customer was tombstoned');
SELECT is((SELECT count(*)::int FROM pg_temp.paths('emptylist-c1') WHERE path ~ '/customers/[0-9]+\.json$'), 0,
          'no customer was asked for one by one');
SELECT results_eq($$SELECT (SELECT count(*)::int FROM billing._sync_seen), (SELECT cursor ? 'page' FROM billing._sync_state
                    WHERE source_id = billing._source_id('emptylist') AND entity = 'customers')$$,
                  $$VALUES (0, false)$$, 'the stopped pass is reset: no work table, a settled checkpoint');

-- With the limit raised, each unlisted record is confirmed by id. The checks commit in batches: a
-- run that fails midway (customer 1100 answers 500) keeps the batches before, and the next
-- reconcile resumes the checks without listing again.
UPDATE billing.sources SET options = options || '{"reconcile_max_unseen": 1000}' WHERE name = 'emptylist';
SELECT pg_temp.reconcile_run('emptylist') AS run \gset
CALL billing._sync_run(:run);
SELECT results_eq($$SELECT status, error, records_deleted FROM billing.sync_runs WHERE id = $$ || :run,
                  $$VALUES ('failed', 'customers record 1100: request failed: HTTP status 500', 0::bigint)$$,
                  'a check that keeps failing fails the run like any request');
SELECT results_eq($$SELECT (SELECT count(*)::int FROM billing._sync_seen), (SELECT cursor->>'verify' FROM billing._sync_state
                    WHERE source_id = billing._source_id('emptylist') AND entity = 'customers')$$,
                  $$VALUES (80, 'true')$$, 'four batches of 20 were committed; the checkpoint says the checks are under way');
CALL billing.sync('emptylist', true);
SELECT results_eq($$SELECT status, records_deleted, full_reconcile FROM pg_temp.last('emptylist')$$,
                  $$VALUES ('succeeded', 0::bigint, true)$$, 'the next reconcile completes');
SELECT is(cardinality(pg_temp.tombstones('emptylist')), 0, 'every customer is alive: none was tombstoned');
SELECT results_eq($$SELECT count(*) FILTER (WHERE path LIKE '/s/emptylist-c1/customers.json?%')::int,
                           count(*) FILTER (WHERE path ~ '/customers/[0-9]+\.json$')::int,
                           count(DISTINCT path) FILTER (WHERE path ~ '/customers/[0-9]+\.json$')::int
                    FROM pg_temp.paths('emptylist-c1')$$,
                  $$VALUES (3, 173, 150)$$,
                  'customers listed 3 times (not again on resume); 80 + 19 + 4 failed + 70 checks, each customer asked for');
SELECT results_eq($$SELECT (SELECT count(*)::int FROM billing._sync_seen), (SELECT cursor ? 'page' FROM billing._sync_state
                    WHERE source_id = billing._source_id('emptylist') AND entity = 'customers')$$,
                  $$VALUES (0, false)$$, 'after the checks: no work table, a settled checkpoint');

-- A read endpoint that answers with another record than the one asked for: the check fails the
-- run, naming the record, and nothing is tombstoned.
SELECT pg_temp.src('swapped', 'swapped-c1');
CALL billing.sync('swapped');
SELECT pg_temp.reconcile_run('swapped') AS sw \gset
CALL billing._sync_run(:sw);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :sw,
                  $$VALUES ('failed', 'read endpoint answered with record 1001 instead of 1002')$$,
                  'a record read by id must be the one asked for');
SELECT is((SELECT error_context FROM billing.sync_runs WHERE id = :sw),
          'source "swapped", entity customers, confirming unlisted records, record 1001',
          'the context says the run was confirming unlisted records and names the record it decoded');
SELECT is(pg_temp.tombstones('swapped'), '{}'::text[], 'nothing was tombstoned');

SELECT * FROM finish();
