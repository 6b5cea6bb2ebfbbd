/* audit.c — audit events, pending keys and Merkle batches (D12, D13; see ak/audit.h). */
#include "ak/audit.h"

#include <string.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/json.h"

static const char *const s_actions[] = {"login",          "cap_mint",     "store",
                                        "fetch",          "teardown",     "mint_oidc_jwt",
                                        "mint_aws_creds", "mail_receive", "use"};

/* ------------------------------------------------------------------ events */

ak_err ak_audit_event_init(ak_audit_event *ev, ak_audit_action action, const ak_omni *operator_omni,
                           uint64_t now_us) {
    AK_PRECOND(ev != NULL && operator_omni != NULL);
    AK_PRECOND((unsigned)action < sizeof(s_actions) / sizeof(s_actions[0]));
    memset(ev, 0, sizeof(*ev));
    /* The id's first half is the time in fixed width, so ids sort by time (S3 lists keys in
     * UTF-8 binary order); 16 digits of microseconds last until the year 2286. */
    AK_ENSURE(now_us < 10000000000000000ull, AK_E_INTERNAL);
    uint8_t rnd[8];
    AK_GUARD(ak_random(rnd, sizeof(rnd)));
    uint64_t v = now_us;
    for (int i = 15; i >= 0; i--) {
        ev->event_id[i] = (char)('0' + v % 10u);
        v /= 10u;
    }
    ev->event_id[16] = '-';
    ak_hex_encode(rnd, sizeof(rnd), ev->event_id + 17);
    ev->ts_us = now_us;
    ev->action = action;
    ev->operator_omni = *operator_omni;
    ev->outcome = AK_CUR_LIT("ok");
    ev->reason = AK_OK;
    return AK_OK;
}

static bool s_printable(ak_cur c, size_t max) {
    if (c.len > max) return false;
    for (size_t i = 0; i < c.len; i++)
        if (c.ptr[i] < 0x20 || c.ptr[i] > 0x7e) return false;
    return true;
}

static bool s_word(ak_cur c, size_t max) {
    if (c.len == 0 || c.len > max) return false;
    for (size_t i = 0; i < c.len; i++) {
        uint8_t ch = c.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
    }
    return true;
}

ak_err ak_audit_event_add_extra(ak_audit_event *ev, const char *key, ak_cur value) {
    AK_PRECOND(ev != NULL && key != NULL);
    ak_cur k = ak_cur_from_str(key);
    AK_ENSURE(s_word(k, 32), AK_E_INVALID_INPUT);
    AK_ENSURE(s_printable(value, AK_AUDIT_MAX_EXTRA_VALUE), AK_E_INVALID_INPUT);
    for (size_t i = 0; i < ev->n_extra; i++)
        AK_ENSURE(strcmp(ev->extra[i].key, key) != 0, AK_E_INVALID_INPUT);
    AK_ENSURE(ev->n_extra < AK_AUDIT_MAX_EXTRA, AK_E_LIMIT);
    memcpy(ev->extra[ev->n_extra].key, key, k.len + 1);
    ev->extra[ev->n_extra].value = value;
    ev->n_extra++;
    return AK_OK;
}

void ak_audit_token_hash(ak_cur token, uint8_t out[32]) { ak_sha256(token.ptr, token.len, out); }

static ak_err s_validate(const ak_audit_event *ev) {
    AK_ENSURE((unsigned)ev->action < sizeof(s_actions) / sizeof(s_actions[0]), AK_E_INVALID_INPUT);
    AK_ENSURE(strlen(ev->event_id) == AK_AUDIT_EVENT_ID_LEN, AK_E_INVALID_INPUT);
    AK_ENSURE(s_word(ev->outcome, 32), AK_E_INVALID_INPUT);
    AK_ENSURE((unsigned)ev->reason < (unsigned)AK_E__COUNT, AK_E_INVALID_INPUT);
    AK_ENSURE((unsigned)ev->session_kind <= AK_SESSION_AGENT, AK_E_INVALID_INPUT);
    bool needs_op = ev->action == AK_AUDIT_CAP_MINT || ev->action == AK_AUDIT_STORE ||
                    ev->action == AK_AUDIT_FETCH || ev->action == AK_AUDIT_TEARDOWN ||
                    ev->action == AK_AUDIT_USE;
    AK_ENSURE(!needs_op || ev->has_op_class, AK_E_INVALID_INPUT);
    if (ev->has_op_class) {
        AK_ENSURE((unsigned)ev->op <= AK_OP_USE, AK_E_INVALID_INPUT);
        AK_ENSURE((unsigned)ev->data_class <= AK_CLASS_MAIL, AK_E_INVALID_INPUT);
    }
    if (ev->service.len) {
        if (ev->has_op_class && ev->data_class == AK_CLASS_MEMORY)
            AK_GUARD(ak_namespace_validate(ev->service));
        else
            AK_GUARD(ak_service_validate(ev->service));
    }
    AK_ENSURE(s_printable(ev->request_id, 128), AK_E_INVALID_INPUT);
    AK_ENSURE(s_printable(ev->cap_jti, 64), AK_E_INVALID_INPUT);
    AK_ENSURE(ev->n_extra <= AK_AUDIT_MAX_EXTRA, AK_E_INVALID_INPUT);
    for (size_t i = 0; i < ev->n_extra; i++) {
        AK_ENSURE(s_word(ak_cur_from_str(ev->extra[i].key), 32), AK_E_INVALID_INPUT);
        AK_ENSURE(s_printable(ev->extra[i].value, AK_AUDIT_MAX_EXTRA_VALUE), AK_E_INVALID_INPUT);
    }
    return AK_OK;
}

/*
 * The canonical writer. It emits what ak_json_dump_sorted (jansson, JSON_COMPACT |
 * JSON_SORT_KEYS) emits for the same object — ak_audit_event_check relies on that, and the
 * tests check it — but by hand, because jansson 2.14's dumper ignores a failed append of an
 * object key (dump.c: `dump_string(key, …)` unchecked) and can return success with a byte
 * missing under memory pressure: canonical bytes must never be silently wrong. Every string
 * is printable ASCII (s_validate), so the only escapes jansson would make are \" and \\.
 */
typedef struct s_writer {
    ak_buf *out;
    ak_err rc;
    bool first;
} s_writer;

static void s_raw(s_writer *w, const void *p, size_t n) {
    if (w->rc == AK_OK) w->rc = ak_buf_append(w->out, p, n);
}

static void s_str(s_writer *w, ak_cur c) {
    s_raw(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < c.len; i++) {
        if (c.ptr[i] == '"' || c.ptr[i] == '\\') {
            s_raw(w, c.ptr + run, i - run);
            s_raw(w, "\\", 1);
            run = i;
        }
    }
    s_raw(w, c.ptr + run, c.len - run);
    s_raw(w, "\"", 1);
}

static void s_key(s_writer *w, const char *k) {
    s_raw(w, w->first ? "" : ",", w->first ? 0 : 1);
    w->first = false;
    s_str(w, ak_cur_from_str(k));
    s_raw(w, ":", 1);
}

static void s_kv(s_writer *w, const char *k, ak_cur v) {
    s_key(w, k);
    s_str(w, v);
}

static void s_kv_opt(s_writer *w, const char *k, ak_cur v) {
    if (v.len) s_kv(w, k, v); /* optional members are omitted, never null */
}

static void s_kv_hex0x(s_writer *w, const char *k, const uint8_t *b, size_t n) {
    char hex[2 + 64 + 1];
    hex[0] = '0';
    hex[1] = 'x';
    ak_hex_encode(b, n, hex + 2);
    s_kv(w, k, ak_cur_from(hex, 2 + 2 * n));
}

static void s_kv_u64(s_writer *w, const char *k, uint64_t v) {
    s_key(w, k);
    if (w->rc == AK_OK) w->rc = ak_buf_append_u64(w->out, v);
}

static void s_extras(s_writer *w, const ak_audit_event *ev) {
    /* Sorted by key, bytewise (strcmp), like JSON_SORT_KEYS; at most AK_AUDIT_MAX_EXTRA. */
    size_t order[AK_AUDIT_MAX_EXTRA];
    for (size_t i = 0; i < ev->n_extra; i++) {
        size_t j = i;
        while (j > 0 && strcmp(ev->extra[order[j - 1]].key, ev->extra[i].key) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    s_key(w, "extra");
    s_raw(w, "{", 1);
    w->first = true;
    for (size_t i = 0; i < ev->n_extra; i++)
        s_kv(w, ev->extra[order[i]].key, ev->extra[order[i]].value);
    s_raw(w, "}", 1);
    w->first = false;
}

/* Members in bytewise key order (the list in ak/audit.h, sorted). */
static void s_write(s_writer *w, const ak_audit_event *ev) {
    s_raw(w, "{", 1);
    w->first = true;
    s_kv(w, "action", ak_cur_from_str(s_actions[ev->action]));
    if (ev->has_actor) s_kv_hex0x(w, "actor_omni", ev->actor_omni.b, 32);
    s_kv_opt(w, "cap_jti", ev->cap_jti);
    if (ev->has_op_class) s_kv(w, "data_class", ak_cur_from_str(ak_data_class_str(ev->data_class)));
    if (ev->has_device) s_kv_hex0x(w, "device_key_hash", ev->device_key_hash, 32);
    s_kv(w, "event_id", ak_cur_from_str(ev->event_id));
    if (ev->n_extra) s_extras(w, ev);
    if (ev->has_op_class) s_kv(w, "op", ak_cur_from_str(ak_op_str(ev->op)));
    s_kv_hex0x(w, "operator_omni", ev->operator_omni.b, 32);
    s_kv(w, "outcome", ev->outcome);
    if (ev->reason != AK_OK) s_kv(w, "reason", ak_cur_from_str(ak_err_reason(ev->reason)));
    s_kv_opt(w, "request_id", ev->request_id);
    s_kv_opt(w, "service", ev->service);
    if (ev->session_kind != AK_SESSION_NONE)
        s_kv(w, "session_kind",
             ev->session_kind == AK_SESSION_MASTER ? AK_CUR_LIT("master") : AK_CUR_LIT("agent"));
    if (ev->has_token_hash) s_kv_hex0x(w, "token_sha256", ev->token_sha256, 32);
    s_kv_u64(w, "ts_us", ev->ts_us);
    s_kv_u64(w, "v", 1);
    if (ev->has_wallet) s_kv_hex0x(w, "wallet", ev->wallet, 20);
    s_raw(w, "}", 1);
}

ak_err ak_audit_event_encode(const ak_audit_event *ev, ak_buf *out) {
    AK_PRECOND(ev != NULL && out != NULL);
    AK_GUARD(s_validate(ev));
    size_t start = out->len;
    s_writer w = {out, AK_OK, true};
    s_write(&w, ev);
    if (w.rc == AK_OK && out->len - start > AK_MAX_AUDIT_EVENT) w.rc = AK_E_LIMIT;
    if (w.rc != AK_OK && out->ptr != NULL) {
        out->len = start;
        out->ptr[start] = 0;
    }
    return w.rc;
}

ak_err ak_audit_pending_prefix(const ak_omni *operator_omni, ak_buf *out) {
    AK_PRECOND(operator_omni != NULL && out != NULL);
    char hex[AK_OMNI_HEX_LEN + 1];
    ak_omni_hex(operator_omni, hex);
    return ak_buf_printf(out, "audit/pending/%s/", hex);
}

ak_err ak_audit_pending_key(const ak_audit_event *ev, ak_buf *out) {
    AK_PRECOND(ev != NULL && out != NULL);
    AK_ENSURE(strlen(ev->event_id) == AK_AUDIT_EVENT_ID_LEN, AK_E_INVALID_INPUT);
    char hex[AK_OMNI_HEX_LEN + 1];
    ak_omni_hex(&ev->operator_omni, hex);
    return ak_buf_printf(out, "audit/pending/%s/%s.json", hex, ev->event_id);
}

ak_err ak_audit_event_check(ak_cur stored, const ak_omni *operator_omni) {
    AK_PRECOND(operator_omni != NULL);
    AK_ENSURE(stored.len <= AK_MAX_AUDIT_EVENT, AK_E_INVALID_EVENT);
    for (size_t i = 0; i < stored.len; i++)
        AK_ENSURE(stored.ptr[i] >= 0x20 && stored.ptr[i] <= 0x7e, AK_E_INVALID_EVENT);
    json_t *o = NULL;
    ak_buf again;
    ak_buf_init(&again, AK_MAX_AUDIT_EVENT);
    ak_err rc = AK_OK;
    AK_GUARD_OUT(ak_json_parse_object(stored, &o) == AK_OK ? AK_OK : AK_E_INVALID_EVENT);
    /* Canonical means: what we would write for this object is byte for byte what is stored. */
    AK_GUARD_OUT(ak_json_dump_sorted(o, &again) == AK_OK ? AK_OK : AK_E_INVALID_EVENT);
    AK_ENSURE_OUT(ak_cur_eq(ak_buf_cur(&again), stored), AK_E_INVALID_EVENT);
    uint64_t v = 0;
    AK_ENSURE_OUT(ak_json_u64(o, "v", &v) == AK_OK && v == 1, AK_E_INVALID_EVENT);
    ak_cur op;
    AK_ENSURE_OUT(ak_json_str(o, "operator_omni", &op) == AK_OK, AK_E_INVALID_EVENT);
    char want[AK_OMNI_HEX0X_LEN + 1];
    ak_omni_hex0x(operator_omni, want);
    AK_ENSURE_OUT(ak_cur_eq_str(op, want), AK_E_INVALID_EVENT);
out:
    json_decref(o);
    ak_buf_free(&again);
    return rc;
}

/* ------------------------------------------------------------------ Merkle */

void ak_merkle_leaf_hash(ak_cur data, uint8_t out[32]) {
    /* CredentialAudit.leafHash: keccak256(abi.encodePacked(bytes1(0x00), leafData)) */
    static const uint8_t zero = 0x00;
    ak_keccak_ctx k;
    ak_keccak256_init(&k);
    ak_keccak256_update(&k, &zero, 1);
    ak_keccak256_update(&k, data.ptr, data.len);
    ak_keccak256_final(&k, out);
}

void ak_merkle_node_hash(const uint8_t a[32], const uint8_t b[32], uint8_t out[32]) {
    /* CredentialAudit.nodeHash: bytes32 `a < b` is unsigned big-endian, i.e. memcmp order. */
    uint8_t in[65];
    in[0] = 0x01;
    bool a_first = memcmp(a, b, 32) < 0;
    memcpy(in + 1, a_first ? a : b, 32);
    memcpy(in + 33, a_first ? b : a, 32);
    ak_keccak256(in, sizeof(in), out);
}

ak_err ak_merkle_init(ak_merkle *t, size_t n) {
    AK_PRECOND(t != NULL);
    memset(t, 0, sizeof(*t));
    AK_ENSURE(n >= 1 && n <= AK_MAX_AUDIT_BATCH, AK_E_INVALID_INPUT);
    size_t total = 0, len = n, lv = 0;
    for (;;) {
        t->level_off[lv] = total;
        t->level_len[lv] = len;
        total += len;
        lv++;
        if (len == 1) break;
        len = (len + 1) / 2;
    }
    t->n_levels = lv;
    t->n_leaves = n;
    t->nodes = ak_malloc(total * 32);
    AK_ENSURE(t->nodes != NULL, AK_E_NOMEM);
    return AK_OK;
}

void ak_merkle_set_leaf(ak_merkle *t, size_t i, ak_cur data) {
    AK_PRECOND(t != NULL && t->nodes != NULL && i < t->n_leaves);
    ak_merkle_leaf_hash(data, t->nodes[i]);
}

void ak_merkle_set_leaf_hash(ak_merkle *t, size_t i, const uint8_t leaf_node[32]) {
    AK_PRECOND(t != NULL && t->nodes != NULL && i < t->n_leaves);
    memcpy(t->nodes[i], leaf_node, 32);
}

void ak_merkle_build(ak_merkle *t) {
    AK_PRECOND(t != NULL && t->nodes != NULL);
    for (size_t lv = 0; lv + 1 < t->n_levels; lv++) {
        uint8_t(*cur)[32] = t->nodes + t->level_off[lv];
        uint8_t(*up)[32] = t->nodes + t->level_off[lv + 1];
        size_t len = t->level_len[lv];
        for (size_t j = 0; j < len; j += 2) {
            /* audit.md §3 / CredentialAudit: an odd level pairs its last node with itself. */
            const uint8_t *right = (j + 1 < len) ? cur[j + 1] : cur[j];
            ak_merkle_node_hash(cur[j], right, up[j / 2]);
        }
    }
    t->built = true;
}

const uint8_t *ak_merkle_root(const ak_merkle *t) {
    AK_PRECOND(t != NULL && t->built);
    return t->nodes[t->level_off[t->n_levels - 1]];
}

size_t ak_merkle_proof_len(const ak_merkle *t) {
    AK_PRECOND(t != NULL && t->n_levels >= 1);
    return t->n_levels - 1;
}

ak_err ak_merkle_proof(const ak_merkle *t, size_t i, uint8_t (*proof)[32], size_t cap) {
    AK_PRECOND(t != NULL && t->built && i < t->n_leaves);
    size_t n = t->n_levels - 1;
    AK_ENSURE(cap >= n, AK_E_LIMIT);
    AK_PRECOND(n == 0 || proof != NULL);
    for (size_t lv = 0; lv < n; lv++) {
        const uint8_t(*cur)[32] = (const uint8_t(*)[32])(t->nodes + t->level_off[lv]);
        size_t len = t->level_len[lv];
        size_t sib = (i % 2 == 1) ? i - 1 : (i + 1 < len ? i + 1 : i);
        memcpy(proof[lv], cur[sib], 32);
        i /= 2;
    }
    return AK_OK;
}

void ak_merkle_free(ak_merkle *t) {
    if (t == NULL) return;
    ak_free(t->nodes);
    memset(t, 0, sizeof(*t));
}

bool ak_merkle_verify(const uint8_t root[32], const uint8_t (*proof)[32], size_t proof_len, ak_cur data) {
    AK_PRECOND(root != NULL && (proof_len == 0 || proof != NULL));
    uint8_t c[32];
    ak_merkle_leaf_hash(data, c);
    for (size_t k = 0; k < proof_len; k++)
        ak_merkle_node_hash(c, proof[k], c);
    return memcmp(c, root, 32) == 0;
}
