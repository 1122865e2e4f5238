/*
 * paging.c: the paging styles a connector may declare, in one place. The driver counts pages from
 * 1 (its checkpoints say how many pages were committed); the vendor's numbering is derived here.
 */
#include "postgres.h"

#include "connectors/connector.h"

char *
pgb_paging_query(const PgbPaging *p, long ordinal, int size)
{
	long		value;

	if (p->kind == PGB_PAGING_OFFSET)
		value = (ordinal - 1) * (long) size;
	else
		value = ordinal - 1 + p->first_page;
	return psprintf("%s=%ld&%s=%d", p->page_param, value, p->size_param, size);
}
