/*
 * push.h: the push driver (src/push/push.c): CALL billing._push_connector(run) runs one push run.
 */
#ifndef PGB_PUSH_H
#define PGB_PUSH_H

#include "fmgr.h"

extern Datum pgb_push_connector(PG_FUNCTION_ARGS);

/*
 * The statement a sync worker runs for run_id (into buf of size len): CALL billing._worker_run,
 * which syncs a source then pushes to its push_to target, or pushes a xero source on its schedule.
 */
extern void pgb_push_worker_statement(char *buf, size_t len, int64 run_id);

#endif
