/*
 * keystore_fuzz.c — libFuzzer target for the keystore v3 reader (ak/keystore.h): files other
 * people wrote, so outside input.
 *
 * Input: the whole keystore text. Properties: no crash, overread or leak; a refused document
 * leaves the parsed struct zeroed; an accepted one has every parameter inside ak/scrypt.h's
 * bounds (so nothing an attacker writes can make us allocate or compute more than they allow);
 * when its KDF is cheap enough to run here, opening it with the password "fuzz" either succeeds
 * or zeroes the key, agrees with ak_keystore_decrypt, and a key it yields re-encrypts under the
 * same parameters to a document that opens to the same key and address. The seed corpus holds
 * keystores for "fuzz" with tiny parameters, so the success path is reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/keystore.h"
#include "ak/scrypt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_MAX_FUZZ_COST 4096u /* N*r*p or c: ~1 ms per run at most */

static void s_init(void) {
    static int done;
    if (done) return;
    done = 1;
    ak_alloc_install_jansson();
}

static int s_zero(const void *p, size_t n) {
    const uint8_t *b = p;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    s_init();
    ak_cur in = ak_cur_from(data, size);
    ak_keystore_parsed ks;
    if (ak_keystore_parse(in, &ks) != AK_OK) {
        if (!s_zero(&ks, sizeof(ks))) abort();
        return 0;
    }
    /* accepted: bounded */
    uint64_t cost;
    if (ks.params.kdf == AK_KEYSTORE_SCRYPT) {
        if (ak_scrypt_check(ks.params.n, ks.params.r, ks.params.p) != AK_OK) abort();
        cost = (uint64_t)ks.params.n * ks.params.r * ks.params.p;
    } else if (ks.params.kdf == AK_KEYSTORE_PBKDF2) {
        if (ks.params.c < 1 || ks.params.c > AK_PBKDF2_MAX_ITER) abort();
        cost = ks.params.c;
    } else {
        abort();
    }
    if (ks.dklen < 32 || ks.dklen > 64 || ks.ct_len < 1 || ks.ct_len > 32 ||
        ks.salt_len > AK_KEYSTORE_MAX_SALT)
        abort();
    if (memchr(ks.id, 0, sizeof(ks.id)) == NULL) abort();
    if (cost > S_MAX_FUZZ_COST) return 0;

    uint8_t key[32], addr[20], key2[32];
    ak_err e = ak_keystore_open(&ks, AK_CUR_LIT("fuzz"), key, addr);
    ak_keystore_info info;
    ak_err e2 = ak_keystore_decrypt(in, AK_CUR_LIT("fuzz"), key2, &info);
    if (e != e2) abort();
    if (e != AK_OK) {
        if (!s_zero(key, 32) || !s_zero(key2, 32)) abort();
        return 0;
    }
    if (memcmp(key, key2, 32) != 0 || memcmp(addr, info.address, 20) != 0) abort();
    /* round trip under the same parameters */
    static const uint8_t salt[32] = {1}, iv[16] = {2}, uuid[16] = {3};
    ak_buf doc;
    ak_buf_init(&doc, AK_KEYSTORE_MAX_JSON);
    if (ak_keystore_encrypt_with(key, AK_CUR_LIT("fuzz"), &ks.params, salt, iv, uuid, &doc) != AK_OK) abort();
    if (ak_keystore_decrypt(ak_buf_cur(&doc), AK_CUR_LIT("fuzz"), key2, &info) != AK_OK) abort();
    if (memcmp(key, key2, 32) != 0 || memcmp(addr, info.address, 20) != 0 || !info.address_present) abort();
    ak_buf_free(&doc);
    return 0;
}
