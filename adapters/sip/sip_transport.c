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
 * Two address families.  sip.listen (IPv4 or IPv6) and sip.listen6 (a
 * second, IPv6 address, "" for none) each have their own SO_REUSEPORT
 * group: every worker binds one UDP socket per address, at the same index
 * in each group, and each group has its steering program (the IPv6 one
 * reads the source address and port at their IPv6 offsets).  A send goes
 * out of the worker's socket of the destination's family.
 *
 * Transports.  One const ops table per transport (sip_udp_ops here,
 * sip_tcp_ops and sip_tls_ops in sip_tcp.c): sip_worker_send picks it by
 * the peer's proto, so the rest of the adapter sends to a peer without
 * knowing how it is reached.  TCP and TLS (sip_tcp.c, sip_tls.c): the
 * listeners on worker 0 and the connections spread over every worker.
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
#include "sip_steer.h"
#include "sip_tsx.h"
#include "sip_proxy.h"

#define SIP_UDP_BATCH 64         /* datagrams read per wakeup */
#define SIP_UDP_MMSG 8           /* datagrams per recvmmsg */
#define SIP_UDP_TXQ 16           /* datagrams held for one sendmmsg */
#define SIP_UDP_TXBYTES 65536    /* their bytes */
#define SIP_NFAM 2               /* sockets per worker: sip.listen, sip.listen6 */
#define SIP_TICK_MS 100          /* a retiring worker checks whether it is drained */
/* A retiring worker reads its socket at least this long after the BPF
 * program stopped sending to it: a datagram the kernel steered with the
 * old program just before the swap is in its queue by then. */
#define SIP_RETIRE_QUIET_MS 500
#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

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
    /* one socket per listening address (sip_listen_sa); -1 once closed
     * (retired): sends go through worker 0's */
    int udp_fd[SIP_NFAM];
    struct event *udp_ev[SIP_NFAM];
    struct event *tick_ev;     /* SIP_TICK_MS while retiring or stopping */
    gw_queue_t *queue;
    sip_uac_t *uac;
    /* SIP_UDP_MMSG receive buffers of rxcap bytes each (sip.max_message
     * + 1 when the worker was made), one recvmmsg fills them */
    char *rxbuf;
    size_t rxcap;
    /* UDP datagrams held by sip_worker_send_soon while a read batch is
     * handled: destination, socket, where in txbuf */
    struct {
        int fd;
        sip_sa_t addr;
        uint32_t off, len;
    } txq[SIP_UDP_TXQ];
    int ntx;
    uint32_t txused;
    char txbuf[SIP_UDP_TXBYTES];
};

/* The worker whose read batch this thread handles now (its sends may be
 * held), NULL outside one. */
static __thread sip_worker_t *sip_udp_holding;

/* Slots: written by the main thread (release), read by any (acquire).
 * sip_nslots: slots with an open socket, main thread only.  sip_nactive:
 * written under sip_pool_lock, read atomically. */
static sip_worker_t *sip_workers[SIP_MAX_WORKERS];
static int sip_nslots;
static int sip_nactive;
static int sip_steered;     /* our BPF program is attached (main thread) */
/* The active count before the last change and when it changed (atomic,
 * written under sip_pool_lock): sip_pool_prev_owner. */
static int sip_steer_prev_n;
static int64_t sip_steer_changed_ms;
static unsigned sip_rr;     /* under sip_pool_lock: round robin of SENDs */
static pthread_mutex_t sip_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static sip_sa_t sip_listen_sa[SIP_NFAM]; /* sip.listen, sip.listen6 */
static int sip_nfam;                      /* how many of them (1 or 2) */
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
void sip_trace_packet(gw_trace_dir_t dir, const sip_peer_t *peer, const char *buf, size_t len)
{
    char call_id[128], line[256], where[SIP_ADDR_MAX + 8];
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
    sip_sa_str(&peer->addr, where, sizeof where); /* "ip:port": the trace's peer filter, HEP */
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

/* The socket slot of w for family fam: the listening address of that
 * family, -1 when we have none. */
static int sip_fam_slot(int fam)
{
    for (int i = 0; i < sip_nfam; i++)
        if (sip_listen_sa[i].sa.sa_family == fam)
            return i;
    return -1;
}

/* UDP: sendto on w's socket of the peer's family.  Worker thread. */
static int sip_udp_send(sip_worker_t *w, const sip_peer_t *peer, const char *buf, size_t len)
{
    int slot = sip_fam_slot(peer->addr.sa.sa_family);
    char where[SIP_ADDR_MAX];
    int fd;
    ssize_t n;

    if (slot < 0) {
        GW_DEBUG(SIP_LOG, "no socket of %s's family", sip_sa_str(&peer->addr, where, sizeof where));
        return GW_ERROR;
    }
    /* a retired worker's socket is closed: every socket of the group has
     * the same address, so worker 0's sends the same packet */
    fd = w->udp_fd[slot] >= 0 ? w->udp_fd[slot] : sip_workers[0]->udp_fd[slot];
    n = sendto(fd, buf, len, 0, &peer->addr.sa, sip_sa_len(&peer->addr));
    if (n < 0) {
        GW_WARN(SIP_LOG, "sendto %s: %s", sip_sa_str(&peer->addr, where, sizeof where),
                strerror(errno));
        return GW_ERROR;
    }
    return 0;
}

static const sip_transport_ops_t sip_udp_ops = {
    .name = "udp", .proto = SIP_PROTO_UDP, .reliable = 0, .send = sip_udp_send,
};

/* See sip.h. */
const sip_transport_ops_t *sip_transport_ops(int proto)
{
    return proto == SIP_PROTO_TCP ? &sip_tcp_ops
           : proto == SIP_PROTO_TLS ? &sip_tls_ops
           : proto == SIP_PROTO_UDP ? &sip_udp_ops
                                    : NULL;
}

/* See sip.h.  Any thread. */
int sip_listen_port(int proto)
{
    return proto == SIP_PROTO_TLS && sip_conf.tls_port ? sip_conf.tls_port : sip_conf.port;
}

/* Send what w holds: sendmmsg per run of one socket; a datagram the
 * kernel refuses is logged and skipped, the rest go.  Worker thread. */
static void sip_udp_flush(sip_worker_t *w)
{
    struct mmsghdr mm[SIP_UDP_TXQ];
    struct iovec iov[SIP_UDP_TXQ];
    int i = 0;

    for (int k = 0; k < w->ntx; k++) {
        iov[k].iov_base = w->txbuf + w->txq[k].off;
        iov[k].iov_len = w->txq[k].len;
        mm[k].msg_hdr = (struct msghdr){.msg_name = &w->txq[k].addr.sa,
                                        .msg_namelen = sip_sa_len(&w->txq[k].addr),
                                        .msg_iov = &iov[k], .msg_iovlen = 1};
    }
    while (i < w->ntx) {
        int j = i, r;
        while (j < w->ntx && w->txq[j].fd == w->txq[i].fd)
            j++;
        r = sendmmsg(w->txq[i].fd, mm + i, (unsigned)(j - i), 0);
        if (r < 0) {
            char where[SIP_ADDR_MAX];
            GW_WARN(SIP_LOG, "sendto %s: %s", sip_sa_str(&w->txq[i].addr, where, sizeof where),
                    strerror(errno));
            r = 1; /* that one is lost: the next */
        }
        i += r;
    }
    w->ntx = 0;
    w->txused = 0;
}

/* See sip.h.  Worker thread. */
int sip_worker_send_soon(sip_worker_t *w, const sip_peer_t *peer, const char *buf, size_t len)
{
    int slot, fd;

    if (sip_udp_holding != w || peer->proto != SIP_PROTO_UDP || len > SIP_UDP_TXBYTES ||
        (slot = sip_fam_slot(peer->addr.sa.sa_family)) < 0)
        return sip_worker_send(w, peer, buf, len);
    fd = w->udp_fd[slot] >= 0 ? w->udp_fd[slot] : sip_workers[0]->udp_fd[slot];
    if (w->ntx == SIP_UDP_TXQ || w->txused + len > SIP_UDP_TXBYTES)
        sip_udp_flush(w);
    if (gw_trace_on()) sip_trace_packet(GW_TRACE_OUT, peer, buf, len);
    w->txq[w->ntx].fd = fd;
    w->txq[w->ntx].addr = peer->addr;
    w->txq[w->ntx].off = w->txused;
    w->txq[w->ntx].len = (uint32_t)len;
    memcpy(w->txbuf + w->txused, buf, len);
    w->txused += (uint32_t)len;
    w->ntx++;
    return 0;
}

/* See sip.h.  Worker thread. */
int sip_worker_send(sip_worker_t *w, const sip_peer_t *peer, const char *buf, size_t len)
{
    const sip_transport_ops_t *ops = sip_transport_ops(peer->proto);

    if (gw_trace_on()) sip_trace_packet(GW_TRACE_OUT, peer, buf, len);
    return ops ? ops->send(w, peer, buf, len) : GW_EDECLINED;
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

/* One datagram of n bytes (read into a buffer of room n + 1 or more)
 * from peer: counted, traced, handed to sip_uas_input; one longer than
 * max (truncated by the kernel) is refused 413 when its head has a Via. */
static void sip_udp_datagram(sip_worker_t *w, char *buf, size_t n, int truncated, size_t max,
                             const sip_peer_t *peer)
{
    if (n == 0) {
        gw_stat_add(sip_stats.drops, 1);
        return;
    }
    if (truncated || n > max) {
        buf[max] = '\0';
        sip_uas_oversized(w, buf, max, peer);
        return;
    }
    buf[n] = '\0';
    if (gw_trace_on()) sip_trace_packet(GW_TRACE_IN, peer, buf, n);
    sip_uas_input(w, buf, n, peer);
}

/* Read up to max datagrams from w's socket of slot and handle each, up to
 * SIP_UDP_MMSG a recvmmsg; returns how many were read (fewer: the socket
 * is empty; a recvmmsg that brings fewer than it asked for says so, so an
 * idle socket costs no extra EAGAIN read). */
static int sip_udp_read(sip_worker_t *w, int slot, int max)
{
    struct mmsghdr mm[SIP_UDP_MMSG];
    struct iovec iov[SIP_UDP_MMSG];
    sip_peer_t peer[SIP_UDP_MMSG];
    size_t lim = (size_t)sip_conf.max_message;
    int i = 0;

    if (lim + 1 > w->rxcap) /* sip.max_message raised since: this worker's room */
        lim = w->rxcap - 1;
    while (i < max) {
        int want = max - i < SIP_UDP_MMSG ? max - i : SIP_UDP_MMSG, got;
        for (int k = 0; k < want; k++) {
            peer[k] = (sip_peer_t){.conn_id = 0, .proto = SIP_PROTO_UDP};
            iov[k].iov_base = w->rxbuf + (size_t)k * w->rxcap;
            iov[k].iov_len = lim + 1; /* one more: a longer one shows as longer */
            mm[k].msg_hdr = (struct msghdr){.msg_name = &peer[k].addr.sa,
                                            .msg_namelen = sizeof(peer[k].addr),
                                            .msg_iov = &iov[k], .msg_iovlen = 1};
            mm[k].msg_len = 0;
        }
        got = recvmmsg(w->udp_fd[slot], mm, (unsigned)want, MSG_DONTWAIT, NULL);
        if (got <= 0)
            break;
        sip_udp_holding = w; /* their forwards and answers leave together */
        for (int k = 0; k < got; k++)
            sip_udp_datagram(w, iov[k].iov_base, mm[k].msg_len,
                             (mm[k].msg_hdr.msg_flags & MSG_TRUNC) != 0, lim, &peer[k]);
        sip_udp_holding = NULL;
        if (w->ntx > 0)
            sip_udp_flush(w);
        i += got;
        if (got < want)
            break;
    }
    if (i > 0)
        __atomic_add_fetch(&w->rx, i, __ATOMIC_RELAXED);
    return i;
}

static void sip_udp_on_read(evutil_socket_t fd, short what, void *arg)
{
    sip_worker_t *w = arg;
    (void)what;
    sip_udp_read(w, fd == w->udp_fd[0] ? 0 : 1, SIP_UDP_BATCH);
}

static int sip_worker_closed(const sip_worker_t *w)
{
    for (int i = 0; i < sip_nfam; i++)
        if (w->udp_fd[i] >= 0)
            return 0;
    return 1;
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
    else if (state == SIP_W_STOPPING && sip_worker_closed(w) && sip_worker_idle(w))
        event_base_loopbreak(w->base);
}

/* RETIRE: the scaler found w drained and on top.  Read the sockets dry,
 * close them (each kernel group loses its last index: nothing moves),
 * close its TCP connections (their peers reconnect: the choice of
 * sip_tcp.c), then end once what that read brought is done.  Worker
 * thread. */
static void sip_worker_retire(sip_worker_t *w)
{
    for (int i = 0; i < sip_nfam; i++) {
        int n = 0;
        event_del(w->udp_ev[i]);
        while (sip_udp_read(w, i, SIP_UDP_BATCH) == SIP_UDP_BATCH && ++n < 1000)
            ;
        close(w->udp_fd[i]);
        w->udp_fd[i] = -1;
    }
    sip_tcp_close_all(w, "its worker retired");
    sip_worker_on_tick(-1, 0, w); /* ends now when nothing is left */
}

static int sip_udp_open(const sip_sa_t *sa)
{
    int one = 1;
    int fd = socket(sa->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* an IPv6 socket takes IPv6 only: "::" and "0.0.0.0" may both be bound */
    if ((sa->sa.sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, &sa->sa, sip_sa_len(sa)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    /* room for bursts while the worker is off the CPU (the kernel caps it
     * at net.core.rmem_max; a refusal leaves its default, not an error) */
    if (sip_conf.udp_rcvbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sip_conf.udp_rcvbuf, sizeof(int));
    return fd;
}

/* Steer the group's datagrams to slots 0..n-1: the classic BPF program
 * of sip_steer.c (a response to its client transaction's worker, the rest
 * by a hash of the source address and port).  Replacing the program is
 * atomic for the kernel: a datagram is steered by the old or by the new
 * one.  One program per group (an IPv6 header has other offsets).  Main
 * thread.  0 or GW_ERROR (errno set). */
static int sip_bpf_steer_slot(int slot, int n)
{
    static struct sock_filter code[SIP_STEER_MAX];
    struct sock_fprog prog = {.filter = code};
    int len;

    if (n < 1 || !sip_workers[0] || sip_workers[0]->udp_fd[slot] < 0)
        return GW_ERROR;
    len = sip_steer_program(code, n, sip_listen_sa[slot].sa.sa_family == AF_INET6);
    if (len < 0)
        return GW_ERROR;
    prog.len = (unsigned short)len;
    if (setsockopt(sip_workers[0]->udp_fd[slot], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
                   sizeof(prog)) != 0)
        return GW_ERROR;
    return 0;
}

/* The slot the steering program's hash picks for a datagram from sa
 * among n (its arithmetic: 32-bit, the address word and port in host
 * order as the program loads them). */
static int sip_steer_hash(const sip_sa_t *sa, int n)
{
    uint32_t a;

    if (n < 1)
        return -1;
    if (sa->sa.sa_family == AF_INET6) {
        const uint8_t *b = sa->in6.sin6_addr.s6_addr + 12;
        a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        a ^= ntohs(sa->in6.sin6_port);
    } else {
        a = ntohl(sa->in.sin_addr.s_addr) ^ ntohs(sa->in.sin_port);
    }
    return (int)(((uint32_t)(a * 0x9E3779B1u) >> 16) % (uint32_t)n);
}

/* See sip.h. */
int sip_worker_retiring(const sip_worker_t *w)
{
    return __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == SIP_W_RETIRING;
}

/* See sip.h. */
int sip_pool_owner(const sip_sa_t *sa)
{
    return sip_steer_hash(sa, __atomic_load_n(&sip_nactive, __ATOMIC_ACQUIRE));
}

/* See sip.h. */
int sip_pool_prev_owner(const sip_sa_t *sa)
{
    int64_t at = __atomic_load_n(&sip_steer_changed_ms, __ATOMIC_ACQUIRE);
    int idx, state;
    sip_worker_t *w;

    if (at == 0 || sip_mono_ms() - at > 64 * (int64_t)sip_tsx_t1())
        return -1;
    idx = sip_steer_hash(sa, __atomic_load_n(&sip_steer_prev_n, __ATOMIC_ACQUIRE));
    w = sip_worker_get(idx);
    state = w ? __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) : SIP_W_OFF;
    return state == SIP_W_ACTIVE || state == SIP_W_RETIRING ? idx : -1;
}

/* The pool goes from `from` active workers to another count: remembered
 * for sip_pool_prev_owner.  Under sip_pool_lock. */
static void sip_steer_note(int from)
{
    __atomic_store_n(&sip_steer_prev_n, from, __ATOMIC_RELEASE);
    __atomic_store_n(&sip_steer_changed_ms, sip_mono_ms(), __ATOMIC_RELEASE);
}

/* Every group steered to slots 0..n-1: 0 or GW_ERROR. */
static int sip_bpf_steer(int n)
{
    int rc = 0;

    for (int i = 0; rc == 0 && i < sip_nfam; i++)
        rc = sip_bpf_steer_slot(i, n);
    return rc;
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
    for (int i = 0; i < SIP_NFAM; i++)
        w->udp_fd[i] = -1;
    w->base = event_base_new();
    w->rxcap = (size_t)sip_conf.max_message + 1;
    w->rxbuf = malloc(w->rxcap * SIP_UDP_MMSG);
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
    for (int i = 0; i < sip_nfam; i++) {
        char where[SIP_ADDR_MAX];
        if (w->udp_ev[i]) {
            event_free(w->udp_ev[i]);
            w->udp_ev[i] = NULL;
        }
        w->udp_fd[i] = sip_udp_open(&sip_listen_sa[i]);
        if (w->udp_fd[i] < 0) {
            GW_ERR(SIP_LOG, "udp %s: %s", sip_sa_str(&sip_listen_sa[i], where, sizeof where),
                   strerror(errno));
            return GW_ERROR;
        }
        w->udp_ev[i] = event_new(w->base, w->udp_fd[i], EV_READ | EV_PERSIST, sip_udp_on_read, w);
        if (!w->udp_ev[i] || event_add(w->udp_ev[i], NULL) != 0) {
            GW_ERR(SIP_LOG, "worker %d: cannot watch its socket", w->idx);
            return GW_ERROR;
        }
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
    sip_nfam = 1;
    if (sip_sa_from_host(sip_conf.listen, strlen(sip_conf.listen), sip_conf.port,
                         &sip_listen_sa[0]) != 0) {
        GW_ERR(SIP_LOG, "sip.listen '%s' is not an IPv4 or IPv6 address", sip_conf.listen);
        return GW_ERROR;
    }
    if (sip_conf.listen6[0] != '\0') {
        if (sip_sa_from_host(sip_conf.listen6, strlen(sip_conf.listen6), sip_conf.port,
                             &sip_listen_sa[1]) != 0 ||
            sip_listen_sa[1].sa.sa_family != AF_INET6 ||
            sip_listen_sa[0].sa.sa_family == AF_INET6) {
            GW_ERR(SIP_LOG, "sip.listen6 '%s': an IPv6 address beside an IPv4 sip.listen",
                   sip_conf.listen6);
            return GW_ERROR;
        }
        sip_nfam = 2;
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
    if (sip_tls_init() != 0)
        return GW_ERROR;
    {
        const sip_sa_t *addrs[SIP_NFAM] = {&sip_listen_sa[0], &sip_listen_sa[1]};
        if (sip_tcp_init(sip_workers[0], addrs, sip_nfam) != 0)
            return GW_ERROR;
    }
    GW_INFO(SIP_LOG, "listening on %s%s%s port %d (udp x%d%s)", sip_conf.listen,
            sip_nfam > 1 ? " and " : "", sip_nfam > 1 ? sip_conf.listen6 : "", sip_conf.port,
            sip_nslots, sip_conf.tcp ? ", tcp" : "");
    if (sip_tls_listening())
        GW_INFO(SIP_LOG, "tls on port %d", sip_conf.tls_port);
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
    sip_tcp_close_all(w, "stopping");
    if (w->idx == 0)
        sip_tcp_free(); /* the listeners, on worker 0's base */
    sip_uac_free(w->uac);
    if (w->queue)
        gw_queue_free(w->queue);
    for (int i = 0; i < SIP_NFAM; i++)
        if (w->udp_ev[i])
            event_free(w->udp_ev[i]);
    if (w->tick_ev)
        event_free(w->tick_ev);
    for (int i = 0; i < SIP_NFAM; i++)
        if (w->udp_fd[i] >= 0)
            close(w->udp_fd[i]);
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
    sip_tls_free();
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
            for (int i = 0; i < sip_nfam; i++) {
                event_del(w->udp_ev[i]);
                close(w->udp_fd[i]); /* the top index: nothing moves */
                w->udp_fd[i] = -1;
            }
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
    sip_steer_note(a);
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
    sip_steer_note(a);
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
