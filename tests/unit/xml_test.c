/* xml_test.c — the strict XML reader on real S3/STS/RGW response shapes, and refusals. */
#include "test.h"

#include "ak/xml.h"

static const char k_list[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>bucket</Name><Prefix>bots/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>"
    "<IsTruncated>true</IsTruncated>"
    "<Contents><Key>bots/a&amp;b.txt</Key><LastModified>2026-11-23T00:00:00.000Z</LastModified>"
    "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>3</Size>"
    "<Owner><ID>tester</ID><DisplayName>T</DisplayName></Owner><StorageClass>STANDARD</StorageClass></"
    "Contents>"
    "<Contents><Key>bots/&#x4E2D;&#25991;&lt;x&gt;</Key><Size>0</Size></Contents>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "</ListBucketResult>";

AK_TEST(test_list_bucket_result) {
    ak_xml x;
    EXPECT_OK(ak_xml_parse(AK_CUR_LIT(k_list), &x));
    EXPECT_TRUE(ak_xml_root_is(&x, "ListBucketResult"));
    ak_buf b;
    ak_buf_init(&b, 4096);
    EXPECT_OK(ak_xml_text_at(&x, 0, "IsTruncated", &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "true");
    ak_buf_clear(&b);
    EXPECT_OK(ak_xml_text_at(&x, 0, "NextContinuationToken", &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    uint32_t c;
    EXPECT_TRUE(ak_xml_child(&x, 0, "Contents", &c));
    ak_buf_clear(&b);
    EXPECT_OK(ak_xml_text_at(&x, c, "Key", &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "bots/a&b.txt");
    ak_buf_clear(&b);
    EXPECT_OK(ak_xml_text_at(&x, c, "ETag", &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "\"9b2cf535f27731c974343645a3985328\"");
    ak_buf_clear(&b);
    EXPECT_OK(ak_xml_text_at(&x, c, "Owner/ID", &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "tester");
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_xml_text_at(&x, c, "Owner", &b)); /* not a leaf */
    EXPECT_TRUE(ak_xml_next_same(&x, c, &c));
    ak_buf_clear(&b);
    EXPECT_OK(ak_xml_text_at(&x, c, "Key", &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "bots/\xE4\xB8\xAD\xE6\x96\x87<x>");
    EXPECT_FALSE(ak_xml_next_same(&x, c, &c));
    EXPECT_ERR(AK_E_NOT_FOUND, ak_xml_text_at(&x, 0, "Contents/Nope", &b));
    int count = 0;
    for (bool ok = ak_xml_child(&x, 0, "Contents", &c); ok; ok = ak_xml_next_same(&x, c, &c))
        count++;
    EXPECT_INT_EQ(count, 2);
    ak_buf_free(&b);
    ak_xml_free(&x);
}

AK_TEST(test_rgw_error_empty_message_and_sts) {
    /* Ceph RGW: empty <Message></Message> (ceph-local.md gotcha 2) */
    const char *rgw =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message></Message>"
        "<BucketName>b</BucketName><RequestId>tx0</RequestId><HostId>h</HostId></Error>";
    ak_xml x;
    EXPECT_OK(ak_xml_parse(ak_cur_from_str(rgw), &x));
    ak_buf b;
    ak_buf_init(&b, 4096);
    EXPECT_OK(ak_xml_text_at(&x, 0, "Code", &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "NoSuchKey");
    ak_buf_clear(&b);
    EXPECT_OK(ak_xml_text_at(&x, 0, "Message", &b));
    EXPECT_INT_EQ(b.len, 0);
    ak_xml_free(&x);
    const char *sts =
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <AssumeRoleWithWebIdentityResult>\n"
        "    <Credentials><AccessKeyId>AKID</AccessKeyId><SecretAccessKey>s/k+</SecretAccessKey>"
        "<SessionToken><![CDATA[tok<&>]]></SessionToken><Expiration>2026-11-23T01:00:00Z</Expiration></"
        "Credentials>\n"
        "    <AssumedRoleUser><Arn>arn:aws:sts:::assumed-role/agent-s3/s1</Arn></AssumedRoleUser>\n"
        "  </AssumeRoleWithWebIdentityResult>\n"
        "  <!-- a comment --><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\n"
        "</AssumeRoleWithWebIdentityResponse>\n";
    EXPECT_OK(ak_xml_parse(ak_cur_from_str(sts), &x));
    ak_buf_clear(&b);
    EXPECT_OK(ak_xml_text_at(&x, 0, "AssumeRoleWithWebIdentityResult/Credentials/SessionToken", &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "tok<&>");
    ak_buf_clear(&b);
    EXPECT_OK(ak_xml_text_at(&x, 0, "AssumeRoleWithWebIdentityResult/AssumedRoleUser/Arn", &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "arn:aws:sts:::assumed-role/agent-s3/s1");
    ak_buf_free(&b);
    ak_xml_free(&x);
}

AK_TEST(test_prefixes_and_self_closing) {
    ak_xml x;
    EXPECT_OK(ak_xml_parse(AK_CUR_LIT("<a:R xmlns:a='u'><a:K attr=\"1 &amp; 2\"/><a:K>v</a:K ></a:R>"), &x));
    EXPECT_TRUE(ak_xml_root_is(&x, "R"));
    uint32_t k;
    EXPECT_TRUE(ak_xml_child(&x, 0, "K", &k));
    ak_buf b;
    ak_buf_init(&b, 64);
    EXPECT_OK(ak_xml_text(&x, k, &b));
    EXPECT_INT_EQ(b.len, 0);
    EXPECT_TRUE(ak_xml_next_same(&x, k, &k));
    EXPECT_OK(ak_xml_text(&x, k, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "v");
    ak_buf_free(&b);
    ak_xml_free(&x);
}

AK_TEST(test_refusals) {
    static const char *bad[] = {
        "",
        "   ",
        "text",
        "<a>",
        "<a></b>",
        "<a><b></a></b>",
        "<a/><b/>", /* two roots */
        "<a></a>trailing",
        "<!DOCTYPE a><a/>", /* no DTDs at all */
        "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
        "<a><!ENTITY x \"y\"></a>",
        "<a>&x;</a>",      /* unknown entity */
        "<a>&amp</a>",     /* unterminated */
        "<a>&#0;</a>",     /* NUL */
        "<a>&#xD800;</a>", /* surrogate */
        "<a>&#x110000;</a>",
        "<a>&#;</a>",
        "<a>&#x;</a>",
        "<a>\x01</a>", /* control char */
        "<a b=1/>",    /* unquoted attribute */
        "<a b=\"<\"/>",
        "<a b=\"x\"c=\"y\"/>", /* attributes need whitespace between */
        "<a><!-- x -- y --></a>",
        "<a><!-- unterminated </a>",
        "<a><![CDATA[ unterminated </a>",
        "<1a/>",
        "< a/>",
        "<a></ a>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_xml x;
        ak_err e = ak_xml_parse(ak_cur_from_str(bad[i]), &x);
        if (e == AK_OK) fail_msg("accepted: %s", bad[i]);
        EXPECT_TRUE(x.nodes == NULL);
    }
    /* NUL byte inside text */
    ak_xml x;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_xml_parse(ak_cur_from("<a>\0</a>", 8), &x));
}

AK_TEST(test_depth_and_node_limits) {
    ak_buf d;
    ak_buf_init(&d, 1u << 20);
    for (unsigned i = 0; i < AK_XML_MAX_DEPTH + 1; i++)
        EXPECT_OK(ak_buf_append_str(&d, "<a>"));
    for (unsigned i = 0; i < AK_XML_MAX_DEPTH + 1; i++)
        EXPECT_OK(ak_buf_append_str(&d, "</a>"));
    ak_xml x;
    EXPECT_ERR(AK_E_LIMIT, ak_xml_parse(ak_buf_cur(&d), &x));
    ak_buf_clear(&d);
    for (unsigned i = 0; i < AK_XML_MAX_DEPTH; i++)
        EXPECT_OK(ak_buf_append_str(&d, "<a>"));
    for (unsigned i = 0; i < AK_XML_MAX_DEPTH; i++)
        EXPECT_OK(ak_buf_append_str(&d, "</a>"));
    EXPECT_OK(ak_xml_parse(ak_buf_cur(&d), &x));
    ak_xml_free(&x);
    ak_buf_free(&d);
    ak_buf big;
    ak_buf_init(&big, 4u << 20);
    EXPECT_OK(ak_buf_append_str(&big, "<r>"));
    for (unsigned i = 0; i < AK_XML_MAX_NODES; i++)
        EXPECT_OK(ak_buf_append_str(&big, "<b/>"));
    EXPECT_OK(ak_buf_append_str(&big, "</r>"));
    EXPECT_ERR(AK_E_LIMIT, ak_xml_parse(ak_buf_cur(&big), &x));
    ak_buf_free(&big);
}

AK_TEST(test_oom) {
    for (uint64_t n = 1; n < 8; n++) {
        ak_xml x;
        ak_alloc_fail_nth(n);
        ak_err e = ak_xml_parse(AK_CUR_LIT(k_list), &x);
        ak_alloc_fail_nth(0);
        EXPECT_TRUE(e == AK_OK || e == AK_E_NOMEM);
        ak_xml_free(&x);
    }
}

AK_RUN_TESTS(AK_T(test_list_bucket_result), AK_T(test_rgw_error_empty_message_and_sts),
             AK_T(test_prefixes_and_self_closing), AK_T(test_refusals), AK_T(test_depth_and_node_limits),
             AK_T(test_oom))
