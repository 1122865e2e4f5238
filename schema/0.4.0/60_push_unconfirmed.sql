-- A document Xero accepts but whose id no answer carries and no look-up finds (0.3.0 sent it again
-- a minute later on every later run, silently): the wait grows with every pair of sends, up to an
-- hour, and a push_unconfirmed alert names it until it is confirmed.

-- How long a document sent twice in one run without being found waits: 1 minute after its second
-- send, then four times longer per later run, at most an hour.
CREATE FUNCTION billing._push_unconfirmed_wait(attempts integer) RETURNS interval
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT LEAST(interval '1 hour',
                            interval '1 minute' OPERATOR(pg_catalog.*)
                            pg_catalog.power(4, GREATEST(0, ($1 OPERATOR(pg_catalog.-) 2) OPERATOR(pg_catalog./) 2))::double precision)
$fn$;
COMMENT ON FUNCTION billing._push_unconfirmed_wait(integer) IS 'The wait before a document Xero never confirmed is sent again: 1, 4, 16 minutes, then an hour, by its number of sends.';
REVOKE ALL ON FUNCTION billing._push_unconfirmed_wait(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billing._push_unconfirmed_wait(integer) TO billing_admin;

CREATE OR REPLACE FUNCTION billing._push_confirm(outbox_id bigint, remote text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    o billing.outbox;
BEGIN
    UPDATE billing.outbox x SET state = 'confirmed', remote_id = remote, last_error = NULL,
           updated_at = pg_catalog.clock_timestamp()
     WHERE x.id = outbox_id RETURNING * INTO o;
    UPDATE billing.alerts a SET resolved_at = pg_catalog.now()
     WHERE a.kind IN ('push_rejected', 'push_unconfirmed') AND a.resolved_at IS NULL AND a.source_id = o.origin_source_id
       AND a.subject = o.doc_kind || ' ' || o.natural_key;
    IF o.doc_kind = 'tax_rate' THEN
        INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code, remote_name)
        VALUES (o.origin_source_id, 'tax_rate', o.natural_key, remote, o.payload ->> 'Name')
        ON CONFLICT ON CONSTRAINT accounting_maps_one_per_key DO NOTHING;
    END IF;
END
$fn$;
COMMENT ON FUNCTION billing._push_confirm(bigint, text) IS 'Confirms a document with the id Xero gave it, resolving its push_rejected or push_unconfirmed alert; a created tax rate is remembered as a tax_rate map.';

CREATE OR REPLACE FUNCTION billing._push_lookup_result(run_id bigint, ids bigint[], status integer, body text) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    o billing.outbox;
    v_doc jsonb;
    v_found jsonb;
    v_payload jsonb;
    v_key record;
    v_n integer := 0;
    v_second_miss boolean;
BEGIN
    BEGIN
        v_doc := body::jsonb;
    EXCEPTION WHEN others THEN
        RAISE EXCEPTION 'a look-up of % documents answered with invalid JSON', cardinality(ids)
            USING ERRCODE = 'invalid_text_representation';
    END;
    FOR i IN 1 .. coalesce(cardinality(ids), 0) LOOP
        SELECT * INTO o FROM billing.outbox x WHERE x.id = ids[i] AND x.state = 'unknown';
        CONTINUE WHEN NOT FOUND;
        v_found := NULL;
        IF o.doc_kind = 'allocation' THEN
            v_payload := billing._push_resolve(o.target_source_id, o.payload);
            SELECT a INTO v_found
              FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(v_doc -> 'CreditNotes' -> 0 -> 'Allocations') = 'array'
                                                        THEN v_doc -> 'CreditNotes' -> 0 -> 'Allocations' ELSE '[]' END) a
             WHERE a -> 'Invoice' ->> 'InvoiceID' = v_payload -> 'Invoice' ->> 'InvoiceID'
               AND (a ->> 'Amount')::numeric = (v_payload ->> 'Amount')::numeric
               AND NOT EXISTS (SELECT 1 FROM billing.outbox y WHERE y.target_source_id = o.target_source_id
                                  AND y.doc_kind = 'allocation' AND y.remote_id = a ->> 'AllocationID')
             LIMIT 1;
        ELSE
            SELECT * INTO v_key FROM billing._push_lookup_key(o.doc_kind, o.payload);
            SELECT e INTO v_found
              FROM pg_catalog.jsonb_each(CASE WHEN pg_catalog.jsonb_typeof(v_doc) = 'object' THEN v_doc ELSE '{}' END) l,
                   pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(l.value) = 'array' THEN l.value ELSE '[]' END) e
             WHERE l.key IN ('Contacts', 'TaxRates', 'Invoices', 'CreditNotes', 'Payments')
               AND pg_catalog.jsonb_typeof(e) = 'object' AND e ->> v_key.field = v_key.value
               AND coalesce(e ->> 'Status', e ->> 'ContactStatus', 'ACTIVE') NOT IN ('DELETED', 'VOIDED', 'ARCHIVED')
             LIMIT 1;
        END IF;
        UPDATE billing.push_runs r SET lookups = r.lookups + 1 WHERE r.id = run_id;
        IF v_found IS NOT NULL AND billing._push_remote_id(o.doc_kind, v_found) IS NOT NULL THEN
            UPDATE billing.outbox x SET state = 'in_flight' WHERE x.id = o.id;
            PERFORM billing._push_confirm(o.id, billing._push_remote_id(o.doc_kind, v_found));
            UPDATE billing.push_runs r SET confirmed = r.confirmed + 1 WHERE r.id = run_id;
            v_n := v_n + 1;
        ELSE
            v_second_miss := o.missed_in_run IS NOT DISTINCT FROM run_id;
            -- not found: sent again. A second miss in this run waits for a later run, longer each
            -- time (1, 4, 16 minutes, then hourly: attempts counts every send), and needs a person.
            UPDATE billing.outbox x SET state = 'pending', updated_at = pg_catalog.clock_timestamp(), missed_in_run = run_id,
                   next_attempt_at = CASE WHEN x.missed_in_run = run_id
                                          THEN pg_catalog.clock_timestamp() + billing._push_unconfirmed_wait(x.attempts)
                                          ELSE x.next_attempt_at END,
                   last_error = CASE WHEN x.missed_in_run = run_id
                                     THEN 'sent twice by push run ' || run_id || ', and neither answer carried its id nor did a look-up find it: sent again in '
                                          || billing._push_unconfirmed_wait(x.attempts)::text || ', by a later run'
                                     ELSE 'not found in Xero after an unknown outcome: sent again' END
             WHERE x.id = o.id
            RETURNING * INTO o;
            IF v_second_miss THEN
                PERFORM billing._push_raise(o.origin_source_id, 'push_unconfirmed', 'warning', o.doc_kind || ' ' || o.natural_key,
                    pg_catalog.format('%s %s was sent to Xero %s times, no answer carried its id and no look-up finds it',
                                      replace(o.doc_kind, '_', ' '), o.natural_key, o.attempts),
                    'Something between pg_billing and Xero (a proxy, a mock, an API change) drops the id from the answers, or Xero keeps the document where the look-up does not see it. '
                    || 'It is sent again at ' || o.next_attempt_at::text || '. Check the target''s URL and Xero''s '
                    || replace(o.doc_kind, '_', ' ') || ' list; SELECT * FROM billing.outbox WHERE id = ' || o.id || ' shows it.');
            END IF;
        END IF;
        PERFORM billing._push_requeue(x.id) FROM billing.outbox x WHERE x.id = o.id AND x.rebuild;
    END LOOP;
    RETURN v_n;
END
$fn$;
COMMENT ON FUNCTION billing._push_lookup_result(bigint, bigint[], integer, text) IS 'Resolves the documents of one look-up request from its answer: each confirmed with the id of the element carrying its natural key, or pending to be sent again.';
