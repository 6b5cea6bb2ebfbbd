/*
 * ses_router_test.c — the pure parts of SesRouterFunction: recipient rules, message ids,
 * timestamps, keys, alias bodies, metadata sanitising, and whole-event validation (the public
 * aws-lambda-go SES vector plus malformed variants). The S3 side is covered by
 * tests/function/ses_router_test.sh against a real local S3.
 *
 * The handler source is compiled in directly (as tests/unit/health_test.c does).
 */
#include "../../functions/ses-router/router.c"

#include "test.h"

#include "ak/json.h"

#define A64 "3f1c9a7e52b04d8e9a61c07f2e5d3b8a4c6e0f1a2b3c4d5e6f708192a3b4c5d6"

static ak_err s_rcpt(const char *s, ses_recipient *r) { return ses_parse_recipient(ak_cur_from_str(s), r); }

AK_TEST(recipient_valid_and_folded) {
    ses_recipient r;
    EXPECT_OK(s_rcpt("lambda@amazon.com", &r));
    EXPECT_STR_EQ(r.addr, "lambda@amazon.com");
    EXPECT_STR_EQ(r.local, "lambda");
    EXPECT_STR_EQ(r.domain, "amazon.com");
    EXPECT_OK(s_rcpt("Agent-B+News_1.x%y@Mail.Example.COM", &r));
    EXPECT_STR_EQ(r.addr, "agent-b+news_1.x%y@mail.example.com"); /* no sub-address stripping */
    EXPECT_OK(s_rcpt("3F1C9A7E52B04D8E9A61C07F2E5D3B8A4C6E0F1A2B3C4D5E6F708192A3B4C5D6@x.io", &r));
    EXPECT_STR_EQ(r.local, A64);
    EXPECT_OK(s_rcpt("a@b.c", &r));
    /* exactly at the limits: 64-byte local part, 63-byte label */
    char buf[400];
    memset(buf, 'l', 64);
    snprintf(buf + 64, sizeof(buf) - 64, "@%.63s.com",
             "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
    EXPECT_OK(s_rcpt(buf, &r));
}

AK_TEST(recipient_rejects_odd) {
    static const char *const bad[] = {
        "",
        "a",
        "@x.com",
        "a@",
        "a@b",
        "a@@b.com",
        "a@b@c.com",
        "a/b@x.com",
        "../x@x.com",
        "a..b@x.com",
        ".a@x.com",
        "a.@x.com",
        "a b@x.com",
        "a\r\nb@x.com",
        "a\n@x.com",
        "\"a\"@x.com",
        "a@[127.0.0.1]",
        "a@x..com",
        "a@.x.com",
        "a@x.com.",
        "a@-x.com",
        "a@x-.com",
        "a@x_y.com",
        "a@x/y.com",
        "caf\xc3\xa9@x.com",
        "a@x.c\xc3\xb6m",
        "a(b)@x.com",
        "a;b@x.com",
        "a,b@x.com",
        "a*@x.com",
        "a\\b@x.com",
        "a'b@x.com",
    };
    ses_recipient r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ses_parse_recipient(ak_cur_from_str(bad[i]), &r) != AK_E_INVALID_EVENT)
            fail_msg("accepted recipient #%zu", i);
    }
    /* NUL inside (not visible to a C string) */
    EXPECT_ERR(AK_E_INVALID_EVENT, ses_parse_recipient(ak_cur_from("a\0b@x.com", 9), &r));
    /* 65-byte local part, 64-byte label, 255-byte address */
    char buf[400];
    memset(buf, 'l', 65);
    memcpy(buf + 65, "@x.com", 7);
    EXPECT_ERR(AK_E_INVALID_EVENT, s_rcpt(buf, &r));
    memcpy(buf, "a@", 2);
    memset(buf + 2, 'd', 64);
    memcpy(buf + 66, ".com", 5);
    EXPECT_ERR(AK_E_INVALID_EVENT, s_rcpt(buf, &r));
    memcpy(buf, "a@", 2);
    for (size_t i = 0; i < 63; i++)
        memcpy(buf + 2 + 4 * i, "abc.", 4);
    memcpy(buf + 2 + 252, "co", 3); /* 256 bytes in all */
    EXPECT_ERR(AK_E_INVALID_EVENT, s_rcpt(buf, &r));
}

AK_TEST(message_id_rules) {
    EXPECT_TRUE(ses_valid_message_id(AK_CUR_LIT("6n4thuhcbhpfiuf25gshf70rss364fuejrvmqko1")));
    EXPECT_TRUE(ses_valid_message_id(AK_CUR_LIT("0100018f-0b1c-4d2e.abc_9")));
    EXPECT_FALSE(ses_valid_message_id(AK_CUR_LIT("")));
    EXPECT_FALSE(ses_valid_message_id(AK_CUR_LIT("../x")));
    EXPECT_FALSE(ses_valid_message_id(AK_CUR_LIT("a/b")));
    EXPECT_FALSE(ses_valid_message_id(AK_CUR_LIT(".hidden")));
    EXPECT_FALSE(ses_valid_message_id(AK_CUR_LIT("a..b")));
    EXPECT_FALSE(ses_valid_message_id(AK_CUR_LIT("a b")));
    EXPECT_FALSE(ses_valid_message_id(ak_cur_from("a\0b", 3)));
    char big[SES_MAX_MESSAGE_ID + 1];
    memset(big, 'a', sizeof(big));
    EXPECT_TRUE(ses_valid_message_id(ak_cur_from(big, SES_MAX_MESSAGE_ID)));
    EXPECT_FALSE(ses_valid_message_id(ak_cur_from(big, SES_MAX_MESSAGE_ID + 1)));
}

AK_TEST(timestamp_rules) {
    char ts[SES_TS_LEN + 1];
    EXPECT_OK(ses_parse_timestamp(AK_CUR_LIT("1970-01-01T00:00:00.123Z"), ts));
    EXPECT_STR_EQ(ts, "19700101T000000.123Z");
    EXPECT_OK(ses_parse_timestamp(AK_CUR_LIT("2026-11-23T10:16:01.5Z"), ts));
    EXPECT_STR_EQ(ts, "20261123T101601.500Z");
    EXPECT_OK(ses_parse_timestamp(AK_CUR_LIT("2026-11-23T10:16:01Z"), ts));
    EXPECT_STR_EQ(ts, "20261123T101601.000Z");
    EXPECT_OK(ses_parse_timestamp(AK_CUR_LIT("2026-11-23T10:16:01.123456789Z"), ts));
    EXPECT_STR_EQ(ts, "20261123T101601.123Z");
    static const char *const bad[] = {"",
                                      "2026-11-23",
                                      "2026-11-23T10:16:01",
                                      "2026-11-23 10:16:01Z",
                                      "2026-13-23T10:16:01Z",
                                      "2026-11-00T10:16:01Z",
                                      "2026-11-23T24:16:01Z",
                                      "2026-11-23T10:60:01Z",
                                      "2026-11-23T10:16:61Z",
                                      "2026-11-23T10:16:01.Z",
                                      "2026-11-23T10:16:01.1234567890Z",
                                      "2026-11-23T10:16:01+00:00",
                                      "2026-11-23T10:16:01ZZ",
                                      "+026-11-23T10:16:01Z",
                                      "2026-11-23T10:16:01z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ses_parse_timestamp(ak_cur_from_str(bad[i]), ts) != AK_E_INVALID_EVENT)
            fail_msg("accepted ts #%zu", i);
}

AK_TEST(verdict_and_prefix_rules) {
    EXPECT_TRUE(ses_valid_verdict(AK_CUR_LIT("PASS")));
    EXPECT_TRUE(ses_valid_verdict(AK_CUR_LIT("PROCESSING_FAILED")));
    EXPECT_FALSE(ses_valid_verdict(AK_CUR_LIT("pass")));
    EXPECT_FALSE(ses_valid_verdict(AK_CUR_LIT("")));
    EXPECT_FALSE(ses_valid_verdict(AK_CUR_LIT("FAIL\r\n")));
    EXPECT_TRUE(ses_valid_staging_prefix(AK_CUR_LIT("inbound/")));
    EXPECT_TRUE(ses_valid_staging_prefix(AK_CUR_LIT("ses/staging/")));
    static const char *const bad[] = {"",         "inbound",   "/inbound/", "in//bound/",
                                      "../x/",    "a/../",     "bots/",     "bots/x/",
                                      "aliases/", "unrouted/", "in bound/", "inbound/\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ses_valid_staging_prefix(ak_cur_from_str(bad[i]))) fail_msg("accepted prefix #%zu", i);
}

AK_TEST(keys) {
    ses_message m;
    memset(&m, 0, sizeof(m));
    memcpy(m.message_id, "abc123", 7);
    memcpy(m.ts, "19700101T000000.123Z", SES_TS_LEN + 1);
    ak_buf b;
    ak_buf_init(&b, AK_S3_MAX_KEY);
    EXPECT_OK(ses_dest_key(SES_DEST_INBOX, A64, &m, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "bots/" A64 "/inbound/19700101T000000.123Z-abc123.eml");
    ak_buf_clear(&b);
    EXPECT_OK(ses_dest_key(SES_DEST_QUARANTINE, A64, &m, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "bots/" A64 "/quarantine/19700101T000000.123Z-abc123.eml");
    ak_buf_clear(&b);
    EXPECT_OK(ses_dest_key(SES_DEST_UNROUTED, NULL, &m, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "unrouted/abc123");
    ak_buf_clear(&b);
    EXPECT_ERR(AK_E_INVALID_OMNI, ses_dest_key(SES_DEST_INBOX, "ABC", &m, &b));
    EXPECT_ERR(AK_E_INVALID_OMNI,
               ses_dest_key(SES_DEST_INBOX,
                            "3F1C9A7E52B04D8E9A61C07F2E5D3B8A4C6E0F1A2B3C4D5E6F708192A3B4C5D6", &m, &b));
    ses_recipient r;
    EXPECT_OK(s_rcpt("Agent-B@Mail.Example.com", &r));
    ak_buf_clear(&b);
    EXPECT_OK(ses_alias_key(&r, &b));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "aliases/agent-b@mail.example.com");
    ak_buf_free(&b);
}

AK_TEST(alias_body) {
    char a[65];
    EXPECT_OK(ses_parse_alias_body(AK_CUR_LIT(A64), a));
    EXPECT_STR_EQ(a, A64);
    EXPECT_OK(ses_parse_alias_body(AK_CUR_LIT("  " A64 "\n"), a));
    EXPECT_STR_EQ(a, A64);
    EXPECT_ERR(AK_E_INVALID_OMNI, ses_parse_alias_body(AK_CUR_LIT("0x" A64), a));
    EXPECT_ERR(AK_E_INVALID_OMNI, ses_parse_alias_body(AK_CUR_LIT(""), a));
    EXPECT_ERR(AK_E_INVALID_OMNI, ses_parse_alias_body(AK_CUR_LIT(A64 "00"), a));
    EXPECT_ERR(AK_E_INVALID_OMNI,
               ses_parse_alias_body(
                   AK_CUR_LIT("3F1C9A7E52B04D8E9A61C07F2E5D3B8A4C6E0F1A2B3C4D5E6F708192A3B4C5D6"), a));
}

AK_TEST(meta_value_sanitising) {
    ak_buf b;
    bool t;
    ak_buf_init(&b, 4096);
    EXPECT_OK(ses_meta_value(AK_CUR_LIT("Invoice #42 \xe2\x80\x94 caf\xc3\xa9"), 512, &b, &t));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "Invoice #42 %E2%80%94 caf%C3%A9");
    EXPECT_FALSE(t);
    ak_buf_clear(&b);
    EXPECT_OK(ses_meta_value(AK_CUR_LIT("a\r\nX-Evil: 1\t100%"), 512, &b, &t));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "a%0D%0AX-Evil: 1%09100%25");
    ak_buf_clear(&b);
    EXPECT_OK(ses_meta_value(ak_cur_from("\0\x7f", 2), 512, &b, &t));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "%00%7F");
    /* truncation never cuts an escape, and says so */
    ak_buf_clear(&b);
    EXPECT_OK(ses_meta_value(AK_CUR_LIT("abc\xc3\xa9"), 5, &b, &t));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "abc");
    EXPECT_TRUE(t);
    ak_buf_clear(&b);
    EXPECT_OK(ses_meta_value(AK_CUR_LIT("abcdef"), 6, &b, &t));
    EXPECT_FALSE(t);
    /* output is printable ASCII for every byte value */
    uint8_t all[256];
    for (size_t i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    ak_buf_clear(&b);
    EXPECT_OK(ses_meta_value(ak_cur_from(all, 256), 4096, &b, &t));
    for (size_t i = 0; i < b.len; i++)
        EXPECT_TRUE(b.ptr[i] >= 0x20 && b.ptr[i] <= 0x7e);
    ak_buf_free(&b);
}

/* ---- whole events */

static void s_vector(ak_buf *b) {
    ak_buf_init(b, 1u << 20);
    ak_test_read_file(ak_test_vector_path("aws-lambda-go-events/ses-lambda-event.json"), b);
}

AK_TEST(event_vector_parses) {
    ak_buf b;
    s_vector(&b);
    ses_event ev;
    EXPECT_OK(ses_event_parse(ak_buf_cur(&b), &ev));
    EXPECT_INT_EQ(ev.n_msg, 1);
    const ses_message *m = &ev.msg[0];
    EXPECT_STR_EQ(m->message_id, "6n4thuhcbhpfiuf25gshf70rss364fuejrvmqko1");
    EXPECT_STR_EQ(m->ts, "19700101T000000.123Z");
    EXPECT_INT_EQ(m->n_rcpt, 1);
    EXPECT_STR_EQ(m->rcpt[0].addr, "lambda@amazon.com");
    EXPECT_STR_EQ(m->v.spam, "PASS");
    EXPECT_STR_EQ(m->v.dmarc, "PASS");
    EXPECT_FALSE(m->quarantine);
    EXPECT_TRUE(ak_cur_eq_str(m->subject, "Test Subject"));
    EXPECT_TRUE(m->from != NULL && json_array_size(m->from) == 1);
    ses_event_free(&ev);
    ak_buf_free(&b);
}

/* Applies `mutate` to the vector (jansson), re-serialises, and returns the parse result. */
static ak_err s_parse_mutated(void (*mutate)(json_t *root, json_t *mail, json_t *receipt), bool *quarantine) {
    ak_buf b, out;
    s_vector(&b);
    ak_buf_init(&out, 1u << 20);
    json_t *root = NULL;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&b), &root));
    json_t *ses = json_object_get(json_array_get(json_object_get(root, "Records"), 0), "ses");
    mutate(root, json_object_get(ses, "mail"), json_object_get(ses, "receipt"));
    EXPECT_OK(ak_json_dump(root, &out));
    json_decref(root);
    ses_event ev;
    ak_err rc = ses_event_parse(ak_buf_cur(&out), &ev);
    if (rc == AK_OK) {
        if (quarantine) *quarantine = ev.msg[0].quarantine;
        ses_event_free(&ev);
    }
    ak_buf_free(&b);
    ak_buf_free(&out);
    return rc;
}

static void m_no_msgid(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)c;
    json_object_del(m, "messageId");
}
static void m_msgid_int(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)c;
    json_object_set_new(m, "messageId", json_integer(5));
}
static void m_no_rcpts(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_del(c, "recipients");
}
static void m_rcpts_str(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_set_new(c, "recipients", json_string("a@b.com"));
}
static void m_rcpts_empty(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_set_new(c, "recipients", json_array());
}
static void s_rcpts_n(json_t *c, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char s[64];
        snprintf(s, sizeof(s), "user%zu@mail.example.com", i);
        json_array_append_new(a, json_string(s));
    }
    json_object_set_new(c, "recipients", a);
}
static void m_rcpts_50(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    s_rcpts_n(c, 50);
}
static void m_rcpts_51(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    s_rcpts_n(c, 51);
}
static void m_rcpts_100(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    s_rcpts_n(c, 100);
}
static void m_rcpt_odd(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_array_append_new(json_object_get(c, "recipients"), json_string("x/../y@mail.example.com"));
}
static void m_no_ts(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_del(c, "timestamp");
}
static void m_verdict_str(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_set_new(c, "virusVerdict", json_string("FAIL"));
}
static void m_verdict_lower(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_set_new(c, "dkimVerdict", json_pack("{s:s}", "status", "pass"));
}
static void m_no_verdicts(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_del(c, "spamVerdict");
    json_object_del(c, "virusVerdict");
}
static void m_spam_fail(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_set_new(c, "spamVerdict", json_pack("{s:s}", "status", "FAIL"));
}
static void m_virus_fail(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_set_new(c, "virusVerdict", json_pack("{s:s}", "status", "FAIL"));
}
static void m_spam_gray(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_set_new(c, "spamVerdict", json_pack("{s:s}", "status", "GRAY"));
}
static void m_from_str(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)c;
    json_object_set_new(json_object_get(m, "commonHeaders"), "from", json_string("x@y.com"));
}
static void m_source(json_t *r, json_t *m, json_t *c) {
    (void)m;
    (void)c;
    json_object_set_new(json_array_get(json_object_get(r, "Records"), 0), "eventSource",
                        json_string("aws:s3"));
}
static void m_records_obj(json_t *r, json_t *m, json_t *c) {
    (void)m;
    (void)c;
    json_object_set_new(r, "Records", json_object());
}
static void m_records_empty(json_t *r, json_t *m, json_t *c) {
    (void)m;
    (void)c;
    json_object_set_new(r, "Records", json_array());
}
static void m_records_11(json_t *r, json_t *m, json_t *c) {
    (void)m;
    (void)c;
    json_t *recs = json_object_get(r, "Records");
    json_t *one = json_array_get(recs, 0);
    for (int i = 0; i < 10; i++)
        json_array_append_new(recs, json_deep_copy(one));
}
static void m_second_bad(json_t *r, json_t *m, json_t *c) {
    (void)m;
    (void)c;
    json_t *recs = json_object_get(r, "Records");
    json_t *two = json_deep_copy(json_array_get(recs, 0));
    json_object_set_new(json_object_get(json_object_get(two, "ses"), "receipt"), "recipients",
                        json_pack("[s]", "a\r\nb@x.com"));
    json_array_append_new(recs, two);
}
/* receipt.action: the Lambda action only (issue 16) */
static void m_action_s3(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_set_new(json_object_get(c, "action"), "type", json_string("S3"));
}
static void m_action_missing(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_del(c, "action");
}
static void m_action_type_missing(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_del(json_object_get(c, "action"), "type");
}
static void m_action_lowercase(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_set_new(json_object_get(c, "action"), "type", json_string("lambda"));
}
static void m_action_string(json_t *r, json_t *m, json_t *c) {
    (void)r;
    (void)m;
    json_object_set_new(c, "action", json_string("Lambda"));
}
static void m_receipt_arr(json_t *r, json_t *m, json_t *c) {
    (void)m;
    (void)c;
    json_object_set_new(json_object_get(json_array_get(json_object_get(r, "Records"), 0), "ses"), "receipt",
                        json_array());
}

AK_TEST(event_malformed_rejected) {
    ak_log_set_min_level(AK_LOG_ERROR); /* each rejection logs its "why" at warn */
    void (*const bad[])(json_t *, json_t *, json_t *) = {
        m_no_msgid,         m_msgid_int,      m_no_rcpts,
        m_rcpts_str,        m_rcpts_empty,    m_rcpts_51,
        m_rcpts_100,        m_rcpt_odd,       m_no_ts,
        m_verdict_str,      m_verdict_lower,  m_from_str,
        m_source,           m_records_obj,    m_records_empty,
        m_records_11,       m_second_bad,     m_receipt_arr,
        m_action_s3,        m_action_missing, m_action_type_missing,
        m_action_lowercase, m_action_string,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ak_err rc = s_parse_mutated(bad[i], NULL);
        if (rc != AK_E_INVALID_EVENT) fail_msg("mutation #%zu -> %s", i, ak_err_reason(rc));
    }
    ses_event ev;
    EXPECT_ERR(AK_E_INVALID_EVENT, ses_event_parse(AK_CUR_LIT("{\"Records\":["), &ev));
    EXPECT_ERR(AK_E_INVALID_EVENT, ses_event_parse(AK_CUR_LIT("[]"), &ev));
    EXPECT_ERR(AK_E_INVALID_EVENT, ses_event_parse(AK_CUR_LIT("{\"Records\":[],\"Records\":[]}"), &ev));
    ak_log_set_min_level(AK_LOG_INFO);
}

AK_TEST(event_accepted_variants) {
    bool q = true;
    EXPECT_OK(s_parse_mutated(m_rcpts_50, &q));
    EXPECT_FALSE(q);
    EXPECT_OK(s_parse_mutated(m_no_verdicts, &q));
    EXPECT_FALSE(q);
    EXPECT_OK(s_parse_mutated(m_spam_gray, &q));
    EXPECT_FALSE(q);
    EXPECT_OK(s_parse_mutated(m_spam_fail, &q));
    EXPECT_TRUE(q);
    q = false;
    EXPECT_OK(s_parse_mutated(m_virus_fail, &q));
    EXPECT_TRUE(q);
}

/* Every allocation failure during parsing is a clean AK_E_NOMEM or INVALID_EVENT, never a leak. */
AK_TEST(event_parse_oom_sweep) {
    ak_buf b;
    s_vector(&b);
    bool done = false;
    ak_log_set_min_level(AK_LOG_ERROR);
    for (uint64_t n = 1; n < 400 && !done; n++) {
        ses_event ev;
        ak_alloc_fail_nth(n);
        ak_err rc = ses_event_parse(ak_buf_cur(&b), &ev);
        ak_alloc_fail_nth(0);
        if (rc == AK_OK) {
            ses_event_free(&ev);
            done = true;
            continue;
        }
        if (rc != AK_E_NOMEM && rc != AK_E_INVALID_EVENT)
            fail_msg("fail_nth %llu -> %s", (unsigned long long)n, ak_err_reason(rc));
    }
    ak_log_set_min_level(AK_LOG_INFO);
    EXPECT_TRUE(done); /* the sweep reached the allocation count of a full parse */
    ak_buf_free(&b);
}

AK_RUN_TESTS(AK_T(recipient_valid_and_folded), AK_T(recipient_rejects_odd), AK_T(message_id_rules),
             AK_T(timestamp_rules), AK_T(verdict_and_prefix_rules), AK_T(keys), AK_T(alias_body),
             AK_T(meta_value_sanitising), AK_T(event_vector_parses), AK_T(event_malformed_rejected),
             AK_T(event_accepted_variants), AK_T(event_parse_oom_sweep))
