/*
 * chain_revert_fuzz.c — libFuzzer target for the two parsers of operator-side input: revert data
 * from a node (ak_chain_revert_text: Error(string), Panic, our custom errors with arguments) and
 * a passkey key file (ak_passkey_parse).
 *
 * Input: byte 0 even -> the rest is revert data; the first 4 bytes of the rest are replaced by a
 * known selector (byte 1 picks one) half the time so the argument decoding is reached. Byte 0 odd
 * -> the rest is key file text.
 * Properties: no crash / overread (ASan); the words are printable ASCII; a parsed key file
 * serialises and parses back to the same key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/chain.h"
#include "ak/passkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_revert(const uint8_t *data, size_t size) {
    uint8_t buf[4096];
    if (size > sizeof(buf)) size = sizeof(buf);
    memcpy(buf, data, size);
    size_t rows = 0;
    while (ak_chain_custom_errors[rows].decl != NULL)
        rows++;
    if (size >= 6 && (buf[0] & 1)) {
        ak_buf sig;
        ak_buf_init(&sig, 512);
        uint8_t sel[4];
        if (ak_chain_error_signature(ak_chain_custom_errors[buf[1] % rows].decl, &sig) == AK_OK &&
            ak_buf_append_byte(&sig, 0) == AK_OK &&
            ak_abi_selector((const char *)sig.ptr, sel, NULL) == AK_OK)
            memcpy(buf + 2, sel, 4);
        ak_buf_free(&sig);
        memmove(buf, buf + 2, size - 2);
        size -= 2;
    }
    ak_buf out;
    ak_buf_init(&out, 1u << 16);
    if (ak_chain_revert_text(ak_cur_from(buf, size), &out) != AK_OK) abort();
    for (size_t i = 0; i < out.len; i++)
        if (out.ptr[i] < 0x20 || out.ptr[i] > 0x7e) abort();
    ak_buf_free(&out);
}

static void s_keyfile(const uint8_t *data, size_t size) {
    ak_passkey k, k2;
    if (ak_passkey_parse(ak_cur_from(data, size), &k) != AK_OK) return;
    ak_buf b;
    ak_buf_init(&b, AK_PASSKEY_MAX_FILE);
    if (ak_passkey_serialize(&k, &b) != AK_OK || ak_passkey_parse(ak_buf_cur(&b), &k2) != AK_OK) abort();
    if (memcmp(k.priv, k2.priv, 32) != 0 || memcmp(k.pub, k2.pub, 65) != 0 || k.sign_count != k2.sign_count ||
        strcmp(k.rp_id, k2.rp_id) != 0)
        abort();
    ak_buf_free(&b);
    ak_passkey_wipe(&k);
    ak_passkey_wipe(&k2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1)
        s_keyfile(data + 1, size - 1);
    else
        s_revert(data + 1, size - 1);
    return 0;
}
