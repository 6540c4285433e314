/*
 * fuzz_data: the CSV and IDX dataset readers on hostile files. Byte 0 picks the reader; the
 * rest is written to a temporary file that the reader opens, as a user's data file would be.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/mem.h"
#include "clients/csv.h"
#include "clients/idx.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char path[] = "/tmp/fedbits-fuzz-data-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    FILE *f = fdopen(fd, "wb");
    if (f == NULL) {
        close(fd);
        unlink(path);
        return 0;
    }
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    if (data[0] & 1) {
        struct idx_array a;
        if (idx_read(&a, path, 1 << 20, NULL) == 0)
            idx_array_release(&a);
    } else {
        struct dataset_split s = { 0 };
        size_t features;
        unsigned max_label;
        if (csv_read(&s, &features, &max_label, path, 0, 1 << 20, NULL) == 0) {
            mem_free(s.x);
            mem_free(s.y);
        }
    }
    unlink(path);
    return 0;
}
