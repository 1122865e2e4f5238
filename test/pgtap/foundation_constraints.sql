-- Every table's keys and rules hold, with the SQLSTATE and message a user sees.
SET client_min_messages = warning;
SELECT plan(115);

INSERT INTO billing.sources (id, name, kind) VALUES (1, 'book', 'manual'), (2, 'other', 'manual');
INSERT INTO billing.customers (id, source_id, external_id, name, currency) VALUES (1, 1, 'c1', 'Acme', 'USD');

-- sources
SELECT throws_ok($$INSERT INTO billing.sources (name, kind) VALUES ('book', 'manual')$$, '23505', NULL, 'source names are unique');
SELECT throws_like($$INSERT INTO billing.sources (name, kind, base_url) VALUES ('x', 'stripe', 'https://api.stripe.com')$$, '%sources_kind_known%', 'unknown source kinds are refused');
SELECT throws_like($$INSERT INTO billing.sources (name, kind) VALUES ('x', 'advanced_billing')$$, '%sources_base_url_needed%', 'a connector source needs a base URL');
SELECT throws_like($$INSERT INTO billing.sources (name, kind, base_url) VALUES ('x', 'pax8', 'ftp://api.pax8.com')$$, '%sources_base_url_https%', 'base URLs are http(s) URLs');
SELECT throws_like($$INSERT INTO billing.sources (name, kind, schedule) VALUES ('x', 'manual', '10 seconds')$$, '%sources_schedule_positive%', 'schedules are at least a minute');
SELECT throws_like($$INSERT INTO billing.sources (name, kind, options) VALUES ('x', 'manual', '[1]')$$, '%sources_options_object%', 'options are a JSON object');
SELECT throws_like($$INSERT INTO billing.sources (name, kind) VALUES ('  ', 'manual')$$, '%sources_name_not_blank%', 'source names are not blank');

-- sync runs and alerts
SELECT throws_like($$INSERT INTO billing.sync_runs (source_id, status) VALUES (1, 'done')$$, '%sync_runs_status_known%', 'run statuses are the known ones');
SELECT throws_like($$INSERT INTO billing.sync_runs (source_id, started_at, finished_at) VALUES (1, now(), now() - interval '1 hour')$$, '%sync_runs_finished_after_start%', 'a run does not finish before it starts');
SELECT throws_like($$INSERT INTO billing.sync_runs (source_id, pages) VALUES (1, -1)$$, '%sync_runs_counts_non_negative%', 'run counts are not negative');
INSERT INTO billing.alerts (severity, kind, source_id, subject, message) VALUES ('warning', 'source_stale', 1, NULL, 'stale');
SELECT throws_ok($$INSERT INTO billing.alerts (severity, kind, source_id, subject, message) VALUES ('error', 'source_stale', 1, NULL, 'again')$$, '23505', NULL, 'one open alert per kind, source and subject');
SELECT lives_ok($$UPDATE billing.alerts SET resolved_at = now(); INSERT INTO billing.alerts (severity, kind, source_id, message) VALUES ('error', 'source_stale', 1, 'again')$$, 'a resolved alert can be raised again');
SELECT throws_like($$INSERT INTO billing.alerts (severity, kind, message) VALUES ('panic', 'x', 'y')$$, '%alerts_severity_known%', 'alert severities are the known ones');

-- customers, products, contracts, subscriptions
SELECT throws_ok($$INSERT INTO billing.customers (source_id, external_id) VALUES (1, 'c1')$$, '23505', NULL, 'customers: (source_id, external_id) is unique');
SELECT lives_ok($$INSERT INTO billing.customers (source_id, external_id) VALUES (2, 'c1')$$, 'the same external id may exist in another source');
SELECT throws_like($$INSERT INTO billing.customers (source_id, external_id, currency) VALUES (1, 'c2', 'usd')$$, '%customers_currency_iso%', 'currencies are ISO 4217 codes');
SELECT throws_like($$INSERT INTO billing.customers (source_id, external_id) VALUES (1, '')$$, '%customers_external_id_not_blank%', 'external ids are not empty');
SELECT throws_ok($$INSERT INTO billing.customers (source_id, external_id) VALUES (99, 'c3')$$, '23503', NULL, 'customers belong to an existing source');
SELECT throws_like($$INSERT INTO billing.products (source_id, external_id, interval_months) VALUES (1, 'p1', 0)$$, '%products_interval_positive%', 'product intervals are positive');
SELECT throws_like($$INSERT INTO billing.contracts (source_id, external_id, customer_id, start_date, end_date) VALUES (1, 'k1', 1, '2026-02-01', '2026-01-01')$$, '%contracts_end_after_start%', 'contracts do not end before they start');
SELECT throws_like($$INSERT INTO billing.subscriptions (source_id, external_id, customer_id, quantity) VALUES (1, 's1', 1, -1)$$, '%subscriptions_quantity_non_negative%', 'quantities are not negative');
SELECT throws_like($$INSERT INTO billing.subscriptions (source_id, external_id, customer_id, current_period_start, current_period_end) VALUES (1, 's1', 1, '2026-02-01', '2026-01-01')$$, '%subscriptions_period_order%', 'subscription periods do not end before they start');
SELECT throws_ok($$INSERT INTO billing.subscriptions (source_id, external_id, customer_id) VALUES (1, 's1', 42)$$, '23503', NULL, 'subscriptions belong to an existing customer');
INSERT INTO billing.subscriptions (source_id, external_id, customer_id) VALUES (1, 's1', 1);
SELECT throws_ok($$DELETE FROM billing.customers WHERE id = 1$$, '23503', NULL, 'a customer cannot be deleted from under its subscriptions');

-- invoices and lines
INSERT INTO billing.invoices (id, source_id, external_id, customer_id, issue_date, currency, subtotal, total)
VALUES (1, 1, 'i1', 1, '2026-01-01', 'USD', 100, 100);
SELECT throws_ok($$INSERT INTO billing.invoices (source_id, external_id, customer_id, issue_date, currency) VALUES (1, 'i1', 1, '2026-01-01', 'USD')$$, '23505', NULL, 'invoices: (source_id, external_id) is unique');
SELECT throws_like($$INSERT INTO billing.invoices (source_id, external_id, customer_id, issue_date, currency, status) VALUES (1, 'i2', 1, '2026-01-01', 'USD', 'sent')$$, '%invoices_status_known%', 'invoice statuses are the known ones');
SELECT throws_like($$INSERT INTO billing.invoices (source_id, external_id, customer_id, issue_date, due_date, currency) VALUES (1, 'i2', 1, '2026-01-10', '2026-01-01', 'USD')$$, '%invoices_due_after_issue%', 'an invoice is not due before it is issued');
SELECT throws_ok($$INSERT INTO billing.invoices (source_id, external_id, customer_id, currency) VALUES (1, 'i2', 1, 'USD')$$, '23502', NULL, 'invoices have an issue date');
INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, discount, tax, total, period_start, period_end)
VALUES (1, 'l1', 'plan', 100, 20, 8, 88, '2026-01-01', '2026-02-01');
SELECT is((SELECT (currency, amount)::text FROM billing.invoice_lines WHERE external_id = 'l1'), '(USD,80)', 'a line takes its invoice''s currency and its amount is net of discount');
SELECT throws_like($$INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, total, period_start, period_end, currency) VALUES (1, 'l2', 'plan', 1, 1, '2026-01-01', '2026-02-01', 'EUR')$$, '%invoice_lines_currency_matches_invoice%', 'a line is in its invoice''s currency');
SELECT throws_like($$INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, total, period_start, period_end) VALUES (1, 'l2', 'plan', 1, 1, '2026-02-01', '2026-01-01')$$, '%invoice_lines_period_order%', 'a line''s period does not end before it starts');
SELECT throws_like($$INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, total, period_start, period_end) VALUES (1, 'l2', 'fee', 1, 1, '2026-01-01', '2026-01-01')$$, '%invoice_lines_kind_known%', 'line kinds are the known ones');
SELECT throws_like($$INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, total, period_start, period_end, recurring) VALUES (1, 'l2', 'plan', 1, 1, '2026-01-01', '2026-02-01', true)$$, '%invoice_lines_recurring_has_interval%', 'a recurring line has an interval');
SELECT throws_ok($$INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, total, period_start, period_end) VALUES (1, 'l1', 'plan', 1, 1, '2026-01-01', '2026-01-01')$$, '23505', NULL, 'line external ids are unique within their invoice');
SELECT throws_ok($$INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, total, period_start, period_end, currency) VALUES (77, 'l9', 'plan', 1, 1, '2026-01-01', '2026-01-01', 'USD')$$, '23503', NULL, 'lines belong to an existing invoice');

-- credit notes, allocations, payments, refunds
INSERT INTO billing.credit_notes (id, source_id, external_id, customer_id, issue_date, currency, total) VALUES (1, 1, 'cn1', 1, '2026-01-15', 'USD', 10);
SELECT throws_like($$INSERT INTO billing.credit_notes (source_id, external_id, customer_id, issue_date, currency, status) VALUES (1, 'cn2', 1, '2026-01-15', 'USD', 'paid')$$, '%credit_notes_status_known%', 'credit note statuses are the known ones');
SELECT throws_like($$INSERT INTO billing.credit_note_lines (credit_note_id, external_id, subtotal, total, period_start) VALUES (1, 'x', 10, 10, '2026-01-15')$$, '%credit_note_lines_period_both_or_none%', 'a credit note line has both period ends or neither');
SELECT throws_like($$INSERT INTO billing.credit_note_allocations (source_id, external_id, credit_note_id, invoice_id, customer_id, amount, currency, allocated_on) VALUES (1, 'a1', 1, 1, 1, 0, 'USD', '2026-01-15')$$, '%credit_note_allocations_amount_positive%', 'allocations are positive');
SELECT throws_like($$INSERT INTO billing.refunds (source_id, external_id, customer_id, amount, currency, refund_date) VALUES (1, 'r1', 1, -5, 'USD', '2026-01-20')$$, '%refunds_amount_positive%', 'refunds are positive amounts');
SELECT throws_ok($$INSERT INTO billing.payments (source_id, external_id, customer_id, amount, currency) VALUES (1, 'p1', 1, 5, 'USD')$$, '23502', NULL, 'payments have a date');

-- settings, rates, maps, outbox
SELECT throws_like($$INSERT INTO billing.fx_rates VALUES ('EUR', 'USD', '2026-01-01', 0)$$, '%fx_rates_rate_positive%', 'exchange rates are positive');
SELECT throws_like($$INSERT INTO billing.accounting_maps (map_kind, local_key, remote_code) VALUES ('ledger', 'x', '200')$$, '%accounting_maps_kind_known%', 'accounting map kinds are the known ones');
SELECT throws_ok($$INSERT INTO billing.accounting_maps (map_kind, local_key, remote_code) VALUES ('account', 'revenue', '200'), ('account', 'revenue', '201')$$, '23505', NULL, 'one mapping per key, also for all sources (source_id null)');
SELECT throws_like($$INSERT INTO billing.outbox (target_source_id, doc_kind, local_table, local_id, natural_key, idempotency_key, payload, state) VALUES (1, 'invoice', 'statements', 1, 'S1', 'k1', '{}', 'confirmed')$$, '%outbox_confirmed_has_remote%', 'a confirmed outbox row has a remote id');

-- statements
SELECT throws_like($$INSERT INTO billing.statements (source_id, external_id, customer_id, currency, opened_at, closed_at) VALUES (1, 'st1', 1, 'USD', '2026-02-01', '2026-01-01')$$, '%statements_closed_after_opened%', 'a statement does not close before it opens');
SELECT throws_ok($$INSERT INTO billing.statements (source_id, external_id, customer_id) VALUES (1, 'st1', 1)$$, '23502', NULL, 'statements have a currency');

-- credentials and checkpoints
SELECT throws_like($$INSERT INTO billing._credentials (source_id, secret) VALUES (2, '"key"')$$, '%credentials_secret_object%', 'credentials are a JSON object');
SELECT throws_ok($$INSERT INTO billing._sync_state (source_id, entity) VALUES (1, 'invoices'), (1, 'invoices')$$, '23505', NULL, 'one checkpoint per source and entity');

-- reconciliation mappings and exclusions
INSERT INTO billing.customers (id, source_id, external_id, name) VALUES (10, 1, 'vendor-co', 'Vendor Co'), (11, 2, 'psa-co', 'PSA Co');
SELECT throws_like($$INSERT INTO billing.company_map (vendor_company_id, psa_company_id) VALUES (10, 10)$$, '%company_map_distinct%', 'a company does not map to itself');
SELECT throws_ok($$INSERT INTO billing.company_map (vendor_company_id, psa_company_id) VALUES (10, 11), (10, 1)$$, '23505', NULL, 'a vendor company maps to one PSA company');
SELECT throws_like($$INSERT INTO billing.company_map (vendor_company_id, psa_company_id, method) VALUES (10, 11, 'guess')$$, '%company_map_method_known%', 'mapping methods are the known ones');
SELECT throws_ok($$INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product) VALUES (1, 'SKU1', 2, 'M365'), (1, 'SKU1', 2, 'M365')$$, '23505', NULL, 'a product mapping is not repeated');
SELECT lives_ok($$INSERT INTO billing.product_map (vendor_source_id, vendor_sku, psa_source_id, psa_product) VALUES (1, 'SKU1', 2, 'M365'), (1, 'SKU1', 2, 'M365-support')$$, 'a vendor product may map to several PSA products');
SELECT throws_like($$INSERT INTO billing.exclusions (source_id, kind, key) VALUES (1, 'invoice', 'x')$$, '%exclusions_kind_known%', 'exclusions are of companies or products');

-- outbox and push runs
INSERT INTO billing.outbox (target_source_id, doc_kind, local_table, local_id, natural_key, idempotency_key, payload)
VALUES (1, 'invoice', 'statements', 1, 'S1', 'pg_billing:1:statement:1', '{}');
SELECT throws_ok($$INSERT INTO billing.outbox (target_source_id, doc_kind, local_table, local_id, natural_key, idempotency_key, payload) VALUES (1, 'invoice', 'statements', 2, 'S1', 'other-key', '{}')$$, '23505', NULL, 'one outbox document per target, kind and natural key');
SELECT throws_ok($$INSERT INTO billing.outbox (target_source_id, doc_kind, local_table, local_id, natural_key, idempotency_key, payload) VALUES (1, 'invoice', 'statements', 2, 'S2', 'pg_billing:1:statement:1', '{}')$$, '23505', NULL, 'idempotency keys are unique');
SELECT throws_like($$INSERT INTO billing.outbox (target_source_id, doc_kind, local_table, local_id, natural_key, idempotency_key, payload) VALUES (1, 'invoice', 'statements', 3, 'S3', repeat('k', 129), '{}')$$, '%outbox_idempotency_key_length%', 'idempotency keys fit Xero''s 128 characters');
SELECT throws_like($$INSERT INTO billing.push_runs (target_source_id, status) VALUES (1, 'queued')$$, '%push_runs_status_known%', 'push run statuses are the known ones');

-- settings are checked however they are written
SELECT throws_ok($$SELECT billing.set_setting('recognition', 'weekly')$$, '22023', 'invalid value for setting "recognition": "weekly"', 'a setting takes only its values');
SELECT throws_ok($$SELECT billing.set_setting('reporting_timezone', 'Mars/Olympus')$$, '22023', NULL, 'the reporting time zone must be a known one');
SELECT throws_ok($$SELECT billing.set_setting('colour', 'blue')$$, '42704', 'unknown setting "colour"', 'unknown settings are refused');
SELECT throws_ok($$INSERT INTO billing._setting_values (key, value) VALUES ('past_due_days', '-3')$$, '22023', NULL, 'a direct write to the settings is checked too');
SELECT is(billing.set_setting('past_due_days', '45'), '30', 'set_setting returns the previous value');
SELECT is((SELECT value FROM billing.settings WHERE key = 'past_due_days'), '45', 'and the new value is in force');

-- Every rule by name, table-driven: each statement breaks exactly one rule, and the test asserts the
-- SQLSTATE and PostgreSQL's exact message, which names the constraint.
INSERT INTO billing.products (id, source_id, external_id) VALUES (100, 1, 'p1');
INSERT INTO billing.contracts (id, source_id, external_id, customer_id) VALUES (100, 1, 'k1', 1);
INSERT INTO billing.statements (id, source_id, external_id, customer_id, currency) VALUES (100, 1, 'st1', 1, 'USD');
INSERT INTO billing.payments (id, source_id, external_id, customer_id, amount, currency, payment_date) VALUES (100, 1, 'pay1', 1, 10, 'USD', '2026-01-20');
INSERT INTO billing.refunds (id, source_id, external_id, customer_id, amount, currency, refund_date) VALUES (100, 1, 'r1', 1, 5, 'USD', '2026-01-21');
INSERT INTO billing.credit_note_allocations (id, source_id, external_id, credit_note_id, invoice_id, customer_id, amount, currency, allocated_on)
VALUES (100, 1, 'a1', 1, 1, 1, 5, 'USD', '2026-01-15');
CREATE TEMP TABLE rules (n int GENERATED ALWAYS AS IDENTITY, rule text, sqlstate text, tbl text, stmt text);
INSERT INTO rules (rule, sqlstate, tbl, stmt) VALUES
-- (source_id, external_id) is unique on every provider record
('products_source_external_unique', '23505', 'products', $$INSERT INTO billing.products (source_id, external_id) VALUES (1, 'p1')$$),
('contracts_source_external_unique', '23505', 'contracts', $$INSERT INTO billing.contracts (source_id, external_id, customer_id) VALUES (1, 'k1', 1)$$),
('subscriptions_source_external_unique', '23505', 'subscriptions', $$INSERT INTO billing.subscriptions (source_id, external_id, customer_id) VALUES (1, 's1', 1)$$),
('statements_source_external_unique', '23505', 'statements', $$INSERT INTO billing.statements (source_id, external_id, customer_id, currency) VALUES (1, 'st1', 1, 'USD')$$),
('credit_notes_source_external_unique', '23505', 'credit_notes', $$INSERT INTO billing.credit_notes (source_id, external_id, customer_id, issue_date, currency) VALUES (1, 'cn1', 1, '2026-01-15', 'USD')$$),
('payments_source_external_unique', '23505', 'payments', $$INSERT INTO billing.payments (source_id, external_id, customer_id, amount, currency, payment_date) VALUES (1, 'pay1', 1, 1, 'USD', '2026-01-20')$$),
('refunds_source_external_unique', '23505', 'refunds', $$INSERT INTO billing.refunds (source_id, external_id, customer_id, amount, currency, refund_date) VALUES (1, 'r1', 1, 1, 'USD', '2026-01-21')$$),
('credit_note_allocations_source_external_unique', '23505', 'credit_note_allocations', $$INSERT INTO billing.credit_note_allocations (source_id, external_id, credit_note_id, invoice_id, customer_id, amount, currency, allocated_on) VALUES (1, 'a1', 1, 1, 1, 1, 'USD', '2026-01-15')$$),
-- currencies are ISO 4217 codes in every table that has one
('customers_currency_iso', '23514', 'customers', $$INSERT INTO billing.customers (source_id, external_id, currency) VALUES (1, 'cx', 'usd')$$),
('products_currency_iso', '23514', 'products', $$INSERT INTO billing.products (source_id, external_id, currency) VALUES (1, 'px', 'US')$$),
('contracts_currency_iso', '23514', 'contracts', $$INSERT INTO billing.contracts (source_id, external_id, customer_id, currency) VALUES (1, 'kx', 1, 'usd')$$),
('subscriptions_currency_iso', '23514', 'subscriptions', $$INSERT INTO billing.subscriptions (source_id, external_id, customer_id, currency) VALUES (1, 'sx', 1, 'USDX')$$),
('statements_currency_iso', '23514', 'statements', $$INSERT INTO billing.statements (source_id, external_id, customer_id, currency) VALUES (1, 'stx', 1, 'usd')$$),
('invoices_currency_iso', '23514', 'invoices', $$INSERT INTO billing.invoices (source_id, external_id, customer_id, issue_date, currency) VALUES (1, 'ix', 1, '2026-01-01', 'usd')$$),
('invoice_lines_currency_iso', '23514', 'invoice_lines', $$INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, total, period_start, period_end, currency) VALUES (1, 'lx', 'plan', 1, 1, '2026-01-01', '2026-02-01', 'usd')$$),
('credit_notes_currency_iso', '23514', 'credit_notes', $$INSERT INTO billing.credit_notes (source_id, external_id, customer_id, issue_date, currency) VALUES (1, 'cnx', 1, '2026-01-15', '€')$$),
('credit_note_lines_currency_iso', '23514', 'credit_note_lines', $$INSERT INTO billing.credit_note_lines (credit_note_id, external_id, subtotal, total, currency) VALUES (1, 'x', 10, 10, 'usd')$$),
('credit_note_allocations_currency_iso', '23514', 'credit_note_allocations', $$INSERT INTO billing.credit_note_allocations (source_id, external_id, credit_note_id, invoice_id, customer_id, amount, currency, allocated_on) VALUES (1, 'ax', 1, 1, 1, 5, 'usd', '2026-01-15')$$),
('payments_currency_iso', '23514', 'payments', $$INSERT INTO billing.payments (source_id, external_id, customer_id, amount, currency, payment_date) VALUES (1, 'px', 1, 5, 'usd', '2026-01-20')$$),
('refunds_currency_iso', '23514', 'refunds', $$INSERT INTO billing.refunds (source_id, external_id, customer_id, amount, currency, refund_date) VALUES (1, 'rx', 1, 5, 'usd', '2026-01-20')$$),
('source_transactions_currency_iso', '23514', 'source_transactions', $$INSERT INTO billing.source_transactions (source_id, external_id, customer_id, entry_type, total, currency, entry_date) VALUES (1, 'tx', 1, 'debit', 5, 'usd', '2026-01-20')$$),
('fx_rates_currencies_iso', '23514', 'fx_rates', $$INSERT INTO billing.fx_rates VALUES ('eur', 'USD', '2026-01-01', 1.1)$$),
-- periods, intervals, kinds and states
('fx_rates_distinct_currencies', '23514', 'fx_rates', $$INSERT INTO billing.fx_rates VALUES ('USD', 'USD', '2026-01-01', 1)$$),
('credit_note_lines_currency_matches_note', '23503', 'credit_note_lines', $$INSERT INTO billing.credit_note_lines (credit_note_id, external_id, subtotal, total, currency) VALUES (1, 'x', 10, 10, 'EUR')$$),
('credit_note_lines_kind_known', '23514', 'credit_note_lines', $$INSERT INTO billing.credit_note_lines (credit_note_id, external_id, kind, subtotal, total) VALUES (1, 'x', 'refund', 10, 10)$$),
('credit_note_lines_period_order', '23514', 'credit_note_lines', $$INSERT INTO billing.credit_note_lines (credit_note_id, external_id, subtotal, total, period_start, period_end) VALUES (1, 'x', 10, 10, '2026-02-01', '2026-01-01')$$),
('credit_note_lines_interval_positive', '23514', 'credit_note_lines', $$INSERT INTO billing.credit_note_lines (credit_note_id, external_id, subtotal, total, interval_months) VALUES (1, 'x', 10, 10, 0)$$),
('invoices_period_order', '23514', 'invoices', $$INSERT INTO billing.invoices (source_id, external_id, customer_id, issue_date, currency, period_start, period_end) VALUES (1, 'ix', 1, '2026-01-01', 'USD', '2026-02-01', '2026-01-01')$$),
('subscriptions_interval_positive', '23514', 'subscriptions', $$INSERT INTO billing.subscriptions (source_id, external_id, customer_id, interval_months) VALUES (1, 'sx', 1, 0)$$),
('invoice_lines_interval_positive', '23514', 'invoice_lines', $$INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, total, period_start, period_end, recurring, interval_months) VALUES (1, 'lx', 'plan', 1, 1, '2026-01-01', '2026-02-01', true, -1)$$),
('outbox_state_known', '23514', 'outbox', $$INSERT INTO billing.outbox (target_source_id, doc_kind, local_table, local_id, natural_key, idempotency_key, payload, state) VALUES (1, 'invoice', 'statements', 9, 'S9', 'k9', '{}', 'sent')$$),
('outbox_doc_kind_known', '23514', 'outbox', $$INSERT INTO billing.outbox (target_source_id, doc_kind, local_table, local_id, natural_key, idempotency_key, payload) VALUES (1, 'quote', 'statements', 9, 'S9', 'k9', '{}')$$),
('outbox_attempts_non_negative', '23514', 'outbox', $$INSERT INTO billing.outbox (target_source_id, doc_kind, local_table, local_id, natural_key, idempotency_key, payload, attempts) VALUES (1, 'invoice', 'statements', 9, 'S9', 'k9', '{}', -1)$$),
('accounting_maps_remote_not_blank', '23514', 'accounting_maps', $$INSERT INTO billing.accounting_maps (map_kind, local_key, remote_code) VALUES ('tax_rate', 'VAT 20%', '  ')$$),
('alerts_resolved_after_raised', '23514', 'alerts', $$INSERT INTO billing.alerts (severity, kind, message, raised_at, resolved_at) VALUES ('info', 'x', 'y', '2026-01-02', '2026-01-01')$$),
('sync_runs_trigger_known', '23514', 'sync_runs', $$INSERT INTO billing.sync_runs (source_id, trigger) VALUES (1, 'cron')$$),
-- 0.2.0 columns: customer status, direction, tax codes, allocations from one source
('customers_status_not_blank', '23514', 'customers', $$INSERT INTO billing.customers (source_id, external_id, status) VALUES (1, 'cx', '')$$),
('invoices_direction_known', '23514', 'invoices', $$INSERT INTO billing.invoices (source_id, external_id, customer_id, issue_date, currency, direction) VALUES (1, 'ix', 1, '2026-01-01', 'USD', 'ACCREC')$$),
('credit_notes_direction_known', '23514', 'credit_notes', $$INSERT INTO billing.credit_notes (source_id, external_id, customer_id, issue_date, currency, direction) VALUES (1, 'cnx', 1, '2026-01-15', 'USD', 'ACCPAYCREDIT')$$),
('invoice_lines_tax_code_not_blank', '23514', 'invoice_lines', $$INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, total, period_start, period_end, tax_code) VALUES (1, 'lx', 'plan', 1, 1, '2026-01-01', '2026-02-01', ' ')$$),
('credit_note_lines_tax_code_not_blank', '23514', 'credit_note_lines', $$INSERT INTO billing.credit_note_lines (credit_note_id, external_id, subtotal, total, tax_code) VALUES (1, 'x', 10, 10, '')$$),
('credit_note_allocations_one_source', '23514', 'credit_note_allocations', $$INSERT INTO billing.credit_note_allocations (source_id, external_id, invoice_id, customer_id, amount, currency, allocated_on) VALUES (1, 'ax', 1, 1, 5, 'USD', '2026-01-15')$$),
('credit_note_allocations_one_source', '23514', 'credit_note_allocations', $$INSERT INTO billing.credit_note_allocations (source_id, external_id, credit_note_id, payment_id, invoice_id, customer_id, amount, currency, allocated_on) VALUES (1, 'ax', 1, 100, 1, 1, 5, 'USD', '2026-01-15')$$),
('invoice_lines_subscription_id_fkey', '23503', 'invoice_lines', $$INSERT INTO billing.invoice_lines (invoice_id, external_id, kind, subtotal, total, period_start, period_end, subscription_id) VALUES (1, 'lx', 'plan', 1, 1, '2026-01-01', '2026-02-01', 4242)$$),
('payments_credit_note_id_fkey', '23503', 'payments', $$INSERT INTO billing.payments (source_id, external_id, customer_id, amount, currency, payment_date, credit_note_id) VALUES (1, 'px', 1, 5, 'USD', '2026-01-20', 4242)$$),
('credit_note_allocations_payment_id_fkey', '23503', 'credit_note_allocations', $$INSERT INTO billing.credit_note_allocations (source_id, external_id, payment_id, invoice_id, customer_id, amount, currency, allocated_on) VALUES (1, 'ax', 4242, 1, 1, 5, 'USD', '2026-01-15')$$);

SELECT throws_ok(stmt, sqlstate,
                 CASE sqlstate
                     WHEN '23514' THEN format('new row for relation "%s" violates check constraint "%s"', tbl, rule)
                     WHEN '23505' THEN format('duplicate key value violates unique constraint "%s"', rule)
                     WHEN '23503' THEN format('insert or update on table "%s" violates foreign key constraint "%s"', tbl, rule)
                 END,
                 'rule ' || rule || ' (' || sqlstate || ')')
FROM rules ORDER BY n;

SELECT is((SELECT string_agg(c.relname, ', ' ORDER BY c.relname)
           FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'currency'
           WHERE c.relnamespace = 'billing'::regnamespace AND c.relkind = 'r' AND c.relname NOT LIKE '\_%'
             AND NOT EXISTS (SELECT 1 FROM rules r WHERE r.rule = c.relname || '_currency_iso')),
          NULL, 'every public table with a currency column has a currency ISO rule, broken above');

-- what the 0.2.0 columns take
SELECT lives_ok($$INSERT INTO billing.credit_note_allocations (source_id, external_id, payment_id, invoice_id, customer_id, amount, currency, allocated_on) VALUES (1, 'a2', 100, 1, 1, 5, 'USD', '2026-01-22')$$,
                'an allocation may come from a prepayment or overpayment instead of a credit note');
SELECT is((SELECT amount FROM billing.credit_notes WHERE id = 1), 10::numeric, 'a credit note''s amount is its total');
SELECT throws_ok($$UPDATE billing.credit_notes SET amount = 5 WHERE id = 1$$, '428C9', 'column "amount" can only be updated to DEFAULT',
                 'and cannot be set apart from it');

-- every foreign key has an index that finds the referencing rows: its leading columns are the key's
-- columns, or those of them that alone reference a unique key (invoice_id of (invoice_id, currency))
SELECT is((SELECT string_agg(fk.conrelid::regclass || '.' || fk.conname, ', ' ORDER BY 1)
           FROM pg_constraint fk
           WHERE fk.contype = 'f' AND fk.connamespace = 'billing'::regnamespace
             AND NOT EXISTS (
                 SELECT 1 FROM pg_index i, generate_series(1, i.indnkeyatts) AS k
                 WHERE i.indrelid = fk.conrelid
                   AND (i.indkey::int2[])[0:k - 1] <@ fk.conkey
                   AND (fk.conkey <@ (i.indkey::int2[])[0:k - 1]
                        OR EXISTS (SELECT 1 FROM pg_index u
                                   WHERE u.indrelid = fk.confrelid AND u.indisunique AND u.indpred IS NULL
                                     AND (u.indkey::int2[])[0:u.indnkeyatts - 1] <@ ARRAY(
                                         SELECT fk.confkey[p] FROM generate_subscripts(fk.conkey, 1) AS p
                                         WHERE fk.conkey[p] = ANY ((i.indkey::int2[])[0:k - 1])))))),
          NULL, 'every foreign key in billing has an index leading with its columns');

SELECT * FROM finish();
