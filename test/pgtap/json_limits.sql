-- Hostile JSON and hostile compression (issue 9, item 5) and raw numbers kept as sent (item 7):
-- a gzip bomb of 99 kB that decodes to 100 MB, one of two gzip layers that decodes to 2 GB, 6 MB of
-- tiny objects that jansson would need half a gigabyte for, arrays nested 100000 deep; and the
-- bounds of a whole run. Each attack runs in a fresh backend (psql started by the server) whose
-- peak memory (VmHWM from /proc/<pid>/status) is read before and after: the run fails with a clear
-- error, the peak stays bounded, and the postmaster never restarts.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.src(name text, scenario text, options jsonb DEFAULT '{}') RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/' || scenario,
        jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
        '{"per_page": 2, "max_requests_per_second": 200}'::jsonb || options)
$$;
CREATE FUNCTION pg_temp.run(name text) RETURNS bigint LANGUAGE sql AS $$
    SELECT billing._start_run(billing._source_id(name), 'manual')
$$;
-- The peak and current memory of the calling backend, noted in a table other sessions can write.
CREATE TABLE public.mem (label text, stage text, hwm_kb bigint, pid int);
CREATE FUNCTION public.mem_note(label text, stage text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO public.mem
    SELECT label, stage, (regexp_match(s, 'VmHWM:\s+(\d+) kB'))[1]::bigint, pg_backend_pid()
    FROM pg_read_file('/proc/' || pg_backend_pid() || '/status') s
$$;
SELECT split_part(encode(pg_read_binary_file('/proc/' || split_part(pg_read_file('postmaster.pid'), E'\n', 1) || '/cmdline'), 'escape'),
                  '\000', 1) AS postgres_bin \gset
-- Runs sync run `run` in a new backend with the given settings (PGOPTIONS), noting its peak memory
-- before and after; waits for it to end.
CREATE FUNCTION pg_temp.run_elsewhere(run bigint, label text, settings text, postgres_bin text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
        format('PGOPTIONS="%s" %s/psql -X -h %s -p %s -U postgres -d %s -c "%s" -c "%s" -c "%s" </dev/null >/dev/null 2>&1',
               settings, regexp_replace(postgres_bin, '/postgres$', ''),
               split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'), current_database(),
               format('SELECT public.mem_note(%L, %L)', label, 'before'),
               format('CALL billing._sync_run(%s)', run),
               format('SELECT public.mem_note(%L, %L)', label, 'after')));
END
$f$;
-- How much the peak of that backend grew during the run (kB).
CREATE FUNCTION pg_temp.grew(label text) RETURNS bigint LANGUAGE sql AS $$
    SELECT a.hwm_kb - b.hwm_kb FROM public.mem a JOIN public.mem b USING (label, pid)
    WHERE a.label = $1 AND a.stage = 'after' AND b.stage = 'before'
$$;
CREATE FUNCTION pg_temp.outcome(run bigint) RETURNS TABLE (status text, error text) LANGUAGE sql AS $$
    SELECT status, error FROM billing.sync_runs WHERE id = run
$$;

SELECT plan(31);
SELECT pg_postmaster_start_time() AS started \gset

-- 0. The baseline: a whole healthy sync in a fresh backend (catalogs, plans, shared buffers
--    touched). Each attack below may grow the peak by this much, plus what it is allowed.
SELECT pg_temp.src('base', 'ok-m0');
SELECT pg_temp.run('base') AS run \gset
SELECT pg_temp.run_elsewhere(:run, 'baseline', '', :'postgres_bin');
SELECT is((SELECT status FROM pg_temp.outcome(:run)), 'succeeded', 'baseline: a healthy sync in another backend succeeds');
SELECT pg_temp.grew('baseline') AS base_kb \gset

-- 1. A gzip bomb: 99 kB on the wire, 100 MB decoded. Refused once it decodes past 1 MB at more
--    than 100 decoded bytes per wire byte; the backend's peak grows by a few MB at most.
SELECT pg_temp.src('gzb', 'gzipbomb-m1');
SELECT pg_temp.run('gzb') AS run \gset
SELECT pg_temp.run_elsewhere(:run, 'gzipbomb', '', :'postgres_bin');
SELECT is((SELECT status FROM pg_temp.outcome(:run)), 'failed', 'gzip bomb: the run fails');
SELECT matches((SELECT error FROM pg_temp.outcome(:run)),
               '^invoices page 2: request failed: the response decompresses to more than pg_billing.http_max_decompression_ratio \(100\) times its \d+ bytes on the wire$',
               'gzip bomb: the error names the page and the decompression ratio');
SELECT cmp_ok(pg_temp.grew('gzipbomb'), '<', (:base_kb + 8192)::bigint, 'gzip bomb: the backend''s peak memory grew by less than 8 MB over a healthy sync''s');
SELECT is((SELECT count(*)::int FROM billing.invoices WHERE source_id = billing._source_id('gzb')), 2,
          'gzip bomb: the pages before it stay, the bomb stored nothing');

-- 2. Two layers of gzip (Content-Encoding: gzip, gzip): 6 kB on the wire, 2 GB decoded.
SELECT pg_temp.src('gzb2', 'gzipbomb2-m1');
SELECT pg_temp.run('gzb2') AS run \gset
SELECT pg_temp.run_elsewhere(:run, 'gzipbomb2', '', :'postgres_bin');
SELECT matches((SELECT error FROM pg_temp.outcome(:run)),
               '^invoices page 2: request failed: the response decompresses to more than pg_billing.http_max_decompression_ratio \(100\) times its \d+ bytes on the wire$',
               'two layers of gzip (2 GB): refused for the ratio');
SELECT cmp_ok(pg_temp.grew('gzipbomb2'), '<', (:base_kb + 8192)::bigint, 'two layers of gzip: the peak grew by less than 8 MB over a healthy sync''s');

-- 3. Without the ratio check, the decoded size is still capped by pg_billing.http_max_body.
SELECT pg_temp.src('gzb3', 'gzipbomb-m2');
SELECT pg_temp.run('gzb3') AS run \gset
SELECT pg_temp.run_elsewhere(:run, 'gzipbomb-noratio', '-c pg_billing.http_max_decompression_ratio=0 -c pg_billing.http_max_body=4MB', :'postgres_bin');
SELECT is((SELECT error FROM pg_temp.outcome(:run)),
          'invoices page 2: request failed: the response is larger than pg_billing.http_max_body (4096 kB)',
          'ratio check off: the decoded body stops at pg_billing.http_max_body');
SELECT cmp_ok(pg_temp.grew('gzipbomb-noratio'), '<', (:base_kb + 16384)::bigint, 'ratio check off: the peak grew by less than 16 MB over a healthy sync''s');

-- 4. 6 MB of tiny objects, uncompressed: jansson would need about half a gigabyte. With
--    pg_billing.json_max_memory at 32 MB the page is refused as too large to decode, and the peak
--    grows by the cap and the body buffer, not by hundreds of MB.
SELECT pg_temp.src('many', 'manyobjs-m1');
SELECT pg_temp.run('many') AS run \gset
SELECT pg_temp.run_elsewhere(:run, 'manyobjs', '-c pg_billing.json_max_memory=32MB', :'postgres_bin');
SELECT results_eq($$SELECT status, error FROM pg_temp.outcome($$ || :run || ')',
                  $$VALUES ('failed', 'invoices page 2: the response is too large to decode, page rejected')$$,
                  'tiny objects: the page is refused as too large to decode');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :run),
               '^Decoding its 6291473 bytes needed more than pg_billing.json_max_memory \(32768 kB\)\.',
               'the detail gives the body size and the setting');
SELECT cmp_ok(pg_temp.grew('manyobjs'), '<', (:base_kb + 49152)::bigint,
              'tiny objects: the peak grew by less than 48 MB over a healthy sync''s (32 MB cap, 8 MB body buffer)');
-- the control: with a cap of 2 GB the same page decodes, taking hundreds of MB (so the measure
-- above can fail), and then fails on the first invoice without a uid
SELECT pg_temp.src('many2', 'manyobjs-m2');
SELECT pg_temp.run('many2') AS run \gset
SELECT pg_temp.run_elsewhere(:run, 'manyobjs-uncapped', '-c pg_billing.json_max_memory=2GB', :'postgres_bin');
SELECT is((SELECT error FROM pg_temp.outcome(:run)),
          'invoices page 2: field "uid" is missing, page rejected',
          'control: with a 2 GB cap the page decodes and fails on its first record');
SELECT cmp_ok(pg_temp.grew('manyobjs-uncapped'), '>', 204800::bigint,
              'control: decoding it uncapped took more than 200 MB (what the cap prevents)');

-- 5. Arrays nested 100000 deep: jansson stops at depth 2048; an invalid-JSON error, no crash.
SELECT pg_temp.src('deep', 'deepjson-m1');
SELECT pg_temp.run('deep') AS run \gset
SELECT pg_temp.run_elsewhere(:run, 'deepjson', '', :'postgres_bin');
SELECT results_eq($$SELECT status, error FROM pg_temp.outcome($$ || :run || ')',
                  $$VALUES ('failed', 'invoices page 2: invalid JSON, page rejected')$$,
                  'deeply nested arrays: rejected as invalid JSON');
SELECT matches((SELECT error_detail FROM billing.sync_runs WHERE id = :run), '^maximum parsing depth reached',
               'the detail says why');

-- 6. The bounds of a run: requests and bytes.
SELECT pg_temp.src('rq', 'ok-m1');
SET pg_billing.run_max_requests = 5;
SELECT pg_temp.run('rq') AS run \gset
CALL billing._sync_run(:run);
RESET pg_billing.run_max_requests;
SELECT is((SELECT status FROM pg_temp.outcome(:run)), 'failed', 'run_max_requests 5: the run fails');
SELECT matches((SELECT error FROM pg_temp.outcome(:run)),
               '^.+: the run has made pg_billing.run_max_requests \(5\) requests, run stopped$',
               'run_max_requests: the error names the setting');
SELECT is((SELECT requests FROM billing.sync_runs WHERE id = :run), 5::bigint, 'run_max_requests: exactly 5 requests were made');
SELECT is((SELECT count(*)::int FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/logs/ok-m1.log'), E'\n') x
           WHERE x <> ''), 5, 'run_max_requests: the server saw 5 requests');
CALL billing.sync('rq');
SELECT results_eq($$SELECT status, records_inserted FROM billing.sync_runs WHERE source_id = billing._source_id('rq') ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('succeeded', 18::bigint - (SELECT records_inserted FROM billing.sync_runs WHERE id = $$ || :run || '))',
                  'with the default bound the rerun completes');

SELECT pg_temp.src('rb', 'manyobjs-m3');
SET pg_billing.run_max_bytes = '1MB';
SELECT pg_temp.run('rb') AS run \gset
CALL billing._sync_run(:run);
RESET pg_billing.run_max_bytes;
SELECT results_eq($$SELECT status, error FROM pg_temp.outcome($$ || :run || ')',
                  $$VALUES ('failed', 'invoices page 2: the run has read more than pg_billing.run_max_bytes (1024 kB), run stopped')$$,
                  'run_max_bytes 1 MB: the 6 MB page stops the run before it is decoded');

-- 7. raw keeps the vendor's numbers: 19.99 stays 19.99 (not 19.989999999999998).
SELECT pg_temp.src('rawnum', 'rawnum-m1');
CALL billing.sync('rawnum');
SELECT is((SELECT raw->'n' FROM billing.customers WHERE source_id = billing._source_id('rawnum') AND external_id = '1001'),
          '{"a":19.99,"b":0.1,"c":1e-7,"d":12345.6789,"e":1.0,"f":-0.5,"g":100,"h":2.50,"i":1E+21,"j":123456789012.34,"k":[0.3,-1.5e-10]}'::jsonb,
          'raw: every number equals the one sent (as jsonb)');
SELECT is((SELECT array_agg(v ORDER BY k) FROM billing.customers c, jsonb_each_text(c.raw->'n') AS e(k, v)
           WHERE c.source_id = billing._source_id('rawnum') AND c.external_id = '1001' AND k IN ('a', 'b', 'd', 'e', 'f', 'j')),
          ARRAY['19.99', '0.1', '12345.6789', '1.0', '-0.5', '123456789012.34'],
          'raw: their text is the text sent');
SELECT is((SELECT raw->'n'->>'c' FROM billing.customers WHERE source_id = billing._source_id('rawnum') AND external_id = '1001'),
          '0.0000001', '1e-7 reads back as 0.0000001 (not 9.9999999999999995e-08)');
SELECT is((SELECT raw->'o' FROM billing.customers WHERE source_id = billing._source_id('rawnum') AND external_id = '1001'),
          jsonb_build_object('u', 'é ✓ 😀', 'q', E'a"b\\c\n', 't', true, 'f', false, 'z', null, 'e', '{}'::jsonb,
                             'a', '[[], [{}]]'::jsonb, 'big', 9223372036854775807, 'neg', -9223372036854775808, 'nz', 0.0),
          'raw: escaped and raw UTF-8 text, literals, empty containers and the 64-bit limits as sent');

SELECT diag(format('peak growth in kB: %s', (SELECT string_agg(label || ' ' || pg_temp.grew(label), ', ' ORDER BY label)
                                              FROM public.mem WHERE stage = 'after')));

-- 8. An amount of 1e-100 (its plain text overran a 64-byte buffer before fuzz_numbers found it):
--    the page is rejected, nothing crashes.
SELECT pg_temp.src('tiny', 'tinynum-m1');
SELECT pg_temp.run('tiny') AS run \gset
CALL billing._sync_run(:run);
SELECT results_eq($$SELECT status, error FROM pg_temp.outcome($$ || :run || ')',
                  $$VALUES ('failed', 'invoices page 2, record inv_000003: field "subtotal_amount" is a JSON number that cannot be exact (beyond 10^13 or more than 15 digits), page rejected')$$,
                  'an amount of 1e-100 rejects the page');
SELECT is((SELECT count(*)::int FROM billing.invoices WHERE source_id = billing._source_id('tiny')), 2, 'the pages before it stay');

-- Nothing above restarted the server.
SELECT is(pg_postmaster_start_time(), :'started'::timestamptz, 'the postmaster start time is unchanged: no backend crashed');
SELECT is((SELECT count(*)::int FROM public.mem WHERE stage = 'after'), 7, 'every backend that ran an attack lived to note its memory');
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE status = 'running'), 0, 'no run is left running');

SELECT * FROM finish();
