/* plot: `fedbits plot`, through the embedded tools/plot.py. See plot.h. */
#include "cmd/plot.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/mem.h"
#include "cmd/args.h"
#include "base/banned.h"

/* What the child exits with when no interpreter could be started (the shell's convention). */
#define PLOT_EXIT_NOEXEC 127

/* The embedded tools/plot.py (tools/embed, see cmd/meson.build). */
extern const char plot_script_py[];
extern const size_t plot_script_py_len;

static void
plot_usage(FILE *f)
{
    fprintf(f, "usage: fedbits plot RESULTS.db -o FILE.png|FILE.svg [--x AXIS] [--y METRIC]\n"
               "                    [--run ID]... [--sweep ID] [--title TITLE]\n"
               "\n"
               "Draws one curve per run (the latest sweep, all runs, a sweep, or the given runs),\n"
               "labelled by what differs between them (the sweep label, else the differing\n"
               "scenario keys), and writes a PNG or an SVG image chosen by the file extension.\n"
               "\n"
               "options:\n"
               "  -o, --output FILE  the image to write (.png or .svg)\n"
               "  --x AXIS           round (default), sim_time_s, uplink_bits, total_bits or\n"
               "                     epsilon (central DP runs)\n"
               "                     (bits are cumulative; total = uplink + downlink)\n"
               "  --y COLUMN         accuracy (default), loss, train_loss, nmse or any other\n"
               "                     numeric column of the rounds table (client_acc_mean,\n"
               "                     client_acc_p10, uplink_payload_bits, ...; docs/results.md)\n"
               "  --run ID           plot run ID (repeatable)\n"
               "  --sweep ID|all     plot the runs of sweep ID, or every run (default: the\n"
               "                     sweep of the latest run)\n"
               "  --title TITLE      the plot title (default: the database and the runs' names)\n"
               "  -h, --help         show this help\n"
               "\n"
               "Needs python3 with matplotlib (Debian: apt-get install python3-matplotlib); the\n"
               "interpreter is /usr/bin/python3, else python3 on PATH, or $FEDBITS_PYTHON.\n"
               "Exit status: 0 written, 1 plotting failed, 2 bad options or input.\n");
}

static bool
plot_one_of(const char *s, const char *const *choices, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, choices[i]) == 0)
            return true;
    return false;
}

/* True when s, the value of option flag, is a run or sweep id (else prints why). */
static bool
plot_is_id(const char *cmd, const char *flag, const char *s)
{
    uint64_t id;
    return args_uint(cmd, flag, s, 1, INT64_MAX, &id) == 0;
}

static bool
plot_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcasecmp(s + n - k, suffix) == 0;
}

/* Writes the embedded script to a new private temporary file; its path goes to path. */
static int
plot_write_script(char *path, size_t len)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    int n = snprintf(path, len, "%s/fedbits-plot-XXXXXX", dir);
    if (n < 0 || (size_t)n >= len) {
        fprintf(stderr, "fedbits plot: temporary directory path too long: '%s'\n", dir);
        return -1;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "fedbits plot: cannot create a temporary file in '%s': %s\n", dir,
                strerror(errno));
        return -1;
    }
    size_t at = 0;
    while (at < plot_script_py_len) {
        ssize_t w = write(fd, plot_script_py + at, plot_script_py_len - at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "fedbits plot: cannot write '%s': %s\n", path, strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        at += (size_t)w;
    }
    if (close(fd) != 0) {
        fprintf(stderr, "fedbits plot: cannot write '%s': %s\n", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

/* Runs argv (argv[0] replaced by the interpreter) and returns the child's exit status. */
static int
plot_spawn(char **argv)
{
    fflush(stdout);
    fflush(stderr);
    /*
     * Ctrl-C reaches the whole foreground process group: the interpreter stops, and this
     * process, ignoring SIGINT meanwhile, lives on to remove the temporary script.
     */
    struct sigaction ignore = { .sa_handler = SIG_IGN }, old;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGINT, &ignore, &old);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fedbits plot: cannot start python3: %s\n", strerror(errno));
        sigaction(SIGINT, &old, NULL);
        return ARGS_EXIT_FAILURE;
    }
    if (pid == 0) {
        sigaction(SIGINT, &old, NULL);
        const char *python = getenv("FEDBITS_PYTHON");
        if (python != NULL && python[0] != '\0') {
            argv[0] = (char *)python;
            execvp(python, argv);
        } else if (access("/usr/bin/python3", X_OK) == 0) {
            argv[0] = (char *)"/usr/bin/python3";
            execv(argv[0], argv);
        } else {
            argv[0] = (char *)"python3";
            execvp(argv[0], argv);
        }
        fprintf(stderr,
                "fedbits plot: cannot run %s: %s (install python3 and python3-matplotlib)\n",
                argv[0], strerror(errno));
        _exit(PLOT_EXIT_NOEXEC);
    }
    int ws = 0;
    pid_t waited = waitpid(pid, &ws, 0);
    while (waited < 0 && errno == EINTR)
        waited = waitpid(pid, &ws, 0);
    sigaction(SIGINT, &old, NULL);
    if (waited < 0) {
        fprintf(stderr, "fedbits plot: waiting for python3: %s\n", strerror(errno));
        return ARGS_EXIT_FAILURE;
    }
    if (WIFSIGNALED(ws)) {
        fprintf(stderr, "fedbits plot: python3 was killed by signal %d\n", WTERMSIG(ws));
        return ARGS_EXIT_FAILURE;
    }
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : ARGS_EXIT_FAILURE;
    /* The script exits 0, 1 or 2 with the meanings of ours; anything else is a failure. */
    return code == EXIT_SUCCESS || code == ARGS_EXIT_USAGE ? code : ARGS_EXIT_FAILURE;
}

/* The options of fedbits plot and the axes it draws. */
enum { PLOT_OPT_X = 256, PLOT_OPT_Y, PLOT_OPT_RUN, PLOT_OPT_SWEEP, PLOT_OPT_TITLE };
static const struct option plot_options[] = {
    { "output", required_argument, NULL, 'o' },
    { "x", required_argument, NULL, PLOT_OPT_X },
    { "y", required_argument, NULL, PLOT_OPT_Y },
    { "run", required_argument, NULL, PLOT_OPT_RUN },
    { "sweep", required_argument, NULL, PLOT_OPT_SWEEP },
    { "title", required_argument, NULL, PLOT_OPT_TITLE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};
static const char *const plot_xs[] = { "round", "sim_time_s", "uplink_bits", "total_bits",
                                       "epsilon" };

/* A column name the script may look up (it checks the rounds table has it): [a-z0-9_]+. */
static bool
plot_is_column(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}
int
plot_cmd(int argc, char **argv)
{
    const char *cmd = argv[0];
    const char *output = NULL, *x = "round", *y = "accuracy", *sweep = NULL, *title = NULL;
    /* The script's argv: interpreter, script, db, 6 for -o/--x/--y, 2 per option, NULL. */
    char **args = mem_calloc((size_t)argc * 2 + 16, sizeof *args);
    if (args == NULL) {
        fprintf(stderr, "fedbits %s: out of memory\n", cmd);
        return ARGS_EXIT_FAILURE;
    }
    size_t nargs = 9; /* the runs go after the fixed part */
    int status = ARGS_EXIT_USAGE;
    char script[4096] = "";
    struct args a = args_start(cmd, argc, argv);
    for (;;) {
        int c = args_next(&a, "ho:", plot_options);
        if (c == -1)
            break;
        switch (c) {
        case 'h':
            plot_usage(stdout);
            status = EXIT_SUCCESS;
            goto out;
        case 'o':
            output = optarg;
            break;
        case PLOT_OPT_X:
            if (!plot_one_of(optarg, plot_xs, sizeof plot_xs / sizeof plot_xs[0])) {
                fprintf(stderr,
                        "fedbits %s: --x '%s' must be round, sim_time_s, uplink_bits, "
                        "total_bits or epsilon\n",
                        cmd, optarg);
                goto out;
            }
            x = optarg;
            break;
        case PLOT_OPT_Y:
            if (!plot_is_column(optarg)) {
                fprintf(stderr,
                        "fedbits %s: --y '%s' must name a numeric column of the rounds table "
                        "(accuracy, loss, train_loss, nmse, client_acc_mean, ...)\n",
                        cmd, optarg);
                goto out;
            }
            y = optarg;
            break;
        case PLOT_OPT_RUN:
            if (!plot_is_id(cmd, "--run", optarg))
                goto out;
            args[nargs++] = (char *)"--run";
            args[nargs++] = optarg;
            break;
        case PLOT_OPT_SWEEP:
            if (strcmp(optarg, "all") != 0 && !plot_is_id(cmd, "--sweep", optarg))
                goto out;
            sweep = optarg;
            break;
        case PLOT_OPT_TITLE:
            title = optarg;
            break;
        default:
            goto out;
        }
    }
    const char *db = NULL;
    if (args_operand(&a, &db, "which results database? (fedbits plot RESULTS.db -o FILE.png)") != 0)
        goto out;
    if (output == NULL) {
        fprintf(stderr, "fedbits %s: -o FILE.png or -o FILE.svg is required\n", cmd);
        goto out;
    }
    if (!plot_has_suffix(output, ".png") && !plot_has_suffix(output, ".svg")) {
        fprintf(stderr, "fedbits %s: output '%s' must end in .png or .svg\n", cmd, output);
        goto out;
    }
    struct stat sb;
    if (stat(db, &sb) != 0) {
        fprintf(stderr, "fedbits %s: cannot open '%s': %s\n", cmd, db, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        fprintf(stderr, "fedbits %s: '%s' is not a regular file\n", cmd, db);
        goto out;
    }
    if (sweep != NULL) {
        args[nargs++] = (char *)"--sweep";
        args[nargs++] = (char *)sweep;
    }
    if (title != NULL) {
        args[nargs++] = (char *)"--title";
        args[nargs++] = (char *)title;
    }
    args[nargs] = NULL;
    if (plot_write_script(script, sizeof script) < 0) {
        script[0] = '\0';
        status = ARGS_EXIT_FAILURE;
        goto out;
    }
    /* argv[0] is set by the child to the interpreter it runs. */
    args[1] = script;
    args[2] = (char *)db;
    args[3] = (char *)"-o";
    args[4] = (char *)output;
    args[5] = (char *)"--x";
    args[6] = (char *)x;
    args[7] = (char *)"--y";
    args[8] = (char *)y;
    status = plot_spawn(args);
out:
    if (script[0] != '\0')
        unlink(script);
    mem_free(args);
    return status;
}
