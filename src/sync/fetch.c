/*
 * fetch.c: reads what a connector declares: one list page of an entity (URL from its path, paging
 * style, list parameters and since filter), the records in it (bare array or under a key, each
 * maybe wrapped), one record by id, and the source's authentication. Vendor-free: everything that
 * differs between vendors is in the connector's PgbConnector and PgbEntity.
 * Uses jansson: must not include utils/builtins.h (see json/pgb_json.h).
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "connectors/connector.h"
#include "http/http_auth.h"
#include "json/pgb_json.h"

/*
 * The since value as a query value, URL-encoded: "YYYY-MM-DD HH:MM:SS" in UTC with its offset,
 * "YYYY-MM-DDTHH:MM:SSZ", or the day alone, as the connector says; then the connector's suffix.
 */
static void
append_since(StringInfo url, const PgbConnector *conn, const char *since)
{
	bool		zulu = conn->since_style == PGB_SINCE_ZULU;

	appendStringInfoString(url, conn->since_param);
	if (conn->since_style == PGB_SINCE_DATE)
		appendBinaryStringInfo(url, since, Min(strlen(since), 10));	/* digits and '-' only */
	else
	{
		for (const char *p = since; *p; p++)
		{
			if (*p == ' ')
				appendStringInfoString(url, zulu ? "T" : "%20");
			else if (*p == ':')
				appendStringInfoString(url, "%3A");
			else if (isalnum((unsigned char) *p) || *p == '-' || *p == 'T' || *p == '.')
				appendStringInfoChar(url, *p);
			else
				appendStringInfo(url, "%%%02X", (unsigned char) *p);
		}
		appendStringInfoString(url, zulu ? "Z" : "%2B00%3A00");
	}
	if (conn->since_suffix)
		appendStringInfoString(url, conn->since_suffix);
}

static char *path_segment(const char *id);

/* The entity's list path; a child's with its parent's id in it. */
static char *
list_path(const PgbEntity *e, const char *parent_id)
{
	if (e->parent == NULL)
		return pstrdup(e->path);
	if (parent_id == NULL)
		elog(ERROR, "pg_billing: entity %s is listed per parent record, and none was given", e->name);
	return psprintf(e->path, path_segment(parent_id));
}

static bool
link_paged(const PgbSource *src, const PgbEntity *e)
{
	return src->conn->paging.kind == PGB_PAGING_LINK && !e->unpaged;
}

/*
 * The URL of a list page. A LINK-paged list's pages after the first are the URLs the pages before
 * named (NULL when not known yet: see link_walk); the page's query carries the since filter only on
 * page 1, the vendor's next links carry it on.
 */
static char *
list_url(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *since, const char *after_id,
		 long ordinal)
{
	StringInfoData url;

	if (link_paged(src, e) && ordinal > 1)
	{
		const char *known = pgb_paging_known_url(src, e, parent_id, ordinal);

		return known ? pstrdup(known) : NULL;
	}
	initStringInfo(&url);
	if (e->unpaged)
	{
		appendStringInfo(&url, "%s%s", src->base_url, list_path(e, parent_id));
		if (e->list_params && e->list_params[0])
			appendStringInfo(&url, "?%s", e->list_params + 1);	/* without its leading '&' */
	}
	else
		appendStringInfo(&url, "%s%s?%s%s", src->base_url, list_path(e, parent_id),
						 pgb_paging_query(&src->conn->paging, ordinal, src->per_page), e->list_params);
	if (e->incremental && since != NULL && src->conn->since_param != NULL)
		append_since(&url, src->conn, since);
	/* the driver checked it is a whole number: digits only, nothing to encode */
	if (e->id_cursor && after_id != NULL && src->conn->after_id_param != NULL)
		appendStringInfo(&url, "%s%s", src->conn->after_id_param, after_id);
	return url.data;
}

/*
 * A connector whose vendor takes the since value as a header (Xero's If-Modified-Since) gets it on
 * the list requests of incremental entities, and on nothing else.
 */
static void
set_since_header(PgbSource *src, const PgbEntity *e, const char *since)
{
	char		line[128];

	if (src->conn->since_header == NULL)
		return;
	if (!e->incremental || since == NULL)
	{
		pgb_http_set_request_header(&src->http, NULL);
		return;
	}
	/* since is "YYYY-MM-DD HH:MM:SS" in UTC; the header takes it with a T, as Xero documents */
	snprintf(line, sizeof(line), "%s: %s", src->conn->since_header, since);
	for (char *p = line + strlen(src->conn->since_header) + 2; *p; p++)
		if (*p == ' ')
			*p = 'T';
	pgb_http_set_request_header(&src->http, line);
}

/* The list ends at the page a pagination object counts last, when the vendor sends one. */
static bool
last_by_page_count(PgbJsonCtx *ctx, json_t *root, const char *key, long ordinal)
{
	json_t	   *pg = key && json_is_object(root) ? json_object_get(root, key) : NULL;
	json_t	   *count;

	if (pg == NULL || json_is_null(pg))
		return false;
	if (!json_is_object(pg))
		pgb_json_fail(ctx, key, "is not an object");
	count = json_object_get(pg, "pageCount");
	if (count == NULL)
		return false;
	if (!json_is_integer(count) || json_integer_value(count) < 0)
		pgb_json_fail(ctx, psprintf("%s.pageCount", key), "is not a whole number, 0 or more");
	return ordinal >= json_integer_value(count);
}

/* The records of a list response: a top-level array, or the array under the entity's list key. */
static json_t *
records_of(PgbJsonCtx *ctx, json_t *root, const PgbEntity *e)
{
	if (e->list_key != NULL)
	{
		if (!json_is_object(root))
			pgb_json_fail(ctx, e->name, "response is not an object");
		return pgb_j_array(ctx, root, e->list_key, true);
	}
	if (!json_is_array(root))
		pgb_json_fail(ctx, "(response)", "is not an array");
	return root;
}

static json_t *
unwrap(PgbJsonCtx *ctx, json_t *item, const char *wrapper, size_t i)
{
	char		field[64];

	if (wrapper == NULL)
	{
		if (!json_is_object(item))
		{
			snprintf(field, sizeof(field), "[%zu]", i);
			pgb_json_fail(ctx, field, "is not an object");
		}
		return item;
	}
	snprintf(field, sizeof(field), "[%zu].%s", i, wrapper);
	if (!json_is_object(item) || !json_is_object(json_object_get(item, wrapper)))
		pgb_json_fail(ctx, field, "is missing or not an object");
	return json_object_get(item, wrapper);
}

/* LINK paging's body variant: the next page's URL under the connector's next_key (string or null). */
static const char *
body_next(PgbJsonCtx *ctx, json_t *root, const PgbPaging *p)
{
	json_t	   *v;

	if (p->next_key == NULL)
		return NULL;
	v = json_is_object(root) ? json_object_get(root, p->next_key) : NULL;
	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		pgb_json_fail(ctx, p->next_key, "is not a string or null");
	return json_string_value(v);
}

/* body_next of a whole response, copied (palloc'd) before the parsed body is freed. */
static char *
body_next_copy(PgbJsonCtx *ctx, const PgbHttpResponse *resp, const PgbPaging *p)
{
	json_t	   *root = pgb_json_parse(ctx, resp->body, resp->len);
	char	   *volatile next = NULL;

	PG_TRY();
	{
		const char *n = body_next(ctx, root, p);

		next = n ? pstrdup(n) : NULL;
	}
	PG_FINALLY();
	{
		json_decref(root);
	}
	PG_END_TRY();
	return next;
}

/*
 * The URL of page ordinal of a LINK-paged list when this run has not read the page before it (a
 * run resuming after its checkpoint): the pages before are read again for their next links only
 * (the links are the vendor's opaque cursors; a checkpoint keeps a page count). NULL when the list
 * now ends before that page.
 */
static char *
link_walk(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *since, long ordinal)
{
	char	   *url = list_url(src, e, parent_id, since, NULL, 1);

	for (long k = 1; k < ordinal; k++)
	{
		PgbHttpResponse resp;
		PgbJsonCtx	ctx = {src->name, e->name, k, NULL};
		char	   *link;
		char	   *next = NULL;
		bool		more;

		pgb_http_get(&src->http, url, psprintf("%s page %ld (its next link)", e->name, k), &resp);
		link = resp.link ? pstrdup(resp.link) : NULL;
		if (src->conn->paging.next_key != NULL)
			next = body_next_copy(&ctx, &resp, &src->conn->paging);
		more = pgb_paging_follow(src, e, parent_id, k, url, link, next);
		if (!more)
			return NULL;
		url = pstrdup(pgb_paging_known_url(src, e, parent_id, k + 1));
	}
	return url;
}

/*
 * Sends record i's child requests ahead (the connector's enrich_ahead), when it can be unwrapped
 * without an error: a bad record is reported when its turn to be mapped comes.
 */
static void
send_ahead(PgbSource *src, const PgbEntity *e, json_t *records, size_t i)
{
	json_t	   *item = json_array_get(records, i);

	if (e->wrapper != NULL)
		item = json_is_object(item) ? json_object_get(item, e->wrapper) : NULL;
	if (json_is_object(item))
		src->conn->enrich_ahead(src, e, item);
}

/*
 * Reading a list ahead: with several requests in flight, the pages after a full page of a list
 * numbered by page or offset go out before its records are mapped (their URLs do not depend on
 * its answer, unlike a next link), so that their latency passes while this page's records, their
 * child requests and its store take their time. How far grows once the list has shown it is long:
 * one page ahead after pages 1 to 3 (as one at a time), two after page 4, three after page 5, up
 * to max_concurrent, so that a list of up to four pages costs no request past its end, and a
 * longer one at most max_concurrent - 1. Past its end such a page answers short or empty and is
 * dropped unread (finish_pass); it was counted as a request.
 * Not for a child entity's lists (one per parent record, most of one page: their pages past the
 * end would hold the room meant for the next parents' first pages), nor for a connector that does
 * not send pages ahead at all. One at a time, only the next page goes out, after the records are
 * mapped (step_page), as it always did.
 */
static void
read_ahead(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *since, const char *after_id,
		   long ordinal, PgbJsonCtx *ctx, json_t *root, size_t nrecords, int64 total)
{
	long		depth = Max(1, Min((long) src->http.max_concurrent, ordinal - 2));
	long		last = ordinal + depth;

	if (!src->conn->prefetch || pgb_http_ahead(&src->http) == 0 || e->unpaged || e->parent != NULL ||
		link_paged(src, e) || nrecords < (size_t) src->per_page ||
		last_by_page_count(ctx, root, src->conn->page_count_key, ordinal))
		return;
	/* a list that states its length (X-Total-Count) is not read past it */
	if (src->conn->list_total && total >= 0)
		last = Min(last, (long) ((total + src->per_page - 1) / src->per_page));
	for (long k = ordinal + 1; k <= last && pgb_http_ahead_room(&src->http) > 0; k++)
		pgb_prefetch_list_page(src, e, parent_id, since, after_id, k);
}

static void
map_one(PgbSource *src, const PgbEntity *e, PgbJsonCtx *ctx, json_t *record, PgbPage *out)
{
	ctx->record = NULL;
	if (src->conn->enrich)
		src->conn->enrich(src, e, ctx, record);
	e->map(src, ctx, record, out);
	out->nrecords++;
}

const char *
pgb_source_record(const PgbSource *src)
{
	return src->where ? src->where->record : NULL;
}

void
pgb_entity_page_init(PgbPage *page, const PgbEntity *e)
{
	pgb_page_init(page);
	page->primary = e->table;
}

void
pgb_fetch_page(PgbSource *src, const PgbEntity *e, const char *since, long ordinal, PgbPage *out)
{
	pgb_fetch_child_page(src, e, NULL, since, ordinal, out);
}

void
pgb_fetch_child_page(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *since, long ordinal,
					 PgbPage *out)
{
	pgb_fetch_list_page(src, e, parent_id, since, NULL, ordinal, out);
}

void
pgb_fetch_list_page(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *since,
					const char *after_id, long ordinal, PgbPage *out)
{
	char	   *url = list_url(src, e, parent_id, since, after_id, ordinal);
	char	   *what = parent_id ? psprintf("%s of %s page %ld", e->name, parent_id, ordinal) :
		psprintf("%s page %ld", e->name, ordinal);
	PgbHttpResponse resp;
	PgbJsonCtx	ctx = {src->name, e->name, ordinal, NULL};
	json_t	   *root;
	char	   *link;

	pgb_entity_page_init(out, e);
	out->parent_id = parent_id;
	set_since_header(src, e, since);
	if (url == NULL && (url = link_walk(src, e, parent_id, since, ordinal)) == NULL)
	{
		out->last = true;		/* the list ends before the page the checkpoint got to */
		return;
	}
	pgb_http_get(&src->http, url, what, &resp);
	out->remote_date = resp.date;
	link = resp.link ? pstrdup(resp.link) : NULL;	/* the enrich hook may make requests */
	if (src->conn->list_total)
		out->list_total = resp.total;
	root = pgb_json_parse(&ctx, resp.body, resp.len);
	src->where = &ctx;
	PG_TRY();
	{
		json_t	   *records = records_of(&ctx, root, e);
		size_t		i;
		json_t	   *item;
		/* with several requests in flight, records' child requests go out this far ahead */
		size_t		ahead = src->conn->enrich_ahead ? (size_t) pgb_http_ahead(&src->http) : 0;
		size_t		sent = 0;

		read_ahead(src, e, parent_id, since, after_id, ordinal, &ctx, root, json_array_size(records), resp.total);
		json_array_foreach(records, i, item)
		{
			/*
			 * records i .. i + ahead - 1 (record i's request, sent at the same time as the next
			 * ones at page start, so that it is the first to go; its enrich collects it). A record
			 * whose request finds no room is sent at the next record's turn, not skipped: one
			 * skipped would be made alone by its enrich, after all those sent ahead of it.
			 */
			for (sent = Max(sent, i); ahead > 0 && sent < json_array_size(records) && sent < i + ahead &&
				 pgb_http_ahead_room(&src->http) > 0; sent++)
				send_ahead(src, e, records, sent);
			map_one(src, e, &ctx, unwrap(&ctx, item, e->wrapper, i), out);
		}
		ctx.record = NULL;		/* what follows is about the page, not its last record */
		if (link_paged(src, e))
			out->last = !pgb_paging_follow(src, e, parent_id, ordinal, url, link,
										   body_next(&ctx, root, &src->conn->paging)) ||
				json_array_size(records) == 0;
		else
			out->last = e->unpaged || json_array_size(records) < (size_t) src->per_page ||
				last_by_page_count(&ctx, root, src->conn->page_count_key, ordinal);
	}
	PG_FINALLY();
	{
		src->where = NULL;		/* ctx dies with this frame */
		json_decref(root);
	}
	PG_END_TRY();
}

void
pgb_prefetch_page(PgbSource *src, const PgbEntity *e, const char *since, long ordinal)
{
	pgb_prefetch_child_page(src, e, NULL, since, ordinal);
}

void
pgb_prefetch_child_page(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *since, long ordinal)
{
	pgb_prefetch_list_page(src, e, parent_id, since, NULL, ordinal);
}

void
pgb_prefetch_list_page(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *since,
					   const char *after_id, long ordinal)
{
	char	   *url;

	if (src->conn->prefetch && !e->unpaged && (url = list_url(src, e, parent_id, since, after_id, ordinal)) != NULL)
	{
		set_since_header(src, e, since);
		pgb_http_prefetch(&src->http, url);
	}
}

/* A record id as one URL path segment: anything but [A-Za-z0-9_-] is percent-encoded ("/", "."). */
static char *
path_segment(const char *id)
{
	StringInfoData s;

	initStringInfo(&s);
	for (const unsigned char *p = (const unsigned char *) id; *p; p++)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
			appendStringInfoChar(&s, (char) *p);
		else
			appendStringInfo(&s, "%%%02X", *p);
	}
	return s.data;
}

/* The object of a single-record response: under the entity's record wrapper, or the body itself. */
static json_t *
record_of(PgbJsonCtx *ctx, json_t *root, const char *wrapper)
{
	json_t	   *inner = wrapper && json_is_object(root) ? json_object_get(root, wrapper) : root;

	/* Xero answers one record as an array of one under its plural ({"Invoices": [{...}]}) */
	if (json_is_array(inner) && json_array_size(inner) == 1)
		inner = json_array_get(inner, 0);

	if (!json_is_object(root) || !json_is_object(inner))
		pgb_json_fail(ctx, wrapper ? wrapper : "(response)", "is missing or not an object");
	return inner;
}

/*
 * The record a read endpoint returned must be the one asked for: it is stored, and its id is what
 * keeps the asked-for record from being marked deleted.
 */
static void
check_record_is(const PgbJsonCtx *ctx, const char *external_id, PgbPage *page)
{
	PgbRows    *rows = &page->t[page->primary];
	const char *got = rows->nrows > 0 ? rows->v[(size_t) (rows->nrows - 1) * rows->ncols] : NULL;

	if (got == NULL || strcmp(got, external_id) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("read endpoint answered with record %s instead of %s", got ? got : "(none)", external_id),
				 errdetail("Nothing is marked deleted from an answer about another record.")));
}

bool
pgb_fetch_record(PgbSource *src, const PgbEntity *e, const char *external_id, PgbPage *out)
{
	return pgb_fetch_child_record(src, e, NULL, external_id, out);
}

bool
pgb_fetch_child_record(PgbSource *src, const PgbEntity *e, const char *parent_id, const char *external_id,
					   PgbPage *out)
{
	char	   *url;
	char	   *what = psprintf("%s record %s", e->name, external_id);
	PgbHttpResponse resp;
	PgbJsonCtx	ctx = {src->name, e->name, 0, external_id};
	json_t	   *root;

	if (e->record_path == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s cannot be read one by one, so a reconcile cannot confirm deletions", e->name)));
	if (e->parent != NULL && parent_id == NULL)
		elog(ERROR, "pg_billing: entity %s is read under its parent record, and none was given", e->name);
	url = psprintf("%s%s", src->base_url,
				   e->parent ? psprintf(e->record_path, path_segment(parent_id), path_segment(external_id)) :
				   psprintf(e->record_path, path_segment(external_id)));
	out->parent_id = parent_id;
	pgb_http_set_request_header(&src->http, NULL);
	if (!pgb_http_get_found(&src->http, url, what, &resp))
		return false;
	root = pgb_json_parse(&ctx, resp.body, resp.len);
	src->where = &ctx;
	PG_TRY();
	{
		map_one(src, e, &ctx, record_of(&ctx, root, e->record_wrapper), out);
		check_record_is(&ctx, external_id, out);
	}
	PG_FINALLY();
	{
		src->where = NULL;		/* ctx dies with this frame */
		json_decref(root);
	}
	PG_END_TRY();
	return true;
}

/* A credential field as a non-empty string, or an error naming the field (never its value). */
static char *
credential(PgbSource *src, json_t *secret, const char *field)
{
	json_t	   *v = json_is_object(secret) ? json_object_get(secret, field) : NULL;

	if (!json_is_string(v) || json_string_length(v) == 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
						errmsg("source \"%s\" has no %s", src->name, field),
						errhint("Set it with billing.set_credentials().")));
	return pstrdup(json_string_value(v));
}

static void
wipe(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
}

/* Hands the credentials to the auth style the connector declares; user and pass are wiped by the caller. */
static void
auth_with(PgbSource *src, json_t *secret, char **user, char **pass)
{
	const PgbAuth *a = &src->conn->auth;

	if (src->conn->authenticate)
	{
		src->conn->authenticate(src, secret);
		return;
	}
	*user = credential(src, secret, a->kind == PGB_AUTH_BASIC ? a->user_field : "client_id");
	if (a->kind == PGB_AUTH_BASIC && a->user_field2 != NULL)
	{
		char	   *second = credential(src, secret, a->user_field2);
		char	   *joined = psprintf("%s%s%s", *user, a->user_join ? a->user_join : "", second);

		wipe(*user);
		wipe(second);
		*user = joined;
	}
	if (a->header_name != NULL && a->header_field != NULL)
	{
		char	   *value = credential(src, secret, a->header_field);

		pgb_http_set_header(&src->http, a->header_name, value);
		wipe(value);
	}
	if (a->kind == PGB_AUTH_BASIC)
	{
		*pass = a->password_field ? credential(src, secret, a->password_field) : pstrdup("x");
		pgb_http_auth_basic(&src->http, *user, *pass);
	}
	else
	{
		*pass = credential(src, secret, "client_secret");
		pgb_http_auth_oauth2_style(&src->http, pgb_source_option(src, a->token_url_option), a->audience,
								   *user, *pass, a->form_grant);
	}
}

/* A text option the connector sends as a header on every request (Xero's tenant id), when set. */
static void
option_header(PgbSource *src)
{
	const PgbAuth *a = &src->conn->auth;
	const char *value;

	if (a->header_name == NULL || a->header_option == NULL)
		return;
	value = pgb_source_option(src, a->header_option);
	if (value != NULL && value[0] != '\0')
		pgb_http_set_header(&src->http, a->header_name, value);
}

void
pgb_source_auth(PgbSource *src, char *secret_json)
{
	json_t	   *volatile secret = json_loads(secret_json, 0, NULL);
	char	   *user = NULL;
	char	   *pass = NULL;

	wipe(secret_json);
	option_header(src);
	PG_TRY();
	{
		auth_with(src, secret, &user, &pass);
	}
	PG_FINALLY();
	{
		const char *k;
		json_t	   *v;

		wipe(user);
		wipe(pass);
		/* jansson's copies of the secrets go too */
		if (secret)
		{
			json_object_foreach(secret, k, v)
				if (json_is_string(v))
				explicit_bzero((char *) json_string_value(v), json_string_length(v));
			json_decref(secret);
		}
	}
	PG_END_TRY();
}
