/* connector.c — connector specs and the AF_VSOCK / AF_UNIX socket opener (see ak/connector.h). */
#include "ak/connector.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Strict decimal: digits only, no leading zero (except "0" itself), within [lo, hi]. */
static bool s_conn_num(ak_cur c, uint64_t lo, uint64_t hi, uint32_t *out) {
    uint64_t v;
    if (c.len == 0 || (c.len > 1 && c.ptr[0] == '0')) return false;
    if (ak_cur_to_u64(c, &v) != AK_OK || v < lo || v > hi) return false;
    *out = (uint32_t)v;
    return true;
}

static bool s_conn_host_ok(ak_cur h) {
    if (h.len == 0 || h.len > 253) return false;
    for (size_t i = 0; i < h.len; i++) {
        uint8_t ch = h.ptr[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '.';
        if (!ok) return false;
    }
    return true;
}

ak_err ak_connector_parse(ak_cur spec, ak_connector *out) {
    AK_PRECOND(out != NULL);
    memset(out, 0, sizeof(*out));
    AK_ENSURE(spec.len > 0 && spec.len < sizeof(out->spec), AK_E_CONFIG);
    memcpy(out->spec, spec.ptr, spec.len);
    out->spec[spec.len] = '\0';
    AK_ENSURE(strlen(out->spec) == spec.len, AK_E_CONFIG); /* no NUL inside */
    ak_cur rest = spec, head;
    if (ak_cur_starts_with(spec, AK_CUR_LIT("vsock:"))) {
        /* vsock:CID:PORT. CID 0 (hypervisor) and 0xFFFFFFFF (VMADDR_CID_ANY) cannot be connected
         * to; port 0xFFFFFFFF is VMADDR_PORT_ANY. */
        rest.ptr += 6;
        rest.len -= 6;
        AK_ENSURE(ak_cur_split(&rest, ':', &head), AK_E_CONFIG);
        AK_ENSURE(s_conn_num(head, 1, 0xFFFFFFFEu, &out->cid), AK_E_CONFIG);
        AK_ENSURE(s_conn_num(rest, 1, 0xFFFFFFFEu, &out->port), AK_E_CONFIG);
        out->kind = AK_CONN_VSOCK;
        return AK_OK;
    }
    if (ak_cur_starts_with(spec, AK_CUR_LIT("unix:"))) {
        rest.ptr += 5;
        rest.len -= 5;
        AK_ENSURE(rest.len > 1 && rest.len <= AK_CONNECTOR_MAX_PATH && rest.ptr[0] == '/', AK_E_CONFIG);
        memcpy(out->path, rest.ptr, rest.len);
        out->path[rest.len] = '\0';
        out->kind = AK_CONN_UNIX;
        return AK_OK;
    }
    /* HOST:PORT — exactly one ':' (no IPv6 literal, no scheme, no path). */
    AK_ENSURE(ak_cur_split(&rest, ':', &head), AK_E_CONFIG);
    AK_ENSURE(ak_cur_find(rest, ':') < 0 && s_conn_host_ok(head), AK_E_CONFIG);
    AK_ENSURE(s_conn_num(rest, 1, 65535, &out->port), AK_E_CONFIG);
    memcpy(out->host, head.ptr, head.len);
    out->host[head.len] = '\0';
    out->kind = AK_CONN_TCP;
    return AK_OK;
}

static int64_t s_conn_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ak_err ak_connector_sockaddr(const ak_connector *c, struct sockaddr_storage *ss, unsigned *len, int *family) {
    AK_PRECOND(c != NULL && ss != NULL && len != NULL && family != NULL);
    memset(ss, 0, sizeof(*ss));
    if (c->kind == AK_CONN_VSOCK) {
        struct sockaddr_vm *vm = (struct sockaddr_vm *)ss;
        vm->svm_family = AF_VSOCK;
        vm->svm_cid = c->cid;
        vm->svm_port = c->port;
        *len = sizeof(*vm);
        *family = AF_VSOCK;
        return AK_OK;
    }
    if (c->kind == AK_CONN_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, c->path, strlen(c->path) + 1);
        *len = (unsigned)sizeof(*un);
        *family = AF_UNIX;
        return AK_OK;
    }
    return AK_E_CONFIG; /* TCP is curl's own connect */
}

ak_err ak_connector_connect(const ak_connector *c, unsigned timeout_ms, int *fd, int *sys_errno) {
    AK_PRECOND(c != NULL && fd != NULL && sys_errno != NULL);
    struct sockaddr_storage ss;
    unsigned salen;
    int family;
    *fd = -1;
    *sys_errno = 0;
    if (ak_connector_sockaddr(c, &ss, &salen, &family) != AK_OK) {
        *sys_errno = EINVAL;
        return AK_E_CONFIG;
    }
    const struct sockaddr *sa = (const struct sockaddr *)&ss;
    /* Non-blocking connect + poll: the wait is bounded by timeout_ms whatever the peer does. */
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) {
        *sys_errno = errno;
        return AK_E_UPSTREAM;
    }
    ak_err rc = AK_OK;
    if (connect(s, sa, (socklen_t)salen) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            *sys_errno = errno;
            rc = AK_E_UPSTREAM;
            goto out;
        }
        int64_t end = s_conn_mono_ms() + (int64_t)timeout_ms;
        for (;;) {
            int64_t left = end - s_conn_mono_ms();
            if (left <= 0) {
                *sys_errno = ETIMEDOUT;
                rc = AK_E_UPSTREAM_TIMEOUT;
                goto out;
            }
            struct pollfd p = {.fd = s, .events = POLLOUT};
            int n = poll(&p, 1, (int)left);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                *sys_errno = errno;
                rc = AK_E_UPSTREAM;
                goto out;
            }
            if (n == 0) continue; /* re-checks the time left */
            int err = 0;
            socklen_t el = sizeof(err);
            if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
            if (err != 0) {
                *sys_errno = err;
                rc = AK_E_UPSTREAM;
                goto out;
            }
            break;
        }
    }
out:
    if (rc != AK_OK) {
        close(s);
        return rc;
    }
    *fd = s;
    return AK_OK;
}
