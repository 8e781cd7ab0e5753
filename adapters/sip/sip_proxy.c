/*
 * sip_proxy.c - the stateful proxy (RFC 3261 section 16): a request in.
 *
 * sip_uas.c hands over every request that is neither a MESSAGE for the
 * gateway nor a REGISTER nor an OPTIONS for us: before libosip2 parses
 * it, read with the byte view only (sip_proxy_input), or after
 * (sip_proxy_takes, sip_proxy_request) when the view refused it or
 * sip_uas.c is to answer it.  With
 * sip.proxy_mode stateless a request from a UDP source that has no
 * transaction goes to sip_proxy_sl.c after validation and Route
 * preprocessing (a CANCEL or retransmission too: forwarded).  Here:
 *   ACK       matching an INVITE server transaction: absorbed (the ACK of
 *             a non-2xx final, hop by hop); else forwarded statelessly by
 *             its Route / Request-URI (the end-to-end ACK of a 2xx);
 *   CANCEL    matching one: 200 at once, a CANCEL on every live branch
 *             (sip_px_cancel); else 481;
 *   a retransmission of a request that has a server transaction: the
 *             last response again (the machine of sip_tsx.c says when);
 *   new       validation (16.3: Proxy-Require 420, a loop 482; 483 for
 *             Max-Forwards 0 is sip_check_request's), Route preprocessing
 *             (16.4: strict-router rewrite, our own top Route removed),
 *             targets (16.5: the top Route; else a local address of
 *             record's bindings, 480 / 404 without; a rule of the
 *             router naming sip_trunk connectors (sip_trunk_route.c) for
 *             an unregistered local number or a Request-URI not ours;
 *             else an IPv4 literal host; a host name is 503: no DNS yet;
 *             with sip.auth an untrusted local caller or relay is
 *             challenged 407 (sip_proxy_auth.c); else relaying anywhere
 *             but to a local user is 403 from an untrusted source outside
 *             a dialog we record-routed: sip_px_may_relay), a server transaction
 *             (IST with 100 Trying at once, or NIST), then the first
 *             serial step of branches (sip_proxy_branch.c).
 *
 * Each worker has its own table of transactions (by server key) and of
 * branches (by our Via branch; sip_proxy_table.c), reached only from its
 * thread, so no lock:
 * the branch names the worker ("z9hG4bK-jp<worker>-..."), and a response
 * another worker reads is queued to the owner (sip_proxy_response).  One
 * libevent timer per transaction fires at the earliest of its machines'
 * deadlines.  Counts of transactions by kind and state are atomics, read
 * by MI sip.transactions.stats.
 *
 * Ownership: a transaction owns its request copy, its last response, its
 * branches' requests and responses and its timer; freed once its server
 * transaction and every branch are terminated (sip_px_settle), or at
 * sip_proxy_free_all.
 * Threads: the owning worker; sip_proxy_init on the main thread.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_trace.h"
#include "gw_trusted.h"
#include "sip_dialog.h"
#include "sip_proxy.h"

sip_proxy_conf_t sip_proxy_conf;
sip_proxy_stats_t sip_proxy_stats;
sip_px_self_t sip_px_self;

void sip_px_trace(const sip_px_txn_t *tx, const char *fmt, ...)
{
    gw_trace_rec_t r = {0};
    char summary[256], peer[SIP_ADDR_MAX];
    va_list ap;

    if (!gw_trace_on())
        return;
    va_start(ap, fmt);
    vsnprintf(summary, sizeof summary, fmt, ap);
    va_end(ap);
    sip_sa_str(&tx->src.addr, peer, sizeof peer);
    r.kind = GW_TRACE_LOG;
    r.connector = "sip";
    r.peer = peer;
    r.call_id = tx->call_id;
    r.summary = summary;
    gw_trace_record(&r);
}

/* See sip_proxy.h.  Worker thread. */
void sip_px_local_ip(const sip_sa_t *dst, char *out, size_t n)
{
    sip_sa_t local;
    socklen_t llen = sizeof local;
    int v6 = dst != NULL && dst->sa.sa_family == AF_INET6;
    const char *lip = v6 && sip_conf.listen6[0] != '\0' ? sip_conf.listen6 : sip_conf.listen;
    int fd;

    if (dst == NULL || (strcmp(lip, "0.0.0.0") != 0 && strcmp(lip, "::") != 0)) {
        /* the host form of the configured address, made once per thread
         * and address (this runs per forwarded request) */
        static __thread char last_lip[SIP_ADDR_MAX], last_host[SIP_ADDR_MAX];
        if (strcmp(lip, last_lip) != 0 || last_host[0] == '\0') {
            sip_host_of_ip(lip, last_host, sizeof last_host);
            snprintf(last_lip, sizeof last_lip, "%s", lip);
        }
        size_t l = strlen(last_host);
        if (n == 0)
            return;
        l = l < n ? l : n - 1;
        memcpy(out, last_host, l);
        out[l] = '\0';
        return;
    }
    snprintf(out, n, "%s", v6 ? "[::1]" : sip_px_self.naddr ? sip_px_self.addr[0] : "127.0.0.1");
    fd = socket(dst->sa.sa_family, SOCK_DGRAM, 0);
    if (fd >= 0 && connect(fd, &dst->sa, sip_sa_len(dst)) == 0 &&
        getsockname(fd, &local.sa, &llen) == 0)
        sip_sa_host(&local, out, n);
    if (fd >= 0)
        close(fd);
}

/* Where responses to the request of v from src go: the source address,
 * with the Via's port unless rport was asked for (18.2.2, RFC 3581). */
static sip_peer_t sip_px_reply_peer(const sip_view_t *v, const sip_peer_t *src)
{
    sip_peer_t p = *src;
    sip_view_via_t via;

    if (p.conn_id == 0 && sip_view_via(v, 0, &via) == 0 && via.rport < 0)
        sip_sa_set_port(&p.addr, via.port > 0 ? via.port : 5060);
    return p;
}

/* A response of ours to the request text req[0..n) from src, into b. */
static int sip_px_build_reply(const char *req, size_t n, const sip_peer_t *src, int status,
                              const char *reason, const char *to_tag, const char *extra,
                              gw_jbuf_t *b)
{
    char ip[INET6_ADDRSTRLEN];
    int rc;

    sip_sa_ip(&src->addr, ip, sizeof ip);
    sip_jbuf_printf(b, "SIP/2.0 %d %s\r\n", status, reason);
    rc = sip_resp_headers(req, n, to_tag, ip, sip_sa_port(&src->addr), b);
    if (rc == 0) {
        gw_jbuf_puts(b, "Server: junction\r\n");
        if (extra)
            gw_jbuf_puts(b, extra);
        gw_jbuf_puts(b, "Content-Length: 0\r\n\r\n");
        rc = b->oom ? GW_ENOMEM : 0;
    }
    return rc;
}

/* See sip_proxy.h: a stray CANCEL, a refusal before a transaction is
 * made, stateless mode's answers. */
void sip_px_reply_bare(sip_worker_t *w, const sip_view_t *v, const sip_peer_t *src, int status,
                       const char *reason, const char *extra)
{
    char tag[17];
    gw_jbuf_t b = {0};
    sip_peer_t dst = sip_px_reply_peer(v, src);

    sip_random_hex(tag, 8);
    if (sip_px_build_reply(v->buf + v->start, v->len - v->start, src, status, reason,
                           v->to_tag.len ? NULL : tag, extra, &b) == 0)
        sip_worker_send(w, &dst, b.p, b.len);
    gw_jbuf_free(&b);
}

int sip_px_send_up(sip_px_txn_t *tx, const char *resp, size_t len, int status)
{
    int old = (int)tx->tsx.state, rc = 0;
    unsigned act;
    char *copy;

    if (tx->invite && status >= 200 && status < 300 && tx->tsx.state == SIP_TSX_ACCEPTED) {
        /* another 2xx of the INVITE (a fork, a retransmission): forwarded */
        sip_worker_send_soon(tx->w, &tx->reply_to, resp, len);
        gw_stat_add(sip_proxy_stats.responses, 1);
        return 0;
    }
    act = sip_tsx_response_out(&tx->tsx, status, sip_px_now());
    sip_px_count(tx->tsx.kind, old, (int)tx->tsx.state);
    if (act & SIP_TSX_REFUSED)
        return GW_EINVAL;
    if (tx->invite && !tx->has_to_tag && status >= 300)
        sip_dlg_unanswered(tx, status); /* a call's CDR without answer */
    sip_worker_send_soon(tx->w, &tx->reply_to, resp, len);
    gw_stat_add(sip_proxy_stats.responses, 1);
    copy = malloc(len);
    if (copy) {
        memcpy(copy, resp, len);
        free(tx->last);
        tx->last = copy;
        tx->last_len = len;
    }
    if (status >= 200)
        tx->final_sent = 1;
    if (status >= 200 && !tx->invite) {
        /* the NIST now only resends tx->last: the request copy goes, so the
         * transactions lingering for Timer J hold less (an INVITE keeps
         * its: a forked 2xx makes its dialog from it) */
        free(tx->req);
        tx->req = NULL;
    }
    return rc;
}

void sip_px_reply(sip_px_txn_t *tx, int status, const char *reason, const char *extra)
{
    gw_jbuf_t b = {0};

    if (!tx->req)
        return; /* a non-INVITE whose final went up: no other answer is sent */
    /* only an answer to a request outside a dialog gets our To tag, made
     * with the first answer that needs it */
    if (!tx->has_to_tag && status != 100 && !tx->to_tag[0])
        sip_random_hex(tx->to_tag, 8);
    if (sip_px_build_reply(tx->req, tx->len, &tx->src, status, reason,
                           tx->has_to_tag || status == 100 ? NULL : tx->to_tag, extra, &b) == 0)
        sip_px_send_up(tx, b.p, b.len, status);
    gw_jbuf_free(&b);
}

/* See sip_proxy.h. */
void sip_px_due(sip_px_txn_t *tx, int64_t now)
{
    sip_px_timers(tx, now);
    sip_px_settle(tx);
}

int sip_px_settle(sip_px_txn_t *tx)
{
    int live = tx->tsx.state != SIP_TSX_TERMINATED;
    int64_t at;

    for (int i = 0; i < tx->nb && !live; i++)
        live = tx->b[i].started && tx->b[i].tsx.state != SIP_TSX_TERMINATED;
    if (!live) {
        sip_px_txn_free(tx);
        return 1;
    }
    at = sip_px_deadline(tx);
    if (at != 0)
        sip_px_txn_arm(tx, at);
    return 0;
}

/* The method of v appended to key (of n bytes), cut short as snprintf would. */
static void sip_px_key_method(char *key, size_t n, const sip_view_t *v)
{
    size_t kl = strlen(key), ml = v->method_tok.len;

    if (kl + 1 >= n)
        return;
    if (ml > n - 1 - kl)
        ml = n - 1 - kl;
    memcpy(key + kl, v->buf + v->method_tok.off, ml);
    key[kl + ml] = '\0';
}

/* The server transaction key of v: the top Via's branch, sent-by and the
 * method (an ACK or CANCEL names its INVITE's, method given); RFC 2543
 * clients: Call-ID, CSeq number, From tag. */
static int sip_px_key(const sip_view_t *v, const char *method, char *key, size_t n)
{
    sip_view_via_t via;
    size_t ml = strlen(method);
    int len;

    if (sip_view_via(v, 0, &via) != 0)
        return GW_EINVAL;
    if (via.rfc3261) { /* the hot path, without printf: branch|host:port|method */
        char port[24];
        int pl = (int)gw_put_uint(port, (unsigned)via.port);
        size_t need = via.branch.len + 1 + via.host.len + 1 + (size_t)pl + 1 + ml;
        char *p = key;
        if (need >= n)
            return GW_EINVAL;
        memcpy(p, v->buf + via.branch.off, via.branch.len);
        p += via.branch.len;
        *p++ = '|';
        memcpy(p, v->buf + via.host.off, via.host.len);
        p += via.host.len;
        *p++ = ':';
        memcpy(p, port, (size_t)pl);
        p += pl;
        *p++ = '|';
        memcpy(p, method, ml + 1);
        return 0;
    } else
        len = snprintf(key, n, "%.*s|%u|%.*s|%s", (int)v->call_id.len, v->buf + v->call_id.off,
                       v->cseq, (int)v->from_tag.len, v->buf + v->from_tag.off, method);
    return len > 0 && (size_t)len < n ? 0 : GW_EINVAL;
}

/* A binding's source "udp:1.2.3.4:5060" / "tcp:[::1]:5070" into sa and
 * *proto: 0, or -1.  A TCP source is the phone's own connection (RFC 5626
 * style reuse: sip_tcp.c finds the live connection with that remote
 * address); once that closed, the Contact is used instead. */
static int sip_px_source(const char *s, sip_sa_t *sa, int *proto)
{
    return sip_source_parse(s, proto, sa);
}

/* u's host when it is an IP literal (IPv4 or [IPv6]) with its port (5060
 * when absent): 0, or -1 (a name needs DNS). */
static int sip_px_uri_dest(const sip_px_uri_t *u, sip_sa_t *sa)
{
    int port = u->port ? u->port : u->proto == SIP_PROTO_TLS ? 5061 : 5060;

    return u->ip ? sip_sa_from_host(u->host, strlen(u->host), port, sa) : -1;
}

/* 1 when u is a local address of record: our own address, or a host
 * name that is one of sip.domains (sip_reg_is_local). */
static int sip_px_local_aor(const sip_px_uri_t *u)
{
    if (u->user[0] == '\0')
        return 0;
    if (u->ip)
        return sip_px_is_self(&sip_px_self, u, 1);
    return sip_reg_is_local(u->host);
}

/* The address of record of u as the registrar keys it; -1 when too long. */
static int sip_px_aor(const sip_px_uri_t *u, char *aor, size_t n)
{
    return sip_aor_make(u->scheme, u->user, u->host, aor, n); /* the registrar's key */
}

/* See sip_proxy.h.  tx->stateless: an ACK without transaction or
 * stateless mode (sip_proxy_sl.c): the first target is taken, no rule
 * of the router is asked. */
int sip_px_targets(const sip_view_t *v, sip_px_txn_t *tx, const char **reason)
{
    sip_view_addr_t a;
    sip_px_uri_t u;
    sip_binding_t bs[SIP_LOC_CONTACTS_MAX];
    int q[SIP_LOC_CONTACTS_MAX], order[SIP_LOC_CONTACTS_MAX], group[SIP_LOC_CONTACTS_MAX];
    unsigned ri = tx->del_top_route ? 1 : 0;
    char aor[SIP_AOR_MAX];
    int n;

    if (sip_view_route(v, ri, &a) == 0) { /* loose routing: the top Route */
        if (sip_px_uri_parse(v->buf + a.uri.off, a.uri.len, &u) != 0) {
            *reason = "Bad Route";
            return 400;
        }
        tx->relay = 1;
        if (sip_px_uri_dest(&u, &tx->b[0].dst) != 0) {
            tx->dns_uri = u; /* a host name: RFC 3263 (sip_proxy_dns.c) */
            return SIP_PX_NEEDS_DNS;
        }
        tx->b[0].dst_proto = u.proto;
        tx->nb = 1;
        tx->ngroups = 1;
        return 0;
    }
    if (sip_px_uri_parse(v->buf + v->ruri.off, v->ruri.len, &u) != 0) {
        *reason = "Unsupported URI Scheme";
        return 416;
    }
    if (sip_px_local_aor(&u)) {
        n = sip_px_aor(&u, aor, sizeof aor) == 0 ? sip_loc_lookup(aor, bs, SIP_LOC_CONTACTS_MAX)
                                                 : 0;
        if (n == 0) {
            int known = sip_loc_exists(aor);
            int st = known || tx->stateless || tx->has_to_tag ? -1 : sip_px_trunk_targets(v, &u, tx, reason);
            if (st >= 0) /* not registered: a number for a trunk */
                return st;
            *reason = known ? "Temporarily Unavailable" : "Not Found";
            return known ? 480 : 404;
        }
        for (int i = 0; i < n; i++)
            q[i] = bs[i].q;
        tx->ngroups = sip_px_order(q, n, order, group);
        tx->nb = 0;
        if (sip_px_branch_room(tx, n) != 0) {
            *reason = "Server Internal Error";
            return 500;
        }
        for (int i = 0; i < n; i++) {
            sip_px_branch_t *b = &tx->b[tx->nb];
            const sip_binding_t *x = &bs[order[i]];
            sip_px_uri_t cu;
            snprintf(b->ruri, sizeof b->ruri, "%s", x->contact);
            snprintf(b->path, sizeof b->path, "%s", x->path);
            b->group = group[i];
            if (sip_px_source(x->source, &b->dst, &b->dst_proto) != 0 ||
                (b->dst_proto != SIP_PROTO_UDP && !sip_tcp_alive(&b->dst, b->dst_proto))) {
                /* no source, or its connection is gone: the Contact */
                if (sip_px_uri_parse(x->contact, strlen(x->contact), &cu) != 0 ||
                    sip_px_uri_dest(&cu, &b->dst) != 0)
                    continue; /* a contact we cannot reach without DNS */
                b->dst_proto = cu.proto;
            }
            tx->nb++;
        }
        if (tx->nb == 0) {
            *reason = "Contacts need DNS (not supported yet)";
            return 503;
        }
        return 0;
    }
    /* rules route requests that start something: not an ACK forwarded
     * statelessly, not a request inside a dialog (its Request-URI is the
     * far end's Contact) */
    if (!sip_px_is_self(&sip_px_self, &u, 0) && !tx->stateless && !tx->has_to_tag &&
        (n = sip_px_trunk_targets(v, &u, tx, reason)) >= 0)
        return n; /* a rule routes it to a trunk */
    if (u.ip && !sip_px_is_self(&sip_px_self, &u, 0)) {
        sip_px_uri_dest(&u, &tx->b[0].dst); /* u.ip: a literal */
        tx->b[0].dst_proto = u.proto;
        tx->nb = 1;
        tx->ngroups = 1;
        tx->relay = 1;
        return 0;
    }
    if (u.ip) {
        *reason = "Not Found";
        return 404;
    }
    tx->relay = 1;
    tx->dns_uri = u; /* a host name: RFC 3263 (sip_proxy_dns.c) */
    return SIP_PX_NEEDS_DNS;
}

/* See sip_proxy.h: to a local user always; else (relaying: a Route, an
 * IP host, a trunk) only from a trusted network (gw_trusted.h) or inside
 * a dialog we record-routed (our own Route came first). */
int sip_px_may_relay(const sip_px_txn_t *tx)
{
    gw_net_addr_t a;

    if (!tx->relay || tx->del_top_route)
        return 1;
    return gw_net_addr_from_sa(&tx->src.addr.sa, &a) == 0 && gw_trusted_holds(&a, NULL, 0);
}

/* 420 for a Proxy-Require: none is supported.  1 when answered. */
static int sip_px_proxy_require(sip_worker_t *w, const sip_view_t *v, const sip_peer_t *src)
{
    sip_range_t r;
    char extra[300];

    if (sip_view_nth(v, SIP_H_PROXY_REQUIRE, 0, &r) < 0)
        return 0;
    snprintf(extra, sizeof extra, "Unsupported: %.*s\r\n",
             (int)(r.len > 200 ? 200 : r.len), v->buf + r.off);
    sip_px_reply_bare(w, v, src, 420, "Bad Extension", extra);
    return 1;
}

/* The worker's scratch for an ACK without transaction: its targets and
 * its bytes forwarded (per thread: no 16 KiB calloc and 64 KiB malloc
 * per ACK). */
static __thread sip_px_txn_t sip_px_ack_room;
static __thread char sip_px_ack_out[SIP_PROXY_MSG_MAX];

/* A stateless forward of an ACK without transaction (the ACK of a 2xx):
 * routed as any request, our Via with a branch of its loop hash. */
static void sip_px_stateless_ack(sip_worker_t *w, const sip_view_t *v, const sip_peer_t *src,
                                 int del_top_route)
{
    sip_px_txn_t *tx = &sip_px_ack_room;
    const char *reason = NULL;
    char via[200], ip[SIP_ADDR_MAX], *out = sip_px_ack_out;
    sip_px_fwd_t f = {0};
    long len;

    /* what sip_px_targets reads or writes: the head and the first branch */
    memset(tx, 0, offsetof(sip_px_txn_t, b));
    sip_px_branch_scratch(tx);
    tx->w = w;
    tx->src = *src;
    tx->del_top_route = del_top_route;
    tx->stateless = 1;
    /* an ACK is never answered; one for a host name is not resolved (the
     * ACK of a 2xx goes to the callee's Contact, an address as a rule) */
    if (sip_px_targets(v, tx, &reason) != 0 || !sip_px_may_relay(tx))
        return;
    sip_px_local_ip(&tx->b[0].dst, ip, sizeof ip);
    snprintf(via, sizeof via, "SIP/2.0/%s %s:%d;branch=" SIP_PROXY_BRANCH_PREFIX "%d-%08x-ack",
             tx->b[0].dst_proto == SIP_PROTO_TLS ? "TLS"
             : tx->b[0].dst_proto == SIP_PROTO_TCP ? "TCP" : "UDP", ip,
             sip_listen_port(tx->b[0].dst_proto),
             sip_worker_index(w), sip_px_loop_hash(v));
    f.via = via;
    f.ruri = tx->b[0].ruri[0] ? tx->b[0].ruri : NULL;
    f.del_top_route = del_top_route;
    f.path = tx->b[0].path;
    len = sip_px_build(v, &f, out, SIP_PROXY_MSG_MAX);
    if (len > 0) {
        sip_peer_t dst = {.addr = tx->b[0].dst, .conn_id = 0, .proto = tx->b[0].dst_proto};
        sip_worker_send_soon(w, &dst, out, (size_t)len);
        gw_stat_add(sip_proxy_stats.stateless, 1);
    }
}

/* The request sip_px_new handles on this worker thread, and its view. */
static __thread const sip_px_txn_t *sip_px_new_tx;
static __thread const sip_view_t *sip_px_new_view;

const sip_view_t *sip_px_req_view(const sip_px_txn_t *tx)
{
    return tx == sip_px_new_tx && tx->req ? sip_px_new_view : NULL;
}

void sip_px_req_changed(const sip_px_txn_t *tx)
{
    if (tx == sip_px_new_tx)
        sip_px_new_view = NULL;
}

static void sip_px_new_body(sip_worker_t *w, sip_px_txn_t *tx, const sip_view_t *v,
                            const sip_peer_t *src, const char *key, int del_top_route);

/* A new request: the server transaction and its first branches, which
 * build their forwarded copies from v (sip_px_req_view) instead of
 * parsing tx's copy again. */
static void sip_px_new(sip_worker_t *w, const sip_view_t *v, const sip_peer_t *src, const char *key,
                       int del_top_route)
{
    sip_px_txn_t *tx = calloc(1, sizeof *tx);

    sip_px_new_tx = tx;
    sip_px_new_view = v;
    sip_px_new_body(w, tx, v, src, key, del_top_route);
    sip_px_new_tx = NULL; /* tx may be gone */
    sip_px_new_view = NULL;
}

static void sip_px_new_body(sip_worker_t *w, sip_px_txn_t *tx, const sip_view_t *v,
                            const sip_peer_t *src, const char *key, int del_top_route)
{
    const char *reason = NULL;
    int st, auth;

    if (!sip_px_table_ready(w) || !tx || !(tx->req = malloc(v->len - v->start + 1))) {
        free(tx);
        sip_px_reply_bare(w, v, src, 500, "Server Internal Error", NULL);
        return;
    }
    tx->w = w;
    sip_px_branch_scratch(tx); /* one branch's room; more by sip_px_branch_room */
    {
        size_t kl = strnlen(key, sizeof tx->key - 1);
        memcpy(tx->key, key, kl);
        tx->key[kl] = '\0';
    }
    memcpy(tx->req, v->buf + v->start, v->len - v->start);
    tx->len = v->len - v->start;
    tx->req[tx->len] = '\0';
    tx->src = *src;
    tx->reply_to = sip_px_reply_peer(v, src);
    tx->invite = v->method == SIP_M_INVITE;
    tx->has_to_tag = v->to_tag.len > 0;
    tx->rx_ms = gw_now_ms();
    tx->del_top_route = del_top_route;
    {
        size_t cl = v->call_id.len < sizeof tx->call_id - 1 ? v->call_id.len : sizeof tx->call_id - 1;
        memcpy(tx->call_id, v->buf + v->call_id.off, cl);
        tx->call_id[cl] = '\0';
    }
    sip_tsx_init(&tx->tsx, tx->invite ? SIP_TSX_IST : SIP_TSX_NIST, src->conn_id != 0,
                 sip_px_now());
    sip_px_count(tx->tsx.kind, -1, (int)tx->tsx.state);
    sip_px_txn_insert(tx);
    gw_stat_add(sip_proxy_stats.requests, 1);
    if (tx->invite)
        sip_px_reply(tx, 100, "Trying", NULL);
    st = sip_px_targets(v, tx, &reason);
    auth = st == 0 || st == SIP_PX_NEEDS_DNS ? sip_px_authorize(tx, v) : SIP_PX_AUTH_NONE;
    if (auth == SIP_PX_AUTH_ANSWERED) {
        sip_px_settle(tx);
        return;
    }
    if ((st == 0 || st == SIP_PX_NEEDS_DNS) && auth != SIP_PX_AUTH_OK && !sip_px_may_relay(tx)) {
        st = 403;
        reason = "Relaying Denied (untrusted source)";
    }
    if (st == SIP_PX_NEEDS_DNS) {
        sip_px_trace(tx, "proxy: %.*s %.*s: resolving %s", (int)v->method_tok.len,
                     v->buf + v->method_tok.off, (int)v->ruri.len, v->buf + v->ruri.off,
                     tx->dns_uri.host);
        st = sip_px_dns_start(tx) == 0 ? 0 : 500; /* the lookup's callback goes on */
        reason = "Server Internal Error";
        if (st == 0)
            return; /* the callback settles tx (it may have run and freed it) */
    }
    if (st != 0) {
        gw_stat_add(sip_proxy_stats.no_target, 1);
        sip_px_trace(tx, "proxy: %.*s %.*s: no target, %d %s", (int)v->method_tok.len,
                     v->buf + v->method_tok.off, (int)v->ruri.len, v->buf + v->ruri.off, st,
                     reason);
        sip_px_reply(tx, st, reason, NULL);
    } else {
        sip_px_trace(tx, "proxy: %.*s %.*s: %d target(s) in %d step(s)", (int)v->method_tok.len,
                     v->buf + v->method_tok.off, (int)v->ruri.len, v->buf + v->ruri.off, tx->nb,
                     tx->ngroups);
        sip_px_start_group(tx, 0);
    }
    sip_px_settle(tx);
}

/* A request the proxy takes, parsed into v (the caller's, not kept), its
 * server transaction key: the transaction it belongs to, validation,
 * Route preprocessing, then stateless mode, the ACK without transaction
 * or a new transaction. */
static void sip_px_request_view(sip_worker_t *w, const sip_view_t *v, const sip_peer_t *src,
                                const char *key)
{
    sip_view_t *v2 = NULL, *v3 = NULL;
    char *rew = NULL, *rew2 = NULL;
    sip_view_addr_t a;
    sip_px_uri_t u, top;
    sip_px_txn_t *tx;
    int del_top_route = 0, sl;

    tx = sip_px_txn_find(w, key);
    /* stateless mode (sip_proxy_sl.c): a UDP request without transaction
     * (one made before the mode changed, or for a TCP target, keeps its) */
    sl = !tx && src->proto == SIP_PROTO_UDP &&
         __atomic_load_n(&sip_proxy_conf.stateless, __ATOMIC_RELAXED);
    if (v->method == SIP_M_CANCEL && !sl) {
        if (!tx) {
            sip_px_reply_bare(w, v, src, 481, "Call/Transaction Does Not Exist", NULL);
            goto out_free;
        }
        sip_px_reply_bare(w, v, src, 200, "OK", NULL);
        sip_px_cancel(tx);
        sip_px_settle(tx);
        goto out_free;
    }
    if (tx) { /* a retransmission, or the ACK of our non-2xx */
        int old = (int)tx->tsx.state;
        unsigned act = sip_tsx_request_in(&tx->tsx, v->method == SIP_M_ACK, sip_px_now());
        sip_px_count(tx->tsx.kind, old, (int)tx->tsx.state);
        gw_stat_add(sip_stats.rx_retrans, v->method == SIP_M_ACK ? 0 : 1);
        if ((act & SIP_TSX_RETRANSMIT) && tx->last)
            sip_worker_send_soon(w, &tx->reply_to, tx->last, tx->last_len);
        if (!(act & SIP_TSX_PASS_UP)) { /* else an ACK of a 2xx with the INVITE's branch */
            sip_px_settle(tx);
            goto out_free;
        }
    }
    /* validation (16.3) */
    if (v->method != SIP_M_ACK && sip_px_proxy_require(w, v, src))
        goto out_free;
    if (sip_px_looped(v, &sip_px_self)) {
        gw_stat_add(sip_proxy_stats.loops, 1);
        if (v->method != SIP_M_ACK)
            sip_px_reply_bare(w, v, src, 482, "Loop Detected", NULL);
        goto out_free;
    }
    /* Route preprocessing (16.4): a strict router put our Record-Route
     * value in the Request-URI */
    if (sip_px_uri_parse(v->buf + v->ruri.off, v->ruri.len, &u) == 0 && u.user[0] == '\0' &&
        sip_px_is_self(&sip_px_self, &u, 0) && sip_view_num(v, SIP_H_ROUTE) > 0) {
        long len;
        rew = malloc(SIP_PROXY_MSG_MAX);
        v2 = malloc(sizeof *v2);
        len = rew && v2 ? sip_px_strict_rewrite(v, rew, SIP_PROXY_MSG_MAX) : SIP_VE_NOSPACE;
        if (len < 0 || sip_view_parse(v2, rew, (size_t)len, 0) != 0) {
            sip_px_reply_bare(w, v, src, 400, "Bad Route", NULL);
            goto out_free;
        }
        v = v2; /* freed below */
    }
    if (sip_view_route(v, 0, &a) == 0 &&
        sip_px_uri_parse(v->buf + a.uri.off, a.uri.len, &u) == 0 &&
        sip_px_is_self(&sip_px_self, &u, 0))
        del_top_route = 1;
    top = u;
    if (del_top_route && sip_view_route(v, 1, &a) == 0 &&
        sip_px_uri_parse(v->buf + a.uri.off, a.uri.len, &u) == 0 &&
        sip_px_is_self(&sip_px_self, &u, 0) &&
        (u.proto != top.proto || strcmp(u.host, top.host) != 0)) {
        /* double record-routing (RFC 5658): our two Routes (two sides:
         * another transport or address) both go; the first here, the
         * second as any top Route of ours.  The same one twice is a loop
         * (482 below). */
        sip_view_edit_t e = {SIP_EDIT_ROUTE_DEL_TOP, NULL, 0, 0};
        long len;
        rew2 = malloc(SIP_PROXY_MSG_MAX);
        v3 = malloc(sizeof *v3);
        len = rew2 && v3 ? sip_view_apply(v, &e, 1, rew2, SIP_PROXY_MSG_MAX) : SIP_VE_NOSPACE;
        if (len < 0 || sip_view_parse(v3, rew2, (size_t)len, 0) != 0) {
            sip_px_reply_bare(w, v, src, 400, "Bad Route", NULL);
            goto out_free;
        }
        v = v3; /* freed below */
    }
    if (v->to_tag.len)
        sip_dlg_in_dialog(v, src); /* CSeq, an ACK confirms, a BYE ends */
    if (sl && sip_px_sl_request(w, v, src, del_top_route))
        ; /* forwarded or answered without a transaction */
    else if (v->method == SIP_M_ACK)
        sip_px_stateless_ack(w, v, src, del_top_route);
    else if (v->method == SIP_M_CANCEL) /* stateless mode, a TCP / TLS target */
        sip_px_reply_bare(w, v, src, 481, "Call/Transaction Does Not Exist", NULL);
    else
        sip_px_new(w, v, src, key, del_top_route);
out_free:
    free(v3);
    free(rew2);
    free(v2);
    free(rew);
}

/* See sip_proxy.h. */
void sip_proxy_request(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *src)
{
    sip_view_t *v = malloc(sizeof *v);
    char key[320];
    int rc;

    if (!v)
        return;
    rc = sip_view_parse(v, buf, n, src->conn_id ? SIP_VIEW_STREAM : 0);
    if (rc != 0 || sip_px_key(v, v->method == SIP_M_ACK || v->method == SIP_M_CANCEL ? "INVITE"
                                  : "", key, sizeof key) != 0) {
        if (rc == 0)
            sip_px_reply_bare(w, v, src, 400, "Bad Via", NULL);
        else if (v->is_request == 1) { /* the view is partial: from the raw lines */
            size_t len = 0;
            char *resp = sip_build_raw_response(buf, n, 400, sip_view_strerror(rc), &len);
            if (resp == NULL || sip_worker_send(w, src, resp, len) != 0)
                gw_stat_add(sip_stats.drops, 1);
            free(resp);
        }
        free(v);
        return;
    }
    if (v->method != SIP_M_ACK && v->method != SIP_M_CANCEL) /* the key names the method */
        sip_px_key_method(key, sizeof key, v);
    sip_px_request_view(w, v, src, key);
    free(v);
}

/* The view of the request being read on the fast path: per worker
 * thread, so it allocates nothing. */
static __thread sip_view_t sip_px_in_view;

static int sip_px_takes_uri(const sip_px_uri_t *u);

/* A request queued to another worker: its bytes, where it came from, how
 * often it was handed on (sip_px_steer_away). */
typedef struct sip_px_req_bytes {
    sip_peer_t src;
    int hops;
    size_t n;
    char buf[];
} sip_px_req_bytes_t;

/* The hops of the request this worker thread handles now: 0 read from
 * its socket, 1 handed by the worker that read it, 2 handed back. */
static __thread int sip_px_hops;

static int sip_px_hand_request(int to, const char *buf, size_t n, const sip_peer_t *src, int hops);

/* After a pool resize a peer's datagrams may reach another worker than
 * before, and a retransmission there would start a second transaction
 * (RFC 3261 17.2.3: it must be absorbed).  So for 64*T1 after a change
 * (sip_pool_prev_owner) a request whose key this worker does not hold
 * goes to the worker its peer was steered to before; that one absorbs
 * it, or takes it as new -- unless it is retiring: then it hands a new
 * one back to the peer's worker now (hops 2, taken there).  1 when
 * handed on.  Worker thread. */
static int sip_px_steer_away(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *src,
                             const char *key)
{
    int me = sip_worker_index(w), to = -1, hops = 0;

    if (src->conn_id != 0 || sip_px_hops >= 2)
        return 0;
    if (sip_px_hops == 0 && (to = sip_pool_prev_owner(&src->addr)) >= 0 && to != me)
        hops = 1;
    else if (sip_px_hops == 1 && sip_worker_retiring(w) && (to = sip_pool_owner(&src->addr)) >= 0 &&
             to != me)
        hops = 2;
    if (hops == 0 || sip_px_txn_find(w, key))
        return 0;
    return sip_px_hand_request(to, buf, n, src, hops) == 0;
}

static void sip_px_on_req_item(sip_worker_t *w, sip_item_t *it)
{
    sip_px_req_bytes_t *b = it->arg;

    sip_px_hops = b->hops;
    if (!sip_proxy_input(w, b->buf, b->n, &b->src))
        gw_stat_add(sip_stats.drops, 1); /* no longer the proxy's (a registration changed) */
    sip_px_hops = 0;
}

static int sip_px_hand_request(int to, const char *buf, size_t n, const sip_peer_t *src, int hops)
{
    sip_worker_t *owner = sip_worker_get(to);
    sip_item_t *it = owner ? calloc(1, sizeof *it) : NULL;
    sip_px_req_bytes_t *b = it ? malloc(sizeof *b + n + 1) : NULL;

    if (!b) {
        free(it);
        return GW_ENOMEM;
    }
    b->src = *src;
    b->hops = hops;
    b->n = n;
    memcpy(b->buf, buf, n);
    b->buf[n] = '\0';
    it->kind = SIP_ITEM_CALL;
    it->fn = sip_px_on_req_item;
    it->arg = b;
    it->arg_free = free;
    if (sip_worker_push(owner, it) != 0) {
        sip_item_free(it);
        return GW_ERROR;
    }
    gw_stat_add(sip_proxy_stats.req_handoffs, 1);
    return 0;
}

/* See sip_proxy.h. */
int sip_proxy_input(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *src)
{
    sip_view_t *v = &sip_px_in_view;
    sip_view_via_t via;
    sip_px_uri_t u;
    char key[320];

    /* only what sip_uas.c would hand over unchanged: anything it answers
     * itself (a refusal of sip_check_request, 416, a REGISTER, a MESSAGE
     * for the gateway, an OPTIONS for us) or that the view refuses goes
     * on to libosip2 as before */
    if (!__atomic_load_n(&sip_proxy_conf.on, __ATOMIC_RELAXED) ||
        sip_view_parse(v, buf, n, src->conn_id ? SIP_VIEW_STREAM : 0) != 0 ||
        v->is_request != 1 || v->method == SIP_M_REGISTER || v->max_forwards == 0 ||
        v->cseq > 2147483647u || v->call_id.len > 200 || sip_view_via(v, 0, &via) != 0 ||
        via.branch.len > 200 || via.host.len > 100 ||
        sip_px_uri_parse(v->buf + v->ruri.off, v->ruri.len, &u) != 0 ||
        (strcmp(u.scheme, "sip") != 0 && strcmp(u.scheme, "sips") != 0))
        return 0;
    if ((v->method == SIP_M_MESSAGE || v->method == SIP_M_OPTIONS) && !sip_px_takes_uri(&u))
        return 0;
    if (sip_px_key(v, v->method == SIP_M_ACK || v->method == SIP_M_CANCEL ? "INVITE" : "", key,
                   sizeof key) != 0)
        return 0;
    if (v->method != SIP_M_ACK && v->method != SIP_M_CANCEL) /* the key names the method */
        sip_px_key_method(key, sizeof key, v);
    if (sip_px_steer_away(w, buf, n, src, key))
        return 1;
    gw_stat_add(sip_stats.rx_requests, 1);
    sip_px_request_view(w, v, src, key);
    return 1;
}

/* A RESPONSE queued to its owner worker: the bytes in it->arg. */
typedef struct sip_px_bytes {
    size_t n;
    char buf[];
} sip_px_bytes_t;

static void sip_px_on_resp_item(sip_worker_t *w, sip_item_t *it)
{
    sip_px_bytes_t *b = it->arg;
    sip_px_response_local(w, b->buf, b->n);
}

/* The first Via line of message buf[0..n): its first byte in *line and
 * its length, or 0 when there is none before the empty line.  Header
 * names case-insensitive, "v" the compact form. */
static size_t sip_px_top_via(const char *buf, size_t n, const char **line)
{
    const char *p = memchr(buf, '\n', n), *end = buf + n;

    while (p && ++p < end && *p != '\r' && *p != '\n') {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *q = p;
        if (!eol)
            eol = end;
        if ((*q | 0x20) == 'v') {
            q++;
            if (end - q >= 2 && (q[0] | 0x20) == 'i' && (q[1] | 0x20) == 'a')
                q += 2;
            while (q < eol && (*q == ' ' || *q == '\t'))
                q++;
            if (q < eol && *q == ':') {
                *line = p;
                return (size_t)(eol - p);
            }
        }
        p = eol < end ? eol : NULL;
    }
    return 0;
}

/* See sip_proxy.h. */
int sip_proxy_response(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *src)
{
    const size_t plen = strlen(SIP_PROXY_BRANCH_PREFIX);
    const char *p, *line = NULL;
    sip_worker_t *owner;
    sip_item_t *it;
    sip_px_bytes_t *b;
    char *end;
    size_t ln = sip_px_top_via(buf, n, &line);
    long idx;
    (void)src;

    /* the top Via's branch, found by one scan of the header lines:
     * "-jp<worker>-" names the owner of a stateful branch, "-js" is a
     * stateless one (sip_proxy_sl.c), forwarded here at once; anything
     * else is not the proxy's */
    p = ln ? memmem(line, ln, ";branch=z9hG4bK-j", 17) : NULL;
    if (!p || (size_t)(line + ln - p) <= 8 + plen)
        return 0;
    if (memcmp(p + 8, SIP_PROXY_SL_PREFIX, plen) == 0) {
        sip_px_sl_response(w, buf, n);
        return 1;
    }
    if (memcmp(p + 8, SIP_PROXY_BRANCH_PREFIX, plen) != 0)
        return 0;
    idx = strtol(p + 8 + plen, &end, 10);
    owner = sip_worker_get((int)idx);
    if (end == p + 8 + plen || *end != '-' || !owner) {
        gw_stat_add(sip_stats.drops, 1);
        return 1;
    }
    if (owner == w) {
        sip_px_response_local(w, buf, n);
        return 1;
    }
    it = calloc(1, sizeof *it);
    b = malloc(sizeof *b + n + 1);
    if (!it || !b) {
        free(it);
        free(b);
        return 1;
    }
    b->n = n;
    memcpy(b->buf, buf, n);
    b->buf[n] = '\0';
    it->kind = SIP_ITEM_CALL;
    it->fn = sip_px_on_resp_item;
    it->arg = b;
    it->arg_free = free;
    if (sip_worker_push(owner, it) != 0)
        sip_item_free(it);
    else
        gw_stat_add(sip_proxy_stats.handoffs, 1);
    return 1;
}

/* See sip_proxy.h. */
int sip_proxy_takes(const osip_message_t *req)
{
    const char *m = req->sip_method;
    const osip_uri_t *ru = req->req_uri;
    sip_px_uri_t u = {0};

    if (!__atomic_load_n(&sip_proxy_conf.on, __ATOMIC_RELAXED) || strcmp(m, "REGISTER") == 0)
        return 0;
    if (strcmp(m, "MESSAGE") != 0 && strcmp(m, "OPTIONS") != 0)
        return 1;
    /* MESSAGE and OPTIONS: proxied when they name a registered user or
     * an IP host that is not junction; else the gateway's (MESSAGE) or
     * ours (OPTIONS) */
    if (!ru || !ru->host || !ru->scheme)
        return 0;
    snprintf(u.scheme, sizeof u.scheme, "%s", ru->scheme);
    snprintf(u.user, sizeof u.user, "%s", ru->username ? ru->username : "");
    sip_host_of_ip(ru->host, u.host, sizeof u.host); /* libosip2 drops an IPv6's [] */
    for (char *p = u.host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (char *p = u.scheme; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    u.port = ru->port ? atoi(ru->port) : 0;
    {
        struct in_addr ia;
        sip_sa_t sa;
        u.ipv4 = inet_pton(AF_INET, u.host, &ia) == 1;
        u.ip = sip_sa_from_host(u.host, strlen(u.host), 0, &sa) == 0;
    }
    return sip_px_takes_uri(&u);
}

/* 1 when a MESSAGE or an OPTIONS for u is the proxy's: a registered user,
 * or an IP host that is not junction (a request to relay); else a MESSAGE
 * for the gateway (junction's own address, a host name), an OPTIONS for
 * us. */
static int sip_px_takes_uri(const sip_px_uri_t *u)
{
    sip_binding_t b[1];
    char aor[SIP_AOR_MAX];

    if (strcmp(u->scheme, "sip") != 0 && strcmp(u->scheme, "sips") != 0)
        return 0;
    if (sip_px_local_aor(u))
        return sip_px_aor(u, aor, sizeof aor) == 0 && sip_loc_lookup(aor, b, 1) > 0;
    return u->ip && !sip_px_is_self(&sip_px_self, u, 1);
}

/* Our addresses in host form (IPv6 in []): sip.listen and sip.listen6,
 * a wildcard ("0.0.0.0", "::") standing for every address of ours of
 * its family. */
static void sip_px_self_add(const char *ip)
{
    struct ifaddrs *ifs = NULL;
    int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;

    if (strcmp(ip, "0.0.0.0") != 0 && strcmp(ip, "::") != 0) {
        if (sip_px_self.naddr < SIP_PROXY_MAX_SELF)
            sip_host_of_ip(ip, sip_px_self.addr[sip_px_self.naddr++], sizeof sip_px_self.addr[0]);
        return;
    }
    if (getifaddrs(&ifs) != 0)
        return;
    for (struct ifaddrs *i = ifs; i && sip_px_self.naddr < SIP_PROXY_MAX_SELF; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == fam) {
            sip_sa_t a;
            memcpy(&a, i->ifa_addr, fam == AF_INET6 ? sizeof a.in6 : sizeof a.in);
            sip_sa_host(&a, sip_px_self.addr[sip_px_self.naddr++], sizeof sip_px_self.addr[0]);
        }
    freeifaddrs(ifs);
}

static void sip_px_self_init(void)
{
    memset(&sip_px_self, 0, sizeof sip_px_self);
    sip_px_self.port = sip_conf.port;
    sip_px_self.tls_port = sip_conf.tls_port;
    sip_px_self_add(sip_conf.listen);
    if (sip_conf.listen6[0] != '\0')
        sip_px_self_add(sip_conf.listen6);
}

/* See sip_proxy.h. */
void sip_proxy_init(void)
{
    sip_px_self_init();
    sip_px_auth_init();
    sip_proxy_stats.requests = gw_stat("sip.proxy_requests", "requests the SIP proxy took (new transactions)");
    sip_proxy_stats.forwarded = gw_stat("sip.proxy_forwarded", "requests forwarded on a proxy branch");
    sip_proxy_stats.responses = gw_stat("sip.proxy_responses", "responses the proxy sent upstream (forwarded or its own)");
    sip_proxy_stats.timeouts = gw_stat("sip.proxy_timeouts", "proxy branches that timed out (Timer B, F, C)");
    sip_proxy_stats.cancels = gw_stat("sip.proxy_cancels", "CANCELs the proxy took from callers");
    sip_proxy_stats.c487 = gw_stat("sip.proxy_487", "INVITEs the proxy answered 487 after a CANCEL");
    sip_proxy_stats.stateless = gw_stat("sip.proxy_stateless", "ACKs and responses forwarded statelessly");
    sip_proxy_stats.loops = gw_stat("sip.proxy_loops", "requests refused 482: they looped");
    sip_proxy_stats.no_target = gw_stat("sip.proxy_no_target", "requests answered 404/480/503: no target");
    sip_proxy_stats.branches = gw_stat("sip.proxy_branches", "proxy client branches started");
    sip_proxy_stats.sl_forwarded = gw_stat("sip.proxy_sl_forwarded",
                                           "requests forwarded in stateless mode (sip.proxy_mode)");
    sip_proxy_stats.handoffs = gw_stat("sip.proxy_handoffs",
                                       "responses another worker read, queued to the branch's owner");
    sip_proxy_stats.req_handoffs =
        gw_stat("sip.proxy_request_handoffs",
                "requests read within 64*T1 of a pool resize, queued to the worker their peer "
                "was steered to before it (where a transaction they retransmit lives)");
}
