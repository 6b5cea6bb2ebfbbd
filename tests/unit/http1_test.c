/*
 * http1_test.c — the Runtime API's HTTP/1.1 client (runtime/src/http1.c): the head grammar
 * (every refusal), and whole exchanges against a canned-bytes server on 127.0.0.1 that writes
 * its answer one byte at a time where the framing could be split: Content-Length, chunked,
 * close-delimited, interim 1xx, keep-alive reuse, Connection: close, a stale kept-alive socket,
 * a refused body, and a peer that closes mid-answer.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "akrt/http1.h"
#include "test.h"

/* ------------------------------------------------------------------ head grammar */

typedef struct {
    int n;
    char last_name[64], last_value[256];
} s_seen;

static void s_hdr(void *ud, ak_cur name, ak_cur value) {
    s_seen *s = ud;
    s->n++;
    snprintf(s->last_name, sizeof(s->last_name), "%.*s", (int)name.len, (const char *)name.ptr);
    snprintf(s->last_value, sizeof(s->last_value), "%.*s", (int)value.len, (const char *)value.ptr);
}

static ak_err s_parse(const char *head, akrt_http1_head *h, s_seen *seen) {
    akrt_http1_cb cb = {.on_header = s_hdr, .ud = seen};
    return akrt_http1_parse_head(ak_cur_from_str(head), h, &cb);
}

AK_TEST(test_head_accepts_the_runtime_api_shapes) {
    akrt_http1_head h;
    s_seen s = {0};
    EXPECT_OK(s_parse(
        "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nLambda-Runtime-Aws-Request-Id:  abc \t\r\n\r\n", &h, &s));
    EXPECT_INT_EQ(h.status, 200);
    EXPECT_TRUE(h.has_length && h.content_length == 12 && !h.chunked && !h.close && !h.http10);
    EXPECT_INT_EQ(s.n, 2);
    EXPECT_STR_EQ(s.last_name, "Lambda-Runtime-Aws-Request-Id");
    EXPECT_STR_EQ(s.last_value, "abc"); /* OWS trimmed */
    memset(&s, 0, sizeof(s));
    EXPECT_OK(s_parse("HTTP/1.0 202\nTransfer-Encoding: Chunked\nConnection: keep-alive, Close\n\n", &h, &s));
    EXPECT_TRUE(h.status == 202 && h.http10 && h.chunked && h.close);
    /* the same Content-Length twice is one length; an empty value is a field like any other */
    EXPECT_OK(s_parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\nX-E:\r\n\r\n", &h, &s));
    EXPECT_TRUE(h.content_length == 3);
    /* interim heads report no fields */
    memset(&s, 0, sizeof(s));
    EXPECT_OK(s_parse("HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\n", &h, &s));
    EXPECT_INT_EQ(h.status, 100);
    EXPECT_INT_EQ(s.n, 0);
}

AK_TEST(test_head_refusals) {
    static const char *const bad[] = {
        "",                                       /* nothing */
        "HTTP/1.1 200 OK\r\n",                    /* no empty line */
        "HTTP/2 200 OK\r\n\r\n",                  /* not 1.x */
        "HTTP/1.2 200 OK\r\n\r\n",                /* unknown minor */
        "HTTP/1.1 20 OK\r\n\r\n",                 /* two digits */
        "HTTP/1.1 2000 OK\r\n\r\n",               /* four */
        "HTTP/1.1 099 OK\r\n\r\n",                /* below 100 */
        "HTTP/1.1 200 O\x00K\r\n\r\n",            /* (NUL ends the C string: no LF) */
        "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",  /* obs-fold */
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", /* space in a name */
        "HTTP/1.1 200 OK\r\nName : x\r\n\r\n",    /* space before the colon */
        "HTTP/1.1 200 OK\r\n: x\r\n\r\n",         /* empty name */
        "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",     /* no colon */
        "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",     /* bare CR in a value */
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", /* two lengths */
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", /* a coding we cannot undo */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", /* smuggling */
        "HTTP/1.1 200 OK\r\n\r\nextra",                                               /* past the head */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        akrt_http1_head h;
        s_seen s = {0};
        if (s_parse(bad[i], &h, &s) != AK_E_INVALID_INPUT) fail_msg("accepted bad head #%zu", i);
    }
}

AK_TEST(test_field_name_characters_are_exactly_tchar) {
    for (unsigned c = 1; c < 256; c++) {
        if (c == ':') continue;
        char head[64];
        snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nX%cY: v\r\n\r\n", (char)c);
        bool tchar = (c < 128 && isalnum((int)c)) || (c != 0 && strchr("!#$%&'*+-.^_`|~", (int)c) != NULL);
        akrt_http1_head h;
        s_seen s = {0};
        ak_err e = s_parse(head, &h, &s);
        if ((e == AK_OK) != tchar)
            fail_msg("byte 0x%02x in a field name: %s", c, e == AK_OK ? "accepted" : "refused");
    }
}

/* ------------------------------------------------------------------ canned server */

typedef struct {
    int lfd;
    const char *answers[4]; /* one per accepted request, in order; NULL = close without answering */
    size_t n_answers;
    bool close_after[4]; /* close the connection after this answer */
    bool bytewise;       /* write one byte at a time */
    int accepts;         /* connections accepted */
    char last_req[4096];
} s_srv;

static bool s_read_request(int fd, char *dst, size_t cap) {
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = recv(fd, dst + len, cap - 1 - len, 0);
        if (n <= 0) return false;
        len += (size_t)n;
        dst[len] = 0;
        char *end = strstr(dst, "\r\n\r\n");
        if (end == NULL) continue;
        const char *cl = strstr(dst, "Content-Length: ");
        size_t body = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
        if (len >= (size_t)(end + 4 - dst) + body) return true;
    }
    return false;
}

static void *s_serve(void *arg) {
    s_srv *s = arg;
    size_t next = 0;
    while (next < s->n_answers) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) break;
        s->accepts++;
        while (next < s->n_answers) {
            if (!s_read_request(fd, s->last_req, sizeof(s->last_req))) break;
            const char *a = s->answers[next];
            bool close_it = a == NULL || s->close_after[next];
            next++;
            if (a != NULL) {
                size_t n = strlen(a);
                for (size_t i = 0; i < n;) {
                    size_t w = s->bytewise ? 1 : n - i;
                    ssize_t k = send(fd, a + i, w, MSG_NOSIGNAL);
                    if (k <= 0) break;
                    i += (size_t)k;
                }
            }
            if (close_it) break;
        }
        close(fd);
    }
    return NULL;
}

static pthread_t s_start(s_srv *s, char *hostport, size_t cap) {
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s->lfd, 4) != 0 ||
        getsockname(s->lfd, (struct sockaddr *)&sa, &sl) != 0)
        fail_msg("listen: %s", strerror(errno));
    snprintf(hostport, cap, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    pthread_t t;
    if (pthread_create(&t, NULL, s_serve, s) != 0) fail_msg("pthread_create");
    return t;
}

static void s_stop(s_srv *s, pthread_t t) {
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(t, NULL);
    close(s->lfd);
}

typedef struct {
    ak_buf body;
    size_t limit;
} s_sink;

static bool s_body(void *ud, const uint8_t *p, size_t n) {
    s_sink *k = ud;
    if (k->body.len + n > k->limit) return false;
    return ak_buf_append(&k->body, p, n) == AK_OK;
}

static ak_err s_req(akrt_http1 *c, s_sink *k, const char *method, int *status) {
    akrt_http1_cb cb = {.on_body = s_body, .ud = k};
    ak_buf_clear(&k->body);
    return akrt_http1_request(c, method, "/2018-06-01/runtime/invocation/next", NULL, AK_CUR_LIT("{\"a\":1}"),
                              &cb, status);
}

AK_TEST(test_framings_keep_alive_and_bytewise_answers) {
    s_srv s = {.bytewise = true, .n_answers = 4};
    s.answers[0] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    s.answers[1] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\n"
        "Trailer: x\r\n\r\n";
    s.answers[2] = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    s.answers[3] = "HTTP/1.0 200 OK\r\n\r\nuntil-close";
    s.close_after[3] = true;
    char hp[64];
    pthread_t t = s_start(&s, hp, sizeof(hp));
    akrt_http1 c;
    EXPECT_OK(akrt_http1_init(&c, hp, 1000));
    s_sink k = {.limit = 1024};
    ak_buf_init(&k.body, 4096);
    int st = 0;
    EXPECT_OK(s_req(&c, &k, "GET", &st));
    EXPECT_INT_EQ(st, 200);
    EXPECT_BYTES_EQ(k.body.ptr, k.body.len, "hello", 5);
    EXPECT_TRUE(strstr(s.last_req, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:") ==
                s.last_req);
    EXPECT_TRUE(strstr(s.last_req, "Content-Length") == NULL); /* a GET carries no body */
    EXPECT_OK(s_req(&c, &k, "POST", &st));
    EXPECT_INT_EQ(st, 200);
    EXPECT_BYTES_EQ(k.body.ptr, k.body.len, "abc0123456789", 13);
    EXPECT_TRUE(strstr(s.last_req, "POST ") == s.last_req &&
                strstr(s.last_req, "Content-Length: 7\r\n\r\n{\"a\":1}"));
    EXPECT_INT_EQ(s.accepts, 1); /* kept alive */
    EXPECT_OK(s_req(&c, &k, "POST", &st));
    EXPECT_INT_EQ(st, 202);
    EXPECT_INT_EQ(c.fd, -1); /* Connection: close honoured */
    EXPECT_OK(s_req(&c, &k, "GET", &st));
    EXPECT_BYTES_EQ(k.body.ptr, k.body.len, "until-close", 11);
    EXPECT_INT_EQ(s.accepts, 2);
    EXPECT_INT_EQ(c.fd, -1);
    s_stop(&s, t);
    akrt_http1_free(&c);
    ak_buf_free(&k.body);
}

AK_TEST(test_transport_failures_are_upstream_and_reconnect) {
    /* 1: the peer closes without answering (a stale kept-alive socket); 2: it closes mid-body;
     * 3: a good answer on a fresh connection. */
    s_srv s = {.n_answers = 3};
    s.answers[0] = NULL;
    s.answers[1] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
    s.close_after[1] = true;
    s.answers[2] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    char hp[64];
    pthread_t t = s_start(&s, hp, sizeof(hp));
    akrt_http1 c;
    EXPECT_OK(akrt_http1_init(&c, hp, 1000));
    s_sink k = {.limit = 1024};
    ak_buf_init(&k.body, 4096);
    int st = 0;
    EXPECT_ERR(AK_E_UPSTREAM, s_req(&c, &k, "GET", &st));
    EXPECT_ERR(AK_E_UPSTREAM, s_req(&c, &k, "GET", &st));
    EXPECT_OK(s_req(&c, &k, "GET", &st));
    EXPECT_BYTES_EQ(k.body.ptr, k.body.len, "ok", 2);
    EXPECT_INT_EQ(s.accepts, 3);
    s_stop(&s, t);
    /* nobody listening: connect refused */
    EXPECT_ERR(AK_E_UPSTREAM, s_req(&c, &k, "GET", &st));
    akrt_http1_free(&c);
    ak_buf_free(&k.body);
}

AK_TEST(test_refused_body_and_malformed_answers) {
    s_srv s = {.n_answers = 3};
    s.answers[0] = "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789";
    s.answers[1] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    s.answers[2] = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
    char hp[64];
    pthread_t t = s_start(&s, hp, sizeof(hp));
    akrt_http1 c;
    EXPECT_OK(akrt_http1_init(&c, hp, 1000));
    s_sink k = {.limit = 8};
    ak_buf_init(&k.body, 4096);
    int st = 0;
    EXPECT_ERR(AK_E_TOO_LARGE, s_req(&c, &k, "GET", &st));
    EXPECT_INT_EQ(st, 200); /* the head was read: the caller knows whose event was too large */
    EXPECT_INT_EQ(c.fd, -1);
    EXPECT_ERR(AK_E_INVALID_INPUT, s_req(&c, &k, "GET", &st));
    EXPECT_ERR(AK_E_INVALID_INPUT, s_req(&c, &k, "GET", &st));
    s_stop(&s, t);
    akrt_http1_free(&c);
    ak_buf_free(&k.body);
}

AK_TEST(test_init_addresses) {
    akrt_http1 c;
    /* literals take the no-resolver path; a name goes through getaddrinfo; all give the same shape */
    EXPECT_OK(akrt_http1_init(&c, "127.0.0.1:9001", 1000));
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&c.addr;
    EXPECT_INT_EQ(c.addr.ss_family, AF_INET);
    EXPECT_INT_EQ(c.addr_len, sizeof(struct sockaddr_in));
    EXPECT_INT_EQ(ntohs(v4->sin_port), 9001);
    EXPECT_INT_EQ(ntohl(v4->sin_addr.s_addr), 0x7f000001);
    assert_null(c.in); /* the read buffer comes with the first read */
    akrt_http1_free(&c);
    EXPECT_OK(akrt_http1_init(&c, "[::1]:9001", 1000));
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&c.addr;
    EXPECT_INT_EQ(c.addr.ss_family, AF_INET6);
    EXPECT_INT_EQ(c.addr_len, sizeof(struct sockaddr_in6));
    EXPECT_INT_EQ(ntohs(v6->sin6_port), 9001);
    EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
    akrt_http1_free(&c);
    EXPECT_OK(akrt_http1_init(&c, "localhost:9001", 1000));
    EXPECT_TRUE(c.addr.ss_family == AF_INET || c.addr.ss_family == AF_INET6);
    akrt_http1_free(&c);
    static const char *const bad[] = {"",
                                      "127.0.0.1",
                                      "127.0.0.1:",
                                      "127.0.0.1:0",
                                      "127.0.0.1:65536",
                                      "127.0.0.1:9x",
                                      ":9001",
                                      "[::1]",
                                      "[::1]9001",
                                      "a:b:9001",
                                      "[127.0.0.1]:9001",
                                      "[zz]:9001",
                                      "1.2.3.4.5:9001",
                                      "no-such-host.invalid:9001"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (akrt_http1_init(&c, bad[i], 1000) != AK_E_CONFIG) fail_msg("accepted %s", bad[i]);
        akrt_http1_free(&c);
    }
}

AK_RUN_TESTS(AK_T(test_head_accepts_the_runtime_api_shapes), AK_T(test_head_refusals),
             AK_T(test_field_name_characters_are_exactly_tchar),
             AK_T(test_framings_keep_alive_and_bytewise_answers),
             AK_T(test_transport_failures_are_upstream_and_reconnect),
             AK_T(test_refused_body_and_malformed_answers), AK_T(test_init_addresses))
