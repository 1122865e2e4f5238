/*
 * launcher.c: the static background worker. Connected to no database (so it never holds up
 * DROP DATABASE), it starts the scheduler for pg_billing.database whenever that database exists
 * and no scheduler runs: at once when a request asks for it, otherwise a few seconds after the
 * last one stopped (longer when the extension was absent), so nothing restarts in a tight loop.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "utils/fmgroids.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "worker/worker.h"

#define RESTART_DELAY_MS	5000	/* after a scheduler stopped */
#define ABSENT_DELAY_MS		30000	/* after it found no database or no extension */

static void
launcher_detach(int code, Datum arg)
{
	SpinLockAcquire(&pgb_shared->mutex);
	if (pgb_shared->launcher_pid == MyProcPid)
	{
		pgb_shared->launcher_pid = 0;
		pgb_shared->launcher_latch = NULL;
	}
	SpinLockRelease(&pgb_shared->mutex);
}

/* Is a scheduler alive? (It may have been started by an earlier launcher.) */
static bool
scheduler_alive(void)
{
	pid_t		pid;

	SpinLockAcquire(&pgb_shared->mutex);
	pid = pgb_shared->scheduler_pid;
	SpinLockRelease(&pgb_shared->mutex);
	return pid != 0 && BackendPidGetProc(pid) != NULL;
}

/*
 * The database's OID by name, with a plain scan of pg_database: without a database selected only
 * the nailed catalogs are usable, and the name index is not one of them.
 */
static Oid
database_oid(const char *name)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	Oid			oid = InvalidOid;

	ScanKeyInit(&key, Anum_pg_database_datname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum(name));
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		/* a template, or a database being dropped, is never the workers' */
		if (!db->datistemplate && db->datconnlimit != DATCONNLIMIT_INVALID_DB && db->datallowconn)
			oid = db->oid;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return oid;
}

/* Looks up the database and role by name in the shared catalogs; false when absent. */
static bool
resolve_target(PgbWorkerArgs *args)
{
	bool		ok = true;

	memset(args, 0, sizeof(*args));
	StartTransactionCommand();
	args->dboid = database_oid(pgb_database);
	if (!OidIsValid(args->dboid))
		ok = false;
	if (ok && pgb_worker_role[0] != '\0')
	{
		args->roleoid = get_role_oid(pgb_worker_role, true);
		if (!OidIsValid(args->roleoid))
		{
			ereport(LOG, (errmsg("pg_billing: role \"%s\" named by pg_billing.worker_role does not exist",
								 pgb_worker_role)));
			ok = false;
		}
	}
	CommitTransactionCommand();
	return ok;
}

/* Starts the scheduler; returns the delay before the launcher may try again. */
static long
start_scheduler(void)
{
	PgbWorkerArgs args;
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;
	pid_t		pid;

	if (!resolve_target(&args))
		return ABSENT_DELAY_MS;
	pgb_fill_worker(&bgw, "pgb_scheduler_main", "pg_billing scheduler", &args);
	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
	{
		ereport(LOG, (errmsg("pg_billing: could not start the scheduler"),
					  errhint("Raise max_worker_processes.")));
		return RESTART_DELAY_MS;
	}
	(void) WaitForBackgroundWorkerStartup(handle, &pid);
	pfree(handle);
	return RESTART_DELAY_MS;
}

void
pgb_launcher_main(Datum arg)
{
	TimestampTz next_start = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, pgb_sigterm_handler);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgb_worker_safe_search_path();	/* it runs no SQL today; if it ever does, with this path */
	pgstat_report_appname("pg_billing launcher");

	SpinLockAcquire(&pgb_shared->mutex);
	pgb_shared->launcher_pid = MyProcPid;
	pgb_shared->launcher_latch = MyLatch;
	SpinLockRelease(&pgb_shared->mutex);
	before_shmem_exit(launcher_detach, (Datum) 0);
	ereport(LOG, (errmsg("pg_billing launcher started for database \"%s\"", pgb_database)));

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		wait_ms = ABSENT_DELAY_MS;

		if (pgb_got_sigterm)
			proc_exit(1);			/* non-zero: the postmaster starts the launcher again */
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!scheduler_alive())
		{
			bool		asked = pg_atomic_exchange_u32(&pgb_shared->start_now, 0) != 0;

			TimestampTz paused_until;

			if (pg_atomic_exchange_u32(&pgb_shared->ext_absent, 0) != 0)
				next_start = Max(next_start, TimestampTzPlusMilliseconds(now, ABSENT_DELAY_MS));
			SpinLockAcquire(&pgb_shared->mutex);
			paused_until = pgb_shared->paused_until;
			SpinLockRelease(&pgb_shared->mutex);
			next_start = Max(next_start, paused_until);
			if (asked || now >= next_start)
			{
				long		delay = start_scheduler();

				now = GetCurrentTimestamp();
				next_start = TimestampTzPlusMilliseconds(now, delay);
			}
			wait_ms = Max(1, (next_start - now) / 1000);
		}

		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(wait_ms, ABSENT_DELAY_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}
