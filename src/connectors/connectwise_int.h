/*
 * connectwise_int.h: internals shared by the ConnectWise Manage connector's files.
 */
#ifndef PGB_CW_INT_H
#define PGB_CW_INT_H

#include "connectors/connector.h"
#include "json/pgb_json.h"

/*
 * Mappers: one ConnectWise record into rows of page. vendor_ref_field is the source option naming
 * where a company stores the licence vendor's id ("accountNumber" or a custom field caption), or NULL.
 */
extern void pgb_cw_map_company(PgbJsonCtx *ctx, json_t *c, const char *vendor_ref_field, PgbPage *page);
extern void pgb_cw_map_catalog_item(PgbJsonCtx *ctx, json_t *item, PgbPage *page);
extern void pgb_cw_map_agreement(PgbJsonCtx *ctx, json_t *a, PgbPage *page);
extern void pgb_cw_map_addition(PgbJsonCtx *ctx, json_t *a, PgbPage *page);

#endif
