/*
 * worker_shmem.c: the state the workers share, and how a committing transaction wakes them.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include <signal.h>

#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "worker/worker.h"

PgbWorkerShared *pgb_shared = NULL;

static bool wake_callback_registered = false;
static bool wake_pending = false;

PG_FUNCTION_INFO_V1(pgb_worker_wake);
PG_FUNCTION_INFO_V1(pgb_worker_status);
PG_FUNCTION_INFO_V1(pgb_worker_stop);

#define STOP_PAUSE_MS	30000	/* no scheduler for this long after a stop (unless woken) */
#define STOP_WAIT_MS	10000	/* how long _worker_stop waits for the workers to leave */

void
pgb_worker_shmem_init(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pgb_shared = ShmemInitStruct("pg_billing worker", sizeof(PgbWorkerShared), &found);
	if (!found)
	{
		memset(pgb_shared, 0, sizeof(PgbWorkerShared));
		SpinLockInit(&pgb_shared->mutex);
		pgb_shared->booted_at = GetCurrentTimestamp();
		pgb_shared->paused_until = 0;
		pg_atomic_init_u32(&pgb_shared->start_now, 0);
		pg_atomic_init_u32(&pgb_shared->ext_absent, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Sets the scheduler's latch, or asks the launcher to start a scheduler when none runs.
 * A stale latch pointer only causes a spurious wake-up of whoever owns that PGPROC now.
 */
void
pgb_wake_scheduler(void)
{
	Latch	   *latch;
	bool		to_launcher;

	if (pgb_shared == NULL)
		return;
	SpinLockAcquire(&pgb_shared->mutex);
	to_launcher = pgb_shared->scheduler_pid == 0 || pgb_shared->scheduler_latch == NULL;
	latch = to_launcher ? pgb_shared->launcher_latch : pgb_shared->scheduler_latch;
	SpinLockRelease(&pgb_shared->mutex);
	if (to_launcher)
	{
		SpinLockAcquire(&pgb_shared->mutex);
		pgb_shared->paused_until = 0;
		SpinLockRelease(&pgb_shared->mutex);
		pg_atomic_write_u32(&pgb_shared->start_now, 1);
	}
	if (latch != NULL)
		SetLatch(latch);
}

/* Copies the runs that have a sync worker (or one being started); returns how many. */
int
pgb_live_runs(int64 *run_ids, int64 *source_ids, pid_t *pids)
{
	int			n = 0;

	if (pgb_shared == NULL)
		return 0;
	SpinLockAcquire(&pgb_shared->mutex);
	for (int i = 0; i < PGB_MAX_SYNC_SLOTS; i++)
	{
		if (pgb_shared->slots[i].run_id == 0)
			continue;
		if (run_ids)
			run_ids[n] = pgb_shared->slots[i].run_id;
		if (source_ids)
			source_ids[n] = pgb_shared->slots[i].source_id;
		if (pids)
			pids[n] = pgb_shared->slots[i].pid;
		n++;
	}
	SpinLockRelease(&pgb_shared->mutex);
	return n;
}

static void
pgb_wake_at_commit(XactEvent event, void *arg)
{
	if (!wake_pending)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			wake_pending = false;
			pgb_wake_scheduler();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_pending = false;
			break;
		default:
			break;
	}
}

/* Is this backend's database the one the workers serve? */
static bool
pgb_serves_this_database(void)
{
	char	   *name = get_database_name(MyDatabaseId);

	return pgb_shared != NULL && name != NULL && pgb_database != NULL && strcmp(name, pgb_database) == 0;
}

/*
 * billing._worker_wake(): wake the scheduler when the calling transaction commits (no polling).
 * Does nothing when the workers are absent or serve another database.
 */
Datum
pgb_worker_wake(PG_FUNCTION_ARGS)
{
	if (!pgb_serves_this_database())
		PG_RETURN_BOOL(false);
	if (!wake_callback_registered)
	{
		RegisterXactCallback(pgb_wake_at_commit, NULL);
		wake_callback_registered = true;
	}
	wake_pending = true;
	PG_RETURN_BOOL(true);
}

/* billing.worker_status(): whether workers serve this database, and who they are. */
Datum
pgb_worker_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	pid_t		launcher = 0,
				scheduler = 0;
	int			running = pgb_live_runs(NULL, NULL, NULL);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (pgb_shared != NULL)
	{
		SpinLockAcquire(&pgb_shared->mutex);
		launcher = pgb_shared->launcher_pid;
		scheduler = pgb_shared->scheduler_pid;
		SpinLockRelease(&pgb_shared->mutex);
	}
	values[0] = BoolGetDatum(pgb_shared != NULL);
	values[1] = CStringGetTextDatum(pgb_database ? pgb_database : "");
	values[2] = BoolGetDatum(pgb_serves_this_database());
	values[3] = Int32GetDatum(launcher);
	values[4] = Int32GetDatum(scheduler);
	values[5] = Int32GetDatum(running);
	nulls[3] = launcher == 0;
	nulls[4] = scheduler == 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Pids of the scheduler and the sync workers still alive; returns how many. */
static int
pgb_live_workers(pid_t *pids)
{
	int			n = 0;

	SpinLockAcquire(&pgb_shared->mutex);
	if (pgb_shared->scheduler_pid != 0)
		pids[n++] = pgb_shared->scheduler_pid;
	for (int i = 0; i < PGB_MAX_SYNC_SLOTS; i++)
		if (pgb_shared->slots[i].pid != 0)
			pids[n++] = pgb_shared->slots[i].pid;
	SpinLockRelease(&pgb_shared->mutex);
	return n;
}

/*
 * billing._worker_stop(): before DROP EXTENSION, ask the scheduler and the sync workers of this
 * database to leave (SIGTERM) and wait until they did, so that no worker transaction holds a lock
 * that DROP EXTENSION needs. The launcher starts no scheduler for 30 s unless woken (CREATE
 * EXTENSION, request_sync); if the DROP rolls back, the runs it interrupted resume after that.
 * Returns how many workers were stopped.
 */
Datum
pgb_worker_stop(PG_FUNCTION_ARGS)
{
	pid_t		pids[PGB_MAX_SYNC_SLOTS + 1];
	int			n;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), STOP_WAIT_MS);

	if (!pgb_serves_this_database())
		PG_RETURN_INT32(0);
	SpinLockAcquire(&pgb_shared->mutex);
	pgb_shared->paused_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), STOP_PAUSE_MS);
	SpinLockRelease(&pgb_shared->mutex);
	pg_atomic_write_u32(&pgb_shared->start_now, 0);
	n = pgb_live_workers(pids);
	for (int i = 0; i < n; i++)
		if (BackendPidGetProc(pids[i]) != NULL)
			kill(pids[i], SIGTERM);
	while (pgb_live_workers(pids) > 0 && GetCurrentTimestamp() < deadline)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_INT32(n);
}
