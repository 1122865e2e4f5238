/*
 * worker_common.c: what the database-connected workers share: signals, the checks made before
 * each unit of work, and the description of a dynamic worker.
 */
#include "postgres.h"

#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "storage/lock.h"

#include "worker/worker.h"

volatile sig_atomic_t pgb_got_sigterm = false;

/* Signal handlers only set a flag and the latch. */
void
pgb_sigterm_handler(SIGNAL_ARGS)
{
	int			save_errno = errno;

	pgb_got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* Inside a transaction: is pg_billing installed in this database (with the worker's objects)? */
bool
pgb_extension_present(void)
{
	return OidIsValid(get_extension_oid("pg_billing", true));
}

/*
 * Outside a transaction: does someone want this database to themselves? DROP DATABASE, ALTER
 * DATABASE RENAME/SET TABLESPACE and CREATE DATABASE ... TEMPLATE lock the database object in a
 * mode that conflicts with RowExclusiveLock, then wait (5 s) for other sessions to leave; a
 * conditional lock that fails tells the worker to leave first.
 */
bool
pgb_database_wanted_elsewhere(void)
{
	LOCKTAG		tag;
	LockAcquireResult res;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, MyDatabaseId, 0);
	res = LockAcquire(&tag, RowExclusiveLock, true, true);
	if (res == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, RowExclusiveLock, true);
	return false;
}

void
pgb_fill_worker(BackgroundWorker *bgw, const char *function, const char *type, const PgbWorkerArgs *args)
{
	memset(bgw, 0, sizeof(*bgw));
	bgw->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw->bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw->bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw->bgw_library_name, BGW_MAXLEN, "pg_billing");
	snprintf(bgw->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(bgw->bgw_type, BGW_MAXLEN, "%s", type);
	if (args->run_id != 0)
		snprintf(bgw->bgw_name, BGW_MAXLEN, "%s for run " INT64_FORMAT, type, args->run_id);
	else
		snprintf(bgw->bgw_name, BGW_MAXLEN, "%s", type);
	StaticAssertStmt(sizeof(PgbWorkerArgs) <= BGW_EXTRALEN, "worker arguments exceed bgw_extra");
	memcpy(bgw->bgw_extra, args, sizeof(*args));
	bgw->bgw_notify_pid = MyProcPid;
}
