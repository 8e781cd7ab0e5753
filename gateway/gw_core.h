/*
 * gw_core.h - the path of a message through the gateway.
 *
 *   adapter in --gw_core_accept--> router (pure) --> db writer (group commit)
 *        <--accept_cb (202 / submit_sm_resp / ack)--+--> target adapter send()
 *   target adapter --gw_core_delivered / gw_core_failed / gw_core_retry-->
 *        store update + event
 *
 * The core owns no thread of its own except a retry timer thread; its
 * functions run on the calling adapter's thread and hand work on through
 * queues.
 */
#ifndef GW_CORE_H
#define GW_CORE_H

#include "gw_envelope.h"

/* Runs on the store's writer thread once env is durable (rc == 0) or could
 * not be stored (rc < 0).  It must only queue work for the adapter's own
 * thread.  It receives a borrowed env (the core holds a reference for the
 * duration of the call). */
typedef void (*gw_accept_cb_t)(gw_envelope_t *env, int rc, void *arg);

/* Take in a message built by an adapter.  Routes it; when no rule matches
 * returns GW_ENOROUTE at once and cb never runs (the caller answers 404 /
 * an SMPP error).  Otherwise sets env->route / env->target, status queued,
 * emits the "received" and "routed" events, queues env for the store and
 * returns 0: cb runs later, then the core hands env to the target
 * connector's send().  The core takes its own reference; the caller keeps
 * its own.  Returns GW_ESTOPPED while shutting down.  Any thread. */
int gw_core_accept(gw_envelope_t *env, gw_accept_cb_t cb, void *arg);

/* Route only: what would happen (dry run).  Sets nothing; returns 0 and a
 * malloc'd target name / rule name in *target / *rule, or GW_ENOROUTE. */
int gw_core_dry_run(const gw_envelope_t *env, char **target, char **rule);

/* Delivery outcomes, called by the target adapter on its own thread while it
 * owns the delivery state.  Each updates the store and emits an event. */
void gw_core_submitted(gw_envelope_t *env, const char *remote_id);
void gw_core_delivered(gw_envelope_t *env);
/* Final failure: status failed with reason. */
void gw_core_failed(gw_envelope_t *env, int reason, const char *text);
/* Temporary failure: counts an attempt and schedules a new send() after
 * backoff (core.retry_base_ms * 2^attempts, capped), or fails the message
 * when core.max_attempts is reached or it has expired.  Takes over the
 * caller's reference to env. */
void gw_core_retry(gw_envelope_t *env, int reason, const char *text);

/* A delivery receipt: the far side's final word (SMPP "stat:" values
 * DELIVRD, EXPIRED, UNDELIV, REJECTD, DELETED, UNKNOWN; ACCEPTD and ENROUTE
 * are not final) on the message it knows as remote_id through connector.
 * Finds the envelope through the receipt map (waiting once for the store's
 * writer when the map row is still queued), records the final state and
 * emits "receipt" then "delivered" / "expired" / "failed".  Adapter
 * thread; reads the store.  Returns 0, or GW_ENOTFOUND for an unknown id. */
int gw_core_receipt(const char *connector, const char *remote_id, const char *stat, int err);

/* Give back an envelope the adapter can no longer deliver through no fault
 * of the message (its connector was closed or replaced): the core offers it
 * again shortly to whatever connector then carries the target name, without
 * counting an attempt.  Takes over the caller's reference. */
void gw_core_requeue(gw_envelope_t *env);

/* Build a routing table from the routes table and install it; on a bad
 * rule the running table stays and err says why.  Main thread or MI. */
int gw_routes_reload(char *err, size_t errlen);

/* Start-up: re-offer every message the store holds as queued.  Main
 * thread, after the adapters started.  Returns the count or < 0. */
int gw_core_recover(void);

int gw_core_start(void);
/* Stop accepting (GW_ESTOPPED from now on). */
void gw_core_stop_accepting(void);
void gw_core_stop(void);

#endif
