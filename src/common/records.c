/*
 * records.c: the page container connectors fill and the store reads.
 */
#include "postgres.h"

#include "common/records.h"

/* Each table's column count and raw column (the one holding jsonb, see records.h). */
static const struct
{
	int			ncols;
	int			raw_col;
}			shape[PGB_T_COUNT] = {
	[PGB_T_CUSTOMERS] = {C_CUS_N, C_CUS_RAW},
	[PGB_T_PRODUCTS] = {C_PRD_N, C_PRD_RAW},
	[PGB_T_SUBSCRIPTIONS] = {C_SUB_N, C_SUB_RAW},
	[PGB_T_INVOICES] = {C_INV_N, C_INV_RAW},
	[PGB_T_INVOICE_LINES] = {C_LIN_N, C_LIN_RAW},
	[PGB_T_PAYMENTS] = {C_PAY_N, C_PAY_RAW},
	[PGB_T_REFUNDS] = {C_REF_N, C_REF_RAW},
	[PGB_T_CREDIT_NOTES] = {C_CN_N, C_CN_RAW},
	[PGB_T_CREDIT_NOTE_LINES] = {C_LIN_N, C_LIN_RAW},
	[PGB_T_ALLOCATIONS] = {C_ALC_N, C_ALC_RAW},
	[PGB_T_STATEMENTS] = {C_STM_N, C_STM_RAW},
	[PGB_T_CONTRACTS] = {C_CON_N, C_CON_RAW},
	[PGB_T_ACCOUNTS] = {C_ACC_N, C_ACC_RAW},
	[PGB_T_TAX_RATES] = {C_TAX_N, C_TAX_RAW},
	[PGB_T_TRANSACTIONS] = {C_TRX_N, C_TRX_RAW},
};

void
pgb_page_init(PgbPage *page)
{
	memset(page, 0, sizeof(*page));
	for (int i = 0; i < PGB_T_COUNT; i++)
	{
		page->t[i].ncols = shape[i].ncols;
		page->t[i].raw_col = shape[i].raw_col;
	}
	page->max_updated = -1;
	page->remote_date = -1;
	page->list_total = -1;
}

char **
pgb_rows_add(PgbRows *r)
{
	char	  **row;

	if (r->nrows == r->cap)
	{
		int			cap = r->cap ? r->cap * 2 : 64;

		if (r->v == NULL)
			r->v = palloc0(sizeof(char *) * cap * r->ncols);
		else
		{
			r->v = repalloc(r->v, sizeof(char *) * cap * r->ncols);
			memset(r->v + (size_t) r->cap * r->ncols, 0, sizeof(char *) * (cap - r->cap) * r->ncols);
		}
		r->cap = cap;
	}
	row = r->v + (size_t) r->nrows * r->ncols;
	r->nrows++;
	return row;
}
