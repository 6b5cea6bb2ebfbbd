/*
 * ak/kms.h — KMS Decrypt for an attested recipient (issue 18 item 2; KMS API Reference "Decrypt",
 * "RecipientInfo"): the one KMS call the signer enclave makes, to recover its sealing key.
 *
 * Wire: POST / on the KMS endpoint, AWS JSON 1.1, SigV4 (service "kms", the endpoint's region):
 *     Content-Type: application/x-amz-json-1.1
 *     X-Amz-Target: TrentService.Decrypt
 *     signed headers: content-type;host;x-amz-date;x-amz-target (+ x-amz-security-token)
 *     {"CiphertextBlob":"<b64>","EncryptionAlgorithm":"SYMMETRIC_DEFAULT","KeyId":"<optional>",
 *      "Recipient":{"AttestationDocument":"<b64>","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}
 * Answer 200: {"KeyId":"arn:…","EncryptionAlgorithm":"SYMMETRIC_DEFAULT",
 *              "CiphertextForRecipient":"<b64 CMS, ak/cms.h>"} — no Plaintext. A response that
 * carries a non-empty Plaintext is refused (the plaintext would have crossed the parent), as is
 * one for another key when KeyId was a key ARN, or with members we do not know.
 *
 * Errors (the JSON `__type`, namespace prefix dropped, else the x-amzn-ErrorType header):
 *   InvalidSignatureException, IncompleteSignatureException, UnrecognizedClientException,
 *   ExpiredTokenException, MissingAuthenticationTokenException -> AK_E_KMS_SIGNATURE_REJECTED
 *   AccessDeniedException (key policy, incl. a recipient attestation that does not match the
 *   policy's kms:RecipientAttestation:* conditions)              -> AK_E_KMS_ACCESS_DENIED
 *   InvalidCiphertextException, IncorrectKeyException             -> AK_E_KMS_INVALID_CIPHERTEXT
 *   ThrottlingException                                           -> AK_E_THROTTLED
 *   anything else, 5xx after retries                              -> AK_E_KMS_ERROR
 *   a 200 of the wrong shape                                      -> AK_E_KMS_RESPONSE_MALFORMED
 * Transport errors keep ak_http's codes. Decrypt has no side effect, so it is retried like any
 * idempotent request within the deadline.
 *
 * Endpoint: "https://kms.<region>.amazonaws.com" by default; any http(s)://host[:port] for a
 * stand-in or a proxy (the Host header and the signature use the endpoint's host[:port]).
 */
#ifndef AK_KMS_H
#define AK_KMS_H

#include <stdint.h>

#include "ak/bytes.h"
#include "ak/err.h"
#include "ak/http.h"
#include "ak/sigv4.h"

#define AK_KMS_MAX_CIPHERTEXT_BLOB 6144u  /* KMS limit */
#define AK_KMS_MAX_ATTESTATION 262144u    /* RecipientInfo.AttestationDocument limit */
#define AK_KMS_MAX_RESPONSE (64u * 1024u) /* CiphertextForRecipient of <= 4096 bytes is ~6 KiB */
#define AK_KMS_MAX_KEY_ID 2048u

typedef struct ak_kms_config {
    const char *endpoint; /* NULL/"" -> https://kms.<region>.amazonaws.com */
    const char *region;   /* required: [a-z0-9-]{1,63} */
} ak_kms_config;

typedef struct ak_kms {
    ak_http *http; /* borrowed */
    char region[64];
    char host[256]; /* host[:port] as sent in Host and signed */
    char url[300];  /* scheme://host[:port]/ */
} ak_kms;

typedef struct ak_kms_decrypt {
    ak_cur ciphertext_blob; /* KMS's opaque data-key ciphertext */
    ak_cur key_id;          /* optional; when a key ARN, the answer must name it */
    ak_cur attestation_doc; /* the enclave's attestation document (binary) */
    int64_t deadline_ms;    /* absolute; 0 -> ak_http default */
} ak_kms_decrypt;

/* AK_E_CONFIG for a bad region or endpoint. */
AK_MUST ak_err ak_kms_init(ak_kms *kms, ak_http *http, const ak_kms_config *cfg);
/* The request body above (exposed for tests); AK_E_INVALID_INPUT / AK_E_LIMIT on bad sizes. */
AK_MUST ak_err ak_kms_decrypt_body(const ak_kms_decrypt *req, ak_buf *body);
/* Signs and sends Decrypt; appends the CMS bytes of CiphertextForRecipient to `cms`. */
AK_MUST ak_err ak_kms_decrypt_for_recipient(ak_kms *kms, const ak_sigv4_creds *creds,
                                            const ak_kms_decrypt *req, ak_buf *cms);
/* Parses a 200 body (tests, fuzz). `key_id` as in the request (may be empty). */
AK_MUST ak_err ak_kms_parse_decrypt_response(ak_cur json, ak_cur key_id, ak_buf *cms);
/* Maps an error response; `type` (optional) gets the error type without its namespace. */
ak_err ak_kms_error_from_response(const ak_http_response *resp, ak_buf *type);

#endif
