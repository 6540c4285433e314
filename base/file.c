/* file: the whole-file reader. See file.h. */
#include "base/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/banned.h"

/* Bytes moved per fread() call; the strbuf grows by doubling, so the copies stay O(n). */
#define FILE_CHUNK_BYTES 16384

/* Appends the rest of f to sb; on an error sb may hold part of the file. */
static int
file_read_stream(struct strbuf *sb, FILE *f, const char *path, const char *what, struct errbuf *eb)
{
    char chunk[FILE_CHUNK_BYTES];
    for (;;) {
        size_t got = fread(chunk, 1, sizeof chunk, f);
        if (got == 0)
            break;
        if (got > strbuf_cap(sb) - strbuf_len(sb))
            return errbuf_set(eb, -ERR_RANGE, "%s '%s' is larger than the cap of %zu bytes", what,
                              path, strbuf_cap(sb));
        if (strbuf_append(sb, chunk, got, NULL) < 0)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", path);
    }
    if (ferror(f))
        return errbuf_set(eb, -ERR_IO, "cannot read %s '%s'", what, path);
    return 0;
}

int
file_read(struct strbuf *sb, const char *path, const char *what, struct errbuf *eb)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        errbuf_set_location(eb, path, 0, 0);
        return errbuf_set(eb, e == ENOENT ? -ERR_NOTFOUND : -ERR_IO, "cannot open %s '%s': %s",
                          what, path, strerror(e));
    }
    size_t before = strbuf_len(sb);
    int rc = file_read_stream(sb, f, path, what, eb);
    fclose(f);
    if (rc < 0) {
        errbuf_set_location(eb, path, 0, 0);
        strbuf_truncate(sb, before); /* drop a partial tail */
    }
    return rc;
}
