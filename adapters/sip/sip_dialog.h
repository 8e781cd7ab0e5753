/*
 * sip_dialog.h - the proxy's dialog state (RFC 3261 section 12), private to
 * adapters/sip/.
 *
 * The proxy sees the requests inside a dialog only when it record-routed
 * the INVITE, so only those dialogs are tracked: one is made when a 2xx to
 * an initial INVITE whose forwarded copy carries our Record-Route passes up
 * (the proxy's Record-Route is found among the 2xx's), and it ends with a
 * BYE that passes through (on the BYE itself, whatever its answer: a far
 * side that is gone never answers), with sip.dialog_timeout_s after the
 * answer, or with MI sip.dialogs.end (a BYE to each side).  An initial
 * INVITE the proxy forwarded that ends without a 2xx (a final status, a
 * CANCEL) leaves no dialog but a CDR all the same.  Every end is one event
 * sip.call (docs/events.md) with the call's times and cause.
 *
 * Table of contents:
 *   sip_dialog.c       the table: shards by Call-ID, a mutex each, bounded
 *                      in total (sip.dialogs_max); pure but for the locks
 *                      (tests/unit/test_sip_dialog.c).
 *   sip_dialog_hook.c  what the proxy calls (a 2xx or a final of an INVITE,
 *                      a request inside a dialog), the CDR event, trace
 *                      records, statistics, the timeout sweep.
 *   sip_dialog_mi.c    MI sip.dialogs.list / sip.dialogs.end and the BYE
 *                      the proxy builds for each side; the one place that
 *                      knows the address type of sip_peer_t.
 *   sip_dialog_bye.c   those BYEs as client transactions (NICT) of worker 0:
 *                      retransmitted over UDP until answered or Timer F.
 *
 * Threads: the table any thread (a shard's lock around each call); the
 * hooks on the worker that runs the transaction; the sweep and the MI on
 * the main thread.
 */
#ifndef SIP_DIALOG_H
#define SIP_DIALOG_H

#include <stddef.h>
#include <stdint.h>

#include "sip_proxy.h"

#define SIP_DLG_SHARDS 32
#define SIP_DLG_BUCKETS 64        /* hash chains per shard */
#define SIP_DLG_CALL_ID_MAX 128
#define SIP_DLG_TAG_MAX 64
#define SIP_DLG_URI_MAX 256
#define SIP_DLG_HDR_MAX 384
#define SIP_DLG_ROUTE_MAX 512

/* ---- parameters (sip_adapter.c's table) ---- */
typedef struct sip_dlg_conf {
    int max;          /* sip.dialogs_max: runtime, read atomically */
    int timeout_s;    /* sip.dialog_timeout_s: runtime, read atomically */
} sip_dlg_conf_t;
extern sip_dlg_conf_t sip_dlg_conf;

typedef enum {
    SIP_DLG_CONFIRMED_NA = 1, /* the 2xx passed, its ACK not yet */
    SIP_DLG_CONFIRMED,        /* the ACK of the 2xx passed too */
} sip_dlg_state_t;

/* Which side sent a request of the dialog. */
#define SIP_DLG_CALLER 0 /* A: the INVITE's From */
#define SIP_DLG_CALLEE 1 /* B: the INVITE's To, who answered */

/* One dialog, by value.  "a" is the caller (the INVITE's sender), "b"
 * the callee (who sent the 2xx). */
typedef struct sip_dlg {
    char call_id[SIP_DLG_CALL_ID_MAX];
    char tag[2][SIP_DLG_TAG_MAX];       /* [a]: From tag, [b]: the 2xx's To tag */
    char uri[2][SIP_DLG_URI_MAX];       /* From URI, To URI (no <>, no parameters) */
    char hdr[2][SIP_DLG_HDR_MAX];       /* the From and To values, tags in them */
    char contact[2][SIP_DLG_URI_MAX];   /* remote targets: the INVITE's and the 2xx's Contact */
    char route[2][SIP_DLG_ROUTE_MAX];   /* the route set towards each side as Route values
                                         * ("<uri>, <uri>"), "" when none */
    sip_peer_t peer[2];                 /* where a's INVITE came from; where b was reached */
    uint32_t cseq[2];                   /* the highest CSeq number each side sent */
    int64_t start_ms, answer_ms;        /* ms since the epoch: INVITE in, 2xx up */
    int status;                         /* the 2xx's */
    sip_dlg_state_t state;
    struct sip_dlg *next;               /* the table's chain */
} sip_dlg_t;

/* ---- sip_dialog.c: the table ---- */
typedef struct sip_dlg_table sip_dlg_table_t;

/* A table of at most *max dialogs (read atomically at each insert, so a
 * runtime parameter can be pointed at).  NULL when out of memory. */
sip_dlg_table_t *sip_dlg_table_new(const int *max);
void sip_dlg_table_free(sip_dlg_table_t *t);
/* Insert a copy of d.  0, GW_EEXIST (the same Call-ID and tags are there:
 * a retransmitted 2xx), GW_EFULL (at the bound) or GW_ENOMEM. */
int sip_dlg_insert(sip_dlg_table_t *t, const sip_dlg_t *d);
/* The dialog of a request: call_id with from_tag / to_tag in either order
 * (a request from the callee has them swapped).  Returns the side that
 * sent it (SIP_DLG_CALLER / _CALLEE) or -1 when there is none.  cseq > 0
 * raises that side's CSeq; contact (NULL: none) becomes that side's
 * remote target (a target refresh, RFC 3261 12.2); ack marks the dialog
 * confirmed (*was_na set when it was not yet); take removes it into *out
 * (may be NULL otherwise). */
int sip_dlg_request(sip_dlg_table_t *t, const char *call_id, const char *from_tag,
                    const char *to_tag, uint32_t cseq, const char *contact, int ack, int take,
                    sip_dlg_t *out, int *was_na);
/* Remove every dialog of call_id (forks share one) into out (at most
 * max); how many. */
int sip_dlg_take_call(sip_dlg_table_t *t, const char *call_id, sip_dlg_t *out, int max);
/* Remove the dialogs answered at or before before_ms into out (at most
 * max); how many (call again while it returns max). */
int sip_dlg_take_expired(sip_dlg_table_t *t, int64_t before_ms, sip_dlg_t *out, int max);
/* Call fn on a copy of each dialog (of call_id only, when not NULL), at
 * most limit of them, under each shard's lock: fn must not block or call
 * the table.  How many were visited. */
int sip_dlg_foreach(sip_dlg_table_t *t, const char *call_id, int limit,
                    void (*fn)(const sip_dlg_t *d, void *arg), void *arg);
size_t sip_dlg_count(const sip_dlg_table_t *t);

/* ---- sip_dialog_hook.c: what the proxy and the adapter call ---- */
struct sip_px_txn;
struct sip_px_branch;
struct sip_view;
struct event_base;

/* Stats, the table and the sweep's timer on main_base.  Main thread,
 * adapter init: 0 or GW_ENOMEM. */
int sip_dlg_init(struct event_base *main_base);
void sip_dlg_stop(void);  /* the sweep stops (adapter stop) */
/* Forget every dialog without an event (adapter destroy). */
void sip_dlg_free(void);
/* The first 2xx of branch b of tx passes up (resp: the response as
 * received, our Via still on top): of an initial INVITE, a dialog when we
 * record-routed it; of an INVITE or UPDATE inside one, the answering
 * side's new remote target.  Worker thread. */
void sip_dlg_answered(const struct sip_px_txn *tx, const struct sip_px_branch *b,
                      const struct sip_view *resp);
/* The initial INVITE tx is answered status >= 300 upstream: a CDR without
 * answer when a branch was started.  Worker thread. */
void sip_dlg_unanswered(const struct sip_px_txn *tx, int status);
/* A request with a To tag from src on its way through (not a
 * retransmission): its side's CSeq, an ACK confirms, a BYE ends the
 * dialog.  Worker thread. */
void sip_dlg_in_dialog(const struct sip_view *v, const sip_peer_t *src);
/* End d (already out of the table): counts, trace, the sip.call event.
 * cause a static string.  Any thread. */
void sip_dlg_end(const sip_dlg_t *d, const char *cause, int64_t end_ms);
/* The table (sip_dialog_mi.c reads it). */
sip_dlg_table_t *sip_dlg_table(void);

/* ---- sip_dialog_mi.c ---- */
/* The BYE the proxy sends to side to (SIP_DLG_CALLER / _CALLEE) of d, as
 * if from the other side: Request-URI the side's contact, its route set,
 * our Via (transport "UDP" or "TCP", via_host:via_port, branch), From /
 * To with the tags swapped for the caller, the other side's CSeq + 1.
 * Length into out, or -1 when it does not fit cap.  Pure. */
long sip_dlg_build_bye(const sip_dlg_t *d, int to, const char *transport, const char *via_host,
                       int via_port, const char *branch, char *out, size_t cap);
/* One BYE of sip.dialogs.end on its way to worker 0 (malloc'd with its
 * text). */
#define SIP_DLG_BYE_BRANCH SIP_PROXY_BRANCH_PREFIX "0-dlg-" /* then random hex */
typedef struct sip_dlg_bye {
    sip_peer_t dst;
    char call_id[SIP_DLG_CALL_ID_MAX];
    const char *side;           /* "caller" / "callee" (static) */
    char branch[64];
    size_t len;
    char text[];
} sip_dlg_bye_t;

/* ---- sip_dialog_bye.c: worker 0 ---- */
/* Send bye (taken) and keep it as a client transaction until answered. */
void sip_dlg_bye_start(sip_worker_t *w, sip_dlg_bye_t *bye);
/* A response whose top Via branch has no proxy branch on worker 0 (v: as
 * received): 1 when it answers one of our BYEs (taken), 0 otherwise. */
int sip_dlg_bye_response(sip_worker_t *w, const struct sip_view *v);
/* Free the BYEs still pending: main thread, after the workers were
 * joined, before their event bases go. */
void sip_dlg_bye_free_all(void);

/* "udp:ip:port" (or "tcp:...") of a peer into out.  Any thread. */
void sip_dlg_peer_text(const sip_peer_t *p, char *out, size_t n);
/* MI sip.dialogs.list {limit?, call_id?} (viewer), sip.dialogs.end
 * {call_id} (admin).  Main thread. */
void sip_dlg_mi_list(const json_t *params, gw_mi_reply_t *r);
void sip_dlg_mi_end(const json_t *params, gw_mi_reply_t *r);

#endif
