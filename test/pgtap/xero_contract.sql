-- Contract test: the Xero push and pull against Prism serving Xero's published accounting spec
-- (shared/specs/xero/xero_accounting.yaml), its schema cycles cut by tools/xero_spec_cut.js (apis.md
-- section 6.1: uncut, Prism validates no request body). Prism validates every request (path, query
-- parameters, headers such as xero-tenant-id, the bearer token, and the JSON bodies of PUT and POST
-- against the Contact, TaxRate, Invoice, CreditNote, Allocation and Payment schemas) and answers
-- with the spec's examples. The token comes from the fake Xero's token endpoint (the accounting spec
-- has none). If npm could not install Prism, this test fails: it never passes silently.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(19);

SELECT isnt(current_setting('pgb_test.prism_xero_url'), 'unavailable', 'Prism is installed and the spec was cut (make deps: npm ci in tools/npm)');
CREATE FUNCTION pg_temp.prism_log() RETURNS text LANGUAGE sql AS $$
    SELECT pg_read_file(current_setting('pgb_test.fake_dir') || '/prism_xero.log.txt')
$$;
-- how many times the log has a pattern (a regular expression)
CREATE FUNCTION pg_temp.seen(pattern text) RETURNS int LANGUAGE sql AS $$
    SELECT count(*)::int FROM regexp_matches(pg_temp.prism_log(), pattern, 'g')
$$;
DO $$
BEGIN
    FOR i IN 1..240 LOOP
        EXIT WHEN current_setting('pgb_test.prism_xero_url') = 'unavailable' OR pg_temp.prism_log() LIKE '%Prism is listening%';
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
SELECT ok(pg_temp.prism_log() LIKE '%Prism is listening%', 'Prism is listening');
\ir lib/xero_state.sql

-- The target: Prism as the accounting API, the fake Xero as the token endpoint.
SELECT md5(random()::text) AS nonce \gset
SELECT billing.add_source('xprism', 'xero', current_setting('pgb_test.prism_xero_url'), '{"client_id": "c", "client_secret": "s"}');
UPDATE billing.sources SET options = jsonb_build_object(
    'token_url', current_setting('pgb_test.xero_url') || '/s/ok-' || :'nonce' || '/connect/token',
    'tenant_id', pg_temp.xero_state('ok-' || :'nonce') ->> 'tenant_id') WHERE name = 'xprism';

-- A statement site pushing to it: one statement of a plan line (VAT 20%, mapped), a setup fee
-- (VAT 5%, unmapped: its tax rate is created) and a negative line (a credit note allocated to the
-- invoice), paid by card: every kind of document the push sends.
SELECT billing.add_source('site', 'advanced_billing', 'https://site.chargify.com', '{"api_key": "k"}',
                          '{"statements": true, "push_to": "xprism"}');
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code)
VALUES (NULL, 'account', 'sales', '200'), (NULL, 'account', 'rounding', '860'), (NULL, 'bank_account', '*', '090'),
       (NULL, 'tax_rate', 'VAT 20%', 'OUTPUT2');
INSERT INTO billing.customers (source_id, external_id, name, organization, email)
VALUES (billing._source_id('site'), '1', 'Ann Lee', 'Lee Ltd', 'ann@lee.test');
WITH st AS (
    INSERT INTO billing.statements (source_id, external_id, customer_id, opened_at, closed_at, starting_balance, total, currency)
    SELECT c.source_id, '79001', c.id, '2024-01-01', '2024-02-01', 0, 13.65, 'GBP' FROM billing.customers c
    RETURNING id, source_id, customer_id),
inv AS (
    INSERT INTO billing.invoices (source_id, external_id, customer_id, statement_id, issue_date, currency, total)
    SELECT st.source_id, 'inv_79001', st.customer_id, st.id, '2024-02-01', 'GBP', 13.65 FROM st RETURNING id, source_id, customer_id),
pay AS (
    INSERT INTO billing.payments (source_id, external_id, customer_id, invoice_id, amount, currency, payment_date, method)
    SELECT inv.source_id, 'pay_1', inv.customer_id, inv.id, 13.65, 'GBP', '2024-02-01', 'credit_card' FROM inv)
INSERT INTO billing.invoice_lines (invoice_id, external_id, line_no, kind, description, quantity, unit_price, subtotal, discount,
                                   tax, total, tax_code, period_start, period_end)
SELECT inv.id, l.ext, l.no, 'plan', l.descr, 1, l.amount, l.amount, 0, l.tax, l.amount + l.tax, l.code, '2024-01-01', '2024-02-01'
  FROM inv, (VALUES ('li_1', 1, 'Pro plan', 10.00, 2.00, 'VAT 20%'), ('li_2', 2, 'Setup fee', 5.00, 0.25, 'VAT 5%'),
                    ('li_3', 3, 'Unused days', -3.00, -0.60, 'VAT 20%')) l(ext, no, descr, amount, tax, code);
SELECT results_eq($$SELECT doc_kind, natural_key, state FROM billing.outbox ORDER BY 1, 2$$,
    $$VALUES ('allocation', '79001-CR>79001', 'pending'), ('contact', 'chargify_1', 'pending'), ('credit_note', '79001-CR', 'pending'),
             ('invoice', '79001', 'pending'), ('payment', 'pay_1', 'pending'), ('tax_rate', 'VAT 5%', 'pending')$$,
    'six documents to push: contact, tax rate, invoice, credit note, allocation, payment');

-- a request that breaks the spec is refused: the cut spec's bodies are validated (the control)
SELECT format('curl -s -o /dev/null -w "%%{http_code}" -X PUT -H "Authorization: Bearer x" -H "xero-tenant-id: %s"'
              ' -H "Content-Type: application/json" -H "Accept: application/json" -d %L %s/Invoices',
              pg_temp.xero_state('ok-' || :'nonce') ->> 'tenant_id', '{"Invoices": "x"}', current_setting('pgb_test.prism_xero_url')) AS bad \gset
CREATE TEMP TABLE answer (code text);
COPY answer FROM PROGRAM :'bad';
SELECT is((SELECT code FROM answer), '400', 'control: Prism refuses PUT /Invoices {"Invoices": "x"} (400)');
SELECT is(pg_temp.seen('did not pass the validation rules'), 1, 'control: and logs that the request did not pass the validation rules');

SET statement_timeout = '300s';
CALL billing.push('xprism');
SELECT results_eq($$SELECT status, error FROM billing.push_runs ORDER BY id DESC LIMIT 1$$, $$VALUES ('succeeded', NULL::text)$$,
                  'the push against the spec''s mock succeeds');
SELECT results_eq($$SELECT doc_kind, state, remote_id FROM billing.outbox ORDER BY 1$$,
    $$VALUES ('allocation', 'pending', NULL), ('contact', 'confirmed', '3ff6d40c-af9a-40a3-89ce-3c1556a25591'),
             ('credit_note', 'confirmed', 'f9256f04-5a99-4680-acb9-6b4639cc439a'), ('invoice', 'confirmed', 'ed255415-e141-4150-aab7-89c3bbbb851c'),
             ('payment', 'confirmed', '61ed71fc-01bf-4eb8-8419-8a18789ff45f'), ('tax_rate', 'confirmed', 'TAX002')$$,
    'documents confirmed with the ids of the spec''s example answers; the allocation''s example carries no AllocationID');
SELECT alike((SELECT last_error FROM billing.outbox WHERE doc_kind = 'allocation'), 'sent twice by push run %, and neither answer carried its id nor did a look-up find it%',
              'so the allocation was sent twice, looked up twice, and then left for a later run (no endless loop)');
SELECT is(pg_temp.seen('did not pass the validation rules'), 1, 'Prism found no request of the push that breaks the spec (the control''s aside)');
SELECT is(ARRAY[pg_temp.seen('\[HTTP SERVER\] put /Contacts '), pg_temp.seen('\[HTTP SERVER\] put /TaxRates '),
                pg_temp.seen('\[HTTP SERVER\] put /Invoices '), pg_temp.seen('\[HTTP SERVER\] put /CreditNotes '),
                pg_temp.seen('\[HTTP SERVER\] put /CreditNotes/[0-9a-f-]{36}/Allocations '), pg_temp.seen('\[HTTP SERVER\] put /Payments '),
                pg_temp.seen('\[HTTP SERVER\] get /CreditNotes/[0-9a-f-]{36} ')],
          ARRAY[1, 1, 2, 1, 2, 1, 2],
          'each endpoint was called: PUT Contacts, TaxRates, Invoices (the control and the push), CreditNotes, Allocations (twice), Payments; the allocation looked up twice in its credit note');
SELECT is((SELECT remote_code FROM billing.accounting_maps WHERE map_kind = 'tax_rate' AND local_key = 'VAT 5%'), 'TAX002',
          'the created tax rate is remembered with the TaxType of the spec''s example answer');

-- the allocation no answer confirms needs a person, and waits longer on each later run (0.4.0)
SELECT results_eq($$SELECT severity, subject, message, round(extract(epoch FROM o.next_attempt_at - o.updated_at))::int
                     FROM billing.alerts a JOIN billing.outbox o ON o.doc_kind = 'allocation' WHERE a.kind = 'push_unconfirmed'$$,
    $$VALUES ('warning', 'allocation 79001-CR>79001', 'allocation 79001-CR>79001 was sent to Xero 2 times, no answer carried its id and no look-up finds it',
              60)$$,
    'a push_unconfirmed alert names the allocation, which is sent again a minute later');
UPDATE billing.outbox SET next_attempt_at = now() - interval '1 second' WHERE doc_kind = 'allocation';
CALL billing.push('xprism');
SELECT results_eq($$SELECT o.attempts, round(extract(epoch FROM o.next_attempt_at - o.updated_at))::int, o.state FROM billing.outbox o WHERE doc_kind = 'allocation'$$,
    $$VALUES (4, 240, 'pending')$$,
    'the next run sends it twice more, then it waits four minutes');
SELECT results_eq($$SELECT count(*), min(message) FROM billing.alerts WHERE kind = 'push_unconfirmed' AND resolved_at IS NULL$$,
    $$VALUES (1::bigint, 'allocation 79001-CR>79001 was sent to Xero 4 times, no answer carried its id and no look-up finds it')$$,
    'still one open alert, with the count of sends');

-- a renamed customer updates its contact: POST /Contacts with the ContactID
UPDATE billing.customers SET organization = 'Lee & Co' WHERE external_id = '1';
CALL billing.push('xprism');
SELECT is(pg_temp.seen('\[HTTP SERVER\] post /Contacts '), 1, 'the contact update is a POST /Contacts');
SELECT is(pg_temp.seen('did not pass the validation rules'), 1, 'and it passes the validation rules');

-- The pull: accounts, tax rates, contacts, invoices, credit notes and payments pages
CALL billing.sync('xprism');
SELECT results_eq($$SELECT status, error FROM billing.sync_runs ORDER BY id DESC LIMIT 1$$, $$VALUES ('succeeded', NULL::text)$$,
                  'the pull against the spec''s mock succeeds');
SELECT is(ARRAY[pg_temp.seen('\[HTTP SERVER\] get /Accounts '), pg_temp.seen('\[HTTP SERVER\] get /TaxRates '),
                pg_temp.seen('\[HTTP SERVER\] get /Contacts '), pg_temp.seen('\[HTTP SERVER\] get /Invoices '),
                pg_temp.seen('\[HTTP SERVER\] get /CreditNotes '), pg_temp.seen('\[HTTP SERVER\] get /Payments ')] >= ARRAY[1, 1, 1, 1, 1, 1],
          true, 'the pull read every list');
SELECT is(pg_temp.seen('did not pass the validation rules'), 1, 'Prism found no request of the pull that breaks the spec');

SELECT * FROM finish();
