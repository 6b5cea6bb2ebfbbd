/*
 * pki_leaf_fuzz.c — libFuzzer target for the RA-TLS leaf check (ak/pki.h ak_pki_leaf_capture_check
 * and the ak_pki_x509_capture engine), which sees whatever certificate a peer sends.
 *
 * Input: a DER certificate. Properties: no crash / overread (ASan); the engine fed the same bytes
 * in two pieces reaches the same verdict as the one-shot check, and on success both hold the same
 * P-256 point.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char name[] = "signer.agentkeys.internal";
    uint8_t pub[65];
    ak_err rc = ak_pki_leaf_capture_check(ak_cur_from(data, size), name, pub);
    ak_pki_x509_capture *x = ak_malloc(sizeof(*x));
    if (x == NULL) return 0;
    ak_pki_x509_capture_init(x);
    const br_x509_class **v = &x->vtable;
    size_t half = size / 2;
    (*v)->start_chain(v, name);
    (*v)->start_cert(v, (uint32_t)size);
    (*v)->append(v, data, half);
    (*v)->append(v, data + half, size - half);
    (*v)->end_cert(v);
    unsigned r = (*v)->end_chain(v);
    const br_x509_pkey *pk = (*v)->get_pkey(v, NULL);
    /* empty input: the engine saw one empty certificate, the check refuses it too */
    if ((r == 0) != (rc == AK_OK) || (pk != NULL) != (rc == AK_OK)) abort();
    if (rc == AK_OK && (pk->key.ec.qlen != 65 || memcmp(pk->key.ec.q, pub, 65) != 0)) abort();
    ak_free(x);
    return 0;
}
