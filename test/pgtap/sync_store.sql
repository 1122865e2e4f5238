-- The store (docs/store.md), on the fake vendor's scenarios: new rows, changed rows, unchanged and
-- older versions, tombstones, repeated records, lines, payments, credit notes and statements hold
-- what each scenario is about; a row violating a constraint fails its page naming the record (never
-- its values), with nothing of the page stored; and a record another session stores while a page
-- is being written is waited for and updated by the page's upsert. Each run records the time it
-- spent storing (sync_runs.store_time), which leaves out the time spent waiting for the vendor.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql

SELECT plan(14);

CREATE FUNCTION pg_temp.src(name text, key text, options jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/' || key,
        jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
        '{"per_page": 2, "max_requests_per_second": 200, "components": false}'::jsonb || options)
$$;

-- Every row a source holds, without surrogate ids (references by external id) or the time of the
-- sync (synced_at; deleted_at as a flag), one line per row, sorted.
CREATE FUNCTION pg_temp.rows_of(src text) RETURNS text LANGUAGE sql AS $$
    WITH s(id) AS (SELECT billing._source_id(src)),
    drop_cols(k) AS (SELECT ARRAY['id', 'source_id', 'synced_at', 'deleted_at', 'customer_id', 'subscription_id',
                                  'product_id', 'invoice_id', 'statement_id', 'credit_note_id', 'payment_id',
                                  'contract_id', 'parent_id']),
    r(t, j) AS (
        SELECT 'cus', (to_jsonb(c) - k) || jsonb_build_object('del', c.deleted_at IS NOT NULL, 'parent', p.external_id)
          FROM billing.customers c LEFT JOIN billing.customers p ON p.id = c.parent_id, s, drop_cols WHERE c.source_id = s.id
        UNION ALL
        SELECT 'prd', (to_jsonb(p) - k) || jsonb_build_object('del', p.deleted_at IS NOT NULL)
          FROM billing.products p, s, drop_cols WHERE p.source_id = s.id
        UNION ALL
        SELECT 'sub', (to_jsonb(x) - k) || jsonb_build_object('del', x.deleted_at IS NOT NULL, 'c', c.external_id, 'p', p.external_id)
          FROM billing.subscriptions x JOIN billing.customers c ON c.id = x.customer_id
          LEFT JOIN billing.products p ON p.id = x.product_id, s, drop_cols WHERE x.source_id = s.id
        UNION ALL
        SELECT 'inv', (to_jsonb(i) - k) || jsonb_build_object('del', i.deleted_at IS NOT NULL, 'c', c.external_id,
                                                              's', x.external_id, 'st', st.external_id)
          FROM billing.invoices i JOIN billing.customers c ON c.id = i.customer_id
          LEFT JOIN billing.subscriptions x ON x.id = i.subscription_id
          LEFT JOIN billing.statements st ON st.id = i.statement_id, s, drop_cols WHERE i.source_id = s.id
        UNION ALL
        SELECT 'lin', (to_jsonb(l) - k) || jsonb_build_object('i', i.external_id, 'c', c.external_id, 's', x.external_id,
                                                              'p', p.external_id)
          FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
          LEFT JOIN billing.customers c ON c.id = l.customer_id LEFT JOIN billing.subscriptions x ON x.id = l.subscription_id
          LEFT JOIN billing.products p ON p.id = l.product_id, s, drop_cols WHERE i.source_id = s.id
        UNION ALL
        SELECT 'pay', (to_jsonb(y) - k) || jsonb_build_object('del', y.deleted_at IS NOT NULL, 'c', c.external_id,
                                                              'i', i.external_id)
          FROM billing.payments y JOIN billing.customers c ON c.id = y.customer_id
          LEFT JOIN billing.invoices i ON i.id = y.invoice_id, s, drop_cols WHERE y.source_id = s.id
        UNION ALL
        SELECT 'ref', (to_jsonb(f) - k) || jsonb_build_object('del', f.deleted_at IS NOT NULL, 'c', c.external_id,
                                                              'i', i.external_id)
          FROM billing.refunds f JOIN billing.customers c ON c.id = f.customer_id
          LEFT JOIN billing.invoices i ON i.id = f.invoice_id, s, drop_cols WHERE f.source_id = s.id
        UNION ALL
        SELECT 'cn', (to_jsonb(n) - k) || jsonb_build_object('del', n.deleted_at IS NOT NULL, 'c', c.external_id,
                                                             'i', i.external_id)
          FROM billing.credit_notes n JOIN billing.customers c ON c.id = n.customer_id
          LEFT JOIN billing.invoices i ON i.id = n.invoice_id, s, drop_cols WHERE n.source_id = s.id
        UNION ALL
        SELECT 'cnl', (to_jsonb(l) - k) || jsonb_build_object('n', n.external_id)
          FROM billing.credit_note_lines l JOIN billing.credit_notes n ON n.id = l.credit_note_id, s, drop_cols
         WHERE n.source_id = s.id
        UNION ALL
        SELECT 'alc', (to_jsonb(a) - k) || jsonb_build_object('n', n.external_id, 'i', i.external_id)
          FROM billing.credit_note_allocations a JOIN billing.credit_notes n ON n.id = a.credit_note_id
          LEFT JOIN billing.invoices i ON i.id = a.invoice_id, s, drop_cols WHERE a.source_id = s.id
        UNION ALL
        SELECT 'stm', (to_jsonb(m) - k) || jsonb_build_object('del', m.deleted_at IS NOT NULL, 'x', x.external_id)
          FROM billing.statements m LEFT JOIN billing.subscriptions x ON x.id = m.subscription_id, s, drop_cols
         WHERE m.source_id = s.id
    )
    SELECT string_agg(r.t || ' ' || r.j::text, E'\n' ORDER BY r.t || ' ' || r.j::text) FROM r
$$;
-- Each run of a source: status, counts and pages, in order.
CREATE FUNCTION pg_temp.runs_of(src text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(format('%s %s/%s/%s/%s/%s %s', status, records_inserted, records_updated, records_unchanged,
                             records_deleted, records_skipped, pages), '; ' ORDER BY id)
      FROM billing.sync_runs WHERE source_id = billing._source_id(src)
$$;

-- Each scenario (test/fake/maxio_fake.py) and the runs it makes.
CREATE TABLE public.scenario (name text, key text, options jsonb, runs boolean[]);
INSERT INTO public.scenario VALUES
    ('ok', 'ok', '{}', '{false,false}'),                     -- new rows, then an incremental run: unchanged
    ('changing', 'changing', '{}', '{false,false}'),         -- a record added and one changed between pages
    ('stale', 'stale', '{}', '{false,false}'),               -- an older version after a newer one
    ('voided', 'voided', '{}', '{false,false}'),             -- a changed invoice (its lines replaced)
    ('deleted', 'deleted', '{}', '{false,false,true}'),      -- a full reconcile tombstones a customer
    ('dup', 'dup', '{}', '{false}'),                         -- each page repeats the last record of the one before
    ('stmtsite', 'stmtsite', '{"statements": true}', '{false,true}'),          -- statements linked to invoices through line transactions
    ('bench', 'bench100', '{"per_page": 10}', '{false,true}'); -- 100 invoices, 233 lines, 79 payments; then a reconcile

-- Runs every scenario's syncs for sources named <scenario>_<suffix> (keys <key>-<suffix>1).
CREATE PROCEDURE pg_temp.sync_all(suffix text) LANGUAGE plpgsql AS $$
DECLARE
    sc record;
    full_run boolean;
BEGIN
    FOR sc IN SELECT * FROM public.scenario ORDER BY name LOOP
        PERFORM pg_temp.src(sc.name || '_' || suffix, sc.key || '-' || suffix || '1', sc.options);
        COMMIT;
        FOREACH full_run IN ARRAY sc.runs LOOP
            CALL billing.sync(sc.name || '_' || suffix, full_run);
        END LOOP;
    END LOOP;
END $$;

CALL pg_temp.sync_all('up');

-- The scenarios hold what they are about.
SELECT results_eq($$SELECT count(*) FILTER (WHERE deleted_at IS NOT NULL), count(*) FROM billing.customers
                    WHERE source_id = billing._source_id('deleted_up')$$,
                  $$VALUES (1::bigint, 5::bigint)$$, 'deleted: one tombstone among 5 customers');
SELECT results_eq($$SELECT (SELECT count(*) FROM billing.invoices WHERE source_id = billing._source_id('bench_up')),
                           (SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
                             WHERE i.source_id = billing._source_id('bench_up')),
                           (SELECT count(*) FROM billing.payments WHERE source_id = billing._source_id('bench_up'))$$,
                  $$VALUES (100::bigint, 233::bigint, 79::bigint)$$, 'bench: 100 invoices, 233 lines, 79 payments');
SELECT is(pg_temp.runs_of('changing_up'), 'succeeded 19/0/0/0/0 13; succeeded 0/1/5/0/0 6',
          'changing: 19 new records, then one changed and 5 unchanged');
SELECT results_eq($$SELECT count(*) FROM billing.invoices WHERE source_id = billing._source_id('stmtsite_up')
                    AND statement_id IS NOT NULL$$,
                  $$VALUES (3::bigint)$$, 'stmtsite: the statements trigger linked 3 invoices');

-- Each run's store_time: more than nothing, within the run's own duration.
SELECT is((SELECT count(*)::int FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
            WHERE s.name LIKE '%\_up'), 16, 'the scenarios made 16 runs');
SELECT is((SELECT count(*)::int FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
            WHERE s.name LIKE '%\_up' AND NOT coalesce(r.store_time > interval '0'
                                                      AND r.store_time <= r.finished_at - r.started_at, false)), 0,
          'each has a store_time above zero and within its duration');
-- every answer 300 ms late: the run lasts at least that long, none of it storing
SELECT pg_temp.src('late', 'ok-late1_d300');
CALL billing.sync('late');
SELECT ok((SELECT store_time <= (finished_at - started_at) - interval '300 ms' FROM pg_temp.last('late')),
          'the time spent waiting for the vendor''s answers is not store time');

-- A row violating a constraint: the page fails naming the record, nothing of it stored.
ALTER TABLE billing.invoices ADD CONSTRAINT test_total_below_1000 CHECK (total < 1000) NOT VALID;
SELECT pg_temp.src('bad', 'ok-bad1');
CALL pg_temp.run('bad');
ALTER TABLE billing.invoices DROP CONSTRAINT test_total_below_1000;
SELECT results_eq($$SELECT status, error FROM pg_temp.last('bad')$$,
                  $$VALUES ('failed', 'new row for relation "invoices" violates check constraint "test_total_below_1000"')$$,
                  'a row violating a constraint fails the run with the constraint''s message');
SELECT results_eq($$SELECT error_detail, error_context FROM pg_temp.last('bad')$$,
                  $$VALUES (E'The record is "inv_000002" (billing.invoices); the failing row is not shown.\nSQLSTATE 23514',
                            'source "bad", entity invoices, page 1')$$,
                  'the failure names the record and the page, not the row''s values');
SELECT is((SELECT count(*)::int FROM billing.invoices WHERE source_id = billing._source_id('bad')
           AND external_id IN ('inv_000001', 'inv_000002')), 0, 'nothing of the failing page is stored');

-- Another session stores a customer of the page, uncommitted, while the page is written: the
-- upsert waits for it, then updates that row.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT pg_temp.src('race', 'ok-race1') AS race_id \gset
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
                                      split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_connect('syncer', format('dbname=%s port=%s host=%s', current_database(),
                                       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('other', 'BEGIN');
SELECT dblink_exec('other', format($q$INSERT INTO billing.customers (source_id, external_id, name, remote_updated_at, raw)
                                      VALUES (%s, '1001', 'written by another session', '2000-01-01', '{"other": true}')$q$, :race_id));
SELECT dblink_send_query('syncer', 'CALL billing.sync(''race'')');
-- wait (up to 60 s: a loaded machine) until the sync waits on the other session's row
CREATE FUNCTION pg_temp.wait_for_lock() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..600 LOOP
        IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE query = 'CALL billing.sync(''race'')' AND wait_event_type = 'Lock') THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN false;
END $$;
SELECT ok(pg_temp.wait_for_lock(), 'the sync''s upsert waits for the other session''s uncommitted customer');
SELECT dblink_exec('other', 'COMMIT');
SELECT * FROM dblink_get_result('syncer') AS t(status text);
SELECT dblink_disconnect('other');
SELECT dblink_disconnect('syncer');
SELECT results_eq($$SELECT status, records_inserted, records_updated FROM pg_temp.last('race')$$,
                  $$SELECT 'succeeded'::text, records_inserted - 1, records_updated + 1 FROM billing.sync_runs
                    WHERE source_id = billing._source_id('ok_up') ORDER BY id LIMIT 1$$,
                  'the run succeeds: the customer the other session stored is counted updated, not inserted');
SELECT results_eq($$SELECT name, raw ? 'other' FROM billing.customers WHERE source_id = billing._source_id('race') AND external_id = '1001'$$,
                  $$SELECT name, false FROM billing.customers WHERE source_id = billing._source_id('ok_up') AND external_id = '1001'$$,
                  'the other session''s row now holds the vendor''s record');
SELECT is(pg_temp.rows_of('race'), pg_temp.rows_of('ok_up'), 'and the source holds the same rows as without the race');

SELECT * FROM finish();
