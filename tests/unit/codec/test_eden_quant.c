/*
 * EDEN's quantiser on each of its paths (codec/eden.c): the 16-lane AVX-512 one (when the
 * CPU has it), the 8-lane AVX2 one (EDEN_NO_AVX512) and the portable loop (EDEN_PORTABLE)
 * give the same cells, the same packed fields and the same sums, on coordinates exactly on
 * the boundaries and one float either side, on ±0 and on values far beyond the outer
 * boundaries, under both tie rules; the cells are checked against their definition (the
 * count of boundaries below, or not above when ties go up). Whole messages of EDEN-1/2/4,
 * DRIVE's tie rule and the fixed scale, and their decoding (the fields unpacked 16 at a
 * time on AVX-512), are compared too, at dimensions whose rotation's last pass comes in runs
 * of 8, 16 and more.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "base/rng.h"
#include "codec/codec.h"
#include "codec/eden.h"
#include "tests/unit/codec/suites.h"

#define EQ_PATHS 3
static const unsigned eq_path_flags[EQ_PATHS] = { 0, EDEN_NO_AVX512, EDEN_PORTABLE };

/* Field i of b bits from the LSB-first packed bytes. */
static unsigned
eq_field(const uint8_t *packed, size_t i, unsigned b)
{
    unsigned v = 0;
    for (unsigned t = 0; t < b; t++) {
        size_t bit = i * b + t;
        v |= (unsigned)(packed[bit / 8] >> (bit % 8) & 1) << t;
    }
    return v;
}

/* y[i]: a boundary, one float above or below one, ±0, a huge value or a random one. */
static void
eq_input(float *y, size_t n, const float *thr, unsigned nb, double unit, uint64_t seed)
{
    struct rng r;
    rng_init_stream(&r, seed, RNG_PURPOSE_TEST, nb, 0);
    for (size_t i = 0; i < n; i++) {
        float t = thr[(i / 8) % nb];
        switch (i % 8) {
        case 0:
            y[i] = t;
            break;
        case 1:
            y[i] = nextafterf(t, INFINITY);
            break;
        case 2:
            y[i] = nextafterf(t, -INFINITY);
            break;
        case 3:
            y[i] = (i / 8) % 2 ? -0.0f : 0.0f;
            break;
        case 4:
            y[i] = (i / 8) % 2 ? -1e30f : 1e30f;
            break;
        default:
            y[i] = (float)(4.0 * unit * (rng_uniform(&r) - 0.5));
            break;
        }
    }
}

START_TEST(quantiser_paths_agree_on_boundaries)
{
    static const unsigned widths[] = { 1, 2, 3, 4 };
    static const unsigned flags[] = { 0, EDEN_TIES_UP, EDEN_FIXED_SCALE };
    static const size_t lens[] = { 8, 16, 24, 1024, 1040, 4096 };
    const size_t D = 4096;
    unsigned bits = widths[_i];
    float *y = mem_alloc(D * sizeof *y);
    uint8_t *packed[EQ_PATHS];
    for (int p = 0; p < EQ_PATHS; p++)
        packed[p] = mem_alloc(D * bits / 8);
    ck_assert(y != NULL && packed[0] != NULL && packed[1] != NULL && packed[2] != NULL);
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        struct codec_params cp;
        tdme_params(&cp, CODEC_EDEN, bits);
        struct eden *e[EQ_PATHS];
        for (int p = 0; p < EQ_PATHS; p++) {
            e[p] = eden_new(&cp, D, flags[f] | eq_path_flags[p]);
            ck_assert(e[p] != NULL);
        }
        unsigned nb = (1u << bits) - 1;
        bool ties_up = flags[f] == EDEN_TIES_UP;
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            size_t n = lens[l];
            double unit = 0.37 + 0.1 * (double)l;
            float thr[15];
            eden_boundaries(e[0], thr, unit);
            eq_input(y, n, thr, nb, unit, 11 + l);
            double sums[EQ_PATHS][2];
            for (int p = 0; p < EQ_PATHS; p++) {
                memset(packed[p], 0, D * bits / 8);
                eden_quantize_probe(e[p], packed[p], sums[p], y, n, unit);
            }
            for (size_t i = 0; i < n; i++) {
                unsigned want = 0;
                for (unsigned k = 0; k < nb; k++)
                    want += ties_up ? y[i] >= thr[k] : y[i] > thr[k];
                ck_assert_msg(eq_field(packed[0], i, bits) == want,
                              "%u bits, flags %u, n %zu: coordinate %zu (%a) in cell %u, not %u",
                              bits, flags[f], n, i, (double)y[i], eq_field(packed[0], i, bits),
                              want);
            }
            for (int p = 1; p < EQ_PATHS; p++) {
                ck_assert_msg(memcmp(packed[p], packed[0], (n * bits + 7) / 8) == 0,
                              "%u bits, flags %u, n %zu: fields of path %d differ", bits, flags[f],
                              n, p);
                ck_assert_msg(memcmp(sums[p], sums[0], sizeof sums[0]) == 0,
                              "%u bits, flags %u, n %zu: sums of path %d (%a, %a) not (%a, %a)",
                              bits, flags[f], n, p, sums[p][0], sums[p][1], sums[0][0], sums[0][1]);
            }
        }
        for (int p = 0; p < EQ_PATHS; p++)
            eden_free(e[p]);
    }
    for (int p = 0; p < EQ_PATHS; p++)
        mem_free(packed[p]);
    mem_free(y);
}
END_TEST

/*
 * Whole messages and their decoding: runs of the last pass of 8 (d = 16), 16 (d = 32) and
 * 1,024 coordinates; the inverse rotation's blocks of 16 and 2,048 coordinates.
 */
START_TEST(encoder_paths_agree)
{
    static const size_t dims[] = { 16, 32, 1000, 4096, 65536, 1 << 18 };
    static const unsigned widths[] = { 1, 2, 4 };
    static const unsigned flags[] = { 0, EDEN_TIES_UP, EDEN_FIXED_SCALE };
    size_t d = dims[_i];
    float *x = mem_alloc(d * sizeof *x), *acc[EQ_PATHS];
    ck_assert(x != NULL);
    for (int p = 0; p < EQ_PATHS; p++) {
        acc[p] = mem_alloc(d * sizeof *acc[p]);
        ck_assert(acc[p] != NULL);
    }
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
            struct codec_params cp;
            tdme_params(&cp, CODEC_EDEN, widths[w]);
            struct eden *e[EQ_PATHS];
            uint8_t *msg[EQ_PATHS];
            size_t len[EQ_PATHS];
            for (int p = 0; p < EQ_PATHS; p++) {
                e[p] = eden_new(&cp, d, flags[f] | eq_path_flags[p]);
                ck_assert(e[p] != NULL);
                msg[p] = mem_alloc(eden_max_bytes(e[p]));
                ck_assert(msg[p] != NULL);
            }
            for (uint64_t k = 0; k < 3; k++) {
                tdme_fill(x, d, 21, k);
                if (k == 1)
                    for (size_t i = 0; i < d; i += 3)
                        x[i] = 0.0f;
                struct codec_link l = { .seed = 4, .round = k, .client = 2 };
                struct errbuf eb;
                for (int p = 0; p < EQ_PATHS; p++)
                    ck_assert_int_eq(
                        eden_encode(e[p], msg[p], eden_max_bytes(e[p]), &len[p], x, &l, &eb), 0);
                for (int p = 1; p < EQ_PATHS; p++) {
                    ck_assert_uint_eq(len[p], len[0]);
                    ck_assert_msg(memcmp(msg[p], msg[0], len[0]) == 0,
                                  "d %zu, %u bits, flags %u, round %llu: path %d differs", d,
                                  widths[w], flags[f], (unsigned long long)k, p);
                }
                /* Decoded by each path into an accumulator holding a previous vector. */
                for (int p = 0; p < EQ_PATHS; p++) {
                    for (size_t i = 0; i < d; i++)
                        acc[p][i] = x[(i * 5) % d];
                    ck_assert_int_eq(eden_decode_add(e[p], acc[p], msg[0], len[0], 0.625, &l, &eb),
                                     0);
                }
                for (int p = 1; p < EQ_PATHS; p++)
                    ck_assert_msg(memcmp(acc[p], acc[0], d * sizeof *acc[0]) == 0,
                                  "decode: d %zu, %u bits, flags %u, round %llu: path %d differs",
                                  d, widths[w], flags[f], (unsigned long long)k, p);
            }
            for (int p = 0; p < EQ_PATHS; p++) {
                mem_free(msg[p]);
                eden_free(e[p]);
            }
        }
    }
    for (int p = 0; p < EQ_PATHS; p++)
        mem_free(acc[p]);
    mem_free(x);
}
END_TEST

Suite *
eden_quant_suite(void)
{
    Suite *s = suite_create("eden_quant");
    TCase *tc = tcase_create("eden_quant");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, quantiser_paths_agree_on_boundaries, 0, 4);
    tcase_add_loop_test(tc, encoder_paths_agree, 0, 6);
    suite_add_tcase(s, tc);
    return s;
}
