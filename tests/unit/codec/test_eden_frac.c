/*
 * Fractional and sub-1-bit EDEN (codec/eden.c): the variants test_eden_speed.c does not pin
 * (widths whose books are not both searched in the fused pass, packet loss, the exact
 * codebook, sub-1-bit widths at large dimensions) give the messages and decoded vectors
 * pinned below; and the AVX-512, AVX2 and portable paths (EDEN_NO_AVX512, EDEN_PORTABLE)
 * give the same messages and the same decoded sums, on every width and dimension kind. The
 * digests were taken with the code before the AVX-512 paths; a deliberate change of the
 * codec's output changes them (take the new value from the failure message and say why).
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

/* Round k's input: uniform; scaled by position; zero but every 53rd; one large value. */
static void
ef_input(float *x, size_t d, uint64_t k)
{
    struct rng r;
    rng_init_stream(&r, 11, RNG_PURPOSE_TEST, k, 0);
    for (size_t i = 0; i < d; i++) {
        float u = (float)(rng_uniform(&r) - 0.5);
        float scale[4] = { 1.0f, (float)(i % 89), i % 53 == 7 ? 1.0f : 0.0f,
                           i == d / 3 ? 6e7f : 1.0f };
        x[i] = u * scale[k % 4];
    }
}

struct ef_case {
    double bits;
    size_t d;
    double loss;
    bool exact;
    enum codec_scale scale;
    uint64_t digest;
};

static const struct ef_case ef_cases[] = {
    { 0.125, 65536, 0, false, CODEC_SCALE_UNBIASED, UINT64_C(0xa82f1cfa7149a14d) },
    { 0.75, 1048576, 0, false, CODEC_SCALE_UNBIASED, UINT64_C(0xa5dcd2fb332ff3db) },
    { 1.5, 4096, 0.2, false, CODEC_SCALE_UNBIASED, UINT64_C(0xc9c7baca823f96c5) },
    { 1.5, 4096, 0, true, CODEC_SCALE_BIASED, UINT64_C(0xb51e49bf267c9bf6) },
    { 2.25, 262144, 0, false, CODEC_SCALE_MATCHED_NORM, UINT64_C(0xa7913d77f31a4308) },
    { 3.5, 4097, 0, false, CODEC_SCALE_UNBIASED, UINT64_C(0x25c292265554990e) },
    { 5.5, 1000, 0, false, CODEC_SCALE_UNBIASED, UINT64_C(0x285b3a6215f23d8d) },
    { 7.5, 1000, 0, false, CODEC_SCALE_UNBIASED, UINT64_C(0x52f55af7555dd6df) },
    { 0.5, 24, 0, false, CODEC_SCALE_UNBIASED, UINT64_C(0x879eaf789029de75) },
    { 1.5, 16, 0, false, CODEC_SCALE_UNBIASED, UINT64_C(0x79d9d0e84d63742f) },
};

START_TEST(frac_eden_matches_pinned_digests)
{
    const struct ef_case *c = &ef_cases[_i];
    struct codec_params p;
    codec_params_default(&p);
    p.kind = CODEC_EDEN;
    p.bits = c->bits;
    p.packet_loss = c->loss;
    p.exact_codebook = c->exact;
    p.scale = c->scale;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(codec_params_check(&p, c->d, &eb), 0);
    struct codec *cd = codec_new(&p, c->d);
    float *x = mem_alloc(c->d * sizeof *x), *out = mem_alloc(c->d * sizeof *out);
    uint8_t *msg = cd != NULL ? mem_alloc(codec_max_bytes(cd)) : NULL;
    ck_assert(cd != NULL && x != NULL && out != NULL && msg != NULL);
    uint64_t h = UINT64_C(1469598103934665603);
    for (uint64_t k = 0; k < 4; k++) {
        ef_input(x, c->d, k);
        struct codec_link l = { .seed = 7, .round = k, .client = k % 2 };
        size_t len;
        ck_assert_int_eq(codec_encode(cd, msg, codec_max_bytes(cd), &len, x, &l, &eb), 0);
        h = tdme_fnv1a(h, msg, len);
        ck_assert_int_eq(codec_decode(cd, out, msg, len, &l, &eb), 0);
        h = tdme_fnv1a(h, out, c->d * sizeof *out);
    }
    codec_free(cd);
    mem_free(x);
    mem_free(out);
    mem_free(msg);
    ck_assert_msg(h == c->digest, "case %d: %g bits, d %zu: digest 0x%016llx, pinned 0x%016llx", _i,
                  c->bits, c->d, (unsigned long long)h, (unsigned long long)c->digest);
}
END_TEST

/*
 * The AVX-512, AVX2 and portable paths give the same messages and the same decoded sums:
 * every fractional and sub-1-bit width whose fields are grouped, both tie rules and the
 * fixed scale, at dimensions of one or more 16-coordinate steps and at 8, on inputs far
 * beyond the outer boundaries and on a zero input (a zero norm puts every boundary at 0).
 */
START_TEST(frac_paths_match)
{
    static const size_t dims[] = { 8, 16, 24, 48, 1000, 4096, 65536 };
    static const double widths[] = { 1.5, 2.5, 3.5, 1.25, 2.75,  4.5,
                                     5.5, 6.5, 7.5, 0.5,  0.125, 0.875 };
    static const unsigned flags[] = { 0, EDEN_TIES_UP, EDEN_FIXED_SCALE };
    static const unsigned paths[] = { 0, EDEN_NO_AVX512, EDEN_PORTABLE };
    size_t d = dims[_i];
    float *x = mem_alloc(d * sizeof *x), *acc = mem_alloc(3 * d * sizeof *acc);
    ck_assert(x != NULL && acc != NULL);
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
            struct codec_params p;
            codec_params_default(&p);
            p.kind = CODEC_EDEN;
            p.bits = widths[w];
            struct eden *e[3];
            for (unsigned k = 0; k < 3; k++) {
                e[k] = eden_new(&p, d, flags[f] | paths[k]);
                ck_assert(e[k] != NULL);
            }
            size_t cap = eden_max_bytes(e[0]);
            uint8_t *m = mem_alloc(3 * cap);
            ck_assert(m != NULL);
            for (uint64_t r = 0; r < 5; r++) {
                ef_input(x, d, r);
                if (r == 4) /* all zero: every rotated value on every boundary (tie rules) */
                    memset(x, 0, d * sizeof *x);
                struct codec_link l = { .seed = 13, .round = r, .client = 2 };
                struct errbuf eb;
                size_t n[3];
                for (unsigned k = 0; k < 3; k++)
                    ck_assert_int_eq(eden_encode(e[k], m + k * cap, cap, &n[k], x, &l, &eb), 0);
                for (unsigned k = 1; k < 3; k++) {
                    ck_assert_uint_eq(n[0], n[k]);
                    ck_assert_msg(memcmp(m, m + k * cap, n[0]) == 0,
                                  "encode: d %zu, %g bits, flags %u, path %u, round %llu", d,
                                  p.bits, flags[f], k, (unsigned long long)r);
                }
                for (unsigned k = 0; k < 3; k++) {
                    for (size_t i = 0; i < d; i++)
                        acc[k * d + i] = x[(i * 5) % d];
                    ck_assert_int_eq(eden_decode_add(e[k], acc + k * d, m, n[0], 0.5, &l, &eb), 0);
                }
                for (unsigned k = 1; k < 3; k++)
                    ck_assert_msg(memcmp(acc, acc + k * d, d * sizeof *acc) == 0,
                                  "decode: d %zu, %g bits, flags %u, path %u, round %llu", d,
                                  p.bits, flags[f], k, (unsigned long long)r);
            }
            mem_free(m);
            for (unsigned k = 0; k < 3; k++)
                eden_free(e[k]);
        }
    }
    mem_free(x);
    mem_free(acc);
}
END_TEST

Suite *
eden_frac_suite(void)
{
    Suite *s = suite_create("eden_frac");
    TCase *tc = tcase_create("eden_frac");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, frac_eden_matches_pinned_digests, 0,
                        (int)(sizeof ef_cases / sizeof ef_cases[0]));
    tcase_add_loop_test(tc, frac_paths_match, 0, 7);
    suite_add_tcase(s, tc);
    return s;
}
