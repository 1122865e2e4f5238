/*
 * connectwise_map.c: ConnectWise Manage JSON (field names from the API's OpenAPI spec, subset in
 * shared/specs/connectwise/) to pg_billing rows. Ids are int32 numbers, amounts JSON numbers kept
 * exact, dates ISO strings; a field of another type rejects the page naming the record and field.
 */
#include "postgres.h"

#include "connectors/connectwise_int.h"

#define SET(row, col, val) ((row)[(col)] = (val))

static void
seen_updated(PgbPage *page, int64 epoch)
{
	if (epoch > page->max_updated)
		page->max_updated = epoch;
}

/*
 * A ConnectWise id: a JSON integer from 0 to 2^31 - 1 (int32 in the spec; record ids are never
 * negative, and the spec's own mock answers 0).
 */
static char *
cw_id(PgbJsonCtx *ctx, json_t *obj, const char *field, const char *name, bool required)
{
	json_t	   *v = obj ? json_object_get(obj, field) : NULL;

	if (v == NULL || json_is_null(v))
	{
		if (required)
			pgb_json_fail(ctx, name, v ? "is null" : "is missing");
		return NULL;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > PG_INT32_MAX)
		pgb_json_fail(ctx, name, "is not an id (an integer from 0 to 2147483647)");
	return psprintf("%lld", (long long) json_integer_value(v));
}

/* The record's own id; names the record in later errors. */
static void
record_id(PgbJsonCtx *ctx, json_t *r)
{
	ctx->record = cw_id(ctx, r, "id", "id", true);
}

/* A reference object ({"id": ..., "name": ...}): the object, type-checked, or NULL. */
static json_t *
ref(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	return pgb_j_object(ctx, obj, field, required);
}

static char *
ref_id(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	json_t	   *r = ref(ctx, obj, field, required);

	return r ? cw_id(ctx, r, "id", psprintf("%s.id", field), required) : NULL;
}

/* A string member of a reference object ("type.name"), named with its path in errors. */
static char *
ref_str(PgbJsonCtx *ctx, json_t *obj, const char *field, const char *member)
{
	json_t	   *r = ref(ctx, obj, field, false);
	json_t	   *v = r ? json_object_get(r, member) : NULL;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		pgb_json_fail(ctx, psprintf("%s.%s", field, member), "is not a string");
	return pnstrdup(json_string_value(v), json_string_length(v));
}

/* An amount or quantity: a JSON number (the spec's "number"), kept exact; strings are refused. */
static char *
number(PgbJsonCtx *ctx, json_t *obj, const char *field, bool non_negative)
{
	json_t	   *v = json_object_get(obj, field);
	char	   *s;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_number(v))
		pgb_json_fail(ctx, field, psprintf("is %s, expected a number",
										   json_is_string(v) ? "a string" : json_is_object(v) ? "an object" :
										   json_is_array(v) ? "an array" : "a boolean"));
	s = pgb_j_money(ctx, obj, field, false);
	if (non_negative && s[0] == '-' && strspn(s, "-0.") != strlen(s))
		pgb_json_fail(ctx, field, "is negative");
	return s;
}

/* _info.lastUpdated (or another _info key) as a timestamp; the newest seen moves the cursor. */
static char *
info_time(PgbJsonCtx *ctx, json_t *r, const char *key, int64 *epoch)
{
	json_t	   *info = pgb_j_object(ctx, r, "_info", false);
	json_t	   *v = info ? json_object_get(info, key) : NULL;
	char	   *s;
	int64		e = -1;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		pgb_json_fail(ctx, psprintf("_info.%s", key), "is not a string");
	s = pgb_j_timestamp(ctx, info, key, false, &e);
	if (epoch)
		*epoch = e;
	return s;
}

static char *
trimmed_or_null(char *s)
{
	char	   *end;

	if (s == NULL)
		return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return *s ? s : NULL;
}

/* The value of the custom field with this caption: text, or a whole number as text; NULL when unset. */
static char *
custom_field(PgbJsonCtx *ctx, json_t *c, const char *caption)
{
	json_t	   *fields = pgb_j_array(ctx, c, "customFields", false);
	size_t		i;
	json_t	   *f;

	if (fields == NULL)
		return NULL;
	json_array_foreach(fields, i, f)
	{
		json_t	   *cap = json_is_object(f) ? json_object_get(f, "caption") : NULL;
		json_t	   *v;

		if (!json_is_object(f))
			pgb_json_fail(ctx, psprintf("customFields[%zu]", i), "is not an object");
		if (!json_is_string(cap) || strcmp(json_string_value(cap), caption) != 0)
			continue;
		v = json_object_get(f, "value");
		if (v == NULL || json_is_null(v))
			return NULL;
		if (json_is_string(v))
			return pnstrdup(json_string_value(v), json_string_length(v));
		if (json_is_integer(v))
			return psprintf("%lld", (long long) json_integer_value(v));
		pgb_json_fail(ctx, psprintf("customFields[%zu].value", i), "is not text or a whole number");
	}
	return NULL;
}

/* Where the company keeps the licence vendor's id for it (option vendor_ref_field). */
static char *
vendor_ref(PgbJsonCtx *ctx, json_t *c, const char *field)
{
	if (field == NULL || field[0] == '\0')
		return NULL;
	if (strcmp(field, "accountNumber") == 0)
		return trimmed_or_null(pgb_j_str(ctx, c, "accountNumber", false));
	return trimmed_or_null(custom_field(ctx, c, field));
}

void
pgb_cw_map_company(PgbJsonCtx *ctx, json_t *c, const char *vendor_ref_field, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;

	record_id(ctx, c);
	row = pgb_rows_add(&page->t[PGB_T_CUSTOMERS]);
	SET(row, C_CUS_EXT, (char *) ctx->record);
	SET(row, C_CUS_REFERENCE, pgb_j_str(ctx, c, "identifier", true));
	SET(row, C_CUS_NAME, pgb_j_str(ctx, c, "name", true));
	SET(row, C_CUS_EMAIL, pgb_j_str(ctx, c, "invoiceToEmailAddress", false));
	SET(row, C_CUS_PARENT, ref_id(ctx, c, "parentCompany", false));
	SET(row, C_CUS_CREATED, info_time(ctx, c, "dateEntered", NULL));
	SET(row, C_CUS_UPDATED, info_time(ctx, c, "lastUpdated", &upd));
	SET(row, C_CUS_VENDOR_REF, vendor_ref(ctx, c, vendor_ref_field));
	SET(row, C_CUS_RAW, pgb_j_raw(ctx, c));
	seen_updated(page, upd);
}

void
pgb_cw_map_catalog_item(PgbJsonCtx *ctx, json_t *item, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;
	char	   *recurring;

	record_id(ctx, item);
	recurring = pgb_j_bool(ctx, item, "recurringFlag", false);
	row = pgb_rows_add(&page->t[PGB_T_PRODUCTS]);
	SET(row, C_PRD_EXT, (char *) ctx->record);
	SET(row, C_PRD_SKU, pgb_j_str(ctx, item, "identifier", true));
	SET(row, C_PRD_NAME, pgb_j_str(ctx, item, "description", false));
	SET(row, C_PRD_FAMILY, ref_str(ctx, item, "category", "name"));
	SET(row, C_PRD_PRICE, number(ctx, item, "price", false));
	SET(row, C_PRD_COST, number(ctx, item, "cost", false));
	SET(row, C_PRD_RECURRING, recurring ? recurring : "false");
	SET(row, C_PRD_CYCLE, trimmed_or_null(ref_str(ctx, item, "recurringBillCycle", "name")));
	SET(row, C_PRD_UPDATED, info_time(ctx, item, "lastUpdated", &upd));
	SET(row, C_PRD_RAW, pgb_j_raw(ctx, item));
	seen_updated(page, upd);
}

/* An ISO 4217 code, or NULL; anything else is refused. */
static char *
currency_code(PgbJsonCtx *ctx, json_t *a)
{
	char	   *c = ref_str(ctx, a, "currency", "currencyCode");

	if (c && (strlen(c) != 3 || !isupper((unsigned char) c[0]) || !isupper((unsigned char) c[1]) ||
			  !isupper((unsigned char) c[2])))
		pgb_json_fail(ctx, "currency.currencyCode", "is not an ISO 4217 currency code");
	return c;
}

void
pgb_cw_map_agreement(PgbJsonCtx *ctx, json_t *a, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;
	char	   *start;
	char	   *end;
	char	   *no_end;
	char	   *cancelled_flag;
	char	   *cancelled;

	record_id(ctx, a);
	start = pgb_j_date(ctx, a, "startDate", false);
	end = pgb_j_date(ctx, a, "endDate", false);
	no_end = pgb_j_bool(ctx, a, "noEndingDateFlag", false);
	cancelled_flag = pgb_j_bool(ctx, a, "cancelledFlag", false);
	cancelled = pgb_j_date(ctx, a, "dateCancelled", false);
	/* an agreement without an ending date may still carry an old one: it does not count */
	if (no_end && strcmp(no_end, "true") == 0)
		end = NULL;
	/* a date cancelled only counts while the agreement is flagged cancelled (or the flag is absent) */
	if (cancelled_flag && strcmp(cancelled_flag, "false") == 0)
		cancelled = NULL;
	if (start && end && strcmp(end, start) < 0)
		pgb_json_fail(ctx, "endDate", "is before startDate");
	row = pgb_rows_add(&page->t[PGB_T_CONTRACTS]);
	SET(row, C_CON_EXT, (char *) ctx->record);
	SET(row, C_CON_CUSTOMER, ref_id(ctx, a, "company", true));
	SET(row, C_CON_NAME, pgb_j_str(ctx, a, "name", false));
	SET(row, C_CON_TYPE, ref_str(ctx, a, "type", "name"));
	SET(row, C_CON_START, start);
	SET(row, C_CON_END, end);
	SET(row, C_CON_CANCELED, cancelled);
	SET(row, C_CON_CYCLE, ref_str(ctx, a, "billingCycle", "name"));
	SET(row, C_CON_CURRENCY, currency_code(ctx, a));
	SET(row, C_CON_UPDATED, info_time(ctx, a, "lastUpdated", &upd));
	SET(row, C_CON_RAW, pgb_j_raw(ctx, a));
	seen_updated(page, upd);
}

/* billCustomer: Billable bills the customer; DoNotBill and NoCharge do not; absent means Billable. */
static char *
billable(PgbJsonCtx *ctx, json_t *a)
{
	char	   *v = pgb_j_str(ctx, a, "billCustomer", false);

	if (v == NULL || strcmp(v, "Billable") == 0)
		return "true";
	if (strcmp(v, "DoNotBill") == 0 || strcmp(v, "NoCharge") == 0)
		return "false";
	pgb_json_fail(ctx, "billCustomer", psprintf("has the unknown value \"%.40s\" (Billable, DoNotBill or NoCharge)", v));
	return NULL;
}

void
pgb_cw_map_addition(PgbJsonCtx *ctx, json_t *a, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;
	char	   *agreement;
	json_t	   *product;
	char	   *sku;
	char	   *desc;

	record_id(ctx, a);
	if (page->parent_id == NULL)
		pgb_json_fail(ctx, "agreementId", "cannot be checked: the addition was not read under an agreement");
	/* the agreement it was listed under is its contract; its own agreementId must agree */
	agreement = cw_id(ctx, a, "agreementId", "agreementId", false);
	if (agreement && strcmp(agreement, page->parent_id) != 0)
		pgb_json_fail(ctx, "agreementId", psprintf("is %s, but the addition was listed under agreement %s",
												   agreement, page->parent_id));
	product = ref(ctx, a, "product", true);
	sku = pgb_j_str(ctx, product, "identifier", false);
	desc = pgb_j_str(ctx, a, "description", false);
	row = pgb_rows_add(&page->t[PGB_T_SUBSCRIPTIONS]);
	SET(row, C_SUB_EXT, (char *) ctx->record);
	SET(row, C_SUB_CONTRACT, (char *) page->parent_id);
	SET(row, C_SUB_PRODUCT_EXT, cw_id(ctx, product, "id", "product.id", false));
	SET(row, C_SUB_SKU, sku);
	SET(row, C_SUB_PRODUCT, desc ? desc : sku);
	SET(row, C_SUB_STATE, pgb_j_str(ctx, a, "agreementStatus", false));
	SET(row, C_SUB_QUANTITY, number(ctx, a, "quantity", true));
	SET(row, C_SUB_INCLUDED, number(ctx, a, "lessIncluded", true));
	SET(row, C_SUB_UNIT_PRICE, number(ctx, a, "unitPrice", false));
	SET(row, C_SUB_COST, number(ctx, a, "unitCost", false));
	SET(row, C_SUB_BILLABLE, billable(ctx, a));
	SET(row, C_SUB_STARTED, pgb_j_timestamp(ctx, a, "effectiveDate", false, NULL));
	SET(row, C_SUB_CANCELED, pgb_j_timestamp(ctx, a, "cancelledDate", false, NULL));
	SET(row, C_SUB_UPDATED, info_time(ctx, a, "lastUpdated", &upd));
	SET(row, C_SUB_RAW, pgb_j_raw(ctx, a));
	seen_updated(page, upd);
}
