/*
 * civil_date.h: calendar arithmetic shared by the server-free parsers (HTTP dates, JSON timestamps).
 * Plain C, no server calls, so the unit tests can build it under the sanitizers.
 */
#ifndef PGB_CIVIL_DATE_H
#define PGB_CIVIL_DATE_H

#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static inline int64_t
pgb_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		era;
	unsigned	yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned) (y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t) doe - 719468;
}

#endif							/* PGB_CIVIL_DATE_H */
