/*
 * revenue_schedule.c: rule C2 for one line. Each month is the difference of two cumulative
 * roundings, so a line sums exactly to its amount. Amounts in whole cents within the bounds of
 * pgb_cents_ratio take an exact integer path that rounds as SQL does; others use numeric arithmetic
 * in the SQL formulation's order.
 */
#include "postgres.h"

#include "common/int.h"

#include "engines/revenue_calendar.h"
#include "engines/revenue_money.h"
#include "engines/revenue_schedule.h"

void
pgb_month_sum_init(PgbMonthSum *sum)
{
	sum->num = pgb_num_zero();
	sum->cents = 0;
	sum->has_cents = false;
}

void
pgb_month_sum_add(PgbMonthSum *sum, Numeric amount)
{
	sum->num = pgb_num_add(sum->num, amount);
}

Numeric
pgb_month_sum_value(const PgbMonthSum *sum)
{
	return sum->has_cents ? pgb_num_add(sum->num, pgb_cents_to_num(sum->cents)) : sum->num;
}

/* Adds cents; many large lines in one month could overflow them, so they are carried into numeric. */
static void
add_cents(PgbMonthSum *sum, int64 cents)
{
	int64		total;

	if (pg_add_s64_overflow(sum->cents, cents, &total))
	{
		sum->num = pgb_num_add(sum->num, pgb_cents_to_num(sum->cents));
		total = cents;
	}
	sum->cents = total;
	sum->has_cents = true;
}

int
pgb_schedule_last_month(DateADT start, DateADT end)
{
	return pgb_month_of(Max(end - 1, start));
}

/* Cumulative share of a line through month k of n (1-based), as a fraction numerator/denominator. */
static void
share_through(DateADT start, DateADT end, int m0, int k, int n, bool monthly_even, int64 *num, int64 *den)
{
	if (monthly_even)
	{
		*num = k;
		*den = n;
	}
	else
	{
		*num = Min(end, pgb_month_start(m0 + k)) - start;
		*den = end - start;
	}
}

void
pgb_schedule_line(Numeric amount, DateADT start, DateADT end, bool monthly_even, PgbMonthSum *sums, int first)
{
	int			m0 = pgb_month_of(start);
	int			n = pgb_schedule_last_month(start, end) - m0 + 1;
	Numeric		prev = pgb_num_round2(pgb_num_zero());
	int64		cents = 0,
				prev_cents = 0;
	bool		fast;
	int			k;

	/* a one-time line is recognised in full in the month of its start */
	if (end == start)
	{
		pgb_month_sum_add(&sums[m0 - first], amount);
		return;
	}
	fast = (int64) end - start < PGB_EXACT_MAX_DAYS && pgb_num_to_cents(amount, &cents);
	for (k = 1; k <= n; k++)
	{
		PgbMonthSum *s = &sums[m0 + k - 1 - first];
		int64		num,
					den;

		share_through(start, end, m0, k, n, monthly_even, &num, &den);
		if (fast)
		{
			int64		cum = pgb_cents_ratio(cents, num, den);

			add_cents(s, cum - prev_cents);
			prev_cents = cum;
		}
		else
		{
			/* the last cumulative is the amount itself, so sub-cent amounts also sum exactly */
			Numeric		cum = (k == n) ? amount
				: pgb_num_round2(pgb_num_div_int(pgb_num_mul_int(amount, num), den));

			pgb_month_sum_add(s, pgb_num_sub(cum, prev));
			prev = cum;
		}
	}
}
