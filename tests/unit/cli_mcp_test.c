/*
 * cli_mcp_test — the JSON-RPC side of `agentkeys mcp` (cli/mcp.c, compiled into this test): the
 * whole stdio loop run on pipes, without any API. initialize (version negotiation: a supported
 * revision echoed, an unknown one answered with the newest), notifications answered by
 * nothing, ping, tools/list (seven tools, no value-returning credential tool), and the refusals:
 * parse errors, batches, unknown methods, unknown tools, bad params, a message without a
 * method, an over-long line (the next line is still served), and a tool call whose profile
 * cannot open (a tool error, never a crash). The akcli_* helpers mcp.c calls are stubbed.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "../../cli/mcp.c"
#include "test.h"

int akcli_usage(akcli *c, const char *fmt, ...) {
    (void)c;
    (void)fmt;
    return AKCLI_USAGE;
}
int akcli_session_open(akcli *c, akcli_session *s) {
    (void)c;
    (void)s;
    return AKCLI_USAGE; /* as with a profile without api_url */
}
void akcli_session_close(akcli_session *s) { (void)s; }
bool akcli_json(const akcli *c) { return c->json; }
void akcli_use_reason(akcli_session *s, ak_err e, char *out, size_t cap) {
    (void)s;
    snprintf(out, cap, "%s", ak_err_reason(e));
}

typedef struct {
    int fd;
    const char *data;
    size_t len;
} s_writer;

static void *s_write_all(void *arg) {
    s_writer *w = arg;
    size_t off = 0;
    while (off < w->len) {
        ssize_t n = write(w->fd, w->data + off, w->len - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    close(w->fd);
    return NULL;
}

/* Runs akcli_cmd_mcp with `in` on stdin; returns its stdout (ak_buf, caller frees). */
static void s_run(const char *in, size_t len, ak_buf *out) {
    int pin[2], pout[2];
    assert_int_equal(pipe(pin), 0);
    assert_int_equal(pipe(pout), 0);
    int save_in = dup(0), save_out = dup(1);
    fflush(stdout);
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    close(pin[0]);
    close(pout[1]);
    s_writer w = {pin[1], in, len};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_write_all, &w), 0);
    /* the answers are small: read them after the loop from the pipe (64 KiB buffer) */
    akcli c;
    memset(&c, 0, sizeof c);
    EXPECT_INT_EQ(akcli_cmd_mcp(&c, 0, NULL), AKCLI_OK);
    pthread_join(th, NULL);
    fflush(stdout);
    dup2(save_in, 0);
    dup2(save_out, 1);
    close(save_in);
    close(save_out);
    char buf[4096];
    ssize_t n;
    while ((n = read(pout[0], buf, sizeof buf)) > 0)
        EXPECT_OK(ak_buf_append(out, buf, (size_t)n));
    close(pout[0]);
}

/* The answer line with "id":<id> (as JSON text), parsed. */
static json_t *s_answer(const ak_buf *out, const char *id) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"id\":%s,", id);
    const char *p = strstr(ak_buf_cstr(out), pat);
    if (p == NULL) return NULL;
    while (p > (const char *)out->ptr && p[-1] != '\n')
        p--;
    const char *e = strchr(p, '\n');
    json_error_t je;
    return json_loadb(p, e ? (size_t)(e - p) : strlen(p), 0, &je);
}

static size_t s_lines(const ak_buf *out) {
    size_t n = 0;
    for (size_t i = 0; i < out->len; i++)
        n += out->ptr[i] == '\n';
    return n;
}

AK_TEST(test_protocol) {
    static const char in[] =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-"
        "18\","
        "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\r\n"
        "\n"
        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"1999-01-"
        "01\"}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/list\"}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"get_credential\","
        "\"arguments\":{\"service\":\"openai\"}}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"arguments\":{}}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/"
        "call\",\"params\":{\"name\":\"call_api\",\"arguments\":[1]}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/"
        "call\",\"params\":{\"name\":\"call_api\",\"arguments\":"
        "{\"service\":\"openai\",\"method\":\"GET\",\"url\":\"https://evil.example/\"}}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":10}\n"
        "not json\n"
        "[{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\"}]\n"
        "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\"}"; /* no final newline: never served */
    ak_buf out;
    ak_buf_init(&out, 1u << 20);
    s_run(in, sizeof in - 1, &out);
    json_t *a = s_answer(&out, "1");
    assert_non_null(a);
    EXPECT_STR_EQ(json_string_value(json_object_get(json_object_get(a, "result"), "protocolVersion")),
                  "2025-06-18");
    EXPECT_TRUE(json_is_object(
        json_object_get(json_object_get(json_object_get(a, "result"), "capabilities"), "tools")));
    json_decref(a);
    a = s_answer(&out, "2");
    assert_non_null(a);
    EXPECT_TRUE(json_is_object(json_object_get(a, "result")));
    json_decref(a);
    a = s_answer(&out, "3");
    assert_non_null(a);
    json_t *tools = json_object_get(json_object_get(a, "result"), "tools");
    EXPECT_INT_EQ(json_array_size(tools), 7);
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const char *n = json_string_value(json_object_get(t, "name"));
        EXPECT_TRUE(n && strstr(n, "secret") == NULL && strcmp(n, "cred_get") != 0);
        EXPECT_STR_EQ(json_string_value(json_object_get(json_object_get(t, "inputSchema"), "type")),
                      "object");
    }
    json_decref(a);
    a = s_answer(&out, "4"); /* unknown revision: the newest */
    EXPECT_STR_EQ(json_string_value(json_object_get(json_object_get(a, "result"), "protocolVersion")),
                  "2025-11-25");
    json_decref(a);
    static const struct {
        const char *id;
        int code;
    } errs[] = {{"5", -32601}, {"6", -32602}, {"7", -32602}, {"8", -32602}, {"10", -32600}};
    for (size_t k = 0; k < sizeof errs / sizeof errs[0]; k++) {
        a = s_answer(&out, errs[k].id);
        if (a == NULL) fail_msg("no answer to id %s", errs[k].id);
        EXPECT_INT_EQ(json_integer_value(json_object_get(json_object_get(a, "error"), "code")), errs[k].code);
        json_decref(a);
    }
    /* a tool call whose profile cannot open: a tool error */
    a = s_answer(&out, "9");
    assert_non_null(a);
    EXPECT_TRUE(json_is_true(json_object_get(json_object_get(a, "result"), "isError")));
    json_decref(a);
    /* parse error and batch: answered with id null; the notification, the blank line and the
     * unterminated last line: nothing. 1,2,3,4,5,6,7,8,9,10 + 2 = 12 lines */
    EXPECT_TRUE(strstr(ak_buf_cstr(&out), "\"id\":null,\"error\":{\"code\":-32700") != NULL);
    EXPECT_TRUE(strstr(ak_buf_cstr(&out), "\"id\":null,\"error\":{\"code\":-32600") != NULL);
    EXPECT_INT_EQ(s_lines(&out), 12);
    EXPECT_TRUE(s_answer(&out, "12") == NULL);
    ak_buf_free(&out);
}

AK_TEST(test_line_too_long_then_served) {
    size_t big = S_MAX_LINE + 1000;
    static const char tail[] = "\n{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}\n";
    char *in = ak_malloc(big + sizeof tail);
    assert_non_null(in);
    memset(in, 'x', big);
    memcpy(in + big, tail, sizeof tail);
    ak_buf out;
    ak_buf_init(&out, 1u << 20);
    s_run(in, big + sizeof tail - 1, &out);
    EXPECT_TRUE(strstr(ak_buf_cstr(&out), "message too large") != NULL);
    json_t *a = s_answer(&out, "7");
    assert_non_null(a);
    EXPECT_TRUE(json_is_object(json_object_get(a, "result")));
    json_decref(a);
    EXPECT_INT_EQ(s_lines(&out), 2);
    ak_buf_free(&out);
    ak_free(in);
}

AK_TEST(test_json_flag_refused) {
    akcli c;
    memset(&c, 0, sizeof c);
    c.json = true; /* stdout is the protocol */
    EXPECT_INT_EQ(akcli_cmd_mcp(&c, 0, NULL), AKCLI_USAGE);
    char *argv[] = {"x"};
    c.json = false;
    EXPECT_INT_EQ(akcli_cmd_mcp(&c, 1, argv), AKCLI_USAGE);
}

AK_RUN_TESTS(AK_T(test_protocol), AK_T(test_line_too_long_then_served), AK_T(test_json_flag_refused))
