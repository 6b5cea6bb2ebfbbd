/*
 * ak/attest.h — the signer's attestation document: built inside the enclave, verified by every
 * caller before the first secret crosses (issue 5 §5, DESIGN §2 layer 5).
 *
 * Format ("Nitro-style", JSON rather than Nitro's COSE/CBOR): a compact JWS, ES256, header
 * {"alg":"ES256","typ":"ak-attest+jwt"}, payload
 *
 *     {"v":1,"module":"ak-signer","measurement":"<96 hex: SHA-384 of the signer executable>",
 *      "tls_pub":"<base64url of the 65-byte P-256 point of the signer's TLS server key>",
 *      "nonce":"<base64url of the caller's nonce>","timestamp":<Unix ms>}
 *
 * signed by the attestation key (local: the dev PKI's attest.key; Nitro: the NSM, behind the
 * enclave's aks_attester interface). A verifier pins the attestation public key and the expected
 * measurement, sends a fresh random nonce, and accepts the document only when
 *   - the signature verifies under the pinned key and the header is exactly ES256/ak-attest+jwt,
 *   - measurement equals the expected one (constant-time compare),
 *   - nonce equals the one it sent (so a recorded document cannot be replayed),
 *   - |now - timestamp| <= max_age_ms (a document is also stale by age),
 *   - tls_pub equals the public key of the TLS server it is talking to (binds the document to
 *     this channel: a different server with a CA-issued certificate cannot reuse it).
 * Any failure is AK_E_ATTESTATION_INVALID; the verifier does not say which check failed to the
 * network, but ak_attest_verify's `why` (optional) names it for logs and tests.
 */
#ifndef AK_ATTEST_H
#define AK_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"

#define AK_ATTEST_MAX_DOC 4096u
#define AK_ATTEST_NONCE_MIN 16u
#define AK_ATTEST_NONCE_MAX 64u
#define AK_ATTEST_DEFAULT_MAX_AGE_MS 60000
#define AK_ATTEST_MODULE "ak-signer"

typedef struct ak_attest_claims {
    uint8_t measurement[48];
    uint8_t tls_pub[65];
    uint8_t nonce[AK_ATTEST_NONCE_MAX];
    size_t nonce_len;
    int64_t timestamp_ms;
} ak_attest_claims;

/* Signs SHA-256(msg) with the attestation key, raw r‖s. */
typedef ak_err (*ak_attest_sign_fn)(void *ctx, ak_cur msg, uint8_t sig64[64]);

/* Builds the compact JWS for `c` (enclave side). */
AK_MUST ak_err ak_attest_build(const ak_attest_claims *c, ak_attest_sign_fn sign, void *ctx, ak_buf *doc);

typedef struct ak_attest_expect {
    const uint8_t *attest_pub;  /* 65 bytes, pinned */
    const uint8_t *measurement; /* 48 bytes */
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *tls_pub; /* 65 bytes: the TLS server key seen in the handshake; NULL skips (tests only) */
    int64_t now_ms;
    int64_t max_age_ms; /* 0 -> AK_ATTEST_DEFAULT_MAX_AGE_MS */
} ak_attest_expect;

/* Verifies as described above. `out` (optional) gets the claims; `why` (optional) a static
 * string naming the failed check ("signature", "measurement", "nonce", "stale", "tls_pub",
 * "format"). */
AK_MUST ak_err ak_attest_verify(ak_cur doc, const ak_attest_expect *exp, ak_attest_claims *out,
                                const char **why);

/* Parses the pinned-key setting: 130 hex characters of an uncompressed point, or a path to a PEM
 * "PUBLIC KEY" file. AK_E_CONFIG when neither. */
AK_MUST ak_err ak_attest_parse_pub(const char *setting, uint8_t pub65[65]);

#endif
