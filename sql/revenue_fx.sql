-- Worked example: rule C8, a reporting currency. Every row keeps its own currency; with
-- reporting_currency set, MRR lines convert at the rate of their service-period start, revenue at
-- the month's last day, and the conversion effect is an fx movement, never expansion or contraction.
SET client_min_messages = warning;
SELECT billing.add_source('ex_fx', 'manual') > 0 AS source_added;
INSERT INTO billing.fx_rates (from_currency, to_currency, rate_date, rate)
VALUES ('EUR', 'USD', '2026-01-01', 1.10), ('EUR', 'USD', '2026-02-01', 1.20);
INSERT INTO billing.manual_customers (source, external_id, name, currency)
VALUES ('ex_fx', 'fx-eur', 'Euro GmbH', 'EUR'), ('ex_fx', 'fx-usd', 'Dollar Inc', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, paid_date, currency)
SELECT 'ex_fx', c || '-' || m, 'fx-' || lower(c), 'paid', d, d, d, c
FROM (VALUES ('EUR'), ('USD')) cur(c), generate_series(1, 3) m,
     LATERAL (SELECT make_date(2026, m, 1) AS d) x;
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                          recurring, interval_months)
SELECT 'ex_fx', c || '-' || m, '1', 'plan', CASE c WHEN 'EUR' THEN 100.00 ELSE 50.00 END,
       make_date(2026, m, 1), make_date(2026, m + 1, 1), true, 1
FROM (VALUES ('EUR'), ('USD')) cur(c), generate_series(1, 3) m;

-- Without a reporting currency: one summary per currency
SELECT to_char(month, 'YYYY-MM') AS month, currency, mrr_start, new, churn, fx, mrr_end
FROM billing.mrr_summary ORDER BY currency, month;

SELECT billing.set_setting('reporting_currency', 'USD') AS previous_setting;

-- Euro GmbH's MRR stays 100 EUR; in USD it is 110 in January (rate of Jan 1) and 120 from February
SELECT c.external_id AS customer, to_char(m.month, 'YYYY-MM') AS month, m.currency, m.mrr,
       m.reporting_currency, m.mrr_reporting
FROM billing.customer_mrr m JOIN billing.customers c ON c.id = m.customer_id
WHERE c.external_id LIKE 'fx-%' ORDER BY 1, 2;

-- movements in their own currency, with the amount in USD; fx rows are in USD and signed
SELECT c.external_id AS customer, to_char(v.month, 'YYYY-MM') AS month, v.movement, v.currency, v.amount,
       v.reporting_amount
FROM billing.mrr_movements v JOIN billing.customers c ON c.id = v.customer_id
WHERE c.external_id LIKE 'fx-%' ORDER BY 1, 2, 3;

-- one USD bridge: February's +10 is fx, April's churn is the 170 last reported
SELECT to_char(month, 'YYYY-MM') AS month, currency, mrr_start, new, expansion, contraction, churn,
       reactivation, fx, mrr_end
FROM billing.mrr_summary ORDER BY month;

-- revenue converts at the rate of the month's last day
SELECT c.external_id AS customer, to_char(r.month, 'YYYY-MM') AS month, r.currency, r.recognized,
       r.recognized_reporting
FROM billing.monthly_revenue r JOIN billing.customers c ON c.id = r.customer_id
WHERE c.external_id = 'fx-eur' ORDER BY 2;

-- a reporting currency without rates is refused when the change commits, and nothing changes
DO $$
BEGIN
    PERFORM billing.set_setting('reporting_currency', 'GBP');
    PERFORM billing.refresh_revenue();
EXCEPTION WHEN no_data_found THEN
    RAISE WARNING 'refused: %', regexp_replace(SQLERRM, ' from .*', '');
END $$;
SELECT value FROM billing.settings WHERE key = 'reporting_currency';

SELECT billing.set_setting('reporting_currency', '') AS previous_setting;
DELETE FROM billing.invoices i USING billing.customers c WHERE c.id = i.customer_id AND c.external_id LIKE 'fx-%';
DELETE FROM billing.customers WHERE external_id LIKE 'fx-%';
DELETE FROM billing.fx_rates;
