/*
 * connector.h: the connector interface. A connector is one PgbConnector (a table of function
 * pointers and declarations, chosen by billing.sources.kind, the way an index access method is
 * chosen by its amroutine) plus one PgbEntity per entity it syncs. The sync driver (src/sync/)
 * and the store (src/store/) read only these; they name no vendor. Adding a vendor is one file
 * with its PgbConnector and entities, and one line in registry.c (docs/connectors.md).
 */
#ifndef PGB_CONNECTOR_H
#define PGB_CONNECTOR_H

#include "common/records.h"
#include "http/http_client.h"

struct json_t;
struct PgbJsonCtx;

/* Most requests in flight at once a source may ask for (option max_concurrent_requests). */
#define PGB_MAX_CONCURRENT 16

/* Paging styles, implemented once (src/sync/paging.c). */
typedef enum PgbPagingKind
{
	PGB_PAGING_PAGE_NUMBER,		/* ?<page_param>=N&<size_param>=S, N counted from first_page */
	PGB_PAGING_OFFSET,			/* ?<page_param>=offset&<size_param>=S, offset counted in records */
	PGB_PAGING_LINK				/* page 1 is ?<size_param>=S; each next page is the URL the page before
								 * names: RFC 8288 Link rel="next", or the body's next_key */
} PgbPagingKind;

typedef struct PgbPaging
{
	PgbPagingKind kind;
	int			first_page;		/* number of the first page: 0 or 1 (PAGE_NUMBER only) */
	const char *page_param;		/* "page", "offset" */
	const char *size_param;		/* "per_page", "size", "limit" */
	int			max_size;		/* the vendor's largest page; option per_page is checked against it */
	const char *next_key;		/* LINK: key of the next page's URL in an object response (null or
								 * absent at the end); NULL = the Link header's rel="next" */
} PgbPaging;

/* LINK paging: where the next page of the list being read is (PgbSource.link; src/sync/paging.c). */
typedef struct PgbLinkState
{
	const void *list;			/* the entity being listed, and... */
	char		parent[256];	/* ...the parent record it is listed under ("" for none) */
	long		ordinal;		/* the page next_url fetches; 0 = none known */
	char		next_url[2048];
	char		this_url[2048]; /* the URL of page ordinal - 1, and of the one before it: */
	char		prev_url[2048]; /* a next link back to either is a loop */
} PgbLinkState;

/* Authentication styles, implemented once (src/http/http_auth.c). */
typedef enum PgbAuthKind
{
	PGB_AUTH_BASIC,				/* credential user_field as user, password_field (or "x") as password */
	PGB_AUTH_OAUTH2_CLIENT		/* bearer token from an OAuth2 client-credentials grant, cached */
} PgbAuthKind;

typedef struct PgbAuth
{
	PgbAuthKind kind;
	const char *user_field;		/* BASIC: credential field of the user name */
	const char *user_field2;	/* BASIC: NULL, or a second field joined to the user name... */
	const char *user_join;		/* ...after this text ("company+public" is user_field "+" user_field2) */
	const char *header_name;	/* NULL, or a header sent on every request ("clientId")... */
	const char *header_field;	/* ...with the value of this credential field, */
	const char *header_option;	/* ...or of this text option ("tenant_id") */
	const char *password_field; /* BASIC: credential field of the password, NULL = "x" */
	const char *audience;		/* OAUTH2: audience of the token request */
	const char *token_url_option;	/* OAUTH2: source option naming the token endpoint */
	bool		form_grant;		/* OAUTH2: client id and secret as HTTP Basic, the grant as a form
								 * (RFC 6749 section 2.3.1), instead of a JSON body */
} PgbAuth;

/* Options a connector adds to the common ones (src/store/source_config.c). */
typedef enum PgbOptionType
{
	PGB_OPT_BOOL,
	PGB_OPT_URL,				/* an absolute https URL (http only on loopback in tests) */
	PGB_OPT_TEXT				/* any string (checked where it is used) */
} PgbOptionType;

typedef struct PgbOption
{
	const char *name;
	PgbOptionType type;
	const char *default_value;	/* text form: "true", "false", a URL; NULL = none (TEXT) */
} PgbOption;

typedef struct PgbSource PgbSource;

/* How an incremental list's lower bound is written in the query (URL-encoded by the reader). */
typedef enum PgbSinceStyle
{
	PGB_SINCE_OFFSET,			/* 2024-01-01 00:00:00+00:00 */
	PGB_SINCE_ZULU,				/* 2024-01-01T00:00:00Z */
	PGB_SINCE_DATE				/* 2024-01-01 (the day of the cursor) */
} PgbSinceStyle;

/* Maps one vendor record (already unwrapped) into rows of page; sets ctx->record to its id. */
typedef void (*PgbMapFn) (PgbSource *src, struct PgbJsonCtx *ctx, struct json_t *record, PgbPage *page);

/* One entity a connector syncs. The driver runs the entities in the order of the array. */
typedef struct PgbEntity
{
	const char *name;			/* entity name: option entities, checkpoints, messages */
	const char *path;			/* list path below base_url, e.g. "/customers.json" */
	/*
	 * A child entity is listed per record of its parent entity (synced before it): path then has
	 * one %s for the parent's id ("/agreements/%s/additions"), record_path two (parent, id). The
	 * driver lists the children of every live parent record in turn; the page's parent_id says
	 * which. NULL = a top-level list.
	 */
	const char *parent;
	const char *list_key;		/* key of the records array in an object response, NULL = bare array */
	const char *wrapper;		/* key each listed record is wrapped in, NULL = the record itself */
	PgbTable	table;			/* the entity's own table */
	bool		incremental;	/* the list takes an updated-since filter (since_param) */
	const char *list_params;	/* extra query parameters of every list request, or "" */
	const char *optional_option;	/* synced only when this bool option is true (or option entities
									 * names it); NULL = always */
	PgbMapFn	map;
	/* single record: path format with one %s for the id ("/customers/%s.json"), NULL = not readable */
	const char *record_path;
	const char *record_wrapper;	/* key of the record in a single-record response (an object, or an
								 * array of exactly one), NULL = the body */
	/* ids of rows of table the connector makes itself, which no list shows (a reconcile leaves them) */
	const char *own_prefix;
	bool		unpaged;		/* the list has no paging: one request answers it whole */
	/*
	 * Incremental by id instead of by time (records with no updated-at, e.g. Splynx payments): the
	 * list is ordered by id ascending, ids are whole numbers, and a run lists only the ids above the
	 * greatest one settled before (conn->after_id_param). A full reconcile lists everything.
	 */
	bool		id_cursor;
} PgbEntity;

typedef struct PgbConnector
{
	const char *kind;			/* billing.sources.kind */
	const char *vendor;			/* for hints: "the Advanced Billing API" */
	const PgbEntity *entities;
	int			nentities;
	PgbPaging	paging;
	PgbAuth		auth;
	const PgbOption *options;	/* options beyond the common ones */
	int			noptions;
	double		default_max_rps;	/* requests per second unless option max_requests_per_second */
	int			default_max_concurrent; /* requests in flight unless option max_concurrent_requests */
	bool		prefetch;		/* may send the next page ahead (two requests in flight) */
	const char *since_param;	/* query text before the since value of an incremental list */
	PgbSinceStyle since_style;	/* how the since value is written */
	const char *since_suffix;	/* query text after it (already URL-encoded), or NULL */
	const char *since_header;	/* or: header carrying it ("If-Modified-Since"), as YYYY-MM-DDTHH:MM:SS UTC */
	const char *page_count_key; /* object of a list response with an integer pageCount: the list ends
								 * at that page even when it is full; NULL = only a short page ends it */
	const char *after_id_param; /* query text before the id lower bound (exclusive) of an id_cursor list */
	/*
	 * List responses carry X-Total-Count, the length of the whole (filtered) list: a pass that sees
	 * it fall, or ends short of it, may have skipped records (offset paging) and reads the list again.
	 */
	bool		list_total;
	/* optional hooks: called on each listed record before it is mapped (e.g. to fetch a part) */
	void		(*enrich) (PgbSource *src, const PgbEntity *e, struct PgbJsonCtx *ctx, struct json_t *record);
	/*
	 * optional, with enrich: sends the request(s) enrich will make for record ahead of time
	 * (pgb_http_prefetch), while the records before it are mapped; must never raise for a bad
	 * record (enrich reports it). The list reader calls it up to 2 * max_concurrent records ahead.
	 */
	void		(*enrich_ahead) (PgbSource *src, const PgbEntity *e, struct json_t *record);
	/* optional: authenticates from the credentials object itself instead of auth (Splynx) */
	void		(*authenticate) (PgbSource *src, struct json_t *secret);
} PgbConnector;

/* A source as the driver runs it: its validated, typed configuration (pgb_store_load_source). */
struct PgbSource
{
	int64		id;
	char	   *name;
	char	   *kind;
	char	   *base_url;		/* without a trailing slash */
	const PgbConnector *conn;
	/* common options */
	int			per_page;		/* 1..conn->paging.max_size */
	int			overlap_s;		/* re-read window of an incremental run */
	int			reconcile_every;	/* every Nth run is a full reconcile; 0 = only on request */
	const char *only;			/* comma-separated entities to sync, or "" for all */
	int64		reconcile_max_unseen;	/* records a reconcile may find unlisted; -1 = max(100, 10% of live) */
	double		max_rps;
	int			max_concurrent;	/* requests in flight at once: 1 = one at a time */
	char	   *options_json;	/* the options object, for the connector's own options */
	PgbHttpTarget http;
	struct PgbJsonCtx *where;	/* the record being decoded, for the error context, or NULL */
	PgbLinkState link;			/* LINK paging: the next page's URL (the run's, not a checkpoint's) */
};

/* The connector of a kind, or NULL (registry.c). */
extern const PgbConnector *pgb_connector_for_kind(const char *kind);

/* The entities to sync this run, in order; returns how many (at most conn->nentities). */
extern int	pgb_connector_entities(const PgbSource *src, const PgbEntity **out);

/* The entity of that name, or NULL. */
extern const PgbEntity *pgb_connector_entity(const PgbConnector *conn, const char *name);

/* A connector option's value as text (its default when the source does not set it). */
extern const char *pgb_source_option(const PgbSource *src, const char *name);
extern bool pgb_source_option_bool(const PgbSource *src, const char *name);

/*
 * The generic list reader (src/sync/fetch.c): fetches and decodes one page of entity. since: lower
 * bound on updated_at ("YYYY-MM-DD HH:MM:SS", UTC) or NULL. ordinal counts pages from 1.
 */
extern void pgb_fetch_page(PgbSource *src, const PgbEntity *e, const char *since, long ordinal, PgbPage *out);
extern void pgb_prefetch_page(PgbSource *src, const PgbEntity *e, const char *since, long ordinal);
/* One record by id into out; false when the vendor answers 404. */
extern bool pgb_fetch_record(PgbSource *src, const PgbEntity *e, const char *external_id, PgbPage *out);

/* The same for a child entity (PgbEntity.parent): the page or record under parent_id. */
extern void pgb_fetch_child_page(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *since,
								 long ordinal, PgbPage *out);
extern void pgb_prefetch_child_page(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *since,
									long ordinal);
/* The same with an id lower bound (exclusive) for an id_cursor entity, or NULL. */
extern void pgb_fetch_list_page(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *since,
								const char *after_id, long ordinal, PgbPage *out);
extern void pgb_prefetch_list_page(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *since,
								   const char *after_id, long ordinal);
extern bool pgb_fetch_child_record(PgbSource *src, const PgbEntity *e, const char *parent_id,
								   const char *external_id, PgbPage *out);
/* An empty page for records of entity. */
extern void pgb_entity_page_init(PgbPage *page, const PgbEntity *e);

/* The id of the record being decoded, for the error context, or NULL (src/sync/fetch.c). */
extern const char *pgb_source_record(const PgbSource *src);

/* Paging (src/sync/paging.c): the query parameters of page ordinal (1, 2, ...). */
extern char *pgb_paging_query(const PgbPaging *p, long ordinal, int size);

/*
 * LINK paging (src/sync/paging.c). pgb_link_next: the target of the first rel="next" link of a Link
 * header value (RFC 8288) into out: PGB_LINK_FOUND, PGB_LINK_NONE, or PGB_LINK_BAD when the value
 * cannot be read or the target does not fit (never taken for the end of a list). Pure (unit tested).
 */
#define PGB_LINK_NONE 0
#define PGB_LINK_FOUND 1
#define PGB_LINK_BAD (-1)
extern int	pgb_link_next(const char *header, char *out, size_t outlen);

/*
 * After page ordinal (fetched from url) of a LINK-paged list: its next URL (from the Link header, or
 * the body's next_key) checked to stay on the source's scheme, host and port and not to lead back
 * to this page or the one before, kept in src->link for page ordinal + 1. Returns whether there is
 * a next page. Raises for a link elsewhere or a loop.
 */
extern bool pgb_paging_follow(PgbSource *src, const void *list, const char *parent_id, long ordinal,
							  const char *url, const char *link_header, const char *body_next);

/* The URL of page ordinal > 1 of a LINK-paged list when the page before named it, else NULL. */
extern const char *pgb_paging_known_url(const PgbSource *src, const void *list, const char *parent_id, long ordinal);

/*
 * Sets the source's HTTP authentication from its credentials (a JSON object, wiped after use) as
 * its connector declares (src/sync/fetch.c; the mechanisms are in src/http/http_auth.c).
 */
extern void pgb_source_auth(PgbSource *src, char *secret_json);

#endif
