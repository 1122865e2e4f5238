/*
 * revenue_bulk.c: COPY-like batched inserts into a result table (see revenue_bulk.h).
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "engines/revenue_bulk.h"

#define BULK_ROWS 1000

struct PgbBulk
{
	Relation	rel;
	ResultRelInfo *rri;
	EState	   *estate;
	BulkInsertState bistate;
	CommandId	cid;
	MemoryContext batch_cxt;	/* the batch's tuples and what inserting them leaks */
	TupleTableSlot *slots[BULK_ROWS];
	int			nused;
	TupleDesc	slot_desc;		/* an unpinned copy: pinning one per slot costs resource-owner work */
	bool		index_later;	/* the table was emptied: build its indexes once, at the end */
	int			insert_options; /* table_multi_insert's: frozen rows into a table emptied here */
	int			ncolumns;
	int		   *attnos;			/* column i of a row -> attribute index */
	Datum	   *values;			/* one tuple's worth, every attribute */
	bool	   *nulls;
};

static void
refuse(Relation rel, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the revenue refresh cannot write to table %s", RelationGetRelationName(rel)),
			 errdetail("The table %s; the refresh writes its rows directly, as COPY does, and would bypass it.", why),
			 errhint("Remove it: the table is internal to pg_billing.")));
}

/* Finds each named column among the table's attributes (an upgraded table may have dropped ones). */
static void
map_columns(PgbBulk *b, const char *const *columns, int ncolumns)
{
	TupleDesc	desc = RelationGetDescr(b->rel);
	int			i,
				a;

	b->ncolumns = ncolumns;
	b->attnos = palloc(sizeof(int) * ncolumns);
	for (i = 0; i < ncolumns; i++)
	{
		b->attnos[i] = -1;
		for (a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), columns[i]) == 0)
				b->attnos[i] = a;
		}
		if (b->attnos[i] < 0)
			elog(ERROR, "table %s has no column %s", RelationGetRelationName(b->rel), columns[i]);
	}
	b->values = palloc0(sizeof(Datum) * desc->natts);
	b->nulls = palloc(sizeof(bool) * desc->natts);
}

/*
 * Whether the table's storage was created (TRUNCATE) in the current subtransaction, as a full
 * recomputation's are: its rows can then be written frozen and its pages all-visible, as COPY FREEZE
 * writes them, so that the first readers after the commit do not dirty every page setting hint bits
 * and VACUUM has nothing to freeze. An abort of this subtransaction discards the storage with the
 * rows, and no earlier scan in the transaction can be reading it (TRUNCATE refuses a table in use).
 */
static bool
emptied_here(Relation rel)
{
	SubTransactionId current = GetCurrentSubTransactionId();

	return rel->rd_createSubid == current || rel->rd_newRelfilenodeSubid == current;
}

PgbBulk *
pgb_bulk_open(const char *table, const char *const *columns, int ncolumns, bool index_later)
{
	PgbBulk    *b = palloc0(sizeof(PgbBulk));
	Oid			relid = get_relname_relid(table, get_namespace_oid("billing", false));
	AclResult	acl;

	if (!OidIsValid(relid))
		elog(ERROR, "table billing.%s does not exist", table);
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, table);
	b->rel = table_open(relid, RowExclusiveLock);
	if (b->rel->rd_rel->relkind != RELKIND_RELATION)
		refuse(b->rel, "is not a plain table");
	if (b->rel->trigdesc != NULL)
		refuse(b->rel, "has triggers");
	if (b->rel->rd_rules != NULL)
		refuse(b->rel, "has rules");
	if (b->rel->rd_rel->relrowsecurity)
		refuse(b->rel, "has row level security");
	/* NOT NULL is checked row by row below; anything else would go unchecked */
	if (RelationGetDescr(b->rel)->constr && RelationGetDescr(b->rel)->constr->num_check > 0)
		refuse(b->rel, "has check constraints");
	map_columns(b, columns, ncolumns);
	b->index_later = index_later;
	/* only a full recomputation: its TRUNCATE came just before, no cursor of the caller can be open */
	b->insert_options = index_later && emptied_here(b->rel) ? TABLE_INSERT_SKIP_FSM | TABLE_INSERT_FROZEN : 0;
	b->slot_desc = CreateTupleDescCopy(RelationGetDescr(b->rel));

	b->estate = CreateExecutorState();
	b->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(b->rri, b->rel, 1, NULL, 0);
	ExecOpenIndices(b->rri, false);
	b->bistate = GetBulkInsertState();
	b->cid = GetCurrentCommandId(true);
	b->batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_billing bulk insert", ALLOCSET_DEFAULT_SIZES);
	/* slots are made as the first batch fills: a small refresh writes a few rows */
	return b;
}

static void
flush(PgbBulk *b)
{
	MemoryContext old;
	int			i;

	if (b->nused == 0)
		return;
	old = MemoryContextSwitchTo(b->batch_cxt);
	table_multi_insert(b->rel, b->slots, b->nused, b->cid, b->insert_options, b->bistate);
	for (i = 0; i < b->nused; i++)
	{
		if (b->rri->ri_NumIndices > 0 && !b->index_later)
			list_free(ExecInsertIndexTuples(b->rri, b->slots[i], b->estate, false, false, NULL, NIL));
		ExecClearTuple(b->slots[i]);
		ResetPerTupleExprContext(b->estate);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(b->batch_cxt);
	b->nused = 0;
}

void
pgb_bulk_put(PgbBulk *b, const Datum *values, const bool *nulls)
{
	TupleDesc	desc = RelationGetDescr(b->rel);
	MemoryContext old;
	HeapTuple	tuple;
	int			a,
				i;

	for (a = 0; a < desc->natts; a++)
		b->nulls[a] = true;
	for (i = 0; i < b->ncolumns; i++)
	{
		b->values[b->attnos[i]] = values[i];
		b->nulls[b->attnos[i]] = nulls[i];
	}
	/* NOT NULL as the executor checks it (a table with CHECK constraints is refused when opened) */
	for (a = 0; a < desc->natts; a++)
		if (b->nulls[a] && TupleDescAttr(desc, a)->attnotnull)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
							NameStr(TupleDescAttr(desc, a)->attname), RelationGetRelationName(b->rel))));
	old = MemoryContextSwitchTo(b->batch_cxt);
	tuple = heap_form_tuple(desc, b->values, b->nulls);
	MemoryContextSwitchTo(old);
	if (b->slots[b->nused] == NULL)
	{
		/* in the writer's memory: rows are put from the engine's per-group memory */
		old = MemoryContextSwitchTo(GetMemoryChunkContext(b));
		b->slots[b->nused] = MakeSingleTupleTableSlot(b->slot_desc, &TTSOpsHeapTuple);
		MemoryContextSwitchTo(old);
	}
	ExecStoreHeapTuple(tuple, b->slots[b->nused++], true);
	if (b->nused == BULK_ROWS)
		flush(b);
}

/*
 * Rebuilds the indexes of a table written with index_later: sorting the rows once is about twice as
 * fast as inserting each into every btree (REINDEX also checks the primary key's uniqueness).
 */
static void
build_indexes(Oid relid)
{
	char	   *sql = psprintf("REINDEX TABLE %s", quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
																			 get_rel_name(relid)));

	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "rebuilding the indexes of a revenue table failed: %s", SPI_result_code_string(SPI_result));
}

void
pgb_bulk_close(PgbBulk *b)
{
	Oid			relid = RelationGetRelid(b->rel);
	int			i;

	flush(b);
	ExecCloseIndices(b->rri);
	FreeBulkInsertState(b->bistate);
	table_finish_bulk_insert(b->rel, 0);
	table_close(b->rel, NoLock);
	FreeExecutorState(b->estate);
	for (i = 0; i < BULK_ROWS && b->slots[i] != NULL; i++)
		ExecDropSingleTupleTableSlot(b->slots[i]);
	MemoryContextDelete(b->batch_cxt);
	/* later statements of the refresh see the rows */
	CommandCounterIncrement();
	if (b->index_later)
		build_indexes(relid);
}
