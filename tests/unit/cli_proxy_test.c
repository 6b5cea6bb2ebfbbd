/*
 * cli_proxy_test — the HTTP side of `agentkeys proxy` (cli/proxy.c, compiled into this test)
 * over a socketpair, without any API: the loopback-only listen address, the Host and Origin
 * checks, the optional local key, the route (no upstream → 502 no_upstream), request bodies by
 * Content-Length and chunked (a good chunked body gets as far as the route; bad framing and
 * oversize bodies are refused 413), bad request lines, an oversize head, and keep-alive.
 * The akcli_* helpers proxy.c calls are stubbed here.
 */
#include <string.h>
#include <sys/socket.h>

#include "../../cli/proxy.c"
#include "test.h"

/* ---- stubs of the CLI helpers proxy.c uses ---- */
int akcli_usage(akcli *c, const char *fmt, ...) {
    (void)c;
    (void)fmt;
    return AKCLI_USAGE;
}
int akcli_fail(akcli *c, int code, const char *reason, const char *fmt, ...) {
    (void)c;
    (void)reason;
    (void)fmt;
    return code;
}
void akcli_note(akcli *c, const char *fmt, ...) {
    (void)c;
    (void)fmt;
}
int akcli_session_open(akcli *c, akcli_session *s) {
    (void)c;
    (void)s;
    return AKCLI_ERR;
}
void akcli_session_close(akcli_session *s) { (void)s; }
int akcli_session_fail(akcli_session *s, ak_err e, const char *what) {
    (void)s;
    (void)e;
    (void)what;
    return AKCLI_ERR;
}

/* ---- a connection over a socketpair ---- */
static s_proxy g_p;

typedef struct {
    s_conn k;
    int peer;
} s_pair;

static void s_open(s_pair *x) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(x, 0, sizeof *x);
    x->k.p = &g_p;
    x->k.fd = sv[0];
    x->peer = sv[1];
    x->k.cap = S_MAX_HEAD + AK_CLIENT_USE_MAX_BODY + 64u * 1024u;
    x->k.in = ak_malloc(x->k.cap);
    assert_non_null(x->k.in);
}

static void s_close(s_pair *x) {
    ak_free(x->k.in);
    close(x->k.fd);
    close(x->peer);
}

/* Sends `req` (then shuts the write side when `eof`), serves one request, reads the answer. */
static bool s_serve(s_pair *x, const char *req, size_t len, bool eof, char *ans, size_t cap) {
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(x->peer, req + off, len - off, MSG_NOSIGNAL);
        assert_true(w > 0);
        off += (size_t)w;
    }
    if (eof) shutdown(x->peer, SHUT_WR);
    bool keep = s_one(&x->k);
    struct pollfd pf = {.fd = x->peer, .events = POLLIN};
    size_t got = 0;
    while (got + 1 < cap && poll(&pf, 1, 200) > 0) {
        ssize_t n = recv(x->peer, ans + got, cap - 1 - got, MSG_DONTWAIT);
        if (n <= 0) break;
        got += (size_t)n;
    }
    ans[got] = '\0';
    return keep;
}

static char g_ans[65536];

static void s_expect(const char *req, const char *status_line, const char *reason, bool want_keep) {
    s_pair x;
    s_open(&x);
    bool keep = s_serve(&x, req, strlen(req), false, g_ans, sizeof g_ans);
    if (strncmp(g_ans, status_line, strlen(status_line)) != 0)
        fail_msg("'%.40s...' answered '%.60s', want '%s'", req, g_ans, status_line);
    if (reason) {
        char want[96];
        snprintf(want, sizeof want, "\"reason\":\"%s\"", reason);
        if (strstr(g_ans, want) == NULL) fail_msg("no %s in '%.300s'", want, g_ans);
    }
    EXPECT_INT_EQ(keep, want_keep);
    s_close(&x);
}

AK_TEST(test_listen_loopback_only) {
    struct sockaddr_storage ss;
    socklen_t len;
    EXPECT_INT_EQ(s_parse_listen(NULL, "127.0.0.1:8787", &ss, &len), AKCLI_OK);
    EXPECT_INT_EQ(s_parse_listen(NULL, "127.5.6.7:1", &ss, &len), AKCLI_OK);
    EXPECT_INT_EQ(s_parse_listen(NULL, "localhost:8787", &ss, &len), AKCLI_OK);
    EXPECT_INT_EQ(s_parse_listen(NULL, "[::1]:8787", &ss, &len), AKCLI_OK);
    EXPECT_INT_EQ(s_parse_listen(NULL, "0.0.0.0:8787", &ss, &len), AKCLI_USAGE);
    EXPECT_INT_EQ(s_parse_listen(NULL, "10.0.0.1:8787", &ss, &len), AKCLI_USAGE);
    EXPECT_INT_EQ(s_parse_listen(NULL, "[::]:8787", &ss, &len), AKCLI_USAGE);
    EXPECT_INT_EQ(s_parse_listen(NULL, "example.com:8787", &ss, &len), AKCLI_USAGE);
    EXPECT_INT_EQ(s_parse_listen(NULL, "127.0.0.1:70000", &ss, &len), AKCLI_USAGE);
    EXPECT_INT_EQ(s_parse_listen(NULL, "127.0.0.1", &ss, &len), AKCLI_USAGE);
    EXPECT_INT_EQ(s_parse_listen(NULL, ":8787", &ss, &len), AKCLI_USAGE);
}

AK_TEST(test_host_names) {
    EXPECT_TRUE(s_host_ok(AK_CUR_LIT("127.0.0.1:8787")));
    EXPECT_TRUE(s_host_ok(AK_CUR_LIT("localhost")));
    EXPECT_TRUE(s_host_ok(AK_CUR_LIT("[::1]:8787")));
    EXPECT_FALSE(s_host_ok(AK_CUR_LIT("evil.example:8787")));
    EXPECT_FALSE(s_host_ok(AK_CUR_LIT("10.0.0.1")));
    EXPECT_FALSE(s_host_ok(AK_CUR_LIT("")));
    EXPECT_FALSE(s_host_ok(AK_CUR_LIT("[::1")));
    EXPECT_TRUE(s_dropped(AK_CUR_LIT("Authorization")) && s_dropped(AK_CUR_LIT("X-API-KEY")) &&
                s_dropped(AK_CUR_LIT("accept-encoding")) && s_dropped(AK_CUR_LIT("Host")));
    EXPECT_FALSE(s_dropped(AK_CUR_LIT("content-type")));
}

AK_TEST(test_requests_refused_before_any_call) {
    memset(&g_p, 0, sizeof g_p);
    /* no route for the service: 502 no_upstream, the connection kept */
    s_expect("GET /openai/v1/models HTTP/1.1\r\nHost: 127.0.0.1:8787\r\n\r\n", "HTTP/1.1 502", "no_upstream",
             true);
    /* HTTP/1.0 closes unless asked */
    s_expect("GET /openai/v1/models HTTP/1.0\r\nHost: localhost\r\n\r\n", "HTTP/1.1 502", "no_upstream",
             false);
    s_expect("GET /openai/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", "HTTP/1.1 502", NULL,
             false);
    /* browser and rebinding */
    s_expect("GET /openai/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n\r\n",
             "HTTP/1.1 403", "origin_refused", true);
    s_expect("GET /openai/v1 HTTP/1.1\r\nHost: evil.example\r\n\r\n", "HTTP/1.1 403", "host_header_refused",
             true);
    s_expect("GET /openai/v1 HTTP/1.1\r\n\r\n", "HTTP/1.1 403", "host_header_refused", true);
    /* the path must name a service */
    s_expect("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "HTTP/1.1 400", "invalid_input", true);
    s_expect("GET /Open%20AI/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "HTTP/1.1 400", "invalid_service", true);
    s_expect("GET http://x/openai HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "HTTP/1.1 400", "invalid_input",
             true);
    /* bad request lines and versions */
    s_expect("GARBAGE\r\n\r\n", "HTTP/1.1 400", "invalid_input", false);
    s_expect("GET /openai/x HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n", "HTTP/1.1 505", NULL, false);
    s_expect("GET /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n", "HTTP/1.1 400", NULL,
             false);
    /* bodies: Content-Length over the limit; chunked good (reaches the route), bad and oversize */
    s_expect("POST /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000000\r\n\r\n", "HTTP/1.1 413",
             "too_large", false);
    s_expect("POST /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 413", NULL,
             false);
    s_expect("POST /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
             "HTTP/1.1 502", "no_upstream", true);
    s_expect("POST /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: "
             "chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
             "HTTP/1.1 413", NULL, false);
    s_expect("POST /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: "
             "chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
             "HTTP/1.1 413", NULL, false);
    s_expect("POST /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n",
             "HTTP/1.1 413", NULL, false);
    s_expect("POST /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501",
             NULL, false);
    /* Expect: 100-continue gets its interim answer before the body is read */
    s_expect(
        "POST /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 100 Continue", NULL, true);
}

AK_TEST(test_head_too_large_and_eof) {
    memset(&g_p, 0, sizeof g_p);
    s_pair x;
    s_open(&x);
    static char big[S_MAX_HEAD + 100];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /x HTTP/1.1\r\nX: ", 20);
    EXPECT_FALSE(s_serve(&x, big, sizeof big, false, g_ans, sizeof g_ans));
    EXPECT_TRUE(strncmp(g_ans, "HTTP/1.1 431", 12) == 0);
    s_close(&x);
    /* the peer closes after half a head: nothing answered, connection dropped */
    s_open(&x);
    static const char half[] = "GET /openai/x HTTP/1.1\r\nHost: 127";
    EXPECT_FALSE(s_serve(&x, half, sizeof half - 1, true, g_ans, sizeof g_ans));
    EXPECT_INT_EQ(strlen(g_ans), 0);
    s_close(&x);
}

AK_TEST(test_require_key) {
    memset(&g_p, 0, sizeof g_p);
    snprintf(g_p.key, sizeof g_p.key, "local-key-0123456789");
    g_p.key_len = strlen(g_p.key);
    s_expect("GET /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "HTTP/1.1 401", "unauthorized", true);
    s_expect("GET /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer dummy\r\n\r\n",
             "HTTP/1.1 401", "unauthorized", true);
    s_expect("GET /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: local-key-012345678\r\n\r\n",
             "HTTP/1.1 401", "unauthorized", true);
    /* the key where an SDK puts it: past the check (to the route) */
    s_expect(
        "GET /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer local-key-0123456789\r\n\r\n",
        "HTTP/1.1 502", "no_upstream", true);
    s_expect("GET /openai/x HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: local-key-0123456789\r\n\r\n",
             "HTTP/1.1 502", "no_upstream", true);
    memset(&g_p, 0, sizeof g_p);
}

AK_RUN_TESTS(AK_T(test_listen_loopback_only), AK_T(test_host_names),
             AK_T(test_requests_refused_before_any_call), AK_T(test_head_too_large_and_eof),
             AK_T(test_require_key))
