/* args: the shared option loop, parsers and messages of the commands. See args.h. */
#include "cmd/args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/banned.h"

struct args
args_start(const char *cmd, int argc, char **argv)
{
    optind = 1;
    opterr = 0;
    return (struct args){ .cmd = cmd, .argc = argc, .argv = argv };
}

int
args_next(struct args *a, const char *shortopts, const struct option *longopts)
{
    int c = getopt_long(a->argc, a->argv, shortopts, longopts, NULL);
    if (c != '?' && c != ':')
        return c;
    if (optopt != 0)
        fprintf(stderr, "fedbits %s: option '-%c' is not valid here or needs a value\n", a->cmd,
                optopt);
    else
        fprintf(stderr, "fedbits %s: unknown option or missing value in '%s'\n", a->cmd,
                a->argv[optind - 1]);
    fprintf(stderr, "try 'fedbits %s --help'\n", a->cmd);
    return '?';
}

int
args_operand(const struct args *a, const char **operand, const char *missing)
{
    int at = optind;
    if (operand != NULL) {
        *operand = at < a->argc ? a->argv[at++] : NULL;
        if (*operand == NULL && missing != NULL)
            return args_error(a->cmd, "%s", missing);
    }
    if (at < a->argc)
        return args_error(a->cmd, "unexpected argument '%s'", a->argv[at]);
    return 0;
}

int
args_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fedbits %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return ARGS_EXIT_USAGE;
}

int
args_uint(const char *cmd, const char *flag, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
    if (end == NULL || errno != 0 || *end != '\0' || v < lo || v > hi) {
        args_error(cmd, "%s '%s' must be an integer from %llu to %llu", flag, s,
                   (unsigned long long)lo, (unsigned long long)hi);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int
args_number(const char *cmd, const char *flag, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v)) {
        args_error(cmd, "%s '%s' is not a number", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}
