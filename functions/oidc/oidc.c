/* oidc.c — OidcFunction's handler (see oidc.h). */
#include "oidc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ak/audit.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/evm.h"
#include "ak/identity.h"
#include "ak/json.h"
#include "ak/log.h"
#include "ak/siwe.h"

static uint64_t s_oidc_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static ak_err s_oidc_assume_default(oidc_fn *o, const ak_sts_web_identity *req, ak_sts_creds *out) {
    AK_ENSURE(o->has_sts, AK_E_CONFIG);
    return ak_sts_assume_role_with_web_identity(&o->sts, req, out);
}

static ak_err s_env_copy(const char *name, char *dst, size_t cap) {
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0' || ak_cur_to_cstr(ak_cur_from_str(v), dst, cap) != AK_OK) {
        ak_log_error("oidc misconfigured", "missing_or_invalid", name);
        return AK_E_CONFIG;
    }
    return AK_OK;
}

ak_err oidc_configure(oidc_fn *o) {
    if (o->now_us == NULL) o->now_us = s_oidc_now_us;
    if (o->assume == NULL) o->assume = s_oidc_assume_default;
    AK_GUARD(s_env_copy("AK_VAULT_ROLE_ARN", o->vault_role_arn, sizeof(o->vault_role_arn)));
    AK_GUARD(s_env_copy("AK_MEMORY_ROLE_ARN", o->memory_role_arn, sizeof(o->memory_role_arn)));
    o->mail_role_arn[0] = '\0';
    const char *mail = getenv("AK_MAIL_ROLE_ARN");
    if (mail != NULL && mail[0] != '\0')
        AK_GUARD(s_env_copy("AK_MAIL_ROLE_ARN", o->mail_role_arn, sizeof(o->mail_role_arn)));
    o->jwt_ttl = OIDC_JWT_TTL_DEFAULT;
    const char *t = getenv("AK_OIDC_JWT_TTL_SECONDS");
    if (t != NULL && t[0] != '\0') {
        uint64_t v;
        if (ak_cur_to_u64(ak_cur_from_str(t), &v) != AK_OK || v < 60 || v > OIDC_JWT_TTL_MAX) {
            ak_log_error("oidc misconfigured", "invalid", "AK_OIDC_JWT_TTL_SECONDS");
            return AK_E_CONFIG;
        }
        o->jwt_ttl = v;
    }
    return AK_OK;
}

ak_err oidc_init(void *user) {
    oidc_fn *o = user;
    AK_GUARD(ak_svc_init(&o->svc, AK_SVC_BROKER));
    ak_sts_config sc;
    AK_GUARD(ak_sts_config_from_env(&sc));
    AK_GUARD(ak_sts_init(&o->sts, o->svc.http, &sc));
    o->has_sts = true;
    return oidc_configure(o);
}

/* ---------------------------------------------------------------- session + actor (D16, D17) */

typedef struct {
    ak_session s;
    ak_omni actor;  /* the actor the STS tag will carry */
    ak_cur bearer;  /* the session token (hashed into the audit event) */
    bool attempted; /* the input was valid: the call is audited (or logged) whatever happens next */
    bool authed;
    bool registered; /* the session's device is registered on chain: its operator exists */
} s_caller;

/* Verifies the bearer, re-checks the session's device on chain and resolves the actor. */
static ak_err s_caller_resolve(oidc_fn *o, const akrt_http_req *req, const json_t *body, uint64_t now,
                               s_caller *c) {
    ak_cur auth;
    c->attempted = true;
    AK_ENSURE(akrt_http_header(req, "authorization", &auth), AK_E_UNAUTHORIZED);
    AK_GUARD(ak_svc_bearer(auth, &c->bearer));
    AK_GUARD(ak_svc_verify_session(&o->svc, c->bearer, now, &c->s));
    c->authed = true;

    /* D16: an unregistered wallet's session may only bootstrap itself as first master, which
     * happens on chain, not here: no JWT and no credentials, not even for its own prefix. */
    ak_device_entry dev;
    ak_err rc = ak_svc_check_session_device(&o->svc, &c->s, &dev);
    c->registered = dev.registered_at != 0;
    AK_GUARD(rc);
    AK_ENSURE((dev.roles & AK_ROLE_CAP_MINT) != 0, AK_E_DEVICE_ROLE_MISSING);

    c->actor = c->s.omni_account;
    ak_cur a;
    bool has = false;
    if (body != NULL) AK_GUARD(ak_json_str_opt(body, "actor_omni", &a, &has));
    if (has) {
        ak_omni want;
        AK_GUARD(ak_omni_parse(a, &want));
        if (!ak_omni_eq(&want, &c->s.omni_account)) {
            AK_ENSURE(c->s.kind == AK_SESSION_MASTER, AK_E_ACTOR_MISMATCH);
            uint8_t bound_to[32];
            AK_GUARD(ak_registry_actor_operator(&o->svc.rpc, o->svc.registry, want.b, bound_to));
            AK_ENSURE(memcmp(bound_to, c->s.operator_omni.b, 32) == 0, AK_E_ACTOR_MISMATCH);
        }
        c->actor = want;
    }
    return AK_OK;
}

/* Empty body or a JSON object limited to `allowed`. *out NULL for an empty body. */
static ak_err s_optional_body(const akrt_http_req *req, const char *const *allowed, json_t **out) {
    *out = NULL;
    if (ak_cur_trim(req->body).len == 0) return AK_OK;
    AK_GUARD(ak_json_parse_object(req->body, out));
    ak_err rc = ak_json_only_keys(*out, allowed);
    if (rc != AK_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------- the OIDC JWT (broker.md §6) */

static ak_err s_mint_jwt(oidc_fn *o, const s_caller *c, uint64_t now, ak_buf *jwt, uint64_t *exp_out) {
    char wallet[43], actor[65];
    ak_eth_address_hex(c->s.wallet, wallet);
    ak_omni_hex(&c->actor, actor);
    char sub[64];
    int n = snprintf(sub, sizeof(sub), "agentkeys:agent:%s", wallet);
    AK_ENSURE(n > 0 && (size_t)n < sizeof(sub), AK_E_INTERNAL);
    uint64_t exp = now + o->jwt_ttl;
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:{s:{s:[s], s:[s]}, s:[s, s]}}", "iss",
                               o->svc.issuer, "sub", sub, "aud", OIDC_AUD, "iat", (json_int_t)now, "exp",
                               (json_int_t)exp, "agentkeys_user_wallet", wallet, "agentkeys_actor_omni",
                               actor, "https://aws.amazon.com/tags", "principal_tags",
                               "agentkeys_user_wallet", wallet, "agentkeys_actor_omni", actor,
                               "transitive_tag_keys", "agentkeys_user_wallet", "agentkeys_actor_omni");
    AK_ENSURE(claims != NULL, AK_E_NOMEM);
    ak_err rc = ak_svc_sign_jwt(&o->svc, AK_SIGNER_KEY_OIDC, "JWT", claims, jwt, NULL);
    json_decref(claims);
    *exp_out = exp;
    return rc;
}

/* ---------------------------------------------------------------- audit */

static const char *s_outcome_of(ak_err e, bool authed, bool sts_called) {
    if (e == AK_OK) return "ok";
    if (!authed) return "auth_failed";
    if (sts_called) return "sts_error";
    return "backend_error";
}

static ak_err s_audit(oidc_fn *o, akrt_ctx *ctx, ak_audit_action action, const s_caller *c, ak_err result,
                      bool sts_called, const char *session_name, uint64_t now_us) {
    ak_audit_event ev;
    ak_omni zero;
    memset(&zero, 0, sizeof(zero));
    AK_GUARD(ak_audit_event_init(&ev, action, c->authed ? &c->s.operator_omni : &zero, now_us));
    ev.outcome = ak_cur_from_str(s_outcome_of(result, c->authed, sts_called));
    ev.reason = result;
    ev.request_id = ak_cur_from_str(akrt_request_id(ctx));
    char session_actor[65];
    if (c->bearer.len > 0) {
        ak_audit_token_hash(c->bearer, ev.token_sha256);
        ev.has_token_hash = true;
    }
    if (c->authed) {
        ev.has_actor = true;
        ev.actor_omni = c->actor;
        ev.has_wallet = true;
        memcpy(ev.wallet, c->s.wallet, 20);
        ev.has_device = true;
        memcpy(ev.device_key_hash, c->s.device_key_hash, 32);
        ev.session_kind = c->s.kind;
        ak_omni_hex(&c->s.omni_account, session_actor);
        AK_GUARD(ak_audit_event_add_extra(&ev, "session_actor_omni", ak_cur_from_str(session_actor)));
    }
    if (action == AK_AUDIT_MINT_AWS_CREDS)
        AK_GUARD(ak_audit_event_add_extra(&ev, "requested_role", AK_CUR_LIT("data-role-via-jwt")));
    if (session_name != NULL && session_name[0] != '\0')
        AK_GUARD(ak_audit_event_add_extra(&ev, "sts_session_name", ak_cur_from_str(session_name)));
    return ak_svc_audit_write(&o->svc, 0, &ev);
}

/* A refusal of a caller with no registered device (no session, a bad token, or an unregistered
 * wallet's session, which anyone can make for free) writes NO S3 object: anyone could otherwise
 * fill the audit bucket, one object per request. Its record is the log line, with the token's
 * hash (never the token) and a per-process count of such refusals (a saturating counter). */
static void s_refusal_logged(oidc_fn *o, ak_audit_action action, const s_caller *c, ak_err rc) {
    if (o->unaudited_refusals < UINT64_MAX) o->unaudited_refusals++;
    char n[24], th[65] = "";
    snprintf(n, sizeof(n), "%llu", (unsigned long long)o->unaudited_refusals);
    if (c->bearer.len > 0) {
        uint8_t h[32];
        ak_audit_token_hash(c->bearer, h);
        ak_hex_encode(h, 32, th);
    }
    ak_log_warn("mint refused", "reason", ak_err_reason(rc), "action",
                action == AK_AUDIT_MINT_AWS_CREDS ? "mint_aws_creds" : "mint_oidc_jwt", "outcome",
                c->authed ? "device_not_registered" : "auth_failed", "token_sha256", th, "unaudited_refusals",
                n);
}

/* A failure's event is best effort: the caller returns the original error either way. */
static ak_err s_finish(oidc_fn *o, akrt_ctx *ctx, ak_audit_action action, const s_caller *c, ak_err rc,
                       bool sts_called, const char *session_name, uint64_t now_us) {
    if (rc != AK_OK && !c->registered) {
        s_refusal_logged(o, action, c, rc);
        return rc;
    }
    ak_err arc = s_audit(o, ctx, action, c, rc, sts_called, session_name, now_us);
    if (rc != AK_OK) {
        ak_log_warn("mint refused", "reason", ak_err_reason(rc));
        return rc;
    }
    return arc;
}

/* ---------------------------------------------------------------- POST /v1/mint-oidc-jwt */

static ak_err s_mint_oidc_jwt(oidc_fn *o, akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp) {
    static const char *const allowed[] = {"actor_omni", NULL};
    uint64_t now_us = o->now_us(), now = now_us / 1000000u, exp = 0;
    s_caller c;
    memset(&c, 0, sizeof(c));
    json_t *body = NULL, *out = NULL;
    ak_buf jwt;
    ak_buf_init(&jwt, AK_MAX_JWS);
    ak_err rc = s_optional_body(req, allowed, &body);
    if (rc == AK_OK) rc = s_caller_resolve(o, req, body, now, &c);
    if (rc == AK_OK) rc = s_mint_jwt(o, &c, now, &jwt, &exp);
    /* broker.md §6 audits every call (a caller without a registered device: in the log only,
     * s_finish); D12: no audit, no token. */
    if (c.attempted) rc = s_finish(o, ctx, AK_AUDIT_MINT_OIDC_JWT, &c, rc, false, NULL, now_us);
    if (rc == AK_OK) {
        char wallet[43], actor[65];
        ak_eth_address_hex(c.s.wallet, wallet);
        ak_omni_hex(&c.actor, actor);
        out = json_pack("{s:s, s:s, s:I, s:s}", "jwt", ak_buf_cstr(&jwt), "wallet", wallet, "expiration",
                        (json_int_t)exp, "actor_omni", actor);
        rc = out != NULL ? akrt_http_json(resp, 200, out) : AK_E_NOMEM;
    }
    if (body) json_decref(body);
    if (out) json_decref(out);
    ak_buf_free(&jwt);
    return rc;
}

/* ---------------------------------------------------------------- POST /v1/mint-aws-creds (D13) */

/* "agentkeys-<wallet, [A-Za-z0-9_-], cut so the whole fits 64>-<unix>-<6-digit µs>" (iam.md §6;
 * the wallet part is shortened rather than the suffix, so the microseconds always survive). */
static void s_session_name(const uint8_t wallet[20], uint64_t now_us, char out[65]) {
    char w[43], tail[40];
    ak_eth_address_hex(wallet, w);
    int tn = snprintf(tail, sizeof(tail), "-%llu-%06llu", (unsigned long long)(now_us / 1000000u),
                      (unsigned long long)(now_us % 1000000u));
    size_t room = 64 - strlen("agentkeys-") - (size_t)tn;
    if (room > 40) room = 40;
    snprintf(out, 65, "agentkeys-%.*s%s", (int)room, w, tail);
}

static void s_wipe_json_string(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    if (json_is_string(v)) ak_wipe((void *)json_string_value(v), json_string_length(v));
}

static ak_err s_mint_aws_creds(oidc_fn *o, akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp) {
    static const char *const allowed[] = {"data_class", "actor_omni", "duration_seconds", NULL};
    uint64_t now_us = o->now_us(), now = now_us / 1000000u, exp = 0;
    s_caller c;
    memset(&c, 0, sizeof(c));
    json_t *body = NULL, *out = NULL;
    ak_buf jwt;
    ak_sts_creds creds;
    ak_buf_init(&jwt, AK_MAX_JWS);
    ak_sts_creds_init(&creds);
    char session_name[65] = "";
    bool sts_called = false;
    ak_err rc = AK_OK;

    /* Input first (400s carry no audit: nothing was attempted). */
    AK_GUARD_OUT(s_optional_body(req, allowed, &body));
    /* The role per class: the two data classes of caps, and "mail" (the SES router's inbox,
     * functions/ses-router/README.md), which has no cap and no worker: the agent reads its own
     * bots/<omni>/ prefix with these credentials directly. No body, or no data_class, is the
     * credentials class: the seed's callers POST this route with no body (issue 17 item 7). */
    ak_cur dc = AK_CUR_LIT("credentials");
    const char *role = NULL, *cls_name = NULL;
    if (body != NULL) {
        bool has_dc = false;
        AK_GUARD_OUT(ak_json_str_opt(body, "data_class", &dc, &has_dc));
        if (!has_dc) dc = AK_CUR_LIT("credentials");
    }
    if (ak_cur_eq_str(dc, "credentials")) {
        role = o->vault_role_arn;
        cls_name = "credentials";
    } else if (ak_cur_eq_str(dc, "memory")) {
        role = o->memory_role_arn;
        cls_name = "memory";
    } else if (ak_cur_eq_str(dc, "mail")) {
        role = o->mail_role_arn;
        cls_name = "mail";
        if (role[0] == '\0') ak_log_error("oidc misconfigured", "missing", "AK_MAIL_ROLE_ARN");
        AK_ENSURE_OUT(role[0] != '\0', AK_E_CONFIG);
    }
    AK_ENSURE_OUT(role != NULL, AK_E_INVALID_INPUT);
    uint64_t duration = OIDC_STS_DURATION_DEFAULT;
    bool has_dur = false;
    if (body != NULL) AK_GUARD_OUT(ak_json_u64_opt(body, "duration_seconds", &duration, &has_dur));
    if (!has_dur) duration = OIDC_STS_DURATION_DEFAULT;
    AK_ENSURE_OUT(duration >= AK_STS_MIN_DURATION && duration <= OIDC_STS_DURATION_MAX, AK_E_INVALID_INPUT);

    rc = s_caller_resolve(o, req, body, now, &c);
    if (rc == AK_OK) rc = s_mint_jwt(o, &c, now, &jwt, &exp);
    if (rc == AK_OK) {
        s_session_name(c.s.wallet, now_us, session_name);
        ak_sts_web_identity wi = {.role_arn = ak_cur_from_str(role),
                                  .role_session_name = ak_cur_from_str(session_name),
                                  .web_identity_token = ak_buf_cur(&jwt),
                                  .duration_seconds = (uint32_t)duration,
                                  .deadline_ms = o->svc.deadline_ms};
        sts_called = true;
        rc = o->assume(o, &wi, &creds);
        if (rc != AK_OK && rc != AK_E_NOMEM && rc != AK_E_UPSTREAM_TIMEOUT) rc = AK_E_STS_ERROR;
    }
    if (c.attempted) {
        rc = s_finish(o, ctx, AK_AUDIT_MINT_AWS_CREDS, &c, rc, sts_called, session_name, now_us);
    } else if (rc != AK_OK) {
        goto out;
    }
    if (rc != AK_OK) goto out;

    {
        char wallet[43], actor[65];
        ak_eth_address_hex(c.s.wallet, wallet);
        ak_omni_hex(&c.actor, actor);
        int64_t exp_unix = 0;
        if (ak_rfc3339_parse(ak_buf_cur(&creds.expiration), &exp_unix) != AK_OK) exp_unix = 0;
        out = json_pack(
            "{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "access_key_id", ak_buf_cstr(&creds.access_key_id),
            "secret_access_key", ak_buf_cstr(&creds.secret_access_key), "session_token",
            ak_buf_cstr(&creds.session_token), "expiration", (json_int_t)exp_unix, "expiration_iso",
            ak_buf_cstr(&creds.expiration), "actor_omni", actor, "wallet", wallet, "data_class", cls_name);
        AK_ENSURE_OUT(out != NULL, AK_E_NOMEM);
        AK_GUARD_OUT(akrt_http_json(resp, 200, out));
        ak_log_info("aws creds minted", "data_class", cls_name, "session_name", session_name);
    }
out:
    if (body) json_decref(body);
    if (out) {
        s_wipe_json_string(out, "secret_access_key");
        s_wipe_json_string(out, "session_token");
        json_decref(out);
    }
    ak_sts_creds_free(&creds);
    ak_buf_free(&jwt);
    return rc;
}

/* ---------------------------------------------------------------- dispatch */

ak_err oidc_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user) {
    oidc_fn *o = user;
    const char *method = NULL;
    int route = -1;
    /* The /.well-known/ documents are OidcDiscoveryFunction's (functions/oidc-discovery): STS
     * fetches the JWKS while this function waits for STS. */
    if (ak_cur_eq_str(req->raw_path, "/v1/mint-oidc-jwt"))
        route = 0, method = "POST";
    else if (ak_cur_eq_str(req->raw_path, "/v1/mint-aws-creds"))
        route = 1, method = "POST";
    AK_ENSURE(route >= 0, AK_E_ROUTE_NOT_FOUND);
    if (!ak_cur_eq_str(req->method, method)) {
        AK_GUARD(akrt_http_error(resp, AK_E_METHOD_NOT_ALLOWED));
        return akrt_http_set_header(resp, "allow", method);
    }
    ak_svc_begin(&o->svc, ctx->inv->deadline_ms);
    return route == 0 ? s_mint_oidc_jwt(o, ctx, req, resp) : s_mint_aws_creds(o, ctx, req, resp);
}
