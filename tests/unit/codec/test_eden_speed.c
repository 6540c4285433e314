/*
 * Bit-exactness of the rotation codecs' fast paths (codec/eden.c, codec/rht.c): EDEN at
 * integer, fractional and sub-1 bits, DRIVE and TurboQuant_mse give the messages and
 * decoded vectors pinned below, whatever path (vector quantiser, fused rotation, portable
 * code) runs, at powers of two and other dimensions, padded or split into blocks, with
 * each scale and rotation. The digests were taken with the plain loops the fast paths
 * replace; a deliberate change of a codec's output changes them (take the new value from
 * the failure message and say why in the commit).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "base/rng.h"
#include "codec/codec.h"
#include "codec/eden.h"
#include "tests/unit/codec/suites.h"

#define ES_ROUNDS 6

/* Round k's input: uniform, uniform with large coordinates, all zero, a few nonzero. */
static void
es_input(float *x, size_t d, uint64_t k)
{
    struct rng r;
    rng_init_stream(&r, 3, RNG_PURPOSE_TEST, k, 0);
    for (size_t i = 0; i < d; i++) {
        float u = (float)(rng_uniform(&r) - 0.5);
        switch (k % 4) {
        case 0:
            x[i] = u;
            break;
        case 1:
            x[i] = u * (float)(i % 97);
            break;
        case 2:
            x[i] = 0.0f;
            break;
        default:
            x[i] = i % 61 == 5 ? u : 0.0f;
            break;
        }
    }
}

/* FNV-1a over ES_ROUNDS rounds of messages and decoded vectors of codec p at d. */
static uint64_t
es_digest(const struct codec_params *p, size_t d)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(codec_params_check(p, d, &eb), 0);
    struct codec *c = codec_new(p, d);
    float *x = mem_alloc(d * sizeof *x), *out = mem_alloc(d * sizeof *out);
    uint8_t *msg = c != NULL ? mem_alloc(codec_max_bytes(c)) : NULL;
    ck_assert(c != NULL && x != NULL && out != NULL && msg != NULL);
    uint64_t h = UINT64_C(1469598103934665603);
    for (uint64_t k = 0; k < ES_ROUNDS; k++) {
        es_input(x, d, k);
        struct codec_link l = { .seed = 5, .round = k, .client = k % 3 };
        size_t len;
        ck_assert_int_eq(codec_encode(c, msg, codec_max_bytes(c), &len, x, &l, &eb), 0);
        h = tdme_fnv1a(h, msg, len);
        ck_assert_int_eq(codec_decode(c, out, msg, len, &l, &eb), 0);
        h = tdme_fnv1a(h, out, d * sizeof *out);
    }
    codec_free(c);
    mem_free(x);
    mem_free(out);
    mem_free(msg);
    return h;
}

struct es_case {
    enum codec_kind kind;
    double bits;
    size_t d;
    enum codec_blocks blocks;
    enum codec_scale scale;
    enum codec_rotation rotation;
    uint64_t digest;
};

#define PAD    CODEC_BLOCKS_PAD
#define POW2   CODEC_BLOCKS_POW2
#define UNB    CODEC_SCALE_UNBIASED
#define BIA    CODEC_SCALE_BIASED
#define MAT    CODEC_SCALE_MATCHED_NORM
#define PERCL  CODEC_ROTATION_PER_CLIENT
#define SHARED CODEC_ROTATION_SHARED

static const struct es_case es_cases[] = {
    { CODEC_EDEN, 1, 8, PAD, UNB, PERCL, UINT64_C(0xde23771d8df60b05) },
    { CODEC_EDEN, 1, 1000, PAD, UNB, PERCL, UINT64_C(0x5d5cbf7bea92fb96) },
    { CODEC_EDEN, 1, 4097, PAD, UNB, PERCL, UINT64_C(0x183a5c79e03b5e93) },
    { CODEC_EDEN, 1, 100000, POW2, UNB, PERCL, UINT64_C(0x3d877ac73059446e) },
    { CODEC_EDEN, 1, 65536, PAD, BIA, PERCL, UINT64_C(0xa2480e0c4d4edd82) },
    { CODEC_EDEN, 2, 8, PAD, UNB, PERCL, UINT64_C(0x3e712447a2a3434e) },
    { CODEC_EDEN, 2, 1000, PAD, UNB, PERCL, UINT64_C(0xb361d6eed053cdf5) },
    { CODEC_EDEN, 2, 4097, PAD, MAT, PERCL, UINT64_C(0x55720618f55a05f2) },
    { CODEC_EDEN, 2, 100000, POW2, UNB, PERCL, UINT64_C(0xc5500806d2ab37f0) },
    { CODEC_EDEN, 2, 65536, PAD, UNB, SHARED, UINT64_C(0x26b6004e8591b71e) },
    { CODEC_EDEN, 3, 1000, PAD, UNB, PERCL, UINT64_C(0xde187754738ba070) },
    { CODEC_EDEN, 3, 100000, POW2, UNB, PERCL, UINT64_C(0xc0925eb60cffccc1) },
    { CODEC_EDEN, 4, 8, PAD, UNB, PERCL, UINT64_C(0x1beb06d1bddd16e6) },
    { CODEC_EDEN, 4, 1000, PAD, UNB, PERCL, UINT64_C(0xa3fc0d71fa6ff3bc) },
    { CODEC_EDEN, 4, 4097, PAD, BIA, PERCL, UINT64_C(0xf7684afa03f192e4) },
    { CODEC_EDEN, 4, 100000, POW2, UNB, PERCL, UINT64_C(0x7f9e154a756cab1a) },
    { CODEC_EDEN, 4, 131072, PAD, MAT, PERCL, UINT64_C(0xa6a69da999662ecb) },
    { CODEC_EDEN, 1.5, 8, PAD, UNB, PERCL, UINT64_C(0x7b67a7edab12d8ff) },
    { CODEC_EDEN, 1.5, 1000, PAD, UNB, PERCL, UINT64_C(0x81a9d5ceb7b8a56c) },
    { CODEC_EDEN, 1.5, 4097, PAD, BIA, PERCL, UINT64_C(0x15b26ef1efca341d) },
    { CODEC_EDEN, 1.5, 100000, POW2, UNB, PERCL, UINT64_C(0xc5eced3739fecf33) },
    { CODEC_EDEN, 1.5, 65536, PAD, MAT, PERCL, UINT64_C(0xca4e1900a4010536) },
    { CODEC_EDEN, 1.5, 65536, PAD, UNB, SHARED, UINT64_C(0xf98631de982f079a) },
    { CODEC_EDEN, 2.5, 4097, PAD, UNB, PERCL, UINT64_C(0x33713f227026bb76) },
    { CODEC_EDEN, 3.25, 100000, POW2, UNB, PERCL, UINT64_C(0x3f9d5c72bc9c843c) },
    { CODEC_EDEN, 4.5, 1000, PAD, UNB, PERCL, UINT64_C(0xc8efc96dce882ec0) },
    { CODEC_EDEN, 0.5, 1000, PAD, UNB, PERCL, UINT64_C(0xd96bd3fc534a82d4) },
    { CODEC_EDEN, 0.5, 100000, POW2, BIA, PERCL, UINT64_C(0x07b7f3868fac7462) },
    { CODEC_EDEN, 0.25, 65536, PAD, MAT, PERCL, UINT64_C(0x3a6e2a3dec8c8d6f) },
    { CODEC_EDEN, 6, 4097, PAD, UNB, PERCL, UINT64_C(0x791b704f9d9b18db) },
    { CODEC_EDEN, 1, 1048576, PAD, UNB, PERCL, UINT64_C(0x637ce0ca3834b2ac) },
    { CODEC_EDEN, 4, 1048576, PAD, UNB, PERCL, UINT64_C(0xd60759e68bc99107) },
    { CODEC_EDEN, 1.5, 1048576, PAD, UNB, PERCL, UINT64_C(0x01cb0d37a09783a2) },
    { CODEC_EDEN, 2, 1048581, POW2, UNB, PERCL, UINT64_C(0xee622c90c14bff77) },
    { CODEC_DRIVE, 1, 8, PAD, UNB, PERCL, UINT64_C(0x34bf4f4e3b751fde) },
    { CODEC_DRIVE, 1, 4097, PAD, UNB, PERCL, UINT64_C(0xc0c76e23f84cda93) },
    { CODEC_DRIVE, 1, 100000, POW2, UNB, PERCL, UINT64_C(0xecd6edd62ecc7872) },
    { CODEC_TURBOQUANT_MSE, 2, 8, PAD, UNB, PERCL, UINT64_C(0xdab5c9802329eb50) },
    { CODEC_TURBOQUANT_MSE, 2, 4097, PAD, UNB, PERCL, UINT64_C(0xa2dcda944f747c3c) },
    { CODEC_TURBOQUANT_MSE, 2, 100000, POW2, UNB, PERCL, UINT64_C(0xa4180d6f24571f36) },
    { CODEC_TURBOQUANT_MSE, 4, 65536, PAD, UNB, PERCL, UINT64_C(0x4c4f8288d2a8868b) },
};

static void
es_params(struct codec_params *p, const struct es_case *c)
{
    codec_params_default(p);
    p->kind = c->kind;
    p->bits = c->bits;
    p->blocks = c->blocks;
    p->scale = c->scale;
    p->rotation = c->rotation;
}

START_TEST(rotation_codecs_match_pinned_digests)
{
    const struct es_case *c = &es_cases[_i];
    struct codec_params p;
    es_params(&p, c);
    uint64_t h = es_digest(&p, c->d);
    ck_assert_msg(h == c->digest,
                  "case %d: %s at %g bits, d %zu: digest 0x%016llx, pinned 0x%016llx", _i,
                  codec_kind_name(c->kind), c->bits, c->d, (unsigned long long)h,
                  (unsigned long long)c->digest);
}
END_TEST

/*
 * The AVX2 paths give the portable code's messages and decoded vectors (EDEN_PORTABLE): the
 * quantiser at 1, 2 and 4 bits, the fractional and sub-1-bit fields and sums (lane sums, or
 * the in-order ones when the lanes' scale might round differently) and their unpacking, both
 * tie rules and the fixed scale, at dimensions whose last pass has 1, 2 or 3 levels, on
 * inputs with values exactly on boundaries (zeros) and far beyond the outer ones.
 */
START_TEST(avx2_paths_match_portable)
{
    static const size_t dims[] = { 8, 16, 24, 1000, 4096, 65536, 262144 };
    static const double widths[] = { 1, 2, 3, 4, 1.5, 2.5, 3.25, 4.5, 0.5, 0.125 };
    static const unsigned flags[] = { 0, EDEN_TIES_UP, EDEN_FIXED_SCALE };
    size_t d = dims[_i];
    float *x = mem_alloc(d * sizeof *x), *acc1 = mem_alloc(d * sizeof *acc1);
    float *acc2 = mem_alloc(d * sizeof *acc2);
    ck_assert(x != NULL && acc1 != NULL && acc2 != NULL);
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
            struct codec_params p;
            codec_params_default(&p);
            p.kind = CODEC_EDEN;
            p.bits = widths[w];
            struct eden *fast = eden_new(&p, d, flags[f]);
            struct eden *port = eden_new(&p, d, flags[f] | EDEN_PORTABLE);
            ck_assert(fast != NULL && port != NULL);
            size_t cap = eden_max_bytes(fast);
            uint8_t *m1 = mem_alloc(cap), *m2 = mem_alloc(cap);
            ck_assert(m1 != NULL && m2 != NULL);
            for (uint64_t k = 0; k < 4; k++) {
                es_input(x, d, k);
                if (k == 2) /* one huge coordinate (within CODEC_MAX_ABS, as codec_encode()
                             * requires): most others near 0 */
                    x[d / 2] = 1e24f;
                struct codec_link l = { .seed = 9, .round = k, .client = 1 };
                struct errbuf eb;
                size_t n1, n2;
                ck_assert_int_eq(eden_encode(fast, m1, cap, &n1, x, &l, &eb), 0);
                ck_assert_int_eq(eden_encode(port, m2, cap, &n2, x, &l, &eb), 0);
                ck_assert_uint_eq(n1, n2);
                ck_assert_msg(memcmp(m1, m2, n1) == 0, "d %zu, %g bits, flags %u, round %llu", d,
                              p.bits, flags[f], (unsigned long long)k);
                /* Decoded by each, into an accumulator holding a previous vector. */
                for (size_t i = 0; i < d; i++)
                    acc1[i] = acc2[i] = x[(i * 7) % d];
                ck_assert_int_eq(eden_decode_add(fast, acc1, m1, n1, 0.75, &l, &eb), 0);
                ck_assert_int_eq(eden_decode_add(port, acc2, m1, n1, 0.75, &l, &eb), 0);
                ck_assert_msg(memcmp(acc1, acc2, d * sizeof *acc1) == 0,
                              "decode: d %zu, %g bits, flags %u, round %llu", d, p.bits, flags[f],
                              (unsigned long long)k);
            }
            mem_free(m1);
            mem_free(m2);
            eden_free(fast);
            eden_free(port);
        }
    }
    mem_free(x);
    mem_free(acc1);
    mem_free(acc2);
}
END_TEST

Suite *
eden_speed_suite(void)
{
    Suite *s = suite_create("eden_speed");
    TCase *tc = tcase_create("eden_speed");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, rotation_codecs_match_pinned_digests, 0,
                        (int)(sizeof es_cases / sizeof es_cases[0]));
    tcase_add_loop_test(tc, avx2_paths_match_portable, 0, 7);
    suite_add_tcase(s, tc);
    return s;
}
