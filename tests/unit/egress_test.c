/* egress_test.c — D19 destination classes (IPv4, IPv6, embedded IPv4) and the check on the
 * address actually connected to (CURLOPT_OPENSOCKETFUNCTION through ak_http). */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "ak/egress.h"

static ak_addr_class s_c(const char *text) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, text, &a->sin6_addr) != 1) fail_msg("bad v6 %s", text);
        return ak_addr_class_of((const struct sockaddr *)a, sizeof(*a));
    }
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    if (inet_pton(AF_INET, text, &a->sin_addr) != 1) fail_msg("bad v4 %s", text);
    return ak_addr_class_of((const struct sockaddr *)a, sizeof(*a));
}

static const struct {
    const char *addr;
    ak_addr_class want;
} s_table[] = {
    {"8.8.8.8", AK_ADDR_PUBLIC},
    {"1.1.1.1", AK_ADDR_PUBLIC},
    {"100.63.255.255", AK_ADDR_PUBLIC},
    {"100.128.0.0", AK_ADDR_PUBLIC},
    {"172.15.255.255", AK_ADDR_PUBLIC},
    {"172.32.0.0", AK_ADDR_PUBLIC},
    {"169.253.255.255", AK_ADDR_PUBLIC},
    {"223.255.255.255", AK_ADDR_PUBLIC},
    {"127.0.0.1", AK_ADDR_LOOPBACK},
    {"127.255.255.254", AK_ADDR_LOOPBACK},
    {"10.0.0.1", AK_ADDR_PRIVATE},
    {"172.16.0.1", AK_ADDR_PRIVATE},
    {"172.31.255.255", AK_ADDR_PRIVATE},
    {"192.168.1.1", AK_ADDR_PRIVATE},
    {"100.64.0.1", AK_ADDR_PRIVATE},
    {"100.127.255.255", AK_ADDR_PRIVATE},
    {"169.254.0.1", AK_ADDR_LINK_LOCAL},
    {"169.254.169.254", AK_ADDR_METADATA},
    {"169.254.170.2", AK_ADDR_METADATA},
    {"100.100.100.200", AK_ADDR_METADATA},
    {"0.0.0.0", AK_ADDR_RESERVED},
    {"0.1.2.3", AK_ADDR_RESERVED},
    {"192.0.0.1", AK_ADDR_RESERVED},
    {"192.0.2.1", AK_ADDR_RESERVED},
    {"198.18.0.1", AK_ADDR_RESERVED},
    {"198.51.100.1", AK_ADDR_RESERVED},
    {"203.0.113.1", AK_ADDR_RESERVED},
    {"224.0.0.1", AK_ADDR_RESERVED},
    {"239.255.255.250", AK_ADDR_RESERVED},
    {"240.0.0.1", AK_ADDR_RESERVED},
    {"255.255.255.255", AK_ADDR_RESERVED},
    /* IPv6 */
    {"2606:4700:4700::1111", AK_ADDR_PUBLIC},
    {"2a00:1450:4001::200e", AK_ADDR_PUBLIC},
    {"::1", AK_ADDR_LOOPBACK},
    {"::", AK_ADDR_RESERVED},
    {"fc00::1", AK_ADDR_PRIVATE},
    {"fdff:ffff::1", AK_ADDR_PRIVATE},
    {"fd00:ec2::254", AK_ADDR_METADATA},
    {"fe80::1", AK_ADDR_LINK_LOCAL},
    {"febf::1", AK_ADDR_LINK_LOCAL},
    {"fec0::1", AK_ADDR_RESERVED},
    {"ff02::1", AK_ADDR_RESERVED},
    {"2001:db8::1", AK_ADDR_RESERVED},
    {"2001::1", AK_ADDR_RESERVED},
    {"100::1", AK_ADDR_RESERVED},
    {"4000::1", AK_ADDR_RESERVED},
    {"64:ff9b:1::1", AK_ADDR_PRIVATE},
    /* embedded IPv4 */
    {"::ffff:127.0.0.1", AK_ADDR_LOOPBACK},
    {"::ffff:10.1.2.3", AK_ADDR_PRIVATE},
    {"::ffff:169.254.169.254", AK_ADDR_METADATA},
    {"::ffff:8.8.8.8", AK_ADDR_PUBLIC},
    {"::127.0.0.1", AK_ADDR_LOOPBACK},
    {"::10.0.0.1", AK_ADDR_PRIVATE},
    {"64:ff9b::a9fe:a9fe", AK_ADDR_METADATA},
    {"64:ff9b::808:808", AK_ADDR_PUBLIC},
    {"2002:7f00:1::1", AK_ADDR_LOOPBACK},
    {"2002:c0a8:101::1", AK_ADDR_PRIVATE},
    {"2002:808:808::1", AK_ADDR_PUBLIC},
};

AK_TEST(test_address_classes) {
    for (size_t i = 0; i < sizeof(s_table) / sizeof(s_table[0]); i++) {
        ak_addr_class c = s_c(s_table[i].addr);
        if (c != s_table[i].want)
            fail_msg("%s: got %s want %s", s_table[i].addr, ak_addr_class_str(c),
                     ak_addr_class_str(s_table[i].want));
    }
}

AK_TEST(test_allowed_and_other_families) {
    EXPECT_TRUE(ak_addr_allowed(AK_ADDR_PUBLIC, false));
    EXPECT_FALSE(ak_addr_allowed(AK_ADDR_LOOPBACK, false));
    EXPECT_TRUE(ak_addr_allowed(AK_ADDR_LOOPBACK, true));
    for (int c = AK_ADDR_PRIVATE; c <= AK_ADDR_RESERVED; c++) {
        EXPECT_FALSE(ak_addr_allowed((ak_addr_class)c, true));
        EXPECT_FALSE(ak_addr_allowed((ak_addr_class)c, false));
    }
    struct sockaddr_un_like {
        sa_family_t family;
        char path[32];
    } u = {AF_UNIX, "/tmp/x"};
    EXPECT_INT_EQ(ak_addr_class_of((const struct sockaddr *)(const void *)&u, sizeof(u)), AK_ADDR_RESERVED);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "8.8.8.8", &a.sin_addr);
    EXPECT_INT_EQ(ak_addr_class_of((const struct sockaddr *)&a, sizeof(a) - 1), AK_ADDR_RESERVED);
    EXPECT_INT_EQ(ak_addr_class_of(NULL, 0), AK_ADDR_RESERVED);
}

/* A name that resolves to loopback is refused at connect time (no server needed: the check
 * runs before connect); with loopback allowed the same call gets as far as connecting. */
AK_TEST(test_connect_time_check) {
    ak_egress e;
    EXPECT_OK(ak_egress_init(&e, false));
    ak_http_response r;
    ak_http_response_init(&r);
    ak_http_request req = {.method = "GET", .url = "http://localhost:9/", .timeout_ms = 3000};
    EXPECT_ERR(AK_E_DESTINATION_NOT_ALLOWED, ak_http_do(e.http, &req, &r));
    EXPECT_TRUE(e.refused >= 1);
    EXPECT_INT_EQ(r.attempts, 1);
    ak_egress_free(&e);

    EXPECT_OK(ak_egress_init(&e, true));
    ak_err rc = ak_http_do(e.http, &req, &r); /* port 9 (discard) is closed: refused by the kernel */
    EXPECT_TRUE(rc == AK_E_UPSTREAM || rc == AK_E_UPSTREAM_TIMEOUT);
    EXPECT_INT_EQ(e.refused, 0);
    ak_egress_free(&e);
    ak_http_response_free(&r);
    ak_http_global_cleanup();
}

AK_RUN_TESTS(AK_T(test_address_classes), AK_T(test_allowed_and_other_families), AK_T(test_connect_time_check))
