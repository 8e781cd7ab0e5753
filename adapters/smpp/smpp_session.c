/*
 * smpp_session.c - one SMPP TCP session, shared by client connectors and
 * the customer server: framing, sequence numbers, requests in flight,
 * response timers and enquire_link.
 *
 * Framing: a PDU starts with a 4-octet command_length.  A length below 16
 * or above SMPP_MAX_PDU cannot be trusted to resynchronise the stream, so
 * the session answers generic_nack ESME_RINVCMDLEN and finishes (flush,
 * close).  Complete PDUs are handed to the owner one by one; enquire_link
 * is answered here.  Responses are matched with the request list by
 * sequence number.
 *
 * Encoding: the PDUs of every message (submit_sm / deliver_sm, their
 * responses) and the header-only ones (enquire_link, generic_nack,
 * unbind) are built by smpp_wire; only the bind PDUs still go through
 * libsmpp34's smpp34_pack.  Each is built in a stack buffer and copied
 * once into the bufferevent's output.
 *
 * Timers: one tick per second per session checks response deadlines
 * (smpp.response_timeout_s; an overdue response ends the session, which
 * the client treats as a broken link and rebinds) and, on keepalive
 * sessions, sends enquire_link after smpp.enquire_link_s of silence; on
 * sessions with an idle_s (bound customers), idle_s seconds without a
 * byte from the peer (an enquire_link of theirs counts) send unbind and
 * finish the session without waiting for unbind_resp.
 *
 * Freeing: an owner may free its session from inside a callback; the
 * session then only marks itself dead and the callback that is running
 * frees it on its way out, so no code touches freed memory.
 *
 * Tracing: every PDU written and every complete PDU read is offered to the
 * trace bus (smpp_trace_pdu) when a trace is active, with its command
 * name, sequence, status, the addresses of a submit_sm / deliver_sm /
 * data_sm, the message_id of their responses and of query_sm / cancel_sm /
 * replace_sm (junction's id: a trace of a message shows them), read
 * straight from the octets.  Bind PDUs are recorded without their bytes: they carry the
 * password.
 *
 * Threads: the SMPP thread only (libsmpp34's globals).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <smpp34.h>
#include <smpp34_structs.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_trace.h"
#include "smpp.h"

#define SMPP_PACK_MAX 4096 /* our largest PDU: submit_sm with 254 octets + TLVs */
/* A peer that sends requests but never reads our answers: past this much
 * unsent output the session stops reading until the output drained. */
#define SMPP_OUT_MAX (4 * SMPP_MAX_PDU)

static smpp_session_t *smpp_sessions; /* every live session */
static uint64_t smpp_next_id = 1;

static void smpp_session_read_cb(struct bufferevent *bev, void *arg);
static void smpp_trace_pdu(smpp_session_t *s, gw_trace_dir_t dir, const uint8_t *pdu,
                           size_t len);
static void smpp_session_write_cb(struct bufferevent *bev, void *arg);
static void smpp_session_event_cb(struct bufferevent *bev, short what, void *arg);
static void smpp_session_tick_cb(evutil_socket_t fd, short what, void *arg);

/* PDUs go out when written: without TCP_NODELAY a PDU written while an
 * earlier segment waits for its ACK is held back by Nagle's algorithm
 * until the peer's delayed ACK (40 ms on Linux), which capped a connector
 * exchanging receipts both ways at a window per 40 ms (2,500/s with 100). */
static void smpp_session_nodelay(evutil_socket_t fd)
{
    int one = 1;

    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

smpp_session_t *smpp_session_new(evutil_socket_t fd, const char *peer,
                                 const smpp_session_ops_t *ops, void *owner)
{
    return smpp_session_new_tls(fd, peer, ops, owner, NULL);
}

smpp_session_t *smpp_session_new_tls(evutil_socket_t fd, const char *peer,
                                     const smpp_session_ops_t *ops, void *owner, void *ssl)
{
    smpp_session_t *s = calloc(1, sizeof(*s));
    struct timeval one = { 1, 0 };

    if (s == NULL)
        goto out_close_fd;
    smpp_session_nodelay(fd);
    if (ssl != NULL) {
        /* the bufferevent owns ssl from here, and frees it with itself */
        s->bev = bufferevent_openssl_socket_new(
            smpp_base, fd, ssl, fd >= 0 ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
            BEV_OPT_CLOSE_ON_FREE);
        if (s->bev != NULL)
            bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
        else
            SSL_free(ssl);
        ssl = NULL;
    } else {
        s->bev = bufferevent_socket_new(smpp_base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (s->bev == NULL)
        goto out_free;
    s->tick = event_new(smpp_base, -1, EV_PERSIST, smpp_session_tick_cb, s);
    if (s->tick == NULL)
        goto out_free_bev;
    event_add(s->tick, &one);
    s->id = smpp_next_id++;
    snprintf(s->peer, sizeof(s->peer), "%s", peer);
    s->ops = ops;
    s->owner = owner;
    s->last_rx_ms = gw_now_ms();
    s->created_ms = s->last_rx_ms;
    /* never buffer more than a few PDUs of unread input */
    bufferevent_setwatermark(s->bev, EV_READ, 0, 4 * SMPP_MAX_PDU);
    bufferevent_setcb(s->bev, smpp_session_read_cb, smpp_session_write_cb,
                      smpp_session_event_cb, s);
    if (fd >= 0)
        bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    s->next = smpp_sessions;
    smpp_sessions = s;
    return s;

out_free_bev:
    bufferevent_free(s->bev);
    free(s);
    return NULL;
out_free:
    free(s);
out_close_fd:
    if (fd >= 0)
        evutil_closesocket(fd);
    return NULL;
}

int smpp_session_connect(smpp_session_t *s, const char *host, int port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char svc[16];
    int rc;

    snprintf(svc, sizeof(svc), "%d", port);
    /* blocking resolution: hosts are configured addresses, normally numeric */
    if (getaddrinfo(host, svc, &hints, &res) != 0 || res == NULL)
        return GW_ERROR;
    rc = bufferevent_socket_connect(s->bev, res->ai_addr, (int)res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0)
        return GW_ERROR;
    smpp_session_nodelay(bufferevent_getfd(s->bev));
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    return 0;
}

smpp_session_t *smpp_session_find(uint64_t id)
{
    smpp_session_t *s;

    for (s = smpp_sessions; s; s = s->next)
        if (s->id == id && !s->dead)
            return s;
    return NULL;
}

/* Unlink and free for real. */
static void smpp_session_destroy(smpp_session_t *s)
{
    smpp_session_t **pp;
    smpp_req_t *r, *next;

    for (pp = &smpp_sessions; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    for (r = s->reqs; r; r = next) {
        next = r->next;
        free(r);
    }
    event_free(s->tick);
    bufferevent_free(s->bev);
    free(s);
}

void smpp_session_free(smpp_session_t *s)
{
    if (s == NULL)
        return;
    if (s->in_cb) {
        s->dead = 1;
        bufferevent_disable(s->bev, EV_READ | EV_WRITE);
        return;
    }
    smpp_session_destroy(s);
}

/* The session ended by itself: tell the owner once, then free. */
static void smpp_session_closed(smpp_session_t *s, const char *why)
{
    s->in_cb++;
    s->ops->on_closed(s, why);
    s->in_cb--;
    smpp_session_destroy(s);
}

void smpp_session_finish(smpp_session_t *s, const char *why)
{
    (void)why;
    s->finishing = 1;
    bufferevent_disable(s->bev, EV_READ);
    /* nothing left to write: the write callback will not fire, so end now
     * unless a callback is running (it checks finishing on its way out) */
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0 && !s->in_cb)
        smpp_session_closed(s, "closed");
}

/* Queue the len octets of one whole PDU for the peer and offer it to the
 * trace bus.  0 or GW_ERROR. */
static int smpp_session_send(smpp_session_t *s, const uint8_t *buf, int len)
{
    if (len < 16 || bufferevent_write(s->bev, buf, (size_t)len) < 0)
        return GW_ERROR;
    s->tx_pdus++;
    if (gw_trace_on()) smpp_trace_pdu(s, GW_TRACE_OUT, buf, (size_t)len);
    GW_DEBUG(SMPP_MOD, "%s: sent command 0x%08x status 0x%x seq %u len %d", s->peer,
             smpp_get32(buf + 4), smpp_get32(buf + 8), smpp_get32(buf + 12), len);
    return 0;
}

/* A header-only PDU (pdu NULL: smpp_wire, which unlike libsmpp34 takes the
 * sequence 0 a generic_nack for an unreadable header must carry) or a
 * libsmpp34 struct (the binds). */
static int smpp_session_write(smpp_session_t *s, uint32_t cmd_id, uint32_t status,
                              uint32_t seq, void *pdu)
{
    uint8_t buf[SMPP_PACK_MAX];
    int len;

    if (pdu == NULL)
        return smpp_session_send(s, buf,
                                 smpp_wire_encode_header(buf, sizeof(buf), cmd_id, status, seq));
    /* every libsmpp34 struct starts with the header fields */
    ((generic_nack_t *)pdu)->command_length = 0;
    ((generic_nack_t *)pdu)->command_id = cmd_id;
    ((generic_nack_t *)pdu)->command_status = status;
    ((generic_nack_t *)pdu)->sequence_number = seq;
    if (smpp34_pack(cmd_id, buf, sizeof(buf), &len, pdu) != 0) {
        GW_ERR(SMPP_MOD, "%s: cannot pack command 0x%08x: %s", s->peer, cmd_id,
               smpp34_strerror);
        return GW_ERROR;
    }
    return smpp_session_send(s, buf, len);
}

/* A request to be sent with the next sequence number: not in flight until
 * smpp_session_track.  NULL when out of memory. */
static smpp_req_t *smpp_session_next(smpp_session_t *s, uint32_t cmd_id, void *ctx)
{
    smpp_req_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    /* sequence numbers run 1 .. 0x7FFFFFFF (SMPP 3.4, 5.1.4) */
    s->seq = s->seq >= 0x7FFFFFFF ? 1 : s->seq + 1;
    r->seq = s->seq;
    r->cmd_id = cmd_id;
    r->ctx = ctx;
    return r;
}

/* r was sent: it awaits its response from now on, last in the list. */
static void smpp_session_track(smpp_session_t *s, smpp_req_t *r)
{
    smpp_req_t **pp;

    r->deadline_ms = gw_now_ms() + (int64_t)smpp_response_timeout_s * 1000;
    r->sent_us = gw_stats_now_us();
    for (pp = &s->reqs; *pp; pp = &(*pp)->next)
        ;
    *pp = r;
    s->nreqs++;
}

int smpp_session_request(smpp_session_t *s, uint32_t cmd_id, void *pdu, void *ctx)
{
    smpp_req_t *r = smpp_session_next(s, cmd_id, ctx);

    if (r == NULL)
        return GW_ENOMEM;
    if (smpp_session_write(s, cmd_id, 0, r->seq, pdu) < 0) {
        free(r);
        return GW_ERROR;
    }
    smpp_session_track(s, r);
    return 0;
}

int smpp_session_request_sm(smpp_session_t *s, uint32_t cmd_id, const smpp_sm_fields_t *f,
                            void *ctx, int part)
{
    uint8_t buf[SMPP_PACK_MAX];
    smpp_req_t *r = smpp_session_next(s, cmd_id, ctx);
    int len, rc;

    if (r == NULL)
        return GW_ENOMEM;
    r->part = part;
    len = smpp_wire_encode_sm(buf, sizeof(buf), cmd_id, r->seq, f);
    rc = len < 0 ? GW_EINVAL : smpp_session_send(s, buf, len);
    if (rc < 0) {
        free(r);
        return rc;
    }
    smpp_session_track(s, r);
    return 0;
}

int smpp_session_request_body(smpp_session_t *s, uint32_t cmd_id, const uint8_t *body,
                              size_t len, void *ctx)
{
    uint8_t buf[SMPP_PACK_MAX];
    smpp_req_t *r;

    if (len > sizeof(buf) - 16 ||
        smpp_wire_encode_header(buf, sizeof(buf), cmd_id, 0, 0) != 16)
        return GW_EINVAL;
    if ((r = smpp_session_next(s, cmd_id, ctx)) == NULL)
        return GW_ENOMEM;
    smpp_put32(buf, (uint32_t)(16 + len));
    smpp_put32(buf + 12, r->seq);
    memcpy(buf + 16, body, len);
    if (smpp_session_send(s, buf, (int)(16 + len)) < 0) {
        free(r);
        return GW_ERROR;
    }
    smpp_session_track(s, r);
    return 0;
}

void smpp_session_adopt(smpp_session_t *s, const smpp_session_ops_t *ops, void *owner)
{
    s->ops = ops;
    s->owner = owner;
    s->expire_ms = 0;
    s->idle_s = 0;
}

int smpp_session_send_pdu(smpp_session_t *s, const uint8_t *pdu, int len)
{
    return smpp_session_send(s, pdu, len);
}

int smpp_session_respond(smpp_session_t *s, uint32_t cmd_id, uint32_t status, uint32_t seq,
                         void *pdu)
{
    return smpp_session_write(s, cmd_id, status, seq, pdu);
}

int smpp_session_respond_id(smpp_session_t *s, uint32_t cmd_id, uint32_t status, uint32_t seq,
                            const char *msgid)
{
    uint8_t buf[16 + SMPP_WIRE_MSGID_MAX];
    int len = smpp_wire_encode_resp(buf, sizeof(buf), cmd_id, status, seq, msgid);

    if (len < 0) {
        GW_ERR(SMPP_MOD, "%s: cannot encode command 0x%08x seq %u", s->peer, cmd_id, seq);
        return GW_ERROR;
    }
    return smpp_session_send(s, buf, len);
}

/* Take the request answered by seq out of the in-flight list. */
static smpp_req_t *smpp_session_take_req(smpp_session_t *s, uint32_t seq)
{
    smpp_req_t **pp, *r;

    for (pp = &s->reqs; *pp; pp = &(*pp)->next) {
        if ((*pp)->seq == seq) {
            r = *pp;
            *pp = r->next;
            s->nreqs--;
            return r;
        }
    }
    return NULL;
}

static const struct {
    uint32_t id;
    const char *name;
} smpp_trace_names[] = {
    { GENERIC_NACK, "generic_nack" },
    { BIND_RECEIVER, "bind_receiver" },       { BIND_RECEIVER_RESP, "bind_receiver_resp" },
    { BIND_TRANSMITTER, "bind_transmitter" }, { BIND_TRANSMITTER_RESP, "bind_transmitter_resp" },
    { BIND_TRANSCEIVER, "bind_transceiver" }, { BIND_TRANSCEIVER_RESP, "bind_transceiver_resp" },
    { QUERY_SM, "query_sm" },                 { QUERY_SM_RESP, "query_sm_resp" },
    { CANCEL_SM, "cancel_sm" },               { CANCEL_SM_RESP, "cancel_sm_resp" },
    { REPLACE_SM, "replace_sm" },             { REPLACE_SM_RESP, "replace_sm_resp" },
    { SUBMIT_SM, "submit_sm" },               { SUBMIT_SM_RESP, "submit_sm_resp" },
    { DELIVER_SM, "deliver_sm" },             { DELIVER_SM_RESP, "deliver_sm_resp" },
    { DATA_SM, "data_sm" },                   { DATA_SM_RESP, "data_sm_resp" },
    { UNBIND, "unbind" },                     { UNBIND_RESP, "unbind_resp" },
    { ENQUIRE_LINK, "enquire_link" },         { ENQUIRE_LINK_RESP, "enquire_link_resp" },
    { OUTBIND, "outbind" },                   { ALERT_NOTIFICATION, "alert_notification" },
};

/* A C-Octet String at *p (before end) into out (cap bytes, cut); moves *p
 * past its NUL.  Returns 0, or -1 when the PDU ends first. */
static int smpp_trace_cstr(const uint8_t **p, const uint8_t *end, char *out, size_t cap)
{
    const uint8_t *nul = memchr(*p, '\0', (size_t)(end - *p));
    size_t n;

    if (nul == NULL)
        return -1;
    n = (size_t)(nul - *p) < cap - 1 ? (size_t)(nul - *p) : cap - 1;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p = nul + 1;
    return 0;
}

/* Offer one whole PDU (header included) to the trace bus.  SMPP thread;
 * callers test gw_trace_on() first. */
static void smpp_trace_pdu(smpp_session_t *s, gw_trace_dir_t dir, const uint8_t *pdu,
                           size_t len)
{
    const uint8_t *p = pdu + 16, *end = pdu + len;
    char src[24] = "", dst[24] = "", msgid[72] = "", svc[8], line[160], cmd[16];
    const char *name = NULL;
    gw_trace_rec_t r;
    uint32_t base;
    size_t i;

    if (len < 16)
        return;
    memset(&r, 0, sizeof(r));
    r.smpp_cmd = smpp_get32(pdu + 4);
    r.smpp_status = smpp_get32(pdu + 8);
    r.smpp_seq = smpp_get32(pdu + 12);
    for (i = 0; i < sizeof(smpp_trace_names) / sizeof(smpp_trace_names[0]); i++)
        if (smpp_trace_names[i].id == r.smpp_cmd)
            name = smpp_trace_names[i].name;
    if (name == NULL) {
        snprintf(cmd, sizeof(cmd), "0x%08x", r.smpp_cmd);
        name = cmd;
    }
    if (r.smpp_cmd == SUBMIT_SM || r.smpp_cmd == DELIVER_SM || r.smpp_cmd == DATA_SM) {
        /* service_type, source ton/npi/addr, dest ton/npi/addr (SMPP 3.4, 4.4.1) */
        if (smpp_trace_cstr(&p, end, svc, sizeof(svc)) == 0 && end - p > 2) {
            p += 2;
            if (smpp_trace_cstr(&p, end, src, sizeof(src)) == 0 && end - p > 2) {
                p += 2;
                smpp_trace_cstr(&p, end, dst, sizeof(dst));
            }
        }
    } else if ((r.smpp_cmd == SUBMIT_SM_RESP || r.smpp_cmd == DATA_SM_RESP ||
                r.smpp_cmd == QUERY_SM || r.smpp_cmd == REPLACE_SM) && len > 16) {
        smpp_trace_cstr(&p, end, msgid, sizeof(msgid));
    } else if (r.smpp_cmd == CANCEL_SM && smpp_trace_cstr(&p, end, svc, sizeof(svc)) == 0) {
        smpp_trace_cstr(&p, end, msgid, sizeof(msgid)); /* after service_type */
    }
    if (dst[0])
        snprintf(line, sizeof(line), "%s seq %u from %s to %s", name, r.smpp_seq, src, dst);
    else if (msgid[0])
        snprintf(line, sizeof(line), "%s seq %u status 0x%x message_id %s", name, r.smpp_seq,
                 r.smpp_status, msgid);
    else
        snprintf(line, sizeof(line), "%s seq %u status 0x%x", name, r.smpp_seq, r.smpp_status);
    r.kind = GW_TRACE_PDU;
    r.dir = dir;
    r.peer = s->peer;
    r.from = src;
    r.to = dst;
    r.smpp_msgid = msgid;
    r.summary = line;
    base = r.smpp_cmd & 0x7FFFFFFFu; /* a bind or its response */
    if (base != BIND_RECEIVER && base != BIND_TRANSMITTER && base != BIND_TRANSCEIVER) {
        r.raw = pdu;
        r.raw_len = len;
    }
    gw_trace_record(&r);
}

static void smpp_session_dispatch(smpp_session_t *s, const uint8_t *pdu, uint32_t len)
{
    smpp_hdr_t h;
    smpp_req_t *r = NULL;
    const char *why;

    if (smpp_wire_header(pdu, len, &h, &why) < 0)
        return; /* cannot happen: the framer cut the PDU by its command_length */
    s->rx_pdus++;
    if (gw_trace_on()) smpp_trace_pdu(s, GW_TRACE_IN, pdu, len);
    GW_DEBUG(SMPP_MOD, "%s: got command 0x%08x status 0x%x seq %u len %u", s->peer, h.cmd_id,
             h.status, h.seq, len);
    if (h.cmd_id == ENQUIRE_LINK) {
        smpp_session_respond(s, ENQUIRE_LINK_RESP, ESME_ROK, h.seq, NULL);
        return;
    }
    if (h.cmd_id & 0x80000000u) {
        r = smpp_session_take_req(s, h.seq);
        if (r == NULL) {
            GW_WARN(SMPP_MOD, "%s: response 0x%08x seq %u matches no request", s->peer,
                    h.cmd_id, h.seq);
            return;
        }
        if (h.cmd_id == ENQUIRE_LINK_RESP) {
            free(r);
            return;
        }
    }
    s->ops->on_pdu(s, &h, pdu, r);
    free(r);
}

/* Frame complete PDUs out of the input buffer. */
static void smpp_session_read_cb(struct bufferevent *bev, void *arg)
{
    smpp_session_t *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint8_t lenbuf[4];
    uint32_t len;
    const uint8_t *pdu;

    s->in_cb++;
    s->last_rx_ms = gw_now_ms();
    while (!s->dead && !s->finishing && evbuffer_get_length(in) >= 4) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) >= SMPP_OUT_MAX) {
            /* the peer does not read: stop reading too (write_cb resumes) */
            s->rx_paused = 1;
            bufferevent_disable(bev, EV_READ);
            break;
        }
        evbuffer_copyout(in, lenbuf, 4);
        len = smpp_get32(lenbuf);
        if (len < 16 || len > SMPP_MAX_PDU) {
            GW_WARN(SMPP_MOD, "%s: impossible command_length %u, closing", s->peer, len);
            smpp_session_respond(s, GENERIC_NACK, ESME_RINVCMDLEN, 0, NULL);
            smpp_session_finish(s, "bad command_length");
            break;
        }
        if (evbuffer_get_length(in) < len)
            break;
        pdu = evbuffer_pullup(in, len);
        if (pdu == NULL)
            break;
        smpp_session_dispatch(s, pdu, len);
        evbuffer_drain(in, len);
    }
    s->in_cb--;
    if (s->in_cb == 0 && s->dead)
        smpp_session_destroy(s);
    else if (s->in_cb == 0 && s->finishing &&
             evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        smpp_session_closed(s, "closed");
}

/* The output drained: finish a closing session, or resume reading. */
static void smpp_session_write_cb(struct bufferevent *bev, void *arg)
{
    smpp_session_t *s = arg;

    if (s->finishing && s->in_cb == 0) {
        smpp_session_closed(s, "closed");
    } else if (s->rx_paused && !s->dead && !s->finishing) {
        s->rx_paused = 0;
        bufferevent_enable(bev, EV_READ);
        smpp_session_read_cb(bev, s); /* what is buffered raises no event */
    }
}

static void smpp_session_event_cb(struct bufferevent *bev, short what, void *arg)
{
    smpp_session_t *s = arg;
    char why[128];

    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        s->in_cb++;
        s->ops->on_connected(s);
        s->in_cb--;
        if (s->dead)
            smpp_session_destroy(s);
        return;
    }
    unsigned long tls = bufferevent_get_openssl_error(bev);
    if (tls != 0) {
        char e[120];
        ERR_error_string_n(tls, e, sizeof e);
        snprintf(why, sizeof(why), "TLS: %s", e);
        while (bufferevent_get_openssl_error(bev) != 0)
            ; /* the rest of its queue */
    } else if (what & BEV_EVENT_EOF) {
        snprintf(why, sizeof(why), "connection closed by peer");
    } else {
        snprintf(why, sizeof(why), "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
    smpp_session_closed(s, why);
}

static void smpp_session_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    smpp_session_t *s = arg;
    int64_t now = gw_now_ms();

    (void)fd;
    (void)what;
    if (s->expire_ms && now >= s->expire_ms) {
        GW_WARN(SMPP_MOD, "%s: no bind within %d s, closing", s->peer, smpp_response_timeout_s);
        smpp_session_closed(s, "no bind in time");
        return;
    }
    if (s->idle_s && !s->finishing && now - s->last_rx_ms >= s->idle_s * 1000LL) {
        GW_INFO(SMPP_MOD, "%s: nothing from the peer for %d s, unbinding", s->peer, s->idle_s);
        s->last_rx_ms = now; /* the flush below gets its own grace period */
        smpp_session_request(s, UNBIND, NULL, NULL);
        smpp_session_finish(s, "idle");
        return;
    }
    /* a peer that never reads what we flush before closing */
    if (s->finishing && now - s->last_rx_ms >= smpp_response_timeout_s * 1000LL) {
        smpp_session_closed(s, "closed (output not drained)");
        return;
    }
    if (s->reqs && s->reqs->deadline_ms <= now) {
        GW_WARN(SMPP_MOD, "%s: no response to command 0x%08x seq %u within %d s", s->peer,
                s->reqs->cmd_id, s->reqs->seq, smpp_response_timeout_s);
        smpp_session_closed(s, "response timeout");
        return;
    }
    if (s->keepalive && !s->finishing && now - s->last_rx_ms >= smpp_enquire_link_s * 1000LL) {
        s->last_rx_ms = now; /* one enquire_link per idle period */
        smpp_session_request(s, ENQUIRE_LINK, NULL, NULL);
    }
}

void smpp_sessions_free_all(void)
{
    while (smpp_sessions)
        smpp_session_destroy(smpp_sessions);
}
