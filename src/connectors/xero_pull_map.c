/*
 * xero_pull_map.c: Xero records into rows of common/records.h, every field type-checked.
 * Xero sends dates and timestamps as MS-JSON ("/Date(1539993600000+0000)/", common/msjson_date.h)
 * and amounts as JSON numbers, read exactly (pgb_j_money). Decisions (docs/connector-xero-pull.md):
 *  - a Xero line has no service period: it is a one-time line (kind one_time, period start = end =
 *    the document's Date), so revenue recognises it in the month of the document and MRR never
 *    counts it;
 *  - LineAmount is after the line's discount: it is the line's subtotal, discount 0; with
 *    LineAmountTypes Inclusive the tax is inside it (subtotal = LineAmount - TaxAmount);
 *  - ACCREC/ACCRECCREDIT are receivable, ACCPAY/ACCPAYCREDIT payable (never revenue).
 * Uses jansson: must not include utils/builtins.h (see json/pgb_json.h).
 */
#include "postgres.h"

#include "common/decimal_time.h"
#include "common/msjson_date.h"
#include "connectors/xero_pull_int.h"

#define SET(row, col, val) ((row)[(col)] = (val))

typedef struct Code
{
	const char *xero;
	const char *ours;
} Code;

static const Code invoice_statuses[] = {
	{"DRAFT", "draft"}, {"SUBMITTED", "pending"}, {"AUTHORISED", "open"}, {"PAID", "paid"},
	{"VOIDED", "voided"}, {"DELETED", "voided"}, {NULL, NULL}
};
static const Code credit_note_statuses[] = {
	{"DRAFT", "draft"}, {"SUBMITTED", "draft"}, {"AUTHORISED", "open"}, {"PAID", "applied"},
	{"VOIDED", "voided"}, {"DELETED", "voided"}, {NULL, NULL}
};
static const Code invoice_types[] = {{"ACCREC", "receivable"}, {"ACCPAY", "payable"}, {NULL, NULL}};
static const Code credit_note_types[] = {{"ACCRECCREDIT", "receivable"}, {"ACCPAYCREDIT", "payable"}, {NULL, NULL}};
static const Code contact_statuses[] = {
	{"ACTIVE", "active"}, {"ARCHIVED", "archived"}, {"GDPRREQUEST", "gdpr_request"}, {NULL, NULL}
};

static void
seen_updated(PgbPage *page, int64 epoch)
{
	if (epoch > page->max_updated)
		page->max_updated = epoch;
}

/* A Xero id (a GUID; a TaxType code): 1 to 64 of [A-Za-z0-9-], as it goes into URLs and joins. */
static char *
xero_id(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	char	   *id = pgb_j_str(ctx, obj, field, required);

	if (id && (id[0] == '\0' || strlen(id) > 64 || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") != strlen(id)))
		pgb_json_fail(ctx, field, "is not a Xero id");
	return id;
}

/* The id inside a nested reference ({"Contact": {"ContactID": ...}}). */
static char *
ref_id(PgbJsonCtx *ctx, json_t *obj, const char *object, const char *field, bool required)
{
	json_t	   *ref = pgb_j_object(ctx, obj, object, required);

	return ref ? xero_id(ctx, ref, field, true) : NULL;
}

/* An MS-JSON value of field, parsed; false when absent and not required. */
static bool
ms_value(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required, int64 *ms, int *offset)
{
	char	   *s = pgb_j_str(ctx, obj, field, required);

	if (s == NULL)
		return false;
	if (!pgb_msjson_parse(s, ms, offset))
		pgb_json_fail(ctx, field, "is not an MS-JSON date (/Date(milliseconds+HHMM)/)");
	return true;
}

/* A timestamp as "YYYY-MM-DDTHH:MM:SSZ"; its epoch into *epoch when given. */
static char *
ms_timestamp(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required, int64 *epoch)
{
	int64		ms;
	int			offset;
	char		buf[40];
	char		date[16];

	if (!ms_value(ctx, obj, field, required, &ms, &offset))
		return NULL;
	if (!pgb_msjson_local_date(ms, 0, date, sizeof(date)))
		pgb_json_fail(ctx, field, "is outside the years 1 to 9999");
	pgb_timestamp_format(pgb_msjson_epoch(ms), 'T', buf, sizeof(buf));
	if (epoch)
		*epoch = pgb_msjson_epoch(ms);
	return pstrdup(buf);
}

/* A date as "YYYY-MM-DD": the calendar day of the value in its own zone. */
static char *
ms_date(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	int64		ms;
	int			offset;
	char		buf[16];

	if (!ms_value(ctx, obj, field, required, &ms, &offset))
		return NULL;
	if (!pgb_msjson_local_date(ms, offset, buf, sizeof(buf)))
		pgb_json_fail(ctx, field, "is outside the years 1 to 9999");
	return pstrdup(buf);
}

/* A Xero code word mapped to ours; an unknown one is an error naming what it should be. */
static char *
coded(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required, const Code *codes, const char *what)
{
	char	   *s = pgb_j_str(ctx, obj, field, required);

	if (s == NULL)
		return NULL;
	for (const Code *c = codes; c->xero; c++)
		if (strcmp(s, c->xero) == 0)
			return (char *) c->ours;
	pgb_json_fail(ctx, field, psprintf("is not a known Xero %s", what));
	return NULL;
}

static char *
currency(PgbJsonCtx *ctx, json_t *obj, const char *field)
{
	char	   *c = pgb_j_str(ctx, obj, field, false);

	if (c && (strlen(c) != 3 || !isupper((unsigned char) c[0]) || !isupper((unsigned char) c[1]) ||
			  !isupper((unsigned char) c[2])))
		pgb_json_fail(ctx, field, "is not an ISO 4217 currency code");
	return c;
}

/* Short free text (a name, a reference): at most 4000 characters. */
static char *
short_text(PgbJsonCtx *ctx, json_t *obj, const char *field, bool required)
{
	char	   *s = pgb_j_str(ctx, obj, field, required);

	if (s && strlen(s) > 4000)
		pgb_json_fail(ctx, field, "is longer than 4000 characters");
	return s;
}

/*
 * A decimal text as units of 10^-9 in *out; false beyond 20 integer or 9 fraction digits (the
 * amounts here come from pgb_j_money: at most 15 significant digits, so never in practice).
 */
static bool
dec_scaled(const char *s, __int128 *out)
{
	bool		neg = *s == '-';
	__int128	v = 0;
	int			ints = 0,
				fracs = 0;
	const char *p = s + (neg ? 1 : 0);

	for (; *p >= '0' && *p <= '9'; p++)
	{
		if (++ints > 20)
			return false;
		v = v * 10 + (*p - '0');
	}
	if (*p == '.')
	{
		for (p++; *p >= '0' && *p <= '9'; p++)
		{
			if (++fracs > 9)
				return false;
			v = v * 10 + (*p - '0');
		}
	}
	if (*p != '\0' || ints == 0)
		return false;
	for (; fracs < 9; fracs++)
		v *= 10;
	*out = neg ? -v : v;
	return true;
}

/* a + b (or a - b) exactly, as decimal text without trailing fraction zeros. */
static char *
dec_add(PgbJsonCtx *ctx, const char *a, const char *b, bool subtract, const char *field)
{
	__int128	x,
				y,
				r;
	unsigned __int128 m;
	char		digits[64];
	int			n = 0;
	char	   *out;
	int			o = 0;

	if (!dec_scaled(a, &x) || !dec_scaled(b, &y))
		pgb_json_fail(ctx, field, "cannot be added exactly");
	r = subtract ? x - y : x + y;
	m = r < 0 ? (unsigned __int128) (-r) : (unsigned __int128) r;
	do
	{
		digits[n++] = (char) ('0' + (int) (m % 10));
		m /= 10;
	} while (m > 0 || n < 10);
	out = palloc(n + 3);
	if (r < 0)
		out[o++] = '-';
	for (int i = n - 1; i >= 9; i--)
		out[o++] = digits[i];
	out[o++] = '.';
	for (int i = 8; i >= 0; i--)
		out[o++] = digits[i];
	while (out[o - 1] == '0')
		o--;
	if (out[o - 1] == '.')
		o--;
	out[o] = '\0';
	return out;
}

void
pgb_xero_map_account(PgbSource *src, PgbJsonCtx *ctx, json_t *a, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;

	ctx->record = xero_id(ctx, a, "AccountID", true);
	row = pgb_rows_add(&page->t[PGB_T_ACCOUNTS]);
	SET(row, C_ACC_EXT, (char *) ctx->record);
	SET(row, C_ACC_CODE, short_text(ctx, a, "Code", false));
	SET(row, C_ACC_NAME, short_text(ctx, a, "Name", true));
	SET(row, C_ACC_TYPE, short_text(ctx, a, "Type", false));
	SET(row, C_ACC_STATUS, short_text(ctx, a, "Status", false));
	SET(row, C_ACC_UPDATED, ms_timestamp(ctx, a, "UpdatedDateUTC", false, &upd));
	SET(row, C_ACC_RAW, pgb_j_raw(ctx, a));
}

void
pgb_xero_map_tax_rate(PgbSource *src, PgbJsonCtx *ctx, json_t *t, PgbPage *page)
{
	char	  **row;

	ctx->record = xero_id(ctx, t, "TaxType", true);
	row = pgb_rows_add(&page->t[PGB_T_TAX_RATES]);
	SET(row, C_TAX_EXT, (char *) ctx->record);
	SET(row, C_TAX_NAME, short_text(ctx, t, "Name", true));
	SET(row, C_TAX_RATE, pgb_j_money(ctx, t, "EffectiveRate", false));
	SET(row, C_TAX_REPORT_TYPE, short_text(ctx, t, "ReportTaxType", false));
	SET(row, C_TAX_STATUS, short_text(ctx, t, "Status", false));
	SET(row, C_TAX_RAW, pgb_j_raw(ctx, t));
}

void
pgb_xero_map_contact(PgbSource *src, PgbJsonCtx *ctx, json_t *c, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;

	ctx->record = xero_id(ctx, c, "ContactID", true);
	row = pgb_rows_add(&page->t[PGB_T_CUSTOMERS]);
	SET(row, C_CUS_EXT, (char *) ctx->record);
	SET(row, C_CUS_REFERENCE, short_text(ctx, c, "ContactNumber", false));
	SET(row, C_CUS_NAME, short_text(ctx, c, "Name", true));
	SET(row, C_CUS_ORG, row[C_CUS_NAME]);
	SET(row, C_CUS_EMAIL, short_text(ctx, c, "EmailAddress", false));
	SET(row, C_CUS_STATUS, coded(ctx, c, "ContactStatus", false, contact_statuses, "contact status"));
	SET(row, C_CUS_UPDATED, ms_timestamp(ctx, c, "UpdatedDateUTC", false, &upd));
	SET(row, C_CUS_RAW, pgb_j_raw(ctx, c));
	seen_updated(page, upd);
}

/*
 * The LineItems of a document into rows of lines: one-time lines on the document's date, the tax
 * code from TaxType. Errors name the document and the line ("<id> line 2").
 */
static void
map_lines(PgbJsonCtx *ctx, json_t *doc, const char *doc_id, const char *day, PgbRows *rows)
{
	json_t	   *items = pgb_j_array(ctx, doc, "LineItems", false);
	const char *id = ctx->record;
	char	   *amount_types = short_text(ctx, doc, "LineAmountTypes", false);
	bool		inclusive = amount_types && strcmp(amount_types, "Inclusive") == 0;
	size_t		i;
	json_t	   *li;

	if (amount_types && !inclusive && strcmp(amount_types, "Exclusive") != 0 && strcmp(amount_types, "NoTax") != 0)
		pgb_json_fail(ctx, "LineAmountTypes", "is not Exclusive, Inclusive or NoTax");
	if (items == NULL)
		return;
	if (json_array_size(items) > 10000)
		pgb_json_fail(ctx, "LineItems", "has more than 10000 lines");
	json_array_foreach(items, i, li)
	{
		char	  **row;
		char	   *amount,
				   *tax;

		ctx->record = psprintf("%s line %zu", id, i + 1);
		if (!json_is_object(li))
			pgb_json_fail(ctx, "LineItems", "holds a line that is not an object");
		row = pgb_rows_add(rows);
		SET(row, C_LIN_DOC, (char *) doc_id);
		SET(row, C_LIN_EXT, json_object_get(li, "LineItemID") ? xero_id(ctx, li, "LineItemID", true) :
			psprintf("line-%zu", i + 1));
		SET(row, C_LIN_NO, psprintf("%zu", i + 1));
		SET(row, C_LIN_KIND, "one_time");
		SET(row, C_LIN_PRODUCT, short_text(ctx, li, "ItemCode", false));
		SET(row, C_LIN_DESCRIPTION, short_text(ctx, li, "Description", false));
		SET(row, C_LIN_QUANTITY, pgb_j_money(ctx, li, "Quantity", false));
		SET(row, C_LIN_UNIT_PRICE, pgb_j_money(ctx, li, "UnitAmount", false));
		amount = pgb_j_money(ctx, li, "LineAmount", true);
		tax = pgb_j_money(ctx, li, "TaxAmount", false);
		if (tax == NULL)
			tax = "0";
		SET(row, C_LIN_SUBTOTAL, inclusive ? dec_add(ctx, amount, tax, true, "LineAmount") : amount);
		SET(row, C_LIN_DISCOUNT, "0");
		SET(row, C_LIN_TAX, tax);
		SET(row, C_LIN_TOTAL, inclusive ? amount : dec_add(ctx, amount, tax, false, "LineAmount"));
		SET(row, C_LIN_PERIOD_START, (char *) day);
		SET(row, C_LIN_PERIOD_END, (char *) day);
		SET(row, C_LIN_RECURRING, "false");
		SET(row, C_LIN_RAW, pgb_j_raw(ctx, li));
		SET(row, C_LIN_TAX_CODE, xero_id(ctx, li, "TaxType", false));
	}
	ctx->record = id;
}

void
pgb_xero_map_invoice(PgbSource *src, PgbJsonCtx *ctx, json_t *inv, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;

	ctx->record = xero_id(ctx, inv, "InvoiceID", true);
	row = pgb_rows_add(&page->t[PGB_T_INVOICES]);
	SET(row, C_INV_EXT, (char *) ctx->record);
	SET(row, C_INV_DIRECTION, coded(ctx, inv, "Type", true, invoice_types, "invoice type (ACCREC or ACCPAY)"));
	SET(row, C_INV_NUMBER, short_text(ctx, inv, "InvoiceNumber", false));
	SET(row, C_INV_CUSTOMER, ref_id(ctx, inv, "Contact", "ContactID", true));
	SET(row, C_INV_STATUS, coded(ctx, inv, "Status", true, invoice_statuses, "invoice status"));
	SET(row, C_INV_ISSUE, ms_date(ctx, inv, "Date", true));
	SET(row, C_INV_DUE_DATE, ms_date(ctx, inv, "DueDate", false));
	SET(row, C_INV_PAID_DATE, ms_date(ctx, inv, "FullyPaidOnDate", false));
	SET(row, C_INV_CURRENCY, currency(ctx, inv, "CurrencyCode"));
	if (row[C_INV_CURRENCY] == NULL)
		pgb_json_fail(ctx, "CurrencyCode", "is missing");
	SET(row, C_INV_SUBTOTAL, pgb_j_money(ctx, inv, "SubTotal", true));
	SET(row, C_INV_TAX, pgb_j_money(ctx, inv, "TotalTax", false));
	SET(row, C_INV_TOTAL, pgb_j_money(ctx, inv, "Total", true));
	SET(row, C_INV_CREDIT, pgb_j_money(ctx, inv, "AmountCredited", false));
	SET(row, C_INV_PAID, pgb_j_money(ctx, inv, "AmountPaid", false));
	SET(row, C_INV_DUE, pgb_j_money(ctx, inv, "AmountDue", false));
	SET(row, C_INV_UPDATED, ms_timestamp(ctx, inv, "UpdatedDateUTC", false, &upd));
	SET(row, C_INV_RAW, pgb_j_raw(ctx, inv));
	map_lines(ctx, inv, row[C_INV_EXT], row[C_INV_ISSUE], &page->t[PGB_T_INVOICE_LINES]);
	seen_updated(page, upd);
}

/* Allocations of a credit note to invoices; ids made from the note's when Xero sends none. */
static void
map_allocations(PgbJsonCtx *ctx, json_t *cn, const char *note_id, PgbRows *rows)
{
	json_t	   *allocs = pgb_j_array(ctx, cn, "Allocations", false);
	const char *id = ctx->record;
	size_t		i;
	json_t	   *a;

	if (allocs == NULL)
		return;
	json_array_foreach(allocs, i, a)
	{
		char	  **row;
		char	   *deleted;

		ctx->record = psprintf("%s allocation %zu", id, i + 1);
		if (!json_is_object(a))
			pgb_json_fail(ctx, "Allocations", "holds an allocation that is not an object");
		deleted = pgb_j_bool(ctx, a, "IsDeleted", false);
		if (deleted && strcmp(deleted, "true") == 0)
			continue;
		row = pgb_rows_add(rows);
		SET(row, C_ALC_EXT, json_object_get(a, "AllocationID") ? xero_id(ctx, a, "AllocationID", true) :
			psprintf("%s:%zu", note_id, i + 1));
		SET(row, C_ALC_NOTE, (char *) note_id);
		SET(row, C_ALC_INVOICE, ref_id(ctx, a, "Invoice", "InvoiceID", true));
		SET(row, C_ALC_AMOUNT, pgb_j_money(ctx, a, "Amount", true));
		SET(row, C_ALC_DATE, ms_date(ctx, a, "Date", true));
		SET(row, C_ALC_RAW, pgb_j_raw(ctx, a));
	}
	ctx->record = id;
}

void
pgb_xero_map_credit_note(PgbSource *src, PgbJsonCtx *ctx, json_t *cn, PgbPage *page)
{
	char	  **row;
	int64		upd = -1;

	ctx->record = xero_id(ctx, cn, "CreditNoteID", true);
	row = pgb_rows_add(&page->t[PGB_T_CREDIT_NOTES]);
	SET(row, C_CN_EXT, (char *) ctx->record);
	SET(row, C_CN_DIRECTION, coded(ctx, cn, "Type", true, credit_note_types,
								   "credit note type (ACCRECCREDIT or ACCPAYCREDIT)"));
	SET(row, C_CN_NUMBER, short_text(ctx, cn, "CreditNoteNumber", false));
	SET(row, C_CN_CUSTOMER, ref_id(ctx, cn, "Contact", "ContactID", true));
	SET(row, C_CN_STATUS, coded(ctx, cn, "Status", true, credit_note_statuses, "credit note status"));
	SET(row, C_CN_ISSUE, ms_date(ctx, cn, "Date", true));
	SET(row, C_CN_CURRENCY, currency(ctx, cn, "CurrencyCode"));
	if (row[C_CN_CURRENCY] == NULL)
		pgb_json_fail(ctx, "CurrencyCode", "is missing");
	SET(row, C_CN_SUBTOTAL, pgb_j_money(ctx, cn, "SubTotal", true));
	SET(row, C_CN_TAX, pgb_j_money(ctx, cn, "TotalTax", false));
	SET(row, C_CN_TOTAL, pgb_j_money(ctx, cn, "Total", true));
	SET(row, C_CN_APPLIED, pgb_j_money(ctx, cn, "AppliedAmount", false));
	SET(row, C_CN_REMAINING, pgb_j_money(ctx, cn, "RemainingCredit", false));
	SET(row, C_CN_MEMO, short_text(ctx, cn, "Reference", false));
	SET(row, C_CN_UPDATED, ms_timestamp(ctx, cn, "UpdatedDateUTC", false, &upd));
	SET(row, C_CN_RAW, pgb_j_raw(ctx, cn));
	map_lines(ctx, cn, row[C_CN_EXT], row[C_CN_ISSUE], &page->t[PGB_T_CREDIT_NOTE_LINES]);
	map_allocations(ctx, cn, row[C_CN_EXT], &page->t[PGB_T_ALLOCATIONS]);
	seen_updated(page, upd);
}

/*
 * A payment of an invoice goes to billing.payments, linked to the invoice; a payment of a credit
 * note (money paid back) to billing.refunds, linked to the credit note. Payments of prepayments
 * and overpayments, and deleted payments, are not stored (the store counts them as skipped only
 * when they reach it; these never do).
 */
void
pgb_xero_map_payment(PgbSource *src, PgbJsonCtx *ctx, json_t *p, PgbPage *page)
{
	char	   *invoice,
			   *note,
			   *status,
			   *amount,
			   *day,
			   *reference,
			   *updated,
			   *raw;
	int64		upd = -1;
	char	  **row;

	ctx->record = xero_id(ctx, p, "PaymentID", true);
	status = short_text(ctx, p, "Status", false);
	amount = pgb_j_money(ctx, p, "Amount", true);
	day = ms_date(ctx, p, "Date", true);
	reference = short_text(ctx, p, "Reference", false);
	updated = ms_timestamp(ctx, p, "UpdatedDateUTC", false, &upd);
	invoice = ref_id(ctx, p, "Invoice", "InvoiceID", false);
	note = invoice ? NULL : ref_id(ctx, p, "CreditNote", "CreditNoteID", false);
	raw = pgb_j_raw(ctx, p);
	seen_updated(page, upd);
	if (status && strcmp(status, "DELETED") == 0)
		return;
	if (invoice)
	{
		row = pgb_rows_add(&page->t[PGB_T_PAYMENTS]);
		SET(row, C_PAY_EXT, (char *) ctx->record);
		SET(row, C_PAY_INVOICE, invoice);
		SET(row, C_PAY_AMOUNT, amount);
		SET(row, C_PAY_DATE, day);
		SET(row, C_PAY_METHOD, short_text(ctx, p, "PaymentType", false));
		SET(row, C_PAY_REFERENCE, reference);
		SET(row, C_PAY_UPDATED, updated);
		SET(row, C_PAY_RAW, raw);
	}
	else if (note)
	{
		row = pgb_rows_add(&page->t[PGB_T_REFUNDS]);
		SET(row, C_REF_EXT, (char *) ctx->record);
		SET(row, C_REF_CREDIT_NOTE, note);
		SET(row, C_REF_AMOUNT, amount);
		SET(row, C_REF_DATE, day);
		SET(row, C_REF_MEMO, reference);
		SET(row, C_REF_UPDATED, updated);
		SET(row, C_REF_RAW, raw);
	}
}
