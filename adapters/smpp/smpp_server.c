/*
 * smpp_server.c - our SMSC port: customers' applications bind here and
 * submit messages.
 *
 * A customer binds as transmitter, receiver or transceiver.  The bind is
 * checked off this thread (gw_account_verify_async: allowed networks,
 * enabled, then the argon2id password, on the core's worker pool) and the
 * verdict comes back as SMPP_W_BIND through the adapter's work queue
 * (smpp_server_bind_answer), which finds the session again by id: it may
 * have closed meanwhile.  Until then the session stays unbound, so a
 * submit_sm gets ESME_RINVBNDSTS as before any bind, and a second bind
 * ESME_RALYBND.  Answers: bind_*_resp OK; ESME_RBINDFAIL for every
 * refusal (unknown system_id, wrong password, disabled account, refused
 * network), then the session is closed; ESME_RSYSERR when the check could
 * not be made (store error, pool full) - the customer may retry.
 *
 * Choice documented: one refusal code for every reason, so system_ids
 * cannot be enumerated (ESME_RINVPASWD for a wrong password but something
 * else for an unknown id would tell which ids exist).  ESME_RBINDFAIL
 * rather than ESME_RINVPASWD because it is the generic "bind failed" and
 * true of a refused network or a disabled account too.
 *
 * A submit_sm from a bound transmitter/transceiver becomes an envelope whose
 * source connector is "account:<system_id>"; its submit_sm_resp (message_id = the
 * envelope id) is sent only after the commit (smpp_accept).  No route:
 * ESME_RINVDSTADR.  One part of the customer's own long message (UDH or
 * SAR) whose route's first target cannot carry parts (gw_frag_keep: not
 * SMPP) is stored to be joined instead (smpp_server_part; message_id = the
 * part's id, the whole takes its first part's).  The submit_sm is decoded by smpp_wire, zero copy (the
 * bind PDUs by hand below, their responses packed by libsmpp34).  A
 * malformed body gets generic_nack ESME_RINVCMDLEN, an
 * unknown command generic_nack ESME_RINVCMDID; both keep the session.
 * Messages towards customers - MO routed to an account, delivery reports
 * on its submits - go out as deliver_sm on its receiver / transceiver
 * sessions (smpp_dest.c; this file picks the session and reports binds
 * coming and going).
 *
 * outbind (SMPP 3.4 4.1.7) before any bind is an operator's SMSC, not a
 * customer: smpp_client_outbind hands the session to the client connector
 * it names (it sends bind_receiver) or the session is closed.
 *
 * query_sm: the state of a message the account submitted, read from the
 * store on the worker pool (gw_core_query) and answered as SMPP 3.4 4.8.2
 * (ENROUTE until final; DELIVERED, EXPIRED, UNDELIVERABLE, REJECTED with
 * its final_date); any other account's id, or an unknown one, gets
 * ESME_RQUERYFAIL.  cancel_sm and replace_sm of messages still queued:
 * smpp_cancel.c.  Repeated bind failures back off per peer address and
 * per system_id (smpp_guard.c).  Bound customers get enquire_link after
 * smpp.enquire_link_s of silence (link-dead detection).
 *
 * Limits, so that one customer cannot take the port from the others:
 *  - a connection that has not bound within smpp.response_timeout_s is
 *    closed (the session's expire_ms), and a bound one that sends nothing
 *    for smpp.server_idle_s (an enquire_link of its own counts) is unbound
 *    and closed (the session's idle_s), so half-open sockets cannot use up
 *    the SMPP_MAX_CUSTOMERS slots;
 *  - at most smpp.server_max_per_ip connections at once from one peer
 *    address: the one past it is closed on accept, before any PDU;
 *  - at most smpp.server_window submit_sm per session handed to the core
 *    and not yet answered (s->pending_in); one past it is answered
 *    ESME_RMSGQFUL (0x14) and not stored.  Choice documented: MSGQFUL, not
 *    THROTTLED, so the customer can tell "wait for your answers" from
 *    "slow down" (the account's rate, below);
 *  - the account's throughput (msg/s, 0 = unlimited) is a token bucket of
 *    one second's worth (burst = throughput) shared by every bind of the
 *    account; a submit_sm past it is answered ESME_RTHROTTLED (0x58) and
 *    not stored.  Buckets are kept by system_id for the process lifetime,
 *    so a rebind does not refill one.  The rate is the one the account had
 *    at the latest bind of any of its sessions (the bind check reads the
 *    row): a change (accounts.update) applies to all the account's
 *    sessions from its next bind, and starts the bucket full.  Choice
 *    documented: sessions bound already keep the old rate until then
 *    (the bind is the one moment this thread learns the row; pushing
 *    every update here would need a second path for one field).  A
 *    password or allowed_nets change likewise counts from the next bind;
 *    an account disabled by accounts.update has its bound sessions
 *    unbound (smpp_server_unbind_account, SMPP_W_UNBIND).
 * Each refusal is counted (stats smpp.server_refused_per_ip,
 * smpp.server_window_full, smpp.server_throttled) and, like every PDU,
 * the answer is on the trace bus.  At shutdown (smpp_server_quiesce) the
 * listener closes, bound customers get an unbind behind the answers
 * already written, and every session closes once its output is flushed.
 *
 * Threads: the SMPP thread, except smpp_server_bind_cb, which runs on a
 * worker-pool thread and only queues the verdict.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <event2/listener.h>
#include <sodium.h>
#include <stdint.h>
#include <smpp34.h>
#include <smpp34_structs.h>

#include "gw_accounts.h"
#include "gw_errors.h"
#include "gw_frag.h"
#include "gw_log.h"
#include "gw_report.h"
#include "gw_stats.h"
#include "gw_str.h"
#include "smpp.h"

#define SMPP_MAX_CUSTOMERS 1024

/* The rate of one account, shared by its binds; see the header.  A GCRA
 * like router/rt_bucket.c ("tat": when the bucket is full again), kept
 * plain rather than shared because only the SMPP thread touches it and
 * adapters do not see router/. */
typedef struct smpp_acct {
    struct smpp_acct *next;
    char system_id[16];
    int rate;       /* msg/s; 0: unlimited */
    int64_t tat_us; /* CLOCK_MONOTONIC */
} smpp_acct_t;

typedef struct smpp_customer {
    struct smpp_customer *next;
    smpp_session_t *sess;
    char ip[INET6_ADDRSTRLEN];
    char system_id[16];   /* bound as, or asking to bind as (bind_pending) */
    char conn_name[64];   /* once bound: "account:<system_id>", its messages' source
                           * connector and the connector of its deliveries */
    uint32_t bound_as;     /* 0 or the bind command */
    int64_t bound_ms;      /* wall clock of the bind answer (smpp.sessions) */
    int bind_pending;      /* a bind is being checked on the worker pool */
    smpp_acct_t *acct;     /* once bound; owned by smpp_accts */
} smpp_customer_t;

/* A bind body.  Parsed here rather than by libsmpp34, which refuses any
 * interface_version but 0x34 while SMPP 5.0 clients send 0x50 (the SMSC
 * answers a 3.4 bind either way). */
typedef struct smpp_bind {
    char system_id[16], password[9], system_type[13];
    uint8_t interface_version;
} smpp_bind_t;

/* The three bind responses share one layout. */
typedef union {
    bind_transmitter_resp_t tx;
    bind_receiver_resp_t rx;
    bind_transceiver_resp_t trx;
} smpp_bind_resp_u;

static struct evconnlistener *smpp_listener, *smpp_tls_listener;
static void *smpp_tls_ctx; /* SSL_CTX of smpp_tls_listener's sessions */
static smpp_customer_t *smpp_customers;
static int smpp_ncustomers;
static smpp_acct_t *smpp_accts; /* every account bound since start */
static gw_stat_t *smpp_stat_per_ip, *smpp_stat_window_full, *smpp_stat_throttled,
    *smpp_stat_backoff;

static int64_t smpp_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The bucket of system_id, created on its first bind; rate is the
 * account's throughput as this bind read it (a change restarts the bucket
 * full).  NULL when out of memory. */
static smpp_acct_t *smpp_acct_get(const char *system_id, int rate)
{
    smpp_acct_t *a;

    for (a = smpp_accts; a; a = a->next)
        if (strcmp(a->system_id, system_id) == 0)
            break;
    if (a == NULL) {
        if ((a = calloc(1, sizeof(*a))) == NULL)
            return NULL;
        snprintf(a->system_id, sizeof(a->system_id), "%s", system_id);
        a->next = smpp_accts;
        smpp_accts = a;
    }
    if (a->rate != rate) {
        a->rate = rate < 0 ? 0 : rate;
        a->tat_us = 0;
    }
    return a;
}

/* 1: a submit may pass (a token spent), 0: over the account's rate. */
static int smpp_acct_take(smpp_acct_t *a, int64_t now_us)
{
    int64_t interval, next;

    if (a->rate <= 0)
        return 1;
    interval = (1000000 + a->rate - 1) / a->rate; /* rounded up: never above the rate */
    next = (a->tat_us > now_us ? a->tat_us : now_us) + interval;
    if (next - now_us > (int64_t)a->rate * interval)
        return 0;
    a->tat_us = next;
    return 1;
}

/* Customer sessions open now from ip. */
static int smpp_customers_from(const char *ip)
{
    const smpp_customer_t *cu;
    int n = 0;

    for (cu = smpp_customers; cu; cu = cu->next)
        n += strcmp(cu->ip, ip) == 0;
    return n;
}

static int smpp_bind_parse(const uint8_t *pdu, size_t len, smpp_bind_t *b)
{
    size_t at = 16;

    if (smpp_cstr(pdu, len, &at, b->system_id, sizeof(b->system_id)) < 0 ||
        smpp_cstr(pdu, len, &at, b->password, sizeof(b->password)) < 0 ||
        smpp_cstr(pdu, len, &at, b->system_type, sizeof(b->system_type)) < 0 || at + 3 > len)
        return GW_EINVAL;
    b->interface_version = pdu[at];
    return 0; /* addr_ton, addr_npi and address_range are not used */
}

/* Worker pool: the verdict on a bind; only queues it for the SMPP thread. */
static void smpp_server_bind_cb(int rc, json_t *account, void *arg)
{
    smpp_work_t *w = arg;

    /* the verdict and the rate are all the SMPP thread needs yet */
    w->throughput = (int)json_integer_value(json_object_get(account, "throughput"));
    json_decref(account);
    w->rc = rc;
    if (smpp_work_push(w) < 0) {
        GW_INFO(SMPP_MOD, "bind of session %llu checked while the adapter stops; dropped",
                (unsigned long long)w->sess_id);
        smpp_work_free(w);
    }
}

static void smpp_server_bind(smpp_customer_t *cu, const smpp_hdr_t *h, const uint8_t *raw)
{
    smpp_bind_t req;
    smpp_work_t *w;
    int rc;

    if (cu->bound_as || cu->bind_pending) {
        smpp_session_respond(cu->sess, h->cmd_id | 0x80000000u, ESME_RALYBND, h->seq, NULL);
        return;
    }
    if (smpp_bind_parse(raw, h->len, &req) < 0) {
        GW_WARN(SMPP_MOD, "%s: malformed bind", cu->sess->peer);
        smpp_session_respond(cu->sess, GENERIC_NACK, ESME_RINVCMDLEN, h->seq, NULL);
        return;
    }
    {
        int64_t wait = smpp_guard_closed(cu->ip, req.system_id, gw_now_ms());
        if (wait > 0) { /* too many failures: refused unchecked, like any refusal */
            sodium_memzero(req.password, sizeof(req.password));
            gw_stat_add(smpp_stat_backoff, 1);
            GW_WARN(SMPP_MOD, "%s: bind as '%s' refused unchecked: repeated failures, %lld ms "
                    "to wait", cu->sess->peer, req.system_id, (long long)wait);
            smpp_session_respond(cu->sess, h->cmd_id | 0x80000000u, ESME_RBINDFAIL, h->seq, NULL);
            smpp_session_finish(cu->sess, "bind refused");
            return;
        }
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        smpp_session_respond(cu->sess, h->cmd_id | 0x80000000u, ESME_RSYSERR, h->seq, NULL);
        return;
    }
    w->kind = SMPP_W_BIND;
    w->sess_id = cu->sess->id;
    w->seq = h->seq;
    w->resp_cmd = h->cmd_id | 0x80000000u;
    rc = gw_account_verify_async(req.system_id, req.password, cu->ip, smpp_server_bind_cb, w);
    sodium_memzero(req.password, sizeof(req.password));
    if (rc < 0) {
        GW_WARN(SMPP_MOD, "%s: bind as '%s' not checked: %s", cu->sess->peer, req.system_id,
                gw_strerror(rc));
        free(w);
        smpp_session_respond(cu->sess, h->cmd_id | 0x80000000u, ESME_RSYSERR, h->seq, NULL);
        return;
    }
    snprintf(cu->system_id, sizeof(cu->system_id), "%s", req.system_id);
    cu->bind_pending = 1;
}

void smpp_server_bind_answer(const smpp_work_t *w)
{
    smpp_session_t *s = smpp_session_find(w->sess_id);
    smpp_customer_t *cu;
    smpp_bind_resp_u resp;
    uint32_t status;

    /* session ids are unique across client and customer sessions */
    if (s == NULL || s->finishing) {
        GW_DEBUG(SMPP_MOD, "session %llu left before its bind was checked",
                 (unsigned long long)w->sess_id);
        return;
    }
    cu = s->owner;
    cu->bind_pending = 0;
    status = w->rc == 0 ? ESME_ROK : w->rc == GW_EINVAL ? ESME_RBINDFAIL : ESME_RSYSERR;
    if (status == ESME_ROK && (cu->acct = smpp_acct_get(cu->system_id, w->throughput)) == NULL)
        status = ESME_RSYSERR;
    memset(&resp, 0, sizeof(resp));
    if (status == ESME_ROK)
        snprintf((char *)resp.tx.system_id, sizeof(resp.tx.system_id), "junction");
    smpp_session_respond(s, w->resp_cmd, status, w->seq, status == ESME_ROK ? &resp : NULL);
    if (status == ESME_RBINDFAIL)
        smpp_guard_failed(cu->ip, cu->system_id, gw_now_ms());
    else if (status == ESME_ROK)
        smpp_guard_passed(cu->ip, cu->system_id, gw_now_ms());
    if (status != ESME_ROK) {
        GW_WARN(SMPP_MOD, "%s: bind as '%s' refused (status 0x%x)", s->peer, cu->system_id,
                status);
        cu->system_id[0] = 0;
        if (status == ESME_RBINDFAIL)
            smpp_session_finish(s, "bind refused");
        return;
    }
    cu->bound_as = w->resp_cmd & ~0x80000000u;
    cu->bound_ms = gw_now_ms();
    snprintf(cu->conn_name, sizeof(cu->conn_name), "%s%s", GW_REPORT_CONN_PREFIX, cu->system_id);
    s->expire_ms = 0;
    s->idle_s = smpp_server_idle_s;
    /* link-dead detection: an enquire_link after smpp.enquire_link_s of
     * silence, and a session whose peer does not answer it ends */
    s->keepalive = 1;
    if (cu->bound_as != BIND_TRANSMITTER)
        smpp_dest_binds_changed(cu->system_id); /* its deliveries can flow */
    GW_INFO(SMPP_MOD, "%s: customer %s bound (command 0x%x, throughput %d/s)", s->peer,
            cu->system_id, cu->bound_as, cu->acct->rate);
}

/* The session's window, then the account's rate: 0 when the request
 * (answered with resp_cmd) may go on, else -1 and it is answered. */
static int smpp_server_admit(smpp_customer_t *cu, const smpp_hdr_t *h, uint32_t resp_cmd)
{
    if (cu->sess->pending_in >= smpp_server_window) {
        gw_stat_add(smpp_stat_window_full, 1);
        GW_DEBUG(SMPP_MOD, "%s: %s has %d submits unanswered, seq %u refused", cu->sess->peer,
                 cu->system_id, cu->sess->pending_in, h->seq);
        smpp_session_respond(cu->sess, resp_cmd, ESME_RMSGQFUL, h->seq, NULL);
        return -1;
    }
    if (!smpp_acct_take(cu->acct, smpp_now_us())) {
        gw_stat_add(smpp_stat_throttled, 1);
        GW_DEBUG(SMPP_MOD, "%s: %s over %d/s, seq %u throttled", cu->sess->peer, cu->system_id,
                 cu->acct->rate, h->seq);
        smpp_session_respond(cu->sess, resp_cmd, ESME_RTHROTTLED, h->seq, NULL);
        return -1;
    }
    return 0;
}

/* Writer thread: a part stored to be joined (rc 0), or not; the answer
 * goes out on the SMPP thread (smpp_accepted_answer). */
static void smpp_server_part_stored(void *arg, int rc)
{
    smpp_work_t *w = arg;

    w->rc = rc;
    if (smpp_work_push(w) < 0)
        smpp_work_free(w); /* stopping: the customer sends it again */
}

/* One part of the customer's own long message whose route cannot carry
 * parts (gw_frag_keep: not an SMPP target): stored to be joined, and its
 * submit_sm_resp - message_id = the part's id - sent after that commit.
 * 0 when handled (answered or to be), GW_EDECLINED when env is no part or
 * travels as it came. */
static int smpp_server_part(smpp_customer_t *cu, const smpp_hdr_t *h, gw_envelope_t *env,
                            uint32_t resp)
{
    char key[GW_FRAG_KEY_MAX];
    int seq, total, rc;
    smpp_work_t *w;

    if (!gw_frag_part_of(env, key, sizeof key, &seq, &total) || gw_frag_keep(env, seq, total))
        return GW_EDECLINED;
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        smpp_session_respond(cu->sess, resp, ESME_RSYSERR, h->seq, NULL);
        return 0;
    }
    w->kind = SMPP_W_ACCEPTED;
    w->sess_id = cu->sess->id;
    w->seq = h->seq;
    w->resp_cmd = resp;
    gw_strlcpy(w->msgid, env->id, sizeof w->msgid);
    rc = gw_frag_add(env, key, seq, total, smpp_server_part_stored, w);
    if (rc == 0) {
        cu->sess->pending_in++; /* answered in smpp_accepted_answer */
        return 0;
    }
    free(w);
    GW_WARN(SMPP_MOD, "%s: %s part %d/%d not stored: %s", cu->sess->peer, cu->system_id, seq,
            total, gw_strerror(rc));
    smpp_session_respond(cu->sess, resp, rc == GW_EFULL ? ESME_RTHROTTLED : ESME_RSYSERR, h->seq,
                         NULL);
    return 0;
}

/* submit_sm, or a data_sm made one (resp DATA_SM_RESP): one message, or
 * one part of a long one to be joined (smpp_server_part). */
static void smpp_server_submit_as(smpp_customer_t *cu, const smpp_hdr_t *h, const uint8_t *raw,
                                  uint32_t resp)
{
    smpp_sm_fields_t f;
    gw_envelope_t *env;
    int rc;

    if (cu->bound_as != BIND_TRANSMITTER && cu->bound_as != BIND_TRANSCEIVER) {
        smpp_session_respond(cu->sess, resp, ESME_RINVBNDSTS, h->seq, NULL);
        return;
    }
    if (smpp_sm_decode(cu->sess->peer, h, raw, &f) < 0) {
        smpp_session_respond(cu->sess, GENERIC_NACK, ESME_RINVCMDLEN, h->seq, NULL);
        return;
    }
    if (smpp_server_admit(cu, h, resp) < 0)
        return;
    env = gw_env_new();
    rc = env ? smpp_env_fill(env, &f) : GW_ENOMEM;
    if (rc == 0)
        rc = smpp_env_validity(env, f.validity_period, gw_now_ms());
    if (rc == 0 && (gw_env_set_str(&env->source.adapter, "smpp", (size_t)-1) < 0 ||
                    gw_env_set_str(&env->source.connector, cu->conn_name, (size_t)-1) < 0 ||
                    gw_env_set_str(&env->source.peer, cu->sess->peer, (size_t)-1) < 0 ||
                    gw_env_set_tag(env, "sender", cu->conn_name) < 0)) /* who sent it */
        rc = GW_ENOMEM;
    if (rc == 0 && smpp_server_part(cu, h, env, resp) == GW_EDECLINED)
        smpp_accept(cu->sess, env, h->seq, resp);
    else if (rc != 0)
        smpp_session_respond(cu->sess, resp,
                             rc > 0             ? (uint32_t)rc /* ESME_RINVEXPIRY */
                             : rc == GW_EINVAL ? ESME_RINVDSTADR
                                               : ESME_RSYSERR,
                             h->seq, NULL);
    gw_env_unref(env);
}

static void smpp_server_submit(smpp_customer_t *cu, const smpp_hdr_t *h, const uint8_t *raw)
{
    smpp_server_submit_as(cu, h, raw, SUBMIT_SM_RESP);
}

/* data_sm from a customer (SMPP 3.4 4.7): the submit_sm it carries. */
static void smpp_server_data(smpp_customer_t *cu, const smpp_hdr_t *h, const uint8_t *raw)
{
    static uint8_t sm[SMPP_MAX_PDU + 256];
    smpp_hdr_t sh;
    const char *why;
    int len = smpp_data_sm_as(raw, h->len, SUBMIT_SM, sm, sizeof sm);

    if (len < 0 || smpp_wire_header(sm, (size_t)len, &sh, &why) < 0) {
        smpp_session_respond(cu->sess, GENERIC_NACK, ESME_RINVCMDLEN, h->seq, NULL);
        return;
    }
    smpp_server_submit_as(cu, &sh, sm, DATA_SM_RESP);
}

/* submit_multi: the checks of submit_sm (bound to send, the session's
 * window, one of the account's tokens), then smpp_multi.c. */
static void smpp_server_multi(smpp_customer_t *cu, const smpp_hdr_t *h, const uint8_t *raw)
{
    int rc;

    if (cu->bound_as != BIND_TRANSMITTER && cu->bound_as != BIND_TRANSCEIVER) {
        smpp_session_respond(cu->sess, SUBMIT_MULTI_RESP, ESME_RINVBNDSTS, h->seq, NULL);
        return;
    }
    if (smpp_server_admit(cu, h, SUBMIT_MULTI_RESP) < 0)
        return;
    rc = smpp_multi_submit(cu->sess, h, raw, cu->conn_name);
    if (rc == GW_EINVAL)
        smpp_session_respond(cu->sess, GENERIC_NACK, ESME_RINVCMDLEN, h->seq, NULL);
    else if (rc != 0)
        smpp_session_respond(cu->sess, SUBMIT_MULTI_RESP, rc > 0 ? (uint32_t)rc : ESME_RSYSERR,
                             h->seq, NULL);
}

/* Pool thread: the message a query_sm names was read; only queues. */
static void smpp_server_query_cb(void *arg, int rc, const gw_query_t *q)
{
    smpp_work_t *w = arg;

    w->rc = rc;
    if (q != NULL)
        w->state = *q;
    if (smpp_work_push(w) < 0)
        smpp_work_free(w);
}

/* query_sm (SMPP 3.4 4.8.1): the state of a message this account
 * submitted, read from the store on the worker pool. */
static void smpp_server_query(smpp_customer_t *cu, const smpp_hdr_t *h, const uint8_t *raw)
{
    char id[66];
    size_t at = 16;
    smpp_work_t *w;

    if (cu->bound_as != BIND_TRANSMITTER && cu->bound_as != BIND_TRANSCEIVER) {
        smpp_session_respond(cu->sess, QUERY_SM_RESP, ESME_RINVBNDSTS, h->seq, NULL);
        return;
    }
    if (smpp_cstr(raw, h->len, &at, id, sizeof(id)) < 0) {
        smpp_session_respond(cu->sess, GENERIC_NACK, ESME_RINVCMDLEN, h->seq, NULL);
        return;
    }
    if (strlen(id) != GW_ENV_ID_LEN || (w = calloc(1, sizeof(*w))) == NULL) {
        smpp_session_respond(cu->sess, QUERY_SM_RESP, ESME_RQUERYFAIL, h->seq, NULL);
        return;
    }
    w->kind = SMPP_W_QUERY;
    w->sess_id = cu->sess->id;
    w->seq = h->seq;
    memcpy(w->msgid, id, GW_ENV_ID_LEN + 1);
    if (gw_core_query(id, smpp_server_query_cb, w) < 0) {
        free(w);
        smpp_session_respond(cu->sess, QUERY_SM_RESP, ESME_RSYSERR, h->seq, NULL);
    }
}

void smpp_server_query_answer(const smpp_work_t *w)
{
    static const struct {
        const char *status;
        uint8_t state;
    } states[] = { { "delivered", 2 }, { "expired", 3 }, { "failed", 5 }, { "rejected", 8 } };
    smpp_session_t *s = smpp_session_find(w->sess_id);
    smpp_customer_t *cu;
    uint8_t buf[128], state = 1; /* ENROUTE: received .. submitted */
    char final_date[17] = "";
    int len;

    if (s == NULL || s->finishing)
        return;
    cu = s->owner;
    /* only the account's own messages: any other id is as unknown */
    if (w->rc != 0 || strcmp(w->state.source_connector, cu->conn_name) != 0) {
        smpp_session_respond(s, QUERY_SM_RESP, ESME_RQUERYFAIL, w->seq, NULL);
        return;
    }
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (strcmp(w->state.status, states[i].status) == 0) {
            time_t t = (time_t)(w->state.updated_at / 1000);
            struct tm tm;
            state = states[i].state;
            gmtime_r(&t, &tm);
            strftime(final_date, sizeof(final_date), "%y%m%d%H%M%S000+", &tm);
        }
    len = smpp_wire_encode_query_resp(buf, sizeof(buf), ESME_ROK, w->seq, w->msgid, final_date,
                                      state, (uint8_t)(w->state.reason & 0xFF));
    if (len > 0)
        smpp_session_send_pdu(s, buf, len);
}

/* cancel_sm / replace_sm (smpp_cancel.c): from a session bound to send,
 * for the account's own messages. */
static void smpp_server_cancel(smpp_customer_t *cu, const smpp_hdr_t *h, const uint8_t *raw)
{
    if (cu->bound_as != BIND_TRANSMITTER && cu->bound_as != BIND_TRANSCEIVER)
        smpp_session_respond(cu->sess, h->cmd_id | 0x80000000u, ESME_RINVBNDSTS, h->seq, NULL);
    else if (h->cmd_id == CANCEL_SM)
        smpp_cancel_sm(cu->sess, cu->conn_name, h, raw);
    else
        smpp_replace_sm(cu->sess, cu->conn_name, h, raw);
}

/* cu's session leaves the list of customers (it closed, or a client
 * connector took it over); cu is freed. */
static void smpp_customer_forget(smpp_customer_t *cu)
{
    smpp_customer_t **pp;

    for (pp = &smpp_customers; *pp; pp = &(*pp)->next) {
        if (*pp == cu) {
            *pp = cu->next;
            break;
        }
    }
    smpp_ncustomers--;
    if (cu->bound_as != 0 && cu->bound_as != BIND_TRANSMITTER)
        smpp_dest_binds_changed(cu->system_id); /* one receiving bind fewer */
    free(cu);
}

/* outbind (SMPP 3.4 4.1.7) before any bind: an operator's SMSC asks the
 * client connector it names to bind_receiver on this connection
 * (smpp_client_outbind), which then owns the session; else it is closed
 * (outbind has no response). */
static void smpp_server_outbind(smpp_customer_t *cu, const smpp_hdr_t *h, const uint8_t *pdu)
{
    smpp_session_t *s = cu->sess;

    if (cu->bound_as != 0 || cu->bind_pending) {
        smpp_session_respond(s, GENERIC_NACK, ESME_RALYBND, h->seq, NULL);
        return;
    }
    if (smpp_client_outbind(s, cu->ip, pdu, h->len) < 0) {
        smpp_session_finish(s, "outbind refused");
        return;
    }
    smpp_customer_forget(cu); /* a client bind now, not a customer */
}

static void smpp_server_on_pdu(smpp_session_t *s, const smpp_hdr_t *h, const uint8_t *pdu,
                               smpp_req_t *req)
{
    smpp_customer_t *cu = s->owner;

    if (req != NULL && req->cmd_id == UNBIND) { /* our unbind at shutdown */
        smpp_session_finish(s, "unbound");
        return;
    }
    if (req != NULL && req->cmd_id == DELIVER_SM && req->ctx != NULL) {
        smpp_dest_resp(h, req->ctx); /* a message to the customer answered */
        return;
    }
    switch (h->cmd_id) {
    case BIND_TRANSMITTER:
    case BIND_RECEIVER:
    case BIND_TRANSCEIVER:
        smpp_server_bind(cu, h, pdu);
        break;
    case OUTBIND:
        smpp_server_outbind(cu, h, pdu);
        break;
    case SUBMIT_SM:
        smpp_server_submit(cu, h, pdu);
        break;
    case QUERY_SM:
        smpp_server_query(cu, h, pdu);
        break;
    case SUBMIT_MULTI:
        smpp_server_multi(cu, h, pdu);
        break;
    case CANCEL_SM:
    case REPLACE_SM:
        smpp_server_cancel(cu, h, pdu);
        break;
    case DATA_SM:
        smpp_server_data(cu, h, pdu);
        break;
    case UNBIND:
        smpp_session_respond(s, UNBIND_RESP, ESME_ROK, h->seq, NULL);
        smpp_session_finish(s, "unbound");
        break;
    default:
        /* responses to nothing we sent are dropped; unknown requests nacked */
        if (!(h->cmd_id & 0x80000000u))
            smpp_session_respond(s, GENERIC_NACK, ESME_RINVCMDID, h->seq, NULL);
        break;
    }
}

/* The session ends: its deliver_sm still unanswered go back (smpp_dest.c). */
static void smpp_server_drop_reqs(smpp_session_t *s)
{
    for (smpp_req_t *r = s->reqs; r != NULL; r = r->next)
        if (r->cmd_id == DELIVER_SM && r->ctx != NULL) {
            void *ctx = r->ctx;
            r->ctx = NULL;
            smpp_dest_lost(ctx);
        }
}

smpp_session_t *smpp_server_pick(const char *system_id)
{
    smpp_session_t *best = NULL;

    for (smpp_customer_t *cu = smpp_customers; cu != NULL; cu = cu->next)
        if ((cu->bound_as == BIND_RECEIVER || cu->bound_as == BIND_TRANSCEIVER) &&
            !cu->sess->finishing && strcmp(cu->system_id, system_id) == 0 &&
            cu->sess->nreqs < (size_t)smpp_deliver_window &&
            (best == NULL || cu->sess->nreqs < best->nreqs))
            best = cu->sess;
    return best;
}

int smpp_server_receivers(const char *system_id)
{
    int n = 0;

    for (const smpp_customer_t *cu = smpp_customers; cu != NULL; cu = cu->next)
        n += (cu->bound_as == BIND_RECEIVER || cu->bound_as == BIND_TRANSCEIVER) &&
             !cu->sess->finishing && strcmp(cu->system_id, system_id) == 0;
    return n;
}

static void smpp_server_on_connected(smpp_session_t *s)
{
    (void)s; /* accepted sessions are connected from the start */
}

static void smpp_server_on_closed(smpp_session_t *s, const char *why)
{
    smpp_customer_t *cu = s->owner;

    GW_INFO(SMPP_MOD, "%s: customer session %s ended: %s", s->peer,
            cu->system_id[0] ? cu->system_id : "(unbound)", why);
    smpp_server_drop_reqs(s);
    smpp_customer_forget(cu);
}

static const smpp_session_ops_t smpp_server_ops = {
    smpp_server_on_connected,
    smpp_server_on_pdu,
    smpp_server_on_closed,
};

static void smpp_server_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
                                  struct sockaddr *sa, int salen, void *arg)
{
    smpp_customer_t *cu;
    char peer[96];
    int port = 0;

    (void)l;
    (void)salen;
    if (smpp_ncustomers >= SMPP_MAX_CUSTOMERS || (cu = calloc(1, sizeof(*cu))) == NULL) {
        GW_WARN(SMPP_MOD, "too many customer sessions, refusing one");
        evutil_closesocket(fd);
        return;
    }
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, cu->ip, sizeof(cu->ip));
        port = ntohs(((struct sockaddr_in *)(void *)sa)->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, cu->ip,
                  sizeof(cu->ip));
        port = ntohs(((struct sockaddr_in6 *)(void *)sa)->sin6_port);
    }
    snprintf(peer, sizeof(peer), "%s:%d", cu->ip, port);
    if (smpp_customers_from(cu->ip) >= smpp_server_max_per_ip) {
        gw_stat_add(smpp_stat_per_ip, 1);
        GW_WARN(SMPP_MOD, "%s: already %d customer sessions from %s, refusing one", peer,
                smpp_server_max_per_ip, cu->ip);
        free(cu);
        evutil_closesocket(fd);
        return;
    }
    evutil_make_socket_nonblocking(fd);
    /* arg: the TLS context of the listener it came through, or NULL */
    cu->sess = arg != NULL ? smpp_session_new_tls(fd, peer, &smpp_server_ops, cu,
                                                  smpp_tls_ssl(arg, NULL, 0))
                           : smpp_session_new(fd, peer, &smpp_server_ops, cu);
    if (cu->sess == NULL) {
        free(cu);
        return;
    }
    /* an idle connection must not hold one of SMPP_MAX_CUSTOMERS forever */
    cu->sess->expire_ms = gw_now_ms() + (int64_t)smpp_response_timeout_s * 1000;
    cu->next = smpp_customers;
    smpp_customers = cu;
    smpp_ncustomers++;
    GW_DEBUG(SMPP_MOD, "%s: customer connected", peer);
}

static void smpp_server_stats(void)
{
    if (smpp_stat_per_ip != NULL)
        return;
    smpp_stat_per_ip = gw_stat("smpp.server_refused_per_ip",
                               "customer connections closed: smpp.server_max_per_ip reached");
    smpp_stat_window_full = gw_stat("smpp.server_window_full",
                                    "customer submit_sm answered ESME_RMSGQFUL: "
                                    "smpp.server_window unanswered already");
    smpp_stat_throttled = gw_stat("smpp.server_throttled",
                                  "customer submit_sm answered ESME_RTHROTTLED: "
                                  "over the account's throughput");
    smpp_stat_backoff = gw_stat("smpp.server_bind_backoff",
                                "customer binds refused unchecked after repeated failures "
                                "from the same address or for the same system_id");
    smpp_cancel_stats();
}

/* A listener on addr:port whose sessions speak TLS of ctx (NULL: plain). */
static int smpp_server_bind_port(const char *addr, int port, void *ctx, struct evconnlistener **out)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    char spec[128];

    smpp_server_stats();
    snprintf(spec, sizeof(spec), strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr, port);
    memset(&ss, 0, sizeof(ss));
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) < 0) {
        GW_ERR(SMPP_MOD, "smpp.listen: bad address %s", spec);
        return GW_EINVAL;
    }
    *out = evconnlistener_new_bind(smpp_base, smpp_server_accept_cb, ctx,
                                   LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, 128,
                                   (struct sockaddr *)&ss, sslen);
    if (*out == NULL) {
        GW_ERR(SMPP_MOD, "cannot listen on %s: %s", spec,
               evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return GW_ERROR;
    }
    GW_INFO(SMPP_MOD, "SMSC port listening on %s%s", spec, ctx ? " (TLS)" : "");
    return 0;
}

int smpp_server_listen(const char *addr, int port)
{
    return smpp_server_bind_port(addr, port, NULL, &smpp_listener);
}

int smpp_server_listen_tls(const char *addr, int port, const char *cert, const char *key)
{
    char err[256];

    smpp_tls_ctx = smpp_tls_server_ctx(cert, key, err, sizeof err);
    if (smpp_tls_ctx == NULL) {
        GW_ERR(SMPP_MOD, "smpp.tls_port %d: %s", port, err);
        return GW_EINVAL;
    }
    return smpp_server_bind_port(addr, port, smpp_tls_ctx, &smpp_tls_listener);
}

void smpp_server_quiesce(void)
{
    smpp_customer_t *cu, *next;

    smpp_dest_stopping = 1;
    if (smpp_listener)
        evconnlistener_free(smpp_listener);
    smpp_listener = NULL;
    if (smpp_tls_listener)
        evconnlistener_free(smpp_tls_listener);
    smpp_tls_listener = NULL;
    for (cu = smpp_customers; cu; cu = next) {
        next = cu->next; /* finish may free cu right away */
        if (cu->bound_as && !cu->sess->finishing &&
            smpp_session_request(cu->sess, UNBIND, NULL, NULL) == 0)
            continue; /* unbind_resp, a close or the response timer ends it */
        smpp_session_finish(cu->sess, "shutting down");
    }
}

static const char *smpp_bound_name(uint32_t bound_as)
{
    switch (bound_as) {
    case BIND_TRANSMITTER:
        return "transmitter";
    case BIND_RECEIVER:
        return "receiver";
    case BIND_TRANSCEIVER:
        return "transceiver";
    default:
        return NULL;
    }
}

json_t *smpp_server_sessions(void)
{
    json_t *arr = json_array();
    const smpp_customer_t *cu;

    for (cu = smpp_customers; arr != NULL && cu != NULL; cu = cu->next) {
        const smpp_session_t *s = cu->sess;
        const char *as = smpp_bound_name(cu->bound_as);
        /* a bind being checked names a system_id nobody vouched for yet */
        json_t *e = json_pack("{s:o, s:s, s:o, s:I, s:I, s:i, s:i, s:I, s:I, s:b}", "system_id",
                              as ? json_string(cu->system_id) : json_null(), "peer", s->peer,
                              "bound_as", as ? json_string(as) : json_null(), "since",
                              (json_int_t)(as ? cu->bound_ms : s->created_ms), "connected_at",
                              (json_int_t)s->created_ms, "inflight", (int)s->nreqs,
                              "pending_in", s->pending_in, "rx", (json_int_t)s->rx_pdus, "tx",
                              (json_int_t)s->tx_pdus, "closing", s->finishing != 0);
        if (e == NULL || json_array_append_new(arr, e) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

void smpp_server_unbind_account(const char *system_id)
{
    smpp_customer_t *cu, *next;

    for (cu = smpp_customers; cu; cu = next) {
        next = cu->next; /* finish may free cu right away */
        if (!cu->bound_as || cu->sess->finishing || strcmp(cu->system_id, system_id) != 0)
            continue;
        GW_INFO(SMPP_MOD, "%s: account %s disabled, unbinding its session", cu->sess->peer,
                system_id);
        if (smpp_session_request(cu->sess, UNBIND, NULL, NULL) != 0)
            smpp_session_finish(cu->sess, "account disabled");
    }
}

int smpp_server_busy(void)
{
    return smpp_customers != NULL;
}

void smpp_server_stop(void)
{
    smpp_customer_t *cu;
    smpp_acct_t *a;

    if (smpp_listener)
        evconnlistener_free(smpp_listener);
    smpp_listener = NULL;
    if (smpp_tls_listener)
        evconnlistener_free(smpp_tls_listener);
    smpp_tls_listener = NULL;
    smpp_dest_stopping = 1;
    while ((cu = smpp_customers) != NULL) {
        smpp_customers = cu->next;
        smpp_server_drop_reqs(cu->sess);
        smpp_session_free(cu->sess);
        free(cu);
    }
    smpp_ncustomers = 0;
    while ((a = smpp_accts) != NULL) {
        smpp_accts = a->next;
        free(a);
    }
    smpp_tls_ctx_free(smpp_tls_ctx); /* its sessions are gone */
    smpp_tls_ctx = NULL;
}
