/* kx: RFC 7748 vectors, seeded pairs, symmetric pair seeds, rejection of bad peer keys. */
#include <string.h>

#include "crypto/kx.h"
#include "tests/support/check_support.h"
#include "tests/unit/crypto/suites.h"

#define ALICE_SK "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PK "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_SK   "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define BOB_PK   "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"

static void
rfc_pair(struct kx_keypair *kp, const char *sk_hex)
{
    unsigned char sk[KX_SECRET_BYTES];
    hex_decode(sk, sizeof sk, sk_hex);
    ck_assert_int_eq(kx_keypair_from_secret(kp, sk, NULL), 0);
}

/*
 * RFC 7748 §6.1 public keys; the pair seed is BLAKE2b-256(q || pk_lo || pk_hi [|| session])
 * with q the RFC's shared secret 4a5d9d5b...1742; the expected seeds were computed with
 * Python's hashlib and the `cryptography` package's X25519 (independent of libsodium).
 */
START_TEST(rfc7748_and_pair_seed)
{
    struct kx_keypair a, b;
    rfc_pair(&a, ALICE_SK);
    rfc_pair(&b, BOB_SK);
    ck_assert_hex_eq(a.pk, KX_PUBLIC_BYTES, ALICE_PK);
    ck_assert_hex_eq(b.pk, KX_PUBLIC_BYTES, BOB_PK);

    unsigned char ab[KX_SHARED_BYTES], ba[KX_SHARED_BYTES];
    ck_assert_int_eq(kx_agree(ab, &a, b.pk, NULL, 0, NULL), 0);
    ck_assert_int_eq(kx_agree(ba, &b, a.pk, NULL, 0, NULL), 0);
    ck_assert_mem_eq(ab, ba, KX_SHARED_BYTES);
    ck_assert_hex_eq(ab, KX_SHARED_BYTES,
                     "519fb3af2f3f9e310718cf1f8bdec6e26ab64affe730f0f8b43c43b0e8ee52be");

    static const unsigned char session[] = "fedbits-session";
    ck_assert_int_eq(kx_agree(ab, &a, b.pk, session, sizeof session - 1, NULL), 0);
    ck_assert_int_eq(kx_agree(ba, &b, a.pk, session, sizeof session - 1, NULL), 0);
    ck_assert_mem_eq(ab, ba, KX_SHARED_BYTES);
    ck_assert_hex_eq(ab, KX_SHARED_BYTES,
                     "26b1283a372cb98b56961f4c681eb1cbecfc333fdca9fae9d711c80641648745");
    kx_keypair_wipe(&a);
    unsigned char zero[sizeof a] = { 0 };
    ck_assert_mem_eq(&a, zero, sizeof a);
}
END_TEST

/* crypto_kx_seed_keypair: sk = BLAKE2b-256(seed); values from hashlib + cryptography. */
START_TEST(seeded_pair_known_answer)
{
    unsigned char seed[KX_SEED_BYTES];
    memset(seed, 0x42, sizeof seed);
    struct kx_keypair kp, again;
    ck_assert_int_eq(kx_keypair_from_seed(&kp, seed, NULL), 0);
    ck_assert_hex_eq(kp.sk, KX_SECRET_BYTES,
                     "7538b84957fd8dd92c00e3529a664f3366f52b5f7529d7fe5ecaeaeed3fbb9f3");
    ck_assert_hex_eq(kp.pk, KX_PUBLIC_BYTES,
                     "191957342799412f1a3cbeae3d3af8cf5441f2fb51d88a8c2a56175f1fae3f3a");
    ck_assert_int_eq(kx_keypair_from_seed(&again, seed, NULL), 0);
    ck_assert_mem_eq(&kp, &again, sizeof kp);
    /* Rebuilding from the secret alone gives the same public key (the server's check). */
    ck_assert_int_eq(kx_keypair_from_secret(&again, kp.sk, NULL), 0);
    ck_assert_mem_eq(again.pk, kp.pk, KX_PUBLIC_BYTES);
    /* In-place rebuild (sk aliases the output). */
    ck_assert_int_eq(kx_keypair_from_secret(&again, again.sk, NULL), 0);
    ck_assert_mem_eq(again.pk, kp.pk, KX_PUBLIC_BYTES);
}
END_TEST

/* agree(a, B) = agree(b, A) for many seeded pairs; sessions and partners separate. */
START_TEST(agreement_is_symmetric)
{
    enum { N = 12 };
    struct kx_keypair kp[N];
    for (int i = 0; i < N; i++) {
        unsigned char seed[KX_SEED_BYTES] = { 0 };
        seed[0] = (unsigned char)i;
        seed[31] = 0xa5;
        ck_assert_int_eq(kx_keypair_from_seed(&kp[i], seed, NULL), 0);
    }
    static unsigned char seeds[N][N][KX_SHARED_BYTES];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j)
                ck_assert_int_eq(
                    kx_agree(seeds[i][j], &kp[i], kp[j].pk, (const unsigned char *)"s1", 2, NULL),
                    0);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            ck_assert_mem_eq(seeds[i][j], seeds[j][i], KX_SHARED_BYTES);
            for (int k = j + 1; k < N; k++)
                ck_assert_mem_ne(seeds[i][j], seeds[i][k], KX_SHARED_BYTES);
            unsigned char other[KX_SHARED_BYTES];
            ck_assert_int_eq(
                kx_agree(other, &kp[i], kp[j].pk, (const unsigned char *)"s2", 2, NULL), 0);
            ck_assert_mem_ne(other, seeds[i][j], KX_SHARED_BYTES);
        }
}
END_TEST

/*
 * Small-order points of Curve25519 (0, 1, and points of order 8; the list libsodium's
 * has_small_order() carries): every one is refused, by kx_public_check and by kx_agree.
 */
START_TEST(rejects_small_order_and_own_key)
{
    static const char *const bad[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    };
    struct kx_keypair a;
    rfc_pair(&a, ALICE_SK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char pk[KX_PUBLIC_BYTES], seed[KX_SHARED_BYTES];
        hex_decode(pk, sizeof pk, bad[i]);
        struct errbuf eb;
        errbuf_clear(&eb);
        ck_assert_int_eq(kx_public_check(pk, &eb), -ERR_CORRUPT);
        ck_assert_str_eq(eb.msg, "public key has small order");
        errbuf_clear(&eb);
        ck_assert_int_eq(kx_agree(seed, &a, pk, NULL, 0, &eb), -ERR_CORRUPT);
        ck_assert_str_eq(eb.msg, "peer public key has small order");
    }
    unsigned char bob[KX_PUBLIC_BYTES];
    hex_decode(bob, sizeof bob, BOB_PK);
    ck_assert_int_eq(kx_public_check(bob, NULL), 0);
    ck_assert_int_eq(kx_public_check(a.pk, NULL), 0);

    unsigned char seed[KX_SHARED_BYTES];
    struct errbuf eb;
    errbuf_clear(&eb);
    ck_assert_int_eq(kx_agree(seed, &a, a.pk, NULL, 0, &eb), -ERR_CORRUPT);
    ck_assert_str_eq(eb.msg, "peer public key equals own public key");
}
END_TEST

Suite *
kx_suite(void)
{
    Suite *s = suite_create("kx");
    TCase *tc = tcase_create("kx");
    tcase_add_test(tc, rfc7748_and_pair_seed);
    tcase_add_test(tc, seeded_pair_known_answer);
    tcase_add_test(tc, agreement_is_symmetric);
    tcase_add_test(tc, rejects_small_order_and_own_key);
    suite_add_tcase(s, tc);
    return s;
}
