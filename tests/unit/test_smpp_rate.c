/*
 * test_smpp_rate.c - the reconnect backoff and the token bucket of client
 * binds (adapters/smpp/smpp_rate.c).  Randomness and time are passed in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <jansson.h>

#include "adapters/smpp/smpp.h"

/* rnd that puts the jitter at its middle (no change) for a wait d. */
static uint32_t mid(int64_t d)
{
    return (uint32_t)(d * SMPP_RATE_JITTER_PCT / 100);
}

static void test_the_wait_starts_at_base_and_doubles_up_to_the_maximum(void **state)
{
    (void)state;
    assert_int_equal(smpp_backoff_ms(1000, 60000, 0, mid(1000)), 1000);
    assert_int_equal(smpp_backoff_ms(1000, 60000, 1, mid(2000)), 2000);
    assert_int_equal(smpp_backoff_ms(1000, 60000, 2, mid(4000)), 4000);
    assert_int_equal(smpp_backoff_ms(1000, 60000, 5, mid(32000)), 32000);
    assert_int_equal(smpp_backoff_ms(1000, 60000, 6, mid(60000)), 60000);
    assert_int_equal(smpp_backoff_ms(1000, 60000, 1000, mid(60000)), 60000);
}

static void test_the_jitter_stays_within_twenty_percent_both_ways(void **state)
{
    (void)state;
    int64_t lo = INT64_MAX, hi = 0;
    for (uint32_t r = 0; r < 5000; r++) {
        int64_t d = smpp_backoff_ms(1000, 60000, 2, r * 2654435761u);
        assert_true(d >= 3200 && d <= 4800);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(lo < 3300 && hi > 4700); /* and it does move */
    assert_int_equal(smpp_backoff_ms(1000, 60000, 0, 0), 800);
    assert_int_equal(smpp_backoff_ms(1000, 60000, 0, 400), 1200);
}

static void test_a_zero_base_means_no_wait_and_a_small_max_is_raised_to_base(void **state)
{
    (void)state;
    assert_int_equal(smpp_backoff_ms(0, 60000, 3, 12345), 0);
    assert_int_equal(smpp_backoff_ms(5000, 1000, 3, mid(5000)), 5000);
}

static void test_a_bucket_starts_with_its_burst_and_refills_at_its_rate(void **state)
{
    (void)state;
    smpp_tb_t tb;
    int n = 0;

    smpp_tb_init(&tb, 100); /* burst 5 */
    while (smpp_tb_take(&tb, 0))
        n++;
    assert_int_equal(n, 5);
    assert_int_equal(smpp_tb_wait_us(&tb, 0), 10001);
    assert_false(smpp_tb_take(&tb, 5000));
    assert_true(smpp_tb_take(&tb, 10001));
    /* a long idle time refills no more than the burst */
    n = 0;
    while (smpp_tb_take(&tb, 60000000))
        n++;
    assert_int_equal(n, 5);
}

static void test_a_bucket_holds_the_rate_over_a_second(void **state)
{
    (void)state;
    smpp_tb_t tb;
    int n = 0;

    smpp_tb_init(&tb, 50);
    for (int64_t t = 0; t <= 1000000; t += 1000)
        while (smpp_tb_take(&tb, t))
            n++;
    assert_true(n >= 50 && n <= 53); /* 50 a second plus the burst of 2.5 */
}

static void test_a_slow_bucket_holds_one_and_rate_zero_is_unlimited(void **state)
{
    (void)state;
    smpp_tb_t tb;

    smpp_tb_init(&tb, 2); /* burst 1 */
    assert_true(smpp_tb_take(&tb, 0));
    assert_false(smpp_tb_take(&tb, 100000));
    assert_int_equal(smpp_tb_wait_us(&tb, 100000), 400001);
    assert_true(smpp_tb_take(&tb, 500001));
    smpp_tb_init(&tb, 0);
    for (int i = 0; i < 1000; i++)
        assert_true(smpp_tb_take(&tb, 0));
    assert_int_equal(smpp_tb_wait_us(&tb, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_wait_starts_at_base_and_doubles_up_to_the_maximum),
        cmocka_unit_test(test_the_jitter_stays_within_twenty_percent_both_ways),
        cmocka_unit_test(test_a_zero_base_means_no_wait_and_a_small_max_is_raised_to_base),
        cmocka_unit_test(test_a_bucket_starts_with_its_burst_and_refills_at_its_rate),
        cmocka_unit_test(test_a_bucket_holds_the_rate_over_a_second),
        cmocka_unit_test(test_a_slow_bucket_holds_one_and_rate_zero_is_unlimited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
