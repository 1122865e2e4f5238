/*
 * fuzz_numbers.c: libFuzzer target for the number and time conversions (src/common/decimal_time.c),
 * fed any bit pattern: every 8 bytes of input are a double and an int64. Properties checked (abort
 * on failure): the shortest real text reads back as the same double and is valid JSON number text;
 * an exact money text reads back as the same double; cents text has two decimals; a timestamp
 * formatted from an epoch within years 1..9999 parses back to that epoch.
 */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/decimal_time.h"

static void
check(int cond, const char *what)
{
	if (!cond)
	{
		fprintf(stderr, "fuzz_numbers: property violated: %s\n", what);
		abort();
	}
}

/* JSON's number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
static int
json_number_text(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (isdigit((unsigned char) *s))
			s++;
	else
		return 0;
	if (*s == '.')
	{
		s++;
		if (!isdigit((unsigned char) *s))
			return 0;
		while (isdigit((unsigned char) *s))
			s++;
	}
	if (*s == 'e' || *s == 'E')
	{
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char) *s))
			return 0;
		while (isdigit((unsigned char) *s))
			s++;
	}
	return *s == '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t off = 0; off + 8 <= size; off += 8)
	{
		double		d;
		int64_t		v;
		char		out[64];

		memcpy(&d, data + off, 8);
		memcpy(&v, data + off, 8);
		if (pgb_real_shortest(d, out, sizeof out))
		{
			check(isfinite(d), "only finite doubles have a text");
			check(json_number_text(out), "the shortest text is a JSON number");
			check(strtod(out, NULL) == d && signbit(strtod(out, NULL)) == signbit(d), "the shortest text reads back");
		}
		else
			check(!isfinite(d), "every finite double has a shortest text");
		if (pgb_real_to_decimal(d, out, sizeof out))
			check(pgb_decimal_valid(out) && strtod(out, NULL) == d, "an exact amount reads back");
		if (pgb_int_to_decimal(v, out, sizeof out))
			check(strtoll(out, NULL, 10) == v, "an integer amount reads back");
		pgb_cents_to_decimal(v, out, sizeof out);
		check(strlen(out) >= 4 && out[strlen(out) - 3] == '.', "cents have two decimals");
		{
			/* epochs from 0001-01-01 to 9999-12-31 */
			int64_t		lo = -62135596800LL,
						hi = 253402300799LL;
			int64_t		e = lo + (int64_t) ((uint64_t) v % (uint64_t) (hi - lo + 1));
			int64_t		back;

			pgb_timestamp_format(e, 'T', out, sizeof out);
			check(pgb_timestamp_parse(out, &back) && back == e, "a formatted timestamp parses back");
		}
	}
	return 0;
}
