/* packing, sround and the codecs' vector loops: the fast paths against the plain definitions. */
#include <float.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "base/bitpack.h"
#include "base/errbuf.h"
#include "base/mem.h"
#include "base/rng.h"
#include "codec/codec.h"
#include "codec/packing.h"
#include "codec/sround.h"
#include "tests/support/check_support.h"
#include "tests/unit/codec/suites.h"

#define PK_MAX 20001 /* past the byte-table threshold, with a tail */

static uint16_t pk_idx[PK_MAX], pk_back[PK_MAX];
static uint8_t pk_a[2 * PK_MAX + 8], pk_b[2 * PK_MAX + 8];
static float pk_y[PK_MAX];

/* Same bytes as bitpack_pack() on both packing paths; every unpacking path gives the fields back.
 */
START_TEST(packing_matches_bitpack)
{
    static const size_t sizes[] = { 0, 1, 63, 64, 65, 1000, 16384, PK_MAX };
    struct rng r;
    rng_init_stream(&r, 1, RNG_PURPOSE_TEST, 0, 0);
    for (unsigned b = 1; b <= 16; b++) {
        float lut[256];
        for (unsigned k = 0; k < 256; k++)
            lut[k] = (float)k * 0.5f - 3.0f;
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            for (size_t i = 0; i < n; i++)
                pk_idx[i] = (uint16_t)(rng_u32(&r) & ((1u << b) - 1));
            size_t bytes = bitpack_bytes(n, b);
            bitpack_pack(pk_a, pk_idx, n, b);
            packing_pack(pk_b, pk_idx, n, b);
            ck_assert_mem_eq(pk_a, pk_b, bytes);
            packing_pack_portable(pk_b, pk_idx, n, b);
            ck_assert_mem_eq(pk_a, pk_b, bytes);
            packing_pack(pk_b, pk_idx, n, b); /* the AVX2 path when the CPU has it */
            memset(pk_back, 0xff, sizeof pk_back);
            packing_unpack(pk_back, pk_b, n, b);
            ck_assert_mem_eq(pk_back, pk_idx, n * sizeof *pk_idx);
            if (b <= 8) {
                packing_unpack_lut(pk_y, pk_b, n, b, lut);
                for (size_t i = 0; i < n; i++)
                    ck_assert(pk_y[i] == lut[pk_idx[i]]);
            }
            if (b == 1 || b == 2 || b == 4) { /* the table, whole bytes */
                struct packing_table t;
                packing_table_init(&t, b, lut);
                size_t whole = n / (8 / b) * (8 / b);
                memset(pk_y, 0, sizeof pk_y);
                packing_unpack_table(pk_y, pk_b, whole, &t);
                for (size_t i = 0; i < whole; i++)
                    ck_assert(pk_y[i] == lut[pk_idx[i]]);
            }
        }
    }
}
END_TEST

/* The definition of sround.h: 16-bit draws of the fast keystream, ties on rng_u32(). */
static unsigned
pk_sround_def(double u, uint16_t rd, struct rng *b, unsigned top)
{
    double fl = floor(u);
    double t = (u - fl) * 0x1p16, t16 = floor(t);
    unsigned up = rd < t16 || (rd == t16 && (t - t16) * 0x1p32 > (double)rng_u32(b));
    unsigned q = (unsigned)fl + up;
    return q > top ? top : q;
}

/* sround() on both paths against its definition (ties: every coordinate of `ties`). */
START_TEST(sround_matches_definition)
{
    static float v[PK_MAX];
    static uint16_t k[PK_MAX], kp[PK_MAX], rd[PK_MAX];
    for (int ties = 0; ties < 2; ties++) {
        for (int absval = 0; absval < 2; absval++) {
            for (unsigned top = 1; top <= 255; top = top * 2 + 1) {
                struct rng r, a, b, c;
                rng_init_stream(&r, 2, RNG_PURPOSE_TEST, top, (uint64_t)absval);
                rng_init_stream(&a, 3, RNG_PURPOSE_TEST, top, 0);
                rng_init_stream(&b, 3, RNG_PURPOSE_TEST, top, 0);
                rng_init_stream(&c, 3, RNG_PURPOSE_TEST, top, 0);
                rng_fast_u16s(&b, rd, PK_MAX);
                rng_init_stream(&b, 3, RNG_PURPOSE_TEST, top, 0);
                double off = absval || ties ? 0.0 : 0.5;
                double mul = ties ? 1.0 : top / (absval ? 1.0 : 2.0);
                for (size_t i = 0; i < PK_MAX; i++) {
                    if (ties) {
                        /* u = (draw + j/64)·2^-16 + 0..3, exact in float: every coin ties */
                        double u = (double)(i % 4) + (rd[i] + (double)(i % 64) / 64) * 0x1p-16;
                        v[i] = (float)u * (absval && i % 2 ? -1.0f : 1.0f);
                    } else {
                        v[i] = (float)(rng_uniform(&r) * 2.0 + (absval ? -1.0 : 0.5));
                    }
                }
                if (!ties)
                    v[7] = absval ? -1.0f : 0.5f; /* exactly a level */
                sround_run(k, v, PK_MAX, off, mul, absval != 0, top, &a, SROUND_BEST);
                sround_run(kp, v, PK_MAX, off, mul, absval != 0, top, &c, SROUND_PORTABLE);
                ck_assert_mem_eq(k, kp, sizeof k);
                ck_assert_uint_eq(rng_tell(&a), rng_tell(&c));
                size_t nties = 0;
                for (size_t i = 0; i < PK_MAX; i++) {
                    double x = absval ? fabs((double)v[i]) : (double)v[i];
                    double u = (x - off) * mul;
                    double t = (u - floor(u)) * 0x1p16;
                    nties += rd[i] == floor(t);
                    ck_assert_uint_eq(k[i], pk_sround_def(u, rd[i], &b, top));
                }
                ck_assert_uint_eq(rng_tell(&a), rng_tell(&b));
                if (ties)
                    ck_assert_uint_eq(nties, PK_MAX);
            }
        }
    }
}
END_TEST

/*
 * sround_above() (the float vector path of the min-max quantiser) against sround_run() on the
 * portable path: ranges as sq.c forms them, coordinates at and near ties (V = u·2^16 on a
 * draw's tie band or up to 1/8 either side of it, exact and shrunk), a range whose float difference
 * overflows, and one whose 2^16·mul does not fit a float.
 */
START_TEST(sround_above_matches_portable)
{
    static float v[PK_MAX];
    static uint16_t k[PK_MAX], kp[PK_MAX], rd[PK_MAX];
    for (int kind = 0; kind < 4; kind++) {
        for (unsigned top = 1; top <= 63; top = top * 2 + 1) {
            struct rng r, a, c;
            rng_init_stream(&r, 4, RNG_PURPOSE_TEST, top, (uint64_t)kind);
            rng_init_stream(&a, 5, RNG_PURPOSE_TEST, top, 0);
            rng_fast_u16s(&a, rd, PK_MAX);
            rng_init_stream(&a, 5, RNG_PURPOSE_TEST, top, 0);
            rng_init_stream(&c, 5, RNG_PURPOSE_TEST, top, 0);
            float lo = 0.0f, hi = 0.0f;
            for (size_t i = 0; i < PK_MAX; i++) {
                if (kind == 0) { /* random, min-max */
                    v[i] = (float)(rng_uniform(&r) * 3.0 - 1.25);
                } else if (kind == 1) { /* v = level + (draw + j/16)·2^-16, j in -2..17 */
                    double u = (double)(i % (top + 1)) +
                               (rd[i] + (double)(i % 20) / 16 - 2.0 / 16) * 0x1p-16;
                    v[i] = (float)(u > 0 ? u : 0); /* exact in float */
                } else if (kind == 2) {            /* v - lo overflows a float */
                    v[i] = i % 3 == 0 ? -FLT_MAX : i % 3 == 1 ? FLT_MAX : (float)rng_uniform(&r);
                } else { /* hi - lo = 2^-140 */
                    v[i] = i % 2 ? 0x1p-140f : 0.0f;
                }
                lo = i == 0 || v[i] < lo ? v[i] : lo;
                hi = i == 0 || v[i] > hi ? v[i] : hi;
            }
            double step = ((double)hi - lo) / top;
            double inv = step > 0 ? 1.0 / step : 0.0;
            for (int sh = 0; sh < (kind == 1 ? 3 : 1); sh++) {
                if (kind == 1) { /* u = v (ties and near ties), or v shrunk by 2^-22 or 2^-17 */
                    lo = 0.0f;
                    inv = sh == 0 ? 1.0 : sh == 1 ? 1.0 - 0x1p-22 : 1.0 - 0x1p-17;
                }
                sround_above(k, v, PK_MAX, lo, inv, top, &a, SROUND_BEST);
                sround_run(kp, v, PK_MAX, lo, inv, false, top, &c, SROUND_PORTABLE);
                ck_assert_mem_eq(k, kp, sizeof k);
                ck_assert_uint_eq(rng_tell(&a), rng_tell(&c));
            }
        }
    }
}
END_TEST

/*
 * Unbiased: the mean level of n coordinates at the same u is u within 5 standard errors,
 * for fractions with and without a 16-bit representation; and the coin, for p = j·2^-16
 * exactly, is heads for exactly j of the 2^16 draws (the tie-break never wins: t = t16).
 */
START_TEST(sround_is_unbiased)
{
    enum { N = 1 << 20 };
    static float v[N];
    static uint16_t k[N];
    static const double fracs[] = { 0.3, 0.5, 1.0 / 3.0, 0x1p-20, 1.0 - 0x1p-20, 0.123456789 };
    for (size_t f = 0; f < sizeof fracs / sizeof fracs[0]; f++) {
        double u = 2.0 + fracs[f];
        for (size_t i = 0; i < N; i++)
            v[i] = 1.0f;
        struct rng r;
        rng_init_stream(&r, 4, RNG_PURPOSE_TEST, f, 0);
        sround(k, v, N, 0.0, u, false, 7, &r);
        double sum = 0;
        for (size_t i = 0; i < N; i++)
            sum += k[i];
        double p = u - 2.0, se = sqrt(p * (1 - p) / N);
        ck_assert_double_le(fabs(sum / N - u), 5 * se + 1e-12);
    }
    struct rng r;
    rng_init_stream(&r, 5, RNG_PURPOSE_TEST, 0, 0);
    for (unsigned j = 0; j <= 1u << 16; j += 4099) {
        unsigned heads = 0;
        for (unsigned d = 0; d < 1u << 16; d++)
            heads += sround_coin_with(j * 0x1p-16, (uint16_t)d, &r);
        ck_assert_uint_eq(heads, j);
    }
}
END_TEST

/* sround_cells() on both paths against its definition (THC-like tables), and failures. */
START_TEST(sround_cells_matches_definition)
{
    static float y[PK_MAX];
    static uint16_t k[PK_MAX], kp[PK_MAX], rd[PK_MAX];
    static const unsigned gs[] = { 1, 3, 30, 510 };
    for (size_t gi = 0; gi < sizeof gs / sizeof gs[0]; gi++) {
        unsigned g = gs[gi], levels = g < 16 ? g + 1 : 16;
        uint16_t table[256], cell[512];
        for (unsigned j = 0; j < levels; j++) /* increasing, 0 to g, uneven steps */
            table[j] = (uint16_t)((uint64_t)g * j * j / ((levels - 1) * (levels - 1)));
        for (unsigned j = 1; j < levels; j++)
            if (table[j] <= table[j - 1])
                table[j] = (uint16_t)(table[j - 1] + 1);
        table[levels - 1] = (uint16_t)g;
        for (unsigned j = 0, u = 0; u <= g; u++) {
            while (j + 2 < levels && table[j + 1] <= u)
                j++;
            cell[u] = (uint16_t)j;
        }
        struct rng r, a, b, c;
        rng_init_stream(&r, 6, RNG_PURPOSE_TEST, g, 0);
        for (size_t i = 0; i < PK_MAX; i++)
            y[i] = (float)gsl_ran_gaussian_ziggurat(rng_gsl(&r), 1.0);
        y[5] = 0.0f;
        y[6] = -0.0f;
        y[9] = 1e30f; /* clamped */
        double sc = 1.3, T = 2.5, to_u = g / (2.0 * T);
        rng_init_stream(&a, 7, RNG_PURPOSE_TEST, g, 0);
        rng_init_stream(&b, 7, RNG_PURPOSE_TEST, g, 0);
        rng_init_stream(&c, 7, RNG_PURPOSE_TEST, g, 0);
        ck_assert_int_eq(sround_cells(k, y, PK_MAX, sc, T, to_u, g, cell, table, &a, SROUND_BEST),
                         0);
        ck_assert_int_eq(
            sround_cells(kp, y, PK_MAX, sc, T, to_u, g, cell, table, &c, SROUND_PORTABLE), 0);
        ck_assert_mem_eq(k, kp, sizeof k);
        rng_fast_u16s(&b, rd, PK_MAX);
        rng_init_stream(&b, 7, RNG_PURPOSE_TEST, g, 0);
        for (size_t i = 0; i < PK_MAX; i++) {
            double z = fmin(fmax(sc * y[i], -T), T), u = (z + T) * to_u;
            unsigned j = cell[u < g ? (unsigned)u : g];
            double p = (u - table[j]) / (table[j + 1] - table[j]);
            double t = p * 0x1p16, t16 = floor(t);
            unsigned up = rd[i] < t16 || (rd[i] == t16 && (t - t16) * 0x1p32 > (double)rng_u32(&b));
            ck_assert_uint_eq(k[i], j + up);
        }
        ck_assert_uint_eq(rng_tell(&a), rng_tell(&b));
        y[PK_MAX / 2] = NAN;
        for (int path = SROUND_BEST; path <= SROUND_PORTABLE; path++)
            ck_assert_int_eq(
                sround_cells(k, y, PK_MAX, sc, T, to_u, g, cell, table, &a, (enum sround_path)path),
                -1);
    }
}
END_TEST

/* FNV-1a over 20 rounds of messages and decoded vectors of one codec at d coordinates. */
static uint64_t
pk_digest(enum codec_kind kind, double bits, size_t d)
{
    struct codec_params p;
    codec_params_default(&p);
    p.kind = kind;
    p.bits = bits;
    struct codec *c = codec_new(&p, d);
    float *x = mem_alloc(d * sizeof *x), *out = mem_alloc(d * sizeof *out);
    uint8_t *msg = c != NULL ? mem_alloc(codec_max_bytes(c)) : NULL;
    ck_assert(c != NULL && x != NULL && out != NULL && msg != NULL);
    uint64_t h = UINT64_C(1469598103934665603);
    for (uint64_t k = 0; k < 20; k++) {
        struct rng r;
        rng_init_stream(&r, 1, RNG_PURPOSE_TEST, k, 0);
        for (size_t i = 0; i < d; i++) /* every third round, large coordinates too */
            x[i] = (float)(rng_uniform(&r) - 0.5) * (k % 3 == 0 ? (float)(i % 97) : 1.0f);
        struct codec_link l = { .seed = 1, .round = k, .client = 0 };
        struct errbuf eb;
        size_t len;
        ck_assert_int_eq(codec_encode(c, msg, codec_max_bytes(c), &len, x, &l, &eb), 0);
        for (size_t i = 0; i < len; i++)
            h = (h ^ msg[i]) * UINT64_C(1099511628211);
        ck_assert_int_eq(codec_decode(c, out, msg, len, &l, &eb), 0);
        for (size_t i = 0; i < d; i++) {
            uint32_t u;
            memcpy(&u, &out[i], sizeof u);
            h = (h ^ u) * UINT64_C(1099511628211);
        }
    }
    codec_free(c);
    mem_free(x);
    mem_free(out);
    mem_free(msg);
    return h;
}

/*
 * The vector paths of the encoders (QUIC-FL's four-coordinate step, QSGD's maximum and
 * sign fold, the packing of odd widths, the mask of fractional EDEN, EDEN's quantiser and
 * unpacking fused into the rotation) give the messages of
 * the portable code bit for bit: the digests were taken with the encoders' plain loops. A
 * deliberate change of a codec's output (new defaults, new randomness) changes them: then
 * take the new value from the failure message.
 */
START_TEST(vector_paths_match_portable_digests)
{
    static const struct {
        enum codec_kind kind;
        double bits;
        uint64_t digest;
    } pins[] = {
        { CODEC_QUICFL, 2, UINT64_C(0xf303caf9ca1acaf9) },
        { CODEC_QUICFL, 4, UINT64_C(0x13175f3f2aebc073) },
        { CODEC_QSGD, 2, UINT64_C(0x1632af451bfeaa24) },
        { CODEC_QSGD, 3, UINT64_C(0xe55882f0cad4e15f) },
        { CODEC_HADAMARD_SQ, 2, UINT64_C(0xc4be8a860eeeb9ad) },
        { CODEC_EDEN, 1.5, UINT64_C(0xb2cb821beeb28b6c) },
        /* Taken before the quantiser and the unpacking moved into the rotation's passes. */
        { CODEC_EDEN, 1, UINT64_C(0xf2776cd78924ba71) },
        { CODEC_EDEN, 2, UINT64_C(0x66b5280d1a45717b) },
        { CODEC_EDEN, 3, UINT64_C(0xf60878b5a22ee63b) },
        { CODEC_EDEN, 4, UINT64_C(0x58e841175c60057b) },
        { CODEC_DRIVE, 1, UINT64_C(0xf2776cd78924ba71) },
        { CODEC_TURBOQUANT_MSE, 2, UINT64_C(0x72f3829f777e79c1) },
    };
    for (size_t k = 0; k < sizeof pins / sizeof pins[0]; k++) {
        uint64_t h = pk_digest(pins[k].kind, pins[k].bits, 100000);
        ck_assert_msg(h == pins[k].digest, "%s at %g bits: digest %016llx, pinned %016llx",
                      codec_kind_name(pins[k].kind), pins[k].bits, (unsigned long long)h,
                      (unsigned long long)pins[k].digest);
    }
}
END_TEST

Suite *
packing_suite(void)
{
    Suite *s = suite_create("packing");
    TCase *tc = tcase_create("packing");
    tcase_add_test(tc, packing_matches_bitpack);
    tcase_add_test(tc, sround_matches_definition);
    tcase_add_test(tc, sround_above_matches_portable);
    tcase_add_test(tc, sround_is_unbiased);
    tcase_add_test(tc, sround_cells_matches_definition);
    tcase_add_test(tc, vector_paths_match_portable_digests);
    suite_add_tcase(s, tc);
    return s;
}
