/*
 * sip_uac.c - outbound MESSAGE: non-INVITE client transactions.
 *
 * sip_conn_send() (any thread) queues an envelope to a worker; the worker
 * builds a MESSAGE (sip_uac_build), sends it from its UDP socket and keeps
 * a client transaction (RFC 3261 section 17.1.2): Timer E retransmits at
 * T1, doubling up to T2 (T2 only, once a provisional response came), and
 * Timer F gives up after 64*T1.  One libevent timer per transaction does
 * both: it fires at the next retransmission or at Timer F, whichever is
 * first.
 *
 * Responses reach whichever worker's SO_REUSEPORT socket the kernel picks,
 * so the branch names its owner: "z9hG4bK-jn<worker>-<random>".  The worker
 * that read a response hands it to the owner through its queue.
 *
 * The reply connector (SIP_REPLY_CONN, conf {"reply": true}) sends the
 * delivery reports gateway/gw_report_sip.c makes for SIP senders who
 * asked: to the address and URI the original left in its tags, with the
 * body sip_report.c writes (IMDN in CPIM, or text).  Every MESSAGE out
 * carries the X-SMS-* headers of its envelope (sip_report_headers).
 *
 * Outcomes (SIP has no receipts: a 2xx from the far UAS is delivery):
 *   2xx                    gw_core_delivered
 *   408, 5xx, Timer F      gw_core_retry (the core backs off and re-sends)
 *   3xx, other 4xx, 6xx    gw_core_failed
 *
 * A binary envelope goes out as its octets with its content_type
 * (application/octet-stream from the back-office surfaces); one with a
 * user data header (tag "udh", gw_binary.h) fails for good with 488: a
 * MESSAGE body has no place for it.
 *
 * Threads: the owning worker's thread.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "gw_binary.h"
#include "gw_core.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "sip.h"
#include "sip_tsx.h"

#define SIP_UAC_BUCKETS 1024

typedef struct sip_ctxn {
    sip_uac_t *u;
    char branch[64];
    sip_conn_t *conn;    /* reference */
    gw_delivery_t *d;    /* owned until handed back to the core */
    sip_sa_t dest;           /* conn's target, or a report's sip.reply_to */
    char *msg;
    size_t len;
    struct event *timer;
    int64_t deadline_ms; /* Timer F */
    int interval_ms;     /* Timer E */
    int proceeding;
    struct sip_ctxn *hnext;
} sip_ctxn_t;

struct sip_uac {
    sip_worker_t *w;
    sip_ctxn_t *buckets[SIP_UAC_BUCKETS];
    size_t count; /* atomic: written by the owner, read by the scaler */
};

static size_t sip_uac_hash(const char *s)
{
    size_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h % SIP_UAC_BUCKETS;
}

/* A new empty set of client transactions for w.  Main thread (init). */
sip_uac_t *sip_uac_new(sip_worker_t *w)
{
    sip_uac_t *u = calloc(1, sizeof(*u));
    if (u)
        u->w = w;
    return u;
}

/* Unlink t from its bucket and free it, dropping its references (a caller
 * that passed d back to the core sets t->d to NULL first). */
static void sip_ctxn_free(sip_ctxn_t *t)
{
    sip_ctxn_t **pp = &t->u->buckets[sip_uac_hash(t->branch)];
    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = t->hnext;
    __atomic_sub_fetch(&t->u->count, 1, __ATOMIC_RELAXED);
    if (t->timer)
        event_free(t->timer);
    free(t->msg);
    gw_dlv_free(t->d);
    __atomic_sub_fetch(&t->conn->inflight, 1, __ATOMIC_RELAXED);
    sip_conn_unref(t->conn);
    free(t);
}

/* See sip.h.  Any thread. */
size_t sip_uac_count(const sip_uac_t *u)
{
    return __atomic_load_n(&u->count, __ATOMIC_RELAXED);
}

/* See sip.h.  Main thread after the worker stopped. */
void sip_uac_free(sip_uac_t *u)
{
    if (!u)
        return;
    for (int b = 0; b < SIP_UAC_BUCKETS; b++) {
        while (u->buckets[b])
            sip_ctxn_free(u->buckets[b]);
    }
    free(u);
}

/* The SIP user part of an address (gw_addr_sip_user: "+digits" for an
 * international number, the user of a SIP URI, ...), malloc'd; NULL when
 * it has none. */
static char *sip_uac_user(const gw_addr_t *a)
{
    char buf[256];

    if (!a->address || !a->address[0] || gw_addr_sip_user(a, buf, sizeof buf) != 0)
        return NULL;
    return strdup(buf);
}

/* URI text of conn's uri with its user replaced by user when it has none. */
static char *sip_uac_ruri(const sip_conn_t *conn, const char *user)
{
    osip_uri_t *uri = NULL;
    char *text = NULL, *out = NULL;

    if (osip_uri_clone(conn->uri, &uri) != 0)
        return NULL;
    if (!uri->username && user)
        osip_uri_set_username(uri, osip_strdup(user));
    if (osip_uri_to_str(uri, &text) == 0 && text)
        out = strdup(text);
    osip_free(text);
    osip_uri_free(uri);
    return out;
}

/* From URI: a sip-uri source address as it is, else user@domain. */
static char *sip_uac_from_uri(const sip_conn_t *conn, const gw_envelope_t *env,
                              const char *local_ip)
{
    osip_uri_t *uri = NULL;
    char *user, *text = NULL, *out = NULL, port[8];

    if (env->from.type == GW_ADDR_SIP_URI && env->from.address &&
        strncasecmp(env->from.address, "sip:", 4) == 0)
        return strdup(env->from.address);
    user = sip_uac_user(&env->from);
    if (osip_uri_init(&uri) != 0) {
        free(user);
        return NULL;
    }
    uri->scheme = osip_strdup("sip");
    uri->username = osip_strdup(user ? user : "anonymous");
    if (conn->from_domain) {
        uri->host = osip_strdup(conn->from_domain);
    } else {
        uri->host = osip_strdup(local_ip);
        if (sip_conf.port != 5060) {
            snprintf(port, sizeof(port), "%d", sip_conf.port);
            uri->port = osip_strdup(port);
        }
    }
    if (osip_uri_to_str(uri, &text) == 0 && text)
        out = strdup(text);
    osip_free(text);
    osip_uri_free(uri);
    free(user);
    return out;
}

/* The Request-URI of env on conn: the reply connector's is the sender's
 * From URI (tag sip.reply_uri), a target's its uri with the destination
 * as user.  malloc'd, or NULL. */
static char *sip_uac_target(const sip_conn_t *conn, const gw_envelope_t *env)
{
    const char *reply = json_string_value(json_object_get(env->tags, SIP_TAG_REPLY_URI));
    char *user, *ruri;

    if (conn->reply)
        return reply ? strdup(reply) : NULL;
    user = sip_uac_user(&env->to);
    ruri = sip_uac_ruri(conn, user);
    free(user);
    return ruri;
}

/* See sip.h. */
char *sip_uac_build(const sip_conn_t *conn, const gw_envelope_t *env, const char *local_ip,
                    const char *branch, const char *from_tag, const char *call_id, size_t *len)
{
    char *ruri = sip_uac_target(conn, env);
    char *from = sip_uac_from_uri(conn, env, local_ip);
    char bodybuf[2048];
    gw_jbuf_t b = {0}, body = GW_JBUF_IN(bodybuf);
    const char *ctype =
        env->binary && env->content_type ? env->content_type : "text/plain;charset=UTF-8";
    char *out = NULL;

    if (!ruri || !from)
        goto out_free;
    if (env->report.of != NULL && conn->reply) {
        if (sip_report_body(env, from, ruri, &body, &ctype) != 0)
            goto out_free;
    } else if (env->body && env->body_len) {
        gw_jbuf_put(&body, env->body, env->body_len);
    }
    sip_jbuf_printf(&b,
                "MESSAGE %s SIP/2.0\r\n"
                "Via: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n"
                "Max-Forwards: 70\r\n"
                "From: <%s>;tag=%s\r\n"
                "To: <%s>\r\n"
                "Call-ID: %s@%s\r\n"
                "CSeq: 1 MESSAGE\r\n"
                "User-Agent: junction\r\n",
                ruri, local_ip, sip_conf.port, branch, from, from_tag, ruri, call_id, local_ip);
    sip_report_headers(env, &b);
    sip_jbuf_printf(&b, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", ctype, body.len);
    gw_jbuf_put(&b, body.p, body.len);
    if (!b.oom && !body.oom) {
        *len = b.len;
        out = gw_jbuf_done(&b);
        b = (gw_jbuf_t){0}; /* out owns the text now */
    }
out_free:
    gw_jbuf_free(&b);
    gw_jbuf_free(&body);
    free(ruri);
    free(from);
    return out;
}

static void sip_ctxn_transmit(sip_ctxn_t *t)
{
    sip_peer_t p = {.addr = t->dest, .conn_id = 0};
    sip_worker_send(t->u->w, &p, t->msg, t->len);
}

static void sip_ctxn_arm(sip_ctxn_t *t, int64_t now)
{
    int64_t wait = t->interval_ms;
    struct timeval tv;
    if (now + wait > t->deadline_ms)
        wait = t->deadline_ms - now;
    if (wait < 0)
        wait = 0;
    tv.tv_sec = wait / 1000;
    tv.tv_usec = (wait % 1000) * 1000;
    evtimer_add(t->timer, &tv);
}

/* Timer E (retransmit) or Timer F (give up). */
static void sip_ctxn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    sip_ctxn_t *t = arg;
    int64_t now = gw_now_ms();
    (void)fd;
    (void)what;

    if (now >= t->deadline_ms) {
        GW_INFO(SIP_LOG, "MESSAGE %s to %s: no final response (Timer F)", t->d->env->id,
                t->conn->uri_text);
        __atomic_add_fetch(&t->conn->failed, 1, __ATOMIC_RELAXED);
        gw_stat_add(sip_stats.uac_retry, 1);
        gw_core_retry(t->d, 408, "Request Timeout");
        t->d = NULL; /* the core took our reference */
        sip_ctxn_free(t);
        return;
    }
    gw_stat_add(sip_stats.tx_retrans, 1);
    sip_ctxn_transmit(t);
    if (!t->proceeding && t->interval_ms * 2 <= SIP_T2_MS)
        t->interval_ms *= 2;
    else
        t->interval_ms = SIP_T2_MS;
    sip_ctxn_arm(t, now);
}

/* Where t's MESSAGE goes: the connector's target, or for the reply
 * connector the report's sip.reply_to ("ip:port").  0 or GW_EINVAL. */
static int sip_uac_dest(sip_ctxn_t *t)
{
    const char *to = json_string_value(json_object_get(t->d->env->tags, SIP_TAG_REPLY_TO));

    if (!t->conn->reply) {
        t->dest = t->conn->dest;
        return 0;
    }
    /* "1.2.3.4:5060" or "[::1]:5060" (sip_uas.c wrote it) */
    return to != NULL && sip_sa_parse(to, &t->dest) == 0 ? 0 : GW_EINVAL;
}

/* Our address towards t->dest for Via and From: the connector's (found
 * when it opened), or for the reply connector sip.listen, asking the
 * routing table when that is the wildcard (a connect() on a UDP socket
 * sends nothing). */
static void sip_uac_local_ip(const sip_ctxn_t *t, char *out, size_t n)
{
    sip_sa_t local;
    socklen_t llen = sizeof local;
    const char *lip = t->dest.sa.sa_family == AF_INET6 && sip_conf.listen6[0] != '\0'
                          ? sip_conf.listen6
                          : sip_conf.listen;
    int fd;

    snprintf(out, n, "%s", t->conn->local_ip);
    if (!t->conn->reply)
        return;
    sip_host_of_ip(lip, out, n);
    if (strcmp(lip, "0.0.0.0") != 0 && strcmp(lip, "::") != 0)
        return;
    fd = socket(t->dest.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, &t->dest.sa, sip_sa_len(&t->dest)) == 0 &&
        getsockname(fd, &local.sa, &llen) == 0)
        sip_sa_host(&local, out, n);
    if (fd >= 0)
        close(fd);
}

/* A SEND item: start a client transaction.  Takes the item's env and conn
 * references.  Worker thread. */
void sip_uac_send(sip_worker_t *w, sip_uac_t *u, sip_item_t *it)
{
    sip_ctxn_t *t = calloc(1, sizeof(*t));
    char tag[17], cid[33], rnd[17], local_ip[64];
    size_t b;

    if (!t) {
        gw_core_retry(it->dlv, 500, "out of memory");
        it->dlv = NULL;
        return;
    }
    t->u = u;
    t->d = it->dlv;
    t->conn = it->conn;
    it->dlv = NULL;
    it->conn = NULL;
    sip_random_hex(rnd, 8);
    sip_random_hex(tag, 8);
    sip_random_hex(cid, 16);
    snprintf(t->branch, sizeof(t->branch), SIP_BRANCH_PREFIX "%d-%s", sip_worker_index(w), rnd);
    b = sip_uac_hash(t->branch);
    t->hnext = u->buckets[b];
    u->buckets[b] = t;
    __atomic_add_fetch(&u->count, 1, __ATOMIC_RELAXED);
    if (sip_uac_dest(t) != 0) {
        /* a report whose sender left no address to answer to: nothing
         * will change that, so it fails for good */
        GW_ERR(SIP_LOG, "MESSAGE %s: no usable %s", t->d->env->id, SIP_TAG_REPLY_TO);
        gw_stat_add(sip_stats.uac_failed, 1);
        gw_core_failed(t->d, 400, "no address to send the report to");
        t->d = NULL;
        sip_ctxn_free(t);
        return;
    }
    if (t->d->env->binary && json_object_get(t->d->env->tags, GW_BIN_TAG_UDH) != NULL) {
        /* a MESSAGE body has no place for a user data header: sending
         * the octets without it would hand the far side something else */
        GW_WARN(SIP_LOG, "MESSAGE %s: binary with a user data header, not sent over SIP",
                t->d->env->id);
        gw_stat_add(sip_stats.uac_failed, 1);
        gw_core_failed(t->d, 488, "a binary message with a user data header (udh) cannot be "
                                  "carried by SIP MESSAGE");
        t->d = NULL;
        sip_ctxn_free(t);
        return;
    }
    sip_uac_local_ip(t, local_ip, sizeof local_ip);
    t->msg = sip_uac_build(t->conn, t->d->env, local_ip, t->branch, tag, cid, &t->len);
    t->timer = evtimer_new(sip_worker_base(w), sip_ctxn_on_timer, t);
    if (!t->msg || !t->timer) {
        GW_ERR(SIP_LOG, "MESSAGE %s: cannot build the request", t->d->env->id);
        __atomic_add_fetch(&t->conn->failed, 1, __ATOMIC_RELAXED);
        gw_core_retry(t->d, 500, "cannot build SIP MESSAGE");
        t->d = NULL;
        sip_ctxn_free(t);
        return;
    }
    t->interval_ms = sip_tsx_t1();
    t->deadline_ms = gw_now_ms() + 64 * sip_tsx_t1(); /* Timer F */
    gw_stat_add(sip_stats.tx_message, 1);
    GW_DEBUG(SIP_LOG, "MESSAGE %s -> %s branch %s", t->d->env->id, t->conn->uri_text, t->branch);
    sip_ctxn_transmit(t);
    sip_ctxn_arm(t, gw_now_ms());
}

/* A RESPONSE item for one of u's transactions.  Worker thread. */
void sip_uac_response(sip_worker_t *w, sip_uac_t *u, sip_item_t *it)
{
    sip_ctxn_t *t = u->buckets[sip_uac_hash(it->branch)];
    const char *reason = it->reason ? it->reason : "";
    (void)w;

    while (t && strcmp(t->branch, it->branch) != 0)
        t = t->hnext;
    if (!t)
        return; /* a retransmitted final response: the transaction is over */
    if (it->status < 200) {
        t->proceeding = 1;
        return;
    }
    GW_DEBUG(SIP_LOG, "MESSAGE %s: %d %s", t->d->env->id, it->status, reason);
    if (it->status < 300) {
        __atomic_add_fetch(&t->conn->sent, 1, __ATOMIC_RELAXED);
        gw_stat_add(sip_stats.uac_2xx, 1);
        if (t->d->env->report.of != NULL)
            gw_stat_add(sip_stats.tx_report, 1);
        gw_core_delivered(t->d);
        t->d = NULL;
    } else if (it->status == 408 || (it->status >= 500 && it->status < 600)) {
        __atomic_add_fetch(&t->conn->failed, 1, __ATOMIC_RELAXED);
        gw_stat_add(sip_stats.uac_retry, 1);
        gw_core_retry(t->d, it->status, reason);
        t->d = NULL;
    } else {
        __atomic_add_fetch(&t->conn->failed, 1, __ATOMIC_RELAXED);
        gw_stat_add(sip_stats.uac_failed, 1);
        gw_core_failed(t->d, it->status, reason);
        t->d = NULL;
    }
    sip_ctxn_free(t);
}

/* See sip.h.  Takes ownership of resp.  Worker thread. */
void sip_uac_dispatch(sip_worker_t *w, osip_message_t *resp)
{
    osip_via_t *via = osip_list_get(&resp->vias, 0);
    osip_generic_param_t *br = NULL;
    const size_t plen = strlen(SIP_BRANCH_PREFIX);
    sip_item_t *it = NULL;
    sip_worker_t *owner;
    char *end;
    long idx;

    if (via)
        osip_via_param_get_byname(via, "branch", &br);
    if (!br || !br->gvalue || strncmp(br->gvalue, SIP_BRANCH_PREFIX, plen) != 0 ||
        !resp->cseq || !resp->cseq->method || strcmp(resp->cseq->method, "MESSAGE") != 0)
        goto out_drop;
    idx = strtol(br->gvalue + plen, &end, 10);
    owner = sip_worker_get((int)idx);
    if (end == br->gvalue + plen || *end != '-' || !owner)
        goto out_drop;
    it = calloc(1, sizeof(*it));
    if (!it || !(it->branch = strdup(br->gvalue)))
        goto out_drop;
    it->kind = SIP_ITEM_RESPONSE;
    it->status = resp->status_code;
    it->reason = resp->reason_phrase ? strdup(resp->reason_phrase) : NULL;
    osip_message_free(resp);
    if (owner == w) {
        sip_uac_response(w, sip_worker_uac(w), it);
        sip_item_free(it);
    } else if (sip_worker_push(owner, it) != 0) {
        sip_item_free(it);
    }
    return;

out_drop:
    gw_stat_add(sip_stats.drops, 1);
    sip_item_free(it);
    osip_message_free(resp);
}
