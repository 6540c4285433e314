/*
 * fuzz_driver: replays every file of the corpus directories given as arguments through
 * LLVMFuzzerTestOneInput(), then FUZZ_MUTATIONS seeded mutations of each (bit flips, byte
 * overwrites, insertions, deletions, truncations, splices with another corpus file).
 * Deterministic: the mutations come from a keyed stream, so a failure reproduces.
 * Usage: fuzz_X [--mutations N] DIR_OR_FILE...
 */
#include <dirent.h>
#include <gsl/gsl_errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/rng.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_MAX_INPUT (1 << 20)

struct corpus {
    uint8_t **data;
    size_t *len;
    size_t n;
};

static void
corpus_add_file(struct corpus *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    uint8_t *buf = malloc(FUZZ_MAX_INPUT);
    size_t len = fread(buf, 1, FUZZ_MAX_INPUT, f);
    fclose(f);
    c->data = realloc(c->data, (c->n + 1) * sizeof *c->data);
    c->len = realloc(c->len, (c->n + 1) * sizeof *c->len);
    c->data[c->n] = buf;
    c->len[c->n] = len;
    c->n++;
}

static int
corpus_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
corpus_add(struct corpus *c, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        corpus_add_file(c, path);
        return;
    }
    DIR *d = opendir(path);
    char *names[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 4096) {
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, corpus_cmp); /* a stable order keeps runs reproducible */
    for (size_t i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        corpus_add_file(c, full);
        free(names[i]);
    }
}

static size_t
mutate(struct rng *r, uint8_t *buf, size_t len, const struct corpus *c)
{
    unsigned ops = 1 + (unsigned)rng_below(r, 4);
    for (unsigned k = 0; k < ops; k++) {
        switch (rng_below(r, 6)) {
        case 0: /* flip a bit */
            if (len > 0)
                buf[rng_below(r, len)] ^= (uint8_t)(1u << rng_below(r, 8));
            break;
        case 1: { /* overwrite with an interesting byte */
            static const uint8_t bytes[] = { 0,    ':', '\n', '{', '}', '[', ']',  '-',  '9', '"',
                                             '\'', '&', '*',  '!', '#', ' ', 0xff, 0x80, '.', ',' };
            if (len > 0)
                buf[rng_below(r, len)] = bytes[rng_below(r, sizeof bytes)];
            break;
        }
        case 2: /* insert a byte */
            if (len < FUZZ_MAX_INPUT) {
                size_t at = (size_t)rng_below(r, len + 1);
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (uint8_t)rng_u32(r);
                len++;
            }
            break;
        case 3: /* delete a run of bytes */
            if (len > 0) {
                size_t at = (size_t)rng_below(r, len);
                size_t n = 1 + (size_t)rng_below(r, len - at < 16 ? len - at : 16);
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
            }
            break;
        case 4: /* truncate */
            len = (size_t)rng_below(r, len + 1);
            break;
        default: { /* splice in a slice of another corpus file */
            size_t j = (size_t)rng_below(r, c->n);
            if (c->len[j] == 0)
                break;
            size_t from = (size_t)rng_below(r, c->len[j]);
            size_t n = 1 + (size_t)rng_below(r, c->len[j] - from);
            size_t at = (size_t)rng_below(r, len + 1);
            if (len + n > FUZZ_MAX_INPUT)
                break;
            memmove(buf + at + n, buf + at, len - at);
            memcpy(buf + at, c->data[j] + from, n);
            len += n;
            break;
        }
        }
    }
    return len;
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 2;
    gsl_set_error_handler_off();
    unsigned long mutations = 300;
    struct corpus c = { 0 };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mutations") == 0 && i + 1 < argc) {
            mutations = strtoul(argv[++i], NULL, 10);
            continue;
        }
        corpus_add(&c, argv[i]);
    }
    if (c.n == 0) {
        fprintf(stderr, "usage: %s [--mutations N] DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    uint8_t *buf = malloc(FUZZ_MAX_INPUT);
    unsigned long runs = 0;
    for (size_t i = 0; i < c.n; i++) {
        LLVMFuzzerTestOneInput(c.data[i], c.len[i]);
        runs++;
        struct rng r;
        rng_init_stream(&r, 1, RNG_PURPOSE_TEST, i, 0);
        for (unsigned long m = 0; m < mutations; m++) {
            memcpy(buf, c.data[i], c.len[i]);
            size_t len = mutate(&r, buf, c.len[i], &c);
            LLVMFuzzerTestOneInput(buf, len);
            runs++;
        }
    }
    printf("%s: %zu corpus files, %lu inputs, no crash\n", argv[0], c.n, runs);
    for (size_t i = 0; i < c.n; i++)
        free(c.data[i]);
    free(c.data);
    free(c.len);
    free(buf);
    return 0;
}
