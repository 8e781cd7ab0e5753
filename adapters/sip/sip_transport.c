/*
 * sip_transport.c - SIP worker threads, sockets and the TCP connection table.
 *
 * N workers (sip.workers, 0 = one per core).  Each owns a libevent
 * event_base, a UDP socket bound with SO_REUSEPORT to sip.listen:sip.port
 * (the kernel spreads datagrams across the sockets by their 4-tuple, so a
 * peer sticks to one worker), a server transaction table, the client
 * transactions it started, and a gw_queue_t through which other threads
 * hand it work (store outcomes for its pending MESSAGEs, envelopes to
 * send, responses to its client transactions that another worker read).
 *
 * TCP: worker 0 also runs the listener (when sip.tcp) and every TCP
 * connection.  Streams are framed by Content-Length; a connection is
 * known by a 64-bit id that never repeats, so a late reply for a closed
 * connection finds nothing and is dropped instead of reaching a newcomer.
 * At stop, worker 0 lingers (sip_tcp_linger, at most SIP_TCP_LINGER_MS) so
 * that the answers already written reach the peers before the sockets
 * close.
 *
 * Tracing: every datagram and framed TCP message in, and every packet out,
 * is offered to the trace bus (sip_trace_packet) when a trace is active:
 * the first line as summary and the Call-ID found by a scan of the header
 * bytes, with no parse.
 *
 * Threads: sip_workers_init / start / stop / destroy run on the main
 * thread; everything else in this file runs on the owning worker's thread,
 * except sip_worker_push (any thread).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_trace.h"
#include "sip.h"

#define SIP_UDP_BATCH 64         /* datagrams read per wakeup */
#define SIP_TCP_MAX_CONNS 1024
#define SIP_TCP_IDLE_S 600
#define SIP_TCP_LINGER_MS 1000   /* longest wait at stop for TCP answers to drain */

typedef struct sip_tcp {
    uint64_t id;
    struct bufferevent *bev;
    sip_peer_t peer;
    struct sip_tcp *next;
} sip_tcp_t;

struct sip_worker {
    int idx;
    pthread_t thread;
    int started;
    struct event_base *base;
    int udp_fd;
    struct event *udp_ev;
    gw_queue_t *queue;
    sip_txn_table_t *txns;
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

static sip_worker_t *sip_workers[SIP_MAX_WORKERS];
static int sip_nworkers;

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
    free(it);
}

int sip_worker_count(void) { return sip_nworkers; }
sip_worker_t *sip_worker_get(int idx) { return idx >= 0 && idx < sip_nworkers ? sip_workers[idx] : NULL; }
int sip_worker_index(const sip_worker_t *w) { return w->idx; }
struct event_base *sip_worker_base(sip_worker_t *w) { return w->base; }
sip_txn_table_t *sip_worker_txns(sip_worker_t *w) { return w->txns; }
sip_uac_t *sip_worker_uac(sip_worker_t *w) { return w->uac; }

/* See sip.h.  Any thread. */
int sip_worker_push(sip_worker_t *w, sip_item_t *item)
{
    item->worker = w;
    return gw_queue_push(w->queue, item);
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
        ssize_t n = sendto(w->udp_fd, buf, len, 0, (const struct sockaddr *)&peer->addr,
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

static void sip_worker_on_item(void *item, void *arg)
{
    sip_worker_t *w = arg;
    sip_item_t *it = item;

    switch (it->kind) {
    case SIP_ITEM_REPLY:
        sip_uas_reply(w, it);
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
    }
    sip_item_free(it);
}

static void sip_udp_on_read(evutil_socket_t fd, short what, void *arg)
{
    sip_worker_t *w = arg;
    (void)what;

    for (int i = 0; i < SIP_UDP_BATCH; i++) {
        sip_peer_t peer = {.conn_id = 0};
        socklen_t alen = sizeof(peer.addr);
        ssize_t n = recvfrom(fd, w->rxbuf, (size_t)sip_conf.max_message + 1, MSG_DONTWAIT,
                             (struct sockaddr *)&peer.addr, &alen);
        if (n < 0)
            break;
        if (n == 0 || n > sip_conf.max_message) {
            gw_stat_add(sip_stats.drops, 1); /* empty or truncated */
            continue;
        }
        w->rxbuf[n] = '\0';
        if (gw_trace_on()) sip_trace_packet(GW_TRACE_IN, &peer, w->rxbuf, (size_t)n);
        sip_uas_input(w, w->rxbuf, (size_t)n, &peer);
    }
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

static sip_worker_t *sip_worker_new(int idx, const struct sockaddr_in *sa)
{
    sip_worker_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->idx = idx;
    w->udp_fd = -1;
    sip_workers[idx] = w; /* from here sip_workers_destroy frees it */
    w->base = event_base_new();
    w->rxbuf = malloc((size_t)sip_conf.max_message + 1);
    w->txns = sip_txn_table_new(SIP_TXN_CAP);
    w->queue = gw_queue_new(0, sip_item_free);
    if (!w->base || !w->rxbuf || !w->txns || !w->queue)
        return NULL;
    if (gw_queue_attach(w->queue, w->base, sip_worker_on_item, w) != 0)
        return NULL;
    w->uac = sip_uac_new(w);
    if (!w->uac)
        return NULL;
    w->udp_fd = sip_udp_open(sa);
    if (w->udp_fd < 0) {
        GW_ERR(SIP_LOG, "udp %s:%d: %s", sip_conf.listen, sip_conf.port, strerror(errno));
        return NULL;
    }
    w->udp_ev = event_new(w->base, w->udp_fd, EV_READ | EV_PERSIST, sip_udp_on_read, w);
    if (!w->udp_ev || event_add(w->udp_ev, NULL) != 0)
        return NULL;
    return w;
}

/* Create the workers and bind their sockets.  Main thread, adapter init.
 * Returns 0 or GW_ERROR (logged); sip_workers_destroy frees a partial
 * set. */
int sip_workers_init(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    long n = sip_conf.workers;

    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0)
        n = 1;
    if (n > SIP_MAX_WORKERS)
        n = SIP_MAX_WORKERS;
    sa.sin_port = htons((uint16_t)sip_conf.port);
    if (inet_pton(AF_INET, sip_conf.listen, &sa.sin_addr) != 1) {
        GW_ERR(SIP_LOG, "sip.listen '%s' is not an IPv4 address", sip_conf.listen);
        return GW_ERROR;
    }
    for (int i = 0; i < n; i++) {
        sip_nworkers = i + 1;
        if (!sip_worker_new(i, &sa))
            return GW_ERROR;
    }
    if (sip_conf.tcp) {
        sip_worker_t *w = sip_workers[0];
        w->listener = evconnlistener_new_bind(
            w->base, sip_tcp_on_accept, w,
            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
            (struct sockaddr *)&sa, sizeof(sa));
        if (!w->listener) {
            GW_ERR(SIP_LOG, "tcp %s:%d: %s", sip_conf.listen, sip_conf.port, strerror(errno));
            return GW_ERROR;
        }
    }
    GW_INFO(SIP_LOG, "listening on %s:%d (udp x%d%s)", sip_conf.listen, sip_conf.port,
            sip_nworkers, sip_conf.tcp ? ", tcp" : "");
    return 0;
}

static void *sip_worker_main(void *arg)
{
    sip_worker_t *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

/* Start one thread per worker.  Main thread.  0 or GW_ERROR. */
int sip_workers_start(void)
{
    for (int i = 0; i < sip_nworkers; i++) {
        sip_worker_t *w = sip_workers[i];
        if (pthread_create(&w->thread, NULL, sip_worker_main, w) != 0) {
            GW_ERR(SIP_LOG, "cannot start worker %d", i);
            return GW_ERROR;
        }
        {
            char name[16];
            snprintf(name, sizeof name, "sip-%d", i);
            pthread_setname_np(w->thread, name);
        }
        w->started = 1;
    }
    return 0;
}

/* Stop: a STOP item queued behind everything already queued (so replies
 * queued before it still go out), then join.  Main thread. */
void sip_workers_stop(void)
{
    for (int i = 0; i < sip_nworkers; i++) {
        sip_worker_t *w = sip_workers[i];
        sip_item_t *it;
        if (!w->started)
            continue;
        it = calloc(1, sizeof(*it));
        if (it)
            it->kind = SIP_ITEM_STOP;
        if (!it || sip_worker_push(w, it) != 0) {
            sip_item_free(it);
            event_base_loopbreak(w->base); /* best effort without memory */
        }
    }
    for (int i = 0; i < sip_nworkers; i++) {
        sip_worker_t *w = sip_workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        w->started = 0;
    }
}

/* Free every worker (threads must be joined).  Main thread. */
void sip_workers_destroy(void)
{
    for (int i = 0; i < sip_nworkers; i++) {
        sip_worker_t *w = sip_workers[i];
        if (!w)
            continue;
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
        if (w->udp_fd >= 0)
            close(w->udp_fd);
        sip_txn_table_free(w->txns);
        if (w->base)
            event_base_free(w->base);
        free(w->rxbuf);
        free(w);
        sip_workers[i] = NULL;
    }
    sip_nworkers = 0;
}
