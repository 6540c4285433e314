/* docofl: DoCoFL anchor deposit and per-client downlink messages. See docofl.h. */
#include "aggregator/docofl.h"

#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the state's integers are written with memcpy on little-endian hosts");
_Static_assert(DOCOFL_STATE_HEADER_BYTES == 73 + 6 * 8, "header layout of docofl.h");

static const uint8_t docofl_magic[8] = { 'F', 'B', 'D', 'O', 'C', 'F', 'L', '1' };

/* One anchor of the deposit; anchor id a lives in slots[a % V]. */
struct docofl_slot {
    uint32_t id;
    uint32_t round;  /* round the anchor was made */
    uint8_t *msg;    /* anchor message, anchor_max bytes */
    size_t msg_len;  /* its length */
    float *y;        /* decoded anchor, dim floats */
    uint8_t *corr;   /* this round's correction, correction_max bytes */
    size_t corr_len; /* its length */
    bool corr_valid; /* corr holds the correction of the current round */
};

/* A client that holds an anchor (every other client holds none): a slot of the table. */
struct docofl_held {
    uint64_t key; /* client + 1; 0: an empty slot */
    uint32_t id;
};

struct docofl_server {
    struct docofl_wire_params p;
    size_t dim;
    size_t n_clients;
    size_t anchor_max;
    size_t corr_max;
    struct docofl_wire *wire;
    struct docofl_slot *slots; /* V slots */
    uint8_t *spare_msg;        /* the next anchor is built here, then swapped in */
    float *spare_y;
    struct docofl_held *held; /* the clients that hold an anchor: open addressing, cap_held
                                 slots (0 or a power of two), at most half full */
    size_t n_held;            /* clients in the table */
    size_t cap_held;
    float *w;       /* this round's model */
    float *diff;    /* w − y workspace */
    uint32_t count; /* anchors in the deposit */
    uint32_t next_id;
    bool any_round;
    bool in_round;
    uint32_t round; /* last round begun */
    struct docofl_server_totals tot;
};

struct docofl_server *
docofl_server_new(const struct docofl_wire_params *p, size_t dim, size_t n_clients)
{
    struct docofl_server *s = mem_calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->p = *p;
    s->dim = dim;
    s->n_clients = n_clients;
    s->wire = docofl_wire_new(p, dim);
    if (s->wire == NULL)
        goto fail;
    s->anchor_max = docofl_wire_anchor_max_bytes(s->wire);
    s->corr_max = docofl_wire_correction_max_bytes(s->wire);
    s->slots = mem_calloc(p->anchors, sizeof *s->slots);
    s->spare_msg = mem_alloc(s->anchor_max);
    s->spare_y = mem_calloc(dim, sizeof *s->spare_y);
    s->w = mem_calloc(dim, sizeof *s->w);
    s->diff = mem_calloc(dim, sizeof *s->diff);
    if (s->slots == NULL || s->spare_msg == NULL || s->spare_y == NULL || s->w == NULL ||
        s->diff == NULL)
        goto fail;
    for (uint32_t v = 0; v < p->anchors; v++) {
        struct docofl_slot *sl = &s->slots[v];
        sl->msg = mem_alloc(s->anchor_max);
        sl->y = mem_calloc(dim, sizeof *sl->y);
        sl->corr = mem_alloc(s->corr_max);
        if (sl->msg == NULL || sl->y == NULL || sl->corr == NULL)
            goto fail;
    }
    return s;
fail:
    docofl_server_free(s);
    return NULL;
}

void
docofl_server_free(struct docofl_server *s)
{
    if (s == NULL)
        return;
    if (s->slots != NULL) {
        for (uint32_t v = 0; v < s->p.anchors; v++) {
            mem_free(s->slots[v].msg);
            mem_free(s->slots[v].y);
            mem_free(s->slots[v].corr);
        }
    }
    mem_free(s->slots);
    mem_free(s->spare_msg);
    mem_free(s->spare_y);
    mem_free(s->held);
    mem_free(s->w);
    mem_free(s->diff);
    docofl_wire_free(s->wire);
    mem_free(s);
}

static struct docofl_slot *
docofl_slot_of(const struct docofl_server *s, uint32_t id)
{
    return &s->slots[id % s->p.anchors];
}

/* The slot holding key, or the empty slot where it would go (linear probing). */
static struct docofl_held *
docofl_held_slot(struct docofl_held *t, size_t cap, uint64_t key)
{
    size_t h = (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 24) & (cap - 1);
    while (t[h].key != 0 && t[h].key != key)
        h = (h + 1) & (cap - 1);
    return &t[h];
}

/* The anchor id client holds, or DOCOFL_WIRE_NO_ANCHOR. */
static uint32_t
docofl_held_get(const struct docofl_server *s, uint64_t client)
{
    if (s->cap_held == 0)
        return DOCOFL_WIRE_NO_ANCHOR;
    const struct docofl_held *h = docofl_held_slot(s->held, s->cap_held, client + 1);
    return h->key != 0 ? h->id : DOCOFL_WIRE_NO_ANCHOR;
}

/* Room for n clients in the table (rehashed into a larger one when needed); -ERR_NOMEM
 * (nothing changed) when it cannot grow. */
static int
docofl_held_reserve(struct docofl_server *s, size_t n, struct errbuf *eb)
{
    if (2 * n <= s->cap_held)
        return 0;
    size_t cap = s->cap_held > 0 ? s->cap_held : 64;
    while (cap < 2 * n)
        cap *= 2;
    struct docofl_held *t = mem_calloc(cap, sizeof *t);
    if (t == NULL)
        return errbuf_set(eb, -ERR_NOMEM, "docofl: out of memory for %zu clients' anchors", n);
    for (size_t i = 0; i < s->cap_held; i++) {
        if (s->held[i].key != 0)
            *docofl_held_slot(t, cap, s->held[i].key) = s->held[i];
    }
    mem_free(s->held);
    s->held = t;
    s->cap_held = cap;
    return 0;
}

/* Records that client holds anchor id; -ERR_NOMEM (nothing changed) when the table cannot
 * grow. It doubles, so memory and time follow the clients that took part. */
static int
docofl_held_set(struct docofl_server *s, uint64_t client, uint32_t id, struct errbuf *eb)
{
    uint64_t key = client + 1;
    if (docofl_held_get(s, client) == DOCOFL_WIRE_NO_ANCHOR) {
        int rc = docofl_held_reserve(s, s->n_held + 1, eb);
        if (rc < 0)
            return rc;
    }
    struct docofl_held *h = docofl_held_slot(s->held, s->cap_held, key);
    if (h->key == 0)
        s->n_held++;
    *h = (struct docofl_held){ .key = key, .id = id };
    return 0;
}

/* True when anchor id is in the deposit. */
static bool
docofl_in_deposit(const struct docofl_server *s, uint32_t id)
{
    return id != DOCOFL_WIRE_NO_ANCHOR && id < s->next_id && s->next_id - id <= s->count;
}

/* Encodes and decodes the next anchor from s->w into the spares, then swaps them in. */
static int
docofl_make_anchor(struct docofl_server *s, uint32_t round, struct errbuf *eb)
{
    uint32_t id = s->next_id;
    if (id == DOCOFL_WIRE_NO_ANCHOR)
        return errbuf_set(eb, -ERR_RANGE, "docofl: anchor ids exhausted");
    size_t len = 0;
    int rc =
        docofl_wire_anchor_encode(s->wire, s->spare_msg, s->anchor_max, &len, s->w, id, round, eb);
    if (rc < 0)
        return rc;
    rc = docofl_wire_anchor_decode(s->wire, s->spare_y, NULL, s->spare_msg, len, eb);
    if (rc < 0)
        return rc;
    struct docofl_slot *sl = docofl_slot_of(s, id);
    uint8_t *old_msg = sl->msg;
    float *old_y = sl->y;
    sl->msg = s->spare_msg;
    sl->y = s->spare_y;
    s->spare_msg = old_msg;
    s->spare_y = old_y;
    sl->id = id;
    sl->round = round;
    sl->msg_len = len;
    sl->corr_valid = false;
    s->next_id = id + 1;
    if (s->count < s->p.anchors)
        s->count++;
    s->tot.anchors_made++;
    return 0;
}

int
docofl_server_begin_round(struct docofl_server *s, uint32_t round, const float *w,
                          struct errbuf *eb)
{
    if (s->any_round && round <= s->round)
        return errbuf_set(eb, -ERR_INVALID, "docofl: round %u after round %u", round, s->round);
    memcpy(s->w, w, s->dim * sizeof *w);
    s->in_round = false;
    for (uint32_t v = 0; v < s->p.anchors; v++)
        s->slots[v].corr_valid = false;
    bool due = s->count == 0;
    if (!due) {
        const struct docofl_slot *newest = docofl_slot_of(s, s->next_id - 1);
        due = round - newest->round >= s->p.anchor_every;
    }
    if (due) {
        int rc = docofl_make_anchor(s, round, eb);
        if (rc < 0)
            return rc;
    }
    s->any_round = true;
    s->in_round = true;
    s->round = round;
    return 0;
}

int
docofl_server_prepare(struct docofl_server *s, uint64_t client, struct docofl_server_msgs *out,
                      struct errbuf *eb)
{
    if (!s->in_round)
        return errbuf_set(eb, -ERR_INVALID, "docofl: prepare before a round has begun");
    if (client >= s->n_clients)
        return errbuf_set(eb, -ERR_RANGE, "docofl: client %llu of %zu", (unsigned long long)client,
                          s->n_clients);
    uint32_t id = docofl_held_get(s, client);
    bool download = !docofl_in_deposit(s, id);
    if (download) {
        id = s->next_id - 1;
        int rc = docofl_held_set(s, client, id, eb);
        if (rc < 0)
            return rc;
    }
    struct docofl_slot *sl = docofl_slot_of(s, id);
    if (!sl->corr_valid) {
        for (size_t i = 0; i < s->dim; i++)
            s->diff[i] = s->w[i] - sl->y[i];
        int rc = docofl_wire_correction_encode(s->wire, sl->corr, s->corr_max, &sl->corr_len,
                                               s->diff, id, s->round, eb);
        if (rc < 0)
            return rc;
        sl->corr_valid = true;
        s->tot.corrections_encoded++;
    }
    *out = (struct docofl_server_msgs){
        .anchor_id = id,
        .anchor_download = download,
        .anchor = sl->msg,
        .anchor_len = sl->msg_len,
        .correction = sl->corr,
        .correction_len = sl->corr_len,
        .anchor_bits = download ? 8 * (uint64_t)sl->msg_len : 0,
        .correction_bits = 8 * (uint64_t)sl->corr_len,
    };
    if (download) {
        s->tot.anchor_bytes += sl->msg_len;
        s->tot.anchor_downloads++;
    }
    s->tot.correction_bytes += sl->corr_len;
    s->tot.corrections_sent++;
    return 0;
}

size_t
docofl_server_dim(const struct docofl_server *s)
{
    return s->dim;
}

uint32_t
docofl_server_anchor_count(const struct docofl_server *s)
{
    return s->count;
}

uint32_t
docofl_server_latest_anchor(const struct docofl_server *s)
{
    return s->count == 0 ? DOCOFL_WIRE_NO_ANCHOR : s->next_id - 1;
}

uint32_t
docofl_server_client_anchor(const struct docofl_server *s, uint64_t client)
{
    return client < s->n_clients ? docofl_held_get(s, client) : DOCOFL_WIRE_NO_ANCHOR;
}

int
docofl_server_anchor(const struct docofl_server *s, uint32_t id, const uint8_t **msg, size_t *len,
                     const float **y, struct errbuf *eb)
{
    if (!docofl_in_deposit(s, id))
        return errbuf_set(eb, -ERR_NOTFOUND, "docofl: anchor %u is not in the deposit", id);
    const struct docofl_slot *sl = docofl_slot_of(s, id);
    if (msg != NULL)
        *msg = sl->msg;
    if (len != NULL)
        *len = sl->msg_len;
    if (y != NULL)
        *y = sl->y;
    return 0;
}

void
docofl_server_totals(const struct docofl_server *s, struct docofl_server_totals *t)
{
    *t = s->tot;
}

size_t
docofl_server_anchor_max_bytes(const struct docofl_server *s)
{
    return s->anchor_max;
}

size_t
docofl_server_correction_max_bytes(const struct docofl_server *s)
{
    return s->corr_max;
}

/* State */

size_t
docofl_server_state_size(const struct docofl_server *s)
{
    size_t n = DOCOFL_STATE_HEADER_BYTES + 4 * s->n_clients;
    for (uint32_t j = 0; j < s->count; j++)
        n += 12 + docofl_slot_of(s, s->next_id - s->count + j)->msg_len;
    return n;
}

static uint8_t *
docofl_put(uint8_t *p, const void *v, size_t n)
{
    memcpy(p, v, n);
    return p + n;
}

/* Writes the fixed header fields that must equal the server's (offsets 0..60). */
static void
docofl_put_identity(const struct docofl_server *s, uint8_t out[60])
{
    uint64_t dim = s->dim;
    uint64_t nc = s->n_clients;
    uint32_t codec = (uint32_t)s->p.anchor_codec;
    uint8_t *p = out;
    p = docofl_put(p, docofl_magic, 8);
    p = docofl_put(p, &dim, 8);
    p = docofl_put(p, &nc, 8);
    p = docofl_put(p, &s->p.anchor_every, 4);
    p = docofl_put(p, &s->p.anchors, 4);
    p = docofl_put(p, &codec, 4);
    p = docofl_put(p, &s->p.anchor_bits, 8);
    p = docofl_put(p, &s->p.correction_bits, 8);
    docofl_put(p, &s->p.seed, 8);
}

int
docofl_server_state_get(const struct docofl_server *s, uint8_t *out, size_t cap, size_t *len,
                        struct errbuf *eb)
{
    size_t need = docofl_server_state_size(s);
    if (cap < need)
        return errbuf_set(eb, -ERR_RANGE, "docofl state buffer of %zu bytes, %zu needed", cap,
                          need);
    docofl_put_identity(s, out);
    uint8_t *p = out + 60;
    *p++ = s->any_round ? 1 : 0;
    p = docofl_put(p, &s->round, 4);
    p = docofl_put(p, &s->next_id, 4);
    p = docofl_put(p, &s->count, 4);
    const uint64_t tot[6] = { s->tot.anchor_bytes,     s->tot.correction_bytes,
                              s->tot.anchors_made,     s->tot.corrections_encoded,
                              s->tot.anchor_downloads, s->tot.corrections_sent };
    p = docofl_put(p, tot, sizeof tot);
    for (uint32_t j = 0; j < s->count; j++) {
        const struct docofl_slot *sl = docofl_slot_of(s, s->next_id - s->count + j);
        uint32_t l = (uint32_t)sl->msg_len;
        p = docofl_put(p, &sl->id, 4);
        p = docofl_put(p, &sl->round, 4);
        p = docofl_put(p, &l, 4);
        p = docofl_put(p, sl->msg, sl->msg_len);
    }
    /* Every client's anchor id, in client order. */
    for (size_t c = 0; c < s->n_clients; c++) {
        uint32_t id = docofl_held_get(s, c);
        p = docofl_put(p, &id, 4);
    }
    *len = (size_t)(p - out);
    return 0;
}

static int
docofl_state_corrupt(struct errbuf *eb, size_t offset, const char *what)
{
    if (eb != NULL)
        eb->offset = (long)offset;
    return errbuf_set(eb, -ERR_CORRUPT, "docofl state: %s", what);
}

static uint32_t
docofl_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    memcpy(&v, p, 4);
    return v;
}

/*
 * Checks in[0..len) (and, when commit, loads it into s). Run once without commit to
 * validate everything, decoding each anchor into the spare, then once with commit.
 */
static int
docofl_state_load(struct docofl_server *s, const uint8_t *in, size_t len, bool commit,
                  size_t *n_held, struct errbuf *eb)
{
    uint8_t ident[60];
    docofl_put_identity(s, ident);
    if (len < DOCOFL_STATE_HEADER_BYTES)
        return docofl_state_corrupt(eb, len, "truncated header");
    for (size_t k = 0; k < sizeof ident; k++)
        if (in[k] != ident[k])
            return docofl_state_corrupt(eb, k, "magic, dimensions or parameters differ");
    if (in[60] > 1)
        return docofl_state_corrupt(eb, 60, "bad round flag");
    bool any_round = in[60] == 1;
    uint32_t round = docofl_get_u32(in + 61);
    uint32_t next_id = docofl_get_u32(in + 65);
    uint32_t count = docofl_get_u32(in + 69);
    if (count > s->p.anchors || count > next_id || (count == 0) != (next_id == 0) ||
        next_id == DOCOFL_WIRE_NO_ANCHOR)
        return docofl_state_corrupt(eb, 65, "anchor counters inconsistent");
    if (!any_round && (round != 0 || next_id != 0))
        return docofl_state_corrupt(eb, 60, "anchors without a round");
    uint64_t tot[6];
    memcpy(tot, in + 73, sizeof tot);
    size_t p = DOCOFL_STATE_HEADER_BYTES;
    uint32_t prev_round = 0;
    for (uint32_t j = 0; j < count; j++) {
        if (len - p < 12)
            return docofl_state_corrupt(eb, p, "truncated anchor");
        uint32_t id = docofl_get_u32(in + p);
        uint32_t around = docofl_get_u32(in + p + 4);
        uint32_t l = docofl_get_u32(in + p + 8);
        if (id != next_id - count + j)
            return docofl_state_corrupt(eb, p, "anchor ids not consecutive");
        if (around > round || (j > 0 && around <= prev_round))
            return docofl_state_corrupt(eb, p + 4, "anchor rounds out of order");
        if (l > s->anchor_max || l > len - p - 12)
            return docofl_state_corrupt(eb, p + 8, "anchor length out of range");
        prev_round = around;
        const uint8_t *msg = in + p + 12;
        struct docofl_slot *sl = docofl_slot_of(s, id);
        float *y = commit ? sl->y : s->spare_y;
        struct docofl_wire_header h;
        int rc = docofl_wire_anchor_decode(s->wire, y, &h, msg, l, eb);
        if (rc < 0) {
            if (eb != NULL)
                eb->offset = (long)(p + 12);
            return errbuf_prefix(eb, "docofl state");
        }
        if (h.anchor_id != id || h.round != around)
            return docofl_state_corrupt(eb, p + 12, "anchor message does not match its entry");
        if (commit) {
            memcpy(sl->msg, msg, l);
            sl->msg_len = l;
            sl->id = id;
            sl->round = around;
            sl->corr_valid = false;
        }
        p += 12 + l;
    }
    if (len - p != 4 * s->n_clients)
        return docofl_state_corrupt(eb, p, "client table has the wrong length");
    size_t held = 0;
    if (commit && s->cap_held > 0) /* room reserved by docofl_server_state_set() */
        memset(s->held, 0, s->cap_held * sizeof *s->held);
    for (size_t c = 0; c < s->n_clients; c++) {
        uint32_t id = docofl_get_u32(in + p + 4 * c);
        if (id != DOCOFL_WIRE_NO_ANCHOR && id >= next_id)
            return docofl_state_corrupt(eb, p + 4 * c, "client holds an anchor never made");
        if (id == DOCOFL_WIRE_NO_ANCHOR)
            continue;
        if (commit)
            *docofl_held_slot(s->held, s->cap_held, (uint64_t)c + 1) =
                (struct docofl_held){ .key = (uint64_t)c + 1, .id = id };
        held++;
    }
    *n_held = held;
    if (commit) {
        s->n_held = held;
        s->any_round = any_round;
        s->in_round = false;
        s->round = round;
        s->next_id = next_id;
        s->count = count;
        s->tot = (struct docofl_server_totals){
            .anchor_bytes = tot[0],
            .correction_bytes = tot[1],
            .anchors_made = tot[2],
            .corrections_encoded = tot[3],
            .anchor_downloads = tot[4],
            .corrections_sent = tot[5],
        };
    }
    return 0;
}

int
docofl_server_state_set(struct docofl_server *s, const uint8_t *in, size_t len, struct errbuf *eb)
{
    size_t n_held;
    int rc = docofl_state_load(s, in, len, false, &n_held, eb);
    if (rc < 0)
        return rc;
    rc = docofl_held_reserve(s, n_held, eb);
    if (rc < 0)
        return rc;
    return docofl_state_load(s, in, len, true, &n_held, eb);
}
