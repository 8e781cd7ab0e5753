/*
 * gw_core.c - the path of a message: route, commit, deliver, account.
 *
 * gw_core_accept() runs on the receiving adapter's thread: it asks the
 * router (pure, lock-free on a held table) for a plan, makes the delivery
 * record (gw_delivery.h) and queues the new row, its delivery state and
 * its first events to the store's writer in one job.  After the group
 * commit the writer thread calls gw_core_on_insert(), which first lets the
 * adapter answer its peer ("accepted" only now) and then starts the
 * delivery.
 *
 * Delivering: a queued delivery waits in its target's connector queue
 * (gw_cq.c, the core thread), which feeds the connector oldest first while
 * it has room.  A delivery goes queued -> sending, and only once that is
 * committed is it handed to the target connector's send() (which only
 * queues): so a message that may have reached the far side is always
 * marked so in the store, and a crash finds it as "sending" and flags it a
 * possible duplicate when it sends it again.  Outcomes come back from the
 * target adapter's thread (gw_core_submitted / delivered / failed / retry /
 * requeue), which hand the delivery back.
 *
 * gw_core_change() is the only place a status changes: it checks the edge
 * against gw_dlv_transition_ok(), counts it, builds the event and queues
 * the update and the event as one writer job; a continuation (what to do
 * with the delivery next) runs after that job committed.  Updates are
 * retried by the writer until they commit, so no outcome is lost.
 *
 * Retries wait in their queue's retry list; a requeued delivery goes back
 * to its queue by name, so a connector that was replaced or came back
 * picks it up.  The queues' backlogs are kept here, at every edge into or
 * out of queued, and bound admission.
 *
 * Threads: accept on adapter threads; continuations on the writer thread;
 * outcomes on adapter threads; begin_send / expire / move / cancel_one /
 * cancel_stored on the core thread.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../db/db.h"
#include "gw_adapter.h"
#include "gw_config.h"
#include "gw_core.h"
#include "gw_core_int.h"
#include "gw_cq.h"
#include "gw_frag.h"
#include "gw_report.h"
#include "gw_str.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_queue.h"
#include "gw_route.h"
#include "gw_stats.h"
#include "gw_trace.h"


typedef struct gw_core_accept_ctx {
    gw_delivery_t *d;
    gw_accept_cb_t cb;
    void *arg;
    int held;       /* a rate limit (1) or its sender's deferral (2) holds
                     * it until d->next_at */
    int mirrored;   /* the insert carries a message.mirrored event */
} gw_core_accept_ctx_t;

typedef struct gw_core_rcpt_ctx {
    gw_ack_cb_t cb;
    void *arg;
    gw_status_t status;
    char target[GW_NAME_MAX]; /* the connector the receipt came on */
} gw_core_rcpt_ctx_t;

static int gw_core_accepting; /* atomic */
/* Accepts between their check of gw_core_accepting and the hand-over to the
 * store (atomic).  gw_core_stop_accepting() waits for it to drain, so a
 * store flush after it covers every message that will ever be accepted. */
static int gw_core_inflight;
static int gw_core_running;

/* Counters of every status a delivery enters, and the rest. */
static gw_stat_t *gw_core_st_status[GW_ST__COUNT];
static gw_stat_t *gw_core_st_accepted, *gw_core_st_noroute, *gw_core_st_overload,
    *gw_core_st_retries, *gw_core_st_failovers, *gw_core_st_store_err, *gw_core_st_bad_edge,
    *gw_core_st_dups, *gw_core_st_rcpt_unknown, *gw_core_st_rcpt_parked, *gw_core_st_rejected, *gw_core_st_dropped,
    *gw_core_st_rate_held, *gw_core_st_mirrored, *gw_core_st_mirror_nosink;

/* A delivery for target entered status st: the process-wide counter and
 * its connector's (gw_cq_count, /metrics).  Every count of a status goes
 * through here.  Any thread. */
static void gw_core_count(const char *target, gw_status_t st)
{
    gw_stat_add(gw_core_st_status[st], 1);
    gw_cq_count(target, st);
}

int gw_core_dry_run(const gw_envelope_t *env, char **target, char **rule)
{
    json_t *ex = NULL, *t0;
    const char *kind, *conn, *name;
    int rc = gw_route_explain(env, &ex); /* dry: no token taken, no round-robin step */

    if (rc != 0)
        return rc;
    kind = json_string_value(json_object_get(ex, "decision"));
    t0 = json_array_get(json_object_get(ex, "targets"), 0);
    conn = json_string_value(json_object_get(t0, "connector"));
    name = json_string_value(json_object_get(json_object_get(ex, "rule"), "name"));
    rc = GW_ENOROUTE;
    if (kind != NULL && strcmp(kind, "route") == 0 && conn != NULL && name != NULL) {
        *target = strdup(conn);
        *rule = strdup(name);
        rc = (*target && *rule) ? GW_OK : GW_ENOMEM;
    }
    json_decref(ex);
    return rc;
}

/* ---- the one transition function ---------------------------------------- */

/* Change d's status to `to` (reason, text), count it, and queue the store
 * update with its event ("message.<event>", detail) as one writer job.
 * then(arg = d) runs on the writer thread after the commit and owns d;
 * without then, d stays the caller's (the job holds a snapshot).
 * Returns 0, or GW_EINVAL for an edge the table refuses (logged, counted,
 * nothing changed) or GW_ESTOPPED / GW_ENOMEM (d unchanged in the store,
 * which recovery will see; then never runs). */
static int gw_core_change_from(gw_delivery_t *d, const char *from_target, gw_status_t to,
                               int reason, const char *text, const char *event,
                               const char *detail, db_commit_cb_t then,
                               void *then_arg);

static int gw_core_change(gw_delivery_t *d, gw_status_t to, int reason, const char *text,
                          const char *event, const char *detail, db_commit_cb_t then)
{
    return gw_core_change_from(d, NULL, to, reason, text, event, detail, then,
                               then ? d : NULL);
}

/* gw_core_change for a delivery whose target changed since it became
 * queued (a failover): from_target names the queue it leaves; then runs
 * with then_arg. */
static int gw_core_change_from(gw_delivery_t *d, const char *from_target, gw_status_t to,
                               int reason, const char *text, const char *event,
                               const char *detail, db_commit_cb_t then,
                               void *then_arg)
{
    gw_evbatch_t ev = { 0 };
    gw_status_t from = d->status;
    char target[GW_NAME_MAX], left[GW_NAME_MAX];
    void *q = NULL;
    int rc;

    if (!gw_dlv_transition_ok(from, to)) {
        gw_stat_add(gw_core_st_bad_edge, 1);
        GW_ERR("core", "%s: refused transition %s -> %s", d->env->id, gw_status_name(from),
               gw_status_name(to));
        return GW_EINVAL;
    }
    d->status = to;
    gw_dlv_set_reason(d, reason, text);
    if (gw_trace_on())
        gw_trace_state(d, detail ? detail : text);
    gw_event_add(&ev, d, d->env_json, event ? event : gw_status_name(to), detail);
    /* everything that reads d happens before the hand-over: with a
     * continuation, d belongs to the writer's job from then on */
    gw_strlcpy(target, gw_dlv_target(d), sizeof target);
    /* an edge out of sending ends d's outstanding place (d->counted) */
    if (to != GW_ST_SENDING) {
        q = d->counted;
        d->counted = NULL;
    }
    gw_strlcpy(left, from_target ? from_target : target, sizeof left);
    GW_DEBUG("core", "%s %s -> %s via %s%s%s", d->env->id, gw_status_name(from),
             gw_status_name(to), target, text && *text ? ": " : "", text ? text : "");
    /* the queues' backlogs: every edge into or out of queued */
    if (from == GW_ST_QUEUED)
        gw_cq_backlog_add(left, -1);
    if (to == GW_ST_QUEUED)
        gw_cq_backlog_add(target, 1);
    rc = db_dlv_update(d, &ev, then, then_arg);
    if (rc < 0) {
        gw_evbatch_clear(&ev);
        if (from == GW_ST_QUEUED)
            gw_cq_backlog_add(left, 1);
        if (to == GW_ST_QUEUED)
            gw_cq_backlog_add(target, -1);
        d->status = from;
        if (q != NULL)
            d->counted = q; /* nothing changed: d keeps its place */
        GW_ERR("core", "%s: state %s not queued for the store: %s", d->env->id,
               gw_status_name(to), gw_strerror(rc));
        return rc;
    }
    /* The place is free as soon as the outcome is queued for the store,
     * not once it committed: the writer commits its jobs in the order they
     * were queued, and whatever takes the place goes to "sending" in a job
     * queued after this one, so no commit ever leaves more rows sending
     * than the room (what a crash may send twice), while the next
     * delivery's mark shares this outcome's commit instead of waiting a
     * writer cycle behind it. */
    if (q != NULL)
        gw_cq_settle_queue(q);
    gw_core_count(target, to);
    return GW_OK;
}

/* gw_core_change for a delivery the caller is done with: d is freed once
 * the change is queued (the job holds what the store needs; the queue it
 * was outstanding against is settled then). */
static void gw_core_finish(gw_delivery_t *d, gw_status_t to, int reason, const char *text,
                           const char *detail)
{
    (void)gw_core_change_from(d, NULL, to, reason, text, NULL, detail, NULL, NULL);
    gw_dlv_free(d); /* settles a place the change could not */
}

/* ---- accepting ------------------------------------------------------------ */

static void gw_core_on_sending(void *arg, int rc, int64_t qseq);

/* Writer thread: the row is durable (rc 0) or not. */
static void gw_core_on_insert(void *arg, int rc, int64_t qseq)
{
    gw_core_accept_ctx_t *ctx = arg;
    gw_delivery_t *d = ctx->d;
    int held = ctx->held, mirrored = ctx->mirrored;

    if (gw_trace_on())
        gw_trace_state(d, rc == 0 ? "stored" : "not stored");
    ctx->cb(d->env, rc, ctx->arg);
    free(ctx);
    if (rc != 0) {
        gw_stat_add(gw_core_st_store_err, 1);
        if (d->status == GW_ST_QUEUED)
            gw_cq_backlog_add(gw_dlv_target(d), -1);
        gw_dlv_free(d); /* nothing stored, nothing to deliver; a reserved place is settled */
        return;
    }
    gw_stat_add(gw_core_st_accepted, 1);
    if (mirrored)
        gw_stat_add(gw_core_st_mirrored, 1);
    d->qseq = qseq;
    if (d->status == GW_ST_SENDING) {
        gw_core_on_sending(d, 0, 0); /* the direct path: straight to the connector */
    } else if (held) {
        /* over its rule's rate: it waits in the queue's retry list until
         * the token booked for it is due (next_at is in its row, so a
         * restart pages it back with the same time) */
        if (held == 1)
            gw_stat_add(gw_core_st_rate_held, 1);
        gw_cq_retry(d);
    } else {
        gw_cq_ready(d);
    }
}

/* Writer thread: a dropped message's row (final, rejected) is durable, or
 * not: the sender hears so only now, as for every message. */
static void gw_core_on_dropped(void *arg, int rc, int64_t qseq)
{
    gw_core_accept_ctx_t *ctx = arg;

    (void)qseq;
    ctx->cb(ctx->d->env, rc, ctx->arg);
    if (rc == 0)
        gw_stat_add(gw_core_st_dropped, 1);
    if (rc == 0 && ctx->mirrored)
        gw_stat_add(gw_core_st_mirrored, 1);
    if (rc != 0)
        gw_stat_add(gw_core_st_store_err, 1);
    gw_dlv_free(ctx->d);
    free(ctx);
}

static int gw_core_mirror_event(gw_evbatch_t *ev, const gw_delivery_t *d,
                                const gw_route_extra_t *x);

/* A rule dropped d: stored as rejected with the rule's reason and the
 * events received / dropped (and the rule's mirror copy), answered as
 * accepted after the commit, never delivered (Jasmin's drop).  Returns as
 * gw_core_accept. */
static int gw_core_accept_drop(gw_delivery_t *d, const gw_route_extra_t *extra,
                               const char *frag_key, gw_accept_cb_t cb, void *arg)
{
    gw_core_accept_ctx_t *ctx = calloc(1, sizeof(*ctx));
    gw_evbatch_t ev = { 0 };
    int rc = GW_ENOMEM;

    d->env_json = gw_env_to_text(d->env);
    if (ctx == NULL || d->env_json == NULL)
        goto out_free;
    if (gw_trace_on())
        gw_trace_env(d->env, GW_TRACE_ROUTE, "dropped");
    gw_event_add(&ev, d, d->env_json, "received", NULL);
    d->status = GW_ST_REJECTED;
    gw_event_add(&ev, d, d->env_json, "dropped", d->reason_text);
    if (extra->mirror_exchange[0] != '\0')
        ctx->mirrored = gw_core_mirror_event(&ev, d, extra);
    ctx->d = d;
    ctx->cb = cb;
    ctx->arg = arg;
    rc = db_dlv_insert_frag(d, d->env_json, &ev, frag_key, gw_core_on_dropped, ctx);
    if (rc == 0)
        return GW_OK;
    if (rc == GW_EFULL)
        gw_stat_add(gw_core_st_overload, 1);
out_free:
    gw_evbatch_clear(&ev);
    free(ctx);
    gw_dlv_free(d);
    return rc;
}

/* The rule's mirror copy as the event message.mirrored in the insert's
 * batch: it lands in the outbox in the message's own transaction, and the
 * AMQP links publish its envelope to the rule's exchange after the commit
 * (adapters/amqp/amqp_conn.c), with the outbox's guarantee: a broker that
 * is away gets it later, in order.  1 when added; 0 (counted, traced) when
 * no AMQP connector listens for events, or the batch is full. */
static int gw_core_mirror_event(gw_evbatch_t *ev, const gw_delivery_t *d,
                                const gw_route_extra_t *x)
{
    int n = ev->n;

    if (gw_events_active())
        gw_event_add_mirror(ev, d, d->env_json, x->mirror_exchange, x->mirror_key);
    if (ev->n > n) {
        if (gw_trace_on())
            gw_trace_envf(d->env, GW_TRACE_ROUTE, "mirror to exchange %s key %s",
                          x->mirror_exchange, x->mirror_key);
        return 1;
    }
    gw_stat_add(gw_core_st_mirror_nosink, 1);
    if (gw_trace_on())
        gw_trace_envf(d->env, GW_TRACE_ROUTE, "mirror to exchange %s: no amqp connector to "
                      "publish it", x->mirror_exchange);
    return 0;
}

/* The time env's sender deferred it to (tag "deferred_until"), 0 when none. */
static int64_t gw_core_deferred_until(const gw_envelope_t *env)
{
    const char *t = json_string_value(json_object_get(env->tags, "deferred_until"));

    return t != NULL ? strtoll(t, NULL, 10) : 0;
}

/* The body of gw_core_accept, run while counted in gw_core_inflight. */
static int gw_core_accept_counted(gw_envelope_t *env, const char *frag_key, gw_accept_cb_t cb,
                                  void *arg)
{
    gw_core_accept_ctx_t *ctx = NULL;
    gw_evbatch_t ev = { 0 };
    char target[GW_NAME_MAX];
    gw_refusal_t refusal;
    gw_route_extra_t extra;
    gw_delivery_t *d;
    int direct;
    int rc;

    if (env->expires_at == 0)
        env->expires_at = env->created_at +
                          (int64_t)__atomic_load_n(&gw_config.validity_s, __ATOMIC_RELAXED) * 1000;
    d = gw_dlv_new(env);
    if (d == NULL)
        return GW_ENOMEM;
    rc = gw_route_decide(env, d, &refusal, &extra); /* rewrites env: not stored yet */
    if (rc == GW_EDROPPED)
        return gw_core_accept_drop(d, &extra, frag_key, cb, arg);
    if (rc != GW_OK) {
        if (rc == GW_ENOROUTE)
            gw_stat_add(gw_core_st_noroute, 1);
        else if (rc == GW_EREJECTED)
            gw_stat_add(gw_core_st_rejected, 1);
        gw_dlv_free(d);
        return rc;
    }
    if (gw_trace_on())
        gw_trace_route(d);
    if (gw_cq_backlog(gw_dlv_target(d)) >=
        __atomic_load_n(&gw_config.queue_max, __ATOMIC_RELAXED)) {
        /* admission: this connector's backlog is full */
        gw_stat_add(gw_core_st_overload, 1);
        gw_dlv_free(d);
        return GW_EFULL;
    }
    rc = GW_ENOMEM;
    d->env_json = gw_env_to_text(env);
    ctx = calloc(1, sizeof(*ctx));
    if (d->env_json == NULL || ctx == NULL)
        goto out_free;
    /* a rate limit with "over": "queue" booked a later token: the row is
     * stored with that next_at and waits for it in the retry list */
    if (extra.hold_until_ms > gw_now_ms()) {
        d->next_at = extra.hold_until_ms;
        ctx->held = 1;
    }
    /* its sender deferred it (tag "deferred_until", ms since the epoch:
     * messages.inject deferred_s, Kannel's deferred): it waits the same way */
    if (gw_core_deferred_until(env) > gw_now_ms() && gw_core_deferred_until(env) > d->next_at) {
        d->next_at = gw_core_deferred_until(env);
        ctx->held = 2;
    }
    d->status = GW_ST_QUEUED; /* received -> queued: the first edge, in the insert */
    gw_event_add(&ev, d, d->env_json, "received", NULL);
    gw_event_add(&ev, d, d->env_json, "routed", d->route);
    gw_event_add(&ev, d, d->env_json, "queued",
                 ctx->held == 1 ? "held by the rule's rate limit"
                 : ctx->held == 2 ? "deferred by its sender" : NULL);
    if (extra.mirror_exchange[0] != '\0')
        ctx->mirrored = gw_core_mirror_event(&ev, d, &extra);
    /* The direct path: nothing waits for the target and it has room, so
     * the insert itself takes queued -> sending (one row write less, no
     * turn through the queue); the row is "sending" from its commit on,
     * as the crash accounting wants.  Not for a held message. */
    if (!ctx->held && (d->counted = gw_cq_reserve(gw_dlv_target(d))) != NULL) {
        d->status = GW_ST_SENDING;
        gw_event_add(&ev, d, d->env_json, "sending", NULL);
    }
    ctx->d = d;
    ctx->cb = cb;
    ctx->arg = arg;
    /* d is the insert's from the hand-over on: read it before */
    gw_strlcpy(target, gw_dlv_target(d), sizeof target);
    GW_DEBUG("core", "%s from %s to %s routed by %s to %s", env->id,
             env->from.address ? env->from.address : "-", env->to.address, d->route, target);
    direct = d->counted != NULL;
    if (!direct)
        gw_cq_backlog_add(target, 1);
    rc = db_dlv_insert_frag(d, d->env_json, &ev, frag_key, gw_core_on_insert, ctx);
    if (rc != 0) {
        if (!direct)
            gw_cq_backlog_add(target, -1);
        if (rc == GW_EFULL)
            gw_stat_add(gw_core_st_overload, 1);
        goto out_free; /* gw_dlv_free settles a reserved place */
    }
    gw_core_count(target, GW_ST_QUEUED);
    if (direct)
        gw_core_count(target, GW_ST_SENDING);
    return GW_OK;

out_free:
    gw_evbatch_clear(&ev);
    free(ctx);
    gw_dlv_free(d);
    return rc;
}

int gw_core_accept_parts(gw_envelope_t *env, const char *frag_key, gw_accept_cb_t cb, void *arg)
{
    int rc = GW_ESTOPPED;

    /* sequentially consistent with gw_core_stop_accepting: either it sees
     * us counted, or we see the flag down */
    __atomic_add_fetch(&gw_core_inflight, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&gw_core_accepting, __ATOMIC_SEQ_CST))
        rc = gw_core_accept_counted(env, frag_key, cb, arg);
    __atomic_sub_fetch(&gw_core_inflight, 1, __ATOMIC_SEQ_CST);
    return rc;
}

int gw_core_accept(gw_envelope_t *env, gw_accept_cb_t cb, void *arg)
{
    return gw_core_accept_parts(env, NULL, cb, arg);
}

/* ---- delivering ----------------------------------------------------------- */

/* Writer thread: a change to queued committed; back to its queue. */
static void gw_core_on_requeued(void *arg, int rc, int64_t qseq)
{
    gw_delivery_t *d = arg;

    (void)rc; /* updates always commit in the end */
    d->qseq = qseq;
    gw_cq_ready(d);
}

/* Writer thread: a retry's change to queued committed; it waits in its
 * queue's retry list until d->next_at. */
static void gw_core_on_retry(void *arg, int rc, int64_t qseq)
{
    gw_delivery_t *d = arg;

    (void)rc;
    d->qseq = qseq;
    gw_cq_retry(d);
}

/* Writer thread: "sending" is durable; hand d to its connector.  When it
 * cannot take it after all, d goes back to queued and waits. */
static void gw_core_on_sending(void *arg, int rc, int64_t qseq)
{
    gw_delivery_t *d = arg;
    char target[GW_NAME_MAX];
    gw_connector_t *c;
    int src = GW_ENOTFOUND;

    (void)rc;
    (void)qseq;
    gw_strlcpy(target, gw_dlv_target(d), sizeof target);
    c = gw_connector_get(target);
    if (c && c->enabled && c->adapter->send)
        src = c->adapter->send(c, d);
    if (c)
        gw_connector_put(c);
    if (src != 0) {
        GW_ENV_DEBUG(d->env, "core", "%s: connector %s cannot take it now (%s)", d->env->id,
                     target, gw_strerror(src));
        if (gw_core_change(d, GW_ST_QUEUED, 0, "connector not ready", NULL, NULL,
                           gw_core_on_requeued) < 0)
            gw_dlv_free(d); /* settles it; stays sending in the store: recovery resends it */
    }
}

void gw_core_send_direct(gw_delivery_t *d)
{
    gw_core_count(gw_dlv_target(d), GW_ST_SENDING);
    gw_core_on_sending(d, 0, 0);
}

int gw_core_begin_send(gw_delivery_t *d)
{
    int rc = gw_core_change(d, GW_ST_SENDING, 0, NULL, NULL, NULL, gw_core_on_sending);

    if (rc < 0)
        gw_dlv_free(d); /* settles it; stays queued in the store: recovery resends it */
    return rc;
}

void gw_core_expire(gw_delivery_t *d)
{
    gw_core_finish(d, GW_ST_EXPIRED, 0, "validity period passed", NULL);
}

void gw_core_move(gw_delivery_t *d, const char *why)
{
    char from[GW_NAME_MAX], detail[200];

    gw_strlcpy(from, gw_dlv_target(d), sizeof from);
    if (!gw_dlv_next_target(d)) {
        gw_cq_ready(d); /* nowhere to go: back where it was */
        return;
    }
    snprintf(detail, sizeof detail, "failover from %.60s to %.60s: %.40s", from,
             gw_dlv_target(d), why);
    GW_ENV_INFO(d->env, "core", "%s: %s", d->env->id, detail);
    gw_stat_add(gw_core_st_failovers, 1);
    if (gw_core_change_from(d, from, GW_ST_QUEUED, 0, why, NULL, detail,
                            gw_core_on_requeued, d) < 0)
        gw_dlv_free(d); /* the row keeps its old target: recovery resends it there */
}

int gw_core_cancel_one(gw_delivery_t *d, const char *detail, db_commit_cb_t then, void *arg)
{
    int rc = gw_core_change_from(d, NULL, GW_ST_FAILED, 0, "cancelled", "cancelled", detail,
                                 then, arg);

    if (rc == 0)
        gw_dlv_free(d); /* the job holds its snapshot and, for a report, the envelope */
    return rc;
}

typedef struct gw_core_stored_ctx {
    char target[GW_NAME_MAX];
    db_commit_cb_t then;
    void *arg;
} gw_core_stored_ctx_t;

/* Writer thread: a conditional cancel committed; counted only when it
 * changed the row. */
static void gw_core_on_cancel_stored(void *arg, int rc, int64_t qseq)
{
    gw_core_stored_ctx_t *ctx = arg;

    if (rc == 0) {
        gw_cq_backlog_add(ctx->target, -1);
        gw_core_count(ctx->target, GW_ST_FAILED);
    }
    ctx->then(ctx->arg, rc, qseq);
    free(ctx);
}

int gw_core_cancel_stored(gw_delivery_t *d, const char *detail, db_commit_cb_t then, void *arg)
{
    gw_core_stored_ctx_t *ctx = calloc(1, sizeof *ctx);
    gw_evbatch_t ev = { 0 };
    int rc = GW_ENOMEM;

    if (ctx == NULL)
        goto out_free;
    gw_strlcpy(ctx->target, gw_dlv_target(d), sizeof ctx->target);
    ctx->then = then;
    ctx->arg = arg;
    d->status = GW_ST_FAILED;
    gw_dlv_set_reason(d, 0, "cancelled");
    if (gw_trace_on())
        gw_trace_state(d, detail);
    gw_event_add(&ev, d, d->env_json, "cancelled", detail);
    rc = db_dlv_update_if_queued(d, &ev, gw_core_on_cancel_stored, ctx);
    if (rc < 0) {
        gw_evbatch_clear(&ev);
        GW_ERR("core", "%s: cancel not queued for the store: %s", d->env->id, gw_strerror(rc));
        goto out_free;
    }
    gw_dlv_free(d);
    return GW_OK;

out_free:
    free(ctx);
    d->status = GW_ST_QUEUED;
    return rc;
}

/* Count one attempt on the current target. */
static void gw_core_count_attempt(gw_delivery_t *d)
{
    d->attempts++;
    if (d->cur < GW_PLAN_MAX)
        d->tries[d->cur]++;
}

/* submitted with registered_delivery rd as sent (-1: the envelope's). */
static void gw_core_submitted_rd(gw_delivery_t *d, const char *remote_id, int rd)
{
    gw_core_count_attempt(d);
    gw_strlcpy(d->remote_id, remote_id ? remote_id : "", sizeof d->remote_id);
    /* no SMSC delivery receipt asked for (registered_delivery bits 0-1
     * clear, as the message or its connector said): none will come, so
     * submitted is where this delivery ends */
    if (((rd >= 0 ? rd : d->env->registered_delivery) & 0x3) == 0)
        d->flags |= GW_DLV_NORCPT;
    else
        d->flags &= ~GW_DLV_NORCPT;
    gw_core_finish(d, GW_ST_SUBMITTED, 0, NULL, remote_id);
}

void gw_core_submitted(gw_delivery_t *d, const char *remote_id)
{
    gw_core_submitted_rd(d, remote_id, -1);
}

void gw_core_submitted_parts(gw_delivery_t *d, const char *const *ids, size_t n)
{
    gw_core_submitted_as(d, ids, n, -1, NULL);
}

void gw_core_submitted_as(gw_delivery_t *d, const char *const *ids, size_t n, int rd,
                          const char *aliases)
{
    size_t len = 0, i;

    for (i = 0; n > 1 && i < n; i++)
        len += strlen(ids[i]) + 1;
    free(d->part_ids);
    d->part_ids = n > 1 ? malloc(len + 1) : NULL;
    if (d->part_ids != NULL) {
        char *p = d->part_ids;
        for (i = 0; i < n; i++) {
            size_t k = strlen(ids[i]);
            memcpy(p, ids[i], k);
            p[k] = '\n';
            p += k + 1;
        }
        *p = '\0';
        d->flags |= GW_DLV_PARTS;
    } else if (n > 1) {
        GW_ERR("core", "%s: out of memory: only its first part's receipt can be placed",
               d->env->id);
    }
    free(d->rcpt_aliases);
    d->rcpt_aliases = aliases != NULL && aliases[0] != '\0' ? strdup(aliases) : NULL;
    if (aliases != NULL && aliases[0] != '\0' && d->rcpt_aliases == NULL)
        GW_ERR("core", "%s: out of memory: a receipt ahead of its submit in another base "
               "stays parked", d->env->id);
    gw_core_submitted_rd(d, n > 0 ? ids[0] : NULL, rd);
}

void gw_core_delivered(gw_delivery_t *d)
{
    if (d->status != GW_ST_SUBMITTED)
        gw_core_count_attempt(d);
    gw_core_finish(d, GW_ST_DELIVERED, 0, NULL, NULL);
}

/* Move d to its plan's next target and deliver it there, or fail it when
 * the plan is exhausted.  why: the reason for leaving the current one. */
static void gw_core_failover(gw_delivery_t *d, int reason, const char *text, const char *why)
{
    char detail[200];
    const char *from = gw_dlv_target(d);

    gw_strlcpy(detail, from, sizeof detail);
    if (!gw_dlv_next_target(d)) {
        GW_ENV_INFO(d->env, "core", "%s to %s via %s failed: %d %s (%s)", d->env->id,
                    d->env->to.address, from, reason, text ? text : "", why);
        gw_core_finish(d, GW_ST_FAILED, reason, text, why);
        return;
    }
    snprintf(detail, sizeof detail, "failover from %.60s to %.60s: %.30s", d->targets[d->cur - 1],
             gw_dlv_target(d), why);
    GW_ENV_INFO(d->env, "core", "%s: %s", d->env->id, detail);
    gw_stat_add(gw_core_st_failovers, 1);
    d->next_at = 0;
    /* the row leaves sending, so no queue loses a backlog entry */
    if (gw_core_change(d, GW_ST_QUEUED, reason, text, NULL, detail, gw_core_on_requeued) < 0)
        gw_dlv_free(d);
}

void gw_core_failed(gw_delivery_t *d, int reason, const char *text)
{
    gw_core_count_attempt(d);
    gw_core_failover(d, reason, text, "refused");
}

/* The backoff for n failed attempts, from the runtime parameters. */
static int gw_core_backoff_ms(int n)
{
    unsigned r = 0;

    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
        r = (unsigned)rand();
    return gw_dlv_backoff_ms(n, __atomic_load_n(&gw_config.retry_base_ms, __ATOMIC_RELAXED),
                             __atomic_load_n(&gw_config.retry_max_ms, __ATOMIC_RELAXED), r);
}

void gw_core_retry(gw_delivery_t *d, int reason, const char *text)
{
    gw_core_retry_in(d, reason, text, 0, 0);
}

void gw_core_defer(gw_delivery_t *d, int reason, const char *text, int delay_ms)
{
    d->next_at = gw_now_ms() + (delay_ms > 0 ? delay_ms : 1000);
    GW_ENV_DEBUG(d->env, "core", "%s deferred %d ms (%d %s)", d->env->id, delay_ms, reason,
                 text ? text : "");
    if (gw_core_change(d, GW_ST_QUEUED, reason, text, NULL, text, gw_core_on_retry) < 0)
        gw_dlv_free(d); /* stays sending in the store: recovery resends it */
}

void gw_core_retry_in(gw_delivery_t *d, int reason, const char *text, int delay_ms, int tries)
{
    int max_attempts = tries > 0 ? tries : __atomic_load_n(&gw_config.max_attempts, __ATOMIC_RELAXED);
    int n, delay;

    gw_core_count_attempt(d);
    n = d->tries[d->cur < GW_PLAN_MAX ? d->cur : 0];
    if (n >= max_attempts) {
        gw_core_failover(d, reason, text, "too many attempts");
        return;
    }
    delay = delay_ms > 0 ? delay_ms : gw_core_backoff_ms(n);
    d->next_at = gw_now_ms() + delay;
    gw_stat_add(gw_core_st_retries, 1);
    GW_ENV_DEBUG(d->env, "core", "%s attempt %d failed (%d %s); next in %d ms", d->env->id, n,
                 reason, text ? text : "", delay);
    if (gw_core_change(d, GW_ST_QUEUED, reason, text, NULL, text, gw_core_on_retry) < 0)
        gw_dlv_free(d); /* stays sending in the store: recovery resends it */
}

void gw_core_requeue(gw_delivery_t *d)
{
    /* not the message's fault: no attempt counted, no backoff; the queue
     * feeds it again when its connector (the new one) has room */
    if (gw_core_change(d, GW_ST_QUEUED, 0, "connector closed", NULL, NULL,
                       gw_core_on_requeued) < 0)
        gw_dlv_free(d);
}

/* ---- receipts ------------------------------------------------------------- */

static void gw_core_on_receipt(void *arg, int rc, const char *id)
{
    gw_core_rcpt_ctx_t *ctx = arg;

    /* unknown when it came; a final one is also parked, in case it came
     * ahead of its submit_sm_resp (db.receipts_unparked: placed later) */
    if (rc == GW_ENOTFOUND || rc == GW_EAGAIN)
        gw_stat_add(gw_core_st_rcpt_unknown, 1);
    if (rc == GW_EAGAIN)
        gw_stat_add(gw_core_st_rcpt_parked, 1);
    else if (rc == 0 && ctx->status < GW_ST__COUNT)
        gw_core_count(ctx->target, ctx->status);
    (void)id;
    if (ctx->cb)
        ctx->cb(ctx->arg, rc);
    free(ctx);
}

int gw_core_receipt(const char *connector, const char *remote_id, const char *stat, int err,
                    gw_ack_cb_t cb, void *arg)
{
    return gw_core_receipt_alt(connector, remote_id, NULL, stat, err, cb, arg);
}

int gw_core_receipt_alt(const char *connector, const char *remote_id, const char *alt,
                        const char *stat, int err, gw_ack_cb_t cb, void *arg)
{
    static const struct {
        const char *stat;
        gw_status_t status;
    } finals[] = {
        { "DELIVRD", GW_ST_DELIVERED }, { "EXPIRED", GW_ST_EXPIRED }, { "UNDELIV", GW_ST_FAILED },
        { "REJECTD", GW_ST_FAILED },    { "DELETED", GW_ST_FAILED },  { "UNKNOWN", GW_ST_FAILED },
    };
    gw_core_rcpt_ctx_t *ctx = calloc(1, sizeof(*ctx));
    int rc;

    if (gw_trace_on())
        gw_trace_receipt(connector, remote_id, stat);
    if (ctx == NULL)
        return GW_ENOMEM;
    ctx->cb = cb;
    ctx->arg = arg;
    gw_strlcpy(ctx->target, connector ? connector : "", sizeof ctx->target);
    ctx->status = GW_ST__COUNT; /* not final: the receipt is only an event */
    for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++)
        if (strcmp(stat, finals[i].stat) == 0)
            ctx->status = finals[i].status;
    rc = db_receipt_apply(connector, remote_id, alt, ctx->status, err, stat, gw_core_on_receipt,
                          ctx);
    if (rc < 0)
        free(ctx);
    return rc;
}

/* ---- start-up ------------------------------------------------------------- */

static void gw_core_recover_one(gw_delivery_t *d, char *env_json, void *arg)
{
    int *dups = arg;

    d->env_json = env_json;
    if (d->status == GW_ST_SENDING) {
        /* it was with a peer when we stopped: it may have arrived */
        d->flags |= GW_DLV_DUP;
        (*dups)++;
        gw_stat_add(gw_core_st_dups, 1);
        GW_INFO("core", "%s: was being sent to %s when junction stopped; sending again, "
                "flagged as a possible duplicate", d->env->id, gw_dlv_target(d));
        if (gw_core_change(d, GW_ST_QUEUED, 0, "restarted while sending", NULL,
                           "possible duplicate: restarted while sending",
                           gw_core_on_requeued) < 0)
            gw_dlv_free(d);
        return;
    }
    gw_dlv_free(d); /* only sending rows are read */
}

int gw_core_recover(void)
{
    int dups = 0;
    int64_t queued = gw_cq_recover();
    int n = queued < 0 ? (int)queued : db_msgs_pending(gw_core_recover_one, &dups);

    if (n < 0) {
        GW_ERR("core", "cannot read the messages left in the store");
        return n;
    }
    if (queued > 0 || dups > 0)
        GW_INFO("core", "recovered from the store: %lld queued message(s), %d that were being "
                "sent (sent again, flagged as possible duplicates)", (long long)queued, dups);
    return (int)queued + dups;
}

int gw_core_start(void)
{
    static const char *const help[GW_ST__COUNT] = {
        "messages received", "deliveries queued (new, retried, failed over)",
        "deliveries handed to a connector", "messages the far side took (awaiting a receipt)",
        "messages confirmed delivered", "messages failed for good",
        "messages expired before delivery", "messages rejected",
    };
    char name[32];

    for (int i = 0; i < GW_ST__COUNT; i++) {
        /* names: static strings, registered once per process */
        static char names[GW_ST__COUNT][32];
        snprintf(name, sizeof name, "core.%s", gw_status_name((gw_status_t)i));
        memcpy(names[i], name, sizeof name);
        gw_core_st_status[i] = gw_stat(names[i], help[i]);
    }
    gw_cancel_stats();
    gw_core_st_accepted = gw_stat("core.accepted", "messages accepted (durably stored)");
    gw_core_st_noroute = gw_stat("core.no_route", "messages refused: no route");
    gw_core_st_rejected = gw_stat("core.rejected", "messages refused by a routing rule (reject, rate limit)");
    gw_core_st_dropped = gw_stat("core.dropped", "messages dropped by a routing rule (answered as accepted)");
    gw_core_st_rate_held = gw_stat("core.rate_held", "messages over a rule's rate limit (over: "
                                   "queue) stored and held back until their token is due");
    gw_core_st_mirrored = gw_stat("core.mirrored", "mirror copies committed to the outbox for "
                                  "AMQP (a rule's mirror action)");
    gw_core_st_mirror_nosink = gw_stat("core.mirror_unpublished", "mirror copies not made: no "
                                       "amqp connector was open to publish them");
    gw_core_st_overload = gw_stat("core.overload", "messages refused: the store is overloaded");
    gw_core_st_retries = gw_stat("core.retries", "delivery attempts to retry");
    gw_core_st_failovers = gw_stat("core.failovers", "deliveries moved to the next target");
    gw_core_st_store_err = gw_stat("core.store_errors", "messages the store could not commit");
    gw_core_st_bad_edge = gw_stat("core.bad_transitions", "status changes the table refused");
    gw_core_st_dups = gw_stat("core.possible_duplicates",
                              "messages sent again after a restart while sending");
    gw_core_st_rcpt_unknown = gw_stat("core.receipts_unknown",
                                      "receipts that matched no message waiting for one when "
                                      "they came");
    gw_core_st_rcpt_parked = gw_stat("core.receipts_early",
                                     "final receipts for no message waiting yet, parked in the "
                                     "store until its submit_sm_resp is in (an hour at most)");
    db_writer_set_hooks(gw_events_rows, gw_events_publish);
    gw_report_install();
    gw_frag_init();
    if (gw_cq_start() != 0)
        return GW_ERROR;
    gw_core_running = 1;
    __atomic_store_n(&gw_core_accepting, 1, __ATOMIC_RELEASE);
    return GW_OK;
}

void gw_core_stop_accepting(void)
{
    __atomic_store_n(&gw_core_accepting, 0, __ATOMIC_SEQ_CST);
    /* accepts already past the check finish queueing to the store (they
     * never block for long: a push and some JSON) */
    while (__atomic_load_n(&gw_core_inflight, __ATOMIC_SEQ_CST) != 0)
        sched_yield();
}

void gw_core_stop(void)
{
    gw_core_stop_accepting();
    if (gw_core_running) {
        /* feed nothing more, let every continuation queued with the
         * writer run (they settle queues), then stop; what the queues hold
         * is queued in the store: recovered at the next start */
        gw_cq_quiesce();
        db_writer_flush();
        /* a continuation the flush ran may have queued one more change (a
         * send refused at shutdown goes back to queued: gw_core_on_sending
         * -> requeue), whose own continuation settles its queue: commit
         * that too, before gw_cq_stop frees the queues */
        db_writer_flush();
        gw_cq_stop();
        gw_core_running = 0;
    }
}
