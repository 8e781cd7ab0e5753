/*
 * smpp_client_int.h - private to smpp_client*.c: a client connector (we
 * are the ESME of an operator's SMSC) and its binds.
 *
 *   smpp_client.c       conf, status, the connector's one ordered send
 *                       queue, its pump over the bound binds,
 *                       submit_sm_resp
 *   smpp_client_rx.c    what the SMSC sends: receipts, MO (deliver_sm,
 *                       data_sm), alert_notification
 *   smpp_client_bind.c  each bind's state machine: connect, bind, lost or
 *                       refused -> backoff, smpp.unbind / smpp.bind,
 *                       close and finalize
 *
 * A connector has 1-SMPP_CL_MAX_BINDS binds (conf "binds", "bind"): each
 * its own session, state, window, token bucket and backoff.  The send
 * queue is the connector's: a message (smpp_sub_t) is placed on a bind
 * when its first part goes out and every later part follows it there.
 *
 * Threads: the SMPP thread, except what smpp.h says any thread may call
 * (those read the atomics marked below and immutable conf).
 */
#ifndef SMPP_CLIENT_INT_H
#define SMPP_CLIENT_INT_H

#include <event2/event.h>
#include <smpp34.h>
#include "smpp.h"

#define SMPP_CL_MAX_BINDS 16

typedef enum {
    SMPP_CL_DOWN = 0,
    SMPP_CL_CONNECTING,
    SMPP_CL_BINDING,
    SMPP_CL_BOUND,
    SMPP_CL_UNBINDING,
    SMPP_CL_CLOSED,
    SMPP_CL_HELD,    /* unbound by smpp.unbind: stays down until smpp.bind */
} smpp_cl_state_t;

extern const char *const smpp_cl_state_names[];

typedef struct smpp_bind smpp_bind_t;

typedef struct smpp_sub {
    struct smpp_sub *prev, *next;
    gw_delivery_t *d;      /* ours; NULL once handed back to the core */
    smpp_out_t out;        /* the parts (smpp_out.c) */
    smpp_bind_t *bind;     /* where its parts go, from the first one; NULL: not placed */
    size_t sent, acked;
    int outstanding;       /* parts in flight */
    int linked;            /* still in the client's list */
    char ids[SMPP_MAX_PARTS][66]; /* the SMSC's id of each part, as receipts match it */
} smpp_sub_t;

struct smpp_bind {
    smpp_client_t *cl;
    int idx;               /* 0-based, as smpp.binds lists it */
    uint32_t cmd;          /* BIND_TRANSCEIVER, _TRANSMITTER or _RECEIVER */
    int outbind;           /* 1: the receiver an SMSC's outbind opens (conf "outbind"):
                            * it never connects by itself */
    /* SMPP thread */
    smpp_session_t *sess;
    struct event *retry_ev;
    int attempt;           /* failed attempts since the last good bind_resp */
    int down_logged;
    smpp_tb_t tb;          /* conf "bind_throughput" */
    /* atomics, read by smpp_client_status on other threads */
    int state, ninflight;
    int64_t next_ms;       /* wall clock of the next attempt; 0: none planned */
    uint64_t submits;      /* submit_sm answered ESME_ROK */
    uint64_t delivers;     /* deliver_sm / data_sm received */
    uint64_t bound_n;      /* good bind_resp */
    uint64_t refused;      /* bind_resp with an error */
    uint64_t lost;         /* sessions ended while bound */
    uint64_t alerts;       /* alert_notification received */
};

struct smpp_client {
    int role;              /* SMPP_ROLE_CLIENT: first, like smpp_dest's */
    smpp_client_t *next;   /* smpp_clients list, SMPP thread */
    int refs;              /* atomic */
    /* immutable after new() */
    char name[64], host[256], system_id[16], password[9], system_type[13], source[21];
    int port, window;
    int long_mode;         /* smpp_long_t: conf "long" */
    int dc0;               /* smpp_dc0_t: conf "dc0" */
    uint32_t bind_cmd;     /* conf "bind": BIND_TRANSCEIVER (default), _TRANSMITTER,
                            * _RECEIVER, or 0 for "pair" */
    int iface;             /* conf "interface_version": 0x34 (default) or 0x50 */
    double bind_tput;      /* conf "bind_throughput": submit_sm/s per bind, 0: none */
    char address_range[41];/* conf "address_range" */
    int receipt_ids;       /* smpp_rids_t: conf "receipt_ids" (smpp_id.c) */
    int rd;                /* conf "registered_delivery" 0-2 sent in every submit_sm
                            * (bits 0-1; -1, absent: the message's) */
    int tls, tls_verify;   /* conf "tls", "tls_verify" (default true) */
    char tls_ca[256], tls_name[256]; /* conf "tls_ca", "tls_server_name" (default: host) */
    smpp_status_table_t status; /* conf "status" */
    int nbinds;            /* conf "binds" (twice that for "pair"), + 1 for "outbind" */
    smpp_bind_t binds[SMPP_CL_MAX_BINDS + 1];
    /* atomics, read by conn_status on other threads */
    int closed, npending, ninflight;
    uint64_t throttled;    /* submit_sm answers that asked us to slow down (pause) */
    gw_hist_t submit_lat;  /* submit_sm -> submit_sm_resp, every bind's (gw_stats.h) */
    /* SMPP thread */
    void *tls_ctx;         /* SSL_CTX, made at the first connect */
    int64_t pause_until;   /* a pause status holds every bind until then */
    struct event *pause_ev;
    struct event *tb_ev;   /* the pump again when a bind's next token is due */
    smpp_sub_t *head, *tail, *cursor;
    int rr;                /* where the next search for a bind starts */
    int closing, stopping, finalized;
    int held;              /* smpp.unbind holds it down until smpp.bind */
};

/* the counter of alert_notification PDUs (registered when the first
 * client opens, counted by smpp_client.c) */
#define SMPP_STAT_ALERTS "smpp.client_alerts"
#define SMPP_STAT_ALERTS_HELP "alert_notification PDUs received from SMSCs on client binds"

/* the counter of receipt ids read in another base (conf receipt_ids,
 * smpp_client_rx.c) */
#define SMPP_STAT_RIDS "smpp.receipt_ids_converted"
#define SMPP_STAT_RIDS_HELP "receipt ids read in the other base before matching (receipt_ids)"

/* the counter of messages sent with the connector's registered_delivery
 * instead of their own (smpp_client.c) */
#define SMPP_STAT_RD "smpp.registered_delivery_set"
#define SMPP_STAT_RD_HELP "messages sent asking the connector's registered_delivery, not their own"

/* 1 when b may carry submit_sm (transmitter or transceiver). */
static inline int smpp_bind_tx(const smpp_bind_t *b)
{
    return b->cmd != BIND_RECEIVER;
}

static inline int smpp_bind_get(const smpp_bind_t *b)
{
    return __atomic_load_n(&b->state, __ATOMIC_RELAXED);
}

/* smpp_client.c (SMPP thread) */
/* Send what waits on the bound binds with room, tokens and no pause. */
void smpp_client_pump(smpp_client_t *cl);
/* b's session is gone (still b->sess, requests listed): forget its parts
 * in flight and send each message that was on b again, whole, on any
 * bind. */
void smpp_client_requeue(smpp_bind_t *b);
/* A response to one of b's submit_sm (req: the request it answers). */
void smpp_client_submit_resp(smpp_bind_t *b, const smpp_hdr_t *h, const uint8_t *raw,
                             const smpp_req_t *req);
/* Closing: hand every queued message back (or keep it in the store on
 * shutdown) and free the connector's timers. */
void smpp_client_release(smpp_client_t *cl);
/* smpp_client_rx.c (SMPP thread) */
/* A PDU on b's bound session that is no bind / unbind matter. */
void smpp_client_pdu(smpp_bind_t *b, smpp_session_t *s, const smpp_hdr_t *h, const uint8_t *pdu,
                     smpp_req_t *req);

/* smpp_client_bind.c (SMPP thread) */
/* The bind PDU's name ("transmitter", ...). */
const char *smpp_bind_type_name(uint32_t cmd);

#endif
