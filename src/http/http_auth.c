/*
 * http_auth.c: Basic and OAuth2 authentication of a target: the client-credentials grant (JSON or
 * form style) and the refresh-token grant with rotation (pgb_http_oauth2_form_grant, used by the
 * Xero push, whose caller stores the rotated token in the transaction that spent the old one). The token request
 * uses its own short-lived curl handle with the same rules as every request of the client (https
 * only, TLS verified, no redirects, no proxy, private addresses refused at connect, bounded in
 * time and size); nothing in a curl callback raises. A token is never logged or put in a message.
 */
#include "postgres.h"

#include <curl/curl.h>
#include <jansson.h>

#include "miscadmin.h"
#include "portability/instr_time.h"

#include "http/http_auth.h"
#include "http/http_transfer.h"
#include "json/json_mem.h"

/* Largest token response read: a token endpoint answers a few hundred bytes. */
#define TOKEN_MAX_BODY 65536

typedef struct AuthState
{
	char	   *token_url;
	char	   *audience;
	char	   *client_id;		/* secret */
	char	   *client_secret;	/* secret */
	int64		renew_at_us;	/* monotonic time after which the token is renewed */
	int			tokens;			/* tokens fetched */
	bool		form;			/* id and secret as HTTP Basic, the grant as a form (Xero) */
	PgbTokenFn	fetch;			/* a vendor's own token request, or NULL for the OAuth2 grant */
	void	   *arg;			/* its state (malloc'd, released by release) */
	void		(*release) (void *arg);
} AuthState;

typedef struct TokenBody
{
	char		buf[TOKEN_MAX_BODY];
	size_t		len;
	bool		too_big;
	bool		refused_address;
} TokenBody;

static int64
now_us(void)
{
	instr_time	t;

	INSTR_TIME_SET_CURRENT(t);
	return (int64) INSTR_TIME_GET_MICROSEC(t);
}

static char *
strdup_or_fail(const char *s)
{
	char	   *d = strdup(s ? s : "");

	if (d == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return d;
}

static void
wipe_free(char *s)
{
	if (s)
	{
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
pgb_http_auth_basic(PgbHttpTarget *t, const char *user, const char *password)
{
	t->userpwd = palloc(strlen(user) + strlen(password) + 2);
	sprintf(t->userpwd, "%s:%s", user, password);
}

/* The token URL under the rules of a base_url: absolute https (plain http on allowed loopback only). */
static void
check_token_url(const PgbHttpTarget *t, const char *url)
{
	PgbUrl		u;
	const char *reason;

	if (!pgb_url_parse(url, &u, &reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\": token_url is not usable: %s", t->source_name, reason)));
	if (pgb_host_is_loopback_name(u.host) ? !pgb_http_allow_loopback : strcmp(u.scheme, "https") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("source \"%s\": token_url must be an https URL of another machine", t->source_name)));
}

/* A form value, percent-encoded, malloc'd (it may be a secret: the caller wipes and frees it). */
static char *
form_value(const char *v)
{
	char	   *e = curl_easy_escape(NULL, v, 0);
	char	   *out;

	if (e == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	out = strdup(e);
	explicit_bzero(e, strlen(e));
	curl_free(e);
	if (out == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return out;
}

/*
 * The form body of a grant (RFC 6749 sections 4.4.2 and 6), malloc'd: client_credentials with an
 * optional scope, or refresh_token with the stored one. The form style sends the client's id and
 * secret as HTTP Basic, never in the body.
 */
static char *
form_body(const char *scope, const char *refresh_token)
{
	char	   *v = form_value(refresh_token ? refresh_token : scope ? scope : "");
	size_t		len = strlen(v) + 64;
	char	   *body = malloc(len);

	if (body == NULL)
	{
		wipe_free(v);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	if (refresh_token)
		snprintf(body, len, "grant_type=refresh_token&refresh_token=%s", v);
	else if (scope)
		snprintf(body, len, "grant_type=client_credentials&scope=%s", v);
	else
		snprintf(body, len, "grant_type=client_credentials");
	wipe_free(v);
	return body;
}

/*
 * The body of the grant, malloc'd (it may hold the secret); the caller wipes and frees it. The JSON
 * style's text comes from jansson, whose memory must go back through pgb_json_free (never free()):
 * it is copied and wiped here so that both styles hand back memory of one allocator.
 */
static char *
grant_body(AuthState *s, const char *scope, const char *refresh_token)
{
	json_t	   *o;
	char	   *dumped;
	char	   *body;

	if (s->form)
		return form_body(scope, refresh_token);
	o = json_pack("{s:s, s:s, s:s, s:s}", "grant_type", "client_credentials",
							  "client_id", s->client_id, "client_secret", s->client_secret,
							  "audience", s->audience);

	if (o == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	dumped = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (dumped == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	body = strdup(dumped);
	explicit_bzero(dumped, strlen(dumped));
	pgb_json_free(dumped);
	if (body == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return body;
}

/* POSTs the grant; fills b and returns the status (0 for a transfer failure, described in err). */
static long
post_grant(AuthState *s, const char *body, TokenBody *b, char *err)
{
	CURL	   *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct curl_slist *h2;
	PgbTransferSink sink = {0};
	CURLcode	rc;
	long		status = 0;

	if (c == NULL || (h = curl_slist_append(NULL, s->form ? "Content-Type: application/x-www-form-urlencoded" :
											"Content-Type: application/json")) == NULL ||
		(h2 = curl_slist_append(h, "Accept: application/json")) == NULL)
	{
		curl_slist_free_all(h);
		if (c)
			curl_easy_cleanup(c);
		strlcpy(err, "out of memory", CURL_ERROR_SIZE);
		return 0;
	}
	h = h2;
	pgb_transfer_setup(c, s->token_url, &sink, sizeof(b->buf) - 1);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (s->form)
	{
		/* separate user and password: a colon in the secret stays part of the secret */
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, s->client_id);
		curl_easy_setopt(c, CURLOPT_PASSWORD, s->client_secret);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	else
		strlcpy(err, sink.curl_error[0] ? sink.curl_error : curl_easy_strerror(rc), CURL_ERROR_SIZE);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	b->too_big = sink.too_big;
	b->refused_address = sink.refused_address;
	b->len = Min(sink.len, sizeof(b->buf) - 1);
	if (sink.buf)
		memcpy(b->buf, sink.buf, b->len);
	pgb_transfer_sink_free(&sink);	/* wiped: the answer holds the token */
	if (sink.cancelled)
		CHECK_FOR_INTERRUPTS();
	return status;
}

/*
 * Takes access_token (required), expires_in and a rotated refresh_token (optional: 0 and NULL when
 * absent) from the answer; false when the access token is missing or unusable. The answer is wiped.
 */
static bool
read_token(TokenBody *b, PgbOAuth2Token *out)
{
	json_t	   *root = json_loadb(b->buf, b->len, JSON_REJECT_DUPLICATES, NULL);
	json_t	   *tok = json_object_get(root, "access_token");
	json_t	   *exp = json_object_get(root, "expires_in");
	json_t	   *ref = json_object_get(root, "refresh_token");
	bool		ok = json_is_string(tok) && json_string_length(tok) > 0 && json_string_length(tok) < 8192 &&
		strpbrk(json_string_value(tok), "\r\n") == NULL;

	if (ok)
	{
		out->access_token = strdup(json_string_value(tok));
		ok = out->access_token != NULL;
	}
	out->expires_in = json_is_integer(exp) && json_integer_value(exp) > 0 &&
		json_integer_value(exp) <= 10000000 ? (long) json_integer_value(exp) : 0;
	if (ok && json_is_string(ref) && json_string_length(ref) > 0 && json_string_length(ref) <= 4096)
		out->refresh_token = pstrdup(json_string_value(ref));
	if (json_is_string(tok))
		explicit_bzero((char *) json_string_value(tok), json_string_length(tok));
	if (json_is_string(ref))
		explicit_bzero((char *) json_string_value(ref), json_string_length(ref));
	json_decref(root);
	explicit_bzero(b->buf, b->len);
	return ok;
}

/*
 * One grant at s's token endpoint (client credentials with scope, or refresh_token when given) and
 * its answer into out. Raises when the request fails or the answer has no usable access token;
 * a refresh token the server refuses (invalid_grant) says so, since only a new authorisation helps.
 */
static void
request_token(const PgbHttpTarget *t, AuthState *s, const char *scope, const char *refresh_token,
			  PgbOAuth2Token *out)
{
	TokenBody  *b = palloc0(sizeof(TokenBody));
	char		err[CURL_ERROR_SIZE] = "";
	char	   *body = grant_body(s, scope, refresh_token);
	long		status = post_grant(s, body, b, err);

	wipe_free(body);
	memset(out, 0, sizeof(*out));
	if (refresh_token && status == 400 && !b->too_big && memmem(b->buf, b->len, "invalid_grant", 13) != NULL)
	{
		explicit_bzero(b->buf, b->len);
		ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
						errmsg("source \"%s\": the token endpoint refused the refresh token", t->source_name),
						errdetail("A refresh token can be used once; the one stored was spent or revoked."),
						errhint("Authorise the connection again and store the new refresh_token with billing.set_credentials().")));
	}
	if (status < 200 || status >= 300 || b->too_big || !read_token(b, out))
	{
		explicit_bzero(b->buf, b->len);
		ereport(ERROR,
				(errcode(status == 400 || status == 401 || status == 403 ?
						 ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION : ERRCODE_CONNECTION_FAILURE),
				 errmsg("source \"%s\": token request failed: %s", t->source_name,
						b->refused_address ? "the host resolves to a private, link-local or loopback address, which is refused" :
						b->too_big ? "the response is too large" :
						status == 0 ? err :
						status >= 200 && status < 300 ? "the answer has no usable access_token and expires_in" :
						psprintf("HTTP status %ld", status)),
				 errhint("Check the source's client_id and client_secret (billing.set_credentials()) and option token_url.")));
	}
}

/* A vendor's own token request: it sets the target's auth header and says how long it lasts. */
static void
fetch_custom(PgbHttpTarget *t, AuthState *s)
{
	long		expires_in = s->fetch(t, s->arg);

	t->requests++;
	s->tokens++;
	s->renew_at_us = now_us() + (int64) (expires_in - Min(60, expires_in / 2)) * 1000000;
}

static void
fetch_token(PgbHttpTarget *t)
{
	AuthState  *s = (AuthState *) t->auth;
	PgbOAuth2Token tok;

	if (s->fetch)
	{
		fetch_custom(t, s);
		return;
	}
	t->requests++;
	request_token(t, s, NULL, NULL, &tok);
	if (tok.expires_in <= 0)
	{
		wipe_free(tok.access_token);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("source \"%s\": token request failed: the answer has no usable access_token and expires_in",
						t->source_name),
				 errhint("Check the source's client_id and client_secret (billing.set_credentials()) and option token_url.")));
	}
	wipe_free(t->bearer);
	t->bearer = tok.access_token;
	s->tokens++;
	/* renewed a minute before it expires (half its life when shorter): never sent expired */
	s->renew_at_us = now_us() + (int64) (tok.expires_in - Min(60, tok.expires_in / 2)) * 1000000;
}

void
pgb_http_oauth2_form_grant(const PgbHttpTarget *t, const char *token_url, const char *client_id,
						   const char *client_secret, const char *scope, const char *refresh_token,
						   PgbOAuth2Token *out)
{
	AuthState	s = {0};

	check_token_url(t, token_url);
	s.token_url = (char *) token_url;
	s.client_id = (char *) client_id;
	s.client_secret = (char *) client_secret;
	s.form = true;
	request_token(t, &s, scope, refresh_token, out);
}

void
pgb_http_auth_oauth2(PgbHttpTarget *t, const char *token_url, const char *audience,
					 const char *client_id, const char *client_secret)
{
	pgb_http_auth_oauth2_style(t, token_url, audience, client_id, client_secret, false);
}

void
pgb_http_auth_oauth2_style(PgbHttpTarget *t, const char *token_url, const char *audience,
						   const char *client_id, const char *client_secret, bool form)
{
	AuthState  *s;

	check_token_url(t, token_url);
	s = calloc(1, sizeof(AuthState));
	if (s == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	t->auth = s;				/* released by pgb_http_auth_release even if the rest fails */
	s->token_url = strdup_or_fail(token_url);
	s->audience = strdup_or_fail(audience);
	s->client_id = strdup_or_fail(client_id);
	s->client_secret = strdup_or_fail(client_secret);
	s->form = form;
	fetch_token(t);
}

void
pgb_http_auth_ensure(PgbHttpTarget *t, bool force)
{
	AuthState  *s = (AuthState *) t->auth;

	if (s == NULL)
		return;
	if (force || now_us() >= s->renew_at_us)
		fetch_token(t);
}

int
pgb_http_auth_tokens(const PgbHttpTarget *t)
{
	return t->auth ? ((AuthState *) t->auth)->tokens : 0;
}

void
pgb_http_auth_release(PgbHttpTarget *t)
{
	AuthState  *s = (AuthState *) t->auth;

	if (t->userpwd)
		explicit_bzero(t->userpwd, strlen(t->userpwd));
	wipe_free(t->bearer);
	t->bearer = NULL;
	wipe_free(t->auth_header);
	t->auth_header = NULL;
	if (s && s->release)
		s->release(s->arg);
	if (s)
	{
		free(s->token_url);
		free(s->audience);
		wipe_free(s->client_id);
		wipe_free(s->client_secret);
		free(s);
		t->auth = NULL;
	}
}

void
pgb_http_auth_custom(PgbHttpTarget *t, PgbTokenFn fetch, void *arg, void (*release) (void *arg))
{
	AuthState  *s = calloc(1, sizeof(AuthState));

	if (s == NULL)
	{
		release(arg);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	t->auth = s;				/* released by pgb_http_auth_release even if the rest fails */
	s->fetch = fetch;
	s->arg = arg;
	s->release = release;
	fetch_token(t);
}

long
pgb_http_auth_post(const PgbHttpTarget *t, const char *url, const char *body, char **out, size_t *outlen,
				   const char **problem)
{
	AuthState	s = {0};
	TokenBody  *b = palloc0(sizeof(TokenBody));
	char	   *err = palloc0(CURL_ERROR_SIZE);
	long		status;

	check_token_url(t, url);
	s.token_url = (char *) url;
	status = post_grant(&s, body, b, err);
	*problem = b->refused_address ? "the host resolves to a private, link-local or loopback address, which is refused" :
		b->too_big ? "the response is too large" : status == 0 ? err : NULL;
	*out = b->buf;
	*outlen = b->len;
	return status;
}
