/*
 * xero_pull.c: reading a Xero organisation (Accounting API 2.0, shared/specs/xero, apis.md
 * section 5) into the model, so that a Xero-only business gets revenue, MRR and the journal like
 * any other source. The mappers are in xero_pull_map.c.
 * Auth: OAuth2 client credentials of a custom connection (client_id:client_secret as HTTP Basic, a
 * form body), the token endpoint option token_url; option tenant_id is sent as xero-tenant-id.
 * Lists page from 1 with page/pageSize (at most 100 here), end at a short page or at
 * pagination.pageCount; TaxRates and Accounts are not paged. Incremental lists send the cursor as
 * If-Modified-Since (Xero filters on UpdatedDateUTC).
 * Entities, in order (what a record names is stored before it): accounts, tax_rates, contacts,
 * invoices (with lines), credit_notes (with lines and allocations), payments (payments of
 * invoices, cash refunds of credit notes).
 */
#include "postgres.h"

#include "connectors/connector.h"
#include "connectors/xero_pull_int.h"

/* Contacts before the documents that name them; documents before the payments that pay them. */
static const PgbEntity entities[] = {
	{.name = "accounts", .path = "/Accounts", .list_key = "Accounts", .table = PGB_T_ACCOUNTS,
	.list_params = "", .map = pgb_xero_map_account, .record_path = "/Accounts/%s", .record_wrapper = "Accounts",
	.unpaged = true},
	{.name = "tax_rates", .path = "/TaxRates", .list_key = "TaxRates", .table = PGB_T_TAX_RATES,
	.list_params = "", .map = pgb_xero_map_tax_rate, .unpaged = true},
	{.name = "contacts", .path = "/Contacts", .list_key = "Contacts", .table = PGB_T_CUSTOMERS,
		.incremental = true, .list_params = "&includeArchived=true", .map = pgb_xero_map_contact,
	.record_path = "/Contacts/%s", .record_wrapper = "Contacts"},
	{.name = "invoices", .path = "/Invoices", .list_key = "Invoices", .table = PGB_T_INVOICES,
		.incremental = true, .list_params = "", .map = pgb_xero_map_invoice,
	.record_path = "/Invoices/%s", .record_wrapper = "Invoices"},
	{.name = "credit_notes", .path = "/CreditNotes", .list_key = "CreditNotes", .table = PGB_T_CREDIT_NOTES,
		.incremental = true, .list_params = "", .map = pgb_xero_map_credit_note,
	.record_path = "/CreditNotes/%s", .record_wrapper = "CreditNotes"},
	{.name = "payments", .path = "/Payments", .list_key = "Payments", .table = PGB_T_PAYMENTS,
		.incremental = true, .list_params = "", .map = pgb_xero_map_payment,
	.record_path = "/Payments/%s", .record_wrapper = "Payments"},
};

static const PgbOption options[] = {
	{"token_url", PGB_OPT_URL, "https://identity.xero.com/connect/token"},	/* OAuth2 token endpoint */
	{"tenant_id", PGB_OPT_TEXT, ""},	/* the organisation: header xero-tenant-id */
};

const PgbConnector pgb_xero_connector = {
	.kind = "xero",
	.vendor = "the Xero Accounting API",
	.entities = entities,
	.nentities = lengthof(entities),
	.paging = {PGB_PAGING_PAGE_NUMBER, 1, "page", "pageSize", 100},
	.auth = {PGB_AUTH_OAUTH2_CLIENT, .audience = "", .token_url_option = "token_url", .form_grant = true,
	.header_name = "xero-tenant-id", .header_option = "tenant_id"},
	.options = options,
	.noptions = lengthof(options),
	/* Xero allows 60 calls a minute per organisation: one a second starts under it */
	.default_max_rps = 1,
	/* Xero documents 5 requests in flight at once per organisation */
	.default_max_concurrent = 5,
	.prefetch = false,
	.since_header = "If-Modified-Since",
	.page_count_key = "pagination",
};
