/* signer_http_test.c — the signer's strict HTTP/1.1 request parser (enclave/src/http.c).
 * The enclave sources are not in libak.a, so the module under test is compiled into this test. */
#include "test.h"

#include "../../enclave/src/http.c"

static aks_http_limits g_lim = {8192u, 65536u, AKS_HTTP_MAX_HEADERS};

static ak_err s_parse(const char *text, aks_http_req *req, bool *complete) {
    return aks_http_parse(ak_cur_from_str(text), &g_lim, req, complete);
}

AK_TEST(test_get_and_post) {
    aks_http_req r;
    bool done;
    EXPECT_OK(s_parse("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", &r, &done));
    EXPECT_TRUE(done);
    EXPECT_TRUE(ak_cur_eq_str(r.method, "GET"));
    EXPECT_TRUE(ak_cur_eq_str(r.path, "/v1/health"));
    EXPECT_INT_EQ(r.body.len, 0);
    EXPECT_TRUE(r.keep_alive);

    const char *post =
        "POST /v1/kek/derive?x=1 HTTP/1.1\r\nHost: signer\r\nContent-Type:  application/json \r\n"
        "Content-Length: 7\r\nConnection: keep-alive, Close\r\n\r\n{\"a\":1}";
    EXPECT_OK(s_parse(post, &r, &done));
    EXPECT_TRUE(done);
    EXPECT_TRUE(ak_cur_eq_str(r.path, "/v1/kek/derive"));
    EXPECT_TRUE(ak_cur_eq_str(r.target, "/v1/kek/derive?x=1"));
    EXPECT_TRUE(ak_cur_eq_str(r.body, "{\"a\":1}"));
    EXPECT_INT_EQ(r.total_len, strlen(post));
    EXPECT_FALSE(r.keep_alive);
    ak_cur v;
    EXPECT_TRUE(aks_http_header(&r, "content-type", &v));
    EXPECT_TRUE(ak_cur_eq_str(v, "application/json"));
    EXPECT_FALSE(aks_http_header(&r, "x-missing", &v));
}

AK_TEST(test_incremental_and_pipelined) {
    const char *two =
        "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t first = strlen("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
    aks_http_req r;
    bool done;
    /* Every proper prefix of the first request needs more bytes and is never an error. */
    for (size_t n = 0; n < first; n++) {
        EXPECT_OK(aks_http_parse(ak_cur_from(two, n), &g_lim, &r, &done));
        EXPECT_FALSE(done);
    }
    EXPECT_OK(aks_http_parse(ak_cur_from_str(two), &g_lim, &r, &done));
    EXPECT_TRUE(done);
    EXPECT_INT_EQ(r.total_len, first);
    EXPECT_TRUE(ak_cur_eq_str(r.body, "abc"));
    EXPECT_OK(aks_http_parse(ak_cur_from(two + first, strlen(two) - first), &g_lim, &r, &done));
    EXPECT_TRUE(done);
    EXPECT_TRUE(ak_cur_eq_str(r.path, "/b"));
}

AK_TEST(test_malformed_requests_are_refused) {
    static const char *const bad[] = {
        "GET /x HTTP/1.1\nHost: h\r\n\r\n",              /* bare LF */
        "GET /x HTTP/1.1\r\nHost: h\n\r\n",              /* bare LF in headers */
        "GET /x HTTP/1.1\r\n\r\n",                       /* no Host */
        "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /* two Hosts */
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", /* duplicate CL */
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",              /* chunked */
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\na",                     /* signed CL */
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1 1\r\n\r\na",                    /* list CL */
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n",                        /* empty CL */
        "GET /x HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",                                  /* obs-fold */
        "GET /x HTTP/1.1\r\nHost : h\r\n\r\n",        /* space before colon */
        "GET /x HTTP/1.1\r\nNoColon\r\n\r\n",         /* no colon */
        "GET /x HTTP/1.0\r\nHost: h\r\n\r\n",         /* HTTP/1.0 */
        "GET /x HTTP/2\r\nHost: h\r\n\r\n",           /* other version */
        "get /x HTTP/1.1\r\nHost: h\r\n\r\n",         /* lowercase method */
        "GET x HTTP/1.1\r\nHost: h\r\n\r\n",          /* not origin-form */
        "GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n", /* absolute-form */
        "GET /x#frag HTTP/1.1\r\nHost: h\r\n\r\n",    /* fragment */
        "GET  /x HTTP/1.1\r\nHost: h\r\n\r\n",        /* double space */
        "GET /x  HTTP/1.1\r\nHost: h\r\n\r\n",        /* double space */
        "\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",     /* leading CRLF */
        "GET /x HTTP/1.1\r\nHost: h\r\nX: a\x01"
        "b\r\n\r\n",                                /* control byte */
        "GET /x HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", /* bare CR */
        "GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n",    /* DEL in target */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        aks_http_req r;
        bool done = true;
        ak_err e = s_parse(bad[i], &r, &done);
        if (e != AK_E_INVALID_INPUT) fail_msg("case %zu: %s", i, ak_err_reason(e));
        EXPECT_FALSE(done);
    }
    /* NUL inside a header value (the C-string helper above cannot carry it). */
    static const char nul[] = "GET /x HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    aks_http_req r;
    bool done;
    EXPECT_ERR(AK_E_INVALID_INPUT, aks_http_parse(ak_cur_from(nul, sizeof(nul) - 1), &g_lim, &r, &done));
}

AK_TEST(test_limits) {
    aks_http_req r;
    bool done;
    aks_http_limits small = {64u, 16u, 3u};
    /* Body over the limit: refused as soon as Content-Length is seen. */
    EXPECT_ERR(AK_E_TOO_LARGE,
               aks_http_parse(AK_CUR_LIT("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n"), &small,
                              &r, &done));
    EXPECT_OK(aks_http_parse(AK_CUR_LIT("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 16\r\n\r\n"), &small,
                             &r, &done));
    EXPECT_FALSE(done);
    /* Head that cannot fit, even before its end arrives. */
    char big[200];
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /", 5);
    EXPECT_ERR(AK_E_TOO_LARGE, aks_http_parse(ak_cur_from(big, sizeof(big)), &small, &r, &done));
    EXPECT_ERR(AK_E_TOO_LARGE,
               aks_http_parse(AK_CUR_LIT("GET /x HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
                              &small, &r, &done));
    /* Target length ceiling. */
    char target[400];
    int n = snprintf(target, sizeof(target), "GET /%0300d HTTP/1.1\r\nHost: h\r\n\r\n", 0);
    EXPECT_ERR(AK_E_TOO_LARGE, aks_http_parse(ak_cur_from(target, (size_t)n), &g_lim, &r, &done));
    /* Method ceiling. */
    EXPECT_ERR(
        AK_E_INVALID_INPUT,
        aks_http_parse(AK_CUR_LIT("ABCDEFGHIJKLMNOPQ /x HTTP/1.1\r\nHost: h\r\n\r\n"), &g_lim, &r, &done));
    /* Overflowing Content-Length. */
    EXPECT_ERR(
        AK_E_INVALID_INPUT,
        aks_http_parse(
            AK_CUR_LIT("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            &g_lim, &r, &done));
}

AK_TEST(test_response_writer) {
    ak_buf b;
    ak_buf_init(&b, 1024);
    EXPECT_OK(aks_http_write_response(&b, 403, AK_CUR_LIT("{}"), false));
    EXPECT_STR_EQ(ak_buf_cstr(&b),
                  "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                  "Cache-Control: no-store\r\nConnection: close\r\n\r\n{}");
    ak_buf_clear(&b);
    EXPECT_OK(aks_http_write_response(&b, 200, AK_CUR_LIT(""), true));
    EXPECT_TRUE(strstr(ak_buf_cstr(&b), "Connection") == NULL);
    ak_buf_free(&b);
}

AK_RUN_TESTS(AK_T(test_get_and_post), AK_T(test_incremental_and_pipelined),
             AK_T(test_malformed_requests_are_refused), AK_T(test_limits), AK_T(test_response_writer))
