/*
 * plot: `fedbits plot`, curves of a results database drawn with matplotlib.
 *
 * plot_cmd() checks its arguments (the database exists, the output ends in .png or .svg, the
 * axes are known), then runs the plotting script tools/plot.py, which is embedded in the
 * binary at build time (tools/embed, like the default scenario) so the binary does not need
 * the source tree: the script is written to a private temporary file (mkstemp in $TMPDIR, else
 * /tmp), run with /usr/bin/python3 (else python3 on PATH; $FEDBITS_PYTHON overrides both), and
 * removed. The script reads the database read-only with Python's sqlite3 and draws one curve
 * per run with matplotlib's Agg backend; a missing matplotlib is reported with the Debian
 * package to install (python3-matplotlib). Takes the command's argv (argv[0] is the command
 * name) and returns the exit status: 0 written, 1 the plotting failed (no python3, no
 * matplotlib, an unwritable output), 2 bad options or input (a missing or non-fedbits
 * database, an unknown run or sweep, nothing to plot).
 */
#ifndef FEDBITS_CMD_PLOT_H
#define FEDBITS_CMD_PLOT_H

/* fedbits plot DB -o FILE.png|FILE.svg [--x AXIS] [--y METRIC] [--run ID]... [--sweep ID]
 * [--title T] */
int plot_cmd(int argc, char **argv);

#endif
