/*
 * Bit-exactness of THC's encoder (codec/thc.c) at the dimensions where its fast paths run
 * (a 2^20 rotation goes through every level of codec/rht.c's blocking) and at tiny ones:
 * the messages and decoded vectors of the plain interface, and the integers of the
 * homomorphic one (thc_encode_ints()), for each table (b = 1, 2, 3, 4, 8, g = 16, uniform
 * levels), per-client and shared rotations, on inputs whose norm's double sum is sensitive
 * to its order (large and tiny coordinates mixed, squares beyond float range). The digests
 * were taken with the encoder that summed the norm in its own pass and rounded the whole
 * rotated vector before packing it; a deliberate change of THC's output changes them (take
 * the new value from the failure message and say why in the commit).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "base/rng.h"
#include "codec/codec.h"
#include "codec/rht.h"
#include "codec/sround.h"
#include "codec/thc.h"
#include "tests/unit/codec/suites.h"

#define TS_ROUNDS 5

/* Round k's input: uniform; times i % 97; times 1e18 (squares beyond float); zero; mixed. */
static void
ts_input(float *x, size_t d, uint64_t k)
{
    struct rng r;
    rng_init_stream(&r, 21, RNG_PURPOSE_TEST, k, 0);
    static const float big[TS_ROUNDS] = { 1.0f, 0.0f, 1e18f, 0.0f, 3e4f };
    static const float small[TS_ROUNDS] = { 1.0f, 0.0f, 1e18f, 0.0f, 1e-3f };
    for (size_t i = 0; i < d; i++) {
        float u = (float)(rng_uniform(&r) - 0.5);
        unsigned c = (unsigned)(k % TS_ROUNDS);
        x[i] = c == 3   ? 0.0f
               : c == 1 ? u * (float)(i % 97)
                        : u * (i % 1000 == 7 ? big[c] : small[c]);
    }
}

/* FNV-1a over TS_ROUNDS rounds of messages and decoded vectors, or (ints) of the
 * homomorphic interface's integers under a common norm and their decoding alone. */
static uint64_t
ts_digest(const struct codec_params *p, size_t d, bool ints)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(codec_params_check(p, d, &eb), 0);
    struct codec *c = ints ? NULL : codec_new(p, d);
    struct thc *t = ints ? thc_new(p, d) : NULL;
    size_t cap = c != NULL ? codec_max_bytes(c) : 2 * thc_padded_len(t);
    float *x = mem_alloc(d * sizeof *x), *out = mem_alloc(d * sizeof *out);
    uint8_t *msg = mem_alloc(cap);
    ck_assert(x != NULL && out != NULL && msg != NULL && (c != NULL || t != NULL));
    uint64_t h = UINT64_C(1469598103934665603);
    for (uint64_t k = 0; k < TS_ROUNDS; k++) {
        ts_input(x, d, k);
        struct codec_link l = { .seed = 9, .round = k, .client = k % 3 };
        size_t len = cap;
        if (ints) {
            double norm = k == 2 ? 1e21 : 300.0;
            ck_assert_int_eq(thc_encode_ints(t, (uint16_t *)(void *)msg, x, norm, &l, &eb), 0);
            thc_decode_ints(t, out, (uint16_t *)(void *)msg, norm, &l);
        } else {
            ck_assert_int_eq(codec_encode(c, msg, cap, &len, x, &l, &eb), 0);
            ck_assert_int_eq(codec_decode(c, out, msg, len, &l, &eb), 0);
        }
        h = tdme_fnv1a(h, msg, len);
        h = tdme_fnv1a(h, out, d * sizeof *out);
    }
    codec_free(c);
    thc_free(t);
    mem_free(x);
    mem_free(out);
    mem_free(msg);
    return h;
}

struct ts_case {
    double bits;
    size_t d;
    unsigned g;
    bool uniform, shared, pad, ints;
    uint64_t digest;
};

static const struct ts_case ts_cases[] = {
    { 4, 1 << 20, 0, false, false, false, false, UINT64_C(0xb189261b8115b016) },
    { 4, 1 << 20, 0, false, true, false, false, UINT64_C(0xbf868e1104d5c0f0) },
    { 4, 1 << 20, 0, true, false, false, false, UINT64_C(0xc50d4a9fdcfdd2a9) },
    { 4, 1 << 20, 16, false, false, false, false, UINT64_C(0xc1b5fc83d8da16d2) },
    { 2, 1 << 20, 0, false, false, false, false, UINT64_C(0xd4f9e199162db68f) },
    { 8, 1 << 18, 0, false, false, false, false, UINT64_C(0xa8a0a6a30a31d812) },
    { 1, 1 << 18, 0, false, false, false, false, UINT64_C(0xe7c8c52026c5e088) },
    { 3, 300000, 16, false, false, true, false, UINT64_C(0x2e733e2e224a801d) },
    { 4, 300000, 0, false, false, false, false, UINT64_C(0xa2b70a1ada6ac53f) },
    { 4, 3, 0, false, false, false, false, UINT64_C(0xc48e8f45bf5b4d97) },
    { 4, 17, 0, false, false, true, false, UINT64_C(0x92d6ac8a19c580b1) },
    { 2, 40, 0, false, false, true, false, UINT64_C(0xe04ba0bf40a1c8e8) },
    { 4, 1 << 20, 0, false, true, false, true, UINT64_C(0x8ca57b1160a21199) },
    { 4, 1 << 19, 0, true, true, false, true, UINT64_C(0xca9c368c4e5ec823) },
    { 2, 1 << 18, 0, false, true, false, true, UINT64_C(0x12b2e56db851d794) },
    { 8, 5000, 0, false, true, false, true, UINT64_C(0x9eb8a2fef65ea67b) },
};

START_TEST(thc_fast_paths_match_pinned_digests)
{
    const struct ts_case *tc = &ts_cases[_i];
    struct codec_params p;
    codec_params_default(&p);
    p.kind = CODEC_THC;
    p.bits = tc->bits;
    p.thc_g = tc->g;
    p.thc_uniform = tc->uniform;
    p.rotation = tc->shared ? CODEC_ROTATION_SHARED : CODEC_ROTATION_PER_CLIENT;
    p.blocks = tc->pad ? CODEC_BLOCKS_PAD : CODEC_BLOCKS_POW2;
    uint64_t h = ts_digest(&p, tc->d, tc->ints);
    ck_assert_msg(h == tc->digest, "thc %g bits d %zu g %u%s%s%s%s: digest %016llx, pinned %016llx",
                  tc->bits, tc->d, tc->g, tc->uniform ? " uniform" : "",
                  tc->shared ? " shared" : "", tc->pad ? " pad" : "", tc->ints ? " ints" : "",
                  (unsigned long long)h, (unsigned long long)tc->digest);
}
END_TEST

/*
 * rht_forward_norm() on every path gives rht_forward_from()'s rotation bit for bit and the
 * sum of squares of the plain loop in coordinate order, at sizes that end in the in-block,
 * chunk and top-level passes, with d below D, large and tiny coordinates mixed.
 */
START_TEST(rht_forward_norm_matches_loop)
{
    static const size_t dims[][2] = { { 5, 8 },           { 16, 16 },          { 100, 128 },
                                      { 2048, 2048 },     { 3000, 4096 },      { 131072, 131072 },
                                      { 200001, 262144 }, { 1 << 20, 1 << 20 } };
    static const unsigned flags[] = { 0, RHT_AVX2, RHT_PORTABLE, RHT_UNFUSED };
    size_t Dmax = 1 << 20;
    float *x = mem_alloc(Dmax * sizeof *x), *y0 = mem_alloc(Dmax * sizeof *y0);
    float *y1 = mem_alloc(Dmax * sizeof *y1);
    uint8_t *sg = mem_alloc(rht_sign_bytes(Dmax));
    ck_assert(x != NULL && y0 != NULL && y1 != NULL && sg != NULL);
    for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++) {
        size_t d = dims[c][0], D = dims[c][1];
        ts_input(x, d, c % 2 == 0 ? 1 : 4);
        struct rng r;
        rng_init_stream(&r, 22, RNG_PURPOSE_TEST, c, 0);
        rht_signs_draw(sg, D, &r);
        double want = 0;
        for (size_t i = 0; i < d; i++)
            want += (double)x[i] * x[i];
        (void)rht_forward_from(y0, x, d, D, sg);
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
            memset(y1, 0xff, D * sizeof *y1);
            double got = rht_forward_norm(y1, x, d, D, sg, NULL, flags[f]);
            ck_assert_msg(got == want, "d %zu flags %u: %.17g, want %.17g", d, flags[f], got, want);
            ck_assert_mem_eq(y1, y0, D * sizeof *y0);
        }
    }
    mem_free(x);
    mem_free(y0);
    mem_free(y1);
    mem_free(sg);
}
END_TEST

/*
 * sround_cells() on its three paths (AVX-512 for g < 32, AVX2, portable): the same levels and
 * tie draws for every g < 32, on values at and next to the clamp, integer u, the table's
 * levels and the draws' thresholds, and non-finite values (an error on every path).
 */
START_TEST(sround_cells_paths_agree)
{
    enum { N = 1 << 15 };
    static float y[N];
    static uint16_t k[3][N], rd[N];
    static const enum sround_path paths[] = { SROUND_BEST, SROUND_AVX2, SROUND_PORTABLE };
    for (unsigned g = 1; g < 32; g++) {
        /* levels increasing from 0 to g (uneven when g > 15); cell[u]: the last level
         * below the top one that is <= u */
        unsigned levels = g < 15 ? g + 1 : 16;
        uint16_t table[16], cell[32];
        for (unsigned j = 0; j < levels; j++)
            table[j] = (uint16_t)(j * g / (levels - 1));
        for (unsigned u = 0; u <= g; u++) {
            unsigned j = levels - 2;
            while (table[j] > u)
                j--;
            cell[u] = (uint16_t)j;
        }
        double sc = 1.3, T = 2.1538746940614564, to_u = g / (2.0 * T);
        struct rng r, c;
        rng_init_stream(&r, 23, RNG_PURPOSE_TEST, g, 0);
        rng_init_stream(&c, 24, RNG_PURPOSE_TEST, g, 0);
        rng_fast_u16s(&c, rd, N);
        for (size_t i = 0; i < N; i++) {
            /* within a few error bounds of an integer u, of a coin's thresholds (the draw
             * and the draw + 1, in units of 2^-16 of the cell) or of a clamp */
            unsigned j = (unsigned)rng_below(&r, levels - 1);
            double w = table[j + 1] - table[j], e = (rng_uniform(&r) * 4 - 2) * g * 0x1p-20;
            double ex = (rng_uniform(&r) * 4 - 2) * (g + 1) / 16.0;
            double u = i % 4 == 0 ? (double)rng_below(&r, g + 1) + e
                       : i % 4 == 1
                           ? table[j] + (rd[i] + (double)rng_below(&r, 2) + ex) * 0x1p-16 * w
                       : i % 4 == 2 ? (rng_below(&r, 2) ? 0.0 : (double)g) + e
                                    : rng_uniform(&r) * g;
            float v = (float)((u / to_u - T) / sc);
            for (int n = (int)rng_below(&r, 7) - 3; n != 0; n += n > 0 ? -1 : 1)
                v = nextafterf(v, n > 0 ? INFINITY : -INFINITY);
            y[i] = v;
        }
        uint64_t pos[3];
        for (int p = 0; p < 3; p++) {
            struct rng a;
            rng_init_stream(&a, 24, RNG_PURPOSE_TEST, g, 0);
            ck_assert_int_eq(sround_cells(k[p], y, N, sc, T, to_u, g, cell, table, &a, paths[p]),
                             0);
            pos[p] = rng_tell(&a);
        }
        ck_assert_mem_eq(k[0], k[2], sizeof k[0]);
        ck_assert_mem_eq(k[1], k[2], sizeof k[1]);
        ck_assert(pos[0] == pos[2] && pos[1] == pos[2]);
        y[N / 2 + g] = g % 2 ? INFINITY : NAN;
        for (int p = 0; p < 3; p++) {
            struct rng a;
            rng_init_stream(&a, 24, RNG_PURPOSE_TEST, g, 0);
            ck_assert_int_eq(sround_cells(k[p], y, N, sc, T, to_u, g, cell, table, &a, paths[p]),
                             -1);
        }
    }
}
END_TEST

/*
 * thc_encode() settles the coin ties it listed after the rotation, or rounds the whole vector
 * again when there are more than it may list: the same message either way, with every tie
 * listed, with none (the fallback from the first tie) and with one.
 */
START_TEST(thc_ties_fallback_same_message)
{
    size_t d = 1 << 20;
    struct codec_params p;
    codec_params_default(&p);
    p.kind = CODEC_THC;
    p.bits = 4;
    struct thc *t = thc_new(&p, d);
    float *x = mem_alloc(d * sizeof *x);
    ck_assert(t != NULL && x != NULL);
    size_t cap = thc_max_bytes(t), len;
    uint8_t *m0 = mem_alloc(cap), *m1 = mem_alloc(cap);
    ck_assert(m0 != NULL && m1 != NULL);
    struct errbuf eb;
    for (uint64_t k = 0; k < 2; k++) {
        ts_input(x, d, k);
        struct codec_link l = { .seed = 4, .round = k, .client = 1 };
        thc_set_ties_max(t, 256);
        ck_assert_int_eq(thc_encode(t, m0, cap, &len, x, &l, &eb), 0);
        for (size_t n = 0; n < 2; n++) {
            thc_set_ties_max(t, n);
            ck_assert_int_eq(thc_encode(t, m1, cap, &len, x, &l, &eb), 0);
            ck_assert_mem_eq(m0, m1, cap);
        }
    }
    thc_free(t);
    mem_free(x);
    mem_free(m0);
    mem_free(m1);
}
END_TEST

Suite *
thc_speed_suite(void)
{
    Suite *s = suite_create("thc_speed");
    TCase *tc = tcase_create("thc_speed");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, rht_forward_norm_matches_loop);
    tcase_add_test(tc, sround_cells_paths_agree);
    tcase_add_test(tc, thc_ties_fallback_same_message);
    tcase_add_loop_test(tc, thc_fast_paths_match_pinned_digests, 0,
                        (int)(sizeof ts_cases / sizeof ts_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}
