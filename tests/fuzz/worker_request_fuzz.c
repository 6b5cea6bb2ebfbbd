/*
 * worker_request_fuzz.c — the credentials/memory workers' request handling up to the cap check
 * (ak_worker_handle, ak/worker.h): STS header presence and the strict JSON body
 * ({"cap"} / {"cap","plaintext_b64"}), both outside input. The body parser is file-local to
 * shared/src/service/worker.c, so it is reached through the real pipeline over fakes (as
 * tests/unit/worker_test.c does). ak_cap_request_parse, the cap-mint body, is already fuzzed by
 * cap_parse_fuzz.c.
 *
 * Input: byte 0 picks the op (store/fetch/teardown), bits 0..2 of byte 1 which of the three
 * X-Aws-* headers are present, the rest is the body.
 * The cap key is generated at start-up, so no input carries a valid cap and the pipeline must
 * stop at step 3 at the latest: the chain and S3 operations are left NULL (a call would crash).
 * Properties: no crash, overread, leak or UB; every input is refused with a 4xx reason (bad
 * input is never an upstream fault) and an empty answer body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/json.h"
#include "ak/log.h"
#include "ak/worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char s_jwks[1024];
static ak_worker s_w;

static ak_err s_keys(ak_svc *svc, ak_buf *out) {
    (void)svc;
    return ak_buf_append_str(out, s_jwks);
}

static const ak_svc_ops s_sops = {.keys = s_keys};
static const ak_worker_ops s_wops; /* all NULL: reached only after a verified cap */

static void s_init(void) {
    static int done;
    if (done) return;
    done = 1;
    ak_alloc_install_jansson();
    ak_log_set_min_level(AK_LOG_ERROR);
    ak_jwk_p256 k;
    memset(&k, 0, sizeof(k));
    uint8_t priv[32];
    if (ak_p256_keygen(priv, k.pub65) != AK_OK) abort();
    memcpy(k.kid, "cap-1", 6);
    json_t *j = NULL;
    if (ak_jwk_p256_to_json(&k, &j) != AK_OK) abort();
    json_object_set_new(j, "ak_key", json_string("cap"));
    json_object_set_new(j, "ak_status", json_string("current"));
    json_t *root = json_pack("{s:[o]}", "keys", j);
    ak_buf b;
    ak_buf_init(&b, sizeof(s_jwks) - 1);
    if (root == NULL || ak_json_dump(root, &b) != AK_OK) abort();
    memcpy(s_jwks, b.ptr, b.len);
    ak_buf_free(&b);
    json_decref(root);
    ak_worker_init_for_test(&s_w, AK_CLASS_CREDENTIALS, "ak-vault", true, &s_sops, "ak-audit", &s_wops);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    s_init();
    if (size < 2) return 0;
    static const ak_op ops[] = {AK_OP_STORE, AK_OP_FETCH, AK_OP_TEARDOWN, AK_OP_USE};
    ak_worker_req r;
    memset(&r, 0, sizeof(r));
    r.op = ops[data[0] % 4];
    r.has_access_key_id = data[1] & 1;
    r.has_secret_access_key = data[1] & 2;
    r.has_session_token = data[1] & 4;
    r.access_key_id = AK_CUR_LIT("ASIAFUZZ");
    r.secret_access_key = AK_CUR_LIT("secret");
    r.session_token = AK_CUR_LIT("token");
    r.request_id = AK_CUR_LIT("fuzz");
    r.now = 1760000000;
    r.body = ak_cur_from(data + 2, size - 2);
    ak_worker_resp resp;
    ak_worker_resp_init(&resp);
    ak_err e = ak_worker_handle(&s_w, &r, &resp);
    int status = ak_err_status(e);
    if (e == AK_OK || status < 400 || status > 499 || resp.body.len != 0) abort();
    ak_worker_resp_free(&resp);
    return 0;
}
