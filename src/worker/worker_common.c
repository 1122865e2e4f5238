/*
 * worker_common.c: what the database-connected workers share: signals, the checks made before
 * each unit of work, and the description of a dynamic worker.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "worker/worker.h"

volatile sig_atomic_t pgb_got_sigterm = false;
volatile sig_atomic_t pgb_die_on_sigterm = false;

/*
 * Between units of work the handler only sets a flag and the latch, so the worker leaves at a
 * point of its choosing; during a tick (pgb_die_on_sigterm) it also requests termination as a
 * backend's die() does, so the next CHECK_FOR_INTERRUPTS in whatever SQL runs ends the worker and
 * a fast shutdown never waits for a slow or looping statement.
 */
void
pgb_sigterm_handler(SIGNAL_ARGS)
{
	int			save_errno = errno;

	pgb_got_sigterm = true;
	if (pgb_die_on_sigterm)
		die(postgres_signal_arg);
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * Right after connecting: the database's or the role's search_path (ALTER DATABASE/ROLE ... SET)
 * belongs to whoever owns them, and the workers run as a superuser by default. Every statement
 * the workers send names its schema, and with only pg_catalog (and pg_temp, never searched for
 * functions or operators) on the path, no operator, function or cast of another schema can be
 * chosen for an unqualified one. PGC_S_SESSION outranks the database and role settings but not
 * a function's own SET clause, so billing's functions keep their pinned paths.
 */
void
pgb_worker_safe_search_path(void)
{
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SET, true, 0, false);
}

/* The owner and schema of extension ext, read from pg_extension (no syscache in PostgreSQL 15). */
static bool
extension_owner_schema(Oid ext, Oid *owner, Oid *schema)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		found = false;

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
	rel = table_open(ExtensionRelationId, AccessShareLock);
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_extension e = (Form_pg_extension) GETSTRUCT(tup);

		*owner = e->extowner;
		*schema = e->extnamespace;
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The workers' statements name the schema `billing`. That name must be the schema the extension
 * was installed in (pg_extension.extnamespace), and that schema must belong to the extension's
 * owner: otherwise `billing.` could name a schema someone else made (renamed in after the
 * install, or pre-created before it), whose functions would run as the workers' role.
 */
static bool
billing_schema_is_the_extensions(Oid ext)
{
	Oid			ext_owner = InvalidOid;
	Oid			ext_schema = InvalidOid;
	Oid			billing = get_namespace_oid("billing", true);
	Oid			nsp_owner = InvalidOid;
	HeapTuple	tup;

	if (!extension_owner_schema(ext, &ext_owner, &ext_schema) || !OidIsValid(billing))
		return false;
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(billing));
	if (!HeapTupleIsValid(tup))
		return false;
	nsp_owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return billing == ext_schema && nsp_owner == ext_owner;
}

/*
 * Inside a transaction: is pg_billing installed in this database, in the schema its workers'
 * statements name? A mismatch is logged (once per worker, at LOG: always in the server log) and treated as no extension at all:
 * the workers do nothing in this database rather than call into a schema that is not the
 * extension's.
 */
bool
pgb_extension_present(void)
{
	static bool warned = false;
	Oid			ext = get_extension_oid("pg_billing", true);

	if (!OidIsValid(ext))
		return false;
	if (billing_schema_is_the_extensions(ext))
		return true;
	if (!warned)
		ereport(LOG,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("pg_billing workers do nothing in database \"%s\": schema \"billing\" is not the extension's own schema",
						get_database_name(MyDatabaseId)),
				 errdetail("The workers only run in a schema named billing that is pg_billing's schema (pg_extension.extnamespace) and belongs to the extension's owner."),
				 errhint("Drop or rename the schema that took the name billing, or give the extension's schema back to its owner; the scheduler checks again within a minute.")));
	warned = true;
	return false;
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
