/* quicfl: QUIC-FL with our own solved tables. See quicfl.h. */
#include "codec/quicfl.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/bitpack.h"
#include "base/le.h"
#include "base/mem.h"
#include "codec/codec_int.h"
#include "codec/packing.h"
#include "codec/quicfl_tables.h"
#include "codec/rht.h"
#include "codec/sround.h"
#include "base/banned.h"

#define QUICFL_GRID        (2 * QUICFL_GRID_HALF + 1)
#define QUICFL_MAX_X       (1u << QUICFL_MAX_BITS)
#define QUICFL_MAX_H       (1u << QUICFL_MAX_SHARED_BITS)
#define QUICFL_NO_H        0xffffu
#define QUICFL_HEADER      4
#define QUICFL_PAIR_BYTES  8
#define QUICFL_SOLVE_ITERS 4000
#define QUICFL_DEFAULT_P   (1.0 / 512.0)
#define QUICFL_POS_WORDS   4  /* the 16-wide encoder: up to 15 breakpoints per column, */
#define QUICFL_POS_COLS    64 /* up to 64 columns and 255 breakpoints */

/* One breakpoint of the sender walk: column h moves up one level when c passes c. */
struct quicfl_bp {
    double c;
    double jump; /* increase of the mean reconstruction, (R[x+1][h] - R[x][h]) / 2^ℓ */
    unsigned h;
};

struct quicfl {
    size_t d, D;
    unsigned bits, ell, nx, nh;
    double T, delta;
    size_t max_exact; /* bound on |E|: Σ z_i² = D and |z_i| > T on E give |E| < D/T² */
    enum codec_rotation rotation;
    double loss;
    bool portable;                        /* tests: no vector paths */
    bool no_avx512;                       /* tests: the AVX2 paths, not the AVX-512 ones */
    float R[QUICFL_MAX_X * QUICFL_MAX_H]; /* R[x * nh + h] */
    uint8_t *sx;                          /* QUICFL_GRID x nh base messages */
    uint16_t *fh;                         /* per grid point: the randomised column, or NO_H */
    float *fp;                            /* per grid point: its probability of moving up */
    /* The vector encoder's tables: per grid point, the walk position s (breakpoints applied)
     * << 17 | floor(fp·2^16); per s and h, the base level | 0x100 when h is bp[s]'s column. */
    uint32_t *coin2;
    uint16_t *lvl;
    /* The 16-wide encoder's table (when nbp <= 255 and nh <= 64, else unused): per word w
     * and column h, byte k of pos[w·nh + h] is the rank among the sorted breakpoints of
     * column h's breakpoint 4w + k (0xff beyond the nx − 1 of them). */
    uint32_t pos[QUICFL_POS_WORDS * QUICFL_POS_COLS];
    bool pos_ok;
    float *y;
    uint8_t *signs;
    uint8_t *hbuf;
    uint16_t *idx;
};

unsigned
quicfl_default_shared_bits(unsigned b)
{
    static const unsigned ell[QUICFL_MAX_BITS + 1] = { 0, 6, 5, 4, 4 };
    return b <= QUICFL_MAX_BITS ? ell[b] : 4;
}

int
quicfl_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    if (!(p->bits >= 1 && p->bits <= QUICFL_MAX_BITS) || p->bits != floor(p->bits))
        return errbuf_set(eb, -ERR_RANGE, "bits %g: codec 'quicfl' needs an integer in 1..%d",
                          p->bits, QUICFL_MAX_BITS);
    if (!(p->p > 0.0 && p->p < 1.0))
        return errbuf_set(eb, -ERR_RANGE, "p %g: QUIC-FL's exact fraction must be in (0, 1)", p->p);
    if (p->shared_bits > QUICFL_MAX_SHARED_BITS)
        return errbuf_set(eb, -ERR_RANGE, "shared_bits %u outside 0..%d (0 = default)",
                          p->shared_bits, QUICFL_MAX_SHARED_BITS);
    return 0;
}

static int
quicfl_bp_cmp(const void *a, const void *b)
{
    const struct quicfl_bp *u = a, *v = b;
    if (u->c != v->c)
        return u->c < v->c ? -1 : 1;
    return u->h < v->h ? -1 : u->h > v->h;
}

/* Sorts every column of R increasing (messages are labels, so this changes nothing). */
static void
quicfl_sort_columns(double *R, unsigned nx, unsigned nh)
{
    for (unsigned h = 0; h < nh; h++)
        for (unsigned i = 1; i < nx; i++)
            for (unsigned k = i; k > 0 && R[(k - 1) * nh + h] > R[k * nh + h]; k--) {
                double t = R[(k - 1) * nh + h];
                R[(k - 1) * nh + h] = R[k * nh + h];
                R[k * nh + h] = t;
            }
}

/* Builds and sorts the breakpoints; V[s] = mean reconstruction after s of them. */
static void
quicfl_walk(struct quicfl_bp *bp, double *V, const double *R, unsigned nx, unsigned nh)
{
    size_t n = 0;
    double g0 = 0;
    for (unsigned h = 0; h < nh; h++) {
        g0 += R[h];
        for (unsigned x = 0; x + 1 < nx; x++) {
            bp[n++] = (struct quicfl_bp){
                .c = 0.5 * (R[x * nh + h] + R[(x + 1) * nh + h]),
                .jump = (R[(x + 1) * nh + h] - R[x * nh + h]) / nh,
                .h = h,
            };
        }
    }
    qsort(bp, n, sizeof *bp, quicfl_bp_cmp);
    V[0] = g0 / nh;
    for (size_t s = 0; s < n; s++)
        V[s + 1] = V[s] + bp[s].jump;
}

/*
 * Sweeps the grid points z_j = (j - half)·delta in increasing order and calls back with the
 * sender's choice at each: cnt[h] = base level of column h, fh = randomised column or
 * QUICFL_NO_H, fp = its probability of moving up, c = the walk point (for the KKT update).
 */
struct quicfl_sweep {
    const struct quicfl_bp *bp;
    const double *V;
    size_t nbp;
    size_t done;
    unsigned cnt[QUICFL_MAX_H];
};

static void
quicfl_sweep_init(struct quicfl_sweep *sw, const struct quicfl_bp *bp, const double *V, size_t nbp)
{
    *sw = (struct quicfl_sweep){ .bp = bp, .V = V, .nbp = nbp };
}

/* Advances to z (non-decreasing across calls); returns fh, sets *fp and *c. */
static unsigned
quicfl_sweep_to(struct quicfl_sweep *sw, double z, double *fp, double *c, unsigned nh)
{
    const double *V = sw->V;
    size_t n = sw->nbp;
    /* e = the first entry whose completion reaches z; entries before it are applied. */
    size_t e = sw->done;
    while (e < n && V[e + 1] < z)
        e++;
    while (sw->done < e) {
        sw->cnt[sw->bp[sw->done].h]++;
        sw->done++;
    }
    if (z <= V[0]) {
        *fp = 0;
        *c = n > 0 ? sw->bp[0].c - (V[0] - z) : z;
        return QUICFL_NO_H;
    }
    if (e == n) {
        *fp = 0;
        *c = n > 0 ? sw->bp[n - 1].c + (z - V[n]) : z;
        return QUICFL_NO_H;
    }
    double span = V[e + 1] - V[e];
    *fp = span > 0 ? (z - V[e]) / span : 0.0;
    *c = sw->bp[e].c;
    return sw->bp[e].h;
}

/*
 * One evaluation of the mean squared error F(R) over the grid (R's columns are sorted
 * first) and of its gradient: by the envelope theorem, dF/dR[x][h] =
 * 2·Σ_j w_j P(x | z_j, h)(R[x][h] − c(z_j)), with the sender fixed at its optimum.
 */
static double
quicfl_table_eval(double *R, double *grad, unsigned nx, unsigned nh, double delta,
                  struct quicfl_bp *bp, double *V, double *num, double *den)
{
    size_t nbp = (size_t)nh * (nx - 1);
    quicfl_sort_columns(R, nx, nh);
    quicfl_walk(bp, V, R, nx, nh);
    memset(num, 0, (size_t)nx * nh * sizeof *num);
    memset(den, 0, (size_t)nx * nh * sizeof *den);
    struct quicfl_sweep sw;
    quicfl_sweep_init(&sw, bp, V, nbp);
    double err = 0;
    for (int j = -QUICFL_GRID_HALF; j <= QUICFL_GRID_HALF; j++) {
        double z = j * delta;
        double w = gsl_ran_ugaussian_pdf(z) * delta / nh;
        double fp, c;
        unsigned fh = quicfl_sweep_to(&sw, z, &fp, &c, nh);
        for (unsigned h = 0; h < nh; h++) {
            unsigned x = sw.cnt[h];
            double pu = h == fh ? fp : 0.0;
            double r0 = R[x * nh + h] - z;
            err += w * (1 - pu) * r0 * r0;
            num[x * nh + h] += w * (1 - pu) * c;
            den[x * nh + h] += w * (1 - pu);
            if (pu > 0) {
                double r1 = R[(x + 1) * nh + h] - z;
                err += w * pu * r1 * r1;
                num[(x + 1) * nh + h] += w * pu * c;
                den[(x + 1) * nh + h] += w * pu;
            }
        }
    }
    for (size_t k = 0; k < (size_t)nx * nh; k++)
        grad[k] = 2.0 * (den[k] * R[k] - num[k]);
    return err;
}

/*
 * Keeps every z in [-T, T] reachable without bias: the mean over h of the lowest (highest)
 * level must be at most -T (at least T); the extreme rows are shifted by the shortfall,
 * the least-squares projection onto that constraint.
 */
static void
quicfl_table_project(double *R, unsigned nx, unsigned nh, double T)
{
    quicfl_sort_columns(R, nx, nh);
    double lo = 0, hi = 0;
    for (unsigned h = 0; h < nh; h++) {
        lo += R[h];
        hi += R[(nx - 1) * nh + h];
    }
    lo /= nh;
    hi /= nh;
    for (unsigned h = 0; h < nh; h++) {
        if (lo > -T)
            R[h] -= lo + T;
        if (hi < T)
            R[(nx - 1) * nh + h] += T - hi;
    }
}

double
quicfl_table_solve(double *R, unsigned b, unsigned ell, double p, int iters)
{
    unsigned nx = 1u << b, nh = 1u << ell;
    size_t nr = (size_t)nx * nh;
    double T = gsl_cdf_ugaussian_Qinv(p / 2.0);
    double delta = T / QUICFL_GRID_HALF;
    size_t nbp = (size_t)nh * (nx - 1);
    struct quicfl_bp *bp = mem_alloc(nbp * sizeof *bp);
    double *V = mem_alloc((nbp + 1) * sizeof *V);
    double *work = mem_alloc(5 * nr * sizeof *work);
    if (bp == NULL || V == NULL || work == NULL) {
        mem_free(bp);
        mem_free(V);
        mem_free(work);
        return -1.0;
    }
    double *num = work, *den = work + nr, *grad = work + 2 * nr, *gtry = work + 3 * nr;
    double *Rtry = work + 4 * nr;
    if (iters <= 0)
        iters = QUICFL_SOLVE_ITERS;
    /* Start: evenly spaced levels over [-T, T], column h shifted by (h + 1/2)/2^ℓ − 1/2. */
    double spacing = 2.0 * T / (nx - 1);
    for (unsigned x = 0; x < nx; x++)
        for (unsigned h = 0; h < nh; h++)
            R[x * nh + h] = -T + (x + (h + 0.5) / nh - 0.5) * spacing;
    /* Projected gradient descent with a backtracking step. */
    double f = quicfl_table_eval(R, grad, nx, nh, delta, bp, V, num, den);
    double step = 1.0;
    for (int it = 0; it < iters && step > 1e-12; it++) {
        for (size_t k = 0; k < nr; k++)
            Rtry[k] = R[k] - step * grad[k];
        quicfl_table_project(Rtry, nx, nh, T);
        double ft = quicfl_table_eval(Rtry, gtry, nx, nh, delta, bp, V, num, den);
        if (ft < f) {
            memcpy(R, Rtry, nr * sizeof *R);
            memcpy(grad, gtry, nr * sizeof *grad);
            f = ft;
            step *= 1.5;
        } else {
            step *= 0.5;
        }
    }
    quicfl_sort_columns(R, nx, nh);
    mem_free(bp);
    mem_free(V);
    mem_free(work);
    return f;
}

/* Builds the sender tables from q->R. Returns 0 or -1 on OOM. */
static int
quicfl_build_sender(struct quicfl *q, const double *R)
{
    unsigned nx = q->nx, nh = q->nh;
    size_t nbp = (size_t)nh * (nx - 1);
    struct quicfl_bp *bp = mem_alloc(nbp * sizeof *bp);
    double *V = mem_alloc((nbp + 1) * sizeof *V);
    if (bp == NULL || V == NULL) {
        mem_free(bp);
        mem_free(V);
        return -1;
    }
    quicfl_walk(bp, V, R, nx, nh);
    struct quicfl_sweep sw;
    quicfl_sweep_init(&sw, bp, V, nbp);
    for (size_t g = 0; g < QUICFL_GRID; g++) {
        double z = ((double)g - QUICFL_GRID_HALF) * q->delta;
        double fp, c;
        unsigned fh = quicfl_sweep_to(&sw, z, &fp, &c, nh);
        for (unsigned h = 0; h < nh; h++)
            q->sx[g * nh + h] = (uint8_t)sw.cnt[h];
        q->fh[g] = (uint16_t)fh;
        q->fp[g] = (float)fp;
        uint32_t t16 = (uint32_t)(int64_t)((double)q->fp[g] * 0x1p16); /* sround_coin_with() */
        q->coin2[g] = (uint32_t)sw.done << 17 | t16;
    }
    /* lvl[s·nh + h]: column h's level after the first s breakpoints, and whether the next
     * one (the randomised column at the grid points with s applied) is column h. When
     * s = 0 or nbp with no randomised column, fp = 0 and the flag moves nothing. */
    unsigned cnt[QUICFL_MAX_H] = { 0 };
    q->pos_ok = nbp <= 0xff && nh <= QUICFL_POS_COLS;
    if (q->pos_ok)
        memset(q->pos, 0xff, sizeof q->pos);
    for (size_t k = 0; k <= nbp; k++) {
        for (unsigned h = 0; h < nh; h++)
            q->lvl[k * nh + h] = (uint16_t)(cnt[h] | (k < nbp && bp[k].h == h ? 0x100u : 0));
        if (k < nbp && q->pos_ok) {
            unsigned h = bp[k].h, x = cnt[h];
            uint32_t *w = &q->pos[x / 4 * nh + h];
            *w = (*w & ~(UINT32_C(0xff) << 8 * (x % 4))) | (uint32_t)k << 8 * (x % 4);
        }
        if (k < nbp)
            cnt[bp[k].h]++;
    }
    mem_free(bp);
    mem_free(V);
    return 0;
}

struct quicfl *
quicfl_new(const struct codec_params *p, size_t dim)
{
    struct quicfl *q = mem_calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    double R[QUICFL_MAX_X * QUICFL_MAX_H];
    q->d = dim;
    q->D = rht_padded_len(dim);
    q->bits = (unsigned)p->bits;
    q->ell = p->shared_bits != 0 ? p->shared_bits : quicfl_default_shared_bits(q->bits);
    q->nx = 1u << q->bits;
    q->nh = 1u << q->ell;
    q->T = gsl_cdf_ugaussian_Qinv(p->p / 2.0);
    q->delta = q->T / QUICFL_GRID_HALF;
    /* 0.1 % and one spare entry absorb float rounding of Σ z_i² around D. */
    q->max_exact = (size_t)((double)q->D * 1.001 / (q->T * q->T)) + 1;
    if (q->max_exact > q->D)
        q->max_exact = q->D;
    q->rotation = p->rotation;
    q->loss = p->packet_loss;
    const double *builtin =
        p->p == QUICFL_DEFAULT_P ? quicfl_tables_builtin(q->bits, q->ell) : NULL;
    if (builtin != NULL)
        memcpy(R, builtin, (size_t)q->nx * q->nh * sizeof *R);
    else if (quicfl_table_solve(R, q->bits, q->ell, p->p, 0) < 0)
        goto fail;
    for (size_t k = 0; k < (size_t)q->nx * q->nh; k++)
        q->R[k] = (float)R[k];
    /* 4 and 1 spare entries: the encoder's gathers read 32 bits at the last entry */
    q->sx = mem_calloc((size_t)QUICFL_GRID * q->nh + 4, 1);
    q->fh = mem_calloc(QUICFL_GRID + 1, sizeof *q->fh);
    q->fp = mem_alloc(QUICFL_GRID * sizeof *q->fp);
    q->coin2 = mem_alloc(QUICFL_GRID * sizeof *q->coin2);
    /* one spare entry: the encoder's gathers read 32 bits at the last one */
    q->lvl = mem_calloc((size_t)q->nh * (q->nx - 1) * q->nh + q->nh + 1, sizeof *q->lvl);
    q->y = mem_alloc_aligned(64, q->D * sizeof *q->y);
    q->signs = mem_alloc(rht_sign_bytes(q->D));
    q->hbuf = mem_alloc(q->D);
    q->idx = mem_alloc(q->D * sizeof *q->idx);
    if (q->sx == NULL || q->fh == NULL || q->fp == NULL || q->coin2 == NULL || q->lvl == NULL ||
        q->y == NULL || q->signs == NULL || q->hbuf == NULL || q->idx == NULL)
        goto fail;
    if (quicfl_build_sender(q, R) < 0)
        goto fail;
    return q;
fail:
    quicfl_free(q);
    return NULL;
}

void
quicfl_free(struct quicfl *q)
{
    if (q == NULL)
        return;
    mem_free(q->sx);
    mem_free(q->fh);
    mem_free(q->fp);
    mem_free(q->coin2);
    mem_free(q->lvl);
    mem_free_aligned(q->y);
    mem_free(q->signs);
    mem_free(q->hbuf);
    mem_free(q->idx);
    mem_free(q);
}

static size_t
quicfl_payload_bytes(const struct quicfl *q)
{
    return bitpack_bytes(q->D, q->bits);
}

size_t
quicfl_max_bytes(const struct quicfl *q)
{
    return QUICFL_HEADER + quicfl_payload_bytes(q) + QUICFL_PAIR_BYTES * q->max_exact;
}

size_t
quicfl_acc_len(const struct quicfl *q)
{
    return q->rotation == CODEC_ROTATION_SHARED ? q->D : q->d;
}

static void
quicfl_draw_shared(struct quicfl *q, const struct codec_link *link)
{
    /* the key of codec_shared_stream(link, q->rotation): its signs, drawn in bulk */
    struct rng_key key;
    uint64_t client = q->rotation == CODEC_ROTATION_SHARED ? RNG_ANY : link->client;
    rng_key_derive(&key, link->seed, RNG_PURPOSE_CODEC_SHARED, link->round, client);
    rht_signs_draw_key(q->signs, q->D, &key);
    struct rng r;
    codec_shared_stream(&r, link, CODEC_ROTATION_PER_CLIENT);
    rng_fast_bytes(&r, q->hbuf, q->D);
}

/* A float threshold: |y| <= it gives |z| = |sc·y| < T after rounding (sc >= 0; with sc = 0
 * every z is 0). */
static float
quicfl_exact_thr(const struct quicfl *q, double sc)
{
    double thr_d = sc > 0 ? q->T / sc * (1.0 - 0x1p-40) : 0.0;
    float thr_f = (float)thr_d;
    if ((double)thr_f > thr_d)
        thr_f = nextafterf(thr_f, 0.0f);
    return thr_f;
}

/* The message of a coordinate with |z| <= T, from its column h and its two 16-bit draws
 * (r settles ties, in this order): the grid cell's coin, then the column's. */
static inline uint16_t
quicfl_quantise(const struct quicfl *q, double z, unsigned h, uint16_t rd1, uint16_t rd2,
                struct rng *r)
{
    double t = z / q->delta + QUICFL_GRID_HALF;
    double fl = (double)(uint64_t)t; /* floor: t >= 0 since |z| <= T */
    size_t g = (size_t)fl;
    g += sround_coin_with(t - fl, rd1, r);
    if (g >= QUICFL_GRID)
        g = QUICFL_GRID - 1;
    unsigned m = q->sx[g * q->nh + h];
    m += (h == q->fh[g]) & sround_coin_with(q->fp[g], rd2, r); /* the coin is always drawn */
    return (uint16_t)m;
}

/* Appends the exact coordinate (i, z) at out + *off. */
static int
quicfl_put_exact(const struct quicfl *q, uint8_t *out, size_t cap, size_t base, size_t *off,
                 size_t i, double z, struct errbuf *eb)
{
    if (*off + QUICFL_PAIR_BYTES > cap || (*off - base) / QUICFL_PAIR_BYTES >= q->max_exact)
        return errbuf_set(eb, -ERR_RANGE, "quicfl: buffer of %zu bytes too small", cap);
    le_store32(out + *off, (uint32_t)i);
    codec_put_f32(out + *off + 4, (float)z);
    *off += QUICFL_PAIR_BYTES;
    return 0;
}

/*
 * The encoder's loop from coordinate i, eight coordinates a step, taking the 16-bit draws
 * sr->buf[sr->pos..] (two coins per coordinate, in order) while the batch holds a step's
 * sixteen. It needs, per coordinate, floor(t·2^16) of t = z/δ + GRID_HALF (the grid cell
 * fl = floor(t) in the high bits, the first coin's threshold floor(frac(t)·2^16) in the
 * low 16). The division is replaced by one fused multiply-add rounding to an integer,
 * R = round(y·(sc·(1/δ)·2^32) + GRID_HALF·2^32) (a magic constant puts the ulp at 1), within
 * 0.52 of t·2^32 (five roundings of relative size 2^-53 on values below 2^46 besides the
 * last), so floor(t·2^16) = R >> 16 whenever R mod 2^16 is neither 0 nor 2^16 − 1 (t >= 0).
 * The loop stops at the first lane where that fails, or that may be exact (|y| above a
 * float threshold just below T/sc), or whose coin would tie, keeping the lanes before it,
 * and returns the coordinates done; the caller takes the next *nscalar coordinates the
 * portable way. The same messages as the portable loop, bit for bit.
 */
__attribute__((target("avx2,fma"))) static size_t
quicfl_steps_avx2(const struct quicfl *q, size_t i0, double sc, struct sround_rand *sr,
                  size_t *nscalar)
{
    /* v = y·K + C + M rounds to an integer R = v − M (M = 1.5·2^52 puts the ulp at 1) */
    const __m256d vk = _mm256_set1_pd(sc * (1.0 / q->delta) * 0x1p32);
    const __m256d vc = _mm256_set1_pd(QUICFL_GRID_HALF * 0x1p32 + 0x1.8p52);
    const __m256i magic = _mm256_set1_epi64x(INT64_C(0x4338000000000000)); /* bits of M */
    const __m256i one64 = _mm256_set1_epi64x(1), mid16 = _mm256_set1_epi64x(0xfffe);
    const __m256 thr = _mm256_set1_ps(quicfl_exact_thr(q, sc));
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i top = _mm256_set1_epi32(QUICFL_GRID - 1);
    const __m256i hmask = _mm256_set1_epi32((int)q->nh - 1);
    const __m256i lo16 = _mm256_set1_epi32(0xffff), lo8 = _mm256_set1_epi32(0xff);
    const __m256i lo17 = _mm256_set1_epi32(0x1ffff), one = _mm256_set1_epi32(1);
    const __m128i ell = _mm_cvtsi32_si128((int)q->ell);
    const float *y = q->y;
    const uint8_t *hbuf = q->hbuf;
    const uint32_t *coin2 = q->coin2;
    const uint16_t *lvl = q->lvl, *rnd = sr->buf;
    uint16_t *idx = q->idx;
    size_t i = i0, pos = sr->pos, D = q->D;
    unsigned bad = 0;
    for (; i + 8 <= D && pos + 16 <= SROUND_BATCH; i += 8, pos += 16) {
        __m256 yv = _mm256_loadu_ps(y + i);
        __m256i R0 = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_fmadd_pd(
                                          _mm256_cvtps_pd(_mm256_castps256_ps128(yv)), vk, vc)),
                                      magic);
        __m256i R1 = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_fmadd_pd(
                                          _mm256_cvtps_pd(_mm256_extractf128_ps(yv, 1)), vk, vc)),
                                      magic);
        /* R's low 16 bits 0 or 0xffff: too near a multiple of 2^16, no certificate */
        __m256i near0 = _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_add_epi64(R0, one64), mid16),
                                           _mm256_setzero_si256());
        __m256i near1 = _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_add_epi64(R1, one64), mid16),
                                           _mm256_setzero_si256());
        unsigned bad0 = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(near0)) |
                        (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(near1)) << 4;
        /* F = R >> 16 = floor(t·2^16), the eight low 32-bit halves in lane order */
        __m256 Fs = _mm256_shuffle_ps(_mm256_castsi256_ps(_mm256_srli_epi64(R0, 16)),
                                      _mm256_castsi256_ps(_mm256_srli_epi64(R1, 16)),
                                      _MM_SHUFFLE(2, 0, 2, 0));
        __m256i F = _mm256_permute4x64_epi64(_mm256_castps_si256(Fs), _MM_SHUFFLE(3, 1, 2, 0));
        __m256i t16 = _mm256_and_si256(F, lo16);
        /* lane k: draw 2k (first coin) low, draw 2k + 1 (second coin) high */
        __m256i rv = _mm256_loadu_si256((const __m256i *)(const void *)(rnd + pos));
        __m256i rd1 = _mm256_and_si256(rv, lo16), rd2 = _mm256_srli_epi32(rv, 16);
        __m256i flag = _mm256_or_si256(
            _mm256_castps_si256(_mm256_cmp_ps(_mm256_andnot_ps(sign, yv), thr, _CMP_GT_OQ)),
            _mm256_cmpeq_epi32(rd1, t16));
        unsigned bad1 = bad0 | (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(flag));
        /* g = min(fl + heads, top), in [0, top] even in a troublesome lane (F < 0 is large
         * unsigned); heads (rd1 < t16) is -1 in the compare */
        __m256i g = _mm256_min_epi32(
            _mm256_sub_epi32(_mm256_srli_epi32(F, 16), _mm256_cmpgt_epi32(t16, rd1)), top);
        __m256i h = _mm256_and_si256(
            _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(hbuf + i))),
            hmask);
        __m256i c2 = _mm256_i32gather_epi32((const int *)(const void *)coin2, g, 4);
        __m256i t16b = _mm256_and_si256(c2, lo17);
        bad =
            bad1 | (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(rd2, t16b)));
        __m256i cell = _mm256_add_epi32(_mm256_sll_epi32(_mm256_srli_epi32(c2, 17), ell), h);
        __m256i lv = _mm256_i32gather_epi32((const int *)(const void *)lvl, cell, 2);
        __m256i up = _mm256_and_si256(_mm256_srli_epi32(lv, 8), _mm256_cmpgt_epi32(t16b, rd2));
        __m256i m = _mm256_add_epi32(_mm256_and_si256(lv, lo8), _mm256_and_si256(up, one));
        _mm_storeu_si128(
            (__m128i *)(void *)(idx + i),
            _mm_packus_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1)));
        if (bad != 0) {
            /* the lanes before the first troublesome one are done (their draws come first) */
            unsigned done = (unsigned)__builtin_ctz(bad);
            i += done;
            pos += 2 * done;
            break;
        }
    }
    sr->pos = pos;
    *nscalar = 1;
    return i - i0;
}

/* The 16-bit draws of the 16-wide encoder: buf[pos..fill) the next ones of the stream's fast
 * keystream, refilled SROUND_BATCH at a time (whole blocks) behind what is left. */
struct quicfl_coins {
    struct rng *r;
    size_t pos, fill;
    uint16_t buf[SROUND_BATCH + 32];
};

/* Makes at least n <= 32 draws available at buf + pos. */
static inline void
quicfl_coins_need(struct quicfl_coins *cs, size_t n)
{
    if (cs->pos + n <= cs->fill)
        return;
    size_t rem = cs->fill - cs->pos;
    memmove(cs->buf, cs->buf + cs->pos, rem * sizeof *cs->buf);
    rng_fast_u16s(cs->r, cs->buf + rem, SROUND_BATCH);
    cs->pos = 0;
    cs->fill = rem + SROUND_BATCH;
}

/* The payload written in coordinate order, LSB-first (bitpack's layout): acc holds the
 * n < 32 bits not yet stored at p. */
struct quicfl_bits {
    uint8_t *p;
    uint64_t acc;
    unsigned n;
};

/* Appends the k <= 32 bits v (nothing above them set). */
static inline void
quicfl_bits_put(struct quicfl_bits *w, uint64_t v, unsigned k)
{
    w->acc |= v << w->n;
    w->n += k;
    if (w->n >= 32) {
        le_store32(w->p, (uint32_t)w->acc);
        w->p += 4;
        w->acc >>= 32;
        w->n -= 32;
    }
}

/* Appends the k <= 64 bits v. */
static inline void
quicfl_bits_put64(struct quicfl_bits *w, uint64_t v, unsigned k)
{
    if (k > 32) {
        quicfl_bits_put(w, v & UINT32_MAX, 32);
        v >>= 32;
        k -= 32;
    }
    quicfl_bits_put(w, v, k);
}

/* Stores the last bits (whole bytes, zeros above). */
static void
quicfl_bits_flush(struct quicfl_bits *w)
{
    for (; w->n > 0; w->n = w->n > 8 ? w->n - 8 : 0, w->acc >>= 8)
        *w->p++ = (uint8_t)w->acc;
}

/* Coordinate i of the 16-wide encoder the portable way (an exact one draws nothing). */
static int
quicfl_encode_one(struct quicfl *q, size_t i, double sc, struct quicfl_coins *cs,
                  struct quicfl_bits *w, uint8_t *out, size_t cap, size_t base, size_t *off,
                  struct errbuf *eb)
{
    double z = sc * q->y[i];
    if (fabs(z) > q->T) {
        quicfl_bits_put(w, 0, q->bits);
        return quicfl_put_exact(q, out, cap, base, off, i, z, eb);
    }
    quicfl_coins_need(cs, 2);
    const uint16_t *rd = cs->buf + cs->pos;
    quicfl_bits_put(w, quicfl_quantise(q, z, q->hbuf[i] & (q->nh - 1), rd[0], rd[1], cs->r),
                    q->bits);
    cs->pos += 2;
    return 0;
}

/*
 * Column h's message for walk position s' (16 lanes; AVX-512F, BW and VNNI): the number of
 * its breakpoints ranked below s', from the byte ranks of q->pos in `nw` words held in
 * tab[w·nreg ..] (nreg registers of 16 columns each). With s' = s + the column coin, this
 * is lvl[s·nh + h]'s level plus the coin where lvl's flag is set (the rank s is column h's
 * next breakpoint exactly when the flag is).
 */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline __m512i
quicfl_rank16(const __m512i *tab, unsigned nw, unsigned nreg, __m512i h, __m512i s1)
{
    /* s' in every byte of its lane */
    const __m512i bcast = _mm512_set4_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0x00000000);
    const __m512i ones8 = _mm512_set1_epi8(1), bit5 = _mm512_set1_epi32(32);
    __m512i sb = _mm512_shuffle_epi8(s1, bcast), m = _mm512_setzero_si512();
    for (unsigned w = 0; w < nw; w++) {
        const __m512i *t = tab + w * nreg;
        __m512i p = nreg == 1   ? _mm512_permutexvar_epi32(h, t[0])
                    : nreg == 2 ? _mm512_permutex2var_epi32(t[0], h, t[1])
                                : _mm512_mask_blend_epi32(_mm512_test_epi32_mask(h, bit5),
                                                          _mm512_permutex2var_epi32(t[0], h, t[1]),
                                                          _mm512_permutex2var_epi32(t[2], h, t[3]));
        /* byte k: 1 when rank < s' (ranks and s' <= 255; unused bytes 0xff give 0) */
        __m512i below = _mm512_min_epu8(_mm512_subs_epu8(sb, p), ones8);
        m = _mm512_dpbusd_epi32(m, below, ones8);
    }
    return m;
}

/*
 * quicfl_steps_avx2() on 16 coordinates a step, the whole loop from coordinate 0: the
 * same rounding, certificate and troublesome lanes (found by one test of a vector that is
 * zero in them, the mask itself only when some lane is), the second table looked up from
 * registers (quicfl_rank16()) instead of gathered, the fields packed as they come
 * (no index pass), and a troublesome coordinate taken the portable way in the loop.
 * Returns what quicfl_encode() would (payload through w, exact list at out + *off).
 */
__attribute__((target("avx512f,avx512bw,avx512vnni,fma,bmi2"), always_inline)) static inline int
quicfl_encode16_kernel(struct quicfl *q, double sc, struct quicfl_coins *cs, struct quicfl_bits *w,
                       uint8_t *out, size_t cap, size_t base, size_t *off, struct errbuf *eb,
                       unsigned nbits, unsigned nreg)
{
    const unsigned nw = ((1u << nbits) - 1 + 3) / 4;
    const __m512d vk = _mm512_set1_pd(sc * (1.0 / q->delta) * 0x1p32);
    const __m512d vc = _mm512_set1_pd(QUICFL_GRID_HALF * 0x1p32 + 0x1.8p52);
    /* the bits of M, less 1: subtracted from v's bits, they give A = R + 1 */
    const __m512i magic1 = _mm512_set1_epi64(INT64_C(0x4338000000000000) - 1);
    const __m512i mid16 = _mm512_set1_epi64(0xfffe);
    const __m512i evens =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    /* |y| > thr (may be exact) when the bits of |y| minus those of thr, minus 1, are >= 0 */
    float thr_f = quicfl_exact_thr(q, sc);
    uint32_t thr_bits;
    memcpy(&thr_bits, &thr_f, sizeof thr_bits);
    const __m512i thr1 = _mm512_set1_epi32((int)(thr_bits + 1));
    const __m512i abs31 = _mm512_set1_epi32(0x7fffffff);
    const __m512i top = _mm512_set1_epi32(QUICFL_GRID - 1);
    const unsigned q_nh = q->nh;
    const __m512i hmask = _mm512_set1_epi32((int)q_nh - 1);
    const __m512i lo16 = _mm512_set1_epi32(0xffff), lo17 = _mm512_set1_epi32(0x1ffff);
    const __m512i one = _mm512_set1_epi32(1);
    __m512i tab[QUICFL_POS_WORDS * 4];
    for (unsigned j = 0; j < nw; j++)
        for (unsigned k = 0; k < nreg; k++)
            tab[j * nreg + k] = _mm512_loadu_si512(q->pos + j * q->nh + 16 * k);
    const float *y = q->y;
    const uint8_t *hbuf = q->hbuf;
    const uint32_t *coin2 = q->coin2;
    /* bit 0 of every field: bits 0, b, 2b, ... of 16 fields */
    uint64_t spread = 0;
    for (unsigned k = 0; k < 16; k++)
        spread |= UINT64_C(1) << (k * nbits);
    size_t i = 0, D = q->D;
    struct quicfl_bits wl = *w; /* in registers in the loop */
    while (i < D) {
        size_t pos = cs->pos, fill = cs->fill;
        unsigned bad = 0;
        uint64_t fields = 0;
        for (; i + 16 <= D && pos + 32 <= fill; i += 16, pos += 32) {
            __m512 yv = _mm512_loadu_ps(y + i);
            __m512d y0 = _mm512_cvtps_pd(_mm256_loadu_ps(y + i));
            __m512d y1 = _mm512_cvtps_pd(_mm256_loadu_ps(y + i + 8));
            /* A = R + 1 */
            __m512i A0 = _mm512_sub_epi64(_mm512_castpd_si512(_mm512_fmadd_pd(y0, vk, vc)), magic1);
            __m512i A1 = _mm512_sub_epi64(_mm512_castpd_si512(_mm512_fmadd_pd(y1, vk, vc)), magic1);
            /* F = A >> 16 = R >> 16 = floor(t·2^16) unless R's low 16 bits are 0xffff (then
             * the lane has no certificate anyway), lanes in order */
            __m512i F = _mm512_permutex2var_epi32(_mm512_srli_epi64(A0, 16), evens,
                                                  _mm512_srli_epi64(A1, 16));
            __m512i t16 = _mm512_and_si512(F, lo16);
            /* lane k: draw 2k (first coin) low, draw 2k + 1 (second coin) high */
            __m512i rv = _mm512_loadu_si512(cs->buf + pos);
            __m512i rd1 = _mm512_and_si512(rv, lo16), rd2 = _mm512_srli_epi32(rv, 16);
            /* g = min(fl + heads, top), in [0, top] in a troublesome lane too */
            __m512i fl = _mm512_srli_epi32(F, 16);
            __m512i g = _mm512_min_epu32(
                _mm512_mask_add_epi32(fl, _mm512_cmpgt_epi32_mask(t16, rd1), fl, one), top);
            __m512i c2 = _mm512_i32gather_epi32(g, (const void *)coin2, 4);
            __m512i t16b = _mm512_and_si512(c2, lo17), s = _mm512_srli_epi32(c2, 17);
            __m512i s1 = _mm512_mask_add_epi32(s, _mm512_cmpgt_epi32_mask(t16b, rd2), s, one);
            /* the permutations read only the low 4, 5 or 6 bits of h: 16·nreg columns */
            __m512i h =
                _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(hbuf + i)));
            if (q_nh < 16 * nreg)
                h = _mm512_and_si512(h, hmask);
            __m512i m = quicfl_rank16(tab, nw, nreg, h, s1);
            /* the fields: bit k of every lane's message from a mask, spread by pdep */
            uint64_t f = 0;
            for (unsigned k = 0; k < nbits; k++)
                f |= _pdep_u64(_mm512_test_epi32_mask(m, _mm512_set1_epi32(1 << k)), spread << k);
            /* Troublesome lanes, as zeros: R's low 16 bits 0 or 0xffff (too near a multiple
             * of 2^16, no certificate), a coin tie, |y| above thr (may be exact). */
            __m512i nr = _mm512_min_epu64(_mm512_and_si512(A0, mid16), _mm512_and_si512(A1, mid16));
            __m512i ya = _mm512_and_si512(_mm512_castps_si512(yv), abs31);
            __m512i ok = _mm512_min_epu32(
                _mm512_min_epu32(_mm512_xor_si512(rd1, t16), _mm512_xor_si512(rd2, t16b)),
                _mm512_srli_epi32(_mm512_sub_epi32(ya, thr1), 31));
            if (__builtin_expect(!_kortestz_mask16_u8(_mm512_testn_epi32_mask(ok, ok),
                                                      (__mmask16)_mm512_testn_epi64_mask(nr, nr)),
                                 0)) {
                bad = _mm512_kunpackb(_mm512_testn_epi64_mask(A1, mid16),
                                      _mm512_testn_epi64_mask(A0, mid16)) |
                      _mm512_testn_epi32_mask(ok, ok);
                fields = f;
                break;
            }
            quicfl_bits_put64(&wl, f, 16 * nbits);
        }
        if (bad != 0) {
            /* the lanes before the first troublesome one are done (their draws come first) */
            unsigned done = (unsigned)__builtin_ctz(bad);
            if (done > 0)
                quicfl_bits_put64(&wl, fields & (~UINT64_C(0) >> (64 - done * nbits)),
                                  done * nbits);
            i += done;
            pos += 2 * done;
        } else if (i == D) {
            break;
        } else if (i + 16 <= D) {
            cs->pos = pos;
            quicfl_coins_need(cs, 32);
            continue;
        }
        cs->pos = pos;
        struct quicfl_bits wt = wl; /* wl's address stays in this function */
        int rc = quicfl_encode_one(q, i, sc, cs, &wt, out, cap, base, off, eb);
        if (rc < 0)
            return rc;
        wl = wt;
        i++;
    }
    *w = wl;
    return 0;
}

#define QUICFL_ENCODE16(name, nbits, nreg)                                                         \
    __attribute__((target("avx512f,avx512bw,avx512vnni,fma,bmi2"))) static int name(               \
        struct quicfl *q, double sc, struct quicfl_coins *cs, struct quicfl_bits *w, uint8_t *out, \
        size_t cap, size_t base, size_t *off, struct errbuf *eb)                                   \
    {                                                                                              \
        return quicfl_encode16_kernel(q, sc, cs, w, out, cap, base, off, eb, nbits, nreg);         \
    }
QUICFL_ENCODE16(quicfl_encode16_b1r1, 1, 1)
QUICFL_ENCODE16(quicfl_encode16_b1r2, 1, 2)
QUICFL_ENCODE16(quicfl_encode16_b1r4, 1, 4)
QUICFL_ENCODE16(quicfl_encode16_b2r1, 2, 1)
QUICFL_ENCODE16(quicfl_encode16_b2r2, 2, 2)
QUICFL_ENCODE16(quicfl_encode16_b2r4, 2, 4)
QUICFL_ENCODE16(quicfl_encode16_b3r1, 3, 1)
QUICFL_ENCODE16(quicfl_encode16_b3r2, 3, 2)
QUICFL_ENCODE16(quicfl_encode16_b4r1, 4, 1)

typedef int quicfl_encode16_fn(struct quicfl *q, double sc, struct quicfl_coins *cs,
                               struct quicfl_bits *w, uint8_t *out, size_t cap, size_t base,
                               size_t *off, struct errbuf *eb);

/* The 16-wide encoder for q's tables on this CPU, or NULL (then the AVX2 or portable loop). */
static quicfl_encode16_fn *
quicfl_encode16_pick(const struct quicfl *q)
{
    if (q->portable || q->no_avx512 || !q->pos_ok || !__builtin_cpu_supports("avx512f") ||
        !__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vnni") ||
        !__builtin_cpu_supports("bmi2"))
        return NULL;
    unsigned nreg = q->nh <= 16 ? 1 : q->nh <= 32 ? 2 : 4;
    switch (q->bits * 8 + nreg) {
    case 9:
        return quicfl_encode16_b1r1;
    case 10:
        return quicfl_encode16_b1r2;
    case 12:
        return quicfl_encode16_b1r4;
    case 17:
        return quicfl_encode16_b2r1;
    case 18:
        return quicfl_encode16_b2r2;
    case 20:
        return quicfl_encode16_b2r4;
    case 25:
        return quicfl_encode16_b3r1;
    case 26:
        return quicfl_encode16_b3r2;
    case 33:
        return quicfl_encode16_b4r1;
    default:
        return NULL;
    }
}

int
quicfl_encode(struct quicfl *q, uint8_t *out, size_t cap, size_t *len, const float *x,
              const struct codec_link *link, struct errbuf *eb)
{
    size_t d = q->d, D = q->D;
    size_t base = QUICFL_HEADER + quicfl_payload_bytes(q);
    if (cap < base)
        return errbuf_set(eb, -ERR_RANGE, "quicfl: buffer of %zu bytes, at least %zu needed", cap,
                          base);
    quicfl_draw_shared(q, link);
    double nx2 = rht_forward_from(q->y, x, d, D, q->signs);
    if (!isfinite(nx2))
        return errbuf_set(eb, -ERR_RANGE, "quicfl: input vector is not finite");
    double sc = nx2 > 0 ? sqrt((double)D / nx2) : 0.0;
    struct rng r;
    codec_private_stream(&r, link);
    size_t off = base;
    quicfl_encode16_fn *enc16 = quicfl_encode16_pick(q);
    if (enc16 != NULL) {
        struct quicfl_coins cs;
        cs.r = &r;
        cs.pos = cs.fill = 0;
        struct quicfl_bits w = { .p = out + QUICFL_HEADER };
        int rc = enc16(q, sc, &cs, &w, out, cap, base, &off, eb);
        if (rc < 0)
            return rc;
        quicfl_bits_flush(&w);
        codec_put_f32(out, (float)sqrt(nx2));
        *len = off;
        return 0;
    }
    struct sround_rand sr;
    sround_rand_init(&sr, &r);
    unsigned hmask = q->nh - 1;
    bool avx2 = !q->portable && __builtin_cpu_supports("avx2");
    size_t scalar_until = 0; /* the vector loop resumes at this coordinate */
    for (size_t i = 0; i < D; i++) {
        if (avx2 && i >= scalar_until) {
            if (sr.pos == SROUND_BATCH) { /* the refill sround_rand_u16() would do */
                rng_fast_u16s(sr.r, sr.buf, SROUND_BATCH);
                sr.pos = 0;
            }
            size_t nscalar;
            i += quicfl_steps_avx2(q, i, sc, &sr, &nscalar);
            scalar_until = i + nscalar;
        }
        if (i == D)
            break;
        double z = sc * q->y[i];
        if (fabs(z) > q->T) {
            int rc = quicfl_put_exact(q, out, cap, base, &off, i, z, eb);
            if (rc < 0)
                return rc;
            q->idx[i] = 0;
            continue;
        }
        uint16_t rd1 = sround_rand_u16(&sr);
        uint16_t rd2 = sround_rand_u16(&sr);
        q->idx[i] = quicfl_quantise(q, z, q->hbuf[i] & hmask, rd1, rd2, &r);
    }
    codec_put_f32(out, (float)sqrt(nx2));
    packing_pack(out + QUICFL_HEADER, q->idx, D, q->bits);
    *len = off;
    return 0;
}

/*
 * The decoder's payload, looked up block by block inside the inverse rotation
 * (rht_load_fn): coordinate i gets lut[X_i·2^ℓ + h_i], lut = unit·R, or unit·z for the
 * exact coordinates (already checked).
 */
struct quicfl_load {
    const struct quicfl *q;
    const uint8_t *payload, *payload_end;
    const uint8_t *pairs; /* the exact list */
    size_t npairs;
    float unit;
    float lut[QUICFL_MAX_X * QUICFL_MAX_H];
};

/*
 * dst[k] = lut[field(off + k) << ell | h(off + k)] for k in [k0, n): fields of b bits,
 * off + k0 a multiple of 8 when k0 < n. The portable loop of quicfl_lookup_avx2().
 */
static void
quicfl_lookup(const struct quicfl_load *ld, float *dst, size_t off, size_t k0, size_t n)
{
    const struct quicfl *q = ld->q;
    unsigned b = q->bits, ell = q->ell, hmask = q->nh - 1, fmask = q->nx - 1;
    const uint8_t *hb = q->hbuf + off;
    for (size_t k = k0; k < n; k += 8) {
        size_t m = n - k < 8 ? n - k : 8;
        uint32_t w = 0; /* the b bytes of eight fields (fewer at the end) */
        memcpy(&w, ld->payload + (off + k) / 8 * b, (m * b + 7) / 8);
        w = le_load32((const uint8_t *)&w);
        for (size_t l = 0; l < m; l++)
            dst[k + l] = ld->lut[((w >> (l * b)) & fmask) << ell | (hb[k + l] & hmask)];
    }
}

/* quicfl_lookup() for k0 = 0, eight coordinates a step; returns the coordinates done. */
__attribute__((target("avx2"))) static size_t
quicfl_lookup_avx2(const struct quicfl_load *ld, float *dst, size_t off, size_t n)
{
    const struct quicfl *q = ld->q;
    unsigned b = q->bits;
    const __m256i shifts =
        _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)b));
    const __m256i fmask = _mm256_set1_epi32((int)q->nx - 1);
    const __m256i hmask = _mm256_set1_epi32((int)q->nh - 1);
    const __m128i ell = _mm_cvtsi32_si128((int)q->ell);
    const uint8_t *pay = ld->payload + off / 8 * b, *hb = q->hbuf + off;
    size_t k = 0;
    /* a 32-bit load holds the step's b <= 4 bytes (the last steps go the portable way) */
    for (; k + 8 <= n && pay + sizeof(uint32_t) <= ld->payload_end; k += 8, pay += b) {
        uint32_t w = le_load32(pay);
        __m256i f = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)w), shifts), fmask);
        int64_t hw;
        memcpy(&hw, hb + k, sizeof hw);
        __m256i h = _mm256_and_si256(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(hw)), hmask);
        __m256i cell = _mm256_or_si256(_mm256_sll_epi32(f, ell), h);
        _mm256_storeu_ps(dst + k, _mm256_i32gather_ps(ld->lut, cell, 4));
    }
    return k;
}

/* Tables of at most this many entries are looked up in registers (quicfl_lookup_avx512()). */
#define QUICFL_LUT_REGS 128

/*
 * quicfl_lookup_avx2() on 16 coordinates a step (AVX-512F), the table in eight registers:
 * vpermt2ps picks from each pair of them by the cell's low 5 bits, two blends by bits 5
 * and 6. Each half of a step takes its eight fields from a 32-bit load, as there.
 */
__attribute__((target("avx512f"))) static size_t
quicfl_lookup_avx512(const struct quicfl_load *ld, float *dst, size_t off, size_t n)
{
    const struct quicfl *q = ld->q;
    unsigned b = q->bits, entries = q->nx * q->nh;
    __m512 t[QUICFL_LUT_REGS / 16];
    for (unsigned j = 0; j < QUICFL_LUT_REGS / 16; j++) {
        unsigned have = entries > 16 * j ? entries - 16 * j : 0;
        t[j] = _mm512_maskz_loadu_ps((__mmask16)(have >= 16 ? 0xffffu : (1u << have) - 1),
                                     ld->lut + (have > 0 ? 16 * j : 0));
    }
    const __m512i shifts =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7),
                           _mm512_set1_epi32((int)b));
    const __m512i fmask = _mm512_set1_epi32((int)q->nx - 1);
    const __m512i hmask = _mm512_set1_epi32((int)q->nh - 1);
    const __m512i bit5 = _mm512_set1_epi32(32), bit6 = _mm512_set1_epi32(64);
    const __m128i ell = _mm_cvtsi32_si128((int)q->ell);
    const uint8_t *pay = ld->payload + off / 8 * b, *hb = q->hbuf + off;
    size_t k = 0;
    for (; k + 16 <= n && pay + b + sizeof(uint32_t) <= ld->payload_end; k += 16, pay += 2 * b) {
        __m512i w = _mm512_mask_set1_epi32(_mm512_set1_epi32((int)le_load32(pay)), 0xff00,
                                           (int)le_load32(pay + b));
        __m512i f = _mm512_and_si512(_mm512_srlv_epi32(w, shifts), fmask);
        __m512i h = _mm512_and_si512(
            _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(hb + k))), hmask);
        __m512i cell = _mm512_or_si512(_mm512_sll_epi32(f, ell), h);
        __mmask16 m5 = _mm512_test_epi32_mask(cell, bit5), m6 = _mm512_test_epi32_mask(cell, bit6);
        __m512 lo = _mm512_mask_blend_ps(m5, _mm512_permutex2var_ps(t[0], cell, t[1]),
                                         _mm512_permutex2var_ps(t[2], cell, t[3]));
        __m512 hi = _mm512_mask_blend_ps(m5, _mm512_permutex2var_ps(t[4], cell, t[5]),
                                         _mm512_permutex2var_ps(t[6], cell, t[7]));
        _mm512_storeu_ps(dst + k, _mm512_mask_blend_ps(m6, lo, hi));
    }
    return k;
}

enum quicfl_isa { QUICFL_PORTABLE, QUICFL_AVX2, QUICFL_AVX512 };

/* Fills dst[0..n) with the decoded coordinates off..off+n (rht_load_fn). */
static void
quicfl_load_block(const struct quicfl_load *ld, float *dst, size_t off, size_t n,
                  enum quicfl_isa isa)
{
    size_t k0 = isa == QUICFL_AVX512 ? quicfl_lookup_avx512(ld, dst, off, n)
                : isa == QUICFL_AVX2 ? quicfl_lookup_avx2(ld, dst, off, n)
                                     : 0;
    quicfl_lookup(ld, dst, off, k0, n);
    /* the exact coordinates in the block: the first index >= off by bisection */
    size_t lo = 0, hi = ld->npairs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (le_load32(ld->pairs + mid * QUICFL_PAIR_BYTES) < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t e = lo; e < ld->npairs; e++) {
        const uint8_t *pr = ld->pairs + e * QUICFL_PAIR_BYTES;
        size_t i = le_load32(pr);
        if (i >= off + n)
            break;
        dst[i - off] = ld->unit * codec_get_f32(pr + 4);
    }
}

static void
quicfl_load_avx512(void *ctx, float *dst, size_t off, size_t n)
{
    quicfl_load_block(ctx, dst, off, n, QUICFL_AVX512);
}

static void
quicfl_load_avx2(void *ctx, float *dst, size_t off, size_t n)
{
    quicfl_load_block(ctx, dst, off, n, QUICFL_AVX2);
}

static void
quicfl_load_portable(void *ctx, float *dst, size_t off, size_t n)
{
    quicfl_load_block(ctx, dst, off, n, QUICFL_PORTABLE);
}

/* quicfl_decode_add(), or with set quicfl_decode_set() (weight 1). */
static int
quicfl_decode_run(struct quicfl *q, float *acc, const uint8_t *msg, size_t len, double weight,
                  bool set, const struct codec_link *link, struct errbuf *eb)
{
    size_t D = q->D;
    size_t base = QUICFL_HEADER + quicfl_payload_bytes(q);
    if (len < base || (len - base) % QUICFL_PAIR_BYTES != 0 ||
        (len - base) / QUICFL_PAIR_BYTES > q->max_exact)
        return codec_corrupt(eb, len < base ? len : base,
                             "quicfl: message of %zu bytes is not %zu + 8·k (k <= %zu)", len, base,
                             q->max_exact);
    float norm;
    int rc = codec_get_scale(&norm, msg, len, 0, "quicfl norm", eb);
    if (rc < 0)
        return rc;
    if (norm < 0)
        return codec_corrupt(eb, 0, "quicfl: negative norm %g", (double)norm);
    size_t next = 0;
    double zmax = 0; /* the largest |z| sent verbatim */
    for (size_t off = base; off < len; off += QUICFL_PAIR_BYTES) {
        uint32_t i = le_load32(msg + off);
        float z = codec_get_f32(msg + off + 4);
        if (i >= D || i < next)
            return codec_corrupt(eb, off, "quicfl: exact index %u out of order or >= %zu", i, D);
        if (!isfinite(z))
            return codec_corrupt(eb, off + 4, "quicfl: exact value is not finite");
        zmax = fmax(zmax, fabs((double)z));
        next = (size_t)i + 1;
    }
    quicfl_draw_shared(q, link);
    struct quicfl_load ld = {
        .q = q,
        .payload = msg + QUICFL_HEADER,
        .payload_end = msg + base,
        .pairs = msg + base,
        .npairs = (len - base) / QUICFL_PAIR_BYTES,
        .unit = (float)(norm / sqrt((double)D)),
    };
    double top = (double)ld.unit * zmax; /* the exact coordinates decode to unit·z */
    for (size_t k = 0; k < (size_t)q->nx * q->nh; k++) {
        ld.lut[k] = ld.unit * q->R[k];
        top = fmax(top, fabs((double)ld.lut[k]));
    }
    /* |decoded| <= weight·top·(1/(1 − loss))·√D (an inverse rotation of D entries; the
     * accumulator of a shared rotation is checked before its inverse rotation). A float
     * product that overflowed makes top infinite: refused. */
    double growth = q->rotation == CODEC_ROTATION_SHARED ? 1.0 : sqrt((double)D);
    if (q->loss > 0.0)
        growth /= 1.0 - q->loss;
    if ((rc = codec_bound_check(weight, top, growth, "quicfl norm", 0, eb)) < 0)
        return rc;
    bool avx2 = !q->portable && __builtin_cpu_supports("avx2");
    bool avx512 = avx2 && !q->no_avx512 && q->nx * q->nh <= QUICFL_LUT_REGS &&
                  __builtin_cpu_supports("avx512f");
    rht_load_fn *load = avx512 ? quicfl_load_avx512
                        : avx2 ? quicfl_load_avx2
                               : quicfl_load_portable;
    if (q->loss <= 0.0 && q->rotation != CODEC_ROTATION_SHARED) {
        /* Looked up block by block inside the inverse rotation (see rht.h). */
        rht_inverse_add_load(acc, q->d, q->y, D, q->signs, (float)weight, load, &ld,
                             (q->portable ? RHT_PORTABLE : 0) | (set ? RHT_SET : 0));
        return 0;
    }
    if (set)
        memset(acc, 0, quicfl_acc_len(q) * sizeof *acc);
    load(&ld, q->y, 0, D);
    codec_loss_apply(q->y, D, q->loss, link);
    if (q->rotation == CODEC_ROTATION_SHARED) {
        float w = (float)weight;
        for (size_t i = 0; i < D; i++)
            acc[i] += w * q->y[i];
    } else {
        rht_inverse_add(acc, q->d, q->y, D, q->signs, (float)weight);
    }
    return 0;
}

int
quicfl_decode_add(struct quicfl *q, float *acc, const uint8_t *msg, size_t len, double weight,
                  const struct codec_link *link, struct errbuf *eb)
{
    return quicfl_decode_run(q, acc, msg, len, weight, false, link, eb);
}

int
quicfl_decode_set(struct quicfl *q, float *acc, const uint8_t *msg, size_t len,
                  const struct codec_link *link, struct errbuf *eb)
{
    return quicfl_decode_run(q, acc, msg, len, 1.0, true, link, eb);
}

void
quicfl_decode_finish(struct quicfl *q, float *out, float *acc, const struct codec_link *link)
{
    if (q->rotation == CODEC_ROTATION_SHARED)
        codec_shared_finish(out, acc, q->d, q->D, q->signs, link);
    else if (out != acc)
        memmove(out, acc, q->d * sizeof *out);
}

void
quicfl_set_portable(struct quicfl *q, bool on)
{
    q->portable = on;
}

void
quicfl_set_no_avx512(struct quicfl *q, bool on)
{
    q->no_avx512 = on;
}

double
quicfl_max_bias(const struct quicfl *q)
{
    double worst = 0;
    for (size_t g = 0; g < QUICFL_GRID; g++) {
        double z = ((double)g - QUICFL_GRID_HALF) * q->delta;
        double m = 0;
        for (unsigned h = 0; h < q->nh; h++) {
            unsigned x = q->sx[g * q->nh + h];
            double r = q->R[x * q->nh + h];
            if (h == q->fh[g])
                r += q->fp[g] * (q->R[(x + 1) * q->nh + h] - r);
            m += r;
        }
        worst = fmax(worst, fabs(m / q->nh - z));
    }
    return worst;
}
