/*
 * csv: bounded reader for labelled samples in a comma-separated text file.
 *
 * Layout (the one fedbits documents for a user's own data):
 *   - one sample per line: the label first, then the features, separated by commas;
 *   - the label is a decimal integer in [0, 65535]; features are finite decimal numbers
 *     (anything strtod accepts in the C locale except inf and nan); spaces and tabs around
 *     a field are allowed;
 *   - every sample has the same number of features (at least one);
 *   - an optional header line: the first line is taken as a header, and skipped, when its
 *     first field does not start like a number (a digit, a sign or a dot);
 *   - blank lines are skipped; lines end in LF or CRLF.
 * Example: "label,px0,px1\n3,0.5,0.25\n0,1,0\n".
 *
 * csv_read() reads the whole file into memory (at most max_bytes) and fills a
 * struct dataset_split whose x and y the caller then owns (mem_free). Errors name the
 * file, the 1-based line and the 1-based column (byte) of the offending field, in the
 * message and in eb's location fields. No state is kept between calls.
 */
#ifndef FEDBITS_CLIENTS_CSV_H
#define FEDBITS_CLIENTS_CSV_H

#include <stddef.h>

#include "base/errbuf.h"
#include "clients/dataset.h"

/*
 * Reads path into out (rows in file order). *n_features receives the feature count and
 * *max_label the largest label. When n_classes is not 0 every label must be below it. -ERR_NOTFOUND
 * when the file does not exist, -ERR_IO when it cannot be read, -ERR_RANGE when it is larger than
 * max_bytes, -ERR_CORRUPT for a bad field, a wrong field count or a file without samples,
 * -ERR_NOMEM.
 */
int csv_read(struct dataset_split *out, size_t *n_features, unsigned *max_label, const char *path,
             unsigned n_classes, size_t max_bytes, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
