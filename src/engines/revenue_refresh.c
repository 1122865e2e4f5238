/*
 * revenue_refresh.c: billing._revenue_refresh(txid, monthly_even, past_due_days, reporting_currency,
 * full_recompute), everything a refresh does once the customers to recompute are queued in
 * billing._revenue_work under txid (or, for a full recomputation, for every customer, none queued),
 * in one pass over each thing it reads:
 *
 *   1. (incremental only) deletes the queued customers' stored results, subtracting each deleted
 *      row from the maintained sums as it goes (a full recomputation has truncated them all);
 *   2. reads the customers' current sources;
 *   3. stores the customers' payments and cash refunds per month (billing._revenue_cash) and adds
 *      them to the journal sums, noting whether any customer has a live refund;
 *   4. only then, writes the rule C2a refund effects (billing._revenue_refund_effects);
 *   5. runs the engine's ordered scan and, for every computed customer month, writes its row and
 *      movements (batched like COPY, revenue_bulk.c) and adds it to the sums, and each customer's
 *      source (billing._revenue_customer_source);
 *   6. adds the sums' deltas to billing._mrr_summary and billing._journal_summary, leaving out the
 *      rows whose delta changes nothing.
 *
 * 0.3.0 wrote the results with INSERT ... SELECT from the engine's result set and then read them
 * back in SQL to sum them (billing._revenue_summarise), before and after: most of a full refresh.
 */
#include "postgres.h"

#include <sys/resource.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "engines/revenue_bulk.h"
#include "engines/revenue_customer.h"
#include "engines/revenue_engine.h"
#include "engines/revenue_fx.h"
#include "engines/revenue_refund_effects.h"
#include "engines/revenue_spi.h"
#include "engines/revenue_sum.h"
#include "engines/revenue_summary.h"

PG_FUNCTION_INFO_V1(pgb_revenue_refresh);

#define FETCH_ROWS 2000

typedef struct SourceEntry
{
	int64		customer_id;
	int64		source_id;
} SourceEntry;

typedef struct RefreshState
{
	PgbRevScope scope;			/* all: a full recomputation, the caller truncated the results */
	PgbRevOptions options;
	Datum		reporting_currency;	/* text; 0 when none */
	PgbSummary *summary;
	HTAB	   *sources;		/* customer -> source, of the queued customers */
	PgbBulk    *monthly;
	PgbBulk    *movements;
	/* the group being written */
	int			currency;
	const int64 *source;
	/* customers with results, for billing._revenue_customer_source */
	int64	   *customers;
	int64	   *customer_sources;
	int			ncustomers;
	int			capacity;
	bool		any_refund;		/* a queued customer has a live refund (add_cash saw one) */
	struct CashCustomer *cash;	/* during add_cash: the customer whose cash is being summed */
} RefreshState;

static const char *const monthly_columns[] = {
	"customer_id", "currency", "month", "recognized", "contra", "billed", "deferred_end", "unbilled_end",
	"reporting_currency", "recognized_reporting", "ar_debit", "ar_credit", "deferred_debit",
	"deferred_credit", "tax_debit", "tax_credit", "unbilled_change", "mrr", "mrr_prev", "mrr_reporting",
	"mrr_reporting_prev"
};
#define MONTHLY_COLUMNS lengthof(monthly_columns)

static const char *const movement_columns[] = {
	"customer_id", "currency", "month", "movement", "amount", "reporting_amount"
};
#define MOVEMENT_COLUMNS lengthof(movement_columns)

static HTAB *
source_table(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(SourceEntry);
	ctl.hcxt = CurrentMemoryContext;
	return hash_create("pg_billing revenue sources", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static void
source_put(HTAB *sources, int64 customer_id, int64 source_id)
{
	SourceEntry *e = hash_search(sources, &customer_id, HASH_ENTER, NULL);

	e->source_id = source_id;
}

static const int64 *
source_of(HTAB *sources, int64 customer_id)
{
	SourceEntry *e = hash_search(sources, &customer_id, HASH_FIND, NULL);

	return e != NULL ? &e->source_id : NULL;
}

/*
 * Logs at DEBUG1 the backend CPU time, wall-clock time and minor page faults since the previous
 * phase: a new backend faults on each page of shared buffers and of its own memory that it touches
 * for the first time, which on some virtual machines costs more than the work itself.
 */
static void
phase_done(const char *phase)
{
	static struct timespec last_wall;
	static double last_cpu;
	static long last_faults;
	struct timespec now;
	struct rusage ru;
	double		cpu;

	clock_gettime(CLOCK_MONOTONIC, &now);
	getrusage(RUSAGE_SELF, &ru);
	cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
	if (phase != NULL)
		elog(DEBUG1, "revenue refresh phase %s: %.2f ms CPU, %.2f ms wall, %ld page faults", phase, cpu - last_cpu,
			 (now.tv_sec - last_wall.tv_sec) * 1000.0 + (now.tv_nsec - last_wall.tv_nsec) / 1e6,
			 ru.ru_minflt - last_faults);
	last_wall = now;
	last_cpu = cpu;
	last_faults = ru.ru_minflt;
}

/* Runs a query with the txid as $1 through a cursor, handing each row to fn. */
static void
each_row(const char *sql, void (*fn) (RefreshState *, HeapTuple, TupleDesc), RefreshState *st)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(st->scope.txid)};
	SPIPlanPtr	plan = SPI_prepare(sql, 1, argtypes);
	Portal		portal;
	/* what reading a row copies lives until the next row: a large refresh deletes millions */
	MemoryContext row_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_billing revenue row",
												  ALLOCSET_SMALL_SIZES);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for a revenue refresh query: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, args, NULL, false);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(row_cxt);

			CHECK_FOR_INTERRUPTS();
			fn(st, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
			MemoryContextSwitchTo(old);
			MemoryContextReset(row_cxt);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
	MemoryContextDelete(row_cxt);
}

/* A column that must not be NULL (its name only looked up to report one). */
static int64
required_int64(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		(void) pgb_spi_required(tup, desc, col, SPI_fname(desc, col));
	return DatumGetInt64(d);
}

static Numeric
required_numeric(HeapTuple tup, TupleDesc desc, int col)
{
	Numeric		n = pgb_spi_numeric(tup, desc, col);

	if (n == NULL)
		(void) pgb_spi_required(tup, desc, col, SPI_fname(desc, col));
	return n;
}

/* Step 1 ------------------------------------------------------------------------------------- */

/* The queued customers' rows of a DELETE (USING, as pgb_rev_queued_join's JOIN cannot be used there). */
#define QUEUED(alias) \
" USING billing._revenue_work w WHERE w.txid OPERATOR(pg_catalog.=) $1" \
"   AND " alias ".customer_id OPERATOR(pg_catalog.=) w.customer_id"

static void
old_source(RefreshState *st, HeapTuple tup, TupleDesc desc)
{
	source_put(st->sources, required_int64(tup, desc, 1), required_int64(tup, desc, 2));
}

/* A deleted customer month, subtracted under the source its sums were added with. */
static void
old_month(RefreshState *st, HeapTuple tup, TupleDesc desc)
{
	PgbRevRow	row;
	int64		customer_id = required_int64(tup, desc, 1);
	int			j;

	memset(&row, 0, sizeof(row));
	row.month = DatumGetDateADT(pgb_spi_required(tup, desc, 3, "month"));
	row.mrr_prev = required_numeric(tup, desc, 4);
	row.mrr = required_numeric(tup, desc, 5);
	row.mrr_reporting_prev = pgb_spi_numeric(tup, desc, 6);
	row.mrr_reporting = pgb_spi_numeric(tup, desc, 7);
	for (j = 0; j < 6; j++)
		row.journal[j] = required_numeric(tup, desc, 9 + j);
	row.recognized = required_numeric(tup, desc, 15);
	row.contra = required_numeric(tup, desc, 16);
	row.unbilled_change = required_numeric(tup, desc, 17);
	pgb_summary_month(st->summary, customer_id,
					  pgb_summary_currency(st->summary, pgb_spi_required(tup, desc, 2, "currency")),
					  &row, DatumGetBool(pgb_spi_required(tup, desc, 8, "reporting")),
					  source_of(st->sources, customer_id));
}

static void
old_movement(RefreshState *st, HeapTuple tup, TupleDesc desc)
{
	pgb_summary_movement(st->summary, pgb_summary_currency(st->summary, pgb_spi_required(tup, desc, 1, "currency")),
						 DatumGetDateADT(pgb_spi_required(tup, desc, 2, "month")),
						 TextDatumGetCString(pgb_spi_required(tup, desc, 3, "movement")),
						 pgb_spi_numeric(tup, desc, 4), pgb_spi_numeric(tup, desc, 5));
}

static void
old_effect(RefreshState *st, HeapTuple tup, TupleDesc desc)
{
	const int64 *source = source_of(st->sources, required_int64(tup, desc, 1));

	if (source != NULL)
		pgb_summary_effect(st->summary, pgb_summary_currency(st->summary, pgb_spi_required(tup, desc, 2, "currency")),
						   DatumGetDateADT(pgb_spi_required(tup, desc, 3, "month")), *source,
						   required_numeric(tup, desc, 4), required_numeric(tup, desc, 5),
						   required_numeric(tup, desc, 6));
}

/* A month's payments or cash refunds: month, source, currency, part, n, amount. */
static void
cash_row(RefreshState *st, HeapTuple tup, TupleDesc desc)
{
	pgb_summary_cash(st->summary, pgb_summary_currency(st->summary, pgb_spi_required(tup, desc, 3, "currency")),
					 DatumGetDateADT(pgb_spi_required(tup, desc, 1, "month")), required_int64(tup, desc, 2),
					 DatumGetInt16(pgb_spi_required(tup, desc, 4, "part")), required_int64(tup, desc, 5),
					 required_numeric(tup, desc, 6));
}

static void
subtract_old(RefreshState *st)
{
	pgb_summary_sign(st->summary, -1);
	each_row("DELETE FROM billing._revenue_customer_source cs" QUEUED("cs")
			 " RETURNING cs.customer_id, cs.source_id", old_source, st);
	/* customer by customer: the reporting rows count distinct customers */
	each_row("WITH d AS (DELETE FROM billing._revenue_monthly t" QUEUED("t")
			 "  RETURNING t.customer_id, t.currency, t.month, t.mrr_prev, t.mrr, t.mrr_reporting_prev,"
			 "            t.mrr_reporting, t.reporting_currency IS NOT NULL, t.ar_debit, t.ar_credit,"
			 "            t.deferred_debit, t.deferred_credit, t.tax_debit, t.tax_credit, t.recognized,"
			 "            t.contra, t.unbilled_change)"
			 " SELECT * FROM d ORDER BY 1", old_month, st);
	each_row("DELETE FROM billing._mrr_movements t" QUEUED("t")
			 " RETURNING t.currency, t.month, t.movement, t.amount, t.reporting_amount", old_movement, st);
	each_row("DELETE FROM billing._refund_effects t" QUEUED("t")
			 " RETURNING t.customer_id, t.currency, t.month, t.contra, t.excess, t.tax", old_effect, st);
	each_row("WITH d AS (DELETE FROM billing._revenue_cash k" QUEUED("k") " RETURNING k.*)"
			 " SELECT u.month, d.source_id, u.currency, u.part, pg_catalog.sum(u.n)::bigint, pg_catalog.sum(u.amount)"
			 "   FROM d CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(d.month), pg_catalog.unnest(d.currency),"
			 "        pg_catalog.unnest(d.part), pg_catalog.unnest(d.n), pg_catalog.unnest(d.amount))"
			 "        u(month, currency, part, n, amount)"
			 "  GROUP BY 1, 2, 3, 4", cash_row, st);
	hash_destroy(st->sources);
	st->sources = source_table();
}

/* Steps 2 and 3 ---------------------------------------------------------------------------- */

static const char *const effect_columns[PGB_EFFECT_COLUMNS] = {
	"customer_id", "currency", "invoice_id", "refund_id", "month", "contra", "excess", "tax", "adjust"
};

static void
write_effect(void *arg, const PgbRefundEffect *e)
{
	Datum		values[PGB_EFFECT_COLUMNS];
	bool		nulls[PGB_EFFECT_COLUMNS];

	pgb_refund_effect_values(e, values, nulls);
	pgb_bulk_put((PgbBulk *) arg, values, nulls);
}

static void
compute_refund_effects(RefreshState *st)
{
	PgbBulk    *effects = pgb_bulk_open("_refund_effects", effect_columns, PGB_EFFECT_COLUMNS, st->scope.all);

	pgb_refund_effects(&st->scope, st->options.monthly_even, write_effect, effects);
	pgb_bulk_close(effects);
}

static void
new_source(RefreshState *st, HeapTuple tup, TupleDesc desc)
{
	source_put(st->sources, required_int64(tup, desc, 1), required_int64(tup, desc, 2));
}

static void
write_movement(RefreshState *st, const PgbRevRow *row, const char *movement, Numeric amount, Numeric reporting)
{
	Datum		values[MOVEMENT_COLUMNS];
	bool		nulls[MOVEMENT_COLUMNS] = {false};

	values[0] = Int64GetDatum(row->customer_id);
	values[1] = row->currency;
	values[2] = DateADTGetDatum(row->month);
	values[3] = CStringGetTextDatum(movement);
	pgb_rev_put_optional(values, nulls, 4, amount);
	pgb_rev_put_optional(values, nulls, 5, reporting);
	pgb_bulk_put(st->movements, values, nulls);
	pgb_summary_movement(st->summary, st->currency, row->month, movement, amount, reporting);
}

/* One computed customer month: its row, its movements (and fx effect), and their sums. */
static void
write_row(void *arg, const PgbRevRow *row)
{
	RefreshState *st = (RefreshState *) arg;
	Datum		values[MONTHLY_COLUMNS];
	bool		nulls[MONTHLY_COLUMNS] = {false};
	int			j;

	values[0] = Int64GetDatum(row->customer_id);
	values[1] = row->currency;
	values[2] = DateADTGetDatum(row->month);
	values[3] = NumericGetDatum(row->recognized);
	values[4] = NumericGetDatum(row->contra);
	values[5] = NumericGetDatum(row->billed);
	values[6] = NumericGetDatum(row->deferred_end);
	values[7] = NumericGetDatum(row->unbilled_end);
	nulls[8] = st->reporting_currency == (Datum) 0;
	values[8] = st->reporting_currency;
	pgb_rev_put_optional(values, nulls, 9, row->recognized_reporting);
	for (j = 0; j < 6; j++)
		values[10 + j] = NumericGetDatum(row->journal[j]);
	values[16] = NumericGetDatum(row->unbilled_change);
	values[17] = NumericGetDatum(row->mrr);
	values[18] = NumericGetDatum(row->mrr_prev);
	pgb_rev_put_optional(values, nulls, 19, row->mrr_reporting);
	pgb_rev_put_optional(values, nulls, 20, row->mrr_reporting_prev);
	pgb_bulk_put(st->monthly, values, nulls);
	pgb_summary_month(st->summary, row->customer_id, st->currency, row,
					  st->reporting_currency != (Datum) 0, st->source);
	if (row->movement != NULL)
		write_movement(st, row, row->movement, row->movement_amount, row->movement_reporting);
	/* the conversion effect of the month, in the reporting currency (never expansion or contraction) */
	if (row->fx != NULL)
		write_movement(st, row, "fx", NULL, row->fx);
}

static void
note_customer(RefreshState *st, int64 customer_id)
{
	if (st->source == NULL ||
		(st->ncustomers > 0 && st->customers[st->ncustomers - 1] == customer_id))
		return;
	if (st->ncustomers == st->capacity)
	{
		st->capacity = st->capacity ? st->capacity * 2 : 1024;
		st->customers = st->customers ? repalloc(st->customers, sizeof(int64) * st->capacity)
			: palloc(sizeof(int64) * st->capacity);
		st->customer_sources = st->customer_sources
			? repalloc(st->customer_sources, sizeof(int64) * st->capacity)
			: palloc(sizeof(int64) * st->capacity);
	}
	st->customers[st->ncustomers] = customer_id;
	st->customer_sources[st->ncustomers++] = *st->source;
}

/* One customer and currency, in the scan's group memory (customers and sources outlive it). */
static void
refresh_group(void *arg, const PgbRevGroup *group)
{
	RefreshState *st = (RefreshState *) arg;
	MemoryContext group_cxt = CurrentMemoryContext;
	int			i;

	st->currency = pgb_summary_currency(st->summary, group->currency);
	st->source = source_of(st->sources, group->customer_id);
	pgb_revenue_customer(group, &st->options, write_row, st);
	if (st->source == NULL)
		return;
	for (i = 0; i < group->nlines; i++)
	{
		const PgbRevLine *l = &group->lines[i];

		if (l->is_effect)
			pgb_summary_effect(st->summary, st->currency, l->start, *st->source, l->contra, l->excess, l->tax);
	}
	MemoryContextSwitchTo(GetMemoryChunkContext(st));
	note_customer(st, group->customer_id);
	MemoryContextSwitchTo(group_cxt);
}

/* The customers' current sources (a queued customer that no longer exists has none). */
static void
load_sources(RefreshState *st)
{
	each_row(psprintf("SELECT c.id, c.source_id FROM billing.customers c%s",
					  pgb_rev_queued_join(&st->scope, "c.id")), new_source, st);
}

static void
compute(RefreshState *st)
{
	st->monthly = pgb_bulk_open("_revenue_monthly", monthly_columns, MONTHLY_COLUMNS, st->scope.all);
	st->movements = pgb_bulk_open("_mrr_movements", movement_columns, MOVEMENT_COLUMNS, st->scope.all);
	pgb_revenue_scan(&st->scope, refresh_group, st);
	pgb_bulk_close(st->monthly);
	pgb_bulk_close(st->movements);
}

/* Step 4 ------------------------------------------------------------------------------------- */

/* One customer's payments or cash refunds of a month and currency, as _revenue_cash keeps them. */
typedef struct CashMonth
{
	DateADT		month;
	int			currency;
	int16		part;
	int64		n;
	PgbSum		amount;
} CashMonth;

typedef struct CashCustomer
{
	int64		customer_id;
	int64		source_id;
	CashMonth  *months;			/* in cxt, reset for each customer */
	int			nmonths;
	int			capacity;
	MemoryContext cxt;
	PgbBulk    *bulk;			/* billing._revenue_cash */
} CashCustomer;

static const char *const cash_columns[] = {"customer_id", "source_id", "month", "currency", "part", "n", "amount"};

/* Month, then part, then currency: the order of a customer's months in billing._revenue_cash. */
static int
cash_month_order(const void *a, const void *b, void *arg)
{
	const CashMonth *x = (const CashMonth *) a;
	const CashMonth *y = (const CashMonth *) b;

	if (x->month != y->month)
		return x->month < y->month ? -1 : 1;
	if (x->part != y->part)
		return x->part - y->part;
	return pgb_rev_text_cmp(pgb_summary_currency_text((PgbSummary *) arg, x->currency),
							pgb_summary_currency_text((PgbSummary *) arg, y->currency));
}

/*
 * Writes the customer's row of billing._revenue_cash: its months as parallel arrays, in order
 * whatever order the plan read them in (sorting the read by more than the customer cost ~0.4 s at
 * 100k customers; a customer has a few months).
 */
static void
cash_flush(RefreshState *st, CashCustomer *c)
{
	Datum		values[7];
	bool		nulls[7] = {false};
	Datum	   *months,
			   *currencies,
			   *parts,
			   *ns,
			   *amounts;
	int			i;

	if (c->nmonths == 0)
		return;
	qsort_arg(c->months, c->nmonths, sizeof(CashMonth), cash_month_order, st->summary);
	months = palloc(sizeof(Datum) * c->nmonths);
	currencies = palloc(sizeof(Datum) * c->nmonths);
	parts = palloc(sizeof(Datum) * c->nmonths);
	ns = palloc(sizeof(Datum) * c->nmonths);
	amounts = palloc(sizeof(Datum) * c->nmonths);
	for (i = 0; i < c->nmonths; i++)
	{
		months[i] = DateADTGetDatum(c->months[i].month);
		currencies[i] = pgb_summary_currency_text(st->summary, c->months[i].currency);
		parts[i] = Int16GetDatum(c->months[i].part);
		ns[i] = Int64GetDatum(c->months[i].n);
		amounts[i] = NumericGetDatum(pgb_sum_numeric(&c->months[i].amount));
	}
	values[0] = Int64GetDatum(c->customer_id);
	values[1] = Int64GetDatum(c->source_id);
	values[2] = PointerGetDatum(construct_array(months, c->nmonths, DATEOID, sizeof(DateADT), true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(currencies, c->nmonths, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(parts, c->nmonths, INT2OID, sizeof(int16), true, TYPALIGN_SHORT));
	values[5] = PointerGetDatum(construct_array(ns, c->nmonths, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[6] = PointerGetDatum(construct_array(amounts, c->nmonths, NUMERICOID, -1, false, TYPALIGN_INT));
	pgb_bulk_put(c->bulk, values, nulls);
	c->nmonths = 0;
}

static void
cash_add(CashCustomer *c, DateADT month, int currency, int16 part, Numeric amount)
{
	CashMonth  *m = NULL;
	int			i;

	for (i = c->nmonths - 1; i >= 0; i--)
		if (c->months[i].month == month && c->months[i].currency == currency && c->months[i].part == part)
		{
			m = &c->months[i];
			break;
		}
	if (m == NULL)
	{
		if (c->nmonths == c->capacity)
		{
			c->capacity = c->capacity ? c->capacity * 2 : 64;
			c->months = c->months ? repalloc(c->months, sizeof(CashMonth) * c->capacity)
				: palloc(sizeof(CashMonth) * c->capacity);
		}
		m = &c->months[c->nmonths++];
		m->month = month;
		m->currency = currency;
		m->part = part;
		m->n = 0;
		pgb_sum_init(&m->amount);
	}
	m->n++;
	pgb_sum_add(&m->amount, pgb_dec(amount), 1);
}

/* Writes the customer summed so far, if any, and starts afresh. */
static void
cash_next_customer(RefreshState *st, CashCustomer *c)
{
	MemoryContext old = MemoryContextSwitchTo(c->cxt);

	cash_flush(st, c);
	MemoryContextSwitchTo(old);
	MemoryContextReset(c->cxt);
	c->months = NULL;
	c->capacity = 0;
}

/* A payment (part 3) or cash refund (part 4) of a customer: customer, month, currency, part, amount. */
static void
cash_row_in(RefreshState *st, HeapTuple tup, TupleDesc desc)
{
	CashCustomer *c = st->cash;
	int64		customer_id = required_int64(tup, desc, 1);
	const int64 *source = source_of(st->sources, customer_id);
	int16		part = DatumGetInt16(pgb_spi_required(tup, desc, 4, "part"));
	DateADT		month;
	int			currency;
	Numeric		amount;
	MemoryContext old;

	if (part == 4)
		st->any_refund = true;
	/* a customer that no longer exists keeps no cash (as it has no source) */
	if (source == NULL)
		return;
	month = DatumGetDateADT(pgb_spi_required(tup, desc, 2, "month"));
	currency = pgb_summary_currency(st->summary, pgb_spi_required(tup, desc, 3, "currency"));
	amount = required_numeric(tup, desc, 5);
	if (c->nmonths > 0 && customer_id != c->customer_id)
		cash_next_customer(st, c);
	c->customer_id = customer_id;
	c->source_id = *source;
	old = MemoryContextSwitchTo(c->cxt);
	cash_add(c, month, currency, part, amount);
	MemoryContextSwitchTo(old);
	pgb_summary_cash(st->summary, currency, month, *source, part, 1, amount);
}

/*
 * Step 4: the customers' payments (part 3) and cash refunds (part 4), customer by customer: one row
 * of billing._revenue_cash each, and each amount into the journal sums. Summed here rather than by
 * GROUP BY: nearly every customer month is its own group, and a numeric sum() per group cost more
 * than the rest of the refresh's SQL together.
 */
static void
add_cash(RefreshState *st)
{
	CashCustomer c;

	memset(&c, 0, sizeof(c));
	c.cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_billing revenue cash", ALLOCSET_DEFAULT_SIZES);
	c.bulk = pgb_bulk_open("_revenue_cash", cash_columns, lengthof(cash_columns), st->scope.all);
	st->cash = &c;
	each_row(psprintf("SELECT x.customer_id, x.month, x.currency, x.part, x.amount FROM ("
					  "  SELECT p.customer_id, pg_catalog.date_trunc('month', p.payment_date::timestamp)::date AS month,"
					  "         p.currency, 3::smallint AS part, p.amount"
					  "    FROM billing.payments p%s WHERE p.deleted_at IS NULL"
					  "  UNION ALL"
					  "  SELECT f.customer_id, pg_catalog.date_trunc('month', f.refund_date::timestamp)::date, f.currency,"
					  "         4::smallint, f.amount"
					  "    FROM billing.refunds f%s WHERE f.deleted_at IS NULL) x"
					  " ORDER BY x.customer_id",
					  pgb_rev_queued_join(&st->scope, "p.customer_id"),
					  pgb_rev_queued_join(&st->scope, "f.customer_id")),
			 cash_row_in, st);
	cash_next_customer(st, &c);
	st->cash = NULL;
	pgb_bulk_close(c.bulk);
	MemoryContextDelete(c.cxt);
}

static const char *const customer_source_columns[] = {"customer_id", "source_id"};

/* After a full recomputation's truncation: every customer once, in order, as COPY would. */
static void
insert_customer_sources(RefreshState *st)
{
	PgbBulk    *bulk = pgb_bulk_open("_revenue_customer_source", customer_source_columns,
									 lengthof(customer_source_columns), true);
	Datum		values[2];
	bool		nulls[2] = {false};
	int			i;

	for (i = 0; i < st->ncustomers; i++)
	{
		values[0] = Int64GetDatum(st->customers[i]);
		values[1] = Int64GetDatum(st->customer_sources[i]);
		pgb_bulk_put(bulk, values, nulls);
	}
	pgb_bulk_close(bulk);
}

static void
upsert_customer_sources(RefreshState *st)
{
	Oid			argtypes[2] = {INT8ARRAYOID, INT8ARRAYOID};
	Datum		args[2];
	int			i;
	Datum	   *customers,
			   *sources;

	customers = palloc(sizeof(Datum) * st->ncustomers);
	sources = palloc(sizeof(Datum) * st->ncustomers);
	for (i = 0; i < st->ncustomers; i++)
	{
		customers[i] = Int64GetDatum(st->customers[i]);
		sources[i] = Int64GetDatum(st->customer_sources[i]);
	}
	args[0] = PointerGetDatum(construct_array(customers, st->ncustomers, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(sources, st->ncustomers, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_with_args("INSERT INTO billing._revenue_customer_source (customer_id, source_id)"
							  " SELECT u.c, u.s FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) u(c, s) ORDER BY u.c"
							  " ON CONFLICT (customer_id) DO UPDATE SET source_id = excluded.source_id",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "writing the customers' sources failed: %s", SPI_result_code_string(SPI_result));
}

static void
write_customer_sources(RefreshState *st)
{
	if (st->ncustomers == 0)
		return;
	if (st->scope.all)
		insert_customer_sources(st);
	else
		upsert_customer_sources(st);
}

/*
 * billing._revenue_refresh(txid bigint, monthly_even boolean, past_due_days integer,
 *                          reporting_currency text, full_recompute boolean) RETURNS void
 */
Datum
pgb_revenue_refresh(PG_FUNCTION_ARGS)
{
	RefreshState *st;
	MemoryContext cxt;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("billing._revenue_refresh arguments other than reporting_currency must not be null")));
	phase_done(NULL);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	cxt = CurrentMemoryContext;
	st = palloc0(sizeof(RefreshState));
	st->scope.txid = PG_GETARG_INT64(0);
	st->options.monthly_even = PG_GETARG_BOOL(1);
	st->options.past_due_days = PG_GETARG_INT32(2);
	if (!PG_ARGISNULL(3) && VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(3)) > 0)
	{
		st->reporting_currency = PointerGetDatum(PG_GETARG_TEXT_P_COPY(3));
		st->options.fx = pgb_fx_load(text_to_cstring(PG_GETARG_TEXT_PP(3)));
	}
	st->summary = pgb_summary_create();
	st->sources = source_table();
	st->scope.all = PG_GETARG_BOOL(4);
	phase_done("setup");
	if (!st->scope.all)
		subtract_old(st);
	phase_done("subtract");
	load_sources(st);
	phase_done("sources");
	pgb_summary_sign(st->summary, 1);
	add_cash(st);
	phase_done("cash");
	/* rule C2a applies to refunds only: most refreshes recompute customers without any */
	if (st->any_refund)
		compute_refund_effects(st);
	phase_done("refund effects");
	compute(st);
	phase_done("compute");
	MemoryContextSwitchTo(cxt);
	write_customer_sources(st);
	phase_done("customer sources");
	pgb_summary_apply(st->summary);
	phase_done("summaries");
	SPI_finish();
	PG_RETURN_VOID();
}
