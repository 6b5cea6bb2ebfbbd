/* signer_rollback_test.c — the keystore rollback guard (issue 16 finding 7) and the backup's
 * object names and save hook (issue 18 item 3): an older keystore restored after an epoch
 * advance is refused, a fresh start and a matching keystore pass, another signer's keystore is
 * a mismatch, the commitments file is strict, and a failed backup un-does the new epoch. */
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ak/crypto.h"
#include "../../enclave/src/backup.c"
#include "../../enclave/src/epochs.c"
#include "../../enclave/src/keystore.c"
#include "../../enclave/src/rollback.c"
#include "../../enclave/src/sealer.c"
#include "../../enclave/src/secmem.c"

typedef struct {
    char dir[64], epoch_file[128], commit_file[160], ks_path[128];
    aks_sealer *sealer;
    aks_epochs *epochs;
} s_env;

static const uint8_t g_seal[32] = {7, 7, 7};

static void s_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void s_set_epoch(s_env *e, unsigned v) {
    char t[32];
    snprintf(t, sizeof(t), "%u\n", v);
    s_write_text(e->epoch_file, t);
}

static void s_up(s_env *e) {
    char spec[160];
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/aks_rb_test.XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->epoch_file, sizeof(e->epoch_file), "%s/epoch", e->dir);
    snprintf(e->commit_file, sizeof(e->commit_file), "%s/epoch.commitments", e->dir);
    snprintf(e->ks_path, sizeof(e->ks_path), "%s/keystore.sealed", e->dir);
    s_set_epoch(e, 1);
    EXPECT_OK(aks_sealer_from_key(g_seal, &e->sealer));
    snprintf(spec, sizeof(spec), "file:%s", e->epoch_file);
    EXPECT_OK(aks_epochs_open(spec, 1, &e->epochs));
}

static void s_down(s_env *e) {
    char cmd[128];
    aks_epochs_free(e->epochs);
    aks_sealer_free(e->sealer);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    assert_int_equal(system(cmd), 0);
}

/* What `agentkeys epoch rotate` records: the keystore's commitment of every held epoch. */
static void s_record_all(s_env *e, aks_keystore *ks) {
    char text[4096] = "", hex[65];
    size_t used = 0;
    uint8_t c[32];
    for (uint64_t ep = 1; ep <= aks_keystore_max_epoch(ks); ep++) {
        EXPECT_OK(aks_keystore_commitment(ks, ep, c));
        ak_hex_encode(c, 32, hex);
        used +=
            (size_t)snprintf(text + used, sizeof(text) - used, "%llu 0x%s\n", (unsigned long long)ep, hex);
        assert_true(used < sizeof(text));
    }
    s_write_text(e->commit_file, text);
}

static void s_copy(const char *from, const char *to) {
    ak_buf b;
    EXPECT_OK(ak_pki_read_file(from, &b));
    EXPECT_OK(ak_file_write_0600(to, ak_buf_cur(&b)));
    ak_buf_free(&b);
}

AK_TEST(test_commitment_definition) {
    /* HMAC-SHA256(K3, "agentkeys.k3.commitment.v1" ‖ u64be(epoch)); Python's hmac agrees. */
    uint8_t k3[32], c[32], c6[32], want[32];
    for (int i = 0; i < 32; i++)
        k3[i] = (uint8_t)(i + 1);
    aks_k3_commitment(k3, 5, c);
    EXPECT_OK(ak_hex_decode_exact(
        AK_CUR_LIT("a33bd30d0c29efe9b0a065e42b7e7916732937c7739bbdde76248e57ea537043"), false, want, 32));
    EXPECT_BYTES_EQ(c, 32, want, 32);
    aks_k3_commitment(k3, 6, c6); /* bound to the epoch */
    EXPECT_FALSE(memcmp(c, c6, 32) == 0);
    EXPECT_FALSE(memcmp(c, k3, 32) == 0);
}

AK_TEST(test_fresh_start_and_matching_keystore_pass) {
    s_env e;
    aks_keystore ks;
    s_up(&e);
    /* Fresh: no keystore, nothing recorded. */
    EXPECT_OK(aks_keystore_open(&ks, e.ks_path, e.sealer));
    EXPECT_OK(aks_rollback_verify(&ks, e.epochs));
    EXPECT_OK(aks_rollback_ensure_epoch(&ks, e.epochs, 1));
    s_record_all(&e, &ks);
    s_set_epoch(&e, 2);
    EXPECT_OK(aks_rollback_ensure_epoch(&ks, e.epochs, 2)); /* epoch 2 unrecorded: created */
    s_record_all(&e, &ks);
    aks_keystore_close(&ks);
    /* Restart with the same keystore: every commitment matches. */
    EXPECT_OK(aks_keystore_open(&ks, e.ks_path, e.sealer));
    EXPECT_OK(aks_rollback_verify(&ks, e.epochs));
    EXPECT_OK(aks_rollback_ensure_epoch(&ks, e.epochs, 2));
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 2);
    aks_keystore_close(&ks);
    s_down(&e);
}

AK_TEST(test_older_keystore_after_advance_refused) {
    s_env e;
    aks_keystore ks;
    char old[160];
    uint8_t k3_1[32], again[32];
    s_up(&e);
    snprintf(old, sizeof(old), "%s/keystore.sealed.old", e.dir);
    EXPECT_OK(aks_keystore_open(&ks, e.ks_path, e.sealer));
    EXPECT_OK(aks_rollback_ensure_epoch(&ks, e.epochs, 1));
    EXPECT_OK(aks_keystore_k3(&ks, 1, k3_1));
    s_record_all(&e, &ks);
    s_copy(e.ks_path, old); /* the backup taken at epoch 1 */
    s_set_epoch(&e, 2);
    EXPECT_OK(aks_rollback_ensure_epoch(&ks, e.epochs, 2));
    s_record_all(&e, &ks); /* epoch rotate recorded epoch 2 */
    aks_keystore_close(&ks);
    /* The older keystore comes back. */
    s_copy(old, e.ks_path);
    EXPECT_OK(aks_keystore_open(&ks, e.ks_path, e.sealer));
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 1);
    EXPECT_ERR(AK_E_SIGNER_ROLLBACK, aks_rollback_verify(&ks, e.epochs));
    EXPECT_ERR(AK_E_SIGNER_ROLLBACK, aks_rollback_ensure_epoch(&ks, e.epochs, 2));
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 1); /* nothing created */
    EXPECT_ERR(AK_E_NOT_FOUND, aks_keystore_k3(&ks, 2, again));
    EXPECT_OK(aks_keystore_k3(&ks, 1, again)); /* what it holds is still the same */
    EXPECT_BYTES_EQ(again, 32, k3_1, 32);
    EXPECT_STR_EQ(ak_err_reason(AK_E_SIGNER_ROLLBACK), "keystore_rollback");
    EXPECT_INT_EQ(ak_err_status(AK_E_SIGNER_ROLLBACK), 503);
    aks_keystore_close(&ks);
    s_down(&e);
}

AK_TEST(test_other_signers_keystore_mismatch) {
    s_env e;
    aks_keystore ks;
    s_up(&e);
    EXPECT_OK(aks_keystore_open(&ks, e.ks_path, e.sealer));
    EXPECT_OK(aks_rollback_ensure_epoch(&ks, e.epochs, 1));
    s_record_all(&e, &ks);
    aks_keystore_close(&ks);
    /* Another keystore (same sealing key, its own K3 for epoch 1). */
    EXPECT_INT_EQ(unlink(e.ks_path), 0);
    EXPECT_OK(aks_keystore_open(&ks, e.ks_path, e.sealer));
    EXPECT_OK(aks_keystore_ensure_epoch(&ks, 1));
    EXPECT_ERR(AK_E_SIGNER_COMMITMENT_MISMATCH, aks_rollback_verify(&ks, e.epochs));
    aks_keystore_close(&ks);
    /* An empty keystore with a recorded epoch 1 is a rollback. */
    EXPECT_INT_EQ(unlink(e.ks_path), 0);
    EXPECT_OK(aks_keystore_open(&ks, e.ks_path, e.sealer));
    EXPECT_ERR(AK_E_SIGNER_ROLLBACK, aks_rollback_verify(&ks, e.epochs));
    EXPECT_ERR(AK_E_SIGNER_ROLLBACK, aks_rollback_ensure_epoch(&ks, e.epochs, 1));
    aks_keystore_close(&ks);
    s_down(&e);
}

AK_TEST(test_commitments_file_strict) {
    uint64_t hi;
    uint8_t c[32];
    const char *good = "1 0x"
                       "0101010101010101010101010101010101010101010101010101010101010101"
                       "\n\n"
                       "3 0x"
                       "0303030303030303030303030303030303030303030303030303030303030303"
                       "\n";
    EXPECT_OK(aks_epochs_parse_commitments(ak_cur_from_str(good), 3, &hi, c));
    EXPECT_INT_EQ(hi, 3);
    EXPECT_INT_EQ(c[0], 3);
    EXPECT_OK(aks_epochs_parse_commitments(ak_cur_from_str(good), 2, &hi, c));
    EXPECT_INT_EQ(c[0], 0); /* not recorded */
    static const char *const bad[] = {
        "1 0x0101\n",                                                             /* short */
        "0 0x0101010101010101010101010101010101010101010101010101010101010101\n", /* epoch 0 */
        "1 0x0000000000000000000000000000000000000000000000000000000000000000\n", /* zero */
        "x 0x0101010101010101010101010101010101010101010101010101010101010101\n", /* not a number */
        "1 0x0101010101010101010101010101010101010101010101010101010101010101\n"
        "1 0x0202020202020202020202020202020202020202020202020202020202020202\n", /* twice */
        "1\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (aks_epochs_parse_commitments(ak_cur_from_str(bad[i]), 1, &hi, c) == AK_OK)
            fail_msg("bad[%zu] accepted", i);
}

AK_TEST(test_unreadable_commitments_fail_closed) {
    s_env e;
    aks_keystore ks;
    s_up(&e);
    EXPECT_OK(aks_keystore_open(&ks, e.ks_path, e.sealer));
    s_write_text(e.commit_file, "garbage\n");
    EXPECT_ERR(AK_E_CHAIN_RPC, aks_rollback_verify(&ks, e.epochs));
    EXPECT_ERR(AK_E_CHAIN_RPC, aks_rollback_ensure_epoch(&ks, e.epochs, 1));
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 0);
    aks_keystore_close(&ks);
    s_down(&e);
}

static int g_saves;
static ak_err s_hook_fail(void *ud, ak_cur sealed, uint32_t n) {
    (void)ud;
    (void)sealed;
    (void)n;
    g_saves++;
    return AK_E_SIGNER_BACKUP;
}
static ak_err s_hook_ok(void *ud, ak_cur sealed, uint32_t n) {
    (void)sealed;
    *(uint32_t *)ud = n;
    g_saves++;
    return AK_OK;
}

AK_TEST(test_backup_hook_runs_per_write_and_failure_undoes) {
    s_env e;
    aks_keystore ks;
    uint32_t seen = 0;
    s_up(&e);
    EXPECT_OK(aks_keystore_open(&ks, e.ks_path, e.sealer));
    ks.on_saved = s_hook_ok;
    ks.on_saved_ud = &seen;
    g_saves = 0;
    EXPECT_OK(aks_keystore_ensure_epoch(&ks, 2));
    EXPECT_INT_EQ(seen, 2);
    EXPECT_OK(aks_keystore_rotate(&ks, AKS_KEY_OIDC));
    EXPECT_INT_EQ(g_saves, 2);
    /* Backup down: the new epoch is not served. */
    ks.on_saved = s_hook_fail;
    EXPECT_ERR(AK_E_SIGNER_BACKUP, aks_keystore_ensure_epoch(&ks, 3));
    EXPECT_INT_EQ(aks_keystore_max_epoch(&ks), 2);
    aks_keystore_close(&ks);
    s_down(&e);
}

AK_TEST(test_backup_names) {
    uint32_t n;
    uint64_t ms;
    uint8_t h[8];
    EXPECT_TRUE(aks_backup_parse_name(AK_CUR_LIT("keystore-0000000002-1764646000000-0123456789abcdef.sealed"),
                                      &n, &ms, h));
    EXPECT_INT_EQ(n, 2);
    EXPECT_TRUE(ms == 1764646000000ull);
    EXPECT_INT_EQ(h[0], 0x01);
    static const char *const bad[] = {
        "keystore-000000002-1764646000000-0123456789abcdef.sealed",  /* short epoch */
        "keystore-0000000002-1764646000000-0123456789abcdeg.sealed", /* hex */
        "keystore-0000000002-1764646000000-0123456789abcdef.sealex", /* suffix */
        "keystore-00000000x2-1764646000000-0123456789abcdef.sealed", /* digit */
        "keystore-0000000002_1764646000000-0123456789abcdef.sealed", /* separator */
        "notes.txt",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (aks_backup_parse_name(ak_cur_from_str(bad[i]), &n, &ms, h)) fail_msg("bad[%zu] accepted", i);
    aks_backup *b = NULL;
    EXPECT_ERR(AK_E_CONFIG, aks_backup_open("http://bucket/x", NULL, NULL, &b));
    EXPECT_ERR(AK_E_CONFIG, aks_backup_open("s3://", NULL, NULL, &b));
}

AK_RUN_TESTS(AK_T(test_commitment_definition), AK_T(test_fresh_start_and_matching_keystore_pass),
             AK_T(test_older_keystore_after_advance_refused), AK_T(test_other_signers_keystore_mismatch),
             AK_T(test_commitments_file_strict), AK_T(test_unreadable_commitments_fail_closed),
             AK_T(test_backup_hook_runs_per_write_and_failure_undoes), AK_T(test_backup_names))
