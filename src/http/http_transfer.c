/*
 * http_transfer.c: the curl handle set-up and callbacks the Xero push and the Splynx posts share
 * (see http_transfer.h). Callbacks run inside libcurl: they only fill the sink, never ereport.
 */
#include "postgres.h"

#include <sys/socket.h>

#include "miscadmin.h"

#include "http/http_client.h"
#include "http/http_transfer.h"

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	PgbTransferSink *s = (PgbTransferSink *) arg;
	size_t		n = size * nmemb;

	if (s->len + n > s->max)
	{
		s->too_big = true;
		return 0;
	}
	if (s->len + n + 1 > s->cap)
	{
		size_t		cap = Max(s->cap * 2, (size_t) 16 * 1024);
		char	   *p;

		while (cap < s->len + n + 1)
			cap *= 2;
		p = realloc(s->buf, cap);
		if (p == NULL)
		{
			s->no_memory = true;
			return 0;
		}
		s->buf = p;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	PgbTransferSink *s = (PgbTransferSink *) arg;

	if (QueryCancelPending || ProcDiePending)
	{
		s->cancelled = true;
		return 1;
	}
	return 0;
}

static curl_socket_t
opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	PgbTransferSink *s = (PgbTransferSink *) arg;

	if (pgb_http_address_refused(&addr->addr))
	{
		s->refused_address = true;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

void
pgb_transfer_secure(CURL *easy, bool plain)
{
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, plain ? "http" : "https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, plain ? "http" : "https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
	if (pgb_http_ca_file && pgb_http_ca_file[0])
		curl_easy_setopt(easy, CURLOPT_CAINFO, pgb_http_ca_file);
}

void
pgb_transfer_setup(CURL *easy, const char *url, PgbTransferSink *sink, size_t max)
{
	sink->max = max;
	pgb_transfer_secure(easy, strncmp(url, "http:", 5) == 0);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) pgb_http_connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) pgb_http_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, sink);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, sink);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, sink->curl_error);
}

bool
pgb_transfer_maybe_reached(CURLcode rc, const PgbTransferSink *sink)
{
	switch (rc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
			return false;
		default:
			return !sink->refused_address;
	}
}

void
pgb_transfer_describe(CURLcode rc, const PgbTransferSink *sink, char *out, size_t outlen)
{
	if (sink->too_big)
		snprintf(out, outlen, "the answer is larger than %zu bytes", sink->max);
	else if (sink->refused_address)
		snprintf(out, outlen, "the host resolves to a private, link-local or loopback address, which is refused");
	else
		snprintf(out, outlen, "%s%s%s", curl_easy_strerror(rc), sink->curl_error[0] ? ": " : "", sink->curl_error);
}

void
pgb_transfer_sink_free(PgbTransferSink *sink)
{
	if (sink->buf)
		explicit_bzero(sink->buf, sink->len);
	free(sink->buf);
	sink->buf = NULL;
	sink->len = sink->cap = 0;
}
