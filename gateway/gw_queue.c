/*
 * gw_queue.c - bounded MPSC queue with an eventfd or condvar wake-up.
 *
 * Items live in a singly linked list of nodes under q->lock.  A libevent
 * consumer gets an eventfd registered on its base; a push writes to it only
 * when the queue goes from empty to non-empty (q->signalled), so a burst
 * costs one wake-up.  A blocking consumer waits on q->cond.
 *
 * Held wake-ups (gw_queue_hold / gw_queue_release): a thread that pushes
 * a burst to several loops (the db writer answering a committed group)
 * holds; its pushes then note each queue that needs a wake-up once, and
 * the release writes each eventfd once.  A held queue is referenced
 * (q->refs) until the release, so a gw_queue_free meanwhile only detaches
 * it from its loop and frees its items; the last reference closes it.
 *
 * A blocking consumer that gathers a group (the db writer) waits for a
 * length instead of one item (gw_queue_wait_len): q->want says how many,
 * and pushes signal q->cond only once the queue holds that many, so the
 * gathering costs one wake-up, not one per push.
 *
 * Threads: push from any thread; the consumer is one thread; the hold is
 * the calling thread's own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "gw_errors.h"
#include "gw_queue.h"

typedef struct gw_qnode {
    struct gw_qnode *next;
    void *item;
} gw_qnode_t;

struct gw_queue {
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;
    gw_qnode_t *head, *tail;
    size_t len, cap;
    size_t want;          /* a push signals q->cond once len reaches it (1) */
    int signalled;
    int woken;
    int refs;             /* atomic: the owner's and each hold's */
    void (*free_item)(void *);
    /* libevent consumer */
    int efd;
    struct event *ev;
    gw_queue_fn_t fn;
    void *arg;
};

struct event_base *gw_queue_base_new(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base = NULL;

    if (cfg != NULL) {
        event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        base = event_base_new_with_config(cfg);
        event_config_free(cfg);
    }
    return base != NULL ? base : event_base_new();
}

gw_queue_t *gw_queue_new(size_t cap, void (*free_item)(void *item))
{
    gw_queue_t *q = calloc(1, sizeof(*q));

    if (q == NULL)
        return NULL;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->cap = cap;
    q->free_item = free_item;
    q->efd = -1;
    q->refs = 1;
    q->want = 1;
    return q;
}

static void gw_queue_unref(gw_queue_t *q)
{
    if (__atomic_sub_fetch(&q->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    if (q->efd >= 0)
        close(q->efd);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

/* The calling thread's hold: how deep, and the queues whose wake-up waits
 * for the release (each once, referenced). */
#define GW_QUEUE_HELD_MAX 32
static __thread int gw_queue_holding;
static __thread int gw_queue_nheld;
static __thread gw_queue_t *gw_queue_held[GW_QUEUE_HELD_MAX];

void gw_queue_hold(void)
{
    gw_queue_holding++;
}

/* Write q's eventfd: its loop wakes and drains. */
static void gw_queue_kick(gw_queue_t *q)
{
    uint64_t one = 1;

    if (write(q->efd, &one, sizeof(one)) < 0) {
        /* the counter cannot overflow in practice; a failed write still
         * leaves the eventfd readable from an earlier signal */
    }
}

void gw_queue_release(void)
{
    if (gw_queue_holding == 0 || --gw_queue_holding > 0)
        return;
    for (int i = 0; i < gw_queue_nheld; i++) {
        gw_queue_kick(gw_queue_held[i]);
        gw_queue_unref(gw_queue_held[i]);
    }
    gw_queue_nheld = 0;
}

/* A wake-up of q is due: now, or at the release when this thread holds
 * (q noted once; a full list wakes now). */
static void gw_queue_signal(gw_queue_t *q)
{
    if (gw_queue_holding > 0) {
        for (int i = 0; i < gw_queue_nheld; i++)
            if (gw_queue_held[i] == q)
                return;
        if (gw_queue_nheld < GW_QUEUE_HELD_MAX) {
            __atomic_add_fetch(&q->refs, 1, __ATOMIC_ACQ_REL);
            gw_queue_held[gw_queue_nheld++] = q;
            return;
        }
    }
    gw_queue_kick(q);
}

void gw_queue_free(gw_queue_t *q)
{
    gw_qnode_t *n, *next;

    if (q == NULL)
        return;
    if (q->ev)
        event_free(q->ev);
    q->ev = NULL;
    pthread_mutex_lock(&q->lock);
    n = q->head;
    q->head = q->tail = NULL;
    q->len = 0;
    pthread_mutex_unlock(&q->lock);
    for (; n; n = next) {
        next = n->next;
        if (q->free_item)
            q->free_item(n->item);
        free(n);
    }
    gw_queue_unref(q); /* a hold's reference keeps the eventfd until its release */
}

/* The event callback: drain everything queued so far, in order. */
static void gw_queue_on_event(evutil_socket_t fd, short what, void *arg)
{
    gw_queue_t *q = arg;
    gw_qnode_t *list, *n;
    uint64_t v;

    (void)what;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&q->lock);
    list = q->head;
    q->head = q->tail = NULL;
    q->len = 0;
    q->signalled = 0;
    pthread_mutex_unlock(&q->lock);
    while (list) {
        n = list;
        list = n->next;
        q->fn(n->item, q->arg);
        free(n);
    }
}

int gw_queue_attach(gw_queue_t *q, struct event_base *base, gw_queue_fn_t fn, void *arg)
{
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0)
        return GW_ERROR;
    q->fn = fn;
    q->arg = arg;
    q->ev = event_new(base, q->efd, EV_READ | EV_PERSIST, gw_queue_on_event, q);
    if (q->ev == NULL || event_add(q->ev, NULL) != 0)
        return GW_ERROR;
    return GW_OK;
}

int gw_queue_push(gw_queue_t *q, void *item)
{
    gw_qnode_t *n;
    int wake = 0;

    n = malloc(sizeof(*n));
    if (n == NULL)
        return GW_ENOMEM;
    n->next = NULL;
    n->item = item;
    pthread_mutex_lock(&q->lock);
    if (q->cap && q->len >= q->cap) {
        pthread_mutex_unlock(&q->lock);
        free(n);
        return GW_EFULL;
    }
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->len++;
    if (q->efd >= 0 && !q->signalled) {
        q->signalled = 1;
        wake = 1;
    }
    if (q->len >= q->want)
        pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    if (wake)
        gw_queue_signal(q);
    return GW_OK;
}

static void *gw_queue_take_locked(gw_queue_t *q)
{
    gw_qnode_t *n = q->head;
    void *item;

    q->head = n->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->len--;
    item = n->item;
    free(n);
    return item;
}

void *gw_queue_pop(gw_queue_t *q, int timeout_ms)
{
    struct timespec ts;
    void *item = NULL;

    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&q->lock);
    while (q->head == NULL && !q->woken) {
        if (timeout_ms < 0)
            pthread_cond_wait(&q->cond, &q->lock);
        else if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT)
            break;
    }
    q->woken = 0;
    if (q->head)
        item = gw_queue_take_locked(q);
    pthread_mutex_unlock(&q->lock);
    return item;
}

int gw_queue_wait_len(gw_queue_t *q, size_t len, int timeout_us)
{
    struct timespec ts;
    int reached;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)timeout_us * 1000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&q->lock);
    q->want = len > 0 ? len : 1;
    while (q->len < q->want && !q->woken)
        if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT)
            break;
    reached = q->len >= q->want;
    q->want = 1;
    pthread_mutex_unlock(&q->lock);
    return reached;
}

size_t gw_queue_pop_many(gw_queue_t *q, void **items, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&q->lock);
    while (n < max && q->head)
        items[n++] = gw_queue_take_locked(q);
    pthread_mutex_unlock(&q->lock);
    return n;
}

void gw_queue_wake(gw_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->woken = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

size_t gw_queue_len(gw_queue_t *q)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}
