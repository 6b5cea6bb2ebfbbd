/* log_test.c — every log line is one valid JSON object, whatever the input. */
#include "test.h"

#include <jansson.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ak/limits.h"
#include "ak/log.h"

/* Runs fn with stdout redirected into a pipe; returns what was written. */
static void s_capture(void (*fn)(const char *), const char *arg, char *out, size_t cap) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fds[1], 1);
    fn(arg);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], out, cap - 1);
    close(fds[0]);
    assert_true(n > 0);
    out[n] = 0;
}

static void s_log_value(const char *v) { ak_log_info("event", "key", v); }

static json_t *s_parse_line(const char *line) {
    json_error_t e;
    json_t *j = json_loads(line, 0, &e);
    if (j == NULL) fail_msg("not JSON (%s): %.200s", e.text, line);
    return j;
}

AK_TEST(test_line_is_json_with_fields) {
    static char out[AK_MAX_LOG_LINE + 256];
    ak_log_set_function("unit");
    ak_log_set_request_id("rid-1");
    s_capture(s_log_value, "va\"lue\n\x01", out, sizeof(out));
    json_t *j = s_parse_line(out);
    EXPECT_STR_EQ(json_string_value(json_object_get(j, "fn")), "unit");
    EXPECT_STR_EQ(json_string_value(json_object_get(j, "rid")), "rid-1");
    EXPECT_STR_EQ(json_string_value(json_object_get(j, "key")), "va\"lue\n\x01");
    json_decref(j);
    ak_log_set_request_id(NULL);
}

/* "ts" is RFC 3339 UTC with milliseconds, and it is now: the same second as time() read around
 * the call, or the next one. */
AK_TEST(test_timestamp_is_rfc3339_utc_now) {
    static char out[AK_MAX_LOG_LINE + 256];
    time_t before = time(NULL);
    s_capture(s_log_value, "x", out, sizeof(out));
    time_t after = time(NULL);
    json_t *j = s_parse_line(out);
    const char *ts = json_string_value(json_object_get(j, "ts"));
    assert_non_null(ts);
    EXPECT_INT_EQ(strlen(ts), strlen("2026-12-02T01:00:51.236Z"));
    for (size_t i = 0; i < strlen(ts); i++) {
        char want = "dddd-dd-ddTdd:dd:dd.dddZ"[i];
        if (want == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != want) fail_msg("bad ts %s at %zu", ts, i);
    }
    bool match = false;
    for (time_t t = before; t <= after && !match; t++) {
        struct tm tm;
        char want[32];
        gmtime_r(&t, &tm);
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        match = strncmp(ts, want, strlen(want)) == 0;
    }
    if (!match) fail_msg("ts %s is not now", ts);
    json_decref(j);
}

AK_TEST(test_overlong_line_stays_valid_json) {
    static char out[AK_MAX_LOG_LINE + 256];
    static char big[3 * AK_MAX_LOG_LINE];
    /* Quotes become two bytes each: the cut lands inside escapes at every alignment. */
    for (size_t shift = 0; shift < 7; shift++) {
        memset(big, '"', sizeof(big) - 1);
        big[AK_MAX_LOG_LINE - 100 + shift] = 0;
        s_capture(s_log_value, big, out, sizeof(out));
        json_t *j = s_parse_line(out);
        EXPECT_TRUE(json_is_true(json_object_get(j, "truncated")));
        EXPECT_TRUE(json_object_get(j, "key") == NULL);
        json_decref(j);
    }
}

AK_TEST(test_level_filter) {
    static char out[512];
    ak_log_set_min_level(AK_LOG_WARN);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fds[1], 1);
    ak_log_info("hidden");
    ak_log_warn("shown");
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], out, sizeof(out) - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = 0;
    EXPECT_TRUE(strstr(out, "hidden") == NULL);
    EXPECT_TRUE(strstr(out, "shown") != NULL);
    ak_log_set_min_level(AK_LOG_INFO);
}

AK_RUN_TESTS(AK_T(test_timestamp_is_rfc3339_utc_now), AK_T(test_line_is_json_with_fields),
             AK_T(test_overlong_line_stays_valid_json), AK_T(test_level_filter))
