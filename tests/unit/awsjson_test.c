/* awsjson_test.c — the signed AWS JSON 1.1 request (ak/awsjson.h): the header set sent and signed
 * (with and without a session token), the request fields carried over, refusals. The SigV4
 * algorithm itself: sigv4_test (AWS's vectors); the whole request against botocore's signer:
 * tests/e2e/kms_sealer_test.sh. */
#include "test.h"

#include "ak/awsjson.h"

static ak_awsjson_call s_call(void) {
    return (ak_awsjson_call){.url = "https://kms.eu-west-1.amazonaws.com/",
                             .host = AK_CUR_LIT("kms.eu-west-1.amazonaws.com"),
                             .region = AK_CUR_LIT("eu-west-1"),
                             .service = AK_CUR_LIT("kms"),
                             .target = AK_CUR_LIT("TrentService.Decrypt"),
                             .body = AK_CUR_LIT("{}"),
                             .deadline_ms = 1234,
                             .idempotent = true,
                             .max_response = 777,
                             .body_secret = true};
}

static const char *s_hdr(const ak_awsjson_req *r, const char *name) {
    static char v[2048];
    for (size_t i = 0; i < r->http.n_headers; i++)
        if (strcmp(r->http.headers[i].name, name) == 0) {
            snprintf(v, sizeof(v), "%.*s", (int)r->http.headers[i].value.len,
                     (const char *)r->http.headers[i].value.ptr);
            return v;
        }
    return NULL;
}

AK_TEST(test_headers_and_fields) {
    ak_sigv4_creds creds = {AK_CUR_LIT("AKIDEXAMPLE"), AK_CUR_LIT("secret"), AK_CUR_LIT("token-1")};
    ak_awsjson_call c = s_call();
    ak_awsjson_req r;
    EXPECT_OK(ak_awsjson_sign(&creds, &c, &r));
    EXPECT_STR_EQ(r.http.method, "POST");
    EXPECT_STR_EQ(r.http.url, c.url);
    EXPECT_INT_EQ(r.http.n_headers, 6);
    EXPECT_STR_EQ(s_hdr(&r, "Content-Type"), "application/x-amz-json-1.1");
    EXPECT_STR_EQ(s_hdr(&r, "Host"), "kms.eu-west-1.amazonaws.com");
    EXPECT_STR_EQ(s_hdr(&r, "X-Amz-Target"), "TrentService.Decrypt");
    EXPECT_STR_EQ(s_hdr(&r, "X-Amz-Security-Token"), "token-1");
    EXPECT_STR_EQ(s_hdr(&r, "X-Amz-Date"), r.date);
    EXPECT_INT_EQ(strlen(r.date), 16);
    EXPECT_STR_EQ(ak_buf_cstr(&r.sig.signed_headers),
                  "content-type;host;x-amz-date;x-amz-security-token;x-amz-target");
    const char *auth = s_hdr(&r, "Authorization");
    assert_non_null(auth);
    char want[160];
    snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/%.8s/eu-west-1/kms/aws4_request, ",
             r.date);
    EXPECT_TRUE(strncmp(auth, want, strlen(want)) == 0);
    EXPECT_BYTES_EQ(r.http.body.ptr, r.http.body.len, "{}", 2);
    EXPECT_INT_EQ(r.http.deadline_ms, 1234);
    EXPECT_INT_EQ(r.http.max_response, 777);
    EXPECT_TRUE(r.http.idempotent && r.http.body_secret);
    ak_awsjson_req_free(&r);

    creds.session_token = (ak_cur){0}; /* long-term keys: no token header, not signed */
    EXPECT_OK(ak_awsjson_sign(&creds, &c, &r));
    EXPECT_INT_EQ(r.http.n_headers, 5);
    assert_null(s_hdr(&r, "X-Amz-Security-Token"));
    EXPECT_STR_EQ(ak_buf_cstr(&r.sig.signed_headers), "content-type;host;x-amz-date;x-amz-target");
    ak_awsjson_req_free(&r);
}

AK_TEST(test_refusals) {
    ak_sigv4_creds creds = {AK_CUR_LIT("AKIDEXAMPLE"), AK_CUR_LIT("secret"), {0}};
    ak_awsjson_req r;
    for (int i = 0; i < 4; i++) {
        ak_awsjson_call c = s_call();
        if (i == 0) c.host = (ak_cur){0};
        if (i == 1) c.region = (ak_cur){0};
        if (i == 2) c.service = (ak_cur){0};
        if (i == 3) c.target = (ak_cur){0};
        EXPECT_ERR(AK_E_INVALID_INPUT, ak_awsjson_sign(&creds, &c, &r));
        ak_awsjson_req_free(&r);
    }
}

AK_RUN_TESTS(AK_T(test_headers_and_fields), AK_T(test_refusals))
