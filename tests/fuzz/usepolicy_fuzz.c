/*
 * usepolicy_fuzz.c — libFuzzer target for D19 use policies (ak/usepolicy.h): the store body's
 * policy member, the framing read back from a 0x05 plaintext, the agent's request check, and
 * the redactor, all fed outside input.
 *
 * Input: byte 0 picks the part, the rest is its input. Properties: no crash, overread or leak;
 * a policy that parses re-encodes to canonical bytes that unframe to the same bytes (fixed
 * point); a plan that succeeds calls https:// on an allowed host; after redaction none of the
 * secret's forms is left, and a secret planted in the input is always removed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/json.h"
#include "ak/usepolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char s_secret[] = "sk-fuzz-SECRET-0123456789";

static void s_policy(ak_cur in) {
    json_t *o = NULL;
    if (ak_json_parse_object(in, &o) != AK_OK) return;
    ak_use_policy p, q;
    if (ak_use_policy_from_json(o, &p) == AK_OK) {
        ak_buf f, e1, e2;
        ak_buf_init_secret(&f, 1 << 16);
        ak_buf_init(&e1, 1 << 16);
        ak_buf_init(&e2, 1 << 16);
        ak_cur sec;
        if (ak_use_frame(&p, AK_CUR_LIT(s_secret), &f) == AK_OK) {
            if (ak_use_unframe(ak_buf_cur(&f), &q, &sec) != AK_OK) abort();
            if (!ak_cur_eq_str(sec, s_secret)) abort();
            if (ak_use_policy_encode(&p, &e1) != AK_OK || ak_use_policy_encode(&q, &e2) != AK_OK) abort();
            if (!ak_cur_eq(ak_buf_cur(&e1), ak_buf_cur(&e2))) abort();
        }
        ak_buf_free(&f);
        ak_buf_free(&e1);
        ak_buf_free(&e2);
    }
    json_decref(o);
}

static void s_unframe(ak_cur in) {
    ak_use_policy p;
    ak_cur sec;
    if (ak_use_unframe(in, &p, &sec) == AK_OK && (sec.ptr < in.ptr || sec.ptr + sec.len != in.ptr + in.len))
        abort();
}

static void s_plan(ak_cur in) {
    /* method \n url \n headers-json */
    static const char pol[] = "{\"allowed_hosts\":[\"api.example.com\",\"*.example.org:8443\"],"
                              "\"inject\":{\"header\":\"Authorization\",\"template\":\"Bearer {}\"}}";
    json_t *po = NULL, *h = NULL;
    ak_use_policy p;
    if (ak_json_parse_object(AK_CUR_LIT(pol), &po) != AK_OK || ak_use_policy_from_json(po, &p) != AK_OK)
        abort();
    json_decref(po);
    ak_cur m, u;
    if (!ak_cur_split(&in, '\n', &m) || !ak_cur_split(&in, '\n', &u)) return;
    if (in.len > 0 && ak_json_parse_object(in, &h) != AK_OK) h = NULL;
    ak_use_call c;
    ak_use_call_init(&c);
    if (ak_use_plan(&p, AK_CUR_LIT(s_secret), m, u, h, &c) == AK_OK) {
        if (strncmp(ak_buf_cstr(&c.url), "https://", 8) != 0) abort();
        if (!ak_use_host_allowed(&p, ak_cur_from_str(c.host), c.port)) abort();
    }
    ak_use_call_free(&c);
    if (h) json_decref(h);
}

static void s_redact(ak_cur in) {
    ak_use_redactor r;
    if (ak_use_redactor_init(&r, AK_CUR_LIT(s_secret)) != AK_OK) return;
    ak_buf d;
    ak_buf_init(&d, 1 << 20);
    size_t n = 0;
    size_t half = in.len / 2;
    if (ak_buf_append(&d, in.ptr, half) == AK_OK && ak_buf_append_str(&d, s_secret) == AK_OK &&
        ak_buf_append(&d, in.ptr + half, in.len - half) == AK_OK) {
        ak_err rc = ak_use_redact(&r, &d, &n);
        if (rc == AK_OK && (n == 0 || memmem(d.ptr, d.len, s_secret, sizeof(s_secret) - 1) != NULL)) abort();
    }
    ak_buf_free(&d);
    ak_use_redactor_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        ak_alloc_install_jansson();
        init = 1;
    }
    if (size < 1) return 0;
    ak_cur in = ak_cur_from(data + 1, size - 1);
    switch (data[0] % 4) {
        case 0:
            s_policy(in);
            break;
        case 1:
            s_unframe(in);
            break;
        case 2:
            s_plan(in);
            break;
        default:
            s_redact(in);
            break;
    }
    return 0;
}
