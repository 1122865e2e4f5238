-- Settings, exchange rates, and the user's mappings to a chart of accounts and tax rates.

-- Defaults ship with the extension; only the values a user sets are stored (and dumped by pg_dump),
-- so a restore never collides with the defaults CREATE EXTENSION writes.
CREATE TABLE billing._setting_defaults (
    key         text PRIMARY KEY,
    value       text NOT NULL,
    description text NOT NULL
);
COMMENT ON TABLE billing._setting_defaults IS 'Every setting with its default value and description.';
COMMENT ON COLUMN billing._setting_defaults.key IS 'Setting name.';
COMMENT ON COLUMN billing._setting_defaults.value IS 'Default value.';
COMMENT ON COLUMN billing._setting_defaults.description IS 'What the setting does and the values it takes.';

INSERT INTO billing._setting_defaults (key, value, description) VALUES
    ('recognition', 'daily', 'How revenue is spread over a service period: daily (ratable by day, the default) or monthly_even (equal parts per calendar month touched).'),
    ('past_due_days', '30', 'An invoice unpaid this many days after its due date stops counting in MRR (whole number, 0 or more).'),
    ('reporting_timezone', 'UTC', 'Time zone of the month-end MRR snapshot (an IANA name such as UTC or Europe/London).'),
    ('reporting_currency', '', 'Currency (ISO 4217) that reports convert into with billing.fx_rates; empty means each currency is reported on its own.'),
    -- C3: a month-end snapshot is not knowable before the month ends. Stored results keep every month
    -- (they never go stale when a month turns); the MRR relations show months through this setting.
    ('mrr_through', 'last_complete_month', 'Last month the MRR relations (customer_mrr, mrr_movements, mrr_summary) report: last_complete_month (the month before today''s in the reporting time zone), all, or a month as YYYY-MM.'),
    -- the background worker's
    ('sync_run_retention', '90 days', 'How long finished runs stay in billing.sync_runs (an interval of at least 1 hour); the background worker deletes older ones in batches.'),
    ('sync_retry_base', '30 seconds', 'Delay before retrying a source after one failed or interrupted sync (an interval of at least 1 second); it doubles with each further consecutive failure.'),
    ('sync_retry_max', '1 hour', 'Longest delay between retries of a failing source (an interval of at least 1 second); a scheduled source also retries at least once per schedule.'),
    ('alert_failed_runs', '3', 'Consecutive failed or interrupted syncs of a source that raise a source_failing alert (whole number from 1 to 1000).');

CREATE TABLE billing._setting_values (
    key        text PRIMARY KEY REFERENCES billing._setting_defaults (key) ON DELETE CASCADE,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE billing._setting_values IS 'Settings changed from their defaults, written by billing.set_setting.';
COMMENT ON COLUMN billing._setting_values.key IS 'Setting name.';
COMMENT ON COLUMN billing._setting_values.value IS 'Value set.';
COMMENT ON COLUMN billing._setting_values.updated_at IS 'When it was set.';

CREATE VIEW billing.settings AS
SELECT d.key, coalesce(v.value, d.value) AS value, d.value AS default_value, d.description, v.updated_at
FROM billing._setting_defaults d LEFT JOIN billing._setting_values v USING (key);
COMMENT ON VIEW billing.settings IS 'The knobs of the revenue and MRR conventions with their current values; change them with billing.set_setting(key, value).';
COMMENT ON COLUMN billing.settings.key IS 'Setting name.';
COMMENT ON COLUMN billing.settings.value IS 'Current value, as text.';
COMMENT ON COLUMN billing.settings.default_value IS 'Value when never set.';
COMMENT ON COLUMN billing.settings.description IS 'What the setting does and the values it takes.';
COMMENT ON COLUMN billing.settings.updated_at IS 'When the value was last set; null while it is the default.';

CREATE FUNCTION billing._check_setting(key text, value text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_invalid boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM billing._setting_defaults d WHERE d.key = _check_setting.key) THEN
        RAISE EXCEPTION 'unknown setting "%"', _check_setting.key
            USING ERRCODE = 'undefined_object', HINT = 'SELECT key FROM billing.settings lists the settings.';
    END IF;
    v_invalid := value IS NULL OR CASE _check_setting.key
        WHEN 'recognition' THEN value NOT IN ('daily', 'monthly_even')
        WHEN 'past_due_days' THEN value !~ '^[0-9]{1,5}$'
        WHEN 'reporting_timezone' THEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = value)
        WHEN 'reporting_currency' THEN value !~ '^([A-Z]{3})?$'
        ELSE billing._check_extra_setting(_check_setting.key, value)
    END;
    IF v_invalid THEN
        RAISE EXCEPTION 'invalid value for setting "%": "%"', _check_setting.key, value
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = (SELECT d.description FROM billing._setting_defaults d WHERE d.key = _check_setting.key);
    END IF;
END
$fn$;
COMMENT ON FUNCTION billing._check_setting(text, text) IS 'Raises an error when a setting is unknown or its value is not one it takes.';

-- The settings after the first four: the background worker's, and mrr_through. _check_extra_setting
-- keeps the name and comment it had when it was a hook that later versions replaced.
CREATE FUNCTION billing._check_worker_setting(key text, value text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_interval interval;
BEGIN
    IF key = 'alert_failed_runs' THEN
        RETURN value !~ '^[0-9]{1,4}$' OR value::integer NOT BETWEEN 1 AND 1000;
    ELSIF key IN ('sync_run_retention', 'sync_retry_base', 'sync_retry_max') THEN
        BEGIN
            v_interval := value::interval;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
            RETURN true;
        END;
        RETURN v_interval < CASE key WHEN 'sync_run_retention' THEN interval '1 hour' ELSE interval '1 second' END;
    END IF;
    RETURN false;
END
$fn$;
COMMENT ON FUNCTION billing._check_worker_setting(text, text) IS 'Validation of the worker''s settings: true means the value is invalid; false for settings that are not the worker''s.';

CREATE FUNCTION billing._check_extra_setting(key text, value text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT CASE
        WHEN $1 IN ('sync_run_retention', 'sync_retry_base', 'sync_retry_max', 'alert_failed_runs')
            THEN billing._check_worker_setting($1, $2)
        WHEN $1 = 'mrr_through' THEN $2 !~ '^(last_complete_month|all|[0-9]{4}-(0[1-9]|1[0-2]))$'
        ELSE false
    END
$fn$;
COMMENT ON FUNCTION billing._check_extra_setting(text, text) IS 'Validation of settings added after 0.1.0: true means the value is invalid.';

CREATE FUNCTION billing._validate_setting() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
BEGIN
    PERFORM billing._check_setting(NEW.key, NEW.value);
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION billing._validate_setting() IS 'Trigger: every write of a setting is checked.';
CREATE TRIGGER setting_values_validate BEFORE INSERT OR UPDATE ON billing._setting_values
    FOR EACH ROW EXECUTE FUNCTION billing._validate_setting();

CREATE FUNCTION billing.set_setting(key text, value text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_old text;
BEGIN
    PERFORM billing._check_setting(set_setting.key, set_setting.value);
    SELECT s.value INTO v_old FROM billing.settings s WHERE s.key = set_setting.key;
    INSERT INTO billing._setting_values AS v (key, value) VALUES (set_setting.key, set_setting.value)
    ON CONFLICT ON CONSTRAINT _setting_values_pkey DO UPDATE SET value = EXCLUDED.value;
    RETURN v_old;
END
$fn$;
COMMENT ON FUNCTION billing.set_setting(text, text) IS 'Changes a setting after checking its value; returns the previous value.';

CREATE FUNCTION billing._setting(key text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, billing, pg_temp AS $fn$
    SELECT s.value FROM billing.settings s WHERE s.key = $1
$fn$;
COMMENT ON FUNCTION billing._setting(text) IS 'The current value of a setting.';

CREATE TABLE billing.fx_rates (
    from_currency text NOT NULL,
    to_currency   text NOT NULL,
    rate_date     date NOT NULL,
    rate          numeric NOT NULL,
    PRIMARY KEY (from_currency, to_currency, rate_date),
    CONSTRAINT fx_rates_rate_positive CHECK (rate OPERATOR(pg_catalog.>) 0),
    CONSTRAINT fx_rates_currencies_iso CHECK (from_currency ~ '^[A-Z]{3}$' AND to_currency ~ '^[A-Z]{3}$'),
    CONSTRAINT fx_rates_distinct_currencies CHECK (from_currency <> to_currency),
    CONSTRAINT fx_rates_dates_finite CHECK (isfinite(rate_date))
);
COMMENT ON TABLE billing.fx_rates IS 'Exchange rates loaded by the user; a conversion on a date uses the latest rate on or before it (rule C8).';
COMMENT ON COLUMN billing.fx_rates.from_currency IS 'Currency converted from.';
COMMENT ON COLUMN billing.fx_rates.to_currency IS 'Currency converted to (the reporting currency).';
COMMENT ON COLUMN billing.fx_rates.rate_date IS 'Date the rate applies from.';
COMMENT ON COLUMN billing.fx_rates.rate IS 'Units of to_currency for one unit of from_currency.';

CREATE TABLE billing.accounting_maps (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_id   bigint REFERENCES billing.sources (id) ON DELETE CASCADE,
    map_kind    text NOT NULL,
    local_key   text NOT NULL,
    remote_code text NOT NULL,
    remote_name text,
    CONSTRAINT accounting_maps_one_per_key UNIQUE NULLS NOT DISTINCT (source_id, map_kind, local_key),
    CONSTRAINT accounting_maps_kind_known CHECK (map_kind IN ('account', 'product_account', 'tax_rate', 'bank_account', 'contact_prefix')),
    CONSTRAINT accounting_maps_remote_not_blank CHECK (pg_catalog.btrim(remote_code) <> '')
);
COMMENT ON TABLE billing.accounting_maps IS 'How pg_billing''s accounts, products, tax rates and bank accounts map to the user''s chart of accounts and to Xero codes, per source or (source_id null) for all.';
COMMENT ON COLUMN billing.accounting_maps.id IS 'Surrogate key.';
COMMENT ON COLUMN billing.accounting_maps.source_id IS 'The billing source the mapping applies to; null for every source.';
COMMENT ON COLUMN billing.accounting_maps.map_kind IS 'account (journal account role), product_account (a product''s revenue account), tax_rate, bank_account, or contact_prefix.';
COMMENT ON COLUMN billing.accounting_maps.local_key IS 'pg_billing''s name: an account role such as deferred_revenue, a product, a source tax name, a payment method; for contact_prefix, the word prefix.';
COMMENT ON COLUMN billing.accounting_maps.remote_code IS 'The user''s code: account code, Xero TaxType, bank account code, or the contact number prefix (default chargify_).';
COMMENT ON COLUMN billing.accounting_maps.remote_name IS 'Display name of the remote code, for people.';
