/*
 * crypto.c — hashes, MACs, HKDF, AES-256-GCM, P-256 ECDSA (BearSSL 0.6), secp256k1 (libsecp256k1
 * 0.2.0 with the recovery module), getrandom. See ak/crypto.h. Keccak-256 is in keccak.c.
 *
 * Performance (DESIGN §7: within 1.5x of the library's own speed): nothing here allocates; the
 * secp256k1 context is one static preallocated block set up once per process; the AES/GHASH
 * implementation choice (cpuid) is made once. Per call we only pay the library call itself plus
 * the AES key schedule, which any caller of br_gcm pays too.
 */
#include "ak/crypto.h"

#include <bearssl.h>
#include <errno.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_preallocated.h>
#include <secp256k1_recovery.h>
#include <string.h>
#include <sys/random.h>

#include "ak/ct.h"

/* ------------------------------------------------------------------ hashes, MAC, HKDF */

_Static_assert(sizeof(br_sha256_context) <= sizeof(ak_sha256_ctx), "ak_sha256_ctx too small");
_Static_assert(_Alignof(br_sha256_context) <= _Alignof(ak_sha256_ctx), "ak_sha256_ctx misaligned");

void ak_sha256(const void *data, size_t len, uint8_t out[32]) {
    br_sha256_context c;
    br_sha256_init(&c);
    br_sha256_update(&c, data, len);
    br_sha256_out(&c, out);
}

void ak_sha384(const void *data, size_t len, uint8_t out[48]) {
    br_sha384_context c;
    br_sha384_init(&c);
    br_sha384_update(&c, data, len);
    br_sha384_out(&c, out);
}

void ak_sha1(const void *data, size_t len, uint8_t out[20]) {
    br_sha1_context c;
    br_sha1_init(&c);
    br_sha1_update(&c, data, len);
    br_sha1_out(&c, out);
}

static br_sha256_context *s_sha(ak_sha256_ctx *c) { return (br_sha256_context *)(void *)c->opaque; }

void ak_sha256_init(ak_sha256_ctx *c) { br_sha256_init(s_sha(c)); }
void ak_sha256_update(ak_sha256_ctx *c, const void *data, size_t len) {
    br_sha256_update(s_sha(c), data, len);
}
void ak_sha256_final(ak_sha256_ctx *c, uint8_t out[32]) {
    br_sha256_out(s_sha(c), out);
    /* The context may have hashed a secret (bearer-token hashes for audit rows, D13). */
    ak_wipe(c, sizeof(*c));
}

static const uint8_t s_empty[1] = {0};

void ak_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[32]) {
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, &br_sha256_vtable, key_len ? key : s_empty, key_len);
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, len ? data : s_empty, len);
    br_hmac_out(&hc, out);
    ak_wipe(&kc, sizeof(kc));
    ak_wipe(&hc, sizeof(hc));
}

ak_err ak_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len, const void *info,
                      size_t info_len, uint8_t *out, size_t out_len) {
    /* RFC 5869 §2.3: L <= 255*HashLen. */
    AK_ENSURE(out_len <= 255u * 32u, AK_E_LIMIT);
    br_hkdf_context hc;
    /* An empty salt is, per RFC 5869 §2.2, HashLen zero bytes; HMAC's zero padding of an empty key
     * gives exactly that, so no BR_HKDF_NO_SALT special case is needed. */
    br_hkdf_init(&hc, &br_sha256_vtable, salt_len ? salt : s_empty, salt_len);
    br_hkdf_inject(&hc, ikm_len ? ikm : s_empty, ikm_len);
    br_hkdf_flip(&hc);
    br_hkdf_produce(&hc, info_len ? info : s_empty, info_len, out, out_len);
    ak_wipe(&hc, sizeof(hc));
    return AK_OK;
}

/* ------------------------------------------------------------------ CSPRNG */

ak_err ak_random(void *out, size_t len) {
    uint8_t *p = out;
    while (len > 0) {
        /* getrandom() on the urandom source never returns short for <= 256 bytes once the pool is
         * initialised, but it may for larger requests or on a signal: loop. */
        ssize_t r = getrandom(p, len, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return AK_E_INTERNAL;
        }
        p += r;
        len -= (size_t)r;
    }
    return AK_OK;
}

/* ------------------------------------------------------------------ AES-256-GCM */

/* Picked once: AES-NI CTR + PCLMUL GHASH when the CPU has them (both constant time), otherwise
 * BearSSL's constant-time ct64 AES and ctmul64 GHASH. Never the table-based "big" AES. */
static const br_block_ctr_class *s_aes_vt;
static br_ghash s_ghash;
static pthread_once_t s_gcm_once = PTHREAD_ONCE_INIT;

static void s_gcm_pick(void) {
    const br_block_ctr_class *vt = br_aes_x86ni_ctr_get_vtable();
    s_aes_vt = vt ? vt : &br_aes_ct64_ctr_vtable;
    br_ghash gh = br_ghash_pclmul_get();
    s_ghash = gh ? gh : &br_ghash_ctmul64;
}

typedef union s_aes_keys {
    const br_block_ctr_class *vtable;
    br_aes_x86ni_ctr_keys ni;
    br_aes_ct64_ctr_keys ct64;
} s_aes_keys;

_Static_assert(sizeof(s_aes_keys) >= sizeof(br_aes_x86ni_ctr_keys), "key union");

static void s_gcm_start(br_gcm_context *g, s_aes_keys *k, const uint8_t key[32]) {
    pthread_once(&s_gcm_once, s_gcm_pick);
    s_aes_vt->init(&k->vtable, key, 32);
    br_gcm_init(g, &k->vtable, s_ghash);
}

void ak_aes256gcm_seal(const uint8_t key[32], const uint8_t nonce[12], const void *aad, size_t aad_len,
                       uint8_t *buf, size_t len, uint8_t tag[16]) {
    br_gcm_context g;
    s_aes_keys k;
    s_gcm_start(&g, &k, key);
    br_gcm_reset(&g, nonce, 12);
    if (aad_len) br_gcm_aad_inject(&g, aad, aad_len);
    br_gcm_flip(&g);
    if (len) br_gcm_run(&g, 1, buf, len);
    br_gcm_get_tag(&g, tag);
    ak_wipe(&k, s_aes_vt->context_size); /* the active member only: ct64's is ~1 KB, x86ni's ~250 B */
    ak_wipe(&g, sizeof(g));
}

ak_err ak_aes256gcm_open(const uint8_t key[32], const uint8_t *nonce, size_t nonce_len, const void *aad,
                         size_t aad_len, uint8_t *buf, size_t len, const uint8_t *tag, size_t tag_len) {
    if (nonce_len == 0 || tag_len != 16) {
        ak_wipe(buf, len);
        return AK_E_DECRYPT_FAILED;
    }
    br_gcm_context g;
    s_aes_keys k;
    s_gcm_start(&g, &k, key);
    br_gcm_reset(&g, nonce, nonce_len);
    if (aad_len) br_gcm_aad_inject(&g, aad, aad_len);
    br_gcm_flip(&g);
    /* br_gcm_run(encrypt=0) GHASHes the ciphertext before decrypting it, so the tag below covers
     * exactly what we received. The plaintext is wiped if the tag does not match: no caller can
     * see unauthenticated plaintext. */
    if (len) br_gcm_run(&g, 0, buf, len);
    uint32_t ok = br_gcm_check_tag(&g, tag); /* constant time */
    ak_wipe(&k, s_aes_vt->context_size);
    ak_wipe(&g, sizeof(g));
    if (!ok) {
        ak_wipe(buf, len);
        return AK_E_DECRYPT_FAILED;
    }
    return AK_OK;
}

/* ------------------------------------------------------------------ big-endian scalar helpers */

/* 1 when a < b (32-byte big-endian), constant time in the values. */
static uint32_t s_lt32(const uint8_t a[32], const uint8_t b[32]) {
    uint32_t borrow = 0;
    for (size_t i = 32; i-- > 0;) {
        uint32_t d = (uint32_t)a[i] - (uint32_t)b[i] - borrow;
        borrow = d >> 31;
    }
    return borrow;
}

static uint32_t s_nonzero32(const uint8_t a[32]) {
    uint32_t acc = 0;
    for (size_t i = 0; i < 32; i++)
        acc |= a[i];
    return (acc | (0u - acc)) >> 31;
}

/* ------------------------------------------------------------------ P-256 ECDSA */

static const uint8_t s_p256_n[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                     0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
static const uint8_t s_p256_p[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* m31 is the fastest constant-time P-256 code BearSSL 0.6 has on 64-bit hosts (no m62 yet). */
#define S_P256 (&br_ec_p256_m31)

/* BearSSL's compute_pub and sign require 0 < d < n and do not all check it (bearssl_ec.h). */
static bool s_p256_priv_ok(const uint8_t priv[32]) {
    return (s_nonzero32(priv) & s_lt32(priv, s_p256_n)) != 0;
}

ak_err ak_p256_pub_from_priv(const uint8_t priv[32], uint8_t pub65[65]) {
    AK_ENSURE(s_p256_priv_ok(priv), AK_E_BAD_KEY);
    br_ec_private_key sk = {BR_EC_secp256r1, (unsigned char *)(uintptr_t)priv, 32};
    AK_ENSURE(br_ec_compute_pub(S_P256, NULL, pub65, &sk) == 65, AK_E_INTERNAL);
    return AK_OK;
}

ak_err ak_p256_keygen(uint8_t priv[32], uint8_t pub65[65]) {
    /* Rejection sampling: a uniform 256-bit value is >= n with probability < 2^-32. */
    for (int tries = 0; tries < 64; tries++) {
        AK_GUARD(ak_random(priv, 32));
        if (s_p256_priv_ok(priv)) return ak_p256_pub_from_priv(priv, pub65);
    }
    ak_wipe(priv, 32);
    return AK_E_INTERNAL;
}

ak_err ak_p256_sign_digest(const uint8_t priv[32], const uint8_t digest[32], uint8_t sig64[64]) {
    AK_ENSURE(s_p256_priv_ok(priv), AK_E_BAD_KEY);
    br_ec_private_key sk = {BR_EC_secp256r1, (unsigned char *)(uintptr_t)priv, 32};
    AK_ENSURE(br_ecdsa_i31_sign_raw(S_P256, &br_sha256_vtable, digest, &sk, sig64) == 64, AK_E_SIGN_ERROR);
    return AK_OK;
}

ak_err ak_p256_sign_sha256(const uint8_t priv[32], const void *msg, size_t len, uint8_t sig64[64]) {
    uint8_t d[32];
    ak_sha256(msg, len, d);
    return ak_p256_sign_digest(priv, d, sig64);
}

ak_err ak_p256_verify_digest(const uint8_t pub65[65], const uint8_t digest[32], const uint8_t sig64[64]) {
    /* br_ecdsa_i31_vrfy_raw rejects r or s outside [1, n-1] and a public key that does not decode
     * to a curve point (muladd decodes and checks it). */
    br_ec_public_key pk = {BR_EC_secp256r1, (unsigned char *)(uintptr_t)pub65, 65};
    AK_ENSURE(br_ecdsa_i31_vrfy_raw(S_P256, digest, 32, &pk, sig64, 64) == 1, AK_E_BAD_SIGNATURE);
    return AK_OK;
}

ak_err ak_p256_verify_sha256(const uint8_t pub65[65], const void *msg, size_t len, const uint8_t sig64[64]) {
    uint8_t d[32];
    ak_sha256(msg, len, d);
    return ak_p256_verify_digest(pub65, d, sig64);
}

bool ak_p256_pub_valid(const uint8_t pub65[65]) {
    if (pub65[0] != 0x04) return false;
    /* Coordinates must be canonical (< p); the curve check below works modulo p. */
    if (!s_lt32(pub65 + 1, s_p256_p) || !s_lt32(pub65 + 33, s_p256_p)) return false;
    uint8_t tmp[65];
    static const uint8_t one = 1;
    memcpy(tmp, pub65, 65);
    /* mul() decodes the point (rejecting non-curve points) and returns 0 for an invalid one;
     * 1·P = P is never the point at infinity. */
    return S_P256->mul(tmp, 65, &one, 1, BR_EC_secp256r1) == 1;
}

/* One DER INTEGER (X.690 §8.3): minimal, non-negative, at most 32 value bytes. */
static ak_err s_der_int(ak_cur *c, uint8_t out[32]) {
    uint8_t tag, len;
    ak_cur v;
    AK_ENSURE(ak_cur_read_u8(c, &tag) == AK_OK && tag == 0x02, AK_E_BAD_SIGNATURE);
    AK_ENSURE(ak_cur_read_u8(c, &len) == AK_OK && len >= 1 && len <= 33, AK_E_BAD_SIGNATURE);
    AK_ENSURE(ak_cur_take(c, len, &v) == AK_OK, AK_E_BAD_SIGNATURE);
    AK_ENSURE((v.ptr[0] & 0x80) == 0, AK_E_BAD_SIGNATURE); /* negative */
    if (v.len > 1 && v.ptr[0] == 0) {
        AK_ENSURE((v.ptr[1] & 0x80) != 0, AK_E_BAD_SIGNATURE); /* non-minimal */
        v.ptr++;
        v.len--;
    }
    AK_ENSURE(v.len <= 32, AK_E_BAD_SIGNATURE);
    memset(out, 0, 32);
    memcpy(out + 32 - v.len, v.ptr, v.len);
    return AK_OK;
}

ak_err ak_p256_sig_der_to_raw(ak_cur der, uint8_t sig64[64]) {
    uint8_t tag, len;
    AK_ENSURE(ak_cur_read_u8(&der, &tag) == AK_OK && tag == 0x30, AK_E_BAD_SIGNATURE);
    /* The longest signature is 2 + 2*(2 + 33) = 72 bytes: a SEQUENCE body < 128, so DER
     * requires the short length form. */
    AK_ENSURE(ak_cur_read_u8(&der, &len) == AK_OK && len < 0x80 && len == der.len, AK_E_BAD_SIGNATURE);
    AK_GUARD(s_der_int(&der, sig64));
    AK_GUARD(s_der_int(&der, sig64 + 32));
    AK_ENSURE(der.len == 0, AK_E_BAD_SIGNATURE);
    return AK_OK;
}

static size_t s_der_put_int(uint8_t *o, const uint8_t v[32]) {
    size_t i = 0;
    while (i < 31 && v[i] == 0)
        i++;
    size_t n = 32 - i;
    size_t pad = (v[i] & 0x80) ? 1 : 0;
    o[0] = 0x02;
    o[1] = (uint8_t)(n + pad);
    o[2] = 0;
    memcpy(o + 2 + pad, v + i, n);
    return 2 + pad + n;
}

ak_err ak_p256_sig_raw_to_der(const uint8_t sig64[64], ak_buf *der) {
    uint8_t o[72];
    size_t n = 2;
    n += s_der_put_int(o + n, sig64);
    n += s_der_put_int(o + n, sig64 + 32);
    o[0] = 0x30;
    o[1] = (uint8_t)(n - 2);
    return ak_buf_append(der, o, n);
}

/* ------------------------------------------------------------------ secp256k1 */

/* One context per process, in static storage (secp256k1_preallocated.h), randomised once against
 * side channels in signing (secp256k1_context_randomize). Verify and recover do not depend on the
 * randomisation but share the context. 0.2.0 needs ~200 bytes; the check below guards upgrades. */
static _Alignas(64) unsigned char s_k1_mem[1024];
static secp256k1_context *s_k1;
static pthread_once_t s_k1_once = PTHREAD_ONCE_INIT;

static void s_k1_setup(void) {
    if (secp256k1_context_preallocated_size(SECP256K1_CONTEXT_NONE) > sizeof(s_k1_mem)) return;
    secp256k1_context *c = secp256k1_context_preallocated_create(s_k1_mem, SECP256K1_CONTEXT_NONE);
    if (c == NULL) return;
    uint8_t seed[32];
    bool ok = ak_random(seed, sizeof(seed)) == AK_OK && secp256k1_context_randomize(c, seed) == 1;
    ak_wipe(seed, sizeof(seed));
    if (ok) s_k1 = c; /* fail closed: no context means every call returns AK_E_INTERNAL */
}

static const secp256k1_context *s_k1_ctx(void) {
    pthread_once(&s_k1_once, s_k1_setup);
    return s_k1;
}

void ak_eth_address_from_pub(const uint8_t pub65[65], uint8_t addr[20]) {
    uint8_t h[32];
    ak_keccak256(pub65 + 1, 64, h);
    memcpy(addr, h + 12, 20);
}

ak_err ak_secp256k1_pubkey(const uint8_t seckey[32], uint8_t pub65[65]) {
    const secp256k1_context *ctx = s_k1_ctx();
    AK_ENSURE(ctx != NULL, AK_E_INTERNAL);
    secp256k1_pubkey pk;
    AK_ENSURE(secp256k1_ec_pubkey_create(ctx, &pk, seckey) == 1, AK_E_BAD_KEY);
    size_t n = 65;
    secp256k1_ec_pubkey_serialize(ctx, pub65, &n, &pk, SECP256K1_EC_UNCOMPRESSED);
    return AK_OK;
}

ak_err ak_secp256k1_sign(const uint8_t seckey[32], const uint8_t digest[32], uint8_t sig65[65]) {
    const secp256k1_context *ctx = s_k1_ctx();
    AK_ENSURE(ctx != NULL, AK_E_INTERNAL);
    AK_ENSURE(secp256k1_ec_seckey_verify(ctx, seckey) == 1, AK_E_BAD_KEY);
    secp256k1_ecdsa_recoverable_signature rs;
    /* noncefp NULL = secp256k1_nonce_function_rfc6979; the library always returns low-s and flips
     * the recovery id accordingly. */
    AK_ENSURE(secp256k1_ecdsa_sign_recoverable(ctx, &rs, digest, seckey, NULL, NULL) == 1, AK_E_SIGN_ERROR);
    int recid = -1;
    secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, sig65, &recid, &rs);
    /* recid 2/3 (r >= n - p... overflowed x) has probability ~2^-128 and Ethereum cannot express it. */
    AK_ENSURE(recid == 0 || recid == 1, AK_E_SIGN_ERROR);
    sig65[64] = (uint8_t)(27 + recid);
    return AK_OK;
}

ak_err ak_secp256k1_recover_pub(const uint8_t digest[32], const uint8_t sig65[65], uint8_t pub65[65]) {
    const secp256k1_context *ctx = s_k1_ctx();
    AK_ENSURE(ctx != NULL, AK_E_INTERNAL);
    int recid;
    uint8_t v = sig65[64];
    if (v == 0 || v == 1)
        recid = v;
    else if (v == 27 || v == 28)
        recid = v - 27;
    else
        return AK_E_BAD_SIGNATURE;
    secp256k1_ecdsa_recoverable_signature rs;
    /* parse_compact rejects r or s >= n. */
    AK_ENSURE(secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rs, sig65, recid) == 1,
              AK_E_BAD_SIGNATURE);
    secp256k1_ecdsa_signature plain;
    secp256k1_ecdsa_recoverable_signature_convert(ctx, &plain, &rs);
    /* EIP-2: s > n/2 is invalid (signature malleability). normalize() returns 1 when it was high. */
    AK_ENSURE(secp256k1_ecdsa_signature_normalize(ctx, NULL, &plain) == 0, AK_E_BAD_SIGNATURE);
    secp256k1_pubkey pk;
    /* recover fails for r == 0 or s == 0 and when no point has that x. */
    AK_ENSURE(secp256k1_ecdsa_recover(ctx, &pk, &rs, digest) == 1, AK_E_BAD_SIGNATURE);
    size_t n = 65;
    secp256k1_ec_pubkey_serialize(ctx, pub65, &n, &pk, SECP256K1_EC_UNCOMPRESSED);
    return AK_OK;
}

ak_err ak_secp256k1_recover(const uint8_t digest[32], const uint8_t sig65[65], uint8_t addr[20]) {
    uint8_t pub[65];
    AK_GUARD(ak_secp256k1_recover_pub(digest, sig65, pub));
    ak_eth_address_from_pub(pub, addr);
    return AK_OK;
}

ak_err ak_secp256k1_verify_sha256(const uint8_t pub65[65], const void *msg, size_t len,
                                  const uint8_t sig64[64]) {
    const secp256k1_context *ctx = s_k1_ctx();
    AK_ENSURE(ctx != NULL, AK_E_INTERNAL);
    AK_ENSURE(pub65[0] == 0x04, AK_E_BAD_SIGNATURE); /* the parser would also take hybrid 0x06/0x07 */
    secp256k1_pubkey pk;
    AK_ENSURE(secp256k1_ec_pubkey_parse(ctx, &pk, pub65, 65) == 1, AK_E_BAD_SIGNATURE);
    secp256k1_ecdsa_signature sig;
    AK_ENSURE(secp256k1_ecdsa_signature_parse_compact(ctx, &sig, sig64) == 1, AK_E_BAD_SIGNATURE);
    /* Generic ECDSA (Wycheproof, ES256K) accepts high-s; libsecp256k1's verify only takes low-s. */
    secp256k1_ecdsa_signature_normalize(ctx, &sig, &sig);
    uint8_t d[32];
    ak_sha256(msg, len, d);
    AK_ENSURE(secp256k1_ecdsa_verify(ctx, &sig, d, &pk) == 1, AK_E_BAD_SIGNATURE);
    return AK_OK;
}

void ak_eip191_hash(const void *msg, size_t len, uint8_t out[32]) {
    /* EIP-191 version 0x45: "\x19Ethereum Signed Message:\n" || decimal(len) || msg. */
    static const char prefix[] = "\x19"
                                 "Ethereum Signed Message:\n";
    char dec[24];
    size_t n = 0;
    size_t v = len;
    do {
        dec[sizeof(dec) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ak_keccak_ctx c;
    ak_keccak256_init(&c);
    ak_keccak256_update(&c, prefix, sizeof(prefix) - 1);
    ak_keccak256_update(&c, dec + sizeof(dec) - n, n);
    ak_keccak256_update(&c, msg, len);
    ak_keccak256_final(&c, out);
}

void ak_eth_address_hex(const uint8_t addr[20], char out[43]) {
    out[0] = '0';
    out[1] = 'x';
    ak_hex_encode(addr, 20, out + 2);
}

void ak_eth_address_eip55(const uint8_t addr[20], char out[43]) {
    /* EIP-55: keccak256 of the 40 lowercase hex characters; a letter is upper case when the
     * matching nibble of the hash is >= 8. */
    ak_eth_address_hex(addr, out);
    uint8_t h[32];
    ak_keccak256(out + 2, 40, h);
    for (size_t i = 0; i < 40; i++) {
        char c = out[2 + i];
        unsigned nib = (i % 2 == 0) ? (unsigned)(h[i / 2] >> 4) : (unsigned)(h[i / 2] & 0x0f);
        if (c >= 'a' && c <= 'f' && nib >= 8) out[2 + i] = (char)(c - 'a' + 'A');
    }
}

bool ak_eth_address_is_eip55(ak_cur text) {
    uint8_t a[20];
    char want[43];
    if (ak_eth_address_parse(text, a) != AK_OK) return false;
    ak_eth_address_eip55(a, want);
    return memcmp(text.ptr, want, 42) == 0;
}

ak_err ak_eth_address_parse(ak_cur text, uint8_t addr[20]) {
    AK_ENSURE(text.len == 42 && text.ptr[0] == '0' && text.ptr[1] == 'x', AK_E_INVALID_ADDRESS);
    AK_ENSURE(ak_hex_decode_exact(ak_cur_from(text.ptr + 2, 40), false, addr, 20) == AK_OK,
              AK_E_INVALID_ADDRESS);
    return AK_OK;
}
