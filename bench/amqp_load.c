/*
 * amqp_load.c - an AMQP 0-9-1 load tool for the benchmarks (make bench-amqp):
 * publishes JSON messages with publisher confirms, or consumes and times them.
 *
 *   amqp_load publish --port N [--host 127.0.0.1] [--exchange X] [--key K]
 *             [--count N] [--rate R] [--window W] [--stop-and-wait]
 *             [--time-limit S] [--to NUMBER] [--size BYTES] [--msgid PREFIX]
 *   amqp_load consume --port N [--host 127.0.0.1] --queue Q [--bind X:KEY ...]
 *             [--prefetch P] [--ack-every N] [--count N] [--time-limit S] [--idle-s S]
 *             [--delete]
 *
 * publish: N messages (default 100000) to exchange X (default "", the
 * default exchange) with routing key K (default sms.in), persistent,
 * content_type application/json, message_id PREFIX-<n> when --msgid is
 * given.  Each body is a message of docs/amqp-in.schema.json whose
 * client_ref is "t<microseconds since the epoch at the publish>", padded in
 * its text to --size bytes when given.  The rate is a token bucket at R per
 * second with 10 ms of burst (R = 0: as fast as the window allows); at most
 * W publishes (default 1000) wait for their confirm; --stop-and-wait
 * publishes W, then waits for all their confirms before the next W (what a
 * publisher that confirms batch by batch does).  Confirm latency is timed
 * per delivery tag.  One JSON line at the end: published, confirmed,
 * nacked, seconds, rates, confirm p50/p99/max in microseconds.
 *
 * consume: declares Q durable (with --bind, each X a durable topic
 * exchange bound with KEY), sets basic.qos P (default 2000) and consumes
 * with manual acks, acknowledging with multiple=1 every N (--ack-every,
 * default 100; 1: each delivery alone, multiple=0) deliveries and whenever
 * the socket has nothing more to read.  Prints {"ready":true}
 * once consuming.  For every delivery whose body holds
 * "client_ref":"t<us>" it takes the latency from that time to its arrival
 * (and to the event's own "ts", milliseconds, when the body has one), per
 * routing key (at most 16 keys).  Stops at --count deliveries, --time-limit
 * (default 60 s), or --idle-s (default 5) without a delivery after the
 * first; with --delete it then deletes Q (and so its bindings); then one
 * JSON line: received, bytes, first/last arrival, the
 * rate between them, and per key n, p50/p99/max.
 *
 * Links librabbitmq and libc only.  Threads: one; blocking librabbitmq
 * calls with short poll timeouts.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <amqp.h>
#include <amqp_tcp_socket.h>

#define AL_KEYS_MAX 16
#define AL_BINDS_MAX 16
#define AL_WINDOW_MAX (1 << 20)

typedef struct al_opts {
    const char *host, *exchange, *key, *queue, *to, *msgid;
    const char *binds[AL_BINDS_MAX];
    int nbinds, port, rate, window, stop_and_wait, prefetch, size, ack_every, delete_after;
    long count;
    double time_limit, idle_s;
} al_opts_t;

/* A growing array of latencies (microseconds). */
typedef struct al_lat {
    int64_t *v;
    size_t n, cap;
} al_lat_t;

typedef struct al_key {
    char name[128];
    long n;
    al_lat_t arr, ts; /* to the arrival; to the event's ts (ms, as us) */
} al_key_t;

static volatile sig_atomic_t al_stop;

static void al_on_signal(int sig)
{
    (void)sig;
    al_stop = 1;
}

static int64_t al_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t al_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void al_lat_add(al_lat_t *l, int64_t us)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 65536;
        int64_t *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return; /* out of memory: this sample is left out */
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = us;
}

static int al_cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* "p50":..,"p99":..,"max":.. of l (sorted here) into buf. */
static void al_lat_json(al_lat_t *l, const char *prefix, char *buf, size_t len)
{
    if (l->n == 0) {
        snprintf(buf, len, "\"%sn\":0", prefix);
        return;
    }
    qsort(l->v, l->n, sizeof(*l->v), al_cmp64);
    snprintf(buf, len, "\"%sn\":%zu,\"%sp50\":%lld,\"%sp99\":%lld,\"%smax\":%lld", prefix, l->n,
             prefix, (long long)l->v[l->n / 2], prefix, (long long)l->v[(l->n * 99) / 100],
             prefix, (long long)l->v[l->n - 1]);
}

/* Print an RPC failure; 0 when r is normal, -1 otherwise. */
static int al_check(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        fprintf(stderr, "amqp_load: %s: %s\n", what, amqp_error_string2(r.library_error));
    else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *c = r.reply.decoded;
        fprintf(stderr, "amqp_load: %s: channel closed %d %.*s\n", what, c->reply_code,
                (int)c->reply_text.len, (const char *)c->reply_text.bytes);
    } else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *c = r.reply.decoded;
        fprintf(stderr, "amqp_load: %s: connection closed %d %.*s\n", what, c->reply_code,
                (int)c->reply_text.len, (const char *)c->reply_text.bytes);
    } else
        fprintf(stderr, "amqp_load: %s: server exception 0x%08x\n", what, r.reply.id);
    return -1;
}

/* Connect, log in as guest, open channel 1.  The connection or NULL. */
static amqp_connection_state_t al_connect(const al_opts_t *o)
{
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock;
    int rc;

    if (conn == NULL)
        return NULL;
    sock = amqp_tcp_socket_new(conn);
    if (sock == NULL) {
        fprintf(stderr, "amqp_load: cannot create a socket\n");
        goto out_destroy;
    }
    rc = amqp_socket_open(sock, o->host, o->port);
    if (rc != AMQP_STATUS_OK) {
        fprintf(stderr, "amqp_load: connect %s:%d: %s\n", o->host, o->port, amqp_error_string2(rc));
        goto out_destroy;
    }
    if (al_check(amqp_login(conn, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN,
                            "guest", "guest"), "login") != 0)
        goto out_destroy;
    amqp_channel_open(conn, 1);
    if (al_check(amqp_get_rpc_reply(conn), "channel.open") != 0)
        goto out_destroy;
    return conn;
out_destroy:
    amqp_destroy_connection(conn);
    return NULL;
}

static void al_close(amqp_connection_state_t conn)
{
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

/* ---- publish ------------------------------------------------------------ */

typedef struct al_pub {
    int64_t *sent_at;   /* mono us by delivery tag % window */
    uint64_t next_tag;  /* the next publish's delivery tag */
    uint64_t confirmed; /* tags <= this are decided */
    long acked, nacked;
    al_lat_t lat;
} al_pub_t;

/* Apply one confirm (ack or nack, multiple or not) of tag. */
static void al_pub_confirm(al_pub_t *p, const al_opts_t *o, uint64_t tag, int multiple, int ack)
{
    int64_t now = al_mono_us();
    uint64_t t;

    /* RabbitMQ confirms in order on one channel, so a confirm without
     * multiple settles everything before its tag too */
    (void)multiple;
    for (t = p->confirmed + 1; t <= tag; t++) {
        al_lat_add(&p->lat, now - p->sent_at[t % (uint64_t)o->window]);
        if (ack)
            p->acked++;
        else
            p->nacked++;
    }
    if (tag > p->confirmed)
        p->confirmed = tag;
}

/* Read frames for at most wait_us (0: only what is there).  0, or -1 when
 * the connection failed. */
static int al_pub_read(amqp_connection_state_t conn, al_pub_t *p, const al_opts_t *o, int64_t wait_us)
{
    struct timeval tv = { (time_t)(wait_us / 1000000), (suseconds_t)(wait_us % 1000000) };
    amqp_frame_t f;
    int rc;

    for (;;) {
        rc = amqp_simple_wait_frame_noblock(conn, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT)
            return 0;
        if (rc != AMQP_STATUS_OK) {
            fprintf(stderr, "amqp_load: read: %s\n", amqp_error_string2(rc));
            return -1;
        }
        tv.tv_sec = tv.tv_usec = 0;
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            al_pub_confirm(p, o, a->delivery_tag, a->multiple, 1);
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            amqp_basic_nack_t *a = f.payload.method.decoded;
            al_pub_confirm(p, o, a->delivery_tag, a->multiple, 0);
        } else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                   f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_rpc_reply_t r = { AMQP_RESPONSE_SERVER_EXCEPTION, f.payload.method, 0 };
            al_check(r, "broker");
            return -1;
        }
        amqp_maybe_release_buffers(conn);
    }
}

/* One message body for sequence n into buf; its length. */
static size_t al_body(const al_opts_t *o, long n, char *buf, size_t len)
{
    static const char fill[] = "Hello from the Junction benchmark, a message of typical length.";
    int k = snprintf(buf, len, "{\"to\":\"%s\",\"from\":\"4930123456\",\"receipt\":true,"
                     "\"client_ref\":\"t%lld\",\"text\":\"#%ld %s", o->to,
                     (long long)al_now_us(), n, fill);
    size_t at = (size_t)k;

    while ((int)at + 2 < o->size && at + 3 < len)
        buf[at++] = 'x';
    at += (size_t)snprintf(buf + at, len - at, "\"}");
    return at;
}

static int al_publish(const al_opts_t *o)
{
    amqp_connection_state_t conn;
    amqp_basic_properties_t props;
    al_pub_t p;
    char body[70000], msgid[128];
    int64_t t0, deadline, now;
    long sent = 0;
    int rc = 0;

    if (o->window < 1 || o->window > AL_WINDOW_MAX) {
        fprintf(stderr, "amqp_load: --window 1..%d\n", AL_WINDOW_MAX);
        return 2;
    }
    memset(&p, 0, sizeof p);
    p.sent_at = calloc((size_t)o->window, sizeof(*p.sent_at));
    if (p.sent_at == NULL)
        return 2;
    conn = al_connect(o);
    if (conn == NULL) {
        rc = 2;
        goto out_free;
    }
    amqp_confirm_select(conn, 1);
    if (al_check(amqp_get_rpc_reply(conn), "confirm.select") != 0) {
        rc = 2;
        goto out_close;
    }
    p.next_tag = 1;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = 2;
    if (o->msgid != NULL)
        props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    t0 = al_mono_us();
    deadline = t0 + (int64_t)(o->time_limit * 1e6);
    while (!al_stop && (now = al_mono_us()) < deadline && (long)p.confirmed < o->count) {
        long allowed = o->count;
        int64_t open;
        if (o->rate > 0) {
            long due = (long)(((now - t0) * (int64_t)o->rate) / 1000000) + o->rate / 100 + 1;
            if (due < allowed)
                allowed = due;
        }
        open = (int64_t)(p.next_tag - 1 - p.confirmed);
        if (o->stop_and_wait && open > 0)
            allowed = sent; /* the whole batch first */
        while (sent < allowed && open < o->window) {
            amqp_bytes_t b;
            b.len = al_body(o, sent, body, sizeof body);
            b.bytes = body;
            if (o->msgid != NULL) {
                snprintf(msgid, sizeof msgid, "%s-%ld", o->msgid, sent);
                props.message_id = amqp_cstring_bytes(msgid);
            }
            p.sent_at[p.next_tag % (uint64_t)o->window] = al_mono_us();
            if (amqp_basic_publish(conn, 1, amqp_cstring_bytes(o->exchange),
                                   amqp_cstring_bytes(o->key), 0, 0, &props, b) != AMQP_STATUS_OK) {
                fprintf(stderr, "amqp_load: publish failed\n");
                rc = 1;
                goto out_report;
            }
            p.next_tag++;
            sent++;
            open++;
        }
        /* nothing more may go out now: wait a little for confirms */
        if (al_pub_read(conn, &p, o, (sent < allowed && open < o->window) ? 0 : 1000) != 0) {
            rc = 1;
            goto out_report;
        }
    }
out_report:
    now = al_mono_us();
    {
        char lat[200];
        double s = (double)(now - t0) / 1e6;
        al_lat_json(&p.lat, "confirm_us_", lat, sizeof lat);
        printf("{\"mode\":\"publish\",\"published\":%ld,\"confirmed\":%ld,\"nacked\":%ld,"
               "\"seconds\":%.3f,\"published_per_s\":%.0f,\"confirmed_per_s\":%.0f,"
               "\"window\":%d,\"stop_and_wait\":%d,\"rate\":%d,%s}\n",
               sent, p.acked, p.nacked, s, s > 0 ? sent / s : 0.0, s > 0 ? p.acked / s : 0.0,
               o->window, o->stop_and_wait, o->rate, lat);
        fflush(stdout);
    }
    if (rc == 0 && (p.nacked > 0 || p.acked < o->count))
        rc = 1;
out_close:
    al_close(conn);
out_free:
    free(p.sent_at);
    free(p.lat.v);
    return rc;
}

/* ---- consume ------------------------------------------------------------ */

typedef struct al_con {
    long received;
    uint64_t bytes;
    int64_t first_us, last_us;
    al_key_t keys[AL_KEYS_MAX];
    int nkeys;
} al_con_t;

static al_key_t *al_key(al_con_t *c, amqp_bytes_t rk)
{
    int i;

    for (i = 0; i < c->nkeys; i++)
        if (strlen(c->keys[i].name) == rk.len && memcmp(c->keys[i].name, rk.bytes, rk.len) == 0)
            return &c->keys[i];
    if (c->nkeys == AL_KEYS_MAX || rk.len >= sizeof c->keys[0].name)
        return NULL;
    memcpy(c->keys[c->nkeys].name, rk.bytes, rk.len);
    c->keys[c->nkeys].name[rk.len] = '\0';
    return &c->keys[c->nkeys++];
}

/* The integer after the first `"name":` (spaces allowed) in b, or -1. */
static int64_t al_json_int(amqp_bytes_t b, const char *name, int quoted_t)
{
    const char *s = b.bytes, *end = s + b.len, *hit;
    size_t nl = strlen(name);
    int64_t v = 0;

    hit = memmem(s, b.len, name, nl);
    if (hit == NULL)
        return -1;
    s = hit + nl;
    while (s < end && (*s == ' ' || *s == ':'))
        s++;
    if (quoted_t) {
        if (end - s < 2 || s[0] != '"' || s[1] != 't')
            return -1;
        s += 2;
    }
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return v;
}

static void al_con_take(al_con_t *c, const amqp_envelope_t *d)
{
    int64_t now = al_now_us(), t, ts;
    al_key_t *k;

    if (c->received == 0)
        c->first_us = now;
    c->last_us = now;
    c->received++;
    c->bytes += d->message.body.len;
    k = al_key(c, d->routing_key);
    if (k == NULL)
        return;
    k->n++;
    t = al_json_int(d->message.body, "\"client_ref\"", 1);
    if (t <= 0)
        return;
    al_lat_add(&k->arr, now - t);
    ts = al_json_int(d->message.body, "\"ts\"", 0);
    if (ts > 0)
        al_lat_add(&k->ts, ts * 1000 - t);
}

/* Declare the queue and its bindings, qos, consume.  0 or -1. */
static int al_con_setup(amqp_connection_state_t conn, const al_opts_t *o)
{
    int i;

    amqp_queue_declare(conn, 1, amqp_cstring_bytes(o->queue), 0, 1, 0, 0, amqp_empty_table);
    if (al_check(amqp_get_rpc_reply(conn), "queue.declare") != 0)
        return -1;
    for (i = 0; i < o->nbinds; i++) {
        char ex[256];
        const char *colon = strchr(o->binds[i], ':');
        size_t n = colon ? (size_t)(colon - o->binds[i]) : strlen(o->binds[i]);
        if (n >= sizeof ex)
            return -1;
        memcpy(ex, o->binds[i], n);
        ex[n] = '\0';
        amqp_exchange_declare(conn, 1, amqp_cstring_bytes(ex), amqp_cstring_bytes("topic"), 0, 1,
                              0, 0, amqp_empty_table);
        if (al_check(amqp_get_rpc_reply(conn), "exchange.declare") != 0)
            return -1;
        amqp_queue_bind(conn, 1, amqp_cstring_bytes(o->queue), amqp_cstring_bytes(ex),
                        amqp_cstring_bytes(colon ? colon + 1 : "#"), amqp_empty_table);
        if (al_check(amqp_get_rpc_reply(conn), "queue.bind") != 0)
            return -1;
    }
    amqp_basic_qos(conn, 1, 0, (uint16_t)o->prefetch, 0);
    if (al_check(amqp_get_rpc_reply(conn), "basic.qos") != 0)
        return -1;
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(o->queue), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    return al_check(amqp_get_rpc_reply(conn), "basic.consume");
}

static void al_con_report(al_con_t *c)
{
    double s = (double)(c->last_us - c->first_us) / 1e6;
    int i;

    printf("{\"mode\":\"consume\",\"received\":%ld,\"bytes\":%llu,\"first_us\":%lld,"
           "\"last_us\":%lld,\"seconds\":%.3f,\"per_s\":%.0f,\"keys\":{",
           c->received, (unsigned long long)c->bytes, (long long)c->first_us,
           (long long)c->last_us, s, s > 0 ? (c->received - 1) / s : 0.0);
    for (i = 0; i < c->nkeys; i++) {
        char a[200], b[200];
        al_lat_json(&c->keys[i].arr, "lat_us_", a, sizeof a);
        al_lat_json(&c->keys[i].ts, "ts_lat_us_", b, sizeof b);
        printf("%s\"%s\":{\"n\":%ld,%s,%s}", i ? "," : "", c->keys[i].name, c->keys[i].n, a, b);
        free(c->keys[i].arr.v);
        free(c->keys[i].ts.v);
    }
    printf("}}\n");
    fflush(stdout);
}

static int al_consume(const al_opts_t *o)
{
    amqp_connection_state_t conn;
    static al_con_t c;
    uint64_t last_tag = 0, acked_tag = 0;
    int64_t deadline = al_mono_us() + (int64_t)(o->time_limit * 1e6), last_mono = 0;
    int rc = 0;

    if (o->queue == NULL) {
        fprintf(stderr, "amqp_load consume: --queue is required\n");
        return 2;
    }
    conn = al_connect(o);
    if (conn == NULL)
        return 2;
    if (al_con_setup(conn, o) != 0) {
        rc = 2;
        goto out_close;
    }
    printf("{\"ready\":true}\n");
    fflush(stdout);
    while (!al_stop && c.received < o->count) {
        struct timeval tv = { 0, 0 };
        amqp_envelope_t d;
        amqp_rpc_reply_t r;
        int64_t now = al_mono_us();
        if (now > deadline || (c.received > 0 && now - last_mono > (int64_t)(o->idle_s * 1e6)))
            break;
        amqp_maybe_release_buffers(conn);
        if (!amqp_data_in_buffer(conn) && !amqp_frames_enqueued(conn)) {
            /* about to wait: acknowledge what was taken */
            if (last_tag > acked_tag) {
                amqp_basic_ack(conn, 1, last_tag, 1);
                acked_tag = last_tag;
            }
            tv.tv_usec = 100000;
        }
        r = amqp_consume_message(conn, &d, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            al_check(r, "consume");
            rc = 1;
            break;
        }
        last_mono = al_mono_us();
        al_con_take(&c, &d);
        last_tag = d.delivery_tag;
        if (last_tag - acked_tag >= (uint64_t)o->ack_every) {
            /* one at a time when asked (--ack-every 1), as a consumer
             * that settles each delivery on its own does */
            amqp_basic_ack(conn, 1, last_tag, o->ack_every > 1);
            acked_tag = last_tag;
        }
        amqp_destroy_envelope(&d);
    }
    if (last_tag > acked_tag)
        amqp_basic_ack(conn, 1, last_tag, 1);
    if (o->delete_after) {
        /* its bindings go with it: the next step starts with nothing bound */
        amqp_queue_delete(conn, 1, amqp_cstring_bytes(o->queue), 0, 0);
        if (al_check(amqp_get_rpc_reply(conn), "queue.delete") != 0)
            rc = 1;
    }
    al_con_report(&c);
out_close:
    al_close(conn);
    return rc;
}

/* ---- main --------------------------------------------------------------- */

static void al_usage(void)
{
    fprintf(stderr, "usage: amqp_load publish|consume --port N [options] (see bench/amqp_load.c)\n");
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        { "host", 1, 0, 'h' },       { "port", 1, 0, 'p' },      { "exchange", 1, 0, 'e' },
        { "key", 1, 0, 'k' },        { "queue", 1, 0, 'q' },     { "bind", 1, 0, 'b' },
        { "count", 1, 0, 'n' },      { "rate", 1, 0, 'r' },      { "window", 1, 0, 'w' },
        { "stop-and-wait", 0, 0, 'S' }, { "time-limit", 1, 0, 't' }, { "idle-s", 1, 0, 'i' },
        { "prefetch", 1, 0, 'P' },   { "to", 1, 0, 'T' },        { "size", 1, 0, 's' },
        { "msgid", 1, 0, 'm' },      { "ack-every", 1, 0, 'A' },  { "delete", 0, 0, 'D' },
        { 0, 0, 0, 0 },
    };
    al_opts_t o = { .host = "127.0.0.1", .exchange = "", .key = "sms.in", .to = "4916000003",
                    .rate = 0, .window = 1000, .prefetch = 2000, .count = 100000,
                    .time_limit = 60, .idle_s = 5, .ack_every = 100 };
    const char *mode;
    int c, rc;

    if (argc < 2) {
        al_usage();
        return 2;
    }
    mode = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'h': o.host = optarg; break;
        case 'p': o.port = atoi(optarg); break;
        case 'e': o.exchange = optarg; break;
        case 'k': o.key = optarg; break;
        case 'q': o.queue = optarg; break;
        case 'b':
            if (o.nbinds < AL_BINDS_MAX)
                o.binds[o.nbinds++] = optarg;
            break;
        case 'n': o.count = atol(optarg); break;
        case 'r': o.rate = atoi(optarg); break;
        case 'w': o.window = atoi(optarg); break;
        case 'S': o.stop_and_wait = 1; break;
        case 't': o.time_limit = atof(optarg); break;
        case 'i': o.idle_s = atof(optarg); break;
        case 'P': o.prefetch = atoi(optarg); break;
        case 'T': o.to = optarg; break;
        case 's': o.size = atoi(optarg); break;
        case 'm': o.msgid = optarg; break;
        case 'A': o.ack_every = atoi(optarg); break;
        case 'D': o.delete_after = 1; break;
        default: al_usage(); return 2;
        }
    }
    if (o.port <= 0 || o.count < 1 || o.time_limit <= 0 || o.prefetch < 1 || o.prefetch > 65535 ||
        o.ack_every < 1) {
        al_usage();
        return 2;
    }
    signal(SIGTERM, al_on_signal);
    signal(SIGINT, al_on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(mode, "publish") == 0)
        rc = al_publish(&o);
    else if (strcmp(mode, "consume") == 0)
        rc = al_consume(&o);
    else {
        al_usage();
        rc = 2;
    }
    return rc;
}
