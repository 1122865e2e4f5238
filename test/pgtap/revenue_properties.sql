-- Properties of the revenue engine on a generated book (test/fixtures/revenue_gen.sql): every line sums
-- to its amount, movements explain every MRR change, journals balance, incremental refresh equals a
-- full recomputation, and the C engine equals the SQL oracle (test/oracle/revenue_oracle.sql), with and
-- without a reporting currency.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(35);

-- the book runs to 2026-12: every month of it is checked, past today or not
SELECT billing.set_setting('mrr_through', 'all');
\set seed 0.17
\set customers 400
\ir ../fixtures/revenue_gen.sql
\ir ../oracle/revenue_oracle.sql

-- every 40th customer is billed in a second currency too, a day after each of its invoices: the
-- engine reads a customer's lines sorted by customer only and tells its currencies apart in memory
INSERT INTO billing.invoices (source_id, external_id, customer_id, status, issue_date, due_date, paid_date, currency,
                              subtotal, discount, tax, total, paid, due)
SELECT i.source_id, i.external_id || '-x', i.customer_id, i.status, i.issue_date + 1, i.due_date + 1, i.paid_date + 1,
       CASE i.currency WHEN 'USD' THEN 'EUR' ELSE 'USD' END, i.subtotal, i.discount, i.tax, i.total, i.paid, i.due
  FROM billing.invoices i WHERE i.customer_id % 40 = 3;
INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, quantity, unit_price, subtotal, discount, tax, total,
                                   currency, period_start, period_end, recurring, interval_months)
SELECT x.id, l.external_id, l.kind, l.quantity, l.unit_price, l.subtotal, l.discount, l.tax, l.total, x.currency,
       l.period_start + 1, l.period_end + 1, l.recurring, l.interval_months
  FROM billing.invoices i JOIN billing.invoices x ON x.source_id = i.source_id AND x.external_id = i.external_id || '-x'
  JOIN billing.invoice_lines l ON l.invoice_id = i.id;
SELECT cmp_ok((SELECT count(*) FROM (SELECT customer_id FROM billing.monthly_revenue GROUP BY 1
                                      HAVING count(DISTINCT currency) = 2) x), '>=', 5::bigint,
              'the book has customers billed in two currencies');

CREATE FUNCTION pg_temp.snapshot(p_name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS pg_temp.%I', p_name || '_rev');
    EXECUTE format('DROP TABLE IF EXISTS pg_temp.%I', p_name || '_mrr');
    EXECUTE format('DROP TABLE IF EXISTS pg_temp.%I', p_name || '_mov');
    EXECUTE format('DROP TABLE IF EXISTS pg_temp.%I', p_name || '_jnl');
    EXECUTE format('DROP TABLE IF EXISTS pg_temp.%I', p_name || '_eff');
    EXECUTE format('CREATE TEMP TABLE %I AS SELECT * FROM billing.monthly_revenue', p_name || '_rev');
    EXECUTE format('CREATE TEMP TABLE %I AS SELECT * FROM billing.customer_mrr', p_name || '_mrr');
    EXECUTE format('CREATE TEMP TABLE %I AS SELECT * FROM billing.mrr_movements', p_name || '_mov');
    EXECUTE format('CREATE TEMP TABLE %I AS SELECT * FROM billing.journal_entries', p_name || '_jnl');
    EXECUTE format('CREATE TEMP TABLE %I AS SELECT * FROM billing._refund_effects', p_name || '_eff');
END $$;

-- rows in one snapshot and not the other, both ways, over the four results and the refund effects
CREATE FUNCTION pg_temp.differences(a text, b text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0; k bigint; t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['_rev', '_mrr', '_mov', '_jnl', '_eff'] LOOP
        EXECUTE format('SELECT count(*) FROM ((TABLE %1$I EXCEPT ALL TABLE %2$I) UNION ALL (TABLE %2$I EXCEPT ALL TABLE %1$I)) x',
                       a || t, b || t) INTO k;
        n := n + k;
    END LOOP;
    RETURN n;
END $$;

SELECT ok((SELECT count(*) FROM billing.monthly_revenue) > 4000, 'the generated book has results');
SELECT is((SELECT count(*) FROM billing._revenue_dirty), 0::bigint, 'every commit left the queue empty');

SELECT is((SELECT count(*) FROM (
              SELECT s.doc_kind, s.line_id FROM revenue_oracle.schedule s
               GROUP BY s.doc_kind, s.line_id, s.line_amount HAVING sum(s.amount) <> s.line_amount) x),
          0::bigint, 'daily: every line''s recognised total equals its amount');

SELECT is((SELECT count(*) FROM billing.monthly_revenue r
            WHERE r.month = (SELECT max(x.month) FROM billing.monthly_revenue x
                              WHERE x.customer_id = r.customer_id AND x.currency = r.currency)
              AND (r.deferred_end <> 0 OR r.unbilled_end <> 0)),
          0::bigint, 'nothing is left deferred or unbilled after the last service period');

SELECT is((SELECT count(*) FROM (
              SELECT r.customer_id, r.currency FROM billing.monthly_revenue r
               GROUP BY 1, 2
              HAVING sum(r.recognized) + sum(r.refunds)
                     + coalesce((SELECT sum(e.excess) FROM billing._refund_effects e
                                  WHERE e.customer_id = r.customer_id AND e.currency = r.currency), 0)
                     <> sum(r.billed)) x),
          0::bigint, 'per customer: recognised + contra + refund excess = billed (C2a scaling loses nothing)');

SELECT ok((SELECT count(*) FROM billing._refund_effects WHERE excess > 0) > 0
      AND (SELECT count(*) FROM billing._refund_effects WHERE contra > 0) > 0
      AND (SELECT count(*) FROM billing._refund_effects WHERE adjust <> 0) > 0,
          'the book exercises contra, excess and rescaling of rule C2a');

SELECT is((SELECT count(*) FROM (
              SELECT m.customer_id, m.month, m.currency FROM
                     (SELECT c.*, coalesce(lag(c.mrr) OVER (PARTITION BY c.customer_id, c.currency ORDER BY c.month), 0) AS prev
                        FROM billing.customer_mrr c) m
                LEFT JOIN billing.mrr_movements v USING (customer_id, month, currency)
               GROUP BY m.customer_id, m.month, m.currency, m.mrr, m.prev
              HAVING m.mrr - m.prev <> coalesce(sum(CASE WHEN v.movement IN ('new', 'expansion', 'reactivation')
                                                         THEN v.amount ELSE -v.amount END), 0)) x),
          0::bigint, 'per customer and month: movements add up to the MRR change');

SELECT is((SELECT count(*) FROM billing.mrr_summary
            WHERE mrr_end <> mrr_start + new + expansion + reactivation - contraction - churn + fx),
          0::bigint, 'mrr_summary: end = start + new + expansion + reactivation - contraction - churn + fx, every month');

SELECT is((SELECT count(*) FROM billing.customer_mrr WHERE mrr < 0 OR arr <> 12 * mrr OR mrr <> round(mrr, 2)),
          0::bigint, 'MRR is reported in cents, never negative, and ARR = 12 x MRR');

SELECT is((SELECT count(*) FROM (SELECT month, currency FROM billing.journal_entries GROUP BY 1, 2
                                  HAVING sum(debit) <> sum(credit)) x),
          0::bigint, 'the journal balances in every month and currency');

-- Incremental refresh: touch about 5% of the customers in every way the triggers must see, then
-- compare what the commits left with a full recomputation.
UPDATE billing.invoice_lines l SET subtotal = l.subtotal + 7, total = l.total + 7
  FROM billing.invoices i WHERE i.id = l.invoice_id AND i.customer_id % 61 = 0;
-- amounts with 4 decimals (unit prices may carry them) take the C engine's numeric path
UPDATE billing.invoice_lines l SET subtotal = l.subtotal + 0.0033, total = l.total + 0.0033
  FROM billing.invoices i WHERE i.id = l.invoice_id AND i.customer_id % 59 = 0;
UPDATE billing.invoices SET status = 'voided' WHERE customer_id % 67 = 0 AND external_id LIKE '%-3';
UPDATE billing.invoices i SET paid_date = NULL, status = 'open', due = i.total WHERE customer_id % 71 = 0 AND external_id LIKE '%-4';
DELETE FROM billing.payments WHERE customer_id % 73 = 0;
DELETE FROM billing.invoices WHERE customer_id % 79 = 0 AND external_id LIKE '%-2';
INSERT INTO billing.refunds (source_id, external_id, customer_id, invoice_id, amount, currency, refund_date)
SELECT i.source_id, 'extra-' || i.id, i.customer_id, i.id, round(i.total / 3, 2), i.currency, i.issue_date + 20
  FROM billing.invoices i WHERE i.customer_id % 83 = 0 AND i.external_id LIKE '%-1' AND i.status <> 'voided';
INSERT INTO billing.credit_notes (source_id, external_id, customer_id, issue_date, currency, subtotal, total)
SELECT i.source_id, 'cn-' || i.id, i.customer_id, i.issue_date + 5, i.currency, 10, 10
  FROM billing.invoices i WHERE i.customer_id % 89 = 0 AND i.external_id LIKE '%-1';
INSERT INTO billing.credit_note_lines (credit_note_id, external_id, kind, subtotal, total, currency, period_start, period_end,
                                       recurring, interval_months)
SELECT c.id, '1', 'credit', 10, 10, c.currency, c.issue_date, c.issue_date + 30, true, 1
  FROM billing.credit_notes c WHERE c.external_id LIKE 'cn-%';

SELECT pg_temp.snapshot('incremental');
SELECT billing.refresh_revenue(true);
SELECT pg_temp.snapshot('full');
SELECT is(pg_temp.differences('incremental', 'full'), 0::bigint,
          'incremental refresh after touching ~5% of customers equals a full recomputation');

SELECT is((SELECT count(*) FROM (SELECT month, currency FROM billing.journal_entries GROUP BY 1, 2
                                  HAVING sum(debit) <> sum(credit)) x),
          0::bigint, 'the journal still balances after voids, deletions, refunds and credit notes');

SELECT revenue_oracle.refresh_revenue(true);
SELECT pg_temp.snapshot('sqlpath');
SELECT is(pg_temp.differences('full', 'sqlpath'), 0::bigint, 'the C engine and the SQL oracle agree on every row');
SELECT is((SELECT count(*) FROM billing.monthly_revenue r
            WHERE r.month = (SELECT max(x.month) FROM billing.monthly_revenue x
                              WHERE x.customer_id = r.customer_id AND x.currency = r.currency)
              AND (r.deferred_end <> 0 OR r.unbilled_end <> 0)),
          0::bigint, 'sub-cent line amounts too leave nothing deferred: the last month takes the remainder');
SELECT ok((SELECT count(*) FROM billing.invoice_lines WHERE scale(amount) > 2) > 0
      AND (SELECT count(*) FROM billing.invoice_lines WHERE scale(amount) <= 2) > 0,
          'the comparison covers both the integer-cents and the numeric path of the C engine');

SELECT billing.set_setting('recognition', 'monthly_even');
SELECT is((SELECT count(*) FROM (
              SELECT s.doc_kind, s.line_id FROM revenue_oracle.schedule s
               GROUP BY s.doc_kind, s.line_id, s.line_amount HAVING sum(s.amount) <> s.line_amount) x),
          0::bigint, 'monthly_even: every line''s recognised total equals its amount');
SELECT pg_temp.snapshot('even_c');
SELECT revenue_oracle.refresh_revenue(true);
SELECT pg_temp.snapshot('even_sql');
SELECT is(pg_temp.differences('even_c', 'even_sql'), 0::bigint, 'monthly_even: the C engine and the SQL oracle agree');
SELECT isnt(pg_temp.differences('even_c', 'full'), 0::bigint, 'the recognition setting changes the stored results at commit');
SELECT billing.set_setting('recognition', 'daily');
SELECT pg_temp.snapshot('daily_again');
SELECT is(pg_temp.differences('daily_again', 'full'), 0::bigint,
          'back to daily, the commit-time refresh by the C engine gives the first full results again');

-- Inside a transaction that changed data, the results would be stale until commit: reads refuse.
BEGIN;
UPDATE billing.invoice_lines SET subtotal = subtotal + 1 WHERE id = (SELECT min(id) FROM billing.invoice_lines);
SELECT throws_ok('SELECT * FROM billing.customer_mrr', '55000', 'revenue results are not current in this transaction',
                 'a read before commit in a writing transaction raises instead of answering stale');
SELECT billing.refresh_revenue();
SELECT lives_ok('SELECT * FROM billing.customer_mrr', 'after billing.refresh_revenue() the same transaction reads');
-- COMMIT, not ROLLBACK: pgTAP keeps its tally in this transaction
COMMIT;

-- TRUNCATE has no transition table: every customer is queued and recomputed at commit.
TRUNCATE billing.refunds;
SELECT pg_temp.snapshot('after_truncate');
SELECT billing.refresh_revenue(true);
SELECT pg_temp.snapshot('full_after_truncate');
SELECT ok(pg_temp.differences('after_truncate', 'full_after_truncate') = 0
          AND (SELECT count(*) FROM billing._refund_effects) = 0,
          'TRUNCATE of refunds re-queues everyone: no contra revenue left, results equal a full recomputation');

-- Roles: an admin's load refreshes at its commit; a reader reads every result and cannot refresh.
SET ROLE billing_admin;
SELECT lives_ok($$
    SELECT billing.add_source('roles', 'manual');
    INSERT INTO billing.manual_customers (source, external_id, currency) VALUES ('roles', 'r1', 'USD');
    INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, paid_date, currency)
    VALUES ('roles', 'ri1', 'r1', 'paid', '2026-01-01', '2026-01-01', 'USD');
    INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                              recurring, interval_months)
    VALUES ('roles', 'ri1', '1', 'plan', 42, '2026-01-01', '2026-02-01', true, 1)$$,
    'billing_admin loads through the manual views and the commit refreshes');
SET ROLE billing_reader;
SELECT is((SELECT m.mrr FROM billing.customer_mrr m JOIN billing.customers c ON c.id = m.customer_id
            WHERE c.external_id = 'r1' AND m.month = '2026-01-01'), 42.00, 'billing_reader reads the MRR the admin''s commit computed');
SELECT lives_ok('SELECT (SELECT count(*) FROM billing.monthly_revenue) + (SELECT count(*) FROM billing.mrr_movements)
                        + (SELECT count(*) FROM billing.mrr_summary) + (SELECT count(*) FROM billing.journal_entries)',
                'billing_reader reads every public revenue relation');
SELECT throws_ok('SELECT billing.refresh_revenue(true)', '42501', NULL, 'billing_reader cannot run a refresh');
RESET ROLE;

-- The same book reported in USD: EUR rates that move every month, so conversion effects are
-- everywhere; the bridge holds with its fx column, per customer and in the summary, and an
-- incremental refresh still equals a full one.
INSERT INTO billing.fx_rates (from_currency, to_currency, rate_date, rate)
SELECT 'EUR', 'USD', d::date, 1.05 + (extract(month FROM d)::integer % 5) * 0.0325
  FROM generate_series(date '2024-12-01', date '2027-02-01', interval '1 month') d;
SELECT billing.set_setting('reporting_currency', 'USD');
SELECT ok((SELECT count(*) FROM billing.mrr_movements WHERE movement = 'fx') > 0
      AND (SELECT count(DISTINCT currency) FROM billing.mrr_summary) = 1
      AND (SELECT count(*) FROM billing.customer_mrr WHERE currency = 'EUR' AND mrr_reporting <> mrr) > 0,
          'with a reporting currency: converted MRR, fx movements, one summary currency');
SELECT is((SELECT count(*) FROM billing.mrr_summary
            WHERE mrr_end <> mrr_start + new + expansion + reactivation - contraction - churn + fx),
          0::bigint, 'fx: mrr_summary end = start + new + expansion + reactivation - contraction - churn + fx, every month');
SELECT is((SELECT count(*) FROM (
              SELECT m.customer_id, m.month, m.currency FROM
                     (SELECT c.*, coalesce(lag(c.mrr_reporting) OVER (PARTITION BY c.customer_id, c.currency ORDER BY c.month), 0) AS prev
                        FROM billing.customer_mrr c) m
                -- the stored movements keep the fx row under the customer's currency it converts (the
                -- view shows it in the reporting currency), which tells a customer's two currencies apart
                LEFT JOIN billing._mrr_movements v ON v.customer_id = m.customer_id AND v.month = m.month
                      AND v.currency = m.currency
               GROUP BY m.customer_id, m.month, m.currency, m.mrr_reporting, m.prev
              HAVING m.mrr_reporting - m.prev <> coalesce(sum(CASE WHEN v.movement IN ('new', 'expansion', 'reactivation', 'fx')
                                                                   THEN v.reporting_amount ELSE -v.reporting_amount END), 0)) x),
          0::bigint, 'fx: per customer and month, converted movements and the fx row add up to the converted MRR change');
UPDATE billing.invoice_lines l SET subtotal = l.subtotal + 5, total = l.total + 5
  FROM billing.invoices i WHERE i.id = l.invoice_id AND i.customer_id % 53 = 0;
UPDATE billing.invoices SET status = 'voided' WHERE customer_id % 47 = 0 AND external_id LIKE '%-5';
SELECT pg_temp.snapshot('fx_incremental');
SELECT billing.refresh_revenue(true);
SELECT pg_temp.snapshot('fx_full');
SELECT is(pg_temp.differences('fx_incremental', 'fx_full'), 0::bigint,
          'fx: incremental refresh after touching some customers equals a full recomputation');
SELECT is((SELECT count(*) FROM (SELECT month, currency FROM billing.journal_entries GROUP BY 1, 2
                                  HAVING sum(debit) <> sum(credit)) x),
          0::bigint, 'fx: the journal still balances in every month and currency');

-- The C engine converts and applies rule C2a itself: compared with the oracle under a reporting
-- currency, with cash refunds of every kind back in the book (the TRUNCATE above removed them): on
-- the customer's own invoice, in another currency than the invoice, without an invoice, and naming
-- another customer's invoice (contra in its month, see docs/revenue-engine.md).
INSERT INTO billing.refunds (source_id, external_id, customer_id, invoice_id, amount, currency, refund_date)
SELECT i.source_id, 'fx-own-' || i.id, i.customer_id, i.id, round(i.total * 0.6, 2), i.currency, i.issue_date + 40
  FROM billing.invoices i WHERE i.customer_id % 31 = 0 AND i.external_id LIKE '%-1' AND i.status <> 'voided'
UNION ALL
SELECT i.source_id, 'fx-cur-' || i.id, i.customer_id, i.id, 25, CASE i.currency WHEN 'USD' THEN 'EUR' ELSE 'USD' END,
       i.issue_date + 3
  FROM billing.invoices i WHERE i.customer_id % 43 = 0 AND i.external_id LIKE '%-2' AND i.status <> 'voided'
UNION ALL
SELECT i.source_id, 'fx-none-' || i.id, i.customer_id, NULL, 12.34, i.currency, i.issue_date + 9
  FROM billing.invoices i WHERE i.customer_id % 41 = 0 AND i.external_id LIKE '%-1'
UNION ALL
SELECT i.source_id, 'fx-other-' || i.id, c.id, i.id, 30, i.currency, i.issue_date + 11
  FROM billing.invoices i JOIN billing.customers c ON c.id = i.customer_id + 1
 WHERE i.customer_id % 39 = 0 AND i.external_id LIKE '%-1' AND i.status <> 'voided';
SELECT pg_temp.snapshot('fx_c');
SELECT revenue_oracle.refresh_revenue(true);
SELECT pg_temp.snapshot('fx_oracle');
SELECT ok(pg_temp.differences('fx_c', 'fx_oracle') = 0
          AND (SELECT count(DISTINCT split_part(f.external_id, '-', 2)) FROM billing.refunds f
                JOIN billing._refund_effects e ON e.refund_id = f.id) = 4
          AND (SELECT count(*) FROM billing._refund_effects WHERE excess > 0) > 0,
          'fx: the C engine and the SQL oracle agree on every row, with refund effects of all four kinds');

-- Reported in EUR, the USD customers convert through the EUR -> USD rates inverted (1 / rate).
SELECT billing.set_setting('reporting_currency', 'EUR');
SELECT pg_temp.snapshot('eur_c');
SELECT revenue_oracle.refresh_revenue(true);
SELECT pg_temp.snapshot('eur_oracle');
SELECT ok(pg_temp.differences('eur_c', 'eur_oracle') = 0
          AND (SELECT count(*) FROM billing.customer_mrr WHERE currency = 'USD' AND mrr_reporting <> mrr) > 0,
          'reported in EUR through inverted rates: the C engine and the SQL oracle agree');

SELECT billing.set_setting('recognition', 'monthly_even');
SELECT pg_temp.snapshot('eur_even_c');
SELECT revenue_oracle.refresh_revenue(true);
SELECT pg_temp.snapshot('eur_even_oracle');
SELECT is(pg_temp.differences('eur_even_c', 'eur_even_oracle'), 0::bigint,
          'monthly_even, reported in EUR: the C engine and the SQL oracle agree');

SELECT * FROM finish();
