/*
 * runtime.c — the Lambda Runtime API loop (akrt/runtime.h; reference/lambda.md B7, STYLE §12).
 *
 * One s_rt owns the Runtime API connection (akrt/http1.h: one kept-alive socket, no libcurl on
 * this path), the buffers and the arena; one akrt_invocation carries what /next announced.
 * Nothing else in the process is long-lived mutable state.
 */
#include "akrt/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ak/json.h"
#include "ak/log.h"
#include "akrt/apigw.h"
#include "akrt/http1.h"

/* B7: "Base URL. http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01" */
#define S_API_VERSION "/2018-06-01"
#define S_MAX_URL 512u

/* The /next response headers we read (B7 table; RIE rendering.go L265–271). */
typedef enum { S_RID, S_DEADLINE, S_ARN, S_TRACE, S_CC, S_COG, S_TENANT, S_NHDR } s_hdr_id;
static const char *const s_hdr_names[S_NHDR] = {
    "Lambda-Runtime-Aws-Request-Id", "Lambda-Runtime-Deadline-Ms",    "Lambda-Runtime-Invoked-Function-Arn",
    "Lambda-Runtime-Trace-Id",       "Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity",
    "Lambda-Runtime-Aws-Tenant-Id",
};
#define S_LEN(s) (sizeof(s) - 1)
static const size_t s_hdr_lens[S_NHDR] = {
    S_LEN("Lambda-Runtime-Aws-Request-Id"),       S_LEN("Lambda-Runtime-Deadline-Ms"),
    S_LEN("Lambda-Runtime-Invoked-Function-Arn"), S_LEN("Lambda-Runtime-Trace-Id"),
    S_LEN("Lambda-Runtime-Client-Context"),       S_LEN("Lambda-Runtime-Cognito-Identity"),
    S_LEN("Lambda-Runtime-Aws-Tenant-Id"),
};
#define S_BIT(id) (1u << (unsigned)(id))
#define S_REQUIRED (S_BIT(S_RID) | S_BIT(S_DEADLINE) | S_BIT(S_ARN))

typedef enum { S_CONTINUE, S_FATAL } s_flow;

typedef struct s_rt {
    const akrt_config *cfg;
    akrt_http1 conn;
    char url[S_MAX_URL]; /* the request path */
    unsigned retry_max;

    /* Per /next answer. */
    akrt_invocation inv;
    unsigned seen, bad; /* S_BIT sets: headers present / present but unacceptable */
    bool reading_next;  /* header callback: only /next headers are parsed */
    akrt_http1_cb cb;
    bool event_too_large;
    ak_buf event; /* the event body; secret: requests carry credentials */
    ak_buf client_context, cognito_identity;

    /* Per invocation output. */
    ak_buf out; /* /response or /error body */
    akrt_http_resp resp;
    ak_arena arena;
} s_rt;

/* ------------------------------------------------------------------ time */

static uint64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t akrt_remaining_ms(const akrt_ctx *ctx) {
    AK_PRECOND(ctx != NULL && ctx->inv != NULL);
    uint64_t now = s_now_ms();
    return ctx->inv->deadline_ms > now ? ctx->inv->deadline_ms - now : 0;
}

const char *akrt_request_id(const akrt_ctx *ctx) {
    AK_PRECOND(ctx != NULL && ctx->inv != NULL);
    return ctx->inv->request_id;
}

/* ------------------------------------------------------------------ /next header checks */

static bool s_chars(ak_cur v, uint8_t lo, uint8_t hi) {
    for (size_t i = 0; i < v.len; i++)
        if (v.ptr[i] < lo || v.ptr[i] > hi) return false;
    return true;
}

/* The request id becomes a URL path segment: keep it to unreserved characters. */
static bool s_request_id_ok(ak_cur v) {
    if (v.len == 0 || v.len >= AK_MAX_REQUEST_ID) return false;
    for (size_t i = 0; i < v.len; i++) {
        uint8_t c = v.ptr[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

/* Copies a checked value into a fixed field (cap includes the NUL). */
static bool s_copy_field(ak_cur v, char *dst, size_t cap) { return ak_cur_to_cstr(v, dst, cap) == AK_OK; }

static bool s_store_header(s_rt *rt, s_hdr_id id, ak_cur v) {
    akrt_invocation *inv = &rt->inv;
    switch (id) {
        case S_RID:
            return s_request_id_ok(v) && s_copy_field(v, inv->request_id, sizeof(inv->request_id));
        case S_DEADLINE: {
            /* Strict decimal epoch ms; a deadline we cannot read is not trusted (issue 2 §5). */
            uint64_t ms = 0;
            if (ak_cur_to_u64(v, &ms) != AK_OK || ms == 0) return false;
            inv->deadline_ms = ms;
            return true;
        }
        case S_ARN:
            return ak_cur_starts_with(v, AK_CUR_LIT("arn:")) && s_chars(v, 0x21, 0x7e) &&
                   s_copy_field(v, inv->function_arn, sizeof(inv->function_arn));
        case S_TRACE:
            return s_chars(v, 0x21, 0x7e) && s_copy_field(v, inv->trace_id, sizeof(inv->trace_id));
        case S_TENANT:
            return s_chars(v, 0x21, 0x7e) && s_copy_field(v, inv->tenant_id, sizeof(inv->tenant_id));
        case S_CC:
            return s_chars(v, 0x20, 0x7e) && ak_buf_append_cur(&rt->client_context, v) == AK_OK;
        case S_COG:
            return s_chars(v, 0x20, 0x7e) && ak_buf_append_cur(&rt->cognito_identity, v) == AK_OK;
        case S_NHDR:
            break;
    }
    return false;
}

static void s_reset_next_state(s_rt *rt) {
    memset(&rt->inv, 0, sizeof(rt->inv));
    rt->seen = rt->bad = 0;
    rt->event_too_large = false;
    ak_buf_clear(&rt->event);
    ak_buf_clear(&rt->client_context);
    ak_buf_clear(&rt->cognito_identity);
}

/* The fields of /next's answer (http1 reports only the final head's, value trimmed of OWS). */
static void s_on_header(void *ud, ak_cur name, ak_cur value) {
    s_rt *rt = ud;
    /* Every field we read starts so; the rest (Date, Content-Type, ...) are skipped in one test. */
    static const ak_cur k_prefix = AK_CUR_LIT("Lambda-Runtime-");
    if (!rt->reading_next || name.len <= k_prefix.len ||
        !ak_cur_eq_nocase(ak_cur_from(name.ptr, k_prefix.len), k_prefix))
        return;
    for (unsigned id = 0; id < S_NHDR; id++) {
        if (name.len != s_hdr_lens[id] ||
            !ak_cur_eq_nocase(name, ak_cur_from(s_hdr_names[id], s_hdr_lens[id])))
            continue;
        if (rt->seen & S_BIT(id)) {
            rt->bad |= S_BIT(id); /* twice: which one would we trust? neither */
        } else {
            rt->seen |= S_BIT(id);
            if (!s_store_header(rt, (s_hdr_id)id, value)) rt->bad |= S_BIT(id);
        }
        break;
    }
}

static bool s_on_body(void *ud, const uint8_t *data, size_t n) {
    s_rt *rt = ud;
    if (!rt->reading_next) return true; /* POST answers: nothing we need */
    if (ak_buf_append(&rt->event, data, n) != AK_OK) {
        rt->event_too_large = true;
        return false; /* ends the exchange; http1 drops the socket */
    }
    return true;
}

/* ------------------------------------------------------------------ transport */

static void s_backoff(s_rt *rt, unsigned attempt) {
    if (rt->cfg->backoff_hook) {
        rt->cfg->backoff_hook(attempt, rt->cfg->hook_user);
        return;
    }
    unsigned ms = AKRT_RETRY_BASE_MS;
    for (unsigned i = 1; i < attempt && ms < AKRT_RETRY_CAP_MS; i++)
        ms *= 2u;
    if (ms > AKRT_RETRY_CAP_MS) ms = AKRT_RETRY_CAP_MS;
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *s_why(ak_err e, int status) {
    if (e == AK_OK) return status ? "unexpected status" : "ok";
    return e == AK_E_UPSTREAM ? "connection failed or closed" : "malformed response";
}

/*
 * Performs one request to rt->url, retrying transport failures with bounded backoff.
 * For /next a non-200 answer is retried too. Returns AK_OK with *status set, or AK_E_UPSTREAM.
 */
static ak_err s_perform(s_rt *rt, const char *what, const char *method, const char *extra, ak_cur body,
                        long *status) {
    for (unsigned attempt = 0;; attempt++) {
        if (rt->reading_next) s_reset_next_state(rt);
        int st = 0;
        ak_err e = akrt_http1_request(&rt->conn, method, rt->url, extra, body, &rt->cb, &st);
        *status = st;
        if (e == AK_OK) {
            if (!rt->reading_next || st == 200) return AK_OK;
        } else if (e == AK_E_TOO_LARGE && rt->event_too_large && st == 200) {
            /* The headers are in; the caller answers /error too_large for this request id. */
            return AK_OK;
        } else if (e != AK_E_UPSTREAM) {
            ak_log_error("runtime api request failed", "call", what, "why", s_why(e, st));
            return AK_E_UPSTREAM;
        }
        if (attempt >= rt->retry_max) {
            ak_log_error("runtime api unreachable, giving up", "call", what, "why", s_why(e, st));
            return AK_E_UPSTREAM;
        }
        ak_log_warn("runtime api transport error, retrying", "call", what, "why", s_why(e, st));
        s_backoff(rt, attempt + 1u);
    }
}

/* rt->url = S_API_VERSION path_a rid path_b (memcpy: printf was a tenth of a warm invoke). */
static ak_err s_set_url(s_rt *rt, const char *path_a, const char *rid, const char *path_b) {
    const char *parts[4] = {S_API_VERSION, path_a, rid, path_b};
    size_t len = 0;
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(parts[i]);
        AK_ENSURE(n < sizeof(rt->url) - len, AK_E_LIMIT);
        memcpy(rt->url + len, parts[i], n);
        len += n;
    }
    rt->url[len] = 0;
    return AK_OK;
}

/* GET /runtime/invocation/next. No timeout: the sandbox is frozen while we wait (B7). */
static ak_err s_next(s_rt *rt) {
    long status = 0;
    AK_GUARD(s_set_url(rt, "/runtime/invocation/next", "", ""));
    rt->reading_next = true;
    ak_err rc = s_perform(rt, "next", "GET", NULL, ak_cur_from(NULL, 0), &status);
    rt->reading_next = false;
    if (rc == AK_OK) {
        rt->inv.client_context = ak_buf_cur(&rt->client_context);
        rt->inv.cognito_identity = ak_buf_cur(&rt->cognito_identity);
        rt->inv.event = ak_buf_cur(&rt->event);
    }
    return rc;
}

#define S_POST_HDRS "Content-Type: application/json\r\n"

/*
 * POSTs `body` to rt->url with an explicit Content-Length (no chunking, no 100-continue round
 * trip, B7). Returns S_FATAL when the Runtime API is gone or answers 5xx ("the runtime should
 * exit").
 */
static s_flow s_post(s_rt *rt, const char *what, const char *error_type, ak_cur body) {
    char hdrs[200];
    const char *extra = S_POST_HDRS;
    if (error_type != NULL) {
        int n = snprintf(hdrs, sizeof(hdrs), S_POST_HDRS "Lambda-Runtime-Function-Error-Type: %s\r\n",
                         error_type);
        if (n <= 0 || (size_t)n >= sizeof(hdrs)) return S_FATAL;
        extra = hdrs;
    }
    long status = 0;
    if (s_perform(rt, what, "POST", extra, body, &status) != AK_OK) return S_FATAL;
    if (status >= 500) {
        char st[24];
        snprintf(st, sizeof(st), "%ld", status);
        ak_log_error("runtime api rejected a post; exiting", "call", what, "status", st);
        return S_FATAL;
    }
    if (status < 200 || status > 299) {
        /* 403 (invalid state transition) or 413: this invocation is lost, the next one is not. */
        char st[24];
        snprintf(st, sizeof(st), "%ld", status);
        ak_log_error("runtime api rejected a post", "call", what, "status", st);
    }
    return S_CONTINUE;
}

/* Builds {"errorMessage":…,"errorType":…,"stackTrace":[]} into rt->out (B7 "Error body"). */
static void s_error_doc(s_rt *rt, ak_err e, const char *detail) {
    ak_buf_clear(&rt->out);
    json_t *doc = json_pack("{s:s, s:s, s:[]}", "errorMessage", detail ? detail : ak_err_message(e),
                            "errorType", ak_err_type(e), "stackTrace");
    ak_err rc = doc ? ak_json_dump(doc, &rt->out) : AK_E_NOMEM;
    json_decref(doc);
    if (rc != AK_OK) {
        /* Out of memory: a fixed document still tells the platform what happened. */
        ak_buf_clear(&rt->out);
        if (ak_buf_append_str(&rt->out, "{\"errorMessage\":\"out of memory\",\"errorType\":"
                                        "\"AgentKeys.out_of_memory\",\"stackTrace\":[]}") != AK_OK)
            rt->out.len = 0;
    }
}

static s_flow s_post_error(s_rt *rt, ak_err e, const char *detail) {
    if (s_set_url(rt, "/runtime/invocation/", rt->inv.request_id, "/error") != AK_OK) return S_FATAL;
    s_error_doc(rt, e, detail);
    return s_post(rt, "error", ak_err_type(e), ak_buf_cur(&rt->out));
}

static s_flow s_post_response(s_rt *rt) {
    if (s_set_url(rt, "/runtime/invocation/", rt->inv.request_id, "/response") != AK_OK) return S_FATAL;
    return s_post(rt, "response", NULL, ak_buf_cur(&rt->out));
}

/* ------------------------------------------------------------------ one invocation */

static s_flow s_invoke_raw(s_rt *rt, akrt_ctx *ctx) {
    ak_err e = rt->cfg->raw(ctx, rt->inv.event, &rt->out, rt->cfg->user);
    if (e == AK_OK && rt->out.len > AK_MAX_LAMBDA_PAYLOAD) e = AK_E_TOO_LARGE; /* B6: 6 MiB */
    if (e != AK_OK) {
        ak_log(ak_err_status(e) >= 500 ? AK_LOG_ERROR : AK_LOG_WARN, "handler error", "reason",
               ak_err_reason(e), (const char *)0);
        return s_post_error(rt, e, NULL);
    }
    char n[24];
    size_t i = sizeof(n) - 1, v = rt->out.len;
    n[i] = 0;
    do { /* decimal by hand: this line is written on every warm invoke */
        n[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v > 0);
    ak_log_info("invoked", "bytes_out", n + i);
    return s_post_response(rt);
}

static s_flow s_invoke_http(s_rt *rt, akrt_ctx *ctx) {
    akrt_http_req req;
    akrt_http_resp *resp = &rt->resp;
    akrt_http_resp_reset(resp);
    ak_err e = akrt_apigw_decode(rt->inv.event, &rt->arena, &req);
    if (e == AK_OK) e = rt->cfg->http(ctx, &req, resp, rt->cfg->user);
    if (e != AK_OK) {
        ak_err e2 = akrt_http_error(resp, e);
        if (e2 != AK_OK) return s_post_error(rt, e2, NULL);
    }
    ak_buf_clear(&rt->out);
    ak_err enc = akrt_apigw_encode(resp, &rt->out);
    if (enc != AK_OK) {
        ak_log_error("response not sendable", "reason", ak_err_reason(enc), "route",
                     (const char *)req.route_key.ptr);
        return s_post_error(
            rt, enc, enc == AK_E_TOO_LARGE ? "the response exceeds the 6 MiB Lambda payload limit" : NULL);
    }
    /* One access line per request: route and outcome, never the body or query (STYLE §9). */
    char st[16];
    snprintf(st, sizeof(st), "%d", resp->status);
    /* "reason" only when the runtime mapped a returned code; a handler that built its own
     * error response (to add headers) is logged by status. */
    ak_log(resp->status >= 500 ? AK_LOG_ERROR : AK_LOG_INFO, "http", "method",
           req.method.ptr ? (const char *)req.method.ptr : "", "route",
           req.route_key.ptr ? (const char *)req.route_key.ptr : "", "status", st,
           e == AK_OK ? (const char *)0 : "reason", ak_err_reason(e), (const char *)0);
    return s_post_response(rt);
}

static s_flow s_invoke(s_rt *rt) {
    if ((rt->seen & S_BIT(S_RID)) == 0 || (rt->bad & S_BIT(S_RID)) != 0) {
        /* No request id we can put in a URL: nothing can be answered. Exiting lets the
         * platform fail this invocation (Runtime.ExitError) instead of waiting for its timeout. */
        ak_log_error("runtime api sent an invocation without a usable request id");
        return S_FATAL;
    }
    ak_log_set_request_id(rt->inv.request_id);
    if (rt->event_too_large) {
        ak_log_warn("event too large");
        return s_post_error(rt, AK_E_TOO_LARGE, "the event exceeds the 6 MiB Lambda payload limit");
    }
    unsigned missing = S_REQUIRED & ~rt->seen;
    unsigned wrong = rt->bad | missing;
    if (wrong != 0) {
        unsigned id = 0;
        while ((wrong & S_BIT(id)) == 0)
            id++;
        char detail[128];
        snprintf(detail, sizeof(detail), "%s is %s", s_hdr_names[id],
                 (missing & S_BIT(id)) ? "missing" : "malformed or repeated");
        ak_log_error("invocation rejected", "header", s_hdr_names[id]);
        return s_post_error(rt, AK_E_INVALID_EVENT, detail);
    }
    /* B7: "Set _X_AMZN_TRACE_ID from the trace header for each invoke." */
    if (rt->inv.trace_id[0])
        setenv("_X_AMZN_TRACE_ID", rt->inv.trace_id, 1);
    else
        unsetenv("_X_AMZN_TRACE_ID");

    akrt_ctx ctx = {&rt->arena, &rt->inv, rt->cfg->name};
    return rt->cfg->http ? s_invoke_http(rt, &ctx) : s_invoke_raw(rt, &ctx);
}

/* Everything an invocation touched is wiped and released before the next /next (STYLE §7). */
static void s_end_invocation(s_rt *rt) {
    akrt_http_resp_reset(&rt->resp);
    ak_arena_reset(&rt->arena);
    ak_buf_clear(&rt->out);
    s_reset_next_state(rt);
    ak_log_set_request_id(NULL);
}

/* ------------------------------------------------------------------ setup */

static void s_rt_free(s_rt *rt) {
    akrt_http1_free(&rt->conn);
    akrt_http_resp_free(&rt->resp);
    ak_arena_free(&rt->arena);
    ak_buf_free(&rt->out);
    ak_buf_free(&rt->event);
    ak_buf_free(&rt->client_context);
    ak_buf_free(&rt->cognito_identity);
    ak_log_set_request_id(NULL);
}

int akrt_run(const akrt_config *cfg) {
    AK_PRECOND(cfg != NULL && cfg->name != NULL);
    AK_PRECOND((cfg->http != NULL) != (cfg->raw != NULL));
    s_rt rt;
    memset(&rt, 0, sizeof(rt));
    rt.cfg = cfg;
    rt.retry_max = cfg->retry_max ? cfg->retry_max : AKRT_RETRY_MAX;
    ak_buf_init_secret(&rt.event, AKRT_MAX_EVENT);
    ak_buf_init(&rt.client_context, AK_MAX_CLIENT_CONTEXT);
    ak_buf_init(&rt.cognito_identity, AK_MAX_CLIENT_CONTEXT);
    /* Raw handlers get one byte of slack so "over 6 MiB" is detectable and answered too_large;
     * the HTTP encoder stops at the limit itself. */
    ak_buf_init_secret(&rt.out, cfg->raw ? AK_MAX_LAMBDA_PAYLOAD + 1u : AK_MAX_LAMBDA_PAYLOAD);
    ak_arena_init(&rt.arena, AK_MAX_ARENA);
    akrt_http_resp_init(&rt.resp, &rt.arena);
    ak_log_set_function(cfg->name);
    ak_log_set_request_id(NULL);
    ak_alloc_install_jansson();

    int exit_code = 1;
    rt.conn.fd = -1;
    rt.cb = (akrt_http1_cb){.on_header = s_on_header, .on_body = s_on_body, .ud = &rt};
    const char *api = cfg->runtime_api ? cfg->runtime_api : getenv("AWS_LAMBDA_RUNTIME_API");
    if (api == NULL || akrt_http1_init(&rt.conn, api, AKRT_CONNECT_TIMEOUT_MS) != AK_OK) {
        ak_log_error("AWS_LAMBDA_RUNTIME_API is missing or malformed");
        goto out;
    }

    if (cfg->init != NULL) {
        ak_err e = cfg->init(cfg->user);
        if (e != AK_OK) {
            /* B7: "POST /runtime/init/error — Report an init failure, then exit". */
            ak_log_error("init failed", "reason", ak_err_reason(e));
            if (s_set_url(&rt, "/runtime/init/error", "", "") == AK_OK) {
                s_error_doc(&rt, e, NULL);
                (void)s_post(&rt, "init/error", ak_err_type(e), ak_buf_cur(&rt.out));
            }
            goto out;
        }
    }

    for (uint64_t done = 0; cfg->max_invocations == 0 || done < cfg->max_invocations; done++) {
        if (s_next(&rt) != AK_OK) goto out;
        s_flow flow = s_invoke(&rt);
        s_end_invocation(&rt);
        if (flow == S_FATAL) goto out;
    }
    exit_code = 0;
out:
    s_rt_free(&rt);
    return exit_code;
}

int akrt_run_http(const char *name, akrt_http_handler handler, akrt_init_fn init, void *user) {
    akrt_config cfg = {.name = name, .http = handler, .init = init, .user = user};
    return akrt_run(&cfg);
}

int akrt_run_raw(const char *name, akrt_raw_handler handler, akrt_init_fn init, void *user) {
    akrt_config cfg = {.name = name, .raw = handler, .init = init, .user = user};
    return akrt_run(&cfg);
}
