/*
 * advanced_billing_map.c: Advanced Billing JSON (field names from the OpenAPI spec) to pg_billing
 * rows. Every field is type-checked; a wrong one rejects the page with the record and field named.
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "connectors/advanced_billing_int.h"

#define SET(row, col, val) ((row)[(col)] = (val))

static void
seen_updated(PgbPage *page, int64 epoch)
{
	if (epoch > page->max_updated)
		page->max_updated = epoch;
}

static char *
checked_currency(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	char	   *c = pgb_j_str(ctx, obj, field, required);

	if (c && (strlen(c) != 3 || !isupper((unsigned char) c[0]) || !isupper((unsigned char) c[1]) ||
			  !isupper((unsigned char) c[2])))
		pgb_json_fail(ctx, field, "is not an ISO 4217 currency code");
	return c;
}

static char *
checked_enum(PgbJsonCtx *ctx, json_t *obj, const char *field, const char *const *allowed)
{
	char	   *v = pgb_j_str(ctx, obj, field, true);

	for (; *allowed; allowed++)
		if (strcmp(v, *allowed) == 0)
			return v;
	pgb_json_fail(ctx, field, psprintf("has the unknown value \"%.40s\"", v));
	return NULL;
}

static char *
full_name(PgbJsonCtx *ctx, json_t *c)
{
	char	   *first = pgb_j_str(ctx, c, "first_name", false);
	char	   *last = pgb_j_str(ctx, c, "last_name", false);

	if (first && last)
		return psprintf("%s %s", first, last);
	return first ? first : last;
}

void
pgb_ab_map_customer(PgbJsonCtx *ctx, json_t *c, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;

	ctx->record = pgb_j_id(ctx, c, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_CUSTOMERS]);
	SET(row, C_CUS_EXT, (char *) ctx->record);
	SET(row, C_CUS_REFERENCE, pgb_j_str(ctx, c, "reference", false));
	SET(row, C_CUS_NAME, full_name(ctx, c));
	SET(row, C_CUS_ORG, pgb_j_str(ctx, c, "organization", false));
	SET(row, C_CUS_EMAIL, pgb_j_str(ctx, c, "email", false));
	SET(row, C_CUS_PARENT, pgb_j_id(ctx, c, "parent_id", false));
	SET(row, C_CUS_CREATED, pgb_j_timestamp(ctx, c, "created_at", false, NULL));
	SET(row, C_CUS_UPDATED, pgb_j_timestamp(ctx, c, "updated_at", false, &upd));
	SET(row, C_CUS_RAW, pgb_j_raw(ctx, c));
	seen_updated(page, upd);
}

/* Months of an interval and unit, or NULL when it is not a whole number of months. */
static char *
interval_months(PgbJsonCtx *ctx, json_t *obj)
{
	char	   *n = pgb_j_int(ctx, obj, "interval", false);
	char	   *unit = pgb_j_str(ctx, obj, "interval_unit", false);
	long		v;

	if (n == NULL || unit == NULL)
		return NULL;
	v = strtol(n, NULL, 10);
	if (v <= 0 || v > 1200)
		return NULL;
	if (strcmp(unit, "month") == 0)
		return psprintf("%ld", v);
	if (strcmp(unit, "year") == 0)
		return psprintf("%ld", v * 12);
	return NULL;
}

static char *
product_row(PgbJsonCtx *ctx, json_t *p, const char *currency, PgbPage *page)
{
	char	  **row = pgb_rows_add(&page->t[PGB_T_PRODUCTS]);
	json_t	   *family = pgb_j_object(ctx, p, "product_family", false);
	char	   *ext = pgb_j_id(ctx, p, "id", true);
	char	   *months = interval_months(ctx, p);

	SET(row, C_PRD_EXT, ext);
	SET(row, C_PRD_SKU, pgb_j_str(ctx, p, "handle", false));
	SET(row, C_PRD_NAME, pgb_j_str(ctx, p, "name", false));
	SET(row, C_PRD_FAMILY, family ? pgb_j_str(ctx, family, "name", false) : NULL);
	SET(row, C_PRD_PRICE, pgb_j_cents(ctx, p, "price_in_cents", false));
	SET(row, C_PRD_CURRENCY, (char *) currency);
	SET(row, C_PRD_INTERVAL, months);
	SET(row, C_PRD_RECURRING, months ? "true" : "false");
	SET(row, C_PRD_UPDATED, pgb_j_timestamp(ctx, p, "updated_at", false, NULL));
	SET(row, C_PRD_RAW, pgb_j_raw(ctx, p));
	return ext;
}

void
pgb_ab_map_subscription(PgbJsonCtx *ctx, json_t *s, PgbPage *page)
{
	char	  **row;
	json_t	   *cust;
	json_t	   *prod;
	char	   *currency;
	char	   *ends;
	int64		upd = -1;
	int64		ps = 0;
	int64		pe = 0;

	ctx->record = pgb_j_id(ctx, s, "id", true);
	cust = pgb_j_object(ctx, s, "customer", true);
	prod = pgb_j_object(ctx, s, "product", false);
	currency = checked_currency(ctx, s, "currency", false);
	row = pgb_rows_add(&page->t[PGB_T_SUBSCRIPTIONS]);
	SET(row, C_SUB_EXT, (char *) ctx->record);
	SET(row, C_SUB_CUSTOMER, pgb_j_id(ctx, cust, "id", true));
	if (prod)
	{
		char	   *months = interval_months(ctx, prod);

		SET(row, C_SUB_PRODUCT_EXT, product_row(ctx, prod, currency, page));
		SET(row, C_SUB_PRODUCT, pgb_j_str(ctx, prod, "name", false));
		SET(row, C_SUB_SKU, pgb_j_str(ctx, prod, "handle", false));
		SET(row, C_SUB_INTERVAL, months);
		if (pgb_j_int(ctx, prod, "interval", false) && pgb_j_str(ctx, prod, "interval_unit", false))
			SET(row, C_SUB_TERM, psprintf("%s %s", pgb_j_int(ctx, prod, "interval", false),
										  pgb_j_str(ctx, prod, "interval_unit", false)));
	}
	SET(row, C_SUB_STATE, pgb_j_str(ctx, s, "state", true));
	SET(row, C_SUB_QUANTITY, "1");
	SET(row, C_SUB_UNIT_PRICE, pgb_j_cents(ctx, s, "product_price_in_cents", false));
	if (row[C_SUB_UNIT_PRICE] == NULL && prod)
		SET(row, C_SUB_UNIT_PRICE, pgb_j_cents(ctx, prod, "price_in_cents", false));
	SET(row, C_SUB_CURRENCY, currency);
	SET(row, C_SUB_PERIOD_START, pgb_j_timestamp(ctx, s, "current_period_started_at", false, &ps));
	SET(row, C_SUB_PERIOD_END, pgb_j_timestamp(ctx, s, "current_period_ends_at", false, &pe));
	if (row[C_SUB_PERIOD_START] && row[C_SUB_PERIOD_END] && pe < ps)
		pgb_json_fail(ctx, "current_period_ends_at", "is before current_period_started_at");
	SET(row, C_SUB_STARTED, pgb_j_timestamp(ctx, s, "activated_at", false, NULL));
	SET(row, C_SUB_CANCELED, pgb_j_timestamp(ctx, s, "canceled_at", false, NULL));
	ends = pgb_j_timestamp(ctx, s, "expires_at", false, NULL);
	if (ends == NULL)
		ends = pgb_j_timestamp(ctx, s, "delayed_cancel_at", false, NULL);
	if (ends == NULL)
		ends = pgb_j_timestamp(ctx, s, "scheduled_cancellation_at", false, NULL);
	SET(row, C_SUB_ENDS, ends);
	SET(row, C_SUB_UPDATED, pgb_j_timestamp(ctx, s, "updated_at", false, &upd));
	(void) pgb_j_array(ctx, s, "coupons", false);	/* kept in raw; checked to be a list */
	SET(row, C_SUB_RAW, pgb_j_raw(ctx, s));
	seen_updated(page, upd);
}

/*
 * Line kind and whether it recurs. Maxio's line `kind` names the charge; without it the links
 * decide: a component line, a product (plan) line, or a one-time charge.
 */
static void
line_kind(PgbJsonCtx *ctx, json_t *li, const char **kind, bool *recurring)
{
	char	   *k = pgb_j_str(ctx, li, "kind", false);
	bool		component = pgb_j_id(ctx, li, "component_id", false) != NULL;
	bool		product = pgb_j_id(ctx, li, "product_id", false) != NULL;

	if (k && (strstr(k, "metered") || strstr(k, "usage") || strstr(k, "event_based")))
		*kind = "usage", *recurring = false;
	else if (k && strstr(k, "component"))
		*kind = "component", *recurring = true;
	else if (k && (strcmp(k, "one_time") == 0 || strcmp(k, "delay_capture") == 0 || strcmp(k, "initial") == 0))
		*kind = "one_time", *recurring = false;
	else if (k && strstr(k, "adjustment"))
		*kind = "adjustment", *recurring = false;
	else if (k && strstr(k, "credit"))
		*kind = "credit", *recurring = false;
	else if (k && (strcmp(k, "baseline") == 0 || strcmp(k, "trial") == 0 || strcmp(k, "prorated") == 0))
		*kind = "plan", *recurring = true;
	else if (component)
		*kind = "component", *recurring = true;
	else if (product)
		*kind = "plan", *recurring = true;
	else
		*kind = "one_time", *recurring = false;
}

/* A percentage as written in a tax code: "20.0" -> "20", "8.8750" -> "8.875" (no exponent kept). */
static char *
rate_text(PgbJsonCtx *ctx, json_t *tax)
{
	char	   *p = pgb_j_money(ctx, tax, "percentage", true);
	size_t		n = strlen(p);

	if (strpbrk(p, "eE") != NULL || p[0] == '-' || n > 20)
		pgb_json_fail(ctx, "percentage", "is not a plain non-negative decimal");
	if (strchr(p, '.') != NULL)
	{
		while (n > 0 && p[n - 1] == '0')
			p[--n] = '\0';
		if (n > 0 && p[n - 1] == '.')
			p[--n] = '\0';
	}
	return p;
}

/*
 * The tax code of a line (docs/push-xero.md, "Tax codes"): "<title> <rate>%" of every tax of the
 * document whose line_item_breakouts name the line's uid, in the document's order, joined by " + "
 * (for example "VAT 20%", or "State Tax 6.25% + City Tax 1%"). NULL when no tax names the line.
 * This exact text is the local_key of the tax_rate map.
 */
static char *
line_tax_code(PgbJsonCtx *ctx, json_t *taxes, const char *line_uid)
{
	StringInfoData code;
	size_t		i;
	json_t	   *tax;

	if (taxes == NULL)
		return NULL;
	initStringInfo(&code);
	json_array_foreach(taxes, i, tax)
	{
		json_t	   *outs;
		size_t		j;
		json_t	   *b;
		bool		named = false;

		if (!json_is_object(tax))
			pgb_json_fail(ctx, "taxes", "holds an item that is not an object");
		outs = pgb_j_array(ctx, tax, "line_item_breakouts", false);
		if (outs == NULL)
			continue;
		json_array_foreach(outs, j, b)
		{
			char	   *uid;

			if (!json_is_object(b))
				pgb_json_fail(ctx, "taxes.line_item_breakouts", "holds an item that is not an object");
			uid = pgb_j_str(ctx, b, "uid", false);
			if (uid && strcmp(uid, line_uid) == 0)
			{
				named = true;
				break;
			}
		}
		if (named)
		{
			char	   *title = pgb_j_str(ctx, tax, "title", false);

			if (title == NULL || title[0] == '\0')
				title = "Tax";
			if (strlen(title) > 100)
				pgb_json_fail(ctx, "taxes.title", "is longer than 100 characters");
			appendStringInfo(&code, "%s%s %s%%", code.len > 0 ? " + " : "", title, rate_text(ctx, tax));
			if (code.len > 400)
				pgb_json_fail(ctx, "taxes", "name more than 400 characters of taxes for one line");
		}
	}
	return code.len > 0 ? code.data : NULL;
}

/* Lines of an invoice or credit note; widens [*pstart, *pend) over the lines' periods. */
static void
map_lines(PgbJsonCtx *ctx, json_t *doc, const char *doc_ext, const char *fallback_date,
		  PgbRows *rows, char **pstart, char **pend)
{
	json_t	   *lines = pgb_j_array(ctx, doc, "line_items", false);
	json_t	   *taxes = pgb_j_array(ctx, doc, "taxes", false);
	size_t		i;
	json_t	   *li;
	const char *doc_record = ctx->record;

	if (lines == NULL)
		return;
	json_array_foreach(lines, i, li)
	{
		char	  **row;
		const char *kind;
		bool		recurring;
		char	   *ps;
		char	   *pe;

		ctx->record = psprintf("%s line %zu", doc_record, i + 1);
		if (!json_is_object(li))
			pgb_json_fail(ctx, "line_items", "holds an item that is not an object");
		row = pgb_rows_add(rows);
		line_kind(ctx, li, &kind, &recurring);
		ps = pgb_j_date(ctx, li, "period_range_start", false);
		pe = pgb_j_date(ctx, li, "period_range_end", false);
		if (ps == NULL || pe == NULL)
			ps = pe = (char *) fallback_date;
		if (strcmp(pe, ps) < 0)
			pgb_json_fail(ctx, "period_range_end", "is before period_range_start");
		if (strcmp(ps, pe) == 0)
			recurring = false;	/* a non-periodic charge */
		SET(row, C_LIN_DOC, (char *) doc_ext);
		SET(row, C_LIN_EXT, pgb_j_str(ctx, li, "uid", true));
		SET(row, C_LIN_NO, psprintf("%zu", i + 1));
		SET(row, C_LIN_KIND, (char *) kind);
		SET(row, C_LIN_PRODUCT, pgb_j_str(ctx, li, "title", false));
		SET(row, C_LIN_DESCRIPTION, pgb_j_str(ctx, li, "description", false));
		SET(row, C_LIN_QUANTITY, pgb_j_money(ctx, li, "quantity", false));
		SET(row, C_LIN_UNIT_PRICE, pgb_j_money(ctx, li, "unit_price", false));
		SET(row, C_LIN_SUBTOTAL, pgb_j_money(ctx, li, "subtotal_amount", true));
		SET(row, C_LIN_DISCOUNT, pgb_j_money(ctx, li, "discount_amount", false));
		SET(row, C_LIN_TAX, pgb_j_money(ctx, li, "tax_amount", false));
		SET(row, C_LIN_TOTAL, pgb_j_money(ctx, li, "total_amount", true));
		SET(row, C_LIN_PERIOD_START, ps);
		SET(row, C_LIN_PERIOD_END, pe);
		SET(row, C_LIN_RECURRING, recurring ? "true" : "false");
		SET(row, C_LIN_TAX_CODE, line_tax_code(ctx, taxes, row[C_LIN_EXT]));
		SET(row, C_LIN_RAW, pgb_j_raw(ctx, li));
		if (*pstart == NULL || strcmp(ps, *pstart) < 0)
			*pstart = ps;
		if (*pend == NULL || strcmp(pe, *pend) > 0)
			*pend = pe;
	}
	ctx->record = doc_record;
}

static void
map_payments(PgbJsonCtx *ctx, json_t *inv, char **irow, PgbPage *page)
{
	json_t	   *list = pgb_j_array(ctx, inv, "payments", false);
	size_t		i;
	json_t	   *p;
	const char *doc_record = ctx->record;

	if (list == NULL)
		return;
	json_array_foreach(list, i, p)
	{
		char	  **row;
		char	   *when;
		json_t	   *method;

		ctx->record = psprintf("%s payment %zu", doc_record, i + 1);
		if (!json_is_object(p))
			pgb_json_fail(ctx, "payments", "holds an item that is not an object");
		row = pgb_rows_add(&page->t[PGB_T_PAYMENTS]);
		when = pgb_j_timestamp(ctx, p, "transaction_time", true, NULL);
		method = pgb_j_object(ctx, p, "payment_method", false);
		SET(row, C_PAY_EXT, pgb_j_id(ctx, p, "transaction_id", true));
		SET(row, C_PAY_CUSTOMER, irow[C_INV_CUSTOMER]);
		SET(row, C_PAY_INVOICE, irow[C_INV_EXT]);
		SET(row, C_PAY_AMOUNT, pgb_j_money(ctx, p, "applied_amount", true));
		SET(row, C_PAY_CURRENCY, irow[C_INV_CURRENCY]);
		SET(row, C_PAY_DATE, pnstrdup(when, 10));
		SET(row, C_PAY_RECEIVED, when);
		SET(row, C_PAY_METHOD, method ? pgb_j_str(ctx, method, "type", false) : NULL);
		SET(row, C_PAY_REFERENCE, pgb_j_str(ctx, p, "gateway_transaction_id", false));
		if (row[C_PAY_REFERENCE] == NULL)
			SET(row, C_PAY_REFERENCE, pgb_j_str(ctx, p, "memo", false));
		SET(row, C_PAY_PREPAYMENT, pgb_j_bool(ctx, p, "prepayment", false));
		SET(row, C_PAY_UPDATED, irow[C_INV_UPDATED]);
		SET(row, C_PAY_RAW, pgb_j_raw(ctx, p));
	}
	ctx->record = doc_record;
}

static void
map_refunds(PgbJsonCtx *ctx, json_t *inv, char **irow, PgbPage *page)
{
	json_t	   *list = pgb_j_array(ctx, inv, "refunds", false);
	size_t		i;
	json_t	   *r;
	const char *doc_record = ctx->record;

	if (list == NULL)
		return;
	json_array_foreach(list, i, r)
	{
		char	  **row;

		ctx->record = psprintf("%s refund %zu", doc_record, i + 1);
		if (!json_is_object(r))
			pgb_json_fail(ctx, "refunds", "holds an item that is not an object");
		row = pgb_rows_add(&page->t[PGB_T_REFUNDS]);
		SET(row, C_REF_EXT, pgb_j_id(ctx, r, "transaction_id", true));
		SET(row, C_REF_CUSTOMER, irow[C_INV_CUSTOMER]);
		SET(row, C_REF_INVOICE, irow[C_INV_EXT]);
		SET(row, C_REF_PAYMENT, pgb_j_id(ctx, r, "payment_id", false));
		SET(row, C_REF_AMOUNT, pgb_j_money(ctx, r, "applied_amount", true));
		SET(row, C_REF_CURRENCY, irow[C_INV_CURRENCY]);
		/* Invoice refunds carry no date: the invoice's update that brought the refund dates it. */
		SET(row, C_REF_DATE, irow[C_INV_UPDATED] ? pnstrdup(irow[C_INV_UPDATED], 10) : irow[C_INV_ISSUE]);
		SET(row, C_REF_MEMO, pgb_j_str(ctx, r, "memo", false));
		SET(row, C_REF_UPDATED, irow[C_INV_UPDATED]);
		SET(row, C_REF_RAW, pgb_j_raw(ctx, r));
	}
	ctx->record = doc_record;
}

void
pgb_ab_map_invoice(PgbJsonCtx *ctx, json_t *inv, PgbPage *page)
{
	static const char *const statuses[] = {"draft", "open", "pending", "paid", "voided", "canceled", NULL};
	char	  **row;
	char	   *ps = NULL;
	char	   *pe = NULL;
	int64		upd = -1;

	ctx->record = pgb_j_str(ctx, inv, "uid", true);
	row = pgb_rows_add(&page->t[PGB_T_INVOICES]);
	SET(row, C_INV_EXT, (char *) ctx->record);
	SET(row, C_INV_NUMBER, pgb_j_str(ctx, inv, "number", false));
	SET(row, C_INV_CUSTOMER, pgb_j_id(ctx, inv, "customer_id", true));
	SET(row, C_INV_SUBSCRIPTION, pgb_j_id(ctx, inv, "subscription_id", false));
	SET(row, C_INV_STATUS, checked_enum(ctx, inv, "status", statuses));
	SET(row, C_INV_ISSUE, pgb_j_date(ctx, inv, "issue_date", true));
	SET(row, C_INV_DUE_DATE, pgb_j_date(ctx, inv, "due_date", false));
	SET(row, C_INV_PAID_DATE, pgb_j_date(ctx, inv, "paid_date", false));
	SET(row, C_INV_CURRENCY, checked_currency(ctx, inv, "currency", true));
	SET(row, C_INV_SUBTOTAL, pgb_j_money(ctx, inv, "subtotal_amount", false));
	SET(row, C_INV_DISCOUNT, pgb_j_money(ctx, inv, "discount_amount", false));
	SET(row, C_INV_TAX, pgb_j_money(ctx, inv, "tax_amount", false));
	SET(row, C_INV_TOTAL, pgb_j_money(ctx, inv, "total_amount", false));
	SET(row, C_INV_CREDIT, pgb_j_money(ctx, inv, "credit_amount", false));
	SET(row, C_INV_REFUNDED, pgb_j_money(ctx, inv, "refund_amount", false));
	SET(row, C_INV_PAID, pgb_j_money(ctx, inv, "paid_amount", false));
	SET(row, C_INV_DUE, pgb_j_money(ctx, inv, "due_amount", false));
	SET(row, C_INV_UPDATED, pgb_j_timestamp(ctx, inv, "updated_at", false, &upd));
	if (row[C_INV_DUE_DATE] && strcmp(row[C_INV_DUE_DATE], row[C_INV_ISSUE]) < 0)
		pgb_json_fail(ctx, "due_date", "is before issue_date");
	map_lines(ctx, inv, row[C_INV_EXT], row[C_INV_ISSUE], &page->t[PGB_T_INVOICE_LINES], &ps, &pe);
	SET(row, C_INV_PERIOD_START, ps);
	SET(row, C_INV_PERIOD_END, pe);
	(void) pgb_j_array(ctx, inv, "discounts", false);
	(void) pgb_j_array(ctx, inv, "taxes", false);
	(void) pgb_j_array(ctx, inv, "credits", false);
	map_payments(ctx, inv, row, page);
	map_refunds(ctx, inv, row, page);
	SET(row, C_INV_RAW, pgb_j_raw(ctx, inv));
	seen_updated(page, upd);
}

static void
map_applications(PgbJsonCtx *ctx, json_t *cn, char **crow, PgbPage *page)
{
	json_t	   *list = pgb_j_array(ctx, cn, "applications", false);
	size_t		i;
	json_t	   *a;
	const char *doc_record = ctx->record;

	if (list == NULL)
		return;
	json_array_foreach(list, i, a)
	{
		char	  **row;
		char	   *when;

		ctx->record = psprintf("%s application %zu", doc_record, i + 1);
		if (!json_is_object(a))
			pgb_json_fail(ctx, "applications", "holds an item that is not an object");
		row = pgb_rows_add(&page->t[PGB_T_ALLOCATIONS]);
		when = pgb_j_timestamp(ctx, a, "transaction_time", true, NULL);
		SET(row, C_ALC_EXT, pgb_j_str(ctx, a, "uid", true));
		SET(row, C_ALC_NOTE, crow[C_CN_EXT]);
		SET(row, C_ALC_INVOICE, pgb_j_str(ctx, a, "invoice_uid", false));
		SET(row, C_ALC_CUSTOMER, crow[C_CN_CUSTOMER]);
		SET(row, C_ALC_AMOUNT, pgb_j_money(ctx, a, "applied_amount", true));
		SET(row, C_ALC_CURRENCY, crow[C_CN_CURRENCY]);
		SET(row, C_ALC_DATE, pnstrdup(when, 10));
		SET(row, C_ALC_RAW, pgb_j_raw(ctx, a));
	}
	ctx->record = doc_record;
}

void
pgb_ab_map_credit_note(PgbJsonCtx *ctx, json_t *cn, PgbPage *page)
{
	static const char *const statuses[] = {"draft", "open", "applied", "voided", NULL};
	char	  **row;
	json_t	   *origins;
	char	   *ps = NULL;
	char	   *pe = NULL;

	ctx->record = pgb_j_str(ctx, cn, "uid", true);
	row = pgb_rows_add(&page->t[PGB_T_CREDIT_NOTES]);
	SET(row, C_CN_EXT, (char *) ctx->record);
	SET(row, C_CN_NUMBER, pgb_j_str(ctx, cn, "number", false));
	SET(row, C_CN_CUSTOMER, pgb_j_id(ctx, cn, "customer_id", true));
	SET(row, C_CN_SUBSCRIPTION, pgb_j_id(ctx, cn, "subscription_id", false));
	origins = pgb_j_array(ctx, cn, "origin_invoices", false);
	if (origins && json_array_size(origins) > 0)
		SET(row, C_CN_INVOICE, pgb_j_str(ctx, json_array_get(origins, 0), "uid", false));
	SET(row, C_CN_STATUS, checked_enum(ctx, cn, "status", statuses));
	SET(row, C_CN_ISSUE, pgb_j_date(ctx, cn, "issue_date", true));
	SET(row, C_CN_APPLIED_DATE, pgb_j_date(ctx, cn, "applied_date", false));
	SET(row, C_CN_CURRENCY, checked_currency(ctx, cn, "currency", true));
	SET(row, C_CN_SUBTOTAL, pgb_j_money(ctx, cn, "subtotal_amount", false));
	SET(row, C_CN_DISCOUNT, pgb_j_money(ctx, cn, "discount_amount", false));
	SET(row, C_CN_TAX, pgb_j_money(ctx, cn, "tax_amount", false));
	SET(row, C_CN_TOTAL, pgb_j_money(ctx, cn, "total_amount", false));
	SET(row, C_CN_APPLIED, pgb_j_money(ctx, cn, "applied_amount", false));
	SET(row, C_CN_REMAINING, pgb_j_money(ctx, cn, "remaining_amount", false));
	SET(row, C_CN_MEMO, pgb_j_str(ctx, cn, "memo", false));
	SET(row, C_CN_UPDATED, NULL);	/* credit notes carry no updated_at */
	map_lines(ctx, cn, row[C_CN_EXT], row[C_CN_ISSUE], &page->t[PGB_T_CREDIT_NOTE_LINES], &ps, &pe);
	map_applications(ctx, cn, row, page);
	SET(row, C_CN_RAW, pgb_j_raw(ctx, cn));
}

void
pgb_ab_map_statement(PgbJsonCtx *ctx, json_t *st, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;

	ctx->record = pgb_j_id(ctx, st, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_STATEMENTS]);
	SET(row, C_STM_EXT, (char *) ctx->record);
	SET(row, C_STM_SUBSCRIPTION, pgb_j_id(ctx, st, "subscription_id", true));
	SET(row, C_STM_OPENED, pgb_j_timestamp(ctx, st, "opened_at", false, NULL));
	SET(row, C_STM_CLOSED, pgb_j_timestamp(ctx, st, "closed_at", false, NULL));
	SET(row, C_STM_SETTLED, pgb_j_timestamp(ctx, st, "settled_at", false, NULL));
	SET(row, C_STM_START_BAL, pgb_j_cents(ctx, st, "starting_balance_in_cents", false));
	SET(row, C_STM_END_BAL, pgb_j_cents(ctx, st, "ending_balance_in_cents", false));
	SET(row, C_STM_TOTAL, pgb_j_cents(ctx, st, "total_in_cents", false));
	SET(row, C_STM_UPDATED, pgb_j_timestamp(ctx, st, "updated_at", false, &upd));
	SET(row, C_STM_RAW, pgb_j_raw(ctx, st));
	seen_updated(page, upd);
}
