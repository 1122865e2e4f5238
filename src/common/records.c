/*
 * records.c: the page container connectors fill and the store reads.
 */
#include "postgres.h"

#include "common/records.h"

static const int ncols[PGB_T_COUNT] = {
	[PGB_T_CUSTOMERS] = C_CUS_N,
	[PGB_T_PRODUCTS] = C_PRD_N,
	[PGB_T_SUBSCRIPTIONS] = C_SUB_N,
	[PGB_T_INVOICES] = C_INV_N,
	[PGB_T_INVOICE_LINES] = C_LIN_N,
	[PGB_T_PAYMENTS] = C_PAY_N,
	[PGB_T_REFUNDS] = C_REF_N,
	[PGB_T_CREDIT_NOTES] = C_CN_N,
	[PGB_T_CREDIT_NOTE_LINES] = C_LIN_N,
	[PGB_T_ALLOCATIONS] = C_ALC_N,
	[PGB_T_STATEMENTS] = C_STM_N,
	[PGB_T_CONTRACTS] = C_CON_N,
	[PGB_T_ACCOUNTS] = C_ACC_N,
	[PGB_T_TAX_RATES] = C_TAX_N,
	[PGB_T_TRANSACTIONS] = C_TRX_N,
};

static const int raw_col[PGB_T_COUNT] = {
	[PGB_T_CUSTOMERS] = C_CUS_RAW,
	[PGB_T_PRODUCTS] = C_PRD_RAW,
	[PGB_T_SUBSCRIPTIONS] = C_SUB_RAW,
	[PGB_T_INVOICES] = C_INV_RAW,
	[PGB_T_INVOICE_LINES] = C_LIN_RAW,
	[PGB_T_PAYMENTS] = C_PAY_RAW,
	[PGB_T_REFUNDS] = C_REF_RAW,
	[PGB_T_CREDIT_NOTES] = C_CN_RAW,
	[PGB_T_CREDIT_NOTE_LINES] = C_LIN_RAW,
	[PGB_T_ALLOCATIONS] = C_ALC_RAW,
	[PGB_T_STATEMENTS] = C_STM_RAW,
	[PGB_T_CONTRACTS] = C_CON_RAW,
	[PGB_T_ACCOUNTS] = C_ACC_RAW,
	[PGB_T_TAX_RATES] = C_TAX_RAW,
	[PGB_T_TRANSACTIONS] = C_TRX_RAW,
};

void
pgb_page_init(PgbPage *page)
{
	memset(page, 0, sizeof(*page));
	for (int i = 0; i < PGB_T_COUNT; i++)
	{
		page->t[i].ncols = ncols[i];
		page->t[i].raw_col = raw_col[i];
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
