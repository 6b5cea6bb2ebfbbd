/*
 * keystore.c — Ethereum keystore v3 (Web3 Secret Storage Definition). See ak/keystore.h.
 *
 * Spec, "Definition": the derived key's first 16 bytes are the AES-128-CTR key; the MAC is
 * KECCAK(DK[16..31] ++ <ciphertext>) and "should be compared to the contents of the mac key; if
 * they are different, an alternative password should be requested" — so the MAC is checked
 * (constant time) before anything is decrypted, and a mismatch is its own reason.
 */
#include "ak/keystore.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/json.h"
#include "ak/scrypt.h"

#define S_DKLEN_MIN 32u
#define S_DKLEN_MAX 64u

ak_keystore_params ak_keystore_params_standard(void) {
    return (ak_keystore_params){.kdf = AK_KEYSTORE_SCRYPT, .n = 1u << 18, .r = 8, .p = 1};
}

ak_keystore_params ak_keystore_params_light(void) {
    return (ak_keystore_params){.kdf = AK_KEYSTORE_SCRYPT, .n = 1u << 12, .r = 8, .p = 6};
}

/* ------------------------------------------------------------------ shared pieces */

/* AES-128-CTR with the IV as a full 128-bit big-endian counter (what geth's cipher.NewCTR does),
 * in place, len <= 32. BearSSL's ctrcbc API increments the whole block, unlike its ctr API
 * (96-bit nonce + 32-bit counter), so a counter that wraps its low word still matches. */
static void s_aes128_ctr(const uint8_t k[16], const uint8_t iv[16], uint8_t *buf, size_t len) {
    br_aes_ct64_ctrcbc_keys kc;
    uint8_t ctr[16], tmp[32] = {0};
    AK_PRECOND(len <= sizeof(tmp));
    br_aes_ct64_ctrcbc_init(&kc, k, 16);
    memcpy(ctr, iv, 16);
    memcpy(tmp, buf, len);
    br_aes_ct64_ctrcbc_ctr(&kc, ctr, tmp, (len + 15) & ~(size_t)15);
    memcpy(buf, tmp, len);
    ak_wipe(&kc, sizeof(kc));
    ak_wipe(tmp, sizeof(tmp));
}

static void s_mac(const uint8_t dk[32], const uint8_t *ct, size_t ct_len, uint8_t mac[32]) {
    ak_keccak_ctx kc;
    ak_keccak256_init(&kc);
    ak_keccak256_update(&kc, dk + 16, 16);
    ak_keccak256_update(&kc, ct, ct_len);
    ak_keccak256_final(&kc, mac);
    ak_wipe(&kc, sizeof(kc));
}

static ak_err s_check_params(const ak_keystore_params *p) {
    if (p->kdf == AK_KEYSTORE_SCRYPT) return ak_scrypt_check(p->n, p->r, p->p);
    if (p->kdf == AK_KEYSTORE_PBKDF2) {
        AK_ENSURE(p->c >= 1 && p->c <= AK_PBKDF2_MAX_ITER, AK_E_KDF_PARAMS);
        return AK_OK;
    }
    return AK_E_KEYSTORE_UNSUPPORTED;
}

static ak_err s_derive(const ak_keystore_params *p, ak_cur password, const uint8_t *salt, size_t salt_len,
                       uint8_t *dk, size_t dklen) {
    if (p->kdf == AK_KEYSTORE_SCRYPT)
        return ak_scrypt(password.ptr, password.len, salt, salt_len, p->n, p->r, p->p, dk, dklen);
    return ak_pbkdf2_sha256(password.ptr, password.len, salt, salt_len, p->c, dk, dklen);
}

/* ------------------------------------------------------------------ decrypt */

static ak_err s_str(const json_t *o, const char *key, ak_cur *out) {
    AK_ENSURE(ak_json_str(o, key, out) == AK_OK, AK_E_KEYSTORE_INVALID);
    return AK_OK;
}

static ak_err s_u32(const json_t *o, const char *key, uint32_t *out) {
    uint64_t v;
    AK_ENSURE(ak_json_u64(o, key, &v) == AK_OK, AK_E_KEYSTORE_INVALID);
    /* beyond 32 bits is beyond every bound we accept: a parameter error, not a format error */
    AK_ENSURE(v <= UINT32_MAX, AK_E_KDF_PARAMS);
    *out = (uint32_t)v;
    return AK_OK;
}

/* Hex of 1..cap bytes (no "0x"). */
static ak_err s_hex_var(ak_cur hex, uint8_t *dst, size_t cap, size_t *len, ak_err too_long) {
    AK_ENSURE(hex.len % 2 == 0, AK_E_KEYSTORE_INVALID);
    AK_ENSURE(hex.len / 2 <= cap, too_long);
    AK_ENSURE(ak_hex_decode_exact(hex, false, dst, hex.len / 2) == AK_OK, AK_E_KEYSTORE_INVALID);
    *len = hex.len / 2;
    return AK_OK;
}

static ak_err s_hex_fixed(ak_cur hex, uint8_t *dst, size_t n) {
    AK_ENSURE(hex.len == 2 * n && ak_hex_decode_exact(hex, false, dst, n) == AK_OK, AK_E_KEYSTORE_INVALID);
    return AK_OK;
}

static const json_t *s_obj(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_object(v) ? v : NULL;
}

ak_err ak_keystore_parse(ak_cur json, ak_keystore_parsed *ks) {
    AK_PRECOND(ks != NULL);
    ak_err rc = AK_OK;
    json_t *root = NULL;
    uint64_t version = 0;
    ak_cur s;
    memset(ks, 0, sizeof(*ks));

    AK_ENSURE_OUT(json.len <= AK_KEYSTORE_MAX_JSON, AK_E_KEYSTORE_INVALID);
    rc = ak_json_parse_object(json, &root);
    if (rc == AK_E_NOMEM) goto out;
    AK_ENSURE_OUT(rc == AK_OK, AK_E_KEYSTORE_INVALID);

    AK_ENSURE_OUT(ak_json_u64(root, "version", &version) == AK_OK, AK_E_KEYSTORE_INVALID);
    AK_ENSURE_OUT(version == 3, AK_E_KEYSTORE_UNSUPPORTED);
    const json_t *crypto = s_obj(root, "crypto");
    if (crypto == NULL && json_object_get(root, "crypto") == NULL)
        crypto = s_obj(root, "Crypto"); /* older geth */
    AK_ENSURE_OUT(crypto != NULL, AK_E_KEYSTORE_INVALID);

    /* cipher and its parameters */
    AK_GUARD_OUT(s_str(crypto, "cipher", &s));
    AK_ENSURE_OUT(ak_cur_eq_str(s, "aes-128-ctr"), AK_E_KEYSTORE_UNSUPPORTED);
    const json_t *cp = s_obj(crypto, "cipherparams");
    AK_ENSURE_OUT(cp != NULL, AK_E_KEYSTORE_INVALID);
    AK_GUARD_OUT(s_str(cp, "iv", &s));
    AK_GUARD_OUT(s_hex_fixed(s, ks->iv, 16));
    AK_GUARD_OUT(s_str(crypto, "ciphertext", &s));
    AK_GUARD_OUT(s_hex_var(s, ks->ct, sizeof(ks->ct), &ks->ct_len, AK_E_KEYSTORE_INVALID));
    AK_ENSURE_OUT(ks->ct_len >= 1, AK_E_KEYSTORE_INVALID);
    AK_GUARD_OUT(s_str(crypto, "mac", &s));
    AK_GUARD_OUT(s_hex_fixed(s, ks->mac, 32));

    /* kdf and its parameters, all checked here, before anyone derives anything */
    AK_GUARD_OUT(s_str(crypto, "kdf", &s));
    bool is_scrypt = ak_cur_eq_str(s, "scrypt");
    AK_ENSURE_OUT(is_scrypt || ak_cur_eq_str(s, "pbkdf2"), AK_E_KEYSTORE_UNSUPPORTED);
    const json_t *kp = s_obj(crypto, "kdfparams");
    AK_ENSURE_OUT(kp != NULL, AK_E_KEYSTORE_INVALID);
    if (is_scrypt) {
        ks->params.kdf = AK_KEYSTORE_SCRYPT;
        AK_GUARD_OUT(s_u32(kp, "n", &ks->params.n));
        AK_GUARD_OUT(s_u32(kp, "r", &ks->params.r));
        AK_GUARD_OUT(s_u32(kp, "p", &ks->params.p));
    } else {
        ks->params.kdf = AK_KEYSTORE_PBKDF2;
        AK_GUARD_OUT(s_str(kp, "prf", &s));
        AK_ENSURE_OUT(ak_cur_eq_str(s, "hmac-sha256"), AK_E_KEYSTORE_UNSUPPORTED);
        AK_GUARD_OUT(s_u32(kp, "c", &ks->params.c));
    }
    AK_GUARD_OUT(s_u32(kp, "dklen", &ks->dklen));
    AK_ENSURE_OUT(ks->dklen >= S_DKLEN_MIN && ks->dklen <= S_DKLEN_MAX, AK_E_KDF_PARAMS);
    AK_GUARD_OUT(s_str(kp, "salt", &s));
    AK_GUARD_OUT(s_hex_var(s, ks->salt, sizeof(ks->salt), &ks->salt_len, AK_E_KDF_PARAMS));
    AK_GUARD_OUT(s_check_params(&ks->params));

    /* optional: the address (geth writes it without 0x; accepted with) and the id */
    bool present = false;
    AK_ENSURE_OUT(ak_json_str_opt(root, "address", &s, &present) == AK_OK, AK_E_KEYSTORE_INVALID);
    if (present) {
        AK_ENSURE_OUT(ak_hex_decode_exact(s, true, ks->address, 20) == AK_OK, AK_E_KEYSTORE_INVALID);
        ks->address_present = true;
    }
    ak_cur id;
    bool id_present = false;
    if (ak_json_str_opt(root, "id", &id, &id_present) == AK_OK && id_present && id.len < sizeof(ks->id))
        memcpy(ks->id, id.ptr, id.len);
out:
    if (rc != AK_OK) memset(ks, 0, sizeof(*ks));
    if (root) json_decref(root);
    return rc;
}

ak_err ak_keystore_open(const ak_keystore_parsed *ks, ak_cur password, uint8_t key[32], uint8_t addr[20]) {
    AK_PRECOND(ks != NULL && key != NULL);
    ak_err rc = AK_OK;
    uint8_t calc[32], dk[S_DKLEN_MAX], pt[32], pub[65], a[20];
    memset(key, 0, 32);
    AK_ENSURE_OUT(password.len <= AK_KEYSTORE_MAX_PASSWORD, AK_E_LIMIT);
    /* a parsed keystore passed these already; a hand-filled struct must too */
    AK_GUARD_OUT(s_check_params(&ks->params));
    AK_ENSURE_OUT(ks->dklen >= S_DKLEN_MIN && ks->dklen <= S_DKLEN_MAX, AK_E_KDF_PARAMS);
    AK_ENSURE_OUT(ks->salt_len <= sizeof(ks->salt), AK_E_KDF_PARAMS);
    AK_ENSURE_OUT(ks->ct_len >= 1 && ks->ct_len <= 32, AK_E_KEYSTORE_INVALID);

    /* derive, then the MAC before anything is decrypted */
    AK_GUARD_OUT(s_derive(&ks->params, password, ks->salt, ks->salt_len, dk, ks->dklen));
    s_mac(dk, ks->ct, ks->ct_len, calc);
    AK_ENSURE_OUT(ak_ct_eq(calc, ks->mac, 32), AK_E_KEYSTORE_MAC);

    memcpy(pt, ks->ct, ks->ct_len);
    s_aes128_ctr(dk, ks->iv, pt, ks->ct_len);
    memcpy(key + (32 - ks->ct_len), pt, ks->ct_len); /* shorter keys are left-padded (see the header) */

    AK_GUARD_OUT(ak_secp256k1_pubkey(key, pub));
    ak_eth_address_from_pub(pub, a);
    AK_ENSURE_OUT(!ks->address_present || memcmp(ks->address, a, 20) == 0, AK_E_KEYSTORE_ADDRESS);
    if (addr) memcpy(addr, a, 20);
out:
    if (rc != AK_OK) ak_wipe(key, 32);
    ak_wipe(dk, sizeof(dk));
    ak_wipe(pt, sizeof(pt));
    return rc;
}

ak_err ak_keystore_decrypt(ak_cur json, ak_cur password, uint8_t key[32], ak_keystore_info *info) {
    AK_PRECOND(key != NULL);
    ak_keystore_parsed ks;
    uint8_t addr[20];
    memset(key, 0, 32);
    if (info) memset(info, 0, sizeof(*info));
    AK_ENSURE(password.len <= AK_KEYSTORE_MAX_PASSWORD, AK_E_LIMIT);
    AK_GUARD(ak_keystore_parse(json, &ks));
    AK_GUARD(ak_keystore_open(&ks, password, key, addr));
    if (info) {
        memcpy(info->address, addr, 20);
        info->address_present = ks.address_present;
        info->params = ks.params;
        memcpy(info->id, ks.id, sizeof(info->id));
    }
    return AK_OK;
}

/* ------------------------------------------------------------------ encrypt */

static void s_hex(const uint8_t *p, size_t n, char *out) { ak_hex_encode(p, n, out); }

ak_err ak_keystore_encrypt_with(const uint8_t key[32], ak_cur password, const ak_keystore_params *params,
                                const uint8_t salt[32], const uint8_t iv[16], const uint8_t uuid_in[16],
                                ak_buf *out) {
    AK_PRECOND(key != NULL && params != NULL && salt != NULL && iv != NULL && uuid_in != NULL && out != NULL);
    ak_err rc = AK_OK;
    ak_buf doc;
    uint8_t dk[32], ct[32], mac[32], pub[65], addr[20], uuid[16];
    char hsalt[65], hiv[33], hct[65], hmac[65], haddr[41], hid[33];
    ak_buf_init(&doc, 2048);

    AK_ENSURE_OUT(password.len <= AK_KEYSTORE_MAX_PASSWORD, AK_E_LIMIT);
    AK_GUARD_OUT(s_check_params(params));
    AK_GUARD_OUT(ak_secp256k1_pubkey(key, pub));
    ak_eth_address_from_pub(pub, addr);
    AK_GUARD_OUT(s_derive(params, password, salt, 32, dk, sizeof(dk)));
    memcpy(ct, key, 32);
    s_aes128_ctr(dk, iv, ct, 32);
    s_mac(dk, ct, 32, mac);

    /* RFC 9562 §5.4: version 4 in the high nibble of octet 6, variant 10 in octet 8 */
    memcpy(uuid, uuid_in, 16);
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
    s_hex(salt, 32, hsalt);
    s_hex(iv, 16, hiv);
    s_hex(ct, 32, hct);
    s_hex(mac, 32, hmac);
    s_hex(addr, 20, haddr);
    s_hex(uuid, 16, hid);
    AK_GUARD_OUT(
        ak_buf_printf(&doc,
                      "{\"address\":\"%s\",\"crypto\":{\"cipher\":\"aes-128-ctr\",\"ciphertext\":\"%s\","
                      "\"cipherparams\":{\"iv\":\"%s\"},",
                      haddr, hct, hiv));
    if (params->kdf == AK_KEYSTORE_SCRYPT)
        AK_GUARD_OUT(
            ak_buf_printf(&doc, "\"kdf\":\"scrypt\",\"kdfparams\":{\"dklen\":32,\"n\":%u,\"p\":%u,\"r\":%u,",
                          (unsigned)params->n, (unsigned)params->p, (unsigned)params->r));
    else
        AK_GUARD_OUT(ak_buf_printf(
            &doc, "\"kdf\":\"pbkdf2\",\"kdfparams\":{\"c\":%u,\"dklen\":32,\"prf\":\"hmac-sha256\",",
            (unsigned)params->c));
    AK_GUARD_OUT(ak_buf_printf(
        &doc, "\"salt\":\"%s\"},\"mac\":\"%s\"},\"id\":\"%.8s-%.4s-%.4s-%.4s-%.12s\",\"version\":3}", hsalt,
        hmac, hid, hid + 8, hid + 12, hid + 16, hid + 20));
    AK_GUARD_OUT(ak_buf_append_cur(out, ak_buf_cur(&doc)));
out:
    ak_wipe(dk, sizeof(dk));
    ak_buf_free(&doc);
    return rc;
}

ak_err ak_keystore_encrypt(const uint8_t key[32], ak_cur password, const ak_keystore_params *params,
                           ak_buf *out) {
    uint8_t salt[32], iv[16], uuid[16];
    AK_ENSURE(ak_random(salt, sizeof(salt)) == AK_OK && ak_random(iv, sizeof(iv)) == AK_OK &&
                  ak_random(uuid, sizeof(uuid)) == AK_OK,
              AK_E_INTERNAL);
    return ak_keystore_encrypt_with(key, password, params, salt, iv, uuid, out);
}

/* ------------------------------------------------------------------ atomic 0600 file */

static ak_err s_write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        AK_ENSURE(w > 0, AK_E_IO);
        p += w;
        n -= (size_t)w;
    }
    return AK_OK;
}

static ak_err s_fsync_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        dir[0] = '.', dir[1] = 0;
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1; /* "/file" */
        AK_ENSURE(n < sizeof(dir), AK_E_IO);
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    AK_ENSURE(dfd >= 0, AK_E_IO);
    int r = fsync(dfd);
    close(dfd);
    AK_ENSURE(r == 0, AK_E_IO);
    return AK_OK;
}

ak_err ak_keystore_write_file(const char *path, ak_cur data, bool replace) {
    AK_PRECOND(path != NULL);
    ak_err rc = AK_OK;
    char tmp[4096];
    int fd = -1;
    bool tmp_exists = false;
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
    AK_ENSURE(n > 0 && (size_t)n < sizeof(tmp), AK_E_IO);
    /* mkostemp: O_CREAT|O_EXCL, mode 0600, a fresh name (no symlink or race to follow) */
    fd = mkostemp(tmp, O_CLOEXEC);
    AK_ENSURE_OUT(fd >= 0, AK_E_IO);
    tmp_exists = true;
    AK_ENSURE_OUT(fchmod(fd, 0600) == 0, AK_E_IO);
    AK_GUARD_OUT(s_write_all(fd, data.ptr, data.len));
    AK_ENSURE_OUT(fsync(fd) == 0, AK_E_IO);
    int cr = close(fd);
    fd = -1;
    AK_ENSURE_OUT(cr == 0, AK_E_IO);
    if (replace) {
        AK_ENSURE_OUT(rename(tmp, path) == 0, AK_E_IO);
        tmp_exists = false;
    } else {
        /* link() fails with EEXIST instead of replacing: no key file is ever overwritten */
        if (link(tmp, path) != 0) {
            rc = errno == EEXIST ? AK_E_PRECONDITION_FAILED : AK_E_IO;
            goto out;
        }
    }
    AK_GUARD_OUT(s_fsync_dir(path));
out:
    if (fd >= 0) close(fd);
    if (tmp_exists) (void)unlink(tmp);
    return rc;
}
