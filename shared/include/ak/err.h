/*
 * ak/err.h — the one error table (decisions D14, STYLE §5).
 *
 * Every fallible function in agentkeys returns an `ak_err`. Each code carries, in one place:
 *   - the stable `reason` string put in HTTP error bodies and audit rows,
 *   - the HTTP status it maps to,
 *   - a human sentence for the `error` member of the body,
 * grouped by kind: input, auth, upstream, crypto, limit, internal. The Lambda Runtime API
 * `errorType` is derived from the same row ("AgentKeys.<reason>").
 *
 * To add a code: add one X() row in the right group. Never reuse or rename a reason string:
 * clients and tests match on it.
 */
#ifndef AK_ERR_H
#define AK_ERR_H

#include <stddef.h>

#define AK_MUST __attribute__((warn_unused_result))

/* X(NAME, "reason", http_status, "human sentence") */
#define AK_ERROR_TABLE(X)                                                                                    \
    X(OK, "ok", 200, "success")                                                                              \
    /* ---- input (4xx: the caller sent something wrong) ---- */                                             \
    X(INVALID_INPUT, "invalid_input", 400, "the request is malformed")                                       \
    X(INVALID_JSON, "invalid_json", 400, "the request body is not valid JSON")                               \
    X(MISSING_FIELD, "missing_field", 400, "a required field is missing")                                    \
    X(WRONG_TYPE, "wrong_type", 400, "a field has the wrong type")                                           \
    X(UNKNOWN_FIELD, "unknown_field", 400, "the request has a field that is not allowed")                    \
    X(BAD_HEX, "bad_hex", 400, "a hex field is malformed")                                                   \
    X(BAD_BASE64, "bad_base64", 400, "a base64 field is malformed")                                          \
    X(INVALID_SERVICE, "invalid_service", 400, "the service name is not allowed")                            \
    X(INVALID_NAMESPACE, "invalid_namespace", 400, "the memory namespace is not allowed")                    \
    X(INVALID_OMNI, "invalid_omni", 400, "an omni id must be 64 hex characters")                             \
    X(INVALID_ADDRESS, "invalid_address", 400, "an EVM address must be 0x and 40 hex characters")            \
    X(INVALID_EVENT, "invalid_event", 400, "the Lambda event has an unexpected shape")                       \
    X(NOT_FOUND, "not_found", 404, "nothing is stored there")                                                \
    X(ROUTE_NOT_FOUND, "route_not_found", 404, "no such route")                                              \
    X(METHOD_NOT_ALLOWED, "method_not_allowed", 405, "method not allowed on this route")                     \
    X(PRECONDITION_FAILED, "precondition_failed", 412, "the object already exists or changed")               \
    X(CONFLICT, "conflict", 409, "the request conflicts with the current state")                             \
    X(ENVELOPE_TRUNCATED, "envelope_truncated", 422, "the stored envelope is truncated")                     \
    X(ENVELOPE_VERSION, "envelope_version", 422, "the stored envelope has an unknown version")               \
    X(SIWE_MALFORMED, "siwe_malformed", 400, "the sign-in message does not parse")                           \
    X(SIWE_DOMAIN, "siwe_domain_mismatch", 401, "the sign-in message is for another domain")                 \
    X(SIWE_CHAIN, "siwe_chain_mismatch", 401, "the sign-in message is for another chain")                    \
    X(SIWE_EXPIRED, "siwe_expired", 401, "the sign-in message has expired")                                  \
    X(SIWE_NONCE, "siwe_nonce_invalid", 401, "the sign-in nonce is unknown or already used")                 \
    X(SIWE_SIGNATURE, "siwe_signature_invalid", 401, "the sign-in signature does not match")                 \
    /* ---- keystore v3 and key files (agentkeys wallet, issue 13) ---- */                                   \
    X(KEYSTORE_INVALID, "keystore_invalid", 400, "the keystore is not valid keystore v3 JSON")               \
    X(KEYSTORE_UNSUPPORTED, "keystore_unsupported", 400,                                                     \
      "the keystore uses an unsupported kdf, prf, cipher or version")                                        \
    X(KDF_PARAMS, "kdf_params_rejected", 400,                                                                \
      "the key derivation parameters are invalid or above the accepted maxima")                              \
    X(KEYSTORE_MAC, "keystore_mac_mismatch", 401,                                                            \
      "wrong password, or the keystore is corrupted (MAC mismatch)")                                         \
    X(KEYSTORE_ADDRESS, "keystore_address_mismatch", 422, "the keystore's address does not match its key")   \
    X(KEY_FILE_PERMISSIONS, "key_file_permissions", 400,                                                     \
      "the key file is accessible by others (needs mode 0600)")                                              \
    /* ---- auth (401/403: who you are or what you may do) ---- */                                           \
    X(UNAUTHORIZED, "unauthorized", 401, "a valid bearer token is required")                                 \
    X(STS_HEADERS_MISSING, "sts_headers_missing", 401, "the X-Aws-* credential headers are missing")         \
    X(STS_HEADERS_PARTIAL, "sts_headers_partial", 401, "all three X-Aws-* headers are required")             \
    X(FORBIDDEN, "forbidden", 403, "not allowed")                                                            \
    X(OPERATOR_MISMATCH, "operator_mismatch", 403, "session operator differs from the request")              \
    X(ACTOR_MISMATCH, "actor_mismatch", 403, "session actor differs from the request")                       \
    X(DEVICE_NOT_ACTIVE, "device_not_active", 403, "the device is not registered")                           \
    X(DEVICE_REVOKED, "device_revoked", 403, "the device has been revoked")                                  \
    X(DEVICE_BINDING_MISMATCH, "device_binding_mismatch", 403, "the device is bound elsewhere")              \
    X(DEVICE_ROLE_MISSING, "device_role_missing", 403, "the device lacks the CAP_MINT role")                 \
    X(CAP_POP_INVALID, "cap_pop_invalid", 403, "the proof of possession is invalid or stale")                \
    X(SERVICE_NOT_IN_SCOPE, "service_not_in_scope", 403, "the service is not in the actor's scope")          \
    X(TEARDOWN_NOT_MASTER, "teardown_requires_master", 403, "only a master session may tear down")           \
    X(BROKER_SIG_INVALID, "broker_sig_invalid", 403, "the capability signature is invalid")                  \
    X(CAP_EXPIRED, "cap_freshness_failed", 403, "the capability is expired or not yet valid")                \
    X(CAP_OP_MISMATCH, "cap_op_mismatch", 403, "the capability is for another operation")                    \
    X(CAP_DATA_CLASS_MISMATCH, "cap_data_class_mismatch", 403, "the capability is for another data class")   \
    X(K3_EPOCH_MISMATCH, "k3_epoch_mismatch", 403, "the capability names a stale key epoch")                 \
    X(TOKEN_INVALID, "token_invalid", 401, "the token is malformed or its signature is invalid")             \
    X(TOKEN_EXPIRED, "token_expired", 401, "the token has expired")                                          \
    X(TOKEN_CLAIMS, "token_claims_invalid", 401, "the token's claims are not acceptable")                    \
    X(ACCESS_DENIED, "access_denied", 403, "the storage service denied access")                              \
    X(ROLE_NOT_ALLOWED, "role_not_allowed", 403, "the caller's role may not do this")                        \
    X(EPOCH_NOT_YET, "epoch_not_current", 403, "the key epoch is above the chain's current epoch")           \
    X(ATTESTATION_INVALID, "attestation_invalid", 502, "the enclave attestation did not verify")             \
    /* -- Nitro attestation documents (issue 18, ak/nitro.h): one reason per check -- */                     \
    X(ATTEST_CBOR_MALFORMED, "attest_cbor_malformed", 502, "the attestation is not strict CBOR")             \
    X(ATTEST_TRAILING, "attest_trailing_bytes", 502, "the attestation has bytes after its end")              \
    X(ATTEST_COSE_MALFORMED, "attest_cose_malformed", 502, "the attestation is not an ES384 COSE_Sign1")     \
    X(ATTEST_PAYLOAD_MALFORMED, "attest_payload_malformed", 502, "an attestation field is malformed")        \
    X(ATTEST_CERT_MALFORMED, "attest_cert_malformed", 502, "an attestation certificate does not parse")      \
    X(ATTEST_ROOT_MISMATCH, "attest_root_mismatch", 502, "the attestation root is not the pinned one")       \
    X(ATTEST_CHAIN_INVALID, "attest_chain_invalid", 502, "an attestation CA certificate is invalid")         \
    X(ATTEST_LEAF_INVALID, "attest_leaf_invalid", 502, "the attestation leaf is not signed by its CA")       \
    X(ATTEST_CERT_EXPIRED, "attest_cert_expired", 502, "an attestation certificate has expired")             \
    X(ATTEST_CERT_NOT_YET_VALID, "attest_cert_not_yet_valid", 502, "an attestation cert is not valid yet")   \
    X(ATTEST_SIGNATURE_INVALID, "attest_signature_invalid", 502, "the attestation signature is wrong")       \
    X(ATTEST_PCR_MISMATCH, "attest_pcr_mismatch", 502, "an attested PCR differs from the pinned one")        \
    X(ATTEST_NONCE_MISMATCH, "attest_nonce_mismatch", 502, "the attested nonce is not the one sent")         \
    X(ATTEST_PUBLIC_KEY_MISMATCH, "attest_public_key_mismatch", 502, "the attested public key is wrong")     \
    X(ATTEST_USER_DATA_MISMATCH, "attest_user_data_mismatch", 502, "the attested user data is unexpected")   \
    X(ATTEST_STALE, "attest_stale", 502, "the attestation is too old or from the future")                    \
    /* -- NSM attester and the Nitro-mode client (issue 18 item 1: enclave/src/nsm.c, ak/attest.h) -- */     \
    X(ATTEST_NSM_UNAVAILABLE, "attest_nsm_unavailable", 503, "the Nitro Secure Module is not available")     \
    X(ATTEST_NSM_ERROR, "attest_nsm_error", 502, "the Nitro Secure Module refused the request")              \
    X(ATTEST_NSM_MALFORMED, "attest_nsm_malformed", 502, "the Nitro Secure Module answered garbage")         \
    X(ATTEST_MODE_MISMATCH, "attest_mode_mismatch", 502, "the attestation is not of the configured mode")    \
    /* -- KMS-sealed keystore (issue 18 item 2, ak/cms.h, ak/kms.h): CMS unwrap and KMS Decrypt -- */        \
    X(CMS_MALFORMED, "cms_malformed", 502, "the recipient ciphertext is not the expected CMS structure")     \
    X(CMS_TRAILING, "cms_trailing_bytes", 502, "the recipient ciphertext has bytes after its end")           \
    X(CMS_UNSUPPORTED, "cms_unsupported", 502, "the recipient ciphertext uses an unsupported algorithm")     \
    X(CMS_DECRYPT_FAILED, "cms_decrypt_failed", 502, "the recipient ciphertext does not open with our key")  \
    X(KMS_SIGNATURE_REJECTED, "kms_signature_rejected", 502, "KMS refused the request signature or keys")    \
    X(KMS_ACCESS_DENIED, "kms_access_denied", 502, "KMS denied the decrypt (key policy or attestation)")     \
    X(KMS_INVALID_CIPHERTEXT, "kms_invalid_ciphertext", 502, "KMS refused the data key ciphertext")          \
    X(KMS_ERROR, "kms_error", 502, "the key management service failed")                                      \
    X(KMS_RESPONSE_MALFORMED, "kms_response_malformed", 502, "the KMS response has an unexpected shape")     \
    X(KMS_DATAKEY_INVALID, "kms_datakey_invalid", 500, "the stored KMS data key file is malformed")          \
    /* -- the pinned KMS key and the data key's bootstrap (issue 18: a fresh enclave makes its own) -- */    \
    X(KMS_KEY_MISMATCH, "kms_key_mismatch", 502, "the data key is not under the pinned KMS key")             \
    X(KMS_DATAKEY_MISSING, "kms_datakey_missing", 500,                                                       \
      "sealed state exists but its KMS data key is gone (a new one would orphan it)")                        \
    /* vsock network (issue 18): the parent's role credentials from IMDSv2 through the proxy */              \
    X(IMDS_ERROR, "imds_error", 502, "the instance metadata service refused or failed the request")          \
    X(IMDS_CREDENTIALS_INVALID, "imds_credentials_invalid", 502,                                             \
      "the instance role credentials are malformed or expired")                                              \
    /* hardening (issue 16): unregistered wallets may only bootstrap; read-only scopes */                    \
    X(DEVICE_NOT_REGISTERED, "device_not_registered", 403,                                                   \
      "the wallet has no registered device: it may only register itself as first master")                    \
    X(SCOPE_READ_ONLY, "scope_read_only", 403, "the actor's scope is read-only")                             \
    /* hardening (issue 16 findings 8 and 1): mTLS identities and signer least privilege */                  \
    X(CERT_EKU_MISSING, "cert_eku_missing", 403,                                                             \
      "the peer certificate lacks the required extended key usage")                                          \
    /* RA-TLS (issue 18: the nitro signer's TLS key is born in the enclave; clients attest it) */            \
    X(CERT_NAME_MISMATCH, "cert_name_mismatch", 403, "the peer certificate is not for the expected name")    \
    X(CERT_INVALID, "cert_invalid", 403, "the peer certificate is malformed or outside its validity")        \
    /* ---- upstream (5xx: a dependency failed; we failed closed) ---- */                                    \
    X(UPSTREAM, "upstream_error", 502, "an upstream service failed")                                         \
    X(UPSTREAM_TIMEOUT, "upstream_timeout", 504, "an upstream service timed out")                            \
    X(S3_ERROR, "s3_error", 502, "the storage service failed")                                               \
    X(STS_ERROR, "sts_error", 502, "the token service failed")                                               \
    X(CHAIN_RPC, "chain_rpc_error", 502, "the chain RPC failed")                                             \
    /* chain transactions of the operator CLI (issue 13, ak/chain.h) */                                      \
    X(CHAIN_REVERTED, "chain_reverted", 409, "the chain transaction reverted")                               \
    X(SIGNER_UNAVAILABLE, "signer_unavailable", 503, "the signer enclave is unavailable")                    \
    X(AUDIT_WRITE, "audit_write_failed", 503, "the audit event could not be written")                        \
    X(THROTTLED, "throttled", 503, "an upstream service is throttling")                                      \
    /* ---- use without holding (D19, CredUseFunction, docs/spec/use-policy.md) ---- */                      \
    X(USE_ONLY, "use_only", 403, "this credential may only be used, never fetched")                          \
    X(USE_POLICY_INVALID, "invalid_use_policy", 400, "the use policy is malformed")                          \
    X(USE_POLICY_MISSING, "use_policy_missing", 403, "this credential has no use policy")                    \
    X(HOST_NOT_ALLOWED, "host_not_allowed", 403, "the policy does not allow this host")                      \
    X(SCHEME_NOT_ALLOWED, "scheme_not_allowed", 403, "only https URLs may be used")                          \
    X(DESTINATION_NOT_ALLOWED, "destination_not_allowed", 403, "the host resolves to a forbidden address")   \
    X(USE_RESPONSE_TOO_LARGE, "response_too_large", 502, "the upstream response exceeds the size cap")       \
    X(REDACTION_FAILED, "redaction_failed", 502, "the upstream response could not be redacted")              \
    /* ---- readiness (issue 17: GET /readyz, functions/ready) ---- */                                       \
    X(NOT_READY, "not_ready", 503, "a dependency of the service is not ready")                               \
    X(CHAIN_ID_MISMATCH, "chain_id_mismatch", 503, "the chain RPC serves another chain")                     \
    /* ---- signer keystore rollback guard and backup (issue 16 finding 7, issue 18 item 3) ---- */          \
    X(SIGNER_ROLLBACK, "keystore_rollback", 503,                                                             \
      "the keystore lacks a K3 epoch the chain has a commitment for (an older keystore was restored)")       \
    X(SIGNER_COMMITMENT_MISMATCH, "keystore_commitment_mismatch", 503,                                       \
      "a K3 in the keystore does not match the chain's commitment for its epoch")                            \
    X(SIGNER_BACKUP, "keystore_backup_failed", 503, "the sealed keystore could not be backed up")            \
    /* ---- crypto (bad data in a cryptographic object) ---- */                                              \
    X(DECRYPT_FAILED, "envelope_auth_failed", 422, "the stored envelope failed authentication")              \
    X(BAD_SIGNATURE, "bad_signature", 400, "a signature is malformed or does not verify")                    \
    X(BAD_KEY, "bad_key", 400, "a key is malformed")                                                         \
    /* ---- limit ---- */                                                                                    \
    X(TOO_LARGE, "too_large", 413, "the payload is too large")                                               \
    X(LIMIT, "limit_exceeded", 400, "a size or count limit was exceeded")                                    \
    X(DEADLINE, "deadline_exceeded", 504, "the invocation ran out of time")                                  \
    /* ---- internal (500: our bug or our environment) ---- */                                               \
    X(NOMEM, "out_of_memory", 500, "out of memory")                                                          \
    X(CONFIG, "config_error", 500, "the function is misconfigured")                                          \
    X(IO, "io_error", 500, "a local I/O operation failed")                                                   \
    X(INTERNAL, "internal", 500, "internal error")                                                           \
    X(SIGN_ERROR, "sign_error", 500, "signing failed")

typedef enum ak_err {
#define AK_X_ENUM(name, reason, status, msg) AK_E_##name,
    AK_ERROR_TABLE(AK_X_ENUM)
#undef AK_X_ENUM
        AK_E__COUNT
} ak_err;

#define AK_OK AK_E_OK

/* Returns the stable reason code ("invalid_input"); "internal" for out-of-range values. */
const char *ak_err_reason(ak_err e);
/* Returns the HTTP status for the code (200 for AK_OK). */
int ak_err_status(ak_err e);
/* Returns the human sentence for the code. */
const char *ak_err_message(ak_err e);
/* Returns the Lambda Runtime API errorType ("AgentKeys.invalid_input"), static storage. */
const char *ak_err_type(ak_err e);
/* Looks a reason string up; Returns AK_E__COUNT when unknown. */
ak_err ak_err_from_reason(const char *reason);

/* ---- guard macros (s2n_result style): the happy path reads straight down ---- */

/* Return the error of a fallible call. */
#define AK_GUARD(expr)                                                                                       \
    do {                                                                                                     \
        ak_err ak__e = (expr);                                                                               \
        if (ak__e != AK_OK) return ak__e;                                                                    \
    } while (0)
/* Return `err` unless `cond` holds. */
#define AK_ENSURE(cond, err)                                                                                 \
    do {                                                                                                     \
        if (!(cond)) return (err);                                                                           \
    } while (0)
/* Store the error of a fallible call in `rc` and jump to the function's one cleanup label. */
#define AK_GUARD_OUT(expr)                                                                                   \
    do {                                                                                                     \
        rc = (expr);                                                                                         \
        if (rc != AK_OK) goto out;                                                                           \
    } while (0)
#define AK_ENSURE_OUT(cond, err)                                                                             \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            rc = (err);                                                                                      \
            goto out;                                                                                        \
        }                                                                                                    \
    } while (0)
#define AK_BAIL(err) return (err)

/*
 * Misuse aborts; bad data returns (STYLE §6). AK_PRECOND is for programmer errors such as a
 * NULL where the header promises non-NULL: it logs the location and aborts in every build.
 */
void ak_abort_misuse(const char *file, int line, const char *what) __attribute__((noreturn));
#define AK_PRECOND(cond)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) ak_abort_misuse(__FILE__, __LINE__, #cond);                                             \
    } while (0)

#endif
