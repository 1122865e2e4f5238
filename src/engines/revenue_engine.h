/*
 * revenue_engine.h: the engine's one ordered scan over the queued customers' lines and refund
 * effects, shared by billing._revenue_engine (rows returned) and billing._revenue_refresh (rows
 * written and summed in place).
 */
#ifndef PGB_REVENUE_ENGINE_H
#define PGB_REVENUE_ENGINE_H

#include "postgres.h"

#include "fmgr.h"

#include "engines/revenue_customer.h"

typedef void (*PgbRevGroupFn) (void *arg, const PgbRevGroup *group);

/*
 * The customers a computation reads: those queued under txid in billing._revenue_work, or all of
 * them (a full recomputation, which queues none: every document's customer is a customer).
 */
typedef struct PgbRevScope
{
	int64		txid;
	bool		all;
} PgbRevScope;

/*
 * The join that keeps a query's rows to the queued customers, given the expression of a row's
 * customer ($1 of the query is the txid); "" when the scope is every customer.
 */
extern const char *pgb_rev_queued_join(const PgbRevScope *scope, const char *customer);

extern void pgb_revenue_scan(const PgbRevScope *scope, PgbRevGroupFn on_group, void *arg);

/* Orders two text values byte by byte, as a C collation does (currency codes). */
static inline int
pgb_rev_text_cmp(Datum a, Datum b)
{
	text	   *x = DatumGetTextPP(a);
	text	   *y = DatumGetTextPP(b);
	int			c = memcmp(VARDATA_ANY(x), VARDATA_ANY(y), Min(VARSIZE_ANY_EXHDR(x), VARSIZE_ANY_EXHDR(y)));

	return c != 0 ? c : VARSIZE_ANY_EXHDR(x) - VARSIZE_ANY_EXHDR(y);
}

/* Puts an optional amount of a computed row into column col of an output row (NULL stays NULL). */
static inline void
pgb_rev_put_optional(Datum *values, bool *nulls, int col, Numeric value)
{
	nulls[col] = value == NULL;
	values[col] = value == NULL ? (Datum) 0 : NumericGetDatum(value);
}

#endif							/* PGB_REVENUE_ENGINE_H */
