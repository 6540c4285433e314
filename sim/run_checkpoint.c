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
 * random stream are functions of the seed and are rebuilt, not stored. Layout (all
 * integers little-endian as the host writes them; checkpoints are read back by the same
 * build on the same kind of machine):
 *
 *   OFFSET  SIZE            MEANING
 *   0       8               magic "FBCKPT01"
 *   8       8               model parameters (dim)
 *   16      8               pool size (jobs)
 *   24      ...             sections in the order written by run_checkpoint_save(), each a
 *                           length-checked field; the reader rejects any mismatch with
 *                           -ERR_CORRUPT.
 */
#include "sim/run_int.h"

#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

static const char run_checkpoint_magic[8] = { 'F', 'B', 'C', 'K', 'P', 'T', '0', '1' };

struct run_checkpoint_buf {
    unsigned char *p;
    size_t len, cap;
    bool oom;
};

static void
run_checkpoint_put(struct run_checkpoint_buf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = (b->cap == 0 ? 1 << 16 : b->cap * 2) + n;
        unsigned char *np = mem_realloc(b->p, cap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

#define PUT(b, v) run_checkpoint_put((b), &(v), sizeof(v))

struct run_checkpoint_reader {
    const unsigned char *p;
    size_t len, at;
    bool bad;
};

static void
run_checkpoint_get(struct run_checkpoint_reader *r, void *dst, size_t n)
{
    if (r->bad || n > r->len - r->at) {
        r->bad = true;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p + r->at, n);
    r->at += n;
}

#define GET(r, v) run_checkpoint_get((r), &(v), sizeof(v))

int
run_checkpoint_save(const struct run_world *w, const struct run_summary *sum, unsigned char **out,
                    size_t *out_len, struct errbuf *eb)
{
    struct run_checkpoint_buf b = { 0 };
    uint64_t dim = w->dim, pool = w->n_jobs;
    run_checkpoint_put(&b, run_checkpoint_magic, sizeof run_checkpoint_magic);
    PUT(&b, dim);
    PUT(&b, pool);
    /* The run and the open round. */
    PUT(&b, *sum);
    PUT(&b, w->loop.now);
    PUT(&b, w->pool.next_gen);
    PUT(&b, w->model.version);
    PUT(&b, w->async.selections);
    PUT(&b, w->open.round);
    PUT(&b, w->open.closed);
    PUT(&b, w->open.received);
    PUT(&b, w->open.pending);
    PUT(&b, w->open.train_loss_sum);
    PUT(&b, w->open.staleness_sum);
    PUT(&b, w->open.rec);
    PUT(&b, w->loop.fp);
    /* The model and the optimizer. */
    run_checkpoint_put(&b, w->model.w, w->dim * sizeof *w->model.w);
    uint64_t opt_len = server_opt_state_len(w->model.opt);
    PUT(&b, opt_len);
    if (opt_len > 0 && !b.oom) {
        float *state = mem_alloc(opt_len * sizeof *state);
        if (state == NULL || server_opt_state_get(w->model.opt, state, opt_len, eb) < 0) {
            mem_free(state);
            mem_free(b.p);
            return state == NULL ? errbuf_set(eb, -ERR_NOMEM, "out of memory") : eb->code;
        }
        run_checkpoint_put(&b, state, opt_len * sizeof *state);
        mem_free(state);
    }
    /* Pending events. */
    size_t n_ev;
    const struct event *ev = event_queue_events(w->loop.q, &n_ev);
    uint64_t n_ev64 = n_ev, next_seq = event_queue_pushed(w->loop.q);
    PUT(&b, n_ev64);
    PUT(&b, next_seq);
    run_checkpoint_put(&b, ev, n_ev * sizeof *ev);
    /* Jobs: identity for all, the computed work for those in flight. */
    for (size_t i = 0; i < w->n_jobs; i++) {
        const struct run_job *j = &w->jobs[i];
        PUT(&b, j->active);
        PUT(&b, j->gen);
        PUT(&b, j->round);
        if (!j->active)
            continue;
        PUT(&b, j->client);
        PUT(&b, j->stream);
        PUT(&b, j->version);
        PUT(&b, j->dropout);
        PUT(&b, j->drop_frac);
        PUT(&b, j->samples);
        PUT(&b, j->msg_len);
        PUT(&b, j->down_bits);
        PUT(&b, j->t_down);
        PUT(&b, j->t_train);
        PUT(&b, j->t_up);
        PUT(&b, j->exp_total);
        PUT(&b, j->started_at);
        PUT(&b, j->tr);
        run_checkpoint_put(&b, j->w, w->dim * sizeof *j->w);
        run_checkpoint_put(&b, j->msg, j->msg_len);
    }
    /* Error-feedback residuals of the clients that have one. */
    uint64_t n_res = 0;
    if (w->carry.residual != NULL) {
        for (size_t k = 0; k < w->ds->n_clients; k++)
            n_res += w->carry.residual[k] != NULL;
    }
    PUT(&b, n_res);
    for (size_t k = 0; n_res > 0 && k < w->ds->n_clients; k++) {
        if (w->carry.residual[k] == NULL)
            continue;
        uint64_t client = k;
        PUT(&b, client);
        run_checkpoint_put(&b, w->carry.residual[k], w->dim * sizeof(float));
    }
    /* DoCoFL: the deposit and every client's anchor id. */
    uint64_t dc_len = w->carry.docofl != NULL ? docofl_server_state_size(w->carry.docofl) : 0;
    PUT(&b, dc_len);
    if (dc_len > 0 && !b.oom) {
        unsigned char *st = mem_alloc(dc_len);
        size_t got = 0;
        if (st == NULL || docofl_server_state_get(w->carry.docofl, st, dc_len, &got, eb) < 0) {
            mem_free(st);
            mem_free(b.p);
            return st == NULL ? errbuf_set(eb, -ERR_NOMEM, "out of memory") : eb->code;
        }
        run_checkpoint_put(&b, st, dc_len);
        mem_free(st);
        run_checkpoint_put(&b, w->carry.dc_state, w->ds->n_clients * sizeof *w->carry.dc_state);
    }
    if (b.oom) {
        mem_free(b.p);
        return errbuf_set(eb, -ERR_NOMEM, "out of memory writing a checkpoint");
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}

int
run_checkpoint_load(struct run_world *w, struct run_summary *sum, const unsigned char *in,
                    size_t len, struct errbuf *eb)
{
    struct run_checkpoint_reader r = { .p = in, .len = len };
    char magic[8];
    uint64_t dim, pool;
    run_checkpoint_get(&r, magic, sizeof magic);
    GET(&r, dim);
    GET(&r, pool);
    if (r.bad || memcmp(magic, run_checkpoint_magic, sizeof magic) != 0 || dim != w->dim ||
        pool != w->n_jobs)
        return errbuf_set(eb, -ERR_CORRUPT,
                          "the checkpoint does not belong to this scenario or fedbits build");
    GET(&r, *sum);
    GET(&r, w->loop.now);
    GET(&r, w->pool.next_gen);
    GET(&r, w->model.version);
    GET(&r, w->async.selections);
    GET(&r, w->open.round);
    GET(&r, w->open.closed);
    GET(&r, w->open.received);
    GET(&r, w->open.pending);
    GET(&r, w->open.train_loss_sum);
    GET(&r, w->open.staleness_sum);
    GET(&r, w->open.rec);
    GET(&r, w->loop.fp);
    run_checkpoint_get(&r, w->model.w, w->dim * sizeof *w->model.w);
    uint64_t opt_len;
    GET(&r, opt_len);
    if (r.bad || opt_len != server_opt_state_len(w->model.opt))
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: optimizer state of the wrong size");
    if (opt_len > 0) {
        float *state = mem_alloc(opt_len * sizeof *state);
        if (state == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory reading a checkpoint");
        run_checkpoint_get(&r, state, opt_len * sizeof *state);
        int rc = r.bad ? -ERR_CORRUPT : server_opt_state_set(w->model.opt, state, opt_len, eb);
        mem_free(state);
        if (rc < 0)
            return errbuf_set(eb, rc, "checkpoint: bad optimizer state");
    }
    uint64_t n_ev, next_seq;
    GET(&r, n_ev);
    GET(&r, next_seq);
    if (r.bad || n_ev > (r.len - r.at) / sizeof(struct event))
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: truncated event list");
    struct event *ev = mem_alloc((n_ev + 1) * sizeof *ev);
    if (ev == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory reading a checkpoint");
    run_checkpoint_get(&r, ev, n_ev * sizeof *ev);
    int rc = event_queue_restore(w->loop.q, ev, (size_t)n_ev, next_seq);
    mem_free(ev);
    if (rc < 0)
        return errbuf_set(eb, rc, "checkpoint: bad event list");
    for (size_t i = 0; i < w->n_jobs; i++) {
        struct run_job *j = &w->jobs[i];
        GET(&r, j->active);
        GET(&r, j->gen);
        GET(&r, j->round);
        if (!j->active)
            continue;
        GET(&r, j->client);
        GET(&r, j->stream);
        GET(&r, j->version);
        GET(&r, j->dropout);
        GET(&r, j->drop_frac);
        GET(&r, j->samples);
        GET(&r, j->msg_len);
        GET(&r, j->down_bits);
        GET(&r, j->t_down);
        GET(&r, j->t_train);
        GET(&r, j->t_up);
        GET(&r, j->exp_total);
        GET(&r, j->started_at);
        GET(&r, j->tr);
        if (r.bad || j->client >= w->ds->n_clients || j->msg_len > codec_max_bytes(w->th[0].up))
            return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: bad job %zu", i);
        run_checkpoint_get(&r, j->w, w->dim * sizeof *j->w);
        run_checkpoint_get(&r, j->msg, j->msg_len);
        w->pool.busy[j->client] = true;
    }
    uint64_t n_res;
    GET(&r, n_res);
    if (!r.bad && n_res > 0 && w->carry.residual == NULL)
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: residuals without error feedback");
    for (uint64_t i = 0; i < n_res && !r.bad; i++) {
        uint64_t client;
        GET(&r, client);
        if (r.bad || client >= w->ds->n_clients)
            return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: bad residual");
        if (w->carry.residual[client] == NULL) {
            w->carry.residual[client] = mem_alloc(w->dim * sizeof(float));
            if (w->carry.residual[client] == NULL)
                return errbuf_set(eb, -ERR_NOMEM, "out of memory reading a checkpoint");
        }
        run_checkpoint_get(&r, w->carry.residual[client], w->dim * sizeof(float));
    }
    uint64_t dc_len;
    GET(&r, dc_len);
    if (r.bad || (dc_len > 0) != (w->carry.docofl != NULL) ||
        (w->carry.docofl != NULL && dc_len != docofl_server_state_size(w->carry.docofl)))
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: DoCoFL state does not match");
    if (dc_len > 0) {
        if (dc_len > r.len - r.at)
            return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: truncated DoCoFL state");
        int rc2 = docofl_server_state_set(w->carry.docofl, r.p + r.at, (size_t)dc_len, eb);
        if (rc2 < 0)
            return rc2;
        r.at += (size_t)dc_len;
        run_checkpoint_get(&r, w->carry.dc_state, w->ds->n_clients * sizeof *w->carry.dc_state);
    }
    if (r.bad || r.at != r.len)
        return errbuf_set(eb, -ERR_CORRUPT, "checkpoint: %s",
                          r.bad ? "truncated" : "trailing bytes");
    return 0;
}
