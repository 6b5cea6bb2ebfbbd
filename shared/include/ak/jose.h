/*
 * ak/jose.h — compact JWS with ES256 only (RFC 7515, RFC 7518 §3.4), JWT claim checks (RFC 7519),
 * P-256 JWK / JWKS (RFC 7517, RFC 7518 §6.2) and JWK thumbprints (RFC 7638).
 *
 * Decision D4: session JWT, OIDC JWT and cap token are compact JWS, ES256 over
 * b64url(header) "." b64url(payload), each with its own key and `kid`; `typ` is "JWT" or
 * "ak-cap+jwt". Any standard JOSE library must verify our tokens (tests/e2e/jose_interop_test.sh
 * checks npm `jose`).
 *
 * Verification is deliberately narrow: `alg` must be exactly "ES256" (no "none", no HS256 key
 * confusion), a `crit` header is refused (we implement no extensions), keys embedded in the
 * header (`jwk`, `jku`, `x5c`, `x5u`) are never used, base64url must be canonical (no padding, no
 * stray bits), the signature must be exactly 64 bytes (raw r||s, not DER), and the payload must be
 * a JSON object. Every failure of parse or signature is AK_E_TOKEN_INVALID; claim failures are
 * AK_E_TOKEN_EXPIRED (exp) or AK_E_TOKEN_CLAIMS (everything else). Callers that need other
 * reasons (caps: broker_sig_invalid, cap_freshness_failed) map them.
 *
 * Signing goes through a callback so the broker can have the signer enclave sign (D5); a local-key
 * callback is provided for tests and tools.
 */
#ifndef AK_JOSE_H
#define AK_JOSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"

#define AK_JWK_KID_MAX 128u /* longest kid we accept or issue */
#define AK_JWKS_MAX_KEYS 8u /* current + previous during rotation, with room */

/* ---- signing ---- */

/* Signs `signing_input` (the ASCII b64url(header) "." b64url(payload)) with ES256: ECDSA P-256
 * over SHA-256(signing_input), raw r||s into sig64. Returns AK_OK or an error to pass up. */
typedef ak_err (*ak_jws_sign_fn)(void *user, const uint8_t *signing_input, size_t len, uint8_t sig64[64]);

/* The local-key callback: `user` points to a 32-byte P-256 private scalar (const uint8_t[32]). */
AK_MUST ak_err ak_jws_sign_local(void *user, const uint8_t *signing_input, size_t len, uint8_t sig64[64]);

/* Builds header {"alg":"ES256","typ":typ,"kid":kid} (typ/kid omitted when NULL), signs
 * header.payload with `sign`, and appends the compact JWS to `out`. `payload` is used as is
 * (for a JWT, the compact JSON of the claims). */
AK_MUST ak_err ak_jws_sign_es256(const char *kid, const char *typ, ak_cur payload, ak_jws_sign_fn sign,
                                 void *user, ak_buf *out);
/* Same with a JSON object payload, serialised compactly in insertion order. */
AK_MUST ak_err ak_jwt_sign_es256(const char *kid, const char *typ, const json_t *claims, ak_jws_sign_fn sign,
                                 void *user, ak_buf *out);

/* ---- parsing and verification ---- */

typedef struct ak_jws {
    ak_cur signing_input; /* points into the token passed to ak_jws_parse */
    uint8_t sig[64];      /* raw r||s */
    json_t *header;       /* owned */
    json_t *claims;       /* owned; the payload, a JSON object */
    ak_cur kid;           /* into header; len 0 when absent */
    ak_cur typ;           /* into header; len 0 when absent */
    bool has_kid, has_typ;
} ak_jws;

/* Splits and decodes a compact JWS of at most AK_MAX_JWS bytes; checks the header as described
 * above. On success the caller must ak_jws_free(); on failure nothing is left to free.
 * Does NOT verify the signature. */
AK_MUST ak_err ak_jws_parse(ak_cur token, ak_jws *out);
void ak_jws_free(ak_jws *jws); /* idempotent; safe on a zeroed struct */

/* Signature check against one P-256 public key (0x04||X||Y). AK_E_TOKEN_INVALID on mismatch. */
AK_MUST ak_err ak_jws_verify_p256(const ak_jws *jws, const uint8_t pub65[65]);

typedef struct ak_jwk_p256 {
    uint8_t pub65[65];
    char kid[AK_JWK_KID_MAX + 1]; /* "" when none */
    const char *x5c;              /* optional, borrowed: standard base64 DER certificate, for output only */
} ak_jwk_p256;

typedef struct ak_jwks {
    ak_jwk_p256 keys[AK_JWKS_MAX_KEYS];
    size_t n;
} ak_jwks;

/* Selects the key whose kid equals the token's kid and verifies. A token without a kid, or with a
 * kid not in the set, is AK_E_TOKEN_INVALID: with rotation there is never a "default" key. */
AK_MUST ak_err ak_jws_verify_jwks(const ak_jws *jws, const ak_jwks *jwks);

/* ---- JWT claims (RFC 7519 §4.1) ---- */

typedef struct ak_jwt_expect {
    uint64_t now;     /* seconds since the epoch */
    uint64_t skew;    /* leeway in seconds applied to exp, nbf, iat */
    const char *typ;  /* header typ must equal this exactly; NULL: not checked */
    const char *iss;  /* iss must equal this; NULL: not checked */
    const char *aud;  /* aud (string, or array of strings) must contain this; NULL: not checked */
    bool require_exp; /* exp must be present */
    uint64_t max_age; /* when > 0: iat required and now - iat <= max_age + skew */
} ak_jwt_expect;

/* exp/nbf/iat must be non-negative JSON integers when present. exp: now < exp + skew, else
 * AK_E_TOKEN_EXPIRED; nbf: nbf <= now + skew; iat: iat <= now + skew. Other failures
 * AK_E_TOKEN_CLAIMS. */
AK_MUST ak_err ak_jwt_check_claims(const ak_jws *jws, const ak_jwt_expect *expect);

/* parse + ak_jws_verify_jwks + ak_jwt_check_claims. On success *out holds the parsed token
 * (caller frees); on failure nothing is left to free. */
AK_MUST ak_err ak_jwt_verify(ak_cur token, const ak_jwks *jwks, const ak_jwt_expect *expect, ak_jws *out);

/* ---- JWK / JWKS ---- */

/* Reads one P-256 public JWK: kty "EC", crv "P-256", x and y 32 bytes each in canonical
 * base64url, the point on the curve; `kid` optional (<= AK_JWK_KID_MAX); `use`, if present,
 * "sig"; `alg`, if present, "ES256"; `key_ops`, if present, an array of unique strings that
 * includes "verify" (RFC 7517 §4.3: every key read here verifies signatures); a private member
 * `d` is refused (a public key set must never carry one). AK_E_BAD_KEY otherwise. */
AK_MUST ak_err ak_jwk_p256_from_json(const json_t *jwk, ak_jwk_p256 *out);
/* {"kty":"EC","crv":"P-256","x":…,"y":…,"kid":…,"use":"sig","alg":"ES256"[,"x5c":[…]]} */
AK_MUST ak_err ak_jwk_p256_to_json(const ak_jwk_p256 *key, json_t **out);

/* Parses {"keys":[…]}: P-256 keys are read (a malformed one is an error), keys of other types
 * (RSA, OKP, other curves) are skipped, more than AK_JWKS_MAX_KEYS P-256 keys is AK_E_LIMIT. */
AK_MUST ak_err ak_jwks_parse(ak_cur text, ak_jwks *out);
/* Appends {"keys":[…]} (compact). */
AK_MUST ak_err ak_jwks_dump(const ak_jwks *jwks, ak_buf *out);

/* RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, no
 * whitespace: EC {"crv","kty","x","y"}, RSA {"e","kty","n"}, OKP {"crv","kty","x"}.
 * AK_E_BAD_KEY when a required member is missing or not a string, or kty is unknown. */
AK_MUST ak_err ak_jwk_thumbprint(const json_t *jwk, uint8_t out[32]);
/* Same for a P-256 public key, and its base64url text form (43 chars + NUL), e.g. as a kid. */
AK_MUST ak_err ak_jwk_p256_thumbprint(const uint8_t pub65[65], uint8_t out[32]);
AK_MUST ak_err ak_jwk_p256_thumbprint_b64(const uint8_t pub65[65], char out[44]);

#endif
