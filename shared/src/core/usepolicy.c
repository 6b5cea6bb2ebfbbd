/* usepolicy.c — use policies, framing, request checks, injection, redaction (see ak/usepolicy.h). */
#include "ak/usepolicy.h"

#include <stdio.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/ct.h"
#include "ak/json.h"

static const char *const s_method_names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
#define S_N_METHODS (sizeof(s_method_names) / sizeof(s_method_names[0]))

/* Framing and hop-by-hop headers an agent may not set and the policy may not inject; plus the
 * ones that would defeat redaction: accept-encoding (a compressed echo hides the secret from
 * it) and range / if-range (an echo read a few bytes at a time is the secret in pieces
 * shorter than any needle). */
static const char *const s_forbidden_headers[] = {
    "host",    "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
    "upgrade", "expect",         "accept-encoding",   "range",      "if-range"};

/* ================================================================ small predicates */

static bool s_tchar(uint8_t c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool s_token(ak_cur s, size_t max) {
    if (s.len == 0 || s.len > max) return false;
    for (size_t i = 0; i < s.len; i++)
        if (!s_tchar(s.ptr[i])) return false;
    return true;
}

static bool s_printable(ak_cur s, size_t max) {
    if (s.len > max) return false;
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] < 0x20 || s.ptr[i] > 0x7e) return false;
    return true;
}

static bool s_forbidden_header(ak_cur name) {
    for (size_t i = 0; i < sizeof(s_forbidden_headers) / sizeof(s_forbidden_headers[0]); i++)
        if (ak_cur_eq_nocase(name, ak_cur_from_str(s_forbidden_headers[i]))) return true;
    return name.len >= 6 && ak_cur_eq_nocase(ak_cur_from(name.ptr, 6), AK_CUR_LIT("proxy-"));
}

/* DNS name, lowercase, ≥ 2 labels, last label not all digits (no IPv4 literal). */
static bool s_dns_name(ak_cur s) {
    if (s.len == 0 || s.len > AK_USE_MAX_HOST) return false;
    size_t labels = 0, lab = 0;
    bool last_digits = true;
    for (size_t i = 0; i <= s.len; i++) {
        if (i == s.len || s.ptr[i] == '.') {
            if (lab == 0 || lab > 63) return false;
            if (s.ptr[i - lab] == '-' || s.ptr[i - 1] == '-') return false;
            labels++;
            lab = 0;
            if (i < s.len) last_digits = true;
            continue;
        }
        uint8_t c = s.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
        if (!(c >= '0' && c <= '9')) last_digits = false;
        lab++;
    }
    /* "localhost" is one label: allowed only because local stacks need it (the destination
     * check still refuses loopback unless the deployment allows it). */
    if (labels < 2 && !ak_cur_eq_str(s, "localhost")) return false;
    return !last_digits;
}

static bool s_port(ak_cur s, unsigned *out) {
    if (s.len == 0 || s.len > 5 || s.ptr[0] == '0') return false;
    unsigned v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') return false;
        v = v * 10u + (unsigned)(s.ptr[i] - '0');
    }
    if (v == 0 || v > 65535u) return false;
    *out = v;
    return true;
}

unsigned ak_use_method_bit(ak_cur m) {
    for (size_t i = 0; i < S_N_METHODS; i++)
        if (ak_cur_eq_str(m, s_method_names[i])) return 1u << i;
    return 0;
}

/* ================================================================ policy */

static ak_err s_host_entry(ak_cur s, ak_use_host *h) {
    memset(h, 0, sizeof(*h));
    h->port = 443;
    long colon = ak_cur_find(s, ':');
    if (colon >= 0) {
        AK_ENSURE(s_port(ak_cur_from(s.ptr + colon + 1, s.len - (size_t)colon - 1), &h->port),
                  AK_E_USE_POLICY_INVALID);
        h->has_port = true;
        s.len = (size_t)colon;
    }
    if (ak_cur_starts_with(s, AK_CUR_LIT("*."))) {
        h->wildcard = true;
        s = ak_cur_from(s.ptr + 2, s.len - 2);
        AK_ENSURE(!ak_cur_eq_str(s, "localhost"), AK_E_USE_POLICY_INVALID);
    }
    AK_ENSURE(s_dns_name(s), AK_E_USE_POLICY_INVALID);
    memcpy(h->name, s.ptr, s.len);
    h->name[s.len] = 0;
    return AK_OK;
}

static ak_err s_str_member(const json_t *o, const char *key, ak_cur *out) {
    const json_t *v = json_object_get(o, key);
    AK_ENSURE(json_is_string(v), AK_E_USE_POLICY_INVALID);
    *out = ak_cur_from(json_string_value(v), json_string_length(v));
    return AK_OK;
}

static ak_err s_inject(const json_t *o, ak_use_policy *p) {
    AK_ENSURE(json_is_object(o) && json_object_size(o) >= 1, AK_E_USE_POLICY_INVALID);
    ak_cur s;
    if (json_object_get(o, "header") != NULL) {
        static const char *const k[] = {"header", "template", NULL};
        AK_ENSURE(ak_json_only_keys(o, k) == AK_OK, AK_E_USE_POLICY_INVALID);
        p->inject = AK_USE_INJECT_HEADER;
        AK_GUARD(s_str_member(o, "header", &s));
        AK_ENSURE(s_token(s, AK_USE_MAX_HEADER_NAME) && !s_forbidden_header(s), AK_E_USE_POLICY_INVALID);
        memcpy(p->name, s.ptr, s.len);
        p->name[s.len] = 0;
        if (json_object_get(o, "template") != NULL) {
            AK_GUARD(s_str_member(o, "template", &s));
            AK_ENSURE(s_printable(s, sizeof(p->tmpl) - 1), AK_E_USE_POLICY_INVALID);
            const uint8_t *at = memmem(s.ptr, s.len, "{}", 2);
            AK_ENSURE(at != NULL, AK_E_USE_POLICY_INVALID);
            size_t rest = s.len - (size_t)(at - s.ptr) - 2;
            AK_ENSURE(memmem(at + 2, rest, "{}", 2) == NULL, AK_E_USE_POLICY_INVALID);
            memcpy(p->tmpl, s.ptr, s.len);
            p->tmpl[s.len] = 0;
            p->has_tmpl = true;
        } else {
            memcpy(p->tmpl, "{}", 3);
        }
    } else if (json_object_get(o, "basic") != NULL) {
        static const char *const k[] = {"basic", NULL};
        static const char *const kb[] = {"username", NULL};
        AK_ENSURE(ak_json_only_keys(o, k) == AK_OK, AK_E_USE_POLICY_INVALID);
        const json_t *b = json_object_get(o, "basic");
        AK_ENSURE(json_is_object(b) && ak_json_only_keys(b, kb) == AK_OK, AK_E_USE_POLICY_INVALID);
        p->inject = AK_USE_INJECT_BASIC;
        AK_GUARD(s_str_member(b, "username", &s));
        AK_ENSURE(s_printable(s, sizeof(p->username) - 1) && ak_cur_find(s, ':') < 0,
                  AK_E_USE_POLICY_INVALID);
        memcpy(p->username, s.ptr, s.len);
        p->username[s.len] = 0;
        memcpy(p->name, "Authorization", 14);
    } else {
        static const char *const k[] = {"query", NULL};
        AK_ENSURE(ak_json_only_keys(o, k) == AK_OK, AK_E_USE_POLICY_INVALID);
        p->inject = AK_USE_INJECT_QUERY;
        AK_GUARD(s_str_member(o, "query", &s));
        AK_ENSURE(s.len >= 1 && s.len <= 64, AK_E_USE_POLICY_INVALID);
        for (size_t i = 0; i < s.len; i++) {
            uint8_t c = s.ptr[i];
            AK_ENSURE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          strchr("._~-", c) != NULL,
                      AK_E_USE_POLICY_INVALID);
        }
        memcpy(p->name, s.ptr, s.len);
        p->name[s.len] = 0;
    }
    return AK_OK;
}

ak_err ak_use_policy_from_json(const json_t *o, ak_use_policy *out) {
    AK_PRECOND(out != NULL);
    memset(out, 0, sizeof(*out));
    static const char *const keys[] = {"v", "use_only", "allowed_hosts", "allowed_methods", "inject", NULL};
    AK_ENSURE(json_is_object(o), AK_E_USE_POLICY_INVALID);
    ak_err rc = ak_json_only_keys(o, keys);
    AK_ENSURE(rc != AK_E_NOMEM, rc);
    AK_ENSURE(rc == AK_OK, AK_E_USE_POLICY_INVALID);
    const json_t *v = json_object_get(o, "v");
    AK_ENSURE(v == NULL || (json_is_integer(v) && json_integer_value(v) == 1), AK_E_USE_POLICY_INVALID);
    const json_t *u = json_object_get(o, "use_only");
    AK_ENSURE(u == NULL || json_is_boolean(u), AK_E_USE_POLICY_INVALID);
    out->use_only = u != NULL && json_is_true(u);

    const json_t *hosts = json_object_get(o, "allowed_hosts");
    AK_ENSURE(json_is_array(hosts) && json_array_size(hosts) >= 1 &&
                  json_array_size(hosts) <= AK_USE_MAX_HOSTS,
              AK_E_USE_POLICY_INVALID);
    for (size_t i = 0; i < json_array_size(hosts); i++) {
        const json_t *h = json_array_get(hosts, i);
        AK_ENSURE(json_is_string(h), AK_E_USE_POLICY_INVALID);
        AK_GUARD(s_host_entry(ak_cur_from(json_string_value(h), json_string_length(h)), &out->hosts[i]));
        for (size_t j = 0; j < i; j++)
            AK_ENSURE(!(strcmp(out->hosts[j].name, out->hosts[i].name) == 0 &&
                        out->hosts[j].wildcard == out->hosts[i].wildcard &&
                        out->hosts[j].port == out->hosts[i].port),
                      AK_E_USE_POLICY_INVALID);
        out->n_hosts++;
    }

    const json_t *ms = json_object_get(o, "allowed_methods");
    out->methods = AK_USE_ALL_METHODS;
    if (ms != NULL) {
        AK_ENSURE(json_is_array(ms) && json_array_size(ms) >= 1 && json_array_size(ms) <= S_N_METHODS,
                  AK_E_USE_POLICY_INVALID);
        out->has_methods = true;
        out->methods = 0;
        for (size_t i = 0; i < json_array_size(ms); i++) {
            const json_t *m = json_array_get(ms, i);
            AK_ENSURE(json_is_string(m), AK_E_USE_POLICY_INVALID);
            unsigned bit = ak_use_method_bit(ak_cur_from(json_string_value(m), json_string_length(m)));
            AK_ENSURE(bit != 0 && (out->methods & bit) == 0, AK_E_USE_POLICY_INVALID);
            out->methods |= bit;
        }
    }
    return s_inject(json_object_get(o, "inject"), out);
}

static int s_set(json_t *o, const char *k, json_t *v) {
    return v == NULL ? -1 : json_object_set_new(o, k, v);
}

json_t *ak_use_policy_to_json(const ak_use_policy *p) {
    AK_PRECOND(p != NULL);
    json_t *o = json_object(), *hosts = json_array(), *inj = json_object();
    int bad = (o == NULL || hosts == NULL || inj == NULL) ? -1 : 0;
    for (size_t i = 0; bad == 0 && i < p->n_hosts; i++) {
        char h[AK_USE_MAX_HOST + 16];
        const ak_use_host *e = &p->hosts[i];
        if (e->has_port)
            snprintf(h, sizeof(h), "%s%s:%u", e->wildcard ? "*." : "", e->name, e->port);
        else
            snprintf(h, sizeof(h), "%s%s", e->wildcard ? "*." : "", e->name);
        bad |= json_array_append_new(hosts, json_string(h));
    }
    if (bad == 0 && p->has_methods) {
        json_t *ms = json_array();
        for (size_t i = 0; ms != NULL && i < S_N_METHODS; i++)
            if (p->methods & (1u << i)) bad |= json_array_append_new(ms, json_string(s_method_names[i]));
        bad |= s_set(o, "allowed_methods", ms);
    }
    if (bad == 0) {
        switch (p->inject) {
            case AK_USE_INJECT_HEADER:
                bad |= s_set(inj, "header", json_string(p->name));
                bad |= s_set(inj, "template", json_string(p->tmpl));
                break;
            case AK_USE_INJECT_BASIC: {
                json_t *b = json_object();
                if (b != NULL) bad |= s_set(b, "username", json_string(p->username));
                bad |= s_set(inj, "basic", b);
                break;
            }
            default:
                bad |= s_set(inj, "query", json_string(p->name));
                break;
        }
    }
    if (bad == 0) {
        bad |= s_set(o, "allowed_hosts", hosts);
        hosts = NULL;
        bad |= s_set(o, "inject", inj);
        inj = NULL;
        bad |= s_set(o, "use_only", json_boolean(p->use_only));
        bad |= s_set(o, "v", json_integer(1));
    }
    if (hosts) json_decref(hosts);
    if (inj) json_decref(inj);
    if (bad != 0) {
        if (o) json_decref(o);
        return NULL;
    }
    return o;
}

ak_err ak_use_policy_encode(const ak_use_policy *p, ak_buf *out) {
    json_t *o = ak_use_policy_to_json(p);
    AK_ENSURE(o != NULL, AK_E_NOMEM);
    ak_err rc = ak_json_dump_sorted(o, out);
    json_decref(o);
    return rc;
}

ak_err ak_use_secret_check(ak_cur secret) {
    AK_ENSURE(secret.len >= AK_USE_SECRET_MIN && secret.len <= AK_USE_SECRET_MAX, AK_E_USE_POLICY_INVALID);
    AK_ENSURE(s_printable(secret, AK_USE_SECRET_MAX), AK_E_USE_POLICY_INVALID);
    return AK_OK;
}

ak_err ak_use_frame(const ak_use_policy *p, ak_cur secret, ak_buf *out) {
    AK_PRECOND(p != NULL && out != NULL && out->secret);
    AK_GUARD(ak_use_secret_check(secret));
    ak_buf enc;
    ak_buf_init(&enc, AK_USE_MAX_POLICY);
    ak_err rc = ak_use_policy_encode(p, &enc);
    if (rc == AK_E_LIMIT) rc = AK_E_USE_POLICY_INVALID;
    size_t start = out->len;
    if (rc == AK_OK) {
        uint8_t l[2] = {(uint8_t)(enc.len >> 8), (uint8_t)enc.len};
        rc = ak_buf_append(out, l, 2);
    }
    if (rc == AK_OK) rc = ak_buf_append_cur(out, ak_buf_cur(&enc));
    if (rc == AK_OK) rc = ak_buf_append_cur(out, secret);
    if (rc != AK_OK && out->ptr != NULL) {
        ak_wipe(out->ptr + start, out->len - start);
        out->len = start;
        out->ptr[start] = 0;
    }
    ak_buf_free(&enc);
    return rc;
}

ak_err ak_use_unframe(ak_cur plain, ak_use_policy *p, ak_cur *secret) {
    AK_PRECOND(p != NULL && secret != NULL);
    AK_ENSURE(plain.len >= 2, AK_E_DECRYPT_FAILED);
    size_t l = ((size_t)plain.ptr[0] << 8) | plain.ptr[1];
    AK_ENSURE(l >= 1 && l <= AK_USE_MAX_POLICY && plain.len >= 2 + l, AK_E_DECRYPT_FAILED);
    ak_cur text = ak_cur_from(plain.ptr + 2, l);
    json_t *o = NULL;
    ak_err rc = ak_json_parse_object(text, &o);
    if (rc == AK_OK) rc = ak_use_policy_from_json(o, p);
    if (o) json_decref(o);
    if (rc == AK_OK) {
        /* Only the canonical bytes: one policy has one encoding (docs/spec/use-policy.md §2). */
        ak_buf again;
        ak_buf_init(&again, AK_USE_MAX_POLICY);
        rc = ak_use_policy_encode(p, &again);
        if (rc == AK_OK && !ak_cur_eq(ak_buf_cur(&again), text)) rc = AK_E_DECRYPT_FAILED;
        ak_buf_free(&again);
    }
    if (rc != AK_OK) {
        memset(p, 0, sizeof(*p));
        return rc == AK_E_NOMEM ? rc : AK_E_DECRYPT_FAILED;
    }
    *secret = ak_cur_from(plain.ptr + 2 + l, plain.len - 2 - l);
    return AK_OK;
}

/* ================================================================ host match */

bool ak_use_host_allowed(const ak_use_policy *p, ak_cur host, unsigned port) {
    AK_PRECOND(p != NULL);
    for (size_t i = 0; i < p->n_hosts; i++) {
        const ak_use_host *e = &p->hosts[i];
        if (e->port != port) continue;
        ak_cur name = ak_cur_from_str(e->name);
        if (!e->wildcard) {
            if (ak_cur_eq(host, name)) return true;
            continue;
        }
        /* "*.suffix": at least one label, then ".", then exactly the suffix. */
        if (host.len < name.len + 2) continue;
        const uint8_t *tail = host.ptr + host.len - name.len;
        if (tail[-1] == '.' && memcmp(tail, name.ptr, name.len) == 0) return true;
    }
    return false;
}

/* ================================================================ plan */

void ak_use_call_init(ak_use_call *c) {
    memset(c, 0, sizeof(*c));
    ak_buf_init_secret(&c->url, AK_USE_MAX_URL * 4u);
    ak_buf_init(&c->path, AK_USE_MAX_URL);
    ak_buf_init_secret(&c->values, 256u * 1024u);
}

void ak_use_call_free(ak_use_call *c) {
    ak_buf_free(&c->url);
    ak_buf_free(&c->path);
    ak_buf_free(&c->values);
    c->n_headers = 0;
}

static ak_err s_add_header(ak_use_call *c, ak_cur name, ak_cur v1, ak_cur v2, ak_cur v3) {
    AK_ENSURE(c->n_headers <= AK_USE_MAX_HEADERS, AK_E_LIMIT);
    AK_ENSURE(name.len <= AK_USE_MAX_HEADER_NAME, AK_E_INVALID_INPUT);
    memcpy(c->names[c->n_headers], name.ptr, name.len);
    c->names[c->n_headers][name.len] = 0;
    c->voff[c->n_headers] = c->values.len;
    AK_GUARD(ak_buf_append_cur(&c->values, v1));
    AK_GUARD(ak_buf_append_cur(&c->values, v2));
    AK_GUARD(ak_buf_append_cur(&c->values, v3));
    AK_GUARD(ak_buf_append_byte(&c->values, 0));
    c->n_headers++;
    return AK_OK;
}

/* RFC 3986 unreserved stay; everything else %XX (upper hex). */
static ak_err s_pct(ak_buf *out, ak_cur s, bool lower, bool plus_space) {
    static const char up[] = "0123456789ABCDEF", lo[] = "0123456789abcdef";
    const char *hx = lower ? lo : up;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t ch = s.ptr[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            AK_GUARD(ak_buf_append_byte(out, ch));
        } else if (plus_space && ch == ' ') {
            AK_GUARD(ak_buf_append_byte(out, '+'));
        } else {
            uint8_t t[3] = {'%', (uint8_t)hx[ch >> 4], (uint8_t)hx[ch & 15]};
            AK_GUARD(ak_buf_append(out, t, 3));
        }
    }
    return AK_OK;
}

/* Does the query name parameter `name` (exactly, before '=' or alone)? */
static bool s_query_has(ak_cur q, const char *name) {
    ak_cur n = ak_cur_from_str(name);
    while (q.len > 0) {
        ak_cur part;
        if (!ak_cur_split(&q, '&', &part)) {
            part = q;
            q.len = 0;
        }
        long eq = ak_cur_find(part, '=');
        ak_cur k = eq >= 0 ? ak_cur_from(part.ptr, (size_t)eq) : part;
        if (ak_cur_eq(k, n)) return true;
    }
    return false;
}

static bool s_ip_literal(ak_cur h) {
    if (h.len > 0 && h.ptr[0] == '[') return true;
    /* all digits and dots (IPv4 in any of its inet_aton spellings) */
    bool digits = true;
    for (size_t i = 0; i < h.len; i++)
        if (!((h.ptr[i] >= '0' && h.ptr[i] <= '9') || h.ptr[i] == '.')) digits = false;
    if (digits) return true;
    /* 0x7f.1, 10.0x1 and friends: a numeric last label makes the name an address to inet_aton */
    long last = -1;
    for (size_t i = 0; i < h.len; i++)
        if (h.ptr[i] == '.') last = (long)i;
    ak_cur lab = ak_cur_from(h.ptr + last + 1, h.len - (size_t)(last + 1));
    long colon = ak_cur_find(lab, ':');
    if (colon >= 0) lab.len = (size_t)colon;
    bool all_digits = lab.len > 0;
    for (size_t i = 0; i < lab.len; i++)
        if (lab.ptr[i] < '0' || lab.ptr[i] > '9') all_digits = false;
    return all_digits || (lab.len >= 2 && lab.ptr[0] == '0' && (lab.ptr[1] == 'x' || lab.ptr[1] == 'X'));
}

ak_err ak_use_plan(const ak_use_policy *p, ak_cur secret, ak_cur method, ak_cur url, const json_t *headers,
                   ak_use_call *out) {
    AK_PRECOND(p != NULL && out != NULL);
    unsigned bit = ak_use_method_bit(method);
    AK_ENSURE(bit != 0, AK_E_INVALID_INPUT);
    memcpy(out->method, method.ptr, method.len);
    out->method[method.len] = 0;

    /* scheme */
    long colon = ak_cur_find(url, ':');
    AK_ENSURE(colon > 0, AK_E_INVALID_INPUT);
    AK_ENSURE(ak_cur_eq_nocase(ak_cur_from(url.ptr, (size_t)colon), AK_CUR_LIT("https")),
              AK_E_SCHEME_NOT_ALLOWED);
    AK_ENSURE(url.len <= AK_USE_MAX_URL && s_printable(url, AK_USE_MAX_URL), AK_E_INVALID_INPUT);
    AK_ENSURE(ak_cur_find(url, ' ') < 0 && ak_cur_find(url, '#') < 0 && ak_cur_find(url, '\\') < 0,
              AK_E_INVALID_INPUT);
    ak_cur rest = ak_cur_from(url.ptr + colon + 1, url.len - (size_t)colon - 1);
    AK_ENSURE(ak_cur_starts_with(rest, AK_CUR_LIT("//")), AK_E_INVALID_INPUT);
    rest = ak_cur_from(rest.ptr + 2, rest.len - 2);

    /* authority = host[:port], up to '/', '?' or the end */
    size_t a = 0;
    while (a < rest.len && rest.ptr[a] != '/' && rest.ptr[a] != '?')
        a++;
    ak_cur auth = ak_cur_from(rest.ptr, a), tail = ak_cur_from(rest.ptr + a, rest.len - a);
    AK_ENSURE(ak_cur_find(auth, '@') < 0, AK_E_INVALID_INPUT);
    AK_ENSURE(!s_ip_literal(auth), AK_E_HOST_NOT_ALLOWED);
    unsigned port = 443;
    long pc = ak_cur_find(auth, ':');
    ak_cur host = auth;
    if (pc >= 0) {
        AK_ENSURE(s_port(ak_cur_from(auth.ptr + pc + 1, auth.len - (size_t)pc - 1), &port),
                  AK_E_INVALID_INPUT);
        host.len = (size_t)pc;
    }
    AK_ENSURE(host.len > 0 && host.len <= AK_USE_MAX_HOST, AK_E_INVALID_INPUT);
    for (size_t i = 0; i < host.len; i++) {
        char ch = (char)host.ptr[i];
        out->host[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    out->host[host.len] = 0;
    out->port = port;
    ak_cur lhost = ak_cur_from_str(out->host);
    AK_ENSURE(s_dns_name(lhost), AK_E_INVALID_INPUT);
    AK_ENSURE(ak_use_host_allowed(p, lhost, port), AK_E_HOST_NOT_ALLOWED);
    AK_ENSURE((p->methods & bit) != 0, AK_E_METHOD_NOT_ALLOWED);

    /* path and query */
    ak_cur path = tail, query = {NULL, 0};
    bool has_query = false;
    long q = ak_cur_find(tail, '?');
    if (q >= 0) {
        path = ak_cur_from(tail.ptr, (size_t)q);
        query = ak_cur_from(tail.ptr + q + 1, tail.len - (size_t)q - 1);
        has_query = true;
    }
    if (path.len == 0) path = AK_CUR_LIT("/");

    /* agent headers */
    if (headers != NULL) {
        AK_ENSURE(json_is_object(headers) && json_object_size(headers) <= AK_USE_MAX_HEADERS,
                  AK_E_INVALID_INPUT);
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)(uintptr_t)headers, k, v) {
            ak_cur name = ak_cur_from_str(k), val;
            AK_ENSURE(json_is_string(v), AK_E_INVALID_INPUT);
            val = ak_cur_from(json_string_value(v), json_string_length(v));
            AK_ENSURE(s_token(name, AK_USE_MAX_HEADER_NAME) && !s_forbidden_header(name), AK_E_INVALID_INPUT);
            AK_ENSURE(val.len <= 8192u, AK_E_INVALID_INPUT);
            for (size_t i = 0; i < val.len; i++)
                AK_ENSURE(val.ptr[i] == '\t' || (val.ptr[i] >= 0x20 && val.ptr[i] != 0x7f),
                          AK_E_INVALID_INPUT);
            /* The agent never sets the header that carries the secret. */
            AK_ENSURE(p->inject == AK_USE_INJECT_QUERY || !ak_cur_eq_nocase(name, ak_cur_from_str(p->name)),
                      AK_E_INVALID_INPUT);
            AK_GUARD(s_add_header(out, name, val, (ak_cur){NULL, 0}, (ak_cur){NULL, 0}));
        }
    }
    if (p->inject == AK_USE_INJECT_QUERY) AK_ENSURE(!s_query_has(query, p->name), AK_E_INVALID_INPUT);

    /* the URL we call: scheme and host normalised, path and query as given */
    AK_GUARD(ak_buf_append_str(&out->url, "https://"));
    AK_GUARD(ak_buf_append_str(&out->url, out->host));
    if (pc >= 0) AK_GUARD(ak_buf_printf(&out->url, ":%u", port));
    AK_GUARD(ak_buf_append_cur(&out->url, path));
    AK_GUARD(ak_buf_append_cur(&out->path, path));
    if (has_query || p->inject == AK_USE_INJECT_QUERY) AK_GUARD(ak_buf_append_byte(&out->url, '?'));
    AK_GUARD(ak_buf_append_cur(&out->url, query));

    /* the secret, where the policy says */
    switch (p->inject) {
        case AK_USE_INJECT_HEADER: {
            ak_cur t = ak_cur_from_str(p->tmpl);
            const uint8_t *at = memmem(t.ptr, t.len, "{}", 2);
            AK_ENSURE(at != NULL, AK_E_INTERNAL);
            size_t pre = (size_t)(at - t.ptr);
            AK_GUARD(s_add_header(out, ak_cur_from_str(p->name), ak_cur_from(t.ptr, pre), secret,
                                  ak_cur_from(at + 2, t.len - pre - 2)));
            break;
        }
        case AK_USE_INJECT_BASIC: {
            ak_buf up, b64;
            ak_buf_init_secret(&up, 512u + AK_USE_SECRET_MAX);
            ak_buf_init_secret(&b64, 1024u + AK_USE_SECRET_MAX * 2u);
            ak_err rc = ak_buf_append_str(&up, p->username);
            if (rc == AK_OK) rc = ak_buf_append_byte(&up, ':');
            if (rc == AK_OK) rc = ak_buf_append_cur(&up, secret);
            if (rc == AK_OK) rc = ak_b64_encode(up.ptr, up.len, &b64);
            if (rc == AK_OK)
                rc = s_add_header(out, AK_CUR_LIT("Authorization"), AK_CUR_LIT("Basic "), ak_buf_cur(&b64),
                                  (ak_cur){NULL, 0});
            ak_buf_free(&up);
            ak_buf_free(&b64);
            AK_GUARD(rc);
            break;
        }
        default:
            if (query.len > 0) AK_GUARD(ak_buf_append_byte(&out->url, '&'));
            AK_GUARD(ak_buf_append_str(&out->url, p->name));
            AK_GUARD(ak_buf_append_byte(&out->url, '='));
            AK_GUARD(s_pct(&out->url, secret, false, false));
            break;
    }
    return AK_OK;
}

/* ================================================================ redaction */

static const char s_b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char s_b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Base64 of (k zero bytes ‖ s), alphabet `alpha`, unpadded, into `tmp`; then the characters
 * whose 6 bits lie wholly inside s's bits: those appear whenever s sits at offset ≡ k (mod 3)
 * inside a longer encoded string, whatever surrounds it. */
static ak_err s_b64_core(ak_cur s, unsigned k, const char *alpha, ak_buf *out) {
    size_t nbits = 8u * (k + s.len);
    size_t first = (8u * k + 5u) / 6u; /* ceil(8k / 6) */
    size_t last = nbits / 6u;          /* chars [first, last) are whole inside s */
    for (size_t i = first; i < last; i++) {
        size_t bit = 6u * i;
        unsigned v = 0;
        for (unsigned j = 0; j < 6; j++) {
            size_t b = bit + j, byte = b / 8u;
            unsigned by = byte < k ? 0u : s.ptr[byte - k];
            v = (v << 1) | ((by >> (7u - b % 8u)) & 1u);
        }
        AK_GUARD(ak_buf_append_byte(out, (uint8_t)alpha[v]));
    }
    return AK_OK;
}

static ak_err s_needle_end(ak_use_redactor *r, size_t start) {
    size_t len = r->text.len - start;
    if (len < 6) { /* too short to redact without mangling unrelated text */
        r->text.len = start;
        return AK_OK;
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->len[i] == len && memcmp(r->text.ptr + r->off[i], r->text.ptr + start, len) == 0) {
            ak_wipe(r->text.ptr + start, len);
            r->text.len = start;
            return AK_OK;
        }
    AK_ENSURE(r->n < AK_USE_MAX_NEEDLES, AK_E_LIMIT);
    r->off[r->n] = start;
    r->len[r->n] = len;
    r->n++;
    return AK_OK;
}

/* FNV-1a of one window: collisions only cost a memcmp. */
static uint64_t s_whash(const uint8_t *p) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < AK_USE_FRAGMENT; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* The sorted (hash, offset) table of every AK_USE_FRAGMENT-byte window of the secret. */
static ak_err s_windows(ak_use_redactor *r, ak_cur s) {
    ak_buf_init_secret(&r->raw, s.len + 1);
    AK_GUARD(ak_buf_append_cur(&r->raw, s));
    if (s.len <= AK_USE_FRAGMENT) return AK_OK; /* the raw needle covers it */
    size_t n = s.len - AK_USE_FRAGMENT + 1;
    r->wh = ak_calloc(n, sizeof(*r->wh));
    r->wo = ak_calloc(n, sizeof(*r->wo));
    AK_ENSURE(r->wh != NULL && r->wo != NULL, AK_E_NOMEM);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = s_whash(s.ptr + i);
        size_t j = i;
        for (; j > 0 && r->wh[j - 1] > h; j--) { /* insertion: n ≤ 4085 */
            r->wh[j] = r->wh[j - 1];
            r->wo[j] = r->wo[j - 1];
        }
        r->wh[j] = h;
        r->wo[j] = (uint32_t)i;
    }
    r->nw = n;
    return AK_OK;
}

static bool s_window_hit(const ak_use_redactor *r, const uint8_t *p) {
    uint64_t h = s_whash(p);
    size_t lo = 0, hi = r->nw;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->wh[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < r->nw && r->wh[lo] == h; lo++)
        if (memcmp(r->raw.ptr + r->wo[lo], p, AK_USE_FRAGMENT) == 0) return true;
    return false;
}

/* Replaces every maximal run covered by secret windows with one marker. */
static ak_err s_redact_fragments(const ak_use_redactor *r, ak_buf *data, ak_buf *tmp, size_t *count) {
    if (r->nw == 0 || data->len < AK_USE_FRAGMENT) return AK_OK;
    ak_cur d = ak_buf_cur(data);
    size_t pos = 0, copied = 0;
    bool any = false;
    ak_buf_clear(tmp);
    while (pos + AK_USE_FRAGMENT <= d.len) {
        if (!s_window_hit(r, d.ptr + pos)) {
            pos++;
            continue;
        }
        size_t end = pos + AK_USE_FRAGMENT;
        /* extend while the next window is also a piece of the secret */
        while (end + 1 <= d.len && s_window_hit(r, d.ptr + end + 1 - AK_USE_FRAGMENT))
            end++;
        AK_GUARD(ak_buf_append(tmp, d.ptr + copied, pos - copied));
        AK_GUARD(ak_buf_append_str(tmp, AK_USE_REDACTED));
        (*count)++;
        any = true;
        copied = pos = end;
    }
    if (!any) return AK_OK;
    AK_GUARD(ak_buf_append(tmp, d.ptr + copied, d.len - copied));
    ak_buf_clear(data);
    return ak_buf_append_cur(data, ak_buf_cur(tmp));
}

ak_err ak_use_redactor_init(ak_use_redactor *r, ak_cur s) {
    AK_PRECOND(r != NULL);
    memset(r, 0, sizeof(*r));
    ak_buf_init_secret(&r->text, 64u * (AK_USE_SECRET_MAX + 16u));
    ak_err rc = AK_OK;
    size_t st;
#define S_NEEDLE(expr)                                                                                       \
    do {                                                                                                     \
        st = r->text.len;                                                                                    \
        AK_GUARD_OUT(expr);                                                                                  \
        AK_GUARD_OUT(s_needle_end(r, st));                                                                   \
    } while (0)
    S_NEEDLE(ak_buf_append_cur(&r->text, s));
    S_NEEDLE(ak_b64_encode(s.ptr, s.len, &r->text));
    S_NEEDLE(ak_b64url_encode(s.ptr, s.len, &r->text));
    for (unsigned k = 0; k < 3; k++) {
        S_NEEDLE(s_b64_core(s, k, s_b64std, &r->text));
        S_NEEDLE(s_b64_core(s, k, s_b64url, &r->text));
    }
    S_NEEDLE(s_pct(&r->text, s, false, false));
    S_NEEDLE(s_pct(&r->text, s, true, false));
    S_NEEDLE(s_pct(&r->text, s, false, true));
    /* JSON string escaping of '"', '\' and '/' (the only printable ASCII a JSON writer escapes). */
    st = r->text.len;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t ch = s.ptr[i];
        if (ch == '"' || ch == '\\' || ch == '/') AK_GUARD_OUT(ak_buf_append_byte(&r->text, '\\'));
        AK_GUARD_OUT(ak_buf_append_byte(&r->text, ch));
    }
    AK_GUARD_OUT(s_needle_end(r, st));
    S_NEEDLE(ak_buf_append_hex(&r->text, s.ptr, s.len));
    st = r->text.len;
    AK_GUARD_OUT(ak_buf_append_hex(&r->text, s.ptr, s.len));
    for (size_t i = st; i < r->text.len; i++)
        if (r->text.ptr[i] >= 'a' && r->text.ptr[i] <= 'f') r->text.ptr[i] = (uint8_t)(r->text.ptr[i] - 32);
    AK_GUARD_OUT(s_needle_end(r, st));
#undef S_NEEDLE
    AK_GUARD_OUT(s_windows(r, s));
    /* longest first: a longer form is removed whole before a shorter one can split it */
    for (size_t i = 1; i < r->n; i++)
        for (size_t j = i; j > 0 && r->len[j - 1] < r->len[j]; j--) {
            size_t o = r->off[j], l = r->len[j];
            r->off[j] = r->off[j - 1];
            r->len[j] = r->len[j - 1];
            r->off[j - 1] = o;
            r->len[j - 1] = l;
        }
out:
    if (rc != AK_OK) ak_use_redactor_free(r);
    return rc;
}

void ak_use_redactor_free(ak_use_redactor *r) {
    if (r == NULL) return;
    ak_buf_free(&r->text);
    ak_buf_free(&r->raw);
    if (r->wh != NULL) ak_free_secure(r->wh, r->nw * sizeof(*r->wh));
    if (r->wo != NULL) ak_free(r->wo);
    r->wh = NULL;
    r->wo = NULL;
    r->nw = 0;
    r->n = 0;
}

static bool s_has_any(const ak_use_redactor *r, ak_cur d) {
    for (size_t i = 0; i < r->n; i++)
        if (d.len >= r->len[i] && memmem(d.ptr, d.len, r->text.ptr + r->off[i], r->len[i]) != NULL)
            return true;
    return false;
}

ak_err ak_use_redact(const ak_use_redactor *r, ak_buf *data, size_t *count) {
    AK_PRECOND(r != NULL && data != NULL && count != NULL);
    ak_buf tmp;
    ak_err rc = AK_OK;
    ak_buf_init_secret(&tmp, data->max + data->max / 2u + 64u);
    /* A replacement could in principle complete a needle across its edges; a few passes settle
     * it, and the final check fails closed if not. */
    for (unsigned pass = 0; pass < 4 && s_has_any(r, ak_buf_cur(data)); pass++) {
        for (size_t i = 0; i < r->n; i++) {
            const uint8_t *nd = r->text.ptr + r->off[i];
            size_t nl = r->len[i];
            ak_cur d = ak_buf_cur(data);
            if (d.len < nl || memmem(d.ptr, d.len, nd, nl) == NULL) continue;
            ak_buf_clear(&tmp);
            size_t pos = 0;
            while (pos < d.len) {
                const uint8_t *hit = d.len - pos >= nl ? memmem(d.ptr + pos, d.len - pos, nd, nl) : NULL;
                size_t upto = hit ? (size_t)(hit - d.ptr) : d.len;
                AK_GUARD_OUT(ak_buf_append(&tmp, d.ptr + pos, upto - pos));
                if (!hit) break;
                AK_GUARD_OUT(ak_buf_append_str(&tmp, AK_USE_REDACTED));
                (*count)++;
                pos = upto + nl;
            }
            ak_buf_clear(data);
            AK_GUARD_OUT(ak_buf_append_cur(data, ak_buf_cur(&tmp)));
        }
    }
    AK_GUARD_OUT(s_redact_fragments(r, data, &tmp, count));
    AK_ENSURE_OUT(!s_has_any(r, ak_buf_cur(data)), AK_E_REDACTION_FAILED);
out:
    if (rc != AK_OK) ak_buf_clear(data);
    ak_buf_free(&tmp);
    return rc == AK_E_LIMIT ? AK_E_USE_RESPONSE_TOO_LARGE : rc;
}

/* ================================================================ answer */

static ak_err s_json_str(ak_buf *out, ak_cur s) {
    AK_GUARD(ak_buf_append_byte(out, '"'));
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c == '"' || c == '\\') {
            uint8_t t[2] = {'\\', c};
            AK_GUARD(ak_buf_append(out, t, 2));
        } else if (c < 0x20 || c >= 0x7f) {
            AK_GUARD(ak_buf_printf(out, "\\u%04x", (unsigned)c));
        } else {
            AK_GUARD(ak_buf_append_byte(out, c));
        }
    }
    return ak_buf_append_byte(out, '"');
}

static bool s_drop_response_header(ak_cur name) {
    static const char *const drop[] = {"connection", "keep-alive", "transfer-encoding", "content-length",
                                       "te",         "trailer",    "upgrade",           "proxy-connection"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (ak_cur_eq_nocase(name, ak_cur_from_str(drop[i]))) return true;
    return false;
}

ak_err ak_use_answer(const ak_use_redactor *r, long status, ak_cur lines, ak_cur body, ak_buf *out,
                     size_t *redactions) {
    AK_PRECOND(r != NULL && out != NULL && redactions != NULL);
    ak_buf name, value, work, b64;
    ak_err rc = AK_OK;
    ak_buf_init_secret(&name, 4096);
    ak_buf_init_secret(&value, 2u * 64u * 1024u);
    /* a marker (10 bytes) replaces a needle of ≥ 6: the body can grow by at most 10/6 */
    ak_buf_init_secret(&work, body.len * 2u + 64u);
    ak_buf_init_secret(&b64, (body.len * 2u + 64u) / 3u * 4u + 64u);
    AK_GUARD_OUT(ak_buf_printf(out, "{\"ok\":true,\"status\":%ld,\"headers\":[", status));
    bool first = true;
    while (lines.len > 0) {
        ak_cur line;
        if (!ak_cur_split(&lines, '\n', &line)) {
            line = lines;
            lines.len = 0;
        }
        long c = ak_cur_find(line, ':');
        if (c <= 0) continue;
        ak_cur n = ak_cur_from(line.ptr, (size_t)c),
               v = ak_cur_from(line.ptr + c + 1, line.len - (size_t)c - 1);
        /* A body we cannot read (compressed) is a body we cannot redact: fail closed. */
        if (ak_cur_eq_nocase(n, AK_CUR_LIT("content-encoding")) && v.len > 0 &&
            !ak_cur_eq_nocase(v, AK_CUR_LIT("identity")))
            AK_GUARD_OUT(AK_E_REDACTION_FAILED);
        if (s_drop_response_header(n)) continue;
        ak_buf_clear(&name);
        ak_buf_clear(&value);
        AK_GUARD_OUT(ak_buf_append_cur(&name, n));
        AK_GUARD_OUT(ak_buf_append_cur(&value, v));
        AK_GUARD_OUT(ak_use_redact(r, &name, redactions));
        AK_GUARD_OUT(ak_use_redact(r, &value, redactions));
        AK_GUARD_OUT(ak_buf_append_str(out, first ? "[" : ",["));
        AK_GUARD_OUT(s_json_str(out, ak_buf_cur(&name)));
        AK_GUARD_OUT(ak_buf_append_byte(out, ','));
        AK_GUARD_OUT(s_json_str(out, ak_buf_cur(&value)));
        AK_GUARD_OUT(ak_buf_append_byte(out, ']'));
        first = false;
    }
    AK_GUARD_OUT(ak_buf_append_cur(&work, body));
    AK_GUARD_OUT(ak_use_redact(r, &work, redactions));
    AK_GUARD_OUT(ak_b64_encode(work.ptr, work.len, &b64));
    AK_GUARD_OUT(ak_buf_append_str(out, "],\"body_b64\":\""));
    AK_GUARD_OUT(ak_buf_append_cur(out, ak_buf_cur(&b64)));
    AK_GUARD_OUT(ak_buf_printf(out, "\",\"redactions\":%zu}", *redactions));
out:
    ak_buf_free(&name);
    ak_buf_free(&value);
    ak_buf_free(&work);
    ak_buf_free(&b64);
    return rc;
}
