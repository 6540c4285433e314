/*
 * main: the fedbits command. The command table main_commands[] below is the list of every
 * command: it gives the usage text and the dispatch. Each command takes its own argv
 * (argv[0] is the command name) and returns the process exit status (cmd/args.h).
 *
 * Exit status: 0 success; 1 the run failed; 2 bad usage or input (scenario, flags);
 * 130 interrupted by SIGINT/SIGTERM (the run is marked 'interrupted', rounds kept).
 */
#include <gsl/gsl_errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/errbuf.h"
#include "clients/dense_backend.h"
#include "cmd/args.h"
#include "cmd/bench_codecs.h"
#include "cmd/bench_secagg.h"
#include "cmd/dme.h"
#include "cmd/plot.h"
#include "cmd/privacy.h"
#include "cmd/report.h"
#include "cmd/run.h"
#include "fedbits_config.h"
#include "sim/cluster.h"
#include "sim/scenario.h"
#include "base/banned.h"

static void
main_list_usage(FILE *f)
{
    fprintf(f, "usage: fedbits list [--keys | --codecs]\n"
               "\n"
               "Names the datasets, models, codecs (with their default bits), secure\n"
               "aggregators and server optimizers this build provides. With --keys, lists\n"
               "every scenario key with its type, default, when it applies and meaning\n"
               "(tab-separated); with --codecs, every codec with its default bits, whether it\n"
               "rotates, whether it is unbiased, the codec-specific keys it reads (besides\n"
               "bits and rotation) and its summary (tab-separated). tools/update-docs writes\n"
               "these tables into docs/.\n");
}

static void
main_list_choices(const char *title, const char *path)
{
    printf("%s (%s):\n", title, path);
    size_t n = scenario_choice_count(path);
    for (size_t i = 0; i < n; i++) {
        const char *name = scenario_choice_name(path, (int)i);
        bool codec = strcmp(path, "uplink.codec") == 0 || strcmp(path, "downlink.codec") == 0;
        if (codec && i < CODEC_KIND_COUNT)
            printf("  %-16s b = %-3g %s\n", name, codec_kind_default_bits((enum codec_kind)i),
                   codec_kind_summary((enum codec_kind)i));
        else if (codec && i == SCENARIO_DOCOFL)
            printf("  %-16s %-7s %s\n", name, "",
                   "DoCoFL: anchors fetched off the critical path + compressed corrections "
                   "(docs/scenarios.md)");
        else if (strcmp(path, "server.optimizer") == 0)
            printf("  %-16s %s\n", name, server_opt_kind_summary((enum server_opt_kind)i));
        else
            printf("  %s\n", name);
    }
}

/* One line per codec of the codec table (codec/codec.h), tab-separated. */
static void
main_list_codecs(void)
{
    static const struct {
        unsigned flag;
        const char *keys;
    } reads[] = {
        { CODEC_USES_ROTATION, "blocks, packet_loss" },
        { CODEC_USES_SCALE, "scale" },
        { CODEC_USES_P, "p, shared_bits" },
        { CODEC_USES_DRIVE_PLUS, "drive_plus" },
        { CODEC_USES_EXACT_CODEBOOK, "exact_codebook" },
        { CODEC_USES_THC, "thc_g, thc_uniform" },
    };
    for (unsigned k = 0; k < CODEC_KIND_COUNT; k++) {
        enum codec_kind kind = (enum codec_kind)k;
        unsigned uses = codec_kind_uses(kind);
        printf("%s\t%g\t%s\t%s\t", codec_kind_name(kind), codec_kind_default_bits(kind),
               uses & CODEC_USES_ROTATION ? "yes" : "no", codec_kind_unbiased(kind) ? "yes" : "no");
        const char *sep = "";
        for (size_t j = 0; j < sizeof reads / sizeof reads[0]; j++)
            if (uses & reads[j].flag) {
                printf("%s%s", sep, reads[j].keys);
                sep = ", ";
            }
        printf("%s\t%s\n", *sep == '\0' ? "-" : "", codec_kind_summary(kind));
    }
}

static int
main_list(int argc, char **argv)
{
    static const struct option opts[] = {
        { "keys", no_argument, NULL, 'k' },
        { "codecs", no_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool keys = false, codecs = false;
    struct args a = args_start("list", argc, argv);
    for (int c; (c = args_next(&a, "h", opts)) != -1;) {
        if (c == 'h') {
            main_list_usage(stdout);
            return EXIT_SUCCESS;
        }
        if (c != 'k' && c != 'c')
            return ARGS_EXIT_USAGE;
        keys |= c == 'k';
        codecs |= c == 'c';
    }
    if (args_operand(&a, NULL, NULL) != 0)
        return ARGS_EXIT_USAGE;
    if (keys && codecs)
        return args_error("list", "--keys and --codecs are separate tables: give one");
    if (codecs) {
        main_list_codecs();
        return EXIT_SUCCESS;
    }
    if (keys) {
        for (size_t i = 0; i < scenario_schema_count(); i++) {
            const char *path, *type, *def, *help;
            char when[512];
            scenario_schema_key(i, &path, &type, &def, &help);
            scenario_schema_when(i, when, sizeof when);
            printf("%s\t%s\t%s\t%s\t%s\n", path, type, def != NULL ? def : "(required)", when,
                   help);
        }
        return EXIT_SUCCESS;
    }
    main_list_choices("datasets", "data.dataset");
    main_list_choices("partitions", "data.partition.type");
    main_list_choices("models", "model.type");
    main_list_choices("uplink codecs", "uplink.codec");
    main_list_choices("downlink codecs", "downlink.codec");
    main_list_choices("secure aggregators", "aggregation.secure");
    main_list_choices("server optimizers", "server.optimizer");
    main_list_choices("dropout phases", "population.dropout.phase");
    return EXIT_SUCCESS;
}

/*
 * fedbits run, alone or as one rank of `mpirun -np N fedbits run ...` (sim/cluster.h). The
 * ranks end together; one that failed alone ends the others (they may be waiting for it).
 */
static int
main_run(int argc, char **argv)
{
    struct cluster *cl = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    if (cluster_init(&cl, &argc, &argv, &eb) < 0) {
        char line[ERRBUF_MSG_BYTES + 64];
        errbuf_format(&eb, line, sizeof line);
        fprintf(stderr, "fedbits run: %s\n", line);
        return cluster_abort(cl, EXIT_FAILURE);
    }
    int status = run_cmd(argc, argv, cl);
    fflush(stdout);
    fflush(stderr);
    return cluster_end(cl, status);
}

/* fedbits resume: checkpoints are a single process's state (docs/mpi.md). */
static int
main_resume(int argc, char **argv)
{
    struct cluster *cl = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    int status = EXIT_FAILURE;
    if (cluster_init(&cl, &argc, &argv, &eb) < 0) {
        char line[ERRBUF_MSG_BYTES + 64];
        errbuf_format(&eb, line, sizeof line);
        fprintf(stderr, "fedbits resume: %s\n", line);
    } else if (cluster_size(cl) > 1) {
        if (cluster_rank(cl) == 0)
            fprintf(stderr, "fedbits resume: a checkpoint continues in a single process; run "
                            "fedbits resume without mpirun\n");
        status = ARGS_EXIT_USAGE;
    } else {
        status = run_cmd_resume(argc, argv);
    }
    return cluster_end(cl, status);
}

/* One command: `fedbits NAME ARGS`; a two-word name ("bench codecs") is a subcommand. */
struct main_command {
    const char *name;
    const char *args; /* shown after the name in the usage text */
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct main_command main_commands[] = {
    { "run", "[SCENARIO]", main_run, "run a scenario (the embedded default when none is given)" },
    { "validate", "SCENARIO", run_cmd_validate, "check a scenario file without running it" },
    { "resume", "DB --run N", main_resume, "continue an interrupted run from its last checkpoint" },
    { "list", "", main_list, "name the datasets, models, codecs and aggregators" },
    { "dme", "", dme_cmd, "distributed mean estimation with the codecs (no training)" },
    { "privacy", "", privacy_cmd, "epsilon of DP-FedAvg's sampled Gaussian, or its noise for one" },
    { "bench codecs", "", bench_codecs_cmd, "encode/decode speed of every codec" },
    { "bench secagg", "", bench_secagg_cmd, "SecAgg/SecAgg+ seconds and bytes per round" },
    { "report", "DB", report_cmd, "one row per run: accuracy, bits, time to a target accuracy" },
    { "export", "DB", report_cmd_export, "the rounds of one run as CSV or JSON" },
    { "check", "DB", report_cmd_check, "compare with a baseline database; exit 1 on a regression" },
    { "plot", "DB -o FILE", plot_cmd,
      "draw accuracy (or loss, NMSE) against rounds, time or bits" },
};
#define MAIN_N_COMMANDS (sizeof main_commands / sizeof main_commands[0])

static void
main_usage(FILE *f)
{
    fprintf(f, "usage: fedbits COMMAND [OPTIONS]\n"
               "\n"
               "Federated-learning simulation with exact bits on the wire.\n"
               "\n"
               "commands:\n");
    for (size_t i = 0; i < MAIN_N_COMMANDS; i++) {
        char synopsis[64];
        const struct main_command *c = &main_commands[i];
        snprintf(synopsis, sizeof synopsis, "%s%s%s", c->name, c->args[0] != '\0' ? " " : "",
                 c->args);
        fprintf(f, "  %-17s %s\n", synopsis, c->summary);
    }
    fprintf(f, "\n"
               "options:\n"
               "  -h, --help        show this help (fedbits COMMAND --help for a command's)\n"
               "  -V, --version     print the version\n");
}

/* The length of the first word of a command name ("bench" of "bench codecs"). */
static size_t
main_word_len(const char *name)
{
    const char *space = strchr(name, ' ');
    return space != NULL ? (size_t)(space - name) : strlen(name);
}

/*
 * The command argv names, or NULL. *words is set to how many words of argv it took (1, or 2
 * for a subcommand); *group to whether argv[1] named a group of subcommands at all.
 */
static const struct main_command *
main_find(int argc, char **argv, int *words, bool *group)
{
    *group = false;
    for (size_t i = 0; i < MAIN_N_COMMANDS; i++) {
        const struct main_command *c = &main_commands[i];
        size_t w = main_word_len(c->name);
        if (strlen(argv[1]) != w || strncmp(c->name, argv[1], w) != 0)
            continue;
        if (c->name[w] == '\0') {
            *words = 1;
            return c;
        }
        *group = true;
        if (argc >= 3 && strcmp(c->name + w + 1, argv[2]) == 0) {
            *words = 2;
            return c;
        }
    }
    return NULL;
}

/* `fedbits GROUP` without a known subcommand: the group's commands. */
static int
main_group_usage(const char *group, bool help)
{
    FILE *f = help ? stdout : stderr;
    const char *lead = "usage:";
    for (size_t i = 0; i < MAIN_N_COMMANDS; i++) {
        const struct main_command *c = &main_commands[i];
        size_t w = main_word_len(c->name);
        if (c->name[w] != ' ' || strlen(group) != w || strncmp(c->name, group, w) != 0)
            continue;
        fprintf(f, "%-6s fedbits %s [OPTIONS]   %s\n", lead, c->name, c->summary);
        lead = "";
    }
    fprintf(f, "(fedbits %s SUBCOMMAND --help for its options)\n", group);
    return help ? EXIT_SUCCESS : ARGS_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "fedbits: libsodium failed to initialise\n");
        return EXIT_FAILURE;
    }
    gsl_set_error_handler_off();
    /*
     * Clients train one per thread, so BLAS stays on its caller. OpenBLAS starts its own
     * threads when it loads, which only its environment variable prevents (a memory limit
     * would otherwise hang them, clients/dense_backend.h): restart once with it set.
     */
    if (!dense_backend_env_ready() && setenv(DENSE_BACKEND_THREADS_ENV, "1", 1) == 0)
        execv("/proc/self/exe", argv); /* returns only on failure: carry on as we are */
    dense_backend_init();
    if (argc < 2) {
        main_usage(stderr);
        return ARGS_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        main_usage(stdout);
        return EXIT_SUCCESS;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("fedbits %s (OpenMP: %s, MPI: %s)\n", FEDBITS_VERSION,
               FEDBITS_HAVE_OPENMP ? "yes" : "no", cluster_has_mpi() ? "yes" : "no");
        return EXIT_SUCCESS;
    }
    int words = 0;
    bool group = false;
    const struct main_command *c = main_find(argc, argv, &words, &group);
    if (c != NULL)
        return c->fn(argc - words, argv + words);
    if (group)
        return main_group_usage(
            cmd, argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0));
    fprintf(stderr, "fedbits: unknown command '%s'\n", cmd);
    main_usage(stderr);
    return ARGS_EXIT_USAGE;
}
