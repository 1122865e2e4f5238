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
} PgbCounts;

/* Upserts every table of a page; counts the entity's own records. Never moves a row backwards. */
extern void pgb_store_page(int64 source_id, PgbPage *page, PgbCounts *counts);

/* Remembers the page's records as seen by a full reconcile of entity. */
extern void pgb_store_mark_seen(int64 source_id, const char *entity, PgbPage *page);

/* Ends a full reconcile of entity: tombstones what was not seen; returns how many. */
extern int64 pgb_store_tombstone_unseen(int64 source_id, const char *entity);

/* Forgets the seen set of entity (start of a reconcile pass). */
extern void pgb_store_clear_seen(int64 source_id, const char *entity);

extern void pgb_store_checkpoint(int64 source_id, const char *entity, const char *cursor_json);

#endif
