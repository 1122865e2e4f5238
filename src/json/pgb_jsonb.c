/*
 * pgb_jsonb.c: a record's raw value as jsonb, built from jansson's tree. A page is already parsed
 * once by jansson; writing each record back out as text for the store to parse again (jsonb_in)
 * cost a tenth of a sync. Numbers keep the text the text route gave them: an integer its digits, a
 * number with a fraction or exponent the shortest digits that read back as the same double
 * (pgb_real_shortest, docs/fuzzing.md "Raw numbers").
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"

#include "json/pgb_json.h"
#include "common/decimal_time.h"

static void push_value(const PgbJsonCtx *ctx, JsonbParseState **state, json_t *v, JsonbIteratorToken as);

/* jsonb_in refuses such a string too; built here, its length would overflow the container's entry */
static JsonbValue
string_value(const PgbJsonCtx *ctx, const char *s, size_t len)
{
	JsonbValue	jv;

	if (len > JENTRY_OFFLENMASK)
		pgb_json_fail(ctx, "(raw record)", "holds a string too long for jsonb (more than 256 MB)");
	jv.type = jbvString;
	jv.val.string.val = unconstify(char *, s);
	jv.val.string.len = (int) len;
	return jv;
}

static JsonbValue
scalar_value(const PgbJsonCtx *ctx, json_t *v)
{
	JsonbValue	jv;
	char		digits[40];

	switch (json_typeof(v))
	{
		case JSON_STRING:
			return string_value(ctx, json_string_value(v), json_string_length(v));
		case JSON_INTEGER:
			jv.type = jbvNumeric;
			jv.val.numeric = int64_to_numeric((int64) json_integer_value(v));
			return jv;
		case JSON_REAL:
			if (!pgb_real_shortest(json_real_value(v), digits, sizeof(digits)))
				pgb_json_fail(ctx, "(raw record)", "holds a number that has no decimal text");
			jv.type = jbvNumeric;
			jv.val.numeric = DatumGetNumeric(OidInputFunctionCall(F_NUMERIC_IN, digits, InvalidOid, -1));
			return jv;
		case JSON_TRUE:
		case JSON_FALSE:
			jv.type = jbvBool;
			jv.val.boolean = json_is_true(v);
			return jv;
		default:
			jv.type = jbvNull;
			return jv;
	}
}

/* Each returns what its closing push returns: the finished value when it is the outermost. */
static JsonbValue *
push_object(const PgbJsonCtx *ctx, JsonbParseState **state, json_t *obj)
{
	const char *key;
	json_t	   *member;

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	json_object_foreach(obj, key, member)
	{
		JsonbValue	k = string_value(ctx, key, strlen(key));

		pushJsonbValue(state, WJB_KEY, &k);
		push_value(ctx, state, member, WJB_VALUE);
	}
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

static JsonbValue *
push_array(const PgbJsonCtx *ctx, JsonbParseState **state, json_t *arr)
{
	size_t		i;
	json_t	   *element;

	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	json_array_foreach(arr, i, element)
		push_value(ctx, state, element, WJB_ELEM);
	return pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* as: WJB_VALUE for an object member, WJB_ELEM for an array element */
static void
push_value(const PgbJsonCtx *ctx, JsonbParseState **state, json_t *v, JsonbIteratorToken as)
{
	JsonbValue	jv;

	/* jansson nests up to 2048 levels; the stack is checked like any recursion in the server */
	check_stack_depth();
	if (json_is_object(v))
		push_object(ctx, state, v);
	else if (json_is_array(v))
		push_array(ctx, state, v);
	else
	{
		jv = scalar_value(ctx, v);
		pushJsonbValue(state, as, &jv);
	}
}

char *
pgb_j_raw(const PgbJsonCtx *ctx, json_t *value)
{
	JsonbParseState *state = NULL;
	JsonbValue *root;

	if (json_is_object(value))
		root = push_object(ctx, &state, value);
	else if (json_is_array(value))
		root = push_array(ctx, &state, value);
	else
	{
		/* a scalar alone is stored as jsonb stores one: a one-element array marked raw */
		JsonbValue	wrapper;
		JsonbValue	jv = scalar_value(ctx, value);

		wrapper.type = jbvArray;
		wrapper.val.array.rawScalar = true;
		wrapper.val.array.nElems = 1;
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, &wrapper);
		pushJsonbValue(&state, WJB_ELEM, &jv);
		root = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	return (char *) JsonbValueToJsonb(root);
}
