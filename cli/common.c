/*
 * cli/common.c — the context, configuration, error reporting and file helpers of `agentkeys`.
 *
 * Profile file: $XDG_CONFIG_HOME/agentkeys/<profile>.conf (default ~/.config/agentkeys), lines
 * "key = value"; '#' starts a comment line. Env AGENTKEYS_<KEY upper> wins over the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/ct.h"
#include "cli.h"

void akcli_init(akcli *c, const char *profile, bool json);
void akcli_fini(akcli *c);

static bool s_profile_ok(const char *p) {
    size_t n = strlen(p);
    if (n == 0 || n > 64 || p[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

void akcli_init(akcli *c, const char *profile, bool json) {
    memset(c, 0, sizeof *c);
    c->prog = "agentkeys";
    if (profile == NULL) profile = getenv("AGENTKEYS_PROFILE");
    if (profile == NULL || *profile == '\0') profile = "default";
    if (!s_profile_ok(profile)) {
        fprintf(stderr, "agentkeys: bad profile name (letters, digits, - _ . only); using \"default\"\n");
        profile = "default";
    }
    c->profile = profile;
    c->json = json;
    const char *nc = getenv("NO_COLOR");
    c->color = (nc == NULL || *nc == '\0') && isatty(2);
    const char *home = getenv("HOME");
    if (home == NULL || *home == '\0') home = ".";
    const char *xc = getenv("XDG_CONFIG_HOME"), *xk = getenv("XDG_CACHE_HOME");
    if (xc && xc[0] == '/')
        snprintf(c->config_dir, sizeof c->config_dir, "%s/agentkeys", xc);
    else
        snprintf(c->config_dir, sizeof c->config_dir, "%s/.config/agentkeys", home);
    if (xk && xk[0] == '/')
        snprintf(c->cache_dir, sizeof c->cache_dir, "%s/agentkeys/%s", xk, profile);
    else
        snprintf(c->cache_dir, sizeof c->cache_dir, "%s/.cache/agentkeys/%s", home, profile);
    snprintf(c->profile_path, sizeof c->profile_path, "%s/%s.conf", c->config_dir, profile);
}

void akcli_fini(akcli *c) {
    if (c->conf_text) ak_free(c->conf_text);
    c->conf_text = NULL;
    c->conf_loaded = false;
}

bool akcli_json(const akcli *c) { return c->json; }
const char *akcli_config_dir(const akcli *c) { return c->config_dir; }
const char *akcli_cache_dir(const akcli *c) { return c->cache_dir; }

static void s_load_conf(akcli *c) {
    if (c->conf_loaded) return;
    c->conf_loaded = true;
    ak_buf b;
    ak_buf_init(&b, 1u << 20);
    if (ak_buf_append_file(&b, c->profile_path) == AK_OK && b.len > 0)
        c->conf_text = ak_strndup(ak_buf_cstr(&b), b.len);
    ak_buf_free(&b);
}

/* Finds `key` in the profile text; *val gets the trimmed value. */
static bool s_conf_find(const char *text, const char *key, ak_cur *val) {
    ak_cur all = ak_cur_from_str(text), line;
    while (all.len > 0) {
        if (!ak_cur_split(&all, '\n', &line)) {
            line = all;
            all.len = 0;
        }
        line = ak_cur_trim(line);
        if (line.len == 0 || line.ptr[0] == '#') continue;
        ak_cur k;
        if (!ak_cur_split(&line, '=', &k)) continue;
        if (ak_cur_eq_str(ak_cur_trim(k), key)) {
            *val = ak_cur_trim(line);
            return true;
        }
    }
    return false;
}

const char *akcli_conf(akcli *c, const char *key) {
    char env[96] = "AGENTKEYS_";
    size_t n = strlen(env);
    for (const char *k = key; *k && n + 1 < sizeof env; k++) {
        char ch = *k;
        if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
        if (ch == '-') ch = '_';
        env[n++] = ch;
    }
    env[n] = '\0';
    const char *v = getenv(env);
    if (v && *v) return v;
    s_load_conf(c);
    if (c->conf_text == NULL) return NULL;
    ak_cur val;
    if (!s_conf_find(c->conf_text, key, &val) || val.len == 0) return NULL;
    if (ak_cur_to_cstr(val, c->conf_value, sizeof c->conf_value) != AK_OK) return NULL;
    return c->conf_value;
}

void akcli_json_str(FILE *f, ak_cur s) {
    fputc('"', f);
    for (size_t i = 0; i < s.len; i++) {
        uint8_t ch = s.ptr[i];
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch == '\r')
            fputs("\\r", f);
        else if (ch == '\t')
            fputs("\\t", f);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static int s_vfail(akcli *c, int code, const char *reason, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (reason == NULL || *reason == '\0') reason = "error";
    if (c && c->json) {
        fflush(stdout);
        fputs("{\"error\":", stdout);
        akcli_json_str(stdout, ak_cur_from_str(msg));
        fputs(",\"reason\":", stdout);
        akcli_json_str(stdout, ak_cur_from_str(reason));
        fputs("}\n", stdout);
        fflush(stdout);
    } else {
        fflush(stdout);
        if (c && c->color)
            fprintf(stderr, "agentkeys: \033[31m%s\033[0m (%s)\n", msg, reason);
        else
            fprintf(stderr, "agentkeys: %s (%s)\n", msg, reason);
    }
    return code;
}

int akcli_fail(akcli *c, int code, const char *reason, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = s_vfail(c, code, reason, fmt, ap);
    va_end(ap);
    return r;
}

int akcli_code_for(ak_err e) {
    if (e == AK_OK) return AKCLI_OK;
    if (e == AK_E_NOT_FOUND) return AKCLI_NOT_FOUND;
    if (e == AK_E_CHAIN_RPC) return AKCLI_CHAIN;
    int st = ak_err_status(e);
    if (st == 401 || st == 403) return e == AK_E_ATTESTATION_INVALID ? AKCLI_NETWORK : AKCLI_AUTH;
    if (e == AK_E_UPSTREAM || e == AK_E_UPSTREAM_TIMEOUT || e == AK_E_THROTTLED || e == AK_E_S3_ERROR ||
        e == AK_E_STS_ERROR || e == AK_E_SIGNER_UNAVAILABLE || e == AK_E_ATTESTATION_INVALID)
        return AKCLI_NETWORK;
    return AKCLI_ERR;
}

int akcli_fail_err(akcli *c, ak_err e, const char *fmt, ...) {
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return akcli_fail(c, akcli_code_for(e), ak_err_reason(e), "%s: %s", what, ak_err_message(e));
}

int akcli_usage(akcli *c, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c && c->json) return akcli_fail(c, AKCLI_USAGE, "usage", "%s", msg);
    fprintf(stderr, "agentkeys: %s\n", msg);
    if (c && c->cmd)
        fprintf(stderr, "usage: agentkeys %s %s\n", c->cmd->name, c->cmd->args ? c->cmd->args : "");
    return AKCLI_USAGE;
}

void akcli_note(akcli *c, const char *fmt, ...) {
    (void)c;
    va_list ap;
    va_start(ap, fmt);
    fputs("agentkeys: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

ak_err akcli_mkdir_p(const char *path, unsigned mode) {
    char tmp[1024];
    AK_GUARD(ak_cur_to_cstr(ak_cur_from_str(path), tmp, sizeof tmp));
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST) return AK_E_IO;
        *p = '/';
    }
    if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST) return AK_E_IO;
    return AK_OK;
}

ak_err akcli_write_file_0600(const char *path, ak_cur data) { return ak_file_write_0600(path, data); }

ak_err akcli_conf_set(akcli *c, const char *key, const char *value) {
    s_load_conf(c);
    ak_buf out;
    ak_buf_init(&out, 1u << 20);
    ak_err rc = AK_OK;
    bool done = false;
    ak_cur all = ak_cur_from_str(c->conf_text), line;
    while (all.len > 0) {
        if (!ak_cur_split(&all, '\n', &line)) {
            line = all;
            all.len = 0;
        }
        ak_cur t = ak_cur_trim(line), rest = t, k;
        if (t.len && t.ptr[0] != '#' && ak_cur_split(&rest, '=', &k) && ak_cur_eq_str(ak_cur_trim(k), key)) {
            if (value && !done) AK_GUARD_OUT(ak_buf_printf(&out, "%s = %s\n", key, value));
            done = true;
            continue;
        }
        if (t.len == 0 && all.len == 0) continue;
        AK_GUARD_OUT(ak_buf_append_cur(&out, line));
        AK_GUARD_OUT(ak_buf_append_byte(&out, '\n'));
    }
    if (value && !done) AK_GUARD_OUT(ak_buf_printf(&out, "%s = %s\n", key, value));
    AK_GUARD_OUT(akcli_write_file_0600(c->profile_path, ak_buf_cur(&out)));
    /* Reload on next read. */
    if (c->conf_text) ak_free(c->conf_text);
    c->conf_text = NULL;
    c->conf_loaded = false;
out:
    ak_buf_free(&out);
    return rc;
}

ak_err akcli_read_input(const char *path, ak_buf *out) {
    if (path) return ak_buf_append_file(out, path);
    uint8_t chunk[4096];
    for (;;) {
        ssize_t r = read(0, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            ak_wipe(chunk, sizeof chunk);
            return AK_E_IO;
        }
        if (r == 0) break;
        ak_err e = ak_buf_append(out, chunk, (size_t)r);
        if (e != AK_OK) {
            ak_wipe(chunk, sizeof chunk);
            return e;
        }
    }
    ak_wipe(chunk, sizeof chunk);
    return AK_OK;
}
