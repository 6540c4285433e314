/*
 * privacy: `fedbits privacy`, the privacy accountant on its own (sim/privacy_accountant.h,
 * docs/privacy.md): epsilon of the Poisson-subsampled Gaussian after T rounds at delta, or the
 * smallest noise multiplier reaching a target epsilon. Takes the command's own argv (argv[0]
 * is the command name), prints one row per setting to stdout and errors to stderr, and
 * returns the process exit status (cmd/args.h).
 */
#ifndef FEDBITS_CMD_PRIVACY_H
#define FEDBITS_CMD_PRIVACY_H

int privacy_cmd(int argc, char **argv);

#endif
