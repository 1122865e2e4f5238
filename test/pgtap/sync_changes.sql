-- The vendor's data moves under the sync: records on two pages, records added and changed between
-- pages, an older version arriving after a newer one, an invoice voided, a customer deleted.
-- Every record is stored once, the newest version wins, and deletes become tombstones.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.src(name text, scenario text, options jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/' || scenario,
        jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
        '{"per_page": 2, "max_requests_per_second": 200, "components": false}'::jsonb || options)
$$;
CREATE FUNCTION pg_temp.last(name text) RETURNS billing.sync_runs LANGUAGE sql AS $$
    SELECT * FROM billing.sync_runs WHERE source_id = billing._source_id(name) ORDER BY id DESC LIMIT 1
$$;
CREATE FUNCTION pg_temp.inv(name text, uid text) RETURNS billing.invoices LANGUAGE sql AS $$
    SELECT * FROM billing.invoices WHERE source_id = billing._source_id(name) AND external_id = uid
$$;

SELECT plan(17);

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

SELECT * FROM finish();
