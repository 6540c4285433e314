/* resume: run owners, input fingerprints and the checks before a resume. See resume.h. */
#include "sim/resume.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/mem.h"
#include "clients/dense_backend.h"
#include "base/banned.h"

/* Bytes read at a time while hashing an input file. */
#define RESUME_CHUNK_BYTES (1u << 16)

/*
 * The start time of process pid, as "BOOT-ID:TICKS" (the boot it belongs to and field 22 of
 * /proc/PID/stat, proc(5)), into out; "" when it cannot be read.
 */
static void
resume_start_of(long long pid, char *out, size_t len)
{
    out[0] = '\0';
    char path[64], stat[1024], boot[64] = "";
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *p = strrchr(stat, ')'); /* the command name may hold spaces */
    if (p == NULL)
        return;
    /* Fields 3, 4, ... follow; the start time is field 22. */
    for (int field = 2; field < 22 && p != NULL; field++)
        p = strchr(p + 1, ' ');
    if (p == NULL)
        return;
    char *end = NULL;
    unsigned long long ticks = strtoull(p + 1, &end, 10);
    if (end == p + 1)
        return;
    f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f != NULL) {
        if (fgets(boot, sizeof boot, f) == NULL)
            boot[0] = '\0';
        fclose(f);
        boot[strcspn(boot, "\n")] = '\0';
    }
    snprintf(out, len, "%s:%llu", boot, ticks);
}

void
resume_owner_self(struct store_owner *o)
{
    *o = (struct store_owner){ .pid = (int64_t)getpid() };
    if (gethostname(o->host, sizeof o->host) != 0)
        o->host[0] = '\0';
    o->host[sizeof o->host - 1] = '\0';
    resume_start_of((long long)o->pid, o->start, sizeof o->start);
}

bool
resume_owner_alive(const struct store_owner *o)
{
    struct store_owner self;
    resume_owner_self(&self);
    if (o->pid <= 0 || strcmp(o->host, self.host) != 0)
        return false;
    if (kill((pid_t)o->pid, 0) != 0 && errno != EPERM)
        return false;
    /* The pid is in use: by the same process only if it started at the same moment. */
    char start[STORE_START_BYTES];
    resume_start_of((long long)o->pid, start, sizeof start);
    return o->start[0] == '\0' || start[0] == '\0' || strcmp(start, o->start) == 0;
}

/* One input: the scenario key and its path. */
struct resume_input {
    const char *key;
    const char *path;
};

/* Appends "KEY\tSIZE\tHASH\tMTIME\tPATH\n" for one regular file to out (at *at, cap bytes). */
static int
resume_fingerprint_file(char *out, size_t cap, size_t *at, const struct resume_input *in,
                        unsigned char *buf, struct errbuf *eb)
{
    struct stat sb;
    if (stat(in->path, &sb) != 0) {
        int e = errno;
        errbuf_set_key(eb, in->key);
        errbuf_set_location(eb, in->path, 0, 0);
        return errbuf_set(eb, e == ENOENT ? -ERR_NOTFOUND : -ERR_IO, "%s: cannot read '%s': %s",
                          in->key, in->path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode))
        return 0; /* a folder (fashion_mnist): its files are read by name, not fingerprinted */
    FILE *f = fopen(in->path, "rb");
    if (f == NULL) {
        int e = errno;
        errbuf_set_key(eb, in->key);
        errbuf_set_location(eb, in->path, 0, 0);
        return errbuf_set(eb, -ERR_IO, "%s: cannot read '%s': %s", in->key, in->path, strerror(e));
    }
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    size_t n;
    unsigned long long size = 0;
    while ((n = fread(buf, 1, RESUME_CHUNK_BYTES, f)) > 0) {
        crypto_generichash_update(&h, buf, n);
        size += n;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        errbuf_set_key(eb, in->key);
        errbuf_set_location(eb, in->path, 0, 0);
        return errbuf_set(eb, -ERR_IO, "%s: error reading '%s'", in->key, in->path);
    }
    unsigned char digest[32];
    char hex[65];
    crypto_generichash_final(&h, digest, sizeof digest);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    int w = snprintf(out + *at, cap - *at, "%s\t%llu\t%s\t%lld\t%s\n", in->key, size, hex,
                     (long long)sb.st_mtime, in->path);
    if (w < 0 || (size_t)w >= cap - *at)
        return errbuf_set(eb, -ERR_INTERNAL, "input fingerprint buffer too small");
    *at += (size_t)w;
    return 0;
}

int
resume_inputs(const struct scenario *s, char **out, struct errbuf *eb)
{
    *out = NULL;
    const struct resume_input in[] = {
        { "data.path", s->data.path },
        { "data.labels_path", s->data.labels_path },
        { "data.test_path", s->data.test_path },
        { "data.test_labels_path", s->data.test_labels_path },
        { "population.compute.trace", s->population.compute_trace },
        { "population.network.trace", s->population.network_trace },
        { "population.availability.trace", s->population.availability_trace },
    };
    size_t n_in = sizeof in / sizeof in[0];
    size_t cap = 1;
    for (size_t i = 0; i < n_in; i++)
        cap += strlen(in[i].key) + strlen(in[i].path) + 128;
    char *text = mem_alloc(cap);
    unsigned char *buf = mem_alloc(RESUME_CHUNK_BYTES);
    int rc = 0;
    if (text == NULL || buf == NULL) {
        rc = errbuf_set(eb, -ERR_NOMEM, "out of memory fingerprinting the inputs");
        goto out;
    }
    text[0] = '\0';
    size_t at = 0;
    for (size_t i = 0; i < n_in && rc == 0; i++) {
        /* Fashion-MNIST's empty path is the Debian package's folder: nothing to hash here. */
        if (in[i].path[0] != '\0')
            rc = resume_fingerprint_file(text, cap, &at, &in[i], buf, eb);
    }
out:
    mem_free(buf);
    if (rc < 0) {
        mem_free(text);
        return rc;
    }
    *out = text;
    return 0;
}

int
resume_record(struct store *st, int64_t run_id, const struct scenario *s, struct errbuf *eb)
{
    struct store_owner self;
    resume_owner_self(&self);
    char *inputs = NULL;
    int rc = store_set_run_owner(st, run_id, &self, eb);
    if (rc == 0) {
        rc = resume_inputs(s, &inputs, eb);
        if (rc == -ERR_NOTFOUND || rc == -ERR_IO) {
            /* Loading the data reports it (as it always has); nothing to fingerprint. */
            errbuf_clear(eb);
            rc = 0;
        }
    }
    if (rc == 0)
        rc = store_set_run_inputs(st, run_id, inputs, dense_backend_kernel(), eb);
    mem_free(inputs);
    return rc;
}

/*
 * Field f (0-based, tab-separated) of the line starting at line, as a pointer and length;
 * NULL when the line has fewer fields.
 */
static const char *
resume_field(const char *line, int f, size_t *len)
{
    const char *p = line;
    for (int i = 0; i < f; i++) {
        p = strpbrk(p, "\t\n");
        if (p == NULL || *p != '\t')
            return NULL;
        p++;
    }
    *len = strcspn(p, "\t\n");
    return p;
}

/* Compares recorded with current inputs; -ERR_INVALID naming the first file that differs. */
static int
resume_compare_inputs(const char *recorded, const char *current, int64_t run_id, struct errbuf *eb)
{
    for (const char *r = recorded; *r != '\0';) {
        size_t klen = 0, slen = 0, hlen = 0, plen = 0;
        const char *key = resume_field(r, 0, &klen);
        const char *size = resume_field(r, 1, &slen);
        const char *hash = resume_field(r, 2, &hlen);
        const char *path = resume_field(r, 4, &plen);
        if (key == NULL || size == NULL || hash == NULL || path == NULL)
            return errbuf_set(eb, -ERR_CORRUPT, "run %lld: unreadable runs.inputs",
                              (long long)run_id);
        const char *c = current;
        while (*c != '\0') {
            size_t ck;
            const char *ckey = resume_field(c, 0, &ck);
            if (ckey != NULL && ck == klen && memcmp(ckey, key, klen) == 0)
                break;
            c += strcspn(c, "\n");
            c += *c == '\n';
        }
        size_t cs = 0, ch = 0;
        const char *csize = *c != '\0' ? resume_field(c, 1, &cs) : NULL;
        const char *chash = *c != '\0' ? resume_field(c, 2, &ch) : NULL;
        if (csize == NULL || chash == NULL || cs != slen || memcmp(csize, size, slen) != 0 ||
            ch != hlen || memcmp(chash, hash, hlen) != 0) {
            errbuf_set_key(eb, "");
            return errbuf_set(eb, -ERR_INVALID,
                              "%.*s: '%.*s' is not the file run %lld read (%s): the resumed "
                              "rounds would not match; restore it or start a new run",
                              (int)klen, key, (int)plen, path, (long long)run_id,
                              csize == NULL                                  ? "no longer an input"
                              : cs != slen || memcmp(csize, size, slen) != 0 ? "its size changed"
                                                                             : "its bytes changed");
        }
        r += strcspn(r, "\n");
        r += *r == '\n';
    }
    return 0;
}

/* -ERR_INVALID when run_id is running and its owner is alive. */
static int
resume_check_owner(struct store *st, int64_t run_id, struct errbuf *eb)
{
    struct store_owner owner;
    char status[16];
    int rc = store_run_owner(st, run_id, &owner, status, eb);
    if (rc == 0 && strcmp(status, "running") == 0 && resume_owner_alive(&owner))
        rc = errbuf_set(eb, -ERR_INVALID,
                        "run %lld is still running: process %lld on %s owns it (stop it, or "
                        "wait for it to end)",
                        (long long)run_id, (long long)owner.pid, owner.host);
    return rc;
}

int
resume_claim(struct store *st, int64_t run_id, const struct scenario *s, struct errbuf *eb)
{
    struct store_owner self;
    resume_owner_self(&self);
    char kernel[64];
    char *recorded = NULL, *current = NULL;
    /* First without the write lock, which a live owner may be holding, then under it. */
    int rc = resume_check_owner(st, run_id, eb);
    if (rc == 0)
        rc = store_begin(st, eb);
    if (rc < 0)
        return rc;
    rc = resume_check_owner(st, run_id, eb);
    if (rc == 0)
        rc = store_run_inputs(st, run_id, &recorded, kernel, eb);
    if (rc == 0 && recorded != NULL) {
        rc = resume_inputs(s, &current, eb);
        if (rc == -ERR_NOTFOUND)
            errbuf_prefix(eb,
                          "an input of run %lld is missing (a relative path resumes from the "
                          "directory the run started in)",
                          (long long)run_id);
        if (rc == 0)
            rc = resume_compare_inputs(recorded, current, run_id, eb);
    }
    if (rc == 0 && kernel[0] != '\0' && strcmp(kernel, dense_backend_kernel()) != 0)
        rc = errbuf_set(eb, -ERR_INVALID,
                        "run %lld computed with the BLAS kernel '%s', this process has '%s', "
                        "which changes the last bits (set OPENBLAS_CORETYPE=%s)",
                        (long long)run_id, kernel, dense_backend_kernel(), kernel);
    if (rc == 0)
        rc = store_set_run_owner(st, run_id, &self, eb);
    mem_free(recorded);
    mem_free(current);
    if (rc == 0)
        return store_end(st, true, eb);
    store_end(st, false, eb);
    return rc;
}
