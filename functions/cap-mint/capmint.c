/* capmint.c — CapMintFunction's handler (see capmint.h). */
#include "capmint.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ak/audit.h"
#include "ak/cap.h"
#include "ak/evm.h"
#include "ak/identity.h"
#include "ak/json.h"
#include "ak/log.h"

static uint64_t s_capmint_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

ak_err capmint_init(void *user) {
    capmint_fn *c = user;
    if (c->now_us == NULL) c->now_us = s_capmint_now_us;
    return ak_svc_init(&c->svc, AK_SVC_BROKER);
}

/* The route that was matched: routeKey "POST /v1/cap/…" (API Gateway's match), or rawPath when
 * the route is "$default"; when both name a path they must be the same. */
static ak_err s_route(const akrt_http_req *req, ak_route_info *ri) {
    ak_cur path = req->raw_path;
    if (req->route_key.len > 0 && !ak_cur_eq_str(req->route_key, "$default")) {
        AK_ENSURE(ak_cur_starts_with(req->route_key, AK_CUR_LIT("POST /")), AK_E_ROUTE_NOT_FOUND);
        ak_cur rk = ak_cur_from(req->route_key.ptr + 5, req->route_key.len - 5);
        AK_ENSURE(ak_cur_eq(rk, req->raw_path), AK_E_ROUTE_NOT_FOUND);
        path = rk;
    }
    AK_GUARD(ak_route_lookup(path, ri));
    AK_ENSURE(ri->cap_mint, AK_E_ROUTE_NOT_FOUND);
    return AK_OK;
}

static ak_err s_audit(capmint_fn *c, akrt_ctx *ctx, const ak_session *s, const ak_cap_claims *cl,
                      ak_cur bearer, uint64_t now_us, bool provision) {
    ak_audit_event ev;
    AK_GUARD(ak_audit_event_init(&ev, AK_AUDIT_CAP_MINT, &cl->operator_omni, now_us));
    ev.has_actor = true;
    ev.actor_omni = cl->actor_omni;
    ev.has_wallet = true;
    memcpy(ev.wallet, s->wallet, 20);
    ev.has_device = true;
    memcpy(ev.device_key_hash, cl->device_key_hash, 32);
    ev.session_kind = s->kind;
    ev.has_op_class = true;
    ev.op = cl->op;
    ev.data_class = cl->data_class;
    ev.service = ak_cap_service(cl);
    ev.request_id = ak_cur_from_str(akrt_request_id(ctx));
    ev.cap_jti = ak_cur_from_str(cl->jti);
    ev.has_token_hash = true;
    ak_audit_token_hash(bearer, ev.token_sha256);
    char sess[67]; /* the extra below points into it until the write */
    if (provision) {
        /* D19: both sides in one row — the master (wallet, device, session_kind) and the actor,
         * and the session's own omni, so the row says who acted for whom. */
        ak_omni_hex0x(&s->omni_account, sess);
        AK_GUARD(ak_audit_event_add_extra(&ev, "provisioned_for", AK_CUR_LIT("bound_actor")));
        AK_GUARD(ak_audit_event_add_extra(&ev, "session_omni", ak_cur_from_str(sess)));
    }
    return ak_svc_audit_write(&c->svc, 0, &ev);
}

ak_err capmint_handle(akrt_ctx *ctx, const akrt_http_req *req, akrt_http_resp *resp, void *user) {
    capmint_fn *c = user;
    ak_route_info ri;
    AK_GUARD(s_route(req, &ri));
    if (!ak_cur_eq_str(req->method, "POST")) {
        AK_GUARD(akrt_http_error(resp, AK_E_METHOD_NOT_ALLOWED));
        return akrt_http_set_header(resp, "allow", "POST");
    }
    ak_svc_begin(&c->svc, ctx->inv->deadline_ms);
    uint64_t now_us = c->now_us(), now = now_us / 1000000u;
    ak_err rc = AK_OK;
    ak_buf token;
    json_t *out = NULL;
    ak_buf_init(&token, AK_MAX_JWS);

    /* 0. body */
    ak_cap_request r;
    AK_GUARD_OUT(ak_cap_request_parse(req->body, &r));
    ak_cur service = ak_cur_from(r.service, r.service_len);
    if (ri.data_class == AK_CLASS_MEMORY) AK_GUARD_OUT(ak_namespace_validate(service));

    /* 1. session */
    ak_cur auth, bearer;
    AK_ENSURE_OUT(akrt_http_header(req, "authorization", &auth), AK_E_UNAUTHORIZED);
    AK_GUARD_OUT(ak_svc_bearer(auth, &bearer));
    ak_session s;
    AK_GUARD_OUT(ak_svc_verify_session(&c->svc, bearer, now, &s));

    /* 2. who may act for whom (D10, D17) */
    bool teardown = ri.op == AK_OP_TEARDOWN;
    AK_ENSURE_OUT(!teardown || s.kind == AK_SESSION_MASTER, AK_E_TEARDOWN_NOT_MASTER);
    AK_ENSURE_OUT(ak_omni_eq(&r.operator_omni, &s.operator_omni), AK_E_OPERATOR_MISMATCH);
    bool own_actor = ak_omni_eq(&r.actor_omni, &s.omni_account);
    /* D19: a master session may also provision (store) for an actor bound to its operator. */
    bool provision = !own_actor && ri.op == AK_OP_STORE && s.kind == AK_SESSION_MASTER;
    AK_ENSURE_OUT(teardown || own_actor || provision, AK_E_ACTOR_MISMATCH);

    /* 4–7. the PoP device, on chain. D16: a wallet with no registered device (a fresh wallet's
     * master session of omni(addr)) may only bootstrap itself as first master, on chain: it gets
     * no cap of any kind. The session's own device is read when the PoP names another one. */
    bool master_own = s.kind == AK_SESSION_MASTER && own_actor;
    uint8_t sid[32];
    memset(sid, 0, sizeof(sid));
    ak_err sid_rc = ak_scope_id_of(ri.data_class, service, sid);
    /* Issue 19: when the PoP names the session's own device (every honest request), every chain
     * read below comes from ONE snapshot (one JSON-RPC batch pinned to one block), consumed in
     * the same order as before, so a failed read only matters where it used to be made. */
    bool snap_taken = memcmp(r.device_key_hash, s.device_key_hash, 32) == 0;
    ak_err snap_rc = AK_OK;
    ak_chain_snapshot snap;
    memset(&snap, 0, sizeof(snap));
    if (snap_taken) {
        ak_chain_query q;
        memset(&q, 0, sizeof(q));
        q.registry = c->svc.registry;
        q.scope = c->svc.scope;
        q.epoch_counter = c->svc.epoch_counter;
        q.want_device = true;
        memcpy(q.dkh, r.device_key_hash, 32);
        q.want_actor_operator = (teardown || provision) && !own_actor;
        memcpy(q.actor, r.actor_omni.b, 32);
        q.want_in_scope = !(teardown && !own_actor) && !master_own && sid_rc == AK_OK;
        q.want_scope = (ri.op == AK_OP_STORE || teardown) && !master_own;
        memcpy(q.op, r.operator_omni.b, 32);
        memcpy(q.agent, r.actor_omni.b, 32);
        memcpy(q.scope_id, sid, 32);
        q.want_epoch = true;
        snap_rc = ak_chain_snapshot_read(&c->svc.rpc, &q, &snap);
    }
#define CAPMINT_READ(field_rc, per_read) (snap_taken ? (snap_rc != AK_OK ? snap_rc : (field_rc)) : (per_read))
    ak_device_entry dev;
    AK_GUARD_OUT(CAPMINT_READ(snap.device_rc,
                              ak_registry_get_device(&c->svc.rpc, c->svc.registry, r.device_key_hash, &dev)));
    if (snap_taken) dev = snap.device;
    if (memcmp(r.device_key_hash, s.device_key_hash, 32) != 0) {
        ak_device_entry own;
        AK_GUARD_OUT(ak_registry_get_device(&c->svc.rpc, c->svc.registry, s.device_key_hash, &own));
        AK_ENSURE_OUT(own.registered_at != 0, AK_E_DEVICE_NOT_REGISTERED);
    }
    AK_ENSURE_OUT(dev.registered_at != 0, AK_E_DEVICE_NOT_REGISTERED);
    AK_ENSURE_OUT(!dev.revoked, AK_E_DEVICE_REVOKED);
    /* Bound: the device belongs to the session's operator, and it is the kind of device the
     * session speaks for. A master session (omni_account = O) may come from ANY active master
     * device of O — an additional master's own actorOmni is omni(its wallet), not O — while an
     * agent session must come from the agent device of exactly that actor (D16, D17). */
    bool bound_master = s.kind == AK_SESSION_MASTER && dev.tier == AK_DEVICE_TIER_MASTER;
    bool bound_agent = s.kind == AK_SESSION_AGENT && dev.tier == AK_DEVICE_TIER_AGENT &&
                       memcmp(dev.actor_omni, s.omni_account.b, 32) == 0;
    AK_ENSURE_OUT(memcmp(dev.operator_omni, s.operator_omni.b, 32) == 0 && (bound_master || bound_agent),
                  AK_E_DEVICE_BINDING_MISMATCH);
    AK_ENSURE_OUT((dev.roles & AK_ROLE_CAP_MINT) != 0, AK_E_DEVICE_ROLE_MISSING);

    /* 8. K10 proof of possession, by the session's own wallet (D17) */
    ak_cap_pop_msg pm = {.operator_omni = r.operator_omni,
                         .actor_omni = r.actor_omni,
                         .service = service,
                         .op = ri.op,
                         .data_class = ri.data_class,
                         .client_nonce = ak_cur_from(r.pop.nonce, r.pop.nonce_len),
                         .client_ts = r.pop.ts};
    rc = ak_cap_pop_verify(&pm, r.pop.sig, r.device_key_hash, now);
    if (rc != AK_OK && rc != AK_E_NOMEM) rc = AK_E_CAP_POP_INVALID;
    if (rc != AK_OK) goto out;
    AK_ENSURE_OUT(memcmp(r.device_key_hash, s.device_key_hash, 32) == 0, AK_E_CAP_POP_INVALID);

    /* 9. scope (D2) / binding of the torn-down actor (D17) */
    if ((teardown || provision) && !own_actor) {
        uint8_t bound_to[32];
        AK_GUARD_OUT(
            CAPMINT_READ(snap.actor_operator_rc,
                         ak_registry_actor_operator(&c->svc.rpc, c->svc.registry, r.actor_omni.b, bound_to)));
        if (snap_taken) memcpy(bound_to, snap.actor_operator, 32);
        AK_ENSURE_OUT(memcmp(bound_to, s.operator_omni.b, 32) == 0, AK_E_ACTOR_MISMATCH);
    }
    if (teardown && !own_actor) {
        /* D10/D17: a teardown wipes the actor's whole class prefix, not one service */
    } else if (!master_own) {
        /* D19: a provisioning master keeps the actor's scope (D17: no skip on others' data) */
        bool in_scope = false;
        AK_GUARD_OUT(sid_rc);
        AK_GUARD_OUT(CAPMINT_READ(snap.in_scope_rc,
                                  ak_scope_is_service_in_scope(&c->svc.rpc, c->svc.scope, r.operator_omni.b,
                                                               r.actor_omni.b, sid, &in_scope)));
        if (snap_taken) in_scope = snap.in_scope;
        AK_ENSURE_OUT(in_scope, AK_E_SERVICE_NOT_IN_SCOPE);
    }
    /* 9b. readOnly (contracts.md §3): no cap that writes (store, teardown) for an actor whose
     * scope is read-only, whoever asks; the operator lifts or revokes the scope first. A master
     * on its own data has no scope. */
    if ((ri.op == AK_OP_STORE || teardown) && !master_own) {
        ak_scope_entry se;
        AK_GUARD_OUT(CAPMINT_READ(snap.scope_rc, ak_scope_get(&c->svc.rpc, c->svc.scope, r.operator_omni.b,
                                                              r.actor_omni.b, NULL, &se)));
        if (snap_taken) se = snap.scope;
        AK_ENSURE_OUT(!(se.exists && se.read_only), AK_E_SCOPE_READ_ONLY);
    }

    /* 10. the current K3 epoch */
    uint64_t epoch;
    AK_GUARD_OUT(CAPMINT_READ(snap.epoch_rc, ak_k3_current_epoch(&c->svc.rpc, c->svc.epoch_counter, &epoch)));
    if (snap_taken) epoch = snap.epoch;
#undef CAPMINT_READ
    AK_ENSURE_OUT(epoch >= 1 && epoch <= UINT32_MAX, AK_E_CHAIN_RPC);

    /* 11. claims, signed by the signer's cap key (D4, D5) */
    ak_cap_claims cl;
    AK_GUARD_OUT(ak_cap_claims_new(&r, ri.op, ri.data_class, (uint32_t)epoch, now, &cl));
    {
        ak_buf payload;
        ak_buf_init(&payload, AK_MAX_JWS);
        rc = ak_cap_claims_encode(&cl, &payload);
        char kid[AK_SIGNER_KID_MAX] = "";
        if (rc == AK_OK)
            rc = ak_svc_sign_jws(&c->svc, AK_SIGNER_KEY_CAP, AK_CAP_TYP, ak_buf_cur(&payload), &token, kid);
        ak_buf_free(&payload);
        if (rc != AK_OK) goto out;

        /* 12. no audit, no cap (D12) */
        AK_GUARD_OUT(s_audit(c, ctx, &s, &cl, bearer, now_us, provision));

        char op_hex[67], actor_hex[67];
        ak_omni_hex0x(&cl.operator_omni, op_hex);
        ak_omni_hex0x(&cl.actor_omni, actor_hex);
        out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s#, s:s, s:s, s:I, s:I, s:I}", "cap",
                        ak_buf_cstr(&token), "kid", kid, "jti", cl.jti, "op", ak_op_str(cl.op), "data_class",
                        ak_data_class_str(cl.data_class), "service", cl.service, (int)cl.service_len,
                        "operator_omni", op_hex, "actor_omni", actor_hex, "k3_epoch", (json_int_t)cl.k3_epoch,
                        "issued_at", (json_int_t)cl.issued_at, "expires_at", (json_int_t)cl.expires_at);
        AK_ENSURE_OUT(out != NULL, AK_E_NOMEM);
        AK_GUARD_OUT(akrt_http_json(resp, 200, out));
        ak_log_info("cap minted", "op", ak_op_str(cl.op), "data_class", ak_data_class_str(cl.data_class),
                    "service", cl.service);
    }
out:
    if (rc != AK_OK) ak_log_warn("cap refused", "reason", ak_err_reason(rc));
    if (out) json_decref(out);
    ak_buf_free(&token);
    return rc;
}
