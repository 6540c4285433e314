/*
 * leaf_json: the JSON files of LEAF's FEMNIST and Shakespeare tasks (Caldas et al., "LEAF:
 * A Benchmark for Federated Settings", 2018), read from the user's train/ or test/ folder.
 *
 * Each file is one object {"users": [...], "num_samples": [...], "user_data": {id: {"x":
 * [...], "y": [...]}}, ...}; only user_data is read (other members are skipped), in file
 * order, and files in name order. FEMNIST: x is a list of 784-number lists (28 x 28 pixels
 * in [0, 1]), y an integer 0..61. Shakespeare: x is a list of 80-character strings, y a
 * list of one-character strings; characters become indices into LEAF's 80-symbol
 * vocabulary (LEAF_SHAKESPEARE_LETTERS, the order of LEAF's language utilities), unknown
 * characters the last index. A row of Shakespeare is 80 token indices stored as floats.
 *
 * Bounds: a file is read whole, at most max_bytes; nesting, strings (256 bytes for a user
 * id) and row counts (2^32 - 1) are bounded; every value is checked against its task.
 * Errors name the file and the byte offset. struct leaf_rows owns its buffers
 * (leaf_json_rows_release()); users are numbered in order of first appearance.
 */
#ifndef FEDBITS_CLIENTS_LEAF_JSON_H
#define FEDBITS_CLIENTS_LEAF_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

#define LEAF_FEMNIST_FEATURES  784
#define LEAF_FEMNIST_CLASSES   62
#define LEAF_SHAKESPEARE_SEQ   80
#define LEAF_SHAKESPEARE_VOCAB 80
#define LEAF_USER_BYTES        256
#define LEAF_SHAKESPEARE_LETTERS                                                                   \
    "\n !\"&'(),-.0123456789:;>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz}"

enum leaf_task {
    LEAF_FEMNIST = 0,
    LEAF_SHAKESPEARE = 1,
};

struct leaf_rows {
    float *x;       /* n x features */
    uint16_t *y;    /* n labels */
    uint32_t *user; /* n user indices */
    size_t n, cap_;
    char (*users)[LEAF_USER_BYTES]; /* n_users ids */
    size_t n_users, cap_users_;
};

/* Features of a row of the task (784 or 80). */
size_t leaf_json_features(enum leaf_task task);

/*
 * Appends the rows of every *.json file in dir to rows (zero-initialise it first); users
 * already in rows keep their index. -ERR_NOTFOUND for a missing folder or no .json file;
 * -ERR_IO; -ERR_CORRUPT with the file and byte offset for malformed JSON or a value that does
 * not fit the task; -ERR_RANGE above max_bytes or the bounds; -ERR_NOMEM.
 */
int leaf_json_read_dir(struct leaf_rows *rows, const char *dir, enum leaf_task task,
                       size_t max_bytes, struct errbuf *eb) __attribute__((warn_unused_result));
/* Parses one file's bytes (path only names it in errors). */
int leaf_json_parse(struct leaf_rows *rows, const char *text, size_t len, const char *path,
                    enum leaf_task task, struct errbuf *eb) __attribute__((warn_unused_result));
void leaf_json_rows_release(struct leaf_rows *rows);

#endif
