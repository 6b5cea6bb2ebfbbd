/*
 * cap_parse_fuzz.c — libFuzzer target for the cap parsers (ak/cap.h): the broker's mint request
 * body, the worker's claims reader, the whole worker verifier (compact JWS in), and the audit
 * flush's pending-event check (ak/audit.h), all outside input.
 *
 * Input: byte 0 picks the parser, the rest is its input. Properties: no crash, overread or
 * leak; a parsed request has a D3 service and a valid nonce; claims that parse re-encode to
 * text that parses to the same claims (fixed point); verify never succeeds (no input carries a
 * signature by the key generated here) and always zeroes its output on failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/audit.h"
#include "ak/cap.h"
#include "ak/crypto.h"
#include "ak/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ak_jwks s_jwks;

static void s_init(void) {
    static int done;
    if (done) return;
    done = 1;
    ak_alloc_install_jansson();
    uint8_t priv[32];
    if (ak_p256_keygen(priv, s_jwks.keys[0].pub65) != AK_OK) abort();
    memcpy(s_jwks.keys[0].kid, "cap-1", 6);
    s_jwks.n = 1;
}

static void s_claims(ak_cur in) {
    json_t *o = NULL;
    if (ak_json_parse_object(in, &o) != AK_OK) return;
    ak_cap_claims c, c2;
    if (ak_cap_claims_from_json(o, &c) == AK_OK) {
        ak_buf text;
        ak_buf_init(&text, AK_MAX_JWS);
        if (ak_cap_claims_encode(&c, &text) != AK_OK) abort();
        json_t *o2 = NULL;
        if (ak_json_parse_object(ak_buf_cur(&text), &o2) != AK_OK) abort();
        if (ak_cap_claims_from_json(o2, &c2) != AK_OK) abort();
        if (memcmp(&c, &c2, sizeof(c)) != 0) abort();
        json_decref(o2);
        ak_buf_free(&text);
    }
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    s_init();
    if (size == 0) return 0;
    ak_cur in = ak_cur_from(data + 1, size - 1);
    switch (data[0] % 4) {
        case 0: {
            ak_cap_request r;
            if (ak_cap_request_parse(in, &r) == AK_OK) {
                if (ak_service_validate(ak_cur_from(r.service, r.service_len)) != AK_OK) abort();
                if (ak_cap_nonce_validate(ak_cur_from(r.pop.nonce, r.pop.nonce_len)) != AK_OK) abort();
                if (r.ttl_seconds < AK_CAP_TTL_MIN || r.ttl_seconds > AK_CAP_TTL_MAX) abort();
            }
            break;
        }
        case 1:
            s_claims(in);
            break;
        case 2: {
            ak_cap_claims c;
            ak_cap_expect x = {AK_OP_FETCH, AK_CLASS_CREDENTIALS, 1760000000};
            if (ak_cap_verify(in, &s_jwks, &x, &c) == AK_OK) abort();
            static const ak_cap_claims zero;
            if (memcmp(&c, &zero, sizeof(c)) != 0) abort();
            break;
        }
        default: {
            ak_omni op;
            memset(op.b, 0xab, 32);
            (void)ak_audit_event_check(in, &op);
            break;
        }
    }
    return 0;
}
