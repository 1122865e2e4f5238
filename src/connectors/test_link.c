/*
 * test_link.c: two minimal connectors for the tests of LINK paging and bearer auth (kinds
 * test_link and test_link_body; test/fake/link_fake.py serves them). They are registered in every
 * build but no database can use them: billing.sources' kind CHECK does not list them, and only a
 * test that drops that constraint (a superuser, in its own database) can add such a source.
 * test_link pages with RFC 8288 Link rel="next" headers, test_link_body with a "next" URL in the
 * body; both take a bearer token from an OAuth2 client-credentials grant (option token_url).
 * One entity: customers -> billing.customers (id, name, email).
 */
#include "postgres.h"

#include "connectors/connector.h"
#include "json/pgb_json.h"

static void
map_customer(PgbSource *src, PgbJsonCtx *ctx, json_t *c, PgbPage *page)
{
	char	  **row;

	ctx->record = pgb_j_id(ctx, c, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_CUSTOMERS]);
	row[C_CUS_EXT] = (char *) ctx->record;
	row[C_CUS_NAME] = pgb_j_str(ctx, c, "name", true);
	row[C_CUS_EMAIL] = pgb_j_str(ctx, c, "email", false);
	row[C_CUS_RAW] = pgb_j_raw(ctx, c);
}

static const PgbEntity header_entities[] = {
	{.name = "customers", .path = "/customers", .table = PGB_T_CUSTOMERS, .list_params = "",
	.map = map_customer, .record_path = "/customers/%s"},
};

static const PgbEntity body_entities[] = {
	{.name = "customers", .path = "/customers", .list_key = "items", .table = PGB_T_CUSTOMERS, .list_params = "",
	.map = map_customer, .record_path = "/customers/%s"},
};

static const PgbOption options[] = {
	{"token_url", PGB_OPT_URL, "https://login.invalid/oauth/token"},
};

const PgbConnector pgb_test_link_connector = {
	.kind = "test_link",
	.vendor = "the test API",
	.entities = header_entities,
	.nentities = lengthof(header_entities),
	.paging = {PGB_PAGING_LINK, 0, NULL, "limit", 100},
	.auth = {PGB_AUTH_OAUTH2_CLIENT, .audience = "test-api", .token_url_option = "token_url"},
	.options = options,
	.noptions = lengthof(options),
	.default_max_rps = 0,
	.prefetch = true,
};

const PgbConnector pgb_test_link_body_connector = {
	.kind = "test_link_body",
	.vendor = "the test API",
	.entities = body_entities,
	.nentities = lengthof(body_entities),
	.paging = {PGB_PAGING_LINK, 0, NULL, "limit", 100, .next_key = "next"},
	.auth = {PGB_AUTH_OAUTH2_CLIENT, .audience = "test-api", .token_url_option = "token_url"},
	.options = options,
	.noptions = lengthof(options),
	.default_max_rps = 0,
	.prefetch = false,
};
