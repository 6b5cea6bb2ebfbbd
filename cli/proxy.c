/*
 * cli/proxy.c — `agentkeys proxy --listen 127.0.0.1:PORT`: a loopback HTTP/1.1 endpoint that
 * forwards http://127.0.0.1:PORT/<service>/<path>?<query> through POST /v1/cred/use to
 * https://<host>/<path>?<query>, so an unmodified SDK works with its base URL pointed here and a
 * dummy key (issue 14 item 3; D19). The secret is injected by CredUseFunction; this process
 * never has it.
 *
 * The upstream host: the agent cannot read the policy of a use-only credential (it is sealed
 * with the secret), so the host comes from `--upstream SERVICE=HOST[:PORT]` or, per request,
 * the header `X-Agentkeys-Upstream: HOST[:PORT]` (which wins). Either way the worker checks it
 * against the sealed `allowed_hosts` (host_not_allowed otherwise); it is routing, not trust.
 *
 * Requests: method, path, query, body and headers are passed through, minus hop-by-hop headers,
 * Host, Content-Length (recomputed), Accept-Encoding (the worker refuses compressed answers: it
 * must see the bytes to redact them) and the dummy keys SDKs send (Authorization, x-api-key,
 * api-key, x-goog-api-key, and X-Agentkeys-Upstream). Answers: the third party's status,
 * headers and body (a refusal: the worker's status with {"error","reason"} and
 * X-Agentkeys-Reason). Limits: head 32 KiB, 100 headers, body AK_CLIENT_USE_MAX_BODY
 * (Content-Length or chunked), --max-conn connections at once (default 16; over it: 503),
 * 30 s idle keep-alive, 15 s to send a request. With --require-key FILE, a request must carry
 * that key where SDKs put theirs (Authorization: Bearer KEY, x-api-key, api-key, x-goog-api-key;
 * compared in constant time) or gets 401: the "dummy key" becomes a local access key, so other
 * local users cannot borrow the agent's credentials through the port. Browser requests (an Origin header) and Host
 * headers other than a loopback name are refused 403 (cross-site requests and DNS rebinding).
 *
 * Concurrency: a small thread per connection (bounded), each with its own HTTP handle. The API
 * client (session, cap and STS cache) is one per process and not thread-safe: the cap and
 * credentials are taken from it under a mutex (ak_client_use_prepare), and the /v1/cred/use
 * calls themselves run in parallel (ak_client_use_send). SIGINT/SIGTERM: stop accepting, let connections
 * finish their current request (at most 10 s), exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/ct.h"
#include "ak/identity.h"
#include "ak/json.h"
#include "ak/usepolicy.h"
#include "use.h"

#define S_MAX_HEAD (32u * 1024u)
#define S_MAX_HDRS 100
#define S_MAX_ROUTES 16
#define S_IDLE_MS 30000
#define S_REQ_MS 15000

typedef struct s_route {
    char service[65];
    char host[AK_USE_MAX_HOST + 8];
} s_route;

typedef struct s_proxy {
    akcli *c;
    akcli_session sess;
    pthread_mutex_t mu; /* the client */
    pthread_mutex_t cmu;
    pthread_cond_t cv;
    int active, max_conn;
    s_route routes[S_MAX_ROUTES];
    int n_routes;
    int port;
    char key[257]; /* --require-key: the local access key (secret; wiped at exit) */
    size_t key_len;
} s_proxy;

static volatile sig_atomic_t g_stop;
static int g_pipe[2] = {-1, -1};

static void s_on_signal(int sig) {
    (void)sig;
    g_stop = 1;
    if (g_pipe[1] >= 0) {
        char b = 1;
        ssize_t w = write(g_pipe[1], &b, 1);
        (void)w;
    }
}

/* ---------------------------------------------------------------- listen address */

/* HOST:PORT with HOST a loopback: 127.0.0.0/8, ::1 ([::1]) or "localhost". */
static int s_parse_listen(akcli *c, const char *spec, struct sockaddr_storage *ss, socklen_t *len) {
    char host[64];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec || (size_t)(colon - spec) >= sizeof host)
        return akcli_usage(c, "--listen takes 127.0.0.1:PORT");
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    uint64_t port = 0;
    if (ak_cur_to_u64(ak_cur_from_str(colon + 1), &port) != AK_OK || port > 65535)
        return akcli_usage(c, "--listen: bad port '%s'", colon + 1);
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
            return akcli_fail(c, AKCLI_USAGE, "not_loopback",
                              "--listen %s: the proxy listens on loopback only (127.0.0.0/8, [::1])", spec);
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
        return AKCLI_OK;
    }
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1) {
            if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
                return akcli_fail(c, AKCLI_USAGE, "not_loopback",
                                  "--listen %s: the proxy listens on loopback only (127.0.0.0/8, [::1])",
                                  spec);
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons((uint16_t)port);
            *len = sizeof *a6;
            return AKCLI_OK;
        }
    }
    return akcli_fail(c, AKCLI_USAGE, "not_loopback",
                      "--listen %s: an IP literal on loopback is required (127.0.0.1:PORT or [::1]:PORT)",
                      spec);
}

/* ---------------------------------------------------------------- connection I/O */

typedef struct s_conn {
    s_proxy *p;
    int fd;
    ak_http *http; /* this connection's handle for /v1/cred/use */
    uint8_t *in;   /* received bytes not yet consumed */
    size_t len, cap;
} s_conn;

static bool s_send_all(int fd, const void *buf, size_t n) {
    const uint8_t *q = buf;
    while (n > 0) {
        ssize_t w = send(fd, q, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        q += w;
        n -= (size_t)w;
    }
    return true;
}

/* Receives more bytes (bounded by `deadline_ms`, an absolute ak_http_now_ms time). 1 = got some,
 * 0 = EOF, -1 = error, timeout, full buffer or shutdown. */
static int s_fill(s_conn *k, int64_t deadline_ms) {
    if (k->len == k->cap) return -1;
    for (;;) {
        int64_t left = deadline_ms - ak_http_now_ms();
        if (left <= 0) return -1;
        struct pollfd pf = {.fd = k->fd, .events = POLLIN};
        int r = poll(&pf, 1, left > 500 ? 500 : (int)left);
        if (r < 0 && errno != EINTR) return -1;
        if (r <= 0) {
            if (g_stop && k->len == 0) return -1; /* idle at shutdown */
            continue;
        }
        ssize_t n = recv(k->fd, k->in + k->len, k->cap - k->len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return 0;
        k->len += (size_t)n;
        return 1;
    }
}

static void s_consume(s_conn *k, size_t n) {
    memmove(k->in, k->in + n, k->len - n);
    k->len -= n;
}

static long s_find(const uint8_t *p, size_t n, const char *pat) {
    size_t m = strlen(pat);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(p + i, pat, m) == 0) return (long)i;
    return -1;
}

/* Writes a local answer (an error of the proxy or a refusal of the worker). */
static bool s_reply_error(s_conn *k, int status, const char *reason, const char *msg, bool keep) {
    ak_buf b;
    ak_buf_init(&b, 4096);
    json_t *j = json_pack("{s:s, s:s}", "error", msg, "reason", reason);
    bool ok = j && ak_json_dump(j, &b) == AK_OK;
    if (j) json_decref(j);
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nx-agentkeys-reason: %s\r\n"
                      "content-length: %zu\r\nconnection: %s\r\n\r\n",
                      status, ak_http_reason_phrase(status), reason, ok ? b.len : 0,
                      keep ? "keep-alive" : "close");
    ok = s_send_all(k->fd, head, (size_t)hl) && (!ok || s_send_all(k->fd, b.ptr, b.len));
    ak_buf_free(&b);
    return ok && keep;
}

/* ---------------------------------------------------------------- one request */

typedef struct s_hdr {
    ak_cur name, value;
} s_hdr;

static bool s_is(ak_cur a, const char *s) { return ak_cur_eq_nocase(a, ak_cur_from_str(s)); }

static bool s_dropped(ak_cur n) {
    static const char *const drop[] = {"connection",
                                       "keep-alive",
                                       "proxy-connection",
                                       "te",
                                       "trailer",
                                       "transfer-encoding",
                                       "upgrade",
                                       "host",
                                       "content-length",
                                       "accept-encoding",
                                       "expect",
                                       "authorization",
                                       "x-api-key",
                                       "api-key",
                                       "x-goog-api-key",
                                       "proxy-authorization",
                                       "x-agentkeys-upstream",
                                       NULL};
    for (int i = 0; drop[i]; i++)
        if (s_is(n, drop[i])) return true;
    return false;
}

/* A Host header naming this proxy by a loopback name (DNS rebinding defence). */
static bool s_host_ok(ak_cur h) {
    ak_cur name = h;
    if (h.len > 0 && h.ptr[0] == '[') {
        long e = s_find(h.ptr, h.len, "]");
        if (e < 0) return false;
        name = ak_cur_from(h.ptr, (size_t)e + 1);
    } else {
        long e = s_find(h.ptr, h.len, ":");
        if (e >= 0) name.len = (size_t)e;
    }
    if (s_is(name, "localhost") || s_is(name, "[::1]")) return true;
    char tmp[64];
    struct in_addr a;
    if (ak_cur_to_cstr(name, tmp, sizeof tmp) != AK_OK || inet_pton(AF_INET, tmp, &a) != 1) return false;
    return (ntohl(a.s_addr) >> 24) == 127;
}

/* Reads a chunked body from k (after the head) into body. Returns the bytes consumed, or -1
 * (bad framing / too large / timeout). */
static long s_read_chunked(s_conn *k, size_t start, ak_buf *body, int64_t deadline) {
    size_t pos = start;
    for (;;) {
        long e;
        while ((e = s_find(k->in + pos, k->len - pos, "\r\n")) < 0)
            if (s_fill(k, deadline) != 1) return -1;
        uint64_t sz = 0;
        size_t i = 0;
        for (; i < (size_t)e; i++) {
            uint8_t ch = k->in[pos + i];
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d < 0) break;
            if (sz > AK_CLIENT_USE_MAX_BODY) return -1;
            sz = sz * 16 + (uint64_t)d;
        }
        if (i == 0) return -1;
        pos += (size_t)e + 2;
        if (sz == 0) { /* trailers until an empty line */
            for (;;) {
                while ((e = s_find(k->in + pos, k->len - pos, "\r\n")) < 0)
                    if (s_fill(k, deadline) != 1) return -1;
                pos += (size_t)e + 2;
                if (e == 0) return (long)pos;
            }
        }
        if (body->len + sz > AK_CLIENT_USE_MAX_BODY) return -1;
        while (k->len - pos < sz + 2)
            if (s_fill(k, deadline) != 1) return -1;
        if (ak_buf_append(body, k->in + pos, (size_t)sz) != AK_OK) return -1;
        if (memcmp(k->in + pos + sz, "\r\n", 2) != 0) return -1;
        pos += (size_t)sz + 2;
    }
}

/* One /v1/cred/use call: the material from the shared client under its lock, the call itself
 * on this connection's own HTTP handle (calls of several connections overlap); once more with
 * fresh material when cached material was refused. The refusal's reason/status go to wr/wst. */
static ak_err s_use(s_conn *k, ak_cur svc, const ak_client_use_req *rq, ak_client_use_resp *r, char wr[64],
                    long *wst) {
    s_proxy *p = k->p;
    ak_client_use_material m;
    ak_client_use_material_init(&m);
    ak_err e = AK_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&p->mu);
        /* the retry: a new cap, new STS credentials only if they were refused */
        e = ak_client_use_prepare(p->sess.cl, svc, attempt > 0 ? e : AK_OK, &m);
        if (e != AK_OK) {
            snprintf(wr, 64, "%s", ak_client_last_reason(p->sess.cl));
            *wst = ak_client_last_status(p->sess.cl);
        }
        pthread_mutex_unlock(&p->mu);
        if (e != AK_OK) break;
        e = ak_client_use_send(&m, k->http, rq, r, wr, wst);
        if (!(m.cached && ak_client_use_retryable(e))) break;
        ak_client_use_resp_free(r);
        ak_client_use_resp_init(r);
    }
    ak_client_use_material_free(&m);
    return e;
}

/* Serves one request. Returns true to keep the connection. */
static bool s_one(s_conn *k) {
    s_proxy *p = k->p;
    long he;
    int64_t deadline = ak_http_now_ms() + S_IDLE_MS;
    while ((he = s_find(k->in, k->len, "\r\n\r\n")) < 0) {
        if (k->len >= S_MAX_HEAD) return s_reply_error(k, 431, "too_large", "request head too large", false);
        int r = s_fill(k, deadline);
        if (r != 1) return false;
        if (k->len > 0) deadline = ak_http_now_ms() + S_REQ_MS;
    }
    deadline = ak_http_now_ms() + S_REQ_MS;
    ak_cur head = ak_cur_from(k->in, (size_t)he + 2), line;
    if (!ak_cur_split(&head, '\n', &line)) return false;
    line = ak_cur_trim(line);
    ak_cur method, target, version = line;
    if (!ak_cur_split(&version, ' ', &method) || !ak_cur_split(&version, ' ', &target))
        return s_reply_error(k, 400, "invalid_input", "bad request line", false);
    bool http11 = ak_cur_eq_str(version, "HTTP/1.1");
    if (!http11 && !ak_cur_eq_str(version, "HTTP/1.0"))
        return s_reply_error(k, 505, "invalid_input", "HTTP/1.0 or HTTP/1.1 only", false);
    s_hdr hs[S_MAX_HDRS];
    int nh = 0;
    ak_cur host = {0}, upstream = {0}, te = {0}, conn = {0}, cl = {0}, expect = {0};
    bool origin = false, key_ok = p->key_len == 0;
    while (head.len > 0) {
        if (!ak_cur_split(&head, '\n', &line)) break;
        line = ak_cur_trim(line);
        if (line.len == 0) break;
        ak_cur name;
        if (!ak_cur_split(&line, ':', &name) || name.len == 0)
            return s_reply_error(k, 400, "invalid_input", "bad header line", false);
        if (nh == S_MAX_HDRS) return s_reply_error(k, 431, "too_large", "too many headers", false);
        hs[nh++] = (s_hdr){ak_cur_trim(name), ak_cur_trim(line)};
        ak_cur n = hs[nh - 1].name, v = hs[nh - 1].value;
        if (s_is(n, "host")) host = v;
        if (s_is(n, "x-agentkeys-upstream")) upstream = v;
        if (s_is(n, "transfer-encoding")) te = v;
        if (s_is(n, "connection")) conn = v;
        if (s_is(n, "content-length")) cl = v;
        if (s_is(n, "expect")) expect = v;
        if (s_is(n, "origin")) origin = true;
        if (p->key_len && (s_is(n, "authorization") || s_is(n, "x-api-key") || s_is(n, "api-key") ||
                           s_is(n, "x-goog-api-key"))) {
            ak_cur kv = v;
            if (s_is(n, "authorization") && kv.len > 7 && s_is(ak_cur_from(kv.ptr, 7), "bearer "))
                kv = ak_cur_trim(ak_cur_from(kv.ptr + 7, kv.len - 7));
            if (ak_ct_eq_len(kv.ptr, kv.len, p->key, p->key_len)) key_ok = true;
        }
    }
    bool keep = http11 ? !s_is(conn, "close") : s_is(conn, "keep-alive");
    size_t body_start = (size_t)he + 4;
    /* the body, bounded */
    ak_buf body;
    ak_buf_init(&body, AK_CLIENT_USE_MAX_BODY);
    bool ok = true;
    size_t used = body_start;
    if (expect.len && s_is(expect, "100-continue")) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!s_send_all(k->fd, cont, sizeof cont - 1)) {
            ak_buf_free(&body);
            return false;
        }
    }
    if (te.len) {
        if (!s_is(te, "chunked")) {
            ak_buf_free(&body);
            return s_reply_error(k, 501, "invalid_input", "only chunked transfer-encoding", false);
        }
        long u = s_read_chunked(k, body_start, &body, deadline);
        if (u < 0) {
            ak_buf_free(&body);
            return s_reply_error(k, 413, "too_large", "bad or too large chunked body", false);
        }
        used = (size_t)u;
    } else if (cl.len) {
        uint64_t n = 0;
        if (ak_cur_to_u64(cl, &n) != AK_OK || n > AK_CLIENT_USE_MAX_BODY) {
            ak_buf_free(&body);
            return s_reply_error(k, 413, "too_large", "the request body is over the limit (1 MiB)", false);
        }
        while (k->len - body_start < n)
            if (s_fill(k, deadline) != 1) {
                ak_buf_free(&body);
                return false;
            }
        ok = ak_buf_append(&body, k->in + body_start, (size_t)n) == AK_OK;
        used = body_start + (size_t)n;
    }
    /* checks, then the route: /<service>/<path...> */
    char svc[65] = "", url[AK_USE_MAX_URL + 1];
    int status = 0;
    const char *reason = NULL, *msg = NULL;
    ak_cur t = target, service;
    if (!ok) {
        status = 413, reason = "too_large", msg = "request too large";
    } else if (origin) {
        status = 403, reason = "origin_refused", msg = "browser requests (Origin) are refused";
    } else if (!key_ok) {
        status = 401, reason = "unauthorized", msg = "this proxy requires its key (--require-key)";
    } else if (!s_host_ok(host)) {
        status = 403, reason = "host_header_refused", msg = "the Host header must name a loopback address";
    } else if (t.len < 2 || t.ptr[0] != '/') {
        status = 400, reason = "invalid_input", msg = "the path is /<service>/<path>";
    } else {
        t = ak_cur_from(t.ptr + 1, t.len - 1);
        size_t sl = 0;
        while (sl < t.len && t.ptr[sl] != '/' && t.ptr[sl] != '?')
            sl++;
        service = ak_cur_from(t.ptr, sl);
        ak_cur rest = ak_cur_from(t.ptr + sl, t.len - sl);
        if (ak_service_validate(service) != AK_OK || ak_cur_to_cstr(service, svc, sizeof svc) != AK_OK) {
            status = 400, reason = "invalid_service", msg = "the path is /<service>/<path>";
        } else {
            const char *rhost = NULL;
            char hbuf[AK_USE_MAX_HOST + 8];
            if (upstream.len && ak_cur_to_cstr(upstream, hbuf, sizeof hbuf) == AK_OK) rhost = hbuf;
            for (int i = 0; rhost == NULL && i < p->n_routes; i++)
                if (strcmp(p->routes[i].service, svc) == 0) rhost = p->routes[i].host;
            if (rhost == NULL) {
                status = 502, reason = "no_upstream",
                msg = "no upstream host for this service (--upstream SERVICE=HOST or X-Agentkeys-Upstream)";
            } else {
                int n = snprintf(url, sizeof url, "https://%s%s%.*s", rhost,
                                 rest.len && rest.ptr[0] == '?' ? "/" : "", (int)rest.len,
                                 (const char *)rest.ptr);
                if (n < 0 || (size_t)n >= sizeof url)
                    status = 414, reason = "too_large", msg = "URL too long";
                else if (rest.len == 0)
                    snprintf(url + n, sizeof url - (size_t)n, "/");
            }
        }
    }
    if (status) {
        ak_buf_free(&body);
        s_consume(k, used);
        return s_reply_error(k, status, reason, msg, keep && status != 413);
    }
    /* the call */
    ak_http_header fw[AK_USE_MAX_HEADERS];
    char fnames[AK_USE_MAX_HEADERS][AK_USE_MAX_HEADER_NAME + 1];
    size_t nf = 0;
    for (int i = 0; i < nh; i++) {
        if (s_dropped(hs[i].name)) continue;
        if (nf == AK_USE_MAX_HEADERS || hs[i].name.len > AK_USE_MAX_HEADER_NAME) {
            ak_buf_free(&body);
            s_consume(k, used);
            return s_reply_error(k, 431, "too_large", "too many or too long headers to forward", keep);
        }
        memcpy(fnames[nf], hs[i].name.ptr, hs[i].name.len);
        fnames[nf][hs[i].name.len] = '\0';
        for (char *q = fnames[nf]; *q; q++)
            if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
        fw[nf] = (ak_http_header){fnames[nf], hs[i].value};
        nf++;
    }
    char mth[16];
    if (ak_cur_to_cstr(method, mth, sizeof mth) != AK_OK) mth[0] = '\0';
    ak_client_use_req rq = {.method = mth,
                            .url = ak_cur_from_str(url),
                            .headers = fw,
                            .n_headers = nf,
                            .body = ak_buf_cur(&body)};
    ak_client_use_resp r;
    ak_client_use_resp_init(&r);
    char why[200] = "", wr[64] = "";
    long wst = 0;
    ak_err e = s_use(k, ak_cur_from_str(svc), &rq, &r, wr, &wst);
    if (e != AK_OK) {
        if (wr[0] == '\0') snprintf(wr, sizeof wr, "%s", ak_err_reason(e));
        ak_err re = ak_err_from_reason(wr);
        snprintf(why, sizeof why, "%s: %s", wr, ak_err_message(re != AK_E__COUNT && re != AK_OK ? re : e));
    }
    ak_buf_free(&body);
    s_consume(k, used);
    bool head_only = strcmp(mth, "HEAD") == 0;
    if (e != AK_OK) {
        ak_client_use_resp_free(&r);
        int st = wst >= 400 && wst <= 599 ? (int)wst : ak_err_status(e) >= 400 ? ak_err_status(e) : 502;
        akcli_note(p->c, "proxy: %s %s/... refused: %s", mth, svc, why);
        return s_reply_error(k, st, wr, why, keep);
    }
    ak_buf out;
    ak_buf_init(&out, 1u << 20);
    bool sent =
        ak_buf_printf(&out, "HTTP/1.1 %ld %s\r\n", r.status, ak_http_reason_phrase((int)r.status)) == AK_OK;
    size_t i;
    const json_t *h;
    json_array_foreach(r.headers, i, h) {
        const char *n = json_string_value(json_array_get(h, 0)), *v = json_string_value(json_array_get(h, 1));
        if (!n || !v || s_dropped(ak_cur_from_str(n))) continue;
        if (strpbrk(n, "\r\n") || strpbrk(v, "\r\n")) continue;
        if (sent) sent = ak_buf_printf(&out, "%s: %s\r\n", n, v) == AK_OK;
    }
    bool no_body = head_only || r.status == 204 || r.status == 304 || r.status < 200;
    if (sent)
        sent = ak_buf_printf(&out, "content-length: %zu\r\nconnection: %s\r\n\r\n", no_body ? 0 : r.body.len,
                             keep ? "keep-alive" : "close") == AK_OK;
    sent =
        sent && s_send_all(k->fd, out.ptr, out.len) && (no_body || s_send_all(k->fd, r.body.ptr, r.body.len));
    ak_buf_free(&out);
    ak_client_use_resp_free(&r);
    return sent && keep;
}

static void *s_conn_main(void *arg) {
    s_conn *k = arg;
    s_proxy *p = k->p;
    k->cap = S_MAX_HEAD + AK_CLIENT_USE_MAX_BODY + 64u * 1024u;
    k->in = ak_malloc(k->cap);
    ak_http_config hc = {.retry = {.max_attempts = 1}, .user_agent = "agentkeys-proxy/1"};
    if (k->in && ak_http_new(&hc, &k->http) == AK_OK) {
        while (!g_stop && s_one(k)) {}
    }
    ak_http_free(k->http);
    if (k->in) {
        ak_wipe(k->in, k->len);
        ak_free(k->in);
    }
    close(k->fd);
    ak_free(k);
    pthread_mutex_lock(&p->cmu);
    p->active--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->cmu);
    return NULL;
}

/* ---------------------------------------------------------------- the command */

int akcli_cmd_proxy(akcli *c, int argc, char **argv) {
    const char *listen_spec = NULL;
    s_proxy p;
    memset(&p, 0, sizeof p);
    p.c = c;
    p.max_conn = 16;
    for (int i = 0; i < argc; i++) {
        const char *x = argv[i];
        if (strcmp(x, "--listen") == 0 && i + 1 < argc)
            listen_spec = argv[++i];
        else if (strncmp(x, "--listen=", 9) == 0)
            listen_spec = x + 9;
        else if (strcmp(x, "--upstream") == 0 && i + 1 < argc) {
            const char *u = argv[++i], *eq = strchr(u, '=');
            if (eq == NULL || eq == u || !eq[1] || p.n_routes == S_MAX_ROUTES ||
                (size_t)(eq - u) >= sizeof p.routes[0].service || strlen(eq + 1) >= sizeof p.routes[0].host ||
                strpbrk(eq + 1, "/?#@ "))
                return akcli_usage(c, "--upstream takes SERVICE=HOST[:PORT] (at most %d)", S_MAX_ROUTES);
            s_route *r = &p.routes[p.n_routes++];
            memcpy(r->service, u, (size_t)(eq - u));
            r->service[eq - u] = '\0';
            snprintf(r->host, sizeof r->host, "%s", eq + 1);
            if (ak_service_validate(ak_cur_from_str(r->service)) != AK_OK)
                return akcli_usage(c, "--upstream: '%s' is not a service name", r->service);
        } else if (strcmp(x, "--require-key") == 0 && i + 1 < argc) {
            ak_buf kb;
            ak_buf_init_secret(&kb, sizeof p.key - 1);
            ak_err ke = ak_buf_append_file(&kb, argv[++i]);
            ak_cur kt = ak_cur_trim(ak_buf_cur(&kb));
            bool good = ke == AK_OK && kt.len >= 16 && ak_cur_to_cstr(kt, p.key, sizeof p.key) == AK_OK;
            p.key_len = good ? kt.len : 0;
            ak_buf_free(&kb);
            if (!good)
                return akcli_fail(c, AKCLI_USAGE, "invalid_input",
                                  "--require-key FILE: a file holding a key of 16..256 bytes");
        } else if (strcmp(x, "--max-conn") == 0 && i + 1 < argc) {
            uint64_t n = 0;
            if (ak_cur_to_u64(ak_cur_from_str(argv[++i]), &n) != AK_OK || n < 1 || n > 256)
                return akcli_usage(c, "--max-conn takes 1..256");
            p.max_conn = (int)n;
        } else
            return akcli_usage(c, "unexpected argument '%s'", x);
    }
    if (listen_spec == NULL) return akcli_usage(c, "--listen 127.0.0.1:PORT is required");
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int rc = s_parse_listen(c, listen_spec, &ss, &sl);
    if (rc != AKCLI_OK) return rc;
    rc = akcli_session_open(c, &p.sess);
    if (rc != AKCLI_OK) return rc;
    /* sign in now: a key password is asked before serving, and a bad profile fails here */
    ak_err e = ak_client_login(p.sess.cl, false);
    if (e != AK_OK) {
        rc = akcli_session_fail(&p.sess, e, "proxy: login");
        akcli_session_close(&p.sess);
        return rc;
    }
    int lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&ss, sl) != 0 || listen(lfd, 64) != 0) {
        rc = akcli_fail(c, AKCLI_ERR, "io_error", "cannot listen on %s: %s", listen_spec, strerror(errno));
        if (lfd >= 0) close(lfd);
        akcli_session_close(&p.sess);
        return rc;
    }
    socklen_t gl = sizeof ss;
    getsockname(lfd, (struct sockaddr *)&ss, &gl);
    char addr[64] = "";
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
        p.port = ntohs(a->sin_port);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        addr[0] = '[';
        inet_ntop(AF_INET6, &a->sin6_addr, addr + 1, sizeof addr - 2);
        strncat(addr, "]", sizeof addr - strlen(addr) - 1);
        p.port = ntohs(a->sin6_port);
    }
    if (pipe2(g_pipe, O_CLOEXEC) != 0) {
        close(lfd);
        akcli_session_close(&p.sess);
        return akcli_fail(c, AKCLI_ERR, "io_error", "pipe: %s", strerror(errno));
    }
    g_stop = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&p.mu, NULL);
    pthread_mutex_init(&p.cmu, NULL);
    pthread_cond_init(&p.cv, NULL);
    printf("http://%s:%d\n", addr, p.port);
    fflush(stdout);
    akcli_note(c, "proxy listening on http://%s:%d (SERVICE path prefix; Ctrl-C stops)", addr, p.port);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    while (!g_stop) {
        struct pollfd pf[2] = {{.fd = lfd, .events = POLLIN}, {.fd = g_pipe[0], .events = POLLIN}};
        int r = poll(pf, 2, 1000);
        if (r < 0 && errno != EINTR) break;
        if (r <= 0 || g_stop || !(pf[0].revents & POLLIN)) continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&p.cmu);
        bool room = p.active < p.max_conn;
        if (room) p.active++;
        pthread_mutex_unlock(&p.cmu);
        s_conn *k = room ? ak_calloc(1, sizeof *k) : NULL;
        pthread_t th;
        if (k) {
            k->p = &p;
            k->fd = fd;
        }
        if (k == NULL || pthread_create(&th, &at, s_conn_main, k) != 0) {
            static const char busy[] =
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                "x-agentkeys-reason: throttled\r\ncontent-length: 53\r\nconnection: close\r\n\r\n"
                "{\"error\":\"too many connections\",\"reason\":\"throttled\"}";
            (void)s_send_all(fd, busy, sizeof busy - 1);
            close(fd);
            if (k) ak_free(k);
            if (room) {
                pthread_mutex_lock(&p.cmu);
                p.active--;
                pthread_mutex_unlock(&p.cmu);
            }
        }
    }
    pthread_attr_destroy(&at);
    close(lfd);
    akcli_note(c, "proxy stopping");
    /* let connections finish their current request (bounded) */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&p.cmu);
    while (p.active > 0)
        if (pthread_cond_timedwait(&p.cv, &p.cmu, &until) != 0) break;
    int left = p.active;
    pthread_mutex_unlock(&p.cmu);
    if (left > 0) {
        /* a connection still busy after 10 s: exit without freeing what it uses */
        akcli_note(c, "proxy: %d connection(s) still busy; exiting", left);
        fflush(stdout);
        _exit(AKCLI_OK);
    }
    pthread_mutex_lock(&p.mu);
    akcli_session_close(&p.sess);
    pthread_mutex_unlock(&p.mu);
    close(g_pipe[0]);
    close(g_pipe[1]);
    g_pipe[0] = g_pipe[1] = -1;
    ak_wipe(p.key, sizeof p.key);
    return AKCLI_OK;
}
