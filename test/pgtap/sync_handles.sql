-- Every connection a sync opens is closed when its run ends, whatever the ending: success, 5xx,
-- a bad or truncated body, a body cut mid-transfer, a body over the cap, a redirect, a 401, a bad
-- certificate. Read from the kernel's table of TCP sockets: a leaked curl handle keeps its
-- connection to the fake API established after the run.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.src(name text, url text) RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'advanced_billing', url,
        jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
        '{"per_page": 2, "max_requests_per_second": 200}'::jsonb)
$$;
-- The ports of the fake API (good, plain http, and the three with bad certificates).
CREATE FUNCTION pg_temp.ports() RETURNS int[] LANGUAGE sql AS $$
    SELECT array_agg(substring(current_setting(s) FROM ':(\d+)$')::int)
    FROM unnest(ARRAY['pgb_test.maxio_url', 'pgb_test.maxio_plain_url', 'pgb_test.maxio_selfsigned_url',
                      'pgb_test.maxio_wrongname_url', 'pgb_test.maxio_expired_url']) s
$$;
-- Established client sockets to the fake API (/proc/net/tcp: sl, local, remote, state 01 = established).
CREATE FUNCTION pg_temp.open_to_fake() RETURNS int LANGUAGE sql AS $$
    SELECT count(*)::int
    FROM regexp_split_to_table(pg_read_file('/proc/net/tcp'), E'\n') WITH ORDINALITY AS l(line, n),
         LATERAL (SELECT string_to_array(regexp_replace(btrim(l.line), '\s+', ' ', 'g'), ' ') AS f) x
    WHERE l.n > 1 AND btrim(l.line) <> '' AND x.f[4] = '01'
      AND ('x' || lpad(split_part(x.f[3], ':', 2), 8, '0'))::bit(32)::int = ANY (pg_temp.ports())
$$;

SELECT plan(4);

SELECT is(pg_temp.open_to_fake(), 0, 'before: no connection to the fake API');

SELECT pg_temp.src(s, current_setting('pgb_test.maxio_url') || '/s/' || s || '-hd1')
FROM unnest(ARRAY['ok', 'e500', 'trunc', 'cut', 'badjson', 'wrongtype', 'big', 'redirect', 'unauth']) s;
SELECT pg_temp.src('selfsigned', current_setting('pgb_test.maxio_selfsigned_url') || '/s/ok-hd1');

SELECT billing._start_run(billing._source_id('ok'), 'manual') AS r0 \gset
CALL billing._sync_run(:r0);
SELECT billing._start_run(billing._source_id('e500'), 'manual') AS r1 \gset
CALL billing._sync_run(:r1);
SELECT billing._start_run(billing._source_id('trunc'), 'manual') AS r2 \gset
CALL billing._sync_run(:r2);
SELECT billing._start_run(billing._source_id('cut'), 'manual') AS r3 \gset
CALL billing._sync_run(:r3);
SELECT billing._start_run(billing._source_id('badjson'), 'manual') AS r4 \gset
CALL billing._sync_run(:r4);
SELECT billing._start_run(billing._source_id('wrongtype'), 'manual') AS r5 \gset
CALL billing._sync_run(:r5);
SELECT billing._start_run(billing._source_id('big'), 'manual') AS r6 \gset
CALL billing._sync_run(:r6);
SELECT billing._start_run(billing._source_id('redirect'), 'manual') AS r7 \gset
CALL billing._sync_run(:r7);
SELECT billing._start_run(billing._source_id('unauth'), 'manual') AS r8 \gset
CALL billing._sync_run(:r8);
SELECT billing._start_run(billing._source_id('selfsigned'), 'manual') AS r9 \gset
CALL billing._sync_run(:r9);

SELECT results_eq($$SELECT s.name, r.status FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id ORDER BY r.id$$,
    $$VALUES ('ok', 'succeeded'), ('e500', 'failed'), ('trunc', 'failed'), ('cut', 'failed'), ('badjson', 'failed'),
             ('wrongtype', 'failed'), ('big', 'failed'), ('redirect', 'failed'), ('unauth', 'failed'), ('selfsigned', 'failed')$$,
    'one run ended well and nine ended on a fault');
SELECT cmp_ok((SELECT sum(requests)::int FROM billing.sync_runs), '>=', 40, 'the runs made their requests');
SELECT is(pg_temp.open_to_fake(), 0, 'after: every connection the ten runs opened is closed');

SELECT * FROM finish();
