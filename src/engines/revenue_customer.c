/*
 * revenue_customer.c: one customer and currency's monthly figures from its lines, in one pass.
 *
 * The month range matches the SQL formulation: from the earliest service-period start, issue date or
 * refund effect to the month holding the latest period end or issue date, every month in between.
 */
#include "postgres.h"

#include "common/int.h"

#include "engines/revenue_customer.h"
#include "engines/revenue_money.h"

typedef struct MonthAcc
{
	Numeric		rec;			/* line recognition, after C2a adjustments */
	int64		rec_cents;		/* the same, from lines on the integer fast path */
	Numeric		contra;
	Numeric		excess;
	Numeric		billed;
	Numeric		mrr;			/* exact sum of the counting lines' MRR */
	Numeric		journal[6];		/* see PGB_J_* */
} MonthAcc;

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

/* Cumulative share of a line through month k of n (1-based), as a fraction numerator/denominator. */
static void
share_through(const PgbRevLine *l, int m0, int k, int n, bool monthly_even, int64 *num, int64 *den)
{
	if (monthly_even)
	{
		*num = k;
		*den = n;
	}
	else
	{
		*num = Min(l->end, pgb_month_start(m0 + k)) - l->start;
		*den = l->end - l->start;
	}
}

/*
 * Rule C2: each month is the difference of two cumulative roundings. Amounts in whole cents within
 * the bounds of pgb_cents_ratio take an exact integer path that rounds as SQL does; others use numeric
 * arithmetic in the SQL formulation's order.
 */
static void
schedule_line(const PgbRevLine *l, MonthAcc *acc, int first, bool monthly_even)
{
	int			m0 = pgb_month_of(l->start);
	int			n = pgb_month_of(Max(l->end - 1, l->start)) - m0 + 1;
	Numeric		prev = pgb_num_round2(pgb_num_zero());
	int64		cents,
				prev_cents = 0;
	bool		fast = l->end - l->start < PGB_EXACT_MAX_DAYS && pgb_num_to_cents(l->amount, &cents);
	int			k;

	if (l->end == l->start)
	{
		acc[m0 - first].rec = pgb_num_add(acc[m0 - first].rec, l->amount);
		return;
	}
	for (k = 1; k <= n; k++)
	{
		MonthAcc   *a = &acc[m0 + k - 1 - first];
		int64		num,
					den;

		share_through(l, m0, k, n, monthly_even, &num, &den);
		if (fast)
		{
			int64		cum = pgb_cents_ratio(cents, num, den);
			int64		sum;

			/* many large lines in one month could overflow the cents: carry them into numeric */
			if (pg_add_s64_overflow(a->rec_cents, cum - prev_cents, &sum))
			{
				a->rec = pgb_num_add(a->rec, pgb_cents_to_num(a->rec_cents));
				sum = cum - prev_cents;
			}
			a->rec_cents = sum;
			prev_cents = cum;
		}
		else
		{
			/* the last cumulative is the amount itself, so sub-cent amounts also sum exactly */
			Numeric		cum = (k == n) ? l->amount
				: pgb_num_round2(pgb_num_div_int(pgb_num_mul_int(l->amount, num), den));

			a->rec = pgb_num_add(a->rec, pgb_num_sub(cum, prev));
			prev = cum;
		}
	}
}

/* Rule C5, in its order: full_period_amount, else a full interval, else prorated to a full period. */
static Numeric
line_mrr(const PgbRevLine *l)
{
	DateADT		full_start;

	if (l->full_period_amount != NULL)
		return pgb_num_div_int(l->full_period_amount, l->interval_months);
	full_start = pgb_add_months(l->end, -l->interval_months);
	if (pgb_add_months(l->start, l->interval_months) == l->end || full_start == l->start)
		return pgb_num_div_int(l->amount, l->interval_months);
	return pgb_num_div_int(pgb_num_div_int(pgb_num_mul_int(l->amount, l->end - full_start),
										   l->end - l->start),
						   l->interval_months);
}

/* Rules C3, C7: the line counts at each month-end snapshot inside its period, unless past due then. */
static void
mrr_line(const PgbRevLine *l, MonthAcc *acc, int first, int past_due_days)
{
	Numeric		value = line_mrr(l);
	int			m;

	for (m = pgb_month_of(l->start); m <= pgb_month_of(l->end - 1); m++)
	{
		DateADT		snapshot = pgb_month_last_day(m);

		if (snapshot >= l->end)
			continue;
		if (l->has_due && snapshot - l->due > past_due_days &&
			(!l->has_paid || l->paid_on > snapshot))
			continue;
		acc[m - first].mrr = pgb_num_add(acc[m - first].mrr, value);
	}
}

static const char *
movement_of(Numeric prev, Numeric cur, bool had_before)
{
	int			p = pgb_num_sign(prev);
	int			c = pgb_num_sign(cur);

	if (p == 0 && c > 0)
		return had_before ? "reactivation" : "new";
	if (p > 0 && c == 0)
		return "churn";
	if (pgb_num_cmp(cur, prev) > 0)
		return "expansion";
	if (pgb_num_cmp(cur, prev) < 0)
		return "contraction";
	return NULL;
}

/* Balances, reported MRR (rounded once, negative as 0) and movements, month by month. */
static void
emit_months(const PgbRevGroup *group, MonthAcc *acc, int first, int last, PgbRevEmit emit, void *arg)
{
	Numeric		zero = pgb_num_zero();
	Numeric		balance = zero;
	Numeric		mrr_prev = zero;
	Numeric		unbilled_prev = zero;
	Numeric		zero_cents = pgb_num_round2(zero);
	bool		had_before = false;
	int			m;

	for (m = first; m <= last; m++)
	{
		MonthAcc   *a = &acc[m - first];
		PgbRevRow	row;
		Numeric		mrr = pgb_num_round2(a->mrr);

		if (pgb_num_sign(mrr) < 0)
			mrr = zero;
		balance = pgb_num_add(balance, pgb_num_sub(pgb_num_sub(a->billed, a->rec), a->excess));
		row.customer_id = group->customer_id;
		row.currency = group->currency;
		row.month = pgb_month_start(m);
		row.recognized = pgb_num_sub(a->rec, a->contra);
		row.contra = a->contra;
		row.billed = a->billed;
		row.deferred_end = pgb_num_sign(balance) > 0 ? balance : zero_cents;
		row.unbilled_end = pgb_num_sign(balance) < 0 ? pgb_num_abs(balance) : zero_cents;
		row.mrr = mrr;
		row.mrr_prev = mrr_prev;
		row.movement = movement_of(mrr_prev, mrr, had_before);
		row.movement_amount = pgb_num_abs(pgb_num_sub(mrr, mrr_prev));
		memcpy(row.journal, a->journal, sizeof(row.journal));
		row.unbilled_change = pgb_num_sub(row.unbilled_end, unbilled_prev);
		unbilled_prev = row.unbilled_end;
		emit(arg, &row);
		/* "had MRR before" looks at month ends before the previous one, as new vs reactivation needs */
		had_before = had_before || pgb_num_sign(mrr_prev) > 0;
		mrr_prev = mrr;
	}
}

void
pgb_revenue_customer(const PgbRevGroup *group, const PgbRevOptions *options, PgbRevEmit emit, void *arg)
{
	int			first,
				last,
				i,
				m;
	MonthAcc   *acc;
	Numeric		zero = pgb_num_zero();

	if (group->nlines == 0)
		return;
	group_range(group, &first, &last);
	acc = palloc(sizeof(MonthAcc) * (last - first + 1));
	for (m = 0; m <= last - first; m++)
	{
		int			j;

		acc[m].rec = acc[m].contra = acc[m].excess = acc[m].billed = acc[m].mrr = zero;
		acc[m].rec_cents = 0;
		for (j = 0; j < 6; j++)
			acc[m].journal[j] = zero;
	}

	for (i = 0; i < group->nlines; i++)
	{
		const PgbRevLine *l = &group->lines[i];
		int			em = pgb_month_of(l->start) - first;

		if (l->is_effect)
		{
			acc[em].rec = pgb_num_add(acc[em].rec, l->amount);
			acc[em].contra = pgb_num_add(acc[em].contra, l->contra);
			acc[em].excess = pgb_num_add(acc[em].excess, l->excess);
			continue;
		}
		schedule_line(l, acc, first, options->monthly_even);
		acc[pgb_month_of(l->issue) - first].billed =
			pgb_num_add(acc[pgb_month_of(l->issue) - first].billed, l->amount);
		journal_line(l, &acc[pgb_month_of(l->issue) - first]);
		if (l->counts)
			mrr_line(l, acc, first, options->past_due_days);
	}
	for (m = 0; m <= last - first; m++)
		if (acc[m].rec_cents != 0)
			acc[m].rec = pgb_num_add(acc[m].rec, pgb_cents_to_num(acc[m].rec_cents));
	emit_months(group, acc, first, last, emit, arg);
}
