/*
 * ynode: a YAML document as a small tree of nodes that remember where they came from.
 *
 * The scenario loader validates keys after parsing, and every error must name the file,
 * line and column (FILE:LINE:COL, docs/scenarios.md), so each node keeps libyaml's start
 * mark.
 * ynode_parse() reads one document with libyaml's event parser into an owned tree
 * (free with ynode_free); anchors and aliases, tags and multi-document streams are
 * rejected, since a scenario has no use for them and they make locations ambiguous.
 * Parse errors carry libyaml's `problem` and mark. Mapping keys must be scalars and
 * unique. Scalars keep their text and whether they were quoted (a quoted "1" is a string).
 * Nodes are plain data: the tree may be edited (the --set overrides do) with the helpers
 * below.
 */
#ifndef FEDBITS_SIM_YNODE_H
#define FEDBITS_SIM_YNODE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errbuf.h"

enum ynode_kind {
    YNODE_SCALAR,
    YNODE_MAP,
    YNODE_SEQ,
};

struct ynode {
    enum ynode_kind kind;
    char *text;           /* scalar text (owned), NULL for collections */
    bool quoted;          /* scalar was single- or double-quoted */
    long line, column;    /* 1-based start mark */
    const char *source;   /* where the node came from when not the parsed file (e.g. "--set"),
                             a string that outlives the tree; NULL for the file itself */
    size_t n;             /* entries (map) or items (seq) */
    size_t cap_;          /* allocated entries */
    char **keys;          /* map keys (owned), n of them */
    long *key_lines;      /* 1-based line of each key */
    long *key_columns;    /* 1-based column of each key */
    struct ynode **items; /* map values or seq items (owned), n of them */
};

/*
 * Parses text[0..len) (named `name` in errors) into *root (owned; free with ynode_free).
 * An empty document gives an empty map. -ERR_CORRUPT with location on a syntax error or
 * an unsupported construct, -ERR_NOMEM when memory runs out.
 */
int ynode_parse(const char *name, const char *text, size_t len, struct ynode **root,
                struct errbuf *eb) __attribute__((warn_unused_result));

/* Node helpers */
void ynode_free(struct ynode *n);
/* The value for key in map, or NULL (also when m is not a map). */
struct ynode *ynode_map_get(const struct ynode *m, const char *key);
/* Index of key in map, or -1. */
long ynode_map_index(const struct ynode *m, const char *key);
/* Returns an owned new node of kind (scalar text copied), or NULL if out of memory. */
struct ynode *ynode_new(enum ynode_kind kind, const char *text, long line, long column);
/*
 * Sets map[key] = value, replacing (and freeing) an existing value; takes ownership of value.
 * Returns 0, or -ERR_NOMEM (value is then freed).
 */
int ynode_map_set(struct ynode *m, const char *key, struct ynode *value, long line, long column)
    __attribute__((warn_unused_result));
/* Appends item to a sequence (takes ownership); 0 or -ERR_NOMEM (item freed). */
int ynode_seq_push(struct ynode *s, struct ynode *item) __attribute__((warn_unused_result));

#endif
