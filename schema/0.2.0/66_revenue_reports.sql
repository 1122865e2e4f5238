-- Revenue, 7 of 7: what users read. Monthly revenue, MRR/ARR, movements, the MRR bridge and the
-- consolidated journal (domain.md sections 2 and 3), from the stored results; and the privileges of
-- every revenue object.

-- Public relations -------------------------------------------------------------------------------

CREATE VIEW billing.monthly_revenue AS
SELECT r.customer_id, r.month, r.currency, r.recognized, r.billed, r.deferred_end, r.unbilled_end,
       r.contra AS refunds, r.reporting_currency, r.recognized_reporting
FROM billing._revenue_monthly r
WHERE billing._revenue_current();
COMMENT ON VIEW billing.monthly_revenue IS 'Revenue per customer, month and currency (rules C2, C2a): recognised, billed, and the deferred and unbilled balances at month end. One row for every month from the customer''s first line, invoice or refund to the month of its last service-period end.';
COMMENT ON COLUMN billing.monthly_revenue.customer_id IS 'The customer (billing.customers.id).';
COMMENT ON COLUMN billing.monthly_revenue.month IS 'First day of the month.';
COMMENT ON COLUMN billing.monthly_revenue.currency IS 'Currency of the documents (ISO 4217).';
COMMENT ON COLUMN billing.monthly_revenue.recognized IS 'Revenue recognised in the month, net of discounts, excluding tax, after contra revenue from cash refunds.';
COMMENT ON COLUMN billing.monthly_revenue.billed IS 'Net lines (excluding tax) of invoices issued in the month, less credit notes issued in it.';
COMMENT ON COLUMN billing.monthly_revenue.deferred_end IS 'Deferred revenue at month end: billed to date less recognised to date less refund excesses, when positive.';
COMMENT ON COLUMN billing.monthly_revenue.unbilled_end IS 'Unbilled revenue at month end: recognised beyond what was billed, when positive.';
COMMENT ON COLUMN billing.monthly_revenue.refunds IS 'Contra revenue of cash refunds in the month (rule C2a), already taken off recognized.';
COMMENT ON COLUMN billing.monthly_revenue.reporting_currency IS 'The reporting_currency setting, when set.';
COMMENT ON COLUMN billing.monthly_revenue.recognized_reporting IS 'recognized converted at the rate of the month''s last day, when a reporting currency is set.';

CREATE VIEW billing.customer_mrr AS
SELECT m.customer_id, m.month, m.currency, m.mrr, m.mrr * 12 AS arr, m.reporting_currency, m.mrr_reporting,
       m.mrr_reporting * 12 AS arr_reporting
FROM billing._revenue_monthly m
WHERE m.month <= (SELECT billing._mrr_through()) AND billing._revenue_current();
COMMENT ON VIEW billing.customer_mrr IS 'MRR and ARR per customer, month and currency at the month-end snapshot (rules C3, C4, C5, C7), over the same months as billing.monthly_revenue through the setting mrr_through.';
COMMENT ON COLUMN billing.customer_mrr.customer_id IS 'The customer.';
COMMENT ON COLUMN billing.customer_mrr.month IS 'First day of the month; the snapshot is its last day.';
COMMENT ON COLUMN billing.customer_mrr.currency IS 'Currency of the lines.';
COMMENT ON COLUMN billing.customer_mrr.mrr IS 'Monthly recurring revenue: exact sum of the normalised lines, rounded once to cents; a negative sum shows 0.';
COMMENT ON COLUMN billing.customer_mrr.arr IS 'Annual recurring revenue, 12 x mrr.';
COMMENT ON COLUMN billing.customer_mrr.reporting_currency IS 'The reporting_currency setting, when set.';
COMMENT ON COLUMN billing.customer_mrr.mrr_reporting IS 'MRR in the reporting currency, each line converted at the rate of its service-period start (rule C8).';
COMMENT ON COLUMN billing.customer_mrr.arr_reporting IS '12 x mrr_reporting.';

CREATE VIEW billing.mrr_movements AS
SELECT m.customer_id, m.month, m.currency, m.movement, m.amount, m.reporting_amount
FROM billing._mrr_movements m
WHERE m.movement <> 'fx' AND m.month <= (SELECT billing._mrr_through()) AND billing._revenue_current()
UNION ALL
SELECT m.customer_id, m.month, r.value, m.movement, m.reporting_amount, m.reporting_amount
FROM billing._mrr_movements m CROSS JOIN billing.settings r
WHERE m.movement = 'fx' AND r.key = 'reporting_currency' AND m.month <= (SELECT billing._mrr_through())
  AND billing._revenue_current();
COMMENT ON VIEW billing.mrr_movements IS 'MRR movements per customer, month and currency (rule C6): new, expansion, contraction, churn, reactivation; with a reporting currency also fx, the conversion effect in that currency. Months through the setting mrr_through.';
COMMENT ON COLUMN billing.mrr_movements.customer_id IS 'The customer.';
COMMENT ON COLUMN billing.mrr_movements.month IS 'First day of the month whose end MRR is compared with the previous month end.';
COMMENT ON COLUMN billing.mrr_movements.currency IS 'Currency of the amount: the customer''s lines, or the reporting currency on fx rows.';
COMMENT ON COLUMN billing.mrr_movements.movement IS 'new, expansion, contraction, churn, reactivation or fx.';
COMMENT ON COLUMN billing.mrr_movements.amount IS 'Size of the movement, positive (the movement says the direction); on fx rows the signed conversion effect.';
COMMENT ON COLUMN billing.mrr_movements.reporting_amount IS 'The amount in the reporting currency, when one is set.';

CREATE VIEW billing.mrr_summary AS
WITH rep AS MATERIALIZED (SELECT NULLIF(billing._setting('reporting_currency'), '') AS currency,
                                 billing._mrr_through() AS through),
base AS (
    SELECT m.month, m.currency, m.mrr_prev AS mrr_start, m.mrr AS mrr_end, m.customer_id
      FROM billing._revenue_monthly m, rep WHERE rep.currency IS NULL AND m.month <= rep.through
    UNION ALL
    SELECT m.month, rep.currency, m.mrr_reporting_prev, m.mrr_reporting, m.customer_id
      FROM billing._revenue_monthly m, rep WHERE rep.currency IS NOT NULL AND m.month <= rep.through),
mv AS (
    SELECT m.month, coalesce(rep.currency, m.currency) AS currency,
           sum(coalesce(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END, 0))
               FILTER (WHERE m.movement = 'new') AS new,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'expansion') AS expansion,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'contraction') AS contraction,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'churn') AS churn,
           sum(CASE WHEN rep.currency IS NULL THEN m.amount ELSE m.reporting_amount END) FILTER (WHERE m.movement = 'reactivation') AS reactivation,
           sum(m.reporting_amount) FILTER (WHERE m.movement = 'fx') AS fx
      FROM billing._mrr_movements m, rep
     WHERE m.month <= rep.through
     GROUP BY 1, 2)
SELECT b.month, b.currency, sum(b.mrr_start) AS mrr_start, coalesce(max(mv.new), 0) AS new,
       coalesce(max(mv.expansion), 0) AS expansion, coalesce(max(mv.contraction), 0) AS contraction,
       coalesce(max(mv.churn), 0) AS churn, coalesce(max(mv.reactivation), 0) AS reactivation,
       coalesce(max(mv.fx), 0) AS fx, sum(b.mrr_end) AS mrr_end, count(DISTINCT b.customer_id) FILTER (WHERE b.mrr_end > 0) AS customers
FROM base b LEFT JOIN mv USING (month, currency)
WHERE billing._revenue_current()
GROUP BY b.month, b.currency;
COMMENT ON VIEW billing.mrr_summary IS 'MRR bridge per month and currency: mrr_end = mrr_start + new + expansion + reactivation - contraction - churn + fx. With a reporting currency set, one row per month in that currency. Months through the setting mrr_through.';
COMMENT ON COLUMN billing.mrr_summary.month IS 'First day of the month.';
COMMENT ON COLUMN billing.mrr_summary.currency IS 'Currency (the reporting currency when one is set).';
COMMENT ON COLUMN billing.mrr_summary.mrr_start IS 'Total MRR at the end of the previous month.';
COMMENT ON COLUMN billing.mrr_summary.new IS 'MRR of customers with their first MRR ever.';
COMMENT ON COLUMN billing.mrr_summary.expansion IS 'Increases of customers who already had MRR.';
COMMENT ON COLUMN billing.mrr_summary.contraction IS 'Decreases of customers who keep some MRR.';
COMMENT ON COLUMN billing.mrr_summary.churn IS 'MRR of customers who went to zero.';
COMMENT ON COLUMN billing.mrr_summary.reactivation IS 'MRR of customers who come back after having had MRR before.';
COMMENT ON COLUMN billing.mrr_summary.fx IS 'Conversion effect when a reporting currency is set (signed); 0 otherwise.';
COMMENT ON COLUMN billing.mrr_summary.mrr_end IS 'Total MRR at the end of the month.';
COMMENT ON COLUMN billing.mrr_summary.customers IS 'Customers with MRR above zero at the end of the month.';

-- The consolidated journal (domain.md section 3), assembled at read time from the stored monthly
-- figures and the cash documents. Every event balances on its own:
--   document issued, line by line     Dr accounts_receivable (gross)  Cr deferred_revenue (net), sales_tax_payable (tax)
--     (a negative line posts the same entry reversed)
--   month-end recognition             Dr deferred_revenue             Cr revenue
--   earned before billed (change)     Dr unbilled_receivables         Cr deferred_revenue (reversed when billed)
--   payment                           Dr cash                         Cr accounts_receivable
--   cash refund                       Dr accounts_receivable          Cr cash
--   rule C2a effect of a cash refund  Dr refunds (contra revenue), deferred_revenue (excess), sales_tax_payable (tax share)
--                                     Cr accounts_receivable
-- Sums are taken per customer month first (recognition nets within a customer's month), then per
-- month, source, account and currency.
CREATE VIEW billing.journal_entries AS
WITH rm AS (
    SELECT r.month, c.source_id, r.currency,
           sum(r.ar_debit) AS ar_debit, sum(r.ar_credit) AS ar_credit,
           sum(r.tax_debit) AS tax_debit, sum(r.tax_credit) AS tax_credit,
           sum(r.deferred_debit) AS def_debit, sum(r.deferred_credit) AS def_credit,
           sum(GREATEST(r.recognized + r.contra, 0)) AS rec_pos, sum(GREATEST(-(r.recognized + r.contra), 0)) AS rec_neg,
           sum(GREATEST(r.unbilled_change, 0)) AS unb_up, sum(GREATEST(-r.unbilled_change, 0)) AS unb_down
      FROM billing._revenue_monthly r JOIN billing.customers c ON c.id = r.customer_id
     GROUP BY 1, 2, 3),
ev AS (
    SELECT rm.month, rm.source_id, rm.currency, a.account, a.debit, a.credit
      FROM rm CROSS JOIN LATERAL (VALUES
          ('accounts_receivable', rm.ar_debit, rm.ar_credit),
          ('sales_tax_payable', rm.tax_debit, rm.tax_credit),
          ('deferred_revenue', rm.def_debit + rm.rec_pos + rm.unb_down, rm.def_credit + rm.rec_neg + rm.unb_up),
          ('revenue', rm.rec_neg, rm.rec_pos),
          ('unbilled_receivables', rm.unb_up, rm.unb_down)) a(account, debit, credit)
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
SELECT ev.month, coalesce(ms.remote_code, mg.remote_code, ev.account) AS account, ev.currency,
       sum(ev.debit) AS debit, sum(ev.credit) AS credit,
       pg_catalog.string_agg(DISTINCT ev.account, ',') AS account_role
FROM ev
LEFT JOIN billing.accounting_maps ms ON ms.map_kind = 'account' AND ms.source_id = ev.source_id AND ms.local_key = ev.account
LEFT JOIN billing.accounting_maps mg ON mg.map_kind = 'account' AND mg.source_id IS NULL AND mg.local_key = ev.account
WHERE billing._revenue_current()
GROUP BY ev.month, coalesce(ms.remote_code, mg.remote_code, ev.account), ev.currency
HAVING sum(ev.debit) <> 0 OR sum(ev.credit) <> 0;
COMMENT ON VIEW billing.journal_entries IS 'Consolidated GL journal per month, account and currency (domain.md section 3); debits equal credits in every month and currency.';
COMMENT ON COLUMN billing.journal_entries.month IS 'First day of the month.';
COMMENT ON COLUMN billing.journal_entries.account IS 'The user''s account code from billing.accounting_maps (map_kind account, by source then global), else pg_billing''s role name.';
COMMENT ON COLUMN billing.journal_entries.currency IS 'Currency.';
COMMENT ON COLUMN billing.journal_entries.debit IS 'Total debits.';
COMMENT ON COLUMN billing.journal_entries.credit IS 'Total credits.';
COMMENT ON COLUMN billing.journal_entries.account_role IS 'pg_billing''s account role(s) behind the account: accounts_receivable, cash, deferred_revenue, revenue, refunds, sales_tax_payable, unbilled_receivables (comma-separated when several map to one code).';

-- Privileges -------------------------------------------------------------------------------------

REVOKE ALL ON billing._revenue_invoice_lines, billing._revenue_credit_lines, billing._revenue_lines, billing._revenue_schedule, billing._mrr_lines, billing._revenue_dirty,
              billing._revenue_pending, billing._revenue_work, billing._revenue_monthly, billing._refund_effects,
              billing._mrr_movements,
              billing.monthly_revenue, billing.customer_mrr, billing.mrr_movements, billing.mrr_summary,
              billing.journal_entries FROM PUBLIC;
REVOKE ALL ON FUNCTION billing._fx_rate(text, text, date), billing._invoice_refund_effects(bigint),
              billing._refund_has_period_lines(bigint), billing._revenue_compute_refunds(bigint),
              billing._revenue_compute_monthly(bigint),
              billing._revenue_compute_movements(bigint),
              billing.refresh_revenue(boolean), billing._revenue_arm(), billing._revenue_queue(bigint[]),
              billing._revenue_capture(), billing._revenue_capture_all(), billing._revenue_capture_fx(),
              billing._revenue_capture_settings(), billing._mrr_through(),
              billing._revenue_at_commit(), billing._revenue_queue_all(),
              billing._revenue_current(), billing._revenue_engine(bigint, boolean, integer),
              billing._revenue_compute_fast(bigint) FROM PUBLIC;
GRANT SELECT ON billing.monthly_revenue, billing.customer_mrr, billing.mrr_movements, billing.mrr_summary,
                billing.journal_entries
      TO billing_reader, billing_admin;
GRANT EXECUTE ON FUNCTION billing._revenue_current(), billing._mrr_through() TO billing_reader, billing_admin;
GRANT SELECT ON billing._revenue_pending TO billing_reader;
-- loaders fire the capture triggers, which queue the customers they touched
GRANT SELECT, INSERT, DELETE ON billing._revenue_dirty, billing._revenue_pending TO billing_admin;
GRANT SELECT ON billing._revenue_monthly TO billing_admin;
GRANT EXECUTE ON FUNCTION billing.refresh_revenue(boolean), billing._revenue_capture(), billing._revenue_capture_all(),
                          billing._revenue_capture_fx(), billing._revenue_capture_settings(),
                          billing._revenue_queue(bigint[]), billing._revenue_queue_all(), billing._revenue_arm(),
                          billing._revenue_at_commit()
      TO billing_admin;
