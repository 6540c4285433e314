/*
 * main: the fedbits command. The only place that prints errors and chooses exit status.
 *
 *   fedbits run [SCENARIO] [--db PATH] [--seed N] [--set key.path=value]... [--threads N]
 *               [--jobs N] [--dry-run] [--quiet]      (sim/cmd_run.c)
 *   fedbits validate SCENARIO [--set key.path=value]... (sim/cmd_run.c)
 *   fedbits list
 *   fedbits dme ...              (distributed mean estimation, sim/cmd_dme.c)
 *   fedbits bench codecs ...     (codec speed, sim/cmd_bench.c)
 *   fedbits bench secagg ...     (secure aggregation cost, sim/cmd_bench_secagg.c)
 *   fedbits report DB ...        (one row per run, sim/cmd_report.c)
 *   fedbits export DB --run ID   (one run's rows as CSV/JSON, sim/cmd_report.c)
 *   fedbits check DB --baseline BASE.db   (regression check, sim/cmd_report.c)
 *   fedbits plot DB -o FILE ...  (curves via tools/plot.py, sim/cmd_plot.c)
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
#include "clients/dense_backend.h"
#include "fedbits_config.h"
#include "sim/cluster.h"
#include "sim/cmd_codec.h"
#include "sim/cmd_secagg.h"
#include "sim/cmd_plot.h"
#include "sim/cmd_report.h"
#include "sim/cmd_run.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/store.h"
#include "sim/wallclock.h"
#include "base/banned.h"

#define EXIT_USAGE       2
#define EXIT_INTERRUPTED 130

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
               "  resume DB --run N continue an interrupted run from its last checkpoint\n"
               "  list              name the datasets, models, codecs and aggregators\n"
               "  dme               distributed mean estimation with the codecs (no training)\n"
               "  bench codecs      encode/decode speed of every codec\n"
               "  bench secagg      SecAgg/SecAgg+ seconds and bytes per round\n"
               "  report DB         one row per run: accuracy, bits, time to a target accuracy\n"
               "  export DB         the rounds of one run as CSV or JSON\n"
               "  check DB          compare with a baseline database; exit 1 on a regression\n"
               "  plot DB -o FILE   draw accuracy (or loss, NMSE) against rounds, time or bits\n"
               "\n"
               "options:\n"
               "  -h, --help        show this help (fedbits COMMAND --help for a command's)\n"
               "  -V, --version     print the version\n");
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

/*
 * fedbits run, alone or as one rank of `mpirun -np N fedbits run ...` (sim/cluster.h). The
 * ranks end together; one that failed alone ends the others (they may be waiting for it).
 */
static int
main_cmd_run(int argc, char **argv)
{
    struct cluster *cl = NULL;
    struct errbuf eb;
    errbuf_clear(&eb);
    if (cluster_init(&cl, &argc, &argv, &eb) < 0) {
        char line[ERRBUF_MSG_BYTES + 64];
        errbuf_format(&eb, line, sizeof line);
        fprintf(stderr, "fedbits run: %s\n", line);
        cluster_abort(cl, EXIT_FAILURE);
    }
    int status = cmd_run(argc - 1, argv + 1, cl);
    fflush(stdout);
    fflush(stderr);
    return cluster_end(cl, status);
}

/* fedbits resume: checkpoints are a single process's state (docs/mpi.md). */
static int
main_cmd_resume(int argc, char **argv)
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
        status = EXIT_USAGE;
    } else {
        status = cmd_run_resume(argc - 1, argv + 1);
    }
    return cluster_end(cl, status);
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
        return EXIT_USAGE;
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
    if (strcmp(cmd, "run") == 0)
        return main_cmd_run(argc, argv);
    if (strcmp(cmd, "validate") == 0)
        return cmd_run_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "resume") == 0)
        return main_cmd_resume(argc, argv);
    if (strcmp(cmd, "list") == 0)
        return main_cmd_list(argc - 1, argv + 1);
    if (strcmp(cmd, "dme") == 0)
        return cmd_dme(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return cmd_report_export(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cmd_report_check(argc - 1, argv + 1);
    if (strcmp(cmd, "plot") == 0)
        return cmd_plot(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) {
        if (argc >= 3 && strcmp(argv[2], "codecs") == 0)
            return cmd_bench_codecs(argc - 2, argv + 2);
        if (argc >= 3 && strcmp(argv[2], "secagg") == 0)
            return cmd_bench_secagg(argc - 2, argv + 2);
        fprintf(stderr, "usage: fedbits bench codecs [--dim D] [--format table|csv]\n"
                        "       fedbits bench secagg [--clients N]... [--dim D] "
                        "[--mode full|accounting] [--format table|csv]\n");
        return argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)
                   ? EXIT_SUCCESS
                   : EXIT_USAGE;
    }
    fprintf(stderr, "fedbits: unknown command '%s'\n", cmd);
    main_usage(stderr);
    return EXIT_USAGE;
}
