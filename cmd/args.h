/*
 * args: the command-line conventions every fedbits command shares.
 *
 * One set of exit statuses (ARGS_EXIT_*), one option loop (args_next(), getopt_long with the
 * errors reported the same way everywhere), one integer parser with a range check
 * (args_uint()), one number parser (args_number()) and one usage-error message,
 * "fedbits COMMAND: MESSAGE" on stderr (args_error()). A command's argv starts with its own
 * name (argv[0] = "run", "bench codecs" is called with argv[0] = "codecs" and names itself
 * through struct args.cmd).
 */
#ifndef FEDBITS_CMD_ARGS_H
#define FEDBITS_CMD_ARGS_H

#include <getopt.h>
#include <stdint.h>

/* Exit statuses of every command. */
enum {
    ARGS_EXIT_OK = 0,
    ARGS_EXIT_FAILURE = 1,       /* the work failed (a run, a write, a regression) */
    ARGS_EXIT_USAGE = 2,         /* bad options or unusable input */
    ARGS_EXIT_INTERRUPTED = 130, /* stopped by SIGINT/SIGTERM (128 + SIGINT) */
};

/* The option loop of one command. */
struct args {
    const char *cmd; /* the name in messages: "run", "bench codecs" */
    int argc;
    char **argv;
};

/* Starts an option loop over argv (argv[0] is the command's name). */
struct args args_start(const char *cmd, int argc, char **argv);
/*
 * The next option (getopt_long: its value in optarg), -1 after the last one (optind is then
 * the first operand), or '?' after an unknown option or a missing value, once
 * args_bad_option() has been printed.
 */
int args_next(struct args *a, const char *shortopts, const struct option *longopts);
/*
 * After the last option: the operands. With operand NULL there may be none; otherwise one at
 * most, into *operand (NULL when absent), and with missing set it must be there ("fedbits
 * CMD: MISSING" when not). Returns 0, or ARGS_EXIT_USAGE once the error is printed (an
 * operand too many is "unexpected argument 'X'").
 */
int args_operand(const struct args *a, const char **operand, const char *missing);
/* Prints "fedbits CMD: MESSAGE" on stderr and returns ARGS_EXIT_USAGE. */
int args_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Parses the decimal integer s, the value of option flag ("--dim"), into *out when it lies
 * in [lo, hi]. Otherwise prints "fedbits CMD: FLAG 'S' must be an integer from LO to HI" and
 * returns -1.
 */
int args_uint(const char *cmd, const char *flag, const char *s, uint64_t lo, uint64_t hi,
              uint64_t *out) __attribute__((warn_unused_result));
/* Parses the finite number s (strtod syntax); otherwise prints "... is not a number", -1. */
int args_number(const char *cmd, const char *flag, const char *s, double *out)
    __attribute__((warn_unused_result));

#endif
