/*
 * template.c — template.yaml -> functions and routes, plus the environment overrides.
 *
 * What is read (everything else is ignored):
 *   Parameters.<P>.Default                       for !Ref P / ${P} in environment values
 *   Globals.Function.{Timeout,MemorySize,Handler,ReservedConcurrentExecutions,Environment.Variables,
 *                     EventInvokeConfig}
 *   Resources.<LogicalId> with Type AWS::Serverless::Function:
 *     Properties.{Timeout, MemorySize, Handler, FunctionName, ReservedConcurrentExecutions,
 *                 Environment.Variables, Events.<E> with Type HttpApi and Properties.{Path, Method},
 *                 EventInvokeConfig.{MaximumRetryAttempts, DestinationConfig.OnFailure.{Type, Destination}}}
 * An environment value that cannot be resolved here (!GetAtt, !Ref to a resource, Fn::...) is
 * left unset with a warning; the local stack supplies it through --env-file.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/limits.h"
#include "emu.h"

/* SAM's defaults (AWS::Serverless::Function): 3 s and 128 MB. */
#define S_DEFAULT_TIMEOUT_MS 3000u
#define S_DEFAULT_MEMORY_MB 128u
#define S_ACCOUNT_ID "123456789012"
/* Lambda retries a failed asynchronous invocation twice unless MaximumRetryAttempts says less. */
#define S_DEFAULT_ASYNC_RETRIES 2u

ak_err akemu_env_set(akemu_env *e, const char *key, size_t klen, const char *val, size_t vlen) {
    char *v = ak_strndup(val, vlen);
    AK_ENSURE(v != NULL, AK_E_NOMEM);
    for (size_t i = 0; i < e->n; i++) {
        if (strlen(e->v[i].key) == klen && memcmp(e->v[i].key, key, klen) == 0) {
            ak_free(e->v[i].val);
            e->v[i].val = v;
            return AK_OK;
        }
    }
    if (e->n == e->cap) {
        akemu_kv *nv = ak_grow_array(e->v, &e->cap, sizeof(*nv), 16);
        if (nv == NULL) {
            ak_free(v);
            return AK_E_NOMEM;
        }
        e->v = nv;
    }
    char *k = ak_strndup(key, klen);
    if (k == NULL) {
        ak_free(v);
        return AK_E_NOMEM;
    }
    e->v[e->n++] = (akemu_kv){k, v};
    return AK_OK;
}

const char *akemu_env_get(const akemu_env *e, const char *key) {
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->v[i].key, key) == 0) return e->v[i].val;
    return NULL;
}

void akemu_env_free(akemu_env *e) {
    for (size_t i = 0; i < e->n; i++) {
        ak_free(e->v[i].key);
        ak_free(e->v[i].val);
    }
    ak_free(e->v);
    *e = (akemu_env){0};
}

ak_err akemu_kebab_dir(const char *logical_id, char *out, size_t cap) {
    size_t n = strlen(logical_id);
    static const char suffix[] = "Function";
    if (n > sizeof(suffix) - 1 && strcmp(logical_id + n - (sizeof(suffix) - 1), suffix) == 0)
        n -= sizeof(suffix) - 1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)logical_id[i];
        AK_ENSURE(isalnum(c), AK_E_INVALID_INPUT);
        if (isupper(c) && i > 0) {
            AK_ENSURE(k + 1 < cap, AK_E_LIMIT);
            out[k++] = '-';
        }
        AK_ENSURE(k + 1 < cap, AK_E_LIMIT);
        out[k++] = (char)tolower(c);
    }
    AK_ENSURE(k > 0, AK_E_INVALID_INPUT);
    out[k] = '\0';
    return AK_OK;
}

akemu_fn *akemu_fn_find(ak_cur name) {
    for (size_t i = 0; i < g_akemu.n_fns; i++) {
        akemu_fn *f = g_akemu.fns[i];
        if (ak_cur_eq_str(name, f->name) || (f->alias != NULL && ak_cur_eq_str(name, f->alias))) return f;
    }
    return NULL;
}

/* ---------------------------------------------------------------- overrides */

static bool s_valid_env_key(ak_cur k) {
    if (k.len == 0 || k.len > 255) return false;
    for (size_t i = 0; i < k.len; i++) {
        uint8_t c = k.ptr[i];
        if (!(isalnum(c) || c == '_') || (i == 0 && isdigit(c))) return false;
    }
    return true;
}

ak_err akemu_env_override(const char *line, size_t len) {
    ak_cur c = ak_cur_trim(ak_cur_from(line, len));
    ak_cur key;
    AK_ENSURE(ak_cur_split(&c, '=', &key), AK_E_INVALID_INPUT);
    key = ak_cur_trim(key);
    /* Surrounding quotes are a common habit in env files; drop one matching pair. */
    if (c.len >= 2 && (c.ptr[0] == '"' || c.ptr[0] == '\'') && c.ptr[c.len - 1] == c.ptr[0])
        c = ak_cur_from(c.ptr + 1, c.len - 2);
    long dot = ak_cur_find(key, '.');
    if (dot >= 0) {
        ak_cur var = ak_cur_from(key.ptr + dot + 1, key.len - (size_t)dot - 1);
        AK_ENSURE(dot > 0 && s_valid_env_key(var), AK_E_INVALID_INPUT);
        return akemu_env_set(&g_akemu.env_fn, (const char *)key.ptr, key.len, (const char *)c.ptr, c.len);
    }
    AK_ENSURE(s_valid_env_key(key), AK_E_INVALID_INPUT);
    return akemu_env_set(&g_akemu.env_all, (const char *)key.ptr, key.len, (const char *)c.ptr, c.len);
}

static ak_err s_read_file(const char *path, ak_buf *out, size_t max) {
    FILE *f = fopen(path, "rb");
    AK_ENSURE(f != NULL, AK_E_IO);
    ak_buf_init(out, max);
    char tmp[8192];
    size_t n;
    ak_err rc = AK_OK;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        rc = ak_buf_append(out, tmp, n);
        if (rc != AK_OK) break;
    }
    if (rc == AK_OK && ferror(f)) rc = AK_E_IO;
    fclose(f);
    if (rc != AK_OK) ak_buf_free(out);
    return rc;
}

ak_err akemu_env_file_load(const char *path, char *err, size_t errcap) {
    ak_buf b;
    if (s_read_file(path, &b, 1u << 20) != AK_OK) {
        snprintf(err, errcap, "cannot read env file %s: %s", path, strerror(errno));
        return AK_E_IO;
    }
    ak_err rc = AK_OK;
    ak_cur c = ak_buf_cur(&b);
    int lineno = 0;
    while (c.len > 0) {
        ak_cur line;
        if (!ak_cur_split(&c, '\n', &line)) {
            line = c;
            c.len = 0;
        }
        lineno++;
        ak_cur t = ak_cur_trim(line);
        if (t.len == 0 || t.ptr[0] == '#') continue;
        if (ak_cur_starts_with(t, AK_CUR_LIT("export "))) t = ak_cur_trim(ak_cur_from(t.ptr + 7, t.len - 7));
        rc = akemu_env_override((const char *)t.ptr, t.len);
        if (rc != AK_OK) {
            snprintf(err, errcap, "%s:%d: expected KEY=VALUE or LogicalId.KEY=VALUE", path, lineno);
            break;
        }
    }
    ak_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- template */

typedef struct {
    const akemu_ynode *params;
} s_ctx;

/* Resolves a !Ref / ${Name} to a parameter default or a pseudo parameter; NULL if unknown. */
static const char *s_ref(const s_ctx *x, const char *name) {
    if (strcmp(name, "AWS::Region") == 0) return g_akemu.region;
    if (strcmp(name, "AWS::AccountId") == 0) return S_ACCOUNT_ID;
    if (strcmp(name, "AWS::Partition") == 0) return "aws";
    if (strcmp(name, "AWS::URLSuffix") == 0) return "amazonaws.com";
    if (strcmp(name, "AWS::StackName") == 0) return "agentkeys-local";
    const akemu_ynode *pn = akemu_ymap_get(x->params, name);
    const akemu_ynode *d = akemu_ymap_get(pn, "Default");
    return d != NULL && d->type == AKEMU_Y_SCALAR ? d->str : NULL;
}

/* A scalar value: plain, !Ref to a parameter, or !Sub of parameters. Returns false when it
 * cannot be resolved locally. */
static bool s_resolve(const s_ctx *x, const akemu_ynode *v, ak_buf *out) {
    if (v == NULL || v->type != AKEMU_Y_SCALAR) return false;
    if (v->tag == NULL) return ak_buf_append_str(out, v->str) == AK_OK;
    if (strcmp(v->tag, "!Ref") == 0) {
        const char *r = s_ref(x, v->str);
        return r != NULL && ak_buf_append_str(out, r) == AK_OK;
    }
    if (strcmp(v->tag, "!Sub") == 0) {
        const char *s = v->str;
        while (*s) {
            if (s[0] == '$' && s[1] == '{') {
                const char *e = strchr(s, '}');
                if (e == NULL) return false;
                if (s[2] == '!') { /* ${!Literal} */
                    if (ak_buf_append_byte(out, '$') != AK_OK || ak_buf_append_byte(out, '{') != AK_OK ||
                        ak_buf_append(out, s + 3, (size_t)(e - s - 2)) != AK_OK)
                        return false;
                } else {
                    char name[256];
                    size_t n = (size_t)(e - s - 2);
                    if (n >= sizeof(name)) return false;
                    memcpy(name, s + 2, n);
                    name[n] = '\0';
                    const char *r = s_ref(x, name);
                    if (r == NULL || ak_buf_append_str(out, r) != AK_OK) return false;
                }
                s = e + 1;
            } else {
                if (ak_buf_append_byte(out, (uint8_t)*s) != AK_OK) return false;
                s++;
            }
        }
        return true;
    }
    return false;
}

static bool s_resolve_uint(const s_ctx *x, const akemu_ynode *v, uint64_t *out) {
    ak_buf b;
    ak_buf_init(&b, 64);
    bool ok = s_resolve(x, v, &b) && ak_cur_to_u64(ak_buf_cur(&b), out) == AK_OK;
    ak_buf_free(&b);
    return ok;
}

static ak_err s_apply_env_vars(const s_ctx *x, akemu_fn *fn, const akemu_ynode *props) {
    const akemu_ynode *vars = akemu_ymap_get(akemu_ymap_get(props, "Environment"), "Variables");
    if (vars == NULL || vars->type != AKEMU_Y_MAP) return AK_OK;
    for (size_t i = 0; i < vars->n; i++) {
        ak_buf b;
        ak_buf_init(&b, AK_MAX_LAMBDA_PAYLOAD);
        if (s_resolve(x, vars->vals[i], &b)) {
            ak_err rc = akemu_env_set(&fn->env, vars->keys[i], strlen(vars->keys[i]), ak_buf_cstr(&b), b.len);
            ak_buf_free(&b);
            AK_GUARD(rc);
        } else {
            ak_buf_free(&b);
            char key[300];
            snprintf(key, sizeof(key), "%s.%s", fn->name, vars->keys[i]);
            if (akemu_env_get(&g_akemu.env_fn, key) == NULL &&
                akemu_env_get(&g_akemu.env_all, vars->keys[i]) == NULL)
                akemu_logf(
                    "emulator",
                    "warning: %s: environment %s is not resolvable locally (%s); set it with --env-file",
                    fn->name, vars->keys[i], vars->vals[i]->tag ? vars->vals[i]->tag : "non-scalar");
        }
    }
    return AK_OK;
}

static ak_err s_add_route(akemu_fn *fn, const char *method, const char *path) {
    akemu_route *nr = ak_realloc(g_akemu.routes, (g_akemu.n_routes + 1) * sizeof(*nr));
    AK_ENSURE(nr != NULL, AK_E_NOMEM);
    g_akemu.routes = nr;
    akemu_route *r = &nr[g_akemu.n_routes];
    *r = (akemu_route){0};
    ak_buf key;
    ak_buf_init(&key, 4096);
    ak_err rc = AK_OK;
    if (path == NULL) {
        r->method = ak_strndup("ANY", 3);
        AK_GUARD_OUT(ak_buf_append_str(&key, "$default"));
    } else {
        char m[16];
        size_t n = strlen(method);
        AK_ENSURE_OUT(n > 0 && n < sizeof(m), AK_E_INVALID_INPUT);
        for (size_t i = 0; i <= n; i++)
            m[i] = (char)toupper((unsigned char)method[i]);
        r->method = ak_strndup(m, n);
        r->path = ak_strndup(path, strlen(path));
        AK_ENSURE_OUT(r->path != NULL && path[0] == '/', r->path == NULL ? AK_E_NOMEM : AK_E_INVALID_INPUT);
        AK_GUARD_OUT(ak_buf_printf(&key, "%s %s", m, path));
    }
    r->route_key = ak_strndup(ak_buf_cstr(&key), key.len);
    AK_ENSURE_OUT(r->method != NULL && r->route_key != NULL, AK_E_NOMEM);
    r->fn = fn;
    g_akemu.n_routes++;
out:
    if (rc != AK_OK) {
        ak_free(r->method);
        ak_free(r->path);
        ak_free(r->route_key);
    }
    ak_buf_free(&key);
    return rc;
}

static char *s_strdup(const char *s) { return s ? ak_strndup(s, strlen(s)) : NULL; }

static ak_err s_bootstrap_path(akemu_fn *fn) {
    const char *ov = akemu_env_get(&g_akemu.bootstraps, fn->name);
    ak_buf b;
    ak_buf_init(&b, 4096);
    ak_err rc = AK_OK;
    if (ov != NULL) {
        AK_GUARD_OUT(ak_buf_append_str(&b, ov));
    } else if (strcmp(g_akemu.flavour, "dev") == 0) {
        AK_GUARD_OUT(ak_buf_printf(&b, "%s/build/dev/functions/%s/bootstrap", g_akemu.root, fn->dir));
    } else {
        AK_GUARD_OUT(ak_buf_printf(&b, "%s/build/release/%s/bootstrap", g_akemu.root, fn->dir));
    }
    /* LAMBDA_TASK_ROOT: the bootstrap's directory, as /var/task holds bootstrap on Lambda. */
    const char *slash = strrchr(ak_buf_cstr(&b), '/');
    fn->bootstrap = ak_strndup(ak_buf_cstr(&b), b.len);
    fn->task_root =
        slash ? ak_strndup(ak_buf_cstr(&b), (size_t)(slash - ak_buf_cstr(&b))) : ak_strndup(".", 1);
    AK_ENSURE_OUT(fn->bootstrap != NULL && fn->task_root != NULL, AK_E_NOMEM);
out:
    ak_buf_free(&b);
    return rc;
}

static ak_err s_timeout_override(akemu_fn *fn) {
    const char *t = akemu_env_get(&g_akemu.timeouts, fn->name);
    if (t == NULL) t = akemu_env_get(&g_akemu.timeouts, "*");
    if (t == NULL) return AK_OK;
    uint64_t ms;
    AK_GUARD(ak_cur_to_u64(ak_cur_from_str(t), &ms));
    AK_ENSURE(ms > 0 && ms <= 900000u, AK_E_INVALID_INPUT);
    fn->timeout_ms = (unsigned)ms;
    return AK_OK;
}

/* --max-instances LogicalId=N, else --max-instances N: they win over the template's
 * ReservedConcurrentExecutions, as --timeout-override wins over Timeout. */
static ak_err s_max_insts_override(akemu_fn *fn) {
    const char *t = akemu_env_get(&g_akemu.max_insts, fn->name);
    if (t == NULL) t = akemu_env_get(&g_akemu.max_insts, "*");
    if (t == NULL) return AK_OK;
    uint64_t n;
    AK_GUARD(ak_cur_to_u64(ak_cur_from_str(t), &n));
    AK_ENSURE(n >= 1 && n <= AKEMU_MAX_INSTANCES_LIMIT, AK_E_INVALID_INPUT);
    fn->max_insts = (unsigned)n;
    return AK_OK;
}

/* EventInvokeConfig of one layer (Globals.Function or the function's Properties): the retry
 * count for asynchronous invocations and the OnFailure destination. The destination itself is
 * not resolved (it is usually !GetAtt Queue.Arn): the emulator keeps its text for the logs and
 * writes the records to its local stand-in (--destinations-dir, fn.c). */
static ak_err s_event_invoke_config(const s_ctx *x, akemu_fn *fn, const akemu_ynode *cfg, const char *id,
                                    char *err, size_t errcap) {
    if (cfg == NULL) return AK_OK;
    const akemu_ynode *n = akemu_ymap_get(cfg, "MaximumRetryAttempts");
    if (n != NULL) {
        uint64_t v;
        if (!s_resolve_uint(x, n, &v) || v > 2) {
            snprintf(err, errcap, "%s: EventInvokeConfig.MaximumRetryAttempts must be 0..2", id);
            return AK_E_INVALID_INPUT;
        }
        fn->async_retries = (unsigned)v;
    }
    const akemu_ynode *of = akemu_ymap_get(akemu_ymap_get(cfg, "DestinationConfig"), "OnFailure");
    if (of == NULL) return AK_OK;
    const char *type = akemu_yscalar(akemu_ymap_get(of, "Type"));
    const akemu_ynode *dest = akemu_ymap_get(of, "Destination");
    static const char *const types[] = {"SQS", "SNS", "Lambda", "EventBridge", "S3"};
    bool known = false;
    for (size_t i = 0; type != NULL && i < sizeof(types) / sizeof(types[0]); i++)
        known = known || strcmp(type, types[i]) == 0;
    if (!known || dest == NULL) {
        snprintf(err, errcap,
                 "%s: EventInvokeConfig.DestinationConfig.OnFailure needs Type (SQS, SNS, Lambda, "
                 "EventBridge or S3) and Destination",
                 id);
        return AK_E_INVALID_INPUT;
    }
    ak_buf t;
    ak_buf_init(&t, 1024);
    ak_err rc = ak_buf_printf(&t, "%s %s%s%s", type, dest->tag ? dest->tag : "", dest->tag ? " " : "",
                              dest->type == AKEMU_Y_SCALAR ? dest->str : "(computed)");
    if (rc == AK_OK) {
        ak_free(fn->on_failure);
        fn->on_failure = s_strdup(ak_buf_cstr(&t));
        if (fn->on_failure == NULL) rc = AK_E_NOMEM;
    }
    ak_buf_free(&t);
    return rc;
}

static ak_err s_add_function(const s_ctx *x, const char *id, const akemu_ynode *res,
                             const akemu_ynode *globals, char *err, size_t errcap) {
    ak_err rc = AK_OK;
    const akemu_ynode *props = akemu_ymap_get(res, "Properties");
    akemu_fn *fn = ak_calloc(1, sizeof(*fn));
    AK_ENSURE(fn != NULL, AK_E_NOMEM);
    char dir[128];
    if (akemu_kebab_dir(id, dir, sizeof(dir)) != AK_OK) {
        snprintf(err, errcap, "%s: LogicalId must be alphanumeric", id);
        ak_free(fn);
        return AK_E_INVALID_INPUT;
    }
    fn->name = s_strdup(id);
    fn->dir = s_strdup(dir);
    fn->timeout_ms = S_DEFAULT_TIMEOUT_MS;
    fn->memory_mb = S_DEFAULT_MEMORY_MB;
    fn->max_insts = AKEMU_DEFAULT_MAX_INSTANCES;
    fn->async_retries = S_DEFAULT_ASYNC_RETRIES;
    AK_ENSURE_OUT(fn->name != NULL && fn->dir != NULL, AK_E_NOMEM);

    const akemu_ynode *layers[2] = {globals, props};
    const char *handler = "bootstrap";
    for (int li = 0; li < 2; li++) {
        const akemu_ynode *P = layers[li];
        if (P == NULL) continue;
        uint64_t v;
        const akemu_ynode *n;
        if ((n = akemu_ymap_get(P, "Timeout")) != NULL) {
            if (!s_resolve_uint(x, n, &v) || v == 0 || v > 900) {
                snprintf(err, errcap, "%s: Timeout must be 1..900 seconds", id);
                AK_ENSURE_OUT(false, AK_E_INVALID_INPUT);
            }
            fn->timeout_ms = (unsigned)v * 1000u;
        }
        if ((n = akemu_ymap_get(P, "MemorySize")) != NULL) {
            if (!s_resolve_uint(x, n, &v) || v < 128 || v > 10240) {
                snprintf(err, errcap, "%s: MemorySize must be 128..10240 MB", id);
                AK_ENSURE_OUT(false, AK_E_INVALID_INPUT);
            }
            fn->memory_mb = (unsigned)v;
        }
        /* Reserved concurrency caps the function's execution environments; 0 throttles it. */
        if ((n = akemu_ymap_get(P, "ReservedConcurrentExecutions")) != NULL) {
            if (!s_resolve_uint(x, n, &v) || v > AKEMU_MAX_INSTANCES_LIMIT) {
                snprintf(err, errcap, "%s: ReservedConcurrentExecutions must be 0..%u", id,
                         AKEMU_MAX_INSTANCES_LIMIT);
                AK_ENSURE_OUT(false, AK_E_INVALID_INPUT);
            }
            fn->max_insts = (unsigned)v;
        }
        if (akemu_yscalar(akemu_ymap_get(P, "Handler")) != NULL)
            handler = akemu_yscalar(akemu_ymap_get(P, "Handler"));
        AK_GUARD_OUT(s_apply_env_vars(x, fn, P));
        AK_GUARD_OUT(s_event_invoke_config(x, fn, akemu_ymap_get(P, "EventInvokeConfig"), id, err, errcap));
    }
    fn->handler = s_strdup(handler);
    fn->alias = s_strdup(akemu_yscalar(akemu_ymap_get(props, "FunctionName")));
    AK_ENSURE_OUT(fn->handler != NULL, AK_E_NOMEM);

    /* Overrides: every function, then this function's own lines. */
    for (size_t i = 0; i < g_akemu.env_all.n; i++)
        AK_GUARD_OUT(akemu_env_set(&fn->env, g_akemu.env_all.v[i].key, strlen(g_akemu.env_all.v[i].key),
                                   g_akemu.env_all.v[i].val, strlen(g_akemu.env_all.v[i].val)));
    size_t idlen = strlen(id);
    for (size_t i = 0; i < g_akemu.env_fn.n; i++) {
        const char *k = g_akemu.env_fn.v[i].key;
        if (strncmp(k, id, idlen) == 0 && k[idlen] == '.')
            AK_GUARD_OUT(akemu_env_set(&fn->env, k + idlen + 1, strlen(k + idlen + 1),
                                       g_akemu.env_fn.v[i].val, strlen(g_akemu.env_fn.v[i].val)));
    }
    AK_GUARD_OUT(s_timeout_override(fn));
    AK_GUARD_OUT(s_max_insts_override(fn));
    AK_GUARD_OUT(s_bootstrap_path(fn));

    const akemu_ynode *events = akemu_ymap_get(props, "Events");
    for (size_t i = 0; events != NULL && events->type == AKEMU_Y_MAP && i < events->n; i++) {
        const akemu_ynode *ev = events->vals[i];
        const char *type = akemu_yscalar(akemu_ymap_get(ev, "Type"));
        if (type == NULL || strcmp(type, "HttpApi") != 0) continue;
        const akemu_ynode *ep = akemu_ymap_get(ev, "Properties");
        const char *path = akemu_yscalar(akemu_ymap_get(ep, "Path"));
        const char *method = akemu_yscalar(akemu_ymap_get(ep, "Method"));
        if ((path == NULL) != (method == NULL)) {
            snprintf(err, errcap, "%s: event %s needs both Path and Method (or neither, for $default)", id,
                     events->keys[i]);
            AK_ENSURE_OUT(false, AK_E_INVALID_INPUT);
        }
        rc = s_add_route(fn, method, path);
        if (rc != AK_OK) {
            snprintf(err, errcap, "%s: event %s: bad route", id, events->keys[i]);
            goto out;
        }
    }
    akemu_fn **nf = ak_realloc(g_akemu.fns, (g_akemu.n_fns + 1) * sizeof(*nf));
    AK_ENSURE_OUT(nf != NULL, AK_E_NOMEM);
    g_akemu.fns = nf;
    nf[g_akemu.n_fns++] = fn;
    fn = NULL;
out:
    if (fn != NULL) {
        ak_free(fn->name);
        ak_free(fn->dir);
        ak_free(fn->alias);
        ak_free(fn->on_failure);
        ak_free(fn->handler);
        ak_free(fn->bootstrap);
        ak_free(fn->task_root);
        akemu_env_free(&fn->env);
        ak_free(fn);
    }
    return rc;
}

ak_err akemu_template_load(const char *path, char *err, size_t errcap) {
    ak_err rc = AK_OK;
    akemu_ynode *root = NULL;
    ak_buf b;
    if (s_read_file(path, &b, 4u << 20) != AK_OK) {
        snprintf(err, errcap, "cannot read template %s: %s", path, strerror(errno));
        return AK_E_IO;
    }
    AK_GUARD_OUT(akemu_yaml_parse(ak_buf_cstr(&b), b.len, &root, err, errcap));
    const akemu_ynode *resources = akemu_ymap_get(root, "Resources");
    if (resources == NULL || resources->type != AKEMU_Y_MAP) {
        snprintf(err, errcap, "%s: no Resources map", path);
        AK_ENSURE_OUT(false, AK_E_INVALID_INPUT);
    }
    s_ctx x = {akemu_ymap_get(root, "Parameters")};
    const akemu_ynode *globals = akemu_ymap_get(akemu_ymap_get(root, "Globals"), "Function");
    for (size_t i = 0; i < resources->n; i++) {
        const char *type = akemu_yscalar(akemu_ymap_get(resources->vals[i], "Type"));
        if (type == NULL || strcmp(type, "AWS::Serverless::Function") != 0) continue;
        AK_GUARD_OUT(s_add_function(&x, resources->keys[i], resources->vals[i], globals, err, errcap));
    }
    if (g_akemu.n_fns == 0) {
        snprintf(err, errcap, "%s: no AWS::Serverless::Function resources", path);
        AK_ENSURE_OUT(false, AK_E_INVALID_INPUT);
    }
    /* Same method and path twice is a template error (API Gateway rejects it too). */
    for (size_t i = 0; i < g_akemu.n_routes; i++)
        for (size_t j = i + 1; j < g_akemu.n_routes; j++)
            if (strcmp(g_akemu.routes[i].route_key, g_akemu.routes[j].route_key) == 0) {
                snprintf(err, errcap, "duplicate route %s", g_akemu.routes[i].route_key);
                AK_ENSURE_OUT(false, AK_E_INVALID_INPUT);
            }
out:
    if (rc != AK_OK && err[0] == '\0') snprintf(err, errcap, "%s: %s", path, ak_err_message(rc));
    akemu_yaml_free(root);
    ak_buf_free(&b);
    return rc;
}
