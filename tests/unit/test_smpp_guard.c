/*
 * test_smpp_guard.c - repeated bind failures back off per peer address
 * and per system_id (adapters/smpp/smpp_guard.c).  Time is passed in.
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

static int reset(void **state)
{
    (void)state;
    smpp_guard_reset();
    smpp_bind_backoff_max_s = 300;
    return 0;
}

static void test_three_failures_are_free_the_fourth_closes_for_a_second(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(smpp_guard_closed("127.0.0.1", "acme", 1000), 0);
        smpp_guard_failed("127.0.0.1", "acme", 1000);
    }
    assert_int_equal(smpp_guard_closed("127.0.0.1", "acme", 1000), 0);
    smpp_guard_failed("127.0.0.1", "acme", 1000);
    assert_int_equal(smpp_guard_closed("127.0.0.1", "acme", 1000), 1000);
    assert_int_equal(smpp_guard_closed("127.0.0.1", "acme", 2000), 0);
}

static void test_the_wait_doubles_per_failure_up_to_the_maximum(void **state)
{
    (void)state;
    smpp_bind_backoff_max_s = 5;
    for (int i = 0; i < 4; i++)
        smpp_guard_failed("10.0.0.1", "acme", 0);
    assert_int_equal(smpp_guard_closed("10.0.0.1", "x", 0), 1000);
    smpp_guard_failed("10.0.0.1", "acme", 0);
    assert_int_equal(smpp_guard_closed("10.0.0.1", "x", 0), 2000);
    smpp_guard_failed("10.0.0.1", "acme", 0);
    assert_int_equal(smpp_guard_closed("10.0.0.1", "x", 0), 4000);
    smpp_guard_failed("10.0.0.1", "acme", 0);
    assert_int_equal(smpp_guard_closed("10.0.0.1", "x", 0), 5000);
}

static void test_a_system_id_is_closed_from_every_address(void **state)
{
    (void)state;
    /* one guess each from many addresses: the id's own count closes it */
    for (int i = 0; i < 4; i++) {
        char ip[16];
        snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
        smpp_guard_failed(ip, "victim", 0);
    }
    assert_true(smpp_guard_closed("10.9.9.9", "victim", 0) > 0);
    assert_int_equal(smpp_guard_closed("10.9.9.9", "other", 0), 0);
}

static void test_a_good_bind_clears_the_count_and_old_failures_are_forgotten(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        smpp_guard_failed("127.0.0.1", "acme", 0);
    smpp_guard_passed("127.0.0.1", "acme", 0);
    smpp_guard_failed("127.0.0.1", "acme", 0);
    assert_int_equal(smpp_guard_closed("127.0.0.1", "acme", 0), 0);
    for (int i = 0; i < 3; i++)
        smpp_guard_failed("127.0.0.2", "beta", 0);
    /* a quarter of an hour later the three are forgotten */
    smpp_guard_failed("127.0.0.2", "beta", 16 * 60 * 1000);
    assert_int_equal(smpp_guard_closed("127.0.0.2", "beta", 16 * 60 * 1000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_three_failures_are_free_the_fourth_closes_for_a_second, reset),
        cmocka_unit_test_setup(test_the_wait_doubles_per_failure_up_to_the_maximum, reset),
        cmocka_unit_test_setup(test_a_system_id_is_closed_from_every_address, reset),
        cmocka_unit_test_setup(test_a_good_bind_clears_the_count_and_old_failures_are_forgotten,
                               reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
