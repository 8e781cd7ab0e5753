/*
 * smsc_fast.c - a fast SMSC peer for the benchmarks: answers submit_sm and
 * counts, so that the far side of junction is never the bottleneck.
 *
 *   smsc_fast [--listen 127.0.0.1] [--port N] [--receipts] [--stats FILE]
 *             [--time-limit S]
 *
 * One thread, one epoll loop, level-triggered.  Each connection has an
 * input buffer (PDUs are cut out of it as soon as they are whole) and an
 * output buffer that every answer is appended to; the output is written
 * once per pass, so a burst of 1,000 submit_sm costs a handful of system
 * calls.  PDUs are packed and parsed by hand: the few layouts used here are
 * fixed (SMPP 3.4, section 4), no libsmpp34.
 *
 * Answers: bind_transceiver/transmitter/receiver -> *_resp OK (any
 * system_id and password); enquire_link -> enquire_link_resp; unbind ->
 * unbind_resp, then the connection closes once written; submit_sm ->
 * submit_sm_resp with a unique message_id (ESME_RINVBNDSTS before a bind);
 * any other request -> generic_nack ESME_RINVCMDID.  With --receipts every
 * accepted submit_sm is followed by one deliver_sm delivery receipt
 * (esm_class 0x04, stat:DELIVRD, TLVs receipted_message_id and
 * message_state) and the deliver_sm_resp coming back are counted.
 *
 * Counters: submits, distinct messages (a 64-bit hash of the whole
 * submit_sm body, kept in an open-addressing set, so a resubmission of the
 * same message shows as submits > distinct), bytes in and out, binds,
 * receipts sent and answered.  They are printed as one JSON line on stdout
 * on SIGUSR1 and at exit (SIGTERM/SIGINT, or --time-limit, default 3600 s),
 * or written to FILE (replaced atomically) when --stats is given.  At start
 * it prints {"listening":PORT} (useful with --port 0).
 *
 * Standalone: links nothing but libc.  Threads: one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smpp_wire.h"

#define SF_MAX_CONNS 256
#define SF_MAX_PDU 65536
#define SF_READ_CHUNK 262144
#define SF_OUT_HIGH (16u << 20) /* stop reading a peer that does not read its answers */

enum {
    SF_GENERIC_NACK = 0x80000000u,
    SF_BIND_RX = 0x00000001u,
    SF_BIND_TX = 0x00000002u,
    SF_SUBMIT_SM = 0x00000004u,
    SF_DELIVER_SM = 0x00000005u,
    SF_UNBIND = 0x00000006u,
    SF_BIND_TRX = 0x00000009u,
    SF_ENQUIRE_LINK = 0x00000015u,
    SF_RESP = 0x80000000u,
    SF_ESME_RINVCMDLEN = 0x02,
    SF_ESME_RINVCMDID = 0x03,
    SF_ESME_RINVBNDSTS = 0x04,
};

typedef struct sf_buf {
    uint8_t *p;
    size_t len, cap, off; /* off: bytes already consumed (in) or written (out) */
} sf_buf_t;

typedef struct sf_conn {
    int fd;
    int bound;
    int closing;       /* unbind answered: close once out is written */
    uint32_t seq;      /* our sequence numbers (deliver_sm) */
    uint32_t events;   /* what epoll watches now */
    sf_buf_t in, out;
} sf_conn_t;

typedef struct sf_stats {
    unsigned long long submits, distinct, bytes_in, bytes_out, binds, connections;
    unsigned long long receipts_sent, deliver_sm_resp, deliver_sm_resp_err, enquire_links;
    unsigned long long unbinds, generic_nacks, submit_unbound, bad_pdus;
} sf_stats_t;

static sf_stats_t sf_st;
static volatile sig_atomic_t sf_dump_req, sf_stop_req;
static int sf_receipts;
static const char *sf_stats_path;
static unsigned long long sf_next_id = 1;
static double sf_t0;

/* The distinct-message set: 64-bit hashes, 0 = empty slot. */
static uint64_t *sf_set;
static size_t sf_set_cap, sf_set_len;

static void sf_on_signal(int sig)
{
    if (sig == SIGUSR1)
        sf_dump_req = 1;
    else
        sf_stop_req = 1;
}

static uint64_t sf_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h != 0 ? h : 1;
}

/* Insert h; 1 when it was new.  Grows at half load; exits on no memory
 * (a bench tool: a wrong count would be worse than stopping). */
static int sf_set_add(uint64_t h)
{
    if (2 * (sf_set_len + 1) > sf_set_cap) {
        size_t ncap = sf_set_cap ? 2 * sf_set_cap : 1u << 16;
        uint64_t *n = calloc(ncap, sizeof *n);
        if (n == NULL) {
            fprintf(stderr, "smsc_fast: out of memory for the distinct set\n");
            exit(1);
        }
        for (size_t i = 0; i < sf_set_cap; i++) {
            if (sf_set[i] == 0)
                continue;
            size_t j = sf_set[i] & (ncap - 1);
            while (n[j] != 0)
                j = (j + 1) & (ncap - 1);
            n[j] = sf_set[i];
        }
        free(sf_set);
        sf_set = n;
        sf_set_cap = ncap;
    }
    size_t j = h & (sf_set_cap - 1);
    while (sf_set[j] != 0) {
        if (sf_set[j] == h)
            return 0;
        j = (j + 1) & (sf_set_cap - 1);
    }
    sf_set[j] = h;
    sf_set_len++;
    return 1;
}

/* Room for n more bytes at the end of b; exits on no memory. */
static uint8_t *sf_buf_room(sf_buf_t *b, size_t n)
{
    if (b->off > 0 && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + n > b->cap) {
        if (b->off > 0) { /* compact before growing */
            memmove(b->p, b->p + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        size_t ncap = b->cap ? b->cap : 65536;
        while (b->len + n > ncap)
            ncap *= 2;
        if (ncap != b->cap) {
            uint8_t *p = realloc(b->p, ncap);
            if (p == NULL) {
                fprintf(stderr, "smsc_fast: out of memory\n");
                exit(1);
            }
            b->p = p;
            b->cap = ncap;
        }
    }
    return b->p + b->len;
}

/* Append one PDU: header plus body (blen bytes). */
static void sf_send(sf_conn_t *c, uint32_t cmd, uint32_t status, uint32_t seq,
                    const void *body, size_t blen)
{
    uint8_t *p = sf_buf_room(&c->out, 16 + blen);
    wire_put32(p, (uint32_t)(16 + blen));
    wire_put32(p + 4, cmd);
    wire_put32(p + 8, status);
    wire_put32(p + 12, seq);
    if (blen > 0)
        memcpy(p + 16, body, blen);
    c->out.len += 16 + blen;
}

/* The C-octet string at b[*at] (within n bytes): its start, or NULL when
 * unterminated; *at moves past the NUL. */
static const char *sf_cstr(const uint8_t *b, size_t n, size_t *at)
{
    const uint8_t *z = *at < n ? memchr(b + *at, 0, n - *at) : NULL;
    if (z == NULL)
        return NULL;
    const char *s = (const char *)b + *at;
    *at = (size_t)(z - b) + 1;
    return s;
}

/* YYMMDDhhmm of now, for receipts; recomputed once a second. */
static const char *sf_date(void)
{
    static char buf[16];
    static time_t last;
    time_t t = time(NULL);
    if (t != last) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, sizeof buf, "%y%m%d%H%M", &tm);
        last = t;
    }
    return buf;
}

/* The deliver_sm receipt for a submit from src to dst given msgid. */
static void sf_send_receipt(sf_conn_t *c, const char *src, const char *dst, const char *msgid)
{
    uint8_t b[512];
    size_t at = 0, idlen = strlen(msgid);
    char text[200];
    const char *d = sf_date();
    int tl = snprintf(text, sizeof text,
                      "id:%s sub:001 dlvrd:001 submit date:%s done date:%s stat:DELIVRD "
                      "err:000 text:", msgid, d, d);

    b[at++] = 0;                     /* service_type "" */
    b[at++] = 1; b[at++] = 1;        /* source ton, npi: the handset */
    at += (size_t)snprintf((char *)b + at, 22, "%.20s", dst) + 1;
    b[at++] = 1; b[at++] = 1;
    at += (size_t)snprintf((char *)b + at, 22, "%.20s", src) + 1;
    b[at++] = 0x04;                  /* esm_class: SMSC delivery receipt */
    b[at++] = 0; b[at++] = 0;        /* protocol_id, priority_flag */
    b[at++] = 0; b[at++] = 0;        /* schedule_delivery_time, validity_period */
    b[at++] = 0; b[at++] = 0;        /* registered_delivery, replace_if_present */
    b[at++] = 0; b[at++] = 0;        /* data_coding, sm_default_msg_id */
    b[at++] = (uint8_t)tl;
    memcpy(b + at, text, (size_t)tl);
    at += (size_t)tl;
    /* TLV receipted_message_id (0x001E, C-string) and message_state (0x0427) */
    b[at++] = 0x00; b[at++] = 0x1E; b[at++] = 0; b[at++] = (uint8_t)(idlen + 1);
    memcpy(b + at, msgid, idlen + 1);
    at += idlen + 1;
    b[at++] = 0x04; b[at++] = 0x27; b[at++] = 0; b[at++] = 1; b[at++] = 2; /* DELIVERED */
    sf_send(c, SF_DELIVER_SM, 0, ++c->seq, b, at);
    sf_st.receipts_sent++;
}

static void sf_on_submit(sf_conn_t *c, uint32_t seq, const uint8_t *b, size_t n)
{
    char msgid[24];
    size_t at = 0;
    const char *src, *dst;

    if (!c->bound) {
        sf_st.submit_unbound++;
        sf_send(c, SF_SUBMIT_SM | SF_RESP, SF_ESME_RINVBNDSTS, seq, "", 1);
        return;
    }
    /* service_type, source ton/npi/addr, dest ton/npi/addr: enough to check
     * the body is a submit_sm and to address the receipt */
    if (sf_cstr(b, n, &at) == NULL || (at += 2) > n || (src = sf_cstr(b, n, &at)) == NULL ||
        (at += 2) > n || (dst = sf_cstr(b, n, &at)) == NULL) {
        sf_st.bad_pdus++;
        sf_send(c, SF_GENERIC_NACK, SF_ESME_RINVCMDLEN, seq, NULL, 0);
        return;
    }
    sf_st.submits++;
    if (sf_set_add(sf_hash(b, n)))
        sf_st.distinct++;
    int idl = snprintf(msgid, sizeof msgid, "%llx", sf_next_id++);
    sf_send(c, SF_SUBMIT_SM | SF_RESP, 0, seq, msgid, (size_t)idl + 1);
    if (sf_receipts)
        sf_send_receipt(c, src, dst, msgid);
}

/* One whole PDU from c. */
static void sf_on_pdu(sf_conn_t *c, const uint8_t *p, uint32_t len)
{
    uint32_t cmd = wire_get32(p + 4), status = wire_get32(p + 8), seq = wire_get32(p + 12);
    static const char sysid[] = "smsc_fast";

    switch (cmd) {
    case SF_SUBMIT_SM:
        sf_on_submit(c, seq, p + 16, len - 16);
        break;
    case SF_BIND_TRX:
    case SF_BIND_TX:
    case SF_BIND_RX:
        c->bound = 1;
        sf_st.binds++;
        sf_send(c, cmd | SF_RESP, 0, seq, sysid, sizeof sysid);
        break;
    case SF_ENQUIRE_LINK:
        sf_st.enquire_links++;
        sf_send(c, SF_ENQUIRE_LINK | SF_RESP, 0, seq, NULL, 0);
        break;
    case SF_UNBIND:
        sf_st.unbinds++;
        sf_send(c, SF_UNBIND | SF_RESP, 0, seq, NULL, 0);
        c->closing = 1;
        break;
    case SF_DELIVER_SM | SF_RESP:
        if (status == 0)
            sf_st.deliver_sm_resp++;
        else
            sf_st.deliver_sm_resp_err++;
        break;
    default:
        if (!(cmd & SF_RESP)) {
            sf_st.generic_nacks++;
            sf_send(c, SF_GENERIC_NACK, SF_ESME_RINVCMDID, seq, NULL, 0);
        }
        break; /* other responses (enquire_link_resp, generic_nack, ...) */
    }
}

static void sf_dump(void)
{
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "{\"submits\":%llu,\"distinct\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
                     "\"binds\":%llu,\"connections\":%llu,\"receipts_sent\":%llu,"
                     "\"deliver_sm_resp\":%llu,\"deliver_sm_resp_err\":%llu,"
                     "\"enquire_links\":%llu,\"unbinds\":%llu,\"generic_nacks\":%llu,"
                     "\"submit_unbound\":%llu,\"bad_pdus\":%llu,\"uptime_s\":%.3f}\n",
                     sf_st.submits, sf_st.distinct, sf_st.bytes_in, sf_st.bytes_out, sf_st.binds,
                     sf_st.connections, sf_st.receipts_sent, sf_st.deliver_sm_resp,
                     sf_st.deliver_sm_resp_err, sf_st.enquire_links, sf_st.unbinds,
                     sf_st.generic_nacks, sf_st.submit_unbound, sf_st.bad_pdus,
                     wire_now() - sf_t0);
    if (sf_stats_path == NULL) {
        fputs(line, stdout);
        fflush(stdout);
        return;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", sf_stats_path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fwrite(line, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0 ||
        rename(tmp, sf_stats_path) != 0)
        fprintf(stderr, "smsc_fast: cannot write %s: %s\n", sf_stats_path, strerror(errno));
}

static void sf_watch(int ep, sf_conn_t *c, uint32_t ev)
{
    if (ev == c->events)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

static void sf_close(sf_conn_t *c)
{
    close(c->fd);
    free(c->in.p);
    free(c->out.p);
    free(c);
}

/* Write what is pending; 0, or -1 when the peer is gone. */
static int sf_flush(sf_conn_t *c)
{
    while (c->out.off < c->out.len) {
        ssize_t w = send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->out.off += (size_t)w;
        sf_st.bytes_out += (unsigned long long)w;
    }
    c->out.off = c->out.len = 0;
    return 0;
}

/* Read what is there and answer every whole PDU; -1 to close. */
static int sf_read(sf_conn_t *c)
{
    for (int rounds = 0; rounds < 8; rounds++) {
        uint8_t *p = sf_buf_room(&c->in, SF_READ_CHUNK);
        ssize_t r = recv(c->fd, p, SF_READ_CHUNK, 0);
        if (r == 0)
            return -1;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->in.len += (size_t)r;
        sf_st.bytes_in += (unsigned long long)r;
        while (c->in.len - c->in.off >= 16) {
            const uint8_t *h = c->in.p + c->in.off;
            uint32_t len = wire_get32(h);
            if (len < 16 || len > SF_MAX_PDU) {
                sf_st.bad_pdus++;
                return -1;
            }
            if (c->in.len - c->in.off < len)
                break;
            sf_on_pdu(c, h, len);
            c->in.off += len;
        }
        if (r < SF_READ_CHUNK)
            return 0;
    }
    return 0;
}

static int sf_listen(const char *addr, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, fd;

    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "smsc_fast: --listen %s: an IPv4 address please\n", addr);
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0) {
        fprintf(stderr, "smsc_fast: %s:%d: %s\n", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    printf("{\"listening\":%d}\n", ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

static void sf_accept(int ep, int lfd, int *nconns)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
        if (fd < 0)
            return;
        sf_conn_t *c = *nconns < SF_MAX_CONNS ? calloc(1, sizeof *c) : NULL;
        if (c == NULL) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->events = EPOLLIN;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) {
            sf_close(c);
            continue;
        }
        (*nconns)++;
        sf_st.connections++;
    }
}

static void sf_usage(void)
{
    fprintf(stderr, "usage: smsc_fast [--listen 127.0.0.1] [--port N] [--receipts] "
                    "[--stats FILE] [--time-limit S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int port = 2775, nconns = 0, lfd, ep;
    double limit = 3600;
    static sf_conn_t listener_tag; /* data.ptr of the listening socket */

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--receipts") == 0)
            sf_receipts = 1;
        else if (strcmp(a, "--listen") == 0 && v)
            addr = v, i++;
        else if (strcmp(a, "--port") == 0 && v)
            port = atoi(v), i++;
        else if (strcmp(a, "--stats") == 0 && v)
            sf_stats_path = v, i++;
        else if (strcmp(a, "--time-limit") == 0 && v)
            limit = atof(v), i++;
        else
            sf_usage();
    }
    struct sigaction sa = {.sa_handler = sf_on_signal}; /* no SA_RESTART: epoll_wait returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sf_t0 = wire_now();
    if ((lfd = sf_listen(addr, port)) < 0)
        return 1;
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = &listener_tag};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le);

    struct epoll_event evs[64];
    while (!sf_stop_req && wire_now() - sf_t0 < limit) {
        int n = epoll_wait(ep, evs, 64, 200);
        if (sf_dump_req) {
            sf_dump_req = 0;
            sf_dump();
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &listener_tag) {
                sf_accept(ep, lfd, &nconns);
                continue;
            }
            sf_conn_t *c = evs[i].data.ptr;
            int bad = (evs[i].events & (EPOLLERR | EPOLLHUP)) && !(evs[i].events & EPOLLIN);
            if (!bad && (evs[i].events & EPOLLIN) && !c->closing)
                bad = sf_read(c) < 0;
            if (!bad)
                bad = sf_flush(c) < 0;
            if (bad || (c->closing && c->out.len == 0)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                sf_close(c);
                nconns--;
                continue;
            }
            size_t pending = c->out.len - c->out.off;
            sf_watch(ep, c, (pending < SF_OUT_HIGH && !c->closing ? EPOLLIN : 0) |
                                (pending > 0 ? EPOLLOUT : 0));
        }
    }
    sf_dump();
    return 0;
}
