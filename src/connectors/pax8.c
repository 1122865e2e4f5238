/*
 * pax8.c: the Pax8 Partner API connector (shared/specs/pax8, design/apis.md section 2).
 * Bearer token from an OAuth2 client-credentials grant (audience api://p8p.client; the token
 * endpoint is option token_url), lists paged from 0 with page/size (size at most 200) in an
 * envelope {"content": [...], "page": {...}}. No list has an updated-since filter, so every run
 * reads every list whole and the store keeps only what changed.
 * Entities: companies -> billing.customers, products -> billing.products, subscriptions ->
 * billing.subscriptions (partnerCost -> unit_cost, billingTerm -> billing_term and interval,
 * commitmentTerm.endDate -> ends_at, status -> state).
 */
#include "postgres.h"

#include "connectors/connector.h"
#include "json/pgb_json.h"

#define SET(row, col, val) ((row)[(col)] = (val))

static void
seen_updated(PgbPage *page, int64 epoch)
{
	if (epoch > page->max_updated)
		page->max_updated = epoch;
}

/* A Pax8 id goes into URLs and joins: a non-empty string (uuid). */
static char *
pax8_id(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	char	   *id = pgb_j_str(ctx, obj, field, required);

	if (id && (id[0] == '\0' || strlen(id) > 64))
		pgb_json_fail(ctx, field, "is not a Pax8 id");
	return id;
}

static void
map_company(PgbSource *src, PgbJsonCtx *ctx, json_t *c, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;

	ctx->record = pax8_id(ctx, c, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_CUSTOMERS]);
	SET(row, C_CUS_EXT, (char *) ctx->record);
	SET(row, C_CUS_REFERENCE, pgb_j_str(ctx, c, "externalId", false));
	SET(row, C_CUS_NAME, pgb_j_str(ctx, c, "name", true));
	SET(row, C_CUS_ORG, row[C_CUS_NAME]);
	SET(row, C_CUS_UPDATED, pgb_j_timestamp(ctx, c, "updatedDate", false, &upd));
	SET(row, C_CUS_RAW, pgb_j_dump(ctx, c));
	seen_updated(page, upd);
}

static void
map_product(PgbSource *src, PgbJsonCtx *ctx, json_t *p, PgbPage *page)
{
	char	  **row;

	ctx->record = pax8_id(ctx, p, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_PRODUCTS]);
	SET(row, C_PRD_EXT, (char *) ctx->record);
	SET(row, C_PRD_SKU, pgb_j_str(ctx, p, "sku", false));
	SET(row, C_PRD_NAME, pgb_j_str(ctx, p, "name", true));
	SET(row, C_PRD_FAMILY, pgb_j_str(ctx, p, "vendorName", false));
	SET(row, C_PRD_RAW, pgb_j_dump(ctx, p));
}

/* Months of a billing term; NULL for terms that do not repeat (One-Time, Trial, Activation). */
static char *
term_months(const char *term)
{
	static const struct
	{
		const char *term;
		const char *months;
	}			terms[] = {{"Monthly", "1"}, {"Annual", "12"}, {"2-Year", "24"}, {"3-Year", "36"}};

	for (int i = 0; term && i < lengthof(terms); i++)
		if (strcmp(term, terms[i].term) == 0)
			return (char *) terms[i].months;
	return NULL;
}

static char *
checked_currency(PgbJsonCtx *ctx, json_t *obj, const char *field)
{
	char	   *c = pgb_j_str(ctx, obj, field, false);

	if (c && (strlen(c) != 3 || !isupper((unsigned char) c[0]) || !isupper((unsigned char) c[1]) ||
			  !isupper((unsigned char) c[2])))
		pgb_json_fail(ctx, field, "is not an ISO 4217 currency code");
	return c;
}

static void
map_subscription(PgbSource *src, PgbJsonCtx *ctx, json_t *s, PgbPage *page)
{
	char	  **row;
	json_t	   *commitment;
	int64		upd = -1;

	ctx->record = pax8_id(ctx, s, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_SUBSCRIPTIONS]);
	SET(row, C_SUB_EXT, (char *) ctx->record);
	SET(row, C_SUB_CUSTOMER, pax8_id(ctx, s, "companyId", true));
	SET(row, C_SUB_PRODUCT_EXT, pax8_id(ctx, s, "productId", false));
	SET(row, C_SUB_PRODUCT, pgb_j_str(ctx, s, "productName", false));
	SET(row, C_SUB_SKU, pgb_j_str(ctx, s, "vendorSkuId", false));
	SET(row, C_SUB_STATE, pgb_j_str(ctx, s, "status", true));
	SET(row, C_SUB_QUANTITY, pgb_j_money(ctx, s, "quantity", false));
	if (row[C_SUB_QUANTITY] && row[C_SUB_QUANTITY][0] == '-')
		pgb_json_fail(ctx, "quantity", "is negative");
	SET(row, C_SUB_UNIT_PRICE, pgb_j_money(ctx, s, "price", false));
	SET(row, C_SUB_COST, pgb_j_money(ctx, s, "partnerCost", false));
	SET(row, C_SUB_CURRENCY, checked_currency(ctx, s, "currencyCode"));
	SET(row, C_SUB_TERM, pgb_j_str(ctx, s, "billingTerm", false));
	SET(row, C_SUB_INTERVAL, term_months(row[C_SUB_TERM]));
	SET(row, C_SUB_STARTED, pgb_j_timestamp(ctx, s, "startDate", false, NULL));
	SET(row, C_SUB_CANCELED, pgb_j_timestamp(ctx, s, "endDate", false, NULL));
	commitment = pgb_j_object(ctx, s, "commitmentTerm", false);
	if (commitment)
		SET(row, C_SUB_ENDS, pgb_j_timestamp(ctx, commitment, "endDate", false, NULL));
	SET(row, C_SUB_UPDATED, pgb_j_timestamp(ctx, s, "updatedDate", false, &upd));
	SET(row, C_SUB_RAW, pgb_j_dump(ctx, s));
	seen_updated(page, upd);
}

/* Companies before the subscriptions that name them; products before subscriptions link them. */
static const PgbEntity entities[] = {
	{.name = "companies", .path = "/companies", .list_key = "content", .table = PGB_T_CUSTOMERS,
	.list_params = "&sort=name", .map = map_company, .record_path = "/companies/%s"},
	{.name = "products", .path = "/products", .list_key = "content", .table = PGB_T_PRODUCTS,
	.list_params = "&sort=name", .map = map_product, .record_path = "/products/%s"},
	{.name = "subscriptions", .path = "/subscriptions", .list_key = "content", .table = PGB_T_SUBSCRIPTIONS,
	.list_params = "&sort=createdDate,asc", .map = map_subscription, .record_path = "/subscriptions/%s"},
};

static const PgbOption options[] = {
	{"token_url", PGB_OPT_URL, "https://login.pax8.com/oauth/token"},	/* OAuth2 token endpoint */
};

const PgbConnector pgb_pax8_connector = {
	.kind = "pax8",
	.vendor = "the Pax8 Partner API",
	.entities = entities,
	.nentities = lengthof(entities),
	.paging = {PGB_PAGING_PAGE_NUMBER, 0, "page", "size", 200},
	.auth = {PGB_AUTH_OAUTH2_CLIENT, .audience = "api://p8p.client", .token_url_option = "token_url"},
	.options = options,
	.noptions = lengthof(options),
	.default_max_rps = 5,
	.prefetch = false,
};
