-- Helpers shared by the sync and connector tests: \ir lib/helpers.sql (this folder is not run as a test).
-- The latest run of a source.
CREATE FUNCTION pg_temp.last(name text) RETURNS billing.sync_runs LANGUAGE sql AS $$
    SELECT * FROM billing.sync_runs WHERE source_id = billing._source_id(name) ORDER BY id DESC LIMIT 1
$$;
-- The fake's request paths of one scenario, in order (third field of each line of its log).
CREATE FUNCTION pg_temp.paths(scenario text) RETURNS TABLE (path text) LANGUAGE sql AS $$
    SELECT split_part(x, ' ', 3)
    FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/logs/' || scenario || '.log'), E'\n') x
    WHERE x <> ''
$$;
-- Runs one sync of a source to its end as billing.sync would, without raising for a failed run.
CREATE PROCEDURE pg_temp.run(name text) LANGUAGE plpgsql AS $$
DECLARE
    v_run bigint := billing._start_run(billing._source_id(name), 'manual');
BEGIN
    COMMIT;
    CALL billing._sync_run(v_run);
END
$$;
