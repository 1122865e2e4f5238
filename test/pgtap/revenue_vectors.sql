-- The revenue vectors (../shared/vectors/revenue_vectors.json), every scenario to the cent, read from
-- the file the runner names in pgb_test.vectors_file: the expectations are the JSON, never this file.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- Fails loudly when the runner did not say where the vectors are.
CREATE TABLE pg_temp.vectors AS
SELECT pg_read_file(current_setting('pgb_test.vectors_file'))::jsonb AS doc;

CREATE TABLE pg_temp.scenario AS
SELECT s.ord, s.sc->>'id' AS id, s.sc FROM pg_temp.vectors v,
       jsonb_array_elements(v.doc->'scenarios') WITH ORDINALITY s(sc, ord);

SELECT plan((SELECT (2 + count(*) * 5
                     + count(*) FILTER (WHERE sc->'expected' ? 'journal_by_month') * 2
                     + sum((SELECT count(*) FROM jsonb_object_keys(coalesce(sc->'alternatives', '{}')) k
                            WHERE k LIKE 'monthly_even%')) * 2)::integer
             FROM pg_temp.scenario));

SELECT billing.add_source('vectors', 'manual');
-- the vectors' windows reach past today (B runs to 2027-03): report MRR for every month
SELECT billing.set_setting('mrr_through', 'all');

-- Loads one scenario through the manual views, as a user would. Invoices are paid in full on their
-- date unless the scenario lists its payments.
CREATE FUNCTION pg_temp.load(p_sc jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    c jsonb; i jsonb; l jsonb; p jsonb; n integer;
BEGIN
    FOR c IN SELECT * FROM jsonb_array_elements(p_sc->'inputs'->'customers') LOOP
        INSERT INTO billing.manual_customers (source, external_id, name, currency)
        VALUES ('vectors', c->>'id', c->>'id', c->>'currency');
    END LOOP;
    FOR i IN SELECT * FROM jsonb_array_elements(p_sc->'inputs'->'invoices') LOOP
        INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, paid_date,
                                             currency, subtotal, discount, tax, total)
        SELECT 'vectors', i->>'id', i->>'customer', 'paid', (i->>'date')::date, (i->>'date')::date, (i->>'date')::date,
               (SELECT cc->>'currency' FROM jsonb_array_elements(p_sc->'inputs'->'customers') cc WHERE cc->>'id' = i->>'customer'),
               sum((x->>'amount')::numeric + coalesce((x->'discount'->>'amount')::numeric, 0)),
               sum(coalesce((x->'discount'->>'amount')::numeric, 0)), sum((x->>'tax_amount')::numeric),
               sum((x->>'amount')::numeric + (x->>'tax_amount')::numeric)
          FROM jsonb_array_elements(i->'lines') x;
        n := 0;
        FOR l IN SELECT * FROM jsonb_array_elements(i->'lines') LOOP
            n := n + 1;
            INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, description, quantity, unit_price,
                subtotal, discount, tax, period_start, period_end, recurring, interval_months)
            VALUES ('vectors', i->>'id', n::text,
                    CASE l->>'kind' WHEN 'proration_credit' THEN 'credit' WHEN 'proration_charge' THEN 'plan' ELSE l->>'kind' END,
                    l->>'description', (l->>'quantity')::numeric, (l->>'unit_price')::numeric,
                    (l->>'amount')::numeric + coalesce((l->'discount'->>'amount')::numeric, 0),
                    coalesce((l->'discount'->>'amount')::numeric, 0), (l->>'tax_amount')::numeric,
                    (l->>'period_start')::date, (l->>'period_end')::date, (l->>'recurring')::boolean,
                    (l->>'interval_months')::integer);
        END LOOP;
        IF NOT p_sc->'inputs' ? 'payments' THEN
            INSERT INTO billing.manual_payments (source, external_id, customer, invoice, amount, currency, payment_date)
            SELECT 'vectors', 'pay-' || mi.external_id, mi.customer, mi.external_id, mi.total, mi.currency, mi.issue_date
              FROM billing.manual_invoices mi WHERE mi.source = 'vectors' AND mi.external_id = i->>'id';
        END IF;
    END LOOP;
    FOR p IN SELECT * FROM jsonb_array_elements(coalesce(p_sc->'inputs'->'payments', '[]')) LOOP
        INSERT INTO billing.manual_payments (source, external_id, customer, invoice, amount, currency, payment_date)
        SELECT 'vectors', 'pay-' || mi.external_id, mi.customer, mi.external_id, (p->>'amount')::numeric, mi.currency,
               (p->>'date')::date
          FROM billing.manual_invoices mi WHERE mi.source = 'vectors' AND mi.external_id = p->>'invoice';
    END LOOP;
END $$;

CREATE FUNCTION pg_temp.unload(p_sc jsonb) RETURNS void LANGUAGE sql AS $$
    DELETE FROM billing.payments p USING billing.customers c
     WHERE c.id = p.customer_id AND c.external_id IN (SELECT x->>'id' FROM jsonb_array_elements(p_sc->'inputs'->'customers') x);
    DELETE FROM billing.invoices i USING billing.customers c
     WHERE c.id = i.customer_id AND c.external_id IN (SELECT x->>'id' FROM jsonb_array_elements(p_sc->'inputs'->'customers') x);
    DELETE FROM billing.customers c
     WHERE c.external_id IN (SELECT x->>'id' FROM jsonb_array_elements(p_sc->'inputs'->'customers') x);
$$;

-- The months of a scenario's window, as 'YYYY-MM'.
CREATE FUNCTION pg_temp.window_months(p_sc jsonb) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT to_char(g, 'YYYY-MM')
      FROM generate_series(to_date(p_sc->'inputs'->'window'->>0, 'YYYY-MM'),
                           to_date(p_sc->'inputs'->'window'->>1, 'YYYY-MM'), interval '1 month') g
$$;

-- One figure per window month of the scenario's (single) customer, as the vectors write it.
CREATE FUNCTION pg_temp.by_month(p_sc jsonb, p_what text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v jsonb;
BEGIN
    EXECUTE format($q$
        SELECT jsonb_object_agg(w.m, coalesce(x.val, 0))
          FROM pg_temp.window_months($1) w(m)
          LEFT JOIN (SELECT to_char(r.month, 'YYYY-MM') AS m, sum(r.%I) AS val
                       FROM billing.%I r JOIN billing.customers c ON c.id = r.customer_id
                      WHERE c.external_id = $1->'inputs'->'customers'->0->>'id'
                      GROUP BY 1) x USING (m)$q$,
        split_part(p_what, '.', 2), split_part(p_what, '.', 1)) INTO v USING p_sc;
    RETURN v;
END $$;

CREATE FUNCTION pg_temp.movements(p_sc jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_object_agg(w.m, coalesce(x.mv, '{}'))
      FROM pg_temp.window_months(p_sc) w(m)
      LEFT JOIN (SELECT to_char(r.month, 'YYYY-MM') AS m, jsonb_object_agg(r.movement, r.amount) AS mv
                   FROM billing.mrr_movements r JOIN billing.customers c ON c.id = r.customer_id
                  WHERE c.external_id = p_sc->'inputs'->'customers'->0->>'id'
                  GROUP BY 1) x USING (m)
$$;

CREATE FUNCTION pg_temp.journal() RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('month', m, 'lines', lines, 'total_debit', td, 'total_credit', tc)
                              ORDER BY m), '[]')
      FROM (SELECT to_char(j.month, 'YYYY-MM') AS m,
                   jsonb_agg(jsonb_build_object('account', j.account, 'debit', j.debit, 'credit', j.credit)
                             ORDER BY j.account) AS lines,
                   sum(j.debit) AS td, sum(j.credit) AS tc
              FROM billing.journal_entries j GROUP BY j.month) x
$$;

-- The vectors write amounts as strings; the engine's figures are compared as numbers, exactly (no
-- rounding on our side: a figure off by a fraction of a cent fails).
CREATE FUNCTION pg_temp.num(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN CASE jsonb_typeof(p)
        WHEN 'object' THEN (SELECT coalesce(jsonb_object_agg(e.k, pg_temp.num(e.v)), '{}') FROM jsonb_each(p) e(k, v))
        WHEN 'array' THEN (SELECT coalesce(jsonb_agg(pg_temp.num(a.v) ORDER BY a.o), '[]')
                             FROM jsonb_array_elements(p) WITH ORDINALITY a(v, o))
        WHEN 'string' THEN CASE WHEN p #>> '{}' ~ '^-?[0-9]+(\.[0-9]+)?$' THEN to_jsonb((p #>> '{}')::numeric) ELSE p END
        ELSE p
    END;
END $$;
SELECT is(pg_temp.num('{"2026-01": "54.84", "x": {"new": "0.00"}}'), '{"2026-01": 54.840, "x": {"new": 0}}'::jsonb,
          'vector strings compare as numbers: 54.84 = 54.840, 0.00 = 0');
SELECT isnt(pg_temp.num('{"2026-01": "54.84"}'), '{"2026-01": 54.841}'::jsonb,
            'and exactly: 54.841 is not 54.84');

CREATE TABLE pg_temp.results (ord integer, description text, got jsonb, want jsonb);

-- Journals are consolidated over every customer: each scenario that has one is checked alone first,
-- and removing it must leave an empty journal.
DO $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT * FROM pg_temp.scenario WHERE sc->'expected' ? 'journal_by_month' ORDER BY ord LOOP
        PERFORM pg_temp.load(s.sc);
        PERFORM billing.refresh_revenue();
        INSERT INTO pg_temp.results VALUES (s.ord, s.id || ': journal_by_month', pg_temp.journal(), s.sc->'expected'->'journal_by_month');
        PERFORM pg_temp.unload(s.sc);
        PERFORM billing.refresh_revenue();
        INSERT INTO pg_temp.results VALUES (s.ord, s.id || ': journal empty once its data is deleted', pg_temp.journal(), '[]');
    END LOOP;
    FOR s IN SELECT * FROM pg_temp.scenario ORDER BY ord LOOP
        PERFORM pg_temp.load(s.sc);
    END LOOP;
    PERFORM billing.refresh_revenue();
    FOR s IN SELECT * FROM pg_temp.scenario ORDER BY ord LOOP
        INSERT INTO pg_temp.results VALUES
            (s.ord, s.id || ': revenue_by_month', pg_temp.by_month(s.sc, 'monthly_revenue.recognized'), s.sc->'expected'->'revenue_by_month'),
            (s.ord, s.id || ': deferred_revenue_end_of_month', pg_temp.by_month(s.sc, 'monthly_revenue.deferred_end'), s.sc->'expected'->'deferred_revenue_end_of_month'),
            (s.ord, s.id || ': mrr_by_month', pg_temp.by_month(s.sc, 'customer_mrr.mrr'), s.sc->'expected'->'mrr_by_month'),
            (s.ord, s.id || ': arr_by_month', pg_temp.by_month(s.sc, 'customer_mrr.arr'), s.sc->'expected'->'arr_by_month'),
            (s.ord, s.id || ': movements_by_month', pg_temp.movements(s.sc), s.sc->'expected'->'movements_by_month');
    END LOOP;
    -- the monthly_even alternatives, under that setting
    PERFORM billing.set_setting('recognition', 'monthly_even');
    PERFORM billing.refresh_revenue();
    FOR s IN SELECT sc.*, a.key AS alt, a.value AS want FROM pg_temp.scenario sc, jsonb_each(coalesce(sc.sc->'alternatives', '{}')) a
              WHERE a.key LIKE 'monthly_even%' ORDER BY ord LOOP
        INSERT INTO pg_temp.results VALUES
            (s.ord, s.id || ' monthly_even: revenue_by_month', pg_temp.by_month(s.sc, 'monthly_revenue.recognized'), s.want->'revenue_by_month'),
            (s.ord, s.id || ' monthly_even: deferred_revenue_end_of_month', pg_temp.by_month(s.sc, 'monthly_revenue.deferred_end'), s.want->'deferred_revenue_end_of_month');
    END LOOP;
    PERFORM billing.set_setting('recognition', 'daily');
END $$;

SELECT is(got, pg_temp.num(want), description) FROM pg_temp.results ORDER BY ord, description;

SELECT * FROM finish();
