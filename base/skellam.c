/* skellam: two Poisson draws from the same stream, first minus second (base/skellam.h). */
#include "base/skellam.h"

#include <gsl/gsl_randist.h>

#include "base/banned.h"

int64_t
skellam_sample(struct rng *r, double mu)
{
    gsl_rng *g = rng_gsl(r);
    int64_t a = (int64_t)gsl_ran_poisson(g, mu);
    int64_t b = (int64_t)gsl_ran_poisson(g, mu);
    return a - b;
}
