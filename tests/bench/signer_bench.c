/*
 * signer_bench.c — the signer over real mTLS, through the client the Lambdas use (ak/signer.h).
 * Prints figures only (DESIGN §6); tests/bench/signer_bench.sh starts a signer and runs it.
 *
 *   signer_bench derive N CAP N KEK derivations (each with the cap, verified by the signer, D20) over ONE kept-alive connection: derivations/s
 *   signer_bench sign N       N ES256 signatures (session key) over one connection: signatures/s
 *   signer_bench handshake N  N fresh connections (TCP + TLS 1.2 mTLS handshake + one GET
 *                             /v1/health), minus the kept-alive cost of that GET: handshake cost
 * Config from the AK_SIGNER_* environment (the identity must fit the mode: a worker-credentials
 * certificate for derive/handshake, auth for sign). Attestation runs once, before timing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ak/alloc.h"
#include "ak/bytes.h"
#include "ak/ct.h"
#include "ak/signer.h"

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int s_fail(const char *what, ak_err e) {
    fprintf(stderr, "signer_bench: %s: %s\n", what, ak_err_reason(e));
    return 1;
}

static ak_err s_health(ak_signer *s) {
    ak_buf b;
    long status = 0;
    ak_buf_init(&b, 65536);
    ak_err e = ak_signer_call(s, "GET", "/v1/health", ak_cur_from(NULL, 0), true, &status, &b);
    ak_buf_free(&b);
    return e == AK_OK && status != 200 ? AK_E_UPSTREAM : e;
}

int main(int argc, char **argv) {
    ak_signer_config cfg;
    ak_signer *s = NULL;
    ak_err e;
    if (argc != 3 && !(argc == 4 && strcmp(argv[1], "derive") == 0)) {
        fprintf(stderr, "usage: signer_bench derive N CAP | sign N | handshake N\n");
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    if (n <= 0) n = 1000;
    ak_alloc_install_jansson();
    if ((e = ak_signer_config_from_env(&cfg)) != AK_OK || (e = ak_signer_new(&cfg, &s)) != AK_OK)
        return s_fail("config", e);
    if ((e = ak_signer_attest(s)) != AK_OK) return s_fail("attest", e);
    uint8_t op[32], actor[32], kek[32], sig[64];
    char kid[AK_SIGNER_KID_MAX];
    memset(op, 0xaa, 32);
    memset(actor, 0xbb, 32);
    unsigned c0 = ak_signer_connects(s);
    if (strcmp(argv[1], "derive") == 0) {
        /* D20: every derive carries the agent's cap (argv[3], minted by signertool cap for operator
         * 0xaa.., actor 0xbb.., fetch, epoch 1); the signer verifies it each time. */
        ak_cur cap = ak_cur_from_str(argc > 3 ? argv[3] : "");
        if ((e = ak_signer_derive_kek(s, "credentials", "fetch", cap, op, actor, 1, kek)) != AK_OK)
            return s_fail("derive", e);
        double t0 = s_now();
        for (long i = 0; i < n; i++) {
            if ((e = ak_signer_derive_kek(s, "credentials", "fetch", cap, op, actor, 1, kek)) != AK_OK)
                return s_fail("derive", e);
        }
        double dt = s_now() - t0;
        ak_wipe(kek, sizeof(kek));
        printf("signer KEK derive (mTLS keep-alive, 1 connection): %ld in %.3f s = %.0f derivations/s (%.1f "
               "us each), "
               "new connections during the run: %u\n",
               n, dt, (double)n / dt, dt / (double)n * 1e6, ak_signer_connects(s) - c0);
    } else if (strcmp(argv[1], "sign") == 0) {
        char input[512];
        if ((e = ak_signer_current_kid(s, AK_SIGNER_KEY_SESSION, kid)) != AK_OK) return s_fail("kid", e);
        /* Header {"alg":"ES256","typ":"JWT","kid":<kid>} built as text, then base64url. */
        ak_buf hdr, in;
        ak_buf_init(&hdr, 256);
        ak_buf_init(&in, 1024);
        if (ak_buf_printf(&hdr, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid) != AK_OK ||
            ak_b64url_encode(hdr.ptr, hdr.len, &in) != AK_OK ||
            ak_buf_append_str(&in, ".eyJzdWIiOiJiZW5jaCJ9") != AK_OK)
            return s_fail("input", AK_E_INTERNAL);
        snprintf(input, sizeof(input), "%s", ak_buf_cstr(&in));
        ak_buf_free(&hdr);
        ak_buf_free(&in);
        double t0 = s_now();
        for (long i = 0; i < n; i++)
            if ((e = ak_signer_sign(s, AK_SIGNER_KEY_SESSION, ak_cur_from_str(input), sig, kid)) != AK_OK)
                return s_fail("sign", e);
        double dt = s_now() - t0;
        printf("signer ES256 sign (mTLS keep-alive, 1 connection): %ld in %.3f s = %.0f signatures/s (%.1f "
               "us each), "
               "new connections during the run: %u\n",
               n, dt, (double)n / dt, dt / (double)n * 1e6, ak_signer_connects(s) - c0);
    } else if (strcmp(argv[1], "handshake") == 0) {
        if ((e = s_health(s)) != AK_OK) return s_fail("health", e);
        double t0 = s_now();
        for (long i = 0; i < n; i++)
            if ((e = s_health(s)) != AK_OK) return s_fail("health", e);
        double kept = (s_now() - t0) / (double)n;
        t0 = s_now();
        for (long i = 0; i < n; i++) {
            ak_signer_disconnect(s);
            if ((e = s_health(s)) != AK_OK) return s_fail("health", e);
        }
        double fresh = (s_now() - t0) / (double)n;
        printf("signer connection: fresh (TCP + mTLS handshake + GET) %.2f ms, kept-alive GET %.3f ms -> "
               "handshake "
               "cost %.2f ms (%.0f handshakes/s from one client), connections made: %u\n",
               fresh * 1e3, kept * 1e3, (fresh - kept) * 1e3, 1.0 / (fresh - kept),
               ak_signer_connects(s) - c0);
    } else {
        fprintf(stderr, "usage: signer_bench derive|sign|handshake N\n");
        return 2;
    }
    ak_signer_free(s);
    return 0;
}
