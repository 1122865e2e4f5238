-- Look-ups of documents of unknown outcome are batched: up to 25 documents of one endpoint per GET
-- (one where clause of OR-ed natural keys), so a lost batch of N documents is resolved in
-- ceil(N / 25) calls, with 0 duplicates. Fake Xero (test/fake/xero_fake.py) counts its list reads.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(15);

\ir lib/xero_state.sql

-- A xero target for organisation key and a statement site pushing to it, with n customers (their
-- external ids: 1..n, the first one 'q"1\' so that a natural key carries a quote and a backslash),
-- each with a closed statement of one untaxed line of 10.00.
CREATE FUNCTION pg_temp.setup(target text, key text, site text, n integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_src bigint;
BEGIN
    PERFORM billing.add_source(target, 'xero', current_setting('pgb_test.xero_url') || '/s/' || key || '/api.xro/2.0',
                               '{"client_id": "c", "client_secret": "s"}');
    UPDATE billing.sources SET options = jsonb_build_object(
        'token_url', current_setting('pgb_test.xero_url') || '/s/' || key || '/connect/token',
        'tenant_id', pg_temp.xero_state(key) ->> 'tenant_id') WHERE name = target;
    PERFORM billing.add_source(site, 'advanced_billing', 'https://' || site || '.chargify.com', '{"api_key": "k"}',
                               jsonb_build_object('statements', true, 'push_to', target));
    v_src := billing._source_id(site);
    INSERT INTO billing.customers (source_id, external_id, name)
    SELECT v_src, CASE WHEN g = 1 THEN 'q"1\' ELSE g::text END, site || ' customer ' || g
      FROM generate_series(1, n) g;
    WITH st AS (
        INSERT INTO billing.statements (source_id, external_id, customer_id, opened_at, closed_at, starting_balance, total, currency)
        SELECT c.source_id, 'st-' || c.id, c.id, '2024-01-01', '2024-02-01', 0, 10, 'GBP'
          FROM billing.customers c WHERE c.source_id = v_src
        RETURNING id, source_id, external_id, customer_id),
    inv AS (
        INSERT INTO billing.invoices (source_id, external_id, customer_id, statement_id, issue_date, currency, total)
        SELECT st.source_id, 'inv_' || st.external_id, st.customer_id, st.id, '2024-02-01', 'GBP', 10 FROM st
        RETURNING id)
    INSERT INTO billing.invoice_lines (invoice_id, external_id, line_no, kind, description, quantity, unit_price, subtotal, discount,
                                       tax, total, period_start, period_end)
    SELECT inv.id, 'li_' || inv.id, 1, 'plan', 'Plan', 1, 10, 10, 0, 0, 10, '2024-01-01', '2024-02-01' FROM inv;
END $$;
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code)
VALUES (NULL, 'account', 'sales', '200'), (NULL, 'account', 'rounding', '860');
SELECT md5(random()::text) AS nonce \gset

-- 1. 60 contacts go in two requests (50 + 10); the fake carries out both and drops both answers.
SELECT pg_temp.setup('lostbooks', 'lost-' || :'nonce' || '_n2', 'lostsite', 60);
CALL billing.push('lostbooks');
SELECT pg_temp.xero_state('lost-' || :'nonce' || '_n2') AS st \gset
SELECT is((:'st'::jsonb -> 'counts' ->> 'lost')::int, 2, 'the fake dropped the answers to both contact requests (50 + 10), after writing them');
SELECT is((:'st'::jsonb -> 'counts' -> 'list_reads' ->> 'Contacts')::int, 3,
          '60 contacts of unknown outcome were looked up in ceil(60 / 25) = 3 calls, not 60');
SELECT results_eq($$SELECT lookups, confirmed, failed, status FROM billing.push_runs WHERE target_source_id = billing._source_id('lostbooks')$$,
                  $$VALUES (60, 120, 0, 'succeeded')$$,
                  'the run: 60 documents looked up, 120 confirmed (60 contacts found, 60 invoices sent)');
SELECT is(ARRAY[(SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'contacts')),
                (SELECT count(DISTINCT c ->> 'ContactNumber')::int FROM jsonb_array_elements(:'st'::jsonb -> 'contacts') c),
                (SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'invoices'))],
          ARRAY[60, 60, 60], '0 duplicates: 60 contacts, each once, and 60 invoices in Xero');
SELECT is((SELECT string_agg(o.remote_id, ',' ORDER BY o.natural_key) FROM billing.outbox o
            WHERE o.target_source_id = billing._source_id('lostbooks') AND o.doc_kind = 'contact'),
          (SELECT string_agg(c ->> 'ContactID', ',' ORDER BY c ->> 'ContactNumber') FROM jsonb_array_elements(:'st'::jsonb -> 'contacts') c),
          'every contact found keeps the id Xero gave it');
SELECT is((SELECT remote_id FROM billing.outbox WHERE natural_key = 'chargify_q"1\'),
          (SELECT c ->> 'ContactID' FROM jsonb_array_elements(:'st'::jsonb -> 'contacts') c WHERE c ->> 'ContactNumber' = 'chargify_q"1\'),
          'a ContactNumber with a quote and a backslash is found (escaped in the where clause)');

-- the look-up plan itself: 60 unknown contacts → 3 requests of 25, 25 and 10, one OR-ed where each
UPDATE billing.outbox SET state = 'unknown' WHERE target_source_id = billing._source_id('lostbooks') AND doc_kind = 'contact';
SELECT results_eq($$SELECT request, path, cardinality(ids), (length(where_clause) - length(replace(where_clause, ' OR ', ''))) / 4
                     FROM billing._push_lookups(billing._source_id('lostbooks'), 5)$$,
                  $$VALUES (1, '/Contacts', 25, 24), (2, '/Contacts', 25, 24), (3, '/Contacts', 10, 9)$$,
                  '_push_lookups: 3 requests of 25, 25 and 10 documents, each one where clause of OR-ed ContactNumbers');
SELECT is((SELECT where_clause FROM billing._push_lookups(billing._source_id('lostbooks'), 5, 2) LIMIT 1),
          'ContactNumber=="chargify_q\"1\\" OR ContactNumber=="'
          || (SELECT natural_key FROM billing.outbox WHERE doc_kind = 'contact' AND target_source_id = billing._source_id('lostbooks')
               ORDER BY id OFFSET 1 LIMIT 1) || '"',
          'a batch of 2: the first two unknown contacts, OR-ed, the quote and backslash of chargify_q"1\ escaped');
SELECT is((SELECT count(*)::int FROM billing._push_lookups(billing._source_id('lostbooks'), 5, 25, 200)), 5,
          'the where clause is kept under max_where characters: more, smaller requests (at most max_requests of them)');
UPDATE billing.outbox SET state = 'confirmed' WHERE target_source_id = billing._source_id('lostbooks') AND doc_kind = 'contact';

-- 2. 10 contacts answered 503 (nothing done): looked up in one call, none found, sent again.
SELECT pg_temp.setup('e503books', 'e503-' || :'nonce' || '_n1', 'e503site', 10);
CALL billing.push('e503books');
SELECT pg_temp.xero_state('e503-' || :'nonce' || '_n1') AS st \gset
SELECT is((:'st'::jsonb -> 'counts' -> 'list_reads' ->> 'Contacts')::int, 1, 'after a 503, the 10 contacts were looked up in 1 call');
SELECT results_eq($$SELECT lookups, confirmed, status FROM billing.push_runs WHERE target_source_id = billing._source_id('e503books')$$,
                  $$VALUES (10, 20, 'succeeded')$$, 'none was found, so each was sent again: 20 confirmed');
SELECT is(ARRAY[(SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'contacts')),
                (SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'invoices'))],
          ARRAY[10, 10], '10 contacts and 10 invoices in Xero, each once');

-- 3. A target asking for fewer requests at once than Xero allows (max_concurrent_requests 2): the
-- same lost batches (each answer 300 ms late, so requests overlap), looked up and sent never more
-- than 2 at a time (the fake counts).
SELECT pg_temp.setup('twobooks', 'lost-' || :'nonce' || 'two_n2_d300', 'twosite', 60);
UPDATE billing.sources SET options = options || '{"max_concurrent_requests": 2}' WHERE name = 'twobooks';
CALL billing.push('twobooks');
SELECT pg_temp.xero_state('lost-' || :'nonce' || 'two_n2_d300') AS st \gset
SELECT is((:'st'::jsonb -> 'counts' ->> 'max_in_flight')::int, 2,
          'never more than the target''s 2 requests in flight (and the 3 look-ups did overlap)');
SELECT results_eq($$SELECT lookups, confirmed, failed, status FROM billing.push_runs WHERE target_source_id = billing._source_id('twobooks')$$,
                  $$VALUES (60, 120, 0, 'succeeded')$$,
                  'the same outcome as with 5 at once: 60 looked up, 120 confirmed');
UPDATE billing.sources SET options = options || '{"max_concurrent_requests": 0}' WHERE name = 'twobooks';
\set ON_ERROR_STOP 0
CALL billing.push('twobooks');
\set ON_ERROR_STOP 1
SELECT is((SELECT error FROM billing.push_runs WHERE target_source_id = billing._source_id('twobooks') ORDER BY id DESC LIMIT 1),
          'source "twobooks": option max_concurrent_requests must be from 1 to 16',
          'an invalid max_concurrent_requests fails the push run, saying why');

SELECT * FROM finish();
