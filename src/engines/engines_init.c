/*
 * engines_init.c: settings of the engines room, registered from _PG_init.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "pg_billing.h"

/* Which implementation billing.refresh_revenue() uses; both give identical figures. */
static int	pgb_revenue_engine = 0;

static const struct config_enum_entry revenue_engine_options[] = {
	{"c", 0, false},
	{"sql", 1, false},
	{NULL, 0, false}
};

/* When stored results follow the data: at each commit, or when billing.refresh_revenue() is called. */
static int	pgb_revenue_refresh = 0;

static const struct config_enum_entry revenue_refresh_options[] = {
	{"commit", 0, false},
	{"deferred", 1, false},
	{NULL, 0, false}
};

void
pgb_engines_init(void)
{
	DefineCustomEnumVariable("pg_billing.revenue_refresh",
							 "When the stored revenue and MRR follow the data: at each commit, or deferred.",
							 "deferred leaves changed customers queued until billing.refresh_revenue() runs; "
							 "a sync defers within its run and refreshes once at its end.",
							 &pgb_revenue_refresh, 0, revenue_refresh_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("pg_billing.revenue_engine",
							 "Implementation of the revenue refresh: c (one ordered pass) or sql (set-based queries).",
							 "Both compute the same figures; sql is the reference the tests compare c against. "
							 "A reporting currency always uses sql for the converted columns.",
							 &pgb_revenue_engine, 0, revenue_engine_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}
