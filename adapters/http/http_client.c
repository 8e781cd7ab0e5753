/*
 * http_client.c - the HTTP adapter's client thread (http.h): one libevent
 * loop that makes every callback request, never blocking another thread.
 *
 * An item pushed by send() arrives through a gw_queue_t attached to the
 * loop.  Its URL (the report's tag callback_url, checked when the message
 * was accepted) is parsed with evhttp_uri; one evhttp connection is made
 * for the request (TLS through libevent_openssl for https://, the
 * certificate and host name verified), names resolved by evdns on the
 * same loop, the whole exchange bounded by http.timeout_ms.  The request
 * is a POST of the report's body (the JSON document of
 * gateway/gw_report_http.c) with Content-Type application/json,
 * X-Junction-Event (message.delivered, ...) and X-Junction-Message-Id
 * (the message it reports on), or, in Kannel's form (the report's tag
 * callback_method GET), a GET of the URL its escapes were expanded into;
 * its answer decides the outcome (http.h).
 * Each request and each answer (or failure) is offered to the trace bus
 * as a record of kind http.
 *
 * In flight, an item is on http_cl_busy (a list only this thread
 * touches); stop() asks the thread to end: it frees every connection still
 * open (libevent then runs no callback of theirs) and hands their
 * deliveries back to the core (gw_core_requeue), as does the queue's free
 * function for items never started.
 *
 * Threads: http_client_start / stop on the main thread; http_client_push
 * on any thread; everything else on the client thread.
 */
#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_core.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_queue.h"
#include "gw_report_http.h"
#include "gw_trace.h"
#include "gw_version.h"
#include "http.h"

#define HTTP_CL_QUEUE_MAX 65536 /* items waiting for the loop (send() is bounded by rooms) */
#define HTTP_CL_BODY_MAX 65536  /* an answer's body read at most */
#define HTTP_CL_TRACE_BODY 256  /* an answer's bytes kept in its trace record */

/* A request in flight (the client thread's). */
typedef struct http_req {
    http_item_t *it;
    struct evhttp_connection *evcon;
    char peer[300];               /* host:port, for the trace and the log */
    enum evhttp_request_error err; /* set by the error callback; -1: none */
    int in_make;                  /* inside evhttp_make_request: done must not free rq */
    int settled;                  /* done ran (inside evhttp_make_request) */
    struct http_req *prev, *next; /* http_cl_busy */
} http_req_t;

static struct event_base *http_cl_base;
static struct evdns_base *http_cl_dns;
static SSL_CTX *http_cl_ssl;
static gw_queue_t *http_cl_q;
static pthread_t http_cl_thread;
static int http_cl_running;
static int http_cl_stopping;   /* atomic: no new item is taken */
static http_req_t *http_cl_busy; /* the client thread's */

/* Settle it: the core has the outcome, the room is given back, it is
 * freed.  Client thread (or stop, after the thread ended). */
static void http_cl_settle(http_item_t *it)
{
    __atomic_sub_fetch(&it->hc->inflight, 1, __ATOMIC_RELAXED);
    http_conn_unref(it->hc);
    free(it);
}

/* One record of kind http on the trace bus.  Callers test gw_trace_on(). */
static void http_cl_trace(const http_item_t *it, gw_trace_dir_t dir, const char *peer,
                          const char *summary, const void *raw, size_t raw_len)
{
    gw_trace_rec_t r = { 0 };

    r.kind = GW_TRACE_HTTP;
    r.dir = dir;
    r.connector = it->hc->name;
    r.peer = peer;
    r.env_id = it->d->env->id;
    r.from = it->d->env->from.address;
    r.to = it->d->env->to.address;
    r.summary = summary;
    r.raw = raw;
    r.raw_len = raw_len;
    gw_trace_record(&r);
}

static const char *http_cl_errname(enum evhttp_request_error e)
{
    switch ((int)e) {
    case EVREQ_HTTP_TIMEOUT:
        return "timeout";
    case EVREQ_HTTP_EOF:
        return "connection closed before an answer";
    case EVREQ_HTTP_INVALID_HEADER:
        return "a malformed answer";
    case EVREQ_HTTP_BUFFER_ERROR:
        return "connection refused or broken";
    case EVREQ_HTTP_DATA_TOO_LONG:
        return "an answer too long";
    default:
        return "no connection";
    }
}

static void http_cl_unlink(http_req_t *rq)
{
    if (rq->prev != NULL)
        rq->prev->next = rq->next;
    else
        http_cl_busy = rq->next;
    if (rq->next != NULL)
        rq->next->prev = rq->prev;
}

/* The outcome of one answer (code 0: none came).  Client thread. */
static void http_cl_outcome(http_req_t *rq, int code, const char *why)
{
    http_item_t *it = rq->it;
    gw_delivery_t *d = it->d;

    if (code >= 200 && code < 300) {
        gw_stat_add(http_st_delivered, 1);
        __atomic_add_fetch(&it->hc->delivered, 1, __ATOMIC_RELAXED);
        GW_ENV_DEBUG(d->env, HTTP_LOG, "%s: callback to %s answered %d", d->env->id, rq->peer,
                     code);
        gw_core_delivered(d);
    } else if (code == 0 || code == 408 || code == 429 || code >= 500) {
        gw_stat_add(http_st_retried, 1);
        __atomic_add_fetch(&it->hc->retried, 1, __ATOMIC_RELAXED);
        GW_ENV_LOG(d->env, HTTP_LOG, GW_LOG_INFO, "%s: callback to %s: %d %s; retried later",
                   d->env->id, rq->peer, code, why);
        gw_core_retry(d, code != 0 ? code : 503, why);
    } else {
        gw_stat_add(http_st_failed, 1);
        __atomic_add_fetch(&it->hc->failed, 1, __ATOMIC_RELAXED);
        GW_ENV_LOG(d->env, HTTP_LOG, GW_LOG_WARN, "%s: callback to %s refused: %d %s",
                   d->env->id, rq->peer, code, why);
        gw_core_failed(d, code, why);
    }
    http_cl_settle(it);
}

/* evhttp's error callback: why the request failed (the done callback
 * follows with NULL).  Client thread. */
static void http_cl_error(enum evhttp_request_error err, void *arg)
{
    http_req_t *rq = arg;

    rq->err = err;
}

/* event_base_once callback: free a connection libevent left to us. */
static void http_cl_free_conn(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    evhttp_connection_free(arg);
}

/* evhttp's done callback: req NULL (or code 0) when no answer came.
 * libevent frees req and, mostly, the connection (free_on_completion);
 * but a connect that failed (refused, unreachable) calls back with a
 * request of no answer (code 0) and does not free its connection: that
 * connection is freed here, on the next turn of the loop, once libevent
 * is out of its callbacks.  Client thread. */
static void http_cl_done(struct evhttp_request *req, void *arg)
{
    http_req_t *rq = arg;
    static const struct timeval now = { 0, 0 };
    int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
    const char *why = code != 0 ? evhttp_request_get_response_code_line(req)
                                : http_cl_errname(rq->err);
    char line[160];

    http_cl_unlink(rq);
    /* an answer always has a code (libevent takes 100-999 only); a request
     * with none is the connect's failure (evhttp_connection_cb_cleanup_) */
    if (req != NULL && code == 0 &&
        event_base_once(http_cl_base, -1, EV_TIMEOUT, http_cl_free_conn, rq->evcon, &now) != 0)
        GW_ERR(HTTP_LOG, "a failed connection to %s cannot be freed", rq->peer);
    if (why == NULL || why[0] == '\0')
        why = code != 0 ? "(no reason phrase)" : "no answer";
    if (gw_trace_on()) {
        struct evbuffer *in = req != NULL ? evhttp_request_get_input_buffer(req) : NULL;
        size_t n = in != NULL ? evbuffer_get_length(in) : 0;
        if (code != 0)
            snprintf(line, sizeof line, "HTTP %d %s", code, why);
        else
            snprintf(line, sizeof line, "error: %s", why);
        http_cl_trace(rq->it, GW_TRACE_IN, rq->peer, line,
                      n > 0 ? evbuffer_pullup(in, n < HTTP_CL_TRACE_BODY ? (ssize_t)n
                                                                        : HTTP_CL_TRACE_BODY)
                            : NULL,
                      n < HTTP_CL_TRACE_BODY ? n : HTTP_CL_TRACE_BODY);
    }
    http_cl_outcome(rq, code, why);
    if (rq->in_make)
        rq->settled = 1; /* a connect that failed at once: http_cl_start frees rq */
    else
        free(rq);
}

/* A connection to host:port for uri's scheme (TLS for https).  NULL on
 * failure.  Client thread. */
static struct evhttp_connection *http_cl_connect(const char *scheme, const char *host, int port)
{
    struct bufferevent *bev = NULL;
    struct in6_addr a6;
    SSL *ssl;

    if (strcasecmp(scheme, "https") != 0)
        return evhttp_connection_base_bufferevent_new(http_cl_base, http_cl_dns, NULL, host,
                                                      (unsigned short)port);
    if (http_cl_ssl == NULL || (ssl = SSL_new(http_cl_ssl)) == NULL)
        return NULL;
    /* the certificate must name the host: its address for an IP literal
     * (which SNI does not carry), else its name */
    if (inet_pton(AF_INET, host, &a6) == 1 || inet_pton(AF_INET6, host, &a6) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    } else {
        SSL_set_tlsext_host_name(ssl, host);
        SSL_set1_host(ssl, host);
    }
    bev = bufferevent_openssl_socket_new(http_cl_base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return evhttp_connection_base_bufferevent_new(http_cl_base, http_cl_dns, bev, host,
                                                  (unsigned short)port);
}

/* The request's headers and body (none for a GET: Kannel's form).  0 or
 * -1. */
static int http_cl_fill(struct evhttp_request *req, const gw_envelope_t *env, const char *host,
                        int port, int dflt_port, int get)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *ev = json_string_value(json_object_get(env->tags, "callback_event"));
    char hostport[300];
    int rc = 0;

    if (port == dflt_port)
        snprintf(hostport, sizeof hostport, strchr(host, ':') ? "[%s]" : "%s", host);
    else
        snprintf(hostport, sizeof hostport, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    rc |= evhttp_add_header(h, "Host", hostport);
    if (!get)
        rc |= evhttp_add_header(h, "Content-Type", "application/json");
    rc |= evhttp_add_header(h, "User-Agent", "junction/" JUNCTION_VERSION);
    rc |= evhttp_add_header(h, "Connection", "close");
    rc |= evhttp_add_header(h, "X-Junction-Event", ev != NULL ? ev : "message.final");
    if (env->report.of != NULL)
        rc |= evhttp_add_header(h, "X-Junction-Message-Id", env->report.of);
    if (!get && env->body != NULL)
        rc |= evbuffer_add(evhttp_request_get_output_buffer(req), env->body, env->body_len);
    return rc != 0 ? -1 : 0;
}

/* Start the request of it, or settle it at once (a bad URL fails, no
 * memory retries).  Client thread. */
static void http_cl_start(http_item_t *it)
{
    const gw_envelope_t *env = it->d->env;
    const char *url = json_string_value(json_object_get(env->tags, GW_REPORT_HTTP_TAG));
    struct evhttp_uri *uri =
        url != NULL ? evhttp_uri_parse_with_flags(url, EVHTTP_URI_NONCONFORMANT) : NULL;
    const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
    const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL, *query;
    int tmo = __atomic_load_n(&http_param_timeout_ms, __ATOMIC_RELAXED);
    struct timeval tv = { tmo / 1000, (tmo % 1000) * 1000 };
    struct evhttp_request *req = NULL;
    http_req_t *rq = NULL;
    const char *method = json_string_value(json_object_get(env->tags, GW_REPORT_HTTP_TAG_METHOD));
    int get = method != NULL && strcmp(method, "GET") == 0;
    char target[GW_REPORT_HTTP_URL_MAX * 2 + 2], hbuf[GW_REPORT_HTTP_URL_MAX];
    int port, dflt, tls;

    if (env->report.of == NULL || scheme == NULL || host == NULL || host[0] == '\0' ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        /* a message a rule routed here is no callback: refused like a bad URL */
        http_req_t bad = { .it = it };
        snprintf(bad.peer, sizeof bad.peer, "%.250s", url != NULL ? url : "(no callback_url)");
        http_cl_outcome(&bad, 400, env->report.of == NULL ? "not a callback (a report)"
                                                           : "not an http:// or https:// URL");
        goto out_uri;
    }
    if (host[0] == '[') { /* evhttp keeps an IPv6 literal's brackets; getaddrinfo takes none */
        snprintf(hbuf, sizeof hbuf, "%.*s", (int)strcspn(host + 1, "]"), host + 1);
        host = hbuf;
    }
    tls = strcasecmp(scheme, "https") == 0;
    dflt = tls ? 443 : 80;
    port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : dflt;
    query = evhttp_uri_get_query(uri);
    snprintf(target, sizeof target, "%s%s%s", path != NULL && path[0] ? path : "/",
             query != NULL ? "?" : "", query != NULL ? query : "");
    if ((rq = calloc(1, sizeof *rq)) == NULL)
        goto out_nomem;
    rq->it = it;
    rq->err = (enum evhttp_request_error) - 1;
    snprintf(rq->peer, sizeof rq->peer, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    if ((rq->evcon = http_cl_connect(scheme, host, port)) == NULL)
        goto out_nomem;
    evhttp_connection_set_timeout_tv(rq->evcon, &tv);
    evhttp_connection_set_retries(rq->evcon, 0);
    evhttp_connection_set_max_body_size(rq->evcon, HTTP_CL_BODY_MAX);
    evhttp_connection_free_on_completion(rq->evcon);
    if ((req = evhttp_request_new(http_cl_done, rq)) == NULL)
        goto out_conn;
    evhttp_request_set_error_cb(req, http_cl_error);
    if (http_cl_fill(req, env, host, port, dflt, get) != 0) {
        evhttp_request_free(req);
        goto out_conn;
    }
    rq->next = http_cl_busy;
    if (http_cl_busy != NULL)
        http_cl_busy->prev = rq;
    http_cl_busy = rq;
    gw_stat_add(http_st_sent, 1);
    __atomic_add_fetch(&it->hc->sent, 1, __ATOMIC_RELAXED);
    if (gw_trace_on()) {
        char line[GW_REPORT_HTTP_URL_MAX * 2 + 16];
        snprintf(line, sizeof line, "%s %s", get ? "GET" : "POST", url);
        http_cl_trace(it, GW_TRACE_OUT, rq->peer, line, get ? NULL : env->body,
                      get ? 0 : env->body_len);
    }
    rq->in_make = 1;
    if (evhttp_make_request(rq->evcon, req, get ? EVHTTP_REQ_GET : EVHTTP_REQ_POST, target) !=
            0 &&
        !rq->settled) {
        /* refused before any callback: libevent freed req; the connection is ours */
        http_cl_unlink(rq);
        goto out_conn;
    }
    rq->in_make = 0;
    if (rq->settled) /* done ran already (the connect failed at once) and owns the rest */
        free(rq);
    evhttp_uri_free(uri);
    return;

out_conn:
    evhttp_connection_free(rq->evcon);
out_nomem:
    free(rq);
    {
        http_req_t bad = { .it = it };
        snprintf(bad.peer, sizeof bad.peer, "%.250s", host != NULL ? host : "?");
        http_cl_outcome(&bad, 0, "cannot start the request");
    }
out_uri:
    if (uri != NULL) /* evhttp_uri_free takes no NULL */
        evhttp_uri_free(uri);
}

/* gw_queue_t free function: an item never started goes back to the core. */
static void http_cl_drop(void *item)
{
    http_item_t *it = item;

    if (it == NULL)
        return;
    gw_core_requeue(it->d);
    http_cl_settle(it);
}

/* gw_queue_fn_t: an item from send(), or NULL: stop.  Client thread. */
static void http_cl_take(void *item, void *arg)
{
    http_item_t *it = item;

    (void)arg;
    if (it != NULL && !__atomic_load_n(&http_cl_stopping, __ATOMIC_ACQUIRE)) {
        http_cl_start(it);
        return;
    }
    if (it != NULL) { /* came in the same batch as the stop */
        http_cl_drop(it);
        return;
    }
    /* stop: what is in flight goes back to the core, to be sent again */
    while (http_cl_busy != NULL) {
        http_req_t *rq = http_cl_busy;
        http_cl_unlink(rq);
        evhttp_connection_free(rq->evcon); /* frees its request: no callback runs */
        gw_core_requeue(rq->it->d);
        http_cl_settle(rq->it);
        free(rq);
    }
    event_base_loopbreak(http_cl_base);
}

static void *http_cl_main(void *arg)
{
    (void)arg;
    event_base_loop(http_cl_base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* The TLS context of https:// callbacks: peers verified against
 * http.ca_file or the system's CAs.  NULL (https refused) on failure. */
static SSL_CTX *http_cl_ssl_new(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if ((http_param_ca_file[0] != '\0'
             ? SSL_CTX_load_verify_locations(ctx, http_param_ca_file, NULL)
             : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
        GW_ERR(HTTP_LOG, "cannot load the CAs of https callbacks (%s): https:// is refused",
               http_param_ca_file[0] ? http_param_ca_file : "the system's");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int http_client_start(void)
{
    int rc = GW_ERROR;

    http_cl_base = event_base_new();
    http_cl_q = gw_queue_new(HTTP_CL_QUEUE_MAX, http_cl_drop);
    if (http_cl_base == NULL || http_cl_q == NULL)
        goto out_free;
    http_cl_dns = evdns_base_new(http_cl_base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                                   EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (http_cl_dns == NULL) /* no resolv.conf: names are not resolved, addresses work */
        http_cl_dns = evdns_base_new(http_cl_base, 0);
    http_cl_ssl = http_cl_ssl_new();
    if (gw_queue_attach(http_cl_q, http_cl_base, http_cl_take, NULL) != 0 ||
        pthread_create(&http_cl_thread, NULL, http_cl_main, NULL) != 0)
        goto out_free;
    http_cl_running = 1;
    return 0;

out_free:
    GW_ERR(HTTP_LOG, "the callback client thread cannot start");
    http_client_stop();
    return rc;
}

int http_client_push(http_item_t *it)
{
    if (http_cl_q == NULL || __atomic_load_n(&http_cl_stopping, __ATOMIC_ACQUIRE))
        return GW_ESTOPPED;
    return gw_queue_push(http_cl_q, it);
}

void http_client_refuse(void)
{
    __atomic_store_n(&http_cl_stopping, 1, __ATOMIC_RELEASE);
}

void http_client_stop(void)
{
    http_client_refuse(); /* already, from the adapter's stop; again for a failed start */
    if (http_cl_running) {
        /* NULL asks the loop to hand back what it holds and end; should
         * the push fail, a loopbreak leaves the busy list to us */
        if (gw_queue_push(http_cl_q, NULL) != 0)
            event_base_loopbreak(http_cl_base);
        pthread_join(http_cl_thread, NULL);
        http_cl_running = 0;
        http_cl_take(NULL, NULL); /* whatever is still in flight (none after a NULL) */
    }
    gw_queue_free(http_cl_q); /* items never started: back to the core */
    http_cl_q = NULL;
    if (http_cl_dns != NULL)
        evdns_base_free(http_cl_dns, 0);
    http_cl_dns = NULL;
    SSL_CTX_free(http_cl_ssl);
    http_cl_ssl = NULL;
    if (http_cl_base != NULL)
        event_base_free(http_cl_base);
    http_cl_base = NULL;
}
