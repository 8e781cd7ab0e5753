/*
 * sip_trunk.c - connectors of type "sip_trunk": a set of SIP destinations
 * the proxy routes requests to (docs/connectors.md, docs/sip-proxy.md).
 *
 * Configuration (the connector's JSON conf; unknown keys are errors):
 *   destinations  [{uri "sip:1.2.3.4[:port][;params]", weight 1.., priority}]
 *                 (1..16; IPv4 literals: host names wait for RFC 3263)
 *   strategy      failover (default) | round_robin | weighted
 *   probe         {interval_s 0 (off) .. 3600, method "OPTIONS",
 *                  up_after 1.., down_after 1.., timeout_ms 100..60000}
 *   from_domain   the host of the probes' From URI (default: our address)
 *   strip, prefix the Request-URI user loses its first strip characters
 *                 and gets prefix in front (Kamailio's dispatcher /
 *                 drouting strip and pri_prefix)
 *
 * An open trunk is a sip_trunk_t in the registry (a list guarded by
 * sip_trunk_lock): conn_open adds it, conn_close removes and frees it, so
 * connectors.add / update / delete change trunks without a restart (an
 * update is a close and an open: probing starts again).  The proxy copies
 * what it needs (sip_trunk_hops) under the lock and keeps no pointer.
 *
 * Probing: one main-thread timer every 100 ms.  A destination with
 * probe.interval_s > 0 gets an OPTIONS every interval_s, sent from worker
 * 0's socket (a SIP_ITEM_CALL, so the worker's thread sends), one request
 * with its own branch ("z9hG4bK-jt<hex>"), retransmitted as a non-INVITE
 * client transaction's Timer E (T1 doubling to T2) until it is answered
 * or timeout_ms passed: the NICT reduced to its outcome.  Any response,
 * 404, 405 and 501 too, means alive (as Kamailio's dispatcher with its
 * default ds_ping_reply_codes); no response within timeout_ms counts as
 * a timeout.  up_after answers in a row make it up, down_after timeouts
 * in a row down; a destination starts "probing" (taken for calls until
 * it is down).  Each change is a trace record and an ops.connector_state
 * event (bind: the destination's index, detail: its URI and why).
 *
 * Ownership: trunks are the registry's; events and trace records are
 * emitted after the lock is let go.
 * Threads: conn_* and the timer on the main thread; sip_trunk_response
 * on any worker; sip_trunk_hops / note_call on the proxy's workers; MI
 * on the MI thread.  All under sip_trunk_lock.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "gw_core.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_trace.h"
#include "sip.h"
#include "sip_proxy.h"
#include "sip_trunk.h"
#include "sip_tsx.h"

#define SIP_TRUNK_TICK_MS 100
#define SIP_TRUNK_MAX_CHANGES 64

typedef struct sip_trunk_dst {
    char uri[160];             /* as configured */
    char hostport[140];        /* "1.2.3.4:5070": the Request-URI's host part */
    sip_sa_t addr;
    int weight, priority;
    sip_trunk_state_t state;
    int64_t since;             /* unix seconds of the last state change */
    int last_status;           /* the last probe's answer, 408 for a timeout, 0: none yet */
    int rtt_ms;                /* of the last answer, -1: none */
    int ok_run, fail_run;      /* answers / timeouts in a row */
    char branch[40];           /* the outstanding probe's branch, "" none */
    int64_t sent_at, next_at;  /* monotonic ms */
    int64_t retx_at;           /* its next retransmission (Timer E: T1 doubling to T2) */
    int retx_ms;
    char probe[768];           /* its text, for the retransmissions */
    int probe_len;
    uint64_t calls;            /* branches started to it */
    int inflight;              /* of those, without a final status yet */
} sip_trunk_dst_t;

typedef struct sip_trunk {
    char name[64];
    sip_trunk_strategy_t strategy;
    sip_trunk_dst_t dst[SIP_TRUNK_MAX_DST];
    int ndst;
    int interval_s, up_after, down_after, timeout_ms;
    char from_domain[128];
    int strip;
    char prefix[32];
    unsigned requests;         /* the round-robin counter */
    uint32_t seed;             /* weighted: xorshift state */
    struct sip_trunk *next;
} sip_trunk_t;

/* A state change, emitted after the lock. */
typedef struct sip_trunk_change {
    char trunk[64];
    int idx;
    sip_trunk_state_t old, state;
    char detail[200];
} sip_trunk_change_t;

sip_trunk_stats_t sip_trunk_stats;
static pthread_mutex_t sip_trunk_lock = PTHREAD_MUTEX_INITIALIZER;
static sip_trunk_t *sip_trunks; /* guarded by sip_trunk_lock */
static struct event *sip_trunk_timer;

/* ---- conf ---- */

/* o's integer key (o may be NULL) into *out, def when absent: 0, or
 * GW_EINVAL naming conf.<path><key> and its range in err. */
static int sip_trunk_int(const json_t *o, const char *key, int def, int lo, int hi, int *out,
                         const char *path, char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    int rc = 0;

    *out = def;
    if (v && (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)) {
        snprintf(err, errlen, "conf.%s%s: an integer %d..%d", path, key, lo, hi);
        rc = GW_EINVAL;
    } else if (v) {
        *out = (int)json_integer_value(v);
    }
    return rc;
}

/* Keys of o not in keys[] (NULL-terminated): GW_EINVAL naming the first. */
static int sip_trunk_known(const json_t *o, const char *const *keys, const char *path,
                           char *err, size_t errlen)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)o, k, v) {
        int known = 0;
        for (int i = 0; keys[i] && !known; i++)
            known = strcmp(k, keys[i]) == 0;
        if (!known) {
            snprintf(err, errlen, "conf.%s%s: unknown key", path, k);
            return GW_EINVAL;
        }
    }
    return 0;
}

/* Destination i's object o into *d: 0, or GW_EINVAL with the reason. */
static int sip_trunk_parse_dst(const json_t *o, int i, sip_trunk_dst_t *d, char *err,
                               size_t errlen)
{
    static const char *const keys[] = {"uri", "weight", "priority", NULL};
    const char *uri = json_string_value(json_object_get(o, "uri"));
    char path[32];
    sip_px_uri_t u;
    int rc;

    snprintf(path, sizeof path, "destinations[%d].", i);
    if (!json_is_object(o)) {
        snprintf(err, errlen, "conf.destinations[%d]: an object {uri, weight?, priority?}", i);
        return GW_EINVAL;
    }
    if ((rc = sip_trunk_known(o, keys, path, err, errlen)) != 0)
        return rc;
    if (!uri || strlen(uri) >= sizeof d->uri || sip_px_uri_parse(uri, strlen(uri), &u) != 0 ||
        strcmp(u.scheme, "sip") != 0) {
        snprintf(err, errlen, "conf.destinations[%d].uri '%.80s': not a sip: URI", i,
                 uri ? uri : "(missing)");
        return GW_EINVAL;
    }
    if (!u.ip) {
        snprintf(err, errlen, "conf.destinations[%d].uri '%.80s': the host must be an IP "
                 "address (IPv4, or IPv6 in []; host names are not resolved for trunks)", i, uri);
        return GW_EINVAL;
    }
    if (u.user[0]) {
        snprintf(err, errlen, "conf.destinations[%d].uri '%.80s': no user part (the request's "
                 "is kept)", i, uri);
        return GW_EINVAL;
    }
    if ((rc = sip_trunk_int(o, "weight", 1, 1, 1000, &d->weight, path, err, errlen)) != 0 ||
        (rc = sip_trunk_int(o, "priority", 0, 0, 1000000, &d->priority, path, err, errlen)) != 0)
        return rc;
    snprintf(d->uri, sizeof d->uri, "%s", uri);
    snprintf(d->hostport, sizeof d->hostport, "%s:%d", u.host, u.port ? u.port : 5060);
    if (sip_sa_from_host(u.host, strlen(u.host), u.port ? u.port : 5060, &d->addr) != 0) {
        snprintf(err, errlen, "conf.destinations[%d].uri '%.80s': not an IP address", i, uri);
        return GW_EINVAL;
    }
    d->rtt_ms = -1;
    return 0;
}

/* conf.probe p (NULL: the defaults, no probing) into t: 0 or GW_EINVAL. */
static int sip_trunk_parse_probe(const json_t *p, sip_trunk_t *t, char *err, size_t errlen)
{
    static const char *const keys[] = {"interval_s", "method", "up_after", "down_after",
                                       "timeout_ms", NULL};
    const json_t *m = json_object_get(p, "method");
    int rc = 0;

    if (p && !json_is_object(p)) {
        snprintf(err, errlen, "conf.probe: an object {interval_s, method, up_after, "
                 "down_after, timeout_ms}");
        return GW_EINVAL;
    }
    if (p && (rc = sip_trunk_known(p, keys, "probe.", err, errlen)) != 0)
        return rc;
    if (m && (!json_is_string(m) || strcmp(json_string_value(m), "OPTIONS") != 0)) {
        snprintf(err, errlen, "conf.probe.method: only \"OPTIONS\"");
        return GW_EINVAL;
    }
    if ((rc = sip_trunk_int(p, "interval_s", 0, 0, 3600, &t->interval_s, "probe.", err,
                            errlen)) == 0 &&
        (rc = sip_trunk_int(p, "up_after", 1, 1, 100, &t->up_after, "probe.", err, errlen)) == 0 &&
        (rc = sip_trunk_int(p, "down_after", 2, 1, 100, &t->down_after, "probe.", err,
                            errlen)) == 0)
        rc = sip_trunk_int(p, "timeout_ms", 2000, 100, 60000, &t->timeout_ms, "probe.", err,
                           errlen);
    return rc;
}

/* conf into *t (name not set).  0 or GW_EINVAL with the reason in err. */
static int sip_trunk_parse(const json_t *conf, sip_trunk_t *t, char *err, size_t errlen)
{
    static const char *const keys[] = {"destinations", "strategy", "probe", "from_domain",
                                       "strip", "prefix", NULL};
    const json_t *dsts = json_object_get(conf, "destinations");
    const json_t *st = json_object_get(conf, "strategy");
    const json_t *fd = json_object_get(conf, "from_domain");
    const json_t *pf = json_object_get(conf, "prefix");
    int rc;

    memset(t, 0, sizeof *t);
    if (!json_is_object(conf)) {
        snprintf(err, errlen, "conf: an object with destinations");
        return GW_EINVAL;
    }
    if ((rc = sip_trunk_known(conf, keys, "", err, errlen)) != 0)
        return rc;
    if (!json_is_array(dsts) || json_array_size(dsts) == 0 ||
        json_array_size(dsts) > SIP_TRUNK_MAX_DST) {
        snprintf(err, errlen, "conf.destinations: a list of 1..%d {uri, weight?, priority?}",
                 SIP_TRUNK_MAX_DST);
        return GW_EINVAL;
    }
    for (size_t i = 0; i < json_array_size(dsts); i++)
        if ((rc = sip_trunk_parse_dst(json_array_get(dsts, i), (int)i, &t->dst[i], err,
                                      errlen)) != 0)
            return rc;
    t->ndst = (int)json_array_size(dsts);
    rc = st ? sip_trunk_strategy_parse(json_string_value(st)) : SIP_TRUNK_FAILOVER;
    if (rc < 0) {
        snprintf(err, errlen, "conf.strategy: one of \"failover\", \"round_robin\", \"weighted\"");
        return GW_EINVAL;
    }
    t->strategy = (sip_trunk_strategy_t)rc;
    if ((rc = sip_trunk_parse_probe(json_object_get(conf, "probe"), t, err, errlen)) != 0 ||
        (rc = sip_trunk_int(conf, "strip", 0, 0, 32, &t->strip, "", err, errlen)) != 0)
        return rc;
    if (fd && (!json_is_string(fd) || !json_string_value(fd)[0] ||
               strlen(json_string_value(fd)) >= sizeof t->from_domain)) {
        snprintf(err, errlen, "conf.from_domain: a non-empty string");
        return GW_EINVAL;
    }
    if (pf && (!json_is_string(pf) || strlen(json_string_value(pf)) >= sizeof t->prefix ||
               strspn(json_string_value(pf), "+0123456789*#") != strlen(json_string_value(pf)))) {
        snprintf(err, errlen, "conf.prefix: up to %zu of +0-9*#", sizeof t->prefix - 1);
        return GW_EINVAL;
    }
    snprintf(t->from_domain, sizeof t->from_domain, "%s", fd ? json_string_value(fd) : "");
    snprintf(t->prefix, sizeof t->prefix, "%s", pf ? json_string_value(pf) : "");
    return 0;
}

/* gw_adapter_t.conn_check: conf parsed and thrown away.  Main thread. */
static int sip_trunk_check(const json_t *conf, char *err, size_t errlen)
{
    sip_trunk_t *t = malloc(sizeof *t);
    int rc = t ? sip_trunk_parse(conf, t, err, errlen) : GW_ENOMEM;

    free(t);
    return rc;
}

/* ---- the registry ---- */

/* The open trunk called name, or NULL.  Under sip_trunk_lock. */
static sip_trunk_t *sip_trunk_find(const char *name)
{
    sip_trunk_t *t = sip_trunks;

    while (t && strcmp(t->name, name) != 0)
        t = t->next;
    return t;
}

/* conn_open: a new trunk into the registry (its destinations probing,
 * the first probe at the next tick).  Main thread. */
static int sip_trunk_open(gw_connector_t *c)
{
    char err[256];
    sip_trunk_t *t = malloc(sizeof *t);
    int64_t now = sip_px_now();
    int rc = t ? sip_trunk_parse(c->conf, t, err, sizeof err) : GW_ENOMEM;

    if (rc != 0) {
        if (t)
            GW_ERR(SIP_LOG, "trunk %s: %s", c->name, err);
        free(t);
        return rc;
    }
    snprintf(t->name, sizeof t->name, "%s", c->name);
    t->seed = ((uint32_t)now * 2654435761u) | 1u; /* xorshift: never 0 */
    for (int i = 0; i < t->ndst; i++) {
        t->dst[i].since = (int64_t)time(NULL);
        t->dst[i].next_at = now; /* the first probe at once */
    }
    pthread_mutex_lock(&sip_trunk_lock);
    t->next = sip_trunks;
    sip_trunks = t;
    pthread_mutex_unlock(&sip_trunk_lock);
    return 0;
}

/* conn_close: out of the registry and freed (branches in flight keep
 * only its name: their counts then find nothing).  Main thread. */
static void sip_trunk_close(gw_connector_t *c)
{
    sip_trunk_t **pp, *t = NULL;
    int down = 0;

    pthread_mutex_lock(&sip_trunk_lock);
    for (pp = &sip_trunks; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, c->name) == 0) {
            t = *pp;
            *pp = t->next;
            break;
        }
    for (int i = 0; t && i < t->ndst; i++)
        down += t->dst[i].state == SIP_TRUNK_DOWN;
    pthread_mutex_unlock(&sip_trunk_lock);
    if (down)
        gw_stat_add(sip_trunk_stats.down, -down);
    free(t);
}

static json_t *sip_trunk_conn_status(gw_connector_t *c)
{
    sip_trunk_t *t;
    int up = 0, n = 0;

    pthread_mutex_lock(&sip_trunk_lock);
    t = sip_trunk_find(c->name);
    for (int i = 0; t && i < t->ndst; i++)
        up += t->dst[i].state != SIP_TRUNK_DOWN;
    n = t ? t->ndst : 0;
    pthread_mutex_unlock(&sip_trunk_lock);
    return json_pack("{s:s, s:i, s:i}", "state", !t ? "closed" : up ? "up" : "down",
                     "destinations", n, "usable", up);
}

/* conn_metrics: per destination (labels connector, destination = its
 * index, uri) its state, calls and in flight.  HTTP thread, at scrape
 * time, under sip_trunk_lock only. */
static void sip_trunk_conn_metrics(gw_connector_t *c, struct gw_metrics *m)
{
    sip_trunk_t *t;
    char idx[12];

    pthread_mutex_lock(&sip_trunk_lock);
    t = sip_trunk_find(c->name);
    for (int i = 0; t && i < t->ndst; i++) {
        const sip_trunk_dst_t *d = &t->dst[i];
        const char *lab[] = {"connector", t->name, "destination", idx, "uri", d->uri, NULL};
        snprintf(idx, sizeof idx, "%d", i);
        gw_metrics_value(m, "sip.trunk_destination_up", GW_STAT_GAUGE,
                         "1 while the SIP trunk destination is taken for calls (up or probing), "
                         "0 while its probes found it down", lab, d->state != SIP_TRUNK_DOWN);
        gw_metrics_value(m, "sip.trunk_destination_calls", GW_STAT_COUNTER,
                         "proxy branches started to the SIP trunk destination", lab,
                         (double)d->calls);
        gw_metrics_value(m, "sip.trunk_destination_in_flight", GW_STAT_GAUGE,
                         "branches to the SIP trunk destination without a final response yet",
                         lab, d->inflight);
    }
    pthread_mutex_unlock(&sip_trunk_lock);
}

/* ---- probing ---- */

/* A probe's outcome on d of t (status 0: a timeout): counts, state,
 * and a change into ch when the state changed.  Under the lock. */
static int sip_trunk_outcome(sip_trunk_t *t, int idx, int status, int rtt_ms,
                             sip_trunk_change_t *ch)
{
    sip_trunk_dst_t *d = &t->dst[idx];
    sip_trunk_state_t old = d->state;
    int changed = 0;

    d->branch[0] = '\0';
    d->last_status = status ? status : 408;
    if (status) {
        d->rtt_ms = rtt_ms;
        d->fail_run = 0;
        d->ok_run++;
        if (d->state != SIP_TRUNK_UP && d->ok_run >= t->up_after)
            d->state = SIP_TRUNK_UP;
    } else {
        d->ok_run = 0;
        d->fail_run++;
        if (d->state != SIP_TRUNK_DOWN && d->fail_run >= t->down_after)
            d->state = SIP_TRUNK_DOWN;
    }
    if (d->state != old && ch) {
        d->since = (int64_t)time(NULL);
        snprintf(ch->trunk, sizeof ch->trunk, "%s", t->name);
        ch->idx = idx;
        ch->old = old;
        ch->state = d->state;
        if (status)
            snprintf(ch->detail, sizeof ch->detail, "%s answered OPTIONS %d (%d in a row)",
                     d->uri, status, d->ok_run);
        else
            snprintf(ch->detail, sizeof ch->detail, "%s: no answer to OPTIONS within %d ms "
                     "(%d in a row)", d->uri, t->timeout_ms, d->fail_run);
        changed = 1;
    }
    return changed;
}

static void sip_trunk_emit(const sip_trunk_change_t *ch, int n)
{
    for (int i = 0; i < n; i++) {
        const char *st = sip_trunk_state_name(ch[i].state);
        if (ch[i].state == SIP_TRUNK_DOWN || ch[i].old == SIP_TRUNK_DOWN)
            gw_stat_add(sip_trunk_stats.down, ch[i].state == SIP_TRUNK_DOWN ? 1 : -1);
        GW_INFO(SIP_LOG, "trunk %s destination %d %s: %s", ch[i].trunk, ch[i].idx, st,
                ch[i].detail);
        gw_event_connector(ch[i].trunk, st, ch[i].idx, ch[i].detail);
        if (gw_trace_on()) {
            gw_trace_rec_t r = {0};
            char summary[300];
            snprintf(summary, sizeof summary, "trunk: destination %d %s: %s", ch[i].idx, st,
                     ch[i].detail);
            r.kind = GW_TRACE_LOG;
            r.connector = ch[i].trunk;
            r.summary = summary;
            gw_trace_record(&r);
        }
    }
}

/* The bytes a worker sends: in it->arg. */
typedef struct sip_trunk_pkt {
    sip_sa_t addr;
    size_t n;
    char buf[];
} sip_trunk_pkt_t;

static void sip_trunk_on_send(sip_worker_t *w, sip_item_t *it)
{
    sip_trunk_pkt_t *p = it->arg;
    sip_peer_t peer = {.addr = p->addr, .conn_id = 0};

    sip_worker_send(w, &peer, p->buf, p->n);
}

/* Queue d's probe text to worker 0, which sends it.  0, or -1 (no
 * worker, no memory: the probe times out).  Under the lock. */
static int sip_trunk_push(const sip_trunk_dst_t *d)
{
    sip_worker_t *w = sip_worker_get(0);
    sip_trunk_pkt_t *p = w ? malloc(sizeof *p + (size_t)d->probe_len) : NULL;
    sip_item_t *it = p ? calloc(1, sizeof *it) : NULL;
    int rc = -1;

    if (it) {
        p->addr = d->addr;
        p->n = (size_t)d->probe_len;
        memcpy(p->buf, d->probe, (size_t)d->probe_len);
        it->kind = SIP_ITEM_CALL;
        it->fn = sip_trunk_on_send;
        it->arg = p;
        it->arg_free = free;
        p = NULL;
        if (sip_worker_push(w, it) == 0)
            rc = 0;
        else
            sip_item_free(it);
    }
    free(p);
    return rc;
}

/* A new OPTIONS to d of t: a fresh branch, sent from worker 0 and
 * retransmitted as a NICT's Timer E until an answer or timeout_ms.
 * Under the lock. */
static void sip_trunk_probe(sip_trunk_t *t, sip_trunk_dst_t *d, int64_t now)
{
    char ip[48], rnd[13], tag[9];
    int len;

    sip_px_local_ip(&d->addr, ip, sizeof ip);
    sip_random_hex(rnd, 6);
    sip_random_hex(tag, 4);
    snprintf(d->branch, sizeof d->branch, SIP_TRUNK_BRANCH_PREFIX "%s", rnd);
    len = snprintf(d->probe, sizeof d->probe,
                   "OPTIONS sip:%s SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n"
                   "Max-Forwards: 70\r\n"
                   "From: <sip:junction@%s>;tag=%s\r\n"
                   "To: <sip:%s>\r\n"
                   "Call-ID: %s-%s\r\n"
                   "CSeq: 1 OPTIONS\r\n"
                   "Accept: application/sdp\r\n"
                   "User-Agent: junction\r\n"
                   "Content-Length: 0\r\n\r\n",
                   d->hostport, ip, sip_conf.port, d->branch,
                   t->from_domain[0] ? t->from_domain : ip, tag, d->hostport, rnd, t->name);
    d->probe_len = len > 0 && (size_t)len < sizeof d->probe ? len : 0;
    d->sent_at = now;
    d->retx_ms = sip_tsx_t1();
    d->retx_at = now + d->retx_ms;
    if (d->probe_len > 0 && sip_trunk_push(d) == 0)
        gw_stat_add(sip_trunk_stats.probes, 1);
}

static void sip_trunk_on_tick(evutil_socket_t fd, short what, void *arg)
{
    sip_trunk_change_t ch[SIP_TRUNK_MAX_CHANGES];
    int64_t now = sip_px_now();
    int nch = 0;
    (void)fd;
    (void)what;
    (void)arg;

    pthread_mutex_lock(&sip_trunk_lock);
    for (sip_trunk_t *t = sip_trunks; t; t = t->next) {
        for (int i = 0; t->interval_s > 0 && i < t->ndst; i++) {
            sip_trunk_dst_t *d = &t->dst[i];
            if (d->branch[0] && now - d->sent_at >= t->timeout_ms) {
                nch += sip_trunk_outcome(t, i, 0, 0,
                                         nch < SIP_TRUNK_MAX_CHANGES ? &ch[nch] : NULL);
            } else if (d->branch[0] && now >= d->retx_at && d->probe_len > 0) {
                sip_trunk_push(d); /* Timer E */
                d->retx_ms = d->retx_ms * 2 < SIP_T2_MS ? d->retx_ms * 2 : SIP_T2_MS;
                d->retx_at = now + d->retx_ms;
            }
            if (!d->branch[0] && now >= d->next_at) {
                d->next_at = now + (int64_t)t->interval_s * 1000;
                sip_trunk_probe(t, d, now);
            }
        }
    }
    pthread_mutex_unlock(&sip_trunk_lock);
    sip_trunk_emit(ch, nch);
}

/* See sip_trunk.h. */
int sip_trunk_response(const char *buf, size_t n)
{
    const size_t plen = strlen(SIP_TRUNK_BRANCH_PREFIX);
    const char *p = memmem(buf, n, ";branch=" SIP_TRUNK_BRANCH_PREFIX, 8 + plen), *e;
    const char *via = memmem(buf, n, "\nVia:", 5), *via2 = memmem(buf, n, "\nv:", 3);
    const char *first = !via ? via2 : !via2 ? via : via < via2 ? via : via2;
    const char *eol = first ? memchr(first + 1, '\n', (size_t)(buf + n - first - 1)) : NULL;
    sip_trunk_change_t ch;
    int64_t now = sip_px_now();
    int status = n > 12 ? atoi(buf + 8) : 0, nch = 0, found = 0;
    size_t blen;

    if (!p || !eol || p > eol)
        return 0; /* no probe branch in the top Via */
    p += 8;
    for (e = p; e < eol && *e != ';' && *e != ',' && *e != ' ' && *e != '\r'; e++)
        ;
    blen = (size_t)(e - p);
    if (status < 100 || status > 699)
        return 1;
    pthread_mutex_lock(&sip_trunk_lock);
    for (sip_trunk_t *t = sip_trunks; t && !found; t = t->next)
        for (int i = 0; i < t->ndst && !found; i++) {
            sip_trunk_dst_t *d = &t->dst[i];
            if (!d->branch[0] || strlen(d->branch) != blen || memcmp(d->branch, p, blen) != 0)
                continue;
            found = 1;
            if (status >= 200) /* a provisional keeps the probe waiting */
                nch = sip_trunk_outcome(t, i, status, (int)(now - d->sent_at), &ch);
        }
    pthread_mutex_unlock(&sip_trunk_lock);
    sip_trunk_emit(&ch, nch);
    return 1;
}

/* ---- the proxy's side ---- */

/* See sip_trunk.h. */
int sip_trunk_hops(const char *name, const char *user, sip_trunk_hop_t *hops, int max)
{
    sip_trunk_cand_t c[SIP_TRUNK_MAX_DST];
    int order[SIP_TRUNK_MAX_DST], n = -1;
    sip_trunk_t *t;

    pthread_mutex_lock(&sip_trunk_lock);
    t = sip_trunk_find(name);
    if (t) {
        size_t ul = strlen(user);
        const char *u = user + ((size_t)t->strip < ul ? (size_t)t->strip : ul);
        for (int i = 0; i < t->ndst; i++) {
            c[i].weight = t->dst[i].weight;
            c[i].priority = t->dst[i].priority;
            c[i].usable = t->dst[i].state != SIP_TRUNK_DOWN;
        }
        t->seed ^= t->seed << 13;
        t->seed ^= t->seed >> 17;
        t->seed ^= t->seed << 5;
        n = sip_trunk_order(t->strategy, c, t->ndst, t->requests++, t->seed, order);
        n = n < max ? n : max;
        for (int i = 0; i < n; i++) {
            const sip_trunk_dst_t *d = &t->dst[order[i]];
            snprintf(hops[i].trunk, sizeof hops[i].trunk, "%s", t->name);
            hops[i].idx = order[i];
            hops[i].addr = d->addr;
            if (t->prefix[0] || u[0])
                snprintf(hops[i].ruri, sizeof hops[i].ruri, "sip:%s%s@%s", t->prefix, u,
                         d->hostport);
            else
                snprintf(hops[i].ruri, sizeof hops[i].ruri, "sip:%s", d->hostport);
        }
    }
    pthread_mutex_unlock(&sip_trunk_lock);
    return n;
}

/* See sip_trunk.h. */
void sip_trunk_note_call(const char *trunk, int idx)
{
    sip_trunk_t *t;

    pthread_mutex_lock(&sip_trunk_lock);
    t = sip_trunk_find(trunk);
    if (t && idx >= 0 && idx < t->ndst) {
        t->dst[idx].calls++;
        t->dst[idx].inflight++;
    }
    pthread_mutex_unlock(&sip_trunk_lock);
}

/* See sip_trunk.h.  A trunk updated meanwhile starts from 0: never below. */
void sip_trunk_note_end(const char *trunk, int idx)
{
    sip_trunk_t *t;

    pthread_mutex_lock(&sip_trunk_lock);
    t = sip_trunk_find(trunk);
    if (t && idx >= 0 && idx < t->ndst && t->dst[idx].inflight > 0)
        t->dst[idx].inflight--;
    pthread_mutex_unlock(&sip_trunk_lock);
}

/* ---- MI and lifecycle ---- */

static json_t *sip_trunk_json(const sip_trunk_t *t)
{
    json_t *dsts = json_array();

    for (int i = 0; dsts && i < t->ndst; i++) {
        const sip_trunk_dst_t *d = &t->dst[i];
        json_array_append_new(dsts, json_pack("{s:i, s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:i}",
            "index", i, "uri", d->uri, "state", sip_trunk_state_name(d->state),
            "weight", d->weight, "priority", d->priority, "last_probe_status", d->last_status,
            "rtt_ms", d->rtt_ms, "since", (json_int_t)d->since, "calls", (json_int_t)d->calls,
            "inflight", d->inflight));
    }
    return json_pack("{s:s, s:s, s:{s:i, s:s, s:i, s:i, s:i}, s:I, s:o}", "name", t->name,
                     "strategy", sip_trunk_strategy_name(t->strategy), "probe", "interval_s",
                     t->interval_s, "method", "OPTIONS", "up_after", t->up_after, "down_after",
                     t->down_after, "timeout_ms", t->timeout_ms, "requests",
                     (json_int_t)t->requests, "destinations", dsts);
}

/* See sip_trunk.h.  params: {name?}. */
void sip_trunk_mi_status(const json_t *params, gw_mi_reply_t *r)
{
    const char *only = json_string_value(json_object_get(params, "name"));
    json_t *a = json_array();

    pthread_mutex_lock(&sip_trunk_lock);
    for (const sip_trunk_t *t = sip_trunks; a && t; t = t->next)
        if (!only || strcmp(only, t->name) == 0)
            json_array_append_new(a, sip_trunk_json(t));
    pthread_mutex_unlock(&sip_trunk_lock);
    if (!a) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    gw_mi_result(r, json_pack("{s:o}", "trunks", a));
}

/* See sip_trunk.h. */
int sip_trunk_init(struct event_base *main_base)
{
    struct timeval tv = {0, SIP_TRUNK_TICK_MS * 1000};

    sip_trunk_stats.requests = gw_stat("sip.trunk_requests",
                                       "requests the proxy routed to a SIP trunk");
    sip_trunk_stats.failovers = gw_stat("sip.trunk_failovers",
                                        "trunk branches given up for the next destination "
                                        "(408, 5xx, timeout)");
    sip_trunk_stats.probes = gw_stat("sip.trunk_probes", "OPTIONS probes sent to trunk destinations");
    sip_trunk_stats.down = gw_stat_gauge("sip.trunk_down", "trunk destinations down (probing)");
    sip_trunk_timer = event_new(main_base, -1, EV_PERSIST, sip_trunk_on_tick, NULL);
    if (!sip_trunk_timer || event_add(sip_trunk_timer, &tv) != 0)
        return GW_ENOMEM;
    return 0;
}

/* See sip_trunk.h. */
void sip_trunk_stop(void)
{
    if (sip_trunk_timer) {
        event_free(sip_trunk_timer);
        sip_trunk_timer = NULL;
    }
}

/* A refused message's outcome, on a worker (send() must only queue). */
static void sip_trunk_on_refuse(sip_worker_t *w, sip_item_t *it)
{
    (void)w;
    gw_core_failed(it->arg, 488, "a sip_trunk connector carries proxied SIP requests, not "
                                 "messages (route messages to a sip, smpp, amqp or http "
                                 "connector)");
    it->arg = NULL; /* the core has it back */
}

static void sip_trunk_dlv_free(void *d)
{
    gw_dlv_free(d);
}

/* A message (an envelope a rule routed here) is no call: a trunk carries
 * proxied requests only, so it is refused as a permanent failure of this
 * target (the plan's next target is tried, else the message fails with
 * that reason) instead of waiting in its queue forever.  Any thread: the
 * outcome is queued to a worker.  0, or GW_ENOMEM / the push's code (d
 * stays the caller's). */
static int sip_trunk_send(gw_connector_t *c, gw_delivery_t *d)
{
    sip_item_t *it = calloc(1, sizeof *it);
    int rc = GW_ENOMEM;

    (void)c;
    if (it) {
        it->kind = SIP_ITEM_CALL;
        it->fn = sip_trunk_on_refuse;
        it->arg = d;
        it->arg_free = sip_trunk_dlv_free; /* dropped unrun at a stop: settled, resent later */
        rc = sip_worker_push_any(it);
        if (rc != 0)
            free(it); /* d stays the caller's */
    }
    return rc;
}

const gw_adapter_t sip_trunk_adapter = {
    .name = "sip_trunk",
    .conn_check = sip_trunk_check,
    .conn_open = sip_trunk_open,
    .conn_close = sip_trunk_close,
    .send = sip_trunk_send,
    .conn_status = sip_trunk_conn_status,
    .conn_metrics = sip_trunk_conn_metrics,
};
