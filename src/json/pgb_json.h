/*
 * pgb_json.h: typed field access on jansson values, with errors that name the source, entity,
 * page, record and field. Include only in translation units that do not include utils/builtins.h
 * (jansson.h and builtins.h both declare json_object).
 */
#ifndef PGB_JSON_H
#define PGB_JSON_H

#include <jansson.h>

/* pg_billing.json_max_memory: the cap of jansson's live memory in a backend (kB). */
extern int	pgb_json_max_memory_kb;

/* Where a value came from, for error messages. */
typedef struct PgbJsonCtx
{
	const char *source;			/* source name */
	const char *entity;			/* e.g. "invoices" */
	long		page;			/* page number, 0 when not paged */
	const char *record;			/* record id being decoded, or NULL */
} PgbJsonCtx;

/* Parses a whole body (duplicate keys and \u0000 rejected); a bad body raises an error. */
extern json_t *pgb_json_parse(const PgbJsonCtx *ctx, const char *buf, size_t len);

/* Raises "source ...: entity page N, record R: field F: <what>". */
extern void pgb_json_fail(const PgbJsonCtx *ctx, const char *field, const char *what) pg_attribute_noreturn();

/*
 * Getters: each returns palloc'd text ready for a SQL cast, or NULL when the field is absent or
 * null and not required. A present value of the wrong type is always an error.
 */
extern char *pgb_j_str(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required);
extern char *pgb_j_id(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required);	/* integer or non-empty string */
extern char *pgb_j_int(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required);
extern char *pgb_j_money(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required);
extern char *pgb_j_cents(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required);
extern char *pgb_j_bool(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required);
extern char *pgb_j_date(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required);
extern char *pgb_j_timestamp(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required,
							 int64 *epoch);
extern json_t *pgb_j_object(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required);
extern json_t *pgb_j_array(const PgbJsonCtx *ctx, json_t *obj, const char *field, bool required);

/*
 * A record as it is stored in a raw column: a palloc'd jsonb datum (a varlena), which a PgbRows
 * raw cell holds in place of text (common/records.h).
 */
extern char *pgb_j_raw(const PgbJsonCtx *ctx, json_t *value);

#endif
