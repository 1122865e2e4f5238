/*
 * revenue_calendar.h: calendar months for the revenue engine, over every date it supports.
 *
 * A month is numbered year * 12 + month - 1 with astronomical years (1 BC is year 0, 2 BC is -1), so
 * consecutive months differ by one across the era boundary too. The engine supports the months whose
 * first and last days are PostgreSQL dates: December 4714 BC to December 5874897 (November 4714 BC
 * starts before PostgreSQL's first date, 24 November 4714 BC).
 */
#ifndef PGB_REVENUE_CALENDAR_H
#define PGB_REVENUE_CALENDAR_H

#include "postgres.h"
#include "utils/date.h"

/* The first and last month the engine computes, as numbered above. */
#define PGB_MONTH_MIN ((-4713) * 12 + 11)	/* December 4714 BC */
#define PGB_MONTH_MAX (5874897 * 12 + 11)	/* December 5874897 */

/*
 * Most months one customer and currency's figures may span: 10,000 years. One row per month is
 * stored, so a span of millions of months (a period to the year 5874897) is refused with a clear
 * error instead of exhausting memory.
 */
#define PGB_MAX_SPAN_MONTHS 120000

extern bool pgb_date_supported(DateADT d);
extern int	pgb_month_of(DateADT d);
extern DateADT pgb_month_start(int month);
extern DateADT pgb_month_last_day(int month);
extern bool pgb_add_months(DateADT d, int months, DateADT *result);
extern char *pgb_date_text(DateADT d);
extern void pgb_check_date(DateADT d, const char *what, int64 customer_id);
extern void pgb_check_span(int first, int last, int64 customer_id);

#endif							/* PGB_REVENUE_CALENDAR_H */
