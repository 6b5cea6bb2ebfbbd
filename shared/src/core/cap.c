/* cap.c — capability tokens: PoP, request, claims, signing, verification (see ak/cap.h). */
#include "ak/cap.h"

#include <string.h>

#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/json.h"

/* ------------------------------------------------------------------ helpers */

static ak_err s_name(ak_data_class c, ak_cur s) {
    return c == AK_CLASS_MEMORY ? ak_namespace_validate(s) : ak_service_validate(s);
}

/* [0-9a-f]{n} exactly (the canonical forms we issue). */
static bool s_lower_hex(ak_cur c, size_t n) {
    if (c.len != n) return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = c.ptr[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
    }
    return true;
}

/* "0x" + exactly n lowercase hex bytes' worth, decoded into dst. */
static bool s_hex0x_lower(ak_cur c, uint8_t *dst, size_t n) {
    if (c.len != 2 + 2 * n || c.ptr[0] != '0' || c.ptr[1] != 'x') return false;
    ak_cur d = ak_cur_from(c.ptr + 2, 2 * n);
    return s_lower_hex(d, 2 * n) && ak_hex_decode_exact(d, false, dst, n) == AK_OK;
}

static void s_set_hex0x(char *dst, const uint8_t *src, size_t n) {
    dst[0] = '0';
    dst[1] = 'x';
    ak_hex_encode(src, n, dst + 2);
}

/* ------------------------------------------------------------------ PoP (caps.md §4) */

ak_err ak_cap_nonce_validate(ak_cur nonce) {
    AK_ENSURE(nonce.len >= AK_CAP_NONCE_MIN && nonce.len <= AK_CAP_NONCE_MAX, AK_E_INVALID_INPUT);
    for (size_t i = 0; i < nonce.len; i++) {
        uint8_t c = nonce.ptr[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  c == '-';
        /* No ':' (the preimage separator) can appear, so the preimage parses one way only. */
        AK_ENSURE(ok, AK_E_INVALID_INPUT);
    }
    return AK_OK;
}

ak_err ak_cap_pop_preimage(const ak_cap_pop_msg *msg, ak_buf *out) {
    AK_PRECOND(msg != NULL && out != NULL);
    AK_GUARD(s_name(msg->data_class, msg->service));
    AK_GUARD(ak_cap_nonce_validate(msg->client_nonce));
    AK_ENSURE((unsigned)msg->op <= AK_OP_USE, AK_E_INVALID_INPUT);
    AK_ENSURE((unsigned)msg->data_class <= AK_CLASS_MAIL, AK_E_INVALID_INPUT);
    char op_hex[65], ac_hex[65], svc_hex[65];
    uint8_t svc[32];
    ak_omni_hex(&msg->operator_omni, op_hex);
    ak_omni_hex(&msg->actor_omni, ac_hex);
    /* svc_hash = keccak256(service), not D2's scope id: see the DECISION in ak/cap.h. */
    ak_keccak256(msg->service.ptr, msg->service.len, svc);
    ak_hex_encode(svc, 32, svc_hex);
    size_t start = out->len;
    ak_err rc = ak_buf_printf(out, "agentkeys-cap-pop:v1:%s:%s:%s:%s:%s:%.*s:", op_hex, ac_hex, svc_hex,
                              ak_op_str(msg->op), ak_data_class_str(msg->data_class),
                              (int)msg->client_nonce.len, (const char *)msg->client_nonce.ptr);
    if (rc == AK_OK) rc = ak_buf_append_u64(out, msg->client_ts);
    if (rc != AK_OK && out->ptr != NULL) {
        out->len = start;
        out->ptr[start] = 0;
    }
    return rc;
}

ak_err ak_cap_pop_digest(const ak_cap_pop_msg *msg, uint8_t m[32]) {
    ak_buf pre;
    ak_buf_init(&pre, 512);
    ak_err rc = ak_cap_pop_preimage(msg, &pre);
    if (rc == AK_OK) ak_keccak256(pre.ptr, pre.len, m);
    ak_buf_free(&pre);
    return rc;
}

ak_err ak_cap_pop_sign(const uint8_t k10_seckey[32], const ak_cap_pop_msg *msg, uint8_t sig65[65]) {
    AK_PRECOND(k10_seckey != NULL && sig65 != NULL);
    uint8_t m[32], d[32];
    AK_GUARD(ak_cap_pop_digest(msg, m));
    /* personal_sign over the 32 bytes of m: prefix "\x19Ethereum Signed Message:\n32". */
    ak_eip191_hash(m, 32, d);
    return ak_secp256k1_sign(k10_seckey, d, sig65);
}

ak_err ak_cap_pop_verify(const ak_cap_pop_msg *msg, const uint8_t sig65[65],
                         const uint8_t device_key_hash[32], uint64_t at) {
    AK_PRECOND(msg != NULL && sig65 != NULL && device_key_hash != NULL);
    /* caps.md §3 step 8: client_ts > at + 60 or at - client_ts > 300 is stale. */
    AK_ENSURE(msg->client_ts <= at + AK_CAP_POP_MAX_FUTURE, AK_E_CAP_POP_INVALID);
    AK_ENSURE(msg->client_ts >= at || at - msg->client_ts <= AK_CAP_POP_MAX_AGE, AK_E_CAP_POP_INVALID);
    uint8_t m[32], d[32], addr[20], h[32];
    ak_err rc = ak_cap_pop_digest(msg, m);
    if (rc == AK_E_NOMEM) return rc;
    AK_ENSURE(rc == AK_OK, AK_E_CAP_POP_INVALID);
    ak_eip191_hash(m, 32, d);
    AK_ENSURE(ak_secp256k1_recover(d, sig65, addr) == AK_OK, AK_E_CAP_POP_INVALID);
    ak_device_key_hash(addr, h);
    AK_ENSURE(memcmp(h, device_key_hash, 32) == 0, AK_E_CAP_POP_INVALID);
    return AK_OK;
}

/* ------------------------------------------------------------------ request (caps.md §2) */

uint64_t ak_cap_ttl(bool present, uint64_t ttl_seconds) {
    if (!present) return AK_CAP_TTL_DEFAULT;
    if (ttl_seconds < AK_CAP_TTL_MIN) return AK_CAP_TTL_MIN;
    if (ttl_seconds > AK_CAP_TTL_MAX) return AK_CAP_TTL_MAX;
    return ttl_seconds;
}

/* "0x" + 130 hex (either case on input); the prefix is optional. */
static ak_err s_sig_parse(ak_cur text, uint8_t sig65[65]) {
    if (text.len == 132 && text.ptr[0] == '0' && (text.ptr[1] == 'x' || text.ptr[1] == 'X')) {
        text.ptr += 2;
        text.len -= 2;
    }
    AK_ENSURE(text.len == 130, AK_E_BAD_HEX);
    return ak_hex_decode_exact(text, false, sig65, 65);
}

static ak_err s_request(const json_t *o, ak_cap_request *out) {
    static const char *const allowed[] = {"operator_omni",   "actor_omni",  "service",
                                          "device_key_hash", "ttl_seconds", "client_sig",
                                          "client_nonce",    "client_ts",   NULL};
    AK_GUARD(ak_json_only_keys(o, allowed));
    ak_cur s;
    AK_GUARD(ak_json_str(o, "operator_omni", &s));
    AK_GUARD(ak_omni_parse(s, &out->operator_omni));
    AK_GUARD(ak_json_str(o, "actor_omni", &s));
    AK_GUARD(ak_omni_parse(s, &out->actor_omni));
    AK_GUARD(ak_json_str(o, "service", &s));
    /* D3 grammar here; a memory route re-validates the same text as a namespace (same grammar). */
    AK_GUARD(ak_service_validate(s));
    memcpy(out->service, s.ptr, s.len);
    out->service[s.len] = 0;
    out->service_len = s.len;
    AK_GUARD(ak_json_str(o, "device_key_hash", &s));
    AK_GUARD(ak_hash32_parse(s, out->device_key_hash));
    uint64_t ttl = 0;
    bool ttl_present = false;
    AK_GUARD(ak_json_u64_opt(o, "ttl_seconds", &ttl, &ttl_present));
    out->ttl_seconds = ak_cap_ttl(ttl_present, ttl);
    AK_GUARD(ak_json_str(o, "client_sig", &s));
    AK_GUARD(s_sig_parse(s, out->pop.sig));
    AK_GUARD(ak_json_str(o, "client_nonce", &s));
    AK_GUARD(ak_cap_nonce_validate(s));
    memcpy(out->pop.nonce, s.ptr, s.len);
    out->pop.nonce[s.len] = 0;
    out->pop.nonce_len = s.len;
    AK_GUARD(ak_json_u64(o, "client_ts", &out->pop.ts));
    return AK_OK;
}

ak_err ak_cap_request_parse(ak_cur body, ak_cap_request *out) {
    AK_PRECOND(out != NULL);
    memset(out, 0, sizeof(*out));
    json_t *o = NULL;
    AK_GUARD(ak_json_parse_object(body, &o));
    ak_err rc = s_request(o, out);
    json_decref(o);
    if (rc != AK_OK) memset(out, 0, sizeof(*out));
    return rc;
}

/* ------------------------------------------------------------------ claims */

void ak_cap_pop_msg_of(const ak_cap_claims *c, ak_cap_pop_msg *msg) {
    AK_PRECOND(c != NULL && msg != NULL);
    msg->operator_omni = c->operator_omni;
    msg->actor_omni = c->actor_omni;
    msg->service = ak_cap_service(c);
    msg->op = c->op;
    msg->data_class = c->data_class;
    msg->client_nonce = ak_cur_from(c->pop.nonce, c->pop.nonce_len);
    msg->client_ts = c->pop.ts;
}

ak_err ak_cap_claims_new(const ak_cap_request *req, ak_op op, ak_data_class data_class, uint32_t k3_epoch,
                         uint64_t now, ak_cap_claims *out) {
    AK_PRECOND(req != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    AK_ENSURE((unsigned)op <= AK_OP_USE, AK_E_INVALID_INPUT);
    AK_ENSURE(data_class == AK_CLASS_CREDENTIALS || data_class == AK_CLASS_MEMORY, AK_E_INVALID_INPUT);
    AK_ENSURE(req->service_len <= AK_MAX_SERVICE_LEN, AK_E_INVALID_SERVICE);
    AK_GUARD(s_name(data_class, ak_cur_from(req->service, req->service_len)));
    AK_GUARD(ak_cap_nonce_validate(ak_cur_from(req->pop.nonce, req->pop.nonce_len)));
    uint64_t ttl = ak_cap_ttl(req->ttl_seconds != 0, req->ttl_seconds); /* 0: default */
    AK_ENSURE(now <= UINT64_MAX - ttl, AK_E_INVALID_INPUT);
    uint8_t rnd[32];
    AK_GUARD(ak_random(rnd, sizeof(rnd)));
    out->operator_omni = req->operator_omni;
    out->actor_omni = req->actor_omni;
    memcpy(out->service, req->service, req->service_len);
    out->service_len = req->service_len;
    out->op = op;
    out->data_class = data_class;
    memcpy(out->device_key_hash, req->device_key_hash, 32);
    out->k3_epoch = k3_epoch;
    out->issued_at = now;
    out->expires_at = now + ttl;
    ak_hex_encode(rnd, 16, out->nonce);
    ak_hex_encode(rnd + 16, 16, out->jti);
    out->pop = req->pop;
    return AK_OK;
}

static ak_err s_set(json_t *o, const char *k, json_t *v) {
    AK_ENSURE(v != NULL, AK_E_NOMEM);
    AK_ENSURE(json_object_set_new(o, k, v) == 0, AK_E_NOMEM);
    return AK_OK;
}

static ak_err s_claims_build(const ak_cap_claims *c, json_t *o) {
    char h[2 + 130 + 1];
    /* caps.md §6 order, then D4's jti and pop. */
    s_set_hex0x(h, c->operator_omni.b, 32);
    AK_GUARD(s_set(o, "operator_omni", json_string(h)));
    s_set_hex0x(h, c->actor_omni.b, 32);
    AK_GUARD(s_set(o, "actor_omni", json_string(h)));
    AK_GUARD(s_set(o, "service", json_stringn(c->service, c->service_len)));
    AK_GUARD(s_set(o, "op", json_string(ak_op_str(c->op))));
    AK_GUARD(s_set(o, "data_class", json_string(ak_data_class_str(c->data_class))));
    s_set_hex0x(h, c->device_key_hash, 32);
    AK_GUARD(s_set(o, "device_key_hash", json_string(h)));
    AK_GUARD(s_set(o, "k3_epoch", json_integer((json_int_t)c->k3_epoch)));
    AK_GUARD(s_set(o, "issued_at", json_integer((json_int_t)c->issued_at)));
    AK_GUARD(s_set(o, "expires_at", json_integer((json_int_t)c->expires_at)));
    AK_GUARD(s_set(o, "nonce", json_string(c->nonce)));
    AK_GUARD(s_set(o, "jti", json_string(c->jti)));
    json_t *pop = json_object();
    AK_GUARD(s_set(o, "pop", pop));
    s_set_hex0x(h, c->pop.sig, 65);
    AK_GUARD(s_set(pop, "sig", json_string(h)));
    AK_GUARD(s_set(pop, "nonce", json_stringn(c->pop.nonce, c->pop.nonce_len)));
    AK_GUARD(s_set(pop, "ts", json_integer((json_int_t)c->pop.ts)));
    return AK_OK;
}

ak_err ak_cap_claims_to_json(const ak_cap_claims *c, json_t **out) {
    AK_PRECOND(c != NULL && out != NULL);
    *out = NULL;
    AK_ENSURE(c->issued_at <= (uint64_t)INT64_MAX && c->expires_at <= (uint64_t)INT64_MAX &&
                  c->pop.ts <= (uint64_t)INT64_MAX,
              AK_E_INVALID_INPUT);
    json_t *o = json_object();
    AK_ENSURE(o != NULL, AK_E_NOMEM);
    ak_err rc = s_claims_build(c, o);
    if (rc != AK_OK) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return AK_OK;
}

/* Every schema failure of a signed claims set is token_claims_invalid (ak/cap.h step 2). */
static ak_err s_claim(ak_err e) {
    if (e == AK_OK || e == AK_E_NOMEM || e == AK_E_INVALID_SERVICE || e == AK_E_INVALID_NAMESPACE) return e;
    return AK_E_TOKEN_CLAIMS;
}

static ak_err s_claims_read(const json_t *o, ak_cap_claims *c) {
    static const char *const allowed[] = {"operator_omni",
                                          "actor_omni",
                                          "service",
                                          "op",
                                          "data_class",
                                          "device_key_hash",
                                          "k3_epoch",
                                          "issued_at",
                                          "expires_at",
                                          "nonce",
                                          "jti",
                                          "pop",
                                          NULL};
    static const char *const pop_allowed[] = {"sig", "nonce", "ts", NULL};
    AK_ENSURE(json_is_object(o), AK_E_TOKEN_CLAIMS);
    AK_GUARD(s_claim(ak_json_only_keys(o, allowed)));
    ak_cur s;
    AK_GUARD(s_claim(ak_json_str(o, "operator_omni", &s)));
    AK_ENSURE(s_hex0x_lower(s, c->operator_omni.b, 32), AK_E_TOKEN_CLAIMS);
    AK_GUARD(s_claim(ak_json_str(o, "actor_omni", &s)));
    AK_ENSURE(s_hex0x_lower(s, c->actor_omni.b, 32), AK_E_TOKEN_CLAIMS);
    AK_GUARD(s_claim(ak_json_str(o, "op", &s)));
    AK_GUARD(s_claim(ak_op_parse(s, &c->op)));
    AK_GUARD(s_claim(ak_json_str(o, "data_class", &s)));
    AK_GUARD(s_claim(ak_data_class_parse(s, &c->data_class)));
    AK_ENSURE(c->data_class != AK_CLASS_MAIL, AK_E_TOKEN_CLAIMS); /* no caps for mail */
    AK_GUARD(s_claim(ak_json_str(o, "service", &s)));
    AK_GUARD(s_claim(s_name(c->data_class, s)));
    memcpy(c->service, s.ptr, s.len);
    c->service[s.len] = 0;
    c->service_len = s.len;
    AK_GUARD(s_claim(ak_json_str(o, "device_key_hash", &s)));
    AK_ENSURE(s_hex0x_lower(s, c->device_key_hash, 32), AK_E_TOKEN_CLAIMS);
    uint64_t epoch;
    AK_GUARD(s_claim(ak_json_u64(o, "k3_epoch", &epoch)));
    AK_ENSURE(epoch <= UINT32_MAX, AK_E_TOKEN_CLAIMS);
    c->k3_epoch = (uint32_t)epoch;
    AK_GUARD(s_claim(ak_json_u64(o, "issued_at", &c->issued_at)));
    AK_GUARD(s_claim(ak_json_u64(o, "expires_at", &c->expires_at)));
    /* A lifetime the broker could not have issued is malformed, not merely stale. */
    AK_ENSURE(c->expires_at > c->issued_at && c->expires_at - c->issued_at >= AK_CAP_TTL_MIN &&
                  c->expires_at - c->issued_at <= AK_CAP_TTL_MAX,
              AK_E_TOKEN_CLAIMS);
    AK_GUARD(s_claim(ak_json_str(o, "nonce", &s)));
    AK_ENSURE(s_lower_hex(s, 32), AK_E_TOKEN_CLAIMS);
    memcpy(c->nonce, s.ptr, 32);
    AK_GUARD(s_claim(ak_json_str(o, "jti", &s)));
    AK_ENSURE(s_lower_hex(s, 32), AK_E_TOKEN_CLAIMS);
    memcpy(c->jti, s.ptr, 32);
    const json_t *pop = json_object_get(o, "pop");
    AK_ENSURE(pop != NULL, AK_E_TOKEN_CLAIMS);
    AK_ENSURE(json_is_object(pop), AK_E_TOKEN_CLAIMS);
    AK_GUARD(s_claim(ak_json_only_keys(pop, pop_allowed)));
    AK_GUARD(s_claim(ak_json_str(pop, "sig", &s)));
    AK_ENSURE(s_hex0x_lower(s, c->pop.sig, 65), AK_E_TOKEN_CLAIMS);
    AK_GUARD(s_claim(ak_json_str(pop, "nonce", &s)));
    AK_GUARD(s_claim(ak_cap_nonce_validate(s)));
    memcpy(c->pop.nonce, s.ptr, s.len);
    c->pop.nonce[s.len] = 0;
    c->pop.nonce_len = s.len;
    AK_GUARD(s_claim(ak_json_u64(pop, "ts", &c->pop.ts)));
    return AK_OK;
}

ak_err ak_cap_claims_from_json(const json_t *claims, ak_cap_claims *out) {
    AK_PRECOND(claims != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    ak_err rc = s_claims_read(claims, out);
    if (rc != AK_OK) memset(out, 0, sizeof(*out));
    return rc;
}

ak_err ak_cap_claims_encode(const ak_cap_claims *c, ak_buf *out) {
    AK_PRECOND(c != NULL && out != NULL);
    /* Written by hand rather than through jansson, whose 2.14 dumper can drop a key byte under
     * memory pressure and still report success. No escaping is needed: every string is hex,
     * a D3 name, an enum word or a [0-9A-Za-z_-] nonce — checked here, not assumed. */
    AK_ENSURE((unsigned)c->op <= AK_OP_USE, AK_E_INVALID_INPUT);
    AK_ENSURE(c->data_class == AK_CLASS_CREDENTIALS || c->data_class == AK_CLASS_MEMORY, AK_E_INVALID_INPUT);
    AK_ENSURE(c->service_len <= AK_MAX_SERVICE_LEN, AK_E_INVALID_SERVICE);
    AK_GUARD(s_name(c->data_class, ak_cap_service(c)));
    AK_GUARD(ak_cap_nonce_validate(ak_cur_from(c->pop.nonce, c->pop.nonce_len)));
    AK_ENSURE(s_lower_hex(ak_cur_from(c->nonce, strnlen(c->nonce, sizeof(c->nonce))), 32) &&
                  s_lower_hex(ak_cur_from(c->jti, strnlen(c->jti, sizeof(c->jti))), 32),
              AK_E_INVALID_INPUT);
    char op_h[67], ac_h[67], dkh_h[67], sig_h[133];
    s_set_hex0x(op_h, c->operator_omni.b, 32);
    s_set_hex0x(ac_h, c->actor_omni.b, 32);
    s_set_hex0x(dkh_h, c->device_key_hash, 32);
    s_set_hex0x(sig_h, c->pop.sig, 65);
    /* caps.md §6 order, then D4's jti and pop. */
    return ak_buf_printf(
        out,
        "{\"operator_omni\":\"%s\",\"actor_omni\":\"%s\",\"service\":\"%.*s\",\"op\":\"%s\","
        "\"data_class\":\"%s\",\"device_key_hash\":\"%s\",\"k3_epoch\":%lu,\"issued_at\":%llu,"
        "\"expires_at\":%llu,\"nonce\":\"%.32s\",\"jti\":\"%.32s\",\"pop\":{\"sig\":\"%s\","
        "\"nonce\":\"%.*s\",\"ts\":%llu}}",
        op_h, ac_h, (int)c->service_len, c->service, ak_op_str(c->op), ak_data_class_str(c->data_class),
        dkh_h, (unsigned long)c->k3_epoch, (unsigned long long)c->issued_at,
        (unsigned long long)c->expires_at, c->nonce, c->jti, sig_h, (int)c->pop.nonce_len, c->pop.nonce,
        (unsigned long long)c->pop.ts);
}

ak_err ak_cap_sign(const ak_cap_claims *c, const char *kid, ak_jws_sign_fn sign, void *user, ak_buf *out) {
    AK_PRECOND(c != NULL && kid != NULL && sign != NULL && out != NULL);
    ak_buf payload;
    ak_buf_init(&payload, AK_MAX_JWS);
    ak_err rc = ak_cap_claims_encode(c, &payload);
    if (rc == AK_OK) rc = ak_jws_sign_es256(kid, AK_CAP_TYP, ak_buf_cur(&payload), sign, user, out);
    ak_buf_free(&payload);
    return rc;
}

/* ------------------------------------------------------------------ verification (D11) */

static ak_err s_sig(ak_err e) { return (e == AK_OK || e == AK_E_NOMEM) ? e : AK_E_BROKER_SIG_INVALID; }

static bool s_cache_hit(const ak_cap_sig_cache *cache, const uint8_t h[32], uint64_t now) {
    for (size_t i = 0; i < AK_CAP_SIG_CACHE_N; i++)
        if (cache->e[i].exp > now && ak_ct_eq(cache->e[i].hash, h, 32)) return true;
    return false;
}

static void s_cache_put(ak_cap_sig_cache *cache, const uint8_t h[32], uint64_t exp, uint64_t now) {
    size_t slot = cache->next;
    for (size_t i = 0; i < AK_CAP_SIG_CACHE_N; i++) /* reuse an empty or expired slot first */
        if (cache->e[i].exp <= now) {
            slot = i;
            break;
        }
    memcpy(cache->e[slot].hash, h, 32);
    cache->e[slot].exp = exp;
    if (slot == cache->next) cache->next = (cache->next + 1u) % AK_CAP_SIG_CACHE_N;
}

static ak_err s_verify(ak_cur token, const ak_jwks *keys, const ak_cap_expect *x, ak_cap_sig_cache *cache,
                       ak_jws *jws, ak_cap_claims *c) {
    /* 1. signature: parse, our typ only (a session or OIDC JWT is not a cap even if some key
     *    matched), then the cap key selected by kid — unless these exact bytes verified before. */
    AK_GUARD(s_sig(ak_jws_parse(token, jws)));
    AK_ENSURE(jws->has_typ && ak_cur_eq_str(jws->typ, AK_CAP_TYP), AK_E_BROKER_SIG_INVALID);
    uint8_t h[32];
    bool hit = false;
    if (cache != NULL) {
        ak_sha256(token.ptr, token.len, h);
        hit = s_cache_hit(cache, h, x->now);
    }
    if (hit) {
        cache->hits++;
    } else {
        AK_GUARD(s_sig(ak_jws_verify_jwks(jws, keys)));
        if (cache != NULL) cache->verifies++;
    }
    /* 2. schema */
    AK_GUARD(s_claims_read(jws->claims, c));
    if (cache != NULL && !hit && x->now < c->expires_at) s_cache_put(cache, h, c->expires_at, x->now);
    /* 3. freshness (caps.md §7 step 5) */
    AK_ENSURE(x->now < c->expires_at, AK_E_CAP_EXPIRED);
    AK_ENSURE(c->issued_at <= x->now + AK_CAP_ISSUED_SKEW, AK_E_CAP_EXPIRED);
    /* 4–5. the route decides op and class, never the token alone */
    AK_ENSURE(c->op == x->op, AK_E_CAP_OP_MISMATCH);
    AK_ENSURE(c->data_class == x->data_class, AK_E_CAP_DATA_CLASS_MISMATCH);
    /* 6. K10 PoP, judged at the mint time the broker vouched for (ak/cap.h DECISION) */
    ak_cap_pop_msg msg;
    ak_cap_pop_msg_of(c, &msg);
    return ak_cap_pop_verify(&msg, c->pop.sig, c->device_key_hash, c->issued_at);
}

void ak_cap_sig_cache_clear(ak_cap_sig_cache *cache) {
    AK_PRECOND(cache != NULL);
    memset(cache, 0, sizeof(*cache));
}

ak_err ak_cap_verify_cached(ak_cur token, const ak_jwks *cap_keys, const ak_cap_expect *expect,
                            ak_cap_sig_cache *cache, ak_cap_claims *out) {
    AK_PRECOND(cap_keys != NULL && expect != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    ak_jws jws;
    memset(&jws, 0, sizeof(jws));
    ak_err rc = s_verify(token, cap_keys, expect, cache, &jws, out);
    ak_jws_free(&jws);
    if (rc != AK_OK) memset(out, 0, sizeof(*out));
    return rc;
}

ak_err ak_cap_verify(ak_cur token, const ak_jwks *cap_keys, const ak_cap_expect *expect, ak_cap_claims *out) {
    return ak_cap_verify_cached(token, cap_keys, expect, NULL, out);
}
