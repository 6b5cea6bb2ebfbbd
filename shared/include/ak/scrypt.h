/*
 * ak/scrypt.h — password-based key derivation: PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) and scrypt
 * (RFC 7914), for the Ethereum keystore v3 format (ak/keystore.h).
 *
 * PBKDF2 runs on BearSSL's HMAC-SHA256; scrypt is PBKDF2 + our own Salsa20/8 core, BlockMix
 * and ROMix (RFC 7914 §3-§6). Parameters come from files other people wrote, so both refuse
 * anything outside the maxima below with AK_E_KDF_PARAMS before allocating or computing
 * anything: a hostile keystore cannot make us allocate gigabytes or spin for hours.
 *
 * scrypt's memory (128*r*N + 256*r + 128*r*p bytes) comes from ak_malloc and is wiped before
 * it is freed. ROMix reads V at an index derived from the password (that is what makes scrypt
 * memory-hard), so its cache footprint depends on secret data: inherent to scrypt, acceptable
 * for a local key file, and the reason this is not used on a server.
 */
#ifndef AK_SCRYPT_H
#define AK_SCRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "ak/err.h"

/* Maxima (inclusive). geth's standard keystore (N=2^18, r=8, p=1) uses 256 MiB and N*r*p =
 * 2^21; the Web3 Secret Storage test vector (N=2^18, r=1, p=8) 32 MiB and 2^21. We allow 2x
 * the memory and 8x the work of those, no more. */
#define AK_SCRYPT_MAX_N (1u << 20)
#define AK_SCRYPT_MAX_R 32u
#define AK_SCRYPT_MAX_P 16u
#define AK_SCRYPT_MAX_MEM (512u << 20) /* 128 * r * N bytes */
#define AK_SCRYPT_MAX_WORK (1u << 24)  /* N * r * p */
#define AK_PBKDF2_MAX_ITER (1u << 24)  /* 64x geth's 262144 */
#define AK_KDF_MAX_OUT (1u << 20)      /* derived-key length ceiling for both */
#define AK_KDF_MAX_INPUT (64u * 1024u) /* password and salt length ceiling for both */

/*
 * PBKDF2-HMAC-SHA256(password, salt, iter) -> out[out_len].
 * Returns AK_E_KDF_PARAMS when iter is 0 or above AK_PBKDF2_MAX_ITER, out_len is 0 or above
 * AK_KDF_MAX_OUT, or an input is longer than AK_KDF_MAX_INPUT. Empty password or salt allowed.
 */
AK_MUST ak_err ak_pbkdf2_sha256(const void *pw, size_t pw_len, const void *salt, size_t salt_len,
                                uint64_t iter, uint8_t *out, size_t out_len);

/* Checks scrypt parameters against RFC 7914 §2 (N > 1 and a power of 2, r >= 1, p >= 1) and
 * the maxima above. AK_OK or AK_E_KDF_PARAMS. */
AK_MUST ak_err ak_scrypt_check(uint64_t n, uint64_t r, uint64_t p);

/*
 * scrypt(password, salt, N, r, p) -> out[out_len] (RFC 7914 §6).
 * Returns AK_E_KDF_PARAMS as ak_scrypt_check and ak_pbkdf2_sha256 do, AK_E_NOMEM when the
 * working memory cannot be allocated. On error `out` is zeroed.
 */
AK_MUST ak_err ak_scrypt(const void *pw, size_t pw_len, const void *salt, size_t salt_len, uint64_t n,
                         uint64_t r, uint64_t p, uint8_t *out, size_t out_len);

/* The RFC 7914 building blocks, exposed for their known-answer tests (§8, §9, §10).
 * salsa: in and out are 64 bytes and may alias. blockmix: in/out are 128*r bytes, distinct.
 * romix: b is 128*r bytes, rewritten in place; scratch needs ak_scrypt_romix_scratch(n, r) bytes. */
void ak_salsa20_8(const uint8_t in[64], uint8_t out[64]);
void ak_scrypt_blockmix(const uint8_t *in, uint8_t *out, uint32_t r);
size_t ak_scrypt_romix_scratch(uint64_t n, uint32_t r);
void ak_scrypt_romix(uint8_t *b, uint32_t r, uint64_t n, void *scratch);

#endif
