/*
 * web_int.h - what the files of webui/'s HTTP server share.
 *
 *   web_http.c  the daemon, routing by path, the body of a POST, /mi,
 *               /metrics, the embedded assets
 *   web_auth.c  /login, /logout, /session and who a request comes from
 *               (a session cookie with its CSRF token, or a Bearer token)
 *   web_api.c   the HTTP send API
 *   web_kannel.c  Kannel's sendsms
 *
 * Threads: libmicrohttpd's pool threads.
 */
#ifndef WEB_INT_H
#define WEB_INT_H

#include <microhttpd.h>
#include <stddef.h>

#include "gw_mi.h"
#include "webui/web.h"

/* Queue a response with the headers every reply carries, plus hdrs (NULL
 * or name, value, ..., NULL).  mode tells who owns buf
 * (MHD_RESPMEM_MUST_FREE: libmicrohttpd frees it, also on failure). */
enum MHD_Result web_reply_hdrs(struct MHD_Connection *conn, unsigned status, const char *ctype,
                               void *buf, size_t len, enum MHD_ResponseMemoryMode mode,
                               const char *const *hdrs);

/* A JSON body (the text is copied) with status. */
enum MHD_Result web_json(struct MHD_Connection *conn, unsigned status, const char *text,
                         const char *const *hdrs);

/* A JSON-RPC error reply (id null) with an HTTP status: 401 / 403 on /mi. */
enum MHD_Result web_rpc_error(struct MHD_Connection *conn, unsigned status, int code,
                              const char *message);

/* Who the request comes from.  0 with *caller filled, or the HTTP status
 * to refuse with (401: no or bad credentials, 403: a session without its
 * CSRF token) and *why set to a static text. */
unsigned web_auth_caller(struct MHD_Connection *conn, gw_mi_caller_t *caller, const char **why);

/* The client's address as text (the login backoff's key). */
void web_auth_addr(struct MHD_Connection *conn, char *out, size_t len);

/* POST /login with its whole body; POST /logout; GET /session. */
enum MHD_Result web_auth_login(struct MHD_Connection *conn, const char *body, size_t len);
enum MHD_Result web_auth_logout(struct MHD_Connection *conn);
enum MHD_Result web_auth_session(struct MHD_Connection *conn);

/* The send API (web_api.c): POST /api/v1/messages with its whole body,
 * GET /api/v1/messages/{id}. */
enum MHD_Result web_api_send(struct MHD_Connection *conn, const char *body, size_t len);
enum MHD_Result web_api_get(struct MHD_Connection *conn, const char *id);

/* Kannel's sendsms (web_kannel.c): GET /cgi-bin/sendsms, and POST with its
 * whole body (a form, or the text with X-Kannel-* headers). */
enum MHD_Result web_kannel_sendsms(struct MHD_Connection *conn);
enum MHD_Result web_kannel_sendsms_post(struct MHD_Connection *conn, const char *body, size_t len);

/* web_conn_is_tls (web.h, web_tls.c): the cookie's Secure flag. */

#endif
