/*
 * gw_events.c - fan events out to the sinks.
 *
 * An event is encoded once per emit; each sink gets its own copy because
 * sinks run on other threads and free at their own pace.  The sink list is
 * small (one per AMQP connector plus the trace console) and guarded by
 * gw_events_lock; emitting holds the lock while it hands out copies, which
 * is cheap because sinks only queue.
 *
 * Threads: any.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_stats.h"
#include "gw_trace.h"

#define GW_EVENTS_SINKS_MAX 32

typedef struct gw_event_sink {
    gw_event_sink_fn_t fn;
    void *arg;
} gw_event_sink_t;

static gw_event_sink_t gw_events_sinks[GW_EVENTS_SINKS_MAX];
static int gw_events_nsinks; /* written under gw_events_lock, read atomically */
static pthread_mutex_t gw_events_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the sink list */

int gw_events_add_sink(gw_event_sink_fn_t fn, void *arg)
{
    int rc = GW_EFULL;

    pthread_mutex_lock(&gw_events_lock);
    if (gw_events_nsinks < GW_EVENTS_SINKS_MAX) {
        gw_events_sinks[gw_events_nsinks].fn = fn;
        gw_events_sinks[gw_events_nsinks].arg = arg;
        __atomic_store_n(&gw_events_nsinks, gw_events_nsinks + 1, __ATOMIC_RELEASE);
        rc = GW_OK;
    }
    pthread_mutex_unlock(&gw_events_lock);
    return rc;
}

void gw_events_remove_sink(gw_event_sink_fn_t fn, void *arg)
{
    int i;

    pthread_mutex_lock(&gw_events_lock);
    for (i = 0; i < gw_events_nsinks; i++) {
        if (gw_events_sinks[i].fn == fn && gw_events_sinks[i].arg == arg) {
            memmove(&gw_events_sinks[i], &gw_events_sinks[i + 1],
                    (size_t)(gw_events_nsinks - i - 1) * sizeof(gw_events_sinks[0]));
            __atomic_store_n(&gw_events_nsinks, gw_events_nsinks - 1, __ATOMIC_RELEASE);
            break;
        }
    }
    pthread_mutex_unlock(&gw_events_lock);
}

void gw_event_emit(const gw_envelope_t *env, const char *state, const char *detail)
{
    static gw_stat_t *emitted;
    char key[64], *text, *kcopy, *tcopy;
    json_t *ev, *envj;
    int i;

    if (emitted == NULL)
        emitted = gw_stat("events.emitted", "events emitted (all states)");
    gw_stat_add(emitted, 1);
    GW_DEBUG("events", "%s %s -> %s%s%s", env->id, state, env->target ? env->target : "-",
             detail ? ": " : "", detail ? detail : "");
    if (gw_trace_on()) /* every state change is a trace record of its message */
        gw_trace_envf(env, GW_TRACE_STATE, "%s%s%s", state, detail ? ": " : "",
                      detail ? detail : "");
    if (__atomic_load_n(&gw_events_nsinks, __ATOMIC_ACQUIRE) == 0)
        return;
    /* encode outside the lock: every thread of the message path emits */
    envj = gw_env_to_json(env);
    ev = envj ? json_pack("{s:s+, s:I, s:s, s:o, s:s?}", "event", "message.", state, "ts",
                          (json_int_t)gw_now_ms(), "id", env->id, "envelope", envj, "detail",
                          detail)
              : NULL;
    text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (text == NULL) {
        GW_ERR("events", "%s: cannot encode the %s event (out of memory)", env->id, state);
        return;
    }
    snprintf(key, sizeof(key), "message.%s", state);
    /* sinks are called under the lock, so once gw_events_remove_sink
     * returns no call to that sink is in flight */
    pthread_mutex_lock(&gw_events_lock);
    for (i = 0; i < gw_events_nsinks; i++) {
        kcopy = strdup(key);
        tcopy = strdup(text);
        if (kcopy == NULL || tcopy == NULL) {
            free(kcopy);
            free(tcopy);
            continue;
        }
        gw_events_sinks[i].fn(kcopy, tcopy, gw_events_sinks[i].arg);
    }
    pthread_mutex_unlock(&gw_events_lock);
    free(text);
}
