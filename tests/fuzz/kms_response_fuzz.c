/*
 * kms_response_fuzz.c — the KMS answer readers (ak/kms.h) the enclave runs on what came back
 * through the parent: ak_kms_parse_decrypt_response and ak_kms_parse_generate_response on a 200
 * body, and ak_kms_error_from_response on an error body.
 *
 * Input: byte 0 picks the request's KeyId (a key ARN, an alias ARN, an alias name, none) and the
 * error status; the rest is the body.
 * Properties: no crash, overread, leak or UB; the parsers' only errors are kms_response_malformed
 * and kms_key_mismatch, and then nothing is appended; an accepted answer appends a non-empty CMS
 * (and, for GenerateDataKey, a blob and a KeyId that agrees with the pin); error mapping never
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
        "arn:aws:kms:us-east-1:111122223333:alias/agentkeys-signer", "alias/agentkeys-signer", ""};
    if (size == 0) return 0;
    ak_cur body = ak_cur_from(data + 1, size - 1);
    ak_buf cms;
    ak_buf_init(&cms, AK_KMS_MAX_RESPONSE);
    if (ak_buf_append_str(&cms, "x") != AK_OK) abort();
    ak_cur id = ak_cur_from_str(ids[data[0] % 4]);
    ak_err e = ak_kms_parse_decrypt_response(body, id, &cms);
    if (e == AK_OK) {
        if (cms.len < 2) abort();
    } else if ((e != AK_E_KMS_RESPONSE_MALFORMED && e != AK_E_KMS_KEY_MISMATCH) || cms.len != 1) {
        abort();
    }
    ak_buf blob, arn;
    ak_buf_init(&blob, AK_KMS_MAX_CIPHERTEXT_BLOB);
    ak_buf_init(&arn, AK_KMS_MAX_KEY_ID);
    cms.len = 1;
    e = ak_kms_parse_generate_response(body, id, &blob, &arn, &cms);
    if (e == AK_OK) {
        if (cms.len < 2 || blob.len == 0 || !ak_kms_key_answer_ok(id, ak_buf_cur(&arn))) abort();
    } else if ((e != AK_E_KMS_RESPONSE_MALFORMED && e != AK_E_KMS_KEY_MISMATCH) || cms.len != 1 ||
               blob.len != 0 || arn.len != 0) {
        abort();
    }
    ak_buf_free(&blob);
    ak_buf_free(&arn);
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
               e != AK_E_KMS_INVALID_CIPHERTEXT && e != AK_E_KMS_KEY_MISMATCH && e != AK_E_KMS_ERROR &&
               e != AK_E_THROTTLED) {
        abort();
    }
    if (memchr(type.ptr ? type.ptr : (const uint8_t *)"", '#', type.len) != NULL) abort();
    ak_buf_free(&type);
    ak_http_response_free(&r);
    return 0;
}
