/*
 * ak/log.h — structured JSON log lines to stdout (CloudWatch picks them up).
 *
 * One line per call: {"ts":"…","level":"info","fn":"<function>","rid":"<request id>","msg":"…",k:v…}
 * The request id is set by the runtime per invocation. Callers pass key/value string pairs,
 * terminated by NULL. NEVER pass bodies, plaintext, keys, KEKs, signatures, bearer tokens or
 * X-Aws-* values: log their presence or a hash instead (STYLE §9).
 */
#ifndef AK_LOG_H
#define AK_LOG_H

typedef enum { AK_LOG_DEBUG, AK_LOG_INFO, AK_LOG_WARN, AK_LOG_ERROR } ak_log_level;

void ak_log_set_function(const char *name);
void ak_log_set_request_id(const char *rid); /* NULL clears */
void ak_log_set_min_level(ak_log_level lvl);
/* ak_log(AK_LOG_INFO, "stored", "service", svc, "bytes", "42", NULL) */
void ak_log(ak_log_level lvl, const char *msg, ...) __attribute__((sentinel));

#define ak_log_info(...) ak_log(AK_LOG_INFO, __VA_ARGS__, (const char *)0)
#define ak_log_warn(...) ak_log(AK_LOG_WARN, __VA_ARGS__, (const char *)0)
#define ak_log_error(...) ak_log(AK_LOG_ERROR, __VA_ARGS__, (const char *)0)
#define ak_log_debug(...) ak_log(AK_LOG_DEBUG, __VA_ARGS__, (const char *)0)

#endif
