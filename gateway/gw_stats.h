/*
 * gw_stats.h - counters and gauges, named "area.name".
 *
 * Counters are plain atomics registered once; reading them (stats.get,
 * /metrics) needs no lock.  Any module may declare its own with
 * gw_stat_counter("sip.rx_message").
 *
 * Threads: any.
 */
#ifndef GW_STATS_H
#define GW_STATS_H

#include <stdint.h>
#include <jansson.h>

typedef struct gw_stat {
    const char *name;
    const char *help;
    int64_t value; /* atomic */
} gw_stat_t;

/* Find or create the counter named name (the string must be static).
 * Never fails after gw_stats_init; returns a pointer valid for the life of
 * the process. */
gw_stat_t *gw_stat(const char *name, const char *help);
/* The counter named name, or NULL when nobody registered it (a reader
 * that must tell "absent" from "zero", e.g. the self-diagnosis). */
gw_stat_t *gw_stat_find(const char *name);
void gw_stat_add(gw_stat_t *s, int64_t n);
void gw_stat_set(gw_stat_t *s, int64_t v);
int64_t gw_stat_get(const gw_stat_t *s);

/* All counters as {"name": value}; new reference. */
json_t *gw_stats_json(void);
/* Prometheus text exposition; malloc'd, caller frees. */
char *gw_stats_prometheus(void);

#endif
