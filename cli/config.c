/*
 * cli/config.c — `agentkeys config import-env FILE | set KEY VALUE | show`.
 *
 * import-env reads a shell env file such as the local stack's build/local/stack.env
 * ("export A=1 B=2" lines) and keeps only the public settings below; credentials in it (the
 * stack's admin AWS keys, the deployer key) are never copied into a profile.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"

static const struct {
    const char *env, *key;
} s_map[] = {
    {"AK_API_URL", "api_url"},
    {"AK_RPC_URL", "rpc_url"},
    {"AK_CHAIN_ID", "chain_id"},
    {"AK_REGISTRY_ADDRESS", "registry"},
    {"AK_SCOPE_ADDRESS", "scope_contract"},
    {"AK_EPOCH_ADDRESS", "epoch_contract"},
    {"AK_AUDIT_ADDRESS", "audit_contract"},
    {"AK_S3_ENDPOINT", "s3_endpoint"},
    {"AWS_REGION", "region"},
    {"AK_VAULT_BUCKET", "vault_bucket"},
    {"AK_MEMORY_BUCKET", "memory_bucket"},
    {"AK_MAIL_BUCKET", "mail_bucket"},
    {"AK_AUDIT_BUCKET", "audit_bucket"},
    /* the signer's admin identity for `epoch rotate`'s K3 commitments (paths, never key bytes) */
    {"AK_SIGNER_URL", "signer_url"},
    {"AK_SIGNER_CA_PEM", "signer_ca"},
    {"AK_SIGNER_ADMIN_CERT", "signer_cert"},
    {"AK_SIGNER_ADMIN_KEY", "signer_key"},
    {"AK_SIGNER_ATTEST_PUB", "signer_attest_pub"},
    {"AK_SIGNER_MEASUREMENT", "signer_measurement"},
};
#define S_NMAP (sizeof s_map / sizeof s_map[0])

/* The keys `config show` lists (and `config set` accepts without --force). */
static const char *const s_keys[] = {"api_url",
                                     "rpc_url",
                                     "chain_id",
                                     "registry",
                                     "scope_contract",
                                     "epoch_contract",
                                     "audit_contract",
                                     "wallet",
                                     "password_file",
                                     "passkey",
                                     "s3_endpoint",
                                     "region",
                                     "vault_bucket",
                                     "memory_bucket",
                                     "mail_bucket",
                                     "audit_bucket",
                                     "signer_url",
                                     "signer_ca",
                                     "signer_cert",
                                     "signer_key",
                                     "signer_attest_pub",
                                     "signer_measurement",
                                     NULL};

static bool s_known(const char *k) {
    for (int i = 0; s_keys[i]; i++)
        if (strcmp(s_keys[i], k) == 0) return true;
    return false;
}

static bool s_value_ok(ak_cur v) {
    for (size_t i = 0; i < v.len; i++)
        if (v.ptr[i] < 0x20 || v.ptr[i] == 0x7f) return false;
    return true;
}

int akcli_cmd_config_import(akcli *c, int argc, char **argv) {
    if (argc != 1) return akcli_usage(c, "one FILE expected");
    ak_buf text;
    ak_buf_init(&text, 1u << 20);
    int rc = AKCLI_OK;
    size_t n = 0;
    if (ak_buf_append_file(&text, argv[0]) != AK_OK) {
        rc = akcli_fail(c, AKCLI_ERR, "io_error", "cannot read %s", argv[0]);
        goto out;
    }
    ak_cur all = ak_buf_cur(&text), line;
    while (all.len > 0) {
        if (!ak_cur_split(&all, '\n', &line)) {
            line = all;
            all.len = 0;
        }
        line = ak_cur_trim(line);
        if (line.len == 0 || line.ptr[0] == '#') continue;
        if (ak_cur_starts_with(line, AK_CUR_LIT("export ")))
            line = ak_cur_trim(ak_cur_from(line.ptr + 7, line.len - 7));
        /* space-separated NAME=VALUE words (our env files never quote spaces) */
        while (line.len > 0) {
            ak_cur word;
            if (!ak_cur_split(&line, ' ', &word)) {
                word = line;
                line.len = 0;
            }
            line = ak_cur_trim(line);
            ak_cur name;
            if (!ak_cur_split(&word, '=', &name)) continue;
            if (word.len >= 2 && (word.ptr[0] == '"' || word.ptr[0] == '\'') &&
                word.ptr[word.len - 1] == word.ptr[0])
                word = ak_cur_from(word.ptr + 1, word.len - 2);
            for (size_t i = 0; i < S_NMAP; i++) {
                if (!ak_cur_eq_str(name, s_map[i].env) || word.len == 0 || !s_value_ok(word)) continue;
                char val[1024];
                if (ak_cur_to_cstr(word, val, sizeof val) != AK_OK) continue;
                ak_err e = akcli_conf_set(c, s_map[i].key, val);
                if (e != AK_OK) {
                    rc = akcli_fail_err(c, e, "cannot write %s", c->profile_path);
                    goto out;
                }
                n++;
            }
        }
    }
    if (n == 0) {
        rc = akcli_fail(c, AKCLI_ERR, "invalid_input", "%s has none of the AK_* settings", argv[0]);
        goto out;
    }
    if (akcli_json(c))
        printf("{\"imported\":%zu,\"profile\":\"%s\",\"file\":", n, c->profile);
    else
        akcli_note(c, "imported %zu settings into profile '%s' (%s)", n, c->profile, c->profile_path);
    if (akcli_json(c)) {
        akcli_json_str(stdout, ak_cur_from_str(c->profile_path));
        printf("}\n");
    }
out:
    ak_buf_free(&text);
    return rc;
}

int akcli_cmd_config_set(akcli *c, int argc, char **argv) {
    bool force = false;
    const char *kv[2] = {NULL, NULL};
    int n = 0;
    bool unset = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (strcmp(argv[i], "--unset") == 0)
            unset = true;
        else if (n < 2)
            kv[n++] = argv[i];
        else
            return akcli_usage(c, "too many arguments");
    }
    if (n != (unset ? 1 : 2)) return akcli_usage(c, unset ? "KEY expected" : "KEY and VALUE expected");
    if (!force && !s_known(kv[0]))
        return akcli_usage(c, "unknown key '%s' (see agentkeys config show; --force to set it anyway)",
                           kv[0]);
    for (const char *p = kv[0]; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return akcli_usage(c, "a key is lowercase letters, digits and '_'");
    if (kv[1] && !s_value_ok(ak_cur_from_str(kv[1])))
        return akcli_usage(c, "the value has control characters");
    ak_err e = akcli_conf_set(c, kv[0], unset ? NULL : kv[1]);
    if (e != AK_OK) return akcli_fail_err(c, e, "cannot write %s", c->profile_path);
    if (akcli_json(c)) printf("{\"ok\":true}\n");
    return AKCLI_OK;
}

int akcli_cmd_config_show(akcli *c, int argc, char **argv) {
    if (argc > 0) return akcli_usage(c, "unexpected argument '%s'", argv[0]);
    if (akcli_json(c)) {
        printf("{\"profile\":");
        akcli_json_str(stdout, ak_cur_from_str(c->profile));
        printf(",\"file\":");
        akcli_json_str(stdout, ak_cur_from_str(c->profile_path));
        printf(",\"cache_dir\":");
        akcli_json_str(stdout, ak_cur_from_str(akcli_cache_dir(c)));
        printf(",\"settings\":{");
        bool first = true;
        for (int i = 0; s_keys[i]; i++) {
            const char *v = akcli_conf(c, s_keys[i]);
            if (!v) continue;
            printf("%s\"%s\":", first ? "" : ",", s_keys[i]);
            akcli_json_str(stdout, ak_cur_from_str(v));
            first = false;
        }
        printf("}}\n");
        return AKCLI_OK;
    }
    printf("# profile %s (%s)\n# cache   %s\n", c->profile, c->profile_path, akcli_cache_dir(c));
    for (int i = 0; s_keys[i]; i++) {
        const char *v = akcli_conf(c, s_keys[i]);
        printf("%-15s = %s\n", s_keys[i], v ? v : "(unset)");
    }
    return AKCLI_OK;
}
