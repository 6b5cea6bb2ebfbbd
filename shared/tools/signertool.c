/*
 * signertool — a command-line client of the signer enclave (ak/signer.h), for the end-to-end
 * tests, the benchmark script and operators. Configuration from the AK_SIGNER_* environment.
 *
 *   signertool attest                              connect + verify the attestation; prints {"attested":true}
 *   signertool health | keys                       the raw JSON of /v1/health, /v1/keys
 *   signertool derive CLASS OPERATOR ACTOR EPOCH OP CAP [send-recv|split|abort]
 *                                                  prints {"kek_hex":"..."} (tests only: a KEK on stdout);
 *                                                  OP is the worker route's op, CAP the agent's cap (D20)
 *   signertool cap CLASS OP OPERATOR ACTOR K3_EPOCH [ISSUED_AT]
 *                                                  tests only: mints a cap as CapMintFunction would (PoP by a
 *                                                  fixed test device key, signed through the signer's cap
 *                                                  key: needs the cap-mint identity), prints the token
 *   signertool kid KEY                             the current kid of session|oidc|cap
 *   signertool jws KEY PAYLOAD_JSON                builds {"alg":"ES256","typ":...,"kid":current}, signs
 *                                                  through the signer, prints the compact JWS
 *   signertool call METHOD PATH [BODY]             raw call; prints "<status> <body>"
 *   signertool rotate KEY                          POST /v1/rotate
 *   signertool reconnect N [WAIT_FILE]             N connections one after another, each a GET /v1/health
 *                                                  (before the 2nd, waits up to 30 s for WAIT_FILE);
 *                                                  prints {"connects":..,"resumes":..,"roles":"r1,r2,.."}
 *                                                  (issue 19: TLS session resumption; AK_SIGNER_NO_RESUME=1
 *                                                  makes every connect a full handshake)
 *
 * Exit status: 0 on success; 1 with {"reason":"<code>"} on stderr otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/bytes.h"
#include "ak/cap.h"
#include "ak/crypto.h"
#include "ak/limits.h"
#include "ak/ct.h"
#include "ak/identity.h"
#include "ak/json.h"
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

typedef struct {
    ak_signer *s;
} s_tool_capsig;

static ak_err s_tool_cap_sign(void *user, const uint8_t *in, size_t len, uint8_t sig64[64]) {
    s_tool_capsig *c = user;
    char used[AK_SIGNER_KID_MAX];
    return ak_signer_sign(c->s, AK_SIGNER_KEY_CAP, ak_cur_from(in, len), sig64, used);
}

/* A test cap (see the header): service "openrouter" (credentials) or "notes" (memory). */
static int s_tool_cap(ak_signer *s, int argc, char **argv) {
    static const uint8_t k10[32] = {0x4b, 0x10, 0xde, 0x71, 0xce, 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                    12,   13,   14,   15,   16,   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27};
    ak_cap_request r;
    ak_cap_claims c;
    ak_cap_pop_msg m;
    ak_data_class dc;
    ak_op op;
    uint64_t k3, at = (uint64_t)time(NULL);
    uint8_t pub[65], addr[20];
    char kid[AK_SIGNER_KID_MAX];
    ak_buf tok;
    ak_err e = AK_OK;
    memset(&r, 0, sizeof(r));
    if (ak_data_class_parse(ak_cur_from_str(argv[2]), &dc) != AK_OK ||
        ak_op_parse(ak_cur_from_str(argv[3]), &op) != AK_OK ||
        ak_omni_parse(ak_cur_from_str(argv[4]), &r.operator_omni) != AK_OK ||
        ak_omni_parse(ak_cur_from_str(argv[5]), &r.actor_omni) != AK_OK ||
        ak_cur_to_u64(ak_cur_from_str(argv[6]), &k3) != AK_OK || k3 == 0 || k3 > UINT32_MAX ||
        (argc == 8 && ak_cur_to_u64(ak_cur_from_str(argv[7]), &at) != AK_OK))
        return s_tool_fail(AK_E_INVALID_INPUT);
    const char *svc = dc == AK_CLASS_MEMORY ? "notes" : "openrouter";
    r.service_len = strlen(svc);
    memcpy(r.service, svc, r.service_len);
    if ((e = ak_secp256k1_pubkey(k10, pub)) != AK_OK) return s_tool_fail(e);
    ak_eth_address_from_pub(pub, addr);
    ak_device_key_hash(addr, r.device_key_hash);
    r.ttl_seconds = AK_CAP_TTL_DEFAULT;
    memcpy(r.pop.nonce, "5e1f7e57c0ffee00112233445566778a", 32);
    r.pop.nonce_len = 32;
    r.pop.ts = at;
    m.operator_omni = r.operator_omni;
    m.actor_omni = r.actor_omni;
    m.service = ak_cur_from(r.service, r.service_len);
    m.op = op;
    m.data_class = dc;
    m.client_nonce = ak_cur_from(r.pop.nonce, r.pop.nonce_len);
    m.client_ts = at;
    if ((e = ak_cap_pop_sign(k10, &m, r.pop.sig)) != AK_OK ||
        (e = ak_cap_claims_new(&r, op, dc, (uint32_t)k3, at, &c)) != AK_OK ||
        (e = ak_signer_current_kid(s, AK_SIGNER_KEY_CAP, kid)) != AK_OK)
        return s_tool_fail(e);
    ak_buf_init(&tok, AK_MAX_JWS);
    s_tool_capsig cs = {s};
    e = ak_cap_sign(&c, kid, s_tool_cap_sign, &cs, &tok);
    if (e == AK_OK) printf("%s\n", ak_buf_cstr(&tok));
    ak_buf_free(&tok);
    return e == AK_OK ? 0 : s_tool_fail(e);
}

static int s_tool_reconnect(ak_signer *s, int argc, char **argv) {
    uint64_t n = 0;
    ak_buf out, roles;
    ak_err e = AK_OK;
    if (ak_cur_to_u64(ak_cur_from_str(argv[2]), &n) != AK_OK || n == 0 || n > 100000) return 2;
    ak_buf_init(&out, 65536);
    ak_buf_init(&roles, 1024 * 1024);
    for (uint64_t i = 0; i < n && e == AK_OK; i++) {
        long status = 0;
        json_t *j = NULL;
        ak_cur role = AK_CUR_LIT("-");
        if (i > 0) ak_signer_disconnect(s);
        if (i == 1 && argc == 4) {
            printf("waiting\n");
            fflush(stdout);
            for (int k = 0; k < 300 && access(argv[3], F_OK) != 0; k++)
                nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
        }
        ak_buf_clear(&out);
        e = ak_signer_call(s, "GET", "/v1/health", ak_cur_from(NULL, 0), true, &status, &out);
        if (e != AK_OK) break;
        if (status == 200 && ak_json_parse_object(ak_buf_cur(&out), &j) == AK_OK &&
            ak_json_str(j, "role", &role) != AK_OK)
            role = AK_CUR_LIT("?");
        e = ak_buf_printf(&roles, "%s%.*s", i ? "," : "", (int)role.len, (const char *)role.ptr);
        if (status != 200) e = ak_buf_printf(&roles, ":%ld", status);
        if (j != NULL) json_decref(j);
    }
    if (e == AK_OK)
        printf("{\"connects\":%u,\"resumes\":%u,\"roles\":\"%s\"}\n", ak_signer_connects(s),
               ak_signer_resumes(s), ak_buf_cstr(&roles));
    ak_buf_free(&out);
    ak_buf_free(&roles);
    if (e != AK_OK) return s_tool_fail(e);
    return 0;
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
    } else if (strcmp(cmd, "cap") == 0 && (argc == 7 || argc == 8)) {
        rc = s_tool_cap(s, argc, argv);
    } else if (strcmp(cmd, "derive") == 0 && (argc == 8 || argc == 9)) {
        ak_omni op, actor;
        uint64_t epoch;
        uint8_t kek[32];
        char hex[65];
        if (ak_omni_parse(ak_cur_from_str(argv[3]), &op) != AK_OK ||
            ak_omni_parse(ak_cur_from_str(argv[4]), &actor) != AK_OK ||
            ak_cur_to_u64(ak_cur_from_str(argv[5]), &epoch) != AK_OK) {
            e = AK_E_INVALID_INPUT;
        } else if (argc == 9) {
            /* the split derive (issue 19): "split" = another call between send and receive (the
             * request is sent again); "abort" = dropped unread, then the handle still works */
            e = ak_signer_derive_kek_send(s, argv[2], argv[6], ak_cur_from_str(argv[7]), op.b, actor.b,
                                          epoch);
            if (e == AK_OK && strcmp(argv[8], "split") == 0) {
                e = ak_signer_call(s, "GET", "/v1/health", ak_cur_from(NULL, 0), true, &status, &out);
                if (e == AK_OK) e = ak_signer_derive_kek_recv(s, kek);
            } else if (e == AK_OK && strcmp(argv[8], "abort") == 0) {
                ak_signer_derive_kek_abort(s);
                e = ak_signer_call(s, "GET", "/v1/health", ak_cur_from(NULL, 0), true, &status, &out);
                if (e == AK_OK)
                    printf("{\"aborted\":true,\"pending\":%s,\"health\":%ld}\n",
                           ak_signer_derive_pending(s) ? "true" : "false", status);
            } else if (e == AK_OK) {
                e = ak_signer_derive_kek_recv(s, kek);
            }
            if (e == AK_OK && strcmp(argv[8], "abort") != 0) {
                ak_hex_encode(kek, 32, hex);
                printf("{\"kek_hex\":\"%s\"}\n", hex);
                ak_wipe(kek, sizeof(kek));
                ak_wipe(hex, sizeof(hex));
            }
        } else if ((e = ak_signer_derive_kek(s, argv[2], argv[6], ak_cur_from_str(argv[7]), op.b, actor.b,
                                             epoch, kek)) == AK_OK) {
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
    } else if (strcmp(cmd, "reconnect") == 0 && (argc == 3 || argc == 4)) {
        rc = s_tool_reconnect(s, argc, argv);
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
        fprintf(
            stderr,
            "usage: signertool attest|health|keys|derive|cap|kid|jws|call|rotate ... (see source header)\n");
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
        fprintf(stderr, "usage: signertool attest|health|keys|derive|cap|kid|jws|call|rotate ...\n");
        return 2;
    }
    ak_alloc_install_jansson();
    if ((e = ak_signer_config_from_env(&cfg)) != AK_OK) return s_tool_fail(e);
    const char *nr = getenv("AK_SIGNER_NO_RESUME");
    cfg.no_session_resume = nr != NULL && strcmp(nr, "1") == 0;
    if ((e = ak_signer_new(&cfg, &s)) != AK_OK) return s_tool_fail(e);
    int rc = s_tool_run(s, argc, argv);
    ak_signer_free(s);
    return rc;
}
