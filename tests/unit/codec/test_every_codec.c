/*
 * every_codec: the generic tests every row of the codec table (codec/codec.h) passes, with no
 * per-codec code here, so a codec added as in docs/extending.md is tested as it is registered.
 * Each codec runs at its default parameters and at every variant below that it accepts
 * (codec_params_check(); the variants follow the parameters the table says it reads): a
 * round trip, hostile bytes for the decoder, and unbiasedness measured with the tdme harness
 * (the unit-test twin of `fedbits dme`).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

/* Parameter variants, tried on every codec; a codec that refuses one skips it. */
enum every_variant {
    EV_DEFAULT, /* the codec's default bits, everything else at its default */
    EV_SHARED,  /* rotation: shared */
    EV_BITS_1,
    EV_BITS_4,
    EV_BITS_FRACTION, /* 2.5 */
    EV_LOSS,          /* rotating codecs: packet_loss 0.1 */
    EV_PAD,           /* rotating codecs: blocks pad */
    EV_SCALE,         /* scale biased */
    EV_DRIVE_PLUS,
    EV_EXACT_CODEBOOK,
    EV_P,   /* p = 1/64, shared_bits 2 */
    EV_THC, /* thc_uniform */
    EV_COUNT
};

#define EVERY_DIM   300 /* not a power of two: rotating codecs split into blocks */
#define EVERY_CASES ((int)CODEC_KIND_COUNT * EV_COUNT)

/* Fills p for variant v of kind; false when the variant does not apply or is refused. */
static bool
every_params(struct codec_params *p, enum codec_kind kind, int v, size_t d)
{
    tdme_params(p, kind, codec_kind_default_bits(kind));
    unsigned uses = codec_kind_uses(kind);
    static const unsigned needs[EV_COUNT] = {
        [EV_LOSS] = CODEC_USES_ROTATION,
        [EV_PAD] = CODEC_USES_ROTATION,
        [EV_SCALE] = CODEC_USES_SCALE,
        [EV_DRIVE_PLUS] = CODEC_USES_DRIVE_PLUS,
        [EV_EXACT_CODEBOOK] = CODEC_USES_EXACT_CODEBOOK,
        [EV_P] = CODEC_USES_P,
        [EV_THC] = CODEC_USES_THC,
    };
    if ((uses & needs[v]) != needs[v])
        return false;
    switch ((enum every_variant)v) {
    case EV_DEFAULT:
    case EV_COUNT:
        break;
    case EV_SHARED:
        p->rotation = CODEC_ROTATION_SHARED;
        break;
    case EV_BITS_1:
        p->bits = 1;
        break;
    case EV_BITS_4:
        p->bits = 4;
        break;
    case EV_BITS_FRACTION:
        p->bits = 2.5;
        break;
    case EV_LOSS:
        p->packet_loss = 0.1;
        break;
    case EV_PAD:
        p->blocks = CODEC_BLOCKS_PAD;
        break;
    case EV_SCALE:
        p->scale = CODEC_SCALE_BIASED;
        break;
    case EV_DRIVE_PLUS:
        p->drive_plus = true;
        break;
    case EV_EXACT_CODEBOOK:
        p->exact_codebook = true;
        break;
    case EV_P:
        p->p = 1.0 / 64;
        p->shared_bits = 2;
        break;
    case EV_THC:
        p->thc_uniform = true;
        break;
    }
    return codec_params_check(p, d, NULL) == 0;
}

/* The codec of loop case i (kind i / EV_COUNT, variant i % EV_COUNT), or NULL to skip it. */
static struct codec *
every_codec(int i, struct codec_params *p)
{
    enum codec_kind kind = (enum codec_kind)(i / EV_COUNT);
    int v = i % EV_COUNT;
    if (!every_params(p, kind, v, EVERY_DIM)) {
        /* Every codec takes its own defaults. */
        struct errbuf eb;
        errbuf_clear(&eb);
        ck_assert_msg(v != EV_DEFAULT || codec_params_check(p, EVERY_DIM, &eb) == 0,
                      "%s refuses its default parameters: %s", codec_kind_name(kind), eb.msg);
        return NULL;
    }
    struct codec *c = codec_new(p, EVERY_DIM);
    ck_assert_ptr_nonnull(c);
    return c;
}

static bool
every_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

/*
 * Round trip: a message within codec_max_bytes() that decodes to a finite vector, bit for bit
 * the vector of decode_add with weight 1 into a zeroed accumulator and a finish (codec_decode()
 * takes a codec's decode_set where it has one), the same bytes from a second codec for the
 * same link, an error for a buffer one byte short, and decode_add of three clients with
 * weights + one finish equal to the weighted sum of their own decodes.
 */
START_TEST(round_trip)
{
    struct codec_params p;
    struct codec *c = every_codec(_i, &p);
    if (c == NULL)
        return;
    const char *name = codec_kind_name(p.kind);
    size_t d = EVERY_DIM, cap = codec_max_bytes(c), acc_len = codec_acc_len(c);
    float *x = malloc(d * sizeof *x), *xh = malloc(d * sizeof *xh), *out = malloc(d * sizeof *out);
    float *acc = calloc(acc_len, sizeof *acc), *acc1 = malloc(acc_len * sizeof *acc1);
    float *xh1 = malloc(d * sizeof *xh1);
    double *want = calloc(d, sizeof *want);
    uint8_t *m1 = malloc(cap), *m2 = malloc(cap);
    struct codec *c2 = codec_new(&p, d);
    ck_assert_ptr_nonnull(c2);
    static const double weights[3] = { 0.5, 0.25, -1.5 };
    double scale = 1;
    for (uint64_t k = 0; k < 3; k++) {
        tdme_fill(x, d, 11, (uint64_t)_i * 3 + k);
        struct codec_link link = { .seed = 5, .round = 2, .client = k };
        size_t l1, l2;
        struct errbuf eb;
        errbuf_clear(&eb);
        ck_assert_msg(codec_encode(c, m1, cap, &l1, x, &link, &eb) == 0, "%s case %d: %s", name, _i,
                      eb.msg);
        ck_assert_uint_le(l1, cap);
        ck_assert_int_eq(codec_decode(c, xh, m1, l1, &link, NULL), 0);
        ck_assert_msg(every_finite(xh, d), "%s case %d: decoded values not finite", name, _i);
        memset(acc1, 0, acc_len * sizeof *acc1);
        ck_assert_int_eq(codec_decode_add(c, acc1, m1, l1, 1.0, &link, NULL), 0);
        codec_decode_finish(c, xh1, acc1, &link);
        ck_assert_msg(memcmp(xh, xh1, d * sizeof *xh) == 0,
                      "%s case %d: codec_decode() differs from decode_add into zeros", name, _i);
        ck_assert_int_eq(codec_encode(c2, m2, cap, &l2, x, &link, NULL), 0);
        ck_assert_uint_eq(l1, l2);
        ck_assert_mem_eq(m1, m2, l1);
        if (l1 > 0)
            ck_assert_int_lt(codec_encode(c2, m2, l1 - 1, &l2, x, &link, NULL), 0);
        ck_assert_int_eq(codec_decode_add(c, acc, m1, l1, weights[k], &link, NULL), 0);
        for (size_t j = 0; j < d; j++) {
            want[j] += weights[k] * xh[j];
            scale = fmax(scale, fabs(weights[k] * xh[j]));
        }
    }
    struct codec_link round = { .seed = 5, .round = 2, .client = 77 };
    codec_decode_finish(c, out, acc, &round);
    for (size_t j = 0; j < d; j++)
        ck_assert_msg(fabs(out[j] - want[j]) <= 1e-5 * scale, "%s case %d coord %zu: %g vs %g",
                      name, _i, j, (double)out[j], want[j]);
    codec_free(c);
    codec_free(c2);
    free(x);
    free(xh);
    free(out);
    free(acc);
    free(acc1);
    free(xh1);
    free(want);
    free(m1);
    free(m2);
}
END_TEST

/* Decodes msg[0..len) (a fresh heap copy, so ASan sees an over-read): 0 with a finite vector,
 * or -ERR_CORRUPT; anything else fails. */
static void
every_decode_hostile(struct codec *c, float *out, const uint8_t *msg, size_t len,
                     const struct codec_link *link, const char *what, int i)
{
    uint8_t *t = malloc(len > 0 ? len : 1);
    memcpy(t, msg, len);
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = codec_decode(c, out, t, len, link, &eb);
    ck_assert_msg(rc == 0 || rc == -ERR_CORRUPT, "case %d, %s: rc %d (%s)", i, what, rc, eb.msg);
    if (rc == 0)
        ck_assert_msg(every_finite(out, codec_dim(c)), "case %d, %s: accepted, not finite", i,
                      what);
    else
        ck_assert_msg(eb.offset >= 0, "case %d, %s: error without an offset", i, what);
    free(t);
}

/*
 * The decoder on hostile bytes: every truncation of a valid message, the valid message with
 * one byte changed at each position, FLT_MAX written over each of its first 32 bytes, and
 * random bytes of random lengths. Each decodes to a finite vector or is -ERR_CORRUPT.
 */
START_TEST(hostile_bytes)
{
    struct codec_params p;
    struct codec *c = every_codec(_i, &p);
    if (c == NULL)
        return;
    size_t d = EVERY_DIM, cap = codec_max_bytes(c);
    float *x = malloc(d * sizeof *x), *out = malloc(d * sizeof *out);
    uint8_t *m = malloc(cap), *t = malloc(cap + 16);
    tdme_fill(x, d, 11, 1000 + (uint64_t)_i);
    struct codec_link link = { .seed = 6, .round = 1, .client = 4 };
    size_t len;
    ck_assert_int_eq(codec_encode(c, m, cap, &len, x, &link, NULL), 0);
    for (size_t cut = 0; cut < len; cut++)
        every_decode_hostile(c, out, m, cut, &link, "truncated", _i);
    struct rng r;
    rng_init_stream(&r, 12, RNG_PURPOSE_TEST, (uint64_t)_i, 0);
    for (size_t pos = 0; pos < len; pos++) {
        memcpy(t, m, len);
        t[pos] ^= (uint8_t)(1 + rng_below(&r, 255));
        every_decode_hostile(c, out, t, len, &link, "one byte changed", _i);
    }
    const float big = FLT_MAX;
    for (size_t off = 0; off + sizeof big <= len && off <= 32; off++) {
        memcpy(t, m, len);
        memcpy(t + off, &big, sizeof big);
        every_decode_hostile(c, out, t, len, &link, "FLT_MAX", _i);
    }
    for (int k = 0; k < 200; k++) {
        size_t n = (size_t)rng_below(&r, cap + 17);
        if (k % 4 == 0)
            n = len;
        rng_bytes(&r, t, n);
        every_decode_hostile(c, out, t, n, &link, "random bytes", _i);
    }
    codec_free(c);
    free(x);
    free(out);
    free(m);
    free(t);
}
END_TEST

/*
 * Unbiasedness at the default parameters: n clients send the same vector with their own
 * randomness; for an unbiased codec their errors are independent with mean 0, so the error of
 * the decoded mean is exactly the per-client error over n: n·NMSE = vNMSE in expectation.
 * Accepted within 10 % plus 4 standard errors (the built-in codecs stay within 7.5 %, d = 256,
 * n = 256, 8 trials). A bias of relative size β adds (n − 1)·β² to n·NMSE, so this detects
 * β above about √(0.1·vNMSE/255): 0.7 % for 2-bit EDEN, 8 % for 2-bit rand-k. A codec the
 * table marks biased must show it (n·NMSE above vNMSE by more than the tolerance), so the
 * flag cannot hide a wrong claim either way. An exact codec (vNMSE 0) gives an exact mean.
 */
START_TEST(unbiased)
{
    enum codec_kind kind = (enum codec_kind)_i;
    struct codec_params p;
    ck_assert(every_params(&p, kind, EV_DEFAULT, 256));
    size_t n = 256;
    struct tdme r = tdme_run(&p, 256, TDME_NORMAL, n, 1, 8, 900 + (unsigned long)_i);
    double N = (double)n;
    if (r.vnmse == 0) {
        ck_assert_double_le(r.nmse, 1e-12);
        return;
    }
    double gap = N * r.nmse - r.vnmse;
    double tol = 0.1 * r.vnmse + 4 * hypot(N * r.nmse_se, r.vnmse_se);
    if (codec_kind_unbiased(kind))
        ck_assert_msg(fabs(gap) <= tol, "%s: n*NMSE %.4g vs vNMSE %.4g (tolerance %.2g)",
                      codec_kind_name(kind), N * r.nmse, r.vnmse, tol);
    else
        ck_assert_msg(gap > tol, "%s is marked biased but n*NMSE %.4g ~ vNMSE %.4g",
                      codec_kind_name(kind), N * r.nmse, r.vnmse);
}
END_TEST

Suite *
every_codec_suite(void)
{
    Suite *s = suite_create("every_codec");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, round_trip, 0, EVERY_CASES);
    tcase_add_loop_test(tc, hostile_bytes, 0, EVERY_CASES);
    tcase_add_loop_test(tc, unbiased, 0, CODEC_KIND_COUNT);
    suite_add_tcase(s, tc);
    return s;
}
