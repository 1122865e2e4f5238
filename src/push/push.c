/*
 * push.c: the push driver (issue 11). One run pushes a xero target's due outbox documents:
 *
 *   1. load the target and take its push lock (one run per target; a session advisory lock);
 *   2. documents a dead run left in_flight become unknown;
 *   3. get a token (client credentials, or the code flow's refresh token, rotated and committed
 *      before the new access token is used; the credentials row lock makes the refresh single-flight);
 *   4. repeat: look up the unknown documents by natural key (GET), then claim up to 5 requests of
 *      up to 50 documents (billing._push_claim, committed in_flight), send them at once, and record
 *      each document's outcome (billing._push_record), committing each step.
 *
 * No transaction or lock is held while a request is on the network, except the credentials row
 * while a refresh token is exchanged (so that two backends never spend the same one). A kill at any
 * point leaves documents pending (not sent), in_flight (become unknown, looked up) or recorded.
 */
#include "postgres.h"

#include <curl/curl.h>
#include <jansson.h>

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

/* utils/builtins.h clashes with jansson (json_object): the two functions needed, declared here */
extern text *cstring_to_text(const char *s);
#define CStringGetTextDatum(s) PointerGetDatum(cstring_to_text(s))

#include "http/http_auth.h"
#include "push/push.h"
#include "push/push_step.h"
#include "push/xero_api.h"
#include "store/store.h"

PG_FUNCTION_INFO_V1(pgb_push_connector);

#define DEFAULT_BASE_URL "https://api.xero.com/api.xro/2.0"
#define DEFAULT_TOKEN_URL "https://identity.xero.com/connect/token"
#define LOCK_FIELD4 0x5055		/* 'PU': the push lock of a target (the sync lock is 0x5042) */

typedef struct Run
{
	int64		run_id;
	int64		target;
	char	   *name;
	char	   *base_url;
	char	   *token_url;
	bool		code_flow;		/* credentials hold a refresh_token */
	bool		locked;
	bool		done;
	bool		manual;			/* CALL billing.push: a busy target is an error, not a skip */
	bool		skipped;		/* another run held the target: this one did nothing */
	char	   *parked_until;	/* text timestamptz, when a day limit parked the target */
	char	   *stop;			/* why the run stopped early (an error for the run), or NULL */
	long		wait_ms;		/* to wait before the next round (minute limit) */
	bool		refresh;		/* the token was refused: renew it before the next round */
	PgbXeroClient client;
	MemoryContext cxt;
	MemoryContext step_cxt;
} Run;

typedef void (*StepFn) (Run *run);

/* A step and its run, for pgb_push_run_step's one argument. */
typedef struct StepCall
{
	StepFn		fn;
	Run		   *run;
} StepCall;

static void
call_step(void *arg)
{
	StepCall   *c = (StepCall *) arg;

	c->fn(c->run);
}

/* Runs fn in a subtransaction; returns its error (copied into the run's context) or NULL. */
static ErrorData *
run_step(Run *run, StepFn fn)
{
	StepCall	c = {fn, run};

	return pgb_push_run_step(call_step, &c, run->cxt, run->step_cxt);
}

static char *
run_strdup(Run *run, const char *s)
{
	return s ? MemoryContextStrdup(run->cxt, s) : NULL;
}

static char *
col(int row, int n)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, n);
}

/* A string field of a JSON object, or NULL. */
static const char *
jstr(json_t *o, const char *field)
{
	json_t	   *v = json_object_get(o, field);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * The target's own max_concurrent_requests, where lower than Xero's 5 at once: everything that uses
 * the same app and organisation (the pull, other tools) shares that limit, so a target may ask the
 * push to keep to less.
 */
static void
use_target_concurrency(Run *run, const char *options_json)
{
	PgbSource	src;

	memset(&src, 0, sizeof(src));
	src.name = run->name;
	src.kind = "xero";
	pgb_source_read_options(&src, options_json);
	run->client.max_in_flight = Min(src.max_concurrent, PGB_XERO_MAX_IN_FLIGHT);
}

/* The target, its options and credentials (kept in malloc'd memory, wiped at the end). */
static void
step_load(Run *run)
{
	Datum		arg = Int64GetDatum(run->run_id);
	json_t	   *secret;
	json_error_t jerr;
	char	   *text;

	if (SPI_execute_with_args("SELECT s.id, s.name, s.kind, coalesce(s.base_url, $2), coalesce(s.options ->> 'token_url', $3),"
							  " s.options ->> 'tenant_id', c.secret::text, r.trigger, s.options::text"
							  " FROM billing.push_runs r JOIN billing.sources s ON s.id = r.target_source_id"
							  " LEFT JOIN billing._credentials c ON c.source_id = s.id WHERE r.id = $1",
							  3, (Oid[]) {INT8OID, TEXTOID, TEXTOID},
							  (Datum[]) {arg, CStringGetTextDatum(DEFAULT_BASE_URL), CStringGetTextDatum(DEFAULT_TOKEN_URL)},
							  NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("push run " INT64_FORMAT " does not exist", run->run_id)));
	run->target = strtoll(col(0, 1), NULL, 10);
	run->name = run_strdup(run, col(0, 2));
	if (strcmp(col(0, 3), "xero") != 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("source \"%s\" is not a xero source", run->name)));
	run->base_url = run_strdup(run, col(0, 4));
	while (strlen(run->base_url) > 0 && run->base_url[strlen(run->base_url) - 1] == '/')
		run->base_url[strlen(run->base_url) - 1] = '\0';
	run->token_url = run_strdup(run, col(0, 5));
	run->manual = col(0, 8) == NULL || strcmp(col(0, 8), "manual") == 0;
	pgb_xero_client_init(&run->client, run->name, run->base_url, run->token_url);
	run->client.tenant_id = pgb_xero_strdup(col(0, 6));
	use_target_concurrency(run, col(0, 9));
	text = col(0, 7);
	if (text == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
						errmsg("source \"%s\" has no credentials", run->name),
						errhint("Set client_id and client_secret (and refresh_token for the code flow) with billing.set_credentials().")));
	secret = json_loads(text, 0, &jerr);
	explicit_bzero(text, strlen(text));
	if (!json_is_object(secret) || !jstr(secret, "client_id") || !jstr(secret, "client_secret"))
	{
		json_decref(secret);
		ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
						errmsg("source \"%s\": the credentials lack client_id or client_secret", run->name),
						errhint("Set them with billing.set_credentials(); a code-flow connection also needs refresh_token.")));
	}
	run->client.client_id = pgb_xero_strdup(jstr(secret, "client_id"));
	run->client.client_secret = pgb_xero_strdup(jstr(secret, "client_secret"));
	run->code_flow = jstr(secret, "refresh_token") != NULL;
	json_decref(secret);
}

static void
lock_tag(LOCKTAG *tag, int64 target)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (target >> 32), (uint32) target, LOCK_FIELD4);
}

/*
 * One push per target at a time; then what a dead run left in flight becomes unknown. A worker's
 * push (schedule, after_sync) that finds the target busy skips quietly: the running push sends what
 * it would have sent. A manual push says the target is busy.
 */
static void
step_lock(Run *run)
{
	LOCKTAG		tag;

	lock_tag(&tag, run->target);
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		if (!run->manual)
		{
			ereport(LOG, (errmsg("pg_billing: push run " INT64_FORMAT " to \"%s\" skipped: another session is pushing that target",
								 run->run_id, run->name)));
			run->skipped = true;
			run->done = true;
			return;
		}
		ereport(ERROR, (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
						errmsg("target \"%s\" is being pushed by another session", run->name),
						errhint("Wait for that push to end; billing.push_runs shows it.")));
	}
	run->locked = true;
	if (SPI_execute_with_args("SELECT billing._push_parked_until($1)::text, billing._push_recover($1, $2)", 2,
							  (Oid[]) {INT8OID, INT8OID}, (Datum[]) {Int64GetDatum(run->target), Int64GetDatum(run->run_id)},
							  NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the target's state");
	if (col(0, 1))
	{
		run->parked_until = run_strdup(run, col(0, 1));
		run->stop = psprintf("Xero's day limit parks this target until %s", run->parked_until);
		run->stop = run_strdup(run, run->stop);
		run->done = true;
	}
}

/* Xero's scopes of a custom connection (client credentials): what the push writes and reads. */
#define XERO_SCOPE "accounting.transactions accounting.contacts accounting.settings"

/* A new access token in the client; its expiry (a short-lived one, in tests, is used until a 401). */
static void
adopt_token(Run *run, PgbOAuth2Token *tok)
{
	pgb_xero_wipe(&run->client.bearer);
	run->client.bearer = tok->access_token;
	run->client.token_expires_us = 0;
	/* renewed a minute early; a short-lived one (tests) is used until Xero answers 401 */
	if (tok->expires_in > 120 && tok->expires_in < 86400 * 30)
		run->client.token_expires_us = pgb_xero_now_us() + (tok->expires_in - 60) * INT64CONST(1000000);
	run->client.tokens++;
}

/*
 * A new access token (the grant is src/http/http_auth.c's). Code flow: the stored refresh token is
 * exchanged under the credentials row's lock (single-flight across sessions), and the rotated one
 * is written in this step's transaction, which the caller commits before the access token is used.
 */
static void
step_token(Run *run)
{
	PgbOAuth2Token tok;
	char	   *stored = NULL;

	if (run->code_flow)
	{
		if (SPI_execute_with_args("SELECT c.secret ->> 'refresh_token' FROM billing._credentials c WHERE c.source_id = $1 FOR UPDATE",
								  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(run->target)}, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the credentials");
		stored = SPI_processed == 1 ? col(0, 1) : NULL;
		if (stored == NULL)
			ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
							errmsg("source \"%s\": the credentials lost their refresh_token", run->name)));
	}
	pgb_http_oauth2_form_grant(&run->client.token_target, run->token_url, run->client.client_id,
							   run->client.client_secret, run->code_flow ? NULL : XERO_SCOPE, stored, &tok);
	if (stored)
		explicit_bzero(stored, strlen(stored));
	adopt_token(run, &tok);
	if (run->code_flow)
	{
		if (tok.refresh_token == NULL)
			ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
							errmsg("source \"%s\": the token endpoint did not rotate the refresh token", run->name)));
		if (SPI_execute_with_args("UPDATE billing._credentials c SET secret = c.secret || pg_catalog.jsonb_build_object('refresh_token', $2::text),"
								  " updated_at = pg_catalog.now() WHERE c.source_id = $1",
								  2, (Oid[]) {INT8OID, TEXTOID}, (Datum[]) {Int64GetDatum(run->target), CStringGetTextDatum(tok.refresh_token)},
								  NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not store the rotated refresh token");
		explicit_bzero(tok.refresh_token, strlen(tok.refresh_token));
	}
}

/* What to do after a 429: wait (minute, concurrent) or park the target (day). */
static void
rate_limited(Run *run, PgbXeroReq *r)
{
	long		after = r->retry_after >= 0 ? r->retry_after : 60;

	if (strcmp(r->problem, "day") == 0)
	{
		if (SPI_execute(psprintf("SELECT (pg_catalog.clock_timestamp() + interval '%ld seconds')::text", after), true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not compute the parking time");
		run->parked_until = run_strdup(run, col(0, 1));
		run->stop = run_strdup(run, psprintf("Xero's day limit was reached: the target is parked until %s", run->parked_until));
		run->done = true;
	}
	else if (after > pgb_http_max_retry_after_s)
	{
		run->stop = run_strdup(run, psprintf("Xero asked to wait %ld s, more than pg_billing.http_max_retry_after (%d s)",
											 after, pgb_http_max_retry_after_s));
		run->done = true;
	}
	else
		run->wait_ms = Max(run->wait_ms, after * 1000);
}

/* A where clause, URL-encoded. */
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
 * Looks up documents of unknown outcome: up to 5 GETs at once, each finding up to 25 documents of
 * one endpoint by natural key (billing._push_lookups batches them), so a lost batch of 50 costs two
 * calls, not 50.
 */
static void
step_lookups(Run *run)
{
	int			n;
	char	  **ids;
	PgbXeroReq *reqs;

	run->wait_ms = 0;
	if (SPI_execute_with_args("SELECT path, where_clause, ids::text FROM billing._push_lookups($1, $2)", 2,
							  (Oid[]) {INT8OID, INT4OID}, (Datum[]) {Int64GetDatum(run->target), Int32GetDatum(run->client.max_in_flight)},
							  NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the look-ups");
	n = (int) SPI_processed;
	if (n == 0)
		return;
	ids = palloc(sizeof(char *) * n);
	reqs = palloc0(sizeof(PgbXeroReq) * n);
	for (int i = 0; i < n; i++)
	{
		char	   *path = col(i, 1);
		char	   *where = col(i, 2);

		ids[i] = col(i, 3);
		if (path == NULL)
			ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
							errmsg("outbox documents %s cannot be looked up: what they allocate is not confirmed", ids[i])));
		reqs[i].method = "GET";
		reqs[i].url = where ? psprintf("%s%s?where=%s", run->base_url, path, url_escape(where))
			: psprintf("%s%s", run->base_url, path);
	}
	pgb_xero_send(&run->client, reqs, n, false);
	for (int i = 0; i < n; i++)
	{
		PgbXeroReq *r = &reqs[i];

		if (r->status == 401)
			run->refresh = true;
		else if (r->status == 429)
			rate_limited(run, r);
		else if (r->status == 200 || r->status == 404)
		{
			if (SPI_execute_with_args("SELECT billing._push_lookup_result($1, $2::bigint[], $3, $4)", 4,
									  (Oid[]) {INT8OID, TEXTOID, INT4OID, TEXTOID},
									  (Datum[]) {Int64GetDatum(run->run_id), CStringGetTextDatum(ids[i]), Int32GetDatum((int32) r->status),
								  CStringGetTextDatum(r->status == 200 && r->answer ? r->answer : "{}")},
									  NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not record a look-up");
		}
		else
			ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE),
							errmsg("target \"%s\": looking up documents of unknown outcome failed: %s", run->name,
								   r->status ? psprintf("HTTP status %ld", r->status) : r->error),
							errhint("The documents stay unknown and nothing else is sent until they are found or known to be absent; the next push tries again.")));
	}
}

/* Whether documents of unknown outcome remain (nothing is sent before they are resolved). */
static bool
unknown_left(Run *run)
{
	if (SPI_execute_with_args("SELECT 1 FROM billing.outbox o WHERE o.target_source_id = $1 AND o.state = 'unknown' LIMIT 1", 1,
							  (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(run->target)}, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the outbox");
	return SPI_processed > 0;
}

/* The claimed requests of a round, kept across the claim's commit. */
typedef struct Round
{
	int			n;
	PgbXeroReq	reqs[PGB_XERO_MAX_IN_FLIGHT];
	char	   *ids[PGB_XERO_MAX_IN_FLIGHT];	/* bigint[] in text form */
	MemoryContext cxt;
} Round;

static Round round_;

/* Claims up to 5 requests' documents (in_flight, committed by the caller). */
static void
step_claim(Run *run)
{
	MemoryContext old;

	MemoryContextReset(round_.cxt);
	round_.n = 0;
	if (SPI_execute_with_args("SELECT method, path, idempotency_key, body, ids::text FROM billing._push_claim($1, $2)", 2,
							  (Oid[]) {INT8OID, INT4OID}, (Datum[]) {Int64GetDatum(run->target), Int32GetDatum(run->client.max_in_flight)},
							  NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not claim documents");
	old = MemoryContextSwitchTo(round_.cxt);
	for (uint64 i = 0; i < SPI_processed && i < PGB_XERO_MAX_IN_FLIGHT && i < run->client.max_in_flight; i++)
	{
		PgbXeroReq *r = &round_.reqs[round_.n];

		memset(r, 0, sizeof(*r));
		r->method = pstrdup(col(i, 1));
		r->url = psprintf("%s%s", run->base_url, col(i, 2));
		r->idempotency_key = pstrdup(col(i, 3));
		r->body = pstrdup(col(i, 4));
		round_.ids[round_.n] = pstrdup(col(i, 5));
		round_.n++;
	}
	MemoryContextSwitchTo(old);
	if (round_.n == 0)
		run->done = true;
}

/* Records every request's outcome (one transaction for the round). */
static void
step_record(Run *run)
{
	for (int i = 0; i < round_.n; i++)
	{
		PgbXeroReq *r = &round_.reqs[i];
		const char *outcome;

		if (r->status == 401 || r->status == 403 || r->status == 429 || (!r->reached && r->status == 0))
			outcome = "unsent";	/* refused before anything was done, or never reached Xero */
		else if (r->status == 0 || r->status >= 500 || r->status == 408)
			outcome = "unknown";
		else
			outcome = "answered";
		if (r->status == 401)
			run->refresh = true;
		else if (r->status == 429)
			rate_limited(run, r);
		else if (r->status == 403)
		{
			run->stop = run_strdup(run, "Xero refused the organisation (HTTP 403): check option tenant_id and the connection's scopes");
			run->done = true;
		}
		if (SPI_execute_with_args("SELECT billing._push_record($1, $2::bigint[], $3, $4, $5, $6)", 6,
								  (Oid[]) {INT8OID, TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID},
								  (Datum[]) {Int64GetDatum(run->run_id), CStringGetTextDatum(round_.ids[i]), CStringGetTextDatum(outcome),
									  Int32GetDatum((int32) r->status), r->answer ? CStringGetTextDatum(r->answer) : (Datum) 0,
								  r->error[0] ? CStringGetTextDatum(r->error) : (Datum) 0},
								  (const char[]) {' ', ' ', ' ', ' ', r->answer ? ' ' : 'n', r->error[0] ? ' ' : 'n'},
								  false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not record a request's outcome");
	}
	if (run->client.day_remaining == 0 && !run->done)
	{
		run->stop = run_strdup(run, "Xero's day budget is used up (X-DayLimit-Remaining: 0)");
		run->done = true;
	}
}

/* Sends the round; the answers live in the round's context, which outlives this step. */
static void
step_send(Run *run)
{
	MemoryContext old = MemoryContextSwitchTo(round_.cxt);

	pgb_xero_send(&run->client, round_.reqs, round_.n, false);
	MemoryContextSwitchTo(old);
}

static void
step_finish(Run *run)
{
	if (SPI_execute_with_args("SELECT billing._push_finish($1, $2, $3::timestamptz, $4, $5)", 5,
							  (Oid[]) {INT8OID, TEXTOID, TEXTOID, INT4OID, BOOLOID},
							  (Datum[]) {Int64GetDatum(run->run_id), run->stop ? CStringGetTextDatum(run->stop) : (Datum) 0,
								  run->parked_until ? CStringGetTextDatum(run->parked_until) : (Datum) 0,
								  Int32GetDatum((int32) Min(run->client.requests, PG_INT32_MAX)),
							  BoolGetDatum(run->skipped)},
							  (const char[]) {' ', run->stop ? ' ' : 'n', run->parked_until ? ' ' : 'n', ' ', ' '},
							  false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not record the end of the push run");
}

/* An error of a step ends the run with its message (never a secret: no message carries one). */
static void
fail_with(Run *run, ErrorData *err)
{
	run->stop = run_strdup(run, err->message ? err->message : "unknown error");
	run->done = true;
}

static bool
token_due(Run *run)
{
	return run->client.bearer == NULL || run->refresh ||
		(run->client.token_expires_us > 0 && pgb_xero_now_us() >= run->client.token_expires_us);
}

/* The run's steps; returns an error to raise again (cancel, shutdown) or NULL. */
static ErrorData *
push_all(Run *run)
{
	ErrorData  *err;
	int			refreshes = 0;

	if ((err = run_step(run, step_load)) != NULL || (err = run_step(run, step_lock)) != NULL)
		return err;
	SPI_commit();
	while (!run->done)
	{
		if (run->wait_ms > 0)
		{
			pgb_xero_sleep(&run->client, run->wait_ms);
			run->wait_ms = 0;
		}
		if (token_due(run))
		{
			/* a token refused twice in a row is not expiry: the connection itself is refused */
			if (run->refresh && ++refreshes > 2)
			{
				run->stop = run_strdup(run, "Xero refused every new access token (HTTP 401)");
				break;
			}
			run->refresh = false;
			if ((err = run_step(run, step_token)) != NULL)
				return err;
			SPI_commit();
		}
		if ((err = run_step(run, step_lookups)) != NULL)
			return err;
		SPI_commit();
		if (run->done || run->refresh || run->wait_ms > 0 || unknown_left(run))
		{
			SPI_commit();
			continue;
		}
		if ((err = run_step(run, step_claim)) != NULL)
			return err;
		SPI_commit();
		if (run->done)
			break;
		/* nothing is held from here until the outcomes are recorded */
		err = run_step(run, step_send);
		if ((err = err ? err : run_step(run, step_record)) != NULL)
			return err;
		SPI_commit();
		if (!run->refresh)
			refreshes = 0;
	}
	return NULL;
}

static void
cleanup(Run *run)
{
	pgb_xero_client_release(&run->client);
	if (run->locked)
	{
		LOCKTAG		tag;

		lock_tag(&tag, run->target);
		LockRelease(&tag, ExclusiveLock, true);
		run->locked = false;
	}
}

Datum
pgb_push_connector(PG_FUNCTION_ARGS)
{
	Run			run;
	ErrorData  *volatile err = NULL;
	MemoryContext caller = CurrentMemoryContext;

	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		castNode(CallContext, fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("a push must run in CALL outside a transaction block"),
				 errhint("Use CALL billing.push(target) on its own, not inside BEGIN ... COMMIT or a function.")));
	memset(&run, 0, sizeof(run));
	run.run_id = PG_GETARG_INT64(0);
	run.cxt = AllocSetContextCreate(TopMemoryContext, "pg_billing push run", ALLOCSET_DEFAULT_SIZES);
	run.step_cxt = AllocSetContextCreate(run.cxt, "pg_billing push step", ALLOCSET_DEFAULT_SIZES);
	round_.cxt = AllocSetContextCreate(run.cxt, "pg_billing push round", ALLOCSET_DEFAULT_SIZES);
	round_.n = 0;
	SPI_connect_ext(SPI_OPT_NONATOMIC);
	PG_TRY();
	{
		err = push_all(&run);
		/* a cancel or shutdown is raised again after the run is recorded; other errors end the run */
		if (err && err->sqlerrcode != ERRCODE_QUERY_CANCELED && err->sqlerrcode != ERRCODE_ADMIN_SHUTDOWN)
		{
			fail_with(&run, err);
			err = NULL;
		}
		else if (err)
			run.stop = run_strdup(&run, err->message);
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

void
pgb_push_worker_statement(char *buf, size_t len, int64 run_id)
{
	snprintf(buf, len, "CALL billing._worker_run(" INT64_FORMAT ")", run_id);
}
