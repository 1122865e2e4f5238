/*
 * http_init.c: settings of the http room, registered from _PG_init.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "pg_billing.h"
#include "http/http_client.h"
#include "json/json_mem.h"
#include "json/pgb_json.h"

void
pgb_http_init(void)
{
	/* before anything allocates with jansson: its blocks must be freed by the same functions */
	pgb_json_mem_install();
	DefineCustomStringVariable("pg_billing.ca_file",
							   "File of extra CA certificates trusted for vendor APIs (PEM); empty uses the system store.",
							   "TLS verification is always on; this only adds trusted CAs.",
							   &pgb_http_ca_file, "", PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("pg_billing.allow_loopback",
							 "Allows requests to this machine (127.0.0.0/8, ::1), and plain http to it; for tests only.",
							 "Private and link-local addresses stay refused.",
							 &pgb_http_allow_loopback, false, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.http_connect_timeout",
							"Time allowed to connect to a vendor API.", NULL,
							&pgb_http_connect_timeout_ms, 10000, 100, 600000, PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.http_timeout",
							"Time allowed for one HTTP request, from connect to the last byte.", NULL,
							&pgb_http_timeout_ms, 120000, 100, 3600000, PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.http_max_body",
							"Largest response body accepted (after decompression).", NULL,
							&pgb_http_max_body_kb, 65536, 16, 1048576, PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.http_max_retries",
							"Retries of a request after a 5xx, 429, timeout or connection error.", NULL,
							&pgb_http_max_retries, 4, 0, 20, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.http_retry_base",
							"First backoff wait between retries; doubles each retry, with jitter.", NULL,
							&pgb_http_retry_base_ms, 500, 1, 600000, PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.http_retry_max",
							"Longest backoff wait between retries.", NULL,
							&pgb_http_retry_max_ms, 30000, 1, 3600000, PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.http_max_retry_after",
							"Longest Retry-After a sync waits; a longer one fails the run.", NULL,
							&pgb_http_max_retry_after_s, 300, 0, 86400, PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.http_max_decompression_ratio",
							"Largest ratio of a compressed response's decoded size to its size on the wire.",
							"Checked once a body has decoded past 1 MB; a gzip bomb is refused before it grows. 0 turns the check off.",
							&pgb_http_max_ratio, 100, 0, 100000, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.json_max_memory",
							"Most memory the JSON decoder may hold at once in a backend.",
							"A response whose decoding needs more is refused as too large to decode.",
							&pgb_json_max_memory_kb, 262144, 1024, MAX_KILOBYTES, PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.run_max_requests",
							"Most HTTP requests one sync run may make, retries included.", NULL,
							&pgb_http_run_max_requests, 1000000, 1, INT_MAX, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_billing.run_max_bytes",
							"Most response bytes (decoded) one sync run may read.", NULL,
							&pgb_http_run_max_bytes_kb, 16777216, 1024, MAX_KILOBYTES, PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
}
