/*
 * bench_secagg: `fedbits bench secagg`, the speed and byte counts of the secure-aggregation
 * engine (clients/secagg_client.h, aggregator/secagg_server.h). Takes the command's own argv
 * (argv[0] is the command name), prints to stdout, errors to stderr, and returns the process
 * exit status.
 */
#ifndef FEDBITS_CMD_BENCH_SECAGG_H
#define FEDBITS_CMD_BENCH_SECAGG_H

int bench_secagg_cmd(int argc, char **argv);

#endif
