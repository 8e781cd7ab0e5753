/*
 * smpp_cancel.c - cancel_sm and replace_sm from customers (our SMSC
 * role; SMPP 3.4 4.9 and 4.10), for messages still queued.
 *
 * Both bodies are read by hand with smpp_cstr like the other hand-read
 * PDUs (smpp_cancel_parse / smpp_replace_parse, pure, fuzzed by
 * tests/fuzz/fuzz_smpp.c): a body that does not end where its last field
 * does gets generic_nack ESME_RINVCMDLEN, and the session stays.
 *
 * The core decides (gateway/gw_cancel.c): the queue's own thread withdraws
 * the message if it still waits there, in memory or only in the store of
 * a spilled queue, so a message is cancelled or sent, never both, and the
 * change is committed before we answer.  Nothing here blocks (a row the
 * core reads is read on the worker pool); the answer comes back from the
 * writer (or core) thread as SMPP_W_CANCEL work.
 *
 *   cancel_sm   message_id: that message; message_id "": every queued
 *               message of the account from source_addr to
 *               destination_addr (addresses normalised as a submit_sm's,
 *               service_type not compared: junction keeps none).  Each
 *               goes to failed, reason "cancelled", event
 *               message.cancelled.  ESME_ROK once committed;
 *               ESME_RCANCELFAIL when nothing withdrawable matched
 *               (sending, submitted, final, another account's, unknown);
 *               ESME_RINVMSGID for an id that cannot be one of ours (not
 *               26 characters).
 *   replace_sm  message_id's short_message (decoded with the data_coding
 *               the message was submitted with), registered_delivery and,
 *               when given, validity_period (absolute or relative to the
 *               replace: smpp_env_validity, as for submit_sm) replaced;
 *               schedule_delivery_time is read and, as in submit_sm, not
 *               applied.  ESME_ROK once committed, else ESME_RREPLACEFAIL
 *               (ESME_RINVMSGID as above; ESME_RINVEXPIRY for a
 *               validity_period that is no SMPP time).
 *
 * Threads: the SMPP thread, but smpp_cancel_cb (writer or core thread,
 * only queues) and smpp_replace_edit (core thread, pure codec).
 */
#include <stdlib.h>
#include <string.h>
#include <smpp34.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_stats.h"
#include "smpp.h"

static gw_stat_t *smpp_cancel_st_cancel, *smpp_cancel_st_cancelled, *smpp_cancel_st_replace,
    *smpp_cancel_st_replaced;

void smpp_cancel_stats(void)
{
    if (smpp_cancel_st_cancel != NULL)
        return;
    smpp_cancel_st_cancel = gw_stat("smpp.server_cancel_sm", "cancel_sm received from customers");
    smpp_cancel_st_cancelled = gw_stat("smpp.server_cancel_ok",
                                       "cancel_sm answered ESME_ROK: queued messages cancelled");
    smpp_cancel_st_replace = gw_stat("smpp.server_replace_sm",
                                     "replace_sm received from customers");
    smpp_cancel_st_replaced = gw_stat("smpp.server_replace_ok",
                                      "replace_sm answered ESME_ROK: queued messages replaced");
}

/* The body must end with its last field. */
static int smpp_cancel_end(size_t at, size_t len)
{
    return at == len ? 0 : GW_EINVAL;
}

int smpp_cancel_parse(const uint8_t *raw, size_t len, smpp_cancel_req_t *c)
{
    size_t at = 16;

    memset(c, 0, sizeof *c);
    if (len < 16 || smpp_cstr(raw, len, &at, c->service_type, sizeof c->service_type) < 0 ||
        smpp_cstr(raw, len, &at, c->message_id, sizeof c->message_id) < 0 || len - at < 2)
        return GW_EINVAL;
    c->src_ton = raw[at++];
    c->src_npi = raw[at++];
    if (smpp_cstr(raw, len, &at, c->src, sizeof c->src) < 0 || len - at < 2)
        return GW_EINVAL;
    c->dst_ton = raw[at++];
    c->dst_npi = raw[at++];
    if (smpp_cstr(raw, len, &at, c->dst, sizeof c->dst) < 0)
        return GW_EINVAL;
    return smpp_cancel_end(at, len);
}

int smpp_replace_parse(const uint8_t *raw, size_t len, smpp_replace_req_t *r)
{
    size_t at = 16;

    memset(r, 0, sizeof *r);
    if (len < 16 || smpp_cstr(raw, len, &at, r->message_id, sizeof r->message_id) < 0 ||
        len - at < 2)
        return GW_EINVAL;
    r->src_ton = raw[at++];
    r->src_npi = raw[at++];
    if (smpp_cstr(raw, len, &at, r->src, sizeof r->src) < 0 ||
        smpp_cstr(raw, len, &at, r->schedule, sizeof r->schedule) < 0 ||
        smpp_cstr(raw, len, &at, r->validity, sizeof r->validity) < 0 || len - at < 3)
        return GW_EINVAL;
    r->registered_delivery = raw[at++];
    r->sm_default_msg_id = raw[at++];
    r->sm_length = raw[at++];
    if (r->sm_length > SMPP_WIRE_SM_MAX || len - at < r->sm_length)
        return GW_EINVAL;
    memcpy(r->sm, raw + at, r->sm_length);
    at += r->sm_length;
    return smpp_cancel_end(at, len);
}

/* A cancel_sm or replace_sm in the core's hands: its answer's address. */
typedef struct smpp_cancel_ticket {
    smpp_work_t *w;            /* SMPP_W_CANCEL: sess_id, seq, resp_cmd */
    smpp_replace_req_t rep;    /* replace_sm: the new content */
} smpp_cancel_ticket_t;

/* Writer (or core) thread: the core's verdict; only queues. */
static void smpp_cancel_cb(void *arg, int rc)
{
    smpp_cancel_ticket_t *t = arg;
    smpp_work_t *w = t->w;

    free(t);
    w->rc = rc;
    if (smpp_work_push(w) < 0)
        smpp_work_free(w);
}

/* Core thread: the replace_sm's content on a copy of the envelope. */
static int smpp_replace_edit(gw_envelope_t *env, void *arg)
{
    const smpp_replace_req_t *r = &((smpp_cancel_ticket_t *)arg)->rep;
    int dc = env->data_coding >= 0 ? env->data_coding : SMPP_DC_GSM;
    char *text;
    size_t n;
    int rc;

    if (env->binary || smpp_text_is_binary(dc))
        rc = gw_env_set_str(&env->body, (const char *)r->sm, r->sm_length);
    else if ((text = smpp_text_decode(dc, r->sm, r->sm_length, &n)) == NULL)
        rc = GW_ENOMEM;
    else {
        free(env->body);
        env->body = text;
        rc = GW_OK;
    }
    if (rc == 0) {
        env->body_len = env->binary || smpp_text_is_binary(dc) ? r->sm_length : strlen(env->body);
        env->registered_delivery = r->registered_delivery;
        /* checked on the SMPP thread; relative to the replace */
        rc = smpp_env_validity(env, r->validity, gw_now_ms()) == 0 ? GW_OK : GW_ENOMEM;
    }
    return rc;
}

/* The ticket of the PDU h on s, or NULL (out of memory). */
static smpp_cancel_ticket_t *smpp_cancel_ticket(smpp_session_t *s, const smpp_hdr_t *h,
                                                uint32_t resp)
{
    smpp_cancel_ticket_t *t = calloc(1, sizeof *t);

    if (t == NULL || (t->w = calloc(1, sizeof *t->w)) == NULL) {
        free(t);
        return NULL;
    }
    t->w->kind = SMPP_W_CANCEL;
    t->w->sess_id = s->id;
    t->w->seq = h->seq;
    t->w->resp_cmd = resp;
    return t;
}

static void smpp_cancel_ticket_free(smpp_cancel_ticket_t *t)
{
    free(t->w);
    free(t);
}

void smpp_cancel_sm(smpp_session_t *s, const char *owner, const smpp_hdr_t *h,
                    const uint8_t *raw)
{
    smpp_cancel_req_t c;
    gw_addr_t from = { 0 }, to = { 0 };
    smpp_cancel_ticket_t *t = NULL;
    uint32_t status = ESME_RCANCELFAIL;
    int rc;

    gw_stat_add(smpp_cancel_st_cancel, 1);
    if (smpp_cancel_parse(raw, h->len, &c) < 0) {
        smpp_session_respond(s, GENERIC_NACK, ESME_RINVCMDLEN, h->seq, NULL);
        return;
    }
    if (c.message_id[0] && strlen(c.message_id) != GW_ENV_ID_LEN) {
        status = ESME_RINVMSGID;
        goto out_answer;
    }
    if (!c.message_id[0] &&
        (!c.src[0] || !c.dst[0] || gw_addr_normalise(&from, c.src, c.src_ton, c.src_npi) < 0 ||
         gw_addr_normalise(&to, c.dst, c.dst_ton, c.dst_npi) < 0))
        goto out_answer; /* SMPP 3.4 4.9.1: without an id both addresses name them */
    status = ESME_RSYSERR;
    if ((t = smpp_cancel_ticket(s, h, CANCEL_SM_RESP)) == NULL)
        goto out_answer;
    rc = gw_core_cancel(owner, c.message_id[0] ? c.message_id : NULL, &from, &to, smpp_cancel_cb,
                        t);
    if (rc < 0) {
        smpp_cancel_ticket_free(t);
        goto out_answer;
    }
    free(from.address);
    free(to.address);
    return;

out_answer:
    free(from.address);
    free(to.address);
    smpp_session_respond(s, CANCEL_SM_RESP, status, h->seq, NULL);
}

void smpp_replace_sm(smpp_session_t *s, const char *owner, const smpp_hdr_t *h,
                     const uint8_t *raw)
{
    smpp_cancel_ticket_t *t;
    uint32_t status = ESME_RSYSERR;
    int64_t expires;

    gw_stat_add(smpp_cancel_st_replace, 1);
    if ((t = smpp_cancel_ticket(s, h, REPLACE_SM_RESP)) == NULL)
        goto out_answer;
    if (smpp_replace_parse(raw, h->len, &t->rep) < 0) {
        smpp_cancel_ticket_free(t);
        smpp_session_respond(s, GENERIC_NACK, ESME_RINVCMDLEN, h->seq, NULL);
        return;
    }
    if (strlen(t->rep.message_id) != GW_ENV_ID_LEN) {
        status = ESME_RINVMSGID;
        goto out_free;
    }
    if (smpp_time_parse(t->rep.validity, gw_now_ms(), &expires) < 0) {
        status = ESME_RINVEXPIRY;
        goto out_free;
    }
    /* t (with the new content) stays valid until smpp_cancel_cb frees it */
    if (gw_core_replace(owner, t->rep.message_id, smpp_replace_edit, t, smpp_cancel_cb, t) == 0)
        return;
out_free:
    smpp_cancel_ticket_free(t);
out_answer:
    smpp_session_respond(s, REPLACE_SM_RESP, status, h->seq, NULL);
}

void smpp_cancel_answer(const smpp_work_t *w)
{
    smpp_session_t *s = smpp_session_find(w->sess_id);
    int cancel = w->resp_cmd == CANCEL_SM_RESP;
    uint32_t status = w->rc == 0 ? ESME_ROK
                      : w->rc == GW_ENOTFOUND || w->rc == GW_EINVAL
                          ? (cancel ? ESME_RCANCELFAIL : ESME_RREPLACEFAIL)
                          : ESME_RSYSERR;

    if (status == ESME_ROK)
        gw_stat_add(cancel ? smpp_cancel_st_cancelled : smpp_cancel_st_replaced, 1);
    if (s == NULL || s->finishing)
        return; /* committed all the same; the customer may query_sm */
    smpp_session_respond(s, w->resp_cmd, status, w->seq, NULL);
}
