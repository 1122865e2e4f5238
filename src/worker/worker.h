/*
 * worker.h: the worker room. Three kinds of background worker share this state:
 *
 *   launcher   static (shared_preload_libraries), connected to no database; starts the scheduler
 *              for pg_billing.database whenever that database exists and no scheduler runs.
 *   scheduler  one per cluster, connected to pg_billing.database; queues scheduled runs, evaluates
 *              alerts, purges old runs, marks interrupted runs, and starts one sync worker per run.
 *   sync       one per run; executes CALL billing._sync_run(run) and exits.
 *
 * Shared memory holds only PIDs, latch pointers, run ids and flags (no handles, no descriptors).
 */
#ifndef PGB_WORKER_H
#define PGB_WORKER_H

#include "datatype/timestamp.h"
#include "postmaster/bgworker.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/spin.h"

/* Upper bound of pg_billing.max_sync_workers: the slot array is sized once. */
#define PGB_MAX_SYNC_SLOTS 64

typedef struct PgbSyncSlot
{
	int64		run_id;			/* 0 = free */
	int64		source_id;
	pid_t		pid;			/* 0 until the sync worker attached */
} PgbSyncSlot;

typedef struct PgbWorkerShared
{
	slock_t		mutex;			/* protects everything below but the atomics */
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	pid_t		scheduler_pid;
	Latch	   *scheduler_latch;
	TimestampTz booted_at;		/* when shared memory was (re)initialised: runs older are dead */
	pg_atomic_uint32 start_now; /* a request asks the launcher to start the scheduler at once */
	pg_atomic_uint32 ext_absent;	/* the scheduler found no extension in its database */
	TimestampTz paused_until;	/* DROP EXTENSION in progress: no scheduler before this */
	PgbSyncSlot slots[PGB_MAX_SYNC_SLOTS];
} PgbWorkerShared;

/* What a dynamic worker receives in bgw_extra. */
typedef struct PgbWorkerArgs
{
	Oid			dboid;
	Oid			roleoid;
	int64		run_id;			/* sync workers only */
	int			slot;			/* sync workers only */
} PgbWorkerArgs;

/* Settings (worker_init.c). */
extern char *pgb_database;
extern char *pgb_worker_role;
extern int	pgb_max_sync_workers;
extern int	pgb_tick_timeout_ms;
extern bool pgb_preloaded;

/* Shared state (worker_shmem.c). */
extern PgbWorkerShared *pgb_shared;
extern void pgb_worker_shmem_init(void);
extern void pgb_wake_scheduler(void);
extern int	pgb_live_runs(int64 *run_ids, int64 *source_ids, pid_t *pids);

/* Entry points of the workers (exported for the postmaster). */
extern PGDLLEXPORT void pgb_launcher_main(Datum arg);
extern PGDLLEXPORT void pgb_scheduler_main(Datum arg);
extern PGDLLEXPORT void pgb_sync_main(Datum arg);

/* Helpers shared by the database-connected workers (worker_common.c). */
extern volatile sig_atomic_t pgb_got_sigterm;
extern volatile sig_atomic_t pgb_die_on_sigterm;
extern void pgb_sigterm_handler(SIGNAL_ARGS);
extern void pgb_worker_safe_search_path(void);
extern bool pgb_extension_present(void);
extern bool pgb_database_wanted_elsewhere(void);
extern void pgb_fill_worker(BackgroundWorker *bgw, const char *function, const char *type,
							const PgbWorkerArgs *args);

#endif							/* PGB_WORKER_H */
