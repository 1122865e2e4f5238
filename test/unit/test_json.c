/*
 * test_json.c: unit tests of the JSON parts that run without the server: the counted, capped
 * allocator jansson uses (src/json/json_mem.c), and the shortest round-trip text of JSON reals
 * that keeps raw numbers as the vendor sent them (src/common/decimal_time.c). Prints TAP. Built with
 * ASan and UBSan by test/unit/run.sh.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json/json_mem.h"
#include "common/decimal_time.h"

static int	n = 0;
static int	failed = 0;

static void
ok(int cond, const char *what)
{
	n++;
	if (!cond)
		failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, what);
}

/* pgb_real_shortest(d) is want, and reads back as d. */
static int
shortest_is(double d, const char *want)
{
	char		b[40];

	if (!pgb_real_shortest(d, b, sizeof b))
		return 0;
	if (strcmp(b, want) != 0)
	{
		printf("# %.17g: got %s, want %s\n", d, b, want);
		return 0;
	}
	return strtod(b, NULL) == d;
}

static void
shortest_tests(void)
{
	char		b[40];

	ok(shortest_is(19.99, "19.99"), "19.99 stays 19.99 (not 19.989999999999998)");
	ok(shortest_is(0.1, "0.1") && shortest_is(12345.6789, "12345.6789") && shortest_is(-0.5, "-0.5"),
	   "0.1, 12345.6789, -0.5");
	ok(shortest_is(1e-7, "1e-7") && shortest_is(-1.5e-10, "-1.5e-10"), "below 1e-6: exponent form");
	ok(shortest_is(0.000001, "0.000001"), "1e-6 in plain decimals");
	ok(shortest_is(1.0, "1.0") && shortest_is(100.0, "100.0") && shortest_is(2.5, "2.5"),
	   "integral reals keep .0 (they stay reals)");
	ok(shortest_is(1e20, "100000000000000000000.0") && shortest_is(1e21, "1e+21"), "1e21 and beyond: exponent form");
	ok(shortest_is(0.1 + 0.2, "0.30000000000000004"), "0.1 + 0.2 needs 17 digits");
	ok(shortest_is(DBL_MAX, "1.7976931348623157e+308") && shortest_is(5e-324, "5e-324") &&
	   shortest_is(DBL_MIN, "2.2250738585072014e-308"), "extremes: largest, smallest subnormal, smallest normal");
	ok(shortest_is(0.0, "0.0") && shortest_is(-0.0, "-0.0"), "zero and negative zero");
	ok(!pgb_real_shortest(NAN, b, sizeof b) && !pgb_real_shortest(INFINITY, b, sizeof b) &&
	   !pgb_real_shortest(1.0, b, 8), "NaN, infinity and a short buffer refused");
}

static void
tiny_tests(void)
{
	char		b[64];

	/* found by fuzz_numbers: the plain text of a tiny amount overran the buffer */
	ok(!pgb_real_to_decimal(5e-324, b, sizeof b) && !pgb_real_to_decimal(1e-100, b, sizeof b) &&
	   !pgb_real_to_decimal(-1e-30, b, 32), "tiny amounts whose text would not fit are refused, not written past the buffer");
	ok(pgb_real_to_decimal(1e-20, b, sizeof b) && strcmp(b, "0.00000000000000000001") == 0, "1e-20 fits in 64 bytes");
}

static void
mem_tests(void)
{
	size_t		base = pgb_json_mem_live;
	size_t		nobj = 100000;
	char	   *many = malloc(nobj * 3 + 2);
	json_t	   *root;
	json_error_t err;

	many[0] = '[';
	for (size_t i = 0; i < nobj; i++)
		memcpy(many + 1 + i * 3, "{},", 3);
	many[nobj * 3] = ']';		/* the last comma becomes the closing bracket */
	many[nobj * 3 + 1] = '\0';

	pgb_json_mem_begin(0);
	root = json_loads(many, 0, &err);
	ok(root != NULL && json_array_size(root) == nobj, "uncapped: 100000 tiny objects decode");
	ok(pgb_json_mem_peak - base > 40 * nobj * 3, "and every allocation is counted (more than 40 times the text)");
	printf("# 100000 {}: %zu bytes of text, %zu bytes of jansson\n", nobj * 3, pgb_json_mem_peak - base);
	json_decref(root);
	ok(pgb_json_mem_live == base, "freeing them gives every byte back (frees match allocations)");

	pgb_json_mem_begin(1 << 20);
	root = json_loads(many, 0, &err);
	ok(root == NULL && pgb_json_mem_refused, "capped at 1 MB: refused, and the refusal is flagged");
	/* jansson often leaves the error empty when an allocation fails: the flag is what tells */
	ok(json_error_code(&err) == json_error_out_of_memory || err.text[0] == '\0', "jansson fails the parse (its error text is often empty)");
	ok(pgb_json_mem_peak - base <= (1 << 20) && pgb_json_mem_live == base, "the cap held, and the failed parse freed all it took");

	pgb_json_mem_begin(1 << 20);
	root = json_loads("[1, 2.5, \"x\"]", 0, &err);
	ok(root != NULL && !pgb_json_mem_refused, "a small body decodes under the cap");
	json_decref(root);
	pgb_json_mem_begin(0);
	ok(pgb_json_malloc((size_t) -1) == NULL && pgb_json_malloc((size_t) -20) == NULL, "sizes that would overflow the header refused");
	free(many);
}

int
main(void)
{
	pgb_json_mem_install();
	shortest_tests();
	tiny_tests();
	mem_tests();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
