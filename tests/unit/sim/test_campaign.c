/* campaign: sweep expansion, the run queue, the job-process pool and what it settles. */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "sim/campaign.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

/* 2 x 2 grid times a zip of 2: 8 combinations, the grid's first key slowest. */
static const char cp_sweep[] = "name: campaign-test\n"
                               "data: {dataset: synthetic_iid, clients: 100}\n"
                               "model: {type: logreg}\n"
                               "train: {rounds: 4, clients_per_round: 10, lr: 0.05}\n"
                               "sweep:\n"
                               "  grid: {train.lr: [0.05, 0.1], seed: [1, 2]}\n"
                               "  zip: {train.batch_size: [10, 20], train.local_epochs: [1, 2]}\n";

struct cp_fixture {
    char *dir;
    char scenario[4096];
    char db[4096];
};

static void
cp_setup(struct cp_fixture *f)
{
    f->dir = tsupport_tmpdir();
    snprintf(f->scenario, sizeof f->scenario, "%s/sweep.yaml", f->dir);
    snprintf(f->db, sizeof f->db, "%s/results.db", f->dir);
    FILE *out = fopen(f->scenario, "w");
    ck_assert_ptr_nonnull(out);
    fputs(cp_sweep, out);
    fclose(out);
}

static void
cp_teardown(struct cp_fixture *f)
{
    tsupport_rmtree(f->dir);
    free(f->dir);
}

static void
cp_open(struct campaign *c, const char *scenario, const char *const *user, size_t n_user,
        bool no_sweep)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = campaign_open(c, scenario, user, n_user, no_sweep, &eb);
    ck_assert_msg(rc == 0, "campaign_open: %s", eb.msg);
}

START_TEST(plan_expands_the_sweep)
{
    struct cp_fixture f;
    cp_setup(&f);
    const char *user[] = { "train.rounds=3" };
    struct campaign c;
    cp_open(&c, f.scenario, user, 1, false);
    ck_assert_uint_eq(c.n, 8);
    char *first = campaign_label(&c, 0), *last = campaign_label(&c, 7);
    ck_assert_str_eq(first, "train.lr=0.05 seed=1 train.batch_size=10 train.local_epochs=1");
    ck_assert_str_eq(last, "train.lr=0.1 seed=2 train.batch_size=20 train.local_epochs=2");
    mem_free(first);
    mem_free(last);
    struct scenario s;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(campaign_load(&c, 7, &s, &eb), 0);
    ck_assert_double_eq(s.train.lr, 0.1);
    ck_assert_uint_eq(s.seed, 2);
    ck_assert_uint_eq(s.train.rounds, 3); /* the command line's override comes last */
    scenario_release(&s);
    campaign_release(&c);

    cp_open(&c, f.scenario, NULL, 0, true);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_ptr_null(campaign_label(&c, 0));
    campaign_release(&c);

    cp_open(&c, NULL, NULL, 0, false); /* the embedded default: one run per uplink codec */
    ck_assert_uint_eq(c.n, 5);
    campaign_release(&c);
    cp_teardown(&f);
}
END_TEST

START_TEST(plan_locates_a_bad_sweep_value)
{
    struct cp_fixture f;
    cp_setup(&f);
    const char *user[] = { "train.batch_size=-1" };
    struct campaign c;
    cp_open(&c, f.scenario, user, 1, false);
    struct scenario s;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_lt(campaign_load(&c, 0, &s, &eb), 0);
    /* The override is numbered as the user wrote it, after the sweep's own. */
    ck_assert_str_eq(eb.file, "--set");
    ck_assert_int_eq(eb.line, 1);
    campaign_release(&c);
    cp_teardown(&f);
}
END_TEST

START_TEST(queue_records_in_order)
{
    struct cp_fixture f;
    cp_setup(&f);
    struct campaign c;
    cp_open(&c, f.scenario, NULL, 0, false);
    struct store *st = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(store_open(&st, f.db, &eb), 0);
    int64_t ids[8], sweep_id = 0;
    ck_assert_int_eq(store_begin_sweep(st, c.name, c.text, c.sweep.label_keys, c.n,
                                       "2026-01-01T00:00:00Z", &sweep_id, &eb),
                     0);
    for (size_t i = 0; i < c.n; i++) {
        struct scenario s;
        char *label = NULL;
        ck_assert_int_eq(campaign_load(&c, i, &s, &eb), 0);
        ck_assert_int_eq(campaign_record(&c, st, i, &s, "2026-01-01T00:00:00Z", sweep_id,
                                         i % 2 == 0, &ids[i], &label, &eb),
                         0);
        ck_assert_ptr_nonnull(label);
        mem_free(label);
        scenario_release(&s);
        ck_assert(i == 0 || ids[i] == ids[i - 1] + 1);
    }
    store_close(st);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(f.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT id, status, sweep_index, sweep_label FROM runs "
                                        "ORDER BY id",
                                        -1, &q, NULL),
                     SQLITE_OK);
    for (size_t i = 0; i < 8; i++) {
        ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
        ck_assert_int_eq(sqlite3_column_int64(q, 0), ids[i]);
        ck_assert_str_eq((const char *)sqlite3_column_text(q, 1),
                         i % 2 == 0 ? "queued" : "running");
        ck_assert_int_eq(sqlite3_column_int64(q, 2), (int64_t)i + 1);
        char *label = campaign_label(&c, i);
        ck_assert_str_eq((const char *)sqlite3_column_text(q, 3), label);
        mem_free(label);
    }
    ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(db);
    campaign_release(&c);
    cp_teardown(&f);
}
END_TEST

/* A trivial job: writes the pid of its process to DIR/<index>; combination `fail` returns 1
 * and combination `kill` kills its own process. With a store, it marks its run as it goes. */
struct cp_job {
    const char *dir;
    const char *db;
    const int64_t *ids;
    struct store *st;
    size_t fail, kill;
};

static int
cp_job_run(void *ctx, size_t i)
{
    struct cp_job *jb = ctx;
    if (jb->db != NULL && jb->st == NULL && store_open(&jb->st, jb->db, NULL) < 0)
        return 1;
    if (jb->st != NULL && store_start_run(jb->st, jb->ids[i], "2026-01-01T00:00:01Z", NULL) < 0)
        return 1;
    if (i == jb->kill)
        raise(SIGKILL);
    char path[4200];
    snprintf(path, sizeof path, "%s/%zu", jb->dir, i);
    FILE *out = fopen(path, "w");
    if (out == NULL)
        return 1;
    fprintf(out, "%lld", (long long)getpid());
    fclose(out);
    if (jb->st != NULL && store_finish_run(jb->st, jb->ids[i], "finished", "2026-01-01T00:00:02Z",
                                           0.0, NULL, NULL, NULL) < 0)
        return 1;
    return i == jb->fail ? 1 : 0;
}

static _Noreturn void
cp_job_end(void *ctx, int status)
{
    struct cp_job *jb = ctx;
    store_close(jb->st);
    _exit(status);
}

/* The pid written by combination i, 0 when it did not run. */
static long long
cp_ran_in(const char *dir, size_t i)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%zu", dir, i);
    FILE *in = fopen(path, "r");
    if (in == NULL)
        return 0;
    long long pid = 0;
    if (fscanf(in, "%lld", &pid) != 1)
        pid = 0;
    fclose(in);
    return pid;
}

START_TEST(pool_runs_every_combination_in_its_process)
{
    struct cp_fixture f;
    cp_setup(&f);
    struct cp_job jb = { .dir = f.dir, .fail = 3, .kill = SIZE_MAX };
    struct campaign_worker w = { .run = cp_job_run, .end = cp_job_end, .ctx = &jb };
    volatile sig_atomic_t stop = 0;
    struct campaign_pool pool;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(campaign_pool_run(5, 2, &w, &stop, &pool, &eb), 0);
    ck_assert_uint_eq(pool.jobs, 2);
    ck_assert(!pool.stopped);
    for (size_t j = 0; j < 2; j++) {
        ck_assert_int_gt(pool.children[j].pid, 0);
        ck_assert(pool.children[j].ended);
        ck_assert_int_eq(pool.children[j].signal, 0);
    }
    ck_assert_int_eq(pool.children[0].status, 0);
    ck_assert_int_eq(pool.children[1].status, 1); /* combination 3 failed */
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(cp_ran_in(f.dir, i), (long long)pool.children[i % 2].pid);
        ck_assert_ptr_eq(campaign_pool_child(&pool, i), &pool.children[i % 2]);
    }
    campaign_pool_release(&pool);
    /* More jobs than combinations: one process per combination. */
    ck_assert_int_eq(campaign_pool_run(2, 8, &w, &stop, &pool, &eb), 0);
    ck_assert_uint_eq(pool.jobs, 2);
    campaign_pool_release(&pool);
    cp_teardown(&f);
}
END_TEST

/* Queues n runs of the test sweep; ids to ids[0..n). */
static void
cp_queue(const struct cp_fixture *f, size_t n, int64_t *ids)
{
    struct campaign c;
    cp_open(&c, f->scenario, NULL, 0, false);
    struct store *st = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(store_open(&st, f->db, &eb), 0);
    for (size_t i = 0; i < n; i++) {
        struct scenario s;
        char *label = NULL;
        ck_assert_int_eq(campaign_load(&c, i, &s, &eb), 0);
        ck_assert_int_eq(
            campaign_record(&c, st, i, &s, "2026-01-01T00:00:00Z", 0, true, &ids[i], &label, &eb),
            0);
        mem_free(label);
        scenario_release(&s);
    }
    store_close(st);
    campaign_release(&c);
}

static void
cp_expect_status(struct store *st, int64_t id, const char *status)
{
    struct store_run_result res;
    ck_assert_int_eq(store_run_result(st, id, &res, NULL), 0);
    ck_assert_msg(strcmp(res.status, status) == 0, "run %lld is %s, wanted %s", (long long)id,
                  res.status, status);
}

static const char *
cp_error(const char *db_path, int64_t id, char *out, size_t len)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT error FROM runs WHERE id = ?", -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(q, 1, id);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    const unsigned char *e = sqlite3_column_text(q, 0);
    snprintf(out, len, "%s", e != NULL ? (const char *)e : "");
    sqlite3_finalize(q);
    sqlite3_close(db);
    return out;
}

START_TEST(pool_reports_a_killed_process_with_its_run)
{
    struct cp_fixture f;
    cp_setup(&f);
    int64_t ids[5];
    cp_queue(&f, 5, ids);
    struct cp_job jb = { .dir = f.dir, .db = f.db, .ids = ids, .fail = SIZE_MAX, .kill = 2 };
    struct campaign_worker w = { .run = cp_job_run, .end = cp_job_end, .ctx = &jb };
    volatile sig_atomic_t stop = 0;
    struct campaign_pool pool;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(campaign_pool_run(5, 2, &w, &stop, &pool, &eb), 0);
    ck_assert_int_eq(pool.children[0].signal, SIGKILL);
    ck_assert_int_eq(pool.children[0].status, -1);
    ck_assert(!pool.children[0].stopped);
    ck_assert_int_eq(pool.children[1].signal, 0);
    ck_assert_int_eq(cp_ran_in(f.dir, 4), 0); /* after the killed one, in the same process */
    struct store *st = NULL;
    ck_assert_int_eq(store_open(&st, f.db, &eb), 0);
    ck_assert_int_eq(campaign_settle(st, ids, 5, &pool, "2026-01-01T00:00:03Z", &eb), 0);
    ck_assert_int_eq(pool.children[0].lost_run, ids[2]);
    ck_assert_int_eq(pool.children[1].lost_run, 0);
    cp_expect_status(st, ids[0], "finished");
    cp_expect_status(st, ids[1], "finished");
    cp_expect_status(st, ids[2], "failed");
    cp_expect_status(st, ids[3], "finished");
    cp_expect_status(st, ids[4], "interrupted");
    store_close(st);
    char err[256];
    ck_assert_ptr_nonnull(strstr(cp_error(f.db, ids[2], err, sizeof err), "killed by signal 9"));
    ck_assert_ptr_nonnull(strstr(cp_error(f.db, ids[4], err, sizeof err), "not run"));
    campaign_pool_release(&pool);
    cp_teardown(&f);
}
END_TEST

START_TEST(pool_stopped_before_it_starts_marks_every_run)
{
    struct cp_fixture f;
    cp_setup(&f);
    int64_t ids[3];
    cp_queue(&f, 3, ids);
    struct cp_job jb = { .dir = f.dir, .db = f.db, .ids = ids, .fail = SIZE_MAX, .kill = SIZE_MAX };
    struct campaign_worker w = { .run = cp_job_run, .end = cp_job_end, .ctx = &jb };
    volatile sig_atomic_t stop = 1;
    struct campaign_pool pool;
    struct errbuf eb;
    errbuf_clear(&eb);
    /* The job processes get SIGTERM: let it end them, not run Check's runner handler. */
    struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGTERM, &dfl, &old);
    ck_assert_int_eq(campaign_pool_run(3, 2, &w, &stop, &pool, &eb), 0);
    sigaction(SIGTERM, &old, NULL);
    ck_assert(pool.stopped);
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(cp_ran_in(f.dir, i), 0);
    struct store *st = NULL;
    ck_assert_int_eq(store_open(&st, f.db, &eb), 0);
    ck_assert_int_eq(campaign_settle(st, ids, 3, &pool, "2026-01-01T00:00:03Z", &eb), 0);
    for (size_t i = 0; i < 3; i++)
        cp_expect_status(st, ids[i], "interrupted");
    store_close(st);
    campaign_pool_release(&pool);
    cp_teardown(&f);
}
END_TEST

Suite *
campaign_suite(void)
{
    Suite *s = suite_create("campaign");
    TCase *tc = tcase_create("campaign");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, plan_expands_the_sweep);
    tcase_add_test(tc, plan_locates_a_bad_sweep_value);
    tcase_add_test(tc, queue_records_in_order);
    tcase_add_test(tc, pool_runs_every_combination_in_its_process);
    tcase_add_test(tc, pool_reports_a_killed_process_with_its_run);
    tcase_add_test(tc, pool_stopped_before_it_starts_marks_every_run);
    suite_add_tcase(s, tc);
    return s;
}
