/*
 * nitro_doc_fuzz.c — ak_nitro_verify / ak_nitro_parse (ak/nitro.h): the AWS Nitro attestation
 * documents every client checks before trusting the signer enclave.
 *
 * Input: byte 0 picks the mode.
 *   even: the rest is the whole document, verified at a fixed time under the built-in
 *         Root-G1 fingerprint (parsing, COSE framing, payload fields and the first chain
 *         steps are reached);
 *   odd:  byte 1 picks one of the real NSM documents of ../shared/vectors/nitro-attestation
 *         (loaded at start-up from $AK_VECTORS_DIR or ../shared/vectors relative to the working
 *         directory, as tests/fuzz/run.sh runs from the repository top; never copied into the
 *         corpus), the rest is a list of 4-byte edits (op, offset hi, offset lo, value): xor,
 *         set, truncate, insert. The edited document is verified at the vector's own time, so
 *         the chain, validity and COSE signature checks run on realistic input.
 * Properties: no crash, overread, leak or UB; every failure is one of the documented reasons;
 * a document that verifies also parses to the same facts, and fails under another root; an
 * edited real document verifies only when the edits left its bytes unchanged (no forgery).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ak/alloc.h"
#include "ak/json.h"
#include "ak/nitro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_FIXED_NOW 1762795210812LL /* fastcrypto's document time: inside a real chain's window */
#define S_MAX_VEC 3

static const char *const s_files[S_MAX_VEC] = {
    "nitro-attestation/blocky-nitrite-2024-09-07.json",
    "nitro-attestation/cape-js-2022-07-14.json",
    "nitro-attestation/fastcrypto-pcr16-2025-11-10.json",
};
static ak_buf s_vec[S_MAX_VEC];
static int64_t s_vec_ts[S_MAX_VEC];
static size_t s_nvec;

static void s_load_vectors(void) {
    const char *dir = getenv("AK_VECTORS_DIR");
    if (dir == NULL || dir[0] == '\0') dir = "../shared/vectors";
    for (size_t i = 0; i < S_MAX_VEC; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, s_files[i]);
        ak_buf file;
        ak_buf_init(&file, 1u << 20);
        json_t *j = NULL;
        ak_cur b64;
        uint64_t ts;
        ak_buf_init(&s_vec[s_nvec], AK_NITRO_MAX_DOC);
        if (ak_buf_append_file(&file, path) == AK_OK &&
            ak_json_parse_object(ak_buf_cur(&file), &j) == AK_OK &&
            ak_json_str(j, "doc_b64", &b64) == AK_OK &&
            ak_json_u64(json_object_get(j, "expected"), "timestamp_ms", &ts) == AK_OK &&
            ak_b64_decode(b64, &s_vec[s_nvec]) == AK_OK) {
            s_vec_ts[s_nvec] = (int64_t)ts;
            s_nvec++;
        } else {
            ak_buf_free(&s_vec[s_nvec]);
        }
        json_decref(j);
        ak_buf_free(&file);
    }
    if (s_nvec == 0) fprintf(stderr, "nitro_doc_fuzz: no vectors under %s: edit mode idle\n", dir);
}

static void s_init(void) {
    static int done;
    if (done) return;
    done = 1;
    ak_alloc_install_jansson();
    s_load_vectors();
}

static bool s_known(ak_err e) {
    switch (e) {
        case AK_E_TOO_LARGE:
        case AK_E_ATTEST_CBOR_MALFORMED:
        case AK_E_ATTEST_TRAILING:
        case AK_E_ATTEST_COSE_MALFORMED:
        case AK_E_ATTEST_PAYLOAD_MALFORMED:
        case AK_E_ATTEST_CERT_MALFORMED:
        case AK_E_ATTEST_ROOT_MISMATCH:
        case AK_E_ATTEST_CHAIN_INVALID:
        case AK_E_ATTEST_LEAF_INVALID:
        case AK_E_ATTEST_CERT_EXPIRED:
        case AK_E_ATTEST_CERT_NOT_YET_VALID:
        case AK_E_ATTEST_SIGNATURE_INVALID:
            return true;
        default:
            return false;
    }
}

/* Verifies; on success checks parse agrees and another root refuses. Returns the result. */
static ak_err s_verify(ak_cur doc, int64_t now) {
    ak_nitro_policy pol;
    memset(&pol, 0, sizeof(pol));
    pol.now_ms = now;
    ak_nitro_facts f, g;
    ak_err e = ak_nitro_verify(doc, ak_cur_from(NULL, 0), &pol, &f);
    ak_err p = ak_nitro_parse(doc, &g);
    if (e != AK_OK) {
        if (!s_known(e)) abort();
        return e;
    }
    if (p != AK_OK || f.timestamp_ms != g.timestamp_ms || !ak_cur_eq(f.module_id, g.module_id) ||
        !ak_cur_eq(f.certificate, g.certificate) || f.cabundle_len != g.cabundle_len)
        abort();
    uint8_t not_root[4] = {0x30, 0x02, 0x05, 0x00};
    if (ak_nitro_verify(doc, ak_cur_from(not_root, 4), &pol, NULL) != AK_E_ATTEST_ROOT_MISMATCH) abort();
    ak_buf js;
    ak_buf_init(&js, 1u << 16);
    if (ak_nitro_facts_json(&f, &js) != AK_OK) abort();
    ak_buf_free(&js);
    return e;
}

static void s_edit_mode(const uint8_t *data, size_t size) {
    if (s_nvec == 0 || size < 1) return;
    size_t v = data[0] % s_nvec;
    ak_buf d;
    ak_buf_init(&d, AK_NITRO_MAX_DOC + 64);
    if (ak_buf_append(&d, s_vec[v].ptr, s_vec[v].len) != AK_OK) abort();
    for (size_t i = 1; i + 4 <= size; i += 4) {
        uint8_t op = data[i] & 3, val = data[i + 3];
        if (d.len == 0) break;
        size_t off = (((size_t)data[i + 1] << 8) | data[i + 2]) % d.len;
        if (op == 0) {
            d.ptr[off] ^= val;
        } else if (op == 1) {
            d.ptr[off] = val;
        } else if (op == 2) {
            d.len = off;
        } else if (d.len < d.cap) {
            if (ak_buf_append_byte(&d, 0) != AK_OK) break;
            memmove(d.ptr + off + 1, d.ptr + off, d.len - 1 - off);
            d.ptr[off] = val;
        }
    }
    ak_err e = s_verify(ak_buf_cur(&d), s_vec_ts[v]);
    bool same = d.len == s_vec[v].len && memcmp(d.ptr, s_vec[v].ptr, d.len) == 0;
    if (e == AK_OK && !same) abort(); /* an edited document verified: a forgery */
    if (same && e != AK_OK) abort();
    ak_buf_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    s_init();
    if (size == 0) return 0;
    if (data[0] % 2 == 0)
        (void)s_verify(ak_cur_from(data + 1, size - 1), S_FIXED_NOW);
    else
        s_edit_mode(data + 1, size - 1);
    return 0;
}
