/*
 * gw_core.c - the path of a message: route, commit, hand over, account.
 *
 * gw_core_accept() runs on the receiving adapter's thread: it asks the
 * router (pure, lock-free on a held table) for a target and queues the
 * envelope to the store's writer.  After the group commit the writer thread
 * calls gw_core_on_commit(), which first lets the adapter answer its peer
 * ("accepted" only now) and then hands the envelope to the target
 * connector's send(), which only queues.
 *
 * Outcomes come back from the target adapter's thread through
 * gw_core_submitted / delivered / failed / retry: each updates the store
 * (fire and forget, ordered behind the insert in the writer's queue) and
 * emits an event.  Retries and requeues wait on the core's timer thread (a
 * libevent loop fed by gw_core_timerq), then go through dispatch again, so
 * a connector that was replaced or came back picks them up by name.
 *
 * Threads: accept on adapter threads; on_commit on the writer thread;
 * outcomes on adapter threads; timers on the core timer thread.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "../db/db.h"
#include "../router/rt.h"
#include "gw_adapter.h"
#include "gw_config.h"
#include "gw_core.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_queue.h"
#include "gw_stats.h"
#include "gw_trace.h"

#define GW_CORE_REQUEUE_MS 1000

typedef struct gw_core_accept_ctx {
    gw_accept_cb_t cb;
    void *arg;
} gw_core_accept_ctx_t;

typedef struct gw_core_timer {
    gw_envelope_t *env; /* one reference */
    int delay_ms;
    struct event *ev;
    struct gw_core_timer *prev, *next; /* armed timers, timer thread only */
} gw_core_timer_t;

static int gw_core_accepting; /* atomic */
/* Accepts between their check of gw_core_accepting and the hand-over to the
 * store (atomic).  gw_core_stop_accepting() waits for it to drain, so a
 * store flush after it covers every message that will ever be accepted. */
static int gw_core_inflight;
static struct event_base *gw_core_base;
static gw_queue_t *gw_core_timerq;
static pthread_t gw_core_thread;
static gw_core_timer_t *gw_core_armed; /* timer thread; main thread after join */
static int gw_core_running;
static gw_stat_t *gw_core_st_accepted, *gw_core_st_noroute, *gw_core_st_submitted,
    *gw_core_st_delivered, *gw_core_st_failed, *gw_core_st_retries, *gw_core_st_expired,
    *gw_core_st_store_err;

static void gw_core_dispatch(gw_envelope_t *env);
static void gw_core_later(gw_envelope_t *env, int delay_ms);

int gw_core_dry_run(const gw_envelope_t *env, char **target, char **rule)
{
    rt_table_t *t = rt_current();
    const rt_rule_t *r = rt_match(t, env);
    int rc = GW_ENOROUTE;

    if (r) {
        *target = strdup(rt_rule_target(r));
        *rule = strdup(rt_rule_name(r));
        rc = (*target && *rule) ? GW_OK : GW_ENOMEM;
    }
    rt_table_unref(t);
    return rc;
}

/* Writer thread: env is durable (rc 0) or not. */
static void gw_core_on_commit(gw_envelope_t *env, int rc, void *arg)
{
    gw_core_accept_ctx_t *ctx = arg;

    ctx->cb(env, rc, ctx->arg);
    free(ctx);
    if (rc != 0) {
        gw_stat_add(gw_core_st_store_err, 1);
        gw_event_emit(env, "failed", "the store could not commit the message");
        return;
    }
    gw_event_emit(env, "queued", NULL);
    gw_core_dispatch(gw_env_ref(env));
}

/* The body of gw_core_accept, run while counted in gw_core_inflight. */
static int gw_core_accept_counted(gw_envelope_t *env, gw_accept_cb_t cb, void *arg)
{
    gw_core_accept_ctx_t *ctx;
    rt_table_t *t;
    const rt_rule_t *r;
    int rc;

    if (env->expires_at == 0)
        env->expires_at = env->created_at +
                          (int64_t)__atomic_load_n(&gw_config.validity_s, __ATOMIC_RELAXED) * 1000;
    gw_event_emit(env, "received", NULL);
    t = rt_current();
    r = rt_match(t, env);
    if (r == NULL) {
        rt_table_unref(t);
        gw_stat_add(gw_core_st_noroute, 1);
        gw_env_set_status(env, GW_ST_REJECTED, 0, "no route");
        if (gw_trace_on()) gw_trace_env(env, GW_TRACE_ROUTE, "no route");
        gw_event_emit(env, "rejected", "no route");
        GW_INFO("core", "%s from %s to %s: no route", env->id,
                env->from.address ? env->from.address : "-", env->to.address);
        return GW_ENOROUTE;
    }
    rc = gw_env_set_str(&env->target, rt_rule_target(r), (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&env->route, rt_rule_name(r), (size_t)-1);
    rt_table_unref(t);
    if (rc != 0)
        return rc;
    env->status = GW_ST_QUEUED;
    if (gw_trace_on()) gw_trace_envf(env, GW_TRACE_ROUTE, "rule %s -> %s", env->route, env->target);
    gw_event_emit(env, "routed", NULL);
    ctx = malloc(sizeof(*ctx));
    if (ctx == NULL)
        return GW_ENOMEM;
    ctx->cb = cb;
    ctx->arg = arg;
    rc = db_msg_insert(env, gw_core_on_commit, ctx);
    if (rc != 0) {
        free(ctx);
        return rc;
    }
    gw_stat_add(gw_core_st_accepted, 1);
    GW_DEBUG("core", "%s from %s to %s routed by %s to %s", env->id,
             env->from.address ? env->from.address : "-", env->to.address, env->route,
             env->target);
    return GW_OK;
}

int gw_core_accept(gw_envelope_t *env, gw_accept_cb_t cb, void *arg)
{
    int rc = GW_ESTOPPED;

    /* sequentially consistent with gw_core_stop_accepting: either it sees
     * us counted, or we see the flag down */
    __atomic_add_fetch(&gw_core_inflight, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&gw_core_accepting, __ATOMIC_SEQ_CST))
        rc = gw_core_accept_counted(env, cb, arg);
    __atomic_sub_fetch(&gw_core_inflight, 1, __ATOMIC_SEQ_CST);
    return rc;
}

/* Hand env (one reference, taken over) to its target connector, or park it
 * on the timer when the connector is missing or refuses. */
static void gw_core_dispatch(gw_envelope_t *env)
{
    gw_connector_t *c;
    int rc = GW_ENOTFOUND;

    if (env->expires_at && gw_now_ms() > env->expires_at) {
        gw_env_set_status(env, GW_ST_EXPIRED, 0, "validity period passed");
        gw_stat_add(gw_core_st_expired, 1);
        db_msg_update(env, NULL);
        gw_event_emit(env, "expired", NULL);
        gw_env_unref(env);
        return;
    }
    c = gw_connector_get(env->target);
    if (c && c->enabled && c->adapter->send)
        rc = c->adapter->send(c, env);
    if (rc != 0) {
        GW_ENV_DEBUG(env, "core", "%s: connector %s cannot take it now (%s); retrying in %d ms",
                     env->id, env->target, c ? gw_strerror(rc) : "not configured",
                     GW_CORE_REQUEUE_MS);
        gw_core_later(env, GW_CORE_REQUEUE_MS);
    } else {
        gw_env_unref(env); /* send() took its own reference */
    }
    if (c)
        gw_connector_put(c);
}

void gw_core_submitted(gw_envelope_t *env, const char *remote_id)
{
    env->attempts++;
    gw_env_set_status(env, GW_ST_SUBMITTED, 0, NULL);
    if (remote_id)
        gw_env_set_str(&env->corr.smpp_message_id, remote_id, (size_t)-1);
    gw_stat_add(gw_core_st_submitted, 1);
    db_msg_update(env, remote_id);
    gw_event_emit(env, "submitted", remote_id);
}

void gw_core_delivered(gw_envelope_t *env)
{
    if (env->status != GW_ST_SUBMITTED)
        env->attempts++;
    gw_env_set_status(env, GW_ST_DELIVERED, 0, NULL);
    gw_stat_add(gw_core_st_delivered, 1);
    db_msg_update(env, NULL);
    gw_event_emit(env, "delivered", NULL);
}

void gw_core_failed(gw_envelope_t *env, int reason, const char *text)
{
    env->attempts++;
    gw_env_set_status(env, GW_ST_FAILED, reason, text);
    gw_stat_add(gw_core_st_failed, 1);
    db_msg_update(env, NULL);
    gw_event_emit(env, "failed", text);
    GW_ENV_INFO(env, "core", "%s to %s via %s failed: %d %s", env->id, env->to.address,
                env->target, reason, text ? text : "");
}

void gw_core_retry(gw_envelope_t *env, int reason, const char *text)
{
    /* runtime parameters: params.set may change them on an MI thread */
    int max_attempts = __atomic_load_n(&gw_config.max_attempts, __ATOMIC_RELAXED);
    long long delay = __atomic_load_n(&gw_config.retry_base_ms, __ATOMIC_RELAXED);
    long long delay_max = __atomic_load_n(&gw_config.retry_max_ms, __ATOMIC_RELAXED);
    int i;

    env->attempts++;
    if (env->attempts >= max_attempts) {
        gw_env_set_status(env, GW_ST_FAILED, reason, text);
        gw_stat_add(gw_core_st_failed, 1);
        db_msg_update(env, NULL);
        gw_event_emit(env, "failed", "too many attempts");
        GW_INFO("core", "%s failed after %d attempts: %d %s", env->id, env->attempts, reason,
                text ? text : "");
        gw_env_unref(env);
        return;
    }
    for (i = 1; i < env->attempts && delay < delay_max; i++)
        delay *= 2;
    if (delay > delay_max)
        delay = delay_max;
    gw_env_set_status(env, GW_ST_QUEUED, reason, text);
    gw_stat_add(gw_core_st_retries, 1);
    db_msg_update(env, NULL);
    gw_event_emit(env, "queued", text);
    GW_ENV_DEBUG(env, "core", "%s attempt %d failed (%d %s); next in %lld ms", env->id,
                 env->attempts, reason, text ? text : "", delay);
    gw_core_later(env, (int)delay);
}

/* The stored envelope of message id with its delivery state, or NULL. */
static gw_envelope_t *gw_core_load(const char *id)
{
    json_t *row = db_msg_get(id);
    gw_envelope_t *env;
    const char *err = NULL, *st;

    if (row == NULL)
        return NULL;
    env = gw_env_from_json(json_object_get(row, "envelope"), &err);
    if (env != NULL) {
        st = json_string_value(json_object_get(row, "status"));
        if (st && gw_status_parse(st) >= 0)
            env->status = (gw_status_t)gw_status_parse(st);
        env->attempts = (int)json_integer_value(json_object_get(row, "attempts"));
        gw_env_set_str(&env->target, json_string_value(json_object_get(row, "target")),
                       (size_t)-1);
    } else {
        GW_ERR("core", "%s: the stored envelope is unreadable: %s", id, err);
    }
    json_decref(row);
    return env;
}

int gw_core_receipt(const char *connector, const char *remote_id, const char *stat, int err)
{
    static const struct {
        const char *stat;
        gw_status_t status;
        const char *event;
    } finals[] = {
        { "DELIVRD", GW_ST_DELIVERED, "delivered" }, { "EXPIRED", GW_ST_EXPIRED, "expired" },
        { "UNDELIV", GW_ST_FAILED, "failed" },       { "REJECTD", GW_ST_FAILED, "failed" },
        { "DELETED", GW_ST_FAILED, "failed" },       { "UNKNOWN", GW_ST_FAILED, "failed" },
    };
    gw_envelope_t *env;
    char *id = db_receipt_lookup(connector, remote_id);
    size_t i;

    if (id == NULL) {
        /* the map row may still wait in the writer's queue behind the
         * submit_sm_resp that created it: a fast SMSC */
        db_writer_flush();
        id = db_receipt_lookup(connector, remote_id);
    }
    env = id ? gw_core_load(id) : NULL;
    free(id);
    if (env == NULL) {
        GW_WARN("core", "receipt from %s for unknown message id %s (%s)", connector, remote_id,
                stat);
        return GW_ENOTFOUND;
    }
    gw_env_set_str(&env->corr.smpp_message_id, remote_id, (size_t)-1);
    gw_event_emit(env, "receipt", stat);
    for (i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
        if (strcmp(stat, finals[i].stat) != 0)
            continue;
        gw_env_set_status(env, finals[i].status, err, stat);
        db_msg_update(env, NULL);
        gw_stat_add(finals[i].status == GW_ST_DELIVERED  ? gw_core_st_delivered
                    : finals[i].status == GW_ST_EXPIRED ? gw_core_st_expired
                                                        : gw_core_st_failed,
                    1);
        gw_event_emit(env, finals[i].event, stat);
        GW_INFO("core", "%s: receipt %s from %s: %s", env->id, remote_id, connector, stat);
        break;
    }
    gw_env_unref(env);
    return GW_OK;
}

void gw_core_requeue(gw_envelope_t *env)
{
    gw_core_later(env, GW_CORE_REQUEUE_MS);
}

/* ---- the timer thread --------------------------------------------------- */

static void gw_core_timer_free(void *item)
{
    gw_core_timer_t *t = item;

    if (t->ev)
        event_free(t->ev);
    gw_env_unref(t->env);
    free(t);
}

static void gw_core_on_timer(evutil_socket_t fd, short what, void *arg)
{
    gw_core_timer_t *t = arg;

    (void)fd;
    (void)what;
    if (t->prev)
        t->prev->next = t->next;
    else
        gw_core_armed = t->next;
    if (t->next)
        t->next->prev = t->prev;
    event_free(t->ev);
    if (__atomic_load_n(&gw_core_accepting, __ATOMIC_ACQUIRE))
        gw_core_dispatch(t->env);
    else
        gw_env_unref(t->env); /* shutting down: queued in the store, recovered at start */
    free(t);
}

/* Timer thread: arm a one-shot timer for a queued item. */
static void gw_core_on_timer_item(void *item, void *arg)
{
    gw_core_timer_t *t = item;
    struct timeval tv = { t->delay_ms / 1000, (t->delay_ms % 1000) * 1000 };

    (void)arg;
    t->ev = evtimer_new(gw_core_base, gw_core_on_timer, t);
    if (t->ev == NULL || evtimer_add(t->ev, &tv) != 0) {
        GW_ERR("core", "%s: cannot arm a retry timer; the message waits for a restart",
               t->env->id);
        gw_core_timer_free(t);
        return;
    }
    t->next = gw_core_armed;
    if (gw_core_armed)
        gw_core_armed->prev = t;
    gw_core_armed = t;
}

static void gw_core_later(gw_envelope_t *env, int delay_ms)
{
    gw_core_timer_t *t = calloc(1, sizeof(*t));

    if (t != NULL) {
        t->env = env;
        t->delay_ms = delay_ms;
    }
    if (t == NULL || gw_core_timerq == NULL || gw_queue_push(gw_core_timerq, t) != 0) {
        GW_ERR("core", "%s: cannot schedule a retry; the message waits for a restart", env->id);
        free(t);
        gw_env_unref(env);
    }
}

static void *gw_core_thread_main(void *arg)
{
    (void)arg;
    event_base_loop(gw_core_base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void gw_core_recover_one(gw_envelope_t *env, void *arg)
{
    (void)arg;
    gw_core_dispatch(env);
}

int gw_core_recover(void)
{
    int n = db_msgs_pending(gw_core_recover_one, NULL);

    if (n > 0)
        GW_INFO("core", "recovered %d queued message(s) from the store", n);
    return n;
}

int gw_core_start(void)
{
    gw_core_st_accepted = gw_stat("core.accepted", "messages accepted (durably stored)");
    gw_core_st_noroute = gw_stat("core.no_route", "messages refused: no route");
    gw_core_st_submitted = gw_stat("core.submitted", "messages handed to a peer");
    gw_core_st_delivered = gw_stat("core.delivered", "messages confirmed delivered");
    gw_core_st_failed = gw_stat("core.failed", "messages failed for good");
    gw_core_st_retries = gw_stat("core.retries", "delivery attempts to retry");
    gw_core_st_expired = gw_stat("core.expired", "messages expired before delivery");
    gw_core_st_store_err = gw_stat("core.store_errors", "messages the store could not commit");
    gw_core_base = event_base_new();
    gw_core_timerq = gw_queue_new(0, gw_core_timer_free);
    if (gw_core_base == NULL || gw_core_timerq == NULL ||
        gw_queue_attach(gw_core_timerq, gw_core_base, gw_core_on_timer_item, NULL) != 0)
        return GW_ERROR;
    if (pthread_create(&gw_core_thread, NULL, gw_core_thread_main, NULL) != 0)
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
        event_base_loopbreak(gw_core_base);
        pthread_join(gw_core_thread, NULL);
        gw_core_running = 0;
    }
    if (gw_core_base) {
        /* Armed timers hold envelopes that are safe in the store as queued;
         * they are dropped here and recovered at the next start. */
        while (gw_core_armed) {
            gw_core_timer_t *t = gw_core_armed;
            gw_core_armed = t->next;
            gw_core_timer_free(t);
        }
        gw_queue_free(gw_core_timerq);
        gw_core_timerq = NULL;
        event_base_free(gw_core_base);
        gw_core_base = NULL;
    }
}
