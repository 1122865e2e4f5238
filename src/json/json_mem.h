/*
 * json_mem.h: jansson's allocator, counted and capped. No server calls (the fuzz targets and unit
 * tests use it outside PostgreSQL).
 *
 * jansson allocates with malloc, outside PostgreSQL's memory accounting, and needs 40 to 76 times
 * a body's size for its values: an allocation-heavy body (many tiny objects) could take gigabytes
 * and bring the OOM killer onto the backend, which restarts the whole server. Every jansson
 * allocation goes through pgb_json_malloc, which counts the bytes live and refuses (returns NULL)
 * past pgb_json_mem_cap; jansson then gives up the parse with an error, frees what it built, and
 * the caller reports the response as too large to decode.
 */
#ifndef PGB_JSON_MEM_H
#define PGB_JSON_MEM_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes of jansson allocations allowed live at once (headers included); 0 = no cap. */
extern size_t pgb_json_mem_cap;
/* Bytes live now, and the most live since pgb_json_mem_begin. */
extern size_t pgb_json_mem_live;
extern size_t pgb_json_mem_peak;
/* Set when an allocation was refused for the cap since pgb_json_mem_begin. */
extern bool pgb_json_mem_refused;

/*
 * Makes jansson allocate through the counted functions. Must run before jansson allocates anything
 * in the process (the allocator of a block must be the one that frees it): _PG_init calls it.
 */
extern void pgb_json_mem_install(void);

/* Starts a measured operation: clears the refused flag and sets the peak to what is live now. */
extern void pgb_json_mem_begin(size_t cap);

extern void *pgb_json_malloc(size_t size);
extern void pgb_json_free(void *ptr);

#endif
