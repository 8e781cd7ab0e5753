/*
 * gw_stats.c - the registry of named counters, gauges and histograms.
 *
 * Fixed arrays; lookup by name takes gw_stats_lock only when a name is
 * registered (callers keep the returned pointer), and values are atomics,
 * so counting on hot paths costs one atomic add and observing a duration
 * a few compares and two.  Entries are never removed, so readers scan
 * [0, n) without the lock.  The exposition is gw_metrics.c.
 *
 * Threads: any.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_stats.h"

#define GW_STATS_MAX 256
#define GW_HISTS_MAX 32

static gw_stat_t gw_stats[GW_STATS_MAX];
static int gw_stats_n; /* atomic, guarded for writes by gw_stats_lock */
static pthread_mutex_t gw_stats_lock = PTHREAD_MUTEX_INITIALIZER; /* guards registration */
static gw_stat_t gw_stat_overflow = { .name = "stats.overflow",
                                      .help = "counters beyond the table" };

typedef struct gw_hist_entry {
    const char *name, *help;
    gw_hist_t h;
} gw_hist_entry_t;

static gw_hist_entry_t gw_hists[GW_HISTS_MAX];
static int gw_hists_n; /* atomic, guarded for writes by gw_stats_lock */
static gw_hist_t gw_hist_overflow;

const int64_t gw_hist_bounds_us[GW_HIST_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

static gw_stat_t *gw_stat_find_or_add(const char *name, const char *help, int kind)
{
    gw_stat_t *s = NULL;
    int i, n;

    pthread_mutex_lock(&gw_stats_lock);
    n = gw_stats_n;
    for (i = 0; i < n; i++)
        if (strcmp(gw_stats[i].name, name) == 0) {
            s = &gw_stats[i];
            if (kind == GW_STAT_GAUGE)
                __atomic_store_n(&s->kind, kind, __ATOMIC_RELAXED);
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
    s->kind = kind;
    __atomic_store_n(&gw_stats_n, n + 1, __ATOMIC_RELEASE);
out_unlock:
    pthread_mutex_unlock(&gw_stats_lock);
    return s;
}

gw_stat_t *gw_stat(const char *name, const char *help)
{
    return gw_stat_find_or_add(name, help, GW_STAT_COUNTER);
}

gw_stat_t *gw_stat_gauge(const char *name, const char *help)
{
    return gw_stat_find_or_add(name, help, GW_STAT_GAUGE);
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
    /* a value that is set is no counter, whatever it was registered as */
    if (__atomic_load_n(&s->kind, __ATOMIC_RELAXED) == GW_STAT_COUNTER)
        __atomic_store_n(&s->kind, GW_STAT_GAUGE, __ATOMIC_RELAXED);
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

void gw_stats_foreach(void (*fn)(const gw_stat_t *s, void *arg), void *arg)
{
    int i, n = __atomic_load_n(&gw_stats_n, __ATOMIC_ACQUIRE);

    for (i = 0; i < n; i++)
        fn(&gw_stats[i], arg);
}

/* ---- histograms ------------------------------------------------------------ */

int64_t gw_stats_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void gw_hist_observe_us(gw_hist_t *h, int64_t us)
{
    int i = 0;

    if (us < 0)
        us = 0;
    /* 16 compares at most; most latencies end in the first half */
    while (i < GW_HIST_BUCKETS && us > gw_hist_bounds_us[i])
        i++;
    __atomic_add_fetch(&h->counts[i], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&h->sum_us, (uint64_t)us, __ATOMIC_RELAXED);
}

gw_hist_t *gw_hist(const char *name, const char *help)
{
    gw_hist_t *h = NULL;
    int i, n;

    pthread_mutex_lock(&gw_stats_lock);
    n = gw_hists_n;
    for (i = 0; i < n; i++)
        if (strcmp(gw_hists[i].name, name) == 0) {
            h = &gw_hists[i].h;
            goto out_unlock;
        }
    if (n == GW_HISTS_MAX) {
        h = &gw_hist_overflow;
        goto out_unlock;
    }
    gw_hists[n].name = name;
    gw_hists[n].help = help;
    memset(&gw_hists[n].h, 0, sizeof gw_hists[n].h);
    h = &gw_hists[n].h;
    __atomic_store_n(&gw_hists_n, n + 1, __ATOMIC_RELEASE);
out_unlock:
    pthread_mutex_unlock(&gw_stats_lock);
    return h;
}

void gw_hists_foreach(void (*fn)(const char *name, const char *help, const gw_hist_t *h,
                                 void *arg),
                      void *arg)
{
    int i, n = __atomic_load_n(&gw_hists_n, __ATOMIC_ACQUIRE);

    for (i = 0; i < n; i++)
        fn(gw_hists[i].name, gw_hists[i].help, &gw_hists[i].h, arg);
}
