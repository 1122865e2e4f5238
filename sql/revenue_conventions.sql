-- Worked examples of domain.md section 2, each a customer of its own, every figure computed by hand
-- in the comment above its query. Months are shown as YYYY-MM; mrr is empty where the MRR relations
-- do not report the month (after mrr_through).
SET client_min_messages = warning;
SELECT billing.add_source('ex_conv', 'manual') > 0 AS source_added;
INSERT INTO billing.manual_customers (source, external_id, name, currency)
SELECT 'ex_conv', id, id, 'USD' FROM unnest(ARRAY['unbilled', 'leap', 'noleap', 'c4', 'fpa', 'nofpa', 'oneday',
                                                  'eom', 'cancel', 'void', 'void-only', 'nodue', 'c9-4dp',
                                                  'c9-half', 'c9-neg']) id;

CREATE TEMP VIEW conv AS
SELECT c.external_id AS customer, to_char(r.month, 'YYYY-MM') AS month, r.recognized, r.billed, r.deferred_end,
       r.unbilled_end, m.mrr,
       (SELECT string_agg(v.movement || ' ' || v.amount, ', ' ORDER BY v.movement) FROM billing.mrr_movements v
         WHERE v.customer_id = r.customer_id AND v.month = r.month) AS movements
FROM billing.monthly_revenue r
JOIN billing.customers c ON c.id = r.customer_id AND c.source_id = billing._source_id('ex_conv', 'manual')
LEFT JOIN billing.customer_mrr m ON m.customer_id = r.customer_id AND m.month = r.month AND m.currency = r.currency;

-- Every invoice is paid on its issue date unless said otherwise.
CREATE TEMP TABLE conv_inv (id text, customer text, issue date, status text DEFAULT 'paid');
CREATE TEMP TABLE conv_line (inv text, kind text, subtotal numeric, discount numeric, tax numeric, ps date, pe date,
                             recurring boolean, months integer, fpa numeric);
INSERT INTO conv_inv (id, customer, issue, status) VALUES
    ('U-1', 'unbilled', '2026-02-16', 'paid'),
    ('L-1', 'leap', '2028-02-15', 'paid'), ('N-1', 'noleap', '2027-02-15', 'paid'),
    ('C4-1', 'c4', '2026-01-01', 'paid'),
    ('F-1', 'fpa', '2026-01-16', 'paid'), ('NF-1', 'nofpa', '2026-01-16', 'paid'), ('D-1', 'oneday', '2026-01-31', 'paid'),
    ('E-1', 'eom', '2026-01-31', 'paid'), ('E-2', 'eom', '2026-02-28', 'paid'), ('E-3', 'eom', '2026-03-31', 'paid'),
    ('K-1', 'cancel', '2026-02-01', 'paid'), ('K-2', 'cancel', '2026-03-01', 'paid'), ('K-3', 'cancel', '2026-03-10', 'paid'),
    ('V-1', 'void', '2025-06-01', 'paid'), ('V-2', 'void', '2025-06-01', 'voided'), ('V-3', 'void-only', '2025-06-01', 'voided'),
    ('Q-1', 'nodue', '2026-01-01', 'open'),
    ('R-1', 'c9-4dp', '2026-01-15', 'paid'), ('R-2', 'c9-half', '2026-01-31', 'paid'), ('R-3', 'c9-neg', '2026-01-31', 'paid');
INSERT INTO conv_line VALUES
    ('U-1', 'plan', 100.00, 0, 0, '2026-01-16', '2026-02-16', true, 1, NULL),
    ('L-1', 'plan', 1000.00, 0, 0, '2028-02-15', '2028-03-15', true, 1, NULL),
    ('N-1', 'plan', 1000.00, 0, 0, '2027-02-15', '2027-03-15', true, 1, NULL),
    ('C4-1', 'plan', 120.00, 20.00, 10.00, '2026-01-01', '2026-02-01', true, 1, NULL),
    ('C4-1', 'one_time', 50.00, 0, 0, '2026-01-10', '2026-01-10', false, NULL, NULL),
    ('C4-1', 'usage', 30.00, 0, 0, '2026-01-01', '2026-02-01', true, 1, NULL),
    ('C4-1', 'plan', 0.00, 0, 0, '2026-01-01', '2026-02-01', true, 1, NULL),
    ('C4-1', 'component', 25.00, 0, 0, '2026-01-01', '2026-02-01', false, NULL, NULL),
    ('F-1', 'plan', 51.61, 0, 0, '2026-01-16', '2026-02-01', true, 1, 100.00),
    ('NF-1', 'plan', 51.61, 0, 0, '2026-01-16', '2026-02-01', true, 1, NULL),
    ('D-1', 'plan', 3.23, 0, 0, '2026-01-31', '2026-02-01', true, 1, NULL),
    ('E-1', 'plan', 100.00, 0, 0, '2026-01-31', '2026-02-28', true, 1, NULL),
    ('E-2', 'plan', 100.00, 0, 0, '2026-02-28', '2026-03-31', true, 1, NULL),
    ('E-3', 'plan', 100.00, 0, 0, '2026-03-31', '2026-04-30', true, 1, NULL),
    ('K-1', 'plan', 100.00, 0, 0, '2026-02-01', '2026-03-01', true, 1, NULL),
    ('K-2', 'plan', 100.00, 0, 0, '2026-03-01', '2026-04-01', true, 1, NULL),
    ('K-3', 'credit', -70.97, 0, 0, '2026-03-10', '2026-04-01', true, 1, NULL),
    ('V-1', 'plan', 100.00, 0, 0, '2025-06-01', '2025-07-01', true, 1, NULL),
    ('V-2', 'plan', 500.00, 0, 0, '2025-06-01', '2025-07-01', true, 1, NULL),
    ('V-3', 'plan', 500.00, 0, 0, '2025-06-01', '2025-07-01', true, 1, NULL),
    ('Q-1', 'plan', 300.00, 0, 0, '2026-01-01', '2026-04-01', true, 3, NULL),
    ('R-1', 'plan', 3 * 33.3333, 0, 0, '2026-01-15', '2026-02-15', false, NULL, NULL),
    ('R-2', 'plan', 0.25, 0, 0, '2026-01-31', '2026-02-02', false, NULL, NULL),
    ('R-3', 'credit', -0.25, 0, 0, '2026-01-31', '2026-02-02', false, NULL, NULL);
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, paid_date, currency, subtotal, tax)
SELECT 'ex_conv', i.id, i.customer, i.status, i.issue, CASE WHEN i.status = 'paid' THEN i.issue END,
       CASE WHEN i.status = 'paid' THEN i.issue END, 'USD',
       (SELECT sum(l.subtotal - l.discount) FROM conv_line l WHERE l.inv = i.id),
       (SELECT sum(l.tax) FROM conv_line l WHERE l.inv = i.id)
FROM conv_inv i;
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, discount, tax, period_start,
                                          period_end, recurring, interval_months, full_period_amount)
SELECT 'ex_conv', l.inv, row_number() OVER (PARTITION BY l.inv)::text, l.kind, l.subtotal, l.discount, l.tax, l.ps, l.pe,
       l.recurring, l.months, l.fpa
FROM conv_line l;

-- Deferred and unbilled (domain.md section 2): $100 for [2026-01-16, 2026-02-16) billed in arrears
-- on Feb 16. January recognises round(100 x 16/31, 2) = 51.61 with nothing billed: balance -51.61,
-- unbilled 51.61. February: 48.39 recognised, 100.00 billed, balance 0. MRR 100 (a full month) at
-- Jan 31; at Feb 28 the period is over: churn.
SELECT * FROM conv WHERE customer = 'unbilled' ORDER BY month;

-- Leap year (C1, C2): $1,000 for [2028-02-15, 2028-03-15) is 29 days, 15 of them in February:
-- round(1000 x 15/29, 2) = 517.24, March 482.76. The same dates in 2027 are 28 days, 14 in February:
-- 500.00 and 500.00.
SELECT customer, month, recognized, deferred_end FROM conv WHERE customer IN ('leap', 'noleap') ORDER BY customer, month;

-- C4: only recurring lines count in MRR, net of discount, without tax. January's invoice has a plan
-- 120 - 20 discount (+10 tax), a one-time 50, usage 30 (marked recurring), a $0 plan (a trial) and a
-- non-recurring component 25. MRR = 100.00; revenue = 100 + 50 + 30 + 0 + 25 = 205.00 (no tax).
SELECT * FROM conv WHERE customer = 'c4' ORDER BY month;

-- C5 rule 1: a prorated 51.61 for [Jan 16, Feb 1) carrying full_period_amount 100 has MRR 100.00.
-- Without it (rule 3): 51.61 x 31/16 = 99.993125 -> 99.99. Rule 3 magnifies rounding: one day
-- [Jan 31, Feb 1) of $100 a month is 3.23, and 3.23 x 31/1 = 100.13.
SELECT customer, month, recognized, mrr FROM conv WHERE customer IN ('fpa', 'nofpa', 'oneday') ORDER BY customer, month;

-- C5 rule 2, month-end clamping: [Jan 31, Feb 28) (Jan 31 + 1 month = Feb 28) and [Feb 28, Mar 31)
-- (Mar 31 - 1 month = Feb 28) and [Mar 31, Apr 30) are full months: MRR 100.00 at each month end
-- (rule 3 would give 100 x 31/28 = 110.71 for the first). Revenue: Jan 1/28 of 100 = 3.57; Feb
-- 96.43 + 1/31 of 100 = 3.23, 99.66; Mar 96.77 + 1/30 = 3.33, 100.10; Apr 96.67; 300.00 in all.
SELECT * FROM conv WHERE customer = 'eom' ORDER BY month;

-- C7 immediate cancel: monthly $100 from Feb 1, cancelled on Mar 10 with a proration credit of
-- round(-100 x 22/31, 2) = -70.97 for [Mar 10, Apr 1) (recurring). MRR at Mar 31: 100 +
-- (-70.97 x 31/22 = -100.003181..) = -0.003181.. -> 0.00: churn 100 in March. March revenue
-- 100 - 70.97 = 29.03.
SELECT * FROM conv WHERE customer = 'cancel' ORDER BY month;

-- Voided invoices count nowhere: June 2025 has a paid $100 and a voided $500 for the same month:
-- recognised, billed and MRR are 100.00; a customer whose only invoice is voided has no rows; the
-- journal of June 2025 holds only the $100 (Dr AR 100, deferred 100 in and 100 recognised, Cr revenue).
SELECT * FROM conv WHERE customer IN ('void', 'void-only') ORDER BY customer, month;
SELECT account, debit, credit FROM billing.journal_entries WHERE month = '2025-06-01' ORDER BY account;
-- voiding the paid one afterwards removes the customer's figures and the month's journal
UPDATE billing.invoices SET status = 'voided' WHERE external_id = 'V-1';
SELECT count(*) AS rows FROM conv WHERE customer = 'void';
SELECT count(*) AS journal_rows FROM billing.journal_entries WHERE month = '2025-06-01';

-- C7 without a due date: due on receipt (issue date). Quarterly $300 issued 2026-01-01, unpaid:
-- Jan 31 is 30 days after issue (not more than past_due_days 30): MRR 100; Feb 28 is 58 days: 0.
SELECT customer, month, mrr, movements FROM conv WHERE customer = 'nodue' ORDER BY month;
-- paid on 2026-03-10: March counts again (reactivation); February stays past due
UPDATE billing.invoices SET status = 'paid', paid_date = '2026-03-10', paid = total, due = 0 WHERE external_id = 'Q-1';
SELECT customer, month, mrr, movements FROM conv WHERE customer = 'nodue' ORDER BY month;

-- A bill from a supplier (direction payable, as Xero's ACCPAY) is not revenue: the same invoice
-- marked payable leaves the customer no rows; marked receivable again, its rows are back.
UPDATE billing.invoices SET direction = 'payable' WHERE external_id = 'Q-1';
SELECT count(*) AS rows FROM conv WHERE customer = 'nodue';
UPDATE billing.invoices SET direction = 'receivable' WHERE external_id = 'Q-1';
SELECT count(*) AS rows FROM conv WHERE customer = 'nodue';

-- C9: round(numeric, 2), half away from zero. 3 x 33.3333 = 99.9999 for [Jan 15, Feb 15): January
-- round(99.9999 x 17/31 = 54.838654..) = 54.84, February takes the remainder 45.1599. 0.25 for
-- [Jan 31, Feb 2): January round(0.125) = 0.13, February 0.12; -0.25: -0.13 and -0.12.
SELECT customer, month, recognized FROM conv WHERE customer LIKE 'c9-%' ORDER BY customer, month;

-- Every example above, recomputed by the SQL oracle (test/oracle/revenue_oracle.sql): the same rows
-- as the C engine's.
CREATE TEMP TABLE conv_c AS SELECT * FROM conv;
\set ECHO none
\getenv abs_srcdir PG_ABS_SRCDIR
\set oracle :abs_srcdir '/test/oracle/revenue_oracle.sql'
\i :oracle
\set ECHO all
SELECT revenue_oracle.refresh_revenue(true) > 0 AS recomputed;
SELECT count(*) AS rows_differing
FROM ((TABLE conv_c EXCEPT ALL TABLE conv) UNION ALL (TABLE conv EXCEPT ALL TABLE conv_c)) x;
SELECT billing.refresh_revenue(true) > 0 AS recomputed;

DELETE FROM billing.invoices i USING billing.customers c
WHERE c.id = i.customer_id AND c.source_id = billing._source_id('ex_conv', 'manual');
DELETE FROM billing.customers c WHERE c.source_id = billing._source_id('ex_conv', 'manual');
SELECT count(*) AS rows_left FROM billing.monthly_revenue;
