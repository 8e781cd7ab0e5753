/*
 * smpp_client.c - client connectors: Junction as the ESME of an operator
 * SMSC (one bind per connector of type "smpp": transceiver by default,
 * transmitter or receiver by conf "bind"; a receiver is fed nothing and
 * takes MO and receipts only).
 *
 * States: down -> connecting -> binding -> bound, back to down on any error
 * (logged once per outage, with the peer) and a new attempt after
 * smpp.reconnect_s.  conn_close unbinds (bounded by the response timer)
 * and frees.
 *
 * Sending: send() queues an smpp_sub_t per envelope in one ordered list.
 * The cursor points at the first one with parts still to send; pump()
 * sends parts while the bind is up and fewer than `window` submit_sm are
 * in flight.  A sub leaves the list when its outcome is known (all parts
 * acknowledged -> gw_core_submitted; a throttling, queue-full or system
 * error -> gw_core_retry; another error -> gw_core_failed) and is freed
 * when no part is in flight any more.  When the session drops, every
 * unanswered sub is reset and the cursor goes back to the head, so they
 * are sent again, in order, after the rebind (at least once).
 *
 * PDUs: submit_sm out and deliver_sm in go through smpp_wire (the
 * deliver_sm's fields point into the PDU while it is handled); only
 * the bind is packed by libsmpp34.
 *
 * Inbound deliver_sm: a delivery receipt (esm_class 0x04) is matched to
 * its message by the core (connector, remote id) and emitted as a "receipt" event; any other deliver_sm is
 * a mobile-originated message that becomes an envelope and is answered only
 * after it is committed (smpp_accept in smpp_adapter.c).
 *
 * Threads: the SMPP thread, except smpp_client_new / ref / unref / status /
 * check, which any thread may call (they touch atomics and immutable conf).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <stdint.h>
#include <smpp34.h>
#include <smpp34_structs.h>

#include "gw_adapter.h"
#include "gw_core.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_frag.h"
#include "gw_log.h"
#include "gw_str.h"
#include "smpp.h"

typedef enum {
    SMPP_CL_DOWN = 0,
    SMPP_CL_CONNECTING,
    SMPP_CL_BINDING,
    SMPP_CL_BOUND,
    SMPP_CL_UNBINDING,
    SMPP_CL_CLOSED,
    SMPP_CL_HELD,    /* unbound by smpp.unbind: stays down until smpp.bind */
} smpp_cl_state_t;

static const char *const smpp_cl_state_names[] = {
    "down", "connecting", "binding", "bound", "unbinding", "closed", "held",
};

typedef struct smpp_sub {
    struct smpp_sub *prev, *next;
    gw_delivery_t *d;      /* ours; NULL once handed back to the core */
    smpp_out_t out;        /* the parts (smpp_out.c) */
    size_t sent, acked;
    int outstanding;       /* parts in flight */
    int linked;            /* still in the client's list */
    char ids[SMPP_MAX_PARTS][66]; /* the SMSC's id of each part, as receipts match it */
} smpp_sub_t;

struct smpp_client {
    int role;              /* SMPP_ROLE_CLIENT: first, like smpp_dest's */
    smpp_client_t *next;   /* smpp_clients list, SMPP thread */
    int refs;              /* atomic */
    /* immutable after new() */
    char name[64], host[256], system_id[16], password[9], system_type[13], source[21];
    int port, window;
    int long_mode;         /* smpp_long_t: conf "long" */
    int dc0;               /* smpp_dc0_t: conf "dc0" */
    uint32_t bind_cmd;     /* conf "bind": BIND_TRANSCEIVER (default), _TRANSMITTER, _RECEIVER */
    char address_range[41];/* conf "address_range" */
    int tls, tls_verify;   /* conf "tls", "tls_verify" (default true) */
    char tls_ca[256], tls_name[256]; /* conf "tls_ca", "tls_server_name" (default: host) */
    void *tls_ctx;         /* SMPP thread: SSL_CTX, made at the first connect */
    smpp_status_table_t status; /* conf "status" */
    int64_t pause_until;   /* SMPP thread: a pause status holds the bind until then */
    struct event *pause_ev;
    /* atomics, read by conn_status on other threads */
    int state, npending, ninflight;
    /* SMPP thread */
    smpp_session_t *sess;
    smpp_sub_t *head, *tail, *cursor;
    struct event *retry_ev;
    int closing, stopping, down_logged;
    int held;              /* SMPP thread: smpp.unbind holds it down until smpp.bind */
};

static smpp_client_t *smpp_clients;

static void smpp_client_connect(smpp_client_t *cl);
static void smpp_client_pump(smpp_client_t *cl);
static void smpp_client_finalize(smpp_client_t *cl);
static void smpp_client_drop(smpp_client_t *cl, const char *why);

static void smpp_cl_set(smpp_client_t *cl, smpp_cl_state_t st)
{
    __atomic_store_n(&cl->state, (int)st, __ATOMIC_RELAXED);
}

static int smpp_cl_get(smpp_client_t *cl)
{
    return __atomic_load_n(&cl->state, __ATOMIC_RELAXED);
}

/* Copy a string member of conf into out; GW_EINVAL when absent (and
 * required) or too long. */
static int smpp_conf_str(const json_t *conf, const char *key, int required, char *out,
                         size_t outlen, char *err, size_t errlen)
{
    const json_t *v = json_object_get(conf, key);

    if (v == NULL && !required) {
        if (out)
            out[0] = 0;
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= outlen) {
        snprintf(err, errlen, "%s: a string of at most %zu characters is required", key,
                 outlen - 1);
        return GW_EINVAL;
    }
    if (out)
        snprintf(out, outlen, "%s", json_string_value(v));
    return 0;
}

/* The bind command of conf "bind" (NULL: transceiver), 0 when unknown. */
static uint32_t smpp_bind_cmd(const char *s)
{
    if (s == NULL || strcmp(s, "transceiver") == 0)
        return BIND_TRANSCEIVER;
    if (strcmp(s, "transmitter") == 0)
        return BIND_TRANSMITTER;
    if (strcmp(s, "receiver") == 0)
        return BIND_RECEIVER;
    return 0;
}

int smpp_client_check(const json_t *conf, char *err, size_t errlen)
{
    char host[256];
    const json_t *port = json_object_get(conf, "port");
    const json_t *win = json_object_get(conf, "window");
    const json_t *tput = json_object_get(conf, "throughput");

    if (!json_is_object(conf)) {
        snprintf(err, errlen, "conf must be an object");
        return GW_EINVAL;
    }
    if (smpp_conf_str(conf, "host", 1, host, sizeof(host), err, errlen) < 0 ||
        smpp_conf_str(conf, "system_id", 1, NULL, 16, err, errlen) < 0 ||
        smpp_conf_str(conf, "password", 1, NULL, 9, err, errlen) < 0 ||
        smpp_conf_str(conf, "system_type", 0, NULL, 13, err, errlen) < 0 ||
        smpp_conf_str(conf, "source_addr", 0, NULL, 21, err, errlen) < 0)
        return GW_EINVAL;
    if (!json_is_integer(port) || json_integer_value(port) < 1 ||
        json_integer_value(port) > 65535) {
        snprintf(err, errlen, "port: an integer 1-65535 is required");
        return GW_EINVAL;
    }
    if (win && (!json_is_integer(win) || json_integer_value(win) < 1 ||
                json_integer_value(win) > 1000)) {
        snprintf(err, errlen, "window: an integer 1-1000");
        return GW_EINVAL;
    }
    {
        smpp_status_table_t t;
        if (smpp_status_parse(json_object_get(conf, "status"), &t, err, errlen) < 0)
            return GW_EINVAL;
    }
    for (size_t i = 0; i < 2; i++) {
        const char *k = i == 0 ? "tls" : "tls_verify";
        const json_t *b = json_object_get(conf, k);
        if (b != NULL && !json_is_boolean(b)) {
            snprintf(err, errlen, "%s: true or false", k);
            return GW_EINVAL;
        }
    }
    if (smpp_conf_str(conf, "tls_ca", 0, NULL, 256, err, errlen) < 0 ||
        smpp_conf_str(conf, "tls_server_name", 0, NULL, 256, err, errlen) < 0)
        return GW_EINVAL;
    if (json_object_get(conf, "bind") != NULL &&
        smpp_bind_cmd(json_string_value(json_object_get(conf, "bind"))) == 0) {
        snprintf(err, errlen, "bind: \"transceiver\" (the default), \"transmitter\" or "
                              "\"receiver\"");
        return GW_EINVAL;
    }
    if (smpp_conf_str(conf, "address_range", 0, NULL, 41, err, errlen) < 0 ||
        smpp_dc0_check(conf, err, errlen) < 0)
        return GW_EINVAL;
    if (json_object_get(conf, "long") != NULL &&
        smpp_long_parse(json_string_value(json_object_get(conf, "long"))) < 0) {
        snprintf(err, errlen, "long: one of \"udh\" (8-bit reference, the default), \"udh16\", "
                              "\"sar\", \"payload\"");
        return GW_EINVAL;
    }
    /* messages per second the core feeds it at most (gw_cq.c), 0: no limit */
    if (tput && (!json_is_number(tput) || json_number_value(tput) < 0 ||
                 json_number_value(tput) > 100000)) {
        snprintf(err, errlen, "throughput: a number 0-100000 (messages per second; 0: no limit)");
        return GW_EINVAL;
    }
    return 0;
}

smpp_client_t *smpp_client_new(gw_connector_t *c)
{
    smpp_client_t *cl = calloc(1, sizeof(*cl));
    char err[128];
    const json_t *win = json_object_get(c->conf, "window");

    if (cl == NULL)
        return NULL;
    if (smpp_conf_str(c->conf, "host", 1, cl->host, sizeof(cl->host), err, sizeof(err)) < 0 ||
        smpp_conf_str(c->conf, "system_id", 1, cl->system_id, sizeof(cl->system_id), err,
                      sizeof(err)) < 0 ||
        smpp_conf_str(c->conf, "password", 1, cl->password, sizeof(cl->password), err,
                      sizeof(err)) < 0 ||
        smpp_conf_str(c->conf, "system_type", 0, cl->system_type, sizeof(cl->system_type), err,
                      sizeof(err)) < 0 ||
        smpp_conf_str(c->conf, "source_addr", 0, cl->source, sizeof(cl->source), err,
                      sizeof(err)) < 0) {
        GW_ERR(SMPP_MOD, "connector %s: %s", c->name, err);
        free(cl);
        return NULL;
    }
    snprintf(cl->name, sizeof(cl->name), "%s", c->name);
    cl->port = (int)json_integer_value(json_object_get(c->conf, "port"));
    cl->window = win ? (int)json_integer_value(win) : smpp_window;
    cl->long_mode = json_object_get(c->conf, "long") != NULL
                        ? smpp_long_parse(json_string_value(json_object_get(c->conf, "long")))
                        : SMPP_LONG_UDH;
    if (cl->long_mode < 0)
        cl->long_mode = SMPP_LONG_UDH;
    cl->dc0 = smpp_dc0_conf(c->conf);
    if (smpp_status_parse(json_object_get(c->conf, "status"), &cl->status, err, sizeof(err)) < 0)
        memset(&cl->status, 0, sizeof(cl->status)); /* checked before it was stored */
    cl->bind_cmd = smpp_bind_cmd(json_string_value(json_object_get(c->conf, "bind")));
    if (cl->bind_cmd == 0)
        cl->bind_cmd = BIND_TRANSCEIVER;
    if (smpp_conf_str(c->conf, "address_range", 0, cl->address_range, sizeof(cl->address_range),
                      err, sizeof(err)) < 0)
        cl->address_range[0] = '\0';
    cl->tls = json_is_true(json_object_get(c->conf, "tls"));
    cl->tls_verify = !json_is_false(json_object_get(c->conf, "tls_verify"));
    if (smpp_conf_str(c->conf, "tls_ca", 0, cl->tls_ca, sizeof(cl->tls_ca), err, sizeof(err)) < 0)
        cl->tls_ca[0] = '\0';
    if (smpp_conf_str(c->conf, "tls_server_name", 0, cl->tls_name, sizeof(cl->tls_name), err,
                      sizeof(err)) < 0 || cl->tls_name[0] == '\0')
        snprintf(cl->tls_name, sizeof(cl->tls_name), "%s", cl->host);
    cl->refs = 1;
    cl->role = SMPP_ROLE_CLIENT;
    return cl;
}

smpp_client_t *smpp_client_ref(smpp_client_t *cl)
{
    __atomic_add_fetch(&cl->refs, 1, __ATOMIC_RELAXED);
    return cl;
}

void smpp_client_unref(smpp_client_t *cl)
{
    if (cl && __atomic_sub_fetch(&cl->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(cl);
}

json_t *smpp_client_status(smpp_client_t *cl)
{
    char peer[300];

    snprintf(peer, sizeof(peer), "%s:%d", cl->host, cl->port);
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:b, s:s}", "state",
                     smpp_cl_state_names[smpp_cl_get(cl)], "peer", peer, "system_id",
                     cl->system_id, "window", cl->window, "pending",
                     __atomic_load_n(&cl->npending, __ATOMIC_RELAXED), "inflight",
                     __atomic_load_n(&cl->ninflight, __ATOMIC_RELAXED), "tls", cl->tls, "bind",
                     cl->bind_cmd == BIND_TRANSMITTER ? "transmitter"
                     : cl->bind_cmd == BIND_RECEIVER  ? "receiver"
                                                      : "transceiver");
}

int smpp_client_room(smpp_client_t *cl)
{
    /* a receiver bind takes MO and receipts only: nothing is fed to it.
     * With core.room_windows 2 the core gives more than the window: the
     * pending list keeps the wire at the window */
    return smpp_cl_get(cl) == SMPP_CL_BOUND && cl->bind_cmd != BIND_RECEIVER ? cl->window : 0;
}

/* --- the send queue -------------------------------------------------------- */

static void smpp_sub_unlink(smpp_client_t *cl, smpp_sub_t *sub)
{
    if (!sub->linked)
        return;
    if (cl->cursor == sub)
        cl->cursor = sub->next;
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        cl->head = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    else
        cl->tail = sub->prev;
    sub->prev = sub->next = NULL;
    sub->linked = 0;
    __atomic_sub_fetch(&cl->npending, 1, __ATOMIC_RELAXED);
}

/* Free sub once it is out of the list and nothing of it is in flight. */
static void smpp_sub_maybe_free(smpp_sub_t *sub)
{
    if (sub->linked || sub->outstanding > 0)
        return;
    gw_dlv_free(sub->d);
    smpp_out_free(&sub->out);
    free(sub);
}

static void smpp_client_pause_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    smpp_client_pump(arg);
}

/* Send nothing on cl's bind for ms (a pause status); what waits is sent
 * when it ends. */
static void smpp_client_pause(smpp_client_t *cl, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    cl->pause_until = gw_now_ms() + ms;
    if (cl->pause_ev == NULL)
        cl->pause_ev = evtimer_new(smpp_base, smpp_client_pause_cb, cl);
    if (cl->pause_ev != NULL)
        evtimer_add(cl->pause_ev, &tv);
}

/* The outcome of sub is known: unlink it and hand the envelope on. */
static void smpp_sub_done(smpp_client_t *cl, smpp_sub_t *sub, uint32_t status, const char *text)
{
    gw_delivery_t *d = sub->d;

    smpp_sub_unlink(cl, sub);
    sub->d = NULL; /* each outcome hands d back to the core */
    smpp_status_rule_t rule = smpp_status_classify(&cl->status, status);

    if (status == ESME_ROK) {
        const char *ids[SMPP_MAX_PARTS];
        for (size_t i = 0; i < sub->out.nparts; i++)
            ids[i] = sub->ids[i];
        gw_core_submitted_parts(d, ids, sub->out.nparts);
    } else if (rule.action == SMPP_ST_PAUSE) {
        /* the SMSC asks us to slow down: hold the bind, resend it whole later */
        GW_INFO(SMPP_MOD, "connector %s: %s: status 0x%x, pausing %d ms", cl->name, d->env->id,
                status, rule.delay_ms);
        smpp_client_pause(cl, rule.delay_ms);
        gw_core_defer(d, (int)status, text, rule.delay_ms);
    } else if (rule.action == SMPP_ST_RETRY) {
        GW_INFO(SMPP_MOD, "connector %s: %s: status 0x%x, retry later", cl->name, d->env->id,
                status);
        gw_core_retry_in(d, (int)status, text, rule.delay_ms, rule.tries);
    } else {
        GW_WARN(SMPP_MOD, "connector %s: %s: rejected with status 0x%x", cl->name, d->env->id,
                status);
        gw_core_failed(d, (int)status, text);
    }
    smpp_sub_maybe_free(sub);
}

void smpp_client_send(smpp_client_t *cl, gw_delivery_t *d)
{
    smpp_sub_t *sub = calloc(1, sizeof(*sub));
    const gw_envelope_t *env = d->env;
    int rc;

    if (sub == NULL || cl->closing) {
        free(sub);
        if (sub != NULL && cl->stopping)
            gw_dlv_free(d); /* shutdown: it stays in the store for the next start */
        else if (sub != NULL)
            gw_core_requeue(d); /* not the message's fault: no attempt counted */
        else
            gw_core_retry(d, ESME_RSYSERR, "out of memory");
        return;
    }
    sub->d = d;
    rc = smpp_out_prepare_dc0(&sub->out, env, (smpp_long_t)cl->long_mode, cl->dc0);
    if (rc != 0) {
        GW_WARN(SMPP_MOD, "connector %s: %s: message cannot be encoded in %d parts", cl->name,
                env->id, SMPP_MAX_PARTS);
        sub->d = NULL;
        if (rc == GW_ENOMEM)
            gw_core_retry(d, ESME_RSYSERR, "out of memory");
        else
            gw_core_failed(d, ESME_RINVMSGLEN, "message too long");
        smpp_sub_maybe_free(sub);
        return;
    }
    sub->linked = 1;
    sub->prev = cl->tail;
    if (cl->tail)
        cl->tail->next = sub;
    else
        cl->head = sub;
    cl->tail = sub;
    if (cl->cursor == NULL)
        cl->cursor = sub;
    __atomic_add_fetch(&cl->npending, 1, __ATOMIC_RELAXED);
    smpp_client_pump(cl);
}

/* Send part sub->sent of sub.  0, or GW_EINVAL when the message cannot be
 * expressed (then the caller fails it). */
static int smpp_client_send_part(smpp_client_t *cl, smpp_sub_t *sub)
{
    smpp_out_bufs_t b;
    smpp_sm_fields_t f;
    int rc = smpp_out_part(&sub->out, sub->sent, sub->d->env, cl->source, &b, &f);

    if (rc != 0)
        return GW_EINVAL;
    f.validity_period = smpp_out_validity(sub->d->env, gw_now_ms(), &b);
    rc = smpp_session_request_sm(cl->sess, SUBMIT_SM, &f, sub, (int)sub->sent);
    if (rc < 0)
        return rc == GW_EINVAL ? GW_EINVAL : GW_ERROR;
    sub->sent++;
    sub->outstanding++;
    __atomic_add_fetch(&cl->ninflight, 1, __ATOMIC_RELAXED);
    return 0;
}

static void smpp_client_pump(smpp_client_t *cl)
{
    smpp_sub_t *sub;
    int rc;

    if (cl->pause_until > 0 && gw_now_ms() < cl->pause_until)
        return; /* paused: the timer pumps again */
    cl->pause_until = 0;
    while (smpp_cl_get(cl) == SMPP_CL_BOUND && cl->sess && cl->cursor &&
           __atomic_load_n(&cl->ninflight, __ATOMIC_RELAXED) < cl->window) {
        sub = cl->cursor;
        rc = smpp_client_send_part(cl, sub);
        if (rc == GW_EINVAL) {
            smpp_sub_done(cl, sub, ESME_RINVDSTADR, "address too long");
            continue;
        }
        if (rc < 0)
            return; /* the socket is failing; the session will end */
        if (sub->sent == sub->out.nparts)
            cl->cursor = sub->next;
    }
}

/* The session is gone with requests unanswered: forget their parts and
 * send every sub still in the list again from its first part. */
static void smpp_client_requeue(smpp_client_t *cl, smpp_session_t *s)
{
    smpp_req_t *r;
    smpp_sub_t *sub;

    for (r = s->reqs; r; r = r->next) {
        if (r->cmd_id != SUBMIT_SM || r->ctx == NULL)
            continue;
        sub = r->ctx;
        sub->outstanding--;
        smpp_sub_maybe_free(sub);
    }
    for (sub = cl->head; sub; sub = sub->next) {
        sub->sent = sub->acked = 0;
        sub->outstanding = 0;
        memset(sub->ids, 0, sizeof(sub->ids));
    }
    cl->cursor = cl->head;
    __atomic_store_n(&cl->ninflight, 0, __ATOMIC_RELAXED);
}

/* --- the session ----------------------------------------------------------- */

static void smpp_client_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    smpp_client_t *cl = arg;

    (void)fd;
    (void)what;
    if (!cl->closing && !cl->held)
        smpp_client_connect(cl);
}

void smpp_client_hold(smpp_client_t *cl, int hold)
{
    if (cl->closing || cl->held == hold)
        return;
    cl->held = hold;
    if (!hold) { /* smpp.bind: now */
        evtimer_del(cl->retry_ev);
        if (cl->sess == NULL)
            smpp_client_connect(cl);
        return;
    }
    evtimer_del(cl->retry_ev);
    if (cl->sess && smpp_cl_get(cl) == SMPP_CL_BOUND &&
        smpp_session_request(cl->sess, UNBIND, NULL, NULL) == 0) {
        smpp_cl_set(cl, SMPP_CL_UNBINDING); /* unbind_resp, a close or the timer ends it */
        return;
    }
    smpp_client_drop(cl, "held by smpp.unbind"); /* not bound yet: just stop */
}

/* The link is down (why): log once per outage, try again later. */
static void smpp_client_down(smpp_client_t *cl, const char *why)
{
    struct timeval tv = { smpp_reconnect_s, 0 };

    smpp_cl_set(cl, SMPP_CL_DOWN);
    if (cl->closing) {
        smpp_client_finalize(cl);
        return;
    }
    if (cl->held) { /* smpp.unbind: no reconnect until smpp.bind */
        smpp_cl_set(cl, SMPP_CL_HELD);
        GW_INFO(SMPP_MOD, "connector %s: unbound and held (smpp.bind binds it again)", cl->name);
        return;
    }
    if (!cl->down_logged)
        GW_WARN(SMPP_MOD, "connector %s: down (%s:%d): %s; reconnecting every %d s", cl->name,
                cl->host, cl->port, why, smpp_reconnect_s);
    cl->down_logged = 1;
    evtimer_add(cl->retry_ev, &tv);
}

/* Our own close of the session: requeue what was in flight, free it. */
static void smpp_client_drop(smpp_client_t *cl, const char *why)
{
    if (cl->sess) {
        smpp_client_requeue(cl, cl->sess);
        smpp_session_free(cl->sess);
        cl->sess = NULL;
    }
    smpp_client_down(cl, why);
}

static void smpp_client_on_connected(smpp_session_t *s)
{
    smpp_client_t *cl = s->owner;
    union { /* the three binds share one layout */
        bind_transceiver_t trx;
        bind_transmitter_t tx;
        bind_receiver_t rx;
    } pdu;

    memset(&pdu, 0, sizeof(pdu));
    snprintf((char *)pdu.trx.system_id, sizeof(pdu.trx.system_id), "%s", cl->system_id);
    snprintf((char *)pdu.trx.password, sizeof(pdu.trx.password), "%s", cl->password);
    snprintf((char *)pdu.trx.system_type, sizeof(pdu.trx.system_type), "%s", cl->system_type);
    snprintf((char *)pdu.trx.address_range, sizeof(pdu.trx.address_range), "%s",
             cl->address_range);
    pdu.trx.interface_version = SMPP_VERSION;
    smpp_cl_set(cl, SMPP_CL_BINDING);
    if (smpp_session_request(s, cl->bind_cmd, &pdu, NULL) < 0)
        smpp_client_drop(cl, "cannot send its bind");
}

static void smpp_client_on_closed(smpp_session_t *s, const char *why)
{
    smpp_client_t *cl = s->owner;

    smpp_client_requeue(cl, s);
    cl->sess = NULL;
    smpp_client_down(cl, why);
}

static void smpp_client_bind_resp(smpp_client_t *cl, const smpp_hdr_t *h)
{
    char why[64];

    if (h->status != ESME_ROK) {
        snprintf(why, sizeof(why), "bind refused with status 0x%x", h->status);
        smpp_client_drop(cl, why);
        return;
    }
    GW_INFO(SMPP_MOD, "connector %s: bound to %s:%d as %s", cl->name, cl->host, cl->port,
            cl->system_id);
    cl->down_logged = 0;
    cl->sess->keepalive = 1;
    smpp_cl_set(cl, SMPP_CL_BOUND);
    smpp_client_pump(cl);
    gw_core_credit(cl->name); /* the core feeds a bound client */
}

static void smpp_client_submit_resp(smpp_client_t *cl, const smpp_hdr_t *h, const uint8_t *raw,
                                    const smpp_req_t *req)
{
    smpp_sub_t *sub = req->ctx;
    const char *msgid, *why;

    sub->outstanding--;
    __atomic_sub_fetch(&cl->ninflight, 1, __ATOMIC_RELAXED);
    if (!sub->linked) { /* its outcome is known already */
        smpp_sub_maybe_free(sub);
        goto out_pump;
    }
    if (h->status != ESME_ROK || h->cmd_id != SUBMIT_SM_RESP) {
        smpp_sub_done(cl, sub, h->status ? h->status : ESME_RSYSERR, "submit_sm refused");
        goto out_pump;
    }
    /* every part's message_id: each part gets its own receipt (the core
     * folds them into one outcome); a malformed one is logged and left
     * empty, the part still acknowledged */
    if (smpp_wire_decode_resp(raw, h->len, &msgid, &why) < 0)
        GW_WARN(SMPP_MOD, "%s: submit_sm_resp seq %u: %s", cl->sess->peer, h->seq, why);
    else if (req->part >= 0 && req->part < SMPP_MAX_PARTS)
        smpp_id_norm(msgid, sub->ids[req->part], sizeof(sub->ids[0])); /* as receipts match it */
    if (++sub->acked == sub->out.nparts)
        smpp_sub_done(cl, sub, ESME_ROK, NULL);
out_pump:
    /* a window slot came free: send what waits for one */
    smpp_client_pump(cl);
}

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

/* A delivery receipt: the core finds our message by our connector and its
 * message_id and records the SMSC's final word ("stat:" of the SMPP 3.4
 * appendix B text; err: is kept as the reason); deliver_sm_resp goes out only once
 * that is committed.  Returns 0 when the answer is on its way, else the
 * caller answers at once. */
static int smpp_client_receipt(smpp_client_t *cl, smpp_session_t *s, const smpp_hdr_t *h,
                               const smpp_sm_fields_t *f, uint32_t resp)
{
    char id[66] = "", stat[16] = "", norm[66];
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
    smpp_work_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return GW_ENOMEM;
    w->kind = SMPP_W_ACCEPTED;
    w->sess_id = s->id;
    w->seq = h->seq;
    w->resp_cmd = resp;
    gw_strlcpy(w->msgid, norm, sizeof w->msgid);
    int rc = gw_core_receipt(cl->name, norm, stat, err, smpp_client_receipt_acked, w);
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

static void smpp_client_on_pdu(smpp_session_t *s, const smpp_hdr_t *h, const uint8_t *pdu,
                               smpp_req_t *req)
{
    smpp_client_t *cl = s->owner;

    if (req && req->cmd_id == cl->bind_cmd) {
        smpp_client_bind_resp(cl, h);
    } else if (req && req->cmd_id == SUBMIT_SM && req->ctx) {
        smpp_client_submit_resp(cl, h, pdu, req);
    } else if (req && req->cmd_id == UNBIND) {
        smpp_client_requeue(cl, s);
        smpp_session_free(s);
        cl->sess = NULL;
        if (cl->closing)
            smpp_client_finalize(cl);
        else
            smpp_client_down(cl, "unbound by smpp.unbind"); /* held */
    } else if (h->cmd_id == DELIVER_SM) {
        smpp_client_deliver(cl, s, h, pdu, DELIVER_SM_RESP);
    } else if (h->cmd_id == DATA_SM) {
        /* SMPP 3.4 4.7: as the deliver_sm it carries, answered data_sm_resp */
        static uint8_t sm[SMPP_MAX_PDU + 256];
        smpp_hdr_t sh;
        const char *why;
        int len = smpp_data_sm_as(pdu, h->len, DELIVER_SM, sm, sizeof sm);
        if (len < 0 || smpp_wire_header(sm, (size_t)len, &sh, &why) < 0)
            smpp_session_respond(s, GENERIC_NACK, ESME_RINVCMDLEN, h->seq, NULL);
        else
            smpp_client_deliver(cl, s, &sh, sm, DATA_SM_RESP);
    } else if (h->cmd_id == UNBIND) {
        /* the SMSC leaves: answer, then behave as for any lost link */
        smpp_session_respond(s, UNBIND_RESP, ESME_ROK, h->seq, NULL);
        smpp_cl_set(cl, SMPP_CL_DOWN);
        smpp_session_finish(s, "unbound by the SMSC");
    } else if (!(h->cmd_id & 0x80000000u)) {
        smpp_session_respond(s, GENERIC_NACK, ESME_RINVCMDID, h->seq, NULL);
    }
}

static const smpp_session_ops_t smpp_client_ops = {
    smpp_client_on_connected,
    smpp_client_on_pdu,
    smpp_client_on_closed,
};

static void smpp_client_connect(smpp_client_t *cl)
{
    char peer[300];

    snprintf(peer, sizeof(peer), "%s:%d", cl->host, cl->port);
    if (cl->tls) {
        char err[256];
        void *ssl;
        if (cl->tls_ctx == NULL &&
            (cl->tls_ctx = smpp_tls_client_ctx(cl->tls_verify, cl->tls_ca, err, sizeof err)) ==
                NULL) {
            smpp_client_down(cl, err);
            return;
        }
        ssl = smpp_tls_ssl(cl->tls_ctx, cl->tls_name, cl->tls_verify);
        cl->sess = ssl ? smpp_session_new_tls(-1, peer, &smpp_client_ops, cl, ssl) : NULL;
    } else {
        cl->sess = smpp_session_new(-1, peer, &smpp_client_ops, cl);
    }
    if (cl->sess == NULL) {
        smpp_client_down(cl, "out of memory");
        return;
    }
    smpp_cl_set(cl, SMPP_CL_CONNECTING);
    if (smpp_session_connect(cl->sess, cl->host, cl->port) < 0)
        smpp_client_drop(cl, "cannot connect");
}

void smpp_client_open(smpp_client_t *cl)
{
    cl->retry_ev = evtimer_new(smpp_base, smpp_client_retry_cb, cl);
    cl->next = smpp_clients;
    smpp_clients = cl;
    if (cl->retry_ev == NULL) {
        GW_ERR(SMPP_MOD, "connector %s: out of memory", cl->name);
        return;
    }
    smpp_client_connect(cl);
}

/* Unbound and closing: give the queued envelopes back, leave the list of
 * clients and drop the list's reference (taken by smpp_client_open's
 * caller). */
static void smpp_client_finalize(smpp_client_t *cl)
{
    smpp_client_t **pp;
    smpp_sub_t *sub;

    smpp_cl_set(cl, SMPP_CL_CLOSED);
    while ((sub = cl->head) != NULL) {
        smpp_sub_unlink(cl, sub);
        /* on shutdown they stay queued in the store for the next start;
         * else they go to whatever connector carries the name next,
         * without counting an attempt (gw_core_requeue) */
        if (!cl->stopping) {
            gw_core_requeue(sub->d);
            sub->d = NULL;
        }
        smpp_sub_maybe_free(sub);
    }
    for (pp = &smpp_clients; *pp; pp = &(*pp)->next) {
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    }
    if (cl->retry_ev)
        event_free(cl->retry_ev);
    cl->retry_ev = NULL;
    if (cl->pause_ev)
        event_free(cl->pause_ev);
    cl->pause_ev = NULL;
    smpp_tls_ctx_free(cl->tls_ctx);
    cl->tls_ctx = NULL;
    GW_INFO(SMPP_MOD, "connector %s: closed", cl->name);
    smpp_client_unref(cl);
}

void smpp_client_close(smpp_client_t *cl)
{
    if (cl->closing)
        return;
    cl->closing = 1;
    if (cl->retry_ev)
        evtimer_del(cl->retry_ev);
    if (cl->sess && smpp_cl_get(cl) == SMPP_CL_BOUND &&
        smpp_session_request(cl->sess, UNBIND, NULL, NULL) == 0) {
        /* unbind_resp, a close or the response timer ends it */
        smpp_cl_set(cl, SMPP_CL_UNBINDING);
        return;
    }
    if (cl->sess) {
        smpp_client_requeue(cl, cl->sess);
        smpp_session_free(cl->sess);
        cl->sess = NULL;
    }
    smpp_client_finalize(cl);
}

int smpp_clients_closing(void)
{
    return smpp_clients != NULL;
}

void smpp_clients_close_all(void)
{
    smpp_client_t *cl, *next;

    for (cl = smpp_clients; cl; cl = next) {
        next = cl->next;
        cl->stopping = 1;
        smpp_client_close(cl);
    }
}

/* See smpp.h.  Main thread; the SMPP thread has ended, so nothing else
 * touches the clients or their sessions. */
void smpp_clients_free_all(void)
{
    smpp_client_t *cl;

    while ((cl = smpp_clients) != NULL) {
        cl->closing = cl->stopping = 1;
        if (cl->sess) {
            smpp_client_requeue(cl, cl->sess);
            smpp_session_free(cl->sess);
            cl->sess = NULL;
        }
        smpp_client_finalize(cl); /* unlinks cl and drops the list's reference */
    }
}
