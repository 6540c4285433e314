/* idx: bounded IDX reader over zlib's gzread. See idx.h. */
#include "clients/idx.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <zlib.h>

#include "base/mem.h"
#include "base/banned.h"

/* First allocation for the data section; it doubles as bytes arrive (forged-header guard). */
#define IDX_FIRST_CHUNK ((size_t)1 << 20)
/* Largest request passed to one gzread() call (its length is an unsigned int). */
#define IDX_READ_CHUNK ((size_t)1 << 30)
/* zlib's internal buffer: large reads go faster with a bigger one. */
#define IDX_GZ_BUFFER (1u << 17)

size_t
idx_type_size(unsigned t)
{
    switch (t) {
    case IDX_U8:
    case IDX_S8:
        return 1;
    case IDX_S16:
        return 2;
    case IDX_S32:
    case IDX_F32:
        return 4;
    case IDX_F64:
        return 8;
    default:
        return 0;
    }
}

/* Sets eb's file and offset and returns code; the message is already set. */
static int
idx_fail_at(struct errbuf *eb, int code, const char *path, long offset)
{
    if (eb != NULL) {
        errbuf_set_location(eb, path, 0, 0);
        eb->offset = offset;
    }
    return code;
}

/*
 * Turns a short gzread() result at uncompressed offset `at` into an error: a damaged gzip
 * stream, an I/O error, a truncated gzip stream or a truncated plain file.
 */
static int
idx_short_read(gzFile f, const char *path, size_t at, const char *what, struct errbuf *eb)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(f, &zerr);
    long off = (long)at;
    if (zerr == Z_ERRNO) {
        errbuf_set(eb, -ERR_IO, "cannot read '%s' at byte %zu: %s", path, at, strerror(errno));
        return idx_fail_at(eb, -ERR_IO, path, off);
    }
    if (zerr == Z_BUF_ERROR) {
        errbuf_set(eb, -ERR_CORRUPT, "'%s': gzip stream truncated at byte %zu (reading %s)", path,
                   at, what);
        return idx_fail_at(eb, -ERR_CORRUPT, path, off);
    }
    if (zerr != Z_OK) {
        errbuf_set(eb, -ERR_CORRUPT, "'%s': damaged gzip stream near byte %zu (reading %s): %s",
                   path, at, what, zmsg);
        return idx_fail_at(eb, -ERR_CORRUPT, path, off);
    }
    errbuf_set(eb, -ERR_CORRUPT, "'%s': file truncated at byte %zu (reading %s)", path, at, what);
    return idx_fail_at(eb, -ERR_CORRUPT, path, off);
}

/* Reads exactly n bytes into buf; returns the count read (< n on a short read). */
static size_t
idx_gz_fill(gzFile f, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < IDX_READ_CHUNK ? n - got : IDX_READ_CHUNK;
        int r = gzread(f, buf + got, (unsigned)want);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static uint32_t
idx_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int
idx_read(struct idx_array *out, const char *path, size_t max_bytes, struct errbuf *eb)
{
    memset(out, 0, sizeof *out);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        if (e == ENOENT) {
            errbuf_set(eb, -ERR_NOTFOUND, "IDX file '%s' not found", path);
            return idx_fail_at(eb, -ERR_NOTFOUND, path, -1);
        }
        if (e == 0)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory opening '%s'", path);
        errbuf_set(eb, -ERR_IO, "cannot open IDX file '%s': %s", path, strerror(e));
        return idx_fail_at(eb, -ERR_IO, path, -1);
    }
    gzbuffer(f, IDX_GZ_BUFFER);

    int rc = 0;
    unsigned char head[4 + 4 * IDX_MAX_DIMS];
    size_t got = idx_gz_fill(f, head, 4);
    if (got < 4) {
        rc = idx_short_read(f, path, got, "the header", eb);
        goto out;
    }
    if (head[0] != 0 || head[1] != 0 || idx_type_size(head[2]) == 0) {
        errbuf_set(eb, -ERR_CORRUPT,
                   "'%s': not an IDX file (magic %02x %02x %02x %02x, expected 00 00 "
                   "<type 08/09/0b/0c/0d/0e> <dims>)",
                   path, head[0], head[1], head[2], head[3]);
        rc = idx_fail_at(eb, -ERR_CORRUPT, path, 0);
        goto out;
    }
    if (head[3] < 1 || head[3] > IDX_MAX_DIMS) {
        errbuf_set(eb, -ERR_CORRUPT, "'%s': %u dimensions at byte 3 (supported: 1..%d)", path,
                   head[3], IDX_MAX_DIMS);
        rc = idx_fail_at(eb, -ERR_CORRUPT, path, 3);
        goto out;
    }
    out->type = (enum idx_type)head[2];
    out->ndims = head[3];
    out->data_offset = 4 + 4 * out->ndims;
    got = idx_gz_fill(f, head + 4, 4 * out->ndims);
    if (got < 4 * out->ndims) {
        rc = idx_short_read(f, path, 4 + got, "the dimensions", eb);
        goto out;
    }
    size_t esize = idx_type_size(out->type);
    size_t count = 1;
    for (size_t d = 0; d < out->ndims; d++) {
        out->dims[d] = idx_be32(head + 4 + 4 * d);
        if (out->dims[d] != 0 && count > SIZE_MAX / esize / out->dims[d]) {
            errbuf_set(eb, -ERR_RANGE, "'%s': dimension %zu at byte %zu overflows the size", path,
                       d, 4 + 4 * d);
            rc = idx_fail_at(eb, -ERR_RANGE, path, (long)(4 + 4 * d));
            goto out;
        }
        count *= out->dims[d];
    }
    out->count = count;
    size_t need = count * esize;
    if (need > max_bytes) {
        errbuf_set(eb, -ERR_RANGE, "'%s': header at byte 4 asks for %zu data bytes (cap %zu)", path,
                   need, max_bytes);
        rc = idx_fail_at(eb, -ERR_RANGE, path, 4);
        goto out;
    }

    /* Grow the buffer as data arrives so a forged header on a short file costs little. */
    size_t cap = need < IDX_FIRST_CHUNK ? need : IDX_FIRST_CHUNK;
    out->data = mem_alloc(cap == 0 ? 1 : cap);
    if (out->data == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    size_t have = 0;
    while (have < need) {
        if (have == cap) {
            size_t ncap = cap > need / 2 ? need : cap * 2;
            unsigned char *nd = mem_realloc(out->data, ncap);
            if (nd == NULL) {
                rc = errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", path);
                goto out;
            }
            out->data = nd;
            cap = ncap;
        }
        size_t step = idx_gz_fill(f, out->data + have, cap - have);
        have += step;
        if (have < cap) {
            rc = idx_short_read(f, path, out->data_offset + have, "the data", eb);
            goto out;
        }
    }
    unsigned char extra;
    int r = gzread(f, &extra, 1);
    if (r > 0) {
        errbuf_set(eb, -ERR_CORRUPT, "'%s': unexpected bytes after the data at byte %zu", path,
                   out->data_offset + need);
        rc = idx_fail_at(eb, -ERR_CORRUPT, path, (long)(out->data_offset + need));
        goto out;
    }
    int zerr = Z_OK;
    gzerror(f, &zerr);
    if (r < 0 || zerr != Z_OK) {
        rc = idx_short_read(f, path, out->data_offset + need, "the end of the file", eb);
        goto out;
    }
out:
    gzclose_r(f);
    if (rc < 0)
        idx_array_release(out);
    return rc;
}

void
idx_array_release(struct idx_array *a)
{
    if (a == NULL)
        return;
    mem_free(a->data);
    memset(a, 0, sizeof *a);
}

double
idx_array_get(const struct idx_array *a, size_t i)
{
    const unsigned char *p = a->data + i * idx_type_size(a->type);
    switch (a->type) {
    case IDX_U8:
        return (double)p[0];
    case IDX_S8:
        return (double)(int8_t)p[0];
    case IDX_S16:
        return (double)(int16_t)(uint16_t)((unsigned)p[0] << 8 | p[1]);
    case IDX_S32:
        return (double)(int32_t)idx_be32(p);
    case IDX_F32: {
        uint32_t u = idx_be32(p);
        float v;
        memcpy(&v, &u, sizeof v);
        return (double)v;
    }
    case IDX_F64: {
        uint64_t u = (uint64_t)idx_be32(p) << 32 | idx_be32(p + 4);
        double v;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    }
    return NAN;
}

/* Reads one IDX file through idx_read() and names the role in the message on failure. */
static int
idx_read_role(struct idx_array *a, const char *path, const char *role, size_t max_bytes,
              struct errbuf *eb)
{
    int rc = idx_read(a, path, max_bytes, eb);
    if (rc < 0)
        return errbuf_prefix(eb, "%s", role);
    return 0;
}

int
idx_read_split(struct dataset_split *out, size_t *n_features, unsigned *max_label,
               const char *images_path, const char *labels_path, unsigned n_classes,
               size_t max_bytes, struct errbuf *eb)
{
    memset(out, 0, sizeof *out);
    *n_features = 0;
    *max_label = 0;
    struct idx_array im, lb;
    memset(&lb, 0, sizeof lb);
    int rc = idx_read_role(&im, images_path, "images", max_bytes, eb);
    if (rc < 0)
        return rc;
    rc = idx_read_role(&lb, labels_path, "labels", max_bytes, eb);
    if (rc < 0)
        goto out;

    size_t n = im.dims[0];
    size_t nf = n == 0 ? 0 : im.count / n;
    if (n == 0 || nf == 0) {
        errbuf_set(eb, -ERR_CORRUPT, "'%s' holds no samples", images_path);
        rc = idx_fail_at(eb, -ERR_CORRUPT, images_path, 4);
        goto out;
    }
    if (lb.ndims != 1 || lb.type == IDX_F32 || lb.type == IDX_F64) {
        errbuf_set(eb, -ERR_CORRUPT,
                   "'%s': labels must be one dimension of integers (type 0x%02x, %zu dims)",
                   labels_path, (unsigned)lb.type, lb.ndims);
        rc = idx_fail_at(eb, -ERR_CORRUPT, labels_path, 2);
        goto out;
    }
    if (lb.dims[0] != n) {
        errbuf_set(eb, -ERR_CORRUPT, "'%s' has %zu labels but '%s' has %zu samples", labels_path,
                   lb.dims[0], images_path, n);
        rc = idx_fail_at(eb, -ERR_CORRUPT, labels_path, 4);
        goto out;
    }
    out->n = n;
    out->x = mem_alloc(im.count * sizeof *out->x);
    out->y = mem_alloc(n * sizeof *out->y);
    if (out->x == NULL || out->y == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", images_path);
        goto out;
    }
    unsigned top = 0;
    for (size_t i = 0; i < n; i++) {
        double v = idx_array_get(&lb, i);
        double limit = n_classes != 0 ? (double)n_classes : (double)UINT16_MAX + 1.0;
        if (v < 0.0 || v >= limit) {
            size_t at = lb.data_offset + i * idx_type_size(lb.type);
            errbuf_set(eb, -ERR_CORRUPT,
                       "'%s': label %.0f of sample %zu at byte %zu is outside 0..%.0f", labels_path,
                       v, i, at, limit - 1.0);
            rc = idx_fail_at(eb, -ERR_CORRUPT, labels_path, (long)at);
            goto out;
        }
        out->y[i] = (uint16_t)v;
        if (out->y[i] > top)
            top = out->y[i];
    }
    if (im.type == IDX_U8) {
        /* A table keeps the exact quotient p / 255 and costs one load per pixel. */
        float scale[256];
        for (unsigned p = 0; p < 256; p++)
            scale[p] = (float)p / 255.0f;
        for (size_t i = 0; i < im.count; i++)
            out->x[i] = scale[im.data[i]];
    } else {
        for (size_t i = 0; i < im.count; i++) {
            double v = idx_array_get(&im, i);
            float fv = (float)v;
            if (!isfinite(fv)) {
                size_t at = im.data_offset + i * idx_type_size(im.type);
                errbuf_set(eb, -ERR_CORRUPT, "'%s': feature at byte %zu is not a finite float",
                           images_path, at);
                rc = idx_fail_at(eb, -ERR_CORRUPT, images_path, (long)at);
                goto out;
            }
            out->x[i] = fv;
        }
    }
    *n_features = nf;
    *max_label = top;
out:
    idx_array_release(&im);
    idx_array_release(&lb);
    if (rc < 0) {
        mem_free(out->x);
        mem_free(out->y);
        memset(out, 0, sizeof *out);
    }
    return rc;
}
