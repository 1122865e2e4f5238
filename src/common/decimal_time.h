/*
 * decimal_time.h: exact money text, dates and timestamps. No server calls (unit-tested in test/unit/).
 */
#ifndef PGB_DECIMAL_TIME_H
#define PGB_DECIMAL_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest magnitude a JSON number amount may have: beyond it a double is not exact to the cent. */
#define PGB_MAX_EXACT_AMOUNT 1e13

/* A plain decimal string: -?digits(.digits)? with at most 40 digits in all. */
extern bool pgb_decimal_valid(const char *s);

/*
 * The decimal text of a JSON number read as a double: the shortest text that reads back as the
 * same double, when it has at most 15 significant digits and |d| < 10^13. out needs 32 bytes.
 * False when the number cannot be exact (too large, too many digits, not finite) or its text does
 * not fit in outlen or has more than 40 digits, like a decimal string (tiny numbers: 1e-100).
 */
extern bool pgb_real_to_decimal(double d, char *out, size_t outlen);

/* The decimal text of a JSON integer amount when |v| < 10^13 (the bound of every JSON-number
 * amount); false beyond it. out needs 32 bytes. */
extern bool pgb_int_to_decimal(int64_t v, char *out, size_t outlen);

/*
 * The shortest JSON text of a finite double that reads back (strtod) as the same double, the way
 * JavaScript prints numbers: plain decimals from 1e-6 to 1e21 ("19.99", "0.000001", "1e-7",
 * "1e+21"), with ".0" after an integral value so that it stays a real ("100.0"). out needs 32
 * bytes. False for NaN and infinities (which JSON cannot hold).
 */
extern bool pgb_real_shortest(double d, char *out, size_t outlen);

/* Integer cents as decimal text ("-12.05"). out needs 32 bytes. */
extern void pgb_cents_to_decimal(int64_t cents, char *out, size_t outlen);

/* YYYY-MM-DD, a real calendar date. */
extern bool pgb_date_valid(const char *s);

/*
 * ISO 8601 / RFC 3339 timestamp with a zone (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM|+HHMM)),
 * to seconds since 1970 UTC (fraction dropped). False when it is anything else.
 */
extern bool pgb_timestamp_parse(const char *s, int64_t *epoch);

/* Seconds since 1970 UTC as "YYYY-MM-DDTHH:MM:SSZ" (sep 'T') or "YYYY-MM-DD HH:MM:SS" (sep ' '). */
extern void pgb_timestamp_format(int64_t epoch, char sep, char *out, size_t outlen);

#endif
