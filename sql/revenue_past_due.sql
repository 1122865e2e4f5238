-- Worked example: rule C7, an unpaid invoice stops counting in MRR.
-- A quarterly $300 plan (MRR 100). The Q1 invoice is due 2026-01-15 and only paid on 2026-03-20;
-- the Q2 invoice is paid the day after it is issued.
-- "Unpaid at a snapshot" means: the invoice has no paid_date, or its paid_date is after the snapshot
-- (an invoice with status paid or nothing due but no paid_date counts as paid all along).
-- With past_due_days = 30: Jan 31 is 16 days past due (counts), Feb 28 is 44 days (does not count),
-- Mar 31 is after the payment (counts again).
SET client_min_messages = warning;
SELECT billing.add_source('ex_due', 'manual') > 0 AS source_added;
INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('ex_due', 'due-1', 'Late Payer', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, paid_date, currency, subtotal)
VALUES ('ex_due', 'Q1', 'due-1', 'paid', '2026-01-01', '2026-01-15', '2026-03-20', 'USD', 300.00),
       ('ex_due', 'Q2', 'due-1', 'paid', '2026-04-01', '2026-04-15', '2026-04-02', 'USD', 300.00);
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                          recurring, interval_months)
VALUES ('ex_due', 'Q1', '1', 'plan', 300.00, '2026-01-01', '2026-04-01', true, 3),
       ('ex_due', 'Q2', '1', 'plan', 300.00, '2026-04-01', '2026-07-01', true, 3);

CREATE TEMP VIEW due_mrr AS
SELECT to_char(m.month, 'YYYY-MM') AS month, m.mrr,
       (SELECT string_agg(v.movement || ' ' || v.amount, ', ' ORDER BY v.movement) FROM billing.mrr_movements v
         WHERE v.customer_id = m.customer_id AND v.month = m.month) AS movements
FROM billing.customer_mrr m JOIN billing.customers c ON c.id = m.customer_id AND c.external_id = 'due-1'
ORDER BY m.month;

SELECT * FROM due_mrr;

-- Revenue is recognised regardless of payment: 100 a month through June
SELECT to_char(r.month, 'YYYY-MM') AS month, r.recognized, r.deferred_end FROM billing.monthly_revenue r
JOIN billing.customers c ON c.id = r.customer_id AND c.external_id = 'due-1' ORDER BY r.month;

-- With 60 days of grace the February snapshot (44 days past due) counts again
SELECT billing.set_setting('past_due_days', '60') AS previous_setting;
SELECT * FROM due_mrr;

-- An invoice that was never paid stops counting for good (here: from February to its period's end)
SELECT billing.set_setting('past_due_days', '30') AS previous_setting;
UPDATE billing.invoices SET paid_date = NULL, status = 'open', paid = 0, due = total WHERE external_id = 'Q1';
SELECT external_id, status, total, paid, due, paid_date FROM billing.invoices WHERE external_id = 'Q1';
SELECT * FROM due_mrr;

DELETE FROM billing.invoices i USING billing.customers c WHERE c.id = i.customer_id AND c.external_id = 'due-1';
DELETE FROM billing.customers WHERE external_id = 'due-1';
SELECT billing.set_setting('past_due_days', '30') AS previous_setting;
