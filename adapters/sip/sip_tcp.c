/*
 * sip_tcp.c - SIP over TCP: the listeners, one connection table for every
 * worker, connections spread over the workers, outgoing connections.
 *
 * The table.  Every connection, accepted or opened by us, is a sip_tcp_t
 * in one table of SIP_TCP_SHARDS shards (by id), each behind its own lock.
 * An id is a 64-bit number that never repeats (an atomic counter), so a
 * late answer for a connection that has closed finds nothing and is
 * dropped instead of reaching a newcomer on the same socket.  A connection
 * belongs to one worker (owner): only that worker's thread touches its
 * bufferevent and timers, reads it and frees it (after taking it out of
 * the table under the shard's lock); other threads only look it up under
 * the lock and read what does not change (remote, local, proto, owner
 * once set) or the atomic byte counts.
 *
 * Spreading.  The listeners (sip.listen and sip.listen6, when sip.tcp) run
 * on worker 0, which never retires.  An accepted socket is checked
 * against the limits (sip.tcp_max_conns in all; sip.tcp_max_per_ip from
 * one remote address: more are refused and counted in sip.tcp_refused),
 * put in the table with no owner, and handed to the next active worker
 * round robin as a CALL item (sip_worker_push_any): that worker adopts it
 * (its bufferevent on its own event base).  Sending on a connection from
 * another worker's thread (a response the proxy routed to the branch's
 * owner, an answer after the store's commit) copies the bytes into a CALL
 * item for the owner.
 *
 * Limits and deadlines, each closing the connection (counted in
 * sip.tcp_limit_closed): a message whose headers do not end within
 * sip.tcp_header_timeout_ms of its first byte; a message over
 * sip.max_message (or an unframeable stream); more than sip.tcp_max_out
 * bytes written but not yet taken by the peer (it does not read); and
 * sip.tcp_idle_s without a byte read (not counted).  RFC 5626 keep-alive:
 * a double CRLF ping between messages is answered with a CRLF pong.
 *
 * Outgoing (sip_tcp_send with no connection id): a live connection to the
 * address is reused (a phone that registered over TCP is reached over its
 * own connection, RFC 5626 style), else the sending worker connects, non
 * blocking: what it writes waits in the bufferevent until connected.
 *
 * A retiring worker closes its connections when it stops (the choice
 * documented in docs/sip-proxy.md: its peers reconnect; with a fixed pool
 * no worker retires).  At stop each worker lingers (sip_tcp_linger) so the
 * answers already written reach the peers.
 *
 * Threads: sip_tcp_init / free on the main thread; accept on worker 0;
 * everything touching a connection's bufferevent on its owner's thread;
 * sip_tcp_send on any worker; sip_tcp_mi_list on the MI thread (the table
 * under its locks).
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_trace.h"
#include "sip.h"
#include "sip_proxy.h"

#define SIP_TCP_SHARDS 16
#define SIP_TCP_LINGER_MS 1000 /* longest wait at stop for TCP answers to drain */

typedef struct sip_tcp {
    /* immutable once in the table (local: set under the lock on connect) */
    uint64_t id;
    int proto;
    int outgoing;
    sip_sa_t remote, local;
    int64_t created_ms;
    int owner;                 /* worker index, -1 while handed over; under the lock */
    int64_t in_bytes, out_bytes; /* atomic */
    /* the owner's thread only */
    int connected;             /* outgoing: BEV_EVENT_CONNECTED came (TLS: handshake done) */
    int fd;                    /* until adopted */
    struct bufferevent *bev;
    struct event *hdr_ev;      /* the header deadline of a message begun */
    int hdr_armed;
    struct sip_tcp *hnext;     /* shard chain, under the shard's lock */
    struct sip_tcp *wnext;     /* the owner's list */
} sip_tcp_t;

typedef struct sip_tcp_shard {
    pthread_mutex_t lock;
    sip_tcp_t *head;
} sip_tcp_shard_t;

/* A worker's connections: its own thread only. */
typedef struct sip_tcp_wst {
    sip_tcp_t *conns;
    int lingering;             /* stopping: no new requests, draining answers */
    struct event *linger_ev;
} sip_tcp_wst_t;

static sip_tcp_shard_t sip_tcp_tab[SIP_TCP_SHARDS];
static sip_tcp_wst_t sip_tcp_w[SIP_MAX_WORKERS];
static uint64_t sip_tcp_next_id; /* atomic */
static int sip_tcp_total;        /* atomic: in the table */
static struct evconnlistener *sip_tcp_listeners[4]; /* TCP, then TLS, per address */

static int64_t sip_tcp_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connection's life on the trace bus (accept, connect, refuse, close). */
static void sip_tcp_trace(const sip_sa_t *remote, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sip_tcp_trace(const sip_sa_t *remote, const char *fmt, ...)
{
    char peer[SIP_ADDR_MAX];
    va_list ap;

    if (!gw_trace_on())
        return;
    va_start(ap, fmt);
    gw_trace_vlogf(SIP_LOG, sip_sa_str(remote, peer, sizeof peer), NULL, fmt, ap);
    va_end(ap);
}

static sip_tcp_shard_t *sip_tcp_shard(uint64_t id) { return &sip_tcp_tab[id % SIP_TCP_SHARDS]; }

static void sip_tcp_insert(sip_tcp_t *c)
{
    sip_tcp_shard_t *s = sip_tcp_shard(c->id);
    pthread_mutex_lock(&s->lock);
    c->hnext = s->head;
    s->head = c;
    pthread_mutex_unlock(&s->lock);
    __atomic_add_fetch(&sip_tcp_total, 1, __ATOMIC_RELAXED);
    gw_stat_add(c->proto == SIP_PROTO_TLS ? sip_stats.tls_conns : sip_stats.tcp_conns, 1);
}

static void sip_tcp_remove(sip_tcp_t *c)
{
    sip_tcp_shard_t *s = sip_tcp_shard(c->id);
    pthread_mutex_lock(&s->lock);
    for (sip_tcp_t **pp = &s->head; *pp; pp = &(*pp)->hnext)
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    pthread_mutex_unlock(&s->lock);
    __atomic_sub_fetch(&sip_tcp_total, 1, __ATOMIC_RELAXED);
    gw_stat_add(c->proto == SIP_PROTO_TLS ? sip_stats.tls_conns : sip_stats.tcp_conns, -1);
}

/* The owner of connection id (-1: handed over, -2: none).  *cp gets it
 * (only the owner may use it).  Any thread. */
static int sip_tcp_lookup(uint64_t id, sip_tcp_t **cp)
{
    sip_tcp_shard_t *s = sip_tcp_shard(id);
    int owner = -2;

    *cp = NULL;
    pthread_mutex_lock(&s->lock);
    for (sip_tcp_t *c = s->head; c; c = c->hnext)
        if (c->id == id) {
            owner = c->owner;
            *cp = c;
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return owner;
}

/* A live connection of proto to remote: its id and owner into *id,
 * *owner; 0 when none (a first one found wins).  Any thread. */
static int sip_tcp_find_remote(const sip_sa_t *remote, int proto, uint64_t *id, int *owner)
{
    for (int i = 0; i < SIP_TCP_SHARDS; i++) {
        sip_tcp_shard_t *s = &sip_tcp_tab[i];
        int hit = 0;
        pthread_mutex_lock(&s->lock);
        for (sip_tcp_t *c = s->head; c && !hit; c = c->hnext)
            if (c->owner >= 0 && c->proto == proto && sip_sa_equal(&c->remote, remote)) {
                *id = c->id;
                *owner = c->owner;
                hit = 1;
            }
        pthread_mutex_unlock(&s->lock);
        if (hit)
            return 1;
    }
    return 0;
}

/* See sip.h.  Any thread. */
int sip_tcp_alive(const sip_sa_t *remote, int proto)
{
    uint64_t id;
    int owner;

    return sip_tcp_find_remote(remote, proto, &id, &owner);
}

/* Incoming connections from remote's address now in the table. */
static int sip_tcp_count_ip(const sip_sa_t *remote)
{
    int n = 0;

    for (int i = 0; i < SIP_TCP_SHARDS; i++) {
        sip_tcp_shard_t *s = &sip_tcp_tab[i];
        pthread_mutex_lock(&s->lock);
        for (sip_tcp_t *c = s->head; c; c = c->hnext)
            n += !c->outgoing && sip_sa_same_ip(&c->remote, remote);
        pthread_mutex_unlock(&s->lock);
    }
    return n;
}

/* Close c: out of the table and its worker's list, freed.  Owner's
 * thread (or the main thread once the workers are joined). */
static void sip_tcp_close(int widx, sip_tcp_t *c, const char *why)
{
    sip_tcp_wst_t *ws = &sip_tcp_w[widx];
    sip_worker_t *w = sip_worker_get(widx);

    sip_tcp_remove(c);
    for (sip_tcp_t **pp = &ws->conns; *pp; pp = &(*pp)->wnext)
        if (*pp == c) {
            *pp = c->wnext;
            break;
        }
    sip_tcp_trace(&c->remote, "%s %llu closed: %s", sip_proto_name(c->proto),
                  (unsigned long long)c->id, why);
    if (c->hdr_ev)
        event_free(c->hdr_ev);
    if (c->bev)
        bufferevent_free(c->bev);
    else if (c->fd >= 0)
        close(c->fd);
    free(c);
    if (ws->lingering && !ws->conns && w)
        event_base_loopbreak(sip_worker_base(w)); /* every answer is out: stop now */
}

static void sip_tcp_on_hdr_deadline(evutil_socket_t fd, short what, void *arg)
{
    sip_tcp_t *c = arg;
    (void)fd;
    (void)what;
    gw_stat_add(sip_stats.tcp_limit_closed, 1);
    sip_tcp_close(c->owner, c, "headers not complete within sip.tcp_header_timeout_ms");
}

/* The header deadline of the message begun in c's input (p[0..n)): armed
 * when its headers have not ended, else off. */
static void sip_tcp_hdr_deadline(sip_tcp_t *c, const unsigned char *p, size_t n)
{
    int begun = n > 0 && p[0] != '\r' && p[0] != '\n' && !memmem(p, n, "\r\n\r\n", 4);

    if (begun && !c->hdr_armed) {
        int ms = __atomic_load_n(&sip_conf.tcp_header_timeout_ms, __ATOMIC_RELAXED);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        c->hdr_armed = c->hdr_ev != NULL && event_add(c->hdr_ev, &tv) == 0;
    } else if (!begun && c->hdr_armed) {
        event_del(c->hdr_ev);
        c->hdr_armed = 0;
    }
}

/* Write buf on c (owner's thread): 0, or GW_ERROR (c closed: the peer
 * does not read, or the write failed). */
static int sip_tcp_write(sip_tcp_t *c, const char *buf, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (bufferevent_write(c->bev, buf, len) != 0) {
        sip_tcp_close(c->owner, c, "write failed");
        return GW_ERROR;
    }
    __atomic_add_fetch(&c->out_bytes, (int64_t)len, __ATOMIC_RELAXED);
    if (evbuffer_get_length(out) > (size_t)sip_conf.tcp_max_out) {
        GW_INFO(SIP_LOG, "tcp %llu: %zu bytes unsent, over sip.tcp_max_out: closing",
                (unsigned long long)c->id, evbuffer_get_length(out));
        gw_stat_add(sip_stats.tcp_limit_closed, 1);
        sip_tcp_close(c->owner, c, "output over sip.tcp_max_out");
        return GW_ERROR;
    }
    return 0;
}

static void sip_tcp_on_event(struct bufferevent *bev, short what, void *arg);

/* Closing after the flush: the output is out. */
static void sip_tcp_on_drained(struct bufferevent *bev, void *arg)
{
    sip_tcp_t *c = arg;
    (void)bev;
    sip_tcp_close(c->owner, c, "over sip.max_message (413 sent)");
}

/* The message at the head of c's input (p[0..n)) cannot be framed within
 * sip.max_message: a request framed within a larger bound is answered 413
 * and the connection closed once that is written; anything else (bad
 * framing) is closed at once.  Counted either way.  Owner's thread. */
static void sip_tcp_too_big(sip_tcp_t *c, const char *p, size_t n)
{
    size_t rlen = 0;
    char *resp = NULL;
    int big = n > (size_t)sip_conf.max_message ||
              sip_frame_length(p, n, (size_t)1 << 30) >= 0; /* the size, not the framing */

    GW_INFO(SIP_LOG, "%s %llu: %s, closing", sip_proto_name(c->proto), (unsigned long long)c->id,
            big ? "a message over sip.max_message" : "unframeable stream");
    gw_stat_add(sip_stats.drops, 1);
    gw_stat_add(sip_stats.tcp_limit_closed, 1);
    if (big && sip_looks_like_sip(p, n) == 1) {
        char *text = malloc(n + 1); /* the raw helper reads a NUL-terminated text */
        if (text) {
            memcpy(text, p, n);
            text[n] = '\0';
            resp = sip_build_raw_response(text, n, 413, "Request Entity Too Large", &rlen);
            free(text);
        }
    }
    if (resp && sip_tcp_write(c, resp, rlen) == 0) {
        struct evbuffer *in = bufferevent_get_input(c->bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        bufferevent_disable(c->bev, EV_READ);
        bufferevent_setcb(c->bev, NULL, sip_tcp_on_drained, sip_tcp_on_event, c);
        free(resp);
        return;
    }
    free(resp);
    sip_tcp_close(c->owner, c, big ? "over sip.max_message" : "unframeable");
}

/* Frame and hand on every complete message in the input buffer. */
static void sip_tcp_on_read(struct bufferevent *bev, void *arg)
{
    sip_tcp_t *c = arg;
    sip_worker_t *w = sip_worker_get(c->owner);
    struct evbuffer *in = bufferevent_get_input(bev);
    sip_peer_t peer = {.addr = c->remote, .conn_id = c->id, .proto = c->proto};

    if (sip_tcp_w[c->owner].lingering) { /* stopping: read only to avoid a reset on close */
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        size_t cap = (size_t)sip_conf.max_message + 4;
        size_t want = avail < cap ? avail : cap;
        unsigned char *p;
        uint64_t id;
        long len;
        char *msg;
        sip_tcp_t *still;
        if (avail == 0) {
            sip_tcp_hdr_deadline(c, NULL, 0);
            return;
        }
        p = evbuffer_pullup(in, (ssize_t)want);
        if (p[0] == '\r' || p[0] == '\n') {
            if (want >= 4 && memcmp(p, "\r\n\r\n", 4) == 0) { /* RFC 5626 ping: pong */
                evbuffer_drain(in, 4);
                __atomic_add_fetch(&c->in_bytes, 4, __ATOMIC_RELAXED);
                if (sip_tcp_write(c, "\r\n", 2) != 0)
                    return;
                continue;
            }
            if (want < 4 && (want < 2 || p[1] == '\n' || p[1] == '\r') &&
                (want < 3 || p[2] == '\r'))
                return; /* perhaps a ping not complete yet */
            evbuffer_drain(in, 1); /* a lone CRLF (a pong, or a keep-alive) */
            __atomic_add_fetch(&c->in_bytes, 1, __ATOMIC_RELAXED);
            continue;
        }
        len = sip_frame_length((const char *)p, want, (size_t)sip_conf.max_message);
        if (len < 0) {
            sip_tcp_too_big(c, (const char *)p, want);
            return;
        }
        if (len == 0) {
            sip_tcp_hdr_deadline(c, p, want);
            return;
        }
        /* the message text must be NUL-terminated for the raw helpers */
        if (!(msg = malloc((size_t)len + 1))) {
            sip_tcp_close(c->owner, c, "out of memory");
            return;
        }
        evbuffer_remove(in, msg, (size_t)len);
        msg[len] = '\0';
        __atomic_add_fetch(&c->in_bytes, len, __ATOMIC_RELAXED);
        if (c->hdr_armed) {
            event_del(c->hdr_ev);
            c->hdr_armed = 0;
        }
        id = c->id; /* c may be gone after the input was handled */
        if (gw_trace_on())
            sip_trace_packet(GW_TRACE_IN, &peer, msg, (size_t)len);
        sip_uas_input(w, msg, (size_t)len, &peer);
        free(msg);
        if (sip_tcp_lookup(id, &still) != sip_worker_index(w) || still != c)
            return;
    }
}

static void sip_tcp_on_event(struct bufferevent *bev, short what, void *arg)
{
    sip_tcp_t *c = arg;
    (void)bev;

    if (what & BEV_EVENT_CONNECTED) {
        sip_sa_t local;
        socklen_t llen = sizeof local;
        sip_tcp_shard_t *s = sip_tcp_shard(c->id);
        int one = 1;
        (void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (getsockname(bufferevent_getfd(bev), &local.sa, &llen) == 0) {
            pthread_mutex_lock(&s->lock);
            c->local = local;
            pthread_mutex_unlock(&s->lock);
        }
        c->connected = 1;
        sip_tcp_trace(&c->remote, "%s %llu connected", sip_proto_name(c->proto),
                      (unsigned long long)c->id);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        /* an outgoing connection that never connected: its branches fail now */
        int failed = c->outgoing && !c->connected;
        sip_sa_t remote = c->remote;
        int proto = c->proto, owner = c->owner;
        sip_tcp_close(owner, c, what & BEV_EVENT_TIMEOUT ? "idle (sip.tcp_idle_s)"
                                : what & BEV_EVENT_EOF   ? "closed by the peer"
                                : failed                 ? "connect or TLS handshake failed"
                                                         : "error");
        if (failed)
            sip_proxy_transport_failed(sip_worker_get(owner), &remote, proto);
    }
}

/* c's bufferevent on w's base, fd already connected or -1 (to connect).
 * 0 or GW_ERROR.  w's thread. */
static int sip_tcp_attach(sip_worker_t *w, sip_tcp_t *c, int fd)
{
    struct timeval idle = {sip_conf.tcp_idle_s, 0};
    struct event_base *base = sip_worker_base(w);

    c->bev = c->proto == SIP_PROTO_TLS ? sip_tls_bev(base, fd, c->outgoing, &c->remote)
                                       : bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->hdr_ev = evtimer_new(base, sip_tcp_on_hdr_deadline, c);
    if (!c->bev || !c->hdr_ev)
        return GW_ERROR;
    c->fd = -1; /* the bufferevent closes it */
    bufferevent_setcb(c->bev, sip_tcp_on_read, NULL, sip_tcp_on_event, c);
    bufferevent_set_timeouts(c->bev, &idle, NULL);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->wnext = sip_tcp_w[sip_worker_index(w)].conns;
    sip_tcp_w[sip_worker_index(w)].conns = c;
    return 0;
}

/* CALL on the chosen worker: adopt the accepted connection it->arg.
 * Worker thread. */
static void sip_tcp_adopt(sip_worker_t *w, sip_item_t *it)
{
    sip_tcp_t *c = it->arg;
    sip_tcp_shard_t *s = sip_tcp_shard(c->id);
    int fd = c->fd;

    it->arg = NULL; /* ours now */
    pthread_mutex_lock(&s->lock);
    c->owner = sip_worker_index(w);
    pthread_mutex_unlock(&s->lock);
    if (sip_tcp_attach(w, c, fd) != 0) {
        sip_tcp_close(c->owner, c, "out of memory");
        return;
    }
    sip_tcp_trace(&c->remote, "%s %llu accepted on worker %d", sip_proto_name(c->proto),
                  (unsigned long long)c->id, c->owner);
}

/* An accepted connection that no worker adopted (the queue refused it, or
 * stop came first): out of the table, closed.  Any thread. */
static void sip_tcp_abandon(void *arg)
{
    sip_tcp_t *c = arg;

    sip_tcp_remove(c);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

/* A new connection object (not in the table yet). */
static sip_tcp_t *sip_tcp_new(int proto, const sip_sa_t *remote, int outgoing)
{
    sip_tcp_t *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->id = __atomic_add_fetch(&sip_tcp_next_id, 1, __ATOMIC_RELAXED);
    c->proto = proto;
    c->outgoing = outgoing;
    c->remote = *remote;
    c->created_ms = sip_tcp_mono_ms();
    c->owner = -1;
    c->fd = -1;
    return c;
}

/* The listener's accept (worker 0): limits, the table, a worker. */
static void sip_tcp_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                              int salen, void *arg)
{
    sip_sa_t remote;
    socklen_t llen = sizeof remote;
    sip_tcp_t *c = NULL;
    sip_item_t *it = NULL;
    int one = 1, per_ip, proto = (int)(intptr_t)arg; /* the listener's transport */
    (void)l;

    memset(&remote, 0, sizeof remote);
    memcpy(&remote, sa, (size_t)salen < sizeof remote ? (size_t)salen : sizeof remote);
    if (__atomic_load_n(&sip_tcp_total, __ATOMIC_RELAXED) >= sip_conf.tcp_max_conns ||
        (per_ip = sip_tcp_count_ip(&remote)) >= sip_conf.tcp_max_per_ip) {
        char where[SIP_ADDR_MAX];
        GW_INFO(SIP_LOG, "%s from %s refused: over sip.tcp_max_conns or sip.tcp_max_per_ip",
                sip_proto_name(proto), sip_sa_str(&remote, where, sizeof where));
        sip_tcp_trace(&remote, "%s refused: connection limit", sip_proto_name(proto));
        gw_stat_add(sip_stats.tcp_refused, 1);
        evutil_closesocket(fd);
        return;
    }
    if (!(c = sip_tcp_new(proto, &remote, 0)) || !(it = calloc(1, sizeof *it))) {
        free(c);
        gw_stat_add(sip_stats.drops, 1);
        evutil_closesocket(fd);
        return;
    }
    /* responses go out when written, not behind a delayed ACK (Nagle) */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)getsockname(fd, &c->local.sa, &llen);
    c->fd = fd;
    sip_tcp_insert(c);
    it->kind = SIP_ITEM_CALL;
    it->fn = sip_tcp_adopt;
    it->arg = c;
    it->arg_free = sip_tcp_abandon;
    if (sip_worker_push_any(it) != 0)
        sip_item_free(it); /* abandons c */
}

/* The bytes of a send for a connection of another worker. */
typedef struct sip_tcp_out {
    uint64_t id;
    size_t len;
    char data[];
} sip_tcp_out_t;

/* CALL on the owner: write what another worker sent.  Worker thread. */
static void sip_tcp_on_out_item(sip_worker_t *w, sip_item_t *it)
{
    sip_tcp_out_t *o = it->arg;
    sip_tcp_t *c;

    if (sip_tcp_lookup(o->id, &c) == sip_worker_index(w))
        (void)sip_tcp_write(c, o->data, o->len);
    else
        gw_stat_add(sip_stats.drops, 1); /* closed meanwhile */
}

/* Hand len bytes for connection id to its owner.  0 or GW_ERROR. */
static int sip_tcp_handoff(int owner, uint64_t id, const char *buf, size_t len)
{
    sip_worker_t *ow = sip_worker_get(owner);
    sip_item_t *it = calloc(1, sizeof *it);
    sip_tcp_out_t *o = malloc(sizeof *o + len);

    if (!ow || !it || !o) {
        free(it);
        free(o);
        return GW_ERROR;
    }
    o->id = id;
    o->len = len;
    memcpy(o->data, buf, len);
    it->kind = SIP_ITEM_CALL;
    it->fn = sip_tcp_on_out_item;
    it->arg = o;
    it->arg_free = free;
    if (sip_worker_push(ow, it) != 0) {
        sip_item_free(it);
        return GW_ERROR;
    }
    return 0;
}

/* A new outgoing connection of w's to peer's address: connecting, with
 * buf queued behind it.  0 or GW_ERROR.  w's thread. */
static int sip_tcp_connect(sip_worker_t *w, const sip_peer_t *peer, const char *buf, size_t len)
{
    sip_tcp_t *c = sip_tcp_new(peer->proto, &peer->addr, 1);
    char where[SIP_ADDR_MAX];

    if (!c)
        return GW_ERROR;
    c->owner = sip_worker_index(w);
    if (sip_tcp_attach(w, c, -1) != 0) {
        if (c->bev)
            bufferevent_free(c->bev);
        if (c->hdr_ev)
            event_free(c->hdr_ev);
        free(c);
        return GW_ERROR;
    }
    sip_tcp_insert(c);
    sip_tcp_trace(&c->remote, "%s %llu connecting from worker %d", sip_proto_name(c->proto),
                  (unsigned long long)c->id, c->owner);
    if (bufferevent_socket_connect(c->bev, &c->remote.sa, (int)sip_sa_len(&c->remote)) != 0) {
        GW_INFO(SIP_LOG, "tcp connect %s: %s", sip_sa_str(&c->remote, where, sizeof where),
                strerror(errno));
        sip_tcp_close(c->owner, c, "connect failed");
        return GW_ERROR;
    }
    return sip_tcp_write(c, buf, len);
}

const sip_transport_ops_t sip_tcp_ops = {
    .name = "tcp", .proto = SIP_PROTO_TCP, .reliable = 1, .send = sip_tcp_send,
};
/* TLS: the same table and framing, its bufferevent from sip_tls.c */
const sip_transport_ops_t sip_tls_ops = {
    .name = "tls", .proto = SIP_PROTO_TLS, .reliable = 1, .send = sip_tcp_send,
};

/* See sip.h.  Worker thread. */
int sip_tcp_send(sip_worker_t *w, const sip_peer_t *peer, const char *buf, size_t len)
{
    uint64_t id = peer->conn_id;
    int owner, me = sip_worker_index(w);
    sip_tcp_t *c;

    if (id == 0 && !sip_tcp_find_remote(&peer->addr, peer->proto, &id, &owner))
        return sip_tcp_connect(w, peer, buf, len);
    owner = sip_tcp_lookup(id, &c);
    if (owner == me)
        return sip_tcp_write(c, buf, len);
    if (owner < 0)
        return GW_ERROR; /* closed, or not adopted yet */
    return sip_tcp_handoff(owner, id, buf, len);
}

/* Lingering: the output is flushed, so send our FIN behind it. */
static void sip_tcp_on_flushed(struct bufferevent *bev, void *arg)
{
    (void)arg;
    shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void sip_tcp_on_linger_end(evutil_socket_t fd, short what, void *arg)
{
    sip_worker_t *w = arg;
    (void)fd;
    (void)what;
    event_base_loopbreak(sip_worker_base(w));
}

/* See sip.h.  Worker thread. */
void sip_tcp_linger(sip_worker_t *w)
{
    struct timeval tv = {SIP_TCP_LINGER_MS / 1000, (SIP_TCP_LINGER_MS % 1000) * 1000};
    sip_tcp_wst_t *ws = &sip_tcp_w[sip_worker_index(w)];

    if (sip_worker_index(w) == 0)
        for (int i = 0; i < 4; i++)
            if (sip_tcp_listeners[i])
                evconnlistener_disable(sip_tcp_listeners[i]);
    if (!ws->conns ||
        !(ws->linger_ev = evtimer_new(sip_worker_base(w), sip_tcp_on_linger_end, w))) {
        event_base_loopbreak(sip_worker_base(w));
        return;
    }
    ws->lingering = 1;
    for (sip_tcp_t *c = ws->conns; c; c = c->wnext) {
        bufferevent_setcb(c->bev, sip_tcp_on_read, sip_tcp_on_flushed, sip_tcp_on_event, c);
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    }
    evtimer_add(ws->linger_ev, &tv);
}

/* See sip.h.  w's thread, or the main thread once it was joined. */
void sip_tcp_close_all(sip_worker_t *w, const char *why)
{
    sip_tcp_wst_t *ws = &sip_tcp_w[sip_worker_index(w)];

    ws->lingering = 0;
    while (ws->conns)
        sip_tcp_close(sip_worker_index(w), ws->conns, why);
    if (ws->linger_ev) {
        event_free(ws->linger_ev);
        ws->linger_ev = NULL;
    }
}

/* See sip.h.  Main thread, worker 0 allocated, its thread not running. */
int sip_tcp_init(sip_worker_t *w0, const sip_sa_t *const *addrs, int n)
{
    for (int i = 0; i < SIP_TCP_SHARDS; i++)
        pthread_mutex_init(&sip_tcp_tab[i].lock, NULL);
    for (int k = 0; k < 2 * n && k < 4; k++) {
        int proto = k < n ? SIP_PROTO_TCP : SIP_PROTO_TLS;
        sip_sa_t sa = *addrs[k % n];
        char where[SIP_ADDR_MAX];
        if (proto == SIP_PROTO_TCP ? !sip_conf.tcp : !sip_tls_listening())
            continue;
        sip_sa_set_port(&sa, sip_listen_port(proto));
        sip_tcp_listeners[k] = evconnlistener_new_bind(
            sip_worker_base(w0), sip_tcp_on_accept, (void *)(intptr_t)proto,
            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128, &sa.sa,
            (int)sip_sa_len(&sa));
        if (!sip_tcp_listeners[k]) {
            GW_ERR(SIP_LOG, "%s %s: %s", sip_proto_name(proto),
                   sip_sa_str(&sa, where, sizeof where), strerror(errno));
            return GW_ERROR;
        }
    }
    return 0;
}

/* See sip.h.  Main thread, the workers joined (their connections closed). */
void sip_tcp_free(void)
{
    for (int i = 0; i < 4; i++)
        if (sip_tcp_listeners[i]) {
            evconnlistener_free(sip_tcp_listeners[i]);
            sip_tcp_listeners[i] = NULL;
        }
}

/* See sip.h.  MI thread. */
void sip_tcp_mi_list(const json_t *params, gw_mi_reply_t *r)
{
    json_t *a = json_array();
    int64_t now = sip_tcp_mono_ms();
    (void)params;

    if (!a) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    for (int i = 0; i < SIP_TCP_SHARDS; i++) {
        sip_tcp_shard_t *s = &sip_tcp_tab[i];
        pthread_mutex_lock(&s->lock);
        for (sip_tcp_t *c = s->head; c; c = c->hnext) {
            char rem[SIP_ADDR_MAX], loc[SIP_ADDR_MAX];
            json_array_append_new(
                a, json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I}", "id",
                             (json_int_t)c->id, "transport", sip_proto_name(c->proto),
                             "direction", c->outgoing ? "out" : "in", "remote",
                             sip_sa_str(&c->remote, rem, sizeof rem), "local",
                             c->local.sa.sa_family ? sip_sa_str(&c->local, loc, sizeof loc) : "",
                             "worker", c->owner, "age_s",
                             (json_int_t)((now - c->created_ms) / 1000), "in_bytes",
                             (json_int_t)__atomic_load_n(&c->in_bytes, __ATOMIC_RELAXED),
                             "out_bytes",
                             (json_int_t)__atomic_load_n(&c->out_bytes, __ATOMIC_RELAXED)));
        }
        pthread_mutex_unlock(&s->lock);
    }
    gw_mi_result(r, a);
}
