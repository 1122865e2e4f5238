/*
 * advanced_billing_int.h: internals shared by the Advanced Billing connector's files.
 */
#ifndef PGB_AB_INT_H
#define PGB_AB_INT_H

#include "connectors/connector.h"
#include "json/pgb_json.h"

/* True when id is all digits (fit for a URL path). */
extern bool pgb_ab_numeric_id(const char *id);

/* Mappers: one vendor record (the inner object) into rows of page. */
extern void pgb_ab_map_customer(PgbJsonCtx *ctx, json_t *c, PgbPage *page);
extern void pgb_ab_map_subscription(PgbJsonCtx *ctx, json_t *s, PgbPage *page);
extern void pgb_ab_map_invoice(PgbJsonCtx *ctx, json_t *inv, PgbPage *page);
extern void pgb_ab_map_credit_note(PgbJsonCtx *ctx, json_t *cn, PgbPage *page);
extern void pgb_ab_map_statement(PgbJsonCtx *ctx, json_t *st, PgbPage *page);

#endif
