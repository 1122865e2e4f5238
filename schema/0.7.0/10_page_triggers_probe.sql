-- A sync stores a page of invoice lines per statement, and each statement fires these triggers with
-- the page's few hundred lines. Planned as joins, the cached plans read every invoice (the revenue
-- capture's hash join) or every entry of invoice_lines_transaction (the statement link's bitmap AND)
-- on every page: at the 100th page of a 20,000-invoice sync, 20,000 invoices and 44,000 entries to
-- find 200 and 467. The page's rows now probe by primary key (OFFSET 0 keeps each probe a
-- parameterised scan), so a page costs the same at the start of a site as at its end. As in
-- 65_revenue_refresh.sql of 0.2.0 and 60_push_documents.sql of 0.3.0 otherwise.

CREATE OR REPLACE FUNCTION billing._revenue_capture() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v_ids bigint[] := '{}';
    v_docs bigint[] := '{}';  -- a line's customer is its document's: the documents, probed once below
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) ANY (ARRAY['INSERT', 'UPDATE']) THEN
        IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'invoice_lines' THEN
            v_docs := ARRAY(SELECT n.invoice_id FROM new_rows n);
        ELSIF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'credit_note_lines' THEN
            v_docs := ARRAY(SELECT n.credit_note_id FROM new_rows n);
        ELSE
            v_ids := ARRAY(SELECT DISTINCT n.customer_id FROM new_rows n);
        END IF;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) ANY (ARRAY['UPDATE', 'DELETE']) THEN
        IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'invoice_lines' THEN
            v_docs := v_docs OPERATOR(pg_catalog.||) ARRAY(SELECT o.invoice_id FROM old_rows o);
        ELSIF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'credit_note_lines' THEN
            v_docs := v_docs OPERATOR(pg_catalog.||) ARRAY(SELECT o.credit_note_id FROM old_rows o);
        ELSE
            v_ids := v_ids OPERATOR(pg_catalog.||) ARRAY(SELECT DISTINCT o.customer_id FROM old_rows o);
        END IF;
    END IF;
    IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'invoice_lines' THEN
        v_ids := ARRAY(SELECT x.customer_id FROM (SELECT DISTINCT u.id FROM pg_catalog.unnest(v_docs) u(id)) d
                        CROSS JOIN LATERAL (SELECT i.customer_id FROM billing.invoices i
                                             WHERE i.id OPERATOR(pg_catalog.=) d.id OFFSET 0) x);
    ELSIF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'credit_note_lines' THEN
        v_ids := ARRAY(SELECT x.customer_id FROM (SELECT DISTINCT u.id FROM pg_catalog.unnest(v_docs) u(id)) d
                        CROSS JOIN LATERAL (SELECT c.customer_id FROM billing.credit_notes c
                                             WHERE c.id OPERATOR(pg_catalog.=) d.id OFFSET 0) x);
    END IF;
    PERFORM billing._revenue_queue(v_ids);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION billing._ab_link_statements(by_table text, ids bigint[]) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n integer;
BEGIN
    WITH pairs AS (
        SELECT i.id AS inv, s.id AS st
          FROM pg_catalog.unnest(ids) AS u(id)
         CROSS JOIN LATERAL (SELECT x.invoice_id, x.raw FROM billing.invoice_lines x
                              WHERE x.id OPERATOR(pg_catalog.=) u.id OFFSET 0) l
          JOIN billing.invoices i ON i.id OPERATOR(pg_catalog.=) l.invoice_id
          JOIN billing.sources src ON src.id OPERATOR(pg_catalog.=) i.source_id
           AND src.kind OPERATOR(pg_catalog.=) 'advanced_billing'
          JOIN billing.statements s ON s.source_id OPERATOR(pg_catalog.=) i.source_id
           AND s.raw OPERATOR(pg_catalog.?) 'transactions'
           AND (s.raw OPERATOR(pg_catalog.->) 'transactions') OPERATOR(pg_catalog.@>)
               pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('id', l.raw OPERATOR(pg_catalog.->) 'transaction_id'))
         WHERE by_table OPERATOR(pg_catalog.=) 'invoice_lines' AND l.raw OPERATOR(pg_catalog.?) 'transaction_id'
        UNION ALL
        SELECT i.id, s.id
          FROM billing.statements s
          JOIN billing.sources src ON src.id OPERATOR(pg_catalog.=) s.source_id
           AND src.kind OPERATOR(pg_catalog.=) 'advanced_billing'
         CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(
                  CASE WHEN pg_catalog.jsonb_typeof(s.raw OPERATOR(pg_catalog.->) 'transactions') OPERATOR(pg_catalog.=) 'array'
                       THEN s.raw OPERATOR(pg_catalog.->) 'transactions' ELSE '[]' END) t
          JOIN billing.invoice_lines l
            ON (l.raw OPERATOR(pg_catalog.->>) 'transaction_id') OPERATOR(pg_catalog.=) (t OPERATOR(pg_catalog.->>) 'id')
           AND l.raw OPERATOR(pg_catalog.?) 'transaction_id'
          JOIN billing.invoices i ON i.id OPERATOR(pg_catalog.=) l.invoice_id
           AND i.source_id OPERATOR(pg_catalog.=) s.source_id
         WHERE by_table OPERATOR(pg_catalog.=) 'statements' AND s.id OPERATOR(pg_catalog.=) ANY (ids)
           AND pg_catalog.jsonb_typeof(t OPERATOR(pg_catalog.->) 'id') OPERATOR(pg_catalog.=) ANY (ARRAY['number', 'string'])
    ), best AS (
        SELECT p.inv, pg_catalog.min(p.st) AS st FROM pairs p GROUP BY p.inv
    ), linked AS (
        UPDATE billing.invoices i SET statement_id = b.st FROM best b
         WHERE i.id OPERATOR(pg_catalog.=) b.inv
           AND (i.statement_id IS NULL OR b.st OPERATOR(pg_catalog.<) i.statement_id)
        RETURNING 1)
    SELECT pg_catalog.count(*) INTO n FROM linked;
    RETURN n;
END
$fn$;
