/*
 * mem: the one allocation wrapper of the project (docs/conventions.md §7).
 *
 * Every heap allocation in fedbits goes through mem_alloc()/mem_calloc()/mem_realloc()
 * and is released with mem_free(), as Redis routes everything through zmalloc. They return
 * NULL on failure (including a size overflow in mem_calloc) and never abort; callers turn
 * NULL into -ERR_NOMEM. mem_free(NULL) is a no-op.
 *
 * Fault injection. So that tests can fail the N-th allocation and check that every path
 * cleans up (curl's torture mode, SQLite's OOM tests), mem keeps one process-wide atomic
 * countdown: mem_fault_arm(n) makes the n-th following allocation fail (n >= 1) and every
 * allocation after it succeed again. This countdown is the project's only mutable global
 * besides sim/'s signal flag; it is inert (a single relaxed atomic load) unless armed.
 * Allocations made by libraries (GSL, SQLite, libyaml) do not pass through here.
 */
#ifndef FEDBITS_BASE_MEM_H
#define FEDBITS_BASE_MEM_H

#include <stddef.h>

/* Allocation */
void *mem_alloc(size_t size);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *p, size_t size);
/* Returns an owned copy of s (free with mem_free), or NULL if out of memory. */
char *mem_strdup(const char *s);
void mem_free(void *p);

/*
 * Aligned allocation for vectors the codecs stream through (alignment a power of two,
 * at least sizeof(void *)); release with mem_free_aligned().
 */
void *mem_alloc_aligned(size_t alignment, size_t size);
void mem_free_aligned(void *p);

/* Fault injection (tests only) */
/* Makes the n-th allocation from now fail; n = 0 disarms. */
void mem_fault_arm(long n);
/* True when an armed fault has fired since the last mem_fault_arm(). */
int mem_fault_fired(void);

#endif
