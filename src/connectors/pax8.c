/*
 * pax8.c: the Pax8 Partner API connector (shared/specs/pax8, design/apis.md section 2).
 * Bearer token from an OAuth2 client-credentials grant (audience api://p8p.client; the token
 * endpoint is option token_url), lists paged from 0 with page/size (size at most 200) in an
 * envelope {"content": [...], "page": {...}}. No list has an updated-since filter, so every run
 * reads every list whole and the store keeps only what changed.
 * Entities: companies -> billing.customers, products -> billing.products, subscriptions ->
 * billing.subscriptions (partnerCost -> unit_cost, billingTerm -> billing_term and interval,
 * commitmentTerm.endDate -> ends_at, status -> state), invoices and their items ->
 * billing.invoices (direction payable: Pax8 bills the partner, it is the MSP's cost) and
 * billing.invoice_lines (each item names the client company it is for: customer_id).
 * A Pax8 invoice is the partner's own: its customer is a row this connector makes, external id
 * "partner:" followed by the invoice's partnerName (docs/connector-pax8.md).
 */
#include "postgres.h"

#include "connectors/connector.h"
#include "common/decimal_time.h"
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
	SET(row, C_CUS_RAW, pgb_j_raw(ctx, c));
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
	SET(row, C_PRD_RAW, pgb_j_raw(ctx, p));
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

/* A Pax8 date-time; some are sent as a bare date (the spec's own examples): midnight UTC then. */
static char *
pax8_when(PgbJsonCtx *ctx, json_t *obj, const char *field)
{
	json_t	   *v = json_object_get(obj, field);

	if (json_is_string(v) && json_string_length(v) == 10 && pgb_date_valid(json_string_value(v)))
		return psprintf("%s 00:00:00+00", json_string_value(v));
	return pgb_j_timestamp(ctx, obj, field, false, NULL);
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
	/* no SKU: the store takes the product's, the one invoice items name (vendorSkuId stays in raw) */
	(void) pgb_j_str(ctx, s, "vendorSkuId", false);
	SET(row, C_SUB_STATE, pgb_j_str(ctx, s, "status", true));
	SET(row, C_SUB_QUANTITY, pgb_j_money(ctx, s, "quantity", false));
	if (row[C_SUB_QUANTITY] && row[C_SUB_QUANTITY][0] == '-')
		pgb_json_fail(ctx, "quantity", "is negative");
	SET(row, C_SUB_UNIT_PRICE, pgb_j_money(ctx, s, "price", false));
	SET(row, C_SUB_COST, pgb_j_money(ctx, s, "partnerCost", false));
	SET(row, C_SUB_CURRENCY, checked_currency(ctx, s, "currencyCode"));
	SET(row, C_SUB_TERM, pgb_j_str(ctx, s, "billingTerm", false));
	SET(row, C_SUB_INTERVAL, term_months(row[C_SUB_TERM]));
	SET(row, C_SUB_STARTED, pax8_when(ctx, s, "startDate"));
	SET(row, C_SUB_CANCELED, pax8_when(ctx, s, "endDate"));
	commitment = pgb_j_object(ctx, s, "commitmentTerm", false);
	if (commitment)
		SET(row, C_SUB_ENDS, pax8_when(ctx, commitment, "endDate"));
	SET(row, C_SUB_UPDATED, pgb_j_timestamp(ctx, s, "updatedDate", false, &upd));
	SET(row, C_SUB_RAW, pgb_j_raw(ctx, s));
	seen_updated(page, upd);
}

/* The customer row of the partner an invoice bills: its external id starts with this. */
#define PARTNER_PREFIX "partner:"
/* Items of one invoice at most (a vendor that keeps sending full pages is stopped here). */
#define MAX_INVOICE_ITEMS 100000

/* An id that goes into a URL path: a uuid's characters only (never "x/../y"). */
static char *
path_id(PgbJsonCtx *ctx, json_t *obj, const char *field)
{
	char	   *id = pax8_id(ctx, obj, field, true);

	if (strspn(id, "0123456789abcdefABCDEF-") != strlen(id))
		pgb_json_fail(ctx, field, "is not a uuid");
	return id;
}

/* Appends the records of one items page to items; returns how many it held. */
static size_t
append_items(PgbJsonCtx *ctx, json_t *root, json_t *items)
{
	json_t	   *content;
	json_t	   *item;
	size_t		i;

	if (!json_is_object(root))
		pgb_json_fail(ctx, "(response)", "is not an object");
	content = pgb_j_array(ctx, root, "content", true);
	json_array_foreach(content, i, item)
	{
		if (!json_is_object(item))
			pgb_json_fail(ctx, psprintf("content[%zu]", i), "is not an object");
		json_array_append(items, item);
	}
	return json_array_size(content);
}

/* The URL of items page ordinal (from 1) of invoice id (a uuid: checked by the caller). */
static char *
items_url(PgbSource *src, const char *id, long ordinal)
{
	return psprintf("%s/invoices/%s/items?%s", src->base_url, id,
					pgb_paging_query(&src->conn->paging, ordinal, src->per_page));
}

/* One items page (ordinal from 1) of invoice id appended to items; returns its record count. */
static size_t
items_page(PgbSource *src, PgbJsonCtx *ctx, const char *id, long ordinal, json_t *items)
{
	char	   *url = items_url(src, id, ordinal);
	PgbHttpResponse resp;
	json_t	   *root;
	size_t		n = 0;

	ctx->page = ordinal;
	pgb_http_get(&src->http, url, psprintf("items of invoice %s page %ld", id, ordinal), &resp);
	root = pgb_json_parse(ctx, resp.body, resp.len);
	PG_TRY();
	{
		n = append_items(ctx, root, items);
	}
	PG_FINALLY();
	{
		json_decref(root);
	}
	PG_END_TRY();
	return n;
}

/* Every items page of invoice id: from 0, size per_page, until a short page. */
static void
all_items(PgbSource *src, PgbJsonCtx *ctx, const char *id, json_t *items)
{
	for (long ordinal = 1; items_page(src, ctx, id, ordinal, items) >= (size_t) src->per_page; ordinal++)
		if (json_array_size(items) >= MAX_INVOICE_ITEMS)
			pgb_json_fail(ctx, "items", psprintf("has more than %d items", MAX_INVOICE_ITEMS));
}

/*
 * GET /invoices/{id}/items, every page, set into the invoice's record as "items": the invoice and
 * its items are one record, stored whole with its page or not at all, and a changed item changes
 * the invoice's raw so that its lines are rewritten.
 */
static void
add_items(PgbSource *src, PgbJsonCtx *pctx, json_t *inv)
{
	char	   *id = path_id(pctx, inv, "id");
	PgbJsonCtx	ctx = {src->name, "invoice items", 0, id};
	json_t	   *items = json_array();

	if (items == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	PG_TRY();
	{
		all_items(src, &ctx, id, items);
		json_object_set(inv, "items", items);
	}
	PG_FINALLY();
	{
		json_decref(items);
	}
	PG_END_TRY();
}

/* Each invoice's items go into its record before it is mapped (listed or read by id). */
static void
enrich(PgbSource *src, const PgbEntity *e, PgbJsonCtx *ctx, json_t *record)
{
	if (e->table == PGB_T_INVOICES)
		add_items(src, ctx, record);
}

/*
 * The first items page of an invoice goes out while the invoices before it are mapped (several
 * in flight); add_items collects it. An id that is not a uuid gets nothing sent: add_items says so.
 */
static void
enrich_ahead(PgbSource *src, const PgbEntity *e, json_t *record)
{
	json_t	   *id = json_object_get(record, "id");
	const char *v = json_is_string(id) ? json_string_value(id) : NULL;

	if (e->table != PGB_T_INVOICES || v == NULL || v[0] == '\0' || strlen(v) > 64 ||
		strspn(v, "0123456789abcdefABCDEF-") != strlen(v))
		return;
	pgb_http_prefetch(&src->http, items_url(src, v, 1));
}

/*
 * Invoice status (not in the spec's schema, but sent and a list filter): Unpaid and Carried
 * (the balance moved to the next invoice, where it is due) are open or paid, Void is voided.
 */
static char *
invoice_status(PgbJsonCtx *ctx, json_t *inv)
{
	static const struct
	{
		const char *pax8;
		const char *status;
	}			map[] = {{"Unpaid", "open"}, {"Paid", "paid"}, {"Void", "voided"}, {"Carried", "paid"},
	{"Nothing Due", "paid"}, {"Credited", "paid"}};
	char	   *v = pgb_j_str(ctx, inv, "status", false);

	if (v == NULL)
		return "open";
	for (int i = 0; i < lengthof(map); i++)
		if (strcmp(v, map[i].pax8) == 0)
			return (char *) map[i].status;
	pgb_json_fail(ctx, "status", psprintf("has the unknown value \"%.40s\"", v));
	return NULL;
}

/* Line kind and whether it recurs, from the item type (an unknown type is an adjustment). */
static void
item_kind(PgbJsonCtx *ctx, json_t *it, char **kind, char **recurring)
{
	char	   *t = pgb_j_str(ctx, it, "type", false);

	*recurring = "false";
	if (t && strcmp(t, "subscription") == 0)
		*kind = "plan", *recurring = "true";
	else if (t && (strcmp(t, "one-time") == 0 || strcmp(t, "service-charge") == 0))
		*kind = "one_time";
	else if (t && (strcmp(t, "rebate") == 0 || strstr(t, "credit") != NULL))
		*kind = "credit";
	else
		*kind = "adjustment";
}

/* One item as a line of invoice doc; widens [*ps, *pe] over its period. */
static void
map_item(PgbJsonCtx *ctx, json_t *it, size_t i, char **inv, PgbPage *page, char **ps, char **pe)
{
	char	  **row = pgb_rows_add(&page->t[PGB_T_INVOICE_LINES]);
	char	   *cur = checked_currency(ctx, it, "currencyCode");
	char	   *id = pax8_id(ctx, it, "id", false);

	SET(row, C_LIN_DOC, inv[C_INV_EXT]);
	SET(row, C_LIN_EXT, id ? id : psprintf("#%zu", i + 1));		/* the spec's example has none */
	SET(row, C_LIN_NO, psprintf("%zu", i + 1));
	item_kind(ctx, it, &row[C_LIN_KIND], &row[C_LIN_RECURRING]);
	SET(row, C_LIN_PRODUCT, pgb_j_str(ctx, it, "productName", false));
	SET(row, C_LIN_DESCRIPTION, pgb_j_str(ctx, it, "description", false));
	SET(row, C_LIN_QUANTITY, pgb_j_money(ctx, it, "quantity", false));
	SET(row, C_LIN_UNIT_PRICE, pgb_j_money(ctx, it, "price", false));
	SET(row, C_LIN_SUBTOTAL, pgb_j_money(ctx, it, "subTotal", true));
	SET(row, C_LIN_TAX, pgb_j_money(ctx, it, "salesTax", false));
	SET(row, C_LIN_TOTAL, pgb_j_money(ctx, it, "total", false));
	if (row[C_LIN_TOTAL] == NULL)
		SET(row, C_LIN_TOTAL, row[C_LIN_SUBTOTAL]);
	SET(row, C_LIN_PERIOD_START, pgb_j_date(ctx, it, "startPeriod", false));
	SET(row, C_LIN_PERIOD_END, pgb_j_date(ctx, it, "endPeriod", false));
	if (row[C_LIN_PERIOD_START] == NULL)
		SET(row, C_LIN_PERIOD_START, inv[C_INV_ISSUE]);
	if (row[C_LIN_PERIOD_END] == NULL)
		SET(row, C_LIN_PERIOD_END, row[C_LIN_PERIOD_START]);
	if (strcmp(row[C_LIN_PERIOD_END], row[C_LIN_PERIOD_START]) < 0)
		pgb_json_fail(ctx, "endPeriod", "is before startPeriod");
	SET(row, C_LIN_SKU, pgb_j_str(ctx, it, "sku", false));
	SET(row, C_LIN_COST, pgb_j_money(ctx, it, "costTotal", false));
	(void) pgb_j_money(ctx, it, "cost", false); /* the unit cost: kept in raw, checked to be a number */
	SET(row, C_LIN_CUSTOMER, pax8_id(ctx, it, "companyId", false));
	SET(row, C_LIN_TERM, pgb_j_str(ctx, it, "term", false));
	SET(row, C_LIN_SUBSCRIPTION, pax8_id(ctx, it, "subscriptionId", false));
	SET(row, C_LIN_RAW, pgb_j_raw(ctx, it));
	if (cur && strcmp(cur, inv[C_INV_CURRENCY]) != 0)
		pgb_json_fail(ctx, "currencyCode", "differs from the invoice's currency");
	if (*ps == NULL || strcmp(row[C_LIN_PERIOD_START], *ps) < 0)
		*ps = row[C_LIN_PERIOD_START];
	if (*pe == NULL || strcmp(row[C_LIN_PERIOD_END], *pe) > 0)
		*pe = row[C_LIN_PERIOD_END];
}

/* The partner an invoice bills, as a customer row of this source (external id partner:<name>). */
static char *
partner_row(PgbJsonCtx *ctx, json_t *inv, PgbPage *page)
{
	char	   *name = pgb_j_str(ctx, inv, "partnerName", false);
	char	  **row;
	json_t	   *raw;

	if (name == NULL || name[0] == '\0' || strlen(name) > 200)
		pgb_json_fail(ctx, "partnerName", "is missing, empty or longer than 200 characters");
	row = pgb_rows_add(&page->t[PGB_T_CUSTOMERS]);
	SET(row, C_CUS_EXT, psprintf(PARTNER_PREFIX "%s", name));
	SET(row, C_CUS_NAME, name);
	SET(row, C_CUS_ORG, name);
	raw = json_pack("{ss}", "partnerName", name);
	if (raw == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	SET(row, C_CUS_RAW, pgb_j_raw(ctx, raw));
	json_decref(raw);
	return row[C_CUS_EXT];
}

static void
map_invoice(PgbSource *src, PgbJsonCtx *ctx, json_t *inv, PgbPage *page)
{
	char	  **row;
	json_t	   *items;
	json_t	   *it;
	size_t		i;
	char	   *ps = NULL;
	char	   *pe = NULL;
	const char *id;

	id = ctx->record = pax8_id(ctx, inv, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_INVOICES]);
	SET(row, C_INV_EXT, (char *) id);
	SET(row, C_INV_CUSTOMER, partner_row(ctx, inv, page));
	SET(row, C_INV_DIRECTION, "payable");
	SET(row, C_INV_STATUS, invoice_status(ctx, inv));
	SET(row, C_INV_ISSUE, pgb_j_date(ctx, inv, "invoiceDate", true));
	SET(row, C_INV_DUE_DATE, pgb_j_date(ctx, inv, "dueDate", false));
	if (row[C_INV_DUE_DATE] && strcmp(row[C_INV_DUE_DATE], row[C_INV_ISSUE]) < 0)
		pgb_json_fail(ctx, "dueDate", "is before invoiceDate");
	SET(row, C_INV_CURRENCY, checked_currency(ctx, inv, "currencyCode"));
	if (row[C_INV_CURRENCY] == NULL)
		pgb_json_fail(ctx, "currencyCode", "is missing");
	SET(row, C_INV_TOTAL, pgb_j_money(ctx, inv, "total", false));
	SET(row, C_INV_DUE, pgb_j_money(ctx, inv, "balance", false));
	(void) pgb_j_money(ctx, inv, "carriedBalance", false);	/* kept in raw */
	items = pgb_j_array(ctx, inv, "items", true);	/* set by add_items */
	json_array_foreach(items, i, it)
	{
		ctx->record = psprintf("%s item %zu", id, i + 1);
		if (!json_is_object(it))
			pgb_json_fail(ctx, "(item)", "is not an object");
		map_item(ctx, it, i, row, page, &ps, &pe);
	}
	ctx->record = id;
	SET(row, C_INV_PERIOD_START, ps);
	SET(row, C_INV_PERIOD_END, pe);
	SET(row, C_INV_RAW, pgb_j_raw(ctx, inv));
}

/*
 * Companies before the subscriptions and invoice items that name them; products before subscriptions
 * link them; subscriptions before the items that name them. The partner rows invoices make are not
 * listed by companies: a reconcile of companies leaves them (own_prefix).
 */
static const PgbEntity entities[] = {
	{.name = "companies", .path = "/companies", .list_key = "content", .table = PGB_T_CUSTOMERS,
	.list_params = "&sort=name", .map = map_company, .record_path = "/companies/%s", .own_prefix = PARTNER_PREFIX},
	{.name = "products", .path = "/products", .list_key = "content", .table = PGB_T_PRODUCTS,
	.list_params = "&sort=name", .map = map_product, .record_path = "/products/%s"},
	{.name = "subscriptions", .path = "/subscriptions", .list_key = "content", .table = PGB_T_SUBSCRIPTIONS,
	.list_params = "&sort=createdDate,asc", .map = map_subscription, .record_path = "/subscriptions/%s"},
	{.name = "invoices", .path = "/invoices", .list_key = "content", .table = PGB_T_INVOICES,
	.list_params = "&sort=invoiceDate", .map = map_invoice, .record_path = "/invoices/%s"},
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
	/* no documented concurrency limit (devx.pax8.com gives a per-minute rate only) */
	.default_max_concurrent = 4,
	.prefetch = false,
	.enrich = enrich,
	.enrich_ahead = enrich_ahead,
};
