/*
 * push_step.c: a run's step in a subtransaction (see push_step.h).
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "push/push_step.h"

ErrorData *
pgb_push_run_step(void (*fn) (void *arg), void *arg, MemoryContext run_cxt, MemoryContext step_cxt)
{
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile err = NULL;

	MemoryContextReset(step_cxt);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(step_cxt);
	PG_TRY();
	{
		int			nest = NewGUCNestLevel();

		(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		fn(arg);
		AtEOXact_GUC(true, nest);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(step_cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(run_cxt);
		err = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(step_cxt);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	return err;
}
