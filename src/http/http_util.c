/*
 * http_util.c: URL and origin checks, address classes, Retry-After and backoff. No server calls,
 * so test/unit/ runs these under ASan outside PostgreSQL.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "http/http_util.h"
#include "common/civil_date.h"

static bool
parse_port(const char *s, size_t len, int *port)
{
	long		v = 0;

	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (!isdigit((unsigned char) s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*port = (int) v;
	return true;
}

bool
pgb_url_parse(const char *url, PgbUrl *out, const char **reason)
{
	const char *p;
	const char *host;
	const char *end;
	size_t		hostlen;

	memset(out, 0, sizeof(*out));
	*reason = NULL;
	if (url == NULL)
		return (*reason = "no URL"), false;
	if (strncasecmp(url, "https://", 8) == 0)
	{
		strcpy(out->scheme, "https");
		out->port = 443;
		p = url + 8;
	}
	else if (strncasecmp(url, "http://", 7) == 0)
	{
		strcpy(out->scheme, "http");
		out->port = 80;
		p = url + 7;
	}
	else
		return (*reason = "the URL scheme is not http or https"), false;

	end = p + strcspn(p, "/?#");
	for (const char *q = p; q < end; q++)
	{
		unsigned char c = (unsigned char) *q;

		if (c == '@')
			return (*reason = "URLs with user information are refused"), false;
		if (c <= ' ' || c >= 0x7f || c == '\\' || c == '%')
			return (*reason = "the URL host contains a character that is not allowed"), false;
	}
	for (const char *q = end; *q; q++)
		if ((unsigned char) *q <= ' ' || (unsigned char) *q == 0x7f)
			return (*reason = "the URL contains a control character or space"), false;

	host = p;
	if (*host == '[')
	{
		const char *close = memchr(host, ']', end - host);

		if (close == NULL)
			return (*reason = "unterminated IPv6 literal"), false;
		host++;
		hostlen = close - host;
		p = close + 1;
	}
	else
	{
		const char *colon = memchr(host, ':', end - host);

		hostlen = (colon ? colon : end) - host;
		p = host + hostlen;
	}
	if (hostlen == 0 || hostlen >= sizeof(out->host))
		return (*reason = "the URL host is empty or too long"), false;
	for (size_t i = 0; i < hostlen; i++)
		out->host[i] = (char) tolower((unsigned char) host[i]);
	out->host[hostlen] = '\0';
	if (hostlen > 1 && out->host[hostlen - 1] == '.')
		out->host[hostlen - 1] = '\0';	/* "example.com." is "example.com" */

	if (p < end)
	{
		if (*p != ':' || !parse_port(p + 1, end - p - 1, &out->port))
			return (*reason = "the URL port is not a number from 1 to 65535"), false;
	}
	return true;
}

bool
pgb_url_same_origin(const PgbUrl *a, const PgbUrl *b)
{
	return strcmp(a->scheme, b->scheme) == 0 && strcmp(a->host, b->host) == 0 && a->port == b->port;
}

bool
pgb_host_is_loopback_name(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

static PgbAddrClass
classify_v4(uint32_t a)
{
	uint8_t		b0 = a >> 24,
				b1 = (a >> 16) & 0xff;

	if (b0 == 127)
		return PGB_ADDR_LOOPBACK;
	if (b0 == 0 || b0 == 10 || b0 >= 224 ||			/* this network, RFC 1918, multicast, reserved */
		(b0 == 169 && b1 == 254) ||				/* link-local, cloud metadata */
		(b0 == 172 && (b1 & 0xf0) == 16) ||
		(b0 == 192 && b1 == 168) ||
		(b0 == 100 && (b1 & 0xc0) == 64) ||		/* CGNAT */
		(b0 == 192 && b1 == 0 && ((a >> 8) & 0xff) == 0) ||	/* IETF protocol assignments */
		(b0 == 198 && (b1 & 0xfe) == 18))			/* benchmarking */
		return PGB_ADDR_PRIVATE;
	return PGB_ADDR_PUBLIC;
}

PgbAddrClass
pgb_addr_classify(const struct sockaddr *sa)
{
	if (sa == NULL)
		return PGB_ADDR_PRIVATE;
	if (sa->sa_family == AF_INET)
	{
		const struct sockaddr_in *s4 = (const struct sockaddr_in *) sa;

		return classify_v4(ntohl(s4->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6)
	{
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) sa;
		const uint8_t *b = s6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return PGB_ADDR_LOOPBACK;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) || IN6_IS_ADDR_V4COMPAT(&s6->sin6_addr))
			return classify_v4(((uint32_t) b[12] << 24) | ((uint32_t) b[13] << 16) |
							   ((uint32_t) b[14] << 8) | b[15]);
		if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) || IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) ||
			IN6_IS_ADDR_SITELOCAL(&s6->sin6_addr) || IN6_IS_ADDR_MULTICAST(&s6->sin6_addr) ||
			(b[0] & 0xfe) == 0xfc ||				/* unique local fc00::/7 */
			(b[0] == 0x20 && b[1] == 0x02) ||		/* 6to4 can reach any IPv4 address */
			(b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b))	/* NAT64 */
			return PGB_ADDR_PRIVATE;
		return PGB_ADDR_PUBLIC;
	}
	return PGB_ADDR_PRIVATE;
}

static int
month_index(const char *m)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

	for (int i = 0; i < 12; i++)
		if (strncmp(m, months[i], 3) == 0)
			return i;
	return -1;
}

time_t
pgb_parse_http_date(const char *v)
{
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters). */
	int			day,
				year,
				hh,
				mm,
				ss,
				mon;
	char		wkday[4],
				monname[4],
				zone[4];
	int			consumed = 0;

	if (v == NULL || strlen(v) != 29)
		return -1;
	if (sscanf(v, "%3s, %2d %3s %4d %2d:%2d:%2d %3s%n", wkday, &day, monname, &year, &hh, &mm, &ss,
			   zone, &consumed) != 8 || consumed != 29)
		return -1;
	mon = month_index(monname);
	if (mon < 0 || strcmp(zone, "GMT") != 0 || day < 1 || day > 31 || year < 1970 || year > 9999 ||
		hh > 23 || mm > 59 || ss > 60 || hh < 0 || mm < 0 || ss < 0)
		return -1;
	return (time_t) (pgb_days_from_civil(year, mon + 1, day) * 86400 + hh * 3600 + mm * 60 + ss);
}

long
pgb_parse_retry_after(const char *value, time_t now)
{
	const char *p;
	long		secs = 0;
	time_t		when;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char) *value))
	{
		for (p = value; isdigit((unsigned char) *p); p++)
		{
			if (secs > 100000000L)
				return -1;
			secs = secs * 10 + (*p - '0');
		}
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		return *p == '\0' ? secs : -1;
	}
	{
		char		buf[64];
		size_t		n = strcspn(value, "\r\n");

		if (n >= sizeof(buf))
			return -1;
		memcpy(buf, value, n);
		while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
			n--;
		buf[n] = '\0';
		when = pgb_parse_http_date(buf);
	}
	if (when < 0)
		return -1;
	return when <= now ? 0 : (long) (when - now);
}

long
pgb_backoff_ms(int attempt, long base_ms, long cap_ms, double rnd)
{
	double		ceiling = (double) base_ms;
	double		lo;

	if (base_ms < 1)
		base_ms = 1;
	if (cap_ms < base_ms)
		cap_ms = base_ms;
	for (int i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	if (rnd < 0 || rnd >= 1)
		rnd = 0.5;
	lo = base_ms / 2.0;
	if (lo > ceiling)
		lo = ceiling;
	return (long) (lo + (ceiling - lo) * rnd);
}

bool
pgb_http_status_retryable(long status)
{
	return status == 408 || status == 425 || status == 429 || status == 500 || status == 502 ||
		status == 503 || status == 504;
}

static bool
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

size_t
pgb_log_escape_size(const char *s)
{
	size_t		n = 0;
	bool		any = false;

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if (!is_control(*p))
			n += 1;
		else
		{
			any = true;
			n += (*p == '\n' || *p == '\r' || *p == '\t') ? 2 : 4;
		}
	}
	return any ? n + 1 : 0;
}

void
pgb_log_escape(const char *s, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if (!is_control(*p))
			*out++ = (char) *p;
		else if (*p == '\n' || *p == '\r' || *p == '\t')
		{
			*out++ = '\\';
			*out++ = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
		}
		else
		{
			*out++ = '\\';
			*out++ = 'x';
			*out++ = hex[*p >> 4];
			*out++ = hex[*p & 0xf];
		}
	}
	*out = '\0';
}
