/*
 * revenue_sum.h: exact sums of numeric values as SQL's sum() forms them (same value, same display
 * scale: the largest scale of the values summed), without a numeric operation per value.
 *
 * Values of at most 8 decimals below 10^24 are added as integers of 10^-8; any other value moves
 * the sum to numeric arithmetic for good. The refresh sums ~15 figures of every customer month
 * into the maintained summaries; a numeric_add per figure cost more than computing the month.
 */
#ifndef PGB_REVENUE_SUM_H
#define PGB_REVENUE_SUM_H

#include "postgres.h"
#include "utils/numeric.h"

/* One value, read once: as an integer of 10^-8 when it fits (exact), else only as numeric. */
typedef struct PgbDec
{
	bool		exact;			/* units and dscale hold the value */
	int128		units;
	int			dscale;
	Numeric		num;			/* the value as numeric; NULL until needed when exact */
} PgbDec;

typedef struct PgbSum
{
	PgbDec		value;			/* starts as 0 with scale 0: coalesce(sum(nothing), 0) */
	int			added_scale;	/* the largest display scale of the terms added; -1 when none */
	int			removed_scale;	/* of the terms subtracted; -1 when none */
} PgbSum;

extern PgbDec pgb_dec(Numeric value);
extern PgbDec pgb_dec_add(PgbDec a, PgbDec b);
extern PgbDec pgb_dec_neg(PgbDec a);
/* GREATEST(a, 0) as SQL evaluates it: on a tie the first argument, so 0.00 stays 0.00 */
extern PgbDec pgb_dec_greatest0(PgbDec a);
extern int	pgb_dec_sign(PgbDec a);

extern void pgb_sum_init(PgbSum *sum);
/* Adds sign (1 or -1) times the value. */
extern void pgb_sum_add(PgbSum *sum, PgbDec value, int sign);
extern Numeric pgb_sum_numeric(const PgbSum *sum);
extern bool pgb_sum_is_noop(const PgbSum *sum);
extern Numeric pgb_dec_numeric(PgbDec value);

#endif							/* PGB_REVENUE_SUM_H */
