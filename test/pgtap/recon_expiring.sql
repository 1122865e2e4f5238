-- Expiring subscriptions (domain.md 4): days = end date - as-of date; in window N when 0 <= days <= N
-- (N = 15, 30, 90, cumulative), buckets 0-15, 16-30, 31-90 exclusive; Monthly and Trial terms excluded.
SET client_min_messages = warning;
SET timezone = 'UTC';
SELECT plan(14);

SELECT billing.add_source('pax8m', 'manual', options => '{"recon_role": "vendor"}') AS vendor \gset
SELECT billing.add_source('cwm', 'manual', options => '{"recon_role": "psa"}') AS psa \gset
SELECT billing.add_source('book', 'manual') AS book \gset
INSERT INTO billing.customers (source_id, external_id, name) VALUES
    (:vendor, 'v1', 'Acme Inc.'), (:psa, 'p1', 'ACME'), (:vendor, 'v2', 'Solo'), (:book, 'b1', 'Book customer');
SELECT billing.refresh_company_map() AS mapped \gset

-- as of 2026-03-01; each subscription ends at noon UTC of its day, named d<days>
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, sku, product, state, quantity, billing_term, ends_at)
SELECT :vendor, x.ext, (SELECT id FROM billing.customers WHERE external_id = x.cust), 'SKU-' || x.ext, 'Product ' || x.ext,
       x.state, 5, x.term, ('2026-03-01'::date + x.days) + time '12:00'
  FROM (VALUES ('d-1', 'v1', -1, 'Annual', 'Active'),
               ('d0', 'v1', 0, 'Annual', 'Active'),
               ('d10', 'v2', 10, '3-Year', 'Active'),
               ('d15', 'v1', 15, 'Annual', 'Active'),
               ('d16', 'v1', 16, '2-Year', 'Active'),
               ('d30', 'v1', 30, 'Annual', 'PendingCancel'),
               ('d31', 'v1', 31, 'Annual', 'Active'),
               ('d90', 'v1', 90, 'Annual', 'Active'),
               ('d91', 'v1', 91, 'Annual', 'Active'),
               ('monthly5', 'v1', 5, 'Monthly', 'Active'),        -- excluded term
               ('trial5', 'v1', 5, 'Trial', 'Active'),            -- excluded term
               ('cancelled5', 'v1', 5, 'Annual', 'Cancelled')) x (ext, cust, days, term, state);
-- a subscription of a source outside reconciliation is not the vendor's
INSERT INTO billing.subscriptions (source_id, external_id, customer_id, sku, state, quantity, billing_term, ends_at)
SELECT :book, 'b5', id, 'X', 'active', 1, 'Annual', '2026-03-06 12:00+00' FROM billing.customers WHERE external_id = 'b1';

SELECT results_eq(
    $$SELECT product, days_left, within_15, within_30, within_90, bucket FROM billing.expiring_subscriptions('2026-03-01') ORDER BY days_left$$,
    $$VALUES ('Product d0', 0, true, true, true, '0-15'),
             ('Product d10', 10, true, true, true, '0-15'),
             ('Product d15', 15, true, true, true, '0-15'),
             ('Product d16', 16, false, true, true, '16-30'),
             ('Product d30', 30, false, true, true, '16-30'),
             ('Product d31', 31, false, false, true, '31-90'),
             ('Product d90', 90, false, false, true, '31-90')$$,
    'days 0, 15 | 16, 30 | 31, 90 fall on each side of the boundaries; -1 and 91 are out; Monthly, Trial and Cancelled are not listed');
-- the windows are cumulative: 15 -> 3 (0, 10, 15), 30 -> 5 (+16, 30), 90 -> 7 (+31, 90)
SELECT results_eq(
    $$SELECT count(*) FILTER (WHERE within_15), count(*) FILTER (WHERE within_30), count(*) FILTER (WHERE within_90)
        FROM billing.expiring_subscriptions('2026-03-01')$$,
    $$VALUES (3::bigint, 5::bigint, 7::bigint)$$, 'cumulative windows 15/30/90 hold 3, 5 and 7 subscriptions');
SELECT results_eq(
    $$SELECT bucket, count(*) FROM billing.expiring_subscriptions('2026-03-01') GROUP BY bucket ORDER BY bucket$$,
    $$VALUES ('0-15', 3::bigint), ('16-30', 2::bigint), ('31-90', 2::bigint)$$, 'exclusive buckets hold 3, 2 and 2');
SELECT results_eq(
    $$SELECT company, end_date, billing_term FROM billing.expiring_subscriptions('2026-03-01') WHERE days_left IN (0, 10) ORDER BY days_left$$,
    $$VALUES ('ACME', '2026-03-01'::date, 'Annual'), ('Solo', '2026-03-11'::date, '3-Year')$$,
    'a mapped company shows under its PSA name, an unmapped one under its own');

-- one day later every figure moves by one: d0 has ended (-1), d91 comes in at 90
SELECT results_eq(
    $$SELECT product, days_left, bucket FROM billing.expiring_subscriptions('2026-03-02') WHERE days_left IN (0, 14, 15, 30, 90) ORDER BY days_left$$,
    $$VALUES ('Product d15', 14, '0-15'), ('Product d16', 15, '0-15'), ('Product d31', 30, '16-30'), ('Product d91', 90, '31-90')$$,
    'the as-of date moves every subscription along');
SELECT is((SELECT count(*) FROM billing.expiring_subscriptions('2026-03-02') WHERE product = 'Product d0'), 0::bigint,
    'a subscription that ended yesterday is gone');

-- the end date is the day in the reporting time zone: 2026-03-16 02:00 UTC is 2026-03-15 in New York
UPDATE billing.subscriptions SET ends_at = '2026-03-16 02:00+00' WHERE external_id = 'd15';
SELECT is((SELECT days_left FROM billing.expiring_subscriptions('2026-03-01') WHERE product = 'Product d15'), 15, 'UTC: 2026-03-16 02:00 is day 15');
SELECT billing.set_setting('reporting_timezone', 'America/New_York') AS old_tz \gset
SELECT is((SELECT days_left FROM billing.expiring_subscriptions('2026-03-01') WHERE product = 'Product d15'), 14, 'New York: the same instant is day 14');
-- 2026-03-01 00:30 UTC is still 2026-02-28 in New York: day -1, out
UPDATE billing.subscriptions SET ends_at = '2026-03-01 00:30+00' WHERE external_id = 'd0';
SELECT is((SELECT count(*) FROM billing.expiring_subscriptions('2026-03-01') WHERE product = 'Product d0'), 0::bigint,
    'an instant before midnight local time belongs to the day before');
SELECT billing.set_setting('reporting_timezone', 'UTC') AS old_tz \gset
SELECT is((SELECT days_left FROM billing.expiring_subscriptions('2026-03-01') WHERE product = 'Product d0'), 0, 'and in UTC it is day 0');

-- exclusions
INSERT INTO billing.exclusions (source_id, kind, key) VALUES (:vendor, 'company', 'v2'), (:vendor, 'product', 'SKU-d90');
SELECT is((SELECT count(*) FROM billing.expiring_subscriptions('2026-03-01') WHERE product IN ('Product d10', 'Product d90')), 0::bigint,
    'an excluded company and an excluded SKU are not listed');
-- deleted upstream
UPDATE billing.subscriptions SET deleted_at = now() WHERE external_id = 'd31';
SELECT is((SELECT count(*) FROM billing.expiring_subscriptions('2026-03-01') WHERE product = 'Product d31'), 0::bigint,
    'a subscription deleted upstream is not listed');

-- the view is the function as of today
UPDATE billing.subscriptions SET ends_at = now() + interval '20 days' WHERE external_id = 'd16';
SELECT results_eq($$SELECT product, bucket FROM billing.expiring_subscriptions$$, $$VALUES ('Product d16', '16-30')$$,
    'the view lists what ends in the next 90 days from today');
SELECT set_eq($$SELECT * FROM billing.expiring_subscriptions$$, $$SELECT * FROM billing.expiring_subscriptions(billing._recon_today())$$,
    'the view and the function agree');

SELECT * FROM finish();
