/*
 * siwe_parse_fuzz.c — the EIP-4361 parser on outside input (the message a wallet sends back to
 * /v1/auth/wallet/verify): ak_siwe_parse, then, when it parses, ak_siwe_format must give back the
 * exact bytes (the grammar is unambiguous), plus ak_rfc3339_parse and ak_siwe_recover on the same
 * bytes. No crash, leak or UB. Seeds: tests/fuzz/corpus/siwe_parse_fuzz/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/siwe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t live = ak_alloc_live_count();
    ak_cur in = ak_cur_from(data, size);
    ak_siwe_msg m;
    if (ak_siwe_parse(in, &m) == AK_OK) {
        ak_buf again;
        ak_buf_init(&again, AK_SIWE_MAX_MESSAGE);
        if (ak_siwe_format(&m, &again) != AK_OK || !ak_cur_eq(ak_buf_cur(&again), in)) abort();
        ak_buf_free(&again);
    }
    int64_t t;
    (void)!ak_rfc3339_parse(in, &t);
    uint8_t addr[20];
    if (size >= 132) (void)!ak_siwe_recover(in, ak_cur_from(data, 132), addr);
    if (ak_alloc_live_count() != live) abort();
    return 0;
}
