/*
 * splynx.c: the Splynx REST API v2.0 connector (shared/specs/splynx, design/apis.md section 4).
 * Base URL https://<host>/api/2.0. Credentials api_key and api_secret. Option auth: "token"
 * (default; works with every API key) asks POST /admin/auth/tokens for an access token signed
 * with HMAC-SHA256 and sends "Authorization: Splynx-EA (access_token=...)", renewed before its
 * expiry and once on a 401; "basic" sends Basic api_key:api_secret (the key needs "unsecure
 * access"). Lists page with limit/offset, checked against X-total-count; invoices and credit notes
 * are read incrementally by date_updated, payments and transactions by id. Mapping in
 * splynx_map.c, amounts in splynx_money.c.
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"

#include <sys/time.h>

#include "connectors/splynx_int.h"
#include "http/http_auth.h"
#include "json/json_mem.h"
#include "json/pgb_json.h"

/* Token state: the key and secret (malloc'd, wiped on release) and where to ask. */
typedef struct SplynxAuth
{
	char	   *key;
	char	   *secret;
	char	   *url;
} SplynxAuth;

static void
wipe_free(char *s)
{
	if (s)
	{
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void
splynx_auth_release(void *arg)
{
	SplynxAuth *a = (SplynxAuth *) arg;

	if (a == NULL)
		return;
	wipe_free(a->key);
	wipe_free(a->secret);
	free(a->url);
	free(a);
}

/*
 * The nonce must grow from one request to the next for the same key: milliseconds since 1970,
 * and at least one more than the last one this backend sent (two tokens within a millisecond).
 */
static int64
next_nonce(void)
{
	static int64 last = 0;
	struct timeval tv;
	int64		n;

	gettimeofday(&tv, NULL);
	n = (int64) tv.tv_sec * 1000 + tv.tv_usec / 1000;
	if (n <= last)
		n = last + 1;
	last = n;
	return n;
}

/* UPPER(hex(HMAC-SHA256(secret, nonce . key))) into out (65 bytes). */
static void
signature(const SplynxAuth *a, const char *nonce, char *out)
{
	pg_hmac_ctx *h = pg_hmac_create(PG_SHA256);
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	bool		ok;

	ok = h != NULL &&
		pg_hmac_init(h, (const uint8 *) a->secret, strlen(a->secret)) == 0 &&
		pg_hmac_update(h, (const uint8 *) nonce, strlen(nonce)) == 0 &&
		pg_hmac_update(h, (const uint8 *) a->key, strlen(a->key)) == 0 &&
		pg_hmac_final(h, mac, sizeof(mac)) == 0;
	pg_hmac_free(h);
	if (!ok)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not compute an HMAC-SHA256 signature")));
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(out + 2 * i, "%02X", mac[i]);
	explicit_bzero(mac, sizeof(mac));
}

/* The token request's body (jansson's memory: wiped and freed with pgb_json_free by the caller). */
static char *
token_body(const SplynxAuth *a, const char *nonce, const char *sig)
{
	json_t	   *o = json_pack("{s:s, s:s, s:s, s:s}", "auth_type", "api_key", "key", a->key,
							  "signature", sig, "nonce", nonce);
	char	   *body = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (body == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return body;
}

static void
token_failed(PgbHttpTarget *t, long status, const char *why)
{
	ereport(ERROR,
			(errcode(status == 400 || status == 401 || status == 403 ?
					 ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION : ERRCODE_CONNECTION_FAILURE),
			 errmsg("source \"%s\": token request failed: %s", t->source_name, why),
			 errhint("Check the source's api_key and api_secret (billing.set_credentials()); option auth chooses token or basic.")));
}

/* Reads access_token and access_token_expiration (unix seconds) into the target's header. */
static long
take_token(PgbHttpTarget *t, char *buf, size_t len)
{
	json_t	   *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	json_t	   *tok = json_object_get(root, "access_token");
	json_t	   *exp = json_object_get(root, "access_token_expiration");
	long		life = -1;
	bool		ok = json_is_string(tok) && json_string_length(tok) > 0 && json_string_length(tok) < 4096 &&
		strspn(json_string_value(tok), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
		json_string_length(tok) && json_is_integer(exp);

	if (ok)
	{
		life = (long) (json_integer_value(exp) - (json_int_t) time(NULL));
		ok = life > 0 && life <= 86400 * 30;
	}
	if (ok)
	{
		size_t		n = json_string_length(tok) + 64;
		char	   *h = malloc(n);

		if (h == NULL)
			ok = false;
		else
		{
			snprintf(h, n, "Authorization: Splynx-EA (access_token=%s)", json_string_value(tok));
			wipe_free(t->auth_header);
			t->auth_header = h;
		}
	}
	if (json_is_string(tok))
		explicit_bzero((char *) json_string_value(tok), json_string_length(tok));
	json_decref(root);
	explicit_bzero(buf, len);
	if (!ok)
		token_failed(t, 200, "the answer has no usable access_token and future access_token_expiration");
	return life;
}

static long
splynx_fetch_token(PgbHttpTarget *t, void *arg)
{
	SplynxAuth *a = (SplynxAuth *) arg;
	char		nonce[32];
	char		sig[2 * PG_SHA256_DIGEST_LENGTH + 1];
	char	   *body;
	char	   *out;
	size_t		len;
	const char *problem;
	long		status;

	snprintf(nonce, sizeof(nonce), INT64_FORMAT, next_nonce());
	signature(a, nonce, sig);
	body = token_body(a, nonce, sig);
	explicit_bzero(sig, sizeof(sig));
	status = pgb_http_auth_post(t, a->url, body, &out, &len, &problem);
	explicit_bzero(body, strlen(body));
	pgb_json_free(body);		/* jansson's allocator: free() would abort the backend */
	if (problem)
		token_failed(t, 0, problem);
	if (status != 200 && status != 201)
	{
		explicit_bzero(out, len);
		token_failed(t, status, psprintf("HTTP status %ld", status));
	}
	return take_token(t, out, len);
}

static char *
secret_field(PgbSource *src, json_t *secret, const char *field)
{
	json_t	   *v = json_is_object(secret) ? json_object_get(secret, field) : NULL;
	char	   *s;

	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1024)
		ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
						errmsg("source \"%s\" has no %s", src->name, field),
						errhint("Set it with billing.set_credentials().")));
	s = strdup(json_string_value(v));
	if (s == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return s;
}

/* Option auth: "token" (default) or "basic". */
static bool
wants_basic(PgbSource *src)
{
	const char *mode = pgb_source_option(src, "auth");

	if (strcmp(mode, "basic") == 0)
		return true;
	if (strcmp(mode, "token") != 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("source \"%s\": option auth must be \"token\" or \"basic\"", src->name)));
	return false;
}

static void
splynx_authenticate(PgbSource *src, json_t *secret)
{
	SplynxAuth *a;

	if (wants_basic(src))
	{
		char	   *key = secret_field(src, secret, "api_key");
		char	   *sec = secret_field(src, secret, "api_secret");

		pgb_http_auth_basic(&src->http, key, sec);
		wipe_free(key);
		wipe_free(sec);
		return;
	}
	a = calloc(1, sizeof(SplynxAuth));
	if (a == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	PG_TRY();
	{
		a->key = secret_field(src, secret, "api_key");
		a->secret = secret_field(src, secret, "api_secret");
		a->url = strdup(psprintf("%s/admin/auth/tokens", src->base_url));
		if (a->url == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	PG_CATCH();
	{
		splynx_auth_release(a);
		PG_RE_THROW();
	}
	PG_END_TRY();
	pgb_http_auth_custom(&src->http, splynx_fetch_token, a, splynx_auth_release);
}

static const PgbEntity entities[] = {
	{.name = "customers", .path = "/admin/customers/customer", .table = PGB_T_CUSTOMERS,
	.list_params = "&order%5Bid%5D=ASC", .map = pgb_splynx_map_customer,
	.record_path = "/admin/customers/customer/%s"},
	{.name = "invoices", .path = "/admin/finance/invoices", .table = PGB_T_INVOICES, .incremental = true,
	.list_params = "&order%5Bid%5D=ASC", .map = pgb_splynx_map_invoice,
	.record_path = "/admin/finance/invoices/%s"},
	{.name = "credit_notes", .path = "/admin/finance/credit-notes", .table = PGB_T_CREDIT_NOTES,
		.incremental = true,
	.list_params = "&order%5Bid%5D=ASC", .map = pgb_splynx_map_credit_note,
	.record_path = "/admin/finance/credit-notes/%s"},
	{.name = "payments", .path = "/admin/finance/payments", .table = PGB_T_PAYMENTS, .id_cursor = true,
	.list_params = "&order%5Bid%5D=ASC", .map = pgb_splynx_map_payment,
	.record_path = "/admin/finance/payments/%s"},
	{.name = "transactions", .path = "/admin/finance/transactions", .table = PGB_T_TRANSACTIONS, .id_cursor = true,
	.list_params = "&order%5Bid%5D=ASC", .map = pgb_splynx_map_transaction,
	.record_path = "/admin/finance/transactions/%s"},
};

/* Text options (checked by the connector). */
static const PgbOption options[] = {
	{"auth", PGB_OPT_TEXT, "token"},	/* token | basic */
	{"currency", PGB_OPT_TEXT, ""},	/* ISO 4217 code of the ISP's books: Splynx documents carry none */
};

const PgbConnector pgb_splynx_connector = {
	.kind = "splynx",
	.vendor = "the Splynx API",
	.entities = entities,
	.nentities = lengthof(entities),
	.paging = {PGB_PAGING_OFFSET, 0, "offset", "limit", 1000},
	.auth = {PGB_AUTH_BASIC, .user_field = "api_key", .password_field = "api_secret"},
	.options = options,
	.noptions = lengthof(options),
	.default_max_rps = 5,
	/* a self-hosted server (often one small machine), no documented limit: two at once */
	.default_max_concurrent = 2,
	.prefetch = false,
	.since_param = "&main_attributes%5Bdate_updated%5D%5B0%5D=%3E%3D&main_attributes%5Bdate_updated%5D%5B1%5D=",
	/*
	 * Splynx keeps date_updated as a date (some installs with a time), so the filter is the day of
	 * the cursor, ">=": the records of that day are read again (the store keeps only what changed)
	 * and none is missed.
	 */
	.since_style = PGB_SINCE_DATE,
	/* payments and transactions have no date_updated: read by id, above the greatest one settled */
	.after_id_param = "&main_attributes%5Bid%5D%5B0%5D=%3E&main_attributes%5Bid%5D%5B1%5D=",
	.list_total = true,
	.authenticate = splynx_authenticate,
};
