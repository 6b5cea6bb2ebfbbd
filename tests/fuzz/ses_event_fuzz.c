/*
 * ses_event_fuzz.c — SesRouterFunction's outside input (functions/ses-router/router.c, compiled
 * in as tests/unit/ses_router_test.c does): the whole SES event (ses_event_parse, which stops
 * before any S3 call), plus the same bytes as an alias object body and as a header value.
 *
 * Properties: no crash, overread, leak or UB; a parsed event has 1..SES_MAX_RECORDS messages, each
 * with a valid message id, a 20-byte timestamp, 1..SES_MAX_RECIPIENTS recipients whose
 * normalised address re-parses to itself (normalisation is a fixed point), and destination keys
 * that build; an alias body that parses names 64 lowercase hex; a metadata value is printable
 * ASCII within its ceiling and percent-decodes to a prefix of its input.
 */
#include "../../functions/ses-router/router.c"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char s_actor[] = "3f1c9a7e52b04d8e9a61c07f2e5d3b8a4c6e0f1a2b3c4d5e6f708192a3b4c5d6";

static void s_check_message(const ses_message *m) {
    if (!ses_valid_message_id(ak_cur_from_str(m->message_id))) abort();
    if (strlen(m->ts) != SES_TS_LEN) abort();
    if (m->n_rcpt < 1 || m->n_rcpt > SES_MAX_RECIPIENTS) abort();
    for (size_t i = 0; i < m->n_rcpt; i++) {
        ses_recipient again;
        if (ses_parse_recipient(ak_cur_from_str(m->rcpt[i].addr), &again) != AK_OK) abort();
        if (memcmp(&again, &m->rcpt[i], sizeof(again)) != 0) abort();
    }
    ak_buf k;
    ak_buf_init(&k, 1024);
    if (ses_dest_key(SES_DEST_INBOX, s_actor, m, &k) != AK_OK) abort();
    ak_buf_clear(&k);
    if (ses_dest_key(SES_DEST_UNROUTED, NULL, m, &k) != AK_OK) abort();
    ak_buf_clear(&k);
    if (ses_alias_key(&m->rcpt[0], &k) != AK_OK) abort();
    ak_buf_free(&k);
}

static bool s_is_hex_upper(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }
static uint8_t s_unhex(uint8_t c) { return (uint8_t)(c <= '9' ? c - '0' : c - 'A' + 10); }

static void s_check_meta(ak_cur in, size_t max) {
    ak_buf out;
    ak_buf_init(&out, 4096);
    bool truncated = false;
    if (ses_meta_value(in, max, &out, &truncated) != AK_OK) abort();
    if (out.len > max) abort();
    /* percent-decode: must give back a prefix of the input (all of it unless truncated) */
    size_t j = 0;
    for (size_t i = 0; i < out.len; i++, j++) {
        uint8_t c = out.ptr[i];
        if (c < 0x20 || c > 0x7e) abort();
        if (c == '%') {
            if (i + 2 >= out.len || !s_is_hex_upper(out.ptr[i + 1]) || !s_is_hex_upper(out.ptr[i + 2]))
                abort();
            c = (uint8_t)(s_unhex(out.ptr[i + 1]) << 4 | s_unhex(out.ptr[i + 2]));
            i += 2;
        }
        if (j >= in.len || in.ptr[j] != c) abort();
    }
    if (!truncated && j != in.len) abort();
    ak_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int installed;
    if (!installed) {
        ak_alloc_install_jansson();
        ak_log_set_min_level(AK_LOG_ERROR); /* every rejected event logs a warning */
        installed = 1;
    }
    ak_cur in = ak_cur_from(data, size);
    ses_event ev;
    if (ses_event_parse(in, &ev) == AK_OK) {
        if (ev.n_msg < 1 || ev.n_msg > SES_MAX_RECORDS || ev.json == NULL) abort();
        for (size_t i = 0; i < ev.n_msg; i++)
            s_check_message(&ev.msg[i]);
        ses_event_free(&ev);
    } else if (ev.json != NULL || ev.msg != NULL) {
        abort(); /* a failed parse leaves nothing to free */
    }

    char actor[65];
    if (ses_parse_alias_body(in, actor) == AK_OK && !ak_is_hex64_lower(ak_cur_from(actor, 64))) abort();
    s_check_meta(in, SES_META_SUBJECT_MAX);
    s_check_meta(in, size % 17);
    return 0;
}
