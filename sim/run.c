/* run: the discrete-event loop of one run. See run.h. */
#include "sim/run.h"

#include <cblas.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/fedavg.h"
#include "aggregator/server_opt.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/simtime.h"
#include "clients/dataset.h"
#include "clients/synthetic.h"
#include "clients/trainer.h"
#include "codec/codec.h"
#include "fedbits_config.h"
#include "sim/event_queue.h"
#if FEDBITS_HAVE_OPENMP
#include <omp.h>
#endif
#include "base/banned.h"

#define RUN_NO_CLIENT  UINT64_MAX
#define RUN_NO_DROPOUT (-1)

/* One selected client of the current round: its inputs, its computed work, its timing. */
struct run_slot {
    uint64_t client;
    int dropout;      /* enum dropout_phase, or RUN_NO_DROPOUT */
    double drop_frac; /* where in training a during_training dropout happens */
    size_t samples;   /* training rows (the FedAvg weight) */
    float *w;         /* received model, then the update (dim floats) */
    uint8_t *msg;     /* uplink message */
    size_t msg_len;
    uint64_t down_bits;            /* downlink message bits */
    int64_t t_down, t_train, t_up; /* phase durations */
    struct train_result tr;
    bool uploaded; /* the update reached the server this round */
    int rc;
    struct errbuf eb;
};

/* Per-thread workspaces. */
struct run_thread {
    struct trainer *trainer;
    struct codec *up;   /* uplink encoder */
    struct codec *down; /* downlink encoder and decoder */
    uint8_t *down_msg;  /* downlink message buffer */
    float *received;    /* the model as the client decoded it */
};

struct run_world {
    const struct scenario *s;
    struct store *st;
    int64_t run_id;
    const struct run_options *o;
    struct dataset *ds;
    struct model_spec spec;
    size_t dim;
    float *w;      /* global model */
    float *mean;   /* the round's mean update */
    double *exact; /* uncompressed mean of the same updates (output.nmse) */
    struct fedavg *agg;
    struct server_opt *opt;
    struct run_slot *slots;
    size_t n_slots; /* clients per round */
    uint32_t *perm; /* selection scratch, n_clients entries */
    struct run_thread *th;
    unsigned n_threads;
    struct event_queue *q;
    crypto_generichash_state fp;

    /* The open round. */
    uint64_t round;
    int64_t round_start;
    size_t pending;        /* selected clients not yet uploaded or dropped */
    double train_loss_sum; /* over participants */
    struct store_round rec;
};

static unsigned
run_thread_count(unsigned asked)
{
    if (asked > 0)
        return asked;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

static void
run_world_release(struct run_world *w)
{
    if (w->th != NULL) {
        for (unsigned t = 0; t < w->n_threads; t++) {
            trainer_free(w->th[t].trainer);
            codec_free(w->th[t].up);
            codec_free(w->th[t].down);
            mem_free(w->th[t].down_msg);
            mem_free(w->th[t].received);
        }
    }
    if (w->slots != NULL) {
        for (size_t i = 0; i < w->n_slots; i++) {
            mem_free(w->slots[i].w);
            mem_free(w->slots[i].msg);
        }
    }
    mem_free(w->th);
    mem_free(w->slots);
    mem_free(w->perm);
    mem_free(w->w);
    mem_free(w->mean);
    mem_free(w->exact);
    fedavg_free(w->agg);
    server_opt_free(w->opt);
    event_queue_free(w->q);
    dataset_free(w->ds);
}

static int
run_load_data(struct run_world *w, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    struct synthetic_params sp;
    synthetic_params_default(&sp);
    sp.iid = s->data.dataset == DATASET_SYNTHETIC_IID;
    sp.alpha = s->data.alpha;
    sp.beta = s->data.beta;
    sp.clients = (size_t)s->data.clients;
    sp.dim = (size_t)s->data.dim;
    sp.classes = (size_t)s->data.classes;
    sp.train_fraction = s->data.train_fraction;
    int rc = synthetic_generate(&w->ds, &sp, s->seed, eb);
    if (rc < 0)
        return errbuf_prefix(eb, "data");
    return 0;
}

static int
run_world_init(struct run_world *w, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    int rc = run_load_data(w, eb);
    if (rc < 0)
        return rc;
    scenario_model_spec(s, &w->spec);
    w->dim = model_param_count(&w->spec);
    w->n_slots = (size_t)s->train.clients_per_round;
    w->n_threads = run_thread_count(w->o->threads);
    if (w->n_threads > w->n_slots)
        w->n_threads = (unsigned)w->n_slots;

    w->w = mem_alloc(w->dim * sizeof *w->w);
    w->mean = mem_alloc(w->dim * sizeof *w->mean);
    if (s->output.nmse) {
        w->exact = mem_alloc(w->dim * sizeof *w->exact);
        if (w->exact == NULL)
            goto nomem;
    }
    w->perm = mem_alloc(w->ds->n_clients * sizeof *w->perm);
    w->slots = mem_calloc(w->n_slots, sizeof *w->slots);
    w->th = mem_calloc(w->n_threads, sizeof *w->th);
    w->agg = fedavg_new(&s->uplink.codec, w->dim);
    struct server_opt_params op = { .kind = (enum server_opt_kind)s->server.optimizer,
                                    .lr = s->server.lr };
    w->opt = server_opt_new(&op, w->dim);
    w->q = event_queue_new();
    if (w->w == NULL || w->mean == NULL || w->perm == NULL || w->slots == NULL || w->th == NULL ||
        w->agg == NULL || w->opt == NULL || w->q == NULL)
        goto nomem;
    for (unsigned t = 0; t < w->n_threads; t++) {
        struct run_thread *th = &w->th[t];
        th->trainer = trainer_new(&w->spec, w->ds, (size_t)s->train.batch_size);
        th->up = codec_new(&s->uplink.codec, w->dim);
        th->down = codec_new(&s->downlink.codec, w->dim);
        if (th->trainer == NULL || th->up == NULL || th->down == NULL)
            goto nomem;
        th->down_msg = mem_alloc(codec_max_bytes(th->down));
        th->received = mem_alloc(w->dim * sizeof *th->received);
        if (th->down_msg == NULL || th->received == NULL)
            goto nomem;
    }
    size_t up_max = codec_max_bytes(w->th[0].up);
    for (size_t i = 0; i < w->n_slots; i++) {
        w->slots[i].w = mem_alloc(w->dim * sizeof(float));
        w->slots[i].msg = mem_alloc(up_max);
        if (w->slots[i].w == NULL || w->slots[i].msg == NULL)
            goto nomem;
    }
    struct rng r;
    rng_init_stream(&r, s->seed, RNG_PURPOSE_MODEL_INIT, RNG_ANY, RNG_ANY);
    model_init_params(&w->spec, w->w, &r);
    crypto_generichash_init(&w->fp, NULL, 0, 32);
    return 0;
nomem:
    return errbuf_set(eb, -ERR_NOMEM,
                      "out of memory setting up the run (%zu parameters, %zu "
                      "clients per round)",
                      w->dim, w->n_slots);
}

static int
run_push(struct run_world *w, int64_t time, uint32_t type, uint64_t client, struct errbuf *eb)
{
    struct event ev = {
        .time = time,
        .key = client,
        .type = type,
        .round = w->round,
        .client = client,
    };
    if (event_queue_push(w->q, &ev) < 0)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory queueing events");
    return 0;
}

static int64_t
run_transfer_time(uint64_t bits, double mbps, double latency_ms)
{
    return simtime_add(simtime_from_s(latency_ms / 1e3),
                       simtime_from_s((double)bits / (mbps * 1e6)));
}

/* Everything one selected client computes this round; runs in parallel across slots. */
static void
run_compute_slot(struct run_world *w, struct run_slot *sl, struct run_thread *th)
{
    const struct scenario *s = w->s;
    struct codec_link link = { .seed = s->seed, .round = w->round, .client = sl->client };
    sl->rc = 0;
    sl->uploaded = false;
    sl->msg_len = 0;
    sl->down_bits = 0;
    sl->tr = (struct train_result){ 0 };
    errbuf_clear(&sl->eb);
    size_t n;
    dataset_client_train(w->ds, (size_t)sl->client, &n);
    sl->samples = n;
    if (sl->dropout == DROPOUT_BEFORE_DOWNLOAD)
        return;

    /* Downlink: the server encodes the model for this client; the client decodes it. */
    size_t down_len = 0;
    sl->rc = codec_encode(th->down, th->down_msg, codec_max_bytes(th->down), &down_len, w->w, &link,
                          &sl->eb);
    if (sl->rc == 0)
        sl->rc = codec_decode(th->down, th->received, th->down_msg, down_len, &link, &sl->eb);
    if (sl->rc < 0)
        return;
    sl->down_bits = (uint64_t)down_len * 8;
    sl->t_down =
        run_transfer_time(sl->down_bits, s->population.downlink_mbps, s->population.latency_ms);

    size_t epochs = (size_t)s->train.local_epochs;
    double work = s->train.local_steps > 0 ? (double)(s->train.local_steps * s->train.batch_size)
                                           : (double)(n * epochs);
    sl->t_train = simtime_from_s(work * s->population.seconds_per_sample);
    if (sl->dropout == DROPOUT_DURING_TRAINING)
        return;

    /* Local training from the received model; the update is local minus received. */
    memcpy(sl->w, th->received, w->dim * sizeof *sl->w);
    struct train_params tp = {
        .epochs = (unsigned)s->train.local_epochs,
        .steps = (size_t)s->train.local_steps,
        .batch_size = (size_t)s->train.batch_size,
        .lr = (float)s->train.lr,
        .momentum = (float)s->train.momentum,
        .l2 = (float)s->train.weight_decay,
        .prox_mu = (float)s->train.prox_mu,
    };
    struct rng r;
    rng_init_stream(&r, s->seed, RNG_PURPOSE_TRAIN, w->round, sl->client);
    trainer_train(th->trainer, sl->w, th->received, (size_t)sl->client, &tp, &r, &sl->tr);
    for (size_t i = 0; i < w->dim; i++)
        sl->w[i] -= th->received[i];
    if (sl->dropout == DROPOUT_BEFORE_UPLOAD)
        return;

    sl->rc =
        codec_encode(th->up, sl->msg, codec_max_bytes(th->up), &sl->msg_len, sl->w, &link, &sl->eb);
    if (sl->rc < 0)
        return;
    sl->t_up = run_transfer_time((uint64_t)sl->msg_len * 8, s->population.uplink_mbps,
                                 s->population.latency_ms);
}

static void
run_compute_round(struct run_world *w)
{
#if FEDBITS_HAVE_OPENMP
    long n = (long)w->n_slots;
#pragma omp parallel for num_threads(w->n_threads) schedule(dynamic, 1)
    for (long i = 0; i < n; i++)
        run_compute_slot(w, &w->slots[i], &w->th[omp_get_thread_num()]);
#else
    for (size_t i = 0; i < w->n_slots; i++)
        run_compute_slot(w, &w->slots[i], &w->th[0]);
#endif
}

/* Selects the round's clients and who of them drops out, then does their work. */
static int
run_round_start(struct run_world *w, int64_t now, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    size_t n_clients = w->ds->n_clients;
    w->round_start = now;
    w->pending = w->n_slots;
    w->train_loss_sum = 0;
    w->rec = (struct store_round){ .round = w->round, .selected = w->n_slots };

    /* Uniform selection without replacement: a partial Fisher-Yates shuffle. */
    struct rng r;
    rng_init_stream(&r, s->seed, RNG_PURPOSE_SELECT, w->round, RNG_ANY);
    for (size_t i = 0; i < n_clients; i++)
        w->perm[i] = (uint32_t)i;
    for (size_t i = 0; i < w->n_slots; i++) {
        size_t j = i + (size_t)rng_below(&r, n_clients - i);
        uint32_t t = w->perm[i];
        w->perm[i] = w->perm[j];
        w->perm[j] = t;
    }
    for (size_t i = 0; i < w->n_slots; i++) {
        struct run_slot *sl = &w->slots[i];
        sl->client = w->perm[i];
        struct rng d;
        rng_init_stream(&d, s->seed, RNG_PURPOSE_DROPOUT, w->round, sl->client);
        double u = rng_uniform(&d);
        sl->dropout = RUN_NO_DROPOUT;
        if (u < s->population.dropout_probability) {
            sl->dropout = s->population.dropout_phase;
            if (sl->dropout == DROPOUT_ANY)
                sl->dropout = (int)rng_below(&d, DROPOUT_ANY);
        }
        sl->drop_frac = rng_uniform(&d);
    }

    run_compute_round(w);

    for (size_t i = 0; i < w->n_slots; i++) {
        struct run_slot *sl = &w->slots[i];
        if (sl->rc < 0) {
            *eb = sl->eb;
            return errbuf_prefix(eb, "round %llu, client %llu", (unsigned long long)w->round,
                                 (unsigned long long)sl->client);
        }
        int rc;
        if (sl->dropout == DROPOUT_BEFORE_DOWNLOAD)
            rc = run_push(w, now, RUN_EV_DROPOUT, i, eb);
        else
            rc = run_push(w, simtime_add(now, sl->t_down), RUN_EV_DOWNLINK_DONE, i, eb);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
run_client_done(struct run_world *w, int64_t now, struct errbuf *eb)
{
    if (--w->pending > 0)
        return 0;
    return run_push(w, now, RUN_EV_AGGREGATE, RUN_NO_CLIENT, eb);
}

/*
 * NMSE of the decoded aggregate against the exact weighted mean of the same updates
 * (the uncompressed vectors the clients encoded), summed in slot order in double.
 */
static double
run_nmse(struct run_world *w)
{
    memset(w->exact, 0, w->dim * sizeof *w->exact);
    double total = 0;
    for (size_t k = 0; k < w->n_slots; k++) {
        const struct run_slot *sl = &w->slots[k];
        if (!sl->uploaded || sl->samples == 0)
            continue;
        double wt = (double)sl->samples;
        total += wt;
        for (size_t i = 0; i < w->dim; i++)
            w->exact[i] += wt * (double)sl->w[i];
    }
    double err = 0, norm = 0;
    for (size_t i = 0; i < w->dim; i++) {
        double e = w->exact[i] / total;
        double d = (double)w->mean[i] - e;
        err += d * d;
        norm += e * e;
    }
    return norm > 0 ? err / norm : 0.0;
}

static int
run_round_close(struct run_world *w, int64_t now, struct run_summary *sum, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    struct store_round *rec = &w->rec;
    struct codec_link link = { .seed = s->seed, .round = w->round, .client = RUN_NO_CLIENT };
    if (fedavg_count(w->agg) > 0) {
        int rc = fedavg_finish(w->agg, w->mean, &link, eb);
        if (rc < 0)
            return rc;
        if (s->output.nmse) {
            rec->has_nmse = true;
            rec->nmse = run_nmse(w);
        }
        server_opt_apply(w->opt, w->w, w->mean);
    }
    rec->sim_time_us = now;
    rec->train_loss = rec->participants > 0 ? w->train_loss_sum / (double)rec->participants : 0;
    if (w->round % s->output.eval_every == 0 || w->round == s->train.rounds) {
        struct eval_result er;
        trainer_evaluate(w->th[0].trainer, w->w, &w->ds->test, NULL, w->ds->test.n, &er);
        rec->evaluated = true;
        rec->accuracy = er.n > 0 ? (double)er.correct / (double)er.n : 0.0;
        rec->loss = er.loss;
        sum->final_accuracy = rec->accuracy;
        sum->final_loss = rec->loss;
    }
    int rc = store_write_round(w->st, w->run_id, rec, eb);
    if (rc < 0)
        return rc;
    sum->rounds = w->round;
    sum->uplink_bits += rec->uplink_bits;
    sum->downlink_bits += rec->downlink_bits;
    sum->sim_time_us = now;
    if (w->o->on_round != NULL)
        w->o->on_round(w->o->ctx, s, rec);
    if (w->round < s->train.rounds) {
        w->round++;
        return run_push(w, now, RUN_EV_ROUND_START, RUN_NO_CLIENT, eb);
    }
    return 0;
}

static void
run_fingerprint(struct run_world *w, const struct event *ev)
{
    unsigned char b[20];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)((uint64_t)ev->time >> (8 * i));
        b[12 + i] = (unsigned char)(ev->client >> (8 * i));
    }
    for (int i = 0; i < 4; i++)
        b[8 + i] = (unsigned char)(ev->type >> (8 * i));
    crypto_generichash_update(&w->fp, b, sizeof b);
}

static int
run_handle(struct run_world *w, const struct event *ev, struct run_summary *sum, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    struct run_slot *sl = ev->client < w->n_slots ? &w->slots[ev->client] : NULL;
    switch (ev->type) {
    case RUN_EV_ROUND_START:
        fedavg_begin(w->agg);
        return run_round_start(w, ev->time, eb);
    case RUN_EV_DOWNLINK_DONE:
        w->rec.downlink_bits += sl->down_bits;
        if (sl->dropout == DROPOUT_DURING_TRAINING) {
            int64_t at = simtime_from_s(simtime_to_s(sl->t_train) * sl->drop_frac);
            return run_push(w, simtime_add(ev->time, at), RUN_EV_DROPOUT, ev->client, eb);
        }
        return run_push(w, simtime_add(ev->time, sl->t_train), RUN_EV_TRAIN_DONE, ev->client, eb);
    case RUN_EV_TRAIN_DONE:
        if (sl->dropout == DROPOUT_BEFORE_UPLOAD)
            return run_push(w, ev->time, RUN_EV_DROPOUT, ev->client, eb);
        return run_push(w, simtime_add(ev->time, sl->t_up), RUN_EV_UPLINK_DONE, ev->client, eb);
    case RUN_EV_UPLINK_DONE: {
        struct codec_link link = { .seed = s->seed, .round = w->round, .client = sl->client };
        w->rec.uplink_bits += (uint64_t)sl->msg_len * 8;
        w->rec.participants++;
        sl->uploaded = true;
        w->train_loss_sum += sl->tr.loss;
        if (sl->dropout == DROPOUT_AFTER_UPLOAD)
            w->rec.dropped++;
        if (sl->samples > 0) {
            int rc = fedavg_add(w->agg, sl->msg, sl->msg_len, (double)sl->samples, &link, eb);
            if (rc < 0)
                return errbuf_prefix(eb, "round %llu, update of client %llu",
                                     (unsigned long long)w->round, (unsigned long long)sl->client);
        }
        return run_client_done(w, ev->time, eb);
    }
    case RUN_EV_DROPOUT:
        w->rec.dropped++;
        return run_client_done(w, ev->time, eb);
    case RUN_EV_AGGREGATE:
        return run_round_close(w, ev->time, sum, eb);
    default:
        return errbuf_set(eb, -ERR_INTERNAL, "unknown event type %u", ev->type);
    }
}

int
run_execute(const struct scenario *s, struct store *st, int64_t run_id, const struct run_options *o,
            struct run_summary *sum, struct errbuf *eb)
{
    *sum = (struct run_summary){ 0 };
    struct run_world w = { .s = s, .st = st, .run_id = run_id, .o = o, .round = 1 };
    /* Parallelism is across clients; each BLAS call stays on its calling thread. */
    openblas_set_num_threads(1);
    int rc = run_world_init(&w, eb);
    if (rc < 0)
        goto out;
    sum->model_dim = w.dim;
    sum->threads = w.n_threads;
    rc = run_push(&w, 0, RUN_EV_ROUND_START, RUN_NO_CLIENT, eb);
    struct event ev;
    while (rc == 0 && event_queue_pop(w.q, &ev)) {
        if (o->stop != NULL && *o->stop) {
            rc = errbuf_set(eb, -ERR_INTERRUPTED, "interrupted after %llu rounds",
                            (unsigned long long)sum->rounds);
            break;
        }
        run_fingerprint(&w, &ev);
        sum->events++;
        rc = run_handle(&w, &ev, sum, eb);
    }
    unsigned char digest[32];
    crypto_generichash_final(&w.fp, digest, sizeof digest);
    sodium_bin2hex(sum->fingerprint, sizeof sum->fingerprint, digest, sizeof digest);
out:
    run_world_release(&w);
    return rc;
}
