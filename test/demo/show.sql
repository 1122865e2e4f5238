-- What a user looks at first, once the book is in.
\echo
\echo == What was loaded
SELECT (SELECT count(*) FROM billing.customers) AS customers,
       (SELECT count(*) FROM billing.subscriptions) AS subscriptions,
       (SELECT count(*) FROM billing.invoices) AS invoices,
       (SELECT count(*) FROM billing.invoice_lines) AS lines,
       (SELECT count(*) FROM billing.payments) AS payments,
       (SELECT count(*) FROM billing.refunds) AS refunds;

\echo == Billed per month and currency, last 12 months (net of discount, excluding tax; voided invoices left out)
SELECT date_trunc('month', i.issue_date)::date AS month, i.currency,
       count(DISTINCT i.id) AS invoices, sum(l.amount) AS billed_net, sum(l.tax) AS tax
FROM billing.invoices i JOIN billing.invoice_lines l ON l.invoice_id = i.id
WHERE i.status <> 'voided' AND i.issue_date >= date '2026-11-23' - interval '12 months'
GROUP BY 1, 2 ORDER BY 1, 2;

\echo == Receivables: open invoices by age
SELECT i.currency,
       count(*) FILTER (WHERE i.due_date >= date '2026-11-23') AS not_yet_due,
       count(*) FILTER (WHERE i.due_date < date '2026-11-23') AS overdue,
       sum(i.due) AS amount_due
FROM billing.invoices i WHERE i.status = 'open' GROUP BY 1 ORDER BY 1;
