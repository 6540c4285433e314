/* strbuf: growable byte buffer with a size cap. See strbuf.h. */
#include "base/strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"

#include "base/banned.h"

void
strbuf_init(struct strbuf *sb, size_t cap)
{
    sb->buf_ = NULL;
    sb->len_ = 0;
    sb->alloc_ = 0;
    sb->cap_ = cap < STRBUF_CAP_MAX ? cap : STRBUF_CAP_MAX;
}

void
strbuf_release(struct strbuf *sb)
{
    mem_free(sb->buf_);
    strbuf_init(sb, sb->cap_);
}

void
strbuf_reset(struct strbuf *sb)
{
    sb->len_ = 0;
    if (sb->buf_ != NULL)
        sb->buf_[0] = '\0';
}

int
strbuf_grow(struct strbuf *sb, size_t extra, struct errbuf *eb)
{
    if (extra > sb->cap_ - sb->len_)
        return errbuf_set(eb, -ERR_RANGE, "buffer limit of %zu bytes reached (%zu more wanted)",
                          sb->cap_, extra);
    size_t need = sb->len_ + extra + 1; /* cannot wrap: len + extra <= cap < SIZE_MAX */
    if (need <= sb->alloc_)
        return 0;
    /* Double (at least 64 bytes) so n appends cost O(n) copies, but never past cap + 1. */
    size_t limit = sb->cap_ + 1;
    size_t want = sb->alloc_ < 64 ? 64 : sb->alloc_;
    while (want < need && want <= limit / 2)
        want *= 2;
    if (want < need)
        want = need;
    if (want > limit)
        want = limit;
    char *p = mem_realloc(sb->buf_, want);
    if (p == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory growing a buffer to %zu bytes", want);
    if (sb->buf_ == NULL)
        p[0] = '\0';
    sb->buf_ = p;
    sb->alloc_ = want;
    return 0;
}

int
strbuf_append(struct strbuf *sb, const void *data, size_t n, struct errbuf *eb)
{
    int rc = strbuf_grow(sb, n, eb);
    if (rc < 0)
        return rc;
    if (n > 0)
        memcpy(sb->buf_ + sb->len_, data, n);
    sb->len_ += n;
    sb->buf_[sb->len_] = '\0';
    return 0;
}

int
strbuf_appends(struct strbuf *sb, const char *s, struct errbuf *eb)
{
    return strbuf_append(sb, s, strlen(s), eb);
}

int
strbuf_appendc(struct strbuf *sb, char c, struct errbuf *eb)
{
    return strbuf_append(sb, &c, 1, eb);
}

int
strbuf_vappendf(struct strbuf *sb, struct errbuf *eb, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    char small[1];
    size_t room = sb->alloc_ > sb->len_ ? sb->alloc_ - sb->len_ : 0;
    int n = vsnprintf(room > 0 ? sb->buf_ + sb->len_ : small, room > 0 ? room : 1, fmt, ap);
    if (n < 0) {
        va_end(again);
        if (sb->buf_ != NULL)
            sb->buf_[sb->len_] = '\0';
        return errbuf_set(eb, -ERR_INVALID, "cannot format \"%s\"", fmt);
    }
    size_t need = (size_t)n;
    if (need < room) { /* it fitted, NUL included */
        va_end(again);
        sb->len_ += need;
        return 0;
    }
    if (sb->buf_ != NULL)
        sb->buf_[sb->len_] = '\0'; /* undo the truncated attempt */
    int rc = strbuf_grow(sb, need, eb);
    if (rc < 0) {
        va_end(again);
        return rc;
    }
    vsnprintf(sb->buf_ + sb->len_, need + 1, fmt, again);
    va_end(again);
    sb->len_ += need;
    return 0;
}

int
strbuf_appendf(struct strbuf *sb, struct errbuf *eb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = strbuf_vappendf(sb, eb, fmt, ap);
    va_end(ap);
    return rc;
}

const char *
strbuf_str(const struct strbuf *sb)
{
    return sb->buf_ != NULL ? sb->buf_ : "";
}

size_t
strbuf_len(const struct strbuf *sb)
{
    return sb->len_;
}

size_t
strbuf_cap(const struct strbuf *sb)
{
    return sb->cap_;
}

char *
strbuf_detach(struct strbuf *sb, size_t *len)
{
    char *out = sb->buf_;
    if (len != NULL)
        *len = sb->len_;
    if (out == NULL) {
        out = mem_alloc(1);
        if (out != NULL)
            out[0] = '\0';
    }
    strbuf_init(sb, sb->cap_);
    return out;
}
