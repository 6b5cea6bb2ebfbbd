/* http.c — strict, incremental HTTP/1.1 request parser and response writer (see aks/http.h). */
#include "aks/http.h"

#include "ak/http.h"

#include <string.h>

/* RFC 9110 §5.6.2 tchar. */
static bool s_http_tchar(uint8_t c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value bytes: VCHAR, SP, HTAB and obs-text; never CTLs (NUL, CR, LF, DEL...). */
static bool s_http_vchar(uint8_t c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/* Finds the CRLF that ends a line at the start of `c`. Returns the line length, or -1 when no
 * CRLF yet. A bare LF (or a CR not followed by LF) is malformed: *bad=true. */
static long s_http_line(ak_cur c, bool *bad) {
    for (size_t i = 0; i < c.len; i++) {
        if (c.ptr[i] == '\n') {
            *bad = true;
            return -1;
        }
        if (c.ptr[i] == '\r') {
            if (i + 1 >= c.len) return -1;
            if (c.ptr[i + 1] != '\n') {
                *bad = true;
                return -1;
            }
            return (long)i;
        }
    }
    return -1;
}

static ak_err s_http_request_line(ak_cur line, aks_http_req *req) {
    size_t i = 0;
    while (i < line.len && line.ptr[i] >= 'A' && line.ptr[i] <= 'Z')
        i++;
    AK_ENSURE(i > 0 && i <= AKS_HTTP_MAX_METHOD, AK_E_INVALID_INPUT);
    AK_ENSURE(i < line.len && line.ptr[i] == ' ', AK_E_INVALID_INPUT);
    req->method = ak_cur_from(line.ptr, i);
    size_t t0 = ++i;
    while (i < line.len && line.ptr[i] != ' ') {
        uint8_t c = line.ptr[i];
        /* origin-form: visible ASCII only; a fragment never travels in a request. */
        AK_ENSURE(c > 0x20 && c < 0x7f && c != '#', AK_E_INVALID_INPUT);
        i++;
    }
    size_t tlen = i - t0;
    AK_ENSURE(tlen > 0, AK_E_INVALID_INPUT);
    AK_ENSURE(tlen <= AKS_HTTP_MAX_TARGET, AK_E_TOO_LARGE);
    AK_ENSURE(line.ptr[t0] == '/', AK_E_INVALID_INPUT);
    req->target = ak_cur_from(line.ptr + t0, tlen);
    long q = ak_cur_find(req->target, '?');
    req->path = q < 0 ? req->target : ak_cur_from(req->target.ptr, (size_t)q);
    AK_ENSURE(i < line.len && line.ptr[i] == ' ', AK_E_INVALID_INPUT);
    ak_cur ver = ak_cur_from(line.ptr + i + 1, line.len - i - 1);
    AK_ENSURE(ak_cur_eq_str(ver, "HTTP/1.1"), AK_E_INVALID_INPUT);
    return AK_OK;
}

/* "Connection" is a comma list of tokens; we only care whether "close" is among them. */
static bool s_http_has_close(ak_cur v) {
    ak_cur item;
    for (;;) {
        bool more = ak_cur_split(&v, ',', &item);
        if (!more) item = v;
        if (ak_cur_eq_nocase(ak_cur_trim(item), AK_CUR_LIT("close"))) return true;
        if (!more) return false;
    }
}

ak_err aks_http_parse(ak_cur in, const aks_http_limits *lim, aks_http_req *req, bool *complete) {
    AK_PRECOND(lim != NULL && req != NULL && complete != NULL);
    AK_PRECOND(lim->max_headers <= AKS_HTTP_MAX_HEADERS);
    memset(req, 0, sizeof(*req));
    *complete = false;

    ak_cur rest = in;
    size_t head_len = 0;
    bool bad = false;
    bool have_cl = false, have_host = false;
    uint64_t cl = 0;

    /* Request line. */
    long n = s_http_line(rest, &bad);
    AK_ENSURE(!bad, AK_E_INVALID_INPUT);
    if (n < 0) {
        AK_ENSURE(in.len < lim->max_head, AK_E_TOO_LARGE);
        return AK_OK;
    }
    AK_GUARD(s_http_request_line(ak_cur_from(rest.ptr, (size_t)n), req));
    rest = ak_cur_from(rest.ptr + n + 2, rest.len - (size_t)n - 2);
    head_len = (size_t)n + 2;
    req->keep_alive = true;

    /* Header lines up to the empty line. */
    for (;;) {
        AK_ENSURE(head_len <= lim->max_head, AK_E_TOO_LARGE);
        n = s_http_line(rest, &bad);
        AK_ENSURE(!bad, AK_E_INVALID_INPUT);
        if (n < 0) {
            /* Not whole yet: wait, unless the head can no longer fit. */
            AK_ENSURE(head_len + rest.len < lim->max_head, AK_E_TOO_LARGE);
            return AK_OK;
        }
        ak_cur line = ak_cur_from(rest.ptr, (size_t)n);
        rest = ak_cur_from(rest.ptr + n + 2, rest.len - (size_t)n - 2);
        head_len += (size_t)n + 2;
        AK_ENSURE(head_len <= lim->max_head, AK_E_TOO_LARGE);
        if (line.len == 0) break;

        size_t i = 0;
        while (i < line.len && s_http_tchar(line.ptr[i]))
            i++;
        /* i == 0 also catches obs-fold (a line starting with SP/HTAB) and "name :" forms. */
        AK_ENSURE(i > 0 && i < line.len && line.ptr[i] == ':', AK_E_INVALID_INPUT);
        ak_cur name = ak_cur_from(line.ptr, i);
        ak_cur value = ak_cur_from(line.ptr + i + 1, line.len - i - 1);
        for (size_t j = 0; j < value.len; j++)
            AK_ENSURE(s_http_vchar(value.ptr[j]), AK_E_INVALID_INPUT);
        while (value.len && (value.ptr[0] == ' ' || value.ptr[0] == '\t'))
            value = ak_cur_from(value.ptr + 1, value.len - 1);
        while (value.len && (value.ptr[value.len - 1] == ' ' || value.ptr[value.len - 1] == '\t'))
            value.len--;

        AK_ENSURE(req->n_headers < lim->max_headers, AK_E_TOO_LARGE);
        req->headers[req->n_headers++] = (aks_http_hdr){name, value};

        if (ak_cur_eq_nocase(name, AK_CUR_LIT("content-length"))) {
            /* A second Content-Length (even an equal one) is a smuggling shape: refuse. */
            AK_ENSURE(!have_cl, AK_E_INVALID_INPUT);
            have_cl = true;
            AK_ENSURE(ak_cur_to_u64(value, &cl) == AK_OK, AK_E_INVALID_INPUT);
            AK_ENSURE(cl <= lim->max_body, AK_E_TOO_LARGE);
        } else if (ak_cur_eq_nocase(name, AK_CUR_LIT("transfer-encoding"))) {
            return AK_E_INVALID_INPUT; /* no chunked bodies: Content-Length only */
        } else if (ak_cur_eq_nocase(name, AK_CUR_LIT("host"))) {
            AK_ENSURE(!have_host, AK_E_INVALID_INPUT);
            have_host = true;
        } else if (ak_cur_eq_nocase(name, AK_CUR_LIT("connection"))) {
            if (s_http_has_close(value)) req->keep_alive = false;
        }
    }
    /* RFC 9112 §3.2: a 1.1 request without Host gets a 400. */
    AK_ENSURE(have_host, AK_E_INVALID_INPUT);

    if (rest.len < cl) return AK_OK;
    req->body = ak_cur_from(rest.ptr, (size_t)cl);
    req->total_len = head_len + (size_t)cl;
    *complete = true;
    return AK_OK;
}

bool aks_http_header(const aks_http_req *req, const char *name, ak_cur *value) {
    ak_cur want = ak_cur_from_str(name);
    for (size_t i = 0; i < req->n_headers; i++) {
        if (ak_cur_eq_nocase(req->headers[i].name, want)) {
            *value = req->headers[i].value;
            return true;
        }
    }
    return false;
}

ak_err aks_http_write_response(ak_buf *out, int status, ak_cur body, bool keep_alive) {
    AK_GUARD(ak_buf_printf(out,
                           "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                           "Cache-Control: no-store\r\n%s\r\n",
                           status, ak_http_reason_phrase(status), body.len,
                           keep_alive ? "" : "Connection: close\r\n"));
    return ak_buf_append_cur(out, body);
}
