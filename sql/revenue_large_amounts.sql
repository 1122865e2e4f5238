-- Very large amounts: the C engine's exact integer-cents path is used only where it rounds exactly
-- as SQL's numeric does (amounts below 10^12, periods below 10^6 days); larger amounts take numeric
-- arithmetic, so the C engine and the SQL oracle give the same cents.
-- $1,209,173,183,766.58 for [2026-01-18, 2026-06-22), 155 days; cumulative days 14, 42, 73, 103,
-- 134, 155 at the ends of January to June. Cumulatives, amount x days / 155:
--   14: 109215642404.723354..  -> 109215642404.72
--   42: 327646927214.170064..  -> 327646927214.17
--   73: 569481563967.486064..  -> 569481563967.49
--  103: 803515083406.178967..  -> 803515083406.18
--  134: 1045349720159.494967.. -> numeric division keeps 4 decimals at this size (1045349720159.4950),
--       so round(..., 2) is 1045349720159.50 (exact arithmetic would give .49)
--  155: the amount itself
-- Months: Jan 109215642404.72, Feb 218431284809.45, Mar 241834636753.32, Apr 234033519438.69,
-- May 241834636753.32, Jun 163823463607.08 (the integer path used to give May .31 and June .09).
SET client_min_messages = warning;
SELECT billing.add_source('ex_large', 'manual') > 0 AS source_added;
INSERT INTO billing.manual_customers (source, external_id, name, currency)
VALUES ('ex_large', 'big-1', 'Above the integer path', 'USD'), ('ex_large', 'big-2', 'Just below it', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, paid_date, currency)
VALUES ('ex_large', 'BIG-1', 'big-1', 'paid', '2026-01-18', '2026-01-18', 'USD'),
       ('ex_large', 'BIG-2', 'big-2', 'paid', '2026-01-18', '2026-01-18', 'USD');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end)
VALUES ('ex_large', 'BIG-1', '1', 'plan', 1209173183766.58, '2026-01-18', '2026-06-22'),
       ('ex_large', 'BIG-2', '1', 'plan', 999999999999.99, '2026-01-18', '2026-06-22');

CREATE TEMP TABLE large_c AS
SELECT c.external_id AS customer, r.month, r.recognized, r.deferred_end FROM billing.monthly_revenue r
JOIN billing.customers c ON c.id = r.customer_id AND c.source_id = billing._source_id('ex_large', 'manual');
\set ECHO none
\getenv abs_srcdir PG_ABS_SRCDIR
\set oracle :abs_srcdir '/test/oracle/revenue_oracle.sql'
\i :oracle
\set ECHO all
SELECT revenue_oracle.refresh_revenue(true) >= 2 AS recomputed;
CREATE TEMP TABLE large_sql AS
SELECT c.external_id AS customer, r.month, r.recognized, r.deferred_end FROM billing.monthly_revenue r
JOIN billing.customers c ON c.id = r.customer_id AND c.source_id = billing._source_id('ex_large', 'manual');
SELECT billing.refresh_revenue(true) >= 2 AS recomputed;

SELECT to_char(c.month, 'YYYY-MM') AS month, c.recognized AS c_engine, s.recognized AS sql_engine
FROM large_c c JOIN large_sql s USING (customer, month) WHERE customer = 'big-1' ORDER BY month;

-- both customers, every month and figure: no row differs between the engines; each sums to its amount
SELECT count(*) AS rows_differing
FROM ((TABLE large_c EXCEPT ALL TABLE large_sql) UNION ALL (TABLE large_sql EXCEPT ALL TABLE large_c)) x;
SELECT customer, count(*) AS months, sum(recognized) AS total FROM large_c GROUP BY customer ORDER BY customer;

DELETE FROM billing.invoices i USING billing.customers c
WHERE c.id = i.customer_id AND c.source_id = billing._source_id('ex_large', 'manual');
DELETE FROM billing.customers c WHERE c.source_id = billing._source_id('ex_large', 'manual');
