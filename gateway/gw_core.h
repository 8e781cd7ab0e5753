/*
 * gw_core.h - the path of a message through the gateway.
 *
 *   adapter in --gw_core_accept--> router (pure) --> db writer (group commit:
 *        the row, its delivery record and its events in one transaction)
 *        <--accept_cb (202 / submit_sm_resp / ack)--+
 *   core: queued --(commit)--> sending --(commit)--> target adapter send(d)
 *   target adapter --gw_core_submitted / delivered / failed / retry /
 *        requeue--> one transition: store update + event, one writer job
 *   SMSC receipt --gw_core_receipt--> applied and committed, then acked
 *
 * Every status change goes through one function (gw_core.c) that checks
 * it against the table in gw_delivery.h, counts it and hands the update
 * and its event to the writer as one job.
 *
 * The core owns a timer thread (retries, connectors not there yet); its
 * other functions run on the calling thread and hand work on through
 * queues.
 */
#ifndef GW_CORE_H
#define GW_CORE_H

#include "gw_delivery.h"
#include "gw_envelope.h"

/* Runs on the store's writer thread once env is durable (rc == 0) or could
 * not be stored (rc < 0).  It must only queue work for the adapter's own
 * thread.  It receives a borrowed env (the core holds a reference for the
 * duration of the call). */
typedef void (*gw_accept_cb_t)(gw_envelope_t *env, int rc, void *arg);

/* Take in a message built by an adapter; from here env is read-only.
 * Routes it (gw_route.h); returns at once, and cb never runs, with
 * GW_ENOROUTE (no rule matched: the caller answers 404 / an SMPP error),
 * GW_EREJECTED (a rule refused it: the caller answers with
 * gw_core_refusal()'s statuses), GW_EFULL (overload: the
 * store's queue is past db.queue_max or failing; SIP 503 with Retry-After,
 * SMPP ESME_RTHROTTLED), GW_ESTOPPED (shutting down) or GW_ENOMEM.
 * Otherwise queues the message (status queued, events received / routed /
 * queued in the same transaction) and returns 0: cb runs after the commit,
 * then the core delivers it.  A message a rule drops is stored as
 * rejected ("dropped by rule ...", event message.dropped) and also returns
 * 0: cb runs after that commit, so the sender is answered "accepted" as
 * Jasmin does, and nothing is delivered.  The caller keeps its reference.  Any
 * thread. */
int gw_core_accept(gw_envelope_t *env, gw_accept_cb_t cb, void *arg);
/* gw_core_accept of a message assembled from the stored parts of set
 * frag_key (gw_frag.h): its insert marks the set done in its transaction. */
int gw_core_accept_parts(gw_envelope_t *env, const char *frag_key, gw_accept_cb_t cb, void *arg);

/* How a routing rule refused a message (GW_EREJECTED): the statuses the
 * surfaces answer with, the reason and the rule.  A rate limit over its
 * rate is a refusal too (SIP 503, SMPP ESME_RTHROTTLED unless the rule
 * says otherwise; throttled = 1). */
typedef struct gw_refusal {
    int sip_status;
    int smpp_status;
    int throttled;
    long long rule_id;
    char rule[64];
    char reason[128];
} gw_refusal_t;

/* The refusal of the last gw_core_accept on the calling thread that
 * returned GW_EREJECTED (thread-local: valid until this thread's next
 * accept). */
const gw_refusal_t *gw_core_refusal(void);

/* Route only: what would happen (dry run).  Sets nothing; returns 0 and a
 * malloc'd target name / rule name in *target / *rule, or GW_ENOROUTE
 * (also for a rule that rejects or drops). */
int gw_core_dry_run(const gw_envelope_t *env, char **target, char **rule);

/* Delivery outcomes, called by the target adapter on its own thread; each
 * takes d back (the adapter must not touch it afterwards) and is one
 * transition.
 *   submitted: the far side took it (remote_id: its id, for receipts);
 *   delivered: the far side's final yes (SIP 2xx, a broker confirm);
 *   failed:    a permanent refusal by this target: the next target of the
 *              plan is tried, else the message fails;
 *   retry:     a temporary error: again after an exponential backoff with
 *              jitter, or the next target after core.max_attempts;
 *   requeue:   not the message's fault (its connector closed): offered
 *              again shortly, no attempt counted. */
void gw_core_submitted(gw_delivery_t *d, const char *remote_id);
/* submitted as n parts, ids[i] the far side's id of part i: a receipt for
 * any of them is placed, and the message's outcome is every part's
 * (delivered when all are; else the first other part's word). */
void gw_core_submitted_parts(gw_delivery_t *d, const char *const *ids, size_t n);
/* The same, with what the adapter knows better than the envelope: rd, the
 * registered_delivery it sent (-1: the envelope's; bits 0-1 clear: no
 * receipt will come, the delivery ends at submitted), and aliases (NULL,
 * or lines "form\tid\n": other forms of ids[] that a receipt ahead of
 * this submit may have been parked under, as gw_core_receipt_alt parks
 * one; copied). */
void gw_core_submitted_as(gw_delivery_t *d, const char *const *ids, size_t n, int rd,
                          const char *aliases);
void gw_core_delivered(gw_delivery_t *d);
void gw_core_failed(gw_delivery_t *d, int reason, const char *text);
void gw_core_retry(gw_delivery_t *d, int reason, const char *text);
void gw_core_requeue(gw_delivery_t *d);
/* retry after delay_ms exactly (0: the backoff), or failed once the
 * current target had tries attempts (0: core.max_attempts). */
void gw_core_retry_in(gw_delivery_t *d, int reason, const char *text, int delay_ms, int tries);
/* defer: the far side asked us to slow down (SMPP ESME_RTHROTTLED): back
 * to the queue for delay_ms, no attempt counted. */
void gw_core_defer(gw_delivery_t *d, int reason, const char *text, int delay_ms);

/* The connector name has room again (a window slot freed, a bind came
 * up): its queue feeds it.  Cheap and coalesced; any thread. */
void gw_core_credit(const char *name);

/* Commit, then acknowledge: cb(arg, rc) runs on the writer thread once
 * what the inbound item changes is durable; the adapter answers its peer
 * then (it must only queue). */
typedef void (*gw_ack_cb_t)(void *arg, int rc);

/* A delivery receipt: the far side's word (SMPP "stat:" values DELIVRD,
 * EXPIRED, UNDELIV, REJECTD, DELETED, UNKNOWN are final; ACCEPTD, ENROUTE
 * are not) on the message it knows as remote_id through connector.  The
 * writer finds the message by (connector, remote_id) among those waiting
 * for a receipt (db_schema.c: messages_remote), records the final
 * state and the "receipt" event (then "delivered" / "expired" / "failed")
 * in one transaction; cb runs after it with 0, or GW_ENOTFOUND for an
 * unknown id (nothing changed; the caller still acknowledges: a receipt
 * nobody can place is not the peer's to resend).  Returns 0, or an error
 * (cb never runs).  Any thread; never blocks. */
int gw_core_receipt(const char *connector, const char *remote_id, const char *stat, int err,
                    gw_ack_cb_t cb, void *arg);
/* The same for a far side that may write an id in another form than its
 * submit answer did (hex, decimal): alt is NULL or other forms of
 * remote_id, each followed by '\n', tried in order only when remote_id
 * finds nothing; a final receipt that finds nothing is parked under
 * remote_id (its submit names the forms: gw_core_submitted_as). */
int gw_core_receipt_alt(const char *connector, const char *remote_id, const char *alt,
                        const char *stat, int err, gw_ack_cb_t cb, void *arg);


/* A stored message's state, for a peer that asks (SMPP query_sm). */
typedef struct gw_query {
    char status[16];           /* gw_status_name() */
    char source_connector[64]; /* who sent it ("account:<id>" for a customer) */
    int64_t updated_at;        /* ms since the epoch */
    int reason;                /* its protocol code (SMPP command_status, SIP status) */
} gw_query_t;
/* On a pool thread: rc 0 and q, or GW_ENOTFOUND (q NULL).  Only queue. */
typedef void (*gw_query_cb_t)(void *arg, int rc, const gw_query_t *q);
/* Read message id's state off the caller's thread (gateway/gw_query.c).
 * 0, or an error (cb never runs).  Any thread. */
int gw_core_query(const char *id, gw_query_cb_t cb, void *arg);

/* The AMQP message_ids of the messages connector took in the last
 * window_ms, newest first, at most limit: fn(junction's id, message_id,
 * when taken) for each (gw_query.c).  Returns how many, or GW_ESTORE.
 * Blocks on the store: only for a thread that may, an AMQP consumer
 * seeding its deduplication at start, so a delivery taken before a crash
 * is still known as a duplicate after it. */
int gw_core_recent_amqp_ids(const char *connector, int64_t window_ms, int limit,
                            void (*fn)(const char *id, const char *amqp_msgid, int64_t at,
                                       void *arg),
                            void *arg);

/* A sender takes back messages that still wait in their queue (SMPP
 * cancel_sm; gateway/gw_cancel.c).  owner is their source connector
 * ("account:<system_id>"): only its own messages are touched.  Either the
 * message id, or (id NULL) every message from address from to address to
 * (both normalised as gw_addr_normalise does for inbound ones).  Each
 * message the core thread still holds queued goes queued -> failed
 * (reason "cancelled", event message.cancelled), and so does one that
 * waits only in the store of a spilled queue, while its row is still
 * queued.  cb(arg, 0) runs on the writer thread (the core thread when one
 * was in the store) once all of them committed, or cb(arg, GW_ENOTFOUND)
 * when none was withdrawable (sending or later, final, someone else's,
 * unknown).  Returns 0, or
 * GW_EINVAL / GW_ENOMEM (cb never runs).  Any thread; never blocks. */
int gw_core_cancel(const char *owner, const char *id, const gw_addr_t *from, const gw_addr_t *to,
                   gw_ack_cb_t cb, void *arg);
/* Change a copy of a queued message's envelope (SMPP replace_sm): runs on
 * the core thread, must not block; 0, or an error (nothing changes). */
typedef int (*gw_edit_fn_t)(gw_envelope_t *env, void *arg);
/* Replace the content of owner's queued message id by edit's copy: the
 * new envelope is committed (event message.replaced), then the message
 * goes on waiting in its queue with it and cb(arg, 0) runs on the writer
 * thread (the core thread for one only in the store).  cb(arg,
 * GW_ENOTFOUND) when it is not withdrawable (as gw_core_cancel), or
 * edit's error.  edit_arg must stay valid until cb.  Returns 0, or
 * GW_EINVAL / GW_ENOMEM (cb never runs).  Any thread. */
int gw_core_replace(const char *owner, const char *id, gw_edit_fn_t edit, void *edit_arg,
                    gw_ack_cb_t cb, void *arg);
/* The counters of cancels and replaces in the store; gw_core_start. */
void gw_cancel_stats(void);

/* Start-up: re-offer every message the store holds as received, queued or
 * sending; those found sending (a crash while they were with a peer) are
 * flagged as possible duplicates.  Main thread, after the adapters
 * started.  Returns the count or < 0. */
int gw_core_recover(void);

int gw_core_start(void);
/* Stop accepting (GW_ESTOPPED from now on). */
void gw_core_stop_accepting(void);
void gw_core_stop(void);

#endif
