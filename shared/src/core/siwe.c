/* siwe.c — EIP-4361 messages (see ak/siwe.h). */
#include "ak/siwe.h"

#include <stdio.h>
#include <string.h>

#include "ak/crypto.h"

#define BAD AK_E_SIWE_MALFORMED

/* ---------------------------------------------------------------- character classes (RFC 3986) */

static bool s_alpha(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool s_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool s_hex(uint8_t c) { return s_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static bool s_unreserved(uint8_t c) {
    return s_alpha(c) || s_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
static bool s_sub_delim(uint8_t c) { return c != 0 && strchr("!$&'()*+,;=", c) != NULL; }
static bool s_gen_delim(uint8_t c) { return c != 0 && strchr(":/?#[]@", c) != NULL; }

/* Percent-encoded triplets are checked where '%' is allowed. */
static bool s_pct_ok(ak_cur s, size_t i) {
    return i + 2 < s.len && s_hex(s.ptr[i + 1]) && s_hex(s.ptr[i + 2]);
}

/* Takes the next line (without LF); false when there is no more text. `last` says whether the
 * line was the final one (no LF after it). */
static bool s_line(ak_cur *rest, ak_cur *line, bool *had_lf) {
    if (rest->ptr == NULL) return false;
    long i = ak_cur_find(*rest, '\n');
    if (i < 0) {
        *line = *rest;
        *had_lf = false;
        rest->ptr = NULL;
        rest->len = 0;
        return true;
    }
    *line = ak_cur_from(rest->ptr, (size_t)i);
    *had_lf = true;
    *rest = ak_cur_from(rest->ptr + i + 1, rest->len - (size_t)i - 1);
    return true;
}

static bool s_prefix(ak_cur line, const char *p, ak_cur *value) {
    size_t n = strlen(p);
    if (line.len < n || memcmp(line.ptr, p, n) != 0) return false;
    *value = ak_cur_from(line.ptr + n, line.len - n);
    return true;
}

/* authority = [ userinfo "@" ] host [ ":" port ] */
static ak_err s_authority(ak_cur a) {
    AK_ENSURE(a.len > 0, BAD);
    long at = -1;
    for (size_t i = 0; i < a.len; i++)
        if (a.ptr[i] == '@') at = (long)i;
    ak_cur hostport = a;
    if (at >= 0) {
        for (size_t i = 0; i < (size_t)at; i++) {
            uint8_t c = a.ptr[i];
            if (c == '%') {
                AK_ENSURE(s_pct_ok(a, i), BAD);
                continue;
            }
            AK_ENSURE(s_unreserved(c) || s_sub_delim(c) || c == ':', BAD);
        }
        hostport = ak_cur_from(a.ptr + at + 1, a.len - (size_t)at - 1);
    }
    AK_ENSURE(hostport.len > 0, BAD);
    ak_cur port = {0};
    if (hostport.ptr[0] == '[') {
        long close = ak_cur_find(hostport, ']');
        AK_ENSURE(close > 1, BAD);
        for (long i = 1; i < close; i++) {
            uint8_t c = hostport.ptr[i];
            AK_ENSURE(s_hex(c) || c == ':' || c == '.' || c == 'v' || c == 'V', BAD);
        }
        ak_cur after = ak_cur_from(hostport.ptr + close + 1, hostport.len - (size_t)close - 1);
        if (after.len > 0) {
            AK_ENSURE(after.ptr[0] == ':', BAD);
            port = ak_cur_from(after.ptr + 1, after.len - 1);
        }
    } else {
        long colon = ak_cur_find(hostport, ':');
        ak_cur host = hostport;
        if (colon >= 0) {
            host = ak_cur_from(hostport.ptr, (size_t)colon);
            port = ak_cur_from(hostport.ptr + colon + 1, hostport.len - (size_t)colon - 1);
        }
        AK_ENSURE(host.len > 0, BAD);
        for (size_t i = 0; i < host.len; i++) {
            uint8_t c = host.ptr[i];
            if (c == '%') {
                AK_ENSURE(s_pct_ok(host, i), BAD);
                continue;
            }
            AK_ENSURE(s_unreserved(c) || s_sub_delim(c), BAD);
        }
    }
    for (size_t i = 0; i < port.len; i++)
        AK_ENSURE(s_digit(port.ptr[i]), BAD);
    return AK_OK;
}

/* A URI (RFC 3986 §3): scheme ":" followed by URI characters, no spaces or controls. */
static ak_err s_uri(ak_cur u) {
    AK_ENSURE(u.len > 1 && s_alpha(u.ptr[0]), BAD);
    size_t i = 1;
    while (i < u.len &&
           (s_alpha(u.ptr[i]) || s_digit(u.ptr[i]) || u.ptr[i] == '+' || u.ptr[i] == '-' || u.ptr[i] == '.'))
        i++;
    AK_ENSURE(i < u.len && u.ptr[i] == ':', BAD);
    for (i++; i < u.len; i++) {
        uint8_t c = u.ptr[i];
        if (c == '%') {
            AK_ENSURE(s_pct_ok(u, i), BAD);
            continue;
        }
        AK_ENSURE(s_unreserved(c) || s_sub_delim(c) || s_gen_delim(c), BAD);
    }
    return AK_OK;
}

/* EIP-4361 "Message Fields": address "MUST be ... conformant to capitalization encoded checksum
 * specified in EIP-55 where applicable" — it is applicable to every address with a hex letter,
 * so the text must be exactly the checksummed form: an all-lowercase (or all-uppercase) address
 * is refused like a wrong checksum. An address of digits only has no letters to case. */
static ak_err s_address(ak_cur t, uint8_t addr[20]) {
    AK_ENSURE(t.len == 42 && t.ptr[0] == '0' && t.ptr[1] == 'x', BAD);
    for (size_t i = 2; i < 42; i++)
        AK_ENSURE(s_hex(t.ptr[i]), BAD);
    AK_ENSURE(ak_eth_address_is_eip55(t), BAD);
    AK_ENSURE(ak_hex_decode_exact(ak_cur_from(t.ptr + 2, 40), false, addr, 20) == AK_OK, BAD);
    return AK_OK;
}

/* ---------------------------------------------------------------- RFC 3339 */

static int64_t s_days_from_civil(int64_t y, unsigned m, unsigned d) {
    /* H. Hinnant's days_from_civil: days since 1970-01-01 in the proleptic Gregorian calendar. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool s_num(ak_cur t, size_t off, size_t n, unsigned *out) {
    unsigned v = 0;
    if (off + n > t.len) return false;
    for (size_t i = 0; i < n; i++) {
        if (!s_digit(t.ptr[off + i])) return false;
        v = v * 10 + (t.ptr[off + i] - '0');
    }
    *out = v;
    return true;
}

ak_err ak_rfc3339_parse(ak_cur t, int64_t *unix_seconds) {
    unsigned Y, M, D, h, m, s;
    AK_ENSURE(s_num(t, 0, 4, &Y) && t.len > 19 && t.ptr[4] == '-' && s_num(t, 5, 2, &M) && t.ptr[7] == '-' &&
                  s_num(t, 8, 2, &D) && (t.ptr[10] == 'T' || t.ptr[10] == 't') && s_num(t, 11, 2, &h) &&
                  t.ptr[13] == ':' && s_num(t, 14, 2, &m) && t.ptr[16] == ':' && s_num(t, 17, 2, &s),
              BAD);
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    AK_ENSURE(M >= 1 && M <= 12 && D >= 1 && D <= mdays[M - 1] && h < 24 && m < 60 && s <= 60, BAD);
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    AK_ENSURE(!(M == 2 && D == 29 && !leap), BAD);
    size_t i = 19;
    if (i < t.len && t.ptr[i] == '.') {
        i++;
        size_t start = i;
        while (i < t.len && s_digit(t.ptr[i]))
            i++;
        AK_ENSURE(i > start, BAD);
    }
    AK_ENSURE(i < t.len, BAD);
    int64_t off = 0;
    if (t.ptr[i] == 'Z' || t.ptr[i] == 'z') {
        i++;
    } else {
        AK_ENSURE(t.ptr[i] == '+' || t.ptr[i] == '-', BAD);
        unsigned oh, om;
        AK_ENSURE(s_num(t, i + 1, 2, &oh) && i + 3 < t.len && t.ptr[i + 3] == ':' &&
                      s_num(t, i + 4, 2, &om) && oh < 24 && om < 60,
                  BAD);
        off = (int64_t)oh * 3600 + om * 60;
        if (t.ptr[i] == '-') off = -off;
        i += 6;
    }
    AK_ENSURE(i == t.len, BAD);
    int64_t days = s_days_from_civil(Y, M, D);
    *unix_seconds = days * 86400 + (int64_t)h * 3600 + (int64_t)m * 60 + (s == 60 ? 59 : s) - off;
    return AK_OK;
}

ak_err ak_rfc3339_format(int64_t t, char out[21]) {
    AK_ENSURE(t >= 0 && t < 253402300800LL, AK_E_INVALID_INPUT);
    int64_t days = t / 86400, secs = t % 86400;
    /* civil_from_days (Hinnant) */
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    /* Every field is range-bound by construction (y <= 9999 by the check above). */
    unsigned v[6] = {
        (unsigned)y % 10000u, m % 100u, d % 100u, (unsigned)(secs / 3600) % 100u, (unsigned)(secs / 60 % 60),
        (unsigned)(secs % 60)};
    static const size_t width[6] = {4, 2, 2, 2, 2, 2};
    static const char sep[6] = {'-', '-', 'T', ':', ':', 'Z'};
    size_t o = 0;
    for (int i = 0; i < 6; i++) {
        unsigned x = v[i];
        for (size_t k = width[i]; k > 0; k--) {
            out[o + k - 1] = (char)('0' + x % 10);
            x /= 10;
        }
        o += width[i];
        out[o++] = sep[i];
    }
    out[o] = 0;
    return AK_OK;
}

/* ---------------------------------------------------------------- parse */

ak_err ak_siwe_parse(ak_cur text, ak_siwe_msg *out) {
    AK_PRECOND(out != NULL);
    memset(out, 0, sizeof(*out));
    ak_siwe_msg m;
    memset(&m, 0, sizeof(m));
    AK_ENSURE(text.len <= AK_SIWE_MAX_MESSAGE, AK_E_LIMIT);
    AK_ENSURE(text.len > 0 && text.ptr != NULL, BAD);
    for (size_t i = 0; i < text.len; i++)
        AK_ENSURE(text.ptr[i] == '\n' || (text.ptr[i] >= 0x20 && text.ptr[i] < 0x7f), BAD);
    ak_cur rest = text, line, v;
    bool lf;

    /* 1. [scheme "://"] domain " wants you to sign in with your Ethereum account:" */
    AK_ENSURE(s_line(&rest, &line, &lf) && lf, BAD);
    size_t pl = strlen(AK_SIWE_PREAMBLE);
    AK_ENSURE(line.len > pl && memcmp(line.ptr + line.len - pl, AK_SIWE_PREAMBLE, pl) == 0, BAD);
    ak_cur dom = ak_cur_from(line.ptr, line.len - pl);
    for (size_t i = 0; i + 3 <= dom.len; i++) {
        if (memcmp(dom.ptr + i, "://", 3) == 0) {
            m.has_scheme = true;
            m.scheme = ak_cur_from(dom.ptr, i);
            dom = ak_cur_from(dom.ptr + i + 3, dom.len - i - 3);
            break;
        }
    }
    if (m.has_scheme) {
        AK_ENSURE(m.scheme.len > 0 && s_alpha(m.scheme.ptr[0]), BAD);
        for (size_t i = 1; i < m.scheme.len; i++) {
            uint8_t c = m.scheme.ptr[i];
            AK_ENSURE(s_alpha(c) || s_digit(c) || c == '+' || c == '-' || c == '.', BAD);
        }
    }
    AK_GUARD(s_authority(dom));
    m.domain = dom;

    /* 2. address */
    AK_ENSURE(s_line(&rest, &line, &lf) && lf, BAD);
    AK_GUARD(s_address(line, m.address));
    m.address_text = line;

    /* 3. empty line, [statement LF], empty line */
    AK_ENSURE(s_line(&rest, &line, &lf) && lf && line.len == 0, BAD);
    AK_ENSURE(s_line(&rest, &line, &lf) && lf, BAD);
    if (line.len > 0) {
        for (size_t i = 0; i < line.len; i++) {
            uint8_t c = line.ptr[i];
            AK_ENSURE(s_unreserved(c) || s_sub_delim(c) || s_gen_delim(c) || c == ' ' || c == '%', BAD);
        }
        m.has_statement = true;
        m.statement = line;
        AK_ENSURE(s_line(&rest, &line, &lf) && lf && line.len == 0, BAD);
    }

    /* 4. the required fields, in order */
    AK_ENSURE(s_line(&rest, &line, &lf) && lf && s_prefix(line, "URI: ", &v), BAD);
    AK_GUARD(s_uri(v));
    m.uri = v;
    AK_ENSURE(s_line(&rest, &line, &lf) && lf && s_prefix(line, "Version: ", &v) && ak_cur_eq_str(v, "1"),
              BAD);
    m.version = v;
    AK_ENSURE(s_line(&rest, &line, &lf) && lf && s_prefix(line, "Chain ID: ", &v), BAD);
    /* Digits in canonical form: a leading zero would parse to the same chain id as the message
     * the broker issued while the signed bytes differ (found by siwe_parse_fuzz: the message
     * must re-format to exactly its own bytes). */
    AK_ENSURE(ak_cur_to_u64(v, &m.chain_id) == AK_OK && (v.len == 1 || v.ptr[0] != '0'), BAD);
    AK_ENSURE(s_line(&rest, &line, &lf) && lf && s_prefix(line, "Nonce: ", &v) && v.len >= 8, BAD);
    for (size_t i = 0; i < v.len; i++)
        AK_ENSURE(s_alpha(v.ptr[i]) || s_digit(v.ptr[i]), BAD);
    m.nonce = v;
    AK_ENSURE(s_line(&rest, &line, &lf) && s_prefix(line, "Issued At: ", &v), BAD);
    AK_GUARD(ak_rfc3339_parse(v, &m.issued_at_unix));
    m.issued_at = v;

    /* 5. optional fields, each at most once, in order */
    int stage = 0; /* 1 exp, 2 nbf, 3 request id, 4 resources */
    while (lf) {
        AK_ENSURE(s_line(&rest, &line, &lf), BAD);
        if (stage < 1 && s_prefix(line, "Expiration Time: ", &v)) {
            AK_GUARD(ak_rfc3339_parse(v, &m.expiration_unix));
            m.has_expiration = true;
            m.expiration_time = v;
            stage = 1;
        } else if (stage < 2 && s_prefix(line, "Not Before: ", &v)) {
            AK_GUARD(ak_rfc3339_parse(v, &m.not_before_unix));
            m.has_not_before = true;
            m.not_before = v;
            stage = 2;
        } else if (stage < 3 && s_prefix(line, "Request ID: ", &v)) {
            for (size_t i = 0; i < v.len; i++) {
                uint8_t c = v.ptr[i];
                if (c == '%') {
                    AK_ENSURE(s_pct_ok(v, i), BAD);
                    continue;
                }
                AK_ENSURE(s_unreserved(c) || s_sub_delim(c) || c == ':' || c == '@', BAD);
            }
            m.has_request_id = true;
            m.request_id = v;
            stage = 3;
        } else if (stage < 4 && ak_cur_eq_str(line, "Resources:")) {
            m.has_resources = true;
            stage = 4;
            while (lf) {
                AK_ENSURE(s_line(&rest, &line, &lf) && s_prefix(line, "- ", &v), BAD);
                AK_GUARD(s_uri(v));
                AK_ENSURE(m.n_resources < AK_SIWE_MAX_RESOURCES, AK_E_LIMIT);
                m.resources[m.n_resources++] = v;
            }
        } else {
            return BAD;
        }
    }
    *out = m;
    return AK_OK;
}

/* ---------------------------------------------------------------- format */

ak_err ak_siwe_format(const ak_siwe_msg *m, ak_buf *out) {
    AK_PRECOND(m != NULL && out != NULL);
    size_t start = out->len;
    ak_err rc = AK_OK;
    if (m->has_scheme) {
        AK_GUARD_OUT(ak_buf_append_cur(out, m->scheme));
        AK_GUARD_OUT(ak_buf_append_str(out, "://"));
    }
    AK_GUARD_OUT(ak_buf_append_cur(out, m->domain));
    AK_GUARD_OUT(ak_buf_append_str(out, AK_SIWE_PREAMBLE "\n"));
    if (m->address_text.len > 0) {
        AK_GUARD_OUT(ak_buf_append_cur(out, m->address_text));
    } else {
        char a[43];
        ak_eth_address_eip55(m->address, a);
        AK_GUARD_OUT(ak_buf_append_str(out, a));
    }
    AK_GUARD_OUT(ak_buf_append_str(out, "\n\n"));
    if (m->has_statement) {
        AK_GUARD_OUT(ak_buf_append_cur(out, m->statement));
        AK_GUARD_OUT(ak_buf_append_str(out, "\n"));
    }
    AK_GUARD_OUT(ak_buf_append_str(out, "\nURI: "));
    AK_GUARD_OUT(ak_buf_append_cur(out, m->uri));
    AK_GUARD_OUT(ak_buf_append_str(out, "\nVersion: "));
    AK_GUARD_OUT(ak_buf_append_cur(out, m->version.len ? m->version : AK_CUR_LIT("1")));
    AK_GUARD_OUT(ak_buf_printf(out, "\nChain ID: %llu\nNonce: ", (unsigned long long)m->chain_id));
    AK_GUARD_OUT(ak_buf_append_cur(out, m->nonce));
    AK_GUARD_OUT(ak_buf_append_str(out, "\nIssued At: "));
    AK_GUARD_OUT(ak_buf_append_cur(out, m->issued_at));
    if (m->has_expiration) {
        AK_GUARD_OUT(ak_buf_append_str(out, "\nExpiration Time: "));
        AK_GUARD_OUT(ak_buf_append_cur(out, m->expiration_time));
    }
    if (m->has_not_before) {
        AK_GUARD_OUT(ak_buf_append_str(out, "\nNot Before: "));
        AK_GUARD_OUT(ak_buf_append_cur(out, m->not_before));
    }
    if (m->has_request_id) {
        AK_GUARD_OUT(ak_buf_append_str(out, "\nRequest ID: "));
        AK_GUARD_OUT(ak_buf_append_cur(out, m->request_id));
    }
    if (m->has_resources || m->n_resources > 0) {
        AK_GUARD_OUT(ak_buf_append_str(out, "\nResources:"));
        for (size_t i = 0; i < m->n_resources; i++) {
            AK_GUARD_OUT(ak_buf_append_str(out, "\n- "));
            AK_GUARD_OUT(ak_buf_append_cur(out, m->resources[i]));
        }
    }
out:
    if (rc != AK_OK) {
        out->len = start;
        if (out->ptr) out->ptr[start] = 0;
    }
    return rc;
}

/* ---------------------------------------------------------------- EIP-191 recovery */

ak_err ak_siwe_recover(ak_cur message, ak_cur sig_hex, uint8_t addr[20]) {
    uint8_t sig[65], digest[32];
    AK_ENSURE(sig_hex.len == 132 && sig_hex.ptr[0] == '0' && sig_hex.ptr[1] == 'x', AK_E_SIWE_SIGNATURE);
    AK_ENSURE(ak_hex_decode_exact(sig_hex, true, sig, 65) == AK_OK, AK_E_SIWE_SIGNATURE);
    ak_eip191_hash(message.ptr, message.len, digest);
    AK_ENSURE(ak_secp256k1_recover(digest, sig, addr) == AK_OK, AK_E_SIWE_SIGNATURE);
    return AK_OK;
}
