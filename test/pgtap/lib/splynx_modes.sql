-- Helpers of test/pgtap/splynx_modes_*.sql (\ir lib/splynx_modes.sql; this folder is not run as a
-- test): a Xero organisation of the fake Xero as a xero source (pushed to and pulled from), a Splynx
-- source of the fake Splynx's "modes" book, its maps, and a payment recorded in Xero itself.

-- The fake Xero's ledger of one organisation (GET .../s/<key>/_state).
\ir xero_state.sql

-- The organisation's documents of one kind (invoices, payments, ...), one row each.
CREATE FUNCTION pg_temp.xero_docs(key text, kind text) RETURNS SETOF jsonb LANGUAGE sql AS $$
    SELECT jsonb_array_elements(pg_temp.xero_state(key) -> kind)
$$;

-- Organisation `key` as xero source `name`.
CREATE FUNCTION pg_temp.books(name text, key text) RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'xero', current_setting('pgb_test.xero_url') || '/s/' || key || '/api.xro/2.0',
        '{"client_id": "xero-client", "client_secret": "xero-secret"}',
        jsonb_build_object('per_page', 100, 'max_requests_per_second', 200, 'overlap_seconds', 0, 'reconcile_every', 0,
                           'token_url', current_setting('pgb_test.xero_url') || '/s/' || key || '/connect/token',
                           'tenant_id', pg_temp.xero_state(key) ->> 'tenant_id'))
$$;

-- The ISP: splynx source `name` on the fake Splynx scenario key, pushing to `books`, in payment mode
-- `mode` (null: the option is not set).
CREATE FUNCTION pg_temp.isp(name text, scenario text, books text, mode text) RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'splynx', current_setting('pgb_test.splynx_url') || '/s/' || scenario || '/api/2.0',
        '{"api_key": "splynx-key", "api_secret": "splynx-secret"}',
        jsonb_strip_nulls(jsonb_build_object('per_page', 100, 'max_requests_per_second', 200, 'currency', 'EUR',
                                             'overlap_seconds', 0, 'push_to', books, 'payment_mode', mode)))
$$;

-- The ISP's maps, but those named in skip ("<kind> <key>"): sales and rounding accounts, Splynx
-- payment method 2 (card) into bank account 090, tax 20% as OUTPUT2, category 1 (internet) to 200
-- and 2 (hardware) to 260, contacts numbered "sx-<id>", and Xero bank account 090 posted to Splynx
-- as payment method 1.
CREATE FUNCTION pg_temp.maps(name text, skip text[] DEFAULT '{}') RETURNS void LANGUAGE sql AS $$
    INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code)
    SELECT billing._source_id(name), m.k, m.l, m.c
      FROM (VALUES ('account', 'sales', '200'), ('account', 'rounding', '860'), ('bank_account', '2', '090'),
                   ('tax_rate', '20%', 'OUTPUT2'), ('category_account', '1', '200'), ('category_account', '2', '260'),
                   ('contact_prefix', 'prefix', 'sx-'), ('splynx_payment_type', '090', '1')) m(k, l, c)
     WHERE NOT (m.k || ' ' || m.l) = ANY (skip)
$$;

-- A payment taken in Xero itself (PUT /Payments on the fake, as a person or a Xero gateway would)
-- into bank account 090 on the invoice whose Reference is ref; returns its PaymentID.
CREATE FUNCTION pg_temp.xero_pay(key text, ref text, amount numeric, day date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state jsonb := pg_temp.xero_state(key);
    v_inv text := (SELECT i ->> 'InvoiceID' FROM jsonb_array_elements(v_state -> 'invoices') i WHERE i ->> 'Reference' = ref);
    v_base text := current_setting('pgb_test.xero_url') || '/s/' || key;
    v_ca text := current_setting('pgb_test.fake_dir') || '/certs/ca.pem';
    v_body text := jsonb_build_object('Payments', jsonb_build_array(jsonb_build_object(
                       'Invoice', jsonb_build_object('InvoiceID', v_inv), 'Account', jsonb_build_object('Code', '090'),
                       'Date', day, 'Amount', amount, 'Reference', 'card in Xero')))::text;
    v text;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS xero_raw (line text);
    TRUNCATE xero_raw;
    EXECUTE format('COPY xero_raw FROM PROGRAM %L WITH (FORMAT csv, QUOTE e''\x01'', DELIMITER e''\x02'')',
        format('t=$(curl -s --cacert %1$s -u xero-client:xero-secret -d grant_type=client_credentials %2$s/connect/token'
               ' | python3 -c ''import json,sys; print(json.load(sys.stdin)["access_token"])''); '
               'curl -s --cacert %1$s -X PUT -H "Authorization: Bearer $t" -H "xero-tenant-id: %3$s" '
               '-H "Content-Type: application/json" -H "Accept: application/json" --data-binary @- '
               '%2$s/api.xro/2.0/Payments <<''JSON''' || chr(10) || '%4$s' || chr(10) || 'JSON',
               v_ca, v_base, v_state ->> 'tenant_id', v_body));
    SELECT string_agg(line, '') INTO v FROM xero_raw;
    RETURN v::jsonb -> 'Payments' -> 0 ->> 'PaymentID';
END $$;

-- The fake Splynx's log of a scenario: (n, status, method, path).
CREATE FUNCTION pg_temp.sx_log(scenario text) RETURNS TABLE (n bigint, status int, method text, path text) LANGUAGE sql AS $$
    SELECT l.n, split_part(l.x, ' ', 1)::int, split_part(l.x, ' ', 2), split_part(l.x, ' ', 3)
    FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/splynx_logs/' || scenario || '.log'), E'\n')
         WITH ORDINALITY AS l(x, n)
    WHERE l.x <> ''
$$;

-- The payment posts (and look-ups) the fake Splynx received for a scenario.
CREATE FUNCTION pg_temp.sx_posts(scenario text) RETURNS TABLE (status int, method text, path text) LANGUAGE sql AS $$
    SELECT status, method, path FROM pg_temp.sx_log(scenario)
     WHERE path LIKE 'admin/finance/payments%' AND (method = 'POST' OR path LIKE '%receipt_number%') ORDER BY n
$$;
