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
 * Threads: the main loop (base given to gw_mi_sock_start).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_mi.h"

#define GW_MI_SOCK_LINE_MAX (16 * 1024 * 1024)

static struct evconnlistener *gw_mi_sock_listener;
static char gw_mi_sock_path[108];

static void gw_mi_sock_on_event(struct bufferevent *bev, short what, void *arg);

/* The answer to a refused client went out: close it. */
static void gw_mi_sock_on_flushed(struct bufferevent *bev, void *arg)
{
    bufferevent_free(bev);
    free(arg); /* the client's gw_mi_caller_t */
}

static void gw_mi_sock_on_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    char *line, *reply;
    size_t len;

    while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
        reply = len ? gw_mi_handle_text_as(line, len, arg, NULL) : NULL;
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
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        bufferevent_free(bev);
        free(arg); /* the client's gw_mi_caller_t */
    }
}

/* The caller a client is, from its peer credentials; NULL when it may not
 * use the socket (malloc'd: the connection owns it). */
static gw_mi_caller_t *gw_mi_sock_caller(evutil_socket_t fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
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
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    snprintf(c->who, sizeof c->who, "local:uid=%u", (unsigned)cred.uid);
    c->via = "socket";
    c->role = GW_ROLE_ADMIN;
    return c;
}

static void gw_mi_sock_on_accept(struct evconnlistener *l, evutil_socket_t fd,
                                 struct sockaddr *sa, int salen, void *arg)
{
    static const char refused[] = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32003,"
                                  "\"message\":\"forbidden: the MI socket is for root and the "
                                  "daemon's user\"},\"id\":null}\n";
    struct bufferevent *bev;
    gw_mi_caller_t *caller;

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
    return GW_OK;
}

void gw_mi_sock_stop(void)
{
    if (gw_mi_sock_listener) {
        evconnlistener_free(gw_mi_sock_listener);
        gw_mi_sock_listener = NULL;
        unlink(gw_mi_sock_path);
    }
}
