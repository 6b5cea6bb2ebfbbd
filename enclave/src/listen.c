/* listen.c — TCP and AF_VSOCK listening sockets (see aks/listen.h). */
#include "aks/listen.h"

#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

static ak_err s_listen_port(ak_cur c, uint32_t max, uint32_t *out) {
    uint64_t v;
    AK_ENSURE(c.len > 0 && c.len <= 10 && ak_cur_to_u64(c, &v) == AK_OK && v <= max, AK_E_INVALID_INPUT);
    *out = (uint32_t)v;
    return AK_OK;
}

ak_err aks_listen_parse_tcp(ak_cur hostport, aks_listen_addr *out) {
    char host[16];
    uint32_t port;
    long colon = -1;
    for (size_t i = 0; i < hostport.len; i++)
        if (hostport.ptr[i] == ':') colon = (long)i;
    AK_ENSURE(colon > 0, AK_E_INVALID_INPUT);
    ak_cur h = ak_cur_from(hostport.ptr, (size_t)colon);
    ak_cur p = ak_cur_from(hostport.ptr + colon + 1, hostport.len - (size_t)colon - 1);
    AK_ENSURE(ak_cur_to_cstr(h, host, sizeof(host)) == AK_OK, AK_E_INVALID_INPUT);
    AK_GUARD(s_listen_port(p, 65535, &port));
    memset(out, 0, sizeof(*out));
    out->family = AF_INET;
    out->in.sin_family = AF_INET;
    out->in.sin_port = htons((uint16_t)port);
    AK_ENSURE(inet_pton(AF_INET, host, &out->in.sin_addr) == 1, AK_E_INVALID_INPUT);
    return AK_OK;
}

ak_err aks_listen_parse_vsock(ak_cur cidport, aks_listen_addr *out) {
    ak_cur cid_text;
    uint32_t cid, port;
    AK_ENSURE(ak_cur_split(&cidport, ':', &cid_text), AK_E_INVALID_INPUT);
    if (ak_cur_eq_str(cid_text, "any"))
        cid = VMADDR_CID_ANY;
    else
        AK_GUARD(s_listen_port(cid_text, UINT32_MAX, &cid));
    AK_GUARD(s_listen_port(cidport, UINT32_MAX, &port));
    memset(out, 0, sizeof(*out));
    out->family = AF_VSOCK;
    out->vm.svm_family = AF_VSOCK;
    out->vm.svm_cid = cid;
    out->vm.svm_port = port;
    return AK_OK;
}

ak_err aks_listen_open(const aks_listen_addr *a, int backlog, int *fd_out) {
    int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    AK_ENSURE(fd >= 0, AK_E_IO);
    int one = 1;
    const struct sockaddr *sa =
        a->family == AF_INET ? (const struct sockaddr *)&a->in : (const struct sockaddr *)&a->vm;
    socklen_t len = a->family == AF_INET ? sizeof(a->in) : sizeof(a->vm);
    if (a->family == AF_INET) (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, sa, len) != 0 || listen(fd, backlog) != 0) {
        close(fd);
        return AK_E_IO;
    }
    *fd_out = fd;
    return AK_OK;
}

ak_err aks_listen_bound_port(int fd, unsigned *port) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    AK_ENSURE(getsockname(fd, (struct sockaddr *)&ss, &len) == 0, AK_E_IO);
    if (ss.ss_family == AF_INET)
        *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_VSOCK)
        *port = ((struct sockaddr_vm *)&ss)->svm_port;
    else
        return AK_E_IO;
    return AK_OK;
}
