/*
 * pgb_json.c: jansson wrappers. Money never passes through a double unchecked: decimal strings go
 * to numeric as they are; JSON numbers become their exact decimal text or an error.
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "json/pgb_json.h"
#include "common/decimal_time.h"
#include "json/json_mem.h"

int			pgb_json_max_memory_kb = 262144;

/* The cap of jansson's live memory from the setting, in bytes. */
static size_t
json_cap(void)
{
	return (size_t) pgb_json_max_memory_kb * 1024;
}

static const char *
json_type_name(json_t *v)
{
	switch (json_typeof(v))
	{
		case JSON_OBJECT:
			return "an object";
		case JSON_ARRAY:
			return "an array";
		case JSON_STRING:
			return "a string";
		case JSON_INTEGER:
			return "an integer";
		case JSON_REAL:
			return "a number";
		case JSON_TRUE:
		case JSON_FALSE:
			return "a boolean";
		case JSON_NULL:
			return "null";
	}
	return "unknown";
}

static char *
where(const PgbJsonCtx *ctx)
{
	StringInfoData s;

	initStringInfo(&s);
	/* the source is in the driver's error context (and sync_runs.error_context), not here */
	appendStringInfoString(&s, ctx->entity ? ctx->entity : "response");
	if (ctx->page > 0)
		appendStringInfo(&s, " page %ld", ctx->page);
	if (ctx->record)
		appendStringInfo(&s, ", record %s", ctx->record);
	return s.data;
}

json_t *
pgb_json_parse(const PgbJsonCtx *ctx, const char *buf, size_t len)
{
	json_error_t err;
	json_t	   *root;

	pgb_json_mem_begin(json_cap());
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL && pgb_json_mem_refused)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: the response is too large to decode, page rejected", where(ctx)),
				 errdetail("Decoding its %zu bytes needed more than pg_billing.json_max_memory (%d kB).",
						   len, pgb_json_max_memory_kb),
				 errhint("A smaller per_page makes smaller pages; the setting can be raised by a superuser.")));
	if (root == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("%s: invalid JSON, page rejected", where(ctx)),
				 errdetail("%s at line %d, column %d (byte %d of %zu).",
						   err.text, err.line, err.column, err.position, len)));
	return root;
}

void
pgb_json_fail(const PgbJsonCtx *ctx, const char *field, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("%s: field \"%s\" %s, page rejected", where(ctx), field, what)));
}

static json_t *
get(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	json_t	   *v;

	if (obj == NULL || !json_is_object(obj))
		pgb_json_fail(ctx, field, "cannot be read: its parent is not an object");
	v = json_object_get(obj, field);
	if (v == NULL || json_is_null(v))
	{
		if (required)
			pgb_json_fail(ctx, field, v ? "is null" : "is missing");
		return NULL;
	}
	return v;
}

static void
wrong_type(const PgbJsonCtx *ctx, const char *field, const char *want, json_t *v)
{
	char		msg[128];

	snprintf(msg, sizeof(msg), "is %s, expected %s", json_type_name(v), want);
	pgb_json_fail(ctx, field, msg);
}

char *
pgb_j_str(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	json_t	   *v = get(ctx, obj, field, required);

	if (v == NULL)
		return NULL;
	if (!json_is_string(v))
		wrong_type(ctx, field, "a string", v);
	return pnstrdup(json_string_value(v), json_string_length(v));
}

char *
pgb_j_id(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	json_t	   *v = get(ctx, obj, field, required);

	if (v == NULL)
		return NULL;
	if (json_is_integer(v))
		return psprintf("%lld", (long long) json_integer_value(v));
	if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 200)
		return pnstrdup(json_string_value(v), json_string_length(v));
	wrong_type(ctx, field, "an id (integer or non-empty string)", v);
	return NULL;
}

char *
pgb_j_int(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	json_t	   *v = get(ctx, obj, field, required);

	if (v == NULL)
		return NULL;
	if (!json_is_integer(v))
		wrong_type(ctx, field, "an integer", v);
	return psprintf("%lld", (long long) json_integer_value(v));
}

char *
pgb_j_money(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	json_t	   *v = get(ctx, obj, field, required);
	char		buf[64];

	if (v == NULL)
		return NULL;
	if (json_is_string(v))
	{
		const char *s = json_string_value(v);

		if (strlen(s) != json_string_length(v) || !pgb_decimal_valid(s))
			pgb_json_fail(ctx, field, "is not a decimal number");
		return pstrdup(s);
	}
	if (json_is_integer(v))
	{
		if (!pgb_int_to_decimal(json_integer_value(v), buf, sizeof(buf)))
			pgb_json_fail(ctx, field, "is a JSON number that cannot be exact (beyond 10^13 or more than 15 digits)");
		return pstrdup(buf);
	}
	if (json_is_real(v))
	{
		if (!pgb_real_to_decimal(json_real_value(v), buf, sizeof(buf)))
			pgb_json_fail(ctx, field, "is a JSON number that cannot be exact (beyond 10^13 or more than 15 digits)");
		return pstrdup(buf);
	}
	wrong_type(ctx, field, "a decimal amount", v);
	return NULL;
}

char *
pgb_j_cents(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	json_t	   *v = get(ctx, obj, field, required);
	char		buf[64];

	if (v == NULL)
		return NULL;
	if (!json_is_integer(v))
		wrong_type(ctx, field, "an integer number of cents", v);
	pgb_cents_to_decimal(json_integer_value(v), buf, sizeof(buf));
	return pstrdup(buf);
}

char *
pgb_j_bool(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	json_t	   *v = get(ctx, obj, field, required);

	if (v == NULL)
		return NULL;
	if (!json_is_boolean(v))
		wrong_type(ctx, field, "a boolean", v);
	return pstrdup(json_is_true(v) ? "true" : "false");
}

char *
pgb_j_date(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	char	   *s = pgb_j_str(ctx, obj, field, required);
	int64_t		epoch;

	if (s == NULL)
		return NULL;
	if (pgb_date_valid(s))
		return s;
	/* some dates come as timestamps: keep their calendar date as written */
	if (pgb_timestamp_parse(s, &epoch))
		return pnstrdup(s, 10);
	pgb_json_fail(ctx, field, "is not a date (YYYY-MM-DD)");
	return NULL;
}

char *
pgb_j_timestamp(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required, int64 *epoch)
{
	char	   *s = pgb_j_str(ctx, obj, field, required);
	int64_t		e;

	if (s == NULL)
		return NULL;
	if (!pgb_timestamp_parse(s, &e))
		pgb_json_fail(ctx, field, "is not a timestamp with a time zone (ISO 8601)");
	if (epoch)
		*epoch = e;
	return s;
}

json_t *
pgb_j_object(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	json_t	   *v = get(ctx, obj, field, required);

	if (v != NULL && !json_is_object(v))
		wrong_type(ctx, field, "an object", v);
	return v;
}

json_t *
pgb_j_array(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	json_t	   *v = get(ctx, obj, field, required);

	if (v != NULL && !json_is_array(v))
		wrong_type(ctx, field, "an array", v);
	return v;
}
