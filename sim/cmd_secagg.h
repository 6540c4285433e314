/*
 * cmd_secagg: `fedbits bench secagg`, the speed and byte counts of the secure-aggregation
 * engine (clients/secagg_client, aggregator/secagg_server; issue 4 "Must show"). Takes the
 * command's own argv (argv[0] is the command name), prints to stdout, errors to stderr,
 * and returns the process exit status.
 */
#ifndef FEDBITS_SIM_CMD_SECAGG_H
#define FEDBITS_SIM_CMD_SECAGG_H

int cmd_bench_secagg(int argc, char **argv);

#endif
