/*
 * gw_mi_sock.c - the MI on a UNIX socket, for junctionctl and scripts.
 *
 * Framing: one JSON-RPC request per line (compact JSON has no newline), one
 * reply line per request; a notification gets no line.  The socket file is
 * created with mode 0600, and each client's peer credentials
 * (SO_PEERCRED) are checked at accept: root or the daemon's own user is an
 * administrator ("local:uid=N" in the audit log), anyone else is refused
 * with one error line, as with Kamailio's control socket.  Lines are
 * bounded (GW_MI_SOCK_LINE_MAX).
 *
 * Long polls.  A request that may wait (a GW_MI_F_UNLOCKED method with
 * params.wait_ms > 0: trace.list) must not hold the main loop, which also
 * runs the signals: it runs on a thread of its own (at most
 * GW_MI_SOCK_WAITS at once; past that it is answered -32010), its
 * connection reads nothing more meanwhile (its replies stay in order) and
 * the reply comes back to the main loop through gw_mi_sock_q.  A client
 * that hangs up meanwhile leaves its gw_mi_sock_conn_t (with the caller
 * the thread reads) until the reply arrives and frees it.  Shutdown:
 * gw_main stops the traces first (their waits end at once), then
 * gw_mi_sock_stop waits for the threads.
 *
 * Threads: the main loop (base given to gw_mi_sock_start); the long poll
 * threads run only gw_mi_sock_wait_run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_mi.h"
#include "gw_queue.h"

#define GW_MI_SOCK_LINE_MAX (16 * 1024 * 1024)
#define GW_MI_SOCK_WAITS 8          /* long polls running at once */
#define GW_MI_SOCK_STOP_WAIT_S 35   /* > the longest wait_ms (30 s) */

/* One client connection (main loop). */
typedef struct gw_mi_sock_conn {
    gw_mi_caller_t caller;   /* from its peer credentials */
    struct bufferevent *bev; /* NULL once closed */
    int busy;                /* a long poll of it runs on a thread */
} gw_mi_sock_conn_t;

/* A long poll: the request going out, the reply coming back. */
typedef struct gw_mi_sock_wait {
    gw_mi_sock_conn_t *conn;
    char *line;  /* owned */
    char *reply; /* owned; NULL: a notification */
} gw_mi_sock_wait_t;

static struct evconnlistener *gw_mi_sock_listener;
static char gw_mi_sock_path[108];
static gw_queue_t *gw_mi_sock_q;   /* finished long polls, to the main loop */
static pthread_mutex_t gw_mi_sock_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the count */
static pthread_cond_t gw_mi_sock_cond = PTHREAD_COND_INITIALIZER;
static int gw_mi_sock_waits;       /* long poll threads running */

static void gw_mi_sock_on_event(struct bufferevent *bev, short what, void *arg);
static void gw_mi_sock_on_read(struct bufferevent *bev, void *arg);

/* The answer to a refused client went out: close it. */
static void gw_mi_sock_on_flushed(struct bufferevent *bev, void *arg)
{
    bufferevent_free(bev);
    free(arg); /* the client's gw_mi_sock_conn_t */
}

static void gw_mi_sock_wait_free(void *item)
{
    gw_mi_sock_wait_t *w = item;

    if (w->conn->bev == NULL)
        free(w->conn); /* its client left while it waited */
    free(w->line);
    free(w->reply);
    free(w);
}

/* 1 when the request text asks to wait: a method that runs unlocked (it
 * may wait, gw_mi.h) with params.wait_ms > 0. */
static int gw_mi_sock_may_wait(const char *line, size_t len)
{
    const gw_mi_cmd_t *cmd;
    json_t *req, *w;
    int waits;

    if (memmem(line, len, "\"wait_ms\"", 9) == NULL)
        return 0; /* the common case, without parsing */
    req = json_loadb(line, len, 0, NULL);
    w = json_object_get(json_object_get(req, "params"), "wait_ms");
    cmd = gw_mi_find(json_string_value(json_object_get(req, "method")));
    waits = cmd != NULL && (cmd->flags & GW_MI_F_UNLOCKED) && json_is_integer(w) &&
            json_integer_value(w) > 0;
    json_decref(req);
    return waits;
}

static void *gw_mi_sock_wait_run(void *arg)
{
    gw_mi_sock_wait_t *w = arg;

    w->reply = gw_mi_handle_text_as(w->line, strlen(w->line), &w->conn->caller, NULL);
    if (gw_queue_push(gw_mi_sock_q, w) != 0)
        gw_mi_sock_wait_free(w); /* unbounded queue: only out of memory */
    pthread_mutex_lock(&gw_mi_sock_lock);
    gw_mi_sock_waits--;
    pthread_cond_broadcast(&gw_mi_sock_cond);
    pthread_mutex_unlock(&gw_mi_sock_lock);
    return NULL;
}

/* Run line (taken over) on a thread for conn.  0, or -1 when it cannot
 * (too many, no thread): line is still the caller's. */
static int gw_mi_sock_wait_start(gw_mi_sock_conn_t *conn, char *line)
{
    gw_mi_sock_wait_t *w = calloc(1, sizeof(*w));
    pthread_attr_t attr;
    pthread_t th;
    int rc = -1;

    if (w == NULL)
        return -1;
    w->conn = conn;
    w->line = line;
    pthread_mutex_lock(&gw_mi_sock_lock);
    if (gw_mi_sock_waits < GW_MI_SOCK_WAITS) {
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, gw_mi_sock_wait_run, w) == 0) {
            gw_mi_sock_waits++;
            rc = 0;
        }
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_unlock(&gw_mi_sock_lock);
    if (rc != 0)
        free(w);
    return rc;
}

/* A long poll ended (main loop): its reply to its client, whose reading
 * starts again. */
static void gw_mi_sock_on_waited(void *item, void *arg)
{
    gw_mi_sock_wait_t *w = item;
    gw_mi_sock_conn_t *conn = w->conn;

    (void)arg;
    if (conn->bev != NULL) {
        conn->busy = 0;
        if (w->reply) {
            bufferevent_write(conn->bev, w->reply, strlen(w->reply));
            bufferevent_write(conn->bev, "\n", 1);
        }
        bufferevent_enable(conn->bev, EV_READ);
        gw_mi_sock_on_read(conn->bev, conn); /* lines that came meanwhile */
    }
    gw_mi_sock_wait_free(w);
}

static void gw_mi_sock_on_read(struct bufferevent *bev, void *arg)
{
    static const char busy[] = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32010,"
                               "\"message\":\"too many long polls on the socket\"},\"id\":null}\n";
    struct evbuffer *in = bufferevent_get_input(bev);
    gw_mi_sock_conn_t *conn = arg;
    char *line, *reply;
    size_t len;

    while (!conn->busy && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
        if (len && gw_mi_sock_q != NULL && gw_mi_sock_may_wait(line, len)) {
            if (gw_mi_sock_wait_start(conn, line) == 0) {
                conn->busy = 1; /* the rest waits for its reply */
                bufferevent_disable(bev, EV_READ);
                return;
            }
            free(line);
            bufferevent_write(bev, busy, sizeof(busy) - 1);
            continue;
        }
        reply = len ? gw_mi_handle_text_as(line, len, &conn->caller, NULL) : NULL;
        free(line);
        if (reply) {
            bufferevent_write(bev, reply, strlen(reply));
            bufferevent_write(bev, "\n", 1);
            free(reply);
        }
    }
    if (evbuffer_get_length(in) > GW_MI_SOCK_LINE_MAX) {
        static const char err[] = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,"
                                  "\"message\":\"request line too long\"},\"id\":null}\n";
        GW_WARN("mi", "socket client sent a line over %d bytes; closing", GW_MI_SOCK_LINE_MAX);
        bufferevent_disable(bev, EV_READ);
        evbuffer_drain(in, evbuffer_get_length(in));
        bufferevent_setcb(bev, NULL, gw_mi_sock_on_flushed, gw_mi_sock_on_event, arg);
        bufferevent_write(bev, err, sizeof(err) - 1);
    }
}

static void gw_mi_sock_on_event(struct bufferevent *bev, short what, void *arg)
{
    gw_mi_sock_conn_t *conn = arg;

    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    bufferevent_free(bev);
    conn->bev = NULL;
    if (!conn->busy)
        free(conn); /* else the long poll's reply frees it */
}

/* A client's connection with the caller it is, from its peer
 * credentials; NULL when it may not use the socket (malloc'd: the
 * connection owns it). */
static gw_mi_sock_conn_t *gw_mi_sock_caller(evutil_socket_t fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    gw_mi_sock_conn_t *conn;
    gw_mi_caller_t *c;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        GW_WARN("mi", "socket client: no peer credentials (%s); refused", strerror(errno));
        return NULL;
    }
    if (cred.uid != 0 && cred.uid != geteuid()) {
        GW_WARN("mi", "socket client uid %u pid %d refused: only root and uid %u may use it",
                (unsigned)cred.uid, (int)cred.pid, (unsigned)geteuid());
        return NULL;
    }
    conn = calloc(1, sizeof *conn);
    if (conn == NULL)
        return NULL;
    c = &conn->caller;
    snprintf(c->who, sizeof c->who, "local:uid=%u", (unsigned)cred.uid);
    c->via = "socket";
    c->role = GW_ROLE_ADMIN;
    return conn;
}

static void gw_mi_sock_on_accept(struct evconnlistener *l, evutil_socket_t fd,
                                 struct sockaddr *sa, int salen, void *arg)
{
    static const char refused[] = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32003,"
                                  "\"message\":\"forbidden: the MI socket is for root and the "
                                  "daemon's user\"},\"id\":null}\n";
    struct bufferevent *bev;
    gw_mi_sock_conn_t *caller;

    (void)sa;
    (void)salen;
    (void)arg;
    caller = gw_mi_sock_caller(fd);
    if (caller == NULL) {
        ssize_t n = write(fd, refused, sizeof refused - 1);
        (void)n;
        close(fd);
        return;
    }
    bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        free(caller);
        close(fd);
        return;
    }
    caller->bev = bev;
    bufferevent_setcb(bev, gw_mi_sock_on_read, NULL, gw_mi_sock_on_event, caller);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int gw_mi_sock_start(struct event_base *base, const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    mode_t old;

    if (path == NULL || *path == '\0')
        return GW_OK; /* disabled */
    if (strlen(path) >= sizeof(sun.sun_path)) {
        GW_ERR("mi", "socket path %s is too long", path);
        return GW_EINVAL;
    }
    strcpy(sun.sun_path, path);
    unlink(path); /* a stale socket from a crash */
    old = umask(0177);
    gw_mi_sock_listener = evconnlistener_new_bind(base, gw_mi_sock_on_accept, NULL,
                                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                                  16, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (gw_mi_sock_listener == NULL) {
        GW_ERR("mi", "cannot listen on %s: %s", path, strerror(errno));
        return GW_ERROR;
    }
    snprintf(gw_mi_sock_path, sizeof(gw_mi_sock_path), "%s", path);
    /* without it long polls run inline (they still work, holding the loop) */
    gw_mi_sock_q = gw_queue_new(0, gw_mi_sock_wait_free);
    if (gw_mi_sock_q != NULL && gw_queue_attach(gw_mi_sock_q, base, gw_mi_sock_on_waited, NULL) != 0) {
        gw_queue_free(gw_mi_sock_q);
        gw_mi_sock_q = NULL;
    }
    return GW_OK;
}

void gw_mi_sock_stop(void)
{
    struct timespec until;

    if (gw_mi_sock_listener) {
        evconnlistener_free(gw_mi_sock_listener);
        gw_mi_sock_listener = NULL;
        unlink(gw_mi_sock_path);
    }
    if (gw_mi_sock_q == NULL)
        return;
    /* the long polls end soon: their traces were stopped */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += GW_MI_SOCK_STOP_WAIT_S;
    pthread_mutex_lock(&gw_mi_sock_lock);
    while (gw_mi_sock_waits > 0 &&
           pthread_cond_timedwait(&gw_mi_sock_cond, &gw_mi_sock_lock, &until) == 0)
        ;
    pthread_mutex_unlock(&gw_mi_sock_lock);
    if (gw_mi_sock_waits == 0) {
        gw_queue_free(gw_mi_sock_q); /* the replies nobody reads now */
        gw_mi_sock_q = NULL;
    }
}
