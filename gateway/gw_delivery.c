/*
 * gw_delivery.c - delivery records: plan, stored forms, the transition table.
 *
 * Everything here is a function of its arguments (no clock, no I/O), so the
 * table and the stored forms are unit-tested in tests/unit/test_delivery.c.
 * The record is one allocation with fixed-size fields: a delivery is made
 * for every message, and a plan of a few short names needs no heap.
 *
 * Threads: any; a record only on its owner's thread (gw_delivery.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_delivery.h"
#include "gw_jbuf.h"
#include "gw_str.h"
#include "gw_errors.h"

/* gw_dlv_edges[from] is the set of statuses reachable from it, as bits. */
#define GW_BIT(s) (1u << (s))
static const unsigned gw_dlv_edges[GW_ST__COUNT] = {
    [GW_ST_RECEIVED] = GW_BIT(GW_ST_QUEUED) | GW_BIT(GW_ST_REJECTED),
    [GW_ST_QUEUED] = GW_BIT(GW_ST_SENDING) | GW_BIT(GW_ST_EXPIRED) | GW_BIT(GW_ST_FAILED) |
                     GW_BIT(GW_ST_QUEUED),
    [GW_ST_SENDING] = GW_BIT(GW_ST_SUBMITTED) | GW_BIT(GW_ST_DELIVERED) | GW_BIT(GW_ST_QUEUED) |
                      GW_BIT(GW_ST_FAILED) | GW_BIT(GW_ST_EXPIRED),
    [GW_ST_SUBMITTED] = GW_BIT(GW_ST_DELIVERED) | GW_BIT(GW_ST_FAILED) | GW_BIT(GW_ST_EXPIRED),
    /* final states have no way out */
};

static const char *const gw_strategy_names[] = { "single", "failover" };

static void (*gw_dlv_settle_hook)(void *counted); /* set once at start-up */

void gw_dlv_set_free_hook(void (*settle)(void *counted))
{
    gw_dlv_settle_hook = settle;
}

gw_delivery_t *gw_dlv_new(gw_envelope_t *env)
{
    gw_delivery_t *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    d->env = gw_env_ref(env);
    d->status = GW_ST_RECEIVED;
    return d;
}

void gw_dlv_free(gw_delivery_t *d)
{
    if (d == NULL)
        return;
    if (d->counted != NULL && gw_dlv_settle_hook != NULL)
        gw_dlv_settle_hook(d->counted);
    gw_env_unref(d->env);
    free(d->env_json);
    free(d->part_ids);
    free(d->rcpt_aliases);
    free(d);
}

/* Append the name s[0..n) to the plan; GW_EINVAL when empty, too long or
 * one too many. */
static int gw_dlv_plan_add(gw_delivery_t *d, const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= GW_NAME_MAX || d->ntargets >= GW_PLAN_MAX)
        return GW_EINVAL;
    memcpy(d->targets[d->ntargets], s, n);
    d->targets[d->ntargets][n] = '\0';
    d->ntargets++;
    return GW_OK;
}

/* Parse the list "a,b,c" into the plan. */
static int gw_dlv_plan_list(gw_delivery_t *d, const char *list)
{
    const char *p = list, *comma;
    int rc = GW_OK;

    d->ntargets = 0;
    while (rc == GW_OK) {
        comma = strchr(p, ',');
        rc = gw_dlv_plan_add(d, p, comma ? (size_t)(comma - p) : strlen(p));
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (rc != GW_OK)
        d->ntargets = 0;
    return rc;
}

int gw_dlv_plan_set(gw_delivery_t *d, const char *route, const char *targets)
{
    int rc;

    if (targets == NULL)
        return GW_EINVAL;
    gw_strlcpy(d->route, route ? route : "", sizeof(d->route));
    rc = gw_dlv_plan_list(d, targets);
    if (rc != GW_OK)
        return rc;
    d->strategy = d->ntargets > 1 ? GW_STRAT_FAILOVER : GW_STRAT_SINGLE;
    d->cur = 0;
    memset(d->tries, 0, sizeof(d->tries));
    return GW_OK;
}

int gw_dlv_plan_targets(gw_delivery_t *d, const char *route, const char *const *targets,
                        size_t n)
{
    int rc = n > 0 ? GW_OK : GW_EINVAL;

    gw_strlcpy(d->route, route ? route : "", sizeof(d->route));
    d->ntargets = 0;
    for (size_t i = 0; i < n && rc == GW_OK; i++)
        rc = gw_dlv_plan_add(d, targets[i], strlen(targets[i]));
    if (rc != GW_OK) {
        d->ntargets = 0;
        return rc;
    }
    d->strategy = d->ntargets > 1 ? GW_STRAT_FAILOVER : GW_STRAT_SINGLE;
    d->cur = 0;
    memset(d->tries, 0, sizeof(d->tries));
    return GW_OK;
}

const char *gw_dlv_target(const gw_delivery_t *d)
{
    return d->ntargets > 0 && d->cur < d->ntargets ? d->targets[d->cur] : "";
}

int gw_dlv_next_target(gw_delivery_t *d)
{
    if (d->cur + 1 >= d->ntargets)
        return 0;
    d->cur++;
    return 1;
}

int gw_dlv_plan_text(const gw_delivery_t *d, char *buf, size_t n)
{
    size_t len;
    int w = snprintf(buf, n, "%s:", gw_strategy_name(d->strategy));

    if (w < 0 || (size_t)w >= n)
        return GW_EINVAL;
    len = (size_t)w;
    for (int i = 0; i < d->ntargets; i++) {
        w = snprintf(buf + len, n - len, "%s%s", i ? "," : "", d->targets[i]);
        if (w < 0 || (size_t)w >= n - len)
            return GW_EINVAL;
        len += (size_t)w;
    }
    return (int)len;
}

int gw_dlv_plan_parse(gw_delivery_t *d, const char *text)
{
    const char *colon = text ? strchr(text, ':') : NULL;
    size_t n;

    if (colon == NULL)
        return GW_EINVAL;
    n = (size_t)(colon - text);
    if (n == 6 && strncmp(text, "single", 6) == 0)
        d->strategy = GW_STRAT_SINGLE;
    else if (n == 8 && strncmp(text, "failover", 8) == 0)
        d->strategy = GW_STRAT_FAILOVER;
    else
        return GW_EINVAL;
    return gw_dlv_plan_list(d, colon + 1);
}

int gw_dlv_tries_text(const gw_delivery_t *d, char *buf, size_t n)
{
    size_t len = 0;

    if (n == 0)
        return GW_EINVAL;
    for (int i = 0; i < d->ntargets; i++) {
        if (len + 13 > n) /* a comma, ten digits, the NUL */
            return GW_EINVAL;
        if (i)
            buf[len++] = ',';
        len += gw_put_uint(buf + len, d->tries[i] > 0 ? (unsigned)d->tries[i] : 0); /* no printf on the message path */
    }
    buf[len] = '\0';
    return (int)len;
}

int gw_dlv_tries_parse(gw_delivery_t *d, const char *text)
{
    const char *p = text;
    char *end;

    memset(d->tries, 0, sizeof(d->tries));
    if (text == NULL || *text == '\0')
        return GW_OK;
    for (int i = 0; i < GW_PLAN_MAX; i++) {
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 1000000)
            return GW_EINVAL;
        d->tries[i] = (int)v;
        if (*end == '\0')
            return GW_OK;
        if (*end != ',')
            return GW_EINVAL;
        p = end + 1;
    }
    return GW_EINVAL;
}

void gw_dlv_set_reason(gw_delivery_t *d, int reason, const char *text)
{
    d->reason = reason;
    gw_strlcpy(d->reason_text, text ? text : "", sizeof(d->reason_text));
}

int gw_dlv_backoff_ms(int n, int base_ms, int cap_ms, unsigned rnd)
{
    long long delay = base_ms > 0 ? base_ms : 1, cap = cap_ms > 0 ? cap_ms : 1;

    for (int i = 1; i < n && delay < cap; i++)
        delay *= 2;
    if (delay > cap)
        delay = cap;
    return (int)(delay - delay / 2 + (long long)(rnd % (unsigned)(delay / 2 + 1)));
}

int gw_dlv_transition_ok(gw_status_t from, gw_status_t to)
{
    if ((unsigned)from >= GW_ST__COUNT || (unsigned)to >= GW_ST__COUNT)
        return 0;
    return (gw_dlv_edges[from] & GW_BIT(to)) != 0;
}

int gw_status_final(gw_status_t st)
{
    return st == GW_ST_DELIVERED || st == GW_ST_FAILED || st == GW_ST_EXPIRED ||
           st == GW_ST_REJECTED;
}

const char *gw_strategy_name(gw_strategy_t s)
{
    return (unsigned)s < sizeof(gw_strategy_names) / sizeof(gw_strategy_names[0])
               ? gw_strategy_names[s]
               : "single";
}
