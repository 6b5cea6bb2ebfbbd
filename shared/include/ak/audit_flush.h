/*
 * ak/audit_flush.h — the audit flush (decisions D12; audit.md §3-4; issue 9): pending events
 * -> one Merkle batch per operator and run, with every leaf's proof, then the pending objects
 * are deleted. Also the proof lookup behind GET /v1/audit/proof. Full design, object formats
 * and the crash-safety argument: functions/audit-flush/README.md.
 *
 * Objects (all in AK_AUDIT_BUCKET, <op> = the operator's bare lowercase omni hex):
 *   audit/pending/<op>/<event_id>.json   written by the broker and workers (ak/audit.h)
 *   audit/batches/<op>/<batch_id>.json   one batch: root, count, every leaf with its pending
 *                                        key, event bytes, leaf hash and proof (If-None-Match)
 *   audit/index/<op>/<event_id>.json     one per event: batch key, leaf, proof, root, event
 *   audit/flushing/<op>.json             the operator's flush lease and intent record
 *
 * batch_id = "<ts16>-<h32>": ts16 is the first (smallest) event id's 16-digit microsecond
 * prefix, h32 the first 16 bytes (hex) of keccak256 over the sorted pending keys each followed
 * by '\n'. The same set of events always gets the same batch key.
 *
 * Crash safety (the lease): before a batch is written its key is recorded in the operator's
 * lease object; the lease is released only after every covered pending object is deleted. A
 * run that finds a lease whose holder's deadline has passed (+ grace) takes it over with a
 * conditional PUT (If-Match) and first FINISHES the recorded batch (indexes, pending deletes)
 * before listing anything, so events covered by a written batch are never batched twice. A
 * live lease makes the run skip that operator (two overlapping flushes never race).
 *
 * Concurrency: `ak_audit_store.n_lanes` independent S3 clients (one ak_http each, ak/http.h
 * clients are single-threaded) serve a small pool of threads for the per-event GETs and index
 * PUTs; everything else runs on the calling thread.
 */
#ifndef AK_AUDIT_FLUSH_H
#define AK_AUDIT_FLUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ak/audit.h"
#include "ak/bytes.h"
#include "ak/err.h"
#include "ak/http.h"
#include "ak/identity.h"
#include "ak/s3.h"
#include "ak/sigv4.h"

#define AK_AUDIT_FLUSH_MAX_LANES 32u
#define AK_AUDIT_FLUSH_DEFAULT_LANES 8u
/* Events per batch: 4096 leaves keep a batch object near 6 MB (12-element proofs). */
#define AK_AUDIT_FLUSH_DEFAULT_BATCH 4096u
/* Pending keys one run collects from its listing (memory bound: ~100 bytes each). */
#define AK_AUDIT_FLUSH_DEFAULT_RUN_MAX 100000u
/* A lease is stale this long after its holder's deadline (clock skew between sandboxes). */
#define AK_AUDIT_FLUSH_DEFAULT_GRACE_MS 30000u
/* Largest batch object we read back (resume, anchoring tools). */
#define AK_AUDIT_BATCH_MAX_BYTES (64u * 1024u * 1024u)
/* Where the scheduled flush records the operator the next run starts with (rotation). */
#define AK_AUDIT_FLUSH_CURSOR_KEY "audit/flush-cursor.json"
/* The cursor is rewritten at most this often during a run (plus once at its start and end). */
#define AK_AUDIT_FLUSH_CURSOR_EVERY_MS 5000
/* Metadata member the anchor tool sets on a batch object: x-amz-meta-ak-root-index. */
#define AK_AUDIT_META_ROOT_INDEX "ak-root-index"

/*
 * Storage used by the flush and the proof lookup. The S3 implementation is
 * ak_audit_s3_store(); unit tests pass fakes. `lane` < n_lanes selects the client: calls with
 * different lanes may run at the same time on different threads, calls on one lane never do.
 * Every call gets an absolute deadline (epoch ms).
 */
typedef struct ak_audit_store {
    void *ud;
    unsigned n_lanes; /* >= 1 */
    /* Every object under `prefix`, in key order, through `fn` (ListObjectsV2, all pages). */
    ak_err (*list)(void *ud, ak_cur prefix, ak_s3_list_fn fn, void *fn_ud, int64_t deadline_ms);
    /* ak_s3_list_ex semantics (delimiter -> common prefixes with is_prefix, start_after,
     * max_keys; `res` may be NULL). Required by ak_audit_flush. */
    ak_err (*list_ex)(void *ud, const ak_s3_list_opts *opts, ak_s3_list_fn fn, void *fn_ud,
                      ak_s3_list_result *res, int64_t deadline_ms);
    /* Body appended to `body` (at most `max`), ETag as sent to `etag` (may be NULL). 404 ->
     * AK_E_NOT_FOUND. */
    ak_err (*get)(void *ud, unsigned lane, ak_cur key, size_t max, ak_buf *body, ak_buf *etag,
                  int64_t deadline_ms);
    /* PUT; create_only -> If-None-Match: * ; if_match (len > 0) -> replace only that ETag. 412 ->
     * AK_E_PRECONDITION_FAILED. new_etag (may be NULL) gets the ETag of what was written. */
    ak_err (*put)(void *ud, unsigned lane, ak_cur key, ak_cur body, bool create_only, ak_cur if_match,
                  const ak_s3_meta *meta, size_t n_meta, ak_buf *new_etag, int64_t deadline_ms);
    /* HEAD: AK_E_NOT_FOUND when absent; else `meta_value` (may be NULL) gets the value of
     * x-amz-meta-<meta_name> (nothing appended when the object has none). */
    ak_err (*head)(void *ud, unsigned lane, ak_cur key, const char *meta_name, ak_buf *meta_value,
                   bool *has_meta, int64_t deadline_ms);
    /* DeleteObject (lane 0). */
    ak_err (*del)(void *ud, ak_cur key, int64_t deadline_ms);
    /* DeleteObjects semantics: AK_OK only when every key is gone; *failed = keys not deleted. */
    ak_err (*del_many)(void *ud, const ak_cur *keys, size_t n, size_t *failed, int64_t deadline_ms);
    /* Clock (epoch ms); NULL = ak_http_now_ms. Tests move it forward to cross deadlines. */
    int64_t (*now_ms)(void *ud);
} ak_audit_store;

/* The S3 implementation: n_lanes clients (ak_http each) over one configuration. */
typedef struct ak_audit_s3 {
    ak_http *http[AK_AUDIT_FLUSH_MAX_LANES];
    ak_s3 s3[AK_AUDIT_FLUSH_MAX_LANES];
    unsigned n_lanes;
    ak_sigv4_creds creds; /* borrowed views (environment) */
    char bucket[64];
} ak_audit_s3;

/* Opens n_lanes (1..AK_AUDIT_FLUSH_MAX_LANES) clients. Call in the single-threaded init phase.
 * AK_E_CONFIG for a bad bucket/lane count, the ak_http_new / ak_s3_init errors. */
AK_MUST ak_err ak_audit_s3_open(ak_audit_s3 *s, const ak_s3_config *cfg, const ak_sigv4_creds *creds,
                                const char *bucket, unsigned n_lanes);
void ak_audit_s3_close(ak_audit_s3 *s);
/* Fills `st` with the S3 implementation over `s` (borrowed). */
void ak_audit_s3_store(ak_audit_s3 *s, ak_audit_store *st);

/* ---- flush ---- */

/* Crash-injection points for tests (the fault hook returns true to "crash" there: the flush
 * returns AK_E_INTERNAL at once without any further S3 call, as a killed process would). */
typedef enum ak_audit_fault {
    AK_AUDIT_FAULT_AFTER_LEASE_INTENT = 1, /* batch key recorded in the lease, batch not written */
    AK_AUDIT_FAULT_AFTER_BATCH_PUT,        /* batch written, no index, nothing deleted */
    AK_AUDIT_FAULT_AFTER_INDEX_PUT,        /* batch + indexes written, nothing deleted */
} ak_audit_fault;

typedef struct ak_audit_flush_cfg {
    size_t batch_max;        /* events per batch; 0 -> default; <= AK_MAX_AUDIT_BATCH */
    size_t run_max;          /* pending keys listed per run (all operators); 0 -> default */
    int64_t deadline_ms;     /* absolute: no new request starts after it (required) */
    uint64_t lease_grace_ms; /* stale = holder's deadline + grace passed; 0 -> none */
    bool has_grace;          /* false -> AK_AUDIT_FLUSH_DEFAULT_GRACE_MS */
    const ak_omni *only;     /* flush only this operator (HTTP trigger); NULL = every operator */
    const char *owner;       /* request id recorded in the lease (logs); may be NULL */
    bool (*fault)(void *fault_ud, ak_audit_fault point);
    void *fault_ud;
} ak_audit_flush_cfg;

typedef struct ak_audit_flush_stats {
    size_t operators;  /* operators with pending events seen */
    size_t batches;    /* batches written by this run */
    size_t events;     /* events moved into those batches */
    size_t invalid;    /* pending objects that failed ak_audit_event_check (left in place) */
    size_t busy;       /* operators skipped: another flush holds a live lease */
    size_t resumed;    /* interrupted batches finished (indexes + deletes) */
    size_t unread;     /* pending events left for the next run (deadline, caps, read errors) */
    bool deadline_hit; /* the run stopped early because of the deadline */
} ak_audit_flush_stats;

/*
 * Runs one flush. Fairness (scheduled runs, cfg->only == NULL): the operators are enumerated
 * with a "/" delimiter under audit/pending/, starting at the one named by the cursor object
 * (AK_AUDIT_FLUSH_CURSOR_KEY) and wrapping around; each gets one turn of at most
 * max(run_max / n_operators, one batch) keys; keys left in the run_max budget go, in further
 * rounds, to the operators whose listing was cut (continuing after their last listed key). The
 * cursor moves to the operator after the one whose turn starts, so a run cut short by the
 * deadline or the budget makes the next run start with the first operator it did not reach.
 * `report` (optional, a JSON array) gets one object per written batch:
 * {"operator_omni","batch","count","root"}. Returns AK_OK when the run ended cleanly (also
 * when it stopped at the deadline or skipped busy operators: see stats); an S3 failure on one
 * operator stops the run with that error after the state was left consistent (a retry
 * resumes). AK_E_INTERNAL after an injected fault.
 */
AK_MUST ak_err ak_audit_flush(const ak_audit_store *st, const ak_audit_flush_cfg *cfg,
                              ak_audit_flush_stats *stats, json_t *report);

/* "audit/batches/<op>/<batch_id>.json" etc. */
AK_MUST ak_err ak_audit_batch_prefix(const ak_omni *op, ak_buf *out);
AK_MUST ak_err ak_audit_index_key(const ak_omni *op, ak_cur event_id, ak_buf *out);
AK_MUST ak_err ak_audit_lease_key(const ak_omni *op, ak_buf *out);

/* True when `id` has the event-id form (16 digits '-' 16 lowercase hex). */
bool ak_audit_event_id_ok(ak_cur id);

/* ---- proof lookup (GET /v1/audit/proof) ---- */

/*
 * `ref` is a pending key ("audit/pending/<op>/<event_id>.json") or an event id. Builds
 * {"operator_omni","event_id","event_key","event","leaf","leaf_index","proof":[…],"root",
 *  "count","batch","anchored":bool,"root_index":n (only when anchored)} into *out (new ref).
 * Errors: AK_E_INVALID_INPUT for a malformed ref, AK_E_OPERATOR_MISMATCH when the key names
 * another operator, AK_E_CONFLICT when the event is still pending (not flushed yet),
 * AK_E_NOT_FOUND when there is no such event, S3 errors; AK_E_S3_ERROR for a corrupt index.
 */
AK_MUST ak_err ak_audit_proof_lookup(const ak_audit_store *st, const ak_omni *op, ak_cur ref,
                                     int64_t deadline_ms, json_t **out);

#endif
