/*
 * cmd_codec: the codec-only commands of the fedbits binary, `fedbits dme` (a distributed
 * mean-estimation experiment without training) and `fedbits bench codecs` (encode/decode
 * speed). Each takes the command's own argv (argv[0] is the command name), prints its
 * results to stdout and errors to stderr, and returns the process exit status.
 */
#ifndef FEDBITS_SIM_CMD_CODEC_H
#define FEDBITS_SIM_CMD_CODEC_H

int cmd_dme(int argc, char **argv);
int cmd_bench_codecs(int argc, char **argv);

#endif
