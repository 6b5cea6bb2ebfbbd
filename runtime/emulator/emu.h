/*
 * runtime/emulator/emu.h — private header of ak-emulator, the local Lambda emulator.
 *
 * One process, one thread, one epoll loop (see README.md in this directory). The pieces:
 *   yaml.c      a small reader for the YAML subset SAM templates use (block maps and lists,
 *               quoted and plain scalars, tags such as !Ref/!Sub, flow [..] and {..}, | and >)
 *   template.c  template.yaml -> functions and HttpApi routes; the --env-file overrides
 *   http.c      non-blocking HTTP/1.1 server connections: parse, keep-alive, bounded bodies
 *   fn.c        per function: a pool of instances (bootstrap processes), the Runtime API
 *               (2018-06-01), the queue of invocations, timeouts, crash handling and the
 *               START/END/REPORT lines
 *   front.c     the Lambda Invoke API, the API Gateway v2 (payload 2.0) HTTP front and the
 *               /__emulator/ admin endpoints, all on the one --port
 *   main.c      command line, signals, the event loop
 *
 * Cross-file symbols are prefixed akemu_; everything else is static s_*.
 */
#ifndef AKEMU_H
#define AKEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ak/bytes.h"
#include "ak/err.h"

/* ---------------------------------------------------------------- limits */
/* Request head (request line + headers) we read before answering 431. */
#define AKEMU_MAX_HEAD (64u * 1024u)
#define AKEMU_MAX_HEADERS 128u
/* Runtime API /response and /error bodies: Lambda's 6 MiB plus RIE's 100 bytes of slack
 * (lambda.md B6: MaxPayloadSize = 6*1024*1024 + 100). */
#define AKEMU_MAX_RUNTIME_BODY (AK_MAX_LAMBDA_PAYLOAD + 100u)
/* INIT is capped at about 10 s on Lambda (lambda.md B6). */
#define AKEMU_INIT_TIMEOUT_MS 10000u
/* How long a connection that got a 413 may keep sending before we close it. */
#define AKEMU_DRAIN_MS 5000u
/* Tail of the logs returned by X-Amz-Log-Type: Tail (Lambda returns the last 4 KB). */
#define AKEMU_LOG_TAIL 4096u
/* Init durations kept per function for /__emulator/stats. */
#define AKEMU_STATS_KEEP 256u
/* Instances per function: the default cap, and the largest one accepted (from the template's
 * ReservedConcurrentExecutions or --max-instances); 1000 is Lambda's default account limit. */
#define AKEMU_DEFAULT_MAX_INSTANCES 4u
#define AKEMU_MAX_INSTANCES_LIMIT 1000u

/* ---------------------------------------------------------------- time */
uint64_t akemu_now_ns(void);  /* CLOCK_MONOTONIC */
uint64_t akemu_wall_ms(void); /* CLOCK_REALTIME, Unix epoch ms */

/* ---------------------------------------------------------------- yaml */
typedef enum { AKEMU_Y_NULL, AKEMU_Y_SCALAR, AKEMU_Y_MAP, AKEMU_Y_SEQ } akemu_ytype;
typedef struct akemu_ynode {
    akemu_ytype type;
    char *tag; /* "!Ref", "!Sub", ... or NULL */
    char *str; /* scalar text (NUL-terminated) */
    size_t n, cap;
    char **keys;               /* map keys (maps only) */
    struct akemu_ynode **vals; /* map values / sequence items */
    int line;
} akemu_ynode;

/* Parses a YAML document of the subset described above. On failure *out is NULL and `err`
 * says what and on which line. */
AK_MUST ak_err akemu_yaml_parse(const char *text, size_t len, akemu_ynode **out, char *err, size_t errcap);
void akemu_yaml_free(akemu_ynode *n);
/* Map lookup; NULL when `map` is not a map or has no such key. */
const akemu_ynode *akemu_ymap_get(const akemu_ynode *map, const char *key);
/* The scalar's text when `n` is an untagged scalar, else NULL. */
const char *akemu_yscalar(const akemu_ynode *n);

/* ---------------------------------------------------------------- configuration */
typedef struct akemu_kv {
    char *key, *val;
} akemu_kv;
typedef struct akemu_env {
    akemu_kv *v;
    size_t n, cap;
} akemu_env;
/* Sets (or replaces) key=val; copies both. */
AK_MUST ak_err akemu_env_set(akemu_env *e, const char *key, size_t klen, const char *val, size_t vlen);
const char *akemu_env_get(const akemu_env *e, const char *key);
void akemu_env_free(akemu_env *e);

struct akemu_fn;
typedef struct akemu_route {
    char *method;    /* upper case, "ANY" for any */
    char *path;      /* "/v1/x/{id}"; NULL for the $default route */
    char *route_key; /* "GET /v1/x/{id}" or "$default" */
    struct akemu_fn *fn;
} akemu_route;

struct akemu_inst;
struct akemu_inv;
struct akemu_conn;

/* A function from the template and its pool of instances (execution environments). */
typedef struct akemu_fn {
    char *name;      /* LogicalId, e.g. HealthFunction */
    char *alias;     /* Properties.FunctionName when it is a plain string, else NULL */
    char *dir;       /* kebab-case dir, e.g. health, cap-mint */
    char *handler;   /* _HANDLER */
    char *bootstrap; /* absolute or root-relative path of the executable */
    char *task_root; /* LAMBDA_TASK_ROOT and the process's cwd */
    unsigned timeout_ms;
    unsigned memory_mb;
    akemu_env env; /* template Environment.Variables merged with the overrides */
    /* At most max_insts instances (0: throttled, every invocation is refused with 429, as
     * Lambda does for ReservedConcurrentExecutions: 0). Spawned on demand, kept warm. */
    unsigned max_insts;
    struct akemu_inst *insts; /* list, linked through akemu_inst.next */
    size_t n_insts, peak_insts;
    unsigned inst_seq;                 /* numbers instances 1, 2, ... in logs and stats */
    struct akemu_inv *q_head, *q_tail; /* invocations not yet handed to a runtime */
    size_t q_len;
    /* statistics (GET /__emulator/stats) */
    uint64_t n_invokes, n_cold, n_errors, n_timeouts, n_crashes;
    uint64_t init_us[AKEMU_STATS_KEEP];
    size_t n_init_kept;
    uint64_t last_duration_us;
    uint64_t warm_dur_us_sum, warm_n; /* Duration (event handed over .. /response) of warm invokes */
    long last_hwm_kb, last_rss_kb;
    /* EventInvokeConfig (asynchronous invocations): attempts after the first that failed
     * (MaximumRetryAttempts, 0..2, Lambda's default 2), and the OnFailure destination as the
     * template names it ("SQS !GetAtt Queue.Arn"), NULL when none is configured. */
    unsigned async_retries;
    char *on_failure;
    uint64_t n_async_retries, n_async_failed; /* statistics */
} akemu_fn;

typedef struct akemu_cfg {
    char *template_path;
    char *root;    /* build paths are relative to this */
    char *flavour; /* "release" or "dev" */
    uint16_t port;
    char *pid_file, *ready_file;
    /* --destinations-dir: where asynchronous failures of functions with an OnFailure
     * destination are appended, one JSON line per record (<LogicalId>.on-failure.jsonl). */
    char *destinations_dir;
    akemu_env env_all;    /* overrides for every function */
    akemu_env env_fn;     /* "LogicalId.KEY" -> value */
    akemu_env bootstraps; /* LogicalId -> bootstrap path */
    akemu_env timeouts;   /* LogicalId or "*" -> timeout in ms (decimal string) */
    akemu_env max_insts;  /* LogicalId or "*" -> instance cap (decimal string), --max-instances */
    char *region;
    akemu_fn **fns;
    size_t n_fns;
    akemu_route *routes;
    size_t n_routes;
} akemu_cfg;

extern akemu_cfg g_akemu;

/* Reads the template and fills g_akemu.fns / routes (after the overrides were loaded). */
AK_MUST ak_err akemu_template_load(const char *path, char *err, size_t errcap);
/* Reads KEY=VALUE / LogicalId.KEY=VALUE lines into g_akemu.env_all / env_fn. */
AK_MUST ak_err akemu_env_file_load(const char *path, char *err, size_t errcap);
/* Adds one KEY=VALUE or LogicalId.KEY=VALUE override. */
AK_MUST ak_err akemu_env_override(const char *line, size_t len);
akemu_fn *akemu_fn_find(ak_cur name);
/* "CapMintFunction" -> "cap-mint" (inverse of the Makefile's logical_id). */
AK_MUST ak_err akemu_kebab_dir(const char *logical_id, char *out, size_t cap);

/* ---------------------------------------------------------------- event loop */
typedef enum {
    AKEMU_W_FRONT_LISTEN,
    AKEMU_W_RAPI_LISTEN,
    AKEMU_W_CONN,
    AKEMU_W_PIPE,
    AKEMU_W_SIGNAL
} akemu_wkind;
typedef struct akemu_watch {
    akemu_wkind kind;
    void *obj;
} akemu_watch;

AK_MUST ak_err akemu_loop_add(int fd, uint32_t events, akemu_watch *w);
AK_MUST ak_err akemu_loop_mod(int fd, uint32_t events, akemu_watch *w);
void akemu_loop_del(int fd);
/* Binds a non-blocking listening socket on 127.0.0.1:port (0 = any free port). */
AK_MUST ak_err akemu_listen_loopback(uint16_t port, int *fd, uint16_t *bound);

/* ---------------------------------------------------------------- http connections */
typedef struct akemu_hdr {
    ak_cur name, value;
} akemu_hdr;

typedef struct akemu_req {
    ak_cur method, target, path, query, version;
    akemu_hdr hdr[AKEMU_MAX_HEADERS];
    size_t nhdr;
    ak_cur body;     /* points into conn->in, or into `chunked` */
    ak_buf chunked;  /* decoded chunked body */
    size_t consumed; /* bytes of conn->in this request occupies */
    uint64_t content_length;
    bool too_large; /* body over the role's limit: headers only, body not read */
    bool keep_alive;
} akemu_req;

typedef enum { AKEMU_ROLE_FRONT, AKEMU_ROLE_RAPI } akemu_role;

typedef struct akemu_conn {
    int fd;
    akemu_watch w;
    akemu_role role;
    struct akemu_inst *inst; /* RAPI: the instance whose listener accepted us */
    ak_buf in, out;
    size_t out_off;
    bool pollout;       /* EPOLLOUT is armed (a write would have blocked) */
    bool continue_sent; /* "100 Continue" already sent for the current request */
    akemu_req req;
    bool have_req;    /* req is parsed and being handled */
    bool deferred;    /* the answer comes later (invocation / long poll) */
    bool close_after; /* close once `out` is written */
    bool draining;    /* 413 sent: read and drop until EOF or deadline */
    uint64_t drain_deadline_ns;
    uint64_t discard;      /* body bytes still to drop */
    struct akemu_inv *inv; /* FRONT: the invocation we wait for */
    int front_kind;        /* FRONT: AKEMU_ORIGIN_* of the pending request */
    bool want_tail;        /* Invoke API: X-Amz-Log-Type: Tail */
    bool dead;
    struct akemu_conn *next; /* list of all connections */
} akemu_conn;

/* Accepts every pending connection on a listener. */
void akemu_conn_accept(int lfd, akemu_role role, struct akemu_inst *inst);
/* Handles readiness on a connection. */
void akemu_conn_event(akemu_conn *c, uint32_t events);
/* Queues a full response; `extra_headers` is "Name: value\r\n"... or NULL. */
void akemu_conn_respond(akemu_conn *c, int status, const char *content_type, const char *extra_headers,
                        ak_cur body);
/* Same with a JSON body built from a C string. */
void akemu_conn_respond_json(akemu_conn *c, int status, const char *extra_headers, const char *json);
/* Closes (deferred free) a connection. */
void akemu_conn_close(akemu_conn *c);
/* Closes every RAPI connection of an instance. */
void akemu_conn_close_inst(struct akemu_inst *inst);
/* Drain deadlines; frees dead connections. */
void akemu_conn_sweep(uint64_t now);
/* Header lookup (case-insensitive); empty view with *found=false when absent. */
ak_cur akemu_req_header(const akemu_req *r, const char *name, bool *found);
/* Percent-decodes (and '+' -> ' ' when `plus`) into `out`. */
AK_MUST ak_err akemu_url_decode(ak_cur in, bool plus, ak_buf *out);
void akemu_conns_free_all(void);

/* ---------------------------------------------------------------- invocations */
typedef enum { AKEMU_ORIGIN_INVOKE, AKEMU_ORIGIN_HTTP, AKEMU_ORIGIN_ASYNC } akemu_origin;

typedef enum {
    AKEMU_R_OK,    /* payload = the function's response */
    AKEMU_R_ERROR, /* payload = the error document {"errorMessage","errorType",...} */
} akemu_rkind;

typedef struct akemu_inv {
    struct akemu_inv *next;
    akemu_fn *fn;
    char id[40];
    ak_buf payload;
    char *client_context; /* X-Amz-Client-Context (base64) or NULL */
    akemu_conn *client;   /* NULL once the caller went away */
    akemu_origin origin;
    uint64_t t_enqueue_ns, t_start_ns, deadline_ns;
    uint64_t init_ns; /* cold start: spawn -> first /next, 0 when warm */
    bool cold;
    ak_buf log_tail; /* last AKEMU_LOG_TAIL bytes of this invocation's logs */
    bool want_tail;
    unsigned attempt; /* AKEMU_ORIGIN_ASYNC: 1 for the first try, then each retry */
} akemu_inv;

/* Creates an invocation (takes a copy of the payload) and queues it on fn. */
AK_MUST ak_err akemu_invoke(akemu_fn *fn, ak_cur payload, akemu_origin origin, akemu_conn *client,
                            const char *client_context, akemu_inv **out);
/* Called by fn.c when an invocation finishes (exactly once); the front answers the client.
 * `error_type` is set for AKEMU_R_ERROR. The invocation is freed by the caller afterwards. */
void akemu_front_complete(akemu_inv *inv, akemu_rkind kind, ak_cur payload, const char *error_type);
/* A front connection is closing: forget its pending invocation. */
void akemu_inv_detach(akemu_inv *inv);

/* Accepts pending connections on an instance's Runtime API listener. */
void akemu_rapi_accept(struct akemu_inst *inst);
/* Runtime API request on a RAPI connection. */
void akemu_rapi_handle(akemu_conn *c);
/* A RAPI connection is going away (a parked /next must be forgotten). */
void akemu_rapi_conn_gone(akemu_conn *c);
/* Front request (Invoke API, HTTP API, admin). */
void akemu_front_handle(akemu_conn *c);

/* A child exited (from the SIGCHLD handler in main.c). */
void akemu_child_exited(pid_t pid, int wstatus, long maxrss_kb);
/* Timeouts; returns the ms until the next deadline (or -1). */
int akemu_fns_tick(uint64_t now);
/* Pipe readiness for a child's stdout/stderr. */
void akemu_pipe_event(void *pipe_obj, uint32_t events);
/* Stops every instance without an invocation (admin) and counts them in *stopped; returns
 * false when some instance stays busy (or invocations are queued: then nothing is stopped). */
bool akemu_fn_stop(akemu_fn *fn, size_t *stopped);
/* Kills every child (shutdown). */
void akemu_fns_shutdown(void);
/* Appends this function's statistics (with its instances) as a JSON object. */
AK_MUST ak_err akemu_fn_stats_json(const akemu_fn *fn, ak_buf *out);

/* Random request id (UUID v4 text, 36 chars + NUL). */
void akemu_uuid(char out[40]);
/* Prints a line to stdout, prefixed "[name] " (one write, so lines do not interleave). */
void akemu_logf(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
