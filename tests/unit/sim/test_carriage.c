/* carriage: the homomorphic alternative a re-embedded codec's note names, and its ring bits. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/carriage.h"
#include "tests/support/check_support.h"
#include "tests/unit/sim/suites.h"

static const char ca_base[] = "name: carriage\n"
                              "seed: 1\n"
                              "data: {dataset: synthetic_iid, clients: 2000}\n"
                              "model: {type: logreg}\n"
                              "train: {rounds: 1, clients_per_round: 20}\n"
                              "aggregation: {secure: secagg}\n"
                              "output: {db: unused.db}\n";

static void
ca_load(struct scenario *s, const char *const *sets, size_t n)
{
    struct errbuf eb;
    errbuf_clear(&eb);
    int rc = scenario_load(s, "carriage.yaml", ca_base, strlen(ca_base), sets, n, &eb);
    ck_assert_msg(rc == 0, "scenario: %s", eb.msg);
}

/*
 * k = ceil(log2(n (2^b - 1) w + 1)) for n = 20 clients: uniform weights (w = 1) give 5 bits
 * at b = 1 and 6 at b = 2; sample weights (w = 255) 13 and 14. EDEN at 4 bits with 100
 * uniform clients: ceil(log2(1501)) = 11 = b + ceil(log2 100).
 */
START_TEST(alternative_ring_bits)
{
    static const struct {
        const char *codec, *bits, *n;
        unsigned b, k, k_uniform;
    } cases[] = {
        { "uplink.codec=eden", "uplink.bits=1", "train.clients_per_round=20", 1, 13, 5 },
        { "uplink.codec=drive", "uplink.bits=1", "train.clients_per_round=20", 1, 13, 5 },
        { "uplink.codec=quicfl", "uplink.bits=2", "train.clients_per_round=20", 2, 14, 6 },
        { "uplink.codec=eden", "uplink.bits=4", "train.clients_per_round=100", 4, 19, 11 },
        { "uplink.codec=eden", "uplink.bits=1.5", "train.clients_per_round=20", 2, 14, 6 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *sets[] = { cases[i].codec, cases[i].bits, cases[i].n };
        struct scenario s;
        ca_load(&s, sets, 3);
        unsigned b = 0, k = 0, ku = 0;
        ck_assert(carriage_homomorphic_alternative(&s, &b, &k, &ku));
        ck_assert_uint_eq(b, cases[i].b);
        ck_assert_uint_eq(k, cases[i].k);
        ck_assert_uint_eq(ku, cases[i].k_uniform);
        scenario_release(&s);
    }
}
END_TEST

/* Nothing to offer for a plain run, float32, or THC itself. */
START_TEST(no_alternative)
{
    const char *plain[] = { "uplink.codec=eden", "aggregation.secure=none" };
    const char *none[] = { "uplink.codec=none" };
    const char *thc[] = { "uplink.codec=thc", "uplink.rotation=shared" };
    const char *const *sets[] = { plain, none, thc };
    size_t n[] = { 2, 1, 2 };
    for (size_t i = 0; i < 3; i++) {
        struct scenario s;
        ca_load(&s, sets[i], n[i]);
        unsigned b = 7, k = 7, ku = 7;
        ck_assert(!carriage_homomorphic_alternative(&s, &b, &k, &ku));
        ck_assert_uint_eq(b + k + ku, 21);
        struct carriage c;
        struct errbuf eb;
        ck_assert_int_eq(carriage_of(&s, &c, &eb), 0);
        char note[640] = "";
        ck_assert(!carriage_format_note(&c, &s, note, sizeof note));
        ck_assert_str_eq(note, "");
        scenario_release(&s);
    }
}
END_TEST

/*
 * The alternative is what a THC run with the suggested keys carries: its ring bits equal
 * carriage_of()'s for that scenario, and with uniform weights stay within b + ceil(log2 n).
 */
START_TEST(alternative_is_what_thc_uniform_carries)
{
    for (unsigned b = 1; b <= 8; b++) {
        for (unsigned n = 3; n <= 1000; n = n < 10 ? n + 1 : n * 3 + 1) {
            for (int uniform = 0; uniform < 2; uniform++) {
                char bits[32], clients[48];
                snprintf(bits, sizeof bits, "uplink.bits=%u", b);
                snprintf(clients, sizeof clients, "train.clients_per_round=%u", n);
                const char *weighting =
                    uniform ? "aggregation.weighting=uniform" : "aggregation.weighting=samples";
                const char *eden[] = { "uplink.codec=eden", bits, clients, weighting };
                const char *thc[] = {
                    "uplink.codec=thc",      bits, clients, weighting, "uplink.thc_uniform=true",
                    "uplink.rotation=shared"
                };
                struct scenario s, t;
                ca_load(&s, eden, 4);
                ca_load(&t, thc, 6);
                unsigned got_b, k, ku;
                ck_assert(carriage_homomorphic_alternative(&s, &got_b, &k, &ku));
                struct carriage c;
                struct errbuf eb;
                ck_assert_int_eq(carriage_of(&t, &c, &eb), 0);
                ck_assert_int_eq(c.kind, CARRIAGE_HOMOMORPHIC);
                ck_assert_uint_eq(got_b, b);
                ck_assert_uint_eq(c.ring_bits, uniform ? ku : k);
                ck_assert_uint_le(ku, b + (unsigned)ceil(log2((double)n)));
                if (uniform)
                    ck_assert_uint_eq(k, ku);
                scenario_release(&s);
                scenario_release(&t);
            }
        }
    }
}
END_TEST

/* The note names the fixed-point ring and the alternative's ring, both weightings. */
START_TEST(note_names_both_rings)
{
    const char *sets[] = { "uplink.codec=eden", "uplink.bits=1" };
    struct scenario s;
    ca_load(&s, sets, 2);
    struct carriage c;
    struct errbuf eb;
    ck_assert_int_eq(carriage_of(&s, &c, &eb), 0);
    char note[640];
    ck_assert(carriage_format_note(&c, &s, note, sizeof note));
    char fixed[64];
    snprintf(fixed, sizeof fixed, "-> fixed point %u bits per coordinate", c.ring_bits);
    ck_assert_msg(strstr(note, fixed) != NULL, "%s", note);
    ck_assert_msg(strstr(note, "{codec: thc, bits: 1, thc_uniform: true, rotation: shared}") !=
                      NULL,
                  "%s", note);
    ck_assert_msg(strstr(note, "ring of 13 bits; 5 with aggregation.weighting: uniform") != NULL,
                  "%s", note);
    scenario_release(&s);
}
END_TEST

Suite *
carriage_suite(void)
{
    Suite *s = suite_create("carriage");
    TCase *tc = tcase_create("carriage");
    tcase_add_test(tc, alternative_ring_bits);
    tcase_add_test(tc, no_alternative);
    tcase_add_test(tc, alternative_is_what_thc_uniform_carries);
    tcase_add_test(tc, note_names_both_rings);
    suite_add_tcase(s, tc);
    return s;
}
