/*
 * smpp_client_rx.c - what an operator's SMSC sends on a bound client
 * session, on any bind of the connector (smpp_client_int.h).
 *
 * A delivery receipt (deliver_sm with esm_class 0x04) is matched to its
 * message by the core (connector, remote id) and emitted as a "receipt"
 * event; deliver_sm_resp goes out once that is committed.  Its id is
 * first read as conf "receipt_ids" says (smpp_id.c: the other base, or
 * for "auto" its other forms, tried by the store on a miss).  A part of a
 * long MO is stored under its set's key (gateway/gw_frag.h) and joined
 * when all are in; any other deliver_sm is a mobile-originated message
 * that becomes an envelope and is answered only after it is committed
 * (smpp_accept in smpp_adapter.c).  A data_sm is taken as the deliver_sm
 * it carries and answered data_sm_resp.  An alert_notification is logged
 * and counted; it has no response.  Responses to our submit_sm go to the
 * send queue (smpp_client_submit_resp).
 *
 * Threads: the SMPP thread (smpp_client_receipt_acked: the writer's,
 * which only queues the answer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <stdint.h>
#include <smpp34.h>

#include "gw_core.h"
#include "gw_errors.h"
#include "gw_frag.h"
#include "gw_log.h"
#include "gw_stats.h"
#include "gw_trace.h"
#include "gw_str.h"
#include "smpp.h"
#include "smpp_client_int.h"

static gw_stat_t *smpp_stat_alerts, *smpp_stat_rids; /* SMPP thread */

/* Writer thread: the receipt is durable (or placed nowhere); answer the
 * deliver_sm now.  An unknown id is still ESME_ROK: the SMSC resending a
 * receipt nobody can place helps no one (counted in core.receipts_unknown). */
static void smpp_client_receipt_acked(void *arg, int rc)
{
    smpp_work_t *w = arg;

    w->rc = rc == GW_ENOTFOUND || rc == GW_EAGAIN ? 0 : rc; /* unknown, or parked */
    if (smpp_work_push(w) < 0)
        smpp_work_free(w); /* stopping: the SMSC resends it to the next start */
}

/* The trace's record of how conf receipt_ids reads a receipt's id: id as
 * match, or (auto) as written and then alt's forms. */
static void smpp_client_receipt_trace(const smpp_client_t *cl, const char *id, const char *match,
                                      const char *alt)
{
    char line[3 * SMPP_ID_MAX + 64], forms[2 * SMPP_ID_MAX + 2];
    gw_trace_rec_t r;
    size_t i;

    for (i = 0; alt[i] != '\0' && i + 1 < sizeof forms; i++)
        forms[i] = alt[i] == '\n' ? (alt[i + 1] ? ',' : '\0') : alt[i];
    forms[i] = '\0';
    if (alt[0])
        snprintf(line, sizeof line, "receipt id %s: as written, else as %s (receipt_ids auto)",
                 id, forms);
    else
        snprintf(line, sizeof line, "receipt id %s read as %s (receipt_ids)", id, match);
    memset(&r, 0, sizeof r);
    r.kind = GW_TRACE_LOG;
    r.connector = cl->name;
    r.smpp_msgid = match;
    r.summary = line;
    gw_trace_record(&r);
}

/* A delivery receipt: the core finds our message by our connector and its
 * message_id and records the SMSC's final word ("stat:" of the SMPP 3.4
 * appendix B text; err: is kept as the reason); deliver_sm_resp goes out only once
 * that is committed.  Returns 0 when the answer is on its way, else the
 * caller answers at once. */
static int smpp_client_receipt(smpp_client_t *cl, smpp_session_t *s, const smpp_hdr_t *h,
                               const smpp_sm_fields_t *f, uint32_t resp)
{
    char id[SMPP_ID_MAX] = "", stat[16] = "", norm[SMPP_ID_MAX], match[SMPP_ID_MAX];
    char alt[2 * SMPP_ID_MAX + 2];
    const char *state;
    int err = 0;

    /* the text (SMPP 3.4 appendix B), and the TLVs receipted_message_id
     * and message_state, which win where present: some SMSCs send only
     * them, or a text whose id is formatted otherwise */
    if (smpp_receipt_parse(f->sm, f->sm_len, id, sizeof id, stat, sizeof stat, &err) < 0)
        id[0] = stat[0] = '\0';
    if (f->receipted_id != NULL && f->receipted_id[0] != '\0')
        gw_strlcpy(id, f->receipted_id, sizeof id);
    if ((state = smpp_message_state_name(f->message_state)) != NULL)
        gw_strlcpy(stat, state, sizeof stat);
    if (id[0] == '\0' || stat[0] == '\0') {
        GW_WARN(SMPP_MOD, "connector %s: a receipt without id or stat: %.*s", cl->name,
                (int)f->sm_len, (const char *)f->sm);
        return GW_EINVAL;
    }
    smpp_id_norm(id, norm, sizeof norm);
    int how = smpp_id_receipt(cl->receipt_ids, norm, match, sizeof match, alt, sizeof alt);
    if (how == 1) {
        if (smpp_stat_rids == NULL)
            smpp_stat_rids = gw_stat(SMPP_STAT_RIDS, SMPP_STAT_RIDS_HELP);
        gw_stat_add(smpp_stat_rids, 1);
    }
    if (how != 0 && gw_trace_on())
        smpp_client_receipt_trace(cl, norm, match, alt);
    smpp_work_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return GW_ENOMEM;
    w->kind = SMPP_W_ACCEPTED;
    w->sess_id = s->id;
    w->seq = h->seq;
    w->resp_cmd = resp;
    gw_strlcpy(w->msgid, norm, sizeof w->msgid);
    int rc = gw_core_receipt_alt(cl->name, match, alt[0] ? alt : NULL, stat, err,
                                 smpp_client_receipt_acked, w);
    if (rc < 0)
        free(w);
    return rc;
}

/* One part of a long MO (UDH or SAR): stored under its set's key and
 * answered after that commit; the core joins the parts into one message
 * when all are in (gateway/gw_frag.h), so SIP and AMQP targets get the
 * whole text.  A part without a route is refused as a whole message
 * would be.  0 when handled (answered or to be), GW_EDECLINED when env is
 * no part. */
static int smpp_client_part(smpp_client_t *cl, smpp_session_t *s, const smpp_hdr_t *h,
                            gw_envelope_t *env, uint32_t resp)
{
    char key[GW_FRAG_KEY_MAX], *target = NULL, *rule = NULL;
    int seq, total, rc;
    smpp_work_t *w;

    if (!gw_frag_part_of(env, key, sizeof key, &seq, &total))
        return GW_EDECLINED;
    if (gw_core_dry_run(env, &target, &rule) == GW_ENOROUTE) {
        smpp_session_respond(s, resp, ESME_RX_R_APPN, h->seq, NULL); /* as a whole MO */
        return 0;
    }
    free(target);
    free(rule);
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        smpp_session_respond(s, resp, ESME_RSYSERR, h->seq, NULL);
        return 0;
    }
    w->kind = SMPP_W_ACCEPTED;
    w->sess_id = s->id;
    w->seq = h->seq;
    w->resp_cmd = resp;
    gw_strlcpy(w->msgid, env->id, sizeof w->msgid);
    rc = gw_frag_add(env, key, seq, total, smpp_client_receipt_acked, w);
    if (rc < 0) {
        free(w);
        GW_WARN(SMPP_MOD, "connector %s: part %d/%d not stored: %s", cl->name, seq, total,
                gw_strerror(rc));
        smpp_session_respond(s, resp, rc == GW_EFULL ? ESME_RX_T_APPN : ESME_RSYSERR,
                             h->seq, NULL);
    }
    return 0;
}

/* deliver_sm, or a data_sm made one (resp DATA_SM_RESP): a receipt, a
 * part of a long MO, or an MO. */
static void smpp_client_deliver(smpp_client_t *cl, smpp_session_t *s, const smpp_hdr_t *h,
                                const uint8_t *raw, uint32_t resp)
{
    gw_envelope_t *env = NULL;
    smpp_sm_fields_t f;
    int rc;

    if (smpp_sm_decode(s->peer, h, raw, &f) < 0) {
        smpp_session_respond(s, GENERIC_NACK, ESME_RINVCMDLEN, h->seq, NULL);
        return;
    }
    if (f.esm_class & SMPP_ESM_RECEIPT) {
        rc = smpp_client_receipt(cl, s, h, &f, resp);
        if (rc < 0) /* malformed: nothing to store; overload: let it resend */
            smpp_session_respond(s, resp,
                                 rc == GW_EINVAL ? ESME_ROK : ESME_RSYSERR, h->seq, NULL);
        return;
    }
    env = gw_env_new();
    rc = env ? smpp_env_fill_dc0(env, &f, cl->dc0) : GW_ENOMEM;
    if (rc == 0 && (gw_env_set_str(&env->source.adapter, "smpp", (size_t)-1) < 0 ||
                    gw_env_set_str(&env->source.connector, cl->name, (size_t)-1) < 0 ||
                    gw_env_set_str(&env->source.peer, s->peer, (size_t)-1) < 0))
        rc = GW_ENOMEM;
    if (rc < 0) {
        smpp_session_respond(s, resp,
                             rc == GW_EINVAL ? ESME_RINVDSTADR : ESME_RSYSERR, h->seq, NULL);
        goto out_env;
    }
    if (smpp_client_part(cl, s, h, env, resp) == 0)
        goto out_env; /* one part of a long message: stored, joined when all are in */
    smpp_accept(s, env, h->seq, resp);
out_env:
    gw_env_unref(env);
}


/* alert_notification (SMPP 3.4 4.12): the SMSC says a mobile is
 * reachable again.  Logged and counted (the session traced the PDU); it
 * has no response. */
static void smpp_client_alert(smpp_bind_t *b, const smpp_hdr_t *h, const uint8_t *pdu)
{
    char src[SMPP_WIRE_ADDR_MAX] = "", esme[SMPP_WIRE_ADDR_MAX] = "";
    size_t at = 16 + 2; /* source_addr_ton, source_addr_npi */

    __atomic_add_fetch(&b->alerts, 1, __ATOMIC_RELAXED);
    if (smpp_stat_alerts == NULL)
        smpp_stat_alerts = gw_stat(SMPP_STAT_ALERTS, SMPP_STAT_ALERTS_HELP);
    gw_stat_add(smpp_stat_alerts, 1);
    if (smpp_cstr(pdu, h->len, &at, src, sizeof src) < 0 ||
        (at += 2) > h->len || /* esme_addr_ton, esme_addr_npi */
        smpp_cstr(pdu, h->len, &at, esme, sizeof esme) < 0) {
        GW_WARN(SMPP_MOD, "connector %s: bind %d: a malformed alert_notification (%u octets)",
                b->cl->name, b->idx, h->len);
        return;
    }
    GW_INFO(SMPP_MOD, "connector %s: bind %d: alert_notification: %s is available (for %s)",
            b->cl->name, b->idx, src, esme[0] ? esme : "-");
}

void smpp_client_pdu(smpp_bind_t *b, smpp_session_t *s, const smpp_hdr_t *h, const uint8_t *pdu,
                     smpp_req_t *req)
{
    smpp_client_t *cl = b->cl;

    if (req && req->cmd_id == SUBMIT_SM && req->ctx) {
        smpp_client_submit_resp(b, h, pdu, req);
    } else if (h->cmd_id == DELIVER_SM) {
        __atomic_add_fetch(&b->delivers, 1, __ATOMIC_RELAXED);
        smpp_client_deliver(cl, s, h, pdu, DELIVER_SM_RESP);
    } else if (h->cmd_id == DATA_SM) {
        /* SMPP 3.4 4.7: as the deliver_sm it carries, answered data_sm_resp */
        static uint8_t sm[SMPP_MAX_PDU + 256];
        smpp_hdr_t sh;
        const char *why;
        int len = smpp_data_sm_as(pdu, h->len, DELIVER_SM, sm, sizeof sm);
        __atomic_add_fetch(&b->delivers, 1, __ATOMIC_RELAXED);
        if (len < 0 || smpp_wire_header(sm, (size_t)len, &sh, &why) < 0)
            smpp_session_respond(s, GENERIC_NACK, ESME_RINVCMDLEN, h->seq, NULL);
        else
            smpp_client_deliver(cl, s, &sh, sm, DATA_SM_RESP);
    } else if (h->cmd_id == ALERT_NOTIFICATION) {
        smpp_client_alert(b, h, pdu);
    } else if (!(h->cmd_id & 0x80000000u)) {
        smpp_session_respond(s, GENERIC_NACK, ESME_RINVCMDID, h->seq, NULL);
    }
}
