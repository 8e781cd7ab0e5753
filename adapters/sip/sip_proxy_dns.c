/*
 * sip_proxy_dns.c - the proxy's targets that are host names (RFC 3263).
 *
 * When the top Route or the Request-URI names a host that is neither us
 * nor a local domain nor an IP literal, sip_px_targets leaves the URI in
 * tx->dns_uri and the transaction waits (its 100 Trying is out) while
 * sip_dns_resolve (sip_dns.c) walks NAPTR, SRV and A/AAAA on this
 * worker's own resolver.  The lookup holds no pointer to the
 * transaction: its argument is the worker, the server transaction key
 * and the transaction's generation, and the callback finds the
 * transaction again by key and checks the generation, so a transaction
 * that a CANCEL ended (487 at once: no branch yet) and that was freed
 * meanwhile is simply not found.
 *
 * The targets become serial branches, one per address in the resolver's
 * order, each its own step (sip_px_order's groups), with the Request-URI
 * kept: a 503, a timeout (Timer B/F), a send the socket refuses or a
 * build failure ends a branch
 * and sip_proxy_branch.c's failover starts the next (RFC 3263 4.3).  The
 * proxy sends over UDP today: TCP and TLS targets and IPv6 addresses
 * (until sip_peer_t carries them) are left out of the branches.  No
 * target at all is answered 503 "Unresolvable Destination" (Kamailio's
 * phrase; its 478 is not an RFC 3261 code), with a trace record.
 *
 * Ownership: the lookup's argument (sip_px_dns_arg_t) is freed by the
 * callback, whatever it finds.
 * Threads: the worker that owns the transaction.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "sip_dns.h"
#include "sip_proxy.h"

typedef struct sip_px_dns_arg {
    sip_worker_t *w;
    uint64_t gen;
    char key[320];
} sip_px_dns_arg_t;

static uint64_t sip_px_dns_gen; /* atomic: transaction generations */

/* The lookup of a transaction ended: its branches, or 503. */
static void sip_px_dns_done(void *arg, const sip_dns_target_t *t, int n, int rc)
{
    sip_px_dns_arg_t *a = arg;
    sip_px_txn_t *tx = rc == GW_ESTOPPED ? NULL : sip_px_txn_find(a->w, a->key);

    if (!tx || tx->gen != a->gen || !tx->dns_wait)
        goto out_free; /* gone (cancelled and ended) or a newer one of that key */
    tx->dns_wait = 0;
    if (tx->final_sent) { /* a CANCEL came first: 487 went up */
        sip_px_settle(tx);
        goto out_free;
    }
    tx->nb = 0;
    if (sip_px_branch_room(tx, n < SIP_PROXY_MAX_BRANCHES ? n : SIP_PROXY_MAX_BRANCHES) != 0)
        n = tx->bcap; /* no memory: as many as there is room for */
    for (int i = 0; i < n && tx->nb < tx->bcap; i++) {
        sip_px_branch_t *b = &tx->b[tx->nb];
        int fam = t[i].addr.ss_family;
        if (fam != AF_INET && fam != AF_INET6)
            continue;
        memset(&b->dst, 0, sizeof b->dst);
        memcpy(&b->dst, &t[i].addr, fam == AF_INET6 ? sizeof b->dst.in6 : sizeof b->dst.in);
        /* UDP, TCP or TLS, IPv4 or IPv6: a family we have no UDP socket
         * of fails its send at once and the next target is tried */
        b->dst_proto = t[i].transport == SIP_DNS_TLS   ? SIP_PROTO_TLS
                       : t[i].transport == SIP_DNS_TCP ? SIP_PROTO_TCP
                                                       : SIP_PROTO_UDP;
        b->ruri[0] = '\0'; /* the Request-URI is kept */
        b->path[0] = '\0';
        b->group = tx->nb;
        tx->nb++;
    }
    tx->ngroups = tx->nb;
    if (tx->nb == 0) {
        gw_stat_add(sip_proxy_stats.no_target, 1);
        sip_px_trace(tx, "proxy: %s: no usable DNS target (%s), 503", tx->dns_uri.host,
                     rc == GW_EAGAIN ? "DNS servers failed" : n ? "no IPv4 / IPv6 address"
                                                             : "no records");
        sip_px_reply(tx, 503, "Unresolvable Destination", NULL);
    } else {
        sip_px_trace(tx, "proxy: %s resolved: %d target(s), tried one after the other",
                     tx->dns_uri.host, tx->nb);
        sip_px_start_group(tx, 0);
    }
    sip_px_settle(tx);
out_free:
    free(a);
}

/* See sip_proxy.h. */
int sip_px_dns_start(sip_px_txn_t *tx)
{
    sip_px_dns_arg_t *a = malloc(sizeof *a);
    const sip_px_uri_t *u = &tx->dns_uri;
    int rc;

    if (!a)
        return -1;
    a->w = tx->w;
    a->gen = tx->gen = __atomic_add_fetch(&sip_px_dns_gen, 1, __ATOMIC_RELAXED);
    snprintf(a->key, sizeof a->key, "%s", tx->key);
    tx->dns_wait = 1;
    rc = sip_dns_resolve(tx->w, u->host, u->port,
                         u->proto == SIP_PROTO_TLS   ? SIP_DNS_TLS
                         : u->proto == SIP_PROTO_TCP ? SIP_DNS_TCP
                                                     : SIP_DNS_ANY, /* ;transport= named */
                         strcmp(u->scheme, "sips") == 0,
                         sip_px_dns_done, a);
    if (rc != 0) {
        tx->dns_wait = 0;
        free(a);
        rc = -1;
    }
    return rc;
}
