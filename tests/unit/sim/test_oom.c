/*
 * Allocation-failure sweeps (curl's torture mode, SQLite's OOM tests): fail the 1st, 2nd,
 * ... N-th allocation made through base/mem while loading a scenario and while running a
 * round, and require a clean -ERR_NOMEM (or success when the failure was absorbed), never
 * a crash. Leaks are caught by LeakSanitizer in the sanitizer build (this executable runs
 * with CK_FORK=no so that LSan sees the whole process).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/store.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

static const char oom_yaml[] = "name: oom\n"
                               "seed: 3\n"
                               "data: {dataset: synthetic_iid, clients: 12}\n"
                               "model: {type: mlp, hidden: [5]}\n"
                               "train: {rounds: 2, clients_per_round: 4, batch_size: 4}\n"
                               "population: {dropout: {probability: 0.3, phase: any}}\n";

START_TEST(scenario_load_survives_every_failure)
{
    static const char *const sets[] = { "train.lr=0.1", "uplink.codec=none" };
    long n = 1;
    for (;; n++) {
        struct scenario s;
        struct errbuf eb;
        errbuf_clear(&eb);
        mem_fault_arm(n);
        int rc = scenario_load(&s, "oom.yaml", oom_yaml, strlen(oom_yaml), sets, 2, &eb);
        int fired = mem_fault_fired();
        mem_fault_arm(0);
        if (rc == 0) {
            char *json = scenario_to_json(&s);
            mem_free(json);
            scenario_release(&s);
        } else {
            ck_assert_int_eq(rc, -ERR_NOMEM);
            ck_assert_msg(eb.msg[0] != '\0', "allocation %ld: no message", n);
        }
        if (!fired)
            break;
    }
    ck_assert_int_gt(n, 10); /* the sweep really visited the allocations */
}
END_TEST

START_TEST(run_survives_every_failure)
{
    struct scenario s;
    ck_assert_int_eq(scenario_load(&s, "oom.yaml", oom_yaml, strlen(oom_yaml), NULL, 0, NULL), 0);
    char *dir = tsupport_tmpdir();
    long n = 1;
    for (;; n++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/oom-%ld.db", dir, n);
        struct store *st = NULL;
        ck_assert_int_eq(store_open(&st, path, NULL), 0);
        struct store_run_info info = { .name = "oom",
                                       .scenario_text = "",
                                       .config_json = "{}",
                                       .seed = 3,
                                       .version = "test",
                                       .started_at = "now" };
        int64_t id;
        ck_assert_int_eq(store_begin_run(st, &info, &id, NULL), 0);
        struct run_options o = { .threads = 1 };
        struct run_summary sum;
        struct errbuf eb;
        errbuf_clear(&eb);
        mem_fault_arm(n);
        int rc = run_execute(&s, st, id, &o, &sum, &eb);
        int fired = mem_fault_fired();
        mem_fault_arm(0);
        if (rc != 0)
            ck_assert_msg(rc == -ERR_NOMEM, "allocation %ld: %s", n, eb.msg);
        store_close(st);
        if (!fired) {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(sum.rounds, 2);
            break;
        }
    }
    ck_assert_int_gt(n, 10);
    scenario_release(&s);
    tsupport_rmtree(dir);
    free(dir);
}
END_TEST

Suite *
oom_suite(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("allocation failures");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, scenario_load_survives_every_failure);
    tcase_add_test(tc, run_survives_every_failure);
    suite_add_tcase(s, tc);
    return s;
}
