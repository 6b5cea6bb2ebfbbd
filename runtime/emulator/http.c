/*
 * http.c — non-blocking HTTP/1.1 server connections for the front port and the Runtime APIs.
 *
 * One request at a time per connection: while a request is being answered (possibly later,
 * for an invocation or a /next long poll) we do not parse the next one, which keeps pipelined
 * requests in order. Bodies are bounded by the role's limit; a request over the limit is
 * handed to its handler with `too_large` set and the body is then read and dropped
 * ("draining") so the client sees our 413 instead of a connection reset.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/http.h"
#include "ak/limits.h"
#include "emu.h"

static akemu_conn *g_conns;

static void s_free(akemu_conn *c) {
    ak_buf_free(&c->in);
    ak_buf_free(&c->out);
    ak_buf_free(&c->req.chunked);
    ak_free(c);
}

void akemu_conn_close(akemu_conn *c) {
    if (c->dead) return;
    c->dead = true;
    if (c->role == AKEMU_ROLE_RAPI) akemu_rapi_conn_gone(c);
    if (c->inv != NULL) {
        akemu_inv_detach(c->inv);
        c->inv = NULL;
    }
    akemu_loop_del(c->fd);
    close(c->fd);
    c->fd = -1;
}

void akemu_conn_close_inst(struct akemu_inst *inst) {
    for (akemu_conn *c = g_conns; c != NULL; c = c->next)
        if (!c->dead && c->role == AKEMU_ROLE_RAPI && c->inst == inst) {
            akemu_conn_close(c);
            c->inst = NULL;
        }
}

void akemu_conn_sweep(uint64_t now) {
    akemu_conn **pp = &g_conns;
    while (*pp != NULL) {
        akemu_conn *c = *pp;
        if (!c->dead && c->draining && now > c->drain_deadline_ns) akemu_conn_close(c);
        if (c->dead) {
            *pp = c->next;
            s_free(c);
        } else {
            pp = &c->next;
        }
    }
}

void akemu_conns_free_all(void) {
    for (akemu_conn *c = g_conns; c != NULL; c = c->next)
        akemu_conn_close(c);
    akemu_conn_sweep(0);
}

void akemu_conn_accept(int lfd, akemu_role role, struct akemu_inst *inst) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            return; /* EAGAIN, or out of fds: try again on the next readiness */
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        akemu_conn *c = ak_calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->role = role;
        c->inst = inst;
        c->w = (akemu_watch){AKEMU_W_CONN, c};
        ak_buf_init(&c->in, AKEMU_MAX_HEAD + AKEMU_MAX_RUNTIME_BODY);
        ak_buf_init(&c->out, 2u * AK_MAX_LAMBDA_PAYLOAD + AKEMU_MAX_HEAD);
        ak_buf_init(&c->req.chunked, AKEMU_MAX_RUNTIME_BODY);
        if (akemu_loop_add(fd, EPOLLIN | EPOLLRDHUP, &c->w) != AK_OK) {
            close(fd);
            s_free(c);
            continue;
        }
        c->next = g_conns;
        g_conns = c;
    }
}

ak_cur akemu_req_header(const akemu_req *r, const char *name, bool *found) {
    ak_cur n = ak_cur_from_str(name);
    for (size_t i = 0; i < r->nhdr; i++) {
        if (ak_cur_eq_nocase(r->hdr[i].name, n)) {
            if (found) *found = true;
            return r->hdr[i].value;
        }
    }
    if (found) *found = false;
    return (ak_cur){(const uint8_t *)"", 0};
}

static int s_hexv(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

ak_err akemu_url_decode(ak_cur in, bool plus, ak_buf *out) {
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.ptr[i];
        if (c == '%' && i + 2 < in.len + 0 && s_hexv(in.ptr[i + 1]) >= 0 && s_hexv(in.ptr[i + 2]) >= 0) {
            AK_GUARD(ak_buf_append_byte(out, (uint8_t)(s_hexv(in.ptr[i + 1]) * 16 + s_hexv(in.ptr[i + 2]))));
            i += 2;
        } else if (c == '+' && plus) {
            AK_GUARD(ak_buf_append_byte(out, ' '));
        } else {
            AK_GUARD(ak_buf_append_byte(out, c)); /* a stray '%' is kept, as API Gateway does */
        }
    }
    return AK_OK;
}

/* ---------------------------------------------------------------- parsing */

typedef enum { S_NEED_MORE, S_READY, S_BAD, S_HEAD_TOO_BIG } s_parse_rc;

static size_t s_body_limit(const akemu_conn *c) {
    /* Front: the Invoke API and the HTTP API both stop at Lambda's 6 MiB (lambda.md B6).
     * Runtime API: RIE's 6 MiB + 100 bytes, so an error document around a 6 MiB message fits. */
    return c->role == AKEMU_ROLE_FRONT ? AK_MAX_LAMBDA_PAYLOAD : AKEMU_MAX_RUNTIME_BODY;
}

static long s_find_crlfcrlf(const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 3 < n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') return (long)i;
    return -1;
}

/* Chunked body: decodes into req->chunked. S_NEED_MORE until the last chunk and trailers. */
static s_parse_rc s_chunked(akemu_conn *c, size_t start, size_t limit) {
    akemu_req *r = &c->req;
    ak_buf_clear(&r->chunked);
    ak_cur in = ak_cur_from(c->in.ptr + start, c->in.len - start);
    size_t pos = 0;
    for (;;) {
        ak_cur rest = ak_cur_from(in.ptr + pos, in.len - pos);
        long nl = ak_cur_find(rest, '\n');
        if (nl < 0) return rest.len > 64 ? S_BAD : S_NEED_MORE;
        uint64_t size = 0;
        size_t k = 0;
        int digits = 0;
        for (; k < (size_t)nl && s_hexv(rest.ptr[k]) >= 0; k++, digits++) {
            if (size > (UINT64_MAX >> 4)) return S_BAD;
            size = size * 16 + (uint64_t)s_hexv(rest.ptr[k]);
        }
        if (digits == 0) return S_BAD;
        pos += (size_t)nl + 1;
        if (size == 0) {
            /* Trailers: lines until an empty one. */
            for (;;) {
                ak_cur t = ak_cur_from(in.ptr + pos, in.len - pos);
                long e = ak_cur_find(t, '\n');
                if (e < 0) return S_NEED_MORE;
                pos += (size_t)e + 1;
                if (e == 0 || (e == 1 && t.ptr[0] == '\r')) {
                    r->consumed = start + pos;
                    r->body = ak_buf_cur(&r->chunked);
                    return S_READY;
                }
            }
        }
        if (r->chunked.len + size > limit) {
            r->too_large = true;
            r->consumed = c->in.len;
            return S_READY;
        }
        if (in.len - pos < size + 2) return S_NEED_MORE;
        if (ak_buf_append(&r->chunked, in.ptr + pos, (size_t)size) != AK_OK) return S_BAD;
        pos += (size_t)size;
        if (in.ptr[pos] == '\r') pos++;
        if (pos >= in.len || in.ptr[pos] != '\n') return pos >= in.len ? S_NEED_MORE : S_BAD;
        pos++;
    }
}

/* "Expect: 100-continue" (curl sends it for bodies over 1 MiB): tell the client to go on,
 * once per request. Best effort: a short write only makes the client wait its own timeout. */
static void s_maybe_continue(akemu_conn *c) {
    bool found;
    ak_cur e = akemu_req_header(&c->req, "expect", &found);
    if (!found || c->continue_sent || !ak_cur_eq_nocase(e, AK_CUR_LIT("100-continue"))) return;
    c->continue_sent = true;
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (send(c->fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL) < 0) { /* the read side will notice */
    }
}

static s_parse_rc s_parse(akemu_conn *c) {
    akemu_req *r = &c->req;
    long he = s_find_crlfcrlf(c->in.ptr, c->in.len);
    if (he < 0) return c->in.len > AKEMU_MAX_HEAD ? S_HEAD_TOO_BIG : S_NEED_MORE;
    if ((size_t)he > AKEMU_MAX_HEAD) return S_HEAD_TOO_BIG;
    ak_buf chunked = r->chunked;
    *r = (akemu_req){0};
    r->chunked = chunked;
    ak_cur head = ak_cur_from(c->in.ptr, (size_t)he + 2);
    ak_cur line;
    if (!ak_cur_split(&head, '\n', &line)) return S_BAD;
    if (line.len && line.ptr[line.len - 1] == '\r') line.len--;
    if (!ak_cur_split(&line, ' ', &r->method) || !ak_cur_split(&line, ' ', &r->target)) return S_BAD;
    r->version = line;
    if (r->method.len == 0 || r->target.len == 0 || !ak_cur_starts_with(r->version, AK_CUR_LIT("HTTP/1.")))
        return S_BAD;
    r->path = r->target;
    long q = ak_cur_find(r->target, '?');
    if (q >= 0) {
        r->path = ak_cur_from(r->target.ptr, (size_t)q);
        r->query = ak_cur_from(r->target.ptr + q + 1, r->target.len - (size_t)q - 1);
    }
    while (head.len > 0) {
        if (!ak_cur_split(&head, '\n', &line)) return S_BAD;
        if (line.len && line.ptr[line.len - 1] == '\r') line.len--;
        if (line.len == 0) continue;
        if (line.ptr[0] == ' ' || line.ptr[0] == '\t') return S_BAD; /* obsolete folding */
        ak_cur name;
        if (!ak_cur_split(&line, ':', &name) || name.len == 0) return S_BAD;
        for (size_t i = 0; i < name.len; i++)
            if (name.ptr[i] <= ' ' || name.ptr[i] >= 0x7f) return S_BAD;
        if (r->nhdr == AKEMU_MAX_HEADERS) return S_HEAD_TOO_BIG;
        r->hdr[r->nhdr++] = (akemu_hdr){name, ak_cur_trim(line)};
    }
    bool http10 = ak_cur_eq_str(r->version, "HTTP/1.0");
    bool found;
    ak_cur conn = akemu_req_header(r, "connection", &found);
    r->keep_alive = http10 ? (found && ak_cur_eq_nocase(conn, AK_CUR_LIT("keep-alive")))
                           : !(found && ak_cur_eq_nocase(conn, AK_CUR_LIT("close")));
    size_t body_start = (size_t)he + 4;
    size_t limit = s_body_limit(c);
    ak_cur te = akemu_req_header(r, "transfer-encoding", &found);
    if (found && te.len > 0) {
        if (!ak_cur_eq_nocase(te, AK_CUR_LIT("chunked"))) return S_BAD;
        s_parse_rc pr = s_chunked(c, body_start, limit);
        if (pr == S_NEED_MORE) s_maybe_continue(c);
        return pr;
    }
    ak_cur cl = akemu_req_header(r, "content-length", &found);
    if (found) {
        if (ak_cur_to_u64(cl, &r->content_length) != AK_OK) return S_BAD;
    }
    if (r->content_length > limit) {
        r->too_large = true;
        size_t have = c->in.len - body_start;
        c->discard = r->content_length - have;
        r->consumed = c->in.len;
        return S_READY;
    }
    if (c->in.len - body_start < r->content_length) {
        s_maybe_continue(c);
        return S_NEED_MORE;
    }
    r->body = ak_cur_from(c->in.ptr + body_start, (size_t)r->content_length);
    r->consumed = body_start + (size_t)r->content_length;
    return S_READY;
}

/* ---------------------------------------------------------------- writing */

static void s_flush(akemu_conn *c) {
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.ptr + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!c->pollout && akemu_loop_mod(c->fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, &c->w) != AK_OK) {
                    akemu_conn_close(c);
                    return;
                }
                c->pollout = true;
                return;
            }
            akemu_conn_close(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    ak_buf_clear(&c->out);
    c->out_off = 0;
    if (c->pollout) {
        c->pollout = false;
        if (akemu_loop_mod(c->fd, EPOLLIN | EPOLLRDHUP, &c->w) != AK_OK) {
            akemu_conn_close(c);
            return;
        }
    }
    if (c->close_after) {
        if (c->discard > 0 || c->req.too_large) {
            /* Lingering close: stop writing, read and drop what the client still sends. */
            shutdown(c->fd, SHUT_WR);
            c->draining = true;
            c->drain_deadline_ns = akemu_now_ns() + (uint64_t)AKEMU_DRAIN_MS * 1000000u;
        } else {
            akemu_conn_close(c);
        }
    }
}

static void s_parse_more(akemu_conn *c);

void akemu_conn_respond(akemu_conn *c, int status, const char *content_type, const char *extra_headers,
                        ak_cur body) {
    if (c->dead) return;
    bool keep = c->req.keep_alive && !c->req.too_large && !c->close_after;
    if (!keep) c->close_after = true;
    ak_err rc = ak_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n", status,
                              ak_http_reason_phrase(status), body.len);
    if (rc == AK_OK && content_type != NULL)
        rc = ak_buf_printf(&c->out, "Content-Type: %s\r\n", content_type);
    if (rc == AK_OK && extra_headers != NULL) rc = ak_buf_append_str(&c->out, extra_headers);
    if (rc == AK_OK) rc = ak_buf_append_str(&c->out, keep ? "\r\n" : "Connection: close\r\n\r\n");
    if (rc == AK_OK) rc = ak_buf_append_cur(&c->out, body);
    if (rc != AK_OK) {
        akemu_conn_close(c);
        return;
    }
    /* The request is answered: drop its bytes and look at the next one. */
    size_t used = c->req.consumed <= c->in.len ? c->req.consumed : c->in.len;
    memmove(c->in.ptr, c->in.ptr + used, c->in.len - used);
    c->in.len -= used;
    c->req.consumed = 0;
    c->have_req = false;
    c->deferred = false;
    c->continue_sent = false;
    s_flush(c);
    if (!c->dead && !c->close_after && c->in.len > 0) s_parse_more(c);
}

void akemu_conn_respond_json(akemu_conn *c, int status, const char *extra_headers, const char *json) {
    akemu_conn_respond(c, status, "application/json", extra_headers, ak_cur_from_str(json));
}

static void s_dispatch(akemu_conn *c) {
    c->have_req = true;
    if (c->role == AKEMU_ROLE_RAPI) {
        akemu_rapi_handle(c);
    } else {
        akemu_front_handle(c);
    }
}

static void s_parse_more(akemu_conn *c) {
    while (!c->dead && !c->have_req && !c->draining && c->in.len > 0) {
        s_parse_rc pr = s_parse(c);
        if (pr == S_NEED_MORE) return;
        if (pr == S_BAD || pr == S_HEAD_TOO_BIG) {
            c->close_after = true;
            c->req.consumed = c->in.len;
            akemu_conn_respond_json(c, pr == S_BAD ? 400 : 431, NULL,
                                    pr == S_BAD ? "{\"message\":\"Bad Request\"}"
                                                : "{\"message\":\"Request Header Fields Too Large\"}");
            return;
        }
        if (c->req.too_large) c->close_after = true;
        s_dispatch(c);
    }
}

void akemu_conn_event(akemu_conn *c, uint32_t events) {
    if (c->dead) return;
    if (events & EPOLLOUT) {
        s_flush(c);
        if (c->dead) return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        for (;;) {
            uint8_t tmp[65536];
            ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                akemu_conn_close(c);
                return;
            }
            if (n == 0) {
                /* Peer closed. A request in flight (a parked /next, a pending invoke) dies with it:
                 * nobody is left to read the answer. */
                akemu_conn_close(c);
                return;
            }
            if (c->draining || c->discard > 0) {
                size_t drop = (size_t)n;
                if (c->discard > 0) c->discard = (uint64_t)drop >= c->discard ? 0 : c->discard - drop;
                continue;
            }
            if (c->have_req || c->close_after) {
                /* Pipelined bytes behind a pending request: keep them, bounded. */
                if (ak_buf_append(&c->in, tmp, (size_t)n) != AK_OK) {
                    akemu_conn_close(c);
                    return;
                }
                continue;
            }
            if (ak_buf_append(&c->in, tmp, (size_t)n) != AK_OK) {
                /* Only reachable with a body under the limit plus pipelined junk: refuse. */
                c->close_after = true;
                c->req.consumed = c->in.len;
                akemu_conn_respond_json(c, 413, NULL, "{\"message\":\"Request Entity Too Large\"}");
                return;
            }
            s_parse_more(c);
            if (c->dead) return;
        }
        if (!c->have_req) s_parse_more(c);
    }
}
