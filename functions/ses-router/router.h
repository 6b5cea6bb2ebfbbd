/*
 * functions/ses-router/router.h — SesRouterFunction: moves each inbound message that an SES
 * receipt rule stored in the mail bucket into its actor's inbox prefix (issue 8; DESIGN §1;
 * reference/lambda.md B11; decisions D9 for the bucket layout, D14 for errors).
 *
 * Trigger: an SES receipt rule whose FIRST action is an S3 action (object key
 * <staging prefix><messageId>) and whose second is a Lambda action (InvocationType Event).
 * The event carries no body (B11); the raw message is read from the staging object.
 *
 * Per message (one event record), after the WHOLE event has been validated:
 *   1. each recipient in receipt.recipients is normalised and resolved to an actor:
 *        local part == 64 lowercase hex (after case folding)  -> that omni
 *        otherwise GET aliases/<local>@<domain>               -> the omni it holds
 *        no alias object (404)                                -> unknown recipient
 *   2. destinations (deduplicated; deterministic, so a retry computes the same keys):
 *        bots/<actor>/inbound/<ts>-<messageId>.eml      verdicts not FAIL
 *        bots/<actor>/quarantine/<ts>-<messageId>.eml   spamVerdict or virusVerdict FAIL
 *        unrouted/<messageId>                           one object for all unknown recipients
 *      <ts> is receipt.timestamp in basic ISO 8601 with milliseconds: 20161206T024010.123Z.
 *   3. each destination: HEAD; present -> already done; absent -> server-side CopyObject from
 *      the staging object with metadata REPLACE (ses_build_meta).
 *   4. only when every destination exists is the staging object deleted.
 * A missing staging object whose destinations all exist is a completed earlier delivery
 * (success); a missing staging object with a destination missing is AK_E_NOT_FOUND.
 *
 * Recipient rules (ses_parse_recipient), everything else is a malformed event:
 *   - total 3..254 bytes (RFC 5321 §4.5.3.1.3 path limit minus the angle brackets);
 *     exactly one '@';
 *   - local part 1..64 bytes of [A-Za-z0-9._%+-], no leading or trailing '.', no "..";
 *     folded to ASCII lowercase (mailboxes are treated case-insensitively; alias objects are
 *     always written lowercase by scripts/mail-alias); otherwise byte-exact — no sub-address
 *     ("+tag") stripping, no dot removal;
 *   - domain 1..253 bytes, at least two labels, each label 1..63 bytes of [A-Za-z0-9-] not
 *     starting or ending with '-'; folded to lowercase.
 *   So CR, LF, NUL, '/', "..", quotes, spaces, non-ASCII and IP-literal domains are rejected.
 *
 * Each record must be this Lambda action's: eventSource "aws:ses" and receipt.action.type
 * "Lambda" (anything else is a malformed event).
 *
 * Caps (malformed event beyond them): 1..SES_MAX_RECORDS records, 1..SES_MAX_RECIPIENTS
 * recipients per record (SES accepts at most 50 recipients per message).
 */
#ifndef AK_FN_SES_ROUTER_H
#define AK_FN_SES_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ak/bytes.h"
#include "ak/err.h"
#include "ak/http.h"
#include "ak/s3.h"
#include "ak/sigv4.h"
#include "akrt/runtime.h"

#define SES_MAX_RECORDS 10u
#define SES_MAX_RECIPIENTS 50u
#define SES_MAX_ADDR 254u
#define SES_MAX_LOCAL 64u
#define SES_MAX_DOMAIN 253u
#define SES_MAX_LABEL 63u
#define SES_MAX_MESSAGE_ID 128u
#define SES_MAX_VERDICT 32u
#define SES_TS_LEN 20u /* "YYYYMMDDTHHMMSS.mmmZ" */
#define SES_MAX_PREFIX 128u
/* Sanitised metadata value ceilings. S3 limits user metadata to 2 KB in total (names + values);
 * these keep every object below ~1.9 KB. */
#define SES_META_FROM_MAX 256u
#define SES_META_SUBJECT_MAX 512u
#define SES_META_RECIPIENTS_MAX 600u
/* An alias object body: 64 hex plus optional surrounding whitespace. */
#define SES_MAX_ALIAS_BODY 256u

typedef struct ses_recipient {
    char addr[SES_MAX_ADDR + 1]; /* normalised "<local>@<domain>" */
    char local[SES_MAX_LOCAL + 1];
    char domain[SES_MAX_DOMAIN + 1];
} ses_recipient;

typedef struct ses_verdicts {
    char spam[SES_MAX_VERDICT + 1]; /* "PASS", "FAIL", "GRAY", "PROCESSING_FAILED", ...; "NONE" when absent */
    char virus[SES_MAX_VERDICT + 1];
    char spf[SES_MAX_VERDICT + 1];
    char dkim[SES_MAX_VERDICT + 1];
    char dmarc[SES_MAX_VERDICT + 1];
} ses_verdicts;

typedef struct ses_message {
    char message_id[SES_MAX_MESSAGE_ID + 1];
    char ts[SES_TS_LEN + 1];
    const json_t *from; /* commonHeaders.from (array of strings) or NULL; views into the event */
    ak_cur source;      /* mail.source (envelope sender), may be empty */
    ak_cur subject;     /* commonHeaders.subject, may be empty */
    ses_verdicts v;
    bool quarantine; /* spam or virus verdict FAIL */
    size_t n_rcpt;
    ses_recipient rcpt[SES_MAX_RECIPIENTS];
} ses_message;

/* A validated event. Owns the parsed JSON (the ak_cur views point into it). */
typedef struct ses_event {
    json_t *json;
    size_t n_msg;
    ses_message *msg; /* n_msg entries */
} ses_event;

/* ---- pure parts (unit-tested in tests/unit/ses_router_test.c) ---- */

/* Validates and normalises one recipient (rules above). AK_E_INVALID_EVENT otherwise. */
AK_MUST ak_err ses_parse_recipient(ak_cur in, ses_recipient *out);
/* SES message ids: 1..SES_MAX_MESSAGE_ID of [A-Za-z0-9._-], not starting with '.', no "..". */
bool ses_valid_message_id(ak_cur id);
/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" -> "YYYYMMDDTHHMMSS.mmmZ" (fraction padded or cut to 3
 * digits). Field ranges checked. AK_E_INVALID_EVENT otherwise. */
AK_MUST ak_err ses_parse_timestamp(ak_cur in, char out[SES_TS_LEN + 1]);
/* A verdict status: 1..SES_MAX_VERDICT of [A-Z_]. */
bool ses_valid_verdict(ak_cur v);
/* Staging prefix from AK_MAIL_STAGING_PREFIX: 1..SES_MAX_PREFIX of [A-Za-z0-9._/-], ends with
 * '/', no leading '/', no "..", no "//", and not inside bots/, aliases/ or unrouted/. */
bool ses_valid_staging_prefix(ak_cur p);

/* Parses and validates the whole event (nothing is read from S3). AK_E_INVALID_EVENT for any
 * shape problem (the specific reason is logged), AK_E_NOMEM. Free with ses_event_free. */
AK_MUST ak_err ses_event_parse(ak_cur json, ses_event *ev);
void ses_event_free(ses_event *ev);

typedef enum { SES_DEST_INBOX, SES_DEST_QUARANTINE, SES_DEST_UNROUTED } ses_dest_kind;

/* Appends the destination key: bots/<actor>/{inbound,quarantine}/<ts>-<id>.eml or
 * unrouted/<id> (actor ignored). `actor` must be 64 lowercase hex for the first two. */
AK_MUST ak_err ses_dest_key(ses_dest_kind kind, const char *actor, const ses_message *m, ak_buf *out);
/* Appends "aliases/<local>@<domain>". */
AK_MUST ak_err ses_alias_key(const ses_recipient *r, ak_buf *out);
/* An alias object's body -> the actor omni (64 lowercase hex, surrounding ASCII whitespace
 * allowed). AK_E_INVALID_OMNI otherwise. */
AK_MUST ak_err ses_parse_alias_body(ak_cur body, char actor[65]);
/*
 * Header value -> S3 metadata value: bytes 0x20..0x7E except '%' are kept, every other byte
 * (CR, LF, TAB, controls, '%', non-ASCII/UTF-8) becomes %XX, so the value is printable ASCII
 * and reversible (percent-decoding gives the original bytes). At most `max` bytes are appended,
 * never cutting an escape; *truncated says whether input was left out.
 */
AK_MUST ak_err ses_meta_value(ak_cur in, size_t max, ak_buf *out, bool *truncated);

/* ---- the handler ---- */

typedef struct ses_router {
    ak_http *http;
    ak_s3 s3;
    ak_sigv4_creds creds;
    const char *bucket;
    char staging[SES_MAX_PREFIX + 1];
    /* Fault injection (dev/test builds only, see README): fail the copy after this many
     * successful copies in one invocation; 0 = off. Always 0 in release builds. */
    uint64_t fault_after_copies;
} ses_router;

/* akrt_init_fn: reads AK_MAIL_BUCKET (required), AK_MAIL_STAGING_PREFIX (default "inbound/"),
 * the S3 configuration and the execution role's credentials; AK_E_CONFIG when unusable. */
AK_MUST ak_err ses_router_init(void *user);
/* akrt_raw_handler. Answers {"disposition":"CONTINUE","routed":n,"quarantined":n,
 * "unrouted":n,"copied":n,"already_present":n}. */
AK_MUST ak_err ses_router_handle(akrt_ctx *ctx, ak_cur event, ak_buf *out, void *user);

#endif
