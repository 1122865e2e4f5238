/*
 * http_client.h: the one libcurl client. GET only (the connectors here only read), https only,
 * TLS verified, bounded in time and size, retried with backoff, cancellable, rate limited.
 */
#ifndef PGB_HTTP_CLIENT_H
#define PGB_HTTP_CLIENT_H

#include "http/http_util.h"

/* Settings (GUCs registered in http_init.c). */
extern char *pgb_http_ca_file;
extern bool pgb_http_allow_loopback;

/*
 * The SSRF rule every curl handle applies when it opens a socket (CURLOPT_OPENSOCKETFUNCTION):
 * private and link-local addresses are refused, loopback unless pg_billing.allow_loopback.
 * No ereport (called from curl callbacks).
 */
struct sockaddr;
extern bool pgb_http_address_refused(const struct sockaddr *sa);
extern int	pgb_http_connect_timeout_ms;
extern int	pgb_http_timeout_ms;
extern int	pgb_http_max_body_kb;
extern int	pgb_http_max_retries;
extern int	pgb_http_retry_base_ms;
extern int	pgb_http_retry_max_ms;
extern int	pgb_http_max_retry_after_s;
extern int	pgb_http_max_ratio;
extern int	pgb_http_run_max_requests;
extern int	pgb_http_run_max_bytes_kb;

/* One remote service: its origin, credentials and counters. Lives for one sync run. */
typedef struct PgbHttpTarget
{
	const char *source_name;	/* for messages */
	PgbUrl		origin;			/* requests go only here */
	char	   *userpwd;		/* "user:password" for Basic auth; secret, never printed */
	char	   *bearer;			/* OAuth2 access token (malloc'd); secret, never printed */
	char	   *extra_header;	/* "Name: value" sent on every request, or NULL; never printed */
	char	   *auth_header;	/* a whole "Authorization: ..." header (malloc'd), secret, or NULL */
	void	   *auth;			/* token state of http_auth.c, or NULL (Basic or none) */
	double		max_rps;		/* per-source request rate (requests per second; 0 = unlimited) */
	int64		last_request_us;	/* monotonic time of the last request, for the rate limit */
	int64		requests;		/* requests made, retries included */
	int64		retries;		/* of which retries */
	long		waited_ms;		/* time spent waiting on Retry-After and backoff */
	int64		body_bytes;		/* decoded response bytes read (pg_billing.run_max_bytes) */
	void	   *multi;			/* the run's curl multi handle: one connection pool for every request */
	void	   *reqs;			/* the request table of http_client.c (malloc'd), or NULL */
	int			max_concurrent;	/* requests in flight at once (0 or 1 = one at a time) */
	int			token_gen;		/* bumped at each forced token renewal (a 401 renews once for all) */
	uint64		seq;			/* requests submitted so far: their start order */
	int64		pause_until_us;	/* after a 429: no request starts before this monotonic time */
	char		request_header[128];	/* a header line of the next requests ("If-Modified-Since: ..."), or "" */
} PgbHttpTarget;

typedef struct PgbHttpResponse
{
	long		status;
	const char *body;			/* the client's reusable buffer: valid until the next request */
	size_t		len;
	int64		date;			/* Date header as seconds since 1970, or -1 */
	const char *link;			/* the Link header (RFC 8288), or NULL: valid until the next request */
	int64		total;			/* X-Total-Count header (records in the whole list), or -1 */
} PgbHttpResponse;

/* Checks base_url against the settings and fills target->origin; raises on a refused URL. */
extern void pgb_http_target_init(PgbHttpTarget *target, const char *source_name, const char *base_url);

/*
 * GETs url (which must be on target's origin) and returns a 2xx response; raises an error naming
 * the source and `what` (e.g. "invoices page 3") for anything else, after retries where useful.
 */
extern void pgb_http_get(PgbHttpTarget *target, const char *url, const char *what, PgbHttpResponse *resp);

/* The same for a single record: false (and no error) when the server answers 404 Not Found. */
extern bool pgb_http_get_found(PgbHttpTarget *target, const char *url, const char *what, PgbHttpResponse *resp);

/*
 * Sends GET url ahead without waiting (the next page while this one is stored, a record's child
 * request while the records before it are mapped); the next pgb_http_get of the same URL (and the
 * same request header) collects the answer. Up to max_concurrent requests are in flight at once,
 * within max_rps; a request that may not start yet waits in the target's queue. At most
 * 2 * max_concurrent answers are held unclaimed (the memory bound): beyond that, or when the URL
 * is refused, nothing is sent and the later pgb_http_get does the request itself. Never raises
 * for a transfer problem: the later pgb_http_get reports it (and retries) as usual.
 */
extern void pgb_http_prefetch(PgbHttpTarget *target, const char *url);

/*
 * How many requests may be held sent ahead (2 * max_concurrent; 0 when one at a time, and then
 * only the next page is sent ahead, as it always was): how far ahead callers look.
 */
extern int	pgb_http_ahead(const PgbHttpTarget *target);

/*
 * How many more requests pgb_http_prefetch would take now (the bound above less the answers held
 * unclaimed; 0 at pg_billing.run_max_requests): a caller walking ahead stops at 0 and tries the
 * same request again later, so a refused one is not left to be made last, on its own.
 */
extern int	pgb_http_ahead_room(const PgbHttpTarget *target);

/*
 * Moves the requests in flight on without waiting: reads what has arrived, starts what may start.
 * A caller busy with something else (the store writing a page) calls it now and then, so that the
 * next page's answer is read while it works instead of waiting in the socket's buffers.
 */
extern void pgb_http_progress(PgbHttpTarget *target);

/* Drops the requests sent ahead that nobody claimed (a list's end was reached before them). */
extern void pgb_http_drop_prefetched(PgbHttpTarget *target);

/*
 * A header sent on every request of the target (ConnectWise's clientId, Xero's tenant id); the
 * value comes from a credential field or an option and is refused when it holds a line break.
 */
extern void pgb_http_set_header(PgbHttpTarget *target, const char *name, const char *value);

/*
 * A header line sent with the requests that follow until it is changed (NULL = none): bounded,
 * no CR or LF ("If-Modified-Since: ...").
 */
extern void pgb_http_set_request_header(PgbHttpTarget *target, const char *line);

/* Frees the target's curl handle and the reusable body buffer (at the end of a run, on every path). */
extern void pgb_http_target_release(PgbHttpTarget *target);
extern void pgb_http_release_buffer(void);

#endif
