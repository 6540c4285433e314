/*
 * run_checkpoint: the run's state as bytes, and back (output.checkpoint_every, `fedbits
 * resume`).
 *
 * A checkpoint is taken between events, once the round that triggered it is stored and
 * every job started at that instant has been computed, so no aggregation or secure
 * aggregation is half done. It holds everything a resumed run needs to continue exactly
 * as the interrupted one would have: the global model, the server optimizer's state, the
 * pending events (with their sequence numbers), the jobs still in flight (their computed
 * updates and messages, async runs), the error-feedback residuals, the counters of the open
 * round and of the run, and the event fingerprint's hash state. Data, population and every
 * random stream are functions of the seed and are rebuilt, not stored.
 *
 * A checkpoint starts with a fixed header that says which run, configuration, data and
 * build it belongs to, then a body of sections. The header's integers are little-endian;
 * the body holds the host's own representation of the run's structures (a checkpoint is
 * read back by the same fedbits version, which the header records and the loader checks).
 *
 *   OFFSET  SIZE  MEANING
 *   0       6     magic "FBCKPT"
 *   6       2     format version, two ASCII digits: "03" (this layout). "02" lacked the
 *                 adaptive clip (world) and the within-clip flag (jobs); "01" was the
 *                 first, unversioned layout, which had no header beyond the magic.
 *   8       8     length of the whole checkpoint in bytes, header included
 *   16      32    checksum: BLAKE2b-256 (crypto_generichash, no key) of bytes [0, 16)
 *                 followed by bytes [48, length)
 *   48      8     run id (runs.id) it was taken from
 *   56      32    config hash: runs.config_hash of that run, 32 lowercase hex digits
 *                 (store_config_hash() of the scenario's identity)
 *   88      32    data fingerprint: BLAKE2b-256 of the data set as loaded (shapes, features,
 *                 labels and every client's rows; run_checkpoint_data_fingerprint())
 *   120     32    fedbits version that wrote it (FEDBITS_VERSION), NUL-padded
 *   152     8     round: the last round stored before it was taken (checkpoints.round)
 *   160     8     model parameters (dim)
 *   168     8     pool size (concurrent jobs)
 *   176     8     clients
 *   184     ...   body: the sections of run_checkpoint_sections[] in table order, each
 *                 starting where the previous one ends (no padding, no section tags).
 *                 Every count and length is a uint64_t and every value has its in-memory
 *                 size and byte order (floats are IEEE-754 binary32), so offsets inside
 *                 the body follow from the header's dim, pool size and clients:
 *                   summary    sizeof(struct run_summary) bytes, padding included
 *                   world      each field of run_checkpoint_world_fields[], in order:
 *                              loop.now, pool.next_gen, model.version, async.selections,
 *                              open.round, .closed, .received, .pending, .train_loss_sum,
 *                              .staleness_sum, .rec, loop.fp (the event hash state),
 *                              dp.clip (the central-DP clip of the open round)
 *                   model      dim floats
 *                   optimizer  8-byte count n, n floats (server_opt_state_get())
 *                   events     8-byte count n, 8-byte next sequence number, n struct event
 *                   jobs       pool size slots, each: the fields of
 *                              run_checkpoint_job_fields[] (active, gen, round always; the
 *                              rest only for an active job), then for an active job its
 *                              update (dim floats) and its message (msg_len bytes)
 *                   residuals  8-byte count n, then n times: 8-byte client, dim floats
 *                   docofl     8-byte length n; when n > 0, n bytes of the DoCoFL deposit
 *                              (docofl_server_state_get()), then clients times
 *                              struct docofl_client_state (each client's anchor state)
 *                 The body ends exactly at the header's length; a loader that finds
 *                 bytes left over refuses the checkpoint.
 *
 * The loader checks, in this order and before it changes anything: the magic and format
 * version, the length, the checksum, then every identity field of the header against the
 * run being resumed; a mismatch is refused with a message naming the field. The body is
 * read only from a checkpoint that passed all of these; it is still bounds-checked, so a
 * crafted file with a valid checksum is refused too (-ERR_CORRUPT), never trusted.
 */
#include "sim/run_int.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/le.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "fedbits_config.h"
#include "sim/store.h"
#include "base/banned.h"

#define RUN_CKPT_FORMAT         3
#define RUN_CKPT_AT_LENGTH      8
#define RUN_CKPT_AT_CHECKSUM    16
#define RUN_CKPT_CHECKSUM_BYTES 32
#define RUN_CKPT_AT_ROUND       152
#define RUN_CKPT_HEADER         184

static const char run_checkpoint_magic[6] = { 'F', 'B', 'C', 'K', 'P', 'T' };

/* The header's identity fields: written from the run by save, compared with it by load. */
enum run_checkpoint_kind { RUN_CKPT_U64, RUN_CKPT_HEX, RUN_CKPT_TEXT, RUN_CKPT_BYTES };

struct run_checkpoint_header_field {
    const char *name; /* as error messages name it */
    size_t at, size;
    enum run_checkpoint_kind kind;
};

static const struct run_checkpoint_header_field run_checkpoint_header_fields[] = {
    { "run id", 48, 8, RUN_CKPT_U64 },
    { "config hash", 56, 32, RUN_CKPT_HEX },
    { "data fingerprint", 88, 32, RUN_CKPT_BYTES },
    { "fedbits version", 120, 32, RUN_CKPT_TEXT },
    { "round", RUN_CKPT_AT_ROUND, 8, RUN_CKPT_U64 },
    { "model parameters", 160, 8, RUN_CKPT_U64 },
    { "pool size", 168, 8, RUN_CKPT_U64 },
    { "clients", 176, 8, RUN_CKPT_U64 },
};
#define RUN_CKPT_N_HEADER                                                                          \
    (sizeof run_checkpoint_header_fields / sizeof run_checkpoint_header_fields[0])

static void
run_checkpoint_hash_bytes(crypto_generichash_state *h, const void *p, size_t n)
{
    if (n > 0)
        crypto_generichash_update(h, p, n);
}

/*
 * Hashes the n_clients + 1 row offsets of a split's clients (the compressed-row offsets
 * client_train.off or client_test.off, as native size_t words) from the clients' counts, so
 * that a dataset whose counts are drawn on demand, or which lists only some clients' test
 * rows, hashes as the one that stores them all. Returns the last offset.
 */
static size_t
run_checkpoint_hash_offsets(crypto_generichash_state *h, const struct dataset *ds, bool train)
{
    size_t buf[512], used = 0, off = 0;
    for (size_t k = 0; k <= ds->n_clients; k++) {
        buf[used++] = off;
        if (used == sizeof buf / sizeof buf[0] || k == ds->n_clients) {
            crypto_generichash_update(h, (const unsigned char *)buf, used * sizeof buf[0]);
            used = 0;
        }
        if (k < ds->n_clients) {
            size_t n;
            if (train)
                dataset_client_train(ds, k, &n);
            else
                dataset_client_test(ds, k, &n);
            off += n;
        }
    }
    return off;
}

void
run_checkpoint_data_fingerprint(const struct dataset *ds, unsigned char out[32])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    unsigned char shape[24];
    le_store64(shape, ds->n_features);
    le_store64(shape + 8, ds->n_classes);
    le_store64(shape + 16, ds->n_clients);
    crypto_generichash_update(&h, shape, sizeof shape);
    const struct dataset_split *splits[2] = { &ds->train, &ds->test };
    const struct dataset_rows *rows[2] = { &ds->client_train, &ds->client_test };
    for (int i = 0; i < 2; i++) {
        unsigned char n[8];
        le_store64(n, splits[i]->n);
        crypto_generichash_update(&h, n, sizeof n);
        run_checkpoint_hash_bytes(&h, splits[i]->x, splits[i]->n * ds->n_features * sizeof(float));
        run_checkpoint_hash_bytes(&h, splits[i]->y, splits[i]->n * sizeof(uint16_t));
        size_t n_rows = run_checkpoint_hash_offsets(&h, ds, i == 0);
        if (rows[i]->rows == NULL)
            n_rows = 0;
        run_checkpoint_hash_bytes(&h, rows[i]->rows, n_rows * sizeof(uint32_t));
    }
    crypto_generichash_final(&h, out, 32);
}

/* The header the run w expects after `round` (the checksum and length are left zero). */
static int
run_checkpoint_expected(struct run_world *w, uint64_t round, unsigned char hdr[RUN_CKPT_HEADER],
                        struct errbuf *eb)
{
    memset(hdr, 0, RUN_CKPT_HEADER);
    memcpy(hdr, run_checkpoint_magic, sizeof run_checkpoint_magic);
    hdr[6] = (unsigned char)('0' + RUN_CKPT_FORMAT / 10);
    hdr[7] = (unsigned char)('0' + RUN_CKPT_FORMAT % 10);
    char *identity = scenario_identity(w->s);
    if (identity == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory hashing the configuration");
    char hash[STORE_CONFIG_HASH_HEX];
    store_config_hash(hash, identity);
    mem_free(identity);
    if (!w->ckpt.has_data_fp) {
        run_checkpoint_data_fingerprint(w->ds, w->ckpt.data_fp);
        w->ckpt.has_data_fp = true;
    }
    le_store64(hdr + 48, (uint64_t)w->run_id);
    memcpy(hdr + 56, hash, 32);
    memcpy(hdr + 88, w->ckpt.data_fp, 32);
    size_t vlen = strlen(FEDBITS_VERSION);
    memcpy(hdr + 120, FEDBITS_VERSION, vlen < 31 ? vlen : 31);
    le_store64(hdr + RUN_CKPT_AT_ROUND, round);
    le_store64(hdr + 160, w->dim);
    le_store64(hdr + 168, w->n_jobs);
    le_store64(hdr + 176, w->ds->n_clients);
    return 0;
}

static void
run_checkpoint_checksum(const unsigned char *p, size_t len, unsigned char out[32])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, RUN_CKPT_CHECKSUM_BYTES);
    crypto_generichash_update(&h, p, RUN_CKPT_AT_CHECKSUM);
    size_t body = RUN_CKPT_AT_CHECKSUM + RUN_CKPT_CHECKSUM_BYTES;
    crypto_generichash_update(&h, p + body, len - body);
    crypto_generichash_final(&h, out, RUN_CKPT_CHECKSUM_BYTES);
}

void
run_checkpoint_seal(unsigned char *p, size_t len)
{
    if (len < RUN_CKPT_HEADER)
        return;
    le_store64(p + RUN_CKPT_AT_LENGTH, len);
    run_checkpoint_checksum(p, len, p + RUN_CKPT_AT_CHECKSUM);
}

int
run_checkpoint_stamp(struct run_world *w, unsigned char *p, size_t len, struct errbuf *eb)
{
    if (len < RUN_CKPT_HEADER)
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: truncated at offset %zu", len);
    unsigned char want[RUN_CKPT_HEADER];
    int rc = run_checkpoint_expected(w, le_load64(p + RUN_CKPT_AT_ROUND), want, eb);
    if (rc < 0)
        return rc;
    size_t from = RUN_CKPT_AT_CHECKSUM + RUN_CKPT_CHECKSUM_BYTES;
    memcpy(p + from, want + from, RUN_CKPT_HEADER - from);
    run_checkpoint_seal(p, len);
    return 0;
}

/* Magic, format version, length and checksum: is this an intact checkpoint of this format? */
static int
run_checkpoint_check_frame(const unsigned char *p, size_t len, struct errbuf *eb)
{
    if (len < 8)
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: truncated at offset %zu", len);
    if (memcmp(p, run_checkpoint_magic, sizeof run_checkpoint_magic) != 0)
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: not a fedbits checkpoint (bad magic)");
    if (p[6] < '0' || p[6] > '9' || p[7] < '0' || p[7] > '9')
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: bad format version");
    int format = (p[6] - '0') * 10 + (p[7] - '0');
    if (format != RUN_CKPT_FORMAT)
        return errbuf_set(eb, -ERR_CORRUPT,
                          "checkpoint: format version %d, this fedbits reads %d (resume it with "
                          "the fedbits that wrote it, or rerun)",
                          format, RUN_CKPT_FORMAT);
    if (len < RUN_CKPT_HEADER)
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: truncated at offset %zu", len);
    uint64_t stated = le_load64(p + RUN_CKPT_AT_LENGTH);
    if (stated > len)
        return errbuf_set(eb, -ERR_CORRUPT,
                          "checkpoint: truncated at offset %zu (its header says %llu bytes)", len,
                          (unsigned long long)stated);
    if (stated < len)
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: %llu bytes after its end at offset %llu",
                          (unsigned long long)(len - stated), (unsigned long long)stated);
    unsigned char sum[RUN_CKPT_CHECKSUM_BYTES];
    run_checkpoint_checksum(p, len, sum);
    if (sodium_memcmp(sum, p + RUN_CKPT_AT_CHECKSUM, sizeof sum) != 0)
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: checksum mismatch");
    return 0;
}

/* One identity field that differs from the run's: a message naming it. */
static int
run_checkpoint_mismatch(const struct run_checkpoint_header_field *f, const unsigned char *got,
                        const unsigned char *want, int64_t run_id, struct errbuf *eb)
{
    if (f->kind == RUN_CKPT_U64)
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: %s %llu does not match run %lld (%llu)",
                          f->name, (unsigned long long)le_load64(got), (long long)run_id,
                          (unsigned long long)le_load64(want));
    if (f->kind == RUN_CKPT_TEXT) {
        char g[33] = { 0 }, x[33] = { 0 };
        memcpy(g, got, 32);
        memcpy(x, want, 32);
        for (size_t i = 0; i < 32; i++)
            g[i] = g[i] != 0 && (g[i] < ' ' || g[i] > '~') ? '?' : g[i];
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: %s '%s' does not match run %lld ('%s')",
                          f->name, g, (long long)run_id, x);
    }
    return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: %s does not match run %lld", f->name,
                      (long long)run_id);
}

int
run_checkpoint_check(struct run_world *w, const unsigned char *p, size_t len, uint64_t round,
                     struct errbuf *eb)
{
    int rc = run_checkpoint_check_frame(p, len, eb);
    if (rc < 0)
        return rc;
    unsigned char want[RUN_CKPT_HEADER];
    rc = run_checkpoint_expected(w, round, want, eb);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < RUN_CKPT_N_HEADER; i++) {
        const struct run_checkpoint_header_field *f = &run_checkpoint_header_fields[i];
        if (memcmp(p + f->at, want + f->at, f->size) != 0)
            return run_checkpoint_mismatch(f, p + f->at, want + f->at, w->run_id, eb);
    }
    return 0;
}

/*
 * The body. One table of sections serves both directions: run_checkpoint_bytes() appends
 * when saving and reads when loading, so save and load cannot disagree on the layout; the
 * checks only a loader needs run when io->load is set.
 */
struct run_checkpoint_io {
    struct run_world *w;
    struct run_summary *sum;
    bool load;
    struct strbuf out;      /* saving: the checkpoint so far */
    const unsigned char *p; /* loading: the checkpoint */
    size_t len, at;         /* loading: its length, the read position */
    bool failed;            /* out of memory (saving) or past the end (loading) */
    struct errbuf *eb;
};

static void
run_checkpoint_bytes(struct run_checkpoint_io *io, void *v, size_t n)
{
    if (io->failed)
        return;
    if (io->load) {
        if (n > io->len - io->at) {
            io->failed = true;
            return;
        }
        memcpy(v, io->p + io->at, n);
        io->at += n;
        return;
    }
    io->failed = strbuf_append(&io->out, v, n, NULL) < 0;
}

#define RUN_CKPT_VAL(io, v) run_checkpoint_bytes((io), &(v), sizeof(v))

/* A loader's refusal of a section that is well framed but not valid for this run. */
static int
run_checkpoint_bad(struct run_checkpoint_io *io, const char *what)
{
    return errbuf_set(io->eb, -ERR_CORRUPT, "checkpoint: bad %s at offset %zu", what, io->at);
}

/* A field of a struct, by offset, for the tables below. */
struct run_checkpoint_field {
    const char *name;
    size_t at, size;
};

#define RUN_CKPT_FIELD(type, f)                                                                    \
    {                                                                                              \
#f, offsetof(type, f), sizeof(((type *)0)->f)                                              \
    }

static const struct run_checkpoint_field run_checkpoint_world_fields[] = {
    RUN_CKPT_FIELD(struct run_world, loop.now),
    RUN_CKPT_FIELD(struct run_world, pool.next_gen),
    RUN_CKPT_FIELD(struct run_world, model.version),
    RUN_CKPT_FIELD(struct run_world, async.selections),
    RUN_CKPT_FIELD(struct run_world, open.round),
    RUN_CKPT_FIELD(struct run_world, open.closed),
    RUN_CKPT_FIELD(struct run_world, open.received),
    RUN_CKPT_FIELD(struct run_world, open.pending),
    RUN_CKPT_FIELD(struct run_world, open.train_loss_sum),
    RUN_CKPT_FIELD(struct run_world, open.staleness_sum),
    RUN_CKPT_FIELD(struct run_world, open.rec),
    RUN_CKPT_FIELD(struct run_world, loop.fp),
    RUN_CKPT_FIELD(struct run_world, dp.clip),
};

/* Every slot's fields up to RUN_CKPT_JOB_ALWAYS; the rest for active jobs only. */
static const struct run_checkpoint_field run_checkpoint_job_fields[] = {
    RUN_CKPT_FIELD(struct run_job, active),    RUN_CKPT_FIELD(struct run_job, gen),
    RUN_CKPT_FIELD(struct run_job, round),     RUN_CKPT_FIELD(struct run_job, client),
    RUN_CKPT_FIELD(struct run_job, stream),    RUN_CKPT_FIELD(struct run_job, version),
    RUN_CKPT_FIELD(struct run_job, dropout),   RUN_CKPT_FIELD(struct run_job, drop_frac),
    RUN_CKPT_FIELD(struct run_job, samples),   RUN_CKPT_FIELD(struct run_job, msg_len),
    RUN_CKPT_FIELD(struct run_job, down_bits), RUN_CKPT_FIELD(struct run_job, t_down),
    RUN_CKPT_FIELD(struct run_job, t_train),   RUN_CKPT_FIELD(struct run_job, t_up),
    RUN_CKPT_FIELD(struct run_job, exp_total), RUN_CKPT_FIELD(struct run_job, started_at),
    RUN_CKPT_FIELD(struct run_job, tr),        RUN_CKPT_FIELD(struct run_job, within_clip),
};
#define RUN_CKPT_JOB_ALWAYS 3

static void
run_checkpoint_fields(struct run_checkpoint_io *io, void *base,
                      const struct run_checkpoint_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_checkpoint_bytes(io, (unsigned char *)base + f[i].at, f[i].size);
}

static int
run_checkpoint_summary(struct run_checkpoint_io *io)
{
    run_checkpoint_bytes(io, io->sum, sizeof *io->sum);
    return 0;
}

static int
run_checkpoint_world(struct run_checkpoint_io *io)
{
    struct run_world *w = io->w;
    size_t n = sizeof run_checkpoint_world_fields / sizeof run_checkpoint_world_fields[0];
    run_checkpoint_fields(io, w, run_checkpoint_world_fields, n);
    /* Taken after round `rounds` closed and the next one opened. */
    if (io->load && !io->failed &&
        (w->open.round != io->sum->rounds + 1 || w->open.rec.round != w->open.round))
        return run_checkpoint_bad(io, "open round");
    return 0;
}

static int
run_checkpoint_model(struct run_checkpoint_io *io)
{
    run_checkpoint_bytes(io, io->w->model.w, io->w->dim * sizeof(float));
    return 0;
}

static int
run_checkpoint_optimizer(struct run_checkpoint_io *io)
{
    struct run_world *w = io->w;
    uint64_t n = server_opt_state_len(w->model.opt), want = n;
    RUN_CKPT_VAL(io, n);
    if (io->failed || n == 0)
        return 0;
    if (n != want)
        return run_checkpoint_bad(io, "optimizer state size");
    float *state = mem_alloc((size_t)n * sizeof *state);
    if (state == NULL)
        return errbuf_set(io->eb, -ERR_NOMEM, "out of memory for a checkpoint");
    int rc = 0;
    if (!io->load)
        rc = server_opt_state_get(w->model.opt, state, (size_t)n, io->eb);
    if (rc == 0)
        run_checkpoint_bytes(io, state, (size_t)n * sizeof *state);
    if (rc == 0 && io->load && !io->failed)
        rc = server_opt_state_set(w->model.opt, state, (size_t)n, io->eb);
    mem_free(state);
    return rc;
}

/* The event types that can be pending between rounds. */
static bool
run_checkpoint_event_ok(const struct run_world *w, const struct event *ev)
{
    switch (ev->type) {
    case RUN_EV_ROUND_START:
    case RUN_EV_DEADLINE:
    case RUN_EV_SECAGG_REPLY: /* of a closed round: ignored when it comes */
        return true;
    case RUN_EV_DOWNLINK_DONE:
    case RUN_EV_TRAIN_DONE:
    case RUN_EV_UPLINK_DONE:
    case RUN_EV_DROPOUT:
        return ev->client < w->ds->n_clients;
    default:
        return false;
    }
}

static int
run_checkpoint_events(struct run_checkpoint_io *io)
{
    struct run_world *w = io->w;
    size_t n_ev = 0;
    const struct event *saved = io->load ? NULL : event_queue_events(w->loop.q, &n_ev);
    uint64_t n = n_ev, next_seq = event_queue_pushed(w->loop.q);
    RUN_CKPT_VAL(io, n);
    RUN_CKPT_VAL(io, next_seq);
    if (io->failed)
        return 0;
    if (!io->load) {
        run_checkpoint_bytes(io, (void *)saved, n_ev * sizeof *saved);
        return 0;
    }
    if (n > (io->len - io->at) / sizeof(struct event))
        return run_checkpoint_bad(io, "event count");
    struct event *ev = mem_alloc(((size_t)n + 1) * sizeof *ev);
    if (ev == NULL)
        return errbuf_set(io->eb, -ERR_NOMEM, "out of memory reading a checkpoint");
    run_checkpoint_bytes(io, ev, (size_t)n * sizeof *ev);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!run_checkpoint_event_ok(w, &ev[i]))
            rc = run_checkpoint_bad(io, "event");
    }
    if (rc == 0 && event_queue_restore(w->loop.q, ev, (size_t)n, next_seq) < 0)
        rc = run_checkpoint_bad(io, "event list");
    mem_free(ev);
    return rc;
}

static int
run_checkpoint_jobs(struct run_checkpoint_io *io)
{
    struct run_world *w = io->w;
    size_t n_fields = sizeof run_checkpoint_job_fields / sizeof run_checkpoint_job_fields[0];
    size_t msg_max = codec_max_bytes(w->th[0].up);
    for (size_t i = 0; i < w->n_jobs && !io->failed; i++) {
        struct run_job *j = &w->jobs[i];
        run_checkpoint_fields(io, j, run_checkpoint_job_fields, RUN_CKPT_JOB_ALWAYS);
        if (io->failed || !j->active)
            continue;
        run_checkpoint_fields(io, j, run_checkpoint_job_fields + RUN_CKPT_JOB_ALWAYS,
                              n_fields - RUN_CKPT_JOB_ALWAYS);
        if (io->load && !io->failed &&
            (j->client >= w->ds->n_clients || j->msg_len > msg_max || j->dropout < RUN_NO_DROPOUT ||
             j->dropout >= DROPOUT_ANY || j->gen >= w->pool.next_gen))
            return run_checkpoint_bad(io, "job");
        run_checkpoint_bytes(io, j->w, w->dim * sizeof *j->w);
        run_checkpoint_bytes(io, j->msg, j->msg_len);
        if (io->load)
            w->pool.busy[j->client] = true;
    }
    return 0;
}

static int
run_checkpoint_residuals(struct run_checkpoint_io *io)
{
    struct run_world *w = io->w;
    float **res = w->carry.residual;
    uint64_t n = 0;
    for (size_t k = 0; !io->load && res != NULL && k < w->ds->n_clients; k++)
        n += res[k] != NULL;
    RUN_CKPT_VAL(io, n);
    if (io->load && !io->failed && n > 0 && (res == NULL || n > w->ds->n_clients))
        return run_checkpoint_bad(io, "residual count");
    size_t k = 0;
    for (uint64_t i = 0; i < n && !io->failed; i++, k++) {
        while (!io->load && res[k] == NULL)
            k++;
        uint64_t client = k;
        RUN_CKPT_VAL(io, client);
        if (io->failed)
            break;
        if (client >= w->ds->n_clients)
            return run_checkpoint_bad(io, "residual client");
        if (res[client] == NULL) {
            res[client] = mem_alloc(w->dim * sizeof(float));
            if (res[client] == NULL)
                return errbuf_set(io->eb, -ERR_NOMEM, "out of memory reading a checkpoint");
        }
        run_checkpoint_bytes(io, res[client], w->dim * sizeof(float));
    }
    return 0;
}

static int
run_checkpoint_docofl(struct run_checkpoint_io *io)
{
    struct run_world *w = io->w;
    uint64_t n = w->carry.docofl != NULL ? docofl_server_state_size(w->carry.docofl) : 0;
    uint64_t want = n;
    RUN_CKPT_VAL(io, n);
    if (io->failed)
        return 0;
    if (n != want)
        return run_checkpoint_bad(io, "DoCoFL state size");
    if (n == 0)
        return 0;
    int rc = 0;
    if (io->load) {
        if (n > io->len - io->at)
            return run_checkpoint_bad(io, "DoCoFL state");
        rc = docofl_server_state_set(w->carry.docofl, io->p + io->at, (size_t)n, io->eb);
        io->at += (size_t)n;
    } else {
        unsigned char *st = mem_alloc((size_t)n);
        size_t got = 0;
        rc = st == NULL ? errbuf_set(io->eb, -ERR_NOMEM, "out of memory for a checkpoint")
                        : docofl_server_state_get(w->carry.docofl, st, (size_t)n, &got, io->eb);
        if (rc == 0)
            run_checkpoint_bytes(io, st, (size_t)n);
        mem_free(st);
    }
    if (rc < 0)
        return rc;
    /* Every client's state in order (the format of a dense array): those that took part
     * from the table, the others holding no anchor. */
    for (size_t k = 0; k < w->ds->n_clients && !io->failed; k++) {
        struct docofl_client_state st, *held = docofl_client_states_get(w->carry.dc_states, k);
        if (held != NULL)
            st = *held;
        else
            docofl_client_state_init(&st);
        run_checkpoint_bytes(io, &st, sizeof st);
        if (!io->load || io->failed || st.anchor_id == DOCOFL_WIRE_NO_ANCHOR)
            continue;
        if (docofl_client_states_reserve(w->carry.dc_states, k) < 0)
            return errbuf_set(io->eb, -ERR_NOMEM, "out of memory reading a checkpoint");
        *docofl_client_states_get(w->carry.dc_states, k) = st;
    }
    return 0;
}

/* The body, in order: both save and load iterate this table. */
static const struct {
    const char *name;
    int (*visit)(struct run_checkpoint_io *io);
} run_checkpoint_sections[] = {
    { "summary", run_checkpoint_summary },     { "world", run_checkpoint_world },
    { "model", run_checkpoint_model },         { "optimizer", run_checkpoint_optimizer },
    { "events", run_checkpoint_events },       { "jobs", run_checkpoint_jobs },
    { "residuals", run_checkpoint_residuals }, { "docofl", run_checkpoint_docofl },
};

static int
run_checkpoint_body(struct run_checkpoint_io *io)
{
    size_t n = sizeof run_checkpoint_sections / sizeof run_checkpoint_sections[0];
    for (size_t i = 0; i < n; i++) {
        int rc = run_checkpoint_sections[i].visit(io);
        if (rc < 0)
            return rc;
        if (io->failed && io->load)
            return errbuf_set(io->eb, -ERR_CORRUPT, "checkpoint: truncated at offset %zu (%s)",
                              io->len, run_checkpoint_sections[i].name);
        if (io->failed)
            return errbuf_set(io->eb, -ERR_NOMEM, "out of memory writing a checkpoint (%s)",
                              run_checkpoint_sections[i].name);
    }
    if (io->load && io->at != io->len)
        return errbuf_set(io->eb, -ERR_CORRUPT, "checkpoint: %zu bytes after its end at offset %zu",
                          io->len - io->at, io->at);
    return 0;
}

int
run_checkpoint_save(struct run_world *w, const struct run_summary *sum, unsigned char **out,
                    size_t *out_len, struct errbuf *eb)
{
    /* Saving only reads *io.sum; its bytes (padding included) go out as they are. */
    struct run_checkpoint_io io = { .w = w, .sum = (struct run_summary *)sum, .eb = eb };
    strbuf_init(&io.out, SIZE_MAX);
    unsigned char hdr[RUN_CKPT_HEADER];
    int rc = run_checkpoint_expected(w, sum->rounds, hdr, eb);
    if (rc == 0) {
        run_checkpoint_bytes(&io, hdr, sizeof hdr);
        rc = run_checkpoint_body(&io);
    }
    unsigned char *p = NULL;
    size_t len = 0;
    if (rc == 0) {
        p = (unsigned char *)strbuf_detach(&io.out, &len);
        if (p == NULL)
            rc = errbuf_set(eb, -ERR_NOMEM, "out of memory writing a checkpoint");
    }
    strbuf_release(&io.out);
    if (rc < 0)
        return rc;
    run_checkpoint_seal(p, len);
    *out = p;
    *out_len = len;
    return 0;
}

int
run_checkpoint_load(struct run_world *w, struct run_summary *sum, const unsigned char *in,
                    size_t len, uint64_t round, struct errbuf *eb)
{
    int rc = run_checkpoint_check(w, in, len, round, eb);
    if (rc < 0)
        return rc;
    struct run_summary got = { 0 };
    struct run_checkpoint_io io = {
        .w = w, .sum = &got, .load = true, .p = in, .len = len, .at = RUN_CKPT_HEADER, .eb = eb
    };
    rc = run_checkpoint_body(&io);
    if (rc == 0 && got.rounds != round)
        rc = errbuf_set(eb, -ERR_CORRUPT, "checkpoint: its summary says round %llu, not %llu",
                        (unsigned long long)got.rounds, (unsigned long long)round);
    if (rc == 0)
        *sum = got;
    return rc;
}
