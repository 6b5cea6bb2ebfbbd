/*
 * cli_mask_test — the output masker of `agentkeys run` (cli/mask.c, compiled into this test):
 * whole values, values split at every possible chunk boundary, overlapping and nested values,
 * a prefix of a value that never completes (emitted at the end), empty input and values.
 */
#include <string.h>

#include "../../cli/mask.c"
#include "test.h"

/* Feeds `in` in chunks of `step` bytes and returns the masked output in `out`. */
static void s_mask(ak_cur *vals, size_t n, const char *in, size_t step, ak_buf *out) {
    akcli_masker m;
    akcli_masker_init(&m, vals, n);
    size_t len = strlen(in);
    for (size_t off = 0; off < len; off += step) {
        size_t k = len - off < step ? len - off : step;
        EXPECT_OK(akcli_masker_feed(&m, ak_cur_from(in + off, k), false, out));
    }
    EXPECT_OK(akcli_masker_feed(&m, ak_cur_from(NULL, 0), true, out));
    akcli_masker_free(&m);
}

static void s_expect(ak_cur *vals, size_t n, const char *in, const char *want) {
    for (size_t step = 1; step <= strlen(in) + 1; step++) {
        ak_buf out;
        ak_buf_init(&out, 1u << 16);
        s_mask(vals, n, in, step, &out);
        if (strcmp(ak_buf_cstr(&out), want) != 0)
            fail_msg("step %zu: '%s' -> '%s', want '%s'", step, in, ak_buf_cstr(&out), want);
        ak_buf_free(&out);
    }
}

AK_TEST(test_whole_and_split) {
    ak_cur v[] = {AK_CUR_LIT("sk-or-123")};
    s_expect(v, 1, "key=sk-or-123\n", "key=****\n");
    s_expect(v, 1, "sk-or-123sk-or-123", "********");
    s_expect(v, 1, "a sk-or-12 b", "a sk-or-12 b"); /* a prefix only: emitted as is */
    s_expect(v, 1, "sk-or-12", "sk-or-12");         /* ... also at the very end */
    s_expect(v, 1, "", "");
}

AK_TEST(test_several_values) {
    ak_cur v[] = {AK_CUR_LIT("abc"), AK_CUR_LIT("abcdef"), AK_CUR_LIT("xyz")};
    /* the longer value wins where both match; the shorter one elsewhere */
    s_expect(v, 3, "1abcdef2abc3xyz", "1****2****3****");
    s_expect(v, 3, "abcde", "****de");
    ak_cur w[] = {AK_CUR_LIT("aab")};
    s_expect(w, 1, "aaab", "a****"); /* a false start followed by the value */
}

AK_TEST(test_empty_value_ignored) {
    ak_cur v[] = {AK_CUR_LIT(""), AK_CUR_LIT("s3cr3t")};
    s_expect(v, 2, "x s3cr3t y", "x **** y");
}

AK_RUN_TESTS(AK_T(test_whole_and_split), AK_T(test_several_values), AK_T(test_empty_value_ignored))
