/*
 * EDEN's 4-bit quantiser without a search (codec/eden.c, struct eden_qdirect: with
 * AVX-512 the cell comes from a grid cell, a table of boundaries and one compare) against
 * the definition of the cell (the count of boundaries below y, or not above when ties go
 * up) and the portable loop (EDEN_PORTABLE) and the AVX2 search (EDEN_NO_AVX512): on every
 * float within 64 of each boundary, a sweep of the whole range of the boundaries with each
 * point's neighbours, ±0, subnormals, values far beyond the outer boundaries, ±∞ and NaNs
 * of several payloads, for units from 10^-45 to 10^38 (those whose boundaries are too
 * close for the grid, or overflow, take the search), under both tie rules and with the
 * exact codebook; and whole messages whose rotated coordinates overflow in some blocks
 * only, which the encoder must redo by the search, one block of a pair or both.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "codec/codec.h"
#include "codec/eden.h"
#include "tests/unit/codec/suites.h"

#define ED_PATHS 3
static const unsigned ed_path_flags[ED_PATHS] = { 0, EDEN_NO_AVX512, EDEN_PORTABLE };

/* The quantiser's blocks (EDEN_SUM_BLOCK): a non-finite y sends its whole block to the
 * search, so the special values get blocks of their own. */
#define ED_BLOCK 1024

static unsigned
ed_field(const uint8_t *packed, size_t i)
{
    return (unsigned)(packed[i / 2] >> (4 * (i % 2)) & 15u);
}

/* f moved by s floats (s < 0: down). */
static float
ed_step(float f, int s)
{
    for (; s > 0; s--)
        f = nextafterf(f, INFINITY);
    for (; s < 0; s++)
        f = nextafterf(f, -INFINITY);
    return f;
}

static float
ed_nan(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/*
 * y[0..n): within 64 floats of each boundary, then a sweep of [t0 − w/4, t14 + w/4] with
 * each point's neighbours, then, from a block boundary on, the special values; n is
 * returned, a multiple of ED_BLOCK; *n_finite is where the specials start.
 */
static size_t
ed_input(float *y, size_t cap, const float *thr, size_t *n_finite)
{
    size_t n = 0;
    for (unsigned k = 0; k < 15; k++)
        for (int s = -64; s <= 64; s++)
            y[n++] = ed_step(thr[k], s);
    double t0 = thr[0], w = (double)thr[14] - t0;
    size_t points = (cap - 2 * ED_BLOCK - n) / 3;
    for (size_t j = 0; j < points && isfinite(w); j++) {
        float v = (float)(t0 - w / 4 + 1.5 * w * (double)j / (double)(points - 1));
        y[n++] = ed_step(v, -1);
        y[n++] = v;
        y[n++] = ed_step(v, 1);
    }
    while (n % ED_BLOCK != 0)
        y[n++] = 0.0f;
    *n_finite = n;
    static const uint32_t nans[] = { 0x7fc00000u, 0xffc00000u, 0x7fc00001u, 0x7fa5a5a5u,
                                     0xffffffffu, 0x7f80001fu, 0xffc0001eu };
    const float specials[] = { 0.0f,     -0.0f,   FLT_TRUE_MIN, -FLT_TRUE_MIN, FLT_MIN,
                               -FLT_MIN, FLT_MAX, -FLT_MAX,     INFINITY,      -INFINITY,
                               1e30f,    -1e30f,  thr[0],       thr[14],       thr[7] };
    size_t start = n;
    for (size_t i = 0; n < start + 2 * ED_BLOCK; i++) {
        size_t j = i % (sizeof specials / sizeof specials[0] + sizeof nans / sizeof nans[0]);
        y[n++] = j < sizeof specials / sizeof specials[0]
                     ? specials[j]
                     : ed_nan(nans[j - sizeof specials / sizeof specials[0]]);
    }
    return n;
}

static void
ed_check_unit(struct eden *const e[ED_PATHS], double unit, bool ties_up, float *y, size_t cap,
              uint8_t *const packed[ED_PATHS])
{
    float thr[15];
    eden_boundaries(e[0], thr, unit);
    size_t n_finite, n = ed_input(y, cap, thr, &n_finite);
    double sums[ED_PATHS][2], fsums[ED_PATHS][2];
    for (int p = 0; p < ED_PATHS; p++) {
        eden_quantize_probe(e[p], packed[p], sums[p], y, n, unit);
        /* the finite part alone, whose sums every path forms bit for bit */
        uint8_t *tmp = mem_alloc(n / 2);
        ck_assert(tmp != NULL);
        eden_quantize_probe(e[p], tmp, fsums[p], y, n_finite, unit);
        ck_assert(memcmp(tmp, packed[p], n_finite / 2) == 0);
        mem_free(tmp);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned want = 0;
        for (unsigned k = 0; k < 15; k++)
            want += ties_up ? y[i] >= thr[k] : y[i] > thr[k];
        for (int p = 0; p < ED_PATHS; p++)
            ck_assert_msg(ed_field(packed[p], i) == want,
                          "unit %g, ties %d, path %d: y[%zu] = %a in cell %u, not %u", unit,
                          ties_up, p, i, (double)y[i], ed_field(packed[p], i), want);
    }
    for (int p = 1; p < ED_PATHS; p++) {
        ck_assert_msg(memcmp(fsums[p], fsums[0], sizeof fsums[0]) == 0,
                      "unit %g, ties %d: sums of path %d (%a, %a) not (%a, %a)", unit, ties_up, p,
                      fsums[p][0], fsums[p][1], fsums[0][0], fsums[0][1]);
        ck_assert(isnan(sums[p][0]) && isnan(sums[0][0]));
    }
}

static const double ed_units[] = { 1.0,      0.37,    1e-3,  3.1e5, 12345.678, 1e-30,  1e30, 2e37,
                                   7.77e-38, 1.2e-38, 1e-39, 1e-44, 0.0,       1.3e38, 1e38 };

START_TEST(direct_cells_match_definition)
{
    static const unsigned flags[] = { 0, EDEN_TIES_UP };
    const size_t D = 1 << 16;
    float *y = mem_alloc(D * sizeof *y);
    uint8_t *packed[ED_PATHS];
    for (int p = 0; p < ED_PATHS; p++) {
        packed[p] = mem_alloc(D / 2);
        ck_assert(packed[p] != NULL);
    }
    ck_assert(y != NULL);
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        struct codec_params cp;
        tdme_params(&cp, CODEC_EDEN, 4);
        cp.exact_codebook = _i == 1;
        struct eden *e[ED_PATHS];
        for (int p = 0; p < ED_PATHS; p++) {
            e[p] = eden_new(&cp, _i == 1 ? 4096 : D, flags[f] | ed_path_flags[p]);
            ck_assert(e[p] != NULL);
        }
        size_t cap = _i == 1 ? 4096 : D;
        for (size_t u = 0; u < sizeof ed_units / sizeof ed_units[0]; u++)
            ed_check_unit(e, ed_units[u], flags[f] == EDEN_TIES_UP, y, cap, packed);
        for (int p = 0; p < ED_PATHS; p++)
            eden_free(e[p]);
    }
    for (int p = 0; p < ED_PATHS; p++)
        mem_free(packed[p]);
    mem_free(y);
}
END_TEST

/*
 * x = a·e_0 + b·e_m: coordinate i of the rotation is (±a ± b)/√D, the second sign that of
 * bit log2(m) of i, so with |a| = |b| near FLT_MAX the blocks where the two add overflow
 * and the others are 0 (m = 2^10 .. 2^15 puts the two kinds in the same pair of blocks or
 * not). The messages of every path agree.
 */
START_TEST(overflowing_blocks_take_the_search)
{
    static const unsigned flags[] = { 0, EDEN_TIES_UP, EDEN_FIXED_SCALE };
    const size_t d = 1 << 16;
    float *x = mem_alloc(d * sizeof *x);
    ck_assert(x != NULL);
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        struct codec_params cp;
        tdme_params(&cp, CODEC_EDEN, 4);
        struct eden *e[ED_PATHS];
        uint8_t *msg[ED_PATHS];
        for (int p = 0; p < ED_PATHS; p++) {
            e[p] = eden_new(&cp, d, flags[f] | ed_path_flags[p]);
            ck_assert(e[p] != NULL);
            msg[p] = mem_alloc(eden_max_bytes(e[p]));
            ck_assert(msg[p] != NULL);
        }
        for (size_t m = 1024; m < d; m *= 2) {
            for (int sb = -1; sb <= 1; sb += 2) {
                memset(x, 0, d * sizeof *x);
                x[0] = 3e38f;
                x[m] = (float)sb * 3e38f;
                x[m / 2 + 1] = 1.0f; /* finite, nonzero coordinates in the other blocks */
                struct codec_link l = { .seed = 6, .round = m, .client = (uint64_t)(sb + 1) };
                struct errbuf eb;
                size_t len[ED_PATHS];
                for (int p = 0; p < ED_PATHS; p++)
                    ck_assert_int_eq(
                        eden_encode(e[p], msg[p], eden_max_bytes(e[p]), &len[p], x, &l, &eb), 0);
                for (int p = 1; p < ED_PATHS; p++) {
                    ck_assert_uint_eq(len[p], len[0]);
                    ck_assert_msg(memcmp(msg[p], msg[0], len[0]) == 0,
                                  "flags %u, m %zu, sign %d: path %d differs", flags[f], m, sb, p);
                }
            }
        }
        for (int p = 0; p < ED_PATHS; p++) {
            mem_free(msg[p]);
            eden_free(e[p]);
        }
    }
    mem_free(x);
}
END_TEST

Suite *
eden_direct_suite(void)
{
    Suite *s = suite_create("eden_direct");
    TCase *tc = tcase_create("eden_direct");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, direct_cells_match_definition, 0, 2);
    tcase_add_test(tc, overflowing_blocks_take_the_search);
    suite_add_tcase(s, tc);
    return s;
}
