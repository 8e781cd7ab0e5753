/*
 * web_http.c - the HTTP server: routes, the /mi body, /metrics, assets.
 *
 * Routes (the URL path, the query string is ignored; credentials: web_auth.c):
 *   POST /mi                 JSON-RPC 2.0 over HTTP for a caller with
 *                            credentials (else 401 / 403 with a JSON-RPC
 *                            error body): the body (at most
 *                            http.max_body bytes, else 413) goes to
 *                            gw_mi_handle_text(); its reply is the 200 body
 *                            (a JSON-RPC error is still HTTP 200), a
 *                            notification gets 204.  Other methods: 405.
 *   POST /login, /logout, GET /session   web_auth.c (no credentials needed).
 *   POST /api/v1/messages, GET /api/v1/messages/{id}, GET and POST /cgi-bin/sendsms
 *                            the send API, web_api.c.
 *   GET  /metrics            gw_stats_prometheus(), Prometheus text 0.0.4,
 *                            for a Bearer token or a session (viewer).
 *   GET  / /index.html /app.js /routing.js /page_*.js /app.css   the embedded
 *                            web console (web_assets[] below).
 *   anything else            404; a known path with a wrong method: 405.
 * HEAD works wherever GET does (libmicrohttpd drops the body).
 *
 * Why a fixed pool (http.threads, 32 by default) and not a thread per
 * connection: it bounds the threads a client can make us create.  More
 * than a few because several calls wait without gw_mi_lock: a login hashes
 * its password (argon2id, tens of ms), the live trace's trace.list long
 * polls (capped at 1 s over HTTP, gw_trace_mi.c), and every send of the
 * HTTP API waits for its commit (messages.inject is unlocked): the store
 * commits in groups, so the sends in flight at once, one per thread, are
 * what one commit can carry.  libmicrohttpd pins a connection to one
 * thread, so a waiting call delays only the others of its thread.
 *
 * A too-large body is read and thrown away (up to WEB_DISCARD_FACTOR times
 * the limit) so the client reliably sees the 413 instead of a reset while
 * it is still sending; a declared Content-Length beyond that gets the 413
 * at once, and a chunked body beyond it has its connection dropped.
 *
 * HTTPS (http.tls_port) is a second daemon of the same design and the same
 * handler, over libmicrohttpd's TLS (web_tls.c reads the PEM pair); a
 * request can tell which it came to with web_conn_is_tls.
 *
 * Threads: web_start / web_stop on the main thread; every other function
 * on a libmicrohttpd pool thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_mi.h"
#include "gw_stats.h"
#include "webui/web.h"
#include "webui/web_int.h"

#define WEB_CONN_LIMIT 128
#define WEB_CONN_TIMEOUT_S 30
#define WEB_DISCARD_FACTOR 16
#define WEB_LOGIN_BODY_MAX 4096 /* a /login or /logout body */

#define WEB_CSP                                                              \
    "default-src 'self'; script-src 'self'; style-src 'self'; "              \
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "     \
    "base-uri 'none'; form-action 'self'"

static char web_listen[64];
static int web_port;
static int web_enabled;
static int web_max_body; /* runtime: read with __atomic_load_n */
static int web_threads;
static char web_tls_listen[64];
static int web_tls_port;
static char web_tls_cert[256], web_tls_key[256];

const gw_param_t web_params[] = {
    { "http.listen", GW_PT_STR, web_listen, sizeof web_listen, "127.0.0.1", 1, 0, 0,
      "numeric IPv4 or IPv6 address the HTTP server (MI, metrics, web UI) binds" },
    { "http.port", GW_PT_INT, &web_port, 0, "8080", 1, 65535, 0,
      "TCP port of the HTTP server" },
    { "http.enabled", GW_PT_BOOL, &web_enabled, 0, "yes", 0, 0, 0,
      "serve plain HTTP on http.port (POST /mi, GET /metrics, the web UI); HTTPS is "
      "http.tls_port's" },
    { "http.threads", GW_PT_INT, &web_threads, 0, "32", 1, 256, 0,
      "threads of each HTTP daemon's pool: requests served at once (an API send waits for its "
      "commit on one)" },
    { "http.max_body", GW_PT_INT, &web_max_body, 0, "1048576", 1024, 64 * 1024 * 1024,
      GW_PARAM_RUNTIME, "largest POST /mi body in bytes; larger gets 413" },
    { "http.tls_port", GW_PT_INT, &web_tls_port, 0, "0", 0, 65535, 0,
      "TCP port of HTTPS (the same MI, metrics and web UI; libmicrohttpd's TLS); 0: none" },
    { "http.tls_listen", GW_PT_STR, web_tls_listen, sizeof web_tls_listen, "", 0, 0, 0,
      "numeric IPv4 or IPv6 address HTTPS binds; empty: http.listen" },
    { "http.tls_cert", GW_PT_STR, web_tls_cert, sizeof web_tls_cert, "", 0, 0, 0,
      "certificate (chain) of HTTPS, a PEM file read at start" },
    { "http.tls_key", GW_PT_STR, web_tls_key, sizeof web_tls_key, "", 0, 0, 0,
      "private key of http.tls_cert, an unencrypted PEM file (mode 0600) read at start" },
    GW_PARAM_END
};

/* The embedded files (web_assets.S). */
extern const char web_asset_index_html[], web_asset_index_html_end[];
extern const char web_asset_app_js[], web_asset_app_js_end[];
extern const char web_asset_app_css[], web_asset_app_css_end[];
extern const char web_asset_routing_js[], web_asset_routing_js_end[];
extern const char web_asset_page_dashboard_js[], web_asset_page_dashboard_js_end[];
extern const char web_asset_page_connectors_js[], web_asset_page_connectors_js_end[];
extern const char web_asset_page_messages_js[], web_asset_page_messages_js_end[];
extern const char web_asset_page_trace_js[], web_asset_page_trace_js_end[];
extern const char web_asset_page_params_js[], web_asset_page_params_js_end[];
extern const char web_asset_page_accounts_js[], web_asset_page_accounts_js_end[];
extern const char web_asset_page_users_js[], web_asset_page_users_js_end[];
extern const char web_asset_page_system_js[], web_asset_page_system_js_end[];
extern const char web_asset_page_rule_form_js[], web_asset_page_rule_form_js_end[];
extern const char web_asset_page_dryrun_js[], web_asset_page_dryrun_js_end[];
extern const char web_asset_page_rates_js[], web_asset_page_rates_js_end[];

typedef struct web_asset {
    const char *path;
    const char *ctype;
    const char *data;
    const char *end;
} web_asset_t;

static const web_asset_t web_assets[] = {
    { "/", "text/html; charset=utf-8", web_asset_index_html, web_asset_index_html_end },
    { "/index.html", "text/html; charset=utf-8", web_asset_index_html, web_asset_index_html_end },
    { "/app.js", "text/javascript; charset=utf-8", web_asset_app_js, web_asset_app_js_end },
    { "/app.css", "text/css; charset=utf-8", web_asset_app_css, web_asset_app_css_end },
    { "/routing.js", "text/javascript; charset=utf-8", web_asset_routing_js,
      web_asset_routing_js_end },
#define WEB_PAGE_JS(n) { "/" #n ".js", "text/javascript; charset=utf-8", web_asset_##n##_js, \
                         web_asset_##n##_js_end }
    WEB_PAGE_JS(page_dashboard),
    WEB_PAGE_JS(page_connectors),
    WEB_PAGE_JS(page_messages),
    WEB_PAGE_JS(page_trace),
    WEB_PAGE_JS(page_params),
    WEB_PAGE_JS(page_accounts),
    WEB_PAGE_JS(page_users),
    WEB_PAGE_JS(page_system),
    WEB_PAGE_JS(page_rule_form),
    WEB_PAGE_JS(page_dryrun),
    WEB_PAGE_JS(page_rates),
#undef WEB_PAGE_JS
};

/* One POST /mi in progress: the body read so far.  Owned by the
 * connection (*con_cls), freed by web_on_completed. */
/* The POST routes that read a body. */
enum { WEB_ROUTE_MI = 0, WEB_ROUTE_LOGIN, WEB_ROUTE_LOGOUT, WEB_ROUTE_API_SEND, WEB_ROUTE_SENDSMS };

typedef struct web_req {
    int route;        /* WEB_ROUTE_* */
    char *body;
    size_t len, cap;
    size_t limit;     /* http.max_body when the request started */
    int too_large;    /* discarding: the answer will be 413 */
    size_t discarded;
} web_req_t;

static struct MHD_Daemon *web_daemon, *web_tls_daemon;

/* Queue a response with the headers every reply carries.  mode tells who
 * owns buf (MHD_RESPMEM_MUST_FREE: libmicrohttpd frees it, also on
 * failure).  allow, when not NULL, is the Allow header of a 405. */
static enum MHD_Result web_reply(struct MHD_Connection *conn, unsigned status,
                                 const char *ctype, void *buf, size_t len,
                                 enum MHD_ResponseMemoryMode mode, const char *allow,
                                 const char *cache, const char *const *hdrs)
{
    struct MHD_Response *resp;
    enum MHD_Result rc;

    resp = MHD_create_response_from_buffer(len, buf, mode);
    if (resp == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy", WEB_CSP);
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    if (allow != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    for (; hdrs != NULL && hdrs[0] != NULL; hdrs += 2)
        MHD_add_response_header(resp, hdrs[0], hdrs[1]);
    rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* A short plain-text status page (404, 405, 413, 500). */
static enum MHD_Result web_status(struct MHD_Connection *conn, unsigned status,
                                  const char *text, const char *allow)
{
    return web_reply(conn, status, "text/plain; charset=utf-8", (void *)text,
                     strlen(text), MHD_RESPMEM_PERSISTENT, allow, "no-store", NULL);
}

enum MHD_Result web_reply_hdrs(struct MHD_Connection *conn, unsigned status, const char *ctype,
                               void *buf, size_t len, enum MHD_ResponseMemoryMode mode,
                               const char *const *hdrs)
{
    return web_reply(conn, status, ctype, buf, len, mode, NULL, "no-store", hdrs);
}

enum MHD_Result web_json(struct MHD_Connection *conn, unsigned status, const char *text,
                         const char *const *hdrs)
{
    return web_reply(conn, status, "application/json", (void *)text, strlen(text),
                     MHD_RESPMEM_MUST_COPY, NULL, "no-store", hdrs);
}

enum MHD_Result web_rpc_error(struct MHD_Connection *conn, unsigned status, int code,
                              const char *message)
{
    json_t *o = json_pack("{s:s, s:{s:i, s:s}, s:n}", "jsonrpc", "2.0", "error", "code", code,
                          "message", message, "id");
    char *t = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    if (t == NULL)
        return MHD_NO;
    return web_reply(conn, status, "application/json", t, strlen(t), MHD_RESPMEM_MUST_FREE, NULL,
                     "no-store", NULL);
}

/* Append a chunk of the /mi body, or count it while discarding.  Returns
 * 0, or -1 when the connection should be dropped (out of memory, or a
 * client that keeps sending far past the limit). */
static int web_req_append(web_req_t *req, const char *data, size_t n)
{
    size_t cap;
    char *body;

    if (!req->too_large && n > req->limit - req->len) {
        req->too_large = 1;
        req->discarded = req->len;
        free(req->body);
        req->body = NULL;
        req->len = req->cap = 0;
    }
    if (req->too_large) {
        req->discarded += n;
        return req->discarded > req->limit * WEB_DISCARD_FACTOR ? -1 : 0;
    }
    if (req->len + n + 1 > req->cap) {
        cap = req->cap ? req->cap : 4096;
        while (cap < req->len + n + 1)
            cap *= 2;
        body = realloc(req->body, cap);
        if (body == NULL)
            return -1;
        req->body = body;
        req->cap = cap;
    }
    memcpy(req->body + req->len, data, n);
    req->len += n;
    req->body[req->len] = '\0';
    return 0;
}

/* The last call of a POST /mi: hand the whole body to the MI. */
static enum MHD_Result web_mi_finish(struct MHD_Connection *conn, web_req_t *req)
{
    gw_mi_caller_t caller;
    const char *why = NULL;
    unsigned refused, status = MHD_HTTP_OK;
    char *reply;

    if (req->too_large) {
        GW_INFO("web", "POST /mi: body of %zu bytes exceeds http.max_body %zu",
                req->discarded, req->limit);
        return web_status(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                          "413 request body exceeds http.max_body\n", NULL);
    }
    if (req->route == WEB_ROUTE_LOGIN)
        return web_auth_login(conn, req->body, req->len);
    if (req->route == WEB_ROUTE_LOGOUT)
        return web_auth_logout(conn);
    if (req->route == WEB_ROUTE_API_SEND)
        return web_api_send(conn, req->body, req->len);
    if (req->route == WEB_ROUTE_SENDSMS)
        return web_kannel_sendsms_post(conn, req->body, req->len);
    refused = web_auth_caller(conn, &caller, &why);
    if (refused != 0) {
        GW_INFO("web", "POST /mi refused (%u): %s", refused, why);
        return web_rpc_error(conn, refused,
                             refused == MHD_HTTP_UNAUTHORIZED ? GW_MI_UNAUTHORIZED
                                                              : GW_MI_FORBIDDEN,
                             why);
    }
    reply = gw_mi_handle_text_as(req->body != NULL ? req->body : "", req->len, &caller, &status);
    if (reply == NULL)
        return web_reply(conn, MHD_HTTP_NO_CONTENT, "application/json", (void *)"", 0,
                         MHD_RESPMEM_PERSISTENT, NULL, "no-store", NULL);
    return web_reply(conn, status, "application/json", reply, strlen(reply),
                     MHD_RESPMEM_MUST_FREE, NULL, "no-store", NULL);
}

/* Beside the credentials (web_auth.c), the MI, /login and /logout must
 * not be reachable from a web page of another site in an admin's browser:
 *   - the body must be declared application/json, which a cross-site page
 *     can only send after a CORS preflight we never grant (form posts and
 *     text/plain are refused with 415);
 *   - the Host must name the address we listen on or a loopback name, so a
 *     DNS-rebound hostname gets 403;
 *   - an Origin, when a browser sends one, must name that same host, and
 *     the scheme of the daemon it came to (http:// or https://).
 * Returns 0 when the request may proceed, else the HTTP status. */
static unsigned web_mi_guard(struct MHD_Connection *conn)
{
    const char *ct, *host, *origin, *listen = web_listen, *scheme = "http://";
    char ok[3][96];
    int i, host_ok = 0, port = web_port;

    if (web_conn_is_tls(conn)) { /* the HTTPS daemon's own address */
        listen = web_tls_listen[0] ? web_tls_listen : web_listen;
        port = web_tls_port;
        scheme = "https://";
    }
    ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0)
        return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    snprintf(ok[0], sizeof ok[0], "%s:%d", listen, port);
    snprintf(ok[1], sizeof ok[1], "localhost:%d", port);
    snprintf(ok[2], sizeof ok[2], "[%s]:%d", listen, port);
    host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    for (i = 0; host && i < 3; i++)
        host_ok |= strcasecmp(host, ok[i]) == 0;
    if (!host_ok)
        return MHD_HTTP_FORBIDDEN;
    origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (origin && (strncmp(origin, scheme, strlen(scheme)) != 0 ||
                   strcasecmp(origin + strlen(scheme), host) != 0))
        return MHD_HTTP_FORBIDDEN;
    return 0;
}

/* Content-Type: application/json, or 415. */
static unsigned web_json_guard(struct MHD_Connection *conn)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);

    return ct == NULL || strncasecmp(ct, "application/json", 16) != 0
               ? MHD_HTTP_UNSUPPORTED_MEDIA_TYPE
               : 0;
}

/* POST /mi, called once per request phase by libmicrohttpd: first with
 * *con_cls NULL (headers only), then once per body chunk, then with
 * *upload_data_size 0 to answer. */
static enum MHD_Result web_mi(struct MHD_Connection *conn, int route, const char *method,
                              const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    web_req_t *req = *con_cls;
    const char *clen;

    if (req == NULL) {
        unsigned refused;
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
            return web_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                              "405 use POST for /mi, /login and /logout\n", "POST");
        /* the send API takes Bearer tokens only (web_api.c): a browser
         * cannot attach one, so only the content type is checked */
        refused = route == WEB_ROUTE_API_SEND ? web_json_guard(conn)
                  : route == WEB_ROUTE_SENDSMS  ? 0 /* a password in the request, any type */
                                                : web_mi_guard(conn);
        if (refused == MHD_HTTP_UNSUPPORTED_MEDIA_TYPE)
            return web_rpc_error(conn, refused, GW_MI_INVALID_REQUEST,
                                 "POST takes Content-Type: application/json");
        if (refused)
            return web_rpc_error(conn, refused, GW_MI_FORBIDDEN,
                                 "forbidden: the MI answers only its own address (Host and "
                                 "Origin)");
        req = calloc(1, sizeof *req);
        if (req == NULL)
            return MHD_NO;
        req->route = route;
        req->limit = route == WEB_ROUTE_MI || route == WEB_ROUTE_SENDSMS
                         ? (size_t)__atomic_load_n(&web_max_body, __ATOMIC_RELAXED)
                         : WEB_LOGIN_BODY_MAX;
        clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                           MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (clen != NULL && strtoull(clen, NULL, 10) > req->limit) {
            /* Far too large: answer now, libmicrohttpd then closes the
             * connection without reading the body.  Slightly too large:
             * read and discard it so the client sees the 413. */
            if (strtoull(clen, NULL, 10) > req->limit * WEB_DISCARD_FACTOR) {
                free(req);
                return web_status(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                                  "413 request body exceeds http.max_body\n", NULL);
            }
            req->too_large = 1;
        }
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (web_req_append(req, upload_data, *upload_data_size) < 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return web_mi_finish(conn, req);
}

/* GET /metrics. */
static enum MHD_Result web_metrics(struct MHD_Connection *conn)
{
    char *text = gw_stats_prometheus();

    if (text == NULL)
        return web_status(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "500 out of memory\n", NULL);
    return web_reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                     text, strlen(text), MHD_RESPMEM_MUST_FREE, NULL, "no-store", NULL);
}

static const web_asset_t *web_asset_find(const char *url)
{
    for (size_t i = 0; i < sizeof web_assets / sizeof web_assets[0]; i++)
        if (strcmp(url, web_assets[i].path) == 0)
            return &web_assets[i];
    return NULL;
}

/* libmicrohttpd's access handler: dispatch on the path. */
static enum MHD_Result web_on_request(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version, const char *upload_data,
                                      size_t *upload_data_size, void **con_cls)
{
    const web_asset_t *asset;
    int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                 strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

    (void)cls;
    (void)version;
    if (strcmp(url, "/mi") == 0)
        return web_mi(conn, WEB_ROUTE_MI, method, upload_data, upload_data_size, con_cls);
    if (strcmp(url, "/login") == 0)
        return web_mi(conn, WEB_ROUTE_LOGIN, method, upload_data, upload_data_size, con_cls);
    if (strcmp(url, "/logout") == 0)
        return web_mi(conn, WEB_ROUTE_LOGOUT, method, upload_data, upload_data_size, con_cls);
    if (strcmp(url, "/api/v1/messages") == 0)
        return web_mi(conn, WEB_ROUTE_API_SEND, method, upload_data, upload_data_size, con_cls);
    if (strncmp(url, "/api/v1/messages/", 17) == 0 && url[17] != '\0' &&
        strchr(url + 17, '/') == NULL) {
        if (!is_get)
            return web_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed\n",
                              "GET, HEAD");
        return web_api_get(conn, url + 17);
    }
    if (strcmp(url, "/cgi-bin/sendsms") == 0) {
        /* a GET sends (Kannel's design); a HEAD must not */
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_POST) != 0)
            return web_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed\n",
                              "GET, POST");
        if (is_get)
            return web_kannel_sendsms(conn);
        return web_mi(conn, WEB_ROUTE_SENDSMS, method, upload_data, upload_data_size, con_cls);
    }
    if (strcmp(url, "/session") == 0) {
        if (!is_get)
            return web_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                              "405 method not allowed\n", "GET, HEAD");
        return web_auth_session(conn);
    }
    if (strcmp(url, "/metrics") == 0) {
        gw_mi_caller_t caller;
        const char *why = NULL;
        unsigned refused;
        if (!is_get)
            return web_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                              "405 method not allowed\n", "GET, HEAD");
        refused = web_auth_caller(conn, &caller, &why);
        if (refused != 0) {
            const char *hdrs[] = { MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"junction\"",
                                   NULL };
            return web_reply(conn, refused, "text/plain; charset=utf-8", (void *)why,
                             strlen(why), MHD_RESPMEM_PERSISTENT, NULL, "no-store", hdrs);
        }
        return web_metrics(conn);
    }
    asset = web_asset_find(url);
    if (asset == NULL)
        return web_status(conn, MHD_HTTP_NOT_FOUND, "404 not found\n", NULL);
    if (!is_get)
        return web_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "405 method not allowed\n", "GET, HEAD");
    return web_reply(conn, MHD_HTTP_OK, asset->ctype, (void *)asset->data,
                     (size_t)(asset->end - asset->data), MHD_RESPMEM_PERSISTENT, NULL,
                     "no-cache", NULL);
}

/* Frees a POST /mi body however the request ended. */
static void web_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    web_req_t *req = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (req != NULL) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's own messages go to our log at debug level instead of
 * stderr. */
static void web_on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    (void)cls;
    if (!gw_log_enabled("web", GW_LOG_DEBUG))
        return;
    vsnprintf(line, sizeof line, fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    gw_log_write("web", GW_LOG_DEBUG, "libmicrohttpd: %s", line);
}

/* Start one daemon of the pool design above on listen:port, over TLS with
 * the pair web_tls_load read when tls.  Returns 0 with *out set,
 * GW_EINVAL for a bad address, GW_ERROR when it did not start (logged). */
static int web_daemon_start(struct MHD_Daemon **out, const char *listen, int port, int tls)
{
    static const struct MHD_OptionItem plain[] = { { MHD_OPTION_END, 0, NULL } };
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    const char *what = tls ? "HTTPS" : "HTTP", *param = tls ? "http.tls_listen" : "http.listen";
    char reason[256];

    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, listen, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((unsigned short)port);
    } else if (inet_pton(AF_INET6, listen, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((unsigned short)port);
        flags |= MHD_USE_IPv6;
    } else {
        GW_ERR("web", "%s '%s' is not a numeric IPv4 or IPv6 address", param, listen);
        return GW_EINVAL;
    }
    if (tls)
        flags |= MHD_USE_TLS;
    errno = 0;
    *out = MHD_start_daemon(
        flags, 0, NULL, NULL, web_on_request, NULL,
        /* first, or MHD warns */
        MHD_OPTION_EXTERNAL_LOGGER, tls ? web_tls_on_mhd_log : web_on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)web_threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_CONN_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_CONN_TIMEOUT_S,
        MHD_OPTION_NOTIFY_COMPLETED, web_on_completed, NULL,
        MHD_OPTION_ARRAY, tls ? web_tls_options() : plain,
        MHD_OPTION_END);
    if (*out == NULL && tls && errno == 0) {
        /* not the socket: GnuTLS's word on the pair, only through the logger */
        web_tls_start_reason(reason, sizeof reason, "libmicrohttpd refused to start");
        GW_ERR("web", "cannot serve HTTPS on %s port %d with http.tls_cert '%s' and "
               "http.tls_key '%s': %s", listen, port, web_tls_cert, web_tls_key, reason);
        return GW_ERROR;
    }
    if (*out == NULL) {
        GW_ERR("web", "cannot serve %s on %s port %d: %s", what, listen, port,
               errno ? strerror(errno) : "libmicrohttpd refused to start");
        return GW_ERROR;
    }
    GW_INFO("web", "%s on %s port %d (POST /mi, GET /metrics, web UI)", what, listen, port);
    return GW_OK;
}

int web_start(void)
{
    int rc;

    if (!web_enabled)
        GW_INFO("web", "http.enabled is off: no plain HTTP");
    else if ((rc = web_daemon_start(&web_daemon, web_listen, web_port, 0)) != 0)
        return rc;
    if (web_tls_port == 0)
        return GW_OK;
    rc = web_tls_load(web_tls_cert, web_tls_key, web_tls_port);
    if (rc == 0)
        rc = web_daemon_start(&web_tls_daemon, web_tls_listen[0] ? web_tls_listen : web_listen,
                              web_tls_port, 1);
    if (rc != 0)
        web_stop();
    return rc;
}

void web_stop(void)
{
    if (web_daemon != NULL) {
        MHD_stop_daemon(web_daemon);
        web_daemon = NULL;
        GW_INFO("web", "HTTP stopped");
    }
    if (web_tls_daemon != NULL) {
        MHD_stop_daemon(web_tls_daemon);
        web_tls_daemon = NULL;
        GW_INFO("web", "HTTPS stopped");
    }
    web_tls_unload(); /* after its daemon: libmicrohttpd points at the pair */
}
