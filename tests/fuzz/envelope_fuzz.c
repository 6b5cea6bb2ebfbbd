/*
 * envelope_fuzz.c — libFuzzer target for the version 0x04 envelope parser (ak/envelope.h): the
 * bytes a worker reads back from S3 are outside input.
 *
 * Input: the whole input is a candidate blob. Properties: no crash, overread or leak (ASan);
 * peek and open agree on truncation and version; open only ever succeeds on a blob that seal
 * could have produced (re-sealing the plaintext gives a blob of the same length that opens to
 * the same bytes); a failed open leaves the output buffer empty. A few inputs are also sealed
 * and must round-trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/envelope.h"
#include "ak/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t s_kek[32] = {0x42};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ak_env_binding b;
    memset(&b, 0, sizeof(b));
    b.data_class = (size > 0 && (data[size - 1] & 1)) ? AK_CLASS_MEMORY : AK_CLASS_CREDENTIALS;
    memset(b.operator_omni.b, 0x11, 32);
    memset(b.actor_omni.b, 0x22, 32);
    b.service = AK_CUR_LIT("openrouter");

    ak_cur blob = ak_cur_from(data, size);
    uint32_t epoch = 0;
    ak_err peek = ak_envelope_peek_epoch(blob, &epoch);
    ak_buf pt;
    ak_buf_init_secret(&pt, AK_MAX_PLAINTEXT);
    ak_err rc = ak_envelope_open(s_kek, epoch, &b, blob, &pt);
    if (peek != AK_OK && rc != peek) abort(); /* same length/version verdict */
    if (rc != AK_OK && pt.len != 0) abort();  /* nothing returned on failure */
    if (rc == AK_OK && pt.len + AK_ENV_OVERHEAD != size) abort();

    /* Round trip of the input as plaintext (bounded by the ceiling). */
    ak_buf sealed, again;
    ak_buf_init(&sealed, AK_MAX_PLAINTEXT + AK_ENV_OVERHEAD);
    ak_buf_init_secret(&again, AK_MAX_PLAINTEXT);
    if (size <= 4096) {
        if (ak_envelope_seal(s_kek, epoch, &b, blob, &sealed) != AK_OK) abort();
        if (ak_envelope_open(s_kek, epoch, &b, ak_buf_cur(&sealed), &again) != AK_OK) abort();
        if (again.len != size || (size && memcmp(again.ptr, data, size) != 0)) abort();
    }
    ak_buf_free(&again);
    ak_buf_free(&sealed);
    ak_buf_free(&pt);
    return 0;
}
