/* carriage: how the uplink update is carried under secure aggregation. See carriage.h. */
#include "sim/carriage.h"

#include <stdio.h>

#include "codec/codec.h"
#include "codec/fixed_point.h"
#include "codec/thc.h"
#include "base/banned.h"

void
carriage_thc_ring(uint64_t g, uint64_t n, unsigned *value_bits, unsigned *ring_bits)
{
    /* Values w_k v_k <= g (2^weight_bits - 1); the ring holds n of them without wrapping. */
    uint64_t vmax = g * ((UINT64_C(1) << CARRIAGE_THC_WEIGHT_BITS) - 1);
    unsigned b = 1;
    while (b < 63 && (UINT64_C(1) << b) <= vmax)
        b++;
    unsigned k = b;
    while (k < 64 && (double)n * (double)((UINT64_C(1) << b) - 1) >= (double)(UINT64_C(1) << k))
        k++;
    *value_bits = b;
    *ring_bits = k;
}

int
carriage_of(const struct scenario *s, struct carriage *c, struct errbuf *eb)
{
    *c = (struct carriage){ .kind = CARRIAGE_CODEC, .n = s->train.clients_per_round };
    if (s->aggregation.secure == SECURE_NONE)
        return 0;
    uint64_t n = c->n > 0 ? c->n : 1;
    if (s->uplink.codec.kind == CODEC_THC) {
        /* The table depends on the bits alone; the smallest block builds it. */
        struct thc *t = thc_new(&s->uplink.codec, CODEC_MIN_BLOCK);
        if (t == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory building THC's table");
        const uint16_t *levels;
        uint64_t g = thc_table(t, &levels);
        thc_free(t);
        c->kind = CARRIAGE_HOMOMORPHIC;
        carriage_thc_ring(g, n, &c->value_bits, &c->ring_bits);
        return 0;
    }
    struct fixed_point fp;
    int rc = fixed_point_init(&fp, s->aggregation.fixed_point_bits, s->aggregation.clip, n, eb);
    if (rc < 0)
        return rc;
    c->kind = CARRIAGE_FIXED_POINT;
    c->value_bits = fp.value_bits;
    c->ring_bits = fixed_point_ring_bits(&fp);
    return 0;
}

void
carriage_format_short(const struct carriage *c, char *out, size_t len)
{
    switch (c->kind) {
    case CARRIAGE_FIXED_POINT:
        snprintf(out, len, "fixed point %u bits", c->ring_bits);
        break;
    case CARRIAGE_HOMOMORPHIC:
        snprintf(out, len, "homomorphic ring %u bits", c->ring_bits);
        break;
    default:
        snprintf(out, len, "codec");
        break;
    }
}

void
carriage_format(const struct carriage *c, const struct scenario *s, bool utf8, char *out,
                size_t len)
{
    double bits = s->uplink.codec.bits;
    const char *name = codec_kind_name(s->uplink.codec.kind);
    if (c->kind == CARRIAGE_CODEC) {
        snprintf(out, len, "%s %g bit%s", name, bits, bits == 1.0 ? "" : "s");
        return;
    }
    char tail[48];
    carriage_format_short(c, tail, sizeof tail);
    snprintf(out, len, "%s %g bit%s %s %s", name, bits, bits == 1.0 ? "" : "s",
             utf8 ? "\xe2\x86\x92" : "->", tail);
}
