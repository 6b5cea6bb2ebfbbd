/* auth.c — AuthFunction's handler (see auth.h). */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ak/audit.h"
#include "ak/crypto.h"
#include "ak/identity.h"
#include "ak/json.h"
#include "ak/log.h"
#include "ak/siwe.h"

#define AUTH_REQUEST_ID_LEN 37u /* "siwe-" + 32 hex */
#define AUTH_PENDING_MAX 16384u

static uint64_t s_auth_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

ak_err auth_configure(auth_fn *a) {
    if (a->now_us == NULL) a->now_us = s_auth_now_us;
    const char *b = getenv("AK_STATE_BUCKET");
    if (b == NULL || b[0] == '\0') {
        ak_log_error("auth misconfigured", "missing", "AK_STATE_BUCKET");
        return AK_E_CONFIG;
    }
    AK_ENSURE(ak_cur_to_cstr(ak_cur_from_str(b), a->state_bucket, sizeof(a->state_bucket)) == AK_OK,
              AK_E_CONFIG);
    a->session_ttl = AK_SESSION_TTL_DEFAULT;
    const char *t = getenv("AK_SESSION_TTL_SECONDS");
    if (t != NULL && t[0] != '\0') {
        uint64_t v;
        /* broker.md §11: range [60, 86400]. */
        if (ak_cur_to_u64(ak_cur_from_str(t), &v) != AK_OK || v < 60 || v > 86400) {
            ak_log_error("auth misconfigured", "invalid", "AK_SESSION_TTL_SECONDS");
            return AK_E_CONFIG;
        }
        a->session_ttl = v;
    }
    /* broker.md §3: domain = the issuer text after "://" up to the first '/' (port kept). */
    ak_cur iss = ak_cur_from_str(a->svc.issuer);
    long sep = -1;
    for (size_t i = 0; i + 3 <= iss.len; i++)
        if (memcmp(iss.ptr + i, "://", 3) == 0) {
            sep = (long)i;
            break;
        }
    AK_ENSURE(sep > 0, AK_E_CONFIG);
    ak_cur rest = ak_cur_from(iss.ptr + sep + 3, iss.len - (size_t)sep - 3);
    long slash = ak_cur_find(rest, '/');
    if (slash >= 0) rest.len = (size_t)slash;
    AK_ENSURE(rest.len > 0 && ak_cur_to_cstr(rest, a->domain, sizeof(a->domain)) == AK_OK, AK_E_CONFIG);
    return AK_OK;
}

ak_err auth_init(void *user) {
    auth_fn *a = user;
    AK_GUARD(ak_svc_init(&a->svc, AK_SVC_BROKER));
    return auth_configure(a);
}

/* ---------------------------------------------------------------- helpers */

static ak_err s_random_hex(size_t nbytes, char *out) {
    uint8_t r[32];
    AK_PRECOND(nbytes <= sizeof(r));
    AK_ENSURE(ak_random(r, nbytes) == AK_OK, AK_E_INTERNAL);
    ak_hex_encode(r, nbytes, out);
    return AK_OK;
}

static ak_err s_body(const akrt_http_req *req, const char *const *allowed, json_t **out) {
    AK_GUARD(ak_json_parse_object(req->body, out));
    ak_err rc = ak_json_only_keys(*out, allowed);
    if (rc != AK_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static ak_err s_pending_key(ak_cur request_id, ak_buf *key) {
    AK_GUARD(ak_buf_append_str(key, "siwe/pending/"));
    AK_GUARD(ak_buf_append_cur(key, request_id));
    return ak_buf_append_str(key, ".json");
}

/* ---------------------------------------------------------------- start */

static ak_err s_start(auth_fn *a, const akrt_http_req *req, akrt_http_resp *resp) {
    static const char *const allowed[] = {"address", "chain_id", "source_ip", NULL};
    json_t *body = NULL, *rec = NULL, *out = NULL;
    ak_buf msg, key, recbytes;
    ak_err rc = AK_OK;
    ak_buf_init(&msg, AK_SIWE_MAX_MESSAGE);
    ak_buf_init(&key, 256);
    ak_buf_init(&recbytes, AUTH_PENDING_MAX);
    AK_GUARD_OUT(s_body(req, allowed, &body));
    ak_cur addr_text;
    uint64_t chain_id;
    uint8_t addr[20];
    AK_GUARD_OUT(ak_json_str(body, "address", &addr_text));
    AK_GUARD_OUT(ak_eth_address_parse(addr_text, addr));
    /* EIP-55: a mixed-case address is a checksum claim, and a wrong one is most likely a typo
     * for another wallet; one case only (what most tools print) carries no claim. */
    {
        bool lower = false, upper = false;
        for (size_t i = 2; i < addr_text.len; i++) {
            lower = lower || (addr_text.ptr[i] >= 'a' && addr_text.ptr[i] <= 'f');
            upper = upper || (addr_text.ptr[i] >= 'A' && addr_text.ptr[i] <= 'F');
        }
        AK_ENSURE_OUT(!(lower && upper) || ak_eth_address_is_eip55(addr_text), AK_E_INVALID_ADDRESS);
    }
    AK_GUARD_OUT(ak_json_u64(body, "chain_id", &chain_id));
    /* Decision: a chain id other than ours at start is the caller's input error (400
     * invalid_input); the message's Chain ID is checked again at verify (siwe_chain_mismatch). */
    AK_ENSURE_OUT(chain_id == a->svc.chain_id, AK_E_INVALID_INPUT);

    char request_id[AUTH_REQUEST_ID_LEN + 1] = "siwe-", nonce[33], addr_lc[43], addr_55[43], iat[21], exp[21];
    AK_GUARD_OUT(s_random_hex(16, request_id + 5));
    AK_GUARD_OUT(s_random_hex(16, nonce));
    ak_eth_address_hex(addr, addr_lc);
    /* EIP-4361: the message carries the EIP-55 checksummed address, whatever case was sent. */
    ak_eth_address_eip55(addr, addr_55);
    uint64_t now = a->now_us() / 1000000u;
    AK_GUARD_OUT(ak_rfc3339_format((int64_t)now, iat));
    AK_GUARD_OUT(ak_rfc3339_format((int64_t)(now + AUTH_SIWE_TTL), exp));

    ak_cur res[1] = {AK_CUR_LIT(AUTH_RESOURCE)};
    ak_siwe_msg m;
    memset(&m, 0, sizeof(m));
    m.domain = ak_cur_from_str(a->domain);
    m.address_text = ak_cur_from_str(addr_55);
    m.has_statement = true;
    m.statement = AK_CUR_LIT(AUTH_STATEMENT);
    m.uri = ak_cur_from_str(a->svc.issuer);
    m.version = AK_CUR_LIT("1");
    m.chain_id = chain_id;
    m.nonce = ak_cur_from_str(nonce);
    m.issued_at = ak_cur_from_str(iat);
    m.has_expiration = true;
    m.expiration_time = ak_cur_from_str(exp);
    m.has_resources = true;
    m.n_resources = 1;
    m.resources[0] = res[0];
    AK_GUARD_OUT(ak_siwe_format(&m, &msg));

    /* The pending challenge: exactly what verify needs, nothing secret. */
    rec = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:I}", "v", 1, "message", ak_buf_cstr(&msg), "address",
                    addr_lc, "nonce", nonce, "chain_id", (json_int_t)chain_id, "issued_at", (json_int_t)now,
                    "expires_at", (json_int_t)(now + AUTH_SIWE_TTL));
    AK_ENSURE_OUT(rec != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(ak_json_dump(rec, &recbytes));
    AK_GUARD_OUT(s_pending_key(ak_cur_from_str(request_id), &key));
    rc = ak_svc_s3_put(&a->svc, a->state_bucket, ak_buf_cur(&key), ak_buf_cur(&recbytes), true);
    if (rc == AK_E_PRECONDITION_FAILED || rc == AK_E_CONFLICT) rc = AK_E_INTERNAL; /* 128-bit id collided */
    if (rc != AK_OK) goto out;

    out = json_pack("{s:s, s:i, s:s, s:s, s:s}", "request_id", request_id, "expires_in_seconds",
                    (int)AUTH_SIWE_TTL, "siwe_message", ak_buf_cstr(&msg), "nonce", nonce, "expires_at_iso",
                    exp);
    AK_ENSURE_OUT(out != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(akrt_http_json(resp, 200, out));
out:
    if (body) json_decref(body);
    if (rec) json_decref(rec);
    if (out) json_decref(out);
    ak_buf_free(&msg);
    ak_buf_free(&key);
    ak_buf_free(&recbytes);
    return rc;
}

/* ---------------------------------------------------------------- verify */

/* The field checks of verify step 2 on one parsed message. */
static ak_err s_check_message(const auth_fn *a, const ak_siwe_msg *m, ak_cur nonce, uint64_t now) {
    ak_cur iss = ak_cur_from_str(a->svc.issuer);
    if (m->has_scheme) {
        AK_ENSURE(iss.len > m->scheme.len + 3 && memcmp(iss.ptr, m->scheme.ptr, m->scheme.len) == 0 &&
                      memcmp(iss.ptr + m->scheme.len, "://", 3) == 0,
                  AK_E_SIWE_DOMAIN);
    }
    AK_ENSURE(ak_cur_eq_str(m->domain, a->domain), AK_E_SIWE_DOMAIN);
    AK_ENSURE(ak_cur_eq(m->uri, iss), AK_E_SIWE_DOMAIN);
    AK_ENSURE(m->chain_id == a->svc.chain_id, AK_E_SIWE_CHAIN);
    AK_ENSURE(ak_cur_eq(m->nonce, nonce), AK_E_SIWE_NONCE);
    AK_ENSURE(!m->has_expiration || (int64_t)now < m->expiration_unix, AK_E_SIWE_EXPIRED);
    AK_ENSURE(!m->has_not_before || (int64_t)now >= m->not_before_unix, AK_E_SIWE_EXPIRED);
    return AK_OK;
}

static ak_err s_verify(auth_fn *a, akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp) {
    static const char *const allowed[] = {"request_id", "signature", "message", NULL};
    json_t *body = NULL, *rec = NULL, *claims = NULL, *out = NULL;
    ak_buf key, recbytes, used_key, jwt;
    ak_err rc = AK_OK;
    ak_buf_init(&key, 256);
    ak_buf_init(&recbytes, AUTH_PENDING_MAX);
    ak_buf_init(&used_key, 256);
    ak_buf_init(&jwt, AK_MAX_JWS);
    uint64_t now_us = a->now_us(), now = now_us / 1000000u;

    AK_GUARD_OUT(s_body(req, allowed, &body));
    ak_cur rid, sig, sent;
    bool has_sent = false;
    AK_GUARD_OUT(ak_json_str(body, "request_id", &rid));
    AK_GUARD_OUT(ak_json_str(body, "signature", &sig));
    AK_GUARD_OUT(ak_json_str_opt(body, "message", &sent, &has_sent));
    AK_ENSURE_OUT(rid.len == AUTH_REQUEST_ID_LEN && ak_cur_starts_with(rid, AK_CUR_LIT("siwe-")),
                  AK_E_INVALID_INPUT);
    for (size_t i = 5; i < rid.len; i++) {
        uint8_t c = rid.ptr[i];
        AK_ENSURE_OUT((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), AK_E_INVALID_INPUT);
    }

    /* 1. the pending challenge */
    AK_GUARD_OUT(s_pending_key(rid, &key));
    rc = ak_svc_s3_get(&a->svc, a->state_bucket, ak_buf_cur(&key), AUTH_PENDING_MAX, &recbytes);
    if (rc == AK_E_NOT_FOUND) rc = AK_E_SIWE_NONCE;
    if (rc != AK_OK) goto out;
    ak_cur message, address_text, nonce;
    uint64_t expires_at;
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&recbytes), &rec) == AK_OK &&
                      ak_json_str(rec, "message", &message) == AK_OK &&
                      ak_json_str(rec, "address", &address_text) == AK_OK &&
                      ak_json_str(rec, "nonce", &nonce) == AK_OK &&
                      ak_json_u64(rec, "expires_at", &expires_at) == AK_OK,
                  AK_E_INTERNAL);
    ak_siwe_msg issued;
    uint8_t addr[20];
    AK_ENSURE_OUT(ak_siwe_parse(message, &issued) == AK_OK &&
                      ak_eth_address_parse(address_text, addr) == AK_OK,
                  AK_E_INTERNAL);

    /* 2. the message the wallet signed */
    if (has_sent) {
        ak_siwe_msg m;
        AK_GUARD_OUT(ak_siwe_parse(sent, &m));
        AK_GUARD_OUT(s_check_message(a, &m, nonce, now));
        AK_ENSURE_OUT(ak_cur_eq(sent, message), AK_E_SIWE_SIGNATURE);
    }
    AK_GUARD_OUT(s_check_message(a, &issued, nonce, now));

    /* 3. expiry of the challenge */
    AK_ENSURE_OUT(now < expires_at, AK_E_SIWE_EXPIRED);

    /* 4. single use: create-only marker; a replay (even concurrent) fails here. */
    {
        char used[128];
        int n = snprintf(used, sizeof(used), "{\"request_id\":\"%.*s\",\"used_at\":%llu}", (int)rid.len,
                         (const char *)rid.ptr, (unsigned long long)now);
        AK_ENSURE_OUT(n > 0 && (size_t)n < sizeof(used), AK_E_INTERNAL);
        AK_GUARD_OUT(ak_buf_append_str(&used_key, "siwe/used/"));
        AK_GUARD_OUT(ak_buf_append_cur(&used_key, nonce));
        rc = ak_svc_s3_put(&a->svc, a->state_bucket, ak_buf_cur(&used_key), ak_cur_from_str(used), true);
        if (rc == AK_E_PRECONDITION_FAILED || rc == AK_E_CONFLICT) rc = AK_E_SIWE_NONCE;
        if (rc != AK_OK) goto out;
    }

    /* 5. EIP-191 over the exact issued bytes */
    uint8_t rec_addr[20];
    AK_GUARD_OUT(ak_siwe_recover(message, sig, rec_addr));
    AK_ENSURE_OUT(memcmp(rec_addr, addr, 20) == 0, AK_E_SIWE_SIGNATURE);

    /* 6. D16: who is this wallet? */
    ak_session s;
    memset(&s, 0, sizeof(s));
    memcpy(s.wallet, addr, 20);
    ak_device_key_hash(addr, s.device_key_hash);
    ak_omni self;
    ak_omni_from_address(addr, &self);
    ak_device_entry dev;
    AK_GUARD_OUT(ak_registry_get_device(&a->svc.rpc, a->svc.registry, s.device_key_hash, &dev));
    if (dev.registered_at == 0) {
        s.kind = AK_SESSION_MASTER; /* can only bootstrap itself as first master */
        s.omni_account = self;
        s.operator_omni = self;
    } else {
        AK_ENSURE_OUT(!dev.revoked, AK_E_DEVICE_REVOKED);
        if (dev.tier == AK_DEVICE_TIER_AGENT) {
            s.kind = AK_SESSION_AGENT;
            memcpy(s.omni_account.b, dev.actor_omni, 32);
            memcpy(s.operator_omni.b, dev.operator_omni, 32);
            AK_ENSURE_OUT(ak_omni_eq(&s.omni_account, &self), AK_E_DEVICE_BINDING_MISMATCH);
        } else if (dev.tier == AK_DEVICE_TIER_MASTER) {
            s.kind = AK_SESSION_MASTER;
            memcpy(s.operator_omni.b, dev.operator_omni, 32);
            s.omni_account = s.operator_omni;
        } else {
            AK_ENSURE_OUT(false, AK_E_DEVICE_NOT_ACTIVE);
        }
    }

    /* 7. the session JWT */
    s.iat = now;
    s.exp = now + a->session_ttl;
    {
        char rnd[17];
        AK_GUARD_OUT(s_random_hex(8, rnd));
        int n = snprintf(s.jti, sizeof(s.jti), "%llx-%s", (unsigned long long)now_us, rnd);
        AK_ENSURE_OUT(n > 0 && (size_t)n < sizeof(s.jti), AK_E_INTERNAL);
    }
    AK_GUARD_OUT(ak_session_claims(&s, a->svc.issuer, &claims));
    char kid[AK_SIGNER_KID_MAX];
    AK_GUARD_OUT(ak_svc_sign_jwt(&a->svc, AK_SIGNER_KEY_SESSION, "JWT", claims, &jwt, kid));

    /* 8. audit before answering (D12) */
    {
        ak_audit_event ev;
        AK_GUARD_OUT(ak_audit_event_init(&ev, AK_AUDIT_LOGIN, &s.operator_omni, now_us));
        ev.has_actor = true;
        ev.actor_omni = s.omni_account;
        ev.has_wallet = true;
        memcpy(ev.wallet, s.wallet, 20);
        ev.has_device = true;
        memcpy(ev.device_key_hash, s.device_key_hash, 32);
        ev.session_kind = s.kind;
        ev.request_id = ak_cur_from_str(akrt_request_id(ctx));
        ak_audit_token_hash(ak_buf_cur(&jwt), ev.token_sha256);
        ev.has_token_hash = true;
        AK_GUARD_OUT(ak_svc_audit_write(&a->svc, 0, &ev));
    }

    char omni_hex[65], op_hex[65], wallet[43], dkh[67];
    ak_omni_hex(&s.omni_account, omni_hex);
    ak_omni_hex(&s.operator_omni, op_hex);
    ak_eth_address_hex(s.wallet, wallet);
    ak_hash32_hex0x(s.device_key_hash, dkh);
    out = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "session_jwt", ak_buf_cstr(&jwt),
                    "session_jwt_kid", kid, "expires_at", (json_int_t)s.exp, "omni_account", omni_hex,
                    "wallet_address", wallet, "identity_type", "evm", "identity_value", wallet,
                    "session_kind", s.kind == AK_SESSION_MASTER ? "master" : "agent", "operator_omni", op_hex,
                    "device_key_hash", dkh);
    AK_ENSURE_OUT(out != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(akrt_http_json(resp, 200, out));
    ak_log_info("login", "session_kind", s.kind == AK_SESSION_MASTER ? "master" : "agent", "wallet", wallet);
out:
    if (rc != AK_OK) ak_log_warn("login refused", "reason", ak_err_reason(rc));
    if (body) json_decref(body);
    if (rec) json_decref(rec);
    if (claims) json_decref(claims);
    if (out) json_decref(out);
    ak_buf_free(&key);
    ak_buf_free(&recbytes);
    ak_buf_free(&used_key);
    ak_buf_free(&jwt);
    return rc;
}

/* ---------------------------------------------------------------- dispatch */

ak_err auth_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user) {
    auth_fn *a = user;
    bool start = ak_cur_eq_str(req->raw_path, "/v1/auth/wallet/start");
    bool verify = ak_cur_eq_str(req->raw_path, "/v1/auth/wallet/verify");
    AK_ENSURE(start || verify, AK_E_ROUTE_NOT_FOUND);
    if (!ak_cur_eq_str(req->method, "POST")) {
        AK_GUARD(akrt_http_error(resp, AK_E_METHOD_NOT_ALLOWED));
        return akrt_http_set_header(resp, "allow", "POST");
    }
    ak_svc_begin(&a->svc, ctx->inv->deadline_ms);
    return start ? s_start(a, req, resp) : s_verify(a, ctx, req, resp);
}
