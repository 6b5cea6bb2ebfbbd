/*
 * unix_standin.h — a tiny scripted HTTP/1.1 server on an AF_UNIX socket (a thread in the test
 * process), reached through the "unix:PATH" connector: the same ak_http code path as vsock (our
 * socket, CURL_SOCKOPT_ALREADY_CONNECTED), on a kernel without vsock loopback. Keep-alive
 * aware; every wait is bounded (poll 50 ms slices, 3 s per request read). Records every request
 * (head + body) for the test to inspect. Used by connector_test.c and imds_test.c.
 */
#ifndef UNIX_STANDIN_H
#define UNIX_STANDIN_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Writes the full response for one request into out; returns its length, or 0 to close at once,
 * or -1 to close without reading anything further (used for the TLS probe). */
typedef long (*us_respond_fn)(void *user, const char *req, long len, char *out, size_t cap);

typedef struct us_srv {
    int lfd;
    char path[108];
    pthread_t th;
    atomic_int stop;
    atomic_int conns; /* connections accepted */
    atomic_int reqs;  /* requests answered */
    pthread_mutex_t mu;
    char log[65536]; /* every request, in order, separated by "\n--\n" */
    size_t log_len;
    bool raw; /* record the first read as is and close (TLS ClientHello probe) */
    us_respond_fn respond;
    void *user;
} us_srv;

static void us_send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void us_record(us_srv *s, const char *p, size_t n) {
    pthread_mutex_lock(&s->mu);
    if (s->log_len + n + 4 < sizeof(s->log)) {
        memcpy(s->log + s->log_len, p, n);
        s->log_len += n;
        memcpy(s->log + s->log_len, "\n--\n", 4);
        s->log_len += 4;
        s->log[s->log_len] = '\0';
    }
    pthread_mutex_unlock(&s->mu);
}

/* One request (head + Content-Length body); -1 on close/timeout. Bounded: 3 s. */
static long us_read_request(us_srv *s, int fd, char *buf, size_t cap) {
    size_t len = 0, want = 0;
    long head_end = -1;
    for (int slices = 0; slices < 60 && !atomic_load(&s->stop); slices++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        if (len == cap) return -1;
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r <= 0) return -1;
        len += (size_t)r;
        if (s->raw) return (long)len;
        if (head_end < 0) {
            for (size_t i = 3; i < len; i++)
                if (memcmp(buf + i - 3, "\r\n\r\n", 4) == 0) {
                    head_end = (long)i + 1;
                    break;
                }
            if (head_end >= 0) {
                size_t body = 0;
                const char *cl = memmem(buf, (size_t)head_end, "\r\nContent-Length: ", 18);
                if (cl != NULL)
                    for (cl += 18; *cl >= '0' && *cl <= '9'; cl++)
                        body = body * 10 + (size_t)(*cl - '0');
                want = (size_t)head_end + body;
            }
        }
        if (head_end >= 0 && len >= want) return (long)len;
    }
    return -1;
}

static void *us_serve(void *arg) {
    us_srv *s = arg;
    static char req[65536], out[65536];
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) continue;
        atomic_fetch_add(&s->conns, 1);
        for (;;) { /* keep-alive: requests until the client closes or another client waits */
            long n = us_read_request(s, fd, req, sizeof(req) - 1);
            if (n <= 0) break;
            us_record(s, req, (size_t)n);
            long m = s->respond(s->user, req, n, out, sizeof(out));
            atomic_fetch_add(&s->reqs, 1);
            if (m <= 0) break;
            us_send_all(fd, out, (size_t)m);
            struct pollfd q[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->lfd, .events = POLLIN}};
            if (poll(q, 2, 1000) <= 0 || (q[1].revents & POLLIN && !(q[0].revents & POLLIN))) break;
        }
        close(fd);
    }
    return NULL;
}

static void us_start(us_srv *s, us_respond_fn respond, void *user) {
    memset(s, 0, sizeof(*s));
    s->respond = respond;
    s->user = user;
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->path, sizeof(s->path), "/tmp/ak-us-%d-%p.sock", (int)getpid(), (void *)s);
    unlink(s->path);
    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->lfd >= 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, s->path, strlen(s->path) + 1);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 16), 0);
    assert_int_equal(pthread_create(&s->th, NULL, us_serve, s), 0);
}

static void us_stop(us_srv *s) {
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    close(s->lfd);
    unlink(s->path);
    pthread_mutex_destroy(&s->mu);
}

/* "unix:<path>" for the connector. */
static void us_spec(const us_srv *s, char *out, size_t cap) { snprintf(out, cap, "unix:%s", s->path); }

#endif
