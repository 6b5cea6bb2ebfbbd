/*
 * kms_response_fuzz.c — the KMS Decrypt answer reader (ak/kms.h) the enclave runs on what came
 * back through the parent: ak_kms_parse_decrypt_response on a 200 body and
 * ak_kms_error_from_response on an error body.
 *
 * Input: byte 0 picks the request's KeyId (a key ARN, an alias, none) and the error status; the
 * rest is the body.
 * Properties: no crash, overread, leak or UB; the parser's only error is kms_response_malformed
 * and then nothing is appended; an accepted answer appends a non-empty CMS; error mapping never
 * says OK for a non-2xx status and returns one of the KMS reasons, and the type it names has no
 * '#'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/http.h"
#include "ak/kms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const ids[] = {
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "alias/agentkeys-signer", ""};
    if (size == 0) return 0;
    ak_cur body = ak_cur_from(data + 1, size - 1);
    ak_buf cms;
    ak_buf_init(&cms, AK_KMS_MAX_RESPONSE);
    if (ak_buf_append_str(&cms, "x") != AK_OK) abort();
    ak_err e = ak_kms_parse_decrypt_response(body, ak_cur_from_str(ids[data[0] % 3]), &cms);
    if (e == AK_OK) {
        if (cms.len < 2) abort();
    } else if (e != AK_E_KMS_RESPONSE_MALFORMED || cms.len != 1) {
        abort();
    }
    ak_buf_free(&cms);

    static const long statuses[] = {400, 403, 404, 429, 500, 503, 302, 200};
    ak_http_response r;
    ak_http_response_init(&r);
    r.status = statuses[(data[0] >> 2) % 8];
    if (ak_buf_append_cur(&r.body, body) != AK_OK) abort();
    ak_buf type;
    ak_buf_init(&type, 256);
    e = ak_kms_error_from_response(&r, &type);
    if (r.status == 200) {
        if (e != AK_OK) abort();
    } else if (e != AK_E_KMS_SIGNATURE_REJECTED && e != AK_E_KMS_ACCESS_DENIED &&
               e != AK_E_KMS_INVALID_CIPHERTEXT && e != AK_E_KMS_ERROR && e != AK_E_THROTTLED) {
        abort();
    }
    if (memchr(type.ptr ? type.ptr : (const uint8_t *)"", '#', type.len) != NULL) abort();
    ak_buf_free(&type);
    ak_http_response_free(&r);
    return 0;
}
