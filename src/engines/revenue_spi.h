/*
 * revenue_spi.h: typed reads of the columns of rows the revenue engine fetches through SPI.
 */
#ifndef PGB_REVENUE_SPI_H
#define PGB_REVENUE_SPI_H

#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/date.h"
#include "utils/numeric.h"

/* A copy in the current memory context, or NULL for SQL NULL. */
extern Numeric pgb_spi_numeric(HeapTuple tup, TupleDesc desc, int col);
/* *present says whether the column was not NULL; the value is 0 when it was. */
extern DateADT pgb_spi_date(HeapTuple tup, TupleDesc desc, int col, bool *present);
extern int64 pgb_spi_int64(HeapTuple tup, TupleDesc desc, int col, bool *present);
extern bool pgb_spi_bool(HeapTuple tup, TupleDesc desc, int col);
/* A column that must not be NULL; a NULL is reported as an internal error naming it. */
extern Datum pgb_spi_required(HeapTuple tup, TupleDesc desc, int col, const char *what);

#endif							/* PGB_REVENUE_SPI_H */
