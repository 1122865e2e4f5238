-- What queues a refresh, and what the schema refuses before a refresh could fail on it.
SET client_min_messages = warning;
\set VERBOSITY terse
SELECT billing.add_source('ex_refresh', 'manual') > 0 AS source_added;
INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('ex_refresh', 'rf-eur', 'Euro SA', 'EUR');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, paid_date, currency)
VALUES ('ex_refresh', 'RF-1', 'rf-eur', 'paid', '2026-01-01', '2026-01-01', '2026-01-01', 'EUR');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                          recurring, interval_months)
VALUES ('ex_refresh', 'RF-1', '1', 'plan', 100.00, '2026-01-01', '2026-02-01', true, 1);

CREATE TEMP VIEW rf_mrr AS
SELECT m.mrr, m.reporting_currency, m.mrr_reporting FROM billing.customer_mrr m
JOIN billing.customers c ON c.id = m.customer_id AND c.external_id = 'rf-eur' WHERE m.month = '2026-01-01';

-- 1. Without a reporting currency a rate changes no figure: loading one queues nobody (0).
BEGIN;
INSERT INTO billing.fx_rates (from_currency, to_currency, rate_date, rate) VALUES ('EUR', 'USD', '2026-01-01', 1.10);
SELECT count(*) AS queued FROM billing._revenue_dirty;
COMMIT;

-- 2. Setting the reporting currency later queues everyone: EUR 100 is USD 110 at the rate of Jan 1.
SELECT billing.set_setting('reporting_currency', 'USD') AS previous_setting;
SELECT * FROM rf_mrr;

-- 3. With a reporting currency, a rate change queues everyone: 100 x 1.25 = 125.00.
UPDATE billing.fx_rates SET rate = 1.25 WHERE from_currency = 'EUR';
SELECT * FROM rf_mrr;

-- 4. TRUNCATE of the rates is seen too: the refresh at commit finds no rate, so the TRUNCATE is
--    refused and the rate stays (without the trigger the figures would silently keep 125.00).
TRUNCATE billing.fx_rates;
SELECT count(*) AS rates_left FROM billing.fx_rates;

-- 5. TRUNCATE of the settings puts every default back, reporting currency '' included: the
--    converted columns empty at commit.
TRUNCATE billing._setting_values;
SELECT * FROM rf_mrr;
DELETE FROM billing.fx_rates;

-- 6. Infinite dates have no month to be recognised in: the load refuses them and names the row,
--    instead of the commit-time refresh failing on a customer id.
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                          recurring, interval_months)
VALUES ('ex_refresh', 'RF-1', 'forever', 'plan', 100.00, '2026-02-01', 'infinity', true, 1);
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, currency)
VALUES ('ex_refresh', 'RF-2', 'rf-eur', 'open', '2026-02-01', 'infinity', 'EUR');
INSERT INTO billing.manual_payments (source, external_id, customer, amount, currency, payment_date)
VALUES ('ex_refresh', 'P-1', 'rf-eur', 10, 'EUR', '-infinity');
SELECT count(*) AS lines_loaded FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id
WHERE i.external_id LIKE 'RF-%';

-- 7. A recurring credit-note line needs an interval, as an invoice line does (the C engine took a
--    missing one as monthly, the SQL formulation gave it no MRR).
INSERT INTO billing.credit_notes (source_id, external_id, customer_id, issue_date, currency, subtotal, total)
SELECT c.source_id, 'RF-CN', c.id, '2026-01-10', 'EUR', 10, 10 FROM billing.customers c WHERE c.external_id = 'rf-eur';
INSERT INTO billing.credit_note_lines (credit_note_id, external_id, kind, subtotal, total, period_start, period_end, recurring)
SELECT n.id, '1', 'credit', 10, 10, '2026-01-10', '2026-02-01', true FROM billing.credit_notes n WHERE n.external_id = 'RF-CN';
INSERT INTO billing.credit_note_lines (credit_note_id, external_id, kind, subtotal, total, period_start, period_end)
SELECT n.id, '2', 'credit', 10, 10, '2026-01-10', 'infinity' FROM billing.credit_notes n WHERE n.external_id = 'RF-CN';
DELETE FROM billing.credit_notes WHERE external_id = 'RF-CN';

DELETE FROM billing.invoices i USING billing.customers c WHERE c.id = i.customer_id AND c.source_id = billing._source_id('ex_refresh', 'manual');
DELETE FROM billing.customers c WHERE c.source_id = billing._source_id('ex_refresh', 'manual');
