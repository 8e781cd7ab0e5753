/*
 * smpp_client_bind.c - the binds of client connectors: each one's own
 * session and state machine (smpp_client_int.h's smpp_bind_t).
 *
 * States, per bind: down -> connecting -> binding -> bound, back to down
 * on any error (a lost session, a bind_resp with an error status, a
 * connect that fails).  A bind that is down tries again after a backoff
 * of its own (smpp_rate.c): smpp.reconnect_s after its first failure,
 * doubling per further failure up to smpp.reconnect_max_s, +-20% jitter,
 * and back to smpp.reconnect_s once a bind_resp was good.  The first loss
 * of an outage is a warning, every planned attempt an info line with its
 * delay.  A lost bind gives back only the messages placed on it
 * (smpp_client_requeue); the others keep sending.
 *
 * Outbind (SMPP 3.4 4.1.7): a connector with conf "outbind" has one
 * receiver more that never connects: an SMSC that connects to our SMSC
 * port and sends outbind with the connector's system_id and password
 * (smpp_server.c hands it here) gets bind_receiver on that connection,
 * which is this bind from then on; when it ends the bind waits for the
 * next outbind.  Wrong credentials count in smpp_guard like a customer's
 * failed bind.
 *
 * smpp.unbind holds every bind of the connector (unbind, then state held,
 * no reconnect) until smpp.bind; conn_close unbinds every bound bind
 * (bounded by the response timer) and frees the connector once none has a
 * session left.
 *
 * Each state change of a bind is a trace record (kind state, the
 * connector's name and peer) and is counted: smpp.client_bound,
 * smpp.client_bind_refused, smpp.client_bind_lost (and smpp.client_alerts,
 * counted by smpp_client.c, is registered here).
 *
 * Threads: the SMPP thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <smpp34.h>

#include "gw_adapter.h"
#include "gw_core.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_stats.h"
#include "gw_trace.h"
#include "smpp.h"
#include "smpp_client_int.h"

static smpp_client_t *smpp_clients;
static gw_stat_t *smpp_stat_bound, *smpp_stat_refused, *smpp_stat_lost;

static void smpp_bind_connect(smpp_bind_t *b);
static void smpp_client_finalize(smpp_client_t *cl);

const char *smpp_bind_type_name(uint32_t cmd)
{
    return cmd == BIND_TRANSMITTER ? "transmitter" : cmd == BIND_RECEIVER ? "receiver"
                                                                          : "transceiver";
}

static void smpp_client_stats(void)
{
    if (smpp_stat_bound != NULL)
        return;
    smpp_stat_bound = gw_stat("smpp.client_bound", "client binds accepted by their SMSC");
    smpp_stat_refused = gw_stat("smpp.client_bind_refused",
                                "client binds answered with an error status by their SMSC");
    smpp_stat_lost = gw_stat("smpp.client_bind_lost",
                             "client binds whose session ended while bound (not by us)");
    gw_stat(SMPP_STAT_ALERTS, SMPP_STAT_ALERTS_HELP);
    gw_stat(SMPP_STAT_RIDS, SMPP_STAT_RIDS_HELP);
    gw_stat(SMPP_STAT_RD, SMPP_STAT_RD_HELP);
}

/* b's state is st: published, and offered to the trace bus. */
static void smpp_bind_set(smpp_bind_t *b, smpp_cl_state_t st, const char *why)
{
    smpp_client_t *cl = b->cl;

    if (smpp_bind_get(b) == (int)st)
        return;
    __atomic_store_n(&b->state, (int)st, __ATOMIC_RELAXED);
    if (gw_trace_on()) {
        char peer[300], line[160];
        gw_trace_rec_t r;
        memset(&r, 0, sizeof r);
        snprintf(peer, sizeof peer, "%s:%d", cl->host, cl->port);
        snprintf(line, sizeof line, "bind %d (%s): %s%s%s", b->idx, smpp_bind_type_name(b->cmd),
                 smpp_cl_state_names[st], why ? ": " : "", why ? why : "");
        r.kind = GW_TRACE_STATE;
        r.connector = cl->name;
        r.peer = peer;
        r.summary = line;
        gw_trace_record(&r);
    }
}

/* Free cl once it is closing and none of its binds has a session. */
static void smpp_client_maybe_finalize(smpp_client_t *cl)
{
    if (!cl->closing || cl->finalized)
        return;
    for (int i = 0; i < cl->nbinds; i++)
        if (cl->binds[i].sess != NULL)
            return;
    smpp_client_finalize(cl);
}

/* b is down (why): closing, held, or a new attempt after its backoff. */
static void smpp_bind_down(smpp_bind_t *b, const char *why)
{
    smpp_client_t *cl = b->cl;
    int64_t ms;
    struct timeval tv;

    smpp_bind_set(b, SMPP_CL_DOWN, why);
    if (cl->closing) {
        smpp_client_maybe_finalize(cl);
        return;
    }
    if (cl->held) { /* smpp.unbind: no reconnect until smpp.bind */
        smpp_bind_set(b, SMPP_CL_HELD, NULL);
        GW_INFO(SMPP_MOD, "connector %s: bind %d unbound and held (smpp.bind binds it again)",
                cl->name, b->idx);
        gw_event_connector(cl->name, "held", b->idx, "smpp.unbind");
        return;
    }
    if (b->outbind) { /* the SMSC opens it again with its next outbind */
        GW_INFO(SMPP_MOD, "connector %s: outbind bind %d down: %s; waiting for the SMSC's next "
                "outbind", cl->name, b->idx, why);
        return;
    }
    ms = smpp_backoff_ms((int64_t)smpp_reconnect_s * 1000, (int64_t)smpp_reconnect_max_s * 1000,
                         b->attempt, randombytes_random());
    if (b->attempt < 30)
        b->attempt++;
    if (!b->down_logged) {
        GW_WARN(SMPP_MOD, "connector %s: down (%s:%d) bind %d (%s): %s; next attempt in %lld ms",
                cl->name, cl->host, cl->port, b->idx, smpp_bind_type_name(b->cmd), why,
                (long long)ms);
        gw_event_connector(cl->name, "down", b->idx, why); /* once per outage */
    } else
        GW_INFO(SMPP_MOD, "connector %s: bind %d: %s; next attempt in %lld ms", cl->name, b->idx,
                why, (long long)ms);
    b->down_logged = 1;
    __atomic_store_n(&b->next_ms, gw_now_ms() + ms, __ATOMIC_RELAXED);
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    if (b->retry_ev != NULL) /* NULL: out of memory at open, logged there */
        evtimer_add(b->retry_ev, &tv);
}

/* Our own close of b's session: requeue what was in flight on it, free it. */
static void smpp_bind_drop(smpp_bind_t *b, const char *why)
{
    smpp_client_t *cl = b->cl;
    int closing = cl->closing;

    if (b->sess) {
        smpp_client_requeue(b);
        smpp_session_free(b->sess);
        b->sess = NULL;
    }
    smpp_bind_down(b, why); /* closing: may free cl */
    if (!closing)
        smpp_client_pump(cl); /* its messages may go on another bind */
}

/* The body of cl's bind (SMPP 3.4 4.1.1, the same for the three kinds)
 * into out (cap >= 128): system_id, password, system_type,
 * interface_version (conf), addr_ton 0, addr_npi 0, address_range.
 * Encoded here, not by libsmpp34, which refuses an interface_version
 * other than 3.4's.  Its length. */
static size_t smpp_bind_body(const smpp_client_t *cl, uint8_t *out)
{
    const char *str[] = { cl->system_id, cl->password, cl->system_type };
    size_t n = 0;

    for (size_t i = 0; i < 3; i++) { /* each fits its field: checked with the conf */
        size_t l = strlen(str[i]) + 1;
        memcpy(out + n, str[i], l);
        n += l;
    }
    out[n++] = (uint8_t)cl->iface;
    out[n++] = 0; /* addr_ton */
    out[n++] = 0; /* addr_npi */
    memcpy(out + n, cl->address_range, strlen(cl->address_range) + 1);
    return n + strlen(cl->address_range) + 1;
}

static void smpp_bind_on_connected(smpp_session_t *s)
{
    smpp_bind_t *b = s->owner;
    uint8_t body[128]; /* 16 + 9 + 13 + 3 + 41 at most */
    size_t len = smpp_bind_body(b->cl, body);

    smpp_bind_set(b, SMPP_CL_BINDING, NULL);
    if (smpp_session_request_body(s, b->cmd, body, len, NULL) < 0)
        smpp_bind_drop(b, "cannot send its bind");
}

static void smpp_bind_on_closed(smpp_session_t *s, const char *why)
{
    smpp_bind_t *b = s->owner;
    smpp_client_t *cl = b->cl;
    int closing = cl->closing;

    if (smpp_bind_get(b) == SMPP_CL_BOUND) {
        __atomic_add_fetch(&b->lost, 1, __ATOMIC_RELAXED);
        gw_stat_add(smpp_stat_lost, 1);
    }
    smpp_client_requeue(b);
    b->sess = NULL;
    smpp_bind_down(b, why); /* closing: may free cl */
    if (!closing)
        smpp_client_pump(cl); /* its messages may go on another bind */
}

static void smpp_bind_resp(smpp_bind_t *b, const smpp_hdr_t *h)
{
    smpp_client_t *cl = b->cl;
    char why[64];

    if (h->status != ESME_ROK) { /* backs off like a lost bind */
        __atomic_add_fetch(&b->refused, 1, __ATOMIC_RELAXED);
        gw_stat_add(smpp_stat_refused, 1);
        snprintf(why, sizeof(why), "bind refused with status 0x%x", h->status);
        smpp_bind_drop(b, why);
        return;
    }
    GW_INFO(SMPP_MOD, "connector %s: bind %d bound to %s:%d as %s (%s)", cl->name, b->idx,
            cl->host, cl->port, cl->system_id, smpp_bind_type_name(b->cmd));
    gw_event_connector(cl->name, "up", b->idx, NULL);
    b->down_logged = 0;
    b->attempt = 0; /* it stayed up: the next loss starts from smpp.reconnect_s */
    __atomic_store_n(&b->next_ms, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&b->bound_n, 1, __ATOMIC_RELAXED);
    gw_stat_add(smpp_stat_bound, 1);
    b->sess->keepalive = 1;
    smpp_bind_set(b, SMPP_CL_BOUND, NULL);
    smpp_client_pump(cl);
    if (smpp_bind_tx(b))
        gw_core_credit(cl->name); /* the core feeds a bound client */
}

static void smpp_bind_on_pdu(smpp_session_t *s, const smpp_hdr_t *h, const uint8_t *pdu,
                             smpp_req_t *req)
{
    smpp_bind_t *b = s->owner;
    smpp_client_t *cl = b->cl;

    if (req && req->cmd_id == b->cmd) {
        smpp_bind_resp(b, h);
    } else if (req && req->cmd_id == UNBIND) {
        smpp_client_requeue(b);
        smpp_session_free(s);
        b->sess = NULL;
        if (cl->closing)
            smpp_client_maybe_finalize(cl);
        else
            smpp_bind_down(b, "unbound by smpp.unbind"); /* held */
    } else if (h->cmd_id == UNBIND) {
        /* the SMSC leaves: answer, then behave as for any lost link */
        smpp_session_respond(s, UNBIND_RESP, ESME_ROK, h->seq, NULL);
        if (smpp_bind_get(b) == SMPP_CL_BOUND) {
            __atomic_add_fetch(&b->lost, 1, __ATOMIC_RELAXED);
            gw_stat_add(smpp_stat_lost, 1);
        }
        smpp_bind_set(b, SMPP_CL_UNBINDING, "unbound by the SMSC");
        smpp_session_finish(s, "unbound by the SMSC");
    } else {
        smpp_client_pdu(b, s, h, pdu, req);
    }
}

static const smpp_session_ops_t smpp_bind_ops = {
    smpp_bind_on_connected,
    smpp_bind_on_pdu,
    smpp_bind_on_closed,
};

static void smpp_bind_connect(smpp_bind_t *b)
{
    smpp_client_t *cl = b->cl;
    char peer[300];

    __atomic_store_n(&b->next_ms, 0, __ATOMIC_RELAXED);
    snprintf(peer, sizeof(peer), "%s:%d", cl->host, cl->port);
    if (cl->tls) {
        char err[256];
        void *ssl;
        if (cl->tls_ctx == NULL &&
            (cl->tls_ctx = smpp_tls_client_ctx(cl->tls_verify, cl->tls_ca, err, sizeof err)) ==
                NULL) {
            smpp_bind_down(b, err);
            return;
        }
        ssl = smpp_tls_ssl(cl->tls_ctx, cl->tls_name, cl->tls_verify);
        b->sess = ssl ? smpp_session_new_tls(-1, peer, &smpp_bind_ops, b, ssl) : NULL;
    } else {
        b->sess = smpp_session_new(-1, peer, &smpp_bind_ops, b);
    }
    if (b->sess == NULL) {
        smpp_bind_down(b, "out of memory");
        return;
    }
    snprintf(b->sess->trace_conn, sizeof(b->sess->trace_conn), "%s", cl->name);
    snprintf(b->sess->system_id, sizeof(b->sess->system_id), "%s", cl->system_id);
    smpp_bind_set(b, SMPP_CL_CONNECTING, NULL);
    if (smpp_session_connect(b->sess, cl->host, cl->port) < 0)
        smpp_bind_drop(b, "cannot connect");
}

static void smpp_bind_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    smpp_bind_t *b = arg;

    (void)fd;
    (void)what;
    if (!b->cl->closing && !b->cl->held && b->sess == NULL)
        smpp_bind_connect(b);
}

void smpp_client_open(smpp_client_t *cl)
{
    smpp_client_stats();
    cl->next = smpp_clients;
    smpp_clients = cl;
    for (int i = 0; i < cl->nbinds; i++) {
        smpp_bind_t *b = &cl->binds[i];
        if (b->outbind)
            continue; /* opened by the SMSC's outbind on our port */
        b->retry_ev = evtimer_new(smpp_base, smpp_bind_retry_cb, b);
        if (b->retry_ev == NULL) {
            GW_ERR(SMPP_MOD, "connector %s: out of memory", cl->name);
            continue;
        }
        smpp_bind_connect(b);
    }
}

/* Ask b's bound session to unbind: 1 when asked (unbind_resp, a close or
 * the response timer ends it), 0 when b is not bound (nothing sent). */
static int smpp_bind_unbind(smpp_bind_t *b)
{
    if (b->sess && smpp_bind_get(b) == SMPP_CL_BOUND &&
        smpp_session_request(b->sess, UNBIND, NULL, NULL) == 0) {
        smpp_bind_set(b, SMPP_CL_UNBINDING, NULL);
        return 1;
    }
    return 0;
}

void smpp_client_hold(smpp_client_t *cl, int hold)
{
    if (cl->closing || cl->held == hold)
        return;
    cl->held = hold;
    for (int i = 0; i < cl->nbinds; i++) {
        smpp_bind_t *b = &cl->binds[i];
        if (b->retry_ev)
            evtimer_del(b->retry_ev);
        __atomic_store_n(&b->next_ms, 0, __ATOMIC_RELAXED);
        if (!hold) { /* smpp.bind: now */
            b->attempt = 0;
            if (b->outbind)
                smpp_bind_set(b, SMPP_CL_DOWN, "waiting for an outbind");
            else if (b->sess == NULL)
                smpp_bind_connect(b);
        } else if (!smpp_bind_unbind(b)) {
            smpp_bind_drop(b, "held by smpp.unbind"); /* not bound yet: just stop */
        }
    }
}

int smpp_client_outbind(smpp_session_t *s, const char *ip, const uint8_t *pdu, size_t len)
{
    char system_id[16], password[9];
    size_t at = 16;
    smpp_client_t *cl;
    smpp_bind_t *b = NULL;
    int64_t now = gw_now_ms();

    if (smpp_cstr(pdu, len, &at, system_id, sizeof system_id) < 0 ||
        smpp_cstr(pdu, len, &at, password, sizeof password) < 0) {
        GW_WARN(SMPP_MOD, "%s: a malformed outbind", s->peer);
        return GW_EINVAL;
    }
    if (smpp_guard_closed(ip, system_id, now) > 0) {
        GW_WARN(SMPP_MOD, "%s: outbind as '%s' refused: too many failures", s->peer, system_id);
        return GW_ENOTFOUND;
    }
    for (cl = smpp_clients; cl != NULL && b == NULL; cl = cl->next) {
        char pw[sizeof cl->password] = "";
        if (cl->closing || strcmp(cl->system_id, system_id) != 0)
            continue;
        snprintf(pw, sizeof pw, "%s", password); /* the same size, for a constant-time compare */
        for (int i = 0; i < cl->nbinds && b == NULL; i++)
            if (cl->binds[i].outbind && sodium_memcmp(pw, cl->password, sizeof pw) == 0)
                b = &cl->binds[i];
    }
    if (b == NULL) {
        smpp_guard_failed(ip, system_id, now);
        GW_WARN(SMPP_MOD, "%s: outbind as '%s' refused: no client connector with outbind "
                "binds as it with that password", s->peer, system_id);
        return GW_ENOTFOUND;
    }
    if (b->sess != NULL || b->cl->held) {
        GW_WARN(SMPP_MOD, "connector %s: outbind from %s refused: its outbind bind is %s",
                b->cl->name, s->peer, b->sess ? "in use" : "held");
        return GW_EEXIST;
    }
    smpp_guard_passed(ip, system_id, now);
    GW_INFO(SMPP_MOD, "connector %s: outbind from %s: binding as receiver on it", b->cl->name,
            s->peer);
    smpp_session_adopt(s, &smpp_bind_ops, b);
    b->sess = s;
    smpp_bind_on_connected(s); /* bind_receiver on the SMSC's connection */
    return 0;
}

/* Unbound and closing: give the queued envelopes back, leave the list of
 * clients and drop the list's reference (taken by smpp_client_open's
 * caller). */
static void smpp_client_finalize(smpp_client_t *cl)
{
    smpp_client_t **pp;

    cl->finalized = 1;
    __atomic_store_n(&cl->closed, 1, __ATOMIC_RELAXED);
    smpp_client_release(cl);
    for (pp = &smpp_clients; *pp; pp = &(*pp)->next) {
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    }
    for (int i = 0; i < cl->nbinds; i++) {
        smpp_bind_t *b = &cl->binds[i];
        __atomic_store_n(&b->state, SMPP_CL_CLOSED, __ATOMIC_RELAXED);
        if (b->retry_ev)
            event_free(b->retry_ev);
        b->retry_ev = NULL;
    }
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
    for (int i = 0; i < cl->nbinds; i++) {
        smpp_bind_t *b = &cl->binds[i];
        if (b->retry_ev)
            evtimer_del(b->retry_ev);
        if (smpp_bind_unbind(b) || b->sess == NULL)
            continue;
        smpp_client_requeue(b);
        smpp_session_free(b->sess);
        b->sess = NULL;
    }
    smpp_client_maybe_finalize(cl);
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
        for (int i = 0; i < cl->nbinds; i++) {
            smpp_bind_t *b = &cl->binds[i];
            if (b->sess == NULL)
                continue;
            smpp_client_requeue(b);
            smpp_session_free(b->sess);
            b->sess = NULL;
        }
        smpp_client_finalize(cl); /* unlinks cl and drops the list's reference */
    }
}
