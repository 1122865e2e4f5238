/*
 * push_step.h: one step of a nonatomic run (the Xero push, the Splynx posts) in its own
 * subtransaction, with a safe search_path, so that a failing step is recorded by the run instead
 * of ending it, and the steps before it stay committed.
 */
#ifndef PGB_PUSH_STEP_H
#define PGB_PUSH_STEP_H

#include "utils/elog.h"
#include "utils/palloc.h"

/*
 * Resets step_cxt and runs fn(arg) in it, in a subtransaction with search_path pg_catalog,
 * pg_temp. Returns NULL, or the step's error copied into run_cxt (the subtransaction rolled back).
 * Ends in step_cxt either way.
 */
extern ErrorData *pgb_push_run_step(void (*fn) (void *arg), void *arg, MemoryContext run_cxt,
									MemoryContext step_cxt);

#endif
