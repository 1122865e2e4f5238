/*
 * pg_billing.c: module entry point. Calls each room's init function, and installs the one hook
 * that keeps vendor text from forging log lines.
 */
#include "postgres.h"

#include <dlfcn.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "http/http_util.h"
#include "pg_billing.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(pgb_version);

static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * Was the report raised by pg_billing's own C code? ereport keeps only the base name of __FILE__,
 * but as a pointer into the string literal, which lives in the library that raised the report:
 * dladdr names that library, and it must be the one this function is in.
 */
static bool
raised_by_pg_billing(const char *filename)
{
	static void *own_base = NULL;
	Dl_info		info;

	if (filename == NULL)
		return false;
	if (own_base == NULL)
	{
		if (dladdr((void *) raised_by_pg_billing, &info) == 0)
			return false;
		own_base = info.dli_fbase;
	}
	return dladdr((const void *) filename, &info) != 0 && info.dli_fbase == own_base;
}

/* A copy of s (in ErrorContext) with its control characters escaped, or s itself if it has none. */
static char *
escaped(char *s)
{
	size_t		size;
	char	   *out;

	if (s == NULL || (size = pgb_log_escape_size(s)) == 0)
		return s;
	out = MemoryContextAlloc(ErrorContext, size);
	pgb_log_escape(s, out);
	return out;
}

/*
 * Log injection: pg_billing's messages quote what vendors send (record ids, JSON parser errors,
 * names). One escape here, before the report reaches the log or the client, covers every message
 * the C code raises, now and later, so no vendor string can start a line of its own in the log.
 */
static void
pgb_emit_log(ErrorData *edata)
{
	if (raised_by_pg_billing(edata->filename))
	{
		edata->message = escaped(edata->message);
		edata->detail = escaped(edata->detail);
		edata->detail_log = escaped(edata->detail_log);
		edata->hint = escaped(edata->hint);
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
_PG_init(void)
{
	pgb_http_init();
	pgb_engines_init();
	pgb_worker_init();
	/* Only after every room has defined its settings: reserving drops undefined placeholders. */
	MarkGUCPrefixReserved("pg_billing");
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = pgb_emit_log;
}

/* The version of the loaded library, to compare with the installed SQL objects. */
Datum
pgb_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(PGB_VERSION));
}
