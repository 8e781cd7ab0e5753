/*
 * sip_proxy_sl.c - stateless forwarding (RFC 3261 16.11), sip.proxy_mode
 * "stateless".
 *
 * sip_proxy_request validates a request as in stateful mode (483 is
 * sip_check_request's, 420 for a Proxy-Require, a loop 482, Route
 * preprocessing with double Record-Route, the dialog hook of an
 * in-dialog request) and, when it came over UDP and the worker holds no
 * transaction for it, hands it here instead of making one.  Here the
 * request gets exactly one target - the first of what the stateful proxy
 * would fork to (sip_px_targets with tx->stateless: the top Route, the
 * best binding of a local address of record, an IP literal Request-URI
 * host; no rule of the router, so no trunk) - the no-open-relay rule
 * without digest challenge (an untrusted relay is 403: a 407 needs the
 * server transaction), our Via, Max-Forwards - 1 and, with
 * sip.record_route, our Record-Route, and is sent over UDP (IPv4 or
 * IPv6).  Nothing is kept: no 100 Trying, no retransmission absorbed (a
 * retransmission is forwarded again), no timers, no dialog made;
 * refusals (403, 404, 480, 416) are answered at once, a host name that
 * needs DNS is 503 (stateless mode resolves no names), an ACK is never
 * answered.  A target over TCP or TLS is handed back (0): the request
 * is then handled statefully.
 *
 * The branch (16.11): "z9hG4bK-js" and 16 hex digits of a 64-bit FNV-1a
 * hash of the received top Via's branch and sent-by when that branch has
 * the magic cookie, else of the top Via value, the From and To tags, the
 * Call-ID, the CSeq number and the Request-URI.  So a retransmission gets
 * the same branch, and so do the CANCEL and the non-2xx ACK of an INVITE
 * (they carry the INVITE's top Via): the next hop matches them to the
 * INVITE's transaction.  The prefix differs from the stateful "-jp" so a
 * response to it is forwarded at once by the worker that reads it
 * (sip_proxy_response -> sip_px_sl_response: our Via removed, sent to the
 * next Via's address), whatever the mode is by then.  Loops: the branch
 * holds no loop hash; stateless mode relies on Max-Forwards (483).
 *
 * Ownership: nothing is allocated per request; the output buffer and the
 * target scratch are per thread (__thread), reused.
 * Threads: the worker that read the request or response; sip_px_sl_conf
 * and its hook on the main / MI thread (one atomic int written).
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "gw_jbuf.h"
#include "gw_log.h"
#include "gw_trace.h"
#include "sip_proxy.h"

/* The worker's scratch: the targets of the request being forwarded and
 * the bytes of the forwarded copy.  Per thread, so no lock and no malloc. */
static __thread sip_px_txn_t sip_px_sl_room;
static __thread char sip_px_sl_out[SIP_PROXY_MSG_MAX];

static uint64_t sip_px_fnv64(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* See sip_proxy.h. */
int sip_px_sl_branch(const sip_view_t *v, char *out, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    sip_view_via_t via;
    char num[16];
    int len;

    if (sip_view_via(v, 0, &via) != 0)
        return GW_EINVAL;
    if (via.rfc3261) {
        h = sip_px_fnv64(h, v->buf + via.branch.off, via.branch.len);
        h = sip_px_fnv64(h, v->buf + via.host.off, via.host.len);
        h = sip_px_fnv64(h, (const char *)&via.port, sizeof via.port);
    } else {
        sip_range_t r;
        if (sip_view_nth(v, SIP_H_VIA, 0, &r) >= 0)
            h = sip_px_fnv64(h, v->buf + r.off, r.len);
        h = sip_px_fnv64(h, v->buf + v->from_tag.off, v->from_tag.len);
        h = sip_px_fnv64(h, v->buf + v->to_tag.off, v->to_tag.len);
        h = sip_px_fnv64(h, v->buf + v->call_id.off, v->call_id.len);
        len = snprintf(num, sizeof num, "%u", v->cseq);
        h = sip_px_fnv64(h, num, (size_t)len);
        h = sip_px_fnv64(h, v->buf + v->ruri.off, v->ruri.len);
    }
    len = (int)strlen(SIP_PROXY_SL_PREFIX);
    if ((size_t)len + 16 >= n)
        return GW_EINVAL;
    memcpy(out, SIP_PROXY_SL_PREFIX, (size_t)len);
    sip_px_hex(out + len, h, 16); /* as "%016llx" */
    out[len + 16] = '\0';
    return 0;
}

/* "SIP/2.0/UDP <ip>:<port>;branch=<branch>;rport" into out (of n; cut
 * short as snprintf would), without printf: this is built per request. */
static void sip_px_sl_via(char *out, size_t n, const char *ip, const char *branch)
{
    static const char head[] = "SIP/2.0/UDP ", mid[] = ";branch=", tail[] = ";rport";
    char port[24];
    size_t lip = strlen(ip), lb = strlen(branch), lp;

    port[0] = ':';
    lp = 1 + gw_put_uint(port + 1, (unsigned long long)(unsigned)sip_conf.port); /* 1..65535 */
    if (sizeof head - 1 + lip + lp + sizeof mid - 1 + lb + sizeof tail > n) {
        snprintf(out, n, "%s%s%.*s%s%s%s", head, ip, (int)lp, port, mid, branch, tail);
        return;
    }
    memcpy(out, head, sizeof head - 1);
    out += sizeof head - 1;
    memcpy(out, ip, lip);
    out += lip;
    memcpy(out, port, lp);
    out += lp;
    memcpy(out, mid, sizeof mid - 1);
    out += sizeof mid - 1;
    memcpy(out, branch, lb);
    out += lb;
    memcpy(out, tail, sizeof tail); /* with its NUL */
}

/* A trace record of a stateless decision (nothing built when no trace
 * is active). */
static void sip_px_sl_trace(const sip_view_t *v, const sip_peer_t *src, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sip_px_sl_trace(const sip_view_t *v, const sip_peer_t *src, const char *fmt, ...)
{
    gw_trace_rec_t r = {0};
    char summary[256], peer[SIP_ADDR_MAX + 8], call_id[128];
    va_list ap;

    if (!gw_trace_on())
        return;
    va_start(ap, fmt);
    vsnprintf(summary, sizeof summary, fmt, ap);
    va_end(ap);
    sip_sa_str(&src->addr, peer, sizeof peer);
    snprintf(call_id, sizeof call_id, "%.*s", (int)v->call_id.len, v->buf + v->call_id.off);
    r.kind = GW_TRACE_LOG;
    r.connector = "sip";
    r.peer = peer;
    r.call_id = call_id;
    r.summary = summary;
    gw_trace_record(&r);
}

/* See sip_proxy.h. */
int sip_px_sl_request(sip_worker_t *w, const sip_view_t *v, const sip_peer_t *src,
                      int del_top_route)
{
    sip_px_txn_t *tx = &sip_px_sl_room;
    const char *reason = NULL;
    char branch[40], ip[SIP_ADDR_MAX], via[240], rr[160], where[SIP_ADDR_MAX + 8];
    sip_px_fwd_t f = {0};
    sip_peer_t dst = {.conn_id = 0, .proto = SIP_PROTO_UDP};
    long len;
    int st, rc = 1;

    /* what sip_px_targets and sip_px_may_relay read or write: the head
     * and the first branch */
    memset(tx, 0, offsetof(sip_px_txn_t, b));
    sip_px_branch_scratch(tx);
    tx->w = w;
    tx->src = *src;
    tx->del_top_route = del_top_route;
    tx->has_to_tag = v->to_tag.len > 0;
    tx->stateless = 1;
    st = sip_px_targets(v, tx, &reason);
    if (st == 0 && tx->b[0].dst_proto != SIP_PROTO_UDP)
        return 0; /* TCP / TLS: the stateful proxy's (connections, no retransmission) */
    if (st == SIP_PX_NEEDS_DNS) {
        st = 503;
        reason = "Stateless Mode Does Not Resolve Host Names";
    }
    if (st == 0 && !sip_px_may_relay(tx)) {
        st = 403;
        reason = "Relaying Denied (untrusted source)";
    }
    if (st == 0 && sip_px_sl_branch(v, branch, sizeof branch) != 0) {
        st = 400;
        reason = "Bad Via";
    }
    if (st != 0) {
        gw_stat_add(sip_proxy_stats.no_target, 1);
        sip_px_sl_trace(v, src, "proxy (stateless): %.*s %.*s: no target, %d %s",
                        (int)v->method_tok.len, v->buf + v->method_tok.off, (int)v->ruri.len,
                        v->buf + v->ruri.off, st, reason);
        if (v->method != SIP_M_ACK)
            sip_px_reply_bare(w, v, src, st, reason, NULL);
        return rc;
    }
    dst.addr = tx->b[0].dst;
    sip_px_local_ip(&dst.addr, ip, sizeof ip);
    sip_px_sl_via(via, sizeof via, ip, branch);
    f.via = via;
    f.ruri = tx->b[0].ruri[0] ? tx->b[0].ruri : NULL;
    /* as the stateful proxy: a request in a dialog has its route set; an
     * IPv4 source to an IPv6 target (or back) gets both our addresses
     * (RFC 5658 double record-routing) */
    if (__atomic_load_n(&sip_proxy_conf.record_route, __ATOMIC_RELAXED) && v->to_tag.len == 0 &&
        v->method != SIP_M_ACK && v->method != SIP_M_CANCEL) {
        if (src->addr.sa.sa_family == dst.addr.sa.sa_family) {
            snprintf(rr, sizeof rr, "<sip:%s:%d;lr>", ip, sip_conf.port);
        } else {
            char in_ip[SIP_ADDR_MAX];
            sip_px_local_ip(&src->addr, in_ip, sizeof in_ip);
            snprintf(rr, sizeof rr, "<sip:%s:%d;lr>, <sip:%s:%d;lr>", ip, sip_conf.port, in_ip,
                     sip_conf.port);
        }
        f.rr = rr;
    }
    f.del_top_route = del_top_route;
    f.path = tx->b[0].path;
    len = sip_px_build(v, &f, sip_px_sl_out, sizeof sip_px_sl_out);
    if (len <= 0) {
        GW_WARN(SIP_LOG, "proxy (stateless): cannot build the forwarded request (%ld)", len);
        if (v->method != SIP_M_ACK)
            sip_px_reply_bare(w, v, src, 500, "Server Internal Error", NULL);
        return rc;
    }
    if (sip_worker_send_soon(w, &dst, sip_px_sl_out, (size_t)len) != 0)
        gw_stat_add(sip_stats.drops, 1);
    else
        gw_stat_add(sip_proxy_stats.sl_forwarded, 1);
    if (gw_trace_on())
        sip_sa_str(&dst.addr, where, sizeof where);
    sip_px_sl_trace(v, src, "proxy (stateless): %.*s %.*s to %s branch %s",
                    (int)v->method_tok.len, v->buf + v->method_tok.off, (int)v->ruri.len,
                    v->buf + v->ruri.off, where, branch);
    return rc;
}

/* See sip_proxy.h.  As any response for no branch of ours (16.11): our
 * Via removed, to the next Via's address over its transport
 * (sip_px_response_local finds no branch and forwards it). */
void sip_px_sl_response(sip_worker_t *w, const char *buf, size_t n)
{
    sip_px_response_sl(w, buf, n);
}

/* The mode from its text: 1 stateless, 0 stateful, -1 neither. */
static int sip_px_sl_mode(const char *s)
{
    if (strcmp(s, "stateless") == 0)
        return 1;
    return strcmp(s, "stateful") == 0 ? 0 : -1;
}

/* params.set sip.proxy_mode: the workers read the int, never the text. */
static void sip_px_sl_changed(const gw_param_t *p)
{
    int m = sip_px_sl_mode(p->var);

    if (m < 0)
        GW_ERR(SIP_LOG, "sip.proxy_mode '%s': stateful or stateless; stateful is used",
               (const char *)p->var);
    __atomic_store_n(&sip_proxy_conf.stateless, m == 1, __ATOMIC_RELAXED);
    GW_INFO(SIP_LOG, "proxy mode: %s", m == 1 ? "stateless" : "stateful");
}

static const gw_param_hook_t sip_px_sl_hooks[] = {
    {"sip.proxy_mode", sip_px_sl_changed},
    {NULL, NULL},
};

/* See sip_proxy.h. */
int sip_px_sl_conf(void)
{
    int m = sip_px_sl_mode(sip_proxy_conf.mode);

    if (m < 0) {
        GW_ERR(SIP_LOG, "sip.proxy_mode '%s': stateful or stateless", sip_proxy_conf.mode);
        return GW_EINVAL;
    }
    __atomic_store_n(&sip_proxy_conf.stateless, m, __ATOMIC_RELAXED);
    return gw_params_register_hooks(sip_px_sl_hooks);
}
