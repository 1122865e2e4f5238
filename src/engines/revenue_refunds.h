/*
 * revenue_refunds.h: rule C2a, the effects of cash refunds (refunds not carried by credit-note lines
 * with service periods): contra revenue in the refund's month, capped by what the refunded invoice
 * has recognised through that month less earlier contra; the excess comes off the invoice's deferred
 * balance by scaling its later months with one factor, rounded cumulatively.
 */
#ifndef PGB_REVENUE_REFUNDS_H
#define PGB_REVENUE_REFUNDS_H

#include "postgres.h"
#include "utils/date.h"
#include "utils/numeric.h"

typedef struct PgbRefund
{
	int64		id;
	int64		customer_id;
	Datum		currency;		/* text */
	bool		has_invoice;
	int64		invoice_id;
	Numeric		amount;
	DateADT		date;
} PgbRefund;

/* One row of billing._refund_effects. */
typedef struct PgbRefundEffect
{
	const PgbRefund *refund;
	bool		has_invoice;
	DateADT		month;
	Numeric		contra;
	Numeric		excess;
	Numeric		tax;
	Numeric		adjust;
} PgbRefundEffect;

/*
 * The refunded invoice's recognition by month (first .. first + nmonths - 1; present[i] false for
 * months none of its lines touches), and its net and gross totals. Refunds rescale amounts in place.
 */
typedef struct PgbInvoiceSchedule
{
	int			first;
	int			nmonths;
	Numeric    *amounts;
	bool	   *present;
	Numeric		net;
	Numeric		gross;
} PgbInvoiceSchedule;

typedef void (*PgbEffectEmit) (void *arg, const PgbRefundEffect *effect);

/* A refund with no invoice schedule to cap it: all of it is contra revenue in its month. */
extern void pgb_refund_unattached(const PgbRefund *refund, PgbEffectEmit emit, void *arg);

/* The refunds of one invoice, in date then id order, each seeing the schedule the earlier left. */
extern void pgb_refunds_of_invoice(PgbInvoiceSchedule *schedule, const PgbRefund *const *refunds,
								   int nrefunds, PgbEffectEmit emit, void *arg);

#endif							/* PGB_REVENUE_REFUNDS_H */
