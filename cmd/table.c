/* table: the text/CSV/JSON/markdown renderer of the commands. See table.h. */
#include "cmd/table.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "base/banned.h"

struct table
table_make(const struct table_col *cols, size_t ncols)
{
    return (struct table){ .cols = cols, .ncols = ncols };
}

struct table_view
table_all(const struct table *t)
{
    return (struct table_view){ .mask =
                                    t->ncols >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << t->ncols) - 1 };
}

/*
 * Writes v with the fewest significant digits (15 to 17) that read back as exactly v, as
 * Python's repr does: "0.1", not "0.10000000000000001".
 */
void
table_format_real(char *buf, size_t len, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void
table_release(struct table *g)
{
    for (size_t i = 0; i < g->nrows * g->ncols; i++)
        mem_free(g->cells[i]);
    mem_free(g->cells);
    *g = (struct table){ 0 };
}

/* Appends an empty row; returns its index, or -1 when out of memory. */
long
table_add_row(struct table *g)
{
    if (g->nrows == g->cap) {
        size_t cap = g->cap > 0 ? 2 * g->cap : 16;
        char **cells = mem_realloc(g->cells, cap * g->ncols * sizeof *cells);
        if (cells == NULL)
            return -1;
        g->cells = cells;
        g->cap = cap;
    }
    for (size_t c = 0; c < g->ncols; c++)
        g->cells[g->nrows * g->ncols + c] = NULL;
    return (long)g->nrows++;
}

const char *
table_cell(const struct table *g, size_t row, size_t col)
{
    return g->cells[row * g->ncols + col];
}

int
table_set(struct table *g, size_t row, size_t col, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s;
    if (n >= 0 && (size_t)n < sizeof buf) {
        s = mem_strdup(buf);
    } else {
        /* Longer than the stack buffer (a long name or sweep label): format again. */
        s = n >= 0 ? mem_alloc((size_t)n + 1) : NULL;
        if (s != NULL) {
            va_start(ap, fmt);
            vsnprintf(s, (size_t)n + 1, fmt, ap);
            va_end(ap);
        }
    }
    if (s == NULL)
        return -1;
    mem_free(g->cells[row * g->ncols + col]);
    g->cells[row * g->ncols + col] = s;
    return 0;
}

static bool
table_view_row(const struct table *g, const struct table_view *v, size_t r)
{
    if (v->kind == NULL)
        return true;
    const char *k = table_cell(g, r, v->kind_col);
    return k != NULL && strcmp(k, v->kind) == 0;
}

static bool
table_view_col(const struct table_view *v, size_t c)
{
    return (v->mask >> c) & 1;
}

/*
 * Writes one table cell: `pending` counts the spaces owed before the next text, so that
 * padding is only written when something follows it and no line ends in spaces.
 */
static void
table_put_cell(FILE *f, const char *s, size_t width, bool right, bool first, size_t *pending)
{
    size_t len = s != NULL ? strlen(s) : 0;
    *pending += first ? 0 : 2;
    if (right)
        *pending += width - len;
    if (len > 0) {
        for (; *pending > 0; (*pending)--)
            fputc(' ', f);
        fputs(s, f);
    }
    if (!right)
        *pending += width - len;
}

/* Aligned columns, two spaces apart, numbers right-aligned; a header and a rule. */
void
table_print_text(FILE *f, const struct table *g, const struct table_view *v)
{
    size_t width[TABLE_MAX_COLS] = { 0 };
    for (size_t c = 0; c < g->ncols; c++) {
        if (!table_view_col(v, c))
            continue;
        width[c] = strlen(g->cols[c].title);
        for (size_t r = 0; r < g->nrows; r++) {
            const char *s = table_cell(g, r, c);
            if (table_view_row(g, v, r) && s != NULL && strlen(s) > width[c])
                width[c] = strlen(s);
        }
    }
    /* Header, then a rule of dashes as wide as each column. */
    for (int pass = 0; pass < 2; pass++) {
        bool first = true;
        size_t pending = 0;
        for (size_t c = 0; c < g->ncols; c++) {
            if (!table_view_col(v, c))
                continue;
            char rule[256];
            size_t n = width[c] < sizeof rule - 1 ? width[c] : sizeof rule - 1;
            memset(rule, '-', n);
            rule[n] = '\0';
            table_put_cell(f, pass == 0 ? g->cols[c].title : rule, width[c],
                           g->cols[c].kind != TABLE_TEXT, first, &pending);
            first = false;
        }
        fputc('\n', f);
    }
    for (size_t r = 0; r < g->nrows; r++) {
        if (!table_view_row(g, v, r))
            continue;
        bool first = true;
        size_t pending = 0;
        for (size_t c = 0; c < g->ncols; c++) {
            if (!table_view_col(v, c))
                continue;
            table_put_cell(f, table_cell(g, r, c), width[c], g->cols[c].kind != TABLE_TEXT, first,
                           &pending);
            first = false;
        }
        fputc('\n', f);
    }
}

static void
table_print_md_cell(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

/* A GitHub-flavoured markdown pipe table, numbers right-aligned. */
void
table_print_markdown(FILE *f, const struct table *g, const struct table_view *v)
{
    for (int pass = 0; pass < 2; pass++) {
        fputc('|', f);
        for (size_t c = 0; c < g->ncols; c++) {
            if (!table_view_col(v, c))
                continue;
            if (pass == 0) {
                fputc(' ', f);
                table_print_md_cell(f, g->cols[c].title);
                fputs(" |", f);
            } else {
                fputs(g->cols[c].kind == TABLE_TEXT ? "---|" : "---:|", f);
            }
        }
        fputc('\n', f);
    }
    for (size_t r = 0; r < g->nrows; r++) {
        if (!table_view_row(g, v, r))
            continue;
        fputc('|', f);
        for (size_t c = 0; c < g->ncols; c++) {
            if (!table_view_col(v, c))
                continue;
            fputc(' ', f);
            table_print_md_cell(f, table_cell(g, r, c));
            fputs(" |", f);
        }
        fputc('\n', f);
    }
}

/* RFC 4180: a field holding a comma, quote or line break is quoted, quotes doubled. */
void
table_print_csv_field(FILE *f, const char *s)
{
    if (s == NULL)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void
table_print_csv(FILE *f, const struct table *g, const struct table_view *v)
{
    bool first = true;
    for (size_t c = 0; c < g->ncols; c++) {
        if (!table_view_col(v, c))
            continue;
        fputs(first ? "" : ",", f);
        table_print_csv_field(f, g->cols[c].key);
        first = false;
    }
    fputc('\n', f);
    for (size_t r = 0; r < g->nrows; r++) {
        if (!table_view_row(g, v, r))
            continue;
        first = true;
        for (size_t c = 0; c < g->ncols; c++) {
            if (!table_view_col(v, c))
                continue;
            fputs(first ? "" : ",", f);
            table_print_csv_field(f, table_cell(g, r, c));
            first = false;
        }
        fputc('\n', f);
    }
}

void
table_print_json_string(FILE *f, const char *s)
{
    /* Escaped by base/json.h, the escaper of scenario identities, streamed in pieces so
     * that no string is too long to print. */
    char piece[256];
    struct strbuf sb;
    strbuf_init(&sb, SIZE_MAX);
    fputc('"', f);
    while (*s != '\0') {
        size_t n = strnlen(s, sizeof piece - 1);
        memcpy(piece, s, n);
        piece[n] = '\0';
        s += n;
        strbuf_reset(&sb);
        if (json_append_string(&sb, piece, NULL) < 0)
            break; /* out of memory: the string ends early */
        fwrite(strbuf_str(&sb) + 1, 1, strbuf_len(&sb) - 2, f);
    }
    fputc('"', f);
    strbuf_release(&sb);
}

/* The view's rows as JSON objects, one a line, each preceded by ",\n" unless *first. */
void
table_print_json_objects(FILE *f, const struct table *g, const struct table_view *v, bool *first)
{
    for (size_t r = 0; r < g->nrows; r++) {
        if (!table_view_row(g, v, r))
            continue;
        fputs(*first ? "  {" : ",\n  {", f);
        *first = false;
        bool first_key = true;
        for (size_t c = 0; c < g->ncols; c++) {
            if (!table_view_col(v, c))
                continue;
            fputs(first_key ? "" : ", ", f);
            first_key = false;
            table_print_json_string(f, g->cols[c].key);
            fputs(": ", f);
            const char *s = table_cell(g, r, c);
            if (s == NULL)
                fputs("null", f);
            else if (g->cols[c].kind == TABLE_NUM)
                fputs(s, f);
            else if (g->cols[c].kind == TABLE_LIST)
                fprintf(f, "[%s]", s);
            else
                table_print_json_string(f, s);
        }
        fputc('}', f);
    }
}

int
table_parse_format(const char *s, bool allow_text, enum table_format *out)
{
    if (strcmp(s, "csv") == 0)
        *out = TABLE_FORMAT_CSV;
    else if (strcmp(s, "json") == 0)
        *out = TABLE_FORMAT_JSON;
    else if (allow_text && strcmp(s, "table") == 0)
        *out = TABLE_FORMAT_TEXT;
    else if (allow_text && strcmp(s, "markdown") == 0)
        *out = TABLE_FORMAT_MARKDOWN;
    else
        return -1;
    return 0;
}

void
table_print(FILE *f, const struct table *t, const struct table_view *v, enum table_format format)
{
    switch (format) {
    case TABLE_FORMAT_TEXT:
        table_print_text(f, t, v);
        break;
    case TABLE_FORMAT_MARKDOWN:
        table_print_markdown(f, t, v);
        break;
    case TABLE_FORMAT_CSV:
        table_print_csv(f, t, v);
        break;
    case TABLE_FORMAT_JSON: {
        bool first = true;
        fputs("[\n", f);
        table_print_json_objects(f, t, v, &first);
        fputs(first ? "]\n" : "\n]\n", f);
        break;
    }
    }
}
