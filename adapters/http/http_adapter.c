/*
 * http_adapter.c - the "http" adapter: receipt callbacks to the URL the
 * sender of a message gave (gateway/gw_report_http.h).
 *
 * A connector of type http serves callbacks only: its conf is
 * {"callback": true}, and one such connector exists always,
 * "http:callback" (gateway/gw_connectors.c makes it), which
 * gateway/gw_report.c plans every callback report to.  Its room
 * (conn_room) is http.max_inflight requests: the core feeds it no more,
 * and the rest wait in its queue, in the store.  send() only queues the
 * delivery to the client thread (http_client.c), which POSTs its body to
 * its tag callback_url and tells the core the outcome:
 *   2xx                                      delivered
 *   408, 429, 5xx, no connection, a timeout  retry (core.retry_*, then
 *                                            core.max_attempts, validity)
 *   any other status (3xx, 4xx)              failed
 * A message that is no report (a rule routed it here) fails at once.
 *
 * The connector's state (http_conn_t) is reference counted: conn_close
 * drops the connector's reference while items on the client thread hold
 * theirs.  c->priv is read and swapped under http_conn_lock because send()
 * runs on any thread while conn_close runs on the main thread.
 *
 * Threads: init / start / stop / destroy and the connector ops on the main
 * thread (MI under gw_mi_lock); send and room on any thread; status and
 * metrics read atomics.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_core.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "http.h"

int http_param_timeout_ms;
int http_param_max_inflight;
char http_param_ca_file[256];

gw_stat_t *http_st_sent, *http_st_delivered, *http_st_retried, *http_st_failed;

static pthread_mutex_t http_conn_lock = PTHREAD_MUTEX_INITIALIZER; /* guards priv */

static const gw_param_t http_params[] = {
    { "http.timeout_ms", GW_PT_INT, &http_param_timeout_ms, 0, "10000", 100, 600000,
      GW_PARAM_RUNTIME,
      "a callback request's timeout (connect, send, answer); past it the callback is retried" },
    { "http.max_inflight", GW_PT_INT, &http_param_max_inflight, 0, "32", 1, 10000,
      GW_PARAM_RUNTIME, "callback requests outstanding at once per http connector (its room)" },
    { "http.ca_file", GW_PT_STR, http_param_ca_file, sizeof http_param_ca_file, "", 0, 0, 0,
      "PEM file of the CAs an https:// callback's certificate must chain to (\"\": the "
      "system's)" },
    GW_PARAM_END
};

http_conn_t *http_conn_ref(http_conn_t *hc)
{
    __atomic_add_fetch(&hc->refs, 1, __ATOMIC_RELAXED);
    return hc;
}

void http_conn_unref(http_conn_t *hc)
{
    if (hc != NULL && __atomic_sub_fetch(&hc->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(hc);
}

/* conf: {"callback": true}, nothing else.  Main thread. */
static int http_conn_check(const json_t *conf, char *err, size_t errlen)
{
    if (!json_is_object(conf) || !json_is_true(json_object_get(conf, "callback")) ||
        json_object_size(conf) != 1) {
        snprintf(err, errlen, "conf: {\"callback\": true} (an http connector sends receipt "
                              "callbacks, each to the URL its message names)");
        return GW_EINVAL;
    }
    return 0;
}

static int http_conn_open(gw_connector_t *c)
{
    char err[160];
    http_conn_t *hc;
    int rc = http_conn_check(c->conf, err, sizeof err);

    if (rc != 0) {
        GW_ERR(HTTP_LOG, "connector %s: %s", c->name, err);
        return rc;
    }
    if ((hc = calloc(1, sizeof *hc)) == NULL)
        return GW_ENOMEM;
    snprintf(hc->name, sizeof hc->name, "%s", c->name);
    hc->refs = 1;
    pthread_mutex_lock(&http_conn_lock);
    c->priv = hc;
    pthread_mutex_unlock(&http_conn_lock);
    GW_INFO(HTTP_LOG, "connector %s ready: receipt callbacks", c->name);
    return 0;
}

static void http_conn_close(gw_connector_t *c)
{
    http_conn_t *hc;

    pthread_mutex_lock(&http_conn_lock);
    hc = c->priv;
    c->priv = NULL;
    pthread_mutex_unlock(&http_conn_lock);
    http_conn_unref(hc);
}

/* Queue d to the client thread.  0 (the item owns d), or GW_ENOTFOUND
 * (closed), GW_EFULL (its room is taken: the core offers it again),
 * GW_ESTOPPED, GW_ENOMEM, with d still the caller's.  Any thread. */
static int http_send(gw_connector_t *c, gw_delivery_t *d)
{
    http_item_t *it = calloc(1, sizeof *it);
    http_conn_t *hc;
    int rc = GW_ENOTFOUND;

    if (it == NULL)
        return GW_ENOMEM;
    pthread_mutex_lock(&http_conn_lock);
    hc = c->priv;
    if (hc != NULL && __atomic_add_fetch(&hc->inflight, 1, __ATOMIC_RELAXED) >
                          __atomic_load_n(&http_param_max_inflight, __ATOMIC_RELAXED)) {
        __atomic_sub_fetch(&hc->inflight, 1, __ATOMIC_RELAXED);
        rc = GW_EFULL;
    } else if (hc != NULL) {
        it->d = d;
        it->hc = http_conn_ref(hc);
        rc = http_client_push(it);
        if (rc != 0) {
            __atomic_sub_fetch(&hc->inflight, 1, __ATOMIC_RELAXED);
            http_conn_unref(it->hc);
        }
    }
    pthread_mutex_unlock(&http_conn_lock);
    if (rc != 0)
        free(it); /* d stays the caller's */
    return rc;
}

static int http_conn_room(gw_connector_t *c)
{
    int room;

    pthread_mutex_lock(&http_conn_lock);
    room = c->priv != NULL ? __atomic_load_n(&http_param_max_inflight, __ATOMIC_RELAXED) : 0;
    pthread_mutex_unlock(&http_conn_lock);
    return room;
}

/* {"state", "inflight", "sent", "delivered", "retried", "failed"}: a new
 * object.  Main thread. */
static json_t *http_conn_status(gw_connector_t *c)
{
    json_t *o;
    http_conn_t *hc;

    pthread_mutex_lock(&http_conn_lock);
    hc = c->priv;
    o = hc == NULL
            ? json_pack("{s:s}", "state", "closed")
            : json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "state", "ready", "inflight",
                        __atomic_load_n(&hc->inflight, __ATOMIC_RELAXED), "sent",
                        (json_int_t)__atomic_load_n(&hc->sent, __ATOMIC_RELAXED), "delivered",
                        (json_int_t)__atomic_load_n(&hc->delivered, __ATOMIC_RELAXED),
                        "retried", (json_int_t)__atomic_load_n(&hc->retried, __ATOMIC_RELAXED),
                        "failed", (json_int_t)__atomic_load_n(&hc->failed, __ATOMIC_RELAXED));
    pthread_mutex_unlock(&http_conn_lock);
    return o;
}

/* Stop: no send() may push any more (decided under the lock every push
 * holds), then the client thread hands back what it holds and ends.
 * Main thread. */
static void http_stop(void)
{
    pthread_mutex_lock(&http_conn_lock);
    http_client_refuse();
    pthread_mutex_unlock(&http_conn_lock);
    http_client_stop();
}

static int http_init(struct event_base *main_base)
{
    (void)main_base;
    http_st_sent = gw_stat("http.callbacks_sent", "receipt callback requests made");
    http_st_delivered = gw_stat("http.callbacks_delivered",
                                "receipt callbacks a receiver answered with a 2xx");
    http_st_retried = gw_stat("http.callbacks_retried",
                              "receipt callback requests to retry: 408, 429, 5xx, no "
                              "connection or a timeout");
    http_st_failed = gw_stat("http.callbacks_failed",
                             "receipt callbacks refused for good (3xx, other 4xx, a bad URL)");
    return 0;
}

const gw_adapter_t http_adapter = {
    .name = "http",
    .params = http_params,
    .mi_cmds = NULL,
    .init = http_init,
    .start = http_client_start,
    .stop = http_stop,
    .destroy = NULL,
    .conn_check = http_conn_check,
    .conn_open = http_conn_open,
    .conn_close = http_conn_close,
    .send = http_send,
    .conn_room = http_conn_room,
    .conn_status = http_conn_status,
    .conn_metrics = NULL,
};
