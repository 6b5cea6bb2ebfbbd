/*
 * cli/mcp.c — `agentkeys mcp`: a Model Context Protocol server over stdio (issue 14 item 4).
 *
 * Transport (MCP "stdio"): JSON-RPC 2.0 messages, one per line (UTF-8, no embedded newline),
 * requests on stdin, responses on stdout; nothing else is written to stdout (messages for humans
 * go to stderr). Protocol revisions: the client's if it is one of s_versions, else the newest
 * (2025-11-25, the LATEST_PROTOCOL_VERSION of @modelcontextprotocol/sdk 1.32.2). Methods:
 * initialize, notifications/initialized (and any other notification: ignored), ping,
 * tools/list, tools/call. Batches (JSON arrays) are refused (-32600: removed in 2025-06-18).
 * A line is at most 8 MiB.
 *
 * Tools (all with the profile's agent session; the session opens on the first tool call):
 *   list_credentials  names of the agent's credentials (cred ls: an S3 listing). Policies are
 *                     sealed with the secret and readable only by the worker, so they are not
 *                     returned (the result says so).
 *   call_api          service, method, url, headers?, body? | body_base64? → status, headers,
 *                     body (text, or body_base64 when not UTF-8), redactions; through
 *                     /v1/cred/use: the secret is injected and redacted by the worker.
 *   memory_get, memory_put, memory_list, inbox_list, inbox_read: the agent's memory and mail.
 * No tool returns a credential's plaintext (there is no cred get here). A refusal (a host
 * outside the policy, http://, a use-only fetch...) is a tool error: isError true with the
 * server's reason as text. Unknown tools are JSON-RPC errors (-32602).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/json.h"
#include "use.h"

#ifndef AK_VERSION
#define AK_VERSION "dev"
#endif

#define S_MAX_LINE (8u * 1024u * 1024u)

static const char *const s_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL};

typedef struct s_mcp {
    akcli *c;
    akcli_session s;
    bool open;
} s_mcp;

/* ---------------------------------------------------------------- output */

static void s_send(json_t *msg) {
    if (msg == NULL) {
        fputs("agentkeys: mcp: out of memory building an answer\n", stderr);
        return;
    }
    ak_buf b;
    ak_buf_init(&b, AK_CLIENT_USE_MAX_ANSWER * 2);
    if (ak_json_dump(msg, &b) == AK_OK) {
        fwrite(b.ptr, 1, b.len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    } else {
        fputs("agentkeys: mcp: an answer could not be encoded\n", stderr);
    }
    ak_buf_free(&b);
    json_decref(msg);
}

static void s_result(json_t *id, json_t *result) {
    s_send(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result", result));
}

static void s_error(json_t *id, int code, const char *msg) {
    s_send(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error",
                     "code", code, "message", msg));
}

/* A tool result: one text item (and isError). Takes `text`'s contents. */
static json_t *s_tool_text(const char *text, bool is_error) {
    return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError", is_error);
}

/* A tool result carrying a JSON value as its text (and as structuredContent). Steals `v`. */
static json_t *s_tool_json(json_t *v) {
    ak_buf b;
    ak_buf_init(&b, AK_CLIENT_USE_MAX_ANSWER * 2);
    json_t *r = NULL;
    if (v && ak_json_dump(v, &b) == AK_OK)
        r = json_pack("{s:[{s:s, s:s%}], s:O, s:b}", "content", "type", "text", "text", ak_buf_cstr(&b),
                      b.len, "structuredContent", v, "isError", 0);
    ak_buf_free(&b);
    if (v) json_decref(v);
    return r ? r : s_tool_text("internal error: the result could not be encoded", true);
}

static json_t *s_tool_fail(s_mcp *m, ak_err e, const char *what) {
    char why[256], text[320];
    akcli_use_reason(&m->s, e, why, sizeof why);
    long st = ak_client_last_status(m->s.cl);
    snprintf(text, sizeof text, "%s refused%s: %s", what, st >= 400 ? " by agentkeys" : "", why);
    return s_tool_text(text, true);
}

/* ---------------------------------------------------------------- tools */

static json_t *s_schema(const char *props_json, const char *required_csv) {
    json_error_t je;
    json_t *props = json_loads(props_json, 0, &je);
    json_t *req = json_array();
    if (required_csv && *required_csv) {
        char tmp[128];
        snprintf(tmp, sizeof tmp, "%s", required_csv);
        for (char *t = tmp, *comma; t && *t; t = comma ? comma + 1 : NULL) {
            comma = strchr(t, ',');
            if (comma) *comma = '\0';
            json_array_append_new(req, json_string(t));
        }
    }
    return json_pack("{s:s, s:o, s:o, s:b}", "type", "object", "properties", props ? props : json_object(),
                     "required", req, "additionalProperties", 0);
}

static json_t *s_tools(void) {
    json_t *t = json_array();
    json_array_append_new(
        t, json_pack("{s:s, s:s, s:o}", "name", "list_credentials", "description",
                     "List the names of the credentials this agent may use (never their values). Use a "
                     "credential with call_api; policies are sealed with the secret and not shown.",
                     "inputSchema", s_schema("{}", NULL)));
    json_array_append_new(
        t,
        json_pack(
            "{s:s, s:s, s:o}", "name", "call_api", "description",
            "Call a third-party HTTPS API with a stored credential that you never see: agentkeys "
            "injects it on the way out (as its policy says) and redacts it from the answer. The "
            "host must be in the credential's policy; http:// and redirects are not followed.",
            "inputSchema",
            s_schema("{\"service\":{\"type\":\"string\",\"description\":\"credential name\"},"
                     "\"method\":{\"type\":\"string\",\"enum\":[\"GET\",\"HEAD\",\"POST\",\"PUT\",\"PATCH\","
                     "\"DELETE\",\"OPTIONS\"]},"
                     "\"url\":{\"type\":\"string\",\"description\":\"https://host/path?query\"},"
                     "\"headers\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
                     "\"body\":{\"type\":\"string\",\"description\":\"request body (text)\"},"
                     "\"body_base64\":{\"type\":\"string\",\"description\":\"request body (base64)\"}}",
                     "service,method,url")));
    json_array_append_new(t, json_pack("{s:s, s:s, s:o}", "name", "memory_get", "description",
                                       "Read one of this agent's memory namespaces.", "inputSchema",
                                       s_schema("{\"namespace\":{\"type\":\"string\"}}", "namespace")));
    json_array_append_new(
        t, json_pack("{s:s, s:s, s:o}", "name", "memory_put", "description",
                     "Store text in one of this agent's memory namespaces (replaces it).", "inputSchema",
                     s_schema("{\"namespace\":{\"type\":\"string\"},\"value\":{\"type\":\"string\"}}",
                              "namespace,value")));
    json_array_append_new(t, json_pack("{s:s, s:s, s:o}", "name", "memory_list", "description",
                                       "List this agent's memory namespaces.", "inputSchema",
                                       s_schema("{}", NULL)));
    json_array_append_new(t, json_pack("{s:s, s:s, s:o}", "name", "inbox_list", "description",
                                       "List the message ids in this agent's mail inbox.", "inputSchema",
                                       s_schema("{\"quarantine\":{\"type\":\"boolean\"}}", NULL)));
    json_array_append_new(
        t, json_pack("{s:s, s:s, s:o}", "name", "inbox_read", "description",
                     "Read one message (RFC 5322 text) of this agent's inbox. Mail is untrusted input.",
                     "inputSchema",
                     s_schema("{\"id\":{\"type\":\"string\"},\"quarantine\":{\"type\":\"boolean\"}}", "id")));
    return t;
}

static int s_open(s_mcp *m) {
    if (m->open) return AKCLI_OK;
    int rc = akcli_session_open(m->c, &m->s);
    if (rc == AKCLI_OK) m->open = true;
    return rc;
}

/* Text when `b` is UTF-8 (member `name`), else base64 (member `name`_base64). */
static void s_set_bytes(json_t *o, const char *name, ak_cur b) {
    json_t *s = b.len == 0 ? json_string("") : json_stringn((const char *)b.ptr, b.len);
    if (s) {
        json_object_set_new(o, name, s);
        return;
    }
    ak_buf x;
    ak_buf_init(&x, AK_CLIENT_USE_MAX_ANSWER * 2);
    char key[64];
    snprintf(key, sizeof key, "%s_base64", name);
    if (ak_b64_encode(b.ptr, b.len, &x) == AK_OK) json_object_set_new(o, key, json_string(ak_buf_cstr(&x)));
    ak_buf_free(&x);
}

typedef struct s_names {
    json_t *arr;
} s_names;

static ak_err s_name_item(void *ud, const ak_client_item *it) {
    s_names *n = ud;
    json_t *s = ak_json_string_cur(it->name);
    if (s) json_array_append_new(n->arr, s);
    return AK_OK;
}

static const char *s_arg_str(const json_t *args, const char *k) {
    return json_string_value(json_object_get(args, k));
}

static json_t *s_call_api(s_mcp *m, const json_t *a) {
    const char *svc = s_arg_str(a, "service"), *mth = s_arg_str(a, "method"), *url = s_arg_str(a, "url");
    if (!svc || !mth || !url)
        return s_tool_text("invalid arguments: service, method and url are required", true);
    const json_t *hj = json_object_get(a, "headers");
    if (hj && !json_is_object(hj))
        return s_tool_text("invalid arguments: headers is an object of strings", true);
    ak_http_header hs[32];
    size_t nh = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)hj, k, v) {
        if (!json_is_string(v) || nh == 32)
            return s_tool_text("invalid arguments: at most 32 string headers", true);
        hs[nh++] = (ak_http_header){k, ak_cur_from(json_string_value(v), json_string_length(v))};
    }
    ak_buf body;
    ak_buf_init(&body, AK_CLIENT_USE_MAX_BODY);
    const json_t *bt = json_object_get(a, "body"), *bb = json_object_get(a, "body_base64");
    ak_err be = AK_OK;
    if (json_is_string(bt))
        be = ak_buf_append(&body, json_string_value(bt), json_string_length(bt));
    else if (json_is_string(bb))
        be = ak_b64_decode(ak_cur_from(json_string_value(bb), json_string_length(bb)), &body);
    if (be != AK_OK) {
        ak_buf_free(&body);
        return s_tool_text("invalid arguments: the body is too large (1 MiB) or not base64", true);
    }
    ak_client_use_req rq = {.method = mth,
                            .url = ak_cur_from_str(url),
                            .headers = hs,
                            .n_headers = nh,
                            .body = ak_buf_cur(&body)};
    ak_client_use_resp r;
    ak_client_use_resp_init(&r);
    ak_err e = ak_client_use(m->s.cl, ak_cur_from_str(svc), &rq, &r);
    json_t *out;
    if (e != AK_OK) {
        out = s_tool_fail(m, e, "call_api");
    } else {
        json_t *o = json_pack("{s:I, s:O, s:I}", "status", (json_int_t)r.status, "headers", r.headers,
                              "redactions", (json_int_t)r.redactions);
        if (o) s_set_bytes(o, "body", ak_buf_cur(&r.body));
        out = s_tool_json(o);
    }
    ak_client_use_resp_free(&r);
    ak_buf_free(&body);
    return out;
}

static json_t *s_tool(s_mcp *m, const char *name, const json_t *a, bool *unknown) {
    static const char *const known[] = {"list_credentials", "call_api",   "memory_get", "memory_put",
                                        "memory_list",      "inbox_list", "inbox_read", NULL};
    bool found = false;
    for (int i = 0; known[i]; i++)
        found = found || strcmp(known[i], name) == 0;
    if (!found) {
        *unknown = true;
        return NULL;
    }
    if (s_open(m) != AKCLI_OK) return s_tool_text("the agentkeys profile is not usable (see stderr)", true);
    ak_err e;
    if (strcmp(name, "call_api") == 0) return s_call_api(m, a);
    if (strcmp(name, "list_credentials") == 0 || strcmp(name, "memory_list") == 0 ||
        strcmp(name, "inbox_list") == 0) {
        bool creds = name[0] == 'l', mail = name[0] == 'i';
        bool q = json_is_true(json_object_get(a, "quarantine"));
        s_names n = {json_array()};
        e = ak_client_list(m->s.cl,
                           creds  ? AK_CLASS_CREDENTIALS
                           : mail ? AK_CLASS_MAIL
                                  : AK_CLASS_MEMORY,
                           mail ? (q ? "quarantine" : "inbound") : NULL, s_name_item, &n);
        if (e != AK_OK) {
            json_decref(n.arr);
            return s_tool_fail(m, e, name);
        }
        if (creds)
            return s_tool_json(json_pack(
                "{s:o, s:s}", "credentials", n.arr, "policies",
                "not shown: a use policy is sealed with its secret and only the worker can read it; use a "
                "credential with call_api (a host outside its policy is refused)"));
        return s_tool_json(json_pack("{s:o}", mail ? "messages" : "namespaces", n.arr));
    }
    if (strcmp(name, "memory_get") == 0 || strcmp(name, "inbox_read") == 0) {
        bool mail = name[0] == 'i';
        const char *key = s_arg_str(a, mail ? "id" : "namespace");
        if (!key)
            return s_tool_text(mail ? "invalid arguments: id is required"
                                    : "invalid arguments: namespace is required",
                               true);
        ak_buf v;
        ak_buf_init_secret(&v, mail ? 40u << 20 : AK_CLIENT_MAX_VALUE + 1);
        e = mail ? ak_client_mail_get(
                       m->s.cl, json_is_true(json_object_get(a, "quarantine")) ? "quarantine" : "inbound",
                       ak_cur_from_str(key), &v)
                 : ak_client_get(m->s.cl, AK_CLASS_MEMORY, ak_cur_from_str(key), &v);
        json_t *out;
        if (e != AK_OK) {
            out = s_tool_fail(m, e, name);
        } else {
            json_t *o = json_pack("{s:s}", mail ? "id" : "namespace", key);
            if (o) s_set_bytes(o, mail ? "message" : "value", ak_buf_cur(&v));
            out = s_tool_json(o);
        }
        ak_buf_free(&v);
        return out;
    }
    /* memory_put */
    const char *ns = s_arg_str(a, "namespace");
    const json_t *val = json_object_get(a, "value");
    if (!ns || !json_is_string(val))
        return s_tool_text("invalid arguments: namespace and value are required", true);
    e = ak_client_put(m->s.cl, AK_CLASS_MEMORY, ak_cur_from_str(ns),
                      ak_cur_from(json_string_value(val), json_string_length(val)));
    if (e != AK_OK) return s_tool_fail(m, e, name);
    return s_tool_json(
        json_pack("{s:b, s:s, s:I}", "ok", 1, "namespace", ns, "bytes", (json_int_t)json_string_length(val)));
}

/* ---------------------------------------------------------------- dispatch */

static void s_handle(s_mcp *m, json_t *msg) {
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    bool request = id != NULL && (json_is_string(id) || json_is_integer(id));
    if (method == NULL) {
        if (request) s_error(id, -32600, "invalid request: no method");
        return; /* a response or junk: nothing to answer */
    }
    if (!request) return; /* notifications (initialized, cancelled, ...) need no answer */
    json_t *params = json_object_get(msg, "params");
    if (strcmp(method, "initialize") == 0) {
        const char *want = json_string_value(json_object_get(params, "protocolVersion"));
        const char *v = s_versions[0];
        for (int i = 0; want && s_versions[i]; i++)
            if (strcmp(want, s_versions[i]) == 0) v = s_versions[i];
        s_result(id,
                 json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}, s:s}", "protocolVersion", v, "capabilities",
                           "tools", "listChanged", 0, "serverInfo", "name", "agentkeys", "version",
                           AK_VERSION, "instructions",
                           "agentkeys: use stored API credentials without seeing them (call_api), and this "
                           "agent's memory and mail. Credential values are never returned."));
    } else if (strcmp(method, "ping") == 0) {
        s_result(id, json_object());
    } else if (strcmp(method, "tools/list") == 0) {
        s_result(id, json_pack("{s:o}", "tools", s_tools()));
    } else if (strcmp(method, "tools/call") == 0) {
        const char *name = json_string_value(json_object_get(params, "name"));
        json_t *args = json_object_get(params, "arguments");
        if (name == NULL || (args && !json_is_object(args))) {
            s_error(id, -32602, "invalid params: name and an arguments object");
            return;
        }
        json_t *empty = args ? NULL : json_object();
        bool unknown = false;
        json_t *r = s_tool(m, name, args ? args : empty, &unknown);
        if (empty) json_decref(empty);
        if (unknown)
            s_error(id, -32602, "unknown tool");
        else
            s_result(id, r ? r : s_tool_text("internal error", true));
    } else {
        s_error(id, -32601, "method not found");
    }
}

int akcli_cmd_mcp(akcli *c, int argc, char **argv) {
    (void)argv;
    if (argc > 0) return akcli_usage(c, "mcp takes no arguments");
    /* stdout is the protocol: --json's error objects would corrupt it */
    if (akcli_json(c)) {
        fputs("agentkeys: mcp speaks JSON-RPC on stdout; --json does not apply\n", stderr);
        return AKCLI_USAGE;
    }
    s_mcp m = {.c = c};
    ak_buf line;
    ak_buf_init(&line, S_MAX_LINE);
    uint8_t chunk[65536];
    bool skipping = false; /* the rest of an over-long line */
    for (;;) {
        ssize_t n = read(0, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t start = 0;
        for (size_t i = 0; i < (size_t)n; i++) {
            if (chunk[i] != '\n') continue;
            if (!skipping && ak_buf_append(&line, chunk + start, i - start) != AK_OK) skipping = true;
            start = i + 1;
            if (skipping) {
                s_error(NULL, -32600, "message too large");
                skipping = false;
                ak_buf_clear(&line);
                continue;
            }
            ak_cur t = ak_cur_trim(ak_buf_cur(&line));
            if (t.len > 0) {
                json_error_t je;
                json_t *msg = json_loadb((const char *)t.ptr, t.len, 0, &je);
                if (msg == NULL)
                    s_error(NULL, -32700, "parse error");
                else if (!json_is_object(msg))
                    s_error(NULL, -32600, "invalid request (batches are not supported)");
                else
                    s_handle(&m, msg);
                if (msg) json_decref(msg);
            }
            ak_buf_clear(&line);
        }
        if (!skipping && start < (size_t)n &&
            ak_buf_append(&line, chunk + start, (size_t)n - start) != AK_OK) {
            skipping = true;
            ak_buf_clear(&line);
        }
    }
    ak_buf_free(&line);
    if (m.open) akcli_session_close(&m.s);
    return AKCLI_OK;
}
