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
/* Pop up to max items without waiting; returns how many. */
size_t gw_queue_pop_many(gw_queue_t *q, void **items, size_t max);
/* Wake a consumer blocked in gw_queue_pop. */
void gw_queue_wake(gw_queue_t *q);
size_t gw_queue_len(gw_queue_t *q);

#endif
