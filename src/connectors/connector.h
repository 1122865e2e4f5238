/*
 * connector.h: what the sync driver knows about a source and asks of its connector.
 */
#ifndef PGB_CONNECTOR_H
#define PGB_CONNECTOR_H

#include "http/http_client.h"
#include "sync/records.h"

typedef struct PgbSource
{
	int64		id;
	char	   *name;
	char	   *kind;
	char	   *base_url;		/* without a trailing slash */
	/* options (billing.sources.options) */
	int			per_page;		/* 1..200 */
	int			overlap_s;		/* re-read window of an incremental run */
	bool		components;		/* fetch each subscription's components into its raw */
	bool		statements;		/* legacy statements */
	int			reconcile_every;	/* every Nth run is a full reconcile; 0 = only on request */
	const char *only;			/* comma-separated entities to sync, or "" for all */
	PgbHttpTarget http;
} PgbSource;

/* Advanced Billing (Maxio / Chargify). */
#define PGB_AB_MAX_ENTITIES 8
extern int	pgb_ab_entities(const PgbSource *src, const char **names);
extern bool pgb_ab_incremental(const char *entity);

/*
 * Fetches and decodes one page of entity. since: lower bound on updated_at ("YYYY-MM-DD HH:MM:SS",
 * UTC) or NULL for everything. Raises an error naming source, entity, page and record on any fault.
 */
extern void pgb_ab_fetch_page(PgbSource *src, const char *entity, const char *since, long page,
							  PgbPage *out);

/* Sends the request for that page ahead, to be collected by pgb_ab_fetch_page of the same page. */
extern void pgb_ab_prefetch_page(PgbSource *src, const char *entity, const char *since, long page);

#endif
