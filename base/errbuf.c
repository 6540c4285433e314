/* errbuf: the error record. See errbuf.h. */
#include "base/errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/banned.h"

void
errbuf_clear(struct errbuf *eb)
{
    if (eb == NULL)
        return;
    *eb = (struct errbuf){ .code = 0, .line = 0, .column = 0, .offset = -1 };
}

int
errbuf_set(struct errbuf *eb, int code, const char *fmt, ...)
{
    if (eb == NULL)
        return code;
    eb->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
    va_end(ap);
    return code;
}

void
errbuf_set_location(struct errbuf *eb, const char *file, long line, long column)
{
    if (eb == NULL)
        return;
    if (file != NULL)
        snprintf(eb->file, sizeof eb->file, "%s", file);
    eb->line = line;
    eb->column = column;
}

void
errbuf_set_key(struct errbuf *eb, const char *key)
{
    if (eb == NULL)
        return;
    snprintf(eb->key, sizeof eb->key, "%s", key != NULL ? key : "");
}

int
errbuf_prefix(struct errbuf *eb, const char *fmt, ...)
{
    if (eb == NULL)
        return 0;
    char prefix[ERRBUF_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Built in a buffer that always fits, then truncated into the record. */
    char joined[2 * ERRBUF_MSG_BYTES + 2];
    snprintf(joined, sizeof joined, "%s: %s", prefix, eb->msg);
    size_t n = strlen(joined);
    if (n >= sizeof eb->msg)
        n = sizeof eb->msg - 1;
    memcpy(eb->msg, joined, n);
    eb->msg[n] = '\0';
    return eb->code;
}

char *
errbuf_format(const struct errbuf *eb, char *out, size_t out_len)
{
    if (out_len == 0)
        return out;
    out[0] = '\0';
    if (eb == NULL)
        return out;
    size_t n = 0;
    if (eb->file[0] != '\0') {
        int w;
        if (eb->line > 0 && eb->column > 0)
            w = snprintf(out, out_len, "%s:%ld:%ld: ", eb->file, eb->line, eb->column);
        else if (eb->line > 0)
            w = snprintf(out, out_len, "%s:%ld: ", eb->file, eb->line);
        else
            w = snprintf(out, out_len, "%s: ", eb->file);
        n = w > 0 ? (size_t)w : 0;
    }
    if (n < out_len) {
        const char *msg = eb->msg[0] != '\0' ? eb->msg : errbuf_code_name(eb->code);
        snprintf(out + n, out_len - n, "error: %s", msg);
    }
    return out;
}

const char *
errbuf_code_name(int code)
{
    switch (code < 0 ? -code : code) {
    case ERR_OK:
        return "success";
    case ERR_NOMEM:
        return "out of memory";
    case ERR_INVALID:
        return "invalid value";
    case ERR_IO:
        return "input/output error";
    case ERR_CORRUPT:
        return "corrupt input";
    case ERR_RANGE:
        return "value out of range";
    case ERR_UNSUPPORTED:
        return "not supported";
    case ERR_DB:
        return "database error";
    case ERR_INTERRUPTED:
        return "interrupted";
    case ERR_ABORTED:
        return "aborted";
    case ERR_NOTFOUND:
        return "not found";
    case ERR_INTERNAL:
        return "internal error";
    default:
        return "unknown error";
    }
}
