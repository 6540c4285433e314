/* testdata: data files for the clients tests. See testdata.h. */
#include "tests/unit/clients/testdata.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

char *
testdata_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

unsigned char *
testdata_gzip(const void *bytes, size_t n, size_t *out_n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip member with header and CRC-32/length trailer. */
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uLong cap = deflateBound(&z, (uLong)n) + 32;
    unsigned char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    z.next_in = (Bytef *)(uintptr_t)bytes;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_n = (size_t)z.total_out;
    deflateEnd(&z);
    return out;
}

char *
testdata_write(const char *dir, const char *name, const void *bytes, size_t n, bool gz)
{
    char *path = testdata_path(dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (gz) {
        size_t zn = 0;
        unsigned char *z = testdata_gzip(bytes, n, &zn);
        ck_assert_uint_eq(fwrite(z, 1, zn, f), zn);
        free(z);
    } else if (n > 0) {
        ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    }
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

unsigned char *
testdata_idx(unsigned type, size_t ndims, const unsigned *dims, const void *payload,
             size_t payload_n, size_t *out_n)
{
    size_t n = 4 + 4 * ndims + payload_n;
    unsigned char *b = malloc(n);
    ck_assert_ptr_nonnull(b);
    b[0] = 0;
    b[1] = 0;
    b[2] = (unsigned char)type;
    b[3] = (unsigned char)ndims;
    for (size_t d = 0; d < ndims; d++) {
        b[4 + 4 * d] = (unsigned char)(dims[d] >> 24);
        b[5 + 4 * d] = (unsigned char)(dims[d] >> 16);
        b[6 + 4 * d] = (unsigned char)(dims[d] >> 8);
        b[7 + 4 * d] = (unsigned char)dims[d];
    }
    if (payload_n > 0)
        memcpy(b + 4 + 4 * ndims, payload, payload_n);
    *out_n = n;
    return b;
}
