-- Worked examples: rule C2a, cash refunds without credit-note lines.
SET client_min_messages = warning;
SELECT billing.add_source('ex_refund', 'manual') > 0 AS source_added;
INSERT INTO billing.manual_customers (source, external_id, name, currency)
VALUES ('ex_refund', 'ref-annual', 'Annual Refund', 'USD'),
       ('ex_refund', 'ref-monthly', 'Monthly Refund', 'USD'),
       ('ex_refund', 'ref-tax', 'Taxed Refund', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, paid_date, currency, tax)
VALUES ('ex_refund', 'RA-1', 'ref-annual', 'paid', '2026-01-01', '2026-01-01', '2026-01-01', 'USD', 0),
       ('ex_refund', 'RM-1', 'ref-monthly', 'paid', '2026-01-01', '2026-01-01', '2026-01-01', 'USD', 0),
       ('ex_refund', 'RT-1', 'ref-tax', 'paid', '2026-01-05', '2026-01-05', '2026-01-05', 'USD', 10);
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, tax, period_start, period_end,
                                          recurring, interval_months)
VALUES ('ex_refund', 'RA-1', '1', 'plan', 1200.00, 0, '2026-01-01', '2027-01-01', true, 12),
       ('ex_refund', 'RM-1', '1', 'plan', 100.00, 0, '2026-01-01', '2026-02-01', true, 1),
       ('ex_refund', 'RT-1', '1', 'one_time', 100.00, 10.00, '2026-01-05', '2026-01-05', false, NULL);

-- 1. $500 back on 2026-03-10 on an annual $1,200 paid upfront. Recognised through March:
--    round(1200 * 90 / 365, 2) = 295.89, so 295.89 is contra revenue in March and the excess
--    204.11 comes off deferred revenue: April to December shrink by one factor (700.00 / 904.11),
--    rounded cumulatively, so the year recognises 1200 - 500 = 700.00 in all.
-- 2. $30 back in February on a January month already recognised: all 30 is contra in February.
-- 3. $110 back on a $100 + $10 tax one-time charge: the refund splits in the invoice's own
--    proportion, 100 contra revenue and 10 back to tax payable.
INSERT INTO billing.manual_refunds (source, external_id, customer, invoice, amount, currency, refund_date)
VALUES ('ex_refund', 'R-A', 'ref-annual', 'RA-1', 500.00, 'USD', '2026-03-10'),
       ('ex_refund', 'R-M', 'ref-monthly', 'RM-1', 30.00, 'USD', '2026-02-10'),
       ('ex_refund', 'R-T', 'ref-tax', 'RT-1', 110.00, 'USD', '2026-01-20');

SELECT c.external_id AS customer, to_char(r.month, 'YYYY-MM') AS month, r.recognized, r.refunds AS contra,
       r.billed, r.deferred_end
FROM billing.monthly_revenue r JOIN billing.customers c ON c.id = r.customer_id
WHERE c.external_id LIKE 'ref-%' ORDER BY c.external_id, r.month;

SELECT c.external_id AS customer, sum(r.recognized) AS total_recognized
FROM billing.monthly_revenue r JOIN billing.customers c ON c.id = r.customer_id
WHERE c.external_id LIKE 'ref-%' GROUP BY 1 ORDER BY 1;

-- A refund does not change MRR (rule C4): the annual plan stays at 100 a month
SELECT to_char(m.month, 'YYYY-MM') AS month, m.mrr FROM billing.customer_mrr m
JOIN billing.customers c ON c.id = m.customer_id AND c.external_id = 'ref-annual'
WHERE m.month IN ('2026-02-01', '2026-03-01', '2026-04-01') ORDER BY 1;

-- The journal of March 2026: the refund (Dr AR, Cr cash), its contra revenue and excess (Dr refunds,
-- Dr deferred revenue, Cr AR), and the month's recognition; debits equal credits.
SELECT account, debit, credit FROM billing.journal_entries WHERE month = '2026-03-01' ORDER BY account;
SELECT to_char(month, 'YYYY-MM') AS month, sum(debit) AS debit, sum(credit) AS credit FROM billing.journal_entries
WHERE month IN ('2026-01-01', '2026-03-01') GROUP BY month ORDER BY month;

-- Account roles map to the user's chart of accounts
INSERT INTO billing.accounting_maps (map_kind, local_key, remote_code, remote_name)
VALUES ('account', 'refunds', '4900', 'Sales returns'), ('account', 'cash', '1000', 'Bank');
SELECT account, account_role, debit, credit FROM billing.journal_entries WHERE month = '2026-01-01' ORDER BY account;
DELETE FROM billing.accounting_maps WHERE local_key IN ('refunds', 'cash');

DELETE FROM billing.refunds f USING billing.customers c WHERE c.id = f.customer_id AND c.external_id LIKE 'ref-%';
DELETE FROM billing.invoices i USING billing.customers c WHERE c.id = i.customer_id AND c.external_id LIKE 'ref-%';
DELETE FROM billing.customers WHERE external_id LIKE 'ref-%';
SELECT count(*) AS journal_rows_left FROM billing.journal_entries;
