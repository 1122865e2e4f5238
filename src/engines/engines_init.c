/*
 * engines_init.c: settings of the engines room, registered from _PG_init.
 */
#include "postgres.h"

#include "pg_billing.h"

void
pgb_engines_init(void)
{
}
