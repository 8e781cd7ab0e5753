/*
 * sip_wheel.h - a hashed timer wheel: each worker's proxy transactions wait
 * for their next RFC 3261 timer here instead of in libevent's heap (tens of
 * thousands of lingering transactions made every event_add a walk through
 * a heap too big for the cache, and every transaction its own wake).
 *
 * A node sits in the slot of its deadline rounded up to SIP_WHEEL_GRAIN_MS;
 * the slots are a ring of SIP_WHEEL_SLOTS, so a deadline further than the
 * ring waits in its slot for its round.  One persistent libevent timer per
 * wheel ticks every grain while a node is armed: a timer fires at most two
 * grains late, and all timers due in one grain fire in one wake.
 *
 * Ownership: the wheel owns its slots and its tick; the nodes are the
 * caller's, embedded in what they time.
 * Threads: one thread (the worker's) for all of a wheel's calls.
 */
#ifndef SIP_WHEEL_H
#define SIP_WHEEL_H

#include <stdint.h>

#include <event2/event.h>

#define SIP_WHEEL_GRAIN_MS 16
#define SIP_WHEEL_SLOTS    4096 /* 65.5 s of grains */

typedef struct sip_wheel_node {
    struct sip_wheel_node *next, *prev; /* prev NULL: not armed */
    int64_t slot;                       /* the grain it is due in */
} sip_wheel_node_t;

struct sip_wheel;
/* A node came due at now; it is disarmed (the callback may arm it again,
 * or free what holds it). */
typedef void (*sip_wheel_fire_fn)(struct sip_wheel *wh, sip_wheel_node_t *n, int64_t now);

typedef struct sip_wheel {
    sip_wheel_node_t slots[SIP_WHEEL_SLOTS]; /* sentinels of the rings */
    sip_wheel_node_t due;                    /* collected, not fired yet */
    int64_t cursor;                          /* the next grain to collect */
    int count;                               /* armed nodes */
    struct event *tick;                      /* NULL: driven by the caller */
    sip_wheel_fire_fn fire;
    void *arg;                               /* the owner's */
} sip_wheel_t;

/* Empty wheel at monotonic ms now; with base, its own tick calls fire
 * (0, or -1 without memory); without, the caller calls sip_wheel_collect
 * and sip_wheel_pop. */
int sip_wheel_init(sip_wheel_t *wh, int64_t now, struct event_base *base, sip_wheel_fire_fn fire,
                   void *arg);
/* Free the tick; the nodes still armed are the caller's to drop. */
void sip_wheel_free(sip_wheel_t *wh);
/* Arm n for at (ms; a time already past fires at the next tick), moving
 * it when it was armed; now is the caller's clock (with a tick of the
 * wheel's own: CLOCK_MONOTONIC ms). */
void sip_wheel_arm(sip_wheel_t *wh, sip_wheel_node_t *n, int64_t at, int64_t now);
/* Disarm n (nothing when it is not armed). */
void sip_wheel_disarm(sip_wheel_t *wh, sip_wheel_node_t *n);
static inline int sip_wheel_armed(const sip_wheel_node_t *n) { return n->prev != 0; }
/* Move every node due at now to the due list; how many are there. */
int sip_wheel_collect(sip_wheel_t *wh, int64_t now);
/* The first due node, disarmed, or NULL. */
sip_wheel_node_t *sip_wheel_pop(sip_wheel_t *wh);

#endif
