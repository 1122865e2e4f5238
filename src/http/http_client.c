/*
 * http_client.c: libcurl inside a backend. Nothing in a curl callback or during a transfer may
 * ereport (a longjmp through libcurl corrupts it): callbacks set flags, and errors are raised once
 * the transfer has ended and its handle is out of the multi handle. Every request of a target has
 * its own slot (curl handle, body buffer) in the target's request table; http_queue.c runs them,
 * several at once. Here: the handles' set-up and callbacks, the table, and the public calls that
 * send ahead, claim and report. A target's handles live for one run (connection reuse) and
 * pgb_http_target_release frees them; the sync driver calls it on every path, errors included.
 */
#include "postgres.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "utils/wait_event.h"

#include "http/http_auth.h"
#include "http/http_client.h"
#include "http/http_transfer.h"
#include "http/http_request.h"

char	   *pgb_http_ca_file = NULL;
bool		pgb_http_allow_loopback = false;
int			pgb_http_connect_timeout_ms = 10000;
int			pgb_http_timeout_ms = 120000;
int			pgb_http_max_body_kb = 65536;
int			pgb_http_max_retries = 4;
int			pgb_http_retry_base_ms = 500;
int			pgb_http_retry_max_ms = 30000;
int			pgb_http_max_retry_after_s = 300;
int			pgb_http_max_ratio = 100;
int			pgb_http_run_max_requests = 1000000;
int			pgb_http_run_max_bytes_kb = 16777216;

/* The decompression ratio is judged only past this many decoded bytes: small bodies never trip it. */
#define RATIO_FLOOR ((size_t) 1 << 20)

static bool curl_ready = false;

/* The last response's Link header (PgbHttpResponse.link): valid until the next request. */
static char link_buf[4096];

static void
ensure_curl(void)
{
	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
			ereport(ERROR, (errcode(ERRCODE_SYSTEM_ERROR), errmsg("could not initialise libcurl")));
		curl_ready = true;
	}
}

/*
 * A compressed body (curl decodes Content-Encoding before write_cb sees it) may decode to far more
 * than it weighs on the wire: a gzip bomb of 100 kB becomes 100 MB, two layers of gzip gigabytes.
 * Past RATIO_FLOOR decoded bytes, more than pgb_http_max_ratio decoded bytes per wire byte stops
 * the transfer. curl counts the wire bytes of the body before it decodes them. No ereport.
 */
static bool
too_compressed(Attempt *a, size_t decoded)
{
	curl_off_t	wire = 0;

	if (pgb_http_max_ratio <= 0 || decoded <= RATIO_FLOOR || a->handle == NULL)
		return false;
	if (curl_easy_getinfo((CURL *) a->handle, CURLINFO_SIZE_DOWNLOAD_T, &wire) != CURLE_OK)
		return false;
	if (wire > 0 && (double) decoded <= (double) wire * pgb_http_max_ratio)
		return false;
	a->too_compressed = true;
	a->wire_len = (int64) wire;
	return true;
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	Attempt    *a = (Attempt *) arg;
	size_t		n = size * nmemb;

	if (a == NULL)
		return 0;				/* detached from its attempt: nothing may be written */
	if (a->len + n > a->max_len)
	{
		a->too_big = true;
		return 0;
	}
	if (too_compressed(a, a->len + n))
		return 0;
	if (a->len + n + 1 > a->rq->cap)
	{
		size_t		cap = Max(a->rq->cap * 2, (size_t) 1 << 16);
		char	   *p;

		while (cap < a->len + n + 1)
			cap *= 2;
		p = realloc(a->rq->buf, cap);
		if (p == NULL)
		{
			a->out_of_memory = true;
			return 0;
		}
		a->rq->buf = p;
		a->rq->cap = cap;
	}
	memcpy(a->rq->buf + a->len, data, n);
	a->len += n;
	a->rq->buf[a->len] = '\0';
	return n;
}

/*
 * Keeps a Link header field (LINK paging reads it, src/sync/paging.c), several joined by ", " as
 * RFC 9110 allows. One too long for the buffer is kept as "(too long)", which the Link reader
 * refuses: a list is never cut short by a link that did not fit. No ereport (a curl callback).
 */
static void
add_link(Attempt *a, const char *v, size_t n)
{
	size_t		have = strlen(a->link);

	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n == 0 || strcmp(a->link, "(too long)") == 0)
		return;
	if (have + n + 3 > sizeof(a->link))
	{
		strcpy(a->link, "(too long)");
		return;
	}
	if (have > 0)
		memcpy(a->link + have, ", ", 2), have += 2;
	memcpy(a->link + have, v, n);
	a->link[have + n] = '\0';
}

static size_t
header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	Attempt    *a = (Attempt *) arg;
	size_t		n = size * nmemb;
	char		line[256];
	size_t		l = Min(n, sizeof(line) - 1);

	if (a == NULL)
		return n;
	if (n > 5 && strncasecmp(data, "link:", 5) == 0)
	{
		add_link(a, data + 5, n - 5);
		return n;
	}
	memcpy(line, data, l);
	line[l] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "HTTP/", 5) == 0)
	{
		/* a new response (e.g. after 100 Continue): forget the previous one's headers */
		a->retry_after = -1;
		a->date = -1;
		a->link[0] = '\0';
		a->total = -1;
	}
	else if (strncasecmp(line, "retry-after:", 12) == 0)
		a->retry_after = pgb_parse_retry_after(line + 12, time(NULL));
	else if (strncasecmp(line, "date:", 5) == 0)
	{
		char	   *v = line + 5;
		time_t		t;

		while (*v == ' ')
			v++;
		t = pgb_parse_http_date(v);
		a->date = t < 0 ? -1 : (int64) t;
	}
	else if (strncasecmp(line, "x-total-count:", 14) == 0)
	{
		/* a count of records, at most 15 digits; anything else is as if absent */
		char	   *v = line + 14;
		size_t		d;

		while (*v == ' ')
			v++;
		d = strspn(v, "0123456789");
		a->total = d > 0 && d <= 15 && v[d + strspn(v + d, " \t")] == '\0' ? strtoll(v, NULL, 10) : -1;
	}
	return n;
}

static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	Attempt    *a = (Attempt *) arg;

	if (a == NULL)
		return 1;
	if (QueryCancelPending || ProcDiePending)
	{
		a->cancelled = true;
		return 1;
	}
	return 0;
}

bool
pgb_http_address_refused(const struct sockaddr *sa)
{
	PgbAddrClass cls = pgb_addr_classify(sa);

	return cls == PGB_ADDR_PRIVATE || (cls == PGB_ADDR_LOOPBACK && !pgb_http_allow_loopback);
}

/* Refuses private and link-local addresses (and loopback unless allowed) at connect time. */
static curl_socket_t
opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	Attempt    *a = (Attempt *) arg;

	if (a == NULL)
		return CURL_SOCKET_BAD;
	if (pgb_http_address_refused(&addr->addr))
	{
		a->refused_address = true;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

void
pgb_http_target_init(PgbHttpTarget *t, const char *source_name, const char *base_url)
{
	const char *reason;

	memset(t, 0, sizeof(*t));
	t->source_name = source_name;
	if (!pgb_url_parse(base_url, &t->origin, &reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\": base_url is not usable: %s", source_name, reason)));
	if (strcmp(t->origin.scheme, "http") == 0 &&
		!(pgb_http_allow_loopback && pgb_host_is_loopback_name(t->origin.host)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("source \"%s\": plain http is refused", source_name),
				 errhint("Use an https:// base_url. Plain http is only for tests against loopback with pg_billing.allow_loopback.")));
	if (pgb_host_is_loopback_name(t->origin.host) && !pgb_http_allow_loopback)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("source \"%s\": requests to this machine are refused", source_name),
				 errhint("A superuser can set pg_billing.allow_loopback for tests.")));
}

/* Appends one header line to h; on failure frees h and returns NULL. */
static struct curl_slist *
add_header(struct curl_slist *h, const char *line)
{
	struct curl_slist *n = curl_slist_append(h, line);

	if (n == NULL)
		curl_slist_free_all(h);
	return n;
}

/*
 * The header list of the target's requests: the fixed ones, the target's own, its Authorization
 * (a vendor's own token scheme) and this request's.
 */
static struct curl_slist *
make_headers(const PgbHttpTarget *t, const char *request_header)
{
	struct curl_slist *h = add_header(NULL, "Accept: application/json");

	if (h)
		h = add_header(h, "User-Agent: pg_billing/" PGB_VERSION);
	if (h && t->extra_header)
		h = add_header(h, t->extra_header);
	if (h && t->auth_header)
		h = add_header(h, t->auth_header);
	if (h && request_header[0])
		h = add_header(h, request_header);
	return h;
}

/*
 * The value may be a credential (ConnectWise's clientId) or an option (Xero's tenant id): it is
 * never printed, and refused when it holds a line break (it would start another header).
 */
void
pgb_http_set_header(PgbHttpTarget *t, const char *name, const char *value)
{
	if (strpbrk(value, "\r\n") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("source \"%s\": the value for header %s holds a line break", t->source_name, name),
				 errhint("Set the credential or option that gives it again.")));
	if (t->extra_header)
		explicit_bzero(t->extra_header, strlen(t->extra_header));
	t->extra_header = psprintf("%s: %s", name, value);
}

void
pgb_http_set_request_header(PgbHttpTarget *t, const char *line)
{
	if (line && (strlen(line) >= sizeof(t->request_header) || strpbrk(line, "\r\n")))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("source \"%s\": a request header is too long or holds a line break", t->source_name)));
	if (strcmp(t->request_header, line ? line : "") == 0)
		return;
	strlcpy(t->request_header, line ? line : "", sizeof(t->request_header));
}

/*
 * A request's curl handle: created once with the options that never change, kept for the slot's
 * next requests (the multi handle pools the connections, and their TLS sessions, for all of them).
 * No ereport here.
 */
static CURL *
request_handle(PgbHttpTarget *t, Request *rq)
{
	CURL	   *c;
	bool		plain = strcmp(t->origin.scheme, "http") == 0;

	if (rq->easy)
		return rq->easy;
	c = curl_easy_init();
	if (c == NULL)
		return NULL;
	pgb_transfer_secure(c, plain);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (t->userpwd)
	{
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, t->userpwd);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
	rq->easy = c;
	return c;
}

/*
 * Unhooks a handle from its attempt's state: curl may still write the error buffer or call a
 * callback (while closing a connection, for instance). The callbacks do nothing with a NULL state.
 */
static void
detach_attempt(CURL *c)
{
	if (c == NULL)
		return;
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, NULL);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, NULL);
}

/* Frees a request's handle and header list (a failed transfer's connection is not reused). */
static void
release_handle(Request *rq)
{
	detach_attempt(rq->easy);
	if (rq->easy)
		curl_easy_cleanup(rq->easy);
	if (rq->headers)
		curl_slist_free_all(rq->headers);
	rq->easy = NULL;
	rq->headers = NULL;
}

/*
 * Readies rq's handle for one attempt and adds it to the target's multi handle. The header list is
 * made afresh for every attempt: a vendor's token (and with it the Authorization header) may have
 * changed since the request was queued. False when curl has no memory for it. No ereport.
 */
bool
pgb_http_start(PgbHttpTarget *t, Request *rq)
{
	Attempt    *a = &rq->a;
	CURL	   *c;
	struct curl_slist *h;

	memset(a, 0, sizeof(*a));
	a->rq = rq;
	a->retry_after = -1;
	a->date = -1;
	a->total = -1;
	a->max_len = (size_t) pgb_http_max_body_kb * 1024;
	a->rc = CURLE_OUT_OF_MEMORY;
	if (t->multi == NULL)
		t->multi = curl_multi_init();
	c = t->multi ? request_handle(t, rq) : NULL;
	h = c ? make_headers(t, rq->request_header) : NULL;
	if (h == NULL)
		return false;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (rq->headers)
		curl_slist_free_all(rq->headers);
	rq->headers = h;
	a->handle = c;
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) pgb_http_connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) pgb_http_timeout_ms);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) a->max_len);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, a);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, a);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->curl_error);
	if (t->bearer)
	{
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, t->bearer);
	}
	if (curl_multi_add_handle((CURLM *) t->multi, c) != CURLM_OK)
	{
		detach_attempt(c);
		return false;
	}
	rq->state = RQ_RUNNING;
	return true;
}

/* After rq's transfer has left the multi handle: its status, and no reuse after a transport failure. */
void
pgb_http_end_attempt(Request *rq)
{
	Attempt    *a = &rq->a;

	if (a->rc == CURLE_FILESIZE_EXCEEDED)
		a->too_big = true;		/* refused from Content-Length, before the body */
	curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &a->status);
	detach_attempt(rq->easy);
	if (a->rc != CURLE_OK)
		release_handle(rq);
}

/* Stops rq whatever its state and frees its slot (its buffer and a clean handle stay for reuse). */
void
pgb_http_discard(PgbHttpTarget *t, Request *rq)
{
	if (rq->state == RQ_RUNNING)
	{
		curl_multi_remove_handle((CURLM *) t->multi, rq->easy);
		release_handle(rq);		/* its connection may be mid-response: not reusable */
	}
	free(rq->url);
	rq->url = NULL;
	rq->state = RQ_FREE;
	rq->prefetched = rq->consumed = false;
}

Request *
pgb_http_requests(PgbHttpTarget *t)
{
	if (t->reqs == NULL)
		t->reqs = calloc(MAX_REQUESTS, sizeof(Request));
	return (Request *) t->reqs;
}

void
pgb_http_target_release(PgbHttpTarget *t)
{
	Request    *r = (Request *) t->reqs;

	for (int i = 0; r && i < MAX_REQUESTS; i++)
	{
		pgb_http_discard(t, &r[i]);
		release_handle(&r[i]);
		free(r[i].buf);
	}
	free(r);
	t->reqs = NULL;
	if (t->multi)
		curl_multi_cleanup((CURLM *) t->multi);
	t->multi = NULL;
	if (t->extra_header)
		explicit_bzero(t->extra_header, strlen(t->extra_header));
	t->extra_header = NULL;
}

/* Answers already handed out are no longer needed once another request is made: their slots free. */
static void
free_consumed(PgbHttpTarget *t)
{
	Request    *r = pgb_http_requests(t);

	for (int i = 0; r && i < MAX_REQUESTS; i++)
		if (r[i].state != RQ_FREE && r[i].consumed)
			pgb_http_discard(t, &r[i]);
}

/* A free slot for url, queued, or NULL (no slot, no memory). No ereport. */
static Request *
submit(PgbHttpTarget *t, const char *url, bool prefetched)
{
	Request    *r = pgb_http_requests(t);

	for (int i = 0; r && i < MAX_REQUESTS; i++)
	{
		if (r[i].state != RQ_FREE)
			continue;
		r[i].url = strdup(url);
		if (r[i].url == NULL)
			return NULL;
		r[i].state = RQ_QUEUED;
		r[i].prefetched = prefetched;
		r[i].consumed = r[i].refreshed = false;
		r[i].attempts = 0;
		r[i].not_before_us = 0;
		r[i].seq = ++t->seq;
		strlcpy(r[i].request_header, t->request_header, sizeof(r[i].request_header));
		return &r[i];
	}
	return NULL;
}

/* The unclaimed request sent ahead for url with the current request header, or NULL. */
static Request *
find_prefetched(PgbHttpTarget *t, const char *url)
{
	Request    *r = pgb_http_requests(t);

	for (int i = 0; r && i < MAX_REQUESTS; i++)
		if (r[i].state != RQ_FREE && r[i].prefetched && strcmp(r[i].url, url) == 0 &&
			strcmp(r[i].request_header, t->request_header) == 0)
			return &r[i];
	return NULL;
}

static int
count_prefetched(const PgbHttpTarget *t)
{
	const Request *r = (const Request *) t->reqs;
	int			n = 0;

	for (int i = 0; r && i < MAX_REQUESTS; i++)
		n += r[i].state != RQ_FREE && r[i].prefetched;
	return n;
}

/* Answers held unclaimed at most: twice the requests in flight, so a slow one never stalls the rest. */
static int
prefetch_bound(const PgbHttpTarget *t)
{
	return 2 * Max(1, t->max_concurrent);
}

int
pgb_http_ahead(const PgbHttpTarget *t)
{
	return t->max_concurrent <= 1 ? 0 : prefetch_bound(t);
}

void
pgb_http_drop_prefetched(PgbHttpTarget *t)
{
	Request    *r = (Request *) t->reqs;

	for (int i = 0; r && i < MAX_REQUESTS; i++)
		if (r[i].state != RQ_FREE && r[i].prefetched)
			pgb_http_discard(t, &r[i]);
}

void
pgb_http_prefetch(PgbHttpTarget *t, const char *url)
{
	PgbUrl		u;
	const char *reason;

	if (t->requests >= pgb_http_run_max_requests || count_prefetched(t) >= prefetch_bound(t) ||
		!pgb_url_parse(url, &u, &reason) || !pgb_url_same_origin(&u, &t->origin) ||
		find_prefetched(t, url) != NULL)
		return;					/* pgb_http_get will do it (or refuse it) itself */
	ensure_curl();
	if (submit(t, url, true) != NULL)
		pgb_http_kick(t);		/* connect or reuse, send */
}

static const char *
describe(Attempt *a)
{
	if (a->too_big)
		return psprintf("the response is larger than pg_billing.http_max_body (%d kB)", pgb_http_max_body_kb);
	if (a->too_compressed)
		return psprintf("the response decompresses to more than pg_billing.http_max_decompression_ratio (%d) times its %lld bytes on the wire",
						pgb_http_max_ratio, (long long) a->wire_len);
	if (a->out_of_memory)
		return "out of memory while receiving the response";
	if (a->refused_address)
		return "the host resolves to a private, link-local or loopback address, which is refused";
	if (a->rc != CURLE_OK)
		return psprintf("%s%s%s", curl_easy_strerror(a->rc), a->curl_error[0] ? ": " : "", a->curl_error);
	return psprintf("HTTP status %ld", a->status);
}

static void
fail(PgbHttpTarget *t, const char *what, Request *rq, int sqlstate, const char *hint)
{
	Attempt    *a = &rq->a;

	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("%s: request failed: %s", what, describe(a)),
			 a->len > 0 && a->status >= 300 && rq->buf ?
			 errdetail("%d attempt(s); HTTP status %ld; response of %zu bytes, hash %016llx.", rq->attempts,
					   a->status, a->len, (unsigned long long) hash_bytes_extended((const unsigned char *) rq->buf, (int) a->len, 0)) :
			 errdetail("%d attempt(s).", rq->attempts),
			 hint ? errhint("%s", hint) : 0));
}

/* pg_billing.run_max_bytes: the decoded bytes a run may read in all. */
static void
check_run_bytes(PgbHttpTarget *t, const char *what)
{
	if (t->body_bytes > (int64) pgb_http_run_max_bytes_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: the run has read more than pg_billing.run_max_bytes (%d kB), run stopped",
						what, pgb_http_run_max_bytes_kb),
				 errhint("The pages committed so far stay; a later sync resumes from there. A superuser can raise the setting.")));
}

/*
 * The final outcome of a request as an error, in the order the checks were always made: limits,
 * TLS, redirects, credentials, then statuses not worth retrying and retries used up.
 */
static void
report(PgbHttpTarget *t, const char *what, Request *rq)
{
	Attempt    *a = &rq->a;

	if (a->too_big || a->too_compressed || a->out_of_memory || a->refused_address)
		fail(t, what, rq, ERRCODE_PROGRAM_LIMIT_EXCEEDED, NULL);
	if (a->rc == CURLE_PEER_FAILED_VERIFICATION || a->rc == CURLE_SSL_CONNECT_ERROR ||
		a->rc == CURLE_SSL_CACERT_BADFILE || a->rc == CURLE_SSL_CERTPROBLEM || a->rc == CURLE_SSL_ISSUER_ERROR)
		fail(t, what, rq, ERRCODE_CONNECTION_FAILURE,
			 "The server's TLS certificate was not accepted; verification is never turned off. pg_billing.ca_file names extra trusted CAs.");
	if (a->rc == CURLE_OK && a->status >= 300 && a->status < 400)
		fail(t, what, rq, ERRCODE_CONNECTION_FAILURE, "Redirects are not followed; check the source's base_url.");
	if (a->rc == CURLE_OK && (a->status == 401 || a->status == 403))
		fail(t, what, rq, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
			 "Check the source's API key with billing.set_credentials().");
	if (!(a->rc == CURLE_OK ? pgb_http_status_retryable(a->status) : pgb_http_curl_retryable(a->rc)))
		fail(t, what, rq, ERRCODE_CONNECTION_FAILURE, NULL);
	if (a->rc == CURLE_OK && (a->status == 429 || a->status == 503) && a->retry_after > pgb_http_max_retry_after_s)
		fail(t, what, rq, ERRCODE_CONNECTION_FAILURE,
			 psprintf("The server asked to wait %ld s, more than pg_billing.http_max_retry_after (%d s).",
					  a->retry_after, pgb_http_max_retry_after_s));
	fail(t, what, rq, ERRCODE_CONNECTION_FAILURE,
		 "The run stopped after the last committed page; a later sync resumes from there.");
}

static bool
http_get(PgbHttpTarget *t, const char *url, const char *what, PgbHttpResponse *resp, bool may_be_gone)
{
	PgbUrl		u;
	const char *reason;
	Request    *rq;

	ensure_curl();
	if (!pgb_url_parse(url, &u, &reason) || !pgb_url_same_origin(&u, &t->origin))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s: refused a request outside the source's base_url", what)));
	free_consumed(t);
	rq = find_prefetched(t, url);	/* sent ahead while earlier answers were being stored */
	if (rq == NULL)
		rq = submit(t, url, false);
	if (rq == NULL)
	{
		pgb_http_drop_prefetched(t);
		rq = submit(t, url, false);
	}
	if (rq == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	rq->prefetched = false;
	pgb_http_wait(t, rq, what);
	rq->consumed = true;		/* its slot is freed at the next request, whatever happens now */
	if (rq->a.rc == CURLE_OK && rq->a.status >= 200 && rq->a.status < 300)
	{
		t->body_bytes += (int64) rq->a.len;
		check_run_bytes(t, what);
		resp->status = rq->a.status;
		resp->body = rq->buf ? rq->buf : "";
		resp->len = rq->a.len;
		resp->date = rq->a.date;
		resp->total = rq->a.total;
		strlcpy(link_buf, rq->a.link, sizeof(link_buf));
		resp->link = link_buf[0] ? link_buf : NULL;
		return true;
	}
	if (may_be_gone && rq->a.rc == CURLE_OK && rq->a.status == 404)
		return false;
	report(t, what, rq);
	return false;				/* not reached */
}

void
pgb_http_get(PgbHttpTarget *t, const char *url, const char *what, PgbHttpResponse *resp)
{
	(void) http_get(t, url, what, resp, false);
}

bool
pgb_http_get_found(PgbHttpTarget *t, const char *url, const char *what, PgbHttpResponse *resp)
{
	return http_get(t, url, what, resp, true);
}

/* Kept for its callers: the body buffers are the requests' own now, freed with the target. */
void
pgb_http_release_buffer(void)
{
}
