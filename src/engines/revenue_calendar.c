/*
 * revenue_calendar.c: calendar months for the revenue engine, and the dates it supports.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/datetime.h"

#include "engines/revenue_calendar.h"

/* The month number of a date (see revenue_calendar.h); the caller ensures the date is finite. */
int
pgb_month_of(DateADT d)
{
	int			y,
				m,
				day;

	j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &day);
	return y * 12 + m - 1;
}

/* Splits a month number into an astronomical year and a month 1-12, rounding the year down. */
static void
split_month(int64 month, int *year, int *mon)
{
	int64		y = month >= 0 ? month / 12 : -((-month + 11) / 12);

	*year = (int) y;
	*mon = (int) (month - y * 12) + 1;
}

/* First day of a month; valid for PGB_MONTH_MIN .. PGB_MONTH_MAX + 1 (the latter as a bound only). */
DateADT
pgb_month_start(int month)
{
	int			y,
				m;

	Assert(month >= PGB_MONTH_MIN && month <= PGB_MONTH_MAX + 1);
	split_month(month, &y, &m);
	return date2j(y, m, 1) - POSTGRES_EPOCH_JDATE;
}

DateADT
pgb_month_last_day(int month)
{
	return pgb_month_start(month + 1) - 1;
}

/* A finite date inside the months the engine computes. */
bool
pgb_date_supported(DateADT d)
{
	int			m;

	if (DATE_NOT_FINITE(d))
		return false;
	m = pgb_month_of(d);
	return m >= PGB_MONTH_MIN && m <= PGB_MONTH_MAX;
}

/*
 * date + n months with end-of-month clamping, as PostgreSQL's date + interval does. Returns false
 * when the result falls outside the supported months (an interval of millions of months).
 */
bool
pgb_add_months(DateADT d, int months, DateADT *result)
{
	int			y,
				m,
				day;
	int64		target;

	j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &day);
	target = (int64) y * 12 + m - 1 + months;
	if (target < PGB_MONTH_MIN || target > PGB_MONTH_MAX)
		return false;
	split_month(target, &y, &m);
	day = Min(day, day_tab[isleap(y)][m - 1]);
	*result = date2j(y, m, day) - POSTGRES_EPOCH_JDATE;
	return true;
}

/* A date as ISO text (YYYY-MM-DD, with " BC" before year 1) for messages, whatever DateStyle is. */
char *
pgb_date_text(DateADT d)
{
	struct pg_tm tm;
	char		buf[MAXDATELEN + 1];

	if (DATE_NOT_FINITE(d))
	{
		EncodeSpecialDate(d, buf);
		return pstrdup(buf);
	}
	memset(&tm, 0, sizeof(tm));
	j2date(d + POSTGRES_EPOCH_JDATE, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	EncodeDateOnly(&tm, USE_ISO_DATES, buf);
	return pstrdup(buf);
}

/* Refuses a date the engine cannot place in a month: infinite, or before December 4714 BC. */
void
pgb_check_date(DateADT d, const char *what, int64 customer_id)
{
	if (pgb_date_supported(d))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("%s %s of customer %lld is outside the dates the revenue engine supports",
					what, pgb_date_text(d),
					(long long) customer_id),
			 errdetail("Revenue is computed for finite dates from 4714-12-01 BC to 5874897-12-31."),
			 errhint("Correct the date in the customer's documents.")));
}

/* Refuses a customer whose figures would need more months than PGB_MAX_SPAN_MONTHS. */
void
pgb_check_span(int first, int last, int64 customer_id)
{
	int64		span = (int64) last - first + 1;

	if (span <= PGB_MAX_SPAN_MONTHS)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("revenue of customer %lld would span %lld months, more than the %d the engine computes",
					(long long) customer_id, (long long) span, PGB_MAX_SPAN_MONTHS),
			 errdetail("Its documents run from %s to %s.",
					   pgb_date_text(pgb_month_start(first)), pgb_date_text(pgb_month_last_day(last))),
			 errhint("Service periods, issue and refund dates of one customer and currency must lie within 10,000 years of each other.")));
}
