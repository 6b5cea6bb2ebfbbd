/*
 * cli/doctor.c — `agentkeys doctor`: is this profile usable?
 *
 * Checks, each printed as "ok|FAIL|skip  <check>  <detail>" (or one JSON object with --json):
 * the profile (api_url, chain_id, rpc_url, wallet), the API (GET /healthz: status and server
 * version), clock skew against the server (its Date header, else the health answer's "time";
 * the PoP window is 60 s ahead / 300 s behind, so more than 30 s is a failure), the chain
 * (eth_chainId equals chain_id), and code present at each configured contract address
 * (eth_getCode). Exit 0 when nothing failed, else 1 (5 when the API or chain is unreachable).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "ak/crypto.h"
#include "ak/evm.h"
#include "ak/http.h"
#include "ak/json.h"

#ifndef AK_VERSION
#define AK_VERSION "dev"
#endif

#define S_MAX_SKEW 30

typedef struct s_doc {
    akcli *c;
    int fails;
    bool network;
    bool first;
} s_doc;

static void s_report(s_doc *d, const char *state, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_report(s_doc *d, const char *state, const char *check, const char *fmt, ...) {
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (strcmp(state, "FAIL") == 0) d->fails++;
    if (akcli_json(d->c)) {
        printf("%s{\"check\":\"%s\",\"state\":\"%s\",\"detail\":", d->first ? "" : ",", check, state);
        akcli_json_str(stdout, ak_cur_from_str(detail));
        printf("}");
        d->first = false;
    } else {
        printf("%-4s  %-16s %s\n", state, check, detail);
    }
}

/* IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT" -> unix seconds; -1 if not. */
static long long s_imf_date(ak_cur v) {
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char s[40];
    if (ak_cur_to_cstr(ak_cur_trim(v), s, sizeof s) != AK_OK || strlen(s) != 29) return -1;
    int day = (s[5] - '0') * 10 + (s[6] - '0');
    const char *m = strstr(months, (char[4]){s[8], s[9], s[10], 0});
    if (m == NULL || (m - months) % 3) return -1;
    int mon = (int)(m - months) / 3 + 1;
    int year = 0;
    for (int i = 12; i < 16; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        year = year * 10 + (s[i] - '0');
    }
    int hh = (s[17] - '0') * 10 + (s[18] - '0'), mm = (s[20] - '0') * 10 + (s[21] - '0'),
        ss = (s[23] - '0') * 10 + (s[24] - '0');
    /* days from civil (Howard Hinnant's algorithm) */
    int y = year - (mon <= 2);
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long days = era * 146097 + doe - 719468;
    return (long long)days * 86400 + hh * 3600 + mm * 60 + ss;
}

static void s_check_api(s_doc *d, ak_http *http, const char *api) {
    char url[600];
    snprintf(url, sizeof url, "%s/healthz", api);
    ak_http_response r;
    ak_http_response_init(&r);
    ak_http_request req = {.method = "GET", .url = url, .timeout_ms = 10000, .idempotent = true};
    int64_t t0 = ak_http_now_ms();
    ak_err e = ak_http_do(http, &req, &r);
    int64_t t1 = ak_http_now_ms();
    json_t *j = NULL;
    if (e != AK_OK) {
        s_report(d, "FAIL", "api", "%s unreachable (%s)", url, ak_err_reason(e));
        d->network = true;
        goto out;
    }
    if (r.status != 200 || ak_json_parse_object(ak_buf_cur(&r.body), &j) != AK_OK) {
        s_report(d, "FAIL", "api", "%s answered HTTP %ld", url, r.status);
        goto out;
    }
    ak_cur ver;
    if (ak_json_str(j, "version", &ver) != AK_OK) ver = AK_CUR_LIT("?");
    s_report(d, "ok", "api", "%s healthy (server %.*s, %lld ms)", api, (int)ver.len, (const char *)ver.ptr,
             (long long)(t1 - t0));
    long long server = -1;
    ak_cur date;
    const char *src = "Date header";
    if (ak_http_response_header(&r, "date", &date)) server = s_imf_date(date);
    uint64_t t;
    if (server < 0 && ak_json_u64(j, "time", &t) == AK_OK) {
        server = (long long)t;
        src = "healthz time";
    }
    if (server < 0) {
        s_report(d, "skip", "clock", "the server sent no time");
    } else {
        long long local = (long long)((t0 + t1) / 2000);
        long long skew = local - server;
        s_report(d, llabs(skew) > S_MAX_SKEW ? "FAIL" : "ok", "clock", "local - server = %+lld s (%s)", skew,
                 src);
    }
out:
    if (j) json_decref(j);
    ak_http_response_free(&r);
}

static void s_check_chain(s_doc *d, akcli *c, ak_http *http) {
    const char *rpc = akcli_conf(c, "rpc_url");
    if (rpc == NULL) {
        s_report(d, "skip", "chain", "no rpc_url in the profile");
        return;
    }
    char rpc_url[512];
    snprintf(rpc_url, sizeof rpc_url, "%s", rpc);
    ak_evm_rpc r;
    ak_evm_rpc_init(&r, http, rpc_url);
    uint64_t id = 0, want = 0;
    const char *cid = akcli_conf(c, "chain_id");
    bool have_want = cid && ak_cur_to_u64(ak_cur_from_str(cid), &want) == AK_OK;
    ak_err e = ak_eth_chain_id(&r, &id);
    if (e != AK_OK) {
        s_report(d, "FAIL", "chain", "%s unreachable (%s)", rpc_url, ak_err_reason(e));
        d->network = true;
        ak_evm_rpc_free(&r);
        return;
    }
    if (have_want && id != want)
        s_report(d, "FAIL", "chain", "%s is chain %llu, the profile says %llu", rpc_url,
                 (unsigned long long)id, (unsigned long long)want);
    else
        s_report(d, "ok", "chain", "%s chain id %llu", rpc_url, (unsigned long long)id);
    static const char *const keys[] = {"registry", "scope_contract", "epoch_contract", "audit_contract"};
    for (size_t k = 0; k < 4; k++) {
        const char *a = akcli_conf(c, keys[k]);
        if (a == NULL) {
            s_report(d, "skip", keys[k], "not configured");
            continue;
        }
        char addr_s[64];
        snprintf(addr_s, sizeof addr_s, "%s", a);
        uint8_t addr[20];
        if (ak_eth_address_parse(ak_cur_from_str(addr_s), addr) != AK_OK) {
            s_report(d, "FAIL", keys[k], "'%s' is not an address", addr_s);
            continue;
        }
        json_t *params = json_pack("[s, s]", addr_s, "latest"), *res = NULL;
        e = params ? ak_evm_rpc_call(&r, "eth_getCode", params, &res) : AK_E_NOMEM;
        size_t len = res && json_is_string(res) ? json_string_length(res) : 0;
        if (e != AK_OK)
            s_report(d, "FAIL", keys[k], "%s: eth_getCode failed (%s)", addr_s, ak_err_reason(e));
        else if (len <= 2)
            s_report(d, "FAIL", keys[k], "%s has no code on chain %llu", addr_s, (unsigned long long)id);
        else
            s_report(d, "ok", keys[k], "%s (%zu bytes of code)", addr_s, (len - 2) / 2);
        if (res) json_decref(res);
    }
    ak_evm_rpc_free(&r);
}

int akcli_cmd_doctor(akcli *c, int argc, char **argv) {
    if (argc > 0) return akcli_usage(c, "unexpected argument '%s'", argv[0]);
    s_doc d = {.c = c, .first = true};
    if (akcli_json(c))
        printf("{\"version\":\"%s\",\"profile\":\"%s\",\"checks\":[", AK_VERSION, c->profile);
    else
        printf("agentkeys %s, profile %s (%s)\n", AK_VERSION, c->profile, c->profile_path);
    char api[512] = "";
    const char *a = akcli_conf(c, "api_url");
    if (a) snprintf(api, sizeof api, "%s", a);
    const char *cid = akcli_conf(c, "chain_id");
    const char *wallet = akcli_conf(c, "wallet");
    if (!a || !cid)
        s_report(&d, "FAIL", "config", "%s%s(agentkeys config import-env FILE)", a ? "" : "api_url missing ",
                 cid ? "" : "chain_id missing ");
    else
        s_report(&d, "ok", "config", "api_url %s, chain_id %s", api, cid);
    if (wallet) {
        FILE *f = fopen(wallet, "r");
        if (f) fclose(f);
        s_report(&d, f ? "ok" : "FAIL", "wallet", "%s%s", wallet, f ? "" : " cannot be read");
    } else {
        s_report(&d, "skip", "wallet", "no wallet in the profile (agentkeys config set wallet FILE)");
    }
    ak_http *http = NULL;
    ak_http_config hc = {.retry = {.max_attempts = 1}};
    if (ak_http_new(&hc, &http) != AK_OK) {
        s_report(&d, "FAIL", "http", "cannot set up the HTTP client");
    } else {
        if (a) s_check_api(&d, http, api);
        s_check_chain(&d, c, http);
        ak_http_free(http);
    }
    if (akcli_json(c)) printf("],\"ok\":%s}\n", d.fails ? "false" : "true");
    fflush(stdout);
    if (d.fails == 0) return AKCLI_OK;
    return d.network ? AKCLI_NETWORK : AKCLI_ERR;
}
