/*
 * paging.c: the paging styles a connector may declare, in one place. The driver counts pages from
 * 1 (its checkpoints say how many pages were committed); the vendor's numbering is derived here.
 * LINK paging follows the URL each page names for the next one (RFC 8288 Link rel="next", or a
 * key of the body): that URL is the vendor's text, so it must stay on the source's scheme, host
 * and port (the http client's origin rule), and a link back to the page itself or the one before
 * ends the run instead of looping.
 */
#include "postgres.h"

#include "connectors/connector.h"

char *
pgb_paging_query(const PgbPaging *p, long ordinal, int size)
{
	long		value;

	if (p->kind == PGB_PAGING_LINK)
		return psprintf("%s=%d", p->size_param, size);	/* page 1; the others are linked */
	if (p->kind == PGB_PAGING_OFFSET)
		value = (ordinal - 1) * (long) size;
	else
		value = ordinal - 1 + p->first_page;
	return psprintf("%s=%ld&%s=%d", p->page_param, value, p->size_param, size);
}

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* True when a rel value (space-separated relation types, case-insensitive) holds "next". */
static bool
rel_has_next(const char *v)
{
	while (*(v = skip_ws(v)))
	{
		size_t		n = strcspn(v, " \t");

		if (n == 4 && pg_strncasecmp(v, "next", 4) == 0)
			return true;
		v += n;
	}
	return false;
}

/*
 * One link-param (after its ';'): its name and value (a token or a quoted string, at most 255
 * bytes kept); returns where it ends.
 */
static const char *
link_param(const char *p, bool *is_next)
{
	const char *name = p = skip_ws(p);
	size_t		nlen;
	char		val[256];
	size_t		vlen = 0;

	while (*p && !strchr("=;, \t", *p))
		p++;
	nlen = p - name;
	p = skip_ws(p);
	if (*p == '=')
	{
		p = skip_ws(p + 1);
		if (*p == '"')
		{
			for (p++; *p && *p != '"'; p++)
			{
				if (*p == '\\' && p[1])
					p++;
				if (vlen < sizeof(val) - 1)
					val[vlen++] = *p;
			}
			if (*p == '"')
				p++;
		}
		else
			for (; *p && !strchr(";, \t", *p); p++)
				if (vlen < sizeof(val) - 1)
					val[vlen++] = *p;
	}
	val[vlen] = '\0';
	if (nlen == 3 && pg_strncasecmp(name, "rel", 3) == 0 && rel_has_next(val))
		*is_next = true;
	return p;
}

int
pgb_link_next(const char *header, char *out, size_t outlen)
{
	const char *p = header;

	for (;;)
	{
		const char *start;
		const char *end;
		bool		is_next = false;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return PGB_LINK_NONE;
		if (*p != '<' || (end = strchr(p, '>')) == NULL)
			return PGB_LINK_BAD;
		start = p + 1;
		p = skip_ws(end + 1);
		while (*p == ';')
			p = skip_ws(link_param(p + 1, &is_next));
		if (is_next)
		{
			size_t		len = end - start;

			if (len == 0 || len >= outlen)
				return PGB_LINK_BAD;
			memcpy(out, start, len);
			out[len] = '\0';
			return PGB_LINK_FOUND;
		}
		if (*p != ',' && *p != '\0')
			return PGB_LINK_BAD;
	}
}

/*
 * The next link as an absolute URL: absolute already, or an absolute path (or "//host/...")
 * resolved against the base_url. Anything else (a path relative to the page) is refused.
 */
static char *
resolve(const PgbSource *src, const char *target, long ordinal)
{
	const char *host = strstr(src->base_url, "://");
	size_t		origin_len;

	for (const unsigned char *c = (const unsigned char *) target; *c; c++)
		if (*c <= ' ' || *c == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("the next link of page %ld holds a space or control character, run stopped", ordinal)));
	if (pg_strncasecmp(target, "https://", 8) == 0 || pg_strncasecmp(target, "http://", 7) == 0)
		return pstrdup(target);
	if (host != NULL && target[0] == '/' && target[1] == '/')
		return psprintf("%.*s%s", (int) (host - src->base_url + 1), src->base_url, target);
	if (target[0] != '/' || host == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the next link of page %ld is neither an absolute URL nor an absolute path, run stopped", ordinal)));
	origin_len = strcspn(host + 3, "/?#") + (host + 3 - src->base_url);
	return psprintf("%.*s%s", (int) origin_len, src->base_url, target);
}

/* The next URL stays on the source's scheme, host and port, and fits the client's URL buffer. */
static void
check_origin(const PgbSource *src, const char *url, long ordinal)
{
	PgbUrl		u;
	const char *reason;

	if (strlen(url) >= sizeof(((PgbLinkState *) NULL)->next_url))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the next link of page %ld is longer than %zu bytes, run stopped", ordinal,
						sizeof(((PgbLinkState *) NULL)->next_url) - 1)));
	if (!pgb_url_parse(url, &u, &reason))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the next link of page %ld is not usable: %s", ordinal, reason)));
	if (!pgb_url_same_origin(&u, &src->http.origin))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the next link of page %ld leaves the source's base_url, run stopped", ordinal),
				 errdetail("The link names %s://%s:%d; a next link must keep the scheme, host and port of the base_url (%s://%s:%d).",
						   u.scheme, u.host, u.port, src->http.origin.scheme, src->http.origin.host,
						   src->http.origin.port),
				 errhint("Check that the source's base_url reaches %s itself.", src->conn->vendor)));
}

static bool
same_list(const PgbLinkState *l, const void *list, const char *parent_id)
{
	return l->list == list && strcmp(l->parent, parent_id ? parent_id : "") == 0;
}

bool
pgb_paging_follow(PgbSource *src, const void *list, const char *parent_id, long ordinal, const char *url,
				  const char *link_header, const char *body_next)
{
	PgbLinkState *l = &src->link;
	char		found[sizeof(l->next_url)];
	const char *target = NULL;
	char	   *next;

	/* a new list (or its first page again) starts with no history */
	if (ordinal == 1 || !same_list(l, list, parent_id))
	{
		memset(l, 0, sizeof(*l));
		l->list = list;
		strlcpy(l->parent, parent_id ? parent_id : "", sizeof(l->parent));
	}
	strlcpy(l->prev_url, l->this_url, sizeof(l->prev_url));
	strlcpy(l->this_url, url, sizeof(l->this_url));
	l->ordinal = 0;
	if (src->conn->paging.next_key != NULL)
		target = body_next;
	else if (link_header != NULL)
	{
		int			r = pgb_link_next(link_header, found, sizeof(found));

		if (r == PGB_LINK_BAD)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("the Link header of page %ld cannot be read, run stopped", ordinal),
					 errdetail("A Link header is a list of <URL>; rel=\"...\" values (RFC 8288); a next URL is at most %zu bytes.",
							   sizeof(found) - 1)));
		if (r == PGB_LINK_FOUND)
			target = found;
	}
	if (target == NULL || target[0] == '\0')
		return false;
	next = resolve(src, target, ordinal);
	check_origin(src, next, ordinal);
	if (strcmp(next, l->this_url) == 0 || strcmp(next, l->prev_url) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the next link of page %ld leads back to page %ld, run stopped", ordinal,
						strcmp(next, l->this_url) == 0 ? ordinal : ordinal - 1),
				 errdetail("A list whose next link leads back to a page already read would never end.")));
	strlcpy(l->next_url, next, sizeof(l->next_url));
	l->ordinal = ordinal + 1;
	return true;
}

const char *
pgb_paging_known_url(const PgbSource *src, const void *list, const char *parent_id, long ordinal)
{
	const PgbLinkState *l = &src->link;

	return ordinal > 1 && l->ordinal == ordinal && same_list(l, list, parent_id) ? l->next_url : NULL;
}
