/* kms.c — KMS Decrypt and GenerateDataKey for an attested Recipient, over ak_http + ak_sigv4, and
 * the pinned key's checks (see ak/kms.h). */
#include "ak/kms.h"

#include <stdio.h>
#include <string.h>

#include "ak/awsjson.h"
#include "ak/json.h"
#include "ak/log.h"

ak_err ak_kms_init(ak_kms *kms, ak_http *http, const ak_kms_config *cfg) {
    AK_PRECOND(kms != NULL && http != NULL && cfg != NULL);
    memset(kms, 0, sizeof(*kms));
    char scheme[6];
    AK_GUARD(ak_sigv4_endpoint(cfg->endpoint, "kms", cfg->region, scheme, kms->host, sizeof(kms->host)));
    memcpy(kms->region, cfg->region, strlen(cfg->region) + 1);
    kms->http = http;
    int n = snprintf(kms->url, sizeof(kms->url), "%s://%s/", scheme, kms->host);
    AK_ENSURE(n > 0 && (size_t)n < sizeof(kms->url), AK_E_CONFIG);
    return AK_OK;
}

/* Characters of an alias name (after "alias/") and of a key id (after "key/"), per the KMS API. */
static bool s_kms_id_chars(ak_cur v, bool alias) {
    if (v.len == 0 || v.len > 256) return false;
    for (size_t i = 0; i < v.len; i++) {
        uint8_t c = v.ptr[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  (alias && ((c >= 'A' && c <= 'Z') || c == '_' || c == '/'));
        if (!ok) return false;
    }
    return true;
}

/* Splits "arn:P:kms:R:A:REST" into its fields; false when it is not a KMS ARN of that shape. */
static bool s_kms_arn_split(ak_cur arn, ak_cur *region, size_t *account_prefix_len, ak_cur *rest) {
    ak_cur s = arn, f[5];
    for (int i = 0; i < 5; i++)
        if (!ak_cur_split(&s, ':', &f[i])) return false;
    if (!ak_cur_eq_str(f[0], "arn") || !ak_cur_starts_with(f[1], AK_CUR_LIT("aws")) || f[1].len > 15 ||
        !ak_cur_eq_str(f[2], "kms") || f[4].len != 12)
        return false;
    for (size_t i = 0; i < f[1].len; i++)
        if (!((f[1].ptr[i] >= 'a' && f[1].ptr[i] <= 'z') || f[1].ptr[i] == '-')) return false;
    for (size_t i = 0; i < 12; i++)
        if (f[4].ptr[i] < '0' || f[4].ptr[i] > '9') return false;
    char r[64];
    if (ak_cur_to_cstr(f[3], r, sizeof(r)) != AK_OK || !ak_sigv4_region_ok(r)) return false;
    *region = f[3];
    *account_prefix_len = (size_t)(s.ptr - arn.ptr);
    *rest = s;
    return true;
}

ak_err ak_kms_key_pin_parse(ak_cur arn, ak_kms_key_pin *pin) {
    AK_PRECOND(pin != NULL);
    memset(pin, 0, sizeof(*pin));
    ak_cur region, rest;
    size_t apl;
    AK_ENSURE(arn.len < sizeof(pin->arn) && s_kms_arn_split(arn, &region, &apl, &rest), AK_E_CONFIG);
    if (ak_cur_starts_with(rest, AK_CUR_LIT("alias/"))) {
        ak_cur name = ak_cur_from(rest.ptr + 6, rest.len - 6);
        /* "alias/aws/..." names AWS managed keys, whose policies we do not control */
        AK_ENSURE(s_kms_id_chars(name, true) && !ak_cur_starts_with(name, AK_CUR_LIT("aws/")), AK_E_CONFIG);
        pin->alias = true;
    } else {
        AK_ENSURE(ak_cur_starts_with(rest, AK_CUR_LIT("key/")) &&
                      s_kms_id_chars(ak_cur_from(rest.ptr + 4, rest.len - 4), false),
                  AK_E_CONFIG);
    }
    memcpy(pin->arn, arn.ptr, arn.len);
    memcpy(pin->region, region.ptr, region.len);
    pin->account_prefix_len = apl;
    return AK_OK;
}

bool ak_kms_key_answer_ok(ak_cur asked, ak_cur answered) {
    ak_cur region, rest, got_region, got_rest;
    size_t apl, got_apl;
    if (!s_kms_arn_split(asked, &region, &apl, &rest)) return true; /* not a pin */
    if (ak_cur_starts_with(rest, AK_CUR_LIT("key/"))) return ak_cur_eq(asked, answered);
    /* alias pin: a key ARN of the same partition, region and account */
    return s_kms_arn_split(answered, &got_region, &got_apl, &got_rest) && got_apl == apl &&
           memcmp(answered.ptr, asked.ptr, apl) == 0 && ak_cur_starts_with(got_rest, AK_CUR_LIT("key/")) &&
           s_kms_id_chars(ak_cur_from(got_rest.ptr + 4, got_rest.len - 4), false);
}

/* Adds a base64 string member. */
static ak_err s_kms_set_b64(json_t *o, const char *key, ak_cur raw) {
    ak_buf b;
    ak_buf_init(&b, 2 * AK_KMS_MAX_ATTESTATION);
    ak_err rc = ak_b64_encode(raw.ptr, raw.len, &b);
    if (rc == AK_OK) {
        json_t *s = ak_json_string_cur(ak_buf_cur(&b));
        rc = s != NULL && json_object_set_new(o, key, s) == 0 ? AK_OK : AK_E_NOMEM;
    }
    ak_buf_free(&b);
    return rc;
}

/* Sets o.Recipient = {AttestationDocument, KeyEncryptionAlgorithm: RSAES_OAEP_SHA_256}. */
static ak_err s_kms_set_recipient(json_t *o, ak_cur doc) {
    json_t *r = json_object();
    AK_ENSURE(r != NULL, AK_E_NOMEM);
    ak_err rc = s_kms_set_b64(r, "AttestationDocument", doc);
    if (rc == AK_OK &&
        json_object_set_new(r, "KeyEncryptionAlgorithm", json_string("RSAES_OAEP_SHA_256")) != 0)
        rc = AK_E_NOMEM;
    if (rc != AK_OK) {
        json_decref(r);
        return rc;
    }
    return json_object_set_new(o, "Recipient", r) == 0 ? AK_OK : AK_E_NOMEM;
}

ak_err ak_kms_decrypt_body(const ak_kms_decrypt *req, ak_buf *body) {
    AK_ENSURE(req->ciphertext_blob.len > 0 && req->attestation_doc.len > 0, AK_E_INVALID_INPUT);
    AK_ENSURE(req->ciphertext_blob.len <= AK_KMS_MAX_CIPHERTEXT_BLOB &&
                  req->attestation_doc.len <= AK_KMS_MAX_ATTESTATION && req->key_id.len <= AK_KMS_MAX_KEY_ID,
              AK_E_LIMIT);
    ak_err rc = AK_E_NOMEM;
    json_t *o = json_object();
    if (o == NULL) goto out;
    AK_GUARD_OUT(s_kms_set_b64(o, "CiphertextBlob", req->ciphertext_blob));
    rc = AK_E_NOMEM;
    if (json_object_set_new(o, "EncryptionAlgorithm", json_string("SYMMETRIC_DEFAULT")) != 0) goto out;
    if (req->key_id.len > 0) {
        json_t *k = ak_json_string_cur(req->key_id);
        AK_ENSURE_OUT(k != NULL, AK_E_INVALID_INPUT); /* not UTF-8 */
        if (json_object_set_new(o, "KeyId", k) != 0) goto out;
    }
    AK_GUARD_OUT(s_kms_set_recipient(o, req->attestation_doc));
    rc = ak_json_dump(o, body);
out:
    json_decref(o);
    return rc;
}

ak_err ak_kms_generate_body(const ak_kms_generate *req, ak_buf *body) {
    AK_ENSURE(req->key_id.len > 0 && req->attestation_doc.len > 0, AK_E_INVALID_INPUT);
    AK_ENSURE(req->attestation_doc.len <= AK_KMS_MAX_ATTESTATION && req->key_id.len <= AK_KMS_MAX_KEY_ID,
              AK_E_LIMIT);
    ak_err rc = AK_E_NOMEM;
    json_t *o = json_object(), *k = NULL;
    if (o == NULL) goto out;
    k = ak_json_string_cur(req->key_id);
    AK_ENSURE_OUT(k != NULL, AK_E_INVALID_INPUT); /* not UTF-8 */
    if (json_object_set_new(o, "KeyId", k) != 0) goto out;
    if (json_object_set_new(o, "KeySpec", json_string("AES_256")) != 0) goto out;
    AK_GUARD_OUT(s_kms_set_recipient(o, req->attestation_doc));
    rc = ak_json_dump(o, body);
out:
    json_decref(o);
    return rc;
}

/* What both answers share: only `allowed` members, no Plaintext (it would have crossed the parent
 * in the clear), the KeyId agreeing with what was asked (required when `need_key_id`; copied to
 * `key_arn` when non-NULL), and CiphertextForRecipient decoded into `cms`. */
static ak_err s_kms_parse_recipient_answer(const json_t *o, const char *const *allowed, ak_cur asked,
                                           bool need_key_id, ak_buf *key_arn, ak_buf *cms) {
    ak_cur v = {0};
    bool present;
    AK_ENSURE(ak_json_only_keys(o, allowed) == AK_OK, AK_E_KMS_RESPONSE_MALFORMED);
    AK_ENSURE(ak_json_str_opt(o, "Plaintext", &v, &present) == AK_OK && (!present || v.len == 0),
              AK_E_KMS_RESPONSE_MALFORMED);
    v = (ak_cur){0};
    AK_ENSURE(ak_json_str_opt(o, "KeyId", &v, &present) == AK_OK && v.len <= AK_KMS_MAX_KEY_ID,
              AK_E_KMS_RESPONSE_MALFORMED);
    ak_cur region, rest;
    size_t apl;
    bool pinned = s_kms_arn_split(asked, &region, &apl, &rest); /* asked by ARN: the answer must agree */
    if (pinned || need_key_id) AK_ENSURE(present && ak_kms_key_answer_ok(asked, v), AK_E_KMS_KEY_MISMATCH);
    if (key_arn != NULL) AK_GUARD(ak_buf_append_cur(key_arn, v));
    AK_ENSURE(ak_json_str(o, "CiphertextForRecipient", &v) == AK_OK && v.len > 0,
              AK_E_KMS_RESPONSE_MALFORMED);
    AK_ENSURE(ak_b64_decode(v, cms) == AK_OK, AK_E_KMS_RESPONSE_MALFORMED);
    return AK_OK;
}

ak_err ak_kms_parse_decrypt_response(ak_cur text, ak_cur key_id, ak_buf *cms) {
    static const char *const allowed[] = {"KeyId",     "CiphertextForRecipient", "EncryptionAlgorithm",
                                          "Plaintext", "KeyMaterialId",          NULL};
    json_t *o = NULL;
    ak_cur v;
    bool present;
    ak_err rc = AK_OK;
    size_t start = cms->len;
    AK_ENSURE(ak_json_parse_object(text, &o) == AK_OK, AK_E_KMS_RESPONSE_MALFORMED);
    AK_ENSURE_OUT(ak_json_str_opt(o, "EncryptionAlgorithm", &v, &present) == AK_OK &&
                      (!present || ak_cur_eq_str(v, "SYMMETRIC_DEFAULT")),
                  AK_E_KMS_RESPONSE_MALFORMED);
    rc = s_kms_parse_recipient_answer(o, allowed, key_id, false, NULL, cms);
out:
    if (rc != AK_OK) cms->len = start;
    json_decref(o);
    return rc;
}

ak_err ak_kms_parse_generate_response(ak_cur text, ak_cur key_id, ak_buf *blob, ak_buf *key_arn,
                                      ak_buf *cms) {
    static const char *const allowed[] = {"KeyId",     "CiphertextForRecipient", "CiphertextBlob",
                                          "Plaintext", "KeyMaterialId",          NULL};
    json_t *o = NULL;
    ak_cur v;
    ak_err rc = AK_OK;
    size_t s_blob = blob->len, s_arn = key_arn->len, s_cms = cms->len;
    AK_ENSURE(ak_json_parse_object(text, &o) == AK_OK, AK_E_KMS_RESPONSE_MALFORMED);
    AK_GUARD_OUT(s_kms_parse_recipient_answer(o, allowed, key_id, true, key_arn, cms));
    AK_ENSURE_OUT(ak_json_str(o, "CiphertextBlob", &v) == AK_OK && ak_b64_decode(v, blob) == AK_OK &&
                      blob->len > s_blob && blob->len - s_blob <= AK_KMS_MAX_CIPHERTEXT_BLOB,
                  AK_E_KMS_RESPONSE_MALFORMED);
out:
    if (rc != AK_OK) {
        blob->len = s_blob;
        key_arn->len = s_arn;
        cms->len = s_cms;
    }
    json_decref(o);
    return rc;
}

static ak_err s_kms_type_err(ak_cur t) {
    static const char *const sig[] = {"InvalidSignatureException", "IncompleteSignatureException",
                                      "UnrecognizedClientException", "ExpiredTokenException",
                                      "MissingAuthenticationTokenException"};
    for (size_t i = 0; i < sizeof(sig) / sizeof(sig[0]); i++)
        if (ak_cur_eq_str(t, sig[i])) return AK_E_KMS_SIGNATURE_REJECTED;
    if (ak_cur_eq_str(t, "AccessDeniedException")) return AK_E_KMS_ACCESS_DENIED;
    if (ak_cur_eq_str(t, "InvalidCiphertextException")) return AK_E_KMS_INVALID_CIPHERTEXT;
    if (ak_cur_eq_str(t, "IncorrectKeyException")) return AK_E_KMS_KEY_MISMATCH;
    if (ak_cur_eq_str(t, "ThrottlingException")) return AK_E_THROTTLED;
    return AK_E_KMS_ERROR;
}

ak_err ak_kms_error_from_response(const ak_http_response *resp, ak_buf *type) {
    json_t *o = NULL;
    ak_cur t = {0};
    if (resp->status >= 200 && resp->status < 300) return AK_OK;
    if (ak_json_parse_object(ak_buf_cur(&resp->body), &o) != AK_OK || ak_json_str(o, "__type", &t) != AK_OK) {
        t = (ak_cur){0};
        if (!ak_http_response_header(resp, "x-amzn-errortype", &t)) t = (ak_cur){0};
        long colon = ak_cur_find(t, ':'); /* "Type:http://internal.amazon.com/..." */
        if (colon >= 0) t.len = (size_t)colon;
    }
    long hash = -1;
    for (size_t i = 0; i < t.len; i++)
        if (t.ptr[i] == '#') hash = (long)i;
    if (hash >= 0) {
        t.ptr += hash + 1;
        t.len -= (size_t)hash + 1;
    }
    ak_err e = resp->status >= 500 ? AK_E_KMS_ERROR : s_kms_type_err(t);
    if (resp->status == 429 || resp->status == 503) e = AK_E_THROTTLED;
    if (type != NULL && t.len > 0 && t.len < 128 && ak_buf_append_cur(type, t) != AK_OK) type->len = 0;
    json_decref(o);
    return e;
}

/* Signs `body` for `op` (TrentService.<op>), sends it, and leaves a 200 answer in `resp`; every
 * other outcome is logged (never the body) and mapped per ak/kms.h. */
static ak_err s_kms_post(ak_kms *kms, const ak_sigv4_creds *creds, const char *op, ak_cur body,
                         int64_t deadline_ms, ak_http_response *resp) {
    char target[64];
    ak_awsjson_req req;
    snprintf(target, sizeof(target), "TrentService.%s", op);
    ak_awsjson_call call = {.url = kms->url,
                            .host = ak_cur_from_str(kms->host),
                            .region = ak_cur_from_str(kms->region),
                            .service = AK_CUR_LIT("kms"),
                            .target = ak_cur_from_str(target),
                            .body = body,
                            .deadline_ms = deadline_ms,
                            .idempotent = true,
                            .max_response = AK_KMS_MAX_RESPONSE};
    ak_err rc = ak_awsjson_sign(creds, &call, &req);
    if (rc == AK_OK) rc = ak_http_do(kms->http, &req.http, resp);
    ak_awsjson_req_free(&req);
    if (rc != AK_OK) {
        ak_log_warn("kms request failed", "op", op, "reason", ak_err_reason(rc));
        return rc;
    }
    if (resp->status != 200) {
        ak_buf type;
        char st[16];
        ak_buf_init(&type, 256);
        rc = ak_kms_error_from_response(resp, &type);
        if (rc == AK_OK) rc = AK_E_KMS_ERROR; /* another 2xx */
        snprintf(st, sizeof(st), "%ld", resp->status);
        ak_log_warn("kms error", "op", op, "status", st, "type", ak_buf_cstr(&type), "reason",
                    ak_err_reason(rc));
        ak_buf_free(&type);
    }
    return rc;
}

ak_err ak_kms_decrypt_for_recipient(ak_kms *kms, const ak_sigv4_creds *creds, const ak_kms_decrypt *req,
                                    ak_buf *cms) {
    AK_PRECOND(kms != NULL && creds != NULL && req != NULL && cms != NULL);
    ak_buf body;
    ak_http_response resp;
    ak_buf_init(&body, 3 * AK_KMS_MAX_ATTESTATION);
    ak_http_response_init(&resp);
    ak_err rc = ak_kms_decrypt_body(req, &body);
    if (rc == AK_OK) rc = s_kms_post(kms, creds, "Decrypt", ak_buf_cur(&body), req->deadline_ms, &resp);
    if (rc == AK_OK) {
        rc = ak_kms_parse_decrypt_response(ak_buf_cur(&resp.body), req->key_id, cms);
        if (rc != AK_OK) ak_log_warn("kms response refused", "op", "Decrypt", "reason", ak_err_reason(rc));
    }
    ak_buf_free(&body);
    ak_http_response_free(&resp);
    return rc;
}

ak_err ak_kms_generate_for_recipient(ak_kms *kms, const ak_sigv4_creds *creds, const ak_kms_generate *req,
                                     ak_buf *blob, ak_buf *key_arn, ak_buf *cms) {
    AK_PRECOND(kms != NULL && creds != NULL && req != NULL && blob != NULL && key_arn != NULL && cms != NULL);
    ak_buf body;
    ak_http_response resp;
    ak_buf_init(&body, 3 * AK_KMS_MAX_ATTESTATION);
    ak_http_response_init(&resp);
    ak_err rc = ak_kms_generate_body(req, &body);
    if (rc == AK_OK)
        rc = s_kms_post(kms, creds, "GenerateDataKey", ak_buf_cur(&body), req->deadline_ms, &resp);
    if (rc == AK_OK) {
        rc = ak_kms_parse_generate_response(ak_buf_cur(&resp.body), req->key_id, blob, key_arn, cms);
        if (rc != AK_OK)
            ak_log_warn("kms response refused", "op", "GenerateDataKey", "reason", ak_err_reason(rc));
    }
    ak_buf_free(&body);
    ak_http_response_free(&resp);
    return rc;
}
