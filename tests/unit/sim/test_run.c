/* run: determinism across threads, dropout, exact bit accounting, interruption. */
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
    suite_add_tcase(s, tc);
    return s;
}
