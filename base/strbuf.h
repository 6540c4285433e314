/*
 * strbuf: a growable byte buffer with a size cap fixed when it is set up.
 *
 * Text read from files (scenarios, sweeps, traces) and text built for output or
 * checkpoints grows in a struct strbuf. The API follows git's strbuf (init, append,
 * appendf, reset, release, detach); the cap follows curl's dynbuf: every buffer is
 * given, at init, the most bytes it may ever hold, and an append that would pass it
 * fails with -ERR_RANGE instead of letting a hostile or broken input take all memory.
 *
 * The contents are always NUL-terminated (the terminator is not counted in the length
 * or the cap), so strbuf_str() can be handed to string functions; bytes may still
 * contain NULs. A failed append (-ERR_RANGE or -ERR_NOMEM) leaves the contents as they
 * were. All memory comes from base/mem, so mem_fault_arm() reaches it.
 *
 * A struct strbuf is a value the caller embeds; it owns its heap buffer until
 * strbuf_release() or strbuf_detach(). Fields are private (trailing underscore).
 */
#ifndef FEDBITS_BASE_STRBUF_H
#define FEDBITS_BASE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errbuf.h"

struct strbuf {
    char *buf_;    /* heap contents + NUL, or NULL before the first growth */
    size_t len_;   /* bytes held, not counting the NUL */
    size_t alloc_; /* bytes allocated for buf_ (0 when buf_ is NULL) */
    size_t cap_;   /* most bytes the buffer may hold, fixed at init */
};

/* The largest cap; larger requests are lowered to it. */
#define STRBUF_CAP_MAX (SIZE_MAX / 2)

/* Sets up an empty buffer that will hold at most cap bytes. Allocates nothing. */
void strbuf_init(struct strbuf *sb, size_t cap);

/* Frees the contents; sb is empty (same cap) and may be reused. */
void strbuf_release(struct strbuf *sb);

/* Empties the contents but keeps the allocation for reuse. */
void strbuf_reset(struct strbuf *sb);

/*
 * Makes room for `extra` more bytes without changing the contents. -ERR_RANGE when
 * len + extra passes the cap, -ERR_NOMEM when the allocation fails.
 */
int strbuf_grow(struct strbuf *sb, size_t extra, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Appends n bytes of data (all or nothing). Errors as strbuf_grow(). */
int strbuf_append(struct strbuf *sb, const void *data, size_t n, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Appends a NUL-terminated string (without its NUL). */
int strbuf_appends(struct strbuf *sb, const char *s, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Appends one byte. */
int strbuf_appendc(struct strbuf *sb, char c, struct errbuf *eb)
    __attribute__((warn_unused_result));

/* Appends printf-style formatted text (all or nothing). */
int strbuf_appendf(struct strbuf *sb, struct errbuf *eb, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), warn_unused_result));
int strbuf_vappendf(struct strbuf *sb, struct errbuf *eb, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0), warn_unused_result));

/* The contents, NUL-terminated; "" for an empty buffer. Valid until the next change. */
const char *strbuf_str(const struct strbuf *sb);
size_t strbuf_len(const struct strbuf *sb);
size_t strbuf_cap(const struct strbuf *sb);

/*
 * Hands the contents over to the caller as a NUL-terminated heap string (free it with
 * mem_free) and leaves sb empty, as after strbuf_init() with the same cap. *len (if not
 * NULL) receives the length. An empty buffer that never allocated gets a fresh one-byte
 * string; only then can the result be NULL (out of memory).
 */
char *strbuf_detach(struct strbuf *sb, size_t *len);

#endif
