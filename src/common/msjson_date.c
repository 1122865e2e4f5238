/*
 * msjson_date.c: Microsoft JSON dates, "/Date(ms[+-HHMM])/" (see msjson_date.h).
 */
#include <stdio.h>
#include <string.h>

#include "common/decimal_time.h"
#include "common/msjson_date.h"

#define MS_PER_DAY 86400000LL

/* Reads n digits at p into *out; false unless all n are digits. */
static bool
digits(const char *p, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

bool
pgb_msjson_parse(const char *s, int64_t *epoch_ms, int *offset_minutes)
{
	const char *p;
	bool		neg = false;
	int64_t		ms = 0;
	int			ndigits = 0;
	int			hh,
				mm;

	if (s == NULL || strncmp(s, "/Date(", 6) != 0)
		return false;
	p = s + 6;
	if (*p == '-')
	{
		neg = true;
		p++;
	}
	for (; *p >= '0' && *p <= '9'; p++)
	{
		if (++ndigits > 15)
			return false;
		ms = ms * 10 + (*p - '0');
	}
	if (ndigits == 0)
		return false;
	*offset_minutes = 0;
	if (*p == '+' || *p == '-')
	{
		int			sign = *p == '-' ? -1 : 1;

		if (!digits(p + 1, 2, &hh) || !digits(p + 3, 2, &mm) || hh > 23 || mm > 59)
			return false;
		*offset_minutes = sign * (hh * 60 + mm);
		p += 5;
	}
	if (strcmp(p, ")/") != 0)
		return false;
	*epoch_ms = neg ? -ms : ms;
	return true;
}

int64_t
pgb_msjson_epoch(int64_t epoch_ms)
{
	return epoch_ms >= 0 ? epoch_ms / 1000 : -((-epoch_ms + 999) / 1000);
}

bool
pgb_msjson_local_date(int64_t epoch_ms, int offset_minutes, char *out, size_t outlen)
{
	int64_t		local = epoch_ms + (int64_t) offset_minutes * 60000;
	int64_t		days = local >= 0 ? local / MS_PER_DAY : -((-local + MS_PER_DAY - 1) / MS_PER_DAY);
	char		buf[40];

	/* 0001-01-01 is day -719162, 9999-12-31 is day 2932896 */
	if (days < -719162 || days > 2932896 || outlen < 11)
		return false;
	pgb_timestamp_format(days * 86400, ' ', buf, sizeof(buf));
	memcpy(out, buf, 10);
	out[10] = '\0';
	return true;
}
