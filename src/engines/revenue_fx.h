/*
 * revenue_fx.h: exchange rates for a reporting currency (rule C8), loaded once per refresh.
 *
 * A conversion on a date uses the latest rate on or before it from the currency to the reporting
 * currency; when there is none, the latest rate loaded the other way round, inverted; when there is
 * neither, an error (no_data_found) that fails the refresh.
 */
#ifndef PGB_REVENUE_FX_H
#define PGB_REVENUE_FX_H

#include "postgres.h"
#include "utils/date.h"
#include "utils/numeric.h"

typedef struct PgbFxRate
{
	DateADT		date;
	Numeric		rate;			/* units of the reporting currency per unit of the currency */
} PgbFxRate;

/* The rates of one currency into the reporting currency, each list in date order. */
typedef struct PgbFxSeries
{
	const char *currency;
	const char *reporting;
	bool		identity;		/* the currency is the reporting currency: rate 1 */
	const PgbFxRate *direct;
	int			ndirect;
	const PgbFxRate *inverse;	/* 1 / rate of the rates loaded the other way round */
	int			ninverse;
} PgbFxSeries;

typedef struct PgbFxTable PgbFxTable;

/* Reads every rate into or out of the reporting currency; SPI must be connected. */
extern PgbFxTable *pgb_fx_load(const char *reporting);
extern void pgb_fx_series(const PgbFxTable *table, const char *currency, PgbFxSeries *series);
extern Numeric pgb_fx_rate(const PgbFxSeries *series, DateADT on);

#endif							/* PGB_REVENUE_FX_H */
