/*
 * advanced_billing.c: the Maxio Advanced Billing (Chargify) connector: endpoints, auth, paging.
 * Basic auth with the API key as user name and "x" as password; every list pages with page/per_page
 * (max 200) and ends at an empty or short page. Mapping to rows is in advanced_billing_map.c.
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "connectors/advanced_billing_int.h"

static bool
wanted(const PgbSource *src, const char *entity)
{
	size_t		len = strlen(entity);

	if (src->only == NULL || src->only[0] == '\0')
		return true;
	for (const char *p = src->only; (p = strstr(p, entity)) != NULL; p += len)
		if ((p == src->only || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

/* The entities to sync, in order: customers before what refers to them. */
int
pgb_ab_entities(const PgbSource *src, const char **names)
{
	static const char *const order[] = {"customers", "subscriptions", "invoices", "credit_notes", "statements"};
	int			n = 0;

	for (int i = 0; i < lengthof(order); i++)
		if ((strcmp(order[i], "statements") != 0 || src->statements || (src->only && src->only[0])) &&
			wanted(src, order[i]))
			names[n++] = order[i];
	return n;
}

/* Lists with an updated_at filter; the others are read whole every run. */
bool
pgb_ab_incremental(const char *entity)
{
	return strcmp(entity, "customers") == 0 || strcmp(entity, "subscriptions") == 0 ||
		strcmp(entity, "invoices") == 0;
}

static void
append_since(StringInfo url, const char *since)
{
	if (since == NULL)
		return;
	appendStringInfoString(url, "&date_field=updated_at&start_datetime=");
	for (const char *p = since; *p; p++)
	{
		if (*p == ' ')
			appendStringInfoString(url, "%20");
		else if (*p == '+')
			appendStringInfoString(url, "%2B");
		else if (*p == ':')
			appendStringInfoString(url, "%3A");
		else
			appendStringInfoChar(url, *p);
	}
	appendStringInfoString(url, "%2B00%3A00");
}

static char *
list_url(PgbSource *src, const char *entity, const char *since, long page)
{
	StringInfoData url;

	initStringInfo(&url);
	appendStringInfo(&url, "%s/%s.json?page=%ld&per_page=%d", src->base_url, entity, page, src->per_page);
	if (strcmp(entity, "customers") == 0)
		appendStringInfoString(&url, "&direction=asc");
	else if (strcmp(entity, "subscriptions") == 0)
		appendStringInfoString(&url, "&sort=created_at&direction=asc");
	else if (strcmp(entity, "invoices") == 0)
		appendStringInfoString(&url, "&sort=created_at&direction=asc&line_items=true&discounts=true"
							   "&taxes=true&credits=true&payments=true&refunds=true");
	else if (strcmp(entity, "credit_notes") == 0)
		appendStringInfoString(&url, "&line_items=true&discounts=true&taxes=true&refunds=true&applications=true");
	else if (strcmp(entity, "statements") == 0)
		appendStringInfoString(&url, "&sort=created_at&direction=asc");
	if (pgb_ab_incremental(entity))
		append_since(&url, since);
	return url.data;
}

/* The records of a list response: a top-level array of {"<name>": {...}} or {"<plural>": [...]}. */
static json_t *
records_of(PgbJsonCtx *ctx, json_t *root, const char *entity)
{
	if (strcmp(entity, "invoices") == 0 || strcmp(entity, "credit_notes") == 0)
	{
		if (!json_is_object(root))
			pgb_json_fail(ctx, entity, "response is not an object");
		return pgb_j_array(ctx, root, entity, true);
	}
	if (!json_is_array(root))
		pgb_json_fail(ctx, "(response)", "is not an array");
	return root;
}

static json_t *
unwrap(PgbJsonCtx *ctx, json_t *item, const char *wrapper, size_t i)
{
	char		field[64];

	if (wrapper == NULL)
	{
		if (!json_is_object(item))
		{
			snprintf(field, sizeof(field), "[%zu]", i);
			pgb_json_fail(ctx, field, "is not an object");
		}
		return item;
	}
	snprintf(field, sizeof(field), "[%zu].%s", i, wrapper);
	if (!json_is_object(item) || !json_is_object(json_object_get(item, wrapper)))
		pgb_json_fail(ctx, field, "is missing or not an object");
	return json_object_get(item, wrapper);
}

/* A Maxio numeric id (customer, subscription, statement): 1 to 18 digits. */
bool
pgb_ab_numeric_id(const char *id)
{
	size_t		n = strspn(id, "0123456789");

	return n > 0 && n <= 18 && id[n] == '\0';
}

/* GET /subscriptions/{id}/components.json, set into the subscription's raw as "components". */
static void
add_components(PgbSource *src, PgbJsonCtx *pctx, json_t *sub)
{
	char	   *id = pgb_j_id(pctx, sub, "id", true);
	char	   *url;
	char	   *what;
	PgbHttpResponse resp;
	PgbJsonCtx	ctx = {src->name, "subscription components", 0, id};
	json_t	   *root;
	json_t	   *list;

	/* the id goes into a URL path: only a subscription number may (never "1/../../x") */
	if (!pgb_ab_numeric_id(id))
	{
		pctx->record = id;
		pgb_json_fail(pctx, "id", "is not a whole number");
	}
	url = psprintf("%s/subscriptions/%s/components.json", src->base_url, id);
	what = psprintf("components of subscription %s", id);
	pgb_http_get(&src->http, url, what, &resp);
	root = pgb_json_parse(&ctx, resp.body, resp.len);
	list = json_array();
	PG_TRY();
	{
		size_t		i;
		json_t	   *item;

		if (list == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		if (!json_is_array(root))
			pgb_json_fail(&ctx, "(response)", "is not an array");
		json_array_foreach(root, i, item)
		{
			json_t	   *comp = unwrap(&ctx, item, "component", i);

			(void) pgb_j_id(&ctx, comp, "component_id", true);
			json_array_append(list, comp);
		}
		json_object_set(sub, "components", list);
	}
	PG_FINALLY();
	{
		json_decref(list);
		json_decref(root);
	}
	PG_END_TRY();
}

static void
map_records(PgbSource *src, PgbJsonCtx *ctx, const char *entity, json_t *records, PgbPage *out)
{
	size_t		i;
	json_t	   *item;

	json_array_foreach(records, i, item)
	{
		ctx->record = NULL;
		if (strcmp(entity, "customers") == 0)
			pgb_ab_map_customer(ctx, unwrap(ctx, item, "customer", i), out);
		else if (strcmp(entity, "subscriptions") == 0)
		{
			json_t	   *sub = unwrap(ctx, item, "subscription", i);

			if (src->components)
				add_components(src, ctx, sub);
			pgb_ab_map_subscription(ctx, sub, out);
		}
		else if (strcmp(entity, "invoices") == 0)
			pgb_ab_map_invoice(ctx, unwrap(ctx, item, NULL, i), out);
		else if (strcmp(entity, "credit_notes") == 0)
			pgb_ab_map_credit_note(ctx, unwrap(ctx, item, NULL, i), out);
		else
			pgb_ab_map_statement(ctx, unwrap(ctx, item, "statement", i), out);
		out->nrecords++;
	}
}

void
pgb_ab_page_init(PgbPage *page, const char *entity)
{
	pgb_page_init(page);
	page->primary = strcmp(entity, "customers") == 0 ? PGB_T_CUSTOMERS :
		strcmp(entity, "subscriptions") == 0 ? PGB_T_SUBSCRIPTIONS :
		strcmp(entity, "invoices") == 0 ? PGB_T_INVOICES :
		strcmp(entity, "credit_notes") == 0 ? PGB_T_CREDIT_NOTES : PGB_T_STATEMENTS;
}

void
pgb_ab_fetch_page(PgbSource *src, const char *entity, const char *since, long page, PgbPage *out)
{
	char	   *url = list_url(src, entity, since, page);
	char	   *what = psprintf("%s page %ld", entity, page);
	PgbHttpResponse resp;
	PgbJsonCtx	ctx = {src->name, entity, page, NULL};
	json_t	   *root;

	pgb_ab_page_init(out, entity);

	pgb_http_get(&src->http, url, what, &resp);
	out->remote_date = resp.date;
	root = pgb_json_parse(&ctx, resp.body, resp.len);
	PG_TRY();
	{
		json_t	   *records = records_of(&ctx, root, entity);

		map_records(src, &ctx, entity, records, out);
		out->last = json_array_size(records) < (size_t) src->per_page;
	}
	PG_FINALLY();
	{
		json_decref(root);
	}
	PG_END_TRY();
}

/* A record id as one URL path segment: anything but [A-Za-z0-9_-] is percent-encoded ("/", "."). */
static void
append_path_segment(StringInfo url, const char *id)
{
	for (const unsigned char *p = (const unsigned char *) id; *p; p++)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
			appendStringInfoChar(url, (char) *p);
		else
			appendStringInfo(url, "%%%02X", *p);
	}
}

/* The object of a single-record response: {"customer": {...}}, or the bare invoice / credit note. */
static json_t *
record_of(PgbJsonCtx *ctx, json_t *root, const char *wrapper)
{
	json_t	   *inner = wrapper ? json_object_get(root, wrapper) : root;

	if (!json_is_object(root) || !json_is_object(inner))
		pgb_json_fail(ctx, wrapper ? wrapper : "(response)", "is missing or not an object");
	return inner;
}

/*
 * The record a read endpoint returned must be the one asked for: it is stored, and its id is what
 * keeps the asked-for record from being marked deleted.
 */
static void
check_record_is(const PgbJsonCtx *ctx, const char *entity, const char *external_id, PgbPage *page)
{
	PgbRows    *rows = &page->t[page->primary];
	const char *got = rows->nrows > 0 ? rows->v[(size_t) (rows->nrows - 1) * rows->ncols] : NULL;

	if (got == NULL || strcmp(got, external_id) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("source \"%s\": %s record %s: the read endpoint answered with record %s, check rejected",
						ctx->source, entity, external_id, got ? got : "(none)"),
				 errdetail("Nothing is marked deleted from an answer about another record.")));
}

bool
pgb_ab_fetch_record(PgbSource *src, const char *entity, const char *external_id, PgbPage *out)
{
	StringInfoData url;
	char	   *what = psprintf("%s record %s", entity, external_id);
	PgbHttpResponse resp;
	PgbJsonCtx	ctx = {src->name, entity, 0, external_id};
	json_t	   *root;

	initStringInfo(&url);
	appendStringInfo(&url, "%s/%s/", src->base_url, entity);
	append_path_segment(&url, external_id);
	appendStringInfoString(&url, ".json");
	if (!pgb_http_get_found(&src->http, url.data, what, &resp))
		return false;
	root = pgb_json_parse(&ctx, resp.body, resp.len);
	PG_TRY();
	{
		if (strcmp(entity, "customers") == 0)
			pgb_ab_map_customer(&ctx, record_of(&ctx, root, "customer"), out);
		else if (strcmp(entity, "subscriptions") == 0)
		{
			json_t	   *sub = record_of(&ctx, root, "subscription");

			if (src->components)
				add_components(src, &ctx, sub);
			pgb_ab_map_subscription(&ctx, sub, out);
		}
		else if (strcmp(entity, "invoices") == 0)
			pgb_ab_map_invoice(&ctx, record_of(&ctx, root, NULL), out);
		else if (strcmp(entity, "credit_notes") == 0)
			pgb_ab_map_credit_note(&ctx, record_of(&ctx, root, NULL), out);
		else
			pgb_ab_map_statement(&ctx, record_of(&ctx, root, "statement"), out);
		out->nrecords++;
		check_record_is(&ctx, entity, external_id, out);
	}
	PG_FINALLY();
	{
		json_decref(root);
	}
	PG_END_TRY();
	return true;
}

void
pgb_ab_prefetch_page(PgbSource *src, const char *entity, const char *since, long page)
{
	pgb_http_prefetch(&src->http, list_url(src, entity, since, page));
}
