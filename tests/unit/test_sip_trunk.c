/*
 * test_sip_trunk.c - the pure part of SIP trunks (adapters/sip/
 * sip_trunk_pick.c): the order a strategy gives a trunk's destinations,
 * down ones left out, and which final statuses fail over.
 *
 * Single-threaded; no daemon, no sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "adapters/sip/sip_trunk.h"

static void test_failover_orders_by_priority_then_as_listed(void **state)
{
    const sip_trunk_cand_t c[] = {{1, 5, 1}, {1, 1, 1}, {1, 5, 1}, {1, 0, 1}};
    int order[4];
    (void)state;

    assert_int_equal(sip_trunk_order(SIP_TRUNK_FAILOVER, c, 4, 7, 99, order), 4);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 0); /* equal priorities keep the listed order */
    assert_int_equal(order[3], 2);
}

static void test_down_destinations_are_left_out(void **state)
{
    const sip_trunk_cand_t c[] = {{1, 0, 0}, {1, 1, 1}, {1, 2, 0}};
    int order[3];
    (void)state;

    assert_int_equal(sip_trunk_order(SIP_TRUNK_FAILOVER, c, 3, 0, 0, order), 1);
    assert_int_equal(order[0], 1);
    assert_int_equal(sip_trunk_order(SIP_TRUNK_ROUND_ROBIN, c, 3, 5, 0, order), 1);
    assert_int_equal(order[0], 1);
    assert_int_equal(sip_trunk_order(SIP_TRUNK_WEIGHTED, c, 3, 0, 12345, order), 1);
    assert_int_equal(order[0], 1);
}

static void test_no_usable_destination_gives_none(void **state)
{
    const sip_trunk_cand_t c[] = {{1, 0, 0}, {1, 1, 0}};
    int order[2];
    (void)state;

    assert_int_equal(sip_trunk_order(SIP_TRUNK_FAILOVER, c, 2, 0, 0, order), 0);
    assert_int_equal(sip_trunk_order(SIP_TRUNK_ROUND_ROBIN, c, 2, 0, 0, order), 0);
    assert_int_equal(sip_trunk_order(SIP_TRUNK_WEIGHTED, c, 2, 0, 0, order), 0);
}

static void test_round_robin_starts_one_further_each_request(void **state)
{
    const sip_trunk_cand_t c[] = {{1, 0, 1}, {1, 0, 1}, {1, 0, 1}};
    int order[3], first[3] = {0};
    (void)state;

    assert_int_equal(sip_trunk_order(SIP_TRUNK_ROUND_ROBIN, c, 3, 1, 0, order), 3);
    assert_int_equal(order[0], 1); /* the rest after it, in a ring */
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 0);
    for (unsigned n = 0; n < 30; n++) {
        sip_trunk_order(SIP_TRUNK_ROUND_ROBIN, c, 3, n, 0, order);
        first[order[0]]++;
    }
    assert_int_equal(first[0], 10);
    assert_int_equal(first[1], 10);
    assert_int_equal(first[2], 10);
}

static void test_weighted_first_in_proportion_then_by_priority(void **state)
{
    const sip_trunk_cand_t c[] = {{3, 2, 1}, {1, 1, 1}, {4, 0, 1}};
    int order[3], first[3] = {0};
    (void)state;

    /* every rnd modulo the total weight 8 once: exactly 3, 1, 4 firsts */
    for (uint32_t rnd = 0; rnd < 8; rnd++) {
        assert_int_equal(sip_trunk_order(SIP_TRUNK_WEIGHTED, c, 3, 0, rnd, order), 3);
        first[order[0]]++;
        /* the others follow by priority */
        for (int i = 2; i < 3; i++)
            assert_true(c[order[i - 1]].priority <= c[order[i]].priority);
    }
    assert_int_equal(first[0], 3);
    assert_int_equal(first[1], 1);
    assert_int_equal(first[2], 4);
    sip_trunk_order(SIP_TRUNK_WEIGHTED, c, 3, 0, 0, order); /* rnd 0: the first, weight 3 */
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 1);
}

static void test_only_408_and_5xx_fail_over(void **state)
{
    (void)state;
    assert_true(sip_trunk_fails_over(408));
    assert_true(sip_trunk_fails_over(500));
    assert_true(sip_trunk_fails_over(503));
    assert_true(sip_trunk_fails_over(599));
    assert_false(sip_trunk_fails_over(486));
    assert_false(sip_trunk_fails_over(404));
    assert_false(sip_trunk_fails_over(480));
    assert_false(sip_trunk_fails_over(603));
    assert_false(sip_trunk_fails_over(200));
    assert_false(sip_trunk_fails_over(302));
}

static void test_strategy_names_both_ways(void **state)
{
    (void)state;
    assert_int_equal(sip_trunk_strategy_parse("failover"), SIP_TRUNK_FAILOVER);
    assert_int_equal(sip_trunk_strategy_parse("round_robin"), SIP_TRUNK_ROUND_ROBIN);
    assert_int_equal(sip_trunk_strategy_parse("weighted"), SIP_TRUNK_WEIGHTED);
    assert_int_equal(sip_trunk_strategy_parse("random"), -1);
    assert_int_equal(sip_trunk_strategy_parse(NULL), -1);
    assert_string_equal(sip_trunk_strategy_name(SIP_TRUNK_WEIGHTED), "weighted");
    assert_string_equal(sip_trunk_state_name(SIP_TRUNK_DOWN), "down");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_orders_by_priority_then_as_listed),
        cmocka_unit_test(test_down_destinations_are_left_out),
        cmocka_unit_test(test_no_usable_destination_gives_none),
        cmocka_unit_test(test_round_robin_starts_one_further_each_request),
        cmocka_unit_test(test_weighted_first_in_proportion_then_by_priority),
        cmocka_unit_test(test_only_408_and_5xx_fail_over),
        cmocka_unit_test(test_strategy_names_both_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
