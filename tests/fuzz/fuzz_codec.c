/*
 * fuzz_codec: the decoder of every codec of the codec table (codec/codec.h), and ECUQ's, on
 * hostile bytes. Byte 0 picks the codec (modulo the table's length + 1: the last is ECUQ),
 * bytes 1 and 2 its parameters (dimension, bits, rotation, and the options the table says
 * the codec reads: scale, DRIVE+, exact codebook, THC's uniform levels, packet loss,
 * blocks; combinations the codec refuses are skipped). With an even byte 3 the
 * rest is decoded as it is; with an odd one a valid message is first encoded from a vector
 * the input determines and then damaged at positions the input chooses, so the decoders'
 * deeper checks are reached too. A decoder must return an error or a finite vector: a
 * non-finite output aborts (a crash the driver reports), as does a crash or an
 * out-of-bounds read. At exit the target prints how many inputs decoded, were rejected, or
 * were skipped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "codec/codec.h"
#include "codec/ecuq.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_DIM 100

/* Outcome counts. File-scope state because libFuzzer's entry point takes no context. */
static struct {
    unsigned long decoded, rejected, skipped;
} fuzz_codec_counts;

__attribute__((destructor)) static void
fuzz_codec_report(void)
{
    printf("fuzz_codec: %lu decoded to a finite vector, %lu rejected, %lu parameter sets "
           "skipped\n",
           fuzz_codec_counts.decoded, fuzz_codec_counts.rejected, fuzz_codec_counts.skipped);
}

/* Counts a decode's outcome; aborts on a success with a non-finite value. */
static void
fuzz_codec_outcome(int rc, const float *out, size_t n)
{
    if (rc < 0) {
        fuzz_codec_counts.rejected++;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(out[i])) {
            fprintf(stderr, "fuzz_codec: decode succeeded with out[%zu] = %g\n", i, (double)out[i]);
            abort();
        }
    fuzz_codec_counts.decoded++;
}

/* Parameters of codec kind from two input bytes; the options follow the parameters the
 * codec table says the codec reads (codec_kind_uses()), so every table row is covered. */
static size_t
fuzz_codec_params(struct codec_params *p, enum codec_kind kind, uint8_t v1, uint8_t v2)
{
    static const size_t dims[] = { 100, 1, 3, 64, 257, 1000 };
    static const double bits[] = { 0, 1, 2, 3, 4, 8, 1.5, 0.5 };
    codec_params_default(p);
    p->kind = kind;
    unsigned uses = codec_kind_uses(kind);
    size_t dim = dims[v1 % 6];
    if (kind == CODEC_TURBOQUANT_PROD && dim > 257)
        dim = 100; /* O(d²) per message */
    double b = bits[(v1 / 6) % 8];
    p->bits = b > 0 ? b : codec_kind_default_bits(kind);
    if (kind == CODEC_THC || kind == CODEC_QUICFL || (v2 & 0x80) != 0)
        p->rotation = CODEC_ROTATION_SHARED;
    if (uses & CODEC_USES_SCALE)
        p->scale = (enum codec_scale)(v2 % 3);
    p->drive_plus = (uses & CODEC_USES_DRIVE_PLUS) && (v2 & 4) != 0;
    p->exact_codebook = (uses & CODEC_USES_EXACT_CODEBOOK) && (v2 & 8) != 0;
    p->thc_uniform = (uses & CODEC_USES_THC) && (v2 & 8) != 0;
    if (uses & CODEC_USES_ROTATION)
        p->packet_loss = 0.1 * ((v2 >> 4) & 3);
    p->blocks = (v2 & 0x40) != 0 ? CODEC_BLOCKS_PAD : CODEC_BLOCKS_POW2;
    return dim;
}

static void
fuzz_codec_one(enum codec_kind kind, const uint8_t *data, size_t size)
{
    if (size < 3)
        return;
    struct codec_params p;
    size_t dim = fuzz_codec_params(&p, kind, data[0], data[1]);
    data += 2;
    size -= 2;
    if (codec_params_check(&p, dim, NULL) < 0) {
        fuzz_codec_counts.skipped++;
        return;
    }
    struct codec *c = codec_new(&p, dim);
    if (c == NULL)
        return;
    size_t cap = codec_max_bytes(c) + 64;
    uint8_t *msg = mem_alloc(cap);
    float *x = mem_alloc(dim * sizeof *x);
    float *out = mem_alloc(dim * sizeof *out);
    struct codec_link link = { .seed = 1, .round = 2, .client = 3 };
    size_t len = size < cap ? size : cap;
    if (msg == NULL || x == NULL || out == NULL)
        goto out;
    if (data[0] & 1) {
        for (size_t i = 0; i < dim; i++)
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
    fuzz_codec_outcome(codec_decode(c, out, msg, len, &link, NULL), out, dim);
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
        fuzz_codec_outcome(ecuq_decode(q, out, data, size, NULL), out, FUZZ_DIM);
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
