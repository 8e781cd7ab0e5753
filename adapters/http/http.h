/*
 * http.h - the HTTP adapter: receipt callbacks POSTed to their sender's URL
 * (gateway/gw_report_http.h), over libevent's evhttp client.
 *
 * Contents:
 *   http_adapter.c  the adapter struct, its parameters and statistics, the
 *                   connector ops (one connector for now: the implicit
 *                   "http:callback", conf {"callback": true}) and send(),
 *                   which only queues to the client thread
 *   http_client.c   the client thread: one event loop, one evhttp
 *                   connection per request (plain, or TLS through
 *                   libevent_openssl), the outcome of each response for the
 *                   core, every request and response on the trace bus
 *
 * Ownership: send() hands the delivery to an http_item_t, which the
 * client thread owns from the pop until it reports the outcome to the core
 * (gw_core_delivered / failed / retry / requeue) and frees the item.
 *
 * Threads: the main thread (lifecycle, connector ops), any thread
 * (send, room), the client thread (everything in http_client.c).
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdint.h>

#include "gw_adapter.h"
#include "gw_stats.h"

#define HTTP_LOG "http"

/* A callback connector's state (gw_connector_t.priv, guarded by
 * http_conn_lock in http_adapter.c); inflight is atomic. */
typedef struct http_conn {
    char name[64];
    int inflight;         /* requests handed to the client thread, not yet settled */
    int64_t sent, delivered, retried, failed; /* atomic counters for conn_status */
    int refs;             /* atomic: the connector's and each item's */
} http_conn_t;

/* One POST to make: the delivery (its envelope's body and callback_url)
 * and the connector it counts against. */
typedef struct http_item {
    gw_delivery_t *d;
    http_conn_t *hc;      /* a reference */
} http_item_t;

/* Parameters (http_adapter.c). */
extern int http_param_timeout_ms;
extern int http_param_max_inflight;
extern char http_param_ca_file[256];

/* Statistics (http_adapter.c). */
extern gw_stat_t *http_st_sent, *http_st_delivered, *http_st_retried, *http_st_failed;

http_conn_t *http_conn_ref(http_conn_t *hc);
void http_conn_unref(http_conn_t *hc);

/* The client thread (http_client.c).  start: 0 or GW_ERROR; push: the
 * item is the thread's on 0, else the caller's (GW_ESTOPPED, GW_EFULL,
 * GW_ENOMEM); stop: every delivery still held goes back to the core
 * (gw_core_requeue) and the thread ends.  Main thread but push. */
int http_client_start(void);
int http_client_push(http_item_t *it);
/* From now on push refuses (GW_ESTOPPED).  Called under the adapter's
 * http_conn_lock, which every push holds, so no push is under way when
 * http_client_stop frees the queue. */
void http_client_refuse(void);
void http_client_stop(void);

#endif
