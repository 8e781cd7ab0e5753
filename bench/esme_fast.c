/*
 * esme_fast.c - a fast SMPP customer (ESME) for the benchmarks: binds as
 * transceiver and sends submit_sm at a fixed rate.
 *
 *   esme_fast --port N [--host 127.0.0.1] [--system-id bench] [--password bench]
 *             [--rate R] [--count N] [--window W] [--time-limit S]
 *             [--src 4930123456] [--dst 4915100000] [--registered-delivery 0|1]
 *             [--receipt-wait S] [--tag T]
 *
 * The rate is a token bucket refilled at R per second holding at most 10 ms
 * of tokens (R = 0: as fast as the window allows); at most W submit_sm are
 * unanswered at a time.  Each message is one GSM 03.38 SMS of typical
 * length, "#<n> " plus a fixed text (T, when given, after the number), so
 * every message of a run is distinct.  Every submit_sm_resp is matched by
 * sequence number to its send time (latency p50/p99/max in microseconds)
 * and counted by command_status; deliver_sm is answered with
 * deliver_sm_resp and counted (receipts: esm_class 0x04); enquire_link is
 * answered.  The run ends once N submits were answered (and, with
 * --receipt-wait, once as many receipts arrived or S seconds passed), or at
 * the time limit (default 60 s), whichever is first; then it unbinds and
 * prints one JSON summary line on stdout (after a {"bound":true} line
 * printed once the bind was answered).  Exit 0 when every submit was
 * answered ESME_ROK, 1 otherwise.
 *
 * Standalone: links nothing but libc.  Threads: one (poll on one socket).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smpp_wire.h"

#define EF_RING (1u << 16)    /* send times by sequence number; > the largest window */
#define EF_MAX_WINDOW 30000
#define EF_MAX_STATUS 32
#define EF_MAX_PDU 65536
#define EF_OUT_HIGH (1u << 20) /* stop producing while this much is unwritten */

enum {
    EF_GENERIC_NACK = 0x80000000u,
    EF_SUBMIT_SM = 0x00000004u,
    EF_DELIVER_SM = 0x00000005u,
    EF_UNBIND = 0x00000006u,
    EF_BIND_TRX = 0x00000009u,
    EF_ENQUIRE_LINK = 0x00000015u,
    EF_RESP = 0x80000000u,
};

typedef struct ef_opts {
    const char *host, *system_id, *password, *src, *dst, *tag;
    int port, window, registered_delivery;
    double rate, time_limit, receipt_wait;
    long count;
} ef_opts_t;

typedef struct ef_state {
    int fd;
    uint8_t *in, *out;
    size_t inlen, incap, outlen, outoff, outcap;
    uint32_t seq;
    long sent, answered, ok, inflight, receipts, delivers, enquires, late;
    double ring_t[EF_RING];
    uint32_t ring_seq[EF_RING];
    uint32_t *lat_us;
    long nlat;
    struct { uint32_t status; long n; } errs[EF_MAX_STATUS];
    int nerrs;
    double t_first_send, t_last_send, t_last_resp, t_last_receipt;
    int unbound_by_peer;
    int unbind_answered;
} ef_state_t;

static volatile sig_atomic_t ef_stop_req;

static void ef_on_signal(int sig)
{
    (void)sig;
    ef_stop_req = 1;
}

static void ef_die(const char *what)
{
    fprintf(stderr, "esme_fast: %s: %s\n", what, strerror(errno));
    printf("{\"error\":\"%s\"}\n", what);
    exit(1);
}

/* Append one PDU to the output buffer. */
static void ef_send(ef_state_t *s, uint32_t cmd, uint32_t status, uint32_t seq,
                    const void *body, size_t blen)
{
    if (s->outoff > 0 && s->outoff == s->outlen)
        s->outoff = s->outlen = 0;
    if (s->outlen + 16 + blen > s->outcap) {
        memmove(s->out, s->out + s->outoff, s->outlen - s->outoff);
        s->outlen -= s->outoff;
        s->outoff = 0;
        while (s->outlen + 16 + blen > s->outcap) {
            s->outcap = s->outcap ? 2 * s->outcap : 1u << 20;
            if ((s->out = realloc(s->out, s->outcap)) == NULL)
                ef_die("out of memory");
        }
    }
    uint8_t *p = s->out + s->outlen;
    wire_put32(p, (uint32_t)(16 + blen));
    wire_put32(p + 4, cmd);
    wire_put32(p + 8, status);
    wire_put32(p + 12, seq);
    if (blen > 0)
        memcpy(p + 16, body, blen);
    s->outlen += 16 + blen;
}

/* Write what is pending, without blocking. */
static void ef_flush(ef_state_t *s)
{
    while (s->outoff < s->outlen) {
        ssize_t w = send(s->fd, s->out + s->outoff, s->outlen - s->outoff, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            ef_die("send");
        }
        s->outoff += (size_t)w;
    }
}

/* Append a C-octet string of at most max characters. */
static size_t ef_cstr(uint8_t *b, const char *v, size_t max)
{
    size_t n = strnlen(v, max);
    memcpy(b, v, n);
    b[n] = 0;
    return n + 1;
}

static void ef_submit(ef_state_t *s, const ef_opts_t *o, double now)
{
    uint8_t b[512];
    size_t at = 0;
    char text[200];
    int tl = snprintf(text, sizeof text,
                      "#%ld %sYour code is 482913; it expires in ten minutes. Do not share it "
                      "with anyone. Reply STOP to opt out. Benchmark message.",
                      s->sent, o->tag ? o->tag : "");
    if (tl > 160)
        tl = 160;
    b[at++] = 0;               /* service_type */
    b[at++] = 1; b[at++] = 1;  /* source ton, npi */
    at += ef_cstr(b + at, o->src, 20);
    b[at++] = 1; b[at++] = 1;
    at += ef_cstr(b + at, o->dst, 20);
    b[at++] = 0; b[at++] = 0; b[at++] = 0; /* esm_class, protocol_id, priority_flag */
    b[at++] = 0; b[at++] = 0;  /* schedule_delivery_time, validity_period */
    b[at++] = (uint8_t)o->registered_delivery;
    b[at++] = 0; b[at++] = 0; b[at++] = 0; /* replace, data_coding (default), default msg */
    b[at++] = (uint8_t)tl;
    memcpy(b + at, text, (size_t)tl);
    at += (size_t)tl;
    uint32_t seq = ++s->seq;
    ef_send(s, EF_SUBMIT_SM, 0, seq, b, at);
    s->ring_t[seq & (EF_RING - 1)] = now;
    s->ring_seq[seq & (EF_RING - 1)] = seq;
    if (s->sent == 0)
        s->t_first_send = now;
    s->t_last_send = now;
    s->sent++;
    s->inflight++;
}

static void ef_count_status(ef_state_t *s, uint32_t status)
{
    for (int i = 0; i < s->nerrs; i++) {
        if (s->errs[i].status == status) {
            s->errs[i].n++;
            return;
        }
    }
    if (s->nerrs < EF_MAX_STATUS) {
        s->errs[s->nerrs].status = status;
        s->errs[s->nerrs++].n = 1;
    }
}

/* A response to one of our submit_sm (or a generic_nack for one). */
static void ef_on_submit_resp(ef_state_t *s, uint32_t status, uint32_t seq, double now)
{
    uint32_t slot = seq & (EF_RING - 1);
    if (s->ring_seq[slot] != seq) {
        s->late++; /* not one we are waiting for */
        return;
    }
    s->ring_seq[slot] = 0;
    s->inflight--;
    s->answered++;
    s->t_last_resp = now;
    if (status == 0)
        s->ok++;
    else
        ef_count_status(s, status);
    if (s->lat_us != NULL && s->nlat < (long)10000000)
        s->lat_us[s->nlat++] = (uint32_t)((now - s->ring_t[slot]) * 1e6);
}

static void ef_on_pdu(ef_state_t *s, const uint8_t *p, uint32_t len, double now)
{
    uint32_t cmd = wire_get32(p + 4), status = wire_get32(p + 8), seq = wire_get32(p + 12);
    static const uint8_t empty_id[1] = {0};

    (void)len;
    switch (cmd) {
    case EF_SUBMIT_SM | EF_RESP:
    case EF_GENERIC_NACK:
        ef_on_submit_resp(s, status, seq, now);
        break;
    case EF_DELIVER_SM: {
        /* esm_class sits after service_type and two addresses */
        size_t at = 16;
        int fields = 0;
        while (at < len && fields < 3) {
            if (fields > 0)
                at += 2;
            const uint8_t *z = at < len ? memchr(p + at, 0, len - at) : NULL;
            if (z == NULL)
                break;
            at = (size_t)(z - p) + 1;
            fields++;
        }
        s->delivers++;
        if (fields == 3 && at < len && (p[at] & 0x3C) == 0x04) {
            s->receipts++;
            s->t_last_receipt = wire_now();
        }
        ef_send(s, EF_DELIVER_SM | EF_RESP, 0, seq, empty_id, 1);
        break;
    }
    case EF_ENQUIRE_LINK:
        s->enquires++;
        ef_send(s, EF_ENQUIRE_LINK | EF_RESP, 0, seq, NULL, 0);
        break;
    case EF_UNBIND:
        ef_send(s, EF_UNBIND | EF_RESP, 0, seq, NULL, 0);
        s->unbound_by_peer = 1;
        break;
    case EF_UNBIND | EF_RESP:
        s->unbind_answered = 1;
        break;
    default:
        break;
    }
}

/* Read what is there and handle every whole PDU; -1 on EOF. */
static int ef_read(ef_state_t *s, double now)
{
    for (;;) {
        if (s->incap - s->inlen < 65536) {
            s->incap = s->incap ? 2 * s->incap : 1u << 20;
            if ((s->in = realloc(s->in, s->incap)) == NULL)
                ef_die("out of memory");
        }
        ssize_t r = recv(s->fd, s->in + s->inlen, s->incap - s->inlen, 0);
        if (r == 0)
            return -1;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        s->inlen += (size_t)r;
        size_t off = 0;
        while (s->inlen - off >= 16) {
            uint32_t len = wire_get32(s->in + off);
            if (len < 16 || len > EF_MAX_PDU) {
                errno = EPROTO;
                ef_die("bad PDU length from the peer");
            }
            if (s->inlen - off < len)
                break;
            ef_on_pdu(s, s->in + off, len, now);
            off += len;
        }
        memmove(s->in, s->in + off, s->inlen - off);
        s->inlen -= off;
    }
}

/* Connect and bind transceiver, blocking, within 10 s; exits on failure. */
static void ef_bind(ef_state_t *s, const ef_opts_t *o)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    uint8_t b[128];
    size_t at = 0;
    int one = 1;

    if (inet_pton(AF_INET, o->host, &sa.sin_addr) != 1) {
        errno = EINVAL;
        ef_die("--host: an IPv4 address please");
    }
    if ((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        ef_die("socket");
    struct timeval tv = {.tv_sec = 10};
    setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        ef_die("connect");
    at += ef_cstr(b + at, o->system_id, 15);
    at += ef_cstr(b + at, o->password, 8);
    at += ef_cstr(b + at, "bench", 12); /* system_type */
    b[at++] = 0x34;                     /* interface_version */
    b[at++] = 0; b[at++] = 0;           /* addr_ton, addr_npi */
    b[at++] = 0;                        /* address_range */
    ef_send(s, EF_BIND_TRX, 0, ++s->seq, b, at);
    ef_flush(s);
    uint8_t h[16];
    size_t got = 0;
    while (got < 16) {
        ssize_t r = recv(s->fd, h + got, 16 - got, 0);
        if (r <= 0)
            ef_die("bind: no answer");
        got += (size_t)r;
    }
    uint32_t len = wire_get32(h), rest = len > 16 ? len - 16 : 0;
    while (rest > 0) { /* skip the body (system_id, TLVs) */
        ssize_t r = recv(s->fd, b, rest < sizeof b ? rest : sizeof b, 0);
        if (r <= 0)
            ef_die("bind: short answer");
        rest -= (uint32_t)r;
    }
    if (wire_get32(h + 4) != (EF_BIND_TRX | EF_RESP) || wire_get32(h + 8) != 0) {
        fprintf(stderr, "esme_fast: bind refused: command 0x%08x status 0x%08x\n",
                wire_get32(h + 4), wire_get32(h + 8));
        printf("{\"error\":\"bind refused\",\"status\":%u}\n", wire_get32(h + 8));
        exit(1);
    }
    /* from here on: non-blocking, driven by poll */
    if (fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK) != 0)
        ef_die("fcntl");
}

static int ef_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void ef_report(ef_state_t *s, const ef_opts_t *o, double t0, int time_limit_hit)
{
    double now = wire_now(), span = s->t_last_send - s->t_first_send;
    double ack_span = s->t_last_resp - s->t_first_send;
    double rcpt_span = s->receipts > 0 ? s->t_last_receipt - s->t_first_send : 0.0;
    uint32_t p50 = 0, p99 = 0, pmax = 0;

    if (s->nlat > 0) {
        qsort(s->lat_us, (size_t)s->nlat, sizeof *s->lat_us, ef_cmp_u32);
        p50 = s->lat_us[(size_t)(0.50 * (double)s->nlat)];
        p99 = s->lat_us[(size_t)(0.99 * (double)s->nlat)];
        pmax = s->lat_us[s->nlat - 1];
    }
    printf("{\"sent\":%ld,\"answered\":%ld,\"ok\":%ld,\"errors\":{", s->sent, s->answered, s->ok);
    for (int i = 0; i < s->nerrs; i++)
        printf("%s\"0x%08x\":%ld", i ? "," : "", s->errs[i].status, s->errs[i].n);
    printf("},\"unanswered\":%ld,\"late\":%ld,\"receipts\":%ld,\"deliver_sm\":%ld,"
           "\"enquire_links\":%ld,\"rate_target\":%.0f,\"window\":%d,"
           "\"send_rate\":%.1f,\"ack_rate\":%.1f,\"receipt_span_s\":%.3f,\"receipt_rate\":%.1f,\"lat_us\":{\"p50\":%u,\"p99\":%u,\"max\":%u},"
           "\"elapsed_s\":%.3f,\"time_limit_hit\":%s,\"unbound_by_peer\":%s}\n",
           s->inflight, s->late, s->receipts, s->delivers, s->enquires, o->rate, o->window,
           span > 0 ? (double)(s->sent - 1) / span : 0.0,
           ack_span > 0 ? (double)s->ok / ack_span : 0.0, rcpt_span,
           rcpt_span > 0 ? (double)s->receipts / rcpt_span : 0.0, p50, p99, pmax, now - t0,
           time_limit_hit ? "true" : "false", s->unbound_by_peer ? "true" : "false");
    fflush(stdout);
}

static void ef_usage(void)
{
    fprintf(stderr, "usage: esme_fast --port N [--host A] [--system-id S] [--password P] "
                    "[--rate R] [--count N] [--window W] [--time-limit S] [--src A] "
                    "[--dst A] [--registered-delivery 0|1] [--receipt-wait S] [--tag T]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    ef_opts_t o = {.host = "127.0.0.1", .system_id = "bench", .password = "bench",
                   .src = "4930123456", .dst = "4915100000", .window = 100, .rate = 1000,
                   .time_limit = 60, .count = 10000};
    static ef_state_t st; /* large (ring): static */
    ef_state_t *s = &st;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            ef_usage();
        if (strcmp(a, "--host") == 0) o.host = v;
        else if (strcmp(a, "--port") == 0) o.port = atoi(v);
        else if (strcmp(a, "--system-id") == 0) o.system_id = v;
        else if (strcmp(a, "--password") == 0) o.password = v;
        else if (strcmp(a, "--rate") == 0) o.rate = atof(v);
        else if (strcmp(a, "--count") == 0) o.count = atol(v);
        else if (strcmp(a, "--window") == 0) o.window = atoi(v);
        else if (strcmp(a, "--time-limit") == 0) o.time_limit = atof(v);
        else if (strcmp(a, "--src") == 0) o.src = v;
        else if (strcmp(a, "--dst") == 0) o.dst = v;
        else if (strcmp(a, "--registered-delivery") == 0) o.registered_delivery = atoi(v);
        else if (strcmp(a, "--receipt-wait") == 0) o.receipt_wait = atof(v);
        else if (strcmp(a, "--tag") == 0) o.tag = v;
        else ef_usage();
        i++;
    }
    if (o.port <= 0 || o.count <= 0 || o.window < 1 || o.window > EF_MAX_WINDOW ||
        o.rate < 0 || o.time_limit <= 0)
        ef_usage();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, ef_on_signal);
    signal(SIGINT, ef_on_signal);
    s->lat_us = malloc(sizeof *s->lat_us * (size_t)(o.count < 10000000 ? o.count : 10000000));

    double t0 = wire_now();
    ef_bind(s, &o);
    /* for scripts that measure the peer from the first submit on, not the
     * bind (junction checks an argon2id hash there) */
    printf("{\"bound\":true}\n");
    fflush(stdout);
    double tokens = 0, burst = o.rate > 0 ? (o.rate / 100 > 1 ? o.rate / 100 : 1) : 0;
    double last = wire_now(), done_at = 0;
    int time_limit_hit = 0;
    for (;;) {
        double now = wire_now();
        if (now - t0 >= o.time_limit) {
            time_limit_hit = 1;
            break;
        }
        if (ef_stop_req || s->unbound_by_peer)
            break;
        if (s->sent >= o.count && s->inflight == 0) {
            if (done_at == 0)
                done_at = now;
            if (s->receipts >= s->ok || now - done_at >= o.receipt_wait)
                break;
        }
        if (o.rate > 0) {
            tokens += (now - last) * o.rate;
            if (tokens > burst)
                tokens = burst;
        }
        last = now;
        while (s->sent < o.count && s->inflight < o.window &&
               s->outlen - s->outoff < EF_OUT_HIGH && (o.rate == 0 || tokens >= 1)) {
            ef_submit(s, &o, now);
            tokens -= 1;
        }
        ef_flush(s);
        /* sleep until the next token, an answer, or room to write */
        int wait_ms = 100;
        if (s->sent < o.count && s->inflight < o.window && o.rate > 0)
            wait_ms = (int)((1 - tokens) / o.rate * 1000) + 1; /* no busy loop */
        else if (s->sent < o.count && s->inflight < o.window && s->outoff == s->outlen)
            wait_ms = 0; /* --rate 0: room in the window, go on at once */
        if (wait_ms > 100)
            wait_ms = 100;
        struct pollfd pfd = {.fd = s->fd,
                             .events = POLLIN | (s->outoff < s->outlen ? POLLOUT : 0)};
        if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
            ef_die("poll");
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (ef_read(s, wire_now()) < 0) {
                fprintf(stderr, "esme_fast: the peer closed the connection\n");
                break;
            }
        }
    }
    /* unbind, and give the answer up to a second */
    ef_send(s, EF_UNBIND, 0, ++s->seq, NULL, 0);
    ef_flush(s);
    double until = wire_now() + 1;
    while (!s->unbind_answered && !s->unbound_by_peer && wire_now() < until) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) > 0 && ef_read(s, wire_now()) < 0)
            break;
    }
    close(s->fd);
    ef_report(s, &o, t0, time_limit_hit);
    return s->ok == o.count ? 0 : 1;
}
