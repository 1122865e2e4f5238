-- End to end: a realistic two-year book (test/fixtures/book.py: monthly and annual plans, seats,
-- upgrades with proration, downgrades, churn and returns, coupons, setup fees, refunds, EUR and USD)
-- synced from the fake Advanced Billing API gives exactly the revenue, MRR and movements of the
-- same book loaded by hand with its full_period_amount filled in.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(12);

SELECT billing.add_source('by-hand', 'manual');
DO $load$
DECLARE
    dir text := current_setting('pgb_test.book_dir');
    loads text[][] := ARRAY[
        ['manual_customers', 'source, external_id, reference, name, organization, email, currency', 'customers'],
        ['manual_subscriptions', 'source, external_id, customer, product, sku, state, quantity, unit_price, currency, interval_months, billing_term, started_at', 'subscriptions'],
        ['manual_invoices', 'source, external_id, number, customer, subscription, status, issue_date, due_date, paid_date, currency, subtotal, discount, tax', 'invoices'],
        ['manual_invoice_lines', 'source, invoice, external_id, kind, product, quantity, unit_price, subtotal, discount, tax, currency, period_start, period_end, recurring, interval_months, full_period_amount', 'invoice_lines'],
        ['manual_payments', 'source, external_id, customer, invoice, amount, currency, payment_date, method', 'payments'],
        ['manual_refunds', 'source, external_id, customer, invoice, amount, currency, refund_date, memo', 'refunds']];
    i int;
BEGIN
    FOR i IN 1 .. array_length(loads, 1) LOOP
        EXECUTE format('COPY billing.%I (%s) FROM PROGRAM %L WITH (FORMAT csv)', loads[i][1], loads[i][2],
                       format('sed "s/^/by-hand,/" %s/%s.csv', dir, loads[i][3]));
    END LOOP;
END
$load$;

SELECT billing.add_source('synced', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/book-equal',
    jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"per_page": 50, "max_requests_per_second": 500}');
CALL billing.sync('synced');

SELECT is((SELECT status FROM billing.sync_runs ORDER BY id DESC LIMIT 1), 'succeeded', 'the book syncs');
SELECT results_eq(
    $$SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id JOIN billing.sources s ON s.id = i.source_id WHERE s.name = 'synced'$$,
    $$SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i ON i.id = l.invoice_id JOIN billing.sources s ON s.id = i.source_id WHERE s.name = 'by-hand'$$,
    'every line arrives');
SELECT cmp_ok((SELECT count(*) FROM billing.invoice_lines WHERE raw ->> 'kind' = 'prorated'), '>', 0::bigint,
    'the book has prorated upgrade lines');

-- Each source's customers by the book's own customer id.
CREATE TEMP VIEW book_customer AS
SELECT c.id, s.name AS source, CASE s.kind WHEN 'manual' THEN c.external_id ELSE c.reference END AS book_id
FROM billing.customers c JOIN billing.sources s ON s.id = c.source_id;

SELECT is((SELECT count(*) FROM (
    (SELECT b.book_id, m.month, m.currency, m.mrr FROM billing.customer_mrr m JOIN book_customer b ON b.id = m.customer_id WHERE b.source = 'synced'
     EXCEPT SELECT b.book_id, m.month, m.currency, m.mrr FROM billing.customer_mrr m JOIN book_customer b ON b.id = m.customer_id WHERE b.source = 'by-hand')
    UNION ALL
    (SELECT b.book_id, m.month, m.currency, m.mrr FROM billing.customer_mrr m JOIN book_customer b ON b.id = m.customer_id WHERE b.source = 'by-hand'
     EXCEPT SELECT b.book_id, m.month, m.currency, m.mrr FROM billing.customer_mrr m JOIN book_customer b ON b.id = m.customer_id WHERE b.source = 'synced')) d),
    0::bigint, 'MRR per customer and month: synced = loaded by hand');
SELECT cmp_ok((SELECT count(*) FROM billing.customer_mrr m JOIN book_customer b ON b.id = m.customer_id WHERE b.source = 'synced' AND m.mrr > 0),
    '>', 500::bigint, 'over hundreds of customer months with MRR');
SELECT is((SELECT count(*) FROM (
    (SELECT b.book_id, r.month, r.currency, r.recognized, r.billed, r.deferred_end, r.unbilled_end FROM billing.monthly_revenue r JOIN book_customer b ON b.id = r.customer_id WHERE b.source = 'synced'
     EXCEPT SELECT b.book_id, r.month, r.currency, r.recognized, r.billed, r.deferred_end, r.unbilled_end FROM billing.monthly_revenue r JOIN book_customer b ON b.id = r.customer_id WHERE b.source = 'by-hand')
    UNION ALL
    (SELECT b.book_id, r.month, r.currency, r.recognized, r.billed, r.deferred_end, r.unbilled_end FROM billing.monthly_revenue r JOIN book_customer b ON b.id = r.customer_id WHERE b.source = 'by-hand'
     EXCEPT SELECT b.book_id, r.month, r.currency, r.recognized, r.billed, r.deferred_end, r.unbilled_end FROM billing.monthly_revenue r JOIN book_customer b ON b.id = r.customer_id WHERE b.source = 'synced')) d),
    0::bigint, 'recognised, billed, deferred and unbilled revenue per customer and month: synced = loaded by hand');
SELECT is((SELECT count(*) FROM (
    (SELECT b.book_id, v.month, v.currency, v.movement, v.amount FROM billing.mrr_movements v JOIN book_customer b ON b.id = v.customer_id WHERE b.source = 'synced'
     EXCEPT SELECT b.book_id, v.month, v.currency, v.movement, v.amount FROM billing.mrr_movements v JOIN book_customer b ON b.id = v.customer_id WHERE b.source = 'by-hand')
    UNION ALL
    (SELECT b.book_id, v.month, v.currency, v.movement, v.amount FROM billing.mrr_movements v JOIN book_customer b ON b.id = v.customer_id WHERE b.source = 'by-hand'
     EXCEPT SELECT b.book_id, v.month, v.currency, v.movement, v.amount FROM billing.mrr_movements v JOIN book_customer b ON b.id = v.customer_id WHERE b.source = 'synced')) d),
    0::bigint, 'MRR movements: synced = loaded by hand');
SELECT cmp_ok((SELECT count(DISTINCT movement) FROM billing.mrr_movements), '>=', 4::bigint,
    'the book moves MRR in at least four ways');

-- A sync defers the revenue refresh to the end of its run; users may defer it too, for a bulk load.
SELECT is((SELECT count(*) FROM billing._revenue_dirty), 0::bigint, 'the end of the run refreshed every customer it touched');
SET pg_billing.revenue_refresh = deferred;
INSERT INTO billing.manual_invoices (source, external_id, customer, status, issue_date, currency, subtotal)
VALUES ('by-hand', 'late-1', 'cus_00001', 'paid', '2026-11-01', 'USD', 1000);
INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, unit_price, period_start, period_end, recurring, interval_months)
VALUES ('by-hand', 'late-1', 'l1', 'plan', 1000, '2026-11-01', '2026-12-01', true, 1);
SELECT is((SELECT count(*) FROM billing._revenue_dirty), 1::bigint, 'deferred: the changed customer stays queued after commit');
SELECT is((SELECT count(*) FROM billing.monthly_revenue r JOIN book_customer b ON b.id = r.customer_id
           WHERE b.book_id = 'cus_00001' AND b.source = 'by-hand' AND r.month = '2026-11-01' AND r.billed >= 1000), 0::bigint,
          'deferred: the stored results do not include it yet');
SELECT billing.refresh_revenue();
SELECT is((SELECT count(*) FROM billing.monthly_revenue r JOIN book_customer b ON b.id = r.customer_id
           WHERE b.book_id = 'cus_00001' AND b.source = 'by-hand' AND r.month = '2026-11-01' AND r.billed >= 1000), 1::bigint,
          'billing.refresh_revenue() brings them up to date');
RESET pg_billing.revenue_refresh;

SELECT * FROM finish();
