/* apigw.c — API Gateway HTTP API v2 request decoding and response encoding (akrt/apigw.h). */
#include "akrt/apigw.h"

#include <string.h>

#include "ak/ct.h"
#include "ak/json.h"
#include "ak/limits.h"

/* ------------------------------------------------------------------ decoding */

/* Copies `c` into the arena with a trailing NUL; optionally lower-cases ASCII. */
static ak_err s_dup(ak_arena *a, ak_cur c, bool lower, ak_cur *out) {
    char *d = ak_arena_alloc(a, c.len + 1);
    AK_ENSURE(d != NULL, AK_E_NOMEM);
    for (size_t i = 0; i < c.len; i++) {
        char ch = (char)c.ptr[i];
        d[i] = (lower && ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    d[c.len] = '\0';
    *out = (ak_cur){(const uint8_t *)d, c.len};
    return AK_OK;
}

/* Input errors from the JSON helpers all mean "the event has an unexpected shape". */
static ak_err s_shape(ak_err e) { return (e == AK_E_NOMEM) ? e : AK_E_INVALID_EVENT; }

static ak_err s_req_str(const json_t *o, const char *key, ak_arena *a, ak_cur *out) {
    ak_cur v;
    ak_err e = ak_json_str(o, key, &v);
    AK_ENSURE(e == AK_OK, s_shape(e));
    return s_dup(a, v, false, out);
}

static ak_err s_opt_str(const json_t *o, const char *key, ak_arena *a, ak_cur *out) {
    ak_cur v = {(const uint8_t *)"", 0};
    bool present = false;
    ak_err e = ak_json_str_opt(o, key, &v, &present);
    AK_ENSURE(e == AK_OK, s_shape(e));
    return s_dup(a, present ? v : (ak_cur){(const uint8_t *)"", 0}, false, out);
}

/* An optional object of string values → kv array. Absent or null → empty. */
static ak_err s_kv_map(const json_t *o, const char *key, bool lower_names, ak_arena *a, const akrt_kv **out,
                       size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    const json_t *m = json_object_get(o, key);
    if (m == NULL || json_is_null(m)) return AK_OK;
    AK_ENSURE(json_is_object(m), AK_E_INVALID_EVENT);
    size_t n = json_object_size(m);
    if (n == 0) return AK_OK;
    akrt_kv *kv = ak_arena_alloc(a, n * sizeof(*kv));
    AK_ENSURE(kv != NULL, AK_E_NOMEM);
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) {
        AK_ENSURE(json_is_string(v), AK_E_INVALID_EVENT);
        size_t klen = strlen(k);
        AK_ENSURE(klen > 0, AK_E_INVALID_EVENT);
        AK_GUARD(s_dup(a, ak_cur_from(k, klen), lower_names, &kv[i].name));
        AK_GUARD(s_dup(a, ak_cur_from(json_string_value(v), json_string_length(v)), false, &kv[i].value));
        /* Two spellings of one header ("X-A" and "x-a") would let a check and a use disagree. */
        for (size_t j = 0; j < i; j++)
            AK_ENSURE(!ak_cur_eq(kv[j].name, kv[i].name), AK_E_INVALID_EVENT);
        i++;
    }
    *out = kv;
    *n_out = i;
    return AK_OK;
}

static ak_err s_cookies(const json_t *o, ak_arena *a, akrt_http_req *r) {
    const json_t *arr = json_object_get(o, "cookies");
    if (arr == NULL || json_is_null(arr)) return AK_OK;
    AK_ENSURE(json_is_array(arr), AK_E_INVALID_EVENT);
    size_t n = json_array_size(arr);
    if (n == 0) return AK_OK;
    ak_cur *c = ak_arena_alloc(a, n * sizeof(*c));
    AK_ENSURE(c != NULL, AK_E_NOMEM);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        AK_ENSURE(json_is_string(v), AK_E_INVALID_EVENT);
        AK_GUARD(s_dup(a, ak_cur_from(json_string_value(v), json_string_length(v)), false, &c[i]));
    }
    r->cookies = c;
    r->n_cookies = n;
    return AK_OK;
}

static ak_err s_body(const json_t *o, ak_arena *a, akrt_http_req *r) {
    bool b64 = false, present = false;
    AK_ENSURE(ak_json_bool_opt(o, "isBase64Encoded", &b64, &present) == AK_OK, AK_E_INVALID_EVENT);
    ak_cur body = {(const uint8_t *)"", 0};
    ak_err e = ak_json_str_opt(o, "body", &body, &present);
    AK_ENSURE(e == AK_OK, s_shape(e));
    r->body_was_base64 = b64;
    if (!b64) {
        AK_ENSURE(body.len <= AK_MAX_REQUEST_BODY, AK_E_TOO_LARGE);
        return s_dup(a, body, false, &r->body);
    }
    /* Refuse before decoding: 4 characters carry 3 bytes. */
    AK_ENSURE(body.len / 4u <= (AK_MAX_REQUEST_BODY + 2u) / 3u, AK_E_TOO_LARGE);
    ak_buf tmp;
    ak_buf_init_secret(&tmp, AK_MAX_REQUEST_BODY + 3u);
    ak_err rc = ak_b64_decode(body, &tmp);
    if (rc == AK_E_LIMIT) rc = AK_E_TOO_LARGE;
    if (rc == AK_OK && tmp.len > AK_MAX_REQUEST_BODY) rc = AK_E_TOO_LARGE;
    if (rc == AK_OK) rc = s_dup(a, ak_buf_cur(&tmp), false, &r->body);
    ak_buf_free(&tmp);
    return rc;
}

static ak_err s_decode(const json_t *ev, ak_arena *a, akrt_http_req *r) {
    AK_GUARD(s_req_str(ev, "version", a, &r->version));
    AK_ENSURE(ak_cur_eq_str(r->version, "2.0"), AK_E_INVALID_EVENT);
    AK_GUARD(s_req_str(ev, "routeKey", a, &r->route_key));
    AK_GUARD(s_req_str(ev, "rawPath", a, &r->raw_path));
    AK_GUARD(s_opt_str(ev, "rawQueryString", a, &r->raw_query));
    AK_GUARD(s_cookies(ev, a, r));
    AK_GUARD(s_kv_map(ev, "headers", true, a, &r->headers, &r->n_headers));
    AK_GUARD(s_kv_map(ev, "queryStringParameters", false, a, &r->query, &r->n_query));
    AK_GUARD(s_kv_map(ev, "pathParameters", false, a, &r->path_params, &r->n_path_params));

    const json_t *rc = json_object_get(ev, "requestContext");
    AK_ENSURE(json_is_object(rc), AK_E_INVALID_EVENT);
    AK_GUARD(s_req_str(rc, "requestId", a, &r->request_id));
    const json_t *http = json_object_get(rc, "http");
    AK_ENSURE(json_is_object(http), AK_E_INVALID_EVENT);
    AK_GUARD(s_req_str(http, "method", a, &r->method));
    AK_ENSURE(r->method.len > 0, AK_E_INVALID_EVENT);
    AK_GUARD(s_req_str(http, "path", a, &r->path));
    AK_GUARD(s_opt_str(http, "sourceIp", a, &r->source_ip));
    return s_body(ev, a, r);
}

/*
 * How much of the per-invocation arena the event's JSON tree may take (typical API Gateway
 * events need a few KiB; the rest of the tree, if any, goes to the heap as before). The tree is
 * released before returning; its arena blocks are wiped and reused after the response.
 */
#define S_TREE_ARENA_BUDGET (32u * 1024u)

ak_err akrt_apigw_decode(ak_cur event, ak_arena *arena, akrt_http_req *out) {
    AK_PRECOND(arena != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    json_t *ev = NULL;
    /* A tree of many small values: from the arena, not one malloc/free per value. */
    ak_arena *prev = ak_alloc_jansson_arena(arena, S_TREE_ARENA_BUDGET);
    ak_err rc = ak_json_parse_object(event, &ev);
    if (rc != AK_OK) {
        /* jansson reports allocation failure as a parse error; both end the same way. */
        rc = AK_E_INVALID_EVENT;
        goto out;
    }
    rc = s_decode(ev, arena, out);
out:
    json_decref(ev); /* inside the window: its arena blocks must not reach ak_free */
    (void)ak_alloc_jansson_arena(prev, S_TREE_ARENA_BUDGET);
    if (rc != AK_OK) memset(out, 0, sizeof(*out));
    return rc;
}

static bool s_lookup(const akrt_kv *kv, size_t n, const char *name, bool nocase, ak_cur *value) {
    ak_cur want = ak_cur_from_str(name);
    for (size_t i = 0; i < n; i++) {
        if (nocase ? ak_cur_eq_nocase(kv[i].name, want) : ak_cur_eq(kv[i].name, want)) {
            if (value) *value = kv[i].value;
            return true;
        }
    }
    return false;
}

bool akrt_http_header(const akrt_http_req *req, const char *name, ak_cur *value) {
    AK_PRECOND(req != NULL && name != NULL);
    return s_lookup(req->headers, req->n_headers, name, true, value);
}
bool akrt_http_query(const akrt_http_req *req, const char *name, ak_cur *value) {
    AK_PRECOND(req != NULL && name != NULL);
    return s_lookup(req->query, req->n_query, name, false, value);
}
bool akrt_http_path_param(const akrt_http_req *req, const char *name, ak_cur *value) {
    AK_PRECOND(req != NULL && name != NULL);
    return s_lookup(req->path_params, req->n_path_params, name, false, value);
}

/* ------------------------------------------------------------------ responses */

void akrt_http_resp_init(akrt_http_resp *r, ak_arena *arena) {
    AK_PRECOND(r != NULL && arena != NULL);
    memset(r, 0, sizeof(*r));
    r->arena = arena;
    ak_buf_init_secret(&r->body, AK_MAX_LAMBDA_PAYLOAD);
    r->status = 200;
}

void akrt_http_resp_reset(akrt_http_resp *r) {
    AK_PRECOND(r != NULL);
    r->status = 200;
    r->n_headers = 0;
    r->n_cookies = 0;
    r->body_binary = false;
    ak_buf_clear(&r->body);
}

void akrt_http_resp_free(akrt_http_resp *r) {
    AK_PRECOND(r != NULL);
    ak_buf_free(&r->body);
    r->n_headers = r->n_cookies = 0;
}

/* RFC 9110 §5.6.2 token characters. */
static bool s_is_tchar(uint8_t c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Header values and cookies: no CR, LF, NUL or other controls (tab allowed). */
static bool s_is_field_value(ak_cur v) {
    for (size_t i = 0; i < v.len; i++) {
        uint8_t c = v.ptr[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

ak_err akrt_http_set_header(akrt_http_resp *r, const char *name, const char *value) {
    AK_PRECOND(r != NULL && name != NULL && value != NULL);
    ak_cur n = ak_cur_from_str(name), v = ak_cur_from_str(value);
    AK_ENSURE(n.len > 0, AK_E_INVALID_INPUT);
    for (size_t i = 0; i < n.len; i++)
        AK_ENSURE(s_is_tchar(n.ptr[i]), AK_E_INVALID_INPUT);
    AK_ENSURE(s_is_field_value(v), AK_E_INVALID_INPUT);
    size_t slot = r->n_headers;
    for (size_t i = 0; i < r->n_headers; i++)
        if (ak_cur_eq_nocase(r->headers[i].name, n)) slot = i;
    AK_ENSURE(slot < AKRT_HTTP_MAX_RESP_HEADERS, AK_E_LIMIT);
    akrt_kv kv;
    AK_GUARD(s_dup(r->arena, n, true, &kv.name));
    AK_GUARD(s_dup(r->arena, v, false, &kv.value));
    r->headers[slot] = kv;
    if (slot == r->n_headers) r->n_headers++;
    return AK_OK;
}

ak_err akrt_http_add_cookie(akrt_http_resp *r, const char *cookie) {
    AK_PRECOND(r != NULL && cookie != NULL);
    ak_cur c = ak_cur_from_str(cookie);
    AK_ENSURE(c.len > 0 && s_is_field_value(c), AK_E_INVALID_INPUT);
    AK_ENSURE(r->n_cookies < AKRT_HTTP_MAX_RESP_COOKIES, AK_E_LIMIT);
    AK_GUARD(s_dup(r->arena, c, false, &r->cookies[r->n_cookies]));
    r->n_cookies++;
    return AK_OK;
}

ak_err akrt_http_set_body(akrt_http_resp *r, int status, const char *content_type, ak_cur body) {
    AK_PRECOND(r != NULL && content_type != NULL);
    AK_ENSURE(status >= 100 && status <= 599, AK_E_INTERNAL);
    ak_buf_clear(&r->body);
    AK_GUARD(ak_buf_append_cur(&r->body, body));
    AK_GUARD(akrt_http_set_header(r, "content-type", content_type));
    r->status = status;
    return AK_OK;
}

ak_err akrt_http_json(akrt_http_resp *r, int status, const json_t *v) {
    AK_PRECOND(r != NULL && v != NULL);
    AK_ENSURE(status >= 100 && status <= 599, AK_E_INTERNAL);
    ak_buf_clear(&r->body);
    AK_GUARD(ak_json_dump(v, &r->body));
    AK_GUARD(akrt_http_set_header(r, "content-type", "application/json"));
    r->status = status;
    return AK_OK;
}

/* Appends a JSON string literal for `s`, which must be valid UTF-8 (checked by the caller). */
static ak_err s_json_str(ak_buf *out, ak_cur s) {
    static const char hex[] = "0123456789abcdef";
    AK_GUARD(ak_buf_append_byte(out, '"'));
    size_t run = 0; /* bytes that need no escaping, appended in one go */
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        AK_GUARD(ak_buf_append(out, s.ptr + i - run, run));
        run = 0;
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
            case '"':
            case '\\':
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            default:
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
        }
        AK_GUARD(ak_buf_append(out, esc, n));
    }
    AK_GUARD(ak_buf_append(out, s.ptr + s.len - run, run));
    return ak_buf_append_byte(out, '"');
}

static ak_err s_json_cstr(ak_buf *out, const char *s) { return s_json_str(out, ak_cur_from_str(s)); }

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF. */
static bool s_utf8_valid(ak_cur s) {
    size_t i = 0;
    while (i < s.len) {
        uint8_t c = s.ptr[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else
            return false;
        if (s.len - i - 1 < n) return false;
        for (size_t k = 1; k <= n; k++) {
            uint8_t cc = s.ptr[i + k];
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}

static bool s_has_header(const akrt_http_resp *r, const char *name) {
    ak_cur n = ak_cur_from_str(name);
    for (size_t i = 0; i < r->n_headers; i++)
        if (ak_cur_eq_nocase(r->headers[i].name, n)) return true;
    return false;
}

static ak_err s_header_member(ak_buf *out, bool *first, const char *name, ak_cur value) {
    if (!*first) AK_GUARD(ak_buf_append_byte(out, ','));
    *first = false;
    AK_GUARD(s_json_cstr(out, name));
    AK_GUARD(ak_buf_append_byte(out, ':'));
    return s_json_str(out, value);
}

static ak_err s_encode(const akrt_http_resp *r, ak_buf *out) {
    static const char *const defaults[][2] = {
        {"content-type", "application/json"},
        {"cache-control", "no-store"},
        {"x-content-type-options", "nosniff"},
    };
    AK_ENSURE(r->status >= 100 && r->status <= 599, AK_E_INTERNAL);
    AK_GUARD(ak_buf_append_str(out, "{\"statusCode\":"));
    AK_GUARD(ak_buf_append_u64(out, (uint64_t)r->status));
    AK_GUARD(ak_buf_append_str(out, ",\"headers\":{"));
    bool first = true;
    for (size_t i = 0; i < r->n_headers; i++)
        AK_GUARD(s_header_member(out, &first, (const char *)r->headers[i].name.ptr, r->headers[i].value));
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (!s_has_header(r, defaults[i][0]))
            AK_GUARD(s_header_member(out, &first, defaults[i][0], ak_cur_from_str(defaults[i][1])));
    AK_GUARD(ak_buf_append_byte(out, '}'));
    if (r->n_cookies > 0) {
        AK_GUARD(ak_buf_append_str(out, ",\"cookies\":["));
        for (size_t i = 0; i < r->n_cookies; i++) {
            if (i) AK_GUARD(ak_buf_append_byte(out, ','));
            AK_GUARD(s_json_str(out, r->cookies[i]));
        }
        AK_GUARD(ak_buf_append_byte(out, ']'));
    }
    ak_cur body = ak_buf_cur(&r->body);
    /* JSON strings carry Unicode text only; anything else travels base64 and API Gateway
     * decodes it back to the exact bytes. */
    bool b64 = r->body_binary || !s_utf8_valid(body);
    AK_GUARD(ak_buf_append_str(out, ",\"body\":"));
    if (b64) {
        AK_GUARD(ak_buf_append_byte(out, '"'));
        AK_GUARD(ak_b64_encode(body.ptr, body.len, out));
        AK_GUARD(ak_buf_append_byte(out, '"'));
    } else {
        AK_GUARD(s_json_str(out, body));
    }
    AK_GUARD(ak_buf_append_str(out, b64 ? ",\"isBase64Encoded\":true}" : ",\"isBase64Encoded\":false}"));
    return AK_OK;
}

ak_err akrt_apigw_encode(const akrt_http_resp *r, ak_buf *out) {
    AK_PRECOND(r != NULL && out != NULL);
    size_t start = out->len;
    ak_err rc = s_encode(r, out);
    if (rc != AK_OK) {
        /* Never leave half a document behind (and wipe it: the body may be a secret). */
        if (out->ptr) ak_wipe(out->ptr + start, out->len - start);
        out->len = start;
        if (out->ptr) out->ptr[start] = 0;
    }
    return rc == AK_E_LIMIT ? AK_E_TOO_LARGE : rc;
}

ak_err akrt_http_error(akrt_http_resp *r, ak_err e) {
    AK_PRECOND(r != NULL);
    if (e == AK_OK) e = AK_E_INTERNAL;
    akrt_http_resp_reset(r);
    /* D14: {"error":"<human sentence>","reason":"<stable_code>"} */
    AK_GUARD(ak_buf_append_str(&r->body, "{\"error\":"));
    AK_GUARD(s_json_cstr(&r->body, ak_err_message(e)));
    AK_GUARD(ak_buf_append_str(&r->body, ",\"reason\":"));
    AK_GUARD(s_json_cstr(&r->body, ak_err_reason(e)));
    AK_GUARD(ak_buf_append_byte(&r->body, '}'));
    AK_GUARD(akrt_http_set_header(r, "content-type", "application/json"));
    r->status = ak_err_status(e);
    return AK_OK;
}
