/*
 * gw_queue.h - the only way work crosses threads.
 *
 * A gw_queue_t is a bounded multi-producer single-consumer FIFO of void
 * pointers guarded by one mutex (q->lock, private).  A consumer either runs
 * a libevent loop (gw_queue_attach: an eventfd wakes the loop, which drains
 * the queue and calls fn for each item on the loop's thread) or blocks in
 * gw_queue_pop (db writer, AMQP threads).
 *
 * Ownership: a pushed item belongs to the queue until popped; on
 * gw_queue_free the remaining items are handed to the free function given
 * at creation (may be NULL when items own nothing).
 */
#ifndef GW_QUEUE_H
#define GW_QUEUE_H

#include <stddef.h>

struct event_base;
typedef struct gw_queue gw_queue_t;
typedef void (*gw_queue_fn_t)(void *item, void *arg);

/* A new libevent loop for a thread that serves sockets and queues: on
 * epoll, changes of a loop pass are applied together before its wait (a
 * write event enabled and disabled again in one pass costs no epoll_ctl).
 * Safe because no descriptor here is dup()ed.  NULL when out of memory. */
struct event_base *gw_queue_base_new(void);

/* cap = 0 means unbounded.  Returns NULL on allocation failure. */
gw_queue_t *gw_queue_new(size_t cap, void (*free_item)(void *item));
void gw_queue_free(gw_queue_t *q);

/* Deliver items to fn on the thread running base.  Call once, before any
 * push from another thread.  Returns 0 or GW_ERROR. */
int gw_queue_attach(gw_queue_t *q, struct event_base *base, gw_queue_fn_t fn, void *arg);

/* Any thread.  Returns 0, GW_EFULL when bounded and full (the item stays
 * the caller's), or GW_ENOMEM. */
int gw_queue_push(gw_queue_t *q, void *item);

/* Blocking consumers only.  Waits up to timeout_ms (-1: forever) for one
 * item; returns it or NULL on timeout / after gw_queue_wake. */
void *gw_queue_pop(gw_queue_t *q, int timeout_ms);
/* The one blocking consumer: wait up to timeout_us until the queue holds
 * len items (pushes before that do not wake it).  Returns 1 when it
 * does, 0 on timeout or after gw_queue_wake.  Pops nothing. */
int gw_queue_wait_len(gw_queue_t *q, size_t len, int timeout_us);
/* Pop up to max items without waiting; returns how many. */
size_t gw_queue_pop_many(gw_queue_t *q, void **items, size_t max);
/* Wake a consumer blocked in gw_queue_pop. */
void gw_queue_wake(gw_queue_t *q);
size_t gw_queue_len(gw_queue_t *q);

/* Hold this thread's wake-ups of libevent consumers until the matching
 * release (nested holds: the outermost): a burst of pushes to a loop
 * costs it one wake-up however its consumer drains meanwhile.  Items are
 * in their queues at once; only the eventfd write waits.  Between the two
 * the thread must not block or wait for a consumer it pushed to. */
void gw_queue_hold(void);
void gw_queue_release(void);

#endif
