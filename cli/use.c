/*
 * cli/use.c — the use-without-holding table (issue 14; D19): `cred put` with a use policy,
 * `call`, and the table entries of `proxy` (cli/proxy.c) and `mcp` (cli/mcp.c).
 *
 *   cred put SERVICE [--policy FILE | --use-only --allow-host H... [--allow-method M...]
 *                     --inject SPEC] [--for AGENT] [--file F] [--raw]
 *     SPEC: 'header:NAME' (value = the secret), 'header:NAME: TEMPLATE' (TEMPLATE holds {} once,
 *     e.g. 'header:Authorization: Bearer {}'), 'basic:USER', 'query:PARAM'.
 *     The policy is checked here with the worker's own rules (ak_use_policy_from_json) and
 *     sealed with the secret (envelope 0x05). --for AGENT (its 0x address or omni): a master
 *     session provisions the credential for an agent bound to its operator (D19), which can then
 *     use it but, with --use-only, never read it.
 *   call SERVICE METHOD URL [-H 'Name: value']... [-d DATA|@FILE|@-] [-i] [-f]
 *     The body of the answer on stdout; with -i the status line and headers on stderr first;
 *     -f exits 1 when the third party answered >= 400. A refusal exits 3 with the reason.
 *
 * `cred put` keeps its table entry in cli/data.c; cli/store.c hands over to this file when a
 * policy option or --for is present (akcli_cred_put_has_use_opts).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ak/identity.h"
#include "ak/json.h"
#include "ak/usepolicy.h"
#include "use.h"

const akcli_cmd akcli_use_cmds[] = {
    {"call", "SERVICE METHOD URL [-H 'Name: value']... [-d DATA|@FILE|@-] [-i] [-f]",
     "call a third-party API with a use-only credential: the server injects it (never seen here)",
     akcli_cmd_call},
    {"proxy",
     "--listen 127.0.0.1:PORT [--upstream SERVICE=HOST[:PORT]]... [--require-key FILE] [--max-conn N]",
     "loopback HTTP proxy: http://127.0.0.1:PORT/SERVICE/PATH -> https://HOST/PATH via /v1/cred/use",
     akcli_cmd_proxy},
    {"mcp", "", "Model Context Protocol server on stdio (tools: credentials by use, memory, inbox)",
     akcli_cmd_mcp},
    {0},
};

/* ---------------------------------------------------------------- shared */

void akcli_use_reason(akcli_session *s, ak_err e, char *out, size_t cap) {
    const char *reason = s->cl ? ak_client_last_reason(s->cl) : "";
    if (reason[0] == '\0') reason = ak_err_reason(e);
    ak_err re = ak_err_from_reason(reason);
    snprintf(out, cap, "%s: %s", reason, ak_err_message(re != AK_E__COUNT && re != AK_OK ? re : e));
}

int akcli_use_fail(akcli_session *s, ak_err e, const char *what) {
    if (e == AK_E_METHOD_NOT_ALLOWED) /* the policy's method list: a refusal like the others */
        return akcli_fail(s->c, AKCLI_AUTH, "method_not_allowed", "%s: refused by the server (HTTP 405: %s)",
                          what, ak_err_message(e));
    return akcli_session_fail(s, e, what);
}

/* ---------------------------------------------------------------- cred put with a policy */

bool akcli_cred_put_has_use_opts(int argc, char **argv) {
    static const char *const opts[] = {
        "--policy",  "--use-only", "--allow-host",  "--allow-method", "--inject", "--for",
        "--policy=", "--for=",     "--allow-host=", "--inject=",      NULL};
    for (int i = 0; i < argc; i++)
        for (int k = 0; opts[k]; k++) {
            size_t n = strlen(opts[k]);
            if (opts[k][n - 1] == '=' ? strncmp(argv[i], opts[k], n) == 0 : strcmp(argv[i], opts[k]) == 0)
                return true;
        }
    return false;
}

/* --inject SPEC -> the policy's "inject" object; NULL with a message on a bad spec. */
static json_t *s_inject(akcli *c, const char *spec) {
    if (strncmp(spec, "header:", 7) == 0) {
        const char *name = spec + 7, *colon = strchr(name, ':');
        size_t nl = colon ? (size_t)(colon - name) : strlen(name);
        ak_cur tmpl = ak_cur_trim(ak_cur_from_str(colon ? colon + 1 : "{}"));
        if (nl == 0 || tmpl.len == 0) goto bad;
        json_t *n = ak_json_string_cur(ak_cur_from(name, nl)), *t = ak_json_string_cur(tmpl);
        json_t *o = json_object();
        if (!n || !t || !o) {
            if (n) json_decref(n);
            if (t) json_decref(t);
            if (o) json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "header", n);
        json_object_set_new(o, "template", t);
        return o;
    }
    if (strncmp(spec, "basic:", 6) == 0 && spec[6])
        return json_pack("{s:{s:s}}", "basic", "username", spec + 6);
    if (strncmp(spec, "query:", 6) == 0 && spec[6]) return json_pack("{s:s}", "query", spec + 6);
bad:
    akcli_usage(c, "--inject takes 'header:NAME[: TEMPLATE with {}]', 'basic:USER' or 'query:PARAM'");
    return NULL;
}

/* AGENT as "0x" + 40 hex (an address: its omni) or an omni (64 hex, bare or 0x). */
static int s_actor(akcli *c, const char *agent, char out[65]) {
    ak_omni o;
    ak_cur a = ak_cur_from_str(agent);
    if (a.len == 42 && ak_omni_from_address_text(a, &o) == AK_OK) {
        ak_omni_hex(&o, out);
        return AKCLI_OK;
    }
    if (ak_omni_parse(a, &o) == AK_OK) {
        ak_omni_hex(&o, out);
        return AKCLI_OK;
    }
    return akcli_usage(c, "--for takes the agent's 0x address or its omni (64 hex)");
}

int akcli_cmd_cred_put_use(akcli *c, int argc, char **argv) {
    const char *name = NULL, *file = NULL, *policy_file = NULL, *inject = NULL, *agent = NULL;
    const char *hosts[AK_USE_MAX_HOSTS], *methods[8];
    size_t nh = 0, nm = 0;
    bool use_only = false, raw = false;
    for (int i = 0; i < argc; i++) {
        const char *x = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define S_OPT(flag, dst)                                                                                     \
    if (strcmp(x, flag) == 0) {                                                                              \
        if (v == NULL) return akcli_usage(c, "%s needs a value", flag);                                      \
        dst;                                                                                                 \
        i++;                                                                                                 \
        continue;                                                                                            \
    }                                                                                                        \
    if (strncmp(x, flag "=", sizeof flag) == 0) {                                                            \
        v = x + sizeof flag;                                                                                 \
        dst;                                                                                                 \
        continue;                                                                                            \
    }
        S_OPT("--file", file = v)
        S_OPT("--policy", policy_file = v)
        S_OPT("--inject", inject = v)
        S_OPT("--for", agent = v)
        S_OPT("--allow-host", if (nh == AK_USE_MAX_HOSTS) return akcli_usage(c, "at most 16 hosts");
              hosts[nh++] = v)
        S_OPT("--allow-method", if (nm == 7) return akcli_usage(c, "at most 7 methods"); methods[nm++] = v)
#undef S_OPT
        if (strcmp(x, "--use-only") == 0)
            use_only = true;
        else if (strcmp(x, "--raw") == 0)
            raw = true;
        else if (x[0] == '-' && x[1] != '\0')
            return akcli_usage(c, "unknown option %s", x);
        else if (name == NULL)
            name = x;
        else
            return akcli_usage(c, "unexpected argument '%s' (values come from stdin or --file)", x);
    }
    if (name == NULL) return akcli_usage(c, "a service name is required");
    bool flags = use_only || nh || nm || inject;
    if (policy_file && flags) return akcli_usage(c, "--policy FILE replaces --use-only/--allow-*/--inject");
    if (flags && (nh == 0 || inject == NULL))
        return akcli_usage(c, "a policy needs at least one --allow-host and an --inject");
    char actor[65] = "";
    int rc = AKCLI_OK;
    if (agent && (rc = s_actor(c, agent, actor)) != AKCLI_OK) return rc;

    /* the policy as JSON text (checked again, with the secret, by ak_client_put_ex) */
    ak_buf pol;
    ak_buf_init(&pol, 64u * 1024u);
    if (policy_file) {
        if (ak_buf_append_file(&pol, policy_file) != AK_OK) {
            ak_buf_free(&pol);
            return akcli_fail(c, AKCLI_ERR, "io_error", "cannot read the policy file %s", policy_file);
        }
    } else if (flags) {
        json_t *o = json_object(), *h = json_array(), *m = nm ? json_array() : NULL,
               *inj = s_inject(c, inject);
        bool ok = o && h && (nm == 0 || m) && inj;
        for (size_t i = 0; ok && i < nh; i++)
            ok = json_array_append_new(h, json_string(hosts[i])) == 0;
        for (size_t i = 0; ok && i < nm; i++)
            ok = json_array_append_new(m, json_string(methods[i])) == 0;
        if (ok) {
            json_object_set_new(o, "use_only", json_boolean(use_only));
            json_object_set(o, "allowed_hosts", h);
            if (m) json_object_set(o, "allowed_methods", m);
            json_object_set(o, "inject", inj);
            ok = ak_json_dump(o, &pol) == AK_OK;
        }
        if (o) json_decref(o);
        if (h) json_decref(h);
        if (m) json_decref(m);
        if (inj) json_decref(inj);
        if (!ok) {
            ak_buf_free(&pol);
            return inject && inj == NULL
                       ? AKCLI_USAGE
                       : akcli_fail(c, AKCLI_USAGE, "invalid_use_policy", "bad policy options");
        }
    }

    if (file == NULL && isatty(0)) akcli_note(c, "reading the value from stdin (end with Ctrl-D)");
    ak_buf v;
    ak_buf_init_secret(&v, AK_CLIENT_MAX_VALUE);
    ak_err e = akcli_read_input(file, &v);
    if (e != AK_OK) {
        rc = e == AK_E_LIMIT ? akcli_fail(c, AKCLI_ERR, "too_large", "the value is too large")
                             : akcli_fail(c, AKCLI_ERR, "io_error", "cannot read the value");
        goto out;
    }
    if (!raw) {
        if (v.len > 0 && v.ptr[v.len - 1] == '\n') v.len--;
        if (v.len > 0 && v.ptr[v.len - 1] == '\r') v.len--;
    }
    if (v.len == 0) {
        rc = akcli_fail(c, AKCLI_USAGE, "invalid_input", "the value is empty");
        goto out;
    }
    akcli_session s;
    rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) goto out;
    ak_client_put_opts o = {.policy_json = ak_buf_cur(&pol), .actor_hex = actor[0] ? actor : NULL};
    e = ak_client_put_ex(s.cl, AK_CLASS_CREDENTIALS, ak_cur_from_str(name), ak_buf_cur(&v), &o);
    if (e == AK_E_USE_POLICY_INVALID && ak_client_last_status(s.cl) == 0)
        rc = akcli_fail(c, AKCLI_USAGE, "invalid_use_policy",
                        "the use policy is malformed, or the secret cannot carry one (8..4096 printable "
                        "ASCII bytes; docs/spec/use-policy.md)");
    else if (e != AK_OK)
        rc = akcli_session_fail(&s, e, "cred put");
    else if (akcli_json(c)) {
        printf("{\"ok\":true,\"name\":");
        akcli_json_str(stdout, ak_cur_from_str(name));
        printf(",\"bytes\":%zu,\"policy\":%s", v.len, pol.len ? "true" : "false");
        if (actor[0]) printf(",\"for\":\"%s\"", actor);
        printf("}\n");
    } else
        akcli_note(c, "stored credential %s (%zu bytes)%s%s%s", name, v.len,
                   pol.len ? (strstr(ak_buf_cstr(&pol), "\"use_only\":true") ? " use-only, with its policy"
                                                                             : " with its use policy")
                           : "",
                   actor[0] ? " for actor " : "", actor);
    akcli_session_close(&s);
out:
    ak_buf_free(&v);
    ak_buf_free(&pol);
    return rc;
}

/* ---------------------------------------------------------------- call */

static void s_print_headers(FILE *f, const json_t *hs) {
    size_t i;
    const json_t *h;
    json_array_foreach(hs, i, h) {
        const char *n = json_string_value(json_array_get(h, 0)), *v = json_string_value(json_array_get(h, 1));
        if (n && v) fprintf(f, "%s: %s\n", n, v);
    }
}

int akcli_cmd_call(akcli *c, int argc, char **argv) {
    const char *pos[3];
    int np = 0;
    const char *data = NULL;
    bool include = false, failon = false;
    ak_http_header hs[AK_USE_MAX_HEADERS];
    char hnames[AK_USE_MAX_HEADERS][AK_USE_MAX_HEADER_NAME + 1];
    size_t nh = 0;
    for (int i = 0; i < argc; i++) {
        const char *x = argv[i];
        if ((strcmp(x, "-H") == 0 || strcmp(x, "--header") == 0) && i + 1 < argc) {
            const char *h = argv[++i], *colon = strchr(h, ':');
            if (colon == NULL || colon == h || (size_t)(colon - h) > AK_USE_MAX_HEADER_NAME)
                return akcli_usage(c, "-H takes 'Name: value'");
            if (nh == AK_USE_MAX_HEADERS) return akcli_usage(c, "at most %u headers", AK_USE_MAX_HEADERS);
            memcpy(hnames[nh], h, (size_t)(colon - h));
            hnames[nh][colon - h] = '\0';
            hs[nh] = (ak_http_header){hnames[nh], ak_cur_trim(ak_cur_from_str(colon + 1))};
            nh++;
        } else if ((strcmp(x, "-d") == 0 || strcmp(x, "--data") == 0) && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(x, "-i") == 0 || strcmp(x, "--include") == 0)
            include = true;
        else if (strcmp(x, "-f") == 0 || strcmp(x, "--fail") == 0)
            failon = true;
        else if (x[0] == '-' && x[1] != '\0')
            return akcli_usage(c, "unknown option %s", x);
        else if (np < 3)
            pos[np++] = x;
        else
            return akcli_usage(c, "unexpected argument '%s'", x);
    }
    if (np != 3) return akcli_usage(c, "SERVICE METHOD URL are required");
    int rc = AKCLI_OK;
    ak_buf body;
    ak_buf_init(&body, AK_CLIENT_USE_MAX_BODY);
    if (data && data[0] == '@') {
        ak_err e = akcli_read_input(strcmp(data, "@-") == 0 ? NULL : data + 1, &body);
        if (e != AK_OK) {
            ak_buf_free(&body);
            return e == AK_E_LIMIT ? akcli_fail(c, AKCLI_ERR, "too_large", "the body is over %u bytes",
                                                AK_CLIENT_USE_MAX_BODY)
                                   : akcli_fail(c, AKCLI_ERR, "io_error", "cannot read %s", data + 1);
        }
    } else if (data && ak_buf_append_str(&body, data) != AK_OK) {
        ak_buf_free(&body);
        return akcli_fail(c, AKCLI_ERR, "too_large", "the body is too large");
    }
    akcli_session s;
    rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) {
        ak_buf_free(&body);
        return rc;
    }
    ak_client_use_req rq = {.method = pos[1],
                            .url = ak_cur_from_str(pos[2]),
                            .headers = hs,
                            .n_headers = nh,
                            .body = ak_buf_cur(&body)};
    ak_client_use_resp r;
    ak_client_use_resp_init(&r);
    ak_err e = ak_client_use(s.cl, ak_cur_from_str(pos[0]), &rq, &r);
    if (e != AK_OK) {
        rc = akcli_use_fail(&s, e, "call");
    } else if (akcli_json(c)) {
        ak_buf b64;
        ak_buf_init(&b64, AK_CLIENT_USE_MAX_ANSWER * 2);
        if (ak_b64_encode(r.body.ptr, r.body.len, &b64) != AK_OK) {
            rc = akcli_fail(c, AKCLI_ERR, "too_large", "the answer is too large");
        } else {
            ak_buf hj;
            ak_buf_init(&hj, 1u << 20);
            if (ak_json_dump(r.headers, &hj) != AK_OK) ak_buf_clear(&hj);
            printf("{\"status\":%ld,\"headers\":%s,\"body_b64\":\"%s\",\"redactions\":%llu}\n", r.status,
                   hj.len ? ak_buf_cstr(&hj) : "[]", ak_buf_cstr(&b64), (unsigned long long)r.redactions);
            ak_buf_free(&hj);
        }
        ak_buf_free(&b64);
    } else {
        if (include) {
            fflush(stdout);
            fprintf(stderr, "HTTP %ld %s\n", r.status, ak_http_reason_phrase((int)r.status));
            s_print_headers(stderr, r.headers);
            fputc('\n', stderr);
            fflush(stderr);
        }
        fwrite(r.body.ptr, 1, r.body.len, stdout);
    }
    fflush(stdout);
    if (rc == AKCLI_OK && failon && r.status >= 400) rc = AKCLI_ERR;
    ak_client_use_resp_free(&r);
    akcli_session_close(&s);
    ak_buf_free(&body);
    return rc;
}
