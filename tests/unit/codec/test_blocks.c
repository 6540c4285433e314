/*
 * blocks: the power-of-two block split of codec/blocks.h and codec_params.blocks. Exact
 * layouts; a power-of-two dimension is unchanged; every rotation codec round-trips at odd
 * dimensions with exact message lengths; and the error and bits just above a power of two
 * match those at the power of two (tolerances stated at each check).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "codec/blocks.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

START_TEST(layout)
{
    struct blocks b;
    blocks_split(&b, 4097, 64);
    ck_assert_uint_eq(b.n, 2);
    ck_assert_uint_eq(b.len[0], 4096);
    ck_assert_uint_eq(b.off[1], 4096);
    ck_assert_uint_eq(b.len[1], 1);
    /* 159010 = 2^17 + 2^14 + 2^13 + 2^11 + 2^10 + 2^8 + 34 */
    static const size_t want[] = { 131072, 16384, 8192, 2048, 1024, 256, 34 };
    blocks_split(&b, 159010, 256);
    ck_assert_uint_eq(b.n, 7);
    size_t off = 0;
    for (unsigned j = 0; j < b.n; j++) {
        ck_assert_uint_eq(b.len[j], want[j]);
        ck_assert_uint_eq(b.off[j], off);
        off += b.len[j];
    }
    blocks_split(&b, 1024, 64);
    ck_assert_uint_eq(b.n, 1);
    ck_assert_uint_eq(b.len[0], 1024);
    blocks_split(&b, 40, 64); /* below the minimum: one residual block */
    ck_assert_uint_eq(b.n, 1);
    ck_assert_uint_eq(b.len[0], 40);
    blocks_split(&b, ((size_t)1 << 30) - 1, 1);
    ck_assert_uint_eq(b.n, 30);
    blocks_whole(&b, 77);
    ck_assert_uint_eq(b.n, 1);
    ck_assert_uint_eq(b.len[0], 77);
}
END_TEST

static const enum codec_kind rotating[] = {
    CODEC_DRIVE,       CODEC_EDEN,      CODEC_QUICFL,         CODEC_THC,
    CODEC_HADAMARD_SQ, CODEC_KASHIN_SQ, CODEC_TURBOQUANT_MSE, CODEC_TURBOQUANT_PROD,
};
#define NROT ((int)(sizeof rotating / sizeof rotating[0]))

static void
fill(float *x, size_t d, uint64_t seed)
{
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_TEST, 0, 0);
    for (size_t i = 0; i < d; i++)
        x[i] = (float)(rng_uniform(&r) * 2.0 - 1.0);
}

/* Encodes x with p at dimension d into msg (cap bytes); returns the length. */
static size_t
encode(const struct codec_params *p, size_t d, const float *x, uint8_t *msg, size_t cap)
{
    struct codec *c = codec_new(p, d);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_le(codec_max_bytes(c), cap);
    struct codec_link link = { .seed = 5, .round = 2, .client = 11 };
    size_t len;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(codec_encode(c, msg, cap, &len, x, &link, &eb) == 0, "%s", eb.msg);
    codec_free(c);
    return len;
}

/* At a power of two the split is one block: the same bytes as padding. */
START_TEST(power_of_two_unchanged)
{
    struct codec_params p;
    tdme_params(&p, rotating[_i], codec_kind_default_bits(rotating[_i]));
    p.blocks = CODEC_BLOCKS_POW2;
    size_t d = 1024, cap = 16 * d;
    float *x = malloc(d * sizeof *x);
    uint8_t *a = malloc(cap), *b = malloc(cap);
    fill(x, d, 3);
    size_t la = encode(&p, d, x, a, cap);
    p.blocks = CODEC_BLOCKS_PAD;
    size_t lb = encode(&p, d, x, b, cap);
    ck_assert_uint_eq(la, lb);
    ck_assert_mem_eq(a, b, la);
    free(x);
    free(a);
    free(b);
}
END_TEST

/* Every rotation codec round-trips at awkward dimensions; fixed-length codecs send exactly
 * codec_max_bytes(); the decode is finite with a bounded error; a flipped length field or
 * a missing byte is -ERR_CORRUPT. */
START_TEST(odd_dimensions)
{
    static const size_t dims[] = { 1, 2, 3, 65, 100, 300, 4097 };
    enum codec_kind kind = rotating[_i];
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        size_t d = dims[k];
        if (kind == CODEC_TURBOQUANT_PROD && d > 300)
            continue; /* O(d²) */
        struct codec_params p;
        tdme_params(&p, kind, codec_kind_default_bits(kind));
        p.blocks = CODEC_BLOCKS_POW2;
        if (kind == CODEC_QUICFL || kind == CODEC_THC || kind == CODEC_HADAMARD_SQ)
            p.rotation = CODEC_ROTATION_SHARED;
        struct errbuf eb;
        errbuf_clear(&eb);
        ck_assert_msg(codec_params_check(&p, d, &eb) == 0, "%s d=%zu: %s", codec_kind_name(kind), d,
                      eb.msg);
        struct codec *c = codec_new(&p, d);
        ck_assert_ptr_nonnull(c);
        size_t cap = codec_max_bytes(c), len;
        float *x = malloc(d * sizeof *x), *xh = malloc(d * sizeof *xh);
        uint8_t *msg = malloc(cap);
        fill(x, d, d);
        struct codec_link link = { .seed = 1, .round = 4, .client = 2 };
        ck_assert_int_eq(codec_encode(c, msg, cap, &len, x, &link, &eb), 0);
        if (kind != CODEC_QUICFL)
            ck_assert_uint_eq(len, cap);
        ck_assert_int_eq(codec_decode(c, xh, msg, len, &link, &eb), 0);
        double e = 0, n2 = 0;
        for (size_t i = 0; i < d; i++) {
            ck_assert(isfinite(xh[i]));
            e += ((double)xh[i] - x[i]) * ((double)xh[i] - x[i]);
            n2 += (double)x[i] * x[i];
        }
        ck_assert_msg(e <= 64 * n2, "%s d=%zu: error %g, norm %g", codec_kind_name(kind), d, e, n2);
        ck_assert_int_eq(codec_decode(c, xh, msg, len - 1, &link, &eb), -ERR_CORRUPT);
        if (kind == CODEC_QUICFL && codec_blocks_count(&p, d) > 1) {
            msg[0] ^= 0x80; /* block 0's length field */
            ck_assert_int_eq(codec_decode(c, xh, msg, len, &link, &eb), -ERR_CORRUPT);
        }
        codec_free(c);
        free(x);
        free(xh);
        free(msg);
    }
}
END_TEST

/*
 * Just above a power of two, EDEN and QUIC-FL in blocks keep the error of the power of two
 * (vNMSE within 5 %, with 200 trials the standard error is below 1 %) and pay b bits per
 * coordinate plus the blocks' scales: EDEN's length is exactly Σ_j (4 + b·2^ceil(log2 len_j)/8)
 * bytes, within 1 % of b + 32·blocks/d bits per coordinate.
 */
START_TEST(error_near_power_of_two)
{
    static const double bits[] = { 1, 2, 4 };
    for (int k = 0; k < 3; k++) {
        for (int q = 0; q < 2; q++) {
            struct codec_params p;
            tdme_params(&p, q == 0 ? CODEC_EDEN : CODEC_QUICFL, bits[k]);
            p.blocks = CODEC_BLOCKS_POW2;
            struct tdme at = tdme_run(&p, 4096, TDME_NORMAL, 1, 1, 200, 40 + (unsigned long)k);
            struct tdme above = tdme_run(&p, 4097, TDME_NORMAL, 1, 1, 200, 50 + (unsigned long)k);
            ck_assert_msg(fabs(above.vnmse / at.vnmse - 1) < 0.05,
                          "%s b=%g: %g at 4097, %g at 4096", codec_kind_name(p.kind), bits[k],
                          above.vnmse, at.vnmse);
            if (q == 1)
                continue;
            double want_bytes = (4 + 4096 * bits[k] / 8) + (4 + ceil(bits[k] / 8));
            ck_assert_double_eq(above.bytes, want_bytes);
            double bpc = 8 * above.bytes / 4097, budget = bits[k] + 2 * 32.0 / 4097;
            ck_assert_msg(fabs(bpc / budget - 1) < 0.01, "b=%g: %g bits/coord", bits[k], bpc);
        }
    }
}
END_TEST

Suite *
blocks_suite(void)
{
    Suite *s = suite_create("blocks");
    TCase *tc = tcase_create("blocks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, layout);
    tcase_add_loop_test(tc, power_of_two_unchanged, 0, NROT);
    tcase_add_loop_test(tc, odd_dimensions, 0, NROT);
    tcase_add_test(tc, error_near_power_of_two);
    suite_add_tcase(s, tc);
    return s;
}
