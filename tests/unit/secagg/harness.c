/* harness: one round of both protocol halves (see harness.h). */
#include "tests/unit/secagg/harness.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/ring.h"

struct secagg_params
harness_params(uint32_t n, uint32_t t, unsigned k, size_t m)
{
    return (struct secagg_params){ .graph = SECAGG_GRAPH_COMPLETE,
                                   .n = n,
                                   .t = t,
                                   .degree = n - 1,
                                   .ring_bits = k,
                                   .value_bits = 0,
                                   .threat = SECAGG_THREAT_CURIOUS,
                                   .masks = SECAGG_MASKS_FULL,
                                   .session = 0x5e55105e55105ull,
                                   .seed = 2385,
                                   .round = 3,
                                   .m = m };
}

void
harness_plain_sum(uint64_t *sum, const struct secagg_params *p, const uint64_t *x,
                  const uint8_t *included)
{
    memset(sum, 0, p->m * sizeof *sum);
    for (uint32_t u = 0; u < p->n; u++)
        if (included[u])
            ring_add_u64(sum, x + (size_t)u * p->m, p->m, p->ring_bits);
}

void *
harness_register(struct secagg_params *p)
{
    if (!secagg_wire_signed(p))
        return NULL;
    unsigned char(*pki)[SIGN_PUBLIC_BYTES] = calloc(p->n, sizeof *pki);
    ck_assert_ptr_nonnull(pki);
    ck_assert_int_eq(secagg_wire_pki_fill(pki, p->server_pk, p, NULL), 0);
    p->pki = (const unsigned char(*)[SIGN_PUBLIC_BYTES])pki;
    return pki;
}

int
harness_run(const struct secagg_params *p, const uint64_t *x, const int *drop,
            harness_hook_fn *hook, void *ctx, const struct harness_secrets *secrets, uint64_t *sum,
            struct harness_out *out)
{
    struct secagg_params signed_p = *p;
    void *pki = p->pki == NULL ? harness_register(&signed_p) : NULL;
    p = &signed_p;
    struct secagg_server *s = NULL;
    struct secagg_client **c = calloc(p->n, sizeof *c);
    uint8_t *gone = calloc(p->n, 1);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(gone);
    memset(out, 0, sizeof *out);
    ck_assert_int_eq(secagg_server_new(&s, p, NULL), 0);
    for (uint32_t u = 0; u < p->n; u++) {
        ck_assert_int_eq(secagg_client_new(&c[u], p, u, NULL), 0);
        ck_assert_int_eq(secagg_client_set_input(c[u], x + (size_t)u * p->m, NULL), 0);
        if (secrets != NULL)
            ck_assert_int_eq(
                secagg_client_set_secrets(c[u], secrets->mask_sk[u], secrets->self_seed[u], NULL),
                0);
    }
    enum secagg_phase phases[SECAGG_PHASES];
    int np = 0;
    phases[np++] = SECAGG_PHASE_ADVERTISE_KEYS;
    phases[np++] = SECAGG_PHASE_SHARE_KEYS;
    phases[np++] = SECAGG_PHASE_MASKED_INPUT;
    if (p->threat == SECAGG_THREAT_SEMI_MALICIOUS)
        phases[np++] = SECAGG_PHASE_CONSISTENCY_CHECK;
    phases[np++] = SECAGG_PHASE_UNMASKING;
    int rc = 0;
    for (int i = 0; i < np && rc == 0; i++) {
        enum secagg_phase ph = phases[i];
        for (uint32_t u = 0; u < p->n; u++) {
            size_t rlen = 0, olen = 0;
            if (gone[u] || secagg_server_dropped_phase(s, u) >= 0)
                continue;
            if (secagg_server_message_for(s, ph, u, NULL, 0, &rlen, NULL) < 0)
                continue;
            unsigned char *req = malloc(rlen + 64);
            ck_assert_int_eq(secagg_server_message_for(s, ph, u, req, rlen, &rlen, NULL), 0);
            if (hook != NULL)
                hook(ctx, 0, ph, u, req, &rlen);
            if (u < HARNESS_MAX_N)
                out->bytes[u][ph][0] = rlen;
            if (drop != NULL && drop[u] == (int)ph) {
                gone[u] = 1;
                free(req);
                continue;
            }
            size_t cap = secagg_client_reply_bytes(c[u], ph) + 64;
            unsigned char *rep = malloc(cap);
            struct errbuf eb;
            errbuf_clear(&eb);
            if (secagg_client_step(c[u], ph, req, rlen, rep, cap, &olen, &eb) < 0) {
                out->client_errors++;
                gone[u] = 1;
            } else {
                if (hook != NULL)
                    hook(ctx, 1, ph, u, rep, &olen);
                if (u < HARNESS_MAX_N)
                    out->bytes[u][ph][1] = olen;
                if (secagg_server_receive(s, ph, u, rep, olen, NULL) < 0)
                    out->server_rejects++;
            }
            free(req);
            free(rep);
        }
        rc = secagg_server_close_phase(s, ph, NULL);
    }
    if (rc == 0)
        rc = secagg_server_result(s, sum, p->m, NULL);
    for (uint32_t u = 0; u < p->n && u < HARNESS_MAX_N; u++) {
        out->included[u] = secagg_server_included(s, u);
        out->dropped_phase[u] = secagg_server_dropped_phase(s, u);
    }
    out->rc = rc;
    for (uint32_t u = 0; u < p->n; u++)
        secagg_client_free(c[u]);
    secagg_server_free(s);
    free(c);
    free(gone);
    free(pki);
    return rc;
}
