/*
 * randk: rand-k sparsification, the worked example of docs/extending.md (a whole codec in one
 * file plus one row of CODEC_TABLE in codec/codec.h).
 *
 * The client sends k of the d coordinates, chosen uniformly at random without replacement;
 * the server scales them by d/k and leaves the others at 0. Each coordinate is sent with
 * probability k/d, so E[x̂] = x for every input (unbiased), and
 * E‖x̂ − x‖² = (d/k − 1)·‖x‖² (Konečný et al., "Federated Learning: Strategies for Improving
 * Communication Efficiency", NIPS 2016 workshop, §3 "random mask"; Stich et al., "Sparsified
 * SGD with Memory", NeurIPS 2018, rand-k). It is a baseline: at b bits per coordinate its
 * vNMSE 32/b − 1 is far above a rotation codec's (docs/codecs.md).
 *
 * Parameters: bits b in (0, 32] buys k = round(b·d/32) values (at least 1); b = 32 sends
 * every coordinate, exactly. rotation: per_client draws each client's coordinates from its
 * own stream, shared gives every client of a round the same coordinates.
 *
 * Randomness: both ends draw the coordinates from the link's shared stream
 * (codec_shared_stream(), codec/codec_int.h), so no index is sent. Floyd's algorithm
 * (Bentley and Floyd, "Programming Pearls: A Sample of Brilliance", CACM 30(9), 1987) takes
 * for j = d−k, ..., d−1 a uniform t in [0, j], drawn exactly from 32-bit words (Lemire, "Fast
 * Random Integer Generation in an Interval", ACM TOMACS 29(1), 2019), and adds t to the set,
 * or j when t is already in it: every subset of k coordinates is equally likely, for k draws
 * instead of one per coordinate. The set is a bitmap of d bits, read out in increasing order.
 *
 * Wire format: the k chosen values x_i as float32 little-endian, in increasing i: 32·k bits,
 * so 32·k/d ≈ b bits per coordinate. The decoder refuses any other length and a non-finite
 * value (-ERR_CORRUPT at its byte offset).
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/mem.h"
#include "codec/codec_int.h"
#include "base/banned.h"

struct randk {
    size_t d, k;
    enum codec_rotation rotation;
    uint32_t *idx;  /* the k chosen coordinates of the current message, increasing */
    uint64_t *mark; /* bitmap of the chosen coordinates while drawing, ceil(d/64) words */
};

static size_t
randk_count(const struct codec_params *p, size_t d)
{
    double k = nearbyint(p->bits * (double)d / 32.0);
    return k < 1.0 ? 1 : k > (double)d ? d : (size_t)k;
}

static int
randk_check(const struct codec_params *p, size_t dim, struct errbuf *eb)
{
    if (!(p->bits > 0.0 && p->bits <= 32.0))
        return errbuf_set(eb, -ERR_RANGE, "bits %g: codec 'randk' needs bits in (0, 32]", p->bits);
    return 0;
}

static void
randk_destroy(void *impl)
{
    struct randk *r = impl;
    mem_free(r->idx);
    mem_free(r->mark);
    mem_free(r);
}

static void *
randk_make(const struct codec_params *p, size_t dim)
{
    struct randk *r = mem_calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->d = dim;
    r->k = randk_count(p, dim);
    r->rotation = p->rotation;
    r->idx = mem_alloc(r->k * sizeof *r->idx);
    r->mark = mem_alloc((dim + 63) / 64 * sizeof *r->mark);
    if (r->idx == NULL || r->mark == NULL) {
        randk_destroy(r);
        return NULL;
    }
    return r;
}

static size_t
randk_max_bytes(const void *impl)
{
    const struct randk *r = impl;
    return r->k * sizeof(float);
}

static size_t
randk_acc_len(const void *impl)
{
    const struct randk *r = impl;
    return r->d;
}

/* 32-bit draws of the link's shared stream, in rng_u32s() order, fetched a batch at a time. */
#define RANDK_BATCH 1024
struct randk_rand {
    struct rng *r;
    size_t pos;
    uint32_t buf[RANDK_BATCH];
};

static uint32_t
randk_u32(struct randk_rand *rr)
{
    if (rr->pos == RANDK_BATCH) {
        rng_u32s(rr->r, rr->buf, RANDK_BATCH);
        rr->pos = 0;
    }
    return rr->buf[rr->pos++];
}

/* A uniform integer in [0, n), 1 <= n <= 2^32 − 1, exactly: multiply-shift with rejection. */
static uint32_t
randk_below(struct randk_rand *rr, uint32_t n)
{
    uint64_t m = (uint64_t)randk_u32(rr) * n;
    if ((uint32_t)m < n) {
        uint32_t reject = (uint32_t)-n % n; /* 2^32 mod n */
        while ((uint32_t)m < reject)
            m = (uint64_t)randk_u32(rr) * n;
    }
    return (uint32_t)(m >> 32);
}

/* Draws the link's k coordinates into r->idx (Floyd's algorithm, increasing order). */
static void
randk_draw(struct randk *r, const struct codec_link *link)
{
    struct rng stream;
    struct randk_rand rr = { .r = &stream, .pos = RANDK_BATCH };
    codec_shared_stream(&stream, link, r->rotation);
    size_t words = (r->d + 63) / 64;
    memset(r->mark, 0, words * sizeof *r->mark);
    for (size_t j = r->d - r->k; j < r->d; j++) {
        size_t t = randk_below(&rr, (uint32_t)(j + 1));
        if (r->mark[t / 64] >> (t % 64) & 1)
            t = j;
        r->mark[t / 64] |= (uint64_t)1 << (t % 64);
    }
    size_t taken = 0;
    for (size_t w = 0; w < words; w++)
        for (uint64_t m = r->mark[w]; m != 0; m &= m - 1)
            r->idx[taken++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(m));
}

/* True when every |x_i| <= limit (NaN fails); one branch-free pass the compiler vectorises. */
static bool
randk_all_within(const float *x, size_t n, double limit)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        ok &= fabs((double)x[i]) <= limit;
    return ok;
}

static int
randk_encode(void *impl, uint8_t *out, size_t cap, size_t *len, const float *x,
             const struct codec_link *link, struct errbuf *eb)
{
    struct randk *r = impl;
    size_t need = r->k * sizeof(float);
    if (cap < need)
        return errbuf_set(eb, -ERR_RANGE, "encode buffer of %zu bytes, %zu needed", cap, need);
    /* The decoder multiplies by d/k: refuse what would exceed CODEC_MAX_ABS there. */
    double limit = (double)CODEC_MAX_ABS * (double)r->k / (double)r->d;
    if (!randk_all_within(x, r->d, limit)) {
        size_t i = 0;
        while (fabs((double)x[i]) <= limit)
            i++;
        return errbuf_set(eb, -ERR_RANGE,
                          "randk: coordinate %zu of the vector to send is %g: diverged?", i,
                          (double)x[i]);
    }
    randk_draw(r, link);
    for (size_t j = 0; j < r->k; j++)
        codec_put_f32(out + j * sizeof(float), x[r->idx[j]]);
    *len = need;
    return 0;
}

static int
randk_decode_add(void *impl, float *acc, const uint8_t *msg, size_t len, double weight,
                 const struct codec_link *link, struct errbuf *eb)
{
    struct randk *r = impl;
    size_t need = r->k * sizeof(float);
    if (len != need)
        return codec_corrupt(eb, len < need ? len : need,
                             "randk: message of %zu bytes, expected %zu (k = %zu)", len, need,
                             r->k);
    for (size_t j = 0; j < r->k; j++)
        if (!isfinite(codec_get_f32(msg + j * sizeof(float))))
            return codec_corrupt(eb, j * sizeof(float), "randk: value %zu is not finite", j);
    randk_draw(r, link);
    float s = (float)(weight * (double)r->d / (double)r->k);
    for (size_t j = 0; j < r->k; j++)
        acc[r->idx[j]] += s * codec_get_f32(msg + j * sizeof(float));
    return 0;
}

static void
randk_decode_finish(void *impl, float *out, float *acc, const struct codec_link *link)
{
    const struct randk *r = impl;
    if (out != acc)
        memmove(out, acc, r->d * sizeof *out);
}

/* The table entry named by CODEC_ROW(RANDK, randk_codec) in codec/codec.h. */
const struct codec_def randk_codec = {
    .name = "randk",
    .summary = "rand-k: k = b*d/32 random coordinates (shared seed) scaled by d/k, float32",
    .default_bits = 2,
    .uses = 0, /* reads bits and rotation only; does not rotate, so no blocks or packet loss */
    .fixed_length = NULL,
    .check = randk_check,
    .make = randk_make,
    .destroy = randk_destroy,
    .max_bytes = randk_max_bytes,
    .acc_len = randk_acc_len,
    .encode = randk_encode,
    .decode_add = randk_decode_add,
    .decode_finish = randk_decode_finish,
};
