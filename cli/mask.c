/*
 * cli/mask.c — run's output masker (see cli/agent.h): every occurrence of any value becomes
 * "****", also when an occurrence is split across reads. Longest values are tried first and a
 * tail that could still be the start of a value is held back until more bytes (or the end)
 * decide; held-back bytes live in a secret buffer (wiped).
 */
#include <string.h>

#include "agent.h"
#include "ak/ct.h"

static const char S_MASK[] = "****";

void akcli_masker_init(akcli_masker *m, ak_cur *values, size_t n) {
    /* longest first, so a value that contains another is masked whole (insertion sort) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && values[j].len > values[j - 1].len; j--) {
            ak_cur t = values[j];
            values[j] = values[j - 1];
            values[j - 1] = t;
        }
    m->values = values;
    m->n = n;
    ak_buf_init_secret(&m->pending, 1u << 24);
}

void akcli_masker_free(akcli_masker *m) { ak_buf_free(&m->pending); }

ak_err akcli_masker_feed(akcli_masker *m, ak_cur chunk, bool final, ak_buf *out) {
    AK_GUARD(ak_buf_append_cur(&m->pending, chunk));
    const uint8_t *p = m->pending.ptr;
    size_t len = m->pending.len, i = 0, emit_from = 0;
    ak_err rc = AK_OK;
    while (i < len) {
        size_t rest = len - i;
        bool matched = false, partial = false;
        for (size_t k = 0; k < m->n; k++) {
            ak_cur v = m->values[k];
            if (v.len == 0) continue;
            if (rest >= v.len) {
                if (memcmp(p + i, v.ptr, v.len) == 0) {
                    if ((rc = ak_buf_append(out, p + emit_from, i - emit_from)) != AK_OK) return rc;
                    if ((rc = ak_buf_append(out, S_MASK, sizeof S_MASK - 1)) != AK_OK) return rc;
                    i += v.len;
                    emit_from = i;
                    matched = true;
                    break;
                }
            } else if (!final && memcmp(p + i, v.ptr, rest) == 0) {
                /* the tail may be the start of this value: hold it back (and do not let a
                 * shorter value match here first: it could be a prefix of this one) */
                partial = true;
                break;
            }
        }
        if (matched) continue;
        if (partial) break;
        i++;
    }
    if ((rc = ak_buf_append(out, p + emit_from, i - emit_from)) != AK_OK) return rc;
    /* keep p[i..len) */
    size_t keep = len - i;
    memmove(m->pending.ptr, p + i, keep);
    ak_wipe(m->pending.ptr + keep, len - keep);
    m->pending.len = keep;
    return AK_OK;
}
