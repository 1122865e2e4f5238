/*
 * splynx_money.c: a Splynx invoice has no total, only items (quantity, price, tax percent); the
 * amounts are computed here with numeric, never a double. Kept apart from the mapping because
 * jansson and utils/builtins.h cannot share a translation unit.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "connectors/splynx_int.h"

static Datum
num(const char *s)
{
	return DirectFunctionCall3(numeric_in, CStringGetDatum(s), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

static char *
text_of(Datum n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, n));
}

/* numeric's round() rounds half away from zero: 0.125 -> 0.13, -0.125 -> -0.13 */
static Datum
cents(Datum n)
{
	return DirectFunctionCall2(numeric_round, n, Int32GetDatum(2));
}

void
pgb_splynx_item_amounts(const char *quantity, const char *price, const char *tax_percent,
						char **subtotal, char **tax, char **total)
{
	Datum		sub = cents(DirectFunctionCall2(numeric_mul, num(quantity), num(price)));
	Datum		t = cents(DirectFunctionCall2(numeric_div,
											  DirectFunctionCall2(numeric_mul, sub, num(tax_percent)),
											  num("100")));

	*subtotal = text_of(sub);
	*tax = text_of(t);
	*total = text_of(DirectFunctionCall2(numeric_add, sub, t));
}

char *
pgb_splynx_add(const char *a, const char *b)
{
	return text_of(DirectFunctionCall2(numeric_add, num(a), num(b)));
}
