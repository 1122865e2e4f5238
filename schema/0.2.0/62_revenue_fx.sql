-- Revenue, 3 of 7: exchange rates (rule C8).

-- Exchange rates (rule C8) -----------------------------------------------------------------------

CREATE FUNCTION billing._fx_rate(from_currency text, to_currency text, on_date date) RETURNS numeric
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, billing, pg_temp AS $fn$
DECLARE
    v_rate numeric;
BEGIN
    IF from_currency = to_currency THEN
        RETURN 1;
    END IF;
    SELECT f.rate INTO v_rate FROM billing.fx_rates f
     WHERE f.from_currency = _fx_rate.from_currency AND f.to_currency = _fx_rate.to_currency
       AND f.rate_date <= on_date
     ORDER BY f.rate_date DESC LIMIT 1;
    IF v_rate IS NULL THEN
        -- a rate loaded the other way round serves as well
        SELECT 1 / f.rate INTO v_rate FROM billing.fx_rates f
         WHERE f.from_currency = _fx_rate.to_currency AND f.to_currency = _fx_rate.from_currency
           AND f.rate_date <= on_date
         ORDER BY f.rate_date DESC LIMIT 1;
    END IF;
    IF v_rate IS NULL THEN
        RAISE EXCEPTION 'no exchange rate from % to % on or before %', from_currency, to_currency, on_date
            USING ERRCODE = 'no_data_found',
                  HINT = 'Load a rate into billing.fx_rates, or clear the setting with billing.set_setting(''reporting_currency'', '''').';
    END IF;
    RETURN v_rate;
END
$fn$;
COMMENT ON FUNCTION billing._fx_rate(text, text, date) IS 'The latest rate on or before a date (direct, else inverse); raises when there is none.';
