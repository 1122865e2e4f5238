-- Bad bodies: truncated, cut mid-transfer, not JSON, a wrong type, a duplicate key, \u0000, a number
-- too large to be exact. Each page is rejected whole, the run names source, entity, page, record
-- and field, and nothing of the page is stored. JSON-number amounts that can be exact are exact.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql

CREATE FUNCTION pg_temp.src(name text, scenario text, options jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/' || scenario,
        jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
        '{"per_page": 2, "max_requests_per_second": 200, "components": false}'::jsonb || options)
$$;
-- What a source holds: invoices, lines, payments.
CREATE FUNCTION pg_temp.held(name text) RETURNS TABLE (invoices bigint, lines bigint, payments bigint) LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM billing.invoices i WHERE i.source_id = billing._source_id(name)),
           (SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id WHERE i.source_id = billing._source_id(name)),
           (SELECT count(*) FROM billing.payments p WHERE p.source_id = billing._source_id(name))
$$;

SELECT plan(37);

SELECT pg_temp.src('trunc', 'trunc-d1');
SELECT pg_temp.src('cut', 'cut-d1');
SELECT pg_temp.src('badjson', 'badjson-d1');
SELECT pg_temp.src('wrongtype', 'wrongtype-d1');
SELECT pg_temp.src('dupkey', 'dupkey-d1');
SELECT pg_temp.src('nul', 'nul-d1');
SELECT pg_temp.src('hugenum', 'hugenum-d1');
SELECT pg_temp.src('hugeint', 'hugeint-d1');
SELECT pg_temp.src('numbers', 'numbers-d1');

SELECT billing._start_run(billing._source_id('trunc'), 'manual') AS r1 \gset
CALL billing._sync_run(:r1);
SELECT billing._start_run(billing._source_id('cut'), 'manual') AS r2 \gset
CALL billing._sync_run(:r2);
SELECT billing._start_run(billing._source_id('badjson'), 'manual') AS r3 \gset
CALL billing._sync_run(:r3);
SELECT billing._start_run(billing._source_id('wrongtype'), 'manual') AS r4 \gset
CALL billing._sync_run(:r4);
SELECT billing._start_run(billing._source_id('dupkey'), 'manual') AS r5 \gset
CALL billing._sync_run(:r5);
SELECT billing._start_run(billing._source_id('nul'), 'manual') AS r6 \gset
CALL billing._sync_run(:r6);
SELECT billing._start_run(billing._source_id('hugenum'), 'manual') AS r7 \gset
CALL billing._sync_run(:r7);
SELECT billing._start_run(billing._source_id('hugeint'), 'manual') AS r8 \gset
CALL billing._sync_run(:r8);

SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r1,
                  $$VALUES ('failed', 'invoices page 2: invalid JSON, page rejected')$$, 'truncated body: rejected, page named');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :r1), 'expected near end of file at line 1, column \d+ \(byte (\d+) of \1\)\.',
               'truncated body: the detail says where the JSON ends');
SELECT results_eq($$SELECT * FROM pg_temp.held('trunc')$$, $$VALUES (2::bigint, 4::bigint, 2::bigint)$$, 'truncated body: only page 1 stored, whole');

SELECT results_eq($$SELECT status, requests FROM billing.sync_runs WHERE id = $$ || :r2,
                  $$VALUES ('failed', 11::bigint)$$, 'body cut mid-transfer: retried (4 attempts), then failed');
SELECT matches((SELECT error FROM billing.sync_runs WHERE id = :r2), '^invoices page 2: request failed: Transferred a partial file',
               'body cut mid-transfer: the error says so');
SELECT results_eq($$SELECT * FROM pg_temp.held('cut')$$, $$VALUES (2::bigint, 4::bigint, 2::bigint)$$, 'body cut: only page 1 stored');

SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r3,
                  $$VALUES ('failed', 'invoices page 2: invalid JSON, page rejected')$$, 'not JSON: rejected');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :r3), '^.\[. or .\{. expected near .<. at line 1, column 1',
               'not JSON: the parser''s reason and position');

SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r4,
                  $$VALUES ('failed', 'invoices page 2, record inv_000003: field "subtotal_amount" is a boolean, expected a decimal amount, page rejected')$$,
                  'a wrong type: the error names source, entity, page, record and field');
SELECT is((SELECT error_context FROM billing.sync_runs WHERE id = :r4), 'source "wrongtype", entity invoices, page 2, record inv_000003',
          'the run keeps the location: source, entity, page and record');
SELECT results_eq($$SELECT * FROM pg_temp.held('wrongtype')$$, $$VALUES (2::bigint, 4::bigint, 2::bigint)$$,
                  'a wrong type: the rest of the page (inv_000004) is not stored either');

SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r5,
                  $$VALUES ('failed', 'invoices page 2: invalid JSON, page rejected')$$, 'a duplicate key: rejected');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :r5), '^duplicate object key', 'a duplicate key: said so');

SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r6,
                  $$VALUES ('failed', 'invoices page 2: invalid JSON, page rejected')$$, '\u0000: rejected');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :r6), '\\u0000 is not allowed', '\u0000: said so');

SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r7,
                  $$VALUES ('failed', 'invoices page 1, record inv_000002: field "paid_amount" is a JSON number that cannot be exact (beyond 10^13 or more than 15 digits), page rejected')$$,
                  'an amount given as a JSON number beyond 10^13: an error, never a rounded value');
SELECT results_eq($$SELECT * FROM pg_temp.held('hugenum')$$, $$VALUES (0::bigint, 0::bigint, 0::bigint)$$, 'the huge number''s page stored nothing');
-- the same bound holds for an amount sent as a JSON integer (jansson reads it as an int64)
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r8,
                  $$VALUES ('failed', 'invoices page 1, record inv_000002: field "paid_amount" is a JSON number that cannot be exact (beyond 10^13 or more than 15 digits), page rejected')$$,
                  'an amount given as a JSON integer beyond 10^13: an error too');
SELECT results_eq($$SELECT * FROM pg_temp.held('hugeint')$$, $$VALUES (0::bigint, 0::bigint, 0::bigint)$$, 'the huge integer''s page stored nothing');

-- A subscription id that is not a number never reaches a URL path (components are fetched by id).
SELECT pg_temp.src('badsubid', 'badsubid-d1', '{"components": true}');
SELECT billing._start_run(billing._source_id('badsubid'), 'manual') AS r9 \gset
CALL billing._sync_run(:r9);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r9,
                  $$VALUES ('failed', 'subscriptions page 1, record 1/../../x: field "id" is not a whole number, page rejected')$$,
                  'a subscription id with a path in it: the page fails, naming the record');
SELECT is((SELECT array_agg(path) FROM pg_temp.paths('badsubid-d1') WHERE path LIKE '%components%'),
          ARRAY['/s/badsubid-d1/subscriptions/2001/components.json'], 'only the good subscription''s components were asked for');
SELECT is((SELECT count(*)::int FROM billing.subscriptions WHERE source_id = billing._source_id('badsubid')), 0,
          'the page with the bad id stored nothing');

-- Amounts as JSON numbers that a double holds exactly to the cent are stored exactly.
CALL billing.sync('numbers');
SELECT results_eq($$SELECT i.subtotal, i.discount, i.total, i.paid, i.due, l.discount
                    FROM billing.invoices i JOIN billing.invoice_lines l ON l.invoice_id = i.id AND l.line_no = 2
                    WHERE i.source_id = billing._source_id('numbers') AND i.external_id = 'inv_000002'$$,
                  $$VALUES (1215::numeric, 1.5::numeric, 1213.5::numeric, 1213.5::numeric, 0::numeric, 1.5::numeric)$$,
                  'JSON-number amounts are exact');
SELECT is((SELECT status FROM pg_temp.last('numbers')), 'succeeded', 'the numbers source syncs');

-- Every failure kept the checkpoint at the last good page, and a rerun against a healed server completes.
SELECT results_eq($$SELECT s.name, st.cursor->>'page' FROM billing._sync_state st JOIN billing.sources s ON s.id = st.source_id
                    WHERE st.entity = 'invoices' AND s.name IN ('trunc', 'cut', 'badjson', 'wrongtype', 'dupkey', 'nul') ORDER BY 1$$,
                  $$VALUES ('badjson', '1'), ('cut', '1'), ('dupkey', '1'), ('nul', '1'), ('trunc', '1'), ('wrongtype', '1')$$,
                  'each failed run left its invoices checkpoint after page 1');
UPDATE billing.sources SET base_url = regexp_replace(base_url, '/s/[a-z]+-d1$', '/s/ok-d1' || name) WHERE name IN ('trunc', 'cut', 'badjson', 'wrongtype', 'dupkey', 'nul', 'hugenum', 'hugeint');
CALL billing.sync('trunc');
CALL billing.sync('cut');
CALL billing.sync('badjson');
CALL billing.sync('wrongtype');
CALL billing.sync('dupkey');
CALL billing.sync('nul');
CALL billing.sync('hugenum');
CALL billing.sync('hugeint');
SELECT results_eq($$SELECT * FROM pg_temp.held('trunc')$$, $$VALUES (7::bigint, 16::bigint, 5::bigint)$$, 'truncated: the rerun completes');
SELECT results_eq($$SELECT * FROM pg_temp.held('cut')$$, $$VALUES (7::bigint, 16::bigint, 5::bigint)$$, 'cut mid-transfer: the rerun completes');
SELECT results_eq($$SELECT * FROM pg_temp.held('badjson')$$, $$VALUES (7::bigint, 16::bigint, 5::bigint)$$, 'not JSON: the rerun completes');
SELECT results_eq($$SELECT * FROM pg_temp.held('wrongtype')$$, $$VALUES (7::bigint, 16::bigint, 5::bigint)$$, 'wrong type: the rerun completes');
SELECT results_eq($$SELECT * FROM pg_temp.held('dupkey')$$, $$VALUES (7::bigint, 16::bigint, 5::bigint)$$, 'duplicate key: the rerun completes');
SELECT results_eq($$SELECT * FROM pg_temp.held('nul')$$, $$VALUES (7::bigint, 16::bigint, 5::bigint)$$, '\u0000: the rerun completes');
SELECT results_eq($$SELECT * FROM pg_temp.held('hugenum')$$, $$VALUES (7::bigint, 16::bigint, 5::bigint)$$, 'huge number: the rerun completes');
SELECT results_eq($$SELECT * FROM pg_temp.held('hugeint')$$, $$VALUES (7::bigint, 16::bigint, 5::bigint)$$, 'huge integer: the rerun completes');
SELECT is((SELECT paid FROM billing.invoices WHERE source_id = billing._source_id('hugeint') AND external_id = 'inv_000002'),
          1213.50, 'the healed invoice has its real paid amount');
SELECT results_eq($$SELECT status, records_inserted FROM pg_temp.last('trunc')$$, $$VALUES ('succeeded', 7::bigint)$$,
                  'the rerun adds the 5 missing invoices and 2 credit notes');
SELECT is((SELECT total FROM billing.invoices WHERE source_id = billing._source_id('hugenum') AND external_id = 'inv_000002'),
          1213.50, 'the healed invoice has its real amount');
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE status = 'running'), 0, 'no run is left running');

SELECT * FROM finish();
