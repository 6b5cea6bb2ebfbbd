/* server.c — accept loop and per-connection request handling (see aks/server.h). */
#include "aks/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/ct.h"
#include "ak/log.h"
#include "aks/listen.h"

typedef struct {
    aks_server *srv;
    int fd;
    char peer[64];
} s_srv_job;

static void s_srv_peer_name(int fd, char *out, size_t cap) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    out[0] = '\0';
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET) {
        char ip[INET_ADDRSTRLEN];
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)) != NULL)
            snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
    } else if (ss.ss_family == AF_VSOCK) {
        struct sockaddr_vm *vm = (struct sockaddr_vm *)&ss;
        snprintf(out, cap, "vsock:%u:%u", vm->svm_cid, vm->svm_port);
    }
}

/* Sends one response; the body buffer is secret (KEKs travel in it). */
static ak_err s_srv_send(aks_tls_conn *t, int status, const ak_buf *body, bool keep_alive, int64_t deadline) {
    ak_buf out;
    ak_buf_init_secret(&out, 1024u * 1024u);
    ak_err rc = aks_http_write_response(&out, status, ak_buf_cur(body), keep_alive);
    if (rc == AK_OK) rc = aks_tls_write_all(t, out.ptr, out.len, deadline);
    ak_buf_free(&out);
    return rc;
}

static void s_srv_log_request(const aks_http_req *req, aks_role role, int status, ak_err e) {
    char method[AKS_HTTP_MAX_METHOD + 1], path[AKS_HTTP_MAX_TARGET + 1], st[8];
    if (ak_cur_to_cstr(req->method, method, sizeof(method)) != AK_OK) method[0] = '\0';
    if (ak_cur_to_cstr(req->path, path, sizeof(path)) != AK_OK) path[0] = '\0';
    snprintf(st, sizeof(st), "%d", status);
    ak_log_info("request", "method", method, "path", path, "role", aks_role_name(role), "status", st,
                "reason", ak_err_reason(e));
}

static void s_srv_serve(aks_server *srv, aks_tls_conn *t, const char *peer) {
    const aks_server_opts *o = &srv->opts;
    ak_buf in, body;
    int br_err = 0;
    ak_buf_init_secret(&in, o->limits.max_head + o->limits.max_body);
    ak_buf_init_secret(&body, 1024u * 1024u);

    if (aks_tls_handshake(t, aks_now_mono_ms() + o->handshake_ms, &br_err) != AK_OK) {
        char code[16];
        snprintf(code, sizeof(code), "%d", br_err);
        if (br_err == BR_ERR_X509_FORBIDDEN_KEY_USAGE && t->eku.eku_rc != AK_OK)
            ak_log_warn("tls handshake failed", "peer", peer, "br_err", code, "reason",
                        ak_err_reason(t->eku.eku_rc), "need",
                        "client certificate with extendedKeyUsage clientAuth");
        else
            ak_log_warn("tls handshake failed", "peer", peer, "br_err", code, "timeout",
                        t->timed_out ? "1" : "0");
        goto out;
    }
    aks_role role = aks_role_from_identity(t->names[0].status == 1 ? t->uri[0] : NULL,
                                           t->names[1].status == 1 ? t->uri[1] : NULL);
    if (role == AKS_ROLE_NONE)
        ak_log_warn("client authenticated without a role", "peer", peer, "need",
                    "one SAN URI " AKS_ROLE_URI_PREFIX "<role>");
    else
        ak_log_info("client authenticated", "peer", peer, "role", aks_role_name(role), "resumed",
                    t->resumed ? "1" : "0");

    int64_t req_start = 0;
    for (;;) {
        aks_http_req req;
        bool complete = false;
        ak_err perr = aks_http_parse(ak_buf_cur(&in), &o->limits, &req, &complete);
        if (perr != AK_OK) {
            int status = ak_err_status(perr);
            if (aks_api_error_body(perr, &body) == AK_OK)
                (void)s_srv_send(t, status, &body, false, aks_now_mono_ms() + o->request_ms);
            ak_log_warn("bad request", "peer", peer, "reason", ak_err_reason(perr));
            break;
        }
        if (complete) {
            int status = 500;
            ak_err e = AK_OK;
            aks_api_handle(srv->ctx, role, &req, &status, &body, &e);
            s_srv_log_request(&req, role, status, e);
            bool keep = req.keep_alive && !*srv->stop;
            ak_err werr = s_srv_send(t, status, &body, keep, aks_now_mono_ms() + o->request_ms);
            ak_buf_clear(&body);
            if (werr != AK_OK || !keep) break;
            /* Keep any pipelined bytes that follow this request. */
            size_t rest = in.len - req.total_len;
            memmove(in.ptr, in.ptr + req.total_len, rest);
            ak_wipe(in.ptr + rest, req.total_len);
            in.len = rest;
            req_start = rest ? aks_now_mono_ms() : 0;
            if (rest) continue;
        }
        uint8_t chunk[4096];
        size_t room = in.max - in.len;
        if (room == 0) break; /* cannot happen: the parser refuses before the buffer fills */
        int64_t deadline = in.len == 0 ? aks_now_mono_ms() + o->idle_ms : req_start + o->request_ms;
        long n = aks_tls_read(t, chunk, room < sizeof(chunk) ? room : sizeof(chunk), deadline);
        if (n <= 0) break;
        if (in.len == 0) req_start = aks_now_mono_ms();
        ak_err aerr = ak_buf_append(&in, chunk, (size_t)n);
        ak_wipe(chunk, (size_t)n);
        if (aerr != AK_OK) break;
    }
    aks_tls_close(t, aks_now_mono_ms() + 200);
out:
    ak_buf_free(&in);
    ak_buf_free(&body);
}

static void *s_srv_thread(void *arg) {
    s_srv_job *job = arg;
    aks_server *srv = job->srv;
    aks_tls_conn *t = ak_malloc(sizeof(*t));
    if (t != NULL && aks_tls_conn_init(t, srv->tls, job->fd) == AK_OK) s_srv_serve(srv, t, job->peer);
    if (t != NULL) ak_free_secure(t, sizeof(*t));
    close(job->fd);
    ak_free(job);
    __atomic_fetch_sub(&srv->active, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

ak_err aks_server_run(aks_server *s) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (!*s->stop) {
        struct pollfd p = {s->lfd, POLLIN, 0};
        int r = poll(&p, 1, 500);
        if (r <= 0) continue;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        char peer[64];
        s_srv_peer_name(fd, peer, sizeof(peer));
        /* BearSSL writes each handshake message as its own small record; with Nagle on, the
         * second one waits for the peer's delayed ACK (~40 ms per flight). */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (__atomic_add_fetch(&s->active, 1, __ATOMIC_SEQ_CST) > s->opts.max_conns) {
            __atomic_fetch_sub(&s->active, 1, __ATOMIC_SEQ_CST);
            ak_log_warn("connection refused: too many connections", "peer", peer);
            close(fd);
            continue;
        }
        s_srv_job *job = ak_malloc(sizeof(*job));
        pthread_t th;
        if (job != NULL) {
            job->srv = s;
            job->fd = fd;
            memcpy(job->peer, peer, sizeof(peer));
        }
        if (job == NULL || pthread_create(&th, &attr, s_srv_thread, job) != 0) {
            ak_free(job);
            close(fd);
            __atomic_fetch_sub(&s->active, 1, __ATOMIC_SEQ_CST);
            ak_log_error("cannot start connection thread", "peer", peer);
        }
    }
    pthread_attr_destroy(&attr);
    /* Let connections in flight finish their current request (bounded). */
    for (int i = 0; i < 50 && __atomic_load_n(&s->active, __ATOMIC_SEQ_CST) > 0; i++)
        usleep(100 * 1000);
    return AK_OK;
}
