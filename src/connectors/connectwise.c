/*
 * connectwise.c: the ConnectWise Manage (PSA) connector's declaration. Basic auth with
 * "{company_id}+{public_key}" as user and private_key as password, and the integration's clientId
 * header on every request; lists page with page (from 1) and pageSize (at most 1000), ordered by
 * id, and take conditions=lastUpdated>[...] for an incremental run. Agreement additions have no
 * list of their own: they are read per agreement (a child entity). Mapping is in connectwise_map.c.
 */
#include "postgres.h"

#include "connectors/connectwise_int.h"

static void
map_company(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page)
{
	pgb_cw_map_company(ctx, r, pgb_source_option(src, "vendor_ref_field"), page);
}

static void
map_catalog_item(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page)
{
	pgb_cw_map_catalog_item(ctx, r, page);
}

static void
map_agreement(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page)
{
	pgb_cw_map_agreement(ctx, r, page);
}

static void
map_addition(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page)
{
	pgb_cw_map_addition(ctx, r, page);
}

/*
 * In sync order: companies before the agreements that name them, catalog items before the
 * additions that name them, agreements before their additions (which are listed per agreement).
 */
static const PgbEntity entities[] = {
	{.name = "companies", .path = "/company/companies", .table = PGB_T_CUSTOMERS, .incremental = true,
		.list_params = "&orderBy=id%20asc", .map = map_company, .record_path = "/company/companies/%s"},
	{.name = "catalog", .path = "/procurement/catalog", .table = PGB_T_PRODUCTS, .incremental = true,
	.list_params = "&orderBy=id%20asc", .map = map_catalog_item, .record_path = "/procurement/catalog/%s"},
	{.name = "agreements", .path = "/finance/agreements", .table = PGB_T_CONTRACTS, .incremental = true,
	.list_params = "&orderBy=id%20asc", .map = map_agreement, .record_path = "/finance/agreements/%s"},
	{.name = "additions", .parent = "agreements", .path = "/finance/agreements/%s/additions",
		.table = PGB_T_SUBSCRIPTIONS, .incremental = true, .list_params = "&orderBy=id%20asc",
	.map = map_addition, .record_path = "/finance/agreements/%s/additions/%s"},
};

static const PgbOption options[] = {
	/* where a company keeps the Pax8 company id: "accountNumber" or a custom field's caption */
	{"vendor_ref_field", PGB_OPT_TEXT, NULL},
};

const PgbConnector pgb_connectwise_connector = {
	.kind = "connectwise",
	.vendor = "the ConnectWise Manage API",
	.entities = entities,
	.nentities = lengthof(entities),
	.paging = {PGB_PAGING_PAGE_NUMBER, 1, "page", "pageSize", 1000},
	.auth = {PGB_AUTH_BASIC, .user_field = "company_id", .user_field2 = "public_key", .user_join = "+",
	.password_field = "private_key", .header_name = "clientId", .header_field = "client_id"},
	.options = options,
	.noptions = lengthof(options),
	/* ConnectWise publishes no limit; about 60 requests a minute is the figure usually quoted */
	.default_max_rps = 1,
	/* no documented limit: two at once hide a slow answer, the rate (1 a second) still rules */
	.default_max_concurrent = 2,
	.prefetch = true,
	.since_param = "&conditions=lastUpdated%3E%5B",
	.since_style = PGB_SINCE_ZULU,
	.since_suffix = "%5D",
};
