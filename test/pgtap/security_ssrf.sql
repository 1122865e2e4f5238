-- SSRF matrix (issue 9 item 7): a base_url naming the cloud metadata address, a private, shared or
-- link-local range, an IPv4-mapped IPv6 address, IPv6 loopback, link-local or unique-local, or a
-- name that resolves to this machine is refused, and no connection is made: every loopback form
-- points at the fake API's own port, whose per-path request log stays absent.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET pg_billing.allow_loopback = off;	-- as in production (the test cluster turns it on)

CREATE FUNCTION pg_temp.port() RETURNS text LANGUAGE sql AS $$
    SELECT substring(current_setting('pgb_test.maxio_url') FROM ':([0-9]+)$')
$$;
CREATE FUNCTION pg_temp.try(name text, base text) RETURNS billing.sync_runs LANGUAGE plpgsql AS $$
BEGIN
    PERFORM billing.add_source(name, 'advanced_billing', base, '{"api_key": "ssrf-key"}'::jsonb,
                               '{"per_page": 2, "max_requests_per_second": 0, "components": false}'::jsonb);
    RETURN NULL;
END
$$;
CREATE FUNCTION pg_temp.last(name text) RETURNS billing.sync_runs LANGUAGE sql AS $$
    SELECT * FROM billing.sync_runs WHERE source_id = billing._source_id(name) ORDER BY id DESC LIMIT 1
$$;
-- the fake API logs each request under its path's key: no file, no request
CREATE FUNCTION pg_temp.fake_saw(key text) RETURNS boolean LANGUAGE sql AS $$
    SELECT (pg_stat_file(current_setting('pgb_test.fake_dir') || '/logs/' || key || '.log', true)).size IS NOT NULL
$$;

CREATE TEMP TABLE matrix (name text, base text, expect text, key text);
INSERT INTO matrix VALUES
    ('metadata',      'https://169.254.169.254', 'connect', NULL),
    ('metadata_port', 'https://169.254.169.254:8080/latest/meta-data', 'connect', NULL),
    ('rfc1918_10',    'https://10.0.0.1', 'connect', NULL),
    ('rfc1918_172',   'https://172.16.0.1', 'connect', NULL),
    ('rfc1918_172b',  'https://172.31.255.254', 'connect', NULL),
    ('rfc1918_192',   'https://192.168.1.1', 'connect', NULL),
    ('cgnat',         'https://100.64.0.1', 'connect', NULL),
    ('this_net',      'https://0.0.0.0:' || pg_temp.port() || '/s/ok-ssrf0', 'connect', 'ok-ssrf0'),
    ('mapped_lo',     'https://[::ffff:127.0.0.1]:' || pg_temp.port() || '/s/ok-ssrf1', 'connect', 'ok-ssrf1'),
    ('mapped_meta',   'https://[::ffff:169.254.169.254]', 'connect', NULL),
    ('mapped_10',     'https://[::ffff:10.1.2.3]', 'connect', NULL),
    ('v6_linklocal',  'https://[fe80::1]', 'connect', NULL),
    ('v6_ula',        'https://[fd00::1]', 'connect', NULL),
    ('v6_lo',         'https://[::1]:' || pg_temp.port() || '/s/ok-ssrf2', 'machine', 'ok-ssrf2'),
    ('v4_lo',         'https://127.0.0.1:' || pg_temp.port() || '/s/ok-ssrf3', 'machine', 'ok-ssrf3'),
    ('v4_lo_other',   'https://127.0.0.2:' || pg_temp.port() || '/s/ok-ssrf4', 'machine', 'ok-ssrf4'),
    ('localhost',     'https://localhost:' || pg_temp.port() || '/s/ok-ssrf5', 'machine', 'ok-ssrf5'),
    ('localhost_dot', 'https://LOCALHOST.:' || pg_temp.port() || '/s/ok-ssrf6', 'machine', 'ok-ssrf6'),
    -- a name that is not "localhost" but resolves to this machine through /etc/hosts
    ('hostname',      'https://' || btrim(pg_read_file('/etc/hostname'), E' \n') || ':' || pg_temp.port() || '/s/ok-ssrf7',
                      'connect', 'ok-ssrf7');

SELECT plan(4 + (SELECT count(*)::int FROM matrix));

DO $$
DECLARE
    m record;
    v_run bigint;
BEGIN
    FOR m IN SELECT * FROM matrix ORDER BY name LOOP
        PERFORM pg_temp.try(m.name, m.base);
        v_run := billing._start_run(billing._source_id(m.name), 'manual');
        COMMIT;
        CALL billing._sync_run(v_run);
    END LOOP;
END
$$;

SELECT is((SELECT error FROM pg_temp.last(m.name)),
          CASE m.expect
              WHEN 'connect' THEN format('customers page 1: request failed: the host resolves to a private, link-local or loopback address, which is refused', m.name)
              ELSE format('source "%s": requests to this machine are refused', m.name) END,
          format('%s (%s) is refused', m.name, m.base))
  FROM matrix m ORDER BY m.name;

SELECT is((SELECT count(*)::int FROM matrix m WHERE (SELECT status FROM pg_temp.last(m.name)) <> 'failed'), 0,
          'every run of the matrix failed');
SELECT is((SELECT string_agg(m.key, ',') FROM matrix m WHERE m.key IS NOT NULL AND pg_temp.fake_saw(m.key)), NULL,
          'the listener behind every loopback form saw no request');
-- the same listener does log a request that is let through: the check above can see one
RESET pg_billing.allow_loopback;
SELECT pg_temp.try('control', current_setting('pgb_test.maxio_url') || '/s/ok-ssrf9');
CALL billing.sync('control');
SELECT is((SELECT status FROM pg_temp.last('control')), 'succeeded', 'control: the allowed loopback URL syncs');
SELECT ok(pg_temp.fake_saw('ok-ssrf9'), 'control: and its listener logged the requests');

SELECT * FROM finish();
