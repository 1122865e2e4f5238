/*
 * splynx_map.c: Splynx records to rows. Ids arrive as numbers or strings, amounts as strings or
 * numbers (pgb_j_id, pgb_j_money: both exact). Dates are YYYY-MM-DD; date_updated may carry a
 * time ("YYYY-MM-DD HH:MM:SS") and is read as UTC. Splynx documents carry no currency: it is the
 * source's option currency. An item's period_to is the last day it covers; the model's period_end
 * is exclusive, so it is period_to + 1 day.
 */
#include "postgres.h"

#include "common/decimal_time.h"
#include "connectors/splynx_int.h"
#include "json/pgb_json.h"

#define SET(row, col, val) ((row)[(col)] = (val))

/* An id: a positive integer as number or string; "0" and 0 mean none (Splynx's empty link). */
static char *
splynx_id(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	char	   *id = pgb_j_id(ctx, obj, field, false);

	if (id && strcmp(id, "0") == 0)
		id = NULL;
	if (id && (strlen(id) > 20 || strspn(id, "0123456789") != strlen(id)))
		pgb_json_fail(ctx, field, "is not a Splynx id");
	if (id == NULL && required)
		pgb_json_fail(ctx, field, "is missing");
	return id;
}

static const char *
currency(PgbSource *src, PgbJsonCtx *ctx)
{
	const char *c = pgb_source_option(src, "currency");

	if (strlen(c) != 3 || !isupper((unsigned char) c[0]) || !isupper((unsigned char) c[1]) ||
		!isupper((unsigned char) c[2]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\": option currency must be an ISO 4217 code such as \"EUR\"", src->name),
				 errdetail("Splynx documents carry no currency; the source's option currency names it."),
				 errhint("Set it with UPDATE billing.sources SET options = options || '{\"currency\": \"EUR\"}' WHERE name = '%s'.",
						 src->name)));
	return c;
}

/* date_updated: "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" (UTC) -> ISO text; epoch into *epoch. */
static char *
updated_at(PgbJsonCtx *ctx, json_t *obj, const char *field, int64 *epoch)
{
	char	   *s = pgb_j_str(ctx, obj, field, false);
	char		iso[40];
	int64_t		e;

	if (s == NULL || s[0] == '\0' || strcmp(s, "0000-00-00") == 0 || strcmp(s, "0000-00-00 00:00:00") == 0)
		return NULL;
	if (strlen(s) == 10)
		snprintf(iso, sizeof(iso), "%sT00:00:00Z", s);
	else if (strlen(s) == 19 && s[10] == ' ')
		snprintf(iso, sizeof(iso), "%.10sT%sZ", s, s + 11);
	else
		pgb_json_fail(ctx, field, "is not a date or a date and time");
	if (!pgb_timestamp_parse(iso, &e))
		pgb_json_fail(ctx, field, "is not a date or a date and time");
	if (epoch)
		*epoch = e;
	return pstrdup(iso);
}

/* A date; Splynx writes "0000-00-00" or "" (the blueprint's examples) for none. */
static char *
splynx_date(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	json_t	   *v = json_object_get(obj, field);

	if (json_is_string(v) && (strcmp(json_string_value(v), "0000-00-00") == 0 || json_string_length(v) == 0))
	{
		if (required)
			pgb_json_fail(ctx, field, "is missing");
		return NULL;
	}
	return pgb_j_date(ctx, obj, field, required);
}

static char *
day_after(PgbJsonCtx *ctx, const char *date, const char *field)
{
	char		iso[40];
	char		out[40];
	int64_t		e;

	snprintf(iso, sizeof(iso), "%sT00:00:00Z", date);
	if (!pgb_timestamp_parse(iso, &e))
		pgb_json_fail(ctx, field, "is not a date");
	pgb_timestamp_format(e + 86400, 'T', out, sizeof(out));
	return pnstrdup(out, 10);
}

static int
days_in_month(int y, int m)
{
	static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : d[m - 1];
}

/* y-m-d plus n months (n may be negative), the day clamped to the month's end, as yyyymmdd. */
static int
add_months(int y, int m, int d, int n)
{
	int			t = y * 12 + (m - 1) + n;
	int			ny = t / 12;
	int			nm = t % 12 + 1;

	return ny * 10000 + nm * 100 + Min(d, days_in_month(ny, nm));
}

/*
 * The billing interval of a service line [start, end) (end exclusive), in months: the whole number
 * of calendar months it spans exactly, counted from either end with end-of-month clamping (as
 * domain rule C5 counts a full period: a month 1, a quarter 3, a year 12); otherwise its length
 * rounded to whole months (days x 12 / 365, half up, at least 1), and the line is a proration of
 * that interval (rule C5.3). Both dates are valid YYYY-MM-DD (pgb_j_date, day_after).
 */
static char *
period_months(PgbJsonCtx *ctx, const char *start, const char *end, const char *field)
{
	int			ys,
				ms,
				ds,
				ye,
				me,
				de;
	int64_t		es,
				ee;
	int64		days;

	if (sscanf(start, "%4d-%2d-%2d", &ys, &ms, &ds) != 3 || sscanf(end, "%4d-%2d-%2d", &ye, &me, &de) != 3 ||
		ms < 1 || ms > 12 || me < 1 || me > 12 ||
		!pgb_timestamp_parse(psprintf("%sT00:00:00Z", start), &es) ||
		!pgb_timestamp_parse(psprintf("%sT00:00:00Z", end), &ee))
		pgb_json_fail(ctx, field, "has a period that is not two dates");
	for (int n = 1; n <= 1200; n++)
		if (add_months(ys, ms, ds, n) == ye * 10000 + me * 100 + de ||
			add_months(ye, me, de, -n) == ys * 10000 + ms * 100 + ds)
			return psprintf("%d", n);
	days = (ee - es) / 86400;
	return psprintf("%d", (int) Max(1, Min(1200, (days * 12 * 2 + 365) / (365 * 2))));
}

static void
seen_updated(PgbPage *page, int64 epoch)
{
	if (epoch > page->max_updated)
		page->max_updated = epoch;
}

static const char *
mapped(PgbJsonCtx *ctx, json_t *obj, const char *field, const char *const *from, const char *const *to, int n)
{
	char	   *v = pgb_j_str(ctx, obj, field, true);

	for (int i = 0; i < n; i++)
		if (strcmp(v, from[i]) == 0)
			return to[i];
	pgb_json_fail(ctx, field, "is not a known status");
}

void
pgb_splynx_map_customer(PgbSource *src, PgbJsonCtx *ctx, json_t *c, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;

	ctx->record = splynx_id(ctx, c, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_CUSTOMERS]);
	SET(row, C_CUS_EXT, (char *) ctx->record);
	SET(row, C_CUS_REFERENCE, pgb_j_str(ctx, c, "login", false));
	SET(row, C_CUS_NAME, pgb_j_str(ctx, c, "name", true));
	SET(row, C_CUS_EMAIL, pgb_j_str(ctx, c, "email", false));
	if (row[C_CUS_EMAIL] && row[C_CUS_EMAIL][0] == '\0')
		SET(row, C_CUS_EMAIL, NULL);
	SET(row, C_CUS_PARENT, splynx_id(ctx, c, "parent_id", false));
	SET(row, C_CUS_CREATED, splynx_date(ctx, c, "date_add", false));
	if (row[C_CUS_CREATED])
		SET(row, C_CUS_CREATED, psprintf("%sT00:00:00Z", row[C_CUS_CREATED]));
	SET(row, C_CUS_UPDATED, updated_at(ctx, c, "date_updated", &upd));
	SET(row, C_CUS_RAW, pgb_j_raw(ctx, c));
	seen_updated(page, upd);
}

/*
 * The tax code of a Splynx item (payment modes, docs/splynx-payment-modes.md): its tax percent
 * without trailing zeros and with a "%" ("20%", "7.5%", "0%"), so that a tax_rate map names it.
 */
static char *
splynx_tax_code(const char *pct)
{
	char	   *c = pstrdup(pct);
	char	   *dot = strchr(c, '.');

	if (dot)
	{
		char	   *end = c + strlen(c) - 1;

		while (end > dot && *end == '0')
			*end-- = '\0';
		if (end == dot)
			*dot = '\0';
	}
	return psprintf("%s%%", c);
}

/*
 * The items of an invoice or credit note as lines of rows; sums their amounts into the
 * document's subtotal, tax and total. A line with a service period is the ISP's recurring
 * service (kind plan), one without is a one-time charge.
 */
static void
map_items(PgbJsonCtx *ctx, json_t *doc, const char *doc_ext, const char *issue, PgbRows *rows, char **subtotal,
		  char **tax, char **total, bool credit)
{
	json_t	   *items = pgb_j_array(ctx, doc, "items", true);
	json_t	   *it;
	size_t		i;

	*subtotal = *tax = *total = "0";
	if (json_array_size(items) > 10000)
		pgb_json_fail(ctx, "items", "has more than 10000 items");
	json_array_foreach(items, i, it)
	{
		char		field[32];
		PgbJsonCtx	ictx = *ctx;
		char	  **row;
		bool		recurring;
		char	   *qty,
				   *price,
				   *pct,
				   *s,
				   *t,
				   *tot;

		snprintf(field, sizeof(field), "items[%zu]", i);
		if (!json_is_object(it))
			pgb_json_fail(ctx, field, "is not an object");
		qty = pgb_j_money(&ictx, it, "quantity", false);
		price = pgb_j_money(&ictx, it, "price", true);
		pct = pgb_j_money(&ictx, it, "tax", false);
		if (qty == NULL)
			qty = "1";
		if (pct == NULL)
			pct = "0";
		if (pct[0] == '-')
			pgb_json_fail(ctx, field, "has a negative tax percent");
		pgb_splynx_item_amounts(qty, price, pct, &s, &t, &tot);
		row = pgb_rows_add(rows);
		SET(row, C_LIN_DOC, (char *) doc_ext);
		SET(row, C_LIN_EXT, splynx_id(&ictx, it, "id", false));
		if (row[C_LIN_EXT] == NULL)
			SET(row, C_LIN_EXT, psprintf("%zu", i + 1));
		SET(row, C_LIN_NO, psprintf("%zu", i + 1));
		SET(row, C_LIN_DESCRIPTION, pgb_j_str(&ictx, it, "description", false));
		SET(row, C_LIN_QUANTITY, qty);
		SET(row, C_LIN_UNIT_PRICE, price);
		SET(row, C_LIN_SUBTOTAL, s);
		SET(row, C_LIN_TAX, t);
		SET(row, C_LIN_TAX_CODE, splynx_tax_code(pct));
		SET(row, C_LIN_TOTAL, tot);
		SET(row, C_LIN_PERIOD_START, splynx_date(&ictx, it, "period_from", false));
		SET(row, C_LIN_PERIOD_END, splynx_date(&ictx, it, "period_to", false));
		recurring = row[C_LIN_PERIOD_START] != NULL && row[C_LIN_PERIOD_END] != NULL;
		if (!recurring)			/* a one-time charge: the day of the document */
			SET(row, C_LIN_PERIOD_START, SET(row, C_LIN_PERIOD_END, (char *) issue));
		else
		{
			if (strcmp(row[C_LIN_PERIOD_END], row[C_LIN_PERIOD_START]) < 0)
				pgb_json_fail(ctx, field, "ends before it starts");
			SET(row, C_LIN_PERIOD_END, day_after(ctx, row[C_LIN_PERIOD_END], field));
			SET(row, C_LIN_INTERVAL, period_months(ctx, row[C_LIN_PERIOD_START], row[C_LIN_PERIOD_END], field));
		}
		SET(row, C_LIN_KIND, credit ? "credit" : recurring ? "plan" : "one_time");
		SET(row, C_LIN_RECURRING, recurring ? "true" : "false");
		SET(row, C_LIN_RAW, pgb_j_raw(ctx, it));
		*subtotal = pgb_splynx_add(*subtotal, s);
		*tax = pgb_splynx_add(*tax, t);
		*total = pgb_splynx_add(*total, tot);
	}
}

/* Splynx invoice statuses; deleted ones are kept as voided and count nowhere. */
static const char *const inv_from[] = {"not_paid", "paid", "pending", "deleted"};
static const char *const inv_to[] = {"open", "paid", "pending", "voided"};

void
pgb_splynx_map_invoice(PgbSource *src, PgbJsonCtx *ctx, json_t *inv, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;
	char	   *sub,
			   *tax,
			   *total;

	ctx->record = splynx_id(ctx, inv, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_INVOICES]);
	SET(row, C_INV_EXT, (char *) ctx->record);
	SET(row, C_INV_NUMBER, pgb_j_str(ctx, inv, "number", false));
	SET(row, C_INV_CUSTOMER, splynx_id(ctx, inv, "customer_id", true));
	SET(row, C_INV_STATUS, (char *) mapped(ctx, inv, "status", inv_from, inv_to, lengthof(inv_from)));
	SET(row, C_INV_ISSUE, splynx_date(ctx, inv, "date_created", true));
	SET(row, C_INV_DUE_DATE, splynx_date(ctx, inv, "date_till", false));
	if (row[C_INV_DUE_DATE] && strcmp(row[C_INV_DUE_DATE], row[C_INV_ISSUE]) < 0)
		SET(row, C_INV_DUE_DATE, NULL);
	SET(row, C_INV_PAID_DATE, strcmp(row[C_INV_STATUS], "paid") == 0 ?
		splynx_date(ctx, inv, "date_payment", false) : NULL);
	SET(row, C_INV_CURRENCY, (char *) currency(src, ctx));
	map_items(ctx, inv, row[C_INV_EXT], row[C_INV_ISSUE], &page->t[PGB_T_INVOICE_LINES], &sub, &tax, &total, false);
	SET(row, C_INV_SUBTOTAL, sub);
	SET(row, C_INV_TAX, tax);
	SET(row, C_INV_TOTAL, total);
	SET(row, C_INV_PAID, strcmp(row[C_INV_STATUS], "paid") == 0 ? total : "0");
	SET(row, C_INV_DUE, strcmp(row[C_INV_STATUS], "open") == 0 || strcmp(row[C_INV_STATUS], "pending") == 0 ?
		total : "0");
	SET(row, C_INV_UPDATED, updated_at(ctx, inv, "date_updated", &upd));
	SET(row, C_INV_RAW, pgb_j_raw(ctx, inv));
	seen_updated(page, upd);
}

/* The blueprint's credit note statuses are not_refunded, refunded and deleted; older sites say not_paid and paid. */
static const char *const cn_from[] = {"not_refunded", "not_paid", "paid", "refunded", "deleted"};
static const char *const cn_to[] = {"open", "open", "applied", "applied", "voided"};

void
pgb_splynx_map_credit_note(PgbSource *src, PgbJsonCtx *ctx, json_t *cn, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;
	char	   *sub,
			   *tax,
			   *total;

	ctx->record = splynx_id(ctx, cn, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_CREDIT_NOTES]);
	SET(row, C_CN_EXT, (char *) ctx->record);
	SET(row, C_CN_NUMBER, pgb_j_str(ctx, cn, "number", false));
	SET(row, C_CN_CUSTOMER, splynx_id(ctx, cn, "customer_id", true));
	SET(row, C_CN_STATUS, (char *) mapped(ctx, cn, "status", cn_from, cn_to, lengthof(cn_from)));
	SET(row, C_CN_ISSUE, splynx_date(ctx, cn, "date_created", true));
	SET(row, C_CN_CURRENCY, (char *) currency(src, ctx));
	map_items(ctx, cn, row[C_CN_EXT], row[C_CN_ISSUE], &page->t[PGB_T_CREDIT_NOTE_LINES], &sub, &tax, &total, true);
	SET(row, C_CN_SUBTOTAL, sub);
	SET(row, C_CN_TAX, tax);
	SET(row, C_CN_TOTAL, total);
	SET(row, C_CN_MEMO, pgb_j_str(ctx, cn, "note", false));
	SET(row, C_CN_UPDATED, updated_at(ctx, cn, "date_updated", &upd));
	SET(row, C_CN_RAW, pgb_j_raw(ctx, cn));
	seen_updated(page, upd);
}

void
pgb_splynx_map_payment(PgbSource *src, PgbJsonCtx *ctx, json_t *p, PgbPage *page)
{
	char	  **row;

	ctx->record = splynx_id(ctx, p, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_PAYMENTS]);
	SET(row, C_PAY_EXT, (char *) ctx->record);
	SET(row, C_PAY_CUSTOMER, splynx_id(ctx, p, "customer_id", true));
	SET(row, C_PAY_INVOICE, splynx_id(ctx, p, "invoice_id", false));
	SET(row, C_PAY_AMOUNT, pgb_j_money(ctx, p, "amount", true));
	SET(row, C_PAY_CURRENCY, (char *) currency(src, ctx));
	SET(row, C_PAY_DATE, splynx_date(ctx, p, "date", true));
	SET(row, C_PAY_RECEIVED, psprintf("%sT00:00:00Z", row[C_PAY_DATE]));
	SET(row, C_PAY_METHOD, pgb_j_id(ctx, p, "payment_type", false));
	SET(row, C_PAY_REFERENCE, pgb_j_str(ctx, p, "receipt_number", false));
	SET(row, C_PAY_PREPAYMENT, row[C_PAY_INVOICE] ? "false" : "true");
	SET(row, C_PAY_RAW, pgb_j_raw(ctx, p));
}

static const char *const trx_types[] = {"debit", "credit"};

/*
 * A ledger transaction. total is taken as sent; when absent it is computed as an item's
 * (round(quantity x price, 2) plus its tax, rounded to cents). The category id is kept for the
 * category -> account maps.
 */
void
pgb_splynx_map_transaction(PgbSource *src, PgbJsonCtx *ctx, json_t *t, PgbPage *page)
{
	char	  **row;
	char	   *qty,
			   *price,
			   *pct,
			   *total;

	ctx->record = splynx_id(ctx, t, "id", true);
	row = pgb_rows_add(&page->t[PGB_T_TRANSACTIONS]);
	SET(row, C_TRX_EXT, (char *) ctx->record);
	SET(row, C_TRX_CUSTOMER, splynx_id(ctx, t, "customer_id", true));
	SET(row, C_TRX_TYPE, (char *) mapped(ctx, t, "type", trx_types, trx_types, lengthof(trx_types)));
	SET(row, C_TRX_CATEGORY, splynx_id(ctx, t, "category", false));
	SET(row, C_TRX_DESCRIPTION, pgb_j_str(ctx, t, "description", false));
	qty = pgb_j_money(ctx, t, "quantity", false);
	price = pgb_j_money(ctx, t, "price", false);
	pct = pgb_j_money(ctx, t, "tax_percent", false);
	total = pgb_j_money(ctx, t, "total", false);
	if (total == NULL)
	{
		char	   *sub,
				   *tax;

		if (price == NULL)
			pgb_json_fail(ctx, "total", "is missing, and so is price");
		if (pct && pct[0] == '-')
			pgb_json_fail(ctx, "tax_percent", "is negative");
		pgb_splynx_item_amounts(qty ? qty : "1", price, pct ? pct : "0", &sub, &tax, &total);
	}
	SET(row, C_TRX_QUANTITY, qty);
	SET(row, C_TRX_PRICE, price);
	SET(row, C_TRX_TAX_PERCENT, pct);
	SET(row, C_TRX_TOTAL, total);
	SET(row, C_TRX_CURRENCY, (char *) currency(src, ctx));
	SET(row, C_TRX_DATE, splynx_date(ctx, t, "date", true));
	SET(row, C_TRX_PERIOD_START, splynx_date(ctx, t, "period_from", false));
	SET(row, C_TRX_PERIOD_END, splynx_date(ctx, t, "period_to", false));
	if (row[C_TRX_PERIOD_START] == NULL || row[C_TRX_PERIOD_END] == NULL)
		SET(row, C_TRX_PERIOD_START, SET(row, C_TRX_PERIOD_END, NULL));
	else
	{
		if (strcmp(row[C_TRX_PERIOD_END], row[C_TRX_PERIOD_START]) < 0)
			pgb_json_fail(ctx, "period_to", "is before period_from");
		SET(row, C_TRX_PERIOD_END, day_after(ctx, row[C_TRX_PERIOD_END], "period_to"));
	}
	SET(row, C_TRX_INVOICE, splynx_id(ctx, t, "invoice_id", false));
	SET(row, C_TRX_PAYMENT, splynx_id(ctx, t, "payment_id", false));
	SET(row, C_TRX_CREDIT_NOTE, splynx_id(ctx, t, "credit_note_id", false));
	SET(row, C_TRX_RAW, pgb_j_raw(ctx, t));
}
