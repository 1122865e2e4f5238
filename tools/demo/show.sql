-- What a user looks at first, once the book is in.
\echo
\echo == What was loaded
SELECT (SELECT count(*) FROM billing.customers) AS customers,
       (SELECT count(*) FROM billing.subscriptions) AS subscriptions,
       (SELECT count(*) FROM billing.invoices) AS invoices,
       (SELECT count(*) FROM billing.invoice_lines) AS lines,
       (SELECT count(*) FROM billing.payments) AS payments,
       (SELECT count(*) FROM billing.refunds) AS refunds;

\echo == Billed per month and currency, the 12 complete months to October 2026 (net of discount, excluding tax; voided invoices left out)
SELECT date_trunc('month', i.issue_date)::date AS month, i.currency,
       count(DISTINCT i.id) AS invoices, sum(l.amount) AS billed_net, sum(l.tax) AS tax
FROM billing.invoices i JOIN billing.invoice_lines l ON l.invoice_id = i.id
WHERE i.status <> 'voided' AND i.issue_date >= date '2025-11-01' AND i.issue_date < date '2026-11-01'
GROUP BY 1, 2 ORDER BY 1, 2;

\echo == Receivables: open invoices by age
SELECT i.currency,
       count(*) FILTER (WHERE i.due_date >= date '2026-11-23') AS not_yet_due,
       count(*) FILTER (WHERE i.due_date < date '2026-11-23') AS overdue,
       sum(i.due) AS amount_due
FROM billing.invoices i WHERE i.status = 'open' GROUP BY 1 ORDER BY 1;

\echo == MRR bridge per month and currency, the 12 complete months to October 2026 (billing.mrr_summary; ARR = 12 x MRR)
SELECT month, currency, mrr_start, new, expansion, contraction, churn, reactivation, mrr_end, 12 * mrr_end AS arr_end, customers
FROM billing.mrr_summary
WHERE month BETWEEN date '2025-11-01' AND date '2026-10-01'
ORDER BY currency, month;

\echo == Movements in October 2026, the last complete month (billing.mrr_movements)
SELECT movement, currency, count(*) AS customers, sum(amount) AS amount
FROM billing.mrr_movements WHERE month = date '2026-10-01'
GROUP BY 1, 2 ORDER BY 2, 1;

\echo == Revenue per month and currency, the 12 complete months to October 2026 (billing.monthly_revenue: recognised, billed, deferred and unbilled at month end)
SELECT month, currency, sum(recognized) AS recognized, sum(refunds) AS refunds_contra, sum(billed) AS billed,
       sum(deferred_end) AS deferred_end, sum(unbilled_end) AS unbilled_end
FROM billing.monthly_revenue
WHERE month BETWEEN date '2025-11-01' AND date '2026-10-01'
GROUP BY 1, 2 ORDER BY 2, 1;

\echo == The consolidated journal for October 2026 (billing.journal_entries), balanced per currency
SELECT currency, account, debit, credit FROM billing.journal_entries WHERE month = date '2026-10-01' ORDER BY currency, account;
SELECT currency, sum(debit) AS total_debit, sum(credit) AS total_credit FROM billing.journal_entries
WHERE month = date '2026-10-01' GROUP BY 1 ORDER BY 1;
