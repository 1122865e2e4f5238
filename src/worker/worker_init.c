/*
 * worker_init.c: settings of the worker room, registered from _PG_init.
 */
#include "postgres.h"

#include "pg_billing.h"

void
pgb_worker_init(void)
{
}
