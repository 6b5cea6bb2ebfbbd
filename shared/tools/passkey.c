/*
 * passkey — a software WebAuthn authenticator (ES256 / P-256) for tests and `make demo`: a thin
 * command line over libak's ak/passkey.h (the same code as `agentkeys --passkey software:FILE`),
 * which documents the exact bytes it produces for contracts/src/K11Verifier.sol.
 *
 * Usage:
 *   passkey new    --rpid <rp id> --out <key.json>
 *        Creates a credential (private key from getrandom(2)); writes key.json (mode 0600,
 *        atomically, never through a symlink) and prints the public part as JSON.
 *   passkey pub    --key <key.json>
 *        Prints the public part: rp_id, rp_id_hash, cred_id, pub_x, pub_y.
 *   passkey assert --key <key.json> [--sign-count <n>] --challenge 0x<64 hex>
 *                  [--device-key-hash 0x<64 hex>] [--origin <url>]
 *                  [--flags 0x<2 hex>] [--type <webauthn.get|...>]
 *        Prints one JSON object: authenticator_data, client_data_json (the text),
 *        client_data_json_hex, r, s, sign_count, signed_hash, and "tuple", the K11Assertion
 *        `(bytes32,bytes,bytes,uint256,uint256)` as cast wants it (attestor = --device-key-hash,
 *        or 0). Without --sign-count the key file's stored count + 1 is used and saved first
 *        (as the CLI does); with it, the file is left alone. --flags / --type exist to build
 *        negative tests.
 *
 * Exit status: 0 on success, 1 on a runtime failure, 2 on bad usage / bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/bytes.h"
#include "ak/passkey.h"

static int s_usage(void) {
    fputs("usage:\n"
          "  passkey new    --rpid <rp id> --out <key.json>\n"
          "  passkey pub    --key <key.json>\n"
          "  passkey assert --key <key.json> --challenge 0x<64 hex> [--sign-count <n>]\n"
          "                 [--device-key-hash 0x<64 hex>] [--origin <url>] [--flags 0x<hex>]\n"
          "                 [--type <client data type>]\n",
          stderr);
    return 2;
}

/* Returns the value following `--name`, or NULL. */
static const char *s_opt(int argc, char **argv, const char *name) {
    for (int i = 2; i + 1 < argc; i += 2)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

static int s_check_opts(int argc, char **argv, const char *const *allowed) {
    if ((argc - 2) % 2 != 0) return -1;
    for (int i = 2; i < argc; i += 2) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(argv[i], *a) == 0) ok = true;
        if (!ok) {
            fprintf(stderr, "passkey: unknown option %s\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

static int s_print_public(const ak_passkey *k) {
    ak_buf b;
    ak_buf_init(&b, 4096);
    int rc = ak_passkey_public_json(k, &b) == AK_OK ? 0 : 1;
    if (rc == 0) printf("%s\n", ak_buf_cstr(&b));
    ak_buf_free(&b);
    return rc;
}

static int s_load(const char *path, ak_passkey *k) {
    ak_err e = ak_passkey_load(path, k);
    if (e != AK_OK) fprintf(stderr, "passkey: %s is not a valid key file (%s)\n", path, ak_err_reason(e));
    return e == AK_OK ? 0 : 2;
}

static int s_cmd_new(int argc, char **argv) {
    static const char *const allowed[] = {"--rpid", "--out", NULL};
    const char *rpid = s_opt(argc, argv, "--rpid"), *out = s_opt(argc, argv, "--out");
    if (s_check_opts(argc, argv, allowed) != 0 || rpid == NULL || out == NULL) return s_usage();
    if (!ak_passkey_rpid_valid(rpid)) {
        fprintf(stderr, "passkey: --rpid must be a lowercase host name\n");
        return 2;
    }
    ak_passkey k;
    ak_err e = ak_passkey_new(rpid, &k);
    if (e == AK_OK) e = ak_passkey_save(out, &k);
    int rc = e == AK_OK ? s_print_public(&k) : 1;
    if (e != AK_OK) fprintf(stderr, "passkey: cannot create %s (%s)\n", out, ak_err_reason(e));
    ak_passkey_wipe(&k);
    return rc;
}

static int s_cmd_pub(int argc, char **argv) {
    static const char *const allowed[] = {"--key", NULL};
    const char *path = s_opt(argc, argv, "--key");
    if (s_check_opts(argc, argv, allowed) != 0 || path == NULL) return s_usage();
    ak_passkey k;
    int rc = s_load(path, &k);
    if (rc == 0) rc = s_print_public(&k);
    ak_passkey_wipe(&k);
    return rc;
}

static ak_err s_hex_field(ak_buf *b, const char *name, const uint8_t *p, size_t n) {
    AK_GUARD(ak_buf_printf(b, "\"%s\":\"0x", name));
    AK_GUARD(ak_buf_append_hex(b, p, n));
    return ak_buf_append_str(b, "\",");
}

static ak_err s_assertion_json(const ak_passkey_assertion *a, ak_buf *b) {
    const uint8_t *cdj = (const uint8_t *)a->client_data_json;
    AK_GUARD(ak_buf_append_str(b, "{"));
    AK_GUARD(s_hex_field(b, "authenticator_data", a->authenticator_data, 37));
    /* the text is printable ASCII without backslashes; only '"' needs escaping */
    AK_GUARD(ak_buf_append_str(b, "\"client_data_json\":\""));
    for (size_t i = 0; i < a->client_data_json_len; i++) {
        if (cdj[i] == '"') AK_GUARD(ak_buf_append_byte(b, '\\'));
        AK_GUARD(ak_buf_append_byte(b, cdj[i]));
    }
    AK_GUARD(ak_buf_append_str(b, "\","));
    AK_GUARD(s_hex_field(b, "client_data_json_hex", cdj, a->client_data_json_len));
    AK_GUARD(s_hex_field(b, "signed_hash", a->signed_hash, 32));
    AK_GUARD(s_hex_field(b, "r", a->r, 32));
    AK_GUARD(s_hex_field(b, "s", a->s, 32));
    AK_GUARD(ak_buf_printf(b, "\"sign_count\":%lu,\"tuple\":\"(0x", (unsigned long)a->sign_count));
    AK_GUARD(ak_buf_append_hex(b, a->attestor, 32));
    AK_GUARD(ak_buf_append_str(b, ",0x"));
    AK_GUARD(ak_buf_append_hex(b, a->authenticator_data, 37));
    AK_GUARD(ak_buf_append_str(b, ",0x"));
    AK_GUARD(ak_buf_append_hex(b, cdj, a->client_data_json_len));
    AK_GUARD(ak_buf_append_str(b, ",0x"));
    AK_GUARD(ak_buf_append_hex(b, a->r, 32));
    AK_GUARD(ak_buf_append_str(b, ",0x"));
    AK_GUARD(ak_buf_append_hex(b, a->s, 32));
    return ak_buf_append_str(b, ")\"}");
}

static int s_cmd_assert(int argc, char **argv) {
    static const char *const allowed[] = {"--key",    "--challenge", "--sign-count", "--device-key-hash",
                                          "--origin", "--flags",     "--type",       NULL};
    const char *key = s_opt(argc, argv, "--key"), *ch = s_opt(argc, argv, "--challenge"),
               *cnt = s_opt(argc, argv, "--sign-count"), *dk = s_opt(argc, argv, "--device-key-hash"),
               *fl = s_opt(argc, argv, "--flags");
    if (s_check_opts(argc, argv, allowed) != 0 || key == NULL || ch == NULL) return s_usage();
    uint8_t challenge[32], dkh[32] = {0};
    uint64_t count = 0;
    ak_passkey_assert_opts o = {.type = s_opt(argc, argv, "--type"), .origin = s_opt(argc, argv, "--origin")};
    if (ak_hex_decode_exact(ak_cur_from_str(ch), true, challenge, 32) != AK_OK || strncmp(ch, "0x", 2) != 0) {
        fprintf(stderr, "passkey: --challenge must be 0x + 64 hex digits\n");
        return 2;
    }
    if (cnt != NULL && (ak_cur_to_u64(ak_cur_from_str(cnt), &count) != AK_OK || count > 0xFFFFFFFFu)) {
        fprintf(stderr, "passkey: --sign-count must be a decimal uint32\n");
        return 2;
    }
    if (dk != NULL && ak_hex_decode_exact(ak_cur_from_str(dk), true, dkh, 32) != AK_OK) {
        fprintf(stderr, "passkey: --device-key-hash must be 0x + 64 hex digits\n");
        return 2;
    }
    if (fl != NULL) {
        if (ak_hex_decode_exact(ak_cur_from_str(fl), true, &o.flags, 1) != AK_OK) {
            fprintf(stderr, "passkey: --flags must be 0x + 2 hex digits\n");
            return 2;
        }
        o.set_flags = true;
    }
    ak_passkey k;
    ak_passkey_assertion a;
    ak_buf out;
    ak_buf_init(&out, 16384);
    int rc = s_load(key, &k);
    ak_err e = AK_OK;
    if (rc != 0) goto done;
    if (cnt == NULL) { /* the stored count + 1, saved before the assertion is used */
        e = k.sign_count < 0xFFFFFFFFu ? AK_OK : AK_E_LIMIT;
        if (e == AK_OK) {
            count = ++k.sign_count;
            e = ak_passkey_save(key, &k);
        }
    }
    if (e == AK_OK) e = ak_passkey_assert(&k, challenge, (uint32_t)count, dkh, &o, &a);
    if (e == AK_OK) e = s_assertion_json(&a, &out);
    if (e == AK_OK) {
        printf("%s\n", ak_buf_cstr(&out));
        rc = fflush(stdout) == 0 ? 0 : 1;
    } else {
        fprintf(stderr, "passkey: assert: %s\n", ak_err_reason(e));
        rc = e == AK_E_INVALID_INPUT ? 2 : 1;
    }
done:
    ak_passkey_wipe(&k);
    ak_buf_free(&out);
    return rc;
}

int main(int argc, char **argv) {
    ak_alloc_install_jansson();
    if (argc < 2) return s_usage();
    if (strcmp(argv[1], "new") == 0) return s_cmd_new(argc, argv);
    if (strcmp(argv[1], "pub") == 0) return s_cmd_pub(argc, argv);
    if (strcmp(argv[1], "assert") == 0) return s_cmd_assert(argc, argv);
    return s_usage();
}
