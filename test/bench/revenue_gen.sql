-- Generates a book of :customers customers over 24 months (2025-01 .. 2026-12) straight into the
-- billing tables: monthly and annual plans on random anchor days, seat changes, mid-period upgrades
-- with proration credit and charge, one-time fees, discounts, tax, some unpaid invoices, cash
-- refunds, a second currency. Deterministic for a given :seed. Triggers are the caller's business.
SELECT setseed(:seed);
INSERT INTO billing.sources (name, kind) VALUES ('bench', 'manual') ON CONFLICT (name) DO NOTHING;

CREATE TEMP TABLE gen_customers AS
SELECT g AS n, 'gen-' || g AS external_id,
       CASE WHEN random() < 0.1 THEN 'EUR' ELSE 'USD' END AS currency,
       (random() * 23)::int AS start_offset,            -- first month, 0..23 from 2025-01
       1 + (random() * 27)::int AS anchor_day,
       CASE WHEN random() < 0.12 THEN 12 ELSE 1 END AS interval_months,
       (10 + (random() * 490)::int)::numeric AS price,
       1 + (random() * 9)::int AS seats,
       (random() * 30)::int AS periods,                  -- how many periods it stays
       random() AS r1, random() AS r2, random() AS r3
FROM generate_series(1, :customers) g;

INSERT INTO billing.customers (source_id, external_id, name, currency)
SELECT s.id, c.external_id, c.external_id, c.currency FROM gen_customers c, billing.sources s WHERE s.name = 'bench';

CREATE TEMP TABLE gen_periods AS
SELECT c.*, cu.id AS customer_id, k,
       (date '2025-01-01' + make_interval(months => c.start_offset + k * c.interval_months, days => c.anchor_day - 1))::date AS ps,
       (date '2025-01-01' + make_interval(months => c.start_offset + (k + 1) * c.interval_months, days => c.anchor_day - 1))::date AS pe,
       -- seats drop or grow at some renewals
       greatest(1, c.seats + CASE WHEN k > 2 AND c.r1 < 0.3 THEN (k % 3) - 1 ELSE 0 END) AS q
FROM gen_customers c
JOIN billing.customers cu ON cu.external_id = c.external_id
CROSS JOIN LATERAL generate_series(0, greatest(c.periods / c.interval_months, 0)) k
WHERE date '2025-01-01' + make_interval(months => c.start_offset + k * c.interval_months) < date '2027-01-01';

INSERT INTO billing.invoices (source_id, external_id, customer_id, status, issue_date, due_date, paid_date, currency,
                              subtotal, discount, tax, total, paid, due)
SELECT s.id, 'inv-' || p.n || '-' || p.k, p.customer_id,
       CASE WHEN p.r2 < 0.03 AND p.k > 1 THEN 'open' WHEN p.r3 < 0.01 THEN 'voided' ELSE 'paid' END,
       p.ps, p.ps + 14, CASE WHEN p.r2 < 0.03 AND p.k > 1 THEN NULL ELSE p.ps + 3 END, p.currency,
       p.price * p.q, 0, round(p.price * p.q * 0.1, 2), round(p.price * p.q * 1.1, 2),
       CASE WHEN p.r2 < 0.03 AND p.k > 1 THEN 0 ELSE round(p.price * p.q * 1.1, 2) END,
       CASE WHEN p.r2 < 0.03 AND p.k > 1 THEN round(p.price * p.q * 1.1, 2) ELSE 0 END
FROM gen_periods p, billing.sources s WHERE s.name = 'bench';

-- the plan line of every period; every 4th customer has a 10% coupon on its first three periods
INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, quantity, unit_price, subtotal, discount, tax, total,
                                   currency, period_start, period_end, recurring, interval_months)
SELECT i.id, 'plan', 'plan', p.q, p.price, p.price * p.q,
       CASE WHEN p.n % 4 = 0 AND p.k < 3 THEN round(p.price * p.q * 0.1, 2) ELSE 0 END,
       round(p.price * p.q * 0.1, 2),
       p.price * p.q - CASE WHEN p.n % 4 = 0 AND p.k < 3 THEN round(p.price * p.q * 0.1, 2) ELSE 0 END + round(p.price * p.q * 0.1, 2),
       p.currency, p.ps, p.pe, true, p.interval_months
FROM gen_periods p JOIN billing.invoices i ON i.external_id = 'inv-' || p.n || '-' || p.k;

-- a one-time setup fee on the first invoice of every 5th customer
INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, tax, total, currency, period_start, period_end)
SELECT i.id, 'setup', 'one_time', 99, 0, 99, p.currency, p.ps, p.ps
FROM gen_periods p JOIN billing.invoices i ON i.external_id = 'inv-' || p.n || '-' || p.k
WHERE p.k = 0 AND p.n % 5 = 0;

-- mid-period upgrades of monthly customers (every 7th, in its third period): credit + charge
INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, tax, total, currency, period_start,
                                   period_end, recurring, interval_months)
SELECT i.id, x.ext, x.kind, x.amt, 0, x.amt, p.currency, p.ps + 10, p.pe, true, 1
FROM gen_periods p JOIN billing.invoices i ON i.external_id = 'inv-' || p.n || '-' || p.k
CROSS JOIN LATERAL (VALUES ('upg-credit', 'credit', -round(p.price * p.q * (p.pe - p.ps - 10) / (p.pe - p.ps), 2)),
                           ('upg-charge', 'plan', round(2 * p.price * p.q * (p.pe - p.ps - 10) / (p.pe - p.ps), 2))) x(ext, kind, amt)
WHERE p.n % 7 = 0 AND p.k = 2 AND p.interval_months = 1;

-- cash refunds: every 50th customer gets part of its second invoice back a few days later
INSERT INTO billing.refunds (source_id, external_id, customer_id, invoice_id, amount, currency, refund_date)
SELECT i.source_id, 'ref-' || p.n, p.customer_id, i.id, round(p.price * p.q * 0.5, 2), p.currency, p.ps + 5 + (p.n % 40)
FROM gen_periods p JOIN billing.invoices i ON i.external_id = 'inv-' || p.n || '-' || p.k
WHERE p.n % 50 = 0 AND p.k = 1 AND i.status <> 'voided';

INSERT INTO billing.payments (source_id, external_id, customer_id, invoice_id, amount, currency, payment_date)
SELECT i.source_id, 'pay-' || i.external_id, i.customer_id, i.id, i.total, i.currency, i.paid_date
FROM billing.invoices i JOIN billing.sources s ON s.id = i.source_id AND s.name = 'bench'
WHERE i.paid_date IS NOT NULL;

DROP TABLE gen_periods, gen_customers;
ANALYZE billing.customers, billing.invoices, billing.invoice_lines, billing.refunds, billing.payments;
