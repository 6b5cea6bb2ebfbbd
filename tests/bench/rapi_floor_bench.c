/*
 * tests/bench/rapi_floor_bench.c — a peer program for tests/bench/cold_start.sh, not a
 * benchmark of its own (run.sh skips it): the least any runtime can do per invocation through
 * the Lambda Runtime API. One kept-alive loopback socket; GET .../invocation/next, read the
 * headers up to the blank line, take the request id and Content-Length, skip the body, POST
 * "{}" to .../response, read the 202. No JSON, no logging, no retries, no checks beyond what
 * keeps the loop going. Its Duration and invokes/s are the floor the emulator and the kernel
 * set, against which "N times the Node client" targets can be judged: no real runtime beats it.
 * Exits 1 on any protocol surprise (the bench then reports the peer as failed).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int s_fd = -1;
static char s_buf[1 << 20];
static size_t s_len; /* bytes in s_buf not yet consumed */

static int s_write_all(const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(s_fd, p, n);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one response: headers into hdr (NUL-terminated copy), the body skipped. */
static int s_read_response(char *hdr, size_t hdr_cap, int *status) {
    char *end;
    while ((end = memmem(s_buf, s_len, "\r\n\r\n", 4)) == NULL) {
        if (s_len == sizeof(s_buf)) return -1;
        ssize_t r = read(s_fd, s_buf + s_len, sizeof(s_buf) - s_len);
        if (r <= 0) return -1;
        s_len += (size_t)r;
    }
    size_t hlen = (size_t)(end - s_buf) + 4;
    if (hlen >= hdr_cap) return -1;
    memcpy(hdr, s_buf, hlen);
    hdr[hlen] = '\0';
    if (strncmp(hdr, "HTTP/1.1 ", 9) != 0) return -1;
    *status = (int)strtol(hdr + 9, NULL, 10);
    size_t clen = 0;
    for (char *l = strstr(hdr, "\r\n"); l != NULL && l[2] != '\r'; l = strstr(l + 2, "\r\n"))
        if (strncasecmp(l + 2, "Content-Length:", 15) == 0) clen = strtoul(l + 17, NULL, 10);
    size_t need = hlen + clen;
    while (s_len < need) { /* the body: read and drop */
        if (s_len == sizeof(s_buf)) {
            need -= s_len;
            s_len = 0;
        }
        ssize_t r = read(s_fd, s_buf + s_len, sizeof(s_buf) - s_len);
        if (r <= 0) return -1;
        s_len += (size_t)r;
    }
    memmove(s_buf, s_buf + need, s_len - need);
    s_len -= need;
    return 0;
}

int main(void) {
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    const char *colon = api ? strrchr(api, ':') : NULL;
    if (colon == NULL) return 1;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10))};
    char host[64];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - api), api);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return 1;
    s_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (s_fd < 0 || connect(s_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) return 1;
    static char hdr[16384], req[512];
    for (;;) {
        int status = 0;
        static const char next[] = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
        if (s_write_all(next, sizeof(next) - 1) != 0 || s_read_response(hdr, sizeof(hdr), &status) != 0 ||
            status != 200)
            return 1;
        const char *id = strcasestr(hdr, "\r\nLambda-Runtime-Aws-Request-Id:");
        if (id == NULL) return 1;
        id += 32;
        while (*id == ' ')
            id++;
        size_t idlen = strcspn(id, "\r");
        int n = snprintf(req, sizeof(req),
                         "POST /2018-06-01/runtime/invocation/%.*s/response HTTP/1.1\r\nHost: x\r\n"
                         "Content-Length: 2\r\n\r\n{}",
                         (int)idlen, id);
        if (n <= 0 || (size_t)n >= sizeof(req)) return 1;
        if (s_write_all(req, (size_t)n) != 0 || s_read_response(hdr, sizeof(hdr), &status) != 0 ||
            status != 202)
            return 1;
    }
}
