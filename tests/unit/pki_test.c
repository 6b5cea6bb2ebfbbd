/* pki_test.c — ak/pki.h extended key usage check (issue 16 finding 8): certificates made by
 * openssl (an independent encoder) with every EKU shape the signer and its clients meet. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ak/pki.h"

static char g_dir[64];

static void s_setup(void) {
    char cmd[256];
    snprintf(g_dir, sizeof(g_dir), "/tmp/ak_pki_test.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s/k.pem 2>/dev/null",
             g_dir);
    assert_int_equal(system(cmd), 0);
}

static void s_teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
}

/* A self-signed <name>.crt whose v3 section holds `ext` (lines; may be empty). */
static void s_cert(const char *name, const char *ext) {
    char path[160], cmd[512];
    snprintf(path, sizeof(path), "%s/%s.cnf", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=%s\n[v3]\nbasicConstraints=CA:FALSE\n%s\n",
            name, ext);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -new -x509 -key k.pem -config %s.cnf -extensions v3 -days 2 -out %s.crt "
             "2>/dev/null",
             g_dir, name, name);
    assert_int_equal(system(cmd), 0);
}

static void s_der(const char *name, ak_buf *der) {
    char path[160];
    ak_buf pem;
    ak_pki_chain c;
    snprintf(path, sizeof(path), "%s/%s.crt", g_dir, name);
    EXPECT_OK(ak_pki_read_file(path, &pem));
    EXPECT_OK(ak_pki_chain_from_pem(ak_buf_cur(&pem), &c));
    ak_buf_init(der, 16384);
    EXPECT_OK(ak_buf_append(der, c.certs[0].data, c.certs[0].data_len));
    ak_pki_chain_free(&c);
    ak_buf_free(&pem);
}

static void s_expect(const char *name, const char *ext, ak_err server, ak_err client) {
    ak_buf der;
    s_cert(name, ext);
    s_der(name, &der);
    EXPECT_INT_EQ(ak_pki_cert_check_eku(ak_buf_cur(&der), AK_PKI_EKU_SERVER), server);
    EXPECT_INT_EQ(ak_pki_cert_check_eku(ak_buf_cur(&der), AK_PKI_EKU_CLIENT), client);
    ak_buf_free(&der);
}

AK_TEST(test_eku_shapes) {
    s_setup();
    s_expect("server", "extendedKeyUsage=serverAuth", AK_OK, AK_E_CERT_EKU_MISSING);
    s_expect("client", "extendedKeyUsage=clientAuth", AK_E_CERT_EKU_MISSING, AK_OK);
    s_expect("both", "extendedKeyUsage=critical,clientAuth,serverAuth", AK_OK, AK_OK);
    s_expect("other", "extendedKeyUsage=codeSigning,emailProtection", AK_E_CERT_EKU_MISSING,
             AK_E_CERT_EKU_MISSING);
    /* anyExtendedKeyUsage and an absent extension do not count. */
    s_expect("any", "extendedKeyUsage=anyExtendedKeyUsage", AK_E_CERT_EKU_MISSING, AK_E_CERT_EKU_MISSING);
    s_expect("none", "subjectAltName=URI:spiffe://agentkeys/role/audit", AK_E_CERT_EKU_MISSING,
             AK_E_CERT_EKU_MISSING);
    s_expect("san_after", "extendedKeyUsage=clientAuth\nsubjectAltName=URI:spiffe://agentkeys/role/audit",
             AK_E_CERT_EKU_MISSING, AK_OK);
    s_teardown();
}

AK_TEST(test_eku_malformed) {
    ak_buf der;
    s_setup();
    s_cert("c", "extendedKeyUsage=clientAuth");
    s_der("c", &der);
    /* Every truncation fails closed (never AK_OK), and trailing bytes are refused. */
    for (size_t n = 0; n < der.len; n++)
        EXPECT_TRUE(ak_pki_cert_check_eku(ak_cur_from(der.ptr, n), AK_PKI_EKU_CLIENT) != AK_OK);
    EXPECT_OK(ak_buf_append_byte(&der, 0));
    EXPECT_INT_EQ(ak_pki_cert_check_eku(ak_buf_cur(&der), AK_PKI_EKU_CLIENT), AK_E_BAD_KEY);
    der.len--;
    /* Flip the clientAuth OID's last byte (…03 02 -> …03 04, emailProtection). */
    static const uint8_t kp_client[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02};
    uint8_t *hit = memmem(der.ptr, der.len, kp_client, sizeof(kp_client));
    assert_non_null(hit);
    hit[7] = 0x04;
    EXPECT_INT_EQ(ak_pki_cert_check_eku(ak_buf_cur(&der), AK_PKI_EKU_CLIENT), AK_E_CERT_EKU_MISSING);
    EXPECT_INT_EQ(ak_pki_cert_check_eku(ak_cur_from_str("not a certificate"), AK_PKI_EKU_CLIENT),
                  AK_E_BAD_KEY);
    ak_buf_free(&der);
    s_teardown();
}

AK_RUN_TESTS(AK_T(test_eku_shapes), AK_T(test_eku_malformed))
