/*
 * gw_stats.c - named counters.
 *
 * A fixed array of counters; lookup by name takes gw_stats_lock only when a
 * name is seen for the first time (callers keep the returned pointer), and
 * values are atomics, so counting on hot paths costs one atomic add.
 *
 * Threads: any.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_stats.h"

#define GW_STATS_MAX 256

static gw_stat_t gw_stats[GW_STATS_MAX];
static int gw_stats_n; /* atomic, guarded for writes by gw_stats_lock */
static pthread_mutex_t gw_stats_lock = PTHREAD_MUTEX_INITIALIZER;
static gw_stat_t gw_stat_overflow = { "stats.overflow", "counters beyond the table", 0 };

gw_stat_t *gw_stat(const char *name, const char *help)
{
    gw_stat_t *s = NULL;
    int i, n;

    pthread_mutex_lock(&gw_stats_lock);
    n = gw_stats_n;
    for (i = 0; i < n; i++)
        if (strcmp(gw_stats[i].name, name) == 0) {
            s = &gw_stats[i];
            goto out_unlock;
        }
    if (n == GW_STATS_MAX) {
        s = &gw_stat_overflow;
        goto out_unlock;
    }
    s = &gw_stats[n];
    s->name = name;
    s->help = help;
    s->value = 0;
    __atomic_store_n(&gw_stats_n, n + 1, __ATOMIC_RELEASE);
out_unlock:
    pthread_mutex_unlock(&gw_stats_lock);
    return s;
}

gw_stat_t *gw_stat_find(const char *name)
{
    int i, n = __atomic_load_n(&gw_stats_n, __ATOMIC_ACQUIRE);

    /* entries below gw_stats_n are never changed once published */
    for (i = 0; i < n; i++)
        if (strcmp(gw_stats[i].name, name) == 0)
            return &gw_stats[i];
    return NULL;
}

void gw_stat_add(gw_stat_t *s, int64_t n)
{
    __atomic_add_fetch(&s->value, n, __ATOMIC_RELAXED);
}

void gw_stat_set(gw_stat_t *s, int64_t v)
{
    __atomic_store_n(&s->value, v, __ATOMIC_RELAXED);
}

int64_t gw_stat_get(const gw_stat_t *s)
{
    return __atomic_load_n(&s->value, __ATOMIC_RELAXED);
}

json_t *gw_stats_json(void)
{
    json_t *o = json_object();
    int i, n = __atomic_load_n(&gw_stats_n, __ATOMIC_ACQUIRE);

    for (i = 0; o && i < n; i++)
        json_object_set_new(o, gw_stats[i].name, json_integer(gw_stat_get(&gw_stats[i])));
    return o;
}

char *gw_stats_prometheus(void)
{
    char *buf = NULL, name[128];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int i, j, n = __atomic_load_n(&gw_stats_n, __ATOMIC_ACQUIRE);

    if (f == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        /* "sip.rx_message" -> "junction_sip_rx_message" */
        snprintf(name, sizeof(name), "junction_%s", gw_stats[i].name);
        for (j = 0; name[j]; j++)
            if (!((name[j] >= 'a' && name[j] <= 'z') || (name[j] >= 'A' && name[j] <= 'Z') ||
                  (name[j] >= '0' && name[j] <= '9')))
                name[j] = '_';
        /* untyped: counters and gauges share the table */
        fprintf(f, "# HELP %s %s\n# TYPE %s untyped\n%s %lld\n", name,
                gw_stats[i].help ? gw_stats[i].help : gw_stats[i].name, name,
                name, (long long)gw_stat_get(&gw_stats[i]));
    }
    fclose(f);
    return buf;
}
