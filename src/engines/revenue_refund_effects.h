/*
 * revenue_refund_effects.h: the rule C2a effects of the cash refunds of a computation's customers.
 */
#ifndef PGB_REVENUE_REFUND_EFFECTS_H
#define PGB_REVENUE_REFUND_EFFECTS_H

#include "postgres.h"

#include "engines/revenue_engine.h"
#include "engines/revenue_refunds.h"

/* Columns of a row of billing._refund_effects, in table order. */
#define PGB_EFFECT_COLUMNS 9

/* Reads the scope's refunds and their invoices' lines and emits each effect; runs inside SPI_connect. */
extern void pgb_refund_effects(const PgbRevScope *scope, bool monthly_even, PgbEffectEmit emit, void *arg);

/* An effect as a row of billing._refund_effects. */
extern void pgb_refund_effect_values(const PgbRefundEffect *e, Datum *values, bool *nulls);

#endif							/* PGB_REVENUE_REFUND_EFFECTS_H */
