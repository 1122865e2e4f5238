/*
 * test_pure.c: unit tests of the parts of pg_billing that run without the server: URL and address
 * checks, Retry-After and backoff (src/http/http_util.c), exact money text and timestamps
 * (src/common/decimal_time.c). Prints TAP. Built with ASan and UBSan by test/unit/run.sh.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "http/http_util.h"
#include "common/decimal_time.h"

static int	n = 0;
static int	failed = 0;

static void
ok(int cond, const char *what)
{
	n++;
	if (!cond)
		failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, what);
}

static void
url_tests(void)
{
	PgbUrl		u,
				v;
	const char *why;

	ok(pgb_url_parse("https://Acme.Chargify.com/", &u, &why) && strcmp(u.host, "acme.chargify.com") == 0 && u.port == 443,
	   "https URL: host lower-cased, default port 443");
	ok(pgb_url_parse("http://127.0.0.1:8080/s/x", &u, &why) && strcmp(u.scheme, "http") == 0 && u.port == 8080,
	   "http URL with a port");
	ok(pgb_url_parse("https://[::1]:9443/a", &u, &why) && strcmp(u.host, "::1") == 0 && u.port == 9443, "IPv6 literal");
	ok(!pgb_url_parse("ftp://example.com/", &u, &why), "ftp refused");
	ok(!pgb_url_parse("file:///etc/passwd", &u, &why), "file refused");
	ok(!pgb_url_parse("https://user:pw@example.com/", &u, &why), "user information refused");
	ok(!pgb_url_parse("https://example.com:0/", &u, &why), "port 0 refused");
	ok(!pgb_url_parse("https://example.com:65536/", &u, &why), "port 65536 refused");
	ok(!pgb_url_parse("https://exa mple.com/", &u, &why), "space in host refused");
	ok(!pgb_url_parse("https://example.com/a b", &u, &why), "space in path refused");
	ok(!pgb_url_parse("https://ex%61mple.com/", &u, &why), "percent-encoded host refused");
	ok(!pgb_url_parse("https:///path", &u, &why), "empty host refused");
	ok(!pgb_url_parse("https://[::1/", &u, &why), "unterminated IPv6 literal refused");
	pgb_url_parse("https://acme.chargify.com/x", &u, &why);
	pgb_url_parse("https://ACME.chargify.com./y?z", &v, &why);
	ok(pgb_url_same_origin(&u, &v), "same origin: case and trailing dot do not matter");
	pgb_url_parse("https://acme.chargify.com.evil.com/", &v, &why);
	ok(!pgb_url_same_origin(&u, &v), "another host is another origin");
	pgb_url_parse("http://acme.chargify.com/", &v, &why);
	ok(!pgb_url_same_origin(&u, &v), "another scheme is another origin");
	pgb_url_parse("https://acme.chargify.com:444/", &v, &why);
	ok(!pgb_url_same_origin(&u, &v), "another port is another origin");
	ok(pgb_host_is_loopback_name("localhost") && pgb_host_is_loopback_name("127.1.2.3") && pgb_host_is_loopback_name("::1"),
	   "loopback names");
	ok(!pgb_host_is_loopback_name("128.0.0.1") && !pgb_host_is_loopback_name("example.com"), "not loopback");
}

static PgbAddrClass
cls4(const char *ip)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &s.sin_addr);
	return pgb_addr_classify((struct sockaddr *) &s);
}

static PgbAddrClass
cls6(const char *ip)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	inet_pton(AF_INET6, ip, &s.sin6_addr);
	return pgb_addr_classify((struct sockaddr *) &s);
}

static void
addr_tests(void)
{
	ok(cls4("127.0.0.1") == PGB_ADDR_LOOPBACK, "127.0.0.1 is loopback");
	ok(cls4("169.254.169.254") == PGB_ADDR_PRIVATE, "cloud metadata is refused");
	ok(cls4("10.1.2.3") == PGB_ADDR_PRIVATE && cls4("172.16.0.1") == PGB_ADDR_PRIVATE &&
	   cls4("172.31.255.255") == PGB_ADDR_PRIVATE && cls4("192.168.1.1") == PGB_ADDR_PRIVATE, "RFC 1918 refused");
	ok(cls4("100.64.0.1") == PGB_ADDR_PRIVATE && cls4("0.0.0.0") == PGB_ADDR_PRIVATE && cls4("224.0.0.1") == PGB_ADDR_PRIVATE,
	   "CGNAT, unspecified, multicast refused");
	ok(cls4("172.32.0.1") == PGB_ADDR_PUBLIC && cls4("8.8.8.8") == PGB_ADDR_PUBLIC && cls4("54.1.2.3") == PGB_ADDR_PUBLIC,
	   "public IPv4 allowed");
	ok(cls6("::1") == PGB_ADDR_LOOPBACK, "::1 is loopback");
	ok(cls6("::ffff:169.254.169.254") == PGB_ADDR_PRIVATE && cls6("::ffff:127.0.0.1") == PGB_ADDR_LOOPBACK,
	   "IPv4-mapped IPv6 is judged as IPv4");
	ok(cls6("fe80::1") == PGB_ADDR_PRIVATE && cls6("fd00::1") == PGB_ADDR_PRIVATE && cls6("::") == PGB_ADDR_PRIVATE,
	   "link-local, unique local, unspecified IPv6 refused");
	ok(cls6("2002:a9fe:a9fe::1") == PGB_ADDR_PRIVATE, "6to4 refused");
	ok(cls6("2606:4700::1111") == PGB_ADDR_PUBLIC, "public IPv6 allowed");
	ok(pgb_addr_classify(NULL) == PGB_ADDR_PRIVATE, "no address is refused");
}

static void
retry_tests(void)
{
	time_t		now = pgb_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");

	ok(now == 784111777, "IMF-fixdate parsed");
	ok(pgb_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == -1, "obsolete RFC 850 date refused");
	ok(pgb_parse_http_date("Sun, 06 Nov 1994 08:49:37 PST") == -1, "non-GMT refused");
	ok(pgb_parse_http_date("Sun, 31 Foo 1994 08:49:37 GMT") == -1, "bad month refused");
	ok(pgb_parse_retry_after("120", now) == 120, "Retry-After seconds");
	ok(pgb_parse_retry_after(" 7 \r\n", now) == 7, "Retry-After with spaces and CRLF");
	ok(pgb_parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now) == 60, "Retry-After date 60 s ahead");
	ok(pgb_parse_retry_after("Sun, 06 Nov 1994 08:40:37 GMT", now) == 0, "Retry-After date in the past: 0");
	ok(pgb_parse_retry_after("-5", now) == -1 && pgb_parse_retry_after("12abc", now) == -1 &&
	   pgb_parse_retry_after("", now) == -1 && pgb_parse_retry_after(NULL, now) == -1, "bad Retry-After refused");
	ok(pgb_parse_retry_after("99999999999999999999", now) == -1, "huge Retry-After refused, no overflow");
	ok(pgb_backoff_ms(0, 500, 30000, 0.0) == 250 && pgb_backoff_ms(0, 500, 30000, 0.999) <= 500, "first backoff in [base/2, base]");
	ok(pgb_backoff_ms(3, 500, 30000, 0.999) <= 4000 && pgb_backoff_ms(3, 500, 30000, 0.999) > 3900, "backoff doubles");
	ok(pgb_backoff_ms(30, 500, 30000, 0.999) <= 30000 && pgb_backoff_ms(1000, 500, 30000, 0.5) <= 30000, "backoff is capped");
	ok(pgb_http_status_retryable(429) && pgb_http_status_retryable(503) && !pgb_http_status_retryable(404) &&
	   !pgb_http_status_retryable(401) && !pgb_http_status_retryable(501), "retryable statuses");
}

static void
money_tests(void)
{
	char		b[64];

	ok(pgb_decimal_valid("100.0") && pgb_decimal_valid("-0.5") && pgb_decimal_valid("12"), "decimal strings");
	ok(!pgb_decimal_valid("1e5") && !pgb_decimal_valid(".5") && !pgb_decimal_valid("5.") && !pgb_decimal_valid("") &&
	   !pgb_decimal_valid("1,5") && !pgb_decimal_valid("NaN") && !pgb_decimal_valid("--1"), "non-decimals refused");
	ok(pgb_real_to_decimal(0.1, b, sizeof b) && strcmp(b, "0.1") == 0, "0.1 stays 0.1");
	ok(pgb_real_to_decimal(12.34, b, sizeof b) && strcmp(b, "12.34") == 0, "12.34");
	ok(pgb_real_to_decimal(-1213.5, b, sizeof b) && strcmp(b, "-1213.5") == 0, "-1213.5");
	ok(pgb_real_to_decimal(1215.0, b, sizeof b) && strcmp(b, "1215") == 0, "1215.0 is 1215");
	ok(pgb_real_to_decimal(9999999999999.99, b, sizeof b) && strcmp(b, "9999999999999.99") == 0, "just under 10^13, exact to the cent");
	ok(!pgb_real_to_decimal(1e13, b, sizeof b) && !pgb_real_to_decimal(1e15, b, sizeof b), "10^13 and beyond refused");
	ok(!pgb_real_to_decimal(0.1234567890123456, b, sizeof b), "more than 15 digits refused");
	ok(pgb_int_to_decimal(9999999999999, b, sizeof b) && strcmp(b, "9999999999999") == 0 &&
	   pgb_int_to_decimal(-9999999999999, b, sizeof b) && strcmp(b, "-9999999999999") == 0, "integers just under 10^13");
	ok(!pgb_int_to_decimal(10000000000000, b, sizeof b) && !pgb_int_to_decimal(-10000000000000, b, sizeof b) &&
	   !pgb_int_to_decimal(INT64_MAX, b, sizeof b) && !pgb_int_to_decimal(INT64_MIN, b, sizeof b), "integers of 10^13 and beyond refused");
	ok(pgb_real_to_decimal(0.000001, b, sizeof b) && strcmp(b, "0.000001") == 0, "small numbers in plain notation");
	ok(pgb_real_to_decimal(-0.0, b, sizeof b) && strcmp(b, "0") == 0, "negative zero is 0");
	pgb_cents_to_decimal(-1205, b, sizeof b);
	ok(strcmp(b, "-12.05") == 0, "cents to decimal, negative");
	pgb_cents_to_decimal(INT64_MIN, b, sizeof b);
	ok(strcmp(b, "-92233720368547758.08") == 0, "cents: INT64_MIN without overflow");
}

static void
time_tests(void)
{
	int64_t		e;
	char		b[40];

	ok(pgb_date_valid("2024-02-29") && !pgb_date_valid("2023-02-29") && !pgb_date_valid("2024-13-01") &&
	   !pgb_date_valid("2024-1-01"), "dates");
	ok(pgb_timestamp_parse("2021-03-29T07:47:00-04:00", &e) && e == 1617018420, "timestamp with offset");
	ok(pgb_timestamp_parse("2024-01-01T00:00:00Z", &e) && e == 1704067200, "timestamp Z");
	ok(pgb_timestamp_parse("2024-01-01T00:00:00.123+0100", &e) && e == 1704063600, "fraction and +HHMM");
	ok(!pgb_timestamp_parse("2024-01-01T00:00:00", &e), "no zone refused");
	ok(!pgb_timestamp_parse("2024-01-01T25:00:00Z", &e) && !pgb_timestamp_parse("2024-01-01T00:00:00Zjunk", &e),
	   "bad timestamps refused");
	pgb_timestamp_format(1704067200 - 300, ' ', b, sizeof b);
	ok(strcmp(b, "2023-12-31 23:55:00") == 0, "format for start_datetime");
	pgb_timestamp_format(951782400, 'T', b, sizeof b);
	ok(strcmp(b, "2000-02-29T00:00:00Z") == 0, "format for the cursor (leap day)");
}

int
main(void)
{
	url_tests();
	addr_tests();
	retry_tests();
	money_tests();
	time_tests();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
