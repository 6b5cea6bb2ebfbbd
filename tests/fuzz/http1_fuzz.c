/*
 * http1_fuzz.c — the Runtime API's HTTP/1.1 client reading an answer (runtime/src/http1.c): the
 * input is everything the peer sends, fed through a socketpair, so the head grammar, 1xx
 * skipping, Content-Length, chunked and close-delimited framing all run on it.
 * Invariants: no crash or sanitizer report; on AK_OK the status is a final one (200..999); a
 * parsed head never has both framings; the body handed over never exceeds the sink's cap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "akrt/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_CAP 4096u

static size_t g_got;

static bool s_body(void *ud, const uint8_t *p, size_t n) {
    (void)ud;
    (void)p;
    if (g_got + n > S_CAP) return false;
    g_got += n;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0; /* stays inside a socketpair's buffer: written before it is read */
    akrt_http1_head h;
    if (akrt_http1_parse_head(ak_cur_from(data, size), &h, NULL) == AK_OK && h.chunked && h.has_length)
        __builtin_trap();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(sv[1], data + off, size - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR);
    akrt_http1 c;
    if (akrt_http1_init(&c, "127.0.0.1:9001", 100) != AK_OK) __builtin_trap();
    c.fd = sv[0];
    g_got = 0;
    akrt_http1_cb cb = {.on_body = s_body};
    int status = 0;
    ak_err e = akrt_http1_request(&c, "GET", "/next", NULL, ak_cur_from(NULL, 0), &cb, &status);
    if (e == AK_OK && (status < 200 || status > 999)) __builtin_trap();
    if (g_got > S_CAP) __builtin_trap();
    akrt_http1_free(&c); /* closes sv[0] if still open */
    close(sv[1]);
    return 0;
}
