/*
 * gw_adapter.h - how an adapter plugs in: one const struct each.
 *
 * gateway/gw_adapters.c lists the adapters in a static table (no dlopen).
 * An adapter owns its listeners and threads; a *connector* is one
 * configured instance from the connectors table (an SMPP client bind, a SIP
 * target, an AMQP broker) that the adapter opens and closes at runtime.
 *
 * Lifecycle, all called on the main thread:
 *   init(base)  after parameters are parsed; open listeners, no threads yet
 *   start()     start threads; from here send() may be called
 *   stop()      stop accepting, drain in-flight work, close binds cleanly
 *   destroy()   free everything
 * conn_open / conn_close run on the main thread (MI handlers hold
 * gw_mi_lock) and hand the work to the adapter's own thread.
 * send() is called from any thread (the store's writer thread after a
 * commit, or the core's retry timer): it must only queue.  On success it
 * takes over the delivery d until it reports the outcome (gw_core.h); on
 * failure d stays the caller's ("if a call fails, its callback never
 * runs").
 *
 * Checklist: a new adapter is added here, in gw_adapters.c and in
 * ARCHITECTURE.md.
 */
#ifndef GW_ADAPTER_H
#define GW_ADAPTER_H

#include <jansson.h>
#include "gw_delivery.h"
#include "gw_mi.h"
#include "gw_param.h"

struct event_base;
struct gw_metrics;
typedef struct gw_connector gw_connector_t;

typedef struct gw_adapter {
    const char *name;              /* also the connectors.type value it serves */
    const gw_param_t *params;      /* may be NULL */
    const gw_mi_cmd_t *mi_cmds;    /* may be NULL */
    int (*init)(struct event_base *main_base);
    int (*start)(void);
    void (*stop)(void);
    void (*destroy)(void);

    /* connectors; NULL when the adapter has none */
    int (*conn_check)(const json_t *conf, char *err, size_t errlen); /* validate before storing */
    int (*conn_open)(gw_connector_t *c);
    void (*conn_close)(gw_connector_t *c);
    int (*send)(gw_connector_t *c, gw_delivery_t *d);
    /* How many of its messages may be outstanding at once now — marked
     * "sending" and not yet settled by a committed outcome (for SMPP: its
     * window while bound); 0 while it can take none (down).  NULL: no
     * limit.  The core feeds it only within that room, so a message
     * waiting for a dead link is never marked "sending", and what a crash
     * can leave "sending" (and send twice) is at most this many.  Any
     * thread; cheap. */
    int (*conn_room)(gw_connector_t *c);
    json_t *(*conn_status)(gw_connector_t *c); /* new object: {"state": "...", ...} */
    /* The connector's own samples on /metrics (gw_metrics_value /
     * gw_metrics_hist, each labelled connector="<name>"): bind states,
     * windows, latencies.  The HTTP thread, at scrape time, under the
     * registry's read lock: atomics and the adapter's own lock only.
     * NULL: none. */
    void (*conn_metrics)(gw_connector_t *c, struct gw_metrics *m);
} gw_adapter_t;

/* A configured connector.  Reference counted; conf is read-only. */
struct gw_connector {
    char name[64];
    const gw_adapter_t *adapter;
    json_t *conf;  /* the stored JSON settings, owned */
    int enabled;
    void *priv;    /* the adapter's state, owned by the adapter */
    int refs;      /* atomic, private */
};

const gw_adapter_t *gw_adapter_find(const char *name);
/* Visit the adapter table in order. */
void gw_adapters_foreach(void (*fn)(const gw_adapter_t *a, void *arg), void *arg);

/* Connector registry (gateway/gw_connectors.c). */
gw_connector_t *gw_connector_get(const char *name); /* new reference or NULL */
/* Take another reference: an adapter whose thread keeps using c after
 * conn_close returned must hold one. */
gw_connector_t *gw_connector_ref(gw_connector_t *c);
void gw_connector_put(gw_connector_t *c);
/* Re-read the connectors table and open/close/replace what changed.
 * Main thread or an MI handler.  Returns 0 or a negative code. */
int gw_connectors_reload(void);
/* Close every connector (shutdown, main thread). */
void gw_connectors_close_all(void);
/* A status array for connectors.list; new reference. */
json_t *gw_connectors_status(void);

#endif
