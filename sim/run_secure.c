/*
 * run_secure: the secure-aggregation round of the discrete-event loop (run_int.h).
 *
 * With aggregation.secure = secagg or secagg+, a round's cohort runs the protocol of
 * clients/secagg_client.h and aggregator/secagg_server.h: AdvertiseKeys (its request
 * travels with the model), ShareKeys, MaskedInputCollection (a client answers once its
 * training is done), ConsistencyCheck (semi-malicious only) and Unmasking. Every phase is a
 * request per live client and a reply per answering client; each reply is an event at the
 * time its bytes arrive (latency + bits / bandwidth of that client), and the phase closes
 * when every expected reply is in. A selected client that drops out stops answering in the
 * phase its dropout phase maps to (docs/secure.md): before_download in AdvertiseKeys,
 * during_training in ShareKeys, before_upload in MaskedInputCollection (its pairwise masks
 * are recovered from shares), after_upload in Unmasking (its self mask is rebuilt). Below
 * the threshold, or under SecAgg+ with more than ⌊δn⌋ dropped, the server aborts and the
 * round fails with the model unchanged; so does a round whose cohort is below 3 clients.
 *
 * What is summed: each client decodes its own uplink message (exactly what a plain server
 * would decode), scales it by its FedAvg weight samples / weight_norm <= 1, and embeds it
 * with the weight as one more coordinate in fixed point (codec/fixed_point.h); the server
 * unmasks the ring sum and divides. Accounting mode runs the same messages without
 * cryptography and gives the bit-identical sum. Bits: the masked input's k bits per
 * coordinate are uplink payload; every other byte of the protocol is protocol bits.
 */
#include "sim/run_int.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

#include "aggregator/secagg_graph.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/simtime.h"
#include "sim/carriage.h"
#include "base/banned.h"

/* Byte offset of the fixed-point rounding draws in the client's private codec stream. */
#define RUN_SECURE_ROUNDING_OFFSET ((uint64_t)1 << 59)

/* The phase in which a client whose dropout phase is `phase` stops answering. */
static int
run_secure_drop_phase(int dropout)
{
    switch (dropout) {
    case DROPOUT_BEFORE_DOWNLOAD:
        return SECAGG_PHASE_ADVERTISE_KEYS;
    case DROPOUT_DURING_TRAINING:
        return SECAGG_PHASE_SHARE_KEYS;
    case DROPOUT_BEFORE_UPLOAD:
        return SECAGG_PHASE_MASKED_INPUT;
    case DROPOUT_AFTER_UPLOAD:
        return SECAGG_PHASE_UNMASKING;
    default:
        return -1;
    }
}

int
run_secure_init(struct run_world *w, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    if (s->aggregation.secure == SECURE_NONE)
        return 0;
    int rc = fixed_point_init(&w->sec.ring_fp, s->aggregation.fixed_point_bits, s->aggregation.clip,
                              w->n_jobs, eb);
    if (rc < 0)
        return errbuf_prefix(eb, "aggregation");
    w->sec.weight_norm = 1.0; /* read only when weighting by samples */
    if (s->aggregation.weighting == WEIGHTING_SAMPLES) {
        rc = run_world_weight_norm(w, &w->sec.weight_norm, eb);
        if (rc < 0)
            return errbuf_prefix(eb, "aggregation");
    }
    w->sec.thc_ring = s->uplink.codec.kind == CODEC_THC;
    w->sec.sa_m = w->dim + 1;
    for (unsigned t = 0; t < w->n_threads; t++) {
        w->th[t].decoded = mem_alloc(w->dim * sizeof(float));
        if (w->th[t].decoded == NULL)
            goto nomem;
    }
    if (w->sec.thc_ring)
        w->sec.sa_m = w->thc.len + 1; /* the integers from run_thc_init() */
    if (w->ddp.on)
        w->sec.sa_m = w->ddp.len; /* distributed DP's noisy integers (run_ddp.c) */
    w->sec.ring_sum = mem_alloc(w->sec.sa_m * sizeof *w->sec.ring_sum);
    w->sec.mean_d = mem_alloc(w->sec.sa_m * sizeof *w->sec.mean_d);
    if (w->sec.ring_sum == NULL || w->sec.mean_d == NULL)
        goto nomem;
    for (size_t i = 0; i < w->n_jobs; i++) {
        w->jobs[i].ring = mem_alloc(w->sec.sa_m * sizeof(uint64_t));
        if (w->jobs[i].ring == NULL)
            goto nomem;
    }
    return 0;
nomem:
    return errbuf_set(eb, -ERR_NOMEM, "out of memory for secure aggregation");
}

static void
run_secure_end_round(struct run_world *w)
{
    for (size_t i = 0; i < w->n_jobs; i++) {
        secagg_client_free(w->jobs[i].sa);
        w->jobs[i].sa = NULL;
    }
    secagg_server_free(w->sec.sa);
    w->sec.sa = NULL;
    mem_free((void *)w->sec.sa_params.ids);
    mem_free((void *)w->sec.sa_params.pki);
    w->sec.sa_params.ids = NULL;
    w->sec.sa_params.pki = NULL;
}

void
run_secure_release(struct run_world *w)
{
    if (w->jobs != NULL) {
        run_secure_end_round(w);
        for (size_t i = 0; i < w->n_jobs; i++) {
            mem_free(w->jobs[i].ring);
            mem_free(w->jobs[i].req);
            mem_free(w->jobs[i].reply);
        }
    }
    if (w->th != NULL) {
        for (unsigned t = 0; t < w->n_threads; t++) {
            mem_free(w->th[t].decoded);
        }
    }
    mem_free(w->sec.ring_sum);
    mem_free(w->sec.mean_d);
}

void
run_secure_encode_job(struct run_world *w, struct run_job *j, struct run_thread *th)
{
    if (w->sec.thc_ring)
        return; /* THC integers need the round's common norm: run_secure_thc_inputs() */
    struct codec_link link = { .seed = w->s->seed, .round = j->stream, .client = j->client };
    j->rc = codec_decode(th->up, th->decoded, j->msg, j->msg_len, &link, &j->eb);
    if (j->rc < 0)
        return;
    if (w->ddp.on) {
        run_ddp_encode(w, j, th, th->decoded);
        return;
    }
    /* Rounding is encoder-only randomness (codec/fixed_point.h): the client's private codec
     * stream, far past anything its uplink codec draws, never a stream of key material. */
    struct rng r;
    rng_init_stream(&r, w->s->seed, RNG_PURPOSE_CODEC_PRIVATE, j->stream, j->client);
    rng_seek(&r, RUN_SECURE_ROUNDING_OFFSET);
    double weight = w->s->aggregation.weighting == WEIGHTING_UNIFORM
                        ? 1.0
                        : (double)j->samples / w->sec.weight_norm;
    j->rc = fixed_point_encode_weighted(&w->sec.ring_fp, j->ring, th->decoded, w->dim, weight, &r,
                                        &j->eb);
}

/*
 * THC (Li et al., NSDI 2024) sums table integers directly (sim/run_thc.c): every client
 * encodes its update under the round's common norm N (the largest update norm, which the
 * clients report with their AdvertiseKeys reply: 32 bits up each, and the server broadcasts
 * it: 32 bits down each), multiplies its integers by its integer weight w_k and appends w_k,
 * so the ring sum decodes (thc_decode_sum with n = sum of w_k) to the weighted mean, the
 * plain THC round's bit for bit. Accounting mode sums the very same integers.
 */
static void
run_secure_thc_encode(struct run_world *w, struct run_job *j, struct run_thread *th)
{
    run_thc_encode(w, j, th);
    if (j->rc < 0)
        return;
    size_t d = w->sec.sa_m - 1;
    uint64_t weight = run_thc_weight(w, j->samples);
    for (size_t i = 0; i < d; i++)
        j->ring[i] = (uint64_t)th->thc_ints[i] * weight;
    j->ring[d] = weight;
}

static int
run_secure_thc_inputs(struct run_world *w, size_t n, struct errbuf *eb)
{
    /* The owners compute their clients' norms; the ranks agree on the largest. */
    size_t n_owned = 0;
    for (size_t i = 0; i < n; i++) {
        const struct run_job *j = &w->jobs[i];
        if (j->dropout != RUN_NO_DROPOUT && j->dropout != DROPOUT_AFTER_UPLOAD)
            continue; /* never reports a norm it could upload */
        w->open.rec.uplink_bits += 32;
        w->open.rec.uplink_protocol_bits += 32;
        if (run_owns(w, j))
            w->owned[n_owned++] = i;
    }
    int rc = run_thc_norm(w, w->owned, n_owned, eb);
    if (rc < 0)
        return rc;
    run_parallel(w, w->owned, n_owned, run_secure_thc_encode);
    rc = 0;
    for (size_t i = 0; i < n_owned && rc == 0; i++) {
        const struct run_job *j = &w->jobs[w->owned[i]];
        if (j->rc < 0) {
            *eb = j->eb;
            rc = errbuf_prefix(eb, "client %llu, THC", (unsigned long long)j->client);
        }
    }
    rc = run_agree(w, rc, eb);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (w->jobs[i].dropout != DROPOUT_BEFORE_DOWNLOAD) {
            w->open.rec.downlink_bits += 32;
            w->open.rec.downlink_protocol_bits += 32;
        }
    }
    return 0;
}

/*
 * The session id of a round: unique per run (experiment identity, which includes the
 * seed, and round), never 0. It is bound into every pair seed, envelope and client key.
 */
static uint64_t
run_secure_session(const struct scenario *s, uint64_t round)
{
    unsigned char h[8], r8[8];
    for (int i = 0; i < 8; i++)
        r8[i] = (unsigned char)(round >> (8 * i));
    char *id = scenario_identity(s);
    crypto_generichash_state st;
    crypto_generichash_init(&st, (const unsigned char *)"FBSA-SES", 8, sizeof h);
    if (id != NULL)
        crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
    crypto_generichash_update(&st, r8, sizeof r8);
    crypto_generichash_final(&st, h, sizeof h);
    mem_free(id);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | h[i];
    return v != 0 ? v : round + 1;
}

/*
 * The round's registration: cohort slot i is client jobs[i].client, whose long-term signing
 * key is bound to that id; the server and the clients get only the verification keys
 * (secagg_wire_pki_fill plays the PKI). Freed by run_secure_end_round().
 */
static int
run_secure_register(struct run_world *w, struct errbuf *eb)
{
    struct secagg_params *p = &w->sec.sa_params;
    uint64_t *ids = mem_alloc((size_t)p->n * sizeof *ids);
    if (ids == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory for secure aggregation");
    for (uint32_t i = 0; i < p->n; i++)
        ids[i] = w->jobs[i].client;
    p->ids = ids;
    if (secagg_wire_signed(p) && p->masks == SECAGG_MASKS_FULL) {
        unsigned char(*pki)[SIGN_PUBLIC_BYTES] = mem_alloc((size_t)p->n * sizeof *pki);
        if (pki == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory for secure aggregation");
        p->pki = (const unsigned char(*)[SIGN_PUBLIC_BYTES])pki;
        int rc = secagg_wire_pki_fill(pki, p->server_pk, p, eb);
        if (rc < 0)
            return rc;
    }
    return secagg_wire_params_check(p, eb);
}

/* The threshold: the SecAgg+ rule, or for the complete graph that of Bonawitz et al.,
 * "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017. */
static int
run_secure_params(struct run_world *w, uint32_t n, struct errbuf *eb)
{
    const struct scenario *s = w->s;
    struct secagg_params *p = &w->sec.sa_params;
    double gamma = s->aggregation.corruption_rate;
    enum secagg_threat threat = s->aggregation.threat == SECURE_SEMI_MALICIOUS
                                    ? SECAGG_THREAT_SEMI_MALICIOUS
                                    : SECAGG_THREAT_CURIOUS;
    /* A cohort of one or two has no privacy to protect (each of two learns the other's
     * input from the sum), and an override valid for clients_per_round may not be for a
     * smaller cohort: such a round fails, the run goes on. */
    if (n < 3)
        return errbuf_set(eb, -ERR_ABORTED, "a cohort of %u clients cannot aggregate securely", n);
    if (s->aggregation.threshold > 0 &&
        secagg_graph_check_threshold((uint32_t)s->aggregation.threshold, n,
                                     s->aggregation.secure == SECURE_SECAGG_PLUS, gamma,
                                     s->aggregation.dropout_rate, threat, eb) < 0)
        return -ERR_ABORTED;
    *p = (struct secagg_params){
        .graph = SECAGG_GRAPH_COMPLETE,
        .n = n,
        .degree = n - 1,
        .ring_bits = fixed_point_ring_bits(&w->sec.ring_fp),
        .value_bits = w->sec.ring_fp.value_bits,
        .threat = threat,
        .masks = s->aggregation.masks == SECURE_MASKS_ACCOUNTING ? SECAGG_MASKS_ACCOUNTING
                                                                 : SECAGG_MASKS_FULL,
        .authenticate = s->aggregation.authenticate,
        .random_keys = s->aggregation.keys == SECURE_KEYS_RANDOM,
        .session = run_secure_session(s, w->open.round),
        .seed = s->seed,
        .round = w->open.round,
        .m = w->sec.sa_m,
    };
    if (w->sec.thc_ring) {
        /* Values w_k v_k <= vmax = largest weight x g; the ring holds the sum of n of them
         * without wrapping in ceil(log2(n vmax + 1)) bits (b + ceil(log2 n) for THC's g = 16
         * at 4 bits with uniform weights), tighter than value bits + ceil(log2 n): the bound
         * is the values' own, so no value_bits. */
        const uint16_t *levels;
        uint64_t g = thc_table(w->th[0].thc, &levels);
        carriage_thc_ring(g, run_thc_weight_max(w), n, &p->value_bits, &p->ring_bits);
    }
    if (w->ddp.on) {
        /* Noisy integers modulo 2^k: every ring element is a valid input, and the sum wraps
         * by design (run_ddp.c counts where). */
        p->ring_bits = w->ddp.bits;
        p->value_bits = 0;
    }
    uint32_t t = 0;
    if (s->aggregation.secure == SECURE_SECAGG_PLUS) {
        uint32_t degree;
        int rc = secagg_graph_harary_params(&degree, &t, n, gamma, s->aggregation.dropout_rate,
                                            threat, eb);
        if (rc < 0)
            return errbuf_prefix(eb, "aggregation");
        if (rc == 0) {
            p->graph = SECAGG_GRAPH_HARARY;
            p->degree = degree;
            p->min_clients = secagg_graph_min_clients(n, s->aggregation.dropout_rate);
        }
    }
    if (t == 0) {
        /* Complete graph (Bonawitz et al., CCS 2017): t > gamma n against a curious server
         * colluding with gamma n clients, 2t > n + gamma n against a semi-malicious one; and always
         * a majority. */
        t = secagg_graph_complete_min_t(n, gamma, threat);
        if (t < n / 2 + 1)
            t = n / 2 + 1;
    }
    if (s->aggregation.threshold > 0)
        t = (uint32_t)s->aggregation.threshold;
    if (t < 2)
        t = 2;
    if (t > p->degree + 1)
        t = p->degree + 1;
    p->t = t;
    return run_secure_register(w, eb);
}

static int
run_secure_grow(unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    unsigned char *b = mem_realloc(*buf, need);
    if (b == NULL)
        return -ERR_NOMEM;
    *buf = b;
    *cap = need;
    return 0;
}

static void
run_secure_step(struct run_world *w, struct run_job *j, struct run_thread *th)
{
    (void)th;
    enum secagg_phase phase = (enum secagg_phase)w->sec.sa_phase;
    if (phase == SECAGG_PHASE_MASKED_INPUT && !run_owns(w, j)) {
        /* Another rank masks this client's input; here its protocol state moves on alone
         * (the reply's size is all this rank needs of it). */
        j->sa_rc = secagg_client_masked_prepare(j->sa, j->req, j->req_len, j->reply, j->reply_cap,
                                                &j->reply_len, NULL);
        secagg_client_masked_finish(j->sa);
        return;
    }
    j->sa_rc = secagg_client_step(j->sa, phase, j->req, j->req_len, j->reply, j->reply_cap,
                                  &j->reply_len, NULL);
}

static int run_secure_close_phase(struct run_world *w, int64_t now, struct run_summary *sum,
                                  struct errbuf *eb);

/* Sends the open phase's requests at `now` and schedules the replies. */
static int
run_secure_phase(struct run_world *w, int64_t now, struct run_summary *sum, struct errbuf *eb)
{
    enum secagg_phase phase = (enum secagg_phase)w->sec.sa_phase;
    size_t n_reply = 0;
    for (size_t i = 0; i < w->sec.sa_n; i++) {
        struct run_job *j = &w->jobs[i];
        j->replies = false;
        if (secagg_server_dropped_phase(w->sec.sa, (uint32_t)i) >= 0 || secagg_client_failed(j->sa))
            continue;
        size_t len;
        int rc = secagg_server_message_for(w->sec.sa, phase, (uint32_t)i, NULL, 0, &len, eb);
        if (rc == 0 && run_secure_grow(&j->req, &j->req_cap, len) < 0)
            rc = errbuf_set(eb, -ERR_NOMEM, "out of memory for protocol messages");
        if (rc == 0)
            rc = secagg_server_message_for(w->sec.sa, phase, (uint32_t)i, j->req, j->req_cap,
                                           &j->req_len, eb);
        if (rc < 0)
            return errbuf_prefix(eb, "round %llu, secure aggregation",
                                 (unsigned long long)w->open.round);
        bool gets_model =
            phase != SECAGG_PHASE_ADVERTISE_KEYS || j->dropout != DROPOUT_BEFORE_DOWNLOAD;
        if (gets_model) {
            w->open.rec.downlink_bits += (uint64_t)j->req_len * 8;
            w->open.rec.downlink_protocol_bits += (uint64_t)j->req_len * 8;
        }
        if (run_secure_drop_phase(j->dropout) == (int)phase)
            continue; /* vanishes now: receives the request, never answers */
        if (run_secure_grow(&j->reply, &j->reply_cap, secagg_client_reply_bytes(j->sa, phase)) < 0)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory for protocol messages");
        j->replies = true;
        n_reply++;
    }
    /* The clients answer in parallel: masking a long vector is the protocol's heavy part. */
    size_t n_step = 0;
    for (size_t i = 0; i < w->sec.sa_n; i++) {
        if (w->jobs[i].replies)
            w->owned[n_step++] = i;
    }
    run_parallel(w, w->owned, n_step, run_secure_step);
    w->sec.sa_pending = 0;
    for (size_t i = 0; i < w->sec.sa_n; i++) {
        struct run_job *j = &w->jobs[i];
        if (!j->replies)
            continue;
        if (j->sa_rc == -ERR_NOMEM)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory in a secure aggregation client");
        if (j->sa_rc < 0) {
            j->replies = false; /* a client that cannot answer is a client that drops */
            continue;
        }
        size_t k = (size_t)j->client;
        int64_t at = simtime_add(
            now, population_transfer_us(w->pop, k, j->stream, true, (uint64_t)j->req_len * 8));
        if (phase == SECAGG_PHASE_ADVERTISE_KEYS)
            at = simtime_add(at, j->t_down); /* the request travels with the model */
        if (phase == SECAGG_PHASE_MASKED_INPUT) {
            int64_t trained = simtime_add(simtime_add(j->started_at, j->t_down), j->t_train);
            at = at > trained ? at : trained;
        }
        at = simtime_add(
            at, population_transfer_us(w->pop, k, j->stream, false, (uint64_t)j->reply_len * 8));
        int rc = run_push_job(w, at, RUN_EV_SECAGG_REPLY, i, eb);
        if (rc < 0)
            return rc;
        w->sec.sa_pending++;
    }
    (void)n_reply;
    if (w->sec.sa_pending == 0)
        return run_secure_close_phase(w, now, sum, eb);
    return 0;
}

static int run_secure_finish(struct run_world *w, int64_t now, bool aborted,
                             struct run_summary *sum, struct errbuf *eb);

int
run_secure_round_start(struct run_world *w, int64_t now, size_t n, struct run_summary *sum,
                       struct errbuf *eb)
{
    w->sec.sa_n = n;
    w->open.rec.secure = true;
    struct errbuf inner;
    errbuf_clear(&inner);
    int rc = run_secure_params(w, (uint32_t)n, &inner);
    if (rc == -ERR_ABORTED)
        return run_secure_finish(w, now, true, sum, eb);
    if (rc < 0) {
        *eb = inner;
        return errbuf_prefix(eb, "round %llu, secure aggregation",
                             (unsigned long long)w->open.round);
    }
    if (w->sec.thc_ring) {
        rc = run_secure_thc_inputs(w, n, eb);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (w->jobs[i].dropout != DROPOUT_BEFORE_DOWNLOAD) {
            w->open.rec.downlink_bits += w->jobs[i].down_bits;
            w->open.rec.downlink_anchor_bits += w->jobs[i].anchor_bits;
            w->open.rec.downlink_correction_bits += w->jobs[i].corr_bits;
        }
    }
    rc = secagg_server_new(&w->sec.sa, &w->sec.sa_params, eb);
    if (rc == 0 && cluster_size(w->cl) > 1) {
        /* Each rank sums the masked inputs of the clients it owns (sim/cluster.h). */
        uint8_t *local = mem_alloc(n);
        if (local == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory for secure aggregation");
        for (size_t i = 0; i < n; i++)
            local[i] = run_owns(w, &w->jobs[i]);
        rc = secagg_server_set_local(w->sec.sa, local, eb);
        mem_free(local);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = secagg_client_new(&w->jobs[i].sa, &w->sec.sa_params, (uint32_t)i, eb);
        if (rc == 0)
            rc = secagg_client_set_input(w->jobs[i].sa, w->jobs[i].ring, eb);
    }
    if (rc < 0)
        return errbuf_prefix(eb, "round %llu, secure aggregation",
                             (unsigned long long)w->open.round);
    w->sec.sa_phase = SECAGG_PHASE_ADVERTISE_KEYS;
    return run_secure_phase(w, now, sum, eb);
}

/* The round's outcome: the unmasked weighted mean, or a failed round when aborted. */
static int
run_secure_finish(struct run_world *w, int64_t now, bool aborted, struct run_summary *sum,
                  struct errbuf *eb)
{
    bool *accepted = mem_calloc(w->n_jobs, sizeof *accepted);
    if (accepted == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "out of memory closing the round");
    w->open.rec.secure_aborted = aborted;
    int rc = 0;
    size_t included = 0;
    for (size_t i = 0; i < w->sec.sa_n; i++) {
        struct run_job *j = &w->jobs[i];
        bool in = !aborted && secagg_server_included(w->sec.sa, (uint32_t)i);
        int dropped = w->sec.sa != NULL ? secagg_server_dropped_phase(w->sec.sa, (uint32_t)i) : -1;
        accepted[i] = in;
        included += in;
        if (in) {
            w->open.rec.participants++;
            w->open.train_loss_sum += j->tr.loss;
        }
        /* An after_upload client is both included and dropped, as in the plain round. */
        int outcome = in && dropped < 0 ? STORE_COMPLETED : STORE_DROPPED;
        w->open.rec.dropped += dropped >= 0;
        if (rc == 0)
            rc = run_job_note(w, j, outcome, now, 0, eb);
        j->active = false;
    }
    w->open.received = included;
    w->sec.secure_mean_ready = false;
    if (rc == 0 && !aborted && included > 0) {
        rc = secagg_server_result(w->sec.sa, w->sec.ring_sum, w->sec.sa_m, eb);
        if (rc == 0 && cluster_size(w->cl) > 1) {
            /* Each rank's share of the ring sum; wrap-around addition is the ring's. */
            rc = cluster_sum_u64(w->cl, w->sec.ring_sum, w->sec.sa_m, eb);
            unsigned k = w->sec.sa_params.ring_bits;
            uint64_t mask = k >= 64 ? UINT64_MAX : (UINT64_C(1) << k) - 1;
            for (size_t i = 0; i < w->sec.sa_m; i++)
                w->sec.ring_sum[i] &= mask;
        }
        if (rc == 0 && w->ddp.on) {
            rc = run_ddp_decode(w, w->sec.ring_sum, accepted, included, eb);
            w->sec.secure_mean_ready = rc == 0;
        } else if (rc == 0 && w->sec.thc_ring) {
            /* One decode and one inverse rotation for the whole round. */
            if (w->sec.ring_sum[w->sec.sa_m - 1] == 0)
                rc = errbuf_set(eb, -ERR_ABORTED, "no weight reached the server");
            else
                run_thc_decode(w, w->sec.ring_sum);
            w->sec.secure_mean_ready = rc == 0;
        } else if (rc == 0) {
            rc = fixed_point_decode_weighted(&w->sec.ring_fp, w->sec.mean_d, w->sec.ring_sum,
                                             w->dim, included, eb);
            if (rc == 0) {
                for (size_t i = 0; i < w->dim; i++)
                    w->model.mean[i] = (float)w->sec.mean_d[i];
                w->sec.secure_mean_ready = true;
            }
        }
    }
    run_secure_end_round(w);
    if (rc == 0)
        rc = run_close(w, now, now, accepted, sum, eb);
    mem_free(accepted);
    return rc;
}

static int
run_secure_close_phase(struct run_world *w, int64_t now, struct run_summary *sum, struct errbuf *eb)
{
    enum secagg_phase phase = (enum secagg_phase)w->sec.sa_phase;
    struct errbuf inner;
    errbuf_clear(&inner);
    int rc = secagg_server_close_phase(w->sec.sa, phase, &inner);
    if (phase == SECAGG_PHASE_UNMASKING && cluster_size(w->cl) > 1) {
        /* Unmasking is sharded: a rank whose secrets did not rebuild aborts every rank's
         * round, and a rank that failed otherwise fails them all. */
        uint64_t flags[2] = { rc == -ERR_ABORTED, rc < 0 && rc != -ERR_ABORTED };
        int crc = cluster_sum_u64(w->cl, flags, 2, eb);
        if (crc < 0)
            return crc;
        if (flags[1] > 0 && !(rc < 0 && rc != -ERR_ABORTED))
            return errbuf_set(eb, -ERR_ABORTED,
                              "round %llu, secure aggregation: another rank failed (see its "
                              "message)",
                              (unsigned long long)w->open.round);
        if (flags[0] > 0 && rc == 0)
            rc = -ERR_ABORTED;
    }
    if (rc == -ERR_ABORTED)
        return run_secure_finish(w, now, true, sum, eb);
    if (rc < 0) {
        *eb = inner;
        return errbuf_prefix(eb, "round %llu, secure aggregation",
                             (unsigned long long)w->open.round);
    }
    if (phase == SECAGG_PHASE_UNMASKING)
        return run_secure_finish(w, now, false, sum, eb);
    if (phase == SECAGG_PHASE_MASKED_INPUT)
        w->sec.sa_phase = w->sec.sa_params.threat == SECAGG_THREAT_SEMI_MALICIOUS
                              ? SECAGG_PHASE_CONSISTENCY_CHECK
                              : SECAGG_PHASE_UNMASKING;
    else
        w->sec.sa_phase = (int)phase + 1;
    return run_secure_phase(w, now, sum, eb);
}

int
run_secure_reply(struct run_world *w, const struct event *ev, struct run_summary *sum,
                 struct errbuf *eb)
{
    size_t slot = (size_t)(ev->arg % w->n_jobs);
    struct run_job *j = &w->jobs[slot];
    if (w->sec.sa == NULL || ev->round != w->open.round || !j->replies)
        return 0;
    enum secagg_phase phase = (enum secagg_phase)w->sec.sa_phase;
    uint64_t bits = (uint64_t)j->reply_len * 8;
    w->open.rec.uplink_bits += bits;
    if (phase == SECAGG_PHASE_MASKED_INPUT) {
        uint64_t payload = (uint64_t)w->sec.sa_m * w->sec.sa_params.ring_bits;
        w->open.rec.uplink_payload_bits += payload;
        w->open.rec.uplink_protocol_bits += bits - payload;
    } else {
        w->open.rec.uplink_protocol_bits += bits;
    }
    struct errbuf inner;
    errbuf_clear(&inner);
    int rc = phase == SECAGG_PHASE_MASKED_INPUT && !run_owns(w, j)
                 ? secagg_server_receive_elsewhere(w->sec.sa, phase, (uint32_t)slot, &inner)
                 : secagg_server_receive(w->sec.sa, phase, (uint32_t)slot, j->reply, j->reply_len,
                                         &inner);
    if (rc == -ERR_NOMEM)
        return errbuf_set(eb, rc, "out of memory in the secure aggregation server");
    /* Any other refusal means the server counts that client as dropped. */
    j->replies = false;
    if (--w->sec.sa_pending > 0)
        return 0;
    return run_secure_close_phase(w, ev->time, sum, eb);
}
