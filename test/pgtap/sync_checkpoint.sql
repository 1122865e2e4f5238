-- The checkpoint attack (issue 9, item 2): a billing_admin rewrites billing._sync_state.cursor.
-- In 0.2.0 '{"page": 1}' made the driver call pg_strtoint64(NULL): the backend died with SIGSEGV
-- and the retried run crashed the server again and again. Every malformed checkpoint must now
-- fail its run with "corrupt checkpoint", nothing may crash (the postmaster's start time stays),
-- and deleting the row lets the next run start the entity afresh.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql

SELECT billing.add_source('cp', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/ok-cp',
    jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"per_page": 2, "max_requests_per_second": 200, "components": false}') AS source_id \gset
CREATE TABLE pg_temp.boot AS SELECT pg_postmaster_start_time() AS t;
CREATE ROLE cp_attacker LOGIN IN ROLE billing_admin;

SELECT plan(20);

CALL pg_temp.run('cp');
SELECT is((pg_temp.last('cp')).status, 'succeeded', 'a first sync succeeds and writes checkpoints');
SELECT is((SELECT cursor FROM billing._sync_state WHERE source_id = :source_id AND entity = 'customers'),
          '{"since": "2024-01-01T05:05:00Z"}'::jsonb, 'a settled checkpoint is the jsonb {"since": ...}');

-- Each malformed cursor, written by a plain member of billing_admin, then a sync.
CREATE TABLE pg_temp.attacks (n int, cursor jsonb, what text);
INSERT INTO pg_temp.attacks VALUES
    (1, '{"page": 1}', 'a page without the rest of a pass (the 0.2.0 crash)'),
    (2, '{"page": "x", "run_since": 0, "max_seen": 0, "date0": 0}', 'a page that is a string'),
    (3, '{"page": 1, "run_since": 99999999999999999999, "max_seen": 0, "date0": 0}', 'a number beyond bigint'),
    (4, '{"page": 1.5, "run_since": 0, "max_seen": 0, "date0": 0}', 'a page that is not whole'),
    (5, '[1, 2]', 'an array, not an object'),
    (6, '{"since": 5}', 'a since that is a number'),
    (7, '{"since": "yesterday"}', 'a since that is no timestamp'),
    (8, '{"page": 1, "run_since": 0, "max_seen": 0, "date0": 0, "reconcile": "yes"}', 'a reconcile flag that is a string');
GRANT SELECT ON pg_temp.attacks TO cp_attacker;

CREATE PROCEDURE pg_temp.attack(n int) LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL ROLE cp_attacker;
    UPDATE billing._sync_state SET cursor = (SELECT a.cursor FROM pg_temp.attacks a WHERE a.n = attack.n)
     WHERE source_id = billing._source_id('cp') AND entity = 'customers';
    RESET ROLE;
    COMMIT;
    CALL pg_temp.run('cp');
END
$$;

CALL pg_temp.attack(1);
SELECT results_eq($$SELECT status, error FROM billing.sync_runs WHERE id = (pg_temp.last('cp')).id$$,
                  $$VALUES ('failed', 'corrupt checkpoint')$$, 'attack 1 ({"page": 1}): the run failed with "corrupt checkpoint"');
SELECT matches((pg_temp.last('cp')).error_detail,
               '^The checkpoint of entity customers in billing._sync_state is not one a sync writes\.\nHint: Delete it to sync the entity from the start: DELETE FROM billing._sync_state WHERE source_id = \d+ AND entity = ''customers''\.\nSQLSTATE XX001$',
               'the detail names the entity, the hint the row to delete, the SQLSTATE is data_corrupted');
SELECT is((pg_temp.last('cp')).error_context, 'source "cp", entity customers', 'the context names source and entity');
CALL pg_temp.attack(2);
SELECT is((pg_temp.last('cp')).error, 'corrupt checkpoint', 'attack 2: a page that is a string');
CALL pg_temp.attack(3);
SELECT is((pg_temp.last('cp')).error, 'corrupt checkpoint', 'attack 3: a number beyond bigint');
CALL pg_temp.attack(4);
SELECT is((pg_temp.last('cp')).error, 'corrupt checkpoint', 'attack 4: a page that is not whole');
CALL pg_temp.attack(5);
SELECT is((pg_temp.last('cp')).error, 'corrupt checkpoint', 'attack 5: an array');
CALL pg_temp.attack(6);
SELECT is((pg_temp.last('cp')).error, 'corrupt checkpoint', 'attack 6: a since that is a number');
CALL pg_temp.attack(7);
SELECT is((pg_temp.last('cp')).error, 'corrupt checkpoint', 'attack 7: a since that is no timestamp');
CALL pg_temp.attack(8);
SELECT is((pg_temp.last('cp')).error, 'corrupt checkpoint', 'attack 8: a reconcile flag that is a string');

SELECT is((SELECT count(*) FROM billing.sync_runs WHERE source_id = :source_id AND status = 'failed'), 8::bigint,
          'eight attacks, eight failed runs');
SELECT is((SELECT count(*) FROM billing.sync_runs WHERE source_id = :source_id AND status = 'running'), 0::bigint,
          'no run is left running');
SELECT is(pg_postmaster_start_time(), (SELECT t FROM pg_temp.boot), 'the postmaster was never restarted: nothing crashed');
SELECT is((SELECT count(*) FROM billing.customers WHERE source_id = :source_id), 5::bigint,
          'the customers synced before the attacks are all still there');

-- The hint's remedy works: the row is deleted, the entity is read from the start.
DELETE FROM billing._sync_state WHERE source_id = :source_id AND entity = 'customers';
CALL pg_temp.run('cp');
SELECT is((pg_temp.last('cp')).status, 'succeeded', 'with the row deleted, the next sync succeeds');
SELECT is((SELECT cursor FROM billing._sync_state WHERE source_id = :source_id AND entity = 'customers'),
          '{"since": "2024-01-01T05:05:00Z"}'::jsonb, 'and writes a good checkpoint again');

-- A checkpoint the sync writes mid-pass is read back as it was written (typed jsonb both ways).
UPDATE billing._sync_state SET cursor = '{"since": null, "run_since": -1, "page": 1, "max_seen": 1704085260, "date0": -1, "reconcile": false, "verify": false}'
 WHERE source_id = :source_id AND entity = 'customers';
CALL pg_temp.run('cp');
SELECT is((pg_temp.last('cp')).status, 'succeeded', 'a well-formed mid-pass checkpoint resumes the pass');
SELECT results_eq($$SELECT count(*) FILTER (WHERE path LIKE '/s/ok-cp/customers.json?page=1&%'),
                           count(*) FILTER (WHERE path LIKE '/s/ok-cp/customers.json?page=2&%')
                    FROM pg_temp.paths('ok-cp')$$,
                  $$VALUES (2::bigint, 3::bigint)$$,
                  'customers page 1 was read by the first and the fresh run only (attacks fetch nothing), page 2 by the resumed one too');

SELECT * FROM finish();
DROP TABLE pg_temp.attacks;
DROP ROLE cp_attacker;
