/*
 * amqp_link.h - private to adapters/amqp: one AMQP connector ("link").
 *
 * Table of contents:
 *   amqp_item_t      one message waiting to be published (an event, a rule's
 *                    mirror copy or an envelope given to send())
 *   amqp_settings_t  a connector's conf JSON, parsed and checked
 *   amqp_link_t      a connector's state: two queues, one thread, counters
 *   amqp_link_main   the link thread (amqp_conn.c): connect, declare,
 *                    publish with publisher confirms, reconnect with backoff
 *   amqp_in_*        the consumer of a link whose conf has "consume"
 *                    (amqp_in.c, its own thread and connection)
 *
 * Threads: amqp_adapter.c runs on the main thread (conn_open/close/status),
 * on any emitting thread (the event sink) and on the store's writer thread
 * (send); amqp_conn.c runs on the link's own thread only; amqp_in.c on
 * the consumer's thread (amqp_connect.c, amqp_tls.c and amqp_trace on both).  They share only
 * the two gw_queue_t, the fields under amqp_link_t.lock and the atomic
 * counters.
 */
#ifndef AMQP_LINK_H
#define AMQP_LINK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <amqp.h>
#include <jansson.h>

#include "gw_delivery.h"
#include "gw_mi.h"
#include "gw_queue.h"
#include "gw_stats.h"

/* Published per round trip: a batch is sent, then its confirms awaited. */
#define AMQP_BATCH_MAX 64
/* A broker that neither confirms nor closes within this is treated as gone. */
#define AMQP_CONFIRM_TIMEOUT_MS 10000
/* Data the broker's host leaves unacknowledged this long ends the
 * connection (TCP_USER_TIMEOUT), so a publish never waits forever. */
#define AMQP_TCP_USER_TIMEOUT_MS 20000
/* On conn_close, buffered items get this long to reach a live broker. */
#define AMQP_FLUSH_ON_CLOSE_MS 2000
#define AMQP_RETRY_MIN_MS 1000

/* An item owns key and body.  dlv is NULL for an event; for send() it is
 * the delivery, which the link thread hands back to the
 * core (gw_core_delivered / gw_core_retry) once the broker confirmed or
 * refused it. */
typedef struct amqp_item {
    char *key;
    char *body;
    char *exchange;      /* NULL: the link's exchange; else a mirror copy's (owned), set
                          * on the link thread from a message.mirrored event */
    int64_t seq;         /* an event's outbox seq, 0 for an envelope */
    char *reply_to;      /* an event that follows a message to the reply_to it came with
                          * (owned; amqp_item_follow), or NULL */
    char *reply_corr;    /* that message's correlation_id (owned), or NULL */
    gw_delivery_t *dlv;  /* an envelope to publish (owned), or NULL for an event */
} amqp_item_t;

#define AMQP_RULE_HEADERS_MAX 16 /* headers a rule sets on a publish (RT_SET_HEADERS_MAX) */
#define AMQP_CONSUME_MAX 8   /* queues one connector consumes */
#define AMQP_BINDINGS_MAX 8  /* bindings declared per consumed queue */
#define AMQP_NAME_MAX 128    /* exchange, queue and routing key names, NUL included */

typedef struct amqp_binding {
    char exchange[AMQP_NAME_MAX];
    char key[AMQP_NAME_MAX];
} amqp_binding_t;

/* One consumed queue: a member of the conf's "consume". */
typedef struct amqp_queue_conf {
    char queue[AMQP_NAME_MAX];
    amqp_binding_t bindings[AMQP_BINDINGS_MAX];
    size_t nbindings;
} amqp_queue_conf_t;

/* A connector's conf, parsed by the table amqp_settings_table
 * (amqp_adapter.c), which also holds each member's default, limits and
 * help; docs/amqp.md shows the same table.  Checklist for a new member:
 * this struct, the table, docs/amqp.md. */
typedef struct amqp_settings {
    char host[256];
    int port;
    char vhost[128];
    char user[128];
    char password[128];
    char exchange[AMQP_NAME_MAX];
    int heartbeat; /* seconds, 0 = off */
    int channel_max; /* channels asked for at login, 0 = the broker's limit */
    /* TLS (amqp_tls.c): on with "tls" or an amqps:// url */
    int tls;
    char tls_ca[512];   /* "" : the system's CAs */
    char tls_cert[512]; /* client certificate and its key, "" : none */
    char tls_key[512];
    int tls_verify;     /* the broker's certificate and name */
    /* messages in (amqp_in.c); nconsume 0: no consumer */
    amqp_queue_conf_t consume[AMQP_CONSUME_MAX];
    size_t nconsume;
    int passive;        /* 1: the admin owns the topology, only check it exists */
    int prefetch;       /* basic.qos prefetch_count */
    char dead_letter_exchange[AMQP_NAME_MAX];
    char dead_letter_queue[AMQP_NAME_MAX]; /* "" : none declared */
    int dedup_window_s;
    int dedup_max;
    int requeue_delay_ms;
} amqp_settings_t;

typedef struct amqp_in amqp_in_t; /* the consumer of a link (amqp_in.c) */

/* Checklist for a new state: amqp_state_name (amqp_adapter.c), docs/amqp.md. */
typedef enum {
    AMQP_LINK_CONNECTING = 0,
    AMQP_LINK_CONNECTED,
    AMQP_LINK_DOWN,
    AMQP_LINK_BLOCKED,    /* connected, the broker sent connection.blocked */
} amqp_link_state_t;

typedef struct amqp_link {
    /* read-only after conn_open */
    char name[64];
    amqp_settings_t set;
    gw_queue_t *events;   /* amqp_item_t *, bounded; past it events are read back from
                           * the store's outbox (gap_from) */
    gw_queue_t *sends;    /* amqp_item_t * with env, bounded: send() refuses */
    pthread_t thread;
    amqp_in_t *in;        /* the consumer, NULL when the conf consumes nothing */

    /* guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;  /* CLOCK_MONOTONIC; wakes the retry sleep on stop */
    int stopping;
    amqp_link_state_t state;
    char last_error[256];
    int sockfd;           /* -1 unless connected: lets conn_close unblock I/O */
    /* The outbox gap: while events is full the sink drops new events and
     * the link thread reads them back from the outbox, from seq gap_from
     * on; gap_last is the newest event the sink dropped.  0: no gap. */
    int64_t gap_from, gap_last;

    /* atomics */
    int64_t published;
    int64_t dropped;
    int64_t replayed;     /* events read back from the outbox */
    int64_t inflight;     /* taken off the queues, not yet confirmed */
} amqp_link_t;

/* Adapter-wide parameters (amqp_adapter.c), read with __atomic_load_n. */
extern int amqp_param_retry_max_ms;
extern int amqp_param_connect_timeout_ms;

/* Process-wide counters, registered in the adapter's init(). */
extern gw_stat_t *amqp_stat_published;
extern gw_stat_t *amqp_stat_dropped;
extern gw_stat_t *amqp_stat_replayed;
extern gw_stat_t *amqp_stat_returned;
extern gw_stat_t *amqp_stat_blocked;

/* The adapter's MI methods (amqp_mi.c). */
extern const gw_mi_cmd_t amqp_mi_cmds[];

/* Parse and check a connector's conf into *out, filling the defaults.
 * Returns 0, or GW_EINVAL with a reason in err.  Any thread. */
int amqp_settings_parse(const json_t *conf, amqp_settings_t *out, char *err, size_t errlen);

/* Free an item and drop its envelope reference; NULL is accepted.  This is
 * the queues' free function: an envelope dropped this way stays queued in
 * the store and is offered again by gw_core_recover() on the next start. */
void amqp_item_free(void *item);

/* Count one lost event (full buffer, nack, out of memory).  Any thread. */
void amqp_link_count_dropped(amqp_link_t *l, int64_t n);

/* Open a connection to set's broker (amqp_connect.c): TCP or TLS with
 * amqp.connect_timeout_ms, login, channel 1 in confirm mode.  *sockfd
 * (under lock) holds its socket while it lives, so a closing thread can
 * shutdown() a blocked call.  0
 * with *out set, or -1 with a reason in err (*out NULL, *sockfd -1).  The
 * calling AMQP thread owns the connection. */
int amqp_link_connect(const amqp_settings_t *set, int *sockfd, pthread_mutex_t *lock,
                      amqp_connection_state_t *out, char *err, size_t errlen);
/* TLS (amqp_tls.c).  amqp_tls_init: once, from the adapter's init.
 * amqp_tls_check: set's TLS members hang together and name readable PEM
 * files of their kind; 0 or GW_EINVAL with err naming the file (any
 * thread).  amqp_tls_socket: a TLS socket owned by conn, with set's CA,
 * client certificate and verification; NULL with err.  amqp_tls_reason:
 * appends this thread's OpenSSL error, if any, to err; 1 if there was one. */
void amqp_tls_init(void);
int amqp_tls_check(const amqp_settings_t *set, char *err, size_t errlen);
amqp_socket_t *amqp_tls_socket(amqp_connection_state_t conn, const amqp_settings_t *set,
                               char *err, size_t errlen);
int amqp_tls_reason(char *err, size_t errlen);

/* Words for a failed RPC reply into err. */
void amqp_reply_error(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen);

/* One AMQP record on the trace bus (kind GW_TRACE_PUBLISH; dir
 * GW_TRACE_OUT for a publish, GW_TRACE_IN for what the broker sent: a
 * return, a delivery).  Callers test gw_trace_on() first.  Any AMQP
 * thread; every pointer may be NULL but l and summary. */
void amqp_trace(const amqp_link_t *l, int dir, const char *env_id, uint64_t tag,
                const char *from, const char *to, const char *summary, const char *raw,
                size_t raw_len);

/* Messages in (amqp_in.c).  amqp_in_open starts the consumer thread of l
 * (its own connection: a blocked publisher never holds up acks, nor a
 * slow consumer confirms); 0 with l->in set, or a negative code.
 * amqp_in_close stops it (bounded), waits for the accepts still being
 * committed and frees it.  amqp_in_status adds its counters to st.  Main
 * thread. */
int amqp_in_open(amqp_link_t *l);
void amqp_in_close(amqp_link_t *l);
void amqp_in_status(amqp_link_t *l, json_t *st);
/* The consumer's series on /metrics, labelled connector (nothing when l
 * consumes nothing).  The HTTP thread, with l kept alive by the caller. */
void amqp_in_metrics(amqp_link_t *l, gw_metrics_t *m);
/* Register the consumer's counters (the adapter's init). */
void amqp_in_stats(void);

/* The link thread's body; arg is the amqp_link_t.  Returns when
 * l->stopping is set, after a bounded flush and a clean close. */
void *amqp_link_main(void *arg);

/* Wait up to ms on cond (made with CLOCK_MONOTONIC) under lock, returning
 * early once *stopping (guarded by lock) is set: the link's and the
 * consumer's backoff sleeps (amqp_conn.c). */
void amqp_sleep_unless(pthread_mutex_t *lock, pthread_cond_t *cond, const int *stopping, int ms);

#endif
