/*
 * fuzz_json.c: libFuzzer target for the JSON decoding that runs on every vendor body: jansson
 * through the counted, capped allocator (src/json/json_mem.c) and the value checks of
 * src/common/decimal_time.c on every value found (pgb_real_shortest among them: the text of a
 * raw record's reals). Properties checked (abort on failure):
 *  - every byte the decoder took is given back (allocations and frees match);
 *  - the decoder never holds more than the cap;
 *  - a money or timestamp text accepted reads back as itself.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json/json_mem.h"
#include "common/decimal_time.h"

#define CAP ((size_t) 64 << 20)

static void
check(int cond, const char *what)
{
	if (!cond)
	{
		fprintf(stderr, "fuzz_json: property violated: %s\n", what);
		abort();
	}
}

static void
check_string(const char *s, size_t len)
{
	int64_t		epoch;
	char		out[40];

	if (strlen(s) != len)
		return;					/* \u0000 inside: the decoders refuse it (pgb_j_money checks) */
	(void) pgb_decimal_valid(s);
	(void) pgb_date_valid(s);
	if (pgb_timestamp_parse(s, &epoch))
	{
		int64_t		again;

		pgb_timestamp_format(epoch, 'T', out, sizeof out);
		check(pgb_timestamp_parse(out, &again) && again == epoch, "a parsed timestamp formats and parses back");
	}
}

static void
check_value(json_t *v, int depth)
{
	char		out[64];
	const char *key;
	json_t	   *item;
	size_t		i;

	switch (json_typeof(v))
	{
		case JSON_OBJECT:
			json_object_foreach(v, key, item)
				check_value(item, depth + 1);
			break;
		case JSON_ARRAY:
			json_array_foreach(v, i, item)
				check_value(item, depth + 1);
			break;
		case JSON_STRING:
			check_string(json_string_value(v), json_string_length(v));
			break;
		case JSON_INTEGER:
			if (pgb_int_to_decimal(json_integer_value(v), out, sizeof out))
				check(strtoll(out, NULL, 10) == json_integer_value(v), "integer amount text reads back");
			pgb_cents_to_decimal(json_integer_value(v), out, sizeof out);
			break;
		case JSON_REAL:
			{
				double		d = json_real_value(v);

				if (pgb_real_to_decimal(d, out, sizeof out))
					check(strtod(out, NULL) == d, "real amount text reads back as the same double");
				check(pgb_real_shortest(d, out, sizeof out) && strtod(out, NULL) == d, "shortest real text reads back");
			}
			break;
		default:
			break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	installed = 0;
	size_t		base;
	json_error_t err;
	json_t	   *root;

	if (!installed)
	{
		pgb_json_mem_install();
		installed = 1;
	}
	base = pgb_json_mem_live;
	pgb_json_mem_begin(CAP);
	root = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	check(pgb_json_mem_peak <= CAP, "the decoder stays under the cap");
	if (root != NULL)
	{
		check_value(root, 0);
		json_decref(root);
	}
	check(pgb_json_mem_live == base, "every byte the decoder took is given back");
	return 0;
}
