/*
 * apigw_test.c — API Gateway HTTP API v2 decoding (against the aws-lambda-go vectors, read at
 * test time) and response encoding (against the shape of apigw-response.json); negative cases
 * for every rejection reason; an allocation-failure sweep.
 */
#include "test.h"

#include <jansson.h>

#include "ak/json.h"
#include "ak/limits.h"
#include "akrt/apigw.h"

#define S_V(name) "aws-lambda-go-events/" name

static void s_load(const char *rel, ak_buf *b) {
    ak_buf_init(b, 1u << 20);
    ak_test_read_file(ak_test_vector_path(rel), b);
}

static void s_expect_cur(ak_cur c, const char *s) {
    EXPECT_BYTES_EQ(c.ptr, c.len, (const uint8_t *)s, strlen(s));
    EXPECT_INT_EQ(c.ptr[c.len], 0); /* NUL-terminated copies */
}

/* ------------------------------------------------------------------ decoding vectors */

AK_TEST(test_decode_no_authorizer_vector) {
    ak_buf ev;
    s_load(S_V("apigw-v2-request-no-authorizer.json"), &ev);
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_req r;
    EXPECT_OK(akrt_apigw_decode(ak_buf_cur(&ev), &a, &r));
    s_expect_cur(r.version, "2.0");
    s_expect_cur(r.route_key, "$default");
    s_expect_cur(r.raw_path, "/");
    s_expect_cur(r.raw_query, "");
    s_expect_cur(r.method, "GET");
    s_expect_cur(r.path, "/");
    s_expect_cur(r.source_ip, "1.2.3.4");
    s_expect_cur(r.request_id, "LV7fzho-PHcEJPw=");
    EXPECT_INT_EQ(r.n_headers, 8);
    EXPECT_INT_EQ(r.n_cookies, 0);
    EXPECT_INT_EQ(r.n_query, 0);
    EXPECT_INT_EQ(r.n_path_params, 0);
    EXPECT_INT_EQ(r.body.len, 0);
    EXPECT_FALSE(r.body_was_base64);
    ak_cur v;
    EXPECT_TRUE(akrt_http_header(&r, "User-Agent", &v));
    s_expect_cur(v, "curl/7.58.0");
    EXPECT_TRUE(akrt_http_header(&r, "X-FORWARDED-FOR", &v));
    s_expect_cur(v, "1.2.3.4");
    EXPECT_FALSE(akrt_http_header(&r, "authorization", &v));
    EXPECT_FALSE(akrt_http_query(&r, "a", &v));
    EXPECT_FALSE(akrt_http_path_param(&r, "proxy", &v));
    ak_arena_free(&a);
    ak_buf_free(&ev);
}

static void s_check_authorizer_vector(const char *rel) {
    ak_buf ev;
    s_load(rel, &ev);
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_req r;
    EXPECT_OK(akrt_apigw_decode(ak_buf_cur(&ev), &a, &r));
    s_expect_cur(r.raw_path, "/my/path");
    s_expect_cur(r.raw_query, "parameter1=value1&parameter1=value2&parameter2=value");
    s_expect_cur(r.method, "GET");
    s_expect_cur(r.path, "/my/path");
    s_expect_cur(r.source_ip, "IP");
    s_expect_cur(r.request_id, "id");
    EXPECT_INT_EQ(r.n_cookies, 2);
    s_expect_cur(r.cookies[0], "cookie1");
    s_expect_cur(r.cookies[1], "cookie2");
    /* Names are stored lower-cased; lookups ignore case. */
    EXPECT_INT_EQ(r.n_headers, 2);
    s_expect_cur(r.headers[0].name, "header1");
    ak_cur v;
    EXPECT_TRUE(akrt_http_header(&r, "HEADER1", &v));
    s_expect_cur(v, "value1");
    EXPECT_TRUE(akrt_http_header(&r, "Header2", &v));
    s_expect_cur(v, "value2");
    /* Query and path parameters are exact-case. */
    EXPECT_TRUE(akrt_http_query(&r, "parameter1", &v));
    s_expect_cur(v, "value1,value2");
    EXPECT_FALSE(akrt_http_query(&r, "PARAMETER1", &v));
    EXPECT_TRUE(akrt_http_path_param(&r, "proxy", &v));
    s_expect_cur(v, "hello/world");
    s_expect_cur(r.body, "{\r\n\t\"a\": 1\r\n}");
    EXPECT_FALSE(r.body_was_base64);
    ak_arena_free(&a);
    ak_buf_free(&ev);
}

AK_TEST(test_decode_authorizer_vectors) {
    s_check_authorizer_vector(S_V("apigw-v2-request-iam.json"));
    s_check_authorizer_vector(S_V("apigw-v2-request-jwt-authorizer.json"));
    s_check_authorizer_vector(S_V("apigw-v2-request-lambda-authorizer.json"));
}

/* ------------------------------------------------------------------ decoding: negatives */

#define S_MIN_CTX "\"requestContext\":{\"requestId\":\"r\",\"http\":{\"method\":\"POST\",\"path\":\"/p\"}}"
#define S_MIN_HEAD "\"version\":\"2.0\",\"routeKey\":\"POST /p\",\"rawPath\":\"/p\","

static ak_err s_decode_str(const char *json, akrt_http_req *r, ak_arena *a) {
    return akrt_apigw_decode(ak_cur_from_str(json), a, r);
}

AK_TEST(test_decode_minimal_and_base64_body) {
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_req r;
    EXPECT_OK(s_decode_str("{" S_MIN_HEAD S_MIN_CTX "}", &r, &a));
    EXPECT_INT_EQ(r.body.len, 0);
    EXPECT_INT_EQ(r.source_ip.len, 0);
    EXPECT_OK(
        s_decode_str("{" S_MIN_HEAD S_MIN_CTX ",\"body\":\"aGVsbG8=\",\"isBase64Encoded\":true}", &r, &a));
    s_expect_cur(r.body, "hello");
    EXPECT_TRUE(r.body_was_base64);
    /* Binary bytes survive, including NUL. */
    EXPECT_OK(s_decode_str("{" S_MIN_HEAD S_MIN_CTX ",\"body\":\"AP8A\",\"isBase64Encoded\":true}", &r, &a));
    EXPECT_BYTES_EQ(r.body.ptr, r.body.len, (const uint8_t *)"\x00\xff\x00", 3);
    /* null members count as absent. */
    EXPECT_OK(
        s_decode_str("{" S_MIN_HEAD S_MIN_CTX ",\"headers\":null,\"cookies\":null,\"body\":null}", &r, &a));
    ak_arena_free(&a);
}

AK_TEST(test_decode_rejects_malformed_events) {
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{" S_MIN_HEAD S_MIN_CTX "} trailing",
        "{\"version\":\"1.0\",\"routeKey\":\"r\",\"rawPath\":\"/\"," S_MIN_CTX "}",
        "{\"version\":2,\"routeKey\":\"r\",\"rawPath\":\"/\"," S_MIN_CTX "}",
        "{\"routeKey\":\"r\",\"rawPath\":\"/\"," S_MIN_CTX "}",
        "{\"version\":\"2.0\",\"rawPath\":\"/\"," S_MIN_CTX "}",
        "{\"version\":\"2.0\",\"routeKey\":\"r\"," S_MIN_CTX "}",
        "{" S_MIN_HEAD "\"rawQueryString\":5," S_MIN_CTX "}",
        "{" S_MIN_HEAD "\"requestContext\":{\"requestId\":\"r\"}}",
        "{" S_MIN_HEAD "\"requestContext\":{\"http\":{\"method\":\"GET\",\"path\":\"/\"}}}",
        "{" S_MIN_HEAD "\"requestContext\":{\"requestId\":\"r\",\"http\":{\"path\":\"/\"}}}",
        "{" S_MIN_HEAD "\"requestContext\":{\"requestId\":\"r\",\"http\":{\"method\":\"\",\"path\":\"/\"}}}",
        "{" S_MIN_HEAD "\"requestContext\":{\"requestId\":\"r\",\"http\":{\"method\":\"GET\"}}}",
        "{" S_MIN_HEAD "\"requestContext\":[]}",
        "{" S_MIN_HEAD S_MIN_CTX ",\"headers\":[]}",
        "{" S_MIN_HEAD S_MIN_CTX ",\"headers\":{\"a\":1}}",
        "{" S_MIN_HEAD S_MIN_CTX ",\"headers\":{\"\":\"x\"}}",
        "{" S_MIN_HEAD S_MIN_CTX
        ",\"headers\":{\"X-A\":\"1\",\"x-a\":\"2\"}}",                      /* one header, two spellings */
        "{" S_MIN_HEAD S_MIN_CTX ",\"headers\":{\"a\":\"1\",\"a\":\"2\"}}", /* duplicate JSON key */
        "{" S_MIN_HEAD S_MIN_CTX ",\"headers\":{\"a\":\"x\\u0000y\"}}",     /* NUL in a value */
        "{" S_MIN_HEAD S_MIN_CTX ",\"cookies\":\"a=b\"}",
        "{" S_MIN_HEAD S_MIN_CTX ",\"cookies\":[1]}",
        "{" S_MIN_HEAD S_MIN_CTX ",\"queryStringParameters\":{\"a\":[\"1\"]}}",
        "{" S_MIN_HEAD S_MIN_CTX ",\"pathParameters\":\"x\"}",
        "{" S_MIN_HEAD S_MIN_CTX ",\"body\":{}}",
        "{" S_MIN_HEAD S_MIN_CTX ",\"isBase64Encoded\":\"true\"}",
        "{" S_MIN_HEAD S_MIN_CTX ",\"body\":\"\\ud800\"}", /* lone surrogate */
    };
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        akrt_http_req r;
        memset(&r, 0x5a, sizeof(r));
        ak_err e = s_decode_str(bad[i], &r, &a);
        if (e != AK_E_INVALID_EVENT) fail_msg("case %zu (%s) -> %s", i, bad[i], ak_err_reason(e));
        EXPECT_INT_EQ(r.n_headers, 0); /* zeroed on error */
        EXPECT_TRUE(r.method.ptr == NULL);
    }
    ak_arena_free(&a);
}

AK_TEST(test_decode_rejects_bad_base64) {
    static const char *const bad[] = {"aGVsbG8", "aGV!bG8=", "aGVsbG9=", "aGVsbG8=\\n", "====", "a==="};
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_buf ev;
        ak_buf_init(&ev, 4096);
        EXPECT_OK(ak_buf_printf(&ev, "{" S_MIN_HEAD S_MIN_CTX ",\"body\":\"%s\",\"isBase64Encoded\":true}",
                                bad[i]));
        akrt_http_req r;
        ak_err e = akrt_apigw_decode(ak_buf_cur(&ev), &a, &r);
        if (e != AK_E_BAD_BASE64) fail_msg("case %s -> %s", bad[i], ak_err_reason(e));
        ak_buf_free(&ev);
    }
    ak_arena_free(&a);
}

/* An event whose body is `n` bytes, sent as text or base64. */
static void s_big_event(size_t n, bool b64, ak_buf *ev) {
    uint8_t *raw = ak_malloc(n ? n : 1);
    assert_non_null(raw);
    memset(raw, 'z', n);
    ak_buf_init(ev, 4u * AK_MAX_REQUEST_BODY);
    EXPECT_OK(ak_buf_append_str(ev, "{" S_MIN_HEAD S_MIN_CTX ",\"body\":\""));
    if (b64)
        EXPECT_OK(ak_b64_encode(raw, n, ev));
    else
        EXPECT_OK(ak_buf_append(ev, raw, n));
    EXPECT_OK(ak_buf_append_str(ev, b64 ? "\",\"isBase64Encoded\":true}" : "\"}"));
    ak_free(raw);
}

AK_TEST(test_decode_body_ceiling) {
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    for (int b64 = 0; b64 <= 1; b64++) {
        ak_buf ev;
        akrt_http_req r;
        s_big_event(AK_MAX_REQUEST_BODY, b64, &ev);
        EXPECT_OK(akrt_apigw_decode(ak_buf_cur(&ev), &a, &r));
        EXPECT_INT_EQ(r.body.len, AK_MAX_REQUEST_BODY);
        ak_buf_free(&ev);
        ak_arena_reset(&a);
        s_big_event(AK_MAX_REQUEST_BODY + 1u, b64, &ev);
        EXPECT_ERR(AK_E_TOO_LARGE, akrt_apigw_decode(ak_buf_cur(&ev), &a, &r));
        ak_buf_free(&ev);
        ak_arena_reset(&a);
    }
    ak_arena_free(&a);
}

AK_TEST(test_decode_survives_allocation_failures) {
    ak_buf ev;
    s_load(S_V("apigw-v2-request-iam.json"), &ev);
    uint64_t before = ak_alloc_calls();
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_req r;
    EXPECT_OK(akrt_apigw_decode(ak_buf_cur(&ev), &a, &r));
    ak_arena_free(&a);
    uint64_t calls = ak_alloc_calls() - before;
    /* The event's tree lives in the arena, so the heap calls are the arena's chunk and the
     * decoder's own blocks. A failed chunk inside jansson falls back to the heap (jansson 2.14
     * can crash when an allocation fails inside its lexer: lex_save ignores
     * strbuffer_append_byte's failure, load.c ~L448), so every call can be swept. */
    EXPECT_TRUE(calls >= 1);
    for (uint64_t n = 1; n <= calls; n++) {
        size_t live = ak_alloc_live_count();
        ak_arena_init(&a, AK_MAX_ARENA);
        ak_alloc_fail_nth(n);
        ak_err e = akrt_apigw_decode(ak_buf_cur(&ev), &a, &r);
        ak_alloc_fail_nth(0);
        EXPECT_TRUE(e == AK_OK || e == AK_E_NOMEM || e == AK_E_INVALID_EVENT);
        ak_arena_free(&a);
        EXPECT_INT_EQ(ak_alloc_live_count(), live);
    }
    ak_buf_free(&ev);
}

/* The tree is built in the arena: no heap allocation per JSON value, nothing left live but the
 * arena's chunk, and jansson is back on the heap afterwards (including after a failure). */
AK_TEST(test_decode_builds_the_tree_in_the_arena) {
    ak_buf ev;
    s_load(S_V("apigw-v2-request-iam.json"), &ev);
    json_t *tree;
    uint64_t before = ak_alloc_calls();
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&ev), &tree));
    uint64_t heap_parse = ak_alloc_calls() - before;
    json_decref(tree);

    size_t live = ak_alloc_live_count();
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_req r;
    before = ak_alloc_calls();
    EXPECT_OK(akrt_apigw_decode(ak_buf_cur(&ev), &a, &r));
    uint64_t arena_decode = ak_alloc_calls() - before;
    EXPECT_TRUE(arena_decode * 10u < heap_parse);
    EXPECT_INT_EQ(ak_alloc_live_count(), live + 1u); /* the arena's one chunk */
    s_expect_cur(r.method, "GET");
    ak_arena_reset(&a);

    /* After a success and after a rejection, jansson allocates from the heap again. */
    for (int i = 0; i < 2; i++) {
        if (i == 1)
            EXPECT_ERR(AK_E_INVALID_EVENT, akrt_apigw_decode(AK_CUR_LIT("{\"version\":\"1.0\"}"), &a, &r));
        size_t at = ak_alloc_live_count();
        json_t *v = json_string("after");
        EXPECT_TRUE(v != NULL);
        EXPECT_TRUE(ak_alloc_live_count() > at);
        json_decref(v);
        EXPECT_INT_EQ(ak_alloc_live_count(), at);
    }
    ak_arena_free(&a);
    EXPECT_INT_EQ(ak_alloc_live_count(), live);
    ak_buf_free(&ev);
}

/* ------------------------------------------------------------------ encoding */

static json_t *s_encode_parse(const akrt_http_resp *resp) {
    ak_buf out;
    ak_buf_init(&out, AK_MAX_LAMBDA_PAYLOAD);
    EXPECT_OK(akrt_apigw_encode(resp, &out));
    json_t *j;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&out), &j));
    ak_buf_free(&out);
    return j;
}

AK_TEST(test_encode_matches_the_reference_response_shape) {
    ak_buf ref;
    s_load(S_V("apigw-response.json"), &ref);
    json_t *want;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&ref), &want));
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_resp resp;
    akrt_http_resp_init(&resp, &a);
    const char *body = json_string_value(json_object_get(want, "body"));
    EXPECT_OK(akrt_http_set_body(&resp, (int)json_integer_value(json_object_get(want, "statusCode")),
                                 "text/plain", ak_cur_from_str(body)));
    EXPECT_OK(akrt_http_set_header(&resp, "X-Forwarded-Proto", "https"));
    json_t *got = s_encode_parse(&resp);
    /* Same members and types as the reference: statusCode integer, headers of strings, body string. */
    EXPECT_INT_EQ(json_integer_value(json_object_get(got, "statusCode")),
                  json_integer_value(json_object_get(want, "statusCode")));
    EXPECT_STR_EQ(json_string_value(json_object_get(got, "body")), body);
    json_t *h = json_object_get(got, "headers");
    EXPECT_TRUE(json_is_object(h));
    EXPECT_STR_EQ(json_string_value(json_object_get(h, "x-forwarded-proto")),
                  json_string_value(json_object_get(json_object_get(want, "headers"), "X-Forwarded-Proto")));
    EXPECT_STR_EQ(json_string_value(json_object_get(h, "content-type")), "text/plain");
    EXPECT_STR_EQ(json_string_value(json_object_get(h, "cache-control")), "no-store");
    EXPECT_STR_EQ(json_string_value(json_object_get(h, "x-content-type-options")), "nosniff");
    EXPECT_TRUE(json_is_false(json_object_get(got, "isBase64Encoded")));
    EXPECT_TRUE(json_object_get(got, "cookies") == NULL);
    const char *key;
    json_t *val;
    json_object_foreach(got, key, val) {
        (void)val;
        EXPECT_TRUE(json_object_get(want, key) != NULL || strcmp(key, "isBase64Encoded") == 0);
    }
    json_decref(got);
    json_decref(want);
    akrt_http_resp_free(&resp);
    ak_arena_free(&a);
    ak_buf_free(&ref);
}

AK_TEST(test_encode_escapes_binary_and_cookies) {
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_resp resp;
    akrt_http_resp_init(&resp, &a);
    /* Text with everything JSON must escape, and multi-byte UTF-8, round-trips as text. */
    static const char text[] = "q\"b\\n\n\r\t\x01\x1f \xc3\xa9 \xf0\x9f\x94\x91 </script>";
    EXPECT_OK(
        akrt_http_set_body(&resp, 200, "text/plain; charset=utf-8", ak_cur_from(text, sizeof(text) - 1)));
    EXPECT_OK(akrt_http_add_cookie(&resp, "s=1; Secure; HttpOnly"));
    EXPECT_OK(akrt_http_add_cookie(&resp, "t=2"));
    json_t *j = s_encode_parse(&resp);
    json_t *b = json_object_get(j, "body");
    EXPECT_BYTES_EQ((const uint8_t *)json_string_value(b), json_string_length(b), (const uint8_t *)text,
                    sizeof(text) - 1);
    EXPECT_TRUE(json_is_false(json_object_get(j, "isBase64Encoded")));
    json_t *c = json_object_get(j, "cookies");
    EXPECT_INT_EQ(json_array_size(c), 2);
    EXPECT_STR_EQ(json_string_value(json_array_get(c, 0)), "s=1; Secure; HttpOnly");
    json_decref(j);

    /* Invalid UTF-8 (and overlong / surrogate forms) goes base64 automatically. */
    static const char *const not_utf8[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82",
                                           "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof(not_utf8) / sizeof(not_utf8[0]); i++) {
        EXPECT_OK(akrt_http_set_body(&resp, 200, "application/octet-stream", ak_cur_from_str(not_utf8[i])));
        j = s_encode_parse(&resp);
        EXPECT_TRUE(json_is_true(json_object_get(j, "isBase64Encoded")));
        ak_buf dec;
        ak_buf_init(&dec, 64);
        EXPECT_OK(ak_b64_decode(ak_cur_from_str(json_string_value(json_object_get(j, "body"))), &dec));
        EXPECT_BYTES_EQ(dec.ptr, dec.len, (const uint8_t *)not_utf8[i], strlen(not_utf8[i]));
        ak_buf_free(&dec);
        json_decref(j);
    }
    /* body_binary forces base64 for text too. */
    EXPECT_OK(akrt_http_set_body(&resp, 200, "application/octet-stream", AK_CUR_LIT("hello")));
    resp.body_binary = true;
    j = s_encode_parse(&resp);
    EXPECT_STR_EQ(json_string_value(json_object_get(j, "body")), "aGVsbG8=");
    EXPECT_TRUE(json_is_true(json_object_get(j, "isBase64Encoded")));
    json_decref(j);
    akrt_http_resp_free(&resp);
    ak_arena_free(&a);
}

AK_TEST(test_response_headers_are_checked) {
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_resp resp;
    akrt_http_resp_init(&resp, &a);
    EXPECT_ERR(AK_E_INVALID_INPUT, akrt_http_set_header(&resp, "", "v"));
    EXPECT_ERR(AK_E_INVALID_INPUT, akrt_http_set_header(&resp, "bad name", "v"));
    EXPECT_ERR(AK_E_INVALID_INPUT, akrt_http_set_header(&resp, "x-a:", "v"));
    EXPECT_ERR(AK_E_INVALID_INPUT, akrt_http_set_header(&resp, "x-a", "v\r\nset-cookie: evil=1"));
    EXPECT_ERR(AK_E_INVALID_INPUT, akrt_http_add_cookie(&resp, "a=b\nc"));
    EXPECT_ERR(AK_E_INVALID_INPUT, akrt_http_add_cookie(&resp, ""));
    EXPECT_INT_EQ(resp.n_headers, 0);
    /* Setting twice (any case) replaces. */
    EXPECT_OK(akrt_http_set_header(&resp, "Content-Type", "text/plain"));
    EXPECT_OK(akrt_http_set_header(&resp, "content-type", "text/html"));
    EXPECT_INT_EQ(resp.n_headers, 1);
    s_expect_cur(resp.headers[0].value, "text/html");
    char name[16];
    for (unsigned i = 1; i < AKRT_HTTP_MAX_RESP_HEADERS; i++) {
        snprintf(name, sizeof(name), "x-h%u", i);
        EXPECT_OK(akrt_http_set_header(&resp, name, "v"));
    }
    EXPECT_ERR(AK_E_LIMIT, akrt_http_set_header(&resp, "x-one-more", "v"));
    for (unsigned i = 0; i < AKRT_HTTP_MAX_RESP_COOKIES; i++)
        EXPECT_OK(akrt_http_add_cookie(&resp, "c=1"));
    EXPECT_ERR(AK_E_LIMIT, akrt_http_add_cookie(&resp, "c=1"));
    /* Bad status. */
    resp.status = 99;
    ak_buf out;
    ak_buf_init(&out, 1u << 16);
    EXPECT_ERR(AK_E_INTERNAL, akrt_apigw_encode(&resp, &out));
    EXPECT_INT_EQ(out.len, 0);
    resp.status = 600;
    EXPECT_ERR(AK_E_INTERNAL, akrt_apigw_encode(&resp, &out));
    EXPECT_ERR(AK_E_INTERNAL, akrt_http_set_body(&resp, 42, "text/plain", AK_CUR_LIT("")));
    ak_buf_free(&out);
    akrt_http_resp_free(&resp);
    ak_arena_free(&a);
}

AK_TEST(test_error_response_is_d14) {
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_resp resp;
    akrt_http_resp_init(&resp, &a);
    EXPECT_OK(akrt_http_set_header(&resp, "x-stale", "1"));
    EXPECT_OK(akrt_http_error(&resp, AK_E_METHOD_NOT_ALLOWED));
    EXPECT_INT_EQ(resp.status, 405);
    EXPECT_STR_EQ(ak_buf_cstr(&resp.body),
                  "{\"error\":\"method not allowed on this route\",\"reason\":\"method_not_allowed\"}");
    EXPECT_INT_EQ(resp.n_headers, 1); /* the stale header is gone; content-type remains */
    s_expect_cur(resp.headers[0].name, "content-type");
    /* Every code in the table gives its own status and reason. */
    for (int e = 1; e < (int)AK_E__COUNT; e++) {
        EXPECT_OK(akrt_http_error(&resp, (ak_err)e));
        EXPECT_INT_EQ(resp.status, ak_err_status((ak_err)e));
        json_t *j;
        EXPECT_OK(ak_json_parse_object(ak_buf_cur(&resp.body), &j));
        EXPECT_STR_EQ(json_string_value(json_object_get(j, "reason")), ak_err_reason((ak_err)e));
        EXPECT_STR_EQ(json_string_value(json_object_get(j, "error")), ak_err_message((ak_err)e));
        EXPECT_INT_EQ(json_object_size(j), 2);
        json_decref(j);
    }
    /* AK_OK is not an error: treated as internal. */
    EXPECT_OK(akrt_http_error(&resp, AK_OK));
    EXPECT_INT_EQ(resp.status, 500);
    akrt_http_resp_free(&resp);
    ak_arena_free(&a);
}

AK_TEST(test_encode_ceiling_is_too_large_and_leaves_out_unchanged) {
    ak_arena a;
    ak_arena_init(&a, AK_MAX_ARENA);
    akrt_http_resp resp;
    akrt_http_resp_init(&resp, &a);
    EXPECT_OK(akrt_http_set_body(&resp, 200, "text/plain", AK_CUR_LIT("0123456789abcdef")));
    ak_buf out;
    ak_buf_init(&out, 64);
    EXPECT_OK(ak_buf_append_str(&out, "prefix"));
    EXPECT_ERR(AK_E_TOO_LARGE, akrt_apigw_encode(&resp, &out));
    EXPECT_STR_EQ(ak_buf_cstr(&out), "prefix");
    ak_buf_free(&out);
    akrt_http_resp_free(&resp);
    ak_arena_free(&a);
}

AK_RUN_TESTS(AK_T(test_decode_no_authorizer_vector), AK_T(test_decode_authorizer_vectors),
             AK_T(test_decode_minimal_and_base64_body), AK_T(test_decode_rejects_malformed_events),
             AK_T(test_decode_rejects_bad_base64), AK_T(test_decode_body_ceiling),
             AK_T(test_decode_survives_allocation_failures), AK_T(test_decode_builds_the_tree_in_the_arena),
             AK_T(test_encode_matches_the_reference_response_shape),
             AK_T(test_encode_escapes_binary_and_cookies), AK_T(test_response_headers_are_checked),
             AK_T(test_error_response_is_d14),
             AK_T(test_encode_ceiling_is_too_large_and_leaves_out_unchanged))
