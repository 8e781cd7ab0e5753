/*
 * gw_work.h - a small fixed pool of threads for blocking work.
 *
 * Adapters never block: what would (an argon2id password check, a store
 * read) is handed to this pool as a function and its argument.  The
 * function runs on a pool thread and answers by pushing its result into
 * the caller's own queue; how it answers is the caller's business.
 *
 * The pool has core.workers threads (default 2), growing under load up to
 * core.workers_max and back after core.workers_idle_s, fed by one bounded
 * gw_queue_t of core.work_queue jobs.  Statistics: work.queued (jobs
 * waiting), work.busy (threads running a job), work.threads, work.done,
 * work.refused; MI work.pool.
 *
 * Threads: gw_work_submit from any thread; start and stop on the main
 * thread (start before the adapters start, stop after they stopped).
 */
#ifndef GW_WORK_H
#define GW_WORK_H

/* A job: runs once on a pool thread and owns arg from then on. */
typedef void (*gw_work_fn_t)(void *arg);

/* Queue fn(arg).  Returns 0, or GW_EFULL (core.work_queue jobs waiting),
 * GW_ESTOPPED (not started, or stopping) or GW_ENOMEM; then fn never runs
 * and arg stays the caller's.  Any thread. */
int gw_work_submit(gw_work_fn_t fn, void *arg);

/* Start core.workers threads.  0, or GW_ENOMEM / GW_ERROR with nothing
 * left running.  Main thread. */
int gw_work_start(void);

/* Refuse new jobs, run every job already queued (a job owns its argument
 * and only fn knows how to free it or whom to answer, so none is
 * dropped), then join the threads.  Safe when never started.  Main
 * thread. */
void gw_work_stop(void);

/* core.workers_max, core.workers_idle_s; GW_PARAM_END-terminated. */
#include "gw_param.h"
extern const gw_param_t gw_work_params[];

/* Register work.pool.  Main thread, at start. */
int gw_work_mi_init(void);

#endif
