/*
 * main: the fedbits command. The only place that prints errors and chooses exit status.
 *
 *   fedbits run [SCENARIO] [--db PATH] [--seed N] [--set key.path=value]... [--threads N]
 *               [--quiet]
 *   fedbits validate SCENARIO [--set key.path=value]...
 *   fedbits list
 *   fedbits dme ...              (distributed mean estimation, sim/cmd_dme.c)
 *   fedbits bench codecs ...     (codec speed, sim/cmd_bench.c)
 *
 * Exit status: 0 success; 1 the run failed; 2 bad usage or input (scenario, flags);
 * 130 interrupted by SIGINT/SIGTERM (the run is marked 'interrupted', rounds kept).
 */
#include <errno.h>
#include <getopt.h>
#include <gsl/gsl_errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/errbuf.h"
#include "base/mem.h"
#include "base/simtime.h"
#include "fedbits_config.h"
#include "sim/cmd_codec.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/store.h"
#include "sim/wallclock.h"
#include "base/banned.h"

#define EXIT_USAGE       2
#define EXIT_INTERRUPTED 130

/* The embedded default scenario (scenarios/default.yaml, via tools/embed). */
extern const char default_scenario_yaml[];
extern const size_t default_scenario_yaml_len;

/*
 * Set by SIGINT/SIGTERM, read by the event loop between events. A signal handler can only
 * communicate through static storage; this is the one such flag (STYLE.md convention 8).
 */
static volatile sig_atomic_t main_signal_stop;

static void
main_on_signal(int sig)
{
    (void)sig;
    main_signal_stop = 1;
}

static void
main_print_error(const char *cmd, const struct errbuf *eb)
{
    char line[ERRBUF_MSG_BYTES + ERRBUF_PATH_BYTES + 64];
    errbuf_format(eb, line, sizeof line);
    if (eb->file[0] != '\0')
        fprintf(stderr, "%s\n", line);
    else
        fprintf(stderr, "fedbits %s: %s\n", cmd, line);
}

static int
main_parse_u64(const char *s, uint64_t max, uint64_t *out)
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
main_usage(FILE *f)
{
    fprintf(f, "usage: fedbits COMMAND [OPTIONS]\n"
               "\n"
               "Federated-learning simulation with exact bits on the wire.\n"
               "\n"
               "commands:\n"
               "  run [SCENARIO]    run a scenario (the embedded default when none is given)\n"
               "  validate SCENARIO check a scenario file without running it\n"
               "  list              name the datasets, models, codecs and aggregators\n"
               "  dme               distributed mean estimation with the codecs (no training)\n"
               "  bench codecs      encode/decode speed of every codec\n"
               "\n"
               "options:\n"
               "  -h, --help        show this help (fedbits COMMAND --help for a command's)\n"
               "  -V, --version     print the version\n");
}

static void
main_run_usage(FILE *f)
{
    fprintf(f, "usage: fedbits run [SCENARIO.yaml] [OPTIONS]\n"
               "\n"
               "Runs a scenario and writes every round to the results database. Without\n"
               "SCENARIO, runs the embedded default (Synthetic-IID, 1,000 clients, 100 per\n"
               "round, 50 rounds, logistic regression, FedAvg).\n"
               "\n"
               "options:\n"
               "  --db PATH            results database (overrides output.db; default results.db)\n"
               "  --seed N             run seed (overrides seed)\n"
               "  --set KEY.PATH=VALUE override one scenario key, validated like the file;\n"
               "                       repeatable, e.g. --set train.rounds=10\n"
               "  --threads N          train up to N clients in parallel (default: all cores);\n"
               "                       results are identical for every N\n"
               "  -q, --quiet          no progress display\n"
               "  -h, --help           show this help\n"
               "\n"
               "Progress goes to stderr when it is a terminal; the summary goes to stdout.\n"
               "Exit status: 0 finished, 1 failed, 2 bad scenario or options, 130 interrupted.\n");
}

static void
main_validate_usage(FILE *f)
{
    fprintf(f, "usage: fedbits validate SCENARIO.yaml [--set KEY.PATH=VALUE]...\n"
               "\n"
               "Checks every key of a scenario (and of the overrides) without running it.\n"
               "Errors are printed as FILE:LINE:COL: error: MESSAGE; exit status 2 on error.\n"
               "\n"
               "options:\n"
               "  --set KEY.PATH=VALUE override one key before validation (repeatable)\n"
               "  -h, --help           show this help\n");
}

static void
main_list_usage(FILE *f)
{
    fprintf(f, "usage: fedbits list [--keys]\n"
               "\n"
               "Names the datasets, models, codecs, secure aggregators and server optimizers\n"
               "this build provides. With --keys, lists every scenario key with its type,\n"
               "default and meaning.\n");
}

/* Options shared by run and validate. */
struct main_opts {
    const char *scenario;
    const char **sets; /* owned array of borrowed strings */
    size_t n_sets;
    char seed_set[64];
    char db_set[SCENARIO_PATH_BYTES + 16];
    uint64_t threads;
    bool quiet;
};

static int
main_add_set(struct main_opts *mo, const char *set)
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
main_parse_opts(int argc, char **argv, bool is_run, struct main_opts *mo)
{
    enum { OPT_DB = 256, OPT_SEED, OPT_SET, OPT_THREADS };
    static const struct option run_opts[] = {
        { "db", required_argument, NULL, OPT_DB },
        { "seed", required_argument, NULL, OPT_SEED },
        { "set", required_argument, NULL, OPT_SET },
        { "threads", required_argument, NULL, OPT_THREADS },
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
            if (main_parse_u64(optarg, UINT64_C(9200000000000000000), &seed) < 0) {
                fprintf(stderr, "fedbits %s: --seed '%s' is not a non-negative integer\n", cmd,
                        optarg);
                return -1;
            }
            snprintf(mo->seed_set, sizeof mo->seed_set, "seed=%llu", (unsigned long long)seed);
            have_seed = true;
            break;
        }
        case OPT_SET:
            if (main_add_set(mo, optarg) < 0) {
                fprintf(stderr, "fedbits %s: out of memory\n", cmd);
                return -1;
            }
            break;
        case OPT_THREADS:
            if (main_parse_u64(optarg, 1024, &mo->threads) < 0 || mo->threads == 0) {
                fprintf(stderr, "fedbits %s: --threads '%s' must be an integer from 1 to 1024\n",
                        cmd, optarg);
                return -1;
            }
            break;
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
    if ((have_seed && main_add_set(mo, mo->seed_set) < 0) ||
        (have_db && main_add_set(mo, mo->db_set) < 0)) {
        fprintf(stderr, "fedbits %s: out of memory\n", cmd);
        return -1;
    }
    return 0;
}

static int
main_load(const struct main_opts *mo, struct scenario *s, struct errbuf *eb)
{
    if (mo->scenario == NULL)
        return scenario_load(s, "(embedded default scenario)", default_scenario_yaml,
                             default_scenario_yaml_len, mo->sets, mo->n_sets, eb);
    return scenario_load_file(s, mo->scenario, mo->sets, mo->n_sets, eb);
}

/* Progress */

struct main_progress {
    bool tty;
    int64_t started_ns;
};

static void
main_format_bits(char *out, size_t len, uint64_t bits)
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
main_on_round(void *ctx, const struct scenario *s, const struct store_round *r)
{
    struct main_progress *p = ctx;
    if (!p->tty)
        return;
    char up[32], down[32], acc[32];
    main_format_bits(up, sizeof up, r->uplink_bits);
    main_format_bits(down, sizeof down, r->downlink_bits);
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
main_print_summary(const struct scenario *s, int64_t run_id, const char *status,
                   const struct run_summary *sum, double wall_s)
{
    char up[32], down[32];
    main_format_bits(up, sizeof up, sum->uplink_bits);
    main_format_bits(down, sizeof down, sum->downlink_bits);
    printf("run %lld '%s' %s -> %s\n", (long long)run_id, s->name, status, s->output.db);
    printf("  %-18s %llu of %llu\n", "rounds", (unsigned long long)sum->rounds,
           (unsigned long long)s->train.rounds);
    printf("  %-18s %.4f\n", "final accuracy", sum->final_accuracy);
    printf("  %-18s %.4f\n", "final loss", sum->final_loss);
    printf("  %-18s %llu (%s)\n", "uplink bits", (unsigned long long)sum->uplink_bits, up);
    printf("  %-18s %llu (%s)\n", "downlink bits", (unsigned long long)sum->downlink_bits, down);
    printf("  %-18s %.3f s\n", "simulated time", simtime_to_s(sum->sim_time_us));
    printf("  %-18s %.2f s (%u threads)\n", "wall time", wall_s, sum->threads);
    printf("  %-18s %zu\n", "model parameters", sum->model_dim);
    printf("  %-18s %s\n", "event fingerprint", sum->fingerprint);
}

static int
main_cmd_run(int argc, char **argv)
{
    struct main_opts mo = { 0 };
    struct scenario s = { 0 };
    struct store *st = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    int status = EXIT_USAGE;
    int prc = main_parse_opts(argc, argv, true, &mo);
    if (prc != 0) {
        if (prc > 0) {
            main_run_usage(stdout);
            status = EXIT_SUCCESS;
        }
        goto out;
    }
    if (main_load(&mo, &s, &eb) < 0) {
        main_print_error("run", &eb);
        goto out;
    }
    char *json = scenario_to_json(&s);
    if (json == NULL) {
        fprintf(stderr, "fedbits run: out of memory\n");
        status = EXIT_FAILURE;
        goto out;
    }
    if (store_open(&st, s.output.db, &eb) < 0) {
        mem_free(json);
        main_print_error("run", &eb);
        status = EXIT_FAILURE;
        goto out;
    }
    char started[32];
    wallclock_utc_iso8601(started, sizeof started);
    struct store_run_info info = {
        .name = s.name,
        .scenario_text = s.source_text,
        .config_json = json,
        .seed = s.seed,
        .version = FEDBITS_VERSION,
        .started_at = started,
    };
    int64_t run_id = 0;
    int rc = store_begin_run(st, &info, &run_id, &eb);
    mem_free(json);
    if (rc < 0) {
        main_print_error("run", &eb);
        status = EXIT_FAILURE;
        goto out;
    }

    struct sigaction sa = { .sa_handler = main_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct main_progress prog = { .tty = !mo.quiet && isatty(STDERR_FILENO),
                                  .started_ns = wallclock_ns() };
    struct run_options ro = {
        .threads = (unsigned)mo.threads,
        .stop = &main_signal_stop,
        .on_round = main_on_round,
        .ctx = &prog,
    };
    struct run_summary sum;
    rc = run_execute(&s, st, run_id, &ro, &sum, &eb);
    double wall = (double)(wallclock_ns() - prog.started_ns) / 1e9;
    if (prog.tty && sum.rounds < s.train.rounds)
        fputc('\n', stderr);
    const char *final = rc == 0 ? "finished" : rc == -ERR_INTERRUPTED ? "interrupted" : "failed";
    char err_text[ERRBUF_MSG_BYTES + ERRBUF_PATH_BYTES + 64] = "";
    if (rc < 0)
        errbuf_format(&eb, err_text, sizeof err_text);
    char finished[32];
    wallclock_utc_iso8601(finished, sizeof finished);
    struct errbuf eb2;
    errbuf_clear(&eb2);
    int frc = store_finish_run(st, run_id, final, finished, wall, rc == 0 ? sum.fingerprint : NULL,
                               rc < 0 ? err_text : NULL, &eb2);
    if (rc < 0)
        main_print_error("run", &eb);
    if (frc < 0)
        main_print_error("run", &eb2);
    main_print_summary(&s, run_id, final, &sum, wall);
    status = rc == 0 && frc == 0      ? EXIT_SUCCESS
             : rc == -ERR_INTERRUPTED ? EXIT_INTERRUPTED
                                      : EXIT_FAILURE;
out:
    store_close(st);
    scenario_release(&s);
    mem_free(mo.sets);
    return status;
}

static int
main_cmd_validate(int argc, char **argv)
{
    struct main_opts mo = { 0 };
    struct errbuf eb;
    errbuf_clear(&eb);
    int prc = main_parse_opts(argc, argv, false, &mo);
    if (prc != 0) {
        if (prc > 0)
            main_validate_usage(stdout);
        mem_free(mo.sets);
        return prc > 0 ? EXIT_SUCCESS : EXIT_USAGE;
    }
    if (mo.scenario == NULL) {
        fprintf(stderr, "fedbits validate: which scenario? (fedbits validate SCENARIO.yaml)\n");
        mem_free(mo.sets);
        return EXIT_USAGE;
    }
    struct scenario s;
    int rc = main_load(&mo, &s, &eb);
    mem_free(mo.sets);
    if (rc < 0) {
        main_print_error("validate", &eb);
        return EXIT_USAGE;
    }
    struct model_spec spec;
    scenario_model_spec(&s, &spec);
    printf("%s: ok ('%s': %llu rounds, %llu of %llu clients per round, %zu model parameters, "
           "uplink %s, downlink %s)\n",
           mo.scenario, s.name, (unsigned long long)s.train.rounds,
           (unsigned long long)s.train.clients_per_round, (unsigned long long)s.data.clients,
           model_param_count(&spec), codec_kind_name(s.uplink.codec.kind),
           codec_kind_name(s.downlink.codec.kind));
    scenario_release(&s);
    return EXIT_SUCCESS;
}

static void
main_list_choices(const char *title, const char *path)
{
    printf("%s (%s):\n", title, path);
    size_t n = scenario_choice_count(path);
    for (size_t i = 0; i < n; i++) {
        const char *name = scenario_choice_name(path, (int)i);
        if (strcmp(path, "uplink.codec") == 0)
            printf("  %-16s %s\n", name, codec_kind_summary((enum codec_kind)i));
        else
            printf("  %s\n", name);
    }
}

static int
main_cmd_list(int argc, char **argv)
{
    bool keys = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            main_list_usage(stdout);
            return EXIT_SUCCESS;
        }
        if (strcmp(argv[i], "--keys") == 0) {
            keys = true;
            continue;
        }
        fprintf(stderr, "fedbits list: unexpected argument '%s'\n", argv[i]);
        return EXIT_USAGE;
    }
    if (keys) {
        for (size_t i = 0; i < scenario_schema_count(); i++) {
            const char *path, *type, *def, *help;
            scenario_schema_key(i, &path, &type, &def, &help);
            printf("%s\t%s\t%s\t%s\n", path, type, def != NULL ? def : "(required)", help);
        }
        return EXIT_SUCCESS;
    }
    main_list_choices("datasets", "data.dataset");
    main_list_choices("partitions", "data.partition.type");
    main_list_choices("models", "model.type");
    main_list_choices("codecs", "uplink.codec");
    main_list_choices("secure aggregators", "aggregation.secure");
    main_list_choices("server optimizers", "server.optimizer");
    main_list_choices("dropout phases", "population.dropout.phase");
    return EXIT_SUCCESS;
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "fedbits: libsodium failed to initialise\n");
        return EXIT_FAILURE;
    }
    gsl_set_error_handler_off();
    if (argc < 2) {
        main_usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        main_usage(stdout);
        return EXIT_SUCCESS;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("fedbits %s\n", FEDBITS_VERSION);
        return EXIT_SUCCESS;
    }
    if (strcmp(cmd, "run") == 0)
        return main_cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0)
        return main_cmd_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0)
        return main_cmd_list(argc - 1, argv + 1);
    if (strcmp(cmd, "dme") == 0)
        return cmd_dme(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) {
        if (argc >= 3 && strcmp(argv[2], "codecs") == 0)
            return cmd_bench_codecs(argc - 2, argv + 2);
        fprintf(stderr, "usage: fedbits bench codecs [--dim D] [--format table|csv]\n");
        return argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)
                   ? EXIT_SUCCESS
                   : EXIT_USAGE;
    }
    fprintf(stderr, "fedbits: unknown command '%s'\n", cmd);
    main_usage(stderr);
    return EXIT_USAGE;
}
