/*
 * smpp_adapter.c - the SMPP 3.4 adapter: its gw_adapter_t, parameters,
 * connector entry points and the one SMPP thread (MI commands: smpp_mi.c).
 *
 * libsmpp34 keeps its error state in globals, so every session runs on
 * one thread with its own event_base (smpp_base); there libsmpp34 packs
 * the bind PDUs and smpp_wire (any thread, no state) the PDUs of every
 * message.  It runs the
 * client connectors (smpp_client.c), the customer listener and its sessions
 * (smpp_server.c).  Other threads reach it only through smpp_queue:
 *   conn_open / conn_close (main thread)  -> SMPP_W_OPEN / SMPP_W_CLOSE
 *   send (db writer, retry timer)          -> SMPP_W_SEND
 *   the commit callback (db writer)        -> SMPP_W_ACCEPTED
 *   a customer's bind checked (worker pool) -> SMPP_W_BIND
 *   smpp.sessions (MI)                     -> SMPP_W_SESSIONS
 *   accounts.update enabled=false (MI)     -> SMPP_W_UNBIND
 *   stop (main thread)                     -> SMPP_W_STOP
 * An inbound submit_sm / deliver_sm is answered only in SMPP_W_ACCEPTED,
 * after the store committed it; the answer finds its session again by id,
 * and when the session is gone the peer simply resends (at least once).
 *
 * Choice documented: a deliver_sm with no route is answered ESME_RX_R_APPN
 * (0x66, "reject"), as Kannel answers a message its bearerbox rejects, so
 * the SMSC does not retry it forever; a store failure ESME_RSYSERR (0x08)
 * so it does retry.  A submit_sm with no route gets ESME_RINVDSTADR.
 *
 * Threads: the gw_adapter_t entry points run on the caller's thread as
 * gw_adapter.h says and only queue; everything else on the SMPP thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <stdint.h>
#include <smpp34.h>
#include <smpp34_structs.h>

#include "gw_accounts.h"
#include "gw_adapter.h"
#include "gw_core.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_queue.h"
#include "gw_str.h"
#include "smpp.h"

#define SMPP_STOP_WAIT_MS 3000 /* longest wait for unbind_resp at shutdown */

struct event_base *smpp_base;
int smpp_enquire_link_s, smpp_reconnect_s, smpp_window, smpp_response_timeout_s;
int smpp_reconnect_max_s;
int smpp_server_idle_s, smpp_server_max_per_ip, smpp_server_window, smpp_deliver_window;
static char smpp_listen_addr[64];
static int smpp_port, smpp_tls_port;
static char smpp_tls_cert[256], smpp_tls_key[256];

/* smpp_lock guards smpp_queue (NULL before init and after destroy) and
 * gw_connector.priv of every smpp connector: send() runs on the store's
 * writer or the core's timer thread and may race conn_close / destroy on
 * the main thread, so it reads priv, takes its client reference and pushes
 * under this lock; once conn_close has cleared priv no send can reach the
 * client, and once destroy has cleared smpp_queue nothing reaches the
 * queue. */
static pthread_mutex_t smpp_lock = PTHREAD_MUTEX_INITIALIZER;
static gw_queue_t *smpp_queue;
static pthread_t smpp_thread;
static int smpp_thread_started;
static struct event *smpp_stop_ev;
static int64_t smpp_stop_deadline;

static const gw_param_t smpp_params[] = {
    { "smpp.listen", GW_PT_STR, smpp_listen_addr, sizeof(smpp_listen_addr), "127.0.0.1", 0, 0, 0,
      "address of our SMSC port for customers" },
    { "smpp.port", GW_PT_INT, &smpp_port, 0, "2775", 0, 65535, 0,
      "TCP port of our SMSC port (0: no listener)" },
    { "smpp.deliver_window", GW_PT_INT, &smpp_deliver_window, 0, "100", 1, 10000, 0,
      "deliver_sm (MO, delivery reports) in flight per customer receiver / transceiver session" },
    { "smpp.bind_backoff_max_s", GW_PT_INT, &smpp_bind_backoff_max_s, 0, "300", 1, 86400,
      GW_PARAM_RUNTIME, "longest wait imposed on a peer address or system_id after repeated "
      "failed binds (the first 3 are free, then 1 s doubling per failure)" },
    { "smpp.tls_port", GW_PT_INT, &smpp_tls_port, 0, "0", 0, 65535, 0,
      "TCP port of the TLS twin of our SMSC port on smpp.listen (0: none)" },
    { "smpp.tls_cert", GW_PT_STR, smpp_tls_cert, sizeof(smpp_tls_cert), "", 0, 0, 0,
      "certificate chain (PEM) of the TLS port" },
    { "smpp.tls_key", GW_PT_STR, smpp_tls_key, sizeof(smpp_tls_key), "", 0, 0, 0,
      "private key (PEM) of the TLS port" },
    { "smpp.enquire_link_s", GW_PT_INT, &smpp_enquire_link_s, 0, "30", 1, 3600, 0,
      "seconds of silence before a client connector sends enquire_link" },
    { "smpp.reconnect_s", GW_PT_INT, &smpp_reconnect_s, 0, "5", 0, 3600, 0,
      "seconds before a client bind that was lost or refused tries again; it doubles per "
      "further failure up to smpp.reconnect_max_s (+-20% jitter) and starts over once bound" },
    { "smpp.reconnect_max_s", GW_PT_INT, &smpp_reconnect_max_s, 0, "60", 0, 86400, 0,
      "longest wait between attempts of a client bind (smpp.reconnect_s doubled)" },
    { "smpp.window", GW_PT_INT, &smpp_window, 0, "10", 1, 1000, 0,
      "default number of submit_sm in flight per bind of a client connector" },
    { "smpp.response_timeout_s", GW_PT_INT, &smpp_response_timeout_s, 0, "10", 1, 600, 0,
      "seconds to wait for a response before the session is dropped; also how long a customer "
      "connection may stay unbound" },
    { "smpp.server_idle_s", GW_PT_INT, &smpp_server_idle_s, 0, "120", 0, 86400, 0,
      "seconds without a PDU (enquire_link counts) from a bound customer before junction "
      "unbinds and closes its session (0: never)" },
    { "smpp.server_max_per_ip", GW_PT_INT, &smpp_server_max_per_ip, 0, "16", 1, 1024, 0,
      "customer connections at once from one peer address; a connection past it is closed "
      "before any PDU (stat smpp.server_refused_per_ip)" },
    { "smpp.server_window", GW_PT_INT, &smpp_server_window, 0, "100", 1, 10000, 0,
      "submit_sm of one customer session awaiting their submit_sm_resp; one past it is "
      "answered ESME_RMSGQFUL (0x14) and not stored (stat smpp.server_window_full)" },
    GW_PARAM_END,
};

/* --- work items ------------------------------------------------------------ */

void smpp_work_free(void *item)
{
    smpp_work_t *w = item;

    if (w == NULL)
        return;
    smpp_query_unref(w->query);
    gw_dlv_free(w->dlv);
    smpp_client_unref(w->cl);
    smpp_dest_unref(w->dest);
    free(w->multi);
    free(w);
}

/* Call with smpp_lock held. */
static int smpp_work_push_locked(smpp_work_t *w)
{
    return smpp_queue ? gw_queue_push(smpp_queue, w) : GW_ESTOPPED;
}

int smpp_work_push(smpp_work_t *w)
{
    int rc;

    pthread_mutex_lock(&smpp_lock);
    rc = smpp_work_push_locked(w);
    pthread_mutex_unlock(&smpp_lock);
    return rc;
}

void smpp_accept_cb(gw_envelope_t *env, int rc, void *arg)
{
    smpp_work_t *w = arg;

    w->rc = rc;
    memcpy(w->msgid, env->id, sizeof(w->msgid));
    if (smpp_work_push(w) < 0) {
        GW_ERR(SMPP_MOD, "%s: cannot queue the answer; the peer will resend", env->id);
        smpp_work_free(w);
    }
}

void smpp_accept(smpp_session_t *s, gw_envelope_t *env, uint32_t seq, uint32_t resp_cmd)
{
    smpp_work_t *w = calloc(1, sizeof(*w));
    int rc;

    if (w == NULL) {
        smpp_session_respond(s, resp_cmd, ESME_RSYSERR, seq, NULL);
        return;
    }
    w->kind = SMPP_W_ACCEPTED;
    w->sess_id = s->id;
    w->seq = seq;
    w->resp_cmd = resp_cmd;
    rc = gw_core_accept(env, smpp_accept_cb, w);
    if (rc == 0) {
        s->pending_in++; /* answered in smpp_accepted_answer */
        return;
    }
    free(w);
    GW_INFO(SMPP_MOD, "%s: %s from %s to %s not accepted: %s", s->peer, env->id,
            env->from.address, env->to.address, gw_strerror(rc));
    if (rc == GW_EREJECTED) /* a rule's refusal, with the rule's status */
        smpp_session_respond(s, resp_cmd, (uint32_t)gw_core_refusal()->smpp_status, seq, NULL);
    else if (rc == GW_ENOROUTE)
        smpp_session_respond(s, resp_cmd,
                             resp_cmd == DELIVER_SM_RESP ? ESME_RX_R_APPN : ESME_RINVDSTADR, seq,
                             NULL);
    else if (rc == GW_EFULL) /* admission control: the peer slows down and resends */
        smpp_session_respond(s, resp_cmd,
                             resp_cmd == DELIVER_SM_RESP ? ESME_RX_T_APPN : ESME_RTHROTTLED, seq,
                             NULL);
    else
        smpp_session_respond(s, resp_cmd, ESME_RSYSERR, seq, NULL);
}

void smpp_accepted_answer(smpp_work_t *w)
{
    smpp_session_t *s = smpp_session_find(w->sess_id);
    const char *msgid = NULL;

    if (s == NULL) {
        GW_INFO(SMPP_MOD, "%s: committed but its session is gone; the peer will resend",
                w->msgid);
        return;
    }
    s->pending_in--;
    /* a submit_sm_resp carries the envelope id, and no body on an error;
     * a deliver_sm_resp an empty message_id either way */
    if (w->resp_cmd == DELIVER_SM_RESP)
        msgid = "";
    else if (w->rc == 0)
        msgid = w->msgid;
    smpp_session_respond_id(s, w->resp_cmd, w->rc == 0 ? ESME_ROK : ESME_RSYSERR, w->seq, msgid);
}

/* --- the SMPP thread ------------------------------------------------------ */

/* Shutdown: leave the loop once every client unbound or the time is up. */
static void smpp_stop_check_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if ((!smpp_clients_closing() && !smpp_server_busy()) || gw_now_ms() >= smpp_stop_deadline)
        event_base_loopexit(smpp_base, NULL);
}

static void smpp_work_cb(void *item, void *arg)
{
    smpp_work_t *w = item;
    struct timeval tick = { 0, 50 * 1000 };

    (void)arg;
    switch (w->kind) {
    case SMPP_W_OPEN:
        if (w->dest != NULL)
            smpp_dest_open(smpp_dest_ref(w->dest));
        else
            smpp_client_open(smpp_client_ref(w->cl));
        break;
    case SMPP_W_CLOSE:
        if (w->dest != NULL)
            smpp_dest_close(w->dest);
        else
            smpp_client_close(w->cl);
        break;
    case SMPP_W_SEND:
        if (w->dest != NULL)
            smpp_dest_send(w->dest, w->dlv);
        else
            smpp_client_send(w->cl, w->dlv);
        w->dlv = NULL; /* the connector took it */
        break;
    case SMPP_W_ACCEPTED:
        smpp_accepted_answer(w);
        break;
    case SMPP_W_BIND:
        smpp_server_bind_answer(w);
        break;
    case SMPP_W_QUERY:
        smpp_server_query_answer(w);
        break;
    case SMPP_W_CANCEL:
        smpp_cancel_answer(w);
        break;
    case SMPP_W_MULTI:
        smpp_multi_answer(w->multi);
        w->multi = NULL;
        break;
    case SMPP_W_SESSIONS:
        smpp_query_answer(w->query, smpp_server_sessions());
        break;
    case SMPP_W_UNBIND:
        smpp_server_unbind_account(w->system_id);
        break;
    case SMPP_W_HOLD:
        smpp_client_hold(w->cl, w->rc);
        break;
    case SMPP_W_STOP:
        /* answers queued before STOP are in the sessions' output already;
         * the sessions flush them, unbind, then close */
        smpp_server_quiesce();
        smpp_dests_close_all();
        smpp_clients_close_all();
        smpp_stop_deadline = gw_now_ms() + SMPP_STOP_WAIT_MS;
        smpp_stop_ev = event_new(smpp_base, -1, EV_PERSIST, smpp_stop_check_cb, NULL);
        if (smpp_stop_ev == NULL)
            event_base_loopexit(smpp_base, NULL);
        else
            event_add(smpp_stop_ev, &tick);
        break;
    }
    smpp_work_free(w);
}

static void *smpp_thread_main(void *arg)
{
    (void)arg;
    event_base_loop(smpp_base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* --- gw_adapter_t entry points ------------------------------------------- */

static int smpp_init(struct event_base *main_base)
{
    int rc;

    (void)main_base;
    smpp_base = gw_queue_base_new();
    if (smpp_base == NULL)
        return GW_ENOMEM;
    smpp_queue = gw_queue_new(0, smpp_work_free);
    if (smpp_queue == NULL) {
        rc = GW_ENOMEM;
        goto out_free_base;
    }
    rc = gw_queue_attach(smpp_queue, smpp_base, smpp_work_cb, NULL);
    if (rc < 0)
        goto out_free_queue;
    if (smpp_port > 0 && (rc = smpp_server_listen(smpp_listen_addr, smpp_port)) < 0)
        goto out_free_queue;
    if (smpp_tls_port > 0 && (smpp_tls_cert[0] == '\0' || smpp_tls_key[0] == '\0')) {
        GW_ERR(SMPP_MOD, "smpp.tls_port %d needs smpp.tls_cert and smpp.tls_key", smpp_tls_port);
        rc = GW_EINVAL;
        goto out_free_queue;
    }
    if (smpp_tls_port > 0 && (rc = smpp_server_listen_tls(smpp_listen_addr, smpp_tls_port,
                                                          smpp_tls_cert, smpp_tls_key)) < 0)
        goto out_free_queue;
    return 0;

out_free_queue:
    gw_queue_free(smpp_queue);
    smpp_queue = NULL;
out_free_base:
    event_base_free(smpp_base);
    smpp_base = NULL;
    return rc;
}

static int smpp_start(void)
{
    if (pthread_create(&smpp_thread, NULL, smpp_thread_main, NULL) != 0) {
        GW_ERR(SMPP_MOD, "cannot start the SMPP thread");
        return GW_ERROR;
    }
    pthread_setname_np(smpp_thread, "smpp");
    smpp_thread_started = 1;
    return 0;
}

static void smpp_stop(void)
{
    smpp_work_t *w;

    if (!smpp_thread_started)
        return;
    w = calloc(1, sizeof(*w));
    if (w)
        w->kind = SMPP_W_STOP;
    if (w == NULL || smpp_work_push(w) < 0) {
        free(w);
        event_base_loopexit(smpp_base, NULL);
    }
    pthread_join(smpp_thread, NULL);
    smpp_thread_started = 0;
}

/* Free everything; the SMPP thread has ended (or never ran).  Clients
 * whose unbind was not answered in time and customer sessions still open
 * are dropped here.  Main thread. */
static void smpp_destroy(void)
{
    gw_queue_t *q;

    smpp_server_stop();
    smpp_clients_free_all();
    smpp_sessions_free_all();
    if (smpp_stop_ev)
        event_free(smpp_stop_ev);
    smpp_stop_ev = NULL;
    pthread_mutex_lock(&smpp_lock);
    q = smpp_queue;
    smpp_queue = NULL;
    pthread_mutex_unlock(&smpp_lock);
    gw_queue_free(q);
    if (smpp_base)
        event_base_free(smpp_base);
    smpp_base = NULL;
}

static int smpp_conn_check(const json_t *conf, char *err, size_t errlen)
{
    if (json_object_get(conf, "account") != NULL)
        return smpp_dest_check(conf, err, errlen);
    return smpp_client_check(conf, err, errlen);
}

/* A work item of kind for c's state p (a client or an account's target),
 * holding a reference of its own; NULL when out of memory. */
static smpp_work_t *smpp_conn_work(smpp_work_kind_t kind, void *p)
{
    smpp_work_t *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->kind = kind;
    if (smpp_priv_role(p) == SMPP_ROLE_DEST)
        w->dest = smpp_dest_ref(p);
    else
        w->cl = smpp_client_ref(p);
    return w;
}

static void smpp_priv_unref(void *p)
{
    if (p != NULL && smpp_priv_role(p) == SMPP_ROLE_DEST)
        smpp_dest_unref(p);
    else
        smpp_client_unref(p);
}

/* An account's connector (conf {"account": id}: gw_connectors.c makes
 * them) delivers to its binds; any other is a client of an SMSC. */
static int smpp_conn_open(gw_connector_t *c)
{
    void *p = json_object_get(c->conf, "account") != NULL ? (void *)smpp_dest_new(c)
                                                          : (void *)smpp_client_new(c);
    smpp_work_t *w = p ? smpp_conn_work(SMPP_W_OPEN, p) : NULL;

    if (w == NULL) {
        smpp_priv_unref(p);
        return GW_ENOMEM;
    }
    if (smpp_work_push(w) < 0) {
        smpp_work_free(w);
        smpp_priv_unref(p);
        return GW_ERROR;
    }
    /* the reference new() gave; conn_close hands it to SMPP_W_CLOSE */
    pthread_mutex_lock(&smpp_lock);
    c->priv = p;
    pthread_mutex_unlock(&smpp_lock);
    return 0;
}

static void smpp_conn_close(gw_connector_t *c)
{
    void *p;
    smpp_work_t *w;

    pthread_mutex_lock(&smpp_lock);
    p = c->priv;
    c->priv = NULL;
    pthread_mutex_unlock(&smpp_lock);
    if (p == NULL)
        return;
    w = smpp_conn_work(SMPP_W_CLOSE, p);
    smpp_priv_unref(p); /* the work item holds one now: the reference c->priv held goes */
    if (w == NULL) {
        GW_ERR(SMPP_MOD, "connector %s: out of memory closing it", c->name);
        return;
    }
    if (smpp_work_push(w) < 0)
        smpp_work_free(w);
}

/* Queue d for the client or account of c.  Any thread.  0 with d taken
 * over, or GW_ENOTFOUND (closed), GW_ESTOPPED, GW_ENOMEM; a failed call
 * leaves d the caller's. */
static int smpp_send(gw_connector_t *c, gw_delivery_t *d)
{
    smpp_work_t *w = NULL;
    int rc = GW_ENOTFOUND;

    /* load priv and take the reference under the lock: conn_close may hand
     * the last reference to the SMPP thread right after it cleared priv */
    pthread_mutex_lock(&smpp_lock);
    if (c->priv != NULL) {
        w = smpp_conn_work(SMPP_W_SEND, c->priv);
        rc = GW_ENOMEM;
        if (w != NULL) {
            w->dlv = d;
            rc = smpp_work_push_locked(w);
        }
    }
    pthread_mutex_unlock(&smpp_lock);
    if (rc < 0 && w != NULL) {
        w->dlv = NULL;     /* stays the caller's */
        smpp_work_free(w); /* drops only the reference taken here */
    }
    return rc;
}

int smpp_conn_hold(const char *name, int hold)
{
    gw_connector_t *c = gw_connector_get(name);
    smpp_work_t *w = NULL;
    int rc = GW_ENOTFOUND;

    if (c != NULL && strcmp(c->adapter->name, "smpp") == 0) {
        pthread_mutex_lock(&smpp_lock);
        rc = GW_EINVAL;
        if (c->priv != NULL && smpp_priv_role(c->priv) == SMPP_ROLE_CLIENT) {
            w = smpp_conn_work(SMPP_W_HOLD, c->priv);
            rc = GW_ENOMEM;
            if (w != NULL) {
                w->rc = hold;
                rc = smpp_work_push_locked(w);
            }
        }
        pthread_mutex_unlock(&smpp_lock);
        if (rc < 0 && w != NULL)
            smpp_work_free(w);
    }
    gw_connector_put(c);
    return rc;
}

/* See gw_adapter.h: a client's window while bound, an account's windows
 * of its bound receiving sessions.  Any thread. */
static int smpp_conn_room(gw_connector_t *c)
{
    int room = 0;

    pthread_mutex_lock(&smpp_lock);
    if (c->priv != NULL)
        room = smpp_priv_role(c->priv) == SMPP_ROLE_DEST ? smpp_dest_room(c->priv)
                                                         : smpp_client_room(c->priv);
    pthread_mutex_unlock(&smpp_lock);
    return room;
}

/* Main thread or MI, like conn_close: priv cannot be freed meanwhile. */
static json_t *smpp_conn_status(gw_connector_t *c)
{
    void *p;

    pthread_mutex_lock(&smpp_lock);
    p = c->priv;
    pthread_mutex_unlock(&smpp_lock);
    if (p == NULL)
        return json_pack("{s:s}", "state", "closed");
    return smpp_priv_role(p) == SMPP_ROLE_DEST ? smpp_dest_status(p) : smpp_client_status(p);
}

/* See gw_adapter.h: under smpp_lock, like conn_room, so priv stays. */
static void smpp_conn_metrics(gw_connector_t *c, gw_metrics_t *m)
{
    pthread_mutex_lock(&smpp_lock);
    if (c->priv != NULL) {
        if (smpp_priv_role(c->priv) == SMPP_ROLE_DEST)
            smpp_dest_metrics(c->priv, m);
        else
            smpp_client_metrics(c->priv, m);
    }
    pthread_mutex_unlock(&smpp_lock);
}

const gw_adapter_t smpp_adapter = {
    .name = "smpp",
    .params = smpp_params,
    .mi_cmds = smpp_mi_cmds,
    .init = smpp_init,
    .start = smpp_start,
    .stop = smpp_stop,
    .destroy = smpp_destroy,
    .conn_check = smpp_conn_check,
    .conn_open = smpp_conn_open,
    .conn_close = smpp_conn_close,
    .send = smpp_send,
    .conn_room = smpp_conn_room,
    .conn_status = smpp_conn_status,
    .conn_metrics = smpp_conn_metrics,
};
