/* epochs.c — the chain's current K3 epoch, cached (see aks/epochs.h). */
#include "aks/epochs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ak/alloc.h"
#include "ak/crypto.h"
#include "ak/http.h"
#include "ak/json.h"
#include "ak/log.h"
#include "ak/pki.h"

typedef enum { EPOCHS_FILE, EPOCHS_EVM } s_epochs_kind;

struct aks_epochs {
    s_epochs_kind kind;
    char path[512];   /* file */
    char url[512];    /* evm */
    char address[43]; /* evm: "0x" + 40 hex */
    ak_http *http;    /* evm */
    pthread_mutex_t mu;
    unsigned ttl_ms;
    bool have;
    uint64_t value;
    int64_t read_start_ns; /* monotonic start of the read that produced `value` */
};

static int64_t s_epochs_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

ak_err aks_epochs_parse_decimal(ak_cur text, uint64_t *out) {
    AK_ENSURE(ak_cur_to_u64(ak_cur_trim(text), out) == AK_OK, AK_E_INVALID_INPUT);
    return AK_OK;
}

ak_err aks_epochs_open(const char *spec, unsigned ttl_ms, aks_epochs **out) {
    return aks_epochs_open_via(spec, ttl_ms, NULL, out);
}

ak_err aks_epochs_open_via(const char *spec, unsigned ttl_ms, const char *connect, aks_epochs **out) {
    ak_cur s = ak_cur_from_str(spec);
    *out = NULL;
    aks_epochs *e = ak_calloc(1, sizeof(*e));
    AK_ENSURE(e != NULL, AK_E_NOMEM);
    e->ttl_ms = ttl_ms ? ttl_ms : 2000;
    pthread_mutex_init(&e->mu, NULL);
    ak_err rc = AK_OK;
    if (ak_cur_starts_with(s, AK_CUR_LIT("file:"))) {
        e->kind = EPOCHS_FILE;
        AK_GUARD_OUT(ak_cur_to_cstr(ak_cur_from(s.ptr + 5, s.len - 5), e->path, sizeof(e->path)));
        AK_ENSURE_OUT(e->path[0] != '\0', AK_E_CONFIG);
    } else if (ak_cur_starts_with(s, AK_CUR_LIT("evm:"))) {
        ak_cur rest = ak_cur_from(s.ptr + 4, s.len - 4), url;
        uint8_t addr[20];
        e->kind = EPOCHS_EVM;
        AK_ENSURE_OUT(ak_cur_split(&rest, '#', &url), AK_E_CONFIG);
        AK_ENSURE_OUT(ak_cur_to_cstr(url, e->url, sizeof(e->url)) == AK_OK, AK_E_CONFIG);
        AK_ENSURE_OUT(ak_eth_address_parse(rest, addr) == AK_OK, AK_E_CONFIG);
        ak_eth_address_hex(addr, e->address);
        ak_http_config hc;
        memset(&hc, 0, sizeof(hc));
        hc.user_agent = "agentkeys-signer/1";
        hc.connect_to = connect; /* issue 18: the chain RPC through the parent's vsock proxy */
        AK_GUARD_OUT(ak_http_new(&hc, &e->http));
    } else {
        rc = AK_E_CONFIG;
    }
    AK_ENSURE_OUT(connect == NULL || e->kind == EPOCHS_EVM, AK_E_CONFIG); /* a file needs no network */
out:
    if (rc != AK_OK) {
        if (rc != AK_E_NOMEM) rc = AK_E_CONFIG;
        aks_epochs_free(e);
        return rc;
    }
    *out = e;
    return AK_OK;
}

void aks_epochs_free(aks_epochs *e) {
    if (e == NULL) return;
    ak_http_free(e->http);
    pthread_mutex_destroy(&e->mu);
    ak_free(e);
}

static ak_err s_epochs_read_file(aks_epochs *e, uint64_t *out) {
    ak_buf b;
    AK_ENSURE(ak_pki_read_file(e->path, &b) == AK_OK, AK_E_CHAIN_RPC);
    ak_err rc = aks_epochs_parse_decimal(ak_buf_cur(&b), out);
    ak_buf_free(&b);
    return rc == AK_OK ? AK_OK : AK_E_CHAIN_RPC;
}

/* eth_call `data_hex` at "latest"; the result is one 32-byte word (0x + 64 hex). */
static ak_err s_epochs_eth_call(aks_epochs *e, const char *data_hex, uint8_t word[32]) {
    ak_buf body;
    ak_http_response resp;
    json_t *j = NULL;
    ak_err rc = AK_OK;
    ak_buf_init(&body, 512);
    ak_http_response_init(&resp);
    AK_GUARD_OUT(
        ak_buf_printf(&body,
                      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_call\",\"params\":[{\"to\":\"%s\","
                      "\"data\":\"%s\"},\"latest\"]}",
                      e->address, data_hex));
    ak_http_header hdr = {"content-type", AK_CUR_LIT("application/json")};
    ak_http_request req;
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = e->url;
    req.headers = &hdr;
    req.n_headers = 1;
    req.body = ak_buf_cur(&body);
    req.timeout_ms = 2000;
    req.idempotent = true; /* eth_call has no side effect */
    req.max_response = 64 * 1024;
    AK_ENSURE_OUT(ak_http_do(e->http, &req, &resp) == AK_OK && resp.status == 200, AK_E_CHAIN_RPC);
    AK_ENSURE_OUT(ak_json_parse_object(ak_buf_cur(&resp.body), &j) == AK_OK, AK_E_CHAIN_RPC);
    ak_cur result;
    AK_ENSURE_OUT(ak_json_str(j, "result", &result) == AK_OK, AK_E_CHAIN_RPC);
    AK_ENSURE_OUT(result.len == 66 && ak_hex_decode_exact(result, true, word, 32) == AK_OK, AK_E_CHAIN_RPC);
out:
    if (j != NULL) json_decref(j);
    ak_buf_free(&body);
    ak_http_response_free(&resp);
    return rc;
}

static ak_err s_epochs_word_u64(const uint8_t word[32], uint64_t *out) {
    for (int i = 0; i < 24; i++)
        AK_ENSURE(word[i] == 0, AK_E_CHAIN_RPC);
    uint64_t v = 0;
    for (int i = 24; i < 32; i++)
        v = (v << 8) | word[i];
    *out = v;
    return AK_OK;
}

/* currentEpoch() */
static ak_err s_epochs_read_evm(aks_epochs *e, uint64_t *out) {
    uint8_t word[32];
    AK_GUARD(s_epochs_eth_call(e, "0x76671808", word));
    return s_epochs_word_u64(word, out);
}

ak_err aks_epochs_parse_commitments(ak_cur text, uint64_t epoch, uint64_t *highest, uint8_t out[32]) {
    ak_cur line;
    *highest = 0;
    memset(out, 0, 32);
    bool found = false;
    while (text.len > 0) {
        if (!ak_cur_split(&text, '\n', &line)) {
            line = text;
            text.len = 0;
        }
        line = ak_cur_trim(line);
        if (line.len == 0) continue;
        ak_cur num;
        uint64_t n;
        uint8_t c[32], zero[32] = {0};
        AK_ENSURE(ak_cur_split(&line, ' ', &num), AK_E_INVALID_INPUT);
        AK_ENSURE(ak_cur_to_u64(num, &n) == AK_OK && n >= 1, AK_E_INVALID_INPUT);
        line = ak_cur_trim(line);
        AK_ENSURE(line.len == 66 && ak_hex_decode_exact(line, true, c, 32) == AK_OK, AK_E_INVALID_INPUT);
        AK_ENSURE(memcmp(c, zero, 32) != 0, AK_E_INVALID_INPUT);
        if (n == epoch) {
            AK_ENSURE(!found, AK_E_INVALID_INPUT); /* write-once, as on chain */
            memcpy(out, c, 32);
            found = true;
        }
        if (n > *highest) *highest = n;
    }
    return AK_OK;
}

static ak_err s_epochs_file_commitments(aks_epochs *e, uint64_t epoch, uint64_t *highest, uint8_t out[32]) {
    char path[600];
    ak_buf b;
    AK_ENSURE((size_t)snprintf(path, sizeof(path), "%s.commitments", e->path) < sizeof(path), AK_E_CONFIG);
    *highest = 0;
    memset(out, 0, 32);
    if (access(path, F_OK) != 0) return errno == ENOENT ? AK_OK : AK_E_CHAIN_RPC;
    AK_ENSURE(ak_pki_read_file(path, &b) == AK_OK, AK_E_CHAIN_RPC);
    ak_err rc = aks_epochs_parse_commitments(ak_buf_cur(&b), epoch, highest, out);
    ak_buf_free(&b);
    return rc == AK_OK ? AK_OK : AK_E_CHAIN_RPC;
}

ak_err aks_epochs_highest_committed(aks_epochs *e, uint64_t *out) {
    uint8_t word[32];
    ak_err rc;
    pthread_mutex_lock(&e->mu);
    if (e->kind == EPOCHS_FILE) {
        rc = s_epochs_file_commitments(e, 0, out, word);
    } else {
        rc = s_epochs_eth_call(e, "0x4b0e0fbd", word);
        if (rc == AK_OK) rc = s_epochs_word_u64(word, out);
    }
    pthread_mutex_unlock(&e->mu);
    if (rc != AK_OK) ak_log_warn("epoch commitments read failed", "reason", ak_err_reason(rc));
    return rc;
}

ak_err aks_epochs_commitment(aks_epochs *e, uint64_t epoch, uint8_t out[32]) {
    uint64_t highest;
    ak_err rc;
    AK_ENSURE(epoch >= 1, AK_E_INVALID_INPUT);
    pthread_mutex_lock(&e->mu);
    if (e->kind == EPOCHS_FILE) {
        rc = s_epochs_file_commitments(e, epoch, &highest, out);
    } else {
        char data[4 + 2 + 8 + 64 + 1];
        snprintf(data, sizeof(data), "0xf5be7368%048x%016llx", 0u, (unsigned long long)epoch);
        rc = s_epochs_eth_call(e, data, out);
    }
    pthread_mutex_unlock(&e->mu);
    if (rc != AK_OK) ak_log_warn("epoch commitment read failed", "reason", ak_err_reason(rc));
    return rc;
}

ak_err aks_epochs_current(aks_epochs *e, bool fresh, uint64_t *out) {
    ak_err rc = AK_OK;
    int64_t asked = s_epochs_mono_ns();
    pthread_mutex_lock(&e->mu);
    int64_t now = s_epochs_mono_ns();
    /* fresh: only a read that began after this call asked may answer it (see the header). */
    bool use_cache = e->have && (fresh ? e->read_start_ns >= asked
                                       : now - e->read_start_ns < (int64_t)e->ttl_ms * 1000000);
    if (!use_cache) {
        uint64_t v = 0;
        rc = e->kind == EPOCHS_FILE ? s_epochs_read_file(e, &v) : s_epochs_read_evm(e, &v);
        /* The contract starts at 1; 0 means a wrong address (eth_call to an EOA returns 0x). */
        if (rc == AK_OK && v == 0) rc = AK_E_CHAIN_RPC;
        if (rc == AK_OK) {
            e->have = true;
            e->value = v;
            e->read_start_ns = now;
        } else {
            ak_log_warn("epoch source read failed", "reason", ak_err_reason(rc));
        }
    }
    if (rc == AK_OK) *out = e->value;
    pthread_mutex_unlock(&e->mu);
    return rc;
}
