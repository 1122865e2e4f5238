/*
 * registry.c: the connectors of this build, by billing.sources.kind. A new vendor adds its
 * PgbConnector here; nothing else in the driver, the store or the SQL dispatch changes.
 */
#include "postgres.h"

#include "connectors/connector.h"

extern const PgbConnector pgb_advanced_billing_connector;
extern const PgbConnector pgb_pax8_connector;
extern const PgbConnector pgb_connectwise_connector;
extern const PgbConnector pgb_xero_connector;
extern const PgbConnector pgb_splynx_connector;
/* test-only kinds (test_link.c): the sources CHECK refuses them outside the tests */
extern const PgbConnector pgb_test_link_connector;
extern const PgbConnector pgb_test_link_body_connector;

static const PgbConnector *const connectors[] = {
	&pgb_advanced_billing_connector,
	&pgb_pax8_connector,
	&pgb_connectwise_connector,
	&pgb_xero_connector,
	&pgb_splynx_connector,
	&pgb_test_link_connector,
	&pgb_test_link_body_connector,
};

const PgbConnector *
pgb_connector_for_kind(const char *kind)
{
	for (int i = 0; i < lengthof(connectors); i++)
		if (strcmp(connectors[i]->kind, kind) == 0)
			return connectors[i];
	return NULL;
}

const PgbEntity *
pgb_connector_entity(const PgbConnector *conn, const char *name)
{
	for (int i = 0; i < conn->nentities; i++)
		if (strcmp(conn->entities[i].name, name) == 0)
			return &conn->entities[i];
	return NULL;
}

/* True when the comma-separated list names entity. */
static bool
listed(const char *list, const char *entity)
{
	size_t		len = strlen(entity);

	for (const char *p = list; (p = strstr(p, entity)) != NULL; p += len)
		if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

/* Option entities chooses; without it, every entity but the optional ones not switched on. */
int
pgb_connector_entities(const PgbSource *src, const PgbEntity **out)
{
	const PgbConnector *conn = src->conn;
	bool		chosen = src->only != NULL && src->only[0] != '\0';
	int			n = 0;

	for (int i = 0; i < conn->nentities; i++)
	{
		const PgbEntity *e = &conn->entities[i];

		if (chosen ? listed(src->only, e->name) :
			(e->optional_option == NULL || pgb_source_option_bool(src, e->optional_option)))
			out[n++] = e;
	}
	return n;
}
