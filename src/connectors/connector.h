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
	int64		reconcile_max_unseen;	/* records a reconcile may find unlisted; -1 = max(100, 10% of live) */
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

/* An empty page for records of entity. */
extern void pgb_ab_page_init(PgbPage *page, const char *entity);

/*
 * GETs one record of entity by its external id (GET /customers/{id}.json, /invoices/{uid}.json...)
 * and adds it to out (made by pgb_ab_page_init), components included. False when the vendor
 * answers 404: the record is gone. Any other failure raises an error, after the usual retries.
 */
extern bool pgb_ab_fetch_record(PgbSource *src, const char *entity, const char *external_id, PgbPage *out);

/* Sends the request for that page ahead, to be collected by pgb_ab_fetch_page of the same page. */
extern void pgb_ab_prefetch_page(PgbSource *src, const char *entity, const char *since, long page);

#endif
