/*
 * fuzz_codec: every codec's decoder (and ECUQ's) on hostile bytes. Byte 0 picks the codec;
 * with an even byte 1 the rest is decoded as it is, with an odd one a valid message is
 * first encoded from a vector the input determines and then damaged at positions the input
 * chooses, so the decoders' deeper checks are reached too. Decoders must return an error
 * or a finite vector, never crash or read out of bounds.
 */
#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "codec/codec.h"
#include "codec/ecuq.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_DIM 100

static void
fuzz_codec_one(enum codec_kind kind, const uint8_t *data, size_t size)
{
    struct codec_params p;
    codec_params_default(&p);
    p.kind = kind;
    p.bits = codec_kind_default_bits(kind);
    if (kind == CODEC_THC || kind == CODEC_QUICFL)
        p.rotation = CODEC_ROTATION_SHARED;
    if (codec_params_check(&p, FUZZ_DIM, NULL) < 0)
        return;
    struct codec *c = codec_new(&p, FUZZ_DIM);
    if (c == NULL)
        return;
    size_t cap = codec_max_bytes(c) + 64;
    uint8_t *msg = mem_alloc(cap);
    float *x = mem_alloc(FUZZ_DIM * sizeof *x);
    float *out = mem_alloc(FUZZ_DIM * sizeof *out);
    struct codec_link link = { .seed = 1, .round = 2, .client = 3 };
    size_t len = size < cap ? size : cap;
    if (msg == NULL || x == NULL || out == NULL)
        goto out;
    if (size > 0 && (data[0] & 1)) {
        for (size_t i = 0; i < FUZZ_DIM; i++)
            x[i] = (float)((int)data[(i + 1) % size] - 128) / 16.0f;
        if (codec_encode(c, msg, cap, &len, x, &link, NULL) < 0)
            goto out;
        for (size_t i = 1; i + 1 < size; i += 2)
            msg[data[i] % (len > 0 ? len : 1)] ^= data[i + 1];
        if (size % 3 == 0 && len > 0)
            len -= (size_t)data[size - 1] % len; /* and truncate */
    } else {
        memcpy(msg, data, len);
    }
    if (codec_decode(c, out, msg, len, &link, NULL) == 0) {
        for (size_t i = 0; i < FUZZ_DIM; i++)
            (void)isfinite(out[i]);
    }
out:
    mem_free(msg);
    mem_free(x);
    mem_free(out);
    codec_free(c);
}

static void
fuzz_codec_ecuq(const uint8_t *data, size_t size)
{
    struct ecuq_params p;
    ecuq_params_default(&p, 2.0);
    struct ecuq *q = ecuq_new(&p, FUZZ_DIM);
    float *out = mem_alloc(FUZZ_DIM * sizeof *out);
    if (q != NULL && out != NULL)
        if (ecuq_decode(q, out, data, size, NULL) == 0)
            (void)isfinite(out[0]);
    mem_free(out);
    ecuq_free(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned pick = data[0] % (CODEC_KIND_COUNT + 1);
    if (pick == CODEC_KIND_COUNT)
        fuzz_codec_ecuq(data + 1, size - 1);
    else
        fuzz_codec_one((enum codec_kind)pick, data + 1, size - 1);
    return 0;
}
