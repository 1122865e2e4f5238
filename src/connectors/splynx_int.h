/*
 * splynx_int.h: the parts of the Splynx connector (splynx.c: connector, auth, since filter;
 * splynx_map.c: records to rows; splynx_money.c: exact line amounts with numeric).
 */
#ifndef PGB_SPLYNX_INT_H
#define PGB_SPLYNX_INT_H

#include "connectors/connector.h"

struct json_t;
struct PgbJsonCtx;

extern void pgb_splynx_map_customer(PgbSource *src, struct PgbJsonCtx *ctx, struct json_t *c, PgbPage *page);
extern void pgb_splynx_map_invoice(PgbSource *src, struct PgbJsonCtx *ctx, struct json_t *inv, PgbPage *page);
extern void pgb_splynx_map_credit_note(PgbSource *src, struct PgbJsonCtx *ctx, struct json_t *cn, PgbPage *page);
extern void pgb_splynx_map_payment(PgbSource *src, struct PgbJsonCtx *ctx, struct json_t *p, PgbPage *page);
extern void pgb_splynx_map_transaction(PgbSource *src, struct PgbJsonCtx *ctx, struct json_t *t, PgbPage *page);

/*
 * One item's amounts: subtotal = round(quantity x price, 2), tax = round(subtotal x percent / 100, 2),
 * both half away from zero; total = subtotal + tax. Inputs are valid decimal text.
 */
extern void pgb_splynx_item_amounts(const char *quantity, const char *price, const char *tax_percent,
									char **subtotal, char **tax, char **total);
/* a + b, exact. */
extern char *pgb_splynx_add(const char *a, const char *b);

#endif
