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

-- 4. A refund that comes with credit-note lines carrying service periods is left to those lines (C2a,
--    then C2). $1,200 annual from 2026-01-01; on 2026-04-01 $900 back with a credit note whose line
--    covers [2026-04-01, 2027-01-01), 275 days: the line is -900 recognised daily with its sign,
--    April round(-900 x 30/275) = -98.18, May cumulative round(-900 x 61/275) = -199.64 -> -101.46, ...
--    Through March the plan recognised 295.89 (101.92, 92.05, 101.92); from April each month is the
--    plan's month less the credit's (April 98.63 - 98.18 = 0.45, May 101.92 - 101.46 = 0.46, ...,
--    December 101.92 - 101.45 = 0.47); no contra revenue; the year recognises 1200 - 900 = 300.00.
--    Billed: 1200 in January, -900 in April; deferred at April end 904.11 - 900 - 0.45 = 3.66.
INSERT INTO billing.manual_customers (source, external_id, name, currency)
VALUES ('ex_refund', 'ref-cn', 'Credit Note Refund', 'USD'), ('ex_refund', 'ref-two', 'Two Refunds', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, paid_date, currency)
VALUES ('ex_refund', 'RC-1', 'ref-cn', 'paid', '2026-01-01', '2026-01-01', '2026-01-01', 'USD'),
       ('ex_refund', 'RW-1', 'ref-two', 'paid', '2026-01-01', '2026-01-01', '2026-01-01', 'USD');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                          recurring, interval_months)
VALUES ('ex_refund', 'RC-1', '1', 'plan', 1200.00, '2026-01-01', '2027-01-01', true, 12),
       ('ex_refund', 'RW-1', '1', 'plan', 1200.00, '2026-01-01', '2027-01-01', true, 12);
INSERT INTO billing.credit_notes (source_id, external_id, customer_id, invoice_id, issue_date, currency, subtotal, total)
SELECT i.source_id, 'CN-1', i.customer_id, i.id, '2026-04-01', 'USD', 900.00, 900.00
FROM billing.invoices i WHERE i.external_id = 'RC-1';
INSERT INTO billing.credit_note_lines (credit_note_id, external_id, kind, subtotal, total, period_start, period_end)
SELECT n.id, '1', 'credit', 900.00, 900.00, '2026-04-01', '2027-01-01' FROM billing.credit_notes n WHERE n.external_id = 'CN-1';
INSERT INTO billing.refunds (source_id, external_id, customer_id, invoice_id, credit_note_id, amount, currency, refund_date)
SELECT n.source_id, 'R-CN', n.customer_id, n.invoice_id, n.id, 900.00, 'USD', '2026-04-01'
FROM billing.credit_notes n WHERE n.external_id = 'CN-1';

-- 5. Two cash refunds on one invoice, each capped by what is recognised less earlier contra. $1,200
--    annual from 2026-01-01; $100 back on 2026-02-10: recognised through February 193.97, so all 100
--    is contra (February 92.05 - 100 = -7.95). $400 back on 2026-03-15: recognised through March
--    295.89 less the earlier 100 leaves 195.89 of contra (March 101.92 - 195.89 = -93.97); the excess
--    204.11 comes off deferred revenue (700.00 at March end) and April to December shrink by
--    700/904.11, rounded cumulatively: April round(98.63 x 700/904.11) = 76.36, May cumulative
--    round(200.55 x 700/904.11) = 155.27 -> 78.91, ...; the year recognises 1200 - 500 = 700.00.
INSERT INTO billing.manual_refunds (source, external_id, customer, invoice, amount, currency, refund_date)
VALUES ('ex_refund', 'R-W1', 'ref-two', 'RW-1', 100.00, 'USD', '2026-02-10'),
       ('ex_refund', 'R-W2', 'ref-two', 'RW-1', 400.00, 'USD', '2026-03-15');

SELECT c.external_id AS customer, to_char(r.month, 'YYYY-MM') AS month, r.recognized, r.refunds AS contra,
       r.billed, r.deferred_end
FROM billing.monthly_revenue r JOIN billing.customers c ON c.id = r.customer_id
WHERE c.external_id IN ('ref-cn', 'ref-two') ORDER BY c.external_id, r.month;
SELECT c.external_id AS customer, sum(r.recognized) AS total_recognized, sum(r.refunds) AS total_contra
FROM billing.monthly_revenue r JOIN billing.customers c ON c.id = r.customer_id
WHERE c.external_id IN ('ref-cn', 'ref-two') GROUP BY 1 ORDER BY 1;

-- 6. Cases domain.md leaves open (docs/revenue-engine.md, "Decisions"). ref-own has a monthly $100.00
--    invoice RO-1 for January 2026 and a voided invoice RO-2; ref-other has no invoice of its own.
--    a. $40.00 paid back to ref-other on 2026-02-05 naming ref-own's invoice RO-1: contra revenue of
--       ref-other in February (-40.00), as a refund without an invoice; ref-own's figures do not move
--       (applied against another customer's schedule, a refresh of one customer would leave the other
--       stale).
--    b. $20.00 paid back to ref-own on 2026-01-20 against the voided RO-2: no effect, as the invoice
--       counts nowhere.
--    c. $15.00 paid back to ref-own in EUR on 2026-01-25 against RO-1 (in USD): applied against RO-1's
--       schedule (100.00 recognised through January, so all of it is contra) and reported in the
--       refund's currency: a EUR row for January, recognised -15.00.
INSERT INTO billing.manual_customers (source, external_id, name, currency)
VALUES ('ex_refund', 'ref-own', 'Own Invoice', 'USD'), ('ex_refund', 'ref-other', 'Other Customer', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, paid_date, currency)
VALUES ('ex_refund', 'RO-1', 'ref-own', 'paid', '2026-01-01', '2026-01-01', '2026-01-01', 'USD'),
       ('ex_refund', 'RO-2', 'ref-own', 'voided', '2026-01-01', '2026-01-01', NULL, 'USD');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                          recurring, interval_months)
VALUES ('ex_refund', 'RO-1', '1', 'plan', 100.00, '2026-01-01', '2026-02-01', true, 1),
       ('ex_refund', 'RO-2', '1', 'plan', 50.00, '2026-01-01', '2026-02-01', true, 1);
INSERT INTO billing.manual_refunds (source, external_id, customer, invoice, amount, currency, refund_date)
VALUES ('ex_refund', 'R-O1', 'ref-other', 'RO-1', 40.00, 'USD', '2026-02-05'),
       ('ex_refund', 'R-O2', 'ref-own', 'RO-2', 20.00, 'USD', '2026-01-20'),
       ('ex_refund', 'R-O3', 'ref-own', 'RO-1', 15.00, 'EUR', '2026-01-25');
SELECT c.external_id AS customer, to_char(r.month, 'YYYY-MM') AS month, r.currency, r.recognized,
       r.refunds AS contra, r.billed, r.deferred_end
FROM billing.monthly_revenue r JOIN billing.customers c ON c.id = r.customer_id
WHERE c.external_id IN ('ref-own', 'ref-other') ORDER BY c.external_id, r.currency, r.month;
SELECT f.external_id AS refund, to_char(e.month, 'YYYY-MM') AS month, e.currency, e.contra, e.excess, e.tax,
       i.external_id AS invoice
FROM billing.refunds f JOIN billing._refund_effects e ON e.refund_id = f.id
LEFT JOIN billing.invoices i ON i.id = e.invoice_id
WHERE f.external_id LIKE 'R-O%' ORDER BY 1;

DELETE FROM billing.refunds f USING billing.customers c WHERE c.id = f.customer_id AND c.external_id LIKE 'ref-%';
DELETE FROM billing.credit_notes n USING billing.customers c WHERE c.id = n.customer_id AND c.external_id LIKE 'ref-%';
DELETE FROM billing.invoices i USING billing.customers c WHERE c.id = i.customer_id AND c.external_id LIKE 'ref-%';
DELETE FROM billing.customers WHERE external_id LIKE 'ref-%';
SELECT count(*) AS journal_rows_left FROM billing.journal_entries;
