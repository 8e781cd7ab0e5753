/*
 * sip_dns.c - RFC 3263 server location without blocking a worker: one
 * c-ares channel per worker thread, driven from that worker's
 * event_base.
 *
 * The channel (made on the worker's thread at its first lookup) reports
 * its sockets through ARES_OPT_SOCK_STATE_CB: each becomes a persistent
 * libevent event on the worker's base that calls ares_process_fd; one
 * libevent timer, re-armed from ares_timeout after every step, drives
 * the retries and timeouts (sip.dns_timeout_ms per try, sip.dns_tries).
 * No call here ever waits for the network.
 *
 * A lookup (sip_dns_q_t) walks RFC 3263 4.1 / 4.2:
 *   numeric host          no query: that address, the port given or
 *                         5060 (5061 for sips), the transport given or
 *                         UDP (TLS for sips);
 *   a port given          A and AAAA of the host;
 *   a transport given     SRV of that transport, then A/AAAA;
 *   neither               NAPTR (sip.dns_naptr), its usable records in
 *                         order (sip_dns_naptr_order) naming SRV names;
 *                         without any: _sip._udp and _sip._tcp
 *                         (_sips._tcp for sips); each SRV answer in
 *                         RFC 2782 order (sip_dns_srv_order); no SRV at
 *                         all: A/AAAA of the host on the default port;
 * then A and AAAA of every SRV target, in parallel; the targets are the
 * hosts in order, each with its IPv4 then its IPv6 addresses, at most
 * SIP_DNS_MAX_TARGETS.  Each (name, type) answer goes to the shared
 * cache (sip_dns_rr.c) with its TTL, negative answers too; a lookup
 * asks the cache first (sip.dns_cache_hits) and the servers only on a
 * miss (sip.dns_queries).  A server failure or timeout is not cached
 * (sip.dns_failures); the walk goes on with what it has.
 *
 * Ownership: a lookup is the resolver's from sip_dns_resolve until its
 * callback has run; the callback borrows the targets.  The caller must
 * expect the callback after it forgot what arg was: the proxy gives a
 * key and a generation, never a pointer that may be freed.
 * Threads: sip_dns_resolve and every callback on the worker that owns
 * the channel; sip_dns_init / sip_dns_free_all on the main thread; the
 * MI methods on the MI thread with a channel of their own.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_str.h"
#include "gw_trace.h"
#include "sip_dns.h"

#define SIP_DNS_MAX_SOCKS 16
#define SIP_DNS_MAX_SRV 4   /* SRV names one lookup follows */
#define SIP_DNS_MAX_ADDR 4  /* addresses of one family kept per host */
#define SIP_DNS_NEG_TTL 30  /* a negative answer without an SOA */

sip_dns_conf_t sip_dns_conf;
static gw_stat_t *sip_dns_st_queries, *sip_dns_st_hits, *sip_dns_st_failures;

/* One channel and its events; the worker's (sip_dns_res[idx]) or the MI's. */
typedef struct sip_dns_res {
    ares_channel ch;
    struct event_base *base;
    struct event *timer;
    struct {
        ares_socket_t fd;
        struct event *ev;
    } socks[SIP_DNS_MAX_SOCKS];
    int live; /* lookups not yet called back */
} sip_dns_res_t;

/* Each worker's, made on its thread; freed by sip_dns_free_all. */
static sip_dns_res_t *sip_dns_res[SIP_MAX_WORKERS];

typedef struct sip_dns_host {
    char name[SIP_DNS_NAME_MAX];
    int transport;
    uint16_t port, prio, weight;
    int n4, n6;
    int same; /* the index of an earlier host of this name (asked once), -1: none */
    struct sockaddr_storage a4[SIP_DNS_MAX_ADDR], a6[SIP_DNS_MAX_ADDR];
} sip_dns_host_t;

typedef struct sip_dns_q {
    sip_dns_res_t *res;
    char host[SIP_DNS_NAME_MAX];
    int port, transport, sips;
    sip_dns_cb cb;
    void *arg;
    int pending, launching, failed, stopped;
    void (*next)(struct sip_dns_q *q); /* the stage after the pending lookups */
    int nsrv;
    struct {
        char name[SIP_DNS_NAME_MAX];
        int transport, n;
        sip_dns_rr_t rr[SIP_DNS_MAX_RR];
    } srv[SIP_DNS_MAX_SRV];
    int nnaptr;
    sip_dns_rr_t naptr[SIP_DNS_MAX_RR];
    int nhosts;
    sip_dns_host_t hosts[SIP_DNS_MAX_TARGETS];
} sip_dns_q_t;

/* One record set a lookup waits for: where its answer goes. */
typedef struct sip_dns_ask {
    sip_dns_q_t *q;
    int type, slot; /* slot: the srv[] or hosts[] index */
    char name[SIP_DNS_NAME_MAX];
} sip_dns_ask_t;

static int64_t sip_dns_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *sip_dns_type_name(int t)
{
    return t == SIP_DNS_T_NAPTR ? "NAPTR" : t == SIP_DNS_T_SRV ? "SRV"
           : t == SIP_DNS_T_A   ? "A"     : "AAAA";
}

const char *sip_dns_transport_name(int t)
{
    return t == SIP_DNS_TCP ? "tcp" : t == SIP_DNS_TLS ? "tls" : "udp";
}

static void sip_dns_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sip_dns_trace(const char *fmt, ...)
{
    va_list ap;

    if (!gw_trace_on())
        return;
    va_start(ap, fmt);
    gw_trace_vlogf("sip", NULL, NULL, fmt, ap);
    va_end(ap);
}

/* ---- the channel on an event_base ---- */
static void sip_dns_rearm(sip_dns_res_t *res)
{
    struct timeval tv, *tp = ares_timeout(res->ch, NULL, &tv);

    if (tp)
        evtimer_add(res->timer, tp);
    else
        evtimer_del(res->timer);
}

static void sip_dns_on_sock(evutil_socket_t fd, short what, void *arg)
{
    sip_dns_res_t *res = arg;

    ares_process_fd(res->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    sip_dns_rearm(res);
}

static void sip_dns_on_timer(evutil_socket_t fd, short what, void *arg)
{
    sip_dns_res_t *res = arg;
    (void)fd;
    (void)what;
    ares_process_fd(res->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    sip_dns_rearm(res);
}

/* c-ares opened, changed or closed socket fd: its event follows. */
static void sip_dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    sip_dns_res_t *res = data;
    int slot = -1, empty = -1;

    for (int i = 0; i < SIP_DNS_MAX_SOCKS; i++) {
        if (res->socks[i].ev && res->socks[i].fd == fd)
            slot = i;
        else if (!res->socks[i].ev && empty < 0)
            empty = i;
    }
    if (slot >= 0) {
        event_free(res->socks[slot].ev);
        res->socks[slot].ev = NULL;
    }
    if (!readable && !writable)
        return;
    if (slot < 0)
        slot = empty;
    if (slot < 0) {
        GW_WARN(SIP_LOG, "dns: more than %d resolver sockets", SIP_DNS_MAX_SOCKS);
        return; /* the query times out */
    }
    res->socks[slot].fd = fd;
    res->socks[slot].ev = event_new(res->base, fd, EV_PERSIST | (readable ? EV_READ : 0) |
                                    (writable ? EV_WRITE : 0), sip_dns_on_sock, res);
    if (res->socks[slot].ev)
        event_add(res->socks[slot].ev, NULL);
}

/* A channel on base with the parameters: NULL without memory or when
 * c-ares refuses (logged). */
static sip_dns_res_t *sip_dns_res_new(struct event_base *base)
{
    sip_dns_res_t *res = calloc(1, sizeof *res);
    struct ares_options o = {0};
    int rc;

    if (!res)
        return NULL;
    res->base = base;
    res->timer = evtimer_new(base, sip_dns_on_timer, res);
    o.sock_state_cb = sip_dns_sock_state;
    o.sock_state_cb_data = res;
    o.timeout = sip_dns_conf.timeout_ms;
    o.tries = sip_dns_conf.tries;
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    rc = res->timer ? ares_init_options(&res->ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
                                        ARES_OPT_TRIES | ARES_OPT_FLAGS)
                    : ARES_ENOMEM;
    if (rc == ARES_SUCCESS && sip_dns_conf.servers[0] &&
        (rc = ares_set_servers_ports_csv(res->ch, sip_dns_conf.servers)) != ARES_SUCCESS)
        ares_destroy(res->ch);
    if (rc != ARES_SUCCESS) {
        GW_ERR(SIP_LOG, "dns: resolver (servers \"%s\"): %s", sip_dns_conf.servers,
               ares_strerror(rc));
        if (res->timer)
            event_free(res->timer);
        free(res);
        return NULL;
    }
    return res;
}

/* Free res: pending lookups are called back with GW_ESTOPPED. */
static void sip_dns_res_free(sip_dns_res_t *res)
{
    if (!res)
        return;
    ares_destroy(res->ch);
    for (int i = 0; i < SIP_DNS_MAX_SOCKS; i++)
        if (res->socks[i].ev)
            event_free(res->socks[i].ev);
    event_free(res->timer);
    free(res);
}

/* ---- the walk ---- */
static void sip_dns_finish(sip_dns_q_t *q);
static void sip_dns_srv_stage(sip_dns_q_t *q);
static void sip_dns_addr_stage(sip_dns_q_t *q);

/* One answer of ask (n records, or n 0) is in: kept in its lookup. */
static void sip_dns_store(sip_dns_ask_t *a, const sip_dns_rr_t *rr, int n)
{
    sip_dns_q_t *q = a->q;

    if (a->type == SIP_DNS_T_NAPTR) {
        memcpy(q->naptr, rr, (size_t)n * sizeof *rr);
        q->nnaptr = n;
    } else if (a->type == SIP_DNS_T_SRV) {
        memcpy(q->srv[a->slot].rr, rr, (size_t)n * sizeof *rr);
        q->srv[a->slot].n = n;
    } else {
        sip_dns_host_t *h = &q->hosts[a->slot];
        int *cnt = a->type == SIP_DNS_T_A ? &h->n4 : &h->n6;
        struct sockaddr_storage *to = a->type == SIP_DNS_T_A ? h->a4 : h->a6;
        for (int i = 0; i < n && *cnt < SIP_DNS_MAX_ADDR; i++)
            to[(*cnt)++] = rr[i].addr;
    }
}

/* One of q's lookups ended: the next stage once none is pending. */
static void sip_dns_done_one(sip_dns_q_t *q)
{
    q->pending--;
    if (q->pending > 0 || q->launching)
        return;
    if (q->stopped)
        sip_dns_finish(q);
    else
        q->next(q);
}

/* The records of answer abuf of type t into rr: count, 0 (no data) or -1. */
static int sip_dns_parse(int t, const unsigned char *abuf, int alen, sip_dns_rr_t *rr)
{
    int n = 0, rc;

    memset(rr, 0, SIP_DNS_MAX_RR * sizeof *rr);
    if (t == SIP_DNS_T_NAPTR) {
        struct ares_naptr_reply *r0 = NULL;
        rc = ares_parse_naptr_reply(abuf, alen, &r0);
        for (struct ares_naptr_reply *r = r0; rc == ARES_SUCCESS && r && n < SIP_DNS_MAX_RR;
             r = r->next, n++) {
            rr[n].order = r->order;
            rr[n].pref = r->preference;
            snprintf(rr[n].flags, sizeof rr[n].flags, "%s", (const char *)r->flags);
            snprintf(rr[n].service, sizeof rr[n].service, "%s", (const char *)r->service);
            snprintf(rr[n].name, sizeof rr[n].name, "%s", r->replacement);
        }
        ares_free_data(r0);
    } else if (t == SIP_DNS_T_SRV) {
        struct ares_srv_reply *r0 = NULL;
        rc = ares_parse_srv_reply(abuf, alen, &r0);
        for (struct ares_srv_reply *r = r0; rc == ARES_SUCCESS && r && n < SIP_DNS_MAX_RR;
             r = r->next, n++) {
            rr[n].prio = r->priority;
            rr[n].weight = r->weight;
            rr[n].port = r->port;
            snprintf(rr[n].name, sizeof rr[n].name, "%s", r->host);
        }
        ares_free_data(r0);
    } else if (t == SIP_DNS_T_A) {
        struct ares_addrttl at[SIP_DNS_MAX_RR];
        int na = SIP_DNS_MAX_RR;
        rc = ares_parse_a_reply(abuf, alen, NULL, at, &na);
        for (int i = 0; rc == ARES_SUCCESS && i < na; i++, n++) {
            struct sockaddr_in *s = (struct sockaddr_in *)&rr[n].addr;
            s->sin_family = AF_INET;
            s->sin_addr = at[i].ipaddr;
        }
    } else {
        struct ares_addr6ttl at[SIP_DNS_MAX_RR];
        int na = SIP_DNS_MAX_RR;
        rc = ares_parse_aaaa_reply(abuf, alen, NULL, at, &na);
        for (int i = 0; rc == ARES_SUCCESS && i < na; i++, n++) {
            struct sockaddr_in6 *s = (struct sockaddr_in6 *)&rr[n].addr;
            s->sin6_family = AF_INET6;
            memcpy(&s->sin6_addr, &at[i].ip6addr, sizeof s->sin6_addr);
        }
    }
    return rc == ARES_SUCCESS ? n : rc == ARES_ENODATA ? 0 : -1;
}

/* c-ares' answer to one query. */
static void sip_dns_on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    sip_dns_ask_t *a = arg;
    sip_dns_q_t *q = a->q;
    sip_dns_rr_t *rr = malloc(SIP_DNS_MAX_RR * sizeof *rr);
    int n = -1;
    (void)timeouts;

    if (status == ARES_EDESTRUCTION) { /* the channel is going: no callback but ESTOPPED */
        q->stopped = 1;
    } else if (!rr) {
        q->failed = 1;
    } else if (status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA) {
        long ttl = sip_dns_min_ttl(abuf, alen);
        n = status == ARES_SUCCESS ? sip_dns_parse(a->type, abuf, alen, rr) : 0;
        if (n == 0 && ttl < 0)
            ttl = SIP_DNS_NEG_TTL;
        if (n >= 0)
            sip_dns_cache_put(a->name, a->type, rr, n, ttl,
                              __atomic_load_n(&sip_dns_conf.ttl_min_s, __ATOMIC_RELAXED),
                              __atomic_load_n(&sip_dns_conf.ttl_max_s, __ATOMIC_RELAXED),
                              sip_dns_now());
        sip_dns_trace("dns: %s %s: %d record(s), ttl %ld", sip_dns_type_name(a->type), a->name,
                      n, ttl);
    }
    if (n < 0 && rr && !q->stopped) {
        gw_stat_add(sip_dns_st_failures, 1);
        q->failed = 1;
        sip_dns_trace("dns: %s %s failed: %s", sip_dns_type_name(a->type), a->name,
                      ares_strerror(status));
    }
    if (n > 0)
        sip_dns_store(a, rr, n);
    free(rr);
    free(a);
    sip_dns_done_one(q);
}

/* Look (name, type) up for q: from the cache at once, else a query. */
static void sip_dns_ask(sip_dns_q_t *q, const char *name, int type, int slot)
{
    sip_dns_rr_t *rr = malloc(SIP_DNS_MAX_RR * sizeof *rr);
    sip_dns_ask_t *a = malloc(sizeof *a);
    int n;

    q->pending++;
    if (!rr || !a) {
        q->failed = 1;
        free(rr);
        free(a);
        sip_dns_done_one(q);
        return;
    }
    a->q = q;
    a->type = type;
    a->slot = slot;
    snprintf(a->name, sizeof a->name, "%s", name);
    n = sip_dns_cache_get(name, type, rr, sip_dns_now());
    if (n >= 0) {
        gw_stat_add(sip_dns_st_hits, 1);
        if (n > 0)
            sip_dns_store(a, rr, n);
        free(rr);
        free(a);
        sip_dns_done_one(q);
        return;
    }
    free(rr);
    gw_stat_add(sip_dns_st_queries, 1);
    sip_dns_trace("dns: query %s %s", sip_dns_type_name(type), name);
    ares_query(q->res->ch, name, 1 /* IN */, type, sip_dns_on_answer, a);
    sip_dns_rearm(q->res);
}

/* Run the lookups start() launches, then next (now, when all were cached). */
static void sip_dns_stage(sip_dns_q_t *q, void (*start)(sip_dns_q_t *q),
                          void (*next)(sip_dns_q_t *q))
{
    q->next = next;
    q->launching = 1;
    q->pending++;
    start(q);
    q->launching = 0;
    sip_dns_done_one(q);
}

static void sip_dns_add_srv(sip_dns_q_t *q, const char *name, int transport)
{
    for (int i = 0; i < q->nsrv; i++)
        if (strcasecmp(q->srv[i].name, name) == 0)
            return;
    if (q->nsrv < SIP_DNS_MAX_SRV) {
        snprintf(q->srv[q->nsrv].name, sizeof q->srv[0].name, "%s", name);
        q->srv[q->nsrv].transport = transport;
        q->srv[q->nsrv++].n = 0;
    }
}

static void sip_dns_add_host(sip_dns_q_t *q, const char *name, int port, int transport,
                             int prio, int weight)
{
    sip_dns_host_t *h;

    if (q->nhosts >= SIP_DNS_MAX_TARGETS)
        return;
    h = &q->hosts[q->nhosts++];
    memset(h, 0, sizeof *h);
    h->same = -1;
    gw_strlcpy(h->name, name, sizeof h->name); /* name may be q->host */
    h->port = (uint16_t)port;
    h->transport = transport;
    h->prio = (uint16_t)prio;
    h->weight = (uint16_t)weight;
}

static int sip_dns_default_port(const sip_dns_q_t *q, int transport)
{
    return q->sips || transport == SIP_DNS_TLS ? 5061 : 5060;
}

/* The SRV names of a transport: _sip._udp.host and so on. */
static void sip_dns_srv_of(sip_dns_q_t *q, int transport)
{
    char name[SIP_DNS_NAME_MAX + 16];
    int len;

    if (!(transport & SIP_DNS_SUPPORTED))
        return;
    len = snprintf(name, sizeof name, "%s.%s", transport == SIP_DNS_TLS ? "_sips._tcp"
                                               : transport == SIP_DNS_TCP ? "_sip._tcp"
                                                                          : "_sip._udp",
                   q->host);
    if (len > 0 && len < SIP_DNS_NAME_MAX)
        sip_dns_add_srv(q, name, transport);
}

static void sip_dns_naptr_start(sip_dns_q_t *q)
{
    sip_dns_ask(q, q->host, SIP_DNS_T_NAPTR, 0);
}

/* NAPTR answered: the SRV names it names, or the defaults. */
static void sip_dns_after_naptr(sip_dns_q_t *q)
{
    int order[SIP_DNS_MAX_RR];
    int k = sip_dns_naptr_order(q->naptr, q->nnaptr, SIP_DNS_SUPPORTED, q->sips, order);

    for (int i = 0; i < k; i++)
        sip_dns_add_srv(q, q->naptr[order[i]].name,
                        sip_dns_naptr_transport(q->naptr[order[i]].service));
    if (q->nsrv == 0) {
        if (q->sips) {
            sip_dns_srv_of(q, SIP_DNS_TLS);
        } else {
            sip_dns_srv_of(q, SIP_DNS_UDP);
            sip_dns_srv_of(q, SIP_DNS_TCP);
        }
    }
    sip_dns_srv_stage(q);
}

static void sip_dns_srv_start(sip_dns_q_t *q)
{
    for (int i = 0; i < q->nsrv; i++)
        sip_dns_ask(q, q->srv[i].name, SIP_DNS_T_SRV, i);
}

/* Uniform in [0, 2^31) for the weighted SRV draw (libsodium's
 * randombytes_random: every process draws differently, no seed to set). */
static long sip_dns_rand(void)
{
    return (long)(randombytes_random() & 0x7fffffffu);
}

/* SRV answered: the hosts in RFC 2782 order, or the host itself. */
static void sip_dns_after_srv(sip_dns_q_t *q)
{
    int order[SIP_DNS_MAX_RR];

    for (int i = 0; i < q->nsrv; i++) {
        int k = sip_dns_srv_order(q->srv[i].rr, q->srv[i].n, sip_dns_rand, order);
        for (int j = 0; j < k; j++) {
            const sip_dns_rr_t *r = &q->srv[i].rr[order[j]];
            sip_dns_add_host(q, r->name, r->port, q->srv[i].transport, r->prio, r->weight);
        }
    }
    if (q->nhosts == 0) {
        int t = q->transport ? q->transport : q->sips ? SIP_DNS_TLS : SIP_DNS_UDP;
        sip_dns_add_host(q, q->host, sip_dns_default_port(q, t), t, 0, 0);
    }
    sip_dns_addr_stage(q);
}

static void sip_dns_srv_stage(sip_dns_q_t *q)
{
    if (q->nsrv == 0) /* a transport we do not speak: straight to A/AAAA */
        sip_dns_after_srv(q);
    else
        sip_dns_stage(q, sip_dns_srv_start, sip_dns_after_srv);
}

static void sip_dns_addr_start(sip_dns_q_t *q)
{
    for (int i = 0; i < q->nhosts; i++) {
        sip_dns_host_t *h = &q->hosts[i];
        struct sockaddr_storage sa;
        socklen_t len;
        h->same = -1;
        for (int k = 0; k < i && h->same < 0; k++)
            if (strcasecmp(q->hosts[k].name, h->name) == 0)
                h->same = k;
        if (h->same >= 0)
            continue; /* one lookup per name: the addresses are copied at the end */
        if (sip_dns_numeric(h->name, &sa, &len)) {
            if (sa.ss_family == AF_INET)
                h->a4[h->n4++] = sa;
            else
                h->a6[h->n6++] = sa;
            continue;
        }
        sip_dns_ask(q, h->name, SIP_DNS_T_A, i);
        sip_dns_ask(q, h->name, SIP_DNS_T_AAAA, i);
    }
}

static void sip_dns_addr_stage(sip_dns_q_t *q)
{
    sip_dns_stage(q, sip_dns_addr_start, sip_dns_finish);
}

/* The targets of q to its callback, and q freed. */
static void sip_dns_finish(sip_dns_q_t *q)
{
    sip_dns_target_t t[SIP_DNS_MAX_TARGETS];
    char list[400];
    size_t off = 0;
    int n = 0, rc;

    for (int i = 0; i < q->nhosts && !q->stopped; i++) { /* earlier hosts first: copies */
        sip_dns_host_t *h = &q->hosts[i];
        if (h->same >= 0) {
            h->n4 = q->hosts[h->same].n4;
            h->n6 = q->hosts[h->same].n6;
            memcpy(h->a4, q->hosts[h->same].a4, sizeof h->a4);
            memcpy(h->a6, q->hosts[h->same].a6, sizeof h->a6);
        }
        for (int k = 0; k < h->n4 + h->n6 && n < SIP_DNS_MAX_TARGETS; k++) {
            sip_dns_target_t *x = &t[n++];
            char ip[INET6_ADDRSTRLEN];
            x->addr = k < h->n4 ? h->a4[k] : h->a6[k - h->n4];
            x->transport = h->transport;
            x->port = h->port;
            x->prio = h->prio;
            x->weight = h->weight;
            if (x->addr.ss_family == AF_INET) {
                struct sockaddr_in *s = (struct sockaddr_in *)&x->addr;
                s->sin_port = htons(h->port);
                x->addr_len = sizeof *s;
                inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
            } else {
                struct sockaddr_in6 *s = (struct sockaddr_in6 *)&x->addr;
                s->sin6_port = htons(h->port);
                x->addr_len = sizeof *s;
                inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof ip);
            }
            if (off < sizeof list)
                off += (size_t)snprintf(list + off, sizeof list - off, "%s%s %s:%u", n > 1 ? ", " : "",
                                        sip_dns_transport_name(x->transport), ip, h->port);
        }
    }
    rc = q->stopped ? GW_ESTOPPED : n > 0 ? 0 : q->failed ? GW_EAGAIN : GW_ENOTFOUND;
    if (rc == 0)
        sip_dns_trace("dns: %s -> %d target(s): %s", q->host, n, list);
    else if (rc != GW_ESTOPPED)
        sip_dns_trace("dns: %s -> no target (%s)", q->host,
                      rc == GW_EAGAIN ? "servers failed or timed out" : "no usable record");
    q->res->live--;
    q->cb(q->arg, t, n, rc);
    free(q);
}

/* Start lookup q on its channel. */
static void sip_dns_start(sip_dns_q_t *q)
{
    struct sockaddr_storage sa;
    socklen_t len;

    if (sip_dns_numeric(q->host, &sa, &len) || q->port) {
        int t = q->transport ? q->transport : q->sips ? SIP_DNS_TLS : SIP_DNS_UDP;
        sip_dns_add_host(q, q->host, q->port ? q->port : sip_dns_default_port(q, t), t, 0, 0);
        sip_dns_addr_stage(q);
    } else if (q->transport) {
        sip_dns_srv_of(q, q->transport);
        sip_dns_srv_stage(q);
    } else if (__atomic_load_n(&sip_dns_conf.naptr, __ATOMIC_RELAXED)) {
        sip_dns_stage(q, sip_dns_naptr_start, sip_dns_after_naptr);
    } else {
        sip_dns_after_naptr(q); /* no NAPTR: the default SRV names */
    }
}

/* A lookup on res: 0 or GW_ENOMEM (cb never runs). */
static int sip_dns_resolve_on(sip_dns_res_t *res, const char *host, int port, int transport,
                              int sips, sip_dns_cb cb, void *arg)
{
    sip_dns_q_t *q = calloc(1, sizeof *q);

    if (!q)
        return GW_ENOMEM;
    q->res = res;
    snprintf(q->host, sizeof q->host, "%s", host);
    q->port = port;
    q->transport = transport;
    q->sips = sips;
    q->cb = cb;
    q->arg = arg;
    res->live++;
    sip_dns_start(q);
    return 0;
}

/* See sip_dns.h. */
int sip_dns_resolve(sip_worker_t *w, const char *host, int port, int transport, int sips,
                    sip_dns_cb cb, void *arg)
{
    int idx = sip_worker_index(w);

    if (idx < 0 || idx >= SIP_MAX_WORKERS)
        return GW_ERROR;
    if (!sip_dns_res[idx] && !(sip_dns_res[idx] = sip_dns_res_new(sip_worker_base(w))))
        return GW_ERROR;
    return sip_dns_resolve_on(sip_dns_res[idx], host, port, transport, sips, cb, arg);
}

/* See sip_dns.h. */
int sip_dns_init(void)
{
    int rc = ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS ? 0 : GW_ERROR;

    sip_dns_st_queries = gw_stat("sip.dns_queries", "DNS queries the SIP proxy sent (cache misses)");
    sip_dns_st_hits = gw_stat("sip.dns_cache_hits", "DNS record sets the SIP proxy found cached");
    sip_dns_st_failures = gw_stat("sip.dns_failures",
                                  "DNS queries that failed (timeout, server failure, bad answer)");
    if (rc == 0)
        rc = sip_dns_cache_init(sip_dns_conf.cache_max);
    return rc;
}

/* See sip_dns.h. */
void sip_dns_free_all(void)
{
    for (int i = 0; i < SIP_MAX_WORKERS; i++) {
        sip_dns_res_free(sip_dns_res[i]);
        sip_dns_res[i] = NULL;
    }
    sip_dns_cache_free();
    ares_library_cleanup();
}

/* ---- MI ---- */
typedef struct sip_dns_mi_wait {
    int done, rc;
    json_t *list;
} sip_dns_mi_wait_t;

static void sip_dns_mi_done(void *arg, const sip_dns_target_t *t, int n, int rc)
{
    sip_dns_mi_wait_t *w = arg;

    w->done = 1;
    w->rc = rc;
    for (int i = 0; i < n && w->list; i++) {
        char ip[INET6_ADDRSTRLEN] = "";
        if (t[i].addr.ss_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)&t[i].addr)->sin_addr, ip, sizeof ip);
        else
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&t[i].addr)->sin6_addr, ip,
                      sizeof ip);
        json_array_append_new(w->list, json_pack("{s:s, s:s, s:i, s:i, s:i}", "transport",
                                                 sip_dns_transport_name(t[i].transport),
                                                 "address", ip, "port", t[i].port, "priority",
                                                 t[i].prio, "weight", t[i].weight));
    }
}

static int sip_dns_transport_of(const char *s)
{
    return !s ? SIP_DNS_ANY : strcasecmp(s, "udp") == 0 ? SIP_DNS_UDP
           : strcasecmp(s, "tcp") == 0 ? SIP_DNS_TCP
           : strcasecmp(s, "tls") == 0 ? SIP_DNS_TLS : -1;
}

/* See sip_dns.h.  The MI thread waits on a private event_base for at
 * most the resolver's own timeouts; no worker is involved. */
void sip_dns_mi_resolve(const json_t *params, gw_mi_reply_t *r)
{
    const char *host = json_string_value(json_object_get(params, "host"));
    const char *tr = json_string_value(json_object_get(params, "transport"));
    json_t *jp = json_object_get(params, "port");
    int port = jp ? (int)json_integer_value(jp) : 0, transport = sip_dns_transport_of(tr);
    int sips = json_is_true(json_object_get(params, "sips"));
    sip_dns_mi_wait_t w = {0};
    struct event_base *base = NULL;
    sip_dns_res_t *res = NULL;

    if (!host || !host[0] || strlen(host) >= SIP_DNS_NAME_MAX || transport < 0 || port < 0 ||
        port > 65535) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS,
                    "host: a name or an IP; transport?: udp, tcp or tls; port?: 1 to 65535");
        return;
    }
    w.list = json_array();
    base = event_base_new();
    res = base ? sip_dns_res_new(base) : NULL;
    if (!w.list || !res || sip_dns_resolve_on(res, host, port, transport, sips, sip_dns_mi_done,
                                               &w) != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot start a resolver (see the log)");
        goto out_free;
    }
    for (int i = 0; i < 100000 && !w.done; i++) /* bounded: c-ares times out */
        event_base_loop(base, EVLOOP_ONCE);
    if (!w.done) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "resolver did not finish");
        goto out_free;
    }
    gw_mi_result(r, json_pack("{s:s, s:s, s:O}", "host", host, "status",
                              w.rc == 0 ? "ok" : w.rc == GW_ENOTFOUND ? "no records"
                                                                      : "servers failed",
                              "targets", w.list));
out_free:
    sip_dns_res_free(res);
    if (base)
        event_base_free(base);
    json_decref(w.list);
}

/* See sip_dns.h. */
void sip_dns_mi_flush(const json_t *params, gw_mi_reply_t *r)
{
    int n = sip_dns_cache_count();
    (void)params;

    sip_dns_cache_flush();
    gw_mi_result(r, json_pack("{s:i}", "flushed", n));
}
