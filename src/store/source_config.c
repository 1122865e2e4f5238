/*
 * source_config.c: a run's source as a validated, typed configuration. The common options, their
 * types and defaults are in the table below (the one place they are written); a connector adds
 * its own in its PgbConnector. Each option is checked here, once, with a message that names it.
 * Uses jansson: must not include utils/builtins.h (see json/pgb_json.h).
 */
#include "postgres.h"

#include <jansson.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"

#include "store/store.h"

typedef enum
{
	OPT_INT,					/* a whole number (9 digits at most) */
	OPT_COUNT,					/* a whole number, 0 or more */
	OPT_RATE,					/* 0 or 0.001 .. 10000 */
	OPT_ENTITIES,				/* an array of entity names */
	OPT_BOOL,
	OPT_URL
} OptType;

typedef struct CommonOption
{
	const char *name;
	OptType		type;
	long		default_value;	/* OPT_INT / OPT_COUNT; -1 for "computed" */
} CommonOption;

/*
 * The options every connector has. max_requests_per_second and max_concurrent_requests default
 * to the connector's (docs/sync-concurrency.md says why each is what it is).
 */
static const CommonOption common_options[] = {
	{"entities", OPT_ENTITIES, 0},
	{"max_concurrent_requests", OPT_INT, -1},
	{"max_requests_per_second", OPT_RATE, 0},
	{"overlap_seconds", OPT_INT, 300},
	{"per_page", OPT_INT, 200},
	{"reconcile_every", OPT_INT, 24},
	{"reconcile_max_unseen", OPT_COUNT, -1},
};

/*
 * Options whose values SQL checks when the row is written: the push options (docs/push-xero.md,
 * trigger sources_sql_checked_options), payment_mode (sources_payment_mode) and recon_role (constraint
 * sources_recon_role_known). A sync takes them as strings and leaves them alone.
 */
static const char *const sql_checked_options[] = {"push_to", "push_unit", "push_carried_credit", "payment_mode", "recon_role"};

static const char *const type_rule[] = {
	[OPT_INT] = "must be a whole number",
	[OPT_COUNT] = "must be a whole number, 0 or more",
	[OPT_RATE] = "must be 0 (no limit) or a number from 0.001 to 10000",
	[OPT_ENTITIES] = "must be an array of entity names",
	[OPT_BOOL] = "must be true or false",
	[OPT_URL] = "must be a string",
};

static void
bad_option(const char *source, const char *option, const char *rule)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("source \"%s\": option %s %s", source, option, rule),
					errhint("Change it with UPDATE billing.sources SET options = ... WHERE name = '%s'.", source)));
}

/* The type of option name for this connector, or -1 when it is not an option. */
static int
option_type(const PgbConnector *conn, const char *name)
{
	for (int i = 0; i < lengthof(common_options); i++)
		if (strcmp(common_options[i].name, name) == 0)
			return common_options[i].type;
	for (int i = 0; i < conn->noptions; i++)
		if (strcmp(conn->options[i].name, name) == 0)
			return conn->options[i].type == PGB_OPT_BOOL ? OPT_BOOL : OPT_URL;
	for (int i = 0; i < lengthof(sql_checked_options); i++)
		if (strcmp(sql_checked_options[i], name) == 0)
			return OPT_URL;
	return -1;
}

static bool
type_ok(OptType type, json_t *v)
{
	switch (type)
	{
		case OPT_INT:
			return json_is_integer(v) && json_integer_value(v) > -1000000000 && json_integer_value(v) < 1000000000;
		case OPT_COUNT:
			return json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 1000000000;
		case OPT_RATE:
			return json_is_number(v) && (json_number_value(v) == 0 ||
										 (json_number_value(v) >= 0.001 && json_number_value(v) <= 10000));
		case OPT_ENTITIES:
			return json_is_array(v);
		case OPT_BOOL:
			return json_is_boolean(v);
		case OPT_URL:
			return json_is_string(v);
	}
	return false;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Every key known and of its type; the first wrong one in name order is named. */
static void
check_types(const PgbSource *src, json_t *opts)
{
	size_t		n = json_object_size(opts);
	const char **keys = palloc(sizeof(char *) * Max(n, 1));
	const char *k;
	json_t	   *v;
	size_t		i = 0;

	json_object_foreach(opts, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(char *), cmp_names);
	for (i = 0; i < n; i++)
	{
		int			type = option_type(src->conn, keys[i]);

		if (type < 0)
			bad_option(src->name, keys[i], "is not a known option");
		if (!type_ok((OptType) type, json_object_get(opts, keys[i])))
			bad_option(src->name, keys[i], type_rule[type]);
	}
}

static long
int_option(json_t *opts, const char *name)
{
	json_t	   *v = json_object_get(opts, name);

	if (v)
		return (long) json_integer_value(v);
	for (int i = 0; i < lengthof(common_options); i++)
		if (strcmp(common_options[i].name, name) == 0)
			return common_options[i].default_value;
	return 0;
}

/* "Entities are a, b and c." from the connector's list. */
static char *
entity_names(const PgbConnector *conn)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoString(&s, "Entities are ");
	for (int i = 0; i < conn->nentities; i++)
		appendStringInfo(&s, "%s%s", i == 0 ? "" : i == conn->nentities - 1 ? " and " : ", ", conn->entities[i].name);
	appendStringInfoChar(&s, '.');
	return s.data;
}

/* Option entities as "a,b,c", every name one the connector knows. */
static char *
chosen_entities(const PgbSource *src, json_t *opts)
{
	json_t	   *list = json_object_get(opts, "entities");
	StringInfoData s;
	size_t		i;
	json_t	   *e;

	initStringInfo(&s);
	json_array_foreach(list, i, e)
	{
		const char *name = json_is_string(e) ? json_string_value(e) : "(not a string)";

		if (!json_is_string(e) || pgb_connector_entity(src->conn, name) == NULL)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("source \"%s\": option entities names an unknown entity \"%s\"", src->name, name),
							errhint("%s", entity_names(src->conn))));
		appendStringInfo(&s, "%s%s", s.len ? "," : "", name);
	}
	return s.data;
}

/* The options, checked and typed into src. */
static void
read_options(PgbSource *src, const char *options_json)
{
	json_t	   *opts = json_loads(options_json, JSON_REJECT_DUPLICATES, NULL);

	if (!json_is_object(opts))
	{
		json_decref(opts);
		bad_option(src->name, "(all)", "must be a JSON object");
	}
	PG_TRY();
	{
		json_t	   *rate = json_object_get(opts, "max_requests_per_second");

		check_types(src, opts);
		src->per_page = (int) int_option(opts, "per_page");
		/* the default page is the vendor's largest when that is smaller (Xero: 100) */
		if (json_object_get(opts, "per_page") == NULL)
			src->per_page = Min(src->per_page, src->conn->paging.max_size);
		src->overlap_s = (int) int_option(opts, "overlap_seconds");
		src->reconcile_every = (int) int_option(opts, "reconcile_every");
		src->reconcile_max_unseen = int_option(opts, "reconcile_max_unseen");
		src->max_rps = rate ? json_number_value(rate) : src->conn->default_max_rps;
		src->max_concurrent = json_object_get(opts, "max_concurrent_requests") ?
			(int) int_option(opts, "max_concurrent_requests") : Max(1, src->conn->default_max_concurrent);
		if (src->max_concurrent < 1 || src->max_concurrent > PGB_MAX_CONCURRENT)
			bad_option(src->name, "max_concurrent_requests", psprintf("must be from 1 to %d", PGB_MAX_CONCURRENT));
		if (src->per_page < 1 || src->per_page > src->conn->paging.max_size)
			bad_option(src->name, "per_page", psprintf("must be from 1 to %d", src->conn->paging.max_size));
		src->only = chosen_entities(src, opts);
		if (src->overlap_s < 0)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("source \"%s\": option overlap_seconds must not be negative", src->name)));
	}
	PG_FINALLY();
	{
		json_decref(opts);
	}
	PG_END_TRY();
}

/* A connector option's JSON value, or NULL when the source leaves it to its default. */
static json_t *
connector_option(const PgbSource *src, const char *name, const PgbOption **decl, json_t **root)
{
	*decl = NULL;
	for (int i = 0; i < src->conn->noptions; i++)
		if (strcmp(src->conn->options[i].name, name) == 0)
			*decl = &src->conn->options[i];
	if (*decl == NULL)
		elog(ERROR, "pg_billing: connector %s has no option %s", src->conn->kind, name);
	*root = json_loads(src->options_json ? src->options_json : "{}", 0, NULL);
	return json_object_get(*root, name);
}

const char *
pgb_source_option(const PgbSource *src, const char *name)
{
	const PgbOption *decl;
	json_t	   *root;
	json_t	   *v = connector_option(src, name, &decl, &root);
	const char *out = json_is_string(v) ? pstrdup(json_string_value(v)) : decl->default_value;

	json_decref(root);
	return out;
}

bool
pgb_source_option_bool(const PgbSource *src, const char *name)
{
	const PgbOption *decl;
	json_t	   *root;
	json_t	   *v = connector_option(src, name, &decl, &root);
	bool		out = json_is_boolean(v) ? json_is_true(v) : strcmp(decl->default_value, "true") == 0;

	json_decref(root);
	return out;
}

static char *
col(int n)
{
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, n);
}

void
pgb_source_read_options(PgbSource *src, const char *options_json)
{
	src->conn = pgb_connector_for_kind(src->kind);
	if (src->conn == NULL)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("source \"%s\": no connector for kind %s in this version", src->name, src->kind)));
	src->options_json = options_json ? pstrdup(options_json) : NULL;
	read_options(src, options_json ? options_json : "{}");
}

void
pgb_store_load_source(int64 run_id, PgbSource *src, char **secret_json, bool *reconcile, MemoryContext cxt)
{
	Oid			types[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(run_id)};
	MemoryContext old;
	char	   *options;
	long		since_reconcile;

	if (SPI_execute_with_args(
							  "SELECT s.id, s.name, s.kind, s.base_url, s.options::text, c.secret::text, r.full_reconcile,"
							  " (SELECT pg_catalog.count(*) FROM billing.sync_runs p WHERE p.source_id = s.id AND p.status = 'succeeded'"
							  "   AND p.id > coalesce((SELECT pg_catalog.max(q.id) FROM billing.sync_runs q WHERE q.source_id = s.id"
							  "   AND q.status = 'succeeded' AND q.full_reconcile), 0))"
							  " FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id"
							  " LEFT JOIN billing._credentials c ON c.source_id = s.id WHERE r.id = $1",
							  1, types, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("sync run " INT64_FORMAT " does not exist", run_id)));

	old = MemoryContextSwitchTo(cxt);
	src->id = strtoll(col(1), NULL, 10);
	src->name = col(2);
	src->kind = col(3);
	src->base_url = col(4);
	options = col(5);
	*secret_json = col(6);
	*reconcile = strcmp(col(7), "t") == 0;
	since_reconcile = strtol(col(8), NULL, 10);
	pgb_source_read_options(src, options);
	MemoryContextSwitchTo(old);
	*reconcile = *reconcile || (src->reconcile_every > 0 && since_reconcile >= src->reconcile_every - 1);
}
