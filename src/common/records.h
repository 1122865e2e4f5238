/*
 * records.h: what a connector hands the store for one page: rows of values per table, each value
 * text ready for a SQL cast (or NULL), and the record itself as jsonb. Column orders are fixed here
 * and used by the store's SQL.
 */
#ifndef PGB_RECORDS_H
#define PGB_RECORDS_H

typedef enum PgbTable
{
	PGB_T_CUSTOMERS,
	PGB_T_PRODUCTS,
	PGB_T_SUBSCRIPTIONS,
	PGB_T_INVOICES,
	PGB_T_INVOICE_LINES,
	PGB_T_PAYMENTS,
	PGB_T_REFUNDS,
	PGB_T_CREDIT_NOTES,
	PGB_T_CREDIT_NOTE_LINES,
	PGB_T_ALLOCATIONS,
	PGB_T_STATEMENTS,
	PGB_T_CONTRACTS,
	PGB_T_ACCOUNTS,			/* billing.source_accounts (chart of accounts) */
	PGB_T_TAX_RATES,		/* billing.source_tax_rates */
	PGB_T_TRANSACTIONS,		/* billing.source_transactions (a billing system's ledger) */
	PGB_T_COUNT
} PgbTable;

/*
 * Columns of each table's rows, in order (the store's SQL unnests them in this order). Columns that
 * came later are appended: customers' vendor_ref and status, products' cost and billing cycle, invoice
 * direction (NULL = receivable), and the lines' SKU, cost, customer (external id, when the line bills
 * another company than its invoice), billing term, subscription (external id) and tax code; credit
 * note lines share the layout and leave what does not apply NULL.
 */
enum {C_CUS_EXT, C_CUS_REFERENCE, C_CUS_NAME, C_CUS_ORG, C_CUS_EMAIL, C_CUS_PARENT, C_CUS_CREATED, C_CUS_UPDATED, C_CUS_RAW, C_CUS_VENDOR_REF, C_CUS_STATUS, C_CUS_N};
enum {C_PRD_EXT, C_PRD_SKU, C_PRD_NAME, C_PRD_FAMILY, C_PRD_PRICE, C_PRD_CURRENCY, C_PRD_INTERVAL, C_PRD_RECURRING, C_PRD_UPDATED, C_PRD_RAW, C_PRD_COST, C_PRD_CYCLE, C_PRD_N};
enum {C_SUB_EXT, C_SUB_CUSTOMER, C_SUB_PRODUCT_EXT, C_SUB_PRODUCT, C_SUB_SKU, C_SUB_STATE, C_SUB_QUANTITY, C_SUB_UNIT_PRICE,
	C_SUB_CURRENCY, C_SUB_INTERVAL, C_SUB_TERM, C_SUB_PERIOD_START, C_SUB_PERIOD_END, C_SUB_STARTED, C_SUB_CANCELED,
C_SUB_ENDS, C_SUB_UPDATED, C_SUB_RAW, C_SUB_COST, C_SUB_CONTRACT, C_SUB_INCLUDED, C_SUB_BILLABLE, C_SUB_N};
enum {C_INV_EXT, C_INV_NUMBER, C_INV_CUSTOMER, C_INV_SUBSCRIPTION, C_INV_STATUS, C_INV_ISSUE, C_INV_DUE_DATE, C_INV_PAID_DATE,
	C_INV_PERIOD_START, C_INV_PERIOD_END, C_INV_CURRENCY, C_INV_SUBTOTAL, C_INV_DISCOUNT, C_INV_TAX, C_INV_TOTAL,
C_INV_CREDIT, C_INV_REFUNDED, C_INV_PAID, C_INV_DUE, C_INV_UPDATED, C_INV_RAW, C_INV_DIRECTION, C_INV_N};
enum {C_LIN_DOC, C_LIN_EXT, C_LIN_NO, C_LIN_KIND, C_LIN_PRODUCT, C_LIN_DESCRIPTION, C_LIN_QUANTITY, C_LIN_UNIT_PRICE,
	C_LIN_SUBTOTAL, C_LIN_DISCOUNT, C_LIN_TAX, C_LIN_TOTAL, C_LIN_PERIOD_START, C_LIN_PERIOD_END, C_LIN_RECURRING,
C_LIN_RAW, C_LIN_SKU, C_LIN_COST, C_LIN_CUSTOMER, C_LIN_TERM, C_LIN_SUBSCRIPTION, C_LIN_TAX_CODE,
C_LIN_INTERVAL /* months, when the line itself says (NULL = from its product or subscription) */, C_LIN_N};
enum {C_PAY_EXT, C_PAY_CUSTOMER, C_PAY_INVOICE, C_PAY_AMOUNT, C_PAY_CURRENCY, C_PAY_DATE, C_PAY_RECEIVED, C_PAY_METHOD,
C_PAY_REFERENCE, C_PAY_PREPAYMENT, C_PAY_UPDATED, C_PAY_RAW, C_PAY_N};
enum {C_REF_EXT, C_REF_CUSTOMER, C_REF_INVOICE, C_REF_PAYMENT, C_REF_AMOUNT, C_REF_CURRENCY, C_REF_DATE, C_REF_MEMO,
C_REF_UPDATED, C_REF_RAW, C_REF_CREDIT_NOTE, C_REF_N};
enum {C_CN_EXT, C_CN_NUMBER, C_CN_CUSTOMER, C_CN_SUBSCRIPTION, C_CN_INVOICE, C_CN_STATUS, C_CN_ISSUE, C_CN_APPLIED_DATE,
	C_CN_CURRENCY, C_CN_SUBTOTAL, C_CN_DISCOUNT, C_CN_TAX, C_CN_TOTAL, C_CN_APPLIED, C_CN_REMAINING, C_CN_MEMO,
C_CN_UPDATED, C_CN_RAW, C_CN_DIRECTION /* NULL = receivable */, C_CN_N};
enum {C_ALC_EXT, C_ALC_NOTE, C_ALC_INVOICE, C_ALC_CUSTOMER, C_ALC_AMOUNT, C_ALC_CURRENCY, C_ALC_DATE, C_ALC_RAW, C_ALC_N};
enum {C_STM_EXT, C_STM_SUBSCRIPTION, C_STM_OPENED, C_STM_CLOSED, C_STM_SETTLED, C_STM_START_BAL, C_STM_END_BAL,
C_STM_TOTAL, C_STM_UPDATED, C_STM_RAW, C_STM_N};
/* contracts (billing.contracts): dates as YYYY-MM-DD; customer is the customer's external id */
enum {C_CON_EXT, C_CON_CUSTOMER, C_CON_NAME, C_CON_TYPE, C_CON_START, C_CON_END, C_CON_CANCELED, C_CON_CYCLE,
C_CON_CURRENCY, C_CON_UPDATED, C_CON_RAW, C_CON_N};
enum {C_ACC_EXT, C_ACC_CODE, C_ACC_NAME, C_ACC_TYPE, C_ACC_STATUS, C_ACC_UPDATED, C_ACC_RAW, C_ACC_N};
enum {C_TAX_EXT, C_TAX_NAME, C_TAX_RATE, C_TAX_REPORT_TYPE, C_TAX_STATUS, C_TAX_RAW, C_TAX_N};
/* ledger transactions (billing.source_transactions): customer, invoice, payment, credit note as external ids */
enum {C_TRX_EXT, C_TRX_CUSTOMER, C_TRX_TYPE, C_TRX_CATEGORY, C_TRX_DESCRIPTION, C_TRX_QUANTITY, C_TRX_PRICE,
	C_TRX_TAX_PERCENT, C_TRX_TOTAL, C_TRX_CURRENCY, C_TRX_DATE, C_TRX_PERIOD_START, C_TRX_PERIOD_END, C_TRX_INVOICE,
C_TRX_PAYMENT, C_TRX_CREDIT_NOTE, C_TRX_RAW, C_TRX_N};

/*
 * A table's rows. Each value is text, except in the raw column, which holds the record as a jsonb
 * datum (pgb_j_raw): the store passes that column as jsonb[] and never parses it again.
 */
typedef struct PgbRows
{
	int			ncols;
	int			nrows;
	int			cap;
	int			raw_col;		/* the raw column (C_..._RAW) */
	char	  **v;				/* nrows * ncols values, row-major; NULL = SQL null */
} PgbRows;

/* One decoded page. */
typedef struct PgbPage
{
	PgbRows		t[PGB_T_COUNT];
	PgbTable	primary;		/* the entity's own table */
	int			nrecords;		/* records of the entity on the page */
	bool		last;			/* no page after this one */
	int64		max_updated;	/* greatest remote updated_at on the page (epoch s), or -1 */
	int64		remote_date;	/* the server's Date header of the page's response (epoch s), or -1 */
	int64		list_total;		/* the list's length as the response says (X-Total-Count), or -1 */
	const char *parent_id;		/* a child entity's page: the parent record it lists under, else NULL */
} PgbPage;

extern void pgb_page_init(PgbPage *page);
extern char **pgb_rows_add(PgbRows *rows);

#endif
