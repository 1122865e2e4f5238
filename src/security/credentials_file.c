/*
 * credentials_file.c: billing.set_credentials_from_file(source, path). The key is read by the
 * server from a file, so it is never part of a statement's text: log_statement,
 * log_min_error_statement, pg_stat_activity and auto_explain all see only the path.
 */
#include "postgres.h"

#include <sys/stat.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pgb_set_credentials_from_file);

/* Credentials are a small JSON object; anything larger is not one. */
#define CREDENTIALS_FILE_MAX (64 * 1024)

/* Reading files of the server is pg_read_file's privilege: superuser or pg_read_server_files. */
static void
check_may_read_server_files(void)
{
	if (superuser() || has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to read credentials from a server file"),
			 errdetail("Only superusers and members of pg_read_server_files may read files of the server."),
			 errhint("Ask a superuser to GRANT pg_read_server_files to the role that rotates keys, or to call this function.")));
}

/* The whole file as a NUL-terminated string; its content never appears in an error. */
static char *
read_small_file(const char *path)
{
	FILE	   *f;
	struct stat st;
	char	   *buf;
	size_t		n;

	f = AllocateFile(path, PG_BINARY_R);
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open credentials file \"%s\": %m", path)));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
	{
		FreeFile(f);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credentials file \"%s\" is not a regular file", path)));
	}
	if (st.st_size > CREDENTIALS_FILE_MAX)
	{
		FreeFile(f);
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("credentials file \"%s\" is larger than %d bytes", path, CREDENTIALS_FILE_MAX)));
	}
	buf = palloc(CREDENTIALS_FILE_MAX + 1);
	n = fread(buf, 1, CREDENTIALS_FILE_MAX + 1, f);
	if (ferror(f))
	{
		FreeFile(f);
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read credentials file \"%s\": %m", path)));
	}
	FreeFile(f);
	if (n > CREDENTIALS_FILE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("credentials file \"%s\" is larger than %d bytes", path, CREDENTIALS_FILE_MAX)));
	buf[n] = '\0';
	/* checked here, quietly: the text types' own checks would quote the offending bytes */
	if (strlen(buf) != n || !pg_verifymbstr(buf, n, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("credentials file \"%s\" is not text in the database encoding", path),
				 errdetail("Its content is not shown because it holds a secret.")));
	return buf;
}

/*
 * Reads the file and hands its text to billing.set_credentials(text, text), which validates the
 * JSON without quoting it. Runs as the caller: rotating keys still needs billing_admin.
 */
Datum
pgb_set_credentials_from_file(PG_FUNCTION_ARGS)
{
	char	   *path;
	char	   *content;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source and path must not be null")));
	check_may_read_server_files();
	path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!is_absolute_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credentials file path \"%s\" is not absolute", path),
				 errhint("Give the full path of a file on the database server.")));
	content = read_small_file(path);

	args[0] = PointerGetDatum(PG_GETARG_TEXT_PP(0));
	args[1] = CStringGetTextDatum(content);
	SPI_connect();
	if (SPI_execute_with_args("SELECT billing.set_credentials($1, $2)", 2, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "billing.set_credentials failed");
	SPI_finish();
	/* the key leaves this backend's memory with the function's context; clear the copy we made */
	explicit_bzero(content, strlen(content));
	PG_RETURN_VOID();
}
