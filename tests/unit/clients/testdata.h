/*
 * testdata: small data files for the clients tests, written at run time into a temporary
 * directory (no binary test data is committed). IDX images are built in memory, then
 * written plain or gzip-compressed with zlib; every returned buffer or path is owned by
 * the caller (free()).
 */
#ifndef FEDBITS_TESTS_UNIT_CLIENTS_TESTDATA_H
#define FEDBITS_TESTS_UNIT_CLIENTS_TESTDATA_H

#include <stdbool.h>
#include <stddef.h>

/* Returns "dir/name" (owned). */
char *testdata_path(const char *dir, const char *name);
/* Writes n bytes to dir/name, gzip-compressed when gz; returns the path (owned). */
char *testdata_write(const char *dir, const char *name, const void *bytes, size_t n, bool gz);
/* Compresses n bytes into a gzip member in memory; returns it (owned) and its size. */
unsigned char *testdata_gzip(const void *bytes, size_t n, size_t *out_n);
/*
 * Builds an IDX file in memory: header with type and dims, then payload (payload_n bytes,
 * already big-endian). Returns the bytes (owned) and their count.
 */
unsigned char *testdata_idx(unsigned type, size_t ndims, const unsigned *dims, const void *payload,
                            size_t payload_n, size_t *out_n);

#endif
