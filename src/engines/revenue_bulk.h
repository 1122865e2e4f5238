/*
 * revenue_bulk.h: writes many rows into one of the refresh's result tables the way COPY does:
 * heap_multi_insert in batches (one WAL record per page instead of per row), then each row's index
 * entries. Used for billing._revenue_monthly and billing._mrr_movements, which have no triggers,
 * rules or row security (checked when opened).
 */
#ifndef PGB_REVENUE_BULK_H
#define PGB_REVENUE_BULK_H

#include "postgres.h"

typedef struct PgbBulk PgbBulk;

/*
 * The table billing.<table>, with the columns each row gives, in that order. index_later: the table
 * was truncated in this transaction, so its indexes are rebuilt at close instead of row by row (and,
 * when the truncation was in the current subtransaction, its rows are written frozen).
 */
extern PgbBulk *pgb_bulk_open(const char *table, const char *const *columns, int ncolumns, bool index_later);
extern void pgb_bulk_put(PgbBulk *bulk, const Datum *values, const bool *nulls);
/* Writes what is left and closes the table (kept locked until the end of the transaction). */
extern void pgb_bulk_close(PgbBulk *bulk);

#endif							/* PGB_REVENUE_BULK_H */
