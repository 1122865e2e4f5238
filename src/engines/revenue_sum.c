/*
 * revenue_sum.c: exact numeric sums on integers (see revenue_sum.h).
 *
 * Reading a numeric's digits needs its storage format, which numeric.c keeps private. The format is
 * the on-disk one (pg_upgrade carries data files across major versions unchanged), so it is stable:
 * a 2-byte header, then either a 2-byte weight (long form) or none (short form), then base-10000
 * digits, most significant first, the first one at 10000^weight. The macros below are numeric.c's.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "engines/revenue_money.h"
#include "engines/revenue_sum.h"

#define NUM_SIGN_MASK			0xC000
#define NUM_NEG					0x4000
#define NUM_SHORT				0x8000
#define NUM_SPECIAL				0xC000
#define NUM_SHORT_SIGN_MASK		0x2000
#define NUM_SHORT_DSCALE_MASK	0x1F80
#define NUM_SHORT_DSCALE_SHIFT	7
#define NUM_SHORT_WEIGHT_SIGN	0x0040
#define NUM_SHORT_WEIGHT_MASK	0x003F
#define NUM_DSCALE_MASK			0x3FFF

/* Units are 10^-SUM_SCALE; a digit at 10000^e is worth 10000^(e + 2) units. */
#define SUM_SCALE				8
#define SUM_MAX_WEIGHT			5		/* values below 10000^6 = 10^24, so below 10^32 units */
/* a sum leaves the integers beyond 10^36 units: adding one more value cannot overflow int128 (1.7e38) */
#define SUM_MAX_UNITS			((int128) INT64CONST(1000000000000000000) * INT64CONST(1000000000000000000))

static const int128 pow10000[8] = {
	1, 10000, 100000000, INT64CONST(1000000000000), INT64CONST(10000000000000000),
	(int128) INT64CONST(10000000000000000) * 10000,
	(int128) INT64CONST(10000000000000000) * 100000000,
	(int128) INT64CONST(10000000000000000) * INT64CONST(1000000000000)
};

/* The value's digits as units, when it has at most SUM_SCALE decimals and is below 10^24. */
static bool
decode(Numeric value, int128 *units, int *dscale)
{
	const char *p = VARDATA_ANY(value);
	int			len = VARSIZE_ANY_EXHDR(value);
	uint16		header;
	int			weight;
	bool		negative;
	const char *digits;
	int			ndigits,
				i;
	int128		v = 0;

	if (len < (int) sizeof(uint16))
		return false;
	memcpy(&header, p, sizeof(header));
	if ((header & NUM_SIGN_MASK) == NUM_SPECIAL)
		return false;			/* NaN and infinities: numeric decides */
	if ((header & NUM_SIGN_MASK) == NUM_SHORT)
	{
		negative = (header & NUM_SHORT_SIGN_MASK) != 0;
		*dscale = (header & NUM_SHORT_DSCALE_MASK) >> NUM_SHORT_DSCALE_SHIFT;
		weight = (header & NUM_SHORT_WEIGHT_SIGN) ? (int) (header & NUM_SHORT_WEIGHT_MASK) - 64
			: (int) (header & NUM_SHORT_WEIGHT_MASK);
		digits = p + sizeof(uint16);
		ndigits = (len - (int) sizeof(uint16)) / (int) sizeof(int16);
	}
	else
	{
		int16		w;

		if (len < (int) (2 * sizeof(uint16)))
			return false;
		negative = (header & NUM_SIGN_MASK) == NUM_NEG;
		*dscale = header & NUM_DSCALE_MASK;
		memcpy(&w, p + sizeof(uint16), sizeof(w));
		weight = w;
		digits = p + 2 * sizeof(uint16);
		ndigits = (len - 2 * (int) sizeof(uint16)) / (int) sizeof(int16);
	}
	if (*dscale > SUM_SCALE || (ndigits > 0 && weight > SUM_MAX_WEIGHT))
		return false;
	for (i = 0; i < ndigits; i++)
	{
		int16		d;
		int			e = weight - i + 2;

		memcpy(&d, digits + i * sizeof(int16), sizeof(d));
		if (d == 0)
			continue;
		if (e < 0 || e > 7 || d < 0 || d >= 10000)
			return false;		/* below 10^-8 (not with dscale <= 8) or malformed: numeric decides */
		v += (int128) d * pow10000[e];
	}
	*units = negative ? -v : v;
	return true;
}

PgbDec
pgb_dec(Numeric value)
{
	PgbDec		d;

	d.num = value;
	d.exact = decode(value, &d.units, &d.dscale);
	return d;
}

/* A value of units with the given scale as numeric: digits "[-]int.frac" read by numeric_in. */
static Numeric
units_numeric(int128 units, int dscale)
{
	char		buf[64];
	char		out[72];
	int			n = 0,
				o = 0,
				i;
	bool		negative = units < 0;
	uint128		v = negative ? -(uint128) units : (uint128) units;

	/* the sum is a multiple of 10^-dscale: drop the decimals beyond it */
	for (i = dscale; i < SUM_SCALE; i++)
		v /= 10;
	if (v <= (uint128) PG_INT64_MAX)
		return int64_div_fast_to_numeric(negative ? -(int64) v : (int64) v, dscale);
	do
	{
		buf[n++] = '0' + (int) (v % 10);
		v /= 10;
	} while (v > 0);
	while (n <= dscale)
		buf[n++] = '0';
	if (negative)
		out[o++] = '-';
	for (i = n - 1; i >= 0; i--)
	{
		out[o++] = buf[i];
		if (i == dscale && dscale > 0)
			out[o++] = '.';
	}
	out[o] = '\0';
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(out),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

Numeric
pgb_dec_numeric(PgbDec value)
{
	if (value.num == NULL)
		value.num = units_numeric(value.units, value.dscale);
	return value.num;
}

PgbDec
pgb_dec_add(PgbDec a, PgbDec b)
{
	PgbDec		r;

	if (a.exact && b.exact)
	{
		r.exact = true;
		r.units = a.units + b.units;
		r.dscale = Max(a.dscale, b.dscale);
		r.num = NULL;
		if (r.units < SUM_MAX_UNITS && r.units > -SUM_MAX_UNITS)
			return r;
		r.num = units_numeric(r.units, r.dscale);
		r.exact = false;
		return r;
	}
	r.exact = false;
	r.units = 0;
	r.dscale = 0;
	r.num = pgb_num_add(pgb_dec_numeric(a), pgb_dec_numeric(b));
	return r;
}

PgbDec
pgb_dec_neg(PgbDec a)
{
	PgbDec		r = a;

	if (a.exact)
	{
		r.units = -a.units;
		r.num = NULL;
	}
	else
		r.num = DatumGetNumeric(DirectFunctionCall1(numeric_uminus, NumericGetDatum(a.num)));
	return r;
}

int
pgb_dec_sign(PgbDec a)
{
	if (a.exact)
		return a.units > 0 ? 1 : (a.units < 0 ? -1 : 0);
	return pgb_num_sign(a.num);
}

PgbDec
pgb_dec_greatest0(PgbDec a)
{
	PgbDec		zero;

	if (pgb_dec_sign(a) >= 0)
		return a;
	zero.exact = true;
	zero.units = 0;
	zero.dscale = 0;
	zero.num = NULL;
	return zero;
}

void
pgb_sum_init(PgbSum *sum)
{
	sum->value.exact = true;
	sum->value.units = 0;
	sum->value.dscale = 0;
	sum->value.num = NULL;
	sum->added_scale = -1;
	sum->removed_scale = -1;
}

void
pgb_sum_add(PgbSum *sum, PgbDec value, int sign)
{
	/* a term off the integer path counts as any scale: such a sum is never a no-op */
	int			scale = value.exact ? value.dscale : INT_MAX;

	if (sign < 0)
		sum->removed_scale = Max(sum->removed_scale, scale);
	else
		sum->added_scale = Max(sum->added_scale, scale);
	sum->value = pgb_dec_add(sum->value, sign < 0 ? pgb_dec_neg(value) : value);
}

/*
 * Whether adding this sum, as a delta, to a stored sum that holds every term it subtracts leaves the
 * stored one as it is, value and display scale: the delta is exactly 0 and no added term has a larger
 * scale than a subtracted one (the stored sum's scale is at least every subtracted term's, as numeric
 * addition keeps the larger scale). An incremental refresh then need not rewrite the summary row.
 */
bool
pgb_sum_is_noop(const PgbSum *sum)
{
	return sum->value.exact && sum->value.units == 0 &&
		sum->added_scale <= Max(sum->removed_scale, 0);
}

Numeric
pgb_sum_numeric(const PgbSum *sum)
{
	return pgb_dec_numeric(sum->value);
}
