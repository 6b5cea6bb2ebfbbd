/*
 * http_test.c — ak_http against a tiny scripted HTTP/1.1 server on 127.0.0.1 (a thread in this
 * process): retries on 503 then success, no retry for non-idempotent requests, response ceiling,
 * deadline, header handling, connect failures. TLS and mTLS are covered by tests/e2e/mtls_test.sh
 * (openssl s_server) through build/dev/tools/httptool.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ak/http.h"

typedef enum {
    M_503_THEN_200, /* first request 503 (SlowDown-like), then 200 */
    M_ALWAYS_503,
    M_429_THEN_200,
    M_BIG,         /* 200 with a 4096-byte body and Content-Length */
    M_BIG_CHUNKED, /* 200 with a 4096-byte chunked body (no Content-Length) */
    M_SLOW,        /* waits 1500 ms before answering */
    M_ECHO,        /* 200; body = the request head and body as received */
    M_404,
    M_RESET, /* closes the connection without answering */
} s_mode;

typedef struct {
    int lfd;
    int port;
    s_mode mode;
    atomic_int hits;
    atomic_int stop;
    pthread_t th;
} s_srv;

static void s_send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

/* Reads one request (head + Content-Length body) into buf; returns its length or -1. */
static long s_read_request(int fd, char *buf, size_t cap) {
    size_t len = 0;
    long head_end = -1;
    size_t want = 0;
    for (;;) {
        if (len == cap) return -1;
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r <= 0) return -1;
        len += (size_t)r;
        if (head_end < 0) {
            for (size_t i = 3; i < len; i++)
                if (memcmp(buf + i - 3, "\r\n\r\n", 4) == 0) {
                    head_end = (long)i + 1;
                    break;
                }
            if (head_end >= 0) {
                const char *cl = memmem(buf, (size_t)head_end, "Content-Length: ", 16);
                size_t body = 0;
                if (cl) {
                    for (cl += 16; *cl >= '0' && *cl <= '9'; cl++)
                        body = body * 10 + (size_t)(*cl - '0');
                }
                want = (size_t)head_end + body;
            }
        }
        if (head_end >= 0 && len >= want) return (long)len;
    }
}

static void s_respond(s_srv *s, int fd, int hit, const char *req, long rlen) {
    char out[8192];
    int n;
    switch (s->mode) {
        case M_503_THEN_200:
        case M_429_THEN_200:
            if (hit == 1) {
                n = snprintf(out, sizeof(out),
                             "HTTP/1.1 %s\r\nContent-Length: 9\r\nConnection: close\r\n\r\nSlowDown!",
                             s->mode == M_503_THEN_200 ? "503 Slow Down" : "429 Too Many Requests");
            } else {
                n = snprintf(out, sizeof(out),
                             "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            }
            s_send_all(fd, out, (size_t)n);
            break;
        case M_ALWAYS_503:
            n = snprintf(out, sizeof(out),
                         "HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            s_send_all(fd, out, (size_t)n);
            break;
        case M_404:
            n = snprintf(out, sizeof(out),
                         "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope");
            s_send_all(fd, out, (size_t)n);
            break;
        case M_BIG:
        case M_BIG_CHUNKED: {
            char body[4096];
            memset(body, 'x', sizeof(body));
            if (s->mode == M_BIG)
                n = snprintf(out, sizeof(out),
                             "HTTP/1.1 200 OK\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n");
            else
                n = snprintf(
                    out, sizeof(out),
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1000\r\n");
            s_send_all(fd, out, (size_t)n);
            s_send_all(fd, body, sizeof(body));
            if (s->mode == M_BIG_CHUNKED) s_send_all(fd, "\r\n0\r\n\r\n", 7);
            break;
        }
        case M_SLOW: {
            struct timespec ts = {1, 500000000L};
            nanosleep(&ts, NULL);
            n = snprintf(out, sizeof(out),
                         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            s_send_all(fd, out, (size_t)n);
            break;
        }
        case M_ECHO:
            n = snprintf(
                out, sizeof(out),
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nETag: \"abc\"\r\nX-Amz-Request-Id:  r1 \r\n"
                "Content-Length: %ld\r\nConnection: close\r\n\r\n",
                rlen);
            s_send_all(fd, out, (size_t)n);
            s_send_all(fd, req, (size_t)rlen);
            break;
        case M_RESET:
            break;
    }
}

static void *s_serve(void *arg) {
    s_srv *s = arg;
    static char req[65536];
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) continue;
        if (s->mode == M_RESET) { /* close at once, before reading anything (also breaks a TLS ClientHello) */
            atomic_fetch_add(&s->hits, 1);
            close(fd);
            continue;
        }
        long n = s_read_request(fd, req, sizeof(req));
        int hit = atomic_fetch_add(&s->hits, 1) + 1;
        if (n > 0) s_respond(s, fd, hit, req, n);
        close(fd);
    }
    return NULL;
}

static void s_srv_start(s_srv *s, s_mode mode) {
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 16), 0);
    socklen_t al = sizeof(a);
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, s_serve, s), 0);
}

static void s_srv_stop(s_srv *s) {
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    close(s->lfd);
}

static void s_url(char *out, size_t cap, int port, const char *path) {
    snprintf(out, cap, "http://127.0.0.1:%d%s", port, path);
}

static ak_http *s_client(unsigned attempts) {
    ak_http_config cfg = {.retry = {.max_attempts = attempts, .base_ms = 5, .max_backoff_ms = 20}};
    ak_http *c = NULL;
    EXPECT_OK(ak_http_new(&cfg, &c));
    return c;
}

AK_TEST(test_retry_503_then_success) {
    s_srv s;
    s_srv_start(&s, M_503_THEN_200);
    ak_http *c = s_client(3);
    char url[128];
    s_url(url, sizeof(url), s.port, "/bucket/key");
    ak_http_request req = {.method = "GET", .url = url, .idempotent = true, .timeout_ms = 5000};
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_OK(ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.status, 200);
    EXPECT_INT_EQ(r.attempts, 2);
    EXPECT_INT_EQ(atomic_load(&s.hits), 2);
    EXPECT_BYTES_EQ(r.body.ptr, r.body.len, "ok", 2);
    ak_http_response_free(&r);
    ak_http_free(c);
    s_srv_stop(&s);
}

AK_TEST(test_retry_429_then_success) {
    s_srv s;
    s_srv_start(&s, M_429_THEN_200);
    ak_http *c = s_client(3);
    char url[128];
    s_url(url, sizeof(url), s.port, "/x");
    ak_http_request req = {.method = "PUT", .url = url, .body = AK_CUR_LIT("v"), .idempotent = true};
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_OK(ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.status, 200);
    EXPECT_INT_EQ(atomic_load(&s.hits), 2);
    ak_http_response_free(&r);
    ak_http_free(c);
    s_srv_stop(&s);
}

AK_TEST(test_retries_are_bounded_and_last_response_returned) {
    s_srv s;
    s_srv_start(&s, M_ALWAYS_503);
    ak_http *c = s_client(3);
    char url[128];
    s_url(url, sizeof(url), s.port, "/x");
    ak_http_request req = {.method = "GET", .url = url, .idempotent = true};
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_OK(ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.status, 503);
    EXPECT_INT_EQ(r.attempts, 3);
    EXPECT_INT_EQ(atomic_load(&s.hits), 3);
    EXPECT_ERR(AK_E_THROTTLED, ak_http_status_err(r.status));
    ak_http_response_free(&r);
    ak_http_free(c);
    s_srv_stop(&s);
}

AK_TEST(test_no_retry_for_non_idempotent) {
    s_srv s;
    s_srv_start(&s, M_503_THEN_200);
    ak_http *c = s_client(5);
    char url[128];
    s_url(url, sizeof(url), s.port, "/rpc");
    ak_http_request req = {.method = "POST", .url = url, .body = AK_CUR_LIT("{}"), .idempotent = false};
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_OK(ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.status, 503);
    EXPECT_INT_EQ(r.attempts, 1);
    EXPECT_INT_EQ(atomic_load(&s.hits), 1);
    ak_http_response_free(&r);
    ak_http_free(c);
    s_srv_stop(&s);
}

AK_TEST(test_no_retry_on_reset_for_non_idempotent) {
    s_srv s;
    s_srv_start(&s, M_RESET);
    ak_http *c = s_client(4);
    char url[128];
    s_url(url, sizeof(url), s.port, "/rpc");
    ak_http_request req = {.method = "POST", .url = url, .body = AK_CUR_LIT("{}")};
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_ERR(AK_E_UPSTREAM, ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(atomic_load(&s.hits), 1);
    /* The same failure is retried when the request is idempotent. */
    req.idempotent = true;
    EXPECT_ERR(AK_E_UPSTREAM, ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.attempts, 4);
    EXPECT_INT_EQ(atomic_load(&s.hits), 5);
    ak_http_response_free(&r);
    ak_http_free(c);
    s_srv_stop(&s);
}

AK_TEST(test_response_ceiling) {
    s_mode modes[] = {M_BIG, M_BIG_CHUNKED};
    for (size_t i = 0; i < 2; i++) {
        s_srv s;
        s_srv_start(&s, modes[i]);
        ak_http *c = s_client(3);
        char url[128];
        s_url(url, sizeof(url), s.port, "/big");
        ak_http_request req = {.method = "GET", .url = url, .idempotent = true, .max_response = 1000};
        ak_http_response r;
        ak_http_response_init(&r);
        EXPECT_ERR(AK_E_TOO_LARGE, ak_http_do(c, &req, &r));
        EXPECT_INT_EQ(atomic_load(&s.hits), 1); /* a too-large body is not retried */
        EXPECT_TRUE(r.body.len <= 1000);
        req.max_response = 4096; /* exactly at the ceiling is fine */
        EXPECT_OK(ak_http_do(c, &req, &r));
        EXPECT_INT_EQ(r.body.len, 4096);
        ak_http_response_free(&r);
        ak_http_free(c);
        s_srv_stop(&s);
    }
}

AK_TEST(test_deadline_gives_timeout) {
    s_srv s;
    s_srv_start(&s, M_SLOW);
    ak_http *c = s_client(3);
    char url[128];
    s_url(url, sizeof(url), s.port, "/slow");
    ak_http_request req = {
        .method = "GET", .url = url, .idempotent = true, .deadline_ms = ak_http_now_ms() + 300};
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_ERR(AK_E_UPSTREAM_TIMEOUT, ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.status, 0);
    /* A deadline already (almost) past: no attempt is made at all. */
    int before = atomic_load(&s.hits);
    req.deadline_ms = ak_http_now_ms() + 5;
    EXPECT_ERR(AK_E_UPSTREAM_TIMEOUT, ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.attempts, 0);
    ak_http_response_free(&r);
    ak_http_free(c);
    s_srv_stop(&s);
    EXPECT_INT_EQ(atomic_load(&s.hits), before);
}

AK_TEST(test_headers_body_and_lookup) {
    s_srv s;
    s_srv_start(&s, M_ECHO);
    ak_http *c = s_client(1);
    char url[128];
    s_url(url, sizeof(url), s.port, "/b/k?x=1");
    ak_http_header h[] = {{"x-amz-date", AK_CUR_LIT("20150830T123600Z")}, {"If-None-Match", AK_CUR_LIT("*")}};
    ak_http_request req = {
        .method = "PUT", .url = url, .headers = h, .n_headers = 2, .body = AK_CUR_LIT("hello")};
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_OK(ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.status, 200);
    ak_cur echo = ak_buf_cur(&r.body);
    EXPECT_TRUE(ak_cur_starts_with(echo, AK_CUR_LIT("PUT /b/k?x=1 HTTP/1.1\r\n")));
    EXPECT_TRUE(memmem(echo.ptr, echo.len, "x-amz-date: 20150830T123600Z\r\n", 30) != NULL);
    EXPECT_TRUE(memmem(echo.ptr, echo.len, "If-None-Match: *\r\n", 18) != NULL);
    EXPECT_TRUE(memmem(echo.ptr, echo.len, "Content-Length: 5\r\n", 19) != NULL);
    EXPECT_TRUE(memmem(echo.ptr, echo.len, "Expect:", 7) == NULL);
    EXPECT_TRUE(memmem(echo.ptr, echo.len, "Content-Type:", 13) == NULL);
    EXPECT_TRUE(ak_cur_eq_str(ak_cur_from(echo.ptr + echo.len - 5, 5), "hello"));
    /* Only the final header block (after 100 Continue) is kept; lookups ignore case; values trimmed. */
    ak_cur v;
    EXPECT_TRUE(ak_http_response_header(&r, "ETag", &v));
    EXPECT_TRUE(ak_cur_eq_str(v, "\"abc\""));
    EXPECT_TRUE(ak_http_response_header(&r, "x-amz-request-id", &v));
    EXPECT_TRUE(ak_cur_eq_str(v, "r1"));
    EXPECT_FALSE(ak_http_response_header(&r, "x-missing", &v));
    /* HEAD and DELETE go out with the right method and no body. */
    req.method = "DELETE";
    req.body = (ak_cur){0};
    req.n_headers = 0;
    EXPECT_OK(ak_http_do(c, &req, &r));
    EXPECT_TRUE(ak_cur_starts_with(ak_buf_cur(&r.body), AK_CUR_LIT("DELETE /b/k?x=1 HTTP/1.1\r\n")));
    req.method = "HEAD";
    EXPECT_OK(ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.status, 200);
    EXPECT_INT_EQ(r.body.len, 0);
    ak_http_response_free(&r);
    ak_http_free(c);
    s_srv_stop(&s);
}

AK_TEST(test_bad_input_rejected) {
    ak_http *c = s_client(1);
    ak_http_response r;
    ak_http_response_init(&r);
    ak_http_request req = {.method = "GET", .url = "ftp://127.0.0.1/x"};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_http_do(c, &req, &r));
    req.url = "file:///etc/passwd";
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_http_do(c, &req, &r));
    ak_http_header h[] = {{"x-evil", AK_CUR_LIT("a\r\nInjected: 1")}};
    req.url = "http://127.0.0.1:9/x";
    req.headers = h;
    req.n_headers = 1;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_http_do(c, &req, &r));
    ak_http_response_free(&r);
    ak_http_free(c);
}

/* connect_to (issue 18, the KMS proxy port): the connection goes to the given HOST:PORT while the
 * request still names the URL's host; bad specs are refused at ak_http_new. */
AK_TEST(test_connect_to) {
    s_srv s;
    s_srv_start(&s, M_ECHO);
    char to[64];
    snprintf(to, sizeof(to), "127.0.0.1:%d", s.port);
    ak_http_config cfg = {.retry = {.max_attempts = 1}, .connect_to = to};
    ak_http *c = NULL;
    EXPECT_OK(ak_http_new(&cfg, &c));
    ak_http_request req = {.method = "GET", .url = "http://kms.us-east-1.amazonaws.com/"};
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_OK(ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.status, 200);
    ak_cur echo = ak_buf_cur(&r.body);
    EXPECT_TRUE(memmem(echo.ptr, echo.len, "Host: kms.us-east-1.amazonaws.com\r\n", 35) != NULL);
    ak_http_response_free(&r);
    ak_http_free(c);
    s_srv_stop(&s);
    static const char *const bad[] = {"127.0.0.1", ":80",    "h:0",    "h:65536",
                                      "h:x",       "::1:80", "h/x:80", "h:80 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.connect_to = bad[i];
        c = NULL;
        if (ak_http_new(&cfg, &c) != AK_E_CONFIG) fail_msg("connect_to accepted: %s", bad[i]);
        assert_null(c);
    }
}

AK_TEST(test_404_is_data_not_error) {
    s_srv s;
    s_srv_start(&s, M_404);
    ak_http *c = s_client(3);
    char url[128];
    s_url(url, sizeof(url), s.port, "/nope");
    ak_http_request req = {.method = "GET", .url = url, .idempotent = true};
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_OK(ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.status, 404);
    EXPECT_INT_EQ(r.attempts, 1);
    EXPECT_ERR(AK_E_NOT_FOUND, ak_http_status_err(r.status));
    ak_http_response_free(&r);
    ak_http_free(c);
    s_srv_stop(&s);
}

AK_TEST(test_connect_refused_retried_even_for_post) {
    /* Grab a free port and close it: nothing listens there. */
    s_srv s;
    s_srv_start(&s, M_404);
    int port = s.port;
    s_srv_stop(&s);
    ak_http *c = s_client(3);
    char url[128];
    s_url(url, sizeof(url), port, "/x");
    ak_http_request req = {.method = "POST", .url = url, .body = AK_CUR_LIT("{}")};
    ak_http_response r;
    ak_http_response_init(&r);
    EXPECT_ERR(AK_E_UPSTREAM, ak_http_do(c, &req, &r));
    EXPECT_INT_EQ(r.attempts, 3);
    ak_http_response_free(&r);
    ak_http_free(c);
}

AK_TEST(test_bad_tls_material_rejected) {
    ak_http *c = NULL;
    ak_http_config cfg = {.pinned_ca_pem =
                              AK_CUR_LIT("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")};
    EXPECT_ERR(AK_E_BAD_KEY, ak_http_new(&cfg, &c));
    ak_http_config cfg2 = {.pinned_ca_pem = AK_CUR_LIT("no pem here")};
    EXPECT_ERR(AK_E_BAD_KEY, ak_http_new(&cfg2, &c));
    ak_http_config cfg3 = {.client_cert_pem = AK_CUR_LIT("x")};
    EXPECT_ERR(AK_E_CONFIG, ak_http_new(&cfg3, &c));
    ak_http_config cfg4 = {
        .client_cert_pem = AK_CUR_LIT("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        .client_key_pem = AK_CUR_LIT("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")};
    EXPECT_ERR(AK_E_BAD_KEY, ak_http_new(&cfg4, &c));
    EXPECT_TRUE(c == NULL);
}

AK_TEST(test_https_against_plain_port_fails_cleanly) {
    s_srv s;
    s_srv_start(&s, M_RESET);
    ak_http *c = s_client(1);
    char url[128];
    snprintf(url, sizeof(url), "https://localhost:%d/x", s.port);
    ak_http_request req = {.method = "GET", .url = url, .idempotent = true, .timeout_ms = 3000};
    ak_http_response r;
    ak_http_response_init(&r);
    ak_err e = ak_http_do(c, &req, &r);
    ak_http_response_free(&r);
    ak_http_free(c);
    s_srv_stop(&s);
    ak_http_global_cleanup(); /* the system bundle was parsed on this first https connect */
    EXPECT_ERR(AK_E_UPSTREAM, e);
    /* An IP-literal https URL is refused: BearSSL via curl cannot verify IP SANs. */
    c = s_client(1);
    ak_http_response_init(&r);
    req.url = "https://127.0.0.1:9/x";
    e = ak_http_do(c, &req, &r);
    ak_http_response_free(&r);
    ak_http_free(c);
    ak_http_global_cleanup();
    EXPECT_TRUE(e != AK_OK);
}

AK_TEST(test_status_mapping) {
    EXPECT_OK(ak_http_status_err(204));
    EXPECT_ERR(AK_E_PRECONDITION_FAILED, ak_http_status_err(412));
    EXPECT_ERR(AK_E_ACCESS_DENIED, ak_http_status_err(403));
    EXPECT_ERR(AK_E_UPSTREAM, ak_http_status_err(500));
    EXPECT_ERR(AK_E_UPSTREAM, ak_http_status_err(400));
    EXPECT_TRUE(ak_http_status_retryable(500));
    EXPECT_TRUE(ak_http_status_retryable(429));
    EXPECT_FALSE(ak_http_status_retryable(404));
}

AK_TEST(test_reason_phrases) {
    EXPECT_STR_EQ(ak_http_reason_phrase(200), "OK");
    EXPECT_STR_EQ(ak_http_reason_phrase(202), "Accepted");
    EXPECT_STR_EQ(ak_http_reason_phrase(413), "Content Too Large");
    EXPECT_STR_EQ(ak_http_reason_phrase(504), "Gateway Timeout");
    EXPECT_STR_EQ(ak_http_reason_phrase(299), "Status");
    EXPECT_STR_EQ(ak_http_reason_phrase(-1), "Status");
}

AK_RUN_TESTS(AK_T(test_retry_503_then_success), AK_T(test_retry_429_then_success),
             AK_T(test_retries_are_bounded_and_last_response_returned),
             AK_T(test_no_retry_for_non_idempotent), AK_T(test_no_retry_on_reset_for_non_idempotent),
             AK_T(test_response_ceiling), AK_T(test_deadline_gives_timeout),
             AK_T(test_headers_body_and_lookup), AK_T(test_bad_input_rejected),
             AK_T(test_404_is_data_not_error), AK_T(test_connect_refused_retried_even_for_post),
             AK_T(test_bad_tls_material_rejected), AK_T(test_https_against_plain_port_fails_cleanly),
             AK_T(test_status_mapping), AK_T(test_reason_phrases), AK_T(test_connect_to))
