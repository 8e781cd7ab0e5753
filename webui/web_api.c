/*
 * web_api.c - the HTTP send API (docs/http-api.md, docs/openapi.json).
 *
 *   POST /api/v1/messages       {to: "…" | ["…", …], from, text | binary
 *                               (+ encoding?, udh?, data_coding?), receipt?,
 *                               validity_s?, coding?, tags?, client_ref?,
 *                               callback_url?: the outcome POSTed there}
 *                               -> 202 {accepted: [{to, id}], refused:
 *                               [{to, status, error}]} once every accepted
 *                               one is committed; 4xx {error} when none is
 *   GET  /api/v1/messages/{id}  -> 200 the message's state, 404 when it is
 *                               not the caller's (or does not exist)
 * (Kannel's /cgi-bin/sendsms is web_kannel.c's.)
 *
 * Every message goes through the MI method messages.inject as the caller
 * (gw_mi_call_as): the same validation, routing, role check (operator)
 * and commit-before-answer as every other surface, and the envelope's
 * sender is "mi:token:<name>", which is
 * how each token sees only its own messages.  The API takes Bearer
 * tokens only, never the web UI's cookie, so no page of another site can
 * send with an admin's session (and the MI's Host check, which is about
 * browsers, does not apply).
 *
 * Threads: libmicrohttpd's pool threads.
 */
#include <jansson.h>
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
    "binary", "encoding", "udh", "data_coding", /* a binary body instead of text */
    "callback_url",
    NULL,
};

/* The JSON kind of the optional members whose kind messages.inject would
 * not check itself (it reads a string or number it does not find as
 * absent); JSON_TRUE stands for a boolean. */
static const struct {
    const char *name;
    json_type type;
    const char *what;
} web_api_kinds[] = {
    { "receipt", JSON_TRUE, "true or false" },
    { "validity_s", JSON_INTEGER, "an integer" },
    { "coding", JSON_STRING, "a string" },
    { "tags", JSON_OBJECT, "an object of strings" },
    { "client_ref", JSON_STRING, "a string" },
    { "binary", JSON_STRING, "a string" },
    { "encoding", JSON_STRING, "a string" },
    { "udh", JSON_STRING, "a string" },
    { "data_coding", JSON_INTEGER, "an integer" },
    { NULL, JSON_NULL, NULL },
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

/* messages.inject params for one recipient of req (new reference). */
static json_t *web_api_inject_params(const json_t *req, const char *to)
{
    /* a callback_url asks for a receipt unless receipt is false */
    const json_t *rcpt = json_object_get(req, "receipt");
    int rd = json_is_true(rcpt) || (rcpt == NULL && json_object_get(req, "callback_url"));
    json_t *p = json_pack("{s:O, s:s, s:i}", "from", json_object_get(req, "from"), "to", to,
                          "registered_delivery", rd);
    static const char *const pass[] = { "validity_s", "coding", "tags", "client_ref",
                                        "callback_url", NULL };
    static const char *const pass_binary[] = { "binary", "encoding", "udh", "data_coding", NULL };

    for (int i = 0; p != NULL && pass[i] != NULL; i++)
        if (json_object_get(req, pass[i]) != NULL)
            json_object_set(p, pass[i], json_object_get(req, pass[i]));
    /* the content: text as messages.inject's body, or a binary body */
    if (p != NULL && json_object_get(req, "text") != NULL)
        json_object_set(p, "body", json_object_get(req, "text"));
    for (int i = 0; p != NULL && pass_binary[i] != NULL; i++)
        if (json_object_get(req, pass_binary[i]) != NULL)
            json_object_set(p, pass_binary[i], json_object_get(req, pass_binary[i]));
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
    for (i = 0; web_api_kinds[i].name != NULL; i++) {
        v = json_object_get(req, web_api_kinds[i].name);
        if (v != NULL && json_typeof(v) != web_api_kinds[i].type &&
            !(web_api_kinds[i].type == JSON_TRUE && json_is_boolean(v))) {
            snprintf(buf, len, "%s must be %s", web_api_kinds[i].name, web_api_kinds[i].what);
            return buf;
        }
    }
    if (!json_is_string(json_object_get(req, "from")))
        return "from must be a string";
    if ((json_object_get(req, "text") == NULL) == (json_object_get(req, "binary") == NULL))
        return "give exactly one of text and binary";
    if (json_object_get(req, "text") != NULL && !json_is_string(json_object_get(req, "text")))
        return "text must be a string";
    if ((v = json_object_get(req, "callback_url")) != NULL &&
        (!json_is_string(v) || gw_report_http_url_check(json_string_value(v), buf, len) != 0))
        return json_is_string(v) ? buf : "callback_url must be a string";
    if (json_is_string(to))
        return NULL;
    if (!json_is_array(to) || json_array_size(to) == 0 || json_array_size(to) > WEB_API_TO_MAX)
        return "to must be a string or an array of 1 to 100 strings";
    json_array_foreach(to, i, v)
        if (!json_is_string(v))
            return "to must be a string or an array of 1 to 100 strings";
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
