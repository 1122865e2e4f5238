-- Contract test: the Pax8 connector against Prism serving Pax8's published partner spec
-- (shared/specs/pax8/openapi/_original/pax8-partner-endpoints-openapi.json). Prism validates every
-- request (paths, query parameters such as size <= 200 and the sort enums, the bearer token the
-- OAuth2 scheme asks for) and answers with the spec's own examples, which the decoder must accept;
-- the token comes from the fake Pax8's token endpoint (the partner spec has none). If npm could not
-- install Prism, this test fails: it never passes silently.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(12);

SELECT isnt(current_setting('pgb_test.prism_pax8_url'), 'unavailable', 'Prism is installed (make deps: npm ci in tools/npm)');
CREATE FUNCTION pg_temp.prism_log() RETURNS text LANGUAGE sql AS $$
    SELECT pg_read_file(current_setting('pgb_test.fake_dir') || '/prism_pax8.log.txt')
$$;
DO $$
BEGIN
    FOR i IN 1..120 LOOP
        EXIT WHEN current_setting('pgb_test.prism_pax8_url') = 'unavailable' OR pg_temp.prism_log() LIKE '%Prism is listening%';
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
SELECT ok(pg_temp.prism_log() LIKE '%Prism is listening%', 'Prism is listening');

SELECT billing.add_source('p8prism', 'pax8', current_setting('pgb_test.prism_pax8_url'),
    jsonb_build_object('client_id', 'pax8-client', 'client_secret', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    jsonb_build_object('per_page', 200, 'max_requests_per_second', 50,
                       'token_url', current_setting('pgb_test.pax8_url') || '/s/ok-c1/oauth/token')) AS src \gset
SELECT billing._start_run(:src, 'manual') AS r \gset
CALL billing._sync_run(:r);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = $$ || :r,
                  $$VALUES ('succeeded', NULL::text)$$, 'companies, products, subscriptions, invoices and their items sync against the spec''s mock');

-- The spec's invoices-paged example: 10 invoices; each one's items answer with the invoice-items example.
SELECT results_eq($$SELECT i.external_id, c.external_id, i.status, i.issue_date, i.due_date, i.total, i.due, i.currency, i.direction
                    FROM billing.invoices i JOIN billing.customers c ON c.id = i.customer_id
                    WHERE i.source_id = $$ || :src || $$ AND i.external_id IN ('0b157f32-a423-4fc4-bed0-82ef2f913ab2', '17029935-36b0-4f0f-9d5e-c8af04f7b57a')
                    ORDER BY i.issue_date$$,
                  $$VALUES ('17029935-36b0-4f0f-9d5e-c8af04f7b57a', 'partner:My Partner Name', 'voided', '2020-09-01'::date, '2020-09-15'::date,
                            17432960::numeric, 560470.66::numeric, 'USD', 'payable'),
                           ('0b157f32-a423-4fc4-bed0-82ef2f913ab2', 'partner:A Child Partner Name', 'open', '2021-01-01', '2021-01-15',
                            9985.96, 729.22, 'USD', 'payable')$$,
                  'the spec''s invoices, exactly: partner, status (Unpaid open, Void voided), dates, total and balance');
SELECT is((SELECT count(*) FROM billing.invoices WHERE source_id = :src), 10::bigint, 'all 10 invoices of the example');
SELECT results_eq($$SELECT l.external_id, l.kind, l.sku, c.external_id, l.quantity, l.unit_price, l.subtotal, l.tax, l.total, l.cost,
                           l.billing_term, l.period_start, l.period_end
                    FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
                    JOIN billing.customers c ON c.id = l.customer_id
                    WHERE i.external_id = '0b157f32-a423-4fc4-bed0-82ef2f913ab2'$$,
                  $$VALUES ('#1', 'plan', 'PAX-233-ukw0-9092', 'cc0ac255-7c0b-4123-ac8d-a6c280b85eae', 11::numeric, 50000::numeric,
                            27500::numeric, 2200::numeric, 550000::numeric, 27500::numeric, 'Monthly', '2019-04-01'::date, '2019-05-01'::date)$$,
                  'the spec''s invoice item, exactly (it has no id: the line is #1), its company stored as a placeholder');
SELECT is((SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id WHERE i.source_id = :src),
          10::bigint, 'one item per invoice');
SELECT cmp_ok((SELECT count(*) FROM billing.subscriptions WHERE source_id = :src), '>=', 1::bigint,
              'the spec''s subscriptions example is decoded (its dates sent as bare dates too)');

-- Prism's validator accepted every request: 4 lists and the 10 invoices' items lists.
SELECT is((SELECT count(*)::int FROM regexp_matches(pg_temp.prism_log(), 'Request did not pass the validation rules', 'g')), 0,
          'Prism reported no request that breaks the spec');
SELECT is((SELECT count(*)::int FROM regexp_matches(pg_temp.prism_log(), 'The request passed the validation rules', 'g')), 14,
          'Prism validated all 14 requests (companies, products, subscriptions, invoices, 10 items lists)');
SELECT cmp_ok((SELECT count(*)::int FROM regexp_matches(pg_temp.prism_log(), 'get /invoices/[0-9a-f-]+/items', 'g')), '>=', 10,
              'each invoice''s items were requested');

-- A second run reads it all again and changes nothing.
CALL billing.sync('p8prism');
SELECT results_eq($$SELECT status, records_inserted, records_updated FROM billing.sync_runs WHERE source_id = $$ || :src || $$ ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 0::bigint, 0::bigint)$$, 'a second run changes nothing');
SELECT * FROM finish();
