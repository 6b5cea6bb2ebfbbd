/*
 * aks/listen.h — the signer's listening socket: TCP on loopback for local runs, AF_VSOCK inside a
 * Nitro enclave (the parent instance's vsock-proxy forwards the workers' TCP connections).
 *
 *   --listen HOST:PORT   IPv4 literal and port (0 = any free port; see aks_listen_bound_port)
 *   --vsock CID:PORT     CID a decimal u32 or "any" (VMADDR_CID_ANY, what an enclave binds)
 *
 * The vsock path is compiled everywhere from <linux/vm_sockets.h>; on a host without the vsock
 * transport, socket(AF_VSOCK) fails with EAFNOSUPPORT and aks_listen_open returns AK_E_IO.
 */
#ifndef AKS_LISTEN_H
#define AKS_LISTEN_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ak/bytes.h"
#include "ak/connector.h" /* struct sockaddr_vm, AF_VSOCK, VMADDR_CID_ANY (with the musl fallback) */

typedef struct aks_listen_addr {
    int family; /* AF_INET or AF_VSOCK */
    struct sockaddr_in in;
    struct sockaddr_vm vm;
} aks_listen_addr;

/* "127.0.0.1:8443". AK_E_INVALID_INPUT when malformed (no hostnames: only IPv4 literals). */
AK_MUST ak_err aks_listen_parse_tcp(ak_cur hostport, aks_listen_addr *out);
/* "16:5000", "any:5000". AK_E_INVALID_INPUT when malformed. */
AK_MUST ak_err aks_listen_parse_vsock(ak_cur cidport, aks_listen_addr *out);
/* socket + SO_REUSEADDR (TCP) + bind + listen; CLOEXEC. */
AK_MUST ak_err aks_listen_open(const aks_listen_addr *a, int backlog, int *fd_out);
/* The bound port (TCP or vsock). */
AK_MUST ak_err aks_listen_bound_port(int fd, unsigned *port);

#endif
