/*
 * tests/bench/invoke_bench.c — a small Lambda Invoke API client for the benchmarks (issue 2 §9).
 *
 *   invoke_bench --port P --function NAME [--count N] [--cold K] [--payload-file F]
 *
 * Talks HTTP/1.1 to ak-emulator on 127.0.0.1:P over ONE keep-alive connection:
 *   --cold K   K times: POST /__emulator/functions/NAME/stop, then one invoke, so every
 *              invoke is a cold start (the emulator records exec -> first /next per start;
 *              read them from /__emulator/stats). Prints the client-side cold invoke latency.
 *   --count N  one warm-up invoke, then N sequential invokes of the same payload; prints
 *              invocations per second and latency percentiles.
 * Every answer must be 200 without X-Amz-Function-Error, or the run fails (exit 1).
 * Output: "key value" lines. Only libc: no allocation, no JSON.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_PAYLOAD (1u << 20)
#define S_MAX_RESP (1u << 20)
#define S_MAX_SAMPLES 100000u

static char g_payload[S_MAX_PAYLOAD];
static size_t g_payload_len;
static char g_resp[S_MAX_RESP + 1];
static uint64_t g_lat[S_MAX_SAMPLES];

static uint64_t s_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int s_connect(unsigned port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int s_send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Parses a decimal number; -1 when not one. */
static long s_num(const char *s, size_t n) {
    long v = 0;
    if (n == 0 || n > 9) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Reads one response; returns the status, or -1. *fn_error set when X-Amz-Function-Error. */
static int s_read_response(int fd, int *fn_error) {
    size_t have = 0;
    char *he = NULL;
    *fn_error = 0;
    while (he == NULL) {
        if (have == S_MAX_RESP) return -1;
        ssize_t r = recv(fd, g_resp + have, S_MAX_RESP - have, 0);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return -1;
        }
        have += (size_t)r;
        g_resp[have] = '\0';
        he = strstr(g_resp, "\r\n\r\n");
    }
    size_t head = (size_t)(he - g_resp) + 4;
    if (have < 12 || memcmp(g_resp, "HTTP/1.1 ", 9) != 0) return -1;
    int status = (int)s_num(g_resp + 9, 3);
    long clen = -1;
    for (char *l = strstr(g_resp, "\r\n") + 2; l < he; l = strstr(l, "\r\n") + 2) {
        char *e = strstr(l, "\r\n");
        char *colon = memchr(l, ':', (size_t)(e - l));
        if (colon == NULL) continue;
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        size_t nlen = (size_t)(colon - l);
        if (nlen == 14 && strncasecmp(l, "content-length", 14) == 0) clen = s_num(v, (size_t)(e - v));
        if (nlen == 20 && strncasecmp(l, "x-amz-function-error", 20) == 0) *fn_error = 1;
    }
    if (clen < 0 || (size_t)clen > S_MAX_RESP - head) return -1;
    while (have < head + (size_t)clen) {
        ssize_t r = recv(fd, g_resp + have, head + (size_t)clen - have, 0);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return -1;
        }
        have += (size_t)r;
    }
    if (have != head + (size_t)clen) return -1; /* nothing pipelined: one request at a time */
    return status;
}

static int s_request(int fd, const char *method, const char *path, const char *body, size_t blen,
                     int *fn_error) {
    char hdr[512];
    int n = snprintf(hdr, sizeof(hdr),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, blen);
    if (n < 0 || (size_t)n >= sizeof(hdr)) return -1;
    if (s_send_all(fd, hdr, (size_t)n) != 0 || s_send_all(fd, body, blen) != 0) return -1;
    return s_read_response(fd, fn_error);
}

static int s_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t s_pct(uint64_t *v, size_t n, unsigned pct) {
    size_t i = (n * pct + 99) / 100;
    return v[i == 0 ? 0 : i - 1];
}

static int s_usage(void) {
    fputs("usage: invoke_bench --port P --function NAME [--count N] [--cold K] [--payload-file F]\n", stderr);
    return 2;
}

int main(int argc, char **argv) {
    unsigned port = 0;
    const char *fn = NULL, *pfile = NULL;
    long count = 0, cold = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *v = argv[i + 1];
        long num = s_num(v, strlen(v));
        if (strcmp(argv[i], "--port") == 0 && num > 0 && num < 65536) {
            port = (unsigned)num;
        } else if (strcmp(argv[i], "--function") == 0) {
            fn = v;
        } else if (strcmp(argv[i], "--count") == 0 && num >= 0 && num <= (long)S_MAX_SAMPLES) {
            count = num;
        } else if (strcmp(argv[i], "--cold") == 0 && num >= 0 && num <= (long)S_MAX_SAMPLES) {
            cold = num;
        } else if (strcmp(argv[i], "--payload-file") == 0) {
            pfile = v;
        } else {
            return s_usage();
        }
    }
    if (argc % 2 == 0 || port == 0 || fn == NULL || strlen(fn) > 200) return s_usage();
    if (pfile != NULL) {
        int pf = open(pfile, O_RDONLY | O_CLOEXEC);
        ssize_t r = pf >= 0 ? read(pf, g_payload, sizeof(g_payload)) : -1;
        if (pf >= 0) close(pf);
        if (r < 0 || (size_t)r == sizeof(g_payload)) {
            fprintf(stderr, "invoke_bench: cannot read %s (or over 1 MiB)\n", pfile);
            return 2;
        }
        g_payload_len = (size_t)r;
    } else {
        memcpy(g_payload, "{}", 2);
        g_payload_len = 2;
    }
    char inv_path[256], stop_path[256];
    snprintf(inv_path, sizeof(inv_path), "/2015-03-31/functions/%s/invocations", fn);
    snprintf(stop_path, sizeof(stop_path), "/__emulator/functions/%s/stop", fn);
    int fd = s_connect(port);
    if (fd < 0) {
        fprintf(stderr, "invoke_bench: cannot connect to 127.0.0.1:%u\n", port);
        return 1;
    }
    int fe;
    if (cold > 0) {
        size_t n = 0;
        for (long i = 0; i < cold; i++) {
            if (s_request(fd, "POST", stop_path, "", 0, &fe) != 200) {
                fprintf(stderr, "invoke_bench: stop failed\n");
                return 1;
            }
            uint64_t t0 = s_now_ns();
            if (s_request(fd, "POST", inv_path, g_payload, g_payload_len, &fe) != 200 || fe) {
                fprintf(stderr, "invoke_bench: cold invoke %ld failed (function error %d)\n", i, fe);
                return 1;
            }
            g_lat[n++] = s_now_ns() - t0;
        }
        qsort(g_lat, n, sizeof(g_lat[0]), s_cmp);
        printf("cold_invokes %zu\n", n);
        printf("cold_invoke_ms_p50 %.3f\n", (double)s_pct(g_lat, n, 50) / 1e6);
        printf("cold_invoke_ms_p90 %.3f\n", (double)s_pct(g_lat, n, 90) / 1e6);
    }
    if (count > 0) {
        if (s_request(fd, "POST", inv_path, g_payload, g_payload_len, &fe) != 200 || fe) {
            fprintf(stderr, "invoke_bench: warm-up invoke failed\n");
            return 1;
        }
        uint64_t start = s_now_ns();
        for (long i = 0; i < count; i++) {
            uint64_t t0 = s_now_ns();
            if (s_request(fd, "POST", inv_path, g_payload, g_payload_len, &fe) != 200 || fe) {
                fprintf(stderr, "invoke_bench: invoke %ld failed (function error %d)\n", i, fe);
                return 1;
            }
            g_lat[i] = s_now_ns() - t0;
        }
        uint64_t total = s_now_ns() - start;
        qsort(g_lat, (size_t)count, sizeof(g_lat[0]), s_cmp);
        printf("invocations %ld\n", count);
        printf("invocations_per_s %.1f\n", (double)count * 1e9 / (double)total);
        printf("latency_us_p50 %.1f\n", (double)s_pct(g_lat, (size_t)count, 50) / 1e3);
        printf("latency_us_p99 %.1f\n", (double)s_pct(g_lat, (size_t)count, 99) / 1e3);
    }
    close(fd);
    return 0;
}
