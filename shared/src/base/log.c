/* log.c — one JSON object per line on stdout (see ak/log.h). */
#include "ak/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ak/limits.h"

static char g_fn[64] = "agentkeys";
static char g_rid[128];
static ak_log_level g_min = AK_LOG_INFO;

static void s_copy(char *dst, size_t cap, const char *src) {
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

void ak_log_set_function(const char *name) { s_copy(g_fn, sizeof(g_fn), name); }
void ak_log_set_request_id(const char *rid) { s_copy(g_rid, sizeof(g_rid), rid); }
void ak_log_set_min_level(ak_log_level lvl) { g_min = lvl; }

typedef struct {
    char *p;
    size_t len, cap;
    int cut;
} s_line;

/* All or nothing: a piece that does not fit is dropped and the line is marked cut. */
static void s_put(s_line *l, const char *s, size_t n) {
    if (l->cut || l->len + n > l->cap) {
        l->cut = 1;
        return;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void s_put_str(s_line *l, const char *s) {
    static const char hex[] = "0123456789abcdef";
    s_put(l, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; c && *c; c++) {
        char esc[7];
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            s_put(l, esc, 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*c >> 4];
            esc[5] = hex[*c & 15];
            s_put(l, esc, 6);
        } else {
            s_put(l, (const char *)c, 1);
        }
    }
    s_put(l, "\"", 1);
}

static void s_put_str(s_line *l, const char *s);

static void s_header(s_line *l, const char *ts, const char *level, const char *msg) {
    s_put(l, "{\"ts\":", 6);
    s_put_str(l, ts);
    s_put(l, ",\"level\":", 9);
    s_put_str(l, level);
    s_put(l, ",\"fn\":", 6);
    s_put_str(l, g_fn);
    if (g_rid[0]) {
        s_put(l, ",\"rid\":", 7);
        s_put_str(l, g_rid);
    }
    s_put(l, ",\"msg\":", 7);
    s_put_str(l, msg);
}

/* `width` decimal digits of v, zero-padded (v < 10^width). */
static void s_digits(char *dst, unsigned v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        dst[i] = (char)('0' + v % 10u);
        v /= 10u;
    }
}

void ak_log(ak_log_level lvl, const char *msg, ...) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (lvl < g_min) return;
    char storage[AK_MAX_LOG_LINE + 64];
    s_line l = {storage, 0, AK_MAX_LOG_LINE, 0};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    /* YYYY-MM-DDTHH:MM:SS.mmmZ by hand: printf was most of a log line's cost, and every warm
     * invocation writes one. Years outside 0..9999 cannot come from CLOCK_REALTIME here. */
    char tbuf[sizeof("YYYY-MM-DDTHH:MM:SS.mmmZ")];
    s_digits(tbuf, (unsigned)(tm.tm_year + 1900) % 10000u, 4);
    tbuf[4] = '-';
    s_digits(tbuf + 5, (unsigned)tm.tm_mon + 1u, 2);
    tbuf[7] = '-';
    s_digits(tbuf + 8, (unsigned)tm.tm_mday, 2);
    tbuf[10] = 'T';
    s_digits(tbuf + 11, (unsigned)tm.tm_hour, 2);
    tbuf[13] = ':';
    s_digits(tbuf + 14, (unsigned)tm.tm_min, 2);
    tbuf[16] = ':';
    s_digits(tbuf + 17, (unsigned)tm.tm_sec, 2);
    tbuf[19] = '.';
    s_digits(tbuf + 20, (unsigned)(ts.tv_nsec / 1000000L), 3);
    tbuf[23] = 'Z';
    tbuf[24] = 0;
    s_header(&l, tbuf, names[lvl], msg);
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL) break;
        const char *v = va_arg(ap, const char *);
        s_put(&l, ",", 1);
        s_put_str(&l, k);
        s_put(&l, ":", 1);
        s_put_str(&l, v ? v : "");
    }
    va_end(ap);
    if (l.cut) {
        /* Never emit half a JSON object (a cut can land inside a string or an escape): start
         * over with the fixed members only and say the line was truncated. */
        l.len = 0;
        l.cut = 0;
        s_header(&l, tbuf, names[lvl], msg);
        if (l.cut) { /* even the message was too long */
            l.len = 0;
            l.cut = 0;
            s_header(&l, tbuf, names[lvl], "(message too long)");
        }
        l.cap = sizeof(storage); /* the 64 spare bytes always hold the closing members */
        s_put(&l, ",\"truncated\":true", 17);
    }
    l.cap = sizeof(storage);
    s_put(&l, "}\n", 2);
    fwrite(l.p, 1, l.len, stdout);
    fflush(stdout);
}
