/*
 * gw_cq.h - the core's connector queues (private to gateway/).
 *
 * Every target name has one queue, owned by the core thread, whether or
 * not a connector of that name exists right now.  A queued delivery waits
 * in it; the core feeds the connector oldest first (in the store's queue
 * order, qseq) within the room the adapter gives (conn_room), at most
 * its connector's "throughput" per second, and an adapter that had none
 * says when it has again (gw_core_credit).
 *
 * Memory is bounded: at most core.queue_memory deliveries per queue are in
 * its FIFO; past that the queue "spills": arrivals are held aside (as many
 * again) or stay in SQLite only, and the core pages the store back in, in
 * qseq order, on the worker pool as room frees.  Start-up is the same:
 * every queue starts spilled and pages in.
 * Deliveries waiting out a retry backoff sit in the queue's retry list.
 *
 * A queue's backlog (every queued row of the target, in memory or only in
 * the store) is kept exact by the transition function and bounds
 * admission: past core.queue_max a new message is refused (GW_EFULL).
 *
 * Threads: gw_cq_ready, gw_cq_retry, gw_core_credit and the backlog calls
 * from any thread; the queues themselves on the core thread only.
 */
#ifndef GW_CQ_H
#define GW_CQ_H

#include <jansson.h>
#include <stdint.h>

#include "gw_delivery.h"

/* Start / stop the core thread (queues, retries, the sweep).  Main
 * thread. */
int gw_cq_start(void);
/* Stopping: feed no connector any more (outcomes still settle). */
void gw_cq_quiesce(void);
void gw_cq_stop(void);

/* d is queued in the store (committed, d->qseq set) and ready for its
 * current target now; the queue takes it over.  Any thread. */
void gw_cq_ready(gw_delivery_t *d);
/* d is queued in the store and waits until d->next_at (a retry's backoff,
 * or the token a rule's rate limit booked for a new message); the queue
 * takes it over.  Any thread. */
void gw_cq_retry(gw_delivery_t *d);

/* The delivery counted against queue (its d->counted, cleared by the
 * caller) left "sending": its outcome is queued for the store (gw_core.c),
 * or it is freed (gw_dlv_free); it no longer counts against the queue's
 * room.  Any thread. */
void gw_cq_settle_queue(void *queue);

/* The direct path: when nothing waits for target name (no backlog, an
 * empty queue, not spilled) and its connector has room, reserve one
 * outstanding place for a new message, which then goes straight to
 * "sending" in its insert and to the connector after the commit, without
 * a turn through the queue.  Returns the queue (for d->counted) or NULL
 * (take the queue).  Any thread. */
void *gw_cq_reserve(const char *name);

/* The backlog of target name (queued rows), and a change of it.  Any
 * thread. */
int64_t gw_cq_backlog(const char *name);
/* Whether the connector name can take a message now (enabled, its room
 * above 0: an SMPP client bound, ...); 0 when its messages can only wait.
 * Any thread; cheap. */
int gw_cq_can_send(const char *name);
void gw_cq_backlog_add(const char *name, int64_t delta);

/* The queue of target name exists from now on, empty unless messages
 * wait: a connector's queue and counters show (at 0) on queues.list and
 * /metrics from its opening, not from its first message.  Any thread. */
void gw_cq_declare(const char *name);

/* A delivery for target name entered status st (gw_core.c counts every
 * status here): its connector's counters, exposed per connector on
 * /metrics.  Any thread. */
void gw_cq_count(const char *name, gw_status_t st);

/* Withdrawal (gw_cancel.c: an SMPP customer's cancel_sm / replace_sm).
 * On the core thread, which alone feeds connectors: every delivery that
 * waits in memory (a FIFO or a retry list) with pick(d, arg) true is
 * unlinked and handed to each(d, arg), which takes it over (status still
 * queued, no longer counted in memory); then done(arg, n) with their
 * number.  A delivery that is sending (popped by the pump) is in no list,
 * so it cannot be withdrawn: the pump and the withdrawal are one thread,
 * and whichever runs first has it.  Only deliveries no page can read
 * again are taken (qseq <= the queue's cursor, or any while the queue is
 * not spilled), so a withdrawn row never comes back through the pager
 * while its change is being committed; arrivals held aside while a queue
 * is spilled, and rows only in the store, are not withdrawn (gw_cq_hold_id
 * is their way).  done gets
 * GW_ESTOPPED when the core stopped first.  Any thread; 0 or GW_ENOMEM
 * (nothing runs). */
typedef int (*gw_cq_pick_fn_t)(const gw_delivery_t *d, void *arg);
int gw_cq_withdraw(gw_cq_pick_fn_t pick, void (*each)(gw_delivery_t *d, void *arg),
                   void (*done)(void *arg, int n), void *arg);

/* A message that waits only in the store (gw_cancel.c): its row is
 * changed by a conditional writer job, and until that outcome is known
 * the core must not send, nor keep, any copy of it.  gw_cq_hold_id(id)
 * takes every copy memory holds (held aside, or above a spilled queue's
 * cursor) and catches every one that arrives (a page, a hand-over) while
 * the change runs; 0, GW_EEXIST (another change of id runs) or
 * GW_ENOMEM.  gw_cq_unhold_id(id, gone, env, env_json) with the outcome:
 * gone, the row is final (its copies freed); env (borrowed, with its
 * text), the row committed a new envelope (its copies take it and go back
 * to their queues); neither, nothing changed (its copies go back as they
 * were).  After a change the entry lives until every page asked for
 * before its outcome was known has come back, so a page read before the
 * commit and merged after it cannot bring the old row back.  Both on the
 * core thread. */
int gw_cq_hold_id(const char *id);
void gw_cq_unhold_id(const char *id, int gone, gw_envelope_t *env, const char *env_json);
/* fn(arg, 0) on the core thread, or fn(arg, GW_ESTOPPED) when it stopped
 * first.  Any thread; 0 or GW_ENOMEM (fn never runs). */
int gw_cq_call(void (*fn)(void *arg, int rc), void *arg);

/* Start-up: seed the queues from the store (counts; every queue pages
 * in).  Main thread, after gw_cq_start.  Returns the number of queued
 * messages found. */
int64_t gw_cq_recover(void);

/* [{name, backlog, memory, retrying, spilled, outstanding, down_s}]; new
 * reference.  Any thread (a snapshot under the registry lock). */
json_t *gw_cq_status(void);

#endif
