-- The unit tests of the server-free C parts (URL/address checks, Retry-After, backoff, exact money,
-- timestamps) run under ASan and UBSan in test/fake/start.sh; their TAP output must be all ok.
\set ON_ERROR_STOP 1
SELECT plan(3);
SELECT pg_read_file(current_setting('pgb_test.fake_dir') || '/unit.tap') AS tap \gset
SELECT ok(:'tap' ~ '(^|\n)1\.\.67\n', 'the unit test program ran all 67 tests (sanitizers on)');
SELECT is((SELECT count(*)::int FROM regexp_matches(:'tap', '(^|\n)ok \d+', 'g')), 67, '67 unit tests passed');
SELECT is((SELECT count(*)::int FROM regexp_matches(:'tap', '(^|\n)not ok', 'g')), 0, 'no unit test failed');
SELECT * FROM finish();
