-- Privileges: nothing to PUBLIC; readers see data and runs, never credentials; admins manage.

REVOKE ALL ON ALL TABLES IN SCHEMA billing FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA billing FROM PUBLIC;

GRANT SELECT ON billing.sources, billing.sync_runs, billing.alerts,
                billing.customers, billing.products, billing.contracts, billing.subscriptions,
                billing.statements, billing.invoices, billing.invoice_lines,
                billing.credit_notes, billing.credit_note_lines, billing.credit_note_allocations,
                billing.payments, billing.refunds,
                billing.settings, billing.fx_rates, billing.accounting_maps,
                billing.company_map, billing.product_map, billing.exclusions,
                billing.outbox, billing.push_runs,
                billing.manual_customers, billing.manual_subscriptions, billing.manual_invoices,
                billing.manual_invoice_lines, billing.manual_payments, billing.manual_refunds
      TO billing_reader, billing_admin;

-- Admins load manual data, fix mappings and settings, and manage sources.
GRANT INSERT, UPDATE, DELETE ON billing.sources, billing.alerts,
                billing.customers, billing.products, billing.contracts, billing.subscriptions,
                billing.statements, billing.invoices, billing.invoice_lines,
                billing.credit_notes, billing.credit_note_lines, billing.credit_note_allocations,
                billing.payments, billing.refunds,
                billing.fx_rates, billing.accounting_maps,
                billing.company_map, billing.product_map, billing.exclusions
      TO billing_admin;
GRANT INSERT ON billing.manual_customers, billing.manual_subscriptions, billing.manual_invoices,
                billing.manual_invoice_lines, billing.manual_payments, billing.manual_refunds
      TO billing_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON billing._credentials, billing._setting_values TO billing_admin;
GRANT SELECT ON billing._setting_defaults TO billing_reader, billing_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON billing._sync_seen, billing._sync_state TO billing_admin;

GRANT EXECUTE ON FUNCTION billing._setting(text), billing.version() TO billing_reader, billing_admin;
GRANT EXECUTE ON FUNCTION
    billing.add_source(text, text, text, jsonb, jsonb, interval),
    billing.set_credentials(text, jsonb),
    billing.set_setting(text, text),
    billing._check_setting(text, text),
    billing._check_extra_setting(text, text),
    billing._required_credentials(text),
    billing._check_credentials(text, jsonb),
    billing._source_id(text, text),
    billing._manual_source_id(text),
    billing._manual_ref(text, bigint, text, text, text),
    billing._manual_require(anyelement, text, text)
  TO billing_admin;

-- pg_dump keeps what users and syncs put in these tables (the extension's own objects are recreated).
-- One call per statement: each call rewrites the pg_extension row.
-- Install-script code: every function and operator is pg_catalog's, named as such.
DO $dump$
DECLARE
    t pg_catalog.text;
BEGIN
    FOREACH t IN ARRAY ARRAY['billing.sources', 'billing._credentials', 'billing.sync_runs', 'billing._sync_state',
                  'billing.alerts', 'billing.customers', 'billing.products', 'billing.contracts',
                  'billing.subscriptions', 'billing.statements', 'billing.invoices', 'billing.invoice_lines',
                  'billing.credit_notes', 'billing.credit_note_lines', 'billing.credit_note_allocations',
                  'billing.payments', 'billing.refunds', 'billing._setting_values', 'billing.fx_rates',
                  'billing.accounting_maps', 'billing.company_map', 'billing.product_map', 'billing.exclusions',
                  'billing.outbox', 'billing.push_runs']
    LOOP
        PERFORM pg_catalog.pg_extension_config_dump(t::pg_catalog.regclass, '');
        -- the identity sequence too, or a restored database would hand out ids that exist
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid OPERATOR(pg_catalog.=) t::pg_catalog.regclass
                     AND a.attname OPERATOR(pg_catalog.=) 'id' AND a.attidentity OPERATOR(pg_catalog.<>) '') THEN
            PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence(t, 'id')::pg_catalog.regclass, '');
        END IF;
    END LOOP;
END
$dump$;
