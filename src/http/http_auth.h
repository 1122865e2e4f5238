/*
 * http_auth.h: how a target authenticates, implemented once for every connector and the push:
 * Basic, or a bearer token from an OAuth2 client-credentials or refresh-token grant, cached for its lifetime, renewed shortly
 * before it expires, and renewed once when the server answers 401 (http_client.c calls
 * pgb_http_auth_ensure). Secrets live in malloc'd memory and are wiped when released.
 */
#ifndef PGB_HTTP_AUTH_H
#define PGB_HTTP_AUTH_H

#include "http/http_client.h"

/* Basic auth with user and password. */
extern void pgb_http_auth_basic(PgbHttpTarget *t, const char *user, const char *password);

/*
 * OAuth2 client credentials: POST {"client_id","client_secret","audience","grant_type"} as JSON
 * to token_url (same rules as a base_url: https, verified, no private addresses); the answer's
 * access_token is sent as "Authorization: Bearer". The first token is fetched here.
 */
extern void pgb_http_auth_oauth2(PgbHttpTarget *t, const char *token_url, const char *audience,
								 const char *client_id, const char *client_secret);

/*
 * The same, and with form true the RFC 6749 section 2.3.1 style: client_id and client_secret as
 * HTTP Basic, the body the form "grant_type=client_credentials" (audience unused), as Xero wants.
 */
extern void pgb_http_auth_oauth2_style(PgbHttpTarget *t, const char *token_url, const char *audience,
									   const char *client_id, const char *client_secret, bool form);

/* The answer of one token request. */
typedef struct PgbOAuth2Token
{
	char	   *access_token;	/* malloc'd secret: the caller wipes and frees it */
	long		expires_in;		/* seconds; 0 when the answer does not say */
	char	   *refresh_token;	/* palloc'd secret: the rotated refresh token, or NULL */
} PgbOAuth2Token;

/*
 * One token request in RFC 6749's form style (client_id and client_secret as HTTP Basic, the grant
 * as a form body) under the rules of every token request (token_url checked as a base_url; https,
 * verified, no private addresses): grant client_credentials (with scope unless NULL), or, when
 * refresh_token is given, grant refresh_token. Raises when refused ("the token endpoint refused the
 * refresh token" for invalid_grant) or when the answer has no access token. The caller that spends
 * a refresh token stores out->refresh_token in the transaction that read (and locked) the old one.
 */
extern void pgb_http_oauth2_form_grant(const PgbHttpTarget *t, const char *token_url, const char *client_id,
									   const char *client_secret, const char *scope, const char *refresh_token,
									   PgbOAuth2Token *out);

/*
 * A vendor's own token scheme: fetch requests a token, sets t->auth_header (malloc'd) and returns
 * its lifetime in seconds (or raises); it is called now, before expiry and once on a 401.
 * release frees arg (also when this fails).
 */
typedef long (*PgbTokenFn) (PgbHttpTarget *t, void *arg);
extern void pgb_http_auth_custom(PgbHttpTarget *t, PgbTokenFn fetch, void *arg, void (*release) (void *arg));

/*
 * POSTs a JSON body to url under the rules of the token requests; returns the status (0 when the
 * transfer failed) and the answer in *out (palloc'd, at most 64 kB); *problem says why it failed.
 */
extern long pgb_http_auth_post(const PgbHttpTarget *t, const char *url, const char *body, char **out,
							   size_t *outlen, const char **problem);

/* Fetches a new token when force, or when the cached one expires within its margin. */
extern void pgb_http_auth_ensure(PgbHttpTarget *t, bool force);

/* Wipes and frees the target's secrets (every path of a run's end). */
extern void pgb_http_auth_release(PgbHttpTarget *t);

/* Tokens fetched so far by this target (for the run's counters and tests). */
extern int	pgb_http_auth_tokens(const PgbHttpTarget *t);

#endif
