/* client.c — the client of our own API (see ak/client.h). */
#include "ak/client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/cap.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/json.h"
#include "ak/s3.h"
#include "ak/siwe.h"
#include "ak/usepolicy.h"

#define S_MAX_JWT 16384u
#define S_CLASSES 3

typedef struct s_cap_entry {
    char key[160]; /* "<op>:<class>:<service>:<actor hex>" */
    ak_buf jws;    /* secret */
    uint64_t exp;
} s_cap_entry;

struct ak_client {
    ak_client_config cfg;
    char api[512];
    ak_http *http;
    ak_s3 s3;
    bool s3_ready;
    ak_client_session sess;
    ak_buf jwt; /* secret */
    s_cap_entry caps[AK_CLIENT_MAX_CAPS];
    size_t n_caps;
    bool sts_have[S_CLASSES];
    ak_client_creds sts[S_CLASSES];
    char last_reason[64];
    long last_status;
};

/* ================================================================ small helpers */

static uint64_t s_now(const ak_client *cl) {
    if (cl->cfg.now) return cl->cfg.now();
    return (uint64_t)time(NULL);
}

static void s_creds_init(ak_client_creds *c) {
    memset(c, 0, sizeof *c);
    ak_buf_init(&c->access_key_id, 256);
    ak_buf_init_secret(&c->secret_access_key, 256);
    ak_buf_init_secret(&c->session_token, 8192);
}

void ak_client_creds_free(ak_client_creds *c) {
    if (c == NULL) return;
    ak_buf_free(&c->access_key_id);
    ak_buf_free(&c->secret_access_key);
    ak_buf_free(&c->session_token);
    ak_wipe(c, sizeof *c);
}

static ak_err s_creds_copy(const ak_client_creds *src, ak_client_creds *dst) {
    s_creds_init(dst);
    AK_GUARD(ak_buf_append_cur(&dst->access_key_id, ak_buf_cur(&src->access_key_id)));
    AK_GUARD(ak_buf_append_cur(&dst->secret_access_key, ak_buf_cur(&src->secret_access_key)));
    AK_GUARD(ak_buf_append_cur(&dst->session_token, ak_buf_cur(&src->session_token)));
    dst->expiration = src->expiration;
    memcpy(dst->actor_omni, src->actor_omni, sizeof dst->actor_omni);
    return AK_OK;
}

/* Bare lowercase 64-hex form of an omni given as bare or 0x hex, either case. */
static ak_err s_norm_omni(const char *in, char out[65]) {
    ak_omni o;
    AK_GUARD(ak_omni_parse(ak_cur_from_str(in), &o));
    ak_omni_hex(&o, out);
    return AK_OK;
}

static void s_copy_cur(ak_cur c, char *dst, size_t cap) {
    if (ak_cur_to_cstr(c, dst, cap) != AK_OK) dst[0] = '\0';
}

static void s_set_reason(ak_client *cl, long status, const char *reason) {
    cl->last_status = status;
    snprintf(cl->last_reason, sizeof cl->last_reason, "%s", reason ? reason : "");
}

/* ================================================================ cache */

static void s_forget_all(ak_client *cl) {
    memset(&cl->sess, 0, sizeof cl->sess);
    ak_buf_clear(&cl->jwt);
    for (size_t i = 0; i < cl->n_caps; i++)
        ak_buf_free(&cl->caps[i].jws);
    cl->n_caps = 0;
    for (int i = 0; i < S_CLASSES; i++)
        if (cl->sts_have[i]) {
            ak_client_creds_free(&cl->sts[i]);
            cl->sts_have[i] = false;
        }
}

static ak_err s_write_0600(const char *path, ak_cur data) { return ak_file_write_0600(path, data); }

/* Serialises the state to the cache file (no-op without a cache path). */
static ak_err s_save(ak_client *cl) {
    if (cl->cfg.cache_path == NULL) return AK_OK;
    ak_err rc = AK_OK;
    json_t *root = NULL, *caps = NULL, *sts = NULL;
    ak_buf out;
    ak_buf_init_secret(&out, 1u << 20);
    root = json_object();
    caps = json_array();
    sts = json_object();
    AK_ENSURE_OUT(root && caps && sts, AK_E_NOMEM);
    AK_ENSURE_OUT(json_object_set_new(root, "v", json_integer(1)) == 0, AK_E_NOMEM);
    AK_ENSURE_OUT(json_object_set_new(root, "api_url", json_string(cl->api)) == 0, AK_E_NOMEM);
    if (cl->sess.valid) {
        json_t *s = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "jwt", ak_buf_cstr(&cl->jwt),
                              "expires_at", (json_int_t)cl->sess.expires_at, "address", cl->sess.address,
                              "omni", cl->sess.omni, "operator_omni", cl->sess.operator_omni, "kind",
                              cl->sess.kind, "device_key_hash", cl->sess.device_key_hash);
        AK_ENSURE_OUT(s != NULL && json_object_set_new(root, "session", s) == 0, AK_E_NOMEM);
    }
    for (size_t i = 0; i < cl->n_caps; i++) {
        json_t *c = json_pack("{s:s, s:s, s:I}", "key", cl->caps[i].key, "cap", ak_buf_cstr(&cl->caps[i].jws),
                              "expires_at", (json_int_t)cl->caps[i].exp);
        AK_ENSURE_OUT(c != NULL && json_array_append_new(caps, c) == 0, AK_E_NOMEM);
    }
    for (int i = 0; i < S_CLASSES; i++) {
        if (!cl->sts_have[i]) continue;
        const ak_client_creds *k = &cl->sts[i];
        json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:s}", "access_key_id", ak_buf_cstr(&k->access_key_id),
                              "secret_access_key", ak_buf_cstr(&k->secret_access_key), "session_token",
                              ak_buf_cstr(&k->session_token), "expiration", (json_int_t)k->expiration,
                              "actor_omni", k->actor_omni);
        AK_ENSURE_OUT(c != NULL && json_object_set_new(sts, ak_data_class_str((ak_data_class)i), c) == 0,
                      AK_E_NOMEM);
    }
    AK_ENSURE_OUT(json_object_set(root, "caps", caps) == 0 && json_object_set(root, "sts", sts) == 0,
                  AK_E_NOMEM);
    AK_GUARD_OUT(ak_json_dump(root, &out));
    AK_GUARD_OUT(s_write_0600(cl->cfg.cache_path, ak_buf_cur(&out)));
out:
    if (root) json_decref(root);
    if (caps) json_decref(caps);
    if (sts) json_decref(sts);
    ak_buf_free(&out);
    return rc;
}

static ak_err s_load_sts(ak_client_creds *k, const json_t *c) {
    ak_cur a, s, t, actor;
    uint64_t exp;
    AK_GUARD(ak_json_str(c, "access_key_id", &a));
    AK_GUARD(ak_json_str(c, "secret_access_key", &s));
    AK_GUARD(ak_json_str(c, "session_token", &t));
    AK_GUARD(ak_json_str(c, "actor_omni", &actor));
    AK_GUARD(ak_json_u64(c, "expiration", &exp));
    AK_GUARD(ak_buf_append_cur(&k->access_key_id, a));
    AK_GUARD(ak_buf_append_cur(&k->secret_access_key, s));
    AK_GUARD(ak_buf_append_cur(&k->session_token, t));
    k->expiration = exp;
    s_copy_cur(actor, k->actor_omni, sizeof k->actor_omni);
    return AK_OK;
}

/* Loads the cache; anything malformed or for another wallet/API is ignored (state stays empty). */
static void s_load(ak_client *cl) {
    if (cl->cfg.cache_path == NULL) return;
    ak_buf b;
    json_t *root = NULL;
    ak_buf_init_secret(&b, 1u << 20);
    if (ak_buf_append_file(&b, cl->cfg.cache_path) != AK_OK ||
        ak_json_parse_object(ak_buf_cur(&b), &root) != AK_OK)
        goto out;
    ak_cur api;
    if (ak_json_str(root, "api_url", &api) != AK_OK || !ak_cur_eq_str(api, cl->api)) goto out;
    const json_t *s = json_object_get(root, "session");
    if (json_is_object(s)) {
        ak_cur jwt, addr, omni, op, kind, dkh;
        uint64_t exp;
        if (ak_json_str(s, "jwt", &jwt) != AK_OK || ak_json_str(s, "address", &addr) != AK_OK ||
            ak_json_str(s, "omni", &omni) != AK_OK || ak_json_str(s, "operator_omni", &op) != AK_OK ||
            ak_json_str(s, "kind", &kind) != AK_OK || ak_json_str(s, "device_key_hash", &dkh) != AK_OK ||
            ak_json_u64(s, "expires_at", &exp) != AK_OK)
            goto out;
        if (cl->cfg.address && !ak_cur_eq_nocase(addr, ak_cur_from_str(cl->cfg.address))) goto out;
        if (ak_buf_append_cur(&cl->jwt, jwt) != AK_OK) goto out;
        s_copy_cur(addr, cl->sess.address, sizeof cl->sess.address);
        s_copy_cur(omni, cl->sess.omni, sizeof cl->sess.omni);
        s_copy_cur(op, cl->sess.operator_omni, sizeof cl->sess.operator_omni);
        s_copy_cur(kind, cl->sess.kind, sizeof cl->sess.kind);
        s_copy_cur(dkh, cl->sess.device_key_hash, sizeof cl->sess.device_key_hash);
        cl->sess.expires_at = exp;
        cl->sess.valid = true;
    } else {
        goto out; /* caps and credentials without a session are not kept */
    }
    const json_t *caps = json_object_get(root, "caps");
    size_t i;
    const json_t *c;
    json_array_foreach(caps, i, c) {
        if (cl->n_caps >= AK_CLIENT_MAX_CAPS) break;
        ak_cur key, jws;
        uint64_t exp;
        if (ak_json_str(c, "key", &key) != AK_OK || ak_json_str(c, "cap", &jws) != AK_OK ||
            ak_json_u64(c, "expires_at", &exp) != AK_OK)
            continue;
        s_cap_entry *e = &cl->caps[cl->n_caps];
        ak_buf_init_secret(&e->jws, S_MAX_JWT);
        if (ak_cur_to_cstr(key, e->key, sizeof e->key) != AK_OK || ak_buf_append_cur(&e->jws, jws) != AK_OK) {
            ak_buf_free(&e->jws);
            continue;
        }
        e->exp = exp;
        cl->n_caps++;
    }
    const json_t *sts = json_object_get(root, "sts");
    for (int k = 0; k < S_CLASSES; k++) {
        const json_t *v = json_object_get(sts, ak_data_class_str((ak_data_class)k));
        if (!json_is_object(v)) continue;
        s_creds_init(&cl->sts[k]);
        if (s_load_sts(&cl->sts[k], v) == AK_OK)
            cl->sts_have[k] = true;
        else
            ak_client_creds_free(&cl->sts[k]);
    }
out:
    if (root) json_decref(root);
    ak_buf_free(&b);
}

/* ================================================================ lifecycle */

ak_err ak_client_new(const ak_client_config *cfg, ak_client **out) {
    AK_PRECOND(cfg != NULL && out != NULL);
    *out = NULL;
    AK_ENSURE(cfg->api_url && cfg->api_url[0] && cfg->chain_id != 0, AK_E_CONFIG);
    ak_client *cl = ak_calloc(1, sizeof *cl);
    AK_ENSURE(cl != NULL, AK_E_NOMEM);
    cl->cfg = *cfg;
    ak_buf_init_secret(&cl->jwt, S_MAX_JWT);
    ak_err rc = ak_cur_to_cstr(ak_cur_from_str(cfg->api_url), cl->api, sizeof cl->api);
    size_t n = strlen(cl->api);
    while (rc == AK_OK && n > 0 && cl->api[n - 1] == '/')
        cl->api[--n] = '\0';
    if (rc == AK_OK) {
        ak_http_config hc = {.retry = {.max_attempts = 2}, .user_agent = "agentkeys-cli/1"};
        rc = ak_http_new(&hc, &cl->http);
    }
    if (rc != AK_OK) {
        ak_client_free(cl);
        return rc == AK_E_LIMIT ? AK_E_CONFIG : rc;
    }
    s_load(cl);
    *out = cl;
    return AK_OK;
}

void ak_client_free(ak_client *cl) {
    if (cl == NULL) return;
    s_forget_all(cl);
    ak_buf_free(&cl->jwt);
    ak_http_free(cl->http);
    ak_free_secure(cl, sizeof *cl);
}

const char *ak_client_last_reason(const ak_client *cl) { return cl->last_reason; }
long ak_client_last_status(const ak_client *cl) { return cl->last_status; }
ak_http *ak_client_http(ak_client *cl) { return cl->http; }

void ak_client_session_info(const ak_client *cl, ak_client_session *out) { *out = cl->sess; }

ak_err ak_client_logout(ak_client *cl) {
    s_forget_all(cl);
    s_set_reason(cl, 0, "");
    if (cl->cfg.cache_path && unlink(cl->cfg.cache_path) != 0 && errno != ENOENT) return AK_E_IO;
    return AK_OK;
}

/* ================================================================ HTTP */

/* POST (or GET with body NULL) to the API. On 2xx *json gets the parsed object (caller
 * decref's) when asked; otherwise the error maps from the body's reason, else from the status. */
/* Where a call goes: the API, the HTTP handle, and where its refusal reason is kept. */
typedef struct s_target {
    ak_http *http;
    const char *api;
    unsigned timeout_ms;
    const ak_buf *jwt; /* for bearer calls */
    char *reason;      /* [64] */
    long *status;
} s_target;

static void s_tset(const s_target *t, long status, const char *reason) {
    *t->status = status;
    snprintf(t->reason, 64, "%s", reason ? reason : "");
}

static ak_err s_api_to(const s_target *t, const char *method, const char *path, ak_cur body, bool bearer,
                       const ak_http_header *extra, size_t n_extra, bool secret, json_t **json) {
    char url[800];
    int n = snprintf(url, sizeof url, "%s%s", t->api, path);
    AK_ENSURE(n > 0 && (size_t)n < sizeof url, AK_E_LIMIT);
    ak_http_header hs[8];
    size_t nh = 0;
    ak_buf auth;
    ak_buf_init_secret(&auth, S_MAX_JWT + 16);
    ak_err rc = AK_OK;
    json_t *obj = NULL;
    ak_http_response r;
    ak_http_response_init(&r);
    s_tset(t, 0, "");
    hs[nh++] = (ak_http_header){"content-type", AK_CUR_LIT("application/json")};
    if (bearer) {
        AK_GUARD_OUT(ak_buf_append_str(&auth, "Bearer "));
        AK_GUARD_OUT(ak_buf_append_cur(&auth, ak_buf_cur(t->jwt)));
        hs[nh++] = (ak_http_header){"authorization", ak_buf_cur(&auth)};
    }
    for (size_t i = 0; i < n_extra && nh < 8; i++)
        hs[nh++] = extra[i];
    ak_http_request req = {.method = method,
                           .url = url,
                           .headers = hs,
                           .n_headers = nh,
                           .body = body,
                           .timeout_ms = t->timeout_ms ? t->timeout_ms : 60000u,
                           .idempotent = strcmp(method, "GET") == 0,
                           .body_secret = secret};
    AK_GUARD_OUT(ak_http_do(t->http, &req, &r));
    if (r.status >= 200 && r.status < 300) {
        s_tset(t, r.status, "");
        if (json) {
            AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&r.body), &obj) == AK_OK, AK_E_UPSTREAM);
            *json = obj;
            obj = NULL;
        }
        goto out;
    }
    /* D14 error body {"error","reason"} */
    rc = ak_http_status_err(r.status);
    char reason[64] = "";
    if (ak_json_parse_object(ak_buf_cur(&r.body), &obj) == AK_OK) {
        ak_cur rs;
        if (ak_json_str(obj, "reason", &rs) == AK_OK && ak_cur_to_cstr(rs, reason, sizeof reason) == AK_OK) {
            ak_err e = ak_err_from_reason(reason);
            if (e != AK_E__COUNT && e != AK_OK) rc = e;
        }
    }
    if (reason[0] == '\0') snprintf(reason, sizeof reason, "%s", ak_err_reason(rc));
    s_tset(t, r.status, reason);
out:
    if (obj) json_decref(obj);
    ak_http_response_free(&r);
    ak_buf_free(&auth);
    return rc;
}

static ak_err s_api(ak_client *cl, const char *method, const char *path, ak_cur body, bool bearer,
                    const ak_http_header *extra, size_t n_extra, bool secret, json_t **json) {
    s_target t = {.http = cl->http,
                  .api = cl->api,
                  .timeout_ms = cl->cfg.timeout_ms,
                  .jwt = &cl->jwt,
                  .reason = cl->last_reason,
                  .status = &cl->last_status};
    return s_api_to(&t, method, path, body, bearer, extra, n_extra, secret, json);
}

/* ================================================================ login */

static ak_err s_do_login(ak_client *cl) {
    AK_ENSURE(cl->cfg.get_key != NULL, AK_E_CONFIG);
    uint8_t key[32], pub[65], addr[20], d[32], sig[65];
    char addr_hex[43], sig_hex[2 * 65 + 3] = "0x";
    ak_err rc = AK_OK;
    json_t *start = NULL, *verify = NULL;
    ak_buf body;
    ak_buf_init(&body, 1u << 16);
    AK_GUARD_OUT(cl->cfg.get_key(cl->cfg.key_ud, key));
    AK_GUARD_OUT(ak_secp256k1_pubkey(key, pub));
    ak_eth_address_from_pub(pub, addr);
    ak_eth_address_hex(addr, addr_hex);
    AK_GUARD_OUT(ak_buf_printf(&body, "{\"address\":\"%s\",\"chain_id\":%llu}", addr_hex,
                               (unsigned long long)cl->cfg.chain_id));
    AK_GUARD_OUT(
        s_api(cl, "POST", "/v1/auth/wallet/start", ak_buf_cur(&body), false, NULL, 0, false, &start));
    ak_cur rid, msg;
    AK_ENSURE_OUT(ak_json_str(start, "request_id", &rid) == AK_OK &&
                      ak_json_str(start, "siwe_message", &msg) == AK_OK,
                  AK_E_UPSTREAM);
    /* The message must be for our wallet and chain: never sign what we did not ask for. */
    ak_siwe_msg sm;
    AK_ENSURE_OUT(ak_siwe_parse(msg, &sm) == AK_OK, AK_E_SIWE_MALFORMED);
    AK_ENSURE_OUT(memcmp(sm.address, addr, 20) == 0, AK_E_SIWE_MALFORMED);
    AK_ENSURE_OUT(sm.chain_id == cl->cfg.chain_id, AK_E_SIWE_CHAIN);
    /* EIP-191 personal_sign of the exact message bytes */
    ak_eip191_hash(msg.ptr, msg.len, d);
    AK_GUARD_OUT(ak_secp256k1_sign(key, d, sig));
    ak_wipe(key, sizeof key);
    ak_hex_encode(sig, 65, sig_hex + 2);
    ak_buf_clear(&body);
    AK_GUARD_OUT(ak_buf_append_str(&body, "{\"request_id\":"));
    json_t *ridj = ak_json_string_cur(rid);
    AK_ENSURE_OUT(ridj != NULL, AK_E_NOMEM);
    rc = ak_json_dump(ridj, &body);
    json_decref(ridj);
    AK_GUARD_OUT(rc);
    AK_GUARD_OUT(ak_buf_printf(&body, ",\"signature\":\"%s\"}", sig_hex));
    AK_GUARD_OUT(
        s_api(cl, "POST", "/v1/auth/wallet/verify", ak_buf_cur(&body), false, NULL, 0, true, &verify));
    ak_cur jwt, omni, op, kind, dkh;
    uint64_t exp;
    AK_ENSURE_OUT(ak_json_str(verify, "session_jwt", &jwt) == AK_OK &&
                      ak_json_str(verify, "omni_account", &omni) == AK_OK &&
                      ak_json_str(verify, "operator_omni", &op) == AK_OK &&
                      ak_json_str(verify, "session_kind", &kind) == AK_OK &&
                      ak_json_str(verify, "device_key_hash", &dkh) == AK_OK &&
                      ak_json_u64(verify, "expires_at", &exp) == AK_OK,
                  AK_E_UPSTREAM);
    s_forget_all(cl);
    AK_GUARD_OUT(ak_buf_append_cur(&cl->jwt, jwt));
    memcpy(cl->sess.address, addr_hex, sizeof cl->sess.address);
    char tmp[80];
    s_copy_cur(omni, tmp, sizeof tmp);
    AK_GUARD_OUT(s_norm_omni(tmp, cl->sess.omni));
    s_copy_cur(op, tmp, sizeof tmp);
    AK_GUARD_OUT(s_norm_omni(tmp, cl->sess.operator_omni));
    s_copy_cur(kind, cl->sess.kind, sizeof cl->sess.kind);
    s_copy_cur(dkh, cl->sess.device_key_hash, sizeof cl->sess.device_key_hash);
    cl->sess.expires_at = exp;
    cl->sess.valid = true;
    AK_GUARD_OUT(s_save(cl));
out:
    ak_wipe(key, sizeof key);
    ak_wipe(sig, sizeof sig);
    if (start) json_decref(start);
    if (verify) json_decref(verify);
    ak_buf_free(&body);
    if (rc != AK_OK && rc != AK_E_IO && cl->sess.valid && cl->jwt.len == 0)
        memset(&cl->sess, 0, sizeof cl->sess);
    return rc;
}

ak_err ak_client_login(ak_client *cl, bool force) {
    if (!force && cl->sess.valid && cl->sess.expires_at > s_now(cl) + AK_CLIENT_SESSION_MARGIN) return AK_OK;
    return s_do_login(cl);
}

/* Runs `call` with a session; a 401 `unauthorized` (expired/unknown session) gets one retry
 * after a fresh login. */
typedef ak_err (*s_call_fn)(ak_client *cl, void *ud);
static ak_err s_with_session(ak_client *cl, s_call_fn call, void *ud) {
    AK_GUARD(ak_client_login(cl, false));
    ak_err rc = call(cl, ud);
    if (rc == AK_E_UNAUTHORIZED || rc == AK_E_TOKEN_EXPIRED) {
        AK_GUARD(ak_client_login(cl, true));
        rc = call(cl, ud);
    }
    return rc;
}

typedef struct s_generic {
    const char *method, *path;
    ak_cur body;
    json_t *resp;
} s_generic;

static ak_err s_generic_call(ak_client *cl, void *ud) {
    s_generic *g = ud;
    return s_api(cl, g->method, g->path, g->body, true, NULL, 0, false, &g->resp);
}

ak_err ak_client_call(ak_client *cl, const char *method, const char *path, ak_cur body, json_t **json) {
    AK_PRECOND(cl != NULL && method != NULL && path != NULL && json != NULL);
    s_generic g = {method, path, body, NULL};
    ak_err rc = s_with_session(cl, s_generic_call, &g);
    if (rc == AK_OK)
        *json = g.resp;
    else if (g.resp)
        json_decref(g.resp);
    return rc;
}

/* ================================================================ caps */

static const char *s_cap_route(ak_op op, ak_data_class cls) {
    if (cls == AK_CLASS_CREDENTIALS)
        return op == AK_OP_STORE   ? "cred-store"
               : op == AK_OP_FETCH ? "cred-fetch"
               : op == AK_OP_USE   ? "cred-use"
                                   : "cred-teardown";
    if (op == AK_OP_USE) return NULL; /* credentials only (D19) */
    if (cls == AK_CLASS_MEMORY)
        return op == AK_OP_STORE ? "memory-put" : op == AK_OP_FETCH ? "memory-get" : "memory-teardown";
    return NULL;
}

static const char *s_worker_route(ak_op op, ak_data_class cls) {
    if (cls == AK_CLASS_CREDENTIALS)
        return op == AK_OP_STORE   ? "/v1/cred/store"
               : op == AK_OP_FETCH ? "/v1/cred/fetch"
               : op == AK_OP_USE   ? "/v1/cred/use"
                                   : "/v1/cred/teardown";
    return op == AK_OP_STORE   ? "/v1/memory/put"
           : op == AK_OP_FETCH ? "/v1/memory/get"
                               : "/v1/memory/teardown";
}

typedef struct s_mint {
    ak_op op;
    ak_data_class cls;
    ak_cur service;
    const char *actor; /* bare lowercase */
    json_t *resp;
} s_mint;

static ak_err s_mint_call(ak_client *cl, void *ud) {
    s_mint *m = ud;
    uint8_t key[32], sig[65], nonce_raw[16], dkh[32];
    char nonce[33], sig_hex[133] = "0x", path[64];
    ak_buf body;
    ak_buf_init(&body, 4096);
    ak_err rc = AK_OK;
    uint64_t ts = s_now(cl);
    AK_GUARD_OUT(ak_random(nonce_raw, sizeof nonce_raw));
    ak_hex_encode(nonce_raw, sizeof nonce_raw, nonce);
    ak_cap_pop_msg pm = {.service = m->service,
                         .op = m->op,
                         .data_class = m->cls,
                         .client_nonce = ak_cur_from_str(nonce),
                         .client_ts = ts};
    AK_GUARD_OUT(ak_omni_parse(ak_cur_from_str(cl->sess.operator_omni), &pm.operator_omni));
    AK_GUARD_OUT(ak_omni_parse(ak_cur_from_str(m->actor), &pm.actor_omni));
    AK_GUARD_OUT(ak_hash32_parse(ak_cur_from_str(cl->sess.device_key_hash), dkh));
    AK_ENSURE_OUT(cl->cfg.get_key != NULL, AK_E_CONFIG);
    AK_GUARD_OUT(cl->cfg.get_key(cl->cfg.key_ud, key));
    rc = ak_cap_pop_sign(key, &pm, sig);
    ak_wipe(key, sizeof key);
    AK_GUARD_OUT(rc);
    ak_hex_encode(sig, 65, sig_hex + 2);
    char dkh_hex[67];
    ak_hash32_hex0x(dkh, dkh_hex);
    /* service is D3-validated by ak_cap_pop_sign: no JSON escaping needed */
    AK_GUARD_OUT(ak_buf_printf(&body,
                               "{\"operator_omni\":\"%s\",\"actor_omni\":\"%s\",\"service\":\"%.*s\","
                               "\"device_key_hash\":\"%s\",\"client_sig\":\"%s\",\"client_nonce\":\"%s\","
                               "\"client_ts\":%llu}",
                               cl->sess.operator_omni, m->actor, (int)m->service.len,
                               (const char *)m->service.ptr, dkh_hex, sig_hex, nonce,
                               (unsigned long long)ts));
    snprintf(path, sizeof path, "/v1/cap/%s", s_cap_route(m->op, m->cls));
    AK_GUARD_OUT(s_api(cl, "POST", path, ak_buf_cur(&body), true, NULL, 0, true, &m->resp));
out:
    ak_wipe(sig, sizeof sig);
    ak_buf_free(&body);
    return rc;
}

static ak_err s_actor_of(const ak_client *cl, const char *actor_hex, char out[65]) {
    if (actor_hex == NULL || actor_hex[0] == '\0') {
        memcpy(out, cl->sess.omni, 65);
        return AK_OK;
    }
    return s_norm_omni(actor_hex, out);
}

static void s_cap_drop(ak_client *cl, size_t i) {
    ak_buf_free(&cl->caps[i].jws);
    memmove(&cl->caps[i], &cl->caps[i + 1], (cl->n_caps - i - 1) * sizeof cl->caps[0]);
    cl->n_caps--;
}

/* The cap, from the cache unless `fresh`. *cached tells which. */
static ak_err s_cap(ak_client *cl, ak_op op, ak_data_class cls, ak_cur service, const char *actor_hex,
                    bool fresh, ak_buf *cap, bool *cached) {
    AK_ENSURE(s_cap_route(op, cls) != NULL, AK_E_INVALID_INPUT);
    if (cls == AK_CLASS_MEMORY)
        AK_GUARD(ak_namespace_validate(service));
    else
        AK_GUARD(ak_service_validate(service));
    AK_GUARD(ak_client_login(cl, false));
    char actor[65], key[160];
    AK_GUARD(s_actor_of(cl, actor_hex, actor));
    snprintf(key, sizeof key, "%s:%s:%.*s:%s", ak_op_str(op), ak_data_class_str(cls), (int)service.len,
             (const char *)service.ptr, actor);
    uint64_t now = s_now(cl);
    for (size_t i = 0; i < cl->n_caps; i++) {
        if (strcmp(cl->caps[i].key, key) != 0) continue;
        if (!fresh && cl->caps[i].exp > now + AK_CLIENT_CAP_MARGIN) {
            *cached = true;
            return ak_buf_append_cur(cap, ak_buf_cur(&cl->caps[i].jws));
        }
        s_cap_drop(cl, i);
        break;
    }
    *cached = false;
    s_mint m = {.op = op, .cls = cls, .service = service, .actor = actor};
    ak_err rc = s_with_session(cl, s_mint_call, &m);
    if (rc != AK_OK) {
        if (m.resp) json_decref(m.resp);
        return rc;
    }
    ak_cur jws;
    uint64_t exp;
    rc = ak_json_str(m.resp, "cap", &jws) == AK_OK && ak_json_u64(m.resp, "expires_at", &exp) == AK_OK
             ? AK_OK
             : AK_E_UPSTREAM;
    if (rc == AK_OK) rc = ak_buf_append_cur(cap, jws);
    if (rc == AK_OK && op != AK_OP_TEARDOWN) {
        if (cl->n_caps == AK_CLIENT_MAX_CAPS) s_cap_drop(cl, 0);
        s_cap_entry *e = &cl->caps[cl->n_caps];
        ak_buf_init_secret(&e->jws, S_MAX_JWT);
        memcpy(e->key, key, sizeof e->key);
        e->exp = exp;
        if (ak_buf_append_cur(&e->jws, jws) == AK_OK) {
            cl->n_caps++;
            (void)s_save(cl); /* a cache that cannot be written only costs a re-mint */
        } else {
            ak_buf_free(&e->jws);
        }
    }
    json_decref(m.resp);
    return rc;
}

ak_err ak_client_cap(ak_client *cl, ak_op op, ak_data_class cls, ak_cur service, const char *actor_hex,
                     ak_buf *cap) {
    bool cached;
    return s_cap(cl, op, cls, service, actor_hex, false, cap, &cached);
}

/* ================================================================ STS */

typedef struct s_sts_call {
    ak_data_class cls;
    const char *actor;
    json_t *resp;
} s_sts_call;

static ak_err s_sts_call_fn(ak_client *cl, void *ud) {
    s_sts_call *s = ud;
    char body[200];
    if (strcmp(s->actor, cl->sess.omni) == 0)
        snprintf(body, sizeof body, "{\"data_class\":\"%s\"}", ak_data_class_str(s->cls));
    else
        snprintf(body, sizeof body, "{\"data_class\":\"%s\",\"actor_omni\":\"%s\"}",
                 ak_data_class_str(s->cls), s->actor);
    return s_api(cl, "POST", "/v1/mint-aws-creds", ak_cur_from_str(body), true, NULL, 0, true, &s->resp);
}

static ak_err s_aws(ak_client *cl, ak_data_class cls, const char *actor_hex, bool fresh, ak_client_creds *out,
                    bool *cached) {
    AK_ENSURE((int)cls >= 0 && (int)cls < S_CLASSES, AK_E_INVALID_INPUT);
    AK_GUARD(ak_client_login(cl, false));
    char actor[65];
    AK_GUARD(s_actor_of(cl, actor_hex, actor));
    uint64_t now = s_now(cl);
    if (cl->sts_have[cls]) {
        if (!fresh && strcmp(cl->sts[cls].actor_omni, actor) == 0 &&
            cl->sts[cls].expiration > now + AK_CLIENT_STS_MARGIN) {
            *cached = true;
            return s_creds_copy(&cl->sts[cls], out);
        }
        ak_client_creds_free(&cl->sts[cls]);
        cl->sts_have[cls] = false;
    }
    *cached = false;
    s_sts_call s = {.cls = cls, .actor = actor};
    ak_err rc = s_with_session(cl, s_sts_call_fn, &s);
    ak_cur a, k, t;
    uint64_t exp = 0;
    if (rc == AK_OK) {
        rc = ak_json_str(s.resp, "access_key_id", &a) == AK_OK &&
                     ak_json_str(s.resp, "secret_access_key", &k) == AK_OK &&
                     ak_json_str(s.resp, "session_token", &t) == AK_OK
                 ? AK_OK
                 : AK_E_UPSTREAM;
    }
    if (rc == AK_OK && ak_json_u64(s.resp, "expiration", &exp) != AK_OK) {
        ak_cur iso;
        int64_t e;
        if (ak_json_str(s.resp, "expiration_iso", &iso) == AK_OK && ak_rfc3339_parse(iso, &e) == AK_OK &&
            e > 0)
            exp = (uint64_t)e;
    }
    if (rc == AK_OK && exp == 0) exp = now + 900; /* STS's minimum duration */
    if (rc == AK_OK) {
        ak_client_creds *c = &cl->sts[cls];
        s_creds_init(c);
        if ((rc = ak_buf_append_cur(&c->access_key_id, a)) == AK_OK &&
            (rc = ak_buf_append_cur(&c->secret_access_key, k)) == AK_OK &&
            (rc = ak_buf_append_cur(&c->session_token, t)) == AK_OK) {
            c->expiration = exp;
            memcpy(c->actor_omni, actor, sizeof c->actor_omni);
            cl->sts_have[cls] = true;
            (void)s_save(cl);
            rc = s_creds_copy(c, out);
        } else {
            ak_client_creds_free(c);
        }
    }
    if (s.resp) json_decref(s.resp);
    return rc;
}

ak_err ak_client_aws_creds(ak_client *cl, ak_data_class cls, const char *actor_hex, ak_client_creds *out) {
    bool cached;
    s_creds_init(out);
    ak_err rc = s_aws(cl, cls, actor_hex, false, out, &cached);
    if (rc != AK_OK) {
        ak_client_creds_free(out);
        s_creds_init(out);
    }
    return rc;
}

/* ================================================================ workers */

typedef struct s_work_req {
    ak_op op;
    ak_data_class cls;
    ak_cur name;
    const char *actor;
    ak_cur value; /* store */
    ak_buf *out;  /* fetch: plaintext */
    uint64_t *deleted;
    ak_cur policy; /* store: canonical policy JSON, or empty */
} s_work_req;

/* Appends `s` as a JSON string literal. */
static ak_err s_append_jstr(ak_buf *b, ak_cur s) {
    json_t *j = ak_json_string_cur(s);
    AK_ENSURE(j != NULL, AK_E_INVALID_INPUT); /* not UTF-8, or no memory */
    ak_err rc = ak_json_dump(j, b);
    json_decref(j);
    return rc;
}

/* The use request members after "cap" (docs/spec/use-policy.md §4). */
static ak_err s_use_body(const ak_client_use_req *u, ak_buf *body) {
    AK_GUARD(ak_buf_append_str(body, ",\"method\":"));
    AK_GUARD(s_append_jstr(body, ak_cur_from_str(u->method)));
    AK_GUARD(ak_buf_append_str(body, ",\"url\":"));
    AK_GUARD(s_append_jstr(body, u->url));
    if (u->n_headers > 0) {
        json_t *h = json_object();
        AK_ENSURE(h != NULL, AK_E_NOMEM);
        ak_err rc = AK_OK;
        for (size_t i = 0; i < u->n_headers && rc == AK_OK; i++) {
            json_t *v = ak_json_string_cur(u->headers[i].value);
            if (v == NULL || json_object_set_new(h, u->headers[i].name, v) != 0) rc = AK_E_INVALID_INPUT;
        }
        if (rc == AK_OK) rc = ak_buf_append_str(body, ",\"headers\":");
        if (rc == AK_OK) rc = ak_json_dump(h, body);
        json_decref(h);
        AK_GUARD(rc);
    }
    if (u->body.len > 0) {
        AK_GUARD(ak_buf_append_str(body, ",\"body_b64\":\""));
        AK_GUARD(ak_b64_encode(u->body.ptr, u->body.len, body));
        AK_GUARD(ak_buf_append_str(body, "\""));
    }
    return AK_OK;
}

static ak_err s_use_answer(const json_t *resp, ak_client_use_resp *r) {
    uint64_t st = 0, n = 0;
    bool present = false;
    ak_cur b64;
    AK_ENSURE(ak_json_u64(resp, "status", &st) == AK_OK && st >= 100 && st <= 999, AK_E_UPSTREAM);
    AK_ENSURE(ak_json_str(resp, "body_b64", &b64) == AK_OK, AK_E_UPSTREAM);
    const json_t *h = json_object_get(resp, "headers");
    AK_ENSURE(h == NULL || json_is_array(h), AK_E_UPSTREAM);
    if (ak_json_u64_opt(resp, "redactions", &n, &present) != AK_OK) n = 0;
    AK_ENSURE(ak_b64_decode(b64, &r->body) == AK_OK, AK_E_UPSTREAM);
    r->status = (long)st;
    r->redactions = n;
    r->headers = h ? json_deep_copy(h) : json_array();
    AK_ENSURE(r->headers != NULL, AK_E_NOMEM);
    return AK_OK;
}

/* `fresh_cap` / `fresh_creds`: mint the cap / the STS credentials anew instead of using the cache. */
static ak_err s_work_once(ak_client *cl, s_work_req *w, bool fresh_cap, bool fresh_creds, bool *used_cache) {
    ak_buf cap, body;
    ak_client_creds cr;
    json_t *resp = NULL;
    ak_err rc = AK_OK;
    bool c1 = false, c2 = false;
    ak_buf_init_secret(&cap, S_MAX_JWT);
    ak_buf_init_secret(&body, AK_CLIENT_MAX_VALUE * 2 + S_MAX_JWT);
    s_creds_init(&cr);
    AK_GUARD_OUT(s_cap(cl, w->op, w->cls, w->name, w->actor, fresh_cap, &cap, &c1));
    ak_client_creds_free(&cr);
    AK_GUARD_OUT(s_aws(cl, w->cls, w->actor, fresh_creds, &cr, &c2));
    *used_cache = c1 || c2;
    AK_GUARD_OUT(ak_buf_append_str(&body, "{\"cap\":\""));
    AK_GUARD_OUT(ak_buf_append_cur(&body, ak_buf_cur(&cap)));
    AK_GUARD_OUT(ak_buf_append_str(&body, "\""));
    if (w->op == AK_OP_STORE) {
        AK_GUARD_OUT(ak_buf_append_str(&body, ",\"plaintext_b64\":\""));
        AK_GUARD_OUT(ak_b64_encode(w->value.ptr, w->value.len, &body));
        AK_GUARD_OUT(ak_buf_append_str(&body, "\""));
        if (w->policy.len > 0) {
            AK_GUARD_OUT(ak_buf_append_str(&body, ",\"policy\":"));
            AK_GUARD_OUT(ak_buf_append_cur(&body, w->policy));
        }
    }
    AK_GUARD_OUT(ak_buf_append_str(&body, "}"));
    ak_http_header hs[3] = {{"x-aws-access-key-id", ak_buf_cur(&cr.access_key_id)},
                            {"x-aws-secret-access-key", ak_buf_cur(&cr.secret_access_key)},
                            {"x-aws-session-token", ak_buf_cur(&cr.session_token)}};
    AK_GUARD_OUT(
        s_api(cl, "POST", s_worker_route(w->op, w->cls), ak_buf_cur(&body), false, hs, 3, true, &resp));
    if (w->op == AK_OP_FETCH) {
        ak_cur b64;
        AK_ENSURE_OUT(ak_json_str(resp, "plaintext_b64", &b64) == AK_OK, AK_E_UPSTREAM);
        AK_GUARD_OUT(ak_b64_decode(b64, w->out));
    } else if (w->op == AK_OP_TEARDOWN && w->deleted) {
        if (ak_json_u64(resp, "keys_deleted", w->deleted) != AK_OK) *w->deleted = 0;
    }
out:
    if (resp) json_decref(resp);
    ak_buf_free(&cap);
    ak_buf_free(&body);
    ak_client_creds_free(&cr);
    return rc;
}

bool ak_client_use_retryable(ak_err rc) {
    return rc == AK_E_CAP_EXPIRED || rc == AK_E_ACCESS_DENIED || rc == AK_E_UNAUTHORIZED ||
           rc == AK_E_BROKER_SIG_INVALID || rc == AK_E_K3_EPOCH_MISMATCH;
}

/* True when a refusal concerns the STS credentials (or the session behind them), not only the
 * cap: a cap refused for its age, signature or K3 epoch needs a new cap, and minting new STS
 * credentials too would send every agent to STS at once after an epoch rotation (issue 16: on
 * the local stack that burst of mints stalled the OIDC function for minutes). */
static bool s_creds_refused(ak_err rc) { return rc == AK_E_ACCESS_DENIED || rc == AK_E_UNAUTHORIZED; }

static ak_err s_work_run(ak_client *cl, s_work_req *w) {
    bool used_cache = false;
    size_t mark = w->out ? w->out->len : 0;
    ak_err rc = s_work_once(cl, w, false, false, &used_cache);
    /* A cached cap or credential the server no longer takes: once more with fresh ones. */
    if (used_cache && ak_client_use_retryable(rc)) {
        if (w->out) w->out->len = mark;
        rc = s_work_once(cl, w, true, s_creds_refused(rc), &used_cache);
    }
    return rc;
}

ak_err ak_client_put(ak_client *cl, ak_data_class cls, ak_cur name, ak_cur value) {
    AK_ENSURE(cls == AK_CLASS_CREDENTIALS || cls == AK_CLASS_MEMORY, AK_E_INVALID_INPUT);
    AK_ENSURE(value.len <= AK_CLIENT_MAX_VALUE, AK_E_TOO_LARGE);
    s_work_req w = {.op = AK_OP_STORE, .cls = cls, .name = name, .value = value};
    return s_work_run(cl, &w);
}

ak_err ak_client_put_ex(ak_client *cl, ak_data_class cls, ak_cur name, ak_cur value,
                        const ak_client_put_opts *o) {
    if (o == NULL) return ak_client_put(cl, cls, name, value);
    AK_ENSURE(cls == AK_CLASS_CREDENTIALS || cls == AK_CLASS_MEMORY, AK_E_INVALID_INPUT);
    AK_ENSURE(value.len <= AK_CLIENT_MAX_VALUE, AK_E_TOO_LARGE);
    s_work_req w = {.op = AK_OP_STORE, .cls = cls, .name = name, .value = value, .actor = o->actor_hex};
    ak_buf canon;
    ak_buf_init(&canon, AK_USE_MAX_POLICY * 2);
    json_t *doc = NULL, *cj = NULL;
    ak_err rc = AK_OK;
    if (o->policy_json.len > 0) {
        /* the server's own rules, before anything is minted (docs/spec/use-policy.md §1) */
        AK_ENSURE_OUT(cls == AK_CLASS_CREDENTIALS, AK_E_USE_POLICY_INVALID);
        ak_use_policy p;
        AK_ENSURE_OUT(ak_json_parse_object(o->policy_json, &doc) == AK_OK, AK_E_USE_POLICY_INVALID);
        AK_GUARD_OUT(ak_use_policy_from_json(doc, &p));
        AK_GUARD_OUT(ak_use_secret_check(value));
        cj = ak_use_policy_to_json(&p);
        AK_ENSURE_OUT(cj != NULL, AK_E_NOMEM);
        AK_GUARD_OUT(ak_json_dump_sorted(cj, &canon));
        w.policy = ak_buf_cur(&canon);
    }
    rc = s_work_run(cl, &w);
out:
    if (doc) json_decref(doc);
    if (cj) json_decref(cj);
    ak_buf_free(&canon);
    return rc;
}

void ak_client_use_resp_init(ak_client_use_resp *r) {
    memset(r, 0, sizeof *r);
    /* the body is the third party's answer, redacted; kept secret anyway (it may hold the
     * agent's own data) */
    ak_buf_init_secret(&r->body, AK_CLIENT_USE_MAX_ANSWER);
}

void ak_client_use_resp_free(ak_client_use_resp *r) {
    if (r == NULL) return;
    if (r->headers) json_decref(r->headers);
    r->headers = NULL;
    ak_buf_free(&r->body);
}

void ak_client_use_material_init(ak_client_use_material *m) {
    memset(m, 0, sizeof *m);
    ak_buf_init_secret(&m->cap, S_MAX_JWT);
    s_creds_init(&m->creds);
}

void ak_client_use_material_free(ak_client_use_material *m) {
    if (m == NULL) return;
    ak_buf_free(&m->cap);
    ak_client_creds_free(&m->creds);
}

ak_err ak_client_use_prepare(ak_client *cl, ak_cur service, ak_err refused, ak_client_use_material *m) {
    bool c1 = false, c2 = false;
    /* As s_work_run: any refusal renews the cap, only a refusal of the credentials renews them. */
    bool fresh_cap = refused != AK_OK, fresh_creds = s_creds_refused(refused);
    ak_buf_clear(&m->cap);
    ak_client_creds_free(&m->creds);
    s_creds_init(&m->creds);
    AK_GUARD(s_cap(cl, AK_OP_USE, AK_CLASS_CREDENTIALS, service, NULL, fresh_cap, &m->cap, &c1));
    ak_client_creds_free(&m->creds);
    ak_err rc = s_aws(cl, AK_CLASS_CREDENTIALS, NULL, fresh_creds, &m->creds, &c2);
    if (rc != AK_OK) {
        ak_client_creds_free(&m->creds);
        s_creds_init(&m->creds);
        return rc;
    }
    m->cached = c1 || c2;
    snprintf(m->api, sizeof m->api, "%s", cl->api);
    m->timeout_ms = cl->cfg.timeout_ms;
    return AK_OK;
}

ak_err ak_client_use_send(const ak_client_use_material *m, ak_http *http, const ak_client_use_req *req,
                          ak_client_use_resp *resp, char reason[64], long *status) {
    AK_PRECOND(m != NULL && http != NULL && req != NULL && resp != NULL && req->method != NULL &&
               reason != NULL && status != NULL);
    reason[0] = '\0';
    *status = 0;
    AK_ENSURE(m->api[0] != '\0' && m->cap.len > 0, AK_E_CONFIG);
    AK_ENSURE(req->body.len <= AK_CLIENT_USE_MAX_BODY, AK_E_TOO_LARGE);
    AK_ENSURE(req->n_headers <= AK_USE_MAX_HEADERS, AK_E_INVALID_INPUT);
    AK_ENSURE(req->url.len > 0 && req->url.len <= AK_USE_MAX_URL, AK_E_INVALID_INPUT);
    ak_buf body;
    ak_buf_init_secret(&body, AK_CLIENT_USE_MAX_BODY * 2 + AK_USE_MAX_URL * 2 + 64u * 1024u + S_MAX_JWT);
    json_t *j = NULL;
    ak_err rc = AK_OK;
    AK_GUARD_OUT(ak_buf_append_str(&body, "{\"cap\":\""));
    AK_GUARD_OUT(ak_buf_append_cur(&body, ak_buf_cur(&m->cap)));
    AK_GUARD_OUT(ak_buf_append_str(&body, "\""));
    AK_GUARD_OUT(s_use_body(req, &body));
    AK_GUARD_OUT(ak_buf_append_str(&body, "}"));
    ak_http_header hs[3] = {{"x-aws-access-key-id", ak_buf_cur(&m->creds.access_key_id)},
                            {"x-aws-secret-access-key", ak_buf_cur(&m->creds.secret_access_key)},
                            {"x-aws-session-token", ak_buf_cur(&m->creds.session_token)}};
    s_target t = {
        .http = http, .api = m->api, .timeout_ms = m->timeout_ms, .reason = reason, .status = status};
    AK_GUARD_OUT(s_api_to(&t, "POST", "/v1/cred/use", ak_buf_cur(&body), false, hs, 3, true, &j));
    rc = s_use_answer(j, resp);
    if (rc != AK_OK) {
        ak_client_use_resp_free(resp);
        ak_client_use_resp_init(resp);
    }
out:
    if (j) json_decref(j);
    ak_buf_free(&body);
    return rc;
}

ak_err ak_client_use(ak_client *cl, ak_cur service, const ak_client_use_req *req, ak_client_use_resp *resp) {
    AK_PRECOND(cl != NULL && req != NULL && resp != NULL && req->method != NULL);
    AK_ENSURE(req->body.len <= AK_CLIENT_USE_MAX_BODY, AK_E_TOO_LARGE);
    AK_ENSURE(req->n_headers <= AK_USE_MAX_HEADERS, AK_E_INVALID_INPUT);
    AK_ENSURE(req->url.len > 0 && req->url.len <= AK_USE_MAX_URL, AK_E_INVALID_INPUT);
    ak_client_use_material m;
    ak_client_use_material_init(&m);
    ak_err rc = ak_client_use_prepare(cl, service, AK_OK, &m);
    if (rc == AK_OK) rc = ak_client_use_send(&m, cl->http, req, resp, cl->last_reason, &cl->last_status);
    /* A cached cap or credential the server no longer takes: once more with a fresh cap (and
     * fresh credentials only when they were what was refused). */
    if (m.cached && ak_client_use_retryable(rc)) {
        ak_client_use_resp_free(resp);
        ak_client_use_resp_init(resp);
        rc = ak_client_use_prepare(cl, service, rc, &m);
        if (rc == AK_OK) rc = ak_client_use_send(&m, cl->http, req, resp, cl->last_reason, &cl->last_status);
    }
    ak_client_use_material_free(&m);
    return rc;
}

ak_err ak_client_get(ak_client *cl, ak_data_class cls, ak_cur name, ak_buf *value) {
    AK_ENSURE(cls == AK_CLASS_CREDENTIALS || cls == AK_CLASS_MEMORY, AK_E_INVALID_INPUT);
    s_work_req w = {.op = AK_OP_FETCH, .cls = cls, .name = name, .out = value};
    return s_work_run(cl, &w);
}

ak_err ak_client_teardown(ak_client *cl, ak_data_class cls, const char *actor_hex, uint64_t *deleted) {
    AK_ENSURE(cls == AK_CLASS_CREDENTIALS || cls == AK_CLASS_MEMORY, AK_E_INVALID_INPUT);
    /* The worker lists the whole prefix; the cap still names a service (any valid name). */
    s_work_req w = {
        .op = AK_OP_TEARDOWN, .cls = cls, .name = AK_CUR_LIT("all"), .actor = actor_hex, .deleted = deleted};
    if (deleted) *deleted = 0;
    return s_work_run(cl, &w);
}

/* ================================================================ S3 */

static const char *s_bucket(const ak_client *cl, ak_data_class cls) {
    return cls == AK_CLASS_CREDENTIALS ? cl->cfg.vault_bucket
           : cls == AK_CLASS_MEMORY    ? cl->cfg.memory_bucket
                                       : cl->cfg.mail_bucket;
}

static ak_err s_s3_ready(ak_client *cl, ak_data_class cls) {
    const char *b = s_bucket(cl, cls);
    AK_ENSURE(b != NULL && b[0] != '\0', AK_E_CONFIG);
    if (cl->s3_ready) return AK_OK;
    ak_s3_config sc = {.endpoint = cl->cfg.s3_endpoint,
                       .region = cl->cfg.region ? cl->cfg.region : "us-east-1",
                       .path_style = cl->cfg.s3_endpoint != NULL && cl->cfg.s3_endpoint[0] != '\0'};
    AK_GUARD(ak_s3_init(&cl->s3, cl->http, &sc));
    cl->s3_ready = true;
    return AK_OK;
}

static const char *s_dir(ak_data_class cls, const char *mail_dir) {
    return cls == AK_CLASS_CREDENTIALS ? "credentials" : cls == AK_CLASS_MEMORY ? "memory" : mail_dir;
}

typedef struct s_list {
    ak_client_list_fn fn;
    void *ud;
    size_t prefix_len;
    bool strip_enc;
} s_list;

static ak_err s_list_item(void *ud, const ak_s3_list_item *it) {
    s_list *l = ud;
    if (it->is_prefix || it->key.len <= l->prefix_len) return AK_OK;
    ak_client_item ci = {.key = it->key,
                         .name = ak_cur_from(it->key.ptr + l->prefix_len, it->key.len - l->prefix_len),
                         .size = it->size,
                         .last_modified = it->last_modified};
    if (l->strip_enc && ci.name.len > 4 && memcmp(ci.name.ptr + ci.name.len - 4, ".enc", 4) == 0)
        ci.name.len -= 4;
    return l->fn(l->ud, &ci);
}

/* Runs an S3 operation with the class's credentials; on AccessDenied with cached credentials,
 * once more with fresh ones. */
typedef ak_err (*s_s3_fn)(ak_client *cl, const ak_s3_call *call, const char *bucket, const char *prefix,
                          void *ud);
static ak_err s_s3_run(ak_client *cl, ak_data_class cls, const char *mail_dir, s_s3_fn fn, void *ud) {
    AK_GUARD(s_s3_ready(cl, cls));
    ak_err rc = AK_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        ak_client_creds cr;
        bool cached = false;
        s_creds_init(&cr);
        rc = s_aws(cl, cls, NULL, attempt > 0, &cr, &cached);
        if (rc == AK_OK) {
            char prefix[128];
            snprintf(prefix, sizeof prefix, "bots/%s/%s/", cl->sess.omni, s_dir(cls, mail_dir));
            ak_sigv4_creds v = {ak_buf_cur(&cr.access_key_id), ak_buf_cur(&cr.secret_access_key),
                                ak_buf_cur(&cr.session_token)};
            ak_s3_call call = {.creds = &v, .deadline_ms = ak_http_now_ms() + 60000};
            rc = fn(cl, &call, s_bucket(cl, cls), prefix, ud);
        }
        ak_client_creds_free(&cr);
        if (!(rc == AK_E_ACCESS_DENIED && cached)) break;
    }
    return rc;
}

static ak_err s_list_fn(ak_client *cl, const ak_s3_call *call, const char *bucket, const char *prefix,
                        void *ud) {
    s_list *l = ud;
    l->prefix_len = strlen(prefix);
    return ak_s3_list(&cl->s3, call, bucket, ak_cur_from_str(prefix), 0, s_list_item, l);
}

ak_err ak_client_list(ak_client *cl, ak_data_class cls, const char *mail_dir, ak_client_list_fn fn,
                      void *ud) {
    AK_PRECOND(fn != NULL);
    if (cls == AK_CLASS_MAIL)
        AK_ENSURE(mail_dir && (strcmp(mail_dir, "inbound") == 0 || strcmp(mail_dir, "quarantine") == 0),
                  AK_E_INVALID_INPUT);
    s_list l = {.fn = fn, .ud = ud, .strip_enc = cls != AK_CLASS_MAIL};
    return s_s3_run(cl, cls, mail_dir, s_list_fn, &l);
}

typedef struct s_obj {
    ak_cur name;
    const char *suffix;
    ak_buf *out; /* get */
} s_obj;

static ak_err s_obj_key(const char *prefix, const s_obj *o, char *key, size_t cap) {
    int n = snprintf(key, cap, "%s%.*s%s", prefix, (int)o->name.len, (const char *)o->name.ptr, o->suffix);
    AK_ENSURE(n > 0 && (size_t)n < cap, AK_E_LIMIT);
    return AK_OK;
}

/* S3 answers a GET/HEAD of a missing key with 403 to a caller without s3:ListBucket on the whole
 * bucket (ours has it only for its own prefix, by condition), so existence is asked with a
 * one-key listing of the exact key instead. */
typedef struct s_exists {
    ak_cur key;
    bool found;
} s_exists;

static ak_err s_exists_item(void *ud, const ak_s3_list_item *it) {
    s_exists *x = ud;
    if (!it->is_prefix && ak_cur_eq(it->key, x->key)) x->found = true;
    return AK_OK;
}

static ak_err s_exists_check(ak_client *cl, const ak_s3_call *call, const char *bucket, const char *key) {
    s_exists x = {.key = ak_cur_from_str(key)};
    ak_s3_list_opts lo = {.prefix = ak_cur_from_str(key), .max_keys = 1};
    AK_GUARD(ak_s3_list_ex(&cl->s3, call, bucket, &lo, s_exists_item, &x, NULL));
    return x.found ? AK_OK : AK_E_NOT_FOUND;
}

static ak_err s_delete_fn(ak_client *cl, const ak_s3_call *call, const char *bucket, const char *prefix,
                          void *ud) {
    s_obj *o = ud;
    char key[AK_S3_MAX_KEY];
    AK_GUARD(s_obj_key(prefix, o, key, sizeof key));
    AK_GUARD(s_exists_check(cl, call, bucket, key));
    return ak_s3_delete(&cl->s3, call, bucket, ak_cur_from_str(key));
}

ak_err ak_client_delete(ak_client *cl, ak_data_class cls, ak_cur name) {
    AK_ENSURE(cls == AK_CLASS_CREDENTIALS || cls == AK_CLASS_MEMORY, AK_E_INVALID_INPUT);
    if (cls == AK_CLASS_MEMORY)
        AK_GUARD(ak_namespace_validate(name));
    else
        AK_GUARD(ak_service_validate(name));
    s_obj o = {.name = name, .suffix = ".enc"};
    return s_s3_run(cl, cls, NULL, s_delete_fn, &o);
}

static ak_err s_get_fn(ak_client *cl, const ak_s3_call *call, const char *bucket, const char *prefix,
                       void *ud) {
    s_obj *o = ud;
    char key[AK_S3_MAX_KEY];
    AK_GUARD(s_obj_key(prefix, o, key, sizeof key));
    ak_http_response r;
    ak_http_response_init(&r);
    ak_err rc = ak_s3_get(&cl->s3, call, bucket, ak_cur_from_str(key), 0, true, &r);
    if (rc == AK_OK) rc = ak_buf_append_cur(o->out, ak_buf_cur(&r.body));
    ak_http_response_free(&r);
    if (rc == AK_E_ACCESS_DENIED && s_exists_check(cl, call, bucket, key) == AK_E_NOT_FOUND)
        rc = AK_E_NOT_FOUND;
    return rc;
}

ak_err ak_client_mail_get(ak_client *cl, const char *mail_dir, ak_cur name, ak_buf *out) {
    AK_ENSURE(mail_dir && (strcmp(mail_dir, "inbound") == 0 || strcmp(mail_dir, "quarantine") == 0),
              AK_E_INVALID_INPUT);
    /* a file name only: no '/', no "..", no control characters */
    AK_ENSURE(name.len > 0 && name.len <= 255 && ak_cur_find(name, '/') < 0 && !ak_cur_eq_str(name, "..") &&
                  !ak_cur_eq_str(name, "."),
              AK_E_INVALID_INPUT);
    for (size_t i = 0; i < name.len; i++)
        AK_ENSURE(name.ptr[i] >= 0x20 && name.ptr[i] != 0x7f, AK_E_INVALID_INPUT);
    s_obj o = {.name = name, .suffix = "", .out = out};
    return s_s3_run(cl, AK_CLASS_MAIL, mail_dir, s_get_fn, &o);
}
