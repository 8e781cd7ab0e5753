/*
 * sip_tsx.h - the four transaction state machines of RFC 3261 section 17,
 * with RFC 6026's Accepted state for INVITE 2xx.
 *
 *   ICT   INVITE client       Calling -> Proceeding -> Completed | Accepted -> Terminated
 *   NICT  non-INVITE client   Trying -> Proceeding -> Completed -> Terminated
 *   IST   INVITE server       Proceeding -> Completed -> Confirmed | Accepted -> Terminated
 *   NIST  non-INVITE server   Trying -> Proceeding -> Completed -> Terminated
 *
 * Pure: no I/O, no clock, no allocation.  The owner (the proxy core on a
 * SIP worker) feeds each event with the time, does what the returned
 * action bits say (retransmit what it keeps, send the ACK of a non-2xx,
 * hand a message to the transaction user, report a timeout, free the
 * transaction) and asks again at sip_tsx_deadline().  Timers over a
 * reliable transport (TCP, TLS) that only absorb retransmissions are zero,
 * as section 17 says; Timer A, E and G do not run there at all.
 *
 * Threads: a transaction belongs to one thread at a time.
 */
#ifndef SIP_TSX_H
#define SIP_TSX_H

#include <stdint.h>

#define SIP_TSX_T1_MS 500 /* T1's default (RFC 3261 17.1.1.1) */
#define SIP_TSX_T2_MS 4000
#define SIP_TSX_T4_MS 5000

/* T1 in ms: the parameter sip.t1_ms (Kamailio's retr_timer1), runtime:
 * written by the parameter table, read atomically.  Timers A, E and G
 * start at T1; B, F, H, J and the proxy's wait for a CANCELled branch are
 * 64*T1.  A transaction reads it when it starts or changes state. */
extern int sip_tsx_t1_ms;
static inline int sip_tsx_t1(void)
{
    return __atomic_load_n(&sip_tsx_t1_ms, __ATOMIC_RELAXED);
}

typedef enum { SIP_TSX_ICT = 0, SIP_TSX_NICT, SIP_TSX_IST, SIP_TSX_NIST } sip_tsx_kind_t;

typedef enum {
    SIP_TSX_CALLING = 0, /* ICT: the INVITE is out, nothing came back */
    SIP_TSX_TRYING,      /* NICT: the request is out; NIST: the request came */
    SIP_TSX_PROCEEDING,  /* a provisional response came (client) or went (server; IST from the start) */
    SIP_TSX_COMPLETED,   /* a final response: absorbing its retransmissions */
    SIP_TSX_CONFIRMED,   /* IST: the ACK of a non-2xx came */
    SIP_TSX_ACCEPTED,    /* INVITE 2xx (RFC 6026): 2xx retransmissions go through */
    SIP_TSX_TERMINATED,
} sip_tsx_state_t;

/* What the owner must do after an event (bits). */
#define SIP_TSX_RETRANSMIT 0x01u /* send again the request (client) or the last response (server) */
#define SIP_TSX_SEND_ACK 0x02u   /* ICT: ACK the non-2xx final response (hop by hop) */
#define SIP_TSX_PASS_UP 0x04u    /* hand the message to the transaction user */
#define SIP_TSX_TIMEOUT 0x08u    /* tell the transaction user: no answer (B, F) / no ACK (H) */
#define SIP_TSX_FREE 0x10u       /* terminated: free it */
#define SIP_TSX_REFUSED 0x20u    /* the event makes no sense in this state: nothing done */

typedef struct sip_tsx {
    sip_tsx_kind_t kind;
    sip_tsx_state_t state;
    int reliable;        /* TCP or TLS */
    int status;          /* the last response sent (server) or received (client), 0: none */
    int64_t retx_at;     /* next retransmission (A, E, G), 0: none */
    int retx_ms;         /* its current interval */
    int64_t end_at;      /* the state's deadline (B, F, H, D, I, J, K, L, M), 0: none */
} sip_tsx_t;

/* A client transaction whose request was just sent, or a server one whose
 * request just came. */
void sip_tsx_init(sip_tsx_t *t, sip_tsx_kind_t kind, int reliable, int64_t now_ms);
/* Client: a response with status came. */
unsigned sip_tsx_response_in(sip_tsx_t *t, int status, int64_t now_ms);
/* Server: the transaction user sends a response with status (REFUSED: not
 * now, e.g. a second final response; the owner must not send it). */
unsigned sip_tsx_response_out(sip_tsx_t *t, int status, int64_t now_ms);
/* Server: the request came again (ack = 1: an ACK matching an INVITE
 * server transaction). */
unsigned sip_tsx_request_in(sip_tsx_t *t, int ack, int64_t now_ms);
/* The timers due at now_ms fired. */
unsigned sip_tsx_timer(sip_tsx_t *t, int64_t now_ms);
/* When the owner must call sip_tsx_timer next; 0: no timer runs. */
int64_t sip_tsx_deadline(const sip_tsx_t *t);
const char *sip_tsx_state_name(sip_tsx_state_t s);

#endif
