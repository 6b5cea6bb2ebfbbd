/*
 * passkey — a software WebAuthn authenticator (ES256 / P-256) for tests and `make demo`.
 *
 * It produces exactly what contracts/src/K11Verifier.sol accepts (contracts/README.md,
 * "K11 assertions"):
 *   authenticatorData = sha256(rpId) ‖ flags (UP|UV = 0x05) ‖ signCount (u32 big-endian)   37 bytes
 *   clientDataJSON    = {"type":"webauthn.get","challenge":"<base64url(32 bytes)>",
 *                        "origin":"https://<rpId>","crossOrigin":false}
 *   signature         = ECDSA P-256 over sha256(authenticatorData ‖ sha256(clientDataJSON)),
 *                       raw r, s (BearSSL's RFC 6979 deterministic signer; s is not normalised,
 *                       so about half the signatures are "high s", which WebAuthn allows).
 *
 * Usage:
 *   passkey new    --rpid <rp id> --out <key.json>
 *        Creates a credential (private key from getrandom(2)); writes key.json (mode 0600,
 *        refuses to follow a symlink) and prints the public part as JSON.
 *   passkey pub    --key <key.json>
 *        Prints the public part: rp_id, rp_id_hash, cred_id, pub_x, pub_y.
 *   passkey assert --key <key.json> --challenge 0x<64 hex> --sign-count <n>
 *                  [--device-key-hash 0x<64 hex>] [--origin <url>]
 *                  [--flags 0x<2 hex>] [--type <webauthn.get|...>]
 *        Prints one JSON object: authenticator_data, client_data_json (the text),
 *        client_data_json_hex, r, s, sign_count, signed_hash, and "tuple", the K11Assertion
 *        `(bytes32,bytes,bytes,uint256,uint256)` as cast wants it (attestor = --device-key-hash,
 *        or 0). --flags / --type exist to build negative tests.
 *
 * Exit status: 0 on success, 1 on a runtime failure, 2 on bad usage / bad input.
 * Self-contained on BearSSL + libc (no project library), so it builds anywhere BearSSL does.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define PK_MAX_RPID 253 /* DNS name limit */
#define PK_MAX_ORIGIN 512
#define PK_MAX_KEYFILE 4096
#define PK_MAX_CDJ 1024
#define PK_CHALLENGE_B64_LEN 43 /* base64url(32 bytes), no padding */

/* NIST P-256 group order n, big-endian. */
static const uint8_t s_p256_n[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17,
                                     0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};

typedef struct {
    char rp_id[PK_MAX_RPID + 1];
    uint8_t rp_id_hash[32];
    uint8_t cred_id[32];
    uint8_t priv[32];
    uint8_t pub[65]; /* 0x04 ‖ X ‖ Y */
} s_key;

static void s_wipe(void *p, size_t n) { explicit_bzero(p, n); }

static void s_usage(void) {
    fputs("usage:\n"
          "  passkey new    --rpid <rp id> --out <key.json>\n"
          "  passkey pub    --key <key.json>\n"
          "  passkey assert --key <key.json> --challenge 0x<64 hex> --sign-count <n>\n"
          "                 [--device-key-hash 0x<64 hex>] [--origin <url>] [--flags 0x<hex>]\n"
          "                 [--type <client data type>]\n",
          stderr);
}

static void s_sha256(const void *data, size_t len, uint8_t out[32]) {
    br_sha256_context c;
    br_sha256_init(&c);
    br_sha256_update(&c, data, len);
    br_sha256_out(&c, out);
}

static void s_print_hex(const uint8_t *p, size_t n) {
    static const char d[] = "0123456789abcdef";
    fputs("0x", stdout);
    for (size_t i = 0; i < n; i++) {
        putchar(d[p[i] >> 4]);
        putchar(d[p[i] & 15]);
    }
}

/* The inner text is printable ASCII without backslashes (s_json_safe), so only '"' needs escaping. */
static void s_print_json_escaped(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\') putchar('\\');
        putchar(p[i]);
    }
}

static int s_hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses exactly `n` bytes of hex, with a mandatory 0x prefix, from a NUL-terminated string. */
static int s_parse_hex_exact(const char *s, uint8_t *out, size_t n) {
    if (s == NULL || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return -1;
    s += 2;
    if (strlen(s) != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = s_hexval(s[2 * i]);
        int lo = s_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)((hi << 4) | lo);
    }
    return 0;
}

/* Decimal u32, no sign, no spaces, no trailing junk. */
static int s_parse_u32(const char *s, uint32_t *out) {
    uint64_t v = 0;
    if (s == NULL || *s == '\0') return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > 0xFFFFFFFFu) return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* rpId: a host name (WebAuthn §5.1.2 rp.id); we accept [a-z0-9.-], 1..253 chars. */
static int s_valid_rpid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > PK_MAX_RPID) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return 0;
    }
    return 1;
}

/* Printable ASCII without '"' or '\\': safe to embed verbatim in JSON. */
static int s_json_safe(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return 0;
    }
    return 1;
}

static void s_b64url32(const uint8_t in[32], char out[PK_CHALLENGE_B64_LEN + 1]) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= 32; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    /* 2 bytes left: 3 characters, no padding */
    uint32_t v = ((uint32_t)in[30] << 16) | ((uint32_t)in[31] << 8);
    out[o++] = a[(v >> 18) & 63];
    out[o++] = a[(v >> 12) & 63];
    out[o++] = a[(v >> 6) & 63];
    out[o] = '\0';
}

static int s_random(uint8_t *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/* 1 iff 0 < k < n (big-endian compare; k is secret but this runs once per key generation,
 * and a rejected candidate is discarded). */
static int s_scalar_ok(const uint8_t k[32]) {
    uint8_t any = 0;
    for (size_t i = 0; i < 32; i++)
        any |= k[i];
    if (any == 0) return 0;
    return memcmp(k, s_p256_n, 32) < 0;
}

static int s_compute_pub(s_key *k) {
    br_ec_private_key sk = {BR_EC_secp256r1, k->priv, sizeof k->priv};
    br_ec_public_key pk;
    size_t n = br_ec_compute_pub(br_ec_get_default(), &pk, k->pub, &sk);
    return (n == 65 && k->pub[0] == 0x04) ? 0 : -1;
}

static int s_write_key(const char *path, const s_key *k) {
    static const char d[] = "0123456789abcdef";
    char buf[PK_MAX_KEYFILE];
    size_t o = 0;
    int rc = -1, fd = -1;
#define PUT_STR(str)                                                                                         \
    do {                                                                                                     \
        size_t l_ = strlen(str);                                                                             \
        if (o + l_ >= sizeof buf) goto out;                                                                  \
        memcpy(buf + o, (str), l_);                                                                          \
        o += l_;                                                                                             \
    } while (0)
#define PUT_HEX(ptr, len)                                                                                    \
    do {                                                                                                     \
        if (o + 2 + 2 * (len) >= sizeof buf) goto out;                                                       \
        buf[o++] = '0';                                                                                      \
        buf[o++] = 'x';                                                                                      \
        for (size_t i_ = 0; i_ < (len); i_++) {                                                              \
            buf[o++] = d[(ptr)[i_] >> 4];                                                                    \
            buf[o++] = d[(ptr)[i_] & 15];                                                                    \
        }                                                                                                    \
    } while (0)
    PUT_STR("{\"rp_id\":\"");
    PUT_STR(k->rp_id);
    PUT_STR("\",\"rp_id_hash\":\"");
    PUT_HEX(k->rp_id_hash, 32);
    PUT_STR("\",\"cred_id\":\"");
    PUT_HEX(k->cred_id, 32);
    PUT_STR("\",\"pub_x\":\"");
    PUT_HEX(k->pub + 1, 32);
    PUT_STR("\",\"pub_y\":\"");
    PUT_HEX(k->pub + 33, 32);
    PUT_STR("\",\"private_key\":\"");
    PUT_HEX(k->priv, 32);
    PUT_STR("\"}\n");
#undef PUT_STR
#undef PUT_HEX
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "passkey: cannot open %s: %s\n", path, strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0600) != 0) goto out;
    for (size_t w = 0; w < o;) {
        ssize_t r = write(fd, buf + w, o - w);
        if (r < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "passkey: write %s: %s\n", path, strerror(errno));
            goto out;
        }
        w += (size_t)r;
    }
    if (fsync(fd) != 0) goto out;
    rc = 0;
out:
    if (fd >= 0 && close(fd) != 0) rc = -1;
    s_wipe(buf, sizeof buf);
    return rc;
}

/* Finds "name":"<value>" in a flat JSON object written by s_write_key (or by hand in the same
 * shape) and copies the value (no escapes allowed) into out. */
static int s_json_field(const char *json, const char *name, char *out, size_t cap) {
    char pat[64];
    int n = snprintf(pat, sizeof pat, "\"%s\"", name);
    if (n < 0 || (size_t)n >= sizeof pat) return -1;
    const char *p = strstr(json, pat);
    if (p == NULL) return -1;
    p += n;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p++ != ':') return -1;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p++ != '"') return -1;
    size_t i = 0;
    for (; *p != '"'; p++) {
        if (*p == '\0' || *p == '\\' || i + 1 >= cap) return -1;
        out[i++] = *p;
    }
    out[i] = '\0';
    return 0;
}

static int s_read_key(const char *path, s_key *k) {
    char buf[PK_MAX_KEYFILE + 1];
    char field[PK_MAX_RPID + 1];
    uint8_t x[32], y[32];
    int rc = -1;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "passkey: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            goto out;
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n >= sizeof buf - 1) {
            fprintf(stderr, "passkey: %s is too large\n", path);
            goto out;
        }
    }
    buf[n] = '\0';
    if (s_json_field(buf, "rp_id", k->rp_id, sizeof k->rp_id) != 0 || !s_valid_rpid(k->rp_id)) goto bad;
    if (s_json_field(buf, "private_key", field, sizeof field) != 0 ||
        s_parse_hex_exact(field, k->priv, 32) != 0 || !s_scalar_ok(k->priv))
        goto bad;
    if (s_json_field(buf, "cred_id", field, sizeof field) != 0 ||
        s_parse_hex_exact(field, k->cred_id, 32) != 0)
        goto bad;
    s_sha256(k->rp_id, strlen(k->rp_id), k->rp_id_hash);
    if (s_compute_pub(k) != 0) goto bad;
    /* The stored public key, when present, must match the private key. */
    if (s_json_field(buf, "pub_x", field, sizeof field) == 0) {
        if (s_parse_hex_exact(field, x, 32) != 0 || memcmp(x, k->pub + 1, 32) != 0) goto bad;
    }
    if (s_json_field(buf, "pub_y", field, sizeof field) == 0) {
        if (s_parse_hex_exact(field, y, 32) != 0 || memcmp(y, k->pub + 33, 32) != 0) goto bad;
    }
    rc = 0;
    goto out;
bad:
    fprintf(stderr, "passkey: %s is not a valid key file\n", path);
out:
    close(fd);
    s_wipe(buf, sizeof buf);
    s_wipe(field, sizeof field);
    return rc;
}

static void s_print_public(const s_key *k) {
    printf("{\"rp_id\":\"%s\",\"rp_id_hash\":\"", k->rp_id);
    s_print_hex(k->rp_id_hash, 32);
    fputs("\",\"cred_id\":\"", stdout);
    s_print_hex(k->cred_id, 32);
    fputs("\",\"pub_x\":\"", stdout);
    s_print_hex(k->pub + 1, 32);
    fputs("\",\"pub_y\":\"", stdout);
    s_print_hex(k->pub + 33, 32);
    fputs("\"}\n", stdout);
}

/* Returns the value following `--name`, or NULL. Unknown options are rejected by the caller's
 * check of every argv entry against its list. */
static const char *s_opt(int argc, char **argv, const char *name) {
    for (int i = 2; i + 1 < argc; i += 2)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

static int s_check_opts(int argc, char **argv, const char *const *allowed) {
    if ((argc - 2) % 2 != 0) return -1;
    for (int i = 2; i < argc; i += 2) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(argv[i], *a) == 0) ok = 1;
        if (!ok) {
            fprintf(stderr, "passkey: unknown option %s\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

static int s_cmd_new(int argc, char **argv) {
    static const char *const allowed[] = {"--rpid", "--out", NULL};
    s_key k;
    int rc = 1;
    memset(&k, 0, sizeof k);
    const char *rpid = s_opt(argc, argv, "--rpid");
    const char *out = s_opt(argc, argv, "--out");
    if (s_check_opts(argc, argv, allowed) != 0 || rpid == NULL || out == NULL) {
        s_usage();
        return 2;
    }
    if (!s_valid_rpid(rpid)) {
        fprintf(stderr, "passkey: --rpid must be a lowercase host name\n");
        return 2;
    }
    memcpy(k.rp_id, rpid, strlen(rpid) + 1);
    s_sha256(k.rp_id, strlen(k.rp_id), k.rp_id_hash);
    do {
        if (s_random(k.priv, sizeof k.priv) != 0) {
            fprintf(stderr, "passkey: getrandom failed: %s\n", strerror(errno));
            goto out;
        }
    } while (!s_scalar_ok(k.priv));
    if (s_random(k.cred_id, sizeof k.cred_id) != 0) goto out;
    if (s_compute_pub(&k) != 0) goto out;
    if (s_write_key(out, &k) != 0) goto out;
    s_print_public(&k);
    rc = 0;
out:
    s_wipe(&k, sizeof k);
    return rc;
}

static int s_cmd_pub(int argc, char **argv) {
    static const char *const allowed[] = {"--key", NULL};
    s_key k;
    const char *path = s_opt(argc, argv, "--key");
    if (s_check_opts(argc, argv, allowed) != 0 || path == NULL) {
        s_usage();
        return 2;
    }
    if (s_read_key(path, &k) != 0) return 2;
    s_print_public(&k);
    s_wipe(&k, sizeof k);
    return 0;
}

static int s_cmd_assert(int argc, char **argv) {
    static const char *const allowed[] = {"--key",    "--challenge", "--sign-count", "--device-key-hash",
                                          "--origin", "--flags",     "--type",       NULL};
    s_key k;
    uint8_t challenge[32], dkh[32] = {0}, flags = 0x05;
    uint8_t ad[37], cdj_hash[32], msg[37 + 32], h[32], sig[64];
    char b64[PK_CHALLENGE_B64_LEN + 1], origin[PK_MAX_ORIGIN + 1], cdj[PK_MAX_CDJ];
    uint32_t count;
    int rc = 2, n;
    const char *key = s_opt(argc, argv, "--key");
    const char *ch = s_opt(argc, argv, "--challenge");
    const char *cnt = s_opt(argc, argv, "--sign-count");
    const char *dk = s_opt(argc, argv, "--device-key-hash");
    const char *org = s_opt(argc, argv, "--origin");
    const char *fl = s_opt(argc, argv, "--flags");
    const char *type = s_opt(argc, argv, "--type");

    memset(&k, 0, sizeof k);
    if (s_check_opts(argc, argv, allowed) != 0 || key == NULL || ch == NULL || cnt == NULL) {
        s_usage();
        return 2;
    }
    if (s_parse_hex_exact(ch, challenge, 32) != 0) {
        fprintf(stderr, "passkey: --challenge must be 0x + 64 hex digits\n");
        return 2;
    }
    if (s_parse_u32(cnt, &count) != 0) {
        fprintf(stderr, "passkey: --sign-count must be a decimal uint32\n");
        return 2;
    }
    if (dk != NULL && s_parse_hex_exact(dk, dkh, 32) != 0) {
        fprintf(stderr, "passkey: --device-key-hash must be 0x + 64 hex digits\n");
        return 2;
    }
    if (fl != NULL && s_parse_hex_exact(fl, &flags, 1) != 0) {
        fprintf(stderr, "passkey: --flags must be 0x + 2 hex digits\n");
        return 2;
    }
    if (type == NULL) type = "webauthn.get";
    if (!s_json_safe(type, 64)) {
        fprintf(stderr, "passkey: bad --type\n");
        return 2;
    }
    if (s_read_key(key, &k) != 0) goto out;
    if (org == NULL) {
        n = snprintf(origin, sizeof origin, "https://%s", k.rp_id);
        if (n < 0 || (size_t)n >= sizeof origin) goto out;
    } else {
        if (!s_json_safe(org, PK_MAX_ORIGIN)) {
            fprintf(stderr, "passkey: bad --origin\n");
            goto out;
        }
        memcpy(origin, org, strlen(org) + 1);
    }

    /* authenticatorData: rpIdHash ‖ flags ‖ signCount (big-endian) — WebAuthn §6.1 */
    memcpy(ad, k.rp_id_hash, 32);
    ad[32] = flags;
    ad[33] = (uint8_t)(count >> 24);
    ad[34] = (uint8_t)(count >> 16);
    ad[35] = (uint8_t)(count >> 8);
    ad[36] = (uint8_t)count;

    /* clientDataJSON in the member order of WebAuthn §5.8.1.1 (type, challenge, origin, crossOrigin) */
    s_b64url32(challenge, b64);
    n = snprintf(cdj, sizeof cdj,
                 "{\"type\":\"%s\",\"challenge\":\"%s\",\"origin\":\"%s\",\"crossOrigin\":false}", type, b64,
                 origin);
    if (n < 0 || (size_t)n >= sizeof cdj) goto out;
    size_t cdj_len = (size_t)n;

    s_sha256(cdj, cdj_len, cdj_hash);
    memcpy(msg, ad, 37);
    memcpy(msg + 37, cdj_hash, 32);
    s_sha256(msg, sizeof msg, h);

    rc = 1;
    br_ec_private_key sk = {BR_EC_secp256r1, k.priv, sizeof k.priv};
    br_ec_public_key pk = {BR_EC_secp256r1, k.pub, sizeof k.pub};
    if (br_ecdsa_i31_sign_raw(br_ec_get_default(), &br_sha256_vtable, h, &sk, sig) != 64) {
        fprintf(stderr, "passkey: signing failed\n");
        goto out;
    }
    if (br_ecdsa_i31_vrfy_raw(br_ec_get_default(), h, 32, &pk, sig, 64) != 1) {
        fprintf(stderr, "passkey: self-check of the signature failed\n");
        goto out;
    }

    fputs("{\"authenticator_data\":\"", stdout);
    s_print_hex(ad, sizeof ad);
    fputs("\",\"client_data_json\":\"", stdout);
    s_print_json_escaped(cdj, cdj_len);
    fputs("\",\"client_data_json_hex\":\"", stdout);
    s_print_hex((const uint8_t *)cdj, cdj_len);
    fputs("\",\"signed_hash\":\"", stdout);
    s_print_hex(h, 32);
    fputs("\",\"r\":\"", stdout);
    s_print_hex(sig, 32);
    fputs("\",\"s\":\"", stdout);
    s_print_hex(sig + 32, 32);
    printf("\",\"sign_count\":%lu,\"tuple\":\"(", (unsigned long)count);
    s_print_hex(dkh, 32);
    putchar(',');
    s_print_hex(ad, sizeof ad);
    putchar(',');
    s_print_hex((const uint8_t *)cdj, cdj_len);
    putchar(',');
    s_print_hex(sig, 32);
    putchar(',');
    s_print_hex(sig + 32, 32);
    fputs(")\"}\n", stdout);
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    s_wipe(&k, sizeof k);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        s_usage();
        return 2;
    }
    if (strcmp(argv[1], "new") == 0) return s_cmd_new(argc, argv);
    if (strcmp(argv[1], "pub") == 0) return s_cmd_pub(argc, argv);
    if (strcmp(argv[1], "assert") == 0) return s_cmd_assert(argc, argv);
    s_usage();
    return 2;
}
