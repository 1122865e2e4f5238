/*
 * fuzz_http.c: libFuzzer target for the HTTP parsing that runs on what a server or a row says:
 * URLs (base_url, and every URL built from vendor data), Retry-After values and HTTP dates
 * (src/http/http_util.c). Properties checked (abort on failure): an accepted URL has a host of
 * allowed characters and a port from 1 to 65535, and is its own origin; Retry-After is -1 or a
 * non-negative wait; an accepted HTTP date is after 1970.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_util.h"

static void
check(int cond, const char *what)
{
	if (!cond)
	{
		fprintf(stderr, "fuzz_http: property violated: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = malloc(size + 1);
	PgbUrl		u;
	const char *reason;
	long		wait;
	time_t		t;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (pgb_url_parse(s, &u, &reason))
	{
		check(u.host[0] != '\0' && strlen(u.host) < sizeof u.host, "an accepted URL has a host");
		check(strcspn(u.host, " @%\\/?#") == strlen(u.host), "the host has no separator or escape");
		check(u.port >= 1 && u.port <= 65535, "the port is 1 to 65535");
		check(pgb_url_same_origin(&u, &u), "a URL is its own origin");
		(void) pgb_host_is_loopback_name(u.host);
	}
	else
		check(reason != NULL, "a refused URL says why");

	wait = pgb_parse_retry_after(s, 1700000000);
	check(wait >= -1, "Retry-After is -1 or a wait");
	t = pgb_parse_http_date(s);
	check(t == -1 || t >= 0, "an HTTP date is after 1970 or refused");
	free(s);
	return 0;
}
