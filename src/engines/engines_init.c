/*
 * engines_init.c: settings of the engines room, registered from _PG_init.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "pg_billing.h"

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
}
