/* bytes.c — cursors, bounded buffers, hex and base64 (see ak/bytes.h). */
#include "ak/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/ct.h"

ak_cur ak_cur_from_str(const char *s) {
    return s ? (ak_cur){(const uint8_t *)s, strlen(s)} : (ak_cur){(const uint8_t *)"", 0};
}
ak_cur ak_cur_from(const void *p, size_t len) { return (ak_cur){p, len}; }

bool ak_cur_eq(ak_cur a, ak_cur b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}
bool ak_cur_eq_str(ak_cur a, const char *s) { return ak_cur_eq(a, ak_cur_from_str(s)); }

static uint8_t s_lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

bool ak_cur_eq_nocase(ak_cur a, ak_cur b) {
    if (a.len != b.len) return false;
    for (size_t i = 0; i < a.len; i++)
        if (s_lower(a.ptr[i]) != s_lower(b.ptr[i])) return false;
    return true;
}

bool ak_cur_starts_with(ak_cur a, ak_cur p) {
    return a.len >= p.len && (p.len == 0 || memcmp(a.ptr, p.ptr, p.len) == 0);
}

static bool s_is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

ak_cur ak_cur_trim(ak_cur a) {
    while (a.len && s_is_space(a.ptr[0])) {
        a.ptr++;
        a.len--;
    }
    while (a.len && s_is_space(a.ptr[a.len - 1]))
        a.len--;
    return a;
}

ak_err ak_cur_take(ak_cur *c, size_t n, ak_cur *out) {
    AK_PRECOND(c != NULL && out != NULL);
    AK_ENSURE(c->len >= n, AK_E_INVALID_INPUT);
    *out = (ak_cur){c->ptr, n};
    c->ptr += n;
    c->len -= n;
    return AK_OK;
}

ak_err ak_cur_read_u8(ak_cur *c, uint8_t *out) {
    AK_PRECOND(c != NULL && out != NULL);
    AK_ENSURE(c->len >= 1, AK_E_INVALID_INPUT);
    *out = c->ptr[0];
    c->ptr++;
    c->len--;
    return AK_OK;
}

ak_err ak_cur_read_u32be(ak_cur *c, uint32_t *out) {
    AK_PRECOND(c != NULL && out != NULL);
    AK_ENSURE(c->len >= 4, AK_E_INVALID_INPUT);
    *out = ((uint32_t)c->ptr[0] << 24) | ((uint32_t)c->ptr[1] << 16) | ((uint32_t)c->ptr[2] << 8) |
           (uint32_t)c->ptr[3];
    c->ptr += 4;
    c->len -= 4;
    return AK_OK;
}

long ak_cur_find(ak_cur c, uint8_t b) {
    if (c.len == 0) return -1;
    const uint8_t *p = memchr(c.ptr, b, c.len);
    return p ? (long)(p - c.ptr) : -1;
}

bool ak_cur_split(ak_cur *c, uint8_t sep, ak_cur *head) {
    long i = ak_cur_find(*c, sep);
    if (i < 0) return false;
    *head = (ak_cur){c->ptr, (size_t)i};
    c->ptr += (size_t)i + 1;
    c->len -= (size_t)i + 1;
    return true;
}

ak_err ak_cur_to_u64(ak_cur c, uint64_t *out) {
    AK_ENSURE(c.len > 0 && c.len <= 20, AK_E_INVALID_INPUT);
    uint64_t v = 0;
    for (size_t i = 0; i < c.len; i++) {
        uint8_t d = c.ptr[i];
        AK_ENSURE(d >= '0' && d <= '9', AK_E_INVALID_INPUT);
        AK_ENSURE(v <= (UINT64_MAX - (uint64_t)(d - '0')) / 10u, AK_E_INVALID_INPUT);
        v = v * 10u + (uint64_t)(d - '0');
    }
    *out = v;
    return AK_OK;
}

ak_err ak_cur_to_cstr(ak_cur c, char *dst, size_t cap) {
    AK_ENSURE(cap > 0 && c.len < cap, AK_E_LIMIT);
    if (c.len) memcpy(dst, c.ptr, c.len);
    dst[c.len] = '\0';
    return AK_OK;
}

/* ---- ak_buf ---- */
void ak_buf_init(ak_buf *b, size_t max) { *b = (ak_buf){NULL, 0, 0, max, false}; }
void ak_buf_init_secret(ak_buf *b, size_t max) { *b = (ak_buf){NULL, 0, 0, max, true}; }

void ak_buf_free(ak_buf *b) {
    if (b->ptr != NULL) {
        if (b->secret) ak_wipe(b->ptr, b->cap + 1);
        ak_free(b->ptr);
    }
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void ak_buf_clear(ak_buf *b) {
    if (b->ptr != NULL) {
        if (b->secret) ak_wipe(b->ptr, b->len);
        b->ptr[0] = 0;
    }
    b->len = 0;
}

ak_err ak_buf_reserve(ak_buf *b, size_t extra) {
    AK_ENSURE(extra <= b->max && b->len <= b->max - extra, AK_E_LIMIT);
    size_t need = b->len + extra;
    if (need <= b->cap && b->ptr != NULL) return AK_OK;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = (ncap > SIZE_MAX / 2) ? need : ncap * 2;
    if (ncap > b->max) ncap = b->max;
    uint8_t *np = ak_malloc(ncap + 1);
    AK_ENSURE(np != NULL, AK_E_NOMEM);
    if (b->ptr != NULL) {
        memcpy(np, b->ptr, b->len);
        if (b->secret) ak_wipe(b->ptr, b->cap + 1);
        ak_free(b->ptr);
    }
    np[b->len] = 0;
    b->ptr = np;
    b->cap = ncap;
    return AK_OK;
}

ak_err ak_buf_append(ak_buf *b, const void *p, size_t n) {
    AK_GUARD(ak_buf_reserve(b, n));
    if (n) memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = 0;
    return AK_OK;
}
ak_err ak_buf_append_cur(ak_buf *b, ak_cur c) { return ak_buf_append(b, c.ptr, c.len); }
ak_err ak_buf_append_str(ak_buf *b, const char *s) { return ak_buf_append(b, s, strlen(s)); }
ak_err ak_buf_append_byte(ak_buf *b, uint8_t v) { return ak_buf_append(b, &v, 1); }

ak_err ak_buf_append_u64(ak_buf *b, uint64_t v) {
    char tmp[21];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + (v % 10u));
        v /= 10u;
    } while (v);
    return ak_buf_append(b, tmp + i, sizeof(tmp) - i);
}

ak_err ak_buf_append_file(ak_buf *b, const char *path) {
    AK_PRECOND(b != NULL && path != NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return AK_E_IO;
    ak_err rc = AK_OK;
    uint8_t chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = AK_E_IO;
        if (n <= 0) break;
        rc = ak_buf_append(b, chunk, (size_t)n);
        if (rc != AK_OK) break;
    }
    ak_wipe(chunk, sizeof(chunk));
    close(fd);
    return rc;
}

ak_err ak_buf_printf(ak_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    AK_ENSURE(n >= 0, AK_E_INTERNAL);
    AK_GUARD(ak_buf_reserve(b, (size_t)n));
    va_start(ap, fmt);
    vsnprintf((char *)b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return AK_OK;
}

/* ---- hex ---- */
static const char s_hexdig[] = "0123456789abcdef";

void ak_hex_encode(const uint8_t *src, size_t n, char *dst) {
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = s_hexdig[src[i] >> 4];
        dst[2 * i + 1] = s_hexdig[src[i] & 15];
    }
    dst[2 * n] = '\0';
}

ak_err ak_buf_append_hex(ak_buf *b, const uint8_t *src, size_t n) {
    AK_ENSURE(n <= SIZE_MAX / 2, AK_E_LIMIT);
    AK_GUARD(ak_buf_reserve(b, 2 * n));
    ak_hex_encode(src, n, (char *)b->ptr + b->len);
    b->len += 2 * n;
    return AK_OK;
}

static int s_hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static ak_cur s_strip_0x(ak_cur h, bool allow) {
    if (allow && h.len >= 2 && h.ptr[0] == '0' && (h.ptr[1] == 'x' || h.ptr[1] == 'X')) {
        h.ptr += 2;
        h.len -= 2;
    }
    return h;
}

ak_err ak_hex_decode_exact(ak_cur hex, bool allow_0x, uint8_t *dst, size_t n) {
    hex = s_strip_0x(hex, allow_0x);
    AK_ENSURE(hex.len == 2 * n, AK_E_BAD_HEX);
    for (size_t i = 0; i < n; i++) {
        int hi = s_hexval(hex.ptr[2 * i]), lo = s_hexval(hex.ptr[2 * i + 1]);
        AK_ENSURE(hi >= 0 && lo >= 0, AK_E_BAD_HEX);
        dst[i] = (uint8_t)((hi << 4) | lo);
    }
    return AK_OK;
}

ak_err ak_hex_decode_buf(ak_cur hex, bool allow_0x, ak_buf *out) {
    hex = s_strip_0x(hex, allow_0x);
    AK_ENSURE(hex.len % 2 == 0, AK_E_BAD_HEX);
    AK_GUARD(ak_buf_reserve(out, hex.len / 2));
    size_t start = out->len;
    ak_err rc = ak_hex_decode_exact(hex, false, out->ptr + start, hex.len / 2);
    if (rc != AK_OK) return rc;
    out->len += hex.len / 2;
    out->ptr[out->len] = 0;
    return AK_OK;
}

bool ak_is_hex64_lower(ak_cur c) {
    if (c.len != 64) return false;
    for (size_t i = 0; i < 64; i++) {
        uint8_t x = c.ptr[i];
        if (!((x >= '0' && x <= '9') || (x >= 'a' && x <= 'f'))) return false;
    }
    return true;
}

/* ---- base64 ---- */
static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char s_b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static ak_err s_b64_enc(const uint8_t *src, size_t n, ak_buf *out, const char *alpha, bool pad) {
    AK_ENSURE(n <= (SIZE_MAX / 4) * 3 - 3, AK_E_LIMIT);
    size_t olen = 4 * ((n + 2) / 3);
    AK_GUARD(ak_buf_reserve(out, olen));
    char *o = (char *)out->ptr + out->len;
    size_t j = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)src[i] << 16) | ((uint32_t)src[i + 1] << 8) | src[i + 2];
        o[j++] = alpha[v >> 18];
        o[j++] = alpha[(v >> 12) & 63];
        o[j++] = alpha[(v >> 6) & 63];
        o[j++] = alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)src[i] << 16;
        o[j++] = alpha[v >> 18];
        o[j++] = alpha[(v >> 12) & 63];
        if (pad) {
            o[j++] = '=';
            o[j++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)src[i] << 16) | ((uint32_t)src[i + 1] << 8);
        o[j++] = alpha[v >> 18];
        o[j++] = alpha[(v >> 12) & 63];
        o[j++] = alpha[(v >> 6) & 63];
        if (pad) o[j++] = '=';
    }
    out->len += j;
    out->ptr[out->len] = 0;
    return AK_OK;
}

ak_err ak_b64_encode(const uint8_t *src, size_t n, ak_buf *out) {
    return s_b64_enc(src, n, out, s_b64, true);
}
ak_err ak_b64url_encode(const uint8_t *src, size_t n, ak_buf *out) {
    return s_b64_enc(src, n, out, s_b64url, false);
}

static int s_b64val(uint8_t c, bool url) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (!url && c == '+') return 62;
    if (!url && c == '/') return 63;
    if (url && c == '-') return 62;
    if (url && c == '_') return 63;
    return -1;
}

static ak_err s_b64_dec(ak_cur in, ak_buf *out, bool url) {
    size_t n = in.len;
    size_t padn = 0;
    if (!url) {
        AK_ENSURE(n % 4 == 0, AK_E_BAD_BASE64);
        if (n && in.ptr[n - 1] == '=') padn++;
        if (n > 1 && in.ptr[n - 2] == '=') padn++;
        n -= padn;
    }
    AK_ENSURE(n % 4 != 1, AK_E_BAD_BASE64);
    size_t olen = (n / 4) * 3 + ((n % 4) ? (n % 4) - 1 : 0);
    size_t start = out->len;
    AK_GUARD(ak_buf_reserve(out, olen));
    uint8_t *o = out->ptr + start;
    uint32_t acc = 0;
    size_t bits = 0, j = 0;
    for (size_t i = 0; i < n; i++) {
        int v = s_b64val(in.ptr[i], url);
        if (v < 0) {
            if (out->secret) ak_wipe(o, j);
            return AK_E_BAD_BASE64;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[j++] = (uint8_t)(acc >> bits);
        }
    }
    /* Canonical encoding: leftover bits must be zero. */
    if (bits && (acc & ((1u << bits) - 1u)) != 0) {
        if (out->secret) ak_wipe(o, j);
        return AK_E_BAD_BASE64;
    }
    out->len += j;
    out->ptr[out->len] = 0;
    return AK_OK;
}

ak_err ak_b64_decode(ak_cur in, ak_buf *out) { return s_b64_dec(in, out, false); }
ak_err ak_b64url_decode(ak_cur in, ak_buf *out) { return s_b64_dec(in, out, true); }

/* Both writers: `data` into a fresh 0600 temp file beside `path` (parents made 0700), fsynced; then
 * rename (replace) or link (create only; the temp file is removed either way). */
static ak_err s_file_write_0600(const char *path, ak_cur data, bool create_only) {
    AK_PRECOND(path != NULL);
    char tmp[1100];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    AK_ENSURE(n > 0 && (size_t)n < sizeof tmp, AK_E_LIMIT);
    /* parent directories, 0700 */
    char dir[1024];
    AK_GUARD(ak_cur_to_cstr(ak_cur_from_str(path), dir, sizeof dir));
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) return AK_E_IO;
        *p = '/';
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    AK_ENSURE(fd >= 0, AK_E_IO);
    ak_err rc = AK_OK;
    size_t off = 0;
    while (off < data.len) {
        ssize_t w = write(fd, data.ptr + off, data.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = AK_E_IO;
            break;
        }
        off += (size_t)w;
    }
    if (rc == AK_OK && (fchmod(fd, 0600) != 0 || fsync(fd) != 0)) rc = AK_E_IO;
    if (close(fd) != 0 && rc == AK_OK) rc = AK_E_IO;
    if (rc == AK_OK && create_only) {
        if (link(tmp, path) != 0) rc = errno == EEXIST ? AK_E_PRECONDITION_FAILED : AK_E_IO;
        unlink(tmp);
        return rc;
    }
    if (rc == AK_OK && rename(tmp, path) != 0) rc = AK_E_IO;
    if (rc != AK_OK) unlink(tmp);
    return rc;
}

ak_err ak_file_write_0600(const char *path, ak_cur data) { return s_file_write_0600(path, data, false); }
ak_err ak_file_create_0600(const char *path, ak_cur data) { return s_file_write_0600(path, data, true); }
