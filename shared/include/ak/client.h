/*
 * ak/client.h — the client of our own API, written once in C (issue 13): SIWE login, the
 * session cache, cap mint with the K10 proof of possession, STS credentials and the worker
 * calls. The `agentkeys` CLI and the tests share it.
 *
 * Protocol (functions/{auth,cap-mint,oidc,cred-*,memory-*}/README.md, caps.md §2/§4, broker.md §3):
 *   login     POST /v1/auth/wallet/start {"address","chain_id"} -> {"request_id","siwe_message"};
 *             EIP-191 sign of the exact message with K10; POST /v1/auth/wallet/verify
 *             {"request_id","signature"} -> {"session_jwt","expires_at","omni_account",
 *             "operator_omni","session_kind","device_key_hash","wallet_address",...}
 *   cap       POST /v1/cap/<cred|memory>-<store|fetch|teardown> (memory: put/get), Bearer session,
 *             {"operator_omni","actor_omni","service","device_key_hash","client_sig",
 *             "client_nonce","client_ts"} (bare lowercase hex omnis, PoP of ak_cap_pop_sign)
 *   aws       POST /v1/mint-aws-creds {"data_class","actor_omni"?} -> {"access_key_id",
 *             "secret_access_key","session_token","expiration","expiration_iso",...}
 *   workers   POST /v1/cred/{store,fetch,teardown}, /v1/memory/{put,get,teardown} with the
 *             X-Aws-Access-Key-Id / X-Aws-Secret-Access-Key / X-Aws-Session-Token headers of the
 *             class's STS credentials and {"cap"[, "plaintext_b64"]}
 *   use       (D19) POST /v1/cap/cred-use (op use), then POST /v1/cred/use with the credentials
 *             class's X-Aws-* headers and {"cap","method","url","headers"?,"body_b64"?} ->
 *             {"ok","status","headers":[[n,v]...],"body_b64","redactions"} (docs/spec/use-policy.md)
 *   S3        list and single delete have no worker route: they go straight to S3 with the
 *             class's STS credentials, which IAM confines to bots/<own actor>/<dir>/ (iam.md §3).
 *
 * Cache (optional, cfg.cache_path, mode 0600, replaced atomically): the session JWT and its
 * claims, caps per (op, class, service, actor) until AK_CLIENT_CAP_MARGIN s before they expire,
 * STS credentials per (class, actor) until AK_CLIENT_STS_MARGIN s before. A session within
 * AK_CLIENT_SESSION_MARGIN s of its expiry is renewed by a fresh login before use, and a call
 * refused with 401 `unauthorized` (an expired or unknown session) is retried once after a fresh
 * login; a worker call refused with `cap_freshness_failed` or `access_denied` while using cached
 * material is retried once with fresh caps and credentials. The cache belongs to one wallet and
 * one API URL: a cache written for another is ignored (and overwritten at the next save).
 *
 * Secrets: the K10 key is asked for through cfg.get_key only when a signature is needed (login,
 * cap PoP) and wiped right after; JWTs, caps and STS credentials live in secret ak_bufs; nothing
 * secret is logged or put in an error. The server's reason for the last refusal is kept for
 * messages (ak_client_last_reason).
 */
#ifndef AK_CLIENT_H
#define AK_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ak/bytes.h"
#include "ak/err.h"
#include "ak/http.h"
#include "ak/identity.h"

#define AK_CLIENT_SESSION_MARGIN 60u /* renew a session this close to its expiry */
#define AK_CLIENT_CAP_MARGIN 30u     /* re-mint a cached cap this close to its expiry */
#define AK_CLIENT_STS_MARGIN 120u    /* re-mint cached STS credentials this close to expiry */
#define AK_CLIENT_MAX_CAPS 32u       /* cached caps (oldest dropped first) */
#define AK_CLIENT_MAX_VALUE (512u * 1024u)

/* Returns the 32-byte K10 secret key (the client wipes it after use). */
typedef ak_err (*ak_client_key_fn)(void *ud, uint8_t key[32]);

typedef struct ak_client_config {
    const char *api_url;      /* required: "http(s)://host[:port]" (a trailing '/' is dropped) */
    uint64_t chain_id;        /* required: the SIWE chain id */
    const char *cache_path;   /* optional: the 0600 cache file */
    ak_client_key_fn get_key; /* required for anything that signs */
    void *key_ud;
    const char *address; /* optional "0x…" wallet: a cache of another wallet is ignored */
    /* S3 (list, single delete, mail): optional */
    const char *s3_endpoint; /* NULL -> AWS S3 of `region` */
    const char *region;      /* NULL -> "us-east-1" */
    const char *vault_bucket, *memory_bucket, *mail_bucket;
    unsigned timeout_ms;   /* per API call; 0 -> 60000 */
    uint64_t (*now)(void); /* clock for tests; NULL -> the system clock */
} ak_client_config;

typedef struct ak_client ak_client;

/* The session's claims as the verify answer gave them (bare lowercase hex omnis). */
typedef struct ak_client_session {
    bool valid;       /* a session is cached (it may be expired: see expires_at) */
    char address[43]; /* "0x" + 40 lowercase hex */
    char omni[65];    /* omni_account */
    char operator_omni[65];
    char kind[16]; /* "master" | "agent" */
    char device_key_hash[67];
    uint64_t expires_at;
} ak_client_session;

/* STS credentials of one data class (secret buffers). */
typedef struct ak_client_creds {
    ak_buf access_key_id, secret_access_key, session_token; /* the last two are secret */
    uint64_t expiration;                                    /* unix seconds */
    char actor_omni[65];
} ak_client_creds;

/* One listed object. */
typedef struct ak_client_item {
    ak_cur key;  /* the full S3 key */
    ak_cur name; /* the key without the actor's prefix (and without ".enc" for data classes) */
    uint64_t size;
    ak_cur last_modified;
} ak_client_item;
typedef ak_err (*ak_client_list_fn)(void *ud, const ak_client_item *item);

/* AK_E_CONFIG for a missing api_url/chain_id, AK_E_NOMEM. Loads the cache if there is one (a
 * malformed cache is ignored). The strings of cfg must outlive the client. */
AK_MUST ak_err ak_client_new(const ak_client_config *cfg, ak_client **out);
/* Wipes and frees. NULL is allowed. Does not write the cache (every change already did). */
void ak_client_free(ak_client *cl);

/* Makes sure a usable session exists: the cached one unless `force` or it is near its expiry,
 * else a SIWE login. Errors: the server's refusal (AK_E_SIWE_*, AK_E_DEVICE_REVOKED, ...), the
 * key callback's error, network errors. */
AK_MUST ak_err ak_client_login(ak_client *cl, bool force);
/* The cached session (valid == false when none). */
void ak_client_session_info(const ak_client *cl, ak_client_session *out);
/* Forgets the session, caps and credentials and removes the cache file. */
AK_MUST ak_err ak_client_logout(ak_client *cl);
/* The server's reason string of the last refusal ("" when none), and its HTTP status. */
const char *ak_client_last_reason(const ak_client *cl);
long ak_client_last_status(const ak_client *cl);
/* The client's HTTP handle (for doctor-style probes); owned by the client. */
ak_http *ak_client_http(ak_client *cl);

/* A cap for (op, class, service) over `actor_hex` (NULL = the session's own actor; bare or 0x
 * hex), cached. `cap` receives the compact JWS (appended; make it a secret buffer). */
AK_MUST ak_err ak_client_cap(ak_client *cl, ak_op op, ak_data_class cls, ak_cur service,
                             const char *actor_hex, ak_buf *cap);
/* STS credentials for `cls` (credentials, memory, mail) and actor (NULL = own), cached. `out`
 * is initialised by this call; free it with ak_client_creds_free. */
AK_MUST ak_err ak_client_aws_creds(ak_client *cl, ak_data_class cls, const char *actor_hex,
                                   ak_client_creds *out);
void ak_client_creds_free(ak_client_creds *c);

/* Any other route of our API with the session (renewed once on 401): `method` "GET" or "POST",
 * `path` with its query (already encoded), `body` JSON or empty. On 2xx *json gets the parsed
 * object (caller json_decref's); otherwise the server's reason maps to the error. */
AK_MUST ak_err ak_client_call(ak_client *cl, const char *method, const char *path, ak_cur body,
                              json_t **json);

/* Worker calls. `name` is the service (credentials) or namespace (memory). */
AK_MUST ak_err ak_client_put(ak_client *cl, ak_data_class cls, ak_cur name, ak_cur value);
/* Appends the plaintext to `value` (make it a secret buffer). AK_E_NOT_FOUND when absent. */
AK_MUST ak_err ak_client_get(ak_client *cl, ak_data_class cls, ak_cur name, ak_buf *value);
/* Teardown of every object of the class for `actor_hex` (master sessions only, D10). */
AK_MUST ak_err ak_client_teardown(ak_client *cl, ak_data_class cls, const char *actor_hex, uint64_t *deleted);

/* ---- store options (D19) ---- */
typedef struct ak_client_put_opts {
    /* A use policy (docs/spec/use-policy.md §1) as JSON object text, or empty for none. It is
     * checked here with the server's own rules (AK_E_USE_POLICY_INVALID, also for a secret a
     * policy cannot carry) and sent in its canonical form, sealed with the secret. */
    ak_cur policy_json;
    /* NULL = the session's own actor. A master session may store for an agent bound to its
     * operator (D19: provisioning; bare or 0x omni hex): the cap and the STS credentials are
     * minted for that actor. */
    const char *actor_hex;
} ak_client_put_opts;
/* ak_client_put with options (`o` may be NULL = ak_client_put). */
AK_MUST ak_err ak_client_put_ex(ak_client *cl, ak_data_class cls, ak_cur name, ak_cur value,
                                const ak_client_put_opts *o);

/* ---- use without holding (D19): the worker makes the call, the client never sees the secret ---- */
#define AK_CLIENT_USE_MAX_BODY (1024u * 1024u)        /* request body (the worker's limit) */
#define AK_CLIENT_USE_MAX_ANSWER (6u * 1024u * 1024u) /* the /v1/cred/use answer (3 MiB body, base64) */
typedef struct ak_client_use_req {
    const char *method;            /* GET HEAD POST PUT PATCH DELETE OPTIONS (the worker checks) */
    ak_cur url;                    /* "https://host[:port]/path?query" (the worker checks the policy) */
    const ak_http_header *headers; /* sent as {"name":"value"}; a repeated name: the last wins */
    size_t n_headers;              /* <= 32 */
    ak_cur body;                   /* <= AK_CLIENT_USE_MAX_BODY; empty = none */
} ak_client_use_req;
typedef struct ak_client_use_resp {
    long status;     /* the third party's status (a 3xx included: never followed) */
    json_t *headers; /* [["name","value"],...] as the worker returned them (owned) */
    ak_buf body;     /* the third party's body, every form of the secret already redacted */
    uint64_t redactions;
} ak_client_use_resp;
void ak_client_use_resp_init(ak_client_use_resp *r);
void ak_client_use_resp_free(ak_client_use_resp *r);
/* Mints (or reuses) a `use` cap for `service` and calls POST /v1/cred/use. AK_OK when the
 * third party answered (any status); a refusal maps from the worker's reason
 * (AK_E_HOST_NOT_ALLOWED, AK_E_SCHEME_NOT_ALLOWED, AK_E_METHOD_NOT_ALLOWED,
 * AK_E_DESTINATION_NOT_ALLOWED, AK_E_USE_POLICY_MISSING, AK_E_INVALID_INPUT, ...; see
 * ak_client_last_reason). A cached cap or credential refused is retried once with a fresh cap
 * (and fresh credentials when they were refused; see ak_client_use_prepare). Not thread-safe (one client, one thread at a time). */
AK_MUST ak_err ak_client_use(ak_client *cl, ak_cur service, const ak_client_use_req *req,
                             ak_client_use_resp *resp);

/* The same in two steps, for callers that make use calls from several threads (agentkeys
 * proxy): the material (cap and STS credentials) comes from the client under the caller's own
 * lock; the call needs only the material and an HTTP handle of the calling thread. */
typedef struct ak_client_use_material {
    ak_buf cap; /* secret */
    ak_client_creds creds;
    bool cached; /* the cap or the credentials came from the cache */
    char api[512];
    unsigned timeout_ms;
} ak_client_use_material;
void ak_client_use_material_init(ak_client_use_material *m);
void ak_client_use_material_free(ak_client_use_material *m);
/* Mints or reuses the `use` cap for `service` and the STS credentials. `refused` is the refusal
 * of the previous attempt made with cached material (AK_OK on a first attempt: both from the
 * cache when valid): any refusal mints a new cap; only a refusal of the credentials (access_denied,
 * unauthorized) mints new STS credentials too, so a cap refusal (k3_epoch_mismatch after an epoch
 * rotation, cap_freshness_failed, broker_sig_invalid) sends nobody to STS. Uses the client: one
 * thread at a time. */
AK_MUST ak_err ak_client_use_prepare(ak_client *cl, ak_cur service, ak_err refused,
                                     ak_client_use_material *m);
/* POST /v1/cred/use with `m` on `http` (the caller's; no client state is touched, so threads
 * with their own handles may call it at once). The refusal's reason (64 bytes) and HTTP status
 * are written to reason/status. */
AK_MUST ak_err ak_client_use_send(const ak_client_use_material *m, ak_http *http,
                                  const ak_client_use_req *req, ak_client_use_resp *resp, char reason[64],
                                  long *status);
/* True when a refusal of a call made with cached material deserves one retry with fresh
 * material (cap_freshness_failed, access_denied, unauthorized, broker_sig_invalid,
 * k3_epoch_mismatch). */
bool ak_client_use_retryable(ak_err e);

/* S3 with the class's STS credentials (own actor). Delete of one object: AK_E_NOT_FOUND when it
 * was not there (checked with a HEAD first, S3's DELETE answers 204 either way). */
AK_MUST ak_err ak_client_delete(ak_client *cl, ak_data_class cls, ak_cur name);
/* Lists bots/<own actor>/<dir>/ of the class (credentials, memory: names without ".enc"; mail:
 * `mail_dir` "inbound" or "quarantine", names are the file names). */
AK_MUST ak_err ak_client_list(ak_client *cl, ak_data_class cls, const char *mail_dir, ak_client_list_fn fn,
                              void *ud);
/* Reads one mail object bots/<own actor>/<mail_dir>/<name> into `out`. */
AK_MUST ak_err ak_client_mail_get(ak_client *cl, const char *mail_dir, ak_cur name, ak_buf *out);

#endif
