/* api.c — the signer protocol: authorization and request handlers (see aks/api.h). */
#include "aks/api.h"

#include <string.h>
#include <time.h>

#include "ak/alloc.h"
#include "ak/cap.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/identity.h"
#include "ak/json.h"
#include "ak/limits.h"
#include "ak/log.h"
#include "aks/kek.h"
#include "aks/rollback.h"
#include "aks/x509.h"

/* ---- roles ---- */

static const char *const s_api_role_names[] = {
    "none", "auth", "oidc", "cap-mint", "worker-credentials", "worker-memory", "audit", "admin", "discovery"};

const char *aks_role_name(aks_role r) {
    return (unsigned)r < sizeof(s_api_role_names) / sizeof(s_api_role_names[0]) ? s_api_role_names[r]
                                                                                : "none";
}

static aks_role s_api_role_exact(const char *s) {
    for (unsigned i = 1; i < sizeof(s_api_role_names) / sizeof(s_api_role_names[0]); i++)
        if (strcmp(s, s_api_role_names[i]) == 0) return (aks_role)i;
    return AKS_ROLE_NONE;
}

static aks_role s_api_role_uri(const char *uri) {
    size_t n = strlen(AKS_ROLE_URI_PREFIX);
    if (strncmp(uri, AKS_ROLE_URI_PREFIX, n) != 0) return AKS_ROLE_NONE;
    return s_api_role_exact(uri + n);
}

aks_role aks_role_from_identity(const char *uri0, const char *uri1) {
    aks_role r = AKS_ROLE_NONE;
    const char *uris[2] = {uri0, uri1};
    for (int i = 0; i < 2; i++) {
        if (uris[i] == NULL || uris[i][0] == '\0') continue;
        aks_role u = s_api_role_uri(uris[i]);
        if (u == AKS_ROLE_NONE) continue; /* other URIs (e.g. a workload's own SPIFFE id) say nothing */
        if (r != AKS_ROLE_NONE && r != u) return AKS_ROLE_NONE;
        r = u;
    }
    return r;
}

/* ---- context ---- */

void aks_ctx_init(aks_ctx *c) {
    memset(c, 0, sizeof(*c));
    c->x5c_days = 3650;
    pthread_mutex_init(&c->x5c_mu, NULL);
    pthread_mutex_init(&c->cap_mu, NULL);
    for (int i = 0; i < 2; i++)
        ak_buf_init(&c->x5c[i].b64, 8192);
}

void aks_ctx_free(aks_ctx *c) {
    for (int i = 0; i < 2; i++)
        ak_buf_free(&c->x5c[i].b64);
    pthread_mutex_destroy(&c->x5c_mu);
    pthread_mutex_destroy(&c->cap_mu);
}

ak_err aks_api_error_body(ak_err e, ak_buf *body) {
    ak_buf_clear(body);
    return ak_buf_printf(body, "{\"error\":\"%s\",\"reason\":\"%s\"}", ak_err_message(e), ak_err_reason(e));
}

/* ---- helpers ---- */

static ak_err s_api_parse(const aks_http_req *req, const char *const *allowed, json_t **out) {
    AK_GUARD(ak_json_parse_object(req->body, out));
    ak_err rc = ak_json_only_keys(*out, allowed);
    if (rc != AK_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static ak_err s_api_b64_field(const json_t *o, const char *key, size_t max, ak_buf *out) {
    ak_cur s;
    AK_GUARD(ak_json_str(o, key, &s));
    ak_buf_init(out, max);
    ak_err rc = ak_b64_decode(s, out);
    if (rc == AK_E_LIMIT)
        rc = AK_E_TOO_LARGE;
    else if (rc != AK_OK)
        rc = AK_E_BAD_BASE64;
    if (rc != AK_OK) ak_buf_free(out);
    return rc;
}

/* ---- GET /v1/health ---- */

static ak_err s_api_health(aks_ctx *ctx, aks_role role, ak_buf *body) {
    char mhex[97], chex[65];
    uint8_t c[32];
    uint64_t held = aks_keystore_max_epoch(ctx->ks);
    ak_hex_encode(ctx->measurement, 48, mhex);
    AK_GUARD(ak_buf_printf(body,
                           "{\"status\":\"ok\",\"role\":\"%s\",\"epoch_max\":%llu,\"measurement\":\"%s\"",
                           aks_role_name(role), (unsigned long long)held, mhex));
    /* The one-way commitment to the highest epoch's K3 (what the chain records; never K3). */
    if (held >= 1 && aks_keystore_commitment(ctx->ks, held, c) == AK_OK) {
        ak_hex_encode(c, 32, chex);
        AK_GUARD(ak_buf_printf(body, ",\"commitment\":\"0x%s\"", chex));
    }
    return ak_buf_append_byte(body, '}');
}

/* ---- POST /v1/epoch/commitment (admin; issue 16 finding 7) ---- */

/* The commitment of one epoch for the operator to record on chain. An epoch not held yet is
 * created first when the chain has reached it — under the rollback rule (aks/rollback.h). */
static ak_err s_api_commitment(aks_ctx *ctx, aks_role role, const aks_http_req *req, ak_buf *body) {
    static const char *const allowed[] = {"epoch", NULL};
    json_t *j = NULL;
    uint64_t epoch, current = 0;
    uint8_t c[32];
    char chex[65];
    ak_err rc = AK_OK;
    AK_ENSURE_OUT(role == AKS_ROLE_ADMIN, AK_E_ROLE_NOT_ALLOWED);
    AK_GUARD_OUT(s_api_parse(req, allowed, &j));
    AK_GUARD_OUT(ak_json_u64(j, "epoch", &epoch));
    AK_ENSURE_OUT(epoch >= 1, AK_E_INVALID_INPUT);
    if (epoch > aks_keystore_max_epoch(ctx->ks)) {
        AK_GUARD_OUT(aks_epochs_current(ctx->epochs, true, &current));
        AK_ENSURE_OUT(epoch <= current, AK_E_EPOCH_NOT_YET);
        AK_GUARD_OUT(aks_rollback_ensure_epoch(ctx->ks, ctx->epochs, current));
    }
    AK_GUARD_OUT(aks_keystore_commitment(ctx->ks, epoch, c));
    ak_hex_encode(c, 32, chex);
    AK_GUARD_OUT(ak_buf_printf(body, "{\"epoch\":%llu,\"commitment\":\"0x%s\",\"epoch_max\":%llu}",
                               (unsigned long long)epoch, chex,
                               (unsigned long long)aks_keystore_max_epoch(ctx->ks)));
out:
    if (j != NULL) json_decref(j);
    return rc;
}

/* ---- GET /v1/keys ---- */

typedef struct {
    aks_keystore *ks;
    const char *kid;
} s_api_x5c_signer;

static ak_err s_api_x5c_sign(void *c, ak_cur tbs, uint8_t sig64[64]) {
    s_api_x5c_signer *s = c;
    char used[AKS_KID_MAX];
    return aks_keystore_sign(s->ks, AKS_KEY_OIDC, ak_cur_from_str(s->kid), tbs.ptr, tbs.len, sig64, used);
}

/* Appends the base64 DER of the OIDC key's certificate, building it once per kid. */
static ak_err s_api_x5c(aks_ctx *ctx, const aks_pubkey *k, ak_buf *out) {
    ak_err rc = AK_OK;
    ak_buf der;
    ak_buf_init(&der, 4096);
    pthread_mutex_lock(&ctx->x5c_mu);
    aks_x5c_cache *hit = NULL;
    for (int i = 0; i < 2; i++)
        if (strcmp(ctx->x5c[i].kid, k->kid) == 0 && ctx->x5c[i].b64.len > 0) hit = &ctx->x5c[i];
    if (hit == NULL) {
        /* Evict the slot whose kid is no longer current or previous: the older one. */
        hit = k->current ? &ctx->x5c[0] : &ctx->x5c[1];
        ak_buf_clear(&hit->b64);
        hit->kid[0] = '\0';
        s_api_x5c_signer sg = {ctx->ks, k->kid};
        AK_GUARD_OUT(aks_x509_self_signed(&der, k->pub, "agentkeys-oidc", (int64_t)k->created, ctx->x5c_days,
                                          s_api_x5c_sign, &sg));
        AK_GUARD_OUT(ak_b64_encode(der.ptr, der.len, &hit->b64));
        memcpy(hit->kid, k->kid, AKS_KID_MAX);
    }
    rc = ak_buf_append_cur(out, ak_buf_cur(&hit->b64));
out:
    pthread_mutex_unlock(&ctx->x5c_mu);
    ak_buf_free(&der);
    return rc;
}

static ak_err s_api_keys(aks_ctx *ctx, ak_buf *body) {
    aks_pubkey keys[2 * AKS_KEY__COUNT];
    size_t n = aks_keystore_public_keys(ctx->ks, keys);
    ak_buf x, y;
    ak_err rc = AK_OK;
    ak_buf_init(&x, 64);
    ak_buf_init(&y, 64);
    AK_GUARD_OUT(ak_buf_append_str(body, "{\"keys\":["));
    for (size_t i = 0; i < n; i++) {
        ak_buf_clear(&x);
        ak_buf_clear(&y);
        AK_GUARD_OUT(ak_b64url_encode(keys[i].pub + 1, 32, &x));
        AK_GUARD_OUT(ak_b64url_encode(keys[i].pub + 33, 32, &y));
        AK_GUARD_OUT(
            ak_buf_printf(body,
                          "%s{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"%s\","
                          "\"use\":\"sig\",\"alg\":\"ES256\",\"ak_key\":\"%s\",\"ak_status\":\"%s\"",
                          i ? "," : "", ak_buf_cstr(&x), ak_buf_cstr(&y), keys[i].kid,
                          aks_key_purpose_name(keys[i].purpose), keys[i].current ? "current" : "previous"));
        if (keys[i].purpose == AKS_KEY_OIDC) {
            AK_GUARD_OUT(ak_buf_append_str(body, ",\"x5c\":[\""));
            AK_GUARD_OUT(s_api_x5c(ctx, &keys[i], body));
            AK_GUARD_OUT(ak_buf_append_str(body, "\"]"));
        }
        AK_GUARD_OUT(ak_buf_append_byte(body, '}'));
    }
    AK_GUARD_OUT(ak_buf_append_str(body, "]}"));
out:
    ak_buf_free(&x);
    ak_buf_free(&y);
    return rc;
}

/* ---- POST /v1/attest ---- */

static ak_err s_api_attest(aks_ctx *ctx, const aks_http_req *req, ak_buf *body) {
    static const char *const allowed[] = {"nonce_b64", NULL};
    json_t *j = NULL;
    ak_buf nonce, doc;
    ak_attest_claims c;
    struct timespec ts;
    ak_err rc = AK_OK;
    ak_buf_init(&nonce, 0);
    ak_buf_init(&doc, AK_ATTEST_MAX_REPLY); /* local: a JWS; nitro: base64 of up to AK_NITRO_MAX_DOC */
    AK_GUARD_OUT(s_api_parse(req, allowed, &j));
    ak_buf_free(&nonce);
    AK_GUARD_OUT(s_api_b64_field(j, "nonce_b64", AK_ATTEST_NONCE_MAX, &nonce));
    AK_ENSURE_OUT(nonce.len >= AK_ATTEST_NONCE_MIN, AK_E_INVALID_INPUT);
    memset(&c, 0, sizeof(c));
    memcpy(c.measurement, ctx->measurement, 48);
    memcpy(c.tls_pub, ctx->tls_pub, 65);
    memcpy(c.nonce, nonce.ptr, nonce.len);
    c.nonce_len = nonce.len;
    clock_gettime(CLOCK_REALTIME, &ts);
    c.timestamp_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    AK_GUARD_OUT(ctx->attester->document(ctx->attester, &c, &doc));
    /* "format" names the attester's mode; clients refuse the mode they were not configured for. */
    AK_GUARD_OUT(ak_buf_printf(body, "{\"format\":\"%s\",\"document\":\"%s\"}", ctx->attester->name,
                               ak_buf_cstr(&doc)));
out:
    if (j != NULL) json_decref(j);
    ak_buf_free(&nonce);
    ak_buf_free(&doc);
    return rc;
}

/* ---- POST /v1/kek/derive (D6, D7) ---- */

static bool s_api_role_may_derive(aks_role role, ak_cur data_class) {
    return (role == AKS_ROLE_WORKER_CREDENTIALS && ak_cur_eq_str(data_class, "credentials")) ||
           (role == AKS_ROLE_WORKER_MEMORY && ak_cur_eq_str(data_class, "memory"));
}

/* The signer's own cap keys (current and previous) as a JWKS for ak_cap_verify. */
static void s_api_cap_jwks(aks_ctx *ctx, ak_jwks *out) {
    aks_pubkey keys[2 * AKS_KEY__COUNT];
    size_t n = aks_keystore_public_keys(ctx->ks, keys);
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n && out->n < AK_JWKS_MAX_KEYS; i++) {
        if (keys[i].purpose != AKS_KEY_CAP) continue;
        memcpy(out->keys[out->n].pub65, keys[i].pub, 65);
        memcpy(out->keys[out->n].kid, keys[i].kid, AKS_KID_MAX);
        out->n++;
    }
}

/*
 * D20: the worker's certificate alone derives nothing. The request carries the agent's cap (a
 * compact JWS whose claims hold the K10 PoP) and the op of the worker's route; the signer checks
 * the cap itself (ak_cap_verify: its own cap key, freshness, op, class, PoP) and that the
 * request asks for exactly what the cap covers: same operator, same actor, and an epoch the cap
 * allows (store: the cap's k3_epoch; fetch/use: any epoch up to it — older envelopes are read
 * and lazily re-keyed to it, D8). Teardown deletes without a KEK: a teardown cap derives none.
 */
static ak_err s_api_check_cap(aks_ctx *ctx, ak_cur token, ak_cur op_text, ak_cur dc, const ak_omni *op,
                              const ak_omni *actor, uint64_t epoch) {
    ak_jwks jwks;
    ak_cap_claims c;
    ak_op want_op;
    ak_data_class want_dc;
    ak_err rc = AK_OK;
    AK_ENSURE(ak_op_parse(op_text, &want_op) == AK_OK, AK_E_INVALID_INPUT);
    AK_ENSURE(ak_data_class_parse(dc, &want_dc) == AK_OK, AK_E_INVALID_INPUT);
    AK_ENSURE(want_op == AK_OP_STORE || want_op == AK_OP_FETCH || want_op == AK_OP_USE, AK_E_CAP_OP_MISMATCH);
    ak_cap_expect ex = {.op = want_op, .data_class = want_dc, .now = (uint64_t)time(NULL)};
    /* The cache holds only verifications under the key set it last saw: a snapshot that differs
     * (a rotation, by any path) empties it first, under the same lock as the lookup. */
    memset(&jwks, 0, sizeof(jwks));
    pthread_mutex_lock(&ctx->cap_mu);
    s_api_cap_jwks(ctx, &jwks);
    if (memcmp(&jwks, &ctx->cap_keys_seen, sizeof(jwks)) != 0) {
        ak_cap_sig_cache_clear(&ctx->cap_cache);
        ctx->cap_keys_seen = jwks;
    }
    rc = ak_cap_verify_cached(token, &jwks, &ex, &ctx->cap_cache, &c);
    pthread_mutex_unlock(&ctx->cap_mu);
    if (rc != AK_OK) goto out;
    AK_ENSURE_OUT(ak_ct_eq(c.operator_omni.b, op->b, 32), AK_E_OPERATOR_MISMATCH);
    AK_ENSURE_OUT(ak_ct_eq(c.actor_omni.b, actor->b, 32), AK_E_ACTOR_MISMATCH);
    AK_ENSURE_OUT(want_op == AK_OP_STORE ? epoch == c.k3_epoch : epoch <= c.k3_epoch, AK_E_K3_EPOCH_MISMATCH);
out:
    ak_wipe(&c, sizeof(c));
    return rc;
}

static ak_err s_api_derive(aks_ctx *ctx, aks_role role, const aks_http_req *req, ak_buf *body) {
    static const char *const allowed[] = {"data_class", "operator_omni", "actor_omni", "epoch",
                                          "op",         "cap",           NULL};
    json_t *j = NULL;
    ak_cur dc, op_text, actor_text, route_op, cap;
    ak_omni op, actor;
    uint64_t epoch, current = 0;
    uint8_t k3[32], kek[32];
    ak_buf kek_b64;
    ak_err rc = AK_OK;
    ak_buf_init_secret(&kek_b64, 64);
    /* Not a worker at all: refuse before reading anything. */
    AK_ENSURE_OUT(role == AKS_ROLE_WORKER_CREDENTIALS || role == AKS_ROLE_WORKER_MEMORY,
                  AK_E_ROLE_NOT_ALLOWED);
    AK_GUARD_OUT(s_api_parse(req, allowed, &j));
    /* The class first: a worker asking for another class's KEK is refused as such. */
    AK_GUARD_OUT(ak_json_str(j, "data_class", &dc));
    AK_ENSURE_OUT(aks_data_class_valid(dc), AK_E_INVALID_INPUT);
    AK_ENSURE_OUT(s_api_role_may_derive(role, dc), AK_E_ROLE_NOT_ALLOWED);
    AK_GUARD_OUT(ak_json_str(j, "operator_omni", &op_text));
    AK_GUARD_OUT(ak_json_str(j, "actor_omni", &actor_text));
    AK_GUARD_OUT(ak_json_u64(j, "epoch", &epoch));
    AK_GUARD_OUT(ak_json_str(j, "op", &route_op));
    AK_GUARD_OUT(ak_json_str(j, "cap", &cap));
    AK_GUARD_OUT(ak_omni_parse(op_text, &op));
    AK_GUARD_OUT(ak_omni_parse(actor_text, &actor));
    AK_ENSURE_OUT(epoch >= 1, AK_E_INVALID_INPUT);
    AK_GUARD_OUT(s_api_check_cap(ctx, cap, route_op, dc, &op, &actor, epoch));
    if (epoch > aks_keystore_max_epoch(ctx->ks)) {
        /* Only an epoch we do not hold needs the chain: the counter never goes back (D7). */
        AK_GUARD_OUT(aks_epochs_current(ctx->epochs, true, &current));
        AK_ENSURE_OUT(epoch <= current, AK_E_EPOCH_NOT_YET);
        AK_GUARD_OUT(aks_rollback_ensure_epoch(ctx->ks, ctx->epochs, current));
    }
    AK_GUARD_OUT(aks_keystore_k3(ctx->ks, epoch, k3));
    AK_GUARD_OUT(aks_kek_derive(k3, dc, op.b, actor.b, kek));
    AK_GUARD_OUT(ak_b64_encode(kek, 32, &kek_b64));
    AK_GUARD_OUT(ak_buf_printf(body, "{\"kek_b64\":\"%s\",\"epoch\":%llu,\"data_class\":\"%.*s\"}",
                               ak_buf_cstr(&kek_b64), (unsigned long long)epoch, (int)dc.len,
                               (const char *)dc.ptr));
out:
    ak_wipe(k3, sizeof(k3));
    ak_wipe(kek, sizeof(kek));
    ak_buf_free(&kek_b64);
    if (j != NULL) json_decref(j);
    return rc;
}

/* ---- POST /v1/sign (D4) ---- */

static bool s_api_b64url_chars(ak_cur c) {
    for (size_t i = 0; i < c.len; i++) {
        uint8_t b = c.ptr[i];
        if (!((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
              b == '_'))
            return false;
    }
    return c.len > 0;
}

/* The header must say what the key is for: ES256, the purpose's typ, and a kid we hold. */
static ak_err s_api_check_header(aks_key_purpose purpose, ak_cur signing_input, char kid[AKS_KID_MAX]) {
    ak_cur rest = signing_input, h64;
    ak_buf hdr;
    json_t *h = NULL;
    ak_cur alg, typ, k;
    ak_err rc = AK_OK;
    ak_buf_init(&hdr, 2048);
    AK_ENSURE_OUT(ak_cur_split(&rest, '.', &h64), AK_E_INVALID_INPUT);
    AK_ENSURE_OUT(s_api_b64url_chars(h64) && s_api_b64url_chars(rest), AK_E_INVALID_INPUT);
    AK_ENSURE_OUT(ak_b64url_decode(h64, &hdr) == AK_OK, AK_E_INVALID_INPUT);
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&hdr), &h) == AK_OK, AK_E_INVALID_INPUT);
    AK_ENSURE_OUT(ak_json_str(h, "alg", &alg) == AK_OK && ak_cur_eq_str(alg, "ES256"), AK_E_INVALID_INPUT);
    AK_ENSURE_OUT(ak_json_str(h, "typ", &typ) == AK_OK &&
                      ak_cur_eq_str(typ, purpose == AKS_KEY_CAP ? "ak-cap+jwt" : "JWT"),
                  AK_E_INVALID_INPUT);
    AK_ENSURE_OUT(ak_json_str(h, "kid", &k) == AK_OK && k.len > 0 &&
                      ak_cur_to_cstr(k, kid, AKS_KID_MAX) == AK_OK,
                  AK_E_INVALID_INPUT);
    /* "crit" would oblige verifiers to understand extensions we never define. */
    AK_ENSURE_OUT(json_object_get(h, "crit") == NULL, AK_E_INVALID_INPUT);
out:
    if (h != NULL) json_decref(h);
    ak_buf_free(&hdr);
    return rc;
}

/* The one key a role may sign with (D20); false for roles that sign nothing. */
static bool s_api_sign_purpose(aks_role role, aks_key_purpose *out) {
    switch (role) {
        case AKS_ROLE_AUTH:
            *out = AKS_KEY_SESSION;
            return true;
        case AKS_ROLE_OIDC:
            *out = AKS_KEY_OIDC;
            return true;
        case AKS_ROLE_CAP_MINT:
            *out = AKS_KEY_CAP;
            return true;
        default:
            return false;
    }
}

static ak_err s_api_sign(aks_ctx *ctx, aks_role role, const aks_http_req *req, ak_buf *body) {
    static const char *const allowed[] = {"key", "signing_input_b64", NULL};
    json_t *j = NULL;
    ak_cur key_name;
    aks_key_purpose purpose, own;
    ak_buf input, sig_b64;
    char kid[AKS_KID_MAX], used[AKS_KID_MAX];
    uint8_t sig[64];
    ak_err rc = AK_OK;
    ak_buf_init(&input, 0);
    ak_buf_init(&sig_b64, 128);
    AK_ENSURE_OUT(s_api_sign_purpose(role, &own), AK_E_ROLE_NOT_ALLOWED);
    AK_GUARD_OUT(s_api_parse(req, allowed, &j));
    AK_GUARD_OUT(ak_json_str(j, "key", &key_name));
    AK_ENSURE_OUT(aks_key_purpose_parse(key_name, &purpose), AK_E_INVALID_INPUT);
    /* D20: each broker function signs with its own key only. */
    AK_ENSURE_OUT(purpose == own, AK_E_ROLE_NOT_ALLOWED);
    ak_buf_free(&input);
    AK_GUARD_OUT(s_api_b64_field(j, "signing_input_b64", AK_MAX_JWS, &input));
    AK_GUARD_OUT(s_api_check_header(purpose, ak_buf_cur(&input), kid));
    rc = aks_keystore_sign(ctx->ks, purpose, ak_cur_from_str(kid), input.ptr, input.len, sig, used);
    if (rc == AK_E_NOT_FOUND) rc = AK_E_CONFLICT;
    AK_GUARD_OUT(rc);
    AK_GUARD_OUT(ak_b64url_encode(sig, 64, &sig_b64));
    AK_GUARD_OUT(ak_buf_printf(body, "{\"sig_b64url\":\"%s\",\"kid\":\"%s\",\"key\":\"%s\"}",
                               ak_buf_cstr(&sig_b64), used, aks_key_purpose_name(purpose)));
out:
    if (j != NULL) json_decref(j);
    ak_buf_free(&input);
    ak_buf_free(&sig_b64);
    return rc;
}

/* ---- POST /v1/rotate ---- */

static ak_err s_api_rotate(aks_ctx *ctx, aks_role role, const aks_http_req *req, ak_buf *body) {
    static const char *const allowed[] = {"key", NULL};
    json_t *j = NULL;
    ak_cur key_name;
    aks_key_purpose purpose;
    aks_pubkey keys[2 * AKS_KEY__COUNT];
    ak_err rc = AK_OK;
    /* D20: no function rotates; only the operator's admin identity does. */
    AK_ENSURE_OUT(role == AKS_ROLE_ADMIN, AK_E_ROLE_NOT_ALLOWED);
    AK_GUARD_OUT(s_api_parse(req, allowed, &j));
    AK_GUARD_OUT(ak_json_str(j, "key", &key_name));
    AK_ENSURE_OUT(aks_key_purpose_parse(key_name, &purpose), AK_E_INVALID_INPUT);
    AK_GUARD_OUT(aks_keystore_rotate(ctx->ks, purpose));
    size_t n = aks_keystore_public_keys(ctx->ks, keys);
    const char *cur = "", *prev = "";
    for (size_t i = 0; i < n; i++) {
        if (keys[i].purpose != purpose) continue;
        if (keys[i].current)
            cur = keys[i].kid;
        else
            prev = keys[i].kid;
    }
    AK_GUARD_OUT(ak_buf_printf(body, "{\"key\":\"%s\",\"kid\":\"%s\",\"previous_kid\":\"%s\"}",
                               aks_key_purpose_name(purpose), cur, prev));
    ak_log_info("signing key rotated", "key", aks_key_purpose_name(purpose), "kid", cur);
out:
    if (j != NULL) json_decref(j);
    return rc;
}

/* ---- dispatch ---- */

typedef enum { API_GET, API_POST } s_api_method;

typedef struct {
    const char *path;
    s_api_method method;
    int id;
} s_api_route;

static const s_api_route s_api_routes[] = {
    {"/v1/health", API_GET, 0},
    {"/v1/keys", API_GET, 1},
    {"/v1/attest", API_POST, 2},
    {"/v1/kek/derive", API_POST, 3},
    {"/v1/sign", API_POST, 4},
    {"/v1/rotate", API_POST, 5},
    {"/v1/epoch/commitment", API_POST, 6},
};

void aks_api_handle(aks_ctx *ctx, aks_role role, const aks_http_req *req, int *status, ak_buf *body,
                    ak_err *err_out) {
    ak_err rc = AK_OK;
    const s_api_route *route = NULL;
    ak_buf_clear(body);
    for (size_t i = 0; i < sizeof(s_api_routes) / sizeof(s_api_routes[0]); i++)
        if (ak_cur_eq_str(req->path, s_api_routes[i].path)) route = &s_api_routes[i];
    if (role == AKS_ROLE_NONE) {
        rc = AK_E_ROLE_NOT_ALLOWED;
    } else if (route == NULL) {
        rc = AK_E_ROUTE_NOT_FOUND;
    } else if (!ak_cur_eq_str(req->method, route->method == API_GET ? "GET" : "POST")) {
        rc = AK_E_METHOD_NOT_ALLOWED;
    } else {
        switch (route->id) {
            case 0:
                rc = s_api_health(ctx, role, body);
                break;
            case 1:
                rc = s_api_keys(ctx, body);
                break;
            case 2:
                rc = s_api_attest(ctx, req, body);
                break;
            case 3:
                rc = s_api_derive(ctx, role, req, body);
                break;
            case 4:
                rc = s_api_sign(ctx, role, req, body);
                break;
            case 5:
                rc = s_api_rotate(ctx, role, req, body);
                break;
            default:
                rc = s_api_commitment(ctx, role, req, body);
                break;
        }
    }
    if (rc != AK_OK && aks_api_error_body(rc, body) != AK_OK) ak_buf_clear(body);
    *status = ak_err_status(rc);
    if (err_out != NULL) *err_out = rc;
}
