/* bytes_test.c — cursors, bounded buffers, hex, base64 (positive and negative cases). */
#include <sys/stat.h>
#include <stdio.h>
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/ct.h"

AK_TEST(test_cursor_reads_do_not_advance_on_short_input) {
    uint8_t raw[] = {1, 2, 3};
    ak_cur c = ak_cur_from(raw, sizeof(raw));
    uint32_t v = 0;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cur_read_u32be(&c, &v));
    EXPECT_INT_EQ(c.len, 3);
    uint8_t b;
    EXPECT_OK(ak_cur_read_u8(&c, &b));
    EXPECT_INT_EQ(b, 1);
    ak_cur head;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cur_take(&c, 3, &head));
    EXPECT_OK(ak_cur_take(&c, 2, &head));
    EXPECT_INT_EQ(c.len, 0);
}

AK_TEST(test_u64_is_strict) {
    uint64_t v;
    EXPECT_OK(ak_cur_to_u64(AK_CUR_LIT("18446744073709551615"), &v));
    EXPECT_TRUE(v == UINT64_MAX);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cur_to_u64(AK_CUR_LIT("18446744073709551616"), &v));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cur_to_u64(AK_CUR_LIT("+1"), &v));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cur_to_u64(AK_CUR_LIT(" 1"), &v));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cur_to_u64(AK_CUR_LIT(""), &v));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_cur_to_u64(AK_CUR_LIT("12a"), &v));
}

AK_TEST(test_split_trim_find) {
    ak_cur c = AK_CUR_LIT("  key=value  ");
    c = ak_cur_trim(c);
    ak_cur k;
    EXPECT_TRUE(ak_cur_split(&c, '=', &k));
    EXPECT_TRUE(ak_cur_eq_str(k, "key"));
    EXPECT_TRUE(ak_cur_eq_str(c, "value"));
    EXPECT_FALSE(ak_cur_split(&c, '=', &k));
    EXPECT_TRUE(ak_cur_eq_nocase(AK_CUR_LIT("X-Amz-Date"), AK_CUR_LIT("x-amz-date")));
}

AK_TEST(test_buf_ceiling_is_an_error_not_a_cut) {
    ak_buf b;
    ak_buf_init(&b, 8);
    EXPECT_OK(ak_buf_append_str(&b, "12345678"));
    EXPECT_ERR(AK_E_LIMIT, ak_buf_append_str(&b, "9"));
    EXPECT_INT_EQ(b.len, 8);
    EXPECT_STR_EQ(ak_buf_cstr(&b), "12345678");
    ak_buf_clear(&b);
    EXPECT_OK(ak_buf_printf(&b, "%d-%s", 42, "x"));
    EXPECT_STR_EQ(ak_buf_cstr(&b), "42-x");
    EXPECT_ERR(AK_E_LIMIT, ak_buf_printf(&b, "%s", "too long!"));
    ak_buf_free(&b);
}

AK_TEST(test_buf_oom_is_reported) {
    ak_buf b;
    ak_buf_init(&b, 1024);
    ak_alloc_fail_nth(1);
    EXPECT_ERR(AK_E_NOMEM, ak_buf_append_str(&b, "abc"));
    EXPECT_OK(ak_buf_append_str(&b, "abc"));
    ak_buf_free(&b);
}

AK_TEST(test_hex) {
    uint8_t out[4];
    EXPECT_OK(ak_hex_decode_exact(AK_CUR_LIT("0xDEADbeef"), true, out, 4));
    EXPECT_INT_EQ(out[0], 0xde);
    EXPECT_ERR(AK_E_BAD_HEX, ak_hex_decode_exact(AK_CUR_LIT("0xdeadbeef"), false, out, 4));
    EXPECT_ERR(AK_E_BAD_HEX, ak_hex_decode_exact(AK_CUR_LIT("deadbee"), false, out, 4));
    EXPECT_ERR(AK_E_BAD_HEX, ak_hex_decode_exact(AK_CUR_LIT("deadbeeg"), false, out, 4));
    char h[9];
    ak_hex_encode(out, 4, h);
    EXPECT_STR_EQ(h, "deadbeef");
    EXPECT_TRUE(
        ak_is_hex64_lower(AK_CUR_LIT("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")));
    EXPECT_FALSE(
        ak_is_hex64_lower(AK_CUR_LIT("00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff")));
}

AK_TEST(test_base64_rfc4648_vectors) {
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *encu[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        ak_buf b, d;
        ak_buf_init(&b, 64);
        ak_buf_init(&d, 64);
        EXPECT_OK(ak_b64_encode((const uint8_t *)plain[i], strlen(plain[i]), &b));
        EXPECT_STR_EQ(ak_buf_cstr(&b), enc[i]);
        EXPECT_OK(ak_b64_decode(ak_buf_cur(&b), &d));
        EXPECT_BYTES_EQ(d.ptr, d.len, plain[i], strlen(plain[i]));
        ak_buf_clear(&b);
        ak_buf_clear(&d);
        EXPECT_OK(ak_b64url_encode((const uint8_t *)plain[i], strlen(plain[i]), &b));
        EXPECT_STR_EQ(ak_buf_cstr(&b), encu[i]);
        EXPECT_OK(ak_b64url_decode(ak_buf_cur(&b), &d));
        EXPECT_BYTES_EQ(d.ptr, d.len, plain[i], strlen(plain[i]));
        ak_buf_free(&b);
        ak_buf_free(&d);
    }
}

AK_TEST(test_base64_rejects_noncanonical) {
    ak_buf d;
    ak_buf_init(&d, 64);
    EXPECT_ERR(AK_E_BAD_BASE64, ak_b64_decode(AK_CUR_LIT("Zg="), &d));  /* bad length */
    EXPECT_ERR(AK_E_BAD_BASE64, ak_b64_decode(AK_CUR_LIT("Zh=="), &d)); /* trailing bits */
    EXPECT_ERR(AK_E_BAD_BASE64, ak_b64_decode(AK_CUR_LIT("Zm9v!A=="), &d));
    EXPECT_ERR(AK_E_BAD_BASE64, ak_b64_decode(AK_CUR_LIT("Z=9v"), &d));
    EXPECT_ERR(AK_E_BAD_BASE64, ak_b64url_decode(AK_CUR_LIT("Zg=="), &d)); /* no padding in url form */
    EXPECT_ERR(AK_E_BAD_BASE64, ak_b64url_decode(AK_CUR_LIT("Z"), &d));
    EXPECT_ERR(AK_E_BAD_BASE64, ak_b64url_decode(AK_CUR_LIT("ab+/"), &d));
    EXPECT_INT_EQ(d.len, 0);
    ak_buf_free(&d);
}

AK_TEST(test_ct_eq) {
    EXPECT_INT_EQ(ak_ct_eq("abcd", "abcd", 4), 1);
    EXPECT_INT_EQ(ak_ct_eq("abcd", "abce", 4), 0);
    EXPECT_INT_EQ(ak_ct_eq_len("abc", 3, "abcd", 4), 0);
    EXPECT_TRUE(ak_ct_eq32(5, 5) == 0xFFFFFFFFu);
    EXPECT_TRUE(ak_ct_select32(0, 1, 2) == 2);
}

AK_TEST(test_error_table) {
    EXPECT_STR_EQ(ak_err_reason(AK_E_OPERATOR_MISMATCH), "operator_mismatch");
    EXPECT_INT_EQ(ak_err_status(AK_E_OPERATOR_MISMATCH), 403);
    EXPECT_STR_EQ(ak_err_type(AK_E_INVALID_INPUT), "AgentKeys.invalid_input");
    EXPECT_TRUE(ak_err_from_reason("cap_data_class_mismatch") == AK_E_CAP_DATA_CLASS_MISMATCH);
    EXPECT_TRUE(ak_err_from_reason("nope") == AK_E__COUNT);
    /* Reasons are unique: a duplicate would make from_reason ambiguous. */
    for (int i = 0; i < (int)AK_E__COUNT; i++)
        EXPECT_TRUE(ak_err_from_reason(ak_err_reason((ak_err)i)) == (ak_err)i);
}

AK_TEST(test_arena_resets_and_caps) {
    ak_arena a;
    ak_arena_init(&a, 1 << 20);
    char *s = ak_arena_strndup(&a, "secret", 6);
    EXPECT_STR_EQ(s, "secret");
    EXPECT_TRUE(ak_arena_alloc(&a, 2 << 20) == NULL);
    void *big = ak_arena_alloc(&a, 100000);
    EXPECT_TRUE(big != NULL);
    ak_arena_reset(&a);
    EXPECT_TRUE(a.used_total == 0);
    ak_arena_free(&a);
}

/* ak_alloc_jansson_arena: small blocks from the arena (free is a no-op), large ones and those
 * past the budget from the heap (freed for real), heap blocks made before the window freed
 * inside it, and the previous state restored. test.c installed the jansson hooks. */
AK_TEST(test_jansson_arena_window) {
    size_t live = ak_alloc_live_count();
    json_t *before = json_string("made on the heap"); /* two heap blocks: object and copy */
    ak_arena a;
    ak_arena_init(&a, 1 << 20);
    EXPECT_TRUE(ak_alloc_jansson_arena(&a, 1024) == NULL);
    json_t *small = json_string("small");
    EXPECT_TRUE(small != NULL && a.used_total > 0);
    EXPECT_INT_EQ(ak_alloc_live_count(), live + 3u); /* plus the arena's chunk, nothing else */
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    json_t *large = json_string(big); /* the 2000-byte copy is over the per-block cap */
    EXPECT_TRUE(large != NULL);
    EXPECT_INT_EQ(ak_alloc_live_count(), live + 4u);
    size_t used = a.used_total;
    json_t *past[64];
    for (size_t i = 0; i < 64; i++) /* 64 x (object + copy) is past the 1024-byte budget */
        EXPECT_TRUE((past[i] = json_string("past the budget")) != NULL);
    EXPECT_TRUE(a.used_total <= used + 1024u);
    EXPECT_TRUE(ak_alloc_live_count() > live + 4u);
    for (size_t i = 0; i < 64; i++)
        json_decref(past[i]);
    json_decref(large);
    json_decref(small);
    json_decref(before); /* heap blocks freed inside the window */
    EXPECT_INT_EQ(ak_alloc_live_count(), live + 1u);
    EXPECT_TRUE(ak_alloc_jansson_arena(NULL, 0) == &a);
    json_t *after = json_string("heap again");
    EXPECT_INT_EQ(ak_alloc_live_count(), live + 3u);
    json_decref(after);
    EXPECT_INT_EQ(ak_alloc_live_count(), live + 1u);
    ak_arena_free(&a);
}

AK_TEST(test_buf_append_file) {
    char path[] = "/tmp/ak-bytes-test-XXXXXX";
    int fd = mkstemp(path);
    EXPECT_TRUE(fd >= 0);
    uint8_t data[40000]; /* more than one read chunk */
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7u);
    EXPECT_TRUE(write(fd, data, sizeof(data)) == (ssize_t)sizeof(data));
    close(fd);
    ak_buf b;
    ak_buf_init(&b, 1u << 20);
    EXPECT_OK(ak_buf_append_str(&b, "head:"));
    EXPECT_OK(ak_buf_append_file(&b, path)); /* appends, after what was there */
    EXPECT_INT_EQ(b.len, 5 + sizeof(data));
    EXPECT_TRUE(memcmp(b.ptr + 5, data, sizeof(data)) == 0);
    ak_buf_free(&b);
    ak_buf_init(&b, sizeof(data) - 1); /* one byte short: the ceiling is an error */
    EXPECT_ERR(AK_E_LIMIT, ak_buf_append_file(&b, path));
    ak_buf_free(&b);
    ak_buf_init(&b, 16);
    EXPECT_ERR(AK_E_IO, ak_buf_append_file(&b, "/nonexistent/ak-bytes-test"));
    EXPECT_ERR(AK_E_IO, ak_buf_append_file(&b, "/tmp")); /* a directory cannot be read */
    ak_buf_free(&b);
    unlink(path);
}

AK_TEST(test_grow_array) {
    size_t cap = 0;
    uint32_t *a = ak_grow_array(NULL, &cap, sizeof(*a), 4);
    EXPECT_TRUE(a != NULL);
    EXPECT_INT_EQ(cap, 4);
    for (uint32_t i = 0; i < 4; i++)
        a[i] = i;
    uint32_t *b = ak_grow_array(a, &cap, sizeof(*b), 4); /* doubles, keeps the contents */
    EXPECT_TRUE(b != NULL);
    EXPECT_INT_EQ(cap, 8);
    EXPECT_INT_EQ(b[3], 3);
    size_t huge = SIZE_MAX / 2; /* overflow: refused, nothing changed */
    EXPECT_TRUE(ak_grow_array(b, &huge, sizeof(*b), 4) == NULL);
    EXPECT_INT_EQ(huge, SIZE_MAX / 2);
    ak_alloc_fail_nth(1); /* allocation failure: refused, array and capacity kept */
    EXPECT_TRUE(ak_grow_array(b, &cap, sizeof(*b), 4) == NULL);
    EXPECT_INT_EQ(cap, 8);
    EXPECT_INT_EQ(b[3], 3);
    ak_free(b);
}

/* ak_file_write_0600: parents made 0700, the file 0600 whatever the umask, content replaced
 * whole, no temp file left; a parent that is a file fails with AK_E_IO and leaves nothing. */
AK_TEST(test_file_write_0600) {
    char dir[] = "/tmp/ak-bytes-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], bad[300];
    snprintf(path, sizeof path, "%s/a/b/c.json", dir);
    mode_t old = umask(0);
    EXPECT_OK(ak_file_write_0600(path, AK_CUR_LIT("first")));
    umask(old);
    struct stat st;
    EXPECT_INT_EQ(stat(path, &st), 0);
    EXPECT_INT_EQ(st.st_mode & 0777, 0600);
    char parent[256];
    snprintf(parent, sizeof parent, "%s/a/b", dir);
    EXPECT_INT_EQ(stat(parent, &st), 0);
    EXPECT_INT_EQ(st.st_mode & 0777, 0700);
    EXPECT_OK(ak_file_write_0600(path, AK_CUR_LIT("second, longer")));
    ak_buf b;
    ak_buf_init(&b, 1024);
    EXPECT_OK(ak_buf_append_file(&b, path));
    EXPECT_BYTES_EQ(b.ptr, b.len, "second, longer", 14);
    ak_buf_free(&b);
    snprintf(bad, sizeof bad, "%.200s/x", path); /* c.json is a file, not a directory */
    EXPECT_ERR(AK_E_IO, ak_file_write_0600(bad, AK_CUR_LIT("x")));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(find %s -name '*.tmp.*' | wc -l) = 0 && rm -rf %s", dir, dir);
    EXPECT_INT_EQ(system(cmd), 0);
}

/* ak_file_create_0600: the first writer's content stays; a second create is refused and leaves it
 * (and no temp file) behind. */
AK_TEST(test_file_create_0600) {
    char dir[] = "/tmp/ak-bytes-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/d/key.json", dir);
    EXPECT_OK(ak_file_create_0600(path, AK_CUR_LIT("first")));
    EXPECT_ERR(AK_E_PRECONDITION_FAILED, ak_file_create_0600(path, AK_CUR_LIT("second")));
    struct stat st;
    EXPECT_INT_EQ(stat(path, &st), 0);
    EXPECT_INT_EQ(st.st_mode & 0777, 0600);
    EXPECT_INT_EQ(st.st_nlink, 1); /* the temp name is gone */
    ak_buf b;
    ak_buf_init(&b, 1024);
    EXPECT_OK(ak_buf_append_file(&b, path));
    EXPECT_BYTES_EQ(b.ptr, b.len, "first", 5);
    ak_buf_free(&b);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(find %s -name '*.tmp.*' | wc -l) = 0 && rm -rf %s", dir, dir);
    EXPECT_INT_EQ(system(cmd), 0);
}

AK_RUN_TESTS(AK_T(test_file_write_0600), AK_T(test_file_create_0600),
             AK_T(test_cursor_reads_do_not_advance_on_short_input), AK_T(test_u64_is_strict),
             AK_T(test_split_trim_find), AK_T(test_buf_ceiling_is_an_error_not_a_cut),
             AK_T(test_buf_oom_is_reported), AK_T(test_hex), AK_T(test_base64_rfc4648_vectors),
             AK_T(test_base64_rejects_noncanonical), AK_T(test_ct_eq), AK_T(test_error_table),
             AK_T(test_arena_resets_and_caps), AK_T(test_jansson_arena_window), AK_T(test_buf_append_file),
             AK_T(test_grow_array))
