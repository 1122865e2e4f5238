/*
 * splynx_post.c: posts Xero payments to a Splynx source (payment_mode xero or mixed; issue 12,
 * docs/splynx-payment-modes.md). One run of a source:
 *
 *   1. load the source and authenticate as its sync does (the Splynx connector's own token or Basic
 *      auth, pgb_source_auth), take the source's post lock, turn posts a dead run left "sending"
 *      into "unknown";
 *   2. queue the Xero payments to post (billing._splynx_post_enqueue);
 *   3. repeat: look up every unknown post by its receipt_number (GET /admin/finance/payments with
 *      main_attributes[receipt_number]); claim up to 10 pending posts (state sending, committed);
 *      POST each to /admin/finance/payments and record its outcome at once (its own transaction).
 *
 * No transaction is open while a request is on the network. A kill at any point leaves a post
 * pending (not sent), sending (becomes unknown and is looked up by the next run) or recorded, so a
 * payment is never lost nor posted twice. The POST is one curl transfer with the rules every
 * request keeps (http/http_transfer.c: https, verified, no private addresses, bounded).
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lock.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

/* utils/builtins.h clashes with jansson (json_object), which connector.h may pull in */
extern text *cstring_to_text(const char *s);
#define CStringGetTextDatum(s) PointerGetDatum(cstring_to_text(s))

#include "connectors/connector.h"
#include "http/http_auth.h"
#include "http/http_client.h"
#include "http/http_transfer.h"
#include "push/push_step.h"

PG_FUNCTION_INFO_V1(pgb_splynx_post_connector);

#define LOCK_FIELD4 0x5350		/* 'SP': the post lock of a Splynx source (push 0x5055, sync 0x5042) */
#define CLAIM_MAX 10
#define MAX_ANSWER (1024 * 1024)

typedef enum Outcome
{
	OUT_ANSWERED,
	OUT_UNSENT,
	OUT_UNKNOWN
} Outcome;

typedef struct PostRun
{
	int64		run_id;
	PgbSource	src;
	bool		http_ready;
	bool		locked;
	bool		done;
	bool		had_unknown;	/* a post of this run got no usable answer */
	char	   *stop;			/* the run's error, or NULL */
	int64		requests;		/* POSTs sent (GETs are counted by the target) */
	/* the claimed posts of a round */
	int			n;
	int			next;
	int64		ids[CLAIM_MAX];
	char	   *bodies[CLAIM_MAX];
	/* the outcome of the last POST */
	Outcome		outcome;
	long		status;
	char	   *answer;
	char		error[256];
	MemoryContext cxt;
	MemoryContext step_cxt;
	MemoryContext round_cxt;
} PostRun;

typedef void (*StepFn) (PostRun *run);

static char *
col(int row, int n)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, n);
}

/* A step and its run, for pgb_push_run_step's one argument. */
typedef struct StepCall
{
	StepFn		fn;
	PostRun    *run;
} StepCall;

static void
call_step(void *arg)
{
	StepCall   *c = (StepCall *) arg;

	c->fn(c->run);
}

/* Runs fn in a subtransaction with a safe search_path; returns its error (in the run's context) or NULL. */
static ErrorData *
run_step(PostRun *run, StepFn fn)
{
	StepCall	c = {fn, run};

	return pgb_push_run_step(call_step, &c, run->cxt, run->step_cxt);
}

/* The source, its options and its authentication (a token is fetched now in token mode). */
static void
step_load(PostRun *run)
{
	MemoryContext old;
	char	   *secret;
	size_t		len;

	if (SPI_execute_with_args("SELECT s.id, s.name, s.kind, s.base_url, s.options::text, c.secret::text"
							  " FROM billing.splynx_post_runs r JOIN billing.sources s ON s.id = r.source_id"
							  " LEFT JOIN billing._credentials c ON c.source_id = s.id WHERE r.id = $1",
							  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(run->run_id)}, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("post run " INT64_FORMAT " does not exist", run->run_id)));
	old = MemoryContextSwitchTo(run->cxt);
	run->src.id = strtoll(col(0, 1), NULL, 10);
	run->src.name = col(0, 2);
	run->src.kind = col(0, 3);
	run->src.base_url = col(0, 4);
	run->src.options_json = col(0, 5);
	secret = col(0, 6);
	MemoryContextSwitchTo(old);
	if (strcmp(run->src.kind, "splynx") != 0 || run->src.base_url == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("source \"%s\" is not a splynx source with a base_url", run->src.name)));
	len = strlen(run->src.base_url);
	while (len > 0 && run->src.base_url[len - 1] == '/')
		run->src.base_url[--len] = '\0';
	run->src.conn = pgb_connector_for_kind("splynx");
	if (run->src.conn == NULL)
		elog(ERROR, "the splynx connector is not registered");
	run->src.max_rps = 5;
	pgb_http_target_init(&run->src.http, run->src.name, run->src.base_url);
	run->src.http.max_rps = run->src.max_rps;
	run->http_ready = true;
	if (secret == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
						errmsg("source \"%s\" has no credentials", run->src.name),
						errhint("Set api_key and api_secret with billing.set_credentials().")));
	old = MemoryContextSwitchTo(run->cxt);
	pgb_source_auth(&run->src, secret);	/* wipes secret */
	MemoryContextSwitchTo(old);
}

static void
lock_tag(LOCKTAG *tag, int64 source)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (source >> 32), (uint32) source, LOCK_FIELD4);
}

/* One post run per source at a time; then what a dead run left sending becomes unknown, and new Xero payments are queued. */
static void
step_lock(PostRun *run)
{
	LOCKTAG		tag;

	lock_tag(&tag, run->src.id);
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		ereport(ERROR, (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
						errmsg("source \"%s\" is being posted to by another session", run->src.name),
						errhint("Wait for that run to end; billing.splynx_post_runs shows it.")));
	run->locked = true;
	if (SPI_execute_with_args("SELECT billing._splynx_post_recover($1, $2)", 2, (Oid[]) {INT8OID, INT8OID},
							  (Datum[]) {Int64GetDatum(run->src.id), Int64GetDatum(run->run_id)}, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_execute_with_args("UPDATE billing.splynx_post_runs r SET enqueued = billing._splynx_post_enqueue(r.source_id) WHERE r.id = $1",
							  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(run->run_id)}, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not queue the posts");
}

static char *
url_escape(const char *s)
{
	char	   *e = curl_easy_escape(NULL, s, 0);
	char	   *out;

	if (e == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	out = pstrdup(e);
	curl_free(e);
	return out;
}

/*
 * Looks up up to 10 posts of unknown outcome by receipt_number. A look-up that fails raises (the
 * run stops; nothing is posted while an outcome is unknown). When a post this run sent without an
 * answer is not found, the run stops too: it is posted again by the next run, not in a loop.
 */
static void
step_lookups(PostRun *run)
{
	int			n;
	int64	   *ids;
	char	  **refs;
	bool		missing = false;

	if (SPI_execute_with_args("SELECT id, receipt_number FROM billing._splynx_post_lookups($1, 10)", 1,
							  (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(run->src.id)}, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the look-ups");
	n = (int) SPI_processed;
	ids = palloc(sizeof(int64) * Max(n, 1));
	refs = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		ids[i] = strtoll(col(i, 1), NULL, 10);
		refs[i] = col(i, 2);
	}
	for (int i = 0; i < n; i++)
	{
		PgbHttpResponse resp;
		char	   *url = psprintf("%s/admin/finance/payments?main_attributes%%5Breceipt_number%%5D=%s",
								   run->src.base_url, url_escape(refs[i]));

		pgb_http_get(&run->src.http, url, "payment look-up", &resp);
		if (SPI_execute_with_args("SELECT billing._splynx_post_lookup_result($1, $2, $3)", 3,
								  (Oid[]) {INT8OID, INT8OID, TEXTOID},
								  (Datum[]) {Int64GetDatum(run->run_id), Int64GetDatum(ids[i]),
							  CStringGetTextDatum(pnstrdup(resp.body ? resp.body : "[]", resp.body ? resp.len : 2))},
								  NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not record a look-up");
		if (strcmp(col(0, 1), "f") == 0)
			missing = true;
	}
	if (missing && run->had_unknown)
	{
		run->stop = MemoryContextStrdup(run->cxt,
										"Splynx gave no usable answer to a payment post, and the payment is not in Splynx: it is posted again by the next run");
		run->done = true;
	}
}

static bool
unknown_left(PostRun *run)
{
	if (SPI_execute_with_args("SELECT 1 FROM billing.splynx_posts p WHERE p.source_id = $1 AND p.state = 'unknown' LIMIT 1", 1,
							  (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(run->src.id)}, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the posts");
	return SPI_processed > 0;
}

/* Claims up to 10 pending posts (sending; committed by the caller before any is sent). */
static void
step_claim(PostRun *run)
{
	MemoryContext old;

	MemoryContextReset(run->round_cxt);
	run->n = run->next = 0;
	if (SPI_execute_with_args("SELECT id, body FROM billing._splynx_post_claim($1, $2)", 2, (Oid[]) {INT8OID, INT4OID},
							  (Datum[]) {Int64GetDatum(run->src.id), Int32GetDatum(CLAIM_MAX)}, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not claim posts");
	old = MemoryContextSwitchTo(run->round_cxt);
	for (uint64 i = 0; i < SPI_processed && i < CLAIM_MAX; i++)
	{
		run->ids[run->n] = strtoll(col(i, 1), NULL, 10);
		run->bodies[run->n] = col(i, 2);
		run->n++;
	}
	MemoryContextSwitchTo(old);
	if (run->n == 0)
		run->done = true;
}

static void
free_headers(struct curl_slist *h)
{
	/* one of them carries the access token */
	for (struct curl_slist *l = h; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(h);
}

/*
 * One POST of a JSON body with the target's authentication. Returns the HTTP status (0 when there
 * was no answer); *reached says whether it may have reached Splynx; the answer is palloc'd.
 */
static long
post_once(PostRun *run, const char *url, const char *body, bool *reached, char **answer, char *error, size_t errlen)
{
	PgbHttpTarget *t = &run->src.http;
	PgbTransferSink sink = {0};
	CURL	   *c;
	struct curl_slist *h = NULL;
	struct curl_slist *n;
	CURLcode	rc;
	long		status = 0;
	const char *fixed[] = {"Accept: application/json", "Content-Type: application/json",
	"User-Agent: pg_billing/" PGB_VERSION, t->auth_header};

	*reached = false;
	*answer = NULL;
	error[0] = '\0';
	c = curl_easy_init();
	if (c == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	for (int i = 0; i < lengthof(fixed); i++)
	{
		if (fixed[i] == NULL)
			continue;
		n = curl_slist_append(h, fixed[i]);
		if (n == NULL)
		{
			free_headers(h);
			curl_easy_cleanup(c);
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		}
		h = n;
	}
	pgb_transfer_setup(c, url, &sink, MAX_ANSWER);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (t->userpwd)
	{
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, t->userpwd);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	free_headers(h);
	run->requests++;
	t->requests++;
	*reached = pgb_transfer_maybe_reached(rc, &sink);
	if (rc != CURLE_OK)
		pgb_transfer_describe(rc, &sink, error, errlen);
	else if (sink.buf)
		*answer = pnstrdup(sink.buf, sink.len);
	pgb_transfer_sink_free(&sink);
	if (sink.cancelled)
		CHECK_FOR_INTERRUPTS();
	return status;
}

/* POSTs the next claimed payment (no transaction work): token renewed when due, and once on a 401. */
static void
step_send(PostRun *run)
{
	char	   *url = psprintf("%s/admin/finance/payments", run->src.base_url);
	const char *body = run->bodies[run->next];
	bool		reached;
	MemoryContext old = MemoryContextSwitchTo(run->round_cxt);

	pgb_http_auth_ensure(&run->src.http, false);
	run->status = post_once(run, url, body, &reached, &run->answer, run->error, sizeof(run->error));
	if (run->status == 401)
	{
		/* refused before anything was done: a new token, and once more */
		pgb_http_auth_ensure(&run->src.http, true);
		run->status = post_once(run, url, body, &reached, &run->answer, run->error, sizeof(run->error));
	}
	MemoryContextSwitchTo(old);
	if (run->status == 401 || run->status == 403 || run->status == 429 || (run->status == 0 && !reached))
		run->outcome = OUT_UNSENT;
	else if (run->status == 0 || run->status >= 500 || run->status == 408)
		run->outcome = OUT_UNKNOWN;
	else
		run->outcome = OUT_ANSWERED;
}

/* Records the outcome of the post just sent (its own transaction, committed by the caller). */
static void
step_record(PostRun *run)
{
	static const char *const names[] = {"answered", "unsent", "unknown"};
	char	   *state;

	if (SPI_execute_with_args("SELECT billing._splynx_post_record($1, $2, $3, $4, $5, $6)", 6,
							  (Oid[]) {INT8OID, INT8OID, TEXTOID, INT4OID, TEXTOID, TEXTOID},
							  (Datum[]) {Int64GetDatum(run->run_id), Int64GetDatum(run->ids[run->next]),
								  CStringGetTextDatum(names[run->outcome]), Int32GetDatum((int32) run->status),
								  run->answer ? CStringGetTextDatum(run->answer) : (Datum) 0,
							  run->error[0] ? CStringGetTextDatum(run->error) : (Datum) 0},
							  (const char[]) {' ', ' ', ' ', ' ', run->answer ? ' ' : 'n', run->error[0] ? ' ' : 'n'},
							  false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not record a post's outcome");
	state = col(0, 1);
	if (state && strcmp(state, "unknown") == 0)
		run->had_unknown = true;
	if (run->outcome == OUT_UNSENT)
	{
		/* Splynx refused us or cannot be reached: the others of the round wait for the next run */
		run->stop = MemoryContextStrdup(run->cxt, run->status == 0 ?
										psprintf("Splynx could not be reached: %s", run->error) :
										psprintf("Splynx refused the payment post with HTTP status %ld", run->status));
		run->done = true;
	}
}

/* Posts of the round not sent (the run stopped): back to pending. */
static void
step_release(PostRun *run)
{
	for (int i = run->next; i < run->n; i++)
		if (SPI_execute_with_args("UPDATE billing.splynx_posts SET state = 'pending' WHERE id = $1 AND state = 'sending'", 1,
								  (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(run->ids[i])}, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not release a post");
	run->n = run->next = 0;
}

static void
step_finish(PostRun *run)
{
	int64		requests = run->src.http.requests;	/* look-ups and posts (post_once counts there too) */

	if (SPI_execute_with_args("SELECT billing._splynx_post_finish($1, $2, $3)", 3, (Oid[]) {INT8OID, TEXTOID, INT4OID},
							  (Datum[]) {Int64GetDatum(run->run_id), run->stop ? CStringGetTextDatum(run->stop) : (Datum) 0,
							  Int32GetDatum((int32) Min(requests, PG_INT32_MAX))},
							  (const char[]) {' ', run->stop ? ' ' : 'n', ' '}, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not record the end of the post run");
}

/* The run's steps; returns an error to raise again (cancel, shutdown) or NULL. */
static ErrorData *
post_all(PostRun *run)
{
	ErrorData  *err;

	if ((err = run_step(run, step_load)) != NULL || (err = run_step(run, step_lock)) != NULL)
		return err;
	SPI_commit();
	while (!run->done)
	{
		if ((err = run_step(run, step_lookups)) != NULL)
			return err;
		SPI_commit();
		if (run->done || unknown_left(run))
		{
			SPI_commit();
			continue;
		}
		if ((err = run_step(run, step_claim)) != NULL)
			return err;
		SPI_commit();
		while (!run->done && run->next < run->n)
		{
			/* from here until the outcome is recorded, the post is "sending" (unknown after a kill) */
			if ((err = run_step(run, step_send)) != NULL || (err = run_step(run, step_record)) != NULL)
			{
				run->next++;
				(void) run_step(run, step_release);
				SPI_commit();
				return err;
			}
			SPI_commit();
			run->next++;
		}
		if (run->next < run->n)
		{
			if ((err = run_step(run, step_release)) != NULL)
				return err;
			SPI_commit();
		}
	}
	return NULL;
}

static void
cleanup(PostRun *run)
{
	if (run->http_ready)
	{
		pgb_http_auth_release(&run->src.http);
		pgb_http_target_release(&run->src.http);
		run->http_ready = false;
	}
	if (run->locked)
	{
		LOCKTAG		tag;

		lock_tag(&tag, run->src.id);
		LockRelease(&tag, ExclusiveLock, true);
		run->locked = false;
	}
}

Datum
pgb_splynx_post_connector(PG_FUNCTION_ARGS)
{
	PostRun		run;
	ErrorData  *volatile err = NULL;
	MemoryContext caller = CurrentMemoryContext;

	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		castNode(CallContext, fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("a post to Splynx must run in CALL outside a transaction block"),
				 errhint("Use CALL billing.splynx_post(source) on its own, not inside BEGIN ... COMMIT or a function.")));
	memset(&run, 0, sizeof(run));
	run.run_id = PG_GETARG_INT64(0);
	run.cxt = AllocSetContextCreate(TopMemoryContext, "pg_billing splynx post run", ALLOCSET_DEFAULT_SIZES);
	run.step_cxt = AllocSetContextCreate(run.cxt, "pg_billing splynx post step", ALLOCSET_DEFAULT_SIZES);
	run.round_cxt = AllocSetContextCreate(run.cxt, "pg_billing splynx post round", ALLOCSET_DEFAULT_SIZES);
	SPI_connect_ext(SPI_OPT_NONATOMIC);
	PG_TRY();
	{
		err = post_all(&run);
		/* a cancel or shutdown is raised again after the run is recorded; other errors end the run */
		if (err)
			run.stop = MemoryContextStrdup(run.cxt, err->message ? err->message : "unknown error");
		if (err && err->sqlerrcode != ERRCODE_QUERY_CANCELED && err->sqlerrcode != ERRCODE_ADMIN_SHUTDOWN)
			err = NULL;
		MemoryContextSwitchTo(run.cxt);
		{
			ErrorData  *ferr = run_step(&run, step_finish);

			if (ferr)
				ReThrowError(ferr);
		}
		SPI_commit();
	}
	PG_CATCH();
	{
		cleanup(&run);
		MemoryContextSetParent(run.cxt, ErrorContext);
		PG_RE_THROW();
	}
	PG_END_TRY();
	cleanup(&run);
	SPI_finish();
	MemoryContextSwitchTo(caller);
	if (err)
	{
		MemoryContextSetParent(run.cxt, ErrorContext);
		ReThrowError(err);
	}
	MemoryContextDelete(run.cxt);
	PG_RETURN_VOID();
}
