/*
 * revenue_customer.c: one customer and currency's monthly figures from its lines, in one pass.
 *
 * The month range is the SQL formulation's: from the earliest service-period start, issue date or
 * refund effect to the month holding the latest period end or issue date, every month in between.
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "engines/revenue_calendar.h"
#include "engines/revenue_customer.h"
#include "engines/revenue_money.h"
#include "engines/revenue_mrr.h"
#include "engines/revenue_schedule.h"

/* Figures of one month; its recognition is kept apart, in the run of PgbMonthSum. */
typedef struct MonthAcc
{
	Numeric		contra;
	Numeric		excess;
	Numeric		billed;
	Numeric		mrr;			/* exact sum of the counting lines' MRR */
	Numeric		mrr_reporting;	/* the same, each line converted at its period start's rate */
	Numeric		journal[6];		/* see PGB_J_* */
} MonthAcc;

/* State of the month-by-month pass that reports balances, MRR and movements. */
typedef struct Running
{
	Numeric		balance;
	Numeric		mrr_prev;
	Numeric		mrr_reporting_prev;
	Numeric		unbilled_prev;
	bool		had_before;
} Running;

/* Adds a signed amount to the debit side when positive, else to the credit side. */
static void
post(Numeric *debit, Numeric *credit, Numeric signed_amount)
{
	int			sign = pgb_num_sign(signed_amount);

	if (sign > 0)
		*debit = pgb_num_add(*debit, signed_amount);
	else if (sign < 0)
		*credit = pgb_num_sub(*credit, signed_amount);
}

/* Journal of a document line in its issue month: Dr AR gross, Cr deferred net, Cr tax. */
static void
journal_line(const PgbRevLine *l, MonthAcc *a)
{
	Numeric		zero = pgb_num_zero();

	post(&a->journal[PGB_J_AR_DEBIT], &a->journal[PGB_J_AR_CREDIT], pgb_num_add(l->amount, l->tax));
	post(&a->journal[PGB_J_DEFERRED_DEBIT], &a->journal[PGB_J_DEFERRED_CREDIT], pgb_num_sub(zero, l->amount));
	post(&a->journal[PGB_J_TAX_DEBIT], &a->journal[PGB_J_TAX_CREDIT], pgb_num_sub(zero, l->tax));
}

static void
group_range(const PgbRevGroup *group, int *first, int *last)
{
	int			i;

	*first = PG_INT32_MAX;
	*last = PG_INT32_MIN;
	for (i = 0; i < group->nlines; i++)
	{
		const PgbRevLine *l = &group->lines[i];
		int			lo = pgb_month_of(l->start);
		int			hi = pgb_month_of(l->end);

		if (!l->is_effect)
		{
			lo = Min(lo, pgb_month_of(l->issue));
			hi = Max(hi, pgb_month_of(l->issue));
		}
		*first = Min(*first, lo);
		*last = Max(*last, hi);
	}
}

/*
 * Rules C3, C7, C8: the line's MRR at each month-end snapshot it counts in; with a reporting
 * currency also converted at the rate of its period start, looked up only when it counts somewhere
 * (a missing rate for a line that never counts is no error, as in the SQL formulation).
 */
static void
mrr_line(const PgbRevLine *l, MonthAcc *acc, int first, const PgbRevOptions *options,
		 const PgbFxSeries *fx, int64 customer_id)
{
	Numeric		value = pgb_line_mrr(l, customer_id);
	Numeric		converted = NULL;
	int			m;

	for (m = pgb_month_of(l->start); m <= pgb_month_of(l->end - 1); m++)
	{
		MonthAcc   *a = &acc[m - first];

		if (!pgb_mrr_counts_at(l, pgb_month_last_day(m), options->past_due_days))
			continue;
		a->mrr = pgb_num_add(a->mrr, value);
		if (fx == NULL)
			continue;
		if (converted == NULL)
			converted = pgb_num_mul(value, pgb_fx_rate(fx, l->start));
		a->mrr_reporting = pgb_num_add(a->mrr_reporting, converted);
	}
}

/*
 * Rule C8 for one month row: revenue at the rate of the month's last day; MRR as converted per line;
 * each movement at the month's own effective rate (converted MRR / MRR, of this month end or else of
 * the previous one); what remains of the converted change is the fx effect.
 */
static void
report_month(PgbRevRow *row, const MonthAcc *a, Running *run, const PgbFxSeries *fx, int month)
{
	Numeric		zero = pgb_num_zero();
	Numeric		ratio = zero;
	Numeric		converted;
	Numeric		signed_converted;
	Numeric		fx_effect;

	row->recognized_reporting = pgb_num_round2(pgb_num_mul(row->recognized,
														   pgb_fx_rate(fx, pgb_month_last_day(month))));
	row->mrr_reporting = pgb_num_greatest(pgb_num_round2(a->mrr_reporting), zero);
	row->mrr_reporting_prev = run->mrr_reporting_prev;
	if (pgb_num_sign(row->mrr) > 0)
		ratio = pgb_num_div(row->mrr_reporting, row->mrr);
	else if (pgb_num_sign(row->mrr_prev) > 0)
		ratio = pgb_num_div(row->mrr_reporting_prev, row->mrr_prev);
	converted = pgb_num_round2(pgb_num_mul(pgb_num_abs(pgb_num_sub(row->mrr, row->mrr_prev)), ratio));
	row->movement_reporting = row->movement != NULL ? converted : NULL;
	signed_converted = converted;
	if (row->movement != NULL &&
		(strcmp(row->movement, "contraction") == 0 || strcmp(row->movement, "churn") == 0))
		signed_converted = pgb_num_sub(zero, converted);
	fx_effect = pgb_num_sub(pgb_num_sub(row->mrr_reporting, row->mrr_reporting_prev), signed_converted);
	row->fx = pgb_num_sign(fx_effect) != 0 ? fx_effect : NULL;
	run->mrr_reporting_prev = row->mrr_reporting;
}

/* Balances, reported MRR (rounded once, negative as 0) and the movement of one month. */
static void
fill_month(PgbRevRow *row, const MonthAcc *a, Numeric rec, Running *run)
{
	Numeric		zero = pgb_num_zero();
	Numeric		zero_cents = pgb_num_round2(zero);

	run->balance = pgb_num_add(run->balance, pgb_num_sub(pgb_num_sub(a->billed, rec), a->excess));
	row->recognized = pgb_num_sub(rec, a->contra);
	row->contra = a->contra;
	row->billed = a->billed;
	row->deferred_end = pgb_num_sign(run->balance) > 0 ? run->balance : zero_cents;
	row->unbilled_end = pgb_num_sign(run->balance) < 0 ? pgb_num_abs(run->balance) : zero_cents;
	row->mrr = pgb_num_greatest(pgb_num_round2(a->mrr), zero);
	row->mrr_prev = run->mrr_prev;
	row->movement = pgb_movement_of(run->mrr_prev, row->mrr, run->had_before);
	row->movement_amount = pgb_num_abs(pgb_num_sub(row->mrr, run->mrr_prev));
	memcpy(row->journal, a->journal, sizeof(row->journal));
	row->unbilled_change = pgb_num_sub(row->unbilled_end, run->unbilled_prev);
	run->unbilled_prev = row->unbilled_end;
	/* "had MRR before" looks at month ends before the previous one, as new vs reactivation needs */
	run->had_before = run->had_before || pgb_num_sign(run->mrr_prev) > 0;
	run->mrr_prev = row->mrr;
}

static void
emit_months(const PgbRevGroup *group, const MonthAcc *acc, const PgbMonthSum *rec, int first, int last,
			const PgbFxSeries *fx, PgbRevEmit emit, void *arg)
{
	Running		run;
	int			m;

	run.balance = run.mrr_prev = run.mrr_reporting_prev = run.unbilled_prev = pgb_num_zero();
	run.had_before = false;
	for (m = first; m <= last; m++)
	{
		PgbRevRow	row;

		memset(&row, 0, sizeof(row));
		row.customer_id = group->customer_id;
		row.currency = group->currency;
		row.month = pgb_month_start(m);
		fill_month(&row, &acc[m - first], pgb_month_sum_value(&rec[m - first]), &run);
		if (fx != NULL)
			report_month(&row, &acc[m - first], &run, fx, m);
		emit(arg, &row);
	}
}

static void
init_months(MonthAcc *acc, PgbMonthSum *rec, int n)
{
	Numeric		zero = pgb_num_zero();
	int			m,
				j;

	for (m = 0; m < n; m++)
	{
		pgb_month_sum_init(&rec[m]);
		acc[m].contra = acc[m].excess = acc[m].billed = acc[m].mrr = acc[m].mrr_reporting = zero;
		for (j = 0; j < 6; j++)
			acc[m].journal[j] = zero;
	}
}

/* Adds one line (or refund effect) into the months it touches. */
static void
add_line(const PgbRevLine *l, MonthAcc *acc, PgbMonthSum *rec, int first, const PgbRevOptions *options,
		 const PgbFxSeries *fx, int64 customer_id)
{
	int			start_month = pgb_month_of(l->start) - first;
	int			issue_month;

	if (l->is_effect)
	{
		pgb_month_sum_add(&rec[start_month], l->amount);
		acc[start_month].contra = pgb_num_add(acc[start_month].contra, l->contra);
		acc[start_month].excess = pgb_num_add(acc[start_month].excess, l->excess);
		return;
	}
	pgb_schedule_line(l->amount, l->start, l->end, options->monthly_even, rec, first);
	issue_month = pgb_month_of(l->issue) - first;
	acc[issue_month].billed = pgb_num_add(acc[issue_month].billed, l->amount);
	journal_line(l, &acc[issue_month]);
	if (l->counts)
		mrr_line(l, acc, first, options, fx, customer_id);
}

void
pgb_revenue_customer(const PgbRevGroup *group, const PgbRevOptions *options, PgbRevEmit emit, void *arg)
{
	int			first,
				last,
				i;
	MonthAcc   *acc;
	PgbMonthSum *rec;
	PgbFxSeries series;
	const PgbFxSeries *fx = NULL;

	if (group->nlines == 0)
		return;
	group_range(group, &first, &last);
	pgb_check_span(first, last, group->customer_id);
	if (options->fx != NULL)
	{
		pgb_fx_series(options->fx, TextDatumGetCString(group->currency), &series);
		fx = &series;
	}
	acc = palloc(sizeof(MonthAcc) * (last - first + 1));
	rec = palloc(sizeof(PgbMonthSum) * (last - first + 1));
	init_months(acc, rec, last - first + 1);
	for (i = 0; i < group->nlines; i++)
		add_line(&group->lines[i], acc, rec, first, options, fx, group->customer_id);
	emit_months(group, acc, rec, first, last, fx, emit, arg);
}
