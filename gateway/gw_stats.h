/*
 * gw_stats.h - counters, gauges and latency histograms, named "area.name",
 * and the Prometheus exposition of them (gw_metrics.c).
 *
 * Counters and gauges are plain atomics registered once; reading them
 * (stats.get, /metrics) needs no lock.  Any module may declare its own with
 * gw_stat("sip.rx_message", help) (a counter: it only goes up) or
 * gw_stat_gauge("db.queue", help) (a value that goes up and down: a queue
 * depth, what is open or busy now, the last or largest of something).
 *
 * Histograms (gw_hist_t) count observed durations into one fixed ladder of
 * buckets (100 us .. 10 s, gw_hist_bounds_us): observing is a few compares
 * and two relaxed atomic adds, from any thread, with no lock.  A module
 * keeps a process-wide one from gw_hist(), or embeds a zeroed gw_hist_t in
 * its own object (a connector's) and exposes it through a collector.
 *
 * Collectors: what lives per connector or per bind (queue depths, bind
 * states, per-connector counters and histograms) is not copied into the
 * registry; its owner registers a collector (gw_metrics_collector) that
 * the exposition calls at scrape time, which writes the current values as
 * labelled samples through gw_metrics_value / gw_metrics_hist.
 *
 * Threads: any.
 */
#ifndef GW_STATS_H
#define GW_STATS_H

#include <stdint.h>
#include <jansson.h>

/* What a value is to a reader (Prometheus metric types). */
typedef enum {
    GW_STAT_COUNTER = 0, /* only goes up; exposed as junction_<name>_total */
    GW_STAT_GAUGE,       /* goes up and down; junction_<name> */
    GW_STAT_HISTOGRAM,   /* gw_hist_t; junction_<name>_bucket / _sum / _count */
} gw_stat_kind_t;

typedef struct gw_stat {
    const char *name;
    const char *help;
    int64_t value; /* atomic */
    int kind;      /* gw_stat_kind_t; atomic (a gauge declaration may come second) */
} gw_stat_t;

/* Find or create the counter named name (the strings must be static).
 * Never fails (past the table size every caller shares one overflow
 * counter that is not exposed); returns a pointer valid for the life of
 * the process. */
gw_stat_t *gw_stat(const char *name, const char *help);
/* The same for a gauge.  A name first registered by gw_stat() becomes a
 * gauge: the kind is the owner's word, whoever registers first. */
gw_stat_t *gw_stat_gauge(const char *name, const char *help);
/* The counter or gauge named name, or NULL when nobody registered it (a reader
 * that must tell "absent" from "zero", e.g. the self-diagnosis). */
gw_stat_t *gw_stat_find(const char *name);
void gw_stat_add(gw_stat_t *s, int64_t n);
/* Set a gauge.  A value that is set is a gauge even when it was
 * registered with gw_stat() (from that set on; declare it with
 * gw_stat_gauge so it is one from the first scrape). */
void gw_stat_set(gw_stat_t *s, int64_t v);
int64_t gw_stat_get(const gw_stat_t *s);

/* All counters and gauges as {"name": value}; new reference. */
json_t *gw_stats_json(void);

/* ---- histograms ---------------------------------------------------------- */

#define GW_HIST_BUCKETS 16
/* The upper bounds (inclusive, microseconds) of the buckets, ascending:
 * 100 us, 250 us, 500 us, 1 ms ... 10 s. */
extern const int64_t gw_hist_bounds_us[GW_HIST_BUCKETS];

typedef struct gw_hist {
    /* counts[i]: observations <= gw_hist_bounds_us[i] and above the bound
     * before; counts[GW_HIST_BUCKETS]: above the last.  Atomics.  All zero
     * is an empty histogram. */
    uint64_t counts[GW_HIST_BUCKETS + 1];
    uint64_t sum_us; /* atomic */
} gw_hist_t;

/* A monotonic clock in microseconds, for the durations observed. */
int64_t gw_stats_now_us(void);
/* Count one duration (us; negative counts as 0).  Any thread, no lock. */
void gw_hist_observe_us(gw_hist_t *h, int64_t us);
/* Find or create the process-wide histogram named name (static strings,
 * e.g. "db.commit_seconds"); exposed as junction_db_commit_seconds.  Like
 * gw_stat: never NULL, valid for the life of the process (past the table
 * size every caller shares one that is not exposed). */
gw_hist_t *gw_hist(const char *name, const char *help);

/* ---- exposition (gw_metrics.c) -------------------------------------------- */

/* One scrape being written.  Samples may come in any order: each family
 * (junction_<name>) is written as one group with its HELP and TYPE. */
typedef struct gw_metrics gw_metrics_t;

/* A sample of the family junction_<name> (a counter's name gets _total)
 * of kind GW_STAT_COUNTER or GW_STAT_GAUGE.  labels: NULL, or a list of
 * name, value strings ended by NULL, e.g.
 *   (const char *[]){ "connector", c->name, NULL }
 * Values are escaped; names are made valid (other characters become '_').
 * A sample whose family exists with another kind is dropped. */
void gw_metrics_value(gw_metrics_t *m, const char *name, gw_stat_kind_t kind, const char *help,
                      const char *const *labels, double v);
/* The samples of one histogram (buckets as le="<seconds>", _sum in
 * seconds, _count) of the family junction_<name>; labels as above. */
void gw_metrics_hist(gw_metrics_t *m, const char *name, const char *help,
                     const char *const *labels, const gw_hist_t *h);

/* fn(m, arg) runs at every scrape, on the HTTP thread, to write a module's
 * labelled samples; it takes the locks its data needs and must not block.
 * Registered for the life of the process (a module's start); 0, or
 * GW_EFULL past GW_METRICS_COLLECTORS. */
#define GW_METRICS_COLLECTORS 16
typedef void (*gw_metrics_fn_t)(gw_metrics_t *m, void *arg);
int gw_metrics_collector(gw_metrics_fn_t fn, void *arg);

/* The Prometheus text exposition (format 0.0.4) of every counter, gauge
 * and histogram and of every collector's samples; malloc'd, caller frees;
 * NULL when out of memory. */
char *gw_stats_prometheus(void);

/* For gw_metrics.c: visit the registry (a snapshot of what is registered
 * when it is called). */
void gw_stats_foreach(void (*fn)(const gw_stat_t *s, void *arg), void *arg);
void gw_hists_foreach(void (*fn)(const char *name, const char *help, const gw_hist_t *h,
                                 void *arg),
                      void *arg);

#endif
