/*
 * xero_api.h: the HTTP half of the push to Xero: several requests in flight at once (curl multi),
 * Xero's minute limit kept on this side, its answers' limit headers read, OAuth2 tokens fetched.
 * Nothing here touches the database; src/push/push.c decides what to send and records outcomes.
 */
#ifndef PGB_XERO_API_H
#define PGB_XERO_API_H

#include "http/http_client.h"

#define PGB_XERO_MAX_IN_FLIGHT 5	/* Xero: at most 5 concurrent calls per organisation */
#define PGB_XERO_PER_MINUTE 60	/* Xero: at most 60 calls per minute per organisation */
#define PGB_XERO_MAX_ANSWER (16 * 1024 * 1024)

/* One request and, once sent, its outcome. Inputs are the caller's; answer is palloc'd. */
typedef struct PgbXeroReq
{
	const char *method;			/* GET, PUT or POST */
	char	   *url;			/* absolute, below the client's base URL (or the token URL) */
	const char *idempotency_key;	/* or NULL */
	const char *body;			/* or NULL */
	bool		form;			/* body is form-encoded (token requests) */
	bool		basic;			/* HTTP Basic with the client's id and secret (token requests) */
	/* outcome */
	long		status;			/* 0: no HTTP answer */
	bool		reached;		/* the request may have reached the server (sent, or not known) */
	bool		cancelled;
	long		retry_after;	/* seconds, or -1 */
	char		problem[16];	/* X-Rate-Limit-Problem, or "" */
	long		day_remaining;	/* X-DayLimit-Remaining, or -1 */
	char	   *answer;			/* the body (palloc'd, NUL-terminated), or NULL */
	size_t		answer_len;
	char		error[256];		/* transport error, "" when none */
} PgbXeroReq;

typedef struct PgbXeroClient
{
	PgbHttpTarget target;		/* origin checks of the base URL (http_client.c rules) */
	PgbHttpTarget token_target; /* the same for the token URL */
	char	   *bearer;			/* access token, malloc'd, wiped when released */
	char	   *client_id;		/* malloc'd secrets */
	char	   *client_secret;
	char	   *tenant_id;		/* option tenant_id, or NULL */
	int64		token_expires_us;
	int64		window[PGB_XERO_PER_MINUTE];	/* start times of the last requests (minute limit) */
	int			window_next;
	int			per_minute;		/* requests a minute this side keeps to (≤ 60) */
	int			max_in_flight;	/* requests at once this side keeps to (≤ 5) */
	long		day_remaining;	/* from the last answer; -1 unknown */
	int64		requests;		/* API requests sent (token requests not counted) */
	int			tokens;			/* tokens fetched */
	long		waited_ms;
} PgbXeroClient;

/* Checks both URLs (https, no private addresses) and readies the client. */
extern void pgb_xero_client_init(PgbXeroClient *c, const char *source_name, const char *base_url,
								 const char *token_url);

/*
 * Sends reqs (at most max_in_flight at a time, within the minute limit) and waits for
 * them all. Never raises for what a server answers or a transport failure: each request says.
 * Raises for a cancel (after every transfer has ended).
 */
extern void pgb_xero_send(PgbXeroClient *c, PgbXeroReq *reqs, int n, bool token_request);

/* Waits ms, interruptibly. */
extern void pgb_xero_sleep(PgbXeroClient *c, long ms);

/* Monotonic microseconds. */
extern int64 pgb_xero_now_us(void);

/* Wipes and frees the client's secrets. */
extern void pgb_xero_client_release(PgbXeroClient *c);

/* A malloc'd copy of s (NULL for NULL); raises when out of memory. */
extern char *pgb_xero_strdup(const char *s);

/* Wipes and frees a malloc'd secret. */
extern void pgb_xero_wipe(char **s);

#endif
