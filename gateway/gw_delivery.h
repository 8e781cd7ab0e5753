/*
 * gw_delivery.h - the delivery record: how one envelope is being delivered.
 *
 * Content and delivery are apart.  The envelope (gw_envelope.h) is the
 * message as accepted and never changes afterwards; it may be shared by
 * every thread that reads it.  A delivery is the core's record of getting
 * that content somewhere:
 *
 *   plan     the route that matched, the strategy that chose the targets
 *            ("single", "failover") and the targets in order;
 *   state    the current target (cur), attempts per target and in all,
 *            status and reason, the time of the next attempt, the far
 *            side's id (remote_id) and flags (possible duplicate).
 *
 * A delivery has one owner at a time and no reference count: the core
 * while it is queued or waits for a retry, the target adapter from a
 * successful send() until the adapter reports an outcome
 * (gw_core_submitted / delivered / failed / retry / requeue), which hands it
 * back.  The owner alone reads and writes the state; the store gets
 * snapshots.
 *
 * Status changes only through gw_core's transition function, which checks
 * gw_dlv_transition_ok() — the table below is the whole life of a message:
 *
 *   received -> queued | rejected
 *   queued   -> sending | expired | failed | queued (failover from a
 *               target that stayed down)
 *   sending  -> submitted | delivered | queued (retry, failover, requeue)
 *               | failed | expired
 *   submitted-> delivered | failed | expired
 *   delivered, failed, expired, rejected: final
 *
 * Checklist, a new field: struct, gw_dlv_*_text/parse if it persists,
 * db_writer.c's job snapshot and SQL, db_schema.c's migration, db_msgs.c's
 * row reader, ARCHITECTURE.md.
 *
 * Threads: any; a delivery only on its owner's thread.
 */
#ifndef GW_DELIVERY_H
#define GW_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "gw_envelope.h"

#define GW_PLAN_MAX 8      /* targets in one plan */
#define GW_NAME_MAX 64     /* connector and route names */
#define GW_REMOTE_ID_MAX 66

/* flags */
#define GW_DLV_DUP 1u      /* may have reached the far side before (a crash while sending) */
#define GW_DLV_NORCPT 2u   /* submitted without asking for a receipt: its last state (the
                            * store's receipt index and receipt-wait sweep skip it, the
                            * retention purge takes it; db_schema.c repeats the bit) */
#define GW_DLV_PARTS 4u    /* submitted as several parts, each with its own remote id (the
                            * store's parts table): its outcome is the fold of every
                            * part's receipt (db_schema.c repeats the bit) */

typedef enum {
    GW_STRAT_SINGLE = 0,
    GW_STRAT_FAILOVER,
} gw_strategy_t;

typedef struct gw_delivery {
    gw_envelope_t *env;              /* the content; one reference, read-only */
    char *env_json;                  /* its JSON text for events; owned, may be NULL */
    /* the plan: fixed once routed */
    char route[GW_NAME_MAX];
    gw_strategy_t strategy;
    int ntargets;
    char targets[GW_PLAN_MAX][GW_NAME_MAX];
    /* the state: the owner's */
    int cur;                         /* index of the current target */
    int tries[GW_PLAN_MAX];          /* attempts per target */
    int attempts;                    /* attempts in all */
    gw_status_t status;
    int reason;                      /* protocol code: SMPP command_status, SIP status, 0 */
    char reason_text[96];
    int64_t next_at;                 /* ms since the epoch; 0 = now */
    char remote_id[GW_REMOTE_ID_MAX];/* the far side's id of the submit (its first part's) */
    char *part_ids;                  /* GW_DLV_PARTS: every part's id in order, each
                                      * followed by '\n'; owned, NULL otherwise */
    char *rcpt_aliases;              /* submitted: other forms of its ids that a receipt
                                      * ahead of the submit may be parked under, lines
                                      * "form\tid\n" (gw_core_submitted_as); owned or NULL */
    unsigned flags;
    int64_t qseq;                    /* its place in its connector's queue (store order) */
    void *counted;                   /* the core queue it is outstanding against, from
                                      * "sending" until its outcome is queued for the
                                      * store (gw_core.c, gw_cq.c) */
    struct gw_delivery *qnext;       /* the owner's list link (a core queue) */
} gw_delivery_t;

/* A new delivery of env (takes a reference of its own), status received,
 * empty plan.  NULL on allocation failure. */
gw_delivery_t *gw_dlv_new(gw_envelope_t *env);
/* Drop d and its envelope reference.  NULL is accepted.  A delivery still
 * counted against a core queue (d->counted) is settled first, through the
 * hook the core sets (gw_dlv_set_free_hook), so no path that drops a
 * delivery can leave its queue waiting for it. */
void gw_dlv_free(gw_delivery_t *d);
void gw_dlv_set_free_hook(void (*settle)(void *counted));

/* The plan from a route: targets is one connector name or a
 * comma-separated list (failover in that order).  0, or GW_EINVAL for an
 * empty or too long list. */
int gw_dlv_plan_set(gw_delivery_t *d, const char *route, const char *targets);
/* The plan from a routing decision: the n targets in the order the
 * rule's strategy chose them (the first preferred, the rest the failover
 * order).  0, or GW_EINVAL (none, more than GW_PLAN_MAX, a name empty or
 * too long: the plan is left empty). */
int gw_dlv_plan_targets(gw_delivery_t *d, const char *route, const char *const *targets,
                        size_t n);
/* The current target's name ("" when the plan is empty). */
const char *gw_dlv_target(const gw_delivery_t *d);
/* Move to the next target of the plan: 1 when there is one, 0 when the plan
 * is exhausted (cur unchanged). */
int gw_dlv_next_target(gw_delivery_t *d);

/* Stored forms.  plan: "strategy:a,b,c"; tries: "2,0,1".  Both write at
 * most n bytes into buf and return the length, or GW_EINVAL when it does not
 * fit.  The parsers return 0 or GW_EINVAL. */
int gw_dlv_plan_text(const gw_delivery_t *d, char *buf, size_t n);
int gw_dlv_plan_parse(gw_delivery_t *d, const char *text);
int gw_dlv_tries_text(const gw_delivery_t *d, char *buf, size_t n);
int gw_dlv_tries_parse(gw_delivery_t *d, const char *text);

void gw_dlv_set_reason(gw_delivery_t *d, int reason, const char *text);

/* Backoff before attempt n + 1 (n >= 1 attempts failed) on one target:
 * base_ms * 2^(n-1), capped at cap_ms, with "equal jitter": half of it
 * fixed, half random (rnd: any random value), so a burst of messages that
 * failed together does not come back together.  Result in
 * [delay/2, delay]. */
int gw_dlv_backoff_ms(int n, int base_ms, int cap_ms, unsigned rnd);

/* The transition table: 1 when from -> to is an edge of the life above. */
int gw_dlv_transition_ok(gw_status_t from, gw_status_t to);
/* 1 for delivered, failed, expired, rejected. */
int gw_status_final(gw_status_t st);
const char *gw_strategy_name(gw_strategy_t s);

#endif
