-- Helpers of the ConnectWise tests: \ir lib/cw.sql after lib/helpers.sql (this folder is not run as a test).
-- A connectwise source on the fake, scenario '<scenario>-<nonce>': the private key is the suite's
-- canary (read from a file inside the server, so no logged statement holds it).
CREATE FUNCTION pg_temp.cw(name text, scenario text, options jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'connectwise', current_setting('pgb_test.connectwise_url') || '/s/' || scenario,
        jsonb_build_object('company_id', 'acme', 'public_key', 'pub-' || split_part(scenario, '-', 2),
                           'client_id', 'client-' || split_part(scenario, '-', 2),
                           'private_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
        '{"per_page": 2, "max_requests_per_second": 200}'::jsonb || options)
$$;
-- The fake's request log of one scenario: status and path (with its query), in order.
CREATE FUNCTION pg_temp.cw_reqs(scenario text) RETURNS TABLE (n bigint, t numeric, status int, path text) LANGUAGE sql AS $$
    SELECT row_number() OVER (), split_part(x, ' ', 1)::numeric, split_part(x, ' ', 2)::int,
           regexp_replace(split_part(x, ' ', 3), '^/s/[^/]+', '')
    FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/logs/' || scenario || '.log'), E'\n') x
    WHERE x <> ''
$$;
