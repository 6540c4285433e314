/* docofl_client: rebuild ŵ = anchor + correction. See docofl_client.h. */
#include "clients/docofl_client.h"

#include "base/mem.h"
#include "base/banned.h"

struct docofl_client {
    size_t dim;
    struct docofl_wire *wire;
};

void
docofl_client_state_init(struct docofl_client_state *st)
{
    st->anchor_id = DOCOFL_WIRE_NO_ANCHOR;
}

/* A slot: key = client + 1 (0 = empty) and its state. */
struct docofl_client_slot {
    uint32_t key;
    struct docofl_client_state st;
};

struct docofl_client_states {
    struct docofl_client_slot *slots;
    size_t cap; /* a power of two */
    size_t n;   /* slots used, at most cap / 2 */
};

#define DOCOFL_CLIENT_STATES_MIN 64

struct docofl_client_states *
docofl_client_states_new(void)
{
    struct docofl_client_states *t = mem_calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->slots = mem_calloc(DOCOFL_CLIENT_STATES_MIN, sizeof *t->slots);
    if (t->slots == NULL) {
        mem_free(t);
        return NULL;
    }
    t->cap = DOCOFL_CLIENT_STATES_MIN;
    return t;
}

void
docofl_client_states_free(struct docofl_client_states *t)
{
    if (t == NULL)
        return;
    mem_free(t->slots);
    mem_free(t);
}

/* The slot holding key, or the empty slot where it would go (linear probing). */
static struct docofl_client_slot *
docofl_client_states_slot(struct docofl_client_slot *slots, size_t cap, uint32_t key)
{
    size_t h = (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15u) >> 32) & (cap - 1);
    while (slots[h].key != 0 && slots[h].key != key)
        h = (h + 1) & (cap - 1);
    return &slots[h];
}

int
docofl_client_states_reserve(struct docofl_client_states *t, uint64_t k)
{
    uint32_t key = (uint32_t)(k + 1);
    struct docofl_client_slot *s = docofl_client_states_slot(t->slots, t->cap, key);
    if (s->key == key)
        return 0;
    if (2 * (t->n + 1) > t->cap) {
        size_t cap = 2 * t->cap;
        struct docofl_client_slot *slots = mem_calloc(cap, sizeof *slots);
        if (slots == NULL)
            return -ERR_NOMEM;
        for (size_t i = 0; i < t->cap; i++) {
            if (t->slots[i].key != 0)
                *docofl_client_states_slot(slots, cap, t->slots[i].key) = t->slots[i];
        }
        mem_free(t->slots);
        t->slots = slots;
        t->cap = cap;
        s = docofl_client_states_slot(t->slots, t->cap, key);
    }
    s->key = key;
    docofl_client_state_init(&s->st);
    t->n++;
    return 0;
}

struct docofl_client_state *
docofl_client_states_get(const struct docofl_client_states *t, uint64_t k)
{
    uint32_t key = (uint32_t)(k + 1);
    struct docofl_client_slot *s = docofl_client_states_slot(t->slots, t->cap, key);
    return s->key == key ? &s->st : NULL;
}

size_t
docofl_client_states_count(const struct docofl_client_states *t)
{
    return t->n;
}

struct docofl_client *
docofl_client_new(const struct docofl_wire_params *p, size_t dim)
{
    struct docofl_client *c = mem_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->dim = dim;
    c->wire = docofl_wire_new(p, dim);
    if (c->wire == NULL) {
        docofl_client_free(c);
        return NULL;
    }
    return c;
}

void
docofl_client_free(struct docofl_client *c)
{
    if (c == NULL)
        return;
    docofl_wire_free(c->wire);
    mem_free(c);
}

int
docofl_client_model(struct docofl_client *c, float *out_model, struct docofl_client_state *st,
                    const uint8_t *anchor_msg, size_t anchor_len, const uint8_t *correction_msg,
                    size_t correction_len, uint32_t round, struct errbuf *eb)
{
    struct docofl_wire_header ah;
    struct docofl_wire_header ch;
    /* Check both headers before the (costly) decodes. */
    int rc = docofl_wire_anchor_header(&ah, anchor_msg, anchor_len, eb);
    if (rc < 0)
        return rc;
    rc = docofl_wire_correction_header(&ch, correction_msg, correction_len, eb);
    if (rc < 0)
        return rc;
    if (ch.anchor_id != ah.anchor_id) {
        if (eb != NULL)
            eb->offset = 0;
        return errbuf_set(eb, -ERR_CORRUPT, "docofl correction is for anchor %u, client has %u",
                          ch.anchor_id, ah.anchor_id);
    }
    if (ch.round != round) {
        if (eb != NULL)
            eb->offset = 4;
        return errbuf_set(eb, -ERR_CORRUPT, "docofl correction is for round %u, expected %u",
                          ch.round, round);
    }
    if (ah.round > round) {
        if (eb != NULL)
            eb->offset = 5;
        return errbuf_set(eb, -ERR_CORRUPT, "docofl anchor made at round %u, after round %u",
                          ah.round, round);
    }
    rc = docofl_wire_anchor_decode(c->wire, out_model, NULL, anchor_msg, anchor_len, eb);
    if (rc < 0)
        return rc;
    rc = docofl_wire_correction_add(c->wire, out_model, NULL, correction_msg, correction_len, eb);
    if (rc < 0)
        return rc;
    st->anchor_id = ah.anchor_id;
    return 0;
}
