/*
 * ctl_net.c - junctionctl's transports to the MI.
 *
 * UNIX socket (the default): the daemon side is gateway/gw_mi_sock.c.  One
 * JSON-RPC request per line, newline-terminated; the request is compact
 * JSON so it holds no raw newline.  The daemon answers one line per
 * request.  We send one request, read up to the first newline and close.
 *
 * HTTP (--url): a minimal HTTP/1.1 client for POST /mi on a loopback
 * address only, with the API token of $JUNCTION_TOKEN as Authorization:
 * Bearer (never an argument: ps would show it) (the MI has no TLS on this path and carries passwords).  The
 * request says "Connection: close" and the reply is read until the server
 * closes; the body is framed by Content-Length, or chunked, or the close.
 *
 * Every read and write is bounded in time (SO_RCVTIMEO / SO_SNDTIMEO, also
 * covering connect) and in size (WEB_CTL_MAX_REPLY).
 *
 * Thread: junctionctl's only thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "webui/ctl.h"

/* A growing byte buffer, always NUL-terminated once allocated. */
typedef struct web_ctl_buf {
    char *data;
    size_t len, cap;
} web_ctl_buf_t;

static void web_ctl_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void web_ctl_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void web_ctl_timeouts(int fd)
{
    struct timeval tv = { .tv_sec = WEB_CTL_TIMEOUT_S, .tv_usec = 0 };

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Write all of data.  Returns 0 or -1 with errno set. */
static int web_ctl_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read into b until the peer closes or, when stop_at_nl, a newline
 * arrives.  Returns 0, or -1 with a message in err. */
static int web_ctl_read(int fd, web_ctl_buf_t *b, int stop_at_nl, const char *peer,
                        char *err, size_t errlen)
{
    for (;;) {
        ssize_t n;
        char *p;

        if (b->cap - b->len < 4096 + 1) {
            size_t cap = b->cap ? b->cap * 2 : 16384;
            if (cap > WEB_CTL_MAX_REPLY + 1) {
                web_ctl_errf(err, errlen, "reply from %s exceeds %u bytes", peer,
                             WEB_CTL_MAX_REPLY);
                return -1;
            }
            p = realloc(b->data, cap);
            if (p == NULL) {
                web_ctl_errf(err, errlen, "out of memory");
                return -1;
            }
            b->data = p;
            b->cap = cap;
        }
        n = recv(fd, b->data + b->len, b->cap - b->len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            web_ctl_errf(err, errlen, "reading from %s: %s", peer,
                         errno == EAGAIN ? "timed out" : strerror(errno));
            return -1;
        }
        b->data[b->len + (size_t)n] = '\0';
        if (n == 0)
            return 0;
        p = stop_at_nl ? memchr(b->data + b->len, '\n', (size_t)n) : NULL;
        b->len += (size_t)n;
        if (p != NULL) {
            *p = '\0';
            b->len = (size_t)(p - b->data);
            return 0;
        }
    }
}

char *web_ctl_call_socket(const char *path, const char *req, char *err, size_t errlen)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    web_ctl_buf_t b = { 0 };
    int fd;

    if (strlen(path) >= sizeof sun.sun_path) {
        web_ctl_errf(err, errlen, "socket path too long: %s", path);
        return NULL;
    }
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        web_ctl_errf(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    web_ctl_timeouts(fd);
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        web_ctl_errf(err, errlen, "cannot connect to %s: %s \xe2\x80\x94 is junction running?",
                     path, strerror(errno));
        goto out_close;
    }
    if (web_ctl_write_all(fd, req, strlen(req)) < 0 || web_ctl_write_all(fd, "\n", 1) < 0) {
        web_ctl_errf(err, errlen, "writing to %s: %s", path, strerror(errno));
        goto out_close;
    }
    if (web_ctl_read(fd, &b, 1, path, err, errlen) < 0)
        goto out_free;
    if (b.len == 0) {
        web_ctl_errf(err, errlen, "%s closed the connection without a reply", path);
        goto out_free;
    }
    close(fd);
    return b.data;

out_free:
    free(b.data);
out_close:
    close(fd);
    return NULL;
}

/* Split "http://host:port/path" into its parts (host without brackets).
 * Returns 0 or -1 with a message in err. */
static int web_ctl_parse_url(const char *url, char *host, size_t hostlen, char *port,
                             size_t portlen, const char **path, char *err, size_t errlen)
{
    const char *h, *end, *colon;
    size_t n;

    if (strncasecmp(url, "http://", 7) != 0) {
        web_ctl_errf(err, errlen, "URL must start with http:// : %s", url);
        return -1;
    }
    h = url + 7;
    end = h + strcspn(h, "/");
    *path = *end ? end : "/mi";
    if (strcmp(*path, "/") == 0)
        *path = "/mi";
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (rb == NULL)
            goto bad;
        n = (size_t)(rb - h - 1);
        if (n == 0 || n >= hostlen)
            goto bad;
        memcpy(host, h + 1, n);
        host[n] = '\0';
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        if (colon == NULL && rb + 1 != end)
            goto bad;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        n = (size_t)((colon ? colon : end) - h);
        if (n == 0 || n >= hostlen)
            goto bad;
        memcpy(host, h, n);
        host[n] = '\0';
    }
    n = colon ? (size_t)(end - colon - 1) : 0;
    if (colon != NULL && (n == 0 || n >= portlen || strspn(colon + 1, "0123456789") < n))
        goto bad;
    if (colon != NULL) {
        memcpy(port, colon + 1, n);
        port[n] = '\0';
    } else {
        snprintf(port, portlen, "80");
    }
    return 0;
bad:
    web_ctl_errf(err, errlen, "malformed URL (want http://host:port[/path]): %s", url);
    return -1;
}

static int web_ctl_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

/* Connect to a loopback address of host:port.  Returns the fd or -1. */
static int web_ctl_connect_tcp(const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res, *ai;
    int fd = -1, gai, saved = ECONNREFUSED, loopback = 0;

    gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        web_ctl_errf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        if (!web_ctl_is_loopback(ai->ai_addr))
            continue;
        loopback = 1;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        web_ctl_timeouts(fd);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (!loopback)
        web_ctl_errf(err, errlen, "refusing %s: --url must name a loopback address", host);
    else if (fd < 0)
        web_ctl_errf(err, errlen, "cannot connect to %s port %s: %s \xe2\x80\x94 is junction running?",
                     host, port, strerror(saved));
    return fd;
}

/* Decode a chunked body in place.  Returns its length or -1. */
static long web_ctl_dechunk(char *body, size_t len)
{
    char *in = body, *end = body + len, *out = body;

    for (;;) {
        char *eol = memmem(in, (size_t)(end - in), "\r\n", 2);
        unsigned long n;
        char *stop;

        if (eol == NULL)
            return -1;
        n = strtoul(in, &stop, 16);
        if (stop == in || n > (size_t)(end - eol - 2))
            return -1;
        if (n == 0)
            return out - body;
        memmove(out, eol + 2, n);
        out += n;
        in = eol + 2 + n;
        if (end - in < 2 || in[0] != '\r' || in[1] != '\n')
            return -1;
        in += 2;
    }
}

/* Find a header's value in the head block (case-insensitive name). */
static const char *web_ctl_header(const char *head, const char *name)
{
    size_t n = strlen(name);

    for (const char *l = strstr(head, "\r\n"); l != NULL; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, n) == 0 && l[2 + n] == ':')
            return l + 3 + n + strspn(l + 3 + n, " \t");
    }
    return NULL;
}

/* Check the status and frame the body of a whole HTTP reply in b.
 * Returns the body (moved to the start of b->data) or NULL with err set. */
static char *web_ctl_http_body(web_ctl_buf_t *b, const char *peer, char *err, size_t errlen)
{
    char *sep = strstr(b->data, "\r\n\r\n"), *body;
    const char *te, *cl;
    int status;
    long len;

    if (sep == NULL || sscanf(b->data, "HTTP/1.%*d %d", &status) != 1) {
        web_ctl_errf(err, errlen, "malformed HTTP reply from %s", peer);
        return NULL;
    }
    *sep = '\0';
    body = sep + 4;
    len = (long)(b->len - (size_t)(body - b->data));
    te = web_ctl_header(b->data, "Transfer-Encoding");
    cl = web_ctl_header(b->data, "Content-Length");
    if (te != NULL && strncasecmp(te, "chunked", 7) == 0)
        len = web_ctl_dechunk(body, (size_t)len);
    else if (cl != NULL && strtol(cl, NULL, 10) <= len)
        len = strtol(cl, NULL, 10);
    else if (cl != NULL)
        len = -1;
    if (len < 0) {
        web_ctl_errf(err, errlen, "truncated HTTP reply from %s", peer);
        return NULL;
    }
    body[len] = '\0';
    if (status == 204)
        body[0] = '\0';
    else if (status != 200) {
        body[strcspn(body, "\r\n")] = '\0';
        web_ctl_errf(err, errlen, "HTTP %d from %s%s%s", status, peer, *body ? ": " : "", body);
        return NULL;
    }
    memmove(b->data, body, (size_t)len + 1);
    return b->data;
}

char *web_ctl_call_http(const char *url, const char *req, char *err, size_t errlen)
{
    char host[256], port[16], *head;
    const char *path;
    web_ctl_buf_t b = { 0 };
    size_t reqlen = strlen(req);
    const char *token = getenv("JUNCTION_TOKEN");
    int fd, n;

    if (token != NULL && (*token == '\0' || strpbrk(token, "\r\n") != NULL))
        token = NULL;
    if (web_ctl_parse_url(url, host, sizeof host, port, sizeof port, &path, err, errlen) < 0)
        return NULL;
    fd = web_ctl_connect_tcp(host, port, err, errlen);
    if (fd < 0)
        return NULL;
    n = asprintf(&head,
                 "POST %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nContent-Type: application/json\r\n"
                 "Accept: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n"
                 "%s%s%s\r\n",
                 path, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port,
                 reqlen, token ? "Authorization: Bearer " : "", token ? token : "",
                 token ? "\r\n" : "");
    if (n < 0) {
        web_ctl_errf(err, errlen, "out of memory");
        goto out_close;
    }
    if (web_ctl_write_all(fd, head, (size_t)n) < 0 || web_ctl_write_all(fd, req, reqlen) < 0) {
        web_ctl_errf(err, errlen, "writing to %s: %s", url, strerror(errno));
        free(head);
        goto out_close;
    }
    free(head);
    if (web_ctl_read(fd, &b, 0, url, err, errlen) < 0)
        goto out_free;
    if (web_ctl_http_body(&b, url, err, errlen) == NULL)
        goto out_free;
    close(fd);
    return b.data;

out_free:
    free(b.data);
out_close:
    close(fd);
    return NULL;
}

/* One call (ctl.h): the request built here, the reply's framing checked. */
int web_ctl_rpc(const web_ctl_opts_t *o, const char *method, json_t *params, json_t **result,
                long long *code, int quiet)
{
    json_t *req = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", 1, "method", method,
                            "params", params ? params : json_object());
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL, *reply, err[512];
    json_t *r, *e;
    int rc = 2;

    *result = NULL;
    *code = 0;
    json_decref(req);
    if (text == NULL) {
        fprintf(stderr, "junctionctl: out of memory\n");
        return 2;
    }
    reply = o->url ? web_ctl_call_http(o->url, text, err, sizeof err)
                   : web_ctl_call_socket(o->socket, text, err, sizeof err);
    free(text);
    if (reply == NULL) {
        fprintf(stderr, "junctionctl: %s\n", err);
        return 2;
    }
    r = json_loads(reply, 0, NULL);
    free(reply);
    if (!json_is_object(r)) {
        fprintf(stderr, "junctionctl: the reply is not a JSON-RPC object\n");
    } else if ((e = json_object_get(r, "error")) != NULL) {
        *code = (long long)json_integer_value(json_object_get(e, "code"));
        if (!quiet)
            fprintf(stderr, "junctionctl: error %lld: %s\n", *code,
                    json_string_value(json_object_get(e, "message")) ?
                        json_string_value(json_object_get(e, "message")) : "(no message)");
        rc = 1;
    } else {
        *result = json_incref(json_object_get(r, "result"));
        rc = 0;
    }
    json_decref(r);
    return rc;
}
