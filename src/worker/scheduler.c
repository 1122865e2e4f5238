/*
 * scheduler.c: the worker connected to pg_billing.database. Each tick is one short transaction
 * (billing._worker_tick: mark interrupted runs, queue due runs, alerts, retention) followed by the
 * start of one sync worker per runnable run. Between ticks it waits on its latch outside any
 * transaction: request_sync's commit, a source change and a sync worker's exit set it. Once a
 * second it checks, without a transaction, whether someone wants the database to themselves.
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "worker/worker.h"

#define PROBE_MS		1000	/* how often to look for DROP DATABASE while idle */
#define ERROR_PAUSE_MS	5000	/* after a tick failed */

typedef enum TickResult
{
	TICK_OK,
	TICK_NO_EXTENSION,
	TICK_FAILED
} TickResult;

typedef struct Runnable
{
	int64		run_id;
	int64		source_id;
} Runnable;

static PgbWorkerArgs my_args;
static BackgroundWorkerHandle *handles[PGB_MAX_SYNC_SLOTS];
static Runnable runnable[PGB_MAX_SYNC_SLOTS];
static int	n_runnable;

/*
 * The last runs started, when, and how often: a run whose worker ends without finishing it (an
 * error before the run could be recorded, a crash) is started again only after 1, 2, 4 ... 60
 * seconds, so that it never turns into a tight start loop.
 */
#define RECENT_RUNS 16
#define RELAUNCH_MAX_SECS 60
static int64 recent_run[RECENT_RUNS];
static TimestampTz recent_at[RECENT_RUNS];
static int	recent_starts[RECENT_RUNS];
static int	recent_next;

static int
recent_slot(int64 run_id)
{
	for (int i = 0; i < RECENT_RUNS; i++)
		if (recent_run[i] == run_id)
			return i;
	return -1;
}

static bool
started_recently(int64 run_id, TimestampTz now)
{
	int			i = recent_slot(run_id);

	if (i < 0)
		return false;
	return now - recent_at[i] < Min(RELAUNCH_MAX_SECS, 1 << Min(recent_starts[i] - 1, 6)) * USECS_PER_SEC;
}

static void
note_start(int64 run_id, TimestampTz now)
{
	int			i = recent_slot(run_id);

	if (i < 0)
	{
		i = recent_next;
		recent_next = (recent_next + 1) % RECENT_RUNS;
		recent_run[i] = run_id;
		recent_starts[i] = 0;
	}
	recent_at[i] = now;
	recent_starts[i]++;
}

static double next_tick_secs;
static bool delayed_launch;		/* a run waits for started_recently() to pass */

static void
scheduler_detach(int code, Datum arg)
{
	Latch	   *launcher = NULL;

	SpinLockAcquire(&pgb_shared->mutex);
	if (pgb_shared->scheduler_pid == MyProcPid)
	{
		pgb_shared->scheduler_pid = 0;
		pgb_shared->scheduler_latch = NULL;
		launcher = pgb_shared->launcher_latch;
	}
	SpinLockRelease(&pgb_shared->mutex);
	if (launcher)
		SetLatch(launcher);
}

/* Becomes the one scheduler; adopts the sync workers an earlier scheduler started. */
static bool
scheduler_attach(void)
{
	bool		ok;

	SpinLockAcquire(&pgb_shared->mutex);
	ok = pgb_shared->scheduler_pid == 0 || pgb_shared->scheduler_pid == MyProcPid;
	if (ok)
	{
		pgb_shared->scheduler_pid = MyProcPid;
		pgb_shared->scheduler_latch = MyLatch;
		/* a slot whose worker never attached belongs to a dead scheduler: its run is still queued */
		for (int i = 0; i < PGB_MAX_SYNC_SLOTS; i++)
			if (pgb_shared->slots[i].pid == 0)
				pgb_shared->slots[i].run_id = 0;
	}
	SpinLockRelease(&pgb_shared->mutex);
	if (ok)
		before_shmem_exit(scheduler_detach, (Datum) 0);
	return ok;
}

/* Frees slots whose worker was registered but never started (or could not start). */
static void
release_unstarted_slots(void)
{
	for (int i = 0; i < PGB_MAX_SYNC_SLOTS; i++)
	{
		pid_t		pid;

		if (handles[i] == NULL)
			continue;
		if (GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED)
			continue;
		SpinLockAcquire(&pgb_shared->mutex);
		if (pgb_shared->slots[i].pid == 0)
			pgb_shared->slots[i].run_id = 0;
		SpinLockRelease(&pgb_shared->mutex);
		pfree(handles[i]);
		handles[i] = NULL;
	}
}

static Datum
int8_array(int64 *values, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(values[i]);
	return PointerGetDatum(construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* The SQL half of a tick; inside a transaction with SPI connected. */
static TickResult
tick_sql(void)
{
	int64		run_ids[PGB_MAX_SYNC_SLOTS];
	int64		source_ids[PGB_MAX_SYNC_SLOTS];
	int			live = pgb_live_runs(run_ids, source_ids, NULL);
	Oid			types[3] = {INT8ARRAYOID, TIMESTAMPTZOID, INT4OID};
	Datum		args[3];
	bool		isnull;
	int			free_slots = Max(0, pgb_max_sync_workers - live);

	if (!pgb_extension_present())
		return TICK_NO_EXTENSION;
	if (SPI_execute("SELECT pg_catalog.to_regprocedure('billing._worker_tick(bigint[],timestamp with time zone)') IS NULL",
					true, 1) != SPI_OK_SELECT ||
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		return TICK_NO_EXTENSION;	/* an older version of pg_billing without workers */

	args[0] = int8_array(run_ids, live);
	args[1] = TimestampTzGetDatum(pgb_shared->booted_at);
	if (SPI_execute_with_args("SELECT billing._worker_tick($1, $2)", 2, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "billing._worker_tick failed");
	next_tick_secs = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	n_runnable = 0;
	if (free_slots == 0)
		return TICK_OK;
	args[0] = int8_array(source_ids, live);
	args[1] = Int32GetDatum(free_slots);
	types[1] = INT4OID;
	if (SPI_execute_with_args("SELECT run_id, source_id FROM billing._worker_runnable($1, $2)",
							  2, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "billing._worker_runnable failed");
	for (uint64 i = 0; i < SPI_processed && n_runnable < PGB_MAX_SYNC_SLOTS; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];

		runnable[n_runnable].run_id = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		runnable[n_runnable].source_id = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
		n_runnable++;
	}
	return TICK_OK;
}

/* One tick in one short transaction; errors are logged and the tick is retried later. */
static TickResult
tick(void)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	TickResult	result;

	n_runnable = 0;
	next_tick_secs = 60;
	pgstat_report_activity(STATE_RUNNING, "pg_billing scheduler tick");
	/* while the tick runs, SIGTERM ends the worker at the next interrupt check (fast shutdown) */
	pgb_die_on_sigterm = true;
	if (pgb_got_sigterm)
	{
		/* it came just before: the main loop leaves */
		pgb_die_on_sigterm = false;
		return TICK_FAILED;
	}
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		/* a session holding a lock the tick needs must not stall scheduling, alerts or shutdown */
		(void) set_config_option("lock_timeout", "1s", PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
								 true, 0, false);

		/*
		 * Nor may a table row or a slow plan hold the tick forever: a background worker has no
		 * client loop to arm statement_timeout, so the timer is armed here.
		 */
		enable_timeout_after(STATEMENT_TIMEOUT, pgb_tick_timeout_ms);
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		result = tick_sql();
		SPI_finish();
		PopActiveSnapshot();
		disable_timeout(STATEMENT_TIMEOUT, false);
		CommitTransactionCommand();
		pgstat_report_stat(false);
	}
	PG_CATCH();
	{
		disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		n_runnable = 0;
		result = TICK_FAILED;
	}
	PG_END_TRY();
	pgb_die_on_sigterm = false;
	MemoryContextSwitchTo(oldcxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

/* Starts one sync worker per runnable run, each in its own slot. */
static void
launch_runs(void)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int r = 0; r < n_runnable; r++)
	{
		PgbWorkerArgs args = my_args;
		BackgroundWorker bgw;
		int			slot = -1;

		if (started_recently(runnable[r].run_id, now))
		{
			delayed_launch = true;
			continue;
		}
		note_start(runnable[r].run_id, now);

		SpinLockAcquire(&pgb_shared->mutex);
		for (int i = 0; i < PGB_MAX_SYNC_SLOTS && slot < 0; i++)
			if (pgb_shared->slots[i].run_id == 0 && handles[i] == NULL)
				slot = i;
		if (slot >= 0)
		{
			pgb_shared->slots[slot].run_id = runnable[r].run_id;
			pgb_shared->slots[slot].source_id = runnable[r].source_id;
			pgb_shared->slots[slot].pid = 0;
		}
		SpinLockRelease(&pgb_shared->mutex);
		if (slot < 0)
			return;

		args.run_id = runnable[r].run_id;
		args.slot = slot;
		pgb_fill_worker(&bgw, "pgb_sync_main", "pg_billing sync", &args);
		if (!RegisterDynamicBackgroundWorker(&bgw, &handles[slot]))
		{
			ereport(LOG, (errmsg("pg_billing: no background worker slot free for run " INT64_FORMAT, args.run_id),
						  errhint("Raise max_worker_processes; the run stays queued.")));
			handles[slot] = NULL;
			SpinLockAcquire(&pgb_shared->mutex);
			pgb_shared->slots[slot].run_id = 0;
			SpinLockRelease(&pgb_shared->mutex);
			return;
		}
	}
}

/* Asks every sync worker to stop: the database or the extension is going away. */
static void
stop_sync_workers(void)
{
	pid_t		pids[PGB_MAX_SYNC_SLOTS];
	int			n = pgb_live_runs(NULL, NULL, pids);

	for (int i = 0; i < n; i++)
		if (pids[i] != 0 && BackendPidGetProc(pids[i]) != NULL)
			kill(pids[i], SIGTERM);
}

void
pgb_scheduler_main(Datum arg)
{
	TimestampTz next_tick = 0;

	memcpy(&my_args, MyBgworkerEntry->bgw_extra, sizeof(my_args));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, pgb_sigterm_handler);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(my_args.dboid, my_args.roleoid, 0);
	pgb_worker_safe_search_path();
	pgstat_report_appname("pg_billing scheduler");
	if (!scheduler_attach())
		proc_exit(0);			/* another scheduler already runs */

	for (;;)
	{
		int			rc;
		TimestampTz now;

		if (pgb_got_sigterm)
			proc_exit(1);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (pgb_database_wanted_elsewhere())
		{
			ereport(LOG, (errmsg("pg_billing scheduler leaves database \"%s\", which another session needs to itself",
								 pgb_database)));
			stop_sync_workers();
			pg_atomic_write_u32(&pgb_shared->ext_absent, 1);
			proc_exit(0);
		}
		release_unstarted_slots();
		now = GetCurrentTimestamp();
		if (now >= next_tick)
		{
			TickResult	res = tick();

			if (res == TICK_NO_EXTENSION)
			{
				stop_sync_workers();
				pg_atomic_write_u32(&pgb_shared->ext_absent, 1);
				proc_exit(0);	/* the launcher starts a scheduler again when the extension exists */
			}
			delayed_launch = false;
			if (res == TICK_OK)
				launch_runs();
			now = GetCurrentTimestamp();
			next_tick = TimestampTzPlusMilliseconds(now, res != TICK_OK ? ERROR_PAUSE_MS :
													delayed_launch ? 1000 : (long) (next_tick_secs * 1000));
		}
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   Max(1, Min(PROBE_MS, (next_tick - now) / 1000)), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (rc & WL_LATCH_SET)
			next_tick = 0;		/* a request, a source change or a finished run: tick now */
	}
}
