/*
 * revenue_customer.h: one customer and currency's revenue, MRR and movements, computed from its
 * lines in one pass (domain.md rules C2, C2a, C4-C8).
 */
#ifndef PGB_REVENUE_CUSTOMER_H
#define PGB_REVENUE_CUSTOMER_H

#include "postgres.h"
#include "utils/date.h"
#include "utils/numeric.h"

#include "engines/revenue_fx.h"

/* A document line, or (is_effect) the rule C2a effect of a cash refund in one month. */
typedef struct PgbRevLine
{
	bool		is_effect;
	Numeric		amount;			/* line amount; for an effect, the recognition adjustment */
	Numeric		tax;			/* for an effect, the part of the refund given back to tax payable */
	DateADT		start;			/* for an effect, the first day of its month */
	DateADT		end;
	DateADT		issue;
	bool		counts;			/* counts in MRR (rule C4) */
	int			interval_months;
	Numeric		full_period_amount; /* NULL when the line has none */
	bool		has_due;
	DateADT		due;
	bool		has_paid;
	DateADT		paid_on;
	Numeric		contra;			/* effects only */
	Numeric		excess;			/* effects only */
} PgbRevLine;

typedef struct PgbRevGroup
{
	int64		customer_id;
	Datum		currency;		/* text */
	PgbRevLine *lines;
	int			nlines;
	int			capacity;
} PgbRevGroup;

/* One output row per customer, currency and month of its range. */
typedef struct PgbRevRow
{
	int64		customer_id;
	Datum		currency;
	DateADT		month;
	Numeric		recognized;
	Numeric		contra;
	Numeric		billed;
	Numeric		deferred_end;
	Numeric		unbilled_end;
	Numeric		mrr;
	Numeric		mrr_prev;
	const char *movement;		/* NULL when MRR did not move */
	Numeric		movement_amount;
	Numeric		journal[6];		/* documents issued: AR, deferred, tax; debit then credit */
	Numeric		unbilled_change;
	/* with a reporting currency (rule C8), else NULL */
	Numeric		recognized_reporting;
	Numeric		mrr_reporting;
	Numeric		mrr_reporting_prev;
	Numeric		movement_reporting; /* the movement converted; NULL without a movement */
	Numeric		fx;				/* the conversion effect; NULL when zero */
} PgbRevRow;

enum
{
	PGB_J_AR_DEBIT, PGB_J_AR_CREDIT, PGB_J_DEFERRED_DEBIT, PGB_J_DEFERRED_CREDIT, PGB_J_TAX_DEBIT, PGB_J_TAX_CREDIT
};

typedef struct PgbRevOptions
{
	bool		monthly_even;
	int			past_due_days;
	const PgbFxTable *fx;		/* rates into the reporting currency; NULL when none is set */
} PgbRevOptions;

typedef void (*PgbRevEmit) (void *arg, const PgbRevRow *row);

extern void pgb_revenue_customer(const PgbRevGroup *group, const PgbRevOptions *options,
								 PgbRevEmit emit, void *arg);

#endif							/* PGB_REVENUE_CUSTOMER_H */
