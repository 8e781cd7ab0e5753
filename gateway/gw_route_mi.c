/*
 * gw_route_mi.c - routes.* and rates.*: routing rules and rate tables
 * managed at runtime (docs/mi.md, docs/routing.md, docs/rates.md).
 *
 * Every change follows one order, so that nothing is ever half-applied:
 *   1. the rule set as it would be after the change is compiled against
 *      the running rate tables (or the rate set as it would be);
 *      any error -> -32602 with every error in the reply's data, nothing
 *      stored, the running set untouched;
 *   2. the change is stored in one transaction (db_rules.c);
 *   3. rules and rates are read back from the store, compiled and
 *      installed atomically (gw_rules_reload).
 * routes.add also takes the flat form of the v3 routes table ({name,
 * priority, dst_prefix, dst_regex, src_prefix, source, target}) and turns
 * it into the equivalent rule; its priority, when absent or taken, becomes
 * the first free one from it (100 when absent), since v3 allowed ties.
 *
 * Each command declares its parameters in a table (name, JSON type,
 * required, nullable); an unknown or mistyped parameter is -32602 naming it.
 *
 * Threads: handlers under gw_mi_lock (HTTP or main thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db/db.h"
#include "gw_addr.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_mi.h"
#include "gw_route.h"
#include "gw_route_csv.h"

#define GW_RMI_PARAMS_MAX 12
#define GW_RMI_REQUIRED 1 /* the param must be present */
#define GW_RMI_NULLABLE 2 /* null is accepted too (routes.update: null removes the field) */

typedef struct gw_rmi_param {
    const char *name;
    json_type type;   /* JSON_STRING, JSON_INTEGER, JSON_TRUE (a boolean), JSON_OBJECT, JSON_ARRAY */
    int flags;        /* GW_RMI_REQUIRED, GW_RMI_NULLABLE */
} gw_rmi_param_t;

typedef struct gw_rmi_cmd {
    const char *name;
    gw_rmi_param_t params[GW_RMI_PARAMS_MAX];
} gw_rmi_cmd_t;

/* A rule's fields as routes.add (f 0) and routes.update (f GW_RMI_NULLABLE)
 * take them. */
#define GW_RMI_RULE_FIELDS(f)                                                              \
    { "name", JSON_STRING, f }, { "priority", JSON_INTEGER, f }, { "enabled", JSON_TRUE, f }, \
    { "description", JSON_STRING, f }, { "source", JSON_OBJECT, f },                          \
    { "filters", JSON_OBJECT, f }, { "action", JSON_OBJECT, f }

static const gw_rmi_cmd_t gw_rmi_params[] = {
    { "routes.get", { { "id", JSON_INTEGER, GW_RMI_REQUIRED } } },
    { "routes.add", { { "id", JSON_INTEGER, 0 }, GW_RMI_RULE_FIELDS(0) } },
    { "routes.add.flat", { { "name", JSON_STRING, GW_RMI_REQUIRED },
                           { "target", JSON_STRING, GW_RMI_REQUIRED },
                           { "priority", JSON_INTEGER, 0 }, { "enabled", JSON_TRUE, 0 },
                           { "source", JSON_STRING, 0 }, { "src_prefix", JSON_STRING, 0 },
                           { "dst_prefix", JSON_STRING, 0 }, { "dst_regex", JSON_STRING, 0 } } },
    { "routes.update", { { "id", JSON_INTEGER, GW_RMI_REQUIRED },
                        GW_RMI_RULE_FIELDS(GW_RMI_NULLABLE) } },
    { "routes.delete", { { "id", JSON_INTEGER, GW_RMI_REQUIRED } } },
    { "routes.enable", { { "id", JSON_INTEGER, GW_RMI_REQUIRED } } },
    { "routes.disable", { { "id", JSON_INTEGER, GW_RMI_REQUIRED } } },
    { "routes.reorder", { { "order", JSON_ARRAY, GW_RMI_REQUIRED } } },
    { "routes.test", { { "to", JSON_STRING, GW_RMI_REQUIRED }, { "from", JSON_STRING, 0 },
                       { "source", JSON_STRING, 0 }, { "adapter", JSON_STRING, 0 },
                       { "peer", JSON_STRING, 0 }, { "domain", JSON_STRING, 0 },
                       { "body", JSON_STRING, 0 },
                       { "tags", JSON_OBJECT, 0 }, { "data_coding", JSON_INTEGER, 0 } } },
    { "routes.import", { { "rules", JSON_ARRAY, 0 }, { "format", JSON_STRING, 0 },
                         { "text", JSON_STRING, 0 } } },
    { "routes.export", { { "format", JSON_STRING, 0 } } },
    { "rates.import", { { "table", JSON_STRING, GW_RMI_REQUIRED },
                        { "csv", JSON_STRING, GW_RMI_REQUIRED },
                        { "replace", JSON_TRUE, 0 } } },
    { "rates.export", { { "table", JSON_STRING, GW_RMI_REQUIRED } } },
    { "rates.delete", { { "table", JSON_STRING, GW_RMI_REQUIRED } } },
};

/* Check params against the declaration of cmd: 0, or -1 with -32602
 * written to r.  Numbers are accepted where text is declared (a prefix
 * typed on a CLI), as their decimal text. */
static int gw_rmi_check(const char *cmd, const json_t *params, gw_mi_reply_t *r)
{
    const gw_rmi_cmd_t *c = NULL;
    const char *key;
    json_t *v;

    for (size_t i = 0; i < sizeof gw_rmi_params / sizeof gw_rmi_params[0]; i++)
        if (strcmp(gw_rmi_params[i].name, cmd) == 0)
            c = &gw_rmi_params[i];
    if (!json_is_object(params)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "params must be an object");
        return -1;
    }
    json_object_foreach((json_t *)params, key, v) {
        const gw_rmi_param_t *p = NULL;
        for (size_t i = 0; c != NULL && i < GW_RMI_PARAMS_MAX && c->params[i].name; i++)
            if (strcmp(c->params[i].name, key) == 0)
                p = &c->params[i];
        if (p == NULL) {
            gw_mi_error(r, GW_MI_INVALID_PARAMS, "unknown param \"%s\"", key);
            return -1;
        }
        if ((p->flags & GW_RMI_NULLABLE) && json_is_null(v))
            continue;
        if (p->type == JSON_STRING && json_is_integer(v)) {
            gw_mi_opt_str(params, key, NULL); /* becomes its text in place */
            continue;
        }
        if (!(p->type == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == p->type)) {
            static const char *const names[] = { "an object", "an array", "a string",
                                                 "an integer", "a number", "a boolean" };
            gw_mi_error(r, GW_MI_INVALID_PARAMS, "param \"%s\" must be %s", key,
                        (unsigned)p->type < 6 ? names[p->type] : "a boolean");
            return -1;
        }
    }
    for (size_t i = 0; c != NULL && i < GW_RMI_PARAMS_MAX && c->params[i].name; i++)
        if ((c->params[i].flags & GW_RMI_REQUIRED) && json_object_get(params, c->params[i].name) == NULL) {
            gw_mi_error(r, GW_MI_INVALID_PARAMS, "param \"%s\" is required", c->params[i].name);
            return -1;
        }
    return 0;
}

/* ---- the change protocol ------------------------------------------------ */

/* The running rules from the store, or NULL with -32603 written. */
static json_t *gw_rmi_rules(gw_mi_reply_t *r)
{
    json_t *rules = db_rules_list();

    if (rules == NULL)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot read the rules table");
    return rules;
}

static json_t *gw_rmi_find(const json_t *rules, long long id, size_t *at)
{
    size_t i;
    json_t *v;

    json_array_foreach(rules, i, v) {
        if (json_integer_value(json_object_get(v, "id")) == id) {
            if (at != NULL)
                *at = i;
            return v;
        }
    }
    return NULL;
}

/* Compile-check after (the whole set as it would be) against rs (NULL: the
 * running rates): 0, or -1 with -32602 and every error as data. */
static int gw_rmi_validate(const json_t *after, gw_rateset_t *rs, const char *what,
                           gw_mi_reply_t *r)
{
    gw_rateset_t *use = rs != NULL ? gw_rateset_ref(rs) : gw_rates_current();
    json_t *errors = NULL;
    rt_set_t *s = gw_rules_compile(after, use, &errors);

    gw_rateset_unref(use);
    if (s != NULL) {
        rt_set_unref(s);
        return 0;
    }
    if (errors == NULL) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return -1;
    }
    gw_mi_error_data(r, GW_MI_INVALID_PARAMS, errors, "%s: %s%s", what,
                     json_string_value(json_object_get(json_array_get(errors, 0), "text")),
                     json_array_size(errors) > 1 ? " (and more: see data)" : "");
    return -1;
}

/* Steps 2 and 3: store, then reload from the store.  0, or -1 with the
 * error written. */
static int gw_rmi_store(const json_t *put, const json_t *del, int replace_all, gw_mi_reply_t *r)
{
    json_t *errors = NULL;
    int rc = db_rules_write(put, del, replace_all);

    if (rc == GW_EEXIST) {
        gw_mi_error(r, GW_MI_CONFLICT, "a rule with that name or id exists");
        return -1;
    }
    if (rc == GW_ENOTFOUND) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "no such rule");
        return -1;
    }
    if (rc != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "rules not stored: %s", gw_strerror(rc));
        return -1;
    }
    if (gw_rules_reload(&errors) != 0) {
        gw_mi_error_data(r, GW_MI_INTERNAL_ERROR, errors, "stored, but not applied");
        return -1;
    }
    return 0;
}

/* Validate after, then store put / del.  0 or -1 (error written). */
static int gw_rmi_change(const json_t *after, const json_t *put, const json_t *del,
                         int replace_all, const char *what, gw_mi_reply_t *r)
{
    if (gw_rmi_validate(after, NULL, what, r) != 0)
        return -1;
    return gw_rmi_store(put, del, replace_all, r);
}

/* ---- routes.* ----------------------------------------------------------- */

/* The flat columns of a v3 route, for lists and forms that show them. */
static void gw_rmi_flat(json_t *row, const json_t *rule)
{
    const json_t *action = json_object_get(rule, "action"), *route = json_object_get(action, "route");
    const json_t *dst = json_object_get(json_object_get(rule, "filters"), "dst");
    const json_t *src = json_object_get(json_object_get(rule, "filters"), "src");
    const json_t *dp = json_object_get(dst, "prefix"), *sp = json_object_get(src, "prefix");
    char target[512] = "";
    size_t off = 0, i;
    json_t *t;

    json_array_foreach(json_object_get(route, "targets"), i, t) {
        const char *name = json_is_string(t) ? json_string_value(t)
                                             : json_string_value(json_object_get(t, "connector"));
        if (name != NULL && off < sizeof target)
            off += (size_t)snprintf(target + off, sizeof target - off, "%s%s", i ? "," : "", name);
    }
    if (route == NULL)
        snprintf(target, sizeof target, "%s", json_object_get(action, "reject") ? "(reject)" : "(drop)");
    else if (off == 0)
        snprintf(target, sizeof target, "(%s %s)", json_string_value(json_object_get(route, "strategy")) ?: "",
                 json_string_value(json_object_get(route, "rates")) ?: "");
    json_object_set_new(row, "target", json_string(target));
    json_object_set_new(row, "dst_prefix", json_is_array(dp) ? json_copy(json_array_get(dp, 0)) : json_copy((json_t *)dp));
    json_object_set_new(row, "src_prefix", json_is_array(sp) ? json_copy(json_array_get(sp, 0)) : json_copy((json_t *)sp));
    json_object_set_new(row, "dst_regex", json_copy(json_object_get(dst, "regex")));
    for (const char *const *k = (const char *const[]){ "dst_prefix", "src_prefix", "dst_regex", NULL }; *k; k++)
        if (json_object_get(row, *k) == NULL || json_is_null(json_object_get(row, *k)))
            json_object_set_new(row, *k, json_null());
}

static void gw_rmi_routes_list(const json_t *params, gw_mi_reply_t *r)
{
    static const char *const head[] = { "id", "name", "priority", "enabled", NULL };
    json_t *rules = gw_rmi_rules(r), *out, *v, *row, *x;
    const char *key;
    size_t i;

    (void)params;
    if (rules == NULL)
        return;
    out = json_array();
    json_array_foreach(rules, i, v) {
        /* the columns people scan first, then the flat view, then the rest */
        row = json_object();
        for (const char *const *k = head; *k; k++)
            json_object_set(row, *k, json_object_get(v, *k) ?: json_true());
        gw_rmi_flat(row, v);
        json_object_foreach(v, key, x)
            if (json_object_get(row, key) == NULL)
                json_object_set(row, key, x);
        json_array_append_new(out, row);
    }
    json_decref(rules);
    gw_mi_result(r, out);
}

/* params' format: 1 for "csv", 0 for "json" or none, -1 (error written). */
static int gw_rmi_format_csv(const json_t *params, gw_mi_reply_t *r)
{
    const char *f = json_string_value(json_object_get(params, "format"));

    if (f == NULL || strcmp(f, "json") == 0)
        return 0;
    if (strcmp(f, "csv") == 0)
        return 1;
    gw_mi_error(r, GW_MI_INVALID_PARAMS, "format: \"json\" or \"csv\"");
    return -1;
}

/* JSON: the rules as stored (lossless).  CSV: {csv, rules, skipped} with
 * the rules the flat form cannot hold listed in skipped (gw_route_csv.h). */
static void gw_rmi_routes_export(const json_t *params, gw_mi_reply_t *r)
{
    json_t *rules, *skipped = NULL;
    char *csv = NULL;
    size_t len;
    int csvf;

    if (gw_rmi_check("routes.export", params, r) != 0 || (csvf = gw_rmi_format_csv(params, r)) < 0 ||
        (rules = gw_rmi_rules(r)) == NULL)
        return;
    if (!csvf) {
        gw_mi_result(r, rules);
        return;
    }
    if (gw_rcsv_export(rules, &csv, &len, &skipped) != 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
    else
        gw_mi_result(r, json_pack("{s:s%, s:I, s:o}", "csv", csv, len, "rules",
                                  (json_int_t)(json_array_size(rules) - json_array_size(skipped)),
                                  "skipped", skipped));
    free(csv);
    json_decref(rules);
}

static void gw_rmi_routes_get(const json_t *params, gw_mi_reply_t *r)
{
    long long id = gw_mi_opt_int(params, "id", 0);
    json_t *rules, *rule;

    if (gw_rmi_check("routes.get", params, r) != 0 || (rules = gw_rmi_rules(r)) == NULL)
        return;
    rule = gw_rmi_find(rules, id, NULL);
    if (rule == NULL)
        gw_mi_error(r, GW_MI_NOT_FOUND, "no rule with id %lld", id);
    else
        gw_mi_result(r, json_incref(rule));
    json_decref(rules);
}

/* The first priority from p that no enabled rule of rules holds. */
static long long gw_rmi_free_priority(const json_t *rules, long long p)
{
    for (;; p++) {
        size_t i;
        json_t *v;
        int taken = 0;
        json_array_foreach(rules, i, v)
            if (!json_is_false(json_object_get(v, "enabled")) &&
                json_integer_value(json_object_get(v, "priority")) == p)
                taken = 1;
        if (!taken)
            return p;
    }
}

/* The rule of a v3 flat route; NULL with the error written. */
static json_t *gw_rmi_from_flat(const json_t *params, const json_t *rules, gw_mi_reply_t *r)
{
    const char *target = json_string_value(json_object_get(params, "target")), *p = target;
    const char *keys[3] = { "dst_prefix", "dst_regex", "src_prefix" };
    json_t *targets = json_array(), *rule, *filters = json_object(), *dst = json_object();
    const char *v;

    if (gw_rmi_check("routes.add.flat", params, r) != 0)
        goto out_fail;
    while (1) { /* "a,b,c": failover in that order, as gw_dlv_plan_set reads it */
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == 0 || n >= GW_NAME_MAX || json_array_size(targets) >= GW_PLAN_MAX) {
            gw_mi_error(r, GW_MI_INVALID_PARAMS,
                        "target: one connector name or a comma-separated list of at most %d "
                        "(failover in that order), each 1-%d characters",
                        GW_PLAN_MAX, GW_NAME_MAX - 1);
            goto out_fail;
        }
        json_array_append_new(targets, json_stringn(p, n));
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    rule = json_pack("{s:O, s:I, s:b, s:{s:{s:s, s:o}}}", "name", json_object_get(params, "name"),
                     "priority", (json_int_t)gw_rmi_free_priority(rules, gw_mi_opt_int(params, "priority", 100)),
                     "enabled", !json_is_false(json_object_get(params, "enabled")), "action", "route",
                     "strategy", "failover", "targets", targets);
    targets = NULL;
    if ((v = gw_mi_opt_str(params, "source", NULL)) != NULL && *v)
        json_object_set_new(rule, "source", json_pack("{s:[s]}", "connector", v));
    for (int i = 0; i < 3; i++) {
        if ((v = gw_mi_opt_str(params, keys[i], NULL)) == NULL || *v == '\0')
            continue;
        if (i == 2)
            json_object_set_new(filters, "src", json_pack("{s:[s]}", "prefix", v));
        else if (i == 0)
            json_object_set_new(dst, "prefix", json_pack("[s]", v));
        else
            json_object_set_new(dst, "regex", json_string(v));
    }
    if (json_object_size(dst) > 0)
        json_object_set(filters, "dst", dst);
    if (json_object_size(filters) > 0)
        json_object_set(rule, "filters", filters);
    json_decref(dst);
    json_decref(filters);
    return rule;

out_fail:
    json_decref(targets);
    json_decref(dst);
    json_decref(filters);
    return NULL;
}

static long long gw_rmi_next_id(const json_t *rules)
{
    long long max = 0;
    size_t i;
    json_t *v;

    json_array_foreach(rules, i, v)
        if (json_integer_value(json_object_get(v, "id")) > max)
            max = json_integer_value(json_object_get(v, "id"));
    return max + 1;
}

static void gw_rmi_routes_add(const json_t *params, gw_mi_reply_t *r)
{
    json_t *rules = gw_rmi_rules(r), *rule = NULL, *after = NULL, *put = NULL;
    long long id;

    if (rules == NULL)
        return;
    if (json_object_get(params, "target") != NULL && json_object_get(params, "action") == NULL) {
        rule = gw_rmi_from_flat(params, rules, r);
    } else if (json_object_get(params, "name") == NULL && json_object_get(params, "action") == NULL) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "param \"name\" is required, with \"action\" (a rule) "
                    "or \"target\" (the flat form)");
    } else if (gw_rmi_check("routes.add", params, r) == 0) {
        rule = json_deep_copy(params);
    }
    if (rule == NULL)
        goto out;
    id = json_is_integer(json_object_get(rule, "id")) ? json_integer_value(json_object_get(rule, "id"))
                                                      : gw_rmi_next_id(rules);
    if (gw_rmi_find(rules, id, NULL) != NULL) {
        gw_mi_error(r, GW_MI_CONFLICT, "a rule with id %lld exists", id);
        goto out;
    }
    json_object_set_new(rule, "id", json_integer(id));
    if (json_object_get(rule, "name") == NULL) {
        char name[32];
        snprintf(name, sizeof name, "rule-%lld", id);
        json_object_set_new(rule, "name", json_string(name));
    }
    after = json_copy(rules);
    put = json_pack("[O]", rule);
    json_array_append(after, rule);
    if (gw_rmi_change(after, put, NULL, 0, "invalid route", r) == 0)
        gw_mi_result(r, json_pack("{s:I}", "id", (json_int_t)id));
out:
    json_decref(put);
    json_decref(after);
    json_decref(rule);
    json_decref(rules);
}

/* routes.update / enable / disable: the rule id with the params' fields
 * (null removes one) merged over it. */
static void gw_rmi_routes_patch(const json_t *params, const json_t *patch, gw_mi_reply_t *r)
{
    long long id = gw_mi_opt_int(params, "id", 0);
    json_t *rules = gw_rmi_rules(r), *rule, *put = NULL, *v;
    const char *key;
    size_t at;

    if (rules == NULL)
        return;
    if ((rule = gw_rmi_find(rules, id, &at)) == NULL) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "no rule with id %lld", id);
        goto out;
    }
    rule = json_deep_copy(rule);
    json_object_foreach((json_t *)patch, key, v) {
        if (strcmp(key, "id") == 0)
            continue;
        if (json_is_null(v))
            json_object_del(rule, key);
        else
            json_object_set(rule, key, v);
    }
    json_array_set_new(rules, at, rule);
    put = json_pack("[O]", rule);
    if (gw_rmi_change(rules, put, NULL, 0, "invalid route", r) == 0)
        gw_mi_result(r, json_incref(rule));
out:
    json_decref(put);
    json_decref(rules);
}

static void gw_rmi_routes_update(const json_t *params, gw_mi_reply_t *r)
{
    if (gw_rmi_check("routes.update", params, r) == 0)
        gw_rmi_routes_patch(params, params, r);
}

static void gw_rmi_routes_enable_to(const json_t *params, gw_mi_reply_t *r, const char *cmd, int on)
{
    json_t *patch = json_pack("{s:b}", "enabled", on);

    if (gw_rmi_check(cmd, params, r) == 0)
        gw_rmi_routes_patch(params, patch, r);
    json_decref(patch);
}

static void gw_rmi_routes_enable(const json_t *params, gw_mi_reply_t *r)
{
    gw_rmi_routes_enable_to(params, r, "routes.enable", 1);
}

static void gw_rmi_routes_disable(const json_t *params, gw_mi_reply_t *r)
{
    gw_rmi_routes_enable_to(params, r, "routes.disable", 0);
}

static void gw_rmi_routes_delete(const json_t *params, gw_mi_reply_t *r)
{
    long long id = gw_mi_opt_int(params, "id", 0);
    json_t *rules, *del;
    size_t at;

    if (gw_rmi_check("routes.delete", params, r) != 0 || (rules = gw_rmi_rules(r)) == NULL)
        return;
    if (gw_rmi_find(rules, id, &at) == NULL) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "no route with id %lld", id);
        json_decref(rules);
        return;
    }
    json_array_remove(rules, at);
    del = json_pack("[I]", (json_int_t)id);
    if (gw_rmi_change(rules, NULL, del, 0, "rules not changed", r) == 0)
        gw_mi_result(r, json_pack("{s:b}", "deleted", 1));
    json_decref(del);
    json_decref(rules);
}

static int gw_rmi_cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The rules listed in order take the priorities they hold, in that order:
 * they swap places among themselves; every other rule keeps its place. */
static void gw_rmi_routes_reorder(const json_t *params, gw_mi_reply_t *r)
{
    const json_t *order = json_object_get(params, "order");
    json_t *rules, *put = NULL, *v;
    long long *prio = NULL;
    size_t i, n;

    if (gw_rmi_check("routes.reorder", params, r) != 0 || (rules = gw_rmi_rules(r)) == NULL)
        return;
    n = json_array_size(order);
    prio = calloc(n ? n : 1, sizeof *prio);
    put = json_array();
    if (prio == NULL || put == NULL) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        goto out;
    }
    json_array_foreach(order, i, v) {
        json_t *rule = json_is_integer(v) ? gw_rmi_find(rules, json_integer_value(v), NULL) : NULL;
        if (rule == NULL) {
            gw_mi_error(r, GW_MI_INVALID_PARAMS, "order[%zu]: not the id of a rule", i);
            goto out;
        }
        for (size_t k = 0; k < i; k++)
            if (json_integer_value(json_array_get(order, k)) == json_integer_value(v)) {
                gw_mi_error(r, GW_MI_INVALID_PARAMS, "order[%zu]: rule %lld listed twice", i,
                            (long long)json_integer_value(v));
                goto out;
            }
        prio[i] = json_integer_value(json_object_get(rule, "priority"));
    }
    qsort(prio, n, sizeof *prio, gw_rmi_cmp_ll);
    json_array_foreach(order, i, v) {
        json_t *rule = gw_rmi_find(rules, json_integer_value(v), NULL);
        json_object_set_new(rule, "priority", json_integer(prio[i]));
        json_array_append(put, rule);
    }
    if (gw_rmi_change(rules, put, NULL, 0, "rules not reordered", r) == 0)
        gw_mi_result(r, json_pack("{s:I}", "reordered", (json_int_t)n));
out:
    free(prio);
    json_decref(put);
    json_decref(rules);
}

/* A sheet refused: -32602 with every line error as data (errors is taken). */
static void gw_rmi_sheet_refused(gw_mi_reply_t *r, json_t *errors, size_t total)
{
    gw_mi_error_data(r, GW_MI_INVALID_PARAMS, errors, "rules not imported: %zu error(s); %s",
                     total, json_string_value(json_object_get(json_array_get(errors, 0), "text")) ?: "");
}

/* routes.import format "csv": the sheet in text becomes the rule set, all
 * or nothing, the same change protocol as JSON (compile, store, reload)
 * with the compiler's errors given by line. */
static void gw_rmi_routes_import_csv(const json_t *params, gw_mi_reply_t *r)
{
    const char *text = json_string_value(json_object_get(params, "text"));
    json_t *rules = NULL, *lines = NULL, *errors = NULL, *cerrs = NULL;
    gw_rateset_t *rs;
    rt_set_t *s;
    size_t total = 0;
    int rc;

    if (text == NULL || json_object_get(params, "rules") != NULL) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "format \"csv\" takes the sheet as \"text\" "
                    "(and no \"rules\")");
        return;
    }
    rc = gw_rcsv_parse(text, strlen(text), &rules, &lines, &errors, &total);
    if (rc == GW_EINVAL) {
        gw_rmi_sheet_refused(r, errors, total);
        return;
    }
    if (rc != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    rs = gw_rates_current();
    s = gw_rules_compile(rules, rs, &cerrs);
    gw_rateset_unref(rs);
    if (s != NULL) {
        rt_set_unref(s);
        if (gw_rmi_store(rules, NULL, 1, r) == 0)
            gw_mi_result(r, json_pack("{s:I}", "imported", (json_int_t)json_array_size(rules)));
    } else if (cerrs == NULL || (errors = gw_rcsv_compile_errors(cerrs, rules, lines)) == NULL) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
    } else {
        gw_rmi_sheet_refused(r, errors, json_array_size(cerrs));
    }
    json_decref(cerrs);
    json_decref(lines);
    json_decref(rules);
}

static void gw_rmi_routes_import(const json_t *params, gw_mi_reply_t *r)
{
    const json_t *rules = json_object_get(params, "rules");
    size_t i;
    json_t *v;
    int csvf;

    if (gw_rmi_check("routes.import", params, r) != 0 || (csvf = gw_rmi_format_csv(params, r)) < 0)
        return;
    if (csvf) {
        gw_rmi_routes_import_csv(params, r);
        return;
    }
    if (rules == NULL || json_object_get(params, "text") != NULL) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "param \"rules\" is required (or format \"csv\" "
                    "with \"text\")");
        return;
    }
    json_array_foreach(rules, i, v) {
        if (!json_is_integer(json_object_get(v, "id")) ||
            !json_is_string(json_object_get(v, "name"))) {
            gw_mi_error(r, GW_MI_INVALID_PARAMS, "rules[%zu]: id (an integer) and name are "
                        "required", i);
            return;
        }
    }
    if (gw_rmi_change(rules, rules, NULL, 1, "rules not imported", r) == 0)
        gw_mi_result(r, json_pack("{s:I}", "imported", (json_int_t)json_array_size(rules)));
}

static void gw_rmi_routes_reload(const json_t *params, gw_mi_reply_t *r)
{
    json_t *errors = NULL;
    int rc;

    (void)params;
    rc = gw_rules_reload(&errors);
    if (rc != 0)
        gw_mi_error_data(r, GW_MI_INVALID_PARAMS, errors, "rules not reloaded (the running "
                         "ones stay): %s", json_string_value(json_object_get(json_array_get(errors, 0), "text")) ?: gw_strerror(rc));
    else
        gw_mi_result(r, json_pack("{s:b}", "reloaded", 1));
}

static void gw_rmi_routes_test(const json_t *params, gw_mi_reply_t *r)
{
    const char *to, *from, *key;
    gw_envelope_t *env;
    json_t *ex = NULL, *v;
    int rc;

    if (gw_rmi_check("routes.test", params, r) != 0)
        return;
    to = gw_mi_opt_str(params, "to", NULL);
    from = gw_mi_opt_str(params, "from", "0");
    if ((env = gw_env_new()) == NULL) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    if (gw_addr_normalise(&env->from, from, GW_ADDR_TON_NONE, 0) != 0 ||
        gw_addr_normalise(&env->to, to, GW_ADDR_TON_NONE, 0) != 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "%s: not an address",
                    env->from.address == NULL ? "from" : "to");
        goto out_unref;
    }
    gw_env_set_str(&env->source.connector, gw_mi_opt_str(params, "source", "mi"), (size_t)-1);
    gw_env_set_str(&env->source.adapter, gw_mi_opt_str(params, "adapter", "mi"), (size_t)-1);
    if (gw_mi_opt_str(params, "peer", NULL) != NULL)
        gw_env_set_str(&env->source.peer, gw_mi_opt_str(params, "peer", NULL), (size_t)-1);
    if (gw_mi_opt_str(params, "domain", NULL) != NULL)
        gw_env_set_str(&env->source.domain, gw_mi_opt_str(params, "domain", NULL), (size_t)-1);
    gw_env_set_str(&env->body, gw_mi_opt_str(params, "body", ""), (size_t)-1);
    env->body_len = strlen(env->body);
    env->data_coding = (int)gw_mi_opt_int(params, "data_coding", -1);
    json_object_foreach(json_object_get(params, "tags"), key, v)
        if (json_is_string(v))
            gw_env_set_tag(env, key, json_string_value(v));
    rc = gw_route_explain(env, &ex);
    if (rc == GW_ENOROUTE) {
        gw_mi_result(r, json_pack("{s:b, s:s, s:s}", "matched", 0, "decision", "no_route",
                                  "reason", "no rules installed"));
        goto out_unref;
    }
    if (rc != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "%s", gw_strerror(rc));
        goto out_unref;
    }
    /* the v3 answer's keys beside the explanation: matched, route, target */
    v = json_object_get(ex, "decision");
    json_object_set_new(ex, "matched", json_boolean(json_is_string(v) && strcmp(json_string_value(v), "route") == 0));
    if (json_is_true(json_object_get(ex, "matched"))) {
        json_object_set(ex, "route", json_object_get(json_object_get(ex, "rule"), "name"));
        json_object_set(ex, "target", json_object_get(json_array_get(json_object_get(ex, "targets"), 0), "connector"));
    }
    gw_mi_result(r, ex);
out_unref:
    gw_env_unref(env);
}

/* ---- rates.* ------------------------------------------------------------ */

static void gw_rmi_rates_list(const json_t *params, gw_mi_reply_t *r)
{
    gw_rateset_t *rs = gw_rates_current();

    (void)params;
    gw_mi_result(r, gw_rateset_tables(rs));
    gw_rateset_unref(rs);
}

typedef struct gw_rmi_rows {
    rt_rate_row_t *rows;
    size_t n, cap, next;
} gw_rmi_rows_t;

static int gw_rmi_rows_put(void *arg, const rt_rate_row_t *row)
{
    gw_rmi_rows_t *a = arg;

    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        rt_rate_row_t *g = realloc(a->rows, cap * sizeof *g);
        if (g == NULL)
            return GW_ENOMEM;
        a->rows = g;
        a->cap = cap;
    }
    a->rows[a->n++] = *row;
    return 0;
}

static int gw_rmi_rows_next(void *arg, db_rate_row_t *row)
{
    gw_rmi_rows_t *a = arg;
    const rt_rate_row_t *s;

    if (a->next >= a->n)
        return 0;
    s = &a->rows[a->next++];
    *row = (db_rate_row_t){ s->prefix, s->connector, s->currency, s->cost, s->valid_from,
                            s->valid_to };
    return 1;
}

/* Copy each row of a sealed table into an unsealed one. */
static int gw_rmi_rows_copy(void *arg, const rt_rate_row_t *row)
{
    char why[160];

    return rt_rates_add(arg, row->prefix, row->connector, row->cost, row->currency,
                        row->valid_from, row->valid_to, why, sizeof why);
}

/* Store table t (sealed) as the rows of its name, then reload.  0 or -1. */
static int gw_rmi_rates_store(const rt_rates_t *t, gw_mi_reply_t *r)
{
    gw_rmi_rows_t rows = { 0 };
    json_t *errors = NULL;
    int rc = rt_rates_foreach(t, gw_rmi_rows_put, &rows);

    if (rc == 0)
        rc = db_rates_replace(rt_rates_name(t), gw_rmi_rows_next, &rows);
    free(rows.rows);
    if (rc != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "rate table not stored: %s", gw_strerror(rc));
        return -1;
    }
    if (gw_rules_reload(&errors) != 0) {
        gw_mi_error_data(r, GW_MI_INTERNAL_ERROR, errors, "stored, but not applied");
        return -1;
    }
    return 0;
}

static void gw_rmi_rates_import(const json_t *params, gw_mi_reply_t *r)
{
    const char *name, *csv;
    gw_rateset_t *cur = NULL, *next = NULL;
    rt_csv_errors_t *errs = NULL;
    rt_rates_t *t = NULL;
    json_t *rules = NULL, *data;
    char why[200], line[220];
    size_t total;

    if (gw_rmi_check("rates.import", params, r) != 0)
        return;
    name = json_string_value(json_object_get(params, "table"));
    csv = json_string_value(json_object_get(params, "csv"));
    cur = gw_rates_current();
    errs = calloc(1, sizeof *errs);
    if (name[0] == '\0' || strlen(name) >= RT_RATES_NAME_MAX) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "table: 1-%d bytes", RT_RATES_NAME_MAX - 1);
        goto out;
    }
    if (errs == NULL || (t = rt_rates_new(name)) == NULL) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        goto out;
    }
    /* replace: false adds the sheet to the rows the table has */
    if (json_is_false(json_object_get(params, "replace")) && gw_rateset_find(cur, name) != NULL &&
        rt_rates_foreach(gw_rateset_find(cur, name), gw_rmi_rows_copy, t) != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot copy rate table %s", name);
        goto out;
    }
    if (rt_rates_parse_csv(csv, strlen(csv), t, errs) != 0) {
        data = json_array();
        for (size_t i = 0; i < errs->count; i++) {
            rt_csv_error_format(&errs->err[i], line, sizeof line);
            json_array_append_new(data, json_pack("{s:i, s:s, s:s, s:s}", "line", (int)errs->err[i].line,
                                                  "field", errs->err[i].field, "reason",
                                                  errs->err[i].reason, "text", line));
        }
        total = errs->total;
        rt_csv_error_format(&errs->err[0], line, sizeof line);
        gw_mi_error_data(r, GW_MI_INVALID_PARAMS, data,
                         "rate sheet not imported: %zu error(s); %s", total, errs->count ? line : "");
        goto out;
    }
    if (rt_rates_seal(t, why, sizeof why) != 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "rate sheet not imported: %s", why);
        goto out;
    }
    next = gw_rateset_with(cur, name, t);
    t = NULL; /* next's, or freed */
    if (next == NULL || (rules = gw_rmi_rules(r)) == NULL) {
        if (next == NULL)
            gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        goto out;
    }
    if (gw_rmi_validate(rules, next, "rate table not imported", r) != 0 ||
        gw_rmi_rates_store(gw_rateset_find(next, name), r) != 0)
        goto out;
    gw_mi_result(r, json_pack("{s:s, s:I}", "table", name, "rows",
                              (json_int_t)rt_rates_count(gw_rateset_find(next, name))));
out:
    json_decref(rules);
    rt_rates_free(t);
    gw_rateset_unref(next);
    gw_rateset_unref(cur);
    free(errs);
}

static void gw_rmi_rates_export(const json_t *params, gw_mi_reply_t *r)
{
    gw_rateset_t *rs;
    const rt_rates_t *t;
    char *csv = NULL;
    size_t len;

    if (gw_rmi_check("rates.export", params, r) != 0)
        return;
    rs = gw_rates_current();
    t = gw_rateset_find(rs, json_string_value(json_object_get(params, "table")));
    if (t == NULL)
        gw_mi_error(r, GW_MI_NOT_FOUND, "no rate table named \"%s\"",
                    json_string_value(json_object_get(params, "table")));
    else if (rt_rates_export_csv(t, &csv, &len) != 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
    else
        gw_mi_result(r, json_pack("{s:s, s:I, s:s%}", "table", rt_rates_name(t), "rows",
                                  (json_int_t)rt_rates_count(t), "csv", csv, len));
    free(csv);
    gw_rateset_unref(rs);
}

static void gw_rmi_rates_delete(const json_t *params, gw_mi_reply_t *r)
{
    const char *name;
    gw_rateset_t *cur, *next;
    json_t *rules, *errors = NULL;

    if (gw_rmi_check("rates.delete", params, r) != 0)
        return;
    name = json_string_value(json_object_get(params, "table"));
    cur = gw_rates_current();
    next = gw_rateset_find(cur, name) != NULL ? gw_rateset_with(cur, name, NULL) : NULL;
    rules = next != NULL ? gw_rmi_rules(r) : NULL;
    if (gw_rateset_find(cur, name) == NULL)
        gw_mi_error(r, GW_MI_NOT_FOUND, "no rate table named \"%s\"", name);
    else if (next == NULL)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
    else if (rules != NULL && gw_rmi_validate(rules, next, "rate table in use, not deleted", r) == 0) {
        if (db_rates_delete(name) != 0)
            gw_mi_error(r, GW_MI_INTERNAL_ERROR, "rate table not deleted");
        else if (gw_rules_reload(&errors) != 0)
            gw_mi_error_data(r, GW_MI_INTERNAL_ERROR, errors, "deleted, but not applied");
        else
            gw_mi_result(r, json_pack("{s:b}", "deleted", 1));
    }
    json_decref(rules);
    gw_rateset_unref(next);
    gw_rateset_unref(cur);
}

static const gw_mi_cmd_t gw_route_mi_cmds[] = {
    { "routes.list", gw_rmi_routes_list, "",
      "every rule in priority order, with the flat columns (target, dst_prefix, ...)", GW_ROLE_VIEWER, 0 },
    { "routes.get", gw_rmi_routes_get, "id", "one rule", GW_ROLE_VIEWER, 0 },
    { "routes.add", gw_rmi_routes_add,
      "a rule (id?, name?, priority, enabled?, description?, source?, filters?, action) or the "
      "flat form (name, target, priority?, source?, src_prefix?, dst_prefix?, dst_regex?, enabled?)",
      "add a rule; applies to the next message", GW_ROLE_OPERATOR, 0 },
    { "routes.update", gw_rmi_routes_update,
      "id, name?, priority?, enabled?, description?, source?, filters?, action? (null removes)",
      "change a rule's fields", GW_ROLE_OPERATOR, 0 },
    { "routes.delete", gw_rmi_routes_delete, "id", "delete a rule", GW_ROLE_OPERATOR, 0 },
    { "routes.enable", gw_rmi_routes_enable, "id", "enable a rule", GW_ROLE_OPERATOR, 0 },
    { "routes.disable", gw_rmi_routes_disable, "id", "disable a rule (kept, never matches)", GW_ROLE_OPERATOR, 0 },
    { "routes.reorder", gw_rmi_routes_reorder, "order: [id, ...]",
      "the listed rules take their priorities in the order given", GW_ROLE_OPERATOR, 0 },
    { "routes.test", gw_rmi_routes_test,
      "to, from?, source?, adapter?, peer?, domain?, body?, tags?, data_coding?",
      "dry run: the decision explained (rule, rules before it, targets, rewrites)", GW_ROLE_VIEWER, 0 },
    { "routes.import", gw_rmi_routes_import, "rules: [rule, ...], or format: \"csv\" with text",
      "replace every rule, all or nothing", GW_ROLE_OPERATOR, 0 },
    { "routes.export", gw_rmi_routes_export, "format?: \"json\" (default) or \"csv\"",
      "every rule as routes.import takes them (csv: the flat ones, the rest listed as skipped)", GW_ROLE_VIEWER, 0 },
    { "routes.reload", gw_rmi_routes_reload, "", "compile rules and rates from the store again", GW_ROLE_OPERATOR, 0 },
    { "rates.list", gw_rmi_rates_list, "", "rate tables: name, rows, memory", GW_ROLE_VIEWER, 0 },
    { "rates.import", gw_rmi_rates_import, "table, csv, replace?",
      "import a rate sheet (CSV), all or nothing", GW_ROLE_OPERATOR, 0 },
    { "rates.export", gw_rmi_rates_export, "table", "a rate table as canonical CSV", GW_ROLE_VIEWER, 0 },
    { "rates.delete", gw_rmi_rates_delete, "table", "delete a rate table no rule uses", GW_ROLE_OPERATOR, 0 },
    GW_MI_END,
};

int gw_route_mi_init(void)
{
    return gw_mi_register(gw_route_mi_cmds);
}
