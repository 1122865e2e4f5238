/*
 * advanced_billing.c: the Maxio Advanced Billing (Chargify) connector: its declaration (entities,
 * paging, auth, options) and its one extra request. Basic auth with the API key as user name and
 * "x" as password; every list pages with page/per_page from 1 (max 200) and ends at an empty or
 * short page. Mapping to rows is in advanced_billing_map.c.
 */
#include "postgres.h"

#include "connectors/advanced_billing_int.h"

/* A listed component: {"component": {...}}. */
static json_t *
component_of(PgbJsonCtx *ctx, json_t *item, size_t i)
{
	char		field[64];

	snprintf(field, sizeof(field), "[%zu].component", i);
	if (!json_is_object(item) || !json_is_object(json_object_get(item, "component")))
		pgb_json_fail(ctx, field, "is missing or not an object");
	return json_object_get(item, "component");
}

/* A Maxio numeric id (customer, subscription, statement): 1 to 18 digits. */
bool
pgb_ab_numeric_id(const char *id)
{
	size_t		n = strspn(id, "0123456789");

	return n > 0 && n <= 18 && id[n] == '\0';
}

/* The components URL of subscription id (a number: checked by the caller). */
static char *
components_url(PgbSource *src, const char *id)
{
	return psprintf("%s/subscriptions/%s/components.json", src->base_url, id);
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
	url = components_url(src, id);
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
			json_t	   *comp = component_of(&ctx, item, i);

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

/* Each subscription's components go into its raw (option components, on by default). */
static void
enrich(PgbSource *src, const PgbEntity *e, PgbJsonCtx *ctx, json_t *record)
{
	if (e->table == PGB_T_SUBSCRIPTIONS && pgb_source_option_bool(src, "components"))
		add_components(src, ctx, record);
}

/*
 * The components request of a subscription goes out while the ones before it are mapped (several
 * in flight); add_components collects it. A subscription whose id is not a plain integer gets
 * nothing sent: add_components reports it.
 */
static void
enrich_ahead(PgbSource *src, const PgbEntity *e, json_t *record)
{
	json_t	   *id = json_object_get(record, "id");
	char		buf[32];

	if (e->table != PGB_T_SUBSCRIPTIONS || !pgb_source_option_bool(src, "components") ||
		!json_is_integer(id) || json_integer_value(id) < 0)
		return;
	snprintf(buf, sizeof(buf), "%lld", (long long) json_integer_value(id));
	pgb_http_prefetch(&src->http, components_url(src, buf));
}

static void
map_customer(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page)
{
	pgb_ab_map_customer(ctx, r, page);
}

static void
map_subscription(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page)
{
	pgb_ab_map_subscription(ctx, r, page);
}

static void
map_invoice(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page)
{
	pgb_ab_map_invoice(ctx, r, page);
}

static void
map_credit_note(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page)
{
	pgb_ab_map_credit_note(ctx, r, page);
}

static void
map_statement(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page)
{
	pgb_ab_map_statement(ctx, r, page);
}

/* In sync order: customers before what refers to them. */
static const PgbEntity entities[] = {
	{.name = "customers", .path = "/customers.json", .wrapper = "customer", .table = PGB_T_CUSTOMERS,
		.incremental = true, .list_params = "&direction=asc", .map = map_customer,
	.record_path = "/customers/%s.json", .record_wrapper = "customer"},
	{.name = "subscriptions", .path = "/subscriptions.json", .wrapper = "subscription", .table = PGB_T_SUBSCRIPTIONS,
		.incremental = true, .list_params = "&sort=created_at&direction=asc", .map = map_subscription,
	.record_path = "/subscriptions/%s.json", .record_wrapper = "subscription"},
	{.name = "invoices", .path = "/invoices.json", .list_key = "invoices", .table = PGB_T_INVOICES,
		.incremental = true, .list_params = "&sort=created_at&direction=asc&line_items=true&discounts=true"
		"&taxes=true&credits=true&payments=true&refunds=true", .map = map_invoice,
	.record_path = "/invoices/%s.json"},
	{.name = "credit_notes", .path = "/credit_notes.json", .list_key = "credit_notes", .table = PGB_T_CREDIT_NOTES,
		.list_params = "&line_items=true&discounts=true&taxes=true&refunds=true&applications=true",
	.map = map_credit_note, .record_path = "/credit_notes/%s.json"},
	{.name = "statements", .path = "/statements.json", .wrapper = "statement", .table = PGB_T_STATEMENTS,
		.list_params = "&sort=created_at&direction=asc", .optional_option = "statements", .map = map_statement,
	.record_path = "/statements/%s.json", .record_wrapper = "statement"},
};

static const PgbOption options[] = {
	{"components", PGB_OPT_BOOL, "true"},	/* each subscription's components into its raw */
	{"statements", PGB_OPT_BOOL, "false"},	/* the legacy statements too */
};

const PgbConnector pgb_advanced_billing_connector = {
	.kind = "advanced_billing",
	.vendor = "the Advanced Billing API",
	.entities = entities,
	.nentities = lengthof(entities),
	.paging = {PGB_PAGING_PAGE_NUMBER, 1, "page", "per_page", 200},
	.auth = {PGB_AUTH_BASIC, .user_field = "api_key"},
	.options = options,
	.noptions = lengthof(options),
	.default_max_rps = 10,
	/* no documented limit (apis.md 1.1): a few at once, well inside the 10 requests a second */
	.default_max_concurrent = 4,
	.prefetch = true,
	.since_param = "&date_field=updated_at&start_datetime=",
	.enrich = enrich,
	.enrich_ahead = enrich_ahead,
};
