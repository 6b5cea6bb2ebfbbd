/*
 * cms_fuzz.c — the strict DER/CMS EnvelopedData parser (ak/cms.h) that KMS's
 * CiphertextForRecipient goes through inside the enclave.
 *
 * Input: the whole buffer is parsed as one ContentInfo.
 * Properties: no crash, overread, leak or UB; the only errors are the CMS reasons and the size
 * limit; an accepted structure has every view inside the input, a 16-byte IV, a non-empty
 * whole-block content, versions 0 or 2 that agree; parsing is deterministic; the same bytes with
 * one more byte appended are refused as trailing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/cms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_inside(ak_cur v, const uint8_t *data, size_t size) {
    if (v.len > size || v.ptr < data || v.ptr + v.len > data + size) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ak_cms_enveloped e, again;
    ak_err r = ak_cms_parse(ak_cur_from(data, size), &e);
    if (r != AK_OK) {
        if (r != AK_E_CMS_MALFORMED && r != AK_E_CMS_TRAILING && r != AK_E_CMS_UNSUPPORTED && r != AK_E_LIMIT)
            abort();
        return 0;
    }
    s_inside(e.rid, data, size);
    s_inside(e.encrypted_key, data, size);
    s_inside(e.iv, data, size);
    s_inside(e.encrypted_content, data, size);
    if (e.iv.len != 16 || e.encrypted_content.len == 0 || e.encrypted_content.len % 16 != 0) abort();
    if (e.version != e.ktri_version || (e.version != 0 && e.version != 2)) abort();
    if (ak_cms_parse(ak_cur_from(data, size), &again) != AK_OK || memcmp(&e, &again, sizeof(e)) != 0) abort();
    if (size < AK_CMS_MAX_DER) {
        uint8_t *more = ak_malloc(size + 1);
        if (more == NULL) return 0;
        memcpy(more, data, size);
        more[size] = 0;
        if (ak_cms_parse(ak_cur_from(more, size + 1), &again) != AK_E_CMS_TRAILING) abort();
        ak_free(more);
    }
    return 0;
}
