/*
 * http_util.h: the pure parts of the HTTP client (no server calls), unit-tested in test/unit/.
 */
#ifndef PGB_HTTP_UTIL_H
#define PGB_HTTP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct sockaddr;

/* The parts of an absolute http(s) URL that the client checks. */
typedef struct PgbUrl
{
	char		scheme[8];		/* "http" or "https" */
	char		host[256];		/* lower case; IPv6 literals without brackets */
	int			port;			/* explicit port or the scheme's default */
} PgbUrl;

/* Splits url; false (with a reason) for anything but a plain http(s)://host[:port][/path] URL. */
extern bool pgb_url_parse(const char *url, PgbUrl *out, const char **reason);

/* True when both URLs name the same scheme, host and port. */
extern bool pgb_url_same_origin(const PgbUrl *a, const PgbUrl *b);

/* True for a host name or literal that means this machine (localhost, 127.0.0.0/8, ::1). */
extern bool pgb_host_is_loopback_name(const char *host);

/* Address classes for the SSRF check. */
typedef enum PgbAddrClass
{
	PGB_ADDR_PUBLIC,
	PGB_ADDR_LOOPBACK,
	PGB_ADDR_PRIVATE			/* RFC 1918, link-local, CGNAT, unique local, unspecified, multicast... */
} PgbAddrClass;

extern PgbAddrClass pgb_addr_classify(const struct sockaddr *sa);

/*
 * Retry-After: delta-seconds or an HTTP-date. Returns the seconds to wait (0 when the date is past),
 * or -1 when the value is neither.
 */
extern long pgb_parse_retry_after(const char *value, time_t now);

/* Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into a time_t; -1 on failure. */
extern time_t pgb_parse_http_date(const char *value);

/*
 * Capped exponential backoff with full jitter: a wait in [base/2, min(cap, base * 2^attempt)],
 * where rnd is a uniform value in [0, 1). attempt counts from 0.
 */
extern long pgb_backoff_ms(int attempt, long base_ms, long cap_ms, double rnd);

/* True for statuses worth retrying (408, 425, 429, 500, 502, 503, 504). */
extern bool pgb_http_status_retryable(long status);

/*
 * Log injection: a vendor's string with a newline, carriage return or escape sequence in an error
 * message would let the vendor write lines that look like the server's own in the log.
 * pgb_log_escape_size() returns 0 when s has no control character (nothing to do), otherwise the
 * size of the escaped copy including its terminator; pgb_log_escape() writes that copy into out,
 * with \n, \r, \t for those three and \xHH for every other byte below 0x20 and for 0x7f.
 */
extern size_t pgb_log_escape_size(const char *s);
extern void pgb_log_escape(const char *s, char *out);

#endif
