/* worker.c — the credentials/memory worker pipeline (see ak/worker.h). */
#include "ak/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ak/alloc.h"
#include "ak/audit.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/envelope.h"
#include "ak/json.h"
#include "ak/log.h"
#include "ak/usepolicy.h"

/* ================================================================ default ops */

static ak_err s_ops_derive_kek(ak_worker *w, const ak_omni *op, const ak_omni *actor, uint32_t epoch,
                               uint8_t kek[32]) {
    AK_ENSURE(w->svc.signer != NULL, AK_E_CONFIG);
    AK_ENSURE(w->req_cap.len > 0, AK_E_INTERNAL); /* only ever called inside ak_worker_handle */
    return ak_signer_derive_kek(w->svc.signer, ak_data_class_str(w->data_class), ak_op_str(w->req_op),
                                w->req_cap, op->b, actor->b, epoch, kek);
}

static ak_err s_ops_derive_kek_send(ak_worker *w, const ak_omni *op, const ak_omni *actor, uint32_t epoch) {
    AK_ENSURE(w->svc.signer != NULL, AK_E_CONFIG);
    AK_ENSURE(w->req_cap.len > 0, AK_E_INTERNAL);
    return ak_signer_derive_kek_send(w->svc.signer, ak_data_class_str(w->data_class), ak_op_str(w->req_op),
                                     w->req_cap, op->b, actor->b, epoch);
}

static ak_err s_ops_derive_kek_recv(ak_worker *w, uint8_t kek[32]) {
    AK_ENSURE(w->svc.signer != NULL, AK_E_CONFIG);
    return ak_signer_derive_kek_recv(w->svc.signer, kek);
}

static void s_ops_derive_kek_abort(ak_worker *w) {
    if (w->svc.signer != NULL) ak_signer_derive_kek_abort(w->svc.signer);
}

static ak_err s_ops_get_device(ak_worker *w, const uint8_t dkh[32], ak_device_entry *out) {
    return ak_registry_get_device(&w->svc.rpc, w->svc.registry, dkh, out);
}

static ak_err s_ops_actor_operator(ak_worker *w, const uint8_t actor[32], uint8_t op[32]) {
    return ak_registry_actor_operator(&w->svc.rpc, w->svc.registry, actor, op);
}

static ak_err s_ops_in_scope(ak_worker *w, const uint8_t op[32], const uint8_t actor[32],
                             const uint8_t sid[32], bool *out) {
    return ak_scope_is_service_in_scope(&w->svc.rpc, w->svc.scope, op, actor, sid, out);
}

static ak_err s_ops_read_only(ak_worker *w, const uint8_t op[32], const uint8_t actor[32], bool *out) {
    ak_scope_entry e;
    AK_GUARD(ak_scope_get(&w->svc.rpc, w->svc.scope, op, actor, NULL, &e));
    *out = e.exists && e.read_only;
    return AK_OK;
}

static ak_err s_ops_current_epoch(ak_worker *w, uint64_t *out) {
    return ak_k3_current_epoch(&w->svc.rpc, w->svc.epoch_counter, out);
}

static ak_err s_ops_chain_snapshot(ak_worker *w, const ak_chain_query *q, ak_chain_snapshot *out) {
    ak_chain_query full = *q;
    full.registry = w->svc.registry;
    full.scope = w->svc.scope;
    full.epoch_counter = w->svc.epoch_counter;
    return ak_chain_snapshot_read(&w->svc.rpc, &full, out);
}

/*
 * S3 answers a GET of a MISSING key with 403, not 404, when the caller may not list the bucket
 * root, and the class roles may list only their own prefix (iam.md §3). To tell "nothing stored"
 * from "denied", list the exact key under the caller's own prefix: that listing is allowed for
 * the actor's own data, so an empty answer means not found; a refused listing (another actor's
 * prefix) stays access_denied.
 */
typedef struct {
    ak_cur key;
    bool found;
} s_probe;

static ak_err s_probe_item(void *ud, const ak_s3_list_item *item) {
    s_probe *p = ud;
    if (ak_cur_eq(item->key, p->key)) p->found = true;
    return AK_OK;
}

static ak_err s_missing_or_denied(ak_worker *w, const ak_sigv4_creds *c, ak_cur key) {
    ak_s3_call call = {.creds = c, .deadline_ms = w->svc.deadline_ms};
    s_probe p = {.key = key, .found = false};
    ak_err rc = ak_s3_list(&w->svc.s3, &call, w->bucket, key, 2, s_probe_item, &p);
    if (rc == AK_OK && !p.found) return AK_E_NOT_FOUND;
    return AK_E_ACCESS_DENIED;
}

static ak_err s_ops_get(ak_worker *w, const ak_sigv4_creds *c, ak_cur key, ak_buf *body, ak_buf *etag) {
    AK_ENSURE(w->svc.has_s3, AK_E_CONFIG);
    ak_s3_call call = {.creds = c, .deadline_ms = w->svc.deadline_ms};
    ak_http_response resp;
    ak_http_response_init(&resp);
    ak_err rc = ak_s3_get(&w->svc.s3, &call, w->bucket, key, AK_WORKER_MAX_OBJECT, true, &resp);
    if (rc == AK_OK) rc = ak_buf_append_cur(body, ak_buf_cur(&resp.body));
    ak_cur et;
    if (rc == AK_OK && ak_http_response_header(&resp, "etag", &et)) rc = ak_buf_append_cur(etag, et);
    ak_http_response_free(&resp);
    if (rc == AK_E_ACCESS_DENIED) rc = s_missing_or_denied(w, c, key);
    return rc;
}

static ak_err s_ops_put(ak_worker *w, const ak_sigv4_creds *c, ak_cur key, ak_cur body, ak_cur if_match) {
    AK_ENSURE(w->svc.has_s3, AK_E_CONFIG);
    ak_s3_call call = {.creds = c, .deadline_ms = w->svc.deadline_ms};
    ak_s3_put_opts opts = {.if_match = if_match, .content_type = AK_CUR_LIT("application/octet-stream")};
    return ak_s3_put(&w->svc.s3, &call, w->bucket, key, body, &opts, NULL);
}

static ak_err s_ops_list(ak_worker *w, const ak_sigv4_creds *c, ak_cur prefix, ak_s3_list_fn fn, void *ud) {
    AK_ENSURE(w->svc.has_s3, AK_E_CONFIG);
    ak_s3_call call = {.creds = c, .deadline_ms = w->svc.deadline_ms};
    return ak_s3_list(&w->svc.s3, &call, w->bucket, prefix, 0, fn, ud);
}

static ak_err s_ops_delete_objects(ak_worker *w, const ak_sigv4_creds *c, const ak_cur *keys, size_t n,
                                   ak_s3_delete_error_fn on_error, void *ud, ak_s3_delete_result *res) {
    AK_ENSURE(w->svc.has_s3, AK_E_CONFIG);
    ak_s3_call call = {.creds = c, .deadline_ms = w->svc.deadline_ms};
    return ak_s3_delete_objects(&w->svc.s3, &call, w->bucket, keys, n, on_error, ud, res);
}

static ak_err s_ops_delete_one(ak_worker *w, const ak_sigv4_creds *c, ak_cur key) {
    AK_ENSURE(w->svc.has_s3, AK_E_CONFIG);
    ak_s3_call call = {.creds = c, .deadline_ms = w->svc.deadline_ms};
    return ak_s3_delete(&w->svc.s3, &call, w->bucket, key);
}

static ak_err s_ops_egress(ak_worker *w, const ak_http_request *req, ak_http_response *resp) {
    if (!w->egress_ready) {
        AK_GUARD(ak_egress_init(&w->egress, w->allow_loopback));
        w->egress_ready = true;
    }
    return ak_http_do(w->egress.http, req, resp);
}

static const ak_worker_ops s_default_ops = {
    .derive_kek = s_ops_derive_kek,
    .derive_kek_send = s_ops_derive_kek_send,
    .derive_kek_recv = s_ops_derive_kek_recv,
    .derive_kek_abort = s_ops_derive_kek_abort,
    .get_device = s_ops_get_device,
    .actor_operator = s_ops_actor_operator,
    .in_scope = s_ops_in_scope,
    .read_only = s_ops_read_only,
    .current_epoch = s_ops_current_epoch,
    .chain_snapshot = s_ops_chain_snapshot,
    .get = s_ops_get,
    .put = s_ops_put,
    .list = s_ops_list,
    .delete_objects = s_ops_delete_objects,
    .delete_one = s_ops_delete_one,
    .egress = s_ops_egress,
};

/* ================================================================ error mapping */

/* Chain: any failure of the read is the upstream's (502 chain_rpc_error). */
static ak_err s_chain_err(ak_err e) {
    if (e == AK_OK || e == AK_E_NOMEM) return e;
    return AK_E_CHAIN_RPC;
}

/* S3: keep the codes a client can act on; transport/5xx/anything else is 502 s3_error. */
static ak_err s_s3_err(ak_err e) {
    switch (e) {
        case AK_OK:
        case AK_E_NOMEM:
        case AK_E_NOT_FOUND:
        case AK_E_ACCESS_DENIED:
        case AK_E_PRECONDITION_FAILED:
        case AK_E_CONFLICT:
            return e;
        default:
            return AK_E_S3_ERROR;
    }
}

/* Signer: its refusals keep their codes (layer 5 must be visible); the rest is 503. */
static ak_err s_signer_err(ak_err e) {
    switch (e) {
        case AK_OK:
        case AK_E_NOMEM:
        case AK_E_ATTESTATION_INVALID:
        case AK_E_ROLE_NOT_ALLOWED:
        case AK_E_EPOCH_NOT_YET:
        case AK_E_CONFIG:
            return e;
        default:
            return AK_E_SIGNER_UNAVAILABLE;
    }
}

/* ================================================================ init */

static const char *s_env(const char *name) {
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

bool ak_worker_strict_sts(const char *value) {
    if (value == NULL) return true;
    return !(strcasecmp(value, "0") == 0 || strcasecmp(value, "false") == 0 || strcasecmp(value, "no") == 0);
}

ak_err ak_worker_init(ak_worker *w, ak_data_class expect_class) {
    AK_PRECOND(w != NULL);
    memset(w, 0, sizeof(*w));
    w->ops = s_default_ops;
    const char *cls = s_env("AK_DATA_CLASS");
    if (cls == NULL) {
        ak_log_error("worker misconfigured", "missing", "AK_DATA_CLASS");
        return AK_E_CONFIG;
    }
    ak_data_class c;
    if (ak_data_class_parse(ak_cur_from_str(cls), &c) != AK_OK || c != expect_class) {
        ak_log_error("worker misconfigured", "invalid", "AK_DATA_CLASS");
        return AK_E_CONFIG;
    }
    w->data_class = c;
    const char *bvar = c == AK_CLASS_CREDENTIALS ? "AK_VAULT_BUCKET" : "AK_MEMORY_BUCKET";
    const char *b = s_env(bvar);
    if (b == NULL || ak_cur_to_cstr(ak_cur_from_str(b), w->bucket, sizeof(w->bucket)) != AK_OK) {
        ak_log_error("worker misconfigured", b == NULL ? "missing" : "invalid", bvar);
        return AK_E_CONFIG;
    }
    w->require_sts = ak_worker_strict_sts(getenv("AGENTKEYS_WORKER_REQUIRE_STS"));
    if (!w->require_sts) ak_log_warn("worker STS strict mode is off (local tests only)");
    const char *lb = s_env("AK_CRED_USE_ALLOW_LOOPBACK");
    w->allow_loopback = lb != NULL && strcmp(lb, "1") == 0;
    if (w->allow_loopback) ak_log_warn("cred use may call loopback addresses (local stack only)");
    return ak_svc_init(&w->svc, AK_SVC_WORKER);
}

void ak_worker_init_for_test(ak_worker *w, ak_data_class c, const char *bucket, bool require_sts,
                             const ak_svc_ops *svc_ops, const char *audit_bucket, const ak_worker_ops *ops) {
    AK_PRECOND(w != NULL && svc_ops != NULL && ops != NULL && bucket != NULL);
    memset(w, 0, sizeof(*w));
    ak_svc_init_for_test(&w->svc, svc_ops, NULL, audit_bucket);
    w->ops = *ops;
    w->data_class = c;
    snprintf(w->bucket, sizeof(w->bucket), "%s", bucket);
    w->require_sts = require_sts;
}

void ak_worker_free(ak_worker *w) {
    if (w == NULL) return;
    ak_svc_free(&w->svc);
    if (w->egress_ready) ak_egress_free(&w->egress);
    w->egress_ready = false;
    memset(&w->cap_keys, 0, sizeof(w->cap_keys));
    w->cap_keys_loaded = false;
}

void ak_worker_resp_init(ak_worker_resp *r) {
    r->status = 200;
    ak_buf_init_secret(&r->body, AK_MAX_LAMBDA_PAYLOAD);
}

void ak_worker_resp_free(ak_worker_resp *r) { ak_buf_free(&r->body); }

/* ================================================================ names (D9) */

ak_err ak_worker_prefix(ak_data_class c, const ak_omni *actor, ak_buf *out) {
    char hex[AK_OMNI_HEX_LEN + 1];
    ak_omni_hex(actor, hex);
    return ak_buf_printf(out, "bots/%s/%s/", hex, ak_data_class_str(c));
}

ak_err ak_worker_object_key(ak_data_class c, const ak_omni *actor, ak_cur service, ak_buf *out) {
    AK_GUARD(c == AK_CLASS_MEMORY ? ak_namespace_validate(service) : ak_service_validate(service));
    size_t start = out->len;
    ak_err rc = ak_worker_prefix(c, actor, out);
    if (rc == AK_OK) rc = ak_buf_append_cur(out, service);
    if (rc == AK_OK) rc = ak_buf_append_str(out, ".enc");
    if (rc != AK_OK && out->ptr != NULL) {
        out->len = start;
        out->ptr[start] = 0;
    }
    return rc;
}

/* ================================================================ step 1: STS headers (D11) */

static ak_err s_sts_creds(const ak_worker *w, const ak_worker_req *r, ak_sigv4_creds *out) {
    unsigned present =
        (unsigned)r->has_access_key_id + (unsigned)r->has_secret_access_key + (unsigned)r->has_session_token;
    if (present == 0) {
        AK_ENSURE(!w->require_sts, AK_E_STS_HEADERS_MISSING);
        *out = w->svc.creds; /* execution role (local tests without IAM only) */
        return AK_OK;
    }
    /* "all three, all non-empty" (workers.md §4); anything else is partial. */
    AK_ENSURE(present == 3 && r->access_key_id.len > 0 && r->secret_access_key.len > 0 &&
                  r->session_token.len > 0,
              AK_E_STS_HEADERS_PARTIAL);
    out->access_key_id = r->access_key_id;
    out->secret_access_key = r->secret_access_key;
    out->session_token = r->session_token;
    return AK_OK;
}

/* ================================================================ step 2: body */

typedef struct s_body {
    json_t *doc;
    ak_cur cap;
    ak_buf plaintext; /* secret; store only */
    bool has_policy;  /* store (D19) */
    ak_use_policy policy;
    ak_cur method, url;    /* use */
    const json_t *headers; /* use; NULL when absent (owned by doc) */
    ak_buf req_body;       /* use: body_b64 decoded */
} s_body;

static void s_body_init(s_body *b) {
    memset(b, 0, sizeof(*b));
    b->doc = NULL;
    b->cap = (ak_cur){NULL, 0};
    ak_buf_init_secret(&b->plaintext, AK_MAX_PLAINTEXT);
    ak_buf_init(&b->req_body, AK_MAX_REQUEST_BODY);
}

static void s_body_free(s_body *b) {
    if (b->doc != NULL) {
        /* jansson holds the base64 plaintext and the cap: overwrite them before the free. */
        const char *const names[2] = {"plaintext_b64", "cap"};
        for (size_t i = 0; i < 2; i++) {
            json_t *v = json_object_get(b->doc, names[i]);
            if (json_is_string(v)) ak_wipe((void *)(uintptr_t)json_string_value(v), json_string_length(v));
        }
        json_decref(b->doc);
        b->doc = NULL;
    }
    ak_buf_free(&b->plaintext);
    ak_buf_free(&b->req_body);
}

static ak_err s_parse_body(ak_op op, ak_cur text, s_body *b) {
    static const char *const k_store[] = {"cap", "plaintext_b64", "policy", NULL};
    static const char *const k_use[] = {"cap", "method", "url", "headers", "body_b64", NULL};
    static const char *const k_other[] = {"cap", NULL};
    AK_GUARD(ak_json_parse_object(text, &b->doc));
    AK_GUARD(ak_json_only_keys(b->doc, op == AK_OP_STORE ? k_store : op == AK_OP_USE ? k_use : k_other));
    AK_GUARD(ak_json_str(b->doc, "cap", &b->cap));
    AK_ENSURE(b->cap.len > 0 && b->cap.len <= AK_MAX_JWS, AK_E_INVALID_INPUT);
    if (op == AK_OP_STORE) {
        ak_cur p64;
        AK_GUARD(ak_json_str(b->doc, "plaintext_b64", &p64));
        /* 4 base64 characters per 3 bytes: refuse an oversize value before decoding it. */
        AK_ENSURE(p64.len / 4 * 3 <= (size_t)AK_MAX_PLAINTEXT + 3, AK_E_TOO_LARGE);
        ak_err rc = ak_b64_decode(p64, &b->plaintext);
        if (rc == AK_E_LIMIT) return AK_E_TOO_LARGE;
        if (rc != AK_OK && rc != AK_E_NOMEM) return AK_E_BAD_BASE64;
        AK_GUARD(rc);
        const json_t *pol = json_object_get(b->doc, "policy");
        if (pol != NULL) {
            /* D19: checked with the body, before any cryptography (docs/spec/use-policy.md §1) */
            AK_GUARD(ak_use_policy_from_json(pol, &b->policy));
            AK_GUARD(ak_use_secret_check(ak_buf_cur(&b->plaintext)));
            b->has_policy = true;
        }
    }
    if (op == AK_OP_USE) {
        AK_GUARD(ak_json_str(b->doc, "method", &b->method));
        AK_GUARD(ak_json_str(b->doc, "url", &b->url));
        b->headers = json_object_get(b->doc, "headers");
        AK_ENSURE(b->headers == NULL || json_is_object(b->headers), AK_E_WRONG_TYPE);
        ak_cur b64;
        bool present = false;
        AK_GUARD(ak_json_str_opt(b->doc, "body_b64", &b64, &present));
        if (present) {
            ak_err rc = ak_b64_decode(b64, &b->req_body);
            if (rc == AK_E_LIMIT) return AK_E_TOO_LARGE;
            if (rc != AK_OK && rc != AK_E_NOMEM) return AK_E_BAD_BASE64;
            AK_GUARD(rc);
        }
    }
    return AK_OK;
}

/* ================================================================ step 3: cap */

static ak_err s_load_cap_keys(ak_worker *w) {
    json_t *arr = NULL;
    ak_err rc = ak_svc_public_jwks(&w->svc, AK_SIGNER_KEY_CAP, true, &arr);
    if (rc != AK_OK) return rc == AK_E_NOMEM ? rc : s_signer_err(rc);
    ak_jwks ks;
    memset(&ks, 0, sizeof(ks));
    for (size_t i = 0; i < json_array_size(arr) && ks.n < AK_JWKS_MAX_KEYS; i++) {
        if (ak_jwk_p256_from_json(json_array_get(arr, i), &ks.keys[ks.n]) != AK_OK) {
            rc = AK_E_SIGNER_UNAVAILABLE;
            break;
        }
        ks.n++;
    }
    json_decref(arr);
    if (rc != AK_OK) return rc;
    w->cap_keys = ks;
    ak_cap_sig_cache_clear(
        &w->cap_cache); /* a signature is only as good as the key set it was checked under */
    w->cap_keys_loaded = true;
    w->cap_keys_at_ms = ak_http_now_ms();
    return AK_OK;
}

/* The cap key set, loaded on first use and refetched (rate-limited) when a token names a kid
 * we do not know (rotation). A failed refetch keeps the old set: the token then fails its
 * signature check as broker_sig_invalid. */
/* Whether the cap names a kid of the loaded set. Only its protected header is decoded (issue 19:
 * parsing the whole token here as well doubled the JSON work of every request; the claims are
 * read once, by ak_cap_verify_cached). A header that does not decode counts as known: there is
 * nothing to refresh for, and ak_cap_verify reports the token. */
static bool s_cap_kid_known(const ak_worker *w, ak_cur token) {
    long dot = ak_cur_find(token, '.');
    if (dot <= 0) return true;
    ak_buf hdr;
    json_t *j = NULL;
    ak_cur kid;
    bool known = true;
    ak_buf_init(&hdr, AK_MAX_JWS);
    if (ak_b64url_decode(ak_cur_from(token.ptr, (size_t)dot), &hdr) == AK_OK &&
        ak_json_parse_object(ak_buf_cur(&hdr), &j) == AK_OK) {
        known = false;
        if (ak_json_str(j, "kid", &kid) == AK_OK)
            for (size_t i = 0; i < w->cap_keys.n; i++)
                if (ak_cur_eq_str(kid, w->cap_keys.keys[i].kid)) known = true;
    }
    if (j != NULL) json_decref(j);
    ak_buf_free(&hdr);
    return known;
}

static ak_err s_cap_keys(ak_worker *w, ak_cur token) {
    if (!w->cap_keys_loaded) return s_load_cap_keys(w);
    bool known = s_cap_kid_known(w, token);
    if (!known && ak_http_now_ms() - w->cap_keys_at_ms >= AK_WORKER_KEYS_REFRESH_MIN_MS) {
        ak_err rc = s_load_cap_keys(w);
        if (rc == AK_E_NOMEM) return rc;
        if (rc != AK_OK) ak_log_warn("cap key refresh failed", "reason", ak_err_reason(rc));
    }
    return AK_OK;
}

/* ================================================================ step 4: chain (D11, D17) */

/*
 * The request's chain reads: one snapshot taken up front (ops.chain_snapshot), or, without that
 * op, one op call per read as the check reaches it. Either way the check below consumes them in
 * the same order, so the refusal reasons and their order are the same.
 */
typedef struct s_chain_reads {
    ak_worker *w;
    bool snap_taken;
    ak_err snap_rc; /* the snapshot as a whole */
    ak_chain_snapshot snap;
} s_chain_reads;

static ak_err s_rd_device(s_chain_reads *r, const uint8_t dkh[32], ak_device_entry *d) {
    if (!r->snap_taken) return r->w->ops.get_device(r->w, dkh, d);
    AK_GUARD(r->snap_rc);
    AK_GUARD(r->snap.device_rc);
    *d = r->snap.device;
    return AK_OK;
}

static ak_err s_rd_actor_operator(s_chain_reads *r, const uint8_t actor[32], uint8_t op[32]) {
    if (!r->snap_taken) return r->w->ops.actor_operator(r->w, actor, op);
    AK_GUARD(r->snap_rc);
    AK_GUARD(r->snap.actor_operator_rc);
    memcpy(op, r->snap.actor_operator, 32);
    return AK_OK;
}

static ak_err s_rd_in_scope(s_chain_reads *r, const uint8_t op[32], const uint8_t actor[32],
                            const uint8_t sid[32], bool *in) {
    if (!r->snap_taken) return r->w->ops.in_scope(r->w, op, actor, sid, in);
    AK_GUARD(r->snap_rc);
    AK_GUARD(r->snap.in_scope_rc);
    *in = r->snap.in_scope;
    return AK_OK;
}

static ak_err s_rd_read_only(s_chain_reads *r, const uint8_t op[32], const uint8_t actor[32], bool *ro) {
    if (!r->snap_taken) return r->w->ops.read_only(r->w, op, actor, ro);
    AK_GUARD(r->snap_rc);
    AK_GUARD(r->snap.scope_rc);
    *ro = r->snap.scope.exists && r->snap.scope.read_only;
    return AK_OK;
}

static ak_err s_rd_epoch(s_chain_reads *r, uint64_t *cur) {
    if (!r->snap_taken) return r->w->ops.current_epoch(r->w, cur);
    AK_GUARD(r->snap_rc);
    AK_GUARD(r->snap.epoch_rc);
    *cur = r->snap.epoch;
    return AK_OK;
}

static ak_err s_chain_check(ak_worker *w, const ak_cap_claims *c) {
    bool own = ak_omni_eq(&c->operator_omni, &c->actor_omni);
    uint8_t sid[32];
    memset(sid, 0, sizeof(sid));
    /* computed up front for the query; its failure (if any) surfaces where the check needs it */
    ak_err sid_rc =
        !own && c->op != AK_OP_TEARDOWN ? ak_scope_id_of(c->data_class, ak_cap_service(c), sid) : AK_OK;
    s_chain_reads rd;
    memset(&rd, 0, sizeof(rd));
    rd.w = w;
    if (w->ops.chain_snapshot != NULL) {
        /* every read the checks below may reach (actorOperator also for an agent's store,
         * where the tier makes it unused: one more element of the same batch) */
        ak_chain_query q;
        memset(&q, 0, sizeof(q));
        q.want_device = true;
        memcpy(q.dkh, c->device_key_hash, 32);
        q.want_actor_operator = !own && (c->op == AK_OP_TEARDOWN || c->op == AK_OP_STORE);
        memcpy(q.actor, c->actor_omni.b, 32);
        q.want_in_scope = !own && c->op != AK_OP_TEARDOWN && sid_rc == AK_OK;
        q.want_scope = !own && (c->op == AK_OP_STORE || c->op == AK_OP_TEARDOWN);
        memcpy(q.op, c->operator_omni.b, 32);
        memcpy(q.agent, c->actor_omni.b, 32);
        memcpy(q.scope_id, sid, 32);
        q.want_epoch = true;
        rd.snap_taken = true;
        rd.snap_rc = w->ops.chain_snapshot(w, &q, &rd.snap);
    }
    ak_device_entry d;
    memset(&d, 0, sizeof(d));
    AK_GUARD(s_chain_err(s_rd_device(&rd, c->device_key_hash, &d)));
    AK_ENSURE(d.registered_at != 0, AK_E_DEVICE_NOT_REGISTERED);
    AK_ENSURE(!d.revoked, AK_E_DEVICE_REVOKED);
    AK_ENSURE(memcmp(d.operator_omni, c->operator_omni.b, 32) == 0, AK_E_DEVICE_BINDING_MISMATCH);
    if (c->op == AK_OP_TEARDOWN) {
        AK_ENSURE(d.tier == AK_DEVICE_TIER_MASTER, AK_E_TEARDOWN_NOT_MASTER);
        if (!own) {
            uint8_t bound_to[32];
            AK_GUARD(s_chain_err(s_rd_actor_operator(&rd, c->actor_omni.b, bound_to)));
            AK_ENSURE(memcmp(bound_to, c->operator_omni.b, 32) == 0, AK_E_DEVICE_BINDING_MISMATCH);
        }
    } else if (d.tier == AK_DEVICE_TIER_MASTER && !own && c->op == AK_OP_STORE) {
        /* D19: a master provisions a credential for an actor bound to its operator. */
        uint8_t bound_to[32];
        AK_GUARD(s_chain_err(s_rd_actor_operator(&rd, c->actor_omni.b, bound_to)));
        AK_ENSURE(memcmp(bound_to, c->operator_omni.b, 32) == 0, AK_E_DEVICE_BINDING_MISMATCH);
    } else if (d.tier == AK_DEVICE_TIER_MASTER) {
        AK_ENSURE(own, AK_E_DEVICE_BINDING_MISMATCH);
    } else {
        AK_ENSURE(d.tier == AK_DEVICE_TIER_AGENT && memcmp(d.actor_omni, c->actor_omni.b, 32) == 0,
                  AK_E_DEVICE_BINDING_MISMATCH);
    }
    AK_ENSURE((d.roles & AK_ROLE_CAP_MINT) != 0, AK_E_DEVICE_ROLE_MISSING);
    if (!own && c->op != AK_OP_TEARDOWN) {
        bool in = false;
        AK_GUARD(sid_rc);
        AK_GUARD(s_chain_err(s_rd_in_scope(&rd, c->operator_omni.b, c->actor_omni.b, sid, &in)));
        AK_ENSURE(in, AK_E_SERVICE_NOT_IN_SCOPE);
    }
    /* readOnly (contracts.md §3): re-checked here, never trusted from the broker: no write
     * (store, teardown) to an actor whose scope is read-only. Own data has no scope. */
    if (!own && (c->op == AK_OP_STORE || c->op == AK_OP_TEARDOWN)) {
        bool ro = false;
        AK_GUARD(s_chain_err(s_rd_read_only(&rd, c->operator_omni.b, c->actor_omni.b, &ro)));
        AK_ENSURE(!ro, AK_E_SCOPE_READ_ONLY);
    }
    uint64_t cur = 0;
    AK_GUARD(s_chain_err(s_rd_epoch(&rd, &cur)));
    AK_ENSURE(cur == (uint64_t)c->k3_epoch, AK_E_K3_EPOCH_MISMATCH);
    return AK_OK;
}

/* ================================================================ the KEK (D6, issue 19) */

/* Sends the derivation of the cap's epoch before the chain reads (ops.derive_kek_send): the
 * signer works on it while the chain answers. Nothing is read back here. */
static void s_kek_pre_send(ak_worker *w, const ak_cap_claims *c) {
    memset(&w->kek_pre, 0, sizeof(w->kek_pre));
    if (w->ops.derive_kek_send == NULL || w->ops.derive_kek_recv == NULL || w->ops.derive_kek_abort == NULL)
        return;
    w->kek_pre.epoch = c->k3_epoch;
    w->kek_pre.operator_omni = c->operator_omni;
    w->kek_pre.actor_omni = c->actor_omni;
    w->kek_pre.rc = w->ops.derive_kek_send(w, &c->operator_omni, &c->actor_omni, c->k3_epoch);
    /* a failed send is this derivation's outcome, reported where the operation asks for it */
    if (w->kek_pre.rc == AK_OK)
        w->kek_pre.sent = true;
    else
        w->kek_pre.have = true;
}

/* End of a request: a reply never read is dropped unread; a KEK read but unused is wiped. */
static void s_kek_pre_end(ak_worker *w) {
    if (w->kek_pre.sent) w->ops.derive_kek_abort(w);
    ak_wipe(&w->kek_pre, sizeof(w->kek_pre));
}

/* The operation's derive: the overlapped one when it is for the same (operator, actor, epoch),
 * otherwise ops.derive_kek. Only ever called after every check passed. */
static ak_err s_derive(ak_worker *w, const ak_omni *op, const ak_omni *actor, uint32_t epoch,
                       uint8_t kek[32]) {
    if (w->kek_pre.sent) {
        w->kek_pre.sent = false;
        w->kek_pre.rc = w->ops.derive_kek_recv(w, w->kek_pre.kek);
        w->kek_pre.have = true;
    }
    if (w->kek_pre.have && epoch == w->kek_pre.epoch && ak_omni_eq(op, &w->kek_pre.operator_omni) &&
        ak_omni_eq(actor, &w->kek_pre.actor_omni)) {
        ak_err rc = w->kek_pre.rc;
        w->kek_pre.have = false;
        if (rc == AK_OK) memcpy(kek, w->kek_pre.kek, 32);
        ak_wipe(w->kek_pre.kek, sizeof(w->kek_pre.kek));
        return rc;
    }
    return w->ops.derive_kek(w, op, actor, epoch, kek);
}

/* ================================================================ audit (D12) */

static uint64_t s_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static ak_audit_action s_action(ak_op op) {
    switch (op) {
        case AK_OP_STORE:
            return AK_AUDIT_STORE;
        case AK_OP_FETCH:
            return AK_AUDIT_FETCH;
        case AK_OP_USE:
            return AK_AUDIT_USE;
        default:
            return AK_AUDIT_TEARDOWN;
    }
}

typedef struct s_kv {
    const char *key;
    ak_cur value;
} s_kv;

/* Writes one event for an operation whose cap verified. */
static ak_err s_audit(ak_worker *w, const ak_worker_req *r, const ak_cap_claims *c, const char *outcome,
                      ak_err reason, const s_kv *extra, size_t n_extra) {
    ak_audit_event ev;
    AK_GUARD(ak_audit_event_init(&ev, s_action(c->op), &c->operator_omni, s_now_us()));
    ev.outcome = ak_cur_from_str(outcome);
    ev.reason = reason;
    ev.has_actor = true;
    ev.actor_omni = c->actor_omni;
    ev.has_device = true;
    memcpy(ev.device_key_hash, c->device_key_hash, 32);
    ev.has_op_class = true;
    ev.op = c->op;
    ev.data_class = c->data_class;
    ev.service = ak_cap_service(c);
    ev.request_id = r->request_id;
    ev.cap_jti = ak_cur_from_str(c->jti);
    for (size_t i = 0; i < n_extra; i++)
        AK_GUARD(ak_audit_event_add_extra(&ev, extra[i].key, extra[i].value));
    return ak_svc_audit_write(&w->svc, 0, &ev);
}

/* Best effort: a failure event after the cap verified (the request fails anyway). */
static void s_audit_failure(ak_worker *w, const ak_worker_req *r, const ak_cap_claims *c, ak_err reason) {
    const char *outcome = (ak_err_status(reason) == 403 || ak_err_status(reason) == 401) ? "denied" : "error";
    ak_err rc = s_audit(w, r, c, outcome, reason, NULL, 0);
    if (rc != AK_OK) ak_log_warn("failure audit event not written", "reason", ak_err_reason(rc));
}

/* ================================================================ operations */

static void s_hex_str(const uint8_t *p, size_t n, char *out) { ak_hex_encode(p, n, out); }

static ak_err s_store(ak_worker *w, const ak_worker_req *r, const ak_sigv4_creds *creds,
                      const ak_cap_claims *c, ak_cur plaintext, const ak_use_policy *policy,
                      ak_worker_resp *resp) {
    uint8_t kek[32];
    ak_buf key, env, framed;
    ak_err rc = AK_OK;
    bool audited = false;
    ak_buf_init(&key, AK_S3_MAX_KEY);
    ak_buf_init(&env, AK_WORKER_MAX_OBJECT);
    ak_buf_init_secret(&framed, AK_MAX_PLAINTEXT);
    ak_env_binding bind = {c->data_class, c->operator_omni, c->actor_omni, ak_cap_service(c)};
    AK_GUARD_OUT(ak_worker_object_key(c->data_class, &c->actor_omni, ak_cap_service(c), &key));
    uint8_t version = AK_ENV_VERSION;
    if (policy != NULL) {
        /* D19: the policy travels inside the sealed plaintext of a 0x05 envelope. */
        AK_ENSURE_OUT(c->data_class == AK_CLASS_CREDENTIALS, AK_E_USE_POLICY_INVALID);
        AK_GUARD_OUT(ak_use_frame(policy, plaintext, &framed));
        plaintext = ak_buf_cur(&framed);
        version = AK_ENV_VERSION_POLICY;
    }
    rc = s_signer_err(s_derive(w, &c->operator_omni, &c->actor_omni, c->k3_epoch, kek));
    if (rc != AK_OK) goto out;
    rc = ak_envelope_seal_version(kek, c->k3_epoch, version, &bind, plaintext, &env);
    ak_wipe(kek, sizeof(kek));
    AK_GUARD_OUT(rc);

    /* D12 before the data: the row names the exact bytes that are about to land. */
    uint8_t h[32];
    char hhex[65];
    ak_sha256(env.ptr, env.len, h);
    s_hex_str(h, 32, hhex);
    s_kv ex[3] = {{"phase", AK_CUR_LIT("before_write")},
                  {"envelope_sha256", ak_cur_from_str(hhex)},
                  {"use_policy", policy == NULL     ? AK_CUR_LIT("")
                                 : policy->use_only ? AK_CUR_LIT("use_only")
                                                    : AK_CUR_LIT("usable")}};
    AK_GUARD_OUT(s_audit(w, r, c, "ok", AK_OK, ex, policy != NULL ? 3 : 2));
    audited = true;

    AK_GUARD_OUT(s_s3_err(w->ops.put(w, creds, ak_buf_cur(&key), ak_buf_cur(&env), (ak_cur){NULL, 0})));
    AK_GUARD_OUT(ak_buf_printf(&resp->body,
                               "{\"ok\":true,\"s3_key\":\"%s\",\"envelope_size\":%zu,\"k3_epoch\":%u}",
                               ak_buf_cstr(&key), env.len, (unsigned)c->k3_epoch));
    resp->status = 200;
out:
    ak_wipe(kek, sizeof(kek));
    if (rc != AK_OK && audited) s_audit_failure(w, r, c, rc);
    ak_buf_free(&key);
    ak_buf_free(&env);
    ak_buf_free(&framed);
    return rc;
}

/* One GET + open (+ re-key) attempt. *retry is set when the write-back lost a race. */
static ak_err s_fetch_once(ak_worker *w, const ak_sigv4_creds *creds, const ak_cap_claims *c, ak_cur key,
                           ak_buf *plain, uint8_t *version, bool *rekeyed, uint32_t *from_epoch,
                           bool *retry) {
    uint8_t kek[32];
    ak_buf blob, etag, fresh;
    ak_err rc = AK_OK;
    uint32_t epoch = 0;
    *retry = false;
    *rekeyed = false;
    ak_buf_init_secret(&blob, AK_WORKER_MAX_OBJECT);
    ak_buf_init(&etag, 256);
    ak_buf_init(&fresh, AK_WORKER_MAX_OBJECT);
    ak_env_binding bind = {c->data_class, c->operator_omni, c->actor_omni, ak_cap_service(c)};

    AK_GUARD_OUT(s_s3_err(w->ops.get(w, creds, key, &blob, &etag)));
    rc = ak_envelope_peek(ak_buf_cur(&blob), &epoch, version);
    if (rc == AK_E_ENVELOPE_TRUNCATED || rc == AK_E_ENVELOPE_VERSION) rc = AK_E_DECRYPT_FAILED;
    AK_GUARD_OUT(rc);
    /* Writes always use the current epoch (D8): a blob claiming a later one was edited (the
     * epoch is in the AAD, so it could not open anyway); do not ask the signer for it. */
    AK_ENSURE_OUT(epoch <= c->k3_epoch, AK_E_DECRYPT_FAILED);
    *from_epoch = epoch;
    rc = s_signer_err(s_derive(w, &c->operator_omni, &c->actor_omni, epoch, kek));
    if (rc != AK_OK) goto out;
    rc = ak_envelope_open_version(kek, epoch, &bind, ak_buf_cur(&blob), plain, version);
    ak_wipe(kek, sizeof(kek));
    AK_GUARD_OUT(rc);
    if (epoch < c->k3_epoch) {
        /* Lazy re-key (D8) before answering, conditional on the object being the one we read. */
        rc = s_signer_err(s_derive(w, &c->operator_omni, &c->actor_omni, c->k3_epoch, kek));
        if (rc != AK_OK) goto out;
        rc = ak_envelope_seal_version(kek, c->k3_epoch, *version, &bind, ak_buf_cur(plain), &fresh);
        ak_wipe(kek, sizeof(kek));
        AK_GUARD_OUT(rc);
        AK_ENSURE_OUT(etag.len > 0, AK_E_S3_ERROR);
        rc = s_s3_err(w->ops.put(w, creds, key, ak_buf_cur(&fresh), ak_s3_etag_unquote(ak_buf_cur(&etag))));
        if (rc == AK_E_PRECONDITION_FAILED || rc == AK_E_CONFLICT) *retry = true;
        AK_GUARD_OUT(rc);
        *rekeyed = true;
    }
out:
    ak_wipe(kek, sizeof(kek));
    if (rc != AK_OK) ak_buf_clear(plain);
    ak_buf_free(&blob);
    ak_buf_free(&etag);
    ak_buf_free(&fresh);
    return rc;
}

static ak_err s_fetch(ak_worker *w, const ak_worker_req *r, const ak_sigv4_creds *creds,
                      const ak_cap_claims *c, ak_worker_resp *resp) {
    ak_buf key, plain, b64;
    ak_err rc = AK_OK;
    bool rekeyed = false, retry = false;
    uint32_t from = 0;
    uint8_t version = 0;
    ak_use_policy policy;
    bool has_policy = false;
    ak_cur secret;
    ak_buf_init(&key, AK_S3_MAX_KEY);
    ak_buf_init_secret(&plain, AK_MAX_PLAINTEXT);
    ak_buf_init_secret(&b64, AK_MAX_PLAINTEXT / 3 * 4 + 8);
    AK_GUARD_OUT(ak_worker_object_key(c->data_class, &c->actor_omni, ak_cap_service(c), &key));
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = s_fetch_once(w, creds, c, ak_buf_cur(&key), &plain, &version, &rekeyed, &from, &retry);
        if (!retry) break;
    }
    if (retry) rc = AK_E_CONFLICT;
    AK_GUARD_OUT(rc);
    secret = ak_buf_cur(&plain);
    if (version == AK_ENV_VERSION_POLICY) {
        /* D19: a use-only credential is never returned in plaintext (the refusal is audited). */
        AK_GUARD_OUT(ak_use_unframe(ak_buf_cur(&plain), &policy, &secret));
        AK_ENSURE_OUT(!policy.use_only, AK_E_USE_ONLY);
        has_policy = true;
    }

    char from_s[16];
    snprintf(from_s, sizeof(from_s), "%u", (unsigned)from);
    s_kv ex[1] = {{"rekeyed_from_epoch", ak_cur_from_str(from_s)}};
    AK_GUARD_OUT(s_audit(w, r, c, "ok", AK_OK, ex, rekeyed ? 1 : 0));

    AK_GUARD_OUT(ak_b64_encode(secret.ptr, secret.len, &b64));
    AK_GUARD_OUT(ak_buf_append_str(&resp->body, "{\"ok\":true,\"plaintext_b64\":\""));
    AK_GUARD_OUT(ak_buf_append_cur(&resp->body, ak_buf_cur(&b64)));
    AK_GUARD_OUT(ak_buf_append_str(&resp->body, "\""));
    if (has_policy) {
        AK_GUARD_OUT(ak_buf_append_str(&resp->body, ",\"policy\":"));
        AK_GUARD_OUT(ak_use_policy_encode(&policy, &resp->body));
    }
    AK_GUARD_OUT(ak_buf_printf(&resp->body, ",\"k3_epoch\":%u,\"rekeyed\":%s}", (unsigned)c->k3_epoch,
                               rekeyed ? "true" : "false"));
    resp->status = 200;
    if (rekeyed) ak_log_info("envelope re-keyed", "from_epoch", from_s);
out:
    if (rc != AK_OK) {
        ak_buf_clear(&resp->body);
        if (rc != AK_E_NOMEM && rc != AK_E_AUDIT_WRITE) s_audit_failure(w, r, c, rc);
    }
    ak_buf_free(&key);
    ak_buf_free(&plain);
    ak_buf_free(&b64);
    return rc;
}

/* ---- use (D19; docs/spec/use-policy.md) ---- */

/* Reserve after the outbound call: the second audit write and the answer. */
#define S_USE_RESERVE_MS 1500

static ak_err s_use_err(ak_err e) {
    switch (e) {
        case AK_OK:
        case AK_E_NOMEM:
        case AK_E_DESTINATION_NOT_ALLOWED:
        case AK_E_UPSTREAM_TIMEOUT:
        case AK_E_INVALID_INPUT:
        case AK_E_CONFIG:
            return e;
        case AK_E_TOO_LARGE:
        case AK_E_LIMIT:
            return AK_E_USE_RESPONSE_TOO_LARGE;
        default:
            return AK_E_UPSTREAM;
    }
}

static ak_err s_use(ak_worker *w, const ak_worker_req *r, const ak_sigv4_creds *creds, const ak_cap_claims *c,
                    const s_body *b, ak_worker_resp *resp) {
    ak_buf key, plain;
    ak_use_call call;
    ak_use_redactor red;
    ak_http_response hr;
    ak_http_header hdrs[AK_USE_MAX_HEADERS + 1];
    ak_use_policy policy;
    ak_err rc = AK_OK;
    bool rekeyed = false, retry = false;
    uint32_t from = 0;
    uint8_t version = 0;
    ak_cur secret = {NULL, 0};
    size_t redactions = 0;
    ak_buf_init(&key, AK_S3_MAX_KEY);
    ak_buf_init_secret(&plain, AK_MAX_PLAINTEXT);
    ak_use_call_init(&call);
    memset(&red, 0, sizeof(red));
    ak_http_response_init(&hr);

    AK_GUARD_OUT(ak_worker_object_key(c->data_class, &c->actor_omni, ak_cap_service(c), &key));
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = s_fetch_once(w, creds, c, ak_buf_cur(&key), &plain, &version, &rekeyed, &from, &retry);
        if (!retry) break;
    }
    if (retry) rc = AK_E_CONFLICT;
    AK_GUARD_OUT(rc);
    AK_ENSURE_OUT(version == AK_ENV_VERSION_POLICY, AK_E_USE_POLICY_MISSING);
    AK_GUARD_OUT(ak_use_unframe(ak_buf_cur(&plain), &policy, &secret));
    AK_GUARD_OUT(ak_use_plan(&policy, secret, b->method, b->url, b->headers, &call));
    AK_GUARD_OUT(ak_use_redactor_init(&red, secret));

    /* D12 before the secret leaves: which host, method and path (never the query). */
    char path[AK_AUDIT_MAX_EXTRA_VALUE + 1];
    size_t pl = call.path.len < AK_AUDIT_MAX_EXTRA_VALUE ? call.path.len : AK_AUDIT_MAX_EXTRA_VALUE;
    memcpy(path, call.path.ptr, pl);
    path[pl] = 0;
    s_kv ex[8] = {{"phase", AK_CUR_LIT("before_call")},
                  {"host", ak_cur_from_str(call.host)},
                  {"method", ak_cur_from_str(call.method)},
                  {"path", ak_cur_from_str(path)}};
    AK_GUARD_OUT(s_audit(w, r, c, "ok", AK_OK, ex, 4));

    for (size_t i = 0; i < call.n_headers; i++)
        hdrs[i] = (ak_http_header){call.names[i], ak_cur_from_str(ak_use_call_value(&call, i))};
    ak_http_request req = {
        .method = call.method,
        .url = ak_buf_cstr(&call.url),
        .headers = hdrs,
        .n_headers = call.n_headers,
        .body = ak_buf_cur(&b->req_body),
        .deadline_ms = w->svc.deadline_ms - S_USE_RESERVE_MS,
        .idempotent = false,
        .max_response = AK_EGRESS_MAX_RESPONSE,
        .body_secret = true,
    };
    AK_ENSURE_OUT(req.deadline_ms > ak_http_now_ms() + (int64_t)AK_HTTP_MIN_ATTEMPT_MS, AK_E_DEADLINE);
    rc = s_use_err(w->ops.egress(w, &req, &hr));
    ak_use_call_free(&call); /* the injected copies of the secret go first */
    AK_GUARD_OUT(rc);

    rc = ak_use_answer(&red, hr.status, ak_buf_cur(&hr.headers), ak_buf_cur(&hr.body), &resp->body,
                       &redactions);
    AK_GUARD_OUT(rc == AK_E_LIMIT ? AK_E_USE_RESPONSE_TOO_LARGE
                                  : rc); /* the answer outgrew the payload cap */
    char st[16], out_s[24], in_s[24], red_s[24];
    snprintf(st, sizeof(st), "%ld", hr.status);
    snprintf(out_s, sizeof(out_s), "%zu", b->req_body.len);
    snprintf(in_s, sizeof(in_s), "%zu", hr.body.len);
    snprintf(red_s, sizeof(red_s), "%zu", redactions);
    ex[0].value = AK_CUR_LIT("after_call");
    ex[4] = (s_kv){"status", ak_cur_from_str(st)};
    ex[5] = (s_kv){"bytes_out", ak_cur_from_str(out_s)};
    ex[6] = (s_kv){"bytes_in", ak_cur_from_str(in_s)};
    ex[7] = (s_kv){"redactions", ak_cur_from_str(red_s)};
    AK_GUARD_OUT(s_audit(w, r, c, "ok", AK_OK, ex, 8));
    resp->status = 200;
    ak_log_info("cred use", "host", call.host, "method", call.method, "status", st, "bytes_in", in_s,
                "redactions", red_s);
out:
    if (rc != AK_OK) {
        ak_buf_clear(&resp->body);
        if (rc != AK_E_NOMEM && rc != AK_E_AUDIT_WRITE) s_audit_failure(w, r, c, rc);
    }
    /* an upstream could echo the secret in a header: the header block is wiped too */
    if (hr.headers.ptr != NULL) ak_wipe(hr.headers.ptr, hr.headers.len);
    ak_http_response_free(&hr);
    ak_use_redactor_free(&red);
    ak_use_call_free(&call);
    ak_buf_free(&key);
    ak_buf_free(&plain);
    memset(&policy, 0, sizeof(policy));
    return rc;
}

/* ---- teardown ---- */

typedef struct s_keys {
    ak_buf text; /* keys, each followed by a NUL */
    ak_buf offs; /* size_t offsets into text */
    size_t n;
    bool more;  /* stopped at AK_WORKER_TEARDOWN_MAX_KEYS */
    ak_err err; /* a local failure inside the callback */
} s_keys;

static ak_err s_collect(void *ud, const ak_s3_list_item *it) {
    s_keys *k = ud;
    if (k->n >= AK_WORKER_TEARDOWN_MAX_KEYS) {
        k->more = true;
        return AK_E_LIMIT;
    }
    size_t off = k->text.len;
    ak_err rc = ak_buf_append_cur(&k->text, it->key);
    if (rc == AK_OK) rc = ak_buf_append_byte(&k->text, 0);
    if (rc == AK_OK) rc = ak_buf_append(&k->offs, &off, sizeof(off));
    if (rc != AK_OK) {
        k->err = rc;
        return rc;
    }
    k->n++;
    return AK_OK;
}

typedef struct s_failures {
    json_t *arr;
    size_t count;
} s_failures;

static void s_on_delete_error(void *ud, ak_cur key, ak_cur code) {
    s_failures *f = ud;
    f->count++;
    if (f->arr == NULL || json_array_size(f->arr) >= AK_WORKER_FAILED_REPORT_MAX) return;
    /* json_object_set_new / json_array_append_new steal their reference even on failure; a
     * key that cannot be reported (not UTF-8, no memory) is still counted. */
    json_t *o = json_object();
    if (o == NULL) return;
    json_object_set_new(o, "key", ak_json_string_cur(key));
    json_object_set_new(o, "code", ak_json_string_cur(code));
    json_array_append_new(f->arr, o);
}

static ak_err s_teardown(ak_worker *w, const ak_worker_req *r, const ak_sigv4_creds *creds,
                         const ak_cap_claims *c, ak_worker_resp *resp) {
    ak_buf prefix;
    s_keys k;
    s_failures f = {json_array(), 0};
    ak_cur *keys = NULL;
    json_t *out = NULL;
    ak_s3_delete_result res = {0, 0};
    ak_err rc = AK_OK, del = AK_OK;
    bool audited = false;
    ak_buf_init(&prefix, 256);
    ak_buf_init(&k.text, (size_t)AK_WORKER_TEARDOWN_MAX_KEYS * (AK_S3_MAX_KEY + 1));
    ak_buf_init(&k.offs, (size_t)AK_WORKER_TEARDOWN_MAX_KEYS * sizeof(size_t));
    k.n = 0;
    k.more = false;
    k.err = AK_OK;
    AK_ENSURE_OUT(f.arr != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(ak_worker_prefix(c->data_class, &c->actor_omni, &prefix));

    /* D9: every page (continuation tokens) before deleting anything. */
    rc = w->ops.list(w, creds, ak_buf_cur(&prefix), s_collect, &k);
    if (rc == AK_E_LIMIT && k.more) rc = AK_OK;
    if (k.err != AK_OK) rc = k.err;
    AK_GUARD_OUT(rc == AK_E_NOMEM ? rc : s_s3_err(rc));

    char n_s[24];
    snprintf(n_s, sizeof(n_s), "%zu", k.n);
    s_kv ex[2] = {{"phase", AK_CUR_LIT("before_delete")}, {"keys_found", ak_cur_from_str(n_s)}};
    AK_GUARD_OUT(s_audit(w, r, c, "ok", AK_OK, ex, 2));
    audited = true;

    if (k.n > 0) {
        keys = ak_malloc(k.n * sizeof(*keys));
        AK_ENSURE_OUT(keys != NULL, AK_E_NOMEM);
        const size_t *offs = (const size_t *)(const void *)k.offs.ptr;
        for (size_t i = 0; i < k.n; i++) {
            const char *s = (const char *)k.text.ptr + offs[i];
            keys[i] = ak_cur_from(s, strlen(s));
        }
        del = w->ops.delete_objects(w, creds, keys, k.n, s_on_delete_error, &f, &res);
        if (del == AK_E_NOMEM) AK_GUARD_OUT(del);
        if (del == AK_E_ACCESS_DENIED && res.deleted == 0 && res.failed == 0) {
            /* The DeleteObjects request itself was refused (Ceph RGW: bucket-ARN check, see
             * ak/worker.h): one DeleteObject per key, every failure still reported. */
            ak_log_info("DeleteObjects refused; deleting key by key");
            bool all_denied = true;
            del = AK_OK;
            for (size_t i = 0; i < k.n; i++) {
                ak_err e = s_s3_err(w->ops.delete_one(w, creds, keys[i]));
                if (e == AK_OK) {
                    res.deleted++;
                    continue;
                }
                AK_ENSURE_OUT(e != AK_E_NOMEM, AK_E_NOMEM);
                if (e != AK_E_ACCESS_DENIED) all_denied = false;
                res.failed++;
                s_on_delete_error(&f, keys[i], ak_cur_from_str(ak_err_reason(e)));
            }
            if (res.failed > 0) del = all_denied ? AK_E_ACCESS_DENIED : AK_E_S3_ERROR;
        }
    }
    bool partial = del != AK_OK || res.failed > 0 || k.more;
    size_t not_attempted = k.n - res.deleted - res.failed;
    if (!partial) {
        out = json_pack("{s:b, s:I, s:O}", "ok", 1, "keys_deleted", (json_int_t)res.deleted, "failed", f.arr);
        AK_ENSURE_OUT(out != NULL, AK_E_NOMEM);
        resp->status = 200;
    } else {
        /* Never skip silently (D9): the answer names what failed and what was not tried. */
        ak_err why = del != AK_OK ? s_s3_err(del) : AK_E_S3_ERROR;
        if (why == AK_E_NOT_FOUND || why == AK_E_PRECONDITION_FAILED || why == AK_E_CONFLICT)
            why = AK_E_S3_ERROR;
        out = json_pack("{s:s, s:s, s:b, s:I, s:O, s:I, s:I, s:b}", "error", ak_err_message(why), "reason",
                        ak_err_reason(why), "ok", 0, "keys_deleted", (json_int_t)res.deleted, "failed", f.arr,
                        "failed_count", (json_int_t)f.count, "not_attempted", (json_int_t)not_attempted,
                        "more", k.more ? 1 : 0);
        AK_ENSURE_OUT(out != NULL, AK_E_NOMEM);
        resp->status = ak_err_status(why) == 403 ? 403 : 502;
        s_audit_failure(w, r, c, why);
    }
    AK_GUARD_OUT(ak_json_dump(out, &resp->body));
    {
        char d_s[24];
        snprintf(d_s, sizeof(d_s), "%zu", res.deleted);
        ak_log_info("teardown", "keys_found", n_s, "keys_deleted", d_s, "partial",
                    partial ? "true" : "false");
    }
out:
    if (rc != AK_OK && audited) s_audit_failure(w, r, c, rc);
    if (out) json_decref(out);
    if (f.arr) json_decref(f.arr);
    ak_free(keys);
    ak_buf_free(&prefix);
    ak_buf_free(&k.text);
    ak_buf_free(&k.offs);
    return rc;
}

/* ================================================================ the pipeline */

ak_err ak_worker_handle(ak_worker *w, const ak_worker_req *r, ak_worker_resp *resp) {
    AK_PRECOND(w != NULL && r != NULL && resp != NULL);
    ak_sigv4_creds creds;
    ak_cap_claims claims;
    s_body body;
    ak_err rc = AK_OK;
    bool verified = false;
    memset(&claims, 0, sizeof(claims));
    s_body_init(&body);
    ak_svc_begin(&w->svc, r->deadline_ms);
    ak_buf_clear(&resp->body);
    resp->status = 200;

    /* 1. STS headers, before the body is even parsed (D11). */
    AK_GUARD_OUT(s_sts_creds(w, r, &creds));
    /* 2. body */
    AK_GUARD_OUT(s_parse_body(r->op, r->body, &body));
    /* 3. cap: signature, freshness, op, class, PoP */
    AK_GUARD_OUT(s_cap_keys(w, body.cap));
    ak_cap_expect ex = {
        .op = r->op, .data_class = w->data_class, .now = r->now ? r->now : (uint64_t)time(NULL)};
    AK_GUARD_OUT(ak_cap_verify_cached(body.cap, &w->cap_keys, &ex, &w->cap_cache, &claims));
    verified = true;
    w->req_cap = body.cap;
    w->req_op = r->op;
    /* 4. chain, the KEK derivation in flight meanwhile (issue 19; read only after 4 passed) */
    if (r->op != AK_OP_TEARDOWN) s_kek_pre_send(w, &claims);
    AK_GUARD_OUT(s_chain_check(w, &claims));
    /* 5. the operation (each audits itself) */
    verified = false;
    switch (r->op) {
        case AK_OP_STORE:
            rc = s_store(w, r, &creds, &claims, ak_buf_cur(&body.plaintext),
                         body.has_policy ? &body.policy : NULL, resp);
            break;
        case AK_OP_FETCH:
            rc = s_fetch(w, r, &creds, &claims, resp);
            break;
        case AK_OP_USE:
            rc = s_use(w, r, &creds, &claims, &body, resp);
            break;
        default:
            rc = s_teardown(w, r, &creds, &claims, resp);
            break;
    }
out:
    if (rc != AK_OK) {
        ak_buf_clear(&resp->body);
        /* A refusal by the chain (the cap itself was genuine): record it for the operator. */
        if (verified && rc != AK_E_NOMEM) s_audit_failure(w, r, &claims, rc);
        ak_log_info("worker refused", "op", ak_op_str(r->op), "class", ak_data_class_str(w->data_class),
                    "reason", ak_err_reason(rc));
    } else {
        char st[8];
        snprintf(st, sizeof(st), "%d", resp->status);
        ak_log_info("worker done", "op", ak_op_str(r->op), "class", ak_data_class_str(w->data_class),
                    "status", st);
    }
    s_kek_pre_end(w);
    w->req_cap = (ak_cur){NULL, 0};
    s_body_free(&body);
    ak_wipe(&creds, sizeof(creds));
    memset(&claims, 0, sizeof(claims));
    return rc;
}
