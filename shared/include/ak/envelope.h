/*
 * ak/envelope.h — the stored-secret envelope, version 0x04 (decisions D8). Pure: the caller
 * brings the KEK (from the signer, D6) and does the S3 I/O.
 *
 * Layout (big-endian epoch; overhead 33 bytes):
 *
 *   offset 0   1 byte    version 0x04
 *   offset 1   4 bytes   k3_epoch, u32 big-endian
 *   offset 5   12 bytes  AES-GCM nonce, fresh from ak_random for every seal
 *   offset 17  n bytes   AES-256-GCM ciphertext (n = plaintext length, 0..AK_MAX_PLAINTEXT)
 *   offset 17+n 16 bytes GCM tag
 *
 * AAD (ASCII, no trailing NUL, D8):
 *   agentkeys.env.v4|<data_class>|<operator_hex>|<actor_hex>|<service>|<epoch decimal>
 * where operator_hex/actor_hex are the bare lowercase 64-hex omni ids (no "0x"), data_class is
 * ak_data_class_str(), service is the D3-validated service name (for the memory class: the
 * namespace), and the epoch is the same value as the header's, in decimal without leading
 * zeros. So a blob opens only for the class, operator, actor, service and epoch it was sealed
 * for; moving it to another key, actor or bucket, or editing its epoch byte, fails the tag.
 *
 * Lazy re-key (D8): a worker calls ak_envelope_peek_epoch() on the fetched blob, asks the
 * signer for that epoch's KEK, opens with it, and if the epoch is older than the current one,
 * seals again under the current epoch's KEK and writes the new blob back before answering.
 *
 * Errors: short input (< 33 bytes) → AK_E_ENVELOPE_TRUNCATED; version byte other than 0x04
 * (the legacy 0x01–0x03 included; D8 says they are not read) → AK_E_ENVELOPE_VERSION; tag
 * failure, or a KEK given for another epoch than the blob's → AK_E_DECRYPT_FAILED with no
 * plaintext returned; ciphertext longer than AK_MAX_PLAINTEXT → AK_E_TOO_LARGE.
 * Checks run in that order (truncation before version), so an empty object is "truncated".
 */
#ifndef AK_ENVELOPE_H
#define AK_ENVELOPE_H

#include <stdint.h>

#include "ak/bytes.h"
#include "ak/identity.h"

#define AK_ENV_VERSION 0x04u
/* 0x05: a credential with its use policy (D19, docs/spec/use-policy.md): the 0x04 layout, AAD
 * prefix "agentkeys.env.v5|" instead of "agentkeys.env.v4|", and a plaintext framed by
 * ak_use_frame (ak/usepolicy.h). Only the *_version / ak_envelope_peek functions below accept
 * it; the 0x04 functions keep refusing it with AK_E_ENVELOPE_VERSION. */
#define AK_ENV_VERSION_POLICY 0x05u
#define AK_ENV_HEADER_LEN 17u /* version + epoch + nonce */
#define AK_ENV_TAG_LEN 16u
#define AK_ENV_OVERHEAD (AK_ENV_HEADER_LEN + AK_ENV_TAG_LEN) /* 33 */
/* Largest AAD: prefix 16 + class 11 + 64 + 64 + service 64 + epoch 10 + 5 separators. */
#define AK_ENV_MAX_AAD 256u

/* What a blob is bound to (everything in the AAD except the epoch, which the blob carries). */
typedef struct ak_env_binding {
    ak_data_class data_class;
    ak_omni operator_omni;
    ak_omni actor_omni;
    ak_cur service; /* service name or memory namespace, D3 grammar */
} ak_env_binding;

/* Appends the AAD for (binding, epoch) to `out`. Returns AK_E_INVALID_SERVICE (or
 * AK_E_INVALID_NAMESPACE for memory) when the name fails D3, AK_E_LIMIT/AK_E_NOMEM from `out`. */
AK_MUST ak_err ak_envelope_aad(const ak_env_binding *b, uint32_t epoch, ak_buf *out);

/* Seals `plaintext` under `kek` (the KEK of `epoch`) and appends the whole blob to `out`.
 * Returns AK_E_TOO_LARGE above AK_MAX_PLAINTEXT, name errors as above, AK_E_INTERNAL if the
 * CSPRNG fails, AK_E_LIMIT/AK_E_NOMEM from `out`. On failure `out` is as it was. */
AK_MUST ak_err ak_envelope_seal(const uint8_t kek[32], uint32_t epoch, const ak_env_binding *b,
                                ak_cur plaintext, ak_buf *out);

/* Reads the epoch of a blob without decrypting: checks length and version only (the epoch is
 * not authenticated until ak_envelope_open succeeds). Errors: TRUNCATED, VERSION. */
AK_MUST ak_err ak_envelope_peek_epoch(ak_cur blob, uint32_t *epoch);

/* Opens a blob. `kek` must be the KEK of `kek_epoch`; a blob of another epoch fails with
 * AK_E_DECRYPT_FAILED (peek first). `out` must be a secret buffer (ak_buf_init_secret: it is
 * wiped on growth and free; misuse aborts); the plaintext is appended. On any failure `out`
 * is as it was and no plaintext byte is left in memory we own. */
AK_MUST ak_err ak_envelope_open(const uint8_t kek[32], uint32_t kek_epoch, const ak_env_binding *b,
                                ak_cur blob, ak_buf *out);

/* ---- 0x05 (use policy) aware variants ---- */

/* ak_envelope_seal with the version byte given: AK_ENV_VERSION or AK_ENV_VERSION_POLICY
 * (anything else aborts). The caller frames the plaintext for 0x05. */
AK_MUST ak_err ak_envelope_seal_version(const uint8_t kek[32], uint32_t epoch, uint8_t version,
                                        const ak_env_binding *b, ak_cur plaintext, ak_buf *out);
/* ak_envelope_peek_epoch that also accepts 0x05 and returns the version byte. */
AK_MUST ak_err ak_envelope_peek(ak_cur blob, uint32_t *epoch, uint8_t *version);
/* ak_envelope_open that also accepts 0x05 (AAD of that version) and returns the version. */
AK_MUST ak_err ak_envelope_open_version(const uint8_t kek[32], uint32_t kek_epoch, const ak_env_binding *b,
                                        ak_cur blob, ak_buf *out, uint8_t *version);

#endif
