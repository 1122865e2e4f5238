/*
 * revenue_money.c: numeric arithmetic for the revenue engine, in the SQL formulation's operations.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "engines/revenue_money.h"

/*
 * 0 (scale 0), made once per backend: the engine asks for it for every month and line, and numerics
 * are never changed in place, so one shared value serves every caller.
 */
Numeric
pgb_num_zero(void)
{
	static Numeric zero = NULL;

	if (zero == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		zero = int64_to_numeric(0);
		MemoryContextSwitchTo(old);
	}
	return zero;
}

Numeric
pgb_num_add(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
pgb_num_sub(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_sub, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
pgb_num_mul(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
pgb_num_div(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_div, NumericGetDatum(a), NumericGetDatum(b)));
}

Numeric
pgb_num_mul_int(Numeric a, int64 b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul, NumericGetDatum(a),
											   NumericGetDatum(int64_to_numeric(b))));
}

/* Same division as SQL's numeric / integer, so the same result scale and rounding. */
Numeric
pgb_num_div_int(Numeric a, int64 b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_div, NumericGetDatum(a),
											   NumericGetDatum(int64_to_numeric(b))));
}

/* round(x, 2): half away from zero (rule C9). */
Numeric
pgb_num_round2(Numeric a)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(a), Int32GetDatum(2)));
}

Numeric
pgb_num_abs(Numeric a)
{
	return DatumGetNumeric(DirectFunctionCall1(numeric_abs, NumericGetDatum(a)));
}

int
pgb_num_sign(Numeric a)
{
	return pgb_num_cmp(a, pgb_num_zero());
}

int
pgb_num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

/*
 * GREATEST(a, b) and LEAST(a, b) as SQL evaluates them: on a tie the first argument is kept, which
 * decides the displayed scale (GREATEST(0.00, 0) is 0.00, GREATEST(-1, 0) is 0).
 */
Numeric
pgb_num_greatest(Numeric a, Numeric b)
{
	return pgb_num_cmp(b, a) > 0 ? b : a;
}

Numeric
pgb_num_least(Numeric a, Numeric b)
{
	return pgb_num_cmp(b, a) < 0 ? b : a;
}

/*
 * The exact cents of an amount with at most 2 decimals below PGB_EXACT_MAX_CENTS, for the integer
 * fast path of recognition; false sends the caller to numeric arithmetic.
 */
bool
pgb_num_to_cents(Numeric a, int64 *cents)
{
	Numeric		limit = int64_to_numeric(PGB_EXACT_MAX_CENTS / 100);

	if (DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(a))) > 2 ||
		pgb_num_cmp(pgb_num_abs(a), limit) >= 0)
		return false;
	*cents = DatumGetInt64(DirectFunctionCall1(numeric_int8,
											   NumericGetDatum(pgb_num_mul_int(a, 100))));
	return true;
}

Numeric
pgb_cents_to_num(int64 cents)
{
	return int64_div_fast_to_numeric(cents, 2);
}

/*
 * round(cents * numerator / denominator) half away from zero, exactly, for 0 <= numerator <=
 * denominator < PGB_EXACT_MAX_DAYS and |cents| < PGB_EXACT_MAX_CENTS (the product stays below 10^20,
 * far inside int128).
 *
 * Within those bounds it equals SQL's round(amount * numerator / denominator, 2), which rounds twice:
 * numeric division first rounds the quotient to rscale = max(16 - 4 * qweight, 2) decimals, where
 * qweight is at most the base-10000 weight of the quotient (select_div_scale), itself at most |amount|.
 * A quotient that is not exactly a half cent is at least 1 / (200 * denominator) away from one, so
 * the first rounding cannot reach the half cent while 100 * denominator < 10^rscale. Below 10^12
 * (qweight <= 2, rscale >= 8) that holds for every denominator below 10^6. From 10^12 on rscale can
 * drop to 4 and the roundings differ: 1209173183766.58 * 134 / 155 = ...159.494968 is .49 exactly,
 * but numeric division gives ...159.4950 and round() .50. Larger amounts take the numeric path.
 */
int64
pgb_cents_ratio(int64 cents, int64 numerator, int64 denominator)
{
	int128		num = (int128) cents * numerator;
	int128		q = num / denominator;
	int128		r = num % denominator;

	if (r < 0)
		r = -r;
	if (2 * r >= (int128) (denominator < 0 ? -denominator : denominator))
		q += (num < 0) ? -1 : 1;
	return (int64) q;
}
