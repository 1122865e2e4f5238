/*
 * log_escape.c: billing._escape_control(text), the SQL face of pgb_log_escape (http_util.c), so
 * that text stored for people to read and raised again later (a run's error) is escaped exactly
 * as the messages of the C code are.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "http/http_util.h"

PG_FUNCTION_INFO_V1(pgb_escape_control);

Datum
pgb_escape_control(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	char	   *s = text_to_cstring(in);
	size_t		size = pgb_log_escape_size(s);
	char	   *out;

	if (size == 0)
		PG_RETURN_TEXT_P(in);
	out = palloc(size);
	pgb_log_escape(s, out);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}
