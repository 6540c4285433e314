/* docofl_wire: DoCoFL anchor and correction messages. See docofl_wire.h for the formats. */
#include "codec/docofl_wire.h"

#include <stdbool.h>
#include <string.h>

#include "base/mem.h"
#include "base/rng.h"
#include "codec/blocks.h"
#include "codec/codec_int.h"
#include "codec/ecuq.h"
#include "base/banned.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the uint32 header fields are written with memcpy on little-endian hosts");
_Static_assert(DOCOFL_WIRE_ANCHOR_HEADER_BYTES == 1 + 4 + 4, "anchor header: codec, id, round");
_Static_assert(DOCOFL_WIRE_CORRECTION_HEADER_BYTES == 4 + 4, "correction header: id, round");

_Static_assert(DOCOFL_WIRE_MAX_BLOCKS <= 64, "the links reserve 64 ids per message kind");

/* EDEN over the blocks of docofl_wire.h: block j covers x[off[j], off[j] + len[j]). */
struct docofl_wire_eden {
    unsigned n;                                  /* blocks */
    bool fixed;                                  /* integer b: every block has exact length */
    size_t off[DOCOFL_WIRE_MAX_BLOCKS];          /* first coordinate of block j */
    size_t len[DOCOFL_WIRE_MAX_BLOCKS];          /* coordinates of block j */
    size_t bytes[DOCOFL_WIRE_MAX_BLOCKS];        /* EDEN message bytes of block j (max) */
    struct codec *codec[DOCOFL_WIRE_MAX_BLOCKS]; /* EDEN for len[j] coordinates */
};

struct docofl_wire {
    size_t dim;
    struct docofl_wire_params p;
    struct ecuq *ecuq;                   /* ECUQ anchors, else NULL */
    struct docofl_wire_eden anchor_eden; /* EDEN anchors (n = 0 with ECUQ) */
    struct docofl_wire_eden correction;  /* EDEN corrections */
    float *tmp;                          /* dim floats: a decoded correction */
};

void
docofl_wire_params_default(struct docofl_wire_params *p)
{
    *p = (struct docofl_wire_params){
        .anchor_every = 10,
        .anchors = 3,
        .anchor_codec = DOCOFL_WIRE_ANCHOR_ECUQ,
        .anchor_bits = 2.0,
        .correction_bits = 2.0,
        .seed = 0,
    };
}

/* EDEN with b bits, unbiased scale and the link's own (per-"client") rotation. */
static void
docofl_wire_eden_params(struct codec_params *cp, double bits)
{
    codec_params_default(cp);
    cp->kind = CODEC_EDEN;
    cp->bits = bits;
    cp->scale = CODEC_SCALE_UNBIASED;
    cp->rotation = CODEC_ROTATION_PER_CLIENT;
    cp->blocks = CODEC_BLOCKS_PAD; /* this module splits into blocks itself */
}

int
docofl_wire_params_check(const struct docofl_wire_params *p, size_t dim, struct errbuf *eb)
{
    if (p->anchor_every < 1)
        return errbuf_set(eb, -ERR_RANGE, "docofl 'anchor_every' must be at least 1");
    if (p->anchors < 1)
        return errbuf_set(eb, -ERR_RANGE, "docofl 'anchors' must be at least 1");
    struct codec_params cp;
    int rc = 0;
    if (p->anchor_codec == DOCOFL_WIRE_ANCHOR_ECUQ) {
        struct ecuq_params ep;
        ecuq_params_default(&ep, p->anchor_bits);
        rc = ecuq_params_check(&ep, dim, eb);
    } else if (p->anchor_codec == DOCOFL_WIRE_ANCHOR_EDEN) {
        docofl_wire_eden_params(&cp, p->anchor_bits);
        rc = codec_params_check(&cp, dim, eb);
    } else {
        return errbuf_set(eb, -ERR_INVALID, "docofl 'anchor_codec' %d unknown",
                          (int)p->anchor_codec);
    }
    if (rc < 0)
        return errbuf_prefix(eb, "docofl 'anchor_bits'");
    docofl_wire_eden_params(&cp, p->correction_bits);
    rc = codec_params_check(&cp, dim, eb);
    if (rc < 0)
        return errbuf_prefix(eb, "docofl 'correction_bits'");
    return 0;
}

const char *
docofl_wire_anchor_codec_name(enum docofl_wire_anchor_codec c)
{
    switch (c) {
    case DOCOFL_WIRE_ANCHOR_ECUQ:
        return "ecuq";
    case DOCOFL_WIRE_ANCHOR_EDEN:
        return "eden";
    }
    return "unknown";
}

int
docofl_wire_anchor_codec_parse(const char *name, enum docofl_wire_anchor_codec *out,
                               struct errbuf *eb)
{
    if (strcmp(name, "ecuq") == 0) {
        *out = DOCOFL_WIRE_ANCHOR_ECUQ;
        return 0;
    }
    if (strcmp(name, "eden") == 0) {
        *out = DOCOFL_WIRE_ANCHOR_EDEN;
        return 0;
    }
    return errbuf_set(eb, -ERR_INVALID, "unknown anchor codec '%s' (known: ecuq, eden)", name);
}

void
docofl_wire_anchor_link(struct codec_link *l, const struct docofl_wire_params *p,
                        uint32_t anchor_id, uint32_t round, unsigned block)
{
    *l = (struct codec_link){
        .seed = p->seed,
        .round = round,
        .client = RNG_ANY - 128 * (uint64_t)anchor_id - 1 - block,
    };
}

void
docofl_wire_correction_link(struct codec_link *l, const struct docofl_wire_params *p,
                            uint32_t anchor_id, uint32_t round, unsigned block)
{
    *l = (struct codec_link){
        .seed = p->seed,
        .round = round,
        .client = RNG_ANY - 128 * (uint64_t)anchor_id - 65 - block,
    };
}

/* Splits dim into blocks and makes their EDEN codecs; -1 if out of memory. */
static int
docofl_wire_eden_init(struct docofl_wire_eden *e, double bits, size_t dim)
{
    struct codec_params cp;
    docofl_wire_eden_params(&cp, bits);
    e->fixed = bits == (double)(unsigned)bits;
    struct blocks b;
    if (e->fixed)
        blocks_split(&b, dim, DOCOFL_WIRE_MIN_BLOCK);
    else
        blocks_whole(&b, dim);
    e->n = b.n;
    memcpy(e->off, b.off, b.n * sizeof b.off[0]);
    memcpy(e->len, b.len, b.n * sizeof b.len[0]);
    for (unsigned j = 0; j < e->n; j++) {
        e->codec[j] = codec_new(&cp, e->len[j]);
        if (e->codec[j] == NULL)
            return -1;
        e->bytes[j] = codec_max_bytes(e->codec[j]);
    }
    return 0;
}

/* Frees the block codecs made so far (codec_free(NULL) is a no-op). */
static void
docofl_wire_eden_release(struct docofl_wire_eden *e)
{
    for (unsigned j = 0; j < e->n; j++)
        codec_free(e->codec[j]);
    e->n = 0;
}

static size_t
docofl_wire_eden_max_bytes(const struct docofl_wire_eden *e)
{
    size_t n = 0;
    for (unsigned j = 0; j < e->n; j++)
        n += e->bytes[j];
    return n;
}

typedef void docofl_wire_link_fn(struct codec_link *l, const struct docofl_wire_params *p,
                                 uint32_t anchor_id, uint32_t round, unsigned block);

/* Encodes x block by block into out[0..cap); the total length into *len. */
static int
docofl_wire_eden_encode(struct docofl_wire_eden *e, const struct docofl_wire_params *p,
                        docofl_wire_link_fn *link_fn, uint8_t *out, size_t cap, size_t *len,
                        const float *x, uint32_t anchor_id, uint32_t round, struct errbuf *eb)
{
    size_t pos = 0;
    for (unsigned j = 0; j < e->n; j++) {
        struct codec_link l;
        link_fn(&l, p, anchor_id, round, j);
        size_t n = 0;
        int rc = codec_encode(e->codec[j], out + pos, cap - pos, &n, x + e->off[j], &l, eb);
        if (rc < 0)
            return rc;
        if (e->fixed && n != e->bytes[j])
            return errbuf_set(eb, -ERR_INTERNAL, "docofl: eden block of %zu bytes, expected %zu", n,
                              e->bytes[j]);
        pos += n;
    }
    *len = pos;
    return 0;
}

/* Decodes msg[0..len) block by block into y[0..dim). */
static int
docofl_wire_eden_decode(struct docofl_wire_eden *e, const struct docofl_wire_params *p,
                        docofl_wire_link_fn *link_fn, float *y, const uint8_t *msg, size_t len,
                        uint32_t anchor_id, uint32_t round, struct errbuf *eb)
{
    size_t pos = 0;
    for (unsigned j = 0; j < e->n; j++) {
        struct codec_link l;
        link_fn(&l, p, anchor_id, round, j);
        size_t n = e->fixed ? e->bytes[j] : len - pos;
        if (n > len - pos)
            return codec_corrupt(eb, len, "docofl: eden block %u truncated", j);
        int rc = codec_decode(e->codec[j], y + e->off[j], msg + pos, n, &l, eb);
        if (rc < 0) {
            if (eb != NULL && eb->offset >= 0)
                eb->offset += (long)pos;
            return rc;
        }
        pos += n;
    }
    if (pos != len)
        return codec_corrupt(eb, pos, "docofl: %zu trailing bytes after the eden blocks",
                             len - pos);
    return 0;
}

struct docofl_wire *
docofl_wire_new(const struct docofl_wire_params *p, size_t dim)
{
    struct docofl_wire *w = mem_calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->dim = dim;
    w->p = *p;
    if (p->anchor_codec == DOCOFL_WIRE_ANCHOR_ECUQ) {
        struct ecuq_params ep;
        ecuq_params_default(&ep, p->anchor_bits);
        w->ecuq = ecuq_new(&ep, dim);
        if (w->ecuq == NULL)
            goto fail;
    } else if (docofl_wire_eden_init(&w->anchor_eden, p->anchor_bits, dim) < 0) {
        goto fail;
    }
    if (docofl_wire_eden_init(&w->correction, p->correction_bits, dim) < 0)
        goto fail;
    w->tmp = mem_calloc(dim, sizeof *w->tmp);
    if (w->tmp == NULL)
        goto fail;
    return w;
fail:
    docofl_wire_free(w);
    return NULL;
}

void
docofl_wire_free(struct docofl_wire *w)
{
    if (w == NULL)
        return;
    ecuq_free(w->ecuq);
    docofl_wire_eden_release(&w->anchor_eden);
    docofl_wire_eden_release(&w->correction);
    mem_free(w->tmp);
    mem_free(w);
}

size_t
docofl_wire_dim(const struct docofl_wire *w)
{
    return w->dim;
}

size_t
docofl_wire_anchor_max_bytes(const struct docofl_wire *w)
{
    size_t body =
        w->ecuq != NULL ? ecuq_max_bytes(w->ecuq) : docofl_wire_eden_max_bytes(&w->anchor_eden);
    return DOCOFL_WIRE_ANCHOR_HEADER_BYTES + body;
}

size_t
docofl_wire_correction_max_bytes(const struct docofl_wire *w)
{
    return DOCOFL_WIRE_CORRECTION_HEADER_BYTES + docofl_wire_eden_max_bytes(&w->correction);
}

unsigned
docofl_wire_blocks(const struct docofl_wire *w)
{
    return w->correction.n;
}

static uint32_t
docofl_wire_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    memcpy(&v, p, sizeof v);
    return v;
}

int
docofl_wire_anchor_header(struct docofl_wire_header *h, const uint8_t *msg, size_t len,
                          struct errbuf *eb)
{
    if (len < DOCOFL_WIRE_ANCHOR_HEADER_BYTES)
        return codec_corrupt(eb, len, "docofl anchor message of %zu bytes, header needs %d", len,
                             DOCOFL_WIRE_ANCHOR_HEADER_BYTES);
    if (msg[0] != DOCOFL_WIRE_ANCHOR_ECUQ && msg[0] != DOCOFL_WIRE_ANCHOR_EDEN)
        return codec_corrupt(eb, 0, "docofl anchor codec %u unknown", (unsigned)msg[0]);
    h->codec = (enum docofl_wire_anchor_codec)msg[0];
    h->anchor_id = docofl_wire_get_u32(msg + 1);
    h->round = docofl_wire_get_u32(msg + 5);
    if (h->anchor_id == DOCOFL_WIRE_NO_ANCHOR)
        return codec_corrupt(eb, 1, "docofl anchor id %u is reserved", h->anchor_id);
    return 0;
}

int
docofl_wire_correction_header(struct docofl_wire_header *h, const uint8_t *msg, size_t len,
                              struct errbuf *eb)
{
    if (len < DOCOFL_WIRE_CORRECTION_HEADER_BYTES)
        return codec_corrupt(eb, len, "docofl correction of %zu bytes, header needs %d", len,
                             DOCOFL_WIRE_CORRECTION_HEADER_BYTES);
    h->codec = (enum docofl_wire_anchor_codec)0;
    h->anchor_id = docofl_wire_get_u32(msg);
    h->round = docofl_wire_get_u32(msg + 4);
    if (h->anchor_id == DOCOFL_WIRE_NO_ANCHOR)
        return codec_corrupt(eb, 0, "docofl correction names reserved anchor id %u", h->anchor_id);
    return 0;
}

int
docofl_wire_anchor_encode(struct docofl_wire *w, uint8_t *out, size_t cap, size_t *len,
                          const float *x, uint32_t anchor_id, uint32_t round, struct errbuf *eb)
{
    if (anchor_id == DOCOFL_WIRE_NO_ANCHOR)
        return errbuf_set(eb, -ERR_RANGE, "docofl anchor id %u is reserved", anchor_id);
    if (cap < DOCOFL_WIRE_ANCHOR_HEADER_BYTES)
        return errbuf_set(eb, -ERR_RANGE, "docofl anchor buffer of %zu bytes too small", cap);
    out[0] = (uint8_t)w->p.anchor_codec;
    memcpy(out + 1, &anchor_id, 4);
    memcpy(out + 5, &round, 4);
    uint8_t *body = out + DOCOFL_WIRE_ANCHOR_HEADER_BYTES;
    size_t room = cap - DOCOFL_WIRE_ANCHOR_HEADER_BYTES;
    size_t n = 0;
    int rc;
    if (w->ecuq != NULL) {
        rc = ecuq_encode(w->ecuq, body, room, &n, x, eb);
    } else {
        rc = docofl_wire_eden_encode(&w->anchor_eden, &w->p, docofl_wire_anchor_link, body, room,
                                     &n, x, anchor_id, round, eb);
    }
    if (rc < 0)
        return rc;
    *len = DOCOFL_WIRE_ANCHOR_HEADER_BYTES + n;
    return 0;
}

int
docofl_wire_anchor_decode(struct docofl_wire *w, float *y, struct docofl_wire_header *h,
                          const uint8_t *msg, size_t len, struct errbuf *eb)
{
    struct docofl_wire_header hh;
    int rc = docofl_wire_anchor_header(&hh, msg, len, eb);
    if (rc < 0)
        return rc;
    if (hh.codec != w->p.anchor_codec)
        return codec_corrupt(eb, 0, "docofl anchor sent with '%s', expected '%s'",
                             docofl_wire_anchor_codec_name(hh.codec),
                             docofl_wire_anchor_codec_name(w->p.anchor_codec));
    const uint8_t *body = msg + DOCOFL_WIRE_ANCHOR_HEADER_BYTES;
    size_t n = len - DOCOFL_WIRE_ANCHOR_HEADER_BYTES;
    if (w->ecuq != NULL) {
        rc = ecuq_decode(w->ecuq, y, body, n, eb);
    } else {
        rc = docofl_wire_eden_decode(&w->anchor_eden, &w->p, docofl_wire_anchor_link, y, body, n,
                                     hh.anchor_id, hh.round, eb);
    }
    if (rc < 0) {
        if (eb != NULL && eb->offset >= 0)
            eb->offset += DOCOFL_WIRE_ANCHOR_HEADER_BYTES;
        return errbuf_prefix(eb, "docofl anchor %u", hh.anchor_id);
    }
    if (h != NULL)
        *h = hh;
    return 0;
}

int
docofl_wire_correction_encode(struct docofl_wire *w, uint8_t *out, size_t cap, size_t *len,
                              const float *diff, uint32_t anchor_id, uint32_t round,
                              struct errbuf *eb)
{
    if (anchor_id == DOCOFL_WIRE_NO_ANCHOR)
        return errbuf_set(eb, -ERR_RANGE, "docofl anchor id %u is reserved", anchor_id);
    if (cap < DOCOFL_WIRE_CORRECTION_HEADER_BYTES)
        return errbuf_set(eb, -ERR_RANGE, "docofl correction buffer of %zu bytes too small", cap);
    memcpy(out, &anchor_id, 4);
    memcpy(out + 4, &round, 4);
    size_t n = 0;
    int rc = docofl_wire_eden_encode(&w->correction, &w->p, docofl_wire_correction_link,
                                     out + DOCOFL_WIRE_CORRECTION_HEADER_BYTES,
                                     cap - DOCOFL_WIRE_CORRECTION_HEADER_BYTES, &n, diff, anchor_id,
                                     round, eb);
    if (rc < 0)
        return rc;
    *len = DOCOFL_WIRE_CORRECTION_HEADER_BYTES + n;
    return 0;
}

int
docofl_wire_correction_add(struct docofl_wire *w, float *y, struct docofl_wire_header *h,
                           const uint8_t *msg, size_t len, struct errbuf *eb)
{
    struct docofl_wire_header hh;
    int rc = docofl_wire_correction_header(&hh, msg, len, eb);
    if (rc < 0)
        return rc;
    rc = docofl_wire_eden_decode(&w->correction, &w->p, docofl_wire_correction_link, w->tmp,
                                 msg + DOCOFL_WIRE_CORRECTION_HEADER_BYTES,
                                 len - DOCOFL_WIRE_CORRECTION_HEADER_BYTES, hh.anchor_id, hh.round,
                                 eb);
    if (rc < 0) {
        if (eb != NULL && eb->offset >= 0)
            eb->offset += DOCOFL_WIRE_CORRECTION_HEADER_BYTES;
        return errbuf_prefix(eb, "docofl correction for anchor %u", hh.anchor_id);
    }
    for (size_t i = 0; i < w->dim; i++)
        y[i] += w->tmp[i];
    if (h != NULL)
        *h = hh;
    return 0;
}
