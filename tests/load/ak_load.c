/*
 * tests/load/ak_load.c — the load and fault driver (issue 16, "Fault and load figures").
 *
 *   ak-load register N FILE   registers N agents of one operator on the local chain, each with
 *                             the scope credentials:load0..load7, and appends them to FILE (0600:
 *                             one line per agent "<key hex> <address> <actor omni hex>"; throwaway
 *                             test keys); the master's passkey is kept in master.passkey beside it
 *   ak-load run FILE          drives the agents through the emulator in phases, then verifies
 *
 * Everything comes from the environment that scripts/stack-up writes (build/local/stack.env):
 * AK_API_URL, AK_RPC_URL, AK_CHAIN_ID, AK_REGISTRY_ADDRESS, AK_SCOPE_ADDRESS, AK_S3_ENDPOINT,
 * AK_VAULT_BUCKET, AWS_REGION; and the run's knobs:
 *   LOAD_THREADS (16)        operations in flight (each thread owns agents i, i+T, i+2T, ...)
 *   LOAD_PHASES              comma list (default "steady,signer,s3,chain,fnkill,epoch,after")
 *   LOAD_PHASE_SECONDS (20)  length of each phase; the fault starts at 25 % and ends at 60 %
 *   LOAD_OPS (0)             stop a phase early after this many operations (0 = no limit)
 *   LOAD_NAMES (3)           secret names per agent
 *   LOAD_HOOK                the fault program, run as `HOOK start|stop PHASE` (tests/load/fault)
 *   LOAD_TIMEOUT_MS (30000)  per API call of the client
 *
 * Registration is the cheapest the contracts allow: the master is anvil's funded account 1, one
 * software passkey, the consent messages are computed and signed locally, and each agent costs
 * two transactions (registerAgentDevice, setScopeWithWebauthn) sent back to back over one
 * kept-alive RPC connection; nothing is forked per agent.
 *
 * The run: one ak_client per agent (in memory, no cache file), so each agent logs in (SIWE),
 * mints its caps and STS credentials once and renews them as a real client would. An operation
 * is a store of a fresh value or a fetch of one of its names. The driver keeps, per name, the
 * value of the last acknowledged store and every value whose store failed (in doubt: a failed
 * store may or may not have been written). A fetch that answers anything else is a wrong read.
 * At the end every agent lists its own prefix and fetches every object (retrying only
 * unavailability, bounded): an acknowledged value that is not readable is LOST, an object that
 * does not open (or holds a value nobody stored) is HALF-WRITTEN. It prints one table row per
 * phase; the exit status is 1 when anything was lost, half-written or read wrong, 2 when the
 * harness itself broke, never anything about time.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ak/abi.h"
#include "ak/bytes.h"
#include "ak/chain.h"
#include "ak/client.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/err.h"
#include "ak/evm.h"
#include "ak/http.h"
#include "ak/identity.h"
#include "ak/passkey.h"
#include "ak/s3.h"
#include "ak/sigv4.h"

extern char **environ;

#define MAX_PHASES 16
#define MAX_REASONS 48
#define MAX_NAMES 8
#define MAX_DOUBT 64
#define K11 "(bytes32,bytes,bytes,uint256,uint256)"
/* anvil's funded account 1 (its published test mnemonic): the operator's first master */
#define MASTER_KEY_HEX "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"

static const char *env_or(const char *k, const char *d) {
    const char *v = getenv(k);
    return v != NULL && v[0] != '\0' ? v : d;
}
static unsigned long env_num(const char *k, unsigned long d) {
    const char *v = getenv(k);
    if (v == NULL || v[0] == '\0') return d;
    char *end = NULL;
    unsigned long n = strtoul(v, &end, 10);
    return end != NULL && *end == '\0' ? n : d;
}
static const char *need_env(const char *k) {
    const char *v = getenv(k);
    if (v == NULL || v[0] == '\0') {
        fprintf(stderr, "ak-load: %s is not set (source build/local/stack.env)\n", k);
        exit(2);
    }
    return v;
}
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
}

/* ================================================================ register */

typedef struct reg_ctx {
    ak_evm_rpc rpc;
    uint8_t mkey[32], maddr[20], mdkh[32], registry[20], scope[20];
    ak_omni op;
    uint64_t chain_id;
    unsigned sent;
} reg_ctx;

static int reg_send(reg_ctx *x, const char *what, const uint8_t to[20], const char *sig, const ak_abi_val *a,
                    size_t n) {
    ak_buf cd;
    ak_buf_init(&cd, 1u << 20);
    ak_chain_result r;
    memset(&r, 0, sizeof(r));
    ak_chain_send_opts o = {.wait_ms = 120000, .poll_ms = 10};
    ak_err e = ak_abi_encode_call(sig, a, n, &cd);
    if (e == AK_OK) e = ak_chain_send(&x->rpc, x->mkey, to, ak_buf_cur(&cd), &o, &r);
    ak_buf_free(&cd);
    if (e != AK_OK) {
        fprintf(stderr, "ak-load: %s failed: %s %s\n", what, ak_err_reason(e), r.reason);
        return 2;
    }
    x->sent++;
    return 0;
}

static int reg_call_b32(reg_ctx *x, const uint8_t to[20], const char *sig, const ak_abi_val *a, size_t n,
                        uint8_t out[32]) {
    ak_buf ret;
    ak_buf_init(&ret, 4096);
    char reason[256] = "";
    ak_err e = ak_chain_call(&x->rpc, NULL, to, sig, a, n, &ret, reason, sizeof(reason));
    if (e == AK_OK && ret.len != 32) e = AK_E_CHAIN_RPC;
    if (e == AK_OK) memcpy(out, ret.ptr, 32);
    ak_buf_free(&ret);
    if (e != AK_OK) fprintf(stderr, "ak-load: call %s failed: %s %s\n", sig, ak_err_reason(e), reason);
    return e == AK_OK ? 0 : 2;
}

static int cmd_register(unsigned n, const char *path) {
    reg_ctx x;
    memset(&x, 0, sizeof(x));
    ak_http *http = NULL;
    ak_http_config hc = {.retry = {.max_attempts = 1}};
    if (ak_http_new(&hc, &http) != AK_OK) return 2;
    ak_evm_rpc_init(&x.rpc, http, need_env("AK_RPC_URL"));
    x.chain_id = strtoull(need_env("AK_CHAIN_ID"), NULL, 10);
    uint8_t pub[65];
    if (ak_hex_decode_exact(ak_cur_from_str(env_or("LOAD_MASTER_KEY", MASTER_KEY_HEX)), true, x.mkey, 32) !=
            AK_OK ||
        ak_eth_address_parse(ak_cur_from_str(need_env("AK_REGISTRY_ADDRESS")), x.registry) != AK_OK ||
        ak_eth_address_parse(ak_cur_from_str(need_env("AK_SCOPE_ADDRESS")), x.scope) != AK_OK ||
        ak_secp256k1_pubkey(x.mkey, pub) != AK_OK) {
        fprintf(stderr, "ak-load: bad master key or contract address\n");
        return 2;
    }
    ak_eth_address_from_pub(pub, x.maddr);
    ak_omni_from_address(x.maddr, &x.op);
    ak_device_key_hash(x.maddr, x.mdkh);
    double t0 = now_s();
    int rc = 0;

    /* the first master with a software passkey (sign count 1), kept in master.passkey beside
     * FILE so that a second `register` on the same stack adds agents to the same operator */
    ak_passkey pk;
    char pk_path[1024];
    const char *slash = strrchr(path, '/');
    snprintf(pk_path, sizeof(pk_path), "%.*smaster.passkey", slash ? (int)(slash - path + 1) : 0, path);
    bool have_master = access(pk_path, F_OK) == 0;
    if (have_master ? ak_passkey_load(pk_path, &pk) != AK_OK
                    : ak_passkey_new("agentkeys.local", &pk) != AK_OK) {
        fprintf(stderr, "ak-load: cannot %s the passkey %s\n", have_master ? "read" : "make", pk_path);
        return 2;
    }
    uint8_t ch[32];
    ak_passkey_assertion as;
    ak_abi_val t[5];
    uint32_t count = have_master ? pk.sign_count : 1;
    if (!have_master) {
        ak_abi_val a[] = {ak_abi_address(x.maddr),        ak_abi_bytes32(pk.cred_id),
                          ak_abi_bytes32(pk.rp_id_hash),  ak_abi_uint256_be(pk.pub + 1),
                          ak_abi_uint256_be(pk.pub + 33), ak_abi_uint(8, 7)};
        rc = reg_call_b32(&x, x.registry,
                          "firstMasterChallenge(address,bytes32,bytes32,uint256,uint256,uint8)", a, 6, ch);
        if (rc == 0 && ak_passkey_assert(&pk, ch, count, NULL, NULL, &as) != AK_OK) rc = 2;
        ak_abi_val b[] = {a[1], a[2], a[3], a[4], a[5], ak_passkey_assertion_abi(&as, t)};
        if (rc == 0)
            rc = reg_send(&x, "registerFirstMasterDevice", x.registry,
                          "registerFirstMasterDevice(bytes32,bytes32,uint256,uint256,uint8," K11 ")", b, 6);
    }
    pk.sign_count = count;
    if (rc == 0 && ak_passkey_save(pk_path, &pk) != AK_OK) rc = 2;
    FILE *f = NULL;
    if (rc == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f == NULL) {
            fprintf(stderr, "ak-load: cannot write %s\n", path);
            rc = 2;
        }
    }
    uint8_t sid[MAX_NAMES][32], tag[32];
    ak_abi_val items[MAX_NAMES];
    for (unsigned i = 0; i < MAX_NAMES; i++) {
        char sn[32];
        int l = snprintf(sn, sizeof(sn), "credentials:load%u", i);
        ak_keccak256(sn, (size_t)l, sid[i]);
        items[i] = ak_abi_bytes32(sid[i]);
    }
    ak_keccak256("agentkeys:v1:agent-consent", 26, tag);
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        uint8_t key[32], apub[65], addr[20], msg[32], digest[32], sig[65];
        do {
            if (ak_random(key, 32) != AK_OK) return 2;
        } while (ak_secp256k1_pubkey(key, apub) != AK_OK);
        ak_eth_address_from_pub(apub, addr);
        ak_omni actor;
        ak_omni_from_address(addr, &actor);
        /* agentConsentMessage(op, agent) = keccak256(abi.encode(tag, chainid, registry, op, agent)) */
        ak_buf enc;
        ak_buf_init(&enc, 4096);
        ak_abi_val c[] = {ak_abi_bytes32(tag), ak_abi_u64(x.chain_id), ak_abi_address(x.registry),
                          ak_abi_bytes32(x.op.b), ak_abi_address(addr)};
        if (ak_abi_encode(c, 5, &enc) != AK_OK) rc = 2;
        ak_keccak256(enc.ptr, enc.len, msg);
        ak_buf_free(&enc);
        ak_eip191_hash(msg, 32, digest);
        if (rc == 0 && ak_secp256k1_sign(key, digest, sig) != AK_OK) rc = 2;
        ak_abi_val b[] = {ak_abi_bytes32(x.op.b), ak_abi_address(addr), ak_abi_bytes(ak_cur_from(sig, 65))};
        if (rc == 0)
            rc = reg_send(&x, "registerAgentDevice", x.registry, "registerAgentDevice(bytes32,address,bytes)",
                          b, 3);
        ak_abi_val s[] = {ak_abi_bytes32(x.op.b), ak_abi_bytes32(actor.b), ak_abi_array(items, MAX_NAMES),
                          ak_abi_bool(false),     ak_abi_uint(128, 0),     ak_abi_uint(128, 0),
                          ak_abi_uint(128, 0),    ak_abi_uint(32, 0)};
        if (rc == 0)
            rc = reg_call_b32(
                &x, x.scope,
                "setScopeChallenge(bytes32,bytes32,bytes32[],bool,uint128,uint128,uint128,uint32)", s, 8, ch);
        if (rc == 0 && ak_passkey_assert(&pk, ch, ++count, x.mdkh, NULL, &as) != AK_OK) rc = 2;
        ak_abi_val s2[] = {s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], ak_passkey_assertion_abi(&as, t)};
        if (rc == 0)
            rc = reg_send(
                &x, "setScopeWithWebauthn", x.scope,
                "setScopeWithWebauthn(bytes32,bytes32,bytes32[],bool,uint128,uint128,uint128,uint32," K11 ")",
                s2, 9);
        if (rc == 0) {
            char kh[65], ah[43], oh[65];
            ak_hex_encode(key, 32, kh);
            ak_eth_address_hex(addr, ah);
            ak_omni_hex(&actor, oh);
            fprintf(f, "%s %s %s\n", kh, ah, oh);
            ak_wipe(kh, sizeof(kh));
        }
        ak_wipe(key, sizeof(key));
        if (rc == 0 && (i + 1) % 50 == 0) fprintf(stderr, "ak-load: %u/%u agents registered\n", i + 1, n);
    }
    pk.sign_count = count;
    if (ak_passkey_save(pk_path, &pk) != AK_OK) rc = 2;
    ak_passkey_wipe(&pk);
    ak_wipe(x.mkey, sizeof(x.mkey));
    if (f != NULL && fclose(f) != 0) rc = 2;
    double dt = now_s() - t0;
    if (rc == 0)
        printf("registered %u agents (%u transactions) in %.1f s (%.1f tx/s)\n", n, x.sent, dt,
               dt > 0 ? x.sent / dt : 0.0);
    ak_evm_rpc_free(&x.rpc);
    ak_http_free(http);
    return rc;
}

/* ================================================================ run: the model */

typedef struct value_rec {
    uint8_t h[32];
    int phase;
} value_rec;

typedef struct name_state {
    bool acked;
    value_rec ack;               /* the last acknowledged store */
    value_rec doubt[MAX_DOUBT];  /* failed stores (may or may not have been written) */
    bool doubt_after[MAX_DOUBT]; /* attempted after the last ack */
    unsigned n_doubt;
    bool doubt_overflow;
    int last_phase; /* phase of the last store attempt */
} name_state;

typedef struct agent {
    uint8_t key[32];
    char addr[43], actor[65];
    ak_client *cl;
    name_state names[MAX_NAMES];
    uint64_t seq;
} agent;

typedef struct reason_count {
    char reason[64];
    uint64_t n;
} reason_count;

typedef struct phase_stats {
    char name[32];
    pthread_mutex_t mu;
    uint64_t requests, ok, wrong_read;
    reason_count reasons[MAX_REASONS];
    unsigned n_reasons;
    double *lat; /* ms, every completed request */
    size_t n_lat, cap_lat;
    uint64_t lost, half, late;
    double seconds;
} phase_stats;

static agent *g_agents;
static unsigned g_n_agents, g_threads, g_names;
static phase_stats g_ph[MAX_PHASES + 2]; /* + login + verify */
static unsigned g_n_ph;
static atomic_int g_phase = -1;
static atomic_bool g_stop;
static atomic_ulong g_phase_ops;
static unsigned long g_ops_limit;

static ak_err agent_key(void *ud, uint8_t key[32]) {
    memcpy(key, ((agent *)ud)->key, 32);
    return AK_OK;
}

static void ph_count(phase_stats *p, bool ok, const char *reason, double ms) {
    pthread_mutex_lock(&p->mu);
    p->requests++;
    if (ok) p->ok++;
    if (!ok) {
        unsigned i;
        for (i = 0; i < p->n_reasons && strcmp(p->reasons[i].reason, reason) != 0; i++) {}
        if (i == p->n_reasons && i < MAX_REASONS) {
            snprintf(p->reasons[i].reason, sizeof(p->reasons[i].reason), "%s", reason);
            p->n_reasons++;
        }
        if (i < MAX_REASONS) p->reasons[i].n++;
    }
    if (p->n_lat == p->cap_lat) {
        size_t nc = p->cap_lat ? p->cap_lat * 2 : 4096;
        double *nl = realloc(p->lat, nc * sizeof(*nl));
        if (nl != NULL) {
            p->lat = nl;
            p->cap_lat = nc;
        }
    }
    if (p->n_lat < p->cap_lat) p->lat[p->n_lat++] = ms;
    pthread_mutex_unlock(&p->mu);
}

/* "<status>:<reason>" of the client's last refusal, or the local error's reason. */
static void reason_of(ak_client *cl, ak_err e, char out[64]) {
    const char *r = ak_client_last_reason(cl);
    long st = ak_client_last_status(cl);
    if (r != NULL && r[0] != '\0')
        snprintf(out, 64, "%ld:%s", st, r);
    else if (st > 0)
        snprintf(out, 64, "%ld:%s", st, ak_err_reason(e));
    else
        snprintf(out, 64, "net:%s", ak_err_reason(e));
}

static uint64_t xrand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void value_make(agent *a, unsigned ai, unsigned name, uint64_t *rs, char *v, size_t cap, size_t *len) {
    int n = snprintf(v, cap, "load|%u|%u|%" PRIu64 "|%016" PRIx64 "%016" PRIx64 "|", ai, name, ++a->seq,
                     xrand(rs), xrand(rs));
    size_t want = 48 + (size_t)(xrand(rs) % 160);
    size_t l = n > 0 ? (size_t)n : 0;
    while (l < want && l + 1 < cap) {
        v[l] = (char)('a' + (char)(xrand(rs) % 26));
        l++;
    }
    *len = l;
}

static bool model_has(const name_state *s, const uint8_t h[32], bool *late) {
    *late = false;
    if (s->acked && memcmp(s->ack.h, h, 32) == 0) return true;
    /* more failed stores than the model keeps: an unknown value may be one of the dropped ones,
     * so nothing can be concluded (never seen with MAX_DOUBT 64; said on stderr if it happens) */
    if (s->doubt_overflow) {
        bool known = false;
        for (unsigned i = 0; i < s->n_doubt; i++)
            known |= memcmp(s->doubt[i].h, h, 32) == 0;
        if (!known) {
            fprintf(stderr, "ak-load: a value after more than %d failed stores of one name: not judged\n",
                    MAX_DOUBT);
            return true;
        }
    }
    for (unsigned i = 0; i < s->n_doubt; i++)
        if (memcmp(s->doubt[i].h, h, 32) == 0) {
            if (!s->doubt_after[i] && s->acked) *late = true; /* an older failed store landed after the ack */
            return !*late;
        }
    return false;
}

static void model_doubt(name_state *s, const uint8_t h[32], int phase) {
    if (s->n_doubt == MAX_DOUBT) { /* keep the newest: drop the oldest */
        memmove(&s->doubt[0], &s->doubt[1], (MAX_DOUBT - 1) * sizeof(s->doubt[0]));
        memmove(&s->doubt_after[0], &s->doubt_after[1], (MAX_DOUBT - 1) * sizeof(s->doubt_after[0]));
        s->n_doubt--;
        s->doubt_overflow = true;
    }
    memcpy(s->doubt[s->n_doubt].h, h, 32);
    s->doubt[s->n_doubt].phase = phase;
    s->doubt_after[s->n_doubt] = true;
    s->n_doubt++;
}

static void model_ack(name_state *s, const uint8_t h[32], int phase) {
    s->acked = true;
    memcpy(s->ack.h, h, 32);
    s->ack.phase = phase;
    for (unsigned i = 0; i < s->n_doubt; i++)
        s->doubt_after[i] = false;
}

/* ================================================================ run: workers */

typedef struct list_ctx {
    char names[MAX_NAMES + 8][64];
    unsigned n;
} list_ctx;

static ak_err on_item(void *ud, const ak_client_item *it) {
    list_ctx *l = ud;
    if (l->n < MAX_NAMES + 8 && ak_cur_to_cstr(it->name, l->names[l->n], sizeof(l->names[0])) == AK_OK)
        l->n++;
    return AK_OK;
}
static atomic_uint g_verify_broken;

typedef struct worker {
    pthread_t th;
    unsigned id;
    uint64_t rs;
} worker;

static void one_op(worker *w, unsigned ai) {
    agent *a = &g_agents[ai];
    int ph = atomic_load(&g_phase);
    if (ph < 0) return;
    phase_stats *p = &g_ph[ph];
    unsigned nm = (unsigned)(xrand(&w->rs) % g_names);
    name_state *s = &a->names[nm];
    char name[16];
    snprintf(name, sizeof(name), "load%u", nm);
    bool store = (!s->acked && s->n_doubt == 0) || xrand(&w->rs) % 2 == 0;
    char v[256], reason[64] = "";
    size_t vl = 0;
    uint8_t h[32];
    ak_buf got;
    ak_buf_init_secret(&got, AK_CLIENT_MAX_VALUE);
    double t0 = now_s();
    ak_err e;
    if (store) {
        value_make(a, ai, nm, &w->rs, v, sizeof(v), &vl);
        ak_sha256(v, vl, h);
        s->last_phase = ph;
        e = ak_client_put(a->cl, AK_CLASS_CREDENTIALS, ak_cur_from_str(name), ak_cur_from(v, vl));
    } else {
        e = ak_client_get(a->cl, AK_CLASS_CREDENTIALS, ak_cur_from_str(name), &got);
    }
    double ms = (now_s() - t0) * 1000.0;
    bool ok = e == AK_OK;
    if (store) {
        if (ok)
            model_ack(s, h, ph);
        else
            model_doubt(s, h, ph);
    } else if (ok) {
        bool late = false;
        ak_sha256(got.ptr, got.len, h);
        if (!model_has(s, h, &late)) {
            pthread_mutex_lock(&p->mu);
            p->wrong_read++;
            pthread_mutex_unlock(&p->mu);
            fprintf(stderr, "ak-load: WRONG READ agent %u %s in phase %s (%s)\n", ai, name, p->name,
                    late ? "an older failed store's value after a newer acknowledged one"
                         : "a value never stored");
        }
    } else if (e == AK_E_NOT_FOUND && s->acked) {
        pthread_mutex_lock(&p->mu);
        p->wrong_read++;
        pthread_mutex_unlock(&p->mu);
        fprintf(stderr,
                "ak-load: WRONG READ agent %u %s in phase %s: not found after an acknowledged store\n", ai,
                name, p->name);
    }
    if (!ok) reason_of(a->cl, e, reason);
    /* a fetch of a name whose only stores failed may rightly be not_found */
    bool fine = ok || (!store && e == AK_E_NOT_FOUND && !s->acked);
    if (fine && !ok) { ok = true; }
    ph_count(p, ok, reason, ms);
    ak_buf_free(&got);
    atomic_fetch_add(&g_phase_ops, 1);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    while (!atomic_load(&g_stop)) {
        bool did = false;
        for (unsigned ai = w->id; ai < g_n_agents && !atomic_load(&g_stop); ai += g_threads) {
            if (g_ops_limit && atomic_load(&g_phase_ops) >= g_ops_limit) break;
            one_op(w, ai);
            did = true;
        }
        if (!did) sleep_s(0.05);
    }
    return NULL;
}

/* login + STS credentials for the thread's agents (phase "login"), at most LOAD_MINTS (8) minting
 * at a time. The limit was 2 while OidcFunction served the JWKS itself: Ceph's STS fetches it
 * while OidcFunction's instance waits for STS inside /v1/mint-aws-creds, so with every instance
 * minting none was left to serve it and the mints timed out (504 upstream_timeout; finding 2).
 * OidcDiscoveryFunction serves it now; the knob stays to shape the login burst. */
static pthread_mutex_t g_mint_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_mint_cv = PTHREAD_COND_INITIALIZER;
static unsigned g_mint_busy, g_mint_max = 8;

static void *login_main(void *arg) {
    worker *w = arg;
    phase_stats *p = &g_ph[atomic_load(&g_phase)];
    for (unsigned ai = w->id; ai < g_n_agents && !atomic_load(&g_stop); ai += g_threads) {
        agent *a = &g_agents[ai];
        char reason[64] = "";
        double t0 = now_s();
        ak_err e = ak_client_login(a->cl, false);
        ak_client_creds cr;
        memset(&cr, 0, sizeof(cr));
        if (e == AK_OK) {
            pthread_mutex_lock(&g_mint_mu);
            while (g_mint_busy >= g_mint_max)
                pthread_cond_wait(&g_mint_cv, &g_mint_mu);
            g_mint_busy++;
            pthread_mutex_unlock(&g_mint_mu);
            e = ak_client_aws_creds(a->cl, AK_CLASS_CREDENTIALS, NULL, &cr);
            ak_client_creds_free(&cr);
            pthread_mutex_lock(&g_mint_mu);
            g_mint_busy--;
            pthread_cond_signal(&g_mint_cv);
            pthread_mutex_unlock(&g_mint_mu);
        }
        if (e != AK_OK) reason_of(a->cl, e, reason);
        ph_count(p, e == AK_OK, reason, (now_s() - t0) * 1000.0);
        /* the model starts empty: an agent whose prefix is not (a second run on one agents file) */
        list_ctx l;
        memset(&l, 0, sizeof(l));
        if (e == AK_OK && ak_client_list(a->cl, AK_CLASS_CREDENTIALS, NULL, on_item, &l) == AK_OK &&
            l.n > 0) {
            fprintf(stderr,
                    "ak-load: agent %u already holds %u object(s): use fresh agents (ak-load register)\n", ai,
                    l.n);
            atomic_fetch_add(&g_verify_broken, 1);
        }
    }
    return NULL;
}

/* ================================================================ run: verify */
static double g_verify_deadline;

static bool transient(ak_err e, ak_client *cl) {
    long st = ak_client_last_status(cl);
    return e != AK_OK && e != AK_E_NOT_FOUND && (st == 0 || st >= 500 || st == 429);
}

static void *verify_main(void *arg) {
    worker *w = arg;
    phase_stats *v = &g_ph[g_n_ph + 1];
    for (unsigned ai = w->id; ai < g_n_agents; ai += g_threads) {
        agent *a = &g_agents[ai];
        list_ctx l;
        memset(&l, 0, sizeof(l));
        ak_err e;
        char reason[64] = "";
        do {
            memset(&l, 0, sizeof(l));
            e = ak_client_list(a->cl, AK_CLASS_CREDENTIALS, NULL, on_item, &l);
        } while (transient(e, a->cl) && now_s() < g_verify_deadline && (sleep_s(0.5), true));
        if (e != AK_OK) {
            reason_of(a->cl, e, reason);
            fprintf(stderr, "ak-load: verify: cannot list agent %u: %s\n", ai, reason);
            atomic_fetch_add(&g_verify_broken, 1);
            continue;
        }
        for (unsigned nm = 0; nm < g_names; nm++) {
            name_state *s = &a->names[nm];
            char name[16];
            snprintf(name, sizeof(name), "load%u", nm);
            bool listed = false;
            for (unsigned i = 0; i < l.n; i++)
                listed |= strcmp(l.names[i], name) == 0;
            ak_buf got;
            ak_buf_init_secret(&got, AK_CLIENT_MAX_VALUE);
            double t0;
            do {
                ak_buf_clear(&got);
                t0 = now_s();
                e = ak_client_get(a->cl, AK_CLASS_CREDENTIALS, ak_cur_from_str(name), &got);
            } while (transient(e, a->cl) && now_s() < g_verify_deadline && (sleep_s(0.5), true));
            reason[0] = '\0';
            if (e != AK_OK) reason_of(a->cl, e, reason);
            ph_count(v, e == AK_OK || (e == AK_E_NOT_FOUND && !listed), reason, (now_s() - t0) * 1000.0);
            int blame = s->acked ? s->ack.phase : s->last_phase;
            if (blame < 0 || blame >= (int)g_n_ph) blame = 0;
            phase_stats *bp = &g_ph[blame];
            bool late = false;
            if (e == AK_OK) {
                uint8_t h[32];
                ak_sha256(got.ptr, got.len, h);
                if (!model_has(s, h, &late)) {
                    pthread_mutex_lock(&bp->mu);
                    if (late) {
                        bp->late++;
                        bp->lost++;
                    } else if (s->acked) {
                        bp->lost++; /* readable, but not the acknowledged value nor a later attempt */
                    } else {
                        bp->half++;
                    }
                    pthread_mutex_unlock(&bp->mu);
                    fprintf(stderr, "ak-load: verify: agent %u %s holds %s\n", ai, name,
                            late ? "an older failed store's value (acknowledged one overwritten)"
                                 : "a value that is not the acknowledged one");
                }
            } else if (e == AK_E_NOT_FOUND) {
                if (s->acked) {
                    pthread_mutex_lock(&bp->mu);
                    bp->lost++;
                    pthread_mutex_unlock(&bp->mu);
                    fprintf(stderr,
                            "ak-load: verify: agent %u %s LOST (acknowledged in phase %s, now not found)\n",
                            ai, name, g_ph[s->ack.phase].name);
                }
            } else if (transient(e, a->cl)) {
                fprintf(stderr, "ak-load: verify: agent %u %s unreadable until the deadline: %s\n", ai, name,
                        reason);
                atomic_fetch_add(&g_verify_broken, 1);
            } else if (e != AK_E_ENVELOPE_TRUNCATED && e != AK_E_ENVELOPE_VERSION &&
                       e != AK_E_DECRYPT_FAILED) {
                fprintf(stderr, "ak-load: verify: agent %u %s cannot be checked: %s\n", ai, name, reason);
                atomic_fetch_add(&g_verify_broken, 1);
            } else {
                /* the object is there and does not open: half-written (or corrupted) */
                pthread_mutex_lock(&bp->mu);
                bp->half++;
                pthread_mutex_unlock(&bp->mu);
                fprintf(stderr, "ak-load: verify: agent %u %s does not open: %s\n", ai, name, reason);
            }
            ak_buf_free(&got);
        }
        for (unsigned i = 0; i < l.n; i++) {
            bool known = false;
            for (unsigned nm = 0; nm < g_names; nm++) {
                char name[16];
                snprintf(name, sizeof(name), "load%u", nm);
                known |= strcmp(l.names[i], name) == 0;
            }
            if (!known) {
                pthread_mutex_lock(&g_ph[0].mu);
                g_ph[0].half++;
                pthread_mutex_unlock(&g_ph[0].mu);
                fprintf(stderr, "ak-load: verify: agent %u has an object nobody stored: %s\n", ai,
                        l.names[i]);
            }
        }
    }
    return NULL;
}

/* LOAD_INJECT=1, the driver's own negative control: before the verification one acknowledged
 * object is deleted and another is overwritten with bytes that are not an envelope (each with
 * the agent's own STS credentials, as anyone holding them could). The verification must then
 * report lost >= 1 and half-written >= 1 and the exit status 1. */
static int inject_faults(const char *s3_endpoint, const char *region, const char *bucket) {
    int deleted = 0, overwritten = 0;
    for (unsigned ai = 0; ai < g_n_agents && (deleted == 0 || overwritten == 0); ai++) {
        agent *a = &g_agents[ai];
        for (unsigned nm = 0; nm < g_names; nm++) {
            name_state *s = &a->names[nm];
            if (!s->acked || s->n_doubt > 0) continue;
            char name[16];
            snprintf(name, sizeof(name), "load%u", nm);
            if (deleted == 0) {
                if (ak_client_delete(a->cl, AK_CLASS_CREDENTIALS, ak_cur_from_str(name)) == AK_OK) deleted++;
                break;
            }
            ak_client_creds cr;
            memset(&cr, 0, sizeof(cr));
            ak_http *http = NULL;
            ak_http_config hc = {.retry = {.max_attempts = 1}};
            ak_s3 s3;
            ak_s3_config sc = {.endpoint = s3_endpoint, .region = region, .path_style = true};
            char key[160];
            uint8_t junk[81];
            junk[0] = 0x04; /* the envelope's version byte, then noise */
            snprintf(key, sizeof(key), "bots/%s/credentials/%s.enc", a->actor, name);
            if (ak_random(junk + 1, sizeof(junk) - 1) == AK_OK && ak_http_new(&hc, &http) == AK_OK &&
                ak_s3_init(&s3, http, &sc) == AK_OK &&
                ak_client_aws_creds(a->cl, AK_CLASS_CREDENTIALS, NULL, &cr) == AK_OK) {
                ak_sigv4_creds sv = {ak_buf_cur(&cr.access_key_id), ak_buf_cur(&cr.secret_access_key),
                                     ak_buf_cur(&cr.session_token)};
                ak_s3_call call = {.creds = &sv};
                if (ak_s3_put(&s3, &call, bucket, ak_cur_from_str(key), ak_cur_from(junk, sizeof(junk)), NULL,
                              NULL) == AK_OK)
                    overwritten++;
            }
            ak_client_creds_free(&cr);
            ak_http_free(http);
            break;
        }
    }
    printf("ak-load: injected (LOAD_INJECT): %d acknowledged object(s) deleted, %d overwritten with junk\n",
           deleted, overwritten);
    return deleted == 1 && overwritten == 1 ? 0 : 2;
}

/* ================================================================ run: phases, hook, table */

static int run_hook(const char *hook, const char *what, const char *phase) {
    if (hook == NULL || hook[0] == '\0') return 0;
    char *argv[] = {(char *)hook, (char *)what, (char *)phase, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, hook, NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "ak-load: cannot run %s: %s\n", hook, strerror(rc));
        return 2;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "ak-load: fault hook `%s %s %s` failed (status %d)\n", hook, what, phase, st);
        return 2;
    }
    return 0;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double pct(phase_stats *p, double q) {
    if (p->n_lat == 0) return 0;
    size_t i = (size_t)(q * (double)(p->n_lat - 1) + 0.5);
    return p->lat[i];
}

static void print_row(phase_stats *p) {
    qsort(p->lat, p->n_lat, sizeof(double), cmp_d);
    char reasons[1024] = "";
    size_t off = 0;
    for (unsigned i = 0; i < p->n_reasons && off < sizeof(reasons); i++) {
        int n = snprintf(reasons + off, sizeof(reasons) - off, "%s%s=%" PRIu64, i ? " " : "",
                         p->reasons[i].reason, p->reasons[i].n);
        if (n > 0) off += (size_t)n;
    }
    if (p->wrong_read && off < sizeof(reasons))
        snprintf(reasons + off, sizeof(reasons) - off, "%sWRONG_READ=%" PRIu64, off ? " " : "",
                 p->wrong_read);
    printf("| %-8s | %6.1f | %8" PRIu64 " | %8" PRIu64 " | %6" PRIu64 " | %4" PRIu64 " | %4" PRIu64
           " | %8.1f | %8.1f | %s |\n",
           p->name, p->seconds, p->requests, p->ok, p->requests - p->ok, p->lost, p->half, pct(p, 0.50),
           pct(p, 0.99), reasons[0] ? reasons : "-");
}

/* musl's default thread stack is 128 KiB; libcurl and the client get 1 MiB, as on glibc's
 * smallest default. A thread that cannot start is a harness failure. */
static void start_thread(worker *w, void *(*fn)(void *)) {
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 1u << 20);
    int rc = pthread_create(&w->th, &at, fn, w);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        fprintf(stderr, "ak-load: cannot start a thread: %s\n", strerror(rc));
        exit(2);
    }
}

static int cmd_run(const char *path) {
    const char *api = need_env("AK_API_URL");
    uint64_t chain_id = strtoull(need_env("AK_CHAIN_ID"), NULL, 10);
    const char *s3 = need_env("AK_S3_ENDPOINT");
    const char *bucket = env_or("AK_VAULT_BUCKET", "ak-vault");
    const char *region = env_or("AWS_REGION", "us-east-1");
    const char *hook = getenv("LOAD_HOOK");
    g_threads = (unsigned)env_num("LOAD_THREADS", 16);
    g_names = (unsigned)env_num("LOAD_NAMES", 3);
    double phase_s = (double)env_num("LOAD_PHASE_SECONDS", 20);
    g_ops_limit = env_num("LOAD_OPS", 0);
    unsigned timeout_ms = (unsigned)env_num("LOAD_TIMEOUT_MS", 30000);
    g_mint_max = (unsigned)env_num("LOAD_MINTS", 8);
    if (g_mint_max < 1) g_mint_max = 1;
    if (g_threads < 1 || g_threads > 256 || g_names < 1 || g_names > MAX_NAMES || phase_s < 2) {
        fprintf(stderr, "ak-load: LOAD_THREADS 1..256, LOAD_NAMES 1..%d, LOAD_PHASE_SECONDS >= 2\n",
                MAX_NAMES);
        return 2;
    }
    /* phases */
    char phases[512];
    snprintf(phases, sizeof(phases), "%s",
             env_or("LOAD_PHASES", "steady,signer,s3,chain,fnkill,epoch,after"));
    snprintf(g_ph[0].name, sizeof(g_ph[0].name), "login");
    g_n_ph = 1;
    for (char *save = NULL, *tok = strtok_r(phases, ",", &save); tok != NULL && g_n_ph <= MAX_PHASES;
         tok = strtok_r(NULL, ",", &save))
        snprintf(g_ph[g_n_ph++].name, sizeof(g_ph[0].name), "%s", tok);
    snprintf(g_ph[g_n_ph + 1].name, sizeof(g_ph[0].name), "verify");
    for (unsigned i = 0; i < g_n_ph + 2; i++)
        pthread_mutex_init(&g_ph[i].mu, NULL);

    /* agents */
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "ak-load: cannot read %s\n", path);
        return 2;
    }
    char line[512];
    unsigned cap = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (g_n_agents == cap) {
            cap = cap ? cap * 2 : 64;
            agent *na = realloc(g_agents, cap * sizeof(*na));
            if (na == NULL) return 2;
            g_agents = na;
        }
        agent *a = &g_agents[g_n_agents];
        memset(a, 0, sizeof(*a));
        char kh[65];
        if (strlen(line) < 64 + 1 + 42 + 1 + 64) continue;
        memcpy(kh, line, 64);
        kh[64] = '\0';
        memcpy(a->addr, line + 65, 42);
        memcpy(a->actor, line + 108, 64);
        if (ak_hex_decode_exact(ak_cur_from_str(kh), false, a->key, 32) != AK_OK) continue;
        ak_wipe(kh, sizeof(kh));
        for (unsigned nm = 0; nm < MAX_NAMES; nm++)
            a->names[nm].last_phase = -1;
        g_n_agents++;
    }
    ak_wipe(line, sizeof(line));
    fclose(f);
    if (g_n_agents == 0) {
        fprintf(stderr, "ak-load: no agents in %s\n", path);
        return 2;
    }
    if (g_threads > g_n_agents) g_threads = g_n_agents;
    ak_client_config *cfgs = calloc(g_n_agents, sizeof(*cfgs));
    if (cfgs == NULL) return 2;
    for (unsigned i = 0; i < g_n_agents; i++) {
        cfgs[i] = (ak_client_config){.api_url = api,
                                     .chain_id = chain_id,
                                     .get_key = agent_key,
                                     .key_ud = &g_agents[i],
                                     .address = g_agents[i].addr,
                                     .s3_endpoint = s3,
                                     .region = region,
                                     .vault_bucket = bucket,
                                     .timeout_ms = timeout_ms};
        if (ak_client_new(&cfgs[i], &g_agents[i].cl) != AK_OK) {
            fprintf(stderr, "ak-load: cannot create client %u\n", i);
            return 2;
        }
    }
    worker *ws = calloc(g_threads, sizeof(*ws));
    if (ws == NULL) return 2;
    for (unsigned i = 0; i < g_threads; i++) {
        ws[i].id = i;
        if (ak_random(&ws[i].rs, sizeof(ws[i].rs)) != AK_OK || ws[i].rs == 0)
            ws[i].rs = 0x9e3779b97f4a7c15ull + i;
    }
    printf("ak-load: %u agents, %u in flight, %u names each, phases of %.0f s%s%s\n", g_n_agents, g_threads,
           g_names, phase_s, hook ? ", faults by " : "", hook ? hook : "");
    fflush(stdout);
    int harness = 0;

    /* login: every agent's session and STS credentials */
    double t0 = now_s();
    atomic_store(&g_phase, 0);
    for (unsigned i = 0; i < g_threads; i++)
        start_thread(&ws[i], login_main);
    for (unsigned i = 0; i < g_threads; i++)
        pthread_join(ws[i].th, NULL);
    g_ph[0].seconds = now_s() - t0;

    /* the phases */
    atomic_store(&g_phase, 1);
    for (unsigned i = 0; i < g_threads; i++)
        start_thread(&ws[i], worker_main);
    for (unsigned ph = 1; ph < g_n_ph && !harness; ph++) {
        phase_stats *p = &g_ph[ph];
        atomic_store(&g_phase_ops, 0);
        atomic_store(&g_phase, (int)ph);
        double start = now_s();
        fprintf(stderr, "ak-load: phase %s\n", p->name);
        bool fault = strcmp(p->name, "steady") != 0 && strcmp(p->name, "after") != 0;
        if (fault) {
            sleep_s(start + phase_s * 0.25 - now_s());
            harness |= run_hook(hook, "start", p->name);
            sleep_s(start + phase_s * 0.60 - now_s());
            harness |= run_hook(hook, "stop", p->name);
        }
        sleep_s(start + phase_s - now_s());
        p->seconds = now_s() - start;
    }
    atomic_store(&g_stop, true);
    for (unsigned i = 0; i < g_threads; i++)
        pthread_join(ws[i].th, NULL);

    if (env_num("LOAD_INJECT", 0) == 1) harness |= inject_faults(s3, region, bucket);

    /* verify: every agent lists and fetches everything */
    fprintf(stderr, "ak-load: verify\n");
    t0 = now_s();
    g_verify_deadline = t0 + (double)env_num("LOAD_VERIFY_SECONDS", 120);
    for (unsigned i = 0; i < g_threads; i++)
        start_thread(&ws[i], verify_main);
    for (unsigned i = 0; i < g_threads; i++)
        pthread_join(ws[i].th, NULL);
    g_ph[g_n_ph + 1].seconds = now_s() - t0;

    uint64_t lost = 0, half = 0, wrong = 0;
    printf("\n| phase    | secs   | requests |       ok |  error | lost | half |  p50 ms  |  p99 ms  | "
           "errors by "
           "reason (status:reason=count) |\n");
    printf(
        "|----------|--------|----------|----------|--------|------|------|----------|----------|------|\n");
    for (unsigned i = 0; i < g_n_ph + 2; i++) {
        if (i == g_n_ph) continue;
        print_row(&g_ph[i]);
        lost += g_ph[i].lost;
        half += g_ph[i].half;
        wrong += g_ph[i].wrong_read;
    }
    unsigned broken = atomic_load(&g_verify_broken);
    printf("\nlost %" PRIu64 ", half-written %" PRIu64 ", wrong reads %" PRIu64
           ", unverifiable %u (lost/half are "
           "counted in the phase of the last acknowledged store)\n",
           lost, half, wrong, broken);
    for (unsigned i = 0; i < g_n_agents; i++) {
        ak_client_free(g_agents[i].cl);
        ak_wipe(g_agents[i].key, 32);
    }
    free(cfgs);
    free(ws);
    if (lost || half || wrong) return 1;
    return harness || broken ? 2 : 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "register") == 0) {
        unsigned long n = strtoul(argv[2], NULL, 10);
        if (n < 1 || n > 100000) {
            fprintf(stderr, "ak-load: N must be 1..100000\n");
            return 2;
        }
        return cmd_register((unsigned)n, argv[3]);
    }
    if (argc == 3 && strcmp(argv[1], "run") == 0) return cmd_run(argv[2]);
    fprintf(stderr, "usage: ak-load register N FILE | ak-load run FILE   (see tests/load/README.md)\n");
    return 2;
}
