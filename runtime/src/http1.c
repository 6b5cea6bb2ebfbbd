/*
 * http1.c — the Runtime API's HTTP/1.1 client over one kept-alive socket (akrt/http1.h).
 *
 * Why not libcurl here: the Runtime API is plain HTTP on loopback, and ~90% of a warm no-op
 * invocation's instructions went to libcurl's general machinery (URL parsing per request, the
 * connection cache, printf-built headers, 13 syscalls per invoke). This file does the one thing
 * the loop needs: write a request, read one response, keep the socket.
 */
#include "akrt/http1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/log.h"

#define S_MAX_CHUNK_LINE 1024u
#define S_MAX_REQ_HEAD 2048u

/* ------------------------------------------------------------------ head grammar (RFC 9110/9112) */

/* tchar (RFC 9110 §5.6.2) as a bitmap over ASCII: this runs for every header byte. */
static bool s_tchar(uint8_t c) {
    static const uint32_t k_tchar[4] = {
        0x00000000u, /* 0x00-0x1f: controls */
        0x03ff6cfau, /* 0x20-0x3f: ! # $ % & ' * + - . 0-9 */
        0xc7fffffeu, /* 0x40-0x5f: A-Z ^ _ */
        0x57ffffffu, /* 0x60-0x7f: ` a-z | ~ */
    };
    return c < 128 && (k_tchar[c >> 5] >> (c & 31u)) & 1u;
}

static ak_cur s_trim_ows(ak_cur v) {
    while (v.len > 0 && (v.ptr[0] == ' ' || v.ptr[0] == '\t')) {
        v.ptr++;
        v.len--;
    }
    while (v.len > 0 && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t'))
        v.len--;
    return v;
}

/* Takes one line off `c` (without its LF and an optional CR before it). False when no LF. */
static bool s_take_line(ak_cur *c, ak_cur *line) {
    ak_cur l;
    if (!ak_cur_split(c, '\n', &l)) return false;
    if (l.len > 0 && l.ptr[l.len - 1] == '\r') l.len--;
    *line = l;
    return true;
}

/* True when `v` (a comma-separated token list) holds `tok`, case-insensitively. */
static bool s_list_has(ak_cur v, ak_cur tok) {
    ak_cur item;
    for (;;) {
        bool more = ak_cur_split(&v, ',', &item);
        if (!more) item = v;
        if (ak_cur_eq_nocase(s_trim_ows(item), tok)) return true;
        if (!more) return false;
    }
}

static ak_err s_status_line(ak_cur line, akrt_http1_head *out) {
    /* HTTP-version SP status-code [SP reason-phrase]; reason may be empty (RFC 9112 §4). */
    AK_ENSURE(line.len >= 12 && ak_cur_starts_with(line, AK_CUR_LIT("HTTP/1.")), AK_E_INVALID_INPUT);
    uint8_t minor = line.ptr[7];
    AK_ENSURE((minor == '0' || minor == '1') && line.ptr[8] == ' ', AK_E_INVALID_INPUT);
    int st = 0;
    for (size_t i = 9; i < 12; i++) {
        AK_ENSURE(line.ptr[i] >= '0' && line.ptr[i] <= '9', AK_E_INVALID_INPUT);
        st = st * 10 + (line.ptr[i] - '0');
    }
    AK_ENSURE(st >= 100, AK_E_INVALID_INPUT);
    AK_ENSURE(line.len == 12 || line.ptr[12] == ' ', AK_E_INVALID_INPUT);
    for (size_t i = 13; i < line.len; i++)
        AK_ENSURE(line.ptr[i] == '\t' || line.ptr[i] >= 0x20, AK_E_INVALID_INPUT); /* no NUL, CR, CTLs */
    out->status = st;
    out->http10 = minor == '0';
    return AK_OK;
}

ak_err akrt_http1_parse_head(ak_cur head, akrt_http1_head *out, const akrt_http1_cb *cb) {
    AK_PRECOND(out != NULL);
    memset(out, 0, sizeof(*out));
    ak_cur line;
    AK_ENSURE(s_take_line(&head, &line), AK_E_INVALID_INPUT);
    AK_GUARD(s_status_line(line, out));
    bool interim = out->status < 200; /* a 1xx head's fields are not the answer's */
    bool has_te = false;
    for (;;) {
        AK_ENSURE(s_take_line(&head, &line), AK_E_INVALID_INPUT); /* the empty line must come */
        if (line.len == 0) break;
        /* obs-fold (a line starting with white space) is refused, RFC 9112 §5.2. */
        AK_ENSURE(line.ptr[0] != ' ' && line.ptr[0] != '\t', AK_E_INVALID_INPUT);
        long colon = ak_cur_find(line, ':');
        AK_ENSURE(colon > 0, AK_E_INVALID_INPUT);
        ak_cur name = ak_cur_from(line.ptr, (size_t)colon);
        for (size_t i = 0; i < name.len; i++)
            AK_ENSURE(s_tchar(name.ptr[i]), AK_E_INVALID_INPUT); /* also: no space before ':' */
        ak_cur value = ak_cur_from(line.ptr + colon + 1, line.len - (size_t)colon - 1);
        /* NUL and a bare CR break framing (RFC 9110 §5.5: refuse); other control characters are
         * left to the field's own check (runtime.c answers /error invalid_event for those). */
        for (size_t i = 0; i < value.len; i++)
            AK_ENSURE(value.ptr[i] != 0 && value.ptr[i] != '\r', AK_E_INVALID_INPUT);
        value = s_trim_ows(value);
        /* The lengths first: these three compares run for every field of every answer. */
        if (name.len == 14 && ak_cur_eq_nocase(name, AK_CUR_LIT("Content-Length"))) {
            uint64_t n = 0;
            AK_ENSURE(ak_cur_to_u64(value, &n) == AK_OK, AK_E_INVALID_INPUT);
            AK_ENSURE(!out->has_length || out->content_length == n, AK_E_INVALID_INPUT);
            out->has_length = true;
            out->content_length = n;
        } else if (name.len == 17 && ak_cur_eq_nocase(name, AK_CUR_LIT("Transfer-Encoding"))) {
            /* Only a lone "chunked": any other coding is one we cannot undo. */
            AK_ENSURE(!has_te && ak_cur_eq_nocase(value, AK_CUR_LIT("chunked")), AK_E_INVALID_INPUT);
            has_te = true;
            out->chunked = true;
        } else if (name.len == 10 && ak_cur_eq_nocase(name, AK_CUR_LIT("Connection"))) {
            if (s_list_has(value, AK_CUR_LIT("close"))) out->close = true;
        }
        if (!interim && cb != NULL && cb->on_header != NULL) cb->on_header(cb->ud, name, value);
    }
    AK_ENSURE(head.len == 0, AK_E_INVALID_INPUT);
    /* RFC 9112 §6.3: both framings at once is how requests get smuggled. */
    AK_ENSURE(!(out->chunked && out->has_length), AK_E_INVALID_INPUT);
    return AK_OK;
}

/* ------------------------------------------------------------------ socket */

ak_err akrt_http1_init(akrt_http1 *c, const char *hostport, long connect_timeout_ms) {
    AK_PRECOND(c != NULL && hostport != NULL);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->connect_timeout_ms = connect_timeout_ms;
    ak_buf_init(&c->head, AKRT_HTTP1_MAX_HEAD);
    ak_cur hp = ak_cur_from_str(hostport);
    AK_ENSURE(hp.len > 0 && hp.len <= AKRT_HTTP1_MAX_HOST, AK_E_CONFIG);
    AK_GUARD(ak_cur_to_cstr(hp, c->host, sizeof(c->host)));
    char host[AKRT_HTTP1_MAX_HOST + 1], port[8];
    ak_cur h, p;
    if (hp.ptr[0] == '[') { /* [v6]:port */
        long close_br = ak_cur_find(hp, ']');
        AK_ENSURE(close_br > 1 && (size_t)close_br + 1 < hp.len && hp.ptr[close_br + 1] == ':', AK_E_CONFIG);
        h = ak_cur_from(hp.ptr + 1, (size_t)close_br - 1);
        p = ak_cur_from(hp.ptr + close_br + 2, hp.len - (size_t)close_br - 2);
    } else {
        long colon = -1;
        for (size_t i = 0; i < hp.len; i++)
            if (hp.ptr[i] == ':') colon = (long)i;
        AK_ENSURE(colon > 0, AK_E_CONFIG);
        h = ak_cur_from(hp.ptr, (size_t)colon);
        p = ak_cur_from(hp.ptr + colon + 1, hp.len - (size_t)colon - 1);
        AK_ENSURE(ak_cur_find(h, ':') < 0, AK_E_CONFIG);
    }
    uint64_t pn = 0;
    AK_ENSURE(ak_cur_to_u64(p, &pn) == AK_OK && pn >= 1 && pn <= 65535, AK_E_CONFIG);
    AK_ENSURE(ak_cur_to_cstr(h, host, sizeof(host)) == AK_OK, AK_E_CONFIG);
    /* An address literal (what Lambda sets: 127.0.0.1:9001) needs no resolver: getaddrinfo's
     * machinery costs a cold start page faults and instructions for nothing. */
    struct sockaddr_in *v4 = (struct sockaddr_in *)&c->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&c->addr;
    if (hp.ptr[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)pn);
        c->addr_len = sizeof(*v4);
        return AK_OK;
    }
    if (hp.ptr[0] == '[') { /* brackets hold an IPv6 literal and nothing else (RFC 3986 §3.2.2) */
        AK_ENSURE(inet_pton(AF_INET6, host, &v6->sin6_addr) == 1, AK_E_CONFIG);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)pn);
        c->addr_len = sizeof(*v6);
        return AK_OK;
    }
    memset(&c->addr, 0, sizeof(c->addr));
    snprintf(port, sizeof(port), "%u", (unsigned)pn);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    AK_ENSURE(getaddrinfo(host, port, &hints, &res) == 0 && res != NULL, AK_E_CONFIG);
    bool fits = res->ai_addrlen <= sizeof(c->addr);
    if (fits) {
        memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
        c->addr_len = res->ai_addrlen;
    }
    freeaddrinfo(res);
    AK_ENSURE(fits, AK_E_CONFIG);
    return AK_OK;
}

static void s_close(akrt_http1 *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->off = c->len = 0;
}

void akrt_http1_free(akrt_http1 *c) {
    if (c == NULL) return;
    s_close(c);
    ak_buf_free(&c->head);
    ak_free(c->in);
    c->in = NULL;
}

/* Connects with a bounded wait (STYLE §12: a short connect timeout, none on reads). */
static ak_err s_connect(akrt_http1 *c) {
    int fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    AK_ENSURE(fd >= 0, AK_E_UPSTREAM);
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = connect(fd, (struct sockaddr *)&c->addr, c->addr_len);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        do {
            rc = poll(&pfd, 1, (int)c->connect_timeout_ms);
        } while (rc < 0 && errno == EINTR);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        rc = (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) ? 0 : -1;
    }
    if (rc != 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        close(fd);
        return AK_E_UPSTREAM;
    }
    c->fd = fd;
    c->off = c->len = 0;
    return AK_OK;
}

static ak_err s_send(akrt_http1 *c, const char *head, size_t head_len, ak_cur body) {
    struct iovec iov[2] = {{(void *)head, head_len}, {(void *)body.ptr, body.len}};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = body.len ? 2 : 1;
    while (msg.msg_iovlen > 0) {
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL); /* a closed peer is an error, not SIGPIPE */
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return AK_E_UPSTREAM;
        size_t left = (size_t)n;
        while (msg.msg_iovlen > 0 && left >= msg.msg_iov[0].iov_len) {
            left -= msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov[0].iov_base = (uint8_t *)msg.msg_iov[0].iov_base + left;
            msg.msg_iov[0].iov_len -= left;
        }
    }
    return AK_OK;
}

/* Makes unread bytes available. *eof when the peer closed cleanly with nothing buffered. */
static ak_err s_fill(akrt_http1 *c, bool *eof) {
    *eof = false;
    if (c->off < c->len) return AK_OK;
    c->off = c->len = 0;
    if (c->in == NULL) {
        c->in = ak_malloc(AKRT_HTTP1_IN);
        AK_ENSURE(c->in != NULL, AK_E_NOMEM);
    }
    ssize_t n;
    do {
        n = recv(c->fd, c->in, AKRT_HTTP1_IN, 0);
    } while (n < 0 && errno == EINTR);
    if (n == 0) *eof = true;
    AK_ENSURE(n >= 0, AK_E_UPSTREAM);
    c->len = (size_t)n;
    return AK_OK;
}

/* Reads one head (through its empty line) into c->head. */
static ak_err s_read_head(akrt_http1 *c) {
    ak_buf_clear(&c->head);
    size_t line_len = 0; /* bytes of the current line, CR excluded */
    for (;;) {
        bool eof;
        AK_GUARD(s_fill(c, &eof));
        AK_ENSURE(!eof, AK_E_UPSTREAM); /* closed before an answer: a kept-alive socket gone stale */
        size_t start = c->off;
        bool done = false;
        while (c->off < c->len && !done) {
            uint8_t b = c->in[c->off++];
            if (b == '\n') {
                done = line_len == 0; /* the empty line ending the head */
                line_len = 0;
            } else if (b != '\r') {
                line_len++;
            }
        }
        AK_ENSURE(ak_buf_append(&c->head, c->in + start, c->off - start) == AK_OK, AK_E_INVALID_INPUT);
        if (done) return AK_OK;
    }
}

/* Delivers exactly n body bytes (n == UINT64_MAX: until the peer closes). */
static ak_err s_read_body(akrt_http1 *c, uint64_t n, const akrt_http1_cb *cb, bool *refused) {
    bool until_eof = n == UINT64_MAX;
    while (n > 0) {
        bool eof;
        AK_GUARD(s_fill(c, &eof));
        if (eof) {
            AK_ENSURE(until_eof, AK_E_UPSTREAM); /* short body */
            return AK_OK;
        }
        size_t take = c->len - c->off;
        if (!until_eof && take > n) take = (size_t)n;
        if (!*refused && cb && cb->on_body && !cb->on_body(cb->ud, c->in + c->off, take)) *refused = true;
        if (*refused) return AK_E_TOO_LARGE;
        c->off += take;
        if (!until_eof) n -= take;
    }
    return AK_OK;
}

/* One line of chunked framing, CRLF stripped, bounded. */
static ak_err s_read_small_line(akrt_http1 *c, char *dst, size_t cap, size_t *len) {
    *len = 0;
    for (;;) {
        bool eof;
        AK_GUARD(s_fill(c, &eof));
        AK_ENSURE(!eof, AK_E_UPSTREAM);
        uint8_t b = c->in[c->off++];
        if (b == '\n') {
            if (*len > 0 && dst[*len - 1] == '\r') (*len)--;
            return AK_OK;
        }
        AK_ENSURE(*len + 1 < cap, AK_E_INVALID_INPUT);
        dst[(*len)++] = (char)b;
    }
}

/* RFC 9112 §7.1: chunk-size [ext] CRLF data CRLF ... 0 CRLF trailers CRLF */
static ak_err s_read_chunked(akrt_http1 *c, const akrt_http1_cb *cb, bool *refused) {
    char line[S_MAX_CHUNK_LINE];
    size_t len;
    for (;;) {
        AK_GUARD(s_read_small_line(c, line, sizeof(line), &len));
        uint64_t size = 0;
        size_t i = 0;
        for (; i < len; i++) {
            char ch = line[i];
            int d = (ch >= '0' && ch <= '9')   ? ch - '0'
                    : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
                    : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
                                               : -1;
            if (d < 0) break;
            AK_ENSURE(size <= (UINT64_MAX >> 4), AK_E_INVALID_INPUT);
            size = (size << 4) | (uint64_t)d;
        }
        AK_ENSURE(i > 0 && (i == len || line[i] == ';' || line[i] == ' ' || line[i] == '\t'),
                  AK_E_INVALID_INPUT);
        if (size == 0) break;
        AK_GUARD(s_read_body(c, size, cb, refused));
        AK_GUARD(s_read_small_line(c, line, sizeof(line), &len));
        AK_ENSURE(len == 0, AK_E_INVALID_INPUT);
    }
    do { /* trailer fields: read and dropped */
        AK_GUARD(s_read_small_line(c, line, sizeof(line), &len));
    } while (len != 0);
    return AK_OK;
}

static ak_err s_exchange(akrt_http1 *c, const char *req, size_t req_len, ak_cur body, const akrt_http1_cb *cb,
                         int *status, bool *keep) {
    AK_GUARD(s_send(c, req, req_len, body));
    akrt_http1_head h;
    do { /* interim 1xx heads are skipped (101 would switch protocols: refused) */
        AK_GUARD(s_read_head(c));
        AK_GUARD(akrt_http1_parse_head(ak_buf_cur(&c->head), &h, cb));
        AK_ENSURE(h.status != 101, AK_E_INVALID_INPUT);
    } while (h.status < 200);
    *status = h.status;
    bool refused = false;
    ak_err rc = AK_OK;
    if (h.status == 204 || h.status == 304) {
        /* no body, whatever the fields say (RFC 9112 §6.3) */
    } else if (h.chunked) {
        rc = s_read_chunked(c, cb, &refused);
    } else if (h.has_length) {
        rc = s_read_body(c, h.content_length, cb, &refused);
    } else {
        rc = s_read_body(c, UINT64_MAX, cb, &refused);
        h.close = true;
    }
    /* Bytes nobody asked for would be read as the next answer: drop the socket instead. */
    *keep = rc == AK_OK && !h.close && !h.http10 && c->off == c->len;
    return rc;
}

/* Appends n bytes to a fixed request head; false when it would not fit. */
static bool s_cat(char *dst, size_t cap, size_t *len, const char *src, size_t n) {
    if (n > cap - *len) return false;
    memcpy(dst + *len, src, n);
    *len += n;
    return true;
}

/* The request head, built with memcpy: musl's printf cost a third of a warm invoke. */
static bool s_build_head(char *req, size_t cap, size_t *len, const akrt_http1 *c, const char *method,
                         const char *path, const char *extra, bool with_length, size_t body_len) {
    char num[24];
    size_t nl = sizeof(num);
    do {
        num[--nl] = (char)('0' + body_len % 10u);
        body_len /= 10u;
    } while (body_len > 0);
    *len = 0;
    return s_cat(req, cap, len, method, strlen(method)) && s_cat(req, cap, len, " ", 1) &&
           s_cat(req, cap, len, path, strlen(path)) &&
           s_cat(req, cap, len, " HTTP/1.1\r\nHost: ", sizeof(" HTTP/1.1\r\nHost: ") - 1) &&
           s_cat(req, cap, len, c->host, strlen(c->host)) &&
           s_cat(req, cap, len, "\r\nUser-Agent: agentkeys-akrt/1\r\n",
                 sizeof("\r\nUser-Agent: agentkeys-akrt/1\r\n") - 1) &&
           (extra == NULL || s_cat(req, cap, len, extra, strlen(extra))) &&
           (!with_length ||
            (s_cat(req, cap, len, "Content-Length: ", sizeof("Content-Length: ") - 1) &&
             s_cat(req, cap, len, num + nl, sizeof(num) - nl) && s_cat(req, cap, len, "\r\n", 2))) &&
           s_cat(req, cap, len, "\r\n", 2);
}

ak_err akrt_http1_request(akrt_http1 *c, const char *method, const char *path, const char *extra_headers,
                          ak_cur body, const akrt_http1_cb *cb, int *status) {
    AK_PRECOND(c != NULL && method != NULL && path != NULL && status != NULL);
    *status = 0;
    char req[S_MAX_REQ_HEAD];
    size_t n = 0;
    bool post = strcmp(method, "GET") != 0;
    AK_ENSURE(s_build_head(req, sizeof(req), &n, c, method, path, extra_headers, post, body.len), AK_E_LIMIT);
    if (c->fd < 0) AK_GUARD(s_connect(c));
    bool keep = false;
    ak_err rc = s_exchange(c, req, n, post ? body : ak_cur_from(NULL, 0), cb, status, &keep);
    if (!keep) s_close(c);
    return rc;
}
