-- The fake Xero (test/fake/xero_fake.py) checks itself when the suite starts (test/fake/start.sh):
-- OAuth2 grants and rotation, tenant header, per-element batch results, idempotency replay, MS-JSON
-- dates, lost answers, 5xx, the minute and day limits, token expiry. Its TAP output must be all ok.
\set ON_ERROR_STOP 1
SELECT plan(3);
SELECT pg_read_file(current_setting('pgb_test.fake_dir') || '/xero_selftest.tap') AS tap \gset
SELECT ok(:'tap' ~ '(^|\n)1\.\.19\n', 'the fake Xero ran its 19 checks');
SELECT is((SELECT count(*)::int FROM regexp_matches(:'tap', '(^|\n)ok \d+', 'g')), 19, '19 checks passed');
SELECT is((SELECT count(*)::int FROM regexp_matches(:'tap', '(^|\n)not ok', 'g')), 0, 'no check failed');
SELECT * FROM finish();
