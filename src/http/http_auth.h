/*
 * http_auth.h: how a target authenticates, implemented once for every connector: Basic, or a
 * bearer token from an OAuth2 client-credentials grant, cached for its lifetime, renewed shortly
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

/* Fetches a new token when force, or when the cached one expires within its margin. */
extern void pgb_http_auth_ensure(PgbHttpTarget *t, bool force);

/* Wipes and frees the target's secrets (every path of a run's end). */
extern void pgb_http_auth_release(PgbHttpTarget *t);

/* Tokens fetched so far by this target (for the run's counters and tests). */
extern int	pgb_http_auth_tokens(const PgbHttpTarget *t);

#endif
