/*
 * revenue_summary.h: the deltas a refresh makes to the maintained sums behind billing.mrr_summary
 * (billing._mrr_summary) and billing.journal_entries (billing._journal_summary), gathered in memory
 * while the refresh reads the old results and computes the new ones, and written at its end.
 *
 * Each figure is summed exactly as 0.3.0's billing._revenue_summarise summed it in SQL (the same
 * rows, filters, GREATEST and scale), so the maintained tables hold the same values to the digit.
 */
#ifndef PGB_REVENUE_SUMMARY_H
#define PGB_REVENUE_SUMMARY_H

#include "postgres.h"
#include "utils/date.h"
#include "utils/numeric.h"

#include "engines/revenue_customer.h"

typedef struct PgbSummary PgbSummary;

/* Created in the current memory context, which must outlive the refresh's SPI calls. */
extern PgbSummary *pgb_summary_create(void);
/* Rows added from now on count with this sign: -1 for the old results, 1 for the new. */
extern void pgb_summary_sign(PgbSummary *s, int sign);
/* A small number for each currency (text), so keys are fixed-size. */
extern int	pgb_summary_currency(PgbSummary *s, Datum currency);
extern Datum pgb_summary_currency_text(PgbSummary *s, int currency);

/*
 * A stored customer month (fields of billing._revenue_monthly as PgbRevRow holds them). Rows must
 * come customer by customer: the reporting row counts distinct customers. reporting: the row was
 * computed with a reporting currency; source NULL: the customer has no source (no journal part).
 */
extern void pgb_summary_month(PgbSummary *s, int64 customer_id, int currency, const PgbRevRow *row,
							  bool reporting, const int64 *source);
/* A row of billing._mrr_movements; amount and reporting_amount may be NULL. */
extern void pgb_summary_movement(PgbSummary *s, int currency, DateADT month, const char *movement,
								 Numeric amount, Numeric reporting_amount);
/* A row of billing._refund_effects (journal part 2). */
extern void pgb_summary_effect(PgbSummary *s, int currency, DateADT month, int64 source,
							   Numeric contra, Numeric excess, Numeric tax);
/* Payments (part 3) or cash refunds (part 4) of a month: n rows summing to amount. */
extern void pgb_summary_cash(PgbSummary *s, int currency, DateADT month, int64 source, int part,
							 int64 n, Numeric amount);

/* Adds the gathered deltas to the two tables, in key order (concurrent refreshes lock alike). */
extern void pgb_summary_apply(PgbSummary *s);

#endif							/* PGB_REVENUE_SUMMARY_H */
