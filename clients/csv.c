/* csv: labelled samples from comma-separated text. See csv.h. */
#include "clients/csv.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "base/banned.h"

/* Rows allocated at first; the arrays double when full. */
#define CSV_FIRST_ROWS 1024

/* A parse position: the file text and where the current line starts. */
struct csv_cursor {
    const char *path;
    const char *line_start;
    long line;
};

static int
csv_fail(struct errbuf *eb, const struct csv_cursor *c, const char *at, const char *what)
{
    long col = (long)(at - c->line_start) + 1;
    errbuf_set(eb, -ERR_CORRUPT, "%s:%ld:%ld: %s", c->path, c->line, col, what);
    errbuf_set_location(eb, c->path, c->line, col);
    return -ERR_CORRUPT;
}

/* Reads the whole file (at most max_bytes) into sb; a NUL byte inside is an error. */
static int
csv_slurp(struct strbuf *sb, const char *path, size_t max_bytes, struct errbuf *eb)
{
    strbuf_init(sb, max_bytes);
    int rc = file_read(sb, path, "CSV file", eb);
    if (rc == 0 && memchr(strbuf_str(sb), '\0', strbuf_len(sb)) != NULL) {
        rc = errbuf_set(eb, -ERR_CORRUPT, "CSV file '%s' contains a NUL byte", path);
        errbuf_set_location(eb, path, 0, 0);
    }
    return rc;
}

static bool
csv_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool
csv_field_end(char ch)
{
    return ch == ',' || ch == '\n' || ch == '\r' || ch == '\0';
}

/* Parses one number at *p (blanks around it allowed); advances *p to the separator. */
static bool
csv_number(const char **p, double *v)
{
    const char *s = *p;
    while (csv_blank(*s))
        s++;
    /* strtod would skip newlines too; a field must not be empty. */
    if (csv_field_end(*s))
        return false;
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(d))
        return false;
    while (csv_blank(*end))
        end++;
    if (!csv_field_end(*end))
        return false;
    *v = d;
    *p = end;
    return true;
}

static bool
csv_starts_like_number(const char *s)
{
    while (csv_blank(*s))
        s++;
    return (*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.';
}

static bool
csv_blank_line(const char *s)
{
    while (csv_blank(*s) || *s == '\r')
        s++;
    return *s == '\n' || *s == '\0';
}

/* Grows out to hold at least rows rows of nf features. */
static int
csv_grow(struct dataset_split *out, size_t *cap, size_t nf)
{
    size_t ncap = *cap == 0 ? CSV_FIRST_ROWS : *cap * 2;
    if (ncap > SIZE_MAX / sizeof(float) / nf)
        return -1;
    float *x = mem_realloc(out->x, ncap * nf * sizeof *x);
    if (x == NULL)
        return -1;
    out->x = x;
    uint16_t *y = mem_realloc(out->y, ncap * sizeof *y);
    if (y == NULL)
        return -1;
    out->y = y;
    *cap = ncap;
    return 0;
}

/* Parses the label at *p on line c: an integer in 0..65535 below n_classes (when not 0). */
static int
csv_label(const char **p, const struct csv_cursor *c, unsigned n_classes, unsigned *label,
          struct errbuf *eb)
{
    double v = 0.0;
    const char *at = *p;
    while (csv_blank(*at))
        at++;
    if (!csv_number(p, &v))
        return csv_fail(eb, c, at, "label is not a number");
    if (v != floor(v) || v < 0.0 || v > (double)UINT16_MAX)
        return csv_fail(eb, c, at, "label must be an integer in 0..65535");
    *label = (unsigned)v;
    if (n_classes != 0 && *label >= n_classes) {
        char msg[96];
        snprintf(msg, sizeof msg, "label %u is not below the %u classes", *label, n_classes);
        return csv_fail(eb, c, at, msg);
    }
    return 0;
}

/*
 * Parses the ",feature" list after the label into row `row` (nf features), or, on the first
 * sample (nf == 0), stages them in a growing out->x; *count is how many were read.
 */
static int
csv_features(struct dataset_split *out, size_t nf, size_t *cap, size_t row, const char **p,
             const struct csv_cursor *c, size_t *count, struct errbuf *eb)
{
    size_t j = 0;
    double v = 0.0;
    const char *at;
    while (**p == ',') {
        (*p)++;
        at = *p;
        while (csv_blank(*at))
            at++;
        if (!csv_number(p, &v))
            return csv_fail(eb, c, at, "feature is not a finite number");
        if (fabs(v) > (double)FLT_MAX) /* finite as a double, infinite as the model's float */
            return csv_fail(eb, c, at, "feature is beyond the float range (|x| > 3.4e38)");
        if (nf != 0 && j >= nf) {
            char msg[96];
            snprintf(msg, sizeof msg, "more than %zu features", nf);
            return csv_fail(eb, c, at, msg);
        }
        if (nf == 0) {
            /* First sample: stage features in row 0 of a growing buffer. */
            if (j >= *cap) {
                size_t ncap = *cap == 0 ? 64 : *cap * 2;
                float *x = mem_realloc(out->x, ncap * sizeof *x);
                if (x == NULL)
                    return errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", c->path);
                out->x = x;
                *cap = ncap;
            }
            out->x[j] = (float)v;
        } else {
            out->x[row * nf + j] = (float)v;
        }
        j++;
    }
    if (j == 0 || (nf != 0 && j != nf)) {
        char msg[96];
        if (nf == 0)
            snprintf(msg, sizeof msg, "expected at least one feature after the label");
        else
            snprintf(msg, sizeof msg, "expected %zu features, found %zu", nf, j);
        return csv_fail(eb, c, *p, msg);
    }
    *count = j;
    return 0;
}

int
csv_read(struct dataset_split *out, size_t *n_features, unsigned *max_label, const char *path,
         unsigned n_classes, size_t max_bytes, struct errbuf *eb)
{
    memset(out, 0, sizeof *out);
    *n_features = 0;
    *max_label = 0;
    struct strbuf sb;
    int rc = csv_slurp(&sb, path, max_bytes, eb);
    if (rc < 0) {
        strbuf_release(&sb);
        return rc;
    }
    const char *text = strbuf_str(&sb);
    size_t len = strbuf_len(&sb);

    struct csv_cursor c = { .path = path, .line_start = text, .line = 1 };
    size_t nf = 0, cap = 0;
    unsigned top = 0;
    const char *p = text;
    if (!csv_starts_like_number(p) && !csv_blank_line(p)) {
        p = strchr(p, '\n');
        p = p == NULL ? text + len : p + 1;
        c.line++;
    }
    for (; *p != '\0'; c.line++) {
        c.line_start = p;
        if (csv_blank_line(p)) {
            const char *nl = strchr(p, '\n');
            p = nl == NULL ? text + len : nl + 1;
            continue;
        }
        unsigned label = 0;
        rc = csv_label(&p, &c, n_classes, &label, eb);
        if (rc < 0)
            goto out;
        /* Features: count them on the first sample, then require the same count. */
        size_t row = out->n;
        if (nf != 0 && row >= cap && csv_grow(out, &cap, nf) < 0) {
            rc = errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", path);
            goto out;
        }
        size_t j = 0;
        rc = csv_features(out, nf, &cap, row, &p, &c, &j, eb);
        if (rc < 0)
            goto out;
        if (nf == 0) {
            /* The first sample fixes the width; re-layout its buffer into row storage. */
            nf = j;
            float *first = out->x;
            out->x = NULL;
            cap = 0;
            if (csv_grow(out, &cap, nf) < 0) {
                mem_free(first);
                rc = errbuf_set(eb, -ERR_NOMEM, "out of memory reading '%s'", path);
                goto out;
            }
            memcpy(out->x, first, nf * sizeof *first);
            mem_free(first);
        }
        out->y[row] = (uint16_t)label;
        if (label > top)
            top = label;
        out->n++;
        if (*p == '\r')
            p++;
        if (*p == '\n')
            p++;
        else if (*p != '\0') {
            rc = csv_fail(eb, &c, p - 1, "stray carriage return");
            goto out;
        }
    }
    if (out->n == 0) {
        rc = errbuf_set(eb, -ERR_CORRUPT, "CSV file '%s' holds no samples", path);
        errbuf_set_location(eb, path, 0, 0);
        goto out;
    }
    *n_features = nf;
    *max_label = top;
out:
    strbuf_release(&sb);
    if (rc < 0) {
        mem_free(out->x);
        mem_free(out->y);
        memset(out, 0, sizeof *out);
    }
    return rc;
}
