/*
 * sip_scale.c - the SIP worker pool's load profile: when to grow and shrink.
 *
 * Like OpenSIPS' auto_scaling_profile: every cycle (sip.scale_cycle_ms)
 * the scaler samples how busy each worker was over the last cycle, takes
 * the pool's load as the mean over the active workers, and
 *   grows by one when the load stayed above sip.scale_up_pct for
 *   sip.scale_up_cycles cycles in a row (up to sip.workers_max),
 *   shrinks by one when it stayed below sip.scale_down_pct for
 *   sip.scale_down_cycles cycles (down to sip.workers_min, at least 1).
 * Both runs start again after a change, so the next decision sees the
 * pool at its new size.  A shrink threshold above the grow one would make
 * the pool flap, so it does not count then.  A pool outside its bounds (the bounds were
 * changed with params.set) is brought back one worker per cycle.  With
 * sip.workers_max 0 the bounds are the size sip.workers asks for (one
 * per core for 0): a fixed pool, as before scaling existed.  The
 * mechanics of a change (the BPF program, a retiring worker's drain) are
 * sip_transport.c's.
 *
 * Busy % is the worker thread's CPU time over the cycle's wall time
 * (its CLOCK_THREAD_CPUTIME_ID, read from here).  A worker's only wait
 * is epoll, so its CPU time is the time it spent handling events; unlike
 * a wall clock around the handlers it does not count the time the thread
 * sat preempted on a busy machine, when one more thread would only
 * compete for the same cores.
 *
 * Each change is logged (INFO), counted (sip.scale_ups / sip.scale_downs),
 * offered to the trace bus (a LOG record of connector "sip") and kept in
 * a ring of the last SIP_SCALE_CHANGES that MI sip.workers shows.  The
 * gauges sip.worker_busy_pct (the busiest active worker over the last
 * cycle) and sip.workers_active are set every cycle; gateway/gw_diagnose
 * reads them by these names.
 *
 * Threads: the cycle runs on the main thread (a timer on its event base);
 * sip_scale_mi_workers on the MI's thread.  sip_scale_lock guards the
 * samples and the ring between the two.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_trace.h"
#include "sip.h"

#define SIP_SCALE_CHANGES 32

typedef struct sip_scale_change {
    int64_t ts_ms; /* wall clock */
    int from, to;
    char reason[112];
} sip_scale_change_t;

typedef struct sip_scale_sample {
    int64_t cpu_ns;  /* the thread's CPU time at the last cycle; -1: none */
    unsigned gen;    /* of which start of the slot's thread */
    double busy_pct; /* over the last cycle */
} sip_scale_sample_t;

static struct {
    struct event *timer;  /* the cycle, on the main thread's event base */
    int fixed;            /* the pool's size when sip.workers_max is 0 */
    int up_run, down_run; /* cycles in a row above / below the thresholds */
    int64_t last_ms;      /* monotonic time of the last sample; 0: none yet */
    double load_pct;      /* mean busy % of the active workers, last cycle */
    sip_scale_sample_t s[SIP_MAX_WORKERS];
    sip_scale_change_t ring[SIP_SCALE_CHANGES];
    unsigned nchanges;    /* changes recorded; the newest at (n - 1) % size */
    gw_stat_t *busy_gauge, *active_gauge;
} sip_scale;
static pthread_mutex_t sip_scale_lock = PTHREAD_MUTEX_INITIALIZER; /* s, load_pct, ring */

static int sip_scale_param(const int *v)
{
    return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static int64_t sip_scale_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The bounds the pool keeps to now: sip.workers_min/max (min at least 1,
 * at most max), or the fixed size when max is 0. */
static void sip_scale_bounds(int *lo, int *hi)
{
    int mn = sip_scale_param(&sip_conf.workers_min), mx = sip_scale_param(&sip_conf.workers_max);

    if (mx <= 0) {
        *lo = *hi = sip_scale.fixed;
        return;
    }
    *hi = mx;
    *lo = mn < 1 ? 1 : mn > mx ? mx : mn;
}

/* Take this cycle's sample: each worker's busy %, the pool's load, the
 * gauges.  Main thread. */
static void sip_scale_sample(void)
{
    sip_wsnap_t snap[SIP_MAX_WORKERS];
    int64_t now = sip_scale_mono_ms(), dt = now - sip_scale.last_ms;
    int n = sip_pool_snapshot(snap, SIP_MAX_WORKERS), nact = 0;
    double sum = 0, top = 0;

    pthread_mutex_lock(&sip_scale_lock);
    for (int i = 0; i < n; i++) {
        sip_scale_sample_t *s = &sip_scale.s[snap[i].idx];
        double b = 0;
        if (sip_scale.last_ms > 0 && dt > 0 && snap[i].cpu_ns >= 0 && s->cpu_ns >= 0 &&
            s->gen == snap[i].gen && snap[i].cpu_ns >= s->cpu_ns)
            b = (double)(snap[i].cpu_ns - s->cpu_ns) / ((double)dt * 1e6) * 100.0;
        s->busy_pct = b > 100 ? 100 : b;
        s->cpu_ns = snap[i].cpu_ns;
        s->gen = snap[i].gen;
        if (snap[i].state == SIP_W_ACTIVE) {
            nact++;
            sum += s->busy_pct;
            if (s->busy_pct > top)
                top = s->busy_pct;
        }
    }
    sip_scale.load_pct = nact ? sum / nact : 0;
    pthread_mutex_unlock(&sip_scale_lock);
    sip_scale.last_ms = now;
    gw_stat_set(sip_scale.busy_gauge, (int64_t)lround(top));
    gw_stat_set(sip_scale.active_gauge, sip_worker_count());
}

/* Record a change from -> to: the ring, the log, the counters, the event
 * ops.workers_scaled, the trace bus.  Main thread. */
static void sip_scale_record(int from, int to, const char *reason)
{
    sip_scale_change_t *c;

    pthread_mutex_lock(&sip_scale_lock);
    c = &sip_scale.ring[sip_scale.nchanges++ % SIP_SCALE_CHANGES];
    c->ts_ms = gw_now_ms();
    c->from = from;
    c->to = to;
    snprintf(c->reason, sizeof c->reason, "%s", reason);
    pthread_mutex_unlock(&sip_scale_lock);
    gw_stat_set(sip_scale.active_gauge, to);
    GW_INFO(SIP_LOG, "workers %d -> %d: %s", from, to, reason);
    gw_stat_add(to > from ? sip_stats.scale_ups : sip_stats.scale_downs, 1);
    gw_event_op("ops.workers_scaled", json_pack("{s:s, s:i, s:i, s:s}", "pool", "sip", "from",
                                                from, "to", to, "reason", reason));
    if (gw_trace_on()) {
        char line[160];
        gw_trace_rec_t r = {0};
        snprintf(line, sizeof line, "SIP workers %d -> %d: %s", from, to, reason);
        r.kind = GW_TRACE_LOG;
        r.connector = SIP_LOG;
        r.summary = line;
        gw_trace_record(&r);
    }
}

/* Grow (dir 1) or shrink (-1) by one for reason; 1 when the pool
 * changed.  Main thread. */
static int sip_scale_change(int dir, const char *reason)
{
    int from = sip_worker_count();
    int rc = dir > 0 ? sip_pool_grow() : sip_pool_shrink();

    if (rc > 0) {
        sip_scale_record(from, rc, reason);
        return 1;
    }
    if (rc != GW_EAGAIN) /* EAGAIN: a worker is on its way out; next cycle */
        GW_WARN(SIP_LOG, "workers %d: cannot %s (%s): %s", from, dir > 0 ? "grow" : "shrink",
                reason, gw_strerror(rc));
    return 0;
}

/* One cycle's decision.  Main thread. */
static void sip_scale_decide(void)
{
    int lo, hi, active = sip_worker_count();
    int up_pct = sip_scale_param(&sip_conf.scale_up_pct);
    int down_pct = sip_scale_param(&sip_conf.scale_down_pct);
    int up_cycles = sip_scale_param(&sip_conf.scale_up_cycles);
    int down_cycles = sip_scale_param(&sip_conf.scale_down_cycles);
    double load = sip_scale.load_pct;
    char why[112];

    sip_scale_bounds(&lo, &hi);
    if (active < lo) {
        snprintf(why, sizeof why, "below the minimum of %d", lo);
        if (sip_scale_change(1, why))
            sip_scale.up_run = sip_scale.down_run = 0;
        return;
    }
    if (active > hi) {
        snprintf(why, sizeof why, "above the maximum of %d", hi);
        if (sip_scale_change(-1, why))
            sip_scale.up_run = sip_scale.down_run = 0;
        return;
    }
    if (lo == hi)
        return; /* a fixed pool */
    sip_scale.up_run = load > up_pct ? sip_scale.up_run + 1 : 0;
    /* a shrink threshold above the grow one would flap: it is off */
    sip_scale.down_run = load < down_pct && down_pct <= up_pct ? sip_scale.down_run + 1 : 0;
    if (sip_scale.up_run >= up_cycles && active < hi) {
        snprintf(why, sizeof why, "load %.1f%% above %d%% for %d cycles", load, up_pct,
                 sip_scale.up_run);
        if (sip_scale_change(1, why))
            sip_scale.up_run = sip_scale.down_run = 0;
    } else if (sip_scale.down_run >= down_cycles && active > lo) {
        snprintf(why, sizeof why, "load %.1f%% below %d%% for %d cycles", load, down_pct,
                 sip_scale.down_run);
        if (sip_scale_change(-1, why))
            sip_scale.up_run = sip_scale.down_run = 0;
    }
}

static void sip_scale_arm(void)
{
    int ms = sip_scale_param(&sip_conf.scale_cycle_ms);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(sip_scale.timer, &tv);
}

/* The cycle: sample, decide, reap retired workers, arm again (the cycle's
 * length may have changed).  Main thread. */
static void sip_scale_on_cycle(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    sip_scale_sample();
    if (sip_pool_steered())
        sip_scale_decide();
    sip_pool_reap();
    sip_scale_arm();
}

/* See sip.h.  Main thread, after sip_workers_init. */
int sip_scale_init(struct event_base *main_base)
{
    memset(&sip_scale, 0, sizeof sip_scale);
    sip_scale.fixed = sip_pool_fixed();
    for (int i = 0; i < SIP_MAX_WORKERS; i++)
        sip_scale.s[i].cpu_ns = -1;
    sip_scale.busy_gauge = gw_stat_gauge("sip.worker_busy_pct",
                                   "busy % of the busiest SIP worker over the last cycle");
    sip_scale.active_gauge = gw_stat_gauge("sip.workers_active", "SIP workers taking new requests");
    gw_stat_set(sip_scale.active_gauge, sip_worker_count());
    if (sip_conf.workers_max > 0 && !sip_pool_steered())
        GW_WARN(SIP_LOG, "sip.workers_max is set but the sockets cannot be steered: "
                "the pool stays at %d", sip_worker_count());
    sip_scale.timer = evtimer_new(main_base, sip_scale_on_cycle, NULL);
    return sip_scale.timer ? 0 : GW_ENOMEM;
}

/* See sip.h.  Main thread, after sip_workers_start. */
void sip_scale_start(void)
{
    sip_scale_sample(); /* the baseline of the first cycle */
    sip_scale_arm();
}

/* See sip.h.  Main thread, before sip_workers_stop. */
void sip_scale_stop(void)
{
    if (sip_scale.timer) {
        event_free(sip_scale.timer);
        sip_scale.timer = NULL;
    }
}

static const char *sip_scale_state_name(sip_wstate_t st)
{
    switch (st) {
    case SIP_W_ACTIVE:
        return "active";
    case SIP_W_RETIRING:
        return "retiring";
    case SIP_W_STOPPING:
        return "stopping";
    default:
        return "off";
    }
}

/* MI sip.workers: the bounds, the profile, each worker, the recent
 * changes (newest first).  MI thread. */
void sip_scale_mi_workers(const json_t *params, gw_mi_reply_t *r)
{
    sip_wsnap_t snap[SIP_MAX_WORKERS];
    int n = sip_pool_snapshot(snap, SIP_MAX_WORKERS), lo, hi;
    json_t *o, *ws = json_array(), *cs = json_array();
    unsigned k;
    (void)params;

    sip_scale_bounds(&lo, &hi);
    pthread_mutex_lock(&sip_scale_lock);
    for (int i = 0; ws && i < n; i++) {
        const sip_scale_sample_t *s = &sip_scale.s[snap[i].idx];
        json_array_append_new(
            ws, json_pack("{s:i, s:s, s:f, s:I, s:i, s:i, s:I}", "id", snap[i].idx, "state",
                          sip_scale_state_name(snap[i].state), "busy_pct",
                          round(s->busy_pct * 10) / 10, "rx", (json_int_t)snap[i].rx,
                          "pending", snap[i].pending, "client_txns", snap[i].uac, "queued",
                          (json_int_t)snap[i].queued));
    }
    for (k = 0; cs && k < sip_scale.nchanges && k < SIP_SCALE_CHANGES; k++) {
        const sip_scale_change_t *c =
            &sip_scale.ring[(sip_scale.nchanges - 1 - k) % SIP_SCALE_CHANGES];
        char iso[64];
        time_t secs = (time_t)(c->ts_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(c->ts_ms % 1000));
        json_array_append_new(cs, json_pack("{s:s, s:I, s:i, s:i, s:s}", "time", iso, "ts",
                                            (json_int_t)c->ts_ms, "from", c->from, "to", c->to,
                                            "reason", c->reason));
    }
    o = json_pack("{s:i, s:i, s:i, s:b, s:b, s:f, s:i, s:{s:i, s:i, s:i, s:i}, s:I, s:o, s:o}",
                  "min", lo, "max", hi, "active", sip_worker_count(), "scaling",
                  lo != hi && sip_pool_steered(), "steered", sip_pool_steered(), "load_pct",
                  round(sip_scale.load_pct * 10) / 10, "cycle_ms",
                  sip_scale_param(&sip_conf.scale_cycle_ms), "profile", "up_pct",
                  sip_scale_param(&sip_conf.scale_up_pct), "up_cycles",
                  sip_scale_param(&sip_conf.scale_up_cycles), "down_pct",
                  sip_scale_param(&sip_conf.scale_down_pct), "down_cycles",
                  sip_scale_param(&sip_conf.scale_down_cycles), "transactions",
                  (json_int_t)sip_txns_count(), "workers", ws ? ws : json_array(), "changes",
                  cs ? cs : json_array());
    pthread_mutex_unlock(&sip_scale_lock);
    if (!o) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    gw_mi_result(r, o);
}
