/*
 * http_init.c: settings of the http room, registered from _PG_init.
 */
#include "postgres.h"

#include "pg_billing.h"

void
pgb_http_init(void)
{
}
