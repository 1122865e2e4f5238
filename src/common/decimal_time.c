/*
 * decimal_time.c: exact decimal text for money, and date/timestamp checks, without server calls.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/decimal_time.h"
#include "common/civil_date.h"

#define Max(a, b) ((a) > (b) ? (a) : (b))

bool
pgb_decimal_valid(const char *s)
{
	int			digits = 0;

	if (s == NULL)
		return false;
	if (*s == '-')
		s++;
	if (!isdigit((unsigned char) *s))
		return false;
	while (isdigit((unsigned char) *s))
		s++, digits++;
	if (*s == '.')
	{
		s++;
		if (!isdigit((unsigned char) *s))
			return false;
		while (isdigit((unsigned char) *s))
			s++, digits++;
	}
	return *s == '\0' && digits <= 40;
}

bool
pgb_int_to_decimal(int64_t v, char *out, size_t outlen)
{
	/* compared as integers: 10^13 is exact in a double, but v need not be */
	if (v >= (int64_t) PGB_MAX_EXACT_AMOUNT || v <= -(int64_t) PGB_MAX_EXACT_AMOUNT || outlen < 32)
		return false;
	snprintf(out, outlen, "%lld", (long long) v);
	return true;
}

bool
pgb_real_to_decimal(double d, char *out, size_t outlen)
{
	char		buf[64];
	int			prec;

	if (!isfinite(d) || fabs(d) >= PGB_MAX_EXACT_AMOUNT || outlen < 32)
		return false;
	for (prec = 1; prec <= 15; prec++)
	{
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (prec > 15)
		return false;
	{
		/* rewrite the exponent form as plain decimal text */
		char		mant[32];
		int			exp10;
		char	   *e = strchr(buf, 'e');
		int			nd = 0;
		bool		neg = false;
		char	   *p = buf;
		char	   *o = out;
		int			point;

		exp10 = atoi(e + 1);
		*e = '\0';
		if (*p == '-')
			neg = true, p++;
		for (; *p; p++)
			if (isdigit((unsigned char) *p))
				mant[nd++] = *p;
		while (nd > 1 && mant[nd - 1] == '0')
			nd--;
		mant[nd] = '\0';
		point = exp10 + 1;		/* digits before the decimal point */
		/*
		 * The plain text of a tiny number is long: 5e-324 needs 326 characters. Found by
		 * fuzz_numbers (test/fuzz/regress/numbers/tiny): it overran the caller's buffer.
		 */
		if ((size_t) (1 + (point <= 0 ? 2 - point + nd : Max(point, nd) + 1) + 1) > outlen)
			return false;
		/* and like a decimal string (pgb_decimal_valid), at most 40 digits in all */
		if ((point <= 0 ? 1 - point + nd : Max(point, nd)) > 40)
			return false;
		if (neg && !(nd == 1 && mant[0] == '0'))
			*o++ = '-';
		if (point <= 0)
		{
			*o++ = '0';
			*o++ = '.';
			for (int i = 0; i < -point; i++)
				*o++ = '0';
			memcpy(o, mant, nd);
			o += nd;
		}
		else
		{
			for (int i = 0; i < point; i++)
				*o++ = i < nd ? mant[i] : '0';
			if (nd > point)
			{
				*o++ = '.';
				memcpy(o, mant + point, nd - point);
				o += nd - point;
			}
		}
		*o = '\0';
	}
	return true;
}

void
pgb_cents_to_decimal(int64_t cents, char *out, size_t outlen)
{
	uint64_t	mag = cents < 0 ? (uint64_t) 0 - (uint64_t) cents : (uint64_t) cents;

	snprintf(out, outlen, "%s%llu.%02llu", cents < 0 ? "-" : "",
			 (unsigned long long) (mag / 100), (unsigned long long) (mag % 100));
}

static int
digits_at(const char *s, int n, bool *ok)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) s[i]))
		{
			*ok = false;
			return 0;
		}
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static bool
ymd_valid(int y, int m, int d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			max;

	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	max = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	return d <= max;
}

bool
pgb_date_valid(const char *s)
{
	bool		ok = true;
	int			y,
				m,
				d;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	y = digits_at(s, 4, &ok);
	m = digits_at(s + 5, 2, &ok);
	d = digits_at(s + 8, 2, &ok);
	return ok && ymd_valid(y, m, d);
}

bool
pgb_timestamp_parse(const char *s, int64_t *epoch)
{
	bool		ok = true;
	int			y,
				mo,
				d,
				h,
				mi,
				sec,
				off = 0;
	const char *p;

	if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
		s[13] != ':' || s[16] != ':')
		return false;
	y = digits_at(s, 4, &ok);
	mo = digits_at(s + 5, 2, &ok);
	d = digits_at(s + 8, 2, &ok);
	h = digits_at(s + 11, 2, &ok);
	mi = digits_at(s + 14, 2, &ok);
	sec = digits_at(s + 17, 2, &ok);
	if (!ok || !ymd_valid(y, mo, d) || h > 23 || mi > 59 || sec > 60)
		return false;
	p = s + 19;
	if (*p == '.')
	{
		p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	if (*p == 'Z' && p[1] == '\0')
		off = 0;
	else if (*p == '+' || *p == '-')
	{
		int			oh,
					om;
		size_t		rest = strlen(p + 1);

		if (rest == 5 && p[3] == ':')
		{
			oh = digits_at(p + 1, 2, &ok);
			om = digits_at(p + 4, 2, &ok);
		}
		else if (rest == 4)
		{
			oh = digits_at(p + 1, 2, &ok);
			om = digits_at(p + 3, 2, &ok);
		}
		else
			return false;
		if (!ok || oh > 23 || om > 59)
			return false;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
	}
	else
		return false;
	*epoch = pgb_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	return true;
}

void
pgb_timestamp_format(int64_t epoch, char sep, char *out, size_t outlen)
{
	int64_t		days = epoch >= 0 ? epoch / 86400 : (epoch - 86399) / 86400;
	int64_t		rem = epoch - days * 86400;
	/* civil_from_days (Hinnant) */
	int64_t		z = days + 719468;
	int64_t		era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned	doe = (unsigned) (z - era * 146097);
	unsigned	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		y = (int64_t) yoe + era * 400;
	unsigned	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned	mp = (5 * doy + 2) / 153;
	unsigned	d = doy - (153 * mp + 2) / 5 + 1;
	unsigned	m = mp < 10 ? mp + 3 : mp - 9;

	y += m <= 2;
	snprintf(out, outlen, "%04lld-%02u-%02u%c%02d:%02d:%02d%s", (long long) y, m, d, sep,
			 (int) (rem / 3600), (int) (rem % 3600 / 60), (int) (rem % 60), sep == 'T' ? "Z" : "");
}

bool
pgb_real_shortest(double d, char *out, size_t outlen)
{
	char		buf[40];
	char		digits[20];
	int			nd = 0;
	int			exp10;
	int			point;			/* position of the decimal point after the first digit: 1 for 1.5 */
	char	   *e;
	char	   *o = out;

	if (!isfinite(d) || outlen < 32)
		return false;
	if (d == 0)
	{
		strcpy(out, signbit(d) ? "-0.0" : "0.0");
		return true;
	}
	/* fewest significant digits that read back as d (17 always do) */
	for (int prec = 1; prec <= 17; prec++)
	{
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	e = strchr(buf, 'e');
	exp10 = atoi(e + 1);
	for (char *p = buf; p < e; p++)
		if (isdigit((unsigned char) *p))
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	point = exp10 + 1;
	if (d < 0)
		*o++ = '-';
	if (point > 21 || point < -5)
	{
		/* exponent form: d[.ddd]e+x */
		*o++ = digits[0];
		if (nd > 1)
		{
			*o++ = '.';
			memcpy(o, digits + 1, nd - 1);
			o += nd - 1;
		}
		snprintf(o, outlen - (o - out), "e%c%d", exp10 < 0 ? '-' : '+', abs(exp10));
		return true;
	}
	if (point <= 0)
	{
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -point; i++)
			*o++ = '0';
		memcpy(o, digits, nd);
		o += nd;
	}
	else
	{
		for (int i = 0; i < point; i++)
			*o++ = i < nd ? digits[i] : '0';
		*o++ = '.';
		if (nd > point)
		{
			memcpy(o, digits + point, nd - point);
			o += nd - point;
		}
		else
			*o++ = '0';
	}
	*o = '\0';
	return true;
}
