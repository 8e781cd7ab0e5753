/*
 * sip_wheel.c - the hashed timer wheel of sip_wheel.h.
 *
 * Ownership and threads: see sip_wheel.h.
 */
#include <time.h>

#include "sip_wheel.h"

static int64_t sip_wheel_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sip_wheel_ring(sip_wheel_node_t *s)
{
    s->next = s->prev = s;
}

static void sip_wheel_unlink(sip_wheel_node_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}

static void sip_wheel_push(sip_wheel_node_t *ring, sip_wheel_node_t *n)
{
    n->prev = ring->prev;
    n->next = ring;
    ring->prev->next = n;
    ring->prev = n;
}

static void sip_wheel_on_tick(evutil_socket_t fd, short what, void *arg)
{
    sip_wheel_t *wh = arg;
    int64_t now = sip_wheel_now();
    sip_wheel_node_t *n;
    (void)fd;
    (void)what;

    sip_wheel_collect(wh, now);
    while ((n = sip_wheel_pop(wh)) != NULL)
        wh->fire(wh, n, now);
    if (wh->count == 0)
        event_del(wh->tick); /* idle: no wakes until the next arm */
}

int sip_wheel_init(sip_wheel_t *wh, int64_t now, struct event_base *base, sip_wheel_fire_fn fire,
                   void *arg)
{
    int rc = 0;

    for (int i = 0; i < SIP_WHEEL_SLOTS; i++)
        sip_wheel_ring(&wh->slots[i]);
    sip_wheel_ring(&wh->due);
    wh->cursor = now / SIP_WHEEL_GRAIN_MS;
    wh->count = 0;
    wh->fire = fire;
    wh->arg = arg;
    wh->tick = NULL;
    if (base && !(wh->tick = event_new(base, -1, EV_PERSIST, sip_wheel_on_tick, wh)))
        rc = -1;
    return rc;
}

void sip_wheel_free(sip_wheel_t *wh)
{
    if (wh->tick)
        event_free(wh->tick);
    wh->tick = NULL;
}

void sip_wheel_arm(sip_wheel_t *wh, sip_wheel_node_t *n, int64_t at, int64_t now)
{
    int64_t slot = (at + SIP_WHEEL_GRAIN_MS - 1) / SIP_WHEEL_GRAIN_MS;

    if (n->prev)
        sip_wheel_unlink(n);
    else if (wh->count++ == 0) {
        /* the first one: the cursor stood still while nothing was armed */
        if (wh->cursor < now / SIP_WHEEL_GRAIN_MS)
            wh->cursor = now / SIP_WHEEL_GRAIN_MS;
        if (wh->tick && !event_pending(wh->tick, EV_TIMEOUT, NULL)) {
            struct timeval tv = {0, SIP_WHEEL_GRAIN_MS * 1000};
            event_add(wh->tick, &tv);
        }
    }
    if (slot < wh->cursor) /* past, or in a grain already collected */
        slot = wh->cursor;
    n->slot = slot;
    sip_wheel_push(&wh->slots[slot % SIP_WHEEL_SLOTS], n);
}

void sip_wheel_disarm(sip_wheel_t *wh, sip_wheel_node_t *n)
{
    if (!n->prev)
        return;
    sip_wheel_unlink(n);
    wh->count--;
}

int sip_wheel_collect(sip_wheel_t *wh, int64_t now)
{
    int64_t end = now / SIP_WHEEL_GRAIN_MS;
    int moved = 0;

    /* a wheel idle for more than a ring has nothing to collect twice */
    if (end - wh->cursor >= SIP_WHEEL_SLOTS)
        wh->cursor = end - SIP_WHEEL_SLOTS + 1;
    for (; wh->cursor <= end && wh->count > 0; wh->cursor++) {
        sip_wheel_node_t *s = &wh->slots[wh->cursor % SIP_WHEEL_SLOTS], *n = s->next;
        while (n != s) {
            sip_wheel_node_t *next = n->next;
            if (n->slot <= end) { /* else a later round's */
                sip_wheel_unlink(n);
                sip_wheel_push(&wh->due, n);
                moved++;
            }
            n = next;
        }
    }
    if (wh->cursor <= end)
        wh->cursor = end + 1;
    return moved;
}

sip_wheel_node_t *sip_wheel_pop(sip_wheel_t *wh)
{
    sip_wheel_node_t *n = wh->due.next;

    if (n == &wh->due)
        return NULL;
    sip_wheel_unlink(n);
    wh->count--;
    return n;
}
