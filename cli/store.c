/*
 * cli/store.c — `agentkeys cred put|get|rm|ls`, `mem put|get|rm|ls`, `inbox ls|cat`.
 *
 * Values never come from argv: `put` reads stdin (or --file F). A credential's one trailing
 * newline is dropped (what `echo sk-... | agentkeys cred put x` means; --raw keeps it); memory
 * values are stored byte for byte. `get` writes the value as is (plus a newline when stdout is
 * a terminal). put/get go through the workers (caps + STS); rm and ls have no worker route and
 * go to S3 directly with the agent's STS credentials, which IAM confines to its own prefix.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "use.h"

typedef struct s_args {
    const char *name;
    const char *file;
    bool raw;
    bool quarantine;
} s_args;

static int s_parse(akcli *c, int argc, char **argv, s_args *a, bool want_name, bool allow_file) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *x = argv[i];
        if (allow_file && strcmp(x, "--file") == 0 && i + 1 < argc)
            a->file = argv[++i];
        else if (allow_file && strcmp(x, "--raw") == 0)
            a->raw = true;
        else if (strcmp(x, "--quarantine") == 0)
            a->quarantine = true;
        else if (x[0] == '-' && x[1] != '\0')
            return akcli_usage(c, "unknown option %s", x);
        else if (want_name && a->name == NULL)
            a->name = x;
        else
            return akcli_usage(c, "unexpected argument '%s'", x);
    }
    if (want_name && a->name == NULL) return akcli_usage(c, "a name is required");
    return AKCLI_OK;
}

static int s_put(akcli *c, ak_data_class cls, int argc, char **argv) {
    s_args a;
    int rc = s_parse(c, argc, argv, &a, true, true);
    if (rc != AKCLI_OK) return rc;
    if (a.file == NULL && isatty(0)) akcli_note(c, "reading the value from stdin (end with Ctrl-D)");
    ak_buf v;
    ak_buf_init_secret(&v, AK_CLIENT_MAX_VALUE);
    ak_err e = akcli_read_input(a.file, &v);
    if (e != AK_OK) {
        rc = e == AK_E_LIMIT ? akcli_fail(c, AKCLI_ERR, "too_large", "the value is larger than %u bytes",
                                          AK_CLIENT_MAX_VALUE)
                             : akcli_fail(c, AKCLI_ERR, "io_error", "cannot read the value");
        ak_buf_free(&v);
        return rc;
    }
    if (cls == AK_CLASS_CREDENTIALS && !a.raw) {
        if (v.len > 0 && v.ptr[v.len - 1] == '\n') v.len--;
        if (v.len > 0 && v.ptr[v.len - 1] == '\r') v.len--;
    }
    if (v.len == 0) {
        ak_buf_free(&v);
        return akcli_fail(c, AKCLI_USAGE, "invalid_input", "the value is empty");
    }
    akcli_session s;
    rc = akcli_session_open(c, &s);
    if (rc == AKCLI_OK) {
        e = ak_client_put(s.cl, cls, ak_cur_from_str(a.name), ak_buf_cur(&v));
        if (e != AK_OK)
            rc = akcli_session_fail(&s, e, cls == AK_CLASS_CREDENTIALS ? "cred put" : "mem put");
        else if (akcli_json(c))
            printf("{\"ok\":true,\"name\":\"%s\",\"bytes\":%zu}\n", a.name, v.len);
        else
            akcli_note(c, "stored %s %s (%zu bytes)", cls == AK_CLASS_CREDENTIALS ? "credential" : "memory",
                       a.name, v.len);
        akcli_session_close(&s);
    }
    ak_buf_free(&v);
    return rc;
}

static int s_get(akcli *c, ak_data_class cls, int argc, char **argv) {
    s_args a;
    int rc = s_parse(c, argc, argv, &a, true, false);
    if (rc != AKCLI_OK) return rc;
    akcli_session s;
    rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    ak_buf v;
    ak_buf_init_secret(&v, AK_CLIENT_MAX_VALUE + 1);
    ak_err e = ak_client_get(s.cl, cls, ak_cur_from_str(a.name), &v);
    if (e == AK_E_NOT_FOUND) {
        rc = akcli_fail(c, AKCLI_NOT_FOUND, "not_found", "%s '%s' is not stored",
                        cls == AK_CLASS_CREDENTIALS ? "credential" : "memory", a.name);
    } else if (e != AK_OK) {
        rc = akcli_session_fail(&s, e, cls == AK_CLASS_CREDENTIALS ? "cred get" : "mem get");
    } else if (akcli_json(c)) {
        printf("{\"name\":\"%s\",\"value\":", a.name);
        akcli_json_str(stdout, ak_buf_cur(&v));
        printf("}\n");
    } else {
        fwrite(v.ptr, 1, v.len, stdout);
        if (isatty(1)) fputc('\n', stdout);
    }
    fflush(stdout);
    ak_buf_free(&v);
    akcli_session_close(&s);
    return rc;
}

static int s_rm(akcli *c, ak_data_class cls, int argc, char **argv) {
    s_args a;
    int rc = s_parse(c, argc, argv, &a, true, false);
    if (rc != AKCLI_OK) return rc;
    akcli_session s;
    rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    ak_err e = ak_client_delete(s.cl, cls, ak_cur_from_str(a.name));
    if (e == AK_E_NOT_FOUND)
        rc = akcli_fail(c, AKCLI_NOT_FOUND, "not_found", "'%s' is not stored", a.name);
    else if (e != AK_OK)
        rc = akcli_session_fail(&s, e, cls == AK_CLASS_CREDENTIALS ? "cred rm" : "mem rm");
    else if (akcli_json(c))
        printf("{\"ok\":true,\"name\":\"%s\"}\n", a.name);
    else
        akcli_note(c, "removed %s", a.name);
    akcli_session_close(&s);
    return rc;
}

typedef struct s_ls {
    akcli *c;
    size_t n;
} s_ls;

static ak_err s_ls_item(void *ud, const ak_client_item *it) {
    s_ls *l = ud;
    if (akcli_json(l->c)) {
        printf("%s{\"name\":", l->n ? "," : "");
        akcli_json_str(stdout, it->name);
        printf(",\"size\":%llu,\"last_modified\":", (unsigned long long)it->size);
        akcli_json_str(stdout, it->last_modified);
        printf("}");
    } else {
        fwrite(it->name.ptr, 1, it->name.len, stdout);
        fputc('\n', stdout);
    }
    l->n++;
    return AK_OK;
}

static int s_ls_run(akcli *c, ak_data_class cls, const char *mail_dir, int argc, char **argv) {
    s_args a;
    int rc = s_parse(c, argc, argv, &a, false, false);
    if (rc != AKCLI_OK) return rc;
    if (a.quarantine) mail_dir = "quarantine";
    akcli_session s;
    rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    s_ls l = {.c = c};
    if (akcli_json(c)) printf("[");
    ak_err e = ak_client_list(s.cl, cls, mail_dir, s_ls_item, &l);
    if (akcli_json(c)) printf("]\n");
    fflush(stdout);
    if (e != AK_OK) rc = akcli_session_fail(&s, e, "list");
    akcli_session_close(&s);
    return rc;
}

int akcli_cmd_cred_put(akcli *c, int argc, char **argv) {
    /* a use policy or --for AGENT (D19): cli/use.c */
    if (akcli_cred_put_has_use_opts(argc, argv)) return akcli_cmd_cred_put_use(c, argc, argv);
    return s_put(c, AK_CLASS_CREDENTIALS, argc, argv);
}
int akcli_cmd_cred_get(akcli *c, int argc, char **argv) { return s_get(c, AK_CLASS_CREDENTIALS, argc, argv); }
int akcli_cmd_cred_rm(akcli *c, int argc, char **argv) { return s_rm(c, AK_CLASS_CREDENTIALS, argc, argv); }
int akcli_cmd_cred_ls(akcli *c, int argc, char **argv) {
    return s_ls_run(c, AK_CLASS_CREDENTIALS, NULL, argc, argv);
}
int akcli_cmd_mem_put(akcli *c, int argc, char **argv) { return s_put(c, AK_CLASS_MEMORY, argc, argv); }
int akcli_cmd_mem_get(akcli *c, int argc, char **argv) { return s_get(c, AK_CLASS_MEMORY, argc, argv); }
int akcli_cmd_mem_rm(akcli *c, int argc, char **argv) { return s_rm(c, AK_CLASS_MEMORY, argc, argv); }
int akcli_cmd_mem_ls(akcli *c, int argc, char **argv) {
    return s_ls_run(c, AK_CLASS_MEMORY, NULL, argc, argv);
}
int akcli_cmd_inbox_ls(akcli *c, int argc, char **argv) {
    return s_ls_run(c, AK_CLASS_MAIL, "inbound", argc, argv);
}

int akcli_cmd_inbox_cat(akcli *c, int argc, char **argv) {
    s_args a;
    int rc = s_parse(c, argc, argv, &a, true, false);
    if (rc != AKCLI_OK) return rc;
    akcli_session s;
    rc = akcli_session_open(c, &s);
    if (rc != AKCLI_OK) return rc;
    ak_buf m;
    ak_buf_init_secret(&m, 40u << 20);
    ak_err e = ak_client_mail_get(s.cl, a.quarantine ? "quarantine" : "inbound", ak_cur_from_str(a.name), &m);
    if (e == AK_E_NOT_FOUND)
        rc = akcli_fail(c, AKCLI_NOT_FOUND, "not_found", "no message '%s'", a.name);
    else if (e == AK_E_INVALID_INPUT)
        rc = akcli_usage(c, "'%s' is not a message id (see agentkeys inbox ls)", a.name);
    else if (e != AK_OK)
        rc = akcli_session_fail(&s, e, "inbox cat");
    else if (akcli_json(c)) {
        printf("{\"id\":");
        akcli_json_str(stdout, ak_cur_from_str(a.name));
        printf(",\"message\":");
        akcli_json_str(stdout, ak_buf_cur(&m));
        printf("}\n");
    } else
        fwrite(m.ptr, 1, m.len, stdout);
    fflush(stdout);
    ak_buf_free(&m);
    akcli_session_close(&s);
    return rc;
}
