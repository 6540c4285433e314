/* cmd_run: `fedbits run` and `fedbits validate`. See cmd_run.h. */
#include "sim/cmd_run.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "base/simtime.h"
#include "clients/dense_backend.h"
#include "fedbits_config.h"
#include "sim/resume.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/store.h"
#include "sim/sweep.h"
#include "sim/wallclock.h"
#include "base/banned.h"

#define CMD_EXIT_USAGE       2
#define CMD_EXIT_INTERRUPTED 130

/* The embedded default scenario (scenarios/default.yaml, via tools/embed). */
extern const char default_scenario_yaml[];
extern const size_t default_scenario_yaml_len;

/*
 * Set by SIGINT/SIGTERM, read by the event loop between events. A signal handler can only
 * communicate through static storage; this is the one such flag (STYLE.md convention 8).
 */
static volatile sig_atomic_t cmd_run_signal_stop;

static void
cmd_run_on_signal(int sig)
{
    (void)sig;
    cmd_run_signal_stop = 1;
}

static void
cmd_run_print_error(const char *cmd, const struct errbuf *eb)
{
    char line[ERRBUF_MSG_BYTES + ERRBUF_PATH_BYTES + 64];
    errbuf_format(eb, line, sizeof line);
    if (eb->file[0] != '\0')
        fprintf(stderr, "%s\n", line);
    else
        fprintf(stderr, "fedbits %s: %s\n", cmd, line);
}

static int
cmd_run_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static void
cmd_run_usage(FILE *f)
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
cmd_run_validate_usage(FILE *f)
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
struct cmd_run_opts {
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
    struct cluster *cluster; /* the MPI ranks of this invocation (sim/cluster.h) */
    bool root;               /* rank 0 (or the only process): writes the store, prints */
    char who[32];            /* "run (rank N)" on other ranks, else empty */
};

/* `run`, or `run (rank N)` on the ranks after the first, whose errors name their rank. */
static const char *
cmd_run_who(const struct cmd_run_opts *mo)
{
    return mo->who[0] != '\0' ? mo->who : "run";
}

/* An error of `fedbits run`; on the ranks after the first, always prefixed with the rank. */
static void
cmd_run_rank_error(const struct cmd_run_opts *mo, const struct errbuf *eb)
{
    if (mo->who[0] == '\0') {
        cmd_run_print_error("run", eb);
        return;
    }
    char line[ERRBUF_MSG_BYTES + ERRBUF_PATH_BYTES + 64];
    errbuf_format(eb, line, sizeof line);
    fprintf(stderr, "fedbits %s: %s\n", mo->who, line);
}

static int
cmd_run_add_set(struct cmd_run_opts *mo, const char *set)
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
cmd_run_parse_opts(int argc, char **argv, bool is_run, struct cmd_run_opts *mo)
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
    optind = 1;
    opterr = 0;
    for (;;) {
        int c =
            getopt_long(argc, argv, is_run ? "qh" : "h", is_run ? run_opts : validate_opts, NULL);
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
                fprintf(stderr, "fedbits %s: --db needs a path\n", cmd);
                return -1;
            }
            snprintf(mo->db_set, sizeof mo->db_set, "output.db=%s", optarg);
            have_db = true;
            break;
        case OPT_SEED: {
            uint64_t seed;
            if (cmd_run_parse_u64(optarg, UINT64_C(9200000000000000000), &seed) < 0) {
                fprintf(stderr, "fedbits %s: --seed '%s' is not a non-negative integer\n", cmd,
                        optarg);
                return -1;
            }
            snprintf(mo->seed_set, sizeof mo->seed_set, "seed=%llu", (unsigned long long)seed);
            have_seed = true;
            break;
        }
        case OPT_SET:
            if (cmd_run_add_set(mo, optarg) < 0) {
                fprintf(stderr, "fedbits %s: out of memory\n", cmd);
                return -1;
            }
            break;
        case OPT_THREADS:
        case OPT_JOBS: {
            uint64_t *v = c == OPT_THREADS ? &mo->threads : &mo->jobs;
            if (cmd_run_parse_u64(optarg, 1024, v) < 0 || *v == 0) {
                fprintf(stderr, "fedbits %s: --%s '%s' must be an integer from 1 to 1024\n", cmd,
                        c == OPT_THREADS ? "threads" : "jobs", optarg);
                return -1;
            }
            break;
        }
        default:
            if (optopt != 0)
                fprintf(stderr, "fedbits %s: option '-%c' is not valid here or needs a value\n",
                        cmd, optopt);
            else
                fprintf(stderr, "fedbits %s: unknown option or missing value in '%s'\n", cmd,
                        argv[optind - 1]);
            fprintf(stderr, "try 'fedbits %s --help'\n", cmd);
            return -1;
        }
    }
    if (optind < argc)
        mo->scenario = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "fedbits %s: unexpected argument '%s'\n", cmd, argv[optind]);
        return -1;
    }
    /* Explicit flags win over --set, so they are applied last. */
    if ((have_seed && cmd_run_add_set(mo, mo->seed_set) < 0) ||
        (have_db && cmd_run_add_set(mo, mo->db_set) < 0)) {
        fprintf(stderr, "fedbits %s: out of memory\n", cmd);
        return -1;
    }
    return 0;
}

/* The scenario source and its sweep: what every combination is loaded from. */
struct cmd_run_plan {
    const char *name; /* file name for errors */
    char *owned_text; /* file contents (NULL for the embedded default) */
    const char *text;
    size_t len;
    struct sweep sweep;
    size_t n;          /* runs: sweep.n, or 1 without a sweep */
    const char **sets; /* scratch: sweep sets + user sets */
};

static void
cmd_run_plan_release(struct cmd_run_plan *p)
{
    mem_free(p->owned_text);
    mem_free(p->sets);
    sweep_release(&p->sweep);
}

static int
cmd_run_plan_init(struct cmd_run_plan *p, const struct cmd_run_opts *mo, struct errbuf *eb)
{
    *p = (struct cmd_run_plan){ 0 };
    if (mo->scenario == NULL) {
        p->name = "(embedded default scenario)";
        p->text = default_scenario_yaml;
        p->len = default_scenario_yaml_len;
    } else {
        p->name = mo->scenario;
        int rc = scenario_read_file(mo->scenario, &p->owned_text, &p->len, eb);
        if (rc < 0)
            return rc;
        p->text = p->owned_text;
    }
    int rc = sweep_parse(&p->sweep, p->name, p->text, p->len, eb);
    if (rc < 0)
        return rc;
    if (mo->no_sweep)
        sweep_release(&p->sweep); /* validated, then set aside: one run of the base scenario */
    p->n = p->sweep.n > 0 ? p->sweep.n : 1;
    p->sets = mem_alloc((p->sweep.n_keys + mo->n_sets + 1) * sizeof *p->sets);
    if (p->sets == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory");
    return 0;
}

/* Loads combination i: its sweep overrides first, then the command line's. */
static int
cmd_run_plan_load(struct cmd_run_plan *p, const struct cmd_run_opts *mo, size_t i,
                  struct scenario *s, struct errbuf *eb)
{
    size_t n = 0;
    if (p->sweep.n > 0) {
        for (size_t k = 0; k < p->sweep.n_keys; k++)
            p->sets[n++] = p->sweep.sets[i][k];
    }
    for (size_t k = 0; k < mo->n_sets; k++)
        p->sets[n++] = mo->sets[k];
    int rc = scenario_load(s, p->name, p->text, p->len, p->sets, n, eb);
    if (rc < 0 && p->sweep.n > 0) {
        /* An error in a sweep value: point at the value in the file, not at "--set". */
        if (eb != NULL && strcmp(eb->file, "--set") == 0 && eb->line >= 1 &&
            (size_t)eb->line <= p->sweep.n_keys) {
            size_t at = i * p->sweep.n_keys + (size_t)eb->line - 1;
            errbuf_set_location(eb, p->name, p->sweep.lines[at], p->sweep.columns[at]);
            errbuf_prefix(eb, "sweep combination %zu", i + 1);
        } else if (eb != NULL && strcmp(eb->file, "--set") == 0 && eb->line >= 1) {
            /* A command-line override: number it as the user wrote it. */
            eb->line -= (long)p->sweep.n_keys;
        } else {
            errbuf_prefix(eb, "sweep combination %zu", i + 1);
        }
    }
    return rc;
}

/* "uplink.codec=eden seed=2" for combination i (owned; mem_free), or NULL without a sweep. */
static char *
cmd_run_label(const struct cmd_run_plan *p, size_t i)
{
    if (p->sweep.n == 0)
        return NULL;
    size_t len = 1;
    for (size_t k = 0; k < p->sweep.n_keys; k++)
        len += strlen(p->sweep.sets[i][k]) + 1;
    char *out = mem_alloc(len);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    size_t at = 0;
    for (size_t k = 0; k < p->sweep.n_keys; k++) {
        int w = snprintf(out + at, len - at, "%s%s", k > 0 ? " " : "", p->sweep.sets[i][k]);
        at += w > 0 ? (size_t)w : 0;
    }
    return out;
}

/* Progress */

struct cmd_run_progress {
    bool tty;
    int64_t started_ns;
};

static void
cmd_run_format_bits(char *out, size_t len, uint64_t bits)
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
cmd_run_on_round(void *ctx, const struct scenario *s, const struct store_round *r)
{
    struct cmd_run_progress *p = ctx;
    if (!p->tty)
        return;
    char up[32], down[32], acc[40];
    cmd_run_format_bits(up, sizeof up, r->uplink_bits);
    cmd_run_format_bits(down, sizeof down, r->downlink_bits);
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

static void
cmd_run_print_summary(const struct scenario *s, int64_t run_id, const char *status,
                      const struct run_summary *sum, double wall_s)
{
    char up[32], down[32];
    cmd_run_format_bits(up, sizeof up, sum->uplink_bits);
    cmd_run_format_bits(down, sizeof down, sum->downlink_bits);
    printf("run %lld '%s' %s -> %s\n", (long long)run_id, s->name, status, s->output.db);
    printf("  %-18s %llu of %llu\n", "rounds", (unsigned long long)sum->rounds,
           (unsigned long long)s->train.rounds);
    printf("  %-18s %.4f\n", "final accuracy", sum->final_accuracy);
    printf("  %-18s %.4f\n", "final loss", sum->final_loss);
    printf("  %-18s %llu (%s)\n", "uplink bits", (unsigned long long)sum->uplink_bits, up);
    printf("  %-18s %llu (%s)\n", "downlink bits", (unsigned long long)sum->downlink_bits, down);
    printf("  %-18s %.3f s\n", "simulated time", simtime_to_s(sum->sim_time_us));
    printf("  %-18s %.2f s (%u threads)\n", "wall time", wall_s, sum->threads);
    if (sum->ranks > 1)
        printf("  %-18s %u (rank 0 put %.0f bytes per round into collectives)\n", "MPI ranks",
               sum->ranks, sum->rounds > 0 ? (double)sum->rank_bytes / (double)sum->rounds : 0.0);
    printf("  %-18s %zu\n", "model parameters", sum->model_dim);
    printf("  %-18s %s\n", "event fingerprint", sum->fingerprint);
}

/* One line per run of a sweep, for the final table. */
struct cmd_run_row {
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
cmd_run_execute(const struct scenario *s, struct store *st, int64_t run_id,
                const struct cmd_run_opts *mo, bool summary, struct cmd_run_row *row)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    struct cmd_run_progress prog = { .tty = mo->root && !mo->quiet && isatty(STDERR_FILENO),
                                     .started_ns = wallclock_ns() };
    struct run_options ro = {
        .threads = (unsigned)mo->threads,
        .stop = &cmd_run_signal_stop,
        .on_round = cmd_run_on_round,
        .ctx = &prog,
        .resume = mo->resume,
        .resume_len = mo->resume_len,
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
        cmd_run_rank_error(mo, &eb);
    if (frc < 0)
        cmd_run_print_error("run", &eb2);
    if (summary && mo->root)
        cmd_run_print_summary(s, run_id, final, &sum, wall);
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
    return rc == -ERR_INTERRUPTED ? CMD_EXIT_INTERRUPTED : EXIT_FAILURE;
}

static void
cmd_run_print_table(const struct cmd_run_row *rows, size_t n, const char *db)
{
    printf("%zu runs -> %s (accuracy against bits on the wire; fedbits report %s for more)\n", n,
           db, db);
    printf("  %-4s %-9s %-6s %-8s %-11s %-9s %-11s %-10s %-8s %s\n", "run", "status", "rounds",
           "accuracy", "uplink", "bits/coord", "downlink", "sim time", "wall", "overrides");
    for (size_t i = 0; i < n; i++) {
        char sim[32], wall[32], up[32], down[32], bpc[32];
        snprintf(sim, sizeof sim, "%.0f s", rows[i].sim_s);
        snprintf(wall, sizeof wall, "%.1f s", rows[i].wall_s);
        cmd_run_format_bits(up, sizeof up, rows[i].uplink_bits);
        cmd_run_format_bits(down, sizeof down, rows[i].downlink_bits);
        if (rows[i].bits_per_coord > 0)
            snprintf(bpc, sizeof bpc, "%.2f", rows[i].bits_per_coord);
        else
            snprintf(bpc, sizeof bpc, "-");
        printf("  %-4lld %-9s %-6llu %-8.4f %-11s %-9s %-11s %-10s %-8s %s\n",
               (long long)rows[i].id, rows[i].status, (unsigned long long)rows[i].rounds,
               rows[i].accuracy, up, bpc, down, sim, wall,
               rows[i].label != NULL ? rows[i].label : "");
    }
}

static void
cmd_run_install_signals(void)
{
    struct sigaction sa = { .sa_handler = cmd_run_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Queues every combination, runs them in `jobs` processes, then reads back the results. */
static int
cmd_run_parallel(struct cmd_run_plan *plan, struct cmd_run_opts *mo, const char *db,
                 const int64_t *ids, struct cmd_run_row *rows)
{
    size_t jobs = (size_t)mo->jobs < plan->n ? (size_t)mo->jobs : plan->n;
    if (mo->threads == 0)
        mo->threads = 1; /* the processes share the cores */
    mo->quiet = true;
    pid_t *pids = mem_calloc(jobs, sizeof *pids);
    if (pids == NULL) {
        fprintf(stderr, "fedbits run: out of memory\n");
        return EXIT_FAILURE;
    }
    fflush(stdout);
    fflush(stderr);
    for (size_t j = 0; j < jobs; j++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "fedbits run: cannot start a job process: %s\n", strerror(errno));
            break;
        }
        if (pid > 0) {
            pids[j] = pid;
            continue;
        }
        /* Child: runs combinations j, j + jobs, ... on its own connection. */
        int status = EXIT_SUCCESS;
        struct store *st = NULL;
        struct errbuf eb;
        errbuf_clear(&eb);
        if (store_open(&st, db, &eb) < 0) {
            cmd_run_print_error("run", &eb);
            _exit(EXIT_FAILURE);
        }
        for (size_t i = j; i < plan->n && !cmd_run_signal_stop; i += jobs) {
            struct scenario s;
            char started[32];
            wallclock_utc_iso8601(started, sizeof started);
            if (cmd_run_plan_load(plan, mo, i, &s, &eb) < 0 ||
                store_start_run(st, ids[i], started, &eb) < 0) {
                cmd_run_print_error("run", &eb);
                status = EXIT_FAILURE;
                continue;
            }
            int one = cmd_run_execute(&s, st, ids[i], mo, false, NULL);
            if (one != EXIT_SUCCESS)
                status = one;
            scenario_release(&s);
        }
        store_close(st);
        fflush(stdout);
        _exit(status);
    }
    int status = EXIT_SUCCESS;
    for (size_t j = 0; j < jobs; j++) {
        if (pids[j] <= 0) {
            status = EXIT_FAILURE;
            continue;
        }
        int ws;
        while (waitpid(pids[j], &ws, 0) < 0 && errno == EINTR)
            ;
        int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : EXIT_FAILURE;
        if (code != EXIT_SUCCESS && status != CMD_EXIT_INTERRUPTED)
            status = code;
    }
    mem_free(pids);
    /* Read every run's outcome back from the database. */
    struct store *st = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    if (store_open(&st, db, &eb) < 0) {
        cmd_run_print_error("run", &eb);
        return EXIT_FAILURE;
    }
    for (size_t i = 0; i < plan->n; i++) {
        struct store_run_result res;
        if (store_run_result(st, ids[i], &res, &eb) < 0) {
            cmd_run_print_error("run", &eb);
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
    }
    store_close(st);
    return status;
}

int
cmd_run(int argc, char **argv, struct cluster *cl)
{
    struct cmd_run_opts mo = { .cluster = cl, .root = cluster_rank(cl) == 0 };
    if (!mo.root)
        snprintf(mo.who, sizeof mo.who, "run (rank %u)", cluster_rank(cl));
    struct cmd_run_plan plan = { 0 };
    struct store *st = NULL;
    struct cmd_run_row *rows = NULL;
    int64_t *ids = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    int status = CMD_EXIT_USAGE;
    int prc = cmd_run_parse_opts(argc, argv, true, &mo);
    if (prc != 0) {
        if (prc > 0) {
            cmd_run_usage(stdout);
            status = EXIT_SUCCESS;
        }
        goto out;
    }
    if (mo.jobs > 1 && cluster_size(cl) > 1) {
        fprintf(stderr,
                "fedbits %s: --jobs runs sweep combinations in processes of its own; "
                "under mpirun the ranks share each run (drop --jobs)\n",
                cmd_run_who(&mo));
        goto out;
    }
    if (cmd_run_plan_init(&plan, &mo, &eb) < 0) {
        cmd_run_rank_error(&mo, &eb);
        goto out;
    }
    /* Validate every combination before anything runs. */
    struct scenario first = { 0 };
    for (size_t i = 0; i < plan.n; i++) {
        struct scenario s;
        if (cmd_run_plan_load(&plan, &mo, i, &s, &eb) < 0) {
            cmd_run_rank_error(&mo, &eb);
            scenario_release(&first);
            goto out;
        }
        if (i == 0)
            first = s;
        else
            scenario_release(&s);
    }
    if (mo.dry_run && !mo.root) {
        scenario_release(&first);
        status = EXIT_SUCCESS;
        goto out;
    }
    if (mo.dry_run) {
        printf("%zu run%s of '%s' -> %s\n", plan.n, plan.n == 1 ? "" : "s", first.name,
               first.output.db);
        for (size_t i = 0; i < plan.n; i++) {
            char *label = cmd_run_label(&plan, i);
            printf("  %zu: %s\n", i + 1, label != NULL ? label : "(no sweep)");
            mem_free(label);
        }
        scenario_release(&first);
        status = EXIT_SUCCESS;
        goto out;
    }
    /* Only rank 0 writes the database; the other ranks compute their share of each run. */
    if (mo.root && store_open(&st, first.output.db, &eb) < 0) {
        cmd_run_print_error("run", &eb);
        scenario_release(&first);
        status = EXIT_FAILURE;
        goto out;
    }
    char db[SCENARIO_PATH_BYTES];
    snprintf(db, sizeof db, "%s", first.output.db);
    scenario_release(&first);
    cmd_run_install_signals();

    int64_t sweep_id = 0;
    char now[32];
    wallclock_utc_iso8601(now, sizeof now);
    if (plan.sweep.n > 0 && st != NULL &&
        store_begin_sweep(st, plan.sweep.n > 0 ? plan.name : "", plan.text, plan.sweep.label_keys,
                          plan.n, now, &sweep_id, &eb) < 0) {
        cmd_run_print_error("run", &eb);
        status = EXIT_FAILURE;
        goto out;
    }
    rows = mem_calloc(plan.n, sizeof *rows);
    ids = mem_calloc(plan.n, sizeof *ids);
    if (rows == NULL || ids == NULL) {
        fprintf(stderr, "fedbits run: out of memory\n");
        status = EXIT_FAILURE;
        goto out;
    }
    bool parallel = mo.jobs > 1 && plan.n > 1;
    status = EXIT_SUCCESS;
    for (size_t i = 0; i < plan.n && !cmd_run_signal_stop; i++) {
        struct scenario s;
        if (cmd_run_plan_load(&plan, &mo, i, &s, &eb) < 0) {
            cmd_run_rank_error(&mo, &eb);
            status = EXIT_FAILURE;
            break;
        }
        char *json = scenario_to_json(&s);
        /* Two runs of the same experiment written to different databases match. */
        char *hash_json = scenario_identity(&s);
        rows[i].label = cmd_run_label(&plan, i);
        struct store_run_info info = {
            .name = s.name,
            .scenario_text = s.source_text,
            .config_json = json != NULL ? json : "{}",
            .hash_json = hash_json,
            .seed = s.seed,
            .version = FEDBITS_VERSION,
            .started_at = now,
            .sweep_id = sweep_id,
            .sweep_index = i + 1,
            .sweep_label = rows[i].label,
        };
        int rc = json == NULL || hash_json == NULL ? errbuf_set(&eb, -ERR_NOMEM, "out of memory")
                 : st == NULL                      ? 0
                 : parallel                        ? store_queue_run(st, &info, &ids[i], &eb)
                                                   : store_begin_run(st, &info, &ids[i], &eb);
        mem_free(json);
        mem_free(hash_json);
        if (rc < 0) {
            cmd_run_print_error("run", &eb);
            scenario_release(&s);
            status = EXIT_FAILURE;
            break;
        }
        if (!parallel) {
            int one = cmd_run_execute(&s, st, ids[i], &mo, plan.sweep.n == 0, &rows[i]);
            if (one != EXIT_SUCCESS && status != CMD_EXIT_INTERRUPTED)
                status = one;
        }
        scenario_release(&s);
    }
    if (parallel && status == EXIT_SUCCESS) {
        store_close(st);
        st = NULL;
        status = cmd_run_parallel(&plan, &mo, db, ids, rows);
    }
    if (plan.sweep.n > 0 && mo.root)
        cmd_run_print_table(rows, plan.n, db);
out:
    if (rows != NULL) {
        for (size_t i = 0; i < plan.n; i++)
            mem_free(rows[i].label);
    }
    mem_free(rows);
    mem_free(ids);
    store_close(st);
    cmd_run_plan_release(&plan);
    mem_free(mo.sets);
    return status;
}

int
cmd_run_validate(int argc, char **argv)
{
    struct cmd_run_opts mo = { .root = true };
    struct cmd_run_plan plan = { 0 };
    struct errbuf eb;
    errbuf_clear(&eb);
    int status = CMD_EXIT_USAGE;
    int prc = cmd_run_parse_opts(argc, argv, false, &mo);
    if (prc != 0) {
        if (prc > 0) {
            cmd_run_validate_usage(stdout);
            status = EXIT_SUCCESS;
        }
        goto out;
    }
    if (mo.scenario == NULL) {
        fprintf(stderr, "fedbits validate: which scenario? (fedbits validate SCENARIO.yaml)\n");
        goto out;
    }
    if (cmd_run_plan_init(&plan, &mo, &eb) < 0) {
        cmd_run_print_error("validate", &eb);
        goto out;
    }
    for (size_t i = 0; i < plan.n; i++) {
        struct scenario s;
        if (cmd_run_plan_load(&plan, &mo, i, &s, &eb) < 0) {
            cmd_run_print_error("validate", &eb);
            goto out;
        }
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
    cmd_run_plan_release(&plan);
    mem_free(mo.sets);
    return status;
}

static void
cmd_run_resume_usage(FILE *f)
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
cmd_run_resume(int argc, char **argv)
{
    enum { OPT_RUN = 256, OPT_THREADS };
    static const struct option opts[] = {
        { "run", required_argument, NULL, OPT_RUN },
        { "threads", required_argument, NULL, OPT_THREADS },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct cmd_run_opts mo = { .root = true };
    uint64_t run_id = 0;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "qh", opts, NULL);
        if (c == -1)
            break;
        if (c == 'h') {
            cmd_run_resume_usage(stdout);
            return EXIT_SUCCESS;
        }
        if (c == 'q') {
            mo.quiet = true;
            continue;
        }
        uint64_t *v = c == OPT_RUN ? &run_id : c == OPT_THREADS ? &mo.threads : NULL;
        uint64_t max = c == OPT_RUN ? UINT64_C(9200000000000000000) : 1024;
        if (v == NULL || cmd_run_parse_u64(optarg, max, v) < 0 || *v == 0) {
            fprintf(stderr, "fedbits resume: bad option or value (try 'fedbits resume --help')\n");
            return CMD_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || run_id == 0) {
        fprintf(stderr, "fedbits resume: which database and run? "
                        "(fedbits resume RESULTS.db --run ID)\n");
        return CMD_EXIT_USAGE;
    }
    const char *db = argv[optind];
    if (access(db, R_OK | W_OK) != 0) {
        fprintf(stderr, "%s: error: cannot open the results database: %s\n", db, strerror(errno));
        return CMD_EXIT_USAGE;
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
        cmd_run_print_error("resume", &eb);
        status = eb.code == -ERR_NOTFOUND ? CMD_EXIT_USAGE : EXIT_FAILURE;
        goto out;
    }
    if (strcmp(status_text, "finished") == 0) {
        fprintf(stderr, "fedbits resume: run %llu of '%s' already finished\n",
                (unsigned long long)run_id, db);
        status = CMD_EXIT_USAGE;
        goto out;
    }
    char db_set[SCENARIO_PATH_BYTES + 16];
    snprintf(db_set, sizeof db_set, "output.db=%s", db);
    const char *sets[] = { db_set };
    char name[64];
    snprintf(name, sizeof name, "(configuration of run %llu)", (unsigned long long)run_id);
    if (scenario_load_resolved(&s, name, config, strlen(config), sets, 1, &eb) < 0 ||
        store_load_checkpoint(st, (int64_t)run_id, &state, &state_len, &round, &eb) < 0 ||
        resume_claim(st, (int64_t)run_id, &s, &eb) < 0 || /* owner gone, same inputs */
        store_rewind_run(st, (int64_t)run_id, round, &eb) < 0) {
        cmd_run_print_error("resume", &eb);
        goto out;
    }
    if (!mo.quiet)
        fprintf(stderr, "resuming run %llu after round %llu%s\n", (unsigned long long)run_id,
                (unsigned long long)round, state == NULL ? " (no checkpoint: from the start)" : "");
    mo.resume = state;
    mo.resume_len = state_len;
    cmd_run_install_signals();
    status = cmd_run_execute(&s, st, (int64_t)run_id, &mo, true, NULL);
out:
    scenario_release(&s);
    mem_free(state);
    mem_free(config);
    store_close(st);
    return status;
}
