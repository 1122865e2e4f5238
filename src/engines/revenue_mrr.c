/*
 * revenue_mrr.c: the MRR of one line (rule C5), when it counts (C3, C7), and movements (C6).
 */
#include "postgres.h"

#include "engines/revenue_calendar.h"
#include "engines/revenue_money.h"
#include "engines/revenue_mrr.h"

/*
 * Rule C5, in its order: full_period_amount, else a full interval (either direction, with
 * end-of-month clamping), else the amount prorated to the full period [end - interval, end).
 * An interval that reaches outside the supported dates cannot be a full one; prorating to it
 * would need a date PostgreSQL does not have, so that case is refused.
 */
Numeric
pgb_line_mrr(const PgbRevLine *l, int64 customer_id)
{
	DateADT		forward,
				full_start;
	bool		has_forward,
				has_full_start;

	if (l->full_period_amount != NULL)
		return pgb_num_div_int(l->full_period_amount, l->interval_months);
	has_forward = pgb_add_months(l->start, l->interval_months, &forward);
	has_full_start = pgb_add_months(l->end, -l->interval_months, &full_start);
	if ((has_forward && forward == l->end) || (has_full_start && full_start == l->start))
		return pgb_num_div_int(l->amount, l->interval_months);
	if (!has_full_start)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("billing interval of %d months of a line of customer %lld starts before the dates the revenue engine supports",
						l->interval_months, (long long) customer_id),
				 errdetail("A prorated line's MRR is measured against the full period that ends with it."),
				 errhint("Load the line's full_period_amount, or correct its interval_months.")));
	return pgb_num_div_int(pgb_num_div_int(pgb_num_mul_int(l->amount, (int64) l->end - full_start),
										   (int64) l->end - l->start),
						   l->interval_months);
}

/*
 * Rules C3, C7: a counting line is in the snapshot when the snapshot day is inside its period,
 * unless the invoice is unpaid more than past_due_days after its due date on that day.
 */
bool
pgb_mrr_counts_at(const PgbRevLine *l, DateADT snapshot, int past_due_days)
{
	if (snapshot >= l->end || snapshot < l->start)
		return false;
	/* in 64 bits: the due date is not bounded by the engine's calendar */
	if (l->has_due && (int64) snapshot - l->due > past_due_days &&
		(!l->has_paid || l->paid_on > snapshot))
		return false;
	return true;
}

/* Rule C6 on the reported values; had_before: MRR above 0 at a month end before the previous one. */
const char *
pgb_movement_of(Numeric prev, Numeric cur, bool had_before)
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
