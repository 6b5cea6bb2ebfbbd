/*
 * ak/kms.h — the two KMS calls the signer enclave makes, both for an attested recipient (issue 18
 * item 2; KMS API Reference "Decrypt", "GenerateDataKey", "RecipientInfo"): GenerateDataKey at the
 * first boot of a deployment (the enclave makes its own sealing key) and Decrypt at every later one.
 *
 * Wire: POST / on the KMS endpoint, AWS JSON 1.1, SigV4 (service "kms", the endpoint's region):
 *     Content-Type: application/x-amz-json-1.1
 *     X-Amz-Target: TrentService.Decrypt | TrentService.GenerateDataKey
 *     signed headers: content-type;host;x-amz-date;x-amz-target (+ x-amz-security-token)
 *   Decrypt:
 *     {"CiphertextBlob":"<b64>","EncryptionAlgorithm":"SYMMETRIC_DEFAULT","KeyId":"<pin>",
 *      "Recipient":{"AttestationDocument":"<b64>","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}
 *     200: {"KeyId":"arn:…:key/…","EncryptionAlgorithm":"SYMMETRIC_DEFAULT",
 *           "CiphertextForRecipient":"<b64 CMS, ak/cms.h>"}
 *   GenerateDataKey:
 *     {"KeyId":"<pin>","KeySpec":"AES_256","Recipient":{…as above…}}
 *     200: {"CiphertextBlob":"<b64>","KeyId":"arn:…:key/…","CiphertextForRecipient":"<b64 CMS>"}
 * Neither answer may carry a non-empty Plaintext (it would have crossed the parent in the clear),
 * nor members we do not know.
 *
 * The pinned key (ak_kms_key_pin): the KeyId we send is the key ARN or alias ARN measured into the
 * enclave image, never a value from outside. KMS then refuses a ciphertext made under any other key
 * (IncorrectKeyException), and GenerateDataKey can only use our key — so a parent that hands the
 * enclave credentials or a data key of an account it controls gets nothing sealed under a key it can
 * decrypt. The answer's KeyId must agree: equal to a key-ARN pin, or a key ARN in the alias pin's
 * partition, region and account (AK_E_KMS_KEY_MISMATCH otherwise).
 *
 * Errors (the JSON `__type`, namespace prefix dropped, else the x-amzn-ErrorType header):
 *   InvalidSignatureException, IncompleteSignatureException, UnrecognizedClientException,
 *   ExpiredTokenException, MissingAuthenticationTokenException -> AK_E_KMS_SIGNATURE_REJECTED
 *   AccessDeniedException (key policy, incl. a recipient attestation that does not match the
 *   policy's kms:RecipientAttestation:* conditions)              -> AK_E_KMS_ACCESS_DENIED
 *   InvalidCiphertextException                                    -> AK_E_KMS_INVALID_CIPHERTEXT
 *   IncorrectKeyException (the ciphertext is under another key)   -> AK_E_KMS_KEY_MISMATCH
 *   ThrottlingException                                           -> AK_E_THROTTLED
 *   anything else, 5xx after retries                              -> AK_E_KMS_ERROR
 *   a 200 of the wrong shape                                      -> AK_E_KMS_RESPONSE_MALFORMED
 * Transport errors keep ak_http's codes. Both calls are retried like idempotent requests within the
 * deadline (a repeated GenerateDataKey only makes a key nobody keeps).
 *
 * Endpoint: "https://kms.<region>.amazonaws.com" by default; any http(s)://host[:port] for a
 * stand-in or a proxy (the Host header and the signature use the endpoint's host[:port]).
 */
#ifndef AK_KMS_H
#define AK_KMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/err.h"
#include "ak/http.h"
#include "ak/sigv4.h"

#define AK_KMS_MAX_CIPHERTEXT_BLOB 6144u  /* KMS limit */
#define AK_KMS_MAX_ATTESTATION 262144u    /* RecipientInfo.AttestationDocument limit */
#define AK_KMS_MAX_RESPONSE (64u * 1024u) /* CiphertextForRecipient of <= 4096 bytes is ~6 KiB */
#define AK_KMS_MAX_KEY_ID 2048u

#define AK_KMS_MAX_PIN 512u

/* arn:<partition>:kms:<region>:<12-digit account>:alias/<name> | :key/<id> */
typedef struct ak_kms_key_pin {
    char arn[AK_KMS_MAX_PIN];
    char region[64];
    size_t account_prefix_len; /* strlen("arn:<partition>:kms:<region>:<account>:") */
    bool alias;
} ak_kms_key_pin;

/* AK_E_CONFIG for anything but a key ARN or an alias ARN of the shape above. */
AK_MUST ak_err ak_kms_key_pin_parse(ak_cur arn, ak_kms_key_pin *pin);
/* Whether KMS's answered KeyId agrees with what was asked (see above). `asked` that is not an ARN
 * (a bare key id or alias name: tests, the operator's own tools) accepts any answer. */
bool ak_kms_key_answer_ok(ak_cur asked, ak_cur answered);

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

typedef struct ak_kms_generate {
    ak_cur key_id;          /* the pin (required) */
    ak_cur attestation_doc; /* the enclave's attestation document (binary) */
    int64_t deadline_ms;    /* absolute; 0 -> ak_http default */
} ak_kms_generate;

/* AK_E_CONFIG for a bad region or endpoint. */
AK_MUST ak_err ak_kms_init(ak_kms *kms, ak_http *http, const ak_kms_config *cfg);
/* The request body above (exposed for tests); AK_E_INVALID_INPUT / AK_E_LIMIT on bad sizes. */
AK_MUST ak_err ak_kms_decrypt_body(const ak_kms_decrypt *req, ak_buf *body);
/* Signs and sends Decrypt; appends the CMS bytes of CiphertextForRecipient to `cms`. */
AK_MUST ak_err ak_kms_decrypt_for_recipient(ak_kms *kms, const ak_sigv4_creds *creds,
                                            const ak_kms_decrypt *req, ak_buf *cms);
/* Parses a 200 body (tests, fuzz). `key_id` as in the request (may be empty). */
AK_MUST ak_err ak_kms_parse_decrypt_response(ak_cur json, ak_cur key_id, ak_buf *cms);
/* GenerateDataKey (AES_256) for the recipient: appends the data key's KMS ciphertext to `blob`, the
 * answered key ARN to `key_arn` and the CMS bytes of CiphertextForRecipient to `cms`. */
AK_MUST ak_err ak_kms_generate_for_recipient(ak_kms *kms, const ak_sigv4_creds *creds,
                                             const ak_kms_generate *req, ak_buf *blob, ak_buf *key_arn,
                                             ak_buf *cms);
AK_MUST ak_err ak_kms_generate_body(const ak_kms_generate *req, ak_buf *body);
/* Parses a GenerateDataKey 200 body (tests, fuzz); `key_id` as asked. */
AK_MUST ak_err ak_kms_parse_generate_response(ak_cur json, ak_cur key_id, ak_buf *blob, ak_buf *key_arn,
                                              ak_buf *cms);
/* Maps an error response; `type` (optional) gets the error type without its namespace. */
ak_err ak_kms_error_from_response(const ak_http_response *resp, ak_buf *type);

#endif
