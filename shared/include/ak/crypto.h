/*
 * ak/crypto.h — the cryptographic primitives agentkeys uses, over BearSSL and libsecp256k1.
 *
 * Contexts are caller-allocated; nothing here allocates except where an ak_buf is passed.
 * Secrets passed in are not retained; outputs that are secrets are the caller's to wipe
 * (ak_wipe). All verification functions return AK_OK only on success and never branch on
 * secret data (tag and MAC checks are constant time).
 */
#ifndef AK_CRYPTO_H
#define AK_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"

/* ---- hashes and MACs (BearSSL) ---- */
void ak_sha256(const void *data, size_t len, uint8_t out[32]);
void ak_sha384(const void *data, size_t len, uint8_t out[48]);
void ak_sha1(const void *data, size_t len, uint8_t out[20]); /* for x5t / OIDC thumbprints only */
typedef struct ak_sha256_ctx {
    uint64_t opaque[16];
} ak_sha256_ctx; /* large enough for br_sha256_context */
void ak_sha256_init(ak_sha256_ctx *c);
void ak_sha256_update(ak_sha256_ctx *c, const void *data, size_t len);
void ak_sha256_final(ak_sha256_ctx *c, uint8_t out[32]);
void ak_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[32]);
/* HKDF-SHA256 (RFC 5869). Returns AK_E_LIMIT if out_len > 255*32. */
AK_MUST ak_err ak_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
                              const void *info, size_t info_len, uint8_t *out, size_t out_len);

/* ---- Keccak-256 (Ethereum's, original padding 0x01; ours, small) ---- */
typedef struct ak_keccak_ctx {
    uint64_t st[25];
    size_t pos;
} ak_keccak_ctx;
void ak_keccak256_init(ak_keccak_ctx *c);
void ak_keccak256_update(ak_keccak_ctx *c, const void *data, size_t len);
void ak_keccak256_final(ak_keccak_ctx *c, uint8_t out[32]);
void ak_keccak256(const void *data, size_t len, uint8_t out[32]);

/* ---- CSPRNG (getrandom) ---- */
AK_MUST ak_err ak_random(void *out, size_t len);

/* ---- AES-256-GCM (BearSSL br_gcm; AES-NI + PCLMUL when the CPU has them, else the
 * constant-time ct64 AES and ctmul64 GHASH; chosen once per process) ---- */
/* Seals in place: buf holds plaintext of `len` bytes, becomes ciphertext; tag written to `tag`.
 * The nonce is always 96 bits (the only size we generate; see D8). */
void ak_aes256gcm_seal(const uint8_t key[32], const uint8_t nonce[12], const void *aad, size_t aad_len,
                       uint8_t *buf, size_t len, uint8_t tag[16]);
/* Opens in place; AK_E_DECRYPT_FAILED (and buf wiped) when the tag does not verify.
 * nonce_len: any length >= 1 (GCM's GHASH-derived J0 for lengths other than 12; length 0 is
 * forbidden by SP 800-38D and rejected). tag_len must be 16 (no truncated tags). */
AK_MUST ak_err ak_aes256gcm_open(const uint8_t key[32], const uint8_t *nonce, size_t nonce_len,
                                 const void *aad, size_t aad_len, uint8_t *buf, size_t len,
                                 const uint8_t *tag, size_t tag_len);

/* ---- secp256k1 (libsecp256k1 0.2.0; one static preallocated context, created and randomised
 * once per process at first use; no heap) ----
 * Functions needing the context return AK_E_INTERNAL if it could not be set up (getrandom failed). */
/* Address = last 20 bytes of keccak256(uncompressed pubkey without the 0x04 prefix). */
AK_MUST ak_err ak_secp256k1_pubkey(const uint8_t seckey[32],
                                   uint8_t pub65[65]); /* AK_E_BAD_KEY if 0 or >= n */
void ak_eth_address_from_pub(const uint8_t pub65[65], uint8_t addr[20]);
/* RFC 6979 deterministic signature over a 32-byte digest, low-s; out is r||s||v with v in {27,28}. */
AK_MUST ak_err ak_secp256k1_sign(const uint8_t seckey[32], const uint8_t digest[32], uint8_t sig65[65]);
/* Recovers the signer's address. Accepts v in {0,1,27,28}; rejects high-s (EIP-2), r or s zero or
 * >= n, and any other v, with AK_E_BAD_SIGNATURE. */
AK_MUST ak_err ak_secp256k1_recover(const uint8_t digest[32], const uint8_t sig65[65], uint8_t addr[20]);
/* Same rules; returns the uncompressed public key instead of the address. */
AK_MUST ak_err ak_secp256k1_recover_pub(const uint8_t digest[32], const uint8_t sig65[65], uint8_t pub65[65]);
/* Plain (generic) ECDSA verify of raw r||s over SHA-256(msg), as Wycheproof and JOSE ES256K define
 * it. Unlike recover, a high-s signature is ACCEPTED: it is normalised to low-s before
 * secp256k1_ecdsa_verify (which alone would reject it), because generic ECDSA treats (r, s) and
 * (r, n-s) as equally valid. pub65 must be 0x04||X||Y (hybrid 0x06/0x07 encodings rejected).
 * AK_E_BAD_SIGNATURE on any failure, including a bad public key. */
AK_MUST ak_err ak_secp256k1_verify_sha256(const uint8_t pub65[65], const void *msg, size_t len,
                                          const uint8_t sig64[64]);
/* EIP-191 personal_sign digest: keccak256("\x19Ethereum Signed Message:\n" + decimal(len) + msg). */
void ak_eip191_hash(const void *msg, size_t len, uint8_t out[32]);
/* "0x" + 40 lowercase hex + NUL (43 bytes). */
void ak_eth_address_hex(const uint8_t addr[20], char out[43]);
/* EIP-55 mixed-case checksum form: "0x" + 40 hex + NUL (43 bytes). */
void ak_eth_address_eip55(const uint8_t addr[20], char out[43]);
/* True when `text` is exactly the EIP-55 form of an address (an all-lowercase or all-uppercase
 * text of an address with letters is not). */
bool ak_eth_address_is_eip55(ak_cur text);
/* Parses "0x" + 40 hex (either case; the checksum is not enforced). AK_E_INVALID_ADDRESS otherwise. */
AK_MUST ak_err ak_eth_address_parse(ak_cur text, uint8_t addr[20]);

/* ---- P-256 ECDSA (BearSSL: br_ec_p256_m31 + br_ecdsa_i31, constant time) ---- */
/* Private key: 32-byte scalar in [1, n-1]. Public key: 65-byte uncompressed point (0x04 || X || Y). */
AK_MUST ak_err ak_p256_keygen(uint8_t priv[32], uint8_t pub65[65]);
AK_MUST ak_err ak_p256_pub_from_priv(const uint8_t priv[32],
                                     uint8_t pub65[65]); /* AK_E_BAD_KEY if out of range */
/* Signs SHA-256(msg) (the ES256 rule); raw r||s, 64 bytes. Deterministic (RFC 6979, BearSSL). */
AK_MUST ak_err ak_p256_sign_sha256(const uint8_t priv[32], const void *msg, size_t len, uint8_t sig64[64]);
/* Same with a precomputed 32-byte digest. */
AK_MUST ak_err ak_p256_sign_digest(const uint8_t priv[32], const uint8_t digest[32], uint8_t sig64[64]);
/* Verifies raw r||s over SHA-256(msg). AK_E_BAD_SIGNATURE on any failure (r or s zero or >= n,
 * public key not a curve point, mismatch). High-s is valid (plain ECDSA, as ES256 and Wycheproof). */
AK_MUST ak_err ak_p256_verify_sha256(const uint8_t pub65[65], const void *msg, size_t len,
                                     const uint8_t sig64[64]);
/* Same with a precomputed 32-byte digest. */
AK_MUST ak_err ak_p256_verify_digest(const uint8_t pub65[65], const uint8_t digest[32],
                                     const uint8_t sig64[64]);
/* DER <-> raw conversions. Input DER must be strict: one SEQUENCE of two minimal, non-negative
 * INTEGERs of at most 32 value bytes, short-form lengths, nothing trailing (AK_E_BAD_SIGNATURE). */
AK_MUST ak_err ak_p256_sig_der_to_raw(ak_cur der, uint8_t sig64[64]);
AK_MUST ak_err ak_p256_sig_raw_to_der(const uint8_t sig64[64], ak_buf *der); /* appends <= 72 bytes */
/* True when the public key is 0x04 || X || Y with X, Y < p and the point on the curve. */
bool ak_p256_pub_valid(const uint8_t pub65[65]);

#endif
