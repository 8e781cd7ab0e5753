/*
 * sip_proxy_branch.c - the client side of a proxied request: branches,
 * their client transactions, the response context (RFC 3261 16.6-16.10).
 *
 * A branch is a client transaction of its own (ICT or NICT of sip_tsx.c)
 * with our Via on top, its branch naming this worker.  Its timers (A/E
 * retransmit what it sent, B/F end it as a 408, and for an INVITE the
 * proxy's Timer C, sip.timer_c_s, reset by each provisional) run from its
 * transaction's one libevent timer (sip_px_timers).  A first send the
 * socket refuses ends the branch at once as a 503, so the next step (the
 * next address of a host name, RFC 3263 4.3) is tried.
 *
 * The response context (16.7): a provisional other than 100 goes up at
 * once; every 2xx goes up at once (an INVITE's other branches are then
 * cancelled); a 6xx cancels the rest; other finals are kept.  When every
 * branch of the running serial step has ended, the next step starts
 * (failover), unless a 6xx came, the caller cancelled or no step is left:
 * then the best response goes up (sip_px_best; 503 becomes 500, 16.7
 * step 6; a caller's CANCEL makes it our 487).  A non-2xx final is ACKed
 * by the ICT hop by hop; the caller's ACK of ours is absorbed by the IST.
 * A CANCEL (16.10) goes on each branch that has had a provisional
 * response; one still Calling gets it when its first provisional comes
 * (9.1).  A cancelled branch that sends no final within 64*T1 is ended.
 *
 * A response whose branch is not (any more) in the table is forwarded
 * statelessly (16.11): top Via removed, to the next Via's address.
 *
 * Ownership: a branch lives in its transaction's array; its request and
 * response copies are freed with the transaction (the request copy
 * sooner, once a non-INVITE has its final or an INVITE its 2xx: nothing
 * is resent from it then).  The buffers a request or response is built in
 * and the view of a response are per thread (__thread), reused.
 * Threads: the worker that owns the transaction.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "gw_log.h"
#include "sip_dialog.h"
#include "sip_proxy.h"
#include "sip_trunk.h"

#define SIP_PX_CANCEL_WAIT_MS (64 * sip_tsx_t1())

static void sip_px_check_done(sip_px_txn_t *tx);

/* Per worker thread, so the hot path allocates none of them: the bytes of
 * a forwarded request, of a response going up, the view of a response. */
static __thread char sip_px_req_out[SIP_PROXY_MSG_MAX];
static __thread char sip_px_resp_out[SIP_PROXY_MSG_MAX];
static __thread sip_view_t sip_px_resp_view;
/* The random part of our branches: xorshift64 seeded from getrandom once
 * per thread (unique, not secret: RFC 3261 8.1.1.7). */
static __thread uint64_t sip_px_rng;

static uint32_t sip_px_rand32(void)
{
    uint64_t x = sip_px_rng;

    if (x == 0) {
        if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x)
            x = (uint64_t)sip_px_now() * 0x9e3779b97f4a7c15ull;
        x |= 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sip_px_rng = x;
    return (uint32_t)(x >> 32);
}

static sip_peer_t sip_px_peer(const sip_sa_t *sa)
{
    sip_peer_t p = {.addr = *sa, .conn_id = 0, .proto = SIP_PROTO_UDP};
    return p;
}

/* Branch b has its final status st (a response, or 408 for a timeout):
 * ended, and a trunk destination has one call fewer in flight. */
static void sip_px_branch_end(sip_px_branch_t *b, int st)
{
    b->ended = 1;
    b->status = st;
    if (b->trunk[0] && b->started)
        sip_trunk_note_end(b->trunk, b->trunk_dst);
}

/* Send (again) what branch b sends: 0, or GW_ERROR (the socket refused it). */
static int sip_px_branch_send_again(sip_px_branch_t *b)
{
    sip_peer_t dst = sip_px_peer(&b->dst);
    dst.proto = b->dst_proto;
    if (!b->req) /* dropped once the branch had its final: nothing to resend */
        return 0;
    return sip_worker_send(b->tx->w, &dst, b->req, b->len);
}

/* One Record-Route URI of ours: host and port, the transport when it is
 * not UDP. */
static void sip_px_rr_uri(char *out, size_t n, const char *host, int proto)
{
    if (proto == SIP_PROTO_UDP)
        snprintf(out, n, "<sip:%s:%d;lr>", host, sip_conf.port);
    else
        snprintf(out, n, "<sip:%s:%d;transport=%s;lr>", host, sip_listen_port(proto),
                 sip_proto_name(proto));
}

/* The Record-Route value of branch b into rr: one URI, or two when the
 * request leaves on another transport or address family than it came
 * (RFC 5658 double record-routing): the outgoing side first, so that each
 * side's in-dialog requests reach us the way they can. */
static void sip_px_record_route(const sip_px_txn_t *tx, const sip_px_branch_t *b,
                                const char *out_host, char *rr, size_t n)
{
    char in_host[SIP_ADDR_MAX], a[160], c[160];

    sip_px_rr_uri(a, sizeof a, out_host, b->dst_proto);
    if (tx->src.proto == b->dst_proto && tx->src.addr.sa.sa_family == b->dst.sa.sa_family) {
        snprintf(rr, n, "%s", a);
        return;
    }
    sip_px_local_ip(&tx->src.addr, in_host, sizeof in_host);
    sip_px_rr_uri(c, sizeof c, in_host, tx->src.proto);
    snprintf(rr, n, "%s, %s", a, c);
}

/* Build and send branch b of tx: 0, or -1 (the branch ends as a 500). */
static int sip_px_branch_start(sip_px_txn_t *tx, sip_px_branch_t *b)
{
    const sip_view_t *v = sip_px_req_view(tx);
    sip_view_t *parsed = NULL;
    char *out = sip_px_req_out, ip[SIP_ADDR_MAX], via[240], rr[330];
    char where[SIP_ADDR_MAX + 8];
    sip_px_fwd_t f = {0};
    long len = -1;
    int64_t now = sip_px_now();
    int rc = -1;

    if (!v) { /* a later step (serial fork, DNS, failover): the copy, parsed */
        if (!(parsed = malloc(sizeof *parsed)) || sip_view_parse(parsed, tx->req, tx->len, 0) != 0)
            goto out_free;
        v = parsed;
    }
    sip_px_local_ip(&b->dst, ip, sizeof ip);
    { /* SIP_PROXY_BRANCH_PREFIX "<worker>-<loop hash %08x>-<random %08x>" */
        int n = snprintf(b->id, sizeof b->id, SIP_PROXY_BRANCH_PREFIX "%d-", sip_worker_index(tx->w));
        sip_px_hex(b->id + n, sip_px_loop_hash(v), 8);
        b->id[n + 8] = '-';
        sip_px_hex(b->id + n + 9, sip_px_rand32(), 8);
        b->id[n + 17] = '\0';
    }
    snprintf(via, sizeof via, "SIP/2.0/%s %s:%d;branch=%s;rport",
             b->dst_proto == SIP_PROTO_TLS ? "TLS" : b->dst_proto == SIP_PROTO_TCP ? "TCP" : "UDP",
             ip, sip_listen_port(b->dst_proto), b->id);
    f.via = via;
    f.ruri = b->ruri[0] ? b->ruri : NULL;
    /* a request in a dialog has its route set already */
    b->rr = __atomic_load_n(&sip_proxy_conf.record_route, __ATOMIC_RELAXED) && !tx->has_to_tag;
    if (b->rr) {
        sip_px_record_route(tx, b, ip, rr, sizeof rr);
        f.rr = rr;
    }
    f.del_top_route = tx->del_top_route;
    f.path = b->path;
    len = sip_px_build(v, &f, out, SIP_PROXY_MSG_MAX);
    if (len <= 0 || !(b->req = malloc((size_t)len)))
        goto out_free;
    memcpy(b->req, out, (size_t)len);
    b->len = (size_t)len;
    sip_tsx_init(&b->tsx, tx->invite ? SIP_TSX_ICT : SIP_TSX_NICT, b->dst_proto != SIP_PROTO_UDP,
                 now); /* reliable: no Timer A / E (RFC 3261 17.1.1.2, 17.1.2.2) */
    sip_px_count(b->tsx.kind, -1, (int)b->tsx.state);
    b->started = 1;
    if (tx->invite)
        b->timer_c_at = now + (int64_t)__atomic_load_n(&sip_proxy_conf.timer_c_s,
                                                       __ATOMIC_RELAXED) * 1000;
    sip_px_branch_link(b);
    gw_stat_add(sip_proxy_stats.branches, 1);
    if (b->trunk[0])
        sip_trunk_note_call(b->trunk, b->trunk_dst);
    if (gw_trace_on()) {
        /* "to 1.2.3.4:5060" over UDP, "to tcp:1.2.3.4:5060" over another */
        if (b->dst_proto == SIP_PROTO_UDP)
            sip_sa_str(&b->dst, where, sizeof where);
        else
            sip_source_format(b->dst_proto, &b->dst, where, sizeof where);
        sip_px_trace(tx, "proxy: branch %s to %s (%s) step %d", b->id, where,
                     b->ruri[0] ? b->ruri : "Request-URI kept", b->group);
    }
    if (sip_px_branch_send_again(b) != 0) {
        /* a transport error ends the branch at once, as a 503 (RFC 3263
         * 4.3): the next step (the next DNS address) is tried */
        sip_px_count(b->tsx.kind, (int)b->tsx.state, SIP_TSX_TERMINATED);
        b->tsx.state = SIP_TSX_TERMINATED;
        sip_px_branch_unlink(b);
        sip_px_branch_end(b, 503);
        sip_px_trace(tx, "proxy: branch %s: send failed, ended as 503", b->id);
    } else {
        gw_stat_add(sip_proxy_stats.forwarded, 1);
    }
    rc = 0;
out_free:
    if (rc != 0)
        GW_WARN(SIP_LOG, "proxy %s: cannot build the forwarded request (%ld)", tx->call_id, len);
    free(parsed);
    return rc;
}

/* See sip_proxy.h. */
void sip_px_start_group(sip_px_txn_t *tx, int g)
{
    tx->group = g;
    for (int i = 0; i < tx->nb; i++) {
        sip_px_branch_t *b = &tx->b[i];
        if (b->group == g && !b->started && !b->ended && sip_px_branch_start(tx, b) != 0) {
            b->ended = 1;
            b->status = 500;
        }
    }
    sip_px_check_done(tx);
}

static void sip_px_send_cancel(sip_px_branch_t *b)
{
    sip_view_t *v = malloc(sizeof *v);
    char out[4096];
    long len = -1;

    if (v && b->req && sip_view_parse(v, b->req, b->len, 0) == 0)
        len = sip_px_build_cancel_ack(v, NULL, out, sizeof out);
    if (len > 0) {
        sip_peer_t dst = sip_px_peer(&b->dst);
        dst.proto = b->dst_proto;
        sip_worker_send(b->tx->w, &dst, out, (size_t)len);
        sip_px_trace(b->tx, "proxy: CANCEL on branch %s", b->id);
    }
    b->cancel_sent = 1;
    /* no final within 64*T1 of the CANCEL: the branch is given up (this
     * deadline replaces Timer C, which may be what sent the CANCEL) */
    b->timer_c_at = sip_px_now() + SIP_PX_CANCEL_WAIT_MS;
    free(v);
}

/* Cancel branch b: now when it had a provisional response, else once it has. */
static void sip_px_cancel_branch(sip_px_branch_t *b)
{
    if (!b->started || b->ended || b->cancel_sent || !b->tx->invite)
        return;
    if (b->tsx.state == SIP_TSX_PROCEEDING)
        sip_px_send_cancel(b);
    else
        b->cancel_wanted = 1;
}

static void sip_px_cancel_others(sip_px_txn_t *tx, const sip_px_branch_t *keep)
{
    for (int i = 0; i < tx->nb; i++)
        if (&tx->b[i] != keep)
            sip_px_cancel_branch(&tx->b[i]);
}

/* See sip_proxy.h. */
void sip_px_cancel(sip_px_txn_t *tx)
{
    if (tx->final_sent || tx->cancelled)
        return; /* too late, or a retransmitted CANCEL (answered 200 again) */
    gw_stat_add(sip_proxy_stats.cancels, 1);
    tx->cancelled = 1;
    sip_px_trace(tx, "proxy: CANCEL from the caller");
    sip_px_cancel_others(tx, NULL);
    sip_px_check_done(tx);
}

/* The best final response up: every branch ended. */
static void sip_px_send_best(sip_px_txn_t *tx)
{
    int st[SIP_PROXY_MAX_BRANCHES], idx[SIP_PROXY_MAX_BRANCHES], n = 0, best;
    char *out;
    sip_view_t *v;

    if (tx->cancelled) {
        gw_stat_add(sip_proxy_stats.c487, 1);
        sip_px_trace(tx, "proxy: best response 487 (cancelled)");
        sip_px_reply(tx, 487, "Request Terminated", NULL);
        return;
    }
    for (int i = 0; i < tx->nb; i++)
        if (tx->b[i].ended && tx->b[i].status >= 200) {
            st[n] = tx->b[i].status;
            idx[n++] = i;
        }
    best = sip_px_best(st, n);
    if (best < 0) {
        sip_px_reply(tx, 500, "Server Internal Error", NULL);
        return;
    }
    sip_px_trace(tx, "proxy: best response %d of %d branch(es)", st[best], n);
    if (st[best] == 503 || !tx->b[idx[best]].resp) {
        if (st[best] == 503)
            sip_px_reply(tx, 500, "Server Internal Error", NULL);
        else
            sip_px_reply(tx, st[best], st[best] == 408 ? "Request Timeout" : "Server Internal Error",
                         NULL);
        return;
    }
    out = malloc(SIP_PROXY_MSG_MAX);
    v = malloc(sizeof *v);
    if (out && v && sip_view_parse(v, tx->b[idx[best]].resp, tx->b[idx[best]].resp_len, 0) == 0) {
        long len = sip_px_resp_strip(v, out, SIP_PROXY_MSG_MAX);
        if (len > 0)
            sip_px_send_up(tx, out, (size_t)len, st[best]);
    }
    free(out);
    free(v);
}

/* A trunk's step ended (one branch, one destination): 1 when its status
 * moves the request on to the next destination (traced, counted). */
static int sip_px_trunk_next(sip_px_txn_t *tx)
{
    const sip_px_branch_t *b = NULL, *nb = NULL;

    for (int i = 0; i < tx->nb; i++) {
        if (tx->b[i].group == tx->group)
            b = &tx->b[i];
        if (tx->b[i].group == tx->group + 1)
            nb = &tx->b[i];
    }
    if (!b || !nb || !sip_trunk_fails_over(b->status)) {
        if (b && nb)
            sip_px_trace(tx, "trunk: %d from %s destination %d goes up: no failover", b->status,
                         b->trunk, b->trunk_dst);
        return 0;
    }
    gw_stat_add(sip_trunk_stats.failovers, 1);
    sip_px_trace(tx, "trunk: failover: %s destination %d answered %d, next %s destination %d",
                 b->trunk, b->trunk_dst, b->status, nb->trunk, nb->trunk_dst);
    return 1;
}

/* Every branch of the running step ended: the next step, or the best. */
static void sip_px_check_done(sip_px_txn_t *tx)
{
    int best_6xx = 0;

    if (tx->final_sent)
        return;
    for (int i = 0; i < tx->nb; i++) {
        const sip_px_branch_t *b = &tx->b[i];
        if (b->group <= tx->group && b->started && !b->ended)
            return;
        best_6xx |= b->ended && b->status >= 600;
    }
    if (!tx->cancelled && !best_6xx && tx->group + 1 < tx->ngroups &&
        (!tx->trunk || sip_px_trunk_next(tx))) {
        sip_px_trace(tx, "proxy: failover to step %d", tx->group + 1);
        sip_px_start_group(tx, tx->group + 1); /* calls back here */
        return;
    }
    sip_px_send_best(tx);
}

/* Forward response v statelessly (16.11): no branch of ours knows it. */
static void sip_px_stateless_response(sip_worker_t *w, const sip_view_t *v)
{
    sip_sa_t sa;
    char *out = sip_px_resp_out;
    long len = sip_px_resp_strip(v, out, SIP_PROXY_MSG_MAX);

    if (len > 0 && sip_px_via_dest(v, 1, &sa) == 0) {
        sip_peer_t dst = sip_px_peer(&sa);
        sip_view_via_t via;
        int p;
        /* over the transport that Via names: TCP finds the live connection */
        if (sip_view_via(v, 1, &via) == 0 &&
            (p = sip_proto_from_name(v->buf + via.transport.off, via.transport.len)) > 0)
            dst.proto = p;
        sip_worker_send_soon(w, &dst, out, (size_t)len);
        gw_stat_add(sip_proxy_stats.stateless, 1);
    } else {
        gw_stat_add(sip_stats.drops, 1);
    }
}

/* A response for branch b (view v). */
static void sip_px_branch_response(sip_px_branch_t *b, const sip_view_t *v)
{
    sip_px_txn_t *tx = b->tx;
    int old = (int)b->tsx.state, st = v->status;
    int64_t now = sip_px_now();
    unsigned act = sip_tsx_response_in(&b->tsx, st, now);
    char *out = NULL;
    long len = -1;

    sip_px_count(b->tsx.kind, old, (int)b->tsx.state);
    if (act & SIP_TSX_SEND_ACK) {
        sip_view_t *fv = malloc(sizeof *fv);
        char ack[4096];
        if (fv && b->req && sip_view_parse(fv, b->req, b->len, 0) == 0 &&
            (len = sip_px_build_cancel_ack(fv, v, ack, sizeof ack)) > 0) {
            sip_peer_t dst = sip_px_peer(&b->dst);
            dst.proto = b->dst_proto;
            sip_worker_send(tx->w, &dst, ack, (size_t)len);
        }
        free(fv);
    }
    if (act & SIP_TSX_PASS_UP) {
        out = sip_px_resp_out;
        len = sip_px_resp_strip(v, out, SIP_PROXY_MSG_MAX);
    }
    if ((act & SIP_TSX_PASS_UP) && st < 200) {
        if (tx->invite && !b->cancel_sent)
            b->timer_c_at = now + (int64_t)sip_proxy_conf.timer_c_s * 1000;
        if (b->cancel_wanted && !b->cancel_sent)
            sip_px_send_cancel(b);
        if (st > 100 && len > 0 && !tx->final_sent)
            sip_px_send_up(tx, out, (size_t)len, st);
    } else if ((act & SIP_TSX_PASS_UP) && st < 300) {
        if (!b->ended)
            sip_dlg_answered(tx, b, v); /* before the caller can send its ACK */
        if (len > 0)
            sip_px_send_up(tx, out, (size_t)len, st);
        if (!b->ended) {
            sip_px_branch_end(b, st);
            sip_px_trace(tx, "proxy: %d on branch %s forwarded", st, b->id);
        }
        if (tx->invite)
            sip_px_cancel_others(tx, b);
    } else if ((act & SIP_TSX_PASS_UP) && !b->ended) {
        sip_px_branch_end(b, st);
        free(b->resp);
        b->resp = malloc(v->len - v->start);
        if (b->resp) {
            memcpy(b->resp, v->buf + v->start, v->len - v->start);
            b->resp_len = v->len - v->start;
        }
        sip_px_trace(tx, "proxy: %d on branch %s", st, b->id);
        if (st >= 600 && tx->invite)
            sip_px_cancel_others(tx, b);
        sip_px_check_done(tx);
    }
    if (st >= 200 && (!tx->invite || st < 300) && (act & SIP_TSX_PASS_UP)) {
        /* a NICT in Completed retransmits nothing, an ICT after a 2xx
         * sends no ACK (the caller's is end to end): its copy goes, so
         * the transactions lingering for Timer K hold less */
        free(b->req);
        b->req = NULL;
    }
    if (act & SIP_TSX_FREE)
        sip_px_branch_unlink(b);
}

/* See sip_proxy.h. */
void sip_px_response_sl(sip_worker_t *w, const char *buf, size_t n)
{
    sip_view_t *v = &sip_px_resp_view; /* the worker's: not re-entered */

    if (sip_view_parse(v, buf, n, 0) != 0 || v->is_request)
        gw_stat_add(sip_stats.drops, 1);
    else
        sip_px_stateless_response(w, v);
}

/* See sip_proxy.h. */
void sip_px_response_local(sip_worker_t *w, const char *buf, size_t n)
{
    sip_view_t *v = &sip_px_resp_view; /* the worker's: not re-entered */
    sip_view_via_t via;
    sip_px_branch_t *b;

    if (sip_view_parse(v, buf, n, 0) != 0 || v->is_request || sip_view_via(v, 0, &via) != 0) {
        gw_stat_add(sip_stats.drops, 1);
        return;
    }
    b = sip_px_branch_find(w, v->buf + via.branch.off, via.branch.len);
    if (!b && !sip_dlg_bye_response(w, v)) /* else it answers a BYE of sip.dialogs.end */
        sip_px_stateless_response(w, v);
    else if (b && v->cseq_method != SIP_M_CANCEL) /* the 200 of our CANCEL: nothing to do */
        sip_px_branch_response(b, v);
    if (b)
        sip_px_settle(b->tx);
}

/* Branch b's timers due at now; 1 when the response context changed. */
static int sip_px_branch_timers(sip_px_branch_t *b, int64_t now)
{
    int64_t d = sip_tsx_deadline(&b->tsx);
    int changed = 0;

    if (b->tsx.state == SIP_TSX_TERMINATED)
        return 0;
    if (d != 0 && now >= d) {
        int old = (int)b->tsx.state;
        unsigned act = sip_tsx_timer(&b->tsx, now);
        sip_px_count(b->tsx.kind, old, (int)b->tsx.state);
        if (act & SIP_TSX_RETRANSMIT)
            sip_px_branch_send_again(b);
        if ((act & SIP_TSX_TIMEOUT) && !b->ended) {
            sip_px_branch_end(b, 408);
            changed = 1;
            gw_stat_add(sip_proxy_stats.timeouts, 1);
            sip_px_trace(b->tx, "proxy: branch %s timed out", b->id);
        }
        if (act & SIP_TSX_FREE)
            sip_px_branch_unlink(b);
    }
    if (b->tx->invite && b->timer_c_at != 0 && now >= b->timer_c_at &&
        b->tsx.state != SIP_TSX_TERMINATED) {
        if (!b->cancel_sent && b->tsx.state == SIP_TSX_PROCEEDING) { /* Timer C */
            sip_px_send_cancel(b);
            gw_stat_add(sip_proxy_stats.timeouts, 1);
            sip_px_trace(b->tx, "proxy: Timer C on branch %s", b->id);
        } else if (b->cancel_sent) { /* no final after our CANCEL: given up */
            sip_px_count(b->tsx.kind, (int)b->tsx.state, SIP_TSX_TERMINATED);
            b->tsx.state = SIP_TSX_TERMINATED;
            sip_px_branch_unlink(b);
        } else {
            b->timer_c_at = 0;
        }
        if (!b->ended && b->tsx.state != SIP_TSX_CALLING) {
            sip_px_branch_end(b, 408);
            changed = 1;
        }
    }
    return changed;
}

/* See sip_proxy.h. */
void sip_px_timers(sip_px_txn_t *tx, int64_t now)
{
    int64_t d = sip_tsx_deadline(&tx->tsx);
    int changed = 0;

    if (tx->tsx.state != SIP_TSX_TERMINATED && d != 0 && now >= d) {
        int old = (int)tx->tsx.state;
        unsigned act = sip_tsx_timer(&tx->tsx, now);
        sip_px_count(tx->tsx.kind, old, (int)tx->tsx.state);
        if ((act & SIP_TSX_RETRANSMIT) && tx->last) /* Timer G */
            sip_worker_send_soon(tx->w, &tx->reply_to, tx->last, tx->last_len);
    }
    for (int i = 0; i < tx->nb; i++)
        if (tx->b[i].started)
            changed |= sip_px_branch_timers(&tx->b[i], now);
    if (changed)
        sip_px_check_done(tx);
}

/* See sip_proxy.h.  The ids are taken first and each branch found again:
 * ending one may free its transaction and its other branches. */
void sip_proxy_transport_failed(sip_worker_t *w, const sip_sa_t *remote, int proto)
{
    char ids[SIP_PROXY_MAX_BRANCHES * 4][64];
    int n = sip_px_branch_ids_to(w, remote, proto, ids, SIP_PROXY_MAX_BRANCHES * 4);

    for (int i = 0; i < n; i++) {
        sip_px_branch_t *b = sip_px_branch_find(w, ids[i], strlen(ids[i]));
        sip_px_txn_t *tx;
        if (!b || b->ended)
            continue;
        tx = b->tx;
        b->ended = 1;
        b->status = 503;
        sip_px_count(b->tsx.kind, (int)b->tsx.state, SIP_TSX_TERMINATED);
        b->tsx.state = SIP_TSX_TERMINATED;
        sip_px_branch_unlink(b);
        sip_px_trace(tx, "proxy: branch %s: %s connection failed", b->id, sip_proto_name(proto));
        sip_px_check_done(tx);
        sip_px_settle(tx);
    }
}

/* See sip_proxy.h. */
int64_t sip_px_deadline(const sip_px_txn_t *tx)
{
    int64_t at = tx->tsx.state != SIP_TSX_TERMINATED ? sip_tsx_deadline(&tx->tsx) : 0;

    for (int i = 0; i < tx->nb; i++) {
        const sip_px_branch_t *b = &tx->b[i];
        int64_t d;
        if (!b->started || b->tsx.state == SIP_TSX_TERMINATED)
            continue;
        d = sip_tsx_deadline(&b->tsx);
        if (d != 0 && (at == 0 || d < at))
            at = d;
        if (tx->invite && b->timer_c_at != 0 && (at == 0 || b->timer_c_at < at))
            at = b->timer_c_at;
    }
    return at;
}

/* See sip_proxy.h. */
void sip_px_free_branches(sip_px_txn_t *tx)
{
    for (int i = 0; i < tx->nb; i++) {
        sip_px_branch_t *b = &tx->b[i];
        if (b->linked)
            sip_px_branch_unlink(b);
        if (b->started)
            sip_px_count(b->tsx.kind, (int)b->tsx.state, -1);
        if (b->started && !b->ended && b->trunk[0]) /* freed without a final (shutdown) */
            sip_trunk_note_end(b->trunk, b->trunk_dst);
        free(b->req);
        free(b->resp);
        b->req = b->resp = NULL;
    }
}
