/*
 * layer_gnorm: group normalisation (Wu and He, "Group Normalization", ECCV 2018). See
 * layer.h.
 *
 * Per sample and group g of S = (c / groups) * h * w values: mu and sigma^2 (biased) over the
 * group, xhat = (x - mu) / sqrt(sigma^2 + eps) (eq. 1-2), y = gamma_c xhat + beta_c (§3.1).
 * The backward pass recomputes mu and sigma from x (nothing is kept between the passes):
 *   dgamma_c = sum dy xhat, dbeta_c = sum dy, and with g = gamma_c dy,
 *   dx = (g - mean(g) - xhat mean(g xhat)) / sqrt(sigma^2 + eps), means over the group.
 * Sums run in double in a fixed order.
 */
#include "clients/layer.h"

#include <math.h>
#include <string.h>

#include "base/banned.h"

#define LAYER_GNORM_EPS 1e-5

int
layer_gnorm_init(struct layer *l, struct layer_shape in, size_t groups, struct errbuf *eb)
{
    if (layer_shape_size(in) == 0 || groups == 0 || in.c % groups != 0)
        return errbuf_set(eb, -ERR_INVALID, "group norm: %zu groups do not divide %zu channels",
                          groups, in.c);
    *l = (struct layer){
        .kind = LAYER_GNORM,
        .in = in,
        .out = in,
        .groups = groups,
        .n_params = 2 * in.c,
    };
    return 0;
}

/* Mean and 1 / sqrt(variance + eps) of the S values at x. */
static void
layer_gnorm_stats(const float *x, size_t size, double *mean, double *rstd)
{
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < size; i++)
        sum += x[i];
    double mu = sum / (double)size;
    for (size_t i = 0; i < size; i++)
        sq += ((double)x[i] - mu) * ((double)x[i] - mu);
    *mean = mu;
    *rstd = 1.0 / sqrt(sq / (double)size + LAYER_GNORM_EPS);
}

void
layer_gnorm_forward(const struct layer *l, const float *w, const float *x, float *y, size_t n)
{
    size_t cg = l->in.c / l->groups, hw = l->in.h * l->in.w, size = cg * hw;
    const float *gamma = w, *beta = w + l->in.c;
    for (size_t s = 0; s < n * l->groups; s++) {
        const float *xg = x + s * size;
        float *yg = y + s * size;
        double mu, rstd;
        layer_gnorm_stats(xg, size, &mu, &rstd);
        size_t c0 = (s % l->groups) * cg;
        for (size_t c = 0; c < cg; c++)
            for (size_t p = 0; p < hw; p++) {
                double xhat = ((double)xg[c * hw + p] - mu) * rstd;
                yg[c * hw + p] = (float)(gamma[c0 + c] * xhat + beta[c0 + c]);
            }
    }
}

void
layer_gnorm_backward(const struct layer *l, const float *w, const float *x, const float *dy,
                     float *dx, float *dw, size_t n)
{
    size_t cg = l->in.c / l->groups, hw = l->in.h * l->in.w, size = cg * hw;
    const float *gamma = w;
    float *dgamma = dw, *dbeta = dw + l->in.c;
    memset(dw, 0, 2 * l->in.c * sizeof *dw);
    for (size_t s = 0; s < n * l->groups; s++) {
        const float *xg = x + s * size, *dyg = dy + s * size;
        double mu, rstd;
        layer_gnorm_stats(xg, size, &mu, &rstd);
        size_t c0 = (s % l->groups) * cg;
        double mg = 0.0, mgx = 0.0;
        for (size_t c = 0; c < cg; c++) {
            double dga = 0.0, dbe = 0.0;
            for (size_t p = 0; p < hw; p++) {
                double xhat = ((double)xg[c * hw + p] - mu) * rstd, d = dyg[c * hw + p];
                dga += d * xhat;
                dbe += d;
            }
            dgamma[c0 + c] += (float)dga;
            dbeta[c0 + c] += (float)dbe;
            mg += gamma[c0 + c] * dbe;
            mgx += gamma[c0 + c] * dga;
        }
        if (dx == NULL)
            continue;
        mg /= (double)size;
        mgx /= (double)size;
        float *dxg = dx + s * size;
        for (size_t c = 0; c < cg; c++)
            for (size_t p = 0; p < hw; p++) {
                double xhat = ((double)xg[c * hw + p] - mu) * rstd;
                double g = gamma[c0 + c] * (double)dyg[c * hw + p];
                dxg[c * hw + p] = (float)((g - mg - xhat * mgx) * rstd);
            }
    }
}
