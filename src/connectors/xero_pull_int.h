/*
 * xero_pull_int.h: the mappers of the Xero pull connector (xero_pull_map.c), one per entity.
 */
#ifndef PGB_XERO_PULL_INT_H
#define PGB_XERO_PULL_INT_H

#include "connectors/connector.h"
#include "json/pgb_json.h"

extern void pgb_xero_map_account(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page);
extern void pgb_xero_map_tax_rate(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page);
extern void pgb_xero_map_contact(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page);
extern void pgb_xero_map_invoice(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page);
extern void pgb_xero_map_credit_note(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page);
extern void pgb_xero_map_payment(PgbSource *src, PgbJsonCtx *ctx, json_t *r, PgbPage *page);

#endif
