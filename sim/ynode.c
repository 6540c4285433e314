/* ynode: libyaml events to a located node tree. See ynode.h. */
#include "sim/ynode.h"

#include <string.h>
#include <yaml.h>

#include "base/mem.h"
#include "base/banned.h"

/* Nesting limit: a scenario is a few levels deep; this bounds recursion on hostile input. */
#define YNODE_MAX_DEPTH 64

struct ynode *
ynode_new(enum ynode_kind kind, const char *text, long line, long column)
{
    struct ynode *n = mem_calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    n->kind = kind;
    n->line = line;
    n->column = column;
    if (text != NULL) {
        n->text = mem_strdup(text);
        if (n->text == NULL) {
            mem_free(n);
            return NULL;
        }
    }
    return n;
}

void
ynode_free(struct ynode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys != NULL)
            mem_free(n->keys[i]);
        ynode_free(n->items[i]);
    }
    mem_free(n->keys);
    mem_free(n->key_lines);
    mem_free(n->key_columns);
    mem_free(n->items);
    mem_free(n->text);
    mem_free(n);
}

static int
ynode_grow(struct ynode *n)
{
    if (n->n < n->cap_)
        return 0;
    size_t cap = n->cap_ == 0 ? 8 : n->cap_ * 2;
    struct ynode **items = mem_realloc(n->items, cap * sizeof *items);
    if (items == NULL)
        return -ERR_NOMEM;
    n->items = items;
    if (n->kind == YNODE_MAP) {
        char **keys = mem_realloc(n->keys, cap * sizeof *keys);
        if (keys == NULL)
            return -ERR_NOMEM;
        n->keys = keys;
        long *kl = mem_realloc(n->key_lines, cap * sizeof *kl);
        if (kl == NULL)
            return -ERR_NOMEM;
        n->key_lines = kl;
        long *kc = mem_realloc(n->key_columns, cap * sizeof *kc);
        if (kc == NULL)
            return -ERR_NOMEM;
        n->key_columns = kc;
    }
    n->cap_ = cap;
    return 0;
}

long
ynode_map_index(const struct ynode *m, const char *key)
{
    if (m == NULL || m->kind != YNODE_MAP)
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i], key) == 0)
            return (long)i;
    }
    return -1;
}

struct ynode *
ynode_map_get(const struct ynode *m, const char *key)
{
    long i = ynode_map_index(m, key);
    return i < 0 ? NULL : m->items[i];
}

int
ynode_map_set(struct ynode *m, const char *key, struct ynode *value, long line, long column)
{
    long i = ynode_map_index(m, key);
    if (i >= 0) {
        ynode_free(m->items[i]);
        m->items[i] = value;
        return 0;
    }
    char *k = mem_strdup(key);
    if (k == NULL || ynode_grow(m) < 0) {
        mem_free(k);
        ynode_free(value);
        return -ERR_NOMEM;
    }
    m->keys[m->n] = k;
    m->key_lines[m->n] = line;
    m->key_columns[m->n] = column;
    m->items[m->n] = value;
    m->n++;
    return 0;
}

int
ynode_seq_push(struct ynode *s, struct ynode *item)
{
    if (ynode_grow(s) < 0) {
        ynode_free(item);
        return -ERR_NOMEM;
    }
    s->items[s->n++] = item;
    return 0;
}

struct ynode_parser {
    yaml_parser_t parser;
    const char *name;
    struct errbuf *eb;
};

static int
ynode_error_at(struct ynode_parser *p, const yaml_mark_t *mark, int code, const char *what)
{
    errbuf_set_location(p->eb, p->name, (long)mark->line + 1, (long)mark->column + 1);
    return errbuf_set(p->eb, code, "%s", what);
}

static int
ynode_next(struct ynode_parser *p, yaml_event_t *ev)
{
    if (yaml_parser_parse(&p->parser, ev))
        return 0;
    const yaml_mark_t *mark = &p->parser.problem_mark;
    errbuf_set_location(p->eb, p->name, (long)mark->line + 1, (long)mark->column + 1);
    if (p->parser.error == YAML_MEMORY_ERROR)
        return errbuf_set(p->eb, -ERR_NOMEM, "out of memory parsing YAML");
    if (p->parser.context != NULL)
        return errbuf_set(p->eb, -ERR_CORRUPT, "invalid YAML: %s %s",
                          p->parser.problem != NULL ? p->parser.problem : "syntax error",
                          p->parser.context);
    return errbuf_set(p->eb, -ERR_CORRUPT, "invalid YAML: %s",
                      p->parser.problem != NULL ? p->parser.problem : "syntax error");
}

static int ynode_node(struct ynode_parser *p, yaml_event_t *ev, int depth, struct ynode **out);

/* Reads the entries of a mapping or sequence whose start event was just consumed. */
static int
ynode_collection(struct ynode_parser *p, struct ynode *n, int depth)
{
    for (;;) {
        yaml_event_t ev;
        int rc = ynode_next(p, &ev);
        if (rc < 0)
            return rc;
        if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (n->kind == YNODE_SEQ) {
            struct ynode *item = NULL;
            rc = ynode_node(p, &ev, depth + 1, &item);
            yaml_event_delete(&ev);
            if (rc == 0)
                rc = ynode_seq_push(n, item);
            if (rc < 0)
                return rc;
            continue;
        }
        /* A mapping: ev is the key. */
        if (ev.type != YAML_SCALAR_EVENT) {
            rc = ynode_error_at(p, &ev.start_mark, -ERR_CORRUPT,
                                "mapping keys must be plain scalars");
            yaml_event_delete(&ev);
            return rc;
        }
        long kline = (long)ev.start_mark.line + 1, kcol = (long)ev.start_mark.column + 1;
        if (ynode_map_index(n, (const char *)ev.data.scalar.value) >= 0) {
            errbuf_set_location(p->eb, p->name, kline, kcol);
            rc = errbuf_set(p->eb, -ERR_INVALID, "duplicate key '%s'",
                            (const char *)ev.data.scalar.value);
            yaml_event_delete(&ev);
            return rc;
        }
        char *key = mem_strdup((const char *)ev.data.scalar.value);
        yaml_event_delete(&ev);
        if (key == NULL)
            return -ERR_NOMEM;
        yaml_event_t vev;
        rc = ynode_next(p, &vev);
        if (rc < 0) {
            mem_free(key);
            return rc;
        }
        struct ynode *value = NULL;
        rc = ynode_node(p, &vev, depth + 1, &value);
        yaml_event_delete(&vev);
        if (rc == 0)
            rc = ynode_map_set(n, key, value, kline, kcol);
        mem_free(key);
        if (rc < 0)
            return rc;
    }
}

/* Builds the node that starts with event ev (not consumed here). */
static int
ynode_node(struct ynode_parser *p, yaml_event_t *ev, int depth, struct ynode **out)
{
    *out = NULL;
    long line = (long)ev->start_mark.line + 1, col = (long)ev->start_mark.column + 1;
    if (depth > YNODE_MAX_DEPTH)
        return ynode_error_at(p, &ev->start_mark, -ERR_CORRUPT, "YAML nested too deeply");
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return ynode_error_at(p, &ev->start_mark, -ERR_UNSUPPORTED,
                              "YAML aliases are not supported in scenarios");
    case YAML_SCALAR_EVENT: {
        if (ev->data.scalar.tag != NULL)
            return ynode_error_at(p, &ev->start_mark, -ERR_UNSUPPORTED,
                                  "YAML tags are not supported in scenarios");
        if (ev->data.scalar.anchor != NULL)
            return ynode_error_at(p, &ev->start_mark, -ERR_UNSUPPORTED,
                                  "YAML anchors are not supported in scenarios");
        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length) != NULL)
            return ynode_error_at(p, &ev->start_mark, -ERR_CORRUPT,
                                  "scalar contains a NUL character");
        struct ynode *n = ynode_new(YNODE_SCALAR, (const char *)ev->data.scalar.value, line, col);
        if (n == NULL)
            return -ERR_NOMEM;
        n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
        *out = n;
        return 0;
    }
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *anchor =
            map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        if (anchor != NULL)
            return ynode_error_at(p, &ev->start_mark, -ERR_UNSUPPORTED,
                                  "YAML anchors are not supported in scenarios");
        const yaml_char_t *tag = map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
        if (tag != NULL)
            return ynode_error_at(p, &ev->start_mark, -ERR_UNSUPPORTED,
                                  "YAML tags are not supported in scenarios");
        struct ynode *n = ynode_new(map ? YNODE_MAP : YNODE_SEQ, NULL, line, col);
        if (n == NULL)
            return -ERR_NOMEM;
        int rc = ynode_collection(p, n, depth);
        if (rc < 0) {
            ynode_free(n);
            return rc;
        }
        *out = n;
        return 0;
    }
    default:
        return ynode_error_at(p, &ev->start_mark, -ERR_CORRUPT, "unexpected YAML event");
    }
}

int
ynode_parse(const char *name, const char *text, size_t len, struct ynode **root, struct errbuf *eb)
{
    *root = NULL;
    struct ynode_parser p = { .name = name, .eb = eb };
    if (!yaml_parser_initialize(&p.parser))
        return errbuf_set(eb, -ERR_NOMEM, "out of memory starting the YAML parser");
    yaml_parser_set_input_string(&p.parser, (const unsigned char *)text, len);
    struct ynode *doc = NULL;
    int rc = 0;
    bool seen_doc = false;
    for (;;) {
        yaml_event_t ev;
        rc = ynode_next(&p, &ev);
        if (rc < 0)
            break;
        yaml_event_type_t type = ev.type;
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_DOCUMENT_START_EVENT && seen_doc) {
            rc = ynode_error_at(&p, &ev.start_mark, -ERR_UNSUPPORTED,
                                "a scenario file holds one YAML document");
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_DOCUMENT_START_EVENT)
            seen_doc = true;
        if (type == YAML_SCALAR_EVENT || type == YAML_MAPPING_START_EVENT ||
            type == YAML_SEQUENCE_START_EVENT || type == YAML_ALIAS_EVENT) {
            rc = ynode_node(&p, &ev, 0, &doc);
        }
        yaml_event_delete(&ev);
        if (rc < 0)
            break;
    }
    yaml_parser_delete(&p.parser);
    if (rc < 0) {
        ynode_free(doc);
        if (rc == -ERR_NOMEM && (eb == NULL || eb->msg[0] == '\0'))
            errbuf_set(eb, rc, "out of memory parsing '%s'", name);
        return rc;
    }
    /* An explicit empty document ("---") is a plain empty scalar: treat it as no document. */
    if (doc != NULL && doc->kind == YNODE_SCALAR && !doc->quoted && doc->text[0] == '\0') {
        ynode_free(doc);
        doc = NULL;
    }
    if (doc == NULL) {
        doc = ynode_new(YNODE_MAP, NULL, 1, 1);
        if (doc == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory");
    }
    *root = doc;
    return 0;
}
