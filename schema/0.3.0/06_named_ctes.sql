-- pg_billing 0.3.0: the CTEs of the MRR bridge and the journal are named for what they hold
-- (issue 8 item 4). 0.2.0's definitions stay as released (test/fixtures/catalog_0.2.0.sql); the same
-- queries with readable names replace them here. The SQL revenue formulation's CTEs
-- (_revenue_compute_monthly, _revenue_compute_movements) go with that formulation, which 0.3.0 moves
-- out of the extension.
\echo Use "ALTER EXTENSION pg_billing UPDATE TO '0.3.0'" to load this file. \quit

-- report_settings: the reporting currency and the last month shown, read once;
-- mrr_by_customer: each customer's MRR at the start and end of each month, in the reported currency;
-- movements_by_month: the movements summed per month and reported currency.
CREATE OR REPLACE VIEW billing.mrr_summary AS
WITH report_settings AS MATERIALIZED (SELECT NULLIF(billing._setting('reporting_currency'), '') AS currency,
                                 billing._mrr_through() AS through),
mrr_by_customer AS (
    SELECT m.month, m.currency, m.mrr_prev AS mrr_start, m.mrr AS mrr_end, m.customer_id
      FROM billing._revenue_monthly m, report_settings WHERE report_settings.currency IS NULL AND m.month <= report_settings.through
    UNION ALL
    SELECT m.month, report_settings.currency, m.mrr_reporting_prev, m.mrr_reporting, m.customer_id
      FROM billing._revenue_monthly m, report_settings WHERE report_settings.currency IS NOT NULL AND m.month <= report_settings.through),
movements_by_month AS (
    SELECT m.month, coalesce(report_settings.currency, m.currency) AS currency,
           sum(coalesce(CASE WHEN report_settings.currency IS NULL THEN m.amount ELSE m.reporting_amount END, 0))
               FILTER (WHERE m.movement = 'new') AS new,
           sum(CASE WHEN report_settings.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'expansion') AS expansion,
           sum(CASE WHEN report_settings.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'contraction') AS contraction,
           sum(CASE WHEN report_settings.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'churn') AS churn,
           sum(CASE WHEN report_settings.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'reactivation') AS reactivation,
           sum(m.reporting_amount) FILTER (WHERE m.movement = 'fx') AS fx
      FROM billing._mrr_movements m, report_settings
     WHERE m.month <= report_settings.through
     GROUP BY 1, 2)
SELECT b.month, b.currency, sum(b.mrr_start) AS mrr_start, coalesce(max(mv.new), 0) AS new,
       coalesce(max(mv.expansion), 0) AS expansion, coalesce(max(mv.contraction), 0) AS contraction,
       coalesce(max(mv.churn), 0) AS churn, coalesce(max(mv.reactivation), 0) AS reactivation,
       coalesce(max(mv.fx), 0) AS fx, sum(b.mrr_end) AS mrr_end, count(DISTINCT b.customer_id) FILTER (WHERE b.mrr_end OPERATOR(pg_catalog.>) 0::pg_catalog.numeric) AS customers
FROM mrr_by_customer b LEFT JOIN movements_by_month mv USING (month, currency)
WHERE billing._revenue_current()
GROUP BY b.month, b.currency;

-- revenue_by_source_month: the stored monthly figures summed per month, source and currency;
-- postings: every debit and credit by account role, from those figures and the cash documents.
CREATE OR REPLACE VIEW billing.journal_entries AS
WITH revenue_by_source_month AS (
    SELECT r.month, c.source_id, r.currency,
           sum(r.ar_debit) AS ar_debit, sum(r.ar_credit) AS ar_credit,
           sum(r.tax_debit) AS tax_debit, sum(r.tax_credit) AS tax_credit,
           sum(r.deferred_debit) AS def_debit, sum(r.deferred_credit) AS def_credit,
           sum(GREATEST(r.recognized + r.contra, 0)) AS rec_pos, sum(GREATEST(-(r.recognized + r.contra), 0)) AS rec_neg,
           sum(GREATEST(r.unbilled_change, 0)) AS unb_up, sum(GREATEST(-r.unbilled_change, 0)) AS unb_down
      FROM billing._revenue_monthly r JOIN billing.customers c ON c.id = r.customer_id
     GROUP BY 1, 2, 3),
postings AS (
    SELECT revenue_by_source_month.month, revenue_by_source_month.source_id, revenue_by_source_month.currency, a.account, a.debit, a.credit
      FROM revenue_by_source_month CROSS JOIN LATERAL (VALUES
          ('accounts_receivable', revenue_by_source_month.ar_debit, revenue_by_source_month.ar_credit),
          ('sales_tax_payable', revenue_by_source_month.tax_debit, revenue_by_source_month.tax_credit),
          ('deferred_revenue', revenue_by_source_month.def_debit + revenue_by_source_month.rec_pos + revenue_by_source_month.unb_down, revenue_by_source_month.def_credit + revenue_by_source_month.rec_neg + revenue_by_source_month.unb_up),
          ('revenue', revenue_by_source_month.rec_neg, revenue_by_source_month.rec_pos),
          ('unbilled_receivables', revenue_by_source_month.unb_up, revenue_by_source_month.unb_down)) a(account, debit, credit)
    UNION ALL
    SELECT date_trunc('month', p.payment_date::timestamp)::date, c.source_id, p.currency, a.account, a.debit, a.credit
      FROM billing.payments p JOIN billing.customers c ON c.id = p.customer_id
     CROSS JOIN LATERAL (VALUES ('cash', p.amount, 0::numeric), ('accounts_receivable', 0::numeric, p.amount)) a(account, debit, credit)
     WHERE p.deleted_at IS NULL
    UNION ALL
    SELECT date_trunc('month', f.refund_date::timestamp)::date, c.source_id, f.currency, a.account, a.debit, a.credit
      FROM billing.refunds f JOIN billing.customers c ON c.id = f.customer_id
     CROSS JOIN LATERAL (VALUES ('accounts_receivable', f.amount, 0::numeric), ('cash', 0::numeric, f.amount)) a(account, debit, credit)
     WHERE f.deleted_at IS NULL
    UNION ALL
    SELECT e.month, c.source_id, e.currency, a.account, a.debit, a.credit
      FROM billing._refund_effects e JOIN billing.customers c ON c.id = e.customer_id
     CROSS JOIN LATERAL (VALUES ('refunds', e.contra, 0::numeric), ('deferred_revenue', e.excess, 0::numeric),
                                ('sales_tax_payable', e.tax, 0::numeric),
                                ('accounts_receivable', 0::numeric, e.contra + e.excess + e.tax)) a(account, debit, credit))
SELECT postings.month, coalesce(ms.remote_code, mg.remote_code, postings.account) AS account, postings.currency,
       sum(postings.debit) AS debit, sum(postings.credit) AS credit,
       pg_catalog.string_agg(DISTINCT postings.account, ',') AS account_role
FROM postings
LEFT JOIN billing.accounting_maps ms ON ms.map_kind = 'account' AND ms.source_id = postings.source_id AND ms.local_key = postings.account
LEFT JOIN billing.accounting_maps mg ON mg.map_kind = 'account' AND mg.source_id IS NULL AND mg.local_key = postings.account
WHERE billing._revenue_current()
GROUP BY postings.month, coalesce(ms.remote_code, mg.remote_code, postings.account), postings.currency
HAVING sum(postings.debit) OPERATOR(pg_catalog.<>) 0::pg_catalog.numeric
    OR sum(postings.credit) OPERATOR(pg_catalog.<>) 0::pg_catalog.numeric;
