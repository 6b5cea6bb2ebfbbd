/*
 * audit-anchor — operator tooling (D12: anchoring is signed by the operator's master wallet,
 * never by a Lambda): a thin command line over libak's ak/audit_anchor.h (the same pass as
 * `agentkeys audit anchor`), which documents what is sent and recorded and why it is
 * idempotent.
 *
 *   audit-anchor [--operator 0x<64 hex>] [--dry-run]
 *
 * Environment: AK_OPERATOR_KEY (0x + 64 hex: the master wallet's secp256k1 key; read from the
 * environment, never argv), AK_RPC_URL (or AK_CHAIN_RPC_URL), AK_AUDIT_ADDRESS,
 * AK_AUDIT_BUCKET, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY[, AWS_SESSION_TOKEN],
 * AK_S3_ENDPOINT (local). The operator defaults to omni(wallet) (its first master); pass
 * --operator when the wallet is an additional master. Prints one line per batch; exit 0 when
 * every batch is anchored, 1 on any error, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ak/alloc.h"
#include "ak/audit_anchor.h"
#include "ak/crypto.h"
#include "ak/ct.h"
#include "ak/evm.h"
#include "ak/http.h"
#include "ak/identity.h"
#include "ak/s3.h"

static int s_usage(void) {
    fprintf(
        stderr,
        "usage: audit-anchor [--operator 0x<64 hex>] [--dry-run]   (env: see shared/tools/audit-anchor.c)\n");
    return 2;
}

static const char *s_env(const char *a, const char *b) {
    const char *v = getenv(a);
    if ((v == NULL || v[0] == 0) && b != NULL) v = getenv(b);
    return (v && v[0]) ? v : NULL;
}

static void s_report(void *ud, const ak_audit_anchor_item *it) {
    ak_evm_rpc *rpc = ud;
    const char *k = (const char *)it->key.ptr;
    char tx[67];
    tx[0] = '0';
    tx[1] = 'x';
    ak_hex_encode(it->tx.tx_hash, 32, tx + 2);
    switch (it->status) {
        case AK_ANCHOR_SKIPPED:
            printf("skip %s root_index=%llu (already anchored)\n", k, (unsigned long long)it->root_index);
            break;
        case AK_ANCHOR_RECORDED:
            printf("found %s root_index=%llu (on chain already; recording)\n", k,
                   (unsigned long long)it->root_index);
            break;
        case AK_ANCHOR_WOULD:
            printf("would anchor %s count=%llu\n", k, (unsigned long long)it->count);
            break;
        case AK_ANCHOR_ANCHORED:
            printf("anchored %s root_index=%llu tx=%s gas=%llu\n", k, (unsigned long long)it->root_index, tx,
                   (unsigned long long)it->tx.receipt.gas_used);
            break;
        default:
            fprintf(stderr, "audit-anchor: %s: %s%s%s%s%s\n", k, ak_err_reason(it->err),
                    it->tx.reason[0] ? ": " : "", it->tx.reason, rpc->err_msg[0] ? " " : "", rpc->err_msg);
            break;
    }
}

int main(int argc, char **argv) {
    ak_alloc_install_jansson();
    const char *op_arg = NULL;
    bool dry = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--operator") == 0 && i + 1 < argc)
            op_arg = argv[++i];
        else if (strcmp(argv[i], "--dry-run") == 0)
            dry = true;
        else
            return s_usage();
    }
    const char *key_hex = s_env("AK_OPERATOR_KEY", NULL), *rpc_url = s_env("AK_RPC_URL", "AK_CHAIN_RPC_URL"),
               *audit_addr = s_env("AK_AUDIT_ADDRESS", NULL), *bucket = s_env("AK_AUDIT_BUCKET", NULL);
    if (!key_hex || !rpc_url || !audit_addr || !bucket) {
        fprintf(stderr, "audit-anchor: set AK_OPERATOR_KEY, AK_RPC_URL, AK_AUDIT_ADDRESS, AK_AUDIT_BUCKET\n");
        return 2;
    }
    ak_audit_anchor_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.dry_run = dry;
    uint8_t key[32], pub[65], from[20];
    ak_http *http = NULL;
    ak_evm_rpc rpc;
    ak_audit_s3 s3;
    ak_audit_store st;
    memset(&s3, 0, sizeof(s3));
    ak_evm_rpc_init(&rpc, NULL, rpc_url);
    int ret = 1;
    ak_err rc = AK_OK;
    const char *step = "key";
    AK_GUARD_OUT(ak_hex_decode_exact(ak_cur_from_str(key_hex), true, key, 32));
    AK_GUARD_OUT(ak_secp256k1_pubkey(key, pub));
    ak_eth_address_from_pub(pub, from);
    step = "--operator";
    if (op_arg)
        AK_GUARD_OUT(ak_omni_parse(ak_cur_from_str(op_arg), &cfg.op));
    else
        ak_omni_from_address(from, &cfg.op);
    step = "AK_AUDIT_ADDRESS";
    AK_GUARD_OUT(ak_eth_address_parse(ak_cur_from_str(audit_addr), cfg.audit));
    step = "http";
    ak_http_config hc = {.user_agent = "agentkeys-audit-anchor/1"};
    AK_GUARD_OUT(ak_http_new(&hc, &http));
    rpc.http = http;
    step = "S3 config";
    ak_s3_config sc;
    ak_sigv4_creds creds;
    AK_GUARD_OUT(ak_s3_config_from_env(&sc));
    AK_GUARD_OUT(ak_s3_env_creds(&creds));
    AK_GUARD_OUT(ak_audit_s3_open(&s3, &sc, &creds, bucket, 1));
    ak_audit_s3_store(&s3, &st);
    cfg.rpc = &rpc;
    cfg.st = &st;
    cfg.key = key;
    cfg.report = s_report;
    cfg.report_ud = &rpc;
    step = "anchor";
    ak_audit_anchor_stats stats;
    rc = ak_audit_anchor(&cfg, &stats);
    if (rc == AK_E_FORBIDDEN) {
        char rh[43];
        ak_eth_address_hex(from, rh);
        fprintf(stderr, "audit-anchor: %s is not an active master wallet of this operator\n", rh);
        goto out;
    }
    AK_GUARD_OUT(rc);
    printf("batches: %zu, errors: %zu\n", stats.batches, stats.failed);
    ret = stats.failed ? 1 : 0;
out:
    if (rc != AK_OK && rc != AK_E_FORBIDDEN)
        fprintf(stderr, "audit-anchor: %s: %s%s%s\n", step, ak_err_reason(rc), rpc.err_msg[0] ? " " : "",
                rpc.err_msg);
    ak_wipe(key, sizeof(key));
    ak_audit_s3_close(&s3);
    ak_evm_rpc_free(&rpc);
    ak_http_free(http);
    return ret;
}
