/*
 * amqp_adapter.c - the AMQP 0-9-1 adapter: publishes junction's events (and
 * envelopes routed to an amqp connector) to a RabbitMQ exchange.
 *
 * An "amqp" connector's conf:
 *   {"host": "127.0.0.1", "port": 5672, "vhost": "/", "user": "guest",
 *    "password": "guest", "exchange": "junction.events", "heartbeat": 30}
 * (every member optional; these are the defaults).
 *
 * Each open connector is an amqp_link_t with its own thread (amqp_conn.c),
 * because librabbitmq blocks.  The core reaches it two ways, both of which
 * only queue so that a slow or dead broker never holds up message flow:
 *   - the event sink (gw_events_add_sink): every committed event is pushed
 *     on the link's bounded events queue; when full, it and the ones after
 *     it are left in the store's outbox and read back by the link thread
 *     in order (amqp.replayed).  Routing key "message.<state>".  The event
 *     message.mirrored (a rule's mirror action) is not published as an
 *     event: the link thread publishes its envelope to the rule's exchange
 *     with the rule's routing key (amqp_conn.c, amqp_item_mirror).
 *   - send(): an envelope routed to the connector is published as its JSON
 *     form with routing key "envelope"; the link thread reports it delivered
 *     once the broker confirmed it.
 * Consuming messages from AMQP is not done here yet.
 *
 * Threads: init/start/stop/destroy, conn_check/open/close/status on the
 * main thread (or an MI handler under gw_mi_lock); the sink on any thread
 * that emits an event (under gw_events_lock); send() on the store's writer
 * thread or the core's timer thread.  send() and conn_close meet on
 * amqp_send_lock, which guards the priv pointer of every amqp connector.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gw_adapter.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "amqp_link.h"

int amqp_param_retry_max_ms;
int amqp_param_connect_timeout_ms;
static int amqp_param_buffer_max;

gw_stat_t *amqp_stat_published;
gw_stat_t *amqp_stat_dropped;
gw_stat_t *amqp_stat_replayed;
gw_stat_t *amqp_stat_returned;

/* Guards gw_connector_t.priv of amqp connectors against send() racing
 * conn_close (the core may hold a connector reference across a close). */
static pthread_mutex_t amqp_send_lock = PTHREAD_MUTEX_INITIALIZER;

static const gw_param_t amqp_params[] = {
    { "amqp.buffer_max", GW_PT_INT, &amqp_param_buffer_max, 0, "10000", 1, 10000000,
      GW_PARAM_RUNTIME,
      "events kept in memory per amqp connector while its broker is slow or away; beyond "
      "it they are read back from the store's outbox, in order, none lost (applies to "
      "connectors opened afterwards)" },
    { "amqp.retry_max_ms", GW_PT_INT, &amqp_param_retry_max_ms, 0, "10000", 1000, 600000,
      GW_PARAM_RUNTIME, "longest pause between reconnection attempts (starts at 1 s, doubles)" },
    { "amqp.connect_timeout_ms", GW_PT_INT, &amqp_param_connect_timeout_ms, 0, "3000", 100,
      60000, GW_PARAM_RUNTIME, "TCP connect, handshake and RPC timeout towards the broker" },
    GW_PARAM_END
};

static const char *amqp_state_name(amqp_link_state_t st)
{
    switch (st) {
    case AMQP_LINK_CONNECTED:
        return "connected";
    case AMQP_LINK_DOWN:
        return "down";
    default:
        return "connecting";
    }
}

/* ---- settings ------------------------------------------------------------ */

static int amqp_conf_str(const json_t *conf, const char *key, char *out, size_t size,
                         int nonempty, char *err, size_t errlen)
{
    json_t *v = json_object_get(conf, key);

    if (v == NULL)
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= size ||
        (nonempty && json_string_length(v) == 0) || strlen(json_string_value(v)) !=
        json_string_length(v)) {
        snprintf(err, errlen, "%s must be a%s string shorter than %zu bytes", key,
                 nonempty ? " non-empty" : "", size);
        return GW_EINVAL;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int amqp_conf_int(const json_t *conf, const char *key, int *out, int min, int max,
                         char *err, size_t errlen)
{
    json_t *v = json_object_get(conf, key);

    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(err, errlen, "%s must be an integer from %d to %d", key, min, max);
        return GW_EINVAL;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

int amqp_settings_parse(const json_t *conf, amqp_settings_t *out, char *err, size_t errlen)
{
    static const char *const known[] = { "host", "port", "vhost", "user", "password",
                                         "exchange", "heartbeat", NULL };
    const char *key;
    json_t *v;
    int rc = 0, i, ok;

    memset(out, 0, sizeof(*out));
    strcpy(out->host, "127.0.0.1");
    out->port = 5672;
    strcpy(out->vhost, "/");
    strcpy(out->user, "guest");
    strcpy(out->password, "guest");
    strcpy(out->exchange, "junction.events");
    out->heartbeat = 30;
    if (conf == NULL)
        return 0;
    if (!json_is_object(conf)) {
        snprintf(err, errlen, "conf must be an object");
        return GW_EINVAL;
    }
    json_object_foreach((json_t *)conf, key, v) {
        for (ok = 0, i = 0; known[i]; i++)
            ok |= strcmp(known[i], key) == 0;
        if (!ok) {
            snprintf(err, errlen, "unknown member \"%s\" (known: host, port, vhost, user, "
                     "password, exchange, heartbeat)", key);
            return GW_EINVAL;
        }
    }
    rc = amqp_conf_str(conf, "host", out->host, sizeof(out->host), 1, err, errlen);
    if (rc == 0)
        rc = amqp_conf_int(conf, "port", &out->port, 1, 65535, err, errlen);
    if (rc == 0)
        rc = amqp_conf_str(conf, "vhost", out->vhost, sizeof(out->vhost), 1, err, errlen);
    if (rc == 0)
        rc = amqp_conf_str(conf, "user", out->user, sizeof(out->user), 1, err, errlen);
    if (rc == 0)
        rc = amqp_conf_str(conf, "password", out->password, sizeof(out->password), 0, err,
                           errlen);
    if (rc == 0)
        rc = amqp_conf_str(conf, "exchange", out->exchange, sizeof(out->exchange), 1, err,
                           errlen);
    if (rc == 0)
        rc = amqp_conf_int(conf, "heartbeat", &out->heartbeat, 0, 3600, err, errlen);
    return rc;
}

/* ---- items and the event sink -------------------------------------------- */

void amqp_item_free(void *item)
{
    amqp_item_t *it = item;

    if (it == NULL)
        return;
    free(it->key);
    free(it->body);
    free(it->exchange);
    gw_dlv_free(it->dlv);
    free(it);
}

void amqp_link_count_dropped(amqp_link_t *l, int64_t n)
{
    __atomic_add_fetch(&l->dropped, n, __ATOMIC_RELAXED);
    gw_stat_add(amqp_stat_dropped, n);
}

/* Event sink: takes routing_key and text of the committed event seq.
 * Runs on the writer thread under gw_events_lock, so it only queues (never
 * logs, never blocks).  A dead broker must not grow memory and must not
 * lose events: past amqp.buffer_max the event is left to the outbox, from
 * which the link thread reads it back (the gap), and every later one too
 * until the link has caught up, so the order holds. */
static void amqp_sink(int64_t seq, char *routing_key, char *text, void *arg)
{
    amqp_link_t *l = arg;
    amqp_item_t *it = NULL;
    int in_memory = 0;

    pthread_mutex_lock(&l->lock);
    if (l->gap_from == 0 && (it = calloc(1, sizeof(*it))) != NULL) {
        it->key = routing_key;
        it->body = text;
        it->seq = seq;
        in_memory = gw_queue_push(l->events, it) == 0;
    }
    if (!in_memory) {
        if (l->gap_from == 0)
            l->gap_from = seq;
        l->gap_last = seq;
    }
    pthread_mutex_unlock(&l->lock);
    if (in_memory) {
        gw_queue_wake(l->events);
        return;
    }
    if (it != NULL) {
        it->key = it->body = NULL;
        free(it);
    }
    free(routing_key);
    free(text);
}

/* ---- connectors ---------------------------------------------------------- */

static int amqp_conn_check(const json_t *conf, char *err, size_t errlen)
{
    amqp_settings_t set;

    return amqp_settings_parse(conf, &set, err, errlen);
}

/* Free a stopped link; events still queued are counted as dropped. */
static void amqp_link_free(amqp_link_t *l)
{
    gw_queue_free(l->events);
    gw_queue_free(l->sends);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Create the link, start its thread and subscribe it to events.  Main
 * thread.  Returns 0 with c->priv set, or a negative code (logged). */
static int amqp_conn_open(gw_connector_t *c)
{
    size_t cap = (size_t)__atomic_load_n(&amqp_param_buffer_max, __ATOMIC_RELAXED);
    char err[256], tname[16];
    pthread_condattr_t ca;
    amqp_link_t *l;
    int rc;

    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return GW_ENOMEM;
    if (amqp_settings_parse(c->conf, &l->set, err, sizeof(err)) != 0) {
        GW_ERR("amqp", "amqp connector %s: bad conf: %s", c->name, err);
        free(l);
        return GW_EINVAL;
    }
    snprintf(l->name, sizeof(l->name), "%s", c->name);
    l->sockfd = -1;
    l->state = AMQP_LINK_CONNECTING;
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    l->events = gw_queue_new(cap, amqp_item_free);
    l->sends = gw_queue_new(cap, amqp_item_free);
    if (l->events == NULL || l->sends == NULL) {
        rc = GW_ENOMEM;
        goto out_free;
    }
    rc = pthread_create(&l->thread, NULL, amqp_link_main, l);
    if (rc != 0) {
        GW_ERR("amqp", "amqp connector %s: cannot start its thread: %s", c->name, strerror(rc));
        rc = GW_ERROR;
        goto out_free;
    }
    snprintf(tname, sizeof(tname), "amqp-%.10s", c->name); /* 15 chars max */
    pthread_setname_np(l->thread, tname);
    rc = gw_events_add_sink(amqp_sink, l);
    if (rc != 0) {
        GW_ERR("amqp", "amqp connector %s: cannot subscribe to events: %s", c->name,
               gw_strerror(rc));
        goto out_stop;
    }
    pthread_mutex_lock(&amqp_send_lock);
    c->priv = l;
    pthread_mutex_unlock(&amqp_send_lock);
    GW_INFO("amqp", "amqp connector %s: publishing to %s:%d vhost %s exchange %s (buffer %zu)",
            c->name, l->set.host, l->set.port, l->set.vhost, l->set.exchange, cap);
    return 0;

out_stop:
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    gw_queue_wake(l->events);
    pthread_join(l->thread, NULL);
out_free:
    amqp_link_free(l);
    return rc;
}

/* Wait for the link thread; if it is stuck in socket I/O past the bound,
 * shut its socket down so the blocking call returns. */
static void amqp_link_join(amqp_link_t *l)
{
    int bound = __atomic_load_n(&amqp_param_connect_timeout_ms, __ATOMIC_RELAXED) +
                AMQP_FLUSH_ON_CLOSE_MS + 1000;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += bound / 1000;
    ts.tv_nsec += (long)(bound % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(l->thread, NULL, &ts) == 0)
        return;
    GW_WARN("amqp", "amqp connector %s: broker I/O still blocked after %d ms; shutting the "
            "socket down", l->name, bound);
    pthread_mutex_lock(&l->lock);
    if (l->sockfd >= 0)
        shutdown(l->sockfd, SHUT_RDWR);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
}

/* Unsubscribe, stop the thread (bounded), close and free.  Main thread. */
static void amqp_conn_close(gw_connector_t *c)
{
    amqp_link_t *l;

    pthread_mutex_lock(&amqp_send_lock);
    l = c->priv;
    c->priv = NULL;
    pthread_mutex_unlock(&amqp_send_lock);
    if (l == NULL)
        return;
    /* after this returns no sink call is running: emit holds the same lock */
    gw_events_remove_sink(amqp_sink, l);
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    gw_queue_wake(l->events);
    amqp_link_join(l);
    amqp_link_count_dropped(l, (int64_t)gw_queue_len(l->events));
    GW_INFO("amqp", "amqp connector %s: closed (%lld published, %lld dropped)", l->name,
            (long long)__atomic_load_n(&l->published, __ATOMIC_RELAXED),
            (long long)__atomic_load_n(&l->dropped, __ATOMIC_RELAXED));
    amqp_link_free(l);
}

/* Queue d's envelope JSON for publishing with routing key "envelope".  Any
 * thread.  Returns 0 (d taken over), GW_ESTOPPED, GW_EFULL or GW_ENOMEM (d
 * stays the caller's). */
static int amqp_send(gw_connector_t *c, gw_delivery_t *d)
{
    amqp_item_t *it;
    amqp_link_t *l;
    int rc;

    it = calloc(1, sizeof(*it));
    if (it == NULL)
        return GW_ENOMEM;
    it->body = d->env_json != NULL ? strdup(d->env_json) : gw_env_to_text(d->env);
    it->key = strdup("envelope");
    if (it->body == NULL || it->key == NULL) {
        amqp_item_free(it);
        return GW_ENOMEM;
    }
    it->dlv = d;
    pthread_mutex_lock(&amqp_send_lock);
    l = c->priv;
    rc = l ? gw_queue_push(l->sends, it) : GW_ESTOPPED;
    if (rc == 0)
        gw_queue_wake(l->events);
    pthread_mutex_unlock(&amqp_send_lock);
    if (rc != 0) {
        it->dlv = NULL; /* stays the caller's */
        amqp_item_free(it);
    }
    return rc;
}

/* {"state", "published", "buffered", "dropped", "last_error", ...}; new
 * reference.  Main thread (MI). */
static json_t *amqp_conn_status(gw_connector_t *c)
{
    amqp_link_t *l = c->priv;
    amqp_link_state_t st;
    char last_error[sizeof(l->last_error)];
    int64_t buffered, gap;

    if (l == NULL)
        return json_pack("{s:s}", "state", "down");
    pthread_mutex_lock(&l->lock);
    st = l->state;
    gap = l->gap_from;
    memcpy(last_error, l->last_error, sizeof(last_error));
    pthread_mutex_unlock(&l->lock);
    buffered = (int64_t)(gw_queue_len(l->events) + gw_queue_len(l->sends)) +
               __atomic_load_n(&l->inflight, __ATOMIC_RELAXED);
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:b, s:s, s:s, s:i, s:s}", "state",
                     amqp_state_name(st), "published",
                     (json_int_t)__atomic_load_n(&l->published, __ATOMIC_RELAXED), "buffered",
                     (json_int_t)buffered, "dropped",
                     (json_int_t)__atomic_load_n(&l->dropped, __ATOMIC_RELAXED), "replayed",
                     (json_int_t)__atomic_load_n(&l->replayed, __ATOMIC_RELAXED), "behind",
                     gap != 0, "last_error",
                     last_error, "broker", l->set.host, "port", l->set.port, "exchange",
                     l->set.exchange);
}

/* ---- the adapter ---------------------------------------------------------- */

static int amqp_init(struct event_base *main_base)
{
    (void)main_base;
    amqp_stat_published = gw_stat("amqp.published", "AMQP messages confirmed by a broker");
    amqp_stat_dropped = gw_stat("amqp.dropped",
                                "events refused by a broker (nack), or left at a close");
    amqp_stat_replayed = gw_stat("amqp.replayed",
                                 "events read back from the outbox after the buffer was full");
    amqp_stat_returned = gw_stat("amqp.returned",
                                 "envelopes the broker returned as unroutable (basic.return): "
                                 "retried, not delivered");
    return 0;
}

const gw_adapter_t amqp_adapter = {
    .name = "amqp",
    .params = amqp_params,
    .mi_cmds = NULL,
    .init = amqp_init,
    .start = NULL,
    .stop = NULL,
    .destroy = NULL,
    .conn_check = amqp_conn_check,
    .conn_open = amqp_conn_open,
    .conn_close = amqp_conn_close,
    .send = amqp_send,
    .conn_status = amqp_conn_status,
};
