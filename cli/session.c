/*
 * cli/session.c — `agentkeys login|whoami|logout` and the client plumbing of the agent commands.
 *
 * The session/cap/STS cache is $XDG_CACHE_HOME/agentkeys/<profile>/session-<h>.json (0600),
 * where <h> is the first 16 hex of SHA-256(wallet path ‖ api_url): another wallet or API in
 * the same profile never picks up this one's session. The key is loaded (and a keystore
 * password asked) only when something must be signed: a cached session and cached caps need
 * no key at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/json.h"
#include "ak/siwe.h"
#include "wallet.h"

static ak_err s_get_key(void *ud, uint8_t key[32]) {
    akcli_session *s = ud;
    if (!s->have_key) {
        if (s->key_code != AKCLI_OK) return AK_E_BAD_KEY;
        int rc = akcli_wallet_load(s->c, s->key);
        if (rc != AKCLI_OK) {
            s->key_code = rc;
            ak_wipe(s->key, sizeof s->key);
            return AK_E_BAD_KEY;
        }
        s->have_key = true;
    }
    memcpy(key, s->key, 32);
    return AK_OK;
}

/* The address a keystore file declares (no password needed); "" when unknown. */
static void s_keystore_address(const char *path, char out[43]) {
    out[0] = '\0';
    ak_buf b;
    json_t *j = NULL;
    ak_buf_init(&b, 1u << 16);
    ak_cur a;
    uint8_t addr[20];
    if (ak_buf_append_file(&b, path) == AK_OK && ak_json_parse_object(ak_buf_cur(&b), &j) == AK_OK &&
        ak_json_str(j, "address", &a) == AK_OK) {
        char tmp[43] = "0x";
        if (a.len == 40 && ak_cur_to_cstr(a, tmp + 2, sizeof tmp - 2) == AK_OK &&
            ak_eth_address_parse(ak_cur_from_str(tmp), addr) == AK_OK)
            ak_eth_address_hex(addr, out);
        else if (ak_eth_address_parse(a, addr) == AK_OK)
            ak_eth_address_hex(addr, out);
    }
    if (j) json_decref(j);
    ak_buf_free(&b);
}

static char s_addr[43], s_cache_path[700];
static char s_api[512], s_s3[512], s_region[64], s_vault[128], s_memory[128], s_mail[128];

static const char *s_conf_copy(akcli *c, const char *key, char *dst, size_t cap) {
    const char *v = akcli_conf(c, key);
    if (v == NULL || strlen(v) >= cap) return NULL;
    snprintf(dst, cap, "%s", v);
    return dst;
}

int akcli_session_open(akcli *c, akcli_session *s) {
    memset(s, 0, sizeof *s);
    s->c = c;
    ak_client_config cfg = {.get_key = s_get_key, .key_ud = s};
    cfg.api_url = s_conf_copy(c, "api_url", s_api, sizeof s_api);
    if (cfg.api_url == NULL)
        return akcli_fail(
            c, AKCLI_USAGE, "config_error",
            "no api_url for profile '%s' (agentkeys config import-env FILE, or config set api_url URL)",
            c->profile);
    const char *chain = akcli_conf(c, "chain_id");
    uint64_t chain_id = 0;
    if (chain == NULL || ak_cur_to_u64(ak_cur_from_str(chain), &chain_id) != AK_OK || chain_id == 0)
        return akcli_fail(c, AKCLI_USAGE, "config_error", "no valid chain_id for profile '%s'", c->profile);
    cfg.chain_id = chain_id;
    cfg.s3_endpoint = s_conf_copy(c, "s3_endpoint", s_s3, sizeof s_s3);
    cfg.region = s_conf_copy(c, "region", s_region, sizeof s_region);
    cfg.vault_bucket = s_conf_copy(c, "vault_bucket", s_vault, sizeof s_vault);
    cfg.memory_bucket = s_conf_copy(c, "memory_bucket", s_memory, sizeof s_memory);
    cfg.mail_bucket = s_conf_copy(c, "mail_bucket", s_mail, sizeof s_mail);
    const char *wallet = akcli_conf(c, "wallet");
    ak_sha256_ctx h;
    ak_sha256_init(&h);
    ak_sha256_update(&h, wallet ? wallet : "", wallet ? strlen(wallet) + 1 : 1);
    ak_sha256_update(&h, cfg.api_url, strlen(cfg.api_url));
    uint8_t d[32];
    ak_sha256_final(&h, d);
    char hex[65];
    ak_hex_encode(d, 8, hex);
    snprintf(s_cache_path, sizeof s_cache_path, "%s/session-%s.json", akcli_cache_dir(c), hex);
    cfg.cache_path = s_cache_path;
    if (wallet) {
        s_keystore_address(wallet, s_addr);
        if (s_addr[0]) cfg.address = s_addr;
    }
    ak_err e = ak_client_new(&cfg, &s->cl);
    if (e != AK_OK) return akcli_fail_err(c, e, "cannot set up the API client");
    return AKCLI_OK;
}

void akcli_session_close(akcli_session *s) {
    ak_client_free(s->cl);
    s->cl = NULL;
    ak_wipe(s->key, sizeof s->key);
    s->have_key = false;
}

int akcli_session_fail(akcli_session *s, ak_err e, const char *what) {
    if (s->key_code != AKCLI_OK) return s->key_code; /* akcli_wallet_load printed why */
    const char *reason = s->cl ? ak_client_last_reason(s->cl) : "";
    long status = s->cl ? ak_client_last_status(s->cl) : 0;
    if (reason[0] == '\0') reason = ak_err_reason(e);
    int code = akcli_code_for(e);
    if (status == 401 || status == 403) code = AKCLI_AUTH;
    if (status == 404) code = AKCLI_NOT_FOUND;
    if (status >= 500 && code == AKCLI_ERR) code = AKCLI_NETWORK;
    if (e == AK_E_CONFIG)
        return akcli_fail(s->c, AKCLI_USAGE, reason, "%s: the profile lacks a setting", what);
    if (status >= 400)
        return akcli_fail(s->c, code, reason, "%s: refused by the server (HTTP %ld: %s)", what, status,
                          ak_err_message(e));
    return akcli_fail(s->c, code, reason, "%s: %s", what, ak_err_message(e));
}

/* ---------------------------------------------------------------- commands */

static void s_print_session(akcli *c, const ak_client_session *si) {
    char exp[21] = "";
    if (ak_rfc3339_format((int64_t)si->expires_at, exp) != AK_OK) exp[0] = '\0';
    if (akcli_json(c)) {
        printf("{\"address\":\"%s\",\"omni\":\"%s\",\"operator_omni\":\"%s\",\"kind\":\"%s\",\"device_key_"
               "hash\":"
               "\"%s\",\"expires_at\":%llu,\"expires_at_iso\":\"%s\",\"profile\":",
               si->address, si->omni, si->operator_omni, si->kind, si->device_key_hash,
               (unsigned long long)si->expires_at, exp);
        akcli_json_str(stdout, ak_cur_from_str(c->profile));
        printf("}\n");
        return;
    }
    printf("address   %s\nomni      %s\noperator  %s\nkind      %s\nexpires   %s\nprofile   %s\n",
           si->address, si->omni, si->operator_omni, si->kind, exp, c->profile);
}

int akcli_cmd_login(akcli *c, int argc, char **argv) {
    bool force = true;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--if-needed") == 0)
            force = false;
        else
            return akcli_usage(c, "unexpected argument '%s'", argv[i]);
    }
    akcli_session s;
    int rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    ak_err e = ak_client_login(s.cl, force);
    if (e != AK_OK) {
        rc = akcli_session_fail(&s, e, "login");
    } else {
        ak_client_session si;
        ak_client_session_info(s.cl, &si);
        if (akcli_json(c))
            s_print_session(c, &si);
        else
            akcli_note(c, "logged in as %s (%s session, profile %s)", si.address, si.kind, c->profile);
    }
    akcli_session_close(&s);
    return rc;
}

int akcli_cmd_whoami(akcli *c, int argc, char **argv) {
    if (argc > 0) return akcli_usage(c, "unexpected argument '%s'", argv[0]);
    akcli_session s;
    int rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    /* A session near or past its expiry is renewed here, as before any call. */
    ak_err e = ak_client_login(s.cl, false);
    if (e != AK_OK) {
        rc = akcli_session_fail(&s, e, "whoami");
    } else {
        ak_client_session si;
        ak_client_session_info(s.cl, &si);
        s_print_session(c, &si);
    }
    akcli_session_close(&s);
    return rc;
}

int akcli_cmd_logout(akcli *c, int argc, char **argv) {
    if (argc > 0) return akcli_usage(c, "unexpected argument '%s'", argv[0]);
    akcli_session s;
    int rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    ak_err e = ak_client_logout(s.cl);
    if (e != AK_OK)
        rc = akcli_fail_err(c, e, "logout: cannot remove the session cache");
    else if (akcli_json(c))
        printf("{\"ok\":true}\n");
    else
        akcli_note(c, "logged out (profile %s): session, caps and credentials forgotten", c->profile);
    akcli_session_close(&s);
    return rc;
}
