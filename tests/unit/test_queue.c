/*
 * test_queue.c - the cross-thread queue: order, bounds, blocking pop,
 * many producers, and delivery on a libevent loop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <event2/event.h>

#include "gateway/gw_errors.h"
#include "gateway/gw_queue.h"

static void items_come_out_in_push_order(void **state)
{
    gw_queue_t *q = gw_queue_new(0, NULL);
    intptr_t i;

    (void)state;
    for (i = 1; i <= 100; i++)
        assert_int_equal(gw_queue_push(q, (void *)i), GW_OK);
    assert_int_equal(gw_queue_len(q), 100);
    for (i = 1; i <= 100; i++)
        assert_int_equal((intptr_t)gw_queue_pop(q, 0), i);
    assert_null(gw_queue_pop(q, 0));
    gw_queue_free(q);
}

static void a_full_bounded_queue_refuses_and_keeps_the_item_with_the_caller(void **state)
{
    gw_queue_t *q = gw_queue_new(2, NULL);

    (void)state;
    assert_int_equal(gw_queue_push(q, (void *)1), GW_OK);
    assert_int_equal(gw_queue_push(q, (void *)2), GW_OK);
    assert_int_equal(gw_queue_push(q, (void *)3), GW_EFULL);
    assert_int_equal((intptr_t)gw_queue_pop(q, 0), 1);
    assert_int_equal(gw_queue_push(q, (void *)3), GW_OK);
    gw_queue_free(q);
}

static void pop_times_out_empty_and_wake_releases_a_waiter(void **state)
{
    gw_queue_t *q = gw_queue_new(0, NULL);

    (void)state;
    assert_null(gw_queue_pop(q, 20));
    gw_queue_wake(q);
    assert_null(gw_queue_pop(q, -1)); /* returns at once after a wake */
    gw_queue_free(q);
}

typedef struct wait_ctx {
    gw_queue_t *q;
    int n;
} wait_ctx_t;

static void *push_n(void *arg)
{
    wait_ctx_t *c = arg;

    for (intptr_t i = 1; i <= c->n; i++)
        gw_queue_push(c->q, (void *)i);
    return NULL;
}

/* A wait for a length returns 1 once the queue holds it (pushed by
 * another thread), 0 when it times out short of it or after a wake; it
 * pops nothing, and the queue signals single pops again afterwards. */
static void wait_len_returns_at_the_length_and_times_out_short_of_it(void **state)
{
    gw_queue_t *q = gw_queue_new(0, NULL);
    wait_ctx_t c = { q, 5 };
    pthread_t t;

    (void)state;
    pthread_create(&t, NULL, push_n, &c);
    assert_int_equal(gw_queue_wait_len(q, 5, 10 * 1000 * 1000), 1);
    pthread_join(t, NULL);
    assert_int_equal(gw_queue_len(q), 5);
    assert_int_equal(gw_queue_wait_len(q, 6, 20 * 1000), 0);
    void *items[8];
    assert_int_equal(gw_queue_pop_many(q, items, 8), 5);
    gw_queue_wake(q);
    assert_int_equal(gw_queue_wait_len(q, 1, 10 * 1000 * 1000), 0);
    assert_null(gw_queue_pop(q, -1)); /* the wake is the pop's too */
    c.n = 1;
    pthread_create(&t, NULL, push_n, &c);
    assert_int_equal((intptr_t)gw_queue_pop(q, 10 * 1000), 1);
    pthread_join(t, NULL);
    gw_queue_free(q);
}

static int freed;
static void count_free(void *item)
{
    (void)item;
    freed++;
}

static void free_hands_leftovers_to_the_free_function(void **state)
{
    gw_queue_t *q = gw_queue_new(0, count_free);

    (void)state;
    freed = 0;
    gw_queue_push(q, (void *)1);
    gw_queue_push(q, (void *)2);
    gw_queue_free(q);
    assert_int_equal(freed, 2);
}

#define PRODUCERS 4
#define PER_PRODUCER 20000

static void *producer(void *arg)
{
    gw_queue_t *q = arg;
    intptr_t i;

    for (i = 1; i <= PER_PRODUCER; i++)
        while (gw_queue_push(q, (void *)i) != GW_OK)
            ;
    return NULL;
}

static void many_producers_lose_nothing(void **state)
{
    gw_queue_t *q = gw_queue_new(1000, NULL);
    pthread_t t[PRODUCERS];
    long long sum = 0, want = (long long)PRODUCERS * PER_PRODUCER * (PER_PRODUCER + 1) / 2;
    void *items[64];
    size_t n, got = 0, k;
    int i;

    (void)state;
    for (i = 0; i < PRODUCERS; i++)
        pthread_create(&t[i], NULL, producer, q);
    while (got < (size_t)PRODUCERS * PER_PRODUCER) {
        void *first = gw_queue_pop(q, 1000);
        assert_non_null(first);
        sum += (intptr_t)first;
        got++;
        n = gw_queue_pop_many(q, items, 64);
        for (k = 0; k < n; k++)
            sum += (intptr_t)items[k];
        got += n;
    }
    for (i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sum, want);
    gw_queue_free(q);
}

typedef struct loop_ctx {
    struct event_base *base;
    int seen;
} loop_ctx_t;

static void on_item(void *item, void *arg)
{
    loop_ctx_t *c = arg;

    c->seen++;
    if ((intptr_t)item == 3)
        event_base_loopbreak(c->base);
}

static void an_attached_loop_gets_every_pushed_item_in_one_wakeup(void **state)
{
    loop_ctx_t c = { event_base_new(), 0 };
    gw_queue_t *q = gw_queue_new(0, NULL);
    (void)state;
    assert_int_equal(gw_queue_attach(q, c.base, on_item, &c), GW_OK);
    gw_queue_push(q, (void *)1);
    gw_queue_push(q, (void *)2);
    gw_queue_push(q, (void *)3);
    event_base_dispatch(c.base);
    assert_int_equal(c.seen, 3);
    gw_queue_free(q);
    event_base_free(c.base);
}

static void count_item(void *item, void *arg)
{
    (void)item;
    ((loop_ctx_t *)arg)->seen++;
}

/* Pushes to two loops under a hold wake neither until the release; then
 * each gets its items, in one drain. */
static void held_pushes_wake_each_loop_once_at_the_release(void **state)
{
    loop_ctx_t a = { event_base_new(), 0 }, b = { event_base_new(), 0 };
    gw_queue_t *qa = gw_queue_new(0, NULL), *qb = gw_queue_new(0, NULL);
    (void)state;
    assert_int_equal(gw_queue_attach(qa, a.base, count_item, &a), GW_OK);
    assert_int_equal(gw_queue_attach(qb, b.base, count_item, &b), GW_OK);
    gw_queue_hold();
    gw_queue_hold(); /* nested: the outer release counts */
    for (intptr_t i = 1; i <= 5; i++) {
        gw_queue_push(qa, (void *)i);
        gw_queue_push(qb, (void *)i);
    }
    gw_queue_release();
    event_base_loop(a.base, EVLOOP_NONBLOCK);
    event_base_loop(b.base, EVLOOP_NONBLOCK);
    assert_int_equal(a.seen, 0); /* no eventfd written yet */
    assert_int_equal(b.seen, 0);
    gw_queue_release();
    event_base_loop(a.base, EVLOOP_NONBLOCK);
    event_base_loop(b.base, EVLOOP_NONBLOCK);
    assert_int_equal(a.seen, 5);
    assert_int_equal(b.seen, 5);
    /* not holding: a push wakes at once again */
    gw_queue_push(qa, (void *)6);
    event_base_loop(a.base, EVLOOP_NONBLOCK);
    assert_int_equal(a.seen, 6);
    gw_queue_free(qa);
    gw_queue_free(qb);
    event_base_free(a.base);
    event_base_free(b.base);
}

/* A queue freed while a hold still has its wake-up due: the items go to
 * the free function, and the release touches nothing freed (valgrind and
 * the allocation-wrapping build see it). */
static void a_queue_freed_during_a_hold_is_released_safely(void **state)
{
    loop_ctx_t a = { event_base_new(), 0 };
    gw_queue_t *q = gw_queue_new(0, free);
    (void)state;
    assert_int_equal(gw_queue_attach(q, a.base, count_item, &a), GW_OK);
    gw_queue_hold();
    gw_queue_push(q, malloc(8));
    gw_queue_free(q);
    gw_queue_release();
    event_base_loop(a.base, EVLOOP_NONBLOCK);
    assert_int_equal(a.seen, 0);
    event_base_free(a.base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(items_come_out_in_push_order),
        cmocka_unit_test(a_full_bounded_queue_refuses_and_keeps_the_item_with_the_caller),
        cmocka_unit_test(pop_times_out_empty_and_wake_releases_a_waiter),
        cmocka_unit_test(wait_len_returns_at_the_length_and_times_out_short_of_it),
        cmocka_unit_test(free_hands_leftovers_to_the_free_function),
        cmocka_unit_test(many_producers_lose_nothing),
        cmocka_unit_test(an_attached_loop_gets_every_pushed_item_in_one_wakeup),
        cmocka_unit_test(held_pushes_wake_each_loop_once_at_the_release),
        cmocka_unit_test(a_queue_freed_during_a_hold_is_released_safely),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
