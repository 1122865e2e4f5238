/*
 * sync_worker.c: one background worker per run. It executes CALL billing._sync_run(run) as a
 * top-level, non-atomic statement, so the procedure's page-by-page COMMITs work, then exits.
 *
 * A bare SPI_execute_extended(allow_nonatomic) cannot run a CALL here: a background worker has no
 * outer portal, and the procedure's COMMIT needs the snapshot to belong to one. So the statement
 * goes through a portal exactly as a client's simple query does.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"

#include "push/push.h"
#include "worker/worker.h"

static PgbWorkerArgs my_args;

static void
sync_detach(int code, Datum arg)
{
	Latch	   *scheduler = NULL;

	SpinLockAcquire(&pgb_shared->mutex);
	if (pgb_shared->slots[my_args.slot].pid == MyProcPid)
	{
		pgb_shared->slots[my_args.slot].pid = 0;
		pgb_shared->slots[my_args.slot].run_id = 0;
		pgb_shared->slots[my_args.slot].source_id = 0;
	}
	scheduler = pgb_shared->scheduler_latch;
	SpinLockRelease(&pgb_shared->mutex);
	if (scheduler)
		SetLatch(scheduler);
}

/* Takes the slot the scheduler reserved; false when it was given away meanwhile. */
static bool
sync_attach(void)
{
	bool		ok;

	SpinLockAcquire(&pgb_shared->mutex);
	ok = pgb_shared->slots[my_args.slot].run_id == my_args.run_id && pgb_shared->slots[my_args.slot].pid == 0;
	if (ok)
		pgb_shared->slots[my_args.slot].pid = MyProcPid;
	SpinLockRelease(&pgb_shared->mutex);
	if (ok)
		before_shmem_exit(sync_detach, (Datum) 0);
	return ok;
}

/* Runs one SQL string in the current transaction with SPI; returns the first column as text. */
static char *
query_text(const char *sql)
{
	char	   *result = NULL;
	Oid			types[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(my_args.run_id)};

	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute_with_args(sql, 1, types, args, NULL, false, 1) >= 0 && SPI_processed > 0)
	{
		char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (value)
			result = MemoryContextStrdup(TopMemoryContext, value);
	}
	PopActiveSnapshot();
	SPI_finish();
	return result;
}

/* Is the run still there and waiting to be run? Also names it for pg_stat_activity. */
static bool
run_is_pending(void)
{
	char	   *name = NULL;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (pgb_extension_present())
		name = query_text("SELECT s.name FROM billing.sync_runs r JOIN billing.sources s"
						  " ON s.id OPERATOR(pg_catalog.=) r.source_id"
						  " WHERE r.id OPERATOR(pg_catalog.=) $1"
						  " AND r.status OPERATOR(pg_catalog.=) ANY ('{queued,running}'::pg_catalog.text[])");
	CommitTransactionCommand();
	if (name)
	{
		char		appname[NAMEDATALEN];

		snprintf(appname, sizeof(appname), "pg_billing sync %s", name);
		pgstat_report_appname(appname);
	}
	return name != NULL;
}

/* Executes the statement as a top-level, non-atomic command, like a client's simple query. */
static void
execute_toplevel(const char *sql)
{
	List	   *parsetrees;
	List	   *querytrees;
	List	   *plantrees;
	Portal		portal;
	DestReceiver *dest;
	QueryCompletion qc;
	MemoryContext exec_cxt;
	MemoryContext oldcxt;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();

	/*
	 * The statement's trees must outlive the procedure's COMMITs, which free every transaction
	 * context: they live in a context of their own, as a client's query lives in MessageContext.
	 */
	exec_cxt = AllocSetContextCreate(TopMemoryContext, "pg_billing sync statement", ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(exec_cxt);
	parsetrees = pg_parse_query(sql);
	if (list_length(parsetrees) != 1)
		elog(ERROR, "expected one statement");
	PushActiveSnapshot(GetTransactionSnapshot());
	querytrees = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, parsetrees), sql, NULL, 0, NULL);
	plantrees = pg_plan_queries(querytrees, sql, CURSOR_OPT_PARALLEL_OK, NULL);
	PopActiveSnapshot();

	portal = CreatePortal("pg_billing sync", true, true);
	portal->visible = false;
	PortalDefineQuery(portal, NULL, sql, CMDTAG_CALL, plantrees, NULL);
	PortalStart(portal, NULL, 0, InvalidSnapshot);
	dest = CreateDestReceiver(DestNone);
	(void) PortalRun(portal, FETCH_ALL, true, true, dest, dest, &qc);
	dest->rDestroy(dest);
	PortalDrop(portal, false);
	CommitTransactionCommand();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(exec_cxt);
}

/* After an error escaped the procedure: record it on the run, if it is still open. */
static void
record_failure(const char *message)
{
	char		sql[] = "SELECT billing._finish_run(r.id, 'worker: ' OPERATOR(pg_catalog.||) $2,"
		" 'The sync raised an error instead of recording it.')"
		" FROM billing.sync_runs r WHERE r.id OPERATOR(pg_catalog.=) $1"
		" AND r.status OPERATOR(pg_catalog.=) ANY ('{queued,running}'::pg_catalog.text[])";
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2];

	args[0] = Int64GetDatum(my_args.run_id);
	args[1] = CStringGetTextDatum(message);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (pgb_extension_present())
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		(void) SPI_execute_with_args(sql, 2, types, args, NULL, false, 0);
		PopActiveSnapshot();
		SPI_finish();
	}
	CommitTransactionCommand();
}

void
pgb_sync_main(Datum arg)
{
	char		sql[64];
	MemoryContext cxt = CurrentMemoryContext;

	memcpy(&my_args, MyBgworkerEntry->bgw_extra, sizeof(my_args));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(my_args.dboid, my_args.roleoid, 0);
	pgb_worker_safe_search_path();
	pgstat_report_appname("pg_billing sync");
	if (!sync_attach())
	{
		elog(DEBUG1, "pg_billing: run " INT64_FORMAT " was given to another worker", my_args.run_id);
		proc_exit(0);
	}

	/* the sync, then the push to the source's push_to target (src/push/push.c) */
	pgb_push_worker_statement(sql, sizeof(sql), my_args.run_id);
	/* an error, even before the run starts, is recorded on the run so it is not started again */
	PG_TRY();
	{
		if (run_is_pending())
		{
			pgstat_report_activity(STATE_RUNNING, sql);
			execute_toplevel(sql);
		}
		else
			elog(DEBUG1, "pg_billing: run " INT64_FORMAT " is no longer waiting to run", my_args.run_id);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		/* a termination request ends the worker; the scheduler marks the run interrupted */
		CHECK_FOR_INTERRUPTS();
		ereport(LOG, (errmsg("pg_billing: run " INT64_FORMAT " raised: %s", my_args.run_id, edata->message)));
		record_failure(edata->message);
	}
	PG_END_TRY();
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
