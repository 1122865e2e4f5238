/*
 * worker_init.c: settings of the worker room, the shared-memory hooks, and the launcher's
 * registration, all from _PG_init.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "pg_billing.h"
#include "worker/worker.h"

char	   *pgb_database = NULL;
char	   *pgb_worker_role = NULL;
int			pgb_max_sync_workers = 4;
int			pgb_tick_timeout_ms = 30000;
bool		pgb_preloaded = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
pgb_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(PgbWorkerShared)));
}

static void
pgb_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	pgb_worker_shmem_init();
}

static void
pgb_define_settings(void)
{
	DefineCustomStringVariable("pg_billing.database",
							   "Database whose billing sources the background workers sync.",
							   "One database per cluster; the workers never connect to any other.",
							   &pgb_database, "postgres", PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("pg_billing.worker_role",
							   "Role the background workers run as; empty means the bootstrap superuser.",
							   "A role that is a member of billing_admin is enough for syncing.",
							   &pgb_worker_role, "", PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.max_sync_workers",
							"Maximum number of syncs that run at the same time (one worker each).",
							"Each running sync also takes one of max_worker_processes.",
							&pgb_max_sync_workers, 4, 1, PGB_MAX_SYNC_SLOTS, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.tick_timeout",
							"Longest time one scheduler tick may take before it is cancelled.",
							"A tick that runs longer (a lock, a slow table) is cancelled, logged and retried 5 s later.",
							&pgb_tick_timeout_ms, 30000, 100, 3600000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

static void
pgb_register_launcher(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "pg_billing");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "pgb_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "pg_billing launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "pg_billing launcher");
	RegisterBackgroundWorker(&bgw);
}

void
pgb_worker_init(void)
{
	/*
	 * Without shared_preload_libraries there are no workers (request_sync says so), and the
	 * settings are not defined: a PGC_POSTMASTER setting defined after start-up is a FATAL error.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;
	pgb_define_settings();
	if (IsBinaryUpgrade)
		return;
	pgb_preloaded = true;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgb_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgb_shmem_startup;

	pgb_register_launcher();
}
