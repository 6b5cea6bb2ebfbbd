/*
 * ak/cap.h — capability tokens (decisions D4, D10, D11, D17; caps.md §2, §4, §6, §7). Pure: the
 * broker does the chain reads and the signer call, the worker does the chain checks.
 *
 * Token: a compact JWS (ak/jose.h), header {"alg":"ES256","typ":"ak-cap+jwt","kid":<cap key>},
 * signed by the signer's cap key (D5), payload = these claims, in this order:
 *
 *   operator_omni    "0x" + 64 lowercase hex
 *   actor_omni       "0x" + 64 lowercase hex
 *   service          D3 name (for the memory class: the namespace)
 *   op               "store" | "fetch" | "teardown" | "use"  (ak/identity.h route table)
 *   data_class       "credentials" | "memory"               (from the route, never the body)
 *   device_key_hash  "0x" + 64 lowercase hex (the K10 that signed the PoP)
 *   k3_epoch         integer, the chain's current epoch at mint (u32: it goes into envelopes)
 *   issued_at        integer seconds
 *   expires_at       integer seconds = issued_at + ttl, ttl default 300, clamped to [60, 1800]
 *   nonce            32 lowercase hex (16 random bytes; caps.md §6)
 *   jti              32 lowercase hex (16 random bytes; D4)
 *   pop              {"sig":"0x"+130 lowercase hex, "nonce":<client_nonce>, "ts":<client_ts>}
 *
 * No other member is accepted when verifying (the broker is the only issuer). There is no
 * RFC 7519 exp/nbf: D4 lists the claims; "exp/nbf" in D11 are expires_at / issued_at.
 *
 * K10 proof of possession (caps.md §4, identities.md §2):
 *   preimage = "agentkeys-cap-pop:v1:<operator>:<actor>:<svc_hash>:<op>:<data_class>:<client_nonce>:<client_ts>"
 *     operator, actor: 64 lowercase hex, no "0x"
 *     svc_hash: 64 lowercase hex of keccak256(service). DECISION: this stays keccak256 of the
 *       bare service (caps.md §4), not D2's scope id keccak256(class ":" service): the class is
 *       already a separate preimage field, and service is D3-validated lowercase, so no
 *       lowercasing/trimming happens here (a client that signs "OpenRouter" is refused at the
 *       request, it is not silently matched).
 *     op, data_class: ak_op_str / ak_data_class_str
 *     client_nonce: verbatim, 16..64 chars of [0-9A-Za-z_-] (clients send 32 hex chars)
 *     client_ts: decimal, no leading zeros
 *   m = keccak256(preimage); client_sig = EIP-191 personal_sign(K10, m) = r‖s‖v, v ∈ {27,28}
 *   (recovery also accepts 0/1; high s is refused).
 *   Valid iff keccak256(ecrecover(eip191(m), sig)) == device_key_hash and the PoP is fresh:
 *   at - 300 <= client_ts <= at + 60. The broker checks it at at = now. DECISION: the worker
 *   checks it at at = issued_at (the PoP was made for the mint; a cap may live 30 minutes, the
 *   window is 5), and the cap's own freshness comes from expires_at. Every PoP failure is
 *   AK_E_CAP_POP_INVALID.
 *
 * Worker verification order (D11, the token-local part; ak_cap_verify):
 *   1. JWS parse, typ "ak-cap+jwt", signature against the cap key set by kid → AK_E_BROKER_SIG_INVALID
 *   2. claims schema (after a good signature; only a broker bug gets here) → AK_E_TOKEN_CLAIMS,
 *      a service name failing D3 → AK_E_INVALID_SERVICE / AK_E_INVALID_NAMESPACE (D3: 400 at the worker too)
 *   3. freshness: now < expires_at and issued_at <= now + 60 → AK_E_CAP_EXPIRED (cap_freshness_failed)
 *   4. op equals the route's → AK_E_CAP_OP_MISMATCH
 *   5. data_class equals the worker's → AK_E_CAP_DATA_CLASS_MISMATCH
 *   6. PoP (above) → AK_E_CAP_POP_INVALID
 * then the caller does the chain checks (device active/bound/role, scope, epoch) with the
 * returned claims. AK_E_NOMEM passes through unchanged everywhere.
 */
#ifndef AK_CAP_H
#define AK_CAP_H

#include <stdbool.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/identity.h"
#include "ak/jose.h"
#include "ak/limits.h"

#define AK_CAP_TYP "ak-cap+jwt"
#define AK_CAP_TTL_DEFAULT 300u
#define AK_CAP_TTL_MIN 60u
#define AK_CAP_TTL_MAX 1800u
#define AK_CAP_POP_MAX_AGE 300u   /* client_ts may be this far in the past … */
#define AK_CAP_POP_MAX_FUTURE 60u /* … or this far in the future */
#define AK_CAP_ISSUED_SKEW 60u    /* issued_at may be this far ahead of the worker's clock */
#define AK_CAP_NONCE_MIN 16u
#define AK_CAP_NONCE_MAX 64u

/* ---- K10 proof of possession ---- */

typedef struct ak_cap_pop {
    uint8_t sig[65]; /* r‖s‖v */
    char nonce[AK_CAP_NONCE_MAX + 1];
    size_t nonce_len;
    uint64_t ts;
} ak_cap_pop;

/* The fields the PoP signs. */
typedef struct ak_cap_pop_msg {
    ak_omni operator_omni;
    ak_omni actor_omni;
    ak_cur service;
    ak_op op;
    ak_data_class data_class;
    ak_cur client_nonce;
    uint64_t client_ts;
} ak_cap_pop_msg;

/* AK_OK when `nonce` is 16..64 chars of [0-9A-Za-z_-]; AK_E_INVALID_INPUT otherwise. */
AK_MUST ak_err ak_cap_nonce_validate(ak_cur nonce);
/* Appends the preimage text. AK_E_INVALID_SERVICE/_NAMESPACE, AK_E_INVALID_INPUT (nonce). */
AK_MUST ak_err ak_cap_pop_preimage(const ak_cap_pop_msg *msg, ak_buf *out);
/* m = keccak256(preimage). Same errors. */
AK_MUST ak_err ak_cap_pop_digest(const ak_cap_pop_msg *msg, uint8_t m[32]);
/* Client side (CLI, tests): sig65 = EIP-191 sign of m with the K10 secret key. AK_E_BAD_KEY. */
AK_MUST ak_err ak_cap_pop_sign(const uint8_t k10_seckey[32], const ak_cap_pop_msg *msg, uint8_t sig65[65]);
/* Checks freshness at `at` (see top), recovers the signer and compares keccak256(address) with
 * device_key_hash. AK_E_CAP_POP_INVALID for every failure (including a malformed message). */
AK_MUST ak_err ak_cap_pop_verify(const ak_cap_pop_msg *msg, const uint8_t sig65[65],
                                 const uint8_t device_key_hash[32], uint64_t at);

/* ---- the mint request body (caps.md §2, broker side) ---- */

typedef struct ak_cap_request {
    ak_omni operator_omni; /* "0x"+64 or 64 hex, any case */
    ak_omni actor_omni;
    char service[AK_MAX_SERVICE_LEN + 1];
    size_t service_len;
    uint8_t device_key_hash[32];
    uint64_t ttl_seconds; /* already defaulted and clamped (ak_cap_ttl) */
    ak_cap_pop pop;       /* client_sig, client_nonce, client_ts */
} ak_cap_request;

/* Parses {"operator_omni","actor_omni","service","device_key_hash","ttl_seconds"?,
 * "client_sig","client_nonce","client_ts"}; no other member (data_class comes from the route).
 * Errors: AK_E_INVALID_JSON, AK_E_WRONG_TYPE, AK_E_MISSING_FIELD, AK_E_UNKNOWN_FIELD,
 * AK_E_INVALID_OMNI, AK_E_INVALID_SERVICE (D3, never lowercased), AK_E_BAD_HEX
 * (device_key_hash; client_sig not 0x+130 hex), AK_E_INVALID_INPUT (client_nonce), AK_E_NOMEM.
 * The PoP itself is not checked here (that needs the route's op/class: ak_cap_pop_verify). */
AK_MUST ak_err ak_cap_request_parse(ak_cur body, ak_cap_request *out);
/* caps.md §2: absent → 300; else clamped to [60, 1800]. */
uint64_t ak_cap_ttl(bool present, uint64_t ttl_seconds);

/* ---- claims ---- */

typedef struct ak_cap_claims {
    ak_omni operator_omni;
    ak_omni actor_omni;
    char service[AK_MAX_SERVICE_LEN + 1];
    size_t service_len;
    ak_op op;
    ak_data_class data_class;
    uint8_t device_key_hash[32];
    uint32_t k3_epoch;
    uint64_t issued_at;
    uint64_t expires_at;
    char nonce[33];
    char jti[33];
    ak_cap_pop pop;
} ak_cap_claims;

/* The service as a cursor into the claims. */
static inline ak_cur ak_cap_service(const ak_cap_claims *c) {
    return (ak_cur){(const uint8_t *)c->service, c->service_len};
}
/* The PoP message of a cap (what its pop.sig signs). */
void ak_cap_pop_msg_of(const ak_cap_claims *c, ak_cap_pop_msg *msg);

/* Broker: builds the claims of a new cap from a parsed request, the route and the chain's
 * epoch: issued_at = now, expires_at = now + req->ttl_seconds (clamped again; 0 means the
 * default 300), fresh nonce and
 * jti (ak_random). Does not check the PoP or the chain (the broker does that before).
 * Errors: AK_E_INVALID_SERVICE/_NAMESPACE, AK_E_INVALID_INPUT, AK_E_INTERNAL (CSPRNG). */
AK_MUST ak_err ak_cap_claims_new(const ak_cap_request *req, ak_op op, ak_data_class data_class,
                                 uint32_t k3_epoch, uint64_t now, ak_cap_claims *out);
/* The claims as a JSON object in the order above (caller json_decref's). AK_E_NOMEM. */
AK_MUST ak_err ak_cap_claims_to_json(const ak_cap_claims *c, json_t **out);
/* The claims as compact JSON text in the order above, appended to `out` (what ak_cap_sign
 * signs). AK_E_INVALID_INPUT / _SERVICE / _NAMESPACE for claims that could not verify. */
AK_MUST ak_err ak_cap_claims_encode(const ak_cap_claims *c, ak_buf *out);
/* Strict schema read of a claims object (see top; every member required, no others).
 * AK_E_TOKEN_CLAIMS, AK_E_INVALID_SERVICE / _NAMESPACE. */
AK_MUST ak_err ak_cap_claims_from_json(const json_t *claims, ak_cap_claims *out);

/* Broker: signs the claims through `sign` (the signer enclave's cap key, or ak_jws_sign_local
 * in tests) and appends the compact JWS to `out`. Errors from the callback pass through. */
AK_MUST ak_err ak_cap_sign(const ak_cap_claims *c, const char *kid, ak_jws_sign_fn sign, void *user,
                           ak_buf *out);

/* ---- worker verification ---- */

typedef struct ak_cap_expect {
    ak_op op;                 /* the route's op */
    ak_data_class data_class; /* the worker's class */
    uint64_t now;             /* seconds */
} ak_cap_expect;

/* Runs steps 1–6 at the top, in that order, returning the first failure's code. On success
 * *out holds the claims for the chain checks; on failure *out is zeroed. */
AK_MUST ak_err ak_cap_verify(ak_cur token, const ak_jwks *cap_keys, const ak_cap_expect *expect,
                             ak_cap_claims *out);

/*
 * The signature check of step 1 is ~75% of a worker request's instructions (one P-256 verify,
 * issue 19), and an agent presents the same cap on every request until it expires. A cache of
 * verified signatures, per process: the SHA-256 of the whole compact token (header, claims and
 * signature bytes) and the token's exp. A hit means these exact bytes were verified before under
 * a key of the current set, so only the P-256 verify is skipped: parsing, typ, freshness, op,
 * class and the K10 PoP (steps 2–6) and the chain checks still run on every request. The caller
 * clears the cache whenever its key set changes (rotation); expired entries are never hits.
 */
#define AK_CAP_SIG_CACHE_N 64u
typedef struct ak_cap_sig_cache {
    struct {
        uint8_t hash[32];
        uint64_t exp; /* 0 = empty */
    } e[AK_CAP_SIG_CACHE_N];
    size_t next;             /* round-robin replacement */
    uint64_t hits, verifies; /* counters for tests and benchmarks */
} ak_cap_sig_cache;

void ak_cap_sig_cache_clear(ak_cap_sig_cache *cache);
/* ak_cap_verify with the cache (NULL = no cache: exactly ak_cap_verify). */
AK_MUST ak_err ak_cap_verify_cached(ak_cur token, const ak_jwks *cap_keys, const ak_cap_expect *expect,
                                    ak_cap_sig_cache *cache, ak_cap_claims *out);

#endif
