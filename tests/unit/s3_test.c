/*
 * s3_test.c — S3 client pieces that need no server: config, error mapping (AWS and Ceph RGW
 * shapes), ETag handling, request validation; plus the wire format of a signed PutObject against
 * a loopback capture server. The live behaviour is tests/e2e/s3_integration_test.sh (Ceph RGW).
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ak/s3.h"

static void s_resp(ak_http_response *r, long status, const char *body) {
    ak_http_response_init(r);
    r->status = status;
    if (body) EXPECT_OK(ak_buf_append_str(&r->body, body));
}

AK_TEST(test_error_mapping) {
    static const struct {
        long status;
        const char *body;
        ak_err want;
        const char *code;
    } cases[] = {
        {404, "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message></Message></Error>",
         AK_E_NOT_FOUND, "NoSuchKey"},
        {404,
         "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>",
         AK_E_NOT_FOUND, "NoSuchBucket"},
        {403, "<Error><Code>SignatureDoesNotMatch</Code><Message></Message></Error>", AK_E_ACCESS_DENIED,
         "SignatureDoesNotMatch"},
        {403, "<Error><Code>InvalidAccessKeyId</Code></Error>", AK_E_ACCESS_DENIED, "InvalidAccessKeyId"},
        {403, "<Error><Code>AccessDenied</Code><Message></Message></Error>", AK_E_ACCESS_DENIED,
         "AccessDenied"},
        {412, "<Error><Code>PreconditionFailed</Code><Message></Message></Error>", AK_E_PRECONDITION_FAILED,
         "PreconditionFailed"},
        {409, "<Error><Code>ConditionalRequestConflict</Code></Error>", AK_E_CONFLICT,
         "ConditionalRequestConflict"},
        {400, "<Error><Code>EntityTooLarge</Code></Error>", AK_E_TOO_LARGE, "EntityTooLarge"},
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>",
         AK_E_S3_ERROR, "SlowDown"},
        {500, "<Error><Code>InternalError</Code></Error>", AK_E_S3_ERROR, "InternalError"},
        {400, "<Error><Code>InvalidArgument</Code></Error>", AK_E_S3_ERROR, "InvalidArgument"},
        {404, NULL, AK_E_NOT_FOUND, ""}, /* HEAD: no body */
        {403, NULL, AK_E_ACCESS_DENIED, ""},
        {412, NULL, AK_E_PRECONDITION_FAILED, ""},
        {502, "<html>bad gateway</html>", AK_E_S3_ERROR, ""},
        {500, "not xml <", AK_E_S3_ERROR, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ak_http_response r;
        s_resp(&r, cases[i].status, cases[i].body);
        ak_buf code;
        ak_buf_init(&code, 128);
        ak_err e = ak_s3_error_from_response(&r, &code);
        if (e != cases[i].want)
            fail_msg("case %zu: %s, want %s", i, ak_err_reason(e), ak_err_reason(cases[i].want));
        EXPECT_STR_EQ(ak_buf_cstr(&code), cases[i].code);
        ak_buf_free(&code);
        ak_http_response_free(&r);
    }
}

AK_TEST(test_etag_unquote) {
    EXPECT_TRUE(ak_cur_eq_str(ak_s3_etag_unquote(AK_CUR_LIT("\"abc\"")), "abc"));
    EXPECT_TRUE(ak_cur_eq_str(ak_s3_etag_unquote(AK_CUR_LIT("W/\"abc\"")), "abc"));
    EXPECT_TRUE(ak_cur_eq_str(ak_s3_etag_unquote(AK_CUR_LIT("abc")), "abc"));
    EXPECT_TRUE(ak_cur_eq_str(ak_s3_etag_unquote(AK_CUR_LIT("\"")), "\""));
}

AK_TEST(test_config) {
    ak_http *h = NULL;
    ak_http_config hc = {0};
    EXPECT_OK(ak_http_new(&hc, &h));
    ak_s3 s3;
    ak_s3_config c = {.region = "us-east-1"};
    EXPECT_OK(ak_s3_init(&s3, h, &c));
    EXPECT_STR_EQ(s3.host, "s3.us-east-1.amazonaws.com");
    EXPECT_STR_EQ(s3.scheme, "https");
    c.endpoint = "http://127.0.0.1:7480/";
    EXPECT_OK(ak_s3_init(&s3, h, &c));
    EXPECT_STR_EQ(s3.host, "127.0.0.1:7480");
    EXPECT_STR_EQ(s3.scheme, "http");
    c.endpoint = "ftp://x";
    EXPECT_ERR(AK_E_CONFIG, ak_s3_init(&s3, h, &c));
    c.endpoint = "http://user@host";
    EXPECT_ERR(AK_E_CONFIG, ak_s3_init(&s3, h, &c));
    c.endpoint = "http://host/path";
    EXPECT_ERR(AK_E_CONFIG, ak_s3_init(&s3, h, &c));
    c.endpoint = NULL;
    c.region = "US_EAST";
    EXPECT_ERR(AK_E_CONFIG, ak_s3_init(&s3, h, &c));
    c.region = NULL;
    EXPECT_ERR(AK_E_CONFIG, ak_s3_init(&s3, h, &c));
    ak_http_free(h);
}

/* ---- a capture server: records one request and answers with a canned response */
typedef struct {
    int lfd, port;
    char req[65536];
    size_t len;
    const char *answer;
    pthread_t th;
} s_cap;

static void *s_cap_run(void *arg) {
    s_cap *c = arg;
    struct pollfd p = {.fd = c->lfd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0) return NULL;
    int fd = accept(c->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    /* read until the head is complete and Content-Length bytes followed */
    for (;;) {
        ssize_t r = recv(fd, c->req + c->len, sizeof(c->req) - 1 - c->len, 0);
        if (r <= 0) break;
        c->len += (size_t)r;
        c->req[c->len] = '\0';
        char *he = strstr(c->req, "\r\n\r\n");
        if (he) {
            char *cl = strcasestr(c->req, "content-length: ");
            size_t want = (size_t)(he + 4 - c->req) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
            if (c->len >= want) break;
        }
    }
    send(fd, c->answer, strlen(c->answer), MSG_NOSIGNAL);
    close(fd);
    return NULL;
}

static void s_cap_start(s_cap *c, const char *answer) {
    memset(c, 0, sizeof(*c));
    c->answer = answer;
    c->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(c->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    listen(c->lfd, 4);
    socklen_t al = sizeof(a);
    getsockname(c->lfd, (struct sockaddr *)&a, &al);
    c->port = ntohs(a.sin_port);
    pthread_create(&c->th, NULL, s_cap_run, c);
}

static void s_cap_stop(s_cap *c) {
    pthread_join(c->th, NULL);
    close(c->lfd);
}

AK_TEST(test_put_wire_format) {
    s_cap cap;
    s_cap_start(&cap, "HTTP/1.1 412 Precondition Failed\r\nContent-Length: 66\r\nConnection: close\r\n\r\n"
                      "<Error><Code>PreconditionFailed</Code><Message></Message></Error>\n");
    ak_http *h = NULL;
    ak_http_config hc = {.retry = {.max_attempts = 1}};
    EXPECT_OK(ak_http_new(&hc, &h));
    char ep[64];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", cap.port);
    ak_s3 s3;
    ak_s3_config c = {.endpoint = ep, .region = "us-east-1", .path_style = true};
    EXPECT_OK(ak_s3_init(&s3, h, &c));
    ak_sigv4_creds cr = {AK_CUR_LIT("AKIDEXAMPLE"), AK_CUR_LIT("secret"), AK_CUR_LIT("session-token")};
    ak_s3_call call = {.creds = &cr};
    ak_s3_meta meta[] = {{"owner", AK_CUR_LIT("agent 1")}};
    ak_s3_put_opts o = {.if_none_match = true, .meta = meta, .n_meta = 1};
    EXPECT_ERR(AK_E_PRECONDITION_FAILED,
               ak_s3_put(&s3, &call, "my-bucket", AK_CUR_LIT("bots/a b/c+d"), AK_CUR_LIT("hello"), &o, NULL));
    s_cap_stop(&cap);
    const char *r = cap.req;
    EXPECT_TRUE(strncmp(r, "PUT /my-bucket/bots/a%20b/c%2Bd HTTP/1.1\r\n", 42) == 0);
    EXPECT_TRUE(strstr(r, "Host: 127.0.0.1:") != NULL);
    EXPECT_TRUE(strstr(r, "If-None-Match: *\r\n") != NULL);
    EXPECT_TRUE(strstr(r, "x-amz-meta-owner: agent 1\r\n") != NULL);
    EXPECT_TRUE(strstr(r, "x-amz-security-token: session-token\r\n") != NULL);
    /* sha256("hello") */
    EXPECT_TRUE(
        strstr(
            r,
            "x-amz-content-sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\r\n") !=
        NULL);
    EXPECT_TRUE(strstr(r, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") != NULL);
    EXPECT_TRUE(strstr(r, "SignedHeaders=host;if-none-match;x-amz-content-sha256;x-amz-date;x-amz-meta-owner;"
                          "x-amz-security-token, Signature=") != NULL);
    EXPECT_TRUE(strstr(r, "\r\n\r\nhello") != NULL);
    ak_http_free(h);
}

/* ---- a scripted server: answers up to 4 requests in turn (one connection each), recording them */
#define S_MCAP_MAX 4
typedef struct {
    int lfd, port;
    char req[S_MCAP_MAX][8192];
    size_t n_req;
    const char *answer[S_MCAP_MAX];
    size_t n_answer;
    pthread_t th;
} s_mcap;

static void *s_mcap_run(void *arg) {
    s_mcap *c = arg;
    for (size_t i = 0; i < c->n_answer; i++) {
        struct pollfd p = {.fd = c->lfd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0) return NULL;
        int fd = accept(c->lfd, NULL, NULL);
        if (fd < 0) return NULL;
        size_t len = 0;
        for (;;) { /* GET: the head is the whole request */
            ssize_t r = recv(fd, c->req[i] + len, sizeof(c->req[i]) - 1 - len, 0);
            if (r <= 0) break;
            len += (size_t)r;
            c->req[i][len] = '\0';
            if (strstr(c->req[i], "\r\n\r\n")) break;
        }
        c->n_req = i + 1;
        char head[128];
        int hn = snprintf(head, sizeof(head),
                          "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                          strlen(c->answer[i]));
        send(fd, head, (size_t)hn, MSG_NOSIGNAL);
        send(fd, c->answer[i], strlen(c->answer[i]), MSG_NOSIGNAL);
        close(fd);
    }
    return NULL;
}

static void s_mcap_start(s_mcap *c, const char *const *answers, size_t n) {
    memset(c, 0, sizeof(*c));
    assert_true(n <= S_MCAP_MAX);
    for (size_t i = 0; i < n; i++)
        c->answer[i] = answers[i];
    c->n_answer = n;
    c->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(c->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    listen(c->lfd, 4);
    socklen_t al = sizeof(a);
    getsockname(c->lfd, (struct sockaddr *)&a, &al);
    c->port = ntohs(a.sin_port);
    pthread_create(&c->th, NULL, s_mcap_run, c);
}

/* Stops the server: a client that sent fewer requests than scripted leaves it in accept(). */
static void s_mcap_stop(s_mcap *c) {
    shutdown(c->lfd, SHUT_RDWR);
    pthread_join(c->th, NULL);
    close(c->lfd);
}

typedef struct {
    char seen[16][64]; /* "K key" or "P prefix" */
    size_t n;
    size_t stop_at; /* return AK_E_LIMIT on this item (1-based); 0 = never */
} s_seen;

static ak_err s_seen_fn(void *ud, const ak_s3_list_item *it) {
    s_seen *s = ud;
    assert_true(s->n < 16);
    snprintf(s->seen[s->n], sizeof(s->seen[s->n]), "%c %.*s", it->is_prefix ? 'P' : 'K', (int)it->key.len,
             (const char *)it->key.ptr);
    if (it->is_prefix) EXPECT_INT_EQ(it->size, 0);
    s->n++;
    return s->stop_at && s->n == s->stop_at ? AK_E_LIMIT : AK_OK;
}

static bool s_starts(const char *s, const char *lit) { return strncmp(s, lit, strlen(lit)) == 0; }

#define S_LIST_HEAD                                                                                          \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "                                           \
    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"

/* Page 1: objects and common prefixes interleave by key; page 2 runs into max_keys. */
static const char *const s_pages[] = {
    S_LIST_HEAD "<Name>my-bucket</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
                "<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
                "<NextContinuationToken>tok+1/=</NextContinuationToken>"
                "<Contents><Key>p/a.json</Key><Size>1</Size><ETag>&quot;e1&quot;</ETag></Contents>"
                "<Contents><Key>p/c.json</Key><Size>22</Size></Contents>"
                "<CommonPrefixes><Prefix>p/b/</Prefix></CommonPrefixes></ListBucketResult>",
    S_LIST_HEAD "<IsTruncated>true</IsTruncated><NextContinuationToken>t2</NextContinuationToken>"
                "<CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes>"
                "<CommonPrefixes><Prefix>p/e/</Prefix></CommonPrefixes></ListBucketResult>",
};

static void s_list_client(int port, ak_http **h, ak_s3 *s3) {
    ak_http_config hc = {.retry = {.max_attempts = 1}};
    EXPECT_OK(ak_http_new(&hc, h));
    char ep[64];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
    ak_s3_config c = {.endpoint = ep, .region = "us-east-1", .path_style = true};
    EXPECT_OK(ak_s3_init(s3, *h, &c));
}

AK_TEST(test_list_delimiter_start_after_max_keys) {
    s_mcap cap;
    s_mcap_start(&cap, s_pages, 2);
    ak_http *h = NULL;
    ak_s3 s3;
    s_list_client(cap.port, &h, &s3);
    ak_sigv4_creds cr = {AK_CUR_LIT("AKID"), AK_CUR_LIT("secret"), {0}};
    ak_s3_call call = {.creds = &cr};
    ak_s3_list_opts o = {.prefix = AK_CUR_LIT("p/"),
                         .delimiter = AK_CUR_LIT("/"),
                         .start_after = AK_CUR_LIT("p/0 x"),
                         .page_size = 3,
                         .max_keys = 5};
    s_seen seen = {0};
    ak_s3_list_result res;
    EXPECT_OK(ak_s3_list_ex(&s3, &call, "my-bucket", &o, s_seen_fn, &seen, &res));
    s_mcap_stop(&cap);
    EXPECT_INT_EQ(cap.n_req, 2);
    EXPECT_INT_EQ(seen.n, 5);
    EXPECT_STR_EQ(seen.seen[0], "K p/a.json");
    EXPECT_STR_EQ(seen.seen[1], "P p/b/");
    EXPECT_STR_EQ(seen.seen[2], "K p/c.json");
    EXPECT_STR_EQ(seen.seen[3], "P p/d/");
    EXPECT_STR_EQ(seen.seen[4], "P p/e/");
    EXPECT_INT_EQ(res.keys, 2);
    EXPECT_INT_EQ(res.prefixes, 3);
    EXPECT_TRUE(res.truncated); /* stopped at max_keys; the server had more */
    /* Sorted parameters; start-after only on the first page; the last page asks for what is left. */
    EXPECT_TRUE(s_starts(
        cap.req[0], "GET /my-bucket?delimiter=%2F&list-type=2&max-keys=3&prefix=p%2F&start-after=p%2F0%20x "
                    "HTTP/1.1\r\n"));
    EXPECT_TRUE(s_starts(
        cap.req[1], "GET /my-bucket?continuation-token=tok%2B1%2F%3D&delimiter=%2F&list-type=2&max-keys=2"
                    "&prefix=p%2F HTTP/1.1\r\n"));
    EXPECT_TRUE(strstr(cap.req[1], "start-after") == NULL);
    ak_http_free(h);
}

AK_TEST(test_list_end_and_negatives) {
    /* The whole listing fits under max_keys: not truncated; the plain ak_s3_list sees objects only
     * (no delimiter sent, no prefix entries). */
    static const char *const one[] = {
        S_LIST_HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>1</Size></Contents>"
                    "<Contents><Key>b</Key><Size>1</Size></Contents></ListBucketResult>",
        S_LIST_HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>1</Size></Contents>"
                    "</ListBucketResult>",
    };
    s_mcap cap;
    s_mcap_start(&cap, one, 2);
    ak_http *h = NULL;
    ak_s3 s3;
    s_list_client(cap.port, &h, &s3);
    ak_sigv4_creds cr = {AK_CUR_LIT("AKID"), AK_CUR_LIT("secret"), {0}};
    ak_s3_call call = {.creds = &cr};
    ak_s3_list_opts o = {.max_keys = 10};
    s_seen seen = {0};
    ak_s3_list_result res;
    EXPECT_OK(ak_s3_list_ex(&s3, &call, "my-bucket", &o, s_seen_fn, &seen, &res));
    EXPECT_INT_EQ(seen.n, 2);
    EXPECT_FALSE(res.truncated);
    EXPECT_INT_EQ(res.keys, 2);
    memset(&seen, 0, sizeof(seen));
    EXPECT_OK(ak_s3_list(&s3, &call, "my-bucket", AK_CUR_LIT(""), 0, s_seen_fn, &seen));
    s_mcap_stop(&cap);
    EXPECT_INT_EQ(seen.n, 1);
    EXPECT_TRUE(s_starts(cap.req[1], "GET /my-bucket?list-type=2&max-keys=1000 HTTP/1.1\r\n"));
    ak_http_free(h);

    /* Malformed listings: a CommonPrefixes without Prefix; truncated without a token; a callback's
     * stop code comes back as is. */
    static const char *const bad[] = {
        S_LIST_HEAD "<IsTruncated>false</IsTruncated><CommonPrefixes></CommonPrefixes></ListBucketResult>",
        S_LIST_HEAD "<IsTruncated>true</IsTruncated><Contents><Key>a</Key><Size>1</Size></Contents>"
                    "</ListBucketResult>",
        S_LIST_HEAD "<IsTruncated>false</IsTruncated><CommonPrefixes><Prefix>x/</Prefix></CommonPrefixes>"
                    "<CommonPrefixes><Prefix>y/</Prefix></CommonPrefixes></ListBucketResult>",
        S_LIST_HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a</Key></Contents></ListBucketResult>",
    };
    s_mcap_start(&cap, bad, 4);
    s_list_client(cap.port, &h, &s3);
    o = (ak_s3_list_opts){.delimiter = AK_CUR_LIT("/")};
    memset(&seen, 0, sizeof(seen));
    EXPECT_ERR(AK_E_S3_ERROR, ak_s3_list_ex(&s3, &call, "my-bucket", &o, s_seen_fn, &seen, &res));
    EXPECT_ERR(AK_E_S3_ERROR, ak_s3_list_ex(&s3, &call, "my-bucket", &o, s_seen_fn, &seen, NULL));
    memset(&seen, 0, sizeof(seen));
    seen.stop_at = 1;
    EXPECT_ERR(AK_E_LIMIT, ak_s3_list_ex(&s3, &call, "my-bucket", &o, s_seen_fn, &seen, &res));
    EXPECT_INT_EQ(seen.n, 1);
    seen.stop_at = 0;
    EXPECT_ERR(AK_E_S3_ERROR,
               ak_s3_list_ex(&s3, &call, "my-bucket", &o, s_seen_fn, &seen, &res)); /* no Size */
    /* Refused before any request: a NUL byte or an over-long start_after/delimiter. */
    o.start_after = ak_cur_from("a\0b", 3);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_s3_list_ex(&s3, &call, "my-bucket", &o, s_seen_fn, &seen, &res));
    static uint8_t longkey[AK_S3_MAX_KEY + 1];
    memset(longkey, 'k', sizeof(longkey));
    o.start_after = ak_cur_from(longkey, sizeof(longkey));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_s3_list_ex(&s3, &call, "my-bucket", &o, s_seen_fn, &seen, &res));
    o.start_after = (ak_cur){0};
    o.delimiter = ak_cur_from(longkey, sizeof(longkey));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_s3_list_ex(&s3, &call, "my-bucket", &o, s_seen_fn, &seen, &res));
    s_mcap_stop(&cap);
    EXPECT_INT_EQ(cap.n_req, 4);
    ak_http_free(h);
}

AK_TEST(test_request_validation) {
    ak_http *h = NULL;
    ak_http_config hc = {0};
    EXPECT_OK(ak_http_new(&hc, &h));
    ak_s3 s3;
    ak_s3_config c = {.endpoint = "http://127.0.0.1:9", .region = "us-east-1", .path_style = true};
    EXPECT_OK(ak_s3_init(&s3, h, &c));
    ak_sigv4_creds cr = {AK_CUR_LIT("AKID"), AK_CUR_LIT("secret"), {0}};
    ak_s3_call call = {.creds = &cr};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_s3_put(&s3, &call, "b", AK_CUR_LIT("k"), AK_CUR_LIT("x"), NULL,
                                             NULL)); /* bucket too short */
    EXPECT_ERR(AK_E_INVALID_INPUT,
               ak_s3_put(&s3, &call, "Bad_Bucket", AK_CUR_LIT("k"), AK_CUR_LIT("x"), NULL, NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT,
               ak_s3_put(&s3, &call, "bucket", AK_CUR_LIT(""), AK_CUR_LIT("x"), NULL, NULL));
    EXPECT_ERR(AK_E_INVALID_INPUT,
               ak_s3_put(&s3, &call, "bucket", ak_cur_from("a\0b", 3), AK_CUR_LIT("x"), NULL, NULL));
    ak_s3_meta bad[] = {{"Upper", AK_CUR_LIT("v")}};
    ak_s3_put_opts o = {.meta = bad, .n_meta = 1};
    EXPECT_ERR(AK_E_INVALID_INPUT,
               ak_s3_put(&s3, &call, "bucket", AK_CUR_LIT("k"), AK_CUR_LIT("x"), &o, NULL));
    ak_s3_meta inj[] = {{"x", AK_CUR_LIT("v\r\nEvil: 1")}};
    o.meta = inj;
    EXPECT_ERR(AK_E_INVALID_INPUT,
               ak_s3_put(&s3, &call, "bucket", AK_CUR_LIT("k"), AK_CUR_LIT("x"), &o, NULL));
    ak_cur keys[] = {AK_CUR_LIT("ok"), ak_cur_from("\x01", 1)};
    ak_s3_delete_result res;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_s3_delete_objects(&s3, &call, "bucket", keys, 2, NULL, NULL, &res));
    ak_http_free(h);
    ak_http_global_cleanup();
}

AK_RUN_TESTS(AK_T(test_error_mapping), AK_T(test_etag_unquote), AK_T(test_config), AK_T(test_put_wire_format),
             AK_T(test_list_delimiter_start_after_max_keys), AK_T(test_list_end_and_negatives),
             AK_T(test_request_validation))
