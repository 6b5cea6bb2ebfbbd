/* signer_keystore_test.c — sealed keystore: seal/unseal round trip, restart keeps every epoch,
 * tamper and wrong-key detection, atomic rewrite, rotation, strict decoding (D7). */
#include "test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ak/crypto.h"
#include "../../enclave/src/keystore.c"
#include "../../enclave/src/sealer.c"
#include "../../enclave/src/secmem.c"

static char g_dir[64];
static char g_path[128];

static void s_fresh_dir(void) {
    snprintf(g_dir, sizeof(g_dir), "/tmp/aks_ks_test.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_path, sizeof(g_path), "%s/keystore.sealed", g_dir);
}

static void s_rm_dir(void) {
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
}

static const uint8_t g_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void s_read(const char *path, ak_buf *out) {
    ak_buf_init(out, 1u << 20);
    ak_test_read_file(path, out);
}

static void s_write(const char *path, ak_cur data) {
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data.ptr, data.len), (ssize_t)data.len);
    close(fd);
}

AK_TEST(test_seal_unseal_round_trip_and_restart) {
    aks_sealer *sealer;
    aks_keystore ks;
    uint8_t k1[32], k3[32], again[32];
    char kid_session[AKS_KID_MAX];
    s_fresh_dir();
    EXPECT_OK(aks_sealer_from_key(g_key, &sealer));
    EXPECT_OK(aks_keystore_open(&ks, g_path, sealer));
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 0);
    EXPECT_ERR(AK_E_NOT_FOUND, aks_keystore_k3(&ks, 1, k1));
    EXPECT_OK(aks_keystore_ensure_epoch(&ks, 3));
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 3);
    EXPECT_OK(aks_keystore_k3(&ks, 1, k1));
    EXPECT_OK(aks_keystore_k3(&ks, 3, k3));
    EXPECT_FALSE(memcmp(k1, k3, 32) == 0); /* independent per epoch */
    EXPECT_ERR(AK_E_NOT_FOUND, aks_keystore_k3(&ks, 0, again));
    EXPECT_ERR(AK_E_NOT_FOUND, aks_keystore_k3(&ks, 4, again));
    EXPECT_OK(aks_keystore_ensure_epoch(&ks, 2)); /* never shrinks */
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 3);
    aks_pubkey pubs[6];
    EXPECT_INT_EQ(aks_keystore_public_keys(&ks, pubs), 3);
    memcpy(kid_session, pubs[0].kid, AKS_KID_MAX);
    EXPECT_TRUE(strncmp(kid_session, "session-", 8) == 0);
    aks_keystore_close(&ks);

    /* The sealed file holds no plaintext K3. */
    ak_buf file;
    s_read(g_path, &file);
    for (size_t i = 0; i + 32 <= file.len; i++)
        EXPECT_FALSE(memcmp(file.ptr + i, k1, 32) == 0);
    ak_buf_free(&file);

    /* Restart: the same epochs and keys come back. */
    EXPECT_OK(aks_keystore_open(&ks, g_path, sealer));
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 3);
    EXPECT_OK(aks_keystore_k3(&ks, 1, again));
    EXPECT_BYTES_EQ(again, 32, k1, 32);
    EXPECT_OK(aks_keystore_k3(&ks, 3, again));
    EXPECT_BYTES_EQ(again, 32, k3, 32);
    EXPECT_INT_EQ(aks_keystore_public_keys(&ks, pubs), 3);
    EXPECT_STR_EQ(pubs[0].kid, kid_session);
    aks_keystore_close(&ks);
    aks_sealer_free(sealer);
    s_rm_dir();
}

AK_TEST(test_tamper_and_wrong_key_are_detected) {
    aks_sealer *sealer, *other;
    aks_keystore ks;
    uint8_t key2[32];
    memcpy(key2, g_key, 32);
    key2[0] ^= 1;
    s_fresh_dir();
    EXPECT_OK(aks_sealer_from_key(g_key, &sealer));
    EXPECT_OK(aks_sealer_from_key(key2, &other));
    EXPECT_OK(aks_keystore_open(&ks, g_path, sealer));
    EXPECT_OK(aks_keystore_ensure_epoch(&ks, 2));
    aks_keystore_close(&ks);

    EXPECT_ERR(AK_E_DECRYPT_FAILED, aks_keystore_open(&ks, g_path, other));

    ak_buf orig, bad;
    s_read(g_path, &orig);
    ak_buf_init(&bad, orig.len + 16);
    /* Flip one bit at several places: nonce, ciphertext, tag. */
    size_t spots[] = {0, 12, orig.len / 2, orig.len - 1};
    for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
        ak_buf_clear(&bad);
        EXPECT_OK(ak_buf_append_cur(&bad, ak_buf_cur(&orig)));
        bad.ptr[spots[i]] ^= 0x40;
        s_write(g_path, ak_buf_cur(&bad));
        EXPECT_ERR(AK_E_DECRYPT_FAILED, aks_keystore_open(&ks, g_path, sealer));
    }
    /* Truncated. */
    s_write(g_path, ak_cur_from(orig.ptr, 20));
    EXPECT_ERR(AK_E_DECRYPT_FAILED, aks_keystore_open(&ks, g_path, sealer));
    /* Restored: opens again. */
    s_write(g_path, ak_buf_cur(&orig));
    EXPECT_OK(aks_keystore_open(&ks, g_path, sealer));
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 2);
    aks_keystore_close(&ks);
    ak_buf_free(&orig);
    ak_buf_free(&bad);
    aks_sealer_free(sealer);
    aks_sealer_free(other);
    s_rm_dir();
}

AK_TEST(test_atomic_rewrite_and_failed_save) {
    aks_sealer *sealer;
    aks_keystore ks;
    char tmp[160];
    struct stat st1, st2;
    s_fresh_dir();
    snprintf(tmp, sizeof(tmp), "%s.tmp", g_path);
    EXPECT_OK(aks_sealer_from_key(g_key, &sealer));
    EXPECT_OK(aks_keystore_open(&ks, g_path, sealer));
    EXPECT_OK(aks_keystore_ensure_epoch(&ks, 1));
    assert_int_equal(stat(g_path, &st1), 0);
    EXPECT_OK(aks_keystore_ensure_epoch(&ks, 2));
    assert_int_equal(stat(g_path, &st2), 0);
    EXPECT_TRUE(st1.st_ino != st2.st_ino); /* replaced by rename, not rewritten in place */
    EXPECT_TRUE(access(tmp, F_OK) != 0);   /* no temp file left behind */
    EXPECT_TRUE((st2.st_mode & 0777) == 0600);

    /* A save that cannot happen (the temp path is a directory) creates nothing: the epoch is not
     * served, and the file on disk still holds the previous state. */
    assert_int_equal(mkdir(tmp, 0700), 0);
    EXPECT_ERR(AK_E_IO, aks_keystore_ensure_epoch(&ks, 5));
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 2);
    uint8_t k[32];
    EXPECT_ERR(AK_E_NOT_FOUND, aks_keystore_k3(&ks, 5, k));
    EXPECT_ERR(AK_E_IO, aks_keystore_rotate(&ks, AKS_KEY_CAP));
    assert_int_equal(rmdir(tmp), 0);
    aks_keystore_close(&ks);
    EXPECT_OK(aks_keystore_open(&ks, g_path, sealer));
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 2);
    EXPECT_ERR(AK_E_LIMIT, aks_keystore_ensure_epoch(&ks, AKS_MAX_EPOCHS + 1));
    aks_keystore_close(&ks);
    aks_sealer_free(sealer);
    s_rm_dir();
}

AK_TEST(test_rotation_keeps_previous) {
    aks_sealer *sealer;
    aks_keystore ks;
    aks_pubkey pubs[6];
    uint8_t sig[64];
    char used[AKS_KID_MAX], old_kid[AKS_KID_MAX], new_kid[AKS_KID_MAX];
    uint8_t old_pub[65];
    s_fresh_dir();
    EXPECT_OK(aks_sealer_from_key(g_key, &sealer));
    EXPECT_OK(aks_keystore_open(&ks, g_path, sealer));
    size_t n = aks_keystore_public_keys(&ks, pubs);
    for (size_t i = 0; i < n; i++)
        if (pubs[i].purpose == AKS_KEY_OIDC) {
            memcpy(old_kid, pubs[i].kid, AKS_KID_MAX);
            memcpy(old_pub, pubs[i].pub, 65);
        }
    EXPECT_OK(aks_keystore_rotate(&ks, AKS_KEY_OIDC));
    n = aks_keystore_public_keys(&ks, pubs);
    EXPECT_INT_EQ(n, 4);
    int seen_prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (pubs[i].purpose != AKS_KEY_OIDC) continue;
        if (pubs[i].current)
            memcpy(new_kid, pubs[i].kid, AKS_KID_MAX);
        else {
            seen_prev = 1;
            EXPECT_STR_EQ(pubs[i].kid, old_kid);
        }
    }
    EXPECT_INT_EQ(seen_prev, 1);
    EXPECT_FALSE(strcmp(new_kid, old_kid) == 0);
    /* Sign with the previous key by kid; with the current one by default. */
    EXPECT_OK(aks_keystore_sign(&ks, AKS_KEY_OIDC, ak_cur_from_str(old_kid), "m", 1, sig, used));
    EXPECT_STR_EQ(used, old_kid);
    EXPECT_OK(ak_p256_verify_sha256(old_pub, "m", 1, sig));
    EXPECT_OK(aks_keystore_sign(&ks, AKS_KEY_OIDC, ak_cur_from(NULL, 0), "m", 1, sig, used));
    EXPECT_STR_EQ(used, new_kid);
    EXPECT_ERR(AK_E_NOT_FOUND,
               aks_keystore_sign(&ks, AKS_KEY_CAP, ak_cur_from_str(old_kid), "m", 1, sig, used));
    /* A second rotation drops the oldest key. */
    EXPECT_OK(aks_keystore_rotate(&ks, AKS_KEY_OIDC));
    EXPECT_ERR(AK_E_NOT_FOUND,
               aks_keystore_sign(&ks, AKS_KEY_OIDC, ak_cur_from_str(old_kid), "m", 1, sig, used));
    EXPECT_OK(aks_keystore_sign(&ks, AKS_KEY_OIDC, ak_cur_from_str(new_kid), "m", 1, sig, used));
    aks_keystore_close(&ks);
    /* Rotation survives a restart. */
    EXPECT_OK(aks_keystore_open(&ks, g_path, sealer));
    EXPECT_OK(aks_keystore_sign(&ks, AKS_KEY_OIDC, ak_cur_from_str(new_kid), "m", 1, sig, used));
    aks_keystore_close(&ks);
    aks_sealer_free(sealer);
    s_rm_dir();
}

AK_TEST(test_decode_is_strict) {
    aks_secrets *s = aks_secmem_alloc(sizeof(aks_secrets));
    aks_secrets *d = aks_secmem_alloc(sizeof(aks_secrets));
    ak_buf enc, bad;
    ak_buf_init(&enc, 1u << 20);
    ak_buf_init(&bad, 1u << 20);
    s->n_epochs = 2;
    memset(s->k3[0], 0x11, 32);
    memset(s->k3[1], 0x22, 32);
    s->keys[AKS_KEY_CAP][0].present = true;
    memset(s->keys[AKS_KEY_CAP][0].priv, 0x07, 32);
    s->keys[AKS_KEY_CAP][0].created = 1700000000;
    EXPECT_OK(aks_keystore_encode(s, &enc));
    EXPECT_OK(aks_keystore_decode(ak_buf_cur(&enc), d));
    EXPECT_INT_EQ(d->n_epochs, 2);
    EXPECT_BYTES_EQ(d->k3[1], 32, s->k3[1], 32);
    EXPECT_TRUE(d->keys[AKS_KEY_CAP][0].present);
    EXPECT_TRUE(d->keys[AKS_KEY_CAP][0].created == 1700000000);
    EXPECT_TRUE(strncmp(d->keys[AKS_KEY_CAP][0].kid, "cap-", 4) == 0);
    /* Every truncation fails. */
    for (size_t n = 0; n < enc.len; n++)
        EXPECT_ERR(AK_E_INVALID_INPUT, aks_keystore_decode(ak_cur_from(enc.ptr, n), d));
    /* Trailing byte. */
    EXPECT_OK(ak_buf_append_cur(&bad, ak_buf_cur(&enc)));
    EXPECT_OK(ak_buf_append_byte(&bad, 0));
    EXPECT_ERR(AK_E_INVALID_INPUT, aks_keystore_decode(ak_buf_cur(&bad), d));
    /* Bad magic / version / epoch count / key purpose / zero private key. */
    size_t key_at = 12 + 64 + 4;
    size_t offs[] = {0, 7, 8, key_at, key_at + 1};
    uint8_t vals[] = {'X', 2, 0xff, 9, 2};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        ak_buf_clear(&bad);
        EXPECT_OK(ak_buf_append_cur(&bad, ak_buf_cur(&enc)));
        bad.ptr[offs[i]] = vals[i];
        EXPECT_ERR(AK_E_INVALID_INPUT, aks_keystore_decode(ak_buf_cur(&bad), d));
    }
    ak_buf_clear(&bad);
    EXPECT_OK(ak_buf_append_cur(&bad, ak_buf_cur(&enc)));
    memset(bad.ptr + key_at + 10, 0, 32);
    EXPECT_ERR(AK_E_INVALID_INPUT, aks_keystore_decode(ak_buf_cur(&bad), d));
    /* A previous key without a current one. */
    ak_buf_clear(&bad);
    EXPECT_OK(ak_buf_append_cur(&bad, ak_buf_cur(&enc)));
    bad.ptr[key_at + 1] = 1;
    EXPECT_ERR(AK_E_INVALID_INPUT, aks_keystore_decode(ak_buf_cur(&bad), d));
    ak_buf_free(&enc);
    ak_buf_free(&bad);
    aks_secmem_free(s, sizeof(*s));
    aks_secmem_free(d, sizeof(*d));
}

AK_TEST(test_file_sealer_key_formats) {
    char dir[64], p[128];
    aks_sealer *s;
    snprintf(dir, sizeof(dir), "/tmp/aks_seal_test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/k", dir);
    FILE *f = fopen(p, "w");
    fputs("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", f);
    fclose(f);
    EXPECT_OK(aks_sealer_file_open(p, &s));
    ak_buf sealed, opened;
    ak_buf_init(&sealed, 1024);
    ak_buf_init_secret(&opened, 1024);
    EXPECT_OK(s->seal(s, AK_CUR_LIT("aad"), AK_CUR_LIT("hello"), &sealed));
    EXPECT_INT_EQ(sealed.len, 5 + AKS_SEAL_OVERHEAD);
    EXPECT_OK(s->unseal(s, AK_CUR_LIT("aad"), ak_buf_cur(&sealed), &opened));
    EXPECT_TRUE(ak_cur_eq_str(ak_buf_cur(&opened), "hello"));
    ak_buf_clear(&opened);
    EXPECT_ERR(AK_E_DECRYPT_FAILED, s->unseal(s, AK_CUR_LIT("aaX"), ak_buf_cur(&sealed), &opened));
    EXPECT_INT_EQ(opened.len, 0);
    aks_sealer_free(s);
    f = fopen(p, "w");
    fputs("too short", f);
    fclose(f);
    EXPECT_ERR(AK_E_BAD_KEY, aks_sealer_file_open(p, &s));
    EXPECT_ERR(AK_E_IO, aks_sealer_file_open("/nonexistent/seal.key", &s));
    aks_nitro_sealer_config nc = {0};
    EXPECT_ERR(AK_E_CONFIG, aks_sealer_nitro_open(&nc, &s));
    unlink(p);
    rmdir(dir);
    ak_buf_free(&sealed);
    ak_buf_free(&opened);
}

/* What the save hook (the S3 backup: a network round trip) sees while a write is in flight. */
typedef struct {
    aks_keystore *ks;
    ak_err answer;
    int calls;
    bool readers_free;      /* the served state's lock was free */
    uint64_t served_epochs; /* what readers were served meanwhile */
    bool held_k3_readable;
    char served_cap_kid[AKS_KID_MAX];
    uint32_t saved_epochs; /* what the hook was asked to save */
} s_hook_probe;

static ak_err s_probe_hook(void *ud, ak_cur sealed, uint32_t n_epochs) {
    s_hook_probe *p = ud;
    uint8_t k3[32];
    aks_pubkey keys[2 * AKS_KEY__COUNT];
    (void)sealed;
    p->calls++;
    p->saved_epochs = n_epochs;
    /* trylock, not lock: a regression must fail here, not hang the test */
    p->readers_free = pthread_mutex_trylock(&p->ks->mu) == 0;
    if (p->readers_free) pthread_mutex_unlock(&p->ks->mu);
    if (!p->readers_free) return p->answer;
    p->served_epochs = aks_keystore_max_epoch(p->ks);
    p->held_k3_readable = aks_keystore_k3(p->ks, 1, k3) == AK_OK;
    size_t n = aks_keystore_public_keys(p->ks, keys);
    for (size_t i = 0; i < n; i++)
        if (keys[i].purpose == AKS_KEY_CAP && keys[i].current)
            memcpy(p->served_cap_kid, keys[i].kid, AKS_KID_MAX);
    ak_wipe(k3, sizeof(k3));
    return p->answer;
}

/* A write (new epoch, rotation) does not hold readers while it is saved and backed up; they are
 * served the previous state until the save succeeded, and a failed save is never served. */
AK_TEST(test_readers_served_during_a_save) {
    aks_sealer *sealer;
    aks_keystore ks;
    aks_pubkey keys[2 * AKS_KEY__COUNT];
    char cap_kid[AKS_KID_MAX] = "";
    s_fresh_dir();
    EXPECT_OK(aks_sealer_from_key(g_key, &sealer));
    EXPECT_OK(aks_keystore_open(&ks, g_path, sealer));
    EXPECT_OK(aks_keystore_ensure_epoch(&ks, 1));
    size_t n = aks_keystore_public_keys(&ks, keys);
    for (size_t i = 0; i < n; i++)
        if (keys[i].purpose == AKS_KEY_CAP && keys[i].current) memcpy(cap_kid, keys[i].kid, AKS_KID_MAX);
    s_hook_probe p = {.ks = &ks, .answer = AK_OK};
    ks.on_saved = s_probe_hook;
    ks.on_saved_ud = &p;

    EXPECT_OK(aks_keystore_ensure_epoch(&ks, 3));
    EXPECT_INT_EQ(p.calls, 1);
    EXPECT_TRUE(p.readers_free);
    EXPECT_INT_EQ(p.saved_epochs, 3);
    EXPECT_INT_EQ(p.served_epochs, 1); /* not served before it is saved */
    EXPECT_TRUE(p.held_k3_readable);
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 3);

    EXPECT_OK(aks_keystore_rotate(&ks, AKS_KEY_CAP));
    EXPECT_TRUE(p.readers_free);
    EXPECT_STR_EQ(p.served_cap_kid, cap_kid); /* the old key stays current until saved */

    /* a failed backup: nothing of the write is ever served */
    p.answer = AK_E_SIGNER_BACKUP;
    memset(p.served_cap_kid, 0, sizeof(p.served_cap_kid));
    EXPECT_ERR(AK_E_SIGNER_BACKUP, aks_keystore_ensure_epoch(&ks, 4));
    EXPECT_TRUE(p.readers_free);
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 3);
    EXPECT_ERR(AK_E_SIGNER_BACKUP, aks_keystore_rotate(&ks, AKS_KEY_CAP));
    n = aks_keystore_public_keys(&ks, keys);
    for (size_t i = 0; i < n; i++)
        if (keys[i].purpose == AKS_KEY_CAP && keys[i].current) EXPECT_STR_EQ(keys[i].kid, p.served_cap_kid);
    aks_keystore_close(&ks);
    aks_sealer_free(sealer);
    s_rm_dir();
}

AK_RUN_TESTS(AK_T(test_seal_unseal_round_trip_and_restart), AK_T(test_tamper_and_wrong_key_are_detected),
             AK_T(test_atomic_rewrite_and_failed_save), AK_T(test_rotation_keeps_previous),
             AK_T(test_decode_is_strict), AK_T(test_file_sealer_key_formats),
             AK_T(test_readers_served_during_a_save))
