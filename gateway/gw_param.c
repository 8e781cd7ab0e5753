/*
 * gw_param.c - the registry of parameter tables.
 *
 * Tables are registered once at start-up (main thread); their defaults are
 * applied at registration.  Later changes (MI params.set) take
 * gw_params_lock so two writers never interleave; readers of runtime
 * parameters read ints (atomic enough on every platform we run) or copy a
 * string under the same lock through gw_param_get.
 */
#include <errno.h>
#include <limits.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_errors.h"
#include "gw_param.h"

#define GW_PARAM_TABLES_MAX 32

static const gw_param_hook_t *gw_param_hooks[GW_PARAM_TABLES_MAX]; /* main thread, then read-only */
static int gw_param_nhooks;

static const gw_param_t *gw_param_tables[GW_PARAM_TABLES_MAX];
static int gw_param_ntables;
static pthread_mutex_t gw_params_lock = PTHREAD_MUTEX_INITIALIZER; /* guards values on set/get */

int gw_params_register(const gw_param_t *table)
{
    const gw_param_t *p;
    char err[128];
    int i;

    for (i = 0; i < gw_param_ntables; i++)
        if (gw_param_tables[i] == table)
            return GW_OK;
    if (gw_param_ntables == GW_PARAM_TABLES_MAX)
        return GW_EFULL;
    gw_param_tables[gw_param_ntables++] = table;
    for (p = table; p->name; p++)
        if (p->def && gw_param_set(p, p->def, err, sizeof(err)) != 0)
            return GW_EINVAL; /* a bad default is a programming error */
    return GW_OK;
}

const gw_param_t *gw_param_find(const char *name)
{
    const gw_param_t *p;
    int i;

    for (i = 0; i < gw_param_ntables; i++)
        for (p = gw_param_tables[i]; p->name; p++)
            if (strcmp(p->name, name) == 0)
                return p;
    return NULL;
}

static int gw_param_parse_bool(const char *v)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
        return 1;
    if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off"))
        return 0;
    return -1;
}

/* Parse value for p; store it only when write.  0 or GW_EINVAL (err). */
static int gw_param_parse(const gw_param_t *p, const char *value, char *err, size_t errlen,
                          int write)
{
    char *end;
    long v;
    int b, rc = GW_OK;

    pthread_mutex_lock(&gw_params_lock);
    switch (p->type) {
    case GW_PT_INT:
        errno = 0;
        v = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || v < INT_MIN || v > INT_MAX) {
            snprintf(err, errlen, "%s: expected an integer, got \"%s\"", p->name, value);
            rc = GW_EINVAL;
        } else if (p->min <= p->max && (v < p->min || v > p->max)) {
            snprintf(err, errlen, "%s: %ld is out of range [%d, %d]", p->name, v, p->min, p->max);
            rc = GW_EINVAL;
        } else if (write) {
            __atomic_store_n((int *)p->var, (int)v, __ATOMIC_RELAXED); /* read lock-free */
        }
        break;
    case GW_PT_BOOL:
        b = gw_param_parse_bool(value);
        if (b < 0) {
            snprintf(err, errlen, "%s: expected yes or no, got \"%s\"", p->name, value);
            rc = GW_EINVAL;
        } else if (write) {
            __atomic_store_n((int *)p->var, b, __ATOMIC_RELAXED);
        }
        break;
    case GW_PT_STR:
        if (strlen(value) >= p->size) {
            snprintf(err, errlen, "%s: longer than %zu characters", p->name, p->size - 1);
            rc = GW_EINVAL;
        } else if (write) {
            strcpy(p->var, value);
        }
        break;
    }
    pthread_mutex_unlock(&gw_params_lock);
    return rc;
}

int gw_param_set(const gw_param_t *p, const char *value, char *err, size_t errlen)
{
    return gw_param_parse(p, value, err, errlen, 1);
}

int gw_param_check(const gw_param_t *p, const char *value, char *err, size_t errlen)
{
    return gw_param_parse(p, value, err, errlen, 0);
}

void gw_param_get(const gw_param_t *p, char *buf, size_t len)
{
    pthread_mutex_lock(&gw_params_lock);
    switch (p->type) {
    case GW_PT_INT:
        snprintf(buf, len, "%d", *(int *)p->var);
        break;
    case GW_PT_BOOL:
        snprintf(buf, len, "%s", *(int *)p->var ? "yes" : "no");
        break;
    case GW_PT_STR:
        snprintf(buf, len, "%s", (const char *)p->var);
        break;
    }
    pthread_mutex_unlock(&gw_params_lock);
}

int gw_params_register_hooks(const gw_param_hook_t *hooks)
{
    for (int i = 0; i < gw_param_nhooks; i++)
        if (gw_param_hooks[i] == hooks)
            return GW_OK;
    if (gw_param_nhooks == GW_PARAM_TABLES_MAX)
        return GW_EFULL;
    gw_param_hooks[gw_param_nhooks++] = hooks;
    return GW_OK;
}

void gw_param_changed(const gw_param_t *p)
{
    for (int i = 0; i < gw_param_nhooks; i++)
        for (const gw_param_hook_t *h = gw_param_hooks[i]; h->name != NULL; h++)
            if (strcmp(h->name, p->name) == 0 && h->on_change != NULL)
                h->on_change(p);
}

int gw_param_is_default(const gw_param_t *p)
{
    int same;

    pthread_mutex_lock(&gw_params_lock);
    switch (p->type) {
    case GW_PT_INT:
        same = *(int *)p->var == (int)strtol(p->def ? p->def : "0", NULL, 10);
        break;
    case GW_PT_BOOL:
        same = *(int *)p->var == (gw_param_parse_bool(p->def ? p->def : "no") == 1);
        break;
    default:
        same = strcmp((const char *)p->var, p->def ? p->def : "") == 0;
        break;
    }
    pthread_mutex_unlock(&gw_params_lock);
    return same;
}

void gw_params_foreach(void (*fn)(const gw_param_t *p, void *arg), void *arg)
{
    const gw_param_t *p;
    int i;

    for (i = 0; i < gw_param_ntables; i++)
        for (p = gw_param_tables[i]; p->name; p++)
            fn(p, arg);
}

int gw_params_reload(const json_t *stored, json_t **report)
{
    json_t *applied = json_array(), *restart = json_array(), *unknown = json_array();
    json_t *errors = json_array(), *v;
    const char *name;
    char err[256], cur[512];
    const gw_param_t *p;

    /* 1: every stored value is checked; one bad value changes nothing */
    json_object_foreach((json_t *)stored, name, v) {
        p = gw_param_find(name);
        if (p == NULL || !json_is_string(v)) {
            json_array_append_new(unknown, json_string(name));
            continue;
        }
        if (gw_param_check(p, json_string_value(v), err, sizeof err) != 0)
            json_array_append_new(errors, json_pack("{s:s, s:s}", "name", name, "text", err));
    }
    /* 2: the runtime ones that differ take their stored value and hook */
    if (json_array_size(errors) == 0) {
        json_object_foreach((json_t *)stored, name, v) {
            p = gw_param_find(name);
            if (p == NULL || !json_is_string(v))
                continue;
            gw_param_get(p, cur, sizeof cur);
            if (strcmp(cur, json_string_value(v)) == 0)
                continue;
            if (!(p->flags & GW_PARAM_RUNTIME)) {
                json_array_append_new(restart, json_string(name));
                continue;
            }
            gw_param_set(p, json_string_value(v), err, sizeof err);
            gw_param_changed(p);
            json_array_append_new(applied, json_string(name));
        }
    }
    *report = json_pack("{s:o, s:o, s:o, s:o}", "applied", applied, "restart_needed", restart,
                        "unknown", unknown, "errors", errors);
    return *report != NULL && json_array_size(json_object_get(*report, "errors")) == 0 ? 0
                                                                                    : GW_EINVAL;
}
