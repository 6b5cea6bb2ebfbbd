/*
 * sigv4.c — AWS Signature Version 4 (see ak/sigv4.h for the rules and their sources).
 */
#include "ak/sigv4.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/ct.h"

static const char s_hex_upper[] = "0123456789ABCDEF";

static bool s_unreserved(uint8_t c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

ak_err ak_sigv4_uri_encode(ak_cur raw, bool keep_slash, ak_buf *out) {
    AK_PRECOND(out != NULL);
    /* Worst case triples the length: reserve once so the loop cannot fail half-way. */
    AK_ENSURE(raw.len <= (SIZE_MAX - 1) / 3, AK_E_LIMIT);
    AK_GUARD(ak_buf_reserve(out, raw.len * 3));
    for (size_t i = 0; i < raw.len; i++) {
        uint8_t c = raw.ptr[i];
        if (s_unreserved(c) || (keep_slash && c == '/')) {
            out->ptr[out->len++] = c;
        } else {
            out->ptr[out->len++] = '%';
            out->ptr[out->len++] = (uint8_t)s_hex_upper[c >> 4];
            out->ptr[out->len++] = (uint8_t)s_hex_upper[c & 15];
        }
    }
    out->ptr[out->len] = '\0';
    return AK_OK;
}

static int s_hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Strict percent-decoding: "%" must be followed by two hex digits. */
static ak_err s_uri_decode(ak_cur in, ak_buf *out) {
    AK_GUARD(ak_buf_reserve(out, in.len));
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.ptr[i];
        if (c == '%') {
            AK_ENSURE(i + 2 < in.len, AK_E_INVALID_INPUT);
            int hi = s_hexval(in.ptr[i + 1]), lo = s_hexval(in.ptr[i + 2]);
            AK_ENSURE(hi >= 0 && lo >= 0, AK_E_INVALID_INPUT);
            c = (uint8_t)(hi * 16 + lo);
            i += 2;
        }
        out->ptr[out->len++] = c;
    }
    out->ptr[out->len] = '\0';
    return AK_OK;
}

/* decode then encode once */
static ak_err s_reencode(ak_cur in, bool keep_slash, ak_buf *out) {
    ak_buf tmp;
    ak_buf_init(&tmp, in.len + 1);
    ak_err rc = s_uri_decode(in, &tmp);
    if (rc == AK_OK) rc = ak_sigv4_uri_encode(ak_buf_cur(&tmp), keep_slash, out);
    ak_buf_free(&tmp);
    return rc;
}

/*
 * Non-S3 path normalisation (RFC 3986 §5.2.4 remove_dot_segments, plus collapsing empty
 * segments, as AWS's suite expects: "//example//" -> "/example/"). A trailing '/' is kept
 * unless the result is the root.
 */
static ak_err s_normalize_path(ak_cur path, ak_buf *out) {
    /* segment stack as offsets into path */
    size_t starts[512], lens[512], n = 0;
    ak_cur rest = path;
    while (rest.len > 0) {
        size_t i = 0;
        while (i < rest.len && rest.ptr[i] != '/')
            i++;
        ak_cur seg = ak_cur_from(rest.ptr, i);
        rest.ptr += i;
        rest.len -= i;
        if (rest.len > 0) {
            rest.ptr++;
            rest.len--;
        }
        if (seg.len == 0 || ak_cur_eq_str(seg, ".")) continue;
        if (ak_cur_eq_str(seg, "..")) {
            if (n > 0) n--;
            continue;
        }
        AK_ENSURE(n < sizeof(starts) / sizeof(starts[0]), AK_E_LIMIT);
        starts[n] = (size_t)(seg.ptr - path.ptr);
        lens[n] = seg.len;
        n++;
    }
    AK_GUARD(ak_buf_append_byte(out, '/'));
    for (size_t i = 0; i < n; i++) {
        AK_GUARD(ak_buf_append(out, path.ptr + starts[i], lens[i]));
        if (i + 1 < n) AK_GUARD(ak_buf_append_byte(out, '/'));
    }
    if (n > 0 && path.len > 0 && path.ptr[path.len - 1] == '/') AK_GUARD(ak_buf_append_byte(out, '/'));
    return AK_OK;
}

static ak_err s_canonical_uri(const ak_sigv4_request *req, ak_buf *out) {
    ak_cur path = req->path.len ? req->path : AK_CUR_LIT("/");
    AK_ENSURE(path.ptr[0] == '/', AK_E_INVALID_INPUT);
    AK_ENSURE(path.len <= AK_SIGV4_MAX_PATH, AK_E_LIMIT);
    if (req->s3) {
        /* Segment by segment, so an encoded "%2F" inside a key segment stays encoded. */
        ak_cur rest = path, seg;
        while (ak_cur_split(&rest, '/', &seg)) {
            AK_GUARD(s_reencode(seg, false, out));
            AK_GUARD(ak_buf_append_byte(out, '/'));
        }
        return s_reencode(rest, false, out);
    }
    /* Other services: normalise, then encode the (already encoded) wire path again. */
    ak_buf norm;
    ak_buf_init(&norm, AK_SIGV4_MAX_PATH + 2);
    ak_err rc = s_normalize_path(path, &norm);
    if (rc == AK_OK) rc = ak_sigv4_uri_encode(ak_buf_cur(&norm), true, out);
    ak_buf_free(&norm);
    return rc;
}

typedef struct s_kv {
    ak_cur k;
    ak_cur v;
    size_t idx;
} s_kv;

static int s_cmp_cur(ak_cur a, ak_cur b) {
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0) return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

/* Insertion sort: tiny n, stable, no allocation. By key, then value when by_value, then index. */
static void s_sort_kv(s_kv *v, size_t n, bool by_value) {
    for (size_t i = 1; i < n; i++) {
        s_kv x = v[i];
        size_t j = i;
        while (j > 0) {
            int c = s_cmp_cur(v[j - 1].k, x.k);
            if (c == 0 && by_value) c = s_cmp_cur(v[j - 1].v, x.v);
            if (c == 0) c = v[j - 1].idx < x.idx ? -1 : 1;
            if (c <= 0) break;
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static ak_err s_canonical_query(ak_cur query, ak_buf *out) {
    /* Encoded keys/values live in one scratch buffer; s_kv points into it after it stops growing. */
    s_kv kv[AK_SIGV4_MAX_QUERY_PARAMS];
    size_t offs[AK_SIGV4_MAX_QUERY_PARAMS][4];
    size_t n = 0;
    ak_buf scratch;
    ak_err rc = AK_OK;
    ak_buf_init(&scratch, AK_SIGV4_MAX_CANONICAL);
    ak_cur rest = query, part;
    while (rest.len > 0) {
        if (!ak_cur_split(&rest, '&', &part)) {
            part = rest;
            rest.len = 0;
        }
        if (part.len == 0) continue;
        AK_ENSURE_OUT(n < AK_SIGV4_MAX_QUERY_PARAMS, AK_E_LIMIT);
        ak_cur k = part, v = {0};
        long eq = ak_cur_find(part, '=');
        if (eq >= 0) {
            k = ak_cur_from(part.ptr, (size_t)eq);
            v = ak_cur_from(part.ptr + eq + 1, part.len - (size_t)eq - 1);
        }
        offs[n][0] = scratch.len;
        AK_GUARD_OUT(s_reencode(k, false, &scratch));
        offs[n][1] = scratch.len;
        AK_GUARD_OUT(s_reencode(v, false, &scratch));
        offs[n][2] = scratch.len;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        kv[i].k = ak_cur_from(scratch.ptr + offs[i][0], offs[i][1] - offs[i][0]);
        kv[i].v = ak_cur_from(scratch.ptr + offs[i][1], offs[i][2] - offs[i][1]);
        kv[i].idx = i;
    }
    s_sort_kv(kv, n, true);
    for (size_t i = 0; i < n; i++) {
        if (i) AK_GUARD_OUT(ak_buf_append_byte(out, '&'));
        AK_GUARD_OUT(ak_buf_append_cur(out, kv[i].k));
        AK_GUARD_OUT(ak_buf_append_byte(out, '='));
        AK_GUARD_OUT(ak_buf_append_cur(out, kv[i].v));
    }
out:
    ak_buf_free(&scratch);
    return rc;
}

static bool s_tchar(uint8_t c) {
    /* RFC 7230 token characters */
    return s_unreserved(c) || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
           c == '*' || c == '+' || c == '^' || c == '`' || c == '|';
}

/* Appends a header value trimmed, with inner runs of spaces/tabs collapsed to one space. */
static ak_err s_append_value(ak_buf *out, ak_cur v) {
    size_t a = 0, b = v.len;
    while (a < b && (v.ptr[a] == ' ' || v.ptr[a] == '\t'))
        a++;
    while (b > a && (v.ptr[b - 1] == ' ' || v.ptr[b - 1] == '\t'))
        b--;
    AK_GUARD(ak_buf_reserve(out, b - a));
    bool in_space = false;
    for (size_t i = a; i < b; i++) {
        uint8_t c = v.ptr[i];
        if (c == ' ' || c == '\t') {
            if (!in_space) out->ptr[out->len++] = ' ';
            in_space = true;
        } else {
            out->ptr[out->len++] = c;
            in_space = false;
        }
    }
    out->ptr[out->len] = '\0';
    return AK_OK;
}

static ak_err s_canonical_headers(const ak_sigv4_request *req, ak_buf *creq, ak_buf *signed_headers) {
    AK_ENSURE(req->n_headers > 0, AK_E_INVALID_INPUT);
    AK_ENSURE(req->n_headers <= AK_SIGV4_MAX_HEADERS, AK_E_LIMIT);
    s_kv kv[AK_SIGV4_MAX_HEADERS];
    char lower[AK_SIGV4_MAX_HEADERS][128];
    for (size_t i = 0; i < req->n_headers; i++) {
        ak_cur name = req->headers[i].name, value = req->headers[i].value;
        AK_ENSURE(name.len > 0, AK_E_INVALID_INPUT);
        AK_ENSURE(name.len < sizeof(lower[0]), AK_E_LIMIT);
        for (size_t j = 0; j < name.len; j++) {
            uint8_t c = name.ptr[j];
            AK_ENSURE(s_tchar(c), AK_E_INVALID_INPUT);
            lower[i][j] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        }
        for (size_t j = 0; j < value.len; j++)
            AK_ENSURE(value.ptr[j] != '\r' && value.ptr[j] != '\n' && value.ptr[j] != '\0',
                      AK_E_INVALID_INPUT);
        kv[i].k = ak_cur_from(lower[i], name.len);
        kv[i].v = value;
        kv[i].idx = i;
    }
    s_sort_kv(kv, req->n_headers, false);
    for (size_t i = 0; i < req->n_headers; i++) {
        bool first = i == 0 || !ak_cur_eq(kv[i - 1].k, kv[i].k);
        if (first) {
            if (i) {
                AK_GUARD(ak_buf_append_byte(creq, '\n'));
                AK_GUARD(ak_buf_append_byte(signed_headers, ';'));
            }
            AK_GUARD(ak_buf_append_cur(creq, kv[i].k));
            AK_GUARD(ak_buf_append_byte(creq, ':'));
            AK_GUARD(ak_buf_append_cur(signed_headers, kv[i].k));
        } else {
            AK_GUARD(ak_buf_append_byte(creq, ','));
        }
        AK_GUARD(s_append_value(creq, kv[i].v));
    }
    AK_GUARD(ak_buf_append_byte(creq, '\n'));
    return AK_OK;
}

static bool s_valid_payload_hash(ak_cur h) {
    if (ak_cur_eq_str(h, AK_SIGV4_UNSIGNED_PAYLOAD)) return true;
    if (ak_cur_starts_with(h, AK_CUR_LIT("STREAMING-"))) return h.len < 64;
    if (h.len != 64) return false;
    for (size_t i = 0; i < 64; i++) {
        uint8_t c = h.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

ak_err ak_sigv4_canonical_request(const ak_sigv4_request *req, ak_buf *creq, ak_buf *signed_headers) {
    AK_PRECOND(req != NULL && creq != NULL && signed_headers != NULL);
    AK_ENSURE(req->method.len > 0 && req->method.len <= 32, AK_E_INVALID_INPUT);
    for (size_t i = 0; i < req->method.len; i++)
        AK_ENSURE(s_tchar(req->method.ptr[i]), AK_E_INVALID_INPUT);
    AK_ENSURE(s_valid_payload_hash(req->payload_hash), AK_E_INVALID_INPUT);
    AK_GUARD(ak_buf_append_cur(creq, req->method));
    AK_GUARD(ak_buf_append_byte(creq, '\n'));
    AK_GUARD(s_canonical_uri(req, creq));
    AK_GUARD(ak_buf_append_byte(creq, '\n'));
    AK_GUARD(s_canonical_query(req->query, creq));
    AK_GUARD(ak_buf_append_byte(creq, '\n'));
    AK_GUARD(s_canonical_headers(req, creq, signed_headers));
    AK_GUARD(ak_buf_append_byte(creq, '\n'));
    AK_GUARD(ak_buf_append_cur(creq, ak_buf_cur(signed_headers)));
    AK_GUARD(ak_buf_append_byte(creq, '\n'));
    AK_GUARD(ak_buf_append_cur(creq, req->payload_hash));
    return AK_OK;
}

void ak_sigv4_result_init(ak_sigv4_result *r) {
    AK_PRECOND(r != NULL);
    memset(r, 0, sizeof(*r));
    ak_buf_init_secret(&r->canonical_request, AK_SIGV4_MAX_CANONICAL);
    ak_buf_init(&r->signed_headers, 4096);
    ak_buf_init(&r->string_to_sign, 512);
    ak_buf_init(&r->authorization, 8192);
}

void ak_sigv4_result_free(ak_sigv4_result *r) {
    if (r == NULL) return;
    ak_buf_free(&r->canonical_request);
    ak_buf_free(&r->signed_headers);
    ak_buf_free(&r->string_to_sign);
    ak_buf_free(&r->authorization);
    ak_wipe(r->signature, sizeof(r->signature));
}

static bool s_valid_amz_date(ak_cur d) {
    if (d.len != 16 || d.ptr[8] != 'T' || d.ptr[15] != 'Z') return false;
    for (size_t i = 0; i < 15; i++)
        if (i != 8 && !(d.ptr[i] >= '0' && d.ptr[i] <= '9')) return false;
    return true;
}

static bool s_valid_scope_part(ak_cur p) {
    if (p.len == 0 || p.len > 64) return false;
    for (size_t i = 0; i < p.len; i++) {
        uint8_t c = p.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return true;
}

static ak_err s_check_scope(const ak_sigv4_scope *s) {
    AK_ENSURE(s_valid_amz_date(s->amz_date) && s_valid_scope_part(s->region) &&
                  s_valid_scope_part(s->service),
              AK_E_INVALID_INPUT);
    return AK_OK;
}

ak_err ak_sigv4_amz_date(int64_t epoch_seconds, char out[17]) {
    time_t t = (time_t)epoch_seconds;
    struct tm tm;
    AK_ENSURE(gmtime_r(&t, &tm) != NULL, AK_E_INVALID_INPUT);
    AK_ENSURE(strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) == 16, AK_E_INVALID_INPUT);
    return AK_OK;
}

/* "YYYYMMDD/region/service/aws4_request" */
static ak_err s_append_scope(ak_buf *out, const ak_sigv4_scope *s) {
    AK_GUARD(ak_buf_append(out, s->amz_date.ptr, 8));
    AK_GUARD(ak_buf_append_byte(out, '/'));
    AK_GUARD(ak_buf_append_cur(out, s->region));
    AK_GUARD(ak_buf_append_byte(out, '/'));
    AK_GUARD(ak_buf_append_cur(out, s->service));
    AK_GUARD(ak_buf_append_str(out, "/aws4_request"));
    return AK_OK;
}

ak_err ak_sigv4_signing_key(ak_cur secret, const ak_sigv4_scope *scope, uint8_t key[32]) {
    AK_PRECOND(scope != NULL && key != NULL);
    AK_GUARD(s_check_scope(scope));
    AK_ENSURE(secret.len > 0 && secret.len <= 256, AK_E_INVALID_INPUT);
    uint8_t k0[4 + 256];
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret.ptr, secret.len);
    uint8_t a[32], b[32];
    ak_hmac_sha256(k0, 4 + secret.len, scope->amz_date.ptr, 8, a);
    ak_hmac_sha256(a, 32, scope->region.ptr, scope->region.len, b);
    ak_hmac_sha256(b, 32, scope->service.ptr, scope->service.len, a);
    ak_hmac_sha256(a, 32, "aws4_request", 12, key);
    ak_wipe(k0, sizeof(k0));
    ak_wipe(a, sizeof(a));
    ak_wipe(b, sizeof(b));
    return AK_OK;
}

static ak_err s_string_to_sign(const ak_sigv4_scope *scope, ak_cur creq, ak_buf *sts) {
    uint8_t h[32];
    char hex[65];
    ak_sha256(creq.ptr, creq.len, h);
    ak_hex_encode(h, 32, hex);
    AK_GUARD(ak_buf_append_str(sts, AK_SIGV4_ALGORITHM "\n"));
    AK_GUARD(ak_buf_append_cur(sts, scope->amz_date));
    AK_GUARD(ak_buf_append_byte(sts, '\n'));
    AK_GUARD(s_append_scope(sts, scope));
    AK_GUARD(ak_buf_append_byte(sts, '\n'));
    AK_GUARD(ak_buf_append_str(sts, hex));
    return AK_OK;
}

static ak_err s_sign_stages(const ak_sigv4_request *req, const ak_sigv4_creds *creds,
                            const ak_sigv4_scope *scope, ak_sigv4_result *out) {
    AK_GUARD(s_check_scope(scope));
    AK_ENSURE(creds->access_key_id.len > 0 && creds->access_key_id.len <= 128, AK_E_INVALID_INPUT);
    for (size_t i = 0; i < creds->access_key_id.len; i++)
        AK_ENSURE(s_unreserved(creds->access_key_id.ptr[i]), AK_E_INVALID_INPUT);
    ak_buf_clear(&out->canonical_request);
    ak_buf_clear(&out->signed_headers);
    ak_buf_clear(&out->string_to_sign);
    ak_buf_clear(&out->authorization);
    AK_GUARD(ak_sigv4_canonical_request(req, &out->canonical_request, &out->signed_headers));
    AK_GUARD(s_string_to_sign(scope, ak_buf_cur(&out->canonical_request), &out->string_to_sign));
    uint8_t key[32], sig[32];
    AK_GUARD(ak_sigv4_signing_key(creds->secret_access_key, scope, key));
    ak_hmac_sha256(key, 32, out->string_to_sign.ptr, out->string_to_sign.len, sig);
    ak_wipe(key, sizeof(key));
    ak_hex_encode(sig, 32, out->signature);
    ak_wipe(sig, sizeof(sig));
    return AK_OK;
}

ak_err ak_sigv4_sign(const ak_sigv4_request *req, const ak_sigv4_creds *creds, const ak_sigv4_scope *scope,
                     ak_sigv4_result *out) {
    AK_PRECOND(req != NULL && creds != NULL && scope != NULL && out != NULL);
    AK_GUARD(s_sign_stages(req, creds, scope, out));
    ak_buf *a = &out->authorization;
    AK_GUARD(ak_buf_append_str(a, AK_SIGV4_ALGORITHM " Credential="));
    AK_GUARD(ak_buf_append_cur(a, creds->access_key_id));
    AK_GUARD(ak_buf_append_byte(a, '/'));
    AK_GUARD(s_append_scope(a, scope));
    AK_GUARD(ak_buf_append_str(a, ", SignedHeaders="));
    AK_GUARD(ak_buf_append_cur(a, ak_buf_cur(&out->signed_headers)));
    AK_GUARD(ak_buf_append_str(a, ", Signature="));
    AK_GUARD(ak_buf_append_str(a, out->signature));
    return AK_OK;
}

ak_err ak_sigv4_presign(const ak_sigv4_request *req, const ak_sigv4_creds *creds, const ak_sigv4_scope *scope,
                        uint32_t expires_seconds, ak_sigv4_result *out, ak_buf *query_out) {
    AK_PRECOND(req != NULL && creds != NULL && scope != NULL && out != NULL && query_out != NULL);
    AK_ENSURE(expires_seconds > 0 && expires_seconds <= AK_SIGV4_MAX_EXPIRES, AK_E_INVALID_INPUT);
    AK_GUARD(s_check_scope(scope));
    ak_buf q, cred, sh;
    ak_err rc = AK_OK;
    ak_buf_init_secret(&q, AK_SIGV4_MAX_CANONICAL); /* carries the session token */
    ak_buf_init(&cred, 1024);
    ak_buf_init(&sh, 4096);
    /* SignedHeaders must be known before signing: compute it from the header list alone. */
    {
        ak_buf scratch;
        ak_buf_init_secret(&scratch, AK_SIGV4_MAX_CANONICAL);
        ak_sigv4_request hreq = *req;
        rc = s_canonical_headers(&hreq, &scratch, &sh);
        ak_buf_free(&scratch);
        if (rc != AK_OK) goto out;
    }
    AK_GUARD_OUT(ak_buf_append_cur(&cred, creds->access_key_id));
    AK_GUARD_OUT(ak_buf_append_byte(&cred, '/'));
    AK_GUARD_OUT(s_append_scope(&cred, scope));
    if (req->query.len) {
        AK_GUARD_OUT(ak_buf_append_cur(&q, req->query));
        AK_GUARD_OUT(ak_buf_append_byte(&q, '&'));
    }
    AK_GUARD_OUT(ak_buf_append_str(&q, "X-Amz-Algorithm=" AK_SIGV4_ALGORITHM "&X-Amz-Credential="));
    AK_GUARD_OUT(ak_sigv4_uri_encode(ak_buf_cur(&cred), false, &q));
    AK_GUARD_OUT(ak_buf_append_str(&q, "&X-Amz-Date="));
    AK_GUARD_OUT(ak_buf_append_cur(&q, scope->amz_date));
    AK_GUARD_OUT(ak_buf_printf(&q, "&X-Amz-Expires=%u", (unsigned)expires_seconds));
    if (creds->session_token.len) {
        AK_GUARD_OUT(ak_buf_append_str(&q, "&X-Amz-Security-Token="));
        AK_GUARD_OUT(ak_sigv4_uri_encode(creds->session_token, false, &q));
    }
    AK_GUARD_OUT(ak_buf_append_str(&q, "&X-Amz-SignedHeaders="));
    AK_GUARD_OUT(ak_sigv4_uri_encode(ak_buf_cur(&sh), false, &q));
    ak_sigv4_request preq = *req;
    preq.query = ak_buf_cur(&q);
    AK_GUARD_OUT(s_sign_stages(&preq, creds, scope, out));
    AK_GUARD_OUT(ak_buf_append_cur(query_out, ak_buf_cur(&q)));
    AK_GUARD_OUT(ak_buf_append_str(query_out, "&X-Amz-Signature="));
    AK_GUARD_OUT(ak_buf_append_str(query_out, out->signature));
out:
    ak_buf_free(&q);
    ak_buf_free(&cred);
    ak_buf_free(&sh);
    return rc;
}

ak_err ak_sigv4_chunk_signature(const uint8_t signing_key[32], const ak_sigv4_scope *scope,
                                ak_cur previous_signature, ak_cur chunk, char signature[65]) {
    AK_PRECOND(signing_key != NULL && scope != NULL && signature != NULL);
    AK_GUARD(s_check_scope(scope));
    AK_ENSURE(previous_signature.len == 64, AK_E_INVALID_INPUT);
    ak_buf sts;
    ak_err rc = AK_OK;
    uint8_t h[32];
    char hex[65];
    ak_buf_init(&sts, 512);
    AK_GUARD_OUT(ak_buf_append_str(&sts, "AWS4-HMAC-SHA256-PAYLOAD\n"));
    AK_GUARD_OUT(ak_buf_append_cur(&sts, scope->amz_date));
    AK_GUARD_OUT(ak_buf_append_byte(&sts, '\n'));
    AK_GUARD_OUT(s_append_scope(&sts, scope));
    AK_GUARD_OUT(ak_buf_append_byte(&sts, '\n'));
    AK_GUARD_OUT(ak_buf_append_cur(&sts, previous_signature));
    AK_GUARD_OUT(ak_buf_append_str(&sts, "\n" AK_SIGV4_EMPTY_SHA256 "\n"));
    ak_sha256(chunk.ptr, chunk.len, h);
    ak_hex_encode(h, 32, hex);
    AK_GUARD_OUT(ak_buf_append_str(&sts, hex));
    ak_hmac_sha256(signing_key, 32, sts.ptr, sts.len, h);
    ak_hex_encode(h, 32, signature);
    ak_wipe(h, sizeof(h));
out:
    ak_buf_free(&sts);
    return rc;
}

void ak_sigv4_payload_hash(ak_cur payload, char out[65]) {
    uint8_t h[32];
    ak_sha256(payload.ptr, payload.len, h);
    ak_hex_encode(h, 32, out);
}

bool ak_sigv4_region_ok(const char *r) {
    size_t n = r ? strlen(r) : 0;
    if (n == 0 || n >= 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-')) return false;
    return true;
}

ak_err ak_sigv4_endpoint(const char *endpoint, const char *service, const char *region, char scheme[6],
                         char *host, size_t host_cap) {
    AK_PRECOND(service != NULL && scheme != NULL && host != NULL && host_cap > 0);
    AK_ENSURE(ak_sigv4_region_ok(region), AK_E_CONFIG);
    if (endpoint == NULL || endpoint[0] == '\0') {
        memcpy(scheme, "https", 6);
        int n = snprintf(host, host_cap, "%s.%s.amazonaws.com", service, region);
        AK_ENSURE(n > 0 && (size_t)n < host_cap, AK_E_CONFIG);
        return AK_OK;
    }
    ak_cur ep = ak_cur_from_str(endpoint);
    if (ak_cur_starts_with(ep, AK_CUR_LIT("https://")))
        memcpy(scheme, "https", 6);
    else if (ak_cur_starts_with(ep, AK_CUR_LIT("http://")))
        memcpy(scheme, "http", 5);
    else
        return AK_E_CONFIG;
    size_t skip = strlen(scheme) + 3;
    ep = ak_cur_from(ep.ptr + skip, ep.len - skip);
    while (ep.len > 0 && ep.ptr[ep.len - 1] == '/')
        ep.len--; /* "http://h:1/" is fine */
    AK_ENSURE(ep.len > 0 && ak_cur_find(ep, '/') < 0 && ak_cur_find(ep, '@') < 0 &&
                  ak_cur_find(ep, '?') < 0 && ak_cur_find(ep, '#') < 0,
              AK_E_CONFIG);
    return ak_cur_to_cstr(ep, host, host_cap) == AK_OK ? AK_OK : AK_E_CONFIG;
}
