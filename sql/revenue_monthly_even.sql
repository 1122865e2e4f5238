-- Worked example: the recognition setting. An annual $1,200 plan from 2026-03-15 to 2027-03-15.
-- daily (the default): each month's share is its days out of 365, rounded cumulatively.
-- monthly_even: equal parts per calendar month touched (13 months here, March 2026 to March 2027),
-- rounded cumulatively too, so both schedules add up to exactly 1,200.00.
SET client_min_messages = warning;
SELECT billing.add_source('ex_even', 'manual') > 0 AS source_added;
INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('ex_even', 'even-1', 'Even Ltd', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, paid_date, currency)
VALUES ('ex_even', 'EV-1', 'even-1', 'paid', '2026-03-15', '2026-03-15', '2026-03-15', 'USD');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                          recurring, interval_months)
VALUES ('ex_even', 'EV-1', '1', 'plan', 1200.00, '2026-03-15', '2027-03-15', true, 12);

CREATE TEMP TABLE daily AS
SELECT r.month, r.recognized, r.deferred_end FROM billing.monthly_revenue r
JOIN billing.customers c ON c.id = r.customer_id WHERE c.external_id = 'even-1';

SELECT billing.set_setting('recognition', 'monthly_even') AS previous_setting;

-- side by side: 31 March days of 365 is 101.92 the daily way, 1200/13 = 92.31 the even way
SELECT to_char(r.month, 'YYYY-MM') AS month, d.recognized AS daily, r.recognized AS monthly_even,
       d.deferred_end AS daily_deferred, r.deferred_end AS even_deferred
FROM billing.monthly_revenue r
JOIN billing.customers c ON c.id = r.customer_id AND c.external_id = 'even-1'
JOIN daily d USING (month)
ORDER BY r.month;

SELECT sum(d.recognized) AS daily_total, (SELECT sum(r.recognized) FROM billing.monthly_revenue r
        JOIN billing.customers c ON c.id = r.customer_id AND c.external_id = 'even-1') AS even_total
FROM daily d;

-- MRR does not depend on the recognition method: 1200 / 12 while the period runs (mrr_through =
-- all: the MRR relations also report months that are not over yet)
SELECT billing.set_setting('mrr_through', 'all') AS previous_setting;
SELECT to_char(m.month, 'YYYY-MM') AS month, m.mrr, m.arr FROM billing.customer_mrr m
JOIN billing.customers c ON c.id = m.customer_id AND c.external_id = 'even-1'
WHERE m.month IN ('2026-03-01', '2027-02-01', '2027-03-01') ORDER BY m.month;

SELECT billing.set_setting('recognition', 'daily') AS previous_setting;
SELECT billing.set_setting('mrr_through', 'last_complete_month') AS previous_setting;
DELETE FROM billing.invoices i USING billing.customers c WHERE c.id = i.customer_id AND c.external_id = 'even-1';
DELETE FROM billing.customers WHERE external_id = 'even-1';
SELECT count(*) AS rows_left FROM billing.monthly_revenue;
