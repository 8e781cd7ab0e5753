/*
 * smpp_dest.c - delivery to customers: the connector "account:<id>" of an
 * SMPP account (gateway/gw_connectors.c makes one per account, conf
 * {"account": id}) sends its messages - MO routed to the account, delivery
 * reports on the account's own submits - as deliver_sm on the account's
 * bound receiver and transceiver sessions.
 *
 * Windows: smpp.deliver_window messages on the wire (deliver_sm sent, not
 * yet answered) per bound receiving session, which is also the room this
 * connector gives the core.  A message stays outstanding against its
 * queue until its outcome is queued for the store, and the next one goes
 * on the wire once its "sending" mark committed, a commit after the
 * customer answered; with core.room_windows 2 the core gives twice the
 * window so that the wire does not idle while those commits run, and what
 * the wire window has no place for waits here, in order (wait), and goes
 * out as answers free places.  So the core keeps everything else queued
 * while the customer is away (with its validity) and feeds the queue
 * again when a session binds (smpp_dest_binds_changed -> gw_core_credit);
 * when the last session goes, what waits here goes back to the core.  A message goes to the
 * session with the fewest requests in flight, all its parts on that one
 * session.  Its outcome, once every part is answered:
 *   - every part ESME_ROK: delivered (the customer's application has it);
 *   - ESME_RX_P_APPN (0x65) or ESME_RX_R_APPN (0x66): failed, for good;
 *   - any other status (ESME_RTHROTTLED, ESME_RX_T_APPN, ...): retried
 *     with the core's backoff;
 *   - the session closed first (unbind, link lost, response timeout):
 *     requeued, no attempt counted (on shutdown: left "sending" in the
 *     store, which the next start sends again as a possible duplicate).
 *
 * Threads: the SMPP thread, except smpp_dest_new / ref / unref / room /
 * status / check (atomics and immutable fields).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <smpp34.h>

#include "gw_adapter.h"
#include "gw_core.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_str.h"
#include "smpp.h"

struct smpp_dest {
    int role;              /* SMPP_ROLE_DEST: first, like smpp_client's */
    smpp_dest_t *next;     /* smpp_dests, SMPP thread */
    int refs;              /* atomic */
    char name[64], system_id[16]; /* immutable */
    int nrx;               /* atomic: bound receiving sessions */
    int inflight;          /* atomic: messages taken from the core, not yet settled */
    int onwire;            /* SMPP thread: messages with parts sent, unanswered */
    struct smpp_dl *wait_head, *wait_tail; /* SMPP thread: for a place on the wire */
    int pumping;           /* SMPP thread: smpp_dest_pump runs */
};

/* One message on its way to a customer session. */
typedef struct smpp_dl {
    gw_delivery_t *d;      /* ours until the outcome */
    smpp_out_t out;
    smpp_dest_t *dest;     /* a reference */
    size_t acked;
    int outstanding;       /* parts in flight */
    uint32_t status;       /* the first error answered, 0 */
    int lost;              /* the session ended with parts unanswered */
    int onwire;            /* counted in dest->onwire */
    struct smpp_dl *next;  /* in dest's wait list */
} smpp_dl_t;

static smpp_dest_t *smpp_dests;
int smpp_dest_stopping;

int smpp_dest_check(const json_t *conf, char *err, size_t errlen)
{
    (void)conf;
    snprintf(err, errlen, "account: set by junction on the connector of each account "
                          "(account:<system_id>); not for connectors.add");
    return GW_EINVAL;
}

smpp_dest_t *smpp_dest_new(gw_connector_t *c)
{
    const char *id = json_string_value(json_object_get(c->conf, "account"));
    smpp_dest_t *t;

    if (id == NULL || strlen(id) >= sizeof t->system_id || (t = calloc(1, sizeof *t)) == NULL)
        return NULL;
    t->role = SMPP_ROLE_DEST;
    t->refs = 1;
    gw_strlcpy(t->name, c->name, sizeof t->name);
    gw_strlcpy(t->system_id, id, sizeof t->system_id);
    return t;
}

smpp_dest_t *smpp_dest_ref(smpp_dest_t *t)
{
    __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
    return t;
}

void smpp_dest_unref(smpp_dest_t *t)
{
    if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(t);
}

/* Messages the wire takes now: a window per bound receiving session. */
static int smpp_dest_wire_max(smpp_dest_t *t)
{
    return __atomic_load_n(&t->nrx, __ATOMIC_RELAXED) * smpp_deliver_window;
}

int smpp_dest_room(smpp_dest_t *t)
{
    return smpp_dest_wire_max(t);
}

static void smpp_dest_pump(smpp_dest_t *t);
static void smpp_dl_go(smpp_dest_t *t, smpp_dl_t *dl);

json_t *smpp_dest_status(smpp_dest_t *t)
{
    int nrx = __atomic_load_n(&t->nrx, __ATOMIC_RELAXED);

    return json_pack("{s:s, s:s, s:i, s:i, s:i}", "state", nrx > 0 ? "bound" : "unbound",
                     "system_id", t->system_id, "binds", nrx, "window", smpp_deliver_window,
                     "inflight",
                     __atomic_load_n(&t->inflight, __ATOMIC_RELAXED));
}

void smpp_dest_metrics(smpp_dest_t *t, gw_metrics_t *m)
{
    const char *lab[] = { "connector", t->name, NULL };

    gw_metrics_value(m, "smpp.account_binds", GW_STAT_GAUGE,
                     "receiving binds of the SMPP customer (account) now", lab,
                     __atomic_load_n(&t->nrx, __ATOMIC_RELAXED));
    gw_metrics_value(m, "smpp.account_in_flight", GW_STAT_GAUGE,
                     "deliver_sm to the customer awaiting their deliver_sm_resp", lab,
                     __atomic_load_n(&t->inflight, __ATOMIC_RELAXED));
}

void smpp_dest_binds_changed(const char *system_id)
{
    for (smpp_dest_t *t = smpp_dests; t != NULL; t = t->next) {
        if (strcmp(t->system_id, system_id) != 0)
            continue;
        int n = smpp_server_receivers(system_id);
        int was = __atomic_exchange_n(&t->nrx, n, __ATOMIC_RELAXED);
        /* the customer's connector is up while one receiving bind is:
         * ops.connector_state on each crossing (docs/events.md) */
        if (was == 0 && n > 0)
            gw_event_connector(t->name, "up", -1, NULL);
        else if (was > 0 && n == 0)
            gw_event_connector(t->name, "down", -1, "no receiving bind");
        smpp_dest_pump(t); /* more places, or none left: what waits moves */
        if (n > was)
            gw_core_credit(t->name); /* room again: the queue feeds it */
    }
}

void smpp_dest_open(smpp_dest_t *t)
{
    t->next = smpp_dests;
    smpp_dests = t;
    smpp_dest_binds_changed(t->system_id);
}

void smpp_dest_close(smpp_dest_t *t)
{
    smpp_dest_t **pp;

    for (pp = &smpp_dests; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    __atomic_store_n(&t->nrx, 0, __ATOMIC_RELAXED);
    smpp_dest_pump(t); /* what waits goes back to the core */
    smpp_dest_unref(t); /* the reference the open list held; messages in flight keep theirs */
}

void smpp_dests_close_all(void)
{
    while (smpp_dests != NULL)
        smpp_dest_close(smpp_dests);
}

static void smpp_dl_free(smpp_dl_t *dl)
{
    gw_dlv_free(dl->d);
    smpp_out_free(&dl->out);
    smpp_dest_unref(dl->dest);
    free(dl);
}

/* Every part is answered or lost: the outcome goes to the core. */
static void smpp_dl_finish(smpp_dl_t *dl)
{
    gw_delivery_t *d = dl->d;
    char text[64];

    dl->d = NULL; /* each outcome hands d back */
    __atomic_sub_fetch(&dl->dest->inflight, 1, __ATOMIC_RELAXED);
    if (dl->onwire) {
        dl->onwire = 0;
        dl->dest->onwire--;
    }
    if (dl->lost && smpp_dest_stopping) {
        gw_dlv_free(d); /* stays "sending" in the store: the next start resends it */
    } else if (dl->lost) {
        gw_core_requeue(d);
    } else if (dl->status == ESME_ROK) {
        gw_core_delivered(d);
    } else {
        snprintf(text, sizeof text, "customer answered deliver_sm with 0x%x", dl->status);
        GW_INFO(SMPP_MOD, "connector %s: %s: %s", dl->dest->name, d->env->id, text);
        /* ESME_RX_P_APPN / ESME_RX_R_APPN: the customer refuses it for good */
        if (dl->status == 0x65 || dl->status == 0x66)
            gw_core_failed(d, (int)dl->status, text);
        else
            gw_core_retry(d, (int)dl->status, text);
    }
    smpp_dest_t *t = smpp_dest_ref(dl->dest);
    smpp_dl_free(dl);
    smpp_dest_pump(t); /* a place on the wire may be free */
    smpp_dest_unref(t);
}

/* Pick a session and send every part of dl there.  0, or GW_EAGAIN when
 * no receiving session is bound (nothing sent). */
static int smpp_dl_send(smpp_dest_t *t, smpp_dl_t *dl)
{
    smpp_session_t *s = smpp_server_pick(t->system_id);
    smpp_out_bufs_t b;
    smpp_sm_fields_t f;
    size_t i;

    if (s == NULL)
        return GW_EAGAIN;
    for (i = 0; i < dl->out.nparts; i++) {
        int rc = smpp_out_part(&dl->out, i, dl->d->env, NULL, &b, &f);
        if (rc == 0)
            rc = smpp_session_request_sm(s, DELIVER_SM, &f, dl, (int)i);
        if (rc != 0) {
            /* an address that cannot be expressed, before anything went
             * out, fails for good; anything else ends like a lost session
             * (requeued once its parts in flight are answered) */
            if (rc == GW_EINVAL && i == 0)
                dl->status = 0x65; /* ESME_RX_P_APPN */
            else
                dl->lost = 1;
            return 0;
        }
        dl->outstanding++;
    }
    return 0;
}

void smpp_dest_send(smpp_dest_t *t, gw_delivery_t *d)
{
    smpp_dl_t *dl = calloc(1, sizeof *dl);
    int rc;

    if (dl == NULL) {
        gw_core_retry(d, ESME_RSYSERR, "out of memory");
        return;
    }
    dl->d = d;
    dl->dest = smpp_dest_ref(t);
    __atomic_add_fetch(&t->inflight, 1, __ATOMIC_RELAXED);
    rc = smpp_out_prepare(&dl->out, d->env, SMPP_LONG_UDH);
    if (rc != 0) {
        GW_WARN(SMPP_MOD, "connector %s: %s: message cannot be encoded in %d parts", t->name,
                d->env->id, SMPP_MAX_PARTS);
        dl->status = rc == GW_ENOMEM ? ESME_RSYSERR : 0x65;
        smpp_dl_finish(dl);
        return;
    }
    if (t->wait_head != NULL || t->onwire >= smpp_dest_wire_max(t)) {
        if (t->wait_tail != NULL) /* behind the others, in order */
            t->wait_tail->next = dl;
        else
            t->wait_head = dl;
        t->wait_tail = dl;
        smpp_dest_pump(t); /* the last session may be gone: then it goes back */
        return;
    }
    smpp_dl_go(t, dl);
}

/* Put dl on the wire; its outcome now when nothing of it went out. */
static void smpp_dl_go(smpp_dest_t *t, smpp_dl_t *dl)
{
    if (smpp_dl_send(t, dl) == GW_EAGAIN)
        dl->lost = 1; /* unbound since the core looked: back to the queue */
    if (dl->outstanding == 0) {
        smpp_dl_finish(dl);
        return;
    }
    dl->onwire = 1;
    t->onwire++;
}

/* The waiting messages onto the wire while it has places; with no
 * session bound, every one back to the core (requeued).  SMPP thread. */
static void smpp_dest_pump(smpp_dest_t *t)
{
    int none = __atomic_load_n(&t->nrx, __ATOMIC_RELAXED) == 0;

    if (t->pumping)
        return; /* a finish inside the loop below: the loop goes on */
    t->pumping = 1;
    while (t->wait_head != NULL && (none || t->onwire < smpp_dest_wire_max(t))) {
        smpp_dl_t *dl = t->wait_head;
        t->wait_head = dl->next;
        if (t->wait_head == NULL)
            t->wait_tail = NULL;
        dl->next = NULL;
        if (none) {
            dl->lost = 1;
            smpp_dl_finish(dl);
        } else {
            smpp_dl_go(t, dl);
        }
        none = __atomic_load_n(&t->nrx, __ATOMIC_RELAXED) == 0;
    }
    t->pumping = 0;
}

void smpp_dest_resp(const smpp_hdr_t *h, void *ctx)
{
    smpp_dl_t *dl = ctx;
    uint32_t status = h->cmd_id == DELIVER_SM_RESP ? h->status : ESME_RSYSERR;

    dl->outstanding--;
    if (status == ESME_ROK)
        dl->acked++;
    else if (dl->status == ESME_ROK)
        dl->status = status;
    if (dl->outstanding == 0)
        smpp_dl_finish(dl);
}

void smpp_dest_lost(void *ctx)
{
    smpp_dl_t *dl = ctx;

    dl->outstanding--;
    dl->lost = 1;
    if (dl->outstanding == 0)
        smpp_dl_finish(dl);
}
