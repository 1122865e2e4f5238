-- A stand-in for a connector, for the worker's crash tests (a vendor in a table, so kills land on
-- thousands of small pages without a network in between): it keeps
-- billing._sync_run's contract (runs a queued or running run to its end, commits page by page with
-- its checkpoint in billing._sync_state, records the outcome, never raises for a failed sync).
-- The "vendor" is the table pgb_fake.vendor; each committed page also appends to pgb_fake.applied,
-- so a test can prove that no record was lost or written twice and that no page was half-applied.
-- Options of the source: {"per_page": 50, "delay": 0.02, "fail": false}.
CREATE SCHEMA pgb_fake;
CREATE TABLE pgb_fake.vendor (id integer PRIMARY KEY, payload text NOT NULL);
CREATE TABLE pgb_fake.synced (source_id bigint NOT NULL, id integer NOT NULL, payload text NOT NULL,
                              PRIMARY KEY (source_id, id));
CREATE TABLE pgb_fake.applied (source_id bigint NOT NULL, id integer NOT NULL, run_id bigint NOT NULL,
                               page integer NOT NULL);

CREATE OR REPLACE PROCEDURE billing._sync_run(run_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_source billing.sources;
    v_after integer;
    v_page integer;
    v_n integer;
    v_max integer;
    v_per integer;
    v_ids integer[];
    v_payloads text[];
BEGIN
    SELECT s.* INTO v_source FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE r.id = run_id;
    UPDATE billing.sync_runs r SET status = 'running', started_at = coalesce(r.started_at, clock_timestamp())
     WHERE r.id = run_id;
    COMMIT;
    IF coalesce((v_source.options ->> 'fail')::boolean, false) THEN
        PERFORM billing._finish_run(run_id, format('source "%s": the stand-in vendor refused', v_source.name));
        COMMIT;
        RETURN;
    END IF;
    v_per := coalesce((v_source.options ->> 'per_page')::integer, 50);
    LOOP
        SELECT coalesce((st.cursor ->> 'after')::integer, 0), coalesce((st.cursor ->> 'page')::integer, 0)
          INTO v_after, v_page
          FROM billing._sync_state st WHERE st.source_id = v_source.id AND st.entity = 'records';
        v_after := coalesce(v_after, 0);
        v_page := coalesce(v_page, 0) + 1;
        PERFORM pg_sleep(coalesce((v_source.options ->> 'delay')::double precision, 0.02));   -- the network
        SELECT array_agg(v.id ORDER BY v.id), array_agg(v.payload ORDER BY v.id), count(*), max(v.id)
          INTO v_ids, v_payloads, v_n, v_max
          FROM (SELECT f.id, f.payload FROM pgb_fake.vendor f WHERE f.id > v_after ORDER BY f.id LIMIT v_per) v;
        EXIT WHEN v_n = 0;
        INSERT INTO pgb_fake.synced (source_id, id, payload) SELECT v_source.id, p.id, p.payload FROM unnest(v_ids, v_payloads) p (id, payload)
        ON CONFLICT (source_id, id) DO UPDATE SET payload = EXCLUDED.payload;
        INSERT INTO pgb_fake.applied (source_id, id, run_id, page) SELECT v_source.id, p.id, run_id, v_page FROM unnest(v_ids) p (id);
        INSERT INTO billing._sync_state (source_id, entity, cursor)
        VALUES (v_source.id, 'records', jsonb_build_object('after', v_max, 'page', v_page))
        ON CONFLICT (source_id, entity) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now();
        UPDATE billing.sync_runs r SET pages = r.pages + 1, records_inserted = r.records_inserted + v_n,
               current_entity = 'records', current_page = v_page
         WHERE r.id = run_id;
        COMMIT;
    END LOOP;
    PERFORM billing._finish_run(run_id);
    COMMIT;
END
$fn$;
