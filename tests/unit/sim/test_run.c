/* run: determinism across threads, dropout, exact bit accounting, interruption, stop rules. */
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/run.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

/* 20 clients, 5 per round, 3 rounds of FedAvg on Synthetic-IID with logistic regression. */
static const char rn_tiny[] = "name: tiny\n"
                              "seed: 5\n"
                              "data: {dataset: synthetic_iid, clients: 20}\n"
                              "model: {type: logreg}\n"
                              "train: {rounds: 3, clients_per_round: 5, batch_size: 10, lr: 0.05}\n"
                              "output: {db: unused.db}\n";

struct rn_result {
    int rc;
    struct run_summary sum;
    struct errbuf eb;
    int64_t run_id;
    unsigned callbacks;
};

static void
rn_on_round(void *ctx, const struct scenario *s, const struct store_round *r)
{
    struct rn_result *res = ctx;
    res->callbacks++;
    ck_assert_uint_eq(r->round, res->callbacks);
    if (s->protocol.type != PROTOCOL_ASYNC) /* FedBuff counts the jobs started in a period */
        ck_assert_uint_eq(r->selected, s->train.clients_per_round);
}

/* Loads rn_tiny with overrides and runs it into the database at path. */
static void
rn_run(const char *path, const char *const *sets, size_t n_sets, unsigned threads,
       const volatile sig_atomic_t *stop, struct rn_result *res)
{
    struct scenario s;
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = scenario_load(&s, "tiny.yaml", rn_tiny, strlen(rn_tiny), sets, n_sets, &eb);
    ck_assert_msg(rc == 0, "scenario: %s", eb.msg);
    struct store *st = NULL;
    rc = store_open(&st, path, &eb);
    ck_assert_msg(rc == 0, "store: %s", eb.msg);
    struct store_run_info info = { .name = s.name,
                                   .scenario_text = s.source_text,
                                   .config_json = "{}",
                                   .seed = s.seed,
                                   .version = "test",
                                   .started_at = "2026-01-01T00:00:00Z" };
    memset(res, 0, sizeof *res);
    ck_assert_int_eq(store_begin_run(st, &info, &res->run_id, &eb), 0);
    struct run_options o = {
        .threads = threads, .stop = stop, .on_round = rn_on_round, .ctx = res
    };
    errbuf_clear(&res->eb);
    res->rc = run_execute(&s, st, res->run_id, &o, &res->sum, &res->eb);
    store_close(st);
    scenario_release(&s);
}

/* Every rounds row of the only run in the database, all columns, as one text dump. */
static char *
rn_dump(const char *path, size_t *rows)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT * FROM rounds ORDER BY round", -1, &q, NULL),
                     SQLITE_OK);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    *rows = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(q); c++) {
            char cell[128];
            switch (sqlite3_column_type(q, c)) {
            case SQLITE_INTEGER:
                snprintf(cell, sizeof cell, "%lld", (long long)sqlite3_column_int64(q, c));
                break;
            case SQLITE_FLOAT:
                /* %a: every bit of the double. */
                snprintf(cell, sizeof cell, "%a", sqlite3_column_double(q, c));
                break;
            case SQLITE_NULL:
                snprintf(cell, sizeof cell, "NULL");
                break;
            default:
                snprintf(cell, sizeof cell, "'%s'", (const char *)sqlite3_column_text(q, c));
                break;
            }
            ck_assert_uint_lt(len + strlen(cell) + 2, cap);
            len += (size_t)snprintf(out + len, cap - len, "%s=%s%s", sqlite3_column_name(q, c),
                                    cell, c + 1 < sqlite3_column_count(q) ? "|" : "\n");
        }
        (*rows)++;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return out;
}

/* Column col of every rounds row, as doubles (NAN for NULL), in round order. */
static size_t
rn_column(const char *path, const char *col, double *out, size_t max)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM rounds ORDER BY round", col);
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    size_t n = 0;
    while (sqlite3_step(q) == SQLITE_ROW && n < max) {
        out[n++] = sqlite3_column_type(q, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 0);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

struct rn_dir {
    char *dir;
    char a[4096], b[4096];
};

static void
rn_dir_init(struct rn_dir *d)
{
    d->dir = tsupport_tmpdir();
    snprintf(d->a, sizeof d->a, "%s/a.db", d->dir);
    snprintf(d->b, sizeof d->b, "%s/b.db", d->dir);
}

static void
rn_dir_free(struct rn_dir *d)
{
    tsupport_rmtree(d->dir);
    free(d->dir);
}

START_TEST(threads_do_not_change_results)
{
    struct rn_dir d;
    rn_dir_init(&d);
    struct rn_result r1, r2;
    rn_run(d.a, NULL, 0, 1, NULL, &r1);
    rn_run(d.b, NULL, 0, 2, NULL, &r2);
    ck_assert_msg(r1.rc == 0, "1 thread: %s", r1.eb.msg);
    ck_assert_msg(r2.rc == 0, "2 threads: %s", r2.eb.msg);
    ck_assert_uint_eq(r1.sum.threads, 1);
    ck_assert_uint_eq(r2.sum.threads, 2);
    ck_assert_uint_eq(r1.sum.rounds, 3);
    ck_assert_uint_eq(r1.callbacks, 3);
    ck_assert_uint_eq(r1.sum.model_dim, 610);
    size_t n1, n2;
    char *a = rn_dump(d.a, &n1);
    char *b = rn_dump(d.b, &n2);
    ck_assert_uint_eq(n1, 3);
    ck_assert_uint_eq(n2, 3);
    ck_assert_str_eq(a, b);
    ck_assert_str_eq(r1.sum.fingerprint, r2.sum.fingerprint);
    ck_assert_uint_eq(strlen(r1.sum.fingerprint), RUN_FINGERPRINT_HEX - 1);
    ck_assert_uint_eq(r1.sum.events, r2.sum.events);
    ck_assert_int_eq(r1.sum.sim_time_us, r2.sum.sim_time_us);
    ck_assert_double_eq(r1.sum.final_accuracy, r2.sum.final_accuracy);
    ck_assert_double_eq(r1.sum.final_loss, r2.sum.final_loss);
    /* The model learned something: accuracy above chance for 10 classes. */
    ck_assert_double_gt(r1.sum.final_accuracy, 0.1);
    ck_assert_double_lt(r1.sum.final_loss, log(10.0));
    free(a);
    free(b);
    rn_dir_free(&d);
}
END_TEST

START_TEST(different_seed_differs)
{
    struct rn_dir d;
    rn_dir_init(&d);
    struct rn_result r1, r2;
    static const char *const sets[] = { "seed=6" };
    rn_run(d.a, NULL, 0, 1, NULL, &r1);
    rn_run(d.b, sets, 1, 1, NULL, &r2);
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_int_eq(r2.rc, 0);
    size_t n1, n2;
    char *a = rn_dump(d.a, &n1);
    char *b = rn_dump(d.b, &n2);
    ck_assert_str_ne(a, b);
    ck_assert_str_ne(r1.sum.fingerprint, r2.sum.fingerprint);
    ck_assert_double_ne(r1.sum.final_loss, r2.sum.final_loss);
    free(a);
    free(b);
    rn_dir_free(&d);
}
END_TEST

/*
 * codec none sends 32 bits per coordinate and the logreg model has 60 * 10 + 10 = 610
 * parameters: every upload is exactly 19,520 bits, every download too.
 */
START_TEST(bits_and_time_are_exact)
{
    struct rn_dir d;
    rn_dir_init(&d);
    struct rn_result r;
    rn_run(d.a, NULL, 0, 2, NULL, &r);
    ck_assert_int_eq(r.rc, 0);
    double part[3], sel[3], drop[3], up[3], down[3], t[3], acc[3];
    ck_assert_uint_eq(rn_column(d.a, "participants", part, 3), 3);
    rn_column(d.a, "selected", sel, 3);
    rn_column(d.a, "dropped", drop, 3);
    rn_column(d.a, "uplink_bits", up, 3);
    rn_column(d.a, "downlink_bits", down, 3);
    rn_column(d.a, "sim_time_s", t, 3);
    rn_column(d.a, "accuracy", acc, 3);
    double up_total = 0, down_total = 0;
    for (size_t i = 0; i < 3; i++) {
        ck_assert_double_eq(sel[i], 5);
        ck_assert_double_eq(part[i], 5);
        ck_assert_double_eq(drop[i], 0);
        ck_assert_double_eq(up[i], part[i] * 32 * 610);
        ck_assert_double_eq(down[i], sel[i] * 32 * 610);
        ck_assert(acc[i] >= 0.0 && acc[i] <= 1.0);
        up_total += up[i];
        down_total += down[i];
        if (i > 0)
            ck_assert_double_gt(t[i], t[i - 1]);
    }
    ck_assert_double_gt(t[0], 0.0);
    ck_assert_uint_eq(r.sum.uplink_bits, (uint64_t)up_total);
    ck_assert_uint_eq(r.sum.downlink_bits, (uint64_t)down_total);
    ck_assert_double_eq((double)r.sum.sim_time_us / 1e6, t[2]);
    rn_dir_free(&d);
}
END_TEST

/*
 * Everyone drops before the download: nobody participates, nothing is sent, and the
 * global model stays at its initial value, zeros for logistic regression, whose loss is
 * exactly ln 10 on every row (all logits 0).
 */
START_TEST(all_drop_before_download)
{
    struct rn_dir d;
    rn_dir_init(&d);
    struct rn_result r;
    static const char *const sets[] = { "population.dropout.probability=1",
                                        "population.dropout.phase=before_download" };
    rn_run(d.a, sets, 2, 2, NULL, &r);
    ck_assert_msg(r.rc == 0, "%s", r.eb.msg);
    ck_assert_uint_eq(r.sum.rounds, 3);
    double part[3], sel[3], drop[3], up[3], down[3], loss[3], t[3];
    ck_assert_uint_eq(rn_column(d.a, "participants", part, 3), 3);
    rn_column(d.a, "selected", sel, 3);
    rn_column(d.a, "dropped", drop, 3);
    rn_column(d.a, "uplink_bits", up, 3);
    rn_column(d.a, "downlink_bits", down, 3);
    rn_column(d.a, "loss", loss, 3);
    rn_column(d.a, "sim_time_s", t, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_double_eq(part[i], 0);
        ck_assert_double_eq(drop[i], sel[i]);
        ck_assert_double_eq(sel[i], 5);
        ck_assert_double_eq(up[i], 0);
        ck_assert_double_eq(down[i], 0);
        ck_assert_rel_tol(loss[i], log(10.0), 1e-12);
        ck_assert_double_eq(loss[i], loss[0]);
        ck_assert_double_eq(t[i], 0.0);
    }
    ck_assert_uint_eq(r.sum.uplink_bits, 0);
    rn_dir_free(&d);
}
END_TEST

START_TEST(stop_flag_interrupts)
{
    struct rn_dir d;
    rn_dir_init(&d);
    struct rn_result r;
    static volatile sig_atomic_t stop = 1;
    rn_run(d.a, NULL, 0, 1, &stop, &r);
    ck_assert_int_eq(r.rc, -ERR_INTERRUPTED);
    ck_assert_int_eq(r.eb.code, -ERR_INTERRUPTED);
    ck_assert_str_eq(r.eb.msg, "interrupted after 0 rounds");
    ck_assert_uint_eq(r.sum.rounds, 0);
    ck_assert_uint_eq(r.callbacks, 0);
    size_t n;
    char *a = rn_dump(d.a, &n);
    ck_assert_uint_eq(n, 0);
    free(a);
    rn_dir_free(&d);
}
END_TEST

/* Loads rn_tiny with overrides and resumes run_id of the database at path from its latest
 * checkpoint, as `fedbits resume` does. */
static void
rn_resume(const char *path, const char *const *sets, size_t n_sets, int64_t run_id,
          struct rn_result *res)
{
    struct scenario s;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(scenario_load(&s, "tiny.yaml", rn_tiny, strlen(rn_tiny), sets, n_sets, &eb),
                     0);
    struct store *st = NULL;
    ck_assert_int_eq(store_open(&st, path, &eb), 0);
    unsigned char *state = NULL;
    size_t len = 0;
    uint64_t round = 0;
    ck_assert_int_eq(store_load_checkpoint(st, run_id, &state, &len, &round, &eb), 0);
    ck_assert_ptr_nonnull(state);
    memset(res, 0, sizeof *res);
    res->callbacks = (unsigned)round;
    struct run_options o = { .threads = 1,
                             .on_round = rn_on_round,
                             .ctx = res,
                             .resume = state,
                             .resume_len = len,
                             .resume_round = round,
                             .rewind = true };
    errbuf_clear(&res->eb);
    res->rc = run_execute(&s, st, run_id, &o, &res->sum, &res->eb);
    free(state);
    store_close(st);
    scenario_release(&s);
}

/* The first n lines of a rounds dump (n rows). */
static void
rn_prefix(char *dump, size_t n)
{
    char *p = dump;
    for (size_t i = 0; i < n && p != NULL; i++) {
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    if (p != NULL)
        *p = '\0';
}

/*
 * train.target_accuracy: the run ends at the first evaluated round reaching the target, its
 * rows those of the same rounds without the rule; a target never reached runs every round.
 * The target is an accuracy of a 6-round run, so where it stops is known.
 */
START_TEST(target_accuracy_stops_at_first_round_reaching_it)
{
    struct rn_dir d;
    rn_dir_init(&d);
    static const char *const full_sets[] = { "train.rounds=6", "uplink.codec=eden" };
    struct rn_result full, r;
    rn_run(d.a, full_sets, 2, 1, NULL, &full);
    ck_assert_msg(full.rc == 0, "%s", full.eb.msg);
    double acc[6];
    ck_assert_uint_eq(rn_column(d.a, "accuracy", acc, 6), 6);
    /* The target: round 3's accuracy; the run stops at the first round reaching it. */
    size_t best = 0;
    while (acc[best] < acc[2])
        best++;
    ck_assert_uint_gt(best, 0); /* the test needs a target that round 1 does not reach */
    char set_target[64];
    snprintf(set_target, sizeof set_target, "train.target_accuracy=%.17g", acc[2]);
    const char *sets[] = { full_sets[0], full_sets[1], set_target };
    rn_run(d.b, sets, 3, 2, NULL, &r);
    ck_assert_msg(r.rc == 0, "%s", r.eb.msg);
    ck_assert_uint_eq(r.sum.rounds, best + 1);
    ck_assert_uint_eq(r.callbacks, best + 1);
    ck_assert_double_eq(r.sum.final_accuracy, acc[best]);
    size_t n_full, n;
    char *a = rn_dump(d.a, &n_full);
    char *b = rn_dump(d.b, &n);
    ck_assert_uint_eq(n, best + 1);
    rn_prefix(a, n);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    struct scenario s;
    struct errbuf eb;
    ck_assert_int_eq(scenario_load(&s, "tiny.yaml", rn_tiny, strlen(rn_tiny), sets, 3, &eb), 0);
    ck_assert_int_eq(run_stop_reason(&s, &r.sum), RUN_STOP_TARGET);
    scenario_release(&s);

    /* Never reached: all six rounds, the reason is the round count. */
    rn_dir_free(&d);
    rn_dir_init(&d);
    const char *never[] = { full_sets[0], full_sets[1], "train.target_accuracy=1" };
    rn_run(d.a, never, 3, 1, NULL, &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.sum.rounds, 6);
    ck_assert_str_eq(r.sum.fingerprint, full.sum.fingerprint);
    rn_dir_free(&d);
}
END_TEST

/*
 * train.time_budget_s: the rounds closing within the budget count, a round closing exactly
 * at it included; the first closing after it ends the run unstored. Sync and async (FedBuff).
 */
static void
rn_budget_case(const char *const *base, size_t n_base)
{
    struct rn_dir d;
    rn_dir_init(&d);
    struct rn_result full, r;
    rn_run(d.a, base, n_base, 1, NULL, &full);
    ck_assert_msg(full.rc == 0, "%s", full.eb.msg);
    double t[6];
    ck_assert_uint_eq(rn_column(d.a, "sim_time_s", t, 6), 6);
    size_t n_full;
    char *a = rn_dump(d.a, &n_full);
    /* (budget, rounds that count) */
    const struct {
        double budget;
        uint64_t rounds;
    } cases[] = { { t[2], 3 }, { t[2] - 1e-6, 2 }, { t[0] / 2, 0 }, { t[5] * 2, 6 } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char set_budget[64];
        snprintf(set_budget, sizeof set_budget, "train.time_budget_s=%.17g", cases[c].budget);
        const char *sets[8];
        for (size_t i = 0; i < n_base; i++)
            sets[i] = base[i];
        sets[n_base] = set_budget;
        char path[4200];
        snprintf(path, sizeof path, "%s/budget-%zu.db", d.dir, c);
        rn_run(path, sets, n_base + 1, 2, NULL, &r);
        ck_assert_msg(r.rc == 0, "%s", r.eb.msg);
        ck_assert_uint_eq(r.sum.rounds, cases[c].rounds);
        size_t n;
        char *b = rn_dump(path, &n);
        ck_assert_uint_eq(n, cases[c].rounds);
        char *want = strdup(a);
        rn_prefix(want, n);
        ck_assert_str_eq(want, b);
        free(want);
        free(b);
        struct scenario s;
        struct errbuf eb;
        ck_assert_int_eq(
            scenario_load(&s, "tiny.yaml", rn_tiny, strlen(rn_tiny), sets, n_base + 1, &eb), 0);
        ck_assert_int_eq(run_stop_reason(&s, &r.sum),
                         cases[c].rounds < 6 ? RUN_STOP_BUDGET : RUN_STOP_ROUNDS);
        scenario_release(&s);
    }
    free(a);
    rn_dir_free(&d);
}

START_TEST(time_budget_counts_rounds_closing_within_it)
{
    static const char *const sync_sets[] = { "train.rounds=6",
                                             "population.dropout.probability=0.2" };
    rn_budget_case(sync_sets, 2);
    static const char *const async_sets[] = { "train.rounds=6", "protocol.type=async",
                                              "protocol.concurrency=6", "protocol.buffer_size=3" };
    rn_budget_case(async_sets, 4);
}
END_TEST

/* A run resumed from its checkpoint stops at the round the uninterrupted run stopped at. */
START_TEST(resumed_run_stops_where_it_did)
{
    struct rn_dir d;
    rn_dir_init(&d);
    struct rn_result full, r;
    static const char *const base[] = { "train.rounds=6", "output.checkpoint_every=1" };
    rn_run(d.a, base, 2, 1, NULL, &full);
    ck_assert_int_eq(full.rc, 0);
    double t[6], acc[6];
    ck_assert_uint_eq(rn_column(d.a, "sim_time_s", t, 6), 6);
    rn_column(d.a, "accuracy", acc, 6);
    char budget[64], target[64];
    snprintf(budget, sizeof budget, "train.time_budget_s=%.17g", (t[3] + t[4]) / 2);
    double best = acc[1] > acc[2] ? acc[1] : acc[2];
    snprintf(target, sizeof target, "train.target_accuracy=%.17g", best);
    const char *rules[2] = { budget, target };
    for (size_t k = 0; k < 2; k++) {
        const char *sets[] = { base[0], base[1], rules[k] };
        rn_run(d.b, sets, 3, 1, NULL, &full);
        ck_assert_msg(full.rc == 0, "%s", full.eb.msg);
        ck_assert_uint_lt(full.sum.rounds, 6);
        ck_assert_uint_gt(full.sum.rounds, 1);
        size_t n1, n2;
        char *a = rn_dump(d.b, &n1);
        rn_resume(d.b, sets, 3, full.run_id, &r);
        ck_assert_msg(r.rc == 0, "%s", r.eb.msg);
        char *b = rn_dump(d.b, &n2);
        ck_assert_uint_eq(r.sum.rounds, full.sum.rounds);
        ck_assert_str_eq(a, b);
        ck_assert_str_eq(r.sum.fingerprint, full.sum.fingerprint);
        free(a);
        free(b);
        remove(d.b);
    }
    rn_dir_free(&d);
}
END_TEST

Suite *
run_suite(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("run");
    tcase_add_test(tc, threads_do_not_change_results);
    tcase_add_test(tc, different_seed_differs);
    tcase_add_test(tc, bits_and_time_are_exact);
    tcase_add_test(tc, all_drop_before_download);
    tcase_add_test(tc, stop_flag_interrupts);
    tcase_add_test(tc, target_accuracy_stops_at_first_round_reaching_it);
    tcase_add_test(tc, time_budget_counts_rounds_closing_within_it);
    tcase_add_test(tc, resumed_run_stops_where_it_did);
    suite_add_tcase(s, tc);
    return s;
}
