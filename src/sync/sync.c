/*
 * sync.c: the sync driver. For each entity, page by page: fetch and decode (connector), then store
 * the rows, the checkpoint and the run's progress in one transaction, committed before the next
 * request. Each page runs in a subtransaction so that a failure is recorded in billing.sync_runs
 * and everything committed before it stays; no snapshot, xid or lock is held while waiting on the
 * network (the transaction after a commit has done nothing yet when the next request goes out).
 * A full reconcile ends each entity with step_verify: records its listing did not show are asked
 * for by id, in committed batches, and only a 404 sets deleted_at.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "storage/lock.h"
#include "utils/resowner.h"

#include "connectors/connector.h"
#include "http/http_auth.h"
#include "http/http_client.h"
#include "common/decimal_time.h"
#include "store/store.h"

/* C pgb_sync_connector is SQL billing._sync_connector; pgb_sync_run is its 0.2.0 name. */
PG_FUNCTION_INFO_V1(pgb_sync_connector);
PG_FUNCTION_INFO_V1(pgb_sync_run);

/*
 * Pages one pass may read: 200 million records at per_page 200, far beyond any real site, yet a
 * server that never sends a short page cannot keep a sync going for ever.
 */
#define PGB_MAX_PAGES_PER_PASS 1000000

/* Records a reconcile confirms one by one (GET by id) per committed step. */
#define PGB_VERIFY_BATCH 20

/* Times one pass reads its list again from page 1 after the list shrank under it (X-Total-Count). */
#define PGB_MAX_REREADS 2

/* An id of an id_cursor entity: a whole number of at most 20 digits (+ NUL). */
#define PGB_ID_LEN 21

typedef struct Pass
{
	const PgbEntity *entity;
	bool		incremental;
	char	   *since;			/* settled cursor: ISO timestamp or NULL */
	int64		run_since;		/* lower bound of this pass (epoch s), or -1 for everything */
	long		page;			/* next page to fetch */
	int64		max_seen;
	int64		date0;
	bool		reconcile;
	bool		verifying;		/* a reconcile's pages are read: confirming the unseen records */
	bool		rail_checked;	/* the unseen records were counted against the limit */
	bool		rail_tripped;	/* ...and were too many: the pass was reset, the run fails */
	int64		rail_unseen;
	int64		rail_live;
	int64		rail_limit;
	bool		done;
	bool		warned;			/* the run's warnings already name a skipped record of this entity */
	const PgbEntity *parent;	/* a child entity's parent entity, else NULL */
	char	   *parent_id;		/* ...and the parent record being listed (run's context) */
	/* first and last record of the previous full page ("" when unknown): a repeated page ends the pass */
	char		prev_first[256];
	char		prev_last[256];
	/* an id_cursor entity ("" = none): settled greatest id, this pass's lower bound, its greatest id */
	char		after_id[PGB_ID_LEN];
	char		run_after[PGB_ID_LEN];
	char		max_id[PGB_ID_LEN];
	int64		list_total;		/* the list's length on the pass's last page read (X-Total-Count), or -1 */
	int			rereads;		/* times the list was read again from page 1 after it shrank */
} Pass;

typedef struct Run
{
	int64		run_id;
	bool		reconcile;
	PgbSource	src;
	Pass		pass;
	bool		locked;			/* holds the source's sync lock */
	bool		paging;			/* a step_page is under way (its page is pass.page) */
	char	   *location;		/* where the last error happened (run's context), or NULL */
	MemoryContext cxt;			/* lives for the run (under TopMemoryContext) */
	MemoryContext page_cxt;		/* reset for every step */
} Run;

typedef void (*StepFn) (Run *run);

static void step_lock(Run *run);
static void finish_pass(Run *run);

/*
 * The source's configuration (validated by the store), its connector and its authentication.
 * Which entities run and how they page is the connector's declaration.
 */
static void
step_load(Run *run)
{
	char	   *secret = NULL;

	pgb_store_load_source(run->run_id, &run->src, &secret, &run->reconcile, run->cxt);
	pgb_http_target_init(&run->src.http, run->src.name, run->src.base_url);
	run->src.http.max_rps = run->src.max_rps;
	run->src.http.max_concurrent = run->src.max_concurrent;
	if (secret == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
						errmsg("source \"%s\" has no credentials", run->src.name),
						errhint("Set them with billing.set_credentials().")));
	{
		MemoryContext old = MemoryContextSwitchTo(run->cxt);

		pgb_source_auth(&run->src, secret);
		MemoryContextSwitchTo(old);
	}
	if (run->reconcile)
		pgb_store_mark_reconcile(run->run_id);
}

/* The first record of the entity that this run received but could not store, said once per entity. */
static char *
skipped_warning(Run *run, PgbCounts *c)
{
	char	   *w;

	if (c->skipped == 0 || c->skipped_example == NULL || run->pass.warned)
		return NULL;
	run->pass.warned = true;
	/* a store that names its own reason ends the example with it (after " -- ") */
	w = strstr(c->skipped_example, " -- ") ?
		psprintf("%s: %s", run->pass.entity->name, strstr(c->skipped_example, " -- ") + 4) :
		psprintf("%s: %s was not stored: the subscription is not synced or has no currency; it is read again next run",
				 run->pass.entity->name, c->skipped_example);
	ereport(WARNING,
			(errcode(ERRCODE_WARNING),
			 errmsg("source \"%s\": %s", run->src.name, w),
			 errdetail("records_skipped in billing.sync_runs counts every such record.")));
	return w;
}

/* page: the last page committed; new_page: this step committed it (a reconcile's checks do not) */
static void
progress(Run *run, long page, bool new_page, PgbCounts *c)
{
	PgbProgress p = {run->pass.entity->name, page, new_page, run->src.http.requests, skipped_warning(run, c)};

	pgb_store_progress(run->run_id, &p, c);
}

/* The checkpoint: settled since, and while a pass is under way, where it is. */
static void
checkpoint(Run *run, bool settled)
{
	Pass	   *p = &run->pass;
	PgbCheckpoint cp = {p->since, !settled, p->page - 1, p->run_since, p->max_seen, p->date0, p->reconcile,
		p->verifying, p->parent_id, p->after_id[0] ? p->after_id : NULL,
	p->run_after[0] ? p->run_after : NULL, p->max_id[0] ? p->max_id : NULL};

	pgb_store_checkpoint(run->src.id, p->entity->name, &cp);
}

static void
step_begin_entity(Run *run)
{
	Pass	   *p = &run->pass;
	PgbCheckpoint cp;
	bool		resume = false;
	PgbCounts	none = {0};

	p->incremental = p->entity->incremental;
	p->since = NULL;
	p->parent = p->entity->parent ? pgb_connector_entity(run->src.conn, p->entity->parent) : NULL;
	p->parent_id = NULL;
	if (p->entity->parent && p->parent == NULL)
		elog(ERROR, "pg_billing: entity %s names an unknown parent entity %s", p->entity->name, p->entity->parent);
	if (p->entity->parent && p->entity->id_cursor)
		elog(ERROR, "pg_billing: entity %s: an id cursor is for top-level lists only", p->entity->name);
	p->verifying = p->rail_checked = p->rail_tripped = p->warned = false;
	p->after_id[0] = p->run_after[0] = p->max_id[0] = '\0';
	p->list_total = -1;
	p->rereads = 0;
	if (pgb_store_read_checkpoint(run->src.id, p->entity->name, &cp))
	{
		p->since = cp.since ? MemoryContextStrdup(run->cxt, cp.since) : NULL;
		if (cp.after_id)
			strlcpy(p->after_id, cp.after_id, PGB_ID_LEN);
		/* an interrupted pass of the same kind resumes after its last committed page */
		if (cp.in_pass && cp.reconcile == run->reconcile)
		{
			resume = true;
			p->page = cp.page + 1;
			p->run_since = cp.run_since;
			p->max_seen = cp.max_seen;
			p->date0 = cp.date0;
			if (cp.run_after)
				strlcpy(p->run_after, cp.run_after, PGB_ID_LEN);
			if (cp.max_id)
				strlcpy(p->max_id, cp.max_id, PGB_ID_LEN);
			/* killed while confirming unseen records: the pages are all read, confirm the rest */
			p->verifying = run->reconcile && cp.verify;
			/* a child's pass resumes under the parent it was listing (or the next, if that one is gone) */
			if (p->parent && !p->verifying)
			{
				p->parent_id = cp.parent ? pgb_store_next_parent(run->src.id, p->parent, cp.parent, true) : NULL;
				if (p->parent_id == NULL || strcmp(p->parent_id, cp.parent) != 0)
					p->page = 1;
			}
		}
	}
	p->reconcile = run->reconcile;
	if (!resume)
	{
		int64		since_epoch;

		p->page = 1;
		p->max_seen = -1;
		p->date0 = -1;
		p->run_since = -1;
		if (p->incremental && !run->reconcile && p->since && pgb_timestamp_parse(p->since, &since_epoch))
			p->run_since = since_epoch - run->src.overlap_s;
		/* ids above the settled one; a reconcile lists them all */
		if (p->entity->id_cursor && !run->reconcile)
			strlcpy(p->run_after, p->after_id, PGB_ID_LEN);
		if (run->reconcile)
			pgb_store_clear_seen(run->src.id, p->entity->name);
		if (p->parent)
			p->parent_id = pgb_store_next_parent(run->src.id, p->parent, NULL, false);
	}
	p->done = false;
	if (p->parent_id)
		p->parent_id = MemoryContextStrdup(run->cxt, p->parent_id);
	/* a child entity with no parent record to list under has nothing to read: the pass is over */
	if (p->parent && p->parent_id == NULL && !p->verifying)
		finish_pass(run);
	p->prev_first[0] = p->prev_last[0] = '\0';
	progress(run, 0, false, &none);
}

/*
 * A full page holding exactly the records of the page before (same first and last id) means the
 * server ignores the page number: paging would never end.
 */
static void
check_not_repeated(Run *run, PgbPage *page, long this_page)
{
	Pass	   *p = &run->pass;
	PgbRows    *rows = &page->t[page->primary];
	const char *first;
	const char *last;

	if (page->last || rows->nrows == 0)
		return;
	first = rows->v[0];			/* external id is column 0 of every primary table */
	last = rows->v[(size_t) (rows->nrows - 1) * rows->ncols];
	if (first == NULL || last == NULL)
		return;
	if (p->prev_first[0] && strcmp(first, p->prev_first) == 0 && strcmp(last, p->prev_last) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("page %ld repeats page %ld, run stopped", this_page, this_page - 1),
				 errdetail("Both pages are full and run from record %s to record %s; the server seems to ignore the page number.",
						   first, last),
				 errhint("Check that the source's base_url reaches %s itself, not a proxy or cache that drops the query string.",
						 run->src.conn->vendor)));
	strlcpy(p->prev_first, first, sizeof(p->prev_first));
	strlcpy(p->prev_last, last, sizeof(p->prev_last));
}

/* a > b for ids of digits (leading zeros ignored); "" is less than any id. */
static bool
id_greater(const char *a, const char *b)
{
	size_t		la,
				lb;

	while (*a == '0' && a[1] != '\0')
		a++;
	while (*b == '0' && b[1] != '\0')
		b++;
	la = strlen(a);
	lb = strlen(b);
	return la != lb ? la > lb : strcmp(a, b) > 0;
}

/*
 * An id_cursor entity's page: every record's id must be a whole number (the cursor compares them
 * as numbers and sends the greatest back as a filter); the greatest so far is kept for the cursor.
 */
static void
seen_ids(Run *run, PgbPage *page)
{
	Pass	   *p = &run->pass;
	PgbRows    *rows = &page->t[page->primary];

	for (int i = 0; i < rows->nrows; i++)
	{
		const char *id = rows->v[(size_t) i * rows->ncols];	/* external id is column 0 */

		if (id == NULL || id[0] == '\0' || strlen(id) >= PGB_ID_LEN || strspn(id, "0123456789") != strlen(id))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("a record id of %s is not a whole number, page rejected", p->entity->name),
					 errdetail("The entity is read incrementally by id, which needs ids of at most 20 digits.")));
		if (id_greater(id, p->max_id))
			strlcpy(p->max_id, id, PGB_ID_LEN);
	}
}

/* The requests in flight moved on between store statements; that time is not the store's. */
typedef struct StoreWindow
{
	PgbHttpTarget *http;
	instr_time	moving;
} StoreWindow;

static void
move_requests(void *arg)
{
	StoreWindow *w = (StoreWindow *) arg;
	instr_time	start;
	instr_time	end;

	INSTR_TIME_SET_CURRENT(start);
	pgb_http_progress(w->http);
	INSTR_TIME_SET_CURRENT(end);
	INSTR_TIME_ACCUM_DIFF(w->moving, end, start);
}

/*
 * Stores a page while the requests in flight go on between the store's statements: the next
 * page's answer (sent ahead) is read as it arrives, instead of waiting in the socket's buffers
 * for this page's commit (a vendor's sending blocks once they are full, so its transfer did not
 * overlap the store). The hook is cleared however the store ends. The time the store took, less
 * that spent on the requests, is counted for sync_runs.store_time.
 */
static void
store_page(Run *run, PgbPage *page, PgbCounts *counts)
{
	StoreWindow window = {&run->src.http};
	instr_time	start;
	instr_time	took;

	INSTR_TIME_SET_ZERO(window.moving);
	INSTR_TIME_SET_CURRENT(start);
	pgb_store_set_between_statements(move_requests, &window);
	PG_TRY();
	{
		pgb_store_page(run->src.id, page, counts);
	}
	PG_FINALLY();
	{
		pgb_store_set_between_statements(NULL, NULL);
	}
	PG_END_TRY();
	INSTR_TIME_SET_CURRENT(took);
	INSTR_TIME_SUBTRACT(took, start);
	INSTR_TIME_SUBTRACT(took, window.moving);
	counts->store_us += INSTR_TIME_GET_MICROSEC(took);
}

/*
 * Offset paging skips a record when one before it leaves the list during the pass. The list's
 * length (X-Total-Count, when the connector reads it) tells: true when it fell since the pass's
 * previous page, or the list ended before the length its last page states.
 */
static bool
list_shrank(Run *run, PgbPage *page, long this_page)
{
	Pass	   *p = &run->pass;
	int64		before = p->list_total;

	if (page->list_total < 0 || p->entity->unpaged)
		return false;
	p->list_total = page->list_total;
	if (before >= 0 && this_page > 1 && page->list_total < before)
		return true;
	return page->last &&
		(int64) (this_page - 1) * run->src.per_page + page->nrecords < page->list_total;
}

/*
 * The list shrank under the pass: what was stored stays (the store is idempotent), and the list is
 * read again from page 1, at most PGB_MAX_REREADS times; then the run fails and a rerun tries again.
 */
static void
reread_list(Run *run, long this_page, int64 before, PgbCounts *c)
{
	Pass	   *p = &run->pass;
	char	   *w;
	PgbProgress pr;

	if (p->rereads >= PGB_MAX_REREADS)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the list of %s kept shrinking while it was read, run stopped", p->entity->name),
				 errdetail("It was read %d times; each time records left it during the pass (X-Total-Count fell, or the list ended short of it), so records may have been skipped.",
						   p->rereads + 1),
				 errhint("Run the sync again; what was stored stays.")));
	w = psprintf("%s: the list shrank while it was read (X-Total-Count %lld at page %ld, %lld before); read again from page 1",
				 p->entity->name, (long long) p->list_total, this_page, (long long) before);
	ereport(WARNING, (errcode(ERRCODE_WARNING), errmsg("source \"%s\": %s", run->src.name, w)));
	p->rereads++;
	/* pages read ahead belong to the list as it was: read again, they are asked for again */
	pgb_http_drop_prefetched(&run->src.http);
	p->page = 1;
	p->list_total = -1;
	p->prev_first[0] = p->prev_last[0] = '\0';
	checkpoint(run, false);
	pr = (PgbProgress) {p->entity->name, this_page, true, run->src.http.requests, w};
	pgb_store_progress(run->run_id, &pr, c);
}

/*
 * The last page of an entity's list is read: the cursor settles, or a reconcile goes on to confirm
 * the records it did not see.
 */
static void
finish_pass(Run *run)
{
	Pass	   *p = &run->pass;

	/* the cursor moves only to remote values: the newest record seen, but not past the
	 * server's clock when the pass began (records changed during the pass are re-read) */
	int64		next = p->max_seen;

	if (next >= 0 && p->date0 >= 0 && p->date0 < next)
		next = p->date0;
	if (next >= 0 && p->incremental)
	{
		char		buf[40];

		pgb_timestamp_format(next, 'T', buf, sizeof(buf));
		p->since = pstrdup(buf);
	}
	/* the id cursor moves to the greatest id listed (ids are never reused: it never moves back) */
	if (p->entity->id_cursor && id_greater(p->max_id, p->after_id))
		strlcpy(p->after_id, p->max_id, PGB_ID_LEN);
	p->parent_id = NULL;
	/* pages sent ahead past the list's end are never read */
	pgb_http_drop_prefetched(&run->src.http);
	if (p->reconcile)
	{
		/* what was not listed is confirmed record by record (step_verify) before any tombstone */
		p->verifying = true;
		checkpoint(run, false);
	}
	else
	{
		checkpoint(run, true);
		p->done = true;
	}
}

/*
 * A child entity's list under one parent is read: on to the next parent record, from its page 1.
 * False when there is none (the pass is over).
 */
static bool
next_parent(Run *run)
{
	Pass	   *p = &run->pass;
	char	   *next = pgb_store_next_parent(run->src.id, p->parent, p->parent_id, false);

	if (next == NULL)
		return false;
	p->parent_id = MemoryContextStrdup(run->cxt, next);
	p->page = 1;
	p->prev_first[0] = p->prev_last[0] = '\0';
	p->list_total = -1;
	return true;
}

/*
 * A child entity is listed per parent record: with several requests in flight, the first page
 * of the next parents' lists goes out now (their URLs are known), so that one parent's answer is
 * stored while the next ones travel. Parents are taken in the order next_parent takes them.
 */
static void
send_ahead_parents(Run *run, const char *since)
{
	Pass	   *p = &run->pass;
	char	   *id = p->parent_id;

	/* those already sent are not sent again; beyond the bound nothing is */
	for (int n = pgb_http_ahead(&run->src.http); n > 0 && id != NULL; n--)
	{
		id = pgb_store_next_parent(run->src.id, p->parent, id, false);
		if (id != NULL)
			pgb_prefetch_child_page(&run->src, p->entity, id, since, 1);
	}
}

static void
step_page(Run *run)
{
	Pass	   *p = &run->pass;
	PgbPage		page;
	PgbCounts	counts = {0};
	char		since[40];
	long		this_page = p->page;
	const char *after = p->run_after[0] ? p->run_after : NULL;
	int64		total_before = p->list_total;

	if (this_page > PGB_MAX_PAGES_PER_PASS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("more than %d pages in one pass, run stopped", PGB_MAX_PAGES_PER_PASS),
				 errdetail("Every page so far was full (%d records); a list ends with a short or empty page.",
						   run->src.per_page),
				 errhint("Check that the source's base_url reaches %s itself.", run->src.conn->vendor)));
	if (p->run_since >= 0)
		pgb_timestamp_format(p->run_since, ' ', since, sizeof(since));
	pgb_fetch_list_page(&run->src, p->entity, p->parent_id, p->run_since >= 0 ? since : NULL, after, this_page,
						&page);
	check_not_repeated(run, &page, this_page);
	if (p->entity->id_cursor)
		seen_ids(run, &page);
	/* the next page's request goes out now; its answer is read while this page is stored */
	if (!page.last)
		pgb_prefetch_list_page(&run->src, p->entity, p->parent_id, p->run_since >= 0 ? since : NULL, after,
							   this_page + 1);
	if (p->parent)
		send_ahead_parents(run, p->run_since >= 0 ? since : NULL);

	store_page(run, &page, &counts);
	if (p->reconcile)
		pgb_store_mark_seen(run->src.id, p->entity->name, &page);
	if (page.max_updated > p->max_seen)
		p->max_seen = page.max_updated;
	if (p->date0 < 0)
		p->date0 = page.remote_date;
	p->page = this_page + 1;
	if (list_shrank(run, &page, this_page))
	{
		reread_list(run, this_page, total_before, &counts);
		return;
	}

	if (page.last && p->parent && next_parent(run))
		checkpoint(run, false);
	else if (page.last)
		finish_pass(run);
	else
		checkpoint(run, false);
	progress(run, this_page, true, &counts);
}

/* Ends a reconcile pass: the seen set is dropped and the checkpoint settles. */
static void
end_reconcile(Run *run)
{
	Pass	   *p = &run->pass;

	pgb_store_clear_seen(run->src.id, p->entity->name);
	p->verifying = false;
	checkpoint(run, true);
	p->done = true;
}

/*
 * A listing far shorter than the book (an empty page from a broken proxy, a wrong site) must not
 * cost a request per record, let alone tombstones: beyond the limit the pass is reset and the run
 * fails (step_rail_error).
 */
static bool
rail_ok(Run *run)
{
	Pass	   *p = &run->pass;

	pgb_store_unseen_stats(run->src.id, p->entity, &p->rail_unseen, &p->rail_live);
	p->rail_limit = run->src.reconcile_max_unseen >= 0 ? run->src.reconcile_max_unseen :
		Max(100, p->rail_live / 10);
	p->rail_checked = true;
	return p->rail_unseen <= p->rail_limit;
}

/*
 * One batch of the records a reconcile did not see, each asked for by id: a 404 gets a tombstone,
 * a record that is there is stored as usual (it had moved to a page already read). The batch, its
 * tombstones and its seen marks commit together, so a killed run confirms only the rest.
 */
static void
step_verify(Run *run)
{
	Pass	   *p = &run->pass;
	PgbCounts	counts = {0};
	PgbPage		page;
	char	  **ids;
	char	  **gone;
	char	  **alive;
	char	  **parents;
	int			n,
				ngone = 0,
				nalive = 0;

	if (!p->rail_checked && !rail_ok(run))
	{
		p->rail_tripped = true;
		end_reconcile(run);
		return;
	}
	n = pgb_store_unseen_batch(run->src.id, p->entity, PGB_VERIFY_BATCH, &ids);
	if (n == 0)
	{
		end_reconcile(run);
		progress(run, p->page - 1, false, &counts);
		return;
	}
	gone = palloc(sizeof(char *) * n);
	alive = palloc(sizeof(char *) * n);
	parents = palloc(sizeof(char *) * n);
	if (p->parent)
		pgb_store_parents_of(run->src.id, p->entity, p->parent, ids, n, parents);
	pgb_entity_page_init(&page, p->entity);
	for (int i = 0; i < n; i++)
	{
		/* a child whose parent record is no longer stored went with it */
		if (p->parent && parents[i] == NULL)
			gone[ngone++] = ids[i];
		else if (p->parent ? pgb_fetch_child_record(&run->src, p->entity, parents[i], ids[i], &page) :
				 pgb_fetch_record(&run->src, p->entity, ids[i], &page))
			alive[nalive++] = ids[i];
		else
			gone[ngone++] = ids[i];
	}
	store_page(run, &page, &counts);
	pgb_store_mark_seen_ids(run->src.id, p->entity->name, alive, nalive);
	counts.deleted = pgb_store_tombstone(run->src.id, p->entity, gone, ngone);
	progress(run, p->page - 1, false, &counts);
}

static void
step_rail_error(Run *run)
{
	Pass	   *p = &run->pass;

	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("reconcile stopped: %lld of %lld records were not listed, none was marked deleted",
					(long long) p->rail_unseen, (long long) p->rail_live),
			 errdetail("A reconcile confirms at most %lld unlisted records one by one (option reconcile_max_unseen, by default the larger of 100 and 10%% of the live records).",
					   (long long) p->rail_limit),
			 errhint("Check that the source's base_url and API key reach the right site and that its lists are complete. If that many records really were deleted upstream, raise option reconcile_max_unseen for one run.")));
}

/*
 * The statements of a sync name every table and function with its schema; a fixed search_path
 * for each step also keeps a caller's search_path from changing what an operator or a cast means.
 */
static void
safe_search_path(void)
{
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * The error context of a step: where the run was (source, entity, page, record), so that messages
 * stay short. Kept for the run too (sync_runs.error_context).
 */
static void
location_context(void *arg)
{
	Run		   *run = (Run *) arg;
	StringInfoData s;
	const char *record = pgb_source_record(&run->src);

	if (run->src.name == NULL)
		return;
	initStringInfo(&s);
	appendStringInfo(&s, "source \"%s\"", run->src.name);
	if (run->pass.entity)
		appendStringInfo(&s, ", entity %s", run->pass.entity->name);
	if (run->paging)
		appendStringInfo(&s, ", page %ld", run->pass.page);
	else if (run->pass.verifying)
		appendStringInfoString(&s, ", confirming unlisted records");
	if (record)
		appendStringInfo(&s, ", record %s", record);
	errcontext("%s", s.data);
	/* the last report of a failed step is its error (a warning before it is overwritten) */
	if (run->location)
		pfree(run->location);
	run->location = MemoryContextStrdup(run->cxt, s.data);
	/* ErrorContext is reset only when an error is caught: a run of warnings would pile up there */
	pfree(s.data);
}

/* Runs fn in a subtransaction; on error returns the error (copied into the run's context). */
static ErrorData *
run_step(Run *run, StepFn fn)
{
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile err = NULL;
	ErrorContextCallback where = {error_context_stack, location_context, run};

	MemoryContextReset(run->page_cxt);
	run->paging = fn == step_page;
	run->src.where = NULL;
	if (run->location)
		pfree(run->location);
	run->location = NULL;
	error_context_stack = &where;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(run->page_cxt);
	PG_TRY();
	{
		int			nest = NewGUCNestLevel();

		safe_search_path();
		fn(run);
		AtEOXact_GUC(true, nest);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(run->page_cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(run->cxt);
		err = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(run->page_cxt);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	error_context_stack = where.previous;
	run->paging = false;
	/* a pass's settled since is kept in the run's context across steps (copied once, not per step) */
	if (err == NULL && run->pass.since && GetMemoryChunkContext(run->pass.since) != run->cxt)
	{
		MemoryContext old = MemoryContextSwitchTo(run->cxt);

		run->pass.since = pstrdup(run->pass.since);
		MemoryContextSwitchTo(old);
	}
	return err;
}

/* Records how the run ended: the error's message, and its detail, hint and SQLSTATE apart. */
static void
finish(Run *run, ErrorData *err)
{
	StringInfoData d;

	if (err == NULL)
	{
		pgb_store_finish_run(run->run_id, NULL, NULL, NULL, run->src.http.requests);
		return;
	}
	initStringInfo(&d);
	/* a constraint violation's "Failing row contains (...)" would copy vendor data: left out */
	if (err->detail && strncmp(err->detail, "Failing row contains", 20) == 0)
		appendStringInfoString(&d, "(the failing row is not shown)");
	else if (err->detail)
		appendStringInfoString(&d, err->detail);
	if (err->hint)
		appendStringInfo(&d, "%sHint: %s", d.len ? "\n" : "", err->hint);
	appendStringInfo(&d, "%sSQLSTATE %s", d.len ? "\n" : "", unpack_sql_state(err->sqlerrcode));
	pgb_store_finish_run(run->run_id, err->message ? err->message : "unknown error", d.data, run->location,
						 run->src.http.requests);
}

/*
 * Stored revenue is refreshed once at the end of a run (billing._sync_run), not at every page's
 * commit: a large sync touches each customer on many pages. Local to the page's transaction.
 */
static void
defer_revenue_refresh(void)
{
	(void) set_config_option("pg_billing.revenue_refresh", "deferred", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

static ErrorData *
sync_all(Run *run)
{
	ErrorData  *err;
	const PgbEntity **entities;
	int			n;

	if ((err = run_step(run, step_load)) != NULL)
		return err;
	if ((err = run_step(run, step_lock)) != NULL)
		return err;
	SPI_commit();
	entities = MemoryContextAlloc(run->cxt, sizeof(PgbEntity *) * run->src.conn->nentities);
	n = pgb_connector_entities(&run->src, entities);
	for (int i = 0; i < n; i++)
	{
		run->pass.entity = entities[i];
		if ((err = run_step(run, step_begin_entity)) != NULL)
			return err;
		SPI_commit();
		while (!run->pass.done)
		{
			defer_revenue_refresh();
			if ((err = run_step(run, run->pass.verifying ? step_verify : step_page)) != NULL)
				return err;
			SPI_commit();
		}
		/* the pass was reset and committed; the run fails with the reason */
		if (run->pass.rail_tripped)
			return run_step(run, step_rail_error);
	}
	return NULL;
}

/* One sync at a time per source: a session-level advisory lock, held for the run. */
static void
lock_tag(LOCKTAG *tag, int64 source_id)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (source_id >> 32), (uint32) source_id, 0x5042);
}

static void
step_lock(Run *run)
{
	LOCKTAG		tag;

	lock_tag(&tag, run->src.id);
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("source \"%s\" is being synced by another session", run->src.name),
				 errhint("Wait for that sync to end; billing.sync_runs shows it.")));
	run->locked = true;
}

static void
cleanup(Run *run)
{
	pgb_http_target_release(&run->src.http);
	pgb_http_auth_release(&run->src.http);
	pgb_http_release_buffer();
	if (run->locked)
	{
		LOCKTAG		tag;

		lock_tag(&tag, run->src.id);
		LockRelease(&tag, ExclusiveLock, true);
		run->locked = false;
	}
}

Datum
pgb_sync_connector(PG_FUNCTION_ARGS)
{
	Run			run;
	ErrorData  *volatile err = NULL;
	MemoryContext caller = CurrentMemoryContext;

	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		castNode(CallContext, fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("a sync must run in CALL outside a transaction block"),
				 errhint("Use CALL billing.sync(source) on its own, not inside BEGIN ... COMMIT or a function.")));

	memset(&run, 0, sizeof(run));
	run.run_id = PG_GETARG_INT64(0);
	run.cxt = AllocSetContextCreate(TopMemoryContext, "pg_billing sync run", ALLOCSET_DEFAULT_SIZES);
	run.page_cxt = AllocSetContextCreate(run.cxt, "pg_billing sync page", ALLOCSET_DEFAULT_SIZES);
	SPI_connect_ext(SPI_OPT_NONATOMIC);
	PG_TRY();
	{
		int			nest;

		err = sync_all(&run);
		MemoryContextSwitchTo(run.cxt);
		nest = NewGUCNestLevel();
		safe_search_path();
		finish(&run, err);
		AtEOXact_GUC(true, nest);
		SPI_commit();
	}
	PG_CATCH();
	{
		/* an error outside the steps (e.g. while recording the end): clean up, free with the error */
		cleanup(&run);
		MemoryContextSetParent(run.cxt, ErrorContext);
		PG_RE_THROW();
	}
	PG_END_TRY();
	cleanup(&run);
	SPI_finish();
	MemoryContextSwitchTo(caller);
	/* a cancel or timeout is recorded, then raised again so the caller sees it */
	if (err && (err->sqlerrcode == ERRCODE_QUERY_CANCELED || err->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN))
	{
		MemoryContextSetParent(run.cxt, ErrorContext);
		ReThrowError(err);
	}
	MemoryContextDelete(run.cxt);
	PG_RETURN_VOID();
}

/* The entry point's 0.2.0 name (billing._sync_connector of 0.2.0 names it; 0.3.0 the new one). */
Datum
pgb_sync_run(PG_FUNCTION_ARGS)
{
	return pgb_sync_connector(fcinfo);
}
