/*
 * http_request.h: private to src/http/: one request of a target (its attempt, its own curl handle
 * and body buffer), shared by the client's set-up and callbacks (http_client.c) and the queue
 * that runs requests concurrently (http_queue.c).
 */
#ifndef PGB_HTTP_REQUEST_H
#define PGB_HTTP_REQUEST_H

#include <curl/curl.h>

#include "http/http_client.h"

/* Requests a target holds at once: in flight, queued, or answered and not yet read. */
#define MAX_REQUESTS 64

struct Request;

/* What one attempt saw; filled by callbacks, read after curl returns. */
typedef struct Attempt
{
	struct Request *rq;			/* whose body buffer the answer goes into */
	size_t		len;
	size_t		max_len;
	void	   *handle;			/* the curl handle, for the wire byte count */
	bool		too_big;
	bool		too_compressed;	/* decoded more than pgb_http_max_ratio times the wire bytes */
	int64		wire_len;		/* body bytes on the wire when too_compressed was set */
	bool		out_of_memory;
	bool		refused_address;
	bool		cancelled;
	long		retry_after;	/* seconds, or -1 */
	int64		date;
	char		link[4096];		/* the Link header field(s), joined by ", "; "" when none */
	int64		total;			/* X-Total-Count (a list's length), or -1 */
	long		status;
	CURLcode	rc;
	char		curl_error[CURL_ERROR_SIZE];
} Attempt;

typedef enum RqState
{
	RQ_FREE,
	RQ_QUEUED,					/* waits for a free place in flight, the rate limit or its backoff */
	RQ_RUNNING,					/* in the multi handle */
	RQ_DONE						/* its last attempt is final: an answer, or a failure to report */
} RqState;

/*
 * One request of the target: its URL, its own curl handle (kept for the next request in this
 * slot; connections are pooled by the multi handle) and its own growing body buffer (malloc'd:
 * curl callbacks cannot palloc; reused rather than allocated per request).
 */
typedef struct Request
{
	RqState		state;
	bool		prefetched;		/* sent ahead and not claimed yet */
	bool		consumed;		/* its answer was handed out: the slot is free at the next request */
	bool		refreshed;		/* a 401 renewed the token once already */
	int			attempts;		/* attempts made */
	int			token_gen;		/* the target's token generation when it was sent */
	uint64		seq;			/* submission order = start order */
	int64		not_before_us;	/* backoff: not started again before this monotonic time */
	char	   *url;			/* malloc'd */
	char		request_header[128];
	CURL	   *easy;
	struct curl_slist *headers;
	char	   *buf;
	size_t		cap;
	Attempt		a;
} Request;

/* http_client.c */
extern bool pgb_http_start(PgbHttpTarget *t, Request *rq);	/* readies and adds rq to the multi handle */
extern void pgb_http_end_attempt(Request *rq);	/* after its transfer left the multi handle */
extern void pgb_http_discard(PgbHttpTarget *t, Request *rq);	/* stops rq, whatever its state */
extern Request *pgb_http_requests(PgbHttpTarget *t);	/* the table (MAX_REQUESTS), NULL when out of memory */

/* http_queue.c */
extern int64 pgb_http_now_us(void);
extern void pgb_http_wait(PgbHttpTarget *t, Request *rq, const char *what);
extern void pgb_http_kick(PgbHttpTarget *t);	/* starts what may start now, without waiting */
extern bool pgb_http_curl_retryable(CURLcode rc);

#endif
