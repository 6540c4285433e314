/* server_opt: the FedAvg server step and the optimizer names. */
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
    ck_assert_str_eq(server_opt_kind_name(SERVER_OPT_KIND_COUNT), "?");
    ck_assert_str_eq(server_opt_kind_name((enum server_opt_kind) - 1), "?");
}
END_TEST

static const char *const so_bad_names[] = { "fedadam", "FedAvg", "", "fedavg ", "fed" };

START_TEST(kind_parse_rejects)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    enum server_opt_kind kind = SERVER_OPT_FEDAVG;
    ck_assert_int_eq(server_opt_kind_parse(so_bad_names[_i], &kind, &eb), -ERR_INVALID);
    char expect[ERRBUF_MSG_BYTES];
    snprintf(expect, sizeof expect, "unknown server optimizer '%s' (known: fedavg)",
             so_bad_names[_i]);
    ck_assert_str_eq(eb.msg, expect);
    ck_assert_int_eq(kind, SERVER_OPT_FEDAVG);
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
    tc = tcase_create("kinds");
    tcase_add_test(tc, kind_names_round_trip);
    tcase_add_loop_test(tc, kind_parse_rejects, 0,
                        (int)(sizeof so_bad_names / sizeof so_bad_names[0]));
    suite_add_tcase(s, tc);
    return s;
}
