/* mem: allocation wrapper with a fault-injection countdown. See mem.h. */
#include "base/mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/banned.h"

/*
 * The countdown of mem_fault_arm(): 0 is disarmed, otherwise the number of allocations
 * until the failing one. Global by necessity (every allocation site would otherwise need
 * a context argument); documented in mem.h as the one exception to "no globals".
 */
static _Atomic long mem_fault_countdown;
static _Atomic int mem_fault_has_fired;

static int
mem_fault_should_fail(void)
{
    long c = atomic_load_explicit(&mem_fault_countdown, memory_order_relaxed);
    if (c == 0)
        return 0;
    long left = atomic_fetch_sub(&mem_fault_countdown, 1) - 1;
    if (left == 0) {
        atomic_store(&mem_fault_has_fired, 1);
        return 1;
    }
    if (left < 0)
        atomic_store(&mem_fault_countdown, 0);
    return 0;
}

void *
mem_alloc(size_t size)
{
    if (mem_fault_should_fail())
        return NULL;
    return malloc(size == 0 ? 1 : size);
}

void *
mem_calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    if (mem_fault_should_fail())
        return NULL;
    return calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
}

void *
mem_realloc(void *p, size_t size)
{
    if (mem_fault_should_fail())
        return NULL;
    return realloc(p, size == 0 ? 1 : size);
}

char *
mem_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = mem_alloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void
mem_free(void *p)
{
    free(p);
}

void *
mem_alloc_aligned(size_t alignment, size_t size)
{
    if (mem_fault_should_fail())
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, alignment, size == 0 ? alignment : size) != 0)
        return NULL;
    return p;
}

void
mem_free_aligned(void *p)
{
    free(p);
}

void
mem_fault_arm(long n)
{
    atomic_store(&mem_fault_has_fired, 0);
    atomic_store(&mem_fault_countdown, n < 0 ? 0 : n);
}

int
mem_fault_fired(void)
{
    return atomic_load(&mem_fault_has_fired);
}
