/*
 * xero.c: the Xero accounting API as a source (kind xero; design/apis.md section 5). In this
 * version Xero is a push target only (src/push/): the connector declares Xero's options and
 * authentication and no entities, so a sync of a xero source is refused with a hint to push.
 * The pull (contacts, invoices, credit notes, payments) is issue 11 item 2, still to come.
 */
#include "postgres.h"

#include "connectors/connector.h"

static const PgbOption options[] = {
	{"token_url", PGB_OPT_URL, "https://identity.xero.com/connect/token"},	/* OAuth2 token endpoint */
	{"tenant_id", PGB_OPT_URL, ""}, /* the organisation, sent as xero-tenant-id (a string) */
};

const PgbConnector pgb_xero_connector = {
	.kind = "xero",
	.vendor = "Xero",
	.entities = NULL,
	.nentities = 0,
	.paging = {PGB_PAGING_PAGE_NUMBER, 1, "page", "pageSize", 1000},
	.auth = {PGB_AUTH_OAUTH2_CLIENT, .token_url_option = "token_url"},
	.options = options,
	.noptions = lengthof(options),
	.default_max_rps = 1,
	.prefetch = false,
};
