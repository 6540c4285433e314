/*
 * Tests for clients/rnn_step: every kernel set gives the portable path's bits, the product
 * is exact where the arithmetic is, and the gate functions are within their stated error of
 * the exact functions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "clients/rnn_step.h"
#include "tests/unit/clients/suites.h"

#define RT_MAX 4096

static float
rt_uniform(struct rng *r, double lo, double hi)
{
    return (float)(lo + (hi - lo) * rng_uniform(r));
}

/* Shapes around the kernels' blocks: rows 5 and 4, columns 64 and 16. */
static const size_t rt_rows[] = { 1, 2, 4, 5, 6, 10, 11 };
static const size_t rt_cols[] = { 1, 7, 16, 17, 64, 70, 129 };
static const size_t rt_depth[] = { 0, 1, 3, 33 };

START_TEST(product_same_bits_on_every_kernel_set)
{
    struct rng r;
    rng_init_stream(&r, 11, RNG_PURPOSE_TEST, 0, 0);
    static float a[16 * 40], b[40 * 140], p[40 * 192], out[KERNEL_ISA_BEST + 1][16 * 140];
    for (size_t ri = 0; ri < sizeof rt_rows / sizeof rt_rows[0]; ri++)
        for (size_t ci = 0; ci < sizeof rt_cols / sizeof rt_cols[0]; ci++)
            for (size_t di = 0; di < sizeof rt_depth / sizeof rt_depth[0]; di++)
                for (int accumulate = 0; accumulate <= 1; accumulate++) {
                    size_t rows = rt_rows[ri], cols = rt_cols[ci], depth = rt_depth[di];
                    size_t lda = depth + 3, ldb = cols + 5, ldo = cols + 2;
                    for (size_t i = 0; i < rows * lda; i++)
                        a[i] = rt_uniform(&r, -1, 1);
                    for (size_t i = 0; i < depth * ldb; i++)
                        b[i] = rt_uniform(&r, -1, 1);
                    for (size_t i = 0; i < rows * ldo; i++)
                        out[0][i] = rt_uniform(&r, -1, 1);
                    for (int isa = 1; isa <= KERNEL_ISA_BEST; isa++)
                        memcpy(out[isa], out[0], rows * ldo * sizeof out[0][0]);
                    ck_assert_uint_le(rnn_step_packed_floats(depth, cols), sizeof p / sizeof p[0]);
                    rnn_step_pack(b, ldb, 1, depth, cols, p);
                    for (int isa = 0; isa <= KERNEL_ISA_BEST; isa++)
                        rnn_step_product(rows, cols, depth, a, lda, p, out[isa], ldo, accumulate,
                                         (enum kernel_isa)isa);
                    for (int isa = 1; isa <= KERNEL_ISA_BEST; isa++)
                        ck_assert_mem_eq(out[isa], out[0], rows * ldo * sizeof out[0][0]);
                }
}
END_TEST

/* With small integers every partial sum is exact, so the product is the integer one; the
 * padding between rows (ldo > cols) is never written. */
START_TEST(product_exact_on_integers)
{
    struct rng r;
    rng_init_stream(&r, 12, RNG_PURPOSE_TEST, 0, 0);
    enum { ROWS = 10, COLS = 100, DEPTH = 64, LDO = 103 };
    static float a[ROWS * DEPTH], b[DEPTH * COLS], bt[COLS * DEPTH], p[DEPTH * 128],
        p2[DEPTH * 128];
    static float out[ROWS * LDO];
    for (size_t i = 0; i < ROWS * DEPTH; i++)
        a[i] = (float)((int)(rng_uniform(&r) * 33) - 16);
    for (size_t i = 0; i < DEPTH * COLS; i++)
        b[i] = (float)((int)(rng_uniform(&r) * 33) - 16);
    for (size_t k = 0; k < DEPTH; k++)
        for (size_t c = 0; c < COLS; c++)
            bt[c * DEPTH + k] = b[k * COLS + c];
    /* Packing the matrix or its transpose read the other way gives the same panels. */
    ck_assert_uint_eq(rnn_step_packed_floats(DEPTH, COLS), DEPTH * 128);
    rnn_step_pack(b, COLS, 1, DEPTH, COLS, p);
    rnn_step_pack(bt, 1, DEPTH, DEPTH, COLS, p2);
    ck_assert_mem_eq(p, p2, sizeof p);
    for (int isa = 0; isa <= KERNEL_ISA_BEST; isa++)
        for (int accumulate = 0; accumulate <= 1; accumulate++) {
            for (size_t i = 0; i < ROWS * LDO; i++)
                out[i] = (float)(i % 7);
            rnn_step_product(ROWS, COLS, DEPTH, a, DEPTH, p, out, LDO, accumulate,
                             (enum kernel_isa)isa);
            for (size_t i = 0; i < ROWS; i++) {
                for (size_t c = 0; c < COLS; c++) {
                    long want = accumulate ? (long)((i * LDO + c) % 7) : 0;
                    for (size_t k = 0; k < DEPTH; k++)
                        want += (long)a[i * DEPTH + k] * (long)b[k * COLS + c];
                    ck_assert_msg(out[i * LDO + c] == (float)want, "isa %d (%zu, %zu): %g != %ld",
                                  isa, i, c, (double)out[i * LDO + c], want);
                }
                for (size_t c = COLS; c < LDO; c++)
                    ck_assert_float_eq(out[i * LDO + c], (float)((i * LDO + c) % 7));
            }
        }
}
END_TEST

START_TEST(exp_within_one_ulp)
{
    /* Every 97th float of [-87, 88] and the ends; below -87 and above 88 the input is
     * clamped, so the results stay finite and positive. */
    double worst = 0.0;
    for (double x = -87.0; x <= 88.0; x += 1.0 / 4096.0 * 0.97) {
        float xf = (float)x;
        double want = exp((double)xf), got = rnn_step_exp(xf);
        double ulp = ldexp(1.0, ilogb(want) - 23);
        double err = fabs(got - want) / ulp;
        worst = err > worst ? err : worst;
    }
    ck_assert_msg(worst <= 1.0, "worst error %.3f ulp", worst);
    ck_assert_float_eq(rnn_step_exp(0.0f), 1.0f);
    ck_assert_float_eq(rnn_step_exp(-1000.0f), rnn_step_exp(-87.0f));
    ck_assert_float_eq(rnn_step_exp(1000.0f), rnn_step_exp(88.0f));
    ck_assert(isfinite(rnn_step_exp(88.0f)) && rnn_step_exp(-87.0f) > 0.0f);
    ck_assert_float_eq(rnn_step_exp(INFINITY), rnn_step_exp(88.0f));
    ck_assert_float_eq(rnn_step_exp(-INFINITY), rnn_step_exp(-87.0f));
    /* A diverged pre-activation is not hidden by the gates. */
    ck_assert(isnan(rnn_step_exp(NAN)) && isnan(rnn_step_sigmoid(NAN)) &&
              isnan(rnn_step_tanh(NAN)));
}
END_TEST

START_TEST(gates_within_stated_error)
{
    double ws = 0.0, wt = 0.0;
    for (double x = -40.0; x <= 40.0; x += 1.0 / 1024.0 * 0.93) {
        float xf = (float)x;
        double s = 1.0 / (1.0 + exp(-(double)xf)), t = tanh((double)xf);
        double es = fabs(rnn_step_sigmoid(xf) - s), et = fabs(rnn_step_tanh(xf) - t);
        ws = es > ws ? es : ws;
        wt = et > wt ? et : wt;
    }
    ck_assert_msg(ws < 2e-7 && wt < 2e-7, "sigmoid %.3g, tanh %.3g", ws, wt);
    ck_assert_float_eq(rnn_step_tanh(0.0f), 0.0f);
    ck_assert_float_eq(rnn_step_sigmoid(0.0f), 0.5f);
    ck_assert_float_eq(rnn_step_tanh(50.0f), 1.0f);
    ck_assert_float_eq(rnn_step_tanh(-50.0f), -1.0f);
}
END_TEST

/* The cell and its gradient: every kernel set gives the portable bits (H = 37 exercises
 * both the vector body and the scalar tail), and the portable path is the cell's formula. */
START_TEST(cell_same_bits_on_every_kernel_set)
{
    enum { H = 37 };
    struct rng r;
    rng_init_stream(&r, 13, RNG_PURPOSE_TEST, 0, 0);
    float g0[4 * H], cp[H], dh[H], dy[H], dc0[H];
    float g[KERNEL_ISA_BEST + 1][4 * H], c[KERNEL_ISA_BEST + 1][H], h[KERNEL_ISA_BEST + 1][H];
    float dc[KERNEL_ISA_BEST + 1][H], da[KERNEL_ISA_BEST + 1][4 * H];
    for (int trial = 0; trial < 50; trial++) {
        for (size_t u = 0; u < 4 * H; u++)
            g0[u] = rt_uniform(&r, -12, 12);
        for (size_t u = 0; u < H; u++) {
            cp[u] = rt_uniform(&r, -3, 3);
            dh[u] = rt_uniform(&r, -1, 1);
            dy[u] = rt_uniform(&r, -1, 1);
            dc0[u] = rt_uniform(&r, -1, 1);
        }
        for (int isa = 0; isa <= KERNEL_ISA_BEST; isa++) {
            memcpy(g[isa], g0, sizeof g0);
            rnn_step_lstm_cell(g[isa], cp, c[isa], h[isa], H, (enum kernel_isa)isa);
            memcpy(dc[isa], dc0, sizeof dc0);
            rnn_step_lstm_cell_grad(g[isa], cp, c[isa], trial % 2 ? dy : NULL, dh, dc[isa], da[isa],
                                    H, (enum kernel_isa)isa);
            ck_assert_mem_eq(g[isa], g[0], sizeof g[0]);
            ck_assert_mem_eq(c[isa], c[0], sizeof c[0]);
            ck_assert_mem_eq(h[isa], h[0], sizeof h[0]);
            ck_assert_mem_eq(dc[isa], dc[0], sizeof dc[0]);
            ck_assert_mem_eq(da[isa], da[0], sizeof da[0]);
        }
        for (size_t u = 0; u < H; u++) {
            float ig = rnn_step_sigmoid(g0[u]), fg = rnn_step_sigmoid(g0[H + u]);
            float gg = rnn_step_tanh(g0[2 * H + u]), og = rnn_step_sigmoid(g0[3 * H + u]);
            float cu = fg * cp[u] + ig * gg;
            ck_assert_float_eq(c[0][u], cu);
            ck_assert_float_eq(h[0][u], og * rnn_step_tanh(cu));
            float d = dh[u] + (trial % 2 ? dy[u] : 0.0f), tc = rnn_step_tanh(cu);
            float dcu = d * og * (1.0f - tc * tc) + dc0[u];
            ck_assert_float_eq(da[0][u], dcu * gg * ig * (1.0f - ig));
            ck_assert_float_eq(da[0][H + u], dcu * cp[u] * fg * (1.0f - fg));
            ck_assert_float_eq(da[0][2 * H + u], dcu * ig * (1.0f - gg * gg));
            ck_assert_float_eq(da[0][3 * H + u], d * tc * og * (1.0f - og));
            ck_assert_float_eq(dc[0][u], dcu * fg);
        }
    }
    /* A NaN pre-activation (a diverged model) reaches the cell and the state on every kernel
     * set, in the vector body (u = 3) and in the tail (u = 36). */
    for (int isa = 0; isa <= KERNEL_ISA_BEST; isa++) {
        memcpy(g[isa], g0, sizeof g0);
        g[isa][3] = NAN;
        g[isa][2 * H + 36] = NAN;
        rnn_step_lstm_cell(g[isa], cp, c[isa], h[isa], H, (enum kernel_isa)isa);
        ck_assert(isnan(c[isa][3]) && isnan(h[isa][3]));
        ck_assert(isnan(c[isa][36]) && isnan(h[isa][36]));
        ck_assert(!isnan(c[isa][4]) && !isnan(h[isa][4]));
    }
}
END_TEST

Suite *
rnn_step_suite(void)
{
    Suite *s = suite_create("rnn_step");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, product_same_bits_on_every_kernel_set);
    tcase_add_test(tc, product_exact_on_integers);
    tcase_add_test(tc, exp_within_one_ulp);
    tcase_add_test(tc, gates_within_stated_error);
    tcase_add_test(tc, cell_same_bits_on_every_kernel_set);
    suite_add_tcase(s, tc);
    return s;
}
