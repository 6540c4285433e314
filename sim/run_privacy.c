/*
 * run_privacy: central DP-FedAvg (McMahan, Ramage, Talwar, Zhang, ICLR 2018, Alg. 1 with
 * the fixed denominator of its "flat" estimator; docs/privacy.md). Each sampled client clips
 * its update to L2 norm S before sending it; the server sums the clipped updates with unit
 * weights, adds N(0, (z S)^2 I) from the round's own noise stream (RNG_PURPOSE_DP_NOISE) and
 * divides by the expected cohort q N, so one client changes the released sum by at most S
 * whatever the others did. The round's epsilon is that of the Poisson-subsampled Gaussian
 * composed over the rounds so far (sim/privacy_accountant.h), failed rounds included.
 */
#include "sim/run_int.h"

#include <math.h>

#include <gsl/gsl_randist.h>

#include "base/rng.h"
#include "base/banned.h"

int
run_privacy_init(struct run_world *w, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    struct run_privacy *dp = &w->dp;
    dp->on = s->privacy.mechanism == PRIVACY_CENTRAL;
    if (!dp->on)
        return 0;
    if (w->ds->n_clients != s->data.clients) /* the noise was derived for data.clients */
        return errbuf_set(eb, -ERR_INVALID,
                          "central DP: the dataset has %zu clients, not data.clients = %llu",
                          w->ds->n_clients, (unsigned long long)s->data.clients);
    dp->q = run_sync_poisson_rate(w);
    dp->clip = s->privacy.clip;
    dp->sd = s->privacy.noise_multiplier * s->privacy.clip;
    dp->denom = dp->q * (double)w->ds->n_clients;
    size_t n;
    const double *orders = privacy_accountant_orders(&n);
    for (size_t i = 0; i < n; i++) {
        int rc =
            privacy_accountant_rdp(dp->q, s->privacy.noise_multiplier, orders[i], &dp->rdp[i], eb);
        if (rc < 0)
            return errbuf_prefix(eb, "privacy accountant");
    }
    return 0;
}

void
run_privacy_clip(const struct run_world *w, float *u)
{
    double norm2 = 0.0;
    for (size_t i = 0; i < w->dim; i++)
        norm2 += (double)u[i] * (double)u[i];
    double norm = sqrt(norm2);
    if (norm <= w->dp.clip)
        return;
    float scale = (float)(w->dp.clip / norm);
    for (size_t i = 0; i < w->dim; i++)
        u[i] *= scale;
}

void
run_privacy_release(struct run_world *w, struct store_round *rec)
{
    const struct run_privacy *dp = &w->dp;
    rec->has_privacy = true;
    rec->clip_norm = dp->clip;
    rec->noise_std = dp->sd;
    double rdp[PRIVACY_ACCOUNTANT_N_ORDERS];
    size_t n;
    const double *orders = privacy_accountant_orders(&n);
    for (size_t i = 0; i < n; i++)
        rdp[i] = dp->rdp[i] * (double)rec->round; /* RDP adds over rounds */
    if (privacy_accountant_epsilon_of_rdp(orders, rdp, n, w->s->privacy.delta, &rec->epsilon, NULL,
                                          NULL) < 0)
        rec->epsilon = INFINITY;
    if (rec->failed)
        return; /* nothing released this round; the accountant still counts it */
    /* fedavg's mean of unit weights times their count is the sum of the clipped updates */
    double count = fedavg_weight(w->model.agg);
    struct rng r;
    rng_init_stream(&r, w->s->seed, RNG_PURPOSE_DP_NOISE, rec->round, RNG_ANY);
    gsl_rng *g = rng_gsl(&r);
    for (size_t i = 0; i < w->dim; i++) {
        double sum = (double)w->model.mean[i] * count + dp->sd * gsl_ran_gaussian_ziggurat(g, 1.0);
        w->model.mean[i] = (float)(sum / dp->denom);
    }
}
