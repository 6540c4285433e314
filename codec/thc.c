/* thc: homomorphic quantisation with an integer table. See thc.h. */
#include "codec/thc.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "base/bitpack.h"
#include "base/le.h"
#include "base/mem.h"
#include "codec/codec_int.h"
#include "codec/packing.h"
#include "codec/rht.h"
#include "codec/sround.h"
#include "base/banned.h"

#define THC_HEADER_BYTES 4
#define THC_MAX_LEVELS   (1u << THC_MAX_BITS)
/* Coin ties thc_encode() settles after the rotation; with more it rounds again unfused. */
#define THC_TIES_MAX 256
/* The fast keystream (base/rng.h): 32 16-bit draws a 64-byte block. */
#define THC_DRAWS_PER_BLOCK (RNG_BLOCK_BYTES / 2)
/* From this D on, the rotation's last pass comes in runs of whole blocks of draws (D > the
 * L1 block of codec/rht.c: runs of RHT_RUN coordinates at multiples of RHT_RUN). */
#define THC_RUN_DRAWS_MIN 4096

struct thc {
    size_t d, D;
    unsigned bits, levels, g;
    double T;
    enum codec_rotation rotation;
    bool uniform; /* evenly spaced levels (UHC) instead of the optimal table */
    double loss;
    uint16_t table[THC_MAX_LEVELS];
    size_t ties_max; /* thc_encode(): coin ties listed at most (THC_TIES_MAX; tests lower it) */
    float *y;
    uint8_t *signs;
    uint16_t *idx;
    uint16_t *rnd; /* thc_encode(): the D coin draws, when not drawn run by run
                    * (D < THC_RUN_DRAWS_MIN, or the fallback) */
};

int
thc_params_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    if (!(p->bits >= 1 && p->bits <= THC_MAX_BITS) || p->bits != floor(p->bits))
        return errbuf_set(eb, -ERR_RANGE, "bits %g: codec 'thc' needs an integer in 1..%d", p->bits,
                          THC_MAX_BITS);
    unsigned top = (1u << (unsigned)p->bits) - 1; /* the smallest g with 2^b integers */
    if (p->thc_g != 0 && (p->thc_g < top || p->thc_g > THC_MAX_G))
        return errbuf_set(eb, -ERR_RANGE, "thc table size g = %u: needs %u..%u at %g bits",
                          p->thc_g, top, THC_MAX_G, p->bits);
    if (p->thc_g != 0 && p->thc_uniform && p->thc_g % top != 0)
        return errbuf_set(eb, -ERR_RANGE,
                          "thc table size g = %u: uniform levels need a multiple of 2^b - 1 = %u",
                          p->thc_g, top);
    return 0;
}

/* E[(z_j - Z)(Z - z_i); z_i < Z <= z_j] for Z ~ N(0,1), closed form. */
static double
thc_cell_cost(double zi, double zj)
{
    double m0 = gsl_cdf_ugaussian_P(zj) - gsl_cdf_ugaussian_P(zi);
    double pi = gsl_ran_ugaussian_pdf(zi), pj = gsl_ran_ugaussian_pdf(zj);
    double m1 = pi - pj;
    double m2 = m0 + zi * pi - zj * pj;
    return -m2 + (zi + zj) * m1 - zi * zj * m0;
}

/* Dynamic programme over the integer grid; fills t->table. Returns 0, or -1 on OOM. */
static int
thc_solve_table(struct thc *t)
{
    unsigned g = t->g, K = t->levels;
    size_t cells = (size_t)(g + 1) * (g + 1);
    double *cost = mem_alloc(cells * sizeof *cost);
    double *best = mem_alloc((size_t)K * (g + 1) * sizeof *best);
    unsigned *from = mem_alloc((size_t)K * (g + 1) * sizeof *from);
    if (cost == NULL || best == NULL || from == NULL) {
        mem_free(cost);
        mem_free(best);
        mem_free(from);
        return -1;
    }
    double step = 2.0 * t->T / g;
    for (unsigned i = 0; i <= g; i++)
        for (unsigned j = i + 1; j <= g; j++)
            cost[(size_t)i * (g + 1) + j] = thc_cell_cost(-t->T + i * step, -t->T + j * step);
    /* best[k][j]: least cost of covering [0, j] with k+1 points ending at j. */
    for (unsigned j = 0; j <= g; j++)
        best[j] = j == 0 ? 0.0 : HUGE_VAL;
    for (unsigned k = 1; k < K; k++) {
        for (unsigned j = 0; j <= g; j++) {
            double b = HUGE_VAL;
            unsigned arg = 0;
            for (unsigned i = 0; i < j; i++) {
                double c = best[(size_t)(k - 1) * (g + 1) + i] + cost[(size_t)i * (g + 1) + j];
                if (c < b) {
                    b = c;
                    arg = i;
                }
            }
            best[(size_t)k * (g + 1) + j] = b;
            from[(size_t)k * (g + 1) + j] = arg;
        }
    }
    unsigned j = g;
    for (unsigned k = K - 1; k > 0; k--) {
        t->table[k] = (uint16_t)j;
        j = from[(size_t)k * (g + 1) + j];
    }
    t->table[0] = 0;
    mem_free(cost);
    mem_free(best);
    mem_free(from);
    return 0;
}

struct thc *
thc_new(const struct codec_params *p, size_t dim)
{
    struct thc *t = mem_calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->d = dim;
    t->D = rht_padded_len(dim);
    t->bits = (unsigned)p->bits;
    t->levels = 1u << t->bits;
    t->g = p->thc_g != 0 ? p->thc_g : p->thc_uniform ? t->levels - 1 : 2 * t->levels - 2;
    t->uniform = p->thc_uniform;
    t->T = gsl_cdf_ugaussian_Qinv(1.0 / (2.0 * THC_OFREQ));
    t->rotation = p->rotation;
    t->loss = p->packet_loss;
    t->ties_max = THC_TIES_MAX;
    t->y = mem_alloc_aligned(64, t->D * sizeof *t->y);
    t->signs = mem_alloc(rht_sign_bytes(t->D));
    t->idx = mem_alloc(t->D * sizeof *t->idx);
    t->rnd = mem_alloc(t->D * sizeof *t->rnd);
    if (t->uniform) {
        for (unsigned k = 0; k < t->levels; k++)
            t->table[k] = (uint16_t)(k * (t->g / (t->levels - 1)));
    }
    if (t->y == NULL || t->signs == NULL || t->idx == NULL || t->rnd == NULL ||
        (!t->uniform && thc_solve_table(t) < 0)) {
        thc_free(t);
        return NULL;
    }
    return t;
}

void
thc_free(struct thc *t)
{
    if (t == NULL)
        return;
    mem_free_aligned(t->y);
    mem_free(t->signs);
    mem_free(t->idx);
    mem_free(t->rnd);
    mem_free(t);
}

void
thc_set_ties_max(struct thc *t, size_t n)
{
    t->ties_max = n < THC_TIES_MAX ? n : THC_TIES_MAX;
}

size_t
thc_max_bytes(const struct thc *t)
{
    return THC_HEADER_BYTES + bitpack_bytes(t->D, t->bits);
}

size_t
thc_acc_len(const struct thc *t)
{
    return t->rotation == CODEC_ROTATION_SHARED ? t->D : t->d;
}

unsigned
thc_table(const struct thc *t, const uint16_t **levels)
{
    *levels = t->table;
    return t->g;
}

size_t
thc_padded_len(const struct thc *t)
{
    return t->D;
}

unsigned
thc_ring_bits(const struct thc *t, size_t n)
{
    double top = (double)n * t->g + 1;
    return (unsigned)ceil(log2(top));
}

static void
thc_draw_signs(struct thc *t, const struct codec_link *link)
{
    struct rng r;
    codec_shared_stream(&r, link, t->rotation);
    rht_signs_draw(t->signs, t->D, &r);
}

/* cell[u] = index k of the table cell [v_k, v_{k+1}) containing integer part u (u <= g). */
static void
thc_cells(const struct thc *t, uint16_t *cell)
{
    for (unsigned k = 0, u = 0; u <= t->g; u++) {
        while (k + 2 < t->levels && t->table[k + 1] <= u)
            k++;
        cell[u] = (uint16_t)k;
    }
}

static int
thc_norm_error(double norm, struct errbuf *eb)
{
    return errbuf_set(eb, -ERR_RANGE, "thc: norm %g is not a finite non-negative number", norm);
}

/*
 * Writes the table positions of the rotated vector t->y under the norm into t->idx; private
 * randomness r (the private stream), whose D coin draws are already in drawn when not NULL.
 */
static int
thc_round(struct thc *t, double norm, const uint16_t *drawn, struct rng *r, struct errbuf *eb)
{
    if (!isfinite(norm) || norm < 0)
        return thc_norm_error(norm, eb);
    double sc = norm > 0 ? sqrt((double)t->D) / norm : 0.0;
    double to_u = t->g / (2.0 * t->T);
    uint16_t cell[THC_MAX_G + 1];
    thc_cells(t, cell);
    if (sround_cells_drawn(t->idx, t->y, t->D, sc, t->T, to_u, t->g, cell, t->table, drawn, r,
                           SROUND_BEST) < 0)
        return errbuf_set(eb, -ERR_RANGE, "thc: input vector is not finite");
    return 0;
}

/* Rotates x into t->y and rounds it under the norm (thc_round()). */
static int
thc_quantize(struct thc *t, const float *x, double norm, const struct codec_link *link,
             struct rng *r, struct errbuf *eb)
{
    thc_draw_signs(t, link);
    (void)rht_forward_from(t->y, x, t->d, t->D, t->signs);
    return thc_round(t, norm, NULL, r, eb);
}

/*
 * thc_encode()'s consumer of the rotation's last pass (struct rht_sink): each run of rotated
 * coordinates is rounded (sround_cells_defer(); its coins drawn for the run from the fast
 * keystream, or taken from t->rnd) and packed into the payload while in cache; the coin
 * ties, which take draws of the stream in coordinate order, are only listed.
 */
struct thc_fused {
    struct thc *t;
    uint8_t *payload;
    double norm2, sc, to_u;
    bool bad;                  /* the norm or a rotated coordinate is not finite */
    const struct rng_key *key; /* the private stream's key: coins drawn run by run, or NULL */
    struct sround_ties ties;
    size_t at[THC_TIES_MAX];
    uint16_t rv[THC_TIES_MAX]; /* the draw of each tie */
    uint16_t rd[RHT_RUN];      /* a run's draws */
    uint16_t cell[THC_MAX_G + 1];
    struct sround_cells_prep prep;
    uint16_t idx[RHT_RUN];
};

static void
thc_fused_begin(void *ctx, double norm2)
{
    struct thc_fused *f = ctx;
    double norm = sqrt(norm2);
    f->norm2 = norm2;
    f->bad = !isfinite(norm);
    f->sc = !f->bad && norm > 0 ? sqrt((double)f->t->D) / norm : 0.0;
    sround_cells_prepare(&f->prep, f->sc, f->t->T, f->to_u, f->t->g, f->cell, f->t->table,
                         SROUND_BEST);
}

static void
thc_fused_put(void *ctx, const float *y, size_t off, size_t n)
{
    struct thc_fused *f = ctx;
    const struct thc *t = f->t;
    for (size_t j = 0; j < n && !f->bad; j += RHT_RUN) {
        size_t m = n - j < RHT_RUN ? n - j : RHT_RUN;
        size_t n0 = f->ties.n;
        const uint16_t *rd = t->rnd + off + j;
        if (f->key != NULL) { /* coordinate i's draw: bytes 2i, 2i + 1 of the fast keystream */
            rng_fast_blocks(f->key, (off + j) / THC_DRAWS_PER_BLOCK, m / THC_DRAWS_PER_BLOCK,
                            f->rd);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
            for (size_t i = 0; i < m; i++)
                f->rd[i] = le_load16(&f->rd[i]);
#endif
            rd = f->rd;
        }
        if (sround_cells_defer(f->idx, y + j, m, &f->prep, rd, &f->ties, off + j) < 0)
            f->bad = true;
        else /* off + j is a multiple of 8 (or 0): the fields start on a byte */
            packing_pack(f->payload + (off + j) * t->bits / 8, f->idx, m, t->bits);
        for (size_t a = n0; a < f->ties.n; a++)
            f->rv[a] = rd[f->at[a] - off - j];
    }
}

/* Sets the b-bit field i of payload (LSB-first) to k. */
static void
thc_field_set(uint8_t *payload, size_t i, unsigned b, unsigned k)
{
    for (unsigned l = 0; l < b; l++) {
        size_t bit = i * b + l;
        uint8_t mask = (uint8_t)(1u << (bit % 8));
        payload[bit / 8] =
            (uint8_t)((k >> l & 1) ? payload[bit / 8] | mask : payload[bit / 8] & ~mask);
    }
}

/*
 * One pass over memory fewer than the rotation, thc_round() and packing_pack() one after the
 * other, with the same message: the rotation's butterflies also carry the norm's chain of
 * double additions in coordinate order (rht_forward_norm()) and hand the last pass, run by
 * run, to thc_fused_put(), which draws the run's coins (coordinate i's are bytes 2i, 2i + 1
 * of the fast keystream, which rng_chacha_blocks() computes from any block), rounds and
 * packs; the coin ties are settled last, in coordinate order, as the plain loop takes their
 * draws. With more ties than listed (not seen in practice: about D/2^16 are expected) the
 * whole vector is rounded again the plain way.
 */
int
thc_encode(struct thc *t, uint8_t *out, size_t cap, size_t *len, const float *x,
           const struct codec_link *link, struct errbuf *eb)
{
    size_t bytes = thc_max_bytes(t);
    if (cap < bytes)
        return errbuf_set(eb, -ERR_RANGE, "thc: buffer of %zu bytes, %zu needed", cap, bytes);
    struct rng r;
    codec_private_stream(&r, link);
    struct rng_key key; /* r's key */
    codec_private_key(&key, link);
    /* With runs of whole keystream blocks the coins are drawn run by run (random access to
     * the counter-based keystream), else all first, as r would give them. */
    bool by_run = t->D >= THC_RUN_DRAWS_MIN;
    if (!by_run)
        rng_fast_u16s(&r, t->rnd, t->D);
    thc_draw_signs(t, link);
    struct thc_fused f = { .t = t, .payload = out + THC_HEADER_BYTES, .key = by_run ? &key : NULL };
    f.to_u = t->g / (2.0 * t->T);
    f.ties = (struct sround_ties){ .at = f.at, .cap = t->ties_max };
    thc_cells(t, f.cell);
    struct rht_sink sink = { thc_fused_begin, thc_fused_put, &f };
    (void)rht_forward_norm(t->y, x, t->d, t->D, t->signs, &sink, 0);
    double norm = sqrt(f.norm2);
    if (!isfinite(norm))
        return thc_norm_error(norm, eb);
    if (f.bad)
        return errbuf_set(eb, -ERR_RANGE, "thc: input vector is not finite");
    if (f.ties.full) {
        if (by_run)
            rng_fast_u16s(&r, t->rnd, t->D);
        int rc = thc_round(t, norm, t->rnd, &r, eb);
        if (rc < 0)
            return rc;
        packing_pack(out + THC_HEADER_BYTES, t->idx, t->D, t->bits);
    } else {
        for (size_t a = 1; a < f.ties.n; a++) /* in coordinate order (few) */
            for (size_t b = a; b > 0 && f.at[b - 1] > f.at[b]; b--) {
                size_t tmp = f.at[b];
                uint16_t rt = f.rv[b];
                f.at[b] = f.at[b - 1];
                f.rv[b] = f.rv[b - 1];
                f.at[b - 1] = tmp;
                f.rv[b - 1] = rt;
            }
        for (size_t a = 0; a < f.ties.n; a++) {
            size_t i = f.at[a];
            uint16_t k;
            (void)sround_cells_drawn(&k, t->y + i, 1, f.sc, t->T, f.to_u, t->g, f.cell, t->table,
                                     &f.rv[a], &r, SROUND_PORTABLE);
            thc_field_set(out + THC_HEADER_BYTES, i, t->bits, k);
        }
    }
    codec_put_f32(out, (float)norm);
    *len = bytes;
    return 0;
}

int
thc_encode_ints(struct thc *t, uint16_t *ints, const float *x, double norm,
                const struct codec_link *link, struct errbuf *eb)
{
    struct rng r;
    codec_private_stream(&r, link);
    int rc = thc_quantize(t, x, norm, link, &r, eb);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < t->D; i++)
        ints[i] = t->table[t->idx[i]];
    return 0;
}

/* thc_decode_add(), or with set thc_decode_set() (weight 1). */
static int
thc_decode_run(struct thc *t, float *acc, const uint8_t *msg, size_t len, double weight, bool set,
               const struct codec_link *link, struct errbuf *eb)
{
    size_t bytes = thc_max_bytes(t);
    if (len != bytes)
        return codec_corrupt(eb, len < bytes ? len : bytes,
                             "thc: message of %zu bytes, expected %zu", len, bytes);
    float norm;
    int rc = codec_get_scale(&norm, msg, len, 0, "thc norm", eb);
    if (rc < 0)
        return rc;
    if (norm < 0)
        return codec_corrupt(eb, 0, "thc: negative norm %g", (double)norm);
    /* Rotated coordinate of table entry k: (v_k·2T/g − T)·norm/√D. */
    double unit = norm / sqrt((double)t->D);
    float lut[THC_MAX_LEVELS];
    double top = 0;
    for (unsigned k = 0; k < t->levels; k++) {
        lut[k] = (float)((t->table[k] * 2.0 * t->T / t->g - t->T) * unit);
        top = fmax(top, fabs((double)lut[k]));
    }
    /* |decoded| <= weight·max|lut|·(1/(1 − loss))·√D (an inverse rotation of D entries). */
    double growth = t->rotation == CODEC_ROTATION_SHARED ? 1.0 : sqrt((double)t->D);
    if (t->loss > 0.0)
        growth /= 1.0 - t->loss;
    if ((rc = codec_bound_check(weight, top, growth, "thc norm", 0, eb)) < 0)
        return rc;
    const uint8_t *payload = msg + THC_HEADER_BYTES;
    if (t->loss <= 0.0 && t->rotation != CODEC_ROTATION_SHARED && t->D >= 16) {
        thc_draw_signs(t, link);
        struct packing_load ld; /* unpacked block by block inside the inverse rotation */
        packing_load_init(&ld, payload, t->D, t->bits, lut);
        rht_inverse_add_load(acc, t->d, t->y, t->D, t->signs, (float)weight, packing_load, &ld,
                             set ? RHT_SET : 0);
        return 0;
    }
    packing_unpack_lut(t->y, payload, t->D, t->bits, lut);
    codec_loss_apply(t->y, t->D, t->loss, link);
    if (set)
        memset(acc, 0, thc_acc_len(t) * sizeof *acc);
    if (t->rotation == CODEC_ROTATION_SHARED) {
        float w = (float)weight;
        for (size_t i = 0; i < t->D; i++)
            acc[i] += w * t->y[i];
        return 0;
    }
    thc_draw_signs(t, link);
    rht_inverse_add(acc, t->d, t->y, t->D, t->signs, (float)weight);
    return 0;
}

int
thc_decode_add(struct thc *t, float *acc, const uint8_t *msg, size_t len, double weight,
               const struct codec_link *link, struct errbuf *eb)
{
    return thc_decode_run(t, acc, msg, len, weight, false, link, eb);
}

int
thc_decode_set(struct thc *t, float *acc, const uint8_t *msg, size_t len,
               const struct codec_link *link, struct errbuf *eb)
{
    return thc_decode_run(t, acc, msg, len, 1.0, true, link, eb);
}

void
thc_decode_finish(struct thc *t, float *out, float *acc, const struct codec_link *link)
{
    if (t->rotation == CODEC_ROTATION_SHARED)
        codec_shared_finish(out, acc, t->d, t->D, t->signs, link);
    else if (out != acc)
        memmove(out, acc, t->d * sizeof *out);
}

/* Inverts the shared rotation of t->y into out[0..d). */
static void
thc_unrotate(struct thc *t, float *out, const struct codec_link *link)
{
    struct rng r;
    codec_shared_stream(&r, link, t->rotation);
    rht_signs_draw(t->signs, t->D, &r);
    rht_inverse(t->y, t->D, t->signs);
    memcpy(out, t->y, t->d * sizeof *out);
}

void
thc_decode_sum(struct thc *t, float *out, const uint64_t *sum, size_t n, double norm,
               const struct codec_link *link)
{
    double unit = norm / sqrt((double)t->D);
    double a = 2.0 * t->T / t->g / (double)n;
    for (size_t i = 0; i < t->D; i++)
        t->y[i] = (float)(((double)sum[i] * a - t->T) * unit);
    thc_unrotate(t, out, link);
}

void
thc_decode_ints(struct thc *t, float *out, const uint16_t *ints, double norm,
                const struct codec_link *link)
{
    double unit = norm / sqrt((double)t->D);
    double a = 2.0 * t->T / t->g;
    for (size_t i = 0; i < t->D; i++)
        t->y[i] = (float)(((double)ints[i] * a - t->T) * unit);
    thc_unrotate(t, out, link);
}
