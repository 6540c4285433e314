/*
 * run_ddp: distributed differential privacy inside secure aggregation (docs/privacy.md):
 * the distributed discrete Gaussian of Kairouz, Liu and Steinke ("The Distributed Discrete
 * Gaussian Mechanism for Federated Learning with Secure Aggregation", ICML 2021, Alg. 1-2)
 * and the Skellam mechanism of Agarwal, Kairouz and Liu (NeurIPS 2021, Alg. 1).
 *
 * Client (run_ddp_encode, called by run_secure.c in place of the fixed-point embedding):
 * its update x (the uplink codec is none, so exactly the trained update) is clipped to L2
 * norm c, rotated by the round's shared randomised Hadamard transform (codec/rht.h, signs
 * from RNG_PURPOSE_DDP_ROTATION keyed by the round alone, so every client and the server use
 * the same rotation), scaled by 1/gamma and rounded coordinate-wise to an integer up or down
 * with probability the fractional part, redrawn until its squared norm is at most the
 * bound of Kairouz et al., Thm. 1 (conditional randomised rounding; draws from
 * RNG_PURPOSE_DDP_ROUNDING); then N_Z(0, s2) (base/dgauss.h) or Sk(mu) (base/skellam.h)
 * noise is added per coordinate (RNG_PURPOSE_DDP_NOISE), and the vector is reduced modulo
 * 2^k, the ring the secure sum is taken in (privacy.ring_bits = k).
 *
 * Server (run_ddp_decode): the unmasked sum modulo 2^k is centred into [-2^(k-1), 2^(k-1)),
 * multiplied by gamma, rotated back, and divided by the number of clients in the sum (uniform
 * weights). The simulator also forms the exact integer sum of the same vectors and counts the
 * coordinates where the two differ: those wrapped around the ring (rounds.wrapped).
 *
 * Accounting (run_ddp_record): a round whose sum was released spends the RDP of
 * sim/privacy_distributed.h for the clients actually in the sum (their noise is all the sum
 * holds); a failed round releases nothing and spends nothing.
 */
#include "sim/run_int.h"

#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "base/skellam.h"
#include "codec/rht.h"
#include "base/banned.h"

/* Conditional rounding gives up on a client after this many draws (each succeeds with
 * probability at least 1 - beta, Kairouz et al. §4). */
#define RUN_DDP_MAX_TRIES 10000

static void
run_ddp_signs(const struct run_world *w, uint8_t *signs, uint64_t round)
{
    struct rng r;
    rng_init_stream(&r, w->s->seed, RNG_PURPOSE_DDP_ROTATION, round, RNG_ANY);
    rht_signs_draw(signs, w->ddp.len, &r);
}

int
run_ddp_init(struct run_world *w, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    struct run_ddp *d = &w->ddp;
    d->on = s->privacy.mechanism == PRIVACY_DDGAUSS || s->privacy.mechanism == PRIVACY_SKELLAM;
    if (!d->on)
        return 0;
    d->len = rht_padded_len(w->dim);
    d->bits = s->privacy.ring_bits;
    d->m = (struct privacy_distributed){
        .mechanism = s->privacy.mechanism,
        .clip = s->privacy.clip,
        .gamma = s->privacy.granularity,
        .beta = s->privacy.rounding_bias,
        .dim = (double)d->len,
        .clients = (double)s->train.clients_per_round,
        .noise = s->privacy.noise_multiplier,
    };
    int rc = privacy_distributed_calibrate(&d->m, s->privacy.granularity > 0 ? 0 : d->bits,
                                           (double)s->train.rounds, s->privacy.delta,
                                           s->privacy.target_epsilon, eb);
    double probe;
    if (rc == 0) /* the bound's own conditions (e.g. s2 >= 1/4) */
        rc = privacy_distributed_rdp(&d->m, 2.0, &probe, eb);
    if (rc < 0)
        return errbuf_prefix(eb, "privacy");
    d->bound2 = privacy_distributed_norm_bound(&d->m);
    d->bound2 *= d->bound2;
    d->local = privacy_distributed_local(&d->m);
    if (s->privacy.mechanism == PRIVACY_DDGAUSS) {
        rc = dgauss_init(&d->dg, d->local, eb);
        if (rc < 0)
            return errbuf_prefix(eb, "privacy: each client's noise");
        d->local = dgauss_sigma2(&d->dg); /* rounded up: account for what is sampled */
    }
    size_t sb = rht_sign_bytes(d->len);
    d->sum = mem_alloc(d->len * sizeof *d->sum);
    d->y = mem_alloc(d->len * sizeof *d->y);
    d->signs = mem_alloc(sb);
    if (d->sum == NULL || d->y == NULL || d->signs == NULL)
        goto nomem;
    for (unsigned t = 0; t < w->n_threads; t++) {
        w->th[t].ddp_x = mem_alloc(d->len * sizeof *w->th[t].ddp_x);
        w->th[t].ddp_signs = mem_alloc(sb);
        if (w->th[t].ddp_x == NULL || w->th[t].ddp_signs == NULL)
            goto nomem;
    }
    for (size_t i = 0; i < w->n_jobs; i++) {
        w->jobs[i].ddp_int = mem_alloc(d->len * sizeof *w->jobs[i].ddp_int);
        if (w->jobs[i].ddp_int == NULL)
            goto nomem;
    }
    return 0;
nomem:
    return errbuf_set(eb, -ERR_NOMEM, "out of memory for distributed DP");
}

void
run_ddp_release(struct run_world *w)
{
    if (w->th != NULL) {
        for (unsigned t = 0; t < w->n_threads; t++) {
            mem_free(w->th[t].ddp_x);
            mem_free(w->th[t].ddp_signs);
        }
    }
    if (w->jobs != NULL) {
        for (size_t i = 0; i < w->n_jobs; i++)
            mem_free(w->jobs[i].ddp_int);
    }
    mem_free(w->ddp.sum);
    mem_free(w->ddp.y);
    mem_free(w->ddp.signs);
}

void
run_ddp_encode(struct run_world *w, struct run_job *j, struct run_thread *th, const float *x)
{
    const struct run_ddp *d = &w->ddp;
    size_t len = d->len;
    run_ddp_signs(w, th->ddp_signs, j->stream);
    double norm = sqrt(rht_forward_from(th->ddp_x, x, w->dim, len, th->ddp_signs));
    double scale = (norm > d->m.clip ? d->m.clip / norm : 1.0) / d->m.gamma;
    int64_t *z = j->ddp_int;
    struct rng r;
    rng_init_stream(&r, w->s->seed, RNG_PURPOSE_DDP_ROUNDING, j->stream, j->client);
    int tries = 0;
    for (;; tries++) {
        if (tries == RUN_DDP_MAX_TRIES) {
            j->rc = errbuf_set(&j->eb, -ERR_RANGE,
                               "conditional rounding exceeded its norm bound %d times",
                               RUN_DDP_MAX_TRIES);
            return;
        }
        double norm2 = 0.0;
        for (size_t i = 0; i < len; i++) {
            double v = (double)th->ddp_x[i] * scale;
            double f = floor(v);
            double up = rng_uniform(&r) < v - f ? 1.0 : 0.0;
            z[i] = (int64_t)(f + up);
            norm2 += (f + up) * (f + up);
        }
        if (norm2 <= d->bound2)
            break;
    }
    struct rng n;
    rng_init_stream(&n, w->s->seed, RNG_PURPOSE_DDP_NOISE, j->stream, j->client);
    uint64_t mask = d->bits >= 64 ? UINT64_MAX : (UINT64_C(1) << d->bits) - 1;
    for (size_t i = 0; i < len; i++) {
        z[i] += d->m.mechanism == PRIVACY_DDGAUSS ? dgauss_sample(&d->dg, &n)
                                                  : skellam_sample(&n, d->local);
        j->ring[i] = (uint64_t)z[i] & mask;
    }
}

int
run_ddp_decode(struct run_world *w, const uint64_t *ring_sum, const bool *accepted, size_t included,
               struct errbuf *eb)
{
    struct run_ddp *d = &w->ddp;
    size_t len = d->len;
    memset(d->sum, 0, len * sizeof *d->sum);
    for (size_t k = 0; k < w->sec.sa_n; k++) {
        const struct run_job *j = &w->jobs[k];
        if (!accepted[k] || !run_owns(w, j))
            continue;
        for (size_t i = 0; i < len; i++)
            d->sum[i] += (uint64_t)j->ddp_int[i]; /* two's complement: exact while it fits */
    }
    int rc = cluster_sum_u64(w->cl, d->sum, len, eb);
    if (rc < 0)
        return rc;
    uint64_t half = UINT64_C(1) << (d->bits - 1);
    uint64_t wrapped = 0;
    for (size_t i = 0; i < len; i++) {
        int64_t c = ring_sum[i] >= half ? (int64_t)(ring_sum[i] - 2 * half) : (int64_t)ring_sum[i];
        wrapped += c != (int64_t)d->sum[i];
        d->y[i] = (float)((double)c * d->m.gamma);
    }
    run_ddp_signs(w, d->signs, w->open.round);
    rht_inverse(d->y, len, d->signs);
    for (size_t i = 0; i < w->dim; i++)
        w->model.mean[i] = (float)((double)d->y[i] / (double)included);
    d->round_n = included;
    d->wrapped = wrapped;
    return 0;
}

void
run_ddp_record(struct run_world *w, struct store_round *rec)
{
    struct run_ddp *d = &w->ddp;
    size_t n;
    const double *orders = privacy_accountant_orders(&n);
    rec->has_privacy = true;
    rec->clip_norm = d->m.clip;
    rec->noise_std = 0.0;
    if (!rec->failed) {
        struct privacy_distributed m = d->m;
        m.clients = (double)d->round_n;
        /* the noise actually sampled: n clients' local parameter, whatever z said */
        m.noise = sqrt(m.clients * (d->m.mechanism == PRIVACY_SKELLAM ? 2 * d->local : d->local)) *
                  m.gamma / m.clip;
        for (size_t i = 0; i < n; i++) {
            double r;
            if (privacy_distributed_rdp(&m, orders[i], &r, NULL) < 0)
                r = INFINITY;
            d->rdp[i] += r;
        }
        rec->noise_std = m.noise * m.clip;
        rec->has_wrapped = true;
        rec->wrapped = d->wrapped;
    }
    if (privacy_accountant_epsilon_of_rdp(orders, d->rdp, n, w->s->privacy.delta, &rec->epsilon,
                                          NULL, NULL) < 0)
        rec->epsilon = INFINITY;
}
