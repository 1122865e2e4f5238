/*
 * revenue_schedule.h: rule C2, the monthly recognition of one line (daily or monthly_even, with
 * cumulative rounding), added into a run of month sums.
 */
#ifndef PGB_REVENUE_SCHEDULE_H
#define PGB_REVENUE_SCHEDULE_H

#include "postgres.h"
#include "utils/date.h"
#include "utils/numeric.h"

/*
 * A month's recognised amount: numeric, plus whole cents from lines on the exact integer path.
 * has_cents records that such a line touched the month, so that the value keeps two decimals as
 * the SQL formulation's sum does, even when those cents add up to zero.
 */
typedef struct PgbMonthSum
{
	Numeric		num;
	int64		cents;
	bool		has_cents;
} PgbMonthSum;

extern void pgb_month_sum_init(PgbMonthSum *sum);
extern void pgb_month_sum_add(PgbMonthSum *sum, Numeric amount);
extern Numeric pgb_month_sum_value(const PgbMonthSum *sum);

/* Last month a line's schedule touches: the month of period_end - 1, or of period_start. */
extern int	pgb_schedule_last_month(DateADT start, DateADT end);

/* Adds the line's monthly amounts into sums[month - first] for every month it touches. */
extern void pgb_schedule_line(Numeric amount, DateADT start, DateADT end, bool monthly_even,
							  PgbMonthSum *sums, int first);

#endif							/* PGB_REVENUE_SCHEDULE_H */
