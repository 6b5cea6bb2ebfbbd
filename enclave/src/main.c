/*
 * main.c — ak-signer: the signer enclave (issue 5; DESIGN §2 layer 5; decisions D4–D7).
 *
 *   ak-signer --pki DIR --state DIR --epoch-source file:PATH [--listen 127.0.0.1:PORT | --vsock CID:PORT]
 *
 * Every flag has an environment variable (AKS_<FLAG>, e.g. AKS_EPOCH_SOURCE); flags win.
 * See enclave/README.md for the protocol and the Nitro notes, aks/api.h for the endpoints.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/http.h"
#include "ak/imds.h"
#include "ak/log.h"
#include "ak/pki.h"
#include "aks/api.h"
#include "aks/attester.h"
#include "aks/backup.h"
#include "aks/epochs.h"
#include "aks/keystore.h"
#include "aks/listen.h"
#include "aks/rollback.h"
#include "aks/sealer.h"
#include "aks/secmem.h"
#include "aks/server.h"
#include "aks/tls.h"

static volatile sig_atomic_t g_stop;

static void s_main_on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

typedef struct {
    const char *flag, *env, *help;
    const char *value;
} s_main_opt;

enum {
    OPT_LISTEN,
    OPT_PORT,
    OPT_VSOCK,
    OPT_PKI,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_CLIENT_CA,
    OPT_ATTEST_KEY,
    OPT_ATTESTER,
    OPT_SEAL_KEY,
    OPT_SEALER,
    OPT_KMS_KEY,
    OPT_KMS_DATAKEY,
    OPT_KMS_ENDPOINT,
    OPT_KMS_CONNECT,
    OPT_KMS_REGION,
    OPT_KMS_RECIPIENT_DOC,
    OPT_KMS_TIMEOUT_MS,
    OPT_STATE,
    OPT_EPOCH_SOURCE,
    OPT_EPOCH_CACHE_MS,
    OPT_CHAIN_CONNECT, /* issue 18: network inside the enclave (vsock connectors) */
    OPT_AWS_CREDENTIALS,
    OPT_MAX_CONNS,
    OPT_HANDSHAKE_MS,
    OPT_REQUEST_MS,
    OPT_IDLE_MS,
    OPT_SESSION_TTL_MS,
    OPT_READY_FILE,
    OPT_BACKUP,
    OPT_BACKUP_CONNECT,
    OPT__COUNT
};

static s_main_opt g_opts[OPT__COUNT] = {
    {"--listen", "AKS_LISTEN", "TCP listen address HOST:PORT (IPv4 literal; default 127.0.0.1:7443)", NULL},
    {"--port", "AK_SIGNER_PORT", "shorthand for --listen 127.0.0.1:PORT (0 = any free port)", NULL},
    {"--vsock", "AKS_VSOCK", "listen on AF_VSOCK CID:PORT instead of TCP (CID may be 'any')", NULL},
    {"--pki", "AKS_PKI", "dev PKI directory (scripts/dev-pki): sets the four files below and the seal key",
     NULL},
    {"--tls-cert", "AKS_TLS_CERT", "server certificate chain PEM", NULL},
    {"--tls-key", "AKS_TLS_KEY", "server P-256 key PEM", NULL},
    {"--client-ca", "AKS_CLIENT_CA",
     "client CA PEM: callers' certificates must chain to it (dev PKI: client-ca.crt)", NULL},
    {"--attest-key", "AKS_ATTEST_KEY", "attestation P-256 key PEM (local attester)", NULL},
    {"--attester", "AKS_ATTESTER", "local (default) or nitro", NULL},
    {"--seal-key", "AKS_SEAL_KEY", "sealing key file (32 raw bytes or 64 hex) for the file sealer", NULL},
    {"--sealer", "AKS_SEALER", "file (default) or nitro (KMS data key, recipient attestation)", NULL},
    {"--kms-key", "AKS_KMS_KEY",
     "nitro sealer, required: the KMS key, arn:aws:kms:REGION:ACCOUNT:alias/NAME (or :key/ID); measured with "
     "the image, so a parent cannot substitute a key it controls",
     NULL},
    {"--kms-datakey", "AKS_KMS_DATAKEY",
     "nitro sealer without --backup: KMS data key file (default <state>/keystore.datakey; made at first "
     "boot). "
     "With --backup the data key is the bucket's PREFIXkeystore.datakey",
     NULL},
    {"--kms-endpoint", "AKS_KMS_ENDPOINT",
     "nitro sealer: KMS URL (default https://kms.<region>.amazonaws.com, via the vsock proxy)", NULL},
    {"--kms-connect", "AKS_KMS_CONNECT",
     "nitro sealer: connect to vsock:CID:PORT (enclave: vsock:3:8000), unix:PATH or HOST:PORT instead; "
     "the endpoint's host still verified",
     NULL},
    {"--kms-region", "AKS_KMS_REGION",
     "nitro sealer: region (default and only allowed value: the --kms-key's); credentials per "
     "--aws-credentials",
     NULL},
    {"--kms-recipient-doc", "AKS_KMS_RECIPIENT_DOC",
     "nitro sealer: nsm (default) or test-unattested (dev builds, local KMS stand-in only)", NULL},
    {"--kms-timeout-ms", "AKS_KMS_TIMEOUT_MS",
     "nitro sealer: each KMS call, retries included (default 15000)", NULL},
    {"--state", "AKS_STATE_DIR", "directory of the sealed keystore (keystore.sealed)", NULL},
    {"--epoch-source", "AKS_EPOCH_SOURCE", "file:PATH or evm:RPC_URL#0xK3EpochCounter", NULL},
    {"--epoch-cache-ms", "AKS_EPOCH_CACHE_MS", "chain epoch cache lifetime (default 2000)", NULL},
    {"--chain-connect", "AKS_CHAIN_CONNECT",
     "evm: epoch source: connect to vsock:CID:PORT (enclave: vsock:3:8004), unix:PATH or HOST:PORT instead",
     NULL},
    {"--aws-credentials", "AKS_AWS_CREDENTIALS",
     "env (default: AWS_* variables) or imds:CONNECTOR (enclave: imds:vsock:3:8002, the parent's role)",
     NULL},
    {"--max-conns", "AKS_MAX_CONNS", "concurrent connections (default 64)", NULL},
    {"--handshake-timeout-ms", "AKS_HANDSHAKE_TIMEOUT_MS", "default 5000", NULL},
    {"--request-timeout-ms", "AKS_REQUEST_TIMEOUT_MS", "default 10000", NULL},
    {"--idle-timeout-ms", "AKS_IDLE_TIMEOUT_MS", "default 60000", NULL},
    {"--session-ttl-ms", "AKS_SESSION_TTL_MS",
     "TLS session resumption: a session lives this long from its full handshake (default 3600000; 0 = off)",
     NULL},
    {"--ready-file", "AKS_READY_FILE", "write the bound port here once listening", NULL},
    {"--backup", "AKS_BACKUP",
     "s3://BUCKET/PREFIX: back the sealed keystore up after every write, restore it when missing "
     "(S3 endpoint/region from AK_S3_ENDPOINT, AWS_REGION; credentials from --aws-credentials)",
     NULL},
    {"--backup-connect", "AKS_BACKUP_CONNECT",
     "where the backup's S3 connections go (vsock:CID:PORT, unix:/PATH or HOST:PORT; enclave: vsock:3:8001)",
     NULL},
};

static void s_main_usage(void) {
    fprintf(stderr, "usage: ak-signer [options]\n");
    for (int i = 0; i < OPT__COUNT; i++)
        fprintf(stderr, "  %-24s %-26s %s\n", g_opts[i].flag, g_opts[i].env, g_opts[i].help);
}

static int s_main_parse_args(int argc, char **argv) {
    for (int i = 0; i < OPT__COUNT; i++)
        g_opts[i].value = getenv(g_opts[i].env);
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) return 1;
        int found = -1;
        for (int i = 0; i < OPT__COUNT; i++)
            if (strcmp(argv[a], g_opts[i].flag) == 0) found = i;
        if (found < 0 || a + 1 >= argc) {
            fprintf(stderr, "ak-signer: unknown option or missing value: %s\n", argv[a]);
            return 2;
        }
        g_opts[found].value = argv[++a];
    }
    return 0;
}

static unsigned s_main_uint(int opt, unsigned dflt) {
    uint64_t v;
    if (g_opts[opt].value == NULL) return dflt;
    if (ak_cur_to_u64(ak_cur_from_str(g_opts[opt].value), &v) != AK_OK || v > 100000000u) {
        fprintf(stderr, "ak-signer: %s must be a number\n", g_opts[opt].flag);
        exit(2);
    }
    return (unsigned)v;
}

/* --pki DIR fills the file options it names, unless set explicitly. */
static char g_pki_paths[5][600];
static void s_main_pki_defaults(void) {
    static const struct {
        int opt;
        const char *file;
    } m[] = {
        {OPT_TLS_CERT, "signer-chain.crt"}, {OPT_TLS_KEY, "signer.key"}, {OPT_CLIENT_CA, "client-ca.crt"},
        {OPT_ATTEST_KEY, "attest.key"},     {OPT_SEAL_KEY, "seal.key"},
    };
    const char *dir = g_opts[OPT_PKI].value;
    if (dir == NULL) return;
    for (int i = 0; i < 5; i++) {
        if (g_opts[m[i].opt].value != NULL) continue;
        snprintf(g_pki_paths[i], sizeof(g_pki_paths[i]), "%s/%s", dir, m[i].file);
        g_opts[m[i].opt].value = g_pki_paths[i];
    }
}

static const char *s_main_need(int opt) {
    if (g_opts[opt].value == NULL || g_opts[opt].value[0] == '\0') {
        fprintf(stderr, "ak-signer: %s (or %s) is required\n", g_opts[opt].flag, g_opts[opt].env);
        exit(2);
    }
    return g_opts[opt].value;
}

static int s_main_fail(const char *what, ak_err e) {
    ak_log_error("startup failed", "step", what, "reason", ak_err_reason(e));
    return 1;
}

static ak_err s_main_write_ready(const char *path, unsigned port) {
    char tmp[700], text[16];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int n = snprintf(text, sizeof(text), "%u\n", port);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    AK_ENSURE(fd >= 0, AK_E_IO);
    bool ok = write(fd, text, (size_t)n) == n;
    close(fd);
    AK_ENSURE(ok && rename(tmp, path) == 0, AK_E_IO);
    return AK_OK;
}

/* --aws-credentials (issue 18, network inside the enclave): "env" (default) or "imds:CONNECTOR",
 * the parent's role credentials from IMDSv2 through its vsock proxy (ak/imds.h, refreshed before
 * expiry). g_imds stays open for later signed calls (the keystore backup to S3). */
static ak_imds *g_imds;
static ak_err s_main_aws_credentials(void) {
    const char *v = g_opts[OPT_AWS_CREDENTIALS].value;
    if (v == NULL || strcmp(v, "env") == 0) return AK_OK;
    AK_ENSURE(strncmp(v, "imds:", 5) == 0, AK_E_CONFIG);
    ak_imds_config ic = {.connect = v + 5};
    return ak_imds_new(&ic, &g_imds);
}

/* The KMS-sealed keystore (issue 18 item 2): the pinned key, the data key's store (the backup
 * bucket when there is one: a fresh enclave's state dir is empty; else a local file), credentials
 * from IMDS through the parent's proxy or the AWS_* environment, the recipient document from the
 * NSM — or, in dev builds only and only when asked by name, the unattested test document for the
 * local stand-in. */
static ak_err s_main_nitro_sealer(aks_attester *attester, aks_backup *backup, const char *ks_path,
                                  ak_aws_creds *imds_creds, aks_sealer **out) {
    static aks_datakey_file file;
    aks_nitro_sealer_config c;
    memset(&c, 0, sizeof(c));
    c.key_pin = g_opts[OPT_KMS_KEY].value;
    if (c.key_pin == NULL || c.key_pin[0] == '\0') {
        ak_log_error(
            "--sealer nitro needs --kms-key (the KMS key's alias ARN or key ARN, pinned in the image)");
        return AK_E_CONFIG;
    }
    if (backup != NULL) {
        if (g_opts[OPT_KMS_DATAKEY].value != NULL) {
            ak_log_error(
                "--kms-datakey and --backup do not go together: with a backup the data key is in the bucket");
            return AK_E_CONFIG;
        }
        AK_GUARD(aks_backup_datakey_store(backup, ks_path, &c.store));
    } else {
        char path[600];
        if (g_opts[OPT_KMS_DATAKEY].value != NULL)
            snprintf(path, sizeof(path), "%s", g_opts[OPT_KMS_DATAKEY].value);
        else
            snprintf(path, sizeof(path), "%s/keystore.datakey", s_main_need(OPT_STATE));
        AK_GUARD(aks_datakey_file_store(&file, path, ks_path, &c.store));
    }
    c.kms_endpoint = g_opts[OPT_KMS_ENDPOINT].value;
    c.kms_connect = g_opts[OPT_KMS_CONNECT].value;
    c.region = g_opts[OPT_KMS_REGION].value;
    c.timeout_ms = s_main_uint(OPT_KMS_TIMEOUT_MS, 15000);
    if (g_imds != NULL) {
        AK_GUARD(ak_imds_credentials(g_imds, ak_http_now_ms() + 10000, imds_creds));
        c.creds = ak_aws_creds_view(imds_creds);
    } else {
        c.creds.access_key_id = ak_cur_from_str(getenv("AWS_ACCESS_KEY_ID"));
        c.creds.secret_access_key = ak_cur_from_str(getenv("AWS_SECRET_ACCESS_KEY"));
        c.creds.session_token = ak_cur_from_str(getenv("AWS_SESSION_TOKEN"));
    }
    if (c.creds.access_key_id.len == 0 || c.creds.secret_access_key.len == 0) {
        ak_log_error("nitro sealer needs AWS credentials (--aws-credentials imds:…, or AWS_ACCESS_KEY_ID, "
                     "AWS_SECRET_ACCESS_KEY[, AWS_SESSION_TOKEN])");
        return AK_E_CONFIG;
    }
    const char *doc = g_opts[OPT_KMS_RECIPIENT_DOC].value ? g_opts[OPT_KMS_RECIPIENT_DOC].value : "nsm";
#ifndef AK_RELEASE
    static uint8_t measurement[48];
    if (strcmp(doc, "test-unattested") == 0) {
        ak_log_warn("TEST ONLY: the KMS recipient document is unattested (local KMS stand-in)");
        AK_GUARD(aks_measure_file("/proc/self/exe", measurement));
        c.recipient_doc = aks_recipient_doc_test_unattested;
        c.recipient_ctx = measurement;
    }
#endif
    if (c.recipient_doc == NULL && strcmp(doc, "nsm") == 0) {
        /* Production: the NSM attester vouches for the sealer's RSA key (public_key = its SPKI). */
        if (attester == NULL || strcmp(attester->name, "nitro") != 0) {
            ak_log_error("--sealer nitro with --kms-recipient-doc nsm needs --attester nitro");
            return AK_E_CONFIG;
        }
        c.recipient_doc = aks_attester_recipient_doc;
        c.recipient_ctx = attester;
    }
    if (c.recipient_doc == NULL) {
        ak_log_error("no source for the KMS recipient document", "kms_recipient_doc", doc);
        return AK_E_CONFIG;
    }
    return aks_sealer_nitro_open(&c, out);
}

int main(int argc, char **argv) {
    aks_sealer *sealer = NULL;
    aks_attester *attester = NULL;
    aks_epochs *epochs = NULL;
    aks_backup *backup = NULL;
    aks_tls_config tls;
    aks_keystore ks;
    aks_ctx ctx;
    aks_listen_addr addr;
    int lfd = -1, rc = 1;
    ak_err e;
    char ks_path[600];

    int pa = s_main_parse_args(argc, argv);
    if (pa != 0) {
        s_main_usage();
        return pa == 1 ? 0 : 2;
    }
    ak_log_set_function("ak-signer");
    ak_alloc_install_jansson();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_main_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* No core dumps, no ptrace by same-uid processes: key pages must not leave the process. */
    if ((e = aks_process_harden()) != AK_OK) return s_main_fail("harden", e);

    s_main_pki_defaults();
    aks_ctx_init(&ctx);
    memset(&ks, 0, sizeof(ks));
    memset(&tls, 0, sizeof(tls));

    /* Listening address first: a config error here should not cost a keystore write. */
    if (g_opts[OPT_VSOCK].value != NULL) {
        e = aks_listen_parse_vsock(ak_cur_from_str(g_opts[OPT_VSOCK].value), &addr);
    } else if (g_opts[OPT_LISTEN].value != NULL) {
        e = aks_listen_parse_tcp(ak_cur_from_str(g_opts[OPT_LISTEN].value), &addr);
    } else {
        char hp[32];
        snprintf(hp, sizeof(hp), "127.0.0.1:%s", g_opts[OPT_PORT].value ? g_opts[OPT_PORT].value : "7443");
        e = aks_listen_parse_tcp(ak_cur_from_str(hp), &addr);
    }
    if (e != AK_OK) {
        rc = s_main_fail("listen address", e);
        goto out;
    }

    /* The attester first: the nitro sealer asks it for the KMS recipient document. */
    const char *attester_kind = g_opts[OPT_ATTESTER].value ? g_opts[OPT_ATTESTER].value : "local";
    /* nitro: /dev/nsm must answer now (aks_attester_nitro_open probes it); no fallback to local. */
    if (strcmp(attester_kind, "nitro") == 0)
        e = aks_attester_nitro_open(NULL, &attester);
    else if (strcmp(attester_kind, "local") == 0)
        e = aks_attester_local_open(s_main_need(OPT_ATTEST_KEY), &attester);
    else
        e = AK_E_CONFIG;
    if (e != AK_OK) {
        rc = s_main_fail("attester", e);
        goto out;
    }
    if ((e = s_main_aws_credentials()) != AK_OK) {
        rc = s_main_fail("aws credentials", e);
        goto out;
    }
    const char *state = s_main_need(OPT_STATE);
    if (mkdir(state, 0700) != 0 && errno != EEXIST) {
        rc = s_main_fail("state dir", AK_E_IO);
        goto out;
    }
    snprintf(ks_path, sizeof(ks_path), "%s/keystore.sealed", state);
    /* The backup before the sealer: with the nitro sealer the bucket also keeps the data key. */
    if (g_opts[OPT_BACKUP].value != NULL && g_opts[OPT_BACKUP].value[0] != '\0' &&
        (e = aks_backup_open(g_opts[OPT_BACKUP].value, g_opts[OPT_BACKUP_CONNECT].value, g_imds, &backup)) !=
            AK_OK) {
        rc = s_main_fail("backup", e);
        goto out;
    }
    const char *sealer_kind = g_opts[OPT_SEALER].value ? g_opts[OPT_SEALER].value : "file";
    if (strcmp(sealer_kind, "nitro") == 0) {
        ak_aws_creds creds; /* the copy the sealer signs with, wiped on every path out of it */
        memset(&creds, 0, sizeof(creds));
        e = s_main_nitro_sealer(attester, backup, ks_path, &creds, &sealer);
        ak_aws_creds_wipe(&creds);
    } else if (strcmp(sealer_kind, "file") == 0) {
        e = aks_sealer_file_open(s_main_need(OPT_SEAL_KEY), &sealer);
    } else {
        e = AK_E_CONFIG;
    }
    if (e != AK_OK) {
        rc = s_main_fail("sealer", e);
        goto out;
    }
    if (backup != NULL) {
        /* No local keystore: the newest backup is it (the rollback guard below still applies). */
        if (access(ks_path, F_OK) != 0 && errno == ENOENT) {
            char key[AKS_BACKUP_KEY_MAX];
            e = aks_backup_restore(backup, ks_path, key);
            if (e == AK_E_NOT_FOUND) {
                ak_log_info("no keystore and no backup: starting a new keystore");
            } else if (e != AK_OK) {
                rc = s_main_fail("backup restore", e);
                goto out;
            }
        }
    }
    if ((e = aks_keystore_open(&ks, ks_path, sealer)) != AK_OK) {
        rc = s_main_fail("keystore", e);
        goto out;
    }
    unsigned cache_ms = s_main_uint(OPT_EPOCH_CACHE_MS, 2000);
    if ((e = aks_epochs_open_via(s_main_need(OPT_EPOCH_SOURCE), cache_ms, g_opts[OPT_CHAIN_CONNECT].value,
                                 &epochs)) != AK_OK) {
        rc = s_main_fail("epoch source", e);
        goto out;
    }
    /* --tls-key generate[:NAME] (issue 18, RA-TLS): the TLS key is born here and clients authenticate
     * it by the NSM document, so only with the nitro attester; NAME defaults to the clients'. */
    const char *tls_key = s_main_need(OPT_TLS_KEY);
    if (strncmp(tls_key, "generate", 8) == 0 && (tls_key[8] == '\0' || tls_key[8] == ':')) {
        bool nitro = strcmp(attester->name, "nitro") == 0;
        if (!nitro) ak_log_error("--tls-key generate needs --attester nitro (clients attest the key)");
        e = nitro ? aks_tls_config_generate(&tls, tls_key[8] ? tls_key + 9 : AKS_TLS_GENERATED_NAME,
                                            s_main_need(OPT_CLIENT_CA))
                  : AK_E_CONFIG;
    } else {
        e = aks_tls_config_load(&tls, s_main_need(OPT_TLS_CERT), tls_key, s_main_need(OPT_CLIENT_CA));
    }
    if (e != AK_OK) {
        rc = s_main_fail("tls material", e);
        goto out;
    }
    aks_tls_sessions_free(tls.sessions); /* issue 19: resumption as configured */
    tls.sessions = NULL;
    unsigned ttl_ms = s_main_uint(OPT_SESSION_TTL_MS, AKS_TLS_SESSION_TTL_MS);
    if (ttl_ms > 0 && (e = aks_tls_sessions_new(ttl_ms, &tls.sessions)) != AK_OK) {
        rc = s_main_fail("tls session cache", e);
        goto out;
    }
    if ((e = aks_measure_file("/proc/self/exe", ctx.measurement)) != AK_OK) {
        rc = s_main_fail("measurement", e);
        goto out;
    }
    memcpy(ctx.tls_pub, tls.key->pub, 65);
    ctx.ks = &ks;
    ctx.epochs = epochs;
    ctx.attester = attester;

    /* Catch up with the chain at boot (D7); a chain outage here is not fatal: held epochs serve.
     * First the rollback guard (aks/rollback.h): a keystore older than the chain's commitments,
     * or not matching them, is refused here, before anything is served or backed up. */
    uint64_t current;
    bool chain_ok = aks_epochs_current(epochs, true, &current) == AK_OK;
    if (chain_ok && (e = aks_rollback_verify(&ks, epochs)) != AK_OK) {
        rc = s_main_fail("keystore rollback guard", e);
        goto out;
    }
    if (backup != NULL) {
        ks.on_saved = aks_backup_on_saved;
        ks.on_saved_ud = backup;
    }
    if (chain_ok) {
        if ((e = aks_rollback_ensure_epoch(&ks, epochs, current)) != AK_OK) {
            rc = s_main_fail("k3 epochs", e);
            goto out;
        }
    } else {
        ak_log_warn("chain epoch unavailable at boot; serving held epochs (rollback guard runs when a new "
                    "epoch is created)");
    }
    if (backup != NULL) {
        ak_buf sealed;
        ak_buf_init(&sealed, 0);
        e = ak_pki_read_file(ks_path, &sealed);
        if (e == AK_OK)
            e = aks_backup_sync(backup, ak_buf_cur(&sealed), (uint32_t)aks_keystore_max_epoch(&ks));
        ak_buf_free(&sealed);
        /* Held epochs are safe locally; the next keystore write needs the backup (fail closed). */
        if (e != AK_OK)
            ak_log_warn("keystore backup at start failed; new epochs and rotations wait for it", "reason",
                        ak_err_reason(e));
    }

    if ((e = aks_listen_open(&addr, 128, &lfd)) != AK_OK) {
        rc = s_main_fail("listen", e);
        goto out;
    }
    unsigned port = 0;
    if ((e = aks_listen_bound_port(lfd, &port)) != AK_OK) {
        rc = s_main_fail("listen", e);
        goto out;
    }
    char port_s[16], mhex[97], epochs_s[24];
    snprintf(port_s, sizeof(port_s), "%u", port);
    snprintf(epochs_s, sizeof(epochs_s), "%llu", (unsigned long long)aks_keystore_max_epoch(&ks));
    ak_hex_encode(ctx.measurement, 48, mhex);
    ak_log_info("listening", "transport", addr.family == AF_VSOCK ? "vsock" : "tcp", "port", port_s,
                "measurement", mhex, "epoch_max", epochs_s, "sealer", sealer->name, "attester",
                attester->name, "mlock", aks_secmem_locked() ? "yes" : "no");
    if (g_opts[OPT_READY_FILE].value != NULL &&
        (e = s_main_write_ready(g_opts[OPT_READY_FILE].value, port)) != AK_OK) {
        rc = s_main_fail("ready file", e);
        goto out;
    }

    aks_server srv;
    memset(&srv, 0, sizeof(srv));
    srv.lfd = lfd;
    srv.ctx = &ctx;
    srv.tls = &tls;
    srv.stop = &g_stop;
    srv.opts.max_conns = s_main_uint(OPT_MAX_CONNS, 64);
    srv.opts.handshake_ms = s_main_uint(OPT_HANDSHAKE_MS, 5000);
    srv.opts.request_ms = s_main_uint(OPT_REQUEST_MS, 10000);
    srv.opts.idle_ms = s_main_uint(OPT_IDLE_MS, 60000);
    srv.opts.limits = AKS_HTTP_DEFAULT_LIMITS;
    rc = aks_server_run(&srv) == AK_OK ? 0 : 1;
    ak_log_info("stopped");
out:
    if (lfd >= 0) close(lfd);
    aks_tls_config_free(&tls);
    aks_attester_free(attester);
    aks_epochs_free(epochs);
    aks_keystore_close(&ks);
    aks_backup_free(backup);
    aks_sealer_free(sealer);
    aks_ctx_free(&ctx);
    ak_imds_free(g_imds);
    return rc;
}
