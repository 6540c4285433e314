/* cifar: CIFAR-10 and CIFAR-100 binary readers. See cifar.h. */
#include "clients/cifar.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

#define CIFAR_MAX_FILES 5

/* Size of a file in bytes, checked against max_bytes; -ERR_NOTFOUND/-ERR_IO/-ERR_RANGE. */
static int
cifar_file_size(const char *path, size_t max_bytes, size_t *size, struct errbuf *eb)
{
    FILE *f = fopen(path, "rb");
    errbuf_set_location(eb, path, 0, 0);
    if (f == NULL)
        return errbuf_set(eb, errno == ENOENT ? -ERR_NOTFOUND : -ERR_IO, "cannot open '%s': %s",
                          path, strerror(errno));
    int rc = 0;
    long end = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        end = ftell(f);
    if (end < 0)
        rc = errbuf_set(eb, -ERR_IO, "cannot size '%s'", path);
    else if ((unsigned long)end > max_bytes)
        rc = errbuf_set(eb, -ERR_RANGE, "'%s' has %ld bytes, more than the limit of %zu", path, end,
                        max_bytes);
    fclose(f);
    *size = rc == 0 ? (size_t)end : 0;
    return rc;
}

/* Appends the records of path to out (rows [at, at + records)). */
static int
cifar_read_file(struct dataset_split *out, size_t at, size_t records, const char *path,
                bool hundred, struct errbuf *eb)
{
    size_t head = hundred ? 2 : 1, rec = head + CIFAR_FEATURES;
    unsigned limit = hundred ? 100 : 10;
    FILE *f = fopen(path, "rb");
    errbuf_set_location(eb, path, 0, 0);
    if (f == NULL)
        return errbuf_set(eb, -ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    unsigned char buf[2 + CIFAR_FEATURES];
    int rc = 0;
    for (size_t r = 0; r < records && rc == 0; r++) {
        if (fread(buf, 1, rec, f) != rec) {
            rc = errbuf_set(eb, -ERR_IO, "'%s': short read at record %zu (byte %zu)", path, r,
                            r * rec);
            break;
        }
        if (hundred && buf[0] >= 20) {
            rc = errbuf_set(eb, -ERR_CORRUPT,
                            "'%s': record %zu (byte %zu): coarse label %u is not below 20", path, r,
                            r * rec, buf[0]);
            break;
        }
        unsigned label = buf[head - 1];
        if (label >= limit) {
            rc = errbuf_set(eb, -ERR_CORRUPT,
                            "'%s': record %zu (byte %zu): label %u is not below %u", path, r,
                            r * rec + head - 1, label, limit);
            break;
        }
        out->y[at + r] = (uint16_t)label;
        float *row = out->x + (at + r) * CIFAR_FEATURES;
        for (size_t i = 0; i < CIFAR_FEATURES; i++)
            row[i] = (float)buf[head + i] / 255.0f;
    }
    fclose(f);
    return rc;
}

/* Reads the named files of one split, in order, into out. */
static int
cifar_split(struct dataset_split *out, const char *dir, const char *const *names, size_t n_names,
            bool hundred, size_t max_bytes, struct errbuf *eb)
{
    char paths[CIFAR_MAX_FILES][4096];
    size_t records[CIFAR_MAX_FILES], total = 0, rec = (hundred ? 2 : 1) + CIFAR_FEATURES;
    for (size_t i = 0; i < n_names; i++) {
        int len = snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
        if (len < 0 || (size_t)len >= sizeof paths[i])
            return errbuf_set(eb, -ERR_INVALID, "cifar folder name '%s' is too long", dir);
        size_t size = 0;
        int rc = cifar_file_size(paths[i], max_bytes, &size, eb);
        if (rc < 0)
            return rc;
        if (size == 0 || size % rec != 0)
            return errbuf_set(eb, -ERR_CORRUPT,
                              "'%s' has %zu bytes, not a whole number of %zu-byte records",
                              paths[i], size, rec);
        records[i] = size / rec;
        total += records[i];
    }
    out->x = mem_calloc(total, CIFAR_FEATURES * sizeof *out->x);
    out->y = mem_calloc(total, sizeof *out->y);
    out->n = total;
    if (out->x == NULL || out->y == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory for %zu CIFAR images", total);
    size_t at = 0;
    for (size_t i = 0; i < n_names; i++) {
        int rc = cifar_read_file(out, at, records[i], paths[i], hundred, eb);
        if (rc < 0)
            return rc;
        at += records[i];
    }
    return 0;
}

int
cifar_load(struct dataset_split *train, struct dataset_split *test, const char *dir, bool hundred,
           size_t max_bytes, struct errbuf *eb)
{
    static const char *const train10[] = { "data_batch_1.bin", "data_batch_2.bin",
                                           "data_batch_3.bin", "data_batch_4.bin",
                                           "data_batch_5.bin" };
    static const char *const test10[] = { "test_batch.bin" };
    static const char *const train100[] = { "train.bin" };
    static const char *const test100[] = { "test.bin" };
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    int rc = hundred ? cifar_split(train, dir, train100, 1, true, max_bytes, eb)
                     : cifar_split(train, dir, train10, 5, false, max_bytes, eb);
    if (rc == 0)
        rc = cifar_split(test, dir, hundred ? test100 : test10, 1, hundred, max_bytes, eb);
    if (rc < 0) {
        mem_free(train->x);
        mem_free(train->y);
        mem_free(test->x);
        mem_free(test->y);
        memset(train, 0, sizeof *train);
        memset(test, 0, sizeof *test);
    }
    return rc;
}
