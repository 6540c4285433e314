/* tdme: a small mean-estimation harness shared by the codec tests (see suites.h). */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

void
tdme_params(struct codec_params *p, enum codec_kind kind, double bits)
{
    codec_params_default(p);
    p->kind = kind;
    p->bits = bits;
}

uint64_t
tdme_fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(1099511628211);
    return h;
}

void
tdme_fill(float *x, size_t d, uint64_t seed, uint64_t key)
{
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_TEST, key, 0);
    for (size_t i = 0; i < d; i++)
        x[i] = (float)(gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0) + 0.25);
}

static void
tdme_draw(float *x, size_t d, enum tdme_dist dist, struct rng *r)
{
    for (size_t i = 0; i < d; i++) {
        double v = dist == TDME_NORMAL      ? gsl_ran_gaussian_ziggurat(rng_gsl(r), 1.0)
                   : dist == TDME_LOGNORMAL ? gsl_ran_lognormal(rng_gsl(r), 0.0, 1.0)
                                            : gsl_ran_exponential(rng_gsl(r), 1.0);
        x[i] = (float)v;
    }
}

struct tdme
tdme_run(const struct codec_params *p, size_t d, enum tdme_dist dist, size_t n, int same_vector,
         size_t trials, unsigned long seed)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(codec_params_check(p, d, &eb) == 0, "params rejected: %s", eb.msg);
    struct codec *c = codec_new(p, d);
    ck_assert_ptr_nonnull(c);
    size_t cap = codec_max_bytes(c), acc_len = codec_acc_len(c);
    float *xs = malloc(n * d * sizeof *xs);
    float *xhat = malloc(d * sizeof *xhat);
    float *mean = malloc(d * sizeof *mean);
    float *est = malloc(d * sizeof *est);
    float *acc = malloc(acc_len * sizeof *acc);
    uint8_t *msg = malloc(n * cap);
    size_t *len = malloc(n * sizeof *len);
    ck_assert(xs && xhat && mean && est && acc && msg && len);
    double sv = 0, sv2 = 0, sn = 0, sn2 = 0, bytes = 0;
    for (size_t t = 0; t < trials; t++) {
        double norms = 0;
        memset(mean, 0, d * sizeof *mean);
        memset(acc, 0, acc_len * sizeof *acc);
        for (size_t k = 0; k < n; k++) {
            float *x = xs + k * d;
            struct rng r;
            rng_init_stream(&r, seed, RNG_PURPOSE_TEST, t, same_vector ? RNG_ANY : k);
            tdme_draw(x, d, dist, &r);
            for (size_t i = 0; i < d; i++) {
                norms += (double)x[i] * x[i];
                mean[i] += x[i] / (float)n;
            }
            struct codec_link link = { .seed = seed, .round = t, .client = k };
            ck_assert_int_eq(codec_encode(c, msg + k * cap, cap, &len[k], x, &link, &eb), 0);
            bytes += (double)len[k];
            ck_assert_int_eq(
                codec_decode_add(c, acc, msg + k * cap, len[k], 1.0 / (double)n, &link, &eb), 0);
        }
        struct codec_link round_link = { .seed = seed, .round = t, .client = 0 };
        codec_decode_finish(c, est, acc, &round_link);
        double v = 0, err = 0;
        for (size_t k = 0; k < n; k++) {
            const float *x = xs + k * d;
            struct codec_link link = { .seed = seed, .round = t, .client = k };
            ck_assert_int_eq(codec_decode(c, xhat, msg + k * cap, len[k], &link, &eb), 0);
            double e2 = 0, x2 = 0;
            for (size_t i = 0; i < d; i++) {
                double e = (double)xhat[i] - x[i];
                e2 += e * e;
                x2 += (double)x[i] * x[i];
            }
            v += e2 / x2;
        }
        for (size_t i = 0; i < d; i++) {
            double e = (double)est[i] - mean[i];
            err += e * e;
        }
        v /= (double)n;
        double nm = err / (norms / (double)n);
        sv += v;
        sv2 += v * v;
        sn += nm;
        sn2 += nm * nm;
    }
    double T = (double)trials;
    struct tdme res = {
        .vnmse = sv / T,
        .vnmse_se = sqrt(fmax(0, (sv2 - sv * sv / T) / (T - 1)) / T),
        .nmse = sn / T,
        .nmse_se = sqrt(fmax(0, (sn2 - sn * sn / T) / (T - 1)) / T),
        .bytes = bytes / (T * (double)n),
    };
    codec_free(c);
    free(xs);
    free(xhat);
    free(mean);
    free(est);
    free(acc);
    free(msg);
    free(len);
    return res;
}
