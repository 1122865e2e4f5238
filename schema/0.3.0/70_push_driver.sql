-- The push driver's SQL half (issue 11): claiming due outbox rows in a short transaction, building
-- the Xero requests (batches of up to 50 per endpoint, placeholders replaced by remote ids), and
-- recording each element's outcome. The C half (src/push/) does the HTTP: tokens, limits, curl multi.
-- Every function here runs inside one short transaction the C driver commits; none waits on the network.

ALTER TABLE billing.push_runs ADD COLUMN parked_until timestamptz;
ALTER TABLE billing.push_runs ADD COLUMN lookups integer NOT NULL DEFAULT 0;
ALTER TABLE billing.push_runs ADD COLUMN trigger text NOT NULL DEFAULT 'manual';
COMMENT ON COLUMN billing.push_runs.parked_until IS 'Set when Xero''s day limit stopped the run: no request is sent to this target before then.';
COMMENT ON COLUMN billing.push_runs.lookups IS 'Documents of unknown outcome looked up by natural key.';
COMMENT ON COLUMN billing.push_runs.trigger IS 'manual (CALL billing.push), schedule, or after_sync.';
GRANT INSERT, UPDATE ON billing.push_runs TO billing_admin;
-- A worker's push that finds its target being pushed by another session ends at once as skipped.
ALTER TABLE billing.push_runs DROP CONSTRAINT push_runs_status_known;
ALTER TABLE billing.push_runs ADD CONSTRAINT push_runs_status_known
    CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted', 'skipped'));
COMMENT ON COLUMN billing.push_runs.status IS 'running, succeeded, failed, interrupted, or skipped (a worker''s push that found the target being pushed by another session; it did nothing).';

-- A document sent, of unknown outcome and not found by its look-up twice in one run is not sent a
-- third time by that run: an answer that never carries its id (a mock, a proxy) cannot loop a run.
ALTER TABLE billing.outbox ADD COLUMN missed_in_run bigint;
COMMENT ON COLUMN billing.outbox.missed_in_run IS 'The push run whose look-up last failed to find this document after an unknown outcome; a second miss in the same run defers it to a later run.';

-- Until when a target is parked by a day limit (NULL: not parked).
CREATE FUNCTION billing._push_parked_until(target bigint) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT max(r.parked_until) FROM billing.push_runs r
     WHERE r.target_source_id = $1 AND r.parked_until > pg_catalog.now()
$fn$;
COMMENT ON FUNCTION billing._push_parked_until(bigint) IS 'Until when Xero''s day limit parks a target, or NULL.';

-- Rows left in_flight belong to a run that died after sending (or before): the outcome is unknown.
-- Called under the target's push lock, so no live run owns them, and runs still 'running' are dead.
CREATE FUNCTION billing._push_recover(target bigint, run_id bigint) RETURNS integer
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    UPDATE billing.push_runs r SET status = 'interrupted', finished_at = pg_catalog.clock_timestamp(),
           error = 'the run ended without recording its end (server crash or kill)'
     WHERE r.target_source_id = $1 AND r.status = 'running' AND r.id <> $2;
    WITH r AS (
        UPDATE billing.outbox o SET state = 'unknown', updated_at = pg_catalog.clock_timestamp(),
               last_error = 'a push run ended while the document was in flight'
         WHERE o.target_source_id = $1 AND o.state = 'in_flight' RETURNING 1)
    SELECT count(*)::int FROM r
$fn$;
COMMENT ON FUNCTION billing._push_recover(bigint, bigint) IS 'Marks the runs of a target that died as interrupted, and the documents they left in flight as unknown, to be looked up before anything is sent again.';

-- Replaces every {"pgb_ref": "<kind>:<natural key>"} by the remote id of that document of the target;
-- NULL when one is not confirmed yet.
CREATE FUNCTION billing._push_resolve(target bigint, payload jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_text text := payload::text;
    m text[];
    v_ref text;
    v_remote text;
BEGIN
    FOR m IN SELECT regexp_matches(payload::text, '\{"pgb_ref": ("(?:[^"\\]|\\.)*")\}', 'g') LOOP
        v_ref := (m[1])::jsonb #>> '{}';
        SELECT o.remote_id INTO v_remote FROM billing.outbox o
         WHERE o.target_source_id = target AND o.doc_kind = split_part(v_ref, ':', 1)
           AND o.natural_key = substr(v_ref, strpos(v_ref, ':') + 1) AND o.state = 'confirmed';
        IF v_remote IS NULL THEN
            RETURN NULL;
        END IF;
        v_text := replace(v_text, '{"pgb_ref": ' || m[1] || '}', to_jsonb(v_remote)::text);
    END LOOP;
    RETURN v_text::jsonb;
END
$fn$;
COMMENT ON FUNCTION billing._push_resolve(bigint, jsonb) IS 'A payload with its placeholders replaced by the remote ids of the documents they name, or NULL while one is unconfirmed.';

-- Where a document goes and as what: method, path, the plural key of the body, the element.
CREATE FUNCTION billing._push_route(doc_kind text, remote_id text, element jsonb,
                                    OUT method text, OUT path text, OUT plural text, OUT element_out jsonb)
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT CASE WHEN $2 IS NOT NULL AND $1 IN ('contact', 'invoice', 'credit_note') THEN 'POST' ELSE 'PUT' END,
           CASE $1 WHEN 'contact' THEN '/Contacts' WHEN 'tax_rate' THEN '/TaxRates' WHEN 'invoice' THEN '/Invoices'
                   WHEN 'credit_note' THEN '/CreditNotes' WHEN 'payment' THEN '/Payments' WHEN 'refund' THEN '/Payments'
                   WHEN 'allocation' THEN '/CreditNotes/' || ($3 -> 'CreditNote' ->> 'CreditNoteID') || '/Allocations' END,
           CASE $1 WHEN 'contact' THEN 'Contacts' WHEN 'tax_rate' THEN 'TaxRates' WHEN 'invoice' THEN 'Invoices'
                   WHEN 'credit_note' THEN 'CreditNotes' WHEN 'allocation' THEN 'Allocations' ELSE 'Payments' END,
           CASE WHEN $1 = 'allocation' THEN $3 - 'CreditNote'
                WHEN $2 IS NOT NULL AND $1 = 'contact' THEN $3 || pg_catalog.jsonb_build_object('ContactID', $2)
                WHEN $2 IS NOT NULL AND $1 = 'invoice' THEN $3 || pg_catalog.jsonb_build_object('InvoiceID', $2)
                WHEN $2 IS NOT NULL AND $1 = 'credit_note' THEN $3 || pg_catalog.jsonb_build_object('CreditNoteID', $2)
                ELSE $3 END
$fn$;
COMMENT ON FUNCTION billing._push_route(text, text, jsonb) IS 'The Xero endpoint (method and path), body key and element of one resolved document; a document Xero already has is updated by its id (POST).';

-- Claims the due documents of a target for at most max_requests requests of up to 50 documents:
-- pending, due, every dependency confirmed, its placeholders resolvable. They become in_flight
-- (committed by the caller before anything is sent). Returns one row per request.
CREATE FUNCTION billing._push_claim(target bigint, max_requests integer, batch_size integer DEFAULT 50)
RETURNS TABLE (request integer, method text, path text, idempotency_key text, body text, ids bigint[])
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    RETURN QUERY
    WITH due AS (
        SELECT o.id, o.doc_kind, o.remote_id, o.idempotency_key, o.payload
          FROM billing.outbox o
         WHERE o.target_source_id = target AND o.state = 'pending' AND o.next_attempt_at <= pg_catalog.now()
           AND NOT EXISTS (SELECT 1 FROM billing.outbox d
                            WHERE d.id = ANY (o.depends_on) AND d.state <> 'confirmed')
         ORDER BY o.id
         LIMIT max_requests * batch_size
           FOR UPDATE OF o SKIP LOCKED),
    resolved AS (
        SELECT d.id, d.idempotency_key, r.method, r.path, r.plural, r.element_out AS element
          FROM due d, billing._push_resolve(target, d.payload) p(payload),
               LATERAL billing._push_route(d.doc_kind, d.remote_id, p.payload) r
         WHERE p.payload IS NOT NULL),
    numbered AS (
        SELECT x.*, (pg_catalog.row_number() OVER (PARTITION BY x.method, x.path ORDER BY x.id) - 1) / batch_size AS chunk
          FROM resolved x),
    requests AS (
        SELECT pg_catalog.row_number() OVER (ORDER BY min(n.id))::int AS request, n.method, n.path,
               CASE WHEN count(*) = 1 THEN min(n.idempotency_key)
                    ELSE 'pgb-batch-' || md5(string_agg(n.idempotency_key, ',' ORDER BY n.id)) END AS idempotency_key,
               pg_catalog.jsonb_build_object(min(n.plural), pg_catalog.jsonb_agg(n.element ORDER BY n.id))::text AS body,
               array_agg(n.id ORDER BY n.id) AS ids
          FROM numbered n GROUP BY n.method, n.path, n.chunk),
    chosen AS (SELECT q.* FROM requests q WHERE q.request <= max_requests),
    claimed AS (
        UPDATE billing.outbox o SET state = 'in_flight', attempts = o.attempts + 1,
               updated_at = pg_catalog.clock_timestamp()
          FROM chosen c WHERE o.id = ANY (c.ids) RETURNING o.id)
    SELECT c.request, c.method, c.path || '?summarizeErrors=false&unitdp=4', c.idempotency_key, c.body, c.ids
      FROM chosen c
     WHERE (SELECT count(*) FROM claimed) >= 0
     ORDER BY c.request;
END
$fn$;
COMMENT ON FUNCTION billing._push_claim(bigint, integer, integer) IS 'Claims due documents (pending, dependencies confirmed) with FOR UPDATE SKIP LOCKED, sets them in_flight and returns the requests to send: up to batch_size documents per endpoint and request.';

-- The remote id Xero gives a document of each kind.
CREATE FUNCTION billing._push_remote_id(doc_kind text, element jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT CASE $1 WHEN 'contact' THEN $2 ->> 'ContactID' WHEN 'tax_rate' THEN $2 ->> 'TaxType'
                   WHEN 'invoice' THEN $2 ->> 'InvoiceID' WHEN 'credit_note' THEN $2 ->> 'CreditNoteID'
                   WHEN 'allocation' THEN $2 ->> 'AllocationID' ELSE $2 ->> 'PaymentID' END
$fn$;
COMMENT ON FUNCTION billing._push_remote_id(text, jsonb) IS 'The Xero id of an answered element: ContactID, TaxType, InvoiceID, CreditNoteID, AllocationID or PaymentID.';

-- One document confirmed with Xero's id. A created tax rate becomes the tax_rate map of its code,
-- in the same transaction, so later documents use it.
CREATE FUNCTION billing._push_confirm(outbox_id bigint, remote text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    o billing.outbox;
BEGIN
    UPDATE billing.outbox x SET state = 'confirmed', remote_id = remote, last_error = NULL,
           updated_at = pg_catalog.clock_timestamp()
     WHERE x.id = outbox_id RETURNING * INTO o;
    UPDATE billing.alerts a SET resolved_at = pg_catalog.now()
     WHERE a.kind = 'push_rejected' AND a.resolved_at IS NULL AND a.source_id = o.origin_source_id
       AND a.subject = o.doc_kind || ' ' || o.natural_key;
    IF o.doc_kind = 'tax_rate' THEN
        INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code, remote_name)
        VALUES (o.origin_source_id, 'tax_rate', o.natural_key, remote, o.payload ->> 'Name')
        ON CONFLICT ON CONSTRAINT accounting_maps_one_per_key DO NOTHING;
    END IF;
END
$fn$;
COMMENT ON FUNCTION billing._push_confirm(bigint, text) IS 'Confirms a document with the id Xero gave it; a created tax rate is remembered as a tax_rate map.';

-- One document rejected by Xero: failed, with Xero's message, and an alert.
CREATE FUNCTION billing._push_reject(outbox_id bigint, message text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    o billing.outbox;
BEGIN
    UPDATE billing.outbox x SET state = 'failed', last_error = left(message, 2000), updated_at = pg_catalog.clock_timestamp()
     WHERE x.id = outbox_id RETURNING * INTO o;
    PERFORM billing._push_raise(o.origin_source_id, 'push_rejected', 'error', o.doc_kind || ' ' || o.natural_key,
                                pg_catalog.format('Xero rejected %s %s: %s', replace(o.doc_kind, '_', ' '), o.natural_key, left(message, 500)),
                                'Fix the source document or the maps; a changed document is sent again. SELECT * FROM billing.outbox WHERE id = ' || o.id || ' shows it.');
END
$fn$;
COMMENT ON FUNCTION billing._push_reject(bigint, text) IS 'Marks a document failed with Xero''s validation message and raises a push_rejected alert.';

-- Records the outcome of one request of a run. outcome: 'answered' (status and body are Xero's
-- answer), 'unsent' (nothing reached Xero: back to pending), 'unknown' (it may have been carried
-- out). Returns the number of documents confirmed.
CREATE FUNCTION billing._push_record(run_id bigint, ids bigint[], outcome text, status integer, body text, error text)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_doc jsonb;
    v_els jsonb;
    v_el jsonb;
    v_msg text;
    v_remote text;
    v_confirmed int := 0;
    v_failed int := 0;
    o billing.outbox;
    i int;
BEGIN
    IF outcome = 'answered' THEN
        BEGIN
            v_doc := body::jsonb;
        EXCEPTION WHEN others THEN
            v_doc := NULL;
        END;
    END IF;
    IF outcome = 'answered' AND status BETWEEN 200 AND 299 AND pg_catalog.jsonb_typeof(v_doc) = 'object' THEN
        SELECT e.value INTO v_els FROM pg_catalog.jsonb_each(v_doc) e
         WHERE e.key IN ('Contacts', 'TaxRates', 'Invoices', 'CreditNotes', 'Payments', 'Allocations')
           AND pg_catalog.jsonb_typeof(e.value) = 'array' LIMIT 1;
    END IF;
    FOR i IN 1 .. coalesce(cardinality(ids), 0) LOOP
        SELECT * INTO o FROM billing.outbox x WHERE x.id = ids[i];
        CONTINUE WHEN NOT FOUND OR o.state <> 'in_flight';
        v_el := CASE WHEN v_els IS NOT NULL AND pg_catalog.jsonb_array_length(v_els) = cardinality(ids) THEN v_els -> (i - 1) END;
        v_remote := CASE WHEN pg_catalog.jsonb_typeof(v_el) = 'object' THEN billing._push_remote_id(o.doc_kind, v_el) END;
        IF outcome = 'unsent' THEN
            UPDATE billing.outbox x SET state = 'pending', last_error = error, updated_at = pg_catalog.clock_timestamp() WHERE x.id = o.id;
        ELSIF outcome = 'answered' AND status BETWEEN 400 AND 499 AND status NOT IN (401, 403, 408, 429) THEN
            -- the whole request was refused: every document with Xero's message
            v_msg := coalesce((SELECT string_agg(DISTINCT m ->> 'Message', '; ') FROM pg_catalog.jsonb_array_elements(
                                   CASE WHEN pg_catalog.jsonb_typeof(v_doc -> 'Elements') = 'array' THEN v_doc -> 'Elements' ELSE '[]' END) el,
                                   pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(el -> 'ValidationErrors') = 'array'
                                                                    THEN el -> 'ValidationErrors' ELSE '[]' END) m),
                              v_doc ->> 'Message', v_doc ->> 'Detail', 'HTTP status ' || status);
            PERFORM billing._push_reject(o.id, v_msg);
            v_failed := v_failed + 1;
        ELSIF pg_catalog.jsonb_typeof(v_el) = 'object'
              AND (v_el ->> 'HasErrors' = 'true' OR v_el ->> 'StatusAttributeString' = 'ERROR') THEN
            v_msg := coalesce((SELECT string_agg(m ->> 'Message', '; ') FROM pg_catalog.jsonb_array_elements(
                                   CASE WHEN pg_catalog.jsonb_typeof(v_el -> 'ValidationErrors') = 'array'
                                        THEN v_el -> 'ValidationErrors' ELSE '[]' END) m), 'rejected without a message');
            PERFORM billing._push_reject(o.id, v_msg);
            v_failed := v_failed + 1;
        ELSIF pg_catalog.jsonb_typeof(v_el) = 'object'
              AND length(v_remote) BETWEEN 1 AND 200 THEN
            PERFORM billing._push_confirm(o.id, v_remote);
            v_confirmed := v_confirmed + 1;
        ELSE
            -- sent, and no usable answer: it may exist in Xero; looked up before anything is sent again
            UPDATE billing.outbox x SET state = 'unknown', updated_at = pg_catalog.clock_timestamp(),
                   last_error = coalesce(error, 'HTTP status ' || status || ' without a usable answer')
             WHERE x.id = o.id;
        END IF;
    END LOOP;
    -- documents changed while in flight are rebuilt now that their outcome is known
    PERFORM billing._push_requeue(x.id) FROM billing.outbox x
     WHERE x.id = ANY (ids) AND x.rebuild AND x.state NOT IN ('in_flight', 'unknown');
    UPDATE billing.push_runs r SET documents = r.documents + CASE WHEN outcome = 'unsent' THEN 0 ELSE cardinality(ids) END,
           confirmed = r.confirmed + v_confirmed, failed = r.failed + v_failed
     WHERE r.id = run_id;
    RETURN v_confirmed;
END
$fn$;
COMMENT ON FUNCTION billing._push_record(bigint, bigint[], text, integer, text, text) IS 'Records one request''s outcome per document: confirmed with Xero''s id, failed with its validation message (and an alert), pending when nothing was sent, unknown when the outcome is not known.';

-- The natural key of a document as Xero holds it: the field a look-up matches, and its value.
CREATE FUNCTION billing._push_lookup_key(doc_kind text, payload jsonb, OUT field text, OUT value text)
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT CASE $1 WHEN 'contact' THEN 'ContactNumber' WHEN 'tax_rate' THEN 'Name' ELSE 'Reference' END,
           CASE $1 WHEN 'contact' THEN $2 ->> 'ContactNumber' WHEN 'tax_rate' THEN $2 ->> 'Name' ELSE $2 ->> 'Reference' END
$fn$;
COMMENT ON FUNCTION billing._push_lookup_key(text, jsonb) IS 'The field (ContactNumber, Name or Reference) and value by which a document is found in Xero.';

-- The look-ups of documents whose outcome is unknown, batched: up to batch_size documents of one
-- endpoint per GET, found by natural key with one where clause of OR-ed equalities
-- (ContactNumber=="a" OR ContactNumber=="b" ...; Xero's list filters IDs/InvoiceNumbers do not take
-- a Reference or a ContactNumber), the clause kept under max_where characters. Allocations are found
-- among their credit note's allocations: one GET per credit note, however many of its allocations
-- are unknown. path is below the base URL; where_clause (or NULL) is URL-encoded by the caller.
CREATE FUNCTION billing._push_lookups(target bigint, max_requests integer, batch_size integer DEFAULT 25,
                                      max_where integer DEFAULT 4000)
RETURNS TABLE (request integer, path text, where_clause text, ids bigint[])
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    WITH u AS (
        SELECT o.id, o.doc_kind,
               CASE o.doc_kind WHEN 'contact' THEN '/Contacts' WHEN 'tax_rate' THEN '/TaxRates' WHEN 'invoice' THEN '/Invoices'
                               WHEN 'credit_note' THEN '/CreditNotes' WHEN 'allocation' THEN
                                   '/CreditNotes/' || (billing._push_resolve(o.target_source_id, o.payload) -> 'CreditNote' ->> 'CreditNoteID')
                               ELSE '/Payments' END AS path,
               CASE WHEN o.doc_kind <> 'allocation' THEN
                   k.field || '=="' || replace(replace(coalesce(k.value, ''), '\', '\\'), '"', '\"') || '"' END AS clause
          FROM billing.outbox o, LATERAL billing._push_lookup_key(o.doc_kind, o.payload) k
         WHERE o.target_source_id = $1 AND o.state = 'unknown'),
    n AS (
        SELECT u.*, pg_catalog.row_number() OVER w AS rn,
               sum(coalesce(length(u.clause), 0) + 4) OVER w AS cum
          FROM u WINDOW w AS (PARTITION BY u.path ORDER BY u.id)),
    g AS (
        SELECT n.path, min(n.id) AS first, array_agg(n.id ORDER BY n.id) AS ids,
               string_agg(n.clause, ' OR ' ORDER BY n.id) AS where_clause
          FROM n GROUP BY n.path, (n.rn - 1) / $3, (n.cum - 1) / $4)
    SELECT (pg_catalog.row_number() OVER (ORDER BY g.first))::int, g.path, g.where_clause, g.ids
      FROM g ORDER BY g.first LIMIT $2
$fn$;
COMMENT ON FUNCTION billing._push_lookups(bigint, integer, integer, integer) IS 'The GET requests that find documents of unknown outcome by natural key, batched: up to batch_size documents of one endpoint per request (an OR of Reference, ContactNumber or tax rate Name equalities), or one credit note''s allocations.';

-- The answer to one look-up request, for each of its documents: found (the element with its natural
-- key, not deleted or voided) → confirmed with Xero's id; not found → pending again (sending it again
-- cannot duplicate it). Returns how many were found.
CREATE FUNCTION billing._push_lookup_result(run_id bigint, ids bigint[], status integer, body text) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    o billing.outbox;
    v_doc jsonb;
    v_found jsonb;
    v_payload jsonb;
    v_key record;
    v_n integer := 0;
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
            -- not found: sent again; a second miss in this run waits a minute, for a later run
            UPDATE billing.outbox x SET state = 'pending', updated_at = pg_catalog.clock_timestamp(), missed_in_run = run_id,
                   next_attempt_at = CASE WHEN x.missed_in_run = run_id THEN pg_catalog.clock_timestamp() + interval '1 minute'
                                          ELSE x.next_attempt_at END,
                   last_error = CASE WHEN x.missed_in_run = run_id
                                     THEN 'sent twice by push run ' || run_id || ', and neither answer carried its id nor did a look-up find it: sent again in a minute, by a later run'
                                     ELSE 'not found in Xero after an unknown outcome: sent again' END
             WHERE x.id = o.id;
        END IF;
        PERFORM billing._push_requeue(x.id) FROM billing.outbox x WHERE x.id = o.id AND x.rebuild;
    END LOOP;
    RETURN v_n;
END
$fn$;
COMMENT ON FUNCTION billing._push_lookup_result(bigint, bigint[], integer, text) IS 'Resolves the documents of one look-up request from its answer: each confirmed with the id of the element carrying its natural key, or pending to be sent again.';

CREATE FUNCTION billing._push_finish(run_id bigint, error text, parked_until timestamptz, requests integer,
                                     skipped boolean DEFAULT false) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, billing, pg_temp AS $fn$
    UPDATE billing.push_runs r SET status = CASE WHEN $5 THEN 'skipped' WHEN $2 IS NULL THEN 'succeeded' ELSE 'failed' END,
           finished_at = pg_catalog.clock_timestamp(), error = $2, parked_until = $3, requests = $4
     WHERE r.id = $1
$fn$;
COMMENT ON FUNCTION billing._push_finish(bigint, text, timestamptz, integer, boolean) IS 'Ends a push run: succeeded, skipped (the target was busy), or failed with its error (and, for a day limit, until when the target is parked).';

-- The C driver: claims, sends and records batch by batch, committing each step.
CREATE PROCEDURE billing._push_connector(run_id bigint)
LANGUAGE c AS 'MODULE_PATHNAME', 'pgb_push_connector';
COMMENT ON PROCEDURE billing._push_connector(bigint) IS 'Runs a push run (C): looks up unknown documents, then claims, sends and records batches until nothing is due; commits each step.';

CREATE FUNCTION billing._push_start(target bigint, trigger text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_run bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM billing.sources s WHERE s.id = target AND s.kind = 'xero') THEN
        RAISE EXCEPTION 'source % is not a xero source', target USING ERRCODE = 'invalid_parameter_value',
            HINT = 'billing.push pushes to a source of kind xero; a billing source names it in its option push_to.';
    END IF;
    INSERT INTO billing.push_runs (target_source_id, status, trigger) VALUES (target, 'running', trigger)
    RETURNING id INTO v_run;
    RETURN v_run;
END
$fn$;
COMMENT ON FUNCTION billing._push_start(bigint, text) IS 'Creates a running push run for a xero source.';

CREATE PROCEDURE billing.push(target text)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_target pg_catalog.int8 := billing._source_id(target);
    v_run pg_catalog.int8;
    r billing.push_runs;
BEGIN
    v_run := billing._push_start(v_target, 'manual');
    COMMIT;
    CALL billing._push_connector(v_run);
    COMMIT;
    SELECT * INTO r FROM billing.push_runs x WHERE x.id OPERATOR(pg_catalog.=) v_run;
    IF r.parked_until IS NOT NULL THEN
        RAISE NOTICE 'push to "%" is parked until % by Xero''s day limit (run %)', target, r.parked_until, v_run;
    ELSIF r.error IS NOT NULL THEN
        RAISE EXCEPTION 'push to "%" failed (run %)', target, v_run
            USING ERRCODE = 'external_routine_exception', DETAIL = r.error,
                  HINT = pg_catalog.format('SELECT * FROM billing.push_runs WHERE id = %s shows the run; documents already confirmed stay confirmed.', v_run);
    END IF;
END
$fn$;
COMMENT ON PROCEDURE billing.push(text) IS 'Pushes the due documents of the outbox to a xero source now, in this session, committing per batch; records a run in billing.push_runs.';

REVOKE ALL ON FUNCTION billing._push_parked_until(bigint), billing._push_recover(bigint, bigint), billing._push_resolve(bigint, jsonb),
    billing._push_route(text, text, jsonb), billing._push_claim(bigint, integer, integer), billing._push_remote_id(text, jsonb),
    billing._push_confirm(bigint, text), billing._push_reject(bigint, text),
    billing._push_record(bigint, bigint[], text, integer, text, text), billing._push_lookup_key(text, jsonb),
    billing._push_lookups(bigint, integer, integer, integer), billing._push_lookup_result(bigint, bigint[], integer, text), billing._push_finish(bigint, text, timestamptz, integer, boolean),
    billing._push_start(bigint, text) FROM PUBLIC;
REVOKE ALL ON PROCEDURE billing._push_connector(bigint), billing.push(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billing._push_parked_until(bigint), billing._push_recover(bigint, bigint), billing._push_resolve(bigint, jsonb),
    billing._push_route(text, text, jsonb), billing._push_claim(bigint, integer, integer), billing._push_remote_id(text, jsonb),
    billing._push_confirm(bigint, text), billing._push_reject(bigint, text),
    billing._push_record(bigint, bigint[], text, integer, text, text), billing._push_lookup_key(text, jsonb),
    billing._push_lookups(bigint, integer, integer, integer), billing._push_lookup_result(bigint, bigint[], integer, text), billing._push_finish(bigint, text, timestamptz, integer, boolean),
    billing._push_start(bigint, text) TO billing_admin;
GRANT EXECUTE ON PROCEDURE billing._push_connector(bigint), billing.push(text) TO billing_admin;

-- What a worker runs for a sync run (src/worker/sync_worker.c via pgb_push_worker_statement): a
-- xero source pushes its outbox, then pulls; any other source is synced, and pushes at once to the
-- target its option push_to names when the sync succeeded. Procedures that COMMIT carry no SET search_path: names are qualified.
CREATE PROCEDURE billing._worker_run(run_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_source pg_catalog.int8;
    v_kind pg_catalog.text;
    v_target pg_catalog.int8;
    v_push pg_catalog.int8;
BEGIN
    SELECT s.id, s.kind INTO v_source, v_kind
      FROM billing.sync_runs r JOIN billing.sources s ON s.id OPERATOR(pg_catalog.=) r.source_id
     WHERE r.id OPERATOR(pg_catalog.=) run_id;
    -- a xero source pushes its outbox first (what is due goes out on time, whatever the pull meets),
    -- then pulls, so the pull reads back what was just pushed
    IF v_kind OPERATOR(pg_catalog.=) 'xero' AND billing._push_parked_until(v_source) IS NULL THEN
        UPDATE billing.sync_runs r SET status = 'running', started_at = coalesce(r.started_at, pg_catalog.clock_timestamp())
         WHERE r.id OPERATOR(pg_catalog.=) run_id;
        v_push := billing._push_start(v_source, 'schedule');
        COMMIT;
        CALL billing._push_connector(v_push);
        COMMIT;
    END IF;
    CALL billing._sync_run(run_id);
    -- any other source whose sync succeeded pushes at once to the target its option push_to names
    SELECT t.id INTO v_target
      FROM billing.sync_runs r JOIN billing.sources s ON s.id OPERATOR(pg_catalog.=) r.source_id
      JOIN billing.sources t ON t.name OPERATOR(pg_catalog.=) (s.options OPERATOR(pg_catalog.->>) 'push_to')
                            AND t.kind OPERATOR(pg_catalog.=) 'xero'
     WHERE r.id OPERATOR(pg_catalog.=) run_id AND r.status OPERATOR(pg_catalog.=) 'succeeded'
       AND s.kind OPERATOR(pg_catalog.<>) 'xero';
    IF v_target IS NOT NULL AND billing._push_parked_until(v_target) IS NULL THEN
        v_push := billing._push_start(v_target, 'after_sync');
        COMMIT;
        CALL billing._push_connector(v_push);
        COMMIT;
    END IF;
END
$fn$;
COMMENT ON PROCEDURE billing._worker_run(bigint) IS 'A worker''s run: a xero source pushes its outbox, then pulls; another source is synced, then pushes to its push_to target when its sync succeeded.';
REVOKE ALL ON PROCEDURE billing._worker_run(bigint) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE billing._worker_run(bigint) TO billing_admin;
