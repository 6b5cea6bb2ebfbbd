/*
 * cli/run.c — `agentkeys run --env NAME=cred:SERVICE [--env NAME=mem:NS] ... [--no-masking] -- CMD ARGS`
 *
 * Resolves every --env first (any failure: nothing runs), then forks; only the child puts the
 * values in its environment (setenv after fork) and execs CMD. Nothing is written to disk.
 * By default the child's stdout and stderr go through pipes and every occurrence of any value
 * is replaced with "****" on the way out, including an occurrence split across two reads (the
 * masker holds back a tail that could still start a value). --no-masking lets the child write
 * to our stdout/stderr directly. The exit status is the child's; killed by signal N -> 128+N.
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT received meanwhile are passed on to the child.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "ak/alloc.h"
#include "ak/ct.h"

#define S_MAX_ENV 32

/* ---------------------------------------------------------------- run */

typedef struct s_env {
    char name[128];
    ak_data_class cls;
    char source[80];
    ak_buf value; /* secret */
} s_env;

static volatile sig_atomic_t s_child_pid;

static void s_forward(int sig) {
    if (s_child_pid > 0) kill((pid_t)s_child_pid, sig);
}

static bool s_name_ok(const char *n, size_t len) {
    if (len == 0 || len >= 128 || (n[0] >= '0' && n[0] <= '9')) return false;
    for (size_t i = 0; i < len; i++) {
        char ch = n[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    }
    return true;
}

static int s_parse_env(akcli *c, const char *spec, s_env *e) {
    const char *eq = strchr(spec, '=');
    if (!eq || !s_name_ok(spec, (size_t)(eq - spec)))
        return akcli_usage(c, "--env wants NAME=cred:SERVICE or NAME=mem:NAMESPACE, got '%s'", spec);
    memcpy(e->name, spec, (size_t)(eq - spec));
    e->name[eq - spec] = '\0';
    const char *src = eq + 1;
    if (strncmp(src, "cred:", 5) == 0)
        e->cls = AK_CLASS_CREDENTIALS;
    else if (strncmp(src, "mem:", 4) == 0)
        e->cls = AK_CLASS_MEMORY;
    else
        return akcli_usage(c, "--env %s: the source is cred:SERVICE or mem:NAMESPACE", e->name);
    const char *nm = strchr(src, ':') + 1;
    if (*nm == '\0' || strlen(nm) >= sizeof e->source)
        return akcli_usage(c, "--env %s: a name is required", e->name);
    snprintf(e->source, sizeof e->source, "%s", nm);
    return AKCLI_OK;
}

/* Copies everything from fd through the masker to `to` until EOF. Returns false at EOF. */
static bool s_pump(int fd, akcli_masker *m, int to) {
    uint8_t chunk[4096];
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    bool eof = r <= 0;
    ak_buf out;
    ak_buf_init_secret(&out, 1u << 25);
    ak_cur in = eof ? ak_cur_from(NULL, 0) : ak_cur_from(chunk, (size_t)r);
    if (akcli_masker_feed(m, in, eof, &out) != AK_OK) {
        /* cannot mask (out of memory): drop the output rather than leak a value */
        ak_buf_clear(&out);
        eof = true;
    }
    size_t off = 0;
    while (off < out.len) {
        ssize_t w = write(to, out.ptr + off, out.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    ak_wipe(chunk, sizeof chunk);
    ak_buf_free(&out);
    return !eof;
}

int akcli_cmd_run(akcli *c, int argc, char **argv) {
    s_env envs[S_MAX_ENV];
    size_t n_env = 0;
    bool masking = true;
    int i = 0, rc = AKCLI_OK;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--no-masking") == 0)
            masking = false;
        else if ((strcmp(argv[i], "--env") == 0 || strcmp(argv[i], "-e") == 0) && i + 1 < argc) {
            if (n_env == S_MAX_ENV) return akcli_usage(c, "at most %d --env", S_MAX_ENV);
            memset(&envs[n_env], 0, sizeof envs[n_env]);
            rc = s_parse_env(c, argv[++i], &envs[n_env]);
            if (rc != AKCLI_OK) return rc;
            n_env++;
        } else if (strncmp(argv[i], "--env=", 6) == 0) {
            if (n_env == S_MAX_ENV) return akcli_usage(c, "at most %d --env", S_MAX_ENV);
            memset(&envs[n_env], 0, sizeof envs[n_env]);
            rc = s_parse_env(c, argv[i] + 6, &envs[n_env]);
            if (rc != AKCLI_OK) return rc;
            n_env++;
        } else
            return akcli_usage(c, "unexpected '%s' (the command goes after --)", argv[i]);
    }
    if (i >= argc) return akcli_usage(c, "no command (agentkeys run --env NAME=cred:SERVICE -- CMD ARGS)");
    char **cmd = argv + i;
    for (size_t k = 0; k < n_env; k++)
        ak_buf_init_secret(&envs[k].value, AK_CLIENT_MAX_VALUE + 1);

    /* resolve every value before anything runs */
    akcli_session s;
    bool open = false;
    if (n_env > 0) {
        rc = akcli_session_open(c, &s);
        if (rc != AKCLI_OK) goto out;
        open = true;
    }
    for (size_t k = 0; k < n_env; k++) {
        ak_err e = ak_client_get(s.cl, envs[k].cls, ak_cur_from_str(envs[k].source), &envs[k].value);
        if (e == AK_E_NOT_FOUND) {
            rc = akcli_fail(c, AKCLI_NOT_FOUND, "not_found", "--env %s: %s '%s' is not stored", envs[k].name,
                            envs[k].cls == AK_CLASS_CREDENTIALS ? "credential" : "memory", envs[k].source);
            goto out;
        }
        if (e != AK_OK) {
            char what[200];
            snprintf(what, sizeof what, "--env %s", envs[k].name);
            rc = akcli_session_fail(&s, e, what);
            goto out;
        }
        if (memchr(envs[k].value.ptr, 0, envs[k].value.len) != NULL) {
            rc =
                akcli_fail(c, AKCLI_ERR, "invalid_input", "--env %s: the value has a NUL byte", envs[k].name);
            goto out;
        }
    }
    if (open) {
        akcli_session_close(&s);
        open = false;
    }

    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    if (masking && (pipe(outp) != 0 || pipe(errp) != 0)) {
        rc = akcli_fail(c, AKCLI_ERR, "io_error", "cannot create pipes");
        goto out;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        rc = akcli_fail(c, AKCLI_ERR, "io_error", "cannot fork");
        goto out;
    }
    if (pid == 0) {
        if (masking) {
            dup2(outp[1], 1);
            dup2(errp[1], 2);
            close(outp[0]);
            close(outp[1]);
            close(errp[0]);
            close(errp[1]);
        }
        for (size_t k = 0; k < n_env; k++)
            if (setenv(envs[k].name, ak_buf_cstr(&envs[k].value), 1) != 0) _exit(127);
        execvp(cmd[0], cmd);
        int err = errno;
        dprintf(2, "agentkeys: cannot run %s: %s\n", cmd[0], strerror(err));
        _exit(err == ENOENT ? 127 : 126);
    }
    s_child_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_forward;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
        sigaction(sigs[k], &sa, NULL);

    if (masking) {
        close(outp[1]);
        close(errp[1]);
        ak_cur vals[S_MAX_ENV];
        for (size_t k = 0; k < n_env; k++)
            vals[k] = ak_buf_cur(&envs[k].value);
        akcli_masker mo, me;
        akcli_masker_init(&mo, vals, n_env);
        akcli_masker_init(&me, vals, n_env);
        struct pollfd pf[2] = {{.fd = outp[0], .events = POLLIN}, {.fd = errp[0], .events = POLLIN}};
        int open_fds = 2;
        while (open_fds > 0) {
            int pr = poll(pf, 2, -1);
            if (pr < 0 && errno == EINTR) continue;
            if (pr < 0) break;
            for (int k = 0; k < 2; k++) {
                if (pf[k].fd < 0 || !(pf[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                if (!s_pump(pf[k].fd, k == 0 ? &mo : &me, k == 0 ? 1 : 2)) {
                    close(pf[k].fd);
                    pf[k].fd = -1;
                    open_fds--;
                }
            }
        }
        akcli_masker_free(&mo);
        akcli_masker_free(&me);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    s_child_pid = 0;
    if (WIFEXITED(status))
        rc = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        rc = 128 + WTERMSIG(status);
    else
        rc = AKCLI_ERR;
out:
    if (open) akcli_session_close(&s);
    for (size_t k = 0; k < n_env; k++)
        ak_buf_free(&envs[k].value);
    return rc;
}
