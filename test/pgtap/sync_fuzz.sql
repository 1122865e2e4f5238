-- Untrusted bytes: 60 sources whose every page has odd values in random places (wrong types,
-- nulls, huge numbers, bad dates, long strings, nested objects), some also truncated or with a
-- flipped byte. Each run ends succeeded or failed with a message naming the source; the server
-- never crashes; nothing half-written: every stored invoice has its lines' currency and a customer.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(5);

DO $$
DECLARE
    v_run bigint;
BEGIN
    FOR i IN 1..60 LOOP
        PERFORM billing.add_source('fuzz' || i, 'advanced_billing',
            current_setting('pgb_test.maxio_url') || '/s/fuzz' || i || '-z',
            jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
            '{"per_page": 2, "max_requests_per_second": 0, "components": false}');
        v_run := billing._start_run(billing._source_id('fuzz' || i), 'manual');
        COMMIT;
        CALL billing._sync_run(v_run);
    END LOOP;
END
$$;

SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE status IN ('succeeded', 'failed')), 60,
          '60 fuzzed runs all ended (the server survived every one)');
SELECT is((SELECT count(*)::int FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
           WHERE r.status = 'failed' AND coalesce(r.error_context, '') NOT LIKE 'source "' || s.name || '", entity %'), 0,
          'every failed run names its source and entity (and page, record) in its error context');
SELECT cmp_ok((SELECT count(*)::int FROM billing.sync_runs WHERE status = 'failed'), '>=', 30,
              'most fuzzed runs were refused (the odd values were noticed)');
SELECT is((SELECT count(*)::int FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
           WHERE l.currency <> i.currency), 0, 'no stored line disagrees with its invoice');
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE status = 'running'), 0, 'no run is left running');
SELECT * FROM finish();
