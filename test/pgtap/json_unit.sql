-- The server-free JSON unit tests (test/unit/test_json.c: jansson's capped allocator, raw numbers)
-- and the replay of every fuzz corpus input and kept crasher (test/fuzz/), run under ASan and UBSan
-- by test/unit/run.sh at every `make test`: their TAP output must be all ok.
\set ON_ERROR_STOP 1
SELECT plan(5);
SELECT pg_read_file(current_setting('pgb_test.fake_dir') || '/unit/json.tap') AS tap \gset
SELECT pg_read_file(current_setting('pgb_test.fake_dir') || '/unit/fuzz.tap') AS fuzz \gset
SELECT ok(:'tap' ~ '(^|\n)1\.\.20\n', 'the JSON unit test program ran all 20 tests (sanitizers on)');
SELECT is((SELECT count(*)::int FROM regexp_matches(:'tap', '(^|\n)ok \d+', 'g')), 20, '20 JSON unit tests passed');
SELECT is((SELECT count(*)::int FROM regexp_matches(:'tap', '(^|\n)not ok', 'g')), 0, 'no JSON unit test failed');
SELECT is((SELECT array_agg(m[1] ORDER BY m[1]) FROM regexp_matches(:'fuzz', '(?:^|\n)ok \d+ - (fuzz_[a-z]+): [1-9]\d* inputs replayed', 'g') m),
          ARRAY['fuzz_http', 'fuzz_json', 'fuzz_numbers'], 'every fuzz target replayed its corpus and crashers without a crash');
SELECT is((SELECT count(*)::int FROM regexp_matches(:'fuzz', '(^|\n)not ok', 'g')), 0, 'no replay failed');
SELECT * FROM finish();
