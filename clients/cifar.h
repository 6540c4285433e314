/*
 * cifar: the binary versions of CIFAR-10 and CIFAR-100 (Krizhevsky, "Learning Multiple Layers
 * of Features from Tiny Images", 2009), read from a folder the user supplies.
 *
 * Format (fixed-size records, no header):
 *   CIFAR-10  (cifar-10-batches-bin/): data_batch_1.bin .. data_batch_5.bin (training, in that
 *             order) and test_batch.bin; a record is 1 label byte (0..9), then 3,072 pixel
 *             bytes: the 1,024 red, 1,024 green and 1,024 blue values of a 32 x 32 image,
 *             each plane row-major.
 *   CIFAR-100 (cifar-100-binary/): train.bin and test.bin; a record is a coarse label byte
 *             (0..19), a fine label byte (0..99, the label used), then the same 3,072 bytes.
 * A row is the image as 3 x 32 x 32 floats p / 255 (channels, height, width), which is the
 * record's own order. Any number of records per file is accepted (the release has 10,000
 * per CIFAR-10 batch, 50,000 and 10,000 for CIFAR-100) as long as the size is a whole number
 * of records and at most max_bytes.
 *
 * Ownership: the splits are filled with buffers the caller then owns (mem_free). Errors name
 * the file and, for a bad label, the record and its byte offset. No state between calls.
 */
#ifndef FEDBITS_CLIENTS_CIFAR_H
#define FEDBITS_CLIENTS_CIFAR_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errbuf.h"
#include "clients/dataset.h"

#define CIFAR_CHANNELS 3
#define CIFAR_SIDE     32
#define CIFAR_FEATURES (CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE)

/*
 * Loads CIFAR-100 (fine labels) when hundred, else CIFAR-10, from dir. -ERR_NOTFOUND or
 * -ERR_IO naming a file that cannot be opened or read; -ERR_CORRUPT for a size that is not a
 * whole number of records, an empty file or a label out of range (with the byte offset);
 * -ERR_RANGE above max_bytes per file; -ERR_NOMEM.
 */
int cifar_load(struct dataset_split *train, struct dataset_split *test, const char *dir,
               bool hundred, size_t max_bytes, struct errbuf *eb)
    __attribute__((warn_unused_result));

#endif
