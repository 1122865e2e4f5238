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

-- 6. Months not over yet (rule C3: the snapshot is the month's last day). A monthly $100 billed in
--    advance for last month and this month: the stored results run to next month (the month holding
--    the last period end, where MRR drops to 0), but the MRR relations stop at the last complete
--    month (setting mrr_through, default last_complete_month): no churn for an invoice not issued
--    yet. Revenue keeps its scheduled months.
CREATE TEMP VIEW rf_months AS
SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => k))::date AS month, k
FROM generate_series(-1, 1) k;
INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('ex_refresh', 'rf-now', 'Now Ltd', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, paid_date, currency)
SELECT 'ex_refresh', 'RN' || k, 'rf-now', 'paid', month, month, 'USD' FROM rf_months WHERE k < 1;
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                          recurring, interval_months)
SELECT 'ex_refresh', 'RN' || k, '1', 'plan', 100.00, month, (month + interval '1 month')::date, true, 1
FROM rf_months WHERE k < 1;
CREATE TEMP VIEW rf_now AS
SELECT x.k AS month_from_now, r.recognized,
       (SELECT m.mrr FROM billing.customer_mrr m WHERE m.customer_id = r.customer_id AND m.month = r.month) AS mrr,
       (SELECT string_agg(v.movement || ' ' || v.amount, ', ') FROM billing.mrr_movements v
         WHERE v.customer_id = r.customer_id AND v.month = r.month) AS movements
FROM billing.monthly_revenue r JOIN billing.customers c ON c.id = r.customer_id AND c.external_id = 'rf-now'
JOIN rf_months x ON x.month = r.month ORDER BY x.k;
SELECT value FROM billing.settings WHERE key = 'mrr_through';
SELECT * FROM rf_now;
SELECT count(*) AS summary_months_after_cutoff FROM billing.mrr_summary
WHERE month >= date_trunc('month', now() AT TIME ZONE 'UTC');
-- mrr_through is applied when reading: changing it queues nobody (0), and takes effect at once
BEGIN;
SELECT billing.set_setting('mrr_through', 'all') AS previous_setting;
SELECT count(*) AS queued FROM billing._revenue_dirty;
COMMIT;
SELECT * FROM rf_now;
-- a month of your own: through December 2025, Euro SA's January 2026 is not reported yet
SELECT billing.set_setting('mrr_through', '2025-12') AS previous_setting;
SELECT count(*) AS rows FROM rf_mrr;
SELECT billing.set_setting('mrr_through', '2026-01') AS previous_setting;
SELECT mrr FROM rf_mrr;
SELECT billing.set_setting('mrr_through', '2026-13');
SELECT billing.set_setting('mrr_through', 'last_complete_month') AS previous_setting;

-- 7. Infinite dates have no month to be recognised in: the load refuses them and names the row,
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

-- 8. A recurring credit-note line needs an interval, as an invoice line does (the C engine took a
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
