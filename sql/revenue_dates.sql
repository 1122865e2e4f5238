-- Dates before year 1 and huge date spans (issue 9): the engine computes every month PostgreSQL's
-- calendar holds whole, from December 4714 BC to December 5874897, with astronomical years (1 BC is
-- year 0, a leap year), and refuses with a clear error what it cannot place: a date before
-- December 4714 BC, figures spanning more than 120,000 months (10,000 years), an interval whose
-- full period starts before the first supported date. Nothing overflows; a refused change is
-- rolled back whole.
SET client_min_messages = warning;
SELECT billing.add_source('ex_dates', 'manual') > 0 AS source_added;
CREATE TEMP VIEW dates_rev AS
SELECT c.external_id AS customer, r.month, r.recognized, r.refunds, r.billed, r.deferred_end, m.mrr,
       r.recognized_reporting, m.mrr_reporting
FROM billing.monthly_revenue r JOIN billing.customers c ON c.id = r.customer_id
JOIN billing.customer_mrr m ON m.customer_id = r.customer_id AND m.month = r.month AND m.currency = r.currency
WHERE c.source_id = billing._source_id('ex_dates', 'manual');
SELECT value AS mrr_through_before FROM billing.settings WHERE key = 'mrr_through' \gset
SELECT billing.set_setting('mrr_through', 'all') = :'mrr_through_before' AS mrr_through_all;

-- 1. Before year 1 and across it. A monthly $30.00 for [2 BC-11-15, 2 BC-12-15), 30 days: November
--    16 days 16.00, December 14.00; MRR 30.00 at November's end. $10.00 of it refunded in cash on
--    2 BC-12-20: recognised through December 30.00, so all 10.00 is contra revenue in December
--    (14.00 - 10.00 = 4.00). A monthly $31.00 for [1 BC-12-15, 1 AD-01-15), 31 days: December of
--    1 BC 17 days 17.00, January of 1 AD 14.00; MRR 31.00 at the end of December 1 BC, which is
--    the month before January 1 AD (there is no year 0 between them).
INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('ex_dates', 'bc', 'Before Christ', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, due_date, paid_date, currency)
VALUES ('ex_dates', 'BC-1', 'bc', 'paid', '0002-11-15 BC', '0002-11-15 BC', '0002-11-15 BC', 'USD'),
       ('ex_dates', 'BC-2', 'bc', 'paid', '0001-12-15 BC', '0001-12-15 BC', '0001-12-15 BC', 'USD');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                          recurring, interval_months)
VALUES ('ex_dates', 'BC-1', '1', 'plan', 30.00, '0002-11-15 BC', '0002-12-15 BC', true, 1),
       ('ex_dates', 'BC-2', '1', 'plan', 31.00, '0001-12-15 BC', '0001-01-15', true, 1);
INSERT INTO billing.manual_refunds (source, external_id, customer, invoice, amount, currency, refund_date)
VALUES ('ex_dates', 'BC-R', 'bc', 'BC-1', 10.00, 'USD', '0002-12-20 BC');
SELECT to_char(month, 'YYYY-MM BC') AS month, recognized, refunds, billed, deferred_end, mrr FROM dates_rev
WHERE customer = 'bc' AND (recognized <> 0 OR billed <> 0 OR mrr <> 0 OR month IN ('0001-01-01 BC', '0001-11-01 BC'))
ORDER BY dates_rev.month;
SELECT count(*) AS months, sum(recognized) AS recognized, sum(refunds) AS refunds FROM dates_rev WHERE customer = 'bc';
SELECT to_char(v.month, 'YYYY-MM BC') AS month, v.movement, v.amount FROM billing.mrr_movements v JOIN billing.customers c ON c.id = v.customer_id
WHERE c.external_id = 'bc' ORDER BY v.month;

-- The same with a reporting currency (USD itself, so every rate is 1 and no rate table is needed).
-- 0.2.0 computed this case with its SQL formulation, which numbered months with date_part('year'),
-- where 1 BC is -1 and 1 AD is 1: the period across year 1 got fourteen months, twelve of them
-- negative (-17.00 in February 1 AD down to -351.00 in January 2 AD).
SELECT billing.set_setting('reporting_currency', 'USD') = '' AS reporting_in_usd;
SELECT to_char(month, 'YYYY-MM BC') AS month, recognized, recognized_reporting, mrr, mrr_reporting FROM dates_rev
WHERE customer = 'bc' AND (recognized <> 0 OR mrr <> 0) ORDER BY dates_rev.month;
SELECT count(*) AS months, sum(recognized_reporting) AS recognized_reporting FROM dates_rev WHERE customer = 'bc';
SELECT billing.set_setting('reporting_currency', '') = 'USD' AS reporting_cleared;

-- 2. The first month the engine computes: December 4714 BC ($31.00 over its 31 days). A period
--    starting in November 4714 BC (PostgreSQL's first date is 4714-11-24 BC) is refused, and the
--    line is not stored.
INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('ex_dates', 'first', 'First Month', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, paid_date, currency)
VALUES ('ex_dates', 'FM-1', 'first', 'paid', '4714-12-01 BC', '4714-12-01 BC', 'USD');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end)
VALUES ('ex_dates', 'FM-1', '1', 'plan', 31.00, '4714-12-01 BC', '4713-01-01 BC');
SELECT to_char(month, 'YYYY-MM BC') AS month, recognized, billed, deferred_end FROM dates_rev WHERE customer = 'first' ORDER BY dates_rev.month;
DO $$
BEGIN
    INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end)
    VALUES ('ex_dates', 'FM-1', '2', 'plan', 7.00, '4714-11-24 BC', '4714-12-01 BC');
    PERFORM billing.refresh_revenue();
EXCEPTION WHEN datetime_field_overflow THEN
    RAISE WARNING 'refused (%): %', SQLSTATE, regexp_replace(SQLERRM, 'customer \d+', 'customer N');
END $$;
SELECT count(*) AS lines FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id WHERE i.external_id = 'FM-1';

-- 3. The last months PostgreSQL has: $364.00 for [5874897-01-01, 5874897-12-31), 364 days, an annual
--    plan. Its start + 12 months lies past PostgreSQL's last date (SQL date arithmetic fails there),
--    so it is no full year measured forward; measured back from its end the full year starts on
--    5874896-12-31, 365 days: MRR = 364 x 365 / 364 / 12 = 30.4166.. -> 30.42 at every month end
--    from January to November. December, the last month, holds the last 30 days.
INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('ex_dates', 'last', 'Last Months', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, paid_date, currency)
VALUES ('ex_dates', 'LM-1', 'last', 'paid', '5874897-01-01', '5874897-01-01', 'USD');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                          recurring, interval_months)
VALUES ('ex_dates', 'LM-1', '1', 'plan', 364.00, '5874897-01-01', '5874897-12-31', true, 12);
-- (to_char works on timestamps, which end in the year 294276: years and months are extracted instead)
SELECT extract(year FROM month) AS year, extract(month FROM month) AS month, recognized, deferred_end, mrr
FROM dates_rev WHERE customer = 'last'
AND month IN ('5874897-01-01', '5874897-02-01', '5874897-11-01', '5874897-12-01') ORDER BY dates_rev.month;
SELECT count(*) AS months, sum(recognized) AS recognized FROM dates_rev WHERE customer = 'last';

-- 4. A span of 95,688 months, within the limit: $2,912,442.00 for [2026-01-01, 9999-12-31) (the
--    "no end" date some systems write), 2,912,442 days, $1.00 a day: January 2026 31.00, and every
--    month to December 9999 (30 days there, the period ending on its 31st).
INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('ex_dates', 'long', 'Long Period', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, paid_date, currency)
VALUES ('ex_dates', 'LP-1', 'long', 'paid', '2026-01-01', '2026-01-01', 'USD');
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end)
VALUES ('ex_dates', 'LP-1', '1', 'plan', 2912442.00, '2026-01-01', '9999-12-31');
SELECT count(*) AS months, to_char(min(month), 'YYYY-MM') AS first_month, to_char(max(month), 'YYYY-MM') AS last_month,
       sum(recognized) AS recognized
FROM dates_rev WHERE customer = 'long';
SELECT to_char(month, 'YYYY-MM') AS month, recognized, deferred_end FROM dates_rev WHERE customer = 'long'
AND month IN ('2026-01-01', '2026-02-01', '9999-12-01') ORDER BY dates_rev.month;

-- 5. Spans beyond 120,000 months are refused whole, naming the customer's range: one period from
--    4000 BC to 9999 (167,988 months), and two documents 200,000 years apart.
INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('ex_dates', 'span', 'Too Long', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, paid_date, currency)
VALUES ('ex_dates', 'SP-1', 'span', 'paid', '2026-01-01', '2026-01-01', 'USD');
DO $$
BEGIN
    INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end)
    VALUES ('ex_dates', 'SP-1', '1', 'plan', 100.00, '4000-01-01 BC', '9999-12-31');
    PERFORM billing.refresh_revenue();
EXCEPTION WHEN program_limit_exceeded THEN
    RAISE WARNING 'refused (%): % (%)', SQLSTATE, regexp_replace(SQLERRM, 'customer \d+', 'customer N'),
        (SELECT 'queue left as it was: ' || count(*) FROM billing._revenue_dirty);
END $$;
DO $$
DECLARE
    v_detail text;
BEGIN
    INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, paid_date, currency)
    VALUES ('ex_dates', 'SP-2', 'span', 'paid', '200000-01-01', '200000-01-01', 'USD');
    INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end)
    VALUES ('ex_dates', 'SP-1', '1', 'plan', 100.00, '2026-01-01', '2026-02-01'),
           ('ex_dates', 'SP-2', '1', 'one_time', 5.00, '200000-01-01', '200000-01-01');
    PERFORM billing.refresh_revenue();
EXCEPTION WHEN program_limit_exceeded THEN
    GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
    RAISE WARNING 'refused (%): %; %', SQLSTATE, regexp_replace(SQLERRM, 'customer \d+', 'customer N'), v_detail;
END $$;
SELECT count(*) AS rows FROM dates_rev WHERE customer = 'span';

-- 6. An interval of two billion months: without full_period_amount, MRR would measure the line against
--    a full period starting before any date PostgreSQL has, which is refused; with it, MRR is
--    full_period_amount / interval_months, 100 / 2,000,000,000 = 0.00000005, which reports 0.00.
INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('ex_dates', 'huge', 'Huge Interval', 'USD');
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, paid_date, currency)
VALUES ('ex_dates', 'HI-1', 'huge', 'paid', '2026-01-01', '2026-01-01', 'USD');
DO $$
BEGIN
    INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                              recurring, interval_months)
    VALUES ('ex_dates', 'HI-1', '1', 'plan', 100.00, '2026-01-01', '2026-02-01', true, 2000000000);
    PERFORM billing.refresh_revenue();
EXCEPTION WHEN datetime_field_overflow THEN
    RAISE WARNING 'refused (%): %', SQLSTATE, regexp_replace(SQLERRM, 'customer \d+', 'customer N');
END $$;
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end,
                                          recurring, interval_months, full_period_amount)
VALUES ('ex_dates', 'HI-1', '1', 'plan', 100.00, '2026-01-01', '2026-02-01', true, 2000000000, 100.00);
SELECT to_char(month, 'YYYY-MM') AS month, recognized, mrr FROM dates_rev WHERE customer = 'huge' ORDER BY dates_rev.month;

SELECT billing.set_setting('mrr_through', :'mrr_through_before') = 'all' AS mrr_through_restored;
DELETE FROM billing.refunds f USING billing.customers c
WHERE c.id = f.customer_id AND c.source_id = billing._source_id('ex_dates', 'manual');
DELETE FROM billing.invoices i USING billing.customers c
WHERE c.id = i.customer_id AND c.source_id = billing._source_id('ex_dates', 'manual');
DELETE FROM billing.customers c WHERE c.source_id = billing._source_id('ex_dates', 'manual');
SELECT count(*) AS rows_left FROM billing.monthly_revenue r JOIN billing.customers c ON c.id = r.customer_id
WHERE c.source_id = billing._source_id('ex_dates', 'manual');
