/* leaf_json: bounded LEAF JSON reader (a small recursive-descent parser). See leaf_json.h. */
#include "clients/leaf_json.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

#define LEAF_JSON_MAX_DEPTH 64
#define LEAF_JSON_MAX_FILES 100000

struct leaf_json {
    const char *s;
    size_t n, pos;
    size_t value_at; /* where the last string or number began */
    const char *path;
    enum leaf_task task;
    struct leaf_rows *rows;
    struct errbuf *eb;
};

size_t
leaf_json_features(enum leaf_task task)
{
    return task == LEAF_FEMNIST ? LEAF_FEMNIST_FEATURES : LEAF_SHAKESPEARE_SEQ;
}

static int
leaf_json_error(struct leaf_json *j, const char *what)
{
    errbuf_set_location(j->eb, j->path, 0, 0);
    return errbuf_set(j->eb, -ERR_CORRUPT, "'%s': byte %zu: %s", j->path, j->pos, what);
}

/* The same, at the start of the value just read. */
static int
leaf_json_error_at(struct leaf_json *j, const char *what)
{
    j->pos = j->value_at;
    return leaf_json_error(j, what);
}

static void
leaf_json_ws(struct leaf_json *j)
{
    while (j->pos < j->n && (j->s[j->pos] == ' ' || j->s[j->pos] == '\n' || j->s[j->pos] == '\r' ||
                             j->s[j->pos] == '\t'))
        j->pos++;
}

/* Consumes c after white space, or fails naming it. */
static int
leaf_json_expect(struct leaf_json *j, char c)
{
    leaf_json_ws(j);
    if (j->pos >= j->n || j->s[j->pos] != c) {
        char what[32];
        snprintf(what, sizeof what, "expected '%c'", c);
        return leaf_json_error(j, what);
    }
    j->pos++;
    return 0;
}

/* True (and consumed) when the next character is c. */
static bool
leaf_json_take(struct leaf_json *j, char c)
{
    leaf_json_ws(j);
    if (j->pos < j->n && j->s[j->pos] == c) {
        j->pos++;
        return true;
    }
    return false;
}

/*
 * A string into out (at most cap - 1 bytes, NUL-terminated; out NULL skips it). Escapes
 * \" \\ \/ \b \f \n \r \t and \u followed by four hex digits (written as UTF-8; surrogates
 * rejected).
 */
static int
leaf_json_string(struct leaf_json *j, char *out, size_t cap, size_t *len, bool one_byte)
{
    leaf_json_ws(j);
    j->value_at = j->pos;
    if (leaf_json_expect(j, '"') < 0)
        return -ERR_CORRUPT;
    size_t k = 0;
    while (j->pos < j->n && j->s[j->pos] != '"') {
        unsigned char c = (unsigned char)j->s[j->pos++];
        unsigned cp = c;
        if (c < 0x20)
            return leaf_json_error(j, "control character in a string");
        if (c == '\\') {
            if (j->pos >= j->n)
                break;
            char e = j->s[j->pos++];
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *at = strchr(from, e);
            if (e != 'u' && (at == NULL || e == '\0'))
                return leaf_json_error(j, "bad escape in a string");
            if (e == 'u') {
                if (j->n - j->pos < 4)
                    break;
                char hex[5] = { 0 };
                memcpy(hex, j->s + j->pos, 4);
                char *end = NULL;
                cp = (unsigned)strtoul(hex, &end, 16);
                if (end != hex + 4 || (cp >= 0xD800 && cp <= 0xDFFF))
                    return leaf_json_error(j, "bad \\u escape in a string");
                j->pos += 4;
            } else {
                cp = (unsigned char)to[at - from];
            }
        }
        /* UTF-8 of cp (bytes >= 0x80 from the file pass through as they are). With one_byte
         * every character is one byte: non-ASCII ones become 0x1A (an unknown symbol). */
        unsigned char u[3];
        size_t m = 1;
        u[0] = (unsigned char)cp;
        if (one_byte && cp >= 0x80) {
            if (c != '\\' && (c & 0xC0) == 0x80)
                continue; /* a UTF-8 continuation byte */
            cp = 0x1A;
            u[0] = 0x1A;
        }
        if (c == '\\' && cp >= 0x80) {
            m = cp < 0x800 ? 2 : 3;
            if (m == 2) {
                u[0] = (unsigned char)(0xC0 | cp >> 6);
                u[1] = (unsigned char)(0x80 | (cp & 0x3F));
            } else {
                u[0] = (unsigned char)(0xE0 | cp >> 12);
                u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
                u[2] = (unsigned char)(0x80 | (cp & 0x3F));
            }
        }
        if (out != NULL) {
            if (k + m >= cap)
                return leaf_json_error(j, "string too long");
            memcpy(out + k, u, m);
        }
        k += m;
    }
    if (j->pos >= j->n)
        return leaf_json_error(j, "unterminated string");
    j->pos++;
    if (out != NULL)
        out[k] = '\0';
    if (len != NULL)
        *len = k;
    return 0;
}

/* A number (the JSON grammar's characters, then strtod on a bounded copy). */
static int
leaf_json_number(struct leaf_json *j, double *v)
{
    leaf_json_ws(j);
    size_t start = j->pos;
    j->value_at = start;
    while (j->pos < j->n && j->pos - start < 64 && strchr("+-0123456789.eE", j->s[j->pos]) &&
           j->s[j->pos] != '\0')
        j->pos++;
    char buf[65];
    size_t len = j->pos - start;
    memcpy(buf, j->s + start, len);
    buf[len] = '\0';
    char *end = NULL;
    *v = len > 0 ? strtod(buf, &end) : 0.0;
    if (len == 0 || end != buf + len) {
        j->pos = start;
        return leaf_json_error(j, "expected a number");
    }
    return 0;
}

/* Skips any value, nesting at most LEAF_JSON_MAX_DEPTH deep. */
static int
leaf_json_skip(struct leaf_json *j, int depth)
{
    if (depth > LEAF_JSON_MAX_DEPTH)
        return leaf_json_error(j, "nested too deeply");
    leaf_json_ws(j);
    if (j->pos >= j->n)
        return leaf_json_error(j, "expected a value");
    char c = j->s[j->pos];
    if (c == '"')
        return leaf_json_string(j, NULL, 0, NULL, false);
    if (c == '[' || c == '{') {
        j->pos++;
        char close = c == '[' ? ']' : '}';
        if (leaf_json_take(j, close))
            return 0;
        do {
            if (c == '{' &&
                (leaf_json_string(j, NULL, 0, NULL, false) < 0 || leaf_json_expect(j, ':') < 0))
                return -ERR_CORRUPT;
            if (leaf_json_skip(j, depth + 1) < 0)
                return -ERR_CORRUPT;
        } while (leaf_json_take(j, ','));
        return leaf_json_expect(j, close);
    }
    static const char *const words[] = { "true", "false", "null" };
    for (size_t i = 0; i < 3; i++) {
        size_t wl = strlen(words[i]);
        if (j->n - j->pos >= wl && memcmp(j->s + j->pos, words[i], wl) == 0) {
            j->pos += wl;
            return 0;
        }
    }
    double v;
    return leaf_json_number(j, &v);
}

/* Index of a Shakespeare character; unknown ones map to the last symbol. */
static uint16_t
leaf_json_letter(unsigned char c)
{
    static const char letters[] = LEAF_SHAKESPEARE_LETTERS;
    const char *at = c != '\0' ? memchr(letters, c, sizeof letters - 1) : NULL;
    return (uint16_t)(at != NULL ? at - letters : LEAF_SHAKESPEARE_VOCAB - 1);
}

/* Capacity for at least need rows (rows past n are scratch). */
static int
leaf_rows_reserve(struct leaf_rows *r, size_t need, size_t features)
{
    if (need <= r->cap_)
        return 0;
    if (need > UINT32_MAX)
        return -ERR_RANGE;
    size_t cap = r->cap_ < 1024 ? 1024 : 2 * r->cap_;
    cap = cap < need ? need : cap;
    float *x = mem_realloc(r->x, cap * features * sizeof *x);
    if (x != NULL)
        r->x = x;
    uint16_t *y = mem_realloc(r->y, cap * sizeof *y);
    if (y != NULL)
        r->y = y;
    uint32_t *u = mem_realloc(r->user, cap * sizeof *u);
    if (u != NULL)
        r->user = u;
    if (x == NULL || y == NULL || u == NULL)
        return -ERR_NOMEM;
    r->cap_ = cap;
    return 0;
}

/* The index of user id, added when new. */
static int
leaf_rows_user(struct leaf_rows *r, const char *id, uint32_t *index)
{
    for (size_t i = 0; i < r->n_users; i++) {
        if (strcmp(r->users[i], id) == 0) {
            *index = (uint32_t)i;
            return 0;
        }
    }
    if (r->n_users == r->cap_users_) {
        size_t cap = r->cap_users_ < 64 ? 64 : 2 * r->cap_users_;
        char(*u)[LEAF_USER_BYTES] = mem_realloc(r->users, cap * sizeof *u);
        if (u == NULL)
            return -ERR_NOMEM;
        r->users = u;
        r->cap_users_ = cap;
    }
    snprintf(r->users[r->n_users], LEAF_USER_BYTES, "%s", id);
    *index = (uint32_t)r->n_users++;
    return 0;
}

/* One list ("x" when is_x, else "y") of a user, entries stored from row first on. */
static int
leaf_json_list(struct leaf_json *j, bool is_x, size_t first, size_t *count)
{
    struct leaf_rows *r = j->rows;
    size_t nf = leaf_json_features(j->task), k = 0;
    if (leaf_json_expect(j, '[') < 0)
        return -ERR_CORRUPT;
    if (leaf_json_take(j, ']')) {
        *count = 0;
        return 0;
    }
    do {
        int rc = leaf_rows_reserve(r, first + k + 1, nf);
        if (rc < 0)
            return errbuf_set(j->eb, rc, "'%s': byte %zu: too many rows or out of memory", j->path,
                              j->pos);
        float *row = r->x + (first + k) * nf;
        char s[4 * LEAF_SHAKESPEARE_SEQ + 1];
        size_t len;
        double v;
        if (j->task == LEAF_SHAKESPEARE) {
            if (leaf_json_string(j, s, sizeof s, &len, true) < 0)
                return -ERR_CORRUPT;
            if (is_x && len != LEAF_SHAKESPEARE_SEQ)
                return leaf_json_error_at(j, "a Shakespeare x is not 80 characters");
            if (!is_x && len != 1)
                return leaf_json_error_at(j, "a Shakespeare y is not one character");
            for (size_t i = 0; is_x && i < nf; i++)
                row[i] = (float)leaf_json_letter((unsigned char)s[i]);
            if (!is_x)
                r->y[first + k] = leaf_json_letter((unsigned char)s[0]);
        } else if (is_x) {
            if (leaf_json_expect(j, '[') < 0)
                return -ERR_CORRUPT;
            for (size_t i = 0; i < nf; i++) {
                if ((i > 0 && leaf_json_expect(j, ',') < 0) || leaf_json_number(j, &v) < 0)
                    return -ERR_CORRUPT;
                if (!(v >= 0.0 && v <= 1.0))
                    return leaf_json_error_at(j, "a FEMNIST pixel is not in [0, 1]");
                row[i] = (float)v;
            }
            if (leaf_json_expect(j, ']') < 0)
                return -ERR_CORRUPT;
        } else {
            if (leaf_json_number(j, &v) < 0)
                return -ERR_CORRUPT;
            if (!(v >= 0.0 && v < LEAF_FEMNIST_CLASSES && v == (double)(int)v))
                return leaf_json_error_at(j, "a FEMNIST label is not an integer 0..61");
            r->y[first + k] = (uint16_t)v;
        }
        k++;
    } while (leaf_json_take(j, ','));
    *count = k;
    return leaf_json_expect(j, ']');
}

/* One user's {"x": [...], "y": [...]} (other members skipped). */
static int
leaf_json_user(struct leaf_json *j, uint32_t user)
{
    struct leaf_rows *r = j->rows;
    size_t nx = 0, ny = 0;
    bool got_x = false, got_y = false;
    if (leaf_json_expect(j, '{') < 0)
        return -ERR_CORRUPT;
    if (!leaf_json_take(j, '}')) {
        do {
            char key[16];
            if (leaf_json_string(j, key, sizeof key, NULL, false) < 0 ||
                leaf_json_expect(j, ':') < 0)
                return -ERR_CORRUPT;
            bool is_x = strcmp(key, "x") == 0;
            if ((is_x && got_x) || (strcmp(key, "y") == 0 && got_y))
                return leaf_json_error(j, "repeated x or y");
            int rc = is_x || strcmp(key, "y") == 0 ? leaf_json_list(j, is_x, r->n, is_x ? &nx : &ny)
                                                   : leaf_json_skip(j, 2);
            if (rc < 0)
                return rc;
            got_x |= is_x;
            got_y |= strcmp(key, "y") == 0;
        } while (leaf_json_take(j, ','));
        if (leaf_json_expect(j, '}') < 0)
            return -ERR_CORRUPT;
    }
    if (nx != ny || !got_x || !got_y)
        return leaf_json_error(j, "a user's x and y differ in length or one is missing");
    for (size_t i = 0; i < nx; i++)
        r->user[r->n + i] = user;
    r->n += nx;
    return 0;
}

int
leaf_json_parse(struct leaf_rows *rows, const char *text, size_t len, const char *path,
                enum leaf_task task, struct errbuf *eb)
{
    struct leaf_json j = {
        .s = text, .n = len, .path = path, .task = task, .rows = rows, .eb = eb
    };
    if (leaf_json_expect(&j, '{') < 0)
        return -ERR_CORRUPT;
    bool data = false;
    if (!leaf_json_take(&j, '}')) {
        do {
            char key[32];
            if (leaf_json_string(&j, key, sizeof key, NULL, false) < 0 ||
                leaf_json_expect(&j, ':') < 0)
                return -ERR_CORRUPT;
            if (strcmp(key, "user_data") != 0) {
                if (leaf_json_skip(&j, 1) < 0)
                    return -ERR_CORRUPT;
                continue;
            }
            data = true;
            if (leaf_json_expect(&j, '{') < 0)
                return -ERR_CORRUPT;
            if (leaf_json_take(&j, '}'))
                continue;
            do {
                char id[LEAF_USER_BYTES];
                uint32_t user;
                if (leaf_json_string(&j, id, sizeof id, NULL, false) < 0 ||
                    leaf_json_expect(&j, ':') < 0)
                    return -ERR_CORRUPT;
                if (leaf_rows_user(rows, id, &user) < 0)
                    return errbuf_set(eb, -ERR_NOMEM, "out of memory for LEAF users");
                int rc = leaf_json_user(&j, user);
                if (rc < 0)
                    return rc;
            } while (leaf_json_take(&j, ','));
            if (leaf_json_expect(&j, '}') < 0)
                return -ERR_CORRUPT;
        } while (leaf_json_take(&j, ','));
        if (leaf_json_expect(&j, '}') < 0)
            return -ERR_CORRUPT;
    }
    leaf_json_ws(&j);
    if (j.pos != j.n)
        return leaf_json_error(&j, "text after the object");
    if (!data)
        return leaf_json_error(&j, "no user_data member");
    return 0;
}

static int
leaf_json_cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
leaf_json_read_dir(struct leaf_rows *rows, const char *dir, enum leaf_task task, size_t max_bytes,
                   struct errbuf *eb)
{
    DIR *d = opendir(dir);
    errbuf_set_location(eb, dir, 0, 0);
    if (d == NULL)
        return errbuf_set(eb, errno == ENOENT ? -ERR_NOTFOUND : -ERR_IO,
                          "cannot open LEAF folder '%s': %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (n == cap) {
            cap = cap == 0 ? 16 : 2 * cap;
            char **grown =
                cap <= LEAF_JSON_MAX_FILES ? mem_realloc(names, cap * sizeof *names) : NULL;
            if (grown == NULL) {
                rc = errbuf_set(eb, -ERR_RANGE, "'%s': too many files or out of memory", dir);
                break;
            }
            names = grown;
        }
        names[n] = mem_strdup(e->d_name);
        if (names[n] == NULL)
            rc = errbuf_set(eb, -ERR_NOMEM, "out of memory listing '%s'", dir);
        else
            n++;
    }
    closedir(d);
    if (rc == 0 && n == 0)
        rc = errbuf_set(eb, -ERR_NOTFOUND, "LEAF folder '%s' has no .json file", dir);
    if (rc == 0)
        qsort(names, n, sizeof *names, leaf_json_cmp_name);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[4096];
        int len = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (len < 0 || (size_t)len >= sizeof path) {
            rc = errbuf_set(eb, -ERR_INVALID, "LEAF path '%s/%s' is too long", dir, names[i]);
            break;
        }
        FILE *f = fopen(path, "rb");
        long size = -1;
        if (f != NULL && fseek(f, 0, SEEK_END) == 0)
            size = ftell(f);
        errbuf_set_location(eb, path, 0, 0);
        if (f == NULL || size < 0 || fseek(f, 0, SEEK_SET) != 0) {
            rc = errbuf_set(eb, -ERR_IO, "cannot read '%s'", path);
        } else if ((unsigned long)size > max_bytes) {
            rc = errbuf_set(eb, -ERR_RANGE, "'%s' has %ld bytes, more than the limit of %zu", path,
                            size, max_bytes);
        } else {
            char *text = mem_alloc((size_t)size + 1);
            if (text == NULL)
                rc = errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", path);
            else if (fread(text, 1, (size_t)size, f) != (size_t)size)
                rc = errbuf_set(eb, -ERR_IO, "short read of '%s'", path);
            else
                rc = leaf_json_parse(rows, text, (size_t)size, path, task, eb);
            mem_free(text);
        }
        if (f != NULL)
            fclose(f);
    }
    for (size_t i = 0; i < n; i++)
        mem_free(names[i]);
    mem_free(names);
    return rc;
}

void
leaf_json_rows_release(struct leaf_rows *rows)
{
    mem_free(rows->x);
    mem_free(rows->y);
    mem_free(rows->user);
    mem_free(rows->users);
    memset(rows, 0, sizeof *rows);
}
