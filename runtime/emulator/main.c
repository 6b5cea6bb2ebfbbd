/*
 * main.c — ak-emulator: command line, signals and the one event loop.
 *
 *   ak-emulator --template template.yaml [--port P] [--root DIR] [--flavour release|dev]
 *               [--env-file FILE]... [--env KEY=VALUE | --env LogicalId.KEY=VALUE]...
 *               [--bootstrap LogicalId=PATH]... [--timeout-override [LogicalId=]SECONDS|MSms]...
 *               [--max-instances [LogicalId=]N]... [--region R] [--pid-file FILE] [--ready-file FILE]
 *               [--destinations-dir DIR]
 *
 * Everything listens on 127.0.0.1 only. SIGTERM/SIGINT stop the loop, kill every bootstrap
 * (and its process group) and exit 0. See README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "emu.h"

akemu_cfg g_akemu;
static int g_epfd = -1;

ak_err akemu_loop_add(int fd, uint32_t events, akemu_watch *w) {
    struct epoll_event ev = {.events = events, .data.ptr = w};
    AK_ENSURE(epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev) == 0, AK_E_IO);
    return AK_OK;
}

ak_err akemu_loop_mod(int fd, uint32_t events, akemu_watch *w) {
    struct epoll_event ev = {.events = events, .data.ptr = w};
    AK_ENSURE(epoll_ctl(g_epfd, EPOLL_CTL_MOD, fd, &ev) == 0, AK_E_IO);
    return AK_OK;
}

void akemu_loop_del(int fd) {
    if (fd >= 0) (void)epoll_ctl(g_epfd, EPOLL_CTL_DEL, fd, NULL);
}

ak_err akemu_listen_loopback(uint16_t port, int *fd_out, uint16_t *bound) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    AK_ENSURE(fd >= 0, AK_E_IO);
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, by design */
    socklen_t alen = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        close(fd);
        return AK_E_IO;
    }
    *fd_out = fd;
    *bound = ntohs(a.sin_port);
    return AK_OK;
}

static void s_usage(void) {
    fputs("usage: ak-emulator --template FILE [--port P] [--root DIR] [--flavour release|dev]\n"
          "                   [--env-file FILE]... [--env [LogicalId.]KEY=VALUE]...\n"
          "                   [--bootstrap LogicalId=PATH]... [--timeout-override "
          "[LogicalId=]SECONDS|MSms]...\n"
          "                   [--max-instances [LogicalId=]N]... [--region REGION] [--pid-file FILE]\n"
          "                   [--ready-file FILE] [--destinations-dir DIR]\n",
          stderr);
}

/* "[LogicalId=]N" (seconds) or "[LogicalId=]Nms" -> timeouts[LogicalId or "*"] = ms. */
static ak_err s_timeout_arg(const char *arg) {
    const char *eq = strchr(arg, '=');
    const char *key = "*";
    size_t klen = 1;
    const char *num = arg;
    if (eq != NULL) {
        key = arg;
        klen = (size_t)(eq - arg);
        num = eq + 1;
    }
    ak_cur n = ak_cur_from_str(num);
    bool ms = n.len > 2 && n.ptr[n.len - 2] == 'm' && n.ptr[n.len - 1] == 's';
    if (ms) n.len -= 2;
    uint64_t v;
    AK_GUARD(ak_cur_to_u64(n, &v));
    AK_ENSURE(v > 0 && v <= (ms ? 900000u : 900u), AK_E_INVALID_INPUT);
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(ms ? v : v * 1000u));
    return akemu_env_set(&g_akemu.timeouts, key, klen, buf, strlen(buf));
}

/* "[LogicalId=]N" -> max_insts[LogicalId or "*"] = N (1..AKEMU_MAX_INSTANCES_LIMIT). */
static ak_err s_max_insts_arg(const char *arg) {
    const char *eq = strchr(arg, '=');
    const char *key = eq ? arg : "*";
    size_t klen = eq ? (size_t)(eq - arg) : 1;
    const char *num = eq ? eq + 1 : arg;
    AK_ENSURE(klen > 0, AK_E_INVALID_INPUT);
    uint64_t v;
    AK_GUARD(ak_cur_to_u64(ak_cur_from_str(num), &v));
    AK_ENSURE(v >= 1 && v <= AKEMU_MAX_INSTANCES_LIMIT, AK_E_INVALID_INPUT);
    char buf[16];
    snprintf(buf, sizeof(buf), "%u", (unsigned)v);
    return akemu_env_set(&g_akemu.max_insts, key, klen, buf, strlen(buf));
}

static ak_err s_write_file(const char *path, const char *text) {
    char tmp[PATH_MAX];
    AK_ENSURE((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) < sizeof(tmp), AK_E_LIMIT);
    FILE *f = fopen(tmp, "w");
    AK_ENSURE(f != NULL, AK_E_IO);
    bool ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    /* rename: a script polling for the file never reads it half-written. */
    AK_ENSURE(ok && rename(tmp, path) == 0, AK_E_IO);
    return AK_OK;
}

static char *s_dup(const char *s) { return ak_strndup(s, strlen(s)); }

static void s_free_cfg(void) {
    for (size_t i = 0; i < g_akemu.n_fns; i++) {
        akemu_fn *f = g_akemu.fns[i];
        ak_free(f->name);
        ak_free(f->alias);
        ak_free(f->on_failure);
        ak_free(f->dir);
        ak_free(f->handler);
        ak_free(f->bootstrap);
        ak_free(f->task_root);
        akemu_env_free(&f->env);
        ak_free(f);
    }
    ak_free(g_akemu.fns);
    for (size_t i = 0; i < g_akemu.n_routes; i++) {
        ak_free(g_akemu.routes[i].method);
        ak_free(g_akemu.routes[i].path);
        ak_free(g_akemu.routes[i].route_key);
    }
    ak_free(g_akemu.routes);
    akemu_env_free(&g_akemu.env_all);
    akemu_env_free(&g_akemu.env_fn);
    akemu_env_free(&g_akemu.bootstraps);
    akemu_env_free(&g_akemu.timeouts);
    akemu_env_free(&g_akemu.max_insts);
    ak_free(g_akemu.template_path);
    ak_free(g_akemu.root);
    ak_free(g_akemu.flavour);
    ak_free(g_akemu.pid_file);
    ak_free(g_akemu.ready_file);
    ak_free(g_akemu.destinations_dir);
    ak_free(g_akemu.region);
}

int main(int argc, char **argv) {
    int ret = 1;
    int lfd = -1, sfd = -1;
    char err[512] = "";
    ak_alloc_install_jansson();
    /* Logs go to a file under build/local/ in the stack scripts: keep lines whole and prompt. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    const char *region = getenv("AWS_REGION");
    g_akemu.region = s_dup(region && *region ? region : "us-east-1");
    g_akemu.flavour = s_dup("release");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        ak_err rc = AK_OK;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            s_usage();
            ret = 0;
            goto out;
        } else if (v == NULL) {
            takes = false;
            rc = AK_E_INVALID_INPUT;
        } else if (strcmp(a, "--template") == 0) {
            ak_free(g_akemu.template_path);
            g_akemu.template_path = s_dup(v);
        } else if (strcmp(a, "--root") == 0) {
            ak_free(g_akemu.root);
            g_akemu.root = s_dup(v);
        } else if (strcmp(a, "--flavour") == 0 || strcmp(a, "--flavor") == 0) {
            rc = (strcmp(v, "release") == 0 || strcmp(v, "dev") == 0) ? AK_OK : AK_E_INVALID_INPUT;
            ak_free(g_akemu.flavour);
            g_akemu.flavour = s_dup(v);
        } else if (strcmp(a, "--port") == 0) {
            uint64_t p;
            rc = ak_cur_to_u64(ak_cur_from_str(v), &p);
            if (rc == AK_OK && p > 65535) rc = AK_E_INVALID_INPUT;
            g_akemu.port = (uint16_t)p;
        } else if (strcmp(a, "--env-file") == 0) {
            rc = akemu_env_file_load(v, err, sizeof(err));
        } else if (strcmp(a, "--env") == 0) {
            rc = akemu_env_override(v, strlen(v));
        } else if (strcmp(a, "--bootstrap") == 0) {
            const char *eq = strchr(v, '=');
            rc = eq && eq > v && eq[1]
                     ? akemu_env_set(&g_akemu.bootstraps, v, (size_t)(eq - v), eq + 1, strlen(eq + 1))
                     : AK_E_INVALID_INPUT;
        } else if (strcmp(a, "--timeout-override") == 0) {
            rc = s_timeout_arg(v);
        } else if (strcmp(a, "--max-instances") == 0) {
            rc = s_max_insts_arg(v);
        } else if (strcmp(a, "--region") == 0) {
            ak_free(g_akemu.region);
            g_akemu.region = s_dup(v);
        } else if (strcmp(a, "--pid-file") == 0) {
            ak_free(g_akemu.pid_file);
            g_akemu.pid_file = s_dup(v);
        } else if (strcmp(a, "--ready-file") == 0) {
            ak_free(g_akemu.ready_file);
            g_akemu.ready_file = s_dup(v);
        } else if (strcmp(a, "--destinations-dir") == 0) {
            ak_free(g_akemu.destinations_dir);
            g_akemu.destinations_dir = s_dup(v);
        } else {
            rc = AK_E_INVALID_INPUT;
        }
        if (rc != AK_OK) {
            if (err[0]) {
                fprintf(stderr, "ak-emulator: %s\n", err);
            } else {
                fprintf(stderr, "ak-emulator: bad argument: %s%s%s\n", a, takes ? " " : "", takes ? v : "");
            }
            s_usage();
            ret = 2;
            goto out;
        }
        i++;
    }
    if (g_akemu.template_path == NULL) {
        s_usage();
        ret = 2;
        goto out;
    }
    if (g_akemu.root == NULL) {
        /* Default: the template's directory (template.yaml sits at the repository root). */
        const char *slash = strrchr(g_akemu.template_path, '/');
        g_akemu.root =
            slash ? ak_strndup(g_akemu.template_path, (size_t)(slash - g_akemu.template_path)) : s_dup(".");
    }
    {
        char abs[PATH_MAX];
        if (realpath(g_akemu.root, abs) == NULL) {
            fprintf(stderr, "ak-emulator: --root %s: %s\n", g_akemu.root, strerror(errno));
            ret = 2;
            goto out;
        }
        ak_free(g_akemu.root);
        g_akemu.root = s_dup(abs);
    }
    if (akemu_template_load(g_akemu.template_path, err, sizeof(err)) != AK_OK) {
        fprintf(stderr, "ak-emulator: %s\n", err);
        ret = 2;
        goto out;
    }

    /* Signals through a signalfd so they are just another event in the loop. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 ||
        (sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        perror("ak-emulator: signalfd");
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    uint16_t bound = 0;
    if (g_epfd < 0 || akemu_listen_loopback(g_akemu.port, &lfd, &bound) != AK_OK) {
        fprintf(stderr, "ak-emulator: cannot listen on 127.0.0.1:%u: %s\n", (unsigned)g_akemu.port,
                strerror(errno));
        goto out;
    }
    g_akemu.port = bound;
    akemu_watch lw = {AKEMU_W_FRONT_LISTEN, NULL}, sw = {AKEMU_W_SIGNAL, NULL};
    if (akemu_loop_add(lfd, EPOLLIN, &lw) != AK_OK || akemu_loop_add(sfd, EPOLLIN, &sw) != AK_OK) goto out;

    for (size_t i = 0; i < g_akemu.n_fns; i++) {
        akemu_fn *f = g_akemu.fns[i];
        bool exists = access(f->bootstrap, X_OK) == 0;
        akemu_logf("emulator", "function %s: timeout %u ms, memory %u MB, max instances %u, bootstrap %s%s",
                   f->name, f->timeout_ms, f->memory_mb, f->max_insts, f->bootstrap,
                   exists ? "" : " (missing: invocations will fail until it is built)");
    }
    for (size_t i = 0; i < g_akemu.n_routes; i++)
        akemu_logf("emulator", "route %s -> %s", g_akemu.routes[i].route_key, g_akemu.routes[i].fn->name);
    char line[256];
    snprintf(line, sizeof(line), "%d\n", (int)getpid());
    if (g_akemu.pid_file && s_write_file(g_akemu.pid_file, line) != AK_OK) {
        fprintf(stderr, "ak-emulator: cannot write %s\n", g_akemu.pid_file);
        goto out;
    }
    snprintf(line, sizeof(line), "%u\n", (unsigned)g_akemu.port);
    if (g_akemu.ready_file && s_write_file(g_akemu.ready_file, line) != AK_OK) {
        fprintf(stderr, "ak-emulator: cannot write %s\n", g_akemu.ready_file);
        goto out;
    }
    akemu_logf("emulator", "ready http://127.0.0.1:%u (invoke API, HTTP API, /__emulator/) pid %d",
               (unsigned)g_akemu.port, (int)getpid());

    bool running = true;
    while (running) {
        uint64_t now = akemu_now_ns();
        int wait_ms = akemu_fns_tick(now);
        akemu_conn_sweep(now);
        /* Draining connections need a periodic look too. */
        if (wait_ms < 0 || wait_ms > 1000) wait_ms = 1000;
        struct epoll_event evs[64];
        int n = epoll_wait(g_epfd, evs, 64, wait_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("ak-emulator: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            akemu_watch *w = evs[i].data.ptr;
            switch (w->kind) {
                case AKEMU_W_FRONT_LISTEN:
                    akemu_conn_accept(lfd, AKEMU_ROLE_FRONT, NULL);
                    break;
                case AKEMU_W_RAPI_LISTEN:
                    akemu_rapi_accept(w->obj);
                    break;
                case AKEMU_W_CONN:
                    akemu_conn_event(w->obj, evs[i].events);
                    break;
                case AKEMU_W_PIPE:
                    akemu_pipe_event(w->obj, evs[i].events);
                    break;
                case AKEMU_W_SIGNAL: {
                    struct signalfd_siginfo si;
                    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                        if (si.ssi_signo == SIGCHLD) {
                            int st;
                            struct rusage ru;
                            pid_t pid;
                            while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0)
                                akemu_child_exited(pid, st, ru.ru_maxrss);
                        } else {
                            akemu_logf("emulator", "signal %u: shutting down", si.ssi_signo);
                            running = false;
                        }
                    }
                    break;
                }
            }
        }
    }
    ret = 0;
out:
    akemu_fns_shutdown();
    akemu_conns_free_all();
    if (lfd >= 0) close(lfd);
    if (sfd >= 0) close(sfd);
    if (g_epfd >= 0) close(g_epfd);
    if (g_akemu.pid_file) (void)unlink(g_akemu.pid_file);
    s_free_cfg();
    return ret;
}
