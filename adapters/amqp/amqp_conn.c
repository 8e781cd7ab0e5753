/*
 * amqp_conn.c - the link thread: one blocking librabbitmq connection per
 * AMQP connector.
 *
 * librabbitmq is blocking and not thread-safe per connection, so each
 * connector owns one thread and one amqp_connection_state_t that no other
 * thread touches.  Work arrives through two gw_queue_t (events from the
 * sink, envelopes from send()); the thread:
 *
 *   1. connects (TCP, or TLS through amqp_tls.c, with a timeout; login
 *      advertising connection.blocked; channel 1, confirm.select) and
 *      declares the exchange as a durable topic exchange;
 *   2. takes up to AMQP_BATCH_MAX items (envelopes first), publishes them
 *      persistent with content_type application/json (and the other
 *      properties of docs/events.md; envelopes mandatory, so a broker with
 *      no queue for them returns them: amqp_session_returned), then waits for the
 *      publisher confirms of the whole batch; an item is finished only when
 *      confirmed, so a broker that drops mid-batch gets the unconfirmed
 *      items again, in order, after the reconnection (at-least-once);
 *   3. when idle, polls the socket with a zero timeout so librabbitmq sends
 *      heartbeats and a dead broker is noticed even without traffic;
 *   3b. on connection.blocked (a resource alarm on the broker) publishes
 *      nothing new and waits for the confirms of what it sent without
 *      the confirm timeout until connection.unblocked (state "blocked",
 *      one WARN, ops.connector_state blocked / up), still stoppable;
 *   4. on any failure: one WARN per outage, state "down", retry after a
 *      backoff doubling from 1 s up to amqp.retry_max_ms, while the sink
 *      keeps buffering (bounded: past amqp.buffer_max it leaves the events
 *      to the store's outbox, and step 2 reads them back, in order, once
 *      the memory buffer is empty: amqp_session_replay);
 *   5. on stop: flushes what is buffered for up to AMQP_FLUSH_ON_CLOSE_MS
 *      when connected, closes the channel and connection, and hands every
 *      envelope it still holds back to the core (gw_core_requeue: another
 *      connector of that name may take it, no attempt is counted).
 *
 * Mirror copies: an event "message.mirrored" (a routing rule's mirror
 * action, docs/routing.md) is turned, just before it is published, into its
 * envelope JSON for the exchange and routing key it names
 * (amqp_item_mirror).  It comes through the same sink, buffer and outbox
 * as every event, so a broker that is briefly away gets it later, in
 * order.  Such an exchange is declared (a durable topic exchange, as the
 * events exchange) once per connection, on channel 2: a broker that
 * refuses the declaration (an exchange of that name with another type)
 * closes only that channel, and the copy is counted as dropped with a
 * warning instead of stalling the link.
 *
 * Tracing: each publish is offered to the trace bus (amqp_trace_publish)
 * when a trace is active: exchange, key, delivery tag, the envelope id.
 *
 * Threads: everything here runs on the link thread, except the fields of
 * amqp_link_t it updates under l->lock or atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <amqp.h>

#include "gw_core.h"
#include "gw_envelope.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_trace.h"
#include "amqp_link.h"

/* The link thread's private connection state. */
#define AMQP_MIRROR_EXCHANGES_MAX 16

typedef struct amqp_session {
    amqp_connection_state_t conn; /* NULL when not connected */
    int ch2_open;                 /* channel 2, for mirror exchange declarations */
    char declared[AMQP_MIRROR_EXCHANGES_MAX][128]; /* mirror exchanges declared on conn */
    size_t ndeclared;
    uint64_t next_tag;            /* delivery tag of the next publish */
    amqp_item_t *batch[AMQP_BATCH_MAX]; /* taken, not yet confirmed, in order */
    uint64_t tags[AMQP_BATCH_MAX];      /* delivery tag of each, 0 = not sent */
    int acked[AMQP_BATCH_MAX];          /* 1 confirmed, -1 refused, 0 open */
    int returned[AMQP_BATCH_MAX];       /* basic.return's reply code (312 NO_ROUTE), 0 none */
    size_t n;
    int blocked;                  /* between connection.blocked and .unblocked */
    int64_t blocked_at;           /* when it was blocked (monotonic ms) */
} amqp_session_t;

static int64_t amqp_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval amqp_tv(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    return tv;
}

static void amqp_link_set_state(amqp_link_t *l, amqp_link_state_t st, const char *err)
{
    pthread_mutex_lock(&l->lock);
    l->state = st;
    if (err)
        snprintf(l->last_error, sizeof(l->last_error), "%s", err);
    pthread_mutex_unlock(&l->lock);
}

static int amqp_link_stopping(amqp_link_t *l)
{
    int s;

    pthread_mutex_lock(&l->lock);
    s = l->stopping;
    pthread_mutex_unlock(&l->lock);
    return s;
}

void amqp_sleep_unless(pthread_mutex_t *lock, pthread_cond_t *cond, const int *stopping, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(lock);
    while (!*stopping && pthread_cond_timedwait(cond, lock, &ts) == 0)
        ;
    pthread_mutex_unlock(lock);
}

/* Sleep up to ms, returning early when the link is being stopped. */
static void amqp_link_sleep(amqp_link_t *l, int ms)
{
    amqp_sleep_unless(&l->lock, &l->cond, &l->stopping, ms);
}

/* The properties every publish carries (docs/events.md): persistent JSON,
 * app_id "junction", the timestamp and type; the caller adds the rest. */
static void amqp_props_json(amqp_basic_properties_t *p, const char *type)
{
    memset(p, 0, sizeof(*p));
    p->_flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_TYPE_FLAG;
    p->content_type = amqp_cstring_bytes("application/json");
    p->delivery_mode = AMQP_DELIVERY_PERSISTENT;
    p->timestamp = (uint64_t)(gw_now_ms() / 1000);
    p->app_id = amqp_cstring_bytes("junction");
    p->type = amqp_cstring_bytes(type);
}

static void amqp_session_close(amqp_link_t *l, amqp_session_t *s, int graceful)
{
    if (s->conn == NULL)
        return;
    if (graceful) {
        amqp_channel_close(s->conn, 1, AMQP_REPLY_SUCCESS);
        amqp_connection_close(s->conn, AMQP_REPLY_SUCCESS);
    }
    /* conn_close may shutdown() this fd while we block: forget it first. */
    pthread_mutex_lock(&l->lock);
    l->sockfd = -1;
    pthread_mutex_unlock(&l->lock);
    amqp_destroy_connection(s->conn);
    s->conn = NULL;
    s->ch2_open = 0;
    s->ndeclared = 0;
    s->blocked = 0;
}

/* Connect (amqp_link_connect) and declare the exchange.  Returns 0 with
 * s->conn set, or -1 with a reason in err. */
static int amqp_session_open(amqp_link_t *l, amqp_session_t *s, char *err, size_t errlen)
{
    amqp_rpc_reply_t r;

    if (amqp_link_connect(&l->set, &l->sockfd, &l->lock, &s->conn, err, errlen) != 0)
        return -1;
    amqp_exchange_declare(s->conn, 1, amqp_cstring_bytes(l->set.exchange),
                          amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
    r = amqp_get_rpc_reply(s->conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_reply_error(r, "exchange.declare", err, errlen);
        amqp_session_close(l, s, 0);
        return -1;
    }
    amqp_maybe_release_buffers(s->conn);
    s->next_tag = 1;
    return 0;
}

/* The envelope id for message_id: the event text starts with
 * {"event":...,"ts":...,"id":"<ULID>", and an envelope's JSON carries the same
 * "id" first; writes "" when not found. */
static void amqp_item_msgid(const amqp_item_t *it, char *out)
{
    const char *p;

    if (it->dlv) {
        memcpy(out, it->dlv->env->id, GW_ENV_ID_LEN + 1);
        return;
    }
    out[0] = '\0';
    p = strstr(it->body, "\"id\":\"");
    if (p && strlen(p + 6) > GW_ENV_ID_LEN && p[6 + GW_ENV_ID_LEN] == '"') {
        memcpy(out, p + 6, GW_ENV_ID_LEN);
        out[GW_ENV_ID_LEN] = '\0';
    }
}

/* The AMQP properties of every publish (docs/events.md, "AMQP
 * properties"): persistent JSON, app_id "junction", timestamp, type (the
 * event type, or "envelope" for an envelope and a mirror copy) and
 * message_id: an event's is "<envelope id>.<outbox seq>", the same when
 * it is published again after an outage or a restart (consumers
 * deduplicate on it) and different for each event of one message; an
 * operational event's (no message) "ops.<outbox seq>"; an envelope's is
 * its id. */
/* The headers a rule set on the message (action.set.headers: its tags
 * GW_TAG_AMQP_OUT "<name>") into e (room for max); their count.  The
 * entries point into tags, which must outlive the publish. */
static int amqp_rule_headers(const json_t *tags, amqp_table_entry_t *e, int max)
{
    const size_t plen = strlen(GW_TAG_AMQP_OUT);
    const char *key;
    json_t *v;
    int n = 0;

    json_object_foreach((json_t *)tags, key, v) {
        if (n == max)
            break;
        if (strncmp(key, GW_TAG_AMQP_OUT, plen) != 0 || key[plen] == '\0' || !json_is_string(v))
            continue;
        e[n].key = amqp_cstring_bytes(key + plen);
        e[n].value.kind = AMQP_FIELD_KIND_UTF8;
        e[n].value.value.bytes = amqp_cstring_bytes(json_string_value(v));
        n++;
    }
    return n;
}

static int amqp_publish(amqp_link_t *l, amqp_session_t *s, const amqp_item_t *it)
{
    char msgid[GW_ENV_ID_LEN + 24];
    amqp_basic_properties_t p;
    amqp_bytes_t body = { strlen(it->body), it->body };
    int envelope = it->dlv != NULL || it->exchange != NULL;
    amqp_table_entry_t hdr[AMQP_RULE_HEADERS_MAX];
    json_t *copy = NULL; /* a mirror copy's envelope, for its tags */
    const json_t *tags = NULL;
    int nhdr = 0, rc;

    amqp_item_msgid(it, msgid);
    if (!envelope && msgid[0] && it->seq > 0)
        snprintf(msgid + GW_ENV_ID_LEN, sizeof msgid - GW_ENV_ID_LEN, ".%lld", (long long)it->seq);
    else if (!envelope && it->seq > 0) /* an operational event: no message */
        snprintf(msgid, sizeof msgid, "ops.%lld", (long long)it->seq);
    amqp_props_json(&p, envelope ? "envelope" : it->key);
    if (msgid[0]) {
        p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        p.message_id = amqp_cstring_bytes(msgid);
    }
    if (it->dlv != NULL)
        tags = it->dlv->env->tags;
    else if (it->exchange != NULL && strstr(it->body, GW_TAG_AMQP_OUT) != NULL && /* a header set */
             (copy = json_loads(it->body, 0, NULL)) != NULL)
        tags = json_object_get(copy, "tags");
    if (tags != NULL && json_is_object(tags))
        nhdr = amqp_rule_headers(tags, hdr, AMQP_RULE_HEADERS_MAX);
    if (nhdr > 0) {
        p._flags |= AMQP_BASIC_HEADERS_FLAG;
        p.headers.num_entries = nhdr;
        p.headers.entries = hdr;
    }
    /* an envelope must reach a queue: mandatory, so the broker returns it
     * (basic.return before its ack) when nothing is bound to its key */
    rc = amqp_basic_publish(s->conn, 1,
                            amqp_cstring_bytes(it->exchange ? it->exchange : l->set.exchange),
                            amqp_cstring_bytes(it->key), it->dlv != NULL, 0, &p, body);
    json_decref(copy);
    return rc;
}

/* A message.mirrored event becomes the copy it carries: body = its
 * envelope, key = the rule's routing key, exchange = the rule's.  0, or -1
 * when the text is not such an event (it is then published as it is). */
static int amqp_item_mirror(amqp_item_t *it)
{
    json_t *ev = json_loads(it->body, 0, NULL), *m = json_object_get(ev, "mirror");
    const char *ex = json_string_value(json_object_get(m, "exchange"));
    const char *rk = json_string_value(json_object_get(m, "routing_key"));
    json_t *env = json_object_get(ev, "envelope");
    char *body = NULL, *key = NULL, *exchange = NULL;
    int rc = -1;

    if (ex != NULL && ex[0] != '\0' && strlen(ex) < 128 && rk != NULL && json_is_object(env)) {
        body = json_dumps(env, JSON_COMPACT); /* "id" first, for message_id */
        key = strdup(rk);
        exchange = strdup(ex);
    }
    if (body != NULL && key != NULL && exchange != NULL) {
        free(it->body);
        free(it->key);
        it->body = body;
        it->key = key;
        it->exchange = exchange;
        body = key = exchange = NULL;
        rc = 0;
    }
    free(body);
    free(key);
    free(exchange);
    json_decref(ev);
    return rc;
}

/* Declare the mirror exchange ex on this connection unless it was.  0; -1
 * when the broker refused it (channel 2 closed, the connection usable);
 * -2 with a reason in err when the connection failed. */
static int amqp_session_declare(amqp_link_t *l, amqp_session_t *s, const char *ex, char *err,
                                size_t errlen)
{
    amqp_rpc_reply_t r;

    for (size_t i = 0; i < s->ndeclared; i++)
        if (strcmp(s->declared[i], ex) == 0)
            return 0;
    if (!s->ch2_open) {
        amqp_channel_open(s->conn, 2);
        r = amqp_get_rpc_reply(s->conn);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            amqp_reply_error(r, "channel.open", err, errlen);
            return -2;
        }
        s->ch2_open = 1;
    }
    amqp_exchange_declare(s->conn, 2, amqp_cstring_bytes(ex), amqp_cstring_bytes("topic"), 0, 1,
                          0, 0, amqp_empty_table);
    r = amqp_get_rpc_reply(s->conn);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_ok_t ok = { 0 };
        amqp_reply_error(r, "exchange.declare", err, errlen);
        GW_WARN("amqp", "amqp connector %s: mirror exchange %s: %s; the copy is dropped",
                l->name, ex, err);
        s->ch2_open = 0;
        return amqp_send_method(s->conn, 2, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) == AMQP_STATUS_OK
                   ? -1 : -2;
    }
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_reply_error(r, "exchange.declare", err, errlen);
        return -2;
    }
    if (s->ndeclared < AMQP_MIRROR_EXCHANGES_MAX) /* past it: declared again each batch */
        snprintf(s->declared[s->ndeclared++], sizeof s->declared[0], "%s", ex);
    return 0;
}

/* An event of a message this link took in that asked for its receipts at
 * its reply_to (the tag amqp_reply_to, docs/amqp.md "Request / reply"):
 * the receipt and final-state events are published there too.  Sets
 * it->reply_to (and reply_corr); cheap for every other event (one
 * strstr). */
static void amqp_item_follow(const amqp_link_t *l, amqp_item_t *it)
{
    static const char *const follow[] = { "message.receipt", "message.delivered",
                                          "message.failed", "message.expired",
                                          "message.rejected", NULL };
    json_t *ev, *env;
    const char *conn, *to, *corr;
    int i;

    if (it->reply_to != NULL || strstr(it->body, "\"amqp_reply_to\":") == NULL)
        return;
    for (i = 0; follow[i] && strcmp(follow[i], it->key) != 0; i++)
        ;
    if (follow[i] == NULL)
        return;
    ev = json_loads(it->body, 0, NULL);
    env = json_object_get(ev, "envelope");
    conn = json_string_value(json_object_get(json_object_get(env, "source"), "connector"));
    to = json_string_value(json_object_get(json_object_get(env, "tags"), "amqp_reply_to"));
    corr = json_string_value(json_object_get(json_object_get(env, "corr"),
                                             "amqp_correlation_id"));
    if (conn != NULL && strcmp(conn, l->name) == 0 && to != NULL && to[0] != '\0') {
        it->reply_to = strdup(to);
        it->reply_corr = corr ? strdup(corr) : NULL;
    }
    json_decref(ev);
}

/* Publish the copy of event it to its reply_to (default exchange) with the
 * message's correlation_id; it takes a delivery tag that no batch entry
 * waits for.  AMQP_STATUS_OK or librabbitmq's error. */
static int amqp_publish_follow(amqp_link_t *l, amqp_session_t *s, const amqp_item_t *it)
{
    amqp_basic_properties_t p;
    amqp_bytes_t body = { strlen(it->body), it->body };
    char line[400];
    int rc;

    amqp_props_json(&p, it->key);
    if (it->reply_corr != NULL) {
        p._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
        p.correlation_id = amqp_cstring_bytes(it->reply_corr);
    }
    rc = amqp_basic_publish(s->conn, 1, amqp_cstring_bytes(""), amqp_cstring_bytes(it->reply_to),
                            0, 0, &p, body);
    if (rc == AMQP_STATUS_OK && gw_trace_on()) {
        char msgid[GW_ENV_ID_LEN + 1];
        amqp_item_msgid(it, msgid);
        snprintf(line, sizeof line, "publish (default) %.200s tag %llu (%s to reply_to)",
                 it->reply_to, (unsigned long long)s->next_tag, it->key);
        amqp_trace(l, GW_TRACE_OUT, msgid, s->next_tag, NULL, NULL, line, it->body,
                   strlen(it->body));
    }
    s->next_tag++;
    return rc;
}

/* Before a batch goes out (no publish awaits a confirm, so the RPCs below
 * meet no basic.ack): turn mirror events into their copies and declare
 * their exchanges; a copy whose exchange the broker refused is marked
 * refused and not published.  0, or -1 with err (connection unusable). */
static int amqp_session_prepare(amqp_link_t *l, amqp_session_t *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->n; i++) {
        amqp_item_t *it = s->batch[i];
        int rc;
        if (it->dlv != NULL || s->acked[i] != 0)
            continue;
        if (it->exchange == NULL)
            amqp_item_follow(l, it);
        if (it->exchange == NULL &&
            (strcmp(it->key, "message.mirrored") != 0 || amqp_item_mirror(it) != 0))
            continue;
        rc = amqp_session_declare(l, s, it->exchange, err, errlen);
        if (rc == -2)
            return -1;
        if (rc == -1)
            s->acked[i] = -1; /* counted as dropped when the batch settles */
    }
    return 0;
}

void amqp_trace(const amqp_link_t *l, int dir, const char *env_id, uint64_t tag,
                const char *from, const char *to, const char *summary, const char *raw,
                size_t raw_len)
{
    char peer[300];
    gw_trace_rec_t r;

    snprintf(peer, sizeof(peer), "%s:%d", l->set.host, l->set.port);
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_PUBLISH;
    r.dir = dir;
    r.connector = l->name;
    r.peer = peer;
    r.env_id = env_id;
    r.from = from;
    r.to = to;
    r.amqp_tag = tag;
    r.summary = summary;
    r.raw = raw;
    r.raw_len = raw_len;
    gw_trace_record(&r);
}

/* Offer one publish (delivery tag tag) to the trace bus.  Link thread;
 * callers test gw_trace_on() first. */
static void amqp_trace_publish(const amqp_link_t *l, const amqp_item_t *it, uint64_t tag)
{
    char msgid[GW_ENV_ID_LEN + 1], line[300];

    amqp_item_msgid(it, msgid);
    snprintf(line, sizeof(line), "publish %s %s tag %llu%s",
             it->exchange ? it->exchange : l->set.exchange, it->key, (unsigned long long)tag,
             it->dlv ? " (envelope, mandatory)" : it->exchange ? " (mirror)" : "");
    amqp_trace(l, GW_TRACE_OUT, msgid, tag, it->dlv ? it->dlv->env->from.address : NULL,
               it->dlv ? it->dlv->env->to.address : NULL, line, it->body, strlen(it->body));
}

/* Mark the batch entries a confirm covers (multiple: every tag <= tag). */
static void amqp_session_mark(amqp_session_t *s, uint64_t tag, int multiple, int verdict)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (s->tags[i] == 0 || s->acked[i] != 0)
            continue;
        if (s->tags[i] == tag || (multiple && s->tags[i] < tag))
            s->acked[i] = verdict;
    }
}

static size_t amqp_session_open_count(const amqp_session_t *s)
{
    size_t i, open = 0;

    for (i = 0; i < s->n; i++)
        open += s->acked[i] == 0;
    return open;
}

/* Hand one finished item back: confirmed items count as published and
 * their envelopes as delivered; refused events are dropped and refused
 * envelopes retried. */
static void amqp_item_finish(amqp_link_t *l, amqp_item_t *it, int verdict, int returned)
{
    char why[320];

    if (verdict > 0 && returned != 0 && it->dlv) {
        /* confirmed, but only as unroutable: not delivered.  Temporary,
         * since a binding may come; after core.max_attempts the plan's
         * next target is tried */
        snprintf(why, sizeof why, "amqp broker returned the message: %d %s (exchange %s, key %s)",
                 returned, returned == 312 ? "NO_ROUTE" : "unroutable",
                 it->exchange ? it->exchange : l->set.exchange, it->key);
        gw_stat_add(amqp_stat_returned, 1);
        gw_core_retry(it->dlv, returned, why);
        it->dlv = NULL; /* the core took it */
    } else if (verdict > 0) {
        __atomic_add_fetch(&l->published, 1, __ATOMIC_RELAXED);
        gw_stat_add(amqp_stat_published, 1);
        if (it->dlv)
            gw_core_delivered(it->dlv);
        it->dlv = NULL; /* the core took it */
    } else if (it->dlv) {
        gw_core_retry(it->dlv, 0, "amqp broker refused the message (nack)");
        it->dlv = NULL; /* the core took it */
    } else {
        amqp_link_count_dropped(l, 1);
        GW_WARN("amqp", "amqp connector %s: broker refused event %s (nack)", l->name, it->key);
    }
    amqp_item_free(it);
}

/* Finish every decided item and keep the open ones, in order, for a
 * republish on the next connection. */
static void amqp_session_settle(amqp_link_t *l, amqp_session_t *s)
{
    size_t i, keep = 0;

    for (i = 0; i < s->n; i++) {
        if (s->acked[i] != 0) {
            amqp_item_finish(l, s->batch[i], s->acked[i], s->returned[i]);
            continue;
        }
        s->batch[keep] = s->batch[i];
        s->tags[keep] = 0;
        s->acked[keep] = 0;
        s->returned[keep] = 0;
        keep++;
    }
    s->n = keep;
    __atomic_store_n(&l->inflight, (int64_t)keep, __ATOMIC_RELAXED);
}

/* A basic.return on channel: read the returned message (its header and
 * body follow at once) and mark the open envelope whose message_id it
 * carries; its ack comes after and settles it as returned.  0, or -1 with
 * err (connection unusable). */
static int amqp_session_returned(const amqp_link_t *l, amqp_session_t *s,
                                 const amqp_frame_t *f, char *err, size_t errlen)
{
    amqp_basic_return_t *ret = f->payload.method.decoded;
    int code = ret->reply_code;
    amqp_message_t msg;
    amqp_rpc_reply_t r;
    size_t i;

    r = amqp_read_message(s->conn, f->channel, &msg, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_reply_error(r, "basic.return", err, errlen);
        return -1;
    }
    for (i = 0; (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) && i < s->n; i++) {
        const amqp_item_t *it = s->batch[i];
        if (it->dlv != NULL && s->tags[i] != 0 && s->acked[i] == 0 && s->returned[i] == 0 &&
            msg.properties.message_id.len == GW_ENV_ID_LEN &&
            memcmp(msg.properties.message_id.bytes, it->dlv->env->id, GW_ENV_ID_LEN) == 0) {
            s->returned[i] = code > 0 ? code : 312;
            if (gw_trace_on()) {
                char line[300];
                snprintf(line, sizeof line, "return %d %.*s tag %llu (envelope not routed to any "
                         "queue)", code, (int)ret->reply_text.len,
                         (const char *)ret->reply_text.bytes, (unsigned long long)s->tags[i]);
                amqp_trace(l, GW_TRACE_IN, it->dlv->env->id, s->tags[i], NULL, NULL, line,
                           NULL, 0);
            }
            break;
        }
    }
    amqp_destroy_message(&msg);
    return 0;
}

/* connection.blocked: a resource alarm on the broker (memory, disk).  It
 * stops reading from every publishing connection, so the link stops
 * publishing: what is in flight waits for its confirms without the
 * confirm timeout (a blocked broker is not a dead one), new items stay
 * buffered (then in the outbox), and the rest of junction never notices.
 * One WARN and an ops.connector_state "blocked" per episode. */
static void amqp_session_blocked(amqp_link_t *l, amqp_session_t *s,
                                 const amqp_connection_blocked_t *m)
{
    char why[200];

    if (s->blocked)
        return;
    s->blocked = 1;
    s->blocked_at = amqp_mono_ms();
    gw_stat_add(amqp_stat_blocked, 1);
    snprintf(why, sizeof why, "blocked by the broker: %.*s", (int)m->reason.len,
             (const char *)m->reason.bytes);
    amqp_link_set_state(l, AMQP_LINK_BLOCKED, why);
    GW_WARN("amqp", "amqp connector %s: broker %s:%d %s; publishing paused, %zu waiting for "
            "confirms, events are buffered and junction keeps running", l->name, l->set.host,
            l->set.port, why, s->n);
    gw_event_connector(l->name, "blocked", -1, why);
}

/* connection.unblocked: the alarm cleared; publishing resumes. */
static void amqp_session_unblocked(amqp_link_t *l, amqp_session_t *s)
{
    if (!s->blocked)
        return;
    s->blocked = 0;
    amqp_link_set_state(l, AMQP_LINK_CONNECTED, "");
    GW_INFO("amqp", "amqp connector %s: broker %s:%d unblocked after %lld ms; publishing "
            "resumes", l->name, l->set.host, l->set.port,
            (long long)(amqp_mono_ms() - s->blocked_at));
    gw_event_connector(l->name, "up", -1, "unblocked");
}

/* Read one frame within ms and apply it.  Returns 0 (frame handled or
 * timeout when idle_ok), or -1 with a reason in err. */
static int amqp_session_read(amqp_link_t *l, amqp_session_t *s, int ms, int idle_ok, char *err,
                             size_t errlen)
{
    struct timeval tv = amqp_tv(ms);
    amqp_frame_t f;
    int rc;

    rc = amqp_simple_wait_frame_noblock(s->conn, &f, &tv);
    if (rc == AMQP_STATUS_TIMEOUT && idle_ok)
        return 0;
    if (rc != AMQP_STATUS_OK) {
        snprintf(err, errlen, "%s", rc == AMQP_STATUS_TIMEOUT ? "publisher confirm timeout"
                                                              : amqp_error_string2(rc));
        return -1;
    }
    rc = 0;
    if (f.frame_type == AMQP_FRAME_METHOD) {
        switch (f.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            amqp_session_mark(s, a->delivery_tag, a->multiple, 1);
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            amqp_basic_nack_t *a = f.payload.method.decoded;
            amqp_session_mark(s, a->delivery_tag, a->multiple, -1);
            break;
        }
        case AMQP_BASIC_RETURN_METHOD:
            rc = amqp_session_returned(l, s, &f, err, errlen);
            break;
        case AMQP_CONNECTION_CLOSE_METHOD:
        case AMQP_CHANNEL_CLOSE_METHOD: {
            amqp_rpc_reply_t r = { AMQP_RESPONSE_SERVER_EXCEPTION, f.payload.method, 0 };
            amqp_reply_error(r, "broker", err, errlen);
            rc = -1;
            break;
        }
        case AMQP_CONNECTION_BLOCKED_METHOD:
            amqp_session_blocked(l, s, f.payload.method.decoded);
            break;
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            amqp_session_unblocked(l, s);
            break;
        default:
            break;
        }
    }
    amqp_maybe_release_buffers(s->conn);
    return rc;
}

/* One outbox row into the batch being filled (gw_events_replay). */
static void amqp_replay_row(int64_t seq, const char *type, const char *text, void *arg)
{
    amqp_session_t *s = arg;
    amqp_item_t *it;

    if (s->n >= AMQP_BATCH_MAX || (it = calloc(1, sizeof(*it))) == NULL)
        return;
    it->key = strdup(type);
    it->body = strdup(text);
    it->seq = seq;
    if (it->key == NULL || it->body == NULL) {
        amqp_item_free(it);
        return;
    }
    s->batch[s->n++] = it;
}

/* The memory buffer is empty and events were left to the outbox: read the
 * next of them.  The gap closes once a read comes back short and the sink
 * dropped nothing newer than what was read, so no event is skipped and
 * their order holds.  Link thread (it may block on the store). */
static void amqp_session_replay(amqp_link_t *l, amqp_session_t *s)
{
    int64_t from, last;
    size_t n0 = s->n;
    int rc;

    pthread_mutex_lock(&l->lock);
    from = l->gap_from;
    pthread_mutex_unlock(&l->lock);
    if (from == 0)
        return;
    rc = gw_events_replay(from - 1, (int)(AMQP_BATCH_MAX - s->n), amqp_replay_row, s);
    if (rc < 0)
        return; /* the store is busy: the next round tries again */
    last = s->n > n0 ? s->batch[s->n - 1]->seq : from - 1;
    __atomic_add_fetch(&l->replayed, (int64_t)(s->n - n0), __ATOMIC_RELAXED);
    gw_stat_add(amqp_stat_replayed, (int64_t)(s->n - n0));
    pthread_mutex_lock(&l->lock);
    if (rc < (int)(AMQP_BATCH_MAX - n0) && l->gap_last <= last)
        l->gap_from = 0; /* caught up: the sink buffers again */
    else
        l->gap_from = last + 1;
    pthread_mutex_unlock(&l->lock);
}

/* Fill an empty batch from the queues (envelopes first), then from the
 * outbox when events were left there, waiting up to wait_ms for the first
 * event.  Returns how many items it holds. */
static size_t amqp_session_fill(amqp_link_t *l, amqp_session_t *s, int wait_ms)
{
    void *first;

    if (s->n == 0) {
        s->n = gw_queue_pop_many(l->sends, (void **)s->batch, AMQP_BATCH_MAX);
        s->n += gw_queue_pop_many(l->events, (void **)s->batch + s->n, AMQP_BATCH_MAX - s->n);
        if (s->n < AMQP_BATCH_MAX && gw_queue_len(l->events) == 0)
            amqp_session_replay(l, s);
        if (s->n == 0 && wait_ms > 0 && (first = gw_queue_pop(l->events, wait_ms)) != NULL) {
            s->batch[s->n++] = first;
            s->n += gw_queue_pop_many(l->events, (void **)s->batch + 1, AMQP_BATCH_MAX - 1);
        }
        memset(s->tags, 0, sizeof(s->tags));
        memset(s->acked, 0, sizeof(s->acked));
        memset(s->returned, 0, sizeof(s->returned));
        __atomic_store_n(&l->inflight, (int64_t)s->n, __ATOMIC_RELAXED);
    }
    return s->n;
}

/* One round: publish a batch and wait for its confirms, or poll the idle
 * connection.  Returns 0, or -1 with a reason in err (connection unusable). */
static int amqp_session_pump(amqp_link_t *l, amqp_session_t *s, int wait_ms, char *err,
                             size_t errlen)
{
    int64_t deadline;
    size_t i;
    int rc;

    if (s->blocked) /* publish nothing new: the broker does not read it */
        return amqp_session_read(l, s, wait_ms > 0 ? wait_ms : 100, 1, err, errlen);
    if (amqp_session_fill(l, s, wait_ms) == 0)
        return amqp_session_read(l, s, 0, 1, err, errlen);
    if (amqp_session_prepare(l, s, err, errlen) != 0)
        return -1;
    for (i = 0; i < s->n; i++) {
        if (s->acked[i] != 0)
            continue; /* refused before it went out */
        rc = amqp_publish(l, s, s->batch[i]);
        if (rc != AMQP_STATUS_OK) {
            snprintf(err, errlen, "publish: %s", amqp_error_string2(rc));
            return -1;
        }
        if (gw_trace_on()) amqp_trace_publish(l, s->batch[i], s->next_tag);
        s->tags[i] = s->next_tag++;
        if (s->batch[i]->reply_to != NULL &&
            (rc = amqp_publish_follow(l, s, s->batch[i])) != AMQP_STATUS_OK) {
            snprintf(err, errlen, "publish: %s", amqp_error_string2(rc));
            return -1;
        }
    }
    deadline = amqp_mono_ms() + AMQP_CONFIRM_TIMEOUT_MS;
    rc = 0;
    while (rc == 0 && amqp_session_open_count(s) > 0) {
        int left = (int)(deadline - amqp_mono_ms());
        if (s->blocked) {
            /* the confirms come after the unblock: wait for it in short
             * reads (heartbeats keep flowing), stoppable, the timeout
             * counted again from the unblock */
            if (amqp_link_stopping(l)) {
                snprintf(err, errlen, "closed while blocked by the broker");
                rc = -1;
                break;
            }
            rc = amqp_session_read(l, s, 200, 1, err, errlen);
            deadline = amqp_mono_ms() + AMQP_CONFIRM_TIMEOUT_MS;
            continue;
        }
        if (left <= 0) {
            snprintf(err, errlen, "publisher confirm timeout");
            rc = -1;
            break;
        }
        rc = amqp_session_read(l, s, left, 0, err, errlen);
    }
    amqp_session_settle(l, s);
    return rc;
}

static size_t amqp_link_buffered(amqp_link_t *l, const amqp_session_t *s)
{
    return gw_queue_len(l->events) + gw_queue_len(l->sends) + s->n;
}

/* An item that will not be published: its envelope goes back to the core
 * without counting an attempt (the connector closed, not the message's
 * fault), an event is counted as dropped. */
static void amqp_item_abandon(amqp_link_t *l, amqp_item_t *it)
{
    if (it->dlv) {
        gw_core_requeue(it->dlv);
        it->dlv = NULL; /* the core took it */
    } else {
        amqp_link_count_dropped(l, 1);
    }
    amqp_item_free(it);
}

/* Stopping: give buffered items a bounded chance, then close cleanly and
 * abandon what is left (events still in l->events are counted and freed
 * by conn_close). */
static void amqp_link_finish(amqp_link_t *l, amqp_session_t *s)
{
    int64_t deadline = amqp_mono_ms() + AMQP_FLUSH_ON_CLOSE_MS;
    char err[256];
    void *it;
    size_t i;

    while (s->conn && !s->blocked && amqp_link_buffered(l, s) > 0 &&
           amqp_mono_ms() < deadline) {
        if (amqp_session_pump(l, s, 0, err, sizeof(err)) != 0) {
            amqp_session_close(l, s, 0);
            break;
        }
    }
    /* a blocked broker reads nothing: closing politely would only wait */
    amqp_session_close(l, s, !s->blocked);
    for (i = 0; i < s->n; i++)
        amqp_item_abandon(l, s->batch[i]);
    s->n = 0;
    while (gw_queue_pop_many(l->sends, &it, 1) == 1)
        amqp_item_abandon(l, it);
    __atomic_store_n(&l->inflight, 0, __ATOMIC_RELAXED);
}

void *amqp_link_main(void *arg)
{
    amqp_link_t *l = arg;
    amqp_session_t s;
    int backoff = AMQP_RETRY_MIN_MS, outage = 0, max;
    char err[256];

    memset(&s, 0, sizeof(s));
    while (!amqp_link_stopping(l)) {
        if (s.conn == NULL) {
            amqp_link_set_state(l, outage ? AMQP_LINK_DOWN : AMQP_LINK_CONNECTING, NULL);
            if (amqp_session_open(l, &s, err, sizeof(err)) != 0) {
                amqp_link_set_state(l, AMQP_LINK_DOWN, err);
                if (!outage) {
                    GW_WARN("amqp",
                            "amqp connector %s: broker %s:%d unreachable: %s; events are "
                            "buffered (%zu) and junction keeps running",
                            l->name, l->set.host, l->set.port, err, amqp_link_buffered(l, &s));
                    gw_event_connector(l->name, "down", -1, err);
                } else
                    GW_DEBUG("amqp", "amqp connector %s: retry failed: %s", l->name, err);
                outage = 1;
                amqp_link_sleep(l, backoff);
                max = __atomic_load_n(&amqp_param_retry_max_ms, __ATOMIC_RELAXED);
                backoff = backoff * 2 > max ? max : backoff * 2;
                continue;
            }
            GW_INFO("amqp", "amqp connector %s: %s broker %s:%d, exchange %s; %zu buffered",
                    l->name, outage ? "reconnected to" : "connected to", l->set.host,
                    l->set.port, l->set.exchange, amqp_link_buffered(l, &s));
            amqp_link_set_state(l, AMQP_LINK_CONNECTED, NULL);
            gw_event_connector(l->name, "up", -1, NULL);
            backoff = AMQP_RETRY_MIN_MS;
            outage = 0;
        }
        if (amqp_session_pump(l, &s, 500, err, sizeof(err)) != 0) {
            amqp_session_close(l, &s, 0);
            amqp_link_set_state(l, AMQP_LINK_DOWN, err);
            if (amqp_link_stopping(l))
                break; /* closed while blocked: no outage to report */
            GW_WARN("amqp",
                    "amqp connector %s: broker %s:%d unreachable: %s; events are buffered "
                    "(%zu) and junction keeps running",
                    l->name, l->set.host, l->set.port, err, amqp_link_buffered(l, &s));
            gw_event_connector(l->name, "down", -1, err);
            outage = 1;
        }
    }
    amqp_link_finish(l, &s);
    return NULL;
}
