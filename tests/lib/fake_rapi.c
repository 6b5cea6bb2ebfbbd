/* fake_rapi.c — scripted fake Lambda Runtime API (see fake_rapi.h). No heap: static storage only. */
#include "fake_rapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

typedef enum { S_EVENT, S_DROP, S_DOWN } s_kind;

typedef struct {
    s_kind kind;
    char headers[4096];
    const void *body;
    size_t len;
} s_step;

#define S_MAX_IN (8u * 1024u * 1024u + 65536u)

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t g_thread;
static bool g_running;
static bool g_stop;
static int g_lfd = -1, g_cfd = -1;
static int g_wake[2] = {-1, -1};
static uint16_t g_port;
static char g_addr[32];
static int g_post_status = 202;

static s_step g_steps[FAKE_MAX_STEPS];
static size_t g_n_steps, g_next_step;
static fake_req g_reqs[FAKE_MAX_REQS];
static size_t g_n_reqs, g_n_next, g_n_post;

static uint8_t g_in[S_MAX_IN];
static size_t g_in_len;

/* ------------------------------------------------------------------ sockets */

static int s_listen(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void s_wake(void) {
    char b = 1;
    ssize_t n = write(g_wake[1], &b, 1);
    (void)n;
}

static bool s_send_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

static void s_close_conn(void) {
    if (g_cfd >= 0) close(g_cfd);
    g_cfd = -1;
    g_in_len = 0;
}

/* ------------------------------------------------------------------ request handling */

static const uint8_t *s_find(const uint8_t *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

/* Value of Content-Length in a header block, 0 when absent. */
static size_t s_content_length(const char *head) {
    const char *p = head;
    while (p && *p) {
        if (strncasecmp(p, "content-length:", 15) == 0) {
            size_t v = 0;
            for (p += 15; *p == ' '; p++) {}
            for (; *p >= '0' && *p <= '9'; p++)
                v = v * 10u + (size_t)(*p - '0');
            return v;
        }
        p = strstr(p, "\r\n");
        if (p) p += 2;
    }
    return 0;
}

/* Reads one whole request from g_cfd into g_in. Returns false on EOF or error. */
static bool s_read_request(size_t *head_len, size_t *body_len) {
    const uint8_t *end;
    while ((end = s_find(g_in, g_in_len, "\r\n\r\n")) == NULL) {
        if (g_in_len == S_MAX_IN) return false;
        ssize_t r = recv(g_cfd, g_in + g_in_len, S_MAX_IN - g_in_len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        g_in_len += (size_t)r;
    }
    *head_len = (size_t)(end - g_in) + 4;
    char head[FAKE_MAX_HEAD];
    size_t hl = *head_len < sizeof(head) - 1 ? *head_len : sizeof(head) - 1;
    memcpy(head, g_in, hl);
    head[hl] = '\0';
    *body_len = s_content_length(head);
    if (*body_len > S_MAX_IN - *head_len) return false;
    while (g_in_len < *head_len + *body_len) {
        ssize_t r = recv(g_cfd, g_in + g_in_len, S_MAX_IN - g_in_len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        g_in_len += (size_t)r;
    }
    return true;
}

static fake_req *s_record(size_t head_len, size_t body_len) {
    pthread_mutex_lock(&g_mu);
    fake_req *r = g_n_reqs < FAKE_MAX_REQS ? &g_reqs[g_n_reqs++] : NULL;
    if (r != NULL) {
        memset(r->method, 0, sizeof(r->method));
        memset(r->path, 0, sizeof(r->path));
        const char *line = (const char *)g_in;
        const char *sp1 = memchr(line, ' ', head_len);
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', head_len - (size_t)(sp1 + 1 - line)) : NULL;
        const char *eol = (const char *)s_find(g_in, head_len, "\r\n");
        if (sp1 && sp2 && (size_t)(sp1 - line) < sizeof(r->method) &&
            (size_t)(sp2 - sp1 - 1) < sizeof(r->path)) {
            memcpy(r->method, line, (size_t)(sp1 - line));
            memcpy(r->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
        }
        size_t hstart = eol ? (size_t)(eol - line) + 2 : head_len;
        size_t hl = head_len - hstart;
        if (hl > sizeof(r->head) - 1) hl = sizeof(r->head) - 1;
        memcpy(r->head, g_in + hstart, hl);
        r->head[hl] = '\0';
        size_t bl = body_len < FAKE_MAX_BODY ? body_len : FAKE_MAX_BODY;
        memcpy(r->body, g_in + head_len, bl);
        r->body[bl] = '\0';
        r->body_len = body_len;
    }
    pthread_mutex_unlock(&g_mu);
    return r;
}

/* Handles one request; returns false when the connection must be closed. */
static bool s_handle(void) {
    size_t head_len, body_len;
    if (!s_read_request(&head_len, &body_len)) return false;
    fake_req *r = s_record(head_len, body_len);
    /* Keep whatever followed this request (curl does not pipeline, but be exact). */
    size_t used = head_len + body_len;
    memmove(g_in, g_in + used, g_in_len - used);
    g_in_len -= used;
    if (r == NULL) return false;

    char hdr[512];
    if (strcmp(r->method, "GET") == 0 && strstr(r->path, "/runtime/invocation/next") != NULL) {
        pthread_mutex_lock(&g_mu);
        g_n_next++;
        s_step *st = g_next_step < g_n_steps ? &g_steps[g_next_step++] : NULL;
        pthread_mutex_unlock(&g_mu);
        if (st == NULL || st->kind == S_DROP) return false;
        if (st->kind == S_DOWN) {
            pthread_mutex_lock(&g_mu);
            if (g_lfd >= 0) close(g_lfd);
            g_lfd = -1;
            pthread_mutex_unlock(&g_mu);
            return false;
        }
        int n = snprintf(hdr, sizeof(hdr),
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n",
                         st->len);
        return s_send_all(g_cfd, hdr, (size_t)n) && s_send_all(g_cfd, st->headers, strlen(st->headers)) &&
               s_send_all(g_cfd, "\r\n", 2) && s_send_all(g_cfd, st->body, st->len);
    }
    pthread_mutex_lock(&g_mu);
    g_n_post++;
    int status = g_post_status;
    pthread_mutex_unlock(&g_mu);
    static const char ok_body[] = "{\"status\":\"OK\"}";
    int n = snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 %d Whatever\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     status, sizeof(ok_body) - 1, ok_body);
    return s_send_all(g_cfd, hdr, (size_t)n);
}

static void *s_thread(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&g_mu);
        bool stop = g_stop;
        int lfd = g_lfd;
        pthread_mutex_unlock(&g_mu);
        if (stop) break;
        struct pollfd p[3] = {{g_wake[0], POLLIN, 0}, {lfd, POLLIN, 0}, {g_cfd, POLLIN, 0}};
        if (poll(p, 3, -1) < 0) continue;
        if (p[0].revents) {
            char b[16];
            ssize_t n = read(g_wake[0], b, sizeof(b));
            (void)n;
            continue;
        }
        if (lfd >= 0 && (p[1].revents & POLLIN)) {
            int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                /* One connection at a time: a new one means the client gave up the old one. */
                s_close_conn();
                /* Several small writes per answer: without this, Nagle + delayed ACK add 40 ms. */
                int one = 1;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                g_cfd = c;
            }
            continue;
        }
        if (g_cfd >= 0 && p[2].revents) {
            if (!s_handle()) s_close_conn();
        }
    }
    s_close_conn();
    return NULL;
}

/* ------------------------------------------------------------------ API */

void fake_rapi_start(void) {
    if (g_running) fail_msg("fake_rapi already running");
    g_stop = false;
    g_n_steps = g_next_step = g_n_reqs = g_n_next = g_n_post = 0;
    g_in_len = 0;
    g_post_status = 202;
    g_lfd = s_listen(0);
    if (g_lfd < 0) fail_msg("fake_rapi: cannot listen: %s", strerror(errno));
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    getsockname(g_lfd, (struct sockaddr *)&sa, &sl);
    g_port = ntohs(sa.sin_port);
    snprintf(g_addr, sizeof(g_addr), "127.0.0.1:%u", (unsigned)g_port);
    if (pipe2(g_wake, O_CLOEXEC) != 0) fail_msg("fake_rapi: pipe: %s", strerror(errno));
    if (pthread_create(&g_thread, NULL, s_thread, NULL) != 0) fail_msg("fake_rapi: pthread_create");
    g_running = true;
}

void fake_rapi_stop(void) {
    if (!g_running) return;
    pthread_mutex_lock(&g_mu);
    g_stop = true;
    pthread_mutex_unlock(&g_mu);
    s_wake();
    pthread_join(g_thread, NULL);
    if (g_lfd >= 0) close(g_lfd);
    g_lfd = -1;
    close(g_wake[0]);
    close(g_wake[1]);
    g_wake[0] = g_wake[1] = -1;
    g_running = false;
}

const char *fake_rapi_addr(void) { return g_addr; }

static s_step *s_push(s_kind kind) {
    pthread_mutex_lock(&g_mu);
    s_step *st = g_n_steps < FAKE_MAX_STEPS ? &g_steps[g_n_steps++] : NULL;
    pthread_mutex_unlock(&g_mu);
    if (st == NULL) fail_msg("fake_rapi: too many steps");
    memset(st->headers, 0, sizeof(st->headers));
    st->kind = kind;
    st->body = "";
    st->len = 0;
    return st;
}

void fake_rapi_push_raw(const char *headers, const void *body, size_t len) {
    s_step *st = s_push(S_EVENT);
    if (strlen(headers) >= sizeof(st->headers)) fail_msg("fake_rapi: headers too long");
    memcpy(st->headers, headers, strlen(headers));
    st->body = body;
    st->len = len;
}

void fake_rapi_push_invocation(const char *rid, const char *body) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long deadline = (unsigned long long)ts.tv_sec * 1000ull + 60000ull;
    char h[1024];
    snprintf(h, sizeof(h),
             "Lambda-Runtime-Aws-Request-Id: %s\r\n"
             "Lambda-Runtime-Deadline-Ms: %llu\r\n"
             "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:test\r\n"
             "Lambda-Runtime-Trace-Id: "
             "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c;Parent=53995c3f42cd8ad8;Sampled=1\r\n",
             rid, deadline);
    fake_rapi_push_raw(h, body, strlen(body));
}

void fake_rapi_push_drop(void) { (void)s_push(S_DROP); }
void fake_rapi_push_down(void) { (void)s_push(S_DOWN); }

void fake_rapi_up(void) {
    int fd = s_listen(g_port);
    if (fd < 0) fail_msg("fake_rapi: cannot listen again on %u: %s", (unsigned)g_port, strerror(errno));
    pthread_mutex_lock(&g_mu);
    if (g_lfd >= 0) close(g_lfd);
    g_lfd = fd;
    pthread_mutex_unlock(&g_mu);
    s_wake();
}

void fake_rapi_set_post_status(int status) {
    pthread_mutex_lock(&g_mu);
    g_post_status = status;
    pthread_mutex_unlock(&g_mu);
}

size_t fake_rapi_count(void) {
    pthread_mutex_lock(&g_mu);
    size_t n = g_n_reqs;
    pthread_mutex_unlock(&g_mu);
    return n;
}

const fake_req *fake_rapi_req(size_t i) { return i < fake_rapi_count() ? &g_reqs[i] : NULL; }

size_t fake_rapi_next_count(void) {
    pthread_mutex_lock(&g_mu);
    size_t n = g_n_next;
    pthread_mutex_unlock(&g_mu);
    return n;
}

size_t fake_rapi_post_count(void) {
    pthread_mutex_lock(&g_mu);
    size_t n = g_n_post;
    pthread_mutex_unlock(&g_mu);
    return n;
}

const fake_req *fake_rapi_post(size_t nth) {
    size_t n = fake_rapi_count();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(g_reqs[i].method, "POST") != 0) continue;
        if (nth-- == 0) return &g_reqs[i];
    }
    return NULL;
}

bool fake_req_header(const fake_req *r, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    const char *p = r->head;
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vl = ll - (size_t)(v - p);
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (vl >= cap) vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        if (eol == NULL) break;
        p = eol + 2;
    }
    return false;
}
