/*
 * gw_work.c - the worker pool behind gw_work.h.
 *
 * Jobs (fn, arg) wait in gw_work_q, a bounded gw_queue_t drained by
 * core.workers threads blocked in gw_queue_pop: the queue's mutex makes
 * several consumers safe, and a push signals one of them.
 *
 * Scaling: core.workers threads always run; with core.workers_max above it
 * the pool grows by one thread whenever a submit finds more jobs waiting
 * than idle threads, up to the maximum, and a thread above core.workers
 * that waited core.workers_idle_s for a job leaves.  Each change is
 * logged, counted and published as the event ops.workers_scaled; MI
 * work.pool shows the pool.  Thread slots are fixed (GW_WORK_MAX_THREADS);
 * a thread that left is joined when its slot is taken again, or at stop.
 *
 * Stopping: gw_work_stop sets gw_work_stopping under gw_work_lock (so a
 * submit either pushed before it or is refused) and wakes the queue.  A
 * thread leaves once the flag is up and the queue is empty, and wakes the
 * queue again on its way out: gw_queue_wake releases one waiter, and a pop
 * that finds a job clears the wake, so each leaving thread passes it on to
 * the next one.  Jobs queued before the stop are run, never dropped.
 *
 * Threads: pool threads run the jobs; submit on any thread; start and
 * stop on the main thread.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gw_config.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_mi.h"
#include "gw_param.h"
#include "gw_queue.h"
#include "gw_stats.h"
#include "gw_work.h"

#define GW_WORK_MAX_THREADS 64

typedef struct gw_work_job {
    gw_work_fn_t fn;
    void *arg; /* fn's once it runs */
} gw_work_job_t;

#define GW_WORK_CHANGES 16 /* recent pool changes kept for work.pool */

enum { GW_WORK_SLOT_FREE = 0, GW_WORK_SLOT_RUNNING, GW_WORK_SLOT_LEFT };

static int gw_work_max_cfg;  /* core.workers_max, runtime: atomic */
static int gw_work_idle_cfg; /* core.workers_idle_s, runtime: atomic */

const gw_param_t gw_work_params[] = {
    { "core.workers_max", GW_PT_INT, &gw_work_max_cfg, 0, "0", 0, GW_WORK_MAX_THREADS,
      GW_PARAM_RUNTIME, "the most threads the blocking-work pool grows to under load "
      "(0: it keeps core.workers)" },
    { "core.workers_idle_s", GW_PT_INT, &gw_work_idle_cfg, 0, "30", 1, 86400, GW_PARAM_RUNTIME,
      "a pool thread above core.workers that waited this long for a job leaves" },
    GW_PARAM_END
};

typedef struct gw_work_change {
    int64_t ts_ms;
    int from, to;
} gw_work_change_t;

/* gw_work_lock guards gw_work_q's life (created in start, freed in stop),
 * gw_work_stopping (the threads read it atomically), the slots, the live
 * count and the change ring. */
static pthread_mutex_t gw_work_lock = PTHREAD_MUTEX_INITIALIZER;
static gw_queue_t *gw_work_q;
static int gw_work_stopping;
static pthread_t gw_work_threads[GW_WORK_MAX_THREADS];
static int gw_work_slot[GW_WORK_MAX_THREADS]; /* GW_WORK_SLOT_* */
static int gw_work_live, gw_work_min;
static gw_work_change_t gw_work_changes[GW_WORK_CHANGES];
static unsigned gw_work_nchanges;
static gw_stat_t *gw_work_st_queued, *gw_work_st_busy, *gw_work_st_done, *gw_work_st_refused;
static gw_stat_t *gw_work_st_threads;

static void *gw_work_main(void *arg);

/* The pool went from -> to: the ring, the gauge, the log, the event.
 * gw_work_lock held (the event only queues for the writer). */
static void gw_work_changed(int from, int to, const char *reason)
{
    gw_work_change_t *c = &gw_work_changes[gw_work_nchanges++ % GW_WORK_CHANGES];

    c->ts_ms = gw_now_ms();
    c->from = from;
    c->to = to;
    gw_stat_set(gw_work_st_threads, to);
    GW_INFO("work", "worker threads %d -> %d: %s", from, to, reason);
    gw_event_op("ops.workers_scaled", json_pack("{s:s, s:i, s:i, s:s}", "pool", "work", "from",
                                                from, "to", to, "reason", reason));
}

/* Start one thread in a free slot (joining one that left).  0 or
 * GW_ERROR / GW_EFULL.  gw_work_lock held. */
static int gw_work_spawn(void)
{
    for (intptr_t i = 0; i < GW_WORK_MAX_THREADS; i++) {
        if (gw_work_slot[i] == GW_WORK_SLOT_RUNNING)
            continue;
        if (gw_work_slot[i] == GW_WORK_SLOT_LEFT)
            pthread_join(gw_work_threads[i], NULL); /* it has returned: no wait */
        gw_work_slot[i] = GW_WORK_SLOT_FREE;
        if (pthread_create(&gw_work_threads[i], NULL, gw_work_main, (void *)i) != 0)
            return GW_ERROR;
        pthread_setname_np(gw_work_threads[i], "work"); /* top -H, perf */
        gw_work_slot[i] = GW_WORK_SLOT_RUNNING;
        gw_work_live++;
        return 0;
    }
    return GW_EFULL;
}

static void gw_work_run(gw_work_job_t *job)
{
    gw_stat_add(gw_work_st_queued, -1);
    gw_stat_add(gw_work_st_busy, 1);
    job->fn(job->arg);
    gw_stat_add(gw_work_st_busy, -1);
    gw_stat_add(gw_work_st_done, 1);
    free(job);
}

static void *gw_work_main(void *arg)
{
    intptr_t slot = (intptr_t)arg;
    gw_queue_t *q = gw_work_q; /* set before any thread starts, freed after all joined */
    gw_work_job_t *job;
    int idle_ms, left = 0;

    for (;;) {
        if (__atomic_load_n(&gw_work_stopping, __ATOMIC_ACQUIRE) && gw_queue_len(q) == 0)
            break;
        idle_ms = __atomic_load_n(&gw_work_idle_cfg, __ATOMIC_RELAXED) * 1000;
        if (idle_ms <= 0)
            idle_ms = -1; /* not set (unit tests): wait for a job */
        job = gw_queue_pop(q, idle_ms);
        if (job != NULL) {
            gw_work_run(job);
            continue;
        }
        /* NULL: woken by a stop (the check above decides), or idle */
        if (__atomic_load_n(&gw_work_stopping, __ATOMIC_ACQUIRE))
            continue;
        pthread_mutex_lock(&gw_work_lock);
        if (gw_work_live > gw_work_min && gw_queue_len(q) == 0) {
            gw_work_slot[slot] = GW_WORK_SLOT_LEFT;
            gw_work_live--;
            gw_work_changed(gw_work_live + 1, gw_work_live, "a thread idle for core.workers_idle_s");
            left = 1;
        }
        pthread_mutex_unlock(&gw_work_lock);
        if (left)
            return NULL;
    }
    pthread_mutex_lock(&gw_work_lock);
    gw_work_slot[slot] = GW_WORK_SLOT_LEFT;
    gw_work_live--;
    pthread_mutex_unlock(&gw_work_lock);
    gw_queue_wake(q); /* pass the stop on to a sibling still waiting */
    return NULL;
}

int gw_work_submit(gw_work_fn_t fn, void *arg)
{
    gw_work_job_t *job;
    int rc = GW_ESTOPPED;

    if (fn == NULL)
        return GW_EINVAL;
    job = malloc(sizeof(*job));
    if (job == NULL)
        return GW_ENOMEM;
    job->fn = fn;
    job->arg = arg;
    pthread_mutex_lock(&gw_work_lock);
    if (gw_work_q != NULL && !gw_work_stopping) {
        /* counted before the push: a thread may pop and uncount it at once */
        gw_stat_add(gw_work_st_queued, 1);
        rc = gw_queue_push(gw_work_q, job);
        if (rc < 0)
            gw_stat_add(gw_work_st_queued, -1);
        /* more jobs waiting than idle threads: one more thread, up to the max */
        int max = __atomic_load_n(&gw_work_max_cfg, __ATOMIC_RELAXED);
        if (rc == 0 && gw_work_live < max &&
            (int64_t)gw_queue_len(gw_work_q) > gw_work_live - gw_stat_get(gw_work_st_busy) &&
            gw_work_spawn() == 0)
            gw_work_changed(gw_work_live - 1, gw_work_live, "more jobs waiting than idle threads");
    }
    pthread_mutex_unlock(&gw_work_lock);
    if (rc < 0) {
        if (rc == GW_EFULL)
            gw_stat_add(gw_work_st_refused, 1);
        free(job); /* arg stays the caller's */
    }
    return rc;
}

int gw_work_start(void)
{
    int n = gw_config.workers, rc = 0, i;
    gw_queue_t *q;

    gw_work_st_queued = gw_stat_gauge("work.queued", "jobs waiting for a worker thread");
    gw_work_st_busy = gw_stat_gauge("work.busy", "worker threads running a job");
    gw_work_st_done = gw_stat("work.done", "jobs the worker pool ran");
    gw_work_st_refused = gw_stat("work.refused", "jobs refused because the pool queue was full");
    gw_work_st_threads = gw_stat_gauge("work.threads", "threads of the blocking-work pool");
    if (n < 1)
        n = 1;
    if (n > GW_WORK_MAX_THREADS)
        n = GW_WORK_MAX_THREADS;
    q = gw_queue_new(gw_config.work_queue > 0 ? (size_t)gw_config.work_queue : 1, free);
    if (q == NULL)
        return GW_ENOMEM;
    pthread_mutex_lock(&gw_work_lock);
    gw_work_q = q;
    gw_work_stopping = 0;
    gw_work_min = n;
    for (i = 0; i < n && rc == 0; i++) {
        if (gw_work_spawn() != 0) {
            GW_ERR("work", "cannot start worker thread %d of %d", i + 1, n);
            rc = GW_ERROR;
        }
    }
    gw_stat_set(gw_work_st_threads, gw_work_live);
    pthread_mutex_unlock(&gw_work_lock);
    if (rc < 0) {
        gw_work_stop(); /* nothing was submitted yet: only joins */
        return rc;
    }
    GW_DEBUG("work", "%d worker thread(s), at most %d jobs queued", n, gw_config.work_queue);
    return 0;
}

void gw_work_stop(void)
{
    gw_queue_t *q;
    int i;

    pthread_mutex_lock(&gw_work_lock);
    q = gw_work_q;
    __atomic_store_n(&gw_work_stopping, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&gw_work_lock);
    if (q == NULL)
        return;
    gw_queue_wake(q);
    for (i = 0; i < GW_WORK_MAX_THREADS; i++) {
        pthread_mutex_lock(&gw_work_lock);
        int used = gw_work_slot[i] != GW_WORK_SLOT_FREE;
        pthread_mutex_unlock(&gw_work_lock);
        if (used)
            pthread_join(gw_work_threads[i], NULL); /* no new thread starts while stopping */
        gw_work_slot[i] = GW_WORK_SLOT_FREE;
    }
    pthread_mutex_lock(&gw_work_lock);
    gw_work_q = NULL;
    pthread_mutex_unlock(&gw_work_lock);
    gw_queue_free(q); /* empty: the threads ran every job */
}

/* work.pool: the pool as it is, and its recent changes. */
static void gw_work_mi_pool(const json_t *params, gw_mi_reply_t *r)
{
    json_t *changes = json_array(), *o;
    unsigned i, n;

    (void)params;
    pthread_mutex_lock(&gw_work_lock);
    n = gw_work_nchanges < GW_WORK_CHANGES ? gw_work_nchanges : GW_WORK_CHANGES;
    for (i = 0; i < n; i++) {
        const gw_work_change_t *c = &gw_work_changes[(gw_work_nchanges - 1 - i) % GW_WORK_CHANGES];
        json_array_append_new(changes, json_pack("{s:I, s:i, s:i}", "ts", (json_int_t)c->ts_ms,
                                                 "from", c->from, "to", c->to));
    }
    o = json_pack("{s:i, s:i, s:i, s:I, s:I, s:o}", "min", gw_work_min, "max",
                  __atomic_load_n(&gw_work_max_cfg, __ATOMIC_RELAXED), "threads", gw_work_live,
                  "busy", (json_int_t)gw_stat_get(gw_work_st_busy), "queued",
                  (json_int_t)gw_stat_get(gw_work_st_queued), "changes", changes);
    pthread_mutex_unlock(&gw_work_lock);
    gw_mi_result(r, o);
}

static const gw_mi_cmd_t gw_work_mi_cmds[] = {
    { "work.pool", gw_work_mi_pool, "",
      "the blocking-work pool: {min, max, threads, busy, queued, changes: [{ts, from, to}]}",
      GW_ROLE_VIEWER, 0 },
    GW_MI_END,
};

int gw_work_mi_init(void)
{
    return gw_mi_register(gw_work_mi_cmds);
}
