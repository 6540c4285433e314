/* sweep: grid and zip expansion of a scenario's sweep section. See sweep.h. */
#include "sim/sweep.h"

#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/strbuf.h"
#include "sim/scenario.h"
#include "sim/ynode.h"
#include "base/banned.h"

/* Longest override text one combination may produce ("key=value"), and the key list. */
#define SWEEP_TEXT_MAX ((size_t)1 << 20)

/* Writes node n as flow YAML: scalars quoted when they were, collections in [] / {}. */
static int
sweep_serialise(struct strbuf *t, const struct ynode *n)
{
    int rc = 0;
    if (n->kind == YNODE_SCALAR) {
        if (!n->quoted)
            return strbuf_appends(t, n->text, NULL);
        rc = strbuf_appends(t, "\"", NULL);
        for (const char *p = n->text; rc == 0 && *p != '\0'; p++) {
            if (*p == '"' || *p == '\\')
                rc = strbuf_appends(t, "\\", NULL);
            if (rc == 0)
                rc = strbuf_appendc(t, *p, NULL);
        }
        return rc == 0 ? strbuf_appends(t, "\"", NULL) : rc;
    }
    bool map = n->kind == YNODE_MAP;
    rc = strbuf_appends(t, map ? "{" : "[", NULL);
    for (size_t i = 0; rc == 0 && i < n->n; i++) {
        if (i > 0)
            rc = strbuf_appends(t, ", ", NULL);
        if (rc == 0 && map) {
            rc = strbuf_appends(t, n->keys[i], NULL);
            if (rc == 0)
                rc = strbuf_appends(t, ": ", NULL);
        }
        if (rc == 0)
            rc = sweep_serialise(t, n->items[i]);
    }
    return rc == 0 ? strbuf_appends(t, map ? "}" : "]", NULL) : rc;
}

struct sweep_axis {
    const char *key;
    const struct ynode *values; /* a sequence */
};

static int
sweep_error(struct errbuf *eb, const char *name, const struct ynode *n, int code, const char *fmt,
            const char *arg)
{
    errbuf_set_location(eb, name, n->line, n->column);
    return errbuf_set(eb, code, fmt, arg);
}

/* Collects the axes of one mapping (grid or zip part). */
static int
sweep_axes(const struct ynode *m, struct sweep_axis *axes, size_t *n_axes, size_t cap,
           const char *name, struct errbuf *eb)
{
    if (m->kind != YNODE_MAP)
        return sweep_error(eb, name, m, -ERR_INVALID, "%s: expected a mapping of key: [values]",
                           "sweep");
    for (size_t i = 0; i < m->n; i++) {
        const struct ynode *v = m->items[i];
        if (!scenario_key_exists(m->keys[i])) {
            errbuf_set_location(eb, name, m->key_lines[i], m->key_columns[i]);
            return errbuf_set(eb, -ERR_INVALID, "sweep: unknown scenario key '%s'", m->keys[i]);
        }
        if (v->kind != YNODE_SEQ || v->n == 0)
            return sweep_error(eb, name, v, -ERR_INVALID,
                               "sweep: '%s' needs a non-empty list of values", m->keys[i]);
        for (size_t k = 0; k < *n_axes; k++) {
            if (strcmp(axes[k].key, m->keys[i]) == 0) {
                errbuf_set_location(eb, name, m->key_lines[i], m->key_columns[i]);
                return errbuf_set(eb, -ERR_INVALID, "sweep: '%s' is swept twice", m->keys[i]);
            }
        }
        if (*n_axes == cap)
            return sweep_error(eb, name, v, -ERR_RANGE, "sweep: too many keys (%s)", "max 64");
        axes[(*n_axes)++] = (struct sweep_axis){ .key = m->keys[i], .values = v };
    }
    return 0;
}

void
sweep_release(struct sweep *sw)
{
    if (sw == NULL)
        return;
    if (sw->sets != NULL) {
        for (size_t i = 0; i < sw->n; i++) {
            if (sw->sets[i] == NULL)
                continue;
            for (size_t k = 0; k < sw->n_keys; k++)
                mem_free(sw->sets[i][k]);
            mem_free(sw->sets[i]);
        }
    }
    mem_free(sw->sets);
    mem_free(sw->lines);
    mem_free(sw->columns);
    mem_free(sw->unset);
    mem_free(sw->label_keys);
    *sw = (struct sweep){ 0 };
}

/* True for an unquoted `~` or `null`: the key is not set in this combination. */
static bool
sweep_is_unset(const struct ynode *v)
{
    return v->kind == YNODE_SCALAR && !v->quoted &&
           (strcmp(v->text, "~") == 0 || strcmp(v->text, "null") == 0);
}

/* Writes "key=value" for value node v into *set (owned). Errors located at v. */
static int
sweep_override(char **set, const char *key, const struct ynode *v, const char *name,
               struct errbuf *eb)
{
    struct strbuf t;
    strbuf_init(&t, SWEEP_TEXT_MAX);
    int rc = strbuf_appendf(&t, NULL, "%s=", key);
    if (rc == 0)
        rc = sweep_serialise(&t, v);
    *set = rc == 0 ? strbuf_detach(&t, NULL) : NULL;
    strbuf_release(&t);
    if (rc == 0 && *set == NULL)
        rc = -ERR_NOMEM;
    if (rc == -ERR_RANGE)
        return sweep_error(eb, name, v, rc, "sweep: %s: value longer than 1 MiB", key);
    if (rc < 0)
        return errbuf_set(eb, rc, "out of memory expanding the sweep");
    return 0;
}

int
sweep_parse(struct sweep *out, const char *name, const char *text, size_t len, struct errbuf *eb)
{
    *out = (struct sweep){ 0 };
    struct ynode *root = NULL;
    int rc = ynode_parse(name, text, len, &root, eb);
    if (rc < 0)
        return rc;
    const struct ynode *sw = ynode_map_get(root, "sweep");
    if (sw == NULL)
        goto out;
    enum { MAX_AXES = 64 };
    struct sweep_axis grid[MAX_AXES], zip[MAX_AXES];
    size_t n_grid = 0, n_zip = 0;
    const struct ynode *g = ynode_map_get(sw, "grid"), *z = ynode_map_get(sw, "zip");
    if (sw->kind == YNODE_MAP && (g != NULL || z != NULL)) {
        for (size_t i = 0; i < sw->n; i++) {
            if (strcmp(sw->keys[i], "grid") != 0 && strcmp(sw->keys[i], "zip") != 0) {
                errbuf_set_location(eb, name, sw->key_lines[i], sw->key_columns[i]);
                rc = errbuf_set(eb, -ERR_INVALID,
                                "sweep: unknown key '%s' beside grid/zip (put it in one of them)",
                                sw->keys[i]);
                goto out;
            }
        }
        if (g != NULL)
            rc = sweep_axes(g, grid, &n_grid, MAX_AXES, name, eb);
        if (rc == 0 && z != NULL)
            rc = sweep_axes(z, zip, &n_zip, MAX_AXES, name, eb);
    } else {
        rc = sweep_axes(sw, grid, &n_grid, MAX_AXES, name, eb);
    }
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < n_zip; i++) {
        for (size_t k = 0; k < n_grid; k++) {
            if (strcmp(zip[i].key, grid[k].key) == 0) {
                rc = sweep_error(eb, name, zip[i].values, -ERR_INVALID,
                                 "sweep: '%s' is both in grid and zip", zip[i].key);
                goto out;
            }
        }
        if (zip[i].values->n != zip[0].values->n) {
            rc = sweep_error(eb, name, zip[i].values, -ERR_INVALID,
                             "sweep: zip lists must have equal lengths ('%s' differs)", zip[i].key);
            goto out;
        }
    }
    size_t total = n_zip > 0 ? zip[0].values->n : 1;
    for (size_t k = 0; k < n_grid; k++) {
        total *= grid[k].values->n;
        if (total > SWEEP_MAX_COMBINATIONS) {
            rc =
                sweep_error(eb, name, sw, -ERR_RANGE, "sweep: more than %s combinations", "100000");
            goto out;
        }
    }
    if (n_grid + n_zip == 0) {
        rc = sweep_error(eb, name, sw, -ERR_INVALID, "sweep: no keys to sweep%s", "");
        goto out;
    }

    out->n_keys = n_grid + n_zip;
    out->sets = mem_calloc(total, sizeof *out->sets);
    out->lines = mem_calloc(total * out->n_keys, sizeof *out->lines);
    out->columns = mem_calloc(total * out->n_keys, sizeof *out->columns);
    out->unset = mem_calloc(total * out->n_keys, sizeof *out->unset);
    struct strbuf labels;
    strbuf_init(&labels, SWEEP_TEXT_MAX);
    if (out->sets == NULL || out->lines == NULL || out->columns == NULL || out->unset == NULL)
        goto nomem;
    out->n = total;
    for (size_t k = 0; k < n_grid + n_zip; k++) {
        const struct sweep_axis *a = k < n_grid ? &grid[k] : &zip[k - n_grid];
        if ((k > 0 && strbuf_appendc(&labels, ',', NULL) < 0) ||
            strbuf_appends(&labels, a->key, NULL) < 0) {
            strbuf_release(&labels);
            goto nomem;
        }
    }
    out->label_keys = strbuf_detach(&labels, NULL);
    if (out->label_keys == NULL)
        goto nomem;
    for (size_t c = 0; c < total; c++) {
        out->sets[c] = mem_calloc(out->n_keys, sizeof **out->sets);
        if (out->sets[c] == NULL)
            goto nomem;
        /* Grid: mixed radix with the first key slowest; zip: the position c mod its length. */
        size_t rest = n_zip > 0 ? c / zip[0].values->n : c;
        size_t zpos = n_zip > 0 ? c % zip[0].values->n : 0;
        size_t idx[MAX_AXES];
        for (size_t k = n_grid; k-- > 0;) {
            idx[k] = rest % grid[k].values->n;
            rest /= grid[k].values->n;
        }
        for (size_t k = 0; k < n_grid + n_zip; k++) {
            const struct sweep_axis *a = k < n_grid ? &grid[k] : &zip[k - n_grid];
            const struct ynode *v = a->values->items[k < n_grid ? idx[k] : zpos];
            rc = sweep_override(&out->sets[c][k], a->key, v, name, eb);
            if (rc < 0)
                goto out;
            out->lines[c * out->n_keys + k] = v->line;
            out->columns[c * out->n_keys + k] = v->column;
            out->unset[c * out->n_keys + k] = sweep_is_unset(v);
        }
    }
    goto out;
nomem:
    rc = errbuf_set(eb, -ERR_NOMEM, "out of memory expanding the sweep");
out:
    if (rc < 0)
        sweep_release(out);
    ynode_free(root);
    return rc;
}
