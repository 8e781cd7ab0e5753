/*
 * test_rt_bucket.c - behaviour of the token bucket (router/rt_bucket.c): the
 * burst, the refill rate, refusals that change nothing, and the limit held by
 * four threads taking at once on a simulated clock.
 *
 * No I/O; the clock is a counter the tests advance.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdatomic.h>
#include <pthread.h>
#include <cmocka.h>

#include "router/rt_bucket.h"

#define T0 1767225600000000LL  /* 2026-01-01 in unix µs: a realistic clock */

static void test_full_bucket_lets_the_burst_through(void **state)
{
    (void)state;
    rt_bucket_t *b = rt_bucket_new(10, 5);
    int allowed = 0;
    assert_non_null(b);
    for (int i = 0; i < 20; i++)
        allowed += rt_bucket_take(b, T0);
    assert_int_equal(allowed, 5);
    rt_bucket_free(b);
}

static void test_refills_at_the_rate(void **state)
{
    (void)state;
    rt_bucket_t *b = rt_bucket_new(10, 5);  /* one token per 100 ms */
    for (int i = 0; i < 5; i++)
        assert_int_equal(rt_bucket_take(b, T0), 1);
    assert_int_equal(rt_bucket_take(b, T0 + 99999), 0);
    assert_int_equal(rt_bucket_take(b, T0 + 100000), 1);
    assert_int_equal(rt_bucket_take(b, T0 + 100000), 0);
    /* an idle second refills to the burst, not beyond */
    int allowed = 0;
    for (int i = 0; i < 20; i++)
        allowed += rt_bucket_take(b, T0 + 10000000);
    assert_int_equal(allowed, 5);
    rt_bucket_free(b);
}

static void test_refusals_do_not_delay_the_next_token(void **state)
{
    (void)state;
    rt_bucket_t *b = rt_bucket_new(1000, 1);  /* one per ms */
    assert_int_equal(rt_bucket_take(b, T0), 1);
    for (int us = 1; us < 1000; us++)
        assert_int_equal(rt_bucket_take(b, T0 + us), 0);
    assert_int_equal(rt_bucket_take(b, T0 + 1000), 1);
    rt_bucket_free(b);
}

static void test_steady_overload_allows_burst_plus_rate_times_elapsed(void **state)
{
    (void)state;
    rt_bucket_t *b = rt_bucket_new(2500, 50);
    long allowed = 0;
    for (int64_t us = 0; us <= 4000000; us += 50)  /* 20,000/s offered for 4 s */
        allowed += rt_bucket_take(b, T0 + us);
    assert_int_equal(allowed, 50 + 2500 * 4);
    rt_bucket_free(b);
}

static void test_bad_parameters_are_refused(void **state)
{
    (void)state;
    assert_null(rt_bucket_new(0, 10));
    assert_null(rt_bucket_new(-1, 10));
    assert_null(rt_bucket_new(10, 0.5));
    assert_null(rt_bucket_new(1.0 / 0.0, 10));
    assert_null(rt_bucket_new(10, 0.0 / 0.0));
    rt_bucket_free(NULL);
}

static void test_reserve_with_a_token_is_due_now(void **state)
{
    (void)state;
    rt_bucket_t *b = rt_bucket_new(10, 2);
    assert_int_equal(rt_bucket_reserve(b, T0), T0);
    assert_int_equal(rt_bucket_reserve(b, T0), T0);
    /* the burst is spent: a take is refused, as after two takes */
    assert_int_equal(rt_bucket_take(b, T0), 0);
    rt_bucket_free(b);
}

static void test_reservations_fall_due_one_interval_apart(void **state)
{
    (void)state;
    rt_bucket_t *b = rt_bucket_new(20, 1);  /* one per 50 ms */
    for (int i = 0; i < 60; i++)
        assert_int_equal(rt_bucket_reserve(b, T0), T0 + (int64_t)i * 50000);
    /* the schedule is booked: a take before the last reservation is due
     * is refused, one interval after it a token is there again */
    assert_int_equal(rt_bucket_take(b, T0 + 59 * 50000), 0);
    assert_int_equal(rt_bucket_take(b, T0 + 60 * 50000), 1);
    rt_bucket_free(b);
}

static void test_reservation_after_idle_time_is_due_at_once(void **state)
{
    (void)state;
    rt_bucket_t *b = rt_bucket_new(10, 1);
    assert_int_equal(rt_bucket_reserve(b, T0), T0);
    assert_int_equal(rt_bucket_reserve(b, T0 + 30000), T0 + 100000);
    /* long after the booked token: the bucket is full again */
    assert_int_equal(rt_bucket_reserve(b, T0 + 5000000), T0 + 5000000);
    rt_bucket_free(b);
}

typedef struct test_take {
    rt_bucket_t *b;
    atomic_llong *clock;   /* µs since T0, one tick per attempt of any thread */
    long long end;
    long allowed;
    long long min_now, max_now;  /* of the allowed takes */
} test_take_t;

static void *test_taker(void *arg)
{
    test_take_t *t = arg;
    t->min_now = INT64_MAX;
    t->max_now = 0;
    for (;;) {
        long long now = atomic_fetch_add(t->clock, 1);
        if (now >= t->end)
            break;
        if (rt_bucket_take(t->b, T0 + now)) {
            t->allowed++;
            if (now < t->min_now)
                t->min_now = now;
            if (now > t->max_now)
                t->max_now = now;
        }
    }
    return NULL;
}

static void test_concurrent_takers_hold_the_limit(void **state)
{
    (void)state;
    const double rate = 100000, burst = 100;  /* offered: 1,000,000/s, ten times the rate */
    atomic_llong clock = 0;
    test_take_t t[4] = { { 0 } };
    pthread_t th[4];
    rt_bucket_t *b = rt_bucket_new(rate, burst);
    long allowed = 0;
    long long lo = INT64_MAX, hi = 0;

    for (int i = 0; i < 4; i++) {
        t[i].b = b;
        t[i].clock = &clock;
        t[i].end = 2000000;  /* 2 simulated seconds */
        assert_int_equal(pthread_create(&th[i], NULL, test_taker, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        allowed += t[i].allowed;
        lo = t[i].min_now < lo ? t[i].min_now : lo;
        hi = t[i].max_now > hi ? t[i].max_now : hi;
    }
    double bound = burst + rate * (double)(hi - lo) / 1e6;
    assert_true((double)allowed <= bound);
    /* a taker preempted between reading the clock and taking loses its turn:
     * allow 1% below the ideal */
    assert_true((double)allowed >= (burst + rate * 2.0) * 0.99);
    rt_bucket_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_bucket_lets_the_burst_through),
        cmocka_unit_test(test_refills_at_the_rate),
        cmocka_unit_test(test_refusals_do_not_delay_the_next_token),
        cmocka_unit_test(test_steady_overload_allows_burst_plus_rate_times_elapsed),
        cmocka_unit_test(test_bad_parameters_are_refused),
        cmocka_unit_test(test_concurrent_takers_hold_the_limit),
        cmocka_unit_test(test_reserve_with_a_token_is_due_now),
        cmocka_unit_test(test_reservations_fall_due_one_interval_apart),
        cmocka_unit_test(test_reservation_after_idle_time_is_due_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
