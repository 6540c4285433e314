/*
 * bench_codecs: `fedbits bench codecs`, the encode/decode speed of every codec. Takes the
 * command's own argv (argv[0] is the command name), prints its results to stdout and errors
 * to stderr, and returns the process exit status.
 */
#ifndef FEDBITS_CMD_BENCH_CODECS_H
#define FEDBITS_CMD_BENCH_CODECS_H

int bench_codecs_cmd(int argc, char **argv);

#endif
