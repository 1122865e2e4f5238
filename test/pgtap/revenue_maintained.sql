-- Maintained monthly aggregates (schema/0.3.0/35_revenue_maintained.sql): after every kind of change
-- the commit-time refresh leaves billing.mrr_summary and billing.journal_entries equal, row for row
-- and as displayed (compared as text, so 0 and 0.00 differ), to the from-scratch aggregates that
-- 0.2.0's views computed on every read (copied below as temporary views); two sessions refreshing
-- the same months at once lose no update.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(23);
SELECT billing.set_setting('mrr_through', 'all');
\set seed 0.29
\set customers 300
\ir ../fixtures/revenue_gen.sql

-- 0.2.0's definitions, aggregating the stored customer months on every read
CREATE TEMP VIEW scratch_mrr_summary AS
WITH rep AS MATERIALIZED (SELECT NULLIF(billing._setting('reporting_currency'), '') AS currency,
                                 billing._mrr_through() AS through),
base AS (
    SELECT m.month, m.currency, m.mrr_prev AS mrr_start, m.mrr AS mrr_end, m.customer_id
      FROM billing._revenue_monthly m, rep WHERE rep.currency IS NULL AND m.month <= rep.through
    UNION ALL
    SELECT m.month, rep.currency, m.mrr_reporting_prev, m.mrr_reporting, m.customer_id
      FROM billing._revenue_monthly m, rep WHERE rep.currency IS NOT NULL AND m.month <= rep.through),
mv AS (
    SELECT m.month, coalesce(rep.currency, m.currency) AS currency,
           sum(coalesce(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END, 0))
               FILTER (WHERE m.movement = 'new') AS new,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'expansion') AS expansion,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'contraction') AS contraction,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'churn') AS churn,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'reactivation') AS reactivation,
           sum(m.reporting_amount) FILTER (WHERE m.movement = 'fx') AS fx
      FROM billing._mrr_movements m, rep
     WHERE m.month <= rep.through
     GROUP BY 1, 2)
SELECT b.month, b.currency, sum(b.mrr_start) AS mrr_start, coalesce(max(mv.new), 0) AS new,
       coalesce(max(mv.expansion), 0) AS expansion, coalesce(max(mv.contraction), 0) AS contraction,
       coalesce(max(mv.churn), 0) AS churn, coalesce(max(mv.reactivation), 0) AS reactivation,
       coalesce(max(mv.fx), 0) AS fx, sum(b.mrr_end) AS mrr_end, count(DISTINCT b.customer_id) FILTER (WHERE b.mrr_end > 0) AS customers
FROM base b LEFT JOIN mv USING (month, currency)
WHERE billing._revenue_current()
GROUP BY b.month, b.currency;

CREATE TEMP VIEW scratch_journal_entries AS
WITH rm AS (
    SELECT r.month, c.source_id, r.currency,
           sum(r.ar_debit) AS ar_debit, sum(r.ar_credit) AS ar_credit,
           sum(r.tax_debit) AS tax_debit, sum(r.tax_credit) AS tax_credit,
           sum(r.deferred_debit) AS def_debit, sum(r.deferred_credit) AS def_credit,
           sum(GREATEST(r.recognized + r.contra, 0)) AS rec_pos, sum(GREATEST(-(r.recognized + r.contra), 0)) AS rec_neg,
           sum(GREATEST(r.unbilled_change, 0)) AS unb_up, sum(GREATEST(-r.unbilled_change, 0)) AS unb_down
      FROM billing._revenue_monthly r JOIN billing.customers c ON c.id = r.customer_id
     GROUP BY 1, 2, 3),
ev AS (
    SELECT rm.month, rm.source_id, rm.currency, a.account, a.debit, a.credit
      FROM rm CROSS JOIN LATERAL (VALUES
          ('accounts_receivable', rm.ar_debit, rm.ar_credit),
          ('sales_tax_payable', rm.tax_debit, rm.tax_credit),
          ('deferred_revenue', rm.def_debit + rm.rec_pos + rm.unb_down, rm.def_credit + rm.rec_neg + rm.unb_up),
          ('revenue', rm.rec_neg, rm.rec_pos),
          ('unbilled_receivables', rm.unb_up, rm.unb_down)) a(account, debit, credit)
    UNION ALL
    SELECT date_trunc('month', p.payment_date::timestamp)::date, c.source_id, p.currency, a.account, a.debit, a.credit
      FROM billing.payments p JOIN billing.customers c ON c.id = p.customer_id
     CROSS JOIN LATERAL (VALUES ('cash', p.amount, 0::numeric), ('accounts_receivable', 0::numeric, p.amount)) a(account, debit, credit)
     WHERE p.deleted_at IS NULL
    UNION ALL
    SELECT date_trunc('month', f.refund_date::timestamp)::date, c.source_id, f.currency, a.account, a.debit, a.credit
      FROM billing.refunds f JOIN billing.customers c ON c.id = f.customer_id
     CROSS JOIN LATERAL (VALUES ('accounts_receivable', f.amount, 0::numeric), ('cash', 0::numeric, f.amount)) a(account, debit, credit)
     WHERE f.deleted_at IS NULL
    UNION ALL
    SELECT e.month, c.source_id, e.currency, a.account, a.debit, a.credit
      FROM billing._refund_effects e JOIN billing.customers c ON c.id = e.customer_id
     CROSS JOIN LATERAL (VALUES ('refunds', e.contra, 0::numeric), ('deferred_revenue', e.excess, 0::numeric),
                                ('sales_tax_payable', e.tax, 0::numeric),
                                ('accounts_receivable', 0::numeric, e.contra + e.excess + e.tax)) a(account, debit, credit))
SELECT ev.month, coalesce(ms.remote_code, mg.remote_code, ev.account) AS account, ev.currency,
       sum(ev.debit) AS debit, sum(ev.credit) AS credit,
       pg_catalog.string_agg(DISTINCT ev.account, ',') AS account_role
FROM ev
LEFT JOIN billing.accounting_maps ms ON ms.map_kind = 'account' AND ms.source_id = ev.source_id AND ms.local_key = ev.account
LEFT JOIN billing.accounting_maps mg ON mg.map_kind = 'account' AND mg.source_id IS NULL AND mg.local_key = ev.account
WHERE billing._revenue_current()
GROUP BY ev.month, coalesce(ms.remote_code, mg.remote_code, ev.account), ev.currency
HAVING sum(ev.debit) <> 0 OR sum(ev.credit) <> 0;

-- rows that differ as displayed, both ways, over both views
CREATE FUNCTION pg_temp.differences() RETURNS bigint LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM ((SELECT m::text FROM billing.mrr_summary m EXCEPT ALL SELECT s::text FROM scratch_mrr_summary s)
                                  UNION ALL (SELECT s::text FROM scratch_mrr_summary s EXCEPT ALL SELECT m::text FROM billing.mrr_summary m)) x)
         + (SELECT count(*) FROM ((SELECT j::text FROM billing.journal_entries j EXCEPT ALL SELECT s::text FROM scratch_journal_entries s)
                                  UNION ALL (SELECT s::text FROM scratch_journal_entries s EXCEPT ALL SELECT j::text FROM billing.journal_entries j)) x)
$$;

SELECT ok((SELECT count(*) FROM billing.mrr_summary) >= 24 AND (SELECT count(*) FROM billing.journal_entries) > 100,
          'the generated book has a bridge and a journal');
SELECT is(pg_temp.differences(), 0::bigint, 'after the load: maintained reads equal the from-scratch aggregates');

-- random line changes, voids, deletions, inserts
UPDATE billing.invoice_lines l SET subtotal = l.subtotal + (random() * 50)::int, total = l.total + 3
  FROM billing.invoices i WHERE i.id = l.invoice_id AND i.customer_id % 13 = 0;
SELECT is(pg_temp.differences(), 0::bigint, 'after changing line amounts of 1 customer in 13');
UPDATE billing.invoices SET status = 'voided' WHERE customer_id % 17 = 0 AND external_id LIKE '%-2';
DELETE FROM billing.payments WHERE customer_id % 19 = 0;
DELETE FROM billing.invoices WHERE customer_id % 23 = 0;
SELECT is(pg_temp.differences(), 0::bigint, 'after voids, deleted payments and customers losing every invoice');
INSERT INTO billing.refunds (source_id, external_id, customer_id, invoice_id, amount, currency, refund_date)
SELECT i.source_id, 'mx-' || i.id, i.customer_id, i.id, round(i.total / 4, 2), i.currency, i.issue_date + 10
  FROM billing.invoices i WHERE i.customer_id % 29 = 0 AND i.external_id LIKE '%-1' AND i.status <> 'voided';
SELECT is(pg_temp.differences(), 0::bigint, 'after cash refunds (rule C2a effects)');

-- a new source with a customer in a new currency, then the whole source deleted (cascade)
SELECT billing.add_source('maint', 'manual');
INSERT INTO billing.manual_customers (source, external_id, currency) VALUES ('maint', 'm1', 'GBP');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, paid_date, currency)
VALUES ('maint', 'mi1', 'm1', 'paid', '2025-06-01', '2025-06-01', 'GBP');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end, recurring, interval_months)
VALUES ('maint', 'mi1', '1', 'plan', 120, '2025-06-01', '2026-06-01', true, 12);
-- 2025-06 to 2026-05 at 10.00 a month, and 2026-06 (the month the period ends) churned
SELECT ok((SELECT count(*) FROM billing.mrr_summary WHERE currency = 'GBP') = 13
      AND (SELECT mrr_end FROM billing.mrr_summary WHERE currency = 'GBP' AND month = '2025-09-01') = 10.00
      AND (SELECT churn FROM billing.mrr_summary WHERE currency = 'GBP' AND month = '2026-06-01') = 10.00,
          'a new currency gets its own bridge rows: 13 months, 10.00 a month, churned in 2026-06');
SELECT is(pg_temp.differences(), 0::bigint, 'after a new source, customer and currency');
DELETE FROM billing.sources WHERE name = 'maint';
SELECT ok((SELECT count(*) FROM billing.mrr_summary WHERE currency = 'GBP') = 0
      AND (SELECT count(*) FROM billing.journal_entries WHERE currency = 'GBP') = 0,
          'deleting the source removes its months from the maintained sums');
SELECT is(pg_temp.differences(), 0::bigint, 'after deleting a source with its customers');

-- settings that re-queue everyone, exchange rates, a reporting currency
SELECT billing.set_setting('recognition', 'monthly_even');
SELECT is(pg_temp.differences(), 0::bigint, 'after the recognition setting re-queued every customer');
INSERT INTO billing.fx_rates (from_currency, to_currency, rate_date, rate)
SELECT 'EUR', 'USD', d::date, 1.05 + (extract(month FROM d)::integer % 4) * 0.0275
  FROM generate_series(date '2024-12-01', date '2027-02-01', interval '1 month') d;
SELECT billing.set_setting('reporting_currency', 'USD');
SELECT is(pg_temp.differences(), 0::bigint, 'with a reporting currency (one bridge row a month, fx effects)');
UPDATE billing.fx_rates SET rate = rate + 0.01 WHERE rate_date >= '2026-01-01';
SELECT is(pg_temp.differences(), 0::bigint, 'after exchange rates changed');
SELECT billing.set_setting('mrr_through', '2025-12');
SELECT billing.set_setting('reporting_currency', '');
SELECT is(pg_temp.differences(), 0::bigint, 'back to native currencies, bridge through 2025-12');
SELECT billing.set_setting('mrr_through', 'all');

-- 0.4.0 sums in C (src/engines/revenue_summary.c, revenue_sum.c): on integers where a value has at
-- most 8 decimals below 10^24, in numeric otherwise. Amounts beyond both bounds, and sums whose
-- integers do not fit 64 bits, must give the same reads as the from-scratch aggregate.
SELECT billing.add_source('huge', 'manual');
INSERT INTO billing.manual_customers (source, external_id, currency) VALUES ('huge', 'h1', 'CHF'), ('huge', 'h2', 'CHF');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, paid_date, currency)
VALUES ('huge', 'hi1', 'h1', 'paid', '2025-03-01', '2025-03-01', 'CHF'),
       ('huge', 'hi2', 'h2', 'paid', '2025-03-01', '2025-03-01', 'CHF');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end, recurring, interval_months)
VALUES ('huge', 'hi1', '1', 'plan', 1234567890123456789012345.67, '2025-03-01', '2025-06-01', true, 3),
       ('huge', 'hi2', '1', 'plan', 98765432109876.123456789123, '2025-03-01', '2025-05-01', true, 2),
       ('huge', 'hi2', '2', 'plan', 92233720368547758.07, '2025-04-01', '2025-05-01', true, 1);
SELECT is(pg_temp.differences(), 0::bigint, 'amounts above 10^24, with 12 decimals and beyond 64-bit cents: maintained equals from scratch');
DELETE FROM billing.sources WHERE name = 'huge';

-- An incremental refresh leaves out a summary row whose delta changes nothing (0.4.0): recomputing a
-- customer whose line amounts changed rewrites the journal rows of its invoices' months, not those
-- of its unchanged payments (parts 3 and 4). Within one transaction, so xmin tells what it wrote.
BEGIN;
UPDATE billing.invoice_lines l SET subtotal = l.subtotal + 5, total = l.total + 5
  FROM billing.invoices i WHERE i.id = l.invoice_id AND i.customer_id = (SELECT min(customer_id) FROM billing.payments);
SELECT billing.refresh_revenue();
SELECT is((SELECT pg_catalog.format('%s part-1 rows rewritten, %s payment rows rewritten',
                                    (count(*) FILTER (WHERE part = 1) > 0)::text, count(*) FILTER (WHERE part IN (3, 4)))
             FROM billing._journal_summary
            WHERE xmin::text = (pg_current_xact_id()::text::bigint % 4294967296)::text),
          'true part-1 rows rewritten, 0 payment rows rewritten',
          'a refresh rewrites the summary rows whose figures changed and leaves the others');
COMMIT;
-- the same value with more decimals is a change: adding 0.000 to a sum of 0.00 shows 0.000
UPDATE billing.invoice_lines l SET subtotal = l.subtotal + 0.000, total = l.total + 0.000
  FROM billing.invoices i WHERE i.id = l.invoice_id AND i.customer_id = (SELECT min(customer_id) FROM billing.payments);
SELECT is(pg_temp.differences(), 0::bigint, 'amounts unchanged but shown with three decimals: maintained equals from scratch');

-- A full recomputation (indexes rebuilt once after the writes) leaves the same reads, and the sums
-- stored are those 0.3.0's SQL (billing._revenue_summarise) forms from the same rows, column for column as text.
SELECT billing.refresh_revenue(true);
SELECT is(pg_temp.differences(), 0::bigint, 'after a full recomputation');
CREATE TEMP TABLE c_sums AS
SELECT 'mrr ' || s::text AS r FROM billing._mrr_summary s
UNION ALL SELECT 'jnl ' || s::text FROM billing._journal_summary s
UNION ALL SELECT 'src ' || s::text FROM billing._revenue_customer_source s
UNION ALL SELECT 'cash ' || s.customer_id || ' ' || u::text
  FROM billing._revenue_cash s, ROWS FROM (unnest(s.month), unnest(s.currency), unnest(s.part), unnest(s.n), unnest(s.amount)) u;
BEGIN;
TRUNCATE billing._mrr_summary, billing._journal_summary, billing._revenue_customer_source, billing._revenue_cash;
INSERT INTO billing._revenue_work (txid, customer_id) SELECT txid_current(), id FROM billing.customers;
SELECT billing._revenue_summarise(txid_current(), 1);
SELECT count(*) AS sums_differing FROM (
    (SELECT r FROM c_sums EXCEPT ALL
     (SELECT 'mrr ' || s::text FROM billing._mrr_summary s
      UNION ALL SELECT 'jnl ' || s::text FROM billing._journal_summary s
      UNION ALL SELECT 'src ' || s::text FROM billing._revenue_customer_source s
      UNION ALL SELECT 'cash ' || s.customer_id || ' ' || u::text
        FROM billing._revenue_cash s, ROWS FROM (unnest(s.month), unnest(s.currency), unnest(s.part), unnest(s.n), unnest(s.amount)) u))
    UNION ALL
    ((SELECT 'mrr ' || s::text FROM billing._mrr_summary s
      UNION ALL SELECT 'jnl ' || s::text FROM billing._journal_summary s
      UNION ALL SELECT 'src ' || s::text FROM billing._revenue_customer_source s
      UNION ALL SELECT 'cash ' || s.customer_id || ' ' || u::text
        FROM billing._revenue_cash s, ROWS FROM (unnest(s.month), unnest(s.currency), unnest(s.part), unnest(s.n), unnest(s.amount)) u)
     EXCEPT ALL SELECT r FROM c_sums)) x \gset
ROLLBACK;
SELECT is(:sums_differing::bigint, 0::bigint, 'the C refresh stores the sums 0.3.0''s SQL summarise forms, to the digit and scale');

-- A full recomputation reads every customer's documents without queueing them (0.6.0): queueing
-- every customer for an incremental refresh instead stores the same rows in every result table.
CREATE TEMP VIEW stored_rows AS
SELECT 'monthly ' || s::text AS r FROM billing._revenue_monthly s
UNION ALL SELECT 'movement ' || s::text FROM billing._mrr_movements s
UNION ALL SELECT 'effect ' || s::text FROM billing._refund_effects s
UNION ALL SELECT 'cash ' || s::text FROM billing._revenue_cash s
UNION ALL SELECT 'source ' || s::text FROM billing._revenue_customer_source s
UNION ALL SELECT 'mrr ' || s::text FROM billing._mrr_summary s
UNION ALL SELECT 'jnl ' || s::text FROM billing._journal_summary s;
CREATE TEMP TABLE full_rows AS SELECT r FROM stored_rows;
BEGIN;
INSERT INTO billing._revenue_dirty (customer_id) SELECT id FROM billing.customers;
SELECT billing.refresh_revenue() AS queued_refreshed \gset
SELECT count(*) AS rows_differing
  FROM ((TABLE full_rows EXCEPT ALL TABLE stored_rows) UNION ALL (TABLE stored_rows EXCEPT ALL TABLE full_rows)) x \gset
ROLLBACK;
SELECT is(ARRAY[:queued_refreshed, :rows_differing]::bigint[],
          ARRAY[(SELECT count(*) FROM billing.customers), 0]::bigint[],
          'a full recomputation stores what an incremental refresh of every customer queued stores, row for row');

-- Two sessions: each changes a different customer active in the same months; the first holds its
-- refresh (and the summary rows it updated) open while the second commits behind it.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('a', format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
                                  split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_connect('b', format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
                                  split_part(current_setting('unix_socket_directories'), ',', 1)));
CREATE TEMP TABLE pair AS
SELECT min(i.customer_id) AS c1, max(i.customer_id) AS c2 FROM billing.invoices i
 WHERE i.currency = 'USD' AND i.issue_date BETWEEN '2025-12-01' AND '2025-12-31' AND i.status <> 'voided';
SELECT dblink_exec('a', 'BEGIN');
SELECT dblink_exec('a', format('UPDATE billing.invoice_lines l SET subtotal = l.subtotal + 11, total = l.total + 11
                                  FROM billing.invoices i WHERE i.id = l.invoice_id AND i.customer_id = %s', c1)) FROM pair;
SELECT * FROM dblink('a', 'SELECT billing.refresh_revenue()') AS t(refreshed bigint);
SELECT dblink_send_query('b', format('UPDATE billing.invoice_lines l SET subtotal = l.subtotal + 13, total = l.total + 13
                                        FROM billing.invoices i WHERE i.id = l.invoice_id AND i.customer_id = %s', c2)) FROM pair;
SELECT pg_sleep(0.5);
SELECT ok(dblink_is_busy('b') = 1, 'the second session''s commit waits for the first one''s summary rows');
SELECT dblink_exec('a', 'COMMIT');
SELECT * FROM dblink_get_result('b') AS t(status text);
SELECT dblink_disconnect('a');
SELECT dblink_disconnect('b');
SELECT is(pg_temp.differences(), 0::bigint, 'two sessions committing changes to the same months lose no update');

-- A full recomputation writes into the tables it has just truncated, so it writes frozen rows on
-- all-visible pages, as COPY FREEZE does: its first readers set no hint bits, VACUUM has nothing to
-- freeze. An incremental refresh writes ordinary rows: a snapshot taken before it commits keeps
-- seeing each customer month once, the old version.
CREATE EXTENSION IF NOT EXISTS pg_visibility;
SELECT billing.refresh_revenue(true);
SELECT is((SELECT string_agg(format('%s %s/%s', t, (pg_visibility_map_summary(t)).all_frozen,
                                    pg_relation_size(t) / current_setting('block_size')::bigint), ', ' ORDER BY t::text)
             FROM unnest('{billing._revenue_monthly,billing._mrr_movements,billing._revenue_cash}'::regclass[]) t),
          (SELECT string_agg(format('%s %s/%s', t, pg_relation_size(t) / current_setting('block_size')::bigint,
                                    pg_relation_size(t) / current_setting('block_size')::bigint), ', ' ORDER BY t::text)
             FROM unnest('{billing._revenue_monthly,billing._mrr_movements,billing._revenue_cash}'::regclass[]) t
            WHERE pg_relation_size(t) > 0
           HAVING count(*) = 3),
          'a full recomputation leaves every page of its tables all-frozen');
SELECT dblink_connect('a', format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
                                  split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('a', 'BEGIN ISOLATION LEVEL REPEATABLE READ');
SELECT n AS rows_seen FROM dblink('a', 'SELECT count(*) FROM billing._revenue_monthly') AS t(n bigint) \gset
UPDATE billing.invoice_lines l SET subtotal = l.subtotal + 5, total = l.total + 5
  FROM billing.invoices i WHERE i.id = l.invoice_id AND i.customer_id = (SELECT c1 FROM pair);
SELECT is((SELECT ARRAY[n, keys] FROM dblink('a', 'SELECT count(*), count(DISTINCT (customer_id, currency, month)) FROM billing._revenue_monthly')
                                       AS t(n bigint, keys bigint)),
          ARRAY[:rows_seen, :rows_seen]::bigint[],
          'an incremental refresh''s rows are not frozen: an older snapshot sees each customer month once');
SELECT dblink_exec('a', 'COMMIT');
SELECT dblink_disconnect('a');

SELECT * FROM finish();
