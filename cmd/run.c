/* run: `fedbits run`, `fedbits validate` and `fedbits resume`. See run.h. */
#include "cmd/run.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "base/simtime.h"
#include "clients/dense_backend.h"
#include "cmd/args.h"
#include "cmd/report.h"
#include "cmd/table.h"
#include "fedbits_config.h"
#include "sim/campaign.h"
#include "sim/carriage.h"
#include "sim/resume.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/store.h"
#include "sim/sweep.h"
#include "sim/wallclock.h"
#include "base/banned.h"

/* The largest seed or run id accepted on the command line, and the most threads or jobs. */
#define RUN_CMD_ID_MAX      UINT64_C(9200000000000000000)
#define RUN_CMD_THREADS_MAX 1024

/*
 * Set by SIGINT/SIGTERM, read by the event loop between events. A signal handler can only
 * communicate through static storage; this is the one such flag (lint-no-globals allows it).
 */
static volatile sig_atomic_t run_cmd_signal_stop;

static void
run_cmd_on_signal(int sig)
{
    (void)sig;
    run_cmd_signal_stop = 1;
}

static void
run_cmd_print_error(const char *cmd, const struct errbuf *eb)
{
    char line[ERRBUF_MSG_BYTES + ERRBUF_PATH_BYTES + 64];
    errbuf_format(eb, line, sizeof line);
    if (eb->file[0] != '\0')
        fprintf(stderr, "%s\n", line);
    else
        fprintf(stderr, "fedbits %s: %s\n", cmd, line);
}

static void
run_cmd_usage(FILE *f)
{
    fprintf(f, "usage: fedbits run [SCENARIO.yaml] [OPTIONS]\n"
               "\n"
               "Runs a scenario and writes every round to the results database. Without\n"
               "SCENARIO, runs the embedded default (Synthetic-IID, 1,000 clients, 100 per\n"
               "round, 50 rounds, logistic regression, FedAvg). A scenario with a 'sweep:'\n"
               "section runs every combination it lists, each as its own run.\n"
               "\n"
               "options:\n"
               "  --db PATH            results database (overrides output.db; default results.db)\n"
               "  --seed N             run seed (overrides seed)\n"
               "  --set KEY.PATH=VALUE override one scenario key, validated like the file;\n"
               "                       repeatable, e.g. --set train.rounds=10\n"
               "  --threads N          train up to N clients in parallel (default: all cores,\n"
               "                       1 per job with --jobs, cores / ranks under mpirun);\n"
               "                       results are identical for every N\n"
               "  --jobs N             run up to N sweep combinations in parallel processes\n"
               "  --dry-run            list the runs a sweep would make, and stop\n"
               "  --no-sweep           run the scenario once, ignoring its sweep section (e.g.\n"
               "                       fedbits run --no-sweep --set uplink.codec=drive)\n"
               "  -q, --quiet          no progress display\n"
               "  -h, --help           show this help\n"
               "\n"
               "Under mpirun (mpirun -np N fedbits run ...) the N ranks share each run, with\n"
               "the same results; rank 0 writes the database (docs/mpi.md).\n"
               "Progress goes to stderr when it is a terminal; the summary goes to stdout.\n"
               "Exit status: 0 finished, 1 failed, 2 bad scenario or options, 130 interrupted.\n");
}

static void
run_cmd_validate_usage(FILE *f)
{
    fprintf(f, "usage: fedbits validate SCENARIO.yaml [--set KEY.PATH=VALUE]...\n"
               "\n"
               "Checks every key of a scenario (and of the overrides, and of every sweep\n"
               "combination) without running it. Errors are printed as\n"
               "FILE:LINE:COL: error: MESSAGE; exit status 2 on error.\n"
               "\n"
               "options:\n"
               "  --set KEY.PATH=VALUE override one key before validation (repeatable)\n"
               "  -h, --help           show this help\n");
}

/* Options shared by run and validate. */
struct run_cmd_opts {
    const char *scenario;
    const char **sets; /* owned array of borrowed strings */
    size_t n_sets;
    char seed_set[64];
    char db_set[SCENARIO_PATH_BYTES + 16];
    uint64_t threads;
    uint64_t jobs;
    bool quiet;
    bool dry_run;
    bool no_sweep;               /* run the scenario without its sweep section */
    const unsigned char *resume; /* fedbits resume: the checkpoint to continue from */
    size_t resume_len;
    uint64_t resume_round;   /* fedbits resume: the round it follows (0: from the start) */
    bool rewind;             /* fedbits resume: replace the rounds after resume_round */
    struct cluster *cluster; /* the MPI ranks of this invocation (sim/cluster.h) */
    bool root;               /* rank 0 (or the only process): writes the store, prints */
    char who[32];            /* "run (rank N)" on other ranks, else empty */
};

/* `run`, or `run (rank N)` on the ranks after the first, whose errors name their rank. */
static const char *
run_cmd_who(const struct run_cmd_opts *mo)
{
    return mo->who[0] != '\0' ? mo->who : "run";
}

/* An error of `fedbits run`; on the ranks after the first, always prefixed with the rank. */
static void
run_cmd_rank_error(const struct run_cmd_opts *mo, const struct errbuf *eb)
{
    if (mo->who[0] == '\0') {
        run_cmd_print_error("run", eb);
        return;
    }
    char line[ERRBUF_MSG_BYTES + ERRBUF_PATH_BYTES + 64];
    errbuf_format(eb, line, sizeof line);
    fprintf(stderr, "fedbits %s: %s\n", mo->who, line);
}

static int
run_cmd_add_set(struct run_cmd_opts *mo, const char *set)
{
    const char **s = mem_realloc(mo->sets, (mo->n_sets + 1) * sizeof *s);
    if (s == NULL)
        return -1;
    mo->sets = s;
    mo->sets[mo->n_sets++] = set;
    return 0;
}

/* Parses run/validate options; returns -1 on a usage error (message printed), 1 on --help. */
static int
run_cmd_parse_opts(int argc, char **argv, bool is_run, struct run_cmd_opts *mo)
{
    enum { OPT_DB = 256, OPT_SEED, OPT_SET, OPT_THREADS, OPT_JOBS, OPT_DRY_RUN, OPT_NO_SWEEP };
    static const struct option run_opts[] = {
        { "db", required_argument, NULL, OPT_DB },
        { "seed", required_argument, NULL, OPT_SEED },
        { "set", required_argument, NULL, OPT_SET },
        { "threads", required_argument, NULL, OPT_THREADS },
        { "jobs", required_argument, NULL, OPT_JOBS },
        { "dry-run", no_argument, NULL, OPT_DRY_RUN },
        { "no-sweep", no_argument, NULL, OPT_NO_SWEEP },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const struct option validate_opts[] = {
        { "set", required_argument, NULL, OPT_SET },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = argv[0];
    bool have_seed = false, have_db = false;
    mo->jobs = 1;
    struct args a = args_start(cmd, argc, argv);
    for (;;) {
        int c = args_next(&a, is_run ? "qh" : "h", is_run ? run_opts : validate_opts);
        if (c == -1)
            break;
        switch (c) {
        case 'h':
            return 1;
        case 'q':
            mo->quiet = true;
            break;
        case OPT_DRY_RUN:
            mo->dry_run = true;
            break;
        case OPT_NO_SWEEP:
            mo->no_sweep = true;
            break;
        case OPT_DB:
            if (optarg[0] == '\0') {
                args_error(cmd, "--db needs a path");
                return -1;
            }
            snprintf(mo->db_set, sizeof mo->db_set, "output.db=%s", optarg);
            have_db = true;
            break;
        case OPT_SEED: {
            uint64_t seed;
            if (args_uint(cmd, "--seed", optarg, 0, RUN_CMD_ID_MAX, &seed) < 0)
                return -1;
            snprintf(mo->seed_set, sizeof mo->seed_set, "seed=%llu", (unsigned long long)seed);
            have_seed = true;
            break;
        }
        case OPT_SET:
            if (run_cmd_add_set(mo, optarg) < 0) {
                args_error(cmd, "out of memory");
                return -1;
            }
            break;
        case OPT_THREADS:
        case OPT_JOBS: {
            bool threads = c == OPT_THREADS;
            if (args_uint(cmd, threads ? "--threads" : "--jobs", optarg, 1, RUN_CMD_THREADS_MAX,
                          threads ? &mo->threads : &mo->jobs) < 0)
                return -1;
            break;
        }
        default:
            return -1;
        }
    }
    if (args_operand(&a, &mo->scenario, NULL) != 0)
        return -1;
    /* Explicit flags win over --set, so they are applied last. */
    if ((have_seed && run_cmd_add_set(mo, mo->seed_set) < 0) ||
        (have_db && run_cmd_add_set(mo, mo->db_set) < 0)) {
        args_error(cmd, "out of memory");
        return -1;
    }
    return 0;
}

/* Progress */

struct run_cmd_progress {
    bool tty;
    int64_t started_ns;
};

static void
run_cmd_format_bits(char *out, size_t len, uint64_t bits)
{
    static const char *const units[] = { "bit", "kbit", "Mbit", "Gbit", "Tbit", "Pbit" };
    double v = (double)bits;
    int u = 0;
    while (v >= 1000.0 && u < 5) {
        v /= 1000.0;
        u++;
    }
    if (u == 0)
        snprintf(out, len, "%llu bit", (unsigned long long)bits);
    else
        snprintf(out, len, "%.2f %s", v, units[u]);
}

static void
run_cmd_on_round(void *ctx, const struct scenario *s, const struct store_round *r)
{
    struct run_cmd_progress *p = ctx;
    if (!p->tty)
        return;
    char up[32], down[32], acc[40];
    run_cmd_format_bits(up, sizeof up, r->uplink_bits);
    run_cmd_format_bits(down, sizeof down, r->downlink_bits);
    if (r->evaluated)
        snprintf(acc, sizeof acc, "acc %.4f  loss %.4f", r->accuracy, r->loss);
    else
        snprintf(acc, sizeof acc, "(not evaluated)");
    double wall = (double)(wallclock_ns() - p->started_ns) / 1e9;
    fprintf(stderr,
            "\r\033[Kround %llu/%llu  %s  up %s  down %s  clients %llu/%llu  sim %.1f s"
            "  wall %.1f s",
            (unsigned long long)r->round, (unsigned long long)s->train.rounds, acc, up, down,
            (unsigned long long)r->participants, (unsigned long long)r->selected,
            simtime_to_s(r->sim_time_us), wall);
    if (r->round == s->train.rounds)
        fputc('\n', stderr);
    fflush(stderr);
}

/*
 * Under secure aggregation, how the uplink was carried and its effective payload bits per
 * coordinate and participant (docs/secure.md); nothing for a plain run, whose codec is its
 * carriage.
 */
static void
run_cmd_print_carriage(const struct scenario *s, const struct run_summary *sum)
{
    struct carriage c;
    struct errbuf eb;
    errbuf_clear(&eb);
    if (s->aggregation.secure == SECURE_NONE || carriage_of(s, &c, &eb) < 0)
        return;
    char what[128];
    carriage_format(&c, s, false, what, sizeof what);
    if (sum->participants > 0 && sum->model_dim > 0)
        printf("  %-18s %s (%.2f payload bits per coordinate)\n", "uplink carried", what,
               (double)sum->uplink_payload_bits /
                   ((double)sum->participants * (double)sum->model_dim));
    else
        printf("  %-18s %s\n", "uplink carried", what);
}

/* The stop rules a scenario sets and how the run met them (sim/run.h); nothing without. */
static void
run_cmd_print_stop(const struct scenario *s, const struct run_summary *sum)
{
    enum run_stop why = run_stop_reason(s, sum);
    double t = simtime_to_s(sum->sim_time_us);
    if (s->train.target_accuracy > 0 && why == RUN_STOP_TARGET)
        printf("  %-18s %g reached at round %llu, simulated time %.3f s\n", "target accuracy",
               s->train.target_accuracy, (unsigned long long)sum->rounds, t);
    else if (s->train.target_accuracy > 0)
        printf("  %-18s %g not reached\n", "target accuracy", s->train.target_accuracy);
    if (s->train.time_budget_s > 0 && why == RUN_STOP_BUDGET)
        printf("  %-18s %g s: round %llu was the last to close within it\n", "time budget",
               s->train.time_budget_s, (unsigned long long)sum->rounds);
    else if (s->train.time_budget_s > 0)
        printf("  %-18s %g s: not exhausted\n", "time budget", s->train.time_budget_s);
}

static void
run_cmd_print_summary(const struct scenario *s, int64_t run_id, const char *status,
                      const struct run_summary *sum, double wall_s)
{
    char up[32], down[32];
    run_cmd_format_bits(up, sizeof up, sum->uplink_bits);
    run_cmd_format_bits(down, sizeof down, sum->downlink_bits);
    printf("run %lld '%s' %s -> %s\n", (long long)run_id, s->name, status, s->output.db);
    printf("  %-18s %llu of %llu\n", "rounds", (unsigned long long)sum->rounds,
           (unsigned long long)s->train.rounds);
    if (strcmp(status, "failed") == 0 || sum->rounds == 0) { /* no final model to speak of */
        printf("  %-18s -\n", "final accuracy");
        printf("  %-18s -\n", "final loss");
    } else {
        printf("  %-18s %.4f\n", "final accuracy", sum->final_accuracy);
        printf("  %-18s %.4f\n", "final loss", sum->final_loss);
    }
    printf("  %-18s %llu (%s)\n", "uplink bits", (unsigned long long)sum->uplink_bits, up);
    printf("  %-18s %llu (%s)\n", "downlink bits", (unsigned long long)sum->downlink_bits, down);
    if (sum->has_epsilon)
        printf("  %-18s %.4g at delta %g\n", "epsilon", sum->epsilon, s->privacy.delta);
    run_cmd_print_carriage(s, sum);
    printf("  %-18s %.3f s\n", "simulated time", simtime_to_s(sum->sim_time_us));
    if (strcmp(status, "finished") == 0)
        run_cmd_print_stop(s, sum);
    printf("  %-18s %.2f s (%u threads)\n", "wall time", wall_s, sum->threads);
    if (sum->ranks > 1)
        printf("  %-18s %u (rank 0 put %.0f bytes per round into collectives)\n", "MPI ranks",
               sum->ranks, sum->rounds > 0 ? (double)sum->rank_bytes / (double)sum->rounds : 0.0);
    printf("  %-18s %zu\n", "model parameters", sum->model_dim);
    printf("  %-18s %s\n", "event fingerprint", sum->fingerprint);
}

/* One line per run of a sweep, for the final table. */
struct run_cmd_row {
    int64_t id;
    char status[16];
    uint64_t rounds;
    double accuracy;
    uint64_t uplink_bits;
    uint64_t downlink_bits;
    double bits_per_coord; /* uplink bits per coordinate and participant, 0 if unknown */
    double sim_s;
    double wall_s;
    char *label;
};

/*
 * Runs the already-recorded run `run_id` (queued or running) of scenario s and finishes its
 * row. Returns the exit status for it.
 */
static int
run_cmd_execute(const struct scenario *s, struct store *st, int64_t run_id,
                const struct run_cmd_opts *mo, bool summary, struct run_cmd_row *row)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct run_cmd_progress prog = { .tty = mo->root && !mo->quiet && isatty(STDERR_FILENO),
                                     .started_ns = wallclock_ns() };
    struct run_options ro = {
        .threads = (unsigned)mo->threads,
        .stop = &run_cmd_signal_stop,
        .on_round = run_cmd_on_round,
        .ctx = &prog,
        .resume = mo->resume,
        .resume_len = mo->resume_len,
        .resume_round = mo->resume_round,
        .rewind = mo->rewind,
        .cluster = mo->cluster,
    };
    struct run_summary sum = { 0 };
    /* The BLAS buffers first: a memory limit fails the run here instead of hanging in BLAS. */
    int rc = dense_backend_reserve(mo->threads > 0 ? (unsigned)mo->threads : 1, &eb);
    if (rc == 0 && st != NULL)
        rc = resume_record(st, run_id, s, &eb); /* owner, inputs, kernel (sim/resume.h) */
    if (rc == 0)
        rc = run_execute(s, st, run_id, &ro, &sum, &eb);
    double wall = (double)(wallclock_ns() - prog.started_ns) / 1e9;
    if (prog.tty && sum.rounds < s->train.rounds)
        fputc('\n', stderr);
    const char *final = rc == 0 ? "finished" : rc == -ERR_INTERRUPTED ? "interrupted" : "failed";
    char err_text[ERRBUF_MSG_BYTES + ERRBUF_PATH_BYTES + 64] = "";
    if (rc < 0)
        errbuf_format(&eb, err_text, sizeof err_text);
    char finished[32];
    wallclock_utc_iso8601(finished, sizeof finished);
    struct errbuf eb2;
    errbuf_clear(&eb2);
    int frc = st == NULL ? 0
                         : store_finish_run(st, run_id, final, finished, wall,
                                            rc == 0 ? sum.fingerprint : NULL,
                                            rc < 0 ? err_text : NULL, &eb2);
    if (rc < 0)
        run_cmd_rank_error(mo, &eb);
    if (frc < 0)
        run_cmd_print_error("run", &eb2);
    if (summary && mo->root)
        run_cmd_print_summary(s, run_id, final, &sum, wall);
    if (row != NULL) {
        row->id = run_id;
        snprintf(row->status, sizeof row->status, "%s", final);
        row->rounds = sum.rounds;
        row->accuracy = sum.final_accuracy;
        row->uplink_bits = sum.uplink_bits;
        row->downlink_bits = sum.downlink_bits;
        row->bits_per_coord =
            sum.participants > 0 && sum.model_dim > 0
                ? (double)sum.uplink_bits / ((double)sum.participants * (double)sum.model_dim)
                : 0.0;
        row->sim_s = simtime_to_s(sum.sim_time_us);
        row->wall_s = wall;
    }
    if (rc == 0 && frc == 0)
        return EXIT_SUCCESS;
    return rc == -ERR_INTERRUPTED ? ARGS_EXIT_INTERRUPTED : EXIT_FAILURE;
}

/* Fills row r of the sweep table; -1 when out of memory. */
static int
run_cmd_table_row(struct table *tb, const struct run_cmd_row *row)
{
    long r = table_add_row(tb);
    if (r < 0)
        return -1;
    char up[32], down[32];
    run_cmd_format_bits(up, sizeof up, row->uplink_bits);
    run_cmd_format_bits(down, sizeof down, row->downlink_bits);
    /* A failed run, or one that never ran, has no final accuracy to show. */
    bool failed = strcmp(row->status, "failed") == 0 || row->rounds == 0;
    int rc = table_set(tb, (size_t)r, 0, "%lld", (long long)row->id);
    rc |= table_set(tb, (size_t)r, 1, "%s", row->status);
    rc |= table_set(tb, (size_t)r, 2, "%llu", (unsigned long long)row->rounds);
    rc |= failed ? table_set(tb, (size_t)r, 3, "-")
                 : table_set(tb, (size_t)r, 3, "%.4f", row->accuracy);
    rc |= table_set(tb, (size_t)r, 4, "%s", up);
    rc |= row->bits_per_coord > 0 ? table_set(tb, (size_t)r, 5, "%.2f", row->bits_per_coord)
                                  : table_set(tb, (size_t)r, 5, "-");
    rc |= table_set(tb, (size_t)r, 6, "%s", down);
    rc |= table_set(tb, (size_t)r, 7, "%.0f s", row->sim_s);
    rc |= table_set(tb, (size_t)r, 8, "%.1f s", row->wall_s);
    rc |= table_set(tb, (size_t)r, 9, "%s", row->label != NULL ? row->label : "");
    return rc != 0 ? -1 : 0;
}

/* The sweep's table: one line per run it recorded (a stopped sweep records fewer). */
static void
run_cmd_print_table(const struct run_cmd_row *rows, size_t n, const char *db, int64_t sweep_id)
{
    static const struct table_col cols[] = {
        { "run", "run", TABLE_NUM },           { "status", "status", TABLE_TEXT },
        { "rounds", "rounds", TABLE_NUM },     { "accuracy", "accuracy", TABLE_NUM },
        { "uplink", "uplink", TABLE_NUM },     { "bits_per_coord", "bits/coord", TABLE_NUM },
        { "downlink", "downlink", TABLE_NUM }, { "sim_time", "sim time", TABLE_NUM },
        { "wall", "wall", TABLE_NUM },         { "overrides", "overrides", TABLE_TEXT },
    };
    struct table tb = table_make(cols, sizeof cols / sizeof cols[0]);
    size_t recorded = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].id == 0)
            continue;
        recorded++;
        if (run_cmd_table_row(&tb, &rows[i]) < 0) {
            args_error("run", "out of memory");
            table_release(&tb);
            return;
        }
    }
    printf("%zu runs -> %s, sweep %lld (accuracy against bits on the wire; fedbits report %s "
           "for more)\n",
           recorded, db, (long long)sweep_id, db);
    struct table_view all = table_all(&tb);
    table_print_text(stdout, &tb, &all);
    if (recorded < n)
        printf("(%zu of %zu combinations not run: the sweep was stopped)\n", n - recorded, n);
    table_release(&tb);
}

static void
run_cmd_install_signals(void)
{
    struct sigaction sa = { .sa_handler = run_cmd_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* A job process of --jobs: runs its combinations on a connection of its own. */
struct run_cmd_job {
    struct campaign *plan;
    const struct run_cmd_opts *mo;
    const char *db;
    const int64_t *ids;
    struct store *st; /* opened for the process's first combination */
    bool broken;      /* the database could not be opened (reported once) */
};

static int
run_cmd_job_run(void *ctx, size_t i)
{
    struct run_cmd_job *jb = ctx;
    struct errbuf eb;
    errbuf_clear(&eb);
    if (jb->broken)
        return EXIT_FAILURE;
    if (jb->st == NULL && store_open(&jb->st, jb->db, &eb) < 0) {
        run_cmd_print_error("run", &eb);
        jb->broken = true;
        return EXIT_FAILURE;
    }
    struct scenario s;
    char started[32];
    wallclock_utc_iso8601(started, sizeof started);
    if (campaign_load(jb->plan, i, &s, &eb) < 0 ||
        store_start_run(jb->st, jb->ids[i], started, &eb) < 0) {
        run_cmd_print_error("run", &eb);
        return EXIT_FAILURE;
    }
    int status = run_cmd_execute(&s, jb->st, jb->ids[i], jb->mo, false, NULL);
    scenario_release(&s);
    return status;
}

static _Noreturn void
run_cmd_job_end(void *ctx, int status)
{
    struct run_cmd_job *jb = ctx;
    store_close(jb->st);
    fflush(stdout);
    fflush(stderr);
    _exit(status);
}

/*
 * The exit status of a pool run, after campaign_settle(): 130 when a signal stopped it, 1 when
 * a job process died or could not start (each reported with the run it lost), else the worst
 * status a job process returned.
 */
static int
run_cmd_pool_status(const struct campaign_pool *pool)
{
    int status = EXIT_SUCCESS;
    for (size_t j = 0; j < pool->jobs; j++) {
        const struct campaign_child *ch = &pool->children[j];
        if (ch->pid == 0) {
            fprintf(stderr, "fedbits run: job process %zu could not be started\n", j + 1);
            status = EXIT_FAILURE;
        } else if (ch->signal != 0 && !ch->stopped) {
            if (ch->lost_run != 0)
                fprintf(stderr,
                        "fedbits run: run %lld failed: its job process (pid %lld) was "
                        "killed by signal %d (%s)\n",
                        (long long)ch->lost_run, (long long)ch->pid, ch->signal,
                        strsignal(ch->signal));
            else
                fprintf(stderr, "fedbits run: job process %lld was killed by signal %d (%s)\n",
                        (long long)ch->pid, ch->signal, strsignal(ch->signal));
            status = EXIT_FAILURE;
        } else if (ch->status > status) {
            status = ch->status;
        }
    }
    return pool->stopped ? ARGS_EXIT_INTERRUPTED : status;
}

/* Reads every run's outcome back from the database db (open as st) into rows. */
static int
run_cmd_read_rows(struct store *st, const char *db, const int64_t *ids, size_t n,
                  struct run_cmd_row *rows)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    int status = EXIT_SUCCESS;
    for (size_t i = 0; i < n; i++) {
        struct store_run_result res;
        if (store_run_result(st, ids[i], &res, &eb) < 0) {
            run_cmd_print_error("run", &eb);
            status = EXIT_FAILURE;
            continue;
        }
        rows[i].id = ids[i];
        snprintf(rows[i].status, sizeof rows[i].status, "%s", res.status);
        rows[i].rounds = res.rounds;
        rows[i].accuracy = res.final_accuracy;
        rows[i].uplink_bits = res.uplink_bits;
        rows[i].downlink_bits = res.downlink_bits;
        rows[i].sim_s = res.sim_time_s;
        rows[i].wall_s = res.wall_time_s;
        if (report_bits_per_coord(db, ids[i], &rows[i].bits_per_coord) < 0)
            status = EXIT_FAILURE;
    }
    return status;
}

/* Runs the queued combinations in `jobs` processes, then reads back the results. */
static int
run_cmd_parallel(struct campaign *plan, struct run_cmd_opts *mo, const char *db, const int64_t *ids,
                 struct run_cmd_row *rows)
{
    if (mo->threads == 0)
        mo->threads = 1; /* the processes share the cores */
    mo->quiet = true;
    size_t n = 0; /* the combinations queued before any stop request */
    while (n < plan->n && ids[n] != 0)
        n++;
    struct run_cmd_job jb = { .plan = plan, .mo = mo, .db = db, .ids = ids };
    struct campaign_worker w = { .run = run_cmd_job_run, .end = run_cmd_job_end, .ctx = &jb };
    struct campaign_pool pool = { 0 };
    struct errbuf eb;
    errbuf_clear(&eb);
    fflush(stdout);
    fflush(stderr);
    if (campaign_pool_run(n, (size_t)mo->jobs, &w, &run_cmd_signal_stop, &pool, &eb) < 0) {
        run_cmd_print_error("run", &eb);
        campaign_pool_release(&pool);
        return EXIT_FAILURE;
    }
    struct store *st = NULL;
    char now[32];
    wallclock_utc_iso8601(now, sizeof now);
    int status = EXIT_SUCCESS;
    if (store_open(&st, db, &eb) < 0 || campaign_settle(st, ids, n, &pool, now, &eb) < 0) {
        run_cmd_print_error("run", &eb);
        status = EXIT_FAILURE;
    }
    int pool_status = run_cmd_pool_status(&pool);
    if (pool_status != EXIT_SUCCESS && status != ARGS_EXIT_INTERRUPTED)
        status = pool_status;
    if (st != NULL && run_cmd_read_rows(st, db, ids, n, rows) != EXIT_SUCCESS &&
        status == EXIT_SUCCESS)
        status = EXIT_FAILURE;
    store_close(st);
    campaign_pool_release(&pool);
    return status;
}

/* The distinct secure-aggregation notes printed so far (one line each, at most a few). */
#define RUN_CMD_NOTES_MAX 16
struct run_cmd_notes {
    char text[RUN_CMD_NOTES_MAX][640];
    size_t n;
};

/*
 * Prints to stderr, once per distinct text, a note when secure aggregation re-embeds a
 * non-homomorphic uplink codec in fixed point (docs/secure.md): its compression is lost on
 * the wire. A note, not an error: the run is valid.
 */
static void
run_cmd_note_carriage(const char *who, const struct scenario *s, struct run_cmd_notes *notes)
{
    struct carriage c;
    struct errbuf eb;
    errbuf_clear(&eb);
    char line[sizeof notes->text[0]];
    if (carriage_of(s, &c, &eb) < 0 || !carriage_format_note(&c, s, line, sizeof line))
        return;
    for (size_t i = 0; i < notes->n; i++)
        if (strcmp(notes->text[i], line) == 0)
            return;
    if (notes->n < RUN_CMD_NOTES_MAX)
        snprintf(notes->text[notes->n++], sizeof notes->text[0], "%s", line);
    fflush(stdout);
    fprintf(stderr, "fedbits %s: note: %s\n", who, line);
}

/* Validates every combination before anything runs; *first gets combination 0 (release it). */
static int
run_cmd_check_all(struct campaign *plan, const struct run_cmd_opts *mo, struct scenario *first)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct run_cmd_notes notes = { .n = 0 };
    for (size_t i = 0; i < plan->n; i++) {
        struct scenario s;
        if (campaign_load(plan, i, &s, &eb) < 0) {
            run_cmd_rank_error(mo, &eb);
            if (i > 0)
                scenario_release(first);
            return -1;
        }
        if (mo->root)
            run_cmd_note_carriage("run", &s, &notes);
        if (i == 0)
            *first = s;
        else
            scenario_release(&s);
    }
    return 0;
}

static void
run_cmd_print_dry_run(const struct campaign *plan, const struct scenario *first)
{
    printf("%zu run%s of '%s' -> %s\n", plan->n, plan->n == 1 ? "" : "s", first->name,
           first->output.db);
    for (size_t i = 0; i < plan->n; i++) {
        char *label = campaign_label(plan, i);
        printf("  %zu: %s\n", i + 1, label != NULL ? label : "(no sweep)");
        mem_free(label);
    }
}

/*
 * Records every combination in the store (st NULL on the ranks after the first) and, unless
 * parallel (then they are queued for run_cmd_parallel()), runs each in turn. Returns the exit
 * status; a signal stops it before the next combination.
 */
static int
run_cmd_sequence(struct campaign *plan, struct run_cmd_opts *mo, struct store *st, int64_t sweep_id,
                 const char *now, bool parallel, int64_t *ids, struct run_cmd_row *rows)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    int status = EXIT_SUCCESS;
    for (size_t i = 0; i < plan->n && !run_cmd_signal_stop; i++) {
        struct scenario s;
        if (campaign_load(plan, i, &s, &eb) < 0) {
            run_cmd_rank_error(mo, &eb);
            return EXIT_FAILURE;
        }
        int rc = st == NULL ? 0
                            : campaign_record(plan, st, i, &s, now, sweep_id, parallel, &ids[i],
                                              &rows[i].label, &eb);
        if (rc < 0) {
            run_cmd_print_error("run", &eb);
            scenario_release(&s);
            return EXIT_FAILURE;
        }
        if (!parallel) {
            int one = run_cmd_execute(&s, st, ids[i], mo, plan->sweep.n == 0, &rows[i]);
            if (one != EXIT_SUCCESS && status != ARGS_EXIT_INTERRUPTED)
                status = one;
        }
        scenario_release(&s);
    }
    if (run_cmd_signal_stop && !parallel)
        status = ARGS_EXIT_INTERRUPTED;
    return status;
}

int
run_cmd(int argc, char **argv, struct cluster *cl)
{
    struct run_cmd_opts mo = { .cluster = cl, .root = cluster_rank(cl) == 0 };
    if (!mo.root)
        snprintf(mo.who, sizeof mo.who, "run (rank %u)", cluster_rank(cl));
    struct campaign plan = { 0 };
    struct store *st = NULL;
    struct run_cmd_row *rows = NULL;
    int64_t *ids = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    int status = ARGS_EXIT_USAGE;
    int prc = run_cmd_parse_opts(argc, argv, true, &mo);
    if (prc != 0) {
        if (prc > 0) {
            run_cmd_usage(stdout);
            status = EXIT_SUCCESS;
        }
        goto out;
    }
    if (mo.jobs > 1 && cluster_size(cl) > 1) {
        args_error(run_cmd_who(&mo), "--jobs runs sweep combinations in processes of its own; "
                                     "under mpirun the ranks share each run (drop --jobs)");
        goto out;
    }
    if (campaign_open(&plan, mo.scenario, mo.sets, mo.n_sets, mo.no_sweep, &eb) < 0) {
        run_cmd_rank_error(&mo, &eb);
        goto out;
    }
    struct scenario first = { 0 };
    if (run_cmd_check_all(&plan, &mo, &first) < 0)
        goto out;
    if (mo.dry_run) {
        if (mo.root)
            run_cmd_print_dry_run(&plan, &first);
        scenario_release(&first);
        status = EXIT_SUCCESS;
        goto out;
    }
    /* Only rank 0 writes the database; the other ranks compute their share of each run. */
    if (mo.root && store_open(&st, first.output.db, &eb) < 0) {
        run_cmd_print_error("run", &eb);
        scenario_release(&first);
        status = EXIT_FAILURE;
        goto out;
    }
    char db[SCENARIO_PATH_BYTES];
    snprintf(db, sizeof db, "%s", first.output.db);
    scenario_release(&first);
    run_cmd_install_signals();

    int64_t sweep_id = 0;
    char now[32];
    wallclock_utc_iso8601(now, sizeof now);
    if (plan.sweep.n > 0 && st != NULL &&
        store_begin_sweep(st, plan.name, plan.text, plan.sweep.label_keys, plan.n, now, &sweep_id,
                          &eb) < 0) {
        run_cmd_print_error("run", &eb);
        status = EXIT_FAILURE;
        goto out;
    }
    rows = mem_calloc(plan.n, sizeof *rows);
    ids = mem_calloc(plan.n, sizeof *ids);
    if (rows == NULL || ids == NULL) {
        args_error("run", "out of memory");
        status = EXIT_FAILURE;
        goto out;
    }
    bool parallel = mo.jobs > 1 && plan.n > 1;
    status = run_cmd_sequence(&plan, &mo, st, sweep_id, now, parallel, ids, rows);
    if (parallel && status == EXIT_SUCCESS) {
        store_close(st);
        st = NULL;
        status = run_cmd_parallel(&plan, &mo, db, ids, rows);
    }
    if (plan.sweep.n > 0 && mo.root)
        run_cmd_print_table(rows, plan.n, db, sweep_id);
out:
    if (rows != NULL) {
        for (size_t i = 0; i < plan.n; i++)
            mem_free(rows[i].label);
    }
    mem_free(rows);
    mem_free(ids);
    store_close(st);
    campaign_release(&plan);
    mem_free(mo.sets);
    return status;
}

int
run_cmd_validate(int argc, char **argv)
{
    struct run_cmd_opts mo = { .root = true };
    struct campaign plan = { 0 };
    struct errbuf eb;
    errbuf_clear(&eb);
    int status = ARGS_EXIT_USAGE;
    int prc = run_cmd_parse_opts(argc, argv, false, &mo);
    if (prc != 0) {
        if (prc > 0) {
            run_cmd_validate_usage(stdout);
            status = EXIT_SUCCESS;
        }
        goto out;
    }
    if (mo.scenario == NULL) {
        args_error("validate", "which scenario? (fedbits validate SCENARIO.yaml)");
        goto out;
    }
    if (campaign_open(&plan, mo.scenario, mo.sets, mo.n_sets, mo.no_sweep, &eb) < 0) {
        run_cmd_print_error("validate", &eb);
        goto out;
    }
    struct run_cmd_notes notes = { .n = 0 };
    for (size_t i = 0; i < plan.n; i++) {
        struct scenario s;
        if (campaign_load(&plan, i, &s, &eb) < 0) {
            run_cmd_print_error("validate", &eb);
            goto out;
        }
        run_cmd_note_carriage("validate", &s, &notes);
        if (i == 0) {
            struct model_spec spec;
            size_t features, classes;
            char params[48] = "model size set by the data file";
            if (scenario_data_shape(&s, &features, &classes)) {
                scenario_model_spec(&s, features, classes, &spec);
                snprintf(params, sizeof params, "%zu model parameters", model_param_count(&spec));
            }
            printf("%s: ok ('%s': %llu rounds, %llu of %llu clients per round, %s, uplink %s, "
                   "downlink %s",
                   mo.scenario, s.name, (unsigned long long)s.train.rounds,
                   (unsigned long long)s.train.clients_per_round,
                   (unsigned long long)s.data.clients, params, codec_kind_name(s.uplink.codec.kind),
                   codec_kind_name(s.downlink.codec.kind));
            if (plan.sweep.n > 0)
                printf("; a sweep of %zu runs over %s", plan.n, plan.sweep.label_keys);
            printf(")\n");
        }
        scenario_release(&s);
    }
    status = EXIT_SUCCESS;
out:
    campaign_release(&plan);
    mem_free(mo.sets);
    return status;
}

static void
run_cmd_resume_usage(FILE *f)
{
    fprintf(f, "usage: fedbits resume RESULTS.db --run ID [--threads N] [--quiet]\n"
               "\n"
               "Continues run ID of the database from its latest checkpoint\n"
               "(output.checkpoint_every), or from the start when it has none. Rounds stored\n"
               "after the checkpoint are replaced; the final rows are bit-identical to those\n"
               "of an uninterrupted run. The run's own resolved configuration is used.\n"
               "\n"
               "options:\n"
               "  --run ID      the run to continue (see fedbits report)\n"
               "  --threads N   threads (results do not depend on it)\n"
               "  -q, --quiet   no progress display\n"
               "  -h, --help    show this help\n");
}

int
run_cmd_resume(int argc, char **argv)
{
    enum { OPT_RUN = 256, OPT_THREADS };
    static const struct option opts[] = {
        { "run", required_argument, NULL, OPT_RUN },
        { "threads", required_argument, NULL, OPT_THREADS },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct run_cmd_opts mo = { .root = true };
    uint64_t run_id = 0;
    struct args a = args_start("resume", argc, argv);
    for (;;) {
        int c = args_next(&a, "qh", opts);
        if (c == -1)
            break;
        if (c == 'h') {
            run_cmd_resume_usage(stdout);
            return EXIT_SUCCESS;
        }
        if (c == 'q') {
            mo.quiet = true;
            continue;
        }
        if (c == '?' ||
            (c == OPT_RUN &&
             args_uint("resume", "--run", optarg, 1, RUN_CMD_ID_MAX, &run_id) < 0) ||
            (c == OPT_THREADS &&
             args_uint("resume", "--threads", optarg, 1, RUN_CMD_THREADS_MAX, &mo.threads) < 0))
            return ARGS_EXIT_USAGE;
    }
    if (optind != argc - 1 || run_id == 0)
        return args_error("resume", "which database and run? (fedbits resume RESULTS.db --run ID)");
    const char *db = argv[optind];
    if (access(db, R_OK | W_OK) != 0) {
        fprintf(stderr, "%s: error: cannot open the results database: %s\n", db, strerror(errno));
        return ARGS_EXIT_USAGE;
    }
    struct errbuf eb;
    errbuf_clear(&eb);
    struct store *st = NULL;
    char *config = NULL;
    unsigned char *state = NULL;
    size_t state_len = 0;
    uint64_t round = 0;
    struct scenario s = { 0 };
    int status = EXIT_FAILURE;
    char status_text[16];
    if (store_open(&st, db, &eb) < 0 ||
        store_run_config(st, (int64_t)run_id, &config, status_text, &eb) < 0) {
        run_cmd_print_error("resume", &eb);
        status = eb.code == -ERR_NOTFOUND ? ARGS_EXIT_USAGE : EXIT_FAILURE;
        goto out;
    }
    if (strcmp(status_text, "finished") == 0) {
        fprintf(stderr, "fedbits resume: run %llu of '%s' already finished\n",
                (unsigned long long)run_id, db);
        status = ARGS_EXIT_USAGE;
        goto out;
    }
    char db_set[SCENARIO_PATH_BYTES + 16];
    snprintf(db_set, sizeof db_set, "output.db=%s", db);
    const char *sets[] = { db_set };
    char name[64];
    snprintf(name, sizeof name, "(configuration of run %llu)", (unsigned long long)run_id);
    if (scenario_load_resolved(&s, name, config, strlen(config), sets, 1, &eb) < 0 ||
        store_load_checkpoint(st, (int64_t)run_id, &state, &state_len, &round, &eb) < 0 ||
        resume_claim(st, (int64_t)run_id, &s, &eb) < 0) { /* owner gone, same inputs */
        run_cmd_print_error("resume", &eb);
        goto out;
    }
    if (!mo.quiet)
        fprintf(stderr, "resuming run %llu after round %llu%s\n", (unsigned long long)run_id,
                (unsigned long long)round, state == NULL ? " (no checkpoint: from the start)" : "");
    mo.resume = state;
    mo.resume_len = state_len;
    mo.resume_round = round; /* run_execute() rewinds once the checkpoint is accepted */
    mo.rewind = true;
    run_cmd_install_signals();
    status = run_cmd_execute(&s, st, (int64_t)run_id, &mo, true, NULL);
out:
    scenario_release(&s);
    mem_free(state);
    mem_free(config);
    store_close(st);
    return status;
}
