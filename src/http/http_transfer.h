/*
 * http_transfer.h: the transport rules every curl handle of pg_billing gets (pgb_transfer_secure),
 * and what a request outside the sync client (the Xero push, the Splynx posts, token requests)
 * shares on top of them: an answer collected within a size cap, cancellation, the SSRF rule, and
 * the one judgement of whether a failed request may have reached the server (which decides
 * "unsent" from "unknown").
 */
#ifndef PGB_HTTP_TRANSFER_H
#define PGB_HTTP_TRANSFER_H

#include <curl/curl.h>

/* The answer and the flags curl's callbacks set (malloc'd: callbacks cannot palloc or ereport). */
typedef struct PgbTransferSink
{
	char	   *buf;			/* the answer so far, NUL-terminated, or NULL */
	size_t		len;
	size_t		cap;
	size_t		max;			/* larger answers end the transfer (too_big) */
	bool		too_big;
	bool		no_memory;
	bool		refused_address;	/* the SSRF rule refused the address */
	bool		cancelled;		/* a cancel or shutdown arrived during the transfer */
	char		curl_error[CURL_ERROR_SIZE];
} PgbTransferSink;

/*
 * The transport rules of every request: only https (http when plain: an allowed loopback test
 * server), TLS 1.2+ verified against pg_billing.ca_file, no proxy, no redirect, no signals.
 */
extern void pgb_transfer_secure(CURL *easy, bool plain);

/*
 * Readies easy for url with pg_billing's rules (https unless the URL is http, TLS 1.2+ verified
 * against pg_billing.ca_file, no proxy or redirect, the timeouts of the http settings) and sink
 * (the answer, capped at max bytes; cancellation; the SSRF rule). No ereport.
 */
extern void pgb_transfer_setup(CURL *easy, const char *url, PgbTransferSink *sink, size_t max);

/*
 * Whether a transfer that ended with rc may have reached the server: only failing to resolve,
 * connect or verify the peer rules it out (a transfer the caller could not start is its to know).
 */
extern bool pgb_transfer_maybe_reached(CURLcode rc, const PgbTransferSink *sink);

/* One line saying why a transfer failed, into out. */
extern void pgb_transfer_describe(CURLcode rc, const PgbTransferSink *sink, char *out, size_t outlen);

/* Wipes (an answer may carry a token) and frees the answer. */
extern void pgb_transfer_sink_free(PgbTransferSink *sink);

#endif
