/*
 * nsm_response_fuzz.c — the two parsers the nitro attestation mode adds (issue 18 item 1):
 *   byte 0 even: aks_nsm_attestation_response (aks/nsm.h), what the signer reads from /dev/nsm;
 *   byte 0 odd:  ak_attest_reply_verify (ak/attest.h) in nitro mode, what every client reads
 *                from the signer's /v1/attest (JSON, base64, then the COSE document).
 * Properties: no crash, overread, leak or UB. NSM: every failure is attest_nsm_malformed or
 * attest_nsm_error (then with a code name); a document read is a non-empty view inside the
 * input, and re-wrapped in a canonical response it reads back the same. Reply: never accepted
 * (no input can carry an AWS-chained signature for our fixed challenge), and every failure is a
 * documented attestation reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/attest.h"
#include "ak/cbor.h"
#include "../../enclave/src/nsm.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_nsm(ak_cur in) {
    ak_cur doc;
    const char *code = "unset";
    ak_err e = aks_nsm_attestation_response(in, &doc, &code);
    if (e == AK_E_ATTEST_NSM_ERROR) {
        if (code == NULL) abort();
        return;
    }
    if (code != NULL) abort();
    if (e != AK_OK) {
        if (e != AK_E_ATTEST_NSM_MALFORMED) abort();
        return;
    }
    if (doc.len == 0 || doc.len > AK_NITRO_MAX_DOC || doc.ptr < in.ptr || doc.ptr + doc.len > in.ptr + in.len)
        abort();
    ak_buf again;
    ak_buf_init(&again, AKS_NSM_RESPONSE_MAX + 64);
    ak_cur doc2;
    if (ak_cbor_put_head(&again, 5, 1) != AK_OK || ak_cbor_put_head(&again, 3, 11) != AK_OK ||
        ak_buf_append(&again, "Attestation", 11) != AK_OK || ak_cbor_put_head(&again, 5, 1) != AK_OK ||
        ak_cbor_put_head(&again, 3, 8) != AK_OK || ak_buf_append(&again, "document", 8) != AK_OK ||
        ak_cbor_put_head(&again, 2, doc.len) != AK_OK || ak_buf_append(&again, doc.ptr, doc.len) != AK_OK)
        abort();
    if (aks_nsm_attestation_response(ak_buf_cur(&again), &doc2, NULL) != AK_OK || !ak_cur_eq(doc, doc2))
        abort();
    ak_buf_free(&again);
}

static void s_reply(ak_cur in) {
    static const ak_err ok_reasons[] = {AK_E_ATTESTATION_INVALID,
                                        AK_E_ATTEST_MODE_MISMATCH,
                                        AK_E_TOO_LARGE,
                                        AK_E_ATTEST_CBOR_MALFORMED,
                                        AK_E_ATTEST_TRAILING,
                                        AK_E_ATTEST_COSE_MALFORMED,
                                        AK_E_ATTEST_PAYLOAD_MALFORMED,
                                        AK_E_ATTEST_CERT_MALFORMED,
                                        AK_E_ATTEST_ROOT_MISMATCH,
                                        AK_E_ATTEST_CHAIN_INVALID,
                                        AK_E_ATTEST_LEAF_INVALID,
                                        AK_E_ATTEST_CERT_EXPIRED,
                                        AK_E_ATTEST_CERT_NOT_YET_VALID,
                                        AK_E_ATTEST_SIGNATURE_INVALID,
                                        AK_E_ATTEST_PCR_MISMATCH,
                                        AK_E_ATTEST_NONCE_MISMATCH,
                                        AK_E_ATTEST_PUBLIC_KEY_MISMATCH,
                                        AK_E_ATTEST_USER_DATA_MISMATCH,
                                        AK_E_ATTEST_STALE};
    static ak_attest_pins pins;
    static bool ready;
    if (!ready) {
        ak_attest_settings s = {"nitro",
                                NULL,
                                NULL,
                                {"101010101010101010101010101010101010101010101010101010101010101010101010101"
                                 "010101010101010101010",
                                 NULL, NULL, NULL},
                                NULL};
        if (ak_attest_pins_parse(&s, &pins) != AK_OK) abort();
        ready = true;
    }
    uint8_t nonce[32], tls[65];
    memset(nonce, 0x42, sizeof(nonce));
    memset(tls, 0x04, sizeof(tls));
    ak_attest_challenge ch = {nonce, sizeof(nonce), tls, 1762795210812LL, 0};
    const char *why = NULL;
    ak_err e = ak_attest_reply_verify(in, &pins, &ch, &why);
    if (e == AK_OK || why == NULL) abort();
    for (size_t i = 0; i < sizeof(ok_reasons) / sizeof(ok_reasons[0]); i++)
        if (e == ok_reasons[i]) return;
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    ak_cur in = ak_cur_from(data + 1, size - 1);
    if ((data[0] & 1) == 0)
        s_nsm(in);
    else
        s_reply(in);
    return 0;
}
