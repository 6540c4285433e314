/* kashin_sq: the representation against its definition, the vector paths against the portable
 * ones, and pinned messages. */
#include <math.h>
#include <string.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "base/rng.h"
#include "codec/codec.h"
#include "codec/kashin_sq.h"
#include "codec/sq.h"
#include "codec/sround.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

/* One kashin_sq instance with its buffers, at d coordinates. */
struct tk {
    struct kashin_sq *k;
    size_t d, cap;
    float *x, *acc;
    uint8_t *msg;
};

static void
tk_init(struct tk *t, size_t d, unsigned bits, enum codec_rotation rot, double loss)
{
    struct codec_params p;
    codec_params_default(&p);
    p.kind = CODEC_KASHIN_SQ;
    p.bits = bits;
    p.rotation = rot;
    p.packet_loss = loss;
    t->d = d;
    t->k = kashin_sq_new(&p, d);
    ck_assert(t->k != NULL);
    t->cap = kashin_sq_max_bytes(t->k);
    t->x = mem_alloc(d * sizeof *t->x);
    t->acc = mem_alloc(kashin_sq_acc_len(t->k) * sizeof *t->acc);
    t->msg = mem_alloc(t->cap);
    ck_assert(t->x != NULL && t->acc != NULL && t->msg != NULL);
}

static void
tk_free(struct tk *t)
{
    kashin_sq_free(t->k);
    mem_free(t->x);
    mem_free(t->acc);
    mem_free(t->msg);
}

/* x: uniform in [-0.5, 0.5), times 1 + i mod 13 on odd rounds (uneven magnitudes). */
static void
tk_input(struct tk *t, uint64_t round)
{
    struct rng r;
    rng_init_stream(&r, 7, RNG_PURPOSE_TEST, round, 0);
    for (size_t i = 0; i < t->d; i++)
        t->x[i] = (float)(rng_uniform(&r) - 0.5) * (round % 2 ? (float)(1 + i % 13) : 1.0f);
}

/* Encodes t->x into t->msg and decodes it into t->acc (cleared first, weight 0.5). */
static size_t
tk_roundtrip(struct tk *t, const struct codec_link *l)
{
    struct errbuf eb;
    size_t len = 0;
    ck_assert_int_eq(kashin_sq_encode(t->k, t->msg, t->cap, &len, t->x, l, &eb), 0);
    ck_assert_uint_eq(len, t->cap);
    memset(t->acc, 0, kashin_sq_acc_len(t->k) * sizeof *t->acc);
    ck_assert_int_eq(kashin_sq_decode_add(t->k, t->acc, t->msg, len, 0.5, l, &eb), 0);
    return len;
}

/* Sizes covering each path: direct (powers of two), one frame, doubled frame; D < 8, < 16,
 * < 32, one L1 block, several. */
static const size_t tk_dims[] = { 1,  2,   3,   5,    7,    8,    15,   16,    28,
                                  32, 100, 120, 1000, 2048, 4096, 5000, 12000, 65536 };

/* The AVX2 kernels (clipping, field sums) give the portable code's messages and sums. */
START_TEST(kashin_vector_paths_match_portable)
{
    static const unsigned widths[] = { 1, 2, 3, 4, 8, 9, 16 };
    for (size_t s = 0; s < sizeof tk_dims / sizeof tk_dims[0]; s++) {
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            for (int variant = 0; variant < 3; variant++) {
                enum codec_rotation rot =
                    variant == 1 ? CODEC_ROTATION_SHARED : CODEC_ROTATION_PER_CLIENT;
                struct tk a, b;
                tk_init(&a, tk_dims[s], widths[w], rot, variant == 2 ? 0.1 : 0.0);
                tk_init(&b, tk_dims[s], widths[w], rot, variant == 2 ? 0.1 : 0.0);
                kashin_sq_set_portable(b.k, true);
                for (uint64_t round = 0; round < 2; round++) {
                    struct codec_link l = { .seed = 3, .round = round, .client = 5 };
                    tk_input(&a, round);
                    tk_input(&b, round);
                    size_t len = tk_roundtrip(&a, &l);
                    tk_roundtrip(&b, &l);
                    ck_assert_mem_eq(a.msg, b.msg, len);
                    ck_assert_mem_eq(a.acc, b.acc, kashin_sq_acc_len(a.k) * sizeof *a.acc);
                }
                tk_free(&a);
                tk_free(&b);
            }
        }
    }
}
END_TEST

/* (−1)^popcount(i & j): the Sylvester Hadamard matrix. */
static double
tk_h(size_t i, size_t j)
{
    return __builtin_popcountll((unsigned long long)(i & j)) % 2 ? -1.0 : 1.0;
}

/*
 * In double, with the frame written out (first d columns of H·S/√D_k, S the signs of the
 * per-client rotation: the shared stream's fast keystream), Kashin's iterations of
 * kashin_sq.h; the message at 16 bits must hold those coefficients up to a quantisation step
 * (plus float rounding), and the decoder must return F^T of the sent coefficients.
 */
START_TEST(kashin_matches_definition)
{
    static const size_t dims[] = { 7, 16, 64, 100, 120, 1000 };
    for (size_t s = 0; s < sizeof dims / sizeof dims[0]; s++) {
        size_t d = dims[s], Dk = kashin_sq_frame_len(d);
        struct tk t;
        tk_init(&t, d, 16, CODEC_ROTATION_PER_CLIENT, 0.0);
        struct codec_link l = { .seed = 3, .round = 1, .client = 5 };
        tk_input(&t, 1);
        tk_roundtrip(&t, &l);
        struct rng r;
        rng_init_stream(&r, l.seed, RNG_PURPOSE_CODEC_SHARED, l.round, l.client);
        uint8_t signs[128] = { 0 };
        rng_fast_bytes(&r, signs, (d + 7) / 8);
        double *a = mem_calloc(Dk, sizeof *a), *y = mem_alloc(Dk * sizeof *y);
        double *res = mem_alloc(d * sizeof *res), *sg = mem_alloc(d * sizeof *sg);
        float *ahat = mem_alloc(Dk * sizeof *ahat);
        uint16_t *idx = mem_alloc(Dk * sizeof *idx);
        ck_assert(a != NULL && y != NULL && res != NULL && sg != NULL && ahat != NULL &&
                  idx != NULL);
        double nx2 = 0, rs = 1.0 / sqrt((double)Dk);
        for (size_t j = 0; j < d; j++) {
            res[j] = t.x[j];
            nx2 += res[j] * res[j];
            sg[j] = (signs[j / 8] >> (j % 8) & 1) ? -1.0 : 1.0;
        }
        double level = sqrt(nx2 / (double)Dk), level0 = level;
        for (int it = 0; it < KASHIN_SQ_ITERS; it++) {
            for (size_t i = 0; i < Dk; i++) {
                double v = 0;
                for (size_t j = 0; j < d; j++)
                    v += tk_h(i, j) * sg[j] * res[j] * rs;
                y[i] = fmin(fmax(v, -level), level);
                a[i] += y[i];
            }
            for (size_t j = 0; j < d; j++) {
                double v = 0;
                for (size_t i = 0; i < Dk; i++)
                    v += tk_h(i, j) * y[i];
                res[j] -= sg[j] * v * rs;
            }
            level *= 0.9;
        }
        struct errbuf eb;
        ck_assert_int_eq(sq_decode(ahat, idx, t.msg, t.cap, Dk, 16, &eb), 0);
        float lo, hi;
        memcpy(&lo, t.msg, sizeof lo);
        memcpy(&hi, t.msg + 4, sizeof hi);
        double tol = ((double)hi - lo) / 65535 + 1e-5 * level0;
        double amin = a[0], amax = a[0];
        for (size_t i = 0; i < Dk; i++) {
            amin = fmin(amin, a[i]);
            amax = fmax(amax, a[i]);
        }
        ck_assert_msg(fabs(lo - amin) <= 1e-5 * level0 && fabs(hi - amax) <= 1e-5 * level0,
                      "d %zu: range [%g, %g], expected [%g, %g]", d, (double)lo, (double)hi, amin,
                      amax);
        for (size_t i = 0; i < Dk; i++)
            ck_assert_msg(fabs(ahat[i] - a[i]) <= tol, "d %zu: coefficient %zu is %g, expected %g",
                          d, i, (double)ahat[i], a[i]);
        for (size_t j = 0; j < d; j++) {
            double v = 0;
            for (size_t i = 0; i < Dk; i++)
                v += tk_h(i, j) * ahat[i];
            v *= 0.5 * sg[j] * rs; /* decoded with weight 0.5 */
            ck_assert_msg(fabs(t.acc[j] - v) <= 1e-5 * level0 * sqrt((double)Dk),
                          "d %zu: decoded %zu is %g, expected %g", d, j, (double)t.acc[j], v);
        }
        mem_free(a);
        mem_free(y);
        mem_free(res);
        mem_free(sg);
        mem_free(ahat);
        mem_free(idx);
        tk_free(&t);
    }
}
END_TEST

/* FNV-1a of the messages and decoded sums of a few rounds at d coordinates and b bits. */
static uint64_t
tk_digest(size_t d, unsigned bits)
{
    struct tk t;
    tk_init(&t, d, bits, CODEC_ROTATION_PER_CLIENT, 0.0);
    uint64_t h = UINT64_C(1469598103934665603);
    for (uint64_t round = 0; round < 3; round++) {
        struct codec_link l = { .seed = 1, .round = round, .client = 2 };
        tk_input(&t, round);
        size_t len = tk_roundtrip(&t, &l);
        for (size_t i = 0; i < len; i++)
            h = (h ^ t.msg[i]) * UINT64_C(1099511628211);
        for (size_t i = 0; i < d; i++) {
            uint32_t u;
            memcpy(&u, &t.acc[i], sizeof u);
            h = (h ^ u) * UINT64_C(1099511628211);
        }
    }
    tk_free(&t);
    return h;
}

/*
 * Pinned messages and decoded vectors (the direct path at 2^16, the doubled frame's
 * iterations at 60000, one frame at 100000). A deliberate change of the codec's output
 * changes them: then take the new values from the failure message.
 */
START_TEST(kashin_digests)
{
    static const struct {
        size_t d;
        unsigned bits;
        uint64_t digest;
    } pins[] = {
        { 65536, 1, UINT64_C(0xcec030c8e785637b) },  { 65536, 2, UINT64_C(0x60425eed9541fb82) },
        { 65536, 4, UINT64_C(0x7ef93a202769eeb2) },  { 60000, 2, UINT64_C(0x0c599ecee9872715) },
        { 100000, 2, UINT64_C(0x1141454f1175f035) }, { 100000, 3, UINT64_C(0xdc5db0637693ad33) },
    };
    for (size_t k = 0; k < sizeof pins / sizeof pins[0]; k++) {
        uint64_t h = tk_digest(pins[k].d, pins[k].bits);
        ck_assert_msg(h == pins[k].digest, "d %zu at %u bits: digest %016llx, pinned %016llx",
                      pins[k].d, pins[k].bits, (unsigned long long)h,
                      (unsigned long long)pins[k].digest);
    }
}
END_TEST

/*
 * sround_twice() is two sround_run() calls bit for bit, on both paths, with the streams left
 * in the same place: 200 batches (about 6 ties of the 16-bit draws expected), some u past
 * 2^15 (the vector path's range), n not a multiple of 8.
 */
START_TEST(kashin_sround_twice_is_two_srounds)
{
    static float v[SROUND_BATCH];
    static uint16_t a1[SROUND_BATCH], a2[SROUND_BATCH], b1[SROUND_BATCH], b2[SROUND_BATCH];
    static uint16_t c1[SROUND_BATCH], c2[SROUND_BATCH];
    struct rng in, ra, rb, rc;
    rng_init_stream(&in, 9, RNG_PURPOSE_TEST, 0, 0);
    rng_init_stream(&ra, 9, RNG_PURPOSE_TEST, 1, 0);
    rng_init_stream(&rb, 9, RNG_PURPOSE_TEST, 1, 0);
    rng_init_stream(&rc, 9, RNG_PURPOSE_TEST, 1, 0);
    for (int batch = 0; batch < 200; batch++) {
        size_t n = batch % 7 == 0 ? SROUND_BATCH - 5 : SROUND_BATCH;
        unsigned top = batch % 5 == 0 ? 65535 : 3;
        for (size_t i = 0; i < n; i++)
            v[i] = (float)rng_uniform(&in) * (i % 50 == 0 ? 2.0f : 1.0f) - 0.25f;
        double off = -0.25, mul = top / 2.5;
        sround_twice(a1, a2, v, n, off, mul, top, &ra, SROUND_BEST);
        sround_run(b1, v, n, off, mul, false, top, &rb, SROUND_BEST);
        sround_run(b2, v, n, off, mul, false, top, &rb, SROUND_BEST);
        sround_twice(c1, c2, v, n, off, mul, top, &rc, SROUND_PORTABLE);
        ck_assert_mem_eq(a1, b1, n * sizeof *a1);
        ck_assert_mem_eq(a2, b2, n * sizeof *a2);
        ck_assert_mem_eq(a1, c1, n * sizeof *a1);
        ck_assert_mem_eq(a2, c2, n * sizeof *a2);
    }
    uint32_t ua = rng_u32(&ra), ub = rng_u32(&rb), uc = rng_u32(&rc);
    ck_assert_uint_eq(ua, ub);
    ck_assert_uint_eq(ua, uc);
    uint16_t fa, fb;
    rng_fast_u16s(&ra, &fa, 1);
    rng_fast_u16s(&rb, &fb, 1);
    ck_assert_uint_eq(fa, fb);
}
END_TEST

Suite *
kashin_suite(void)
{
    Suite *s = suite_create("kashin");
    TCase *tc = tcase_create("kashin");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kashin_vector_paths_match_portable);
    tcase_add_test(tc, kashin_matches_definition);
    tcase_add_test(tc, kashin_digests);
    tcase_add_test(tc, kashin_sround_twice_is_two_srounds);
    suite_add_tcase(s, tc);
    return s;
}
