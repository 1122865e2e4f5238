/*
 * xero_api.c: Xero requests over curl multi. Up to PGB_XERO_MAX_IN_FLIGHT transfers run at once on
 * one multi handle (one connection pool); each has its own easy handle and state. Nothing in a curl
 * callback or during a transfer may ereport (a longjmp through libcurl corrupts it): callbacks only
 * fill their request's state (malloc'd), and the answers are copied into palloc'd memory once every
 * transfer of the round has ended.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "utils/wait_event.h"

#include "http/http_transfer.h"
#include "push/xero_api.h"

/* The state of one transfer, filled by callbacks (malloc'd: callbacks cannot palloc). */
typedef struct Transfer
{
	PgbXeroReq *req;
	CURL	   *easy;
	struct curl_slist *headers;
	PgbTransferSink sink;		/* the answer; too big, refused, cancelled */
	long		retry_after;
	long		day_remaining;
	char		problem[16];
	CURLcode	rc;
} Transfer;

int64
pgb_xero_now_us(void)
{
	instr_time	t;

	INSTR_TIME_SET_CURRENT(t);
	return (int64) INSTR_TIME_GET_MICROSEC(t);
}

char *
pgb_xero_strdup(const char *s)
{
	char	   *p;

	if (s == NULL)
		return NULL;
	p = strdup(s);
	if (p == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return p;
}

void
pgb_xero_wipe(char **s)
{
	if (*s)
	{
		explicit_bzero(*s, strlen(*s));
		free(*s);
	}
	*s = NULL;
}

void
pgb_xero_client_init(PgbXeroClient *c, const char *source_name, const char *base_url, const char *token_url)
{
	memset(c, 0, sizeof(*c));
	pgb_http_target_init(&c->target, source_name, base_url);
	pgb_http_target_init(&c->token_target, source_name, token_url);
	c->per_minute = PGB_XERO_PER_MINUTE;
	c->max_in_flight = PGB_XERO_MAX_IN_FLIGHT;
	c->day_remaining = -1;
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR, (errcode(ERRCODE_SYSTEM_ERROR), errmsg("could not initialise libcurl")));
}

void
pgb_xero_client_release(PgbXeroClient *c)
{
	pgb_xero_wipe(&c->bearer);
	pgb_xero_wipe(&c->client_id);
	pgb_xero_wipe(&c->client_secret);
	pgb_xero_wipe(&c->tenant_id);
}

void
pgb_xero_sleep(PgbXeroClient *c, long ms)
{
	int64		until = pgb_xero_now_us() + (int64) ms * 1000;

	c->waited_ms += ms;
	for (;;)
	{
		int64		left = until - pgb_xero_now_us();

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(1, left / 1000), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* A header value as a non-negative number, or -1. */
static long
header_number(const char *v)
{
	long		n = 0;
	int			digits = 0;

	while (*v == ' ')
		v++;
	for (; *v >= '0' && *v <= '9' && digits < 12; v++, digits++)
		n = n * 10 + (*v - '0');
	return digits > 0 ? n : -1;
}

static size_t
header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	Transfer   *t = (Transfer *) arg;
	size_t		n = size * nmemb;
	char		line[256];
	size_t		l = Min(n, sizeof(line) - 1);

	memcpy(line, data, l);
	line[l] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "HTTP/", 5) == 0)
	{
		t->retry_after = -1;
		t->problem[0] = '\0';
	}
	else if (strncasecmp(line, "retry-after:", 12) == 0)
		t->retry_after = pgb_parse_retry_after(line + 12, time(NULL));
	else if (strncasecmp(line, "x-daylimit-remaining:", 21) == 0)
		t->day_remaining = header_number(line + 21);
	else if (strncasecmp(line, "x-rate-limit-problem:", 21) == 0)
	{
		const char *v = line + 21;

		while (*v == ' ')
			v++;
		strlcpy(t->problem, v, sizeof(t->problem));
	}
	return n;
}

static bool
add_header(Transfer *t, const char *name, const char *value)
{
	char		line[512];
	struct curl_slist *n;

	if (snprintf(line, sizeof(line), "%s: %s", name, value) >= (int) sizeof(line))
		return false;
	n = curl_slist_append(t->headers, line);
	explicit_bzero(line, sizeof(line));
	if (n == NULL)
		return false;
	t->headers = n;
	return true;
}

/* Readies one transfer. No ereport: false when out of memory. */
static bool
prepare(PgbXeroClient *c, Transfer *t, bool token_request)
{
	PgbXeroReq *r = t->req;

	t->retry_after = -1;
	t->day_remaining = -1;
	t->rc = CURLE_OUT_OF_MEMORY;
	t->easy = curl_easy_init();
	if (t->easy == NULL)
		return false;
	if (!add_header(t, "Accept", "application/json") ||
		!add_header(t, "User-Agent", "pg_billing/" PGB_VERSION) ||
		(r->body && !add_header(t, "Content-Type", r->form ? "application/x-www-form-urlencoded" : "application/json")) ||
		(!token_request && c->tenant_id && !add_header(t, "xero-tenant-id", c->tenant_id)) ||
		(r->idempotency_key && !add_header(t, "Idempotency-Key", r->idempotency_key)))
		return false;
	pgb_transfer_setup(t->easy, r->url, &t->sink, PGB_XERO_MAX_ANSWER);
	curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, r->method);
	if (r->body)
	{
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(r->body));
	}
	else if (strcmp(r->method, "GET") == 0)
		curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	if (token_request && r->basic && c->client_id && c->client_secret)
	{
		curl_easy_setopt(t->easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		curl_easy_setopt(t->easy, CURLOPT_USERNAME, c->client_id);
		curl_easy_setopt(t->easy, CURLOPT_PASSWORD, c->client_secret);
	}
	else if (!token_request && c->bearer)
	{
		curl_easy_setopt(t->easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
		curl_easy_setopt(t->easy, CURLOPT_XOAUTH2_BEARER, c->bearer);
	}
	curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
	return true;
}

/* Copies a finished transfer's outcome into its request (palloc here: no transfer is running). */
static void
conclude(PgbXeroClient *c, Transfer *t)
{
	PgbXeroReq *r = t->req;

	r->status = 0;
	if (t->easy)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r->status);
	r->retry_after = t->retry_after;
	r->day_remaining = t->day_remaining;
	r->cancelled = t->sink.cancelled;
	strlcpy(r->problem, t->problem, sizeof(r->problem));
	if (t->rc == CURLE_OK)
	{
		r->reached = true;
		r->answer = palloc(t->sink.len + 1);
		if (t->sink.len)
			memcpy(r->answer, t->sink.buf, t->sink.len);
		r->answer[t->sink.len] = '\0';
		r->answer_len = t->sink.len;
		r->error[0] = '\0';
		if (t->day_remaining >= 0)
			c->day_remaining = t->day_remaining;
	}
	else
	{
		r->status = 0;
		/* a transfer that could not be started (no easy handle) never left this side */
		r->reached = t->easy != NULL && pgb_transfer_maybe_reached(t->rc, &t->sink);
		pgb_transfer_describe(t->rc, &t->sink, r->error, sizeof(r->error));
	}
}

static void
free_transfer(Transfer *t)
{
	if (t->easy)
		curl_easy_cleanup(t->easy);
	if (t->headers)
		curl_slist_free_all(t->headers);
	pgb_transfer_sink_free(&t->sink);
	memset(t, 0, sizeof(*t));
}

/* Waits until k more requests fit in the minute window (the last per_minute start times). */
static void
minute_slots(PgbXeroClient *c, int k)
{
	int			len = Max(1, Min(c->per_minute, PGB_XERO_PER_MINUTE));

	for (int i = 0; i < k; i++)
	{
		int			slot = c->window_next % len;
		int64		oldest = c->window[slot];
		int64		wait_us = oldest == 0 ? 0 : oldest + 60 * INT64CONST(1000000) - pgb_xero_now_us();

		if (wait_us > 0)
			pgb_xero_sleep(c, (long) ((wait_us + 999) / 1000));
		c->window[slot] = pgb_xero_now_us();
		c->window_next = (slot + 1) % len;
	}
}

/* Runs one round of at most max_in_flight transfers to their end. No ereport inside. */
static void
run_round(PgbXeroClient *c, Transfer *ts, int n, bool token_request)
{
	CURLM	   *m = curl_multi_init();
	int			running = 0;
	bool		cancel = false;
	CURLMsg    *msg;
	int			left;

	for (int i = 0; i < n; i++)
	{
		if (m == NULL || !prepare(c, &ts[i], token_request) || curl_multi_add_handle(m, ts[i].easy) != CURLM_OK)
		{
			if (ts[i].easy)
				curl_easy_cleanup(ts[i].easy);
			ts[i].easy = NULL;
			ts[i].rc = CURLE_OUT_OF_MEMORY;
			continue;
		}
		ts[i].rc = CURLE_ABORTED_BY_CALLBACK;
		running++;
	}
	while (m && running > 0 && !cancel)
	{
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(m, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE)
				for (int i = 0; i < n; i++)
					if (ts[i].easy == msg->easy_handle)
						ts[i].rc = msg->data.result;
		if (running > 0)
		{
			pgstat_report_wait_start(PG_WAIT_EXTENSION);
			(void) curl_multi_poll(m, NULL, 0, 100, NULL);
			pgstat_report_wait_end();
		}
		if (QueryCancelPending || ProcDiePending || !PostmasterIsAlive())
			cancel = true;
	}
	while (m && (msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			for (int i = 0; i < n; i++)
				if (ts[i].easy == msg->easy_handle)
					ts[i].rc = msg->data.result;
	for (int i = 0; i < n; i++)
	{
		if (cancel)
			ts[i].sink.cancelled = true;
		if (m && ts[i].easy)
			curl_multi_remove_handle(m, ts[i].easy);
	}
	if (m)
		curl_multi_cleanup(m);
}

void
pgb_xero_send(PgbXeroClient *c, PgbXeroReq *reqs, int n, bool token_request)
{
	int			at_once = Max(1, Min(c->max_in_flight, PGB_XERO_MAX_IN_FLIGHT));

	for (int start = 0; start < n; start += at_once)
	{
		int			k = Min(at_once, n - start);
		Transfer	ts[PGB_XERO_MAX_IN_FLIGHT];
		bool		cancelled = false;

		memset(ts, 0, sizeof(ts));
		for (int i = 0; i < k; i++)
			ts[i].req = &reqs[start + i];
		if (!token_request)
		{
			minute_slots(c, k);
			c->requests += k;
		}
		run_round(c, ts, k, token_request);
		for (int i = 0; i < k; i++)
		{
			conclude(c, &ts[i]);
			cancelled |= ts[i].sink.cancelled;
			free_transfer(&ts[i]);
		}
		if (cancelled)
		{
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED), errmsg("canceling the push: the server is shutting down")));
		}
	}
}
