-- TLS and where requests may go: bad certificates fail hard (self-signed, wrong name, expired, an
-- unknown CA); plain http only to loopback and only with pg_billing.allow_loopback; private and
-- link-local addresses refused; the security settings are superuser-only.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql

CREATE FUNCTION pg_temp.src(name text, base text) RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'advanced_billing', base,
        jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
        '{"per_page": 2, "max_requests_per_second": 200, "components": false}'::jsonb)
$$;
CREATE FUNCTION pg_temp.rows(name text) RETURNS bigint LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM billing.customers WHERE source_id = billing._source_id(name))
         + (SELECT count(*) FROM billing.invoices WHERE source_id = billing._source_id(name))
$$;

SELECT plan(18);

SELECT pg_temp.src('selfsigned', current_setting('pgb_test.maxio_selfsigned_url') || '/s/ok-t1');
SELECT pg_temp.src('wrongname', current_setting('pgb_test.maxio_wrongname_url') || '/s/ok-t2');
SELECT pg_temp.src('expired', current_setting('pgb_test.maxio_expired_url') || '/s/ok-t3');
SELECT pg_temp.src('good', current_setting('pgb_test.maxio_url') || '/s/ok-t4');
SELECT pg_temp.src('plain', current_setting('pgb_test.maxio_plain_url') || '/s/ok-t5');
SELECT pg_temp.src('private', 'https://10.1.2.3/s/ok-t6');
SELECT pg_temp.src('metadata', 'https://169.254.169.254');
SELECT pg_temp.src('plainremote', 'http://billing.example.com');

SELECT billing._start_run(billing._source_id('selfsigned'), 'manual') AS r \gset
CALL billing._sync_run(:r);
SELECT billing._start_run(billing._source_id('wrongname'), 'manual') AS r \gset
CALL billing._sync_run(:r);
SELECT billing._start_run(billing._source_id('expired'), 'manual') AS r \gset
CALL billing._sync_run(:r);

SELECT matches((SELECT error FROM pg_temp.last('selfsigned')),
               '^customers page 1: request failed: SSL peer certificate or SSH remote key was not OK: SSL certificate problem: self.signed certificate',
               'a self-signed certificate is rejected');
SELECT matches((SELECT error FROM pg_temp.last('wrongname')),
               '^customers page 1: request failed: SSL peer certificate or SSH remote key was not OK: SSL: no alternative certificate subject name matches',
               'a certificate for another name is rejected');
SELECT matches((SELECT error FROM pg_temp.last('expired')),
               '^customers page 1: request failed: SSL peer certificate or SSH remote key was not OK: SSL certificate problem: certificate has expired',
               'an expired certificate is rejected');
SELECT results_eq($$SELECT status, requests, pg_temp.rows(s.name) FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
                    WHERE s.name IN ('selfsigned', 'wrongname', 'expired') ORDER BY s.name$$,
                  $$VALUES ('failed', 1::bigint, 0::bigint), ('failed', 1::bigint, 0::bigint), ('failed', 1::bigint, 0::bigint)$$,
                  '3/3 bad certificates: failed at the first request, never retried, nothing stored');
SELECT matches((SELECT error_detail FROM pg_temp.last('expired')), 'verification is never turned off', 'the hint says verification stays on');
-- the certificate fixed (the same source pointed at a server with a good one): a rerun completes
UPDATE billing.sources SET base_url = current_setting('pgb_test.maxio_url') || '/s/ok-t7' WHERE name = 'selfsigned';
CALL billing.sync('selfsigned');
SELECT results_eq($$SELECT status, records_inserted FROM pg_temp.last('selfsigned')$$, $$VALUES ('succeeded', 18::bigint)$$,
                  'after a bad certificate, a rerun against a good one completes');

-- Without the test CA, the good server is an unknown issuer.
SET pg_billing.ca_file = '';
SELECT billing._start_run(billing._source_id('good'), 'manual') AS r \gset
CALL billing._sync_run(:r);
RESET pg_billing.ca_file;
SELECT matches((SELECT error FROM pg_temp.last('good')), 'unable to get local issuer certificate',
               'a certificate from a CA that is not trusted is rejected');
CALL billing.sync('good');
SELECT results_eq($$SELECT status, records_inserted FROM pg_temp.last('good')$$, $$VALUES ('succeeded', 18::bigint)$$,
                  'with the test CA the same server syncs');

-- Plain http to loopback works only with allow_loopback (on in the test cluster).
CALL billing.sync('plain');
SELECT results_eq($$SELECT status, records_inserted FROM pg_temp.last('plain')$$, $$VALUES ('succeeded', 18::bigint)$$,
                  'plain http to loopback syncs when pg_billing.allow_loopback is on');
SET pg_billing.allow_loopback = off;
SELECT billing._start_run(billing._source_id('plain'), 'manual') AS r \gset
CALL billing._sync_run(:r);
SELECT billing._start_run(billing._source_id('good'), 'manual') AS r \gset
CALL billing._sync_run(:r);
RESET pg_billing.allow_loopback;
SELECT results_eq($$SELECT error, requests FROM pg_temp.last('plain')$$, $$VALUES ('source "plain": plain http is refused', 0::bigint)$$,
                  'without allow_loopback, plain http is refused before any request');
SELECT results_eq($$SELECT error, requests FROM pg_temp.last('good')$$, $$VALUES ('source "good": requests to this machine are refused', 0::bigint)$$,
                  'without allow_loopback, loopback is refused before any request');

SELECT billing._start_run(billing._source_id('private'), 'manual') AS r \gset
CALL billing._sync_run(:r);
SELECT billing._start_run(billing._source_id('metadata'), 'manual') AS r \gset
CALL billing._sync_run(:r);
SELECT billing._start_run(billing._source_id('plainremote'), 'manual') AS r \gset
CALL billing._sync_run(:r);
SELECT results_eq($$SELECT error FROM pg_temp.last('private')$$,
                  $$VALUES ('customers page 1: request failed: the host resolves to a private, link-local or loopback address, which is refused')$$,
                  'a private address is refused at connect time');
SELECT results_eq($$SELECT error FROM pg_temp.last('metadata')$$,
                  $$VALUES ('customers page 1: request failed: the host resolves to a private, link-local or loopback address, which is refused')$$,
                  'the cloud metadata address is refused');
SELECT results_eq($$SELECT error FROM pg_temp.last('plainremote')$$, $$VALUES ('source "plainremote": plain http is refused')$$,
                  'plain http to another host is refused');

-- Only a superuser changes the security settings.
SET ROLE billing_admin;
SELECT throws_ok($$SET pg_billing.allow_loopback = on$$, '42501', NULL, 'billing_admin cannot allow loopback');
SELECT throws_ok($$SET pg_billing.ca_file = '/tmp/x.pem'$$, '42501', NULL, 'billing_admin cannot change the CA file');
SELECT throws_ok($$SET pg_billing.http_max_body = '1GB'$$, '42501', NULL, 'billing_admin cannot raise the body cap');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE status = 'running'), 0, 'no run is left running');

SELECT * FROM finish();
