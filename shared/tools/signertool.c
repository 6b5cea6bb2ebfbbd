/*
 * signertool — a command-line client of the signer enclave (ak/signer.h), for the end-to-end
 * tests, the benchmark script and operators. Configuration from the AK_SIGNER_* environment.
 *
 *   signertool attest                              connect + verify the attestation; prints {"attested":true}
 *   signertool health | keys                       the raw JSON of /v1/health, /v1/keys
 *   signertool derive CLASS OPERATOR ACTOR EPOCH   prints {"kek_hex":"..."} (tests only: a KEK on stdout)
 *   signertool kid KEY                             the current kid of session|oidc|cap
 *   signertool jws KEY PAYLOAD_JSON                builds {"alg":"ES256","typ":...,"kid":current}, signs
 *                                                  through the signer, prints the compact JWS
 *   signertool call METHOD PATH [BODY]             raw call; prints "<status> <body>"
 *   signertool rotate KEY                          POST /v1/rotate
 *
 * Exit status: 0 on success; 1 with {"reason":"<code>"} on stderr otherwise.
 */
#include <stdio.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/bytes.h"
#include "ak/ct.h"
#include "ak/identity.h"
#include "ak/signer.h"

static int s_tool_fail(ak_err e) {
    fprintf(stderr, "{\"reason\":\"%s\"}\n", ak_err_reason(e));
    return 1;
}

static int s_tool_key(const char *name, ak_signer_key *k) {
    if (strcmp(name, "session") == 0)
        *k = AK_SIGNER_KEY_SESSION;
    else if (strcmp(name, "oidc") == 0)
        *k = AK_SIGNER_KEY_OIDC;
    else if (strcmp(name, "cap") == 0)
        *k = AK_SIGNER_KEY_CAP;
    else
        return -1;
    return 0;
}

static int s_tool_jws(ak_signer *s, const char *key_name, const char *payload) {
    ak_signer_key key;
    char kid[AK_SIGNER_KID_MAX], used[AK_SIGNER_KID_MAX];
    ak_buf hdr, input, sig_b64;
    uint8_t sig[64];
    ak_err e = AK_OK;
    if (s_tool_key(key_name, &key) != 0) return s_tool_fail(AK_E_INVALID_INPUT);
    ak_buf_init(&hdr, 1024);
    ak_buf_init(&input, 65536);
    ak_buf_init(&sig_b64, 128);
    if ((e = ak_signer_current_kid(s, key, kid)) != AK_OK) goto out;
    if ((e = ak_buf_printf(&hdr, "{\"alg\":\"ES256\",\"typ\":\"%s\",\"kid\":\"%s\"}",
                           key == AK_SIGNER_KEY_CAP ? "ak-cap+jwt" : "JWT", kid)) != AK_OK)
        goto out;
    if ((e = ak_b64url_encode(hdr.ptr, hdr.len, &input)) != AK_OK ||
        (e = ak_buf_append_byte(&input, '.')) != AK_OK ||
        (e = ak_b64url_encode((const uint8_t *)payload, strlen(payload), &input)) != AK_OK)
        goto out;
    if ((e = ak_signer_sign(s, key, ak_buf_cur(&input), sig, used)) != AK_OK) goto out;
    if ((e = ak_b64url_encode(sig, 64, &sig_b64)) != AK_OK) goto out;
    printf("%s.%s\n", ak_buf_cstr(&input), ak_buf_cstr(&sig_b64));
out:
    ak_buf_free(&hdr);
    ak_buf_free(&input);
    ak_buf_free(&sig_b64);
    return e == AK_OK ? 0 : s_tool_fail(e);
}

static int s_tool_run(ak_signer *s, int argc, char **argv) {
    const char *cmd = argv[1];
    ak_buf out;
    long status = 0;
    ak_err e = AK_OK;
    int rc = 0;
    ak_buf_init(&out, 1024 * 1024);
    if (strcmp(cmd, "attest") == 0) {
        if ((e = ak_signer_attest(s)) == AK_OK) printf("{\"attested\":true}\n");
    } else if (strcmp(cmd, "health") == 0 || strcmp(cmd, "keys") == 0) {
        const char *path = cmd[0] == 'h' ? "/v1/health" : "/v1/keys";
        if ((e = ak_signer_call(s, "GET", path, ak_cur_from(NULL, 0), true, &status, &out)) == AK_OK)
            printf("%s\n", ak_buf_cstr(&out));
        if (e == AK_OK && status != 200) rc = 1;
    } else if (strcmp(cmd, "derive") == 0 && argc == 6) {
        ak_omni op, actor;
        uint64_t epoch;
        uint8_t kek[32];
        char hex[65];
        if (ak_omni_parse(ak_cur_from_str(argv[3]), &op) != AK_OK ||
            ak_omni_parse(ak_cur_from_str(argv[4]), &actor) != AK_OK ||
            ak_cur_to_u64(ak_cur_from_str(argv[5]), &epoch) != AK_OK) {
            e = AK_E_INVALID_INPUT;
        } else if ((e = ak_signer_derive_kek(s, argv[2], op.b, actor.b, epoch, kek)) == AK_OK) {
            ak_hex_encode(kek, 32, hex);
            printf("{\"kek_hex\":\"%s\"}\n", hex);
            ak_wipe(kek, sizeof(kek));
            ak_wipe(hex, sizeof(hex));
        }
    } else if (strcmp(cmd, "kid") == 0 && argc == 3) {
        ak_signer_key key;
        char kid[AK_SIGNER_KID_MAX];
        if (s_tool_key(argv[2], &key) != 0)
            e = AK_E_INVALID_INPUT;
        else if ((e = ak_signer_current_kid(s, key, kid)) == AK_OK)
            printf("%s\n", kid);
    } else if (strcmp(cmd, "jws") == 0 && argc == 4) {
        rc = s_tool_jws(s, argv[2], argv[3]);
    } else if (strcmp(cmd, "rotate") == 0 && argc == 3) {
        char body[64];
        snprintf(body, sizeof(body), "{\"key\":\"%s\"}", argv[2]);
        if ((e = ak_signer_call(s, "POST", "/v1/rotate", ak_cur_from_str(body), false, &status, &out)) ==
            AK_OK)
            printf("%s\n", ak_buf_cstr(&out));
        if (e == AK_OK && status != 200) rc = 1;
    } else if (strcmp(cmd, "call") == 0 && (argc == 4 || argc == 5)) {
        ak_cur body = argc == 5 ? ak_cur_from_str(argv[4]) : ak_cur_from(NULL, 0);
        if ((e = ak_signer_call(s, argv[2], argv[3], body, false, &status, &out)) == AK_OK)
            printf("%ld %s\n", status, ak_buf_cstr(&out));
    } else {
        fprintf(stderr,
                "usage: signertool attest|health|keys|derive|kid|jws|call|rotate ... (see source header)\n");
        rc = 2;
    }
    ak_buf_free(&out);
    if (e != AK_OK) return s_tool_fail(e);
    return rc;
}

int main(int argc, char **argv) {
    ak_signer_config cfg;
    ak_signer *s = NULL;
    ak_err e;
    if (argc < 2) {
        fprintf(stderr, "usage: signertool attest|health|keys|derive|kid|jws|call|rotate ...\n");
        return 2;
    }
    ak_alloc_install_jansson();
    if ((e = ak_signer_config_from_env(&cfg)) != AK_OK || (e = ak_signer_new(&cfg, &s)) != AK_OK)
        return s_tool_fail(e);
    int rc = s_tool_run(s, argc, argv);
    ak_signer_free(s);
    return rc;
}
