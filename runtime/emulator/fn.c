/*
 * fn.c — Lambda execution environments (instances) per function: the Runtime API, the
 * bootstrap processes, the invocation queue, timeouts, crashes and the START/END/REPORT lines.
 *
 * Model (like on-demand Lambda): each function has a pool of up to fn->max_insts instances
 * (default 4, ReservedConcurrentExecutions or --max-instances), one invocation in flight per
 * instance. An invocation goes to an idle instance whose runtime waits in GET /next, the most
 * recently used first (warm); when every instance is busy or starting, a new one is spawned
 * (cold start); beyond the cap, invocations wait in a FIFO. Instances are kept warm until they
 * die, time out or are stopped. Scaling out matters beyond speed: a function that, while
 * handling a request, causes another request to itself (OidcFunction -> STS -> our JWKS route)
 * would deadlock with a single instance. Each instance gets its own Runtime API listener on a
 * fresh loopback port, so a killed process can never talk to its successor's API.
 *
 * The Runtime API is version 2018-06-01 (lambda.md B7):
 *   GET  /2018-06-01/runtime/invocation/next            long poll; event + Lambda-Runtime-* headers
 *   POST /2018-06-01/runtime/invocation/{id}/response   202; 413 over 6 MiB (RIE behaviour)
 *   POST /2018-06-01/runtime/invocation/{id}/error      202; Lambda-Runtime-Function-Error-Type
 *   POST /2018-06-01/runtime/init/error                 202; the environment is then reset
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ak/alloc.h"
#include "ak/json.h"
#include "ak/limits.h"
#include "emu.h"

extern char **environ;

typedef struct s_pipe {
    int fd;
    akemu_watch w;
    akemu_fn *fn;
    struct akemu_inst *inst; /* NULL once the instance is gone (the pipe drains on its own) */
    char line[AK_MAX_LOG_LINE];
    size_t len;
    struct s_pipe *next;
} s_pipe;

typedef struct akemu_inst {
    akemu_fn *fn;
    struct akemu_inst *next; /* fn->insts list */
    unsigned seq;            /* 1, 2, ... per function: names the instance in logs and stats */
    pid_t pid;
    int lfd;
    uint16_t port;
    akemu_watch lw;
    s_pipe *out, *err;
    uint64_t t_spawn_ns, t_first_next_ns;
    uint64_t t_last_used_ns; /* end of its last invocation; 0 before the first */
    uint64_t served;
    akemu_conn *next_conn; /* a parked GET /next */
    akemu_inv *cur;        /* the invocation handed to the runtime */
} akemu_inst;

static s_pipe *g_pipes;

/* ---------------------------------------------------------------- small helpers */

uint64_t akemu_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t akemu_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void s_random(uint8_t *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            /* No entropy source: ids only need to be unique within this process. */
            static uint64_t ctr = 0x9e3779b97f4a7c15u;
            for (; got < n; got++)
                p[got] = (uint8_t)((ctr = ctr * 6364136223846793005u + 1442695040888963407u) >> 56);
            return;
        }
        got += (size_t)r;
    }
}

void akemu_uuid(char out[40]) {
    uint8_t b[16];
    s_random(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char hex[33];
    ak_hex_encode(b, sizeof(b), hex);
    snprintf(out, 40, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static void s_write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return; /* stdout gone: nothing useful to do */
        }
        p += w;
        n -= (size_t)w;
    }
}

void akemu_logf(const char *name, const char *fmt, ...) {
    char buf[AK_MAX_LOG_LINE + 256];
    int k = snprintf(buf, sizeof(buf), "[%s] ", name);
    if (k < 0) return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + k, sizeof(buf) - (size_t)k - 1, fmt, ap);
    va_end(ap);
    if (m < 0) return;
    size_t n = (size_t)k + (size_t)m;
    if (n > sizeof(buf) - 2) n = sizeof(buf) - 2;
    buf[n++] = '\n';
    s_write_all(1, buf, n);
}

/* Keeps the last AKEMU_LOG_TAIL bytes of an invocation's log (X-Amz-Log-Type: Tail). */
static void s_tail_add(akemu_inv *inv, const char *line, size_t n) {
    if (inv == NULL || !inv->want_tail) return;
    if (n + 1 > AKEMU_LOG_TAIL) {
        line += n + 1 - AKEMU_LOG_TAIL;
        n = AKEMU_LOG_TAIL - 1;
    }
    ak_buf *t = &inv->log_tail;
    if (t->len + n + 1 > AKEMU_LOG_TAIL) {
        size_t drop = t->len + n + 1 - AKEMU_LOG_TAIL;
        memmove(t->ptr, t->ptr + drop, t->len - drop);
        t->len -= drop;
    }
    if (ak_buf_append(t, line, n) != AK_OK || ak_buf_append_byte(t, '\n') != AK_OK) return;
}

/* A platform line (START/END/REPORT...) for the function, also into the invocation's tail. */
static void s_plat(akemu_fn *fn, akemu_inv *inv, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_plat(akemu_fn *fn, akemu_inv *inv, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    akemu_logf(fn->name, "%s", line);
    s_tail_add(inv, line, strnlen(line, sizeof(line)));
}

/* ---------------------------------------------------------------- child output */

static void s_pipe_line(s_pipe *p) {
    akemu_logf(p->fn->name, "%.*s", (int)p->len, p->line);
    if (p->inst != NULL) s_tail_add(p->inst->cur, p->line, p->len);
    p->len = 0;
}

static void s_pipe_close(s_pipe *p) {
    if (p->len > 0) s_pipe_line(p);
    akemu_loop_del(p->fd);
    close(p->fd);
    p->fd = -1;
    if (p->inst != NULL) {
        if (p->inst->out == p) p->inst->out = NULL;
        if (p->inst->err == p) p->inst->err = NULL;
    }
    for (s_pipe **pp = &g_pipes; *pp != NULL; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    ak_free(p);
}

/* Reads what is available; returns false when the pipe was closed (and freed). */
static bool s_pipe_read(s_pipe *p) {
    for (;;) {
        char tmp[8192];
        ssize_t n = read(p->fd, tmp, sizeof(tmp));
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
            s_pipe_close(p);
            return false;
        }
        if (n == 0) {
            s_pipe_close(p);
            return false;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (tmp[i] == '\n') {
                s_pipe_line(p);
            } else if (p->len == sizeof(p->line)) {
                s_pipe_line(p); /* an over-long line is split, never dropped */
                p->line[p->len++] = tmp[i];
            } else {
                p->line[p->len++] = tmp[i];
            }
        }
    }
}

void akemu_pipe_event(void *pipe_obj, uint32_t events) {
    (void)events;
    (void)s_pipe_read(pipe_obj);
}

static void s_drain_output(akemu_inst *inst) {
    if (inst->out != NULL) (void)s_pipe_read(inst->out);
    if (inst->err != NULL) (void)s_pipe_read(inst->err);
}

static s_pipe *s_pipe_new(int fd, akemu_inst *inst) {
    s_pipe *p = ak_calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    p->fd = fd;
    p->fn = inst->fn;
    p->inst = inst;
    p->w = (akemu_watch){AKEMU_W_PIPE, p};
    if (akemu_loop_add(fd, EPOLLIN, &p->w) != AK_OK) {
        ak_free(p);
        return NULL;
    }
    p->next = g_pipes;
    g_pipes = p;
    return p;
}

/* ---------------------------------------------------------------- memory */

/* VmHWM / VmRSS in kB from /proc/<pid>/status; -1 when unavailable. */
static void s_proc_mem(pid_t pid, long *hwm, long *rss) {
    *hwm = -1;
    *rss = -1;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return;
    buf[n] = '\0';
    ak_cur c = ak_cur_from(buf, (size_t)n);
    ak_cur line;
    while (ak_cur_split(&c, '\n', &line)) {
        long *dst = ak_cur_starts_with(line, AK_CUR_LIT("VmHWM:"))   ? hwm
                    : ak_cur_starts_with(line, AK_CUR_LIT("VmRSS:")) ? rss
                                                                     : NULL;
        if (dst == NULL) continue;
        ak_cur v = ak_cur_trim(ak_cur_from(line.ptr + 6, line.len - 6));
        long sp = ak_cur_find(v, ' ');
        if (sp > 0) v.len = (size_t)sp;
        uint64_t kb;
        if (ak_cur_to_u64(v, &kb) == AK_OK && kb < (uint64_t)1 << 40) *dst = (long)kb;
    }
}

/* ---------------------------------------------------------------- instances */

static void s_pump(akemu_fn *fn);

static void s_inv_free(akemu_inv *inv) {
    ak_buf_free(&inv->payload);
    ak_buf_free(&inv->log_tail);
    ak_free(inv->client_context);
    ak_free(inv);
}

void akemu_inv_detach(akemu_inv *inv) { inv->client = NULL; }

/* Instance states. Starting: spawned, its runtime has not called GET /next yet. Busy: an
 * invocation is in flight. Otherwise idle: parked in GET /next (next_conn), or between its
 * /response and its next GET /next. */
static bool s_starting(const akemu_inst *in) { return in->t_first_next_ns == 0; }
static bool s_busy(const akemu_inst *in) { return in->cur != NULL; }
static bool s_idle(const akemu_inst *in) { return !s_busy(in) && !s_starting(in); }

/* The instance that gets the next invocation now: idle with its runtime parked in GET /next,
 * the most recently used first (its caches are warm; Lambda reuses environments alike). */
static akemu_inst *s_idle_inst(akemu_fn *fn) {
    akemu_inst *best = NULL;
    for (akemu_inst *in = fn->insts; in != NULL; in = in->next)
        if (s_idle(in) && in->next_conn != NULL &&
            (best == NULL || in->t_last_used_ns > best->t_last_used_ns))
            best = in;
    return best;
}

static size_t s_busy_count(const akemu_fn *fn) {
    size_t n = 0;
    for (const akemu_inst *in = fn->insts; in != NULL; in = in->next)
        n += s_busy(in);
    return n;
}

static akemu_inst *s_inst_by_pid(pid_t pid) {
    for (size_t i = 0; i < g_akemu.n_fns; i++)
        for (akemu_inst *in = g_akemu.fns[i]->insts; in != NULL; in = in->next)
            if (in->pid == pid) return in;
    return NULL;
}

/* Detaches and frees an instance whose process is gone (or about to be). */
static void s_inst_free(akemu_inst *inst) {
    akemu_fn *fn = inst->fn;
    s_drain_output(inst);
    if (inst->out != NULL) inst->out->inst = NULL;
    if (inst->err != NULL) inst->err->inst = NULL;
    if (inst->lfd >= 0) {
        akemu_loop_del(inst->lfd);
        close(inst->lfd);
    }
    inst->next_conn = NULL;
    akemu_conn_close_inst(inst);
    for (akemu_inst **pp = &fn->insts; *pp != NULL; pp = &(*pp)->next)
        if (*pp == inst) {
            *pp = inst->next;
            fn->n_insts--;
            break;
        }
    ak_free(inst);
}

/* SIGKILLs the process group and reaps the leader; returns its max RSS (kB) from rusage. */
static long s_kill(akemu_inst *inst) {
    long maxrss = -1;
    if (inst->pid <= 0) return maxrss;
    (void)kill(-inst->pid, SIGKILL);
    (void)kill(inst->pid, SIGKILL);
    int st;
    struct rusage ru;
    for (;;) {
        pid_t r = wait4(inst->pid, &st, 0, &ru);
        if (r == inst->pid) {
            maxrss = ru.ru_maxrss;
            break;
        }
        if (r < 0 && errno == EINTR) continue;
        break;
    }
    inst->pid = -1;
    return maxrss;
}

static void s_report(akemu_fn *fn, akemu_inv *inv, uint64_t now, long hwm_kb, const char *status) {
    uint64_t dur_us = (now - inv->t_start_ns) / 1000u;
    uint64_t billed = (dur_us + 999u) / 1000u;
    if (billed == 0) billed = 1;
    long used_mb = hwm_kb > 0 ? (hwm_kb + 1023) / 1024 : 0;
    char init[64] = "";
    if (inv->cold)
        snprintf(init, sizeof(init), "\tInit Duration: %" PRIu64 ".%02" PRIu64 " ms", inv->init_ns / 1000000u,
                 (inv->init_ns / 10000u) % 100u);
    s_plat(fn, inv, "END RequestId: %s", inv->id);
    s_plat(fn, inv,
           "REPORT RequestId: %s\tDuration: %" PRIu64 ".%02" PRIu64 " ms\tBilled Duration: %" PRIu64
           " ms\tMemory Size: %u MB\tMax Memory Used: %ld MB%s%s%s",
           inv->id, dur_us / 1000u, (dur_us / 10u) % 100u, billed, fn->memory_mb, used_mb, init,
           status ? "\tStatus: " : "", status ? status : "");
    fn->last_duration_us = dur_us;
    if (!inv->cold) { /* warm figures only: a cold invocation also pays for lazy init */
        fn->warm_dur_us_sum += dur_us;
        fn->warm_n++;
    }
}

/* ---------------------------------------------------------------- asynchronous failures */

/* Appends Lambda's on-failure invocation record for `inv` (its shape: version, timestamp,
 * requestContext{requestId, functionArn, condition, approximateInvokeCount}, requestPayload,
 * responseContext{statusCode, executedVersion, functionError}, responsePayload) as one JSON
 * line to DIR/<LogicalId>.on-failure.jsonl, the local stand-in for the template's destination.
 * One write(2) with O_APPEND, so concurrent records never interleave. */
static ak_err s_write_failure_record(akemu_fn *fn, akemu_inv *inv, ak_cur error_doc, char *path,
                                     size_t pathcap) {
    ak_err rc = AK_OK;
    json_t *rec = NULL;
    ak_buf line;
    ak_buf_init(&line, 2u * AK_MAX_LAMBDA_PAYLOAD + 65536u);
    int fd = -1;
    int n = snprintf(path, pathcap, "%s/%s.on-failure.jsonl", g_akemu.destinations_dir, fn->name);
    AK_ENSURE_OUT(n > 0 && (size_t)n < pathcap, AK_E_INVALID_INPUT);

    uint64_t ms = akemu_wall_ms();
    time_t secs = (time_t)(ms / 1000u);
    struct tm tm;
    char ts[96]; /* room for any int the format could print */
    AK_ENSURE_OUT(gmtime_r(&secs, &tm) != NULL, AK_E_INTERNAL);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000u));
    char arn[512];
    snprintf(arn, sizeof(arn), "arn:aws:lambda:%s:123456789012:function:%s:$LATEST", g_akemu.region,
             fn->name);
    /* The payload was checked to be JSON when it was accepted; the error document normally is
     * (a runtime's /error body may not be: then it goes in as a string). */
    json_t *req = json_loadb((const char *)inv->payload.ptr, inv->payload.len, JSON_DECODE_ANY, NULL);
    json_t *resp = json_loadb((const char *)error_doc.ptr, error_doc.len, JSON_DECODE_ANY, NULL);
    if (resp == NULL) resp = json_stringn((const char *)error_doc.ptr, error_doc.len);
    rec = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:I},s:o*,s:{s:i,s:s,s:s},s:o*}", "version", "1.0", "timestamp",
                    ts, "requestContext", "requestId", inv->id, "functionArn", arn, "condition",
                    "RetriesExhausted", "approximateInvokeCount", (json_int_t)inv->attempt, "requestPayload",
                    req, "responseContext", "statusCode", 200, "executedVersion", "$LATEST", "functionError",
                    "Unhandled", "responsePayload", resp);
    AK_ENSURE_OUT(rec != NULL, AK_E_NOMEM);
    AK_GUARD_OUT(ak_json_dump(rec, &line));
    AK_GUARD_OUT(ak_buf_append_byte(&line, '\n'));

    if (mkdir(g_akemu.destinations_dir, 0700) != 0 && errno != EEXIST) AK_ENSURE_OUT(false, AK_E_IO);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    AK_ENSURE_OUT(fd >= 0, AK_E_IO);
    ssize_t w = write(fd, line.ptr, line.len);
    AK_ENSURE_OUT(w >= 0 && (size_t)w == line.len, AK_E_IO);
out:
    if (fd >= 0 && close(fd) != 0 && rc == AK_OK) rc = AK_E_IO;
    json_decref(rec);
    ak_buf_free(&line);
    return rc;
}

/* An asynchronous (Event) invocation ended in an error. Lambda retries it fn->async_retries
 * times (after about one and then two minutes; here the retry is queued at once, keeping the
 * request id), and after the last failed attempt sends the record to the OnFailure
 * destination, or discards the event when there is none. Returns true when `inv` was queued
 * again: the caller must not free it (the caller's s_pump hands it on). */
static bool s_async_failed(akemu_fn *fn, akemu_inv *inv, ak_cur error_doc, const char *error_type) {
    const char *type = error_type ? error_type : "Unhandled";
    if (inv->attempt < 1u + fn->async_retries) {
        akemu_logf(fn->name, "async invocation %s failed (%s), attempt %u of %u: retrying", inv->id, type,
                   inv->attempt, 1u + fn->async_retries);
        fn->n_async_retries++;
        inv->attempt++;
        inv->next = NULL;
        inv->t_enqueue_ns = akemu_now_ns();
        inv->t_start_ns = inv->deadline_ns = inv->init_ns = 0;
        inv->cold = false;
        ak_buf_clear(&inv->log_tail);
        if (fn->q_tail != NULL) {
            fn->q_tail->next = inv;
        } else {
            fn->q_head = inv;
        }
        fn->q_tail = inv;
        fn->q_len++;
        return true;
    }
    fn->n_async_failed++;
    if (fn->on_failure == NULL) {
        akemu_logf(fn->name,
                   "async invocation %s failed (%s) after %u attempts: discarded (no OnFailure destination "
                   "in EventInvokeConfig)",
                   inv->id, type, inv->attempt);
        return false;
    }
    if (g_akemu.destinations_dir == NULL) {
        akemu_logf(fn->name,
                   "async invocation %s failed (%s) after %u attempts: record for %s not kept (no "
                   "--destinations-dir)",
                   inv->id, type, inv->attempt, fn->on_failure);
        return false;
    }
    char path[PATH_MAX];
    if (s_write_failure_record(fn, inv, error_doc, path, sizeof(path)) != AK_OK) {
        akemu_logf(fn->name,
                   "async invocation %s failed (%s) after %u attempts: CANNOT write its record to %s: %s",
                   inv->id, type, inv->attempt, path, strerror(errno));
        return false;
    }
    akemu_logf(fn->name,
               "async invocation %s failed (%s) after %u attempts: record appended to %s (stand-in for %s)",
               inv->id, type, inv->attempt, path, fn->on_failure);
    return false;
}

/* Finishes the in-flight invocation of `inst` (exactly once) and answers its caller. */
static void s_finish(akemu_inst *inst, akemu_rkind kind, ak_cur payload, const char *error_type, long hwm_kb,
                     const char *status) {
    akemu_inv *inv = inst->cur;
    akemu_fn *fn = inst->fn;
    inst->cur = NULL;
    uint64_t now = akemu_now_ns();
    inst->t_last_used_ns = now;
    s_drain_output(inst);
    if (hwm_kb < 0 && inst->pid > 0) {
        long rss;
        s_proc_mem(inst->pid, &hwm_kb, &rss);
        fn->last_rss_kb = rss;
    }
    if (hwm_kb > 0) fn->last_hwm_kb = hwm_kb;
    if (kind == AKEMU_R_ERROR) fn->n_errors++;
    s_report(fn, inv, now, hwm_kb, status);
    akemu_front_complete(inv, kind, payload, error_type);
    if (inv->client != NULL) inv->client->inv = NULL;
    if (kind == AKEMU_R_ERROR && inv->origin == AKEMU_ORIGIN_ASYNC &&
        s_async_failed(fn, inv, payload, error_type))
        return;
    s_inv_free(inv);
}

/* Fails an invocation that never reached a runtime (spawn or init failure). */
static void s_fail_queued(akemu_fn *fn, akemu_inv *inv, const char *type, const char *msg) {
    json_t *doc = json_pack("{s:s,s:s}", "errorMessage", msg, "errorType", type);
    ak_buf b;
    ak_buf_init(&b, 65536);
    if (doc == NULL || ak_json_dump(doc, &b) != AK_OK) {
        ak_buf_clear(&b);
        if (ak_buf_append_str(&b, "{\"errorType\":\"Runtime.Unknown\"}") != AK_OK) { /* cannot fail */
        }
    }
    json_decref(doc);
    fn->n_errors++;
    s_plat(fn, inv, "START RequestId: %s Version: $LATEST", inv->id);
    s_plat(fn, inv, "%s %s", type, msg);
    inv->t_start_ns = akemu_now_ns();
    s_report(fn, inv, inv->t_start_ns, -1, "error");
    akemu_front_complete(inv, AKEMU_R_ERROR, ak_buf_cur(&b), type);
    if (inv->client != NULL) inv->client->inv = NULL;
    bool requeued = inv->origin == AKEMU_ORIGIN_ASYNC && s_async_failed(fn, inv, ak_buf_cur(&b), type);
    ak_buf_free(&b);
    if (!requeued) s_inv_free(inv);
}

static akemu_inv *s_pop(akemu_fn *fn) {
    akemu_inv *inv = fn->q_head;
    if (inv == NULL) return NULL;
    fn->q_head = inv->next;
    if (fn->q_head == NULL) fn->q_tail = NULL;
    fn->q_len--;
    inv->next = NULL;
    return inv;
}

static ak_err s_env_build(akemu_fn *fn, uint16_t port, char ***out_envp, akemu_env *e) {
    /* Inherited only: what a bootstrap needs to run and what the sanitizers read. The rest
     * of the emulator's environment does not leak in (Lambda starts from a clean one). */
    static const char *const pass[] = {"PATH",
                                       "HOME",
                                       "TMPDIR",
                                       "LANG",
                                       "ASAN_OPTIONS",
                                       "UBSAN_OPTIONS",
                                       "LSAN_OPTIONS",
                                       "AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       NULL};
    char tmp[512];
    for (const char *const *p = pass; *p != NULL; p++) {
        const char *v = getenv(*p);
        if (v != NULL) AK_GUARD(akemu_env_set(e, *p, strlen(*p), v, strlen(v)));
    }
#define S_SET(k, v) AK_GUARD(akemu_env_set(e, k, strlen(k), v, strlen(v)))
    if (getenv("PATH") == NULL) S_SET("PATH", "/usr/local/bin:/usr/bin:/bin");
    S_SET("TZ", ":UTC");
    S_SET("AWS_REGION", g_akemu.region);
    S_SET("AWS_DEFAULT_REGION", g_akemu.region);
    S_SET("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023");
    for (size_t i = 0; i < fn->env.n; i++)
        S_SET(fn->env.v[i].key, fn->env.v[i].val);
    /* Set by the platform; the template cannot override these. */
    S_SET("_HANDLER", fn->handler);
    S_SET("LAMBDA_TASK_ROOT", fn->task_root);
    S_SET("LAMBDA_RUNTIME_DIR", fn->task_root);
    S_SET("AWS_LAMBDA_FUNCTION_NAME", fn->name);
    S_SET("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    snprintf(tmp, sizeof(tmp), "%u", fn->memory_mb);
    S_SET("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", tmp);
    snprintf(tmp, sizeof(tmp), "%u", (fn->timeout_ms + 999u) / 1000u);
    S_SET("AWS_LAMBDA_FUNCTION_TIMEOUT", tmp);
    snprintf(tmp, sizeof(tmp), "/aws/lambda/%s", fn->name);
    S_SET("AWS_LAMBDA_LOG_GROUP_NAME", tmp);
    S_SET("AWS_LAMBDA_LOG_STREAM_NAME", "local/[$LATEST]emulator");
    snprintf(tmp, sizeof(tmp), "127.0.0.1:%u", (unsigned)port);
    S_SET("AWS_LAMBDA_RUNTIME_API", tmp);
#undef S_SET
    char **envp = ak_calloc(e->n + 1, sizeof(char *));
    AK_ENSURE(envp != NULL, AK_E_NOMEM);
    for (size_t i = 0; i < e->n; i++) {
        size_t kl = strlen(e->v[i].key), vl = strlen(e->v[i].val);
        envp[i] = ak_malloc(kl + vl + 2);
        if (envp[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                ak_free(envp[j]);
            ak_free(envp);
            return AK_E_NOMEM;
        }
        memcpy(envp[i], e->v[i].key, kl);
        envp[i][kl] = '=';
        memcpy(envp[i] + kl + 1, e->v[i].val, vl + 1);
    }
    *out_envp = envp;
    return AK_OK;
}

/* Starts a fresh instance: listener, pipes, posix_spawn of the bootstrap. */
static ak_err s_spawn(akemu_fn *fn, int *err_no) {
    ak_err rc = AK_OK;
    akemu_env e = {0};
    char **envp = NULL;
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    bool fa_init = false, at_init = false;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    *err_no = 0;
    akemu_inst *inst = ak_calloc(1, sizeof(*inst));
    AK_ENSURE(inst != NULL, AK_E_NOMEM);
    inst->fn = fn;
    inst->lfd = -1;
    inst->pid = -1;
    AK_GUARD_OUT(akemu_listen_loopback(0, &inst->lfd, &inst->port));
    inst->lw = (akemu_watch){AKEMU_W_RAPI_LISTEN, inst};
    AK_GUARD_OUT(akemu_loop_add(inst->lfd, EPOLLIN, &inst->lw));
    AK_ENSURE_OUT(pipe2(po, O_CLOEXEC) == 0 && pipe2(pe, O_CLOEXEC) == 0, AK_E_IO);
    AK_GUARD_OUT(s_env_build(fn, inst->port, &envp, &e));

    AK_ENSURE_OUT(posix_spawn_file_actions_init(&fa) == 0, AK_E_NOMEM);
    fa_init = true;
    AK_ENSURE_OUT(posix_spawnattr_init(&at) == 0, AK_E_NOMEM);
    at_init = true;
    AK_ENSURE_OUT(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) == 0 &&
                      posix_spawn_file_actions_adddup2(&fa, po[1], 1) == 0 &&
                      posix_spawn_file_actions_adddup2(&fa, pe[1], 2) == 0 &&
                      posix_spawn_file_actions_addchdir_np(&fa, fn->task_root) == 0,
                  AK_E_NOMEM);
    /* The child gets an empty signal mask (we block SIGCHLD/SIGTERM for signalfd), default
     * dispositions, and its own process group so a kill reaches whatever it started. */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    AK_ENSURE_OUT(posix_spawnattr_setsigmask(&at, &none) == 0 &&
                      posix_spawnattr_setsigdefault(&at, &all) == 0 &&
                      posix_spawnattr_setpgroup(&at, 0) == 0 &&
                      posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                        POSIX_SPAWN_SETPGROUP) == 0,
                  AK_E_NOMEM);
    char *argv[] = {fn->bootstrap, NULL};
    inst->t_spawn_ns = akemu_now_ns(); /* cold start clock: exec ... first GET /next */
    int se = posix_spawn(&inst->pid, fn->bootstrap, &fa, &at, argv, envp);
    if (se != 0) {
        *err_no = se;
        inst->pid = -1;
        rc = AK_E_CONFIG;
        goto out;
    }
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    (void)fcntl(po[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(pe[0], F_SETFL, O_NONBLOCK);
    inst->out = s_pipe_new(po[0], inst);
    if (inst->out != NULL) po[0] = -1;
    inst->err = s_pipe_new(pe[0], inst);
    if (inst->err != NULL) pe[0] = -1;
    inst->seq = ++fn->inst_seq;
    inst->next = fn->insts;
    fn->insts = inst;
    fn->n_insts++;
    if (fn->n_insts > fn->peak_insts) fn->peak_insts = fn->n_insts;
    fn->n_cold++;
    if (fn->n_insts > 1)
        akemu_logf(fn->name, "scaling out: instance %u (pid %d), %zu of at most %u, %zu busy, %zu queued",
                   inst->seq, (int)inst->pid, fn->n_insts, fn->max_insts, s_busy_count(fn), fn->q_len);
    inst = NULL;
out:
    if (fa_init) posix_spawn_file_actions_destroy(&fa);
    if (at_init) posix_spawnattr_destroy(&at);
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0) close(po[i]);
        if (pe[i] >= 0) close(pe[i]);
    }
    if (envp != NULL) {
        for (size_t i = 0; envp[i] != NULL; i++)
            ak_free(envp[i]);
        ak_free(envp);
    }
    akemu_env_free(&e);
    if (inst != NULL) {
        if (inst->lfd >= 0) {
            akemu_loop_del(inst->lfd);
            close(inst->lfd);
        }
        ak_free(inst);
    }
    return rc;
}

/* Hands the queue head to a parked /next. */
static void s_deliver(akemu_inst *inst, akemu_inv *inv) {
    akemu_fn *fn = inst->fn;
    akemu_conn *c = inst->next_conn;
    inst->next_conn = NULL;
    inst->cur = inv;
    inv->t_start_ns = akemu_now_ns();
    inv->deadline_ns = inv->t_start_ns + (uint64_t)fn->timeout_ms * 1000000u;
    inv->cold = inst->served == 0;
    if (inv->cold) {
        inv->init_ns = inst->t_first_next_ns - inst->t_spawn_ns;
        fn->init_us[fn->n_init_kept % AKEMU_STATS_KEEP] = inv->init_ns / 1000u;
        fn->n_init_kept++;
    }
    inst->served++;
    fn->n_invokes++;
    s_plat(fn, inv, "START RequestId: %s Version: $LATEST", inv->id);

    uint8_t rnd[20];
    s_random(rnd, sizeof(rnd));
    char h[41];
    ak_hex_encode(rnd, sizeof(rnd), h);
    ak_buf hdr;
    ak_buf_init(&hdr, 65536);
    ak_err rc =
        ak_buf_printf(&hdr,
                      "Lambda-Runtime-Aws-Request-Id: %s\r\n"
                      "Lambda-Runtime-Deadline-Ms: %" PRIu64 "\r\n"
                      "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:%s:123456789012:function:%s\r\n"
                      "Lambda-Runtime-Trace-Id: Root=1-%08" PRIx64 "-%.24s;Parent=%.16s;Sampled=0\r\n",
                      inv->id, akemu_wall_ms() + fn->timeout_ms, g_akemu.region, fn->name,
                      (uint64_t)(akemu_wall_ms() / 1000u), h, h + 24);
    if (rc == AK_OK && inv->client_context != NULL) {
        /* X-Amz-Client-Context is base64 JSON; the runtime gets the JSON (RIE does the same). */
        ak_buf dec;
        ak_buf_init(&dec, AK_MAX_CLIENT_CONTEXT);
        if (ak_b64_decode(ak_cur_from_str(inv->client_context), &dec) == AK_OK &&
            memchr(dec.ptr, '\n', dec.len) == NULL && memchr(dec.ptr, '\r', dec.len) == NULL)
            rc = ak_buf_printf(&hdr, "Lambda-Runtime-Client-Context: %s\r\n", ak_buf_cstr(&dec));
        ak_buf_free(&dec);
    }
    if (rc == AK_OK) {
        akemu_conn_respond(c, 200, "application/json", ak_buf_cstr(&hdr), ak_buf_cur(&inv->payload));
    } else {
        akemu_conn_close(c);
    }
    ak_buf_free(&hdr);
}

/* Instances that will take a queued invocation without a new spawn: starting ones (their
 * first GET /next is coming) and idle ones not parked in GET /next (it is coming back right
 * after its /response; counting it as busy would cold-start an instance for every
 * back-to-back invocation). */
static size_t s_coming_count(const akemu_fn *fn) {
    size_t n = 0;
    for (const akemu_inst *in = fn->insts; in != NULL; in = in->next)
        n += !s_busy(in) && in->next_conn == NULL;
    return n;
}

/* Moves the queue along: hands invocations to parked runtimes, then spawns one instance per
 * invocation that no existing instance will take, up to the cap; the rest wait. */
static void s_pump(akemu_fn *fn) {
    akemu_inst *inst;
    while (fn->q_head != NULL && (inst = s_idle_inst(fn)) != NULL)
        s_deliver(inst, s_pop(fn));
    while (fn->q_len > s_coming_count(fn) && fn->n_insts < fn->max_insts) {
        int en = 0;
        if (s_spawn(fn, &en) != AK_OK) {
            akemu_inv *inv = s_pop(fn);
            char msg[512];
            snprintf(msg, sizeof(msg), "RequestId: %s Error: Couldn't find valid bootstrap(s): [%s]: %s",
                     inv->id, fn->bootstrap, en ? strerror(en) : "spawn failed");
            s_fail_queued(fn, inv, "Runtime.InvalidEntrypoint", msg);
        }
    }
}

ak_err akemu_invoke(akemu_fn *fn, ak_cur payload, akemu_origin origin, akemu_conn *client,
                    const char *client_context, akemu_inv **out) {
    akemu_inv *inv = ak_calloc(1, sizeof(*inv));
    AK_ENSURE(inv != NULL, AK_E_NOMEM);
    ak_buf_init(&inv->payload, AK_MAX_LAMBDA_PAYLOAD);
    ak_buf_init(&inv->log_tail, AKEMU_LOG_TAIL);
    ak_err rc = ak_buf_append_cur(&inv->payload, payload);
    if (rc == AK_OK && client_context != NULL) {
        inv->client_context = ak_strndup(client_context, strlen(client_context));
        if (inv->client_context == NULL) rc = AK_E_NOMEM;
    }
    if (rc != AK_OK) {
        s_inv_free(inv);
        return rc;
    }
    akemu_uuid(inv->id);
    inv->fn = fn;
    inv->origin = origin;
    inv->attempt = 1;
    inv->client = client;
    inv->want_tail = client != NULL && client->want_tail;
    inv->t_enqueue_ns = akemu_now_ns();
    if (client != NULL) client->inv = inv;
    if (out != NULL) *out = inv;
    if (fn->q_tail != NULL) {
        fn->q_tail->next = inv;
    } else {
        fn->q_head = inv;
    }
    fn->q_tail = inv;
    fn->q_len++;
    s_pump(fn);
    return AK_OK;
}

/* ---------------------------------------------------------------- exits, kills, timeouts */

static void s_exit_text(int wstatus, char *out, size_t cap) {
    if (WIFEXITED(wstatus)) {
        snprintf(out, cap, "exit status %d", WEXITSTATUS(wstatus));
    } else if (WIFSIGNALED(wstatus)) {
        const char *s = strsignal(WTERMSIG(wstatus));
        snprintf(out, cap, "signal: %s", s ? s : "unknown");
    } else {
        snprintf(out, cap, "unknown exit");
    }
}

static void s_fail_cur_exit(akemu_inst *inst, const char *why, long hwm) {
    char msg[512];
    snprintf(msg, sizeof(msg), "RequestId: %s Error: Runtime exited with error: %s", inst->cur->id, why);
    json_t *doc = json_pack("{s:s,s:s}", "errorType", "Runtime.ExitError", "errorMessage", msg);
    ak_buf b;
    ak_buf_init(&b, 65536);
    if (doc == NULL || ak_json_dump(doc, &b) != AK_OK) ak_buf_clear(&b);
    json_decref(doc);
    s_plat(inst->fn, inst->cur, "%s", msg);
    inst->fn->n_crashes++;
    s_finish(inst, AKEMU_R_ERROR, ak_buf_cur(&b), "Runtime.ExitError", hwm,
             "error\tError Type: Runtime.ExitError");
    ak_buf_free(&b);
}

void akemu_child_exited(pid_t pid, int wstatus, long maxrss_kb) {
    akemu_inst *inst = s_inst_by_pid(pid);
    if (inst == NULL) return; /* already reaped by a kill, or a grandchild */
    akemu_fn *fn = inst->fn;
    inst->pid = -1;
    char why[128];
    s_exit_text(wstatus, why, sizeof(why));
    s_drain_output(inst);
    if (inst->cur != NULL) {
        s_fail_cur_exit(inst, why, maxrss_kb);
    } else if (inst->t_first_next_ns == 0 && fn->q_head != NULL) {
        /* Died during INIT without calling /init/error. */
        akemu_inv *inv = s_pop(fn);
        char msg[512];
        snprintf(msg, sizeof(msg), "RequestId: %s Error: Runtime exited with error: %s", inv->id, why);
        fn->n_crashes++;
        s_fail_queued(fn, inv, "Runtime.ExitError", msg);
    } else {
        akemu_logf(fn->name, "runtime process %d exited while idle (%s)", (int)pid, why);
    }
    /* Grandchildren (a shell bootstrap's children) go with it. */
    (void)kill(-pid, SIGKILL);
    s_inst_free(inst);
    s_pump(fn);
}

static void s_timeout_cur(akemu_inst *inst) {
    akemu_fn *fn = inst->fn;
    long hwm = -1, rss = -1;
    s_proc_mem(inst->pid, &hwm, &rss);
    long ru = s_kill(inst);
    if (hwm < 0) hwm = ru;
    char msg[256];
    snprintf(msg, sizeof(msg), "RequestId: %s Error: Task timed out after %u.%02u seconds", inst->cur->id,
             fn->timeout_ms / 1000u, (fn->timeout_ms % 1000u) / 10u);
    s_plat(fn, inst->cur, "%s", msg);
    json_t *doc = json_pack("{s:s,s:s}", "errorType", "Sandbox.Timedout", "errorMessage", msg);
    ak_buf b;
    ak_buf_init(&b, 65536);
    if (doc == NULL || ak_json_dump(doc, &b) != AK_OK) ak_buf_clear(&b);
    json_decref(doc);
    fn->n_timeouts++;
    s_finish(inst, AKEMU_R_ERROR, ak_buf_cur(&b), "Sandbox.Timedout", hwm, "timeout");
    ak_buf_free(&b);
    s_inst_free(inst);
}

/* INIT over AKEMU_INIT_TIMEOUT_MS: kill the instance; the queue head, which waited for it,
 * fails with Sandbox.Timedout (an instance spawned for an invocation another one took dies
 * quietly). */
static void s_init_timeout(akemu_inst *inst) {
    akemu_fn *fn = inst->fn;
    (void)s_kill(inst);
    s_inst_free(inst);
    akemu_inv *inv = s_pop(fn);
    if (inv == NULL) {
        akemu_logf(fn->name, "INIT phase timed out after %u.00 seconds with nothing queued",
                   AKEMU_INIT_TIMEOUT_MS / 1000u);
        return;
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "RequestId: %s Error: INIT phase timed out after %u.00 seconds", inv->id,
             AKEMU_INIT_TIMEOUT_MS / 1000u);
    fn->n_timeouts++;
    s_fail_queued(fn, inv, "Sandbox.Timedout", msg);
}

int akemu_fns_tick(uint64_t now) {
    int64_t next_ms = -1;
    for (size_t i = 0; i < g_akemu.n_fns; i++) {
        akemu_fn *fn = g_akemu.fns[i];
        bool changed = false;
        akemu_inst *next;
        for (akemu_inst *inst = fn->insts; inst != NULL; inst = next) {
            next = inst->next; /* inst may be freed below; nothing else is */
            uint64_t deadline;
            if (s_busy(inst)) {
                deadline = inst->cur->deadline_ns;
                if (now >= deadline) {
                    s_timeout_cur(inst);
                    changed = true;
                    continue;
                }
            } else if (s_starting(inst)) {
                deadline = inst->t_spawn_ns + (uint64_t)AKEMU_INIT_TIMEOUT_MS * 1000000u;
                if (now >= deadline) {
                    s_init_timeout(inst);
                    changed = true;
                    continue;
                }
            } else {
                continue;
            }
            int64_t ms = (int64_t)((deadline - now) / 1000000u) + 1;
            if (next_ms < 0 || ms < next_ms) next_ms = ms;
        }
        if (changed) {
            s_pump(fn);
            next_ms = 0; /* the pump may have started new deadlines: look again at once */
        }
    }
    return next_ms > INT32_MAX ? INT32_MAX : (int)next_ms;
}

bool akemu_fn_stop(akemu_fn *fn, size_t *stopped) {
    *stopped = 0;
    /* Queued invocations are waiting for the idle and starting instances: keep them. */
    if (fn->q_head != NULL) return false;
    akemu_inst *next;
    for (akemu_inst *inst = fn->insts; inst != NULL; inst = next) {
        next = inst->next;
        if (s_busy(inst)) continue;
        (void)s_kill(inst);
        s_inst_free(inst);
        (*stopped)++;
    }
    return fn->n_insts == 0;
}

/* Frees an invocation that will never finish (shutdown); its caller's connection, closed
 * later, must not point at it any more. */
static void s_inv_abandon(akemu_inv *inv) {
    if (inv->client != NULL) inv->client->inv = NULL;
    s_inv_free(inv);
}

void akemu_fns_shutdown(void) {
    for (size_t i = 0; i < g_akemu.n_fns; i++) {
        akemu_fn *fn = g_akemu.fns[i];
        while (fn->insts != NULL) {
            akemu_inst *inst = fn->insts;
            (void)s_kill(inst);
            if (inst->cur != NULL) {
                akemu_inv *inv = inst->cur;
                inst->cur = NULL;
                s_inv_abandon(inv);
            }
            s_inst_free(inst);
        }
        akemu_inv *inv;
        while ((inv = s_pop(fn)) != NULL)
            s_inv_abandon(inv);
    }
    while (g_pipes != NULL)
        s_pipe_close(g_pipes);
}

static const char *s_state(const akemu_inst *in) {
    return s_busy(in) ? "busy" : s_starting(in) ? "init" : "idle";
}

ak_err akemu_fn_stats_json(const akemu_fn *fn, ak_buf *out) {
    /* The top-level pid / port / state (one instance per function before pools) describe the
     * instance the next invocation would go to: the most recently used idle one, else the most
     * recently used one. "state" is idle when any instance is idle, else busy, else init. */
    const akemu_inst *top = NULL;
    size_t n_busy = 0, n_idle = 0, n_starting = 0;
    for (const akemu_inst *in = fn->insts; in != NULL; in = in->next) {
        n_busy += s_busy(in);
        n_idle += s_idle(in);
        n_starting += s_starting(in);
        if (top == NULL || (s_idle(in) && !s_idle(top)) ||
            (s_idle(in) == s_idle(top) && in->t_last_used_ns > top->t_last_used_ns))
            top = in;
    }
    AK_GUARD(ak_buf_printf(
        out,
        "{\"name\":\"%s\",\"dir\":\"%s\",\"bootstrap\":\"%s\",\"timeout_ms\":%u,\"memory_mb\":%u,"
        "\"pid\":%d,\"runtime_api_port\":%u,\"state\":\"%s\",\"queued\":%zu,"
        "\"max_instances\":%u,\"instances\":%zu,\"instances_busy\":%zu,\"instances_idle\":%zu,"
        "\"instances_starting\":%zu,\"instances_peak\":%zu,"
        "\"invocations\":%" PRIu64 ",\"cold_starts\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"timeouts\":%" PRIu64
        ",\"crashes\":%" PRIu64 ",\"last_duration_us\":%" PRIu64 ",\"warm_duration_us_sum\":%" PRIu64
        ",\"warm_invocations\":%" PRIu64 ",\"async_retries\":%" PRIu64 ",\"async_failed\":%" PRIu64
        ",\"max_rss_kb\":%ld,\"rss_kb\":%ld,\"instance_list\":[",
        fn->name, fn->dir, fn->bootstrap, fn->timeout_ms, fn->memory_mb, top ? (int)top->pid : 0,
        top ? (unsigned)top->port : 0u,
        top == NULL ? "stopped"
        : n_idle    ? "idle"
        : n_busy    ? "busy"
                    : "init",
        fn->q_len, fn->max_insts, fn->n_insts, n_busy, n_idle, n_starting, fn->peak_insts, fn->n_invokes,
        fn->n_cold, fn->n_errors, fn->n_timeouts, fn->n_crashes, fn->last_duration_us, fn->warm_dur_us_sum,
        fn->warm_n, fn->n_async_retries, fn->n_async_failed, fn->last_hwm_kb, fn->last_rss_kb));
    for (const akemu_inst *in = fn->insts; in != NULL; in = in->next)
        AK_GUARD(ak_buf_printf(out,
                               "%s{\"instance\":%u,\"pid\":%d,\"runtime_api_port\":%u,\"state\":\"%s\","
                               "\"parked\":%s,\"invocations\":%" PRIu64 "}",
                               in == fn->insts ? "" : ",", in->seq, (int)in->pid, (unsigned)in->port,
                               s_state(in), in->next_conn != NULL ? "true" : "false", in->served));
    AK_GUARD(ak_buf_append_str(out, "],\"init_us\":["));
    size_t kept = fn->n_init_kept < AKEMU_STATS_KEEP ? fn->n_init_kept : AKEMU_STATS_KEEP;
    size_t first = fn->n_init_kept - kept;
    for (size_t i = 0; i < kept; i++)
        AK_GUARD(ak_buf_printf(out, "%s%" PRIu64, i ? "," : "", fn->init_us[(first + i) % AKEMU_STATS_KEEP]));
    return ak_buf_append_str(out, "]}");
}

/* ---------------------------------------------------------------- Runtime API */

static void s_rapi_error(akemu_conn *c, int status, const char *type, const char *msg) {
    char body[512];
    snprintf(body, sizeof(body), "{\"errorMessage\":\"%s\",\"errorType\":\"%s\"}", msg, type);
    akemu_conn_respond_json(c, status, NULL, body);
}

void akemu_rapi_accept(akemu_inst *inst) { akemu_conn_accept(inst->lfd, AKEMU_ROLE_RAPI, inst); }

void akemu_rapi_conn_gone(akemu_conn *c) {
    if (c->inst != NULL && c->inst->next_conn == c) c->inst->next_conn = NULL;
}

/* The error document for /error and /init/error: the runtime's JSON object when it sent one
 * (RIE passes it through), else one built from the header type and the raw text. */
static ak_err s_error_doc(akemu_conn *c, ak_buf *doc, char *type, size_t type_cap) {
    bool found;
    ak_cur t = akemu_req_header(&c->req, "lambda-runtime-function-error-type", &found);
    if (!found || t.len == 0 || ak_cur_to_cstr(t, type, type_cap) != AK_OK)
        snprintf(type, type_cap, "Unhandled");
    json_t *obj = NULL;
    if (ak_json_parse_object(c->req.body, &obj) == AK_OK) {
        json_t *et = json_object_get(obj, "errorType");
        if (json_is_string(et) && !found) snprintf(type, type_cap, "%s", json_string_value(et));
        ak_err rc = ak_json_dump(obj, doc);
        json_decref(obj);
        return rc;
    }
    json_t *d = json_pack("{s:s%,s:s}", "errorMessage", c->req.body.len ? (const char *)c->req.body.ptr : "",
                          c->req.body.len, "errorType", type);
    if (d == NULL) d = json_pack("{s:s,s:s}", "errorMessage", "(error body is not UTF-8)", "errorType", type);
    AK_ENSURE(d != NULL, AK_E_NOMEM);
    ak_err rc = ak_json_dump(d, doc);
    json_decref(d);
    return rc;
}

void akemu_rapi_handle(akemu_conn *c) {
    akemu_inst *inst = c->inst;
    akemu_req *r = &c->req;
    if (inst == NULL) {
        c->close_after = true;
        s_rapi_error(c, 410, "Runtime.Gone", "this execution environment was reset");
        return;
    }
    akemu_fn *fn = inst->fn;
    ak_cur path = r->path;
    static const char prefix[] = "/2018-06-01/runtime/";
    if (!ak_cur_starts_with(path, AK_CUR_LIT(prefix))) {
        s_rapi_error(c, 404, "NotFound", "unknown Runtime API path");
        return;
    }
    ak_cur rest = ak_cur_from(path.ptr + sizeof(prefix) - 1, path.len - (sizeof(prefix) - 1));
    bool get = ak_cur_eq_str(r->method, "GET"), post = ak_cur_eq_str(r->method, "POST");

    if (get && ak_cur_eq_str(rest, "invocation/next")) {
        if (inst->t_first_next_ns == 0) inst->t_first_next_ns = akemu_now_ns();
        if (inst->cur != NULL || (inst->next_conn != NULL && inst->next_conn != c)) {
            /* Default Lambda runs one invocation at a time per environment (lambda.md B6). */
            s_rapi_error(c, 403, "InvalidStateTransition", "an invocation is already in progress");
            return;
        }
        inst->next_conn = c;
        c->deferred = true;
        s_pump(fn);
        return;
    }
    if (post && ak_cur_eq_str(rest, "init/error")) {
        if (inst->t_first_next_ns != 0) {
            s_rapi_error(c, 403, "InvalidStateTransition", "init/error after the first /next");
            return;
        }
        char type[256];
        ak_buf doc;
        ak_buf_init(&doc, AKEMU_MAX_RUNTIME_BODY + 4096);
        if (r->too_large || s_error_doc(c, &doc, type, sizeof(type)) != AK_OK) {
            snprintf(type, sizeof(type), "Runtime.Unknown");
            ak_buf_clear(&doc);
        }
        akemu_conn_respond_json(c, 202, NULL, "{\"status\":\"OK\"}");
        akemu_logf(fn->name, "INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: error\tError Type: %s",
                   (double)(akemu_now_ns() - inst->t_spawn_ns) / 1e6, type);
        (void)s_kill(inst);
        s_inst_free(inst);
        akemu_inv *inv = s_pop(fn);
        if (inv != NULL) {
            fn->n_errors++;
            s_plat(fn, inv, "START RequestId: %s Version: $LATEST", inv->id);
            inv->t_start_ns = akemu_now_ns();
            s_report(fn, inv, inv->t_start_ns, -1, "error");
            if (doc.len == 0 && ak_buf_append_str(&doc, "{\"errorType\":\"Runtime.Unknown\"}") != AK_OK) {}
            akemu_front_complete(inv, AKEMU_R_ERROR, ak_buf_cur(&doc), type);
            if (inv->client != NULL) inv->client->inv = NULL;
            s_inv_free(inv);
        }
        ak_buf_free(&doc);
        s_pump(fn);
        return;
    }
    static const char inv_prefix[] = "invocation/";
    if (post && ak_cur_starts_with(rest, AK_CUR_LIT(inv_prefix))) {
        ak_cur tail = ak_cur_from(rest.ptr + sizeof(inv_prefix) - 1, rest.len - (sizeof(inv_prefix) - 1));
        ak_cur id;
        if (!ak_cur_split(&tail, '/', &id) ||
            !(ak_cur_eq_str(tail, "response") || ak_cur_eq_str(tail, "error"))) {
            s_rapi_error(c, 404, "NotFound", "unknown Runtime API path");
            return;
        }
        if (inst->cur == NULL || !ak_cur_eq_str(id, inst->cur->id)) {
            s_rapi_error(c, 400, "InvalidRequestID", "no invocation in progress with this request id");
            return;
        }
        if (ak_cur_eq_str(tail, "response")) {
            if (r->too_large) {
                /* RIE answers 413 to the runtime; the caller gets Lambda's error (lambda.md B6). */
                s_rapi_error(c, 413, "RequestEntityTooLarge", "response payload too large");
                char msg[160];
                snprintf(msg, sizeof(msg),
                         "{\"errorMessage\":\"Response payload size exceeded maximum allowed payload size "
                         "(%u bytes).\","
                         "\"errorType\":\"Function.ResponseSizeTooLarge\"}",
                         AK_MAX_LAMBDA_PAYLOAD);
                s_finish(inst, AKEMU_R_ERROR, ak_cur_from_str(msg), "Function.ResponseSizeTooLarge", -1,
                         "error\tError Type: Function.ResponseSizeTooLarge");
            } else {
                /* Finish first (it copies the body), then answer: the answer recycles c->in. */
                s_finish(inst, AKEMU_R_OK, r->body, NULL, -1, NULL);
                akemu_conn_respond_json(c, 202, NULL, "{\"status\":\"OK\"}");
            }
        } else {
            char type[256];
            ak_buf doc;
            ak_buf_init(&doc, AKEMU_MAX_RUNTIME_BODY + 4096);
            if (r->too_large || s_error_doc(c, &doc, type, sizeof(type)) != AK_OK) {
                snprintf(type, sizeof(type), "Runtime.Unknown");
                ak_buf_clear(&doc);
                if (ak_buf_append_str(&doc, "{\"errorType\":\"Runtime.Unknown\"}") != AK_OK) {}
            }
            char status[300];
            snprintf(status, sizeof(status), "error\tError Type: %s", type);
            s_finish(inst, AKEMU_R_ERROR, ak_buf_cur(&doc), type, -1, status);
            ak_buf_free(&doc);
            akemu_conn_respond_json(c, 202, NULL, "{\"status\":\"OK\"}");
        }
        s_pump(fn);
        return;
    }
    s_rapi_error(c, 404, "NotFound", "unknown Runtime API path");
}
