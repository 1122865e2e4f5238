/*
 * msjson_date.h: Microsoft JSON dates ("/Date(1539993600000+0000)/"), as Xero and other .NET APIs
 * send them: milliseconds since 1970 UTC, optionally followed by the zone offset of the local time
 * the value was taken in (+HHMM or -HHMM). No server calls (plain C, like decimal_time.h).
 */
#ifndef PGB_MSJSON_DATE_H
#define PGB_MSJSON_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses "/Date(<ms>[(+|-)HHMM])/": ms is an optional minus and 1 to 15 digits (years -29719 to
 * 33658 at most), the offset at most 23:59. False for anything else (no spaces, nothing after).
 */
extern bool pgb_msjson_parse(const char *s, int64_t *epoch_ms, int *offset_minutes);

/* Seconds since 1970 UTC of the instant (the offset does not move an instant): floor of ms/1000. */
extern int64_t pgb_msjson_epoch(int64_t epoch_ms);

/*
 * The calendar date of the value in its own zone, YYYY-MM-DD: the UTC instant plus its offset.
 * Xero sends dates (an invoice's Date) as that day's midnight with +0000. out needs 11 bytes;
 * false when the year is outside 1..9999.
 */
extern bool pgb_msjson_local_date(int64_t epoch_ms, int offset_minutes, char *out, size_t outlen);

#endif
