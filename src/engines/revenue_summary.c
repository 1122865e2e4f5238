/*
 * revenue_summary.c: the maintained sums' deltas of one refresh (see revenue_summary.h).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "engines/revenue_sum.h"
#include "engines/revenue_summary.h"

/* The movements summed in billing._mrr_summary, in its column order. */
enum
{
	MV_NEW, MV_EXPANSION, MV_CONTRACTION, MV_CHURN, MV_REACTIVATION, MV_FX, MV_COUNT
};
static const char *const movement_names[MV_COUNT] = {
	"new", "expansion", "contraction", "churn", "reactivation", "fx"
};

typedef struct MrrKey
{
	int32		month;			/* DateADT */
	int32		currency;
	int32		reporting;		/* an int, so the key has no padding */
} MrrKey;

typedef struct MrrEntry
{
	MrrKey		key;
	int64		customer_rows;
	int64		mrr_start_n;
	int64		mrr_end_n;
	int64		customers;
	PgbSum		mrr_start;
	PgbSum		mrr_end;
	PgbSum		moves[MV_COUNT];
	int64		moves_n[MV_COUNT];
	int64		last_customer;	/* reporting rows count distinct customers */
	int			last_phase;
	bool		removed;		/* something was subtracted: the stored row exists */
} MrrEntry;

/* Sums of a journal part; which depends on the part. */
enum
{
	/* part 1: the customer months; the first six in PGB_J_* order */
	J1_REC_POS = 6, J1_REC_NEG, J1_UNB_UP, J1_UNB_DOWN, J1_COUNT,
	/* part 2: the refund effects */
	J2_CONTRA = 0, J2_EXCESS, J2_TAX,
	/* parts 3 and 4: payments and cash refunds */
	J3_AMOUNT = 0
};

typedef struct JnlKey
{
	int64		source;
	int32		month;
	int32		currency;
	int32		part;
	int32		pad;			/* zero: the key is hashed as bytes */
} JnlKey;

typedef struct JnlEntry
{
	JnlKey		key;
	int64		n;
	PgbSum		sums[J1_COUNT];
	bool		removed;		/* something was subtracted: the stored row exists */
} JnlEntry;

struct PgbSummary
{
	MemoryContext cxt;
	HTAB	   *mrr;
	HTAB	   *jnl;
	int			sign;
	int			phase;
	Datum	   *currencies;		/* text, by number */
	int			ncurrencies;
	int			capacity;
	int			reporting_currency;	/* the number of '': the reporting rows' key */
};

PgbSummary *
pgb_summary_create(void)
{
	PgbSummary *s = palloc0(sizeof(PgbSummary));
	HASHCTL		ctl;

	s->cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_billing revenue summary", ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(MrrKey);
	ctl.entrysize = sizeof(MrrEntry);
	ctl.hcxt = s->cxt;
	s->mrr = hash_create("pg_billing mrr summary", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(JnlKey);
	ctl.entrysize = sizeof(JnlEntry);
	s->jnl = hash_create("pg_billing journal summary", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	s->sign = 1;
	s->reporting_currency = pgb_summary_currency(s, CStringGetTextDatum(""));
	return s;
}

void
pgb_summary_sign(PgbSummary *s, int sign)
{
	s->sign = sign;
	s->phase++;
}

int
pgb_summary_currency(PgbSummary *s, Datum currency)
{
	text	   *t = DatumGetTextPP(currency);
	int			len = VARSIZE_ANY_EXHDR(t);
	int			i;
	MemoryContext old;

	for (i = s->ncurrencies - 1; i >= 0; i--)
	{
		text	   *c = (text *) DatumGetPointer(s->currencies[i]);

		if (VARSIZE_ANY_EXHDR(c) == len && memcmp(VARDATA_ANY(c), VARDATA_ANY(t), len) == 0)
			return i;
	}
	old = MemoryContextSwitchTo(s->cxt);
	if (s->ncurrencies == s->capacity)
	{
		s->capacity = s->capacity ? s->capacity * 2 : 8;
		s->currencies = s->currencies ? repalloc(s->currencies, sizeof(Datum) * s->capacity)
			: palloc(sizeof(Datum) * s->capacity);
	}
	s->currencies[s->ncurrencies] = PointerGetDatum(cstring_to_text_with_len(VARDATA_ANY(t), len));
	MemoryContextSwitchTo(old);
	return s->ncurrencies++;
}

Datum
pgb_summary_currency_text(PgbSummary *s, int currency)
{
	return s->currencies[currency];
}

static MrrEntry *
mrr_entry(PgbSummary *s, DateADT month, int currency, bool reporting)
{
	MrrKey		key;
	MrrEntry   *e;
	bool		found;
	int			i;

	key.month = month;
	key.currency = currency;
	key.reporting = reporting ? 1 : 0;
	e = hash_search(s->mrr, &key, HASH_ENTER, &found);
	if (!found)
	{
		e->customer_rows = e->mrr_start_n = e->mrr_end_n = e->customers = 0;
		pgb_sum_init(&e->mrr_start);
		pgb_sum_init(&e->mrr_end);
		for (i = 0; i < MV_COUNT; i++)
		{
			pgb_sum_init(&e->moves[i]);
			e->moves_n[i] = 0;
		}
		e->last_customer = 0;
		e->last_phase = -1;
		e->removed = false;
	}
	if (s->sign < 0)
		e->removed = true;
	return e;
}

static JnlEntry *
jnl_entry(PgbSummary *s, DateADT month, int currency, int64 source, int part)
{
	JnlKey		key;
	JnlEntry   *e;
	bool		found;
	int			i;

	memset(&key, 0, sizeof(key));
	key.source = source;
	key.month = month;
	key.currency = currency;
	key.part = part;
	e = hash_search(s->jnl, &key, HASH_ENTER, &found);
	if (!found)
	{
		e->n = 0;
		for (i = 0; i < J1_COUNT; i++)
			pgb_sum_init(&e->sums[i]);
		e->removed = false;
	}
	if (s->sign < 0)
		e->removed = true;
	return e;
}

/*
 * Whether an entry leaves its stored row as it is (see pgb_sum_is_noop): an incremental refresh
 * mostly recomputes months whose figures did not change, and rewriting each summary row costs a
 * new row version and an index entry. Only a row known to exist is skipped (one this refresh
 * subtracted from): the upsert would create a missing one, even of zeros.
 */
static bool
mrr_unchanged(const MrrEntry *e)
{
	int			i;

	if (!e->removed || e->customer_rows != 0 || e->mrr_start_n != 0 || e->mrr_end_n != 0 ||
		e->customers != 0 || !pgb_sum_is_noop(&e->mrr_start) || !pgb_sum_is_noop(&e->mrr_end))
		return false;
	for (i = 0; i < MV_COUNT; i++)
		if (e->moves_n[i] != 0 || !pgb_sum_is_noop(&e->moves[i]))
			return false;
	return true;
}

/* Whether the journal row made of the sums in mask (bits by sum index) keeps its stored values. */
static bool
jnl_unchanged(const JnlEntry *e, int mask)
{
	int			i;

	if (!e->removed || e->n != 0)
		return false;
	for (i = 0; i < J1_COUNT; i++)
		if ((mask & (1 << i)) != 0 && !pgb_sum_is_noop(&e->sums[i]))
			return false;
	return true;
}

/* The reporting row of a month: sums of the converted MRR, customers counted once across currencies. */
static void
month_reporting(PgbSummary *s, int64 customer_id, const PgbRevRow *row)
{
	MrrEntry   *r = mrr_entry(s, row->month, s->reporting_currency, true);

	r->customer_rows += s->sign;
	if (row->mrr_reporting_prev != NULL)
	{
		r->mrr_start_n += s->sign;
		pgb_sum_add(&r->mrr_start, pgb_dec(row->mrr_reporting_prev), s->sign);
	}
	if (row->mrr_reporting != NULL)
	{
		PgbDec		mrr = pgb_dec(row->mrr_reporting);

		r->mrr_end_n += s->sign;
		pgb_sum_add(&r->mrr_end, mrr, s->sign);
		if (pgb_dec_sign(mrr) > 0 && (r->last_phase != s->phase || r->last_customer != customer_id))
		{
			r->customers += s->sign;
			r->last_phase = s->phase;
			r->last_customer = customer_id;
		}
	}
}

/* Journal part 1: the documents' postings, recognition and the unbilled change, split by sign. */
static void
month_journal(PgbSummary *s, int currency, const PgbRevRow *row, int64 source)
{
	JnlEntry   *j = jnl_entry(s, row->month, currency, source, 1);
	PgbDec		rec = pgb_dec_add(pgb_dec(row->recognized), pgb_dec(row->contra));
	PgbDec		unbilled = pgb_dec(row->unbilled_change);
	int			k;

	j->n += s->sign;
	for (k = 0; k < 6; k++)
		pgb_sum_add(&j->sums[k], pgb_dec(row->journal[k]), s->sign);
	pgb_sum_add(&j->sums[J1_REC_POS], pgb_dec_greatest0(rec), s->sign);
	pgb_sum_add(&j->sums[J1_REC_NEG], pgb_dec_greatest0(pgb_dec_neg(rec)), s->sign);
	pgb_sum_add(&j->sums[J1_UNB_UP], pgb_dec_greatest0(unbilled), s->sign);
	pgb_sum_add(&j->sums[J1_UNB_DOWN], pgb_dec_greatest0(pgb_dec_neg(unbilled)), s->sign);
}

void
pgb_summary_month(PgbSummary *s, int64 customer_id, int currency, const PgbRevRow *row,
				  bool reporting, const int64 *source)
{
	MemoryContext old = MemoryContextSwitchTo(s->cxt);
	MrrEntry   *e = mrr_entry(s, row->month, currency, false);
	PgbDec		mrr = pgb_dec(row->mrr);

	e->customer_rows += s->sign;
	e->mrr_start_n += s->sign;
	e->mrr_end_n += s->sign;
	pgb_sum_add(&e->mrr_start, pgb_dec(row->mrr_prev), s->sign);
	pgb_sum_add(&e->mrr_end, mrr, s->sign);
	if (pgb_dec_sign(mrr) > 0)
		e->customers += s->sign;
	if (reporting)
		month_reporting(s, customer_id, row);
	if (source != NULL)
		month_journal(s, currency, row, *source);
	MemoryContextSwitchTo(old);
}

void
pgb_summary_movement(PgbSummary *s, int currency, DateADT month, const char *movement,
					 Numeric amount, Numeric reporting_amount)
{
	MemoryContext old = MemoryContextSwitchTo(s->cxt);
	MrrEntry   *native = mrr_entry(s, month, currency, false);
	MrrEntry   *converted = mrr_entry(s, month, s->reporting_currency, true);
	int			kind;

	for (kind = 0; kind < MV_COUNT; kind++)
		if (strcmp(movement, movement_names[kind]) == 0)
			break;
	if (kind < MV_COUNT)
	{
		/* native: the amounts, except fx (only a converted amount); new counts rows, others values */
		Numeric		value = kind == MV_FX ? reporting_amount : amount;

		if (value != NULL)
			pgb_sum_add(&native->moves[kind], pgb_dec(value), s->sign);
		if (kind == MV_NEW || value != NULL)
			native->moves_n[kind] += s->sign;
		/* the reporting row: converted amounts of every movement */
		if (reporting_amount != NULL)
			pgb_sum_add(&converted->moves[kind], pgb_dec(reporting_amount), s->sign);
		if (kind == MV_NEW || reporting_amount != NULL)
			converted->moves_n[kind] += s->sign;
	}
	MemoryContextSwitchTo(old);
}

void
pgb_summary_effect(PgbSummary *s, int currency, DateADT month, int64 source,
				   Numeric contra, Numeric excess, Numeric tax)
{
	MemoryContext old = MemoryContextSwitchTo(s->cxt);
	JnlEntry   *j = jnl_entry(s, month, currency, source, 2);

	j->n += s->sign;
	pgb_sum_add(&j->sums[J2_CONTRA], pgb_dec(contra), s->sign);
	pgb_sum_add(&j->sums[J2_EXCESS], pgb_dec(excess), s->sign);
	pgb_sum_add(&j->sums[J2_TAX], pgb_dec(tax), s->sign);
	MemoryContextSwitchTo(old);
}

void
pgb_summary_cash(PgbSummary *s, int currency, DateADT month, int64 source, int part,
				 int64 n, Numeric amount)
{
	MemoryContext old = MemoryContextSwitchTo(s->cxt);
	JnlEntry   *j = jnl_entry(s, month, currency, source, part);

	j->n += s->sign * n;
	pgb_sum_add(&j->sums[J3_AMOUNT], pgb_dec(amount), s->sign);
	MemoryContextSwitchTo(old);
}

/* Columns of one upsert, built as arrays (one SPI parameter each). */
typedef struct Columns
{
	int			ncols;
	int			nrows;
	int			capacity;
	Oid			types[24];
	Datum	  **values;
} Columns;

static void
columns_init(Columns *c, const Oid *types, int ncols, int capacity)
{
	int			i;

	c->ncols = ncols;
	c->nrows = 0;
	c->capacity = Max(capacity, 1);
	c->values = palloc(sizeof(Datum *) * ncols);
	for (i = 0; i < ncols; i++)
	{
		c->types[i] = types[i];
		c->values[i] = palloc(sizeof(Datum) * c->capacity);
	}
}

static void
columns_add(Columns *c, const Datum *row)
{
	int			i;

	if (c->nrows == c->capacity)
	{
		c->capacity *= 2;
		for (i = 0; i < c->ncols; i++)
			c->values[i] = repalloc(c->values[i], sizeof(Datum) * c->capacity);
	}
	for (i = 0; i < c->ncols; i++)
		c->values[i][c->nrows] = row[i];
	c->nrows++;
}

/* Runs the upsert with one array per column as its parameters $1, $2, ... */
static void
columns_execute(Columns *c, const char *sql)
{
	Datum		args[24];
	Oid			argtypes[24];
	int			i;

	if (c->nrows == 0)
		return;
	for (i = 0; i < c->ncols; i++)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(c->types[i], &typlen, &typbyval, &typalign);
		args[i] = PointerGetDatum(construct_array(c->values[i], c->nrows, c->types[i], typlen, typbyval, typalign));
		argtypes[i] = get_array_type(c->types[i]);
	}
	if (SPI_execute_with_args(sql, c->ncols, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "updating the revenue summaries failed: %s", SPI_result_code_string(SPI_result));
}

#define PLUS(col) col " = s." col " OPERATOR(pg_catalog.+) excluded." col

static const char *mrr_upsert =
"INSERT INTO billing._mrr_summary AS s (month, currency, reporting, customer_rows, mrr_start, mrr_start_n,"
"       mrr_end, mrr_end_n, customers, new, expansion, contraction, churn, reactivation, fx,"
"       new_n, expansion_n, contraction_n, churn_n, reactivation_n, fx_n)"
" SELECT u.* FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
"       pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
"       pg_catalog.unnest($8), pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11),"
"       pg_catalog.unnest($12), pg_catalog.unnest($13), pg_catalog.unnest($14), pg_catalog.unnest($15),"
"       pg_catalog.unnest($16), pg_catalog.unnest($17), pg_catalog.unnest($18), pg_catalog.unnest($19),"
"       pg_catalog.unnest($20), pg_catalog.unnest($21))"
"        AS u(month, currency, reporting, customer_rows, mrr_start, mrr_start_n, mrr_end, mrr_end_n,"
"             customers, new, expansion, contraction, churn, reactivation, fx,"
"             new_n, expansion_n, contraction_n, churn_n, reactivation_n, fx_n)"
" ORDER BY u.month, u.currency, u.reporting"
" ON CONFLICT (month, currency, reporting) DO UPDATE SET "
PLUS("customer_rows") ", " PLUS("mrr_start") ", " PLUS("mrr_start_n") ", " PLUS("mrr_end") ", "
PLUS("mrr_end_n") ", " PLUS("customers") ", " PLUS("new") ", " PLUS("expansion") ", "
PLUS("contraction") ", " PLUS("churn") ", " PLUS("reactivation") ", " PLUS("fx") ", "
PLUS("new_n") ", " PLUS("expansion_n") ", " PLUS("contraction_n") ", " PLUS("churn_n") ", "
PLUS("reactivation_n") ", " PLUS("fx_n");

static const char *jnl_upsert =
"INSERT INTO billing._journal_summary AS s (month, source_id, currency, part, account, n, debit, credit)"
" SELECT u.* FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
"       pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),"
"       pg_catalog.unnest($8))"
"        AS u(month, source_id, currency, part, account, n, debit, credit)"
" ORDER BY u.month, u.source_id, u.currency, u.part, u.account"
" ON CONFLICT (month, source_id, currency, part, account) DO UPDATE SET "
PLUS("n") ", " PLUS("debit") ", " PLUS("credit");

static void
apply_mrr(PgbSummary *s)
{
	static const Oid types[21] = {
		DATEOID, TEXTOID, BOOLOID, INT8OID, NUMERICOID, INT8OID, NUMERICOID, INT8OID, INT8OID,
		NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
		INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID
	};
	Columns		c;
	HASH_SEQ_STATUS seq;
	MrrEntry   *e;

	columns_init(&c, types, 21, (int) hash_get_num_entries(s->mrr));
	hash_seq_init(&seq, s->mrr);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Datum		row[21];
		int			i;

		if (mrr_unchanged(e))
			continue;
		row[0] = DateADTGetDatum(e->key.month);
		row[1] = s->currencies[e->key.currency];
		row[2] = BoolGetDatum(e->key.reporting != 0);
		row[3] = Int64GetDatum(e->customer_rows);
		row[4] = NumericGetDatum(pgb_sum_numeric(&e->mrr_start));
		row[5] = Int64GetDatum(e->mrr_start_n);
		row[6] = NumericGetDatum(pgb_sum_numeric(&e->mrr_end));
		row[7] = Int64GetDatum(e->mrr_end_n);
		row[8] = Int64GetDatum(e->customers);
		for (i = 0; i < MV_COUNT; i++)
		{
			row[9 + i] = NumericGetDatum(pgb_sum_numeric(&e->moves[i]));
			row[15 + i] = Int64GetDatum(e->moves_n[i]);
		}
		columns_add(&c, row);
	}
	columns_execute(&c, mrr_upsert);
}

#define S(i) (1 << (i))

/* A row of the journal upsert, left out when the sums in mask (its debit and credit) are unchanged. */
static void
jnl_row(Columns *c, const JnlEntry *e, Datum currency, int mask, const char *account, Numeric debit,
		Numeric credit)
{
	Datum		row[8];

	if (jnl_unchanged(e, mask))
		return;

	row[0] = DateADTGetDatum(e->key.month);
	row[1] = Int64GetDatum(e->key.source);
	row[2] = currency;
	row[3] = Int16GetDatum(e->key.part);
	row[4] = CStringGetTextDatum(account);
	row[5] = Int64GetDatum(e->n);
	row[6] = NumericGetDatum(debit);
	row[7] = NumericGetDatum(credit);
	columns_add(c, row);
}

/* The accounts of each part, as 0.3.0's billing._revenue_summarise posted them. */
static void
jnl_entry_rows(Columns *c, const JnlEntry *e, Datum currency)
{
	const PgbSum *x = e->sums;
	Numeric		zero = int64_to_numeric(0);

	switch (e->key.part)
	{
		case 1:
			{
				PgbDec		def_debit = pgb_dec_add(pgb_dec_add(x[PGB_J_DEFERRED_DEBIT].value, x[J1_REC_POS].value),
													x[J1_UNB_DOWN].value);
				PgbDec		def_credit = pgb_dec_add(pgb_dec_add(x[PGB_J_DEFERRED_CREDIT].value, x[J1_REC_NEG].value),
													 x[J1_UNB_UP].value);

				jnl_row(c, e, currency, S(PGB_J_AR_DEBIT) | S(PGB_J_AR_CREDIT), "accounts_receivable",
						pgb_sum_numeric(&x[PGB_J_AR_DEBIT]), pgb_sum_numeric(&x[PGB_J_AR_CREDIT]));
				jnl_row(c, e, currency, S(PGB_J_TAX_DEBIT) | S(PGB_J_TAX_CREDIT), "sales_tax_payable",
						pgb_sum_numeric(&x[PGB_J_TAX_DEBIT]), pgb_sum_numeric(&x[PGB_J_TAX_CREDIT]));
				jnl_row(c, e, currency, S(PGB_J_DEFERRED_DEBIT) | S(PGB_J_DEFERRED_CREDIT) | S(J1_REC_POS) |
						S(J1_REC_NEG) | S(J1_UNB_UP) | S(J1_UNB_DOWN), "deferred_revenue",
						pgb_dec_numeric(def_debit), pgb_dec_numeric(def_credit));
				jnl_row(c, e, currency, S(J1_REC_NEG) | S(J1_REC_POS), "revenue",
						pgb_sum_numeric(&x[J1_REC_NEG]), pgb_sum_numeric(&x[J1_REC_POS]));
				jnl_row(c, e, currency, S(J1_UNB_UP) | S(J1_UNB_DOWN), "unbilled_receivables",
						pgb_sum_numeric(&x[J1_UNB_UP]), pgb_sum_numeric(&x[J1_UNB_DOWN]));
				break;
			}
		case 2:
			{
				PgbDec		ar = pgb_dec_add(pgb_dec_add(x[J2_CONTRA].value, x[J2_EXCESS].value), x[J2_TAX].value);

				jnl_row(c, e, currency, S(J2_CONTRA), "refunds", pgb_sum_numeric(&x[J2_CONTRA]), zero);
				jnl_row(c, e, currency, S(J2_EXCESS), "deferred_revenue", pgb_sum_numeric(&x[J2_EXCESS]), zero);
				jnl_row(c, e, currency, S(J2_TAX), "sales_tax_payable", pgb_sum_numeric(&x[J2_TAX]), zero);
				jnl_row(c, e, currency, S(J2_CONTRA) | S(J2_EXCESS) | S(J2_TAX), "accounts_receivable", zero,
						pgb_dec_numeric(ar));
				break;
			}
		case 3:
			/* payments: Dr cash, Cr accounts receivable */
			jnl_row(c, e, currency, S(J3_AMOUNT), "cash", pgb_sum_numeric(&x[J3_AMOUNT]), zero);
			jnl_row(c, e, currency, S(J3_AMOUNT), "accounts_receivable", zero, pgb_sum_numeric(&x[J3_AMOUNT]));
			break;
		case 4:
			/* cash refunds: Dr accounts receivable, Cr cash */
			jnl_row(c, e, currency, S(J3_AMOUNT), "cash", zero, pgb_sum_numeric(&x[J3_AMOUNT]));
			jnl_row(c, e, currency, S(J3_AMOUNT), "accounts_receivable", pgb_sum_numeric(&x[J3_AMOUNT]), zero);
			break;
	}
}

static void
apply_journal(PgbSummary *s)
{
	static const Oid types[8] = {DATEOID, INT8OID, TEXTOID, INT2OID, TEXTOID, INT8OID, NUMERICOID, NUMERICOID};
	Columns		c;
	HASH_SEQ_STATUS seq;
	JnlEntry   *e;

	columns_init(&c, types, 8, 5 * (int) hash_get_num_entries(s->jnl));
	hash_seq_init(&seq, s->jnl);
	while ((e = hash_seq_search(&seq)) != NULL)
		jnl_entry_rows(&c, e, s->currencies[e->key.currency]);
	columns_execute(&c, jnl_upsert);
}

void
pgb_summary_apply(PgbSummary *s)
{
	MemoryContext old = MemoryContextSwitchTo(s->cxt);

	apply_mrr(s);
	apply_journal(s);
	MemoryContextSwitchTo(old);
}
