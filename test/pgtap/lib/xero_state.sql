-- The fake Xero's ledger of one organisation (GET .../s/<key>/_state of test/fake/xero_fake.py), read
-- with COPY FROM PROGRAM (superuser). Shared by the push, Xero and Splynx payment-mode tests.
CREATE FUNCTION pg_temp.xero_state(key text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE v text;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS xero_raw (line text);
    TRUNCATE xero_raw;
    EXECUTE format('COPY xero_raw FROM PROGRAM %L WITH (FORMAT csv, QUOTE e''\x01'', DELIMITER e''\x02'')',
                   format('curl -s --cacert %s/certs/ca.pem %s/s/%s/_state', current_setting('pgb_test.fake_dir'),
                          current_setting('pgb_test.xero_url'), key));
    SELECT string_agg(line, '') INTO v FROM xero_raw;
    RETURN v::jsonb;
END $$;
