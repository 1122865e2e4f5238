/*
 * http_client.c: libcurl inside a backend. Nothing in a curl callback or during a transfer may
 * ereport (a longjmp through libcurl corrupts it): callbacks set flags, and errors are raised once
 * the transfer has ended and its handle is out of the multi handle. A target's handles live for one
 * run (connection reuse, one request sent ahead) and pgb_http_target_release frees them; the sync
 * driver calls it on every path, errors included.
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

/* One growing body buffer reused across requests (malloc'd: curl callbacks cannot palloc). */
static char *body_buf = NULL;
static size_t body_cap = 0;

/* The last response's Link header (PgbHttpResponse.link): valid until the next request. */
static char link_buf[4096];

/* What one attempt saw; filled by callbacks, read after curl returns. */
typedef struct Attempt
{
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

static bool curl_ready = false;

static void rate_limit(PgbHttpTarget *t);
static void release_handle(PgbHttpTarget *t);
static void abandon_prefetch(PgbHttpTarget *t);

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
	if (a->len + n + 1 > body_cap)
	{
		size_t		cap = Max(body_cap * 2, (size_t) 1 << 20);
		char	   *p;

		while (cap < a->len + n + 1)
			cap *= 2;
		p = realloc(body_buf, cap);
		if (p == NULL)
		{
			a->out_of_memory = true;
			return 0;
		}
		body_buf = p;
		body_cap = cap;
	}
	memcpy(body_buf + a->len, data, n);
	a->len += n;
	body_buf[a->len] = '\0';
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

/* Refuses private and link-local addresses (and loopback unless allowed) at connect time. */
static curl_socket_t
opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	Attempt    *a = (Attempt *) arg;
	PgbAddrClass cls = pgb_addr_classify(&addr->addr);

	if (a == NULL)
		return CURL_SOCKET_BAD;
	if (cls == PGB_ADDR_PRIVATE || (cls == PGB_ADDR_LOOPBACK && !pgb_http_allow_loopback))
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
make_headers(const PgbHttpTarget *t)
{
	struct curl_slist *h = add_header(NULL, "Accept: application/json");

	if (h)
		h = add_header(h, "User-Agent: pg_billing/" PGB_VERSION);
	if (h && t->extra_header)
		h = add_header(h, t->extra_header);
	if (h && t->auth_header)
		h = add_header(h, t->auth_header);
	if (h && t->request_header[0])
		h = add_header(h, t->request_header);
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
	t->headers_stale = true;
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
	t->headers_stale = true;
}

/*
 * The handle of a target: created once with the options that never change, kept so that the
 * connection (and its TLS session) is reused; freed by pgb_http_target_release. No ereport here.
 */
static CURL *
target_handle(PgbHttpTarget *t)
{
	CURL	   *c;
	bool		plain = strcmp(t->origin.scheme, "http") == 0;

	if (t->handle)
		return (CURL *) t->handle;
	c = curl_easy_init();
	if (c == NULL)
		return NULL;
	t->headers = make_headers(t);
	t->headers_stale = false;
	if (t->headers == NULL)
	{
		curl_easy_cleanup(c);
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, plain ? "http" : "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, plain ? "http" : "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
	if (pgb_http_ca_file && pgb_http_ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, pgb_http_ca_file);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *) t->headers);
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
	t->handle = c;
	return c;
}

static void
release_handle(PgbHttpTarget *t)
{
	if (t->handle)
		curl_easy_cleanup((CURL *) t->handle);
	if (t->headers)
		curl_slist_free_all((struct curl_slist *) t->headers);
	t->handle = NULL;
	t->headers = NULL;
}

void
pgb_http_target_release(PgbHttpTarget *t)
{
	abandon_prefetch(t);
	release_handle(t);
	if (t->multi)
		curl_multi_cleanup((CURLM *) t->multi);
	t->multi = NULL;
	if (t->extra_header)
		explicit_bzero(t->extra_header, strlen(t->extra_header));
	t->extra_header = NULL;
}

/* Readies the target's handle for one request whose state is *a. No ereport. */
static CURL *
prepare_attempt(PgbHttpTarget *t, const char *url, Attempt *a)
{
	CURL	   *c;

	memset(a, 0, sizeof(*a));
	a->retry_after = -1;
	a->date = -1;
	a->total = -1;
	a->max_len = (size_t) pgb_http_max_body_kb * 1024;
	a->rc = CURLE_OUT_OF_MEMORY;

	c = target_handle(t);
	if (c == NULL)
		return NULL;
	/* a vendor's own Authorization header changes with each token: the list is rebuilt for it */
	if (t->headers_stale || t->auth_header)
	{
		struct curl_slist *h = make_headers(t);

		if (h == NULL)
			return NULL;
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_slist_free_all((struct curl_slist *) t->headers);
		t->headers = h;
		t->headers_stale = false;
	}
	a->handle = c;
	/* settings that may change between requests, and this attempt's state */
	curl_easy_setopt(c, CURLOPT_URL, url);
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
	return c;
}

/*
 * Unhooks the handle from an attempt's state before that state is freed or goes out of scope:
 * the handle outlives attempts, and curl may still write the error buffer or call a callback
 * (while closing a connection, for instance). The callbacks do nothing with a NULL state.
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

/* After a transfer on the target's handle: status, and a fresh handle after a transport failure. */
static void
end_attempt(PgbHttpTarget *t, CURL *c, Attempt *a)
{
	if (a->rc == CURLE_FILESIZE_EXCEEDED)
		a->too_big = true;		/* refused from Content-Length, before the body */
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	detach_attempt(c);
	if (a->rc != CURLE_OK)
		release_handle(t);
}

/*
 * Drives the transfer of c (already in the target's multi handle) to its end, waking every 100 ms
 * for interrupts. All requests go through the multi handle, so they share one connection pool.
 * No ereport.
 */
static void
run_transfer(PgbHttpTarget *t, CURL *c, Attempt *a)
{
	CURLM	   *m = (CURLM *) t->multi;
	int			running = 1;
	int			left;
	CURLMsg    *msg;

	a->rc = CURLE_ABORTED_BY_CALLBACK;
	while (running && !a->cancelled)
	{
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		if (running)
		{
			CURLMcode	rc;

			/* pg_stat_activity shows the wait as wait_event_type Extension */
			pgstat_report_wait_start(PG_WAIT_EXTENSION);
			rc = curl_multi_poll(m, NULL, 0, 100, NULL);
			pgstat_report_wait_end();
			if (rc != CURLM_OK)
				break;
		}
		/* an orphaned worker must not keep transferring while the server restarts */
		if (QueryCancelPending || ProcDiePending || !PostmasterIsAlive())
			a->cancelled = true;
	}
	while ((msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == c)
			a->rc = msg->data.result;
	curl_multi_remove_handle(m, c);
	end_attempt(t, c, a);
}

static bool
ensure_multi(PgbHttpTarget *t)
{
	if (t->multi == NULL)
		t->multi = curl_multi_init();
	return t->multi != NULL;
}

/* One request, waiting for it. No ereport from here to the end (callbacks only set flags in *a). */
static void
attempt_once(PgbHttpTarget *t, const char *url, Attempt *a)
{
	CURL	   *c = prepare_attempt(t, url, a);

	if (c == NULL)
		return;
	if (!ensure_multi(t) || curl_multi_add_handle((CURLM *) t->multi, c) != CURLM_OK)
	{
		detach_attempt(c);		/* *a is the caller's and will be gone */
		return;
	}
	run_transfer(t, c, a);
}

/* Drops a request started by pgb_http_prefetch that nobody will read. */
static void
abandon_prefetch(PgbHttpTarget *t)
{
	if (t->pending == NULL)
		return;
	curl_multi_remove_handle((CURLM *) t->multi, (CURL *) t->handle);
	detach_attempt((CURL *) t->handle);
	free(t->pending);
	t->pending = NULL;
	release_handle(t);		/* its connection may be mid-response: not reusable */
}

void
pgb_http_prefetch(PgbHttpTarget *t, const char *url)
{
	PgbUrl		u;
	const char *reason;
	Attempt    *a;
	CURL	   *c;
	int			running;

	if (t->pending || strlen(url) >= sizeof(t->pending_url) || t->requests >= pgb_http_run_max_requests ||
		!pgb_url_parse(url, &u, &reason) || !pgb_url_same_origin(&u, &t->origin))
		return;					/* pgb_http_get will do it (or refuse it) itself */
	ensure_curl();
	if (!ensure_multi(t))
		return;
	rate_limit(t);
	a = malloc(sizeof(Attempt));
	if (a == NULL)
		return;
	c = prepare_attempt(t, url, a);
	if (c == NULL || curl_multi_add_handle((CURLM *) t->multi, c) != CURLM_OK)
	{
		detach_attempt(c);
		free(a);
		return;
	}
	t->pending = a;
	strcpy(t->pending_url, url);
	t->requests++;
	(void) curl_multi_perform((CURLM *) t->multi, &running);	/* connect or reuse, send */
}

/* Waits for the prefetched request to end (interruptibly) and hands its outcome over. No ereport. */
static void
finish_prefetch(PgbHttpTarget *t, Attempt *out)
{
	Attempt    *a = (Attempt *) t->pending;

	run_transfer(t, (CURL *) t->handle, a);
	*out = *a;
	free(a);
	t->pending = NULL;
}

static int64
now_us(void)
{
	instr_time	t;

	INSTR_TIME_SET_CURRENT(t);
	return (int64) INSTR_TIME_GET_MICROSEC(t);
}

/* Sleeps ms, waking for interrupts (cancel, statement_timeout, terminate). */
static void
interruptible_sleep(long ms)
{
	int64		until = now_us() + (int64) ms * 1000;

	for (;;)
	{
		int64		left = until - now_us();

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(1, left / 1000), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static void
rate_limit(PgbHttpTarget *t)
{
	if (t->max_rps > 0 && t->last_request_us > 0)
	{
		int64		gap = (int64) (1e6 / t->max_rps);
		int64		wait = t->last_request_us + gap - now_us();

		if (wait > 0)
			interruptible_sleep((long) ((wait + 999) / 1000));
	}
	t->last_request_us = now_us();
}

/* Transport failures worth another attempt. */
static bool
curl_retryable(CURLcode rc)
{
	switch (rc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return true;
		default:
			return false;
	}
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
fail(PgbHttpTarget *t, const char *what, Attempt *a, int attempts, int sqlstate, const char *hint)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("%s: request failed: %s", what, describe(a)),
			 a->len > 0 && a->status >= 300 ?
			 errdetail("%d attempt(s); HTTP status %ld; response of %zu bytes, hash %016llx.", attempts,
					   a->status, a->len, (unsigned long long) hash_bytes_extended((const unsigned char *) body_buf, (int) a->len, 0)) :
			 errdetail("%d attempt(s).", attempts),
			 hint ? errhint("%s", hint) : 0));
}

/* pg_billing.run_max_requests: a server that never stops paging cannot keep a run going. */
static void
check_run_requests(PgbHttpTarget *t, const char *what)
{
	if (t->requests >= pgb_http_run_max_requests)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: the run has made pg_billing.run_max_requests (%d) requests, run stopped",
						what, pgb_http_run_max_requests),
				 errhint("The pages committed so far stay; a later sync resumes from there. A superuser can raise the setting.")));
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

static bool
http_get(PgbHttpTarget *t, const char *url, const char *what, PgbHttpResponse *resp, bool may_be_gone)
{
	PgbUrl		u;
	const char *reason;
	Attempt		a;
	int			attempt;
	bool		refreshed = false;

	ensure_curl();
	if (!pgb_url_parse(url, &u, &reason) || !pgb_url_same_origin(&u, &t->origin))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s: refused a request outside the source's base_url", what)));

	for (attempt = 0;; attempt++)
	{
		long		wait_ms;

		if (attempt == 0 && t->pending && strcmp(t->pending_url, url) == 0)
			finish_prefetch(t, &a);		/* sent while the previous page was being stored */
		else
		{
			check_run_requests(t, what);
			abandon_prefetch(t);
			pgb_http_auth_ensure(t, false);	/* a token near its expiry is renewed first */
			rate_limit(t);
			t->requests++;
			if (attempt > 0)
				t->retries++;
			attempt_once(t, url, &a);
		}
		CHECK_FOR_INTERRUPTS();
		if (a.cancelled)
			ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED), errmsg("canceling HTTP request")));

		if (a.rc == CURLE_OK && a.status >= 200 && a.status < 300)
		{
			t->body_bytes += (int64) a.len;
			check_run_bytes(t, what);
			resp->status = a.status;
			resp->body = body_buf ? body_buf : "";
			resp->len = a.len;
			resp->date = a.date;
			strlcpy(link_buf, a.link, sizeof(link_buf));
			resp->link = link_buf[0] ? link_buf : NULL;
			resp->total = a.total;
			return true;
		}
		if (may_be_gone && a.rc == CURLE_OK && a.status == 404)
			return false;
		if (a.too_big || a.too_compressed || a.out_of_memory || a.refused_address)
			fail(t, what, &a, attempt + 1, ERRCODE_PROGRAM_LIMIT_EXCEEDED, NULL);
		if (a.rc == CURLE_PEER_FAILED_VERIFICATION || a.rc == CURLE_SSL_CONNECT_ERROR ||
			a.rc == CURLE_SSL_CACERT_BADFILE || a.rc == CURLE_SSL_CERTPROBLEM || a.rc == CURLE_SSL_ISSUER_ERROR)
			fail(t, what, &a, attempt + 1, ERRCODE_CONNECTION_FAILURE,
				 "The server's TLS certificate was not accepted; verification is never turned off. pg_billing.ca_file names extra trusted CAs.");
		if (a.rc == CURLE_OK && a.status >= 300 && a.status < 400)
			fail(t, what, &a, attempt + 1, ERRCODE_CONNECTION_FAILURE, "Redirects are not followed; check the source's base_url.");
		/* a token the server no longer takes is renewed once, then the request is tried again */
		if (a.rc == CURLE_OK && a.status == 401 && t->auth && !refreshed)
		{
			refreshed = true;
			pgb_http_auth_ensure(t, true);
			continue;
		}
		if (a.rc == CURLE_OK && (a.status == 401 || a.status == 403))
			fail(t, what, &a, attempt + 1, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
				 "Check the source's API key with billing.set_credentials().");
		if (!(a.rc == CURLE_OK ? pgb_http_status_retryable(a.status) : curl_retryable(a.rc)))
			fail(t, what, &a, attempt + 1, ERRCODE_CONNECTION_FAILURE, NULL);
		if (attempt >= pgb_http_max_retries)
			fail(t, what, &a, attempt + 1, ERRCODE_CONNECTION_FAILURE,
				 "The run stopped after the last committed page; a later sync resumes from there.");

		if (a.rc == CURLE_OK && (a.status == 429 || a.status == 503) && a.retry_after >= 0)
		{
			if (a.retry_after > pgb_http_max_retry_after_s)
				fail(t, what, &a, attempt + 1, ERRCODE_CONNECTION_FAILURE,
					 psprintf("The server asked to wait %ld s, more than pg_billing.http_max_retry_after (%d s).",
							  a.retry_after, pgb_http_max_retry_after_s));
			wait_ms = a.retry_after * 1000;
		}
		else
			wait_ms = pgb_backoff_ms(attempt, pgb_http_retry_base_ms, pgb_http_retry_max_ms,
									 pg_prng_double(&pg_global_prng_state));
		elog(DEBUG1, "pg_billing: source \"%s\": %s: %s; retrying in %ld ms",
			 t->source_name, what, describe(&a), wait_ms);
		t->waited_ms += wait_ms;
		interruptible_sleep(wait_ms);
	}
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

void
pgb_http_release_buffer(void)
{
	free(body_buf);
	body_buf = NULL;
	body_cap = 0;
}
