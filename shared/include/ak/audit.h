/*
 * ak/audit.h — audit events and their Merkle batches (decisions D12, D13; audit.md §3).
 * Pure: the broker/worker writes the encoded event to S3 itself, the flush lists and deletes.
 *
 * 1. Events. Every broker mint and every worker operation fills an ak_audit_event and writes
 *    ak_audit_event_encode() bytes to S3 at ak_audit_pending_key() BEFORE answering success
 *    (no audit, no access); if that PUT fails, the operation fails with AK_E_AUDIT_WRITE.
 *
 *    Canonical encoding (what is stored and what is hashed): one JSON object, compact (no
 *    whitespace), keys sorted bytewise at every level, ASCII only (every string we put in is
 *    checked to be printable ASCII 0x20–0x7e, so the only escapes are \" and \\), integers as
 *    JSON numbers, optional members omitted rather than null. These are exactly the bytes
 *    ak_json_dump_sorted (jansson JSON_COMPACT|JSON_SORT_KEYS) gives for the same object, which
 *    is how ak_audit_event_check recognises them; the encoder writes them by hand because
 *    jansson 2.14's dumper can drop a byte under memory pressure and still report success.
 *    Members:
 *
 *      v               1 (this schema)
 *      event_id        "<16-digit zero-padded microseconds>-<16 lowercase hex random>"
 *      ts_us           microseconds since the Unix epoch
 *      action          "login" | "cap_mint" | "store" | "fetch" | "teardown" |
 *                      "mint_oidc_jwt" | "mint_aws_creds" | "mail_receive" | "use"
 *      outcome         "ok" or a failure word, [a-z0-9_]{1,32} (D13: ok, auth_failed,
 *                      backend_error, sts_error; elsewhere e.g. "denied", "error")
 *      operator_omni   "0x" + 64 lowercase hex (always)
 *      actor_omni      "0x" + 64 hex            (optional)
 *      wallet          "0x" + 40 lowercase hex  (optional; the session wallet / K10 address)
 *      device_key_hash "0x" + 64 hex            (optional)
 *      session_kind    "master" | "agent"       (optional)
 *      op, data_class  ak_op_str / ak_data_class_str (optional; required for cap_mint and the
 *                      worker actions store/fetch/teardown/use)
 *      service         service name or memory namespace, D3 grammar (optional)
 *      reason          ak_err_reason() of the failure (omitted when AK_OK)
 *      request_id      Lambda request id, printable ASCII ≤ 128 (optional)
 *      cap_jti         the cap's jti (optional)
 *      token_sha256    "0x" + sha256 hex of the bearer token (optional; never the token)
 *      extra           object of up to AK_AUDIT_MAX_EXTRA string members (D13:
 *                      requested_role, session_name, sts_actor_omni, …); keys [a-z0-9_]{1,32},
 *                      values printable ASCII ≤ 256 bytes (optional)
 *
 *    Pending object key: audit/pending/<operator_hex>/<event_id>.json (operator_hex bare
 *    lowercase, D9/D12). event_ids sort by time within an operator's prefix, so a flush lists
 *    them in order; the random half keeps concurrent writers from colliding (the writer should
 *    still PUT with If-None-Match: *).
 *
 * 2. Batches. The flush hashes the stored object bytes as they are (never re-serialised):
 *      leaf node  = keccak256(0x00 ‖ event bytes)
 *      inner node = keccak256(0x01 ‖ min(a,b) ‖ max(a,b))   (bytewise unsigned order)
 *      odd level  : the last node is paired with ITSELF (its proof element is its own hash)
 *    exactly as contracts/src/CredentialAudit.sol (leafHash, nodeHash, verifyProof, whose
 *    leafData is the event bytes). A proof is the list of siblings from the leaf level up; it
 *    does not carry the index (sorted pairs make it unnecessary). Empty batches are not built.
 *    ak_merkle keeps every level (≤ 2N+log2 N nodes of 32 bytes: 64 MiB for 1M events) and
 *    hands out each leaf's proof on demand, so writing N proofs needs O(N) memory.
 */
#ifndef AK_AUDIT_H
#define AK_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ak/bytes.h"
#include "ak/identity.h"
#include "ak/limits.h"

#define AK_AUDIT_EVENT_ID_LEN 33u /* 16 digits + '-' + 16 hex */
#define AK_AUDIT_MAX_EXTRA 8u
#define AK_AUDIT_MAX_EXTRA_VALUE 256u
#define AK_MERKLE_MAX_DEPTH 23u /* levels of a tree of AK_MAX_AUDIT_BATCH leaves: log2(4M) + 1 */

typedef enum ak_audit_action {
    AK_AUDIT_LOGIN = 0,
    AK_AUDIT_CAP_MINT,
    AK_AUDIT_STORE,
    AK_AUDIT_FETCH,
    AK_AUDIT_TEARDOWN,
    AK_AUDIT_MINT_OIDC_JWT,
    AK_AUDIT_MINT_AWS_CREDS,
    AK_AUDIT_MAIL_RECEIVE,
    AK_AUDIT_USE, /* D19: a /v1/cred/use call (docs/spec/use-policy.md §5) */
} ak_audit_action;

typedef enum ak_session_kind {
    AK_SESSION_NONE = 0, /* member omitted */
    AK_SESSION_MASTER,
    AK_SESSION_AGENT,
} ak_session_kind;

typedef struct ak_audit_extra {
    char key[33];
    ak_cur value; /* borrowed: must outlive the encode call */
} ak_audit_extra;

/* Fill with ak_audit_event_init(), set the fields that apply, then encode. ak_cur members are
 * borrowed (not copied) and may be left empty ({NULL,0}) to omit them. */
typedef struct ak_audit_event {
    char event_id[AK_AUDIT_EVENT_ID_LEN + 1]; /* set by ak_audit_event_init */
    uint64_t ts_us;                           /* set by ak_audit_event_init */
    ak_audit_action action;
    ak_cur outcome;        /* required: "ok" or a failure word */
    ak_err reason;         /* AK_OK omits the member */
    ak_omni operator_omni; /* required */
    bool has_actor;
    ak_omni actor_omni;
    bool has_wallet;
    uint8_t wallet[20];
    bool has_device;
    uint8_t device_key_hash[32];
    ak_session_kind session_kind;
    bool has_op_class; /* op and data_class below are set */
    ak_op op;
    ak_data_class data_class;
    ak_cur service;
    ak_cur request_id;
    ak_cur cap_jti;
    bool has_token_hash;
    uint8_t token_sha256[32]; /* ak_audit_token_hash() */
    size_t n_extra;
    ak_audit_extra extra[AK_AUDIT_MAX_EXTRA];
} ak_audit_event;

/* Zeroes the event, sets ts_us = now_us, action, operator, outcome "ok", and a fresh
 * event_id (ak_random). Returns AK_E_INTERNAL if the CSPRNG fails or now_us does not fit 16
 * decimal digits. */
AK_MUST ak_err ak_audit_event_init(ak_audit_event *ev, ak_audit_action action, const ak_omni *operator_omni,
                                   uint64_t now_us);
/* Adds one extra member (key [a-z0-9_]{1,32}, unique; value printable ASCII ≤ 256 bytes,
 * borrowed). AK_E_INVALID_INPUT for a bad key/value or a duplicate, AK_E_LIMIT when full. */
AK_MUST ak_err ak_audit_event_add_extra(ak_audit_event *ev, const char *key, ak_cur value);
/* sha256 of a bearer token, for token_sha256 (D13). */
void ak_audit_token_hash(ak_cur token, uint8_t out[32]);
/* Appends the canonical bytes (see top) to `out`. Validates first: AK_E_INVALID_INPUT when a
 * string member is not printable ASCII / too long / outcome not [a-z0-9_]{1,32}, when
 * cap_mint/store/fetch/teardown lack op+data_class; AK_E_INVALID_SERVICE / _NAMESPACE for a
 * bad service name. AK_E_LIMIT above AK_MAX_AUDIT_EVENT or `out`'s ceiling; AK_E_NOMEM. */
AK_MUST ak_err ak_audit_event_encode(const ak_audit_event *ev, ak_buf *out);
/* Appends "audit/pending/<operator_hex>/<event_id>.json". */
AK_MUST ak_err ak_audit_pending_key(const ak_audit_event *ev, ak_buf *out);
/* Prefix of one operator's pending events: "audit/pending/<operator_hex>/". */
AK_MUST ak_err ak_audit_pending_prefix(const ak_omni *operator_omni, ak_buf *out);
/* Flush-side check of a stored pending object: a JSON object in exactly the canonical form
 * (re-encoding it gives the same bytes), v == 1, whose operator_omni equals `operator_omni`.
 * Returns AK_E_INVALID_EVENT otherwise (the flush should report and skip it, not hash it). */
AK_MUST ak_err ak_audit_event_check(ak_cur stored, const ak_omni *operator_omni);

/* ---- Merkle batches ---- */

/* keccak256(0x00 ‖ data) */
void ak_merkle_leaf_hash(ak_cur data, uint8_t out[32]);
/* keccak256(0x01 ‖ min(a,b) ‖ max(a,b)) */
void ak_merkle_node_hash(const uint8_t a[32], const uint8_t b[32], uint8_t out[32]);

typedef struct ak_merkle {
    size_t n_leaves;
    size_t n_levels;                           /* levels including the leaf level and the root */
    size_t level_off[AK_MERKLE_MAX_DEPTH + 1]; /* index of each level's first node in `nodes` */
    size_t level_len[AK_MERKLE_MAX_DEPTH + 1];
    uint8_t (*nodes)[32]; /* all levels, leaves first; ak_malloc'd */
    bool built;
} ak_merkle;

/* Allocates a tree for n leaves (1..AK_MAX_AUDIT_BATCH). AK_E_INVALID_INPUT for 0 or more,
 * AK_E_NOMEM. Always pair with ak_merkle_free (safe on a failed init). */
AK_MUST ak_err ak_merkle_init(ak_merkle *t, size_t n);
/* Sets leaf i from the event bytes (hashes them: leaf node = keccak256(0x00 ‖ data)). */
void ak_merkle_set_leaf(ak_merkle *t, size_t i, ak_cur data);
/* Sets leaf i from an already computed leaf node hash. */
void ak_merkle_set_leaf_hash(ak_merkle *t, size_t i, const uint8_t leaf_node[32]);
/* Computes every level above the leaves (every leaf must have been set). */
void ak_merkle_build(ak_merkle *t);
/* The root (after build). For one leaf, the root is that leaf's node hash. */
const uint8_t *ak_merkle_root(const ak_merkle *t);
/* Number of proof elements for leaf i (the same for every leaf: levels - 1). */
size_t ak_merkle_proof_len(const ak_merkle *t);
/* Writes leaf i's proof (ak_merkle_proof_len elements) into `proof`, which holds `cap`
 * elements. AK_E_LIMIT when cap is too small; misuse (i out of range, not built) aborts. */
AK_MUST ak_err ak_merkle_proof(const ak_merkle *t, size_t i, uint8_t (*proof)[32], size_t cap);
void ak_merkle_free(ak_merkle *t);

/* CredentialAudit.verifyProof: true iff folding `proof` over the leaf node of `data` gives
 * `root`. */
bool ak_merkle_verify(const uint8_t root[32], const uint8_t (*proof)[32], size_t proof_len, ak_cur data);

#endif
