/*
 * revenue_refunds.c: rule C2a on one invoice, operation for operation as the SQL oracle does it
 * (test/oracle/revenue_oracle.sql), so that every figure and its scale agree.
 */
#include "postgres.h"

#include "engines/revenue_calendar.h"
#include "engines/revenue_money.h"
#include "engines/revenue_refunds.h"

/* Running totals of the invoice's refunds so far. */
typedef struct RefundState
{
	Numeric		contra_sum;		/* contra revenue of the earlier refunds */
} RefundState;

static void
init_effect(PgbRefundEffect *e, const PgbRefund *r, DateADT month)
{
	Numeric		zero = pgb_num_zero();

	e->refund = r;
	e->has_invoice = r->has_invoice;
	e->month = month;
	e->contra = e->excess = e->tax = e->adjust = zero;
}

void
pgb_refund_unattached(const PgbRefund *refund, PgbEffectEmit emit, void *arg)
{
	PgbRefundEffect e;

	init_effect(&e, refund, pgb_month_start(pgb_month_of(refund->date)));
	e.contra = refund->amount;
	emit(arg, &e);
}

/* The refund's share of net revenue, in the invoice's own proportion of net to gross. */
static Numeric
net_part(const PgbInvoiceSchedule *s, Numeric amount)
{
	if (pgb_num_sign(s->gross) != 0 && pgb_num_cmp(s->gross, s->net) != 0)
		return pgb_num_round2(pgb_num_div(pgb_num_mul(amount, s->net), s->gross));
	return amount;
}

/*
 * Shrinks the months after the refund's by one factor, (remaining - applied) / remaining, rounded on
 * the cumulative from the refund's month on, and emits each month's change.
 */
static void
scale_later_months(PgbInvoiceSchedule *s, const PgbRefund *r, int month, Numeric cum, Numeric remaining,
				   Numeric applied, PgbEffectEmit emit, void *arg)
{
	Numeric		cum_old = cum;
	Numeric		prev_new = cum;
	Numeric		kept = pgb_num_sub(remaining, applied);
	int			i;

	for (i = 0; i < s->nmonths; i++)
	{
		Numeric		cum_new,
					amount;
		PgbRefundEffect e;

		if (!s->present[i] || s->first + i <= month)
			continue;
		cum_old = pgb_num_add(cum_old, s->amounts[i]);
		cum_new = pgb_num_add(cum, pgb_num_round2(pgb_num_div(pgb_num_mul(pgb_num_sub(cum_old, cum), kept),
															  remaining)));
		amount = pgb_num_sub(cum_new, prev_new);
		init_effect(&e, r, pgb_month_start(s->first + i));
		e.adjust = pgb_num_sub(amount, s->amounts[i]);
		s->amounts[i] = amount;
		prev_new = cum_new;
		if (pgb_num_sign(e.adjust) != 0)
			emit(arg, &e);
	}
}

static void
apply_refund(PgbInvoiceSchedule *s, RefundState *st, const PgbRefund *r, PgbEffectEmit emit, void *arg)
{
	Numeric		zero = pgb_num_zero();
	int			month = pgb_month_of(r->date);
	Numeric		cum = zero,
				total = zero,
				net,
				excess,
				remaining,
				applied;
	PgbRefundEffect e;
	int			i;

	init_effect(&e, r, pgb_month_start(month));
	net = net_part(s, r->amount);
	/* the refund's tax share goes back to tax payable */
	e.tax = pgb_num_sub(r->amount, net);
	for (i = 0; i < s->nmonths; i++)
	{
		if (!s->present[i])
			continue;
		if (s->first + i <= month)
			cum = pgb_num_add(cum, s->amounts[i]);
		total = pgb_num_add(total, s->amounts[i]);
	}
	e.contra = pgb_num_least(net, pgb_num_greatest(pgb_num_sub(cum, st->contra_sum), zero));
	excess = pgb_num_sub(net, e.contra);
	remaining = pgb_num_sub(total, cum);
	applied = pgb_num_least(excess, pgb_num_greatest(remaining, zero));
	/* what neither recognised revenue nor the deferred balance can absorb is an over-refund: contra */
	e.contra = pgb_num_add(e.contra, pgb_num_sub(excess, applied));
	e.excess = applied;
	st->contra_sum = pgb_num_add(st->contra_sum, e.contra);
	emit(arg, &e);
	if (pgb_num_sign(applied) > 0)
		scale_later_months(s, r, month, cum, remaining, applied, emit, arg);
}

void
pgb_refunds_of_invoice(PgbInvoiceSchedule *schedule, const PgbRefund *const *refunds, int nrefunds,
					   PgbEffectEmit emit, void *arg)
{
	RefundState st;
	int			i;

	st.contra_sum = pgb_num_zero();
	for (i = 0; i < nrefunds; i++)
		apply_refund(schedule, &st, refunds[i], emit, arg);
}
