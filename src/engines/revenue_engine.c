/*
 * revenue_engine.c: billing._revenue_engine(txid, ...), the one-pass revenue computation.
 *
 * Reads the lines (and refund effects) of the customers queued in billing._revenue_work under txid,
 * ordered by customer and currency, through an SPI cursor, and returns one row per customer, currency
 * and month: recognised, contra, billed, deferred and unbilled revenue, reported MRR, the previous
 * month's MRR, the movement between them and, with a reporting currency, the same converted and the
 * conversion effect. One ordered scan replaces the SQL oracle's generate_series joins, sorts, hash
 * aggregates and window functions (test/oracle/revenue_oracle.sql).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "engines/revenue_calendar.h"
#include "engines/revenue_customer.h"
#include "engines/revenue_engine.h"
#include "engines/revenue_fx.h"
#include "engines/revenue_money.h"
#include "engines/revenue_spi.h"

PG_FUNCTION_INFO_V1(pgb_revenue_engine);

#define FETCH_ROWS 2000

/* Column order of the query below. */
enum
{
	COL_CUSTOMER = 1, COL_CURRENCY, COL_EFFECT, COL_AMOUNT, COL_START, COL_END, COL_ISSUE, COL_COUNTS,
	COL_INTERVAL, COL_FPA, COL_DUE, COL_PAID_ON, COL_CONTRA, COL_EXCESS, COL_TAX
};

#define OUTPUT_COLUMNS 24

#define LINE_COLUMNS \
"SELECT l.customer_id, l.currency, false, l.amount, l.period_start, l.period_end, l.issue_date," \
"       (l.recurring AND l.kind OPERATOR(pg_catalog.<>) ALL (ARRAY['usage', 'one_time']::text[])" \
"        AND l.amount OPERATOR(pg_catalog.<>) 0 AND l.period_end OPERATOR(pg_catalog.>) l.period_start)," \
"       l.interval_months, l.full_period_amount, l.due_date, l.paid_on, NULL::numeric, NULL::numeric, l.tax"

/*
 * One branch per document kind, so a few queued customers are found through their indexes; rows of
 * a customer come together, which is all the grouping needs (its currencies are told apart in
 * memory: a second sort key cost ~15 % of the sort at 100k customers, for the few customers billed
 * in more than one currency). Each %s is the branch's pgb_rev_queued_join.
 */
static const char *lines_query_format =
LINE_COLUMNS
"  FROM billing._revenue_invoice_lines l%s"
" UNION ALL "
LINE_COLUMNS
"  FROM billing._revenue_credit_lines l%s"
" UNION ALL "
"SELECT e.customer_id, e.currency, true, e.adjust, e.month, e.month, NULL, false,"
"       NULL, NULL, NULL, NULL, e.contra, e.excess, e.tax"
"  FROM billing._refund_effects e%s"
" ORDER BY 1";

/* The scan: the customer being read and what to do with each of its currencies' groups. */
typedef struct RevScan
{
	PgbRevGroup group;			/* the customer's lines, of every currency, while they are read */
	Datum	   *currencies;		/* each line's currency (text), parallel to group.lines */
	MemoryContext group_cxt;	/* lines of the current customer, reset between customers */
	PgbRevGroupFn on_group;
	void	   *arg;
} RevScan;

/* The set-returning function's state: its result and the options of the computation. */
typedef struct EngineState
{
	Tuplestorestate *store;
	TupleDesc	desc;
	PgbRevOptions options;
} EngineState;

static void
emit_row(void *arg, const PgbRevRow *row)
{
	EngineState *st = (EngineState *) arg;
	Datum		values[OUTPUT_COLUMNS];
	bool		nulls[OUTPUT_COLUMNS] = {false};
	int			j;

	values[0] = Int64GetDatum(row->customer_id);
	values[1] = row->currency;
	values[2] = DateADTGetDatum(row->month);
	values[3] = NumericGetDatum(row->recognized);
	values[4] = NumericGetDatum(row->contra);
	values[5] = NumericGetDatum(row->billed);
	values[6] = NumericGetDatum(row->deferred_end);
	values[7] = NumericGetDatum(row->unbilled_end);
	values[8] = NumericGetDatum(row->mrr);
	values[9] = NumericGetDatum(row->mrr_prev);
	if (row->movement != NULL)
	{
		values[10] = CStringGetTextDatum(row->movement);
		values[11] = NumericGetDatum(row->movement_amount);
	}
	else
		nulls[10] = nulls[11] = true;
	for (j = 0; j < 6; j++)
		values[12 + j] = NumericGetDatum(row->journal[j]);
	values[18] = NumericGetDatum(row->unbilled_change);
	pgb_rev_put_optional(values, nulls, 19, row->recognized_reporting);
	pgb_rev_put_optional(values, nulls, 20, row->mrr_reporting);
	pgb_rev_put_optional(values, nulls, 21, row->mrr_reporting_prev);
	pgb_rev_put_optional(values, nulls, 22, row->movement_reporting);
	pgb_rev_put_optional(values, nulls, 23, row->fx);
	tuplestore_putvalues(st->store, st->desc, values, nulls);
}

/* The set-returning function's group: computed and written to its result. */
static void
compute_group(void *arg, const PgbRevGroup *group)
{
	EngineState *st = (EngineState *) arg;

	pgb_revenue_customer(group, &st->options, emit_row, st);
}

/* Refuses dates the engine cannot place (infinite, before December 4714 BC) and inverted periods. */
static void
check_line_dates(const PgbRevLine *l, int64 customer_id)
{
	pgb_check_date(l->start, l->is_effect ? "refund month" : "service period start", customer_id);
	pgb_check_date(l->end, l->is_effect ? "refund month" : "service period end", customer_id);
	if (!l->is_effect)
		pgb_check_date(l->issue, "issue date", customer_id);
	if (l->end < l->start)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("a line of customer %lld ends before it starts", (long long) customer_id)));
}

/* The line's currency, shared with the line before when they are the same (the usual case). */
static Datum
line_currency(RevScan *st, HeapTuple tup, TupleDesc desc)
{
	Datum		currency = pgb_spi_required(tup, desc, COL_CURRENCY, "currency");

	if (st->group.nlines > 0 && pgb_rev_text_cmp(currency, st->currencies[st->group.nlines - 1]) == 0)
		return st->currencies[st->group.nlines - 1];
	return PointerGetDatum(PG_DETOAST_DATUM_COPY(currency));
}

/* Copies one fetched row into the current customer's lines (in the group's memory context). */
static void
add_line(RevScan *st, HeapTuple tup, TupleDesc desc)
{
	PgbRevGroup *g = &st->group;
	PgbRevLine *l;
	Datum		currency = line_currency(st, tup, desc);
	bool		isnull,
				present;

	if (g->nlines == g->capacity)
	{
		g->capacity = g->capacity ? g->capacity * 2 : 64;
		g->lines = g->lines ? repalloc(g->lines, sizeof(PgbRevLine) * g->capacity)
			: palloc(sizeof(PgbRevLine) * g->capacity);
		st->currencies = st->currencies ? repalloc(st->currencies, sizeof(Datum) * g->capacity)
			: palloc(sizeof(Datum) * g->capacity);
	}
	st->currencies[g->nlines] = currency;
	l = &g->lines[g->nlines++];
	l->is_effect = pgb_spi_bool(tup, desc, COL_EFFECT);
	l->amount = pgb_spi_numeric(tup, desc, COL_AMOUNT);
	if (l->amount == NULL)
		l->amount = pgb_num_zero();
	l->tax = pgb_spi_numeric(tup, desc, COL_TAX);
	if (l->tax == NULL)
		l->tax = pgb_num_zero();
	l->start = DatumGetDateADT(pgb_spi_required(tup, desc, COL_START, "service period start"));
	l->end = DatumGetDateADT(pgb_spi_required(tup, desc, COL_END, "service period end"));
	l->issue = pgb_spi_date(tup, desc, COL_ISSUE, &present);
	if (!l->is_effect && !present)
		(void) pgb_spi_required(tup, desc, COL_ISSUE, "issue date");
	l->counts = pgb_spi_bool(tup, desc, COL_COUNTS);
	l->interval_months = DatumGetInt32(SPI_getbinval(tup, desc, COL_INTERVAL, &isnull));
	if (isnull)
		l->interval_months = 1;
	l->full_period_amount = pgb_spi_numeric(tup, desc, COL_FPA);
	l->due = pgb_spi_date(tup, desc, COL_DUE, &l->has_due);
	l->paid_on = pgb_spi_date(tup, desc, COL_PAID_ON, &l->has_paid);
	l->contra = pgb_spi_numeric(tup, desc, COL_CONTRA);
	l->excess = pgb_spi_numeric(tup, desc, COL_EXCESS);
	check_line_dates(l, g->customer_id);
	if (l->is_effect && (l->contra == NULL || l->excess == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("refund effect of customer %lld has no contra or excess amount",
						(long long) g->customer_id)));
}

static int
currency_order(const void *a, const void *b, void *arg)
{
	const Datum *currencies = (const Datum *) arg;

	return pgb_rev_text_cmp(currencies[*(const int *) a], currencies[*(const int *) b]);
}

/* A customer billed in several currencies: one group per currency, in the currencies' byte order. */
static void
each_currency(RevScan *st)
{
	const PgbRevGroup *all = &st->group;
	int		   *order = palloc(sizeof(int) * all->nlines);
	PgbRevLine *lines = palloc(sizeof(PgbRevLine) * all->nlines);
	int			i,
				start,
				end;

	for (i = 0; i < all->nlines; i++)
		order[i] = i;
	qsort_arg(order, all->nlines, sizeof(int), currency_order, st->currencies);
	for (i = 0; i < all->nlines; i++)
		lines[i] = all->lines[order[i]];
	for (start = 0; start < all->nlines; start = end)
	{
		PgbRevGroup group = *all;

		for (end = start + 1; end < all->nlines && currency_order(&order[start], &order[end], st->currencies) == 0; end++)
			;
		group.currency = st->currencies[order[start]];
		group.lines = lines + start;
		group.nlines = group.capacity = end - start;
		st->on_group(st->arg, &group);
	}
}

/* The customer's lines are all read: its groups are computed, then its memory is freed. */
static void
flush_customer(RevScan *st)
{
	MemoryContext old = MemoryContextSwitchTo(st->group_cxt);

	/* lines of one currency share its Datum (line_currency) */
	if (st->currencies[0] == st->currencies[st->group.nlines - 1])
	{
		st->group.currency = st->currencies[0];
		st->on_group(st->arg, &st->group);
	}
	else
		each_currency(st);
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->group_cxt);
	st->group.lines = NULL;
	st->currencies = NULL;
	st->group.nlines = st->group.capacity = 0;
}

/* A new customer flushes the one before. */
static void
next_customer(RevScan *st, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	int64		customer = DatumGetInt64(SPI_getbinval(tup, desc, COL_CUSTOMER, &isnull));

	if (st->group.nlines > 0 && customer == st->group.customer_id)
		return;
	if (st->group.nlines > 0)
		flush_customer(st);
	st->group.customer_id = customer;
}

const char *
pgb_rev_queued_join(const PgbRevScope *scope, const char *customer)
{
	if (scope->all)
		return "";
	return psprintf(" JOIN billing._revenue_work w ON w.customer_id OPERATOR(pg_catalog.=) %s"
					" AND w.txid OPERATOR(pg_catalog.=) $1", customer);
}

/*
 * Reads the lines of the scope's customers and calls on_group with each customer and
 * currency's lines, in customer order (all currencies of a customer one after the other). The group
 * and everything allocated while on_group runs live until it returns. Runs inside SPI_connect.
 */
void
pgb_revenue_scan(const PgbRevScope *scope, PgbRevGroupFn on_group, void *arg)
{
	RevScan		scan;
	RevScan    *st = &scan;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(scope->txid)};
	SPIPlanPtr	plan = SPI_prepare(psprintf(lines_query_format, pgb_rev_queued_join(scope, "l.customer_id"),
											pgb_rev_queued_join(scope, "l.customer_id"),
											pgb_rev_queued_join(scope, "e.customer_id")),
								   1, argtypes);
	Portal		portal;
	MemoryContext spi_cxt = CurrentMemoryContext;

	memset(st, 0, sizeof(*st));
	st->on_group = on_group;
	st->arg = arg;
	st->group_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_billing revenue group",
										  ALLOCSET_DEFAULT_SIZES);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for the revenue lines query: %s", SPI_result_code_string(SPI_result));
	/* not read-only: a refresh reads the refund effects it has just written (a new snapshot) */
	portal = SPI_cursor_open(NULL, plan, args, NULL, false);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			MemoryContext old;

			CHECK_FOR_INTERRUPTS();
			/* the lines and their currencies must outlive the fetched batch: keep them with the group */
			old = MemoryContextSwitchTo(st->group_cxt);
			next_customer(st, tup, SPI_tuptable->tupdesc);
			add_line(st, tup, SPI_tuptable->tupdesc);
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
		MemoryContextSwitchTo(spi_cxt);
	}
	if (st->group.nlines > 0)
		flush_customer(st);
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
	MemoryContextDelete(st->group_cxt);
}

/*
 * billing._revenue_engine(txid bigint, monthly_even boolean, past_due_days integer,
 *                         reporting_currency text): NULL or '' reporting_currency converts nothing.
 */
Datum
pgb_revenue_engine(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EngineState st;
	PgbRevScope scope = {0, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("billing._revenue_engine arguments must not be null")));
	InitMaterializedSRF(fcinfo, 0);
	memset(&st, 0, sizeof(st));
	st.store = rsinfo->setResult;
	st.desc = rsinfo->setDesc;
	st.options.monthly_even = PG_GETARG_BOOL(1);
	st.options.past_due_days = PG_GETARG_INT32(2);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!PG_ARGISNULL(3) && VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(3)) > 0)
		st.options.fx = pgb_fx_load(text_to_cstring(PG_GETARG_TEXT_PP(3)));
	scope.txid = PG_GETARG_INT64(0);
	pgb_revenue_scan(&scope, compute_group, &st);
	SPI_finish();
	return (Datum) 0;
}
