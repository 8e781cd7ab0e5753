/*
 * gw_mi.c - JSON-RPC 2.0 dispatch over the registered command tables.
 *
 * gw_mi_handle_text() parses a request (or a batch), checks the JSON-RPC
 * envelope, finds the handler and runs it with a gw_mi_reply_t that
 * collects exactly one result or error; the reply object is then encoded.
 * Handlers never see JSON-RPC framing and never print JSON themselves.
 *
 * Access: every call carries a gw_mi_caller_t (the system itself for
 * gw_mi_handle_text and gw_mi_call).  Before a handler runs, its role is
 * checked against the method's (an undeclared role is admin), and a
 * session that must change its password may call users.passwd only.  A
 * method above viewer that is not GW_MI_F_NOAUDIT is audited: its object
 * is snapshotted before and after the handler, under the same lock, and
 * written to the audit log with the caller (gw_audit.c) when it succeeded.
 *
 * Threads: any caller; handlers run one at a time under gw_mi_lock, except
 * GW_MI_F_UNLOCKED ones.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_audit.h"
#include "gw_mi.h"

#define GW_MI_TABLES_MAX 32

struct gw_mi_reply {
    const gw_mi_caller_t *caller;
    json_t *result;  /* owned */
    int code;        /* 0 when result is set */
    char message[512];
    json_t *data;    /* owned: the error's data member, or NULL */
    int done;
};

static const gw_mi_cmd_t *gw_mi_tables[GW_MI_TABLES_MAX];
static int gw_mi_ntables;
static pthread_mutex_t gw_mi_lock = PTHREAD_MUTEX_INITIALIZER; /* serialises handlers */

/* Cut s back to whole UTF-8 characters: a message truncated by snprintf
 * may end inside one, and jansson refuses invalid UTF-8. */
static void gw_mi_utf8_trim(char *s)
{
    size_t n = strlen(s), start = n, need;
    unsigned char c;

    while (start > 0 && ((unsigned char)s[start - 1] & 0xC0) == 0x80 && n - start < 3)
        start--;
    if (start == 0)
        return;
    c = (unsigned char)s[start - 1];
    need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (need > 1 && n - (start - 1) < need)
        s[start - 1] = '\0';
}

/* The process itself: SIGHUP, start-up, tests. */
static const gw_mi_caller_t gw_mi_system_caller = {
    .who = "system", .user = "", .via = "internal", .role = GW_ROLE_ADMIN, .must_change = 0,
};

const gw_mi_caller_t *gw_mi_caller(const gw_mi_reply_t *r)
{
    return r->caller;
}

const gw_mi_cmd_t *gw_mi_find(const char *name)
{
    const gw_mi_cmd_t *c;
    int i;

    for (i = 0; i < gw_mi_ntables; i++)
        for (c = gw_mi_tables[i]; c->name; c++)
            if (strcmp(c->name, name) == 0)
                return c;
    return NULL;
}

int gw_mi_register(const gw_mi_cmd_t *table)
{
    const gw_mi_cmd_t *c;

    if (gw_mi_ntables == GW_MI_TABLES_MAX)
        return GW_EFULL;
    for (c = table; c->name; c++)
        if (gw_mi_find(c->name)) {
            GW_ERR("mi", "command %s registered twice", c->name);
            return GW_EEXIST;
        }
    gw_mi_tables[gw_mi_ntables++] = table;
    return GW_OK;
}

void gw_mi_result(gw_mi_reply_t *r, json_t *result)
{
    if (r->done) {
        json_decref(result);
        return;
    }
    if (result == NULL) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory building the result");
        return;
    }
    r->result = result;
    r->done = 1;
}

void gw_mi_error(gw_mi_reply_t *r, int code, const char *fmt, ...)
{
    va_list ap;

    if (r->done)
        return;
    r->code = code;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    gw_mi_utf8_trim(r->message);
    r->done = 1;
}

void gw_mi_error_data(gw_mi_reply_t *r, int code, json_t *data, const char *fmt, ...)
{
    va_list ap;

    if (r->done) {
        json_decref(data);
        return;
    }
    r->code = code;
    r->data = data;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    gw_mi_utf8_trim(r->message);
    r->done = 1;
}

/* A number where text is expected is taken as its decimal text: "44" and
 * 44 are the same prefix to an operator, and junctionctl sends 44 as a
 * number.  The request object belongs to the MI while the handler runs, so
 * the member is replaced by its text in place. */
static json_t *gw_mi_text_member(const json_t *params, const char *key)
{
    json_t *v = json_object_get(params, key);
    char buf[32];

    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        json_object_set_new((json_t *)params, key, json_string(buf));
        v = json_object_get(params, key);
    }
    return v;
}

const char *gw_mi_str(const json_t *params, const char *key, gw_mi_reply_t *r)
{
    json_t *v = gw_mi_text_member(params, key);

    if (!json_is_string(v) || json_string_length(v) == 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "param \"%s\" (a non-empty string) is required", key);
        return NULL;
    }
    return json_string_value(v);
}

const char *gw_mi_opt_str(const json_t *params, const char *key, const char *def)
{
    json_t *v = gw_mi_text_member(params, key);

    return json_is_string(v) ? json_string_value(v) : def;
}

long long gw_mi_opt_int(const json_t *params, const char *key, long long def)
{
    json_t *v = json_object_get(params, key);

    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_true(v))
        return 1;
    if (json_is_false(v))
        return 0;
    return def;
}

/* Every request with an id gets an answer, even when the text of the
 * error cannot be encoded. */
static json_t *gw_mi_error_obj(json_t *id, int code, const char *message)
{
    json_t *o = json_pack("{s:s, s:{s:i, s:s}, s:O}", "jsonrpc", "2.0", "error", "code", code,
                          "message", message, "id", id ? id : json_null());

    if (o == NULL)
        o = json_pack("{s:s, s:{s:i, s:s}, s:O}", "jsonrpc", "2.0", "error", "code", code,
                      "message", "(the error text could not be encoded)", "id",
                      id ? id : json_null());
    return o;
}

/* One request object -> one response object (new reference), or NULL for a
 * notification. */
json_t *gw_mi_run_locked(const gw_mi_cmd_t *cmd, const json_t *params)
{
    gw_mi_reply_t reply = { .caller = &gw_mi_system_caller };

    cmd->fn(params, &reply);
    json_decref(reply.data);
    return reply.result;
}

/* May caller call cmd?  0, or the JSON-RPC error written into reply. */
static int gw_mi_allowed(const gw_mi_cmd_t *cmd, const gw_mi_caller_t *caller,
                         gw_mi_reply_t *reply)
{
    int need = cmd->role ? cmd->role : GW_ROLE_ADMIN;

    if (caller->must_change && strcmp(cmd->name, "users.passwd") != 0) {
        gw_mi_error(reply, GW_MI_FORBIDDEN,
                    "password change required: call users.passwd with old_password and "
                    "password before anything else");
        return -1;
    }
    if (caller->role < need) {
        gw_mi_error(reply, GW_MI_FORBIDDEN, "forbidden: %s needs the %s role; %s has %s",
                    cmd->name, gw_role_name(need), caller->who, gw_role_name(caller->role));
        return -1;
    }
    return 0;
}

static json_t *gw_mi_handle_one(json_t *req, const gw_mi_caller_t *caller, unsigned *status)
{
    gw_mi_reply_t reply = { .caller = caller };
    const gw_mi_cmd_t *cmd;
    json_t *id, *params, *method, *resp, *empty = NULL;
    const char *version;

    if (!json_is_object(req))
        return gw_mi_error_obj(NULL, GW_MI_INVALID_REQUEST, "request must be an object");
    id = json_object_get(req, "id");
    method = json_object_get(req, "method");
    params = json_object_get(req, "params");
    if (id && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id))
        return gw_mi_error_obj(NULL, GW_MI_INVALID_REQUEST, "id must be a string or a number");
    version = json_string_value(json_object_get(req, "jsonrpc"));
    if (!json_is_string(method) || version == NULL || strcmp(version, "2.0") != 0)
        return gw_mi_error_obj(id, GW_MI_INVALID_REQUEST,
                               "expected {\"jsonrpc\": \"2.0\", \"method\": \"area.verb\", ...}");
    if (params && !json_is_object(params) && !json_is_array(params))
        return id ? gw_mi_error_obj(id, GW_MI_INVALID_PARAMS, "params must be an object or an array")
                  : NULL;
    cmd = gw_mi_find(json_string_value(method));
    if (cmd == NULL) {
        char msg[300];
        char name[201];
        snprintf(name, sizeof(name), "%s", json_string_value(method));
        gw_mi_utf8_trim(name);
        snprintf(msg, sizeof(msg), "method not found: %s (system.listMethods lists them)", name);
        return id ? gw_mi_error_obj(id, GW_MI_METHOD_NOT_FOUND, msg) : NULL;
    }
    if (params == NULL)
        params = empty = json_object();
    if (gw_mi_allowed(cmd, caller, &reply) != 0) {
        if (status != NULL)
            *status = 403;
        GW_INFO("mi", "%s refused for %s (%s): %s", cmd->name, caller->who, caller->via,
                reply.message);
    } else if (cmd->flags & GW_MI_F_UNLOCKED) {
        cmd->fn(params, &reply);
    } else {
        int audit = ((cmd->role ? cmd->role : GW_ROLE_ADMIN) > GW_ROLE_VIEWER &&
                     !(cmd->flags & GW_MI_F_NOAUDIT)) ||
                    (cmd->flags & GW_MI_F_AUDIT);
        json_t *before = NULL;
        pthread_mutex_lock(&gw_mi_lock);
        if (audit)
            before = gw_audit_snapshot(cmd, params);
        cmd->fn(params, &reply);
        if (audit && reply.result != NULL)
            gw_audit_record(cmd, caller, params, before, reply.result); /* steals before */
        else
            json_decref(before);
        pthread_mutex_unlock(&gw_mi_lock);
    }
    json_decref(empty);
    if (!reply.done)
        gw_mi_error(&reply, GW_MI_INTERNAL_ERROR, "%s gave no reply", cmd->name);
    if (id == NULL) {
        json_decref(reply.result);
        return NULL;
    }
    if (reply.result)
        resp = json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0", "result", reply.result, "id", id);
    else
        resp = gw_mi_error_obj(id, reply.code, reply.message);
    if (resp != NULL && reply.data != NULL)
        json_object_set(json_object_get(resp, "error"), "data", reply.data);
    json_decref(reply.data);
    if (resp == NULL)
        resp = gw_mi_error_obj(id, GW_MI_INTERNAL_ERROR, "cannot encode the result");
    return resp;
}

json_t *gw_mi_call_as(const char *method, json_t *params, const gw_mi_caller_t *caller,
                      unsigned *status)
{
    json_t *req = json_pack("{s:s, s:s, s:O, s:i}", "jsonrpc", "2.0", "method", method, "params",
                            params ? params : json_null(), "id", 1);
    json_t *resp;

    if (req == NULL)
        return NULL;
    if (params == NULL)
        json_object_del(req, "params");
    if (status != NULL)
        *status = 200;
    resp = gw_mi_handle_one(req, caller, status);
    json_decref(req);
    return resp;
}

json_t *gw_mi_call(const char *method, json_t *params)
{
    json_t *req = json_pack("{s:s, s:s, s:O, s:i}", "jsonrpc", "2.0", "method", method, "params",
                            params ? params : json_null(), "id", 1);
    json_t *resp;

    if (params == NULL)
        json_object_del(req, "params");
    resp = gw_mi_handle_one(req, &gw_mi_system_caller, NULL);
    json_decref(req);
    return resp;
}

char *gw_mi_handle_text(const char *text, size_t len)
{
    return gw_mi_handle_text_as(text, len, &gw_mi_system_caller, NULL);
}

char *gw_mi_handle_text_as(const char *text, size_t len, const gw_mi_caller_t *caller,
                           unsigned *status)
{
    json_error_t jerr;
    json_t *req, *resp = NULL, *one;
    char *out = NULL, msg[300];
    size_t i;

    if (status != NULL)
        *status = 200;
    req = json_loadb(text, len, 0, &jerr);
    if (req == NULL) {
        snprintf(msg, sizeof(msg), "parse error: %s at line %d column %d", jerr.text, jerr.line,
                 jerr.column);
        resp = gw_mi_error_obj(NULL, GW_MI_PARSE_ERROR, msg);
    } else if (json_is_array(req)) {
        if (json_array_size(req) == 0) {
            resp = gw_mi_error_obj(NULL, GW_MI_INVALID_REQUEST, "empty batch");
        } else {
            resp = json_array();
            for (i = 0; i < json_array_size(req); i++)
                if ((one = gw_mi_handle_one(json_array_get(req, i), caller, NULL)) != NULL)
                    json_array_append_new(resp, one);
            if (json_array_size(resp) == 0) {
                json_decref(resp);
                resp = NULL;
            }
        }
    } else {
        resp = gw_mi_handle_one(req, caller, status);
    }
    json_decref(req);
    if (resp) {
        out = json_dumps(resp, JSON_COMPACT);
        json_decref(resp);
    }
    return out;
}

const char *gw_role_name(int role)
{
    switch (role) {
    case GW_ROLE_VIEWER:
        return "viewer";
    case GW_ROLE_OPERATOR:
        return "operator";
    default:
        return "admin"; /* 0, undeclared, is closed */
    }
}

/* system.listMethods: the registry describes itself. */
json_t *gw_mi_methods_json(void)
{
    const gw_mi_cmd_t *c;
    json_t *a = json_array();
    int i;

    for (i = 0; a && i < gw_mi_ntables; i++)
        for (c = gw_mi_tables[i]; c->name; c++)
            json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "name", c->name, "params",
                                               c->params ? c->params : "", "help",
                                               c->help ? c->help : "", "role",
                                               gw_role_name(c->role)));
    return a;
}
