/*
 * sip_proxy_auth.c - digest authentication of the requests the proxy
 * handles (docs/sip-auth.md, "Proxied requests"), the way Kamailio's and
 * OpenSIPS's configurations do it (proxy_authorize before relaying).
 *
 * With sip.auth and sip.proxy_auth on, a new request from a source in no
 * trusted network is challenged when
 *   it claims a local caller: its From host is one of sip.domains (every
 *     host name when that is empty) or junction's own address; or
 *   it would be relayed anywhere but to a local user (a Route to another
 *     host, a non-local IPv4 Request-URI: tx->relay), which without
 *     sip.auth is the 403 "no open relay" of sip_proxy.c.
 * Not challenged: a request from a foreign caller to a local user (as a
 * phone of another domain calls ours), ACK and CANCEL (RFC 3261 22.1;
 * sip_proxy.c never brings them here), and a request inside a dialog: a
 * To tag and our own Record-Route first in its Route (it follows a
 * dialog whose INVITE was authenticated).
 * The check is sip_auth_check's (SIP_AUTH_PROXY: 407 and
 * Proxy-Authenticate, Proxy-Authorization); the answer goes through the
 * request's server transaction (sip_px_reply): a retransmission gets it
 * again, the ACK of a 407 to an INVITE is absorbed by the IST.  Taken
 * credentials must be the From user's (sip.auth_match_from, else 403),
 * and are removed from the request before it is forwarded: RFC 3261
 * 22.3, a proxy consumes the credentials of its own realm (the
 * Proxy-Authorization of other realms goes on).
 *
 * Threads: sip_px_authorize on the worker that owns tx; sip_px_auth_init
 * on the main thread.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_trusted.h"
#include "sip_proxy.h"

static gw_stat_t *sip_px_auth_challenges, *sip_px_auth_ok, *sip_px_auth_refused;

void sip_px_auth_init(void)
{
    sip_px_auth_challenges = gw_stat("sip.proxy_auth_challenges",
                                     "proxied requests answered 407 (a challenge, stale ones too)");
    sip_px_auth_ok = gw_stat("sip.proxy_auth_ok",
                             "proxied requests taken with a SIP user's credentials");
    sip_px_auth_refused = gw_stat("sip.proxy_auth_refused",
                                  "proxied requests refused 403 / 400 for their credentials "
                                  "(wrong, malformed, not the From user's)");
}

/* The From URI of v parsed into u: 0 or -1. */
static int sip_px_from(const sip_view_t *v, sip_px_uri_t *u)
{
    sip_range_t r;
    sip_view_addr_t a;

    if (sip_view_nth(v, SIP_H_FROM, 0, &r) < 0 || sip_view_addr(v, r, &a) != 0)
        return -1;
    return sip_px_uri_parse(v->buf + a.uri.off, a.uri.len, u);
}

/* 1 when the From URI u names a local caller: our address (any port), or
 * a host name of sip.domains (sip_reg_is_local). */
static int sip_px_from_local(const sip_px_uri_t *u)
{
    if (u->ipv4)
        return sip_px_is_self(&sip_px_self, u, 1);
    return sip_reg_is_local(u->host);
}

/* See sip_proxy.h. */
int sip_px_authorize(sip_px_txn_t *tx, const sip_view_t *v)
{
    static __thread sip_px_uri_t from; /* 400 bytes: off the worker's stack */
    sip_auth_result_t res;
    char ip[INET_ADDRSTRLEN], net[64], method[32];
    const char *asked;
    int local;

    if (!__atomic_load_n(&sip_conf.auth, __ATOMIC_RELAXED) ||
        !__atomic_load_n(&sip_proxy_conf.auth, __ATOMIC_RELAXED))
        return SIP_PX_AUTH_NONE;
    if (tx->has_to_tag && tx->del_top_route)
        return SIP_PX_AUTH_NONE; /* in a dialog we record-routed */
    sip_sa_ip(&tx->src.addr, ip, sizeof ip);
    if (gw_trusted_find(ip, net, sizeof net))
        return SIP_PX_AUTH_NONE;
    memset(&from, 0, sizeof from);
    local = sip_px_from(v, &from) == 0 && sip_px_from_local(&from);
    if (!local && !tx->relay) {
        sip_px_trace(tx, "proxy auth: not asked: a foreign caller (%s) to a local user",
                     from.host[0] ? from.host : "no From URI");
        return SIP_PX_AUTH_NONE;
    }
    asked = local ? "a local caller" : "a relay to a non-local target";
    snprintf(method, sizeof method, "%.*s", (int)v->method_tok.len, v->buf + v->method_tok.off);
    sip_auth_check(tx->req, tx->len, method, SIP_AUTH_PROXY, &res);
    if (res.status == 0 && __atomic_load_n(&sip_proxy_conf.auth_match_from, __ATOMIC_RELAXED) &&
        strcmp(res.user, from.user) != 0) {
        sip_px_trace(tx, "proxy auth: %s %s@%s: refused 403: digest user %s is not the From user "
                     "(sip.auth_match_from)", method, from.user, from.host, res.user);
        gw_stat_add(sip_px_auth_refused, 1);
        sip_px_reply(tx, 403, "Forbidden (credentials not of the From user)", NULL);
        return SIP_PX_AUTH_ANSWERED;
    }
    if (res.status != 0) {
        sip_px_trace(tx, "proxy auth: %s (%s): %d %s%s%s%s (%s)", method, asked, res.status,
                     res.reason, res.stale ? " stale=true" : "", res.user[0] ? " user " : "",
                     res.user, res.why);
        gw_stat_add(res.status == 407 ? sip_px_auth_challenges : sip_px_auth_refused, 1);
        sip_px_reply(tx, res.status, res.reason, res.extra);
        free(res.extra);
        return SIP_PX_AUTH_ANSWERED;
    }
    tx->len = sip_auth_strip(tx->req, tx->len);
    sip_px_req_changed(tx);
    gw_stat_add(sip_px_auth_ok, 1);
    sip_px_trace(tx, "proxy auth: %s (%s) taken as %s (digest %s); our Proxy-Authorization "
                 "removed", method, asked, res.sender, res.alg);
    return SIP_PX_AUTH_OK;
}
