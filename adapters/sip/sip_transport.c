/*
 * sip_transport.c - SIP worker threads, sockets and the TCP connection table.
 *
 * A pool of workers (sip.workers at start, 0 = one per core; between
 * sip.workers_min and sip.workers_max when those are set, sip_scale.c
 * decides).  Each owns a libevent event_base, a UDP socket bound with
 * SO_REUSEPORT to sip.listen:sip.port, the client transactions it started,
 * and a gw_queue_t through which other threads hand it work (store
 * outcomes for its pending MESSAGEs, envelopes to send, responses to its
 * client transactions that another worker read).  Server transactions are
 * in the pool's one table (sip_txn.c), so any worker recognises a
 * retransmission whoever read the original.
 *
 * Steering.  The sockets form one SO_REUSEPORT group; the kernel keeps
 * them in an array in bind order, appends on bind and, when one closes,
 * moves the last into its place.  A classic BPF program attached to the
 * group (SO_ATTACH_REUSEPORT_CBPF, sip_bpf_steer) picks the index:
 * a hash of the source address and port, modulo the number of active
 * workers.  Slot i's socket sits at index i because only the top slot is
 * ever opened or closed, and the active workers are the lowest slots
 * 0..active-1.  So a peer sticks to one worker while the pool holds, and:
 *   grow    a retiring top worker becomes active again, or slot n binds a
 *           new socket (index n, which the program does not yet pick) and
 *           starts its thread; then the modulus becomes active + 1;
 *   shrink  the modulus becomes active - 1 first, so the retiring worker
 *           gets no new datagram; it keeps reading what was queued in its
 *           socket, answers its pending MESSAGEs, ends its client
 *           transactions; once drained (sip_worker_on_tick) and on top,
 *           it is sent RETIRE: it reads its socket dry, closes it (from
 *           here its answers leave through worker 0's socket: the same
 *           address and port), finishes what that last read brought, and
 *           its thread ends.  Nothing a worker holds is lost, and no
 *           datagram queued in its socket is dropped: RETIRE comes at
 *           least SIP_RETIRE_QUIET_MS after the program left it out, by
 *           when any datagram steered by the old program has arrived.
 * A peer's retransmissions may reach another worker after a change; the
 * shared transaction table answers them as the original would.  SENDs go
 * round robin over the active workers (sip_worker_push_any), under
 * sip_pool_lock so that no new one reaches a worker once it retires.
 * Responses to a client transaction name their worker in the branch; a
 * worker's slot (queue, event base) lives until destroy, so a late one
 * finds a queue even if that worker has stopped.
 *
 * TCP: worker 0 also runs the listener (when sip.tcp) and every TCP
 * connection; worker 0 never retires.  Streams are framed by
 * Content-Length; a connection is known by a 64-bit id that never repeats,
 * so a late reply for a closed connection finds nothing and is dropped
 * instead of reaching a newcomer.  At stop, worker 0 lingers
 * (sip_tcp_linger, at most SIP_TCP_LINGER_MS) so that the answers already
 * written reach the peers before the sockets close.
 *
 * Tracing: every datagram and framed TCP message in, and every packet out,
 * is offered to the trace bus (sip_trace_packet) when a trace is active:
 * the first line as summary and the Call-ID found by a scan of the header
 * bytes, with no parse.
 *
 * Threads: sip_workers_init / start / stop / destroy and sip_pool_* run on
 * the main thread (sip_pool_snapshot on any); everything else in this
 * file runs on the owning worker's thread, except sip_worker_push /
 * push_any / pending (any thread).  sip_pool_lock guards the slots' states and sip_nactive
 * against the pickers of SENDs and the MI's snapshot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/filter.h>
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

#define SIP_UDP_BATCH 64         /* datagrams read per wakeup */
#define SIP_TCP_MAX_CONNS 1024
#define SIP_TCP_IDLE_S 600
#define SIP_TCP_LINGER_MS 1000   /* longest wait at stop for TCP answers to drain */
#define SIP_TICK_MS 100          /* a retiring worker checks whether it is drained */
/* A retiring worker reads its socket at least this long after the BPF
 * program stopped sending to it: a datagram the kernel steered with the
 * old program just before the swap is in its queue by then. */
#define SIP_RETIRE_QUIET_MS 500
#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

typedef struct sip_tcp {
    uint64_t id;
    struct bufferevent *bev;
    sip_peer_t peer;
    struct sip_tcp *next;
} sip_tcp_t;

struct sip_worker {
    int idx;
    pthread_t thread;
    int started;               /* main thread: a thread runs or awaits its join */
    unsigned gen;              /* main thread: starts of this slot's thread */
    clockid_t cpu_clock;       /* the thread's CPU clock (the scaler's busy %) */
    int state;                 /* sip_wstate_t; written under sip_pool_lock, read atomically */
    int exited;                /* atomic: the thread left its loop */
    int drained;               /* atomic: retiring and nothing left (the worker says) */
    int pending;               /* atomic: MESSAGEs handed to the core, REPLY not yet run */
    int64_t rx;                /* atomic: datagrams read from its socket */
    int64_t retired_ms;        /* monotonic time the BPF program left it out */
    struct event_base *base;
    int udp_fd;                /* -1 once closed (retired): sends go through worker 0's */
    struct event *udp_ev;
    struct event *tick_ev;     /* SIP_TICK_MS while retiring or stopping */
    gw_queue_t *queue;
    sip_uac_t *uac;
    char *rxbuf; /* sip.max_message + 1 bytes */
    /* worker 0 only */
    struct evconnlistener *listener;
    sip_tcp_t *conns;
    size_t nconns;
    uint64_t next_conn_id;
    int lingering;             /* stopping: no new requests, draining answers */
    struct event *linger_ev;   /* the SIP_TCP_LINGER_MS deadline */
};

/* Slots: written by the main thread (release), read by any (acquire).
 * sip_nslots: slots with an open socket, main thread only.  sip_nactive:
 * written under sip_pool_lock, read atomically. */
static sip_worker_t *sip_workers[SIP_MAX_WORKERS];
static int sip_nslots;
static int sip_nactive;
static int sip_steered;     /* our BPF program is attached (main thread) */
static unsigned sip_rr;     /* under sip_pool_lock: round robin of SENDs */
static pthread_mutex_t sip_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sockaddr_in sip_listen_sa;
static int sip_fixed;       /* the pool sip.workers asks for (0: one per core) */

/* Free a queue item and whatever it still holds.  Any thread. */
void sip_item_free(void *item)
{
    sip_item_t *it = item;
    if (!it)
        return;
    if (it->req)
        osip_message_free(it->req);
    free(it->txn_key);
    free(it->resp_hdrs);
    gw_dlv_free(it->dlv);
    if (it->conn) {
        if (it->kind == SIP_ITEM_SEND) /* never became a transaction */
            __atomic_sub_fetch(&it->conn->inflight, 1, __ATOMIC_RELAXED);
        sip_conn_unref(it->conn);
    }
    free(it->branch);
    free(it->reason);
    if (it->arg != NULL && it->arg_free != NULL)
        it->arg_free(it->arg);
    free(it);
}

int sip_worker_count(void) { return __atomic_load_n(&sip_nactive, __ATOMIC_ACQUIRE); }
int sip_worker_index(const sip_worker_t *w) { return w->idx; }
struct event_base *sip_worker_base(sip_worker_t *w) { return w->base; }
sip_uac_t *sip_worker_uac(sip_worker_t *w) { return w->uac; }
int sip_pool_steered(void) { return sip_steered; }
int sip_pool_fixed(void) { return sip_fixed; }

sip_worker_t *sip_worker_get(int idx)
{
    if (idx < 0 || idx >= SIP_MAX_WORKERS)
        return NULL;
    return __atomic_load_n(&sip_workers[idx], __ATOMIC_ACQUIRE);
}

/* See sip.h.  Any thread. */
int sip_worker_push(sip_worker_t *w, sip_item_t *item)
{
    item->worker = w;
    return gw_queue_push(w->queue, item);
}

/* See sip.h.  Any thread. */
int sip_worker_push_any(sip_item_t *item)
{
    int rc = GW_ESTOPPED;

    pthread_mutex_lock(&sip_pool_lock);
    if (sip_nactive > 0)
        rc = sip_worker_push(sip_workers[sip_rr++ % (unsigned)sip_nactive], item);
    pthread_mutex_unlock(&sip_pool_lock);
    return rc;
}

/* See sip.h.  Any thread. */
void sip_worker_pending(sip_worker_t *w, int delta)
{
    __atomic_add_fetch(&w->pending, delta, __ATOMIC_RELAXED);
}

static int64_t sip_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sip_tcp_linger(sip_worker_t *w);

/* The value of the Call-ID header (or its compact form "i") in the header
 * bytes of buf, into out (cap bytes, cut when longer); "" when none.  A
 * scan, not a parse: enough to name a journey. */
static void sip_trace_call_id(const char *buf, size_t len, char *out, size_t cap)
{
    const char *p = buf, *end = buf + len, *eol, *v;
    size_t n;

    out[0] = '\0';
    while (p < end) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if (eol - p <= 1)
            return; /* the empty line: end of the headers */
        v = NULL;
        if (eol - p > 8 && strncasecmp(p, "Call-ID", 7) == 0)
            v = p + 7;
        else if (eol - p > 2 && (p[0] == 'i' || p[0] == 'I') && (p[1] == ':' || p[1] == ' '))
            v = p + 1;
        if (v != NULL) {
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            if (v < eol && *v == ':') {
                for (v++; v < eol && (*v == ' ' || *v == '\t'); v++)
                    ;
                n = (size_t)(eol - v);
                while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == ' '))
                    n--;
                if (n >= cap)
                    n = cap - 1;
                memcpy(out, v, n);
                out[n] = '\0';
                return;
            }
        }
        p = eol + 1;
    }
}

/* Offer one SIP packet to the trace bus.  Worker thread; callers test
 * gw_trace_on() first, so without a trace none of this runs. */
static void sip_trace_packet(gw_trace_dir_t dir, const sip_peer_t *peer, const char *buf,
                             size_t len)
{
    char call_id[128], line[256], addr[INET_ADDRSTRLEN], where[INET_ADDRSTRLEN + 16];
    const char *eol = memchr(buf, '\n', len);
    size_t n = eol ? (size_t)(eol - buf) : len;
    gw_trace_rec_t r;

    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    memcpy(line, buf, n);
    line[n] = '\0';
    sip_trace_call_id(buf, len, call_id, sizeof(call_id));
    inet_ntop(AF_INET, &peer->addr.sin_addr, addr, sizeof(addr));
    snprintf(where, sizeof(where), "%s:%d", addr, ntohs(peer->addr.sin_port));
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_PACKET;
    r.dir = dir;
    r.connector = SIP_LOG;
    r.peer = where;
    r.call_id = call_id;
    r.summary = line;
    r.raw = buf;
    r.raw_len = len;
    gw_trace_record(&r);
}

static sip_tcp_t *sip_tcp_find(sip_worker_t *w, uint64_t id)
{
    sip_tcp_t *c = w->conns;
    while (c && c->id != id)
        c = c->next;
    return c;
}

/* See sip.h.  Worker thread (TCP: worker 0). */
int sip_worker_send(sip_worker_t *w, const sip_peer_t *peer, const char *buf, size_t len)
{
    if (gw_trace_on()) sip_trace_packet(GW_TRACE_OUT, peer, buf, len);
    if (peer->conn_id == 0) {
        /* a retired worker's socket is closed: every socket of the group
         * has the same address, so worker 0's sends the same packet */
        int fd = w->udp_fd >= 0 ? w->udp_fd : sip_workers[0]->udp_fd;
        ssize_t n = sendto(fd, buf, len, 0, (const struct sockaddr *)&peer->addr,
                           sizeof(peer->addr));
        if (n < 0) {
            GW_WARN(SIP_LOG, "sendto %s:%d: %s", inet_ntoa(peer->addr.sin_addr),
                    ntohs(peer->addr.sin_port), strerror(errno));
            return GW_ERROR;
        }
        return 0;
    }
    sip_tcp_t *c = sip_tcp_find(w, peer->conn_id);
    if (!c || bufferevent_write(c->bev, buf, len) != 0)
        return GW_ERROR;
    return 0;
}

static void sip_worker_retire(sip_worker_t *w);

static void sip_worker_on_item(void *item, void *arg)
{
    sip_worker_t *w = arg;
    sip_item_t *it = item;

    switch (it->kind) {
    case SIP_ITEM_REPLY:
        sip_uas_reply(w, it);
        sip_worker_pending(w, -1);
        break;
    case SIP_ITEM_SEND:
        sip_uac_send(w, w->uac, it);
        break;
    case SIP_ITEM_RESPONSE:
        sip_uac_response(w, w->uac, it);
        break;
    case SIP_ITEM_STOP:
        sip_tcp_linger(w); /* leaves the loop once the answers are out */
        break;
    case SIP_ITEM_RETIRE:
        sip_worker_retire(w);
        break;
    case SIP_ITEM_CALL:
        it->fn(w, it);
        break;
    }
    sip_item_free(it);
}

/* Read up to max datagrams from w's socket and handle each; returns how
 * many were read (fewer: the socket is empty). */
static int sip_udp_read(sip_worker_t *w, int max)
{
    int i;

    for (i = 0; i < max; i++) {
        sip_peer_t peer = {.conn_id = 0};
        socklen_t alen = sizeof(peer.addr);
        ssize_t n = recvfrom(w->udp_fd, w->rxbuf, (size_t)sip_conf.max_message + 1,
                             MSG_DONTWAIT, (struct sockaddr *)&peer.addr, &alen);
        if (n < 0)
            break;
        if (n == 0) {
            gw_stat_add(sip_stats.drops, 1);
            continue;
        }
        if (n > sip_conf.max_message) { /* truncated: 413 when its head has a Via */
            w->rxbuf[sip_conf.max_message] = '\0';
            sip_uas_oversized(w, w->rxbuf, (size_t)sip_conf.max_message, &peer);
            continue;
        }
        w->rxbuf[n] = '\0';
        if (gw_trace_on()) sip_trace_packet(GW_TRACE_IN, &peer, w->rxbuf, (size_t)n);
        sip_uas_input(w, w->rxbuf, (size_t)n, &peer);
    }
    if (i > 0)
        __atomic_add_fetch(&w->rx, i, __ATOMIC_RELAXED);
    return i;
}

static void sip_udp_on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sip_udp_read(arg, SIP_UDP_BATCH);
}

/* Nothing of w's is left in flight: no MESSAGE waits for the store, no
 * client transaction runs, nothing waits in its queue. */
static int sip_worker_idle(sip_worker_t *w)
{
    return __atomic_load_n(&w->pending, __ATOMIC_RELAXED) == 0 && sip_uac_count(w->uac) == 0 &&
           sip_proxy_count(w->idx) == 0 && gw_queue_len(w->queue) == 0;
}

/* Every SIP_TICK_MS (a persistent timer: the state is the main thread's
 * to change, the timer the worker's).  Retiring: say when drained (the
 * scaler then sends RETIRE); stopping (its socket closed): leave the loop
 * once what the last read brought is done.  Worker thread. */
static void sip_worker_on_tick(evutil_socket_t fd, short what, void *arg)
{
    sip_worker_t *w = arg;
    int state = __atomic_load_n(&w->state, __ATOMIC_ACQUIRE);
    (void)fd;
    (void)what;

    if (state == SIP_W_ACTIVE)
        __atomic_store_n(&w->drained, 0, __ATOMIC_RELAXED);
    else if (state == SIP_W_RETIRING)
        __atomic_store_n(&w->drained,
                         sip_mono_ms() - w->retired_ms >= SIP_RETIRE_QUIET_MS && sip_worker_idle(w),
                         __ATOMIC_RELEASE);
    else if (state == SIP_W_STOPPING && w->udp_fd < 0 && sip_worker_idle(w))
        event_base_loopbreak(w->base);
}

/* RETIRE: the scaler found w drained and on top.  Read the socket dry,
 * close it (the kernel group loses its last index: nothing moves), then
 * end once what that read brought is done.  Worker thread. */
static void sip_worker_retire(sip_worker_t *w)
{
    int n = 0;

    event_del(w->udp_ev);
    while (sip_udp_read(w, SIP_UDP_BATCH) == SIP_UDP_BATCH && ++n < 1000)
        ;
    close(w->udp_fd);
    w->udp_fd = -1;
    sip_worker_on_tick(-1, 0, w); /* ends now when nothing is left */
}

static void sip_tcp_close(sip_worker_t *w, sip_tcp_t *c)
{
    sip_tcp_t **pp = &w->conns;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    w->nconns--;
    gw_stat_add(sip_stats.tcp_conns, -1);
    bufferevent_free(c->bev);
    free(c);
    if (w->lingering && !w->conns)
        event_base_loopbreak(w->base); /* every answer is out: stop now */
}

/* Frame and hand on every complete message in the input buffer. */
static void sip_tcp_on_read(struct bufferevent *bev, void *arg)
{
    sip_tcp_t *c = arg;
    sip_worker_t *w = sip_workers[0];
    struct evbuffer *in = bufferevent_get_input(bev);

    if (w->lingering) { /* stopping: read only to avoid a reset on close */
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
        if (avail == 0)
            return;
        p = evbuffer_pullup(in, (ssize_t)want);
        if (p[0] == '\r' || p[0] == '\n') { /* RFC 5626 keep-alive CRLFs */
            evbuffer_drain(in, 1);
            continue;
        }
        len = sip_frame_length((const char *)p, want, (size_t)sip_conf.max_message);
        if (len < 0) {
            GW_INFO(SIP_LOG, "tcp %s:%d: unframeable stream, closing",
                    inet_ntoa(c->peer.addr.sin_addr), ntohs(c->peer.addr.sin_port));
            gw_stat_add(sip_stats.drops, 1);
            sip_tcp_close(w, c);
            return;
        }
        if (len == 0)
            return;
        /* the message text must be NUL-terminated for the raw helpers */
        char *msg = malloc((size_t)len + 1);
        if (!msg) {
            sip_tcp_close(w, c);
            return;
        }
        evbuffer_remove(in, msg, (size_t)len);
        msg[len] = '\0';
        id = c->id; /* c may be gone after the input was handled */
        if (gw_trace_on()) sip_trace_packet(GW_TRACE_IN, &c->peer, msg, (size_t)len);
        sip_uas_input(w, msg, (size_t)len, &c->peer);
        free(msg);
        if (!sip_tcp_find(w, id))
            return;
    }
}

static void sip_tcp_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        sip_tcp_close(sip_workers[0], arg);
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
    event_base_loopbreak(w->base);
}

/* Stop (STOP item): leave the loop, but first give the TCP connections
 * up to SIP_TCP_LINGER_MS to write out the answers queued before the stop
 * (a bufferevent writes only from the loop), half-close them, and read
 * (discarding) until the peers close: closing a socket with unread input
 * resets the connection and destroys answers still in flight, as with
 * nginx's lingering close.  Worker thread. */
static void sip_tcp_linger(sip_worker_t *w)
{
    struct timeval tv = {SIP_TCP_LINGER_MS / 1000, (SIP_TCP_LINGER_MS % 1000) * 1000};

    if (w->listener)
        evconnlistener_disable(w->listener);
    if (!w->conns || !(w->linger_ev = evtimer_new(w->base, sip_tcp_on_linger_end, w))) {
        event_base_loopbreak(w->base);
        return;
    }
    w->lingering = 1;
    for (sip_tcp_t *c = w->conns; c; c = c->next) {
        bufferevent_setcb(c->bev, sip_tcp_on_read, sip_tcp_on_flushed, sip_tcp_on_event, c);
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    }
    evtimer_add(w->linger_ev, &tv);
}

static void sip_tcp_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                              int salen, void *arg)
{
    sip_worker_t *w = arg;
    sip_tcp_t *c;
    struct timeval idle = {SIP_TCP_IDLE_S, 0};
    (void)l;

    if (w->nconns >= SIP_TCP_MAX_CONNS || salen < (int)sizeof(struct sockaddr_in) ||
        !(c = calloc(1, sizeof(*c)))) {
        gw_stat_add(sip_stats.drops, 1);
        evutil_closesocket(fd);
        return;
    }
    {
        /* responses go out when written, not behind a delayed ACK (Nagle) */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    memcpy(&c->peer.addr, sa, sizeof(c->peer.addr));
    c->id = c->peer.conn_id = ++w->next_conn_id;
    c->next = w->conns;
    w->conns = c;
    w->nconns++;
    gw_stat_add(sip_stats.tcp_conns, 1);
    bufferevent_setcb(c->bev, sip_tcp_on_read, NULL, sip_tcp_on_event, c);
    bufferevent_set_timeouts(c->bev, &idle, NULL);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int sip_udp_open(const struct sockaddr_in *sa)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Steer the group's datagrams to slots 0..n-1: a classic BPF program
 * (SO_ATTACH_REUSEPORT_CBPF) that returns the index of the socket in the
 * group: a hash of the source address and port (read through SKF_NET_OFF:
 * for UDP the program sees the datagram from its payload on), mixed by a
 * multiply and taken modulo n.  Replacing the program is atomic for the
 * kernel: a datagram is steered by the old or by the new one.  Main
 * thread.  0 or GW_ERROR (errno set). */
static int sip_bpf_steer(int n)
{
    struct sock_filter code[] = {
        /* X = length of the IP header */
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, (uint32_t)SKF_NET_OFF),
        /* A = UDP source port */
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, (uint32_t)SKF_NET_OFF),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        /* A = IPv4 source address ^ port */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* Fibonacci hashing: the high bits of A * 2^32/phi */
        BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x9E3779B1u),
        BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (uint32_t)n),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};

    if (n < 1 || !sip_workers[0] || sip_workers[0]->udp_fd < 0)
        return GW_ERROR;
    if (setsockopt(sip_workers[0]->udp_fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
                   sizeof(prog)) != 0)
        return GW_ERROR;
    return 0;
}

static void sip_worker_free(sip_worker_t *w);

/* The lasting parts of slot idx: event base, queue, client transactions,
 * receive buffer, tick timer (no socket, no thread), published in the
 * slot.  Main thread.  NULL when out of memory (nothing is left). */
static sip_worker_t *sip_worker_alloc(int idx)
{
    struct timeval tick = {0, SIP_TICK_MS * 1000};
    sip_worker_t *w = calloc(1, sizeof(*w));

    if (!w)
        return NULL;
    w->idx = idx;
    w->udp_fd = -1;
    w->base = event_base_new();
    w->rxbuf = malloc((size_t)sip_conf.max_message + 1);
    w->queue = gw_queue_new(0, sip_item_free);
    if (!w->base || !w->rxbuf || !w->queue ||
        gw_queue_attach(w->queue, w->base, sip_worker_on_item, w) != 0)
        goto out_free;
    w->uac = sip_uac_new(w);
    w->tick_ev = event_new(w->base, -1, EV_PERSIST, sip_worker_on_tick, w);
    if (!w->uac || !w->tick_ev || event_add(w->tick_ev, &tick) != 0)
        goto out_free;
    __atomic_store_n(&sip_workers[idx], w, __ATOMIC_RELEASE); /* destroy frees it */
    return w;

out_free:
    sip_worker_free(w);
    return NULL;
}

/* Bind w's socket into the group (at the next index) and watch it.
 * Main thread, w's thread not running.  0 or GW_ERROR (logged). */
static int sip_worker_open(sip_worker_t *w)
{
    if (w->udp_ev) {
        event_free(w->udp_ev);
        w->udp_ev = NULL;
    }
    w->udp_fd = sip_udp_open(&sip_listen_sa);
    if (w->udp_fd < 0) {
        GW_ERR(SIP_LOG, "udp %s:%d: %s", sip_conf.listen, sip_conf.port, strerror(errno));
        return GW_ERROR;
    }
    w->udp_ev = event_new(w->base, w->udp_fd, EV_READ | EV_PERSIST, sip_udp_on_read, w);
    if (!w->udp_ev || event_add(w->udp_ev, NULL) != 0) {
        GW_ERR(SIP_LOG, "worker %d: cannot watch its socket", w->idx);
        return GW_ERROR;
    }
    return 0;
}

static void *sip_worker_main(void *arg)
{
    sip_worker_t *w = arg;
    event_base_dispatch(w->base);
    __atomic_store_n(&w->exited, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Start w's thread.  Main thread.  0 or GW_ERROR (logged). */
static int sip_worker_launch(sip_worker_t *w)
{
    char name[16];

    __atomic_store_n(&w->exited, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&w->drained, 0, __ATOMIC_RELAXED);
    if (pthread_create(&w->thread, NULL, sip_worker_main, w) != 0) {
        GW_ERR(SIP_LOG, "cannot start worker %d", w->idx);
        return GW_ERROR;
    }
    snprintf(name, sizeof name, "sip-%d", w->idx);
    pthread_setname_np(w->thread, name);
    if (pthread_getcpuclockid(w->thread, &w->cpu_clock) != 0)
        w->cpu_clock = (clockid_t)-1;
    w->started = 1;
    w->gen++;
    return 0;
}

/* Create the workers and bind their sockets.  Main thread, adapter init.
 * Returns 0 or GW_ERROR (logged); sip_workers_destroy frees a partial
 * set. */
int sip_workers_init(void)
{
    long n = sip_conf.workers;

    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0)
        n = 1;
    sip_fixed = n > SIP_MAX_WORKERS ? SIP_MAX_WORKERS : (int)n;
    if (sip_conf.workers_max > 0) { /* a scaling pool starts inside its bounds */
        int lo = sip_conf.workers_min > 0 ? sip_conf.workers_min : 1;
        if (n > sip_conf.workers_max)
            n = sip_conf.workers_max;
        if (n < lo && lo <= sip_conf.workers_max)
            n = lo;
    }
    if (n > SIP_MAX_WORKERS)
        n = SIP_MAX_WORKERS;
    memset(&sip_listen_sa, 0, sizeof sip_listen_sa);
    sip_listen_sa.sin_family = AF_INET;
    sip_listen_sa.sin_port = htons((uint16_t)sip_conf.port);
    if (inet_pton(AF_INET, sip_conf.listen, &sip_listen_sa.sin_addr) != 1) {
        GW_ERR(SIP_LOG, "sip.listen '%s' is not an IPv4 address", sip_conf.listen);
        return GW_ERROR;
    }
    if (sip_txns_init() != 0) {
        GW_ERR(SIP_LOG, "no memory for the transaction table");
        return GW_ERROR;
    }
    for (int i = 0; i < n; i++) {
        sip_worker_t *w = sip_worker_alloc(i);
        if (!w) {
            GW_ERR(SIP_LOG, "worker %d: out of memory", i);
            return GW_ERROR;
        }
        if (sip_worker_open(w) != 0)
            return GW_ERROR;
        w->state = SIP_W_ACTIVE;
        sip_nslots = i + 1;
    }
    sip_nactive = sip_nslots;
    sip_steered = sip_bpf_steer(sip_nslots) == 0;
    if (!sip_steered)
        GW_WARN(SIP_LOG, "SO_ATTACH_REUSEPORT_CBPF: %s; the kernel spreads datagrams and "
                "the pool keeps its %d workers", strerror(errno), sip_nslots);
    if (sip_conf.tcp) {
        sip_worker_t *w = sip_workers[0];
        w->listener = evconnlistener_new_bind(
            w->base, sip_tcp_on_accept, w,
            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
            (struct sockaddr *)&sip_listen_sa, sizeof(sip_listen_sa));
        if (!w->listener) {
            GW_ERR(SIP_LOG, "tcp %s:%d: %s", sip_conf.listen, sip_conf.port, strerror(errno));
            return GW_ERROR;
        }
    }
    GW_INFO(SIP_LOG, "listening on %s:%d (udp x%d%s)", sip_conf.listen, sip_conf.port,
            sip_nslots, sip_conf.tcp ? ", tcp" : "");
    return 0;
}

/* Start one thread per worker.  Main thread.  0 or GW_ERROR. */
int sip_workers_start(void)
{
    int rc = 0;

    pthread_mutex_lock(&sip_pool_lock); /* the MI's snapshot reads started, gen */
    for (int i = 0; rc == 0 && i < sip_nslots; i++)
        rc = sip_worker_launch(sip_workers[i]);
    pthread_mutex_unlock(&sip_pool_lock);
    return rc;
}

/* Stop: a STOP item queued behind everything already queued (so replies
 * queued before it still go out), then join.  Main thread. */
void sip_workers_stop(void)
{
    for (int i = 0; i < SIP_MAX_WORKERS; i++) {
        sip_worker_t *w = sip_workers[i];
        sip_item_t *it;
        if (!w || !w->started || __atomic_load_n(&w->exited, __ATOMIC_ACQUIRE))
            continue;
        it = calloc(1, sizeof(*it));
        if (it)
            it->kind = SIP_ITEM_STOP;
        if (!it || sip_worker_push(w, it) != 0) {
            sip_item_free(it);
            event_base_loopbreak(w->base); /* best effort without memory */
        }
    }
    for (int i = 0; i < SIP_MAX_WORKERS; i++) {
        sip_worker_t *w = sip_workers[i];
        if (!w || !w->started)
            continue;
        pthread_join(w->thread, NULL);
        pthread_mutex_lock(&sip_pool_lock);
        w->started = 0;
        pthread_mutex_unlock(&sip_pool_lock);
    }
}

/* Free w and everything it holds, and empty its slot (its thread joined,
 * or never started).  Main thread. */
static void sip_worker_free(sip_worker_t *w)
{
    w->lingering = 0;
    while (w->conns)
        sip_tcp_close(w, w->conns);
    if (w->linger_ev)
        event_free(w->linger_ev);
    if (w->listener)
        evconnlistener_free(w->listener);
    sip_uac_free(w->uac);
    if (w->queue)
        gw_queue_free(w->queue);
    if (w->udp_ev)
        event_free(w->udp_ev);
    if (w->tick_ev)
        event_free(w->tick_ev);
    if (w->udp_fd >= 0)
        close(w->udp_fd);
    if (w->base)
        event_base_free(w->base);
    __atomic_store_n(&sip_workers[w->idx], NULL, __ATOMIC_RELEASE);
    free(w->rxbuf);
    free(w);
}

/* Free every worker (threads must be joined).  Main thread. */
void sip_workers_destroy(void)
{
    for (int i = 0; i < SIP_MAX_WORKERS; i++)
        if (sip_workers[i])
            sip_worker_free(sip_workers[i]);
    sip_nslots = sip_nactive = 0;
    sip_steered = 0;
    sip_txns_free();
}

/* ---- growing and retiring (the scaler, main thread) ---- */

/* See sip.h.  Main thread. */
int sip_pool_grow(void)
{
    sip_worker_t *w;
    int a, rc;

    if (!sip_steered)
        return GW_EDECLINED;
    pthread_mutex_lock(&sip_pool_lock);
    a = sip_nactive;
    if (a >= SIP_MAX_WORKERS) {
        rc = GW_EFULL;
        goto out_unlock;
    }
    w = sip_workers[a];
    if (a < sip_nslots && w->state == SIP_W_STOPPING) {
        rc = GW_EAGAIN; /* its socket is on its way out of the group */
        goto out_unlock;
    }
    if (a == sip_nslots) { /* a new socket at the group's next index */
        if (!w && !(w = sip_worker_alloc(a))) {
            GW_ERR(SIP_LOG, "worker %d: out of memory", a);
            rc = GW_ERROR;
            goto out_unlock;
        }
        if (sip_worker_open(w) != 0) {
            rc = GW_ERROR;
            goto out_unlock;
        }
        if (sip_worker_launch(w) != 0) {
            event_del(w->udp_ev);
            close(w->udp_fd); /* the top index: nothing moves */
            w->udp_fd = -1;
            rc = GW_ERROR;
            goto out_unlock;
        }
        sip_nslots = a + 1;
    }
    /* a new worker, or the top retiring one taken back */
    __atomic_store_n(&w->state, SIP_W_ACTIVE, __ATOMIC_RELEASE);
    if (sip_bpf_steer(a + 1) != 0) {
        GW_ERR(SIP_LOG, "worker %d: cannot steer to it: %s; it retires", a, strerror(errno));
        w->retired_ms = sip_mono_ms();
        __atomic_store_n(&w->drained, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&w->state, SIP_W_RETIRING, __ATOMIC_RELEASE);
        rc = GW_ERROR;
        goto out_unlock;
    }
    __atomic_store_n(&sip_nactive, a + 1, __ATOMIC_RELEASE);
    rc = a + 1;
out_unlock:
    pthread_mutex_unlock(&sip_pool_lock);
    return rc;
}

/* See sip.h.  Main thread. */
int sip_pool_shrink(void)
{
    sip_worker_t *w;
    int a, rc;

    pthread_mutex_lock(&sip_pool_lock);
    a = sip_nactive;
    if (!sip_steered || a <= 1) {
        rc = GW_EINVAL;
        goto out_unlock;
    }
    if (sip_bpf_steer(a - 1) != 0) { /* first: it gets no new datagram */
        GW_ERR(SIP_LOG, "cannot steer around worker %d: %s", a - 1, strerror(errno));
        rc = GW_ERROR;
        goto out_unlock;
    }
    w = sip_workers[a - 1];
    w->retired_ms = sip_mono_ms();
    __atomic_store_n(&w->drained, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&w->state, SIP_W_RETIRING, __ATOMIC_RELEASE);
    __atomic_store_n(&sip_nactive, a - 1, __ATOMIC_RELEASE);
    rc = a - 1;
out_unlock:
    pthread_mutex_unlock(&sip_pool_lock);
    return rc;
}

/* See sip.h.  Main thread. */
void sip_pool_reap(void)
{
    sip_worker_t *w = sip_nslots > 1 ? sip_workers[sip_nslots - 1] : NULL;
    int state = w ? __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) : SIP_W_OFF;

    if (state == SIP_W_RETIRING && __atomic_load_n(&w->drained, __ATOMIC_ACQUIRE)) {
        sip_item_t *it = calloc(1, sizeof(*it));
        if (!it)
            return; /* next cycle */
        it->kind = SIP_ITEM_RETIRE;
        pthread_mutex_lock(&sip_pool_lock);
        __atomic_store_n(&w->state, SIP_W_STOPPING, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&sip_pool_lock);
        if (sip_worker_push(w, it) != 0) {
            sip_item_free(it);
            __atomic_store_n(&w->state, SIP_W_RETIRING, __ATOMIC_RELEASE);
        }
    } else if (state == SIP_W_STOPPING && __atomic_load_n(&w->exited, __ATOMIC_ACQUIRE)) {
        pthread_join(w->thread, NULL);
        pthread_mutex_lock(&sip_pool_lock);
        w->started = 0;
        __atomic_store_n(&w->state, SIP_W_OFF, __ATOMIC_RELEASE);
        sip_nslots--;
        pthread_mutex_unlock(&sip_pool_lock);
        GW_DEBUG(SIP_LOG, "worker %d stopped", w->idx);
    }
}

/* See sip.h.  Any thread (the MI, the scaler). */
int sip_pool_snapshot(sip_wsnap_t *out, int max)
{
    int n = 0;

    pthread_mutex_lock(&sip_pool_lock);
    for (int i = 0; i < sip_nslots && n < max; i++) {
        sip_worker_t *w = sip_workers[i];
        struct timespec ts;
        sip_wsnap_t *o = &out[n++];
        o->idx = i;
        o->state = (sip_wstate_t)__atomic_load_n(&w->state, __ATOMIC_ACQUIRE);
        o->gen = w->gen;
        o->cpu_ns = -1;
        if (w->started && !__atomic_load_n(&w->exited, __ATOMIC_ACQUIRE) &&
            w->cpu_clock != (clockid_t)-1 && clock_gettime(w->cpu_clock, &ts) == 0)
            o->cpu_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        o->pending = __atomic_load_n(&w->pending, __ATOMIC_RELAXED);
        o->rx = __atomic_load_n(&w->rx, __ATOMIC_RELAXED);
        o->uac = (int)sip_uac_count(w->uac);
        o->queued = gw_queue_len(w->queue);
    }
    pthread_mutex_unlock(&sip_pool_lock);
    return n;
}
