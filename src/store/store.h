/*
 * store.h: all SPI of a sync: idempotent batch upserts of a page, checkpoints, tombstones, progress.
 */
#ifndef PGB_STORE_H
#define PGB_STORE_H

#include "sync/records.h"

typedef struct PgbCounts
{
	int64		inserted;
	int64		updated;
	int64		unchanged;
	int64		deleted;
	int64		skipped;		/* received but not stored (statement of an unknown subscription) */
	char	   *skipped_example;	/* the first of them, named for the run's warnings */
} PgbCounts;

/* Upserts every table of a page; counts the entity's own records. Never moves a row backwards. */
extern void pgb_store_page(int64 source_id, PgbPage *page, PgbCounts *counts);

/* Remembers the page's records as seen by a full reconcile of entity. */
extern void pgb_store_mark_seen(int64 source_id, const char *entity, PgbPage *page);

/*
 * The end of a full reconcile of entity: the live records the pass did not see are candidates
 * for a tombstone, each confirmed with the vendor first.
 */
extern void pgb_store_unseen_stats(int64 source_id, const char *entity, int64 *unseen, int64 *live);
/* Up to max candidates, in external id order; returns how many (ids palloc'd). */
extern int	pgb_store_unseen_batch(int64 source_id, const char *entity, int max, char ***ids);
extern void pgb_store_mark_seen_ids(int64 source_id, const char *entity, char **ids, int n);
/* Sets deleted_at on these records; returns how many were live. */
extern int64 pgb_store_tombstone(int64 source_id, const char *entity, char **ids, int n);

/* Forgets the seen set of entity (start of a reconcile pass). */
extern void pgb_store_clear_seen(int64 source_id, const char *entity);

extern void pgb_store_checkpoint(int64 source_id, const char *entity, const char *cursor_json);

#endif
