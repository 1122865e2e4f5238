/*
 * json_mem.c: a counting, capped malloc for jansson (see json_mem.h). Plain malloc with a header
 * that stores the block's size, so free knows what to subtract: never palloc, because jansson may
 * free a value after the memory context that would have held it is reset.
 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "json/json_mem.h"

size_t		pgb_json_mem_cap = 0;
size_t		pgb_json_mem_live = 0;
size_t		pgb_json_mem_peak = 0;
bool		pgb_json_mem_refused = false;

/* The header keeps the block's payload aligned as malloc's would be. */
typedef union MemHeader
{
	size_t		size;
	max_align_t align;
} MemHeader;

void *
pgb_json_malloc(size_t size)
{
	MemHeader  *h;
	size_t		total;

	if (size > SIZE_MAX - sizeof(MemHeader))
		return NULL;
	total = size + sizeof(MemHeader);
	if (pgb_json_mem_cap > 0 && (total > pgb_json_mem_cap || pgb_json_mem_live > pgb_json_mem_cap - total))
	{
		pgb_json_mem_refused = true;
		return NULL;
	}
	h = malloc(total);
	if (h == NULL)
		return NULL;
	h->size = total;
	pgb_json_mem_live += total;
	if (pgb_json_mem_live > pgb_json_mem_peak)
		pgb_json_mem_peak = pgb_json_mem_live;
	return h + 1;
}

void
pgb_json_free(void *ptr)
{
	MemHeader  *h;

	if (ptr == NULL)
		return;
	h = (MemHeader *) ptr - 1;
	pgb_json_mem_live -= h->size;
	free(h);
}

void
pgb_json_mem_install(void)
{
	json_set_alloc_funcs(pgb_json_malloc, pgb_json_free);
}

void
pgb_json_mem_begin(size_t cap)
{
	pgb_json_mem_cap = cap;
	pgb_json_mem_refused = false;
	pgb_json_mem_peak = pgb_json_mem_live;
}
