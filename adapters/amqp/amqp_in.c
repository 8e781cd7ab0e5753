/*
 * amqp_in.c - messages in: the consumer of an AMQP connector whose conf
 * lists queues in "consume" (docs/amqp.md, "Messages in").
 *
 * The consumer has its own thread and its own connection, beside the
 * link's publishing one, so a broker that blocks publishers never holds
 * up acknowledgements and the core, SIP and SMPP never wait for either:
 * the core is reached only through gw_core_accept (which only queues) and
 * answers through a callback that only queues.
 *
 *   1. connect (amqp_link_connect: channel 1 in confirm mode), declare the
 *      dead-letter exchange and queue and every consumed queue durable
 *      with its bindings, or check them passively when the admin owns the
 *      topology; basic.qos(prefetch); basic.consume on each queue, its
 *      name as the consumer tag;
 *   2. a delivery: its message_id seen within dedup_window_s is a
 *      duplicate (acked, answered with the first one's id, not taken
 *      again); else its body is validated and made an envelope
 *      (amqp_input.c) and handed to gw_core_accept.  The delivery is
 *      acknowledged only in the callback's continuation, after the
 *      envelope committed (the writer thread queues the job back here and
 *      wakes this thread through an eventfd);
 *   3. a body that is not valid input, no route, a rule's refusal: the
 *      delivery is published to the dead-letter exchange (routing key =
 *      its queue) with the reason in the headers x-junction-error (a
 *      code) and x-junction-reason (words), and only once the broker
 *      confirmed that copy is the delivery rejected (basic.reject,
 *      requeue=false) — never dropped: a copy the broker returns or
 *      refuses leaves the delivery in its queue (nack with requeue after
 *      requeue_delay_ms);
 *   4. a refusal for load (the store's queue full, shutting down) or a
 *      commit that failed: basic.nack with requeue after requeue_delay_ms,
 *      during which prefetch holds the broker back;
 *   5. reply_to: the outcome (accepted with junction's id, or the error)
 *      is published to it through the default exchange with the
 *      delivery's correlation_id, before the delivery is acked or
 *      rejected.
 *
 * Delivery tags belong to a connection: a continuation that finds the
 * connection it came on gone does nothing (the broker delivers the message
 * again, and the dedup table answers it as the duplicate it is).
 *
 * Every delivery, ack, reject, nack and publish is a trace record.
 *
 * Threads: amqp_in_open / close / status on the main thread (MI under
 * gw_mi_lock); amqp_in_committed on the store's writer thread (it only
 * queues); everything else on the consumer thread.  They share the done
 * queue, the fields under in->lock and the atomic counters.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <amqp.h>

#include "gw_core.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_trace.h"
#include "amqp_in_int.h"

#define AMQP_IN_PUBS_MAX 1024 /* publishes awaiting their confirm */

static gw_stat_t *amqp_stat_in_received, *amqp_stat_in_accepted, *amqp_stat_in_duplicates,
                 *amqp_stat_in_dead, *amqp_stat_in_requeued, *amqp_stat_in_replies;

/* What to do with a delivery once the publish before it is confirmed. */
typedef enum { AMQP_AFTER_NONE = 0, AMQP_AFTER_REJECT } amqp_after_t;

typedef struct amqp_in_pub {
    uint64_t pub_tag;  /* publish sequence number on channel 1 */
    uint64_t dtag;     /* the delivery it settles (AMQP_AFTER_REJECT) */
    amqp_after_t after;
    int returned;      /* the broker returned it (basic.return before its ack) */
} amqp_in_pub_t;

typedef struct amqp_in_delay {
    uint64_t dtag;
    int64_t due_ms;
} amqp_in_delay_t;

/* One delivery handed to the core, back from the writer thread. */
typedef struct amqp_in_job {
    amqp_in_t *in;
    uint64_t gen;       /* the connection it came on */
    uint64_t dtag;
    int rc;             /* gw_core_accept's commit: 0 or < 0 */
    char jid[GW_ENV_ID_LEN + 1];
    char *msgid, *reply_to, *corr_id, *queue;
} amqp_in_job_t;

struct amqp_in {
    /* read-only after amqp_in_open */
    amqp_link_t *l;
    pthread_t thread;
    int wakefd;              /* eventfd: a job is in done, or stop */
    gw_queue_t *done;        /* amqp_in_job_t *, unbounded (at most prefetch per connection) */

    /* guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;
    int pending;             /* accepts whose callback has not run */
    int connected;
    int blocked;             /* connected, and the broker sent connection.blocked */
    int sockfd;
    char last_error[256];

    /* atomics */
    int64_t received, accepted, duplicates, dead, requeued, replies;

    /* the consumer thread's own */
    amqp_connection_state_t conn;
    uint64_t gen, next_pub;
    amqp_in_pub_t *pubs;     /* FIFO of AMQP_IN_PUBS_MAX */
    size_t pub_head, npubs;
    amqp_in_delay_t *delays; /* nacks waiting for their time, at most prefetch */
    size_t ndelays;
    amqp_dedup_t dedup;
};

static int64_t amqp_in_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int amqp_in_stopping(amqp_in_t *in)
{
    int s;

    pthread_mutex_lock(&in->lock);
    s = in->stopping;
    pthread_mutex_unlock(&in->lock);
    return s;
}

static void amqp_in_wake(amqp_in_t *in)
{
    uint64_t one = 1;

    if (write(in->wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
        GW_DEBUG("amqp", "amqp connector %s: wake: %s", in->l->name, strerror(errno));
}

static void amqp_in_job_free(void *p)
{
    amqp_in_job_t *job = p;

    if (job == NULL)
        return;
    free(job->msgid);
    free(job->reply_to);
    free(job->corr_id);
    free(job->queue);
    free(job);
}

/* A property or field as a malloc'd C string, NULL when empty. */
static char *amqp_in_dup(amqp_bytes_t b)
{
    char *s;

    if (b.len == 0 || b.bytes == NULL || (s = malloc(b.len + 1)) == NULL)
        return NULL;
    memcpy(s, b.bytes, b.len);
    s[b.len] = '\0';
    return s;
}

/* One trace record of this consumer: summary from fmt.  Callers test
 * gw_trace_on() first. */
static void amqp_in_trace(amqp_in_t *in, int dir, const char *id, uint64_t tag,
                          const char *raw, size_t raw_len, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static void amqp_in_trace(amqp_in_t *in, int dir, const char *id, uint64_t tag,
                          const char *raw, size_t raw_len, const char *fmt, ...)
{
    char line[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    amqp_trace(in->l, dir, id, tag, NULL, NULL, line, raw, raw_len);
}

/* ---- settling deliveries ------------------------------------------------ */

static void amqp_in_ack(amqp_in_t *in, uint64_t dtag, const char *id)
{
    amqp_basic_ack(in->conn, 1, dtag, 0);
    if (gw_trace_on())
        amqp_in_trace(in, GW_TRACE_OUT, id, dtag, NULL, 0, "ack tag %llu",
                      (unsigned long long)dtag);
}

static void amqp_in_reject(amqp_in_t *in, uint64_t dtag)
{
    amqp_basic_reject(in->conn, 1, dtag, 0);
    if (gw_trace_on())
        amqp_in_trace(in, GW_TRACE_OUT, NULL, dtag, NULL, 0, "reject tag %llu (requeue=false)",
                      (unsigned long long)dtag);
}

/* Nack dtag with requeue after requeue_delay_ms (at once when 0). */
static void amqp_in_requeue_later(amqp_in_t *in, uint64_t dtag)
{
    int delay = in->l->set.requeue_delay_ms;

    __atomic_add_fetch(&in->requeued, 1, __ATOMIC_RELAXED);
    gw_stat_add(amqp_stat_in_requeued, 1);
    if (delay > 0 && in->ndelays < (size_t)in->l->set.prefetch) {
        in->delays[in->ndelays].dtag = dtag;
        in->delays[in->ndelays].due_ms = amqp_in_mono_ms() + delay;
        in->ndelays++;
        return;
    }
    amqp_basic_nack(in->conn, 1, dtag, 0, 1);
    if (gw_trace_on())
        amqp_in_trace(in, GW_TRACE_OUT, NULL, dtag, NULL, 0, "nack tag %llu (requeue)",
                      (unsigned long long)dtag);
}

/* Nack the deliveries whose delay is over; the ms until the next one is
 * due (1000 when none waits). */
static int amqp_in_run_delays(amqp_in_t *in)
{
    int64_t now = amqp_in_mono_ms(), next = 1000;
    size_t i, keep = 0;

    for (i = 0; i < in->ndelays; i++) {
        if (in->delays[i].due_ms <= now) {
            amqp_basic_nack(in->conn, 1, in->delays[i].dtag, 0, 1);
            if (gw_trace_on())
                amqp_in_trace(in, GW_TRACE_OUT, NULL, in->delays[i].dtag, NULL, 0,
                              "nack tag %llu (requeue)",
                              (unsigned long long)in->delays[i].dtag);
            continue;
        }
        if (in->delays[i].due_ms - now < next)
            next = in->delays[i].due_ms - now;
        in->delays[keep++] = in->delays[i];
    }
    in->ndelays = keep;
    return (int)next;
}

/* Publish on channel 1 and remember it until its confirm.  0, or -1 (the
 * connection failed, or too many await their confirm: the caller
 * requeues). */
static int amqp_in_publish(amqp_in_t *in, const char *exchange, const char *key, int mandatory,
                           const amqp_basic_properties_t *p, amqp_bytes_t body,
                           amqp_after_t after, uint64_t dtag)
{
    amqp_in_pub_t *e;

    if (in->npubs >= AMQP_IN_PUBS_MAX)
        return -1;
    if (amqp_basic_publish(in->conn, 1, amqp_cstring_bytes(exchange), amqp_cstring_bytes(key),
                           mandatory, 0, p, body) != AMQP_STATUS_OK)
        return -1;
    e = &in->pubs[(in->pub_head + in->npubs++) % AMQP_IN_PUBS_MAX];
    e->pub_tag = in->next_pub++;
    e->dtag = dtag;
    e->after = after;
    e->returned = 0;
    if (gw_trace_on())
        amqp_in_trace(in, GW_TRACE_OUT, NULL, e->pub_tag, body.bytes, body.len,
                      "publish %s %s tag %llu", exchange[0] ? exchange : "(default)", key,
                      (unsigned long long)e->pub_tag);
    return 0;
}

/* The outcome to reply_to with correlation_id: {"status": "accepted",
 * "id", "duplicate"?} or {"status": "rejected", "error", "reason"}. */
static void amqp_in_reply(amqp_in_t *in, const char *reply_to, const char *corr_id,
                          const char *msgid, const char *jid, int duplicate, const char *code,
                          const char *reason)
{
    amqp_basic_properties_t p;
    json_t *o;
    char *text;

    if (reply_to == NULL)
        return;
    if (jid != NULL)
        o = json_pack("{s:s, s:s, s:s?, s:b}", "status", "accepted", "id", jid, "message_id",
                      msgid, "duplicate", duplicate);
    else
        o = json_pack("{s:s, s:s, s:s, s:s?}", "status", "rejected", "error", code, "reason",
                      reason, "message_id", msgid);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return;
    memset(&p, 0, sizeof p);
    p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_TYPE_FLAG |
               AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.content_type = amqp_cstring_bytes("application/json");
    p.app_id = amqp_cstring_bytes("junction");
    p.type = amqp_cstring_bytes("outcome");
    p.timestamp = (uint64_t)(gw_now_ms() / 1000);
    p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    if (corr_id != NULL) {
        p._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
        p.correlation_id = amqp_cstring_bytes(corr_id);
    }
    if (amqp_in_publish(in, "", reply_to, 0, &p, amqp_cstring_bytes(text), AMQP_AFTER_NONE, 0) ==
        0) {
        __atomic_add_fetch(&in->replies, 1, __ATOMIC_RELAXED);
        gw_stat_add(amqp_stat_in_replies, 1);
    }
    free(text);
}

/* Refuse delivery dtag of queue for good: its copy with the reason in the
 * headers to the dead-letter exchange; the reject follows that copy's
 * confirm (amqp_in_confirmed). */
static void amqp_in_dead_letter(amqp_in_t *in, const amqp_envelope_t *d, const char *queue,
                                const char *code, const char *reason)
{
    amqp_basic_properties_t p = d->message.properties;
    amqp_table_t *old = (p._flags & AMQP_BASIC_HEADERS_FLAG) ? &p.headers : NULL;
    int n = old ? old->num_entries : 0, k = 0;
    amqp_table_entry_t *e = calloc((size_t)n + 4, sizeof(*e));

    GW_INFO("amqp", "amqp connector %s: delivery %llu from queue %s dead-lettered to %s: %s: %s",
            in->l->name, (unsigned long long)d->delivery_tag, queue,
            in->l->set.dead_letter_exchange, code, reason);
    if (e == NULL) {
        amqp_in_requeue_later(in, d->delivery_tag);
        return;
    }
    for (int i = 0; i < n; i++)
        if (old->entries[i].key.len < 11 ||
            memcmp(old->entries[i].key.bytes, "x-junction-", 11) != 0) /* ours are new */
            e[k++] = old->entries[i];
    e[k].key = amqp_cstring_bytes("x-junction-error");
    e[k].value.kind = AMQP_FIELD_KIND_UTF8;
    e[k++].value.value.bytes = amqp_cstring_bytes(code);
    e[k].key = amqp_cstring_bytes("x-junction-reason");
    e[k].value.kind = AMQP_FIELD_KIND_UTF8;
    e[k++].value.value.bytes = amqp_cstring_bytes(reason);
    e[k].key = amqp_cstring_bytes("x-junction-queue");
    e[k].value.kind = AMQP_FIELD_KIND_UTF8;
    e[k++].value.value.bytes = amqp_cstring_bytes(queue);
    e[k].key = amqp_cstring_bytes("x-junction-connector");
    e[k].value.kind = AMQP_FIELD_KIND_UTF8;
    e[k++].value.value.bytes = amqp_cstring_bytes(in->l->name);
    p._flags |= AMQP_BASIC_HEADERS_FLAG;
    p.headers.num_entries = k;
    p.headers.entries = e;
    if (amqp_in_publish(in, in->l->set.dead_letter_exchange, queue, 1, &p, d->message.body,
                        AMQP_AFTER_REJECT, d->delivery_tag) != 0)
        amqp_in_requeue_later(in, d->delivery_tag);
    free(e);
}

/* A confirm (ack = 1, nack = 0) of every publish up to tag (multiple) or
 * of tag alone. */
static void amqp_in_confirmed(amqp_in_t *in, uint64_t tag, int multiple, int ack)
{
    for (size_t i = 0; i < in->npubs; i++) {
        amqp_in_pub_t *e = &in->pubs[(in->pub_head + i) % AMQP_IN_PUBS_MAX];
        if (e->pub_tag == 0 || !(e->pub_tag == tag || (multiple && e->pub_tag < tag)))
            continue;
        if (e->after == AMQP_AFTER_REJECT && ack && !e->returned) {
            amqp_in_reject(in, e->dtag);
            __atomic_add_fetch(&in->dead, 1, __ATOMIC_RELAXED);
            gw_stat_add(amqp_stat_in_dead, 1);
        } else if (e->after == AMQP_AFTER_REJECT) {
            GW_WARN("amqp", "amqp connector %s: the broker %s the dead-letter copy of delivery "
                    "%llu (exchange %s); the delivery stays in its queue", in->l->name,
                    e->returned ? "returned (nothing bound to it)" : "refused",
                    (unsigned long long)e->dtag, in->l->set.dead_letter_exchange);
            amqp_in_requeue_later(in, e->dtag);
        }
        e->pub_tag = 0; /* settled */
    }
    while (in->npubs > 0 && in->pubs[in->pub_head].pub_tag == 0) {
        in->pub_head = (in->pub_head + 1) % AMQP_IN_PUBS_MAX;
        in->npubs--;
    }
}

/* A basic.return: the oldest unconfirmed mandatory publish (a
 * dead-letter copy) is the one returned — the broker handles a channel's
 * publishes in order and returns before it confirms. */
static int amqp_in_returned(amqp_in_t *in, const amqp_frame_t *f, char *err, size_t errlen)
{
    amqp_message_t msg;
    amqp_rpc_reply_t r = amqp_read_message(in->conn, f->channel, &msg, 0);

    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_reply_error(r, "basic.return", err, errlen);
        return -1;
    }
    amqp_destroy_message(&msg);
    for (size_t i = 0; i < in->npubs; i++) {
        amqp_in_pub_t *e = &in->pubs[(in->pub_head + i) % AMQP_IN_PUBS_MAX];
        if (e->pub_tag != 0 && e->after == AMQP_AFTER_REJECT && !e->returned) {
            e->returned = 1;
            break;
        }
    }
    return 0;
}

/* ---- deliveries in ------------------------------------------------------ */

/* Writer thread: the envelope of job committed (rc 0) or not.  Only
 * queues; the consumer thread settles the delivery. */
static void amqp_in_committed(gw_envelope_t *env, int rc, void *arg)
{
    amqp_in_job_t *job = arg;
    amqp_in_t *in = job->in;

    (void)env;
    job->rc = rc;
    if (gw_queue_push(in->done, job) != 0)
        amqp_in_job_free(job); /* unacked: the broker delivers it again */
    amqp_in_wake(in);
    pthread_mutex_lock(&in->lock);
    in->pending--; /* the last touch of in: amqp_in_close waits for 0 */
    pthread_cond_broadcast(&in->cond);
    pthread_mutex_unlock(&in->lock);
}

/* Consumer thread: a committed (or failed) accept comes back. */
static void amqp_in_settle(amqp_in_t *in, amqp_in_job_t *job)
{
    if (job->gen != in->gen || in->conn == NULL) {
        /* its connection is gone: the broker delivers it again, and that
         * copy is a duplicate once this commit is known good */
        amqp_dedup_ent_t *e = amqp_dedup_find(&in->dedup, job->msgid, gw_now_ms());
        if (e != NULL && strcmp(e->jid, job->jid) == 0 && job->rc == 0)
            e->pending = 0;
        else if (e != NULL && strcmp(e->jid, job->jid) == 0)
            amqp_dedup_forget(&in->dedup, job->msgid, job->jid);
        amqp_in_job_free(job);
        return;
    }
    if (job->rc == 0) {
        amqp_dedup_ent_t *e = amqp_dedup_find(&in->dedup, job->msgid, gw_now_ms());
        if (e != NULL && strcmp(e->jid, job->jid) == 0)
            e->pending = 0;
        __atomic_add_fetch(&in->accepted, 1, __ATOMIC_RELAXED);
        gw_stat_add(amqp_stat_in_accepted, 1);
        amqp_in_reply(in, job->reply_to, job->corr_id, job->msgid, job->jid, 0, NULL, NULL);
        amqp_in_ack(in, job->dtag, job->jid);
    } else {
        GW_WARN("amqp", "amqp connector %s: message %s from queue %s not committed (%s); "
                "requeued", in->l->name, job->jid, job->queue, gw_strerror(job->rc));
        amqp_dedup_forget(&in->dedup, job->msgid, job->jid);
        amqp_in_requeue_later(in, job->dtag);
    }
    amqp_in_job_free(job);
}

/* The refusal of a message the router would not take, as code and words. */
static void amqp_in_refused(int rc, char *code, size_t clen, char *reason, size_t rlen,
                            const gw_envelope_t *env)
{
    if (rc == GW_ENOROUTE) {
        snprintf(code, clen, "no_route");
        snprintf(reason, rlen, "no route for %s", env->to.address ? env->to.address : "");
    } else {
        const gw_refusal_t *ref = gw_core_refusal();
        snprintf(code, clen, "rejected");
        snprintf(reason, rlen, "rejected by rule %lld (%s): %s", ref->rule_id, ref->rule,
                 ref->reason);
    }
}

static void amqp_in_delivery(amqp_in_t *in, amqp_envelope_t *d)
{
    amqp_basic_properties_t *p = &d->message.properties;
    char *queue = amqp_in_dup(d->consumer_tag), *rkey = amqp_in_dup(d->routing_key);
    char *msgid = (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) ? amqp_in_dup(p->message_id) : NULL;
    char *corr = (p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG) ? amqp_in_dup(p->correlation_id)
                                                               : NULL;
    char *reply = (p->_flags & AMQP_BASIC_REPLY_TO_FLAG) ? amqp_in_dup(p->reply_to) : NULL;
    amqp_in_meta_t m = { in->l->name, queue ? queue : "", rkey, msgid, corr, reply, p };
    char err[256], code[16];
    amqp_dedup_ent_t *seen;
    amqp_in_job_t *job = NULL;
    gw_envelope_t *env = NULL;
    int rc;

    __atomic_add_fetch(&in->received, 1, __ATOMIC_RELAXED);
    gw_stat_add(amqp_stat_in_received, 1);
    if (gw_trace_on())
        amqp_in_trace(in, GW_TRACE_IN, NULL, d->delivery_tag, d->message.body.bytes,
                      d->message.body.len, "deliver %s %s tag %llu", m.queue, rkey ? rkey : "",
                      (unsigned long long)d->delivery_tag);
    seen = amqp_dedup_find(&in->dedup, msgid, gw_now_ms());
    if (seen != NULL && seen->pending) {
        /* the first copy's commit is not known yet (a redelivery after a
         * lost connection): acking this one could lose both */
        amqp_in_requeue_later(in, d->delivery_tag);
        goto out;
    }
    if (seen != NULL) {
        __atomic_add_fetch(&in->duplicates, 1, __ATOMIC_RELAXED);
        gw_stat_add(amqp_stat_in_duplicates, 1);
        GW_DEBUG("amqp", "amqp connector %s: message_id %s from %s is a duplicate of %s",
                 in->l->name, msgid, m.queue, seen->jid);
        amqp_in_reply(in, reply, corr, msgid, seen->jid, 1, NULL, NULL);
        amqp_in_ack(in, d->delivery_tag, seen->jid);
        goto out;
    }
    rc = amqp_input_envelope(d->message.body.bytes, d->message.body.len, &m, &env, err,
                             sizeof err);
    if (rc == GW_EINVAL) {
        amqp_in_reply(in, reply, corr, msgid, NULL, 0, "invalid", err);
        amqp_in_dead_letter(in, d, m.queue, "invalid", err);
        goto out;
    }
    job = calloc(1, sizeof(*job));
    if (rc != 0 || job == NULL) {
        amqp_in_requeue_later(in, d->delivery_tag);
        goto out;
    }
    job->in = in;
    job->gen = in->gen;
    job->dtag = d->delivery_tag;
    memcpy(job->jid, env->id, sizeof job->jid);
    job->queue = strdup(m.queue);
    job->msgid = msgid ? strdup(msgid) : NULL;
    job->corr_id = corr ? strdup(corr) : NULL;
    job->reply_to = reply ? strdup(reply) : NULL;
    if (job->queue == NULL || (msgid && !job->msgid) || (corr && !job->corr_id) ||
        (reply && !job->reply_to)) {
        amqp_in_requeue_later(in, d->delivery_tag);
        goto out;
    }
    pthread_mutex_lock(&in->lock);
    in->pending++; /* before the accept: its callback may run at once */
    pthread_mutex_unlock(&in->lock);
    rc = gw_core_accept(env, amqp_in_committed, job);
    if (rc == 0) {
        /* the job is the writer's until its callback: fill it first */
        job = NULL;
        amqp_dedup_add(&in->dedup, msgid, env->id, gw_now_ms());
        goto out;
    }
    pthread_mutex_lock(&in->lock);
    in->pending--;
    pthread_mutex_unlock(&in->lock);
    /* a rule's rate limit over its rate is load, not a verdict on the message */
    if (rc == GW_ENOROUTE || (rc == GW_EREJECTED && !gw_core_refusal()->throttled)) {
        amqp_in_refused(rc, code, sizeof code, err, sizeof err, env);
        amqp_in_reply(in, reply, corr, msgid, NULL, 0, code, err);
        amqp_in_dead_letter(in, d, m.queue, code, err);
    } else {
        amqp_in_requeue_later(in, d->delivery_tag); /* load, shutdown, memory */
    }
out:
    amqp_in_job_free(job);
    gw_env_unref(env);
    free(queue);
    free(rkey);
    free(msgid);
    free(corr);
    free(reply);
}

/* ---- the connection ----------------------------------------------------- */

static void amqp_in_disconnect(amqp_in_t *in, int graceful)
{
    int blocked;

    if (in->conn == NULL)
        return;
    pthread_mutex_lock(&in->lock);
    blocked = in->blocked;
    pthread_mutex_unlock(&in->lock);
    if (graceful && !blocked) { /* a blocked broker reads nothing: a polite close only waits */
        amqp_channel_close(in->conn, 1, AMQP_REPLY_SUCCESS);
        amqp_connection_close(in->conn, AMQP_REPLY_SUCCESS);
    }
    pthread_mutex_lock(&in->lock);
    in->sockfd = -1;
    in->connected = 0;
    in->blocked = 0;
    pthread_mutex_unlock(&in->lock);
    amqp_destroy_connection(in->conn);
    in->conn = NULL;
    in->npubs = in->pub_head = in->ndelays = 0; /* the broker requeues what was unacked */
}

/* One RPC's reply: 0, or -1 with err naming what. */
static int amqp_in_rpc(amqp_in_t *in, const char *what, const char *name, char *err,
                       size_t errlen)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(in->conn);
    char w[AMQP_NAME_MAX + 32];

    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    snprintf(w, sizeof w, "%s %s", what, name);
    amqp_reply_error(r, w, err, errlen);
    return -1;
}

/* Declare (or, passive, check) the dead-letter exchange and queue and the
 * consumed queues with their bindings; prefetch; consume.  0 or -1. */
static int amqp_in_topology(amqp_in_t *in, char *err, size_t errlen)
{
    const amqp_settings_t *set = &in->l->set;
    int passive = set->passive;

    amqp_exchange_declare(in->conn, 1, amqp_cstring_bytes(set->dead_letter_exchange),
                          amqp_cstring_bytes("topic"), passive, 1, 0, 0, amqp_empty_table);
    if (amqp_in_rpc(in, "exchange.declare", set->dead_letter_exchange, err, errlen) != 0)
        return -1;
    if (set->dead_letter_queue[0] != '\0') {
        amqp_queue_declare(in->conn, 1, amqp_cstring_bytes(set->dead_letter_queue), passive, 1, 0,
                           0, amqp_empty_table);
        if (amqp_in_rpc(in, "queue.declare", set->dead_letter_queue, err, errlen) != 0)
            return -1;
        if (!passive) {
            amqp_queue_bind(in->conn, 1, amqp_cstring_bytes(set->dead_letter_queue),
                            amqp_cstring_bytes(set->dead_letter_exchange),
                            amqp_cstring_bytes("#"), amqp_empty_table);
            if (amqp_in_rpc(in, "queue.bind", set->dead_letter_queue, err, errlen) != 0)
                return -1;
        }
    }
    for (size_t i = 0; i < set->nconsume; i++) {
        const amqp_queue_conf_t *q = &set->consume[i];
        amqp_queue_declare(in->conn, 1, amqp_cstring_bytes(q->queue), passive, 1, 0, 0,
                           amqp_empty_table);
        if (amqp_in_rpc(in, "queue.declare", q->queue, err, errlen) != 0)
            return -1;
        for (size_t k = 0; !passive && k < q->nbindings; k++) {
            amqp_exchange_declare(in->conn, 1, amqp_cstring_bytes(q->bindings[k].exchange),
                                  amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
            if (amqp_in_rpc(in, "exchange.declare", q->bindings[k].exchange, err, errlen) != 0)
                return -1;
            amqp_queue_bind(in->conn, 1, amqp_cstring_bytes(q->queue),
                            amqp_cstring_bytes(q->bindings[k].exchange),
                            amqp_cstring_bytes(q->bindings[k].key), amqp_empty_table);
            if (amqp_in_rpc(in, "queue.bind", q->queue, err, errlen) != 0)
                return -1;
        }
    }
    amqp_basic_qos(in->conn, 1, 0, (uint16_t)set->prefetch, 0);
    if (amqp_in_rpc(in, "basic.qos", "", err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < set->nconsume; i++) {
        const char *qn = set->consume[i].queue;
        amqp_basic_consume(in->conn, 1, amqp_cstring_bytes(qn), amqp_cstring_bytes(qn), 0, 0, 0,
                           amqp_empty_table);
        if (amqp_in_rpc(in, "basic.consume", qn, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int amqp_in_connect(amqp_in_t *in, char *err, size_t errlen)
{
    if (amqp_link_connect(&in->l->set, &in->sockfd, &in->lock, &in->conn, err, errlen) != 0)
        return -1;
    if (amqp_in_topology(in, err, errlen) != 0) {
        amqp_in_disconnect(in, 0);
        return -1;
    }
    in->gen++;
    in->next_pub = 1;
    pthread_mutex_lock(&in->lock);
    in->connected = 1;
    in->last_error[0] = '\0';
    pthread_mutex_unlock(&in->lock);
    return 0;
}

/* connection.blocked (m != NULL) or .unblocked: a resource alarm on the
 * broker, which stops reading from this connection once it publishes (a
 * reply, a dead-letter copy), acks included.  Deliveries already taken go
 * on to the core; state "blocked" in amqp.connections, one WARN per
 * episode. */
static void amqp_in_blocked(amqp_in_t *in, const amqp_connection_blocked_t *m)
{
    int was;

    pthread_mutex_lock(&in->lock);
    was = in->blocked;
    in->blocked = m != NULL;
    if (m != NULL)
        snprintf(in->last_error, sizeof in->last_error, "blocked by the broker: %.*s",
                 (int)m->reason.len, (const char *)m->reason.bytes);
    pthread_mutex_unlock(&in->lock);
    if (m != NULL && !was)
        gw_stat_add(amqp_stat_blocked, 1);
    if (m != NULL && !was)
        GW_WARN("amqp", "amqp connector %s: consumer blocked by broker %s:%d: %.*s; its acks, "
                "replies and dead-letter copies wait for the unblock", in->l->name,
                in->l->set.host, in->l->set.port, (int)m->reason.len,
                (const char *)m->reason.bytes);
    else if (m == NULL && was)
        GW_INFO("amqp", "amqp connector %s: consumer unblocked by broker %s:%d", in->l->name,
                in->l->set.host, in->l->set.port);
}

/* Read and apply every frame that is there (wait_ms for the first).  0,
 * or -1 with err (the connection is unusable). */
static int amqp_in_read(amqp_in_t *in, int wait_ms, char *err, size_t errlen)
{
    struct timeval tv = { wait_ms / 1000, (wait_ms % 1000) * 1000 };
    amqp_frame_t f;
    int rc;

    for (;;) {
        rc = amqp_simple_wait_frame_noblock(in->conn, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT)
            return 0;
        if (rc != AMQP_STATUS_OK) {
            snprintf(err, errlen, "%s", amqp_error_string2(rc));
            return -1;
        }
        tv.tv_sec = tv.tv_usec = 0; /* the rest only if already there */
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        switch (f.payload.method.id) {
        case AMQP_BASIC_DELIVER_METHOD: {
            amqp_basic_deliver_t *m = f.payload.method.decoded;
            amqp_envelope_t d;
            amqp_rpc_reply_t r;
            memset(&d, 0, sizeof d);
            d.channel = f.channel;
            d.delivery_tag = m->delivery_tag;
            d.redelivered = m->redelivered;
            d.consumer_tag = amqp_bytes_malloc_dup(m->consumer_tag);
            d.exchange = amqp_bytes_malloc_dup(m->exchange);
            d.routing_key = amqp_bytes_malloc_dup(m->routing_key);
            r = amqp_read_message(in->conn, f.channel, &d.message, 0);
            if (r.reply_type != AMQP_RESPONSE_NORMAL) {
                amqp_reply_error(r, "basic.deliver", err, errlen);
                amqp_destroy_envelope(&d);
                return -1;
            }
            amqp_in_delivery(in, &d);
            amqp_destroy_envelope(&d);
            break;
        }
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            amqp_in_confirmed(in, a->delivery_tag, a->multiple, 1);
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            amqp_basic_nack_t *a = f.payload.method.decoded;
            amqp_in_confirmed(in, a->delivery_tag, a->multiple, 0);
            break;
        }
        case AMQP_BASIC_RETURN_METHOD:
            if (amqp_in_returned(in, &f, err, errlen) != 0)
                return -1;
            break;
        case AMQP_CONNECTION_CLOSE_METHOD:
        case AMQP_CHANNEL_CLOSE_METHOD: {
            amqp_rpc_reply_t r = { AMQP_RESPONSE_SERVER_EXCEPTION, f.payload.method, 0 };
            amqp_reply_error(r, "broker", err, errlen);
            return -1;
        }
        case AMQP_BASIC_CANCEL_METHOD:
            snprintf(err, errlen, "the broker cancelled a consumer (queue deleted?)");
            return -1;
        case AMQP_CONNECTION_BLOCKED_METHOD:
            amqp_in_blocked(in, f.payload.method.decoded);
            break;
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            amqp_in_blocked(in, NULL);
            break;
        default:
            break;
        }
        amqp_maybe_release_buffers(in->conn);
    }
}

/* One turn while connected: settle what the core committed, nack what is
 * due, wait for the broker or a wake-up, read.  0 or -1 with err. */
static int amqp_in_turn(amqp_in_t *in, char *err, size_t errlen)
{
    struct pollfd pfd[2];
    uint64_t n;
    void *job;
    int wait;

    while (gw_queue_pop_many(in->done, &job, 1) == 1)
        amqp_in_settle(in, job);
    wait = amqp_in_run_delays(in);
    if (amqp_frames_enqueued(in->conn) || amqp_data_in_buffer(in->conn))
        return amqp_in_read(in, 0, err, errlen);
    pfd[0].fd = amqp_get_sockfd(in->conn);
    pfd[0].events = POLLIN;
    pfd[1].fd = in->wakefd;
    pfd[1].events = POLLIN;
    /* at most 1 s, so heartbeats go out while idle */
    if (poll(pfd, 2, wait < 1000 ? wait : 1000) < 0 && errno != EINTR) {
        snprintf(err, errlen, "poll: %s", strerror(errno));
        return -1;
    }
    if (pfd[1].revents & POLLIN)
        if (read(in->wakefd, &n, sizeof n) < 0 && errno != EAGAIN)
            GW_DEBUG("amqp", "amqp connector %s: wake read: %s", in->l->name, strerror(errno));
    return amqp_in_read(in, 0, err, errlen);
}

static void amqp_in_sleep(amqp_in_t *in, int ms)
{
    amqp_sleep_unless(&in->lock, &in->cond, &in->stopping, ms);
}

/* What the store remembers of the messages this connector took within
 * the dedup window: read newest first, seeded oldest first.  Grows with
 * what is found, at most the table's capacity. */
typedef struct amqp_in_seed_ent {
    char *msgid;
    char jid[GW_ENV_ID_LEN + 1];
    int64_t at;
} amqp_in_seed_ent_t;

typedef struct amqp_in_seed {
    amqp_in_seed_ent_t *e;
    int n, size, cap;
} amqp_in_seed_t;

static void amqp_in_seed_one(const char *id, const char *msgid, int64_t at, void *arg)
{
    amqp_in_seed_t *sd = arg;

    if (sd->n >= sd->cap)
        return;
    if (sd->n == sd->size) {
        int size = sd->size ? sd->size * 2 : 256;
        amqp_in_seed_ent_t *e = realloc(sd->e, (size_t)size * sizeof *e);
        if (e == NULL)
            return;
        sd->e = e;
        sd->size = size;
    }
    if ((sd->e[sd->n].msgid = strdup(msgid)) == NULL)
        return;
    snprintf(sd->e[sd->n].jid, sizeof sd->e[sd->n].jid, "%s", id);
    sd->e[sd->n++].at = at;
}

/* Before the first delivery: the message_ids taken within dedup_window_s
 * are read back from the store, so a delivery committed before a crash
 * (or a restart) but not acked is known as a duplicate when the broker
 * delivers it again.  Consumer thread (it may block on the store). */
static void amqp_in_seed_dedup(amqp_in_t *in)
{
    const amqp_settings_t *set = &in->l->set;
    amqp_in_seed_t sd = { .cap = (int)in->dedup.cap };
    int n, i;

    if (set->dedup_window_s <= 0 || in->dedup.ent == NULL)
        return;
    n = gw_core_recent_amqp_ids(in->l->name, (int64_t)set->dedup_window_s * 1000, sd.cap,
                                amqp_in_seed_one, &sd);
    if (n < 0)
        GW_WARN("amqp", "amqp connector %s: the store could not say which message_ids it "
                "took lately; deduplication starts empty", in->l->name);
    for (i = sd.n - 1; i >= 0; i--) { /* oldest first: the ring keeps the newest */
        amqp_dedup_ent_t *e = amqp_dedup_add(&in->dedup, sd.e[i].msgid, sd.e[i].jid, sd.e[i].at);
        if (e != NULL)
            e->pending = 0; /* committed: it is in the store */
        free(sd.e[i].msgid);
    }
    if (sd.n > 0)
        GW_INFO("amqp", "amqp connector %s: %d message_id(s) of the last %d s known again from "
                "the store", in->l->name, sd.n, set->dedup_window_s);
    free(sd.e);
}

static void *amqp_in_main(void *arg)
{
    amqp_in_t *in = arg;
    int backoff = AMQP_RETRY_MIN_MS, outage = 0, max;
    char err[256];

    amqp_in_seed_dedup(in);
    while (!amqp_in_stopping(in)) {
        if (in->conn == NULL) {
            if (amqp_in_connect(in, err, sizeof err) != 0) {
                pthread_mutex_lock(&in->lock);
                snprintf(in->last_error, sizeof in->last_error, "%s", err);
                pthread_mutex_unlock(&in->lock);
                if (!outage)
                    GW_WARN("amqp", "amqp connector %s: consumer cannot start on broker %s:%d: "
                            "%s; retrying", in->l->name, in->l->set.host, in->l->set.port, err);
                outage = 1;
                amqp_in_sleep(in, backoff);
                max = __atomic_load_n(&amqp_param_retry_max_ms, __ATOMIC_RELAXED);
                backoff = backoff * 2 > max ? max : backoff * 2;
                continue;
            }
            GW_INFO("amqp", "amqp connector %s: consuming %zu queue(s) from broker %s:%d "
                    "(prefetch %d)", in->l->name, in->l->set.nconsume, in->l->set.host,
                    in->l->set.port, in->l->set.prefetch);
            backoff = AMQP_RETRY_MIN_MS;
            outage = 0;
        }
        if (amqp_in_turn(in, err, sizeof err) != 0) {
            GW_WARN("amqp", "amqp connector %s: consumer lost broker %s:%d: %s; unacked "
                    "deliveries return to their queues", in->l->name, in->l->set.host,
                    in->l->set.port, err);
            pthread_mutex_lock(&in->lock);
            snprintf(in->last_error, sizeof in->last_error, "%s", err);
            pthread_mutex_unlock(&in->lock);
            amqp_in_disconnect(in, 0);
            outage = 1;
        }
    }
    amqp_in_disconnect(in, 1);
    return NULL;
}

/* ---- open, close, status -------------------------------------------------- */

static void amqp_in_free(amqp_in_t *in)
{
    gw_queue_free(in->done);
    if (in->wakefd >= 0)
        close(in->wakefd);
    amqp_dedup_free(&in->dedup);
    free(in->pubs);
    free(in->delays);
    pthread_cond_destroy(&in->cond);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

int amqp_in_open(amqp_link_t *l)
{
    const amqp_settings_t *set = &l->set;
    pthread_condattr_t ca;
    char tname[16];
    amqp_in_t *in;
    int rc;

    if (set->nconsume == 0)
        return 0;
    in = calloc(1, sizeof(*in));
    if (in == NULL)
        return GW_ENOMEM;
    in->l = l;
    in->sockfd = -1;
    in->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&in->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&in->cond, &ca);
    pthread_condattr_destroy(&ca);
    in->done = gw_queue_new(0, amqp_in_job_free);
    in->pubs = calloc(AMQP_IN_PUBS_MAX, sizeof(*in->pubs));
    in->delays = calloc((size_t)set->prefetch, sizeof(*in->delays));
    if (in->wakefd < 0 || in->done == NULL || in->pubs == NULL || in->delays == NULL ||
        (set->dedup_window_s > 0 &&
         amqp_dedup_init(&in->dedup, (size_t)set->dedup_max,
                         (int64_t)set->dedup_window_s * 1000) != 0)) {
        amqp_in_free(in);
        return GW_ENOMEM;
    }
    rc = pthread_create(&in->thread, NULL, amqp_in_main, in);
    if (rc != 0) {
        GW_ERR("amqp", "amqp connector %s: cannot start its consumer thread: %s", l->name,
               strerror(rc));
        amqp_in_free(in);
        return GW_ERROR;
    }
    snprintf(tname, sizeof(tname), "amqpin-%.8s", l->name);
    pthread_setname_np(in->thread, tname);
    l->in = in;
    return 0;
}

void amqp_in_close(amqp_link_t *l)
{
    amqp_in_t *in = l->in;
    int bound = __atomic_load_n(&amqp_param_connect_timeout_ms, __ATOMIC_RELAXED) + 2000;
    struct timespec ts;

    if (in == NULL)
        return;
    l->in = NULL;
    pthread_mutex_lock(&in->lock);
    in->stopping = 1;
    pthread_cond_broadcast(&in->cond);
    pthread_mutex_unlock(&in->lock);
    amqp_in_wake(in);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += bound / 1000 + 1;
    if (pthread_timedjoin_np(in->thread, NULL, &ts) != 0) {
        pthread_mutex_lock(&in->lock);
        if (in->sockfd >= 0)
            shutdown(in->sockfd, SHUT_RDWR);
        pthread_mutex_unlock(&in->lock);
        pthread_join(in->thread, NULL);
    }
    /* the writer still owes callbacks for accepts in flight: they touch in */
    pthread_mutex_lock(&in->lock);
    while (in->pending > 0)
        pthread_cond_wait(&in->cond, &in->lock);
    pthread_mutex_unlock(&in->lock);
    amqp_in_free(in); /* jobs left in done are freed unacked: the broker has them again */
}

void amqp_in_status(amqp_link_t *l, json_t *st)
{
    amqp_in_t *in = l->in;
    char last_error[sizeof in->last_error];
    json_t *queues;
    int connected, blocked;

    if (in == NULL)
        return;
    pthread_mutex_lock(&in->lock);
    connected = in->connected;
    blocked = in->blocked;
    memcpy(last_error, in->last_error, sizeof last_error);
    pthread_mutex_unlock(&in->lock);
    queues = json_array();
    for (size_t i = 0; i < l->set.nconsume; i++)
        json_array_append_new(queues, json_string(l->set.consume[i].queue));
    json_object_set_new(st, "in", json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
        "state", !connected ? "down" : blocked ? "blocked" : "consuming", "queues", queues,
        "received", (json_int_t)__atomic_load_n(&in->received, __ATOMIC_RELAXED),
        "accepted", (json_int_t)__atomic_load_n(&in->accepted, __ATOMIC_RELAXED),
        "duplicates", (json_int_t)__atomic_load_n(&in->duplicates, __ATOMIC_RELAXED),
        "dead_lettered", (json_int_t)__atomic_load_n(&in->dead, __ATOMIC_RELAXED),
        "requeued", (json_int_t)__atomic_load_n(&in->requeued, __ATOMIC_RELAXED),
        "replies", (json_int_t)__atomic_load_n(&in->replies, __ATOMIC_RELAXED),
        "last_error", last_error));
}

void amqp_in_metrics(amqp_link_t *l, gw_metrics_t *m)
{
    const char *lab[] = { "connector", l->name, NULL };
    amqp_in_t *in = l->in;
    int up;

    if (in == NULL)
        return;
    pthread_mutex_lock(&in->lock);
    up = in->connected;
    pthread_mutex_unlock(&in->lock);
    gw_metrics_value(m, "amqp.consumer_up", GW_STAT_GAUGE,
                     "1 while the amqp connector consumes its queues", lab, up);
    gw_metrics_value(m, "amqp.consumer_received", GW_STAT_COUNTER,
                     "deliveries the amqp connector took from its queues", lab,
                     (double)__atomic_load_n(&in->received, __ATOMIC_RELAXED));
    gw_metrics_value(m, "amqp.consumer_accepted", GW_STAT_COUNTER,
                     "deliveries committed as messages, then acked", lab,
                     (double)__atomic_load_n(&in->accepted, __ATOMIC_RELAXED));
    gw_metrics_value(m, "amqp.consumer_duplicates", GW_STAT_COUNTER,
                     "deliveries acked as duplicates of a message_id taken", lab,
                     (double)__atomic_load_n(&in->duplicates, __ATOMIC_RELAXED));
    gw_metrics_value(m, "amqp.consumer_dead_lettered", GW_STAT_COUNTER,
                     "deliveries dead-lettered with their reason", lab,
                     (double)__atomic_load_n(&in->dead, __ATOMIC_RELAXED));
    gw_metrics_value(m, "amqp.consumer_requeued", GW_STAT_COUNTER,
                     "deliveries nacked with requeue", lab,
                     (double)__atomic_load_n(&in->requeued, __ATOMIC_RELAXED));
}

void amqp_in_stats(void)
{
    amqp_stat_in_received = gw_stat("amqp.in_received", "deliveries taken from consumed queues");
    amqp_stat_in_accepted = gw_stat("amqp.in_accepted",
                                    "deliveries committed as messages, then acked");
    amqp_stat_in_duplicates = gw_stat("amqp.in_duplicates",
                                      "deliveries whose message_id was seen within the dedup "
                                      "window: acked, not taken again");
    amqp_stat_in_dead = gw_stat("amqp.in_dead_lettered",
                                "deliveries refused (invalid, no route, a rule) and "
                                "dead-lettered with their reason");
    amqp_stat_in_requeued = gw_stat("amqp.in_requeued",
                                    "deliveries nacked with requeue (load, a failed commit)");
    amqp_stat_in_replies = gw_stat("amqp.in_replies", "outcomes published to a reply_to");
}
