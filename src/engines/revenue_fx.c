/*
 * revenue_fx.c: the rates of billing.fx_rates into and out of the reporting currency, held in memory
 * for one refresh and searched by date.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "engines/revenue_fx.h"
#include "engines/revenue_money.h"

/* The rates of one currency: a slice of the loaded rows, direct and inverse. */
typedef struct FxCurrency
{
	char	   *code;
	PgbFxRate  *direct;
	int			ndirect;
	PgbFxRate  *inverse;
	int			ninverse;
} FxCurrency;

struct PgbFxTable
{
	char	   *reporting;
	FxCurrency *currencies;		/* sorted by code, byte order */
	int			ncurrencies;
	Numeric		one;
};

/* Rows ordered by currency, then inverse (false) before direct (true), then date. */
static const char *rates_query =
"SELECT CASE WHEN f.to_currency OPERATOR(pg_catalog.=) $1 THEN f.from_currency ELSE f.to_currency END"
"           COLLATE \"C\" AS currency,"
"       f.to_currency OPERATOR(pg_catalog.=) $1 AS direct, f.rate_date, f.rate"
"  FROM billing.fx_rates f"
" WHERE f.to_currency OPERATOR(pg_catalog.=) $1 OR f.from_currency OPERATOR(pg_catalog.=) $1"
" ORDER BY 1, 2, 3";

/*
 * Appends one row. Rows come ordered by currency, inverse before direct, then date, so each
 * currency's inverse and direct lists are consecutive slices of the one array of rates.
 */
static void
add_rate(PgbFxTable *t, PgbFxRate *rates, int *nrates, const char *code, bool direct, DateADT date,
		 Numeric rate)
{
	FxCurrency *c = t->ncurrencies > 0 ? &t->currencies[t->ncurrencies - 1] : NULL;
	PgbFxRate  *r = &rates[(*nrates)++];

	if (c == NULL || strcmp(c->code, code) != 0)
	{
		c = &t->currencies[t->ncurrencies++];
		c->code = pstrdup(code);
		c->inverse = c->direct = r;
		c->ninverse = c->ndirect = 0;
	}
	if (direct)
		c->ndirect++;
	else
	{
		c->ninverse++;
		c->direct = r + 1;
	}
	r->date = date;
	/* a rate loaded the other way round serves inverted: 1 / rate, as SQL's numeric division gives */
	r->rate = direct ? rate : pgb_num_div(t->one, rate);
}

PgbFxTable *
pgb_fx_load(const char *reporting)
{
	PgbFxTable *t = palloc0(sizeof(PgbFxTable));
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(reporting)};
	SPITupleTable *tt;
	PgbFxRate  *rates;
	int			nrates = 0;
	uint64		i;

	t->reporting = pstrdup(reporting);
	t->one = int64_to_numeric(1);
	if (SPI_execute_with_args(rates_query, 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed for the exchange rates query");
	tt = SPI_tuptable;
	if (SPI_processed > (uint64) (MaxAllocSize / sizeof(PgbFxRate)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many exchange rates for reporting currency %s", reporting)));
	rates = palloc(sizeof(PgbFxRate) * Max(SPI_processed, 1));
	t->currencies = palloc(sizeof(FxCurrency) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = tt->vals[i];
		bool		isnull[4];
		Datum		code = SPI_getbinval(tup, tt->tupdesc, 1, &isnull[0]);
		Datum		direct = SPI_getbinval(tup, tt->tupdesc, 2, &isnull[1]);
		Datum		date = SPI_getbinval(tup, tt->tupdesc, 3, &isnull[2]);
		Datum		rate = SPI_getbinval(tup, tt->tupdesc, 4, &isnull[3]);

		if (isnull[0] || isnull[1] || isnull[2] || isnull[3])
			continue;			/* NOT NULL columns; never trusted blindly */
		add_rate(t, rates, &nrates, TextDatumGetCString(code), DatumGetBool(direct),
				 DatumGetDateADT(date), DatumGetNumericCopy(rate));
	}
	SPI_freetuptable(tt);
	return t;
}

void
pgb_fx_series(const PgbFxTable *table, const char *currency, PgbFxSeries *series)
{
	int			i;

	memset(series, 0, sizeof(*series));
	series->currency = currency;
	series->reporting = table->reporting;
	series->identity = strcmp(currency, table->reporting) == 0;
	for (i = 0; i < table->ncurrencies; i++)
	{
		const FxCurrency *c = &table->currencies[i];

		if (strcmp(c->code, currency) == 0)
		{
			series->direct = c->direct;
			series->ndirect = c->ndirect;
			series->inverse = c->inverse;
			series->ninverse = c->ninverse;
			return;
		}
	}
}

/* The last rate dated on or before a date in a date-ordered list, or NULL. */
static Numeric
latest_on(const PgbFxRate *rates, int n, DateADT on)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (rates[mid].date <= on)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 ? rates[lo - 1].rate : NULL;
}

/* The error names the date in the session's DateStyle, as 0.2.0's message did. */
Numeric
pgb_fx_rate(const PgbFxSeries *series, DateADT on)
{
	Numeric		rate;

	if (series->identity)
		return int64_to_numeric(1);
	rate = latest_on(series->direct, series->ndirect, on);
	if (rate == NULL)
		rate = latest_on(series->inverse, series->ninverse, on);
	if (rate == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no exchange rate from %s to %s on or before %s", series->currency, series->reporting,
						DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(on)))),
				 errhint("Load a rate into billing.fx_rates, or clear the setting with billing.set_setting('reporting_currency', '').")));
	return rate;
}
