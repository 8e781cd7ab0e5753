/*
 * web_api.c - the HTTP send API (docs/http-api.md, docs/openapi.json).
 *
 *   POST /api/v1/messages       {to: "…" | ["…", …], from, text, receipt?,
 *                               validity_s?, coding?, tags?, client_ref?,
 *                               callback_url?: the outcome POSTed there}
 *                               -> 202 {accepted: [{to, id}], refused:
 *                               [{to, status, error}]} once every accepted
 *                               one is committed; 4xx {error} when none is
 *   GET  /api/v1/messages/{id}  -> 200 the message's state, 404 when it is
 *                               not the caller's (or does not exist)
 *   GET  /cgi-bin/sendsms       Kannel's sendsms: username, password, to,
 *                               text, from, dlr-mask, dlr-url -> 202 "0: Accepted
 *                               for delivery", 403 "Authorization failed
 *                               for sendsms", 400 with Kannel's words
 *
 * Every message goes through the MI method messages.inject as the caller
 * (gw_mi_call_as): the same validation, routing, role check (operator)
 * and commit-before-answer as every other surface, and the envelope's
 * sender is "mi:token:<name>" (or the user of Kannel's username), which is
 * how each token sees only its own messages.  The API takes Bearer
 * tokens only, never the web UI's cookie, so no page of another site can
 * send with an admin's session (and the MI's Host check, which is about
 * browsers, does not apply).
 *
 * Threads: libmicrohttpd's pool threads (a sendsms password check hashes
 * there, as /login does).
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_auth.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_report_http.h"
#include "webui/web_int.h"

#define WEB_API_TO_MAX 100 /* recipients in one POST */

/* The members POST /api/v1/messages knows (anything else is a 400). */
static const char *const web_api_members[] = {
    "to", "from", "text", "receipt", "validity_s", "coding", "tags", "client_ref",
    "callback_url", NULL,
};

/* An HTTP status for a JSON-RPC error code of messages.inject. */
static unsigned web_api_status(int code)
{
    switch (code) {
    case GW_MI_INVALID_PARAMS:
        return MHD_HTTP_BAD_REQUEST;
    case GW_MI_NOT_FOUND:
        return MHD_HTTP_UNPROCESSABLE_CONTENT; /* no route for the number */
    case GW_MI_REJECTED:
    case GW_MI_FORBIDDEN:
        return MHD_HTTP_FORBIDDEN;
    case GW_MI_BUSY:
        return MHD_HTTP_TOO_MANY_REQUESTS;
    case GW_MI_UNAUTHORIZED:
        return MHD_HTTP_UNAUTHORIZED;
    default:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
}

/* o as the JSON body with status (o stolen; hdrs as web_reply_hdrs). */
static enum MHD_Result web_api_json(struct MHD_Connection *conn, unsigned status, json_t *o,
                                    const char *const *hdrs)
{
    char *t = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    if (t == NULL)
        return MHD_NO;
    return web_reply_hdrs(conn, status, "application/json", t, strlen(t), MHD_RESPMEM_MUST_FREE,
                          hdrs);
}

/* {"error": text} with status; 429 carries Retry-After. */
static enum MHD_Result web_api_error(struct MHD_Connection *conn, unsigned status,
                                     const char *text, json_t *extra)
{
    json_t *o = json_pack("{s:s}", "error", text);
    const char *hdrs[] = { MHD_HTTP_HEADER_RETRY_AFTER, "1", NULL };

    if (o != NULL && extra != NULL)
        json_object_update(o, extra);
    json_decref(extra);
    return web_api_json(conn, status, o, status == MHD_HTTP_TOO_MANY_REQUESTS ? hdrs : NULL);
}

/* The caller of an API request: a Bearer token only.  0 or the status. */
static unsigned web_api_caller(struct MHD_Connection *conn, gw_mi_caller_t *caller,
                               const char **why)
{
    const char *authz =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

    if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0) {
        *why = "authentication required: send Authorization: Bearer <token> (tokens.create)";
        return MHD_HTTP_UNAUTHORIZED;
    }
    return web_auth_caller(conn, caller, why);
}

/* messages.inject params for one recipient of req (new reference).  A
 * callback_url asks for a receipt unless receipt is false. */
static json_t *web_api_inject_params(const json_t *req, const char *to)
{
    const json_t *rcpt = json_object_get(req, "receipt");
    int rd = json_is_true(rcpt) || (rcpt == NULL && json_object_get(req, "callback_url"));
    json_t *p = json_pack("{s:O, s:s, s:O, s:i}", "from", json_object_get(req, "from"), "to", to,
                          "body", json_object_get(req, "text"), "registered_delivery", rd);
    static const char *const pass[] = { "validity_s", "coding", "tags", "client_ref",
                                        "callback_url", NULL };

    for (int i = 0; p != NULL && pass[i] != NULL; i++)
        if (json_object_get(req, pass[i]) != NULL)
            json_object_set(p, pass[i], json_object_get(req, pass[i]));
    return p;
}

/* Check the shape of a send request; NULL when fine, else the reason. */
static const char *web_api_check(const json_t *req, char *buf, size_t len)
{
    const char *key;
    json_t *v, *to = json_object_get(req, "to");
    size_t i;

    if (!json_is_object(req))
        return "the body must be a JSON object";
    json_object_foreach((json_t *)req, key, v) {
        int known = 0;
        for (i = 0; web_api_members[i] != NULL; i++)
            known |= strcmp(key, web_api_members[i]) == 0;
        if (!known) {
            snprintf(buf, len, "unknown member \"%.64s\" (docs/openapi.json lists them)", key);
            return buf;
        }
    }
    if (!json_is_string(json_object_get(req, "from")))
        return "from must be a string";
    if (!json_is_string(json_object_get(req, "text")))
        return "text must be a string";
    if (json_is_string(to))
        return NULL;
    if (!json_is_array(to) || json_array_size(to) == 0 || json_array_size(to) > WEB_API_TO_MAX)
        return "to must be a string or an array of 1 to 100 strings";
    json_array_foreach(to, i, v)
        if (!json_is_string(v))
            return "to must be a string or an array of 1 to 100 strings";
    if ((v = json_object_get(req, "receipt")) != NULL && !json_is_boolean(v))
        return "receipt must be true or false";
    if ((v = json_object_get(req, "callback_url")) != NULL &&
        (!json_is_string(v) || gw_report_http_url_check(json_string_value(v), buf, len) != 0))
        return json_is_string(v) ? buf : "callback_url must be a string";
    return NULL;
}

enum MHD_Result web_api_send(struct MHD_Connection *conn, const char *body, size_t len)
{
    gw_mi_caller_t caller;
    const char *why = NULL, *bad;
    json_t *req, *to, *accepted, *refused, *first_err = NULL, *one;
    unsigned refused_status, first_status = 0, st;
    char buf[160];
    size_t i, n;

    refused_status = web_api_caller(conn, &caller, &why);
    if (refused_status != 0)
        return web_api_error(conn, refused_status, why, NULL);
    req = json_loadb(body != NULL ? body : "", len, 0, NULL);
    if (req == NULL)
        return web_api_error(conn, MHD_HTTP_BAD_REQUEST, "the body is not JSON", NULL);
    if ((bad = web_api_check(req, buf, sizeof buf)) != NULL) {
        json_decref(req);
        return web_api_error(conn, MHD_HTTP_BAD_REQUEST, bad, NULL);
    }
    to = json_object_get(req, "to");
    n = json_is_string(to) ? 1 : json_array_size(to);
    accepted = json_array();
    refused = json_array();
    for (i = 0; i < n; i++) {
        const char *dst = json_string_value(json_is_string(to) ? to : json_array_get(to, i));
        json_t *params = web_api_inject_params(req, dst);
        json_t *resp = params != NULL ? gw_mi_call_as("messages.inject", params, &caller, &st)
                                      : NULL;
        json_t *res = json_object_get(resp, "result"), *err = json_object_get(resp, "error");

        json_decref(params);
        if (res != NULL) {
            json_array_append_new(accepted, json_pack("{s:s, s:O}", "to", dst, "id",
                                                      json_object_get(res, "id")));
        } else {
            int code = err ? (int)json_integer_value(json_object_get(err, "code"))
                           : GW_MI_INTERNAL_ERROR;
            const char *msg = err ? json_string_value(json_object_get(err, "message"))
                                  : "out of memory";
            st = web_api_status(code);
            one = json_pack("{s:s, s:i, s:s}", "to", dst, "status", (int)st, "error",
                            msg ? msg : "");
            if (first_err == NULL) {
                first_err = json_incref(one);
                first_status = st;
            }
            json_array_append_new(refused, one);
        }
        json_decref(resp);
    }
    json_decref(req);
    if (json_array_size(accepted) == 0) {
        enum MHD_Result r = web_api_error(
            conn, first_status ? first_status : MHD_HTTP_SERVICE_UNAVAILABLE,
            json_string_value(json_object_get(first_err, "error")),
            json_pack("{s:o}", "refused", refused));
        json_decref(first_err);
        json_decref(accepted);
        return r;
    }
    json_decref(first_err);
    return web_api_json(conn, MHD_HTTP_ACCEPTED,
                        json_pack("{s:o, s:o}", "accepted", accepted, "refused", refused), NULL);
}

/* Whether the message m was sent by caller (admins see every message). */
static int web_api_owns(const json_t *m, const gw_mi_caller_t *caller)
{
    const char *sender = json_string_value(
        json_object_get(json_object_get(json_object_get(m, "envelope"), "tags"), "sender"));
    char want[sizeof caller->who + 4];

    if (caller->role >= GW_ROLE_ADMIN)
        return 1;
    snprintf(want, sizeof want, "mi:%s", caller->who);
    return sender != NULL && strcmp(sender, want) == 0;
}

/* The message's events as [{ts, type}] (new reference): what its state
 * changes published (messages.get "events"; none while no event sink
 * listens, docs/http-api.md). */
static json_t *web_api_history(const json_t *events)
{
    json_t *h = json_array(), *e;
    size_t i;

    json_array_foreach(events, i, e)
        json_array_append_new(h, json_pack("{s:O, s:O}", "ts", json_object_get(e, "ts"), "type",
                                           json_object_get(e, "type")));
    return h;
}

enum MHD_Result web_api_get(struct MHD_Connection *conn, const char *id)
{
    gw_mi_caller_t caller;
    const char *why = NULL;
    json_t *params, *resp, *m, *env, *out;
    unsigned st;

    st = web_api_caller(conn, &caller, &why);
    if (st != 0)
        return web_api_error(conn, st, why, NULL);
    params = json_pack("{s:s}", "id", id);
    resp = params != NULL ? gw_mi_call_as("messages.get", params, &caller, &st) : NULL;
    json_decref(params);
    m = json_object_get(resp, "result");
    if (m == NULL || !web_api_owns(m, &caller)) {
        json_t *err = json_object_get(resp, "error");
        int code = err ? (int)json_integer_value(json_object_get(err, "code")) : GW_MI_NOT_FOUND;
        json_decref(resp);
        if (code == GW_MI_FORBIDDEN)
            return web_api_error(conn, MHD_HTTP_FORBIDDEN, "forbidden: needs the viewer role",
                                 NULL);
        return web_api_error(conn, MHD_HTTP_NOT_FOUND, "no message with that id of yours", NULL);
    }
    env = json_object_get(m, "envelope");
    out = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "id",
                    json_object_get(m, "id"), "status", json_object_get(m, "status"), "from",
                    json_object_get(m, "from"), "to", json_object_get(m, "to"), "target",
                    json_object_get(m, "target"), "attempts", json_object_get(m, "attempts"),
                    "remote_id", json_object_get(m, "remote_id"), "reason",
                    json_object_get(m, "reason_text"), "created_at",
                    json_object_get(m, "created_at"), "updated_at",
                    json_object_get(m, "updated_at"), "expires_at",
                    json_object_get(m, "expires_at"));
    if (out != NULL) {
        json_t *tags = json_object_get(env, "tags");
        json_object_set(out, "tags", tags != NULL ? tags : json_object());
        json_object_set(out, "client_ref",
                        json_object_get(tags, "client_ref") ? json_object_get(tags, "client_ref")
                                                            : json_null());
        json_object_set_new(out, "history", web_api_history(json_object_get(m, "events")));
    }
    json_decref(resp);
    return web_api_json(conn, MHD_HTTP_OK, out, NULL);
}

/* ---- Kannel's sendsms -------------------------------------------------- */

static enum MHD_Result web_api_kannel(struct MHD_Connection *conn, unsigned status,
                                      const char *text)
{
    return web_reply_hdrs(conn, status, "text/plain; charset=utf-8", (void *)text, strlen(text),
                          MHD_RESPMEM_PERSISTENT, NULL);
}

enum MHD_Result web_api_sendsms(struct MHD_Connection *conn)
{
#define WEB_API_ARG(name) MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name)
    const char *user = WEB_API_ARG("username"), *pw = WEB_API_ARG("password");
    const char *to = WEB_API_ARG("to"), *text = WEB_API_ARG("text");
    const char *from = WEB_API_ARG("from"), *dlr = WEB_API_ARG("dlr-mask");
    const char *dlr_url = WEB_API_ARG("dlr-url");
#undef WEB_API_ARG
    int mask = dlr != NULL ? atoi(dlr) & 0x1F : 0;
    char why[128];
    gw_mi_caller_t caller;
    char addr[INET6_ADDRSTRLEN + 1];
    json_t *params, *resp, *err;
    int retry = 0, rc, code;
    unsigned st;

    web_auth_addr(conn, addr, sizeof addr);
    if (user == NULL || pw == NULL)
        return web_api_kannel(conn, MHD_HTTP_FORBIDDEN, "Authorization failed for sendsms");
    rc = gw_auth_password(user, pw, addr, &caller, &retry);
    if (rc == GW_EAGAIN)
        return web_api_kannel(conn, MHD_HTTP_TOO_MANY_REQUESTS,
                              "Too many failed logins: try again later");
    if (rc != 0 || caller.must_change)
        return web_api_kannel(conn, MHD_HTTP_FORBIDDEN, "Authorization failed for sendsms");
    if (to == NULL || to[0] == '\0')
        return web_api_kannel(conn, MHD_HTTP_BAD_REQUEST, "Missing receiver number");
    if (text == NULL)
        return web_api_kannel(conn, MHD_HTTP_BAD_REQUEST, "Missing text");
    if (dlr_url != NULL && mask != 0 && gw_report_http_url_check(dlr_url, why, sizeof why) != 0)
        return web_api_kannel(conn, MHD_HTTP_BAD_REQUEST, "Invalid dlr-url");
    /* Kannel's dlr-mask asks for a receipt with any of its final bits (1, 2) */
    params = json_pack("{s:s, s:s, s:s, s:i}", "from", from != NULL ? from : "", "to", to, "body",
                       text, "registered_delivery", (mask & 3) != 0 ? 1 : 0);
    /* dlr-url: Kannel's escapes, GET, for the outcomes of dlr-mask (gw_report_http.h) */
    if (params != NULL && dlr_url != NULL && mask != 0)
        json_object_update_new(params, json_pack("{s:s, s:s, s:i}", "callback_url", dlr_url,
                                                 "callback_form", "kannel", "callback_mask",
                                                 mask));
    resp = params != NULL ? gw_mi_call_as("messages.inject", params, &caller, &st) : NULL;
    json_decref(params);
    if (resp != NULL && json_object_get(resp, "result") != NULL) {
        json_decref(resp);
        return web_api_kannel(conn, MHD_HTTP_ACCEPTED, "0: Accepted for delivery");
    }
    err = json_object_get(resp, "error");
    code = err ? (int)json_integer_value(json_object_get(err, "code")) : GW_MI_INTERNAL_ERROR;
    json_decref(resp);
    if (code == GW_MI_FORBIDDEN)
        return web_api_kannel(conn, MHD_HTTP_FORBIDDEN, "Authorization failed for sendsms");
    if (code == GW_MI_BUSY)
        return web_api_kannel(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                              "Sending failed: try again later");
    if (code == GW_MI_INVALID_PARAMS)
        return web_api_kannel(conn, MHD_HTTP_BAD_REQUEST, "Invalid receiver or sender number");
    return web_api_kannel(conn, MHD_HTTP_FORBIDDEN, "Sending failed: no route or refused");
}
