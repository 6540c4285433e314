/*
 * idx: bounded reader for IDX files (the MNIST / Fashion-MNIST container), plain or gzip.
 *
 * An IDX file is a header followed by a dense array of big-endian numbers:
 *
 *     OFFSET        SIZE   MEANING
 *     0             2      zero bytes (magic)
 *     2             1      element type: 0x08 u8, 0x09 s8, 0x0B s16, 0x0C s32, 0x0D f32, 0x0E f64
 *     3             1      number of dimensions D, 1 <= D <= IDX_MAX_DIMS here
 *     4             4 * D  each dimension as a big-endian uint32, outermost first
 *     4 + 4 * D     N * e  the N = product of dimensions elements of e bytes each, big-endian
 *
 * and nothing after the last element. Files are read through zlib's gzread, which reads
 * gzip-compressed and plain files alike; every offset below is in the uncompressed bytes.
 * idx_read() checks the magic, the type, the dimension count, that the element count and
 * byte size fit in size_t and under a caller-given cap (so a forged header cannot make it
 * allocate gigabytes), that the data is complete, that nothing follows it and that a gzip
 * stream is intact (CRC and length trailer). Errors name the file (eb->file) and the byte
 * offset (eb->offset, also in the message).
 *
 * Ownership: idx_read() fills a caller-owned struct idx_array whose data buffer it owns;
 * release it with idx_array_release(). idx_read_split() reads an images/labels pair
 * straight into a struct dataset_split whose buffers the caller then owns (mem_free). No
 * state is kept between calls; any number of threads may read different files.
 * Format reference: Y. LeCun et al., "THE MNIST DATABASE of handwritten digits" (file
 * formats section), as used by Zalando's Fashion-MNIST.
 */
#ifndef FEDBITS_CLIENTS_IDX_H
#define FEDBITS_CLIENTS_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"
#include "clients/dataset.h"

#define IDX_MAX_DIMS 4

enum idx_type {
    IDX_U8 = 0x08,
    IDX_S8 = 0x09,
    IDX_S16 = 0x0B,
    IDX_S32 = 0x0C,
    IDX_F32 = 0x0D,
    IDX_F64 = 0x0E,
};

struct idx_array {
    enum idx_type type;
    size_t ndims;
    size_t dims[IDX_MAX_DIMS]; /* outermost first; dims beyond ndims are 0 */
    size_t count;              /* product of dims */
    size_t data_offset;        /* byte offset of the first element in the file: 4 + 4 * ndims */
    unsigned char *data;       /* count * idx_type_size(type) bytes, big-endian as in the file */
};

/* Size in bytes of one element of type t, 0 for an unknown type. */
size_t idx_type_size(unsigned t);

/*
 * Reads the IDX file at path into *out (released with idx_array_release()). max_bytes caps
 * the data section. -ERR_NOTFOUND when the file does not exist, -ERR_IO when it cannot be
 * read, -ERR_CORRUPT for a bad header, truncation, trailing bytes or a damaged gzip
 * stream, -ERR_RANGE when the sizes exceed max_bytes, -ERR_NOMEM.
 */
int idx_read(struct idx_array *out, const char *path, size_t max_bytes, struct errbuf *eb)
    __attribute__((warn_unused_result));
void idx_array_release(struct idx_array *a);

/* Element i converted to double (i < a->count). */
double idx_array_get(const struct idx_array *a, size_t i);

/*
 * Reads an images file (D >= 1 dimensions: N samples of the product of the rest as
 * features; u8 pixels are scaled to [0, 1] by / 255, other types are taken as they are)
 * and a labels file (u8, s8, s16 or s32, one dimension of N, each in [0, 65535]) into out,
 * whose x and y the caller then owns (mem_free). *n_features receives the feature count
 * and *max_label the largest label; when n_classes is not 0 every label must be below it.
 * -ERR_CORRUPT when the counts disagree, a label is negative or too large, or a feature is
 * not finite; the errors of idx_read().
 */
int idx_read_split(struct dataset_split *out, size_t *n_features, unsigned *max_label,
                   const char *images_path, const char *labels_path, unsigned n_classes,
                   size_t max_bytes, struct errbuf *eb) __attribute__((warn_unused_result));

#endif
