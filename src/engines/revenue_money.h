/*
 * revenue_money.h: numeric arithmetic for the revenue engine.
 *
 * Money stays numeric end to end: every operation here calls PostgreSQL's own numeric functions, in
 * the same order as the SQL oracle (test/oracle/revenue_oracle.sql), so the two agree to the last digit.
 */
#ifndef PGB_REVENUE_MONEY_H
#define PGB_REVENUE_MONEY_H

#include "postgres.h"
#include "utils/numeric.h"

extern Numeric pgb_num_zero(void);
extern Numeric pgb_num_add(Numeric a, Numeric b);
extern Numeric pgb_num_sub(Numeric a, Numeric b);
extern Numeric pgb_num_mul(Numeric a, Numeric b);
extern Numeric pgb_num_mul_int(Numeric a, int64 b);
extern Numeric pgb_num_div(Numeric a, Numeric b);
extern Numeric pgb_num_div_int(Numeric a, int64 b);
extern Numeric pgb_num_round2(Numeric a);
extern Numeric pgb_num_abs(Numeric a);
extern int	pgb_num_sign(Numeric a);
extern int	pgb_num_cmp(Numeric a, Numeric b);
extern Numeric pgb_num_greatest(Numeric a, Numeric b);
extern Numeric pgb_num_least(Numeric a, Numeric b);
/* Bounds of the exact integer-cents path of recognition (see pgb_cents_ratio). */
#define PGB_EXACT_MAX_CENTS INT64CONST(100000000000000)	/* 10^14 cents: amounts below 10^12 */
#define PGB_EXACT_MAX_DAYS 1000000	/* periods shorter than 10^6 days */

extern bool pgb_num_to_cents(Numeric a, int64 *cents);
extern Numeric pgb_cents_to_num(int64 cents);
extern int64 pgb_cents_ratio(int64 cents, int64 numerator, int64 denominator);

#endif							/* PGB_REVENUE_MONEY_H */
