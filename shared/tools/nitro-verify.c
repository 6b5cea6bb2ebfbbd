/*
 * nitro-verify — an operator checks an AWS Nitro Enclaves attestation document (issue 18
 * item 1; the CLI's `agentkeys signer verify-attestation` is the same one call,
 * ak_nitro_check in ak/nitro.h).
 *
 *   nitro-verify FILE [--root PEM] [--at UNIX_MS] [--pcr0 HEX]
 *
 * FILE holds the raw document: CBOR bytes, or their standard base64 (line breaks allowed).
 * --root is the AWS Nitro Enclaves Root-G1 certificate (PEM); without it the document's root
 * must have the G1 fingerprint built into libak. --at is the verification time (default: now;
 * leaf certificates live about three hours, so an old document needs its own time). --pcr0
 * pins the enclave image measurement (96 hex characters).
 *
 * Exit 0 only when the document verifies; the decoded facts are printed as one JSON object
 * (module_id, timestamp, digest, pcrs, public_key, user_data, nonce in hex or null, ...).
 * Exit 1 when it does not: {"valid":false,"reason":"attest_...","error":"..."} on stdout and
 * the reason on stderr. Exit 2 for usage and I/O errors.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ak/alloc.h"
#include "ak/nitro.h"

static int s_usage(void) {
    fprintf(stderr, "usage: nitro-verify FILE [--root PEM] [--at UNIX_MS] [--pcr0 HEX]\n");
    return 2;
}

int main(int argc, char **argv) {
    ak_alloc_install_jansson();
    const char *file = NULL, *root = NULL, *at = NULL, *pcr0 = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] != '-') {
            if (file != NULL) return s_usage();
            file = a;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) return s_usage();
        if (strcmp(a, "--root") == 0)
            root = v;
        else if (strcmp(a, "--at") == 0)
            at = v;
        else if (strcmp(a, "--pcr0") == 0)
            pcr0 = v;
        else
            return s_usage();
        i++;
    }
    if (file == NULL) return s_usage();

    int64_t at_ms;
    if (at != NULL) {
        uint64_t u;
        if (ak_cur_to_u64(ak_cur_from_str(at), &u) != AK_OK || u == 0 || u > (uint64_t)INT64_MAX) {
            fprintf(stderr, "nitro-verify: --at wants Unix milliseconds\n");
            return 2;
        }
        at_ms = (int64_t)u;
    } else {
        struct timespec ts;
        if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 2;
        at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }

    ak_buf doc, pem, out;
    ak_buf_init(&doc, 4u * AK_NITRO_MAX_DOC);
    ak_buf_init(&pem, 64u * 1024u);
    ak_buf_init(&out, 64u * 1024u);
    int code = 2;
    if (ak_buf_append_file(&doc, file) != AK_OK) {
        fprintf(stderr, "nitro-verify: cannot read %s (or larger than %u bytes)\n", file,
                4u * AK_NITRO_MAX_DOC);
        goto out;
    }
    if (root != NULL && ak_buf_append_file(&pem, root) != AK_OK) {
        fprintf(stderr, "nitro-verify: cannot read --root %s\n", root);
        goto out;
    }
    ak_err rc = ak_nitro_check(ak_buf_cur(&doc), ak_buf_cur(&pem), at_ms, ak_cur_from_str(pcr0), &out);
    if (rc == AK_OK) {
        printf("%s\n", ak_buf_cstr(&out));
        code = 0;
    } else {
        printf("{\"valid\":false,\"reason\":\"%s\",\"error\":\"%s\"}\n", ak_err_reason(rc),
               ak_err_message(rc));
        fprintf(stderr, "nitro-verify: %s: %s\n", ak_err_reason(rc), ak_err_message(rc));
        code = 1;
    }
out:
    ak_buf_free(&doc);
    ak_buf_free(&pem);
    ak_buf_free(&out);
    return code;
}
