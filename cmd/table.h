/*
 * table: a grid of text cells printed as an aligned text table, CSV, JSON objects or a
 * markdown table; what every command that prints rows (run, report, check, bench, dme) uses.
 *
 * A struct table has fixed columns (struct table_col: a key for CSV and JSON, a title for the
 * human-readable formats, and a kind that decides alignment and JSON quoting) and grows by
 * rows; cells are owned strings set with printf formats, NULL for an empty cell (null in
 * JSON). A struct table_view selects rows (those whose kind column holds a given text) and
 * columns (a bit mask) for one output, so one grid can print several tables. Text tables put
 * two spaces between columns, right-align numbers, print a header and a rule of dashes, and
 * never end a line in spaces. CSV follows RFC 4180.
 */
#ifndef FEDBITS_CMD_TABLE_H
#define FEDBITS_CMD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The most columns a table can have: a view's column mask is one bit per column. */
#define TABLE_MAX_COLS 64

enum table_kind {
    TABLE_TEXT, /* a string: JSON-quoted, left-aligned */
    TABLE_NUM,  /* a number, written as is in JSON, right-aligned */
    TABLE_LIST, /* comma-separated numbers: a JSON array */
};

struct table_col {
    const char *key;   /* CSV header and JSON key */
    const char *title; /* header of the human-readable formats */
    enum table_kind kind;
};

/* Cells are owned strings, NULL for an empty cell; row-major. */
struct table {
    const struct table_col *cols;
    size_t ncols;
    char **cells;
    size_t nrows;
    size_t cap;
};

/*
 * Which rows and columns an output shows: rows whose column kind_col equals kind (all rows
 * when kind is NULL) and the columns whose bit is set in mask.
 */
struct table_view {
    const char *kind;
    size_t kind_col;
    uint64_t mask;
};

enum table_format {
    TABLE_FORMAT_TEXT,
    TABLE_FORMAT_CSV,
    TABLE_FORMAT_JSON,
    TABLE_FORMAT_MARKDOWN,
};

/* An empty table with ncols (<= TABLE_MAX_COLS) columns cols (borrowed). */
struct table table_make(const struct table_col *cols, size_t ncols);
void table_release(struct table *t);
/* Appends an empty row; returns its index, or -1 when out of memory. */
long table_add_row(struct table *t);
const char *table_cell(const struct table *t, size_t row, size_t col);
/* Sets a cell from a printf format; -1 when out of memory. */
int table_set(struct table *t, size_t row, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Every column of t, every row. */
struct table_view table_all(const struct table *t);

/*
 * Parses "table", "csv", "json" or "markdown" ("table" and "markdown" only when allow_text);
 * -1 for anything else.
 */
int table_parse_format(const char *s, bool allow_text, enum table_format *out);
/* Prints the view in one format; JSON is one array of objects. */
void table_print(FILE *f, const struct table *t, const struct table_view *v,
                 enum table_format format);
void table_print_text(FILE *f, const struct table *t, const struct table_view *v);
void table_print_markdown(FILE *f, const struct table *t, const struct table_view *v);
void table_print_csv(FILE *f, const struct table *t, const struct table_view *v);
/* The view's rows as JSON objects, one a line, each preceded by ",\n" unless *first. */
void table_print_json_objects(FILE *f, const struct table *t, const struct table_view *v,
                              bool *first);
/* One RFC 4180 CSV field (nothing for NULL). */
void table_print_csv_field(FILE *f, const char *s);
/* s as a JSON string, quoted and escaped. */
void table_print_json_string(FILE *f, const char *s);
/* Writes v with the fewest significant digits (15 to 17) that read back as exactly v. */
void table_format_real(char *buf, size_t len, double v);

#endif
