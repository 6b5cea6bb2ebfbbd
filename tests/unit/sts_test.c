/* sts_test.c — AssumeRoleWithWebIdentity: response parsing (AWS's documented shape), error mapping
 * (AWS and RGW shapes), parameter validation before any request. The live round trip against
 * Ceph RGW is in tests/e2e/s3_integration_test.sh. */
#include "test.h"

#include "ak/sts.h"

static const char k_ok[] =
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleWithWebIdentityResult>\n"
    "    "
    "<SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>\n"
    "    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>\n"
    "    <AssumedRoleUser>\n"
    "      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>\n"
    "      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>\n"
    "    </AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
    "      <Expiration>2014-10-24T23:00:23Z</Expiration>\n"
    "      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
    "    </Credentials>\n"
    "    <Provider>www.amazon.com</Provider>\n"
    "  </AssumeRoleWithWebIdentityResult>\n"
    "  <ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>\n"
    "</AssumeRoleWithWebIdentityResponse>\n";

AK_TEST(test_parse_documented_response) {
    ak_sts_creds c;
    ak_sts_creds_init(&c);
    EXPECT_OK(ak_sts_parse_response(AK_CUR_LIT(k_ok), &c));
    EXPECT_STR_EQ(ak_buf_cstr(&c.access_key_id), "ASgeIAIOSFODNN7EXAMPLE");
    EXPECT_STR_EQ(ak_buf_cstr(&c.secret_access_key), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    EXPECT_STR_EQ(ak_buf_cstr(&c.session_token), "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE");
    EXPECT_STR_EQ(ak_buf_cstr(&c.expiration), "2014-10-24T23:00:23Z");
    EXPECT_STR_EQ(ak_buf_cstr(&c.assumed_role_arn),
                  "arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1");
    EXPECT_TRUE(c.secret_access_key.secret && c.session_token.secret);
    ak_sigv4_creds v = ak_sts_creds_view(&c);
    EXPECT_TRUE(ak_cur_eq_str(v.access_key_id, "ASgeIAIOSFODNN7EXAMPLE"));
    ak_sts_creds_free(&c);
}

AK_TEST(test_parse_rejects_partial_or_wrong) {
    static const char *bad[] = {
        "",
        "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>",
        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>A</"
        "AccessKeyId>"
        "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>A</"
        "AccessKeyId>"
        "<SecretAccessKey>S</SecretAccessKey><SessionToken></SessionToken><Expiration>E</Expiration></"
        "Credentials>"
        "<AssumedRoleUser><Arn>x</Arn></AssumedRoleUser></AssumeRoleWithWebIdentityResult></"
        "AssumeRoleWithWebIdentityResponse>",
        "<AssumeRoleWithWebIdentityResponse><!DOCTYPE x></AssumeRoleWithWebIdentityResponse>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_sts_creds c;
        ak_sts_creds_init(&c);
        EXPECT_ERR(AK_E_STS_ERROR, ak_sts_parse_response(ak_cur_from_str(bad[i]), &c));
        EXPECT_INT_EQ(c.secret_access_key.len, 0);
        ak_sts_creds_free(&c);
    }
}

AK_TEST(test_error_mapping) {
    static const struct {
        long status;
        const char *body;
        ak_err want;
    } cases[] = {
        {400,
         "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>m</Message></"
         "Error></ErrorResponse>",
         AK_E_ACCESS_DENIED},
        {400, "<ErrorResponse><Error><Code>ExpiredTokenException</Code></Error></ErrorResponse>",
         AK_E_ACCESS_DENIED},
        {403, "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>", AK_E_ACCESS_DENIED},
        {403, "<Error><Code>AccessDenied</Code><Message></Message></Error>", AK_E_ACCESS_DENIED}, /* RGW */
        {403, NULL, AK_E_ACCESS_DENIED},
        {400, "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>", AK_E_STS_ERROR},
        {400, "<ErrorResponse><Error><Code>MalformedPolicyDocument</Code></Error></ErrorResponse>",
         AK_E_STS_ERROR},
        {503, NULL, AK_E_STS_ERROR},
        {500, "garbage", AK_E_STS_ERROR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ak_http_response r;
        ak_http_response_init(&r);
        r.status = cases[i].status;
        if (cases[i].body) EXPECT_OK(ak_buf_append_str(&r.body, cases[i].body));
        ak_err e = ak_sts_error_from_response(&r, NULL);
        if (e != cases[i].want) fail_msg("case %zu: %s", i, ak_err_reason(e));
        ak_http_response_free(&r);
    }
}

AK_TEST(test_validation_before_request) {
    ak_http *h = NULL;
    ak_http_config hc = {0};
    EXPECT_OK(ak_http_new(&hc, &h));
    ak_sts sts;
    ak_sts_config cfg = {.endpoint = "http://127.0.0.1:9", .region = "us-east-1"};
    EXPECT_OK(ak_sts_init(&sts, h, &cfg));
    EXPECT_STR_EQ(sts.url, "http://127.0.0.1:9/");
    ak_sts_creds c;
    ak_sts_creds_init(&c);
    ak_sts_web_identity ok = {.role_arn = AK_CUR_LIT("arn:aws:iam:::role/agent-s3"),
                              .role_session_name = AK_CUR_LIT("s1"),
                              .web_identity_token = AK_CUR_LIT("a.b.c")};
    ak_sts_web_identity r = ok;
    r.role_session_name = AK_CUR_LIT("has space");
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sts_assume_role_with_web_identity(&sts, &r, &c));
    r = ok;
    r.role_arn = AK_CUR_LIT("role/agent");
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sts_assume_role_with_web_identity(&sts, &r, &c));
    r = ok;
    r.duration_seconds = 899;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sts_assume_role_with_web_identity(&sts, &r, &c));
    r.duration_seconds = 43201;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sts_assume_role_with_web_identity(&sts, &r, &c));
    r = ok;
    r.web_identity_token = (ak_cur){0};
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_sts_assume_role_with_web_identity(&sts, &r, &c));
    /* nothing listens on port 9: a transport error, not a crash */
    r = ok;
    r.deadline_ms = ak_http_now_ms() + 2000;
    ak_err e = ak_sts_assume_role_with_web_identity(&sts, &r, &c);
    EXPECT_TRUE(e == AK_E_UPSTREAM || e == AK_E_UPSTREAM_TIMEOUT);
    ak_sts_config bad = {.endpoint = "ftp://x", .region = "us-east-1"};
    EXPECT_ERR(AK_E_CONFIG, ak_sts_init(&sts, h, &bad));
    ak_sts_config aws = {.region = "eu-west-1"};
    EXPECT_OK(ak_sts_init(&sts, h, &aws));
    EXPECT_STR_EQ(sts.url, "https://sts.eu-west-1.amazonaws.com/");
    ak_sts_creds_free(&c);
    ak_http_free(h);
}

AK_RUN_TESTS(AK_T(test_parse_documented_response), AK_T(test_parse_rejects_partial_or_wrong),
             AK_T(test_error_mapping), AK_T(test_validation_before_request))
