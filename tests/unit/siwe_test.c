/*
 * siwe_test.c — EIP-4361 parser/formatter against the spruceid shared vectors
 * (../shared/vectors/siwe-eip4361), RFC 3339, EIP-55 and EIP-191 recovery.
 */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>

#include "ak/crypto.h"
#include "ak/json.h"
#include "ak/siwe.h"

static json_t *s_load(const char *rel) {
    ak_buf b;
    ak_buf_init(&b, 1u << 20);
    ak_test_read_file(ak_test_vector_path(rel), &b);
    json_t *j;
    EXPECT_OK(ak_json_parse_object(ak_buf_cur(&b), &j));
    ak_buf_free(&b);
    return j;
}

static void s_expect_field(const char *name, const json_t *fields, const char *key, bool present,
                           ak_cur got) {
    json_t *w = json_object_get(fields, key);
    if (w == NULL || json_is_null(w)) {
        if (present) fail_msg("%s: %s present but not expected", name, key);
        return;
    }
    if (!present) fail_msg("%s: %s missing", name, key);
    if (!ak_cur_eq_str(got, json_string_value(w)))
        fail_msg("%s: %s = '%.*s', want '%s'", name, key, (int)got.len, (const char *)got.ptr,
                 json_string_value(w));
}

AK_TEST(test_parsing_positive_vectors) {
    json_t *all = s_load("siwe-eip4361/parsing_positive.json");
    const char *name;
    json_t *tc;
    size_t n = 0;
    ak_buf again;
    ak_buf_init(&again, AK_SIWE_MAX_MESSAGE);
    json_object_foreach(all, name, tc) {
        const char *msg = json_string_value(json_object_get(tc, "message"));
        json_t *f = json_object_get(tc, "fields");
        ak_siwe_msg m;
        ak_err e = ak_siwe_parse(ak_cur_from_str(msg), &m);
        if (e != AK_OK) fail_msg("%s: %s", name, ak_err_reason(e));
        s_expect_field(name, f, "scheme", m.has_scheme, m.scheme);
        s_expect_field(name, f, "domain", true, m.domain);
        s_expect_field(name, f, "address", true, m.address_text);
        s_expect_field(name, f, "statement", m.has_statement, m.statement);
        s_expect_field(name, f, "uri", true, m.uri);
        s_expect_field(name, f, "version", true, m.version);
        s_expect_field(name, f, "nonce", true, m.nonce);
        s_expect_field(name, f, "issuedAt", true, m.issued_at);
        s_expect_field(name, f, "expirationTime", m.has_expiration, m.expiration_time);
        s_expect_field(name, f, "notBefore", m.has_not_before, m.not_before);
        s_expect_field(name, f, "requestId", m.has_request_id, m.request_id);
        EXPECT_INT_EQ(m.chain_id, (uint64_t)json_integer_value(json_object_get(f, "chainId")));
        json_t *res = json_object_get(f, "resources");
        EXPECT_INT_EQ(m.n_resources, res ? json_array_size(res) : 0);
        for (size_t i = 0; i < m.n_resources; i++)
            EXPECT_TRUE(ak_cur_eq_str(m.resources[i], json_string_value(json_array_get(res, i))));
        /* The formatter gives back the exact bytes. */
        ak_buf_clear(&again);
        EXPECT_OK(ak_siwe_format(&m, &again));
        EXPECT_STR_EQ(ak_buf_cstr(&again), msg);
        n++;
    }
    EXPECT_INT_EQ(n, 19);
    ak_buf_free(&again);
    json_decref(all);
}

/* Rebuild each verification_positive message from its fields and recover the signer. */
AK_TEST(test_verification_positive_recover) {
    json_t *all = s_load("siwe-eip4361/verification_positive.json");
    const char *name;
    json_t *tc;
    ak_buf text;
    ak_buf_init(&text, AK_SIWE_MAX_MESSAGE);
    size_t n = 0;
    json_object_foreach(all, name, tc) {
        ak_siwe_msg m;
        memset(&m, 0, sizeof(m));
        m.domain = ak_cur_from_str(json_string_value(json_object_get(tc, "domain")));
        m.address_text = ak_cur_from_str(json_string_value(json_object_get(tc, "address")));
        const char *st = json_string_value(json_object_get(tc, "statement"));
        m.has_statement = st != NULL;
        m.statement = ak_cur_from_str(st);
        m.uri = ak_cur_from_str(json_string_value(json_object_get(tc, "uri")));
        m.version = AK_CUR_LIT("1");
        m.chain_id = (uint64_t)json_integer_value(json_object_get(tc, "chainId"));
        m.nonce = ak_cur_from_str(json_string_value(json_object_get(tc, "nonce")));
        m.issued_at = ak_cur_from_str(json_string_value(json_object_get(tc, "issuedAt")));
        const char *exp = json_string_value(json_object_get(tc, "expirationTime"));
        m.has_expiration = exp != NULL;
        m.expiration_time = ak_cur_from_str(exp);
        const char *nbf = json_string_value(json_object_get(tc, "notBefore"));
        m.has_not_before = nbf != NULL;
        m.not_before = ak_cur_from_str(nbf);
        ak_buf_clear(&text);
        EXPECT_OK(ak_siwe_format(&m, &text));
        ak_siwe_msg p;
        EXPECT_OK(ak_siwe_parse(ak_buf_cur(&text), &p));
        uint8_t addr[20], want[20];
        EXPECT_OK(ak_siwe_recover(
            ak_buf_cur(&text), ak_cur_from_str(json_string_value(json_object_get(tc, "signature"))), addr));
        EXPECT_OK(ak_eth_address_parse(m.address_text, want));
        if (memcmp(addr, want, 20) != 0) fail_msg("%s: wrong signer", name);
        /* One changed byte: another signer (or none). */
        text.ptr[0] ^= 1;
        ak_err e = ak_siwe_recover(
            ak_buf_cur(&text), ak_cur_from_str(json_string_value(json_object_get(tc, "signature"))), addr);
        EXPECT_TRUE(e == AK_E_SIWE_SIGNATURE || memcmp(addr, want, 20) != 0);
        n++;
    }
    EXPECT_INT_EQ(n, 4);
    ak_buf_free(&text);
    json_decref(all);
}

static const char *GOOD = "broker.example.com:8443 wants you to sign in with your Ethereum account:\n"
                          "0x0000000000000000000000000000000000000001\n\n"
                          "Authenticate with AgentKeys broker.\n\n"
                          "URI: https://broker.example.com:8443\n"
                          "Version: 1\n"
                          "Chain ID: 31337\n"
                          "Nonce: 0123456789abcdef0123456789abcdef\n"
                          "Issued At: 2026-01-01T00:00:00Z\n"
                          "Expiration Time: 2026-01-01T00:45:00Z\n"
                          "Resources:\n"
                          "- urn:agentkeys:client:agentkeys";

/* The checksummed form of the same address parses; the formatter writes EIP-55 when no text is set. */
AK_TEST(test_address_eip55) {
    char buf[2048];
    const char *p = strstr(GOOD, "0x0000000000000000000000000000000000000001");
    assert_non_null(p);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - GOOD), GOOD,
             "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", p + 42);
    ak_siwe_msg m;
    EXPECT_OK(ak_siwe_parse(ak_cur_from_str(buf), &m));
    m.address_text = (ak_cur){NULL, 0};
    ak_buf out;
    ak_buf_init(&out, AK_SIWE_MAX_MESSAGE);
    EXPECT_OK(ak_siwe_format(&m, &out));
    EXPECT_STR_EQ(ak_buf_cstr(&out), buf);
    ak_buf_free(&out);
}

AK_TEST(test_our_message_shape) {
    ak_siwe_msg m;
    EXPECT_OK(ak_siwe_parse(ak_cur_from_str(GOOD), &m));
    EXPECT_TRUE(ak_cur_eq_str(m.domain, "broker.example.com:8443"));
    EXPECT_INT_EQ(m.chain_id, 31337);
    EXPECT_TRUE(m.has_expiration);
    EXPECT_INT_EQ(m.expiration_unix - m.issued_at_unix, 2700);
    EXPECT_INT_EQ(m.issued_at_unix, 1767225600);
    EXPECT_INT_EQ(m.n_resources, 1);
    EXPECT_INT_EQ(m.address[19], 1);
}

static void s_neg(const char *find, const char *repl) {
    char buf[2048];
    const char *p = strstr(GOOD, find);
    assert_non_null(p);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - GOOD), GOOD, repl, p + strlen(find));
    ak_siwe_msg m;
    ak_err e = ak_siwe_parse(ak_cur_from_str(buf), &m);
    if (e != AK_E_SIWE_MALFORMED) fail_msg("replacing '%s' by '%s' gave %s", find, repl, ak_err_reason(e));
}

AK_TEST(test_parsing_negative) {
    s_neg(" wants you", " want you");
    s_neg("broker.example.com:8443 wants", " wants");
    s_neg("broker.example.com:8443 wants", "bro ker wants");
    s_neg("broker.example.com:8443 wants", "host:80x wants");
    s_neg("0x0000000000000000000000000000000000000001", "0x000000000000000000000000000000000000001");
    s_neg("0x0000000000000000000000000000000000000001", "0x000000000000000000000000000000000000000g");
    s_neg("0x0000000000000000000000000000000000000001",
          "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756cc2"); /* bad EIP-55 */
    /* EIP-4361: the address must be in its EIP-55 form, so one case only is refused too */
    s_neg("0x0000000000000000000000000000000000000001",
          "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"); /* all lowercase */
    s_neg("0x0000000000000000000000000000000000000001",
          "0xC02AAA39B223FE8D0A0E5C4F27EAD9083C756CC2"); /* all uppercase */
    s_neg("Version: 1", "Version: 2");
    s_neg("Chain ID: 31337", "Chain ID: 0x7a69");
    s_neg("Chain ID: 31337", "Chain ID: ");
    s_neg("Chain ID: 31337", "Chain ID: 031337"); /* non-canonical digits (fuzz finding) */
    s_neg("Chain ID: 31337", "Chain ID: 00");
    s_neg("Nonce: 0123456789abcdef0123456789abcdef", "Nonce: 1234567");
    s_neg("Nonce: 0123456789abcdef0123456789abcdef", "Nonce: 12345678-");
    s_neg("Issued At: 2026-01-01T00:00:00Z", "Issued At: 2026-02-30T00:00:00Z");
    s_neg("Issued At: 2026-01-01T00:00:00Z", "Issued At: 2026-01-01 00:00:00Z");
    s_neg("Issued At: 2026-01-01T00:00:00Z", "Issued At: 2026-01-01T00:00:00");
    s_neg("Issued At: 2026-01-01T00:00:00Z", "Issued At: 2026-01-01T24:00:00Z");
    s_neg("URI: https://broker.example.com:8443", "URI: broker example");
    s_neg("URI: https://broker.example.com:8443", "URI: ://x");
    s_neg("Authenticate with AgentKeys broker.", "Authenticate\twith");
    s_neg("Expiration Time: 2026-01-01T00:45:00Z\n", "Expiration Time: 2026-01-01T00:45:00Z\n\n");
    s_neg("- urn:agentkeys:client:agentkeys", "-urn:x");
    s_neg("\nResources:", "\nExpiration Time: 2026-01-01T00:45:00Z\nResources:"); /* duplicate field */
    s_neg("Expiration Time: 2026-01-01T00:45:00Z", "Expiration Time: 2026-01-01T00:45:00Z\nNot Before: x");
    s_neg("\nResources:\n- urn:agentkeys:client:agentkeys", "\nResources:\n- urn:x\n");
    s_neg("Version: 1\nChain ID: 31337", "Chain ID: 31337\nVersion: 1"); /* order */
    s_neg("account:\n", "account:\r\n");
    ak_siwe_msg m;
    EXPECT_ERR(AK_E_SIWE_MALFORMED, ak_siwe_parse(ak_cur_from(NULL, 0), &m));
    /* too many resources */
    ak_buf big;
    ak_buf_init(&big, AK_SIWE_MAX_MESSAGE);
    EXPECT_OK(ak_buf_append_str(&big, GOOD));
    for (int i = 0; i < (int)AK_SIWE_MAX_RESOURCES; i++)
        EXPECT_OK(ak_buf_append_str(&big, "\n- urn:x"));
    EXPECT_ERR(AK_E_LIMIT, ak_siwe_parse(ak_buf_cur(&big), &m));
    ak_buf_free(&big);
}

AK_TEST(test_rfc3339) {
    int64_t t;
    EXPECT_OK(ak_rfc3339_parse(AK_CUR_LIT("1970-01-01T00:00:00Z"), &t));
    EXPECT_INT_EQ(t, 0);
    EXPECT_OK(ak_rfc3339_parse(AK_CUR_LIT("2021-09-30T16:25:24.000Z"), &t));
    EXPECT_INT_EQ(t, 1633019124);
    EXPECT_OK(ak_rfc3339_parse(AK_CUR_LIT("2021-09-30T16:25:24-02:00"), &t));
    EXPECT_INT_EQ(t, 1633019124 + 7200);
    EXPECT_OK(ak_rfc3339_parse(AK_CUR_LIT("2024-02-29T00:00:00Z"), &t));
    EXPECT_ERR(AK_E_SIWE_MALFORMED, ak_rfc3339_parse(AK_CUR_LIT("2023-02-29T00:00:00Z"), &t));
    EXPECT_ERR(AK_E_SIWE_MALFORMED, ak_rfc3339_parse(AK_CUR_LIT("2023-01-01T00:00:00.Z"), &t));
    EXPECT_ERR(AK_E_SIWE_MALFORMED, ak_rfc3339_parse(AK_CUR_LIT("2023-01-01T00:00:00+0200"), &t));
    char s[21];
    EXPECT_OK(ak_rfc3339_format(1633019124, s));
    EXPECT_STR_EQ(s, "2021-09-30T16:25:24Z");
    EXPECT_OK(ak_rfc3339_format(951782400, s)); /* 2000-02-29 */
    EXPECT_STR_EQ(s, "2000-02-29T00:00:00Z");
    for (int64_t v = 0; v < 4000000000LL; v += 86399 * 97) {
        EXPECT_OK(ak_rfc3339_format(v, s));
        EXPECT_OK(ak_rfc3339_parse(ak_cur_from_str(s), &t));
        EXPECT_INT_EQ(t, v);
    }
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_rfc3339_format(-1, s));
}

AK_TEST(test_recover_own_key_and_bad_sig_text) {
    uint8_t sk[32] = {0}, pub[65], addr[20], got[20], digest[32], sig[65];
    sk[31] = 7;
    EXPECT_OK(ak_secp256k1_pubkey(sk, pub));
    ak_eth_address_from_pub(pub, addr);
    ak_eip191_hash(GOOD, strlen(GOOD), digest);
    EXPECT_OK(ak_secp256k1_sign(sk, digest, sig));
    char hex[133] = "0x";
    ak_hex_encode(sig, 65, hex + 2);
    EXPECT_OK(ak_siwe_recover(ak_cur_from_str(GOOD), ak_cur_from_str(hex), got));
    EXPECT_BYTES_EQ(got, 20, addr, 20);
    EXPECT_ERR(AK_E_SIWE_SIGNATURE, ak_siwe_recover(ak_cur_from_str(GOOD), ak_cur_from(hex + 2, 130), got));
    EXPECT_ERR(AK_E_SIWE_SIGNATURE, ak_siwe_recover(ak_cur_from_str(GOOD), ak_cur_from(hex, 131), got));
    hex[130] = '9'; /* v = 0x?9: not a recovery id */
    hex[131] = '9';
    EXPECT_ERR(AK_E_SIWE_SIGNATURE, ak_siwe_recover(ak_cur_from_str(GOOD), ak_cur_from_str(hex), got));
}

AK_RUN_TESTS(AK_T(test_parsing_positive_vectors), AK_T(test_address_eip55),
             AK_T(test_verification_positive_recover), AK_T(test_our_message_shape),
             AK_T(test_parsing_negative), AK_T(test_rfc3339), AK_T(test_recover_own_key_and_bad_sig_text))
