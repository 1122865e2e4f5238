/*
 * store.c: every SPI call of a sync. One prepared plan per statement, kept across transactions;
 * each table of a page goes in with one statement (unnest of text[] columns): the upsert, or a plain
 * INSERT when none of the page's records is stored yet (docs/store.md).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"

#include "store/store.h"
#include "store/store_sql.h"

typedef enum
{
	P_PLACEHOLDERS, P_CUSTOMERS, P_PRODUCTS, P_SUBSCRIPTIONS, P_INVOICES, P_DEL_INV_LINES, P_INV_LINES,
	P_PAYMENTS, P_REFUNDS, P_CREDIT_NOTES, P_DEL_CN_LINES, P_CN_LINES, P_ALLOCATIONS, P_STATEMENTS,
	P_STATEMENTS_UNMATCHED, P_MARK_SEEN, P_CLEAR_SEEN, P_CHECKPOINT, P_READ_CHECKPOINT, P_MARK_RECONCILE,
	P_PROGRESS, P_CONTRACTS, P_PAYMENTS_LISTED, P_REFUNDS_LISTED, P_ACCOUNTS, P_TAX_RATES, P_TRANSACTIONS, P_COUNT
} PlanId;

static SPIPlanPtr plans[P_COUNT];

/*
 * SPI leaves CurrentMemoryContext at the SPI connection's procedure context after every call. A sync
 * holds one connection for its whole run, so whatever the caller allocated after a statement (the
 * next table's text[] columns, copied ids, the connector's next page) went there and lived to the
 * end of the run: ~15 kB per invoice, 1.5 GB for a site of 100,000. These wrappers return to the
 * caller's context (the run's per-page context, reset between pages).
 *
 * Nor does SPI free a statement's result (its SPITupleTable, a memory context of its own under the
 * connection's) before the connection ends, not even at a commit: ~32 kB per page of 200 invoices
 * (the upsert's RETURNING rows), 16 MB over a sync of 100,000. Every caller here has read (and
 * copied) the previous statement's result before it runs the next, so the wrappers free it first.
 */
static void (*between_statements) (void *arg) = NULL;
static void *between_arg = NULL;

void
pgb_store_set_between_statements(void (*fn) (void *arg), void *arg)
{
	between_statements = fn;
	between_arg = arg;
}

static int
spi_run_plan(SPIPlanPtr p, Datum *args, const char *nulls, bool read_only, long count)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc;

	SPI_freetuptable(SPI_tuptable);
	rc = SPI_execute_plan(p, args, nulls, read_only, count);
	MemoryContextSwitchTo(cxt);
	if (between_statements)
		between_statements(between_arg);
	return rc;
}

static int
spi_run_args(const char *sql, int nargs, Oid *types, Datum *args, const char *nulls, bool read_only, long count)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc;

	SPI_freetuptable(SPI_tuptable);
	rc = SPI_execute_with_args(sql, nargs, types, args, nulls, read_only, count);
	MemoryContextSwitchTo(cxt);
	if (between_statements)
		between_statements(between_arg);
	return rc;
}

/* Prepares (once per session) a statement with $1 bigint and the rest text/text[]. */
static SPIPlanPtr
plan(PlanId id, const char *sql, int nargs, int ntext)
{
	Oid			types[40];
	MemoryContext cxt;

	if (plans[id])
		return plans[id];
	Assert(nargs <= 40);
	types[0] = INT8OID;
	for (int i = 1; i < nargs; i++)
		types[i] = i <= ntext ? TEXTOID : TEXTARRAYOID;
	cxt = CurrentMemoryContext;
	plans[id] = SPI_prepare(sql, nargs, types);
	MemoryContextSwitchTo(cxt);
	if (plans[id] == NULL)
		elog(ERROR, "pg_billing: could not prepare a store statement: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plans[id]);
	return plans[id];
}

/* Prepares (once per session) a statement with the given argument types. */
static SPIPlanPtr
plan_typed(PlanId id, const char *sql, int nargs, Oid *types)
{
	MemoryContext cxt;

	if (plans[id])
		return plans[id];
	cxt = CurrentMemoryContext;
	plans[id] = SPI_prepare(sql, nargs, types);
	MemoryContextSwitchTo(cxt);
	if (plans[id] == NULL)
		elog(ERROR, "pg_billing: could not prepare a store statement: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plans[id]);
	return plans[id];
}

/* Prepares (once per session) a statement over rows: $1 source, each column a text[], raw a jsonb[]. */
static SPIPlanPtr
rows_plan(PlanId id, const char *sql, const PgbRows *rows)
{
	Oid			types[40];

	Assert(rows->ncols < 40);
	types[0] = INT8OID;
	for (int c = 0; c < rows->ncols; c++)
		types[1 + c] = c == rows->raw_col ? JSONBARRAYOID : TEXTARRAYOID;
	return plan_typed(id, sql, 1 + rows->ncols, types);
}

/* The raw column of rows as a jsonb[] datum: its cells are jsonb already (pgb_j_raw). */
static Datum
raw_column(PgbRows *rows)
{
	int			n = rows->nrows;
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
	{
		char	   *v = rows->v[(size_t) i * rows->ncols + rows->raw_col];

		nulls[i] = v == NULL;
		d[i] = PointerGetDatum(v);
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, JSONBOID, -1, false, TYPALIGN_INT));
}

/*
 * One column of rows as a text[] datum. The values are laid out as text in one buffer first (a
 * page has thousands of them: one allocation each cost more than the copy).
 */
static Datum
column(PgbRows *rows, int col)
{
	int			n = rows->nrows;
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	size_t	   *lens = palloc(sizeof(size_t) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	Size		total = 0;
	char	   *buf;

	for (int i = 0; i < n; i++)
	{
		char	   *v = rows->v[(size_t) i * rows->ncols + col];

		nulls[i] = v == NULL;
		lens[i] = v ? strlen(v) : 0;
		if (v)
			total += INTALIGN(VARHDRSZ + lens[i]);
	}
	buf = palloc(Max(total, 1));
	for (int i = 0; i < n; i++)
	{
		text	   *t = (text *) buf;

		d[i] = (Datum) 0;
		if (nulls[i])
			continue;
		SET_VARSIZE(t, VARHDRSZ + lens[i]);
		memcpy(VARDATA(t), rows->v[(size_t) i * rows->ncols + col], lens[i]);
		d[i] = PointerGetDatum(t);
		buf += INTALIGN(VARHDRSZ + lens[i]);
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

/* $1 source, then every column of rows, as rows_plan types them; returns how many. */
static int
row_args(int64 source_id, PgbRows *rows, Datum *args, char *nulls)
{
	int			n = 0;

	args[n++] = Int64GetDatum(source_id);
	for (int c = 0; c < rows->ncols; c++)
		args[n++] = c == rows->raw_col ? raw_column(rows) : column(rows, c);
	memset(nulls, ' ', n);
	return n;
}

/*
 * The record of rows a constraint violation's detail ("Failing row contains (id, source or document
 * id, external_id, ...)") shows: the first two values are numbers, the third the external id, which
 * must be one of the page's (column idcol of rows). NULL when the detail is another or names none.
 */
static const char *
failing_record(const char *detail, PgbRows *rows, int idcol)
{
	const char *p;
	const char *best = NULL;
	size_t		best_len = 0;

	if (detail == NULL || strncmp(detail, "Failing row contains (", 22) != 0)
		return NULL;
	p = detail + 22;
	for (int k = 0; k < 2; k++)
	{
		p = strstr(p, ", ");
		if (p == NULL)
			return NULL;
		p += 2;
	}
	for (int i = 0; i < rows->nrows; i++)
	{
		const char *v = rows->v[(size_t) i * rows->ncols + idcol];
		size_t		len = v ? strlen(v) : 0;

		if (v && len > best_len && strncmp(p, v, len) == 0 && (p[len] == ',' || p[len] == ')'))
		{
			best = v;
			best_len = len;
		}
	}
	return best;
}

/*
 * A store statement failed: a constraint violation that shows the failing row is re-raised naming
 * the record instead (the row's values are the vendor's data, which a run's error never copies).
 * Called in PG_CATCH with the error data copied and the error state flushed; does not return.
 */
static void
rethrow_naming_record(ErrorData *edata, const char *table, PgbRows *rows, int idcol)
{
	const char *id = failing_record(edata->detail, rows, idcol);

	if (id != NULL)
		edata->detail = psprintf("The record is \"%s\" (billing.%s); the failing row is not shown.", id, table);
	ReThrowError(edata);
}

/* Runs a store statement over rows (args as row_args made them); a failing record is named. */
static void
run_rows(SPIPlanPtr p, Datum *args, const char *nulls, const char *table, PgbRows *rows, int idcol)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		int			rc = spi_run_plan(p, args, nulls, false, 0);

		if (rc < 0)
			elog(ERROR, "pg_billing: store statement failed: %s", SPI_result_code_string(rc));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		rethrow_naming_record(edata, table, rows, idcol);
	}
	PG_END_TRY();
}

/* Runs a plan over all columns of rows: $1 source, then the columns. */
static void
exec_rows(SPIPlanPtr p, int64 source_id, PgbRows *rows, const char *table, int idcol)
{
	Datum		args[40];
	char		nulls[40];

	(void) row_args(source_id, rows, args, nulls);
	run_rows(p, args, nulls, table, rows, idcol);
}

/*
 * Stores rows keyed on (source_id, external_id), external id in column 0, with the upsert;
 * SPI_tuptable then holds the statement's RETURNING rows, if it has any.
 */
static void
upsert_rows(PlanId id, const char *sql, const char *table, int64 source_id, PgbRows *rows)
{
	Datum		args[40];
	char		nulls[40];

	(void) row_args(source_id, rows, args, nulls);
	run_rows(rows_plan(id, sql, rows), args, nulls, table, rows, 0);
}

/* A text[] of n ids. */
static Datum
text_array(Datum *ids, int n)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};

	return PointerGetDatum(construct_md_array(ids, NULL, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

static int
cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The documents an upsert wrote (its RETURNING rows), for the rows that belong to them. */
typedef struct WrittenDocs
{
	char	  **ids;			/* external ids, sorted for rows_of_docs */
	int			n;
	Datum		existed;		/* text[]: those stored before (updated, not inserted) */
	int			nexisted;
} WrittenDocs;

/*
 * Counts the RETURNING (external_id, inserted) rows of the last statement. *written (when asked)
 * gets their ids, and those of them stored before: only a document stored before can have lines
 * to replace.
 */
static void
count_returned(int nrows_in, PgbCounts *counts, WrittenDocs *written)
{
	Datum	   *old = written ? palloc(sizeof(Datum) * Max(SPI_processed, 1)) : NULL;

	if (written)
	{
		written->ids = palloc(sizeof(char *) * Max(SPI_processed, 1));
		written->n = (int) SPI_processed;
		written->nexisted = 0;
	}
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		inserted = DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));

		if (written)
		{
			Datum		id = datumCopy(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull), false, -1);

			written->ids[i] = TextDatumGetCString(id);
			if (!inserted)
				old[written->nexisted++] = id;
		}
		if (counts)
		{
			if (inserted)
				counts->inserted++;
			else
				counts->updated++;
		}
	}
	if (counts)
		counts->unchanged += nrows_in - (int64) SPI_processed;
	if (written)
	{
		qsort(written->ids, written->n, sizeof(char *), cmp_cstring);
		written->existed = text_array(old, written->nexisted);
	}
}

static void
placeholders(int64 source_id, PgbRows *rows, int col)
{
	Datum		args[2];

	bool		any = false;

	/* an INSERT of no rows still fires the table's statement triggers: none is run */
	for (int i = 0; i < rows->nrows && !any; i++)
		any = rows->v[(size_t) i * rows->ncols + col] != NULL;
	if (!any)
		return;
	args[0] = Int64GetDatum(source_id);
	args[1] = column(rows, col);
	if (spi_run_plan(plan(P_PLACEHOLDERS, SQL_PLACEHOLDER_CUSTOMERS, 2, 0), args, NULL, false, 0) < 0)
		elog(ERROR, "pg_billing: could not store customer references");
}

static void
exec_ids(SPIPlanPtr p, int64 source_id, Datum ids)
{
	Datum		args[2] = {Int64GetDatum(source_id), ids};

	if (spi_run_plan(p, args, NULL, false, 0) < 0)
		elog(ERROR, "pg_billing: store statement failed");
}

/*
 * The rows whose column col names one of docs: the lines, payments and refunds of the documents
 * just written (those of a document left unchanged are not written again). Picked here, not with
 * "= ANY ($2)" in the statement, whose kept generic plan compares every row with every id: some
 * 100,000 comparisons for a page of 200 invoices, about a seventh of the time of their lines.
 */
static PgbRows *
rows_of_docs(PgbRows *rows, int col, const WrittenDocs *docs)
{
	PgbRows    *out = palloc(sizeof(PgbRows));
	size_t		width = sizeof(char *) * rows->ncols;

	*out = *rows;
	out->v = palloc(width * Max(rows->nrows, 1));
	out->nrows = 0;
	for (int i = 0; i < rows->nrows; i++)
	{
		char	  **row = &rows->v[(size_t) i * rows->ncols];

		if (row[col] != NULL && bsearch(&row[col], docs->ids, docs->n, sizeof(char *), cmp_cstring) != NULL)
			memcpy(&out->v[(size_t) out->nrows++ * rows->ncols], row, width);
	}
	out->cap = out->nrows;
	return out;
}

static void
store_invoices(int64 source_id, PgbPage *page, PgbCounts *counts)
{
	PgbRows    *inv = &page->t[PGB_T_INVOICES];
	WrittenDocs docs;
	PgbRows    *lines;
	PgbRows    *payments;
	PgbRows    *refunds;

	placeholders(source_id, inv, C_INV_CUSTOMER);
	upsert_rows(P_INVOICES, SQL_INVOICES, "invoices", source_id, inv);
	count_returned(inv->nrows, counts, &docs);
	if (docs.n == 0)
		return;
	/* the lines of a changed document are replaced whole; a document just inserted has none */
	if (docs.nexisted > 0)
		exec_ids(plan(P_DEL_INV_LINES, SQL_DELETE_INVOICE_LINES, 2, 0), source_id, docs.existed);
	lines = rows_of_docs(&page->t[PGB_T_INVOICE_LINES], C_LIN_DOC, &docs);
	/* a line billing another company than its invoice's names it: stored first like the invoice's */
	placeholders(source_id, lines, C_LIN_CUSTOMER);
	if (lines->nrows > 0)
		exec_rows(rows_plan(P_INV_LINES, SQL_INVOICE_LINES, lines), source_id, lines, "invoice_lines",
				  C_LIN_EXT);
	payments = rows_of_docs(&page->t[PGB_T_PAYMENTS], C_PAY_INVOICE, &docs);
	if (payments->nrows > 0)
		upsert_rows(P_PAYMENTS, SQL_PAYMENTS, "payments", source_id, payments);
	refunds = rows_of_docs(&page->t[PGB_T_REFUNDS], C_REF_INVOICE, &docs);
	if (refunds->nrows > 0)
		upsert_rows(P_REFUNDS, SQL_REFUNDS, "refunds", source_id, refunds);
}

static void
store_credit_notes(int64 source_id, PgbPage *page, PgbCounts *counts)
{
	PgbRows    *cn = &page->t[PGB_T_CREDIT_NOTES];
	WrittenDocs docs;
	PgbRows    *lines;
	PgbRows    *allocations;

	placeholders(source_id, cn, C_CN_CUSTOMER);
	upsert_rows(P_CREDIT_NOTES, SQL_CREDIT_NOTES, "credit_notes", source_id, cn);
	count_returned(cn->nrows, counts, &docs);
	if (docs.n == 0)
		return;
	/* the lines of a changed document are replaced whole; a document just inserted has none */
	if (docs.nexisted > 0)
		exec_ids(plan(P_DEL_CN_LINES, SQL_DELETE_CREDIT_NOTE_LINES, 2, 0), source_id, docs.existed);
	lines = rows_of_docs(&page->t[PGB_T_CREDIT_NOTE_LINES], C_LIN_DOC, &docs);
	if (lines->nrows > 0)
		exec_rows(rows_plan(P_CN_LINES, SQL_CREDIT_NOTE_LINES, lines), source_id, lines,
				  "credit_note_lines", C_LIN_EXT);
	allocations = rows_of_docs(&page->t[PGB_T_ALLOCATIONS], C_ALC_NOTE, &docs);
	if (allocations->nrows > 0)
		upsert_rows(P_ALLOCATIONS, SQL_ALLOCATIONS, "credit_note_allocations", source_id,
					allocations);
}

/* How many of ids are stored in table (after an upsert: those it did not leave out). */
static int64
stored_count(int64 source_id, const char *table, Datum ids)
{
	char	   *sql = psprintf("SELECT pg_catalog.count(*) FROM billing.%s t WHERE t.source_id = $1"
							   " AND t.external_id = ANY ($2)", table);
	Oid			types[2] = {INT8OID, TEXTARRAYOID};
	Datum		args[2] = {Int64GetDatum(source_id), ids};
	bool		isnull;

	/* not read-only: it must see the rows the upsert just wrote */
	if (spi_run_args(sql, 2, types, args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pg_billing: could not count stored records");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* Upserts payments or refunds listed on their own; adds to counts (left-out rows are skipped). */
static void
store_listed_rows(int64 source_id, PlanId id, const char *sql, const char *table, PgbRows *rows,
				  PgbCounts *counts)
{
	int64		changed;
	int64		stored;

	upsert_rows(id, sql, table, source_id, rows);
	changed = (int64) SPI_processed;
	count_returned((int) changed, counts, NULL);
	stored = stored_count(source_id, table, column(rows, 0));
	counts->unchanged += stored - changed;
	counts->skipped += rows->nrows - stored;
	if (rows->nrows > stored && counts->skipped_example == NULL)
		counts->skipped_example = psprintf("%s -- a record was not stored: the document it pays or refunds is a supplier's (payable) or is not stored",
										   table);
}

/*
 * Payments and refunds listed by an entity of their own (Xero /Payments, Splynx), not inside their
 * documents: each takes its customer from the stored document it pays or refunds. One the store
 * leaves out (a supplier's bill, or a document not stored) is counted as skipped.
 */
static void
store_listed(int64 source_id, PgbPage *page, PgbCounts *counts)
{
	if (page->t[PGB_T_PAYMENTS].nrows > 0)
	{
		/* a payment naming its customer (Splynx) may come before the customer is listed */
		placeholders(source_id, &page->t[PGB_T_PAYMENTS], C_PAY_CUSTOMER);
		store_listed_rows(source_id, P_PAYMENTS_LISTED, SQL_PAYMENTS_LISTED, "payments",
						  &page->t[PGB_T_PAYMENTS], counts);
	}
	if (page->t[PGB_T_REFUNDS].nrows > 0)
		store_listed_rows(source_id, P_REFUNDS_LISTED, SQL_REFUNDS_LISTED, "refunds",
						  &page->t[PGB_T_REFUNDS], counts);
}

/*
 * A statement takes its customer and currency from its subscription: one whose subscription is
 * not stored (or has no currency) waits for a later run. It is counted as skipped, never as
 * unchanged, and the first one is named so that the run can say so.
 */
static void
store_statements(int64 source_id, PgbRows *st, PgbCounts *counts)
{
	Datum		args[3] = {Int64GetDatum(source_id), column(st, C_STM_EXT), column(st, C_STM_SUBSCRIPTION)};
	int64		skipped;

	if (spi_run_plan(plan(P_STATEMENTS_UNMATCHED, SQL_STATEMENTS_UNMATCHED, 3, 0), args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_billing: could not match statements to subscriptions");
	skipped = (int64) SPI_processed;
	if (skipped > 0 && counts->skipped_example == NULL)
		counts->skipped_example = psprintf("statement %s of subscription %s",
										   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
										   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	upsert_rows(P_STATEMENTS, SQL_STATEMENTS, "statements", source_id, st);
	count_returned(st->nrows - (int) skipped, counts, NULL);
	counts->skipped += skipped;
}

void
pgb_store_page(int64 source_id, PgbPage *page, PgbCounts *counts)
{
	PgbRows    *t = page->t;

	if (t[PGB_T_CUSTOMERS].nrows > 0)
	{
		upsert_rows(P_CUSTOMERS, SQL_CUSTOMERS, "customers", source_id, &t[PGB_T_CUSTOMERS]);
		/* counted when customers are the entity; a customer a document names (Pax8's partner) is not */
		count_returned(t[PGB_T_CUSTOMERS].nrows, page->primary == PGB_T_CUSTOMERS ? counts : NULL, NULL);
	}
	if (t[PGB_T_PRODUCTS].nrows > 0)
	{
		upsert_rows(P_PRODUCTS, SQL_PRODUCTS, "products", source_id, &t[PGB_T_PRODUCTS]);
		/* counted when products are the entity; the products a subscription names are not */
		count_returned(t[PGB_T_PRODUCTS].nrows, page->primary == PGB_T_PRODUCTS ? counts : NULL, NULL);
	}
	if (t[PGB_T_CONTRACTS].nrows > 0)
	{
		placeholders(source_id, &t[PGB_T_CONTRACTS], C_CON_CUSTOMER);
		upsert_rows(P_CONTRACTS, SQL_CONTRACTS, "contracts", source_id, &t[PGB_T_CONTRACTS]);
		count_returned(t[PGB_T_CONTRACTS].nrows, counts, NULL);
	}
	if (t[PGB_T_SUBSCRIPTIONS].nrows > 0)
	{
		placeholders(source_id, &t[PGB_T_SUBSCRIPTIONS], C_SUB_CUSTOMER);
		upsert_rows(P_SUBSCRIPTIONS, SQL_SUBSCRIPTIONS, "subscriptions", source_id,
				  &t[PGB_T_SUBSCRIPTIONS]);
		count_returned(t[PGB_T_SUBSCRIPTIONS].nrows, counts, NULL);
	}
	if (t[PGB_T_INVOICES].nrows > 0)
		store_invoices(source_id, page, counts);
	if (t[PGB_T_CREDIT_NOTES].nrows > 0)
		store_credit_notes(source_id, page, counts);
	if (t[PGB_T_STATEMENTS].nrows > 0)
		store_statements(source_id, &t[PGB_T_STATEMENTS], counts);
	if (page->primary == PGB_T_PAYMENTS)
		store_listed(source_id, page, counts);
	if (t[PGB_T_ACCOUNTS].nrows > 0)
	{
		upsert_rows(P_ACCOUNTS, SQL_ACCOUNTS, "source_accounts", source_id, &t[PGB_T_ACCOUNTS]);
		count_returned(t[PGB_T_ACCOUNTS].nrows, counts, NULL);
	}
	if (t[PGB_T_TAX_RATES].nrows > 0)
	{
		upsert_rows(P_TAX_RATES, SQL_TAX_RATES, "source_tax_rates", source_id, &t[PGB_T_TAX_RATES]);
		count_returned(t[PGB_T_TAX_RATES].nrows, counts, NULL);
	}
	if (t[PGB_T_TRANSACTIONS].nrows > 0)
	{
		placeholders(source_id, &t[PGB_T_TRANSACTIONS], C_TRX_CUSTOMER);
		upsert_rows(P_TRANSACTIONS, SQL_TRANSACTIONS, "source_transactions", source_id, &t[PGB_T_TRANSACTIONS]);
		count_returned(t[PGB_T_TRANSACTIONS].nrows, counts, NULL);
	}
}

void
pgb_store_mark_seen(int64 source_id, const char *entity, PgbPage *page)
{
	Datum		args[3];

	if (page->t[page->primary].nrows == 0)
		return;
	args[0] = Int64GetDatum(source_id);
	args[1] = CStringGetTextDatum(entity);
	args[2] = column(&page->t[page->primary], 0);	/* external id is column 0 of every primary table */
	if (spi_run_plan(plan(P_MARK_SEEN, SQL_MARK_SEEN, 3, 1), args, NULL, false, 0) < 0)
		elog(ERROR, "pg_billing: could not record seen records");
}

void
pgb_store_clear_seen(int64 source_id, const char *entity)
{
	Datum		args[2] = {Int64GetDatum(source_id), CStringGetTextDatum(entity)};

	if (spi_run_plan(plan(P_CLEAR_SEEN, SQL_CLEAR_SEEN, 2, 1), args, NULL, false, 0) < 0)
		elog(ERROR, "pg_billing: could not clear seen records");
}

/*
 * The table of an entity's records. A connector's entity whose table is not one a reconcile may
 * tombstone is a programming error in that connector: refused, never guessed.
 */
static const char *
entity_table(const PgbEntity *e)
{
	switch (e->table)
	{
		case PGB_T_CUSTOMERS:
			return "customers";
		case PGB_T_PRODUCTS:
			return "products";
		case PGB_T_SUBSCRIPTIONS:
			return "subscriptions";
		case PGB_T_INVOICES:
			return "invoices";
		case PGB_T_CREDIT_NOTES:
			return "credit_notes";
		case PGB_T_STATEMENTS:
			return "statements";
		case PGB_T_CONTRACTS:
			return "contracts";
		case PGB_T_PAYMENTS:
			return "payments";
		case PGB_T_ACCOUNTS:
			return "source_accounts";
		case PGB_T_TAX_RATES:
			return "source_tax_rates";
		case PGB_T_TRANSACTIONS:
			return "source_transactions";
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("entity \"%s\" has no table the store can reconcile", e->name)));
	}
	return NULL;				/* not reached */
}

/*
 * Rows a reconcile may tombstone: live ones (a voided invoice is kept as it is), but not those the
 * connector makes itself (ids starting with the entity's own_prefix), which no list shows.
 */
static char *
live_rows(const PgbEntity *e)
{
	return psprintf("billing.%s t WHERE t.source_id = $1 AND t.deleted_at IS NULL%s%s%s%s", entity_table(e),
					e->table == PGB_T_INVOICES ? " AND t.status <> 'voided'" : "",
					e->own_prefix ? " AND NOT pg_catalog.starts_with(t.external_id, " : "",
					e->own_prefix ? quote_literal_cstr(e->own_prefix) : "", e->own_prefix ? ")" : "");
}

#define NOT_SEEN \
	" AND NOT EXISTS (SELECT 1 FROM billing._sync_seen s WHERE s.source_id = $1" \
	" AND s.entity = $2 AND s.external_id = t.external_id)"

static Datum
ids_array(char **ids, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(ids[i]);
	return PointerGetDatum(construct_md_array(d, NULL, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

void
pgb_store_unseen_stats(int64 source_id, const PgbEntity *e, int64 *unseen, int64 *live)
{
	/*
	 * The anti-join stands in a WHERE clause, where the planner can make it a join that spills to
	 * disk beyond work_mem; inside an aggregate's FILTER it could only be a subplan per row (or a
	 * hashed one, holding every seen id of the pass in memory).
	 */
	char	   *rows = live_rows(e);
	char	   *sql = psprintf("SELECT (SELECT pg_catalog.count(*) FROM %s" NOT_SEEN "), (SELECT pg_catalog.count(*) FROM %s)",
							   rows, rows);
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {Int64GetDatum(source_id), CStringGetTextDatum(e->name)};
	bool		isnull;

	if (spi_run_args(sql, 2, types, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pg_billing: could not count the records a reconcile did not see");
	*unseen = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*live = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
}

int
pgb_store_unseen_batch(int64 source_id, const PgbEntity *e, int max, char ***ids)
{
	char	   *sql = psprintf("SELECT t.external_id FROM %s" NOT_SEEN " ORDER BY t.external_id LIMIT $3",
							   live_rows(e));
	Oid			types[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		args[3] = {Int64GetDatum(source_id), CStringGetTextDatum(e->name), Int32GetDatum(max)};
	int			n;

	if (spi_run_args(sql, 3, types, args, NULL, true, max) != SPI_OK_SELECT)
		elog(ERROR, "pg_billing: could not read the records a reconcile did not see");
	n = (int) SPI_processed;
	*ids = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		(*ids)[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
	return n;
}

void
pgb_store_mark_seen_ids(int64 source_id, const char *entity, char **ids, int n)
{
	Datum		args[3];

	if (n == 0)
		return;
	args[0] = Int64GetDatum(source_id);
	args[1] = CStringGetTextDatum(entity);
	args[2] = ids_array(ids, n);
	if (spi_run_plan(plan(P_MARK_SEEN, SQL_MARK_SEEN, 3, 1), args, NULL, false, 0) < 0)
		elog(ERROR, "pg_billing: could not record seen records");
}

int64
pgb_store_tombstone(int64 source_id, const PgbEntity *e, char **ids, int n)
{
	char	   *sql;
	Oid			types[2] = {INT8OID, TEXTARRAYOID};
	Datum		args[2];

	if (n == 0)
		return 0;
	sql = psprintf("UPDATE billing.%s t SET deleted_at = pg_catalog.now() WHERE t.source_id = $1"
				   " AND t.deleted_at IS NULL AND t.external_id = ANY ($2)", entity_table(e));
	args[0] = Int64GetDatum(source_id);
	args[1] = ids_array(ids, n);
	if (spi_run_args(sql, 2, types, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "pg_billing: could not mark deleted records");
	return (int64) SPI_processed;
}

void
pgb_store_checkpoint(int64 source_id, const char *entity, const PgbCheckpoint *cp)
{
#define TXT_OR_NULL(v) ((v) ? CStringGetTextDatum(v) : (Datum) 0)
	Datum		args[14] = {Int64GetDatum(source_id), CStringGetTextDatum(entity),
		TXT_OR_NULL(cp->since), BoolGetDatum(cp->in_pass),
		Int64GetDatum(cp->run_since), Int64GetDatum((int64) cp->page), Int64GetDatum(cp->max_seen),
		Int64GetDatum(cp->date0), BoolGetDatum(cp->reconcile), BoolGetDatum(cp->verify),
	TXT_OR_NULL(cp->parent), TXT_OR_NULL(cp->after_id), TXT_OR_NULL(cp->run_after), TXT_OR_NULL(cp->max_id)};
	char		nulls[14] = {' ', ' ', cp->since ? ' ' : 'n', ' ', ' ', ' ', ' ', ' ', ' ', ' ', cp->parent ? ' ' : 'n',
	cp->after_id ? ' ' : 'n', cp->run_after ? ' ' : 'n', cp->max_id ? ' ' : 'n'};
#undef TXT_OR_NULL

	if (spi_run_plan(plan_typed(P_CHECKPOINT, SQL_CHECKPOINT, 14,
									(Oid[]) {INT8OID, TEXTOID, TEXTOID, BOOLOID, INT8OID, INT8OID, INT8OID,
	INT8OID, BOOLOID, BOOLOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID}), args, nulls, false, 0) < 0)
		elog(ERROR, "pg_billing: could not store the checkpoint");
}

static void
corrupt_checkpoint(int64 source_id, const char *entity)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt checkpoint"),
			 errdetail("The checkpoint of entity %s in billing._sync_state is not one a sync writes.", entity),
			 errhint("Delete it to sync the entity from the start: DELETE FROM billing._sync_state WHERE source_id = " INT64_FORMAT " AND entity = '%s'.",
					 source_id, entity)));
}

static int64
int8_col(int col)
{
	bool		isnull;

	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull));
}

bool
pgb_store_read_checkpoint(int64 source_id, const char *entity, PgbCheckpoint *cp)
{
	Datum		args[2] = {Int64GetDatum(source_id), CStringGetTextDatum(entity)};
	bool		isnull;

	memset(cp, 0, sizeof(*cp));
	if (spi_run_plan(plan(P_READ_CHECKPOINT, SQL_READ_CHECKPOINT, 2, 1), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_billing: could not read the checkpoint");
	if (SPI_processed == 0)
		return false;
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) || isnull)
		corrupt_checkpoint(source_id, entity);
	cp->since = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	cp->in_pass = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if (cp->in_pass)
	{
		cp->page = (long) int8_col(4);
		cp->run_since = int8_col(5);
		cp->max_seen = int8_col(6);
		cp->date0 = int8_col(7);
		cp->reconcile = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8, &isnull));
		cp->verify = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 9, &isnull));
		cp->parent = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 10);
		cp->run_after = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 12);
		cp->max_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 13);
	}
	cp->after_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 11);
	return true;
}

void
pgb_store_mark_reconcile(int64 run_id)
{
	Datum		args[1] = {Int64GetDatum(run_id)};

	if (spi_run_plan(plan(P_MARK_RECONCILE, SQL_MARK_RECONCILE, 1, 0), args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "pg_billing: could not mark the run as a full reconcile");
}

void
pgb_store_progress(int64 run_id, const PgbProgress *p, const PgbCounts *c)
{
	Datum		args[12] = {Int64GetDatum(run_id), CStringGetTextDatum(p->entity), Int64GetDatum((int64) p->page),
		Int64GetDatum(p->requests), Int64GetDatum(c->inserted), Int64GetDatum(c->updated),
		Int64GetDatum(c->unchanged), Int64GetDatum(c->deleted), BoolGetDatum(p->new_page), Int64GetDatum(c->skipped),
	p->warning ? CStringGetTextDatum(p->warning) : (Datum) 0, Int64GetDatum(c->store_us)};
	char		nulls[12] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', p->warning ? ' ' : 'n', ' '};

	if (spi_run_plan(plan_typed(P_PROGRESS, SQL_PROGRESS, 12,
									(Oid[]) {INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
	BOOLOID, INT8OID, TEXTOID, INT8OID}), args, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "pg_billing: could not record the run's progress");
}

void
pgb_store_finish_run(int64 run_id, const char *error, const char *detail, const char *context, int64 requests)
{
	Datum		args[4] = {Int64GetDatum(run_id), error ? CStringGetTextDatum(error) : (Datum) 0,
	detail ? CStringGetTextDatum(detail) : (Datum) 0, Int64GetDatum(requests)};
	char		nulls[4] = {' ', error ? ' ' : 'n', detail ? ' ' : 'n', ' '};
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, INT8OID};
	Datum		args2[3] = {args[0], args[3], context ? CStringGetTextDatum(context) : (Datum) 0};
	char		nulls2[3] = {' ', ' ', context ? ' ' : 'n'};

	if (spi_run_args("SELECT billing._finish_run($1, $2, $3)", 3, types, args, nulls, false, 0) < 0 ||
		spi_run_args("UPDATE billing.sync_runs SET requests = $2, error_context = $3 WHERE id = $1", 3,
							  (Oid[]) {INT8OID, INT8OID, TEXTOID}, args2, nulls2, false, 0) < 0)
		elog(ERROR, "pg_billing: could not record the end of run " INT64_FORMAT, run_id);
}

/*
 * The parent record a child entity lists under next: the first live record of the parent's table
 * after `after` (from it when inclusive; the first when after is NULL), or NULL when there is none.
 */
char *
pgb_store_next_parent(int64 source_id, const PgbEntity *parent, const char *after, bool inclusive)
{
	char	   *sql = psprintf(SQL_NEXT_PARENT("%s"), entity_table(parent));
	Oid			types[3] = {INT8OID, TEXTOID, BOOLOID};
	Datum		args[3] = {Int64GetDatum(source_id), after ? CStringGetTextDatum(after) : (Datum) 0,
	BoolGetDatum(inclusive)};
	char		nulls[3] = {' ', after ? ' ' : 'n', ' '};

	if (spi_run_args(sql, 3, types, args, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_billing: could not read the next parent record of a listing");
	return SPI_processed == 0 ? NULL : SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * The column of a child table that links a row to its parent's table; the pairs the store knows.
 * Anything else is a programming error in a connector's declaration.
 */
static const char *
parent_link(const PgbEntity *child, const PgbEntity *parent)
{
	if (child->table == PGB_T_SUBSCRIPTIONS && parent->table == PGB_T_CONTRACTS)
		return "contract_id";
	if (parent->table == PGB_T_CUSTOMERS && child->table != PGB_T_CUSTOMERS)
		return "customer_id";
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("entity \"%s\" cannot be linked to its parent \"%s\" in the store", child->name, parent->name)));
	return NULL;				/* not reached */
}

/* The parent's external id of each child record (NULL when its parent is not stored). */
void
pgb_store_parents_of(int64 source_id, const PgbEntity *child, const PgbEntity *parent, char **ids, int n,
					 char **parents)
{
	char	   *sql = psprintf("SELECT u.x, p.external_id FROM pg_catalog.unnest($2::text[]) AS u(x)"
							   " JOIN billing.%s t ON t.source_id = $1 AND t.external_id = u.x"
							   " JOIN billing.%s p ON p.id = t.%s",
							   entity_table(child), entity_table(parent), parent_link(child, parent));
	Oid			types[2] = {INT8OID, TEXTARRAYOID};
	Datum		args[2] = {Int64GetDatum(source_id), ids_array(ids, n)};

	for (int i = 0; i < n; i++)
		parents[i] = NULL;
	if (n == 0)
		return;
	if (spi_run_args(sql, 2, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_billing: could not read the parents of records");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		char	   *id = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);

		for (int i = 0; i < n; i++)
			if (strcmp(ids[i], id) == 0)
				parents[i] = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2);
	}
}
