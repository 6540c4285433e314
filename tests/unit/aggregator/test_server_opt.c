/* server_opt: the FedAvg server step and the optimizer names. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/server_opt.h"
#include "tests/support/check_support.h"
#include "tests/unit/aggregator/suites.h"

enum { SO_DIM = 6 };

/* w + lr * mean with dyadic values and lr = 0.5 or 1: every operation is exact. */
START_TEST(apply_adds_scaled_mean)
{
    static const double lrs[] = { 1.0, 0.5, 2.0 };
    const float w0[SO_DIM] = { 1.5f, -2.25f, 0.0f, 1000.0f, -0.125f, 3.0f };
    const float mean[SO_DIM] = { 0.25f, 0.75f, -4.0f, -0.5f, 0.0625f, -3.0f };
    for (size_t k = 0; k < sizeof lrs / sizeof lrs[0]; k++) {
        struct server_opt_params p = { .kind = SERVER_OPT_FEDAVG, .lr = lrs[k] };
        struct server_opt *o = server_opt_new(&p, SO_DIM);
        ck_assert_ptr_nonnull(o);
        float w[SO_DIM];
        memcpy(w, w0, sizeof w);
        server_opt_apply(o, w, mean);
        for (size_t i = 0; i < SO_DIM; i++)
            ck_assert_float_eq(w[i], (float)((double)w0[i] + lrs[k] * (double)mean[i]));
        /* A second round applies again: no hidden state for FedAvg. */
        server_opt_apply(o, w, mean);
        for (size_t i = 0; i < SO_DIM; i++)
            ck_assert_float_eq(w[i], (float)((double)w0[i] + 2.0 * lrs[k] * (double)mean[i]));
        server_opt_free(o);
    }
    server_opt_free(NULL);
}
END_TEST

/* A general learning rate: the float product w + (float)lr * mean, bit for bit. */
START_TEST(apply_general_lr)
{
    struct server_opt_params p = { .kind = SERVER_OPT_FEDAVG, .lr = 0.3817 };
    struct server_opt *o = server_opt_new(&p, SO_DIM);
    ck_assert_ptr_nonnull(o);
    float w[SO_DIM] = { 0.1f, 0.2f, 0.3f, -0.4f, 0.5f, 0.6f };
    const float mean[SO_DIM] = { 1.1f, -2.2f, 3.3f, 4.4f, -5.5f, 6.6f };
    float expect[SO_DIM];
    for (size_t i = 0; i < SO_DIM; i++) {
        float step = (float)p.lr * mean[i];
        expect[i] = w[i] + step;
    }
    server_opt_apply(o, w, mean);
    for (size_t i = 0; i < SO_DIM; i++)
        ck_assert_float_eq(w[i], expect[i]);
    server_opt_free(o);
}
END_TEST

START_TEST(kind_names_round_trip)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    for (int k = 0; k < SERVER_OPT_KIND_COUNT; k++) {
        enum server_opt_kind kind = SERVER_OPT_KIND_COUNT;
        const char *name = server_opt_kind_name((enum server_opt_kind)k);
        ck_assert_int_eq(server_opt_kind_parse(name, &kind, &eb), 0);
        ck_assert_int_eq(kind, k);
    }
    ck_assert_str_eq(server_opt_kind_name(SERVER_OPT_FEDAVG), "fedavg");
    ck_assert_str_eq(server_opt_kind_name(SERVER_OPT_FEDAVGM), "fedavgm");
    ck_assert_str_eq(server_opt_kind_name(SERVER_OPT_FEDADAM), "fedadam");
    ck_assert_str_eq(server_opt_kind_name(SERVER_OPT_FEDYOGI), "fedyogi");
    ck_assert_str_eq(server_opt_kind_name(SERVER_OPT_FEDADAGRAD), "fedadagrad");
    ck_assert_str_eq(server_opt_kind_name(SERVER_OPT_KIND_COUNT), "?");
    ck_assert_str_eq(server_opt_kind_name((enum server_opt_kind) - 1), "?");
}
END_TEST

static const char *const so_bad_names[] = { "adam", "FedAvg", "", "fedavg ", "fed" };

START_TEST(kind_parse_rejects)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    enum server_opt_kind kind = SERVER_OPT_FEDAVG;
    ck_assert_int_eq(server_opt_kind_parse(so_bad_names[_i], &kind, &eb), -ERR_INVALID);
    /* The message lists the table's names in order: "fedavg, fedavgm, fedadam, ...". */
    char known[256] = "", expect[ERRBUF_MSG_BYTES];
    for (int k = 0; k < SERVER_OPT_KIND_COUNT; k++) {
        size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s%s", k > 0 ? ", " : "",
                 server_opt_kind_name((enum server_opt_kind)k));
    }
    ck_assert_ptr_nonnull(strstr(known, "fedavg, fedavgm, fedadam, fedyogi, fedadagrad"));
    snprintf(expect, sizeof expect, "unknown server optimizer '%s' (known: %s)", so_bad_names[_i],
             known);
    ck_assert_str_eq(eb.msg, expect);
    ck_assert_int_eq(kind, SERVER_OPT_FEDAVG);
}
END_TEST

/*
 * Two rounds of every stateful optimizer on two coordinates, against values worked out by
 * hand (in double) from Reddi et al., Algorithm 2, with lr = 0.1, beta1 = 0.9,
 * beta2 = 0.99, tau = 1e-3 (so v starts at 1e-6) and momentum 0.9. Coordinate 0 starts at
 * w = 1 and sees Delta = 0.5 then -0.25; coordinate 1 starts at -2 and sees -0.125 then
 * 0.75. For example FedAdam, coordinate 0, round 1: m = 0.1 * 0.5 = 0.05,
 * v = 0.99e-6 + 0.01 * 0.25 = 0.00250099, w = 1 + 0.1 * 0.05 / (sqrt(v) + 1e-3)
 * = 1.09802019012. FedYogi round 1: v = 1e-6 - 0.01 * 0.25 * sign(1e-6 - 0.25) = 0.002501.
 * FedAdagrad: v = 1e-6 + 0.25. FedAvgM: m = 0.5, w = 1.05; then m = 0.9 * 0.5 - 0.25 = 0.2,
 * w = 1.07. m, v and w are stored as float, so the tolerance is a few float ulps:
 * relative 1e-6.
 */
struct so_expect {
    enum server_opt_kind kind;
    double w[2][2]; /* [round][coordinate] */
    double m[2][2];
    double v[2][2];
};

static const struct so_expect so_expected[] = {
    { SERVER_OPT_FEDAVGM,
      { { 1.05, -2.0125 }, { 1.07, -1.94875 } },
      { { 0.5, -0.125 }, { 0.2, 0.6375 } },
      { { 0, 0 }, { 0, 0 } } },
    { SERVER_OPT_FEDADAM,
      { { 1.09802019012, -2.09232220839 }, { 1.1333019937, -2.00956299863 } },
      { { 0.05, -0.0125 }, { 0.02, 0.06375 } },
      { { 0.00250099, 0.00015724 }, { 0.0031009801, 0.0057806676 } } },
    { SERVER_OPT_FEDYOGI,
      { { 1.098019998, -2.09231948963 }, { 1.13316280952, -2.00957145779 } },
      { { 0.05, -0.0125 }, { 0.02, 0.06375 } },
      { { 0.002501, 0.00015725 }, { 0.003126, 0.00578225 } } },
    { SERVER_OPT_FEDADAGRAD,
      { { 1.00998002, -2.00992031999 }, { 1.01355133449, -2.00154699142 } },
      { { 0.05, -0.0125 }, { 0.02, 0.06375 } },
      { { 0.250001, 0.015626 }, { 0.312501, 0.578126 } } },
};

static void
so_params(struct server_opt_params *p, enum server_opt_kind kind)
{
    server_opt_params_default(p);
    p->kind = kind;
    p->lr = 0.1;
}

START_TEST(two_rounds_match_hand_computation)
{
    const struct so_expect *e = &so_expected[_i];
    struct server_opt_params p;
    so_params(&p, e->kind);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(server_opt_params_check(&p, &eb), 0);
    struct server_opt *o = server_opt_new(&p, 2);
    ck_assert_ptr_nonnull(o);
    size_t len = server_opt_state_len(o);
    ck_assert_uint_eq(len, e->kind == SERVER_OPT_FEDAVGM ? 2 : 4);
    float w[2] = { 1.0f, -2.0f };
    const float delta[2][2] = { { 0.5f, -0.125f }, { -0.25f, 0.75f } };
    for (int t = 0; t < 2; t++) {
        server_opt_apply(o, w, delta[t]);
        float st[4];
        ck_assert_int_eq(server_opt_state_get(o, st, len, &eb), 0);
        for (int i = 0; i < 2; i++) {
            ck_assert_rel_tol(w[i], e->w[t][i], 1e-6);
            ck_assert_rel_tol(st[i], e->m[t][i], 1e-6);
            if (len == 4)
                ck_assert_rel_tol(st[2 + i], e->v[t][i], 1e-6);
        }
    }
    server_opt_free(o);
}
END_TEST

/* Zero updates leave every optimizer's model unchanged; fresh state is m = 0, v = tau^2. */
START_TEST(fresh_state_and_zero_update)
{
    struct server_opt_params p;
    so_params(&p, (enum server_opt_kind)_i);
    struct server_opt *o = server_opt_new(&p, SO_DIM);
    ck_assert_ptr_nonnull(o);
    size_t len = server_opt_state_len(o);
    float st[2 * SO_DIM];
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(server_opt_state_get(o, st, len, &eb), 0);
    for (size_t i = 0; i < len; i++)
        ck_assert_float_eq(st[i], i < SO_DIM ? 0.0f : (float)(p.tau * p.tau));
    float w[SO_DIM] = { 0.1f, -0.2f, 0.3f, 4.0f, -5.0f, 0.0f };
    float w0[SO_DIM];
    memcpy(w0, w, sizeof w);
    const float zero[SO_DIM] = { 0 };
    server_opt_apply(o, w, zero);
    for (size_t i = 0; i < SO_DIM; i++)
        ck_assert_float_eq(w[i], w0[i]);
    server_opt_free(o);
}
END_TEST

/*
 * Checkpoint: save the state after round 1 into a second optimizer, replay round 2 on
 * both: bit-identical models and states.
 */
START_TEST(state_restore_replays_bit_for_bit)
{
    struct server_opt_params p;
    so_params(&p, (enum server_opt_kind)_i);
    p.lr = 0.0371;
    struct server_opt *a = server_opt_new(&p, SO_DIM), *b = server_opt_new(&p, SO_DIM);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    float wa[SO_DIM] = { 0.11f, -0.23f, 0.37f, 4.1f, -5.3f, 0.07f };
    const float d1[SO_DIM] = { 0.3f, -0.7f, 1.9f, -0.01f, 0.0f, 2.385f };
    const float d2[SO_DIM] = { -0.6f, -0.2f, 0.4f, 0.03f, 1.5f, -2.385f };
    server_opt_apply(a, wa, d1);
    size_t len = server_opt_state_len(a);
    float st[2 * SO_DIM], st2[2 * SO_DIM];
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(server_opt_state_get(a, st, len, &eb), 0);
    ck_assert_int_eq(server_opt_state_set(b, st, len, &eb), 0);
    float wb[SO_DIM];
    memcpy(wb, wa, sizeof wa);
    server_opt_apply(a, wa, d2);
    server_opt_apply(b, wb, d2);
    ck_assert_mem_eq(wa, wb, sizeof wa);
    ck_assert_int_eq(server_opt_state_get(a, st, len, &eb), 0);
    ck_assert_int_eq(server_opt_state_get(b, st2, len, &eb), 0);
    if (len > 0)
        ck_assert_mem_eq(st, st2, len * sizeof *st);
    server_opt_free(a);
    server_opt_free(b);
}
END_TEST

START_TEST(state_rejects_bad_input)
{
    struct server_opt_params p;
    so_params(&p, SERVER_OPT_FEDADAM);
    struct server_opt *o = server_opt_new(&p, 3);
    ck_assert_ptr_nonnull(o);
    struct errbuf eb;
    errbuf_clear(&eb);
    float st[6] = { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f };
    ck_assert_int_eq(server_opt_state_get(o, st, 5, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.msg, "server optimizer 'fedadam' state has 6 floats, 5 given");
    ck_assert_int_eq(server_opt_state_set(o, st, 7, &eb), -ERR_INVALID);
    st[4] = -0.5f;
    ck_assert_int_eq(server_opt_state_set(o, st, 6, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "server optimizer state entry 4 (v[1]) is -0.5, not a finite "
                             "non-negative float");
    ck_assert_int_eq(eb.offset, 4);
    st[4] = 0.5f;
    st[1] = NAN;
    ck_assert_int_eq(server_opt_state_set(o, st, 6, &eb), -ERR_CORRUPT);
    /* The failed restores changed nothing: the state is still the fresh one. */
    float got[6];
    ck_assert_int_eq(server_opt_state_get(o, got, 6, &eb), 0);
    ck_assert_float_eq(got[1], 0.0f);
    ck_assert_float_eq(got[4], (float)1e-6);
    server_opt_free(o);

    so_params(&p, SERVER_OPT_FEDAVG);
    o = server_opt_new(&p, 3);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(server_opt_state_len(o), 0);
    ck_assert_int_eq(server_opt_state_get(o, got, 0, &eb), 0);
    ck_assert_int_eq(server_opt_state_set(o, got, 0, &eb), 0);
    server_opt_free(o);
}
END_TEST

/* Every invalid setting is rejected with the key of the field. */
struct so_bad_param {
    enum server_opt_kind kind;
    double lr, beta1, beta2, tau, momentum;
    const char *key;
};

static const struct so_bad_param so_bad_params[] = {
    { SERVER_OPT_FEDAVG, 0.0, 0.9, 0.99, 1e-3, 0.9, "server.lr" },
    { SERVER_OPT_FEDAVG, NAN, 0.9, 0.99, 1e-3, 0.9, "server.lr" },
    { SERVER_OPT_FEDAVGM, 1.0, 0.9, 0.99, 1e-3, 1.0, "server.momentum" },
    { SERVER_OPT_FEDAVGM, 1.0, 0.9, 0.99, 1e-3, -0.1, "server.momentum" },
    { SERVER_OPT_FEDADAM, 1.0, 1.0, 0.99, 1e-3, 0.9, "server.beta1" },
    { SERVER_OPT_FEDYOGI, 1.0, 0.9, 1.0, 1e-3, 0.9, "server.beta2" },
    { SERVER_OPT_FEDADAM, 1.0, 0.9, 0.99, 0.0, 0.9, "server.tau" },
    { SERVER_OPT_FEDADAGRAD, 1.0, 0.9, 0.99, 1e-30, 0.9, "server.tau" },
    { SERVER_OPT_KIND_COUNT, 1.0, 0.9, 0.99, 1e-3, 0.9, "server.optimizer" },
};

START_TEST(params_check_rejects)
{
    const struct so_bad_param *b = &so_bad_params[_i];
    struct server_opt_params p = { .kind = b->kind,
                                   .lr = b->lr,
                                   .beta1 = b->beta1,
                                   .beta2 = b->beta2,
                                   .tau = b->tau,
                                   .momentum = b->momentum };
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(server_opt_params_check(&p, &eb), -ERR_INVALID);
    ck_assert_str_eq(eb.key, b->key);
}
END_TEST

START_TEST(params_check_accepts_defaults)
{
    struct server_opt_params p;
    server_opt_params_default(&p);
    ck_assert_int_eq(p.kind, SERVER_OPT_FEDAVG);
    ck_assert_double_eq(p.beta1, 0.9);
    ck_assert_double_eq(p.beta2, 0.99);
    ck_assert_double_eq(p.tau, 1e-3);
    struct errbuf eb;
    errbuf_clear(&eb);
    for (int k = 0; k < SERVER_OPT_KIND_COUNT; k++) {
        p.kind = (enum server_opt_kind)k;
        ck_assert_int_eq(server_opt_params_check(&p, &eb), 0);
    }
    /* FedAdagrad ignores beta2, FedAvg ignores momentum. */
    p.kind = SERVER_OPT_FEDADAGRAD;
    p.beta2 = 1.0;
    ck_assert_int_eq(server_opt_params_check(&p, &eb), 0);
    p.kind = SERVER_OPT_FEDAVG;
    p.momentum = 7.0;
    ck_assert_int_eq(server_opt_params_check(&p, &eb), 0);
}
END_TEST

/* An unchecked tau = 0 with a zero update takes the limit step 0, never 0 / 0. */
START_TEST(unchecked_zero_tau_stays_finite)
{
    struct server_opt_params p = { .kind = (enum server_opt_kind)_i, .lr = 1.0 };
    struct server_opt *o = server_opt_new(&p, SO_DIM);
    ck_assert_ptr_nonnull(o);
    float w[SO_DIM] = { 0.5f, -1.5f, 2.0f, 0.0f, 1.0f, -3.0f };
    const float zero[SO_DIM] = { 0 };
    server_opt_apply(o, w, zero);
    ck_assert_float_eq(w[0], 0.5f);
    ck_assert_float_eq(w[5], -3.0f);
    server_opt_free(o);
}
END_TEST

Suite *
server_opt_suite(void)
{
    Suite *s = suite_create("server_opt");
    TCase *tc = tcase_create("apply");
    tcase_add_test(tc, apply_adds_scaled_mean);
    tcase_add_test(tc, apply_general_lr);
    suite_add_tcase(s, tc);
    tc = tcase_create("adaptive");
    tcase_add_loop_test(tc, two_rounds_match_hand_computation, 0,
                        (int)(sizeof so_expected / sizeof so_expected[0]));
    tcase_add_loop_test(tc, fresh_state_and_zero_update, 0, SERVER_OPT_KIND_COUNT);
    tcase_add_loop_test(tc, unchecked_zero_tau_stays_finite, 0, SERVER_OPT_KIND_COUNT);
    suite_add_tcase(s, tc);
    tc = tcase_create("state");
    tcase_add_loop_test(tc, state_restore_replays_bit_for_bit, 0, SERVER_OPT_KIND_COUNT);
    tcase_add_test(tc, state_rejects_bad_input);
    suite_add_tcase(s, tc);
    tc = tcase_create("params");
    tcase_add_loop_test(tc, params_check_rejects, 0,
                        (int)(sizeof so_bad_params / sizeof so_bad_params[0]));
    tcase_add_test(tc, params_check_accepts_defaults);
    suite_add_tcase(s, tc);
    tc = tcase_create("kinds");
    tcase_add_test(tc, kind_names_round_trip);
    tcase_add_loop_test(tc, kind_parse_rejects, 0,
                        (int)(sizeof so_bad_names / sizeof so_bad_names[0]));
    suite_add_tcase(s, tc);
    return s;
}
