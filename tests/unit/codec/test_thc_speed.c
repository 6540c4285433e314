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
#include <stdint.h>
#include <string.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "base/rng.h"
#include "codec/codec.h"
#include "codec/thc.h"
#include "tests/unit/codec/suites.h"

#define TS_ROUNDS 5

/* Round k's input: uniform; times i % 97; times 1e18 (squares beyond float); zero; mixed. */
static void
ts_input(float *x, size_t d, uint64_t k)
{
    struct rng r;
    rng_init_stream(&r, 21, RNG_PURPOSE_TEST, k, 0);
    for (size_t i = 0; i < d; i++) {
        float u = (float)(rng_uniform(&r) - 0.5);
        switch (k % TS_ROUNDS) {
        case 0:
            x[i] = u;
            break;
        case 1:
            x[i] = u * (float)(i % 97);
            break;
        case 2:
            x[i] = u * 1e18f;
            break;
        case 3:
            x[i] = 0.0f;
            break;
        default:
            x[i] = i % 1000 == 7 ? u * 3e4f : u * 1e-3f;
            break;
        }
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

Suite *
thc_speed_suite(void)
{
    Suite *s = suite_create("thc_speed");
    TCase *tc = tcase_create("thc_speed");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, thc_fast_paths_match_pinned_digests, 0,
                        (int)(sizeof ts_cases / sizeof ts_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}
