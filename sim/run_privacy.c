/*
 * run_privacy: central DP-FedAvg (McMahan, Ramage, Talwar, Zhang, ICLR 2018, Alg. 1 with
 * the fixed denominator of its "flat" estimator; docs/privacy.md). Each sampled client clips
 * its update to L2 norm S before sending it; the server sums the clipped updates with unit
 * weights, adds N(0, (z S)^2 I) from the round's own noise stream (RNG_PURPOSE_DP_NOISE) and
 * divides by the expected cohort q N, so one client changes the released sum by at most S
 * whatever the others did. The round's epsilon is that of the Poisson-subsampled Gaussian
 * composed over the rounds so far (sim/privacy_accountant.h), failed rounds included.
 *
 * With privacy.adaptive.quantile the clip follows that quantile of the update norms (Andrew,
 * Thakkar, McMahan, Ramaswamy, NeurIPS 2021, Alg. 1; sim/adaptive_clip.h): the clients whose
 * update enters the sum also report whether it was within the clip, the server noises their
 * centred count from its own stream (RNG_PURPOSE_DP_COUNT) and moves the clip for the next
 * round; the update's noise multiplier is z_Δ, so the round spends exactly what z would.
 */
#include "sim/run_int.h"

#include <math.h>

#include <gsl/gsl_randist.h>

#include "base/rng.h"
#include "sim/adaptive_clip.h"
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
    dp->z = s->privacy.noise_multiplier;
    dp->denom = dp->q * (double)w->ds->n_clients;
    dp->adaptive = s->privacy.adaptive.quantile > 0;
    if (dp->adaptive &&
        adaptive_clip_noise_multiplier(s->privacy.noise_multiplier, s->privacy.adaptive.count_noise,
                                       &dp->z, eb) < 0)
        return errbuf_prefix(eb, "privacy.adaptive");
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

bool
run_privacy_clip(const struct run_world *w, float *u)
{
    double norm2 = 0.0;
    for (size_t i = 0; i < w->dim; i++)
        norm2 += (double)u[i] * (double)u[i];
    double norm = sqrt(norm2);
    if (norm <= w->dp.clip)
        return true;
    float scale = (float)(w->dp.clip / norm);
    for (size_t i = 0; i < w->dim; i++)
        u[i] *= scale;
    return false;
}

/*
 * The clip for the next round from this round's accepted updates (those that entered the sum,
 * on every rank alike: run_job.c shares each one's within-clip flag) and the count noise.
 */
static void
run_privacy_adapt(struct run_world *w, uint64_t round)
{
    size_t n = 0, within = 0;
    for (size_t k = 0; k < w->n_jobs; k++) {
        const struct run_job *j = &w->jobs[k];
        if (j->agg_weight > 0 && j->round == round) {
            n++;
            within += j->within_clip;
        }
    }
    const struct scenario *s = w->s;
    struct rng r;
    rng_init_stream(&r, s->seed, RNG_PURPOSE_DP_COUNT, round, RNG_ANY);
    double noise = s->privacy.adaptive.count_noise * gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0);
    double fraction = adaptive_clip_fraction(within, n, noise, w->dp.denom);
    w->dp.clip = adaptive_clip_next(w->dp.clip, fraction, s->privacy.adaptive.quantile,
                                    s->privacy.adaptive.lr);
}

void
run_privacy_release(struct run_world *w, struct store_round *rec)
{
    const struct run_privacy *dp = &w->dp;
    double sd = dp->z * dp->clip;
    rec->has_privacy = true;
    rec->clip_norm = dp->clip;
    rec->noise_std = sd;
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
        double sum = (double)w->model.mean[i] * count + sd * gsl_ran_gaussian_ziggurat(g, 1.0);
        w->model.mean[i] = (float)(sum / dp->denom);
    }
    if (dp->adaptive)
        run_privacy_adapt(w, rec->round);
}
