/*
 * ak/egress.h — outbound calls to third-party APIs for CredUseFunction (decision D19;
 * docs/spec/use-policy.md §5). An ak_http client (libcurl + BearSSL: the system CA bundle as
 * ak/http.h loads it, hostname verification, no redirects, no proxies, no retries) whose every
 * connection is checked on the address actually connected to (after DNS, before connect), so
 * a name that resolves — or re-resolves, DNS rebinding — to an internal address is refused
 * with AK_E_DESTINATION_NOT_ALLOWED.
 *
 * Address classes (anything not public is refused; loopback only with allow_loopback, which
 * only the local stack sets, through AK_CRED_USE_ALLOW_LOOPBACK=1):
 *   loopback     127.0.0.0/8, ::1
 *   private      10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7 (ULA), 64:ff9b:1::/48
 *   link-local   169.254/16, fe80::/10
 *   metadata     169.254.169.254, 169.254.170.2 (ECS), fd00:ec2::254, 100.100.100.200
 *   reserved     0/8, 192.0.0/24, 192.0.2/24, 198.18/15, 198.51.100/24, 203.0.113/24,
 *                192.88.99/24, 224/4 (multicast), 240/4 (incl. broadcast); in IPv6 everything
 *                outside 2000::/3, plus 2001::/23 (Teredo, benchmarking, ...), 2001:db8::/32
 * Embedded IPv4 is classified as IPv4: ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible),
 * 64:ff9b::a.b.c.d (NAT64) and 2002:AABB:CCDD:: (6to4).
 */
#ifndef AK_EGRESS_H
#define AK_EGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "ak/err.h"
#include "ak/http.h"

typedef enum ak_addr_class {
    AK_ADDR_PUBLIC = 0,
    AK_ADDR_LOOPBACK,
    AK_ADDR_PRIVATE,
    AK_ADDR_LINK_LOCAL,
    AK_ADDR_METADATA,
    AK_ADDR_RESERVED,
} ak_addr_class;

ak_addr_class ak_addr_class_v4(const uint8_t a[4]);
ak_addr_class ak_addr_class_v6(const uint8_t a[16]);
/* AF_INET / AF_INET6; any other family (or a short length) is reserved. */
ak_addr_class ak_addr_class_of(const struct sockaddr *sa, unsigned len);
const char *ak_addr_class_str(ak_addr_class c);
bool ak_addr_allowed(ak_addr_class c, bool allow_loopback);

#define AK_EGRESS_CONNECT_TIMEOUT_MS 3000u
#define AK_EGRESS_MAX_RESPONSE (3u * 1024u * 1024u) /* base64 in a 6 MB Lambda answer */

typedef struct ak_egress {
    ak_http *http;
    bool allow_loopback;
    unsigned refused; /* addresses refused since init (for the log) */
} ak_egress;

/* The client (one per process). AK_E_NOMEM / AK_E_CONFIG from ak_http_new. */
AK_MUST ak_err ak_egress_init(ak_egress *e, bool allow_loopback);
void ak_egress_free(ak_egress *e);

#endif
