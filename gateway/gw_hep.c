/*
 * gw_hep.c - HEPv3 datagrams of trace records and the thread that sends
 * them (the format and the choices: gw_hep.h).
 *
 * gw_hep_offer runs inside gw_trace_record, under gw_trace_lock, on the
 * thread that offered the record (a SIP worker, the SMPP thread, the
 * core): it builds the datagram on the stack, copies it into one malloc'd
 * item and pushes it onto gw_hep_q, a bounded gw_queue_t, so the record's
 * sender pays for a copy and never for a system call.  The sender thread
 * pops items and sendto()s each from one unconnected UDP socket per
 * address family, opened on first use.  The thread is started by the
 * first datagram (gw_hep_once_lock) and stopped by gw_hep_stop.
 *
 * Threads: gw_hep_parse / gw_hep_build anywhere (pure); gw_hep_offer on
 * any recording thread; gw_hep_run on its own thread; gw_hep_stop on any
 * thread but that one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_errors.h"
#include "gw_hep.h"
#include "gw_log.h"
#include "gw_queue.h"
#include "gw_stats.h"

/* HEP3 chunk types (vendor 0) */
enum {
    GW_HEP_C_FAMILY = 1,
    GW_HEP_C_PROTO = 2,
    GW_HEP_C_SRC4 = 3,
    GW_HEP_C_DST4 = 4,
    GW_HEP_C_SRC6 = 5,
    GW_HEP_C_DST6 = 6,
    GW_HEP_C_SPORT = 7,
    GW_HEP_C_DPORT = 8,
    GW_HEP_C_TSEC = 9,
    GW_HEP_C_TUSEC = 10,
    GW_HEP_C_PTYPE = 11,
    GW_HEP_C_AGENT = 12,
    GW_HEP_C_PAYLOAD = 15,
    GW_HEP_C_CORR = 17,
};

#define GW_HEP_DGRAM_MAX (GW_HEP_PAYLOAD_MAX + 512)

/* One datagram waiting for the sender thread. */
typedef struct gw_hep_item {
    gw_hep_dest_t dest;
    size_t len;
    uint8_t data[]; /* len bytes */
} gw_hep_item_t;

static pthread_mutex_t gw_hep_once_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the next two */
static gw_queue_t *gw_hep_q;     /* NULL: the thread is not running */
static pthread_t gw_hep_thread;
static int gw_hep_quit;          /* atomic: set by gw_hep_stop */
static gw_stat_t *gw_hep_st_sent, *gw_hep_st_dropped, *gw_hep_st_errors;

int gw_hep_parse(const char *text, gw_hep_dest_t *d)
{
    char host[64];
    const char *p, *colon;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&d->addr;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&d->addr;
    char *end;
    long port;
    size_t n;

    memset(d, 0, sizeof(*d));
    if (text == NULL || strncmp(text, "udp:", 4) != 0)
        return GW_EINVAL;
    p = text + 4;
    if (*p == '[') {
        colon = strstr(p, "]:");
        if (colon == NULL)
            return GW_EINVAL;
        p++;
        n = (size_t)(colon - p);
        colon++;
    } else {
        colon = strrchr(p, ':');
        if (colon == NULL)
            return GW_EINVAL;
        n = (size_t)(colon - p);
    }
    if (n == 0 || n >= sizeof(host))
        return GW_EINVAL;
    memcpy(host, p, n);
    host[n] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || port < 1 || port > 65535)
        return GW_EINVAL;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        d->len = sizeof(*s4);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        d->len = sizeof(*s6);
    } else {
        return GW_EINVAL;
    }
    return GW_OK;
}

/* ---- building ------------------------------------------------------------ */

typedef struct gw_hep_buf {
    uint8_t *p;
    size_t len, cap;
    int full;
} gw_hep_buf_t;

static void gw_hep_chunk(gw_hep_buf_t *b, uint16_t type, const void *v, size_t n)
{
    uint16_t h[3] = { 0, htons(type), htons((uint16_t)(n + 6)) };

    if (b->full || n > 0xffff - 6 || b->len + 6 + n > b->cap) {
        b->full = 1;
        return;
    }
    memcpy(b->p + b->len, h, 6);
    if (n)
        memcpy(b->p + b->len + 6, v, n);
    b->len += 6 + n;
}

static void gw_hep_u8(gw_hep_buf_t *b, uint16_t type, uint8_t v)
{
    gw_hep_chunk(b, type, &v, 1);
}

static void gw_hep_u16(gw_hep_buf_t *b, uint16_t type, uint16_t v)
{
    v = htons(v);
    gw_hep_chunk(b, type, &v, 2);
}

static void gw_hep_u32(gw_hep_buf_t *b, uint16_t type, uint32_t v)
{
    v = htonl(v);
    gw_hep_chunk(b, type, &v, 4);
}

/* The far side of r: "ip:port" or "[ip6]:port" into *ss.  0 or -1. */
static int gw_hep_peer(const char *peer, struct sockaddr_storage *ss)
{
    char text[80];
    gw_hep_dest_t d;

    if (peer == NULL || *peer == '\0')
        return -1;
    /* an IPv6 peer may come without brackets: its last colon is the port's */
    if (peer[0] != '[' && strchr(peer, ':') != strrchr(peer, ':')) {
        const char *c = strrchr(peer, ':');
        snprintf(text, sizeof(text), "udp:[%.*s]%s", (int)(c - peer), peer, c);
    } else {
        snprintf(text, sizeof(text), "udp:%s", peer);
    }
    if (gw_hep_parse(text, &d) != 0)
        return -1;
    *ss = d.addr;
    return 0;
}

size_t gw_hep_build(const gw_trace_rec_t *r, int64_t time_us, uint8_t *buf, size_t cap)
{
    gw_hep_buf_t b = { buf, 6, cap, cap < 6 };
    struct sockaddr_storage far;
    struct sockaddr_in6 zero6 = { .sin6_family = AF_INET6 };
    struct sockaddr_in zero4 = { .sin_family = AF_INET };
    const void *src, *dst;
    uint16_t sport = 0, dport = 0, fport;
    const char *corr = NULL, *payload;
    size_t plen;
    int v6, ptype;

    memset(&far, 0, sizeof(far));
    far.ss_family = AF_INET;
    gw_hep_peer(r->peer, &far);
    v6 = far.ss_family == AF_INET6;
    fport = v6 ? ntohs(((struct sockaddr_in6 *)&far)->sin6_port)
               : ntohs(((struct sockaddr_in *)&far)->sin_port);
    /* in: the peer sent it to us; out and internal: from us to the peer */
    if (v6) {
        src = &zero6.sin6_addr;
        dst = &((struct sockaddr_in6 *)&far)->sin6_addr;
    } else {
        src = &zero4.sin_addr;
        dst = &((struct sockaddr_in *)&far)->sin_addr;
    }
    dport = fport;
    if (r->dir == GW_TRACE_IN) {
        const void *t = src;
        src = dst;
        dst = t;
        sport = fport;
        dport = 0;
    }
    if (r->kind == GW_TRACE_PACKET && r->raw_len) {
        ptype = GW_HEP_PROTO_SIP;
        payload = r->raw;
        plen = r->raw_len;
    } else if (r->kind == GW_TRACE_PDU && r->raw_len) {
        ptype = GW_HEP_PROTO_SMPP;
        payload = r->raw;
        plen = r->raw_len;
    } else {
        ptype = GW_HEP_PROTO_LOG;
        payload = r->summary ? r->summary : gw_trace_kind_name(r->kind);
        plen = strlen(payload);
    }
    if (plen > GW_HEP_PAYLOAD_MAX)
        plen = GW_HEP_PAYLOAD_MAX;
    if (r->call_id && *r->call_id)
        corr = r->call_id;
    else if (r->env_id && *r->env_id)
        corr = r->env_id;
    else if (r->smpp_msgid && *r->smpp_msgid)
        corr = r->smpp_msgid;

    gw_hep_u8(&b, GW_HEP_C_FAMILY, v6 ? 10 : 2);
    gw_hep_u8(&b, GW_HEP_C_PROTO, r->kind == GW_TRACE_PDU ? 6 : 17);
    gw_hep_chunk(&b, v6 ? GW_HEP_C_SRC6 : GW_HEP_C_SRC4, src, v6 ? 16 : 4);
    gw_hep_chunk(&b, v6 ? GW_HEP_C_DST6 : GW_HEP_C_DST4, dst, v6 ? 16 : 4);
    gw_hep_u16(&b, GW_HEP_C_SPORT, sport);
    gw_hep_u16(&b, GW_HEP_C_DPORT, dport);
    gw_hep_u32(&b, GW_HEP_C_TSEC, (uint32_t)(time_us / 1000000));
    gw_hep_u32(&b, GW_HEP_C_TUSEC, (uint32_t)(time_us % 1000000));
    gw_hep_u8(&b, GW_HEP_C_PTYPE, (uint8_t)ptype);
    gw_hep_u32(&b, GW_HEP_C_AGENT, GW_HEP_AGENT_ID);
    gw_hep_chunk(&b, GW_HEP_C_PAYLOAD, payload, plen);
    if (corr)
        gw_hep_chunk(&b, GW_HEP_C_CORR, corr, strlen(corr));
    if (b.full || b.len > 0xffff)
        return 0;
    memcpy(buf, "HEP3", 4);
    buf[4] = (uint8_t)(b.len >> 8);
    buf[5] = (uint8_t)b.len;
    return b.len;
}

/* ---- sending ------------------------------------------------------------- */

static void *gw_hep_run(void *arg)
{
    gw_queue_t *q = arg;
    gw_hep_item_t *it;
    int fd4 = -1, fd6 = -1, *fd;

    while (!__atomic_load_n(&gw_hep_quit, __ATOMIC_RELAXED) || gw_queue_len(q) > 0) {
        it = gw_queue_pop(q, 1000);
        if (it == NULL)
            continue;
        fd = it->dest.addr.ss_family == AF_INET6 ? &fd6 : &fd4;
        if (*fd < 0)
            *fd = socket(it->dest.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (*fd >= 0 && sendto(*fd, it->data, it->len, 0, (struct sockaddr *)&it->dest.addr,
                               it->dest.len) == (ssize_t)it->len) {
            gw_stat_add(gw_hep_st_sent, 1);
        } else {
            /* counted, not logged: a collector that is away would flood the log */
            gw_stat_add(gw_hep_st_errors, 1);
        }
        free(it);
    }
    if (fd4 >= 0)
        close(fd4);
    if (fd6 >= 0)
        close(fd6);
    return NULL;
}

void gw_hep_stats_init(void)
{
    gw_hep_st_sent = gw_stat("trace.hep_sent", "HEPv3 datagrams sent to collectors");
    gw_hep_st_dropped =
        gw_stat("trace.hep_dropped", "HEPv3 datagrams dropped: the send queue was full");
    gw_hep_st_errors = gw_stat("trace.hep_errors", "HEPv3 datagrams sendto() refused");
}

/* The running queue, the thread started on first use.  NULL when it cannot
 * be started. */
static gw_queue_t *gw_hep_queue(void)
{
    gw_queue_t *q = __atomic_load_n(&gw_hep_q, __ATOMIC_ACQUIRE);

    if (q != NULL)
        return q;
    pthread_mutex_lock(&gw_hep_once_lock);
    if (gw_hep_q == NULL) {
        gw_hep_stats_init();
        q = gw_queue_new(GW_HEP_QUEUE_MAX, free);
        __atomic_store_n(&gw_hep_quit, 0, __ATOMIC_RELAXED);
        if (q != NULL && pthread_create(&gw_hep_thread, NULL, gw_hep_run, q) != 0) {
            gw_queue_free(q);
            q = NULL;
        }
        if (q == NULL)
            GW_WARN("trace", "HEP export not started: out of memory or threads");
        __atomic_store_n(&gw_hep_q, q, __ATOMIC_RELEASE);
    }
    q = gw_hep_q;
    pthread_mutex_unlock(&gw_hep_once_lock);
    return q;
}

void gw_hep_offer(const gw_hep_dest_t *d, const gw_trace_rec_t *r, int64_t time_us)
{
    uint8_t buf[GW_HEP_DGRAM_MAX];
    gw_queue_t *q = gw_hep_queue();
    gw_hep_item_t *it;
    size_t n;

    if (q == NULL)
        return;
    n = gw_hep_build(r, time_us, buf, sizeof(buf));
    it = n ? malloc(sizeof(*it) + n) : NULL;
    if (it == NULL) {
        gw_stat_add(gw_hep_st_dropped, 1);
        return;
    }
    it->dest = *d;
    it->len = n;
    memcpy(it->data, buf, n);
    if (gw_queue_push(q, it) != 0) {
        free(it);
        gw_stat_add(gw_hep_st_dropped, 1);
    }
}

void gw_hep_stop(void)
{
    gw_queue_t *q;

    pthread_mutex_lock(&gw_hep_once_lock);
    q = gw_hep_q;
    if (q != NULL) {
        __atomic_store_n(&gw_hep_quit, 1, __ATOMIC_RELAXED);
        gw_queue_wake(q);
        pthread_join(gw_hep_thread, NULL);
        __atomic_store_n(&gw_hep_q, NULL, __ATOMIC_RELEASE);
        gw_queue_free(q);
    }
    pthread_mutex_unlock(&gw_hep_once_lock);
}
