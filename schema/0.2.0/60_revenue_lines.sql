-- Revenue, 1 of 7: the lines that count and their schedules. Views over the billing data that every
-- computation reads: which documents count, their lines as one signed stream, the amount each line
-- recognises in each month (rule C2) and its MRR at each month-end snapshot (rules C4, C5, C7).

-- Documents that count: voided and canceled documents count nowhere, drafts are not issued yet.
-- Credit-note lines are negated here, so everything downstream sees one signed stream of lines.
CREATE VIEW billing._revenue_invoice_lines AS
SELECT i.customer_id, 'invoice'::text AS doc_kind, i.id AS doc_id, l.id AS line_id, l.kind, l.currency,
       l.amount, l.tax, l.period_start, l.period_end, l.recurring, l.interval_months, l.full_period_amount,
       -- C7: an invoice without a due date is due on receipt; both engines read it from here
       i.issue_date, coalesce(i.due_date, i.issue_date) AS due_date,
       -- paid_on: the day the invoice stopped being unpaid; -infinity when paid on an unknown day
       CASE WHEN i.paid_date IS NOT NULL THEN i.paid_date
            WHEN i.status = 'paid' OR i.due <= 0 THEN '-infinity'::date END AS paid_on
FROM billing.invoices i
JOIN billing.invoice_lines l ON l.invoice_id = i.id
WHERE i.status NOT IN ('draft', 'voided', 'canceled') AND i.deleted_at IS NULL
  -- a bill from a supplier is a cost, not revenue
  AND i.direction = 'receivable';
COMMENT ON VIEW billing._revenue_invoice_lines IS 'Invoice lines that count for revenue.';

CREATE VIEW billing._revenue_credit_lines AS
SELECT c.customer_id, 'credit_note'::text AS doc_kind, c.id AS doc_id, l.id AS line_id, l.kind, l.currency,
       -l.amount AS amount, -l.tax AS tax, coalesce(l.period_start, c.issue_date) AS period_start,
       coalesce(l.period_end, c.issue_date) AS period_end, l.recurring, l.interval_months,
       NULL::numeric AS full_period_amount, c.issue_date, NULL::date AS due_date, '-infinity'::date AS paid_on
FROM billing.credit_notes c
JOIN billing.credit_note_lines l ON l.credit_note_id = c.id
WHERE c.status NOT IN ('draft', 'voided') AND c.deleted_at IS NULL AND c.direction = 'receivable';
COMMENT ON VIEW billing._revenue_credit_lines IS 'Credit-note lines that count for revenue, negated.';

-- Two views and their union: a join of a few customers with one branch plans as index lookups,
-- which the planner does not do through a UNION ALL of joins.
CREATE VIEW billing._revenue_lines AS
SELECT * FROM billing._revenue_invoice_lines
UNION ALL
SELECT * FROM billing._revenue_credit_lines;
COMMENT ON VIEW billing._revenue_lines IS 'Every line that counts for revenue, invoice lines and negated credit-note lines alike.';

-- One row per line and calendar month touched, with that month's recognised amount (rule C2).
-- Each month is the difference of two cumulative roundings, so a line sums exactly to its amount.
CREATE VIEW billing._revenue_schedule AS
SELECT l.customer_id, l.doc_kind, l.doc_id, l.line_id, l.currency, l.amount AS line_amount, m.month,
       CASE
         WHEN b.days = 0 THEN l.amount
         -- a scalar subquery reads the setting once per query, not once per row
         -- the last month's cumulative is the amount itself, so sub-cent amounts also sum exactly
         WHEN m.k = b.months THEN
              l.amount - CASE WHEN (SELECT billing._setting('recognition')) = 'monthly_even'
                              THEN pg_catalog.round(l.amount * (m.k - 1) / b.months, 2)
                              ELSE pg_catalog.round(l.amount * GREATEST(m.month - l.period_start, 0) / b.days, 2) END
         WHEN (SELECT billing._setting('recognition')) = 'monthly_even' THEN
              pg_catalog.round(l.amount * m.k / b.months, 2) - pg_catalog.round(l.amount * (m.k - 1) / b.months, 2)
         ELSE pg_catalog.round(l.amount * (LEAST(l.period_end, m.next_month) - l.period_start) / b.days, 2)
            - pg_catalog.round(l.amount * GREATEST(m.month - l.period_start, 0) / b.days, 2)
       END AS amount
FROM billing._revenue_lines l
CROSS JOIN LATERAL (
    -- timestamp, not timestamptz: month arithmetic on dates must not depend on the session's time zone
    SELECT pg_catalog.date_trunc('month', l.period_start::timestamp)::date AS first_month,
           l.period_end - l.period_start AS days,
           (pg_catalog.date_part('year', GREATEST(l.period_end - 1, l.period_start))::integer * 12
            + pg_catalog.date_part('month', GREATEST(l.period_end - 1, l.period_start))::integer)
           - (pg_catalog.date_part('year', l.period_start)::integer * 12
              + pg_catalog.date_part('month', l.period_start)::integer) + 1 AS months
) b
CROSS JOIN LATERAL (
    SELECT g.k, (b.first_month + pg_catalog.make_interval(months => g.k - 1))::date AS month,
           (b.first_month + pg_catalog.make_interval(months => g.k))::date AS next_month
    FROM pg_catalog.generate_series(1, b.months) g(k)
) m;
COMMENT ON VIEW billing._revenue_schedule IS 'Recognised amount of every line in every month it touches (daily or monthly_even, cumulative rounding).';

-- MRR of a line at a month-end snapshot (rules C4, C5, C7): one row per line and snapshot it counts in.
CREATE VIEW billing._mrr_lines AS
SELECT l.customer_id, l.doc_kind, l.doc_id, l.line_id, l.currency, l.period_start, s.month, s.snapshot,
       CASE
         WHEN l.full_period_amount IS NOT NULL THEN l.full_period_amount / l.interval_months
         WHEN (l.period_start + pg_catalog.make_interval(months => l.interval_months))::date = l.period_end
           OR (l.period_end - pg_catalog.make_interval(months => l.interval_months))::date = l.period_start
           THEN l.amount / l.interval_months
         ELSE l.amount * (l.period_end - (l.period_end - pg_catalog.make_interval(months => l.interval_months))::date)
              / (l.period_end - l.period_start) / l.interval_months
       END AS mrr
FROM billing._revenue_lines l
CROSS JOIN LATERAL (
    SELECT g.m::date AS month, (g.m + interval '1 month' - interval '1 day')::date AS snapshot
    FROM pg_catalog.generate_series(pg_catalog.date_trunc('month', l.period_start::timestamp),
                                    pg_catalog.date_trunc('month', (l.period_end - 1)::timestamp), interval '1 month') g(m)
) s
WHERE l.recurring AND l.kind NOT IN ('usage', 'one_time') AND l.amount <> 0
  AND l.period_end > l.period_start AND s.snapshot < l.period_end
  -- C7: unpaid more than past_due_days after the due date, as of the snapshot day
  AND NOT (l.due_date IS NOT NULL AND s.snapshot - l.due_date > (SELECT billing._setting('past_due_days')::integer)
           AND (l.paid_on IS NULL OR l.paid_on > s.snapshot));
COMMENT ON VIEW billing._mrr_lines IS 'Monthly recurring revenue of each counting line at each month-end snapshot, exact (not rounded).';
