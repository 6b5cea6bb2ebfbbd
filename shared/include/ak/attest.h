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
#include "ak/nitro.h"

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

/* ======================================================================== the two modes
 *
 * Which attestation a client expects is configuration, never the server's choice
 * (AK_SIGNER_ATTESTATION=local|nitro, default local). The signer's /v1/attest reply names its
 * format: {"format":"local"|"nitro","document":"..."} (exactly these members). A reply of the
 * other format is refused with attest_mode_mismatch before anything in it is read.
 *
 *  - local: `document` is the compact JWS above (ak_attest_verify, pinned key + measurement);
 *    any failure is attestation_invalid, `why` names the check.
 *  - nitro: `document` is standard base64 of the raw NSM attestation document (COSE_Sign1,
 *    ak/nitro.h). It binds the channel like the local document does, in the NSM's own fields:
 *      nonce      = the client's challenge (the same 16..64 random bytes);
 *      public_key = the TLS server key as a P-256 SubjectPublicKeyInfo DER (91 bytes,
 *                   ak_attest_tls_spki): the key the client saw in the handshake;
 *      user_data  = "ak-signer-tls/v1" (16 ASCII bytes: what this document is for) followed by
 *                   the 48-byte SHA-384 of the signer executable (ak_attest_nitro_user_data).
 *    The client checks (ak_nitro_verify: one reason per check) the chain to the pinned root
 *    (AK_SIGNER_NITRO_ROOT PEM, default the built-in AWS Root-G1 fingerprint) at the
 *    document's time and now, the signature, the pinned PCRs (PCR0 required; PCR1, 2, 8
 *    optional), nonce, public_key, user_data (the tag always; the measurement when
 *    AK_SIGNER_MEASUREMENT is set) and |now - timestamp| <= max age. Its reasons are the
 *    attest_* codes of err.h.
 */
typedef enum { AK_ATTEST_MODE_LOCAL = 0, AK_ATTEST_MODE_NITRO = 1 } ak_attest_mode;

#define AK_ATTEST_NITRO_TAG "ak-signer-tls/v1" /* 16 bytes */
#define AK_ATTEST_NITRO_TAG_LEN 16u
#define AK_ATTEST_NITRO_USER_DATA_LEN (AK_ATTEST_NITRO_TAG_LEN + 48u)
#define AK_ATTEST_TLS_SPKI_LEN 91u
/* The pinnable PCRs, in this order: AK_SIGNER_PCR0, _PCR1, _PCR2, _PCR8 (48 bytes each). */
#define AK_ATTEST_PCR_SLOTS 4u
/* A /v1/attest reply: base64 of the largest document plus the JSON around it. */
#define AK_ATTEST_MAX_REPLY (4u * (AK_NITRO_MAX_DOC / 3u + 1u) + 256u)

extern const unsigned AK_ATTEST_PCR_INDEX[AK_ATTEST_PCR_SLOTS]; /* {0, 1, 2, 8} */

/* The NSM public_key binding: P-256 SubjectPublicKeyInfo (RFC 5480) of an uncompressed point. */
void ak_attest_tls_spki(const uint8_t pub65[65], uint8_t out[AK_ATTEST_TLS_SPKI_LEN]);
/* The NSM user_data binding: AK_ATTEST_NITRO_TAG ‖ measurement. */
void ak_attest_nitro_user_data(const uint8_t measurement[48], uint8_t out[AK_ATTEST_NITRO_USER_DATA_LEN]);

/* The settings a client pins (strings as they come from the environment; NULL = unset). */
typedef struct ak_attest_settings {
    const char *mode;                         /* "local" (NULL or "" too) or "nitro" */
    const char *attest_pub;                   /* local: required (ak_attest_parse_pub) */
    const char *measurement_hex;              /* local: required; nitro: optional; 96 hex */
    const char *pcr_hex[AK_ATTEST_PCR_SLOTS]; /* nitro: PCR0 required, others optional; 96 hex */
    const char *nitro_root;                   /* nitro: optional path of the root PEM */
} ak_attest_settings;

/* What the client checks against, parsed once. */
typedef struct ak_attest_pins {
    ak_attest_mode mode;
    uint8_t attest_pub[65]; /* local */
    bool have_measurement;  /* local: always */
    uint8_t measurement[48];
    size_t root_len; /* nitro: 0 = the built-in Root-G1 fingerprint */
    uint8_t root_der[AK_NITRO_MAX_CERT];
    size_t n_pcrs;
    unsigned pcr_index[AK_ATTEST_PCR_SLOTS];
    uint8_t pcr_value[AK_ATTEST_PCR_SLOTS][48];
} ak_attest_pins;

/* Parses the settings. AK_E_CONFIG (logged with the setting's name, never a value) when a
 * required one is missing or one is malformed: an unknown mode, a PCR that is not 96 hex, an
 * all-zero PCR0 (a debug-mode enclave: anyone can start one), a root file that is not one PEM
 * certificate. Settings of the other mode are ignored. */
AK_MUST ak_err ak_attest_pins_parse(const ak_attest_settings *s, ak_attest_pins *out);

/* One challenge: what this client sent and saw. */
typedef struct ak_attest_challenge {
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *tls_pub; /* 65 bytes: the server key of the handshake */
    int64_t now_ms;
    int64_t max_age_ms; /* 0 -> AK_ATTEST_DEFAULT_MAX_AGE_MS */
} ak_attest_challenge;

/* Verifies a /v1/attest reply body against the pins and the challenge (rules above).
 * Local: AK_E_ATTESTATION_INVALID (why: the check). Nitro: the attest_* reason (why: its code).
 * Either: attest_mode_mismatch for a reply of the other format; attestation_invalid for a reply
 * that is not {"format","document"} JSON. */
AK_MUST ak_err ak_attest_reply_verify(ak_cur reply, const ak_attest_pins *p, const ak_attest_challenge *ch,
                                      const char **why);

/* Verifies a raw NSM document (nitro mode, after base64): ak_nitro_verify with the policy
 * above. `out` (optional) gets the facts (views into `doc`). */
AK_MUST ak_err ak_attest_nitro_verify(ak_cur doc, const ak_attest_pins *p, const ak_attest_challenge *ch,
                                      ak_nitro_facts *out);

#endif
