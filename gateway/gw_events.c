/*
 * gw_events.c - building events and fanning committed ones out to sinks.
 *
 * The text of an event is written by hand into one buffer (gw_jbuf.h): the
 * envelope part is the JSON text the store keeps anyway (cached on the
 * delivery), so an event costs one allocation and no JSON tree.
 *
 * Sinks get their own copy of each committed event (they run on other
 * threads and free at their own pace).  The sink list is small (one per
 * AMQP connector) and guarded by gw_events_lock; publishing holds the lock
 * while it hands out copies, which is cheap because sinks only queue, and
 * means that once gw_events_remove_sink returns no call to it is in flight.
 *
 * Threads: builders on any thread; gw_events_publish on the writer thread.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db/db.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_jbuf.h"
#include "gw_log.h"
#include "gw_stats.h"

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

int gw_events_active(void)
{
    return __atomic_load_n(&gw_events_nsinks, __ATOMIC_ACQUIRE) > 0;
}

/* The type string "message.<state>" for the states we know (static). */
static const char *gw_events_type(const char *state)
{
    static const char *const types[] = {
        "message.received", "message.routed",    "message.queued",  "message.sending",
        "message.submitted", "message.delivered", "message.failed", "message.expired",
        "message.rejected",  "message.receipt",   "message.dropped", "message.cancelled",
        "message.replaced",
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i] + 8, state) == 0)
            return types[i];
    return NULL;
}

/* Append one finished text of type to ev, or free it. */
static int gw_events_push(gw_evbatch_t *ev, const char *type, gw_jbuf_t *b)
{
    char *text = gw_jbuf_done(b);

    if (text == NULL)
        return GW_ENOMEM;
    if (ev->n >= GW_EVBATCH_MAX) {
        free(text);
        return GW_EFULL;
    }
    ev->types[ev->n] = type;
    ev->texts[ev->n] = text;
    ev->n++;
    return GW_OK;
}

int gw_event_add(gw_evbatch_t *ev, const gw_delivery_t *d, const char *env_json,
                 const char *state, const char *detail)
{
    const char *type = gw_events_type(state);
    gw_jbuf_t b = { 0 };

    if (!gw_events_active() || type == NULL)
        return GW_OK;
    gw_jbuf_need(&b, 256 + (env_json ? strlen(env_json) : 0));
    gw_jbuf_fmt(&b, "{\"event\":\"%s\",\"v\":%d,\"ts\":%lld,\"id\":\"%s\",\"status\":\"%s\",",
                type, GW_EVENTS_SCHEMA_VERSION, (long long)gw_now_ms(), d->env->id,
                gw_status_name(d->status));
    gw_jbuf_put(&b, "\"route\":", 8);
    gw_jbuf_str(&b, d->route);
    gw_jbuf_put(&b, ",\"target\":", 10);
    gw_jbuf_str(&b, gw_dlv_target(d));
    gw_jbuf_fmt(&b, ",\"attempts\":%d,\"reason\":%d,\"remote_id\":", d->attempts, d->reason);
    gw_jbuf_str(&b, d->remote_id[0] ? d->remote_id : NULL);
    gw_jbuf_put(&b, ",\"detail\":", 10);
    gw_jbuf_str(&b, detail);
    gw_jbuf_fmt(&b, ",\"possible_duplicate\":%s,\"envelope\":",
                (d->flags & GW_DLV_DUP) ? "true" : "false");
    gw_jbuf_put(&b, env_json ? env_json : "null", env_json ? strlen(env_json) : 4);
    gw_jbuf_put(&b, "}", 1);
    return gw_events_push(ev, type, &b);
}

int gw_event_data(gw_evbatch_t *ev, const char *type, json_t *data)
{
    json_t *o;
    char *text;

    if (ev->n >= GW_EVBATCH_MAX) {
        json_decref(data);
        return GW_EFULL;
    }
    o = json_pack("{s:s, s:i, s:I, s:o}", "event", type, "v", GW_EVENTS_SCHEMA_VERSION, "ts",
                  (json_int_t)gw_now_ms(), "data", data != NULL ? data : json_object());
    text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return GW_ENOMEM;
    ev->types[ev->n] = type;
    ev->texts[ev->n] = text;
    ev->n++;
    return GW_OK;
}

int gw_event_op(const char *type, json_t *data)
{
    gw_evbatch_t ev = { 0 };
    int rc;

    if (!gw_events_active()) {
        json_decref(data);
        return GW_OK;
    }
    rc = gw_event_data(&ev, type, data);
    if (rc == GW_OK)
        rc = db_event_insert(&ev);
    gw_evbatch_clear(&ev); /* given back on failure */
    return rc;
}

int gw_event_connector(const char *connector, const char *state, int bind, const char *detail)
{
    json_t *d;

    if (!gw_events_active())
        return GW_OK;
    d = json_pack("{s:s, s:s, s:s*}", "connector", connector, "state", state, "detail", detail);
    if (d != NULL && bind >= 0)
        json_object_set_new(d, "bind", json_integer(bind));
    return gw_event_op("ops.connector_state", d);
}

int gw_event_add_mirror(gw_evbatch_t *ev, const gw_delivery_t *d, const char *env_json,
                        const char *exchange, const char *routing_key)
{
    gw_jbuf_t b = { 0 };

    if (!gw_events_active())
        return GW_OK;
    gw_jbuf_need(&b, 512 + (env_json ? strlen(env_json) : 0));
    gw_jbuf_fmt(&b, "{\"event\":\"message.mirrored\",\"ts\":%lld,\"id\":\"%s\",",
                (long long)gw_now_ms(), d->env->id);
    gw_jbuf_put(&b, "\"mirror\":{\"exchange\":", 21);
    gw_jbuf_str(&b, exchange);
    gw_jbuf_put(&b, ",\"routing_key\":", 15);
    gw_jbuf_str(&b, routing_key);
    gw_jbuf_put(&b, "},\"envelope\":", 13);
    gw_jbuf_put(&b, env_json ? env_json : "null", env_json ? strlen(env_json) : 4);
    gw_jbuf_put(&b, "}", 1);
    return gw_events_push(ev, "message.mirrored", &b);
}

/* One event of a change the writer made itself: the stored row is known
 * by id and envelope only. */
static void gw_events_rcpt_one(gw_evbatch_t *ev, const char *type, const char *id,
                               const char *envelope_json, gw_status_t status, const char *stat)
{
    gw_jbuf_t b = { 0 };

    gw_jbuf_fmt(&b, "{\"event\":\"%s\",\"v\":%d,\"ts\":%lld,\"id\":\"%s\",\"status\":\"%s\","
                "\"detail\":", type, GW_EVENTS_SCHEMA_VERSION, (long long)gw_now_ms(), id,
                gw_status_name(status));
    gw_jbuf_str(&b, stat);
    gw_jbuf_put(&b, ",\"envelope\":", 12);
    gw_jbuf_put(&b, envelope_json ? envelope_json : "null",
                envelope_json ? strlen(envelope_json) : 4);
    gw_jbuf_put(&b, "}", 1);
    gw_events_push(ev, type, &b);
}

void gw_events_rows(gw_evbatch_t *ev, const char *id, const char *envelope_json,
                    gw_status_t status, const char *detail, int receipt)
{
    if (!gw_events_active())
        return;
    if (receipt)
        gw_events_rcpt_one(ev, "message.receipt", id, envelope_json, status, detail);
    if (!receipt || gw_status_final(status))
        gw_events_rcpt_one(ev, gw_events_type(gw_status_name(status)), id, envelope_json, status,
                           detail);
}

int gw_events_replay(int64_t after, int limit,
                     void (*fn)(int64_t seq, const char *type, const char *text, void *arg),
                     void *arg)
{
    return db_outbox_read(after, limit, fn, arg);
}

void gw_events_publish(int64_t seq, const char *type, const char *text)
{
    static gw_stat_t *published;
    char *kcopy, *tcopy;

    if (published == NULL)
        published = gw_stat("events.emitted", "events published to sinks after their commit");
    gw_stat_add(published, 1);
    pthread_mutex_lock(&gw_events_lock);
    for (int i = 0; i < gw_events_nsinks; i++) {
        kcopy = strdup(type);
        tcopy = strdup(text);
        if (kcopy == NULL || tcopy == NULL) {
            free(kcopy);
            free(tcopy);
            continue;
        }
        gw_events_sinks[i].fn(seq, kcopy, tcopy, gw_events_sinks[i].arg);
    }
    pthread_mutex_unlock(&gw_events_lock);
}
