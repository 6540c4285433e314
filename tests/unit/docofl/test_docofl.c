/*
 * docofl: the server's anchor deposit and messages (aggregator/docofl.h) with the client's
 * reconstruction (clients/docofl_client.h). Deposit semantics (K, V, eviction, re-download
 * of the newest anchor), shared corrections, separate accounting of anchor and correction
 * bytes, the reconstruction error against EDEN's vNMSE, determinism, checkpoint state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator/docofl.h"
#include "base/mem.h"
#include "clients/docofl_client.h"
#include "tests/support/check_support.h"
#include "tests/unit/docofl/suites.h"

struct dc_fixture {
    struct docofl_wire_params p;
    struct docofl_server *s;
    struct docofl_client *c;
    size_t d, n;
    float *w, *what;
};

static void
dc_setup(struct dc_fixture *f, uint32_t K, uint32_t V, enum docofl_wire_anchor_codec ac, size_t d,
         size_t n)
{
    docofl_wire_params_default(&f->p);
    f->p.anchor_every = K;
    f->p.anchors = V;
    f->p.anchor_codec = ac;
    f->p.seed = 2385;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(docofl_wire_params_check(&f->p, d, &eb) == 0, "%s", eb.msg);
    f->d = d;
    f->n = n;
    f->s = docofl_server_new(&f->p, d, n);
    f->c = docofl_client_new(&f->p, d);
    f->w = calloc(d, sizeof *f->w);
    f->what = calloc(d, sizeof *f->what);
    ck_assert(f->s && f->c && f->w && f->what);
}

static void
dc_teardown(struct dc_fixture *f)
{
    docofl_server_free(f->s);
    docofl_client_free(f->c);
    free(f->w);
    free(f->what);
}

/* The model at round t: a fixed model-like w_0 plus a slow drift of 0.002·N(0,1) a round. */
static void
dc_model(struct dc_fixture *f, uint32_t t)
{
    tdocofl_model_like(f->w, f->d, 77, 0);
    float *step = malloc(f->d * sizeof *step);
    for (uint32_t k = 1; k <= t; k++) {
        tdocofl_gaussian(step, f->d, 78, k);
        for (size_t i = 0; i < f->d; i++)
            f->w[i] += 0.002f * step[i];
    }
    free(step);
}

static void
dc_begin(struct dc_fixture *f, uint32_t t)
{
    dc_model(f, t);
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(docofl_server_begin_round(f->s, t, f->w, &eb) == 0, "%s", eb.msg);
}

/* Prepares `client`, rebuilds its model into f->what and checks what the client keeps. */
static struct docofl_server_msgs
dc_serve(struct dc_fixture *f, struct docofl_client_state *st, uint64_t client, uint32_t t)
{
    struct docofl_server_msgs m;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_msg(docofl_server_prepare(f->s, client, &m, &eb) == 0, "%s", eb.msg);
    ck_assert_int_eq(m.anchor_download, st->anchor_id != m.anchor_id);
    ck_assert_msg(docofl_client_model(f->c, f->what, st, m.anchor, m.anchor_len, m.correction,
                                      m.correction_len, t, &eb) == 0,
                  "%s", eb.msg);
    ck_assert_uint_eq(st->anchor_id, m.anchor_id);
    ck_assert_uint_eq(docofl_server_client_anchor(f->s, client), m.anchor_id);
    return m;
}

/*
 * K = 3, V = 2: anchors at rounds 0, 3, 6, 9; anchor 0 leaves the deposit at round 6. A
 * client keeps its anchor while it is in the deposit, and gets the newest when it has none
 * or when its anchor was evicted.
 */
START_TEST(deposit_semantics)
{
    struct dc_fixture f;
    dc_setup(&f, 3, 2, DOCOFL_WIRE_ANCHOR_ECUQ, 300, 4);
    struct docofl_client_state st[4];
    for (int k = 0; k < 4; k++)
        docofl_client_state_init(&st[k]);
    ck_assert_uint_eq(docofl_server_latest_anchor(f.s), DOCOFL_WIRE_NO_ANCHOR);
    struct docofl_server_msgs m;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(docofl_server_prepare(f.s, 0, &m, &eb), -ERR_INVALID);

    dc_begin(&f, 0);
    ck_assert_uint_eq(docofl_server_anchor_count(f.s), 1);
    m = dc_serve(&f, &st[0], 0, 0);
    ck_assert(m.anchor_download);
    ck_assert_uint_eq(m.anchor_id, 0);
    ck_assert_uint_eq(m.anchor_bits, 8 * m.anchor_len);

    dc_begin(&f, 2);
    ck_assert_uint_eq(docofl_server_anchor_count(f.s), 1);
    m = dc_serve(&f, &st[0], 0, 2);
    ck_assert(!m.anchor_download);
    ck_assert_uint_eq(m.anchor_bits, 0);

    dc_begin(&f, 3);
    ck_assert_uint_eq(docofl_server_anchor_count(f.s), 2);
    ck_assert_uint_eq(docofl_server_latest_anchor(f.s), 1);
    m = dc_serve(&f, &st[0], 0, 3); /* anchor 0 is still in the deposit */
    ck_assert(!m.anchor_download);
    ck_assert_uint_eq(m.anchor_id, 0);
    m = dc_serve(&f, &st[1], 1, 3); /* a newcomer gets the newest */
    ck_assert(m.anchor_download);
    ck_assert_uint_eq(m.anchor_id, 1);

    dc_begin(&f, 6);
    ck_assert_uint_eq(docofl_server_anchor_count(f.s), 2);
    ck_assert_int_eq(docofl_server_anchor(f.s, 0, NULL, NULL, NULL, &eb), -ERR_NOTFOUND);
    ck_assert_int_eq(docofl_server_anchor(f.s, 1, NULL, NULL, NULL, &eb), 0);
    m = dc_serve(&f, &st[0], 0, 6); /* anchor 0 evicted: download the newest, 2 */
    ck_assert(m.anchor_download);
    ck_assert_uint_eq(m.anchor_id, 2);
    m = dc_serve(&f, &st[1], 1, 6);
    ck_assert(!m.anchor_download);
    ck_assert_uint_eq(m.anchor_id, 1);

    /* Rounds must increase; clients must exist. */
    ck_assert_int_eq(docofl_server_begin_round(f.s, 6, f.w, &eb), -ERR_INVALID);
    ck_assert_int_eq(docofl_server_prepare(f.s, 4, &m, &eb), -ERR_RANGE);

    struct docofl_server_totals t;
    docofl_server_totals(f.s, &t);
    ck_assert_uint_eq(t.anchors_made, 3);
    ck_assert_uint_eq(t.anchor_downloads, 3);
    ck_assert_uint_eq(t.corrections_sent, 6);
    dc_teardown(&f);
}
END_TEST

/*
 * Clients holding the same anchor in one round get the same correction, encoded once; the
 * correction is the only critical-path cost, the anchor bytes are counted apart.
 */
START_TEST(corrections_shared_and_accounted)
{
    const size_t d = 1000;
    struct dc_fixture f;
    dc_setup(&f, 10, 3, DOCOFL_WIRE_ANCHOR_ECUQ, d, 8);
    struct docofl_client_state st[8];
    for (int k = 0; k < 8; k++)
        docofl_client_state_init(&st[k]);
    uint64_t anchor_bits = 0, corr_bits = 0;
    dc_begin(&f, 0);
    struct docofl_server_msgs m0 = dc_serve(&f, &st[0], 0, 0);
    anchor_bits += m0.anchor_bits;
    corr_bits += m0.correction_bits;
    for (uint64_t k = 1; k < 8; k++) {
        struct docofl_server_msgs m = dc_serve(&f, &st[k], k, 0);
        ck_assert_ptr_eq(m.correction, m0.correction);
        ck_assert_uint_eq(m.correction_len, m0.correction_len);
        anchor_bits += m.anchor_bits;
        corr_bits += m.correction_bits;
    }
    struct docofl_server_totals t;
    docofl_server_totals(f.s, &t);
    ck_assert_uint_eq(t.corrections_encoded, 1);
    ck_assert_uint_eq(8 * t.anchor_bytes, anchor_bits);
    ck_assert_uint_eq(8 * t.correction_bytes, corr_bits);
    ck_assert_uint_eq(t.anchor_bytes, 8 * m0.anchor_len);
    /*
     * EDEN b = 2 in blocks 1000 = 512 + 256 + 232 (the residual padded to 256): 8-byte DoCoFL
     * header, a 4-byte scale per block, 2 bits per (padded) coordinate.
     */
    ck_assert_uint_eq(m0.correction_len, 8 + 3 * 4 + 2 * (512 + 256 + 256) / 8);
    /* ECUQ 2-bit anchor: at most 2 bits a coordinate plus headers (count table, CRC). */
    ck_assert_uint_le(m0.anchor_len, 2 * d / 8 + 9 + 12 + 4 + 8 + 64);
    dc_teardown(&f);
}
END_TEST

/*
 * The client's error is EDEN's error on w_t − y: ‖ŵ − w‖² / ‖w − y‖² has mean vNMSE(b_c).
 * Unbiased EDEN with the Lloyd–Max N(0,1) codebook has vNMSE 0.5708 (b = 1) and 0.1331
 * (b = 2) for large D (finite-D shift < 0.1 % at D >= 256). For d = 5000 the blocks are
 * 4096 + 512 + 256 + 136, the last padded to 256, where EDEN's vNMSE is about
 * (136/256)·vNMSE (test_eden's padding rule); with equal energy per coordinate the expected
 * ratio is the length-weighted mean. We average 24 rounds (independent rotations) and
 * require agreement within 1 % + 4 standard errors of the mean (the per-round ratio has a
 * relative spread of about 3 %, so the bound is about 6 sigma). Also: the rebuilt model is
 * far better than compressing w_t itself at the same bits (naive NMSE ≈ vNMSE·‖w‖²).
 */
static const struct {
    int bc;
    enum docofl_wire_anchor_codec ac;
    size_t d;
    double want;
} vnmse_cases[] = {
    { 1, DOCOFL_WIRE_ANCHOR_ECUQ, 4096, 0.570796 },
    { 2, DOCOFL_WIRE_ANCHOR_ECUQ, 4096, 0.133121 },
    { 2, DOCOFL_WIRE_ANCHOR_EDEN, 4096, 0.133121 },
    { 2, DOCOFL_WIRE_ANCHOR_ECUQ, 5000, 0.133121 * (4096 + 512 + 256 + 136 * 136.0 / 256) / 5000 },
};

START_TEST(reconstruction_error_is_eden_vnmse)
{
    const int bc = vnmse_cases[_i].bc;
    const enum docofl_wire_anchor_codec ac = vnmse_cases[_i].ac;
    const size_t d = vnmse_cases[_i].d;
    const double want = vnmse_cases[_i].want;
    struct dc_fixture f;
    docofl_wire_params_default(&f.p);
    dc_setup(&f, 5, 3, ac, d, 1);
    docofl_server_free(f.s);
    docofl_client_free(f.c);
    f.p.correction_bits = bc;
    f.s = docofl_server_new(&f.p, d, 1);
    f.c = docofl_client_new(&f.p, d);
    struct docofl_client_state st;
    docofl_client_state_init(&st);
    const int T = 24;
    double sum = 0, sum2 = 0, rel_model = 0;
    for (int t = 0; t < T; t++) {
        dc_begin(&f, (uint32_t)t);
        struct docofl_server_msgs m = dc_serve(&f, &st, 0, (uint32_t)t);
        const float *y = NULL;
        ck_assert_int_eq(docofl_server_anchor(f.s, m.anchor_id, NULL, NULL, &y, NULL), 0);
        double e = 0, c = 0, ww = 0;
        for (size_t i = 0; i < d; i++) {
            double di = (double)f.what[i] - f.w[i];
            double ci = (double)f.w[i] - y[i];
            e += di * di;
            c += ci * ci;
            ww += (double)f.w[i] * f.w[i];
        }
        double r = e / c;
        sum += r;
        sum2 += r * r;
        rel_model += e / ww / T;
    }
    double mean = sum / T;
    double se = sqrt(fmax(sum2 / T - mean * mean, 0) / (T - 1));
    ck_assert_msg(fabs(mean - want) <= 0.01 * want + 4 * se,
                  "b_c %d, d %zu: mean ratio %.5f (se %.5f), EDEN vNMSE %.5f", bc, d, mean, se,
                  want);
    /* ‖ŵ − w‖²/‖w‖² is the ratio times ‖w − y‖²/‖w‖², far below the naive vNMSE. */
    ck_assert_double_lt(rel_model, 0.5 * want);
    dc_teardown(&f);
}
END_TEST

/*
 * Fractional b_c (one padded EDEN block with a shared mask): the client still rebuilds the
 * model, and the error ratio lies between EDEN's vNMSE at b = 2 and at b = 1.
 */
START_TEST(fractional_correction_bits)
{
    struct dc_fixture f;
    docofl_wire_params_default(&f.p);
    dc_setup(&f, 4, 2, DOCOFL_WIRE_ANCHOR_ECUQ, 3000, 1);
    docofl_server_free(f.s);
    docofl_client_free(f.c);
    f.p.correction_bits = 1.5;
    f.s = docofl_server_new(&f.p, f.d, 1);
    f.c = docofl_client_new(&f.p, f.d);
    ck_assert(f.s && f.c);
    struct docofl_client_state st;
    docofl_client_state_init(&st);
    double e = 0, c = 0;
    for (uint32_t t = 0; t < 6; t++) {
        dc_begin(&f, t);
        struct docofl_server_msgs m = dc_serve(&f, &st, 0, t);
        const float *y = NULL;
        ck_assert_int_eq(docofl_server_anchor(f.s, m.anchor_id, NULL, NULL, &y, NULL), 0);
        for (size_t i = 0; i < f.d; i++) {
            e += ((double)f.what[i] - f.w[i]) * ((double)f.what[i] - f.w[i]);
            c += ((double)f.w[i] - y[i]) * ((double)f.w[i] - y[i]);
        }
    }
    ck_assert_double_gt(e / c, 0.133121 * 3000 / 4096);
    ck_assert_double_lt(e / c, 0.570796);
    dc_teardown(&f);
}
END_TEST

/* Two independent servers and clients give identical bytes and models. */
START_TEST(deterministic)
{
    struct dc_fixture a, b;
    dc_setup(&a, 2, 2, DOCOFL_WIRE_ANCHOR_ECUQ, 500, 3);
    dc_setup(&b, 2, 2, DOCOFL_WIRE_ANCHOR_ECUQ, 500, 3);
    struct docofl_client_state sa[3], sb[3];
    for (int k = 0; k < 3; k++) {
        docofl_client_state_init(&sa[k]);
        docofl_client_state_init(&sb[k]);
    }
    for (uint32_t t = 0; t < 7; t++) {
        dc_begin(&a, t);
        dc_begin(&b, t);
        uint64_t who = t % 3;
        struct docofl_server_msgs ma = dc_serve(&a, &sa[who], who, t);
        struct docofl_server_msgs mb = dc_serve(&b, &sb[who], who, t);
        ck_assert_uint_eq(ma.anchor_len, mb.anchor_len);
        ck_assert_mem_eq(ma.anchor, mb.anchor, ma.anchor_len);
        ck_assert_uint_eq(ma.correction_len, mb.correction_len);
        ck_assert_mem_eq(ma.correction, mb.correction, ma.correction_len);
        ck_assert_mem_eq(a.what, b.what, a.d * sizeof *a.what);
    }
    dc_teardown(&a);
    dc_teardown(&b);
}
END_TEST

/*
 * Save after some rounds, restore into a fresh server, then run both in lockstep: same
 * messages, same totals. Every truncation of the state and a parameter mismatch are
 * rejected and leave the target unchanged.
 */
START_TEST(state_round_trip)
{
    struct dc_fixture a, b;
    dc_setup(&a, 2, 3, DOCOFL_WIRE_ANCHOR_ECUQ, 200, 5);
    dc_setup(&b, 2, 3, DOCOFL_WIRE_ANCHOR_ECUQ, 200, 5);
    struct docofl_client_state st[5];
    for (int k = 0; k < 5; k++)
        docofl_client_state_init(&st[k]);
    for (uint32_t t = 0; t < 9; t++) {
        dc_begin(&a, t);
        dc_serve(&a, &st[t % 4], t % 4, t);
    }
    size_t size = docofl_server_state_size(a.s);
    uint8_t *buf = malloc(size + 1);
    size_t len = 0;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(docofl_server_state_get(a.s, buf, size - 1, &len, &eb), -ERR_RANGE);
    ck_assert_int_eq(docofl_server_state_get(a.s, buf, size, &len, &eb), 0);
    ck_assert_uint_eq(len, size);

    size_t empty_size = docofl_server_state_size(b.s);
    uint8_t *empty = malloc(empty_size);
    size_t empty_len = 0;
    ck_assert_int_eq(docofl_server_state_get(b.s, empty, empty_size, &empty_len, &eb), 0);
    for (size_t l = 0; l < len; l++)
        ck_assert_int_eq(docofl_server_state_set(b.s, buf, l, &eb), -ERR_CORRUPT);
    ck_assert_int_eq(docofl_server_state_set(b.s, buf, len + 1, &eb), -ERR_CORRUPT);
    for (size_t k = 0; k < 60; k++) { /* any change to magic or parameters */
        buf[k] ^= 0x10;
        ck_assert_int_eq(docofl_server_state_set(b.s, buf, len, &eb), -ERR_CORRUPT);
        buf[k] ^= 0x10;
    }
    buf[len - 4] = 0x7F; /* the last client holds an anchor never made */
    ck_assert_int_eq(docofl_server_state_set(b.s, buf, len, &eb), -ERR_CORRUPT);
    ck_assert_int_eq(docofl_server_state_get(a.s, buf, size, &len, &eb), 0);
    ck_assert_uint_eq(docofl_server_state_size(b.s), empty_size); /* unchanged */

    ck_assert_msg(docofl_server_state_set(b.s, buf, len, &eb) == 0, "%s", eb.msg);
    uint8_t *again = malloc(size);
    size_t len2 = 0;
    ck_assert_int_eq(docofl_server_state_get(b.s, again, size, &len2, &eb), 0);
    ck_assert_uint_eq(len2, len);
    ck_assert_mem_eq(again, buf, len);
    struct docofl_client_state st2[5];
    memcpy(st2, st, sizeof st);
    for (uint32_t t = 9; t < 16; t++) {
        dc_begin(&a, t);
        dc_begin(&b, t);
        uint64_t who = (t * 3) % 5;
        struct docofl_server_msgs ma = dc_serve(&a, &st[who], who, t);
        struct docofl_server_msgs mb = dc_serve(&b, &st2[who], who, t);
        ck_assert_int_eq(ma.anchor_download, mb.anchor_download);
        ck_assert_mem_eq(ma.anchor, mb.anchor, ma.anchor_len);
        ck_assert_uint_eq(ma.correction_len, mb.correction_len);
        ck_assert_mem_eq(ma.correction, mb.correction, ma.correction_len);
    }
    struct docofl_server_totals ta, tb;
    docofl_server_totals(a.s, &ta);
    docofl_server_totals(b.s, &tb);
    ck_assert_mem_eq(&ta, &tb, sizeof ta);
    /* A server with other parameters refuses the state. */
    struct dc_fixture c;
    dc_setup(&c, 2, 2, DOCOFL_WIRE_ANCHOR_ECUQ, 200, 5);
    ck_assert_int_eq(docofl_server_state_set(c.s, buf, len, &eb), -ERR_CORRUPT);
    dc_teardown(&c);
    free(buf);
    free(empty);
    free(again);
    dc_teardown(&a);
    dc_teardown(&b);
}
END_TEST

/*
 * The clients' states table: a reserved client holds no anchor until its state is set,
 * states survive the table's growth, unreserved clients are absent, and reserving twice
 * keeps the state; out of memory leaves the table as it was.
 */
START_TEST(client_states_table)
{
    struct docofl_client_states *t = docofl_client_states_new();
    ck_assert_ptr_nonnull(t);
    enum { N = 5000 };
    for (uint64_t i = 0; i < N; i++) {
        uint64_t k = i * 2654435761u % 4000000000u; /* spread over the id range */
        ck_assert_int_eq(docofl_client_states_reserve(t, k), 0);
        struct docofl_client_state *st = docofl_client_states_get(t, k);
        ck_assert_ptr_nonnull(st);
        ck_assert_uint_eq(st->anchor_id, DOCOFL_WIRE_NO_ANCHOR);
        st->anchor_id = (uint32_t)i;
        ck_assert_int_eq(docofl_client_states_reserve(t, k), 0);
    }
    ck_assert_uint_eq(docofl_client_states_count(t), N);
    for (uint64_t i = 0; i < N; i++) {
        struct docofl_client_state *st = docofl_client_states_get(t, i * 2654435761u % 4000000000u);
        ck_assert_ptr_nonnull(st);
        ck_assert_uint_eq(st->anchor_id, (uint32_t)i);
    }
    ck_assert_ptr_null(docofl_client_states_get(t, 1));
    ck_assert_ptr_null(docofl_client_states_get(t, 4000000001u));
    /* The next growth fails: nothing changes. */
    size_t before = docofl_client_states_count(t);
    int rc = 0;
    uint64_t k = 4000000001u;
    mem_fault_arm(1);
    for (; rc == 0 && k < 4000000001u + 100000; k++)
        rc = docofl_client_states_reserve(t, k);
    mem_fault_arm(0);
    ck_assert_int_eq(rc, -ERR_NOMEM);
    ck_assert_uint_eq(docofl_client_states_count(t), before + (k - 1 - 4000000001u));
    ck_assert_ptr_null(docofl_client_states_get(t, k - 1));
    ck_assert_uint_eq(docofl_client_states_get(t, 0)->anchor_id, 0);
    docofl_client_states_free(t);
}
END_TEST

/* The client refuses mismatched or damaged messages and then keeps its old anchor id. */
START_TEST(client_rejects_bad_messages)
{
    struct dc_fixture f;
    dc_setup(&f, 1, 2, DOCOFL_WIRE_ANCHOR_EDEN, 256, 2);
    struct docofl_client_state st;
    docofl_client_state_init(&st);
    dc_begin(&f, 0);
    struct docofl_server_msgs m0 = dc_serve(&f, &st, 0, 0);
    uint8_t *a0 = malloc(m0.anchor_len);
    memcpy(a0, m0.anchor, m0.anchor_len);
    size_t a0_len = m0.anchor_len;
    dc_begin(&f, 1);
    struct docofl_server_msgs m1;
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(docofl_server_prepare(f.s, 1, &m1, &eb), 0);
    ck_assert_uint_eq(m1.anchor_id, 1);
    struct docofl_client_state before = st;
    /* Correction for anchor 1 with anchor 0's bytes. */
    ck_assert_int_eq(
        docofl_client_model(f.c, f.what, &st, a0, a0_len, m1.correction, m1.correction_len, 1, &eb),
        -ERR_CORRUPT);
    /* Right pair, wrong round. */
    ck_assert_int_eq(docofl_client_model(f.c, f.what, &st, m1.anchor, m1.anchor_len, m1.correction,
                                         m1.correction_len, 2, &eb),
                     -ERR_CORRUPT);
    /* Every truncation of either message. */
    for (size_t l = 0; l < m1.correction_len; l++)
        ck_assert_int_eq(docofl_client_model(f.c, f.what, &st, m1.anchor, m1.anchor_len,
                                             m1.correction, l, 1, &eb),
                         -ERR_CORRUPT);
    for (size_t l = 0; l < m1.anchor_len; l++)
        ck_assert_int_eq(docofl_client_model(f.c, f.what, &st, m1.anchor, l, m1.correction,
                                             m1.correction_len, 1, &eb),
                         -ERR_CORRUPT);
    /* An anchor announcing the other codec. */
    uint8_t *forged = malloc(m1.anchor_len);
    memcpy(forged, m1.anchor, m1.anchor_len);
    forged[0] = DOCOFL_WIRE_ANCHOR_ECUQ;
    ck_assert_int_eq(docofl_client_model(f.c, f.what, &st, forged, m1.anchor_len, m1.correction,
                                         m1.correction_len, 1, &eb),
                     -ERR_CORRUPT);
    forged[0] = 9;
    ck_assert_int_eq(docofl_client_model(f.c, f.what, &st, forged, m1.anchor_len, m1.correction,
                                         m1.correction_len, 1, &eb),
                     -ERR_CORRUPT);
    ck_assert_uint_eq(st.anchor_id, before.anchor_id);
    ck_assert_int_eq(docofl_client_model(f.c, f.what, &st, m1.anchor, m1.anchor_len, m1.correction,
                                         m1.correction_len, 1, &eb),
                     0);
    ck_assert_uint_eq(st.anchor_id, 1);
    free(forged);
    free(a0);
    dc_teardown(&f);
}
END_TEST

START_TEST(rejects_bad_parameters)
{
    struct docofl_wire_params p;
    struct errbuf eb;
    errbuf_clear(&eb);
    docofl_wire_params_default(&p);
    ck_assert_int_eq(docofl_wire_params_check(&p, 100, &eb), 0);
    p.anchor_every = 0;
    ck_assert_int_eq(docofl_wire_params_check(&p, 100, &eb), -ERR_RANGE);
    docofl_wire_params_default(&p);
    p.anchors = 0;
    ck_assert_int_eq(docofl_wire_params_check(&p, 100, &eb), -ERR_RANGE);
    docofl_wire_params_default(&p);
    p.anchor_bits = 0.5; /* ECUQ needs b >= 1 */
    ck_assert_int_lt(docofl_wire_params_check(&p, 100, &eb), 0);
    ck_assert_ptr_nonnull(strstr(eb.msg, "anchor_bits"));
    docofl_wire_params_default(&p);
    p.correction_bits = 9;
    ck_assert_int_lt(docofl_wire_params_check(&p, 100, &eb), 0);
    ck_assert_ptr_nonnull(strstr(eb.msg, "correction_bits"));
    docofl_wire_params_default(&p);
    p.anchor_codec = (enum docofl_wire_anchor_codec)7;
    ck_assert_int_eq(docofl_wire_params_check(&p, 100, &eb), -ERR_INVALID);
    enum docofl_wire_anchor_codec ac;
    ck_assert_int_eq(docofl_wire_anchor_codec_parse("eden", &ac, &eb), 0);
    ck_assert_int_eq(ac, DOCOFL_WIRE_ANCHOR_EDEN);
    ck_assert_str_eq(docofl_wire_anchor_codec_name(DOCOFL_WIRE_ANCHOR_ECUQ), "ecuq");
    ck_assert_int_eq(docofl_wire_anchor_codec_parse("zstd", &ac, &eb), -ERR_INVALID);
}
END_TEST

/* Failing each allocation of server and client construction in turn: NULL, no leak. */
/*
 * The server records only the clients that hold an anchor: one for 2^40 clients (an id
 * each would take 4 TiB) serves clients at both ends and in between, in any order; each
 * keeps its anchor across rounds; when the record cannot grow, prepare fails with
 * -ERR_NOMEM and changes nothing, and succeeds once memory is back.
 */
START_TEST(anchor_record_follows_the_clients_that_take_part)
{
    struct dc_fixture f;
    const size_t n = (size_t)1 << 40;
    dc_setup(&f, 2, 2, DOCOFL_WIRE_ANCHOR_ECUQ, 200, n);
    struct errbuf eb;
    errbuf_clear(&eb);
    dc_begin(&f, 0);
    const uint64_t who[4] = { n - 1, 7, (uint64_t)1 << 33, 0 };
    struct docofl_server_msgs m;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(docofl_server_prepare(f.s, who[i], &m, &eb), 0);
        ck_assert(m.anchor_download);
        ck_assert_uint_eq(docofl_server_client_anchor(f.s, who[i]), 0);
    }
    ck_assert_uint_eq(docofl_server_client_anchor(f.s, 8), DOCOFL_WIRE_NO_ANCHOR);
    dc_begin(&f, 2); /* anchor 1; anchor 0 stays in the deposit */
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(docofl_server_prepare(f.s, who[i], &m, &eb), 0);
        ck_assert(!m.anchor_download);
        ck_assert_uint_eq(m.anchor_id, 0);
    }
    /* The record (kept at most half full: 64, 128, 256 slots) grows at its 65th client. */
    for (uint64_t k = 100; k < 160; k++)
        ck_assert_int_eq(docofl_server_prepare(f.s, k, &m, &eb), 0);
    struct docofl_server_totals before, after;
    docofl_server_totals(f.s, &before);
    mem_fault_arm(1);
    ck_assert_int_eq(docofl_server_prepare(f.s, 5, &m, &eb), -ERR_NOMEM);
    mem_fault_arm(0);
    docofl_server_totals(f.s, &after);
    ck_assert_mem_eq(&after, &before, sizeof before);
    ck_assert_uint_eq(docofl_server_client_anchor(f.s, 5), DOCOFL_WIRE_NO_ANCHOR);
    ck_assert_int_eq(docofl_server_prepare(f.s, 5, &m, &eb), 0);
    ck_assert_uint_eq(docofl_server_client_anchor(f.s, 5), 1);
    ck_assert_uint_eq(docofl_server_client_anchor(f.s, n - 1), 0);
    dc_teardown(&f);
}
END_TEST

START_TEST(allocation_failures)
{
    struct docofl_wire_params p;
    docofl_wire_params_default(&p);
    for (int which = 0; which < 2; which++) {
        for (long n = 1;; n++) {
            mem_fault_arm(n);
            void *obj = which == 0 ? (void *)docofl_server_new(&p, 64, 3)
                                   : (void *)docofl_client_new(&p, 64);
            int fired = mem_fault_fired();
            mem_fault_arm(0);
            if (which == 0)
                docofl_server_free(obj);
            else
                docofl_client_free(obj);
            if (!fired) {
                ck_assert_ptr_nonnull(obj);
                break;
            }
            ck_assert_ptr_null(obj);
        }
    }
}
END_TEST

Suite *
docofl_suite(void)
{
    Suite *s = suite_create("docofl");
    TCase *tc = tcase_create("docofl");
    tcase_add_test(tc, deposit_semantics);
    tcase_add_test(tc, corrections_shared_and_accounted);
    tcase_add_loop_test(tc, reconstruction_error_is_eden_vnmse, 0, 4);
    tcase_add_test(tc, fractional_correction_bits);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, state_round_trip);
    tcase_add_test(tc, client_states_table);
    tcase_add_test(tc, client_rejects_bad_messages);
    tcase_add_test(tc, rejects_bad_parameters);
    tcase_add_test(tc, anchor_record_follows_the_clients_that_take_part);
    tcase_add_test(tc, allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}
