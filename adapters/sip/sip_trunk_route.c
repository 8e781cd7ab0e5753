/*
 * sip_trunk_route.c - a proxied request routed by the rule engine to SIP
 * trunks (docs/sip-proxy.md, "Trunks").
 *
 * When the proxy has no target of its own (no Route, no registered
 * binding of a local address of record, or a Request-URI that is not
 * ours) for a request outside a dialog (no To tag; not an ACK forwarded
 * statelessly) it asks the router with the request as a query, without an
 * envelope (gw_route_ask): source connector "sip" with sip_peer (the
 * sender's ip:port) and sip_domain (the From host); from = the From URI
 * and to = the Request-URI, both normalised as a MESSAGE's would be
 * (gw_addr.h: sip:+4930123@host is the international number 4930123);
 * tags sip.method, sip.ruri, sip.from, sip.to.  The decision:
 *   route   its targets that are sip_trunk connectors, in the rule's
 *           order, each giving its usable destinations in its strategy's
 *           order (sip_trunk_hops): one serial step per destination, so
 *           the proxy tries them one after the other; the branches fail
 *           over on 408 / 5xx / timeout only (sip_trunk_fails_over).  A
 *           rewritten dst becomes the Request-URI user (gw_addr_sip_user:
 *           "+" before an international number), before the trunk's own
 *           strip / prefix.
 *           Targets that are no trunk are skipped; none left: no route.
 *           Trunks without a usable destination: 503.
 *   reject  the rule's sip_status; drop: 403.
 *   no route / no rules: the caller answers as it did before.
 * Every decision is a trace record (rule, trunks, destinations).
 *
 * Ownership: the decision's strings live in the rule set, held for the
 * call; what tx keeps is copied.  Threads: the proxy's worker.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_addr.h"
#include "gw_route.h"
#include "sip_proxy.h"
#include "sip_trunk.h"

#define SIP_TRUNK_TAGS 4

/* Copy range r of v into out (size n), NUL-terminated (cut when longer). */
static void sip_trunk_copy(const sip_view_t *v, sip_range_t r, char *out, size_t n)
{
    size_t len = r.len < n - 1 ? r.len : n - 1;

    memcpy(out, v->buf + r.off, len);
    out[len] = '\0';
}

/* The URI of header id's first value of v into out ("" when absent). */
static void sip_trunk_hdr_uri(const sip_view_t *v, sip_hdr_id_t id, char *out, size_t n)
{
    sip_range_t r;
    sip_view_addr_t a;

    out[0] = '\0';
    if (sip_view_nth(v, id, 0, &r) >= 0 && sip_view_addr(v, r, &a) == 0)
        sip_trunk_copy(v, a.uri, out, n);
}

/* The serial destination set of the routed decision dec into tx: 0,
 * -1 (no trunk among the targets) or 503 (none usable). */
static int sip_trunk_fill(sip_px_txn_t *tx, const rt_decision_t *dec, const char *user)
{
    char list[200] = "";
    size_t off = 0;
    int trunks = 0;

    tx->nb = 0;
    for (size_t i = 0; i < dec->ntargets && tx->nb < SIP_PROXY_MAX_BRANCHES; i++) {
        sip_trunk_hop_t hops[SIP_TRUNK_MAX_DST];
        int n = sip_trunk_hops(dec->targets[i].connector, user, hops,
                               SIP_PROXY_MAX_BRANCHES - tx->nb);
        if (n < 0)
            continue; /* not a trunk: a message connector */
        trunks++;
        if (off < sizeof list)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s(%d usable)",
                                    off ? ", " : "", dec->targets[i].connector, n);
        if (sip_px_branch_room(tx, tx->nb + n) != 0)
            n = tx->bcap - tx->nb; /* no memory: as many as there is room for */
        for (int k = 0; k < n; k++) {
            sip_px_branch_t *b = &tx->b[tx->nb];
            b->dst = hops[k].addr;
            /* same sizes, both NUL-terminated (sip_trunk_hops) */
            _Static_assert(sizeof b->ruri == sizeof hops[k].ruri, "ruri sizes");
            _Static_assert(sizeof b->trunk == sizeof hops[k].trunk, "trunk sizes");
            memcpy(b->ruri, hops[k].ruri, sizeof b->ruri);
            memcpy(b->trunk, hops[k].trunk, sizeof b->trunk);
            b->trunk_dst = hops[k].idx;
            b->group = tx->nb;
            tx->nb++;
        }
    }
    tx->ngroups = tx->nb;
    if (trunks == 0)
        return -1;
    sip_px_trace(tx, "trunk: rule %lld %s -> %s: %d destination(s)", dec->rule_id,
                 dec->rule_name ? dec->rule_name : "", list, tx->nb);
    if (tx->nb == 0)
        return 503;
    tx->trunk = 1;
    tx->relay = 1;
    gw_stat_add(sip_trunk_stats.requests, 1);
    return 0;
}

/* See sip_proxy.h. */
int sip_px_trunk_targets(const sip_view_t *v, const sip_px_uri_t *u, sip_px_txn_t *tx,
                         const char **reason)
{
    char method[32], ruri[256], from[256], to[256], peer[SIP_ADDR_MAX], domain[128];
    rt_tag_t tags[SIP_TRUNK_TAGS];
    rt_decision_t dec;
    rt_query_t q;
    rt_set_t *s;
    sip_px_uri_t fu;
    int rc = -1;

    memset(&q, 0, sizeof q);
    sip_trunk_copy(v, v->method_tok, method, sizeof method);
    sip_trunk_copy(v, v->ruri, ruri, sizeof ruri);
    sip_trunk_hdr_uri(v, SIP_H_FROM, from, sizeof from);
    sip_trunk_hdr_uri(v, SIP_H_TO, to, sizeof to);
    sip_sa_str(&tx->src.addr, peer, sizeof peer); /* "1.2.3.4:5060", "[::1]:5060" */
    domain[0] = '\0';
    if (sip_px_uri_parse(from, strlen(from), &fu) == 0)
        snprintf(domain, sizeof domain, "%s", fu.host);
    q.source.connector = "sip";
    q.source.values[RT_SRC_SIP_PEER] = peer;
    q.source.values[RT_SRC_SIP_DOMAIN] = domain[0] ? domain : NULL;
    if (gw_addr_normalise(&q.to, ruri, GW_ADDR_TON_NONE, 0) != 0) {
        sip_px_trace(tx, "trunk: Request-URI %s is no address the router reads", ruri);
        return -1;
    }
    if (from[0] && gw_addr_normalise(&q.from, from, GW_ADDR_TON_NONE, 0) != 0)
        q.from.address = NULL;
    tags[0] = (rt_tag_t){"sip.method", method};
    tags[1] = (rt_tag_t){"sip.ruri", ruri};
    tags[2] = (rt_tag_t){"sip.from", from};
    tags[3] = (rt_tag_t){"sip.to", to};
    q.tags = tags;
    q.ntags = SIP_TRUNK_TAGS;
    s = gw_route_ask(&q, &dec);
    switch (dec.kind) {
    case RT_ROUTE: {
        /* a rule's rewrite of dst is the new Request-URI user */
        char user[GW_ADDR_MAX + 2];
        if (!dec.to_rewritten || gw_addr_sip_user(&dec.to, user, sizeof user) != 0)
            snprintf(user, sizeof user, "%s", u->user);
        rc = sip_trunk_fill(tx, &dec, user);
        if (rc == 503)
            *reason = "No Trunk Destination Up";
        break;
    }
    case RT_REJECT:
        rc = dec.sip_status >= 400 && dec.sip_status < 700 ? dec.sip_status : 403;
        snprintf(tx->why, sizeof tx->why, "%s", dec.reason);
        *reason = tx->why;
        sip_px_trace(tx, "trunk: rejected %d by rule %lld %s: %s", rc, dec.rule_id,
                     dec.rule_name ? dec.rule_name : "", dec.reason);
        break;
    case RT_DROP:
        rc = 403;
        *reason = "Forbidden";
        sip_px_trace(tx, "trunk: dropped by rule %lld %s: 403", dec.rule_id,
                     dec.rule_name ? dec.rule_name : "");
        break;
    default:
        sip_px_trace(tx, "trunk: no route for %s: %s", q.to.address, dec.reason);
        break;
    }
    rt_set_unref(s);
    free(q.to.address);
    free(q.from.address);
    return rc;
}
