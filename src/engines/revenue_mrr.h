/*
 * revenue_mrr.h: rules C3-C7 for one line: its monthly recurring revenue, whether it counts at a
 * month-end snapshot, and the movement between two reported month ends.
 */
#ifndef PGB_REVENUE_MRR_H
#define PGB_REVENUE_MRR_H

#include "engines/revenue_customer.h"

extern Numeric pgb_line_mrr(const PgbRevLine *l, int64 customer_id);
extern bool pgb_mrr_counts_at(const PgbRevLine *l, DateADT snapshot, int past_due_days);
extern const char *pgb_movement_of(Numeric prev, Numeric cur, bool had_before);

#endif							/* PGB_REVENUE_MRR_H */
