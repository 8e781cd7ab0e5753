/*
 * smpp_multi.c - submit_multi from customers (SMPP 3.4 4.5): one message
 * to up to 255 destinations, fanned out into one envelope per SME
 * address, each routed, stored and delivered like a submit_sm of its own,
 * and answered with one submit_multi_resp after every destination's
 * commit: the message_id of the first one stored, and an unsuccess_sme
 * entry (address and command_status) for each destination that was not -
 * a distribution list (dest_flag 2: junction keeps none,
 * ESME_RINVDLNAME), an address that cannot be used, no route, a rule's
 * refusal, overload, a store error.
 *
 * Each destination is decoded by building the submit_sm it stands for
 * (the same header, source and message fields, that one destination) and
 * handing it to smpp_wire_decode_sm / smpp_env_fill, so submit_multi
 * takes exactly the paths, checks and codings of submit_sm.
 *
 * Threads: the SMPP thread, except smpp_multi_accept_cb (the writer
 * thread: it writes its own destination's slot and counts down
 * atomically; the last one hands the answer to the SMPP thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <smpp34.h>

#include "gw_core.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_str.h"
#include "smpp.h"

struct smpp_multi {
    uint64_t sess_id;
    uint32_t seq;
    int n;
    int left;                      /* atomic: destinations not settled yet */
    smpp_multi_dest_t d[SMPP_MULTI_MAX];
};

typedef struct smpp_multi_ticket {
    smpp_multi_t *m;
    int i;
} smpp_multi_ticket_t;

/* A settled destination; the last one queues the answer. */
static void smpp_multi_settle(smpp_multi_t *m)
{
    if (__atomic_sub_fetch(&m->left, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    smpp_work_t *w = calloc(1, sizeof(*w));
    if (w != NULL) {
        w->kind = SMPP_W_MULTI;
        w->multi = m;
        if (smpp_work_push(w) == 0)
            return;
        free(w);
    }
    free(m); /* stopping: the customer resends what it was not answered */
}

/* gw_accept_cb_t: the writer thread. */
static void smpp_multi_accept_cb(gw_envelope_t *env, int rc, void *arg)
{
    smpp_multi_ticket_t *t = arg;
    smpp_multi_dest_t *d = &t->m->d[t->i];

    d->status = rc == 0 ? ESME_ROK : ESME_RSYSERR;
    if (rc == 0)
        memcpy(d->id, env->id, sizeof d->id);
    smpp_multi_settle(t->m);
    free(t);
}

/* Offer destination i (the submit_sm it stands for: pdu of len octets). */
static void smpp_multi_offer(smpp_multi_t *m, int i, const uint8_t *pdu, size_t len,
                             const char *peer, const char *conn_name)
{
    smpp_multi_dest_t *d = &m->d[i];
    smpp_multi_ticket_t *t = NULL;
    gw_envelope_t *env = NULL;
    smpp_sm_fields_t f;
    smpp_hdr_t h;
    const char *why;
    int rc = GW_EINVAL;

    if (smpp_wire_header(pdu, len, &h, &why) == 0 && smpp_wire_decode_sm(pdu, len, &f, &why) == 0 &&
        (env = gw_env_new()) != NULL && (rc = smpp_env_fill(env, &f)) == 0 &&
        (rc = smpp_env_validity(env, f.validity_period, gw_now_ms())) == 0 &&
        (gw_env_set_str(&env->source.adapter, "smpp", (size_t)-1) < 0 ||
         gw_env_set_str(&env->source.connector, conn_name, (size_t)-1) < 0 ||
         gw_env_set_str(&env->source.peer, peer, (size_t)-1) < 0 ||
         gw_env_set_tag(env, "sender", conn_name) < 0)) /* who sent it */
        rc = GW_ENOMEM;
    if (rc == 0 && (t = calloc(1, sizeof(*t))) == NULL)
        rc = GW_ENOMEM;
    if (rc == 0) {
        t->m = m;
        t->i = i;
        rc = gw_core_accept(env, smpp_multi_accept_cb, t);
    }
    if (rc != 0) {
        free(t);
        d->status = rc > 0               ? (uint32_t)rc /* ESME_RINVEXPIRY */
                    : rc == GW_EREJECTED ? (uint32_t)gw_core_refusal()->smpp_status
                    : rc == GW_EFULL   ? ESME_RTHROTTLED
                    : rc == GW_ENOMEM  ? ESME_RSYSERR
                                       : ESME_RINVDSTADR; /* no route, a bad address */
        smpp_multi_settle(m);
    }
    gw_env_unref(env);
}

int smpp_multi_parse(const uint8_t *raw, size_t len, smpp_multi_dest_t *d, int *n,
                     size_t *head_end, size_t *tail_at)
{
    size_t at = 16;
    char service[6], src[SMPP_WIRE_ADDR_MAX];
    int i;

    *n = 0;
    /* service_type, source, number_of_dests, then the destinations */
    if (len < 16 || smpp_cstr(raw, len, &at, service, sizeof service) < 0 || at + 2 > len)
        return GW_EINVAL;
    at += 2;
    if (smpp_cstr(raw, len, &at, src, sizeof src) < 0 || at + 1 > len)
        return GW_EINVAL;
    *head_end = at;
    *n = raw[at++];
    if (*n < 1)
        return ESME_RINVNUMDESTS;
    for (i = 0; i < *n; i++) {
        uint8_t flag = at < len ? raw[at++] : 0;
        memset(&d[i], 0, sizeof d[i]);
        if (flag == 1 && at + 2 <= len) {
            d[i].ton = raw[at];
            d[i].npi = raw[at + 1];
            at += 2;
            if (smpp_cstr(raw, len, &at, d[i].addr, sizeof d[i].addr) < 0)
                return GW_EINVAL;
        } else if (flag == 2) {
            if (smpp_cstr(raw, len, &at, d[i].addr, sizeof d[i].addr) < 0)
                return GW_EINVAL;
            d[i].status = ESME_RINVDLNAME; /* no distribution lists here */
        } else {
            return GW_EINVAL;
        }
    }
    *tail_at = at;
    return at < len ? 0 : GW_EINVAL;
}

int smpp_multi_build(const uint8_t *raw, size_t len, size_t head_end, size_t tail_at,
                     const smpp_multi_dest_t *d, uint8_t *out, size_t cap)
{
    size_t alen = strlen(d->addr) + 1, tail = len - tail_at, k = head_end;

    if (head_end < 16 || tail_at > len || k + 2 + alen + tail > cap)
        return GW_EINVAL;
    memcpy(out, raw, head_end); /* header, service_type, source */
    out[k++] = d->ton;
    out[k++] = d->npi;
    memcpy(out + k, d->addr, alen);
    k += alen;
    memcpy(out + k, raw + tail_at, tail);
    k += tail;
    out[0] = (uint8_t)(k >> 24);
    out[1] = (uint8_t)(k >> 16);
    out[2] = (uint8_t)(k >> 8);
    out[3] = (uint8_t)k;
    out[4] = out[5] = out[6] = 0; /* command_id: submit_sm */
    out[7] = 4;
    return (int)k;
}

int smpp_multi_submit(smpp_session_t *s, const smpp_hdr_t *h, const uint8_t *raw,
                      const char *conn_name)
{
    size_t head_end = 0, tail_at = 0;
    uint8_t pdu[SMPP_MAX_PDU];
    smpp_multi_t *m = calloc(1, sizeof(*m));
    int rc, i, len;

    if (m == NULL)
        return GW_ENOMEM;
    rc = smpp_multi_parse(raw, h->len, m->d, &m->n, &head_end, &tail_at);
    if (rc != 0) {
        free(m);
        return rc;
    }
    m->sess_id = s->id;
    m->seq = h->seq;
    m->left = m->n;
    s->pending_in++; /* one answer for the whole PDU (smpp_multi_answer) */
    for (i = 0; i < m->n; i++) {
        if (m->d[i].status != 0) {
            smpp_multi_settle(m);
            continue;
        }
        /* the submit_sm this destination stands for */
        len = smpp_multi_build(raw, h->len, head_end, tail_at, &m->d[i], pdu, sizeof pdu);
        if (len < 0) {
            m->d[i].status = ESME_RINVCMDLEN;
            smpp_multi_settle(m);
            continue;
        }
        smpp_multi_offer(m, i, pdu, (size_t)len, s->peer, conn_name);
    }
    return 0;
}

void smpp_multi_answer(smpp_multi_t *m)
{
    smpp_session_t *s = smpp_session_find(m->sess_id);
    uint8_t buf[16 + 66 + 1 + SMPP_MULTI_MAX * (2 + SMPP_WIRE_ADDR_MAX + 4)];
    size_t k = 16;
    const char *id = "";
    int bad = 0;

    if (s == NULL) {
        GW_INFO(SMPP_MOD, "submit_multi seq %u committed but its session is gone", m->seq);
        free(m);
        return;
    }
    s->pending_in--;
    for (int i = 0; i < m->n; i++)
        if (m->d[i].status == ESME_ROK && id[0] == '\0')
            id = m->d[i].id;
    memcpy(buf + k, id, strlen(id) + 1);
    k += strlen(id) + 1;
    buf[k++] = 0; /* no_unsuccess, filled below */
    for (int i = 0; i < m->n; i++) {
        const smpp_multi_dest_t *d = &m->d[i];
        size_t alen = strlen(d->addr) + 1;
        if (d->status == ESME_ROK)
            continue;
        buf[k++] = d->ton;
        buf[k++] = d->npi;
        memcpy(buf + k, d->addr, alen);
        k += alen;
        buf[k++] = (uint8_t)(d->status >> 24);
        buf[k++] = (uint8_t)(d->status >> 16);
        buf[k++] = (uint8_t)(d->status >> 8);
        buf[k++] = (uint8_t)d->status;
        bad++;
    }
    buf[16 + strlen(id) + 1] = (uint8_t)bad;
    smpp_wire_encode_header(buf, 16, SUBMIT_MULTI_RESP, id[0] ? ESME_ROK : m->d[0].status,
                            m->seq);
    buf[0] = (uint8_t)(k >> 24);
    buf[1] = (uint8_t)(k >> 16);
    buf[2] = (uint8_t)(k >> 8);
    buf[3] = (uint8_t)k;
    smpp_session_send_pdu(s, buf, (int)k);
    free(m);
}
