/* signer_listen_test.c — listener address parsing (TCP and AF_VSOCK) and socket creation. */
#include "test.h"

#include <errno.h>
#include <unistd.h>

#include "../../enclave/src/listen.c"

AK_TEST(test_parse_tcp) {
    aks_listen_addr a;
    EXPECT_OK(aks_listen_parse_tcp(AK_CUR_LIT("127.0.0.1:8443"), &a));
    EXPECT_INT_EQ(a.family, AF_INET);
    EXPECT_INT_EQ(ntohs(a.in.sin_port), 8443);
    EXPECT_INT_EQ(ntohl(a.in.sin_addr.s_addr), 0x7f000001);
    EXPECT_OK(aks_listen_parse_tcp(AK_CUR_LIT("0.0.0.0:0"), &a));
    static const char *const bad[] = {"",
                                      "127.0.0.1",
                                      "127.0.0.1:",
                                      ":80",
                                      "localhost:80",
                                      "127.0.0.1:65536",
                                      "127.0.0.1:-1",
                                      "127.0.0.1:8a",
                                      "1.2.3:80",
                                      "127.0.0.1:80 ",
                                      "::1:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(AK_E_INVALID_INPUT, aks_listen_parse_tcp(ak_cur_from_str(bad[i]), &a));
}

AK_TEST(test_parse_vsock) {
    aks_listen_addr a;
    EXPECT_OK(aks_listen_parse_vsock(AK_CUR_LIT("16:5000"), &a));
    EXPECT_INT_EQ(a.family, AF_VSOCK);
    EXPECT_INT_EQ(a.vm.svm_family, AF_VSOCK);
    EXPECT_INT_EQ(a.vm.svm_cid, 16);
    EXPECT_INT_EQ(a.vm.svm_port, 5000);
    EXPECT_OK(aks_listen_parse_vsock(AK_CUR_LIT("any:5000"), &a));
    EXPECT_TRUE(a.vm.svm_cid == VMADDR_CID_ANY);
    EXPECT_OK(aks_listen_parse_vsock(AK_CUR_LIT("3:4294967295"), &a));
    static const char *const bad[] = {"",     "16",           "16:",       ":5000", "x:5000",
                                      "16:x", "4294967296:1", "16:5000:1", "-1:5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_ERR(AK_E_INVALID_INPUT, aks_listen_parse_vsock(ak_cur_from_str(bad[i]), &a));
}

AK_TEST(test_open_tcp_any_port) {
    aks_listen_addr a;
    int fd;
    unsigned port = 0;
    EXPECT_OK(aks_listen_parse_tcp(AK_CUR_LIT("127.0.0.1:0"), &a));
    EXPECT_OK(aks_listen_open(&a, 8, &fd));
    EXPECT_OK(aks_listen_bound_port(fd, &port));
    EXPECT_TRUE(port > 0);
    /* The same port cannot be bound twice while listening. */
    aks_listen_addr b = a;
    int fd2;
    b.in.sin_port = htons((uint16_t)port);
    EXPECT_ERR(AK_E_IO, aks_listen_open(&b, 8, &fd2));
    close(fd);
}

AK_TEST(test_open_vsock_where_available) {
    /* Hosts without the vsock transport refuse the socket: that is AK_E_IO, never a crash. With
     * vsock (a Nitro parent or a VM with vhost-vsock) the listener opens on any port. */
    aks_listen_addr a;
    int fd = -1;
    EXPECT_OK(aks_listen_parse_vsock(AK_CUR_LIT("any:0"), &a));
    a.vm.svm_port = (unsigned)-1; /* VMADDR_PORT_ANY */
    ak_err e = aks_listen_open(&a, 8, &fd);
    if (e == AK_OK) {
        unsigned port;
        EXPECT_OK(aks_listen_bound_port(fd, &port));
        close(fd);
    } else {
        EXPECT_INT_EQ(e, AK_E_IO);
        print_message("vsock not available here (errno %d): socket creation refused cleanly\n", errno);
    }
}

AK_RUN_TESTS(AK_T(test_parse_tcp), AK_T(test_parse_vsock), AK_T(test_open_tcp_any_port),
             AK_T(test_open_vsock_where_available))
