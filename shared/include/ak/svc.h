/*
 * ak/svc.h — the service context every function builds ONCE in its init callback and keeps for
 * the life of the process (STYLE §12: long-lived clients, no per-invocation re-parsing).
 *
 * One ak_svc holds:
 *   - one ak_http client for AWS (S3, STS, Secrets Manager) and the chain RPC (one curl handle,
 *     kept-alive connections; DESIGN §7);
 *   - an ak_s3 over it with the execution role's credentials from the environment;
 *   - an ak_evm_rpc with the contract addresses;
 *   - the ak_signer handle (mTLS + attestation; every signature and KEK comes from it, D5);
 *   - the issuer, the audit bucket, and a per-process cache of the signer's public keys
 *     (session keys verify Bearer tokens; OIDC keys are published at /.well-known/jwks.json).
 *
 * Environment (ak_svc_init; `needs` selects which groups are required, the rest is optional):
 *   AWS_REGION (or AWS_DEFAULT_REGION)       S3/STS/Secrets Manager region        [AK_SVC_S3]
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN   execution role  [AK_SVC_S3]
 *   AK_S3_ENDPOINT                           S3 endpoint override (local Ceph; implies path style)
 *   AK_CHAIN_RPC_URL, AK_CHAIN_ID            JSON-RPC endpoint and chain id       [AK_SVC_CHAIN]
 *   AK_REGISTRY_ADDRESS, AK_SCOPE_ADDRESS, AK_EPOCH_ADDRESS   contracts (0x+40 hex) [AK_SVC_CHAIN]
 *   AK_SIGNER_URL, AK_SIGNER_CA_PEM, AK_SIGNER_ATTEST_PUB, AK_SIGNER_MEASUREMENT,
 *   AK_SIGNER_SERVER_NAME?, AK_SIGNER_TIMEOUT_MS?  see ak/signer.h                 [AK_SVC_SIGNER]
 *       AK_SIGNER_CA_PEM may be a file path or the PEM text itself (template.yaml passes the
 *       text); text is written to a private temporary file for ak_signer_new and removed.
 *       Required in local mode; optional with AK_SIGNER_ATTESTATION=nitro (RA-TLS: the signer's
 *       TLS key is authenticated by its NSM document; ak/pki.h).
 *   client identity for the signer, one of:
 *       AK_SIGNER_CLIENT_CERT + AK_SIGNER_CLIENT_KEY   PEM file paths (local stack)
 *       AK_SIGNER_CLIENT_SECRET_ARN                    Secrets Manager secret (AWS): its
 *           SecretString is either {"cert_pem":"…","key_pem":"…"} or one PEM text holding the
 *           certificate chain and the private key. Fetched once at init with GetSecretValue
 *           (SigV4, JSON 1.1 protocol), handed to ak_signer_new through 0600 temporary files
 *           that are wiped and unlinked right after; the key never reaches a log line.
 *       The paths win when both are set.
 *   AK_ISSUER                                https URL, no trailing '/'             [AK_SVC_ISSUER]
 *   AK_AUDIT_BUCKET                          audit bucket (D12)                     [AK_SVC_AUDIT]
 *   AK_DEADLINE_MARGIN_MS                    optional, default 500 (see ak_svc_begin)
 *
 * Tests replace the upstream calls through `ops` (ak_svc_init_for_test) and the chain through
 * rpc.transport (ak/evm.h); handlers call only the ak_svc_* wrappers, never ops directly.
 */
#ifndef AK_SVC_H
#define AK_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ak/audit.h"
#include "ak/bytes.h"
#include "ak/err.h"
#include "ak/evm.h"
#include "ak/http.h"
#include "ak/identity.h"
#include "ak/jose.h"
#include "ak/s3.h"
#include "ak/signer.h"

/* What a function needs (ak_svc_init fails with AK_E_CONFIG when a needed group is missing). */
#define AK_SVC_S3 0x01u     /* region + env credentials + S3 client */
#define AK_SVC_CHAIN 0x02u  /* RPC URL, chain id, three contract addresses */
#define AK_SVC_SIGNER 0x04u /* the signer handle */
#define AK_SVC_ISSUER 0x08u /* AK_ISSUER */
#define AK_SVC_AUDIT 0x10u  /* AK_AUDIT_BUCKET (implies AK_SVC_S3) */
#define AK_SVC_BROKER (AK_SVC_S3 | AK_SVC_CHAIN | AK_SVC_SIGNER | AK_SVC_ISSUER | AK_SVC_AUDIT)
#define AK_SVC_WORKER (AK_SVC_S3 | AK_SVC_CHAIN | AK_SVC_SIGNER | AK_SVC_AUDIT)

#define AK_SVC_DEFAULT_MARGIN_MS 500u
#define AK_SVC_ISSUER_MAX 256u
#define AK_SVC_BUCKET_MAX 64u
/* Session JWTs (broker.md §4, D16). */
#define AK_SESSION_AUD "agentkeys:broker"
#define AK_SESSION_TTL_DEFAULT 18000u
#define AK_SESSION_SKEW 60u
/* An unknown kid triggers at most one JWKS refresh per this many ms (rotation, not a DoS lever). */
#define AK_SVC_KEYS_REFRESH_MIN_MS 30000

typedef struct ak_svc ak_svc;

/* Upstream operations; defaults talk to the real services. All take the call's deadline
 * (absolute epoch ms; 0 = svc->deadline_ms). */
typedef struct ak_svc_ops {
    /* Signs a JWS signing input with the signer's `key`; kid_out gets the kid the signer used. */
    ak_err (*sign)(ak_svc *svc, ak_signer_key key, ak_cur signing_input, uint8_t sig64[64],
                   char kid_out[AK_SIGNER_KID_MAX]);
    /* The current kid of `key` (refresh = force a /v1/keys refetch first). */
    ak_err (*current_kid)(ak_svc *svc, ak_signer_key key, bool refresh, char kid[AK_SIGNER_KID_MAX]);
    /* The signer's whole JWKS JSON ({"keys":[…]} with ak_key / ak_status members), appended. */
    ak_err (*keys)(ak_svc *svc, ak_buf *out);
    /* S3 PUT with the execution role's credentials; if_none_match -> "If-None-Match: *". */
    ak_err (*s3_put)(ak_svc *svc, const char *bucket, ak_cur key, ak_cur body, bool if_none_match,
                     int64_t deadline_ms);
    /* S3 GET (body appended to out, at most `max` bytes). 404 -> AK_E_NOT_FOUND. */
    ak_err (*s3_get)(ak_svc *svc, const char *bucket, ak_cur key, size_t max, ak_buf *out,
                     int64_t deadline_ms);
    /* Any HTTP call through the shared client (STS); tests fake it. */
    ak_err (*http_do)(ak_svc *svc, const ak_http_request *req, ak_http_response *resp);
} ak_svc_ops;

struct ak_svc {
    ak_svc_ops ops;
    void *test_user; /* for fakes */
    ak_http *http;   /* AWS + chain; NULL in tests */
    ak_s3 s3;
    bool has_s3;
    ak_sigv4_creds creds; /* views into the environment */
    char region[64];
    ak_evm_rpc rpc;
    bool has_chain;
    uint64_t chain_id;
    uint8_t registry[20], scope[20], epoch_counter[20];
    ak_signer *signer;
    char issuer[AK_SVC_ISSUER_MAX + 1];
    char audit_bucket[AK_SVC_BUCKET_MAX + 1];
    unsigned margin_ms;
    /* Per invocation (ak_svc_begin). */
    int64_t deadline_ms;
    /* Session key cache (ak_svc_session_keys). */
    ak_jwks session_keys;
    bool session_keys_loaded;
    int64_t session_keys_at_ms; /* wall ms of the last fetch */
};

/* Reads the environment as described at the top and opens the clients. On failure everything
 * is released and a log line names the missing/bad variable (never a value). Returns
 * AK_E_CONFIG, AK_E_BAD_KEY, AK_E_NOMEM, or the Secrets Manager call's error. */
AK_MUST ak_err ak_svc_init(ak_svc *svc, unsigned needs);
/* A context with no clients, `ops` as given (NULL members are refused at call time with
 * AK_E_CONFIG), chain RPC pointing at no URL (tests set rpc.transport), issuer and audit
 * bucket as given. For unit tests of handlers. */
void ak_svc_init_for_test(ak_svc *svc, const ak_svc_ops *ops, const char *issuer, const char *audit_bucket);
void ak_svc_free(ak_svc *svc);

/* ---- deadlines ---- */

/* Starts an invocation: svc->deadline_ms = lambda_deadline_ms - margin (never below now + 1),
 * also set as the chain RPC's deadline, so every upstream call leaves the margin for posting
 * the response (and the audit write of a failure). lambda_deadline_ms 0 = now + 10 s. */
void ak_svc_begin(ak_svc *svc, uint64_t lambda_deadline_ms);
/* Milliseconds left before svc->deadline_ms (0 when passed). */
uint64_t ak_svc_remaining_ms(const ak_svc *svc);
/* AK_E_DEADLINE when less than `need_ms` remain. */
AK_MUST ak_err ak_svc_require_ms(const ak_svc *svc, uint64_t need_ms);

/* ---- S3 (execution role) ---- */

AK_MUST ak_err ak_svc_s3_put(ak_svc *svc, const char *bucket, ak_cur key, ak_cur body, bool if_none_match);
AK_MUST ak_err ak_svc_s3_get(ak_svc *svc, const char *bucket, ak_cur key, size_t max, ak_buf *out);

/* ---- audit (D12) ---- */

/* Encodes the event canonically and PUTs it to AK_AUDIT_BUCKET at
 * audit/pending/<operator_hex>/<event_id>.json with If-None-Match: * (deadline_ms 0 =
 * svc->deadline_ms). Any failure (encode, S3, a 412 collision) is AK_E_AUDIT_WRITE, except
 * AK_E_NOMEM which passes through: the caller fails the operation (no audit, no access). */
AK_MUST ak_err ak_svc_audit_write(ak_svc *svc, int64_t deadline_ms, const ak_audit_event *ev);

/* ---- signing through the signer (D4, D5) ---- */

/* Signs `payload` (compact JSON) as a compact JWS with the current kid of `key`, header
 * {"alg":"ES256","typ":typ,"kid":kid}; appends to out. When the signer answers 409 (the kid
 * rotated under us) the kids are refreshed and the signature retried once. kid_out (optional)
 * gets the kid used. Errors: signer errors (AK_E_SIGNER_UNAVAILABLE, …), AK_E_SIGN_ERROR when
 * the signer's kid differs from the header's. */
AK_MUST ak_err ak_svc_sign_jws(ak_svc *svc, ak_signer_key key, const char *typ, ak_cur payload, ak_buf *out,
                               char kid_out[AK_SIGNER_KID_MAX]);
/* Same with a JSON object payload (compact, insertion order). */
AK_MUST ak_err ak_svc_sign_jwt(ak_svc *svc, ak_signer_key key, const char *typ, const json_t *claims,
                               ak_buf *out, char kid_out[AK_SIGNER_KID_MAX]);

/* The signer's public keys of one purpose as a JSON array of JWKs (new reference), the
 * signer-private members ak_key/ak_status removed, current key first. With include_previous
 * false only the current key is returned. *n_out (optional) = number of keys. Errors: signer
 * errors; AK_E_UPSTREAM when the signer's JWKS is malformed or has no current key. */
AK_MUST ak_err ak_svc_public_jwks(ak_svc *svc, ak_signer_key key, bool include_previous, json_t **out);

/* ---- sessions (broker.md §4, D16) ---- */

typedef struct ak_session {
    ak_session_kind kind;        /* AK_SESSION_MASTER or AK_SESSION_AGENT */
    ak_omni omni_account;        /* the actor the session speaks for (master: = operator) */
    ak_omni operator_omni;       /* agentkeys.operator_omni */
    uint8_t wallet[20];          /* agentkeys.wallet_address: the K10 address that signed in */
    uint8_t device_key_hash[32]; /* agentkeys.device_key_hash = keccak256(wallet) */
    uint64_t iat, exp;
    char jti[64];
} ak_session;

/*
 * Session claim names (flat members; the dots are part of the name, as in broker.md §4):
 *   iss, sub ("agentkeys:user:<omni>" master / "agentkeys:agent:<omni>" agent),
 *   aud "agentkeys:broker", iat, exp, jti,
 *   agentkeys.omni_account (64 lowercase hex), agentkeys.wallet_address ("0x"+40 lowercase),
 *   agentkeys.identity_type "evm", agentkeys.identity_value (= wallet),
 *   agentkeys.session_kind "master" | "agent", agentkeys.operator_omni (64 lowercase hex),
 *   agentkeys.device_key_hash ("0x"+64 lowercase hex).
 */

/* Extracts the token of an `Authorization: Bearer <token>` value (scheme case-insensitive,
 * one space, token of base64url/'.' characters only). AK_E_UNAUTHORIZED otherwise. */
AK_MUST ak_err ak_svc_bearer(ak_cur authorization, ak_cur *token);

/*
 * Verifies a session JWT: ES256 against the signer's SESSION keys (current or previous kid;
 * cached per process, refreshed at most every AK_SVC_KEYS_REFRESH_MIN_MS on an unknown kid),
 * typ "JWT", iss == AK_ISSUER, aud "agentkeys:broker", exp required (60 s leeway), iat not in
 * the future, and the agentkeys.* claims well-formed and consistent (omni = operator for a
 * master; device_key_hash = keccak256(wallet)). Every failure is AK_E_UNAUTHORIZED (401 with
 * one reason, broker.md §4: nothing to learn from which check failed) except signer or
 * network failures while fetching keys (AK_E_SIGNER_UNAVAILABLE, …) and AK_E_NOMEM.
 */
AK_MUST ak_err ak_svc_verify_session(ak_svc *svc, ak_cur token, uint64_t now, ak_session *out);

/* D16 re-check of the session's device on chain, for every route that acts on a session beyond
 * its signature (mints, the audit routes): a session outlives a revocation, the chain does not.
 * getDevice(session.device_key_hash) must be registered (else AK_E_DEVICE_NOT_REGISTERED: an
 * unregistered wallet's session may only bootstrap itself as first master, on chain), not
 * revoked (AK_E_DEVICE_REVOKED), of the session's operator and of its kind — a master session
 * a master device, an agent session the agent device of its own actor (else
 * AK_E_DEVICE_BINDING_MISMATCH). Roles are the caller's to check. `dev` (optional) gets the entry
 * read, also on a refusal (registered_at == 0: unregistered). Chain failures: AK_E_CHAIN_RPC. */
AK_MUST ak_err ak_svc_check_session_device(ak_svc *svc, const ak_session *s, ak_device_entry *dev);

/* Fills the session claims above into a new JSON object (for AuthFunction and tests). */
AK_MUST ak_err ak_session_claims(const ak_session *s, const char *issuer, json_t **out);

#endif
