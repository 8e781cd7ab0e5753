/*
 * sip_proxy_route.c - the proxy's pure decisions (RFC 3261 section 16):
 * reading a URI, knowing our own address in one, ordering the bindings of
 * an address of record for forking, choosing the best final response of a
 * response context, and the loop hash.
 *
 * Fork order (16.6, 16.7): bindings by decreasing q; equal q values are
 * one step, tried in parallel; the steps are tried one after the other.
 * A binding without q counts as q=1.0.
 *
 * Best response (16.7 step 6): a 6xx ends the search and wins; a 2xx is
 * forwarded the moment it comes (the caller never asks here for it, but a
 * 2xx would win); otherwise the lowest class, and in 4xx the responses
 * that let the caller resubmit (401, 407, 415, 420, 484) first.
 *
 * Ownership: no allocation; reads what it is given.
 * Threads: pure; any thread.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_jbuf.h"
#include "sip_proxy.h"

/* Copy s[0..n) lower-cased (lower) into out (size cap); -1 when too long. */
static int sip_px_copy(char *out, size_t cap, const char *s, size_t n, int lower)
{
    int rc = 0;

    if (n >= cap) {
        rc = -1;
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
        out[n] = '\0';
    }
    return rc;
}

/* The URI parsed last on this thread, its bytes and result: the proxy
 * asks for the same Request-URI or Route several times per request
 * (the checks, Route preprocessing, the targets), and the answer is a
 * function of the bytes alone.  Each thread its own; no lock. */
static __thread struct {
    size_t n;
    char s[256];
    sip_px_uri_t u;
    int rc;
} sip_px_uri_last;

static int sip_px_uri_parse_bytes(const char *s, size_t n, sip_px_uri_t *u);

/* See sip_proxy.h. */
int sip_px_uri_parse(const char *s, size_t n, sip_px_uri_t *u)
{
    int rc;

    if (n > 0 && n == sip_px_uri_last.n && memcmp(s, sip_px_uri_last.s, n) == 0) {
        *u = sip_px_uri_last.u;
        return sip_px_uri_last.rc;
    }
    rc = sip_px_uri_parse_bytes(s, n, u);
    if (n > 0 && n <= sizeof sip_px_uri_last.s) {
        memcpy(sip_px_uri_last.s, s, n);
        sip_px_uri_last.n = n;
        sip_px_uri_last.u = *u;
        sip_px_uri_last.rc = rc;
    }
    return rc;
}

static int sip_px_uri_parse_bytes(const char *s, size_t n, sip_px_uri_t *u)
{
    const char *p = s, *end = s + n, *colon, *at, *hend;
    int rc = 0;

    memset(u, 0, sizeof *u);
    colon = memchr(p, ':', n);
    if (!colon || sip_px_copy(u->scheme, sizeof u->scheme, p, (size_t)(colon - p), 1) != 0 ||
        (strcmp(u->scheme, "sip") != 0 && strcmp(u->scheme, "sips") != 0))
        return -1;
    p = colon + 1;
    /* the user part ends at the last '@': a user may hold ';', '?' and
     * '/' (RFC 3261 25.1 user-unreserved, RFC 4475 3.1.1.2), the
     * parameters and headers after the host no raw '@' */
    at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *ue = memchr(p, ':', (size_t)(at - p)); /* user:password */
        if (sip_px_copy(u->user, sizeof u->user, p, (size_t)((ue ? ue : at) - p), 0) != 0)
            return -1;
        p = at + 1;
    }
    if (p < end && *p == '[') { /* an IPv6 reference, kept with its [] */
        hend = memchr(p, ']', (size_t)(end - p));
        if (!hend)
            return -1;
        hend++;
    } else {
        for (hend = p; hend < end && *hend != ':' && *hend != ';' && *hend != '?'; hend++)
            ;
    }
    if (hend == p || sip_px_copy(u->host, sizeof u->host, p, (size_t)(hend - p), 1) != 0)
        return -1;
    p = hend;
    if (p < end && *p == ':') {
        char *e;
        long port = strtol(p + 1, &e, 10);
        if (e == p + 1 || port <= 0 || port > 65535)
            return -1;
        u->port = (int)port;
        p = e;
    }
    while (p < end && *p == ';') { /* uri parameters, until '?' */
        const char *ne = p + 1;
        while (ne < end && *ne != ';' && *ne != '?')
            ne++;
        if (ne - p == 3 && strncasecmp(p + 1, "lr", 2) == 0)
            u->lr = 1;
        else if (ne - p > 3 && strncasecmp(p + 1, "lr=", 3) == 0)
            u->lr = 1;
        else if (ne - p == 14 && strncasecmp(p + 1, "transport=", 10) == 0 &&
                 sip_proto_from_name(p + 11, 3) > 0)
            u->proto = sip_proto_from_name(p + 11, 3);
        p = ne;
    }
    if (strcmp(u->scheme, "sips") == 0)
        u->proto = SIP_PROTO_TLS;
    {
        struct in_addr a;
        sip_sa_t sa;
        u->ipv4 = inet_pton(AF_INET, u->host, &a) == 1;
        u->ip = u->ipv4 || (u->host[0] == '[' && sip_sa_from_host(u->host, strlen(u->host), 0,
                                                                  &sa) == 0);
    }
    return rc;
}

/* See sip_proxy.h. */
int sip_px_is_self(const sip_px_self_t *s, const sip_px_uri_t *u, int any_port)
{
    int port = u->port ? u->port : u->proto == SIP_PROTO_TLS ? 5061 : 5060;
    int hit = 0;

    if (!(port == s->port || (s->tls_port && port == s->tls_port) || (any_port && u->port == 0)))
        return 0;
    for (int i = 0; i < s->naddr && !hit; i++) {
        sip_sa_t a, b;
        hit = strcmp(s->addr[i], u->host) == 0;
        if (!hit && u->ip && u->host[0] == '[' && s->addr[i][0] == '[') /* one IPv6, two texts */
            hit = sip_sa_from_host(u->host, strlen(u->host), 0, &a) == 0 &&
                  sip_sa_from_host(s->addr[i], strlen(s->addr[i]), 0, &b) == 0 &&
                  sip_sa_same_ip(&a, &b);
    }
    return hit;
}

/* See sip_proxy.h. */
int sip_px_order(const int *q, int n, int *order, int *group)
{
    int ngroups = 0;

    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort: stable, n <= 16 */
        for (int k = i; k > 0; k--) {
            int a = q[order[k]] < 0 ? 1000 : q[order[k]];
            int b = q[order[k - 1]] < 0 ? 1000 : q[order[k - 1]];
            int t;
            if (a <= b)
                break;
            t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        int a = q[order[i]] < 0 ? 1000 : q[order[i]];
        int b = i > 0 ? (q[order[i - 1]] < 0 ? 1000 : q[order[i - 1]]) : -2;
        if (i == 0 || a != b)
            ngroups++;
        group[i] = ngroups - 1;
    }
    return ngroups;
}

/* The rank of a final status: lower is better. */
static int sip_px_rank(int st)
{
    int rank;

    if (st >= 600)
        rank = 0;
    else if (st >= 200 && st < 300)
        rank = 1;
    else if (st == 401 || st == 407 || st == 415 || st == 420 || st == 484)
        rank = 3; /* ahead of the other 4xx, after 3xx */
    else if (st >= 300 && st < 400)
        rank = 2;
    else if (st >= 400 && st < 500)
        rank = 4;
    else
        rank = 5; /* 5xx */
    return rank;
}

/* See sip_proxy.h. */
int sip_px_best(const int *status, int n)
{
    int best = -1;

    for (int i = 0; i < n; i++)
        if (best < 0 || sip_px_rank(status[i]) < sip_px_rank(status[best]))
            best = i;
    return best;
}

static uint32_t sip_px_fnv(uint32_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h ^ 0xffu; /* a separator, so "ab"+"c" is not "a"+"bc" */
}

/* See sip_proxy.h. */
uint32_t sip_px_loop_hash(const sip_view_t *v)
{
    uint32_t h = 2166136261u;
    char num[24];
    sip_range_t r;

    h = sip_px_fnv(h, v->buf + v->ruri.off, v->ruri.len);
    h = sip_px_fnv(h, v->buf + v->from_tag.off, v->from_tag.len);
    h = sip_px_fnv(h, v->buf + v->to_tag.off, v->to_tag.len);
    h = sip_px_fnv(h, v->buf + v->call_id.off, v->call_id.len);
    h = sip_px_fnv(h, num, gw_put_uint(num, v->cseq)); /* the CSeq number as %u wrote it */
    for (unsigned i = 0; sip_view_nth(v, SIP_H_PROXY_REQUIRE, i, &r) >= 0; i++)
        h = sip_px_fnv(h, v->buf + r.off, r.len);
    for (unsigned i = 0; sip_view_nth(v, SIP_H_PROXY_AUTHORIZATION, i, &r) >= 0; i++)
        h = sip_px_fnv(h, v->buf + r.off, r.len);
    return h;
}

/* See sip_proxy.h. */
int sip_px_looped(const sip_view_t *v, const sip_px_self_t *self)
{
    const size_t plen = strlen(SIP_PROXY_BRANCH_PREFIX);
    char want[16] = "";
    sip_view_via_t via;
    int looped = 0;

    for (unsigned i = 0; !looped && sip_view_via(v, i, &via) == 0; i++) {
        sip_px_uri_t u = {0};
        const char *b = v->buf + via.branch.off, *dash;
        if (via.branch.len <= plen || strncmp(b, SIP_PROXY_BRANCH_PREFIX, plen) != 0 ||
            via.host.len >= sizeof u.host)
            continue;
        memcpy(u.host, v->buf + via.host.off, via.host.len);
        u.port = via.port;
        if (!sip_px_is_self(self, &u, 0))
            continue;
        dash = memchr(b + plen, '-', via.branch.len - plen);
        if (!want[0]) /* one of ours: the hash to compare (made once, only then) */
            snprintf(want, sizeof want, "%08x", sip_px_loop_hash(v));
        looped = dash && (size_t)(b + via.branch.len - dash) > 8 && memcmp(dash + 1, want, 8) == 0;
    }
    return looped;
}
