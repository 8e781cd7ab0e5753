/*
 * sip_tsx.c - the transaction state machines (sip_tsx.h; RFC 3261 17.1.1,
 * 17.1.2, 17.2.1, 17.2.2 and RFC 6026 section 7).
 *
 * Timers, T1 = 500 ms, T2 = 4 s, T4 = 5 s:
 *   A  ICT retransmits the INVITE, from T1, doubling (unreliable only)
 *   B  ICT gives up in Calling after 64*T1
 *   D  ICT leaves Completed after 32 s (0 on a reliable transport)
 *   E  NICT retransmits, from T1, doubling to T2 (T2 once Proceeding)
 *   F  NICT gives up after 64*T1
 *   K  NICT leaves Completed after T4 (0 reliable)
 *   G  IST retransmits its non-2xx final, from T1, doubling to T2 (unreliable)
 *   H  IST gives up waiting for the ACK after 64*T1
 *   I  IST leaves Confirmed after T4 (0 reliable)
 *   J  NIST leaves Completed after 64*T1 (0 reliable)
 *   L  IST leaves Accepted after 64*T1
 *   M  ICT leaves Accepted after 64*T1
 * A timer of 0 ms ends the state at once (the event returns FREE).
 *
 * Threads: see sip_tsx.h.
 */
#include "sip_tsx.h"

#define SIP_TSX_64T1 (64 * sip_tsx_t1())

int sip_tsx_t1_ms = SIP_TSX_T1_MS;
#define SIP_TSX_TIMER_D_MS 32000

static const char *const sip_tsx_names[] = {
    "calling", "trying", "proceeding", "completed", "confirmed", "accepted", "terminated",
};

const char *sip_tsx_state_name(sip_tsx_state_t s)
{
    return (unsigned)s <= SIP_TSX_TERMINATED ? sip_tsx_names[s] : "?";
}

/* Into state s with its deadline after ms (0 ms: terminated at once). */
static unsigned sip_tsx_enter(sip_tsx_t *t, sip_tsx_state_t s, int ms, int64_t now)
{
    t->state = s;
    t->retx_at = 0;
    if (s == SIP_TSX_TERMINATED || ms == 0) {
        t->state = SIP_TSX_TERMINATED;
        t->end_at = 0;
        return SIP_TSX_FREE;
    }
    t->end_at = now + ms;
    return 0;
}

/* Start retransmitting every ms (unreliable transports only). */
static void sip_tsx_retx(sip_tsx_t *t, int ms, int64_t now)
{
    if (t->reliable)
        return;
    t->retx_ms = ms;
    t->retx_at = now + ms;
}

void sip_tsx_init(sip_tsx_t *t, sip_tsx_kind_t kind, int reliable, int64_t now_ms)
{
    t->kind = kind;
    t->reliable = reliable != 0;
    t->status = 0;
    t->retx_at = 0;
    t->retx_ms = 0;
    t->end_at = 0;
    switch (kind) {
    case SIP_TSX_ICT:
        t->state = SIP_TSX_CALLING;
        t->end_at = now_ms + SIP_TSX_64T1; /* B */
        sip_tsx_retx(t, sip_tsx_t1(), now_ms); /* A */
        break;
    case SIP_TSX_NICT:
        t->state = SIP_TSX_TRYING;
        t->end_at = now_ms + SIP_TSX_64T1; /* F */
        sip_tsx_retx(t, sip_tsx_t1(), now_ms); /* E */
        break;
    case SIP_TSX_IST:
        t->state = SIP_TSX_PROCEEDING;
        break;
    default: /* SIP_TSX_NIST */
        t->state = SIP_TSX_TRYING;
        break;
    }
}

unsigned sip_tsx_response_in(sip_tsx_t *t, int status, int64_t now_ms)
{
    int provisional = status < 200, ok = status >= 200 && status < 300;

    if (t->kind == SIP_TSX_ICT) {
        switch (t->state) {
        case SIP_TSX_CALLING:
        case SIP_TSX_PROCEEDING:
            t->status = status;
            if (provisional) { /* no more A or B: the proxy's Timer C is the TU's */
                t->state = SIP_TSX_PROCEEDING;
                t->retx_at = 0;
                t->end_at = 0;
                return SIP_TSX_PASS_UP;
            }
            if (ok)
                return SIP_TSX_PASS_UP | sip_tsx_enter(t, SIP_TSX_ACCEPTED, SIP_TSX_64T1, now_ms);
            return SIP_TSX_SEND_ACK | SIP_TSX_PASS_UP |
                   sip_tsx_enter(t, SIP_TSX_COMPLETED, t->reliable ? 0 : SIP_TSX_TIMER_D_MS,
                                 now_ms);
        case SIP_TSX_ACCEPTED: /* 2xx retransmissions go up: the proxy forwards them */
            return ok ? SIP_TSX_PASS_UP : 0;
        case SIP_TSX_COMPLETED: /* the final again: ACK again, nothing up */
            return provisional || ok ? 0 : SIP_TSX_SEND_ACK;
        default:
            return SIP_TSX_REFUSED;
        }
    }
    if (t->kind != SIP_TSX_NICT)
        return SIP_TSX_REFUSED;
    switch (t->state) {
    case SIP_TSX_TRYING:
    case SIP_TSX_PROCEEDING:
        t->status = status;
        if (provisional) {
            if (t->state == SIP_TSX_TRYING && t->retx_at != 0) /* E at T2 from now on */
                t->retx_ms = SIP_TSX_T2_MS;
            t->state = SIP_TSX_PROCEEDING;
            return SIP_TSX_PASS_UP;
        }
        return SIP_TSX_PASS_UP |
               sip_tsx_enter(t, SIP_TSX_COMPLETED, t->reliable ? 0 : SIP_TSX_T4_MS, now_ms);
    case SIP_TSX_COMPLETED:
        return 0; /* absorbed */
    default:
        return SIP_TSX_REFUSED;
    }
}

unsigned sip_tsx_response_out(sip_tsx_t *t, int status, int64_t now_ms)
{
    int provisional = status < 200, ok = status >= 200 && status < 300;

    if ((t->kind != SIP_TSX_IST && t->kind != SIP_TSX_NIST) ||
        (t->state != SIP_TSX_TRYING && t->state != SIP_TSX_PROCEEDING))
        return SIP_TSX_REFUSED; /* a final was sent already */
    t->status = status;
    if (provisional) {
        t->state = SIP_TSX_PROCEEDING;
        return 0;
    }
    if (t->kind == SIP_TSX_NIST)
        return sip_tsx_enter(t, SIP_TSX_COMPLETED, t->reliable ? 0 : SIP_TSX_64T1, now_ms); /* J */
    if (ok)
        return sip_tsx_enter(t, SIP_TSX_ACCEPTED, SIP_TSX_64T1, now_ms); /* L */
    sip_tsx_enter(t, SIP_TSX_COMPLETED, SIP_TSX_64T1, now_ms); /* H */
    sip_tsx_retx(t, sip_tsx_t1(), now_ms);                    /* G */
    return 0;
}

unsigned sip_tsx_request_in(sip_tsx_t *t, int ack, int64_t now_ms)
{
    if (t->kind == SIP_TSX_NIST) {
        if (ack)
            return SIP_TSX_REFUSED;
        /* Trying: absorbed; Proceeding, Completed: the last response again */
        return t->state == SIP_TSX_PROCEEDING || t->state == SIP_TSX_COMPLETED ? SIP_TSX_RETRANSMIT
                                                                             : 0;
    }
    if (t->kind != SIP_TSX_IST)
        return SIP_TSX_REFUSED;
    switch (t->state) {
    case SIP_TSX_PROCEEDING: /* the INVITE again: the last provisional again */
        return ack ? SIP_TSX_REFUSED : t->status != 0 ? SIP_TSX_RETRANSMIT : 0;
    case SIP_TSX_COMPLETED:
        if (!ack)
            return SIP_TSX_RETRANSMIT;
        return sip_tsx_enter(t, SIP_TSX_CONFIRMED, t->reliable ? 0 : SIP_TSX_T4_MS, now_ms); /* I */
    case SIP_TSX_ACCEPTED: /* an ACK of the 2xx that matched: the TU's; an INVITE again: absorbed */
        return ack ? SIP_TSX_PASS_UP : 0;
    default: /* Confirmed absorbs everything */
        return 0;
    }
}

unsigned sip_tsx_timer(sip_tsx_t *t, int64_t now_ms)
{
    unsigned act = 0;

    if (t->state == SIP_TSX_TERMINATED)
        return SIP_TSX_FREE;
    if (t->end_at != 0 && now_ms >= t->end_at) {
        /* B, F: no answer; H: no ACK; the others only end a state */
        int timeout = (t->kind == SIP_TSX_ICT && t->state == SIP_TSX_CALLING) ||
                      (t->kind == SIP_TSX_NICT &&
                       (t->state == SIP_TSX_TRYING || t->state == SIP_TSX_PROCEEDING)) ||
                      (t->kind == SIP_TSX_IST && t->state == SIP_TSX_COMPLETED);
        return (timeout ? SIP_TSX_TIMEOUT : 0) | sip_tsx_enter(t, SIP_TSX_TERMINATED, 0, now_ms);
    }
    if (t->retx_at != 0 && now_ms >= t->retx_at) {
        int cap = t->kind == SIP_TSX_ICT ? 0 : SIP_TSX_T2_MS; /* A doubles without a cap */
        act |= SIP_TSX_RETRANSMIT;
        if (t->kind == SIP_TSX_NICT && t->state == SIP_TSX_PROCEEDING)
            t->retx_ms = SIP_TSX_T2_MS;
        else
            t->retx_ms = cap != 0 && t->retx_ms * 2 > cap ? cap : t->retx_ms * 2;
        t->retx_at = now_ms + t->retx_ms;
    }
    return act;
}

int64_t sip_tsx_deadline(const sip_tsx_t *t)
{
    if (t->retx_at != 0 && (t->end_at == 0 || t->retx_at < t->end_at))
        return t->retx_at;
    return t->end_at;
}
