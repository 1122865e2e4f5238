/*
 * http_queue.c: runs a target's requests, several at once. Requests start in the order they were
 * made, while fewer than max_concurrent are in flight, no sooner than max_rps allows and never
 * during a 429's pause; a failed attempt is tried again after its backoff (or Retry-After) while
 * the others go on; a 401 renews the token once for every request sent with the old one. All of
 * them share the target's one multi handle (one connection pool). Waiting wakes at least every
 * 100 ms for a cancel, a terminate or the postmaster's death. Nothing here runs inside a curl
 * callback; errors are raised only between transfers, with every handle left in a state that
 * pgb_http_target_release can free.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "utils/wait_event.h"

#include "http/http_auth.h"
#include "http/http_request.h"

/* Longest wait between two looks at interrupts. */
#define WAKE_MS 100

int64
pgb_http_now_us(void)
{
	instr_time	t;

	INSTR_TIME_SET_CURRENT(t);
	return (int64) INSTR_TIME_GET_MICROSEC(t);
}

/* Transport failures worth another attempt. */
bool
pgb_http_curl_retryable(CURLcode rc)
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

static int
running_count(const PgbHttpTarget *t)
{
	const Request *r = (const Request *) t->reqs;
	int			n = 0;

	for (int i = 0; r && i < MAX_REQUESTS; i++)
		n += r[i].state == RQ_RUNNING;
	return n;
}

/* Milliseconds from now to then, at least 1 when then is ahead, capped at WAKE_MS. */
static long
ms_until(int64 then, int64 now)
{
	if (then <= now)
		return 0;
	return Min(WAKE_MS, (then - now + 999) / 1000);
}

/* The queued request to start next: the oldest whose backoff is over; *soonest: when one will be. */
static Request *
next_queued(PgbHttpTarget *t, int64 now, int64 *soonest)
{
	Request    *r = (Request *) t->reqs;
	Request    *best = NULL;

	*soonest = PG_INT64_MAX;
	for (int i = 0; r && i < MAX_REQUESTS; i++)
	{
		if (r[i].state != RQ_QUEUED)
			continue;
		if (r[i].not_before_us > now)
			*soonest = Min(*soonest, r[i].not_before_us);
		else if (best == NULL || r[i].seq < best->seq)
			best = &r[i];
	}
	return best;
}

/*
 * Starts what may start now; returns how long to wait before something else may (WAKE_MS when
 * only an answer can change that). A token near its expiry is renewed first (this may raise).
 */
static long
start_ready(PgbHttpTarget *t)
{
	for (;;)
	{
		int64		now = pgb_http_now_us();
		int64		soonest;
		Request    *rq;

		if (running_count(t) >= Max(1, t->max_concurrent) || t->requests >= pgb_http_run_max_requests)
			return WAKE_MS;
		rq = next_queued(t, now, &soonest);
		if (rq == NULL)
			return soonest == PG_INT64_MAX ? WAKE_MS : Max(1, ms_until(soonest, now));
		if (t->pause_until_us > now)
			return Max(1, ms_until(t->pause_until_us, now));
		if (t->max_rps > 0 && t->last_request_us > 0 &&
			t->last_request_us + (int64) (1e6 / t->max_rps) > now)
			return Max(1, ms_until(t->last_request_us + (int64) (1e6 / t->max_rps), now));
		pgb_http_auth_ensure(t, false);
		t->last_request_us = pgb_http_now_us();
		t->requests++;
		if (rq->attempts > 0)
			t->retries++;
		rq->attempts++;
		rq->token_gen = t->token_gen;
		if (!pgb_http_start(t, rq))
			rq->state = RQ_DONE;	/* out of memory: reported as the attempt's failure */
	}
}

/* A retry's wait: the server's Retry-After on 429/503, else capped exponential backoff with jitter. */
static long
retry_wait_ms(Request *rq)
{
	Attempt    *a = &rq->a;

	if (a->rc == CURLE_OK && (a->status == 429 || a->status == 503) && a->retry_after >= 0)
		return a->retry_after * 1000;
	return pgb_backoff_ms(rq->attempts - 1, pgb_http_retry_base_ms, pgb_http_retry_max_ms,
						  pg_prng_double(&pg_global_prng_state));
}

/* True when rq's last attempt is worth another one (the same rules as always, in the same order). */
static bool
retryable(PgbHttpTarget *t, Request *rq)
{
	Attempt    *a = &rq->a;

	if (a->cancelled || (a->rc == CURLE_OK && a->status >= 200 && a->status < 300) ||
		(a->rc == CURLE_OK && a->status == 404))
		return false;
	if (a->too_big || a->too_compressed || a->out_of_memory || a->refused_address)
		return false;
	if (a->rc == CURLE_OK && (a->status == 401 || a->status == 403))
		return false;
	if (!(a->rc == CURLE_OK ? pgb_http_status_retryable(a->status) : pgb_http_curl_retryable(a->rc)))
		return false;
	if (rq->attempts - 1 >= pgb_http_max_retries)
		return false;
	return !(a->rc == CURLE_OK && (a->status == 429 || a->status == 503) &&
			 a->retry_after > pgb_http_max_retry_after_s);
}

/*
 * What follows an attempt that ended: done (an answer or a failure, reported to whoever waits for
 * it), or queued again. A 401 renews the token once (unless a request sent after rq's already
 * did); a 429 pauses every request of the target, not only this one.
 */
static void
after_attempt(PgbHttpTarget *t, Request *rq)
{
	Attempt    *a = &rq->a;
	long		wait_ms;

	rq->state = RQ_DONE;
	if (a->rc == CURLE_OK && a->status == 401 && t->auth && !rq->refreshed && !a->cancelled)
	{
		rq->refreshed = true;
		if (rq->token_gen == t->token_gen)
		{
			pgb_http_auth_ensure(t, true);
			t->token_gen++;
		}
		rq->state = RQ_QUEUED;
		rq->not_before_us = 0;
		return;
	}
	if (!retryable(t, rq))
		return;
	wait_ms = retry_wait_ms(rq);
	elog(DEBUG1, "pg_billing: source \"%s\": %s: HTTP status %ld (curl %d); retrying in %ld ms",
		 t->source_name, rq->url, a->status, (int) a->rc, wait_ms);
	t->waited_ms += wait_ms;
	rq->not_before_us = pgb_http_now_us() + (int64) wait_ms * 1000;
	if (a->rc == CURLE_OK && a->status == 429)
		t->pause_until_us = Max(t->pause_until_us, rq->not_before_us);
	rq->state = RQ_QUEUED;
}

/*
 * Takes the transfers that ended out of the multi handle and decides what follows each; returns
 * how many ended.
 */
static int
collect(PgbHttpTarget *t)
{
	CURLM	   *m = (CURLM *) t->multi;
	Request    *r = (Request *) t->reqs;
	CURLMsg    *msg;
	int			left;
	int			ended = 0;

	while (m && (msg = curl_multi_info_read(m, &left)) != NULL)
	{
		if (msg->msg != CURLMSG_DONE)
			continue;
		for (int i = 0; r && i < MAX_REQUESTS; i++)
		{
			if (r[i].state != RQ_RUNNING || r[i].easy != msg->easy_handle)
				continue;
			r[i].a.rc = msg->data.result;
			curl_multi_remove_handle(m, r[i].easy);
			pgb_http_end_attempt(&r[i]);
			after_attempt(t, &r[i]);
			ended++;
			break;
		}
	}
	return ended;
}

/*
 * Moves the transfers on; waits up to wait_ms for one of them (or for nothing, when none runs).
 * A transfer that ends before the wait ends it: wait_ms was worked out while it still held its
 * place in flight, and a queued request may take that place now (waiting on the others' sockets
 * instead left a place empty until the next of them answered, up to WAKE_MS later).
 */
static void
drive(PgbHttpTarget *t, long wait_ms)
{
	CURLM	   *m = (CURLM *) t->multi;
	int			running = 0;

	if (m)
	{
		(void) curl_multi_perform(m, &running);
		if (collect(t) > 0)
			return;
	}
	if (wait_ms <= 0)
		return;
	/* pg_stat_activity shows the wait as wait_event_type Extension */
	pgstat_report_wait_start(PG_WAIT_EXTENSION);
	if (m && running > 0)
		(void) curl_multi_poll(m, NULL, 0, (int) wait_ms, NULL);
	else
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	pgstat_report_wait_end();
	if (m)
	{
		(void) curl_multi_perform(m, &running);
		collect(t);
	}
}

/* A cancel, a terminate or an orphaned backend: every transfer stops, then the error is raised. */
static void
stop_for_interrupt(PgbHttpTarget *t)
{
	Request    *r = (Request *) t->reqs;

	for (int i = 0; r && i < MAX_REQUESTS; i++)
		if (r[i].state != RQ_FREE)
			pgb_http_discard(t, &r[i]);
	CHECK_FOR_INTERRUPTS();
	ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED), errmsg("canceling HTTP request")));
}

static bool
interrupted(void)
{
	return QueryCancelPending || ProcDiePending || !PostmasterIsAlive();
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

/*
 * Runs the queue until rq's outcome is final (the caller reads it); the other requests go on
 * meanwhile. Raises for an interrupt, or when rq cannot start for run_max_requests.
 */
void
pgb_http_wait(PgbHttpTarget *t, Request *rq, const char *what)
{
	while (rq->state != RQ_DONE)
	{
		long		wait_ms;

		if (rq->state == RQ_QUEUED && rq->not_before_us <= pgb_http_now_us())
			check_run_requests(t, what);
		wait_ms = start_ready(t);
		drive(t, rq->state == RQ_DONE ? 0 : wait_ms);
		if (interrupted() || rq->a.cancelled)
			stop_for_interrupt(t);
	}
	if (interrupted() || rq->a.cancelled)
		stop_for_interrupt(t);
}

void
pgb_http_kick(PgbHttpTarget *t)
{
	(void) start_ready(t);
	drive(t, 0);
}

void
pgb_http_progress(PgbHttpTarget *t)
{
	if (t->multi != NULL)
		pgb_http_kick(t);
}

/*
 * The bound is pgb_http_prefetch's (twice the requests in flight, http_client.c); the answers held
 * are the requests sent ahead and not claimed yet, whatever their state.
 */
int
pgb_http_ahead_room(const PgbHttpTarget *t)
{
	const Request *r = (const Request *) t->reqs;
	int			held = 0;

	if (t->requests >= pgb_http_run_max_requests)
		return 0;
	for (int i = 0; r && i < MAX_REQUESTS; i++)
		held += r[i].state != RQ_FREE && r[i].prefetched;
	return Max(0, 2 * Max(1, t->max_concurrent) - held);
}
