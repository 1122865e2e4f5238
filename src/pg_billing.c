/*
 * pg_billing.c: module entry point. Calls each room's init function; no logic of its own.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "pg_billing.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(pgb_version);

void
_PG_init(void)
{
	pgb_http_init();
	pgb_engines_init();
	pgb_worker_init();
	/* Only after every room has defined its settings: reserving drops undefined placeholders. */
	MarkGUCPrefixReserved("pg_billing");
}

/* The version of the loaded library, to compare with the installed SQL objects. */
Datum
pgb_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(PGB_VERSION));
}
