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
