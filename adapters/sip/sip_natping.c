/*
 * sip_natping.c - phones behind a NAT: detection at REGISTER and OPTIONS
 * keep-alive pings to registered contacts.
 *
 * Detection (sip_nat_detect, pure) is the test of Kamailio's nathelper
 * (nat_uac_test 1 + 2): a binding whose Contact holds an IPv4 address and
 * port other than the source the REGISTER came from is behind a NAT, the
 * usual reason being a private (RFC 1918) or shared (RFC 6598) address
 * the phone wrote.  The registrar (sip_registrar.c) flags such bindings
 * `nat` (stored, in the MI and the events) when sip.nat_detect is on.
 * The proxy sends every request for a binding to its source already
 * (sip_proxy.c), so a NATed phone is reached through the NAT's mapping.
 *
 * Pings keep that mapping open and find phones that went away: with
 * sip.nat_ping_interval_s > 0 every NATed binding (every binding with
 * sip.nat_ping_all) that registered over UDP gets one OPTIONS per
 * interval, sent statelessly to its source, at its own offset in the
 * interval (a hash of its address of record and contact) so that the
 * pings are spread over it rather than sent all at once.  A ping's
 * branch is SIP_PING_BRANCH_PREFIX plus random hex, kept in the binding
 * (memory only); the response path (sip_uas_input) hands every response
 * with that prefix to sip_natping_response, which finds the binding by
 * the To (the address of record) and the branch: any response is an
 * answer (a 404 or 405 proves the phone reachable as well as a 200).  A
 * ping still unanswered when the next one is due counts as failed; after
 * sip.nat_ping_fails in a row (0: never) the binding is removed through
 * the location service like an expiry: stored, and published as the
 * event sip.registration with why "unreachable".  A ping is not
 * retransmitted (nathelper's pings are not either): the interval is the
 * retry.
 *
 * Threads: the tick and the building of pings on the main thread (the
 * walk runs under each shard's lock of sip_location.c); the send on
 * whichever worker the round robin picks (an SIP_ITEM_CALL); the
 * response on the worker that read it.  The pure functions on any.
 * Ownership: a ping's text is the item's arg (freed with the item).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_str.h"
#include "gw_trace.h"
#include "sip.h"
#include "sip_proxy.h"

#define SIP_PING_TICK_MS 1000

/* One ping on its way to a worker: where it goes and its text. */
typedef struct sip_ping_out {
    sip_peer_t peer;
    size_t len;
    char text[];
} sip_ping_out_t;

/* One tick's settings, read once so that a change meanwhile cannot give
 * a walk two intervals (or a zero one). */
typedef struct sip_ping_tick {
    int64_t now, interval_ms;
    int limit, all;
} sip_ping_tick_t;

static struct event *sip_ping_ev;

int sip_nat_private(const char *ip)
{
    struct in_addr a;
    struct in6_addr a6;
    uint32_t h;

    if (ip != NULL && inet_pton(AF_INET6, ip, &a6) == 1)
        return (a6.s6_addr[0] & 0xFE) == 0xFC ||                            /* fc00::/7 */
               (a6.s6_addr[0] == 0xFE && (a6.s6_addr[1] & 0xC0) == 0x80); /* fe80::/10 */
    if (ip == NULL || inet_pton(AF_INET, ip, &a) != 1)
        return 0;
    h = ntohl(a.s_addr);
    return (h >> 24) == 10 ||                  /* 10/8 */
           (h >> 20) == ((172u << 4) | 1) ||   /* 172.16/12 */
           (h >> 16) == ((192u << 8) | 168) || /* 192.168/16 */
           (h >> 22) == ((100u << 2) | 1) ||   /* 100.64/10 */
           (h >> 16) == ((169u << 8) | 254);   /* 169.254/16 */
}

int sip_nat_detect(const char *contact, const char *source)
{
    sip_px_uri_t u;
    sip_sa_t c, src;
    char ip[SIP_ADDR_MAX];
    int proto;

    if (contact == NULL || source == NULL ||
        sip_px_uri_parse(contact, strlen(contact), &u) != 0 || !u.ip ||
        sip_sa_from_host(u.host, strlen(u.host), u.port ? u.port : 5060, &c) != 0)
        return 0; /* a host name: nothing to compare with */
    if (sip_nat_private(sip_sa_ip(&c, ip, sizeof ip)))
        return 1;
    if (sip_source_parse(source, &proto, &src) != 0)
        return 0;
    return !sip_sa_equal(&c, &src);
}

/* A ping decision on the trace bus. */
static void sip_ping_trace(const char *peer, const char *call_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sip_ping_trace(const char *peer, const char *call_id, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    gw_trace_vlogf("sip", peer, call_id, fmt, ap);
    va_end(ap);
}

/* The ping's send, on the worker the round robin gave it (the item and
 * its arg are freed by the worker's queue after this). */
static void sip_ping_on_item(sip_worker_t *w, sip_item_t *it)
{
    const sip_ping_out_t *o = it->arg;

    if (sip_worker_send(w, &o->peer, o->text, o->len) == 0)
        gw_stat_add(sip_stats.nat_pings_sent, 1);
}

/* 1 when s can stand in a request line and a To header unquoted. */
static int sip_ping_clean(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7F || strchr("<>\"", *s))
            return 0;
    return 1;
}

/* Build b's OPTIONS (a new branch kept in b) and queue it to a worker.
 * 0, or -1 when it cannot be sent (not UDP, an unusable contact, no
 * memory, no worker).  Main thread, under the shard's lock. */
static int sip_ping_send(const char *aor, sip_binding_t *b)
{
    char local[SIP_ADDR_MAX], rnd[17], tag[9], peer[96];
    sip_ping_out_t *o;
    sip_item_t *it;
    sip_sa_t src;
    int proto = -1, n;
    size_t cap;

    if (sip_source_parse(b->source, &proto, &src) != 0 || proto != SIP_PROTO_UDP ||
        sip_sa_port(&src) <= 0 || !sip_ping_clean(b->contact) || !sip_ping_clean(aor))
        return -1;
    cap = strlen(b->contact) + strlen(aor) + 512;
    o = calloc(1, sizeof *o + cap);
    it = calloc(1, sizeof *it);
    if (o == NULL || it == NULL) {
        free(o);
        free(it);
        return -1;
    }
    o->peer.addr = src; /* IPv4 or IPv6, over UDP */
    o->peer.proto = SIP_PROTO_UDP;
    sip_px_local_ip(&o->peer.addr, local, sizeof local);
    sip_random_hex(rnd, 8);
    sip_random_hex(tag, 4);
    snprintf(b->ping_branch, sizeof b->ping_branch, SIP_PING_BRANCH_PREFIX "%s", rnd);
    n = snprintf(o->text, cap,
                 "OPTIONS %s SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n"
                 "Max-Forwards: 70\r\n"
                 "To: <%s>\r\n"
                 "From: <sip:ping@%s:%d>;tag=%s\r\n"
                 "Call-ID: %s@%s\r\n"
                 "CSeq: 1 OPTIONS\r\n"
                 "User-Agent: junction\r\n"
                 "Content-Length: 0\r\n\r\n",
                 b->contact, local, sip_conf.port, b->ping_branch, aor, local, sip_conf.port, tag,
                 rnd, local);
    o->len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
    it->kind = SIP_ITEM_CALL;
    it->fn = sip_ping_on_item;
    it->arg = o;
    it->arg_free = free;
    if (o->len == 0 || sip_worker_push_any(it) != 0) {
        sip_item_free(it);
        b->ping_branch[0] = '\0';
        return -1;
    }
    if (gw_trace_on()) {
        char cid[96];
        sip_sa_str(&src, peer, sizeof peer);
        snprintf(cid, sizeof cid, "%s@%s", rnd, local);
        sip_ping_trace(peer, cid, "OPTIONS ping %s %s (%s, %d unanswered before)", aor,
                       b->contact, b->nat ? "nat" : "nat_ping_all", b->ping_fails);
    }
    return 0;
}

/* A binding's offset in the interval: spreads the pings over it. */
static int64_t sip_ping_offset(const char *aor, const char *contact, int64_t interval_ms)
{
    uint32_t h = 2166136261u;
    for (const char *p = aor; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = contact; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return (int64_t)(h % (uint32_t)interval_ms);
}

/* The walk's decision for one binding (sip_loc_ping_fn): 1 removes it. */
static int sip_ping_binding(void *arg, const char *aor, sip_binding_t *b)
{
    const sip_ping_tick_t *t = arg;
    const int64_t now = t->now, interval = t->interval_ms;
    const int limit = t->limit;

    if (b->ping_fails < 0)
        return 1; /* its removal did not commit: again */
    if (!b->nat && !t->all) {
        b->ping_due_ms = 0;
        b->ping_branch[0] = '\0';
        return 0;
    }
    if (b->ping_due_ms == 0 || b->ping_due_ms > now + interval) {
        b->ping_due_ms = now + sip_ping_offset(aor, b->contact, interval);
        return 0;
    }
    if (b->ping_due_ms > now)
        return 0;
    b->ping_due_ms += interval;
    if (b->ping_due_ms <= now) /* the interval shrank, or the tick was late */
        b->ping_due_ms = now + interval;
    if (b->ping_branch[0] != '\0') {
        b->ping_fails++;
        b->ping_branch[0] = '\0';
        gw_stat_add(sip_stats.nat_pings_failed, 1);
        if (gw_trace_on())
            sip_ping_trace(strchr(b->source, ':') ? strchr(b->source, ':') + 1 : b->source, NULL,
                           "OPTIONS ping %s %s unanswered (%d in a row%s)", aor,
                           b->contact, b->ping_fails,
                           limit > 0 && b->ping_fails >= limit ? ": binding removed" : "");
        if (limit > 0 && b->ping_fails >= limit) {
            GW_INFO(SIP_LOG, "%s %s: %d pings unanswered, binding removed", aor, b->contact,
                    b->ping_fails);
            return 1;
        }
    }
    (void)sip_ping_send(aor, b);
    return 0;
}

static void sip_ping_on_tick(evutil_socket_t fd, short what, void *arg)
{
    sip_ping_tick_t t = {
        .now = gw_now_ms(),
        .interval_ms = (int64_t)__atomic_load_n(&sip_conf.nat_ping_interval_s, __ATOMIC_RELAXED) *
                       1000,
        .limit = __atomic_load_n(&sip_conf.nat_ping_fails, __ATOMIC_RELAXED),
        .all = __atomic_load_n(&sip_conf.nat_ping_all, __ATOMIC_RELAXED),
    };
    (void)fd;
    (void)what;
    (void)arg;

    if (t.interval_ms <= 0 || __atomic_load_n(&sip_stopping, __ATOMIC_RELAXED))
        return;
    sip_loc_ping_walk(sip_ping_binding, &t);
}

int sip_natping_init(struct event_base *main_base)
{
    struct timeval tv = { SIP_PING_TICK_MS / 1000, (SIP_PING_TICK_MS % 1000) * 1000 };

    sip_ping_ev = event_new(main_base, -1, EV_PERSIST, sip_ping_on_tick, NULL);
    if (sip_ping_ev == NULL || event_add(sip_ping_ev, &tv) != 0)
        return GW_ENOMEM;
    return 0;
}

void sip_natping_stop(void)
{
    if (sip_ping_ev != NULL)
        event_free(sip_ping_ev);
    sip_ping_ev = NULL;
}

int sip_natping_response(const osip_message_t *resp, const sip_peer_t *peer)
{
    const size_t plen = strlen(SIP_PING_BRANCH_PREFIX);
    osip_via_t *via = osip_list_get(&resp->vias, 0);
    osip_generic_param_t *br = NULL;
    const osip_uri_t *to;
    char aor[SIP_AOR_MAX];
    int found = 0, aor_ok = 0;

    if (via != NULL)
        osip_via_param_get_byname(via, "branch", &br);
    if (br == NULL || br->gvalue == NULL || strncmp(br->gvalue, SIP_PING_BRANCH_PREFIX, plen) != 0)
        return 0;
    to = resp->to ? resp->to->url : NULL;
    if (to != NULL && to->host != NULL && to->username != NULL &&
        sip_aor_make(to->scheme, to->username, to->host, aor, sizeof aor) == 0) {
        aor_ok = 1;
        found = sip_loc_ping_answered(aor, br->gvalue, gw_now_ms());
    }
    if (found)
        gw_stat_add(sip_stats.nat_pings_ok, 1);
    if (gw_trace_on()) {
        char p[SIP_ADDR_MAX];
        sip_sa_str(&peer->addr, p, sizeof p);
        sip_ping_trace(p, resp->call_id ? resp->call_id->number : NULL,
                       "OPTIONS ping %s answered %d%s", aor_ok ? aor : "-", resp->status_code,
                       found ? "" : " (no binding has that ping: late or removed)");
    }
    return 1;
}
