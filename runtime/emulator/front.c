/*
 * front.c — what callers see on --port:
 *   POST /2015-03-31/functions/{FunctionName}/invocations   the Lambda Invoke API
 *   /__emulator/{health,stats,functions/{name}/stop}         admin for scripts and benchmarks
 *   anything else                                            the HTTP API (API Gateway v2) front
 *
 * The HTTP front builds payload format 2.0 events (the shape of
 * ../shared/vectors/aws-lambda-go-events/apigw-v2-request-no-authorizer.json) from the HttpApi
 * routes of template.yaml and maps the function's answer back as API Gateway does: an object
 * with "statusCode" is a structured response; anything else is a 200 application/json body.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>

#include "ak/alloc.h"
#include "ak/json.h"
#include "ak/limits.h"
#include "emu.h"

static const char s_not_found[] = "{\"message\":\"Not Found\"}";

/* ---------------------------------------------------------------- Invoke API */

static void s_aws_error(akemu_conn *c, int status, const char *type, const char *msg) {
    json_t *o = json_pack("{s:s,s:s,s:s}", "Type", status >= 500 ? "Service" : "User", "message", msg,
                          "__type", type);
    ak_buf b, h;
    ak_buf_init(&b, 8192);
    ak_buf_init(&h, 512);
    if (o == NULL || ak_json_dump(o, &b) != AK_OK ||
        ak_buf_printf(&h, "X-Amzn-ErrorType: %s\r\n", type) != AK_OK) {
        c->close_after = true;
        akemu_conn_respond_json(c, 500, NULL, "{\"message\":\"internal error\"}");
    } else {
        akemu_conn_respond(c, status, "application/json", ak_buf_cstr(&h), ak_buf_cur(&b));
    }
    json_decref(o);
    ak_buf_free(&b);
    ak_buf_free(&h);
}

/* "Name", "Name:qualifier", "arn:aws:lambda:r:acct:function:Name[:qualifier]" -> Name. */
static ak_cur s_function_name(ak_cur n) {
    if (ak_cur_starts_with(n, AK_CUR_LIT("arn:"))) {
        for (int i = 0; i < 6; i++) {
            ak_cur head;
            if (!ak_cur_split(&n, ':', &head)) return (ak_cur){0};
        }
    }
    long colon = ak_cur_find(n, ':');
    if (colon >= 0) n.len = (size_t)colon;
    return n;
}

static void s_invoke_api(akemu_conn *c) {
    akemu_req *r = &c->req;
    static const char pre[] = "/2015-03-31/functions/";
    ak_cur rest = ak_cur_from(r->path.ptr + sizeof(pre) - 1, r->path.len - (sizeof(pre) - 1));
    ak_cur raw_name;
    if (!ak_cur_split(&rest, '/', &raw_name) || !ak_cur_eq_str(rest, "invocations")) {
        s_aws_error(c, 404, "UnknownOperationException", "unknown operation");
        return;
    }
    if (!ak_cur_eq_str(r->method, "POST")) {
        s_aws_error(c, 405, "UnknownOperationException", "Invoke is POST");
        return;
    }
    if (r->too_large) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Request must be smaller than %u bytes for the InvokeFunction operation",
                 AK_MAX_LAMBDA_PAYLOAD);
        s_aws_error(c, 413, "RequestEntityTooLargeException", msg);
        return;
    }
    ak_buf name_buf;
    ak_buf_init(&name_buf, 1024);
    char msg[1200];
    if (akemu_url_decode(raw_name, false, &name_buf) != AK_OK) {
        ak_buf_free(&name_buf);
        s_aws_error(c, 400, "InvalidParameterValueException", "function name too long");
        return;
    }
    akemu_fn *fn = akemu_fn_find(s_function_name(ak_buf_cur(&name_buf)));
    if (fn == NULL) {
        snprintf(msg, sizeof(msg), "Function not found: arn:aws:lambda:%s:123456789012:function:%.900s",
                 g_akemu.region, ak_buf_cstr(&name_buf));
        ak_buf_free(&name_buf);
        s_aws_error(c, 404, "ResourceNotFoundException", msg);
        return;
    }
    ak_buf_free(&name_buf);

    bool found;
    ak_cur itype = akemu_req_header(r, "x-amz-invocation-type", &found);
    bool async = false;
    if (found && ak_cur_eq_str(itype, "DryRun")) {
        akemu_conn_respond(c, 204, NULL, NULL, (ak_cur){0});
        return;
    } else if (found && ak_cur_eq_str(itype, "Event")) {
        async = true;
    } else if (found && !ak_cur_eq_str(itype, "RequestResponse")) {
        s_aws_error(c, 400, "InvalidParameterValueException",
                    "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun");
        return;
    }
    /* An absent payload is the empty object, as the console and CLI send it. Lambda rejects a
     * payload that is not JSON with InvalidRequestContentException. */
    ak_cur payload = r->body.len ? r->body : AK_CUR_LIT("{}");
    json_error_t jerr;
    json_t *probe = json_loadb((const char *)payload.ptr, payload.len, JSON_DECODE_ANY, &jerr);
    if (probe == NULL) {
        s_aws_error(c, 400, "InvalidRequestContentException", "Could not parse request body into json");
        return;
    }
    json_decref(probe);
    char ctx[AK_MAX_CLIENT_CONTEXT];
    ak_cur cc = akemu_req_header(r, "x-amz-client-context", &found);
    if (found && ak_cur_to_cstr(cc, ctx, sizeof(ctx)) != AK_OK) {
        s_aws_error(c, 400, "InvalidParameterValueException", "Client context too large");
        return;
    }
    if (fn->max_insts == 0) {
        /* ReservedConcurrentExecutions: 0 throttles every invocation (Event ones too here). */
        s_aws_error(c, 429, "TooManyRequestsException", "Rate Exceeded.");
        return;
    }
    ak_cur lt = akemu_req_header(r, "x-amz-log-type", NULL);
    c->want_tail = !async && ak_cur_eq_str(lt, "Tail");
    c->front_kind = AKEMU_ORIGIN_INVOKE;
    c->deferred = !async;
    akemu_inv *inv = NULL;
    if (akemu_invoke(fn, payload, async ? AKEMU_ORIGIN_ASYNC : AKEMU_ORIGIN_INVOKE, async ? NULL : c,
                     found ? ctx : NULL, &inv) != AK_OK) {
        c->deferred = false;
        c->inv = NULL;
        s_aws_error(c, 500, "ServiceException", "out of memory");
        return;
    }
    if (async) {
        char h[128];
        snprintf(h, sizeof(h), "X-Amzn-RequestId: %s\r\n", inv->id);
        akemu_conn_respond(c, 202, NULL, h, (ak_cur){0});
    }
}

static void s_complete_invoke(akemu_conn *c, akemu_inv *inv, akemu_rkind kind, ak_cur payload) {
    ak_buf h;
    ak_buf_init(&h, 16384);
    ak_err rc = ak_buf_printf(&h, "X-Amz-Executed-Version: $LATEST\r\nX-Amzn-RequestId: %s\r\n", inv->id);
    if (rc == AK_OK && kind == AKEMU_R_ERROR)
        rc = ak_buf_append_str(&h, "X-Amz-Function-Error: Unhandled\r\n");
    if (rc == AK_OK && inv->want_tail) {
        rc = ak_buf_append_str(&h, "X-Amz-Log-Result: ");
        if (rc == AK_OK) rc = ak_b64_encode(inv->log_tail.ptr, inv->log_tail.len, &h);
        if (rc == AK_OK) rc = ak_buf_append_str(&h, "\r\n");
    }
    if (rc != AK_OK) {
        c->close_after = true;
        akemu_conn_respond_json(c, 500, NULL, "{\"message\":\"internal error\"}");
    } else {
        akemu_conn_respond(c, 200, "application/json", ak_buf_cstr(&h), payload);
    }
    ak_buf_free(&h);
}

/* ---------------------------------------------------------------- HTTP API: routing */

typedef struct {
    const akemu_route *route;
    json_t *params; /* pathParameters or NULL */
} s_match;

/* Matches `path` against a route pattern. Score: literal segments outrank {param}, which
 * outrank {proxy+}; higher wins (API Gateway picks the most specific route). */
static bool s_route_match(const char *pattern, ak_cur path, json_t **params, long *score) {
    ak_cur pat = ak_cur_from_str(pattern);
    ak_cur p = path;
    *score = 0;
    *params = NULL;
    if (pat.len == 0 || pat.ptr[0] != '/' || p.len == 0 || p.ptr[0] != '/') return false;
    pat = ak_cur_from(pat.ptr + 1, pat.len - 1);
    p = ak_cur_from(p.ptr + 1, p.len - 1);
    for (;;) {
        ak_cur ps, xs;
        bool pat_more = ak_cur_split(&pat, '/', &ps);
        if (!pat_more) {
            ps = pat;
            pat.len = 0;
        }
        if (ps.len >= 3 && ps.ptr[0] == '{' && ps.ptr[ps.len - 1] == '}' && ps.ptr[ps.len - 2] == '+' &&
            !pat_more) {
            /* Greedy {proxy+}: the rest of the path, at least one character. */
            if (p.len == 0) goto no;
            if (*params == NULL) *params = json_object();
            ak_buf v;
            ak_buf_init(&v, AK_MAX_LAMBDA_PAYLOAD);
            char key[256];
            bool ok = ak_cur_to_cstr(ak_cur_from(ps.ptr + 1, ps.len - 3), key, sizeof(key)) == AK_OK &&
                      akemu_url_decode(p, false, &v) == AK_OK;
            json_t *js = ok ? json_stringn(ak_buf_cstr(&v), v.len) : NULL;
            ak_buf_free(&v);
            if (*params == NULL || js == NULL || json_object_set_new(*params, key, js) != 0) goto no;
            *score = *score * 4 + 1;
            return true;
        }
        bool path_more = ak_cur_split(&p, '/', &xs);
        if (!path_more) {
            xs = p;
            p.len = 0;
        }
        if (ps.len >= 2 && ps.ptr[0] == '{' && ps.ptr[ps.len - 1] == '}') {
            if (xs.len == 0) goto no;
            if (*params == NULL) *params = json_object();
            ak_buf v;
            ak_buf_init(&v, AK_MAX_LAMBDA_PAYLOAD);
            char key[256];
            bool ok = ak_cur_to_cstr(ak_cur_from(ps.ptr + 1, ps.len - 2), key, sizeof(key)) == AK_OK &&
                      akemu_url_decode(xs, false, &v) == AK_OK;
            json_t *js = ok ? json_stringn(ak_buf_cstr(&v), v.len) : NULL;
            ak_buf_free(&v);
            if (*params == NULL || js == NULL || json_object_set_new(*params, key, js) != 0) goto no;
            *score = *score * 4 + 2;
        } else {
            if (!ak_cur_eq(ps, xs)) goto no;
            *score = *score * 4 + 3;
        }
        if (pat_more != path_more) goto no;
        if (!pat_more) return true;
    }
no:
    json_decref(*params);
    *params = NULL;
    return false;
}

/* json_stringn from a view; an empty view (possibly {NULL,0}) is "". */
static json_t *s_jstr(ak_cur c) { return json_stringn(c.len ? (const char *)c.ptr : "", c.len); }

static s_match s_route_find(ak_cur method, ak_cur path, bool *path_known) {
    s_match best = {0};
    long best_score = -1;
    const akemu_route *dflt = NULL;
    *path_known = false;
    for (size_t i = 0; i < g_akemu.n_routes; i++) {
        const akemu_route *rt = &g_akemu.routes[i];
        if (rt->path == NULL) {
            dflt = rt;
            continue;
        }
        json_t *params;
        long score;
        if (!s_route_match(rt->path, path, &params, &score)) continue;
        *path_known = true;
        bool any = strcmp(rt->method, "ANY") == 0;
        if (!any && !ak_cur_eq_str(method, rt->method)) {
            json_decref(params);
            continue;
        }
        score = score * 2 + (any ? 0 : 1); /* an exact method beats ANY on the same path */
        if (score > best_score) {
            json_decref(best.params);
            best = (s_match){rt, params};
            best_score = score;
        } else {
            json_decref(params);
        }
    }
    if (best.route == NULL && dflt != NULL) best.route = dflt;
    return best;
}

/* ---------------------------------------------------------------- HTTP API: request -> event */

static bool s_is_text_type(ak_cur ct) {
    static const char *const text[] = {"text/", "json",    "xml", "javascript", "x-www-form-urlencoded",
                                       "yaml",  "graphql", "csv", NULL};
    char low[256];
    size_t n = ct.len < sizeof(low) - 1 ? ct.len : sizeof(low) - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower(ct.ptr[i]);
    low[n] = '\0';
    for (const char *const *t = text; *t != NULL; t++)
        if (strstr(low, *t) != NULL) return true;
    return false;
}

static bool s_utf8_ok(ak_cur s) {
    size_t i = 0;
    while (i < s.len) {
        uint8_t c = s.ptr[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || c == 0 || i + n > s.len) return false;
        for (size_t k = 1; k < n; k++)
            if ((s.ptr[i + k] & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

/* Joins repeated keys with ',' (API Gateway v2 does this for headers and query parameters). */
static int s_obj_join(json_t *obj, const char *key, const char *val, size_t vlen) {
    json_t *old = json_object_get(obj, key);
    if (old == NULL) return json_object_set_new(obj, key, json_stringn(val, vlen));
    ak_buf b;
    ak_buf_init(&b, AK_MAX_LAMBDA_PAYLOAD);
    int rc = (ak_buf_append(&b, json_string_value(old), json_string_length(old)) == AK_OK &&
              ak_buf_append_byte(&b, ',') == AK_OK && ak_buf_append(&b, val, vlen) == AK_OK)
                 ? json_object_set_new(obj, key, json_stringn(ak_buf_cstr(&b), b.len))
                 : -1;
    ak_buf_free(&b);
    return rc;
}

static ak_err s_build_event(akemu_conn *c, const s_match *m, ak_buf *out) {
    akemu_req *r = &c->req;
    ak_err rc = AK_OK;
    json_t *ev = json_object(), *headers = json_object(), *cookies = json_array(), *qs = json_object();
    json_t *ctx = NULL;
    ak_buf tmp, tmp2;
    ak_buf_init(&tmp, AK_MAX_LAMBDA_PAYLOAD);
    ak_buf_init(&tmp2, AK_MAX_LAMBDA_PAYLOAD);
    AK_ENSURE_OUT(ev && headers && cookies && qs, AK_E_NOMEM);
    char rid[40], host[512] = "", ua[1024] = "", ip[64] = "127.0.0.1", when[64];
    akemu_uuid(rid);

    for (size_t i = 0; i < r->nhdr; i++) {
        char name[256];
        ak_cur n = r->hdr[i].name;
        if (n.len >= sizeof(name)) continue;
        for (size_t k = 0; k < n.len; k++)
            name[k] = (char)tolower(n.ptr[k]);
        name[n.len] = '\0';
        ak_cur v = r->hdr[i].value;
        if (strcmp(name, "cookie") == 0) {
            /* Payload 2.0 moves cookies into "cookies" and drops the header. */
            ak_cur cv = v;
            while (cv.len > 0) {
                ak_cur one;
                if (!ak_cur_split(&cv, ';', &one)) {
                    one = cv;
                    cv.len = 0;
                }
                one = ak_cur_trim(one);
                if (one.len)
                    AK_ENSURE_OUT(
                        json_array_append_new(cookies, json_stringn((const char *)one.ptr, one.len)) == 0,
                        AK_E_NOMEM);
            }
            continue;
        }
        AK_ENSURE_OUT(s_obj_join(headers, name, v.len ? (const char *)v.ptr : "", v.len) == 0,
                      AK_E_INVALID_INPUT);
        /* Over-long values: the header keeps them, the context fields stay empty. */
        if (strcmp(name, "host") == 0 && ak_cur_to_cstr(v, host, sizeof(host)) != AK_OK) host[0] = '\0';
        if (strcmp(name, "user-agent") == 0 && ak_cur_to_cstr(v, ua, sizeof(ua)) != AK_OK) ua[0] = '\0';
    }
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    if (getpeername(c->fd, (struct sockaddr *)&peer, &plen) == 0 && peer.sin_family == AF_INET)
        (void)inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
    if (json_object_get(headers, "x-forwarded-for") == NULL)
        AK_ENSURE_OUT(json_object_set_new(headers, "x-forwarded-for", json_string(ip)) == 0, AK_E_NOMEM);
    if (json_object_get(headers, "x-forwarded-proto") == NULL)
        AK_ENSURE_OUT(json_object_set_new(headers, "x-forwarded-proto", json_string("http")) == 0,
                      AK_E_NOMEM);
    if (json_object_get(headers, "x-forwarded-port") == NULL) {
        char port[16];
        snprintf(port, sizeof(port), "%u", (unsigned)g_akemu.port);
        AK_ENSURE_OUT(json_object_set_new(headers, "x-forwarded-port", json_string(port)) == 0, AK_E_NOMEM);
    }
    if (host[0] == '\0') snprintf(host, sizeof(host), "127.0.0.1:%u", (unsigned)g_akemu.port);

    /* Query: raw string as sent; parameters decoded, repeated keys joined with ','. */
    ak_cur q = r->query;
    while (q.len > 0) {
        ak_cur pair, k, v;
        if (!ak_cur_split(&q, '&', &pair)) {
            pair = q;
            q.len = 0;
        }
        if (pair.len == 0) continue;
        v = pair;
        if (!ak_cur_split(&v, '=', &k)) {
            k = pair;
            v = (ak_cur){(const uint8_t *)"", 0};
        }
        ak_buf_clear(&tmp);
        ak_buf_clear(&tmp2);
        AK_GUARD_OUT(akemu_url_decode(k, true, &tmp));
        AK_GUARD_OUT(akemu_url_decode(v, true, &tmp2));
        AK_ENSURE_OUT(s_utf8_ok(ak_buf_cur(&tmp)) && s_utf8_ok(ak_buf_cur(&tmp2)), AK_E_INVALID_INPUT);
        AK_ENSURE_OUT(s_obj_join(qs, ak_buf_cstr(&tmp), ak_buf_cstr(&tmp2), tmp2.len) == 0,
                      AK_E_INVALID_INPUT);
    }

    uint64_t now_ms = akemu_wall_ms();
    time_t secs = (time_t)(now_ms / 1000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    char method[16];
    AK_GUARD_OUT(ak_cur_to_cstr(r->method, method, sizeof(method)));
    ak_buf_clear(&tmp);
    AK_GUARD_OUT(ak_buf_append_cur(&tmp, r->path));
    AK_ENSURE_OUT(s_utf8_ok(r->path) && s_utf8_ok(r->query), AK_E_INVALID_INPUT);

    ctx = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s%,s:s%,s:s,s:s},s:s,s:s,s:s,s:s,s:I}", "accountId",
                    "123456789012", "apiId", "local", "domainName", host, "domainPrefix", "local", "http",
                    "method", method, "path", (const char *)r->path.ptr, r->path.len, "protocol",
                    (const char *)r->version.ptr, r->version.len, "sourceIp", ip, "userAgent", ua,
                    "requestId", rid, "routeKey", m->route->route_key, "stage", "$default", "time", when,
                    "timeEpoch", (json_int_t)now_ms);
    AK_ENSURE_OUT(ctx != NULL, AK_E_INVALID_INPUT);
    AK_ENSURE_OUT(json_object_set_new(ev, "version", json_string("2.0")) == 0 &&
                      json_object_set_new(ev, "routeKey", json_string(m->route->route_key)) == 0 &&
                      json_object_set_new(ev, "rawPath", s_jstr(r->path)) == 0 &&
                      json_object_set_new(ev, "rawQueryString", s_jstr(r->query)) == 0,
                  AK_E_NOMEM);
    if (json_array_size(cookies) > 0) AK_ENSURE_OUT(json_object_set(ev, "cookies", cookies) == 0, AK_E_NOMEM);
    AK_ENSURE_OUT(json_object_set(ev, "headers", headers) == 0, AK_E_NOMEM);
    if (json_object_size(qs) > 0)
        AK_ENSURE_OUT(json_object_set(ev, "queryStringParameters", qs) == 0, AK_E_NOMEM);
    if (m->params != NULL) AK_ENSURE_OUT(json_object_set(ev, "pathParameters", m->params) == 0, AK_E_NOMEM);
    AK_ENSURE_OUT(json_object_set(ev, "requestContext", ctx) == 0, AK_E_NOMEM);

    bool b64 = false;
    if (r->body.len > 0) {
        bool found;
        ak_cur ct = akemu_req_header(r, "content-type", &found);
        bool text = (found ? s_is_text_type(ct) : true) && s_utf8_ok(r->body);
        json_t *body;
        if (text) {
            body = json_stringn((const char *)r->body.ptr, r->body.len);
        } else {
            b64 = true;
            ak_buf_clear(&tmp);
            tmp.max = 2 * AK_MAX_LAMBDA_PAYLOAD;
            AK_GUARD_OUT(ak_b64_encode(r->body.ptr, r->body.len, &tmp));
            body = json_stringn(ak_buf_cstr(&tmp), tmp.len);
        }
        AK_ENSURE_OUT(body != NULL && json_object_set_new(ev, "body", body) == 0, AK_E_NOMEM);
    }
    AK_ENSURE_OUT(json_object_set_new(ev, "isBase64Encoded", json_boolean(b64)) == 0, AK_E_NOMEM);
    /* The event, not just the body, must fit Lambda's 6 MiB request limit. */
    out->max = AK_MAX_LAMBDA_PAYLOAD;
    rc = ak_json_dump(ev, out);
    if (rc == AK_E_LIMIT) rc = AK_E_TOO_LARGE;
out:
    json_decref(ev);
    json_decref(headers);
    json_decref(cookies);
    json_decref(qs);
    json_decref(ctx);
    ak_buf_free(&tmp);
    ak_buf_free(&tmp2);
    return rc;
}

static void s_http_api(akemu_conn *c) {
    akemu_req *r = &c->req;
    if (r->too_large) {
        akemu_conn_respond_json(c, 413, NULL, "{\"message\":\"Request Entity Too Large\"}");
        return;
    }
    bool path_known;
    s_match m = s_route_find(r->method, r->path, &path_known);
    if (m.route == NULL) {
        akemu_conn_respond_json(c, 404, NULL, s_not_found);
        return;
    }
    ak_buf ev;
    ak_buf_init(&ev, AK_MAX_LAMBDA_PAYLOAD);
    ak_err rc = s_build_event(c, &m, &ev);
    json_decref(m.params);
    if (rc == AK_E_TOO_LARGE) {
        akemu_conn_respond_json(c, 413, NULL, "{\"message\":\"Request Entity Too Large\"}");
    } else if (rc != AK_OK) {
        akemu_conn_respond_json(c, 400, NULL, "{\"message\":\"Bad Request\"}");
    } else if (m.route->fn->max_insts == 0) {
        /* A throttled function (ReservedConcurrentExecutions: 0) is an integration failure. */
        akemu_logf(m.route->fn->name, "throttled (ReservedConcurrentExecutions 0): answering 500");
        akemu_conn_respond_json(c, 500, NULL, "{\"message\":\"Internal Server Error\"}");
    } else {
        c->front_kind = AKEMU_ORIGIN_HTTP;
        c->deferred = true;
        if (akemu_invoke(m.route->fn, ak_buf_cur(&ev), AKEMU_ORIGIN_HTTP, c, NULL, NULL) != AK_OK) {
            c->deferred = false;
            c->inv = NULL;
            akemu_conn_respond_json(c, 500, NULL, "{\"message\":\"Internal Server Error\"}");
        }
    }
    ak_buf_free(&ev);
}

/* ---------------------------------------------------------------- HTTP API: response -> HTTP */

static bool s_header_value_ok(const char *v) { return strpbrk(v, "\r\n") == NULL; }

static bool s_header_name_ok(const char *n) {
    if (*n == '\0') return false;
    for (; *n; n++)
        if ((unsigned char)*n <= ' ' || (unsigned char)*n >= 0x7f || *n == ':') return false;
    return true;
}

/* Returns false when the function's answer is not a valid payload 2.0 response. */
static bool s_complete_http(akemu_conn *c, ak_cur payload) {
    json_error_t jerr;
    json_t *v = json_loadb((const char *)payload.ptr, payload.len, JSON_DECODE_ANY, &jerr);
    if (v == NULL) return false;
    if (!json_is_object(v) || json_object_get(v, "statusCode") == NULL) {
        /* No statusCode: API Gateway assumes 200, application/json, the payload as the body. */
        json_decref(v);
        akemu_conn_respond(c, 200, "application/json", NULL, payload);
        return true;
    }
    bool ok = false;
    ak_buf h, body;
    ak_buf_init(&h, AKEMU_MAX_HEAD);
    ak_buf_init(&body, AK_MAX_LAMBDA_PAYLOAD);
    json_t *sc = json_object_get(v, "statusCode");
    json_int_t status = json_is_integer(sc) ? json_integer_value(sc) : -1;
    if (json_is_string(sc)) {
        uint64_t u;
        if (ak_cur_to_u64(ak_cur_from_str(json_string_value(sc)), &u) == AK_OK && u < 1000)
            status = (json_int_t)u;
    }
    if (status < 100 || status > 599) goto out;
    json_t *hdrs = json_object_get(v, "headers");
    const char *key;
    json_t *val;
    bool have_ct = false;
    if (hdrs != NULL && !json_is_null(hdrs)) {
        if (!json_is_object(hdrs)) goto out;
        json_object_foreach(hdrs, key, val) {
            char num[64];
            const char *s;
            if (json_is_string(val)) {
                s = json_string_value(val);
            } else if (json_is_integer(val)) {
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(val));
                s = num;
            } else if (json_is_boolean(val)) {
                s = json_is_true(val) ? "true" : "false";
            } else {
                goto out;
            }
            if (!s_header_name_ok(key) || !s_header_value_ok(s)) goto out;
            /* We frame the message ourselves. */
            if (strcasecmp(key, "content-length") == 0 || strcasecmp(key, "transfer-encoding") == 0 ||
                strcasecmp(key, "connection") == 0)
                continue;
            if (strcasecmp(key, "content-type") == 0) have_ct = true;
            if (ak_buf_printf(&h, "%s: %s\r\n", key, s) != AK_OK) goto out;
        }
    }
    json_t *ck = json_object_get(v, "cookies");
    if (ck != NULL && !json_is_null(ck)) {
        if (!json_is_array(ck)) goto out;
        size_t i;
        json_array_foreach(ck, i, val) {
            if (!json_is_string(val) || !s_header_value_ok(json_string_value(val))) goto out;
            if (ak_buf_printf(&h, "Set-Cookie: %s\r\n", json_string_value(val)) != AK_OK) goto out;
        }
    }
    json_t *b = json_object_get(v, "body");
    json_t *b64 = json_object_get(v, "isBase64Encoded");
    if (b != NULL && !json_is_null(b)) {
        if (!json_is_string(b)) goto out;
        ak_cur bc = ak_cur_from(json_string_value(b), json_string_length(b));
        if (json_is_true(b64)) {
            if (ak_b64_decode(bc, &body) != AK_OK) goto out;
        } else if (ak_buf_append_cur(&body, bc) != AK_OK) {
            goto out;
        }
    }
    (void)have_ct;
    akemu_conn_respond(c, (int)status, NULL, ak_buf_cstr(&h), ak_buf_cur(&body));
    ok = true;
out:
    json_decref(v);
    ak_buf_free(&h);
    ak_buf_free(&body);
    return ok;
}

void akemu_front_complete(akemu_inv *inv, akemu_rkind kind, ak_cur payload, const char *error_type) {
    akemu_conn *c = inv->client;
    if (c == NULL || c->dead) return;
    c->inv = NULL;
    inv->client = NULL;
    if (inv->origin == AKEMU_ORIGIN_INVOKE) {
        s_complete_invoke(c, inv, kind, payload);
        return;
    }
    if (kind == AKEMU_R_ERROR) {
        if (error_type != NULL && strcmp(error_type, "Sandbox.Timedout") == 0) {
            akemu_conn_respond_json(c, 504, NULL, "{\"message\":\"Endpoint request timed out\"}");
        } else if (error_type != NULL && strcmp(error_type, "Function.ResponseSizeTooLarge") == 0) {
            akemu_conn_respond_json(c, 413, NULL, "{\"message\":\"Response payload too large\"}");
        } else {
            akemu_conn_respond_json(c, 500, NULL, "{\"message\":\"Internal Server Error\"}");
        }
        return;
    }
    if (!s_complete_http(c, payload)) {
        akemu_logf(inv->fn->name, "malformed Lambda proxy response (RequestId: %s): answering 500", inv->id);
        akemu_conn_respond_json(c, 500, NULL, "{\"message\":\"Internal Server Error\"}");
    }
}

/* ---------------------------------------------------------------- admin */

static void s_admin(akemu_conn *c) {
    akemu_req *r = &c->req;
    ak_cur p = r->path;
    if (ak_cur_eq_str(p, "/__emulator/health")) {
        char b[96];
        snprintf(b, sizeof(b), "{\"status\":\"ok\",\"functions\":%zu}", g_akemu.n_fns);
        akemu_conn_respond_json(c, 200, NULL, b);
        return;
    }
    if (ak_cur_eq_str(p, "/__emulator/stats")) {
        ak_buf b;
        ak_buf_init(&b, 4u << 20);
        ak_err rc = ak_buf_append_str(&b, "{\"functions\":[");
        for (size_t i = 0; rc == AK_OK && i < g_akemu.n_fns; i++) {
            if (i) rc = ak_buf_append_byte(&b, ',');
            if (rc == AK_OK) rc = akemu_fn_stats_json(g_akemu.fns[i], &b);
        }
        if (rc == AK_OK) rc = ak_buf_append_str(&b, "]}");
        if (rc == AK_OK) {
            akemu_conn_respond(c, 200, "application/json", NULL, ak_buf_cur(&b));
        } else {
            akemu_conn_respond_json(c, 500, NULL, "{\"message\":\"stats too large\"}");
        }
        ak_buf_free(&b);
        return;
    }
    static const char pre[] = "/__emulator/functions/";
    if (ak_cur_starts_with(p, AK_CUR_LIT(pre)) && ak_cur_eq_str(r->method, "POST")) {
        ak_cur rest = ak_cur_from(p.ptr + sizeof(pre) - 1, p.len - (sizeof(pre) - 1));
        ak_cur name;
        if (ak_cur_split(&rest, '/', &name) && ak_cur_eq_str(rest, "stop")) {
            akemu_fn *fn = akemu_fn_find(name);
            if (fn == NULL) {
                akemu_conn_respond_json(c, 404, NULL, "{\"message\":\"no such function\"}");
            } else {
                /* Every instance without an invocation is stopped; 409 when some stay busy. */
                size_t n = 0;
                bool all = akemu_fn_stop(fn, &n);
                char b[128];
                snprintf(b, sizeof(b), "{\"stopped\":%s,\"instances_stopped\":%zu%s}", all ? "true" : "false",
                         n, all ? "" : ",\"message\":\"busy\"");
                akemu_conn_respond_json(c, all ? 200 : 409, NULL, b);
            }
            return;
        }
    }
    akemu_conn_respond_json(c, 404, NULL, s_not_found);
}

void akemu_front_handle(akemu_conn *c) {
    ak_cur p = c->req.path;
    if (ak_cur_starts_with(p, AK_CUR_LIT("/2015-03-31/functions/"))) {
        s_invoke_api(c);
    } else if (ak_cur_starts_with(p, AK_CUR_LIT("/__emulator/"))) {
        s_admin(c);
    } else {
        s_http_api(c);
    }
}
