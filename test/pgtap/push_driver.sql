-- The push driver against the fake Xero (test/fake/xero_fake.py): CALL billing.push sends the
-- outbox in batches, records each document's outcome, and Xero's ledger ties out with the source.
-- Amounts worked out by hand below; the fake's ledger is read with COPY FROM PROGRAM (superuser).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(25);

\ir lib/xero_state.sql

-- A xero target for organisation key (its tenant id read from the fake), credentials given.
CREATE FUNCTION pg_temp.target(name text, key text, creds jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM billing.add_source(name, 'xero', current_setting('pgb_test.xero_url') || '/s/' || key || '/api.xro/2.0', creds);
    UPDATE billing.sources SET options = jsonb_build_object(
        'token_url', current_setting('pgb_test.xero_url') || '/s/' || key || '/connect/token',
        'tenant_id', pg_temp.xero_state(key) ->> 'tenant_id') WHERE sources.name = target.name;
END $$;

-- A statement, its invoice and lines (as in push_documents_statements.sql).
CREATE FUNCTION pg_temp.statement(src text, cust text, ext text, closed date, total numeric, lines jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_src bigint := billing._source_id(src);
    v_cust bigint := (SELECT id FROM billing.customers WHERE source_id = v_src AND external_id = cust);
    v_st bigint;
    v_inv bigint;
BEGIN
    INSERT INTO billing.statements (source_id, external_id, customer_id, opened_at, closed_at, starting_balance, total, currency)
    VALUES (v_src, ext, v_cust, closed - 30, closed, 0, total, 'GBP') RETURNING id INTO v_st;
    INSERT INTO billing.invoices (source_id, external_id, customer_id, statement_id, issue_date, currency, total)
    VALUES (v_src, 'inv_' || ext, v_cust, v_st, closed, 'GBP', total) RETURNING id INTO v_inv;
    INSERT INTO billing.invoice_lines (invoice_id, external_id, line_no, kind, description, quantity, unit_price,
                                       subtotal, discount, tax, total, tax_code, period_start, period_end)
    SELECT v_inv, 'li_' || ext || '_' || n, n, 'plan', l ->> 'description', (l ->> 'qty')::numeric, (l ->> 'unit')::numeric,
           (l ->> 'subtotal')::numeric, coalesce((l ->> 'discount')::numeric, 0), (l ->> 'tax')::numeric,
           (l ->> 'subtotal')::numeric - coalesce((l ->> 'discount')::numeric, 0) + (l ->> 'tax')::numeric,
           l ->> 'tax_code', closed - 30, closed
      FROM jsonb_array_elements(lines) WITH ORDINALITY x(l, n);
END $$;

-- A billing source pushing to target, with three customers and the maps (one tax map Xero refuses).
CREATE FUNCTION pg_temp.site(name text, target text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM billing.add_source(name, 'advanced_billing', 'https://' || name || '.chargify.com', '{"api_key": "k"}',
                               jsonb_build_object('statements', true, 'push_to', target));
    INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code)
    SELECT s.id, m.kind, m.key, m.code FROM billing.sources s,
           (VALUES ('account', 'sales', '200'), ('account', 'rounding', '860'), ('bank_account', '*', '090'),
                   ('tax_rate', 'VAT 20%', 'OUTPUT2'), ('tax_rate', 'VAT 7%', 'BADTAX')) m(kind, key, code)
     WHERE s.name = site.name;
    INSERT INTO billing.customers (source_id, external_id, name, organization, email, currency)
    SELECT billing._source_id(site.name), c.ext, c.cname, c.org, c.email, 'GBP'
      FROM (VALUES ('1', 'Ann Lee', 'Lee Ltd', 'ann@lee.test'), ('2', 'Bo Chan', NULL, 'bo@chan.test'),
                   ('3', 'Cy Dee', 'Dee plc', NULL)) c(ext, cname, org, email);
END $$;

-- The book of a site: 79001 (17.40 with a -0.01 rounding line), 79002 (-36.00: a credit note),
-- 79003 (12.00, its tax code mapped to a TaxType Xero does not have: rejected), 79004 (24.00),
-- and a payment of 17.40 on 79001.
CREATE FUNCTION pg_temp.book(src text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.statement(src, '1', '79001', '2024-02-01', 17.40, '[
      {"description": "Pro plan", "qty": 3, "unit": 3.335, "subtotal": 10.00, "tax": 2.00, "tax_code": "VAT 20%"},
      {"description": "Seats", "qty": 1, "unit": 5.00, "subtotal": 5.00, "discount": 0.50, "tax": 0.90, "tax_code": "VAT 20%"}]');
    PERFORM pg_temp.statement(src, '2', '79002', '2024-02-05', -36.00, '[
      {"description": "Basic plan", "qty": 1, "unit": 10, "subtotal": 10.00, "tax": 2.00, "tax_code": "VAT 20%"},
      {"description": "Pro plan unused", "qty": 1, "unit": -40, "subtotal": -40.00, "tax": -8.00, "tax_code": "VAT 20%"}]');
    PERFORM pg_temp.statement(src, '3', '79003', '2024-02-06', 10.70, '[
      {"description": "Add-on", "qty": 1, "unit": 10, "subtotal": 10.00, "tax": 0.70, "tax_code": "VAT 7%"}]');
    PERFORM pg_temp.statement(src, '3', '79004', '2024-02-07', 24.00, '[
      {"description": "Pro plan", "qty": 2, "unit": 10, "subtotal": 20.00, "tax": 4.00, "tax_code": "VAT 20%"}]');
    INSERT INTO billing.payments (source_id, external_id, customer_id, invoice_id, amount, currency, payment_date, method)
    SELECT i.source_id, 'pay_' || src, i.customer_id, i.id, 17.40, 'GBP', '2024-02-01', 'card'
      FROM billing.invoices i WHERE i.source_id = billing._source_id(src) AND i.external_id = 'inv_79001';
END $$;

SELECT md5(random()::text) AS nonce \gset

-- 1. Happy path with one rejected document ------------------------------------------------------
SELECT pg_temp.target('books', 'ok-' || :'nonce', '{"client_id": "c", "client_secret": "s"}');
SELECT pg_temp.site('site', 'books');
SELECT pg_temp.book('site');
CALL billing.push('books');

SELECT results_eq($$SELECT doc_kind, natural_key, state FROM billing.outbox WHERE target_source_id = billing._source_id('books') ORDER BY 1, 2$$,
    $$VALUES ('contact', 'chargify_1', 'confirmed'), ('contact', 'chargify_2', 'confirmed'), ('contact', 'chargify_3', 'confirmed'),
             ('credit_note', '79002', 'confirmed'), ('invoice', '79001', 'confirmed'), ('invoice', '79003', 'failed'),
             ('invoice', '79004', 'confirmed'), ('payment', 'pay_site', 'confirmed')$$,
    'every document confirmed but 79003, which Xero rejected');
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE state = 'confirmed' AND remote_id ~ '^[0-9a-f-]{36}$'), 7,
          'confirmed documents keep Xero''s id');
SELECT alike((SELECT last_error FROM billing.outbox WHERE natural_key = '79003'), '%TaxType code ''BADTAX'' does not exist%',
            'the rejected document keeps Xero''s validation message');
SELECT is((SELECT severity || ' ' || subject FROM billing.alerts WHERE kind = 'push_rejected' AND resolved_at IS NULL),
          'error invoice 79003', 'a push_rejected alert names the document');

SELECT pg_temp.xero_state('ok-' || :'nonce') AS st \gset
SELECT is((SELECT jsonb_agg(jsonb_build_array(i ->> 'Reference', (i ->> 'Total')::numeric, (i ->> 'AmountDue')::numeric, i ->> 'Status')
                            ORDER BY i ->> 'Reference') FROM jsonb_array_elements(:'st'::jsonb -> 'invoices') i),
          '[["79001", 17.40, 0, "PAID"], ["79004", 24.00, 24.00, "AUTHORISED"]]'::jsonb,
          'Xero''s invoices: 79001 17.40 paid in full (the rounding line makes Xero''s total the source''s), 79004 24.00 due');
SELECT is((SELECT jsonb_agg(jsonb_build_array(c ->> 'Reference', (c ->> 'Total')::numeric)) FROM jsonb_array_elements(:'st'::jsonb -> 'credit_notes') c),
          '[["79002", 36.00]]'::jsonb, 'Xero''s credit note 79002: 36.00');
SELECT is((SELECT sum((i ->> 'Total')::numeric) - coalesce((SELECT sum((c ->> 'Total')::numeric) FROM jsonb_array_elements(:'st'::jsonb -> 'credit_notes') c), 0)
             FROM jsonb_array_elements(:'st'::jsonb -> 'invoices') i),
          (SELECT sum(total) FROM billing.statements WHERE source_id = billing._source_id('site') AND external_id <> '79003'),
          'Xero totals = source totals (17.40 + 24.00 - 36.00 = 5.40), the rejected 79003 aside');
SELECT is((SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'contacts')), 3, 'three contacts, each once');
SELECT results_eq($$SELECT documents, confirmed, failed, requests, status, error FROM billing.push_runs
                     WHERE target_source_id = billing._source_id('books')$$,
    $$VALUES (8, 7, 1, 4, 'succeeded', NULL::text)$$,
    'the run: 8 documents, 7 confirmed, 1 failed, in 4 requests (contacts; invoices and credit notes at once; the payment)');
SELECT cmp_ok((:'st'::jsonb -> 'counts' ->> 'max_in_flight')::int, '<=', 5, 'at most 5 requests in flight');

-- pushing again sends nothing
CALL billing.push('books');
SELECT is((SELECT requests FROM billing.push_runs WHERE target_source_id = billing._source_id('books') ORDER BY id DESC LIMIT 1), 0,
          'a second push has nothing to send and makes no request');

-- 2. Lost answers: the write is done, the connection dropped -------------------------------------
SELECT pg_temp.target('lostbooks', 'lost-' || :'nonce' || '_n1', '{"client_id": "c", "client_secret": "s"}');
SELECT pg_temp.site('lostsite', 'lostbooks');
SELECT pg_temp.book('lostsite');
CALL billing.push('lostbooks');
SELECT pg_temp.xero_state('lost-' || :'nonce' || '_n1') AS st \gset
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE target_source_id = billing._source_id('lostbooks') AND state = 'confirmed'), 7,
          'lost answers: every document confirmed all the same (79003 rejected)');
SELECT is((:'st'::jsonb -> 'counts' ->> 'lost')::int, 1, 'the fake dropped the answer to the first write (the three contacts), after writing them');
SELECT is((SELECT lookups FROM billing.push_runs WHERE target_source_id = billing._source_id('lostbooks')), 3,
          'the three contacts of unknown outcome were looked up by ContactNumber, and found');
SELECT is((SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'contacts')) + (SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'invoices'))
          + (SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'credit_notes')) + (SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'payments')),
          7, '0 duplicates: 3 contacts, 2 invoices, 1 credit note, 1 payment in Xero');
SELECT is((SELECT string_agg(o.remote_id, ',' ORDER BY o.natural_key) FROM billing.outbox o
            WHERE o.target_source_id = billing._source_id('lostbooks') AND o.doc_kind = 'contact'),
          (SELECT string_agg(c ->> 'ContactID', ',' ORDER BY c ->> 'ContactNumber') FROM jsonb_array_elements(:'st'::jsonb -> 'contacts') c),
          'the contacts found by look-up keep the ids Xero gave them');


-- 3. An access token that expires mid-push (2 s; each answer takes 1.2 s): renewed once on 401 ---
SELECT pg_temp.target('tokbooks', 'ok-' || :'nonce' || '_tok2_d1200', '{"client_id": "c", "client_secret": "s"}');
SELECT pg_temp.site('toksite', 'tokbooks');
SELECT pg_temp.book('toksite');
CALL billing.push('tokbooks');
SELECT pg_temp.xero_state('ok-' || :'nonce' || '_tok2_d1200') AS st \gset
SELECT is(ARRAY[(SELECT count(*)::int FROM billing.outbox WHERE target_source_id = billing._source_id('tokbooks') AND state = 'confirmed'),
                (:'st'::jsonb -> 'counts' ->> 'tokens_issued')::int,
                (SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'invoices'))],
          ARRAY[7, 2, 2], 'token expired mid-push: renewed once (2 tokens), every document confirmed, none twice');

-- 4. Code flow: each rotated refresh token is stored before its access token is used -------------
SELECT pg_temp.target('codebooks', 'ok-' || :'nonce' || 'code', '{"client_id": "c", "client_secret": "s", "refresh_token": "rt-initial"}');
SELECT pg_temp.site('codesite', 'codebooks');
SELECT pg_temp.book('codesite');
CALL billing.push('codebooks');
SELECT ok((SELECT secret ->> 'refresh_token' FROM billing._credentials WHERE source_id = billing._source_id('codebooks')) ~ '^rt-[0-9a-f]{24}$',
          'the rotated refresh token is stored in the credentials');
CALL billing.push('codebooks');
SELECT pg_temp.xero_state('ok-' || :'nonce' || 'code') AS st \gset
SELECT is(ARRAY[(:'st'::jsonb -> 'counts' ->> 'refreshes')::int, (:'st'::jsonb -> 'counts' ->> 'refused_refresh')::int,
                (SELECT count(*)::int FROM billing.outbox WHERE target_source_id = billing._source_id('codebooks') AND state = 'confirmed')],
          ARRAY[2, 0, 7], 'a second push refreshes with the stored token (2 refreshes, none refused); 7 documents confirmed');
SELECT billing.set_credentials('codebooks', '{"client_id": "c", "client_secret": "s", "refresh_token": "rt-initial"}');
\set ON_ERROR_STOP 0
CALL billing.push('codebooks');
\set ON_ERROR_STOP 1
SELECT is((SELECT error FROM billing.push_runs WHERE target_source_id = billing._source_id('codebooks') ORDER BY id DESC LIMIT 1),
          'source "codebooks": the token endpoint refused the refresh token', 'the run says the refresh token was refused (the fake refused the old one)');

-- 5. Minute limit: 2 requests in a 2 s window, 429 minute with Retry-After, waited out ------------
SELECT pg_temp.target('minbooks', 'ok-' || :'nonce' || '_min2_mw2', '{"client_id": "c", "client_secret": "s"}');
SELECT pg_temp.site('minsite', 'minbooks');
SELECT pg_temp.book('minsite');
CALL billing.push('minbooks');
SELECT pg_temp.xero_state('ok-' || :'nonce' || '_min2_mw2') AS st \gset
SELECT is(ARRAY[(SELECT count(*)::int FROM billing.outbox WHERE target_source_id = billing._source_id('minbooks') AND state = 'confirmed'),
                (SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'invoices')),
                (SELECT count(*)::int FROM jsonb_array_elements(:'st'::jsonb -> 'contacts'))],
          ARRAY[7, 2, 3], 'minute limit: every document confirmed once');
SELECT ok((:'st'::jsonb -> 'counts' -> 'rejected_429' ->> 'minute')::int >= 1 AND
          (SELECT status FROM billing.push_runs WHERE target_source_id = billing._source_id('minbooks')) = 'succeeded',
          'the fake refused requests over the minute limit (429 minute), the driver waited and the run succeeded');

-- 6. Day limit: 2 requests a day; the third is refused with 429 day: the target is parked --------
SELECT pg_temp.target('daybooks', 'ok-' || :'nonce' || '_day2', '{"client_id": "c", "client_secret": "s"}');
SELECT pg_temp.site('daysite', 'daybooks');
SELECT pg_temp.book('daysite');
CALL billing.push('daybooks');
SELECT ok((SELECT parked_until BETWEEN now() + interval '23 hours' AND now() + interval '25 hours' AND error LIKE 'Xero''s day limit was reached: the target is parked until %'
             FROM billing.push_runs WHERE target_source_id = billing._source_id('daybooks')),
          'day limit: the run records until when the target is parked (the day window, 24 h)');
CALL billing.push('daybooks');
SELECT pg_temp.xero_state('ok-' || :'nonce' || '_day2') AS st \gset
SELECT is(ARRAY[(:'st'::jsonb -> 'counts' ->> 'day_calls')::int, (:'st'::jsonb -> 'counts' -> 'rejected_429' ->> 'day')::int,
                (SELECT requests FROM billing.push_runs WHERE target_source_id = billing._source_id('daybooks') ORDER BY id DESC LIMIT 1)],
          ARRAY[2, 1, 0], 'a parked target gets no request: 2 counted by the fake, one 429 day, and 0 requests from the second push');
SELECT is((SELECT count(*)::int FROM billing.outbox WHERE target_source_id = billing._source_id('daybooks') AND state IN ('pending', 'confirmed', 'failed')),
          8, 'nothing lost while parked: every document is confirmed, rejected (79003) or still pending');

SELECT * FROM finish();
