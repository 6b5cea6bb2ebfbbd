/* nsm.c — the Nitro Secure Module protocol and its /dev/nsm transport (see aks/nsm.h). */
#include "aks/nsm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "ak/cbor.h"
#include "ak/log.h"
#include "ak/nitro.h"

/* ---------------------------------------------------------------- transport */

/* Linux uapi <linux/nsm.h>: struct nsm_iovec { __u64 addr; __u64 len; }; struct nsm_raw
 * { request, response }; NSM_IOCTL_RAW = _IOWR(NSM_MAGIC 0x0A, 0, struct nsm_raw). Our own
 * definitions (musl ships no linux/nsm.h); the layout is fixed-width, the same on every ABI. */
typedef struct {
    uint64_t addr;
    uint64_t len;
} s_nsm_iovec;

typedef struct {
    s_nsm_iovec request;
    s_nsm_iovec response;
} s_nsm_raw;

_Static_assert(sizeof(s_nsm_raw) == 32, "struct nsm_raw is two 16-byte iovecs");
#define S_NSM_IOCTL_RAW _IOWR(0x0A, 0, s_nsm_raw)

ak_err aks_nsm_ioctl(void *fd_ptr, ak_cur req, uint8_t *resp, size_t cap, size_t *resp_len) {
    int fd = *(const int *)fd_ptr;
    *resp_len = 0;
    AK_ENSURE(req.len > 0 && req.len <= AKS_NSM_REQUEST_MAX, AK_E_TOO_LARGE);
    if (cap > AKS_NSM_RESPONSE_MAX) cap = AKS_NSM_RESPONSE_MAX;
    s_nsm_raw msg;
    int r = -1, err = 0;
    /* EINTR: the request may be re-sent (an attestation has no side effect); bounded. */
    for (int attempt = 0; attempt < 3; attempt++) {
        memset(&msg, 0, sizeof(msg));
        msg.request.addr = (uint64_t)(uintptr_t)req.ptr;
        msg.request.len = req.len;
        msg.response.addr = (uint64_t)(uintptr_t)resp;
        msg.response.len = cap;
        r = ioctl(fd, S_NSM_IOCTL_RAW, &msg);
        err = errno;
        if (r == 0 || err != EINTR) break;
    }
    if (r != 0) {
        char e[16];
        snprintf(e, sizeof(e), "%d", err);
        ak_log_error("nsm request failed", "errno", e);
        return err == EMSGSIZE ? AK_E_TOO_LARGE : AK_E_ATTEST_NSM_UNAVAILABLE;
    }
    AK_ENSURE(msg.response.len > 0 && msg.response.len <= cap, AK_E_ATTEST_NSM_MALFORMED);
    *resp_len = (size_t)msg.response.len;
    return AK_OK;
}

/* ---------------------------------------------------------------- messages */

static ak_err s_nsm_tstr(ak_buf *b, const char *s) {
    size_t n = strlen(s);
    AK_GUARD(ak_cbor_put_head(b, 3, n));
    return ak_buf_append(b, s, n);
}

static ak_err s_nsm_bstr(ak_buf *b, ak_cur v) {
    AK_GUARD(ak_cbor_put_head(b, 2, v.len));
    return ak_buf_append(b, v.ptr, v.len);
}

ak_err aks_nsm_attestation_request(ak_cur user_data, ak_cur nonce, ak_cur public_key, ak_buf *req) {
    AK_PRECOND(req != NULL);
    AK_ENSURE(user_data.len <= AKS_NSM_FIELD_MAX && nonce.len <= AKS_NSM_FIELD_MAX &&
                  public_key.len <= AKS_NSM_FIELD_MAX,
              AK_E_LIMIT);
    size_t start = req->len;
    ak_err rc = AK_OK;
    AK_GUARD_OUT(ak_cbor_put_head(req, 5, 1));
    AK_GUARD_OUT(s_nsm_tstr(req, "Attestation"));
    AK_GUARD_OUT(ak_cbor_put_head(req, 5, 3));
    AK_GUARD_OUT(s_nsm_tstr(req, "user_data"));
    AK_GUARD_OUT(s_nsm_bstr(req, user_data));
    AK_GUARD_OUT(s_nsm_tstr(req, "nonce"));
    AK_GUARD_OUT(s_nsm_bstr(req, nonce));
    AK_GUARD_OUT(s_nsm_tstr(req, "public_key"));
    AK_GUARD_OUT(s_nsm_bstr(req, public_key));
    AK_ENSURE_OUT(req->len - start <= AKS_NSM_REQUEST_MAX, AK_E_LIMIT);
out:
    if (rc != AK_OK) req->len = start;
    return rc;
}

static const char *const s_nsm_codes[] = {"InvalidArgument", "InvalidIndex",     "InvalidResponse",
                                          "ReadOnlyIndex",   "InvalidOperation", "BufferTooSmall",
                                          "InputTooLarge",   "InternalError",    "Success"};

/* The one key of a one-member map whose key is a text string. */
static ak_err s_nsm_single(const ak_cbor_item *m, ak_cur *key, ak_cbor_item *val) {
    const ak_cbor_limits lim = m->lim;
    ak_cbor_item k;
    ak_cur r = m->body;
    AK_ENSURE(m->type == AK_CBOR_MAP && m->count == 1, AK_E_ATTEST_NSM_MALFORMED);
    AK_ENSURE(ak_cbor_decode(&r, &lim, &k) == AK_OK && ak_cbor_get_tstr(&k, key) == AK_OK,
              AK_E_ATTEST_NSM_MALFORMED);
    AK_ENSURE(ak_cbor_decode(&r, &lim, val) == AK_OK && r.len == 0, AK_E_ATTEST_NSM_MALFORMED);
    return AK_OK;
}

ak_err aks_nsm_attestation_response(ak_cur resp, ak_cur *doc, const char **nsm_error) {
    AK_PRECOND(doc != NULL);
    /* Shallow and small: {"Attestation": {"document": bstr}} is depth 3, one pair per map. */
    static const ak_cbor_limits lim = {4, 4, AK_NITRO_MAX_DOC};
    ak_cbor_item top, inner, v;
    ak_cur key;
    if (nsm_error) *nsm_error = NULL;
    *doc = (ak_cur){NULL, 0};
    AK_ENSURE(resp.len > 0 && resp.len <= AKS_NSM_RESPONSE_MAX, AK_E_ATTEST_NSM_MALFORMED);
    AK_ENSURE(ak_cbor_decode_all(resp, &lim, &top) == AK_OK, AK_E_ATTEST_NSM_MALFORMED);
    AK_GUARD(s_nsm_single(&top, &key, &inner));
    if (ak_cur_eq_str(key, "Error")) {
        ak_cur code;
        AK_ENSURE(ak_cbor_get_tstr(&inner, &code) == AK_OK, AK_E_ATTEST_NSM_MALFORMED);
        const char *name = "unrecognised";
        for (size_t i = 0; i < sizeof(s_nsm_codes) / sizeof(s_nsm_codes[0]); i++)
            if (ak_cur_eq_str(code, s_nsm_codes[i])) name = s_nsm_codes[i];
        if (nsm_error) *nsm_error = name;
        return AK_E_ATTEST_NSM_ERROR;
    }
    AK_ENSURE(ak_cur_eq_str(key, "Attestation"), AK_E_ATTEST_NSM_MALFORMED);
    AK_GUARD(s_nsm_single(&inner, &key, &v));
    AK_ENSURE(ak_cur_eq_str(key, "document"), AK_E_ATTEST_NSM_MALFORMED);
    AK_ENSURE(ak_cbor_get_bstr(&v, doc) == AK_OK && doc->len > 0 && doc->len <= AK_NITRO_MAX_DOC,
              AK_E_ATTEST_NSM_MALFORMED);
    return AK_OK;
}
