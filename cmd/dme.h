/*
 * dme: `fedbits dme`, a distributed mean-estimation experiment with the codecs and no
 * training. Takes the command's own argv (argv[0] is the command name), prints its results
 * to stdout and errors to stderr, and returns the process exit status.
 */
#ifndef FEDBITS_CMD_DME_H
#define FEDBITS_CMD_DME_H

int dme_cmd(int argc, char **argv);

#endif
