/*
 * amqp_adapter.c - the AMQP 0-9-1 adapter: publishes junction's events (and
 * envelopes routed to an amqp connector) to a RabbitMQ exchange, and takes
 * messages in from its queues.
 *
 * An "amqp" connector's conf is parsed by amqp_settings_table below (every
 * member, its default, limits and help; docs/amqp.md shows the same).
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
 *     form with routing key "envelope", mandatory; the link thread reports
 *     it delivered once the broker confirmed it without returning it (a
 *     basic.return, no queue bound, is a retry: amqp_conn.c).
 *   - with "consume" in its conf, a consumer thread of its own takes
 *     messages in from those queues (amqp_in.c).
 *
 * Threads: init/start/stop/destroy, conn_check/open/close/status on the
 * main thread (or an MI handler under gw_mi_lock); the sink on any thread
 * that emits an event (under gw_events_lock); send() on the store's writer
 * thread or the core's timer thread.  send() and conn_close meet on
 * amqp_send_lock, which guards the priv pointer of every amqp connector.
 */
#include <stddef.h>
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
gw_stat_t *amqp_stat_blocked;

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
    case AMQP_LINK_BLOCKED:
        return "blocked";
    default:
        return "connecting";
    }
}

/* ---- settings ------------------------------------------------------------ */

/* A connector's conf, one row per member (the nginx way: name, type,
 * offset, default, limits, help).  The same table is docs/amqp.md's
 * "Connector settings"; a member not in it is refused. */
typedef enum { AMQP_ST_STR, AMQP_ST_INT, AMQP_ST_BOOL, AMQP_ST_QUEUES, AMQP_ST_URL } amqp_st_type_t;

typedef struct amqp_setting {
    const char *name;
    amqp_st_type_t type;
    size_t off, size;   /* into amqp_settings_t; size: a string's array */
    const char *def;    /* default as text (strings, ints, "0"/"1") */
    int min, max;       /* ints: inclusive; strings: min 1 = non-empty */
    const char *help;
} amqp_setting_t;

#define AMQP_S(f) offsetof(amqp_settings_t, f), sizeof(((amqp_settings_t *)0)->f)

static const amqp_setting_t amqp_settings_table[] = {
    { "url", AMQP_ST_URL, 0, 0, "", 0, 0,
      "amqp://user:password@host:port/vhost, or amqps:// for TLS; members given beside it "
      "override its parts" },
    { "host", AMQP_ST_STR, AMQP_S(host), "127.0.0.1", 1, 0, "broker host name or address" },
    { "port", AMQP_ST_INT, AMQP_S(port), "5672", 1, 65535, "broker AMQP port" },
    { "vhost", AMQP_ST_STR, AMQP_S(vhost), "/", 1, 0, "virtual host" },
    { "user", AMQP_ST_STR, AMQP_S(user), "guest", 1, 0, "login (SASL PLAIN)" },
    { "password", AMQP_ST_STR, AMQP_S(password), "guest", 0, 0, "password" },
    { "exchange", AMQP_ST_STR, AMQP_S(exchange), "junction.events", 1, 0,
      "durable topic exchange events and envelopes are published to" },
    { "heartbeat", AMQP_ST_INT, AMQP_S(heartbeat), "30", 0, 3600,
      "AMQP heartbeat in seconds, 0 = off" },
    { "channel_max", AMQP_ST_INT, AMQP_S(channel_max), "0", 0, 65535,
      "channels asked for at login (each connection uses 1 or 2), 0 = the broker's limit" },
    { "tls", AMQP_ST_BOOL, AMQP_S(tls), "0", 0, 1,
      "TLS towards the broker (port 5671 unless port is given); an amqps:// url sets it" },
    { "tls_ca", AMQP_ST_STR, AMQP_S(tls_ca), "", 0, 0,
      "PEM file of the CAs the broker's certificate is verified against; \"\" = the system's" },
    { "tls_cert", AMQP_ST_STR, AMQP_S(tls_cert), "", 0, 0,
      "PEM client certificate (chain) for a broker that asks for one, with tls_key" },
    { "tls_key", AMQP_ST_STR, AMQP_S(tls_key), "", 0, 0,
      "PEM private key of tls_cert (not encrypted)" },
    { "tls_verify", AMQP_ST_BOOL, AMQP_S(tls_verify), "1", 0, 1,
      "verify the broker's certificate and that it names host" },
    { "consume", AMQP_ST_QUEUES, AMQP_S(consume), "", 0, AMQP_CONSUME_MAX,
      "queues to take messages in from: names, or {queue, bindings: [{exchange, key}]}" },
    { "passive", AMQP_ST_BOOL, AMQP_S(passive), "0", 0, 1,
      "the admin owns the topology: queues and exchanges are only checked (passive "
      "declare), never declared or bound" },
    { "prefetch", AMQP_ST_INT, AMQP_S(prefetch), "100", 1, 65535,
      "deliveries unacknowledged at once (basic.qos)" },
    { "dead_letter_exchange", AMQP_ST_STR, AMQP_S(dead_letter_exchange), "junction.dlx", 1, 0,
      "where a refused delivery goes, with its reason in headers (a durable topic exchange)" },
    { "dead_letter_queue", AMQP_ST_STR, AMQP_S(dead_letter_queue), "junction.dead", 0, 0,
      "durable queue bound to the dead-letter exchange with key #, declared unless passive; "
      "\"\" = none" },
    { "dedup_window_s", AMQP_ST_INT, AMQP_S(dedup_window_s), "600", 0, 86400,
      "a message_id seen within this many seconds is a duplicate (acked, not taken); 0 = off" },
    { "dedup_max", AMQP_ST_INT, AMQP_S(dedup_max), "100000", 16, 10000000,
      "message_ids remembered at most (the oldest are forgotten first)" },
    { "requeue_delay_ms", AMQP_ST_INT, AMQP_S(requeue_delay_ms), "1000", 0, 600000,
      "a delivery refused for load is nacked with requeue after this delay" },
    { NULL, 0, 0, 0, NULL, 0, 0, NULL },
};

/* "consume": an array of queue names or {queue, bindings}.  0 or
 * GW_EINVAL with err. */
static int amqp_conf_queues(const json_t *v, amqp_settings_t *out, char *err, size_t errlen)
{
    size_t i, k;
    json_t *q, *b;

    if (!json_is_array(v) || json_array_size(v) > AMQP_CONSUME_MAX)
        goto bad;
    json_array_foreach(v, i, q) {
        amqp_queue_conf_t *qc = &out->consume[i];
        json_t *name = json_is_string(q) ? q : json_object_get(q, "queue");
        json_t *binds = json_is_object(q) ? json_object_get(q, "bindings") : NULL;
        const char *key;
        json_t *m;
        if (json_is_object(q))
            json_object_foreach(q, key, m)
                if (strcmp(key, "queue") != 0 && strcmp(key, "bindings") != 0)
                    goto bad;
        if (!json_is_string(name) || json_string_length(name) == 0 ||
            json_string_length(name) >= AMQP_NAME_MAX)
            goto bad;
        snprintf(qc->queue, sizeof qc->queue, "%s", json_string_value(name));
        if (binds != NULL && (!json_is_array(binds) || json_array_size(binds) > AMQP_BINDINGS_MAX))
            goto bad;
        json_array_foreach(binds, k, b) {
            const char *ex = json_string_value(json_object_get(b, "exchange"));
            const char *rk = json_string_value(json_object_get(b, "key"));
            if (ex == NULL || ex[0] == '\0' || strlen(ex) >= AMQP_NAME_MAX ||
                (rk != NULL && strlen(rk) >= AMQP_NAME_MAX) || json_object_size(b) > 2)
                goto bad;
            snprintf(qc->bindings[k].exchange, AMQP_NAME_MAX, "%s", ex);
            snprintf(qc->bindings[k].key, AMQP_NAME_MAX, "%s", rk ? rk : "#");
        }
        qc->nbindings = json_array_size(binds);
    }
    out->nconsume = json_array_size(v);
    return 0;
bad:
    snprintf(err, errlen, "consume must be an array of at most %d queue names or {queue, "
             "bindings: [{exchange, key}]} (at most %d bindings, names shorter than %d bytes)",
             AMQP_CONSUME_MAX, AMQP_BINDINGS_MAX, AMQP_NAME_MAX);
    return GW_EINVAL;
}

/* One member v by its row into out.  0 or GW_EINVAL with err. */
static int amqp_conf_one(const amqp_setting_t *st, const json_t *v, amqp_settings_t *out,
                         char *err, size_t errlen)
{
    char *field = (char *)out + st->off;

    switch (st->type) {
    case AMQP_ST_STR:
        if (!json_is_string(v) || json_string_length(v) >= st->size ||
            (st->min && json_string_length(v) == 0) ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            snprintf(err, errlen, "%s must be a%s string shorter than %zu bytes", st->name,
                     st->min ? " non-empty" : "", st->size);
            return GW_EINVAL;
        }
        memcpy(field, json_string_value(v), json_string_length(v) + 1);
        return 0;
    case AMQP_ST_INT:
        if (!json_is_integer(v) || json_integer_value(v) < st->min ||
            json_integer_value(v) > st->max) {
            snprintf(err, errlen, "%s must be an integer from %d to %d", st->name, st->min,
                     st->max);
            return GW_EINVAL;
        }
        *(int *)field = (int)json_integer_value(v);
        return 0;
    case AMQP_ST_BOOL:
        if (!json_is_boolean(v)) {
            snprintf(err, errlen, "%s must be true or false", st->name);
            return GW_EINVAL;
        }
        *(int *)field = json_is_true(v);
        return 0;
    default:
        return amqp_conf_queues(v, out, err, errlen);
    }
}

/* "url": amqp[s]://[user[:password]@]host[:port][/vhost] (librabbitmq's
 * amqp_parse_url, percent-decoded) into host, port, vhost, user,
 * password and tls.  0 or GW_EINVAL with err. */
static int amqp_conf_url(const json_t *v, amqp_settings_t *out, char *err, size_t errlen)
{
    struct amqp_connection_info ci;
    char buf[1024];
    int rc = GW_EINVAL;

    if (!json_is_string(v) || json_string_length(v) >= sizeof buf) {
        snprintf(err, errlen, "url must be a string shorter than %zu bytes", sizeof buf);
        return rc;
    }
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    /* the url may hold a password: err never repeats it */
    if (amqp_parse_url(buf, &ci) != AMQP_STATUS_OK || ci.host[0] == '\0')
        snprintf(err, errlen, "url must be amqp://[user[:password]@]host[:port][/vhost] or "
                 "amqps://...");
    else if (strlen(ci.host) >= sizeof out->host || strlen(ci.vhost) >= sizeof out->vhost ||
             strlen(ci.user) >= sizeof out->user || strlen(ci.password) >= sizeof out->password)
        snprintf(err, errlen, "url: a part is too long (host < %zu bytes, vhost, user and "
                 "password < %zu)", sizeof out->host, sizeof out->vhost);
    else if (ci.port < 1 || ci.port > 65535)
        snprintf(err, errlen, "url: port must be from 1 to 65535");
    else {
        snprintf(out->host, sizeof out->host, "%s", ci.host);
        /* "amqp://h/" names the vhost "" by the URI spec; nobody means that */
        snprintf(out->vhost, sizeof out->vhost, "%s", ci.vhost[0] ? ci.vhost : "/");
        snprintf(out->user, sizeof out->user, "%s", ci.user);
        snprintf(out->password, sizeof out->password, "%s", ci.password);
        out->port = ci.port;
        out->tls = ci.ssl != 0;
        rc = 0;
    }
    return rc;
}

/* "unknown member" words: every name in the table. */
static void amqp_conf_unknown(const char *key, char *err, size_t errlen)
{
    const amqp_setting_t *st;
    size_t len;

    snprintf(err, errlen, "unknown member \"%s\" (known:", key);
    for (st = amqp_settings_table; st->name; st++) {
        len = strlen(err);
        snprintf(err + len, errlen - len, "%s %s", st == amqp_settings_table ? "" : ",",
                 st->name);
    }
    len = strlen(err);
    snprintf(err + len, errlen - len, ")");
}

int amqp_settings_parse(const json_t *conf, amqp_settings_t *out, char *err, size_t errlen)
{
    const amqp_setting_t *st;
    const char *key;
    json_t *v;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    for (st = amqp_settings_table; st->name; st++) {
        char *field = (char *)out + st->off;
        if (st->type == AMQP_ST_STR)
            snprintf(field, st->size, "%s", st->def);
        else if (st->type == AMQP_ST_INT || st->type == AMQP_ST_BOOL)
            *(int *)field = atoi(st->def);
    }
    if (conf == NULL)
        return 0;
    if (!json_is_object(conf)) {
        snprintf(err, errlen, "conf must be an object");
        return GW_EINVAL;
    }
    /* the url first, so that members beside it override its parts */
    if ((v = json_object_get(conf, "url")) != NULL &&
        (rc = amqp_conf_url(v, out, err, errlen)) != 0)
        return rc;
    json_object_foreach((json_t *)conf, key, v) {
        for (st = amqp_settings_table; st->name && strcmp(st->name, key) != 0; st++)
            ;
        if (st->name == NULL) {
            amqp_conf_unknown(key, err, errlen);
            return GW_EINVAL;
        }
        if (st->type == AMQP_ST_URL)
            continue;
        rc = amqp_conf_one(st, v, out, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (out->tls && json_object_get(conf, "port") == NULL && json_object_get(conf, "url") == NULL)
        out->port = 5671; /* amqps' port, as an amqps:// url without one gets */
    return amqp_tls_check(out, err, errlen);
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
    free(it->reply_to);
    free(it->reply_corr);
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
    rc = amqp_in_open(l);
    if (rc != 0) {
        GW_ERR("amqp", "amqp connector %s: cannot start its consumer: %s", c->name,
               gw_strerror(rc));
        goto out_stop;
    }
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
    amqp_in_close(l);
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
    amqp_in_close(l); /* first: its replies and dead-letter copies need no link thread */
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
    json_t *st_json;

    if (l == NULL)
        return json_pack("{s:s}", "state", "down");
    pthread_mutex_lock(&l->lock);
    st = l->state;
    gap = l->gap_from;
    memcpy(last_error, l->last_error, sizeof(last_error));
    pthread_mutex_unlock(&l->lock);
    buffered = (int64_t)(gw_queue_len(l->events) + gw_queue_len(l->sends)) +
               __atomic_load_n(&l->inflight, __ATOMIC_RELAXED);
    st_json = json_pack("{s:s, s:I, s:I, s:I, s:I, s:b, s:s, s:s, s:i, s:s}", "state",
                     amqp_state_name(st), "published",
                     (json_int_t)__atomic_load_n(&l->published, __ATOMIC_RELAXED), "buffered",
                     (json_int_t)buffered, "dropped",
                     (json_int_t)__atomic_load_n(&l->dropped, __ATOMIC_RELAXED), "replayed",
                     (json_int_t)__atomic_load_n(&l->replayed, __ATOMIC_RELAXED), "behind",
                     gap != 0, "last_error",
                     last_error, "broker", l->set.host, "port", l->set.port, "exchange",
                     l->set.exchange);
    if (st_json != NULL)
        amqp_in_status(l, st_json);
    return st_json;
}

/* The connector's series on /metrics (docs/amqp.md, "Connections").  The
 * HTTP thread at scrape time: under amqp_send_lock, which keeps priv (and
 * its consumer) alive, then atomics and the link's lock only. */
static void amqp_conn_metrics(gw_connector_t *c, gw_metrics_t *m)
{
    const char *lab[] = { "connector", c->name, NULL };
    amqp_link_t *l;
    int up, blocked;

    pthread_mutex_lock(&amqp_send_lock);
    l = c->priv;
    if (l != NULL) {
        pthread_mutex_lock(&l->lock);
        up = l->state == AMQP_LINK_CONNECTED || l->state == AMQP_LINK_BLOCKED;
        blocked = l->state == AMQP_LINK_BLOCKED;
        pthread_mutex_unlock(&l->lock);
        gw_metrics_value(m, "amqp.link_up", GW_STAT_GAUGE,
                         "1 while the amqp connector's publishing connection is up", lab, up);
        gw_metrics_value(m, "amqp.link_blocked", GW_STAT_GAUGE,
                         "1 while the broker blocks the amqp connector's publishing connection "
                         "(connection.blocked: a resource alarm)", lab, blocked);
        gw_metrics_value(m, "amqp.link_buffered", GW_STAT_GAUGE,
                         "events and envelopes waiting for the broker's confirm", lab,
                         (double)(gw_queue_len(l->events) + gw_queue_len(l->sends)) +
                             (double)__atomic_load_n(&l->inflight, __ATOMIC_RELAXED));
        gw_metrics_value(m, "amqp.link_published", GW_STAT_COUNTER,
                         "messages the broker confirmed to the amqp connector", lab,
                         (double)__atomic_load_n(&l->published, __ATOMIC_RELAXED));
        gw_metrics_value(m, "amqp.link_dropped", GW_STAT_COUNTER,
                         "events the broker refused, or left at a close", lab,
                         (double)__atomic_load_n(&l->dropped, __ATOMIC_RELAXED));
        amqp_in_metrics(l, m);
    }
    pthread_mutex_unlock(&amqp_send_lock);
}

/* ---- the adapter ---------------------------------------------------------- */

static int amqp_init(struct event_base *main_base)
{
    (void)main_base;
    amqp_tls_init();
    amqp_stat_published = gw_stat("amqp.published", "AMQP messages confirmed by a broker");
    amqp_stat_dropped = gw_stat("amqp.dropped",
                                "events refused by a broker (nack), or left at a close");
    amqp_stat_replayed = gw_stat("amqp.replayed",
                                 "events read back from the outbox after the buffer was full");
    amqp_in_stats();
    amqp_stat_returned = gw_stat("amqp.returned",
                                 "envelopes the broker returned as unroutable (basic.return): "
                                 "retried, not delivered");
    amqp_stat_blocked = gw_stat("amqp.blocked",
                                "times a broker blocked a connection, publishing or consuming "
                                "(connection.blocked: a resource alarm)");
    return 0;
}

const gw_adapter_t amqp_adapter = {
    .name = "amqp",
    .params = amqp_params,
    .mi_cmds = amqp_mi_cmds,
    .init = amqp_init,
    .start = NULL,
    .stop = NULL,
    .destroy = NULL,
    .conn_check = amqp_conn_check,
    .conn_open = amqp_conn_open,
    .conn_close = amqp_conn_close,
    .send = amqp_send,
    .conn_status = amqp_conn_status,
    .conn_metrics = amqp_conn_metrics,
};
