/*
 * audit_event_fuzz.c — the audit flush's check of stored pending events (ak_audit_event_check,
 * ak/audit.h): the objects under audit/pending/ are read back from S3, outside input to the
 * flush. Also the other direction: events built from the input by the public API must encode to
 * bytes the check accepts, since the flush hashes only what passes it.
 *
 * Input: byte 0 picks the mode, the rest is its input.
 *   even: the rest is a stored object, checked against a fixed operator;
 *   odd:  the rest drives an ak_audit_event (action, fields, extras) that is encoded.
 * Properties: no crash, overread, leak or UB; an accepted object is accepted again (the check is
 * pure) and refused for any other operator; an event that encodes is within AK_MAX_AUDIT_EVENT,
 * passes the check for its operator only, and has a pending key; a refused encode appends nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ak_omni s_op, s_other;

/* A bounded reader over the input: runs out into zeros. */
typedef struct s_rd {
    const uint8_t *p;
    size_t n;
} s_rd;

static uint8_t s_u8(s_rd *r) {
    if (r->n == 0) return 0;
    r->n--;
    return *r->p++;
}

static uint64_t s_u64(s_rd *r) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | s_u8(r);
    return v;
}

static void s_bytes(s_rd *r, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = s_u8(r);
}

/* A length-prefixed view into the input (borrowed: the input outlives the encode). */
static ak_cur s_str(s_rd *r) {
    size_t want = s_u8(r);
    if (want > r->n) want = r->n;
    ak_cur c = ak_cur_from(r->p, want);
    r->p += want;
    r->n -= want;
    return c;
}

static void s_check_stored(ak_cur stored) {
    if (ak_audit_event_check(stored, &s_op) != AK_OK) return;
    if (ak_audit_event_check(stored, &s_op) != AK_OK) abort();
    if (ak_audit_event_check(stored, &s_other) != AK_E_INVALID_EVENT) abort();
}

static void s_build(s_rd *r) {
    ak_audit_event ev;
    uint64_t ts = s_u64(r) % 10000000000000000ull;
    if (ak_audit_event_init(&ev, (ak_audit_action)(s_u8(r) % 8u), &s_op, ts) != AK_OK) abort();
    /* replace the random half of the id: runs must be deterministic */
    uint8_t rnd[8];
    s_bytes(r, rnd, sizeof(rnd));
    ak_hex_encode(rnd, sizeof(rnd), ev.event_id + 17);
    uint8_t flags = s_u8(r);
    ev.outcome = s_str(r);
    ev.reason = (ak_err)(s_u8(r) % (unsigned)AK_E__COUNT);
    if ((ev.has_actor = flags & 1)) s_bytes(r, ev.actor_omni.b, 32);
    if ((ev.has_wallet = flags & 2)) s_bytes(r, ev.wallet, 20);
    if ((ev.has_device = flags & 4)) s_bytes(r, ev.device_key_hash, 32);
    if ((ev.has_token_hash = flags & 8)) ak_audit_token_hash(s_str(r), ev.token_sha256);
    if ((ev.has_op_class = flags & 16)) {
        ev.op = (ak_op)(s_u8(r) % ((unsigned)AK_OP_TEARDOWN + 1u));
        ev.data_class = (ak_data_class)(s_u8(r) % ((unsigned)AK_CLASS_MAIL + 1u));
    }
    ev.session_kind = (ak_session_kind)(s_u8(r) % 3u);
    ev.service = s_str(r);
    ev.request_id = s_str(r);
    ev.cap_jti = s_str(r);
    size_t n_extra = s_u8(r) % (AK_AUDIT_MAX_EXTRA + 2u);
    for (size_t i = 0; i < n_extra; i++) {
        char key[40];
        ak_cur k = s_str(r);
        if (k.len >= sizeof(key) || memchr(k.ptr, 0, k.len) != NULL) continue;
        memcpy(key, k.ptr, k.len);
        key[k.len] = '\0';
        ak_err e = ak_audit_event_add_extra(&ev, key, s_str(r));
        if (e != AK_OK && e != AK_E_INVALID_INPUT && e != AK_E_LIMIT) abort();
    }

    ak_buf out;
    ak_buf_init(&out, 2u * AK_MAX_AUDIT_EVENT);
    ak_err e = ak_audit_event_encode(&ev, &out);
    if (e != AK_OK) {
        if (out.len != 0) abort();
    } else {
        if (out.len > AK_MAX_AUDIT_EVENT) abort();
        if (ak_audit_event_check(ak_buf_cur(&out), &s_op) != AK_OK) abort();
        if (ak_audit_event_check(ak_buf_cur(&out), &s_other) == AK_OK) abort();
        ak_buf key;
        ak_buf_init(&key, 256);
        if (ak_audit_pending_key(&ev, &key) != AK_OK) abort();
        ak_buf_free(&key);
    }
    ak_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int done;
    if (!done) {
        done = 1;
        ak_alloc_install_jansson();
        memset(s_op.b, 0xab, 32);
        memset(s_other.b, 0xab, 32);
        s_other.b[31] = 0xac;
    }
    if (size == 0) return 0;
    if (data[0] % 2 == 0) {
        s_check_stored(ak_cur_from(data + 1, size - 1));
    } else {
        s_rd r = {data + 1, size - 1};
        s_build(&r);
    }
    return 0;
}
