/*
 * wallclock: the one module that reads the real clock (the documented exception of
 * docs/conventions.md §8).
 *
 * Simulated time never comes from here. The wall clock is used for progress display, for
 * the runs table's started_at/finished_at, and for throughput figures in benchmarks and
 * `fedbits dme` (wall time, or the thread's CPU time); none of it feeds back into a result.
 */
#ifndef FEDBITS_SIM_WALLCLOCK_H
#define FEDBITS_SIM_WALLCLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic nanoseconds since an arbitrary origin. */
int64_t wallclock_ns(void);
/*
 * CPU time of the calling thread in nanoseconds (CLOCK_THREAD_CPUTIME_ID): what a
 * benchmark of one thread's work should read on a machine it shares, since preemption does
 * not count.
 */
int64_t wallclock_thread_cpu_ns(void);
/* Writes the current UTC time as "2026-11-23T18:17:53Z" into out (>= 21 bytes). */
void wallclock_utc_iso8601(char *out, size_t out_len);

#endif
