/*
 * sweep: expands a scenario's `sweep:` section into the list of runs it asks for.
 *
 *   sweep:
 *     grid: {uplink.codec: [none, eden], seed: [1, 2, 3]}   # every combination
 *     zip:  {uplink.bits: [1, 2, 4], train.lr: [0.1, 0.05, 0.02]}  # walked in step
 *
 * A `sweep:` mapping without `grid`/`zip` is a grid. Every key must be a scenario key and
 * every value list non-empty; zip lists must have equal lengths. An unquoted `~` (or `null`)
 * in a list means "not set in this combination": the combination applies no override for
 * that key (its set reads "key=~" for the label, and unset[] marks it). The combinations are the
 * grid's cartesian product (first key slowest) times the zip's positions, each given as
 * `key=value` overrides (the value is the YAML text of the list item) that the scenario
 * loader applies like `--set`, so a combination's errors read like an override's.
 *
 * struct sweep owns its combinations; sweep_release() frees them (the struct itself is the
 * caller's). Nothing here runs or prints: the `fedbits run` command turns each combination
 * into a run.
 */
#ifndef FEDBITS_SIM_SWEEP_H
#define FEDBITS_SIM_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errbuf.h"

/* Guard against accidental explosions (a grid of 10 keys x 10 values). */
#define SWEEP_MAX_COMBINATIONS 100000

struct sweep {
    size_t n;         /* combinations; 0 when the scenario has no sweep */
    size_t n_keys;    /* overrides per combination */
    char ***sets;     /* sets[i][0..n_keys): "key=value" strings of combination i */
    long *lines;      /* lines[i * n_keys + k]: where the value of sets[i][k] is in the file */
    long *columns;    /* its column */
    bool *unset;      /* unset[i * n_keys + k]: sets[i][k] is `~`, not to be applied */
    char *label_keys; /* "uplink.codec,seed": the swept keys, comma-separated */
};

/*
 * Reads the sweep section of text[0..len) (named `name` in errors) into *out. A scenario
 * without `sweep:` gives n = 0. Errors carry the file, line and column of the culprit.
 */
int sweep_parse(struct sweep *out, const char *name, const char *text, size_t len,
                struct errbuf *eb) __attribute__((warn_unused_result));
void sweep_release(struct sweep *sw);

#endif
