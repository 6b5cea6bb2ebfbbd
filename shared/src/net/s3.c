/*
 * s3.c — S3 client over ak_http + ak_sigv4 (see ak/s3.h).
 */
#include "ak/s3.h"

#include <bearssl_hash.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/ct.h"
#include "ak/limits.h"
#include "ak/log.h"
#include "ak/xml.h"

#define S_MAX_HEADERS 32u

/* ---------------------------------------------------------------- config */

ak_err ak_s3_config_from_env(ak_s3_config *cfg) {
    AK_PRECOND(cfg != NULL);
    memset(cfg, 0, sizeof(*cfg));
    const char *r = getenv("AWS_REGION");
    if (r == NULL || r[0] == '\0') r = getenv("AWS_DEFAULT_REGION");
    AK_ENSURE(r != NULL && r[0] != '\0', AK_E_CONFIG);
    cfg->region = r;
    const char *ep = getenv("AK_S3_ENDPOINT");
    if (ep != NULL && ep[0] != '\0') {
        cfg->endpoint = ep;
        cfg->path_style = true;
    }
    return AK_OK;
}

ak_err ak_s3_env_creds(ak_sigv4_creds *creds) {
    AK_PRECOND(creds != NULL);
    memset(creds, 0, sizeof(*creds));
    creds->access_key_id = ak_cur_from_str(getenv("AWS_ACCESS_KEY_ID"));
    creds->secret_access_key = ak_cur_from_str(getenv("AWS_SECRET_ACCESS_KEY"));
    creds->session_token = ak_cur_from_str(getenv("AWS_SESSION_TOKEN"));
    AK_ENSURE(creds->access_key_id.len > 0 && creds->secret_access_key.len > 0, AK_E_CONFIG);
    return AK_OK;
}

ak_err ak_s3_init(ak_s3 *s3, ak_http *http, const ak_s3_config *cfg) {
    AK_PRECOND(s3 != NULL && http != NULL && cfg != NULL);
    memset(s3, 0, sizeof(*s3));
    AK_GUARD(ak_sigv4_endpoint(cfg->endpoint, "s3", cfg->region, s3->scheme, s3->host, sizeof(s3->host)));
    memcpy(s3->region, cfg->region, strlen(cfg->region) + 1);
    s3->http = http;
    s3->path_style = cfg->path_style;
    return AK_OK;
}

/* ---------------------------------------------------------------- errors */

ak_cur ak_s3_etag_unquote(ak_cur e) {
    if (ak_cur_starts_with(e, AK_CUR_LIT("W/"))) {
        e.ptr += 2;
        e.len -= 2;
    }
    if (e.len >= 2 && e.ptr[0] == '"' && e.ptr[e.len - 1] == '"') {
        e.ptr++;
        e.len -= 2;
    }
    return e;
}

static ak_err s_code_err(ak_cur code) {
    static const struct {
        const char *code;
        ak_err e;
    } map[] = {
        {"AccessDenied", AK_E_ACCESS_DENIED},
        {"SignatureDoesNotMatch", AK_E_ACCESS_DENIED},
        {"InvalidAccessKeyId", AK_E_ACCESS_DENIED},
        {"InvalidToken", AK_E_ACCESS_DENIED},
        {"ExpiredToken", AK_E_ACCESS_DENIED},
        {"AllAccessDisabled", AK_E_ACCESS_DENIED},
        {"NoSuchKey", AK_E_NOT_FOUND},
        {"NoSuchBucket", AK_E_NOT_FOUND},
        {"PreconditionFailed", AK_E_PRECONDITION_FAILED},
        {"ConditionalRequestConflict", AK_E_CONFLICT},
        {"EntityTooLarge", AK_E_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (ak_cur_eq_str(code, map[i].code)) return map[i].e;
    return AK_E__COUNT;
}

static ak_err s_status_err(long status) {
    switch (status) {
        case 401:
        case 403:
            return AK_E_ACCESS_DENIED;
        case 404:
            return AK_E_NOT_FOUND;
        case 409:
            return AK_E_CONFLICT;
        case 412:
            return AK_E_PRECONDITION_FAILED;
        default:
            return AK_E_S3_ERROR; /* 5xx/429 after retries, other 4xx */
    }
}

ak_err ak_s3_error_from_response(const ak_http_response *resp, ak_buf *code) {
    AK_PRECOND(resp != NULL);
    ak_err e = AK_E__COUNT;
    if (resp->body.len > 0) {
        ak_xml x;
        if (ak_xml_parse(ak_buf_cur(&resp->body), &x) == AK_OK) {
            ak_buf c;
            ak_buf_init(&c, 256);
            uint32_t root = 0;
            bool found = ak_xml_root_is(&x, "Error") ? ak_xml_child(&x, root, "Code", &root)
                                                     : ak_xml_find(&x, 0, "Error/Code", &root);
            if (found && ak_xml_text(&x, root, &c) == AK_OK) {
                e = s_code_err(ak_buf_cur(&c));
                if (code && ak_buf_append_cur(code, ak_buf_cur(&c)) != AK_OK)
                    ak_buf_clear(code); /* the code is only for logs */
            }
            ak_buf_free(&c);
            ak_xml_free(&x);
        }
    }
    if (e == AK_E__COUNT) e = s_status_err(resp->status);
    return e;
}

/* ---------------------------------------------------------------- request core */

typedef struct s_hdrs {
    ak_http_header http[S_MAX_HEADERS + 1];
    ak_sigv4_header sig[S_MAX_HEADERS];
    size_t n;
} s_hdrs;

static ak_err s_hdr_add(s_hdrs *h, const char *name, ak_cur value) {
    AK_ENSURE(h->n < S_MAX_HEADERS, AK_E_LIMIT);
    h->http[h->n] = (ak_http_header){name, value};
    h->sig[h->n] = (ak_sigv4_header){ak_cur_from_str(name), value};
    h->n++;
    return AK_OK;
}

typedef struct s_op {
    const char *name; /* for logs: "PutObject" */
    const char *method;
    const char *bucket;
    ak_cur key;   /* raw key; empty for bucket-level operations */
    ak_cur query; /* already encoded */
    ak_cur body;
    bool idempotent;
    size_t max_response;
    bool secret_body;
} s_op;

static bool s_bucket_ok(const char *b) {
    size_t n = b ? strlen(b) : 0;
    if (n < 3 || n > 63) return false;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' || b[i] == '.'))
            return false;
    return true;
}

/* Builds, signs and sends one request. `extra` holds the operation's own headers (signed too). */
static ak_err s_send(ak_s3 *s3, const ak_s3_call *call, const s_op *op, const s_hdrs *extra,
                     ak_http_response *resp) {
    AK_PRECOND(s3 != NULL && call != NULL && call->creds != NULL && op != NULL && resp != NULL);
    AK_ENSURE(s_bucket_ok(op->bucket), AK_E_INVALID_INPUT);
    AK_ENSURE(op->key.len <= AK_S3_MAX_KEY, AK_E_INVALID_INPUT);
    for (size_t i = 0; i < op->key.len; i++)
        AK_ENSURE(op->key.ptr[i] != '\0', AK_E_INVALID_INPUT);
    ak_buf host, path, url;
    ak_sigv4_result sr;
    s_hdrs h;
    ak_err rc = AK_OK;
    char date[17], phash[65];
    ak_buf_init(&host, 512);
    ak_buf_init(&path, 4 * AK_S3_MAX_KEY + 128);
    ak_buf_init(&url, 16384);
    ak_sigv4_result_init(&sr);
    memset(&h, 0, sizeof(h));

    bool vhost = !s3->path_style && strchr(op->bucket, '.') == NULL;
    if (vhost)
        AK_GUARD_OUT(ak_buf_printf(&host, "%s.%s", op->bucket, s3->host));
    else
        AK_GUARD_OUT(ak_buf_append_str(&host, s3->host));
    AK_GUARD_OUT(ak_buf_append_byte(&path, '/'));
    if (!vhost) {
        AK_GUARD_OUT(ak_buf_append_str(&path, op->bucket));
        if (op->key.len) AK_GUARD_OUT(ak_buf_append_byte(&path, '/'));
    }
    AK_GUARD_OUT(ak_sigv4_uri_encode(op->key, true, &path));
    AK_GUARD_OUT(ak_buf_printf(&url, "%s://%s%s", s3->scheme, ak_buf_cstr(&host), ak_buf_cstr(&path)));
    if (op->query.len) {
        AK_GUARD_OUT(ak_buf_append_byte(&url, '?'));
        AK_GUARD_OUT(ak_buf_append_cur(&url, op->query));
    }

    AK_GUARD_OUT(ak_sigv4_amz_date(ak_http_now_ms() / 1000, date));
    ak_sigv4_payload_hash(op->body, phash);
    /* Host is set explicitly so the signed value is exactly the one sent. */
    AK_GUARD_OUT(s_hdr_add(&h, "Host", ak_buf_cur(&host)));
    AK_GUARD_OUT(s_hdr_add(&h, "x-amz-date", ak_cur_from_str(date)));
    AK_GUARD_OUT(s_hdr_add(&h, "x-amz-content-sha256", ak_cur_from_str(phash)));
    if (call->creds->session_token.len)
        AK_GUARD_OUT(s_hdr_add(&h, "x-amz-security-token", call->creds->session_token));
    for (size_t i = 0; extra && i < extra->n; i++)
        AK_GUARD_OUT(s_hdr_add(&h, extra->http[i].name, extra->http[i].value));

    ak_sigv4_request sreq = {.method = ak_cur_from_str(op->method),
                             .path = ak_buf_cur(&path),
                             .query = op->query,
                             .headers = h.sig,
                             .n_headers = h.n,
                             .payload_hash = ak_cur_from_str(phash),
                             .s3 = true};
    ak_sigv4_scope scope = {ak_cur_from_str(date), ak_cur_from_str(s3->region), AK_CUR_LIT("s3")};
    AK_GUARD_OUT(ak_sigv4_sign(&sreq, call->creds, &scope, &sr));
    h.http[h.n++] = (ak_http_header){"Authorization", ak_buf_cur(&sr.authorization)};

    ak_http_request req = {.method = op->method,
                           .url = ak_buf_cstr(&url),
                           .headers = h.http,
                           .n_headers = h.n,
                           .body = op->body,
                           .deadline_ms = call->deadline_ms,
                           .idempotent = op->idempotent,
                           .max_response = op->max_response,
                           .body_secret = op->secret_body};
    rc = ak_http_do(s3->http, &req, resp);
    if (rc != AK_OK) {
        ak_log_warn("s3 request failed", "op", op->name, "bucket", op->bucket, "reason", ak_err_reason(rc));
    }
out:
    ak_buf_free(&host);
    ak_buf_free(&path);
    ak_buf_free(&url);
    ak_sigv4_result_free(&sr);
    return rc;
}

/* Maps a finished response: 2xx -> OK; else the S3 error, logged with its code. */
static ak_err s_result(const s_op *op, const ak_http_response *resp) {
    if (resp->status >= 200 && resp->status < 300) return AK_OK;
    ak_buf code;
    ak_buf_init(&code, 128);
    ak_err e = ak_s3_error_from_response(resp, &code);
    char st[16];
    snprintf(st, sizeof(st), "%ld", resp->status);
    ak_log_level lvl = (e == AK_E_NOT_FOUND || e == AK_E_PRECONDITION_FAILED) ? AK_LOG_INFO : AK_LOG_WARN;
    ak_log(lvl, "s3 error", "op", op->name, "bucket", op->bucket, "status", st, "code", ak_buf_cstr(&code),
           "reason", ak_err_reason(e), (const char *)0);
    ak_buf_free(&code);
    return e;
}

/* ---------------------------------------------------------------- operations */

static ak_err s_put_headers(const ak_s3_put_opts *opts, s_hdrs *h, char names[][96]) {
    if (opts == NULL) return AK_OK;
    if (opts->if_none_match) AK_GUARD(s_hdr_add(h, "If-None-Match", AK_CUR_LIT("*")));
    if (opts->if_match.len) AK_GUARD(s_hdr_add(h, "If-Match", ak_s3_etag_unquote(opts->if_match)));
    if (opts->content_type.len) AK_GUARD(s_hdr_add(h, "Content-Type", opts->content_type));
    AK_ENSURE(opts->n_meta <= AK_S3_MAX_META, AK_E_LIMIT);
    for (size_t i = 0; i < opts->n_meta; i++) {
        AK_PRECOND(opts->meta[i].name != NULL);
        size_t nl = strlen(opts->meta[i].name);
        AK_ENSURE(nl > 0 && nl + 12 < 96, AK_E_INVALID_INPUT);
        for (size_t j = 0; j < nl; j++) {
            char c = opts->meta[i].name[j];
            AK_ENSURE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_',
                      AK_E_INVALID_INPUT);
        }
        memcpy(names[i], "x-amz-meta-", 11);
        memcpy(names[i] + 11, opts->meta[i].name, nl + 1);
        AK_GUARD(s_hdr_add(h, names[i], opts->meta[i].value));
    }
    return AK_OK;
}

ak_err ak_s3_put(ak_s3 *s3, const ak_s3_call *call, const char *bucket, ak_cur key, ak_cur body,
                 const ak_s3_put_opts *opts, ak_buf *etag) {
    AK_ENSURE(key.len > 0, AK_E_INVALID_INPUT);
    s_hdrs h = {0};
    char names[AK_S3_MAX_META][96];
    AK_GUARD(s_put_headers(opts, &h, names));
    /* A conditional write is not retried after it was sent: a lost 200 would come back as a 412
     * on the retry and turn a success into a false "already exists". */
    bool conditional = opts && (opts->if_none_match || opts->if_match.len);
    s_op op = {.name = "PutObject",
               .method = "PUT",
               .bucket = bucket,
               .key = key,
               .body = body,
               .idempotent = !conditional,
               .max_response = 64u * 1024u};
    ak_http_response resp;
    ak_http_response_init(&resp);
    ak_err rc = s_send(s3, call, &op, &h, &resp);
    if (rc == AK_OK) rc = s_result(&op, &resp);
    if (rc == AK_OK && etag) {
        ak_cur v;
        if (ak_http_response_header(&resp, "etag", &v)) rc = ak_buf_append_cur(etag, v);
    }
    ak_http_response_free(&resp);
    return rc;
}

ak_err ak_s3_get(ak_s3 *s3, const ak_s3_call *call, const char *bucket, ak_cur key, size_t max, bool secret,
                 ak_http_response *resp) {
    AK_ENSURE(key.len > 0, AK_E_INVALID_INPUT);
    s_op op = {.name = "GetObject",
               .method = "GET",
               .bucket = bucket,
               .key = key,
               .idempotent = true,
               .max_response = max,
               .secret_body = secret};
    AK_GUARD(s_send(s3, call, &op, NULL, resp));
    return s_result(&op, resp);
}

ak_err ak_s3_head(ak_s3 *s3, const ak_s3_call *call, const char *bucket, ak_cur key, ak_http_response *resp) {
    AK_ENSURE(key.len > 0, AK_E_INVALID_INPUT);
    s_op op = {.name = "HeadObject", .method = "HEAD", .bucket = bucket, .key = key, .idempotent = true};
    AK_GUARD(s_send(s3, call, &op, NULL, resp));
    return s_result(&op, resp);
}

ak_err ak_s3_delete(ak_s3 *s3, const ak_s3_call *call, const char *bucket, ak_cur key) {
    AK_ENSURE(key.len > 0, AK_E_INVALID_INPUT);
    s_op op = {.name = "DeleteObject",
               .method = "DELETE",
               .bucket = bucket,
               .key = key,
               .idempotent = true,
               .max_response = 64u * 1024u};
    ak_http_response resp;
    ak_http_response_init(&resp);
    ak_err rc = s_send(s3, call, &op, NULL, &resp);
    if (rc == AK_OK) rc = s_result(&op, &resp);
    ak_http_response_free(&resp);
    return rc;
}

/* XML text escaping for keys in the DeleteObjects body. */
static ak_err s_xml_escape(ak_buf *out, ak_cur s) {
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        switch (c) {
            case '&':
                AK_GUARD(ak_buf_append_str(out, "&amp;"));
                break;
            case '<':
                AK_GUARD(ak_buf_append_str(out, "&lt;"));
                break;
            case '>':
                AK_GUARD(ak_buf_append_str(out, "&gt;"));
                break;
            case '"':
                AK_GUARD(ak_buf_append_str(out, "&quot;"));
                break;
            case '\'':
                AK_GUARD(ak_buf_append_str(out, "&apos;"));
                break;
            default:
                /* XML 1.0 cannot carry C0 controls other than tab/LF/CR, even as references. */
                AK_ENSURE(c >= 0x20 || c == '\t' || c == '\n' || c == '\r', AK_E_INVALID_INPUT);
                if (c < 0x20)
                    AK_GUARD(ak_buf_printf(out, "&#%u;", (unsigned)c));
                else
                    AK_GUARD(ak_buf_append_byte(out, c));
        }
    }
    return AK_OK;
}

static ak_err s_delete_batch(ak_s3 *s3, const ak_s3_call *call, const char *bucket, const ak_cur *keys,
                             size_t n, ak_s3_delete_error_fn on_error, void *ud, ak_s3_delete_result *res,
                             bool *all_denied) {
    ak_buf body, md5b64;
    ak_http_response resp;
    ak_xml x = {0};
    ak_buf k, c;
    ak_err rc = AK_OK;
    ak_buf_init(&body, (size_t)AK_S3_DELETE_BATCH * (6 * AK_S3_MAX_KEY + 32) + 128);
    ak_buf_init(&md5b64, 64);
    ak_buf_init(&k, 6 * AK_S3_MAX_KEY);
    ak_buf_init(&c, 256);
    ak_http_response_init(&resp);
    AK_GUARD_OUT(ak_buf_append_str(
        &body, "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"));
    for (size_t i = 0; i < n; i++) {
        AK_ENSURE_OUT(keys[i].len > 0 && keys[i].len <= AK_S3_MAX_KEY, AK_E_INVALID_INPUT);
        AK_GUARD_OUT(ak_buf_append_str(&body, "<Object><Key>"));
        AK_GUARD_OUT(s_xml_escape(&body, keys[i]));
        AK_GUARD_OUT(ak_buf_append_str(&body, "</Key></Object>"));
    }
    AK_GUARD_OUT(ak_buf_append_str(&body, "</Delete>"));
    /* S3 requires Content-MD5 on DeleteObjects (integrity of the key list, not security). */
    br_md5_context m;
    uint8_t md5[16];
    br_md5_init(&m);
    br_md5_update(&m, body.ptr, body.len);
    br_md5_out(&m, md5);
    AK_GUARD_OUT(ak_b64_encode(md5, 16, &md5b64));
    s_hdrs h = {0};
    AK_GUARD_OUT(s_hdr_add(&h, "Content-MD5", ak_buf_cur(&md5b64)));
    AK_GUARD_OUT(s_hdr_add(&h, "Content-Type", AK_CUR_LIT("application/xml")));
    /* Deleting the same keys twice is harmless: idempotent. */
    s_op op = {.name = "DeleteObjects",
               .method = "POST",
               .bucket = bucket,
               .query = AK_CUR_LIT("delete="),
               .body = ak_buf_cur(&body),
               .idempotent = true};
    AK_GUARD_OUT(s_send(s3, call, &op, &h, &resp));
    AK_GUARD_OUT(s_result(&op, &resp));
    /* 200: quiet mode lists only the failures (<Error><Key/><Code/></Error>). */
    AK_ENSURE_OUT(ak_xml_parse(ak_buf_cur(&resp.body), &x) == AK_OK && ak_xml_root_is(&x, "DeleteResult"),
                  AK_E_S3_ERROR);
    size_t failed = 0;
    uint32_t e;
    for (bool ok = ak_xml_child(&x, 0, "Error", &e); ok; ok = ak_xml_next_same(&x, e, &e)) {
        ak_buf_clear(&k);
        ak_buf_clear(&c);
        AK_GUARD_OUT(ak_xml_text_at(&x, e, "Key", &k));
        AK_GUARD_OUT(ak_xml_text_at(&x, e, "Code", &c));
        if (!ak_cur_eq_str(ak_buf_cur(&c), "AccessDenied")) *all_denied = false;
        if (on_error) on_error(ud, ak_buf_cur(&k), ak_buf_cur(&c));
        failed++;
    }
    AK_ENSURE_OUT(failed <= n, AK_E_S3_ERROR);
    res->failed += failed;
    res->deleted += n - failed;
out:
    ak_xml_free(&x);
    ak_buf_free(&body);
    ak_buf_free(&md5b64);
    ak_buf_free(&k);
    ak_buf_free(&c);
    ak_http_response_free(&resp);
    return rc;
}

ak_err ak_s3_delete_objects(ak_s3 *s3, const ak_s3_call *call, const char *bucket, const ak_cur *keys,
                            size_t n, ak_s3_delete_error_fn on_error, void *ud, ak_s3_delete_result *res) {
    AK_PRECOND(res != NULL && (keys != NULL || n == 0));
    memset(res, 0, sizeof(*res));
    bool all_denied = true;
    for (size_t i = 0; i < n; i += AK_S3_DELETE_BATCH) {
        size_t m = n - i < AK_S3_DELETE_BATCH ? n - i : AK_S3_DELETE_BATCH;
        AK_GUARD(s_delete_batch(s3, call, bucket, keys + i, m, on_error, ud, res, &all_denied));
    }
    if (res->failed == 0) return AK_OK;
    return all_denied ? AK_E_ACCESS_DENIED : AK_E_S3_ERROR;
}

/* Byte order, as S3 sorts keys (UTF-8 binary). */
static int s_key_cmp(ak_cur a, ak_cur b) {
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c) return c;
    return (a.len > b.len) - (a.len < b.len);
}

static bool s_param_ok(ak_cur v) {
    if (v.len > AK_S3_MAX_KEY) return false;
    for (size_t i = 0; i < v.len; i++)
        if (v.ptr[i] == '\0') return false;
    return true;
}

/* One Contents element -> key/size/etag/last-modified buffers. */
static ak_err s_list_contents(const ak_xml *x, uint32_t c, ak_buf *key, ak_buf *size, ak_buf *etag,
                              ak_buf *lm, uint64_t *sz) {
    ak_buf_clear(key);
    ak_buf_clear(etag);
    ak_buf_clear(lm);
    ak_buf_clear(size);
    ak_err rc = ak_xml_text_at(x, c, "Key", key);
    if (rc == AK_OK) rc = ak_xml_text_at(x, c, "Size", size);
    if (rc == AK_OK) rc = ak_cur_to_u64(ak_buf_cur(size), sz);
    if (rc == AK_E_NOT_FOUND || rc == AK_E_INVALID_INPUT) return AK_E_S3_ERROR;
    AK_GUARD(rc);
    /* optional fields */
    ak_err e1 = ak_xml_text_at(x, c, "ETag", etag);
    ak_err e2 = ak_xml_text_at(x, c, "LastModified", lm);
    (void)e1;
    (void)e2;
    return AK_OK;
}

ak_err ak_s3_list_ex(ak_s3 *s3, const ak_s3_call *call, const char *bucket, const ak_s3_list_opts *opts,
                     ak_s3_list_fn fn, void *ud, ak_s3_list_result *res) {
    AK_PRECOND(opts != NULL && fn != NULL);
    ak_s3_list_result dummy;
    if (res == NULL) res = &dummy;
    memset(res, 0, sizeof(*res));
    AK_ENSURE(s_param_ok(opts->prefix) && s_param_ok(opts->delimiter) && s_param_ok(opts->start_after),
              AK_E_INVALID_INPUT);
    unsigned page_size = opts->page_size;
    if (page_size == 0 || page_size > AK_S3_LIST_PAGE) page_size = AK_S3_LIST_PAGE;
    ak_buf token, query, key, pfx, etag, lm, size;
    ak_http_response resp;
    ak_err rc = AK_OK;
    size_t delivered = 0;
    ak_buf_init(&token, 4096);
    ak_buf_init(&query, 16384);
    ak_buf_init(&key, 6 * AK_S3_MAX_KEY);
    ak_buf_init(&pfx, 6 * AK_S3_MAX_KEY);
    ak_buf_init(&etag, 256);
    ak_buf_init(&lm, 64);
    ak_buf_init(&size, 32);
    ak_http_response_init(&resp);
    for (unsigned page = 0;; page++) {
        ak_xml x = {0};
        unsigned want = page_size;
        if (opts->max_keys && opts->max_keys - delivered < want)
            want = (unsigned)(opts->max_keys - delivered);
        ak_buf_clear(&query);
        /* Parameters in canonical (sorted) order; values AWS-encoded. */
        if (token.len) {
            AK_GUARD_OUT(ak_buf_append_str(&query, "continuation-token="));
            AK_GUARD_OUT(ak_sigv4_uri_encode(ak_buf_cur(&token), false, &query));
            AK_GUARD_OUT(ak_buf_append_byte(&query, '&'));
        }
        if (opts->delimiter.len) {
            AK_GUARD_OUT(ak_buf_append_str(&query, "delimiter="));
            AK_GUARD_OUT(ak_sigv4_uri_encode(opts->delimiter, false, &query));
            AK_GUARD_OUT(ak_buf_append_byte(&query, '&'));
        }
        AK_GUARD_OUT(ak_buf_printf(&query, "list-type=2&max-keys=%u", want));
        if (opts->prefix.len) {
            AK_GUARD_OUT(ak_buf_append_str(&query, "&prefix="));
            AK_GUARD_OUT(ak_sigv4_uri_encode(opts->prefix, false, &query));
        }
        if (opts->start_after.len && page == 0) {
            AK_GUARD_OUT(ak_buf_append_str(&query, "&start-after="));
            AK_GUARD_OUT(ak_sigv4_uri_encode(opts->start_after, false, &query));
        }
        s_op op = {.name = "ListObjectsV2",
                   .method = "GET",
                   .bucket = bucket,
                   .query = ak_buf_cur(&query),
                   .idempotent = true};
        AK_GUARD_OUT(s_send(s3, call, &op, NULL, &resp));
        AK_GUARD_OUT(s_result(&op, &resp));
        AK_ENSURE_OUT(ak_xml_parse(ak_buf_cur(&resp.body), &x) == AK_OK, AK_E_S3_ERROR);
        if (!ak_xml_root_is(&x, "ListBucketResult")) {
            ak_xml_free(&x);
            AK_ENSURE_OUT(false, AK_E_S3_ERROR);
        }
        /* Objects and common prefixes come as two sorted lists: merge them so the caller sees
         * one key order (S3 pages over the merged order too). */
        uint32_t c = 0, p = 0;
        bool have_c = ak_xml_child(&x, 0, "Contents", &c), have_p = ak_xml_child(&x, 0, "CommonPrefixes", &p);
        bool c_loaded = false, p_loaded = false, stopped = false;
        uint64_t sz = 0;
        while (rc == AK_OK && (have_c || have_p)) {
            if (opts->max_keys && delivered >= opts->max_keys) {
                stopped = true; /* the server sent more than asked for */
                break;
            }
            if (have_c && !c_loaded) {
                rc = s_list_contents(&x, c, &key, &size, &etag, &lm, &sz);
                c_loaded = true;
            }
            if (rc == AK_OK && have_p && !p_loaded) {
                ak_buf_clear(&pfx);
                rc = ak_xml_text_at(&x, p, "Prefix", &pfx);
                if (rc == AK_E_NOT_FOUND || rc == AK_E_INVALID_INPUT) rc = AK_E_S3_ERROR;
                p_loaded = true;
            }
            if (rc != AK_OK) break;
            if (have_p && (!have_c || s_key_cmp(ak_buf_cur(&pfx), ak_buf_cur(&key)) < 0)) {
                ak_s3_list_item it = {.key = ak_buf_cur(&pfx), .is_prefix = true};
                rc = fn(ud, &it);
                res->prefixes++;
                have_p = ak_xml_next_same(&x, p, &p);
                p_loaded = false;
            } else {
                ak_s3_list_item it = {ak_buf_cur(&key), sz, ak_buf_cur(&etag), ak_buf_cur(&lm), false};
                rc = fn(ud, &it);
                res->keys++;
                have_c = ak_xml_next_same(&x, c, &c);
                c_loaded = false;
            }
            delivered++;
        }
        bool truncated = false;
        ak_buf_clear(&size);
        if (rc == AK_OK && ak_xml_text_at(&x, 0, "IsTruncated", &size) == AK_OK)
            truncated = ak_cur_eq_str(ak_buf_cur(&size), "true");
        ak_buf_clear(&token);
        bool at_max = opts->max_keys && delivered >= opts->max_keys;
        if (rc == AK_OK && (stopped || (at_max && truncated))) res->truncated = true;
        if (rc == AK_OK && truncated && !at_max) {
            if (ak_xml_text_at(&x, 0, "NextContinuationToken", &token) != AK_OK || token.len == 0)
                rc = AK_E_S3_ERROR;
        }
        ak_xml_free(&x);
        if (rc != AK_OK || !truncated || at_max) break;
        /* A server that keeps saying "truncated" forever must not keep a Lambda busy: cap pages. */
        AK_ENSURE_OUT(page < 100000u, AK_E_LIMIT);
    }
out:
    ak_buf_free(&token);
    ak_buf_free(&query);
    ak_buf_free(&key);
    ak_buf_free(&pfx);
    ak_buf_free(&etag);
    ak_buf_free(&lm);
    ak_buf_free(&size);
    ak_http_response_free(&resp);
    return rc;
}

ak_err ak_s3_list(ak_s3 *s3, const ak_s3_call *call, const char *bucket, ak_cur prefix, unsigned page_size,
                  ak_s3_list_fn fn, void *ud) {
    ak_s3_list_opts o = {.prefix = prefix, .page_size = page_size};
    return ak_s3_list_ex(s3, call, bucket, &o, fn, ud, NULL);
}

ak_err ak_s3_copy(ak_s3 *s3, const ak_s3_call *call, const char *src_bucket, ak_cur src_key,
                  const char *dst_bucket, ak_cur dst_key, const ak_s3_put_opts *opts) {
    AK_ENSURE(src_key.len > 0 && dst_key.len > 0 && s_bucket_ok(src_bucket), AK_E_INVALID_INPUT);
    ak_buf src;
    ak_http_response resp;
    ak_xml x = {0};
    ak_err rc = AK_OK;
    ak_buf_init(&src, 4 * AK_S3_MAX_KEY + 128);
    ak_http_response_init(&resp);
    s_hdrs h = {0};
    char names[AK_S3_MAX_META][96];
    /* x-amz-copy-source: /<bucket>/<url-encoded key> */
    AK_GUARD_OUT(ak_buf_printf(&src, "/%s/", src_bucket));
    AK_GUARD_OUT(ak_sigv4_uri_encode(src_key, true, &src));
    AK_GUARD_OUT(s_hdr_add(&h, "x-amz-copy-source", ak_buf_cur(&src)));
    AK_GUARD_OUT(s_put_headers(opts, &h, names));
    if (opts && opts->n_meta) AK_GUARD_OUT(s_hdr_add(&h, "x-amz-metadata-directive", AK_CUR_LIT("REPLACE")));
    bool conditional = opts && (opts->if_none_match || opts->if_match.len);
    s_op op = {.name = "CopyObject",
               .method = "PUT",
               .bucket = dst_bucket,
               .key = dst_key,
               .idempotent = !conditional,
               .max_response = 64u * 1024u};
    AK_GUARD_OUT(s_send(s3, call, &op, &h, &resp));
    AK_GUARD_OUT(s_result(&op, &resp));
    /* S3 may answer 200 and put an <Error> in the body when a copy fails late. */
    if (ak_xml_parse(ak_buf_cur(&resp.body), &x) != AK_OK || !ak_xml_root_is(&x, "CopyObjectResult")) {
        rc = ak_s3_error_from_response(&resp, NULL);
        if (rc == AK_OK || rc == AK_E_S3_ERROR) rc = AK_E_S3_ERROR;
    }
out:
    ak_xml_free(&x);
    ak_buf_free(&src);
    ak_http_response_free(&resp);
    return rc;
}

ak_err ak_s3_create_bucket(ak_s3 *s3, const ak_s3_call *call, const char *bucket) {
    s_op op = {.name = "CreateBucket",
               .method = "PUT",
               .bucket = bucket,
               .idempotent = true,
               .max_response = 64u * 1024u};
    ak_http_response resp;
    ak_http_response_init(&resp);
    ak_err rc = s_send(s3, call, &op, NULL, &resp);
    if (rc == AK_OK && resp.status == 409) {
        ak_buf code;
        ak_buf_init(&code, 128);
        (void)ak_s3_error_from_response(&resp, &code);
        if (ak_cur_eq_str(ak_buf_cur(&code), "BucketAlreadyOwnedByYou")) resp.status = 200;
        ak_buf_free(&code);
    }
    if (rc == AK_OK) rc = s_result(&op, &resp);
    ak_http_response_free(&resp);
    return rc;
}
