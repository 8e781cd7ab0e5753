/*
 * test_rt_pick.c - behaviour of the target strategies (router/rt_pick.c):
 * failover and least cost keep the given order, round robin rotates fairly,
 * weighted draws follow the weights (within 2% over 100,000 draws) and never
 * put a weight-0 target first.
 *
 * No I/O.  Single-threaded except the round-robin test, which takes turns
 * from two threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <cmocka.h>

#include "router/rt_pick.h"

static const rt_pick_target_t test_targets[] = {
    { "a", 1 }, { "b", 2 }, { "c", 3 }, { "d", 4 },
};

static int test_index(const char *name)
{
    return name[0] - 'a';
}

static void test_failover_and_least_cost_keep_the_given_order(void **state)
{
    (void)state;
    const char *out[4];
    for (int k = 0; k < 2; k++) {
        rt_pick_kind_t kind = k ? RT_PICK_LEAST_COST : RT_PICK_FAILOVER;
        assert_int_equal(rt_pick_order(kind, NULL, test_targets, 4, out, 4), 4);
        assert_string_equal(out[0], "a");
        assert_string_equal(out[3], "d");
        assert_int_equal(rt_pick_order(kind, NULL, test_targets, 4, out, 2), 2);
        assert_string_equal(out[1], "b");
    }
    assert_int_equal(rt_pick_order(RT_PICK_FAILOVER, NULL, test_targets, 0, out, 4), 0);
}

static void test_round_robin_rotates_and_keeps_failover_order(void **state)
{
    (void)state;
    rt_pick_state_t *st = rt_pick_state_new();
    const char *out[3];
    assert_non_null(st);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(rt_pick_order(RT_PICK_ROUND_ROBIN, st, test_targets, 3, out, 3), 3);
        assert_int_equal(test_index(out[0]), i % 3);
        assert_int_equal(test_index(out[1]), (i + 1) % 3);
        assert_int_equal(test_index(out[2]), (i + 2) % 3);
    }
    rt_pick_state_free(st);
}

typedef struct test_rr {
    rt_pick_state_t *st;
    unsigned first[4];
} test_rr_t;

static void *test_rr_thread(void *arg)
{
    test_rr_t *r = arg;
    const char *out[4];
    for (int i = 0; i < 100000; i++) {
        rt_pick_order(RT_PICK_ROUND_ROBIN, r->st, test_targets, 4, out, 4);
        r->first[test_index(out[0])]++;
    }
    return NULL;
}

static void test_round_robin_is_fair_across_threads(void **state)
{
    (void)state;
    rt_pick_state_t *st = rt_pick_state_new();
    test_rr_t r[2];
    pthread_t th[2];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 2; i++) {
        r[i].st = st;
        assert_int_equal(pthread_create(&th[i], NULL, test_rr_thread, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    /* 200,000 turns from one counter: every target first exactly 50,000 times */
    for (int k = 0; k < 4; k++)
        assert_int_equal(r[0].first[k] + r[1].first[k], 50000);
    rt_pick_state_free(st);
}

static void test_weighted_first_choice_follows_weights(void **state)
{
    (void)state;
    const char *out[4];
    unsigned first[4] = { 0 }, n = 100000;
    rt_pick_seed(42);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(rt_pick_order(RT_PICK_WEIGHTED, NULL, test_targets, 4, out, 4), 4);
        first[test_index(out[0])]++;
        /* a permutation: every target once */
        unsigned seen = 0;
        for (int k = 0; k < 4; k++)
            seen |= 1u << test_index(out[k]);
        assert_int_equal(seen, 15);
    }
    for (int k = 0; k < 4; k++) {
        double want = test_targets[k].weight / 10.0, got = (double)first[k] / n;
        assert_true(got > want - 0.02 && got < want + 0.02);
    }
}

static void test_weighted_second_choice_is_drawn_without_replacement(void **state)
{
    (void)state;
    /* with a first, the second is b with 2/9, c 3/9, d 4/9 */
    const char *out[4];
    unsigned second[4] = { 0 }, firsts = 0;
    rt_pick_seed(7);
    for (unsigned i = 0; i < 100000; i++) {
        rt_pick_order(RT_PICK_WEIGHTED, NULL, test_targets, 4, out, 4);
        if (out[0][0] != 'a')
            continue;
        firsts++;
        second[test_index(out[1])]++;
    }
    assert_int_equal(second[0], 0);
    for (int k = 1; k < 4; k++) {
        double want = test_targets[k].weight / 9.0, got = (double)second[k] / firsts;
        assert_true(got > want - 0.03 && got < want + 0.03);
    }
}

static void test_weight_zero_is_never_first(void **state)
{
    (void)state;
    const rt_pick_target_t t[] = { { "a", 0 }, { "b", 5 }, { "c", 0 }, { "d", 1 } };
    const char *out[4];
    rt_pick_seed(1);
    for (int i = 0; i < 20000; i++) {
        assert_int_equal(rt_pick_order(RT_PICK_WEIGHTED, NULL, t, 4, out, 4), 4);
        assert_true(out[0][0] == 'b' || out[0][0] == 'd');
        assert_true(out[1][0] == 'b' || out[1][0] == 'd');
        assert_string_equal(out[2], "a");  /* standbys last, in the given order */
        assert_string_equal(out[3], "c");
    }
    /* all standby: the given order */
    const rt_pick_target_t z[] = { { "a", 0 }, { "b", 0 } };
    assert_int_equal(rt_pick_order(RT_PICK_WEIGHTED, NULL, z, 2, out, 4), 2);
    assert_string_equal(out[0], "a");
}

static void test_weighted_chi_square_over_many_draws(void **state)
{
    (void)state;
    const rt_pick_target_t t[] = { { "a", 1 }, { "b", 1 }, { "c", 2 }, { "d", 96 } };
    const char *out[1];
    double count[4] = { 0 }, chi = 0;
    unsigned n = 100000;
    rt_pick_seed(12345);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(rt_pick_order(RT_PICK_WEIGHTED, NULL, t, 4, out, 1), 1);
        count[test_index(out[0])]++;
    }
    for (int k = 0; k < 4; k++) {
        double e = n * t[k].weight / 100.0;
        chi += (count[k] - e) * (count[k] - e) / e;
    }
    assert_true(chi < 16.27);  /* 3 degrees of freedom, p = 0.001 */
}

static void test_kind_names_round_trip(void **state)
{
    (void)state;
    for (int k = RT_PICK_FAILOVER; k <= RT_PICK_LEAST_COST; k++)
        assert_int_equal(rt_pick_kind_parse(rt_pick_kind_name((rt_pick_kind_t)k)), k);
    assert_int_equal(rt_pick_kind_parse("random"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_and_least_cost_keep_the_given_order),
        cmocka_unit_test(test_round_robin_rotates_and_keeps_failover_order),
        cmocka_unit_test(test_round_robin_is_fair_across_threads),
        cmocka_unit_test(test_weighted_first_choice_follows_weights),
        cmocka_unit_test(test_weighted_second_choice_is_drawn_without_replacement),
        cmocka_unit_test(test_weight_zero_is_never_first),
        cmocka_unit_test(test_weighted_chi_square_over_many_draws),
        cmocka_unit_test(test_kind_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
