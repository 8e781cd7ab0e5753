/*
 * gw_audit.c - the audit log (gw_audit.h) and its MI method audit.list.
 *
 * Threads: MI handlers (under gw_mi_lock).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "gw_audit.h"
#include "gw_events.h"
#include "gw_log.h"

/* The members that name an object, in the order they are tried. */
static const char *const gw_audit_keys[] = { "name", "id", "system_id", "net", "table", "username",
                                              NULL };

/* The first key member of o, or NULL (*key set to its name). */
static json_t *gw_audit_key(const json_t *o, const char **key)
{
    json_t *v;

    if (!json_is_object(o))
        return NULL;
    for (int i = 0; gw_audit_keys[i] != NULL; i++)
        if ((v = json_object_get(o, gw_audit_keys[i])) != NULL &&
            (json_is_string(v) || json_is_integer(v))) {
            *key = gw_audit_keys[i];
            return v;
        }
    return NULL;
}

/* The array of a list result: itself, or the first array member of an
 * object ({"routes": [...]}). */
static json_t *gw_audit_array(json_t *list)
{
    const char *k;
    json_t *v;

    if (json_is_array(list))
        return list;
    json_object_foreach(list, k, v)
        if (json_is_array(v))
            return v;
    return NULL;
}

/* "area.list" of cmd's area, run now (new reference) or NULL. */
static json_t *gw_audit_list(const gw_mi_cmd_t *cmd)
{
    char name[64];
    /* the area is all but the verb: sip.users.add's list is sip.users.list */
    const char *dot = strrchr(cmd->name, '.');
    const gw_mi_cmd_t *list;

    if (dot == NULL || (size_t)(dot - cmd->name) > sizeof name - 6)
        return NULL;
    snprintf(name, sizeof name, "%.*s.list", (int)(dot - cmd->name), cmd->name);
    list = gw_mi_find(name);
    if (list == NULL || list == cmd)
        return NULL;
    json_t *empty = json_object();
    json_t *res = gw_mi_run_locked(list, empty);
    json_decref(empty);
    return res;
}

/* The element of list whose member key equals want (new reference). */
static json_t *gw_audit_pick(json_t *list, const char *key, const json_t *want)
{
    json_t *arr = gw_audit_array(list), *e;
    size_t i;

    json_array_foreach(arr, i, e) {
        json_t *v = json_object_get(e, key);
        if (v == NULL)
            continue;
        if (json_equal(v, want))
            return json_incref(e);
        /* "id": "3" from a CLI against 3 in the list */
        if (json_is_integer(v) && json_is_string(want) &&
            json_integer_value(v) == strtoll(json_string_value(want), NULL, 10))
            return json_incref(e);
    }
    return NULL;
}

static int gw_audit_creates(const gw_mi_cmd_t *cmd)
{
    const char *verb = strrchr(cmd->name, '.');

    return verb != NULL && (strcmp(verb, ".add") == 0 || strcmp(verb, ".create") == 0);
}

json_t *gw_audit_snapshot(const gw_mi_cmd_t *cmd, const json_t *params)
{
    const char *key;
    json_t *want = gw_audit_key(params, &key), *list, *obj;

    if (want == NULL && gw_audit_creates(cmd))
        return NULL; /* nothing before an add */
    list = gw_audit_list(cmd);
    if (list == NULL)
        return NULL;
    obj = want != NULL ? gw_audit_pick(list, key, want) : json_incref(list);
    json_decref(list);
    return obj;
}

static int gw_audit_secret(const char *k)
{
    return strstr(k, "password") != NULL || strstr(k, "secret") != NULL ||
           strcmp(k, "token") == 0 || strcmp(k, "passwd") == 0;
}

/* A copy of v with every secret member replaced (new reference). */
static json_t *gw_audit_redact(const json_t *v)
{
    json_t *out, *e;
    const char *k;
    size_t i;

    if (json_is_object(v)) {
        out = json_object();
        json_object_foreach((json_t *)v, k, e)
            json_object_set_new(out, k, gw_audit_secret(k) ? json_string("***")
                                                          : gw_audit_redact(e));
        return out;
    }
    if (json_is_array(v)) {
        out = json_array();
        json_array_foreach(v, i, e)
            json_array_append_new(out, gw_audit_redact(e));
        return out;
    }
    return v != NULL ? json_deep_copy(v) : NULL;
}

/* The redacted text of v, bounded; malloc'd or NULL for none. */
static char *gw_audit_text(const json_t *v)
{
    json_t *r;
    char *t;

    if (v == NULL)
        return NULL;
    r = gw_audit_redact(v);
    t = r != NULL ? json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(r);
    if (t != NULL && strlen(t) > GW_AUDIT_TEXT_MAX) {
        size_t n = strlen(t);
        free(t);
        if (asprintf(&t, "{\"truncated\":%zu}", n) < 0)
            t = NULL;
    }
    return t;
}

void gw_audit_record(const gw_mi_cmd_t *cmd, const gw_mi_caller_t *caller,
                     const json_t *params, json_t *before, const json_t *result)
{
    const char *key;
    json_t *want = gw_audit_key(params, &key), *after = NULL, *list = NULL;
    char *tp, *tb, *ta;

    if (want == NULL)
        want = gw_audit_key(result, &key); /* the id an add made */
    list = gw_audit_list(cmd);
    if (list != NULL)
        after = want != NULL ? gw_audit_pick(list, key, want)
                             : (before != NULL ? json_incref(list) : NULL);
    if (after == NULL && list == NULL)
        after = json_incref((json_t *)result);
    json_decref(list);
    tp = gw_audit_text(params);
    tb = gw_audit_text(before);
    ta = gw_audit_text(after);
    if (db_audit_add(caller->who, caller->via, cmd->name, tp, tb, ta) != 0)
        GW_ERR("audit", "%s by %s: the audit entry could not be written", cmd->name,
               caller->who);
    gw_event_op("ops.config_changed", json_pack("{s:s, s:s, s:s}", "who", caller->who, "via",
                                                caller->via, "method", cmd->name));
    free(tp);
    free(tb);
    free(ta);
    json_decref(before);
    json_decref(after);
}

static void gw_audit_mi_list(const json_t *params, gw_mi_reply_t *r)
{
    long long limit = gw_mi_opt_int(params, "limit", 100);
    long long before = gw_mi_opt_int(params, "before", 0);
    json_t *rows;

    if (limit < 1 || limit > 1000) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "limit must be 1..1000");
        return;
    }
    rows = db_audit_list((int)limit, before, gw_mi_opt_str(params, "who", NULL),
                         gw_mi_opt_str(params, "method", NULL));
    if (rows == NULL) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "the audit log could not be read");
        return;
    }
    gw_mi_result(r, rows);
}

static const gw_mi_cmd_t gw_audit_mi_cmds[] = {
    { "audit.list", gw_audit_mi_list, "limit?, before?, who?, method?",
      "configuration changes, newest first: [{id, ts, who, via, method, params, before, after}]"
      "; before: an id to page back from; method: a method or an area",
      GW_ROLE_ADMIN, GW_MI_F_NOAUDIT },
    GW_MI_END,
};

int gw_audit_init(void)
{
    return gw_mi_register(gw_audit_mi_cmds);
}
