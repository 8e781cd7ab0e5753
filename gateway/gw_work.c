/*
 * gw_work.c - the worker pool behind gw_work.h.
 *
 * Jobs (fn, arg) wait in gw_work_q, a bounded gw_queue_t drained by
 * core.workers threads blocked in gw_queue_pop: the queue's mutex makes
 * several consumers safe, and a push signals one of them.
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
#include <pthread.h>
#include <stdlib.h>

#include "gw_config.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_queue.h"
#include "gw_stats.h"
#include "gw_work.h"

#define GW_WORK_MAX_THREADS 64

typedef struct gw_work_job {
    gw_work_fn_t fn;
    void *arg; /* fn's once it runs */
} gw_work_job_t;

/* gw_work_lock guards gw_work_q's life (created in start, freed in stop)
 * and gw_work_stopping; the threads read the flag atomically. */
static pthread_mutex_t gw_work_lock = PTHREAD_MUTEX_INITIALIZER;
static gw_queue_t *gw_work_q;
static int gw_work_stopping;
static pthread_t gw_work_threads[GW_WORK_MAX_THREADS];
static int gw_work_nthreads;
static gw_stat_t *gw_work_st_queued, *gw_work_st_busy, *gw_work_st_done, *gw_work_st_refused;

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
    gw_queue_t *q = arg;
    gw_work_job_t *job;

    for (;;) {
        if (__atomic_load_n(&gw_work_stopping, __ATOMIC_ACQUIRE) && gw_queue_len(q) == 0)
            break;
        job = gw_queue_pop(q, -1);
        if (job != NULL)
            gw_work_run(job);
        /* NULL: woken by a stop; the check above decides */
    }
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
    int n = gw_config.workers, rc = 0;
    gw_queue_t *q;

    gw_work_st_queued = gw_stat_gauge("work.queued", "jobs waiting for a worker thread");
    gw_work_st_busy = gw_stat_gauge("work.busy", "worker threads running a job");
    gw_work_st_done = gw_stat("work.done", "jobs the worker pool ran");
    gw_work_st_refused = gw_stat("work.refused", "jobs refused because the pool queue was full");
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
    pthread_mutex_unlock(&gw_work_lock);
    for (gw_work_nthreads = 0; gw_work_nthreads < n; gw_work_nthreads++) {
        if (pthread_create(&gw_work_threads[gw_work_nthreads], NULL, gw_work_main, q) != 0) {
            GW_ERR("work", "cannot start worker thread %d of %d", gw_work_nthreads + 1, n);
            rc = GW_ERROR;
            break;
        }
        pthread_setname_np(gw_work_threads[gw_work_nthreads], "work"); /* top -H, perf */
    }
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
    for (i = 0; i < gw_work_nthreads; i++)
        pthread_join(gw_work_threads[i], NULL);
    gw_work_nthreads = 0;
    pthread_mutex_lock(&gw_work_lock);
    gw_work_q = NULL;
    pthread_mutex_unlock(&gw_work_lock);
    gw_queue_free(q); /* empty: the threads ran every job */
}
