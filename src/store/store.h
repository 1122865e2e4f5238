/*
 * store.h: all SPI of a sync: idempotent batch upserts of a page, checkpoints, tombstones, progress.
 */
#ifndef PGB_STORE_H
#define PGB_STORE_H

#include "connectors/connector.h"

typedef struct PgbCounts
{
	int64		inserted;
	int64		updated;
	int64		unchanged;
	int64		deleted;
	int64		skipped;		/* received but not stored (statement of an unknown subscription) */
	char	   *skipped_example;	/* the first of them, named for the run's warnings */
	int64		store_us;		/* wall-clock microseconds spent storing (sync_runs.store_time) */
} PgbCounts;

/* Upserts every table of a page; counts the entity's own records. Never moves a row backwards. */
extern void pgb_store_page(int64 source_id, PgbPage *page, PgbCounts *counts);

/*
 * A function the store calls after each of its statements (or none: NULL), for the sync to keep
 * its requests in flight moving while a page is written (sync.c sets it around pgb_store_page and
 * always clears it).
 */
extern void pgb_store_set_between_statements(void (*fn) (void *arg), void *arg);

/*
 * The run's source as a validated, typed configuration (source_config.c): options checked against
 * the common ones and the connector's own, defaults filled in, allocated in cxt. *secret_json gets
 * the credentials object (the caller wipes it); *reconcile whether this run is a full reconcile.
 */
extern void pgb_store_load_source(int64 run_id, PgbSource *src, char **secret_json, bool *reconcile,
								  MemoryContext cxt);

/*
 * The same checks and typing of a source's options outside a sync run (the push reads its Xero
 * target's request limits this way): src->name and src->kind must be set.
 */
extern void pgb_source_read_options(PgbSource *src, const char *options_json);

/* A run's progress after a step: the page reached, the step's counts and a warning, if any. */
typedef struct PgbProgress
{
	const char *entity;
	long		page;			/* the last page committed */
	bool		new_page;		/* this step committed a page (a reconcile's checks do not) */
	int64		requests;		/* requests of the run so far */
	const char *warning;		/* a line for sync_runs.warnings, or NULL */
} PgbProgress;

extern void pgb_store_progress(int64 run_id, const PgbProgress *p, const PgbCounts *c);

/* Marks the run as a full reconcile. */
extern void pgb_store_mark_reconcile(int64 run_id);

/* Records how a run ended: error NULL for success; detail and context (where) may be NULL. */
extern void pgb_store_finish_run(int64 run_id, const char *error, const char *detail, const char *context,
								 int64 requests);

/* Where a pass over an entity stands (billing._sync_state.cursor, jsonb). */
typedef struct PgbCheckpoint
{
	char	   *since;			/* settled cursor "YYYY-MM-DDTHH:MM:SSZ", or NULL */
	bool		in_pass;		/* a pass is under way: the fields below say where */
	long		page;			/* pages committed */
	int64		run_since;
	int64		max_seen;
	int64		date0;
	bool		reconcile;
	bool		verify;
	char	   *parent;			/* a child entity's pass: the parent record being listed, or NULL */
	/* an id_cursor entity (digits, or NULL): settled greatest id; a pass's lower bound and greatest id */
	char	   *after_id;
	char	   *run_after;
	char	   *max_id;
} PgbCheckpoint;

/* Stores the checkpoint (built as jsonb from typed values). */
extern void pgb_store_checkpoint(int64 source_id, const char *entity, const PgbCheckpoint *cp);

/*
 * Reads it: false when there is none. Anything the sync would not have written (wrong types,
 * missing fields, out of range) raises "corrupt checkpoint" (ERRCODE_DATA_CORRUPTED).
 */
extern bool pgb_store_read_checkpoint(int64 source_id, const char *entity, PgbCheckpoint *cp);

/* Remembers the page's records as seen by a full reconcile of entity. */
extern void pgb_store_mark_seen(int64 source_id, const char *entity, PgbPage *page);

/*
 * The end of a full reconcile of entity: the live records the pass did not see are candidates
 * for a tombstone, each confirmed with the vendor first.
 */
extern void pgb_store_unseen_stats(int64 source_id, const PgbEntity *e, int64 *unseen, int64 *live);
/* Up to max candidates, in external id order; returns how many (ids palloc'd). */
extern int	pgb_store_unseen_batch(int64 source_id, const PgbEntity *e, int max, char ***ids);
extern void pgb_store_mark_seen_ids(int64 source_id, const char *entity, char **ids, int n);
/* Sets deleted_at on these records; returns how many were live. */
extern int64 pgb_store_tombstone(int64 source_id, const PgbEntity *e, char **ids, int n);

/* Child entities (PgbEntity.parent): the next parent record to list under, or NULL at the end. */
extern char *pgb_store_next_parent(int64 source_id, const PgbEntity *parent, const char *after, bool inclusive);
/* The parent's external id of each of n child records, into parents (NULL when not stored). */
extern void pgb_store_parents_of(int64 source_id, const PgbEntity *child, const PgbEntity *parent, char **ids,
								 int n, char **parents);

/* Forgets the seen set of entity (start of a reconcile pass). */
extern void pgb_store_clear_seen(int64 source_id, const char *entity);

#endif
