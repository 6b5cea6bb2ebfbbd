/*
 * crypto_bench.c — DESIGN §7: crypto paths within 1.5x of the underlying library's own speed.
 * Prints ops/s for our call next to the raw library call doing the same work, and the ratio
 * raw/ours (1.00 = no overhead; > 1.5 would miss the target). No assertions: figures only.
 *
 *   AES-256-GCM seal/open, 1 KiB and 64 KiB (envelope sizes), fresh key per op (a KEK per
 *     envelope): ak_aes256gcm_* vs br_gcm over the same AES/GHASH implementation.
 *   ES256 verify: ak_p256_verify_sha256 vs SHA-256 + br_ecdsa_i31_vrfy_raw(br_ec_p256_m31);
 *     and the full token path ak_jwt_verify (parse, JSON, verify, claims) for reference.
 *   ecrecover: ak_secp256k1_recover (v/high-s checks, recover, keccak address) vs
 *     secp256k1_ecdsa_recoverable_signature_parse_compact + secp256k1_ecdsa_recover.
 *   keccak-256 of 1 KiB: ours (there is no library under it); SHA-256 (BearSSL) for scale.
 */
#include <bearssl.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/jose.h"
#include "ak/json.h"

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef void (*s_fn)(void);

/* ops/s of fn, run for about `secs` seconds after a short warm-up. */
static double s_rate(s_fn fn, double secs) {
    for (int i = 0; i < 3; i++)
        fn();
    unsigned long n = 0, batch = 1;
    double t0 = s_now(), t;
    do {
        for (unsigned long i = 0; i < batch; i++)
            fn();
        n += batch;
        if (batch < 1024) batch *= 2;
        t = s_now();
    } while (t - t0 < secs);
    return (double)n / (t - t0);
}

static int g_rounds = 7; /* BENCH_QUICK=1: 3 */

static int s_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double s_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(*v), s_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The machine is shared, so single runs are noisy: ours and raw alternate in short rounds (A B A
 * B ...); one markdown row with each one's median rate and the median of the per-round ratios
 * raw/ours (1.00 = no overhead). */
static void s_row(const char *name, s_fn ours, s_fn raw, const char *raw_name) {
    double a[16], b[16], r[16];
    for (int round = 0; round < g_rounds; round++) {
        a[round] = s_rate(ours, 0.12);
        if (raw == NULL) continue;
        b[round] = s_rate(raw, 0.12);
        r[round] = b[round] / a[round];
    }
    double ma = s_median(a, g_rounds);
    if (raw == NULL) {
        printf("| %s | %.0f | %s | - | - |\n", name, ma, raw_name);
        return;
    }
    printf("| %s | %.0f | %s | %.0f | %.2f |\n", name, ma, raw_name, s_median(b, g_rounds),
           s_median(r, g_rounds));
}

/* ---------------------------------------------------------------- AES-256-GCM */

static uint8_t g_key[32], g_nonce[12], g_tag[16];
static uint8_t g_buf[65536];
static size_t g_len;
static const char g_aad[] =
    "agentkeys.env.v4|credentials|0000000000000000000000000000000000000000000000000000000000000000|"
    "1111111111111111111111111111111111111111111111111111111111111111|openrouter|7";
static const br_block_ctr_class *g_vt;
static br_ghash g_gh;

static void s_ours_seal(void) {
    g_key[0]++;
    ak_aes256gcm_seal(g_key, g_nonce, g_aad, sizeof(g_aad) - 1, g_buf, g_len, g_tag);
}

static void s_raw_seal(void) {
    g_key[0]++;
    union {
        const br_block_ctr_class *vt;
        br_aes_x86ni_ctr_keys ni;
        br_aes_ct64_ctr_keys ct;
    } k;
    br_gcm_context gc;
    g_vt->init(&k.vt, g_key, 32);
    br_gcm_init(&gc, &k.vt, g_gh);
    br_gcm_reset(&gc, g_nonce, 12);
    br_gcm_aad_inject(&gc, g_aad, sizeof(g_aad) - 1);
    br_gcm_flip(&gc);
    br_gcm_run(&gc, 1, g_buf, g_len);
    br_gcm_get_tag(&gc, g_tag);
}

/* open: seal once, then open the same ciphertext repeatedly (re-encrypting to restore it would
 * double the work, so we decrypt a copy). */
static uint8_t g_ct[65536], g_ct_tag[16], g_okey[32];

static void s_ours_open(void) {
    memcpy(g_buf, g_ct, g_len);
    if (ak_aes256gcm_open(g_okey, g_nonce, 12, g_aad, sizeof(g_aad) - 1, g_buf, g_len, g_ct_tag, 16) != AK_OK)
        printf("open failed\n");
}

static void s_raw_open(void) {
    memcpy(g_buf, g_ct, g_len);
    union {
        const br_block_ctr_class *vt;
        br_aes_x86ni_ctr_keys ni;
        br_aes_ct64_ctr_keys ct;
    } k;
    br_gcm_context gc;
    g_vt->init(&k.vt, g_okey, 32);
    br_gcm_init(&gc, &k.vt, g_gh);
    br_gcm_reset(&gc, g_nonce, 12);
    br_gcm_aad_inject(&gc, g_aad, sizeof(g_aad) - 1);
    br_gcm_flip(&gc);
    br_gcm_run(&gc, 0, g_buf, g_len);
    if (!br_gcm_check_tag(&gc, g_ct_tag)) printf("raw open failed\n");
}

/* ---------------------------------------------------------------- ES256 */

static uint8_t g_p256_priv[32], g_p256_pub[65], g_p256_sig[64];
static ak_buf g_token;
static ak_jwks g_jwks;
static const char *g_si; /* signing input */
static size_t g_si_len;

static void s_ours_es256(void) {
    if (ak_p256_verify_sha256(g_p256_pub, g_si, g_si_len, g_p256_sig) != AK_OK) printf("verify failed\n");
}

static void s_raw_es256(void) {
    br_sha256_context c;
    uint8_t h[32];
    br_sha256_init(&c);
    br_sha256_update(&c, g_si, g_si_len);
    br_sha256_out(&c, h);
    br_ec_public_key pk = {BR_EC_secp256r1, g_p256_pub, 65};
    if (!br_ecdsa_i31_vrfy_raw(&br_ec_p256_m31, h, 32, &pk, g_p256_sig, 64)) printf("raw verify failed\n");
}

static void s_ours_jwt(void) {
    ak_jwt_expect ex = {.now = 1700000000,
                        .skew = 60,
                        .typ = "ak-cap+jwt",
                        .iss = "agentkeys",
                        .aud = "cred-fetch",
                        .require_exp = true};
    ak_jws j;
    if (ak_jwt_verify(ak_buf_cur(&g_token), &g_jwks, &ex, &j) != AK_OK)
        printf("jwt verify failed\n");
    else
        ak_jws_free(&j);
}

/* ---------------------------------------------------------------- ecrecover */

static uint8_t g_k1_digest[32], g_k1_sig[65];
static secp256k1_context *g_raw_ctx;

static void s_ours_recover(void) {
    uint8_t addr[20];
    if (ak_secp256k1_recover(g_k1_digest, g_k1_sig, addr) != AK_OK) printf("recover failed\n");
}

static void s_raw_recover(void) {
    secp256k1_ecdsa_recoverable_signature rs;
    secp256k1_pubkey pk;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(g_raw_ctx, &rs, g_k1_sig, g_k1_sig[64] - 27) ||
        !secp256k1_ecdsa_recover(g_raw_ctx, &pk, &rs, g_k1_digest))
        printf("raw recover failed\n");
}

static void s_raw_recover_addr(void) {
    secp256k1_ecdsa_recoverable_signature rs;
    secp256k1_pubkey pk;
    uint8_t pub[65], h[32];
    size_t n = 65;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(g_raw_ctx, &rs, g_k1_sig, g_k1_sig[64] - 27) ||
        !secp256k1_ecdsa_recover(g_raw_ctx, &pk, &rs, g_k1_digest))
        printf("raw recover failed\n");
    secp256k1_ec_pubkey_serialize(g_raw_ctx, pub, &n, &pk, SECP256K1_EC_UNCOMPRESSED);
    ak_keccak256(pub + 1, 64, h);
}

/* ---------------------------------------------------------------- keccak */

static uint8_t g_kbuf[1024];

static void s_keccak(void) {
    uint8_t h[32];
    ak_keccak256(g_kbuf, sizeof(g_kbuf), h);
    g_kbuf[0] = h[0];
}

static void s_sha256_1k(void) {
    uint8_t h[32];
    ak_sha256(g_kbuf, sizeof(g_kbuf), h);
    g_kbuf[0] = h[0];
}

int main(void) {
    ak_alloc_install_jansson();
    g_vt = br_aes_x86ni_ctr_get_vtable();
    int ni = g_vt != NULL;
    if (!g_vt) g_vt = &br_aes_ct64_ctr_vtable;
    g_gh = br_ghash_pclmul_get();
    if (!g_gh) g_gh = &br_ghash_ctmul64;
    const char *quick = getenv("BENCH_QUICK");
    if (quick != NULL && strcmp(quick, "1") == 0) g_rounds = 3;
    printf(
        "`build/release/bench/crypto_bench` (static musl, -Os): AES %s, GHASH %s, P-256 br_ec_p256_m31/i31, "
        "libsecp256k1 0.2.0; %d interleaved rounds of 0.12 s each side.\n\n",
        ni ? "x86ni" : "ct64", g_gh == &br_ghash_ctmul64 ? "ctmul64" : "pclmul", g_rounds);
    printf("| operation (ours) | ours ops/s, median | raw library call | raw ops/s, median | raw/ours, "
           "median of rounds |\n");
    printf("|---|---|---|---|---|\n");

    if (ak_random(g_key, 32) != AK_OK || ak_random(g_nonce, 12) != AK_OK || ak_random(g_okey, 32) != AK_OK)
        return 1;
    static const size_t sizes[2] = {1024, 65536};
    for (int i = 0; i < 2; i++) {
        g_len = sizes[i];
        char name[64];
        snprintf(name, sizeof(name), "aes256gcm_seal %zu KiB", g_len / 1024);
        s_row(name, s_ours_seal, s_raw_seal, "br_gcm (+key schedule) seal");
        memset(g_ct, 0x5a, g_len);
        ak_aes256gcm_seal(g_okey, g_nonce, g_aad, sizeof(g_aad) - 1, g_ct, g_len, g_ct_tag);
        snprintf(name, sizeof(name), "aes256gcm_open %zu KiB", g_len / 1024);
        s_row(name, s_ours_open, s_raw_open, "br_gcm (+key schedule) open");
    }

    /* ES256 over a cap-sized signing input */
    if (ak_p256_keygen(g_p256_priv, g_p256_pub) != AK_OK) return 1;
    json_t *claims = json_pack(
        "{s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:I}", "iss", "agentkeys", "aud", "cred-fetch", "typ",
        "cap", "iat", (json_int_t)1700000000, "exp", (json_int_t)1700000300, "op", "fetch", "data_class",
        "credentials", "service", "openrouter", "actor_omni",
        "1111111111111111111111111111111111111111111111111111111111111111", "operator_omni",
        "0000000000000000000000000000000000000000000000000000000000000000", "k3_epoch", (json_int_t)7);
    ak_buf_init(&g_token, 16384);
    if (ak_jwt_sign_es256("cap-1", "ak-cap+jwt", claims, ak_jws_sign_local, g_p256_priv, &g_token) != AK_OK)
        return 1;
    json_decref(claims);
    g_jwks.n = 1;
    memcpy(g_jwks.keys[0].pub65, g_p256_pub, 65);
    memcpy(g_jwks.keys[0].kid, "cap-1", 6);
    g_si = (const char *)g_token.ptr;
    g_si_len = (size_t)(strrchr(g_si, '.') - g_si);
    ak_jws j;
    if (ak_jws_parse(ak_buf_cur(&g_token), &j) != AK_OK) return 1;
    memcpy(g_p256_sig, j.sig, 64);
    ak_jws_free(&j);
    s_row("es256_verify (p256_verify_sha256)", s_ours_es256, s_raw_es256,
          "sha256 + br_ecdsa_i31_vrfy_raw (m31)");
    s_row("ak_jwt_verify (whole cap token)", s_ours_jwt, s_raw_es256, "sha256 + br_ecdsa_i31_vrfy_raw (m31)");

    uint8_t sk[32];
    memset(sk, 0x42, 32);
    ak_sha256("bench", 5, g_k1_digest);
    if (ak_secp256k1_sign(sk, g_k1_digest, g_k1_sig) != AK_OK) return 1;
    g_raw_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    s_row("ecrecover -> address", s_ours_recover, s_raw_recover_addr,
          "parse+secp256k1_ecdsa_recover+keccak addr");
    s_row("ecrecover -> address (vs no addr)", s_ours_recover, s_raw_recover,
          "parse+secp256k1_ecdsa_recover (no addr)");
    secp256k1_context_destroy(g_raw_ctx);

    s_row("keccak256 1 KiB (ours)", s_keccak, s_sha256_1k, "(no library; BearSSL sha256 1 KiB for scale)");
    ak_buf_free(&g_token);
    return 0;
}
