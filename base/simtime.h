/*
 * simtime: simulated (virtual) time as an integer count of microseconds.
 *
 * Simulated time is never a double (docs/conventions.md §4): sums are exact, and the order of
 * events never depends on rounding. The resolution is one microsecond and the range of
 * int64_t covers about 292,000 years. Conversions from seconds round to the nearest tick
 * (ties away from zero) and saturate at SIMTIME_MAX, so a huge or infinite duration from a
 * model stays ordered after every finite one. Header-only: pure inline arithmetic.
 */
#ifndef FEDBITS_BASE_SIMTIME_H
#define FEDBITS_BASE_SIMTIME_H

#include <math.h>
#include <stdint.h>

#define SIMTIME_TICKS_PER_S INT64_C(1000000)
#define SIMTIME_MAX         INT64_MAX

/* Seconds to ticks, rounded to nearest and saturated to [0, SIMTIME_MAX]; NaN gives 0. */
static inline int64_t
simtime_from_s(double seconds)
{
    if (!(seconds > 0.0))
        return 0;
    double t = round(seconds * (double)SIMTIME_TICKS_PER_S);
    if (t >= 9.2e18)
        return SIMTIME_MAX;
    return (int64_t)t;
}

static inline double
simtime_to_s(int64_t t)
{
    return (double)t / (double)SIMTIME_TICKS_PER_S;
}

/* a + b saturated at SIMTIME_MAX (both non-negative). */
static inline int64_t
simtime_add(int64_t a, int64_t b)
{
    return a > SIMTIME_MAX - b ? SIMTIME_MAX : a + b;
}

#endif
