/*
 * web_auth.c - logins and credentials on the HTTP server.
 *
 *   POST /login   {"user", "password"} -> 200 {user, role, must_change,
 *                 csrf} and the cookie junction_session (HttpOnly,
 *                 SameSite=Strict, Path=/, Max-Age auth.session_max_s,
 *                 Secure on HTTPS); 401 {"error"} for a wrong name or
 *                 password; 429 with Retry-After while backing off.  The
 *                 password is checked here, on the pool thread (argon2id,
 *                 tens of ms), never on an event loop.
 *   POST /logout  ends the session of the cookie; 204 and the cookie
 *                 cleared.
 *   GET  /session 200 {user, role, must_change, csrf} for the cookie's
 *                 live session, else 401: how the page learns whether it
 *                 is logged in and its CSRF token after a reload.
 *
 * Credentials of any other request (web_auth_caller): Authorization:
 * Bearer <token> (API tokens, gw_auth_token), else the session cookie,
 * which must come with X-CSRF-Token equal to the session's token: a page
 * of another site can make the browser send the cookie (SameSite=Strict
 * already stops that in current browsers) but cannot read the token.
 *
 * Threads: libmicrohttpd's pool threads.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_auth.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "webui/web_int.h"

#define WEB_AUTH_COOKIE "junction_session"

void web_auth_addr(struct MHD_Connection *conn, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

    snprintf(out, len, "?");
    if (sa != NULL && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    else if (sa != NULL && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len);
}

static char *web_auth_info_json(const gw_auth_info_t *info)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:s}", "user", info->user, "role",
                          gw_role_name(info->role), "must_change", info->must_change, "csrf",
                          info->csrf);
    char *t = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return t;
}

unsigned web_auth_caller(struct MHD_Connection *conn, gw_mi_caller_t *caller, const char **why)
{
    const char *authz, *sid, *csrf;
    gw_auth_info_t info;

    authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (authz != NULL) {
        if (strncasecmp(authz, "Bearer ", 7) != 0) {
            *why = "authentication required: Authorization takes Bearer <token>";
            return MHD_HTTP_UNAUTHORIZED;
        }
        if (gw_auth_token(authz + 7, caller) != 0) {
            *why = "authentication required: the token is unknown, revoked or expired";
            return MHD_HTTP_UNAUTHORIZED;
        }
        return 0;
    }
    sid = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, WEB_AUTH_COOKIE);
    if (sid == NULL) {
        *why = "authentication required: log in (POST /login) or send Authorization: Bearer "
               "<token>";
        return MHD_HTTP_UNAUTHORIZED;
    }
    if (gw_auth_session(sid, 1, caller, &info) != 0) {
        *why = "authentication required: the session has expired; log in again";
        return MHD_HTTP_UNAUTHORIZED;
    }
    csrf = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token");
    if (csrf == NULL || strlen(csrf) != GW_AUTH_CSRF_LEN ||
        sodium_memcmp(csrf, info.csrf, GW_AUTH_CSRF_LEN) != 0) {
        *why = "forbidden: a session request needs its X-CSRF-Token (from /login or /session)";
        return MHD_HTTP_FORBIDDEN;
    }
    return 0;
}

static char *web_auth_cookie(const char *sid, int tls, long max_age)
{
    char *c = NULL;

    if (asprintf(&c, WEB_AUTH_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s", sid,
                 max_age, tls ? "; Secure" : "") < 0)
        return NULL;
    return c;
}

enum MHD_Result web_auth_login(struct MHD_Connection *conn, const char *body, size_t len)
{
    json_t *req = json_loadb(body != NULL ? body : "", len, 0, NULL);
    const char *user = json_string_value(json_object_get(req, "user"));
    const char *pw = json_string_value(json_object_get(req, "password"));
    char addr[INET6_ADDRSTRLEN + 1], sid[GW_AUTH_SID_LEN + 1], wait[16], *text, *cookie;
    gw_auth_info_t info;
    int retry = 0, rc;
    enum MHD_Result r;

    if (user == NULL || pw == NULL) {
        json_decref(req);
        return web_json(conn, MHD_HTTP_BAD_REQUEST,
                        "{\"error\":\"send {\\\"user\\\": ..., \\\"password\\\": ...}\"}", NULL);
    }
    web_auth_addr(conn, addr, sizeof addr);
    rc = gw_auth_login(user, pw, addr, sid, &info, &retry);
    json_decref(req);
    if (rc == GW_EAGAIN) {
        const char *hdrs[] = { MHD_HTTP_HEADER_RETRY_AFTER, wait, NULL };
        snprintf(wait, sizeof wait, "%d", retry);
        return web_json(conn, MHD_HTTP_TOO_MANY_REQUESTS,
                        "{\"error\":\"too many failed logins: wait Retry-After seconds\"}", hdrs);
    }
    if (rc == GW_EINVAL)
        return web_json(conn, MHD_HTTP_UNAUTHORIZED, "{\"error\":\"wrong user name or password\"}",
                        NULL);
    if (rc != 0)
        return web_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                        "{\"error\":\"the user store failed\"}", NULL);
    text = web_auth_info_json(&info);
    cookie = web_auth_cookie(sid, web_conn_is_tls(conn), gw_auth_session_max_s());
    sodium_memzero(sid, sizeof sid);
    if (text == NULL || cookie == NULL) {
        free(text);
        free(cookie);
        return MHD_NO;
    }
    const char *hdrs[] = { MHD_HTTP_HEADER_SET_COOKIE, cookie, NULL };
    r = web_reply_hdrs(conn, MHD_HTTP_OK, "application/json", text, strlen(text),
                       MHD_RESPMEM_MUST_FREE, hdrs);
    free(cookie);
    return r;
}

enum MHD_Result web_auth_logout(struct MHD_Connection *conn)
{
    const char *sid = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, WEB_AUTH_COOKIE);
    const char *hdrs[] = { MHD_HTTP_HEADER_SET_COOKIE,
                           WEB_AUTH_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                           NULL };

    if (sid != NULL)
        gw_auth_logout(sid);
    return web_reply_hdrs(conn, MHD_HTTP_NO_CONTENT, "application/json", (void *)"", 0,
                          MHD_RESPMEM_PERSISTENT, hdrs);
}

enum MHD_Result web_auth_session(struct MHD_Connection *conn)
{
    const char *sid = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, WEB_AUTH_COOKIE);
    gw_auth_info_t info;
    char *text;

    if (sid == NULL || gw_auth_session(sid, 0, NULL, &info) != 0)
        return web_json(conn, MHD_HTTP_UNAUTHORIZED, "{\"error\":\"not logged in\"}", NULL);
    text = web_auth_info_json(&info);
    if (text == NULL)
        return MHD_NO;
    return web_reply_hdrs(conn, MHD_HTTP_OK, "application/json", text, strlen(text),
                          MHD_RESPMEM_MUST_FREE, NULL);
}
