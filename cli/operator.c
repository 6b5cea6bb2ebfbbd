/*
 * cli/operator.c — the operator's chain commands of `agentkeys` (issue 13; OPERATOR helper):
 * first master, agents, scopes, more masters and M-of-N recovery, the K3 epoch, audit anchors.
 *
 * Every transaction is built, signed (EIP-1559) and sent here with libak (ak/chain.h: estimate
 * first, so a revert is reported in words and nothing is sent; then a bounded wait for the
 * receipt with progress on stderr). The contract calls are those of contracts/README.md and
 * tests/lib/akclient.sh. Settings: rpc_url, chain_id, registry, scope_contract,
 * epoch_contract, audit_contract, wallet (+ password_file), passkey, operator (the operator id
 * when the wallet is not the first master; default omni(wallet)).
 *
 * Blobs that cross machines carry no secret (text, '.'-separated, hex without 0x):
 *   consent   akconsent1.<agent address>.<operator omni>.<chain id>.<registry>.<EIP-191 sig 65 B>
 *             (`agent consent` on the agent's machine -> `agent add` on the operator's)
 *   action    akaction1.add.<op>.<new wallet>.<cred id>.<rp id hash>.<pub x>.<pub y>.<roles>
 *             akaction1.revoke.<op>.<target device key hash>
 *             akaction1.threshold.<op>.<M>
 *             (`master request`, `master revoke --request`, `recovery threshold M --request`)
 *   approval  akapproval1.<challenge>.<approver device key hash>.<authenticatorData>.<clientDataJSON>.<r>.<s>
 *             (`master approve ACTION` on each approving master's machine)
 * M-of-N: the contracts verify every approval against the approver's registered passkey and the
 * operator nonce in the challenge; a sender that is itself a recovery master with a passkey at
 * hand adds its own approval when the ones given are fewer than the threshold.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ak/abi.h"
#include "ak/alloc.h"
#include "ak/audit.h"
#include "ak/audit_anchor.h"
#include "ak/chain.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/evm.h"
#include "ak/http.h"
#include "ak/identity.h"
#include "ak/json.h"
#include "ak/s3.h"
#include "ak/signer.h"
#include "agent.h"
#include "cli.h"
#include "passkey.h"
#include "wallet.h"

#define S_K11 "(bytes32,bytes,bytes,uint256,uint256)"
#define S_MAX_APPROVALS 16
#define S_DEFAULT_RPID "agentkeys.local"

/* ================================================================ context */

typedef struct s_ctx {
    akcli *c;
    ak_http *http;
    ak_evm_rpc rpc;
    bool rpc_ok;
    uint8_t key[32];
    bool has_key;
    uint8_t addr[20];
    uint8_t dkh[32];
    ak_omni op;
    char what[96];     /* the transaction being sent, for progress lines */
    int64_t last_note; /* elapsed ms of the last "still waiting" line */
    bool dry_run;
} s_ctx;

static void s_close(s_ctx *x) {
    ak_wipe(x->key, sizeof(x->key));
    if (x->rpc_ok) ak_evm_rpc_free(&x->rpc);
    ak_http_free(x->http);
    x->http = NULL;
    x->rpc_ok = false;
}

/* A setting that must be there. */
static const char *s_need(s_ctx *x, const char *key, char *buf, size_t cap) {
    const char *v = akcli_conf(x->c, key);
    if (v == NULL || v[0] == '\0') return NULL;
    snprintf(buf, cap, "%s", v);
    return buf;
}

static int s_missing(s_ctx *x, const char *key) {
    return akcli_fail(x->c, AKCLI_USAGE, "config_error",
                      "the `%s` setting is missing (agentkeys config import-env FILE, or AGENTKEYS_%s)", key,
                      strcmp(key, "rpc_url") == 0          ? "RPC_URL"
                      : strcmp(key, "registry") == 0       ? "REGISTRY"
                      : strcmp(key, "scope_contract") == 0 ? "SCOPE_CONTRACT"
                      : strcmp(key, "epoch_contract") == 0 ? "EPOCH_CONTRACT"
                      : strcmp(key, "audit_contract") == 0 ? "AUDIT_CONTRACT"
                      : strcmp(key, "chain_id") == 0       ? "CHAIN_ID"
                                                           : "...");
}

/* The contract address of setting `key`. */
static int s_contract(s_ctx *x, const char *key, uint8_t out[20]) {
    char buf[128];
    if (s_need(x, key, buf, sizeof(buf)) == NULL) return s_missing(x, key);
    if (ak_eth_address_parse(ak_cur_from_str(buf), out) != AK_OK)
        return akcli_fail(x->c, AKCLI_USAGE, "invalid_address", "the `%s` setting is not an address", key);
    return AKCLI_OK;
}

/* Opens the RPC; with `need_key` also loads the wallet and sets addr, dkh and the operator
 * (`operator_flag` > the `operator` setting > omni(wallet)). */
static int s_open(akcli *c, s_ctx *x, bool need_key, const char *operator_flag) {
    memset(x, 0, sizeof(*x));
    x->c = c;
    char url[1024];
    if (s_need(x, "rpc_url", url, sizeof(url)) == NULL) return s_missing(x, "rpc_url");
    ak_http_config hc = {.user_agent = "agentkeys-cli/1"};
    ak_err e = ak_http_new(&hc, &x->http);
    if (e != AK_OK) return akcli_fail_err(c, e, "cannot start the HTTP client");
    /* the rpc keeps a borrowed pointer: keep the URL alive in a static buffer of this process */
    static char s_url[1024];
    memcpy(s_url, url, sizeof(s_url));
    ak_evm_rpc_init(&x->rpc, x->http, s_url);
    x->rpc_ok = true;
    if (need_key) {
        int rc = akcli_wallet_load(c, x->key);
        if (rc != AKCLI_OK) return rc;
        x->has_key = true;
        uint8_t pub[65];
        e = ak_secp256k1_pubkey(x->key, pub);
        if (e != AK_OK) return akcli_fail_err(c, e, "the wallet key is not valid");
        ak_eth_address_from_pub(pub, x->addr);
        ak_device_key_hash(x->addr, x->dkh);
    }
    const char *opv = operator_flag != NULL ? operator_flag : akcli_conf(c, "operator");
    if (opv != NULL && opv[0] != '\0') {
        if (ak_omni_parse(ak_cur_from_str(opv), &x->op) != AK_OK)
            return akcli_fail(c, AKCLI_USAGE, "invalid_omni", "--operator must be 64 hex characters");
    } else if (need_key) {
        ak_omni_from_address(x->addr, &x->op);
    }
    return AKCLI_OK;
}

/* s_open, then the contract address of setting `contract_key` into `contract`. */
static int s_open_with(akcli *c, s_ctx *x, bool need_key, const char *operator_flag, const char *contract_key,
                       uint8_t contract[20]) {
    int rc = s_open(c, x, need_key, operator_flag);
    if (rc == AKCLI_OK) rc = s_contract(x, contract_key, contract);
    return rc;
}

/* Whether the wallet is needed to know the operator: neither `operator_flag` nor the `operator`
 * setting names one (read-only commands need the wallet for nothing else). */
static bool s_wallet_names_operator(akcli *c, const char *operator_flag) {
    const char *opc = akcli_conf(c, "operator");
    return operator_flag == NULL && (opc == NULL || opc[0] == '\0');
}

static int s_rpc_fail(s_ctx *x, ak_err e, const char *what) {
    if (e == AK_E_CHAIN_RPC || e == AK_E_UPSTREAM_TIMEOUT)
        return akcli_fail(x->c, AKCLI_NETWORK, ak_err_reason(e), "%s: the chain RPC failed%s%s", what,
                          x->rpc.err_msg[0] ? ": " : "", x->rpc.err_msg);
    return akcli_fail_err(x->c, e, "%s", what);
}

/* eth_call with a revert in words. */
static int s_call(s_ctx *x, const uint8_t to[20], const char *sig, const ak_abi_val *args, size_t n,
                  ak_buf *ret) {
    char reason[512];
    ak_buf_clear(ret);
    ak_err e =
        ak_chain_call(&x->rpc, x->has_key ? x->addr : NULL, to, sig, args, n, ret, reason, sizeof(reason));
    if (e == AK_E_CHAIN_REVERTED)
        return akcli_fail(x->c, AKCLI_CHAIN, "chain_reverted", "%s: %s", sig, reason);
    if (e != AK_OK) return s_rpc_fail(x, e, sig);
    return AKCLI_OK;
}

static int s_call_b32(s_ctx *x, const uint8_t to[20], const char *sig, const ak_abi_val *args, size_t n,
                      uint8_t out[32]) {
    ak_buf ret;
    ak_buf_init(&ret, 4096);
    int rc = s_call(x, to, sig, args, n, &ret);
    ak_abi_dec d;
    ak_abi_dec_init(&d, ak_buf_cur(&ret));
    if (rc == AKCLI_OK && ak_abi_dec_bytes32(&d, out) != AK_OK)
        rc = akcli_fail(x->c, AKCLI_NETWORK, "chain_rpc_error", "%s: unexpected return data", sig);
    ak_buf_free(&ret);
    return rc;
}

static int s_call_u64(s_ctx *x, const uint8_t to[20], const char *sig, const ak_abi_val *args, size_t n,
                      uint64_t *out) {
    ak_buf ret;
    ak_buf_init(&ret, 4096);
    int rc = s_call(x, to, sig, args, n, &ret);
    ak_abi_dec d;
    ak_abi_dec_init(&d, ak_buf_cur(&ret));
    if (rc == AKCLI_OK && ak_abi_dec_u64(&d, 256, out) != AK_OK)
        rc = akcli_fail(x->c, AKCLI_NETWORK, "chain_rpc_error", "%s: unexpected return data", sig);
    ak_buf_free(&ret);
    return rc;
}

static int s_device(s_ctx *x, const uint8_t registry[20], const uint8_t dkh[32], ak_device_entry *out) {
    ak_err e = ak_registry_get_device(&x->rpc, registry, dkh, out);
    return e == AK_OK ? AKCLI_OK : s_rpc_fail(x, e, "getDevice");
}

/* ================================================================ output */

static void s_hex0x(const uint8_t *p, size_t n, char *out) {
    out[0] = '0';
    out[1] = 'x';
    ak_hex_encode(p, n, out + 2);
}

static json_t *s_jhex(const uint8_t *p, size_t n) {
    char buf[2 * 64 + 3];
    if (n > 64) return NULL;
    s_hex0x(p, n, buf);
    return json_string(buf);
}

/* Prints `o` (consumed) as one JSON line on stdout. */
static int s_emit_json(s_ctx *x, json_t *o) {
    ak_buf b;
    ak_buf_init(&b, 1u << 20);
    ak_err e = o != NULL ? ak_json_dump(o, &b) : AK_E_NOMEM;
    json_decref(o);
    if (e == AK_OK) printf("%s\n", ak_buf_cstr(&b));
    ak_buf_free(&b);
    return e == AK_OK ? AKCLI_OK : akcli_fail_err(x->c, e, "cannot print the result");
}

static json_t *s_tx_json(const ak_chain_result *r) {
    json_t *t = json_object();
    if (t == NULL) return NULL;
    json_object_set_new(t, "tx", s_jhex(r->tx_hash, 32));
    json_object_set_new(t, "block", json_integer((json_int_t)r->receipt.block_number));
    json_object_set_new(t, "gas_used", json_integer((json_int_t)r->receipt.gas_used));
    json_object_set_new(t, "nonce", json_integer((json_int_t)r->nonce));
    return t;
}

static void s_tx_text(const ak_chain_result *r) {
    char h[67];
    s_hex0x(r->tx_hash, 32, h);
    printf("tx %s block %llu gas_used %llu\n", h, (unsigned long long)r->receipt.block_number,
           (unsigned long long)r->receipt.gas_used);
}

/* A command's result: with --json `o` (consumed; the transaction `r`, when there is one, added as
 * "tx") as one line, else the text `fmt` and the transaction's line. */
__attribute__((format(printf, 4, 5))) static int s_result(s_ctx *x, json_t *o, const ak_chain_result *r,
                                                          const char *fmt, ...) {
    if (akcli_json(x->c)) {
        if (o != NULL && r != NULL) json_object_set_new(o, "tx", s_tx_json(r));
        return s_emit_json(x, o);
    }
    json_decref(o);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (r != NULL) s_tx_text(r);
    return AKCLI_OK;
}

/* ================================================================ transactions */

static void s_on_progress(void *ud, ak_chain_stage st, const uint8_t h[32], int64_t ms) {
    s_ctx *x = ud;
    char hh[67];
    s_hex0x(h, 32, hh);
    switch (st) {
        case AK_CHAIN_SENT:
            akcli_note(x->c, "%s: sent %s, waiting for the receipt", x->what, hh);
            x->last_note = 0;
            break;
        case AK_CHAIN_WAITING:
            if (ms - x->last_note >= 2000) {
                akcli_note(x->c, "%s: still waiting for %s (%lld s)", x->what, hh, (long long)(ms / 1000));
                x->last_note = ms;
            }
            break;
        case AK_CHAIN_MINED:
            akcli_note(x->c, "%s: mined after %lld ms", x->what, (long long)ms);
            break;
        default:
            break;
    }
}

/* Sends selector(sig) ‖ args to `to` from the wallet. On success prints nothing (callers print
 * their data); on failure prints why (a revert in words) and returns the AKCLI code. */
static int s_send(s_ctx *x, const char *what, const uint8_t to[20], const char *sig, const ak_abi_val *args,
                  size_t n, ak_chain_result *r) {
    ak_buf cd;
    ak_buf_init(&cd, 1u << 20);
    ak_err e = ak_abi_encode_call(sig, args, n, &cd);
    if (e != AK_OK) {
        ak_buf_free(&cd);
        return akcli_fail_err(x->c, e, "%s: cannot encode the call", what);
    }
    snprintf(x->what, sizeof(x->what), "%s", what);
    ak_chain_send_opts o = {.wait_ms = 120000,
                            .poll_ms = 200,
                            .dry_run = x->dry_run,
                            .progress = s_on_progress,
                            .progress_ud = x};
    e = ak_chain_send(&x->rpc, x->key, to, ak_buf_cur(&cd), &o, r);
    ak_buf_free(&cd);
    char hh[67];
    s_hex0x(r->tx_hash, 32, hh);
    if (e == AK_E_CHAIN_REVERTED)
        return akcli_fail(x->c, AKCLI_CHAIN, "chain_reverted", "%s %s: %s", what,
                          r->sent ? "reverted on chain" : "would revert (nothing sent)", r->reason);
    if (e == AK_E_DEADLINE)
        return akcli_fail(
            x->c, AKCLI_NETWORK, "deadline_exceeded",
            "%s: no receipt for %s within 120 s (it may still be mined; check before resending)", what, hh);
    if (e != AK_OK) return s_rpc_fail(x, e, what);
    if (x->dry_run)
        akcli_note(x->c, "%s: dry run, nothing sent (gas estimate %llu)", what,
                   (unsigned long long)r->gas_estimate);
    else
        akcli_note(x->c, "%s: ok, gas used %llu", what, (unsigned long long)r->receipt.gas_used);
    return AKCLI_OK;
}

/* ================================================================ argument parsing */

typedef struct s_flag {
    const char *name; /* "--passkey" */
    bool value;       /* takes a value */
    const char *val;  /* the value (or "1" for a set boolean) */
} s_flag;

/* Splits argv into the flags of `f` (NULL-name terminated) and positionals. */
static int s_args(akcli *c, int argc, char **argv, s_flag *f, char **pos, int *npos, int maxpos) {
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
            s_flag *hit = NULL;
            const char *eq = strchr(a, '=');
            size_t nl = eq ? (size_t)(eq - a) : strlen(a);
            for (s_flag *g = f; g->name != NULL; g++)
                if (strlen(g->name) == nl && strncmp(g->name, a, nl) == 0) hit = g;
            if (hit == NULL) return akcli_usage(c, "unknown option %s", a);
            if (hit->value) {
                if (eq != NULL)
                    hit->val = eq + 1;
                else if (i + 1 < argc)
                    hit->val = argv[++i];
                else
                    return akcli_usage(c, "%s needs a value", hit->name);
            } else {
                if (eq != NULL) return akcli_usage(c, "%s takes no value", hit->name);
                hit->val = "1";
            }
            continue;
        }
        if (*npos >= maxpos) return akcli_usage(c, "too many arguments");
        pos[(*npos)++] = argv[i];
    }
    return AKCLI_OK;
}

/* The flags of `f`, no positional. */
static int s_args_none(akcli *c, int argc, char **argv, s_flag *f) {
    char *pos[1];
    int npos;
    return s_args(c, argc, argv, f, pos, &npos, 0);
}

/* The flags of `f` and exactly one positional, `what` (for the usage error), into *arg. */
static int s_args_one(akcli *c, int argc, char **argv, s_flag *f, const char *what, char **arg) {
    char *pos[1];
    int npos, rc = s_args(c, argc, argv, f, pos, &npos, 1);
    if (rc != AKCLI_OK) return rc;
    if (npos != 1) return akcli_usage(c, "%s is required", what);
    *arg = pos[0];
    return AKCLI_OK;
}

static const char *s_flagv(const s_flag *f, const char *name) {
    for (; f->name != NULL; f++)
        if (strcmp(f->name, name) == 0) return f->val;
    return NULL;
}

static bool s_parse_u64(const char *s, uint64_t *out) {
    return s != NULL && ak_cur_to_u64(ak_cur_from_str(s), out) == AK_OK;
}

/* Splits a blob at '.' into at most `cap` parts (views into `blob`). */
static size_t s_split(const char *blob, ak_cur *parts, size_t cap) {
    size_t n = 0;
    const char *p = blob;
    for (;;) {
        const char *d = strchr(p, '.');
        size_t l = d ? (size_t)(d - p) : strlen(p);
        if (n < cap) parts[n] = ak_cur_from(p, l);
        n++;
        if (d == NULL) break;
        p = d + 1;
    }
    return n;
}

static bool s_hexn(ak_cur t, uint8_t *out, size_t n) {
    return ak_hex_decode_exact(t, false, out, n) == AK_OK;
}

/* An agent or device named by address (0x + 40 hex) or by omni (64 hex). */
typedef struct s_who {
    bool has_addr;
    uint8_t addr[20];
    ak_omni omni;
} s_who;

static int s_who_parse(akcli *c, const char *text, s_who *w) {
    memset(w, 0, sizeof(*w));
    size_t n = strlen(text);
    if (n == 42 && ak_eth_address_parse(ak_cur_from_str(text), w->addr) == AK_OK) {
        w->has_addr = true;
        ak_omni_from_address(w->addr, &w->omni);
        return AKCLI_OK;
    }
    if (ak_omni_parse(ak_cur_from_str(text), &w->omni) == AK_OK) return AKCLI_OK;
    return akcli_usage(c, "AGENT must be an address (0x + 40 hex) or an omni id (64 hex): %s", text);
}

/* The flags of `f` and exactly one positional, AGENT (address or omni), into `w`. */
static int s_args_agent(akcli *c, int argc, char **argv, s_flag *f, s_who *w) {
    char *arg;
    int rc = s_args_one(c, argc, argv, f, "AGENT (address or omni)", &arg);
    return rc != AKCLI_OK ? rc : s_who_parse(c, arg, w);
}

/* ================================================================ operator devices */

typedef struct s_dev {
    uint8_t dkh[32];
    uint8_t wallet[20];
    ak_device_entry e;
} s_dev;

/* All devices ever registered under the operator (getOperatorDevices), with entry and wallet. */
static int s_devices(s_ctx *x, const uint8_t registry[20], s_dev **out, size_t *n) {
    *out = NULL;
    *n = 0;
    ak_buf ret;
    ak_buf_init(&ret, 1u << 20);
    ak_abi_val a[] = {ak_abi_bytes32(x->op.b)};
    int rc = s_call(x, registry, "getOperatorDevices(bytes32)", a, 1, &ret);
    ak_abi_dec d, sub;
    size_t count = 0;
    s_dev *list = NULL;
    if (rc != AKCLI_OK) goto out;
    ak_abi_dec_init(&d, ak_buf_cur(&ret));
    if (ak_abi_dec_array(&d, &sub, &count) != AK_OK || count > 100000) {
        rc = akcli_fail(x->c, AKCLI_NETWORK, "chain_rpc_error", "getOperatorDevices: unexpected return data");
        goto out;
    }
    list = ak_calloc(count ? count : 1, sizeof(s_dev));
    if (list == NULL) {
        rc = akcli_fail_err(x->c, AK_E_NOMEM, "listing devices");
        goto out;
    }
    for (size_t i = 0; i < count && rc == AKCLI_OK; i++)
        if (ak_abi_dec_bytes32(&sub, list[i].dkh) != AK_OK)
            rc = akcli_fail(x->c, AKCLI_NETWORK, "chain_rpc_error",
                            "getOperatorDevices: unexpected return data");
    ak_buf tmp;
    ak_buf_init(&tmp, 4096);
    for (size_t i = 0; i < count && rc == AKCLI_OK; i++) {
        rc = s_device(x, registry, list[i].dkh, &list[i].e);
        ak_abi_val b[] = {ak_abi_bytes32(list[i].dkh)};
        if (rc == AKCLI_OK) rc = s_call(x, registry, "deviceWallet(bytes32)", b, 1, &tmp);
        ak_abi_dec_init(&d, ak_buf_cur(&tmp));
        if (rc == AKCLI_OK && ak_abi_dec_address(&d, list[i].wallet) != AK_OK)
            rc = akcli_fail(x->c, AKCLI_NETWORK, "chain_rpc_error", "deviceWallet: unexpected return data");
    }
    ak_buf_free(&tmp);
out:
    ak_buf_free(&ret);
    if (rc != AKCLI_OK) {
        ak_free(list);
        return rc;
    }
    *out = list;
    *n = count;
    return AKCLI_OK;
}

/* The device key hash of an agent named by address or omni (an omni is looked up among the
 * operator's devices). */
static int s_resolve_dkh(s_ctx *x, const uint8_t registry[20], const s_who *w, uint8_t dkh[32]) {
    if (w->has_addr) {
        ak_device_key_hash(w->addr, dkh);
        return AKCLI_OK;
    }
    s_dev *list = NULL;
    size_t n = 0;
    int rc = s_devices(x, registry, &list, &n);
    if (rc != AKCLI_OK) return rc;
    rc = AKCLI_NOT_FOUND;
    for (size_t i = 0; i < n; i++)
        if (memcmp(list[i].e.actor_omni, w->omni.b, 32) == 0) {
            memcpy(dkh, list[i].dkh, 32);
            rc = AKCLI_OK;
        }
    ak_free(list);
    if (rc != AKCLI_OK)
        return akcli_fail(x->c, AKCLI_NOT_FOUND, "not_found", "no device of this operator has that omni");
    return AKCLI_OK;
}

static const char *s_roles_text(uint8_t r, char *buf, size_t cap) {
    snprintf(buf, cap, "%s%s%s%s", r & AK_ROLE_CAP_MINT ? "cap_mint," : "",
             r & AK_ROLE_RECOVERY ? "recovery," : "", r & AK_ROLE_SCOPE_MGMT ? "scope," : "",
             r == 0 ? "none," : "");
    size_t l = strlen(buf);
    if (l > 0) buf[l - 1] = '\0';
    return buf;
}

/* ================================================================ operator init */

static int s_open_passkey(s_ctx *x, const s_flag *f, akcli_passkey *pk) {
    return akcli_passkey_open(x->c, s_flagv(f, "--passkey"), pk);
}

static int s_operator_init(akcli *c, int argc, char **argv) {
    s_flag f[] = {
        {"--passkey", true, NULL}, {"--rp-id", true, NULL}, {"--roles", true, NULL}, {NULL, false, NULL}};
    int rc = s_args_none(c, argc, argv, f);
    if (rc != AKCLI_OK) return rc;
    uint64_t roles = 7;
    if (s_flagv(f, "--roles") && (!s_parse_u64(s_flagv(f, "--roles"), &roles) || roles == 0 || roles > 7))
        return akcli_usage(c, "--roles is a number 1..7 (1 cap_mint, 2 recovery, 4 scope)");
    s_ctx x;
    akcli_passkey pk;
    akcli_passkey_pub pub;
    uint8_t registry[20];
    ak_chain_result r;
    memset(&r, 0, sizeof(r));
    bool created = false, already = false;
    rc = s_open_with(c, &x, true, NULL, "registry", registry);
    if (rc == AKCLI_OK) rc = s_open_passkey(&x, f, &pk);
    const char *rpid = s_flagv(f, "--rp-id") ? s_flagv(f, "--rp-id") : S_DEFAULT_RPID;
    if (rc == AKCLI_OK) rc = akcli_passkey_enroll(c, &pk, rpid, &pub, &created);
    if (rc == AKCLI_OK && created) akcli_note(c, "created a new passkey in %s (rp id %s)", pk.arg, pub.rp_id);
    ak_device_entry dev;
    if (rc == AKCLI_OK) rc = s_device(&x, registry, x.dkh, &dev);
    ak_omni own;
    ak_omni_from_address(x.addr, &own);
    if (rc == AKCLI_OK && dev.registered_at != 0) {
        /* idempotent: this wallet is already the first master with this passkey */
        if (dev.tier == AK_DEVICE_TIER_MASTER && !dev.revoked && memcmp(dev.operator_omni, own.b, 32) == 0 &&
            memcmp(dev.k11_cred_id, pub.cred_id, 32) == 0) {
            already = true;
            akcli_note(c, "this wallet is already the first master of its operator; nothing to do");
        } else {
            rc = akcli_fail(c, AKCLI_ERR, "conflict",
                            "this wallet is already registered (as another device or with another passkey)");
        }
    }
    if (rc == AKCLI_OK && !already) {
        uint8_t ch[32];
        ak_abi_val a[] = {ak_abi_address(x.addr),         ak_abi_bytes32(pub.cred_id),
                          ak_abi_bytes32(pub.rp_id_hash), ak_abi_uint256_be(pub.pub_x),
                          ak_abi_uint256_be(pub.pub_y),   ak_abi_uint(8, roles)};
        rc = s_call_b32(&x, registry, "firstMasterChallenge(address,bytes32,bytes32,uint256,uint256,uint8)",
                        a, 6, ch);
        ak_passkey_assertion as;
        if (rc == AKCLI_OK) rc = akcli_passkey_assert(c, &pk, ch, NULL, 0, &as);
        ak_abi_val t[5];
        ak_abi_val b[] = {ak_abi_bytes32(pub.cred_id),  ak_abi_bytes32(pub.rp_id_hash),
                          ak_abi_uint256_be(pub.pub_x), ak_abi_uint256_be(pub.pub_y),
                          ak_abi_uint(8, roles),        ak_passkey_assertion_abi(&as, t)};
        if (rc == AKCLI_OK)
            rc = s_send(&x, "registerFirstMasterDevice", registry,
                        "registerFirstMasterDevice(bytes32,bytes32,uint256,uint256,uint8," S_K11 ")", b, 6,
                        &r);
    }
    if (rc == AKCLI_OK) {
        char oh[67], dh[67], ah[43];
        ak_omni_hex0x(&own, oh);
        ak_hash32_hex0x(x.dkh, dh);
        ak_eth_address_hex(x.addr, ah);
        rc = s_result(&x,
                      json_pack("{s:s, s:s, s:s, s:b}", "operator_omni", oh, "wallet", ah, "device_key_hash",
                                dh, "already_registered", already),
                      already ? NULL : &r, "operator %s\nmaster %s\ndevice_key_hash %s\n", oh, ah, dh);
    }
    s_close(&x);
    return rc;
}

/* ================================================================ agents */

static int s_agent_consent(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--operator", true, NULL}, {NULL, false, NULL}};
    int rc = s_args_none(c, argc, argv, f);
    if (rc != AKCLI_OK) return rc;
    if (s_flagv(f, "--operator") == NULL) return akcli_usage(c, "--operator OPERATOR_OMNI is required");
    ak_omni op;
    if (ak_omni_parse(ak_cur_from_str(s_flagv(f, "--operator")), &op) != AK_OK)
        return akcli_usage(c, "--operator must be 64 hex characters");
    /* Computed here, not asked of a node: agentConsentMessage(op, agent) =
     * keccak256(abi.encode(OP_AGENT_CONSENT, chainid, registry, op, agent)) (SidecarRegistry). */
    char cid[64], regs[128];
    uint8_t registry[20], key[32], pub[65], addr[20];
    uint64_t chain_id = 0;
    const char *v = akcli_conf(c, "chain_id");
    if (v == NULL || !s_parse_u64(v, &chain_id))
        return akcli_fail(c, AKCLI_USAGE, "config_error",
                          "the `chain_id` setting is missing or not a number");
    snprintf(cid, sizeof(cid), "%llu", (unsigned long long)chain_id);
    v = akcli_conf(c, "registry");
    if (v == NULL || ak_eth_address_parse(ak_cur_from_str(v), registry) != AK_OK)
        return akcli_fail(c, AKCLI_USAGE, "config_error",
                          "the `registry` setting is missing or not an address");
    snprintf(regs, sizeof(regs), "%s", v);
    rc = akcli_wallet_load(c, key);
    if (rc != AKCLI_OK) return rc;
    uint8_t tag[32], msg[32], digest[32], sig[65];
    ak_buf enc;
    ak_buf_init(&enc, 4096);
    ak_keccak256("agentkeys:v1:agent-consent", 26, tag);
    ak_err e = ak_secp256k1_pubkey(key, pub);
    if (e == AK_OK) {
        ak_eth_address_from_pub(pub, addr);
        ak_abi_val a[] = {ak_abi_bytes32(tag), ak_abi_u64(chain_id), ak_abi_address(registry),
                          ak_abi_bytes32(op.b), ak_abi_address(addr)};
        e = ak_abi_encode(a, 5, &enc);
    }
    if (e == AK_OK) {
        ak_keccak256(enc.ptr, enc.len, msg);
        ak_eip191_hash(msg, 32, digest);
        e = ak_secp256k1_sign(key, digest, sig);
    }
    ak_wipe(key, sizeof(key));
    ak_buf_free(&enc);
    if (e != AK_OK) return akcli_fail_err(c, e, "cannot sign the consent");
    char ah[41], oh[65], rh[41], sh[131];
    ak_hex_encode(addr, 20, ah);
    ak_omni_hex(&op, oh);
    ak_hex_encode(registry, 20, rh);
    ak_hex_encode(sig, 65, sh);
    char blob[512];
    snprintf(blob, sizeof(blob), "akconsent1.%s.%s.%s.%s.%s", ah, oh, cid, rh, sh);
    if (akcli_json(c)) {
        s_ctx x = {.c = c};
        char a0x[43];
        ak_eth_address_hex(addr, a0x);
        return s_emit_json(&x,
                           json_pack("{s:s, s:s, s:s}", "consent", blob, "agent", a0x, "operator_omni", oh));
    }
    printf("%s\n", blob);
    akcli_note(c, "give this line to the operator: agentkeys agent add <it> (it holds no secret)");
    return AKCLI_OK;
}

static int s_agent_add(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--operator", true, NULL}, {NULL, false, NULL}};
    char *blob;
    int rc = s_args_one(c, argc, argv, f, "the consent blob of `agentkeys agent consent`", &blob);
    if (rc != AKCLI_OK) return rc;
    ak_cur p[8];
    uint8_t agent[20], op[32], registry_b[20], sig[65];
    uint64_t chain_id = 0;
    if (s_split(blob, p, 8) != 6 || !ak_cur_eq_str(p[0], "akconsent1") || !s_hexn(p[1], agent, 20) ||
        !s_hexn(p[2], op, 32) || ak_cur_to_u64(p[3], &chain_id) != AK_OK || !s_hexn(p[4], registry_b, 20) ||
        !s_hexn(p[5], sig, 65))
        return akcli_fail(c, AKCLI_USAGE, "invalid_input", "that is not a consent blob (akconsent1....)");
    s_ctx x;
    uint8_t registry[20];
    ak_chain_result r;
    rc = s_open_with(c, &x, true, s_flagv(f, "--operator"), "registry", registry);
    if (rc == AKCLI_OK && (memcmp(op, x.op.b, 32) != 0 || memcmp(registry, registry_b, 20) != 0))
        rc = akcli_fail(c, AKCLI_ERR, "consent_mismatch",
                        "the consent is for another operator or registry than this profile's");
    /* the chain's own message, so a consent for another chain or registry is caught here */
    uint8_t msg[32], digest[32], who[20];
    ak_abi_val a[] = {ak_abi_bytes32(op), ak_abi_address(agent)};
    if (rc == AKCLI_OK) rc = s_call_b32(&x, registry, "agentConsentMessage(bytes32,address)", a, 2, msg);
    if (rc == AKCLI_OK) {
        ak_eip191_hash(msg, 32, digest);
        if (ak_secp256k1_recover(digest, sig, who) != AK_OK || memcmp(who, agent, 20) != 0)
            rc = akcli_fail(
                c, AKCLI_ERR, "consent_invalid",
                "the consent signature is not the agent's over this chain's message (chain id %llu?)",
                (unsigned long long)chain_id);
    }
    ak_abi_val b[] = {ak_abi_bytes32(op), ak_abi_address(agent), ak_abi_bytes(ak_cur_from(sig, 65))};
    if (rc == AKCLI_OK)
        rc = s_send(&x, "registerAgentDevice", registry, "registerAgentDevice(bytes32,address,bytes)", b, 3,
                    &r);
    if (rc == AKCLI_OK) {
        ak_omni ao;
        ak_omni_from_address(agent, &ao);
        uint8_t adkh[32];
        ak_device_key_hash(agent, adkh);
        char ah[43], oh[67], dh[67];
        ak_eth_address_hex(agent, ah);
        ak_omni_hex0x(&ao, oh);
        ak_hash32_hex0x(adkh, dh);
        rc = s_result(&x, json_pack("{s:s, s:s, s:s}", "agent", ah, "actor_omni", oh, "device_key_hash", dh),
                      &r, "agent %s\nactor_omni %s\ndevice_key_hash %s\n", ah, oh, dh);
    }
    s_close(&x);
    return rc;
}

static int s_agent_revoke(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--operator", true, NULL}, {NULL, false, NULL}};
    s_who w;
    int rc = s_args_agent(c, argc, argv, f, &w);
    if (rc != AKCLI_OK) return rc;
    s_ctx x;
    uint8_t registry[20], dkh[32];
    ak_chain_result r;
    rc = s_open_with(c, &x, true, s_flagv(f, "--operator"), "registry", registry);
    if (rc == AKCLI_OK) rc = s_resolve_dkh(&x, registry, &w, dkh);
    ak_abi_val a[] = {ak_abi_bytes32(dkh)};
    if (rc == AKCLI_OK)
        rc = s_send(&x, "revokeAgentDevice", registry, "revokeAgentDevice(bytes32)", a, 1, &r);
    if (rc == AKCLI_OK) {
        char dh[67];
        ak_hash32_hex0x(dkh, dh);
        rc = s_result(&x, json_pack("{s:s, s:b}", "device_key_hash", dh, "revoked", true), &r, "revoked %s\n",
                      dh);
    }
    s_close(&x);
    return rc;
}

static int s_ls(akcli *c, int argc, char **argv, int tier) {
    s_flag f[] = {{"--operator", true, NULL}, {"--all", false, NULL}, {NULL, false, NULL}};
    int rc = s_args_none(c, argc, argv, f);
    if (rc != AKCLI_OK) return rc;
    s_ctx x;
    uint8_t registry[20];
    s_dev *list = NULL;
    size_t n = 0;
    bool all = s_flagv(f, "--all") != NULL;
    /* the wallet is only needed to know the operator when none is given */
    const char *opf = s_flagv(f, "--operator");
    rc = s_open_with(c, &x, s_wallet_names_operator(c, opf), opf, "registry", registry);
    if (rc == AKCLI_OK) rc = s_devices(&x, registry, &list, &n);
    json_t *arr = rc == AKCLI_OK && akcli_json(c) ? json_array() : NULL;
    for (size_t i = 0; rc == AKCLI_OK && i < n; i++) {
        const s_dev *d = &list[i];
        if (!all && d->e.tier != tier) continue;
        char ah[43], oh[67], dh[67], roles[64];
        ak_eth_address_hex(d->wallet, ah);
        ak_hash32_hex0x(d->e.actor_omni, oh);
        ak_hash32_hex0x(d->dkh, dh);
        s_roles_text(d->e.roles, roles, sizeof(roles));
        const char *kind = d->e.tier == AK_DEVICE_TIER_MASTER ? "master" : "agent";
        const char *status = d->e.revoked ? "revoked" : "active";
        if (arr != NULL) {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "address", ah,
                                                 "actor_omni", oh, "device_key_hash", dh, "kind", kind,
                                                 "roles", roles, "status", status, "registered_at",
                                                 (json_int_t)d->e.registered_at, "sign_count",
                                                 (json_int_t)d->e.last_sign_count));
        } else {
            printf("%s  %s  %-6s  %-7s  %s\n", ah, oh, kind, status, roles);
        }
    }
    if (rc == AKCLI_OK && arr != NULL) rc = s_emit_json(&x, arr);
    ak_free(list);
    s_close(&x);
    return rc;
}

static int s_agent_ls(akcli *c, int argc, char **argv) { return s_ls(c, argc, argv, AK_DEVICE_TIER_AGENT); }
static int s_master_ls(akcli *c, int argc, char **argv) { return s_ls(c, argc, argv, AK_DEVICE_TIER_MASTER); }

/* ================================================================ scopes */

typedef struct s_scope {
    bool exists, read_only;
    ak_u256 max_per_call, max_per_period, max_total;
    uint64_t period;
    size_t n;
    uint8_t ids[64][32];
} s_scope;

static int s_get_scope(s_ctx *x, const uint8_t scope[20], const ak_omni *agent, s_scope *out) {
    memset(out, 0, sizeof(*out));
    ak_buf ret;
    ak_buf_init(&ret, 1u << 16);
    ak_abi_val a[] = {ak_abi_bytes32(x->op.b), ak_abi_bytes32(agent->b)};
    int rc = s_call(x, scope, "getScope(bytes32,bytes32)", a, 2, &ret);
    ak_abi_dec d, t, arr;
    size_t n = 0;
    uint64_t upd = 0;
    bool ok = rc == AKCLI_OK;
    if (ok) {
        ak_abi_dec_init(&d, ak_buf_cur(&ret));
        ok = ak_abi_dec_tuple(&d, &t) == AK_OK && ak_abi_dec_array(&t, &arr, &n) == AK_OK && n <= 64;
    }
    for (size_t i = 0; ok && i < n; i++)
        ok = ak_abi_dec_bytes32(&arr, out->ids[i]) == AK_OK;
    if (ok)
        ok = ak_abi_dec_bool(&t, &out->read_only) == AK_OK &&
             ak_abi_dec_uint(&t, 128, &out->max_per_call) == AK_OK &&
             ak_abi_dec_uint(&t, 128, &out->max_per_period) == AK_OK &&
             ak_abi_dec_uint(&t, 128, &out->max_total) == AK_OK &&
             ak_abi_dec_u64(&t, 32, &out->period) == AK_OK && ak_abi_dec_u64(&t, 64, &upd) == AK_OK &&
             ak_abi_dec_bool(&t, &out->exists) == AK_OK;
    out->n = n;
    if (rc == AKCLI_OK && !ok)
        rc = akcli_fail(x->c, AKCLI_NETWORK, "chain_rpc_error", "getScope: unexpected return data");
    ak_buf_free(&ret);
    return rc;
}

/* "class:service" -> scope id; the class must be one we know (D2), the name valid (D3). */
static int s_scope_arg(akcli *c, const char *text, uint8_t id[32]) {
    const char *colon = strchr(text, ':');
    ak_data_class cls;
    if (colon == NULL || ak_data_class_parse(ak_cur_from(text, (size_t)(colon - text)), &cls) != AK_OK)
        return akcli_usage(c, "a scope is CLASS:NAME with CLASS credentials, memory or mail: %s", text);
    ak_cur name = ak_cur_from_str(colon + 1);
    if (ak_service_validate(name) != AK_OK)
        return akcli_usage(c, "bad service or namespace name in %s ([a-z0-9][a-z0-9._-]{0,63})", text);
    ak_keccak256(text, strlen(text), id);
    return AKCLI_OK;
}

/* Remembers scope names by id (the chain only has the hashes) in <config>/scope-names. */
static void s_remember_names(akcli *c, char **names, int n) {
    char path[700];
    snprintf(path, sizeof(path), "%s/scope-names", akcli_config_dir(c));
    ak_buf b;
    ak_buf_init(&b, 1u << 20);
    if (ak_buf_append_file(&b, path) != AK_OK) ak_buf_clear(&b);
    bool changed = false;
    for (int i = 0; i < n; i++) {
        uint8_t id[32];
        char line[256], h[67];
        ak_keccak256(names[i], strlen(names[i]), id);
        ak_hash32_hex0x(id, h);
        snprintf(line, sizeof(line), "%s %s\n", h, names[i]);
        if (b.len > 0 && ak_buf_append_byte(&b, 0) == AK_OK) {
            bool have = strstr((const char *)b.ptr, line) != NULL;
            b.len--;
            if (have) continue;
        }
        if (ak_buf_append_str(&b, line) == AK_OK) changed = true;
    }
    if (changed && akcli_write_file_0600(path, ak_buf_cur(&b)) != AK_OK)
        akcli_note(c, "could not save scope names to %s (listing shows ids only)", path);
    ak_buf_free(&b);
}

static void s_name_of(akcli *c, const uint8_t id[32], char *out, size_t cap) {
    char path[700], h[67];
    snprintf(path, sizeof(path), "%s/scope-names", akcli_config_dir(c));
    ak_hash32_hex0x(id, h);
    out[0] = '\0';
    ak_buf b;
    ak_buf_init(&b, 1u << 20);
    if (ak_buf_append_file(&b, path) == AK_OK && ak_buf_append_byte(&b, 0) == AK_OK) {
        const char *p = strstr((const char *)b.ptr, h);
        if (p != NULL && p[66] == ' ') {
            const char *e = strchr(p + 67, '\n');
            size_t l = e ? (size_t)(e - p - 67) : strlen(p + 67);
            if (l < cap) {
                memcpy(out, p + 67, l);
                out[l] = '\0';
            }
        }
    }
    ak_buf_free(&b);
}

/* Signs a K11 assertion over `challenge` with the wallet's own master passkey (attestor = own
 * device key hash; the count above the chain's). */
static int s_own_assertion(s_ctx *x, const uint8_t registry[20], akcli_passkey *pk, const uint8_t ch[32],
                           ak_passkey_assertion *as) {
    ak_device_entry me;
    int rc = s_device(x, registry, x->dkh, &me);
    if (rc != AKCLI_OK) return rc;
    if (me.registered_at == 0 || me.tier != AK_DEVICE_TIER_MASTER)
        akcli_note(x->c,
                   "warning: this wallet is not a registered master; the chain will refuse its assertion");
    return akcli_passkey_assert(x->c, pk, ch, x->dkh, me.last_sign_count, as);
}

static ak_abi_val s_u128(const ak_u256 *v) {
    ak_abi_val a = ak_abi_uint256(v);
    a.size = 128;
    return a;
}

static int s_scope_change(akcli *c, int argc, char **argv, bool grant) {
    s_flag f[] = {{"--operator", true, NULL}, {"--passkey", true, NULL}, {NULL, false, NULL}};
    char *pos[65];
    int npos, rc = s_args(c, argc, argv, f, pos, &npos, 65);
    if (rc != AKCLI_OK) return rc;
    if (npos < (grant ? 2 : 1))
        return akcli_usage(c, "AGENT and %sCLASS:NAME... are needed", grant ? "" : "[optional] ");
    s_who w;
    rc = s_who_parse(c, pos[0], &w);
    if (rc != AKCLI_OK) return rc;
    uint8_t ids[64][32];
    for (int i = 1; i < npos; i++)
        if ((rc = s_scope_arg(c, pos[i], ids[i - 1])) != AKCLI_OK) return rc;
    s_ctx x;
    uint8_t registry[20], scope[20];
    akcli_passkey pk;
    s_scope cur;
    ak_chain_result r;
    memset(&r, 0, sizeof(r));
    rc = s_open_with(c, &x, true, s_flagv(f, "--operator"), "registry", registry);
    if (rc == AKCLI_OK) rc = s_contract(&x, "scope_contract", scope);
    if (rc == AKCLI_OK) rc = s_open_passkey(&x, f, &pk);
    if (rc == AKCLI_OK) rc = s_get_scope(&x, scope, &w.omni, &cur);
    /* the new list: grant = current ∪ given; revoke = current \ given (all when none given) */
    uint8_t next[64][32];
    size_t nn = 0;
    if (rc == AKCLI_OK) {
        for (size_t i = 0; cur.exists && i < cur.n; i++) {
            bool drop = false;
            for (int j = 0; !grant && j < npos - 1; j++)
                drop |= memcmp(cur.ids[i], ids[j], 32) == 0;
            if (!drop && (grant || npos > 1)) memcpy(next[nn++], cur.ids[i], 32);
        }
        for (int j = 0; grant && j < npos - 1; j++) {
            bool have = false;
            for (size_t i = 0; i < nn; i++)
                have |= memcmp(next[i], ids[j], 32) == 0;
            if (!have && nn < 64)
                memcpy(next[nn++], ids[j], 32);
            else if (!have)
                rc = akcli_fail(c, AKCLI_USAGE, "limit_exceeded", "a scope holds at most 64 entries");
        }
    }
    bool nothing = rc == AKCLI_OK && grant && cur.exists && nn == cur.n;
    if (nothing) akcli_note(c, "the agent already has every one of these; nothing to do");
    bool revoke_all = rc == AKCLI_OK && !grant && nn == 0;
    if (rc == AKCLI_OK && !grant && !cur.exists) {
        nothing = true;
        akcli_note(c, "the agent has no scope; nothing to revoke");
    }
    if (rc == AKCLI_OK && !grant && !revoke_all && nn == cur.n) {
        nothing = true;
        akcli_note(c, "none of these is in the agent's scope; nothing to do");
    }
    ak_abi_val items[64];
    for (size_t i = 0; i < nn; i++)
        items[i] = ak_abi_bytes32(next[i]);
    uint8_t ch[32];
    ak_passkey_assertion as;
    ak_abi_val t[5];
    if (rc == AKCLI_OK && !nothing && revoke_all) {
        ak_abi_val a[] = {ak_abi_bytes32(x.op.b), ak_abi_bytes32(w.omni.b)};
        rc = s_call_b32(&x, scope, "revokeScopeChallenge(bytes32,bytes32)", a, 2, ch);
        if (rc == AKCLI_OK) rc = s_own_assertion(&x, registry, &pk, ch, &as);
        ak_abi_val b[] = {ak_abi_bytes32(x.op.b), ak_abi_bytes32(w.omni.b), ak_passkey_assertion_abi(&as, t)};
        if (rc == AKCLI_OK)
            rc = s_send(&x, "revokeScope", scope, "revokeScope(bytes32,bytes32," S_K11 ")", b, 3, &r);
    } else if (rc == AKCLI_OK && !nothing) {
        ak_abi_val a[] = {ak_abi_bytes32(x.op.b),     ak_abi_bytes32(w.omni.b),   ak_abi_array(items, nn),
                          ak_abi_bool(cur.read_only), s_u128(&cur.max_per_call),  s_u128(&cur.max_per_period),
                          s_u128(&cur.max_total),     ak_abi_uint(32, cur.period)};
        rc = s_call_b32(&x, scope,
                        "setScopeChallenge(bytes32,bytes32,bytes32[],bool,uint128,uint128,uint128,uint32)", a,
                        8, ch);
        if (rc == AKCLI_OK) rc = s_own_assertion(&x, registry, &pk, ch, &as);
        ak_abi_val b[] = {a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], ak_passkey_assertion_abi(&as, t)};
        if (rc == AKCLI_OK)
            rc = s_send(
                &x, "setScopeWithWebauthn", scope,
                "setScopeWithWebauthn(bytes32,bytes32,bytes32[],bool,uint128,uint128,uint128,uint32," S_K11
                ")",
                b, 9, &r);
    }
    if (rc == AKCLI_OK && grant) s_remember_names(c, pos + 1, npos - 1);
    if (rc == AKCLI_OK) {
        char oh[67];
        ak_omni_hex0x(&w.omni, oh);
        rc = s_result(
            &x,
            json_pack("{s:s, s:I, s:b}", "actor_omni", oh, "entries", (json_int_t)nn, "changed", !nothing),
            nothing ? NULL : &r, "agent %s scope entries %zu\n", oh, nn);
    }
    s_close(&x);
    return rc;
}

static int s_scope_grant(akcli *c, int argc, char **argv) { return s_scope_change(c, argc, argv, true); }
static int s_scope_revoke(akcli *c, int argc, char **argv) { return s_scope_change(c, argc, argv, false); }

static int s_scope_ls(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--operator", true, NULL}, {NULL, false, NULL}};
    s_who w;
    int rc = s_args_agent(c, argc, argv, f, &w);
    if (rc != AKCLI_OK) return rc;
    s_ctx x;
    uint8_t scope[20];
    s_scope cur;
    const char *opf = s_flagv(f, "--operator");
    rc = s_open_with(c, &x, s_wallet_names_operator(c, opf), opf, "scope_contract", scope);
    if (rc == AKCLI_OK) rc = s_get_scope(&x, scope, &w.omni, &cur);
    if (rc == AKCLI_OK && !cur.exists) cur.n = 0;
    json_t *arr = rc == AKCLI_OK && akcli_json(c) ? json_array() : NULL;
    for (size_t i = 0; rc == AKCLI_OK && i < cur.n; i++) {
        char h[67], name[128];
        ak_hash32_hex0x(cur.ids[i], h);
        s_name_of(c, cur.ids[i], name, sizeof(name));
        if (arr != NULL)
            json_array_append_new(arr, name[0] ? json_pack("{s:s, s:s}", "scope_id", h, "name", name)
                                               : json_pack("{s:s, s:n}", "scope_id", h, "name"));
        else
            printf("%s  %s\n", h, name[0] ? name : "(name unknown here)");
    }
    if (arr != NULL) rc = s_emit_json(&x, json_pack("{s:b, s:o}", "exists", cur.exists, "scopes", arr));
    s_close(&x);
    return rc;
}

/* ================================================================ masters, recovery (M-of-N) */

typedef enum { S_ACT_ADD = 1, S_ACT_REVOKE, S_ACT_THRESHOLD } s_act_kind;

typedef struct s_action {
    s_act_kind kind;
    uint8_t op[32];
    uint8_t wallet[20], cred[32], rph[32], px[32], py[32]; /* add */
    uint64_t roles;                                        /* add */
    uint8_t target[32];                                    /* revoke */
    uint64_t threshold;                                    /* threshold */
} s_action;

/* An add action's new master: this wallet (operator, address) and its passkey. */
static void s_action_add_fill(s_action *a, const s_ctx *x, const akcli_passkey_pub *pub) {
    memcpy(a->op, x->op.b, 32);
    memcpy(a->wallet, x->addr, 20);
    memcpy(a->cred, pub->cred_id, 32);
    memcpy(a->rph, pub->rp_id_hash, 32);
    memcpy(a->px, pub->pub_x, 32);
    memcpy(a->py, pub->pub_y, 32);
}

static int s_action_parse(akcli *c, const char *blob, s_action *a) {
    memset(a, 0, sizeof(*a));
    ak_cur p[12];
    size_t n = s_split(blob, p, 12);
    bool ok = n >= 3 && n <= 12 && ak_cur_eq_str(p[0], "akaction1") && s_hexn(p[2], a->op, 32);
    if (ok && ak_cur_eq_str(p[1], "add")) {
        a->kind = S_ACT_ADD;
        ok = n == 9 && s_hexn(p[3], a->wallet, 20) && s_hexn(p[4], a->cred, 32) && s_hexn(p[5], a->rph, 32) &&
             s_hexn(p[6], a->px, 32) && s_hexn(p[7], a->py, 32) && ak_cur_to_u64(p[8], &a->roles) == AK_OK &&
             a->roles >= 1 && a->roles <= 7;
    } else if (ok && ak_cur_eq_str(p[1], "revoke")) {
        a->kind = S_ACT_REVOKE;
        ok = n == 4 && s_hexn(p[3], a->target, 32);
    } else if (ok && ak_cur_eq_str(p[1], "threshold")) {
        a->kind = S_ACT_THRESHOLD;
        ok =
            n == 4 && ak_cur_to_u64(p[3], &a->threshold) == AK_OK && a->threshold >= 1 && a->threshold <= 255;
    } else {
        ok = false;
    }
    return ok ? AKCLI_OK
              : akcli_fail(c, AKCLI_USAGE, "invalid_input", "that is not an action blob (akaction1....)");
}

static void s_action_text(const s_action *a, char *out, size_t cap) {
    char op[65];
    ak_hex_encode(a->op, 32, op);
    if (a->kind == S_ACT_ADD) {
        char w[41], cr[65], rh[65], x[65], y[65];
        ak_hex_encode(a->wallet, 20, w);
        ak_hex_encode(a->cred, 32, cr);
        ak_hex_encode(a->rph, 32, rh);
        ak_hex_encode(a->px, 32, x);
        ak_hex_encode(a->py, 32, y);
        snprintf(out, cap, "akaction1.add.%s.%s.%s.%s.%s.%s.%llu", op, w, cr, rh, x, y,
                 (unsigned long long)a->roles);
    } else if (a->kind == S_ACT_REVOKE) {
        char t[65];
        ak_hex_encode(a->target, 32, t);
        snprintf(out, cap, "akaction1.revoke.%s.%s", op, t);
    } else {
        snprintf(out, cap, "akaction1.threshold.%s.%llu", op, (unsigned long long)a->threshold);
    }
}

/* The challenge the contract will check for `a` (it includes the operator nonce). */
static int s_action_challenge(s_ctx *x, const uint8_t registry[20], const s_action *a, uint8_t ch[32]) {
    if (a->kind == S_ACT_ADD) {
        ak_abi_val v[] = {ak_abi_bytes32(a->op),   ak_abi_address(a->wallet), ak_abi_bytes32(a->cred),
                          ak_abi_bytes32(a->rph),  ak_abi_uint256_be(a->px),  ak_abi_uint256_be(a->py),
                          ak_abi_uint(8, a->roles)};
        return s_call_b32(x, registry,
                          "additionalMasterChallenge(bytes32,address,bytes32,bytes32,uint256,uint256,uint8)",
                          v, 7, ch);
    }
    if (a->kind == S_ACT_REVOKE) {
        ak_abi_val v[] = {ak_abi_bytes32(a->op), ak_abi_bytes32(a->target)};
        return s_call_b32(x, registry, "revokeMasterChallenge(bytes32,bytes32)", v, 2, ch);
    }
    ak_abi_val v[] = {ak_abi_bytes32(a->op), ak_abi_uint(8, a->threshold)};
    return s_call_b32(x, registry, "setThresholdChallenge(bytes32,uint8)", v, 2, ch);
}

typedef struct s_approval {
    uint8_t challenge[32];
    ak_passkey_assertion as;
} s_approval;

static int s_approval_parse(akcli *c, const char *blob, s_approval *ap) {
    memset(ap, 0, sizeof(*ap));
    ak_cur p[8];
    ak_buf cdj;
    ak_buf_init(&cdj, AK_PASSKEY_MAX_CDJ);
    bool ok = s_split(blob, p, 8) == 7 && ak_cur_eq_str(p[0], "akapproval1") &&
              s_hexn(p[1], ap->challenge, 32) && s_hexn(p[2], ap->as.attestor, 32) &&
              s_hexn(p[3], ap->as.authenticator_data, 37) && ak_hex_decode_buf(p[4], false, &cdj) == AK_OK &&
              cdj.len < AK_PASSKEY_MAX_CDJ && s_hexn(p[5], ap->as.r, 32) && s_hexn(p[6], ap->as.s, 32);
    if (ok) {
        memcpy(ap->as.client_data_json, cdj.ptr, cdj.len);
        ap->as.client_data_json_len = cdj.len;
    }
    ak_buf_free(&cdj);
    return ok ? AKCLI_OK
              : akcli_fail(c, AKCLI_USAGE, "invalid_input", "that is not an approval blob (akapproval1....)");
}

static int s_approval_print(s_ctx *x, const uint8_t ch[32], const ak_passkey_assertion *as) {
    ak_buf b;
    ak_buf_init(&b, 8192);
    ak_err e = ak_buf_append_str(&b, "akapproval1.");
    if (e == AK_OK) e = ak_buf_append_hex(&b, ch, 32);
    if (e == AK_OK) e = ak_buf_append_byte(&b, '.');
    if (e == AK_OK) e = ak_buf_append_hex(&b, as->attestor, 32);
    if (e == AK_OK) e = ak_buf_append_byte(&b, '.');
    if (e == AK_OK) e = ak_buf_append_hex(&b, as->authenticator_data, 37);
    if (e == AK_OK) e = ak_buf_append_byte(&b, '.');
    if (e == AK_OK)
        e = ak_buf_append_hex(&b, (const uint8_t *)as->client_data_json, as->client_data_json_len);
    if (e == AK_OK) e = ak_buf_append_byte(&b, '.');
    if (e == AK_OK) e = ak_buf_append_hex(&b, as->r, 32);
    if (e == AK_OK) e = ak_buf_append_byte(&b, '.');
    if (e == AK_OK) e = ak_buf_append_hex(&b, as->s, 32);
    int rc;
    if (e != AK_OK)
        rc = akcli_fail_err(x->c, e, "cannot print the approval");
    else if (akcli_json(x->c))
        rc = s_emit_json(x, json_pack("{s:s}", "approval", ak_buf_cstr(&b)));
    else {
        printf("%s\n", ak_buf_cstr(&b));
        rc = AKCLI_OK;
    }
    ak_buf_free(&b);
    return rc;
}

static int s_print_action(s_ctx *x, const s_action *a) {
    char text[1024];
    s_action_text(a, text, sizeof(text));
    if (akcli_json(x->c)) return s_emit_json(x, json_pack("{s:s}", "action", text));
    printf("%s\n", text);
    akcli_note(x->c, "each approving master runs: agentkeys master approve <this line>");
    return AKCLI_OK;
}

/* `master request --operator OP [--roles R]`: the new master's side, step 1. */
static int s_master_request(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--operator", true, NULL},
                  {"--passkey", true, NULL},
                  {"--rp-id", true, NULL},
                  {"--roles", true, NULL},
                  {NULL, false, NULL}};
    int rc = s_args_none(c, argc, argv, f);
    if (rc != AKCLI_OK) return rc;
    if (s_flagv(f, "--operator") == NULL && akcli_conf(c, "operator") == NULL)
        return akcli_usage(c, "--operator OPERATOR_OMNI (the operator to join) is required");
    s_action a = {.kind = S_ACT_ADD, .roles = 7};
    if (s_flagv(f, "--roles") &&
        (!s_parse_u64(s_flagv(f, "--roles"), &a.roles) || a.roles == 0 || a.roles > 7))
        return akcli_usage(c, "--roles is a number 1..7 (1 cap_mint, 2 recovery, 4 scope)");
    s_ctx x;
    akcli_passkey pk;
    akcli_passkey_pub pub;
    bool created = false;
    rc = s_open(c, &x, true, s_flagv(f, "--operator"));
    if (rc == AKCLI_OK) rc = s_open_passkey(&x, f, &pk);
    if (rc == AKCLI_OK)
        rc = akcli_passkey_enroll(c, &pk, s_flagv(f, "--rp-id") ? s_flagv(f, "--rp-id") : S_DEFAULT_RPID,
                                  &pub, &created);
    if (rc == AKCLI_OK && created) akcli_note(c, "created a new passkey in %s", pk.arg);
    if (rc == AKCLI_OK) {
        s_action_add_fill(&a, &x, &pub);
        rc = s_print_action(&x, &a);
    }
    s_close(&x);
    return rc;
}

/* `master approve ACTION`: an existing recovery master's assertion over the action's challenge. */
static int s_master_approve(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--passkey", true, NULL}, {NULL, false, NULL}};
    char *blob;
    int rc = s_args_one(c, argc, argv, f, "the action blob (akaction1....)", &blob);
    if (rc != AKCLI_OK) return rc;
    s_action a;
    rc = s_action_parse(c, blob, &a);
    if (rc != AKCLI_OK) return rc;
    s_ctx x;
    uint8_t registry[20], ch[32];
    akcli_passkey pk;
    ak_passkey_assertion as;
    char hex[67];
    ak_hash32_hex0x(a.op, hex);
    rc = s_open_with(c, &x, true, hex, "registry", registry);
    if (rc == AKCLI_OK) rc = s_open_passkey(&x, f, &pk);
    if (rc == AKCLI_OK) rc = s_action_challenge(&x, registry, &a, ch);
    if (rc == AKCLI_OK) rc = s_own_assertion(&x, registry, &pk, ch, &as);
    if (rc == AKCLI_OK) rc = s_approval_print(&x, ch, &as);
    if (rc == AKCLI_OK)
        akcli_note(c, "valid until the operator's next K11 operation (the challenge holds its nonce)");
    s_close(&x);
    return rc;
}

/* Collects approvals for `a`: the given blobs (checked against the current challenge) plus, when
 * fewer than the threshold and a passkey is at hand, the sender's own. */
static int s_collect(s_ctx *x, const uint8_t registry[20], const s_action *a, const s_flag *f, char **blobs,
                     int nb, s_approval *aps, size_t *n) {
    uint8_t ch[32];
    int rc = s_action_challenge(x, registry, a, ch);
    if (rc != AKCLI_OK) return rc;
    *n = 0;
    for (int i = 0; i < nb; i++) {
        if (*n >= S_MAX_APPROVALS) return akcli_usage(x->c, "at most %d approvals", S_MAX_APPROVALS);
        rc = s_approval_parse(x->c, blobs[i], &aps[*n]);
        if (rc != AKCLI_OK) return rc;
        if (memcmp(aps[*n].challenge, ch, 32) != 0)
            return akcli_fail(
                x->c, AKCLI_ERR, "approval_stale",
                "approval %d is for another challenge (another action, or the operator nonce moved "
                "since it was signed): ask for a new one",
                i + 1);
        (*n)++;
    }
    uint64_t threshold = 0;
    ak_abi_val v[] = {ak_abi_bytes32(a->op)};
    rc = s_call_u64(x, registry, "recoveryThreshold(bytes32)", v, 1, &threshold);
    if (rc != AKCLI_OK) return rc;
    bool mine = false;
    for (size_t i = 0; i < *n; i++)
        mine |= memcmp(aps[i].as.attestor, x->dkh, 32) == 0;
    const char *spec = s_flagv(f, "--passkey") ? s_flagv(f, "--passkey") : akcli_conf(x->c, "passkey");
    if (*n < (threshold ? threshold : 1) && !mine && a->kind != S_ACT_ADD && spec != NULL &&
        spec[0] != '\0') {
        akcli_passkey pk;
        rc = akcli_passkey_open(x->c, s_flagv(f, "--passkey"), &pk);
        if (rc == AKCLI_OK) rc = s_own_assertion(x, registry, &pk, ch, &aps[*n].as);
        if (rc != AKCLI_OK) return rc;
        memcpy(aps[*n].challenge, ch, 32);
        (*n)++;
        akcli_note(x->c, "added this wallet's own approval");
    }
    if (*n < threshold)
        akcli_note(x->c, "%zu approval(s) for a threshold of %llu: the chain will refuse this", *n,
                   (unsigned long long)threshold);
    return AKCLI_OK;
}

static int s_quorum_send(s_ctx *x, const char *what, const uint8_t registry[20], const char *sig,
                         ak_abi_val *head, size_t nhead, s_approval *aps, size_t n, ak_chain_result *r) {
    ak_abi_val tuples[S_MAX_APPROVALS], items[S_MAX_APPROVALS][5], args[12];
    for (size_t i = 0; i < n; i++)
        tuples[i] = ak_passkey_assertion_abi(&aps[i].as, items[i]);
    for (size_t i = 0; i < nhead; i++)
        args[i] = head[i];
    args[nhead] = ak_abi_array(tuples, n);
    return s_send(x, what, registry, sig, args, nhead + 1, r);
}

/* `master add [--operator OP] [--roles R] APPROVAL...`: the new master's side, step 2. */
static int s_master_add(akcli *c, int argc, char **argv) {
    s_flag f[] = {
        {"--operator", true, NULL}, {"--passkey", true, NULL}, {"--roles", true, NULL}, {NULL, false, NULL}};
    char *pos[S_MAX_APPROVALS + 1];
    int npos, rc = s_args(c, argc, argv, f, pos, &npos, S_MAX_APPROVALS);
    if (rc != AKCLI_OK) return rc;
    s_action a = {.kind = S_ACT_ADD, .roles = 7};
    if (s_flagv(f, "--roles") &&
        (!s_parse_u64(s_flagv(f, "--roles"), &a.roles) || a.roles == 0 || a.roles > 7))
        return akcli_usage(c, "--roles is a number 1..7 (as given to master request)");
    if (npos == 0) return akcli_usage(c, "the approvals (akapproval1....) of `master approve` are required");
    s_ctx x;
    uint8_t registry[20];
    akcli_passkey pk;
    akcli_passkey_pub pub;
    s_approval aps[S_MAX_APPROVALS];
    size_t n = 0;
    ak_chain_result r;
    rc = s_open_with(c, &x, true, s_flagv(f, "--operator"), "registry", registry);
    if (rc == AKCLI_OK) rc = s_open_passkey(&x, f, &pk);
    if (rc == AKCLI_OK) rc = akcli_passkey_get_pub(c, &pk, &pub);
    if (rc == AKCLI_OK) {
        s_action_add_fill(&a, &x, &pub);
        rc = s_collect(&x, registry, &a, f, pos, npos, aps, &n);
    }
    /* the new passkey self-attests over the same challenge */
    ak_passkey_assertion self;
    if (rc == AKCLI_OK) rc = akcli_passkey_assert(c, &pk, aps[0].challenge, NULL, 0, &self);
    ak_abi_val st[5];
    ak_abi_val head[] = {ak_abi_bytes32(a.op),
                         ak_abi_bytes32(a.cred),
                         ak_abi_bytes32(a.rph),
                         ak_abi_uint256_be(a.px),
                         ak_abi_uint256_be(a.py),
                         ak_abi_uint(8, a.roles),
                         ak_passkey_assertion_abi(&self, st)};
    if (rc == AKCLI_OK)
        rc = s_quorum_send(
            &x, "registerAdditionalMasterDevice", registry,
            "registerAdditionalMasterDevice(bytes32,bytes32,bytes32,uint256,uint256,uint8," S_K11 "," S_K11
            "[])",
            head, 7, aps, n, &r);
    if (rc == AKCLI_OK) {
        char ah[43], dh[67];
        ak_eth_address_hex(x.addr, ah);
        ak_hash32_hex0x(x.dkh, dh);
        rc = s_result(&x, json_pack("{s:s, s:s}", "master", ah, "device_key_hash", dh), &r,
                      "master %s\ndevice_key_hash %s\n", ah, dh);
    }
    s_close(&x);
    return rc;
}

/* A master device named by address or device key hash (0x + 64 hex). */
static int s_target(akcli *c, const char *text, uint8_t dkh[32]) {
    uint8_t addr[20];
    if (strlen(text) == 42 && ak_eth_address_parse(ak_cur_from_str(text), addr) == AK_OK) {
        ak_device_key_hash(addr, dkh);
        return AKCLI_OK;
    }
    if (ak_hash32_parse(ak_cur_from_str(text), dkh) == AK_OK) return AKCLI_OK;
    return akcli_usage(c, "MASTER must be an address or a device key hash: %s", text);
}

static int s_master_revoke(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--operator", true, NULL},
                  {"--passkey", true, NULL},
                  {"--request", false, NULL},
                  {NULL, false, NULL}};
    char *pos[S_MAX_APPROVALS + 1];
    int npos, rc = s_args(c, argc, argv, f, pos, &npos, S_MAX_APPROVALS + 1);
    if (rc != AKCLI_OK) return rc;
    if (npos < 1) return akcli_usage(c, "MASTER (address or device key hash) is required");
    s_action a = {.kind = S_ACT_REVOKE};
    rc = s_target(c, pos[0], a.target);
    if (rc != AKCLI_OK) return rc;
    s_ctx x;
    uint8_t registry[20];
    s_approval aps[S_MAX_APPROVALS];
    size_t n = 0;
    ak_chain_result r;
    rc = s_open_with(c, &x, true, s_flagv(f, "--operator"), "registry", registry);
    memcpy(a.op, x.op.b, 32);
    if (rc == AKCLI_OK && s_flagv(f, "--request")) {
        rc = s_print_action(&x, &a);
        s_close(&x);
        return rc;
    }
    if (rc == AKCLI_OK) rc = s_collect(&x, registry, &a, f, pos + 1, npos - 1, aps, &n);
    ak_abi_val head[] = {ak_abi_bytes32(a.target)};
    if (rc == AKCLI_OK)
        rc = s_quorum_send(&x, "revokeMasterDevice", registry, "revokeMasterDevice(bytes32," S_K11 "[])",
                           head, 1, aps, n, &r);
    if (rc == AKCLI_OK) {
        char dh[67];
        ak_hash32_hex0x(a.target, dh);
        rc = s_result(
            &x,
            json_pack("{s:s, s:b, s:I}", "device_key_hash", dh, "revoked", true, "approvals", (json_int_t)n),
            &r, "revoked master %s (%zu approval(s))\n", dh, n);
    }
    s_close(&x);
    return rc;
}

static int s_recovery_threshold(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--operator", true, NULL},
                  {"--passkey", true, NULL},
                  {"--request", false, NULL},
                  {NULL, false, NULL}};
    char *pos[S_MAX_APPROVALS + 1];
    int npos, rc = s_args(c, argc, argv, f, pos, &npos, S_MAX_APPROVALS + 1);
    if (rc != AKCLI_OK) return rc;
    s_action a = {.kind = S_ACT_THRESHOLD};
    if (npos >= 1 && (!s_parse_u64(pos[0], &a.threshold) || a.threshold < 1 || a.threshold > 255))
        return akcli_usage(c, "M is a number 1..255");
    s_ctx x;
    uint8_t registry[20];
    s_approval aps[S_MAX_APPROVALS];
    size_t n = 0;
    ak_chain_result r;
    const char *opf = s_flagv(f, "--operator");
    rc = s_open_with(c, &x, npos >= 1 || s_wallet_names_operator(c, opf), opf, "registry", registry);
    memcpy(a.op, x.op.b, 32);
    if (rc == AKCLI_OK && npos == 0) { /* show the current state */
        uint64_t t = 0, active = 0;
        ak_abi_val v[] = {ak_abi_bytes32(a.op)};
        rc = s_call_u64(&x, registry, "recoveryThreshold(bytes32)", v, 1, &t);
        if (rc == AKCLI_OK)
            rc = s_call_u64(&x, registry, "activeRecoveryMasterCount(bytes32)", v, 1, &active);
        if (rc == AKCLI_OK && akcli_json(c))
            rc = s_emit_json(&x, json_pack("{s:I, s:I}", "threshold", (json_int_t)t,
                                           "active_recovery_masters", (json_int_t)active));
        else if (rc == AKCLI_OK)
            printf("threshold %llu of %llu active recovery master(s)\n", (unsigned long long)t,
                   (unsigned long long)active);
        s_close(&x);
        return rc;
    }
    if (rc == AKCLI_OK && s_flagv(f, "--request")) {
        rc = s_print_action(&x, &a);
        s_close(&x);
        return rc;
    }
    if (rc == AKCLI_OK) rc = s_collect(&x, registry, &a, f, pos + 1, npos - 1, aps, &n);
    ak_abi_val head[] = {ak_abi_bytes32(a.op), ak_abi_uint(8, a.threshold)};
    if (rc == AKCLI_OK)
        rc = s_quorum_send(&x, "setRecoveryThreshold", registry,
                           "setRecoveryThreshold(bytes32,uint8," S_K11 "[])", head, 2, aps, n, &r);
    if (rc == AKCLI_OK)
        rc = s_result(
            &x, json_pack("{s:I, s:I}", "threshold", (json_int_t)a.threshold, "approvals", (json_int_t)n), &r,
            "threshold %llu (%zu approval(s))\n", (unsigned long long)a.threshold, n);
    s_close(&x);
    return rc;
}

/* ================================================================ K3 epoch */

/*
 * Issue 16 finding 7: after an advance, the signer's commitment to each started epoch's K3 is
 * recorded on chain (K3EpochCounter.commitEpoch, write-once), so a signer restarted from an older
 * keystore refuses to re-create those epochs. The commitment comes from the signer itself
 * (POST /v1/epoch/commitment, the operator's admin identity over mTLS, attested like any
 * client): settings signer_url, signer_ca, signer_cert, signer_key, signer_attest_pub,
 * signer_measurement (config import-env takes them from the stack's env file).
 */
static int s_signer_open(s_ctx *x, ak_signer **out) {
    static const char *const need[] = {"signer_url",        "signer_ca",          "signer_cert", "signer_key",
                                       "signer_attest_pub", "signer_measurement", NULL};
    /* akcli_conf answers from one buffer: keep a copy of each value */
    static char vals[6][1024];
    *out = NULL;
    for (int i = 0; need[i]; i++)
        if (s_need(x, need[i], vals[i], sizeof(vals[i])) == NULL) return AKCLI_USAGE;
    ak_signer_config sc;
    memset(&sc, 0, sizeof(sc));
    sc.url = vals[0];
    sc.ca_pem_path = vals[1];
    sc.cert_path = vals[2];
    sc.key_path = vals[3];
    sc.attest_pub = vals[4];
    sc.measurement_hex = vals[5];
    sc.timeout_ms = 15000;
    ak_err e = ak_signer_new(&sc, out);
    if (e != AK_OK) return akcli_fail_err(x->c, e, "the signer settings are not usable");
    return AKCLI_OK;
}

/* The signer's commitment of `epoch` (it creates the epoch's K3 first when the chain has reached it). */
static int s_signer_commitment(s_ctx *x, ak_signer *sg, uint64_t epoch, uint8_t out[32]) {
    char body[64];
    long status = 0;
    ak_buf resp;
    json_t *j = NULL;
    ak_cur hex;
    int rc = AKCLI_OK;
    snprintf(body, sizeof(body), "{\"epoch\":%llu}", (unsigned long long)epoch);
    ak_buf_init(&resp, 1u << 16);
    ak_err e =
        ak_signer_call(sg, "POST", "/v1/epoch/commitment", ak_cur_from_str(body), true, &status, &resp);
    if (e != AK_OK) {
        rc = akcli_fail_err(x->c, e, "cannot reach the signer for the commitment of epoch %llu",
                            (unsigned long long)epoch);
    } else if (ak_json_parse_object(ak_buf_cur(&resp), &j) != AK_OK) {
        rc = akcli_fail(x->c, AKCLI_ERR, "upstream_error", "the signer's answer is not JSON (HTTP %ld)",
                        status);
    } else if (status != 200) {
        ak_cur reason, msg;
        if (ak_json_str(j, "reason", &reason) != AK_OK) reason = AK_CUR_LIT("upstream_error");
        if (ak_json_str(j, "error", &msg) != AK_OK) msg = AK_CUR_LIT("");
        char rs[64];
        if (ak_cur_to_cstr(reason, rs, sizeof(rs)) != AK_OK) snprintf(rs, sizeof(rs), "upstream_error");
        rc = akcli_fail(x->c, AKCLI_ERR, rs, "the signer refused the commitment of epoch %llu: %.*s (%s)",
                        (unsigned long long)epoch, (int)msg.len, (const char *)msg.ptr, rs);
    } else if (ak_json_str(j, "commitment", &hex) != AK_OK || hex.len != 66 ||
               ak_hex_decode_exact(hex, true, out, 32) != AK_OK) {
        rc = akcli_fail(x->c, AKCLI_ERR, "upstream_error", "the signer's commitment is malformed");
    }
    if (j != NULL) json_decref(j);
    ak_buf_free(&resp);
    return rc;
}

/* Records every started epoch's commitment that the chain lacks; checks the recorded ones
 * against the signer's (a mismatch means the signer is not the one that made those K3). */
static int s_epoch_commit_all(s_ctx *x, const uint8_t counter[20], uint64_t now, json_t *commits) {
    ak_signer *sg = NULL;
    int rc = s_signer_open(x, &sg);
    if (rc == AKCLI_USAGE) {
        akcli_note(
            x->c,
            "K3 commitments NOT recorded: no signer admin identity configured (signer_url, signer_ca, "
            "signer_cert, signer_key, signer_attest_pub, signer_measurement; see docs/signer-backup.md)");
        return AKCLI_OK;
    }
    static const uint8_t zero[32] = {0};
    for (uint64_t ep = 1; rc == AKCLI_OK && ep <= now; ep++) {
        uint8_t onchain[32], mine[32];
        char hx[67];
        ak_err e = ak_k3_epoch_commitment(&x->rpc, counter, ep, onchain);
        if (e != AK_OK) {
            rc = s_rpc_fail(x, e, "epochCommitment");
            break;
        }
        rc = s_signer_commitment(x, sg, ep, mine);
        if (rc != AKCLI_OK) break;
        s_hex0x(mine, 32, hx);
        if (!ak_ct_eq(onchain, zero, 32)) {
            if (!ak_ct_eq(onchain, mine, 32))
                rc = akcli_fail(
                    x->c, AKCLI_ERR, "keystore_commitment_mismatch",
                    "epoch %llu: the chain's K3 commitment is not the signer's (%s): the signer runs "
                    "another keystore (see docs/signer-backup.md)",
                    (unsigned long long)ep, hx);
            continue;
        }
        ak_chain_result r;
        char what[64];
        snprintf(what, sizeof(what), "commitEpoch %llu", (unsigned long long)ep);
        ak_abi_val args[] = {ak_abi_uint(256, ep), ak_abi_bytes32(mine)};
        rc = s_send(x, what, counter, "commitEpoch(uint256,bytes32)", args, 2, &r);
        if (rc != AKCLI_OK) break;
        if (commits != NULL) {
            json_t *o = json_pack("{s:I, s:s}", "epoch", (json_int_t)ep, "commitment", hx);
            if (o) json_object_set_new(o, "tx", s_tx_json(&r));
            json_array_append_new(commits, o);
        } else {
            printf("epoch %llu commitment %s recorded\n", (unsigned long long)ep, hx);
            s_tx_text(&r);
        }
    }
    ak_signer_free(sg);
    if (rc != AKCLI_OK)
        akcli_note(x->c,
                   "the chain is at epoch %llu; `agentkeys epoch rotate --to %llu` records the missing "
                   "commitments without advancing",
                   (unsigned long long)now, (unsigned long long)now);
    return rc;
}

static int s_epoch_rotate(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--to", true, NULL}, {"--dry-run", false, NULL}, {NULL, false, NULL}};
    int rc = s_args_none(c, argc, argv, f);
    if (rc != AKCLI_OK) return rc;
    uint64_t to = 0;
    if (s_flagv(f, "--to") && (!s_parse_u64(s_flagv(f, "--to"), &to) || to == 0 || to > 1000000))
        return akcli_usage(c, "--to N is an epoch number >= 1");
    s_ctx x;
    uint8_t epoch[20];
    uint64_t cur = 0;
    rc = s_open_with(c, &x, true, NULL, "epoch_contract", epoch);
    x.dry_run = s_flagv(f, "--dry-run") != NULL;
    if (rc == AKCLI_OK) {
        ak_err e = ak_k3_current_epoch(&x.rpc, epoch, &cur);
        if (e != AK_OK) rc = s_rpc_fail(&x, e, "currentEpoch");
    }
    if (rc == AKCLI_OK && to == 0) to = cur + 1;
    if (rc == AKCLI_OK && to < cur)
        rc = akcli_fail(c, AKCLI_ERR, "conflict", "the epoch is %llu already; it never goes back (to %llu)",
                        (unsigned long long)cur, (unsigned long long)to);
    uint64_t steps = rc == AKCLI_OK ? to - cur : 0, done = 0;
    uint64_t gas = 0;
    json_t *txs = rc == AKCLI_OK && akcli_json(c) ? json_array() : NULL;
    if (rc == AKCLI_OK && steps == 0)
        akcli_note(c, "the epoch is %llu already; nothing to do", (unsigned long long)cur);
    if (rc == AKCLI_OK && steps > 100)
        rc = akcli_usage(c, "refusing to advance more than 100 epochs at once");
    for (uint64_t i = 0; rc == AKCLI_OK && i < steps; i++) {
        ak_chain_result r;
        char what[64];
        snprintf(what, sizeof(what), "advanceEpoch %llu -> %llu", (unsigned long long)(cur + i),
                 (unsigned long long)(cur + i + 1));
        rc = s_send(&x, what, epoch, "advanceEpoch()", NULL, 0, &r);
        if (rc != AKCLI_OK) break;
        if (x.dry_run) { /* one estimate says whether this wallet may; nothing more to learn */
            gas = r.gas_estimate;
            break;
        }
        done++;
        gas += r.receipt.gas_used;
        if (txs != NULL)
            json_array_append_new(txs, s_tx_json(&r));
        else
            s_tx_text(&r);
    }
    uint64_t now = cur + done;
    if (rc == AKCLI_OK && !x.dry_run && done > 0) { /* read it back: the chain says where we are */
        ak_err e = ak_k3_current_epoch(&x.rpc, epoch, &now);
        if (e != AK_OK) rc = s_rpc_fail(&x, e, "currentEpoch");
    }
    json_t *commits = rc == AKCLI_OK && akcli_json(c) ? json_array() : NULL;
    if (rc == AKCLI_OK && !x.dry_run) rc = s_epoch_commit_all(&x, epoch, now, commits);
    if (rc == AKCLI_OK) {
        if (txs != NULL) {
            rc = s_emit_json(&x, json_pack("{s:I, s:I, s:I, s:b, s:o, s:o}", "from", (json_int_t)cur, "epoch",
                                           (json_int_t)now, "target", (json_int_t)to, "dry_run", x.dry_run,
                                           "txs", txs, "commitments", commits ? commits : json_array()));
            txs = NULL;
            commits = NULL;
        } else if (x.dry_run && steps > 0) {
            printf("epoch %llu (dry run: would advance to %llu in %llu transaction(s), gas estimate %llu "
                   "each)\n",
                   (unsigned long long)cur, (unsigned long long)to, (unsigned long long)steps,
                   (unsigned long long)gas);
        } else {
            printf("epoch %llu\n", (unsigned long long)now);
        }
    }
    json_decref(txs);
    json_decref(commits);
    s_close(&x);
    return rc;
}

/* ================================================================ audit */

static int s_audit_verify(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--operator", true, NULL}, {"--root-index", true, NULL}, {NULL, false, NULL}};
    char *path;
    int rc = s_args_one(c, argc, argv, f, "EVENT_FILE (the JSON of GET /v1/audit/proof)", &path);
    if (rc != AKCLI_OK) return rc;
    ak_buf file;
    ak_buf_init(&file, 16u << 20);
    json_t *pj = NULL, *ej = NULL;
    s_ctx x;
    memset(&x, 0, sizeof(x));
    x.c = c;
    ak_err e = ak_buf_append_file(&file, path);
    if (e == AK_OK) e = ak_json_parse_object(ak_buf_cur(&file), &pj);
    json_t *proof = pj ? json_object_get(pj, "proof") : NULL;
    ak_cur ev, opt;
    if (e == AK_OK && (!json_is_array(proof) || json_array_size(proof) > AK_MERKLE_MAX_DEPTH ||
                       ak_json_str(pj, "event", &ev) != AK_OK))
        e = AK_E_INVALID_INPUT;
    if (e != AK_OK) {
        rc = akcli_fail(c, e == AK_E_IO || e == AK_E_NOT_FOUND ? AKCLI_NOT_FOUND : AKCLI_USAGE,
                        ak_err_reason(e), "%s is not an audit proof file (JSON with \"event\" and \"proof\")",
                        path);
        goto out;
    }
    uint8_t pf[AK_MERKLE_MAX_DEPTH][32];
    size_t m = json_array_size(proof);
    for (size_t k = 0; k < m; k++) {
        const char *s = json_string_value(json_array_get(proof, k));
        if (s == NULL || ak_hex_decode_exact(ak_cur_from_str(s), true, pf[k], 32) != AK_OK) {
            rc = akcli_fail(c, AKCLI_USAGE, "invalid_input", "proof element %zu is not a 32-byte hash", k);
            goto out;
        }
    }
    /* the operator: --operator, else the file's, else the event's own member */
    ak_omni op;
    const char *opf = s_flagv(f, "--operator");
    bool have = false;
    if (opf != NULL)
        have = ak_omni_parse(ak_cur_from_str(opf), &op) == AK_OK;
    else if (ak_json_str(pj, "operator_omni", &opt) == AK_OK)
        have = ak_omni_parse(opt, &op) == AK_OK;
    else if (ak_json_parse_object(ev, &ej) == AK_OK && ak_json_str(ej, "operator_omni", &opt) == AK_OK)
        have = ak_omni_parse(opt, &op) == AK_OK;
    uint64_t idx = 0;
    bool have_idx = s_flagv(f, "--root-index") ? s_parse_u64(s_flagv(f, "--root-index"), &idx)
                                               : ak_json_u64(pj, "root_index", &idx) == AK_OK;
    if (!have || !have_idx) {
        rc = akcli_fail(c, AKCLI_USAGE, "missing_field",
                        !have ? "no operator id (--operator, or operator_omni in the file)"
                              : "no root index (the batch is not anchored yet, or pass --root-index)");
        goto out;
    }
    uint8_t audit[20];
    rc = s_open_with(c, &x, false, NULL, "audit_contract", audit);
    ak_chain_audit_verdict v;
    if (rc == AKCLI_OK) {
        e = ak_chain_audit_verify(&x.rpc, audit, op.b, idx, (const uint8_t(*)[32])pf, m, ev, &v);
        if (e != AK_OK) rc = s_rpc_fail(&x, e, "CredentialAudit");
    }
    if (rc == AKCLI_OK) {
        bool ok = v.contract_ok && v.local_ok;
        char oh[67], lh[67], rh[67];
        ak_omni_hex0x(&op, oh);
        ak_hash32_hex0x(v.leaf, lh);
        ak_hash32_hex0x(v.chain_root, rh);
        if (akcli_json(c)) {
            json_t *o =
                json_pack("{s:b, s:s, s:I, s:s, s:b, s:b}", "valid", ok, "operator_omni", oh, "root_index",
                          (json_int_t)idx, "leaf", lh, "contract", v.contract_ok, "local", v.local_ok);
            if (o) json_object_set_new(o, "chain_root", v.have_root ? json_string(rh) : json_null());
            rc = s_emit_json(&x, o);
        } else {
            printf("%s operator=%s root_index=%llu leaf=%s chain_root=%s contract=%s local=%s\n",
                   ok ? "VALID" : "INVALID", oh, (unsigned long long)idx, lh, v.have_root ? rh : "(none)",
                   v.contract_ok ? "true" : "false", v.local_ok ? "match" : "mismatch");
        }
        if (rc == AKCLI_OK && !ok) {
            akcli_note(c, "the event is NOT in the anchored batch (or the index names no root)");
            rc = AKCLI_ERR;
        }
    }
out:
    json_decref(pj);
    json_decref(ej);
    ak_buf_free(&file);
    s_close(&x);
    return rc;
}

/* `audit anchor`: ak_audit_anchor from the master wallet; S3 access to the audit bucket from the
 * ambient AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY[, AWS_SESSION_TOKEN],
 * AWS_REGION, AK_S3_ENDPOINT for a local stack), the bucket from the `audit_bucket` setting or
 * AK_AUDIT_BUCKET. */
typedef struct s_anchor_out {
    s_ctx *x;
    json_t *arr;
} s_anchor_out;

static void s_anchor_report(void *ud, const ak_audit_anchor_item *it) {
    s_anchor_out *o = ud;
    static const char *const names[] = {"", "skipped", "recorded", "would_anchor", "anchored", "failed"};
    const char *st = it->status <= AK_ANCHOR_FAILED ? names[it->status] : "failed";
    char tx[67];
    s_hex0x(it->tx.tx_hash, 32, tx);
    if (o->arr != NULL) {
        json_t *j =
            json_pack("{s:s%, s:s, s:I, s:I}", "batch", (const char *)it->key.ptr, it->key.len, "status", st,
                      "root_index", (json_int_t)it->root_index, "count", (json_int_t)it->count);
        if (j != NULL && it->status == AK_ANCHOR_ANCHORED) json_object_set_new(j, "tx", s_tx_json(&it->tx));
        if (j != NULL && it->status == AK_ANCHOR_FAILED) {
            json_object_set_new(j, "reason", json_string(ak_err_reason(it->err)));
            if (it->tx.reason[0]) json_object_set_new(j, "revert", json_string(it->tx.reason));
        }
        json_array_append_new(o->arr, j);
        return;
    }
    if (it->status == AK_ANCHOR_FAILED) {
        akcli_note(o->x->c, "%.*s: %s%s%s", (int)it->key.len, (const char *)it->key.ptr,
                   ak_err_reason(it->err), it->tx.reason[0] ? ": " : "", it->tx.reason);
        return;
    }
    printf("%-12s %.*s root_index=%llu count=%llu", st, (int)it->key.len, (const char *)it->key.ptr,
           (unsigned long long)it->root_index, (unsigned long long)it->count);
    if (it->status == AK_ANCHOR_ANCHORED)
        printf(" tx=%s gas_used=%llu", tx, (unsigned long long)it->tx.receipt.gas_used);
    printf("\n");
}

static int s_audit_anchor(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--operator", true, NULL},
                  {"--dry-run", false, NULL},
                  {"--bucket", true, NULL},
                  {NULL, false, NULL}};
    int rc = s_args_none(c, argc, argv, f);
    if (rc != AKCLI_OK) return rc;
    char bucket[128] = "";
    const char *b = s_flagv(f, "--bucket");
    if (b == NULL) b = akcli_conf(c, "audit_bucket");
    if (b == NULL || b[0] == '\0') b = getenv("AK_AUDIT_BUCKET");
    if (b == NULL || b[0] == '\0' || strlen(b) >= sizeof(bucket))
        return akcli_fail(
            c, AKCLI_USAGE, "config_error",
            "the audit bucket is unknown (--bucket, the `audit_bucket` setting or AK_AUDIT_BUCKET)");
    snprintf(bucket, sizeof(bucket), "%s", b);
    s_ctx x;
    ak_audit_s3 s3;
    memset(&s3, 0, sizeof(s3));
    ak_audit_store st;
    ak_audit_anchor_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    s_anchor_out out = {&x, NULL};
    rc = s_open_with(c, &x, true, s_flagv(f, "--operator"), "audit_contract", cfg.audit);
    ak_s3_config sc;
    ak_sigv4_creds creds;
    if (rc == AKCLI_OK) {
        ak_err e = ak_s3_config_from_env(&sc);
        if (e == AK_OK) e = ak_s3_env_creds(&creds);
        if (e == AK_OK) e = ak_audit_s3_open(&s3, &sc, &creds, bucket, 1);
        if (e != AK_OK)
            rc = akcli_fail(
                c, AKCLI_USAGE, ak_err_reason(e),
                "S3 access to the audit bucket needs AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(and AK_S3_ENDPOINT locally)");
    }
    ak_audit_anchor_stats stats;
    memset(&stats, 0, sizeof(stats));
    if (rc == AKCLI_OK) {
        ak_audit_s3_store(&s3, &st);
        cfg.rpc = &x.rpc;
        cfg.st = &st;
        cfg.key = x.key;
        cfg.op = x.op;
        cfg.dry_run = s_flagv(f, "--dry-run") != NULL;
        snprintf(x.what, sizeof(x.what), "appendRoot");
        cfg.progress = s_on_progress;
        cfg.progress_ud = &x;
        cfg.report = s_anchor_report;
        cfg.report_ud = &out;
        out.arr = akcli_json(c) ? json_array() : NULL;
        ak_err e = ak_audit_anchor(&cfg, &stats);
        if (e == AK_E_FORBIDDEN)
            rc =
                akcli_fail(c, AKCLI_AUTH, "forbidden", "this wallet is not an active master of the operator");
        else if (e != AK_OK)
            rc = s_rpc_fail(&x, e, "audit anchor");
    }
    if (rc == AKCLI_OK && out.arr != NULL) {
        rc = s_emit_json(&x, json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}", "batches", out.arr, "anchored",
                                       (json_int_t)stats.anchored, "recorded", (json_int_t)stats.recorded,
                                       "skipped", (json_int_t)stats.skipped, "failed",
                                       (json_int_t)stats.failed, "gas_used", (json_int_t)stats.gas_used));
        out.arr = NULL;
    } else if (rc == AKCLI_OK) {
        akcli_note(c, "%zu batch(es): %zu anchored, %zu recorded, %zu already anchored, %zu failed",
                   stats.batches, stats.anchored, stats.recorded, stats.skipped, stats.failed);
    }
    if (rc == AKCLI_OK && stats.failed > 0) rc = AKCLI_CHAIN;
    json_decref(out.arr);
    ak_audit_s3_close(&s3);
    s_close(&x);
    return rc;
}

/* ================================================================ teardown (D10) */

/* `teardown AGENT`: a master session deletes every credential and memory object of an agent of
 * its operator (also a revoked one: actorOperator stays, D17), through the broker's teardown
 * caps and the workers (ak/client.h, the CLIENT helper's protocol code). */
static int s_teardown(akcli *c, int argc, char **argv) {
    s_flag f[] = {{"--class", true, NULL}, {NULL, false, NULL}};
    s_who w;
    int rc = s_args_agent(c, argc, argv, f, &w);
    if (rc != AKCLI_OK) return rc;
    const char *cls_arg = s_flagv(f, "--class") ? s_flagv(f, "--class") : "all";
    bool do_cred = strcmp(cls_arg, "all") == 0 || strcmp(cls_arg, "credentials") == 0;
    bool do_mem = strcmp(cls_arg, "all") == 0 || strcmp(cls_arg, "memory") == 0;
    if (!do_cred && !do_mem) return akcli_usage(c, "--class is credentials, memory or all");
    char actor[65];
    ak_omni_hex(&w.omni, actor);
    akcli_session s;
    rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    uint64_t n_cred = 0, n_mem = 0;
    if (do_cred) {
        ak_err e = ak_client_teardown(s.cl, AK_CLASS_CREDENTIALS, actor, &n_cred);
        if (e != AK_OK) rc = akcli_session_fail(&s, e, "teardown of the agent's credentials");
    }
    if (rc == AKCLI_OK && do_mem) {
        ak_err e = ak_client_teardown(s.cl, AK_CLASS_MEMORY, actor, &n_mem);
        if (e != AK_OK) rc = akcli_session_fail(&s, e, "teardown of the agent's memory");
    }
    if (rc == AKCLI_OK) {
        char oh[67];
        ak_omni_hex0x(&w.omni, oh);
        if (akcli_json(c)) {
            json_t *o = json_pack("{s:s}", "actor_omni", oh);
            if (o && do_cred) json_object_set_new(o, "credentials_deleted", json_integer((json_int_t)n_cred));
            if (o && do_mem) json_object_set_new(o, "memory_deleted", json_integer((json_int_t)n_mem));
            s_ctx x = {.c = c};
            rc = s_emit_json(&x, o);
        } else {
            printf("teardown %s", oh);
            if (do_cred) printf(" credentials_deleted %llu", (unsigned long long)n_cred);
            if (do_mem) printf(" memory_deleted %llu", (unsigned long long)n_mem);
            printf("\n");
        }
    }
    akcli_session_close(&s);
    return rc;
}

/* ================================================================ the table */

const akcli_cmd akcli_operator_cmds[] = {
    {"operator init", "[--passkey software:FILE] [--rp-id ID] [--roles 1..7]",
     "register this wallet as the first master of its operator (creates the passkey if needed)",
     s_operator_init},
    {"agent consent", "--operator OPERATOR_OMNI",
     "on the agent's machine: print the consent blob for `agent add` (signed by the agent wallet)",
     s_agent_consent},
    {"agent add", "CONSENT_BLOB [--operator OMNI]", "register an agent from its consent blob", s_agent_add},
    {"agent revoke", "AGENT [--operator OMNI]", "revoke an agent device (address or omni)", s_agent_revoke},
    {"agent ls", "[--all] [--operator OMNI]",
     "list the operator's agents from the chain (--all: masters too)", s_agent_ls},
    {"scope grant", "AGENT CLASS:NAME... [--passkey software:FILE]",
     "add scopes (credentials:openrouter memory:notes ...) to an agent (K11 passkey)", s_scope_grant},
    {"scope revoke", "AGENT [CLASS:NAME...] [--passkey software:FILE]",
     "remove the given scopes from an agent, or all of them (K11 passkey)", s_scope_revoke},
    {"scope ls", "AGENT [--operator OMNI]",
     "list an agent's scope ids from the chain (names when known here)", s_scope_ls},
    {"master ls", "[--operator OMNI]", "list the operator's master devices", s_master_ls},
    {"master request", "--operator OMNI [--roles 1..7] [--passkey software:FILE]",
     "new master, step 1: print the action blob the approving masters sign", s_master_request},
    {"master approve", "ACTION_BLOB [--passkey software:FILE]",
     "an existing recovery master approves an action blob (prints an approval blob)", s_master_approve},
    {"master add", "APPROVAL... [--operator OMNI] [--roles 1..7] [--passkey software:FILE]",
     "new master, step 2: register with the approvals (M-of-N)", s_master_add},
    {"master revoke", "MASTER [APPROVAL...] [--request] [--passkey software:FILE]",
     "revoke a master device with M-of-N approvals (--request: print the action blob)", s_master_revoke},
    {"recovery threshold", "[M [APPROVAL...]] [--request] [--passkey software:FILE]",
     "show, or set with M-of-N approvals, the operator's recovery threshold", s_recovery_threshold},
    {"epoch rotate", "[--to N] [--dry-run]",
     "advance the K3 epoch (governance wallet), then record the signer's K3 commitment of every "
     "started epoch not recorded yet (needs the signer_* settings); idempotent",
     s_epoch_rotate},
    {"teardown", "AGENT [--class credentials|memory|all]",
     "master session: delete every stored object of an agent of this operator (also a revoked one)",
     s_teardown},
    {"audit anchor", "[--dry-run] [--operator OMNI] [--bucket NAME]",
     "anchor the operator's unanchored audit batches on chain from the master wallet (idempotent)",
     s_audit_anchor},
    {"audit verify", "EVENT_FILE [--operator OMNI] [--root-index N]",
     "check an audit event against the anchored root on chain (trusts no server of ours)", s_audit_verify},
    {0},
};
