/*
 * revenue_engine.h: the engine's one ordered scan over the queued customers' lines and refund
 * effects, shared by billing._revenue_engine (rows returned) and billing._revenue_refresh (rows
 * written and summed in place).
 */
#ifndef PGB_REVENUE_ENGINE_H
#define PGB_REVENUE_ENGINE_H

#include "postgres.h"

#include "engines/revenue_customer.h"

typedef void (*PgbRevGroupFn) (void *arg, const PgbRevGroup *group);

extern void pgb_revenue_scan(int64 txid, PgbRevGroupFn on_group, void *arg);

#endif							/* PGB_REVENUE_ENGINE_H */
