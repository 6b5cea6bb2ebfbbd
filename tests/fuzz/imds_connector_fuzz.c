/*
 * imds_connector_fuzz.c — the two parsers of the enclave's network (issue 18): the connector
 * spec (ak_connector_parse, from flags and the image's environment) and the IMDS credentials
 * document (ak_imds_parse_credentials, what came back through the parent's proxy).
 *
 * Input: byte 0 picks the parser; the rest is the spec or the body.
 * Properties: no crash, overread, leak or UB; a spec is either config_error or a connector whose
 * fields are in range (vsock CID/port 1..2^32-2, TCP port 1..65535, unix path absolute and
 * NUL-terminated) and whose recorded spec equals the input; a document is either
 * imds_credentials_invalid or three non-empty strings and an expiration after `now`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak/connector.h"
#include "ak/imds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    ak_cur in = ak_cur_from(data + 1, size - 1);
    if (data[0] & 1) {
        ak_connector c;
        ak_err e = ak_connector_parse(in, &c);
        if (e == AK_OK) {
            if (strlen(c.spec) != in.len || memcmp(c.spec, in.ptr, in.len) != 0) abort();
            if (c.kind == AK_CONN_VSOCK &&
                (c.cid == 0 || c.cid == 0xFFFFFFFFu || c.port == 0 || c.port == 0xFFFFFFFFu))
                abort();
            if (c.kind == AK_CONN_TCP && (c.port == 0 || c.port > 65535 || c.host[0] == '\0')) abort();
            if (c.kind == AK_CONN_UNIX && (c.path[0] != '/' || strlen(c.path) > AK_CONNECTOR_MAX_PATH))
                abort();
        } else if (e != AK_E_CONFIG) {
            abort();
        }
    } else {
        ak_aws_creds c;
        const int64_t now = 1796205600000LL;
        ak_err e = ak_imds_parse_credentials(in, now, &c);
        if (e == AK_OK) {
            if (c.access_key_id[0] == '\0' || c.secret_access_key[0] == '\0' || c.session_token[0] == '\0' ||
                c.expiration_ms <= now)
                abort();
            ak_aws_creds_wipe(&c);
        } else if (e != AK_E_IMDS_CREDENTIALS_INVALID) {
            abort();
        }
    }
    return 0;
}
