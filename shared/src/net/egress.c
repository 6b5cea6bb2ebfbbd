/* egress.c — the destination check of outbound third-party calls (see ak/egress.h). */
#include "ak/egress.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "ak/log.h"

static bool s_v4_in(const uint8_t a[4], uint8_t b0, uint8_t b1, uint8_t b2, unsigned prefix) {
    uint32_t x = ((uint32_t)a[0] << 24) | ((uint32_t)a[1] << 16) | ((uint32_t)a[2] << 8) | a[3];
    uint32_t n = ((uint32_t)b0 << 24) | ((uint32_t)b1 << 16) | ((uint32_t)b2 << 8);
    uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32u - prefix);
    return (x & mask) == (n & mask);
}

ak_addr_class ak_addr_class_v4(const uint8_t a[4]) {
    static const uint8_t imds[4] = {169, 254, 169, 254}, ecs[4] = {169, 254, 170, 2},
                         ali[4] = {100, 100, 100, 200};
    if (memcmp(a, imds, 4) == 0 || memcmp(a, ecs, 4) == 0 || memcmp(a, ali, 4) == 0) return AK_ADDR_METADATA;
    if (s_v4_in(a, 127, 0, 0, 8)) return AK_ADDR_LOOPBACK;
    if (s_v4_in(a, 10, 0, 0, 8) || s_v4_in(a, 172, 16, 0, 12) || s_v4_in(a, 192, 168, 0, 16) ||
        s_v4_in(a, 100, 64, 0, 10))
        return AK_ADDR_PRIVATE;
    if (s_v4_in(a, 169, 254, 0, 16)) return AK_ADDR_LINK_LOCAL;
    if (s_v4_in(a, 0, 0, 0, 8) || s_v4_in(a, 192, 0, 0, 24) || s_v4_in(a, 192, 0, 2, 24) ||
        s_v4_in(a, 198, 18, 0, 15) || s_v4_in(a, 198, 51, 100, 24) || s_v4_in(a, 203, 0, 113, 24) ||
        s_v4_in(a, 192, 88, 99, 24) || s_v4_in(a, 224, 0, 0, 4) || s_v4_in(a, 240, 0, 0, 4))
        return AK_ADDR_RESERVED;
    return AK_ADDR_PUBLIC;
}

ak_addr_class ak_addr_class_v6(const uint8_t a[16]) {
    static const uint8_t zero[16] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t imds6[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
    if (memcmp(a, zero, 15) == 0 && a[15] == 1) return AK_ADDR_LOOPBACK;
    if (memcmp(a, zero, 16) == 0) return AK_ADDR_RESERVED;
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0 || memcmp(a, zero, 12) == 0)
        return ak_addr_class_v4(a + 12);
    if (a[0] == 0x20 && a[1] == 0x02) return ak_addr_class_v4(a + 2); /* 6to4 */
    if (memcmp(a, imds6, 16) == 0) return AK_ADDR_METADATA;
    if ((a[0] & 0xfe) == 0xfc) return AK_ADDR_PRIVATE; /* fc00::/7 */
    if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0x00 && a[5] == 0x01)
        return AK_ADDR_PRIVATE; /* 64:ff9b:1::/48, local-use NAT64 */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return AK_ADDR_LINK_LOCAL;               /* fe80::/10 */
    if ((a[0] & 0xe0) != 0x20) return AK_ADDR_RESERVED;                                 /* outside 2000::/3 */
    if (a[0] == 0x20 && a[1] == 0x01 && (a[2] & 0xfe) == 0x00) return AK_ADDR_RESERVED; /* 2001::/23 */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) return AK_ADDR_RESERVED;
    return AK_ADDR_PUBLIC;
}

ak_addr_class ak_addr_class_of(const struct sockaddr *sa, unsigned len) {
    if (sa == NULL) return AK_ADDR_RESERVED;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        uint8_t a[4];
        memcpy(a, &in->sin_addr, 4);
        return ak_addr_class_v4(a);
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        uint8_t a[16];
        memcpy(a, &in6->sin6_addr, 16);
        return ak_addr_class_v6(a);
    }
    return AK_ADDR_RESERVED;
}

const char *ak_addr_class_str(ak_addr_class c) {
    static const char *const n[] = {"public", "loopback", "private", "link_local", "metadata", "reserved"};
    return (unsigned)c < sizeof(n) / sizeof(n[0]) ? n[c] : "reserved";
}

bool ak_addr_allowed(ak_addr_class c, bool allow_loopback) {
    return c == AK_ADDR_PUBLIC || (c == AK_ADDR_LOOPBACK && allow_loopback);
}

static bool s_check(void *user, const struct sockaddr *sa, unsigned len) {
    ak_egress *e = user;
    ak_addr_class c = ak_addr_class_of(sa, len);
    if (ak_addr_allowed(c, e->allow_loopback)) return true;
    e->refused++;
    /* the class only: the address of a refused name is the caller's business, not the log's */
    ak_log_warn("egress destination refused", "class", ak_addr_class_str(c));
    return false;
}

ak_err ak_egress_init(ak_egress *e, bool allow_loopback) {
    AK_PRECOND(e != NULL);
    memset(e, 0, sizeof(*e));
    e->allow_loopback = allow_loopback;
    ak_http_config cfg = {0};
    cfg.connect_timeout_ms = AK_EGRESS_CONNECT_TIMEOUT_MS;
    cfg.retry.max_attempts = 1; /* a third-party call is never repeated behind the agent's back */
    cfg.user_agent = "agentkeys-cred-use/1";
    cfg.sock_check = s_check;
    cfg.sock_check_user = e;
    return ak_http_new(&cfg, &e->http);
}

void ak_egress_free(ak_egress *e) {
    if (e == NULL) return;
    ak_http_free(e->http);
    e->http = NULL;
}
