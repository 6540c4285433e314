/*
 * sampling: Poisson sampling by geometric gaps. If each candidate joins with probability q,
 * the gaps between joiners are independent Geometric(q) counts of skipped candidates,
 * G = floor(log(1 - U) / log(1 - q)) for U uniform in [0, 1) (inversion of
 * P(G >= g) = (1 - q)^g; Devroye, "Non-Uniform Random Variate Generation", 1986, §X.2).
 */
#include "sim/sampling.h"

#include <math.h>

#include "base/banned.h"

size_t
sampling_poisson_capacity(size_t n, double q)
{
    double mean = (double)n * q;
    double cap = ceil(mean + 10.0 * sqrt(mean * (1.0 - q)) + 10.0);
    return cap >= (double)n ? n : (size_t)cap;
}

int
sampling_poisson(struct rng *r, uint32_t *idx, size_t n, double q, size_t cap, size_t *m,
                 struct errbuf *eb)
{
    if (!(q >= 0.0 && q <= 1.0))
        return errbuf_set(eb, -ERR_INVALID, "sampling rate %g is not in [0, 1]", q);
    size_t kept = 0;
    if (q > 0.0) {
        double log_miss = log1p(-q); /* -inf at q = 1: every gap is 0 */
        for (size_t i = 0;; i++) {
            double gap = floor(log1p(-rng_uniform(r)) / log_miss);
            if (!(gap < (double)(n - i))) /* the next joiner would be past the last candidate */
                break;
            i += (size_t)gap;
            if (kept == cap)
                return errbuf_set(eb, -ERR_RANGE,
                                  "a Poisson cohort of more than %zu of %zu clients at rate %g",
                                  cap, n, q);
            idx[kept++] = idx[i];
        }
    }
    *m = kept;
    return 0;
}
