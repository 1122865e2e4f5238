/*
 * revenue_spi.c: typed reads of SPI row columns for the revenue engine.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/datum.h"

#include "engines/revenue_spi.h"

Numeric
pgb_spi_numeric(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : DatumGetNumericCopy(d);
}

DateADT
pgb_spi_date(HeapTuple tup, TupleDesc desc, int col, bool *present)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	*present = !isnull;
	return isnull ? 0 : DatumGetDateADT(d);
}

int64
pgb_spi_int64(HeapTuple tup, TupleDesc desc, int col, bool *present)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	*present = !isnull;
	return isnull ? 0 : DatumGetInt64(d);
}

/* NULL reads as false. */
bool
pgb_spi_bool(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

Datum
pgb_spi_required(HeapTuple tup, TupleDesc desc, int col, const char *what)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("revenue engine input has no %s", what)));
	return d;
}
