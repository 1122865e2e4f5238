/*
 * revenue_refund_effects.c: the rule C2a effects of the cash refunds of a computation's customers, as
 * rows of billing._refund_effects: for the refresh, which writes them, and as the set-returning
 * billing._revenue_refund_effects(txid, monthly_even) for the customers queued under txid.
 *
 * A refund counts here when it is not deleted and its credit note (if any) has no live lines with
 * service periods (those lines carry the revenue, rule C2). Against what it is applied:
 *   - no invoice: all of it is contra revenue in its month;
 *   - an invoice that counts (not draft, voided or canceled, not deleted) of the same customer: rule
 *     C2a against that invoice's recognition schedule, with the invoice's other refunds in date order;
 *   - an invoice that counts but belongs to another customer: as with no invoice, since its schedule
 *     is another customer's and would tie two customers' figures together;
 *   - an invoice that does not count: nothing, as the invoice counts nowhere.
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
#include "engines/revenue_money.h"
#include "engines/revenue_refund_effects.h"
#include "engines/revenue_schedule.h"
#include "engines/revenue_spi.h"

PG_FUNCTION_INFO_V1(pgb_revenue_refund_effects);

typedef enum RefundTarget
{
	TARGET_NONE,				/* its invoice counts nowhere: no effect */
	TARGET_UNATTACHED,
	TARGET_INVOICE
} RefundTarget;

typedef struct RefundRow
{
	PgbRefund	refund;
	RefundTarget target;
} RefundRow;

/* A line of a refunded invoice. */
typedef struct InvoiceLine
{
	int64		invoice_id;
	Numeric		amount;
	Numeric		tax;
	DateADT		start;
	DateADT		end;
} InvoiceLine;

typedef struct EffectsState
{
	PgbEffectEmit emit;
	void	   *arg;
	bool		monthly_even;
	RefundRow  *refunds;
	int			nrefunds;
	InvoiceLine *lines;
	int			nlines;
} EffectsState;

/* The scope's refunds (%s: pgb_rev_queued_join) */
#define SCOPED_REFUNDS "  FROM billing.refunds f%s"

/* Ordered by invoice (no invoice last), then as rule C2a applies them: date, then id. */
static const char *refunds_query_format =
"SELECT f.customer_id, f.currency, f.id, f.invoice_id, f.amount, f.refund_date,"
"       i.status OPERATOR(pg_catalog.<>) ALL (ARRAY['draft', 'voided', 'canceled']::text[])"
"         AND i.deleted_at IS NULL AS invoice_counts,"
"       i.customer_id OPERATOR(pg_catalog.=) f.customer_id AS own_invoice"
SCOPED_REFUNDS
"  LEFT JOIN billing.invoices i ON i.id OPERATOR(pg_catalog.=) f.invoice_id"
" WHERE f.deleted_at IS NULL"
"   AND NOT EXISTS (SELECT 1 FROM billing.credit_note_lines l"
"                     JOIN billing.credit_notes c ON c.id OPERATOR(pg_catalog.=) l.credit_note_id"
"                    WHERE l.credit_note_id OPERATOR(pg_catalog.=) f.credit_note_id"
"                      AND l.period_start IS NOT NULL AND c.deleted_at IS NULL"
"                      AND c.status OPERATOR(pg_catalog.<>) ALL (ARRAY['draft', 'voided']::text[]))"
" ORDER BY f.invoice_id, f.refund_date, f.id";

/* The counting lines of every invoice a refund of the scope names, by invoice. */
static const char *lines_query_format =
"SELECT l.doc_id, l.amount, l.tax, l.period_start, l.period_end"
"  FROM billing._revenue_invoice_lines l"
" WHERE l.doc_id OPERATOR(pg_catalog.=) ANY (SELECT f.invoice_id" SCOPED_REFUNDS
"                                            WHERE f.deleted_at IS NULL)"
" ORDER BY l.doc_id";

static void
read_refund(RefundRow *row, HeapTuple tup, TupleDesc desc)
{
	PgbRefund  *r = &row->refund;
	bool		present;

	r->customer_id = DatumGetInt64(pgb_spi_required(tup, desc, 1, "refund customer"));
	r->currency = PointerGetDatum(PG_DETOAST_DATUM_COPY(pgb_spi_required(tup, desc, 2, "refund currency")));
	r->id = DatumGetInt64(pgb_spi_required(tup, desc, 3, "refund id"));
	r->invoice_id = pgb_spi_int64(tup, desc, 4, &r->has_invoice);
	r->amount = pgb_spi_numeric(tup, desc, 5);
	r->date = pgb_spi_date(tup, desc, 6, &present);
	if (r->amount == NULL || !present)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("refund %lld has no amount or date", (long long) r->id)));
	pgb_check_date(r->date, "refund date", r->customer_id);
	if (!r->has_invoice)
		row->target = TARGET_UNATTACHED;
	else if (!pgb_spi_bool(tup, desc, 7))
		row->target = TARGET_NONE;
	else
		row->target = pgb_spi_bool(tup, desc, 8) ? TARGET_INVOICE : TARGET_UNATTACHED;
}

static void
read_line(InvoiceLine *l, HeapTuple tup, TupleDesc desc)
{
	bool		has_start,
				has_end;

	l->invoice_id = DatumGetInt64(pgb_spi_required(tup, desc, 1, "invoice of a line"));
	l->amount = pgb_spi_numeric(tup, desc, 2);
	l->tax = pgb_spi_numeric(tup, desc, 3);
	l->start = pgb_spi_date(tup, desc, 4, &has_start);
	l->end = pgb_spi_date(tup, desc, 5, &has_end);
	if (l->amount == NULL || l->tax == NULL || !has_start || !has_end)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a line of invoice %lld has no amount, tax or service period", (long long) l->invoice_id)));
}

/* Runs one of the two queries for the scope and returns its rows (the caller frees them). */
static SPITupleTable *
run_query(const char *format, const PgbRevScope *scope, uint64 *nrows)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(scope->txid)};
	char	   *query = psprintf(format, pgb_rev_queued_join(scope, "f.customer_id"));

	if (SPI_execute_with_args(query, 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed for a revenue refund query");
	*nrows = SPI_processed;
	if (SPI_processed > (uint64) (MaxAllocSize / sizeof(RefundRow)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many refunds or refunded lines in one revenue refresh")));
	return SPI_tuptable;
}

static void
load_inputs(EffectsState *st, const PgbRevScope *scope)
{
	uint64		n,
				i;
	SPITupleTable *tt = run_query(refunds_query_format, scope, &n);

	st->refunds = palloc(sizeof(RefundRow) * Max(n, 1));
	for (i = 0; i < n; i++)
		read_refund(&st->refunds[i], tt->vals[i], tt->tupdesc);
	st->nrefunds = (int) n;
	SPI_freetuptable(tt);
	tt = run_query(lines_query_format, scope, &n);
	st->lines = palloc(sizeof(InvoiceLine) * Max(n, 1));
	for (i = 0; i < n; i++)
		read_line(&st->lines[i], tt->vals[i], tt->tupdesc);
	st->nlines = (int) n;
	SPI_freetuptable(tt);
}

void
pgb_refund_effect_values(const PgbRefundEffect *e, Datum *values, bool *nulls)
{
	memset(nulls, 0, sizeof(bool) * PGB_EFFECT_COLUMNS);
	values[0] = Int64GetDatum(e->refund->customer_id);
	values[1] = e->refund->currency;
	values[2] = Int64GetDatum(e->refund->invoice_id);
	nulls[2] = !e->has_invoice;
	values[3] = Int64GetDatum(e->refund->id);
	values[4] = DateADTGetDatum(e->month);
	values[5] = NumericGetDatum(e->contra);
	values[6] = NumericGetDatum(e->excess);
	values[7] = NumericGetDatum(e->tax);
	values[8] = NumericGetDatum(e->adjust);
}

/* Months of the invoice's lines[from .. to), and which of them a line touches. */
static void
schedule_range(const EffectsState *st, int from, int to, int64 customer_id, PgbInvoiceSchedule *s)
{
	int			last = PG_INT32_MIN,
				i;

	s->first = PG_INT32_MAX;
	for (i = from; i < to; i++)
	{
		const InvoiceLine *l = &st->lines[i];

		pgb_check_date(l->start, "service period start", customer_id);
		pgb_check_date(l->end, "service period end", customer_id);
		s->first = Min(s->first, pgb_month_of(l->start));
		last = Max(last, pgb_schedule_last_month(l->start, l->end));
	}
	s->nmonths = 0;
	if (to > from)
	{
		pgb_check_span(s->first, last, customer_id);
		s->nmonths = last - s->first + 1;
	}
}

/* The invoice's recognition by month (rule C2, the refresh's recognition setting) and its totals. */
static void
build_schedule(const EffectsState *st, int from, int to, int64 customer_id, PgbInvoiceSchedule *s)
{
	PgbMonthSum *sums;
	int			i,
				m;

	schedule_range(st, from, to, customer_id, s);
	sums = palloc(sizeof(PgbMonthSum) * Max(s->nmonths, 1));
	s->amounts = palloc(sizeof(Numeric) * Max(s->nmonths, 1));
	s->present = palloc0(sizeof(bool) * Max(s->nmonths, 1));
	for (m = 0; m < s->nmonths; m++)
		pgb_month_sum_init(&sums[m]);
	s->net = s->gross = pgb_num_zero();
	for (i = from; i < to; i++)
	{
		const InvoiceLine *l = &st->lines[i];

		if (l->end < l->start)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("a line of invoice %lld ends before it starts", (long long) l->invoice_id)));
		pgb_schedule_line(l->amount, l->start, l->end, st->monthly_even, sums, s->first);
		for (m = pgb_month_of(l->start); m <= pgb_schedule_last_month(l->start, l->end); m++)
			s->present[m - s->first] = true;
		s->net = pgb_num_add(s->net, l->amount);
		s->gross = pgb_num_add(s->gross, pgb_num_add(l->amount, l->tax));
	}
	for (m = 0; m < s->nmonths; m++)
		s->amounts[m] = pgb_month_sum_value(&sums[m]);
}

/*
 * The refunds[from .. to) of one invoice: the unattached ones on their own, those of the invoice's
 * customer against its schedule (lines from *next on, which are ordered by invoice like the refunds).
 */
static void
invoice_refunds(EffectsState *st, int from, int to, int *next)
{
	int64		invoice_id = st->refunds[from].refund.invoice_id;
	const PgbRefund **own = palloc(sizeof(PgbRefund *) * (to - from));
	int			nown = 0,
				first_line,
				i;

	for (i = from; i < to; i++)
	{
		if (st->refunds[i].target == TARGET_UNATTACHED)
			pgb_refund_unattached(&st->refunds[i].refund, st->emit, st->arg);
		else if (st->refunds[i].target == TARGET_INVOICE)
			own[nown++] = &st->refunds[i].refund;
	}
	while (*next < st->nlines && st->lines[*next].invoice_id < invoice_id)
		(*next)++;
	first_line = *next;
	while (*next < st->nlines && st->lines[*next].invoice_id == invoice_id)
		(*next)++;
	if (nown > 0)
	{
		PgbInvoiceSchedule schedule;

		build_schedule(st, first_line, *next, own[0]->customer_id, &schedule);
		pgb_refunds_of_invoice(&schedule, own, nown, st->emit, st->arg);
	}
}

static void
compute_effects(EffectsState *st)
{
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "pg_billing refund effects",
											   ALLOCSET_DEFAULT_SIZES);
	int			next_line = 0,
				i = 0;

	while (i < st->nrefunds)
	{
		int			j = i + 1;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(work);
		if (!st->refunds[i].refund.has_invoice)
			pgb_refund_unattached(&st->refunds[i].refund, st->emit, st->arg);
		else
		{
			while (j < st->nrefunds && st->refunds[j].refund.has_invoice &&
				   st->refunds[j].refund.invoice_id == st->refunds[i].refund.invoice_id)
				j++;
			invoice_refunds(st, i, j, &next_line);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(work);
		i = j;
	}
}

void
pgb_refund_effects(const PgbRevScope *scope, bool monthly_even, PgbEffectEmit emit, void *arg)
{
	EffectsState st;

	memset(&st, 0, sizeof(st));
	st.emit = emit;
	st.arg = arg;
	st.monthly_even = monthly_even;
	load_inputs(&st, scope);
	compute_effects(&st);
}

typedef struct EffectsResult
{
	Tuplestorestate *store;
	TupleDesc	desc;
} EffectsResult;

static void
return_effect(void *arg, const PgbRefundEffect *e)
{
	EffectsResult *result = (EffectsResult *) arg;
	Datum		values[PGB_EFFECT_COLUMNS];
	bool		nulls[PGB_EFFECT_COLUMNS];

	pgb_refund_effect_values(e, values, nulls);
	tuplestore_putvalues(result->store, result->desc, values, nulls);
}

/*
 * billing._revenue_refund_effects(txid bigint, monthly_even boolean) RETURNS SETOF billing._refund_effects
 */
Datum
pgb_revenue_refund_effects(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EffectsResult result;
	PgbRevScope scope = {0, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("billing._revenue_refund_effects arguments must not be null")));
	InitMaterializedSRF(fcinfo, 0);
	result.store = rsinfo->setResult;
	result.desc = rsinfo->setDesc;
	scope.txid = PG_GETARG_INT64(0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgb_refund_effects(&scope, PG_GETARG_BOOL(1), return_effect, &result);
	SPI_finish();
	return (Datum) 0;
}
