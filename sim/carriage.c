/* carriage: how the uplink update is carried under secure aggregation. See carriage.h. */
#include "sim/carriage.h"

#include <math.h>
#include <stdio.h>

#include "codec/codec.h"
#include "codec/fixed_point.h"
#include "codec/thc.h"
#include "sim/privacy_accountant.h"
#include "base/banned.h"

void
carriage_thc_ring(uint64_t g, uint64_t wmax, uint64_t n, unsigned *value_bits, unsigned *ring_bits)
{
    uint64_t vmax = g * wmax;
    unsigned k = 1;
    while (k < 64 && (double)n * (double)vmax >= (double)(UINT64_C(1) << k))
        k++;
    *value_bits = 0;
    *ring_bits = k;
}

int
carriage_of(const struct scenario *s, struct carriage *c, struct errbuf *eb)
{
    *c = (struct carriage){ .kind = CARRIAGE_CODEC, .n = s->train.clients_per_round };
    if (s->aggregation.secure == SECURE_NONE)
        return 0;
    uint64_t n = c->n > 0 ? c->n : 1;
    if (s->privacy.mechanism == PRIVACY_DDGAUSS || s->privacy.mechanism == PRIVACY_SKELLAM) {
        c->kind = CARRIAGE_DDP;
        c->ring_bits = s->privacy.ring_bits;
        c->value_bits = s->privacy.ring_bits;
        return 0;
    }
    if (s->uplink.codec.kind == CODEC_THC) {
        /* The table depends on the bits alone; the smallest block builds it. */
        struct thc *t = thc_new(&s->uplink.codec, CODEC_MIN_BLOCK);
        if (t == NULL)
            return errbuf_set(eb, -ERR_NOMEM, "out of memory building THC's table");
        const uint16_t *levels;
        uint64_t g = thc_table(t, &levels);
        thc_free(t);
        c->kind = CARRIAGE_HOMOMORPHIC;
        /* THC's integer weights: 1 each, or the sample count in 8 bits (sim/run_thc.c). */
        uint64_t wmax = s->aggregation.weighting == WEIGHTING_UNIFORM
                            ? 1
                            : (UINT64_C(1) << CARRIAGE_THC_WEIGHT_BITS) - 1;
        carriage_thc_ring(g, wmax, n, &c->value_bits, &c->ring_bits);
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
    case CARRIAGE_DDP:
        snprintf(out, len, "distributed DP ring %u bits", c->ring_bits);
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

bool
carriage_homomorphic_alternative(const struct scenario *s, unsigned *bits, unsigned *ring_bits,
                                 unsigned *uniform_ring_bits)
{
    int kind = s->uplink.codec.kind;
    if (s->aggregation.secure == SECURE_NONE || kind == CODEC_NONE || kind == CODEC_THC)
        return false;
    double want = ceil(s->uplink.codec.bits);
    unsigned b = want < 1 ? 1 : want > THC_MAX_BITS ? THC_MAX_BITS : (unsigned)want;
    uint64_t g = (UINT64_C(1) << b) - 1; /* the uniform table's default size */
    uint64_t n = s->train.clients_per_round > 0 ? s->train.clients_per_round : 1;
    uint64_t wmax = s->aggregation.weighting == WEIGHTING_UNIFORM
                        ? 1
                        : (UINT64_C(1) << CARRIAGE_THC_WEIGHT_BITS) - 1;
    unsigned value_bits;
    *bits = b;
    carriage_thc_ring(g, wmax, n, &value_bits, ring_bits);
    carriage_thc_ring(g, 1, n, &value_bits, uniform_ring_bits);
    return true;
}

bool
carriage_format_note(const struct carriage *c, const struct scenario *s, char *out, size_t len)
{
    if (c->kind != CARRIAGE_FIXED_POINT || s->uplink.codec.kind == CODEC_NONE)
        return false;
    char what[128], alt[256] = "";
    carriage_format(c, s, false, what, sizeof what);
    unsigned b, k, k_uniform;
    if (carriage_homomorphic_alternative(s, &b, &k, &k_uniform)) {
        char weights[64] = "";
        if (k != k_uniform)
            snprintf(weights, sizeof weights, "; %u with aggregation.weighting: uniform",
                     k_uniform);
        snprintf(alt, sizeof alt,
                 "; homomorphic alternative: uplink {codec: thc, bits: %u, thc_uniform: true, "
                 "rotation: shared}, %u levels after the shared rotation under a common scale, "
                 "summed in a ring of %u bits%s",
                 b, 1u << b, k, weights);
    }
    snprintf(out, len,
             "under %s the uplink is decoded and re-embedded in fixed point: %s per "
             "coordinate on the wire at %llu clients per round, not %g%s (docs/secure.md)",
             scenario_choice_name("aggregation.secure", s->aggregation.secure), what,
             (unsigned long long)c->n, s->uplink.codec.bits, alt);
    return true;
}
