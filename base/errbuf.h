/*
 * errbuf: the project's one error code space and the caller-owned error record.
 *
 * Every fallible function below sim/ returns int: 0 on success or a negative code from
 * enum err_code (-ERR_IO, -ERR_CORRUPT, ...). The human-readable text travels in a
 * struct errbuf that the caller owns and passes as the last argument. The record is fixed
 * size and never allocates, so it works when memory has run out.
 *
 * Whoever knows a location fills it: the scenario loader sets file, line, column and the
 * key path; a wire decoder sets the byte offset. errbuf_set() returns the code it was
 * given, so an error path is one line:
 *
 *     return errbuf_set(eb, -ERR_CORRUPT, "share %u: bad MAC", i);
 *
 * Messages follow git: lower case, no final full stop, what failed first, the subject
 * quoted. Only the command layer (cmd/) prints an error record (errbuf_format()) and picks
 * the exit status. A NULL errbuf is accepted everywhere and simply records nothing.
 */
#ifndef FEDBITS_BASE_ERRBUF_H
#define FEDBITS_BASE_ERRBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Error codes; functions return them negated (0 is success). */
enum err_code {
    ERR_OK = 0,
    ERR_NOMEM = 1,       /* an allocation failed */
    ERR_INVALID = 2,     /* a parameter or configuration value is not acceptable */
    ERR_IO = 3,          /* a file could not be opened, read or written */
    ERR_CORRUPT = 4,     /* input bytes do not follow their format */
    ERR_RANGE = 5,       /* a value is outside what the mathematics or the format allows */
    ERR_UNSUPPORTED = 6, /* a valid request this build cannot carry out */
    ERR_DB = 7,          /* the results database refused an operation */
    ERR_INTERRUPTED = 8, /* a signal asked the run to stop */
    ERR_ABORTED = 9,     /* a protocol round could not complete (e.g. too few survivors) */
    ERR_NOTFOUND = 10,   /* a named thing (run, file, key) does not exist */
    ERR_INTERNAL = 11,   /* a broken invariant caught in a release build */
};

#define ERRBUF_MSG_BYTES  320
#define ERRBUF_PATH_BYTES 256
#define ERRBUF_KEY_BYTES  128

struct errbuf {
    int code;                     /* last negative code set, 0 if none */
    char msg[ERRBUF_MSG_BYTES];   /* NUL-terminated message, "" if none */
    char file[ERRBUF_PATH_BYTES]; /* file the error is in, "" if not known */
    long line;                    /* 1-based line in file, 0 if not known */
    long column;                  /* 1-based column, 0 if not known */
    char key[ERRBUF_KEY_BYTES];   /* dotted key path (e.g. "train.lr"), "" if none */
    long offset;                  /* byte offset in a message or file, -1 if not known */
};

/* Empties eb (code 0, no message, no location). */
void errbuf_clear(struct errbuf *eb);

/* Records code and a printf-style message; returns code. Location fields are kept. */
int errbuf_set(struct errbuf *eb, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the file, line and column of the error. file may be NULL to keep the old one. */
void errbuf_set_location(struct errbuf *eb, const char *file, long line, long column);

/* Sets the dotted key path the error is about. */
void errbuf_set_key(struct errbuf *eb, const char *key);

/* Prefixes the message with "prefix: " (for context added by a caller); returns eb->code. */
int errbuf_prefix(struct errbuf *eb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Writes the record as "FILE:LINE:COL: error: MESSAGE" (location parts omitted when not
 * known) into out, truncating to out_len - 1 characters. Returns out.
 */
char *errbuf_format(const struct errbuf *eb, char *out, size_t out_len);

/* The short name of a code ("corrupt input"), for either sign of the code. */
const char *errbuf_code_name(int code);

#endif
